#!/usr/bin/env python3
"""Extracts small seed corpora for the fuzz targets from the recorded transcripts.

Usage: python3 fuzz/seed.py   (from anywhere; writes fuzz/seeds/<target>/)

Each seed is named by the SHA-1 of its content, so re-running is idempotent. Seeds are
deduplicated by "shape" (directive names and their non-nonce values) so the corpora
stay small; libFuzzer grows its own corpus in fuzz/corpus/ (not committed).
"""
import base64
import glob
import hashlib
import json
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEEDS = os.path.join(HERE, "seeds")


def shape(tok):
    """Directive names plus values, with nonce-like values blanked."""
    t = re.sub(rb'(c?nonce|response|rspauth|username|realm|authzid|maxbuf)=("[^"]*"|[^,]*)', rb"\1=*", tok)
    return t


def write(target, data, seen):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    seen.add(name)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    files = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*", "*.json")))
    challenges, responses, rspauths, wires, pairs, reauths = {}, {}, [], [], [], []
    for path in files:
        t = json.load(open(path))
        ex = [(e["from"], base64.b64decode(e["b64"]), e.get("reauth", False)) for e in t["exchange"]]
        first_c = first_r = None
        for frm, tok, reauth in ex:
            if not tok:
                continue
            if frm == "server" and tok.startswith(b"rspauth"):
                rspauths.append(tok)
            elif frm == "server":
                challenges.setdefault(shape(tok), tok)
                first_c = first_c or tok
            elif reauth:
                reauths.append(tok)
            else:
                responses.setdefault(shape(tok), tok)
                first_r = first_r or tok
        if first_c and first_r:
            pairs.append((first_c, first_r))
        for m in t.get("layer", [])[:3]:
            wires.append(base64.b64decode(m["wire_b64"]))

    seen = set()
    for tok in challenges.values():
        write("challenge", tok, seen)
    for tok in responses.values():
        write("response", tok, seen)
    for tok in rspauths[:3]:
        write("response", tok, seen)

    # client: policy byte, challenge, rspauth, extra, reauth answers.
    stale = b'nonce="fresh",stale=true,qop="auth,auth-int,auth-conf",cipher="rc4,des,3des",charset=utf-8,algorithm=md5-sess'
    for i, tok in enumerate(list(challenges.values())[:12]):
        sel = [0x00, 0x85, 0x86, 0x81, 0x9e, 0xc4, 0xa6, 0x04][i % 8]
        parts = [tok, b"!" if sel & 0x80 else rspauths[i % len(rspauths)], b"x", stale, b"!"]
        write("client", bytes([sel]) + b"\0".join(parts), seen)

    # server: policy byte, responses (first, then reauthentications).
    for i, tok in enumerate(list(responses.values())[:12]):
        sel = [0x80 | 0x1f, 0x07, 0x9f, 0xbf, 0x01, 0xc7][i % 6]
        parts = [tok] + reauths[i % max(1, len(reauths)):][:1]
        write("server", bytes([sel]) + b"\0".join(parts), seen)
    for tok in reauths[:4]:
        write("server", bytes([0xbf]) + tok, seen)

    # frame: 3 maxbuf bytes, a chunking seed, length-prefixed frames.
    for i in range(0, min(len(wires), 12), 3):
        stream = b"".join(struct.pack(">I", len(w)) + w for w in wires[i:i + 3])
        write("frame", bytes([0x01, 0x00, 0x00, 7 * i + 1]) + stream, seen)
        write("frame", bytes([0x80, 0x00, 0x40, 3]) + stream[:40], seen)
    write("frame", bytes([0x01, 0x00, 0x00, 1]) + b"\xff\xff\xff\xff", seen)

    # unseal: raw frames for each maxbuf choice, and tamper cases.
    for i in range(0, min(len(wires), 8), 2):
        stream = b"".join(struct.pack(">I", len(w)) + w for w in wires[i:i + 2])
        write("unseal", bytes([6]) + stream, seen)
    for sel in range(0x80, 0x86):
        write("unseal", bytes([sel, 3, 1, 20]) + b"\x01\x00\x80" + b"hello, world and more", seen)
    write("unseal", bytes([0xc4, 2, 1, 0, 0]) + b"wrap", seen)

    # Security-layer data for the mechanism targets (after the last token): raw
    # recorded frames (mode 0) and frames the peer seals, one changed (mode 1).
    layer_data = [b"\x01" + bytes([3, 1, 9, 5]) + b"\x00" * 7 + b"\x01" + b"hello, layer, and more",
                  b"\x01" + bytes([2, 0, 0, 1]) + b"\x00\x00\x00\xff" + b"\x00" * 4 + b"header swap",
                  b"\x01" + bytes([1, 0, 0, 0]) + b"\x00" * 8 + b"untouched"]
    layer_data += [b"\x00" + struct.pack(">I", len(w)) + w for w in wires[:2]]
    layer_data.append(b"\x00\x00\x00\x01")

    # mechanism_client: policy byte, challenge, three more tokens (empty: step(None)), layer data.
    layered = [c for c in challenges.values() if b"auth-int" in c or b"auth-conf" in c]
    for i, tok in enumerate(list(challenges.values())[:8] + layered[:6]):
        sel = [0x85, 0x86, 0x81, 0x80, 0x00, 0xc5, 0xa6, 0x9e][i % 8]
        rsp = [b"!", rspauths[i % len(rspauths)], b""][i % 3] if sel & 0x80 else rspauths[i % len(rspauths)]
        parts = [tok, rsp, b"junk", b"", layer_data[i % len(layer_data)]]
        write("mechanism_client", bytes([sel]) + b"\0".join(parts), seen)
    write("mechanism_client", bytes([0x81]) + b"\0".join([layered[0], b"", b"!", b"!", b"\x01"]), seen)

    # mechanism_server: policy byte, three tokens (empty: step(None)), layer data.
    reauth_tok = (b'username="alice",realm="example.com",nonce="x",cnonce="second-cnonce",nc=00000002,'
                  b'qop=auth-int,maxbuf=65536,digest-uri="ldap/ldap.example.com",'
                  b'response=00000000000000000000000000000000,charset=utf-8')
    resps = list(responses.values())
    for i, tok in enumerate(resps[:12]):
        sel = [0x9f, 0x8f, 0x97, 0x1f, 0xdf, 0x07][i % 6]
        parts = [tok, b"", reauths[i % max(1, len(reauths))] if reauths else tok, layer_data[i % len(layer_data)]]
        write("mechanism_server", bytes([sel]) + b"\0".join(parts), seen)
    for i, sel in enumerate([0xbf, 0xb7, 0x3f, 0xff]):
        parts = [reauth_tok.replace(b"auth-int", [b"auth-int", b"auth", b"auth-conf,cipher=rc4", b"auth-int"][i]),
                 resps[i], b"x", layer_data[i % len(layer_data)]]
        write("mechanism_server", bytes([sel]) + b"\0".join(parts), seen)
    write("mechanism_server", bytes([0xbf]) + b"\0".join([b"", resps[0], b"", b"\x01"]), seen)

    # Drop seeds no longer produced.
    for target in os.listdir(SEEDS):
        d = os.path.join(SEEDS, target)
        for name in os.listdir(d):
            if name not in seen:
                os.remove(os.path.join(d, name))
    for target in sorted(os.listdir(SEEDS)):
        print(target, len(os.listdir(os.path.join(SEEDS, target))))


if __name__ == "__main__":
    main()
