#!/usr/bin/env python3
"""Independent self-consistency check of digest-md5-transcript/1 files.

For every transcript (files or directories, recursively) it recomputes from
config + tokens, written from RFC 2831 only (hashlib/hmac; RC4 in pure Python;
DES/3DES through pycryptodome):
  * the client's `response=` and the server's `rspauth=` (also for
    reauthentication tokens, with their nc),
  * for auth-int: the MAC, version and sequence number of every layer message,
  * for auth-conf: decrypts every wire message with the derived key (RC4 stream
    / CBC chained per direction), checks padding, MAC, version, seq, plaintext.
Also checks the structural rules of FIXTURES.md (nonces, negotiated qop/cipher,
seq numbering from 0 per direction).

usage: check_transcripts.py FILE_OR_DIR...     (exit 1 if any fails)
"""
import hashlib
import hmac
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digest import b64d, directives_dict  # noqa: E402

try:
    from Crypto.Cipher import DES, DES3  # pycryptodome
    HAVE_DES = True
except ImportError:  # pragma: no cover
    HAVE_DES = False


def md5(b):
    return hashlib.md5(b).digest()


def hexmd5(b):
    return hashlib.md5(b).hexdigest()


def down_convert(s: str) -> bytes:
    """RFC 2831 2.1.2.1: with charset=utf-8, a value whose characters are all in
    ISO 8859-1 is hashed in ISO 8859-1; otherwise in UTF-8. Applied per field."""
    try:
        return s.encode("iso-8859-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def secret_variants(user, realm, password):
    """(label, H(user:realm:password)) candidates, the expected one first."""
    conv = md5(down_convert(user) + b":" + down_convert(realm) + b":" + down_convert(password))
    raw = md5(user.encode() + b":" + realm.encode() + b":" + password.encode())
    out = [("per-field 8859-1 down-conversion", conv)]
    if raw != conv:
        out.append(("raw UTF-8", raw))
    return out


def ha1(secret, nonce, cnonce, authzid):
    a1 = secret + b":" + nonce.encode() + b":" + cnonce.encode()
    if authzid is not None:
        a1 += b":" + authzid.encode("utf-8")
    return md5(a1)


def kd_response(ha1_bin, nonce, nc, cnonce, qop, digest_uri, method):
    a2 = method + b":" + digest_uri.encode()
    if qop in ("auth-int", "auth-conf"):
        a2 += b":" + b"0" * 32
    return hexmd5(ha1_bin.hex().encode() + b":" + nonce.encode() + b":" + nc.encode() + b":" +
                  cnonce.encode() + b":" + qop.encode() + b":" + hexmd5(a2).encode())


class RC4:
    def __init__(self, key):
        s = list(range(256))
        j = 0
        for i in range(256):
            j = (j + s[i] + key[i % len(key)]) & 0xFF
            s[i], s[j] = s[j], s[i]
        self.s, self.i, self.j = s, 0, 0

    def crypt(self, data):
        s, i, j = self.s, self.i, self.j
        out = bytearray(len(data))
        for k, b in enumerate(data):
            i = (i + 1) & 0xFF
            j = (j + s[i]) & 0xFF
            s[i], s[j] = s[j], s[i]
            out[k] = b ^ s[(s[i] + s[j]) & 0xFF]
        self.i, self.j = i, j
        return bytes(out)


def des_key(seven):
    """RFC 2831 2.4: 56 bits -> 8 DES key bytes (each byte 7 key bits + low
    parity bit, left as 0: DES ignores it)."""
    n = int.from_bytes(seven, "big")
    return bytes(((n >> (56 - 7 * (i + 1))) & 0x7F) << 1 for i in range(8))


class CBC:
    def __init__(self, cipher, kc):
        self.iv = kc[8:16]
        if cipher == "des":
            self.ecb = DES.new(des_key(kc[0:7]), DES.MODE_ECB)
        else:  # 3des: two-key EDE, K1 = kc[0:7], K2 = kc[7:14]
            k1, k2 = des_key(kc[0:7]), des_key(kc[7:14])
            self.ecb = _EDE2(k1, k2)

    def decrypt(self, data):
        out = bytearray()
        for off in range(0, len(data), 8):
            blk = data[off:off + 8]
            p = self.ecb.decrypt(blk)
            out += bytes(a ^ b for a, b in zip(p, self.iv))
            self.iv = blk
        return bytes(out)


class _EDE2:
    def __init__(self, k1, k2):
        self.a = DES.new(k1, DES.MODE_ECB)
        self.b = DES.new(k2, DES.MODE_ECB)

    def decrypt(self, blk):
        return self.a.decrypt(self.b.encrypt(self.a.decrypt(blk)))


MAGIC = {
    "kic": b"Digest session key to client-to-server signing key magic constant",
    "kis": b"Digest session key to server-to-client signing key magic constant",
    "kcc": b"Digest H(A1) to client-to-server sealing key magic constant",
    "kcs": b"Digest H(A1) to server-to-client sealing key magic constant",
}
KC_N = {"rc4-40": 5, "rc4-56": 7, "rc4": 16, "des": 16, "3des": 16}


class Fail(Exception):
    pass


def check(path):
    with open(path, encoding="utf-8") as f:
        t = json.load(f)
    notes = []
    if t.get("format") != "digest-md5-transcript/1":
        raise Fail("bad format")
    cfg = t["config"]
    ex = t["exchange"]
    if ex[0]["from"] != "server":
        raise Fail("first token not from server")
    chal = directives_dict(b64d(ex[0]["b64"]))
    resp_tok = ex[1]
    if resp_tok["from"] != "client":
        raise Fail("second token not from client")
    resp = directives_dict(b64d(resp_tok["b64"]))
    if t["server_nonce"] != chal["nonce"] or resp["nonce"] != chal["nonce"]:
        raise Fail("server_nonce mismatch")
    if t["client_nonce"] != resp["cnonce"]:
        raise Fail("client_nonce mismatch")
    if chal.get("algorithm", "").lower() != "md5-sess":
        raise Fail("algorithm")
    qop = resp.get("qop", "auth")
    offered_qops = [q.strip() for q in chal.get("qop", "auth").split(",")]
    if qop not in offered_qops:
        raise Fail("qop %s not offered (%s)" % (qop, offered_qops))
    neg = t["negotiated"]
    if neg["qop"] != qop:
        raise Fail("negotiated.qop")
    cipher = resp.get("cipher") if qop == "auth-conf" else None
    if neg["cipher"] != cipher:
        raise Fail("negotiated.cipher")
    if cipher and cipher not in [c.strip() for c in chal.get("cipher", "").split(",")]:
        raise Fail("cipher not offered")
    if resp["username"] != cfg["authcid"]:
        raise Fail("username != config.authcid")
    realm = resp.get("realm", "")
    if (cfg.get("realm") or "") != realm:
        raise Fail("config.realm != response realm")
    if chal["realm*"] and realm and realm not in chal["realm*"]:
        notes.append("client realm not among offered")
    authzid = resp.get("authzid")
    if authzid is not None and authzid != cfg["authzid"]:
        raise Fail("authzid sent != config.authzid")
    if authzid is None and cfg["authzid"] not in (None, cfg["authcid"]):
        raise Fail("authzid dropped although != authcid")
    if cfg["authzid"] == cfg["authcid"] and authzid is None:
        notes.append("authzid==authcid dropped")
    if "charset" in resp:
        notes.append("client sent charset")
    uri = resp["digest-uri"]
    if uri.split("/")[0] != cfg["service"]:
        raise Fail("digest-uri service")

    # --- response: find the secret variant that reproduces it
    key = None
    for label, sec in secret_variants(cfg["authcid"], realm, cfg["password"]):
        h = ha1(sec, resp["nonce"], resp["cnonce"], authzid)
        if kd_response(h, resp["nonce"], resp["nc"], resp["cnonce"], qop, uri,
                       b"AUTHENTICATE") == resp["response"]:
            key = h
            if label != "per-field 8859-1 down-conversion":
                raise Fail("response only matches with " + label)
            break
    if key is None:
        raise Fail("response= does not verify")
    if resp["nc"] != "00000001":
        raise Fail("first nc is not 00000001")

    # --- rspauth (next server token)
    idx = 2
    rsp_tok = ex[idx]
    if rsp_tok["from"] != "server":
        raise Fail("expected rspauth from server")
    rsp = directives_dict(b64d(rsp_tok["b64"]))
    want = kd_response(key, resp["nonce"], resp["nc"], resp["cnonce"], qop, uri, b"")
    if rsp.get("rspauth") != want:
        raise Fail("rspauth does not verify")
    idx += 1
    if idx < len(ex) and ex[idx]["from"] == "client" and not ex[idx].get("reauth"):
        if ex[idx]["b64"] != "":
            raise Fail("non-empty client token after rspauth")
        idx += 1

    # --- reauth
    if idx < len(ex):
        r1 = ex[idx]
        if not r1.get("reauth") or r1["from"] != "client":
            raise Fail("unexpected token after first authentication")
        rr = directives_dict(b64d(r1["b64"]))
        if rr["nonce"] != resp["nonce"]:
            raise Fail("reauth nonce differs")
        nc = int(rr["nc"], 16)
        if nc < 2:
            raise Fail("reauth nc < 2")
        rq = rr.get("qop", "auth")
        rauthz = rr.get("authzid")
        rkey = None
        for label, sec in secret_variants(rr["username"], rr.get("realm", ""), cfg["password"]):
            h = ha1(sec, rr["nonce"], rr["cnonce"], rauthz)
            if kd_response(h, rr["nonce"], rr["nc"], rr["cnonce"], rq, rr["digest-uri"],
                           b"AUTHENTICATE") == rr["response"]:
                rkey = h
                break
        if rkey is None:
            raise Fail("reauth response does not verify")
        r2 = ex[idx + 1]
        if r2["from"] != "server" or not r2.get("reauth"):
            raise Fail("reauth rspauth missing")
        rsp2 = directives_dict(b64d(r2["b64"]))
        if rsp2.get("rspauth") != kd_response(rkey, rr["nonce"], rr["nc"], rr["cnonce"], rq,
                                              rr["digest-uri"], b""):
            raise Fail("reauth rspauth does not verify")
        rest = ex[idx + 2:]
        for tok in rest:
            if not (tok["from"] == "client" and tok["b64"] == "" and tok.get("reauth")):
                raise Fail("unexpected token after reauth")
        notes.append("reauth nc=%s%s" % (rr["nc"], ", same cnonce" if rr["cnonce"] == resp["cnonce"] else ""))
        key, qop, cipher = rkey, rq, (rr.get("cipher") if rq == "auth-conf" else None)

    # --- layer
    layer = t["layer"]
    if qop == "auth":
        if layer:
            raise Fail("layer messages with qop=auth")
        return notes
    kic, kis = md5(key + MAGIC["kic"]), md5(key + MAGIC["kis"])
    enc = {}
    if qop == "auth-conf":
        n = KC_N[cipher]
        kcc, kcs = md5(key[:n] + MAGIC["kcc"]), md5(key[:n] + MAGIC["kcs"])
        if cipher.startswith("rc4"):
            enc = {"c2s": RC4(kcc), "s2c": RC4(kcs)}
        else:
            if not HAVE_DES:
                notes.append("SKIPPED %s layer check (pip install pycryptodome)" % cipher)
                return notes
            enc = {"c2s": CBC(cipher, kcc), "s2c": CBC(cipher, kcs)}
    expect_seq = {"c2s": 0, "s2c": 0}
    maxwire = {"c2s": neg["client_maxoutbuf"], "s2c": neg["server_maxoutbuf"]}
    for i, m in enumerate(layer):
        d = m["dir"]
        if m["seq"] != expect_seq[d]:
            raise Fail("layer[%d]: seq %d, expected %d" % (i, m["seq"], expect_seq[d]))
        plain, wire = b64d(m["plain_b64"]), b64d(m["wire_b64"])
        # Cyrus's receiver limits the frame WITHOUT its 4-octet length prefix
        if len(wire) > maxwire[d]:
            raise Fail("layer[%d]: frame of %d bytes exceeds peer maxbuf %d" % (i, len(wire), maxwire[d]))
        if len(wire) + 4 > maxwire[d] and "prefix+frame > maxbuf" not in notes:
            notes.append("prefix+frame > maxbuf")
        ver, seq = struct.unpack(">HI", wire[-6:])
        if ver != 1 or seq != m["seq"]:
            raise Fail("layer[%d]: trailer ver=%d seq=%d" % (i, ver, seq))
        ki = kic if d == "c2s" else kis
        mac = hmac.new(ki, struct.pack(">I", seq) + plain, hashlib.md5).digest()[:10]
        if qop == "auth-int":
            if wire[:-6] != plain + mac:
                raise Fail("layer[%d]: auth-int wire != msg||MAC" % i)
        else:
            body = wire[:-6]
            if cipher.startswith("rc4"):
                dec = enc[d].crypt(body)
                msg, got_mac = dec[:-10], dec[-10:]
            else:
                if len(body) % 8:
                    raise Fail("layer[%d]: CBC body not a multiple of 8" % i)
                dec = enc[d].decrypt(body)
                got_mac = dec[-10:]
                pad = dec[-11]
                if not 1 <= pad <= 8 or dec[-10 - pad:-10] != bytes([pad]) * pad:
                    raise Fail("layer[%d]: bad padding" % i)
                msg = dec[:-10 - pad]
            if msg != plain:
                raise Fail("layer[%d]: decrypted plaintext differs" % i)
            if got_mac != mac:
                raise Fail("layer[%d]: MAC mismatch" % i)
        expect_seq[d] += 1
    notes.append("%d layer msgs" % len(layer))
    return notes


def main(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                files += [os.path.join(root, n) for n in names if n.endswith(".json")]
        else:
            files.append(a)
    files.sort()
    ok = bad = 0
    for p in files:
        try:
            notes = check(p)
            ok += 1
            print("PASS %s%s" % (p, (" (" + "; ".join(notes) + ")") if notes else ""))
        except Exception as e:  # noqa: BLE001
            bad += 1
            print("FAIL %s: %s: %s" % (p, type(e).__name__, e))
    print("%d passed, %d failed" % (ok, bad))
    return 1 if bad or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["fixtures/cyrus"]))
