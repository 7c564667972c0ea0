#!/usr/bin/env bash
# Run the JDK DIGEST-MD5 peer (builds it first if needed). Arguments go to Peer;
# see tools/jdk/README.md for the options and the line protocol.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -f "$here/build/Peer.class" ] || [ -n "$(find "$here/src" -newer "$here/build/Peer.class" -name '*.java')" ]; then
  bash "$here/build.sh" >&2
fi
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# --add-opens lets the peer read the JDK's receive sequence number, to tell a
# silently discarded message (bad MAC) from a genuinely empty one.
exec "$java" --add-opens java.security.sasl/com.sun.security.sasl.digest=ALL-UNNAMED \
  -cp "$here/build" Peer "$@"
