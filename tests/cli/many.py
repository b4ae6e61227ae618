# SPDX-License-Identifier: MIT
"""csock listen -k: many clients at once, each one's bytes on standard output, standard input to
every client, the -m limit, a client that does not read, and SIGTERM. Usage: many.py CSOCK"""
import os
import resource
import selectors
import signal
import socket

from clilib import Csock, TIMEOUT, check, done, recv_all, recv_exactly



def heard_clients(l, *tags):
    """Connects a client per tag, each sending its tag; returns them once csock has written
    every tag (so each connection is known to it)."""
    clients = [socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT) for _ in tags]
    for c, tag in zip(clients, tags):
        c.sendall(tag)
    for tag in tags:
        l.out.wait_for(tag)
    return clients


with Csock(["-v", "-k", "listen", "127.0.0.1:0"]) as l:
    clients = [socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT) for _ in range(50)]
    for i, c in enumerate(clients):
        c.sendall(b"<client %02d>" % i)
    # Each client's bytes come in one piece or several (a read may return part of them),
    # interleaved with the others': every byte is there, and each tag whole when it came whole.
    tags = [b"<client %02d>" % i for i in range(50)]
    with l.out.grew:
        l.out.grew.wait_for(lambda: len(l.out.data) >= len(b"".join(tags)), TIMEOUT)
    check("-k: fifty clients at once, each one's bytes on standard output",
          sorted(l.out.data) == sorted(b"".join(tags)) and
          (os.environ.get("CSOCK_FAULTS_SEED") or all(t in l.out.data for t in tags)),
          l.out.data[:200])
    l.send(b"to all of you\n")
    got = [recv_exactly(c, 14) for c in clients]
    check("-k: standard input goes to every client", got == [b"to all of you\n"] * 50, got[:3])
    for c in clients[:25]:
        c.close()
    clients[25].sendall(b"<still here>")
    l.out.wait_for(b"<still here>")
    check("-k: clients that leave do not disturb the others", b"<still here>" in l.out.data)
    l.close_stdin()  # ends nothing with -k
    late = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    late.sendall(b"<late>")
    check("-k: the end of input ends nothing: a new client is served",
          l.out.wait_for(b"<late>"))
    rc = l.signal(signal.SIGTERM)
    check("-k: SIGTERM ends it with 0", rc == 0, (rc, l.err.text()))
    check("-k: every client reads end of file then", all(recv_all(c) == b"" for c in clients[25:])
          and recv_all(late) == b"")

with Csock(["-v", "-k", "-m", "2", "listen", "127.0.0.1:0"]) as l:
    a, b = heard_clients(l, b"<a>", b"<b>")
    third = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    check("-k -m 2: a third client is closed at once", recv_all(third) == b"")
    a.close()
    l.err.wait_for(b"closed the connection")
    again = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    again.sendall(b"<again>")
    check("-k -m 2: once one leaves, another is served", l.out.wait_for(b"<again>"))
    l.signal()

# A client that never reads: standard input waits for it (memory stays bounded), nothing is
# lost, and the other client still gets everything in the end.
with Csock(["-k", "-v", "listen", "127.0.0.1:0"]) as l:
    slow, fast = heard_clients(l, b"<slow>", b"<fast>")
    total = 8 * 1024 * 1024
    pattern = bytes(range(256)) * (total // 256)
    got = {slow: bytearray(), fast: bytearray()}
    sel = selectors.DefaultSelector()
    sel.register(l.proc.stdin, selectors.EVENT_WRITE)
    sel.register(fast, selectors.EVENT_READ)
    os.set_blocking(l.proc.stdin.fileno(), False)
    sent = 0

    def move(readers, quiet):
        """Feeds csock's input and reads the clients in readers until they have everything, or
        nothing moves for quiet seconds; returns whether it stopped for that."""
        global sent
        while sent < total or any(len(got[r]) < total for r in readers):
            ready = sel.select(quiet)
            if not ready:
                return True
            for key, _ in ready:
                if key.fileobj in got:
                    got[key.fileobj] += key.fileobj.recv(1 << 20)
                    continue
                try:
                    sent += os.write(l.proc.stdin.fileno(), pattern[sent:sent + 65536])
                except BlockingIOError:
                    pass
                if sent == total:
                    sel.unregister(l.proc.stdin)
        return False

    # Nothing moves for a second: csock waits for the slow client, the fast one has all it got.
    stalled = move([fast], 1)
    check("-k: a client that does not read makes standard input wait (nothing is dropped)",
          stalled and sent < total and len(got[fast]) < total, (sent, len(got[fast])))
    # Now the slow client reads: everything flows, to both, byte for byte.
    sel.register(slow, selectors.EVENT_READ)
    move([slow, fast], TIMEOUT)
    check("-k: then both clients get all 8 MiB of input, byte for byte",
          got[slow] == pattern and got[fast] == pattern, (len(got[slow]), len(got[fast])))
    l.signal()

# -w: give up if no client comes in time, with -k too.
for args in [["-k"], ["-k", "--exec", "cat"], ["-u", "-k"]]:
    with Csock(["-v", "-w", "300ms"] + args + ["listen", "127.0.0.1:0"]) as l:
        rc = l.wait()
        op = "recvmsg" if "-u" in args else "accept"
        check(f"csock -w 300ms {' '.join(args)} listen with no client: exit 3, "
              f"'{op} 127.0.0.1:PORT: timed out'",
              rc == 3 and f"csock: {op} 127.0.0.1:{l.port}: timed out\n" in l.err.text(),
              (rc, l.err.text()))
with Csock(["-v", "-w", "300ms", "-k", "listen", "127.0.0.1:0"]) as l:
    c = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    c.sendall(b"came in time")
    l.out.wait_for(b"came in time")
    c.close()
    l.err.wait_for(b"closed the connection")
    d = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)  # still served
    d.sendall(b"and another")
    l.out.wait_for(b"and another")
    d.close()
    rc = l.signal()
    check("-w 300ms -k: once a client has come, csock serves on until a signal",
          rc == 0 and bytes(l.out.data) == b"came in timeand another", (rc, l.out.data))
# Out of descriptors: csock says so once, clients are closed at once meanwhile (not left waiting),
# and it serves again when a connection ends.
def few_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))


def served(l, client, tag):
    """Whether csock took client: tag, sent, comes out on its standard output."""
    try:
        client.sendall(tag)
    except OSError:
        return False
    return l.out.wait_for(tag, timeout=5)


def closed_at_once(client):
    try:
        return recv_all(client, timeout=5) == b""
    except ConnectionResetError:
        return True
    except OSError:
        return False


OUT = b"Too many open files"
with Csock(["-v", "-k", "listen", "127.0.0.1:0"], preexec_fn=few_descriptors) as l:
    clients, shed = [], []
    for i in range(24):  # until the message comes (its pipe may lag behind standard output's)
        c = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
        (clients if served(l, c, b"<fd %02d>" % i) else shed).append(c)
        if shed or OUT in l.err.data:
            break
    check("-k out of descriptors: said once the last one is taken",
          l.err.wait_for(OUT) and clients and served(l, clients[-1], b"<last>"), l.err.text())
    shed += [socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT) for _ in range(3)]
    check("-k out of descriptors: the clients it cannot take are closed at once",
          all(closed_at_once(c) for c in shed))
    check("-k out of descriptors: said once, not once per client closed",
          l.err.data.count(OUT) == 1, l.err.text())
    clients.pop(0).close()
    check("-k out of descriptors: -v says when a connection's end frees one",
          l.err.wait_for(b"descriptors are free again"), l.err.text())
    again = socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT)
    check("-k out of descriptors: a client is served again once one is free",
          served(l, again, b"<again>"), l.err.text())
    with l.err.grew:  # it took the last descriptor again
        l.err.grew.wait_for(lambda: l.err.data.count(OUT) >= 2, TIMEOUT)
    check("-k out of descriptors: the next burst is said again", l.err.data.count(OUT) == 2,
          l.err.text())
    rc = l.signal(signal.SIGTERM)
    check("-k out of descriptors: SIGTERM still ends it with 0", rc == 0, (rc, l.err.text()))
    for c in clients + shed + [again]:
        c.close()
done()
