# SPDX-License-Identifier: MIT
"""csock --tls against Python's ssl module (and openssl s_client where it is installed), with the
certificates tests/tls_certs.sh makes: data both ways, verification failures, --insecure, -v."""
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from clilib import CSOCK, TIMEOUT, Csock, check, done, run

HERE = os.path.dirname(os.path.abspath(__file__))
CERTS = tempfile.mkdtemp(prefix="csock-cli-tls-")
subprocess.run(["sh", os.path.join(HERE, "..", "tls_certs.sh"), CERTS], check=True)


def cert(name):
    return os.path.join(CERTS, name)


class Server(threading.Thread):
    """A Python ssl server on loopback: sends `reply`, reads to the end (close_notify) and keeps
    what came, or the handshake's error."""

    def __init__(self, name, reply=b"", alpn=None):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert(name + ".pem"), cert(name + ".key"))
        if alpn:
            self.ctx.set_alpn_protocols(alpn)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.reply, self.got, self.error = reply, b"", None
        self.start()

    def run(self):
        try:
            c, _ = self.listener.accept()
            c.settimeout(TIMEOUT)
            s = self.ctx.wrap_socket(c, server_side=True)
            s.sendall(self.reply)
            while True:
                d = s.recv(65536)
                if not d:
                    break
                self.got += d
            s.unwrap()
            s.close()
        except (OSError, ssl.SSLError) as e:
            self.error = e
        finally:
            self.listener.close()


# -w bounds a client's handshake also beyond the 10 s a handshake has without it (started now,
# checked at the end: it takes that long).
slow_mute = socket.create_server(("127.0.0.1", 0))
slow_started = time.monotonic()
slow = subprocess.Popen([CSOCK, "-w", "10.3", "--tls", "--ca", cert("ca.pem"), "connect",
                         "localhost:%d" % slow_mute.getsockname()[1]], stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

big = os.urandom(1 << 20)
srv = Server("server", reply=big[::-1])
r = run(["--tls", "--ca", cert("ca.pem"), "-v", "connect", "localhost:%d" % srv.port], big)
srv.join(TIMEOUT)
check("connect --tls: 1 MiB each way, verified against --ca",
      r.returncode == 0 and hashlib.sha256(r.stdout).digest() == hashlib.sha256(big[::-1]).digest()
      and hashlib.sha256(srv.got).digest() == hashlib.sha256(big).digest(),
      (r.returncode, len(r.stdout), len(srv.got), r.stderr[-300:]))
check("connect --tls -v: version, cipher and the peer's subject",
      b"TLSv1.3, TLS_" in r.stderr and b"peer certificate O=csock test,CN=localhost" in r.stderr, r.stderr)
check("connect --tls -v: how the session ended, as for a plain one",
      b": closing the connection after 1.0 MiB sent, 1.0 MiB received\n" in r.stderr, r.stderr)

for name, ca, why in [("server", None, b"unable to get local issuer certificate"),
                      ("expired", cert("ca.pem"), b"certificate has expired"),
                      ("wronghost", cert("ca.pem"), b"hostname mismatch")]:
    srv = Server(name)
    args = ["--tls"] + (["--ca", ca] if ca else []) + ["connect", "localhost:%d" % srv.port]
    r = run(args, b"never sent")
    srv.join(TIMEOUT)
    check("connect --tls: %s refused (%s), said once, naming where" % (name, why.decode()),
          r.returncode == 1 and srv.got == b"" and
          r.stderr.startswith(b"csock: verify localhost:%d: %s" % (srv.port, why)) and
          r.stderr.count(b"\n") == 1, (r.returncode, r.stderr))

# The handshake is part of connecting: within -w, not the 10 s a handshake may take otherwise.
mute = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's queue) and never answers
started = time.monotonic()
r = run(["-w", "0.5", "--tls", "--ca", cert("ca.pem"), "connect",
         "localhost:%d" % mute.getsockname()[1]], b"never sent")
took = time.monotonic() - started
check("connect --tls -w 0.5: a server that never answers the handshake times out within -w",
      r.returncode == 3 and took < 5 and b"timed out" in r.stderr, (r.returncode, took, r.stderr))
mute.close()



class OneShot(threading.Thread):
    """A Python ssl server of one connection that asks for a client certificate (require), or
    that ends without close_notify once the handshake is done (rude)."""

    def __init__(self, require=False):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert("server.pem"), cert("server.key"))
        if require:
            self.ctx.load_verify_locations(cert("ca.pem"))
            self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.start()

    def run(self):
        try:
            c, _ = self.listener.accept()
            c.settimeout(TIMEOUT)
            s = self.ctx.wrap_socket(c, server_side=True, do_handshake_on_connect=False)
            try:
                s.do_handshake()
            except (OSError, ssl.SSLError):
                pass  # the refused client has its alert
            # The end without close_notify; what the client sends is read to its end, so that no
            # reset overtakes the alert or the end.
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
            s.close()
        finally:
            self.listener.close()


# A server that wants a client certificate: the reason is said, not only "TLS error".
srv = OneShot(require=True)
r = run(["-v", "--tls", "--ca", cert("ca.pem"), "connect", "localhost:%d" % srv.port], b"hi")
srv.join(TIMEOUT)
check("connect --tls: a server that requires a certificate: its alert is the reason said",
      r.returncode == 1 and b"certificate required" in r.stderr and
      b"ended: failed: tlsv13 alert certificate required" in r.stderr, (r.returncode, r.stderr))

# A server that ends without close_notify: the tool's own close_notify is no input lost.
srv = OneShot()
r = run(["--tls", "--ca", cert("ca.pem"), "-d", "connect", "localhost:%d" % srv.port])
srv.join(TIMEOUT)
check("connect --tls -d: a peer ending without close_notify loses none of an empty input",
      r.returncode == 1 and b"close_notify" in r.stderr and b"not taken" not in r.stderr,
      (r.returncode, r.stderr))

srv = Server("server", reply=b"by name")
r = run(["--tls", "--ca", cert("ca.pem"), "--sni", "localhost", "connect",
         "127.0.0.1:%d" % srv.port])
srv.join(TIMEOUT)
check("connect --tls --sni: the name checked is --sni's", r.returncode == 0 and r.stdout ==
      b"by name", (r.returncode, r.stderr))

srv = Server("server", reply=b"agreed", alpn=["h2", "http/1.1"])
r = run(["--tls", "--ca", cert("ca.pem"), "--alpn", "imap,http/1.1", "-v", "connect",
         "localhost:%d" % srv.port])
srv.join(TIMEOUT)
check("connect --tls --alpn -v: the protocol agreed on is said",
      r.returncode == 0 and r.stdout == b"agreed" and b", ALPN http/1.1, peer certificate" in r.stderr,
      (r.returncode, r.stderr))

srv = Server("self", reply=b"self-signed")
r = run(["--tls", "--insecure", "connect", "127.0.0.1:%d" % srv.port], b"hi")
srv.join(TIMEOUT)
check("connect --tls --insecure: a self-signed server is taken",
      r.returncode == 0 and r.stdout == b"self-signed" and srv.got == b"hi", (r.returncode, r.stderr))

# listen --tls, a Python ssl client.
with Csock(["-v", "--tls", "--cert", cert("server.pem"), "--key", cert("server.key"), "listen",
            "127.0.0.1:0"]) as l:
    l.send(b"from the listener")
    l.close_stdin()
    ctx = ssl.create_default_context(cafile=cert("ca.pem"))
    with socket.create_connection(("127.0.0.1", l.port), timeout=TIMEOUT) as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(big)
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.unwrap()
    rc = l.wait()
    check("listen --tls: a verifying Python client, 1 MiB in, the listener's input out",
          rc == 0 and got == b"from the listener" and
          hashlib.sha256(bytes(l.out.data)).digest() == hashlib.sha256(big).digest(),
          (rc, got, l.err.text()))
    check("listen --tls -v: the handshake said, and that the client gave no certificate",
          "TLSv1.3, TLS_" in l.err.text() and "peer certificate (none)\n" in l.err.text(),
          l.err.text())

if shutil.which("openssl"):
    with Csock(["--tls", "--cert", cert("server.pem"), "--key", cert("server.key"), "-v",
                "listen", "127.0.0.1:0"]) as l:
        l.send(b"to s_client\n")
        l.close_stdin()
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % l.port,
                            "-CAfile", cert("ca.pem"), "-verify_return_error", "-quiet"],
                           input=b"", capture_output=True, timeout=TIMEOUT)
        l.wait()
        check("openssl s_client against listen --tls: verified, data received",
              b"to s_client" in p.stdout, (p.returncode, p.stdout, p.stderr[-300:]))

def tls_client(port, payload, ca=cert("ca.pem"), name="localhost"):
    """A verifying Python ssl client of an echo: sends payload in steps of 64 KiB, reading each
    back before the next (on one thread: an SSL object is not for two threads at once), then
    shuts down with close_notify; returns what came back, or the error."""
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            s = ctx.wrap_socket(raw, server_hostname=name)
            got = b""
            for at in range(0, len(payload), 65536):
                piece = payload[at:at + 65536]
                s.sendall(piece)
                want = len(got) + len(piece)
                while len(got) < want:
                    d = s.recv(65536)
                    if not d:
                        return got
                    got += d
            s.unwrap()
            return got
    except (OSError, ssl.SSLError) as e:
        return e


class PlainEcho(threading.Thread):
    """A plain echo server for one client, on loopback."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.start()

    def run(self):
        try:
            c, _ = self.listener.accept()
            with c:
                c.settimeout(TIMEOUT)
                for d in iter(lambda: c.recv(65536), b""):
                    c.sendall(d)
        except OSError:
            pass
        finally:
            self.listener.close()


# serve --tls: a verifying Python client, a megabyte echoed.
with Csock(["-v", "--tls", "--cert", cert("server.pem"), "--key", cert("server.key"), "serve",
            "echo", "127.0.0.1:0"]) as l:
    got = tls_client(l.port, big)
    check("serve --tls echo: 1 MiB back, verified by a Python client",
          isinstance(got, bytes) and hashlib.sha256(got).digest() == hashlib.sha256(big).digest(),
          (got if not isinstance(got, bytes) else len(got), l.err.text()[-300:]))
    l.err.wait_for(b"peer certificate")
    check("serve --tls -v: the handshake said", "TLSv1.3, TLS_" in l.err.text(), l.err.text())
    got = tls_client(l.port, b"x", ca=cert("other-ca.pem"))
    check("serve --tls: a client that does not trust the certificate is refused, and said",
          isinstance(got, ssl.SSLError) and l.err.wait_for(b"alert"), (got, l.err.text()))

# forward --tls: TLS clients, a plain target.
target = PlainEcho()
with Csock(["-v", "--tls", "--cert", cert("server.pem"), "--key", cert("server.key"), "forward",
            "127.0.0.1:0", "127.0.0.1:%d" % target.port]) as f:
    got = tls_client(f.port, big)
    check("forward --tls: a TLS client's megabyte reaches a plain target and comes back",
          isinstance(got, bytes) and hashlib.sha256(got).digest() == hashlib.sha256(big).digest(),
          (got if not isinstance(got, bytes) else len(got), f.err.text()[-300:]))
    check("forward --tls -v: the client's handshake said", f.err.wait_for(b"TLSv1.3, TLS_"),
          f.err.text())

# forward --target-tls: plain clients, a TLS target verified against --ca.
for name, why in [("server", None), ("expired", b"certificate has expired")]:
    srv = Server(name, reply=b"from the TLS target")
    with Csock(["-v", "--target-tls", "--ca", cert("ca.pem"), "forward", "127.0.0.1:0",
                "localhost:%d" % srv.port]) as f:
        with socket.create_connection(("127.0.0.1", f.port), timeout=TIMEOUT) as c:
            if why is None:
                c.sendall(b"to the TLS target")
                c.shutdown(socket.SHUT_WR)
            got = b"".join(iter(lambda: c.recv(65536), b""))
        srv.join(TIMEOUT)
        if why is None:
            check("forward --target-tls: a plain client reaches a verified TLS target, both ways",
                  got == b"from the TLS target" and srv.got == b"to the TLS target",
                  (got, srv.got, srv.error, f.err.text()))
            # Said before the data flowed, but read from the pipe by another thread: waited for.
            check("forward --target-tls -v: the target's handshake said",
                  f.err.wait_for(b"localhost:%d: TLSv1.3" % srv.port), f.err.text())
        else:
            check("forward --target-tls: an expired target is refused with its reason, the "
                  "client closed", got == b"" and f.err.wait_for(why), (got, f.err.text()))

for args, why in [(["--cert", cert("server.pem"), "--key", cert("server.key"), "forward", ":0",
                    "127.0.0.1:1"], b"--cert needs --tls (it is the listening side's)"),
                  (["--ca", cert("ca.pem"), "--tls", "--cert", cert("server.pem"), "--key",
                    cert("server.key"), "forward", ":0", "127.0.0.1:1"],
                   b"--ca needs --target-tls (it is for the target)"),
                  (["--tls", "forward", ":0", "127.0.0.1:1"], b"forward --tls needs --cert FILE"),
                  (["--target-tls", "forward", ":0", "unix:/nonexistent.sock"],
                   b"needs --sni NAME"),
                  (["--tls", "serve", "echo", ":0"], b"serve --tls needs --cert FILE"),
                  (["--target-tls", "connect", "127.0.0.1:1"], b"--target-tls does not apply")]:
    r = run(args)
    check("refused with exit 2: %s" % why.decode(), r.returncode == 2 and why in r.stderr,
          r.stderr)


r = run(["--tls", "listen", ":0"])
check("listen --tls without --cert/--key: exit 2, said",
      r.returncode == 2 and b"needs --cert FILE and --key FILE" in r.stderr, r.stderr)
r = run(["--insecure", "connect", "127.0.0.1:1"])
check("--insecure without --tls: exit 2", r.returncode == 2 and b"needs --tls" in r.stderr,
      r.stderr)
r = run(["--tls", "-u", "connect", "127.0.0.1:1"])
check("--tls -u: exit 2", r.returncode == 2, r.stderr)

slow_err = slow.communicate(timeout=TIMEOUT)[1]
slow_took = time.monotonic() - slow_started
slow_mute.close()
check("connect --tls -w 10.3: the handshake has the 10.3 s of -w (not the context's 10, nor until "
      "the next second)",
      slow.returncode == 3 and 10.25 < slow_took < 10.85 and b"timed out" in slow_err,
      (slow.returncode, slow_took, slow_err))

shutil.rmtree(CERTS)
done()
