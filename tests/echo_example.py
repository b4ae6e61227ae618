# SPDX-License-Identifier: MIT
"""The echo-server example against Python clients: many at once, each checking its own bytes,
over IPv4 and IPv6, with one and with two loops; SIGTERM ends it with status 0; with --tls,
verifying Python ssl clients.
Usage: echo_example.py BUILD_DIR"""
import os
import selectors
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

from checklib import Program, check, done

SERVER = os.path.join(sys.argv[1], "examples/echo/echo-server")
TIMEOUT = 30


def pattern(i, n):
    return bytes((i * 7 + k * 13) & 0xFF for k in range(n))


def clients_echo(host, port, count, size):
    """count clients send size bytes each at once, through one selector; True if every client
    got exactly its own bytes back."""
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(count):
        c = socket.create_connection((host, port), timeout=TIMEOUT)
        c.setblocking(False)
        state[c] = [pattern(i, size), 0, bytearray()]
        sel.register(c, selectors.EVENT_READ | selectors.EVENT_WRITE)
    pending = count
    while pending:
        ready = sel.select(TIMEOUT)
        if not ready:
            return False
        for key, events in ready:
            c = key.fileobj
            want, sent, got = state[c]
            if events & selectors.EVENT_WRITE:
                sent += c.send(want[sent:sent + 65536])
                state[c][1] = sent
                if sent == len(want):
                    sel.modify(c, selectors.EVENT_READ)
            if events & selectors.EVENT_READ:
                chunk = c.recv(65536)
                if not chunk:
                    return False
                got += chunk
                if len(got) >= len(want):
                    if bytes(got) != want:
                        return False
                    sel.unregister(c)
                    c.close()
                    pending -= 1
    return True


def run(address, host, loops, count, size):
    args = [SERVER, address] + ([str(loops)] if loops > 1 else [])
    with Program(args) as p:
        ok = clients_echo(host, p.port, count, size)
        rc = p.stop()
        check(f"echo-server {address}, {loops} loop(s), {count} clients x {size} bytes",
              p.first.startswith("listening on ") and ok and rc == 0,
              f"{p.first!r} ok={ok} rc={rc} {p.stderr()}")


def tls_clients(certs, port, count, size):
    """count verifying TLS clients on threads, each sending size bytes and checking the echo;
    returns how many got exactly their own bytes back."""
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    good = []

    def client(i):
        want = pattern(i, size)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            sender = threading.Thread(target=s.sendall, args=(want,), daemon=True)
            sender.start()
            got = b""
            while len(got) < size:
                d = s.recv(65536)
                if not d:
                    break
                got += d
            sender.join(TIMEOUT)
            if got == want:
                good.append(i)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    return len(good)


def tls():
    certs = tempfile.mkdtemp(prefix="csock-echo-tls-")
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        if subprocess.run(["sh", os.path.join(here, "tls_certs.sh"), certs],
                          capture_output=True).returncode != 0:
            print("note: no openssl to make certificates: echo-server --tls not tried")
            return
        pem, key = os.path.join(certs, "server.pem"), os.path.join(certs, "server.key")
        r = subprocess.run([SERVER, "--tls", pem, key, "nosuch:80"], capture_output=True,
                           text=True, timeout=TIMEOUT)
        if "built without TLS" in r.stderr:
            print("note: csock is built without TLS: echo-server --tls not tried")
            return
        for loops in (1, 2):
            args = [SERVER, "--tls", pem, key, "127.0.0.1:0"] + ([str(loops)] if loops > 1 else [])
            with Program(args) as p:
                good = tls_clients(certs, p.port, 20, 50000)
                rc = p.stop()
                check(f"echo-server --tls, {loops} loop(s): 20 verifying TLS clients x 50000 bytes",
                      good == 20 and rc == 0, f"good={good} rc={rc} {p.stderr()}")
        r = subprocess.run([SERVER, "--tls", os.path.join(certs, "none.pem"), key, "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        check("echo-server --tls with a missing certificate: says so, status 1",
              r.returncode == 1 and "none.pem" in r.stderr, r.stderr)
    finally:
        shutil.rmtree(certs)


def usage_errors():
    r = subprocess.run([SERVER], capture_output=True, text=True, timeout=TIMEOUT)
    check("no address: usage, status 2", r.returncode == 2 and "usage" in r.stderr, r.stderr)
    r = subprocess.run([SERVER, "nosuch:80"], capture_output=True, text=True, timeout=TIMEOUT)
    check("bad address: says so, status 1", r.returncode == 1 and "nosuch:80" in r.stderr,
          r.stderr)


def main():
    run("127.0.0.1:0", "127.0.0.1", 1, 200, 20000)
    run("[::1]:0", "::1", 1, 50, 100000)
    run("127.0.0.1:0", "127.0.0.1", 2, 200, 20000)
    tls()
    usage_errors()
    done()


if __name__ == "__main__":
    main()
