# SPDX-License-Identifier: MIT
"""The UDP echo example against Python's socket module as the peer, both ways, IPv4 and IPv6.
Usage: udp_example.py BUILD_DIR"""
import os
import signal
import socket
import subprocess
import sys
import threading

from checklib import check, done

BUILD = sys.argv[1]
SERVER = os.path.join(BUILD, "examples/udp/udp-echo-server")
CLIENT = os.path.join(BUILD, "examples/udp/udp-echo-client")
TIMEOUT = 30


def python_client_to_csock_server(host, family):
    p = subprocess.Popen([SERVER, host, "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        first = p.stdout.readline().strip()
        port = int(first.rsplit(":", 1)[1])
        with socket.socket(family, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            replies = []
            for data in (b"one", b"", b"x" * 60000, bytes(range(256))):
                c.sendto(data, (host, port))
                replies.append(c.recv(65536) == data)
        p.send_signal(signal.SIGTERM)
        p.wait(TIMEOUT)
        check(f"python client, csock server on {host}",
              first.startswith("listening on ") and all(replies), f"{first!r} {replies}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def csock_client_to_python_server(host, family):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(TIMEOUT)

    def serve():
        for _ in range(2):
            data, sender = s.recvfrom(65536)
            s.sendto(data.upper(), sender)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = subprocess.run([CLIENT, host, str(s.getsockname()[1]), "hello", "world"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    t.join(TIMEOUT)
    s.close()
    check(f"csock client, python server on {host}",
          r.returncode == 0 and r.stdout == "reply: HELLO\nreply: WORLD\n", r.stdout + r.stderr)


def errors():
    r = subprocess.run([CLIENT, "127.0.0.1", "99999", "x"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    check("client: bad port", r.returncode == 1 and
          r.stderr == 'udp-echo-client: parse port "99999": out of range (0-65535)\n', r.stderr)
    # Nobody at the port: the kernel's refusal is reported, not a hang.
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    holder.close()
    r = subprocess.run([CLIENT, "127.0.0.1", str(port), "x"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    check("client: nobody there", r.returncode == 1 and
          r.stderr == f"udp-echo-client: recv 127.0.0.1:{port}: Connection refused\n", r.stderr)


python_client_to_csock_server("127.0.0.1", socket.AF_INET)
python_client_to_csock_server("::1", socket.AF_INET6)
csock_client_to_python_server("127.0.0.1", socket.AF_INET)
csock_client_to_python_server("::1", socket.AF_INET6)
errors()
done()
