"""The tutorial's exchange: csock's server and client with each other, with the tutorial's own
Python programs in both directions, the demo, and the errors the tutorial names.
Usage: tutorial.py BUILD_DIR SOURCE_DIR"""
import os
import socket
import subprocess
import sys

from checklib import check, done

BUILD, SOURCE = sys.argv[1], sys.argv[2]
C_SERVER = [os.path.join(BUILD, "examples/tutorial/tutorial-server")]
C_CLIENT = [os.path.join(BUILD, "examples/tutorial/tutorial-client")]
PY_SERVER = [sys.executable, os.path.join(SOURCE, "examples/tutorial/python/server.py")]
PY_CLIENT = [sys.executable, os.path.join(SOURCE, "examples/tutorial/python/client.py")]
TIMEOUT = 30


# The tutorial's programs receive with one recv each, as the tutorial teaches (recv returns at
# most what was asked, and may return less). Under fault injection (tests/faults) it does, and
# each side may see part of the other's message or a peer that closed early: there only the
# errors are checked.
FAULTS = bool(os.environ.get("CSOCK_FAULTS_SEED"))


def exchange(name, server, client, host):
    if FAULTS:
        print(f"skip {name}: one recv each, under fault injection")
        return
    p = subprocess.Popen(server + [host, "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        first = p.stdout.readline().strip()
        port = first.rsplit(":", 1)[-1]
        c = subprocess.run(client + [host, port], capture_output=True, text=True, timeout=TIMEOUT)
        out, err = p.communicate(timeout=TIMEOUT)
        lines = out.splitlines()
        ok = (first.startswith("listening on ") and p.returncode == 0 and c.returncode == 0
              and c.stdout == "the data received is byebye\n"
              and len(lines) == 2 and lines[0].startswith("got connected from")
              and lines[1] == "hihi")
        check(name, ok, f"server: {first!r} {out!r} {err!r}; client: {c.stdout!r} {c.stderr!r}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def errors():
    # A port bound but not listening: connecting is refused.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    r = subprocess.run(C_CLIENT + ["127.0.0.1", str(port)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    want = f"tutorial-client: connect 127.0.0.1:{port}: Connection refused\n"
    check("client: connection refused", r.returncode == 1 and r.stderr == want, r.stderr)
    # The port is in use.
    r = subprocess.run(C_SERVER + ["127.0.0.1", str(port)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    want = f"tutorial-server: bind 127.0.0.1:{port}: Address already in use\n"
    check("server: port in use", r.returncode == 1 and r.stderr == want, r.stderr)
    holder.close()
    r = subprocess.run(C_CLIENT + ["127.0.0.1", "99999"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    want = 'tutorial-client: parse port "99999": out of range (0-65535)\n'
    check("client: bad port", r.returncode == 1 and r.stderr == want, r.stderr)
    r = subprocess.run(C_SERVER + ["192.0.2.1", "0"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    want = "tutorial-server: bind 192.0.2.1:0: Cannot assign requested address\n"
    check("server: address not on this machine", r.returncode == 1 and r.stderr == want,
          r.stderr)


def demo():
    if FAULTS:
        print("skip demo: one recv each, under fault injection")
        return
    r = subprocess.run(["sh", os.path.join(SOURCE, "examples/tutorial/demo.sh"), BUILD],
                       capture_output=True, text=True, timeout=TIMEOUT)
    lines = r.stdout.splitlines()
    ok = (r.returncode == 0 and len(lines) == 5 and lines[0].startswith("[server] listening on")
          and lines[2] == "[client] the data received is byebye"
          and lines[3].startswith("[server] got connected from 127.0.0.1:")
          and lines[4] == "[server] hihi")
    check("demo shows both sides", ok, r.stdout + r.stderr)


exchange("csock server, csock client (IPv4)", C_SERVER, C_CLIENT, "127.0.0.1")
exchange("csock server, csock client (IPv6)", C_SERVER, C_CLIENT, "::1")
exchange("python server, csock client", PY_SERVER, C_CLIENT, "127.0.0.1")
exchange("csock server, python client", C_SERVER, PY_CLIENT, "127.0.0.1")
exchange("python server, csock client (IPv6)", PY_SERVER, C_CLIENT, "::1")
errors()
demo()
done()
