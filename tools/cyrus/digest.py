"""Small, independent DIGEST-MD5 helpers (stdlib only) shared by
finish.py, check_transcripts.py and selftest.py.

Written from RFC 2831, not from Cyrus's code."""

import base64


def parse_directives(data: bytes):
    """Parse a digest-challenge / digest-response into a list of
    (name_lower, value_bytes) pairs. Accepts quoted strings with backslash
    escapes and bare tokens, optional LWS, empty list elements."""
    out = []
    i, n = 0, len(data)
    ws = b" \t\r\n"
    while i < n:
        while i < n and (data[i] in ws or data[i] == ord(",")):
            i += 1
        if i >= n:
            break
        j = data.index(b"=", i)
        name = data[i:j].strip().decode("ascii").lower()
        i = j + 1
        while i < n and data[i] in ws:
            i += 1
        if i < n and data[i] == ord('"'):
            i += 1
            val = bytearray()
            while True:
                if i >= n:
                    raise ValueError("unterminated quoted string")
                c = data[i]
                if c == ord("\\"):
                    val.append(data[i + 1])
                    i += 2
                    continue
                if c == ord('"'):
                    i += 1
                    break
                val.append(c)
                i += 1
            value = bytes(val)
        else:
            j = i
            while j < n and data[j] != ord(","):
                j += 1
            value = data[i:j].strip()
            i = j
        while i < n and data[i] in ws:
            i += 1
        if i < n and data[i] != ord(","):
            raise ValueError("garbage after value of %s" % name)
        out.append((name, value))
    return out


def directives_dict(data: bytes):
    """name -> value (str) for single-valued directives; realm -> list."""
    d = {}
    realms = []
    for k, v in parse_directives(data):
        s = v.decode("utf-8")
        if k == "realm":
            realms.append(s)
        if k in d and k != "realm":
            raise ValueError("duplicate directive %s" % k)
        d.setdefault(k, s)
    d["realm*"] = realms
    return d


def b64d(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)
