#!/bin/sh
# SPDX-License-Identifier: MIT
# The ping example, black-box, in network namespaces made here (only loopback exists in them):
# as root over a raw socket; as an unprivileged user over an ICMP datagram socket where
# net.ipv4.ping_group_range allows it; and as that user where it does not, which must fail with
# a message naming the missing privilege. Needs root to set that up, and ip; exits 77 otherwise.
# Usage: ping.sh PATH_TO_PING NO_DNS_SH
set -u
ping=$1
no_dns=$2
. "$(dirname "$0")/needs.sh"
needs unshare util-linux
needs setpriv util-linux
needs ip iproute2
if [ "$(id -u)" != 0 ] || ! unshare -n true 2>/dev/null; then
    echo "SKIP: needs root and network namespaces to test each privilege path" >&2
    exit 77
fi
# The unprivileged user must reach the program wherever the build lives: run a copy.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cp "$ping" "$dir/ping"
chmod 755 "$dir/ping"
ping=$dir/ping
passed=0
failed=0
check() { # name, then a shell condition on $out and $rc
    name=$1
    shift
    if eval "$@"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: rc=$rc, output:"
        printf '%s\n' "$out" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}
# Runs a command in a fresh network namespace with lo up; $1 is the ping_group_range to set, or
# "-" to leave the default.
in_netns() {
    range=$1
    shift
    unshare -n sh -c 'ip link set lo up
        [ "$0" = - ] || echo "$0" > /proc/sys/net/ipv4/ping_group_range
        exec "$@"' "$range" "$@" 2>&1
}
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"

out=$(in_netns - "$ping" -v -c 3 -i 0.05 127.0.0.1); rc=$?
check "root, raw socket, IPv4" '[ $rc = 0 ] &&
    printf "%s" "$out" | grep -q "^ping: using a raw socket$" &&
    [ "$(printf "%s" "$out" | grep -c "^64 bytes from 127.0.0.1: icmp_seq=[123] ttl=64 time=")" = 3 ] &&
    printf "%s" "$out" | grep -q "^3 packets transmitted, 3 received, 0% packet loss$" &&
    printf "%s" "$out" | grep -q "^rtt min/avg/max = "'

out=$(in_netns - "$ping" -c 2 -i 0.05 -s 100 ::1); rc=$?
check "root, raw socket, IPv6, 100-byte payload" '[ $rc = 0 ] &&
    [ "$(printf "%s" "$out" | grep -c "^108 bytes from ::1: icmp_seq=[12] ttl=64 ")" = 2 ]'

out=$(in_netns "0 2147483647" $as_nobody "$ping" -v -c 2 -i 0.05 127.0.0.1); rc=$?
check "unprivileged, ICMP datagram socket, IPv4" '[ $rc = 0 ] &&
    printf "%s" "$out" | grep -q "^ping: using an unprivileged ICMP datagram socket$" &&
    printf "%s" "$out" | grep -q "^2 packets transmitted, 2 received, 0% packet loss$"'

out=$(in_netns "0 2147483647" $as_nobody "$ping" -c 2 -i 0.05 ::1); rc=$?
check "unprivileged, ICMP datagram socket, IPv6" '[ $rc = 0 ] &&
    printf "%s" "$out" | grep -q "^2 packets transmitted, 2 received, 0% packet loss$"'

out=$(in_netns "1 0" $as_nobody "$ping" -c 1 127.0.0.1); rc=$?
check "unprivileged, not allowed: says what is missing" '[ $rc = 2 ] &&
    [ "$out" = "ping: icmp socket AF_INET: raw sockets need CAP_NET_RAW (Operation not permitted), and ICMP datagram sockets are not allowed for group 65534 (net.ipv4.ping_group_range is \"1 0\")" ]'

out=$(in_netns - "$ping" -c 2 -i 0.05 -W 0.1 10.99.0.1); rc=$?
check "no route: errors and 100% loss" '[ $rc = 1 ] &&
    [ "$(printf "%s" "$out" | grep -c "^ping: icmp_send 10.99.0.1:0: Network is unreachable$")" = 2 ] &&
    printf "%s" "$out" | grep -q "^2 packets transmitted, 0 received, 100% packet loss$"'

out=$("$no_dns" "$ping" -c 1 nosuch.invalid 2>&1); rc=$?
check "unknown host" '[ $rc = 2 ] &&
    [ "$out" = "ping: resolve nosuch.invalid:0: Name or service not known" ]'

out=$("$ping" -4 -6 127.0.0.1 2>&1); rc=$?
check "usage: -4 with -6" '[ $rc = 2 ] && printf "%s" "$out" | grep -q "^ping: -4 and -6 cannot be used together$"'
out=$("$ping" -c 0 127.0.0.1 2>&1); rc=$?
check "usage: bad count" '[ $rc = 2 ] && printf "%s" "$out" | grep -q "^ping: -c needs a count of 1 or more$"'
out=$("$ping" -s 70000 127.0.0.1 2>&1); rc=$?
check "usage: payload too large" '[ $rc = 2 ] && printf "%s" "$out" | grep -q "^ping: -s takes a payload of 8 to 65000 bytes$"'
out=$("$ping" 2>&1); rc=$?
check "usage: no host" '[ $rc = 2 ] && printf "%s" "$out" | grep -q "^ping: give one host$"'

echo "$passed passed, $failed failed"
[ $failed = 0 ]
