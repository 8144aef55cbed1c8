/* gb_request.c: the snapshot of request_rec sent with every call. */
#include "gb_private.h"
#include "gb_request.h"
#include "gb_encode.h"

#include <apr_optional.h>
#include <http_core.h>
#include <http_main.h>
#include <http_protocol.h>
#include <mod_ssl.h>
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 104)
#include <http_ssl.h>
#define GB_HAVE_AP_SSL 1
#endif

typedef struct {
    apr_pool_t *p;
    Gobridge__V1__Pair **v;
    size_t n;
} gb_pairs;

static int gb_pairs_add(void *ctx, const char *k, const char *v)
{
    gb_pairs *ps = ctx;
    Gobridge__V1__Pair *pr = apr_palloc(ps->p, sizeof(*pr));

    gobridge__v1__pair__init(pr);
    pr->key = gb_pb_bytes(k);
    pr->value = gb_pb_bytes(v);
    ps->v[ps->n++] = pr;
    return 1;
}

/* One allocation of pointers per table; order and repeats preserved. */
static void gb_pairs_from_table(apr_pool_t *p, const apr_table_t *t,
                                size_t *n, Gobridge__V1__Pair ***out)
{
    gb_pairs ps;
    int count = t ? apr_table_elts(t)->nelts : 0;

    *n = 0;
    *out = NULL;
    if (count == 0) {
        return;
    }
    ps.p = p;
    ps.n = 0;
    ps.v = apr_palloc(p, count * sizeof(*ps.v));
    apr_table_do(gb_pairs_add, &ps, t, NULL);
    *n = ps.n;
    *out = ps.v;
}

static int gb_count_option(void *ctx, const char *k, const char *v)
{
    (void)k;
    (void)v;
    ++*(size_t *)ctx;
    return 1;
}

/* d's GoBridgeOption values as pairs in p (none: *n stays 0). */
static void gb_options_pairs(apr_pool_t *p, const gb_dir_conf *d, size_t *n,
                             Gobridge__V1__Pair ***v)
{
    size_t nopt = 0;
    gb_pairs ps;

    gb_config_options_do(d, gb_count_option, &nopt);
    if (!nopt) {
        return;
    }
    ps.p = p;
    ps.n = 0;
    ps.v = apr_palloc(p, nopt * sizeof(*ps.v));
    gb_config_options_do(d, gb_pairs_add, &ps);
    *n = ps.n;
    *v = ps.v;
}

apr_off_t gb_request_content_length(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t n;
    char *end;

    if (r->main || !ap_request_has_body(r)) {
        return 0;
    }
    if (apr_table_get(r->headers_in, "Transfer-Encoding") || !cl) {
        return -1;
    }
    if (apr_strtoff(&n, cl, &end, 10) != APR_SUCCESS || *end || n < 0) {
        return -1;
    }
    return n;
}

/* mod_ssl's optional functions; NULL without mod_ssl. Set in every
 * process by the optional_fn_retrieve hook, before any request. */
static APR_OPTIONAL_FN_TYPE(ssl_is_https) *gb_ssl_is_https;
static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *gb_ssl_var_lookup;

void gb_request_optional_fns(void)
{
    gb_ssl_is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    gb_ssl_var_lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
}

static ProtobufCBinaryData gb_ssl_var(request_rec *r, apr_pool_t *p,
                                      const char *name)
{
    char *v = gb_ssl_var_lookup(p, r->server, r->connection, r,
                                (char *)name);
    return gb_pb_bytes(v && *v ? v : NULL);
}

/* The TLS facts, read only for a connection mod_ssl serves with TLS: a
 * handful of hash lookups, nothing for plain HTTP. */
static Gobridge__V1__TLS *gb_request_tls(request_rec *r, apr_pool_t *p)
{
    Gobridge__V1__TLS *t;

    if (!gb_ssl_is_https || !gb_ssl_var_lookup
        || !gb_ssl_is_https(r->connection)) {
        return NULL;
    }
    t = apr_palloc(p, sizeof(*t));
    gobridge__v1__tls__init(t);
    t->protocol = gb_ssl_var(r, p, "SSL_PROTOCOL");
    t->cipher = gb_ssl_var(r, p, "SSL_CIPHER");
    t->sni = gb_ssl_var(r, p, "SSL_TLS_SNI");
    t->client_verify = gb_ssl_var(r, p, "SSL_CLIENT_VERIFY");
    t->client_subject = gb_ssl_var(r, p, "SSL_CLIENT_S_DN");
    t->client_issuer = gb_ssl_var(r, p, "SSL_CLIENT_I_DN");
    t->client_serial = gb_ssl_var(r, p, "SSL_CLIENT_M_SERIAL");
    return t;
}

/* r->allowed and r->allowed_methods as method names: the registered
 * methods by number, then the extension methods in order. */
static void gb_request_allowed(request_rec *r, apr_pool_t *p,
                               Gobridge__V1__Request *m)
{
    apr_int64_t mask = r->allowed;
    const apr_array_header_t *ext = NULL;
    int i, n = 0, max;

    if (r->allowed_methods) {
        mask |= r->allowed_methods->method_mask;
        ext = r->allowed_methods->method_list;
    }
    if (!mask && (!ext || !ext->nelts)) {
        return;
    }
    max = METHODS + (ext ? ext->nelts : 0);
    m->allowed_methods = apr_palloc(p, max * sizeof(ProtobufCBinaryData));
    for (i = 0; i < METHODS; i++) {
        if (i != M_INVALID && (mask & (AP_METHOD_BIT << i))) {
            /* HEAD shares GET's number; name it GET. */
            const char *name = i == M_GET ? "GET" : ap_method_name_of(p, i);
            if (name) {
                m->allowed_methods[n++] = gb_pb_bytes(name);
            }
        }
    }
    for (i = 0; ext && i < ext->nelts; i++) {
        m->allowed_methods[n++] = gb_pb_bytes(APR_ARRAY_IDX(ext, i,
                                                            const char *));
    }
    m->n_allowed_methods = n;
}

static void gb_strings(apr_pool_t *p, const apr_array_header_t *a,
                       size_t *n, ProtobufCBinaryData **out)
{
    int i;

    *n = 0;
    if (!a || a->nelts == 0) {
        return;
    }
    *out = apr_palloc(p, a->nelts * sizeof(**out));
    for (i = 0; i < a->nelts; i++) {
        (*out)[i] = gb_pb_bytes(APR_ARRAY_IDX(a, i, const char *));
    }
    *n = a->nelts;
}

static int gb_conn_is_tls(conn_rec *c, request_rec *r)
{
#ifdef GB_HAVE_AP_SSL
    (void)r;
    return ap_ssl_conn_is_ssl(c);
#else
    (void)c;
    return !strcmp(ap_http_scheme(r), "https");
#endif
}

static const ProtobufCMessageUnknownField *
gb_request_server_facts(server_rec *s, apr_pool_t *p);

Gobridge__V1__Request *gb_request_build(request_rec *r, apr_pool_t *p,
                                        const char *plugin,
                                        const gb_dir_conf *d)
{
    Gobridge__V1__Request *m = apr_palloc(p, sizeof(*m));
    Gobridge__V1__Connection *cm = apr_palloc(p, sizeof(*cm));
    Gobridge__V1__Server *sm = apr_palloc(p, sizeof(*sm));
    conn_rec *c = r->connection;
    const ProtobufCMessageUnknownField *facts;

    gobridge__v1__request__init(m);
    gobridge__v1__connection__init(cm);
    gobridge__v1__server__init(sm);

    m->method = gb_pb_bytes(r->method);
    m->protocol = gb_pb_bytes(r->protocol);
    m->the_request = gb_pb_bytes(r->the_request);
    m->unparsed_uri = gb_pb_bytes(r->unparsed_uri);
    m->uri = gb_pb_bytes(r->uri);
    m->args = gb_pb_bytes(r->args);
    m->path_info = gb_pb_bytes(r->path_info);
    m->filename = gb_pb_bytes(r->filename);
    m->hostname = gb_pb_bytes(r->hostname);
    gb_pairs_from_table(p, r->headers_in, &m->n_headers_in, &m->headers_in);
    m->user = gb_pb_bytes(r->user);
    /* Once someone authenticated, r->ap_auth_type says how; before that
     * (the authn phase itself) the configured AuthType, as mod_python's
     * req.auth_type() and httpd's own ap_auth_type(r). */
    m->auth_type = gb_pb_bytes(r->ap_auth_type ? r->ap_auth_type
                                               : ap_auth_type(r));
    m->auth_name = gb_pb_bytes(ap_auth_name(r));
    /* No lookup of our own: only what HostnameLookups makes httpd do. */
    m->remote_host = gb_pb_bytes(ap_get_useragent_host(r, REMOTE_HOST,
                                                       NULL));
    m->request_time_us = r->request_time;
    m->handler = gb_pb_bytes(r->handler);
    m->content_type = gb_pb_bytes(r->content_type);
    m->content_length = gb_request_content_length(r);
    m->has_body = m->content_length != 0;
    m->plugin = gb_pb_bytes(plugin);
    m->log_id = gb_pb_bytes(r->log_id);
    m->location = gb_pb_bytes(d->location);
    m->files = gb_pb_bytes(d->files);
    gb_pairs_from_table(p, r->notes, &m->n_notes, &m->notes);
    gb_pairs_from_table(p, r->subprocess_env, &m->n_subprocess_env,
                        &m->subprocess_env);
    m->is_subrequest = r->main != NULL;
    m->is_internal_redirect = r->prev != NULL;
    m->scheme = gb_pb_bytes(ap_http_scheme(r));

    /* What the non-body phases read besides. */
    m->status = r->status;
    m->status_line = gb_pb_bytes(r->status_line);
    m->content_encoding = gb_pb_bytes(r->content_encoding);
    if (r->content_languages && r->content_languages->nelts > 0) {
        int i, n = r->content_languages->nelts;
        m->content_languages = apr_palloc(p, n * sizeof(ProtobufCBinaryData));
        for (i = 0; i < n; i++) {
            m->content_languages[i] = gb_pb_bytes(
                APR_ARRAY_IDX(r->content_languages, i, const char *));
        }
        m->n_content_languages = n;
    }
    m->mtime_us = r->mtime;
    m->no_cache = r->no_cache;
    m->canonical_filename = gb_pb_bytes(r->canonical_filename);
    gb_pairs_from_table(p, r->headers_out, &m->n_headers_out,
                        &m->headers_out);
    gb_pairs_from_table(p, r->err_headers_out, &m->n_err_headers_out,
                        &m->err_headers_out);
    m->was_redirected = r->next != NULL;
    if (r->main) {
        m->main_uri = gb_pb_bytes(r->main->uri);
    }
    if (r->prev) {
        m->prev_uri = gb_pb_bytes(r->prev->uri);
        m->prev_status = r->prev->status;
    }
    m->bytes_sent = r->bytes_sent;
    gb_request_allowed(r, p, m);

    gb_options_pairs(p, d, &m->n_options, &m->options);

    cm->remote_ip = gb_pb_bytes(c->client_ip);
    cm->remote_port = c->client_addr ? c->client_addr->port : 0;
    cm->local_ip = gb_pb_bytes(c->local_ip);
    cm->local_port = c->local_addr ? c->local_addr->port : 0;
    cm->useragent_ip = gb_pb_bytes(r->useragent_ip);
    cm->secure = gb_conn_is_tls(c, r);
    cm->id = (uint64_t)c->id;
    cm->keepalives = (uint32_t)c->keepalives;
    gb_pairs_from_table(p, c->notes, &cm->n_notes, &cm->notes);
    cm->tls = gb_request_tls(r, p);
    m->connection = cm;

    /* What may differ per request; the rest of the Server message is
     * packed once per child and rides after these (gb_encode_fixed). */
    sm->port = ap_get_server_port(r);
    sm->document_root = gb_pb_bytes(ap_document_root(r));
    sm->is_default = r->server == c->base_server;
    facts = gb_request_server_facts(r->server, p);
    if (facts->len) {
        sm->base.n_unknown_fields = 1;
        sm->base.unknown_fields = (ProtobufCMessageUnknownField *)facts;
    }
    m->server = sm;
    return m;
}

/* httpd's LogLevel names, by APLOG_ level. */
static const char *const gb_level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7",
    "trace8"
};

/* The ErrorLog as httpd opened it: a virtual host without one writes to
 * the main server's (ap_fixup_virtual_hosts), and a file name is relative
 * to ServerRoot; pipes and syslog are left as written. */
static const char *gb_request_error_log(apr_pool_t *p, server_rec *s)
{
    const char *f = s->error_fname;

    if (!f && s->is_virtual && ap_server_conf) {
        f = ap_server_conf->error_fname;
    }
    if (!f || *f == '|' || !strncasecmp(f, "syslog", 6)) {
        return f;
    }
    return ap_server_root_relative(p, f);
}

static Gobridge__V1__Server *gb_request_server_build(apr_pool_t *p,
                                                     server_rec *s)
{
    Gobridge__V1__Server *sm = apr_palloc(p, sizeof(*sm));
    const gb_dir_conf *d = ap_get_module_config(s->lookup_defaults,
                                                &gobridge_module);
    int level = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);

    gobridge__v1__server__init(sm);
    sm->hostname = gb_pb_bytes(s->server_hostname);
    sm->admin = gb_pb_bytes(s->server_admin);
    if (s->names || s->wild_names) {
        int nn = s->names ? s->names->nelts : 0;
        int nw = s->wild_names ? s->wild_names->nelts : 0;
        apr_array_header_t *all = apr_array_make(p, nn + nw + 1,
                                                 sizeof(const char *));
        if (nn) {
            apr_array_cat(all, s->names);
        }
        if (nw) {
            apr_array_cat(all, s->wild_names);
        }
        gb_strings(p, all, &sm->n_aliases, &sm->aliases);
    }
    sm->is_virtual = s->is_virtual != 0;
    gb_strings(p, ap_server_config_defines, &sm->n_defines, &sm->defines);
    if (d) {
        gb_options_pairs(p, d, &sm->n_options, &sm->options);
    }
    sm->defined_in = gb_pb_bytes(s->defn_name);
    sm->defined_at = s->defn_line_number;
    sm->error_log = gb_pb_bytes(gb_request_error_log(p, s));
    if (level >= 0 && level < (int)(sizeof(gb_level_names)
                                    / sizeof(gb_level_names[0]))) {
        sm->log_level = gb_pb_bytes(gb_level_names[level]);
    }
    sm->timeout_us = s->timeout;
    sm->keep_alive = s->keep_alive != 0;
    sm->keep_alive_timeout_us = s->keep_alive_timeout;
    sm->keep_alive_max = s->keep_alive_max;
    sm->limit_request_line = s->limit_req_line;
    sm->limit_request_fieldsize = s->limit_req_fieldsize;
    sm->limit_request_fields = s->limit_req_fields;
    return sm;
}

/* Request.server's constant part, packed once (len 0: nothing to send). */
static ProtobufCMessageUnknownField *gb_request_server_encode(apr_pool_t *p,
                                                              server_rec *s)
{
    ProtobufCMessageUnknownField *uf = apr_pcalloc(p, sizeof(*uf));

    gb_encode_fixed(p, &gb_request_server_build(p, s)->base, uf);
    return uf;
}

void gb_request_child_init(apr_pool_t *pchild, server_rec *s)
{
    for (; s; s = s->next) {
        gb_srv_conf *sc = ap_get_module_config(s->module_config,
                                               &gobridge_module);
        sc->facts = gb_request_server_encode(pchild, s);
    }
}

/* The server's constant part; made in p if child_init has not run for s
 * (a request in a process that was not forked as a child, as in tests). */
static const ProtobufCMessageUnknownField *
gb_request_server_facts(server_rec *s, apr_pool_t *p)
{
    const gb_srv_conf *sc = ap_get_module_config(s->module_config,
                                                 &gobridge_module);

    return sc->facts ? sc->facts : gb_request_server_encode(p, s);
}
