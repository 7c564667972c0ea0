#!/bin/bash
# Rebuild the Cyrus recorder and re-record every transcript into fixtures/cyrus/.
# Needs the apt packages listed in tools/cyrus/README.md (and python3).
# Every run makes new nonces, so every file changes; that is expected.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/fixtures/cyrus}"
build="$here/build"
"$here/build.sh" >/dev/null
REC=("$build/record")
tmp="$(mktemp -d /tmp/cyrus-rec.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out" "$out/3des-shim"
rm -f "$out"/*.json "$out"/3des-shim/*.json

n=0
# record NAME [record options...]   (default user alice/secret, realm example.com)
record() {
    local name="$1"; shift
    local has_user=0 a
    for a in "$@"; do [ "$a" = "--authcid" ] && has_user=1; done
    local base=()
    [ $has_user = 0 ] && base=(--authcid alice --password secret)
    "${REC[@]}" "${base[@]}" "$@" --out "$tmp/$name.raw" 2>"$tmp/$name.log" || {
        echo "recording $name failed:" >&2; cat "$tmp/$name.log" >&2; exit 1; }
    python3 "$here/finish.py" "$tmp/$name.raw" "$out/$name.json"
    if grep -q '^note:' "$tmp/$name.log"; then sed "s/^/  $name: /" "$tmp/$name.log"; fi
    n=$((n + 1))
}

R=(--server-realm example.com)
# layer message sizes, both directions interleaved; "max" = the sender's
# SASL_MAXOUTBUF (largest plaintext that fits one frame).
L="c:1,s:1,c:7,s:7,c:8,s:8,c:9,s:9,c:1000,s:1000"
# ... plus the largest single-frame message each way (kept to a few files: size)
LMAX="$L,c:max,s:max"
MANY="$(python3 -c 'print(",".join("%s:%d" % (d, (i * 37) % 300) for i in range(1, 41) for d in "cs"))')"

# ---- qop auth
record auth                       "${R[@]}" --client-ssf 0,0,65536
record auth-server-offers-only-auth "${R[@]}" --server-ssf 0,256,0
record auth-offer-edited-auth-only "${R[@]}" --offer-qop auth --offer-cipher -
record auth-imap-service          --service imap --host mail.example.org --server-realm mail.example.org --client-ssf 0,0,65536
record auth-no-realm-in-challenge --host ldap.example.com --offer-qop auth --offer-cipher - --remove-realm
# ---- auth-int
record auth-int                   "${R[@]}" --client-ssf 0,1,65536 --layer "$LMAX"
record auth-int-offer-only        "${R[@]}" --offer-qop auth-int --offer-cipher - --layer "$L"
record auth-int-authzid           "${R[@]}" --authzid bob --client-ssf 1,1,65536 --layer "$L"
record auth-int-many-messages     "${R[@]}" --client-ssf 1,1,65536 --layer "$MANY"
# ---- auth-conf: every cipher Cyrus delivers here, forced by editing the offer
for c in rc4-40 rc4-56 rc4 des; do
    record "auth-conf-$c"         "${R[@]}" --offer-qop auth-conf --offer-cipher "$c" --layer "$L"
done
# ---- auth-conf: the client's own choice from the full offer, steered by its ssf bounds
record auth-conf-rc4-40-by-ssf    "${R[@]}" --client-ssf 40,40,65536 --layer "$L"
record auth-conf-des-by-ssf       "${R[@]}" --client-ssf 55,55,65536 --layer "$L"
record auth-conf-rc4-56-by-ssf    "${R[@]}" --client-ssf 56,56,65536 --layer "$L"
record auth-conf-rc4-default      "${R[@]}" --layer "$LMAX"
record auth-conf-rc4-many-messages "${R[@]}" --layer "$MANY"
record auth-conf-des-many-messages "${R[@]}" --offer-qop auth-conf --offer-cipher des --layer "$MANY"
# ---- authzid
record auth-conf-rc4-authzid      "${R[@]}" --authzid bob --layer "$L"
record auth-authzid               "${R[@]}" --authzid bob --client-ssf 0,0,65536
record auth-authzid-equal-authcid "${R[@]}" --authzid alice --client-ssf 0,0,65536
record auth-conf-des-authzid-equal-authcid "${R[@]}" --authzid alice --offer-qop auth-conf --offer-cipher des --layer "$L"
# ---- non-ASCII (UTF-8) identities
record auth-utf8-latin1           "${R[@]}" --authcid 'Jürgen' --password 'pässwörd' --client-ssf 0,0,65536
record auth-conf-rc4-utf8-latin1  "${R[@]}" --authcid 'Jürgen' --password 'pässwörd' --layer "$L"
record auth-utf8-nonlatin1        "${R[@]}" --authcid '用户' --password 'пароль' --client-ssf 0,0,65536
record auth-int-utf8-nonlatin1    "${R[@]}" --authcid '用户' --password 'пароль' --client-ssf 1,1,65536 --layer "$L"
record auth-utf8-mixed-latin1-user-cyrillic-password "${R[@]}" --authcid 'Jürgen' --password 'пароль' --client-ssf 0,0,65536
record auth-utf8-latin1-realm     --server-realm 'exämple.org' --authcid 'Jürgen' --password 'pässwörd' --client-ssf 0,0,65536
record auth-utf8-authzid          "${R[@]}" --authcid 'Jürgen' --password 'pässwörd' --authzid 'Zoë' --client-ssf 0,0,65536
record auth-username-quote-backslash "${R[@]}" --authcid 'a"b\c' --password 'p"w\d' --client-ssf 0,0,65536
# ---- several realms offered
record auth-realms-client-picks-second "${R[@]}" --add-realm other.org --add-realm third.net --client-realm other.org --db-realm example.com --db-realm other.org --client-ssf 0,0,65536
record auth-conf-rc4-realms-client-picks-first "${R[@]}" --add-realm other.org --client-realm example.com --layer "$L"
# ---- maxbuf
record auth-int-maxbuf-1024       "${R[@]}" --server-ssf 0,256,1024 --client-ssf 1,1,1024 --layer "c:1,s:1,c:max-1,s:max-1,c:max,s:max,c:max+100,s:max+100"
record auth-conf-des-maxbuf-4096  "${R[@]}" --server-ssf 0,256,4096 --client-ssf 0,256,4096 --offer-qop auth-conf --offer-cipher des --layer "c:1,s:1,c:max-7,s:max-7,c:max,s:max,c:max+1,s:max+1"
record auth-conf-rc4-maxbuf-asymmetric "${R[@]}" --server-ssf 0,256,2048 --client-ssf 0,256,65536 --layer "c:1,s:1,c:max,s:max,c:3000,s:70000"
record auth-conf-rc4-maxbuf-16777215 "${R[@]}" --server-ssf 0,256,16777215 --client-ssf 0,256,16777215 --layer "c:1,s:1,c:70000,s:70000"
record auth-int-maxbuf-17         "${R[@]}" --server-ssf 0,256,17 --client-ssf 1,1,17 --layer "c:1,s:1,c:2"
# ---- rspauth as a final challenge answered by an empty client token
record auth-empty-final           "${R[@]}" --empty-final --client-ssf 0,0,65536
record auth-conf-rc4-empty-final  "${R[@]}" --empty-final --layer "$L"
# ---- subsequent authentication (nc=2) from the reauth caches
record reauth-auth                "${R[@]}" --reauth --client-ssf 0,0,65536
record reauth-auth-int            "${R[@]}" --reauth --client-ssf 1,1,65536 --layer "$L"
record reauth-auth-conf-rc4       "${R[@]}" --reauth --layer "$L"
record reauth-auth-conf-des-empty-final "${R[@]}" --reauth --empty-final --offer-qop auth-conf --offer-cipher des --layer "$L"

# ---- 3des: only with the DES_key_sched shim (see des_shim.c / README.md)
n_main=$n
REC=(env LD_PRELOAD="$build/des_shim.so" "$build/record")
out_main="$out"; out="$out_main/3des-shim"
record auth-conf-3des             "${R[@]}" --offer-qop auth-conf --offer-cipher 3des --layer "$LMAX"
record auth-conf-3des-by-ssf      "${R[@]}" --client-ssf 112,112,65536 --layer "$L"
record auth-conf-3des-many-messages "${R[@]}" --offer-qop auth-conf --offer-cipher 3des --layer "$MANY"
record auth-conf-3des-maxbuf-4096 "${R[@]}" --server-ssf 0,256,4096 --client-ssf 112,112,4096 --layer "c:1,s:1,c:max,s:max,c:max+1"
for f in "$out"/*.json; do
    python3 - "$f" <<'EOF'
import json, sys
p = sys.argv[1]
s = open(p, encoding="utf-8").read()
s = s.replace('"source": "cyrus-sasl 2.1.28"',
              '"source": "cyrus-sasl 2.1.28 + DES_key_sched parity shim (tools/cyrus/des_shim.c)"', 1)
open(p, "w", encoding="utf-8").write(s)
EOF
done
echo "recorded $n_main transcripts into $out_main and $((n - n_main)) into $out"
