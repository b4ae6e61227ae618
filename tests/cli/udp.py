# SPDX-License-Identifier: MIT
"""csock over UDP, against Python's socket module: a chunk of input is a datagram and a datagram
is written whole; a listener talks to its first peer only, or with -k to every peer; -q and -i
end a datagram session. Usage: udp.py CSOCK"""
import os
import socket
import subprocess
import tempfile

from clilib import CSOCK, Csock, TIMEOUT, check, done, run


def udp(host="127.0.0.1", family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(TIMEOUT)
    return s


# ---- connect -u ----

peer = udp()
with Csock(["-u", "connect", f"127.0.0.1:{peer.getsockname()[1]}"], listening=False) as c:
    c.send(b"one datagram")
    got, addr = peer.recvfrom(65536)
    peer.sendto(b"a reply", addr)
    peer.sendto(b"x" * 60000, addr)
    c.close_stdin()
    check("connect -u: a chunk of input leaves as one datagram", got == b"one datagram", got)
    # Without -q, a datagram session goes on after the end of input: the replies keep coming.
    peer.sendto(b"after the end of input", addr)
    c.out.wait_for(b"after the end of input")
    rc = c.signal()
    check("connect -u: replies are written whole, also after the end of input",
          bytes(c.out.data) == b"a reply" + b"x" * 60000 + b"after the end of input",
          (len(c.out.data), c.err.text()))

peer = udp()
r = run(["-u", "-q", "0", "connect", f"127.0.0.1:{peer.getsockname()[1]}"], b"bye")
check("connect -u -q 0: exits once the input is sent", r.returncode == 0
      and peer.recvfrom(100)[0] == b"bye", (r.returncode, r.stderr))

peer = udp("::1", socket.AF_INET6)
with Csock(["-u", "-q", "2s", "connect", f"[::1]:{peer.getsockname()[1]}"], listening=False) as c:
    c.send(b"v6?")
    c.close_stdin()
    got, addr = peer.recvfrom(100)
    peer.sendto(b"v6!", addr)
    rc = c.wait()
    check("connect -u over IPv6, with -q 2s: the reply comes, then exit 0",
          rc == 0 and got == b"v6?" and bytes(c.out.data) == b"v6!", (rc, c.err.text()))

gone = udp()
gone_port = gone.getsockname()[1]
gone.close()
with Csock(["-u", "connect", f"127.0.0.1:{gone_port}"], listening=False) as c:
    c.send(b"anyone?")
    c.send(b"anyone?")  # the port-unreachable of the first comes back on the next call
    rc = c.wait()
    check("connect -u to a closed port: exit 1, 'Connection refused' with the address",
          rc == 1 and "Connection refused" in c.err.text() and f"127.0.0.1:{gone_port}"
          in c.err.text(), (rc, c.err.text()))

peer = udp()
with Csock(["-u", "-i", "300ms", "connect", f"127.0.0.1:{peer.getsockname()[1]}"],
           listening=False) as c:
    rc = c.wait()
    check("connect -u -i 300ms: exit 3 when nothing moves", rc == 3
          and "idle for 0.3s" in c.err.text(), (rc, c.err.text()))

# ---- listen -u ----

with Csock(["-v", "-u", "-k", "-i", "300ms", "listen", "127.0.0.1:0"]) as l:
    a = udp()
    a.sendto(b"hello", ("127.0.0.1", l.port))
    l.out.wait_for(b"hello")
    sent = 0
    for _ in range(int(TIMEOUT / 0.05)):  # input goes to the peer until it has been silent 0.3 s
        l.send(b"x")
        sent += 1
        if l.err.wait_for(b"(-i)", 0.05):
            break
    rc = l.signal()
    a.setblocking(False)
    arrived = 0
    try:
        while a.recv(10) == b"x":
            arrived += 1
    except BlockingIOError:
        pass
    dropped = l.err.text().count("1 bytes of input dropped")
    check("listen -u -k -i: input after every peer was forgotten is said, not dropped silently",
          rc == 0 and arrived + dropped == sent and "no peer has sent a datagram in the last 0.3s "
          "(-i): 1 bytes of input dropped" in l.err.text(), (rc, sent, arrived, l.err.text()))

# SIGTERM as soon as "listening on" is said: the signal is handled by then.
for args in [["-u"], ["-u", "-k"]]:
    codes = []
    for _ in range(20):
        with Csock(["-v"] + args + ["listen", "127.0.0.1:0"]) as l:
            codes.append(l.signal())
    check(f"listen {' '.join(args)}: SIGTERM before the first datagram, even right after "
          "'listening on', ends it with 0, as it ends the session", codes == [0] * 20, codes)

with Csock(["-v", "-u", "-w", "300ms", "listen", "127.0.0.1:0"]) as l:
    rc = l.wait()
    check("listen -u -w 300ms with no datagram: exit 3, 'recvmsg 127.0.0.1:PORT: timed out'",
          rc == 3 and f"csock: recvmsg 127.0.0.1:{l.port}: timed out\n" in l.err.text(),
          (rc, l.err.text()))

# A chunk of input is one datagram only up to the largest UDP payload: more is split, and said.
peer = udp()
with tempfile.TemporaryFile() as big:  # a file: each read returns as much as was asked for
    big.write(b"y" * 100000)
    big.seek(0)
    r = subprocess.run([CSOCK, "-u", "-q", "0", "connect", f"127.0.0.1:{peer.getsockname()[1]}"],
                       stdin=big, capture_output=True, timeout=TIMEOUT)
sizes = []
while sum(sizes) < 100000:
    sizes.append(len(peer.recvfrom(65536)[0]))
check("connect -u, 100000 bytes of input at once: datagrams of 65507 bytes at most, said once",
      r.returncode == 0 and sum(sizes) == 100000 and max(sizes) == 65507
      and r.stderr.decode().count("csock: standard input gave more than 65507 bytes at once, "
                                  "the largest UDP datagram: sent as several datagrams\n") == 1,
      (r.returncode, sizes, r.stderr))

peer = udp()
with Csock(["-v", "-u", "-q", "300ms", "connect", f"127.0.0.1:{peer.getsockname()[1]}"],
           listening=False) as c:
    c.close_stdin()
    rc = c.wait()
    check("connect -u -v -q 300ms: says how the session ended",
          rc == 0 and "csock: -q 0.3s after the end of input: done\n" in c.err.text(),
          (rc, c.err.text()))

with Csock(["-v", "-u", "listen", "127.0.0.1:0"]) as l:
    a, b = udp(), udp()
    a.sendto(b"first", ("127.0.0.1", l.port))
    got = bytearray()
    l.send(b"to the first peer")
    reply = a.recvfrom(100)[0]
    b.sendto(b"second peer", ("127.0.0.1", l.port))
    a.sendto(b" again", ("127.0.0.1", l.port))
    a.sendto(b"", ("127.0.0.1", l.port))
    l.out.wait_for(b"first again")
    rc = l.signal()
    check("listen -u: talks to the first peer", reply == b"to the first peer"
          and bytes(l.out.data) == b"first again", (reply, l.out.data, l.err.text()))
    check("listen -u -v: 'datagrams from 127.0.0.1:PORT'",
          f"datagrams from 127.0.0.1:{a.getsockname()[1]}" in l.err.text(), l.err.text())

peer = udp()
directory = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
r = subprocess.run([CSOCK, "-u", "connect", f"127.0.0.1:{peer.getsockname()[1]}"],
                   stdin=directory, capture_output=True, timeout=TIMEOUT)
os.close(directory)
check("connect -u < /: exit 1, 'csock: read standard input: Is a directory'",
      r.returncode == 1 and r.stderr == b"csock: read standard input: Is a directory\n",
      (r.returncode, r.stderr))

r = run(["-u", "-w", "300ms", "listen", "127.0.0.1:0"])
check("listen -u -w 300ms with no datagram: exit 3", r.returncode == 3
      and "timed out" in r.stderr.decode(), (r.returncode, r.stderr))

with Csock(["-v", "-u", "-k", "listen", "127.0.0.1:0"]) as l:
    l.send(b"early")  # nobody has sent anything: said, not lost silently
    l.err.wait_for(b"no peer has sent a datagram yet")
    peers = [udp() for _ in range(3)]
    for i, p in enumerate(peers):
        p.sendto(b"hello from %d;" % i, ("127.0.0.1", l.port))
    # Every peer is known (its datagram written) before the broadcast.
    for i in range(3):
        l.out.wait_for(b"hello from %d;" % i)
    l.send(b"to everyone")
    replies = [p.recvfrom(100)[0] for p in peers]
    rc = l.signal()
    check("listen -u -k: every peer's datagrams arrive",
          all(b"hello from %d;" % i in bytes(l.out.data) for i in range(3)), l.out.data)
    check("listen -u -k: standard input goes to every peer",
          replies == [b"to everyone"] * 3, replies)
    check("listen -u -k: input with no peer yet is said, not dropped silently",
          "no peer has sent a datagram yet: 5 bytes of input dropped" in l.err.text(),
          l.err.text())
done()
