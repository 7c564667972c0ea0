/* record.c - record one Cyrus SASL DIGEST-MD5 exchange (client and server in
 * one process, tokens passed in memory) plus security-layer messages, and
 * write it as a raw transcript JSON. tools/cyrus/finish.py turns the raw
 * file into the final `digest-md5-transcript/1` file (it adds the nonces and
 * the negotiated qop/cipher parsed from the tokens).
 *
 * Usage: see usage() below and tools/cyrus/README.md.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <unistd.h>
#include <sys/stat.h>
#include <errno.h>
#include "common.h"

static void usage(void)
{
    fprintf(stderr,
"usage: record [options] --out FILE\n"
"  --authcid U --password P [--authzid Z] --service S --host H\n"
"  --server-realm R        user_realm of the server conn (default: none -> host)\n"
"  --db-realm R            store the password for U in realm R (repeatable;\n"
"                          default: the server realm)\n"
"  --client-realm R        realm the client's GETREALM callback picks\n"
"  --server-ssf MIN,MAX,MAXBUF   server secprops (default 0,256,65536)\n"
"  --client-ssf MIN,MAX,MAXBUF   client secprops (default 0,256,65536)\n"
"  --offer-qop LIST        rewrite the challenge's qop= to LIST\n"
"  --offer-cipher LIST     rewrite the challenge's cipher= to LIST ('-': remove)\n"
"  --add-realm R           add realm=\"R\" to the challenge (repeatable)\n"
"  --remove-realm          remove every realm directive from the challenge\n"
"  --reauth                after the first auth, do a subsequent auth (nc=2)\n"
"  --empty-final           record the client's empty answer to rspauth\n"
"  --layer SPEC            c:SIZE,s:SIZE,... SIZE = N | max | max-N | max+N\n"
"  --sasldb PATH           sasldb to use (default: fresh temp file)\n"
"  --verbose\n");
    exit(2);
}

struct tok { int from_server; unsigned char *data; unsigned len; int reauth; };
struct lmsg { int c2s; unsigned seq; unsigned char *plain; unsigned plen;
              unsigned char *wire; unsigned wlen; };

static struct tok toks[16]; static int ntoks;
static struct lmsg *msgs; static int nmsgs, capmsgs;

static void add_tok(int from_server, const void *d, unsigned len, int reauth)
{
    if (ntoks >= 16) die("too many tokens");
    toks[ntoks].from_server = from_server;
    toks[ntoks].data = xmalloc(len + 1);
    if (len) memcpy(toks[ntoks].data, d, len);
    toks[ntoks].len = len;
    toks[ntoks].reauth = reauth;
    ntoks++;
}

static void jstr(FILE *f, const char *s)
{
    if (!s) { fputs("null", f); return; }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void jb64(FILE *f, const unsigned char *d, unsigned len)
{
    char *b = b64enc(d, len);
    fprintf(f, "\"%s\"", b);
    free(b);
}

/* --- challenge editing (the digest-challenge is not integrity protected) --- */

/* find directive NAME at top level; returns start of "name=" and sets *end to
 * the position after the value (before the separating comma). */
static char *find_directive(char *s, const char *name, char **end)
{
    char *p = s;
    size_t nl = strlen(name);
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        char *start = p;
        char *eq = strchr(p, '=');
        if (!eq) return NULL;
        char *v = eq + 1, *e;
        if (*v == '"') {
            e = v + 1;
            while (*e && *e != '"') { if (*e == '\\' && e[1]) e++; e++; }
            if (*e == '"') e++;
        } else {
            e = v;
            while (*e && *e != ',') e++;
        }
        if ((size_t) (eq - start) == nl && !strncasecmp(start, name, nl)) {
            *end = e;
            return start;
        }
        p = e;
    }
    return NULL;
}

/* replace (value non-NULL) or remove (value NULL) directive; if absent and
 * value given, append. Returns a new malloc'd string. */
static char *edit_directive(const char *chal, const char *name, const char *value, int quoted)
{
    char *s = strdup(chal), *end = NULL;
    char *start = find_directive(s, name, &end);
    size_t cap = strlen(chal) + strlen(name) + (value ? strlen(value) : 0) + 16;
    char *out = xmalloc(cap);
    out[0] = 0;
    char repl[1024] = "";
    if (value) snprintf(repl, sizeof repl, quoted ? "%s=\"%s\"" : "%s=%s", name, value);
    if (start) {
        if (value) {
            memcpy(out, s, (size_t) (start - s)); out[start - s] = 0;
            strcat(out, repl);
            strcat(out, end);
        } else {
            /* remove including one adjacent comma */
            char *a = start, *b = end;
            if (*b == ',') b++;
            else if (a > s && a[-1] == ',') a--;
            memcpy(out, s, (size_t) (a - s)); out[a - s] = 0;
            strcat(out, b);
        }
    } else {
        strcpy(out, s);
        if (value) { if (*out) strcat(out, ","); strcat(out, repl); }
    }
    free(s);
    return out;
}

/* insert realm="R" right after the existing realm directives (or at front) */
static char *add_realm(const char *chal, const char *realm)
{
    char *s = strdup(chal), *end = NULL, *e2 = NULL;
    char *start = find_directive(s, "realm", &end);
    /* move to the last realm directive so added realms keep their order */
    while (start && find_directive(end, "realm", &e2)) end = e2;
    size_t cap = strlen(chal) + strlen(realm) + 16;
    char *out = xmalloc(cap);
    if (start) {
        memcpy(out, s, (size_t) (end - s)); out[end - s] = 0;
        sprintf(out + strlen(out), ",realm=\"%s\"", realm);
        strcat(out, end);
    } else {
        sprintf(out, "realm=\"%s\",%s", realm, s);
    }
    free(s);
    return out;
}

/* --- layer --- */

static void add_msg(int c2s, unsigned seq, const void *plain, unsigned plen,
                    const void *wire, unsigned wlen)
{
    if (nmsgs == capmsgs) {
        capmsgs = capmsgs ? capmsgs * 2 : 32;
        msgs = realloc(msgs, sizeof(*msgs) * (size_t) capmsgs);
        if (!msgs) die("oom");
    }
    struct lmsg *m = &msgs[nmsgs++];
    m->c2s = c2s; m->seq = seq;
    m->plain = xmalloc(plen); memcpy(m->plain, plain, plen); m->plen = plen;
    m->wire = xmalloc(wlen); memcpy(m->wire, wire, wlen); m->wlen = wlen;
}

static unsigned be32(const unsigned char *p)
{
    return ((unsigned) p[0] << 24) | ((unsigned) p[1] << 16) | ((unsigned) p[2] << 8) | p[3];
}

static unsigned seq_c2s, seq_s2c;

/* encode `size` deterministic bytes on `from`, decode on `to`, record. */
static void layer_message(int c2s, sasl_conn_t *from, sasl_conn_t *to, unsigned size)
{
    unsigned *seqp = c2s ? &seq_c2s : &seq_s2c;
    unsigned char *plain = xmalloc(size);
    for (unsigned i = 0; i < size; i++)
        plain[i] = (unsigned char) (i * 7u + size * 3u + (*seqp) * 13u + (c2s ? 0u : 0x80u));
    const char *out = NULL; unsigned outlen = 0;
    int r = sasl_encode(from, (const char *) plain, size, &out, &outlen);
    if (r != SASL_OK) {
        fprintf(stderr, "note: sasl_encode(%s, %u bytes) -> %d %s: %s (message skipped)\n",
                c2s ? "c2s" : "s2c", size, r, sasl_errstring(r, NULL, NULL), sasl_errdetail(from));
        free(plain);
        return;
    }
    unsigned char *enc = xmalloc(outlen); memcpy(enc, out, outlen);
    unsigned pos = 0, got = 0, frames = 0;
    unsigned char *dec_all = xmalloc(size + 1);
    while (pos < outlen) {
        if (outlen - pos < 4) die("truncated length prefix");
        unsigned flen = be32(enc + pos);
        if (flen > outlen - pos - 4) die("length prefix %u exceeds remaining %u", flen, outlen - pos - 4);
        const char *dout = NULL; unsigned dlen = 0;
        r = sasl_decode(to, (const char *) enc + pos, 4 + flen, &dout, &dlen);
        if (r != SASL_OK) die("sasl_decode failed: %s", sasl_errdetail(to));
        if (got + dlen > size) die("decoded more than sent");
        memcpy(dec_all + got, dout, dlen);
        add_msg(c2s, *seqp, dout, dlen, enc + pos + 4, flen);
        (*seqp)++;
        got += dlen;
        pos += 4 + flen;
        frames++;
    }
    if (got != size || memcmp(dec_all, plain, size) != 0)
        die("round trip mismatch for %u bytes", size);
    if (frames != 1)
        fprintf(stderr, "note: sasl_encode(%s, %u bytes) produced %u frames\n",
                c2s ? "c2s" : "s2c", size, frames);
    free(enc); free(plain); free(dec_all);
}

static unsigned parse_size(const char *s, unsigned max)
{
    if (!strncmp(s, "max", 3)) {
        if (s[3] == '-') return max - (unsigned) atoi(s + 4);
        if (s[3] == '+') return max + (unsigned) atoi(s + 4);
        return max;
    }
    return (unsigned) strtoul(s, NULL, 10);
}

static void parse_ssf(const char *s, unsigned v[3])
{
    if (sscanf(s, "%u,%u,%u", &v[0], &v[1], &v[2]) != 3) die("bad ssf spec %s", s);
}

static unsigned getprop_u(sasl_conn_t *c, int prop)
{
    const void *v = NULL;
    if (sasl_getprop(c, prop, &v) != SASL_OK || !v) return 0;
    return *(const unsigned *) v;
}

int main(int argc, char **argv)
{
    const char *authcid = NULL, *password = NULL, *authzid = NULL, *service = "ldap",
               *host = "ldap.example.com", *server_realm = NULL, *client_realm = NULL,
               *offer_qop = NULL, *offer_cipher = NULL, *layer = NULL, *outpath = NULL,
               *sasldb = NULL;
    const char *db_realms[8]; int ndb = 0;
    const char *add_realms[8]; int nadd = 0;
    unsigned sssf[3] = {0, 256, 65536}, cssf[3] = {0, 256, 65536};
    int reauth = 0, empty_final = 0, remove_realm = 0;

    static struct option lo[] = {
        {"authcid", 1, 0, 'u'}, {"password", 1, 0, 'p'}, {"authzid", 1, 0, 'z'},
        {"service", 1, 0, 's'}, {"host", 1, 0, 'h'}, {"server-realm", 1, 0, 'R'},
        {"db-realm", 1, 0, 'D'}, {"client-realm", 1, 0, 'C'}, {"server-ssf", 1, 0, 'S'},
        {"client-ssf", 1, 0, 'c'}, {"offer-qop", 1, 0, 'q'}, {"offer-cipher", 1, 0, 'x'},
        {"add-realm", 1, 0, 'a'}, {"reauth", 0, 0, 'r'}, {"empty-final", 0, 0, 'e'},
        {"layer", 1, 0, 'l'}, {"out", 1, 0, 'o'}, {"sasldb", 1, 0, 'd'},
        {"verbose", 0, 0, 'v'}, {"remove-realm", 0, 0, 'X'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'u': authcid = optarg; break;
        case 'p': password = optarg; break;
        case 'z': authzid = optarg; break;
        case 's': service = optarg; break;
        case 'h': host = optarg; break;
        case 'R': server_realm = optarg; break;
        case 'D': if (ndb < 8) db_realms[ndb++] = optarg; break;
        case 'C': client_realm = optarg; break;
        case 'S': parse_ssf(optarg, sssf); break;
        case 'c': parse_ssf(optarg, cssf); break;
        case 'q': offer_qop = optarg; break;
        case 'x': offer_cipher = optarg; break;
        case 'a': if (nadd < 8) add_realms[nadd++] = optarg; break;
        case 'r': reauth = 1; break;
        case 'e': empty_final = 1; break;
        case 'l': layer = optarg; break;
        case 'o': outpath = optarg; break;
        case 'd': sasldb = optarg; break;
        case 'v': g_verbose = 1; break;
        case 'X': remove_realm = 1; break;
        default: usage();
        }
    }
    if (!authcid || !password || !outpath) usage();

    char tmpdir[] = "/tmp/cyrus-record-XXXXXX";
    char dbpath[512];
    if (!sasldb) {
        if (!mkdtemp(tmpdir)) die("mkdtemp: %s", strerror(errno));
        snprintf(dbpath, sizeof dbpath, "%s/sasldb2", tmpdir);
        sasldb = dbpath;
        register_tmp(tmpdir, dbpath);
    }
    g_opts.sasldb_path = sasldb;
    g_opts.reauth_timeout = reauth ? "10" : "0";

    int r = sasl_server_init(g_server_cbs, "cyrus-digest-recorder");
    if (r != SASL_OK) die("sasl_server_init: %s", sasl_errstring(r, NULL, NULL));
    r = sasl_client_init(g_client_global_cbs);
    if (r != SASL_OK) die("sasl_client_init: %s", sasl_errstring(r, NULL, NULL));

    /* users */
    if (ndb == 0) db_realms[ndb++] = server_realm ? server_realm : host;
    for (int i = 0; i < ndb; i++)
        store_password(service, host, db_realms[i], authcid, password);

    struct client_ident ci;
    memset(&ci, 0, sizeof ci);
    ci.authcid = authcid; ci.authzid = authzid; ci.password = password; ci.realm = client_realm;
    sasl_callback_t ccbs[6];
    client_callbacks(ccbs, &ci);

    sasl_conn_t *sc = NULL, *cc = NULL;
    /* With SASL_SUCCESS_DATA the server returns rspauth with SASL_OK
     * (success data, as in LDAP); without it libsasl2 turns it into a last
     * challenge (SASL_CONTINUE) that the client answers with an empty token. */
    unsigned sflags = empty_final ? 0 : SASL_SUCCESS_DATA;
    r = sasl_server_new(service, host, server_realm, NULL, NULL, NULL, sflags, &sc);
    if (r != SASL_OK) die("sasl_server_new: %s", sasl_errstring(r, NULL, NULL));
    set_secprops(sc, sssf[0], sssf[1], sssf[2]);
    r = sasl_client_new(service, host, NULL, NULL, ccbs, 0, &cc);
    if (r != SASL_OK) die("sasl_client_new: %s", sasl_errstring(r, NULL, NULL));
    set_secprops(cc, cssf[0], cssf[1], cssf[2]);

    const char *cout = NULL, *sout = NULL, *mech = NULL;
    unsigned coutlen = 0, soutlen = 0;
    r = sasl_client_start(cc, "DIGEST-MD5", NULL, &cout, &coutlen, &mech);
    if (r != SASL_CONTINUE) die("sasl_client_start: %d %s", r, sasl_errdetail(cc));
    if (coutlen) die("unexpected initial client response");

    r = sasl_server_start(sc, "DIGEST-MD5", NULL, 0, &sout, &soutlen);
    if (r != SASL_CONTINUE) die("sasl_server_start: %d %s", r, sasl_errdetail(sc));
    char *chal = xmalloc(soutlen + 1);
    memcpy(chal, sout, soutlen); chal[soutlen] = 0;
    char *original_chal = strdup(chal);
    if (offer_qop) { char *n = edit_directive(chal, "qop", offer_qop, 1); free(chal); chal = n; }
    if (offer_cipher) {
        char *n = edit_directive(chal, "cipher", strcmp(offer_cipher, "-") ? offer_cipher : NULL, 1);
        free(chal); chal = n;
    }
    if (remove_realm) {
        char *e0 = NULL;
        while (find_directive(chal, "realm", &e0)) {
            char *n = edit_directive(chal, "realm", NULL, 1); free(chal); chal = n;
        }
    }
    for (int i = 0; i < nadd; i++) { char *n = add_realm(chal, add_realms[i]); free(chal); chal = n; }
    add_tok(1, chal, (unsigned) strlen(chal), 0);

    r = sasl_client_step(cc, chal, (unsigned) strlen(chal), NULL, &cout, &coutlen);
    if (r != SASL_CONTINUE) die("client step (response): %d %s", r, sasl_errdetail(cc));
    add_tok(0, cout, coutlen, 0);

    r = sasl_server_step(sc, cout, coutlen, &sout, &soutlen);
    if (r != (empty_final ? SASL_CONTINUE : SASL_OK))
        die("server step (verify): %d %s", r, sasl_errdetail(sc));
    if (!soutlen) die("server gave no rspauth");
    add_tok(1, sout, soutlen, 0);

    r = sasl_client_step(cc, sout, soutlen, NULL, &cout, &coutlen);
    if (r != SASL_OK) die("client step (rspauth): %d %s", r, sasl_errdetail(cc));
    if (coutlen) die("client produced data after rspauth");
    if (empty_final) {
        add_tok(0, "", 0, 0);
        r = sasl_server_step(sc, "", 0, &sout, &soutlen);
        if (r != SASL_OK) die("server step (empty final): %d %s", r, sasl_errdetail(sc));
        if (soutlen) fprintf(stderr, "note: server final step returned %u bytes: %.*s\n", soutlen, (int) soutlen, sout);
    }

    if (reauth) {
        /* Subsequent authentication: a new client connection to the same
         * server name finds the plugin's reauth cache and starts client-first;
         * a new server connection finds its own cache (reauth_timeout > 0). */
        sasl_conn_t *cc2 = NULL, *sc2 = NULL;
        r = sasl_client_new(service, host, NULL, NULL, ccbs, 0, &cc2);
        if (r != SASL_OK) die("sasl_client_new 2");
        set_secprops(cc2, cssf[0], cssf[1], cssf[2]);
        r = sasl_server_new(service, host, server_realm, NULL, NULL, NULL, sflags, &sc2);
        if (r != SASL_OK) die("sasl_server_new 2");
        set_secprops(sc2, sssf[0], sssf[1], sssf[2]);
        r = sasl_client_start(cc2, "DIGEST-MD5", NULL, &cout, &coutlen, &mech);
        if (r != SASL_CONTINUE || !coutlen)
            die("reauth: client_start gave %d with %u bytes (no reauth from cache)", r, coutlen);
        add_tok(0, cout, coutlen, 1);
        r = sasl_server_start(sc2, "DIGEST-MD5", cout, coutlen, &sout, &soutlen);
        if (r != (empty_final ? SASL_CONTINUE : SASL_OK))
            die("reauth: server_start: %d %s", r, sasl_errdetail(sc2));
        add_tok(1, sout, soutlen, 1);
        r = sasl_client_step(cc2, sout, soutlen, NULL, &cout, &coutlen);
        if (r != SASL_OK) die("reauth: client rspauth: %d %s", r, sasl_errdetail(cc2));
        if (empty_final) {
            add_tok(0, "", 0, 1);
            r = sasl_server_step(sc2, "", 0, &sout, &soutlen);
            if (r != SASL_OK) die("reauth: server empty final: %d %s", r, sasl_errdetail(sc2));
        }
        sasl_dispose(&cc); sasl_dispose(&sc);
        cc = cc2; sc = sc2;
    }

    unsigned cssf_v = getprop_u(cc, SASL_SSF), sssf_v = getprop_u(sc, SASL_SSF);
    unsigned cmax = getprop_u(cc, SASL_MAXOUTBUF), smax = getprop_u(sc, SASL_MAXOUTBUF);
    if (cssf_v != sssf_v) die("ssf mismatch client %u server %u", cssf_v, sssf_v);

    if (layer && cssf_v > 0) {
        char *spec = strdup(layer), *save = NULL;
        for (char *it = strtok_r(spec, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
            if (strlen(it) < 3 || it[1] != ':') die("bad layer item %s", it);
            int c2s = it[0] == 'c';
            unsigned size = parse_size(it + 2, c2s ? cmax : smax);
            if (c2s) layer_message(1, cc, sc, size);
            else layer_message(0, sc, cc, size);
        }
        free(spec);
    }

    FILE *f = fopen(outpath, "w");
    if (!f) die("open %s: %s", outpath, strerror(errno));
    fprintf(f, "{\n\"format\": \"digest-md5-transcript/1\",\n");
    fprintf(f, "\"source\": \"cyrus-sasl %s\",\n", "2.1.28");
    fprintf(f, "\"config\": {\"authcid\": "); jstr(f, authcid);
    fprintf(f, ", \"password\": "); jstr(f, password);
    fprintf(f, ", \"authzid\": "); jstr(f, authzid);
    fprintf(f, ", \"realm\": "); jstr(f, ci.realm_cb_called ? ci.realm_chosen : NULL);
    fprintf(f, ", \"service\": "); jstr(f, service);
    fprintf(f, ", \"host\": "); jstr(f, host);
    fprintf(f, ", \"serv_name\": null");
    fprintf(f, ", \"server_user_realm\": "); jstr(f, server_realm);
    fprintf(f, ", \"server_secprops\": {\"min_ssf\": %u, \"max_ssf\": %u, \"maxbufsize\": %u}",
            sssf[0], sssf[1], sssf[2]);
    fprintf(f, ", \"client_secprops\": {\"min_ssf\": %u, \"max_ssf\": %u, \"maxbufsize\": %u}",
            cssf[0], cssf[1], cssf[2]);
    fprintf(f, ", \"original_challenge\": "); jstr(f, original_chal);
    fprintf(f, ", \"challenge_edited\": %s", strcmp(original_chal, chal) ? "true" : "false");
    fprintf(f, "},\n\"exchange\": [\n");
    for (int i = 0; i < ntoks; i++) {
        fprintf(f, "  {\"from\": \"%s\", \"b64\": ", toks[i].from_server ? "server" : "client");
        jb64(f, toks[i].data, toks[i].len);
        if (toks[i].reauth) fprintf(f, ", \"reauth\": true");
        fprintf(f, "}%s\n", i + 1 < ntoks ? "," : "");
    }
    fprintf(f, "],\n\"negotiated\": {\"ssf\": %u, \"client_maxoutbuf\": %u, \"server_maxoutbuf\": %u},\n",
            cssf_v, cmax, smax);
    fprintf(f, "\"layer\": [\n");
    for (int i = 0; i < nmsgs; i++) {
        fprintf(f, "  {\"dir\": \"%s\", \"seq\": %u, \"plain_b64\": ", msgs[i].c2s ? "c2s" : "s2c", msgs[i].seq);
        jb64(f, msgs[i].plain, msgs[i].plen);
        fprintf(f, ", \"wire_b64\": ");
        jb64(f, msgs[i].wire, msgs[i].wlen);
        fprintf(f, "}%s\n", i + 1 < nmsgs ? "," : "");
    }
    fprintf(f, "]\n}\n");
    fclose(f);

    sasl_dispose(&cc); sasl_dispose(&sc);
    sasl_done();
    return 0;
}
