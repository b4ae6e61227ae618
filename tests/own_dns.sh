#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs a command where names are looked up by DNS only, from the test's own DNS server
# (tests/dns_server.py) on 127.0.0.1:53 in network and mount namespaces of the test's own, with
# only loopback up: no query can leave the machine, and the answers' timing is the test's.
#   tests/own_dns.sh PYTHON COMMAND...
# Exits 77 (skipped) with the reason where the namespaces cannot be made or a tool is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "${CSOCK_OWN_DNS_INSIDE:-}" = 1 ]; then
    python=$1
    shift
    if ! err=$(ip link set lo up 2>&1); then
        echo "own_dns.sh: cannot bring up loopback in the test's network namespace: $err" >&2
        exit 1
    fi
    dir=$(mktemp -d)
    mount -t tmpfs csock-own-dns "$dir"
    printf 'hosts: dns\n' >"$dir/nsswitch.conf"
    printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:1\n' >"$dir/resolv.conf"
    if [ -f /etc/nsswitch.conf ] && [ -f /etc/resolv.conf ]; then
        mount --bind "$dir/nsswitch.conf" /etc/nsswitch.conf
        mount --bind "$dir/resolv.conf" /etc/resolv.conf
    else # a file to mount over is missing: a copy of /etc with both, seen in its place
        mkdir "$dir/etc"
        cp -a /etc/. "$dir/etc/"
        rm -f "$dir/etc/nsswitch.conf" "$dir/etc/resolv.conf"
        cp "$dir/nsswitch.conf" "$dir/resolv.conf" "$dir/etc/"
        mount --bind "$dir/etc" /etc
    fi
    mkfifo "$dir/ready"
    "$python" "$here/dns_server.py" >"$dir/ready" &
    server=$!
    read -r line <"$dir/ready" || line=
    if [ "$line" != ready ]; then
        echo "own_dns.sh: the test's DNS server did not start" >&2
        exit 1
    fi
    rc=0
    "$@" || rc=$?
    kill "$server"
    wait "$server" 2>/dev/null || true
    exit "$rc"
fi
. "$here/needs.sh"
needs unshare util-linux
needs ip iproute2
needs mount mount
if unshare -n -m --propagation private true 2>/dev/null; then
    flags="-n -m --propagation private"
elif unshare -rnm --propagation private true 2>/dev/null; then
    flags="-rnm --propagation private"
else
    echo "SKIP: cannot create network and mount namespaces here (in a chroot, bind-mount its" \
        "root directory onto itself first)"
    exit 77
fi
CSOCK_OWN_DNS_INSIDE=1 exec unshare $flags sh "$0" "$@"
