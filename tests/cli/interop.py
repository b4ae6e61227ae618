# SPDX-License-Identifier: MIT
"""csock against the tools people use today, both ways round: OpenBSD netcat (TCP and UDP) and
socat (TCP and Unix sockets). Each side's bytes are compared exactly. Usage: interop.py CSOCK"""
import os
import re
import shutil
import subprocess
import tempfile

from clilib import Csock, Drain, TIMEOUT, check, done

if not shutil.which("nc") or not shutil.which("socat"):
    print("SKIP: needs nc (netcat-openbsd) and socat")
    raise SystemExit(77)


class Peer:
    """A netcat or socat in the background whose stderr names its port (matched by pattern)."""

    def __init__(self, args, pattern=None):
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.port = None
        while pattern:  # the line that says it is ready (with its port, if pattern has a group)
            line = self.proc.stderr.readline().decode()
            if not line:
                break
            if m := re.search(pattern, line):
                self.port = int(m.group(1)) if m.groups() else None
                break
        self.out = Drain(self.proc.stdout)
        self.err = Drain(self.proc.stderr)

    def finish(self, data=None):
        if data is not None:
            self.proc.stdin.write(data)
        self.proc.stdin.close()
        rc = self.proc.wait(TIMEOUT)
        self.out.join(TIMEOUT)
        return rc


def both_ways(name, peer_listens, peer_args, csock_args):
    """The peer sends its line first; once csock has it, csock sends its own and ends its input,
    which half-closes the connection; the peer then reads end of file and exits, and csock
    exits when the peer closes. (nc exits as soon as the network side ends, so it must have
    sent its part before then.) peer_args and csock_args are lists, or functions of the other
    side's port."""
    a, b = b"from csock\x00\xff\n", b"from the peer\x01\xfe\n"
    if peer_listens:
        p = Peer(*peer_args)
        c = Csock(csock_args(p.port), listening=False)
    else:
        c = Csock(csock_args)
        p = Peer(peer_args(getattr(c, "port", None)))
    with c:
        p.proc.stdin.write(b)
        p.proc.stdin.flush()
        c.out.wait_for(b)
        c.send(a)
        c.close_stdin()
        p.out.wait_for(a)
        rc_peer = p.finish()
        rc = c.wait()
        check(name, rc == 0 and bytes(c.out.data) == b and bytes(p.out.data) == a,
              (rc, rc_peer, c.out.data, p.out.data, c.err.text(), p.err.text()))


both_ways("csock listen, OpenBSD nc connects", False,
          lambda port: ["nc", "127.0.0.1", str(port)], ["-v", "listen", "127.0.0.1:0"])
both_ways("OpenBSD nc -l, csock connects", True,
          (["nc", "-lv", "127.0.0.1", "0"], r"Listening on \S+ (\d+)"),
          lambda port: ["connect", f"127.0.0.1:{port}"])
both_ways("csock listen, socat connects", False,
          lambda port: ["socat", "-", f"TCP:127.0.0.1:{port}"], ["-v", "listen", "127.0.0.1:0"])
both_ways("socat listens, csock connects", True,
          (["socat", "-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1", "-"],
           r"listening on AF=2 127\.0\.0\.1:(\d+)"),
          lambda port: ["connect", f"127.0.0.1:{port}"])
both_ways("csock listen -6, socat connects over IPv6", False,
          lambda port: ["socat", "-", f"TCP6:[::1]:{port}"], ["-v", "listen", "[::1]:0"])

tmp = tempfile.mkdtemp(prefix="csock-interop-")
path = os.path.join(tmp, "s.sock")
both_ways("csock listen unix, socat connects", False,
          lambda port: ["socat", "-", f"UNIX-CONNECT:{path}"], ["-v", "listen", f"unix:{path}"])
p = Peer(["socat", "-d", "-d", f"UNIX-LISTEN:{path}", "-"], "listening on")
with Csock(["connect", f"unix:{path}"], listening=False) as c:
    c.send(b"over unix")
    c.close_stdin()
    p.finish(b"back over unix")
    check("socat listens on unix, csock connects", c.wait() == 0
          and bytes(c.out.data) == b"back over unix" and bytes(p.out.data) == b"over unix",
          (c.out.data, p.out.data, c.err.text()))

# UDP: a datagram each way.
p = Peer(["nc", "-u", "-lv", "127.0.0.1", "0"], r"Bound on \S+ (\d+)")
with Csock(["-u", "connect", f"127.0.0.1:{p.port}"], listening=False) as c:
    c.send(b"udp to nc\n")
    p.out.wait_for(b"udp to nc\n")
    p.proc.stdin.write(b"udp from nc\n")
    p.proc.stdin.flush()
    got = c.out.wait_for(b"udp from nc\n")
    check("OpenBSD nc -u -l, csock connect -u: a datagram each way",
          got and bytes(p.out.data) == b"udp to nc\n", (c.out.data, p.out.data))
    c.signal()
p.proc.kill()
p.finish()
with Csock(["-v", "-u", "listen", "127.0.0.1:0"]) as l:
    p = Peer(["nc", "-u", "127.0.0.1", str(l.port)])
    p.proc.stdin.write(b"udp from nc\n")
    p.proc.stdin.flush()
    l.out.wait_for(b"udp from nc\n")
    l.send(b"udp to nc\n")
    got = p.out.wait_for(b"udp to nc\n")
    check("csock listen -u, OpenBSD nc -u: a datagram each way",
          got and bytes(l.out.data) == b"udp from nc\n", (l.out.data, p.out.data))
    p.proc.kill()
    p.finish()
    l.signal()
done()
