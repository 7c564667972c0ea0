#!/usr/bin/env python3
"""Turn a raw transcript written by tools/cyrus/build/record into the final
`digest-md5-transcript/1` file (FIXTURES.md): adds client_nonce/server_nonce,
negotiated qop/cipher/maxbufs (parsed from the tokens), config.realm (the realm
the client sent), and writes it with a stable key order.

usage: finish.py RAW.json OUT.json
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digest import b64d, directives_dict  # noqa: E402


def main():
    raw_path, out_path = sys.argv[1], sys.argv[2]
    with open(raw_path, encoding="utf-8") as f:
        raw = json.load(f)
    ex = raw["exchange"]
    assert ex[0]["from"] == "server", "DIGEST-MD5 is server-first"
    chal = directives_dict(b64d(ex[0]["b64"]))
    resp = directives_dict(b64d(ex[1]["b64"]))
    assert ex[1]["from"] == "client"
    assert resp["nonce"] == chal["nonce"], "client echoed a different nonce"

    cfg = raw["config"]
    negotiated_raw = raw["negotiated"]
    qop = resp.get("qop", "auth")
    cipher = resp.get("cipher") if qop == "auth-conf" else None
    realm_sent = resp.get("realm")
    config = {
        "authcid": cfg["authcid"],
        "password": cfg["password"],
        "authzid": cfg["authzid"],
        "realm": realm_sent if realm_sent else None,
        "service": cfg["service"],
        "host": cfg["host"],
        "serv_name": cfg["serv_name"],
        # recorder-specific extras (FIXTURES.md: ignore unknown config keys)
        "recorder": "tools/cyrus/record.c",
        "authzid_sent": "authzid" in resp,
        "server_user_realm": cfg["server_user_realm"],
        "server_secprops": cfg["server_secprops"],
        "client_secprops": cfg["client_secprops"],
        "challenge_edited": cfg["challenge_edited"],
        "original_challenge": cfg["original_challenge"],
        "ssf": negotiated_raw["ssf"],
        "cyrus_client_maxoutbuf": negotiated_raw["client_maxoutbuf"],
        "cyrus_server_maxoutbuf": negotiated_raw["server_maxoutbuf"],
        "rspauth_delivery": ("challenge+empty-response"
                             if any(t["from"] == "client" and t["b64"] == "" for t in ex)
                             else "success-data"),
    }
    out = {
        "format": "digest-md5-transcript/1",
        "source": raw["source"],
        "config": config,
        "exchange": ex,
        "client_nonce": resp["cnonce"],
        "server_nonce": chal["nonce"],
        "negotiated": {
            "qop": qop,
            "cipher": cipher,
            # RFC 2831 maxbuf each side may send in (the peer's advertised
            # receive maxbuf; 65536 when absent). Cyrus's own SASL_MAXOUTBUF
            # (max plaintext per sasl_encode) is in config.cyrus_*_maxoutbuf.
            "client_maxoutbuf": int(chal.get("maxbuf", "65536")),
            "server_maxoutbuf": int(resp.get("maxbuf", "65536")),
        },
        "layer": raw["layer"],
    }
    # compact but readable: one token / layer message per line
    lines = ["{"]
    keys = list(out.keys())
    for i, k in enumerate(keys):
        comma = "," if i + 1 < len(keys) else ""
        v = out[k]
        if k in ("exchange", "layer"):
            if not v:
                lines.append('  %s: []%s' % (json.dumps(k), comma))
                continue
            lines.append('  %s: [' % json.dumps(k))
            for j, item in enumerate(v):
                c2 = "," if j + 1 < len(v) else ""
                lines.append("    " + json.dumps(item, ensure_ascii=False) + c2)
            lines.append("  ]" + comma)
        else:
            lines.append("  %s: %s%s" % (json.dumps(k), json.dumps(v, ensure_ascii=False), comma))
    lines.append("}")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
