"""The csock tool across a fault proxy (tests/faultproxy.py): a transfer both ways at once through
a proxy that cuts it into random pieces and holds them back arrives whole on both sides, as does
one cut into single bytes; a connection reset in the middle ends csock with status 1 and a
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


def through_proxy(size, **faults):
    """csock listen and csock connect through a proxy with faults, each sending size bytes;
    returns (listener rc, client rc, what each received equals what the other sent, stderr)."""
    a, b = pattern(1, size), pattern(2, size)
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
            return (rc_l, client.returncode, server.out.data == b, result.get("out") == a,
                    server.err.text() + result.get("err", b"").decode(errors="replace"),
                    proxy.relayed)


rc_l, rc_c, got_l, got_c, err, relayed = through_proxy(
    2 << 20, seed=1, max_piece=3000, max_delay=0.0002)
check("2 MiB each way through a splitting, delaying proxy: every byte, both exit 0",
      (rc_l, rc_c, got_l, got_c) == (0, 0, True, True), (rc_l, rc_c, got_l, got_c, err[-500:]))
check("the proxy relayed it all", relayed == [2 << 20, 2 << 20], relayed)

rc_l, rc_c, got_l, got_c, err, relayed = through_proxy(20000, seed=2, max_piece=1)
check("20,000 bytes each way in single bytes: every byte, both exit 0",
      (rc_l, rc_c, got_l, got_c) == (0, 0, True, True), (rc_l, rc_c, got_l, got_c, err[-500:]))

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
            server.send(pattern(4, 1 << 20))
            rc = client.wait()
            err = client.err.text()
            check("a reset while receiving: status 1 and a message that says so",
                  rc == 1 and "Connection reset by peer" in err, (rc, err))
            check("what arrived before the reset is what was sent",
                  pattern(4, 1 << 20).startswith(bytes(client.out.data)) and
                  len(client.out.data) <= 100000, len(client.out.data))
done()
