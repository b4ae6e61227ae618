# SPDX-License-Identifier: MIT
"""The HTTP example driven by real clients: curl (two requests over one kept-alive connection), wrk,
Python's http.client (keep-alive, a request with a body, Connection: close), pipelined requests
on a raw socket, HTTP/1.0, a bad request, a bad Content-Length and a header too large; and
HTTPS (--tls) with curl and Python's ssl against a test CA.
Usage: http_example.py BUILD_DIR"""
import http.client
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile

from checklib import Program, check, done, needs

SERVER = os.path.join(sys.argv[1], "examples/http/hello-server")
TIMEOUT = 30
HELLO = b"Hello, world\n"


def raw_exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        return got


def main():
    needs("curl", "curl")
    needs("wrk", "wrk")
    with Program([SERVER, "127.0.0.1:0"]) as p:
        port = p.port
        url = f"http://127.0.0.1:{port}"
        r = subprocess.run(["curl", "-sS", "-v", f"{url}/", f"{url}/again"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        check("curl: two requests, one connection",
              r.returncode == 0 and r.stdout == "Hello, world\nHello, world\n" and
              "Re-using existing connection" in r.stderr, r.stderr[-800:])

        r = subprocess.run(["wrk", "-t1", "-c20", "-d1s", f"{url}/"], capture_output=True,
                           text=True, timeout=TIMEOUT)
        done_requests = re.search(r"(\d+) requests in", r.stdout)
        check("wrk: 20 kept-alive connections for a second, no errors",
              r.returncode == 0 and done_requests and int(done_requests.group(1)) > 0 and
              "Non-2xx" not in r.stdout and "Socket errors" not in r.stdout, r.stdout)

        c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        bodies = []
        for path in ("/", "/a", "/b"):
            c.request("GET", path)
            resp = c.getresponse()
            bodies.append((resp.status, resp.read()))
        c.request("POST", "/form", body=b"x" * 20000)
        resp = c.getresponse()
        bodies.append((resp.status, resp.read()))
        check("http.client: keep-alive and a request body",
              bodies == [(200, HELLO)] * 4 and c.sock is not None)
        c.request("GET", "/", headers={"Connection": "close"})
        resp = c.getresponse()
        check("Connection: close is honoured", resp.read() == HELLO and resp.will_close)
        c.close()

        got = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        check("three pipelined requests, three answers", got.count(HELLO) == 3, got[:200])
        got = raw_exchange(port, b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n")
        check("HTTP/1.0: one answer, then close", got.count(HELLO) == 1, got[:200])
        got = raw_exchange(port, b"NONSENSE\r\n\r\n")
        check("a bad request line: 400", got.startswith(b"HTTP/1.1 400 "), got[:200])
        got = raw_exchange(port, b"GET / HTTP/1.1\r\nX: " + b"y" * 9000 + b"\r\n\r\n")
        check("a header over 8 KiB: 431", got.startswith(b"HTTP/1.1 431 "), got[:200])
        # A Content-Length that is not a number is refused, not read as another body size (the
        # server would then take the next request for a body, or skip bytes forever).
        for length in (b"5T", b"-1", b"", b"1 2", b"99999999999999999999999"):
            got = raw_exchange(port, b"POST / HTTP/1.1\r\nContent-Length: " + length +
                               b"\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n")
            check(f"Content-Length: {length.decode()!r}: 400",
                  got.startswith(b"HTTP/1.1 400 ") and HELLO not in got, got[:200])
        rc = p.stop()
        check("SIGTERM: status 0", rc == 0, p.stderr())
    https()
    done()


def https():
    """hello-server --tls: curl and Python's ssl verify it against the test CA."""
    probe = subprocess.run([SERVER, "--tls", "/nonexistent.pem", "/nonexistent.key", "x"],
                           capture_output=True, text=True, timeout=TIMEOUT)
    if "built without TLS" in probe.stderr:
        print("skip HTTPS: csock was built without TLS")
        return
    check("--tls with a missing certificate: exit 1, the file named",
          probe.returncode == 1 and "/nonexistent.pem" in probe.stderr, probe.stderr)
    with tempfile.TemporaryDirectory() as certs:
        subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "tls_certs.sh"), certs],
                       check=True)
        cert, key = os.path.join(certs, "server.pem"), os.path.join(certs, "server.key")
        ca = os.path.join(certs, "ca.pem")
        with Program([SERVER, "--tls", cert, key, "127.0.0.1:0"]) as p:
            url = f"https://localhost:{p.port}"
            resolve = f"localhost:{p.port}:127.0.0.1"  # no lookup of localhost
            r = subprocess.run(["curl", "-sS", "-v", "--cacert", ca, "--resolve", resolve,
                                f"{url}/", f"{url}/again"],
                               capture_output=True, text=True, timeout=TIMEOUT)
            check("curl over HTTPS: verified, two requests, one connection, ALPN http/1.1",
                  r.returncode == 0 and r.stdout == "Hello, world\nHello, world\n" and
                  "Re-using existing connection" in r.stderr and
                  "ALPN: server accepted http/1.1" in r.stderr, r.stderr[-1500:])
            # Trusting another CA, not the system's: a machine may have no CA bundle at all
            # (ca-certificates is only recommended), and curl then fails before it connects.
            other_ca = os.path.join(certs, "other-ca.pem")
            r = subprocess.run(["curl", "-sS", "--cacert", other_ca, "--resolve", resolve,
                                f"{url}/"], capture_output=True, text=True, timeout=TIMEOUT)
            check("curl trusting another CA: refused (exit 60, the certificate)",
                  r.returncode == 60, (r.returncode, r.stderr))
            ctx = ssl.create_default_context(cafile=ca)
            with socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                    got = b""
                    while chunk := s.recv(65536):
                        got += chunk
            check("Python's ssl: an answer, then close_notify", got.endswith(HELLO), got[:200])
            with socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT) as raw:
                raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
                raw.settimeout(TIMEOUT)
                try:
                    got = raw.recv(100)
                except ConnectionResetError:
                    got = b""
            check("plain HTTP to the HTTPS port: no answer in plain text",
                  HELLO not in got, got[:200])
            rc = p.stop()
            check("HTTPS: SIGTERM, status 0", rc == 0, p.stderr())


if __name__ == "__main__":
    main()
