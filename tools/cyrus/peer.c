/* peer.c - a Cyrus SASL DIGEST-MD5 client or server driven over
 * stdin/stdout with a line protocol, for live interop tests.
 * The protocol is specified in tools/cyrus/README.md ("Peer").
 *
 * One line in, at most one line out per input line (plus the unsolicited
 * first line of each role). Every output line is flushed.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <unistd.h>
#include <errno.h>
#include "common.h"

static void usage(void)
{
    fprintf(stderr,
"usage: peer --role client|server [options]\n"
"  common:  --service S (ldap) --host H (localhost) --verbose\n"
"           --qop auth|auth-int|auth-conf  --cipher rc4-40|rc4-56|rc4|des|3des\n"
"           --min-ssf N --max-ssf N --maxbuf N   (secprops; default 0 256 65536)\n"
"  client:  --authcid U --password P [--authzid Z] [--realm R]\n"
"  server:  [--realm R] (user_realm) --user U:P[:REALM] (repeatable) |\n"
"           --sasldb PATH ; [--success-data] [--wait-initial]\n");
    exit(2);
}

static void out_line(const char *kw, const unsigned char *data, unsigned len, int force_b64)
{
    if (data && (len || force_b64)) {
        char *b = b64enc(data, len);
        printf("%s %s\n", kw, b);
        free(b);
    } else {
        printf("%s\n", kw);
    }
    fflush(stdout);
}

static void out_token(const char *data, unsigned len)
{
    if (len) out_line("TOKEN", (const unsigned char *) data, len, 0);
    else out_line("EMPTY", NULL, 0, 0);
}

static void fail(sasl_conn_t *c, int r)
{
    printf("FAIL %d %s\n", r, c ? sasl_errdetail(c) : sasl_errstring(r, NULL, NULL));
    fflush(stdout);
    exit(1);
}

/* read one line; strips newline. NULL on EOF */
static char *read_line(void)
{
    static char *buf = NULL; static size_t cap = 0;
    ssize_t n = getline(&buf, &cap, stdin);
    if (n < 0) return NULL;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    return buf;
}

/* parse TOKEN/EMPTY/NONE. returns 1 token (data,len), 0 none, exits on bad input */
static int read_token(unsigned char **data, unsigned *len)
{
    char *l = read_line();
    if (!l) { fprintf(stderr, "peer: EOF during authentication\n"); exit(1); }
    if (!strcmp(l, "EMPTY")) { *data = (unsigned char *) xmalloc(1); (*data)[0] = 0; *len = 0; return 1; }
    if (!strcmp(l, "NONE")) { *data = NULL; *len = 0; return 0; }
    if (!strcmp(l, "ABORT")) { printf("FAIL aborted\n"); fflush(stdout); exit(1); }
    if (!strncmp(l, "TOKEN ", 6)) {
        *data = b64dec(l + 6, len);
        if (!*data) { printf("FAIL bad base64\n"); fflush(stdout); exit(1); }
        return 1;
    }
    printf("FAIL unexpected line: %s\n", l); fflush(stdout); exit(1);
}

static unsigned cipher_ssf(const char *c)
{
    if (!strcmp(c, "rc4-40")) return 40;
    if (!strcmp(c, "rc4-56")) return 56;
    if (!strcmp(c, "rc4")) return 128;
    if (!strcmp(c, "des")) return 55;
    if (!strcmp(c, "3des")) return 112;
    die("unknown cipher %s", c);
    return 0;
}

static void layer_loop(sasl_conn_t *c)
{
    char *l;
    while ((l = read_line())) {
        if (!strcmp(l, "QUIT")) break;
        if (!strcmp(l, "INFO")) {
            const void *v = NULL; unsigned ssf = 0, mob = 0;
            if (sasl_getprop(c, SASL_SSF, &v) == SASL_OK && v) ssf = *(const unsigned *) v;
            if (sasl_getprop(c, SASL_MAXOUTBUF, &v) == SASL_OK && v) mob = *(const unsigned *) v;
            const char *user = NULL, *authid = NULL;
            sasl_getprop(c, SASL_USERNAME, (const void **) &user);
            sasl_getprop(c, SASL_AUTHUSER, (const void **) &authid);
            char *ub = b64enc((const unsigned char *) (user ? user : ""), user ? (unsigned) strlen(user) : 0);
            printf("OK ssf=%u maxoutbuf=%u username=%s\n", ssf, mob, ub);
            free(ub);
            fflush(stdout);
            continue;
        }
        int seal = !strncmp(l, "SEAL", 4) && (l[4] == ' ' || l[4] == 0);
        int unseal = !strncmp(l, "UNSEAL", 6) && (l[6] == ' ' || l[6] == 0);
        if (!seal && !unseal) { printf("ERR unknown command\n"); fflush(stdout); continue; }
        const char *arg = seal ? (l[4] ? l + 5 : "") : (l[6] ? l + 7 : "");
        unsigned len = 0;
        unsigned char *in = b64dec(arg, &len);
        if (!in) { printf("ERR bad base64\n"); fflush(stdout); continue; }
        const char *out = NULL; unsigned outlen = 0;
        int r = seal ? sasl_encode(c, (const char *) in, len, &out, &outlen)
                     : sasl_decode(c, (const char *) in, len, &out, &outlen);
        if (r != SASL_OK) printf("ERR %d %s\n", r, sasl_errdetail(c));
        else out_line("OK", (const unsigned char *) out, outlen, 0);
        fflush(stdout);
        free(in);
    }
}

int main(int argc, char **argv)
{
    const char *role = NULL, *service = "ldap", *host = "localhost", *authcid = NULL,
               *password = NULL, *authzid = NULL, *realm = NULL, *sasldb = NULL,
               *qop = NULL, *cipher = NULL;
    const char *users[16]; int nusers = 0;
    int min_ssf = -1, max_ssf = -1, maxbuf = 65536, success_data = 0, wait_initial = 0;
    static struct option lo[] = {
        {"role", 1, 0, 'r'}, {"service", 1, 0, 's'}, {"host", 1, 0, 'h'},
        {"authcid", 1, 0, 'u'}, {"password", 1, 0, 'p'}, {"authzid", 1, 0, 'z'},
        {"realm", 1, 0, 'R'}, {"user", 1, 0, 'U'}, {"sasldb", 1, 0, 'd'},
        {"qop", 1, 0, 'q'}, {"cipher", 1, 0, 'c'}, {"min-ssf", 1, 0, 'm'},
        {"max-ssf", 1, 0, 'M'}, {"maxbuf", 1, 0, 'b'}, {"success-data", 0, 0, 'S'},
        {"wait-initial", 0, 0, 'w'}, {"verbose", 0, 0, 'v'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'r': role = optarg; break;
        case 's': service = optarg; break;
        case 'h': host = optarg; break;
        case 'u': authcid = optarg; break;
        case 'p': password = optarg; break;
        case 'z': authzid = optarg; break;
        case 'R': realm = optarg; break;
        case 'U': if (nusers < 16) users[nusers++] = optarg; break;
        case 'd': sasldb = optarg; break;
        case 'q': qop = optarg; break;
        case 'c': cipher = optarg; break;
        case 'm': min_ssf = atoi(optarg); break;
        case 'M': max_ssf = atoi(optarg); break;
        case 'b': maxbuf = atoi(optarg); break;
        case 'S': success_data = 1; break;
        case 'w': wait_initial = 1; break;
        case 'v': g_verbose = 1; break;
        default: usage();
        }
    }
    if (!role) usage();
    int is_client = !strcmp(role, "client");
    if (!is_client && strcmp(role, "server")) usage();

    /* qop/cipher shorthands -> ssf bounds (explicit --min/--max-ssf win) */
    unsigned lo_ssf = 0, hi_ssf = 256;
    if (cipher) { lo_ssf = hi_ssf = cipher_ssf(cipher); }
    else if (qop && !strcmp(qop, "auth")) { lo_ssf = 0; hi_ssf = 0; }
    else if (qop && !strcmp(qop, "auth-int")) { lo_ssf = 1; hi_ssf = 1; }
    else if (qop && !strcmp(qop, "auth-conf")) { lo_ssf = 2; hi_ssf = 256; }
    else if (qop) die("bad --qop %s", qop);
    if (min_ssf >= 0) lo_ssf = (unsigned) min_ssf;
    if (max_ssf >= 0) hi_ssf = (unsigned) max_ssf;

    char tmpdir[] = "/tmp/cyrus-peer-XXXXXX", dbpath[512];
    int own_db = 0;
    if (!is_client && !sasldb) {
        if (!mkdtemp(tmpdir)) die("mkdtemp: %s", strerror(errno));
        snprintf(dbpath, sizeof dbpath, "%s/sasldb2", tmpdir);
        sasldb = dbpath; own_db = 1;
        register_tmp(tmpdir, dbpath);
    }
    g_opts.sasldb_path = sasldb;

    sasl_conn_t *conn = NULL;
    int r;
    if (is_client) {
        if (!authcid || !password) usage();
        r = sasl_client_init(g_client_global_cbs);
        if (r != SASL_OK) die("sasl_client_init: %d", r);
        static struct client_ident ci;
        static sasl_callback_t cbs[6];
        ci.authcid = authcid; ci.authzid = authzid; ci.password = password; ci.realm = realm;
        client_callbacks(cbs, &ci);
        r = sasl_client_new(service, host, NULL, NULL, cbs, 0, &conn);
        if (r != SASL_OK) die("sasl_client_new: %d", r);
        set_secprops(conn, lo_ssf, hi_ssf, (unsigned) maxbuf);

        const char *out = NULL, *mech = NULL; unsigned outlen = 0;
        r = sasl_client_start(conn, "DIGEST-MD5", NULL, &out, &outlen, &mech);
        if (r != SASL_CONTINUE && r != SASL_OK) fail(conn, r);
        if (outlen) out_token(out, outlen); else out_line("NONE", NULL, 0, 0);
        while (r == SASL_CONTINUE) {
            unsigned char *in = NULL; unsigned inlen = 0;
            if (!read_token(&in, &inlen)) { printf("FAIL NONE not allowed here\n"); fflush(stdout); exit(1); }
            r = sasl_client_step(conn, (const char *) in, inlen, NULL, &out, &outlen);
            free(in);
            if (r == SASL_CONTINUE) out_token(out, outlen);
            else if (r == SASL_OK) {
                if (outlen) out_token(out, outlen);
                out_line("SUCCESS", NULL, 0, 0);
            } else fail(conn, r);
        }
    } else {
        r = sasl_server_init(g_server_cbs, "cyrus-digest-peer");
        if (r != SASL_OK) die("sasl_server_init: %d", r);
        for (int i = 0; i < nusers; i++) {
            char *spec = strdup(users[i]);
            char *c1 = strchr(spec, ':');
            if (!c1) die("--user wants U:P[:REALM]");
            *c1 = 0;
            char *pw = c1 + 1, *ur = realm ? (char *) realm : (char *) host;
            /* U:P:REALM - if the rest has a ':', the part after the last one
             * is the realm (so a password with ':' needs an explicit realm) */
            char *c2 = strrchr(pw, ':');
            if (c2) { *c2 = 0; ur = c2 + 1; }
            store_password(service, host, ur, spec, pw);
            free(spec);
        }
        r = sasl_server_new(service, host, realm, NULL, NULL, NULL,
                            success_data ? SASL_SUCCESS_DATA : 0, &conn);
        if (r != SASL_OK) die("sasl_server_new: %d", r);
        set_secprops(conn, lo_ssf, hi_ssf, (unsigned) maxbuf);

        const char *out = NULL; unsigned outlen = 0;
        unsigned char *in = NULL; unsigned inlen = 0; int have = 0;
        if (wait_initial) have = read_token(&in, &inlen);
        r = sasl_server_start(conn, "DIGEST-MD5", have ? (const char *) in : NULL, have ? inlen : 0,
                              &out, &outlen);
        free(in);
        for (;;) {
            if (r == SASL_CONTINUE) {
                out_token(out, outlen);
            } else if (r == SASL_OK) {
                out_line("SUCCESS", (const unsigned char *) out, outlen, 0);
                break;
            } else fail(conn, r);
            if (!read_token(&in, &inlen)) { printf("FAIL NONE not allowed here\n"); fflush(stdout); exit(1); }
            r = sasl_server_step(conn, (const char *) in, inlen, &out, &outlen);
            free(in);
            /* without SASL_SUCCESS_DATA, libsasl2 hands the rspauth out again on
             * the final (empty) step; it was already sent as a challenge */
            if (r == SASL_OK && !success_data) outlen = 0;
        }
    }

    layer_loop(conn);
    sasl_dispose(&conn);
    if (is_client) sasl_client_done(); else sasl_server_done();
    (void) own_db;
    return 0;
}
