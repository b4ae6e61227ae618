# SPDX-License-Identifier: MIT
"""csock's TLS against real peers on loopback: OpenSSL's s_server and s_client (TLS 1.2 and 1.3)
and Python's ssl module, each way, with certificates tests/tls_certs.sh makes at run time:
data, versions, ALPN, client certificates required, session resumption, and refusals with their
reasons. Usage: tls_interop.py PATH_TO_TLS_PEER"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

from checklib import check, done, needs

PEER = sys.argv[1]
TIMEOUT = 30
needs("openssl", "openssl")
CERTS = tempfile.mkdtemp()
subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "tls_certs.sh"), CERTS], check=True)


def cert(name):
    return os.path.join(CERTS, name)


def client(port, message, *options):
    """Runs the csock client against localhost:port; returns (exit status, stdout, stderr)."""
    r = subprocess.run([PEER, "client", "localhost", str(port), cert("ca.pem"), message, *options],
                       capture_output=True, text=True, timeout=TIMEOUT)
    return r.returncode, r.stdout, r.stderr


class SServer:
    """openssl s_server on a free port, answering one connection (-www: a status page)."""

    def __init__(self, *options, name="server"):
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", "0", "-cert", cert(name + ".pem"), "-key",
             cert(name + ".key"), "-naccept", "1", "-www", *options],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.port = 0
        for line in self.proc.stdout:  # "ACCEPT [::]:PORT" once it listens
            if line.startswith("ACCEPT"):
                self.port = int(line.rsplit(":", 1)[1])
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait(TIMEOUT)


GET = "GET / HTTP/1.0\r\n\r\n"

for version in ("1.2", "1.3"):
    with SServer("-tls" + version.replace(".", "_")) as s:
        rc, out, err = client(s.port, GET)
        check(f"csock client, s_server TLS {version}: a page, and a clean end",
              rc == 0 and out.startswith("HTTP/1.0 200 ok"), f"{rc} {out[:80]!r} {err!r}")
        check(f"csock client, s_server TLS {version}: the version", f"tls TLSv{version} " in err,
              err)

with SServer("-alpn", "h2,http/1.1") as s:
    rc, out, err = client(s.port, GET, "--alpn", "http/1.1")
    check("csock client, s_server: ALPN agreed", rc == 0 and "alpn=http/1.1" in err, err)

for name, reason in (("expired", "certificate has expired"), ("self", "self-signed certificate"),
                     ("other", "unable to get local issuer certificate"),
                     ("wronghost", "hostname mismatch")):
    with SServer(name=name) as s:
        rc, out, err = client(s.port, GET)
        want = f"verify localhost:{s.port}: {reason}"
        check(f"csock client, s_server with the {name} certificate: refused", rc == 1 and want in err,
              err)

for version in ("1.2", "1.3"):
    with SServer("-Verify", "1", "-CAfile", cert("ca.pem"), "-tls" + version.replace(".", "_")) as s:
        rc, out, err = client(s.port, GET, "--cert", cert("client.pem"), "--key", cert("client.key"))
        check(f"csock client with a certificate, s_server -Verify, TLS {version}", rc == 0, err)
    with SServer("-Verify", "1", "-CAfile", cert("ca.pem"), "-tls" + version.replace(".", "_")) as s:
        rc, out, err = client(s.port, GET)
        check(f"csock client without a certificate, s_server -Verify, TLS {version}: refused",
              rc == 1 and "alert" in err, err)


class CsockServer:
    """The csock server on a free port: its first line is "listening on 127.0.0.1:PORT"."""

    def __init__(self, *options, name="server"):
        self.proc = subprocess.Popen(
            [PEER, "server", cert(name + ".pem"), cert(name + ".key"), *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().rsplit(":", 1)[1])

    def line(self):
        return self.proc.stdout.readline().strip()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait(TIMEOUT)


def s_client(port, data, *options):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                        cert("ca.pem"), "-verify_return_error", "-brief", "-ign_eof", *options],
                       input=data, capture_output=True, text=True, timeout=TIMEOUT)
    return r.returncode, r.stdout, r.stderr


for version in ("1.2", "1.3"):
    flag = "-tls" + version.replace(".", "_")
    with CsockServer(*"--count 2".split()) as s:
        sess = cert(f"session-{version}.pem")
        rc, out, err = s_client(s.port, "hello\n", flag, "-servername", "localhost", "-sess_out",
                                sess)
        line = s.line()
        check(f"s_client, csock server TLS {version}: echoed", rc == 0 and out == "hello\n",
              f"{rc} {out!r} {err!r}")
        check(f"s_client, csock server TLS {version}: version and SNI",
              line.startswith(f"tls TLSv{version} ") and "reused=0 sni=localhost" in line, line)
        rc, out, err = s_client(s.port, "again\n", flag, "-sess_in", sess)
        line = s.line()
        check(f"s_client, csock server TLS {version}: the session resumed",
              rc == 0 and out == "again\n" and "reused=1" in line, f"{line} {err!r}")

with CsockServer("--ca", cert("ca.pem"), "--require", "--count", "2") as s:
    rc, out, err = s_client(s.port, "me\n", "-cert", cert("client.pem"), "-key", cert("client.key"))
    line = s.line()
    check("s_client with a certificate, csock server that requires one",
          rc == 0 and out == "me\n" and "subject=O=csock test,CN=client" in line, f"{line} {err!r}")
    s_client(s.port, "me\n")
    line = s.line()
    check("s_client without a certificate, csock server that requires one: refused",
          line.startswith("error verify 127.0.0.1:") and
          line.endswith(": peer did not return a certificate"), line)

# Python's ssl module, each way.


def python_server(context):
    """A Python TLS echo server for one connection: echoes until the client's close_notify, then
    sends its own (unwrap). Returns (port, thread, result dict)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    result = {}

    def serve():
        with listener:
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    result["version"] = tls.version()
                    while data := tls.recv(65536):
                        tls.sendall(data)
                    tls.unwrap()
            except (ssl.SSLError, OSError) as e:
                result["error"] = str(e)

    t = threading.Thread(target=serve)
    t.start()
    return listener.getsockname()[1], t, result


for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert("server.pem"), cert("server.key"))
    ctx.maximum_version = maximum
    port, t, result = python_server(ctx)
    message = "x" * 100000
    rc, out, err = client(port, message)
    t.join(TIMEOUT)
    check(f"csock client, Python ssl server {maximum.name}: 100000 bytes echoed, clean ends",
          rc == 0 and out == message and "error" not in result, f"{rc} {err!r} {result}")
    check(f"csock client, Python ssl server {maximum.name}: the version",
          result.get("version", "").replace("v", "") in err.replace("v", ""), f"{result} {err!r}")



def python_counter(context):
    """A Python TLS server for one connection that reads everything, counting, until the end.
    Returns (port, thread, result dict)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    result = {"bytes": 0}

    def serve():
        with listener:
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    while data := tls.recv(65536):
                        result["bytes"] += len(data)
            except (ssl.SSLError, OSError) as e:
                result["error"] = str(e)

    t = threading.Thread(target=serve)
    t.start()
    return listener.getsockname()[1], t, result


# A TLS 1.3 server's session tickets sit unread in a client that only sends: its close must not
# reset the connection before the server has read everything.
BULK = 4 << 20
for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert("server.pem"), cert("server.key"))
    ctx.maximum_version = maximum
    outcomes = []
    for _ in range(5):
        port, t, result = python_counter(ctx)
        rc, out, err = client(port, "-", "--bulk", str(BULK))
        t.join(TIMEOUT)
        outcomes.append((rc, result))
    check(f"csock client sends {BULK} bytes and closes, Python ssl server {maximum.name}: all came",
          all(rc == 0 and r == {"bytes": BULK} for rc, r in outcomes), outcomes)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert("expired.pem"), cert("expired.key"))
port, t, result = python_server(ctx)
rc, out, err = client(port, "x")
t.join(TIMEOUT)
check("csock client, Python ssl server with an expired certificate: refused",
      rc == 1 and f"verify localhost:{port}: certificate has expired" in err, err)


def python_client(port, data, cafile="ca.pem", close_notify=True):
    ctx = ssl.create_default_context(cafile=cert(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(data)
        if not close_notify:
            tls.shutdown(socket.SHUT_WR)  # Python's shutdown sends no close_notify
            while tls.recv(65536):  # the plain socket now: to the server's end
                pass
            return b""
        got = b""
        while chunk := tls.recv(65536):
            got += chunk
        return got


with CsockServer("--count", "3") as s:
    got = python_client(s.port, b"py\n")
    line = s.line()
    check("Python ssl client, csock server: echoed, and the csock server's close_notify",
          got == b"py\n" and line.startswith("tls TLSv1.3 ") and "sni=localhost" in line,
          f"{got!r} {line}")
    try:
        python_client(s.port, b"py\n", cafile="other-ca.pem")
        check("Python ssl client refuses a certificate of a CA it does not know", False)
    except ssl.SSLCertVerificationError as e:
        check("Python ssl client refuses a certificate of a CA it does not know", True, str(e))
    line = s.line()
    check("the csock server names the alert that refused it",
          line.startswith("error tls handshake 127.0.0.1:") and "alert unknown ca" in line, line)
    python_client(s.port, b"cut", close_notify=False)
    s.line()  # the connection's "tls ..." line
    line = s.line()
    check("Python ssl client ends without close_notify: the csock server says so",
          line.startswith("error recv 127.0.0.1:") and
          line.endswith(": the peer ended without close_notify (what it sent may be cut short)"),
          line)

subprocess.run(["rm", "-rf", CERTS])
done()
