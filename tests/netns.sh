#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs a command in a network namespace of its own, where only the loopback interface exists, so
# nothing it sends (multicast, broadcast, raw packets) can reach any other host. Exits 77
# (skipped) with the reason where namespaces cannot be made or ip is missing; fails if the
# namespace, once made, cannot be set up.
set -eu
if [ "${CSOCK_NETNS_INSIDE:-}" = 1 ]; then
    if ! err=$(ip link set lo up 2>&1); then
        echo "netns.sh: cannot bring up loopback in the test's network namespace: $err" >&2
        exit 1
    fi
    exec "$@"
fi
. "$(dirname "$0")/needs.sh"
needs unshare util-linux
needs ip iproute2
if ! unshare -n true 2>/dev/null && ! unshare -rn true 2>/dev/null; then
    echo "SKIP: cannot create a network namespace here" >&2
    exit 77
fi
flags=-n
unshare -n true 2>/dev/null || flags=-rn
CSOCK_NETNS_INSIDE=1 exec unshare $flags sh "$0" "$@"
