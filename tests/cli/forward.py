# SPDX-License-Identifier: MIT
"""csock forward LISTEN TARGET against Python clients and targets: data both ways with checksums,
many clients at once, a target that never answers, a refused target, half-close carried each way,
-m, Unix sockets on either side, and the command line's checks.
Usage: forward.py CSOCK"""
import hashlib
import os
import socket
import tempfile
import threading
import time

from clilib import Csock, TIMEOUT, check, done, recv_all, recv_exactly, refusing_port, run


class Target:
    """A Python server on 127.0.0.1 (or a Unix path) that runs handle(conn) in a thread for each
    connection it accepts. Use with "with"."""

    def __init__(self, handle, path=None, backlog=64):
        family = socket.AF_UNIX if path else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(path or ("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.address = path or "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.handle, self.threads, self.errors = handle, [], []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(TIMEOUT)
            t = threading.Thread(target=self.run_one, args=(conn,), daemon=True)
            self.threads.append(t)  # before it runs: join() then waits for it
            t.start()

    def run_one(self, conn):
        try:
            self.handle(conn)
        except OSError as e:
            self.errors.append(e)
        finally:
            conn.close()

    def join(self):
        """Waits (bounded) for the connections accepted so far to be handled."""
        for t in list(self.threads):
            t.join(TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def echo(conn):
    while data := conn.recv(65536):
        conn.sendall(data)


def forwarder(target, *options):
    return Csock(["-v", *options, "forward", "127.0.0.1:0", target])


def lines(f, text, n):
    """Waits (bounded) until text is in f's standard error n times."""
    with f.err.grew:
        f.err.grew.wait_for(lambda: f.err.data.count(text) >= n, TIMEOUT)


def client(f):
    return socket.create_connection(("127.0.0.1", f.port), timeout=TIMEOUT)


# ---- the command line ----

for args, want in [
    (["forward", "127.0.0.1:0"], "forward needs an address to listen on and a target"),
    (["forward", ":0", "127.0.0.1:1", "x"], "forward takes two addresses; 'x' is one too many"),
    (["-u", "forward", ":0", "127.0.0.1:1"], "-u does not apply to forward"),
    (["-k", "forward", ":0", "127.0.0.1:1"], "-k does not apply to forward"),
    (["-q", "1", "forward", ":0", "127.0.0.1:1"], "-q does not apply to forward"),
    (["forward", ":0", ":80"], "forward needs a target host"),
    (["-4", "forward", ":0", "[::1]:80"], "cannot use -4 with [::1]:80, an IPv6 address"),
    (["-s", "::1", "forward", ":0", "127.0.0.1:80"], "the families differ"),
]:
    r = run(args)
    check("forward usage: " + " ".join(args), r.returncode == 2 and want in r.stderr.decode(),
          r.stderr.decode())

# ---- data both ways, with checksums; each side's end of file carried to the other ----

UP, DOWN = os.urandom(3 << 19), os.urandom(5 << 19)  # 1.5 MiB up, 2.5 MiB down
got_up = []


def bulk(conn):
    sender = threading.Thread(target=lambda: (conn.sendall(DOWN), conn.shutdown(socket.SHUT_WR)))
    sender.start()
    got_up.append(hashlib.sha256(recv_all(conn)).hexdigest())
    sender.join()


with Target(bulk) as t, forwarder(t.address) as f:
    results = []

    def one_client():
        c = client(f)
        sender = threading.Thread(target=lambda: (c.sendall(UP), c.shutdown(socket.SHUT_WR)))
        sender.start()
        results.append(hashlib.sha256(recv_all(c)).hexdigest())
        sender.join()
        c.close()

    clients = [threading.Thread(target=one_client) for _ in range(4)]
    for th in clients:
        th.start()
    for th in clients:
        th.join(TIMEOUT)
    check("forward: 2.5 MiB down to four clients at once, byte for byte",
          results == [hashlib.sha256(DOWN).hexdigest()] * 4, results)
    t.join()  # a client can have all its bytes back before its target has hashed what came up
    check("forward: 1.5 MiB up from each, byte for byte",
          got_up == [hashlib.sha256(UP).hexdigest()] * 4, got_up)
    lines(f, b" back\n", 4)
    check("forward -v: a closing line per client, with the bytes each way",
          f.err.text().count("closed by both sides after 1.5 MiB to %s, 2.5 MiB back" % t.address)
          == 4, f.err.text())

# ---- back-pressure: a target that does not read makes the client wait, nothing is lost ----

gate = threading.Event()
taken = []


def slow_reader(conn):
    gate.wait(TIMEOUT)
    taken.append(hashlib.sha256(recv_all(conn)).hexdigest())


with Target(slow_reader) as t, forwarder(t.address) as f:
    c = client(f)
    c.setblocking(False)
    sent = hashlib.sha256()
    total, block = 0, os.urandom(65536)
    while total < (256 << 20):  # the bound: without back-pressure, 256 MiB would go in
        try:
            n = c.send(block)
        except BlockingIOError:
            break
        sent.update(block[:n])
        total += n
    check("forward: a target that does not read makes the client's sends wait (bounded)",
          0 < total < (64 << 20), total)
    gate.set()
    c.setblocking(True)
    c.settimeout(TIMEOUT)
    c.shutdown(socket.SHUT_WR)
    recv_all(c)
    t.join()
    check("forward: once the target reads, it gets every byte", taken == [sent.hexdigest()],
          (taken, total))

# ---- half-close, each way ----


def answer_after_eof(conn):
    question = recv_all(conn)  # to its end of file: the client's shutdown came through
    conn.sendall(b"answer to " + question)


with Target(answer_after_eof) as t, forwarder(t.address) as f:
    c = client(f)
    c.sendall(b"question")
    c.shutdown(socket.SHUT_WR)
    check("forward: the client's shutdown reaches the target, which still answers",
          recv_all(c) == b"answer to question")
    c.close()

late = []


def speak_first(conn):
    conn.sendall(b"hello")
    conn.shutdown(socket.SHUT_WR)
    late.append(recv_all(conn))


with Target(speak_first) as t, forwarder(t.address) as f:
    c = client(f)
    check("forward: the target's shutdown reaches the client (end of file after its data)",
          recv_all(c) == b"hello")
    c.sendall(b"still here")
    c.shutdown(socket.SHUT_WR)
    c.close()
    t.join()
    check("forward: the client still sends after the target's shutdown", late == [b"still here"],
          (late, t.errors))

# ---- many clients at once ----

with Target(echo) as t, forwarder(t.address) as f:
    many = [client(f) for _ in range(60)]
    for i, c in enumerate(many):
        c.sendall(b"client %d " % i * 500)
    replies = [recv_exactly(c, len(b"client %d " % i * 500)) for i, c in enumerate(many)]
    check("forward: sixty clients at once, each gets its own bytes back",
          all(r == b"client %d " % i * 500 for i, r in enumerate(replies)))
    for c in many:
        c.close()

# ---- a target that never answers holds up no other client ----

with socket.socket() as hole:
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    # -w 4s: a forwarder that waited for b's connect would hold a's round trips that long.
    with forwarder("127.0.0.1:%d" % port, "-w", "4s") as f:
        a = client(f)
        conn, _ = hole.accept()  # a's target connection, echoed by a thread
        threading.Thread(target=lambda: (echo(conn), conn.close()), daemon=True).start()
        a.sendall(b"?")
        check("forward: a's target answers", a.recv(1) == b"?")
        # Fill the target's queue: a connection that times out finds it full.
        fillers = []
        for _ in range(8):
            s = socket.socket()
            s.settimeout(0.2)
            fillers.append(s)
            try:
                s.connect(("127.0.0.1", port))
            except socket.timeout:
                break
        b = client(f)
        f.err.wait_for(b"connection from 127.0.0.1:%d\n" % b.getsockname()[1])
        t0 = time.monotonic()
        rounds = 0
        for i in range(200):
            a.sendall(b"x")
            rounds += a.recv(1) == b"x"
        took = time.monotonic() - t0
        stuck = b"127.0.0.1:%d: connected" % b.getsockname()[1] not in f.err.data
        check("forward: 200 round trips for one client while another's target hangs",
              rounds == 200 and took < 3 and stuck, (rounds, took, f.err.text()))
        b.settimeout(TIMEOUT)
        check("forward -w: the client whose target never answered is closed",
              b.recv(1) == b"")
        check("forward -w: said, with the client and the target",
              f.err.wait_for(b"the target was not reached (timed out)")
              and b"127.0.0.1:%d: connect 127.0.0.1:%d: " % (b.getsockname()[1], port)
              in f.err.data and b"timed out\n" in f.err.data, f.err.text())
        a.sendall(b"y")
        check("forward: the other client goes on", a.recv(1) == b"y")
        for s in fillers + [a, b]:
            s.close()

# ---- a refused target: said per client, the client closed, the forwarder goes on ----

port, holder = refusing_port()
with forwarder("127.0.0.1:%d" % port) as f:
    for n in range(2):
        c = client(f)
        try:
            got = c.recv(1)
        except ConnectionResetError:
            got = b""
        check("forward: refused target, client %d closed" % n, got == b"")
        check("forward: refused target, said for client %d" % n,
              f.err.wait_for(b"127.0.0.1:%d: connect 127.0.0.1:%d: Connection refused"
                             % (c.getsockname()[1], port)), f.err.text())
        c.close()
    check("forward: still running after refusals", f.proc.poll() is None)
holder.close()

# ---- -m ----

with Target(echo) as t, forwarder(t.address, "-m", "2") as f:
    two = [client(f) for _ in range(2)]
    for c in two:
        c.sendall(b"!")
        c.recv(1)
    third = client(f)
    try:
        got = third.recv(1)
    except ConnectionResetError:
        got = b""
    check("forward -m 2: a third client is closed at once", got == b"")
    two[0].close()
    f.err.wait_for(b"back\n")
    fourth = client(f)
    fourth.sendall(b"4")
    check("forward -m 2: a client is taken once one has gone", fourth.recv(1) == b"4")
    for c in two + [third, fourth]:
        c.close()

# ---- a name: its addresses are raced (csock-dual is ::1 and 127.0.0.1, under no_dns.sh) ----

def families(name):
    try:
        return {a[0] for a in socket.getaddrinfo(name, 0, 0, socket.SOCK_STREAM)}
    except socket.gaierror:
        return set()


if len(families("csock-dual")) == 2:
    with Target(echo) as t, forwarder("csock-dual:%d" % t.sock.getsockname()[1]) as f:
        c = client(f)  # ::1 refuses (nothing listens there): IPv4 answers
        c.sendall(b"dual")
        check("forward to a name: the address that answers is used", recv_exactly(c, 4) == b"dual")
        check("forward -v: names the target and the address it reached",
              f.err.wait_for(b"connected to csock-dual:%d (127.0.0.1:%d)"
                             % ((t.sock.getsockname()[1],) * 2)), f.err.text())
        c.close()

# ---- Unix sockets on either side ----

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "target.sock")
    with Target(echo, path=path) as t, forwarder("unix:" + path) as f:
        c = client(f)
        c.sendall(b"to a Unix target")
        c.shutdown(socket.SHUT_WR)
        check("forward: TCP to a Unix target", recv_all(c) == b"to a Unix target")
    front = os.path.join(d, "front.sock")
    with Target(echo) as t, Csock(["-v", "forward", front, t.address]) as f:
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(TIMEOUT)
        c.connect(front)
        c.sendall(b"from a Unix client")
        c.shutdown(socket.SHUT_WR)
        check("forward: a Unix client to a TCP target", recv_all(c) == b"from a Unix client")
        c.close()
        rc = f.signal()
        check("forward: SIGTERM ends it with 0 and removes its socket file",
              rc == 0 and not os.path.exists(front), (rc, f.err.text()))

done()
