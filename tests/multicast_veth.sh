#!/bin/sh
# Multicast over a real link: two network namespaces made here, joined by a veth pair, with
# csock's peer joining a group in one and sending to it from the other, for IPv6 (link-local
# group ff02::1:3) and IPv4 (239.1.2.3). Nothing leaves the two namespaces. Needs root (ip netns);
# exits 77 (skipped) with the reason otherwise. Usage: multicast_veth.sh PATH_TO_PEER
set -u
peer=$1
. "$(dirname "$0")/needs.sh"
needs ip iproute2
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
set -e
ip netns add "$b"
ip link add cs0 netns "$a" type veth peer name cs1 netns "$b"
ip -n "$a" addr add 10.61.0.1/24 dev cs0
ip -n "$b" addr add 10.61.0.2/24 dev cs1
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set cs0 up
ip -n "$b" link set cs1 up
set +e

passed=0
failed=0
run() { # name group
    out="$dir/recv.out"
    mkfifo "$dir/fifo"
    ip netns exec "$b" "$peer" mcast-recv "$2" cs1 >"$dir/fifo" 2>"$dir/recv.err" &
    receiver=$!
    exec 3<"$dir/fifo"
    read -r ready port <&3
    if [ "$ready" = ready ]; then
        ip netns exec "$a" "$peer" mcast-send "$2" "$port" cs0 >"$dir/send.out" 2>&1
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
