/* Shared helpers for the Cyrus SASL DIGEST-MD5 recorder (record.c) and
 * peer (peer.c). Header-only on purpose: each program is one translation
 * unit, built by tools/cyrus/build.sh.
 *
 * Everything here is plain glue around the public libsasl2 API.
 */
#ifndef CYRUS_COMMON_H
#define CYRUS_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>
#include <sasl/sasl.h>
#include <sasl/saslutil.h>

/* temp sasldb (file + its directory) removed at exit, also after die()/FAIL */
static char g_tmp_db[512], g_tmp_dir[512];
static void cleanup_tmp(void)
{
    if (g_tmp_db[0]) unlink(g_tmp_db);
    if (g_tmp_dir[0]) rmdir(g_tmp_dir);
}
static void register_tmp(const char *dir, const char *db)
{
    snprintf(g_tmp_dir, sizeof g_tmp_dir, "%s", dir);
    snprintf(g_tmp_db, sizeof g_tmp_db, "%s", db);
    atexit(cleanup_tmp);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fatal: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

/* ---------- base64 (via libsasl2) ---------- */

static char *b64enc(const unsigned char *data, unsigned len)
{
    unsigned cap = ((len + 2) / 3) * 4 + 1, out = 0;
    char *buf = xmalloc(cap + 1);
    if (sasl_encode64((const char *) data, len, buf, cap + 1, &out) != SASL_OK)
        die("sasl_encode64 failed");
    buf[out] = 0;
    return buf;
}

/* returns malloc'd buffer, sets *len; returns NULL on bad input */
static unsigned char *b64dec(const char *s, unsigned *len)
{
    size_t sl = strlen(s);
    unsigned cap = (unsigned) (sl / 4 * 3 + 4), out = 0;
    unsigned char *buf = xmalloc(cap + 1);
    if (sl == 0) { *len = 0; buf[0] = 0; return buf; }
    if (sasl_decode64(s, (unsigned) sl, (char *) buf, cap + 1, &out) != SASL_OK) {
        free(buf);
        return NULL;
    }
    buf[out] = 0;
    *len = out;
    return buf;
}

/* ---------- global option callback (server + client) ---------- */

struct global_opts {
    const char *sasldb_path;   /* server: sasldb file */
    const char *reauth_timeout; /* server: minutes, "0" disables */
};
static struct global_opts g_opts = { NULL, "0" };

static int cb_getopt(void *context, const char *plugin_name, const char *option,
                     const char **result, unsigned *len)
{
    (void) context; (void) plugin_name;
    const char *v = NULL;
    if (!strcmp(option, "sasldb_path")) v = g_opts.sasldb_path;
    else if (!strcmp(option, "auxprop_plugin")) v = "sasldb";
    else if (!strcmp(option, "mech_list")) v = "DIGEST-MD5";
    else if (!strcmp(option, "reauth_timeout")) v = g_opts.reauth_timeout;
    else if (!strcmp(option, "pwcheck_method")) v = "auxprop";
    if (!v) return SASL_FAIL;
    *result = v;
    if (len) *len = (unsigned) strlen(v);
    return SASL_OK;
}

static int g_verbose = 0;
static int cb_log(void *context, int level, const char *message)
{
    (void) context;
    if (g_verbose || level <= SASL_LOG_ERR)
        fprintf(stderr, "[sasl %d] %s\n", level, message);
    return SASL_OK;
}

/* ---------- client identity callbacks ---------- */

struct client_ident {
    const char *authcid;
    const char *authzid;   /* NULL: none */
    const char *password;
    const char *realm;     /* realm to pick when several are offered (NULL: first) */
    sasl_secret_t *secret;
    const char *realm_chosen; /* filled by the GETREALM callback */
    int realm_cb_called;
};

static int cb_simple(void *context, int id, const char **result, unsigned *len)
{
    struct client_ident *ci = context;
    const char *v = NULL;
    switch (id) {
    case SASL_CB_AUTHNAME: v = ci->authcid; break;
    case SASL_CB_USER: v = ci->authzid ? ci->authzid : ""; break;
    default: return SASL_BADPARAM;
    }
    *result = v;
    if (len) *len = (unsigned) strlen(v);
    return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    (void) conn; (void) id;
    struct client_ident *ci = context;
    if (!ci->secret) {
        size_t l = strlen(ci->password);
        ci->secret = xmalloc(sizeof(sasl_secret_t) + l + 1);
        ci->secret->len = (unsigned long) l;
        memcpy(ci->secret->data, ci->password, l + 1);
    }
    *psecret = ci->secret;
    return SASL_OK;
}

static int cb_realm(void *context, int id, const char **avail, const char **result)
{
    (void) id;
    struct client_ident *ci = context;
    ci->realm_cb_called = 1;
    const char *pick = NULL;
    if (ci->realm) pick = ci->realm;
    else if (avail && avail[0]) pick = avail[0];
    else pick = "";
    *result = pick;
    ci->realm_chosen = pick;
    return SASL_OK;
}

static void client_callbacks(sasl_callback_t cbs[6], struct client_ident *ci)
{
    cbs[0].id = SASL_CB_AUTHNAME; cbs[0].proc = (int (*)(void)) cb_simple; cbs[0].context = ci;
    cbs[1].id = SASL_CB_USER;     cbs[1].proc = (int (*)(void)) cb_simple; cbs[1].context = ci;
    cbs[2].id = SASL_CB_PASS;     cbs[2].proc = (int (*)(void)) cb_pass;   cbs[2].context = ci;
    cbs[3].id = SASL_CB_GETREALM; cbs[3].proc = (int (*)(void)) cb_realm;  cbs[3].context = ci;
    cbs[4].id = SASL_CB_LOG;      cbs[4].proc = (int (*)(void)) cb_log;    cbs[4].context = NULL;
    cbs[5].id = SASL_CB_LIST_END; cbs[5].proc = NULL; cbs[5].context = NULL;
}

/* Server: allow any authzid (the recorder/peer test the mechanism, not a
 * proxy policy). */
static int cb_authorize(sasl_conn_t *conn, void *context, const char *requested_user,
                        unsigned rlen, const char *auth_identity, unsigned alen,
                        const char *def_realm, unsigned urlen, struct propctx *propctx)
{
    (void) conn; (void) context; (void) requested_user; (void) rlen; (void) auth_identity;
    (void) alen; (void) def_realm; (void) urlen; (void) propctx;
    return SASL_OK;
}

static sasl_callback_t g_server_cbs[] = {
    { SASL_CB_GETOPT, (int (*)(void)) cb_getopt, NULL },
    { SASL_CB_PROXY_POLICY, (int (*)(void)) cb_authorize, NULL },
    { SASL_CB_LOG, (int (*)(void)) cb_log, NULL },
    { SASL_CB_LIST_END, NULL, NULL },
};
static sasl_callback_t g_client_global_cbs[] = {
    { SASL_CB_GETOPT, (int (*)(void)) cb_getopt, NULL },
    { SASL_CB_LOG, (int (*)(void)) cb_log, NULL },
    { SASL_CB_LIST_END, NULL, NULL },
};

static void set_secprops(sasl_conn_t *conn, unsigned min_ssf, unsigned max_ssf, unsigned maxbuf)
{
    sasl_security_properties_t p;
    memset(&p, 0, sizeof p);
    p.min_ssf = min_ssf;
    p.max_ssf = max_ssf;
    p.maxbufsize = maxbuf;
    p.security_flags = 0;
    if (sasl_setprop(conn, SASL_SEC_PROPS, &p) != SASL_OK)
        die("sasl_setprop(SASL_SEC_PROPS): %s", sasl_errdetail(conn));
}

/* Store a plaintext password in the sasldb for user in realm, using a
 * throw-away server connection whose user_realm is that realm. */
static void store_password(const char *service, const char *host, const char *realm,
                           const char *user, const char *pass)
{
    sasl_conn_t *c = NULL;
    int r = sasl_server_new(service, host, realm, NULL, NULL, NULL, 0, &c);
    if (r != SASL_OK) die("sasl_server_new (setpass): %s", sasl_errstring(r, NULL, NULL));
    r = sasl_setpass(c, user, pass, (unsigned) strlen(pass), NULL, 0, SASL_SET_CREATE);
    if (r != SASL_OK && r != SASL_NOCHANGE)
        die("sasl_setpass(%s@%s): %s", user, realm ? realm : "", sasl_errdetail(c));
    sasl_dispose(&c);
}

#endif
