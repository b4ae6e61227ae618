# SPDX-License-Identifier: MIT
"""The csock tool against OpenBSD netcat and socat: 1 GiB over loopback TCP to /dev/null on the
receiver's standard output, each tool to itself, with the sender's standard input a file, then
a pipe (cat writing the file into it); then over TLS from a file, `csock --tls` against
`socat openssl:` and `ncat --ssl` (where installed), TLS 1.3 with OpenSSL's defaults and an
ECDSA P-256 certificate made for the run, no tool verifying it. Runs interleaved; the median
wall time of each tool is reported with the CPU time of both its processes (not cat's), and
csock's ratio to the fastest other tool. Writes Markdown tables.

Usage: cli.py CSOCK [RUNS] [MEGABYTES]"""
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

csock = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
megabytes = int(sys.argv[3]) if len(sys.argv) > 3 else 1024

# Each tool: its receiver (with where it says its port) and its sender.
TOOLS = {
    "csock": (lambda: [csock, "-v", "listen", "127.0.0.1:0"], r"listening on 127\.0\.0\.1:(\d+)",
              lambda port: [csock, "connect", f"127.0.0.1:{port}"]),
    "nc (OpenBSD)": (lambda: ["nc", "-lv", "127.0.0.1", "0"], r"Listening on \S+ (\d+)",
                     lambda port: ["nc", "-N", "127.0.0.1", str(port)]),
    "socat": (lambda: ["socat", "-d", "-d", "-u", "TCP-LISTEN:0,bind=127.0.0.1", "STDOUT"],
              r"listening on AF=2 127\.0\.0\.1:(\d+)",
              lambda port: ["socat", "-u", "STDIN", f"TCP:127.0.0.1:{port}"]),
}

# Over TLS: a certificate for the run.
certs = tempfile.mkdtemp(prefix="csock-bench-cli-")
cert, key = os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-subj",
                "/CN=localhost", "-days", "2"], check=True, capture_output=True)


def free_port():
    """A port nothing listens on now, for ncat, which does not listen on port 0."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


TLS_TOOLS = {
    "csock --tls": (lambda: [csock, "-v", "--tls", "--cert", cert, "--key", key, "listen",
                             "127.0.0.1:0"], r"listening on 127\.0\.0\.1:(\d+)",
                    lambda port: [csock, "--tls", "--insecure", "connect", f"127.0.0.1:{port}"]),
    "socat openssl:": (lambda: ["socat", "-d", "-d", "-u",
                                f"OPENSSL-LISTEN:0,bind=127.0.0.1,cert={cert},key={key},verify=0",
                                "STDOUT"], r"listening on AF=2 127\.0\.0\.1:(\d+)",
                       lambda port: ["socat", "-u", "STDIN",
                                     f"OPENSSL:127.0.0.1:{port},verify=0"]),
    "ncat --ssl": (lambda: ["ncat", "-v", "--recv-only", "--ssl", "--ssl-cert", cert, "--ssl-key",
                            key, "-l", "127.0.0.1", str(free_port())],
                   r"Listening on 127\.0\.0\.1:(\d+)",
                   lambda port: ["ncat", "--send-only", "--ssl", "127.0.0.1", str(port)]),
}
for tools in (TOOLS, TLS_TOOLS):
    missing = [name for name, (listen, _, _) in tools.items() if not shutil.which(listen()[0])]
    for name in missing:
        print(f"cli bench: {name} is not installed, left out", file=sys.stderr)
        del tools[name]

# The data: a file in memory where there is a tmpfs, so that the disk measures nothing.
where = "/dev/shm" if os.path.isdir("/dev/shm") else None
data = tempfile.NamedTemporaryFile(dir=where, prefix="csock-bench-")
block = os.urandom(1 << 20)
for _ in range(megabytes):
    data.write(block)
data.flush()


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one_run(listen, pattern, connect, piped):
    """Returns (wall seconds from the sender's start to both ends exiting, CPU seconds)."""
    cat = None
    if piped:
        cat = subprocess.Popen(["cat", data.name], stdout=subprocess.PIPE)
    cpu0 = children_cpu()
    with open(os.devnull, "rb") as nothing, open(os.devnull, "wb") as sink:
        receiver = subprocess.Popen(listen(), stdin=nothing, stdout=sink, stderr=subprocess.PIPE)
        port = None
        while port is None:
            line = receiver.stderr.readline().decode()
            if not line:
                raise SystemExit(f"cli bench: {listen()[0]} did not say its port")
            if m := re.search(pattern, line):
                port = int(m.group(1))
        with open(data.name, "rb") as source:
            start = time.monotonic()
            sender = subprocess.Popen(connect(port), stdin=cat.stdout if cat else source,
                                      stdout=sink, stderr=subprocess.DEVNULL)
            rc = sender.wait(600), receiver.wait(600)
            wall = time.monotonic() - start
        said = receiver.stderr.read().decode(errors="replace").strip()
        receiver.stderr.close()
    cpu = children_cpu() - cpu0
    if cat:
        cat.stdout.close()
        cat.wait(600)
    if rc != (0, 0):
        raise ToolFailed(f"{listen()[0]} failed: exit statuses {rc}: {said[-300:]}")
    return wall, cpu


class ToolFailed(Exception):
    pass


def measured_run(tool, piped):
    """one_run, tried once more if the tool failed (said on standard error); a second failure
    ends the benchmark."""
    try:
        return one_run(*tool, piped)
    except ToolFailed as e:
        print(f"cli bench: {e}; trying again", file=sys.stderr)
    try:
        return one_run(*tool, piped)
    except ToolFailed as e:
        raise SystemExit(f"cli bench: {e}")


figures = {}
for kind, tools, piped in (("file", TOOLS, False), ("pipe", TOOLS, True),
                           ("tls", TLS_TOOLS, False)):
    results = {name: [] for name in tools}
    for _ in range(runs):
        for name, tool in tools.items():
            results[name].append(measured_run(tool, piped))
    source = "a pipe (cat)" if piped else "a file"
    over = "TLS over loopback TCP" if kind == "tls" else "loopback TCP"
    against = "socat and ncat" if kind == "tls" else "nc and socat"
    print(f"## The csock tool against {against}: {megabytes} MiB over {over}, from "
          f"{source}\n")
    print(f"Median of {runs} interleaved runs; {source} on standard input, /dev/null on standard "
          "output; CPU is both ends' processes.\n")
    print("| tool | wall | MiB/s | CPU (both ends) | wall vs csock |")
    print("|---|---|---|---|---|")
    figures[kind] = {name: sorted(megabytes / w for w, _ in r) for name, r in results.items()}
    median = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
              for name, r in results.items()}
    ours = next(name for name in median if name.startswith("csock"))
    for name, (wall, cpu) in median.items():
        print(f"| {name} | {wall:.3f} s | {megabytes / wall:,.0f} | {cpu:.3f} s | "
              f"{wall / median[ours][0]:.2f} |")
    others = [w for name, (w, _) in median.items() if name != ours]
    if others:
        print(f"\ncsock's speed against the fastest other tool: "
              f"{min(others) / median[ours][0]:.2f}x\n")


# ---- csock forward against socat's forwarding mode ----

def port_of(proc, pattern):
    while True:
        line = proc.stderr.readline().decode()
        if not line:
            raise SystemExit(f"cli bench: {proc.args[0]} did not say its port")
        if m := re.search(pattern, line):
            return int(m.group(1))


FORWARDERS = {
    "csock forward": (lambda target: [csock, "-v", "forward", "127.0.0.1:0", target],
                      r"listening on 127\.0\.0\.1:(\d+)"),
    "socat (TCP-LISTEN,fork)": (lambda target: ["socat", "-d", "-d",
                                                "TCP-LISTEN:0,bind=127.0.0.1,fork,reuseaddr",
                                                f"TCP:{target}"],
                                r"listening on AF=2 127\.0\.0\.1:(\d+)"),
}


def forward_run(make, pattern):
    """The file through the forwarder to a socat sink, sent by socat: wall seconds from the
    sender's start to the sink's exit (it exits at the end of its one connection)."""
    with open(os.devnull, "wb") as sink_out:
        sink = subprocess.Popen(["socat", "-d", "-d", "-u", "TCP-LISTEN:0,bind=127.0.0.1",
                                 "STDOUT"], stdout=sink_out, stderr=subprocess.PIPE)
        sink_port = port_of(sink, r"listening on AF=2 127\.0\.0\.1:(\d+)")
        fwd = subprocess.Popen(make(f"127.0.0.1:{sink_port}"), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = port_of(fwd, pattern)
        start = time.monotonic()
        sender = subprocess.run(["socat", "-u", f"OPEN:{data.name}", f"TCP:127.0.0.1:{port}"],
                                stderr=subprocess.DEVNULL, timeout=600)
        rc = sink.wait(600)
        wall = time.monotonic() - start
        fwd.terminate()
        fwd.wait(60)
        for p in (sink, fwd):
            p.stderr.close()
    if sender.returncode or rc:
        raise SystemExit(f"cli bench: forwarding failed: exit statuses {sender.returncode}, {rc}")
    return wall


if shutil.which("socat"):
    walls = {name: [] for name in FORWARDERS}
    for _ in range(runs):
        for name, (make, pattern) in FORWARDERS.items():
            walls[name].append(forward_run(make, pattern))
    print(f"## csock forward against socat's forwarding mode: {megabytes} MiB\n")
    print(f"Median of {runs} interleaved runs: `socat -u OPEN:file TCP:forwarder` into the "
          "forwarder, which connects to a `socat -u TCP-LISTEN STDOUT` sink writing to "
          "/dev/null; wall time from the sender's start to the sink's exit.\n")
    print("| forwarder | wall | MiB/s | wall vs csock |")
    print("|---|---|---|---|")
    med = {name: statistics.median(w) for name, w in walls.items()}
    for name, wall in med.items():
        print(f"| {name} | {wall:.3f} s | {megabytes / wall:,.0f} | "
              f"{wall / med['csock forward']:.2f} |")
    print(f"\ncsock forward's speed against socat's: "
          f"{med['socat (TCP-LISTEN,fork)'] / med['csock forward']:.2f}x\n")
    figures["forward"] = {name: sorted(megabytes / w for w in r) for name, r in walls.items()}

# Every run's MiB/s, for bench/charts.py.
os.makedirs("bench/results", exist_ok=True)
with open(time.strftime("bench/results/cli-%Y%m%d-%H%M%S.json"), "w") as f:
    json.dump({"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} cores, Linux "
               f"{os.uname().release}", "megabytes": megabytes, "runs": runs,
               "mib_per_s": figures}, f, indent=1)
shutil.rmtree(certs)
