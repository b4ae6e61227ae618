# SPDX-License-Identifier: MIT
"""Charts of the newest echo and cli reports in bench/results/ (the JSON echo.py and cli.py
write), drawn with matplotlib (Debian's python3-matplotlib), to bench/*.png:

- echo-rate.png, echo-cpu.png, echo-p99.png: messages/s, server CPU per message and p99 latency
  of each echo server, absolute, one group per configuration, with error bars for the 95%
  confidence interval of each median (order statistics over the paired windows);
- cli.png: MiB/s of the csock tool, nc and socat, from a file and from a pipe, the median of the
  runs with their range as error bars.

Each chart names the machine and the date of its figures. Usage: charts.py [RESULTS_DIR]"""
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
OUT = os.path.dirname(os.path.abspath(__file__))


def newest(kind):
    files = sorted(glob.glob(os.path.join(RESULTS, f"{kind}-*.json")))
    if not files:
        return None
    with open(files[-1]) as f:
        return json.load(f)


def bars(ax, groups, series, values, errors, ylabel):
    """Grouped bars: values[s][g] with asymmetric errors[s][g] = (low, high)."""
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        low = [v - e[0] for v, e in zip(values[name], errors[name])]
        high = [e[1] - v for v, e in zip(values[name], errors[name])]
        ax.bar(xs, values[name], width, label=name, yerr=[low, high], capsize=3)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")


def echo_charts(d):
    groups = [f"{c['connections']} x {c['size']} B" for c in d["configs"]]
    servers = d["servers"]
    what = [("rate", "messages/s (higher is better)", "echo-rate.png",
             "Echo servers: messages per second"),
            ("cpu_us", "server CPU per message (µs, lower is better)", "echo-cpu.png",
             "Echo servers: server CPU time per message"),
            ("p99", "p99 round-trip latency (µs, lower is better)", "echo-p99.png",
             "Echo servers: 99th-percentile latency")]
    for key, ylabel, name, title in what:
        values = {s: [c["results"][s][key + "_ci"][0] for c in d["configs"]] for s in servers}
        errors = {s: [c["results"][s][key + "_ci"][1:] for c in d["configs"]] for s in servers}
        fig, ax = plt.subplots(figsize=(10, 4.8))
        bars(ax, groups, servers, values, errors, ylabel)
        if key != "cpu_us":
            ax.set_yscale("log")
        ax.set_xlabel("connections x message size")
        ax.set_title(f"{title}\n{d['rounds']} paired windows of {d['window']:g} s; bars: median, "
                     f"error bars: 95% CI; {d['machine']}, {d['date']}", fontsize="medium")
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, name), dpi=90)
        plt.close(fig)
        print(f"chart: bench/{name}")


def cli_chart(d):
    sources = [("file", "from a file"), ("pipe", "from a pipe (cat)")]
    tools = list(d["mib_per_s"]["file"])
    values, errors = {}, {}
    for t in tools:
        runs = [d["mib_per_s"][s][t] for s, _ in sources]
        values[t] = [sorted(r)[len(r) // 2] for r in runs]
        errors[t] = [(min(r), max(r)) for r in runs]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    bars(ax, [label for _, label in sources], tools, values, errors,
         "throughput (MiB/s, higher is better)")
    ax.set_xlabel("sender's standard input")
    ax.set_title(f"{d['megabytes']} MiB over loopback TCP, each tool to itself\n"
                 f"median of {d['runs']} interleaved runs, error bars: min-max; "
                 f"{d['machine']}, {d['date']}", fontsize="medium")
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "cli.png"), dpi=90)
    plt.close(fig)
    print("chart: bench/cli.png")


def main():
    echo, cli = newest("echo"), newest("cli")
    if echo:
        echo_charts(echo)
    if cli:
        cli_chart(cli)
    if not echo and not cli:
        print(f"charts: no echo-*.json or cli-*.json in {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
