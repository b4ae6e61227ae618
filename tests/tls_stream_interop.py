# SPDX-License-Identifier: MIT
"""TLS on csock's loop against real peers on loopback: a csock TLS server (the server framework,
loop and thread modes) against OpenSSL's s_client (TLS 1.2 and 1.3, with a TLS 1.3 key update
and a TLS 1.2 renegotiation, which is refused) and Python's ssl module (200 KB echoed, then
close_notify both ways), and a csock client stream against s_server and a Python ssl server.
Usage: tls_stream_interop.py PATH_TO_TLS_STREAM_PEER"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from checklib import Program, check, done, needs

PEER = sys.argv[1]
TIMEOUT = 30
needs("openssl", "openssl")
CERTS = tempfile.mkdtemp()
subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "tls_certs.sh"), CERTS], check=True)


def cert(name):
    return os.path.join(CERTS, name)


def server(*options):
    return Program([PEER, "server", cert("server.pem"), cert("server.key"), *options])


class Output:
    """Collects a process's output on a thread, so that a test can wait for a text in it."""

    def __init__(self, stream):
        self.text = ""
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self.read, args=(stream,), daemon=True)
        self.thread.start()

    def read(self, stream):
        for line in stream:
            with self.lock:
                self.text += line
                self.lock.notify_all()
        with self.lock:
            self.text += "\0"  # the end
            self.lock.notify_all()

    def wait_for(self, text, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        with self.lock:
            while text not in self.text and "\0" not in self.text:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            return text in self.text


def s_client(port, version):
    proc = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", cert("ca.pem"),
         "-servername", "localhost", "-verify_return_error", "-tls" + version.replace(".", "_")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, Output(proc.stdout)


def server_said(srv, text, timeout=TIMEOUT):
    """Reads the server's stdout lines until one starts with text."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = srv.proc.stdout.readline()
        if not line:
            return ""
        if line.startswith(text):
            return line.strip()
    return ""


# ---- s_client against the csock server ----

for version in ("1.2", "1.3"):
    with server("--max", version) as srv:
        proc, out = s_client(srv.port, version)
        proc.stdin.write("hello stream\n")
        proc.stdin.flush()
        check(f"s_client TLS {version}, csock server: echoed", out.wait_for("hello stream\n"),
              out.text[-300:])
        if version == "1.3":
            proc.stdin.write("K\n")  # a key update, asking for ours in return
            proc.stdin.flush()
            out.wait_for("KEYUPDATE")  # s_client takes one command a read: then the data
            proc.stdin.write("after key update\n")
            proc.stdin.flush()
            check("s_client TLS 1.3: a key update, then data both ways",
                  out.wait_for("after key update\n") and "KEYUPDATE" in out.text, out.text[-300:])
        else:
            proc.stdin.write("R\n")  # renegotiation: refused, without a stall or a spin
            proc.stdin.flush()
            out.wait_for("\0", 10)
            proc.kill()
        proc.stdin.close()
        proc.wait(TIMEOUT)
        said = server_said(srv, "closed")
        if version == "1.3":
            check("s_client TLS 1.3: its close_notify ends the stream cleanly", said == "closed 0",
                  said)
        else:
            check("s_client TLS 1.2: renegotiation is refused and the stream closes", said != "",
                  said)
            proc, out = s_client(srv.port, version)
            proc.stdin.write("still here\n")
            proc.stdin.flush()
            check("s_client TLS 1.2: the server goes on after the refusal",
                  out.wait_for("still here\n"), out.text[-300:])
            proc.kill()
            proc.wait(TIMEOUT)
        check(f"s_client TLS {version}: the server stops on SIGTERM", srv.stop() == 0)

# ---- Python's ssl against the csock server ----


def python_client(port, version, size):
    ctx = ssl.create_default_context(cafile=cert("ca.pem"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    data = bytes((i * 7 + i // 4096) % 251 for i in range(size))
    got = bytearray()
    # In steps (an SSL object is not for two threads at once): a piece up, its echo back.
    for at in range(0, size, 16384):
        piece = data[at:at + 16384]
        s.sendall(piece)
        want = len(got) + len(piece)
        while len(got) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            got.extend(chunk)
    version = s.version()
    plain = s.unwrap()  # close_notify, and the server's in return
    plain.close()
    return bytes(got) == data, version


for mode in ("loop", "threads"):
    for version in ("1.2", "1.3"):
        with server("--mode", mode) as srv:
            same, v = python_client(srv.port, version, 200 * 1000)
            check(f"Python ssl TLS {version}, csock server ({mode}): 200 KB echoed", same, v)
            check(f"Python ssl TLS {version}, csock server ({mode}): the version",
                  v == "TLSv" + version, v)
            said = server_said(srv, "closed")
            check(f"Python ssl TLS {version}, csock server ({mode}): close_notify both ways",
                  said == "closed 0", said)
            srv.stop()

# ---- the csock client stream against s_server and Python's ssl ----

for version in ("1.2", "1.3"):
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", "0", "-cert", cert("server.pem"), "-key",
         cert("server.key"), "-naccept", "1", "-www", "-tls" + version.replace(".", "_")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = 0
    for line in proc.stdout:
        if line.startswith("ACCEPT"):
            port = int(line.rsplit(":", 1)[1])
            break
    r = subprocess.run([PEER, "client", "localhost", str(port), cert("ca.pem"),
                        "GET / HTTP/1.0\r\n\r\n"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    check(f"csock client stream, s_server TLS {version}: a page and a clean end",
          r.returncode == 0 and r.stdout.startswith("HTTP/1.0 200 ok"),
          f"{r.returncode} {r.stdout[:80]!r} {r.stderr!r}")
    check(f"csock client stream, s_server TLS {version}: the version",
          f"tls TLSv{version}" in r.stderr, r.stderr)
    proc.kill()
    proc.wait(TIMEOUT)


def python_server(listener, version, result):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert("server.pem"), cert("server.key"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
    conn, _ = listener.accept()
    conn.settimeout(TIMEOUT)
    s = ctx.wrap_socket(conn, server_side=True)
    got = b""
    while True:
        chunk = s.recv(4096)  # b"" at the client's close_notify
        if not chunk:
            break
        got += chunk
    result.append(got)
    s.sendall(b"pong after your end")
    s.unwrap().close()


for version in ("1.2", "1.3"):
    listener = socket.create_server(("127.0.0.1", 0))
    result = []
    t = threading.Thread(target=python_server, args=(listener, version, result))
    t.start()
    r = subprocess.run([PEER, "client", "localhost", str(listener.getsockname()[1]),
                        cert("ca.pem"), "ping"], capture_output=True, text=True, timeout=TIMEOUT)
    t.join(TIMEOUT)
    listener.close()
    check(f"csock client stream, Python ssl server TLS {version}: half-close, then the answer",
          r.returncode == 0 and r.stdout == "pong after your end" and result == [b"ping"],
          f"{r.returncode} {r.stdout!r} {r.stderr!r} {result!r}")

subprocess.run(["rm", "-rf", CERTS])
done()
