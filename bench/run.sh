#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the benchmarks against the build in $1 and keeps the reports in bench/results/.
set -eu
build=${1:-build}
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)

# The echo and connect comparisons need libuv and libevent (for their reference servers and
# client), the charts matplotlib: installed here where possible (Debian, as root), then built.
if ! pkg-config --exists libuv libevent 2>/dev/null || [ ! -d /usr/lib/python3/dist-packages/matplotlib ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends libuv1-dev libevent-dev \
            python3-matplotlib pkg-config >/dev/null
        cmake "$build" >/dev/null
        cmake --build "$build" -j2
    else
        echo "bench: without libuv1-dev, libevent-dev and python3-matplotlib, their parts are" \
            "left out" >&2
    fi
fi

"$build/bench/bench-stream" "${ROUNDS:-7}" "${PINGPONGS:-50000}" "${MEGABYTES:-256}" |
    tee "bench/results/stream-$stamp.md"
echo
"$build/bench/bench-datagram" "${DGRAM_ROUNDS:-11}" "${DATAGRAMS:-200000}" |
    tee "bench/results/datagram-$stamp.md"
echo
"$build/bench/bench-sendfile" "${SENDFILE_ROUNDS:-7}" "${SENDFILE_MEGABYTES:-256}" |
    tee "bench/results/sendfile-$stamp.md"
echo
# The soak fails the run if descriptors or memory do not come back.
if ! "$build/bench/soak" "${SOAK_CYCLES:-100000}" "${SOAK_FAILURES:-10000}" \
    >"bench/results/soak-$stamp.md"; then
    cat "bench/results/soak-$stamp.md"
    exit 1
fi
cat "bench/results/soak-$stamp.md"
echo
# csock's blocking TLS against hand-written OpenSSL code (where csock is built with TLS).
if [ -x "$build/bench/bench-tls" ]; then
    "$build/bench/bench-tls" "${TLS_ROUNDS:-7}" "${TLS_PINGPONGS:-20000}" "${TLS_MEGABYTES:-64}" |
        tee "bench/results/tls-$stamp.md"
    echo
fi
"$build/bench/bench-connect" "${CONNECT_ROUNDS:-20}" "${CONNECT_WINDOW:-0.5}" 50 -- \
    "$build/examples/echo/echo-server" 127.0.0.1:0 | tee "bench/results/connect-$stamp.md"
echo
python3 bench/echo.py "$build" "${ECHO_ROUNDS:-60}" "${ECHO_WINDOW:-0.25}" "${ECHO_RUNS:-5}" "${ECHO_SECONDS:-2}"
echo
# The TLS echo comparison: csock against hand-written OpenSSL + epoll and libevent's
# bufferevent_openssl (where csock is built with TLS).
if [ -x "$build/bench/tlsgen" ]; then
    python3 bench/tls_echo.py "$build" "${TLS_ECHO_ROUNDS:-20}" "${ECHO_WINDOW:-0.25}" \
        "${ECHO_RUNS:-5}" "${ECHO_SECONDS:-2}" "${TLS_IDLE:-2000}"
    echo
fi
# The csock tool against OpenBSD netcat, socat and (over TLS) ncat, installed here where possible.
if ! command -v nc >/dev/null || ! command -v socat >/dev/null || ! command -v ncat >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq --no-install-recommends netcat-openbsd socat ncat >/dev/null
    fi
fi
python3 bench/cli.py "$build/tools/csock/csock" "${CLI_RUNS:-7}" "${CLI_MEGABYTES:-1024}" |
    tee "bench/results/cli-$stamp.md"
# The charts, with whichever Python has matplotlib (Debian's, where python3 is another).
for py in python3 /usr/bin/python3; do
    if "$py" -c 'import matplotlib' 2>/dev/null; then
        "$py" bench/charts.py bench/results
        break
    fi
done
echo "reports: bench/results/"
