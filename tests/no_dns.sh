#!/bin/sh
# Runs a command where host names are looked up in /etc/hosts only, so a test of a name that does
# not resolve sends no DNS query anywhere. The hosts file seen there also names csock-dual, a
# host with two loopback addresses (::1 and 127.0.0.1), for tests that try every address. Needs a
# private mount namespace (root, or user namespaces) and mount; exits 77 (skipped) with the
# reason where that cannot be had.
set -eu
if [ "${CSOCK_NO_DNS_INSIDE:-}" = 1 ]; then
    dir=$(mktemp -d)
    if [ -e /etc/hosts ]; then
        : >"$dir/nsswitch.conf"
        : >"$dir/hosts"
        mount --bind "$dir/nsswitch.conf" /etc/nsswitch.conf
        mount --bind "$dir/hosts" /etc/hosts
        rm -f "$dir/nsswitch.conf" "$dir/hosts"
    else # no file to mount over: a copy of /etc with both, in memory, seen in its place
        mount -t tmpfs csock-etc "$dir"
        cp -a /etc/. "$dir/"
        mount --move "$dir" /etc
    fi
    rmdir "$dir"
    # Written over what this namespace alone sees (set -e: never if a mount above failed).
    printf 'hosts: files\n' >/etc/nsswitch.conf
    printf '127.0.0.1 localhost\n::1 csock-dual\n127.0.0.1 csock-dual\n' >/etc/hosts
    exec "$@"
fi
. "$(dirname "$0")/needs.sh"
needs unshare util-linux
needs mount mount
if ! unshare -m --propagation private true 2>/dev/null &&
    ! unshare -rm --propagation private true 2>/dev/null; then
    if ! err=$(unshare -m --propagation private true 2>&1) && [ "$(id -u)" = 0 ] &&
        unshare -m --propagation unchanged true 2>/dev/null; then
        echo "SKIP: cannot make the mount namespace private ($err):" \
            "/ is not a mount point here (a chroot? bind-mount its directory onto itself first)"
    else
        echo "SKIP: cannot create a mount namespace here, so name lookups could reach DNS"
    fi
    exit 77
fi
flags=-m
unshare -m --propagation private true 2>/dev/null || flags=-rm
CSOCK_NO_DNS_INSIDE=1 exec unshare $flags --propagation private sh "$0" "$@"
