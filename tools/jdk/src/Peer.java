// A JDK SunSASL DIGEST-MD5 client or server driven over stdin/stdout, for live
// interop tests. The line protocol is documented in tools/jdk/README.md.
//
// usage: java [--add-opens java.security.sasl/com.sun.security.sasl.digest=ALL-UNNAMED] \
//             -cp build Peer --role client|server [options]

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

import javax.security.sasl.Sasl;
import javax.security.sasl.SaslClient;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;

public final class Peer {
    static PrintStream out;

    static void usage(String msg) {
        System.err.println("Peer: " + msg);
        System.err.println("usage: Peer --role client|server [--authcid S] [--password S] [--authzid S]\n"
            + "  [--realm S]... [--service S] [--host S] [--qop LIST] [--cipher LIST] [--strength LIST]\n"
            + "  [--maxbuf N] [--sendmaxbuffer N] [--utf8 true|false] [--deny-authzid] [--log]\n"
            + "  (every string option also exists as --NAME-b64 taking base64 of UTF-8)");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8");
        Map<String, String> o = new LinkedHashMap<>();
        List<String> realms = new ArrayList<>();
        boolean denyAuthzid = false, log = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--deny-authzid")) { denyAuthzid = true; continue; }
            if (a.equals("--log")) { log = true; continue; }
            if (!a.startsWith("--") || i + 1 >= args.length) usage("bad argument " + a);
            String k = a.substring(2), v = args[++i];
            if (k.endsWith("-b64")) {
                k = k.substring(0, k.length() - 4);
                v = new String(Common.unb64(v), StandardCharsets.UTF_8);
            }
            if (k.equals("realm")) realms.add(v); else o.put(k, v);
        }
        for (String k : o.keySet()) {
            if (!List.of("role", "authcid", "password", "authzid", "service", "host", "qop", "cipher",
                    "strength", "maxbuf", "sendmaxbuffer", "utf8").contains(k)) usage("unknown option --" + k);
        }
        Logger saslLog = Logger.getLogger("javax.security.sasl");
        if (log) {
            ConsoleHandler h = new ConsoleHandler();
            h.setLevel(Level.ALL);
            saslLog.addHandler(h);
            saslLog.setLevel(Level.ALL);
        } else {
            saslLog.setLevel(Level.WARNING); // "Unmatched MACs" is logged at INFO
        }
        String role = o.get("role");
        if (!"client".equals(role) && !"server".equals(role)) usage("--role client|server required");
        String authcid = o.getOrDefault("authcid", "alice");
        String password = o.getOrDefault("password", "secret");
        String service = o.getOrDefault("service", "ldap");
        String host = o.getOrDefault("host", "localhost");
        String qop = o.getOrDefault("qop", "auth");

        Map<String, Object> props = new LinkedHashMap<>();
        props.put(Sasl.QOP, qop);
        if (o.containsKey("strength")) props.put(Sasl.STRENGTH, o.get("strength"));
        if (o.containsKey("maxbuf")) props.put(Sasl.MAX_BUFFER, o.get("maxbuf"));
        if (o.containsKey("sendmaxbuffer")) props.put(Common.PROP_SENDMAX, o.get("sendmaxbuffer"));

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Object sasl;
        String cipherOffer = o.get("cipher");
        try {
            if (role.equals("client")) {
                if (cipherOffer != null) props.put(Common.PROP_CIPHER, cipherOffer);
                String realm = realms.isEmpty() ? null : realms.get(0);
                SaslClient c = Common.newClient(o.get("authzid"), service, host, props,
                    new Common.ClientHandler(authcid, password, realm));
                sasl = c;
                authClient(c, in);
            } else {
                if (!realms.isEmpty()) props.put(Common.PROP_REALM, String.join(" ", realms));
                if (o.containsKey("utf8")) props.put(Common.PROP_UTF8, o.get("utf8"));
                SaslServer s = Common.newServer(service, host.equals("*") ? null : host, props,
                    new Common.ServerHandler(authcid, password, !denyAuthzid));
                sasl = s;
                authServer(s, in, cipherOffer);
            }
        } catch (Exception e) {
            out.println("FAIL " + oneLine(e));
            System.exit(1);
            return;
        }
        layerLoop(sasl, in);
    }

    static String lastCipher;

    static void authClient(SaslClient c, BufferedReader in) throws Exception {
        while (!c.isComplete()) {
            byte[] tok = readToken(in);
            byte[] r = c.evaluateChallenge(tok);
            if (r != null && Common.directive(r, "cipher") != null) lastCipher = Common.directive(r, "cipher");
            printToken(r);
            if (!c.isComplete()) out.println("CONTINUE");
        }
        String q = (String) c.getNegotiatedProperty(Sasl.QOP);
        out.println("OK " + negotiated(q, c.getNegotiatedProperty(Sasl.STRENGTH),
            c.getNegotiatedProperty(Sasl.MAX_BUFFER), c.getNegotiatedProperty(Common.PROP_SENDMAX),
            c.getNegotiatedProperty(Sasl.RAW_SEND_SIZE), null));
    }

    static void authServer(SaslServer s, BufferedReader in, String cipherOffer) throws Exception {
        byte[] ch = s.evaluateResponse(new byte[0]);
        if (cipherOffer != null) {
            // The JDK server always offers every platform cipher; restrict the offer by
            // editing the challenge (the JDK server would still accept any of them).
            String e = new String(ch, StandardCharsets.ISO_8859_1)
                .replaceFirst("cipher=\"[^\"]*\"", "cipher=\"" + cipherOffer + "\"");
            ch = e.getBytes(StandardCharsets.ISO_8859_1);
        }
        printToken(ch);
        out.println("CONTINUE");
        while (!s.isComplete()) {
            byte[] tok = readToken(in);
            if (Common.directive(tok, "cipher") != null) lastCipher = Common.directive(tok, "cipher");
            printToken(s.evaluateResponse(tok));
            if (!s.isComplete()) out.println("CONTINUE");
        }
        String q = (String) s.getNegotiatedProperty(Sasl.QOP);
        String az = s.getAuthorizationID();
        out.println("OK " + negotiated(q, s.getNegotiatedProperty(Sasl.STRENGTH),
            s.getNegotiatedProperty(Sasl.MAX_BUFFER), s.getNegotiatedProperty(Common.PROP_SENDMAX),
            s.getNegotiatedProperty(Sasl.RAW_SEND_SIZE), az));
    }

    static String negotiated(String qop, Object strength, Object maxbuf, Object sendmax, Object raw, String authzid) {
        StringBuilder sb = new StringBuilder();
        sb.append("qop=").append(qop);
        sb.append(" cipher=").append("auth-conf".equals(qop) && lastCipher != null ? lastCipher : "-");
        sb.append(" strength=").append(strength == null ? "-" : strength);
        sb.append(" maxbuf=").append(maxbuf);
        sb.append(" sendmaxbuffer=").append(sendmax);
        sb.append(" rawsendsize=").append(raw);
        if (authzid != null) sb.append(" authzid-b64=").append(Common.b64(authzid.getBytes(StandardCharsets.UTF_8)));
        return sb.toString();
    }

    static byte[] readToken(BufferedReader in) throws Exception {
        String l = in.readLine();
        if (l == null) throw new SaslException("EOF while waiting for a token");
        l = l.trim();
        if (l.equals("EMPTY")) return new byte[0];
        if (l.startsWith("TOKEN ")) return Common.unb64(l.substring(6));
        if (l.equals("NONE")) return new byte[0];
        throw new SaslException("expected TOKEN <b64> or EMPTY, got: " + l);
    }

    static void printToken(byte[] t) {
        if (t == null) out.println("NONE");
        else if (t.length == 0) out.println("EMPTY");
        else out.println("TOKEN " + Common.b64(t));
    }

    // ------------------------------------------------------------------

    static void layerLoop(Object sasl, BufferedReader in) throws Exception {
        String l;
        while ((l = in.readLine()) != null) {
            l = l.trim();
            if (l.isEmpty()) continue;
            String cmd = l, arg = "";
            int sp = l.indexOf(' ');
            if (sp >= 0) { cmd = l.substring(0, sp); arg = l.substring(sp + 1).trim(); }
            try {
                switch (cmd) {
                    case "WRAP": {
                        byte[] p = Common.unb64(arg);
                        out.println(Common.b64(wrap(sasl, p)));
                        break;
                    }
                    case "UNWRAP": {
                        byte[] w = Common.unb64(arg);
                        int before = peerSeq(sasl);
                        byte[] p = unwrap(sasl, w);
                        int after = peerSeq(sasl);
                        if (p.length == 0 && w.length > 0 && before >= 0 && after == before) {
                            out.println("ERR discarded: the JDK returned an empty array without advancing its"
                                + " receive sequence number (bad MAC or padding)");
                        } else {
                            out.println(Common.b64(p));
                        }
                        break;
                    }
                    case "PROP": {
                        Object v = sasl instanceof SaslClient ? ((SaslClient) sasl).getNegotiatedProperty(arg)
                            : ((SaslServer) sasl).getNegotiatedProperty(arg);
                        out.println(v == null ? "ERR no such property" : v.toString());
                        break;
                    }
                    case "QUIT":
                        out.println("BYE");
                        System.exit(0);
                        return;
                    default:
                        out.println("ERR unknown command " + cmd);
                }
            } catch (Throwable e) {
                out.println("ERR " + oneLine(e));
            }
        }
    }

    static byte[] wrap(Object s, byte[] p) throws SaslException {
        return s instanceof SaslClient ? ((SaslClient) s).wrap(p, 0, p.length) : ((SaslServer) s).wrap(p, 0, p.length);
    }

    static byte[] unwrap(Object s, byte[] w) throws SaslException {
        return s instanceof SaslClient ? ((SaslClient) s).unwrap(w, 0, w.length) : ((SaslServer) s).unwrap(w, 0, w.length);
    }

    /** The JDK's receive sequence counter, or -1 if it cannot be read (no --add-opens). */
    static int peerSeq(Object sasl) {
        try {
            Object ctx = field(sasl, "secCtx");
            Object v = ctx == null ? null : field(ctx, "peerSeqNum");
            return v instanceof Integer ? (Integer) v : -1;
        } catch (Throwable e) {
            return -1;
        }
    }

    static Object field(Object o, String name) throws Exception {
        for (Class<?> c = o.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(o);
            } catch (NoSuchFieldException e) {
                // keep walking up
            }
        }
        throw new NoSuchFieldException(name);
    }

    static String oneLine(Throwable e) {
        String m = e.getClass().getSimpleName() + ": " + e.getMessage();
        return m.replace('\n', ' ').replace('\r', ' ');
    }
}
