# SPDX-License-Identifier: MIT
"""csock over Unix-domain sockets, against Python's socket module: stream and datagram, paths and
abstract names, replies to a datagram client, a socket file removed when csock is done (also
when a signal ends it) and a stale one replaced. Usage: unix.py CSOCK"""
import os
import signal
import socket
import tempfile

from clilib import Csock, TIMEOUT, check, done, recv_all, run

tmp = tempfile.mkdtemp(prefix="csock-cli-")
path = os.path.join(tmp, "s.sock")

with Csock(["-v", "listen", f"unix:{path}"]) as l:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(TIMEOUT)
    c.connect(path)
    c.sendall(b"over a path")
    c.shutdown(socket.SHUT_WR)
    l.send(b"back")
    l.close_stdin()
    got = recv_all(c)
    rc = l.wait()
    check("listen unix:PATH: both directions, exit 0", rc == 0 and got == b"back"
          and bytes(l.out.data) == b"over a path", (rc, got, l.out.data, l.err.text()))
    check("listen unix: the socket file is gone afterwards", not os.path.exists(path))
    check("listen unix -v: 'listening on PATH'", l.first == f"csock: listening on {path}",
          l.first)

with Csock(["-v", "listen", f"unix:{path}"]) as l:
    rc = l.signal(signal.SIGTERM)
    check("listen unix: a signal while waiting for the client removes the socket file",
          rc == -signal.SIGTERM and not os.path.exists(path), (rc, os.path.exists(path)))

# SIGHUP ends csock by its default action, whatever it is doing: the file goes with it.
for args in [["listen"], ["-k", "listen"], ["-u", "listen"], ["-u", "-k", "listen"],
             ["serve", "echo"], ["-u", "serve", "echo"]]:
    with Csock(["-v"] + args + [f"unix:{path}"]) as l:
        rc = l.signal(signal.SIGHUP)
        check(f"csock {' '.join(args)} unix: SIGHUP removes the socket file",
              rc == -signal.SIGHUP and not os.path.exists(path), (rc, os.path.exists(path)))
    if os.path.exists(path):
        os.unlink(path)

stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stale.bind(path)
stale.close()  # the file stays: a server that is gone left it
with Csock(["-v", "listen", f"unix:{path}"]) as l:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.close()
    l.close_stdin()
    check("listen unix: a stale socket file is replaced", l.wait() == 0, l.err.text())

live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
live.bind(path)
live.listen(1)
r = run(["listen", f"unix:{path}"])
check("listen unix on a live server's path: exit 1, and its file is left alone",
      r.returncode == 1 and "Address already in use" in r.stderr.decode() and os.path.exists(path),
      r.stderr)
live.close()  # (csock's check that it was live left a connection in its queue)
os.unlink(path)
live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
live.bind(path)
live.listen(1)
with Csock(["connect", f"unix:{path}"], listening=False) as c:
    conn, _ = live.accept()
    conn.sendall(b"from python")
    conn.close()
    c.close_stdin()
    check("connect unix:PATH", c.wait() == 0 and bytes(c.out.data) == b"from python",
          c.err.text())
live.close()
os.unlink(path)

r = run(["connect", f"unix:{path}"])
check("connect to a missing path: exit 1, the message names it",
      r.returncode == 1 and f"connect {path}: No such file or directory" in r.stderr.decode(),
      r.stderr)

name = f"@csock-cli-{os.getpid()}"
with Csock(["-v", "listen", f"unix:{name}"]) as l:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect("\0" + name[1:])
    c.sendall(b"abstract")
    c.shutdown(socket.SHUT_WR)
    l.close_stdin()
    recv_all(c)
    check("listen unix:@NAME: an abstract socket", l.wait() == 0
          and bytes(l.out.data) == b"abstract" and l.first == f"csock: listening on {name}",
          (l.first, l.out.data))

# ---- datagrams ----

server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dpath = os.path.join(tmp, "d.sock")
server.bind(dpath)
server.settimeout(TIMEOUT)
with Csock(["-u", "-q", "5s", "connect", f"unix:{dpath}"], listening=False) as c:
    c.send(b"dgram")
    got, client = server.recvfrom(100)
    server.sendto(b"reply", client)
    c.out.wait_for(b"reply")
    c.close_stdin()
    rc = c.signal()
    check("connect -u unix: the client has a name of its own, and the reply reaches it",
          got == b"dgram" and client and bytes(c.out.data) == b"reply", (got, client))
server.close()

cpath = os.path.join(tmp, "client.sock")
with Csock(["-v", "-u", "listen", f"unix:{dpath}"]) as l:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind(cpath)
    c.settimeout(TIMEOUT)
    c.sendto(b"hello listener", dpath)
    l.send(b"hello client")
    got = c.recv(100)
    l.out.wait_for(b"hello listener")
    rc = l.signal()
    check("listen -u unix: talks to its first peer", got == b"hello client"
          and bytes(l.out.data) == b"hello listener", (got, l.out.data, l.err.text()))
    check("listen -u unix: SIGTERM ends it with 0 and removes the socket file",
          rc == 0 and not os.path.exists(dpath), (rc, os.path.exists(dpath)))
r = run(["-u", "-s", f"unix:{cpath}", "-q", "0", "connect", f"unix:{dpath}"], b"x")
check("connect -u -s unix:PATH where a live socket is: exit 1, said so",
      r.returncode == 1 and r.stderr.decode() == f"csock: bind {cpath}: Address already in use "
      "(a server is listening there)\n", r.stderr)
c.close()
r = run(["-u", "-s", f"unix:{cpath}", "-q", "0", "connect", f"unix:{dpath}"], b"x")
check("connect -u -s unix:PATH to nobody: exit 1, the message names the path",
      r.returncode == 1 and dpath in r.stderr.decode(), r.stderr)
done()
