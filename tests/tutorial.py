# SPDX-License-Identifier: MIT
"""The tutorial's exchange: csock's server and client with each other, with the tutorial's own
Python programs in both directions, and the errors the tutorial names.
Usage: tutorial.py BUILD_DIR SOURCE_DIR [demo]; with "demo", only the demo, plain and with
CSOCK_TRACE=1, against the output the README shows."""
import os
import re
import socket
import subprocess
import sys
import tempfile

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


def readme_demo():
    """The lines the README shows `make demo` printing, as patterns: any number may differ."""
    text = open(os.path.join(SOURCE, "README.md")).read()
    block = re.search(r"`make demo` prints:\n\n```\n(.*?)```", text, re.S)
    if not block:
        return []
    return [r"\d+".join(re.escape(part) for part in re.split(r"\d+", line))
            for line in block.group(1).splitlines()]


def run_demo(build, trace, *args):
    """demo.sh's output, errors and exit status (None if it did not end in time)."""
    env = dict(os.environ, CSOCK_TRACE="1" if trace else "0")
    try:
        r = subprocess.run(["sh", os.path.join(SOURCE, "examples/tutorial/demo.sh"), build, *args],
                           capture_output=True, text=True, timeout=TIMEOUT, env=env)
        return r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        return out.decode() if isinstance(out, bytes) else out, f"no end within {TIMEOUT} s", None


def demo(trace):
    out, err, rc = run_demo(BUILD, trace)
    lines = out.splitlines()
    traced = [line for line in lines if re.match(r"\[(server|client)\] csock: ", line)]
    shown = [line for line in lines if line not in traced]
    want = readme_demo()
    ports = re.findall(r"listening on 127\.0\.0\.1:(\d+)$|tutorial-client 127\.0\.0\.1 (\d+)$",
                       out, re.M)
    ok = (rc == 0 and err == "" and len(want) == 5 and len(shown) == len(want)
          and all(re.fullmatch(w, line) for w, line in zip(want, shown))
          and len(ports) == 2 and ports[0][0] == ports[1][1])
    if trace:
        ok = ok and (any(line.startswith("[server] csock: listen ") for line in traced) and
                     any(line.startswith("[client] csock: connect ") for line in traced))
    else:
        ok = ok and not traced
    name = "CSOCK_TRACE=1: the demo shows the README's lines and each side's calls" if trace \
        else "the demo shows both sides, as the README does"
    check(name, ok, f"rc={rc}\n{out}{err}")


def demo_bounded():
    """A server that never says where it listens: the demo gives up within its limit, saying so."""
    with tempfile.TemporaryDirectory() as build:
        os.makedirs(os.path.join(build, "examples/tutorial"))
        server = os.path.join(build, "examples/tutorial/tutorial-server")
        with open(server, "w") as f:
            f.write("#!/bin/sh\necho 'csock: socket AF_INET SOCK_STREAM 0 -> fd 3' >&2\n"
                    "exec sleep 60\n")
        os.chmod(server, 0o755)
        out, err, rc = run_demo(build, False, "1")
    check("a server that never listens: the demo stops it and says why",
          rc == 1 and out == "[server] csock: socket AF_INET SOCK_STREAM 0 -> fd 3\n" and
          err == 'demo: stopped the server after 1 s: it printed no "listening on HOST:PORT" '
          'line\n', f"rc={rc}\n{out}{err}")


if sys.argv[3:] == ["demo"]:  # the demo alone, as `make demo` runs it
    if FAULTS:
        print("skip the demo's exchange: one recv each, under fault injection")
    else:
        demo(trace=False)
        demo(trace=True)
    demo_bounded()
    done()
exchange("csock server, csock client (IPv4)", C_SERVER, C_CLIENT, "127.0.0.1")
exchange("csock server, csock client (IPv6)", C_SERVER, C_CLIENT, "::1")
exchange("python server, csock client", PY_SERVER, C_CLIENT, "127.0.0.1")
exchange("csock server, python client", C_SERVER, PY_CLIENT, "127.0.0.1")
exchange("python server, csock client (IPv6)", PY_SERVER, C_CLIENT, "::1")
errors()
done()
