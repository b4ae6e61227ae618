# SPDX-License-Identifier: MIT
"""csock --progress (lines on a pipe, a redrawn line on a terminal, the last "total:" line) for
connect, listen and forward, and -v's closing line per session: its byte counts and how the
session ended (the peer closed, a reset, -i, a listener's client).
Usage: progress.py CSOCK"""
import os
import pty
import re
import socket
import struct
import subprocess
import threading

from clilib import CSOCK, Csock, TIMEOUT, check, done, recv_all, recv_exactly, refusing_port, run

MiB = 1 << 20


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(TIMEOUT)
    return s, s.getsockname()[1]


UPDATE = re.compile(rb"csock: [0-9.]+ [KMG]?i?B sent, [0-9.]+ [KMG]?i?B received, [0-9.]+ s, "
                    rb"[0-9.]+ [KMG]?i?B/s\n")

# ---- connect --progress on a pipe: a line each second while the transfer lasts, then total ----
# The peer takes 1 MiB, then waits (bounded) for a progress line before taking the rest: the
# transfer lasts until csock has said one, however fast the machine is.
l, port = listener()
with Csock(["--progress", "connect", "127.0.0.1:%d" % port], listening=False) as c:
    conn, _ = l.accept()
    conn.settimeout(TIMEOUT)
    feeder = threading.Thread(target=lambda: (c.send(b"p" * (8 * MiB)), c.close_stdin()))
    feeder.start()
    got = len(conn.recv(MiB, socket.MSG_WAITALL))
    with c.err.grew:
        c.err.grew.wait_for(lambda: UPDATE.search(c.err.data), TIMEOUT)
    got += len(recv_all(conn))
    conn.close()
    feeder.join(TIMEOUT)
    rc = c.wait()
    err = bytes(c.err.data)
    check("--progress on a pipe: a progress line while the transfer lasts",
          UPDATE.search(err) is not None and b"\r" not in err, err)
    check("--progress: a last line with the total, after everything was sent",
          rc == 0 and got == 8 * MiB and re.search(
              rb"csock: total: 8.0 MiB sent, 0 B received, [0-9.]+ s, [0-9.]+ [KMG]?i?B/s\n$", err),
          (rc, got, err))
l.close()

# ---- on a terminal: one line, redrawn in place ----
l, port = listener()
master, slave = pty.openpty()
proc = subprocess.Popen([CSOCK, "--progress", "connect", "127.0.0.1:%d" % port],
                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
screen = bytearray()
grew = threading.Condition()


def read_tty():
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            chunk = b""
        with grew:
            screen.extend(chunk)
            grew.notify_all()
        if not chunk:
            return


reader = threading.Thread(target=read_tty, daemon=True)
reader.start()
conn, _ = l.accept()
conn.settimeout(TIMEOUT)
feeder = threading.Thread(target=lambda: (proc.stdin.write(b"t" * (4 * MiB)), proc.stdin.close()))
feeder.start()
conn.recv(MiB, socket.MSG_WAITALL)
with grew:
    grew.wait_for(lambda: b"\x1b[K" in screen, TIMEOUT)
recv_all(conn)
conn.close()
feeder.join(TIMEOUT)
rc = proc.wait(TIMEOUT)
reader.join(TIMEOUT)
os.close(master)
text = bytes(screen)
check("--progress on a terminal: the line is redrawn in place (carriage return, erase to its end)",
      text.startswith(b"\rcsock: ") and b"\x1b[K" in text and rc == 0, text)
check("--progress on a terminal: the last line ends it",
      re.search(rb"\rcsock: total: 4.0 MiB sent, 0 B received, [^\r\n]*\x1b\[K\r?\n$", text), text)
l.close()

# ---- listen --progress, and forward --progress ----
with Csock(["-v", "--progress", "listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL) as s:
    c = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
    c.sendall(b"r" * 300000)
    c.shutdown(socket.SHUT_WR)
    recv_all(c)
    c.close()
    rc = s.wait()
    check("listen --progress: the total of what was received",
          rc == 0 and b"csock: total: 0 B sent, 293.0 KiB received, " in s.err.data, s.err.text())

with Csock(["serve", "echo", "127.0.0.1:0", "-v"]) as e, \
        Csock(["-v", "--progress", "forward", "127.0.0.1:0", e.address]) as f:
    c = socket.create_connection(("127.0.0.1", f.port), timeout=TIMEOUT)
    c.sendall(b"f" * 200000)
    c.shutdown(socket.SHUT_WR)
    back = recv_all(c)
    c.close()
    f.err.wait_for(b"back\n")
    rc = f.signal()
    check("forward --progress: the total at the end, both ways",
          rc == 0 and len(back) == 200000 and
          b"csock: total: 195.3 KiB sent, 195.3 KiB received, " in f.err.data, f.err.text())

# ---- -v: how each session ended, with the bytes each way ----
l, port = listener()
with Csock(["-v", "-d", "connect", "127.0.0.1:%d" % port], listening=False) as c:
    conn, _ = l.accept()
    conn.sendall(b"hello")
    c.out.wait_for(b"hello")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # a reset
    rc = c.wait()
    check("-v: a reset session's last line, 'ended: reset by the peer after 0 B sent, 5 B "
          "received'",
          rc == 1 and c.err.text().endswith(
              "csock: 127.0.0.1:%d: ended: reset by the peer after 0 B sent, 5 B received\n" % port),
          c.err.text())

with Csock(["-v", "-i", "300ms", "connect", "127.0.0.1:%d" % port], listening=False) as c:
    conn, _ = l.accept()
    c.send(b"abc")
    conn.recv(3)
    rc = c.wait()
    check("-v -i: an idle session's last line",
          rc == 3 and c.err.text().endswith(
              "csock: 127.0.0.1:%d: ended: idle for 0.3s after 3 B sent, 0 B received\n" % port),
          c.err.text())
    conn.close()
l.close()

with Csock(["-v", "-k", "listen", "127.0.0.1:0"]) as s:
    c = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
    mine = c.getsockname()[1]
    c.sendall(b"12345")
    s.out.wait_for(b"12345")
    s.send(b"abc")
    check("listen -k: the client gets standard input", recv_exactly(c, 3) == b"abc")
    c.close()
    want = b"127.0.0.1:%d closed the connection after 3 B sent, 5 B received\n" % mine
    check("listen -k -v: a client's closing line, with its bytes each way", s.err.wait_for(want),
          s.err.text())
    s.signal()

port, holder = refusing_port()
r = run(["-v", "connect", "127.0.0.1:%d" % port], b"")
holder.close()
check("-v: no closing line for a connection never made",
      r.returncode == 1 and b"ended" not in r.stderr, r.stderr)

done()
