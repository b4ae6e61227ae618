# SPDX-License-Identifier: MIT
"""csock connect and listen over TCP, against Python's socket module: both directions, the
end-of-file rules of csock.1 one by one, time limits, source addresses, and errors that name the
address. Runs under no_dns.sh (csock-dual is ::1 and 127.0.0.1). Usage: tcp.py CSOCK"""
import fcntl
import hashlib
import os
import re
import socket
import struct
import subprocess
import termios
import threading
import time

from clilib import CSOCK, Csock, TIMEOUT, check, done, recv_all, refusing_port, run


class Server(threading.Thread):
    """A Python server for one connection: handler(conn) runs on its own thread; its return value
    is kept in .result."""

    def __init__(self, handler, host="127.0.0.1", family=socket.AF_INET, rcvbuf=0):
        super().__init__(daemon=True)
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handler, self.result = handler, None
        self.start()

    def run(self):
        self.sock.settimeout(TIMEOUT)
        conn, self.peer = self.sock.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            self.result = self.handler(conn)
        self.sock.close()

    def finish(self):
        self.join(TIMEOUT)
        return self.result


# ---- connect ----

def read_all_then_answer(conn):
    got = recv_all(conn)  # ends only when csock half-closes
    conn.sendall(b"answer to " + got)
    return got


s = Server(read_all_then_answer)
r = run(["connect", f"127.0.0.1:{s.port}"], b"question")
check("connect: end of input half-closes, the answer still arrives, exit 0 when the peer closes",
      r.returncode == 0 and s.finish() == b"question" and r.stdout == b"answer to question",
      (r.returncode, s.result, r.stdout, r.stderr))

every_byte = bytes(range(256)) * 64
s = Server(read_all_then_answer)
r = run(["connect", f"127.0.0.1:{s.port}"], every_byte)
check("connect: binary-safe both ways (every byte value)",
      s.finish() == every_byte and r.stdout == b"answer to " + every_byte, r.stderr)


def greet_and_close(conn):
    conn.sendall(b"hello, and goodbye")


try:
    terminal, typist = os.openpty()
except OSError as e:  # a root without devpts mounted on /dev/pts
    print(f"skip connect from a terminal: no pseudo-terminal here ({e.strerror})")
else:
    s = Server(greet_and_close)
    with Csock(["connect", f"127.0.0.1:{s.port}"], listening=False, stdin=terminal) as c:
        rc = c.wait()  # nothing typed yet, and nothing typed later can be lost
        check("connect from a terminal: the peer closing ends the session with exit 0, its "
              "data written", rc == 0 and bytes(c.out.data) == b"hello, and goodbye",
              (rc, c.out.data, c.err.text()))
    s.finish()
    os.close(terminal)
    os.close(typist)


def half_close_then_read(conn):
    conn.sendall(b"I am done talking")
    conn.shutdown(socket.SHUT_WR)
    return recv_all(conn)


s = Server(half_close_then_read)
with Csock(["connect", f"127.0.0.1:{s.port}"], listening=False) as c:
    c.out.wait_for(b"I am done talking")
    c.send(b"but I am not: ")  # after the peer's end of file: a pipe goes on to its end
    c.send(b"the rest")
    c.close_stdin()
    rc = c.wait()
    check("connect: a peer that shut down its side still gets the rest of a pipe's input",
          rc == 0 and s.finish() == b"but I am not: the rest", (rc, s.result, c.err.text()))

s = Server(greet_and_close)
with Csock(["connect", f"127.0.0.1:{s.port}"], listening=False) as c:
    c.out.wait_for(b"goodbye")
    s.finish()
    for _ in range(100):  # the first write after the peer's close draws a reset, the next fails
        try:
            c.send(b"x" * 65536)
        except BrokenPipeError:
            break
    rc = c.wait()
    check("connect: input for a peer that closed altogether: exit 1, said so",
          rc == 1 and "the peer closed the connection before the end of input" in c.err.text(),
          (rc, c.err.text()))


input_read = threading.Event()


def end_then_close_unread(conn):
    conn.shutdown(socket.SHUT_WR)
    input_read.wait(TIMEOUT)
    conn.close()  # nothing read: a reset, and what csock sent after it is lost


s = Server(end_then_close_unread, rcvbuf=4096)
with Csock(["connect", f"127.0.0.1:{s.port}"], listening=False) as c:
    c.send(b"x" * 200000)  # returns once csock has read all but a pipe's worth
    c.close_stdin()
    input_read.set()
    rc = c.wait()
    # The reset is met by a write (the peer closed before the end of input) or by a read, as
    # the two race: either way it is said, with how much was lost.
    check("connect: input sent after the peer's end of file, then a reset: exit 1, how many "
          "bytes were lost and why (csock exited 0 once its system had the input)",
          rc == 1 and re.search(r"csock: 127\.0\.0\.1:\d+: \d+ bytes were not taken by the peer\n"
                                r"csock: 127\.0\.0\.1:\d+: (the peer closed the connection before "
                                r"the end of input \()?(Connection reset by peer|Broken pipe)\)?\n$",
                                c.err.text()),
          (rc, c.err.text()))
s.finish()


# Standard input that cannot be read (a directory) is a failure, not an end of input.
directory = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
s = Server(recv_all)
r = subprocess.run([CSOCK, "connect", f"127.0.0.1:{s.port}"], stdin=directory,
                   capture_output=True, timeout=TIMEOUT)
check("connect < /: exit 1, 'csock: read standard input: Is a directory'",
      r.returncode == 1 and r.stderr == b"csock: read standard input: Is a directory\n",
      (r.returncode, r.stderr))
s.finish()
with Csock(["-v", "-k", "listen", "127.0.0.1:0"], stdin=directory) as l:
    rc = l.wait()
    check("listen -k < /: exit 1, 'read standard input: Is a directory'",
          rc == 1 and "csock: read standard input: Is a directory\n" in l.err.text(),
          (rc, l.err.text()))
os.close(directory)


def fin_within(conn, wait=0.5):
    """What arrives, and whether end of file follows within wait seconds."""
    data = conn.recv(100)
    conn.settimeout(wait)
    try:
        eof = conn.recv(100) == b""
    except socket.timeout:
        eof = False
    conn.sendall(b"bye")
    return data, eof


s = Server(fin_within)
r = run(["--no-shutdown", "connect", f"127.0.0.1:{s.port}"], b"data")
check("--no-shutdown: the end of input does not shut the connection down",
      s.finish() == (b"data", False) and r.returncode == 0 and r.stdout == b"bye", s.result)

s = Server(fin_within)
r = run(["connect", f"127.0.0.1:{s.port}"], b"data")
check("by default the peer reads end of file right after the data",
      s.finish() == (b"data", True) and r.returncode == 0, s.result)


def hold_open(conn):
    """Reads to end of file and never closes first; returns what came."""
    return recv_all(conn)


s = Server(hold_open)
r = run(["-q", "0", "connect", f"127.0.0.1:{s.port}"], b"x" * 300000)
check("-q 0: exits once all of standard input is sent, with the peer still open",
      r.returncode == 0 and s.finish() == b"x" * 300000, (r.returncode, r.stderr))

s = Server(hold_open)
r = run(["-v", "-q", "0", "connect", f"127.0.0.1:{s.port}"], b"x")
s.finish()
check("-v -q 0: says how the session ended",
      r.returncode == 0 and r.stderr.decode().endswith(
          f"csock: 127.0.0.1:{s.port} has taken everything sent: closing the connection after 1 B "
          "sent, 0 B received\n"),
      (r.returncode, r.stderr))

csock_done = threading.Event()


def hold_open_till_done(conn):
    """Reads to end of file, then keeps the connection open until csock has exited."""
    got = recv_all(conn)
    csock_done.wait(TIMEOUT)
    return got


s = Server(hold_open_till_done)
r = run(["-v", "-q", "300ms", "connect", f"127.0.0.1:{s.port}"], b"later")
csock_done.set()
check("-q 300ms: exits 300 ms after the end of input, though the peer never closes",
      r.returncode == 0 and s.finish() == b"later", (r.returncode, r.stderr))
check("-v -q 300ms: says how the session ended", r.stderr.decode().endswith(
      f"csock: -q 0.3s after the end of input: closing the connection to 127.0.0.1:{s.port} after "
      "5 B sent, 0 B received\n"),
      r.stderr)


UPLOAD = hashlib.sha256(b"upload").digest() * (12_000_000 // 32)


def flood(conn):
    """Sends on conn without end, on a thread of its own, until the connection fails."""
    def talk():
        try:
            while True:
                conn.sendall(b"z" * 65536)
        except OSError:
            pass
    threading.Thread(target=talk, daemon=True).start()


def chatty_slow_reader(rate):
    """A peer that sends without end while it reads the upload at about rate bytes a second;
    returns (SHA-256 of what it read, how many bytes)."""
    def handler(conn):
        flood(conn)
        h, n, start = hashlib.sha256(), 0, time.monotonic()
        try:
            while data := conn.recv(4096):
                h.update(data)
                n += len(data)
                ahead = n / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)  # pacing, to read slowly
        except OSError:
            pass  # reset once csock has gone: what was read is what was delivered
        return h.hexdigest(), n
    return handler


# The peer's data is still arriving when csock closes: closing with unread input resets the
# connection, and what csock sent that the peer had not yet received was lost, with exit 0.
for q, rate in [("0", 8e6), ("1s", 4e6)]:
    s = Server(chatty_slow_reader(rate))
    r = subprocess.run([CSOCK, "-q", q, "connect", f"127.0.0.1:{s.port}"], input=UPLOAD,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT)
    digest, n = s.finish()
    err = r.stderr.decode()
    # "Taken" is acknowledged: the count csock says is what its system still held. The peer may
    # have received a few of those bytes without acknowledging them yet (they were in flight
    # when csock reset the connection), so what it lacks is at most what was said, and at most
    # a window less.
    m = re.search(rf"csock: 127\.0\.0\.1:{s.port}: (\d+) bytes were not taken by the peer", err)
    said = int(m.group(1)) if m else -1
    lost = len(UPLOAD) - n
    check(f"-q {q} with a peer that sends while it reads slowly: it gets every byte, or csock says "
          "how many it did not and exits 1",
          (r.returncode == 0 and digest == hashlib.sha256(UPLOAD).hexdigest() and not err)
          or (r.returncode == 1 and 0 <= lost <= said <= lost + 65536), (r.returncode, n, err))
    if q == "0":
        check("-q 0: exits once the peer has everything, all 12 MB",
              r.returncode == 0 and n == len(UPLOAD), (r.returncode, n, err))

# A peer with a small window that reads nothing until csock has gone: when -q 1s runs out, most
# of the upload is still csock's, and csock must say exactly how much. What the peer had taken is
# what its receive queue holds when csock has gone: its window stayed shut since. (The peer's
# flood makes csock's close a reset that drops the rest, unless csock happened to have read all
# of it at that instant: then its system may still deliver the rest after it exits.)
exited = threading.Event()


def read_after_exit(conn):
    flood(conn)
    exited.wait(TIMEOUT)
    taken = struct.unpack("i", fcntl.ioctl(conn, termios.FIONREAD, b"\0" * 4))[0]
    n = 0
    try:
        while data := conn.recv(65536):
            n += len(data)
    except OSError:
        pass
    return taken, n


s = Server(read_after_exit, rcvbuf=4096)
r = subprocess.run([CSOCK, "-q", "1s", "connect", f"127.0.0.1:{s.port}"], input=UPLOAD[:1000000],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT)
exited.set()
taken, n = s.finish()
check("-q 1s, a peer that takes little: exit 1, 'N bytes were not taken by the peer when -q 1s "
      "ran out', N exactly what it had not taken",
      r.returncode == 1 and 0 < taken < 1000000 and n >= taken and r.stderr.decode() ==
      f"csock: 127.0.0.1:{s.port}: {1000000 - taken} bytes were not taken by the peer when -q 1s "
      "ran out\n", (r.returncode, taken, n, r.stderr))


def send_and_read(conn):
    conn.sendall(b"for you")
    conn.shutdown(socket.SHUT_WR)
    return recv_all(conn)


s = Server(send_and_read)
r = run(["-d", "connect", f"127.0.0.1:{s.port}"], b"never read")
check("-d: standard input is not read, nothing is sent; the peer's data still arrives",
      r.returncode == 0 and r.stdout == b"for you" and s.finish() == b"", (r.stdout, s.result))


def reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    conn.recv(10)


s = Server(reset)
with Csock(["connect", f"127.0.0.1:{s.port}"], listening=False) as c:
    c.send(b"x")
    rc = c.wait()
    check("a reset peer: exit 1, the message names the peer and says why",
          rc == 1 and f"csock: 127.0.0.1:{s.port}: Connection reset by peer" in c.err.text(),
          (rc, c.err.text()))
s.finish()

# ---- errors and time limits ----

port, holder = refusing_port()
r = run(["connect", f"127.0.0.1:{port}"])
check("refused: exit 1, 'csock: connect 127.0.0.1:P: Connection refused'",
      r.returncode == 1 and r.stderr.decode() == f"csock: connect 127.0.0.1:{port}: Connection refused\n",
      r.stderr)
r = run(["connect", f"localhost:{port}"])
check("refused by name: the message gives the name and the address",
      r.returncode == 1 and f"connect localhost:{port} (127.0.0.1:{port}): Connection refused"
      in r.stderr.decode(), r.stderr)
holder.close()
r = run(["connect", "nosuch.invalid:80"])
check("an unknown name: exit 1, 'connect nosuch.invalid:80: Name or service not known'",
      r.returncode == 1 and "connect nosuch.invalid:80: Name or service not known"
      in r.stderr.decode(), r.stderr)

# Every way a name can fail says what csock was doing, not which look-up call failed.
for args, says in [(["-u", "connect", "nosuch.invalid:53"], "connect nosuch.invalid:53"),
                   (["listen", "nosuch.invalid:0"], "bind nosuch.invalid:0"),
                   (["-k", "listen", "nosuch.invalid:0"], "bind nosuch.invalid:0"),
                   (["serve", "echo", "nosuch.invalid:7"], "bind nosuch.invalid:7"),
                   (["-z", "connect", "nosuch.invalid:1-3"], "connect nosuch.invalid:1"),
                   (["-s", "nosuch.invalid", "connect", "127.0.0.1:9"], "bind nosuch.invalid:0")]:
    r = run(args)
    check(f"csock {' '.join(args)}: exit 1, '{says}: Name or service not known'",
          r.returncode == 1 and r.stderr.decode() == f"csock: {says}: Name or service not known\n",
          r.stderr)

full = socket.socket()
full.bind(("127.0.0.1", 0))
full.listen(0)
filler = socket.create_connection(full.getsockname())
r = run(["-w", "300ms", "connect", f"127.0.0.1:{full.getsockname()[1]}"])
check("-w 300ms to a listener that never answers: exit 3, 'timed out'",
      r.returncode == 3 and "timed out" in r.stderr.decode(), (r.returncode, r.stderr))
filler.close()
full.close()


def silent(conn):
    return recv_all(conn)


s = Server(silent)
with Csock(["-i", "300ms", "connect", f"127.0.0.1:{s.port}"], listening=False) as c:
    rc = c.wait()
    check("-i 300ms with nothing moving: exit 3, 'idle for 0.3s'",
          rc == 3 and f"127.0.0.1:{s.port}: idle for 0.3s" in c.err.text(), (rc, c.err.text()))
s.finish()

# ---- listen ----

with Csock(["-v", "listen", "127.0.0.1:0"]) as l:
    check("listen -v says 'listening on 127.0.0.1:PORT' with the real port",
          l.first == f"csock: listening on 127.0.0.1:{l.port}" and l.port > 0, l.first)
    c = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    c.sendall(b"from the client")
    l.send(b"from csock's input")
    l.close_stdin()
    got = recv_all(c)  # csock half-closes at the end of its input
    c.shutdown(socket.SHUT_WR)
    rc = l.wait()
    check("listen: one client, both directions, exit 0 when it closes",
          rc == 0 and got == b"from csock's input" and bytes(l.out.data) == b"from the client",
          (rc, got, l.out.data))
    check("listen -v: 'connection from 127.0.0.1:PORT'",
          f"connection from 127.0.0.1:{c.getsockname()[1]}" in l.err.text(), l.err.text())
    check("listen -v: says how the session ended, 'csock: 127.0.0.1:PORT closed the connection "
          "after 18 B sent, 15 B received'",
          l.err.text().endswith(f"csock: 127.0.0.1:{c.getsockname()[1]} closed the connection "
                                "after 18 B sent, 15 B received\n"),
          l.err.text())
    c.close()
    try:
        socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    check("listen without -k: the listener is closed once its client came", refused)

with Csock(["-v", "-6", "listen", ":0"]) as l:
    c = socket.create_connection(("::1", l.port), timeout=TIMEOUT)
    l.close_stdin()
    c.sendall(b"v6")
    c.shutdown(socket.SHUT_WR)
    recv_all(c)
    check("listen -6 :0 is the IPv6 wildcard ([::]:PORT)",
          l.wait() == 0 and l.address.startswith("[::]:") and bytes(l.out.data) == b"v6",
          (l.first, l.out.data))

taken = socket.socket()
taken.bind(("127.0.0.1", 0))
taken.listen(1)
r = run(["listen", f"127.0.0.1:{taken.getsockname()[1]}"])
check("listen on a port in use: exit 1, 'bind 127.0.0.1:P: Address already in use'",
      r.returncode == 1 and r.stderr.decode() == "csock: bind 127.0.0.1:%d: Address already in use\n"
      % taken.getsockname()[1], r.stderr)
taken.close()

r = run(["-w", "300ms", "listen", "127.0.0.1:0"])
check("listen -w 300ms with no client: exit 3, 'timed out'",
      r.returncode == 3 and "accept" in r.stderr.decode() and "timed out" in r.stderr.decode(),
      (r.returncode, r.stderr))

# ---- families and source addresses ----

s = Server(read_all_then_answer, "::1", socket.AF_INET6)
r = run(["-v", "-6", "connect", f"csock-dual:{s.port}"], b"six")
check("-6: only the IPv6 address of a name is tried",
      r.returncode == 0 and r.stdout == b"answer to six"
      and f"connected to csock-dual:{s.port} ([::1]:{s.port})" in r.stderr.decode(), r.stderr)
s.finish()
s = Server(read_all_then_answer, "::1", socket.AF_INET6)
r = run(["-4", "connect", f"csock-dual:{s.port}"], b"four")
check("-4: only the IPv4 address is tried (refused there)",
      r.returncode == 1 and f"connect csock-dual:{s.port} (127.0.0.1:{s.port}): Connection refused"
      in r.stderr.decode(), r.stderr)
socket.create_connection(("::1", s.port)).close()  # lets the server thread finish
s.finish()

s = Server(lambda conn: recv_all(conn))
r = run(["-s", "127.0.0.2", "connect", f"127.0.0.1:{s.port}"], b"from .2")
s.finish()
check("-s 127.0.0.2: the connection comes from that address",
      r.returncode == 0 and s.peer[0] == "127.0.0.2" and s.result == b"from .2", (s.peer, r.stderr))
s = Server(lambda conn: recv_all(conn))
src_port, src_holder = refusing_port()
src_holder.close()  # free now, and not reused by the system within this test
r = run(["-s", f"127.0.0.1:{src_port}", "connect", f"127.0.0.1:{s.port}"], b"")
s.finish()
check("-s 127.0.0.1:PORT: from that port", r.returncode == 0 and s.peer[1] == src_port,
      (s.peer, r.stderr))
# ---- standard descriptors closed ----
# Started with standard input, output or error closed, csock must not take the connection's
# socket for one of them: the server would get its own bytes back, or csock's messages.
def greet_and_collect(conn):
    conn.sendall(b"hello from the server\n")
    return recv_all(conn)


for name, redirect, data in [("standard output", ">&-", b"sent"),
                             ("standard error", "2>&-", b"sent"),
                             ("standard input", "<&-", b"")]:
    s = Server(greet_and_collect)
    feed = "" if data == b"" else "printf sent | "
    r = subprocess.run(["sh", "-c", f'{feed}exec "$0" -v connect 127.0.0.1:{s.port} {redirect}',
                        CSOCK], capture_output=True, timeout=TIMEOUT)
    got = s.finish()
    check(f"{name} closed: the server gets only what was sent, and csock ends well",
          r.returncode == 0 and got == data, (r.returncode, got, r.stderr))

# ---- standard output that is a closed pipe, or non-blocking ----
def endless(conn):
    try:
        while True:
            conn.sendall(b"x" * 65536)
    except OSError:
        pass


s = Server(endless)
r = subprocess.run(["bash", "-c", f'"$0" -d connect 127.0.0.1:{s.port} | head -c 100 >/dev/null; '
                    'exit ${PIPESTATUS[0]}', CSOCK], capture_output=True, timeout=TIMEOUT)
s.finish()
check("standard output a closed pipe: said, exit 1, not a silent death by SIGPIPE",
      r.returncode == 1 and b"csock: write standard output: Broken pipe" in r.stderr,
      (r.returncode, r.stderr))
BIG = os.urandom(4_000_000)
s = Server(lambda conn: conn.sendall(BIG))
reader, writer = os.pipe()
os.set_blocking(writer, False)  # as a program sharing the pipe may leave it
fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 4096)  # full at once: csock meets EAGAIN again and again
p = subprocess.Popen([CSOCK, "-d", "connect", f"127.0.0.1:{s.port}"], stdout=writer,
                     stderr=subprocess.PIPE)
os.close(writer)
got = bytearray()
while chunk := os.read(reader, 65536):
    got += chunk
os.close(reader)
err = p.stderr.read()
p.wait(timeout=TIMEOUT)
s.finish()
check("a non-blocking standard output: every byte, no EAGAIN",
      p.returncode == 0 and bytes(got) == BIG and not err, (p.returncode, len(got), err))
done()
