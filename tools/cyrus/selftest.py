#!/usr/bin/env python3
"""Self-test of tools/cyrus/build/peer: a client peer and a server peer wired
together by this script (stdlib only). Also serves as a worked example of the
line protocol documented in tools/cyrus/README.md.

usage: selftest.py [PEER_BINARY]      (exit 1 if any case fails)
"""
import base64
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "build", "peer")


class Peer:
    def __init__(self, args):
        self.p = subprocess.Popen([PEER] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def recv(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("peer exited: " + self.p.stderr.read())
        return line.rstrip("\n")

    def cmd(self, line):
        self.send(line)
        return self.recv()

    def close(self):
        try:
            self.send("QUIT")
        except (BrokenPipeError, ValueError):
            pass
        self.p.stdin.close()
        self.p.wait(timeout=10)
        self.p.stdout.close()
        self.p.stderr.close()


def authenticate(client, server):
    """Relay tokens. Returns (client_result, server_result, transcript)."""
    trace = []
    first = client.recv()          # NONE: DIGEST-MD5 has no initial response
    trace.append(("c", first))
    assert first == "NONE", first
    s = server.recv()              # the challenge
    trace.append(("s", s))
    client_done = False
    while True:
        if s.startswith("FAIL"):
            return None, s, trace
        if s.startswith("SUCCESS"):
            data = s[len("SUCCESS"):].strip()
            if not client_done:     # rspauth as success data: give it to the client
                c = client.cmd("TOKEN " + data)
                trace.append(("c", c))
                return c, s, trace
            return "SUCCESS", s, trace
        # TOKEN / EMPTY from the server -> client
        c = client.cmd(s)
        trace.append(("c", c))
        if c.startswith("FAIL"):
            return c, None, trace
        if c == "SUCCESS":
            # client accepted rspauth sent as a challenge: the protocol carries
            # an empty response to the server
            client_done = True
            s = server.cmd("EMPTY")
        else:
            s = server.cmd(c)
        trace.append(("s", s))


def b64(b):
    return base64.b64encode(b).decode()


def ub64(s):
    return base64.b64decode(s)


def plain(n, k):
    return bytes((i * 31 + k * 7 + n) & 0xFF for i in range(n))


def layer_roundtrips(client, server, sizes):
    for k, n in enumerate(sizes):
        for a, b in ((client, server), (server, client)):
            p = plain(n, k)
            r = a.cmd("SEAL " + b64(p))
            assert r.startswith("OK "), r
            wire = ub64(r[3:])
            # feed in two pieces to exercise Cyrus's reassembly
            cut = len(wire) // 2
            r1 = b.cmd("UNSEAL " + b64(wire[:cut]))
            r2 = b.cmd("UNSEAL " + b64(wire[cut:]))
            got = b""
            for r in (r1, r2):
                assert r == "OK" or r.startswith("OK "), r
                got += ub64(r[3:]) if r.startswith("OK ") else b""
            assert got == p, "round trip of %d bytes" % n


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def pair(cargs, sargs):
    server = Peer(["--role", "server"] + sargs)
    client = Peer(["--role", "client"] + cargs)
    return client, server


@case
def auth_success_data():
    c, s = pair(["--authcid", "alice", "--password", "secret"],
                ["--user", "alice:secret", "--realm", "example.com", "--qop", "auth", "--success-data"])
    cr, sr, tr = authenticate(c, s)
    assert cr == "SUCCESS" and sr.startswith("SUCCESS "), tr
    info = c.cmd("INFO")
    assert info.startswith("OK ssf=0 "), info
    c.close(); s.close()


@case
def auth_int_rspauth_challenge():
    c, s = pair(["--authcid", "alice", "--password", "secret", "--qop", "auth-int"],
                ["--user", "alice:secret", "--realm", "example.com"])
    cr, sr, tr = authenticate(c, s)
    assert cr == "SUCCESS" and sr == "SUCCESS", tr
    assert [x for x in tr if x == ("s", "SUCCESS")], tr
    assert s.cmd("INFO").startswith("OK ssf=1 ")
    layer_roundtrips(c, s, [1, 7, 8, 9, 1000, 65520, 65521])
    c.close(); s.close()


def conf_case(cipher, ssf):
    def run():
        c, s = pair(["--authcid", "bob", "--password", "b0b-p@ss", "--maxbuf", "16777215"],
                    ["--user", "bob:b0b-p@ss", "--realm", "example.com", "--cipher", cipher,
                     "--success-data"])
        cr, sr, tr = authenticate(c, s)
        assert cr == "SUCCESS" and sr.startswith("SUCCESS"), tr
        assert b"cipher=" + cipher.encode() + b"," in ub64(tr[2][1][6:]), tr
        assert c.cmd("INFO").startswith("OK ssf=%d " % ssf)
        layer_roundtrips(c, s, [1, 7, 8, 9, 1000, 70000])
        c.close(); s.close()
    run.__name__ = "auth_conf_" + cipher
    return run


for _c, _ssf in (("rc4-40", 40), ("rc4-56", 56), ("rc4", 128), ("des", 55)):
    case(conf_case(_c, _ssf))


@case
def utf8_authzid_realm_choice():
    c, s = pair(["--authcid", "Jürgen", "--password", "пароль", "--authzid", "Zoë",
                 "--realm", "example.com", "--qop", "auth-conf"],
                ["--user", "Jürgen:пароль:example.com", "--realm", "example.com"])
    cr, sr, tr = authenticate(c, s)
    assert cr == "SUCCESS" and sr == "SUCCESS", tr
    info = s.cmd("INFO")
    # the server canonicalizes the authzid with its realm
    assert ub64(info.split("username=")[1]) == "Zoë@example.com".encode(), info
    layer_roundtrips(c, s, [3])
    c.close(); s.close()


@case
def wrong_password_fails():
    c, s = pair(["--authcid", "alice", "--password", "wrong"],
                ["--user", "alice:secret", "--realm", "example.com"])
    cr, sr, tr = authenticate(c, s)
    assert sr is not None and sr.startswith("FAIL"), tr
    c.p.kill(); c.p.wait(); s.p.wait()
    for p in (c, s):
        p.p.stdin.close(); p.p.stdout.close(); p.p.stderr.close()


@case
def layer_errors():
    c, s = pair(["--authcid", "alice", "--password", "secret"],
                ["--user", "alice:secret", "--realm", "example.com", "--cipher", "rc4"])
    cr, sr, tr = authenticate(c, s)
    assert cr == "SUCCESS", tr
    r = c.cmd("SEAL ")                      # zero bytes: Cyrus refuses
    assert r.startswith("ERR "), r
    r = c.cmd("SEAL " + b64(b"hello"))
    wire = bytearray(ub64(r[3:]))
    wire[6] ^= 1                              # flip a bit in the ciphertext
    r = s.cmd("UNSEAL " + b64(bytes(wire)))
    assert r.startswith("ERR "), r
    assert c.cmd("BOGUS").startswith("ERR "), "unknown command"
    c.close(); s.close()


def main():
    if not os.path.exists(PEER):
        print("peer binary missing: run tools/cyrus/build.sh")
        return 1
    ok = bad = 0
    for fn in CASES:
        try:
            fn()
            ok += 1
            print("PASS", fn.__name__)
        except Exception as e:  # noqa: BLE001
            bad += 1
            print("FAIL %s: %r" % (fn.__name__, e))
    print("%d passed, %d failed" % (ok, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
