#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the tutorial's server and client on loopback and shows both sides' output, with their
# CSOCK_TRACE lines if that is set. The whole run is bounded: a server that has not finished
# within the limit is stopped, with a message saying what it was waiting for.
# Usage: demo.sh BUILD_DIR [SECONDS (default 20)]
set -eu
bin="$1/examples/tutorial"
limit=${2:-20}
dir=$(mktemp -d)
server=
watchdog=
trap 'for p in $server $watchdog; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
mkfifo "$dir/out"

"$bin/tutorial-server" 127.0.0.1 0 >"$dir/out" 2>&1 &
server=$!
# Stopping the server ends its output, so no read below can wait longer than the limit.
(
    sleep "$limit" &
    sleeper=$!
    trap 'kill "$sleeper"; exit' TERM # stopped early: the sleep goes too
    wait "$sleeper"
    touch "$dir/late"
    kill "$server"
) >/dev/null 2>&1 &
watchdog=$!
late() { # what the server was doing when the limit was reached
    echo "demo: stopped the server after $limit s: $1" >&2
    exit 1
}
exec 3<"$dir/out"
# The server names the port it got in its "listening on" line; trace lines may come before it.
port=
while IFS= read -r line <&3; do
    echo "[server] $line"
    case $line in
    "listening on "*:*)
        port=${line##*:}
        break
        ;;
    esac
done
if [ -z "$port" ]; then
    [ -e "$dir/late" ] && late 'it printed no "listening on HOST:PORT" line'
    echo "demo: the server ended without printing a \"listening on HOST:PORT\" line" >&2
    exit 1
fi

echo "[client] \$ tutorial-client 127.0.0.1 $port"
{
    rc=0
    "$bin/tutorial-client" 127.0.0.1 "$port" 2>&1 || rc=$?
    echo "$rc" >"$dir/client"
} | sed 's/^/[client] /'
if [ "$(cat "$dir/client")" != 0 ]; then
    echo "demo: the client failed" >&2
    exit 1
fi
while IFS= read -r line <&3; do echo "[server] $line"; done
status=0
wait "$server" || status=$?
server=
[ -e "$dir/late" ] && late "the client did not finish its exchange with it"
exit "$status"
