#!/bin/bash
# Build the Cyrus SASL throughput harness (bench.c) and the 3des LD_PRELOAD shim
# against the system libsasl2. Needs: gcc, libsasl2-dev, libsasl2-modules,
# libsasl2-modules-db, libssl-dev.
# Output: $CYRUS_TOOLS_OUT (default tools/cyrus/build)/bench and des_shim.so.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${CYRUS_TOOLS_OUT:-$here/build}"
mkdir -p "$out"
CC="${CC:-cc}"
CFLAGS="${CFLAGS:--O2 -g -Wall -Wextra -Wno-unused-function -Wno-cast-function-type}"
$CC $CFLAGS -o "$out/bench" "$here/bench.c" -lsasl2
$CC $CFLAGS -Wno-deprecated-declarations -shared -fPIC -o "$out/des_shim.so" "$here/des_shim.c" -lcrypto
echo "built $out/bench and $out/des_shim.so"
