#!/bin/bash
# Speed of our libdigestmd5.so against Debian's, in one harness: tools/cyrus/bench.c
# (a real libsasl2 client and server in one process, sasldb passwords) run twice,
# with SASL_PATH holding only the DIGEST-MD5 plugin under test and the sasldb
# auxprop plugin. Debian's 3des needs the parity shim (tools/cyrus/des_shim.c);
# ours does not. Prints a Markdown table (MB/s of plaintext through sasl_encode +
# sasl_decode, thread CPU time; authentications per second).
# Usage: bash cyrus-plugin/bench.sh [MS_PER_POINT (default 1000)]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ms="${1:-1000}"
plugins=/usr/lib/x86_64-linux-gnu/sasl2
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build -q --release -p sasl-digest-md5-cyrus)
bash "$root/tools/cyrus/build_bench.sh" >/dev/null
bench="$root/tools/cyrus/build/bench"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/ours" "$tmp/debian"
cp "$target/release/libdigestmd5.so" "$tmp/ours/"
ln -s "$plugins/libdigestmd5.so" "$tmp/debian/"
for d in ours debian; do ln -s "$plugins/libsasldb.so" "$tmp/$d/"; done
args=(--sizes 1024,16384 --ms "$ms" --auth-ms "$ms")
SASL_PATH="$tmp/debian" "$bench" "${args[@]}" > "$tmp/debian.jsonl"
SASL_PATH="$tmp/debian" LD_PRELOAD="$root/tools/cyrus/build/des_shim.so" \
    "$bench" --ciphers 3des --no-auth --shim "${args[@]}" > "$tmp/debian-3des.jsonl"
SASL_PATH="$tmp/ours" "$bench" "${args[@]}" > "$tmp/ours.jsonl"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
def load(name):
    return [json.loads(l) for l in open(f"{d}/{name}.jsonl") if l.strip()]
deb = load("debian") + load("debian-3des")
ours = load("ours")
def key(r):
    return (r["qop"], r["cipher"] or "", r["size"])
def rows(rs):
    return {key(r): r for r in rs if r["kind"] == "seal_unseal"}
D, O = rows(deb), rows(ours)
# Debian's plugin cannot key 3des without the shim, ours can: proof of which one ran.
assert any(r["kind"] == "error" and r["cipher"] == "3des" for r in load("debian")), "Debian's plugin keyed 3des?"
assert ("auth-conf", "3des", 1024) in O and not O[("auth-conf", "3des", 1024)]["shim"], "ours did not run 3des"
print("| qop / cipher | size | Debian's plugin MB/s | ours MB/s | ours / Debian |")
print("|---|---|---|---|---|")
worst = None
for k in sorted(O, key=lambda k: (["auth-int","auth-conf"].index(k[0]), ["","rc4","rc4-56","rc4-40","des","3des"].index(k[1]), k[2])):
    o, b = O[k]["mb_per_s"], D[k]["mb_per_s"] if k in D else None
    name = k[0] + (" " + k[1] if k[1] else "") + (" (Debian with shim)" if k in D and D[k]["shim"] else "")
    r = o / b if b else None
    worst = r if worst is None or (r and r < worst) else worst
    print(f"| {name} | {k[2] // 1024} KiB | {b:.1f} | {o:.1f} | {r:.2f}x |")
a_d = next(r["per_s"] for r in deb if r["kind"] == "auth_per_s")
a_o = next(r["per_s"] for r in ours if r["kind"] == "auth_per_s")
print(f"| authentications per second (sasldb) | | {a_d:.0f} | {a_o:.0f} | {a_o / a_d:.1f}x |")
print(f"\nlowest throughput ratio: {worst:.2f}x")
PY
