/* gb_auth.c: the `gobridge` authn and authz providers (see gb_auth.h).
 *
 * Modelled on httpd's mod_authnz_fcgi (forwarding to an outside process)
 * and mod_authn_file (provider shape, socache hook-up), with a persistent
 * connection per child instead of one per check.
 */
#include "gb_private.h"
#include "gb_auth.h"
#include "gb_config.h"
#include "gb_request.h"
#include "gb_response.h"
#include "gb_rpc.h"
#include "gen/gobridge/v1/auth.pb-c.h"

#include <ap_provider.h>
#include <apr_lib.h>
#include <apr_md5.h>
#include <apr_optional.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_main.h>
#include <http_request.h>
#include <mod_auth.h>

#include "gb_mutate.h"

#define GB_METHOD_CHECK_PASSWORD "/gobridge.v1.GoBridgeAuth/CheckPassword"
#define GB_METHOD_REALM_HASH     "/gobridge.v1.GoBridgeAuth/GetRealmHash"
#define GB_METHOD_CHECK_AUTHZ    "/gobridge.v1.GoBridgeAuth/CheckAuthorization"

#define GB_AUTH_PROVIDER "gobridge"
/* The authz provider for rules that only a logged-in user can pass. */
#define GB_AUTHZ_USER_PROVIDER "gobridge-user"

/* Bounds on what we send: httpd already limits header sizes; these keep a
 * hostile client from making us pack megabytes for nothing. */
#define GB_AUTH_MAX_CREDENTIAL 8192

static APR_OPTIONAL_FN_TYPE(ap_authn_cache_store) *gb_authn_cache_store;

/* Whether this configuration can have mod_authn_socache cache anything.
 * The module sets up its cache only for an AuthnCacheProvideFor or an
 * AuthnCacheEnable in the main configuration (the latter is what lets an
 * .htaccess file use it); without either, every grant we offered would be
 * thrown away, and offering one costs a password hash (apr1: 1000 rounds
 * of MD5, as much CPU as the call to the plugin). Its per-directory answer
 * is private to it, so the configuration tree is the closest we can look. */
static int gb_authn_cache_possible;

/* One `Require gobridge <plugin> [args...]` line, parsed at configuration
 * time and handed back by mod_authz_core with that same line only. */
typedef struct {
    const char *plugin;
    apr_array_header_t *args;        /* const char * */
    const char *line;                /* as written, for log lines */
    int needs_user;                  /* Require gobridge-user */
} gb_require;

/* What one call needs, whatever the RPC. */
typedef struct {
    request_rec *r;
    apr_pool_t *tmp;
    const char *plugin;
    const char *what;                /* "CheckPassword", ... for logs */
    gb_dir_conf *d;
} gb_auth_call;

/* --- configuration ------------------------------------------------------ */

const char *gb_auth_cmd_authn_provider(cmd_parms *cmd, void *dc,
                                       const char *a)
{
    gb_dir_conf *conf = dc;
    const char *p;

    gb_config_note_section(cmd, conf);
    if (!strcasecmp(a, "none")) {
        conf->authn_plugin = "";
        return NULL;
    }
    for (p = a; *p; p++) {
        if (!apr_isalnum(*p) && *p != '_' && *p != '.' && *p != '-') {
            break;
        }
    }
    if (*p || !*a || strlen(a) > GB_CONFIG_PLUGIN_NAME_MAX) {
        return apr_psprintf(cmd->pool, "%s: invalid plugin name '%s': use "
                            "the name of a GoBridgePlugin, or None",
                            cmd->cmd->name, a);
    }
    conf->authn_plugin = a;
    gb_config_remember_ref(cmd, a);
    return NULL;
}

const char *gb_auth_cmd_cache_hash(cmd_parms *cmd, void *dc, const char *a)
{
    gb_dir_conf *conf = dc;

    gb_config_note_section(cmd, conf);
    if (!strcasecmp(a, "apr1")) {
        conf->authn_cache_hash = GB_CACHE_HASH_APR1;
    }
    else if (!strcasecmp(a, "sha1")) {
        conf->authn_cache_hash = GB_CACHE_HASH_SHA1;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a cache hash: use "
                            "apr1 (salted, the default) or sha1 (fast, "
                            "unsalted)", cmd->cmd->name, a);
    }
    return NULL;
}

static const char *gb_authz_parse_as(cmd_parms *cmd,
                                     const char *require_line,
                                     const void **parsed,
                                     const char *provider)
{
    gb_require *req = apr_pcalloc(cmd->pool, sizeof(*req));
    const char *t = require_line;
    const char *w, *p;

    req->line = apr_pstrdup(cmd->pool, require_line);
    req->args = apr_array_make(cmd->pool, 4, sizeof(const char *));
    req->needs_user = !strcmp(provider, GB_AUTHZ_USER_PROVIDER);
    w = ap_getword_conf(cmd->pool, &t);
    if (!w || !*w) {
        return apr_psprintf(cmd->pool, "Require %s: name the plugin that "
                            "decides, e.g. 'Require %s auth group admins'",
                            provider, provider);
    }
    for (p = w; *p; p++) {
        if (!apr_isalnum(*p) && *p != '_' && *p != '.' && *p != '-') {
            break;
        }
    }
    if (*p || strlen(w) > GB_CONFIG_PLUGIN_NAME_MAX) {
        return apr_psprintf(cmd->pool, "Require %s: invalid plugin name "
                            "'%s': use the name of a GoBridgePlugin",
                            provider, w);
    }
    req->plugin = w;
    while (*t) {
        w = ap_getword_conf(cmd->pool, &t);
        if (!*w && !*t) {
            break;
        }
        APR_ARRAY_PUSH(req->args, const char *) = w;
    }
    /* .htaccess lines are parsed per request: no configtest check there
     * (gb_auth_invoke() refuses an undeclared plugin at run time). */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM) {
        gb_config_remember_ref(cmd, req->plugin);
    }
    *parsed = req;
    return NULL;
}

static const char *gb_authz_parse(cmd_parms *cmd, const char *require_line,
                                  const void **parsed)
{
    return gb_authz_parse_as(cmd, require_line, parsed, GB_AUTH_PROVIDER);
}

static const char *gb_authz_parse_user(cmd_parms *cmd,
                                       const char *require_line,
                                       const void **parsed)
{
    return gb_authz_parse_as(cmd, require_line, parsed,
                             GB_AUTHZ_USER_PROVIDER);
}

/* --- the call ----------------------------------------------------------- */

/* Checks logs and mutations before anything is applied: all or nothing.
 * Only notes and subprocess_env may be changed by an auth provider, by
 * the rule every plugin answer is checked with (gb_mutate.c). */
static const char *gb_auth_check_answer(apr_pool_t *p, size_t n_logs,
                                        Gobridge__V1__LogRecord **logs,
                                        size_t n_muts,
                                        Gobridge__V1__Mutation **muts)
{
    size_t i;
    int level;
    const char *why;

    for (i = 0; i < n_logs; i++) {
        if (!gb_response_log_level(logs[i]->level, &level)) {
            return apr_psprintf(p, "log record with unknown level %d",
                                (int)logs[i]->level);
        }
    }
    /* The rule a phase's changes are checked by, not a weaker one of our
     * own: an auth answer is no more trusted than a phase answer. */
    if (gb_mutate_check_mutations(p, n_muts, muts, GB_MUTATE_TABLES_NOTES_ENV,
                                  "an auth provider", &why) != APR_SUCCESS) {
        return why;
    }
    return NULL;
}

static void gb_auth_apply_logs(gb_auth_call *c, size_t n,
                               Gobridge__V1__LogRecord **logs)
{
    size_t i;
    int level;

    for (i = 0; i < n; i++) {
        gb_response_log_level(logs[i]->level, &level);
        /* Escaped: the plugin must not forge log lines. */
        ap_log_rerror(APLOG_MARK, level, 0, c->r, GB_APLOGNO(0255) "%s: %s",
                      c->plugin, ap_escape_logitem(c->tmp,
                          gb_pb_strdup(c->tmp, logs[i]->message)));
    }
}

static void gb_auth_apply_mutations(gb_auth_call *c, size_t n,
                                    Gobridge__V1__Mutation **muts)
{
    request_rec *r = c->r;
    size_t i;

    for (i = 0; i < n; i++) {
        apr_table_t *t = muts[i]->table
                         == GOBRIDGE__V1__MUTATION__TABLE__TABLE_NOTES
                         ? r->notes : r->subprocess_env;
        const char *k = gb_pb_strdup(r->pool, muts[i]->key);
        const char *v = gb_pb_strdup(r->pool, muts[i]->value);

        switch (muts[i]->op) {
        case GOBRIDGE__V1__MUTATION__OP__OP_SET:
            apr_table_setn(t, k, v);
            break;
        case GOBRIDGE__V1__MUTATION__OP__OP_ADD:
            apr_table_addn(t, k, v);
            break;
        default:
            apr_table_unset(t, k);
        }
    }
}

/* Makes the unary call. Returns 1 with *out set on a well-formed answer
 * (grpc-status OK), 0 after logging why not. */
static int gb_auth_invoke(gb_auth_call *c, const char *method,
                          const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *desc,
                          ProtobufCMessage **out)
{
    request_rec *r = c->r;
    gb_rpc_result res;

    if (!gb_config_plugin(r->server, c->plugin)) {
        /* configtest catches this; a plugin removed since cannot be. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0256)
                      "%s: %s: no such GoBridgePlugin; denying with 500",
                      c->plugin, c->what);
        return 0;
    }
    /* Fail closed: whatever went wrong, the caller answers 500. */
    if (gb_rpc_unary(r, c->d, c->plugin,
                     !strcmp(method, GB_METHOD_CHECK_AUTHZ)
                     ? GB_STATS_AUTHZ_PROVIDER
                     : GB_STATS_AUTHN_PROVIDER, c->tmp, method, req, desc, 0,
                     &res, out) == GB_RPC_OK && *out) {
        return 1;
    }
    if (!res.connected) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, res.rv, r, GB_APLOGNO(0251)
                      "%s: %s: cannot connect to %s; is the plugin running? "
                      "Failing closed (500)", c->plugin, c->what,
                      gb_rpc_socket(r, c->plugin));
    }
    else if (res.rv != APR_SUCCESS && res.outcome == GB_RPC_TIMEOUT) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, res.rv, r, GB_APLOGNO(0252)
                      "%s: %s: no answer within %" APR_TIME_T_FMT " ms "
                      "(GoBridgeTimeout); failing closed (500)",
                      c->plugin, c->what,
                      apr_time_as_msec(gb_config_timeout(c->d)));
    }
    else if (res.rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, res.rv, r, GB_APLOGNO(0262)
                      "%s: %s: the call failed (plugin crashed, "
                      "restarted or sent something unreadable); "
                      "failing closed (500)", c->plugin, c->what);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0253)
                      "%s: %s: grpc-status %d (%s)%s; failing closed (500)",
                      c->plugin, c->what, res.grpc_status,
                      res.grpc_message
                      ? ap_escape_logitem(c->tmp, res.grpc_message)
                      : "no message",
                      res.grpc_status == GB_GRPC_UNIMPLEMENTED
                      ? ": the plugin is not an auth provider (set "
                        "ServeConfig.PasswordChecker, RealmHasher or "
                        "RequireChecker)" : "");
    }
    return 0;
}

static void gb_auth_protocol_error(gb_auth_call *c, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, c->r, GB_APLOGNO(0254)
                  "%s: %s: invalid answer from the plugin: %s; failing "
                  "closed (500)", c->plugin, c->what, why);
}

static void gb_auth_call_init(gb_auth_call *c, request_rec *r,
                              const char *what, const char *plugin)
{
    memset(c, 0, sizeof(*c));
    c->r = r;
    c->what = what;
    c->d = gb_config_rget(r);
    c->plugin = plugin;
    apr_pool_create(&c->tmp, r->pool);
    apr_pool_tag(c->tmp, "gobridge (auth)");
}

/* --- authn -------------------------------------------------------------- */

/* The provider name mod_auth_basic/mod_auth_digest called us by (an
 * AuthnProviderAlias name, or "gobridge"). */
static const char *gb_authn_name(request_rec *r)
{
    const char *n = apr_table_get(r->notes, AUTHN_PROVIDER_NAME_NOTE);
    return n ? n : GB_AUTH_PROVIDER;
}

static const char *gb_authn_plugin(request_rec *r, const char *what)
{
    gb_dir_conf *d = gb_config_rget(r);

    if (!d->authn_plugin || !*d->authn_plugin) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0250)
                      "%s: provider '%s' is used for %s but no "
                      "GoBridgeAuthnProvider names a plugin here; failing "
                      "closed (500)", what, gb_authn_name(r), r->uri);
        return NULL;
    }
    return d->authn_plugin;
}

/* What an answered authn result means to httpd; 0 for an invalid one. */
static int gb_authn_status(Gobridge__V1__AuthnResult res, authn_status *st)
{
    switch (res) {
    case GOBRIDGE__V1__AUTHN_RESULT__AUTHN_RESULT_GRANTED:
        *st = AUTH_GRANTED; return 1;
    case GOBRIDGE__V1__AUTHN_RESULT__AUTHN_RESULT_DENIED:
        *st = AUTH_DENIED; return 1;
    case GOBRIDGE__V1__AUTHN_RESULT__AUTHN_RESULT_USER_NOT_FOUND:
        *st = AUTH_USER_NOT_FOUND; return 1;
    case GOBRIDGE__V1__AUTHN_RESULT__AUTHN_RESULT_GENERAL_ERROR:
        *st = AUTH_GENERAL_ERROR; return 1;
    default:
        return 0;
    }
}

static const char *gb_authn_status_name(authn_status st)
{
    switch (st) {
    case AUTH_GRANTED: return "granted";
    case AUTH_DENIED: return "denied";
    case AUTH_USER_FOUND: return "user found";
    case AUTH_USER_NOT_FOUND: return "user not found";
    default: return "general error";
    }
}

/* Caches a granted password for mod_authn_socache (AuthnCacheProvideFor)
 * as a hash that mod_authn_socache checks with apr_password_validate on
 * every cached login, never the password itself. apr1 (the default) is
 * salted but costs 1000 MD5 rounds per check, about as much as the call
 * to the plugin it saves; GoBridgeAuthnCacheHash sha1 makes the check one
 * SHA-1, unsalted, for caches that nobody else can read. */
static void gb_authn_cache_password(request_rec *r, const char *provider,
                                    const char *user, const char *password)
{
    static const char itoa64[] =
        "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[8];
    char salt[9], hash[120];
    int i;

    if (!gb_authn_cache_store || !gb_authn_cache_possible) {
        return;
    }
    if (gb_config_authn_cache_hash(gb_config_rget(r)) == GB_CACHE_HASH_SHA1) {
        apr_sha1_base64(password, (int)strlen(password), hash);
        gb_authn_cache_store(r, provider, user, NULL, hash);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, GB_APLOGNO(0266)
                      "%s: offered the grant for '%s' to mod_authn_socache "
                      "({SHA})", provider, ap_escape_logitem(r->pool, user));
        memset(hash, 0, sizeof(hash));
        return;
    }
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < 8; i++) {
        salt[i] = itoa64[rnd[i] & 0x3f];
    }
    salt[8] = '\0';
    if (apr_md5_encode(password, salt, hash, sizeof(hash)) == APR_SUCCESS) {
        gb_authn_cache_store(r, provider, user, NULL, hash);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, GB_APLOGNO(0261)
                      "%s: offered the grant for '%s' to mod_authn_socache",
                      provider, ap_escape_logitem(r->pool, user));
    }
    memset(hash, 0, sizeof(hash));
}

static authn_status gb_authn_check_password(request_rec *r, const char *user,
                                            const char *password)
{
    Gobridge__V1__CheckPasswordRequest req =
        GOBRIDGE__V1__CHECK_PASSWORD_REQUEST__INIT;
    Gobridge__V1__CheckPasswordResponse *resp = NULL;
    const char *plugin = gb_authn_plugin(r, "check_password");
    const char *name = gb_authn_name(r);
    gb_auth_call c;
    authn_status st = AUTH_GENERAL_ERROR;
    const char *why;

    if (!plugin) {
        return AUTH_GENERAL_ERROR;
    }
    if (strlen(user) > GB_AUTH_MAX_CREDENTIAL
        || strlen(password) > GB_AUTH_MAX_CREDENTIAL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GB_APLOGNO(0257)
                      "%s: user name or password longer than %d bytes: "
                      "denied without asking the plugin", plugin,
                      GB_AUTH_MAX_CREDENTIAL);
        return AUTH_DENIED;
    }
    gb_auth_call_init(&c, r, "CheckPassword", plugin);
    req.request = gb_request_build(r, c.tmp, plugin, c.d);
    req.user = gb_pb_bytes(user);
    req.password = gb_pb_bytes(password);
    req.provider = gb_pb_bytes(name);

    if (gb_auth_invoke(&c, GB_METHOD_CHECK_PASSWORD, &req.base,
                       &gobridge__v1__check_password_response__descriptor,
                       (ProtobufCMessage **)&resp)) {
        why = gb_auth_check_answer(c.tmp, resp->n_logs, resp->logs,
                                   resp->n_mutations, resp->mutations);
        if (!why && !gb_authn_status(resp->result, &st)) {
            why = apr_psprintf(c.tmp, "result %d", (int)resp->result);
        }
        if (why) {
            gb_auth_protocol_error(&c, why);
            st = AUTH_GENERAL_ERROR;
        }
        else {
            gb_auth_apply_logs(&c, resp->n_logs, resp->logs);
            if (st == AUTH_GRANTED) {
                gb_auth_apply_mutations(&c, resp->n_mutations,
                                        resp->mutations);
                gb_authn_cache_password(r, name, user, password);
            }
            else if (st == AUTH_GENERAL_ERROR) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0258)
                              "%s: CheckPassword: the plugin reported an "
                              "error (see its log line); 500", plugin);
            }
        }
    }
    /* The user name only on success: a client that sent its password as
     * the user name must not find it in our log. */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0259)
                  "%s: CheckPassword for user '%s' via provider '%s': %s",
                  plugin, st == AUTH_GRANTED
                          ? ap_escape_logitem(r->pool, user) : "(not logged)",
                  name, gb_authn_status_name(st));
    /* The request message pointed at the password; the pool goes now. */
    apr_pool_destroy(c.tmp);
    return st;
}

static int gb_is_realm_hash(ProtobufCBinaryData h)
{
    apr_size_t i;

    if (h.len != 32) {
        return 0;
    }
    for (i = 0; i < h.len; i++) {
        if (!((h.data[i] >= '0' && h.data[i] <= '9')
              || (h.data[i] >= 'a' && h.data[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static authn_status gb_authn_realm_hash(request_rec *r, const char *user,
                                        const char *realm, char **rethash)
{
    Gobridge__V1__GetRealmHashRequest req =
        GOBRIDGE__V1__GET_REALM_HASH_REQUEST__INIT;
    Gobridge__V1__GetRealmHashResponse *resp = NULL;
    const char *plugin = gb_authn_plugin(r, "get_realm_hash");
    const char *name = gb_authn_name(r);
    gb_auth_call c;
    authn_status st = AUTH_GENERAL_ERROR;
    const char *why;

    if (!plugin) {
        return AUTH_GENERAL_ERROR;
    }
    if (strlen(user) > GB_AUTH_MAX_CREDENTIAL) {
        return AUTH_USER_NOT_FOUND;
    }
    gb_auth_call_init(&c, r, "GetRealmHash", plugin);
    req.request = gb_request_build(r, c.tmp, plugin, c.d);
    req.user = gb_pb_bytes(user);
    req.realm = gb_pb_bytes(realm);
    req.provider = gb_pb_bytes(name);

    if (gb_auth_invoke(&c, GB_METHOD_REALM_HASH, &req.base,
                       &gobridge__v1__get_realm_hash_response__descriptor,
                       (ProtobufCMessage **)&resp)) {
        why = gb_auth_check_answer(c.tmp, resp->n_logs, resp->logs,
                                   resp->n_mutations, resp->mutations);
        if (!why && !gb_authn_status(resp->result, &st)) {
            why = apr_psprintf(c.tmp, "result %d", (int)resp->result);
        }
        if (!why && st == AUTH_GRANTED && !gb_is_realm_hash(resp->hash)) {
            why = "the realm hash is not 32 lower-case hex digits";
        }
        if (!why && st == AUTH_DENIED) {
            /* Meaningless for Digest: treat as unknown, not an error. */
            st = AUTH_USER_NOT_FOUND;
        }
        if (why) {
            gb_auth_protocol_error(&c, why);
            st = AUTH_GENERAL_ERROR;
        }
        else {
            gb_auth_apply_logs(&c, resp->n_logs, resp->logs);
            if (st == AUTH_GRANTED) {
                /* mod_auth_digest wants AUTH_USER_FOUND with the hash. */
                st = AUTH_USER_FOUND;
                *rethash = gb_pb_strdup(r->pool, resp->hash);
                gb_auth_apply_mutations(&c, resp->n_mutations,
                                        resp->mutations);
                if (gb_authn_cache_store) {
                    gb_authn_cache_store(r, name, user, realm, *rethash);
                }
            }
            else if (st == AUTH_GENERAL_ERROR) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0263)
                              "%s: GetRealmHash: the plugin reported an "
                              "error (see its log line); 500", plugin);
            }
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0265)
                  "%s: GetRealmHash for user '%s' via provider '%s': %s",
                  plugin, st == AUTH_USER_FOUND
                          ? ap_escape_logitem(r->pool, user) : "(not logged)",
                  name, gb_authn_status_name(st));
    apr_pool_destroy(c.tmp);
    return st;
}

/* --- authz -------------------------------------------------------------- */

static int gb_authz_status(Gobridge__V1__AuthzResult res, authz_status *st)
{
    switch (res) {
    case GOBRIDGE__V1__AUTHZ_RESULT__AUTHZ_RESULT_GRANTED:
        *st = AUTHZ_GRANTED; return 1;
    case GOBRIDGE__V1__AUTHZ_RESULT__AUTHZ_RESULT_DENIED:
        *st = AUTHZ_DENIED; return 1;
    case GOBRIDGE__V1__AUTHZ_RESULT__AUTHZ_RESULT_DENIED_NO_USER:
        *st = AUTHZ_DENIED_NO_USER; return 1;
    case GOBRIDGE__V1__AUTHZ_RESULT__AUTHZ_RESULT_NEUTRAL:
        *st = AUTHZ_NEUTRAL; return 1;
    case GOBRIDGE__V1__AUTHZ_RESULT__AUTHZ_RESULT_GENERAL_ERROR:
        *st = AUTHZ_GENERAL_ERROR; return 1;
    default:
        return 0;
    }
}

static const char *gb_authz_status_name(authz_status st)
{
    switch (st) {
    case AUTHZ_GRANTED: return "granted";
    case AUTHZ_DENIED: return "denied";
    case AUTHZ_DENIED_NO_USER: return "denied (no user)";
    case AUTHZ_NEUTRAL: return "neutral";
    default: return "general error";
    }
}

static authz_status gb_authz_check(request_rec *r, const char *require_line,
                                   const void *parsed)
{
    const gb_require *rq = parsed;
    Gobridge__V1__CheckAuthorizationRequest req =
        GOBRIDGE__V1__CHECK_AUTHORIZATION_REQUEST__INIT;
    Gobridge__V1__CheckAuthorizationResponse *resp = NULL;
    gb_auth_call c;
    authz_status st = AUTHZ_GENERAL_ERROR;
    const char *why;
    int i;

    (void)require_line;
    if (!rq) {
        /* parse_require_line always sets it; be safe all the same. */
        return AUTHZ_GENERAL_ERROR;
    }
    if (rq->needs_user && !r->user) {
        /* mod_authz_core asks before anyone logged in (so that a rule
         * like Require ip can grant at once): this rule cannot pass yet,
         * and saying so needs no call. */
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "%s: Require %s %s: "
                      "no user yet", rq->plugin, GB_AUTHZ_USER_PROVIDER,
                      rq->line);
        return AUTHZ_DENIED_NO_USER;
    }
    gb_auth_call_init(&c, r, "CheckAuthorization", rq->plugin);
    req.request = gb_request_build(r, c.tmp, rq->plugin, c.d);
    req.user = gb_pb_bytes(r->user);
    req.require_line = gb_pb_bytes(rq->line);
    req.n_args = rq->args->nelts;
    req.args = apr_pcalloc(c.tmp, sizeof(ProtobufCBinaryData)
                                  * (rq->args->nelts + 1));
    for (i = 0; i < rq->args->nelts; i++) {
        req.args[i] = gb_pb_bytes(APR_ARRAY_IDX(rq->args, i, const char *));
    }

    if (gb_auth_invoke(&c, GB_METHOD_CHECK_AUTHZ, &req.base,
                       &gobridge__v1__check_authorization_response__descriptor,
                       (ProtobufCMessage **)&resp)) {
        why = gb_auth_check_answer(c.tmp, resp->n_logs, resp->logs,
                                   resp->n_mutations, resp->mutations);
        if (!why && !gb_authz_status(resp->result, &st)) {
            why = apr_psprintf(c.tmp, "result %d", (int)resp->result);
        }
        if (why) {
            gb_auth_protocol_error(&c, why);
            st = AUTHZ_GENERAL_ERROR;
        }
        else {
            gb_auth_apply_logs(&c, resp->n_logs, resp->logs);
            gb_auth_apply_mutations(&c, resp->n_mutations, resp->mutations);
            if (st == AUTHZ_GENERAL_ERROR) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0264)
                              "%s: CheckAuthorization: the plugin reported "
                              "an error (see its log line); 500",
                              rq->plugin);
            }
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0260)
                  "%s: Require %s %s (user '%s'): %s", rq->plugin,
                  rq->needs_user ? GB_AUTHZ_USER_PROVIDER : GB_AUTH_PROVIDER,
                  ap_escape_logitem(c.tmp, rq->line),
                  r->user ? ap_escape_logitem(c.tmp, r->user) : "",
                  gb_authz_status_name(st));
    apr_pool_destroy(c.tmp);
    return st;
}

/* --- registration ------------------------------------------------------- */

static const authn_provider gb_authn_provider = {
    gb_authn_check_password,
    gb_authn_realm_hash,
};

static const authz_provider gb_authz_provider = {
    gb_authz_check,
    gb_authz_parse,
};

static const authz_provider gb_authz_user_provider = {
    gb_authz_check,
    gb_authz_parse_user,
};

static void gb_auth_optional_fns(void)
{
    gb_authn_cache_store = APR_RETRIEVE_OPTIONAL_FN(ap_authn_cache_store);
}

static int gb_conftree_may_cache_authn(const ap_directive_t *d)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "AuthnCacheProvideFor")
            || !strcasecmp(d->directive, "AuthnCacheEnable")
            || gb_conftree_may_cache_authn(d->first_child)) {
            return 1;
        }
    }
    return 0;
}

static int gb_auth_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    (void)s;
    gb_authn_cache_possible = gb_conftree_may_cache_authn(ap_conftree);
    return OK;
}

void gb_auth_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, GB_AUTH_PROVIDER,
                              AUTHN_PROVIDER_VERSION, &gb_authn_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, GB_AUTH_PROVIDER,
                              AUTHZ_PROVIDER_VERSION, &gb_authz_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP,
                              GB_AUTHZ_USER_PROVIDER, AUTHZ_PROVIDER_VERSION,
                              &gb_authz_user_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_optional_fn_retrieve(gb_auth_optional_fns, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    ap_hook_post_config(gb_auth_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}
