// Probes JDK SunSASL DIGEST-MD5 behaviours that the README documents
// (error handling, limits, charset corner cases). Prints one "name: result" line each.
//
// usage: java -cp build Probe

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import javax.crypto.Cipher;
import javax.security.sasl.Sasl;
import javax.security.sasl.SaslClient;
import javax.security.sasl.SaslServer;

public final class Probe {

    static final class Pair {
        SaslClient c;
        SaslServer s;
        byte[] challenge, response, rspauth;
        Common.ServerHandler sh;
    }

    static Map<String, Object> props(String... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    static Pair run(String user, String pw, String authzid, Map<String, Object> sp, Map<String, Object> cp,
                    UnaryOperator<String> editChallenge, UnaryOperator<String> editResponse) throws Exception {
        Pair p = new Pair();
        p.sh = new Common.ServerHandler(user, pw, true);
        p.s = Common.newServer("ldap", "ldap.example.com", sp, p.sh);
        p.c = Common.newClient(authzid, "ldap", "ldap.example.com", cp,
            new Common.ClientHandler(user, pw, null));
        p.challenge = p.s.evaluateResponse(new byte[0]);
        if (editChallenge != null) p.challenge = iso(editChallenge.apply(str(p.challenge)));
        p.response = p.c.evaluateChallenge(p.challenge);
        if (editResponse != null) p.response = iso(editResponse.apply(str(p.response)));
        p.rspauth = p.s.evaluateResponse(p.response);
        p.c.evaluateChallenge(p.rspauth);
        return p;
    }

    static Pair layer(String qop, String cipher) throws Exception {
        Map<String, Object> cp = props(Sasl.QOP, qop);
        if (cipher != null) cp.put(Common.PROP_CIPHER, cipher);
        return run("alice", "secret", null, props(Sasl.QOP, qop), cp, null, null);
    }

    static String str(byte[] b) { return new String(b, StandardCharsets.ISO_8859_1); }
    static byte[] iso(String s) { return s.getBytes(StandardCharsets.ISO_8859_1); }

    static void out(String name, Object result) { System.out.println(name + ": " + result); }

    interface Body { Object run() throws Exception; }

    static void probe(String name, Body b) {
        try {
            out(name, b.run());
        } catch (Throwable e) {
            out(name, "THROWS " + e.getClass().getName() + ": " + e.getMessage());
        }
    }

    static String unwrapDesc(byte[] r) {
        return r == null ? "null" : (r.length == 0 ? "returns EMPTY array (no exception)" : "returns " + r.length + " bytes");
    }

    static byte[] flip(byte[] w, int i) { byte[] x = w.clone(); x[i] ^= 1; return x; }

    public static void main(String[] args) throws Exception {
        java.util.logging.Logger.getLogger("javax.security.sasl").setLevel(java.util.logging.Level.WARNING);
        System.out.println("# " + Common.source() + " " + System.getProperty("java.vm.vendor"));
        for (String n : new String[]{"DESede/CBC/NoPadding", "RC4", "DES/CBC/NoPadding"}) {
            probe("jce " + n, () -> Cipher.getInstance(n).getProvider().toString());
        }
        probe("server cipher offer", () -> Common.directive(layer("auth-conf", null).challenge, "cipher"));
        probe("client default cipher choice", () -> Common.directive(layer("auth-conf", null).response, "cipher"));

        // ---- wrap/unwrap edge cases
        for (String[] qc : new String[][]{{"auth-int", null}, {"auth-conf", "rc4"}, {"auth-conf", "3des"}}) {
            String tag = qc[0] + (qc[1] == null ? "" : "/" + qc[1]);
            probe(tag + " wrap(empty)", () -> {
                Pair p = layer(qc[0], qc[1]);
                byte[] e = p.c.wrap(new byte[0], 0, 0);
                byte[] one = p.c.wrap(new byte[]{42}, 0, 1);
                int seq = java.nio.ByteBuffer.wrap(one, one.length - 4, 4).getInt();
                return "returns " + e.length + " bytes; the next wrap carries seq " + seq
                    + " (an empty message consumes no sequence number)";
            });
            probe(tag + " unwrap(bit flipped in first byte)", () -> {
                Pair p = layer(qc[0], qc[1]);
                byte[] w0 = p.c.wrap(new byte[100], 0, 100);
                byte[] w1 = p.c.wrap(new byte[100], 0, 100);
                String r0 = unwrapDesc(p.s.unwrap(flip(w0, 0), 0, w0.length));
                String r1;
                try { r1 = unwrapDesc(p.s.unwrap(w0, 0, w0.length)); } catch (Exception e) { r1 = "THROWS " + e.getMessage(); }
                String r2;
                try { r2 = unwrapDesc(p.s.unwrap(w1, 0, w1.length)); } catch (Exception e) { r2 = "THROWS " + e.getMessage(); }
                return r0 + "; then the untouched original: " + r1 + "; then the next message: " + r2;
            });
            probe(tag + " unwrap(bit flipped in MAC/last block)", () -> {
                Pair p = layer(qc[0], qc[1]);
                byte[] w0 = p.c.wrap(new byte[100], 0, 100);
                byte[] w1 = p.c.wrap(new byte[100], 0, 100);
                String r0 = unwrapDesc(p.s.unwrap(flip(w0, w0.length - 7), 0, w0.length));
                String r1;
                try { r1 = unwrapDesc(p.s.unwrap(w1, 0, w1.length)); } catch (Exception e) { r1 = "THROWS " + e.getMessage(); }
                return r0 + "; then the next message: " + r1;
            });
            probe(tag + " unwrap(same message twice)", () -> {
                Pair p = layer(qc[0], qc[1]);
                byte[] w0 = p.c.wrap(new byte[10], 0, 10);
                p.s.unwrap(w0, 0, w0.length);
                return unwrapDesc(p.s.unwrap(w0, 0, w0.length));
            });
            probe(tag + " unwrap(messages swapped)", () -> {
                Pair p = layer(qc[0], qc[1]);
                byte[] w0 = p.c.wrap(new byte[10], 0, 10);
                byte[] w1 = p.c.wrap(new byte[10], 0, 10);
                return unwrapDesc(p.s.unwrap(w1, 0, w1.length));
            });
            probe(tag + " unwrap(5-byte input)", () -> {
                Pair p = layer(qc[0], qc[1]);
                return unwrapDesc(p.s.unwrap(new byte[5], 0, 5));
            });
            probe(tag + " wrap(rawSendSize+1000) / peer unwrap", () -> {
                Pair p = layer(qc[0], qc[1]);
                int raw = Integer.parseInt((String) p.c.getNegotiatedProperty(Sasl.RAW_SEND_SIZE));
                byte[] w = p.c.wrap(new byte[raw + 1000], 0, raw + 1000);
                byte[] r = p.s.unwrap(w, 0, w.length);
                return "rawSendSize " + raw + "; wrap gave " + w.length + " bytes (> maxbuf 65536), peer unwrap "
                    + unwrapDesc(r);
            });
        }
        probe("auth-conf/3des message type 0x0002 (MAC ok)", () -> {
            Pair p = layer("auth-conf", "3des");
            byte[] w = p.c.wrap(new byte[10], 0, 10);
            w[w.length - 5] = 2;
            return unwrapDesc(p.s.unwrap(w, 0, w.length));
        });
        probe("wrap under qop=auth", () -> {
            Pair p = layer("auth", null);
            return p.c.wrap(new byte[1], 0, 1).length;
        });

        // ---- maxbuf
        probe("client sees maxbuf=\"10\" (below 17)", () -> {
            Pair p = run("alice", "secret", null, props(Sasl.QOP, "auth-int"), props(Sasl.QOP, "auth-int"),
                ch -> ch.replace("qop=\"auth-int\",", "qop=\"auth-int\",maxbuf=\"10\","), null);
            return "accepted; client rawSendSize=" + p.c.getNegotiatedProperty(Sasl.RAW_SEND_SIZE);
        });
        probe("client sees maxbuf=\"99999999\" (> 2^24-1)", () -> {
            Pair p = run("alice", "secret", null, props(Sasl.QOP, "auth-int"), props(Sasl.QOP, "auth-int"),
                ch -> ch.replace("qop=\"auth-int\",", "qop=\"auth-int\",maxbuf=\"99999999\","), null);
            return "accepted; client sendmaxbuffer=" + p.c.getNegotiatedProperty(Common.PROP_SENDMAX);
        });
        probe("server property maxbuf=5 accepted", () -> {
            Pair p = run("alice", "secret", null, props(Sasl.QOP, "auth-int", Sasl.MAX_BUFFER, "5"),
                props(Sasl.QOP, "auth-int"), null, null);
            return Common.directive(p.challenge, "maxbuf") + " sent in challenge: " + str(p.challenge);
        });

        // ---- charset / realm / authzid corner cases
        probe("non-Latin-1 user without charset (server utf8=false)", () -> {
            try {
                Pair p = run("用户", "пароль", null, props(Common.PROP_UTF8, "false"), props(), null, null);
                return "succeeded?! " + str(p.response);
            } catch (Exception e) {
                return "fails on the server: " + e.getMessage();
            }
        });
        probe("client omits charset, Latin-1 user, server offered utf-8", () -> {
            Pair p = run("Jürgen", "pässwörd", null, props(), props(),
                ch -> ch.replace("charset=utf-8,", ""), null);
            return "succeeded; server saw user " + p.sh.lastUser;
        });
        probe("client omits charset, ASCII user, server offered utf-8", () -> {
            run("alice", "secret", null, props(), props(), ch -> ch.replace("charset=utf-8,", ""), null);
            return "succeeded";
        });
        probe("challenge charset=UTF-8 (upper case)", () -> {
            run("alice", "secret", null, props(), props(), ch -> ch.replace("charset=utf-8", "charset=UTF-8"), null);
            return "succeeded";
        });
        probe("challenge algorithm=MD5-sess (upper case)", () -> {
            run("alice", "secret", null, props(), props(), ch -> ch.replace("md5-sess", "MD5-sess"), null);
            return "succeeded";
        });
        probe("challenge with no realm (client omits realm)", () -> {
            run("alice", "secret", null, props(), props(), ch -> ch.replaceFirst("realm=\"[^\"]*\",", ""), null);
            return "succeeded";
        });
        probe("empty authzid \"\"", () -> {
            Pair p = run("alice", "secret", "", props(), props(), null, null);
            return "response contains authzid: " + str(p.response).contains("authzid=\"\"")
                + "; server authorizationID='" + p.s.getAuthorizationID() + "'";
        });
        probe("response with nc=00000002", () -> {
            run("alice", "secret", null, props(), props(), null, r -> r.replace("nc=00000001", "nc=00000002"));
            return "succeeded";
        });
        probe("response with qop directive missing (auth)", () -> {
            run("alice", "secret", null, props(), props(), null, r -> r.replace(",qop=auth", ""));
            return "succeeded";
        });
        probe("response with cipher unquoted", () -> {
            Pair p = run("alice", "secret", null, props(Sasl.QOP, "auth-conf"),
                props(Sasl.QOP, "auth-conf", Common.PROP_CIPHER, "rc4"), null,
                r -> r.replace("cipher=\"rc4\"", "cipher=rc4"));
            return "succeeded";
        });
        probe("server qop property with spaces", () -> {
            Pair p = run("alice", "secret", null, props(Sasl.QOP, "auth-conf, auth-int, auth"), props(), null, null);
            return Common.directive(p.challenge, "qop") == null ? "?" : "challenge carries qop=\""
                + Common.directive(p.challenge, "qop") + "\"";
        });
    }

}
