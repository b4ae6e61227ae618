# SPDX-License-Identifier: MIT
"""csock serve echo, discard and chargen over TCP, UDP and Unix sockets, against Python clients;
csock connect -z (port scan); csock -x (hex dump); csock ping on loopback.
Usage: serve.py CSOCK"""
import os
import resource
import socket
import subprocess
import tempfile

from clilib import CSOCK, Csock, TIMEOUT, check, done, recv_all, recv_exactly, refusing_port, run


def chargen_ok(data):
    """Lines of 72 rotating printable characters, each starting one further, ending CRLF."""
    lines = data.split(b"\r\n")[:-1]
    first = lines[0][0] - 32
    return len(lines) > 2 and all(
        line == bytes(32 + (first + n + i) % 95 for i in range(72)) for n, line in enumerate(lines))


def echoed(client):
    """Whether serve echo took client: a byte sent comes back."""
    try:
        client.sendall(b"?")
        return client.recv(1) == b"?"
    except OSError:
        return False


# Out of descriptors, serve says so once, like listen -k (many.py), and serves on.
with Csock(["serve", "echo", "127.0.0.1:0", "-v"],
           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))) as s:
    taken = []
    for _ in range(24):
        taken.append(socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT))
        if not echoed(taken[-1]) or b"Too many open files" in s.err.data:
            break
    late = [socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT) for _ in range(3)]
    check("serve out of descriptors: the clients it cannot take are closed",
          not any(echoed(c) for c in late))
    check("serve out of descriptors: said once",
          s.err.wait_for(b"Too many open files") and s.err.data.count(b"Too many open files") == 1,
          s.err.text())
    taken.pop(0).close()
    s.err.wait_for(b"descriptors are free again")
    check("serve out of descriptors: serves again once a connection ends",
          echoed(socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)), s.err.text())
    for c in taken + late:
        c.close()

with Csock(["-v", "serve", "echo", "127.0.0.1:0"]) as s:
    clients = [socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT) for _ in range(20)]
    big = os.urandom(1 << 20)
    for i, c in enumerate(clients):
        c.sendall(b"client %d" % i)
    replies = [recv_exactly(c, len(b"client %d" % i)) for i, c in enumerate(clients)]
    check("serve echo: twenty clients at once, each gets its own bytes back",
          replies == [b"client %d" % i for i in range(20)], replies[:3])
    got = bytearray()
    c = clients[0]
    c.setblocking(True)
    import threading
    t = threading.Thread(target=lambda: (c.sendall(big), c.shutdown(socket.SHUT_WR)))
    t.start()
    got = recv_all(c)
    t.join()
    check("serve echo: 1 MiB back byte for byte, end of file after it", got == big, len(got))
    rc = s.signal()
    check("serve: SIGTERM ends it with 0", rc == 0, s.err.text())

with Csock(["-v", "serve", "discard", "127.0.0.1:0"]) as s:
    c = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
    c.sendall(b"x" * 100000)
    c.shutdown(socket.SHUT_WR)
    check("serve discard: takes everything, sends nothing", recv_all(c) == b"")
    s.signal()

with Csock(["-v", "serve", "chargen", "[::1]:0"]) as s:
    c = socket.create_connection(("::1", s.port), timeout=TIMEOUT)
    data = bytearray()
    while len(data) < 200000:
        data += c.recv(65536)
    check("serve chargen over IPv6: rotating lines of 72 characters without end",
          chargen_ok(bytes(data[:data.rindex(b"\r\n") + 2])), data[:80])
    c.close()
    s.signal()

with Csock(["-v", "-u", "serve", "echo", "127.0.0.1:0"]) as s:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(TIMEOUT)
    ok = True
    for size in (0, 1, 1000, 65507):
        u.sendto(b"d" * size, ("127.0.0.1", s.port))
        ok = ok and u.recv(65536) == b"d" * size
    check("serve -u echo: datagrams of 0 to 65,507 bytes come back whole", ok)
    s.signal()

with Csock(["-u", "-v", "serve", "chargen", "127.0.0.1:0"]) as s:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(TIMEOUT)
    sizes = []
    for _ in range(20):
        u.sendto(b"?", ("127.0.0.1", s.port))
        sizes.append(len(u.recv(1000)))
    check("serve -u chargen: a reply of 0 to 512 characters to each datagram",
          all(0 <= n <= 512 for n in sizes) and len(set(sizes)) > 1, sizes)
    s.signal()

path = os.path.join(tempfile.mkdtemp(prefix="csock-cli-"), "echo.sock")
with Csock(["-v", "serve", "echo", f"unix:{path}"]) as s:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(b"unix echo")
    c.shutdown(socket.SHUT_WR)
    check("serve echo on a Unix socket", recv_all(c) == b"unix echo")
    rc = s.signal()
    check("serve: the Unix socket file is removed at the end", rc == 0 and not os.path.exists(path))

with Csock(["-i", "300ms", "-v", "serve", "echo", "127.0.0.1:0"]) as s:
    c = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
    check("serve -i 300ms: an idle client is closed", recv_all(c) == b""
          and s.err.wait_for(b"idle for 0.3s"), s.err.text())
    s.signal()

# ---- -z ----

listeners = [socket.socket() for _ in range(2)]
for l in listeners:
    l.bind(("127.0.0.1", 0))
    l.listen(8)
ports = sorted(l.getsockname()[1] for l in listeners)
closed, holder = refusing_port()
r = run(["-z", "connect", f"127.0.0.1:{ports[0]}-{ports[0] + 30}"])
want = [f"127.0.0.1:{p} open" for p in ports if p <= ports[0] + 30]
check("-z: each open port of the range, one line each, exit 0",
      r.returncode == 0 and r.stdout.decode().splitlines() == want, (r.stdout, want))
r = run(["-z", "-v", "connect", f"127.0.0.1:{closed}"])
check("-z on a closed port: exit 1, nothing on standard output, -v says why",
      r.returncode == 1 and r.stdout == b""
      and f"connect 127.0.0.1:{closed}: Connection refused" in r.stderr.decode(), r.stderr)
for l in listeners:
    l.close()
holder.close()

# A connection to a port of the range the system hands out for outgoing connections can come
# from that very port and reach itself ("simultaneous open"), with nothing listening. In a
# network namespace whose range is one port, every connection comes from it.
netns = os.path.join(os.path.dirname(__file__), "..", "netns.sh")
for target, args in [("127.0.0.1:40000", ["-z", "-v", "connect", "127.0.0.1:39999-40001"]),
                     ("[::1]:40000", ["-z", "-v", "connect", "[::1]:40000"]),
                     ("127.0.0.1:40000", ["connect", "127.0.0.1:40000"])]:
    r = subprocess.run(["sh", netns, "sh", "-c", 'echo "40000 40000" > '
                        '/proc/sys/net/ipv4/ip_local_port_range && exec "$@"', "sh", CSOCK] + args,
                       input=b"talking to myself", capture_output=True, timeout=TIMEOUT)
    if r.returncode == 77 or b"ip_local_port_range" in r.stderr:
        print(f"skip: csock {' '.join(args)} in a namespace: {r.stderr.decode().strip()}")
        continue
    err = r.stderr.decode()
    check(f"csock {' '.join(args)}, the system's only port for outgoing connections: a "
          f"connection to itself is no listener: exit 1, said",
          r.returncode == 1 and r.stdout == b"" and
          f"csock: connect {target}: Connection refused (the connection reached itself: nothing "
          "listens there)\n" in err, (r.returncode, r.stdout, err))

# ---- -x ----

with Csock(["-v", "serve", "echo", "127.0.0.1:0"]) as s:
    r = run(["-x", "connect", f"127.0.0.1:{s.port}"], b"hex dump, please\x00\xff")
    err = r.stderr.decode()
    check("-x: what was sent and received, as hex with offsets and printable text",
          r.stdout == b"hex dump, please\x00\xff"
          and "> 00000000  68 65 78 20 64 75 6d 70 2c 20 70 6c 65 61 73 65  |hex dump, please|"
          in err and "> 00000010  00 ff" in err and "|..|" in err
          and "< 00000000  68 65 78 20" in err, err)
    s.signal()

# ---- ping ----

r = run(["ping", "-c", "1", "-W", "5", "127.0.0.1"])
out = r.stdout.decode()
if "Operation not permitted" in r.stderr.decode() or "not allowed" in r.stderr.decode():
    check("csock ping without ICMP privilege: says which is missing", r.returncode == 2, r.stderr)
else:
    check("csock ping -c 1 127.0.0.1: one reply, exit 0",
          r.returncode == 0 and "1 packets transmitted, 1 received" in out, (out, r.stderr))
done()
