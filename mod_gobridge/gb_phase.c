/* gb_phase.c: the generic phase harness (like mod_lua's) and the hook
 * wrappers. See gb_phase.h for the rules. */
#include "gb_private.h"
#include "gb_phase.h"
#include "gb_config.h"
#include "gb_mutate.h"
#include "gb_request.h"
#include "gb_response.h"
#include "gb_rpc.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

typedef struct {
    const char *name;           /* as in log lines and pool tags */
    Gobridge__V1__Phase wire;
    int run_all;                /* RUN_ALL hook: OK lets the next run */
} gb_phase_info;

static const gb_phase_info gb_phase_infos[GB_PHASE_COUNT] = {
    {"post_read_request", GOBRIDGE__V1__PHASE__PHASE_POST_READ_REQUEST, 1},
    {"translate_name", GOBRIDGE__V1__PHASE__PHASE_TRANSLATE_NAME, 0},
    {"map_to_storage", GOBRIDGE__V1__PHASE__PHASE_MAP_TO_STORAGE, 0},
    {"header_parser", GOBRIDGE__V1__PHASE__PHASE_HEADER_PARSER, 1},
    {"access", GOBRIDGE__V1__PHASE__PHASE_ACCESS, 0},
    {"authn", GOBRIDGE__V1__PHASE__PHASE_AUTHN, 0},
    {"authz", GOBRIDGE__V1__PHASE__PHASE_AUTHZ, 0},
    {"type_checker", GOBRIDGE__V1__PHASE__PHASE_TYPE_CHECKER, 0},
    {"fixups", GOBRIDGE__V1__PHASE__PHASE_FIXUPS, 1},
    {"log", GOBRIDGE__V1__PHASE__PHASE_LOG, 1},
};

/* r->request_config: what one phase leaves for a later one. */
typedef struct {
    const char *redirect;       /* internal redirect target */
    const char *content_plugin; /* FIELD_GOBRIDGE_HANDLER: a declared
                                 * plugin that serves the content */
    apr_array_header_t *filters;    /* gb_phase_filter: FIELD_ADD_*_FILTER */
    const char *no_file_walk;   /* GoBridgeFileWalk Off: r->uri it was
                                 * read for */
} gb_phase_req;

static gb_phase_req *gb_phase_req_get(request_rec *r)
{
    gb_phase_req *pr = ap_get_module_config(r->request_config,
                                            &gobridge_module);
    if (!pr) {
        pr = apr_pcalloc(r->pool, sizeof(*pr));
        ap_set_module_config(r->request_config, &gobridge_module, pr);
    }
    return pr;
}

const char *gb_phase_content_plugin(request_rec *r)
{
    gb_phase_req *pr = ap_get_module_config(r->request_config,
                                            &gobridge_module);
    return pr ? pr->content_plugin : NULL;
}

const apr_array_header_t *gb_phase_added_filters(request_rec *r)
{
    gb_phase_req *pr = ap_get_module_config(r->request_config,
                                            &gobridge_module);
    return pr ? pr->filters : NULL;
}

#define GB_FIELD(x) GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_##x

static char *gb_dup(request_rec *r, ProtobufCBinaryData b)
{
    return b.len ? gb_pb_strdup(r->pool, b) : NULL;
}

/* FIELD_ALLOWED_METHODS: what ap_allow_methods(r, 1, ...) does, and the
 * registered methods in r->allowed as well (httpd reads either). */
static void gb_phase_set_allowed(request_rec *r, ProtobufCBinaryData b)
{
    char *s = gb_dup(r, b), *tok, *last;

    r->allowed = 0;
    if (!r->allowed_methods) {
        r->allowed_methods = ap_make_method_list(r->pool, 2);
    }
    ap_clear_method_list(r->allowed_methods);
    if (!s) {
        return;
    }
    for (tok = apr_strtok(s, ", ", &last); tok;
         tok = apr_strtok(NULL, ", ", &last)) {
        int num = ap_method_number_of(tok);
        ap_method_list_add(r->allowed_methods, tok);
        if (num != M_INVALID) {
            r->allowed |= (AP_METHOD_BIT << num);
        }
        else {
            /* make_allow lists the extension methods only with this bit */
            r->allowed_methods->method_mask |= (AP_METHOD_BIT << M_INVALID);
        }
    }
}

/* FIELD_MTIME: ap_update_mtime (r->mtime only moves forward, as when
 * httpd combines the mtimes a response depends on), then Last-Modified
 * from it, never later than the request time (ap_set_last_modified). */
static void gb_phase_set_mtime(request_rec *r, ProtobufCBinaryData b)
{
    char *s = gb_dup(r, b);
    apr_int64_t us = s ? apr_atoi64(s) : 0;

    if (us > 0) {
        ap_update_mtime(r, (apr_time_t)us);
        ap_set_last_modified(r);
    }
}

static void gb_phase_set_languages(request_rec *r, ProtobufCBinaryData b)
{
    char *s = gb_dup(r, b), *tok, *last;

    r->content_languages = NULL;
    if (!s) {
        return;
    }
    r->content_languages = apr_array_make(r->pool, 2, sizeof(const char *));
    for (tok = apr_strtok(s, ", ", &last); tok;
         tok = apr_strtok(NULL, ", ", &last)) {
        APR_ARRAY_PUSH(r->content_languages, const char *) = tok;
    }
}

/* Kept for the insert_filter hook, which adds them once the
 * configuration of the request's final location is known. */
static void gb_phase_add_filter(request_rec *r,
                                const Gobridge__V1__FieldUpdate *f)
{
    gb_phase_req *pr = gb_phase_req_get(r);
    gb_phase_filter *pf;

    if (!pr->filters) {
        pr->filters = apr_array_make(r->pool, 2, sizeof(gb_phase_filter));
    }
    pf = apr_array_push(pr->filters);
    pf->name = gb_dup(r, f->value);
    pf->output = f->field == GB_FIELD(ADD_OUTPUT_FILTER)
                 || f->field == GB_FIELD(ADD_GOBRIDGE_OUTPUT_FILTER);
    pf->gobridge = f->field == GB_FIELD(ADD_GOBRIDGE_OUTPUT_FILTER)
                   || f->field == GB_FIELD(ADD_GOBRIDGE_INPUT_FILTER);
}

/* The name a field update gives a plugin or a filter is one httpd knows:
 * NULL, or why not. Checked before anything of the answer is applied. */
static const char *gb_phase_check_name(request_rec *r, apr_pool_t *tmp,
                                       const Gobridge__V1__FieldUpdate *f)
{
    const char *name;

    switch (f->field) {
    case GB_FIELD(GOBRIDGE_HANDLER):
    case GB_FIELD(ADD_GOBRIDGE_OUTPUT_FILTER):
    case GB_FIELD(ADD_GOBRIDGE_INPUT_FILTER):
    case GB_FIELD(ADD_OUTPUT_FILTER):
    case GB_FIELD(ADD_INPUT_FILTER):
        name = gb_pb_strdup(tmp, f->value);
        break;
    default:
        return NULL;    /* names nothing */
    }
    switch (f->field) {
    case GB_FIELD(GOBRIDGE_HANDLER):
    case GB_FIELD(ADD_GOBRIDGE_OUTPUT_FILTER):
    case GB_FIELD(ADD_GOBRIDGE_INPUT_FILTER):
        if (gb_config_plugin(r->server, name)) {
            return NULL;
        }
        return apr_psprintf(tmp, "%s names plugin '%s', which no "
                            "GoBridgePlugin line declares",
                            f->field == GB_FIELD(GOBRIDGE_HANDLER)
                            ? "SetGoBridgeHandler" : "AddGoBridge*Filter",
                            name);
    case GB_FIELD(ADD_OUTPUT_FILTER):
        return ap_get_output_filter_handle(name) ? NULL
               : apr_psprintf(tmp, "AddOutputFilter names '%s', which no "
                              "loaded module registered as an output "
                              "filter", name);
    case GB_FIELD(ADD_INPUT_FILTER):
        return ap_get_input_filter_handle(name) ? NULL
               : apr_psprintf(tmp, "AddInputFilter names '%s', which no "
                              "loaded module registered as an input "
                              "filter", name);
    default:
        return NULL;
    }
}

/* PhaseResponse.reply, sent the way a content handler sends a response
 * (httpd's protocol filters are in place from the start of the request),
 * so the phase can return DONE: the status, the headers as the answer left
 * them and the body, nothing of httpd's error document. */
static int gb_phase_reply(request_rec *r, gb_phase_id id, const char *plugin,
                          const Gobridge__V1__PhaseReply *rep)
{
    conn_rec *c = r->connection;
    apr_bucket_brigade *bb;
    apr_status_t rv;
    int rc;

    if ((rc = ap_discard_request_body(r)) != OK) {
        return rc;
    }
    if (id == GB_PHASE_POST_READ_REQUEST) {
        /* httpd closes the connection after a request that ends while
         * it is being read: the answer must say so, or a client reuses
         * the connection and finds it gone. */
        c->keepalive = AP_CONN_CLOSE;
    }
    r->status = rep->status;
    if (rep->content_type.len) {
        ap_set_content_type(r, gb_dup(r, rep->content_type));
    }
    ap_set_content_length(r, (apr_off_t)rep->body.len);
    bb = apr_brigade_create(r->pool, c->bucket_alloc);
    if (rep->body.len) {
        /* A copy: the answer lives in the phase's scratch pool, which
         * goes before httpd may be done with the body. */
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(
            (const char *)rep->body.data, rep->body.len, NULL,
            c->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(c->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS) {
        /* The client went away: nothing to tell it, and nothing wrong. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, GB_APLOGNO(0353)
                      "%s: sending the phase's reply failed", plugin);
    }
    return DONE;
}

/* Applies checked field updates. A new filename after translate_name is
 * stat()ed again, so later phases and the default handler see the file it
 * names, not the one httpd mapped first. */
static void gb_phase_apply_fields(request_rec *r, gb_phase_id id,
                                  const Gobridge__V1__PhaseResponse *m)
{
    size_t i;
    int restat = 0;

    for (i = 0; i < m->n_fields; i++) {
        const Gobridge__V1__FieldUpdate *f = m->fields[i];

        switch (f->field) {
        case GB_FIELD(FILENAME):
            r->filename = gb_dup(r, f->value);
            restat = id > GB_PHASE_TRANSLATE_NAME;
            break;
        case GB_FIELD(CANONICAL_FILENAME):
            r->canonical_filename = gb_dup(r, f->value);
            break;
        case GB_FIELD(URI):
            r->uri = gb_dup(r, f->value);
            break;
        case GB_FIELD(PATH_INFO):
            r->path_info = f->value.len ? gb_dup(r, f->value) : "";
            break;
        case GB_FIELD(ARGS):
            r->args = gb_dup(r, f->value);
            break;
        case GB_FIELD(HANDLER):
            r->handler = gb_dup(r, f->value);
            break;
        case GB_FIELD(CONTENT_TYPE):
            ap_set_content_type(r, gb_dup(r, f->value));
            break;
        case GB_FIELD(CONTENT_ENCODING):
            r->content_encoding = gb_dup(r, f->value);
            break;
        case GB_FIELD(CONTENT_LANGUAGES):
            gb_phase_set_languages(r, f->value);
            break;
        case GB_FIELD(USER):
            r->user = gb_dup(r, f->value);
            break;
        case GB_FIELD(AUTH_TYPE):
            r->ap_auth_type = gb_dup(r, f->value);
            break;
        case GB_FIELD(STATUS_LINE):
            r->status_line = gb_dup(r, f->value);
            break;
        case GB_FIELD(NO_CACHE):
            r->no_cache = f->value.data[0] == '1';
            break;
        case GB_FIELD(ALLOWED_METHODS):
            gb_phase_set_allowed(r, f->value);
            break;
        case GB_FIELD(MTIME):
            gb_phase_set_mtime(r, f->value);
            break;
        case GB_FIELD(GOBRIDGE_HANDLER):
            /* Declared: checked with the rest of the answer. */
            r->handler = GB_HANDLER_NAME;
            gb_phase_req_get(r)->content_plugin = gb_dup(r, f->value);
            break;
        case GB_FIELD(ADD_OUTPUT_FILTER):
        case GB_FIELD(ADD_INPUT_FILTER):
        case GB_FIELD(ADD_GOBRIDGE_OUTPUT_FILTER):
        case GB_FIELD(ADD_GOBRIDGE_INPUT_FILTER):
            gb_phase_add_filter(r, f);  /* checked with the answer, too */
            break;
        default:
            break;      /* refused by gb_mutate_check */
        }
    }
    if (restat && r->filename) {
        apr_status_t rv = apr_stat(&r->finfo, r->filename, APR_FINFO_MIN,
                                   r->pool);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, GB_APLOGNO(0207)
                          "%s: new filename %s does not exist (yet)",
                          __func__, r->filename);
            r->finfo.filetype = APR_NOFILE;
        }
    }
}

static void gb_phase_apply_logs(request_rec *r, apr_pool_t *tmp,
                                const char *plugin,
                                const Gobridge__V1__PhaseResponse *m)
{
    size_t i;
    int level;

    for (i = 0; i < m->n_logs; i++) {
        if (!gb_response_log_level(m->logs[i]->level, &level)) {
            continue;   /* refused by gb_mutate_check */
        }
        /* Escaped: a plugin must not forge log lines. */
        ap_log_rerror(APLOG_MARK, level, 0, r, GB_APLOGNO(0204) "%s: %s",
                      plugin, ap_escape_logitem(tmp, gb_pb_strdup(
                          tmp, m->logs[i]->message)));
    }
}

/* One Phase call to one plugin: the hook's return code for this plugin. */
static int gb_phase_call(request_rec *r, apr_pool_t *tmp, gb_phase_id id,
                         const char *plugin)
{
    const gb_phase_info *info = &gb_phase_infos[id];
    Gobridge__V1__PhaseRequest req = GOBRIDGE__V1__PHASE_REQUEST__INIT;
    Gobridge__V1__PhaseResponse *m;
    gb_dir_conf *d = gb_config_rget(r);
    apr_interval_time_t timeout = gb_config_timeout(d);
    gb_mutate_tables tables;
    apr_array_header_t *dropped;
    gb_rpc_result res;
    const char *why;
    int i;

    if (id == GB_PHASE_LOG && timeout > GB_PHASE_LOG_TIMEOUT) {
        timeout = GB_PHASE_LOG_TIMEOUT;
    }
    req.phase = info->wire;
    req.request = gb_request_build(r, tmp, plugin, d);

    if (gb_rpc_unary(r, d, plugin, GB_STATS_PHASE(id), tmp,
                     GB_METHOD_PHASE, &req.base,
                     &gobridge__v1__phase_response__descriptor, timeout,
                     &res, (ProtobufCMessage **)&m) != GB_RPC_OK) {
        if (!res.connected) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, res.rv, r, GB_APLOGNO(0200)
                          "%s: %s phase: cannot connect to %s; is gobridged "
                          "running and the plugin healthy?", plugin,
                          info->name, gb_rpc_socket(r, plugin));
        }
        else if (res.rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, res.rv, r, GB_APLOGNO(0201)
                          "%s: %s phase: the call failed%s", plugin,
                          info->name, res.outcome == GB_RPC_TIMEOUT
                          ? apr_psprintf(tmp, ": no answer within %"
                                         APR_TIME_T_FMT " ms",
                                         apr_time_as_msec(timeout))
                          : "");
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0202)
                          "%s: %s phase: plugin answered grpc-status %d "
                          "(%s)%s", plugin, info->name, res.grpc_status,
                          res.grpc_message
                          ? ap_escape_logitem(tmp, res.grpc_message)
                          : "no message",
                          res.grpc_status == GB_GRPC_UNIMPLEMENTED
                          ? "; does the plugin implement this phase?" : "");
        }
        return gb_rpc_http_status(r, res.outcome);
    }
    if (gb_mutate_check(tmp, m, id != GB_PHASE_LOG, &why) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_EINVAL, r, GB_APLOGNO(0203)
                      "%s: %s phase: invalid answer refused: %s", plugin,
                      info->name, why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (i = 0; i < (int)m->n_fields; i++) {
        const Gobridge__V1__FieldUpdate *f = m->fields[i];

        if ((why = gb_phase_check_name(r, tmp, f)) != NULL) {
            if (f->field == GB_FIELD(GOBRIDGE_HANDLER)) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0347)
                              "%s: %s phase: %s; refusing the request",
                              plugin, info->name, why);
            }
            else {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0352)
                              "%s: %s phase: %s; refusing the request",
                              plugin, info->name, why);
            }
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    gb_phase_apply_logs(r, tmp, plugin, m);
    tables.headers_in = r->headers_in;
    tables.headers_out = r->headers_out;
    tables.err_headers_out = r->err_headers_out;
    tables.notes = r->notes;
    tables.subprocess_env = r->subprocess_env;
    tables.conn_notes = r->connection->notes;
    tables.conn_pool = r->connection->pool;
    dropped = apr_array_make(tmp, 1, sizeof(const char *));
    gb_mutate_apply_tables(r->pool, m, &tables, dropped);
    for (i = 0; i < dropped->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GB_APLOGNO(0205)
                      "%s: %s phase: dropped response header '%s' (httpd "
                      "owns it)", plugin, info->name,
                      ap_escape_logitem(tmp, APR_ARRAY_IDX(dropped, i,
                                                           const char *)));
    }
    gb_phase_apply_fields(r, id, m);
    if (m->internal_redirect.len) {
        gb_phase_req_get(r)->redirect = gb_pb_strdup(r->pool,
                                                     m->internal_redirect);
    }

    switch (m->result) {
    case GOBRIDGE__V1__RESULT__RESULT_OK:
        if (id == GB_PHASE_AUTHN && !r->user) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0206)
                          "%s: authn phase: OK without setting a user; "
                          "refusing the request", plugin);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        return OK;
    case GOBRIDGE__V1__RESULT__RESULT_DECLINED:
        return DECLINED;
    case GOBRIDGE__V1__RESULT__RESULT_DONE:
        if (!m->reply) {
            return DONE;
        }
        if (r->main) {
            /* A lookup sends nothing: its status says what it would be. */
            return m->reply->status < 300 ? OK : m->reply->status;
        }
        return gb_phase_reply(r, id, plugin, m->reply);
    default:
        return m->http_status;      /* 300..599, checked */
    }
}

/* Runs every plugin configured for id with the hook's chaining rule. */
static int gb_phase_run(request_rec *r, gb_phase_id id)
{
    const apr_array_header_t *names = gb_config_phase_plugins(r, id);
    const gb_phase_info *info = &gb_phase_infos[id];
    apr_pool_t *tmp;
    int i, rc = DECLINED;

    if (!names) {
        return DECLINED;
    }
    apr_pool_create(&tmp, r->pool);
    apr_pool_tag(tmp, "gobridge (phase)");
    for (i = 0; i < names->nelts; i++) {
        const char *plugin = APR_ARRAY_IDX(names, i, const char *);
        int prc = gb_phase_call(r, tmp, id, plugin);

        apr_pool_clear(tmp);
        if (prc == DECLINED) {
            continue;
        }
        if (prc == OK) {
            rc = OK;
            if (info->run_all) {
                continue;
            }
            break;
        }
        rc = prc;               /* DONE or an HTTP status ends the request */
        break;
    }
    apr_pool_destroy(tmp);
    return rc;
}

int gb_phase_post_read_request(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_POST_READ_REQUEST);
}

int gb_phase_translate_name(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_TRANSLATE_NAME);
}

int gb_phase_map_to_storage(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_MAP_TO_STORAGE);
}

int gb_phase_note_file_walk(request_rec *r)
{
    const gb_dir_conf *d = ap_get_module_config(r->per_dir_config,
                                                &gobridge_module);

    if (d && !gb_config_file_walk(d)) {
        gb_phase_req_get(r)->no_file_walk = apr_pstrdup(r->pool, r->uri);
    }
    return DECLINED;
}

int gb_phase_skip_file_walk(request_rec *r)
{
    gb_phase_req *pr = ap_get_module_config(r->request_config,
                                            &gobridge_module);
    int rv;

    /* A URL rewritten since (mod_rewrite) may have become a file: walk. */
    if (!pr || !pr->no_file_walk || !r->uri
        || strcmp(pr->no_file_walk, r->uri) != 0) {
        return DECLINED;
    }
    /* The map_to_storage plugins still run; then no one else does. */
    rv = gb_phase_run(r, GB_PHASE_MAP_TO_STORAGE);
    if (rv == DECLINED) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r,
                      "gobridge: GoBridgeFileWalk Off: no filesystem walk "
                      "for %s", r->uri);
        return OK;
    }
    return rv;
}

int gb_phase_header_parser(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_HEADER_PARSER);
}

int gb_phase_access(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_ACCESS);
}

int gb_phase_authn(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_AUTHN);
}

int gb_phase_authz(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_AUTHZ);
}

int gb_phase_type_checker(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_TYPE_CHECKER);
}

int gb_phase_fixups(request_rec *r)
{
    return gb_phase_run(r, GB_PHASE_FIXUPS);
}

/* Never changes the response, and never stops the other log hooks
 * (mod_log_config's among them): whatever happens, DECLINED. */
int gb_phase_log(request_rec *r)
{
    (void)gb_phase_run(r, GB_PHASE_LOG);
    return DECLINED;
}

int gb_phase_redirect_handler(request_rec *r)
{
    gb_phase_req *pr = ap_get_module_config(r->request_config,
                                            &gobridge_module);

    if (!pr || !pr->redirect) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0208)
                  "%s: internal redirect of %s to %s", __func__, r->uri,
                  pr->redirect);
    ap_internal_redirect(pr->redirect, r);
    return OK;
}
