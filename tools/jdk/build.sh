#!/usr/bin/env bash
# Compile tools/jdk/src/*.java into tools/jdk/build/ (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
javac="${JAVA_HOME:+$JAVA_HOME/bin/}javac"
mkdir -p "$here/build"
"$javac" -encoding UTF-8 -Xlint:all -Xlint:-serial -d "$here/build" "$here"/src/*.java
