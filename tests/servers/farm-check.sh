#!/bin/bash
# Checks examples/farm.rs end to end (called from .ci/run): a throw-away Redis on a
# free 127.0.0.1 port; the example must print "reauthenticated: nc=2 on node B" and
# exit 0; with Redis stopped it must exit non-zero with exactly one error line.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=$(mktemp -d /tmp/sasl-digest-md5-farm.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
trap 'bash tests/servers/redis.sh stop "$DIR" "$PORT" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
cargo build -q --features redis --example farm
FARM=target/debug/examples/farm
[ -n "${CARGO_TARGET_DIR:-}" ] && FARM=$CARGO_TARGET_DIR/debug/examples/farm

bash tests/servers/redis.sh start "$DIR" "$PORT"
out=$("$FARM" --redis "redis://127.0.0.1:$PORT")
echo "$out"
grep -qx "reauthenticated: nc=2 on node B" <<<"$out" || { echo "farm: no nc=2 on node B" >&2; exit 1; }
grep -qx "reauthenticated: nc=3 on node A" <<<"$out" || { echo "farm: no nc=3 on node A" >&2; exit 1; }

bash tests/servers/redis.sh stop "$DIR" "$PORT"
if err=$("$FARM" --redis "redis://127.0.0.1:$PORT" 2>&1); then
    echo "farm: exited 0 without Redis" >&2; exit 1
fi
echo "without Redis: $err"
[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "^error: cannot reach Redis" <<<"$err" \
    || { echo "farm: expected one 'error: cannot reach Redis' line" >&2; exit 1; }
echo "farm example: ok"
