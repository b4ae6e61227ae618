#!/bin/sh
# Runs the benchmarks against the build in $1 and keeps the report in bench/results/.
set -eu
build=${1:-build}
mkdir -p bench/results
out="bench/results/stream-$(date +%Y%m%d-%H%M%S).md"
"$build/bench/bench-stream" "${ROUNDS:-7}" "${PINGPONGS:-50000}" "${MEGABYTES:-256}" | tee "$out"
echo "report: $out"
