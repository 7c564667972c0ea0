#!/usr/bin/env python3
"""Self-test of tools/jdk/Peer: a JDK client peer against a JDK server peer,
wired through this script with the line protocol of tools/jdk/README.md.
Doubles as a reference driver for the Rust tests.

usage: python3 tools/jdk/selftest.py
"""
import base64
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = [os.path.join(HERE, "peer.sh")]


def b64(b):
    return base64.b64encode(b).decode()


def b64s(s):
    return b64(s.encode("utf-8"))


class Proc:
    def __init__(self, args):
        self.p = subprocess.Popen(["bash"] + PEER + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def recv(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("peer exited: rc=%s stderr=%s" % (self.p.poll(), self.p.stderr.read()))
        return line.rstrip("\n")

    def step(self):
        """One authentication step: (token line, status line) or ('FAIL ...', None)."""
        tok = self.recv()
        if tok.startswith("FAIL"):
            return tok, None
        return tok, self.recv()

    def cmd(self, line):
        self.send(line)
        return self.recv()

    def close(self):
        try:
            self.send("QUIT")
            self.recv()
        except Exception:
            pass
        self.p.wait(timeout=10)


def authenticate(cli, srv):
    """Relay tokens until both sides print OK. Returns (client OK line, server OK line)."""
    tok, st = srv.step()                       # server-first: the digest-challenge
    status = {"server": st, "client": None}
    cur, other, names = srv, cli, {id(srv): "server", id(cli): "client"}
    while True:
        if tok.startswith("FAIL"):
            raise RuntimeError("%s: %s" % (names[id(cur)], tok))
        if tok == "NONE":
            break
        other.send(tok)                       # TOKEN <b64> or EMPTY, forwarded verbatim
        tok, st = other.step()
        cur, other = other, cur
        status[names[id(cur)]] = st
    if not (status["client"] or "").startswith("OK") or not (status["server"] or "").startswith("OK"):
        raise RuntimeError("not complete: %s" % status)
    return status["client"], status["server"]


def plain(n, k):
    return bytes((i * 7 + n + k) & 0xFF for i in range(n))


CASES = [
    ("auth", [], []),
    ("auth authzid", ["--authzid", "bob"], []),
    ("auth-int", ["--qop", "auth-int"], ["--qop", "auth-int"]),
    ("auth-conf 3des", ["--qop", "auth-conf", "--cipher", "3des"], ["--qop", "auth-conf"]),
    ("auth-conf rc4", ["--qop", "auth-conf", "--cipher", "rc4"], ["--qop", "auth-conf"]),
    ("auth-conf des", ["--qop", "auth-conf", "--cipher", "des"], ["--qop", "auth-conf"]),
    ("auth-conf rc4-56", ["--qop", "auth-conf", "--cipher", "rc4-56"], ["--qop", "auth-conf"]),
    ("auth-conf rc4-40", ["--qop", "auth-conf", "--cipher", "rc4-40"], ["--qop", "auth-conf"]),
    ("auth-conf server offers only des", ["--qop", "auth-conf"], ["--qop", "auth-conf", "--cipher", "des"]),
    ("non-ASCII credentials (b64 options)",
     ["--authcid-b64", b64s("用户"), "--password-b64", b64s("pässwörd"), "--authzid-b64", b64s("管理者"),
      "--qop", "auth-int"],
     ["--authcid-b64", b64s("用户"), "--password-b64", b64s("pässwörd"), "--qop", "auth-int"]),
    ("latin-1 credentials, no charset", ["--authcid", "Jurgen", "--password-b64", b64s("pässwörd")],
     ["--authcid", "Jurgen", "--password-b64", b64s("pässwörd"), "--utf8", "false"]),
    ("realm choice", ["--realm", "other.org", "--qop", "auth-int"],
     ["--realm", "example.com", "--realm", "other.org", "--qop", "auth-int,auth"]),
    ("maxbuf 1024/4096", ["--qop", "auth-conf", "--cipher", "3des", "--maxbuf", "4096"],
     ["--qop", "auth-conf", "--maxbuf", "1024"]),
]

FAIL_CASES = [
    ("wrong password", ["--password", "wrong"], []),
    ("no common qop", ["--qop", "auth-conf"], ["--qop", "auth"]),
    ("realm not offered", ["--realm", "evil.org"], ["--realm", "example.com"]),
]


def main():
    common = ["--host", "ldap.example.com", "--service", "ldap"]
    failures = 0
    for name, cargs, sargs in CASES:
        cli = Proc(["--role", "client"] + common + cargs)
        srv = Proc(["--role", "server"] + common + sargs)
        try:
            cok, sok = authenticate(cli, srv)
            qop = cok.split()[1].split("=")[1]
            assert sok.split()[1] == cok.split()[1], (cok, sok)
            n = 0
            if qop != "auth":
                c_raw = int(cok.split("rawsendsize=")[1].split()[0])
                s_raw = int(sok.split("rawsendsize=")[1].split()[0])
                for size in [1, 7, 8, 9, 1000, 16, 17]:
                    for a, b, raw in ((cli, srv, c_raw), (srv, cli, s_raw)):
                        size = min(size, raw)
                        p = plain(size, n)
                        wire = a.cmd("WRAP " + b64(p))
                        assert not wire.startswith("ERR"), wire
                        assert len(base64.b64decode(wire)) >= len(p) + 16
                        back = b.cmd("UNWRAP " + wire)
                        assert back == b64(p), (size, back)
                        n += 1
                for a, b, raw in ((cli, srv, c_raw), (srv, cli, s_raw)):
                    p = plain(raw, 99)
                    back = b.cmd("UNWRAP " + a.cmd("WRAP " + b64(p)))
                    assert back == b64(p), "max size %d" % raw
                    n += 1
                # empty plaintext: the JDK produces an empty token
                assert cli.cmd("WRAP ") == "", "empty wrap"
                # replay of an accepted message: refused (auth-int: out-of-order exception;
                # auth-conf: the decryption state moved on, so the MAC fails and it is discarded)
                w = cli.cmd("WRAP " + b64(b"x"))
                assert srv.cmd("UNWRAP " + w) == b64(b"x")
                assert srv.cmd("UNWRAP " + w).startswith("ERR"), "replay accepted"
                # tampered message: silently discarded by the JDK, reported as ERR discarded
                # (last check: the JDK's receive state is out of step afterwards)
                w = bytearray(base64.b64decode(cli.cmd("WRAP " + b64(b"hello"))))
                w[-7] ^= 0x01
                r = srv.cmd("UNWRAP " + b64(bytes(w)))
                assert r.startswith("ERR discarded"), r
                assert srv.cmd("PROP javax.security.sasl.qop") == qop
            else:
                assert cli.cmd("WRAP " + b64(b"x")).startswith("ERR"), "wrap under auth"
            print("PASS %-40s %s | %s (%d layer msgs)" % (name, cok, sok.split(" authzid")[0], n))
        except Exception as e:
            print("FAIL %-40s %s: %s" % (name, type(e).__name__, e))
            failures += 1
        finally:
            cli.close()
            srv.close()
    for name, cargs, sargs in FAIL_CASES:
        cli = Proc(["--role", "client"] + common + cargs)
        srv = Proc(["--role", "server"] + common + sargs)
        try:
            authenticate(cli, srv)
            print("FAIL %-40s authentication unexpectedly succeeded" % name)
            failures += 1
        except RuntimeError as e:
            print("PASS %-40s refused: %s" % (name, str(e)[:110]))
        finally:
            for p in (cli, srv):
                p.p.kill()
                p.p.wait()
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
