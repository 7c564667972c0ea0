#!/usr/bin/env bash
# Rebuild the JDK recorder/peer and re-record fixtures/jdk/*.json from the JDK's
# own SunSASL DIGEST-MD5 client and server.
#   bash tools/jdk/record.sh            # all scenarios
#   bash tools/jdk/record.sh auth-basic # only the named scenario(s)
# Needs javac/java (JDK >= 11; recorded with 17). JAVA_HOME is honoured.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/fixtures/jdk"
bash "$here/build.sh"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if [ $# -eq 0 ]; then
  # full re-record: drop stale files so removed scenarios disappear
  mkdir -p "$out"
  find "$out" -maxdepth 1 -name '*.json' -delete
fi
"$java" -cp "$here/build" Record "$out" "$@"
if command -v python3 >/dev/null; then
  python3 "$here/check_transcripts.py" "$out"
fi
