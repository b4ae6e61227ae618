#!/bin/sh
# SPDX-License-Identifier: MIT
# Multicast over a real link: two network namespaces made here, joined by a veth pair, with
# csock's peer joining a group in one and sending to it from the other, for IPv6 (link-local
# group ff02::1:3) and IPv4 (239.1.2.3). Nothing leaves the two namespaces. The peers enter them
# with nsenter, which changes only the network namespace (ip netns exec and ip -n also remount /
# and /sys, which a chroot does not allow). Needs root (ip netns); exits 77 (skipped) with the reason
# otherwise. Usage: multicast_veth.sh PATH_TO_PEER
set -u
peer=$1
. "$(dirname "$0")/needs.sh"
needs ip iproute2
needs nsenter util-linux
a=csock-a-$$
b=csock-b-$$
if ! ip netns add "$a" 2>/dev/null; then
    echo "SKIP: cannot create network namespaces (ip netns add) here" >&2
    exit 77
fi
dir=$(mktemp -d)
cleanup() {
    ip netns del "$a" 2>/dev/null
    ip netns del "$b" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
in_ns() { # NAMESPACE COMMAND...: runs COMMAND in that network namespace
    netns=$1
    shift
    nsenter --net="/run/netns/$netns" "$@"
}
set -e
ip netns add "$b"
ip link add cs0 netns "$a" type veth peer name cs1 netns "$b"
in_ns "$a" ip addr add 10.61.0.1/24 dev cs0
in_ns "$b" ip addr add 10.61.0.2/24 dev cs1
for ns in "$a" "$b"; do in_ns "$ns" ip link set lo up; done
in_ns "$a" ip link set cs0 up
in_ns "$b" ip link set cs1 up
set +e

passed=0
failed=0
run() { # name group
    out="$dir/recv.out"
    mkfifo "$dir/fifo"
    in_ns "$b" "$peer" mcast-recv "$2" cs1 >"$dir/fifo" 2>"$dir/recv.err" &
    receiver=$!
    exec 3<"$dir/fifo"
    read -r ready port <&3
    if [ "$ready" = ready ]; then
        in_ns "$a" "$peer" mcast-send "$2" "$port" cs0 >"$dir/send.out" 2>&1
        sent=$?
    else
        sent=1
    fi
    cat <&3 >"$out"
    exec 3<&-
    wait "$receiver"
    received=$?
    rm -f "$dir/fifo"
    if [ $sent = 0 ] && [ $received = 0 ] && grep -q '^got m from ' "$out" &&
        grep -q '^acked by ' "$dir/send.out"; then
        echo "ok   $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1: sender: $(cat "$dir/send.out"); receiver: $(cat "$out" "$dir/recv.err")"
        failed=$((failed + 1))
    fi
}
run "ipv6 multicast across a link" ff02::1:3
run "ipv4 multicast across a link" 239.1.2.3
echo "$passed passed, $failed failed"
[ $failed = 0 ]
