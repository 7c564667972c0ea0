// Records DIGEST-MD5 exchanges between the JDK's own SunSASL client and server
// (one JVM, tokens passed in memory) as digest-md5-transcript/1 JSON files.
//
// usage: java -cp build Record OUT_DIR [scenario-name ...]

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import javax.security.sasl.Sasl;
import javax.security.sasl.SaslClient;
import javax.security.sasl.SaslServer;

public final class Record {

    /** One recording. Fields are set fluently by the scenario table below. */
    static final class Scenario {
        final String name;
        String description = "";
        String authcid = "alice", password = "secret", authzid = null;
        String service = "ldap", host = "ldap.example.com";
        String serverRealms = null;   // com.sun.security.sasl.digest.realm (null: server name)
        String clientRealm = null;    // realm the client picks (null: accept the offered default)
        String serverQop = "auth";    // javax.security.sasl.qop on the server (the offer)
        String clientQop = "auth";    // javax.security.sasl.qop on the client (its preference)
        String clientStrength = null; // javax.security.sasl.strength on the client
        String clientCipher = null;   // com.sun.security.sasl.digest.cipher
        Boolean serverUtf8 = null;    // com.sun.security.sasl.digest.utf8 (null: default true)
        Integer serverMaxbuf = null, clientMaxbuf = null; // javax.security.sasl.maxbuf
        Integer serverSendMax = null, clientSendMax = null; // javax.security.sasl.sendmaxbuffer
        String editNote = null;       // description of a challenge edit
        UnaryOperator<String> edit = null; // edits the challenge (ISO-8859-1 view of the bytes)
        List<String> sizes = new ArrayList<>(); // layer message sizes ("max", "max-3", "17")

        Scenario(String name) { this.name = name; }
        Scenario desc(String d) { description = d; return this; }
        Scenario user(String u, String p) { authcid = u; password = p; return this; }
        Scenario authzid(String z) { authzid = z; return this; }
        Scenario realms(String server, String client) { serverRealms = server; clientRealm = client; return this; }
        Scenario qop(String server, String client) { serverQop = server; clientQop = client; return this; }
        Scenario cipher(String c) { clientCipher = c; return this; }
        Scenario strength(String s) { clientStrength = s; return this; }
        Scenario utf8(boolean b) { serverUtf8 = b; return this; }
        Scenario maxbuf(Integer server, Integer client) { serverMaxbuf = server; clientMaxbuf = client; return this; }
        Scenario sendmax(Integer server, Integer client) { serverSendMax = server; clientSendMax = client; return this; }
        Scenario svc(String s, String h) { service = s; host = h; return this; }
        Scenario edit(String note, UnaryOperator<String> f) { editNote = note; edit = f; return this; }
        Scenario msgs(String... s) { sizes.addAll(Arrays.asList(s)); return this; }
    }

    // Sizes for default-maxbuf scenarios (0 is not recordable: see README) ...
    static final String[] STD = {"1", "7", "8", "9", "1000", "16", "17", "2"};
    // ... and for small-maxbuf scenarios, up to the largest size the JDK lets through.
    static final String[] NEARMAX = {"1", "7", "8", "9", "1000", "max", "max-1", "max-8", "max-9"};

    static List<Scenario> scenarios() {
        List<Scenario> l = new ArrayList<>();
        // ---- qop=auth
        l.add(new Scenario("auth-basic").desc("qop=auth, one realm, no authzid"));
        l.add(new Scenario("auth-authzid").authzid("bob").desc("qop=auth, authzid differs from authcid"));
        l.add(new Scenario("auth-authzid-equal").authzid("alice")
            .desc("qop=auth, authzid equal to authcid: the JDK still sends it"));
        l.add(new Scenario("auth-authzid-utf8").authzid("管理者")
            .desc("qop=auth, non-ASCII authzid (always UTF-8 in the JDK)"));
        l.add(new Scenario("auth-offer-all").qop("auth-conf,auth-int,auth", "auth")
            .desc("server offers every qop and all ciphers, client takes auth"));
        l.add(new Scenario("auth-username-escapes").user("al\"ice\\x", "se\"cr\\et")
            .desc("username and password with a double quote and a backslash (escaped on the wire)"));
        l.add(new Scenario("auth-imap-service").svc("imap", "elwood.innosoft.com")
            .realms("elwood.innosoft.com", null).user("chris", "secret")
            .desc("imap service, RFC 2831 example-like names"));
        // ---- charsets
        l.add(new Scenario("auth-latin1-utf8").user("Jürgen", "pässwörd")
            .desc("Latin-1-representable user/password, server offers charset=utf-8: UTF-8 on the wire, ISO-8859-1 in H(A1)"));
        l.add(new Scenario("auth-latin1-nocharset").user("Jürgen", "pässwörd").utf8(false)
            .desc("Latin-1 user/password, server does not offer charset (utf8=false): ISO-8859-1 bytes on the wire"));
        l.add(new Scenario("auth-nonlatin1-utf8").user("用户", "пароль")
            .desc("user/password not representable in Latin-1, charset=utf-8: UTF-8 everywhere"));
        l.add(new Scenario("auth-mixed-utf8").user("Jürgen", "пароль")
            .desc("user Latin-1-representable (down-converted), password not (UTF-8): per-field conversion"));
        l.add(new Scenario("auth-realm-latin1-utf8").user("Jürgen", "pässwörd").realms("münchen.example", null)
            .desc("non-ASCII Latin-1 realm with charset=utf-8 (realm down-converted in H(A1))"));
        l.add(new Scenario("auth-realm-latin1-nocharset").user("Jürgen", "pässwörd")
            .realms("münchen.example", null).utf8(false)
            .desc("non-ASCII Latin-1 realm, no charset: ISO-8859-1 realm bytes in challenge and response"));
        l.add(new Scenario("auth-int-nonlatin1-utf8").user("用户", "пароль").qop("auth-int", "auth-int")
            .msgs("1", "8", "1000")
            .desc("auth-int with non-Latin-1 credentials (layer keys depend on the UTF-8 H(A1))"));
        l.add(new Scenario("auth-conf-rc4-latin1-utf8").user("Jürgen", "pässwörd")
            .qop("auth-conf", "auth-conf").cipher("rc4").msgs("1", "9", "1000")
            .desc("auth-conf rc4 with Latin-1 credentials down-converted"));
        l.add(new Scenario("auth-conf-3des-latin1-nocharset").user("Jürgen", "pässwörd").utf8(false)
            .qop("auth-conf", "auth-conf").cipher("3des").msgs("1", "7", "8", "9")
            .desc("auth-conf 3des, Latin-1 credentials, no charset offered"));
        // ---- realms
        l.add(new Scenario("auth-realms-choose-first").realms("example.com other.org third.net", "example.com")
            .desc("server offers 3 realms; client picks the first (RealmChoiceCallback)"));
        l.add(new Scenario("auth-realms-choose-second").realms("example.com other.org third.net", "other.org")
            .desc("server offers 3 realms; client picks the second (RealmChoiceCallback)"));
        l.add(new Scenario("auth-int-realms-choose-third").realms("example.com other.org third.net", "third.net")
            .qop("auth-int", "auth-int").msgs("1", "1000")
            .desc("auth-int, 3 realms, client picks the third"));
        l.add(new Scenario("auth-conf-rc4-realms-choose-second").realms("example.com,other.org", "other.org")
            .qop("auth-conf", "auth-conf").cipher("rc4").msgs("8", "9")
            .desc("auth-conf rc4, 2 realms (comma-separated property), client picks the second"));
        // ---- auth-int
        l.add(new Scenario("auth-int").qop("auth-int", "auth-int").msgs(STD)
            .desc("auth-int, default maxbuf 65536, messages of sizes 1..1000 both ways"));
        l.add(new Scenario("auth-int-max-65536").qop("auth-int", "auth-int").msgs("max")
            .desc("auth-int, default maxbuf 65536, one message of the largest size (65536-16) each way"));
        l.add(new Scenario("auth-int-authzid").qop("auth-int", "auth-int").authzid("bob").msgs("1", "7", "1000")
            .desc("auth-int with authzid"));
        l.add(new Scenario("auth-int-offer-all").qop("auth-conf,auth-int,auth", "auth-int,auth")
            .msgs("1", "9").desc("server offers all qops, client prefers auth-int"));
        l.add(new Scenario("auth-int-maxbuf-1024").qop("auth-int", "auth-int").maxbuf(1024, 1024).msgs(NEARMAX)
            .desc("auth-int, both maxbuf=1024: max message = 1024-16 plaintext bytes"));
        l.add(new Scenario("auth-int-maxbuf-4096-1024").qop("auth-int", "auth-int").maxbuf(4096, 1024)
            .msgs("1", "1000", "max", "max-1")
            .desc("auth-int, server maxbuf 4096, client maxbuf 1024 (asymmetric)"));
        l.add(new Scenario("auth-int-maxbuf-16777215").qop("auth-int", "auth-int").maxbuf(16777215, 16777215)
            .msgs("1", "70000").desc("auth-int, both maxbuf 2^24-1, a message above 64 KiB each way"));
        l.add(new Scenario("auth-int-many").qop("auth-int", "auth-int").msgs(many())
            .desc("auth-int, 40 messages each way (seq 0..39)"));
        // ---- auth-conf, every cipher
        for (String c : new String[]{"3des", "rc4", "des", "rc4-56", "rc4-40"}) {
            l.add(new Scenario("auth-conf-" + c).qop("auth-conf", "auth-conf").cipher(c).msgs(STD)
                .desc("auth-conf " + c + ", default maxbuf, messages of sizes 1..1000 both ways"));
            l.add(new Scenario("auth-conf-" + c + "-maxbuf-1024").qop("auth-conf", "auth-conf").cipher(c)
                .maxbuf(1024, 1024).msgs(NEARMAX)
                .desc("auth-conf " + c + ", both maxbuf 1024: largest message = 1024-26 = 998 bytes"));
            l.add(new Scenario("auth-conf-" + c + "-authzid").qop("auth-conf", "auth-conf").cipher(c)
                .authzid("bob").msgs("1", "7", "8", "9", "1000")
                .desc("auth-conf " + c + " with authzid"));
        }
        l.add(new Scenario("auth-conf-default-cipher").qop("auth-conf", "auth-conf").msgs("1", "9")
            .desc("auth-conf, no cipher property: the JDK client picks by strength (3des first)"));
        l.add(new Scenario("auth-conf-strength-medium").qop("auth-conf", "auth-conf").strength("medium")
            .msgs("1", "9").desc("auth-conf, client strength=medium and no cipher property (JDK picks des)"));
        l.add(new Scenario("auth-conf-strength-low").qop("auth-conf", "auth-conf").strength("low")
            .msgs("1", "9").desc("auth-conf, client strength=low (JDK picks rc4-40)"));
        l.add(new Scenario("auth-conf-rc4-56-only-offered").qop("auth-conf", "auth-conf")
            .edit("cipher list in the challenge replaced by \"rc4-56\"",
                ch -> ch.replaceFirst("cipher=\"[^\"]*\"", "cipher=\"rc4-56\""))
            .msgs("1", "8", "1000")
            .desc("challenge edited to offer only rc4-56; client has no cipher preference"));
        l.add(new Scenario("auth-conf-des-only-offered").qop("auth-conf,auth-int,auth", "auth-conf")
            .edit("cipher list in the challenge replaced by \"des\"",
                ch -> ch.replaceFirst("cipher=\"[^\"]*\"", "cipher=\"des\""))
            .msgs("1", "8", "1000")
            .desc("challenge edited to offer only des; server offers all qops"));
        l.add(new Scenario("auth-conf-3des-max-65536").qop("auth-conf", "auth-conf").cipher("3des").msgs("max")
            .desc("auth-conf 3des, default maxbuf 65536, one message of the largest size (65536-26) each way"));
        l.add(new Scenario("auth-conf-rc4-maxbuf-4096").qop("auth-conf", "auth-conf").cipher("rc4")
            .maxbuf(4096, 4096).msgs(NEARMAX).desc("auth-conf rc4, both maxbuf 4096"));
        l.add(new Scenario("auth-conf-des-maxbuf-1024-4096").qop("auth-conf", "auth-conf").cipher("des")
            .maxbuf(1024, 4096).msgs("1", "max", "max-7", "max-8")
            .desc("auth-conf des, server maxbuf 1024, client maxbuf 4096"));
        l.add(new Scenario("auth-conf-rc4-40-maxbuf-16777215").qop("auth-conf", "auth-conf").cipher("rc4-40")
            .maxbuf(16777215, 16777215).msgs("1", "70000").desc("auth-conf rc4-40, both maxbuf 2^24-1"));
        l.add(new Scenario("auth-conf-3des-maxbuf-16777215").qop("auth-conf", "auth-conf").cipher("3des")
            .maxbuf(16777215, 16777215).msgs("9", "70001").desc("auth-conf 3des, both maxbuf 2^24-1"));
        l.add(new Scenario("auth-conf-3des-sendmaxbuffer").qop("auth-conf", "auth-conf").cipher("3des")
            .sendmax(2048, 1024).msgs("1", "max", "max-1")
            .desc("auth-conf 3des, javax.security.sasl.sendmaxbuffer 2048 (server) / 1024 (client) caps the send size below the peer's 65536"));
        l.add(new Scenario("auth-conf-rc4-many").qop("auth-conf", "auth-conf").cipher("rc4").msgs(many())
            .desc("auth-conf rc4, 40 messages each way (continuous RC4 keystream)"));
        l.add(new Scenario("auth-conf-3des-many").qop("auth-conf", "auth-conf").cipher("3des").msgs(many())
            .desc("auth-conf 3des, 40 messages each way (CBC chained across messages)"));
        l.add(new Scenario("auth-conf-des-many").qop("auth-conf", "auth-conf").cipher("des").msgs(many())
            .desc("auth-conf des, 40 messages each way (CBC chained across messages)"));
        l.add(new Scenario("auth-conf-3des-nonlatin1-authzid").qop("auth-conf", "auth-conf").cipher("3des")
            .user("用户", "пароль").authzid("管理者").msgs("1", "9", "1000")
            .desc("auth-conf 3des, non-Latin-1 credentials and authzid"));
        return l;
    }

    static String[] many() {
        String[] s = new String[40];
        int[] pat = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 1000};
        for (int i = 0; i < 40; i++) s[i] = Integer.toString(pat[i % pat.length] + (i / pat.length));
        return s;
    }

    // ------------------------------------------------------------------

    static Map<String, Object> record(Scenario sc) throws Exception {
        Map<String, Object> sprops = new LinkedHashMap<>();
        sprops.put(Sasl.QOP, sc.serverQop);
        if (sc.serverRealms != null) sprops.put(Common.PROP_REALM, sc.serverRealms);
        if (sc.serverUtf8 != null) sprops.put(Common.PROP_UTF8, sc.serverUtf8.toString());
        if (sc.serverMaxbuf != null) sprops.put(Sasl.MAX_BUFFER, sc.serverMaxbuf.toString());
        if (sc.serverSendMax != null) sprops.put(Common.PROP_SENDMAX, sc.serverSendMax.toString());

        Map<String, Object> cprops = new LinkedHashMap<>();
        cprops.put(Sasl.QOP, sc.clientQop);
        if (sc.clientStrength != null) cprops.put(Sasl.STRENGTH, sc.clientStrength);
        if (sc.clientCipher != null) cprops.put(Common.PROP_CIPHER, sc.clientCipher);
        if (sc.clientMaxbuf != null) cprops.put(Sasl.MAX_BUFFER, sc.clientMaxbuf.toString());
        if (sc.clientSendMax != null) cprops.put(Common.PROP_SENDMAX, sc.clientSendMax.toString());

        Common.ServerHandler sh = new Common.ServerHandler(sc.authcid, sc.password, true);
        Common.ClientHandler ch = new Common.ClientHandler(sc.authcid, sc.password, sc.clientRealm);
        SaslServer srv = Common.newServer(sc.service, sc.host, sprops, sh);
        SaslClient cli = Common.newClient(sc.authzid, sc.service, sc.host, cprops, ch);
        if (cli.hasInitialResponse()) throw new IllegalStateException("JDK client has an initial response?");

        List<Object> exchange = new ArrayList<>();
        byte[] challenge = srv.evaluateResponse(new byte[0]);
        if (sc.edit != null) {
            String e = sc.edit.apply(new String(challenge, StandardCharsets.ISO_8859_1));
            byte[] edited = e.getBytes(StandardCharsets.ISO_8859_1);
            if (Arrays.equals(edited, challenge)) throw new IllegalStateException("edit had no effect");
            challenge = edited;
        }
        exchange.add(Common.map("from", "server", "b64", Common.b64(challenge)));
        byte[] response = cli.evaluateChallenge(challenge);
        exchange.add(Common.map("from", "client", "b64", Common.b64(response)));
        byte[] rspauth = srv.evaluateResponse(response);
        exchange.add(Common.map("from", "server", "b64", Common.b64(rspauth)));
        if (!srv.isComplete()) throw new IllegalStateException("server not complete");
        byte[] last = cli.evaluateChallenge(rspauth);
        if (last != null) {
            // Not expected from the JDK, but record it faithfully if it happens.
            exchange.add(Common.map("from", "client", "b64", Common.b64(last)));
            byte[] fin = srv.evaluateResponse(last);
            if (fin != null) exchange.add(Common.map("from", "server", "b64", Common.b64(fin)));
        }
        if (!cli.isComplete()) throw new IllegalStateException("client not complete");

        String qopC = (String) cli.getNegotiatedProperty(Sasl.QOP);
        String qopS = (String) srv.getNegotiatedProperty(Sasl.QOP);
        if (!qopC.equals(qopS)) throw new IllegalStateException("qop mismatch " + qopC + " " + qopS);
        String cipher = Common.directive(response, "cipher");
        if (!"auth-conf".equals(qopC)) cipher = null;
        int cMaxOut = Integer.parseInt((String) cli.getNegotiatedProperty(Common.PROP_SENDMAX));
        int sMaxOut = Integer.parseInt((String) srv.getNegotiatedProperty(Common.PROP_SENDMAX));
        int cRaw = Integer.parseInt((String) cli.getNegotiatedProperty(Sasl.RAW_SEND_SIZE));
        int sRaw = Integer.parseInt((String) srv.getNegotiatedProperty(Sasl.RAW_SEND_SIZE));

        // ---- security layer
        List<Object> layer = new ArrayList<>();
        if (!sc.sizes.isEmpty()) {
            if ("auth".equals(qopC)) throw new IllegalStateException(sc.name + ": messages but qop=auth");
            int seqC = 0, seqS = 0;
            for (String spec : sc.sizes) {
                for (int d = 0; d < 2; d++) {
                    boolean c2s = d == 0;
                    int size = resolve(spec, c2s ? cRaw : sRaw);
                    if (size <= 0) continue; // the JDK wraps an empty message into an empty token: not recordable
                    int seq = c2s ? seqC++ : seqS++;
                    byte[] plain = Common.plaintext(size, seq, c2s);
                    byte[] wire = c2s ? cli.wrap(plain, 0, plain.length) : srv.wrap(plain, 0, plain.length);
                    byte[] back = c2s ? srv.unwrap(wire, 0, wire.length) : cli.unwrap(wire, 0, wire.length);
                    if (!Arrays.equals(plain, back)) {
                        throw new IllegalStateException(sc.name + ": round trip failed, size " + size);
                    }
                    int maxbufOfReceiver = c2s ? cMaxOut : sMaxOut;
                    if (wire.length > maxbufOfReceiver) {
                        throw new IllegalStateException(sc.name + ": wire " + wire.length + " > " + maxbufOfReceiver);
                    }
                    layer.add(Common.map("dir", c2s ? "c2s" : "s2c", "seq", seq,
                        "plain_b64", Common.b64(plain), "wire_b64", Common.b64(wire)));
                }
            }
        }

        String realmUsed = sc.clientRealm;
        if (realmUsed == null) {
            realmUsed = sc.serverRealms != null ? sc.serverRealms : sc.host;
        }

        Map<String, Object> config = new LinkedHashMap<>();
        config.put("authcid", sc.authcid);
        config.put("password", sc.password);
        config.put("authzid", sc.authzid);
        config.put("realm", realmUsed);
        config.put("service", sc.service);
        config.put("host", sc.host);
        config.put("serv_name", null);
        config.put("description", sc.description);
        config.put("jdk_server_props", sprops);
        config.put("jdk_client_props", cprops);
        if (sc.editNote != null) config.put("challenge_edited", sc.editNote);
        config.put("jdk_client_raw_send_size", cRaw);
        config.put("jdk_server_raw_send_size", sRaw);

        Map<String, Object> t = new LinkedHashMap<>();
        t.put("format", "digest-md5-transcript/1");
        t.put("source", Common.source());
        t.put("config", config);
        t.put("exchange", exchange);
        t.put("client_nonce", Common.directive(response, "cnonce"));
        t.put("server_nonce", Common.directive(challenge, "nonce"));
        Map<String, Object> neg = new LinkedHashMap<>();
        neg.put("qop", qopC);
        neg.put("cipher", cipher);
        neg.put("client_maxoutbuf", cMaxOut);
        neg.put("server_maxoutbuf", sMaxOut);
        t.put("negotiated", neg);
        t.put("layer", layer);
        cli.dispose();
        srv.dispose();
        return t;
    }

    static int resolve(String spec, int raw) {
        if (spec.equals("max")) return raw;
        if (spec.startsWith("max-")) return raw - Integer.parseInt(spec.substring(4));
        return Integer.parseInt(spec);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Record OUT_DIR [scenario ...]");
            System.exit(2);
        }
        Path out = Paths.get(args[0]);
        Files.createDirectories(out);
        List<String> only = Arrays.asList(args).subList(1, args.length);
        int n = 0, failed = 0;
        for (Scenario sc : scenarios()) {
            if (!only.isEmpty() && !only.contains(sc.name)) continue;
            try {
                Map<String, Object> t = record(sc);
                Path f = out.resolve(sc.name + ".json");
                Files.write(f, Common.json(t).getBytes(StandardCharsets.UTF_8));
                System.out.println("recorded " + f);
                n++;
            } catch (Exception e) {
                System.out.println("FAILED " + sc.name + ": " + e);
                e.printStackTrace();
                failed++;
            }
        }
        System.out.println(n + " recorded, " + failed + " failed (" + Common.source() + ")");
        if (failed > 0) System.exit(1);
    }
}
