# SPDX-License-Identifier: MIT
"""The csock tool against OpenBSD netcat and socat: 1 GiB over loopback TCP to /dev/null on the
receiver's standard output, each tool to itself, with the sender's standard input a file, then
a pipe (cat writing the file into it). Runs interleaved; the median wall time of each tool is
reported with the CPU time of both its processes (not cat's), and csock's ratio to the fastest
other tool. Writes Markdown tables.

Usage: cli.py CSOCK [RUNS] [MEGABYTES]"""
import json
import os
import re
import resource
import shutil
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
missing = [name for name, (listen, _, _) in TOOLS.items() if not shutil.which(listen()[0])]
for name in missing:
    print(f"cli bench: {name} is not installed, left out", file=sys.stderr)
    del TOOLS[name]

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
        receiver.stderr.close()
    cpu = children_cpu() - cpu0
    if cat:
        cat.stdout.close()
        cat.wait(600)
    if rc != (0, 0):
        raise SystemExit(f"cli bench: {listen()[0]} failed: exit statuses {rc}")
    return wall, cpu


figures = {}
for piped in (False, True):
    results = {name: [] for name in TOOLS}
    for _ in range(runs):
        for name, tool in TOOLS.items():
            results[name].append(one_run(*tool, piped))
    source = "a pipe (cat)" if piped else "a file"
    print(f"## The csock tool against nc and socat: {megabytes} MiB over loopback TCP, from "
          f"{source}\n")
    print(f"Median of {runs} interleaved runs; {source} on standard input, /dev/null on standard "
          "output; CPU is both ends' processes.\n")
    print("| tool | wall | MiB/s | CPU (both ends) | wall vs csock |")
    print("|---|---|---|---|---|")
    figures["pipe" if piped else "file"] = {
        name: sorted(megabytes / w for w, _ in r) for name, r in results.items()}
    median = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
              for name, r in results.items()}
    for name, (wall, cpu) in median.items():
        print(f"| {name} | {wall:.3f} s | {megabytes / wall:,.0f} | {cpu:.3f} s | "
              f"{wall / median['csock'][0]:.2f} |")
    others = [w for name, (w, _) in median.items() if name != "csock"]
    if others:
        print(f"\ncsock's speed against the fastest other tool: "
              f"{min(others) / median['csock'][0]:.2f}x\n")

# Every run's MiB/s, for bench/charts.py.
os.makedirs("bench/results", exist_ok=True)
with open(time.strftime("bench/results/cli-%Y%m%d-%H%M%S.json"), "w") as f:
    json.dump({"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} cores, Linux "
               f"{os.uname().release}", "megabytes": megabytes, "runs": runs,
               "mib_per_s": figures}, f, indent=1)
