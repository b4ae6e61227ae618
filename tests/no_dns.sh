#!/bin/sh
# Runs a command where host names are looked up in /etc/hosts only, so a test of a name that does
# not resolve sends no DNS query anywhere. The hosts file seen there also names csock-dual, a
# host with two loopback addresses (::1 and 127.0.0.1), for tests that try every address. Needs a private mount namespace (root, or user
# namespaces); exits 77 (skipped) with the reason where that is not allowed.
set -eu
if [ "${CSOCK_NO_DNS_INSIDE:-}" = 1 ]; then
    conf=$(mktemp)
    printf 'hosts: files\n' > "$conf"
    mount --bind "$conf" /etc/nsswitch.conf
    hosts=$(mktemp)
    printf '127.0.0.1 localhost\n::1 csock-dual\n127.0.0.1 csock-dual\n' > "$hosts"
    mount --bind "$hosts" /etc/hosts
    rm -f "$conf" "$hosts"
    exec "$@"
fi
if ! unshare -m --propagation private true 2>/dev/null &&
   ! unshare -rm --propagation private true 2>/dev/null; then
    echo "SKIP: cannot create a mount namespace here, so name lookups could reach DNS" >&2
    exit 77
fi
flags=-m
unshare -m --propagation private true 2>/dev/null || flags=-rm
CSOCK_NO_DNS_INSIDE=1 exec unshare $flags --propagation private sh "$0" "$@"
