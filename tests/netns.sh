#!/bin/sh
# Runs a command in a network namespace of its own, where only the loopback interface exists, so
# nothing it sends (multicast, broadcast, raw packets) can reach any other host. Exits 77
# (skipped) with the reason where namespaces cannot be made.
set -eu
if [ "${CSOCK_NETNS_INSIDE:-}" = 1 ]; then
    ip link set lo up 2>/dev/null || true
    exec "$@"
fi
if ! unshare -n true 2>/dev/null && ! unshare -rn true 2>/dev/null; then
    echo "SKIP: cannot create a network namespace here" >&2
    exit 77
fi
flags=-n
unshare -n true 2>/dev/null || flags=-rn
CSOCK_NETNS_INSIDE=1 exec unshare $flags sh "$0" "$@"
