# SPDX-License-Identifier: MIT
"""Interop with Python's socket module as the real peer, both directions: TCP over IPv4 and IPv6,
UDP, and Unix stream sockets; and batches of datagrams sent by csock, received by Python. Usage: interop.py PATH_TO_PEER"""
import os
import socket
import subprocess
import sys
import tempfile

from checklib import check, done
import threading

PEER = sys.argv[1]
TIMEOUT = 30


def pattern(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def python_echo_server(family, kind, address):
    """Binds a Python echo server; returns (socket, address as peer arguments, thread)."""
    s = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.bind(address)
    if kind != "udp":
        s.listen(1)

    def serve():
        if kind == "udp":
            while True:
                data, sender = s.recvfrom(65536)
                if data == b"quit":
                    break
                s.sendto(data, sender)
        else:
            conn, _ = s.accept()
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    if family == socket.AF_UNIX:
        return address, "0", t
    return address[0], str(s.getsockname()[1]), t


def csock_client_to_python(name, family, kind, address, size=100000):
    host, port, t = python_echo_server(family, kind, address)
    r = subprocess.run([PEER, "client", kind, host, port, str(size)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    t.join(TIMEOUT)
    check(name, r.returncode == 0 and r.stdout.strip() == f"ok {size}", r.stderr + r.stdout)


def python_client_to_csock(name, family, kind, host, port, size=100000):
    p = subprocess.Popen([PEER, "echo-server", kind, host, port], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline().strip()
        if not first.startswith("listening on "):
            check(name, False, first + p.stderr.read())
            return
        data = pattern(size)
        got = b""
        if family == socket.AF_UNIX:
            target = host
        else:
            target = (host, int(first.rsplit(":", 1)[1]))
        with socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM) as c:
            c.settimeout(TIMEOUT)
            c.connect(target)
            if kind == "udp":
                for off in range(0, size, 1000):
                    c.send(data[off:off + 1000])
                    got += c.recv(65536)
                c.send(b"quit")
            else:
                c.sendall(data)
                c.shutdown(socket.SHUT_WR)
                while chunk := c.recv(65536):
                    got += chunk
        rc = p.wait(TIMEOUT)
        check(name, rc == 0 and got == data, f"rc={rc}, got {len(got)} bytes; {p.stderr.read()}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def csock_batch_to_python(name, family, host, size):
    """csock_sendmany's 64 datagrams arrive at Python as 64 datagrams, each whole."""
    with socket.socket(family, socket.SOCK_DGRAM) as r:
        r.settimeout(TIMEOUT)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        r.bind((host, 0))
        p = subprocess.run([PEER, "burst", host, str(r.getsockname()[1]), str(size)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        got = []
        while p.returncode == 0:
            d = r.recv(65536)
            if d == b"end":
                break
            got.append(d)
        want = [bytes([i]) * size for i in range(64)]
        check(name, p.returncode == 0 and got == want,
              f"rc={p.returncode} {p.stderr}; got {len(got)} datagrams, sizes "
              f"{sorted(set(len(d) for d in got))}")


def main():
    tmp = tempfile.mkdtemp()
    v4, v6, unix = socket.AF_INET, socket.AF_INET6, socket.AF_UNIX
    csock_client_to_python("tcp4 csock client, python server", v4, "tcp", ("127.0.0.1", 0))
    csock_client_to_python("tcp6 csock client, python server", v6, "tcp", ("::1", 0))
    csock_client_to_python("udp4 csock client, python server", v4, "udp", ("127.0.0.1", 0))
    csock_client_to_python("udp6 csock client, python server", v6, "udp", ("::1", 0))
    csock_client_to_python("unix csock client, python server", unix, "unix",
                           os.path.join(tmp, "py.sock"))
    python_client_to_csock("tcp4 python client, csock server", v4, "tcp", "127.0.0.1", "0")
    python_client_to_csock("tcp6 python client, csock server", v6, "tcp", "::1", "0")
    python_client_to_csock("udp4 python client, csock server", v4, "udp", "127.0.0.1", "0")
    python_client_to_csock("udp6 python client, csock server", v6, "udp", "::1", "0")
    python_client_to_csock("unix python client, csock server", unix, "unix",
                           os.path.join(tmp, "c.sock"), "0")
    csock_batch_to_python("udp4 csock sendmany, python receiver", v4, "127.0.0.1", 64)
    csock_batch_to_python("udp6 csock sendmany, python receiver", v6, "::1", 1000)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    done()


if __name__ == "__main__":
    main()
