# SPDX-License-Identifier: MIT
"""The csock tool across a fault proxy (tests/faultproxy.py): a transfer both ways at once through
a proxy that cuts it into random pieces and holds them back arrives whole on both sides, as does
one cut into single bytes; a direction shut down midway ends only that direction, as the man
page's end-of-file rules say; a connection reset in the middle ends csock with status 1 and a
message naming the reset. Usage: proxy.py CSOCK"""
import hashlib
import os
import subprocess
import sys
import threading

from clilib import CSOCK, TIMEOUT, Csock, check, done

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from faultproxy import DOWN, UP, FaultProxy  # noqa: E402


def pattern(seed, size):
    """size pseudo-random bytes from seed."""
    out, i = bytearray(), 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:size])


def through_proxy(a, b, **faults):
    """csock listen, sending a, and csock connect, sending b, through a proxy with faults; returns
    (listener rc, client rc, what the listener received, what the client received, both stderrs,
    bytes the proxy relayed each way)."""
    with Csock(["-v", "listen", "127.0.0.1:0"]) as server:
        with FaultProxy(("127.0.0.1", server.port), **faults) as proxy:
            client = subprocess.Popen([CSOCK, "connect", f"127.0.0.1:{proxy.port}"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
            result = {}
            reader = threading.Thread(target=lambda: result.update(
                zip(("out", "err"), client.communicate(b, timeout=120))))
            reader.start()
            server.send(a)
            server.close_stdin()
            reader.join(130)
            rc_l = server.wait(120)
            return (rc_l, client.returncode, bytes(server.out.data), result.get("out"),
                    server.err.text() + result.get("err", b"").decode(errors="replace"),
                    proxy.relayed)


a, b = pattern(1, 2 << 20), pattern(2, 2 << 20)
rc_l, rc_c, got_l, got_c, err, relayed = through_proxy(a, b, seed=1, max_piece=3000,
                                                       max_delay=0.0002)
check("2 MiB each way through a splitting, delaying proxy: every byte, both exit 0",
      (rc_l, rc_c, got_l == b, got_c == a) == (0, 0, True, True), (rc_l, rc_c, err[-500:]))
check("the proxy relayed it all", relayed == [2 << 20, 2 << 20], relayed)

a, b = pattern(3, 20000), pattern(4, 20000)
rc_l, rc_c, got_l, got_c, err, relayed = through_proxy(a, b, seed=2, max_piece=1)
check("20,000 bytes each way in single bytes: every byte, both exit 0",
      (rc_l, rc_c, got_l == b, got_c == a) == (0, 0, True, True), (rc_l, rc_c, err[-500:]))

# The proxy shuts the listener's direction down after 1,000 bytes: the client reads end of file
# early, yet sends the rest of its input, which the listener reads whole (the man page's end of
# file rules: a peer that only shut down its side still reads).
a, b = pattern(5, 1 << 20), pattern(6, 1 << 20)
rc_l, rc_c, got_l, got_c, err, relayed = through_proxy(a, b, seed=5, max_piece=4000,
                                                       shut_after=(0, 1000))
check("the listener's side cut after 1,000 bytes: the client has those and sends all it has",
      rc_c == 0 and got_c == a[:1000] and got_l == b, (rc_c, len(got_c), len(got_l), err))
check("the listener's side cut: the listener exits 0", rc_l == 0, (rc_l, err))

# The proxy shuts the client's direction down after 50,000 bytes: the listener reads exactly
# those, then end of file; both end with status 0.
rc_l, rc_c, got_l, got_c, err, relayed = through_proxy(a, b, seed=6, max_piece=4000,
                                                       shut_after=(50000, 0))
check("the client's side cut after 50,000 bytes: the listener has exactly those",
      rc_l == 0 and got_l == b[:50000], (rc_l, len(got_l), err))
check("the client's side cut: the client has everything and exits 0",
      rc_c == 0 and got_c == a, (rc_c, len(got_c), err))

# A reset while the client sends: the client, still sending, learns of it.
with Csock(["-v", "listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL) as server:
    with FaultProxy(("127.0.0.1", server.port), seed=3, max_piece=5000,
                    reset_after=(100000, 0)) as proxy:
        r = subprocess.run([CSOCK, "connect", f"127.0.0.1:{proxy.port}"],
                           input=pattern(3, 8 << 20), capture_output=True, timeout=TIMEOUT)
        err = r.stderr.decode(errors="replace")
        check("a reset while sending: status 1 and a message that says so",
              r.returncode == 1 and err.startswith("csock: ") and
              ("reset" in err or "Broken pipe" in err), (r.returncode, err))
        rc = server.wait()
        check("the listener, reset too: status 1 and a message",
              rc == 1 and "Connection reset by peer" in server.err.text(),
              (rc, server.err.text()))

# A reset while the client only receives.
with Csock(["-v", "listen", "127.0.0.1:0"]) as server:
    with FaultProxy(("127.0.0.1", server.port), seed=4, max_piece=5000,
                    reset_after=(0, 100000)) as proxy:
        client = Csock(["connect", f"127.0.0.1:{proxy.port}"], listening=False)
        with client:
            try:
                server.send(pattern(4, 1 << 20))
            except BrokenPipeError:
                pass  # the listener, reset too, may have stopped reading its input already
            rc = client.wait()
            err = client.err.text()
            check("a reset while receiving: status 1 and a message that says so",
                  rc == 1 and "Connection reset by peer" in err, (rc, err))
            check("what arrived before the reset is what was sent",
                  pattern(4, 1 << 20).startswith(bytes(client.out.data)) and
                  len(client.out.data) <= 100000, len(client.out.data))
done()
