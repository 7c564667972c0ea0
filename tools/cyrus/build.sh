#!/bin/bash
# Build the Cyrus SASL recorder and peer against the system libsasl2.
# Needs: gcc, libsasl2-dev (see README.md for the full package list).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${CYRUS_TOOLS_OUT:-$here/build}"
mkdir -p "$out"
CC="${CC:-cc}"
CFLAGS="${CFLAGS:--O1 -g -Wall -Wextra -Wno-unused-function -Wno-cast-function-type}"
for prog in record peer; do
    if [ -f "$here/$prog.c" ]; then
        $CC $CFLAGS -o "$out/$prog" "$here/$prog.c" -lsasl2
    fi
done
# LD_PRELOAD shim for the 3des fixtures (see des_shim.c)
$CC $CFLAGS -Wno-deprecated-declarations -shared -fPIC -o "$out/des_shim.so" "$here/des_shim.c" -lcrypto
echo "built into $out"
