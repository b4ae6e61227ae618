# SPDX-License-Identifier: MIT
"""Echo servers side by side: csock's echo-server against the same server on raw epoll, libuv
and libevent. The server runs on core 0 and the load generator on core 1.

Measures, per server: messages/s, server CPU per message and p99 latency for 1, 100 and 1000
connections with 64-byte and 4 KiB messages; connections/s (connect, one echo, close); server
memory per idle connection (RSS with 10,000 idle connections minus RSS with none); and, for csock,
throughput with one loop and with two loops, two load generators and the server sharing both
cores.

Ping-pong is measured in paired windows: every server is started with a load generator holding its
connections open, and the servers take turns, one window of WINDOW seconds each (the order turning
every round), for ROUNDS rounds in blocks of BLOCK (new processes for each block). A server's
figure against raw epoll is the median over rounds of its window's figure divided by raw epoll's
window in the same round, with a 95% confidence interval for that median. This machine's speed
drifts by more than the margins measured (raw epoll's own CPU per message moves by a third between
runs seconds apart); windows a fraction of a second apart see the same machine.
The other figures are the median of RUNS interleaved runs of SECONDS.
Writes a Markdown report and the figures as JSON (for bench/charts.py) to bench/results/.

Usage: echo.py BUILD_DIR [ROUNDS] [WINDOW] [RUNS] [SECONDS]"""
import json
import math
import os
import statistics
import subprocess
import sys
import time

BUILD = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 60
WINDOW = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
RUNS = int(sys.argv[4]) if len(sys.argv) > 4 else 5
SECONDS = float(sys.argv[5]) if len(sys.argv) > 5 else 2
BLOCK = 10
WARM_UP = 0.2
LOADGEN = os.path.join(BUILD, "bench/loadgen")
SERVERS = {
    "raw epoll": [os.path.join(BUILD, "bench/echo-epoll"), "127.0.0.1", "0"],
    "csock": [os.path.join(BUILD, "examples/echo/echo-server"), "127.0.0.1:0"],
    "libuv": [os.path.join(BUILD, "bench/echo-libuv"), "127.0.0.1", "0"],
    "libevent": [os.path.join(BUILD, "bench/echo-libevent"), "127.0.0.1", "0"],
}
REF = "raw epoll"
CONFIGS = [(1, 64), (100, 64), (1000, 64), (1, 4096), (100, 4096), (1000, 4096)]


class Server:
    def __init__(self, name, cores="0", extra=()):
        self.proc = subprocess.Popen(["taskset", "-c", cores] + SERVERS[name] + list(extra),
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"{name}: did not start: {line!r}")
        self.port = line.strip().rsplit(":", 1)[1]

    def cpu(self):
        """Seconds of CPU the whole process has used, to the nanosecond: its CPU-time clock, the
        id clock_getcpuclockid(3) gives (/proc's figures count in ticks of 10 ms)."""
        return time.clock_gettime(((~self.proc.pid) << 3) | 2)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def parse(line):
    return dict(kv.split("=") for kv in line.split())


def loadgen(*args, cores="1"):
    out = subprocess.run(["taskset", "-c", cores, LOADGEN] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"loadgen {args}: {out.stderr}{out.stdout}")
    return parse(out.stdout)


class Driven:
    """A server and a load generator holding CONNS connections to it, run one window at a time."""

    def __init__(self, name, conns, size):
        self.name = name
        self.server = Server(name)
        self.gen = subprocess.Popen(["taskset", "-c", "1", LOADGEN, "windows", "127.0.0.1",
                                     self.server.port, str(conns), str(size)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if not self.gen.stdout.readline().startswith("ready"):
            self.close()
            raise SystemExit(f"loadgen for {name}: did not connect")

    def window(self, seconds):
        before = self.server.cpu()
        self.gen.stdin.write(f"{seconds}\n")
        self.gen.stdin.flush()
        line = self.gen.stdout.readline()
        used = self.server.cpu() - before
        r = parse(line) if line else {}
        if not r or r["errors"] != "0":
            raise SystemExit(f"loadgen for {self.name}: {line.strip() or 'failed'}")
        return {"rate": float(r["rate"]), "cpu_us": used / int(r["messages"]) * 1e6,
                "p99": float(r["p99_us"])}

    def close(self):
        self.gen.stdin.close()
        self.gen.wait(60)
        self.server.stop()


def echo_rounds(names, conns, size):
    """ROUNDS rounds, each one window per server in an order that turns every round."""
    rounds = []
    while len(rounds) < ROUNDS:
        driven = []
        try:
            for name in names:
                driven.append(Driven(name, conns, size))
            for d in driven:
                d.window(WARM_UP)
            for _ in range(min(BLOCK, ROUNDS - len(rounds))):
                turn = len(rounds) % len(driven)
                order = driven[turn:] + driven[:turn]
                if len(rounds) // len(driven) % 2:
                    order.reverse()
                rounds.append({d.name: d.window(WINDOW) for d in order})
        finally:
            for d in driven:
                d.close()
    return rounds


def median_interval(values):
    """The median and a distribution-free 95% confidence interval for it (order statistics)."""
    v = sorted(values)
    k = max(0, int(len(v) / 2 - 0.98 * math.sqrt(len(v))))
    return statistics.median(v), v[k], v[-1 - k]


def connect_run(name):
    s = Server(name)
    try:
        r = loadgen("connect", "127.0.0.1", s.port, 50, SECONDS)
    finally:
        s.stop()
    return float(r["rate"])


def idle_bytes(name, count=10000):
    s = Server(name)
    try:
        base = s.rss_kib()
        g = subprocess.Popen(["taskset", "-c", "1", LOADGEN, "idle", "127.0.0.1", s.port,
                              str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        ready = g.stdout.readline()
        if not ready.startswith("ready"):
            raise SystemExit(f"idle {name}: {ready!r}")
        held = s.rss_kib()
        g.stdin.close()
        g.wait(60)
    finally:
        s.stop()
    return (held - base) * 1024 / count


def scaling_run(loops):
    """Two load generators of 50 connections each and the server, all sharing both cores."""
    s = Server("csock", cores="0,1", extra=[str(loops)])
    try:
        gens = [subprocess.Popen(["taskset", "-c", "0,1", LOADGEN, "echo", "127.0.0.1", s.port,
                                  "50", "64", str(SECONDS)], stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
        rates = [float(parse(g.communicate(timeout=300)[0])["rate"]) for g in gens]
    finally:
        s.stop()
    return sum(rates)


def median(values):
    return statistics.median(values)


def ratio(interval, is_ref):
    mid, low, high = interval
    return "1.000" if is_ref else f"{mid:.3f} ({low:.2f}-{high:.2f})"


def main():
    names = [n for n in SERVERS if os.path.exists(SERVERS[n][0])]
    results = {}
    for conns, size in CONFIGS:
        rounds = echo_rounds(names, conns, size)
        for name in names:
            r = {k: median([x[name][k] for x in rounds]) for k in rounds[0][name]}
            r.update({k + "_ci": median_interval([x[name][k] for x in rounds])
                      for k in rounds[0][name]})
            r.update({k + "_vs": median_interval([x[name][k] / x[REF][k] for x in rounds])
                      for k in rounds[0][name]})
            results[(name, conns, size)] = r
            print(f"  {name}, {conns} x {size} B: " +
                  ", ".join(f"{k} {r[k]:.4g} ({r[k + '_vs'][0]:.3f})" for k in rounds[0][name]),
                  file=sys.stderr)
    connects, idle, scaling = ({n: [] for n in names}, {n: [] for n in names}, {1: [], 2: []})
    for _ in range(RUNS):
        for name in names:
            connects[name].append(connect_run(name))
            idle[name].append(idle_bytes(name))
        for loops in scaling:
            scaling[loops].append(scaling_run(loops))
    # The servers take turns within each run: a ratio is the median of same-run ratios.
    connects_vs = {n: median_interval([a / b for a, b in zip(v, connects[REF])])
                   for n, v in connects.items()}
    connects = {n: median(v) for n, v in connects.items()}
    idle = {n: median(v) for n, v in idle.items()}
    scaling = {n: median(v) for n, v in scaling.items()}

    ref = REF
    lines = [f"Echo servers, {ROUNDS} rounds of one {WINDOW:g} s window per server (blocks of "
             f"{BLOCK}); server on core 0, load generator on core 1. Figures are medians over the "
             f"windows; ratios are the median of each window's figure over raw epoll's in the same "
             f"round, with its 95% confidence interval.", "",
             "| server | connections | message | messages/s | vs raw | server CPU/message (us) "
             "| vs raw | p99 (us) | vs raw |", "|---|---|---|---|---|---|---|---|---|"]
    for conns, size in CONFIGS:
        for name in names:
            r = results[(name, conns, size)]
            lines.append(f"| {name} | {conns} | {size} B | {r['rate']:.0f} | "
                         f"{ratio(r['rate_vs'], name == ref)} | {r['cpu_us']:.2f} | "
                         f"{ratio(r['cpu_us_vs'], name == ref)} | {r['p99']:.0f} | "
                         f"{ratio(r['p99_vs'], name == ref)} |")
    lines += ["", f"Connections/s: {RUNS} runs of {SECONDS:g} s per server, taking turns; the "
              "ratio is the median of same-run ratios with its 95% confidence interval.", "",
              "| server | connections/s | vs raw | bytes per idle connection |",
              "|---|---|---|---|"]
    for name in names:
        lines.append(f"| {name} | {connects[name]:.0f} | {ratio(connects_vs[name], name == ref)} | "
                     f"{idle[name]:.0f} |")
    lines += ["", "csock echo-server with one and two loops; two load generators of 50 connections "
              "x 64 B; all sharing both cores:", "", "| loops | messages/s | vs one loop |",
              "|---|---|---|"]
    for loops, rate in scaling.items():
        lines.append(f"| {loops} | {rate:.0f} | {rate / scaling[1]:.2f} |")
    report = "\n".join(lines) + "\n"
    print(report)

    os.makedirs("bench/results", exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(f"bench/results/echo-{stamp}.md", "w") as f:
        f.write(report)
    # The figures for bench/charts.py: medians with their 95% intervals, absolute and relative.
    with open(f"bench/results/echo-{stamp}.json", "w") as f:
        json.dump({"machine": machine(), "date": time.strftime("%Y-%m-%d"), "rounds": ROUNDS,
                   "window": WINDOW, "servers": names,
                   "configs": [{"connections": c, "size": sz,
                                "results": {n: results[(n, c, sz)] for n in names}}
                               for c, sz in CONFIGS],
                   "connects": connects}, f, indent=1)


def machine():
    """A short description of the machine, for the reports and the charts."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Linux {os.uname().release}".replace(", ,", ",")


if __name__ == "__main__":
    main()
