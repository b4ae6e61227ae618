#!/bin/sh
# Runs the tutorial's server and client on loopback and shows both sides' output.
# Usage: demo.sh BUILD_DIR [CSOCK_TRACE]
set -eu
bin="$1/examples/tutorial"
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkfifo "$dir/out"

"$bin/tutorial-server" 127.0.0.1 0 >"$dir/out" 2>&1 &
server=$!
exec 3<"$dir/out"
# The server's first line names the port it got; wait for it (bounded by the server itself).
IFS= read -r first <&3 || { echo "demo: the server did not start" >&2; exit 1; }
echo "[server] $first"
port=${first##*:}

echo "[client] \$ tutorial-client 127.0.0.1 $port"
"$bin/tutorial-client" 127.0.0.1 "$port" 2>&1 | sed 's/^/[client] /'
while IFS= read -r line <&3; do echo "[server] $line"; done
wait "$server"
