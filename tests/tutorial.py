# SPDX-License-Identifier: MIT
"""The tutorial's exchange: csock's server and client with each other, with the tutorial's own
Python programs in both directions, and the errors the tutorial names.
Usage: tutorial.py BUILD_DIR SOURCE_DIR [demo]; with "demo", only the demo, plain and with
CSOCK_TRACE=1, against the output the README shows."""
import os
import re
import shutil
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


TUTORIAL = os.path.join(BUILD, "examples/tutorial")


def start(program, *args):
    """A server program of the tutorial's, and the port its "listening on" line names."""
    p = subprocess.Popen([os.path.join(TUTORIAL, program), *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline().strip()
    return p, first, int(first.rsplit(":", 1)[-1]) if first.startswith("listening on ") else 0


def stop(p):
    if p.poll() is None:
        p.kill()
    return p.communicate(timeout=TIMEOUT)


def shout(host, port, message):
    return subprocess.run([os.path.join(TUTORIAL, "shout-client"), host, str(port), message],
                          capture_output=True, text=True, timeout=TIMEOUT)


def many_clients():
    """shout-server serves clients at once, on both families; shout-client reads the whole reply."""
    p, first, port = start("shout-server", "0")
    try:
        check("shout-server listens on every address", first.startswith("listening on [::]:"),
              first)
        big = "".join(chr(ord("a") + i % 26) for i in range(100000))  # an argument holds 128 KiB at most
        clients = [subprocess.Popen([os.path.join(TUTORIAL, "shout-client"), host, str(port), msg],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for host, msg in [("127.0.0.1", "hello there"), ("::1", "and from IPv6"),
                                     ("localhost", big)] * 3]
        results = [c.communicate(timeout=TIMEOUT) + (c.returncode,) for c in clients]
        want = [("HELLO THERE\n", "", 0), ("AND FROM IPV6\n", "", 0),
                (big.upper() + "\n", "", 0)] * 3
        check("nine clients at once, IPv4 and IPv6, each gets its whole reply", results == want,
              [(r[0][:40], r[1], r[2]) for r in results])
        if os.path.exists("/etc/hosts") and "csock-dual" in open("/etc/hosts").read():
            r = shout("csock-dual", 9, "x")
            want = ("shout-client: connect csock-dual:9: [::1]:9: Connection refused; "
                    "127.0.0.1:9: Connection refused\n")
            check("a name with two addresses: both tried, both said", r.returncode == 1 and
                  r.stderr == want, r.stderr)
    finally:
        out, err = stop(p)
    check("shout-server said who came", out.count("got connected from") == 9, out + err)


def raw_client():
    p, first, port = start("tutorial-server", "127.0.0.1", "0")
    r = subprocess.run([os.path.join(TUTORIAL, "raw-client"), "127.0.0.1", str(port)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    out, err = p.communicate(timeout=TIMEOUT)
    check("the BSD-calls client talks to the tutorial's server",
          r.returncode == 0 and r.stdout == "the data received is byebye\n" and
          out.endswith("hihi\n"), f"{r.stdout!r} {r.stderr!r} {out!r} {err!r}")


def time_wait():
    """A server that closed first leaves its port in TIME_WAIT: binding it again fails without
    SO_REUSEADDR (the tutorial's server) and works with it (csock_create_server)."""
    server = socket.socket()
    # A TIME_WAIT connection yields its port only to a socket with SO_REUSEADDR when it had the
    # option too: as a server that sets it, restarted.
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.listen()
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server's side closes first, and so waits in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    r = subprocess.run([os.path.join(TUTORIAL, "tutorial-server"), "127.0.0.1", str(port)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    want = f"tutorial-server: bind 127.0.0.1:{port}: Address already in use\n"
    check("TIME_WAIT: binding without SO_REUSEADDR fails", r.returncode == 1 and
          r.stderr == want, r.stderr)
    p, first, _ = start("shout-server", str(port))
    stop(p)
    check("TIME_WAIT: csock_create_server (SO_REUSEADDR) binds at once",
          first == f"listening on [::]:{port}", first)


def own_program():
    """Section 10: a program built against an installed csock with pkg-config."""
    if not shutil.which("pkg-config"):
        print("skip building against an install: needs pkg-config (apt-get install pkg-config)")
        return
    with tempfile.TemporaryDirectory() as prefix:
        subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True,
                       capture_output=True)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "csock"], env=env,
                               capture_output=True, text=True).stdout.split()
        exe = os.path.join(prefix, "shout-client")
        cc = os.environ.get("CC", "cc")
        extra = os.environ.get("CSOCK_TEST_CFLAGS", "").split()
        r = subprocess.run([cc, *extra, "-o", exe,
                            os.path.join(SOURCE, "examples/tutorial/shout-client.c"), *flags],
                           capture_output=True, text=True)
        check("shout-client builds against the install with pkg-config", r.returncode == 0,
              r.stderr)
        if r.returncode != 0:
            return
        p, _, port = start("shout-server", "0")
        c = subprocess.run([exe, "127.0.0.1", str(port), "built"], capture_output=True, text=True,
                           timeout=TIMEOUT, env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(
                               prefix, "lib")))
        stop(p)
        check("... and runs with LD_LIBRARY_PATH", c.stdout == "BUILT\n", c.stdout + c.stderr)


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
if not FAULTS:
    many_clients()
    raw_client()
time_wait()
own_program()
done()
