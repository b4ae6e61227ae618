# SPDX-License-Identifier: MIT
"""TLS echo servers side by side: csock's echo server with TLS (bench/servers/csock_tls.c: the
echo example with a TLS context in its server's configuration) against the same server written by
hand on raw epoll and OpenSSL (bench/servers/epoll_tls.c) and on libevent's bufferevent_openssl
(bench/servers/libevent_tls.c), all with OpenSSL's defaults (TLS 1.3, an ECDSA P-256 certificate
made for the run). The server runs on core 0 and the TLS load generator (bench/tlsgen.c) on
core 1.

Measures, per server, in echo.py's paired windows: messages/s, server CPU per message and p99
latency for 1, 100 and 1000 connections with 64-byte and 4 KiB messages; then the median of RUNS
runs of SECONDS of full handshakes per second (50 at a time: connect, handshake, 64 bytes out and
back, close) with the server's CPU per handshake; and server memory per idle TLS connection (RSS
with IDLE connections, each past its handshake and one echo, minus RSS with none). Ratios are
against the hand-written server. Writes a Markdown report and JSON to bench/results/.

Usage: tls_echo.py BUILD_DIR [ROUNDS] [WINDOW] [RUNS] [SECONDS] [IDLE]"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import echo

BUILD = sys.argv[1]
IDLE = int(sys.argv[6]) if len(sys.argv) > 6 else 2000
REF = "raw epoll + OpenSSL"


def servers(cert, key):
    b = lambda p: os.path.join(BUILD, p)  # noqa: E731
    return {
        REF: [b("bench/echo-epoll-tls"), "127.0.0.1", "0", cert, key],
        "csock": [b("bench/echo-csock-tls"), "127.0.0.1:0", cert, key],
        "libevent": [b("bench/echo-libevent-tls"), "127.0.0.1", "0", cert, key],
    }


def handshake_run(name):
    s = echo.Server(name)
    try:
        before = s.cpu()
        r = echo.loadgen("handshakes", "127.0.0.1", s.port, 50, echo.SECONDS)
        used = s.cpu() - before
    finally:
        s.stop()
    return float(r["rate"]), used / max(1, int(r["handshakes"])) * 1e6


def main():
    tmp = tempfile.mkdtemp(prefix="csock-bench-tls-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-subj", "/CN=localhost", "-days", "2"], check=True, capture_output=True)
    echo.SERVERS = servers(cert, key)
    echo.REF = REF
    echo.LOADGEN = os.path.join(BUILD, "bench/tlsgen")
    names = [n for n in echo.SERVERS if os.path.exists(echo.SERVERS[n][0])]
    try:
        results = {}
        for conns, size in echo.CONFIGS:
            rounds = echo.echo_rounds(names, conns, size)
            for name in names:
                vals = {k: [x[name][k] for x in rounds] for k in rounds[0][name]}
                r = {k: echo.median(v) for k, v in vals.items()}
                r.update({k + "_ci": echo.median_interval(v) for k, v in vals.items()})
                r.update({k + "_vs": echo.median_interval([x[name][k] / x[REF][k] for x in rounds])
                          for k in vals})
                results[(name, conns, size)] = r
                print(f"  {name}, {conns} x {size} B: " +
                      ", ".join(f"{k} {r[k]:.4g} ({r[k + '_vs'][0]:.3f})" for k in vals),
                      file=sys.stderr)
        shakes = {n: [] for n in names}
        idle = {n: [] for n in names}
        for _ in range(echo.RUNS):
            for name in names:
                shakes[name].append(handshake_run(name))
                idle[name].append(echo.idle_bytes(name, IDLE))
    finally:
        shutil.rmtree(tmp)
    rate = {n: echo.median([r for r, _ in v]) for n, v in shakes.items()}
    cpu = {n: echo.median([c for _, c in v]) for n, v in shakes.items()}
    idle = {n: echo.median(v) for n, v in idle.items()}

    lines = [f"TLS echo servers (TLS 1.3, ECDSA P-256, OpenSSL's defaults), {echo.ROUNDS} rounds "
             f"of one {echo.WINDOW:g} s window per server (blocks of {echo.BLOCK}); server on "
             f"core 0, load generator on core 1. Figures are medians over the windows; ratios are "
             f"the median of each window's figure over the hand-written server's in the same "
             f"round, with its 95% confidence interval.", "",
             "| server | connections | message | messages/s | vs raw | server CPU/message (us) "
             "| vs raw | p99 (us) | vs raw |", "|---|---|---|---|---|---|---|---|---|"]
    for conns, size in echo.CONFIGS:
        for name in names:
            r = results[(name, conns, size)]
            lines.append(f"| {name} | {conns} | {size} B | {r['rate']:.0f} | "
                         f"{echo.ratio(r['rate_vs'], name == REF)} | {r['cpu_us']:.2f} | "
                         f"{echo.ratio(r['cpu_us_vs'], name == REF)} | {r['p99']:.0f} | "
                         f"{echo.ratio(r['p99_vs'], name == REF)} |")
    lines += ["", f"Full handshakes (50 at a time; median of {echo.RUNS} runs of "
              f"{echo.SECONDS:g} s) and memory per idle TLS connection ({IDLE} held):", "",
              "| server | handshakes/s | vs raw | server CPU/handshake (us) | vs raw "
              "| bytes per idle connection |", "|---|---|---|---|---|---|"]
    for name in names:
        lines.append(f"| {name} | {rate[name]:.0f} | {rate[name] / rate[REF]:.3f} | "
                     f"{cpu[name]:.0f} | {cpu[name] / cpu[REF]:.3f} | {idle[name]:.0f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs("bench/results", exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(f"bench/results/tls-echo-{stamp}.md", "w") as f:
        f.write(report)
    with open(f"bench/results/tls-echo-{stamp}.json", "w") as f:
        json.dump({"machine": echo.machine(), "date": time.strftime("%Y-%m-%d"),
                   "rounds": echo.ROUNDS, "window": echo.WINDOW, "servers": names,
                   "configs": [{"connections": c, "size": sz,
                                "results": {n: results[(n, c, sz)] for n in names}}
                               for c, sz in echo.CONFIGS],
                   "handshakes": rate, "handshake_cpu_us": cpu, "idle_bytes": idle}, f, indent=1)


if __name__ == "__main__":
    main()
