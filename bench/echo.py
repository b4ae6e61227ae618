"""Echo servers side by side: csock's echo-server against the same server on raw epoll, libuv
and libevent. The server runs on core 0 and the load generator on core 1.

Measures, per server: messages/s, server CPU per message and p99 latency for 1, 100 and 1000
connections with 64-byte and 4 KiB messages; connections/s (connect, one echo, close); server
memory per idle connection (RSS with 10,000 idle connections minus RSS with none); and, for csock,
throughput with one loop and with two loops, two load generators and the server sharing both
cores. Every figure is the median of RUNS runs (default 5), interleaved.
Writes a Markdown report and a PNG chart (gnuplot) to bench/results/.

Usage: echo.py BUILD_DIR [RUNS] [SECONDS]"""
import os
import statistics
import subprocess
import sys
import time

BUILD = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 2
LOADGEN = os.path.join(BUILD, "bench/loadgen")
SERVERS = {
    "raw epoll": [os.path.join(BUILD, "bench/echo-epoll"), "127.0.0.1", "0"],
    "csock": [os.path.join(BUILD, "examples/echo/echo-server"), "127.0.0.1:0"],
    "libuv": [os.path.join(BUILD, "bench/echo-libuv"), "127.0.0.1", "0"],
    "libevent": [os.path.join(BUILD, "bench/echo-libevent"), "127.0.0.1", "0"],
}
CONFIGS = [(1, 64), (100, 64), (1000, 64), (1, 4096), (100, 4096), (1000, 4096)]
TICK = os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, name, cores="0", extra=()):
        self.proc = subprocess.Popen(["taskset", "-c", cores] + SERVERS[name] + list(extra),
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"{name}: did not start: {line!r}")
        self.port = line.strip().rsplit(":", 1)[1]

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def loadgen(*args, cores="1"):
    out = subprocess.run(["taskset", "-c", cores, LOADGEN] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"loadgen {args}: {out.stderr}{out.stdout}")
    return dict(kv.split("=") for kv in out.stdout.split())


def echo_run(name, conns, size):
    s = Server(name)
    try:
        before = s.cpu()
        r = loadgen("echo", "127.0.0.1", s.port, conns, size, SECONDS)
        used = s.cpu() - before
    finally:
        s.stop()
    msgs = int(r["messages"])
    return {"rate": float(r["rate"]), "cpu_us": used / msgs * 1e6, "p99": float(r["p99_us"])}


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
        rates = [float(dict(kv.split("=") for kv in g.communicate(timeout=300)[0].split())["rate"])
                 for g in gens]
    finally:
        s.stop()
    return sum(rates)


def median(values):
    return statistics.median(values)


def main():
    names = [n for n in SERVERS if os.path.exists(SERVERS[n][0])]
    results = {}
    # Runs are interleaved (every server once, then again), so that a slow spell of the machine
    # falls on all of them alike.
    for conns, size in CONFIGS:
        runs = {name: [] for name in names}
        for _ in range(RUNS):
            for name in names:
                runs[name].append(echo_run(name, conns, size))
        for name in names:
            results[(name, conns, size)] = {k: median([r[k] for r in runs[name]])
                                            for k in runs[name][0]}
            print(f"  {name}, {conns} x {size} B: {results[(name, conns, size)]}", file=sys.stderr)
    connects, idle, scaling = ({n: [] for n in names}, {n: [] for n in names}, {1: [], 2: []})
    for _ in range(RUNS):
        for name in names:
            connects[name].append(connect_run(name))
            idle[name].append(idle_bytes(name))
        for loops in scaling:
            scaling[loops].append(scaling_run(loops))
    connects = {n: median(v) for n, v in connects.items()}
    idle = {n: median(v) for n, v in idle.items()}
    scaling = {n: median(v) for n, v in scaling.items()}

    ref = "raw epoll"
    lines = [f"Echo servers, median of {RUNS} runs of {SECONDS:g} s; server on core 0, load "
             f"generator on core 1. Ratios are against {ref}.", "",
             "| server | connections | message | messages/s | vs raw | server CPU/message (us) "
             "| vs raw | p99 (us) | vs raw |", "|---|---|---|---|---|---|---|---|---|"]
    for conns, size in CONFIGS:
        base = results[(ref, conns, size)]
        for name in names:
            r = results[(name, conns, size)]
            lines.append(f"| {name} | {conns} | {size} B | {r['rate']:.0f} | "
                         f"{r['rate'] / base['rate']:.3f} | {r['cpu_us']:.2f} | "
                         f"{r['cpu_us'] / base['cpu_us']:.3f} | {r['p99']:.0f} | "
                         f"{r['p99'] / base['p99']:.2f} |")
    lines += ["", "| server | connections/s | vs raw | bytes per idle connection |",
              "|---|---|---|---|"]
    for name in names:
        lines.append(f"| {name} | {connects[name]:.0f} | {connects[name] / connects[ref]:.3f} | "
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
    chart(names, results, f"bench/results/echo-{stamp}")


def chart(names, results, stem):
    """Server CPU per message relative to raw epoll, one group per configuration."""
    data = stem + ".dat"
    with open(data, "w") as f:
        f.write("config " + " ".join(f'"{n}"' for n in names) + "\n")
        for conns, size in CONFIGS:
            base = results[("raw epoll", conns, size)]["cpu_us"]
            f.write(f'"{conns}x{size}B" ' +
                    " ".join(f"{results[(n, conns, size)]['cpu_us'] / base:.3f}" for n in names) +
                    "\n")
    script = (f'set terminal pngcairo size 900,450; set output "{stem}.png";'
              'set title "Server CPU per message, relative to raw epoll (lower is better)";'
              'set style data histograms; set style fill solid border -1; set key top left;'
              'set yrange [0:*]; set ylabel "x raw epoll";'
              f'plot for [i=2:{len(names) + 1}] "{data}" using i:xtic(1) title columnhead')
    try:
        subprocess.run(["gnuplot", "-e", script], check=True, timeout=60)
        print(f"chart: {stem}.png", file=sys.stderr)
    except (OSError, subprocess.SubprocessError) as e:
        print(f"no chart ({e})", file=sys.stderr)


if __name__ == "__main__":
    main()
