#!/usr/bin/env python3
"""Independent smoke checks of the test servers with only the Python stdlib.

  check.py imap HOST PORT USER PASSWORD MECH        (MECH: PLAIN or DIGEST-MD5)
  check.py xmpp HOST PORT USER PASSWORD MECH DOMAIN

DIGEST-MD5 here is a minimal RFC 2831 client (qop=auth only) that also
verifies rspauth. Prints what it did; exits non-zero on failure.
"""
import base64, hashlib, imaplib, os, re, socket, sys


def parse_challenge(data: bytes) -> dict:
    out = {}
    for m in re.finditer(rb'([A-Za-z0-9-]+)=("((?:[^"\\]|\\.)*)"|[^,]*)', data):
        key = m.group(1).decode().lower()
        val = m.group(3) if m.group(3) is not None else m.group(2)
        out[key] = re.sub(rb'\\(.)', rb'\1', val).decode()
    return out


class Digest:
    def __init__(self, user, password, service, host):
        self.user, self.password, self.service, self.host = user, password, service, host
        self.expected_rspauth = None

    def respond(self, challenge: bytes) -> bytes:
        c = parse_challenge(challenge)
        realm = c.get("realm", "")
        nonce = c["nonce"]
        cnonce = base64.b64encode(os.urandom(12)).decode()
        uri = f"{self.service}/{self.host}"
        h = lambda b: hashlib.md5(b).digest()
        hx = lambda b: hashlib.md5(b).hexdigest()
        a1 = h(f"{self.user}:{realm}:{self.password}".encode()) + f":{nonce}:{cnonce}".encode()
        ha1 = hx(a1)
        def kd(a2):
            return hx(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{hx(a2)}".encode())
        resp = kd(f"AUTHENTICATE:{uri}".encode())
        self.expected_rspauth = kd(f":{uri}".encode())
        parts = [f'username="{self.user}"']
        if "realm" in c:
            parts.append(f'realm="{realm}"')
        parts += [f'nonce="{nonce}"', f'cnonce="{cnonce}"', "nc=00000001", "qop=auth",
                  f'digest-uri="{uri}"', f"response={resp}", "charset=utf-8"]
        return ",".join(parts).encode()

    def check_rspauth(self, data: bytes):
        got = parse_challenge(data).get("rspauth")
        if got != self.expected_rspauth:
            raise SystemExit(f"bad rspauth: {data!r}")
        print("rspauth verified")


def imap(host, port, user, password, mech):
    m = imaplib.IMAP4(host, int(port))
    print("capabilities:", " ".join(m.capabilities))
    if mech == "PLAIN":
        auth = lambda _: f"\0{user}\0{password}".encode()
    else:
        d = Digest(user, password, "imap", "localhost")
        state = {"n": 0}
        def auth(challenge):
            state["n"] += 1
            if state["n"] == 1:
                return d.respond(challenge)
            d.check_rspauth(challenge)
            return b""
    typ, data = m.authenticate(mech, auth)
    print("AUTHENTICATE:", typ, data)
    print("LIST:", m.list())
    m.logout()


def xmpp(host, port, user, password, mech, domain):
    s = socket.create_connection((host, int(port)), timeout=10)
    buf = b""

    def send(x: str):
        s.sendall(x.encode())

    def wait_for(pattern: bytes):
        nonlocal buf
        while True:
            m = re.search(pattern, buf, re.S)
            if m:
                buf = buf[m.end():]
                return m
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit(f"connection closed; buffer: {buf[:300]!r}")
            buf += chunk

    def open_stream():
        send(f"<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' "
             "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        return wait_for(rb"<stream:features.*?</stream:features>").group(0)

    feats = open_stream()
    print("mechanisms:", re.findall(rb"<mechanism>([^<]+)</mechanism>", feats))
    if mech == "PLAIN":
        ir = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{ir}</auth>")
    else:
        d = Digest(user, password, "xmpp", domain)
        send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
        ch = wait_for(rb"<challenge[^>]*>([^<]*)</challenge>").group(1)
        resp = base64.b64encode(d.respond(base64.b64decode(ch))).decode()
        send(f"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{resp}</response>")
        m = wait_for(rb"<(challenge|success|failure)[^>]*?(/>|>(.*?)</\1>)")
        if m.group(1) == b"challenge":
            d.check_rspauth(base64.b64decode(m.group(3)))
            send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            m = wait_for(rb"<(success|failure)[^>]*?(/>|>(.*?)</\1>)")
        if m.group(1) != b"success":
            raise SystemExit(f"auth failed: {m.group(0)!r}")
    if mech == "PLAIN":
        m = wait_for(rb"<(success|failure)[^>]*?(/>|>(.*?)</\1>)")
        if m.group(1) != b"success":
            raise SystemExit(f"auth failed: {m.group(0)!r}")
    print("success")
    open_stream()
    send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
         "<resource>check</resource></bind></iq>")
    jid = wait_for(rb"<jid>([^<]+)</jid>").group(1).decode()
    print("bound JID:", jid)
    send("</stream:stream>")
    s.close()


if __name__ == "__main__":
    {"imap": imap, "xmpp": xmpp}[sys.argv[1]](*sys.argv[2:])
