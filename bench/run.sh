#!/bin/sh
# Runs the benchmarks against the build in $1 and keeps the reports in bench/results/.
set -eu
build=${1:-build}
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
"$build/bench/bench-stream" "${ROUNDS:-7}" "${PINGPONGS:-50000}" "${MEGABYTES:-256}" |
    tee "bench/results/stream-$stamp.md"
echo
"$build/bench/bench-datagram" "${DGRAM_ROUNDS:-11}" "${DATAGRAMS:-200000}" |
    tee "bench/results/datagram-$stamp.md"
echo
"$build/bench/bench-sendfile" "${SENDFILE_ROUNDS:-7}" "${SENDFILE_MEGABYTES:-256}" |
    tee "bench/results/sendfile-$stamp.md"
echo "reports: bench/results/*-$stamp.md"
