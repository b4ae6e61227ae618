# SPDX-License-Identifier: MIT
"""The echo-server example against Python clients: many at once, each checking its own bytes,
over IPv4 and IPv6, with one and with two loops; SIGTERM ends it with status 0.
Usage: echo_example.py BUILD_DIR"""
import os
import selectors
import socket
import subprocess
import sys

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
    usage_errors()
    done()


if __name__ == "__main__":
    main()
