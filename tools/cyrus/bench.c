/* bench.c - Cyrus SASL DIGEST-MD5 throughput and authentication-rate harness.
 *
 * One process: a real Cyrus client and server (libsasl2 + the digestmd5
 * plugin), passwords in a temporary sasldb (sasl_setpass), tokens passed in
 * memory. The server's challenge is edited before the client sees it to force
 * the qop and cipher (the challenge is not integrity protected), as record.c
 * does. Then, per message size, it times sasl_encode on the client plus
 * sasl_decode on the server (plaintext bytes per second), and separately full
 * authentications (new client + server connection, 3 steps, dispose) per second.
 * Times are thread CPU time (see now_s).
 *
 * Output: one JSON object per line on stdout, e.g.
 *   {"impl":"cyrus","kind":"seal_unseal","qop":"auth-conf","cipher":"rc4","size":1024,
 *    "mb_per_s":123.4,"iters":100000,"ssf":128,"shim":false}
 *   {"impl":"cyrus","kind":"memory","qop":"auth-conf","cipher":"rc4",
 *    "heap_bytes_after_auth":N,"heap_bytes_after_messages":M,"shim":false}
 *   {"impl":"cyrus","kind":"auth_per_s","per_s":1234.5,"iters":1000,"shim":false}
 * (memory: malloc'd bytes held by the client + server connection, mallinfo2)
 * A cipher Cyrus cannot use prints {"impl":"cyrus","kind":"error",...} and the
 * program carries on with the next one.
 *
 * 3des fails in stock Cyrus on OpenSSL 3 (DES_key_sched rejects the parity-less
 * keys); run with LD_PRELOAD=build/des_shim.so and --shim to label the lines.
 *
 * Usage: bench [--ciphers auth-int,rc4,rc4-40,rc4-56,des,3des] [--sizes 64,1024,...]
 *              [--ms PER_POINT] [--auth-ms MS] [--maxbuf N] [--shim] [--no-auth]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <errno.h>
#include <time.h>
#include <sys/stat.h>
#include <malloc.h>
#include "common.h"

/* Time is this thread's CPU time, not wall time: the machine is shared, and CPU
 * time is what examples/throughput.rs measures on its side too (it reads the
 * same counter from /proc/thread-self/schedstat). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static const char *SERVICE = "imap", *HOST = "bench.example.com", *REALM = "bench.example.com",
                  *USER = "alice", *PASS = "bench-secret";

/* Replace the value of directive NAME (quoted) in challenge CHAL; appended when
 * absent. Returns a malloc'd string. */
static char *set_directive(const char *chal, const char *name, const char *value)
{
    size_t nl = strlen(name), cap = strlen(chal) + strlen(name) + strlen(value) + 8;
    char *out = xmalloc(cap);
    const char *p = chal, *start = NULL, *end = NULL;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *s = p, *eq = strchr(p, '=');
        if (!eq) break;
        const char *e = eq + 1;
        if (*e == '"') {
            e++;
            while (*e && *e != '"') { if (*e == '\\' && e[1]) e++; e++; }
            if (*e == '"') e++;
        } else {
            while (*e && *e != ',') e++;
        }
        if ((size_t) (eq - s) == nl && !strncasecmp(s, name, nl)) { start = s; end = e; break; }
        p = e;
    }
    if (start)
        snprintf(out, cap, "%.*s%s=\"%s\"%s", (int) (start - chal), chal, name, value, end);
    else
        snprintf(out, cap, "%s,%s=\"%s\"", chal, name, value);
    return out;
}

struct pair { sasl_conn_t *cc, *sc; unsigned ssf; };

static struct client_ident g_ci;
static sasl_callback_t g_ccbs[6];

/* One full authentication. qop/cipher NULL: leave the challenge as is. Returns
 * 0 on success (conns in *p), -1 on failure (message in err). */
static int authenticate(struct pair *p, const char *qop, const char *cipher, unsigned maxbuf,
                        char *err, size_t errlen)
{
    sasl_conn_t *sc = NULL, *cc = NULL;
    const char *cout = NULL, *sout = NULL, *mech = NULL;
    unsigned coutlen = 0, soutlen = 0;
    int r = sasl_server_new(SERVICE, HOST, REALM, NULL, NULL, NULL, SASL_SUCCESS_DATA, &sc);
    if (r != SASL_OK) die("sasl_server_new: %s", sasl_errstring(r, NULL, NULL));
    set_secprops(sc, 0, 256, maxbuf);
    r = sasl_client_new(SERVICE, HOST, NULL, NULL, g_ccbs, 0, &cc);
    if (r != SASL_OK) die("sasl_client_new: %s", sasl_errstring(r, NULL, NULL));
    set_secprops(cc, 0, 256, maxbuf);

    r = sasl_client_start(cc, "DIGEST-MD5", NULL, &cout, &coutlen, &mech);
    if (r != SASL_CONTINUE) die("sasl_client_start: %d %s", r, sasl_errdetail(cc));
    r = sasl_server_start(sc, "DIGEST-MD5", NULL, 0, &sout, &soutlen);
    if (r != SASL_CONTINUE) die("sasl_server_start: %d %s", r, sasl_errdetail(sc));

    char *chal = NULL;
    if (qop) {
        char *c0 = xmalloc(soutlen + 1);
        memcpy(c0, sout, soutlen); c0[soutlen] = 0;
        chal = set_directive(c0, "qop", qop);
        free(c0);
        if (cipher) { char *c1 = set_directive(chal, "cipher", cipher); free(chal); chal = c1; }
        sout = chal; soutlen = (unsigned) strlen(chal);
    }
    r = sasl_client_step(cc, sout, soutlen, NULL, &cout, &coutlen);
    free(chal);
    if (r != SASL_CONTINUE) {
        snprintf(err, errlen, "client step: %d %s", r, sasl_errdetail(cc));
        goto fail;
    }
    r = sasl_server_step(sc, cout, coutlen, &sout, &soutlen);
    if (r != SASL_OK) {
        snprintf(err, errlen, "server step: %d %s", r, sasl_errdetail(sc));
        goto fail;
    }
    r = sasl_client_step(cc, sout, soutlen, NULL, &cout, &coutlen);
    if (r != SASL_OK) {
        snprintf(err, errlen, "client rspauth: %d %s", r, sasl_errdetail(cc));
        goto fail;
    }
    const void *v = NULL;
    p->ssf = (sasl_getprop(cc, SASL_SSF, &v) == SASL_OK && v) ? *(const unsigned *) v : 0;
    p->cc = cc; p->sc = sc;
    return 0;
fail:
    sasl_dispose(&cc); sasl_dispose(&sc);
    return -1;
}

static unsigned be32(const unsigned char *p)
{
    return ((unsigned) p[0] << 24) | ((unsigned) p[1] << 16) | ((unsigned) p[2] << 8) | p[3];
}

/* encode on the client, decode on the server; returns 0 if the round trip is right */
static int round_trip(struct pair *p, const unsigned char *msg, unsigned size, int check)
{
    const char *out = NULL, *dout = NULL;
    unsigned outlen = 0, dlen = 0;
    if (sasl_encode(p->cc, (const char *) msg, size, &out, &outlen) != SASL_OK) return -1;
    if (check && (outlen < 4 || be32((const unsigned char *) out) != outlen - 4)) return -2;
    if (sasl_decode(p->sc, out, outlen, &dout, &dlen) != SASL_OK) return -3;
    if (check && (dlen != size || memcmp(dout, msg, size) != 0)) return -4;
    return 0;
}

int main(int argc, char **argv)
{
    const char *ciphers = "auth-int,rc4,rc4-40,rc4-56,des,3des", *sizes = "64,1024,16384,65536";
    double point_s = 0.2, auth_s = 1.0;
    unsigned maxbuf = 131072;
    int shim = 0, do_auth = 1;
    static struct option lo[] = {
        {"ciphers", 1, 0, 'c'}, {"sizes", 1, 0, 's'}, {"ms", 1, 0, 'm'},
        {"auth-ms", 1, 0, 'a'}, {"maxbuf", 1, 0, 'b'}, {"shim", 0, 0, 'S'},
        {"no-auth", 0, 0, 'N'}, {"verbose", 0, 0, 'v'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': ciphers = optarg; break;
        case 's': sizes = optarg; break;
        case 'm': point_s = atof(optarg) / 1000.0; break;
        case 'a': auth_s = atof(optarg) / 1000.0; break;
        case 'b': maxbuf = (unsigned) strtoul(optarg, NULL, 10); break;
        case 'S': shim = 1; break;
        case 'N': do_auth = 0; break;
        case 'v': g_verbose = 1; break;
        default:
            fprintf(stderr, "usage: bench [--ciphers LIST] [--sizes LIST] [--ms N] "
                            "[--auth-ms N] [--maxbuf N] [--shim] [--no-auth]\n");
            return 2;
        }
    }

    char tmpdir[] = "/tmp/cyrus-bench-XXXXXX", dbpath[512];
    if (!mkdtemp(tmpdir)) die("mkdtemp: %s", strerror(errno));
    snprintf(dbpath, sizeof dbpath, "%s/sasldb2", tmpdir);
    register_tmp(tmpdir, dbpath);
    g_opts.sasldb_path = dbpath;
    g_opts.reauth_timeout = "0";

    int r = sasl_server_init(g_server_cbs, "cyrus-digest-bench");
    if (r != SASL_OK) die("sasl_server_init: %s", sasl_errstring(r, NULL, NULL));
    r = sasl_client_init(g_client_global_cbs);
    if (r != SASL_OK) die("sasl_client_init: %s", sasl_errstring(r, NULL, NULL));
    store_password(SERVICE, HOST, REALM, USER, PASS);
    memset(&g_ci, 0, sizeof g_ci);
    g_ci.authcid = USER; g_ci.password = PASS; g_ci.realm = REALM;
    client_callbacks(g_ccbs, &g_ci);

    unsigned maxsize = 0;
    for (const char *s = sizes; *s;) {
        unsigned v = (unsigned) strtoul(s, NULL, 10);
        if (v > maxsize) maxsize = v;
        s = strchr(s, ',');
        if (!s) break;
        s++;
    }
    unsigned char *msg = xmalloc(maxsize);
    for (unsigned i = 0; i < maxsize; i++) msg[i] = (unsigned char) (i * 131u + 7u);

    char *clist = strdup(ciphers), *save = NULL;
    for (char *c = strtok_r(clist, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        int is_int = !strcmp(c, "auth-int");
        const char *qop = is_int ? "auth-int" : "auth-conf";
        char cjson[32];
        if (is_int) snprintf(cjson, sizeof cjson, "null");
        else snprintf(cjson, sizeof cjson, "\"%s\"", c);
        struct pair p;
        char err[512];
        /* a first connection pair pays one-off library initialisation (OpenSSL
         * cipher tables, plugin state): not counted in the memory figure */
        if (authenticate(&p, qop, is_int ? NULL : c, maxbuf, err, sizeof err) == 0) {
            sasl_dispose(&p.cc); sasl_dispose(&p.sc);
        }
        size_t heap0 = mallinfo2().uordblks;
        if (authenticate(&p, qop, is_int ? NULL : c, maxbuf, err, sizeof err) != 0) {
            printf("{\"impl\":\"cyrus\",\"kind\":\"error\",\"qop\":\"%s\",\"cipher\":%s,"
                   "\"shim\":%s,\"error\":\"", qop, cjson, shim ? "true" : "false");
            for (const char *e = err; *e; e++)
                if (*e != '"' && *e != '\\' && (unsigned char) *e >= 0x20) putchar(*e);
            printf("\"}\n");
            fflush(stdout);
            continue;
        }
        size_t heap_auth = mallinfo2().uordblks - heap0;
        const void *v = NULL;
        unsigned maxout = (sasl_getprop(p.cc, SASL_MAXOUTBUF, &v) == SASL_OK && v)
                              ? *(const unsigned *) v : 0;
        char *sl = strdup(sizes), *save2 = NULL;
        for (char *ss = strtok_r(sl, ",", &save2); ss; ss = strtok_r(NULL, ",", &save2)) {
            unsigned size = (unsigned) strtoul(ss, NULL, 10);
            if (size > maxout) {
                printf("{\"impl\":\"cyrus\",\"kind\":\"error\",\"qop\":\"%s\",\"cipher\":%s,"
                       "\"size\":%u,\"error\":\"size above maxoutbuf %u\"}\n",
                       qop, cjson, size, maxout);
                continue;
            }
            int rc = round_trip(&p, msg, size, 1);
            if (rc != 0) die("%s %u: round trip failed (%d)", c, size, rc);
            /* warm up, then calibrate the batch size so clock reads are negligible */
            unsigned long iters = 0, batch = 1;
            double t0 = now_s(), t;
            for (;;) {
                for (unsigned long i = 0; i < batch; i++)
                    if (round_trip(&p, msg, size, 0) != 0) die("%s %u: round trip failed", c, size);
                iters += batch;
                t = now_s() - t0;
                if (t >= point_s) break;
                if (t < point_s / 20) batch *= 2;
            }
            /* correctness again after the timed loop (sequence numbers advanced) */
            rc = round_trip(&p, msg, size, 1);
            if (rc != 0) die("%s %u: round trip failed after loop (%d)", c, size, rc);
            printf("{\"impl\":\"cyrus\",\"kind\":\"seal_unseal\",\"qop\":\"%s\",\"cipher\":%s,"
                   "\"size\":%u,\"mb_per_s\":%.2f,\"iters\":%lu,\"ssf\":%u,\"shim\":%s}\n",
                   qop, cjson, size, (double) size * (double) iters / t / 1e6, iters, p.ssf,
                   shim ? "true" : "false");
            fflush(stdout);
        }
        free(sl);
        /* heap held by the two established connections (client + server), right
         * after authentication and after the messages above (encode/decode buffers) */
        printf("{\"impl\":\"cyrus\",\"kind\":\"memory\",\"qop\":\"%s\",\"cipher\":%s,"
               "\"heap_bytes_after_auth\":%zu,\"heap_bytes_after_messages\":%zu,\"shim\":%s}\n",
               qop, cjson, heap_auth, mallinfo2().uordblks - heap0, shim ? "true" : "false");
        sasl_dispose(&p.cc); sasl_dispose(&p.sc);
    }
    free(clist);

    if (do_auth) {
        /* full authentications, the server's default challenge (qop=auth), no layer */
        unsigned long n = 0;
        char err[512];
        double t0 = now_s(), t;
        do {
            struct pair p;
            if (authenticate(&p, NULL, NULL, 65536, err, sizeof err) != 0) die("auth: %s", err);
            sasl_dispose(&p.cc); sasl_dispose(&p.sc);
            n++;
            t = now_s() - t0;
        } while (t < auth_s);
        printf("{\"impl\":\"cyrus\",\"kind\":\"auth_per_s\",\"per_s\":%.1f,\"iters\":%lu,"
               "\"store\":\"sasldb\",\"shim\":%s}\n", (double) n / t, n, shim ? "true" : "false");
    }
    free(msg);
    sasl_done();
    return 0;
}
