// Shared helpers for the JDK DIGEST-MD5 recorder, peer and probe.
// Stdlib only. Written for this project; not derived from OpenJDK sources.

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.sasl.AuthorizeCallback;
import javax.security.sasl.RealmCallback;
import javax.security.sasl.RealmChoiceCallback;
import javax.security.sasl.Sasl;
import javax.security.sasl.SaslClient;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;

final class Common {
    private Common() {}

    static final String MECH = "DIGEST-MD5";
    static final String PROP_CIPHER = "com.sun.security.sasl.digest.cipher";
    static final String PROP_UTF8 = "com.sun.security.sasl.digest.utf8";
    static final String PROP_REALM = "com.sun.security.sasl.digest.realm";
    static final String PROP_SENDMAX = "javax.security.sasl.sendmaxbuffer";

    static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b == null ? new byte[0] : b);
    }

    static byte[] unb64(String s) {
        return Base64.getDecoder().decode(s.trim());
    }

    /** "openjdk 17.0.15" */
    static String source() {
        return "openjdk " + System.getProperty("java.version");
    }

    // ------------------------------------------------------------------
    // Callback handlers

    /** Client side: supplies authcid/password and picks the configured realm. */
    static final class ClientHandler implements CallbackHandler {
        final String authcid;
        final char[] password;
        final String realm;          // realm to use/choose; null = accept default
        String[] realmChoicesSeen;   // what RealmChoiceCallback offered, if used
        String realmDefaultSeen;     // default of RealmCallback, if used

        ClientHandler(String authcid, String password, String realm) {
            this.authcid = authcid;
            this.password = password.toCharArray();
            this.realm = realm;
        }

        @Override
        public void handle(Callback[] cbs) throws UnsupportedCallbackException {
            for (Callback cb : cbs) {
                if (cb instanceof NameCallback) {
                    ((NameCallback) cb).setName(authcid);
                } else if (cb instanceof PasswordCallback) {
                    ((PasswordCallback) cb).setPassword(password.clone());
                } else if (cb instanceof RealmChoiceCallback) {
                    RealmChoiceCallback rc = (RealmChoiceCallback) cb;
                    String[] ch = rc.getChoices();
                    realmChoicesSeen = ch;
                    int idx = 0;
                    if (realm != null) {
                        idx = -1;
                        for (int i = 0; i < ch.length; i++) {
                            if (ch[i].equals(realm)) { idx = i; break; }
                        }
                        if (idx < 0) {
                            throw new IllegalStateException("realm " + realm
                                + " not among offered " + String.join("|", ch));
                        }
                    }
                    rc.setSelectedIndex(idx);
                } else if (cb instanceof RealmCallback) {
                    RealmCallback rc = (RealmCallback) cb;
                    realmDefaultSeen = rc.getDefaultText();
                    rc.setText(realm != null ? realm : rc.getDefaultText());
                } else {
                    throw new UnsupportedCallbackException(cb);
                }
            }
        }
    }

    /** Server side: one user account; authorizes any authzid (or only the authcid). */
    static final class ServerHandler implements CallbackHandler {
        final Map<String, char[]> users = new HashMap<>();
        final boolean authorizeAny;
        String lastRealm, lastUser;

        ServerHandler(String authcid, String password, boolean authorizeAny) {
            if (authcid != null) users.put(authcid, password.toCharArray());
            this.authorizeAny = authorizeAny;
        }

        @Override
        public void handle(Callback[] cbs) throws UnsupportedCallbackException {
            String user = null;
            for (Callback cb : cbs) {
                if (cb instanceof RealmCallback) {
                    RealmCallback rc = (RealmCallback) cb;
                    lastRealm = rc.getDefaultText();
                    rc.setText(rc.getDefaultText());
                } else if (cb instanceof NameCallback) {
                    NameCallback nc = (NameCallback) cb;
                    user = nc.getDefaultName();
                    lastUser = user;
                    nc.setName(user);
                } else if (cb instanceof PasswordCallback) {
                    char[] pw = user == null ? null : users.get(user);
                    if (pw != null) ((PasswordCallback) cb).setPassword(pw.clone());
                } else if (cb instanceof AuthorizeCallback) {
                    AuthorizeCallback ac = (AuthorizeCallback) cb;
                    boolean ok = authorizeAny
                        || ac.getAuthenticationID().equals(ac.getAuthorizationID());
                    ac.setAuthorized(ok);
                    if (ok) ac.setAuthorizedID(ac.getAuthorizationID());
                } else {
                    throw new UnsupportedCallbackException(cb);
                }
            }
        }
    }

    // ------------------------------------------------------------------
    // A tolerant directive parser (quoted-string or token values), used only to
    // pull nonce/cnonce and friends out of recorded tokens.

    static List<String[]> parseDirectives(byte[] tok) {
        String s = new String(tok, StandardCharsets.ISO_8859_1);
        List<String[]> out = new ArrayList<>();
        int i = 0, n = s.length();
        while (i < n) {
            while (i < n && (s.charAt(i) == ',' || Character.isWhitespace(s.charAt(i)))) i++;
            if (i >= n) break;
            int k = i;
            while (i < n && s.charAt(i) != '=' && s.charAt(i) != ',') i++;
            String key = s.substring(k, i).trim();
            if (i >= n || s.charAt(i) != '=') { out.add(new String[]{key, ""}); continue; }
            i++;
            while (i < n && Character.isWhitespace(s.charAt(i))) i++;
            StringBuilder v = new StringBuilder();
            if (i < n && s.charAt(i) == '"') {
                i++;
                while (i < n && s.charAt(i) != '"') {
                    if (s.charAt(i) == '\\' && i + 1 < n) i++;
                    v.append(s.charAt(i));
                    i++;
                }
                i++; // closing quote
            } else {
                while (i < n && s.charAt(i) != ',') v.append(s.charAt(i++));
            }
            out.add(new String[]{key.toLowerCase(), v.toString().trim()});
        }
        return out;
    }

    /** First value of a directive, as ISO-8859-1 string (bytes preserved), or null. */
    static String directive(byte[] tok, String name) {
        for (String[] kv : parseDirectives(tok)) {
            if (kv[0].equals(name)) return kv[1];
        }
        return null;
    }

    // ------------------------------------------------------------------
    // Minimal JSON writer (ordered maps, lists, strings, numbers, booleans, null).

    static String json(Object o) {
        StringBuilder sb = new StringBuilder();
        writeJson(sb, o, 0);
        sb.append('\n');
        return sb.toString();
    }

    private static void indent(StringBuilder sb, int n) {
        for (int i = 0; i < n; i++) sb.append("  ");
    }

    @SuppressWarnings("unchecked")
    private static void writeJson(StringBuilder sb, Object o, int lvl) {
        if (o == null) {
            sb.append("null");
        } else if (o instanceof String) {
            writeString(sb, (String) o);
        } else if (o instanceof Number || o instanceof Boolean) {
            sb.append(o.toString());
        } else if (o instanceof Map) {
            Map<String, Object> m = (Map<String, Object>) o;
            if (m.isEmpty()) { sb.append("{}"); return; }
            boolean flat = isFlat(m.values());
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : m.entrySet()) {
                if (!first) sb.append(',');
                first = false;
                if (flat) { sb.append(' '); } else { sb.append('\n'); indent(sb, lvl + 1); }
                writeString(sb, e.getKey());
                sb.append(": ");
                writeJson(sb, e.getValue(), lvl + 1);
            }
            if (flat) sb.append(" }"); else { sb.append('\n'); indent(sb, lvl); sb.append('}'); }
        } else if (o instanceof List) {
            List<Object> l = (List<Object>) o;
            if (l.isEmpty()) { sb.append("[]"); return; }
            sb.append('[');
            boolean first = true;
            for (Object x : l) {
                if (!first) sb.append(',');
                first = false;
                sb.append('\n');
                indent(sb, lvl + 1);
                writeJson(sb, x, lvl + 1);
            }
            sb.append('\n');
            indent(sb, lvl);
            sb.append(']');
        } else {
            throw new IllegalArgumentException("cannot JSON " + o.getClass());
        }
    }

    private static boolean isFlat(java.util.Collection<Object> vals) {
        for (Object v : vals) if (v instanceof Map || v instanceof List) return false;
        return vals.size() <= 8;
    }

    private static void writeString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x7f) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
            }
        }
        sb.append('"');
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** Deterministic plaintext for a layer message. */
    static byte[] plaintext(int size, int seq, boolean c2s) {
        byte[] b = new byte[size];
        int x = size * 31 + seq * 7 + (c2s ? 0 : 101);
        for (int i = 0; i < size; i++) {
            x = x * 1103515245 + 12345;
            b[i] = (byte) (x >>> 16);
        }
        return b;
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.write(p, 0, p.length);
        return o.toByteArray();
    }

    static SaslClient newClient(String authzid, String service, String host,
            Map<String, Object> props, CallbackHandler cbh) throws SaslException {
        SaslClient c = Sasl.createSaslClient(new String[]{MECH}, authzid, service, host, props, cbh);
        if (c == null) throw new SaslException("no DIGEST-MD5 client");
        return c;
    }

    static SaslServer newServer(String service, String host,
            Map<String, Object> props, CallbackHandler cbh) throws SaslException {
        SaslServer s = Sasl.createSaslServer(MECH, service, host, props, cbh);
        if (s == null) throw new SaslException("no DIGEST-MD5 server");
        return s;
    }
}
