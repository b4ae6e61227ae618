#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the whole test suite under the fault-injection shim once per seed:
#   tests/faults/run.sh BUILD SEED...
# Only csock's own programs (those under BUILD) are disturbed; each run's injected faults are
# logged to BUILD/faults/SEED.log. CSOCK_FAULTS_RATE and CSOCK_FAULTS_KINDS pass through, and
# arguments after "--" go to ctest (e.g. -R '^stream$'). Exits non-zero if any run failed.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD SEED... [-- CTEST-ARGS...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
shift
shim="$build/tests/libcsock_faults.so"
if [ ! -f "$shim" ]; then
    echo "$0: no $shim: build first" >&2
    exit 2
fi
if grep -q '^CSOCK_SANITIZE:STRING=.' "$build/CMakeCache.txt"; then
    echo "$0: $build is a sanitizer build: the shim runs on ordinary builds only" >&2
    exit 2
fi
seeds=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    seeds="$seeds $1"
    shift
done
[ $# -gt 0 ] && shift
mkdir -p "$build/faults"
failed=""
for seed in $seeds; do
    printf '\n==== faults: seed %s, rate %s\n' "$seed" "${CSOCK_FAULTS_RATE:-0.25}"
    rm -f "$build/faults/$seed.log"
    # The fuzz targets feed no sockets; they are left out.
    if ! LD_PRELOAD="$shim" CSOCK_FAULTS_SEED="$seed" CSOCK_FAULTS_ONLY="$build" \
        CSOCK_FAULTS_LOG="$build/faults/$seed.log" \
        ctest --test-dir "$build" --output-on-failure -j2 --timeout 120 -E '^fuzz_' "$@"; then
        failed="$failed $seed"
    fi
    printf 'faults injected with seed %s: %s\n' "$seed" \
        "$(wc -l <"$build/faults/$seed.log" 2>/dev/null || echo 0)"
done
if [ -n "$failed" ]; then
    echo "faults: failures with seed(s)$failed" >&2
    exit 1
fi
