#!/usr/bin/env python3
"""Independent check of digest-md5-transcript/1 files recorded from the JDK.

For every transcript: recompute the client's `response` and the server's `rspauth`
from `config` + the recorded tokens (RFC 2831 section 2.1.2, md5-sess, with the
per-field ISO-8859-1 down-conversion of username/realm/password when the
response carries charset=utf-8), check the directives against config/negotiated,
then re-seal every layer message (auth-int: HMAC-MD5; auth-conf: rc4/rc4-56/rc4-40
continuous keystream, des/3des CBC chained across messages) and compare with the
recorded wire bytes.

usage: python3 tools/jdk/check_transcripts.py FILE_OR_DIR...
Needs pycryptodome for auth-conf (pip install pycryptodome).
"""
import base64
import hashlib
import hmac
import json
import os
import sys

try:
    from Crypto.Cipher import ARC4, DES, DES3
except ImportError:  # auth-conf transcripts will fail with a clear reason
    ARC4 = DES = DES3 = None


def md5(*parts):
    return hashlib.md5(b"".join(parts)).digest()


def parse(tok):
    """Directive list of (lowercase name, raw value bytes, was_quoted)."""
    out, i, n = [], 0, len(tok)
    while i < n:
        while i < n and tok[i:i + 1] in (b",", b" ", b"\t", b"\r", b"\n"):
            i += 1
        if i >= n:
            break
        k = i
        while i < n and tok[i:i + 1] not in (b"=", b","):
            i += 1
        key = tok[k:i].strip().decode("ascii").lower()
        if i >= n or tok[i:i + 1] != b"=":
            raise ValueError("directive without value: %r" % key)
        i += 1
        while i < n and tok[i:i + 1] in (b" ", b"\t"):
            i += 1
        val = bytearray()
        quoted = i < n and tok[i:i + 1] == b'"'
        if quoted:
            i += 1
            while i < n and tok[i:i + 1] != b'"':
                if tok[i:i + 1] == b"\\":
                    i += 1
                val += tok[i:i + 1]
                i += 1
            if i >= n:
                raise ValueError("unterminated quoted value for %r" % key)
            i += 1
        else:
            while i < n and tok[i:i + 1] != b",":
                val += tok[i:i + 1]
                i += 1
            val = bytearray(bytes(val).strip())
        out.append((key, bytes(val), quoted))
    return out


def single(dirs, name, default=None):
    vals = [v for k, v, _ in dirs if k == name]
    if len(vals) > 1:
        raise ValueError("duplicate %s" % name)
    return vals[0] if vals else default


def down(s, utf8):
    """Bytes of username/realm/password as hashed into H(A1)."""
    try:
        return s.encode("iso-8859-1")
    except UnicodeEncodeError:
        if not utf8:
            raise ValueError("%r is not Latin-1 and no charset=utf-8 was negotiated" % s)
        return s.encode("utf-8")


def des_key(k7):
    """56 bits -> 8 bytes: 7 bits per byte, low bit = odd parity."""
    n = int.from_bytes(k7, "big")
    out = bytearray()
    for i in range(8):
        b = ((n >> (49 - 7 * i)) & 0x7F) << 1
        out.append(b | (bin(b).count("1") % 2 == 0))
    return bytes(out)


class Sealer:
    def __init__(self, qop, cipher, ki, kc):
        self.qop, self.cipher, self.ki = qop, cipher, ki
        if qop != "auth-conf":
            return
        if ARC4 is None:
            raise RuntimeError("pycryptodome missing (pip install pycryptodome)")
        if cipher in ("rc4", "rc4-56", "rc4-40"):
            self.enc, self.bs = ARC4.new(kc), 1
        elif cipher == "des":
            self.enc, self.bs = DES.new(des_key(kc[:7]), DES.MODE_CBC, iv=kc[8:16]), 8
        elif cipher == "3des":
            k1, k2 = des_key(kc[:7]), des_key(kc[7:14])
            self.enc, self.bs = DES3.new(k1 + k2 + k1, DES3.MODE_CBC, iv=kc[8:16]), 8
        else:
            raise ValueError("unknown cipher %r" % cipher)

    def seal(self, seq, msg):
        sn = seq.to_bytes(4, "big")
        mac = hmac.new(self.ki, sn + msg, hashlib.md5).digest()[:10]
        if self.qop == "auth-int":
            return msg + mac + b"\x00\x01" + sn
        pad = b""
        if self.bs > 1:
            p = self.bs - (len(msg) + 10) % self.bs
            pad = bytes([p]) * p
        return self.enc.encrypt(msg + pad + mac) + b"\x00\x01" + sn


def check(path):
    t = json.load(open(path, encoding="utf-8"))
    assert t["format"] == "digest-md5-transcript/1", "format"
    cfg, neg = t["config"], t["negotiated"]
    ex = [base64.b64decode(e["b64"]) for e in t["exchange"] if not e.get("reauth")]
    froms = [e["from"] for e in t["exchange"] if not e.get("reauth")]
    assert froms[:3] == ["server", "client", "server"], "exchange order %s" % froms
    chal, resp, fin = parse(ex[0]), parse(ex[1]), parse(ex[2])
    if len(ex) > 3:
        assert ex[3] == b"" and froms[3] == "client", "unexpected trailing tokens"

    utf8 = single(resp, "charset") is not None
    if utf8:
        assert single(resp, "charset") == b"utf-8", "charset value"
        assert single(chal, "charset") == b"utf-8", "client sent charset the server did not offer"
    enc = "utf-8" if utf8 else "iso-8859-1"

    nonce, cnonce = single(resp, "nonce"), single(resp, "cnonce")
    assert nonce == single(chal, "nonce"), "nonce echo"
    assert nonce.decode("latin-1") == t["server_nonce"], "server_nonce field"
    assert cnonce.decode("latin-1") == t["client_nonce"], "client_nonce field"
    assert single(chal, "algorithm") == b"md5-sess", "algorithm"
    user = single(resp, "username").decode(enc)
    assert user == cfg["authcid"], "username %r != authcid %r" % (user, cfg["authcid"])
    realm_b = single(resp, "realm", b"")
    realm = realm_b.decode(enc)
    assert realm == (cfg["realm"] or ""), "realm %r != %r" % (realm, cfg["realm"])
    offered = [v.decode(enc) for k, v, _ in chal if k == "realm"]
    assert not offered or realm in offered, "realm not offered"
    uri = "%s/%s" % (cfg["service"], cfg["host"]) + ("/" + cfg["serv_name"] if cfg.get("serv_name") else "")
    assert single(resp, "digest-uri") == uri.encode(), "digest-uri"
    nc = single(resp, "nc")
    assert nc == b"00000001", "nc"
    qop = single(resp, "qop", b"auth").decode()
    assert qop == neg["qop"], "qop"
    qops = [q.strip() for q in single(chal, "qop", b"auth").decode().split(",")]
    assert qop in qops, "qop %s not offered (%s)" % (qop, qops)
    cipher = single(resp, "cipher")
    if qop == "auth-conf":
        cipher = cipher.decode()
        assert cipher == neg["cipher"], "cipher"
        assert cipher in single(chal, "cipher").decode().split(","), "cipher not offered"
    else:
        assert neg["cipher"] is None, "cipher without auth-conf"
    authzid = single(resp, "authzid")
    if cfg.get("authzid") is not None:
        assert authzid == cfg["authzid"].encode("utf-8"), "authzid"
    else:
        assert authzid is None, "authzid sent but none configured"
    srv_maxbuf = int(single(chal, "maxbuf", b"65536"))
    cli_maxbuf = int(single(resp, "maxbuf", b"65536"))
    assert 16 < srv_maxbuf <= 0xFFFFFF and 16 < cli_maxbuf <= 0xFFFFFF, "maxbuf range"
    assert neg["client_maxoutbuf"] <= srv_maxbuf, "client_maxoutbuf > server maxbuf"
    assert neg["server_maxoutbuf"] <= cli_maxbuf, "server_maxoutbuf > client maxbuf"

    # response / rspauth (RFC 2831 2.1.2.1, md5-sess)
    urp = md5(down(cfg["authcid"], utf8), b":", down(realm, utf8), b":", down(cfg["password"], utf8))
    a1 = urp + b":" + nonce + b":" + cnonce + (b":" + authzid if authzid is not None else b"")
    ha1 = md5(a1)
    tail = b":00000000000000000000000000000000" if qop in ("auth-int", "auth-conf") else b""

    def kd(prefix):
        ha2 = hashlib.md5(prefix + b":" + uri.encode() + tail).hexdigest().encode()
        return hashlib.md5(b":".join([ha1.hex().encode(), nonce, nc, cnonce, qop.encode(), ha2])).hexdigest()

    assert single(resp, "response").decode() == kd(b"AUTHENTICATE"), "response mismatch"
    assert single(fin, "rspauth").decode() == kd(b""), "rspauth mismatch"

    # security layer
    layer = t.get("layer", [])
    if qop == "auth":
        assert not layer, "layer messages under qop=auth"
        return "%s %d msgs" % (qop, 0)
    kic = md5(ha1, b"Digest session key to client-to-server signing key magic constant")
    kis = md5(ha1, b"Digest session key to server-to-client signing key magic constant")
    kcc = kcs = None
    if qop == "auth-conf":
        n = {"rc4-40": 5, "rc4-56": 7}.get(cipher, 16)
        kcc = md5(ha1[:n], b"Digest H(A1) to client-to-server sealing key magic constant")
        kcs = md5(ha1[:n], b"Digest H(A1) to server-to-client sealing key magic constant")
    sealers = {"c2s": Sealer(qop, cipher, kic, kcc), "s2c": Sealer(qop, cipher, kis, kcs)}
    nextseq = {"c2s": 0, "s2c": 0}
    limit = {"c2s": srv_maxbuf, "s2c": cli_maxbuf}
    for i, m in enumerate(layer):
        d = m["dir"]
        assert m["seq"] == nextseq[d], "layer[%d] seq %d, expected %d" % (i, m["seq"], nextseq[d])
        nextseq[d] += 1
        plain, wire = base64.b64decode(m["plain_b64"]), base64.b64decode(m["wire_b64"])
        assert wire[-6:-4] == b"\x00\x01" and int.from_bytes(wire[-4:], "big") == m["seq"], \
            "layer[%d] trailer" % i
        assert len(wire) <= limit[d], "layer[%d] %d bytes > receiver maxbuf %d" % (i, len(wire), limit[d])
        exp = sealers[d].seal(m["seq"], plain)
        assert exp == wire, "layer[%d] (%s seq %d, %d bytes) wire mismatch" % (i, d, m["seq"], len(plain))
    return "%s%s %d msgs" % (qop, "/" + cipher if cipher else "", len(layer))


def main(args):
    files = []
    for a in args or ["fixtures/jdk"]:
        if os.path.isdir(a):
            for dp, _, fs in os.walk(a):
                files += [os.path.join(dp, f) for f in fs if f.endswith(".json")]
        else:
            files.append(a)
    ok = bad = 0
    for f in sorted(files):
        try:
            info = check(f)
            print("PASS %s (%s)" % (f, info))
            ok += 1
        except Exception as e:  # report and continue
            print("FAIL %s: %s: %s" % (f, type(e).__name__, e))
            bad += 1
    print("%d passed, %d failed" % (ok, bad))
    return 1 if bad or not ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
