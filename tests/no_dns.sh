#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs a command where host names are looked up in /etc/hosts only, so a test of a name that does
# not resolve sends no DNS query anywhere. The hosts file seen there also names csock-dual, a
# host with two loopback addresses (::1 and 127.0.0.1), for tests that try every address. Needs a
# mount namespace of its own whose mounts nothing outside sees (root, or user namespaces) and
# mount; exits 77 (skipped) with the reason where that cannot be had.
set -eu
if [ -n "${CSOCK_NO_DNS_INSIDE:-}" ]; then
    # The files live in memory, in a mount of this namespace's own.
    dir=$(mktemp -d)
    mount -t tmpfs csock-no-dns "$dir"
    if [ "$CSOCK_NO_DNS_INSIDE" = unchanged ] &&
        { awk -v d="$dir" '$5 == d' /proc/self/mountinfo | grep -q ' shared:' ||
            [ "$(stat -c %d "$dir/..")" != "$(stat -c %d /etc)" ]; }; then
        umount "$dir"
        rmdir "$dir"
        echo "SKIP: cannot keep mounts to this test: / is not a mount point (a chroot?) and" \
            "mounts under it may show outside; bind-mount the root directory onto itself first"
        exit 77
    fi
    printf 'hosts: files\n' >"$dir/nsswitch.conf"
    printf '127.0.0.1 localhost\n::1 csock-dual\n127.0.0.1 csock-dual\n' >"$dir/hosts"
    if [ -e /etc/hosts ]; then
        mount --bind "$dir/nsswitch.conf" /etc/nsswitch.conf
        mount --bind "$dir/hosts" /etc/hosts
    else # no file to mount over: a copy of /etc with both, seen in its place
        mkdir "$dir/etc"
        cp -a /etc/. "$dir/etc/"
        cp "$dir/nsswitch.conf" "$dir/hosts" "$dir/etc/"
        mount --bind "$dir/etc" /etc
    fi
    umount -l "$dir" # what is mounted from it stays
    rmdir "$dir"
    exec "$@"
fi
. "$(dirname "$0")/needs.sh"
needs unshare util-linux
needs mount mount
if unshare -m --propagation private true 2>/dev/null; then
    flags="-m --propagation private"
elif unshare -rm --propagation private true 2>/dev/null; then
    flags="-rm --propagation private"
elif [ "$(id -u)" = 0 ] && unshare -m --propagation unchanged true 2>/dev/null; then
    # A chroot, where / is not a mount point and so cannot be made private: inside, a mount is
    # checked to be seen nowhere else before anything is mounted over /etc.
    flags="-m --propagation unchanged"
else
    echo "SKIP: cannot create a mount namespace here, so name lookups could reach DNS"
    exit 77
fi
CSOCK_NO_DNS_INSIDE=${flags##* } exec unshare $flags sh "$0" "$@"
