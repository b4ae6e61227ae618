# SPDX-License-Identifier: MIT
"""csock --exec: a command per connection, with the socket as its standard input and output and
no other descriptor of csock's; its failure is csock's; with -k commands run side by side, at
most -m of them. Usage: exec.py CSOCK"""
import signal
import socket

from clilib import Csock, TIMEOUT, check, done, recv_all, recv_exactly, run

FDS = "ls /proc/self/fd; readlink /proc/$$/fd/0 /proc/$$/fd/1"


def talk(port, data=b""):
    c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    got = recv_all(c)
    c.close()
    return got


with Csock(["-v", "--exec", "tr a-z A-Z", "listen", "127.0.0.1:0"]) as l:
    got = talk(l.port, b"shout this")
    check("listen --exec: the command reads the client and writes to it",
          got == b"SHOUT THIS" and l.wait() == 0, (got, l.err.text()))


def fds_of(text):
    lines = text.decode().split()
    return [x for x in lines if x.isdigit()], [x for x in lines if x.startswith("socket:")]


with Csock(["-k", "-v", "--exec", FDS, "listen", "127.0.0.1:0"]) as l:
    others = [socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT) for _ in range(3)]
    got = talk(l.port)
    fds, sockets = fds_of(got)
    # ls itself opens one descriptor (3) to read the directory; nothing else may be there.
    check("--exec -k: the command has only 0, 1, 2 (and ls's own 3): no listener, no other client",
          fds == ["0", "1", "2", "3"], got)
    check("--exec: standard input and output are the connection", len(sockets) == 2
          and sockets[0] == sockets[1], sockets)
    for o in others:
        o.close()
    l.signal()

r = None
with Csock(["--exec", "cat; exit 3", "listen", "127.0.0.1:0", "-v"]) as l:
    got = talk(l.port, b"echoed")
    rc = l.wait()
    check("--exec: a command that fails makes csock exit 1, and says how it ended",
          got == b"echoed" and rc == 1 and "exited with status 3" in l.err.text(),
          (rc, l.err.text()))

# csock itself ignores SIGPIPE (a closed output is a write error it says); the command gets
# SIGPIPE as csock's caller gave it (here: its default action), which its status line shows.
with Csock(["-v", "--exec", "grep SigIgn /proc/self/status", "listen", "127.0.0.1:0"]) as l:
    line = talk(l.port, b"").decode()
    l.wait()
    ignored = int(line.split()[1], 16) if line.startswith("SigIgn:") else -1
    check("--exec: the command does not inherit csock's ignored SIGPIPE",
          ignored >= 0 and not ignored & (1 << (signal.SIGPIPE - 1)), line)

with Csock(["-k", "-m", "2", "-v", "--exec", "cat", "listen", "127.0.0.1:0"]) as l:
    a = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    b = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    a.sendall(b"a")
    b.sendall(b"b")
    ok = a.recv(1) == b"a" and b.recv(1) == b"b"  # both commands run
    third = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    check("--exec -k -m 2: two commands side by side, a third client closed at once",
          ok and recv_all(third) == b""
          and l.err.wait_for(b"refused: 2 commands are running (-m 2)"), l.err.text())
    a.close()  # its cat ends; csock reaps it, and there is room again
    l.err.wait_for(b"exited with status 0")
    c = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    c.sendall(b"c")
    check("--exec -k -m 2: once a command ends, the next client gets one", c.recv(1) == b"c")
    # Not l.signal(): the commands still running hold csock's standard error open.
    l.proc.send_signal(signal.SIGTERM)
    rc = l.proc.wait(TIMEOUT)
    check("--exec -k: SIGTERM ends csock with 0", rc == 0)
    b.close()
    c.close()

# connect --exec: the command talks to the server.
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
with Csock(["--exec", "echo greeting; read line; echo got $line >&2",
            "connect", f"127.0.0.1:{srv.getsockname()[1]}"], listening=False) as c:
    conn, _ = srv.accept()
    conn.settimeout(TIMEOUT)
    hello = recv_exactly(conn, len(b"greeting\n"))
    conn.sendall(b"reply\n")
    rc = c.wait()
    check("connect --exec: the command has the connection",
          hello == b"greeting\n" and rc == 0 and "got reply" in c.err.text(), (hello, c.err.text()))
    conn.close()
srv.close()

# Each read of a datagram socket takes one datagram: dd reads one, tr answers with one.
with Csock(["-u", "-v", "--exec", "dd bs=65536 count=1 2>/dev/null | tr a-z A-Z", "listen",
            "127.0.0.1:0"]) as l:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(TIMEOUT)
    u.sendto(b"datagram\n", ("127.0.0.1", l.port))
    check("listen -u --exec: the command gets the first peer's datagram and answers it",
          u.recv(100) == b"DATAGRAM\n" and l.wait() == 0, l.err.text())
done()
