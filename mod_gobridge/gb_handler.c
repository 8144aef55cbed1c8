/* gb_handler.c: the content handler as one gRPC Handle stream.
 *
 * Memory stays bounded for any response size: each HandleResponse is
 * decoded into a subpool cleared every turn, and body chunks go to the
 * output filters as transient buckets (filters that keep data set it aside).
 *
 * Request body: the first message carries what the client has already
 * sent, up to 64 KiB, read without blocking (never when the client waits
 * for "100 Continue": then only a plugin that asks for the body makes httpd
 * send it). The rest is read blocking, on the plugin's read_body requests,
 * through the input filters, so LimitRequestBody and mod_reqtimeout apply.
 * The plugin may instead have the rest discarded (discard_body).
 *
 * The module never half-closes the stream: the plugin may ask questions
 * (sub_request) after the body ended, and each answer is a HandleRequest.
 * grpc-go ends such a stream with RST_STREAM NO_ERROR after its trailers,
 * which costs nothing and leaves the connection reusable.
 *
 * Sub-requests live in their own pools under r->pool and are destroyed as
 * soon as the answer is on its way, so a plugin that looks up thousands of
 * URIs in one request holds only one sub-request at a time.
 */
#include "gb_private.h"
#include "gb_handler.h"
#include "gb_call.h"
#include "gb_config.h"
#include "gb_mutate.h"
#include "gb_phase.h"
#include "gb_request.h"
#include "gb_response.h"
#include "gb_rpc.h"

#include <apr_buckets.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

/* "keep going" from the loop helpers; DECLINED is -1, so not that. */
#define GB_GO_ON         (-1000)
/* The plugin never saw the call: open it again on a new connection. */
#define GB_RESEND        (-1001)

#define GB_PREFETCH_MAX  (64 * 1024)
/* The SDK asks for at most 256 KiB; a greedy plugin gets no more than 1 MiB
 * per message, well under grpc-go's default 4 MiB receive limit. */
#define GB_READ_BODY_MAX (1024 * 1024)

/* While the plugin is silent, how often to look whether the client is
 * still there: mod_http2 marks a stream's connection aborted when the
 * client resets the stream, and the plugin should hear of it then (its
 * context cancelled), not at GoBridgeTimeout. Costs nothing while messages
 * flow: the wait ends as soon as one comes. (An HTTP/1.1 client that
 * closes its connection is not looked for: a half-closed connection may
 * still want its answer, and httpd too learns of a gone client only when
 * a write fails.) */
#define GB_ABORT_CHECK_EVERY  apr_time_from_msec(200)

/* Sub-request questions: a target as long as httpd's default
 * LimitRequestLine allows, a method token, a bounded answer. */
#define GB_SUBREQ_TARGET_MAX  8190
#define GB_SUBREQ_METHOD_MAX  64
#define GB_SUBREQ_HEADERS_MAX 100

typedef struct {
    request_rec *r;
    const char *plugin;
    gb_dir_conf *d;
    gb_call *call;
    apr_bucket_brigade *out;
    apr_bucket_brigade *in;
    apr_interval_time_t timeout;
    int committed;          /* a head or body went to httpd: no status now */
    int body_eof_read;      /* the input filters returned EOS */
    int body_eof_sent;      /* we told the plugin body_eof */
    int clean;              /* trailers OK: the connection may be reused */
    int passed;             /* body or a flush went to the output filters */
    int body_taken;         /* body read past the prefetch: a declining
                             * plugin cannot hand over to the next one */
    int attempt;            /* times the call was opened before this one:
                             * a failed call may be opened again
                             * (GB_RESEND, gb_rpc_resendable) */
    const char *redirect;   /* internal_redirect, in r->pool */
    const char *sf_path;    /* send_file, in r->pool */
    apr_off_t sf_offset;
    apr_off_t sf_length;    /* 0: to the end of the file */
} gb_handle_ctx;

int gb_handler_fixups(request_rec *r)
{
    gb_dir_conf *d = gb_config_rget(r);

    if (gb_config_handler(d)) {     /* GoBridgePhases may switch it off */
        r->handler = GB_HANDLER_NAME;
    }
    return DECLINED;
}

/* Reads up to max bytes of request body into a p-allocated buffer. With
 * APR_BLOCK_READ returns as soon as some data (or EOS) arrived. */
static apr_status_t gb_read_body(gb_handle_ctx *ctx, apr_pool_t *p,
                                 apr_size_t max, apr_read_type_e block,
                                 char **buf, apr_size_t *len)
{
    request_rec *r = ctx->r;
    char *b = apr_palloc(p, max ? max : 1);
    apr_size_t got = 0;
    apr_status_t rv = APR_SUCCESS;

    while (got < max && !ctx->body_eof_read) {
        apr_bucket *e;

        rv = ap_get_brigade(r->input_filters, ctx->in, AP_MODE_READBYTES,
                            block, max - got);
        if (block == APR_NONBLOCK_READ && APR_STATUS_IS_EAGAIN(rv)) {
            rv = APR_SUCCESS;
            break;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        for (e = APR_BRIGADE_FIRST(ctx->in);
             e != APR_BRIGADE_SENTINEL(ctx->in) && rv == APR_SUCCESS;
             e = APR_BUCKET_NEXT(e)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(e)) {
                ctx->body_eof_read = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(e)) {
                continue;
            }
            rv = apr_bucket_read(e, &data, &n, APR_BLOCK_READ);
            if (rv == APR_SUCCESS && n > max - got) {
                rv = APR_EGENERAL;  /* a filter ignored readbytes */
            }
            if (rv == APR_SUCCESS) {
                memcpy(b + got, data, n);
                got += n;
            }
        }
        apr_brigade_cleanup(ctx->in);
        if (rv != APR_SUCCESS || (block == APR_BLOCK_READ && got > 0)) {
            break;
        }
        if (block == APR_NONBLOCK_READ && got == 0 && !ctx->body_eof_read) {
            break;          /* an empty non-blocking read: nothing there */
        }
    }
    *buf = b;
    *len = got;
    return rv;
}

/* After something reached httpd, a failure must not turn into a different
 * response: end it with an error bucket, as mod_proxy does, so the client
 * sees a truncated response (no last chunk, connection closed). */
static void gb_abort_response(gb_handle_ctx *ctx)
{
    request_rec *r = ctx->r;
    conn_rec *c = r->connection;

    r->no_cache = 1;
    if (r->main) {
        r->main->no_cache = 1;
    }
    c->keepalive = AP_CONN_CLOSE;
    apr_brigade_cleanup(ctx->out);
    APR_BRIGADE_INSERT_TAIL(ctx->out, ap_bucket_error_create(
        HTTP_BAD_GATEWAY, NULL, r->pool, c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_eos_create(c->bucket_alloc));
    ap_pass_brigade(r->output_filters, ctx->out);
    apr_brigade_cleanup(ctx->out);
}

/* Ends a failed call: a status before anything was committed, an aborted
 * response after. */
static int gb_fail(gb_handle_ctx *ctx, int status)
{
    gb_call_cancel(ctx->call);
    if (ctx->committed) {
        gb_abort_response(ctx);
        return OK;
    }
    return status;
}

/* gb_fail for a failed call, by gb_rpc's table. */
static int gb_fail_rpc(gb_handle_ctx *ctx, gb_rpc_outcome outcome)
{
    gb_rpc_note_failure(ctx->call, outcome);
    return gb_fail(ctx, gb_rpc_http_status(ctx->r, outcome));
}

static int gb_protocol_error(gb_handle_ctx *ctx, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_EGENERAL, ctx->r,
                  GB_APLOGNO(0030) "%s: protocol error from plugin: %s",
                  ctx->plugin, why);
    return gb_fail_rpc(ctx, GB_RPC_BROKEN);
}

/* Returns 0 on an unknown level (a protocol error). */
static int gb_apply_logs(gb_handle_ctx *ctx, apr_pool_t *mp,
                         const Gobridge__V1__HandleResponse *m)
{
    size_t i;
    int level;

    for (i = 0; i < m->n_logs; i++) {
        if (!gb_response_log_level(m->logs[i]->level, &level)) {
            return 0;
        }
        /* The plugin's text is escaped: it must not forge log lines. */
        ap_log_rerror(APLOG_MARK, level, 0, ctx->r, GB_APLOGNO(0031)
                      "%s: %s", ctx->plugin,
                      ap_escape_logitem(mp, gb_pb_strdup(mp,
                                                         m->logs[i]->message)));
    }
    return 1;
}

/* SetNote/SetEnv from the handler: notes and subprocess_env only, checked
 * as a phase's changes are, all or none. Returns 0 with *why on a bad
 * message (a protocol error). */
static int gb_apply_notes_env(gb_handle_ctx *ctx, apr_pool_t *mp,
                              const Gobridge__V1__HandleResponse *m,
                              const char **why)
{
    Gobridge__V1__PhaseResponse pr = GOBRIDGE__V1__PHASE_RESPONSE__INIT;
    gb_mutate_tables t;

    if (gb_mutate_check_mutations(mp, m->n_mutations, m->mutations,
                                  GB_MUTATE_TABLES_NOTES_ENV, "a handler",
                                  why) != APR_SUCCESS) {
        return 0;
    }
    pr.n_mutations = m->n_mutations;
    pr.mutations = m->mutations;
    memset(&t, 0, sizeof(t));
    t.notes = ctx->r->notes;
    t.subprocess_env = ctx->r->subprocess_env;
    gb_mutate_apply_tables(ctx->r->pool, &pr, &t,
                           apr_array_make(mp, 1, sizeof(const char *)));
    return 1;
}

static apr_status_t gb_apply_head(gb_handle_ctx *ctx, apr_pool_t *mp,
                                  const Gobridge__V1__ResponseHead *h,
                                  const char **why)
{
    request_rec *r = ctx->r;
    gb_response_head out;
    apr_status_t rv;
    int i;

    rv = gb_response_apply_head(r->pool, h, r->headers_out,
                                r->err_headers_out, &out, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < out.dropped->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GB_APLOGNO(0032)
                      "%s: dropped hop-by-hop response header '%s'",
                      ctx->plugin,
                      ap_escape_logitem(mp, APR_ARRAY_IDX(out.dropped, i,
                                                          const char *)));
    }
    r->status = out.status;
    if (out.content_type) {
        ap_set_content_type(r, out.content_type);
    }
    return APR_SUCCESS;
}

/* Returns GB_GO_ON, or the handler's result (client gone: OK). */
static int gb_pass_body(gb_handle_ctx *ctx,
                        const Gobridge__V1__HandleResponse *m)
{
    request_rec *r = ctx->r;
    conn_rec *c = r->connection;
    apr_status_t rv;

    if (m->body.len) {
        APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_transient_create(
            (const char *)m->body.data, m->body.len, c->bucket_alloc));
    }
    if (m->flush) {
        APR_BRIGADE_INSERT_TAIL(ctx->out,
                                apr_bucket_flush_create(c->bucket_alloc));
    }
    ctx->committed = 1;
    ctx->passed = 1;
    rv = ap_pass_brigade(r->output_filters, ctx->out);
    apr_brigade_cleanup(ctx->out);
    if (rv != APR_SUCCESS || c->aborted) {
        /* Cancelling the stream cancels the plugin's context. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, GB_APLOGNO(0033)
                      "%s: client went away; cancelling the call",
                      ctx->plugin);
        gb_call_cancel(ctx->call);
        return c->aborted ? OK : AP_FILTER_ERROR;
    }
    return GB_GO_ON;
}

/* A message that ends the response by itself: body and a successful
 * finish, and nothing that must happen in between. */
static int gb_is_last(const Gobridge__V1__HandleResponse *m)
{
    return m->finish && !m->read_body && !m->internal_redirect.len
           && !m->send_file
           && (m->finish->result == GOBRIDGE__V1__RESULT__RESULT_OK
               || m->finish->result == GOBRIDGE__V1__RESULT__RESULT_DONE);
}

/* Passes the last body with EOS, after the call ended (gb_finish). */
static int gb_pass_last(gb_handle_ctx *ctx,
                        const Gobridge__V1__HandleResponse *m)
{
    request_rec *r = ctx->r;
    conn_rec *c = r->connection;
    apr_status_t rv;

    if (m->body.len) {
        APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_transient_create(
            (const char *)m->body.data, m->body.len, c->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_eos_create(c->bucket_alloc));
    ctx->committed = 1;
    ctx->passed = 1;
    rv = ap_pass_brigade(r->output_filters, ctx->out);
    apr_brigade_cleanup(ctx->out);
    if (rv != APR_SUCCESS || c->aborted) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, GB_APLOGNO(0044)
                      "%s: client went away", ctx->plugin);
        return c->aborted ? OK : AP_FILTER_ERROR;
    }
    return OK;
}

/* Answers read_body: returns GB_GO_ON, or the handler's result. */
static int gb_send_body(gb_handle_ctx *ctx, apr_pool_t *mp, apr_size_t want)
{
    Gobridge__V1__HandleRequest req = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    apr_status_t rv;
    char *buf;
    apr_size_t len;

    if (ctx->body_eof_sent) {
        return gb_protocol_error(ctx, "read_body after the request body "
                                      "ended");
    }
    ctx->body_taken = 1;
    rv = gb_read_body(ctx, mp, want > GB_READ_BODY_MAX ? GB_READ_BODY_MAX
                                                       : want,
                      APR_BLOCK_READ, &buf, &len);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, ctx->r, GB_APLOGNO(0034)
                      "%s: reading the request body failed", ctx->plugin);
        if (ctx->committed) {
            return gb_fail(ctx, HTTP_BAD_REQUEST);
        }
        gb_call_cancel(ctx->call);
        return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
    }
    req.body = gb_pb_bytesn(buf, len);
    req.body_eof = ctx->body_eof_read;
    rv = gb_call_send(ctx->call, &req.base, 0, ctx->timeout);
    if (rv == APR_EOF) {
        /* The plugin ended the call first; its answer is still to be read. */
        ctx->body_eof_sent = 1;
        return GB_GO_ON;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, ctx->r, GB_APLOGNO(0035)
                      "%s: sending the request body failed", ctx->plugin);
        return gb_fail_rpc(ctx, gb_rpc_failed(rv));
    }
    ctx->body_eof_sent = req.body_eof;
    return GB_GO_ON;
}

/* discard_body: the plugin does not want the rest of the request body.
 * Reading it away (rather than leaving it unread) keeps the connection
 * usable for the client's next request. Needs no answer: a later read_body
 * gets an empty chunk with body_eof. */
static void gb_discard_body(gb_handle_ctx *ctx)
{
    request_rec *r = ctx->r;
    int rc;

    if (ctx->body_eof_read) {
        return;
    }
    ctx->body_taken = 1;
    rc = ap_discard_request_body(r);
    ctx->body_eof_read = 1;
    if (rc != OK) {
        /* The client's bytes are in doubt: the connection cannot carry
         * another request, but the response itself can still be sent. */
        r->connection->keepalive = AP_CONN_CLOSE;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GB_APLOGNO(0342)
                      "%s: discarding the request body failed (status %d); "
                      "closing the connection after the response",
                      ctx->plugin, rc);
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0343)
                  "%s: discarded the rest of the request body", ctx->plugin);
}

/* Why the module will not look q up, or NULL. The plugin gets the reason
 * back; a sub-request is never made from a target we did not check. */
static const char *gb_subreq_refusal(const request_rec *r,
                                     const Gobridge__V1__SubRequest *q)
{
    if (q->target.len > GB_SUBREQ_TARGET_MAX) {
        return "target longer than 8190 bytes";
    }
    if (q->kind == GOBRIDGE__V1__SUB_REQUEST__KIND__KIND_URI) {
        if (!gb_mutate_valid_redirect(q->target)) {
            return "not a local URI: it must start with '/' and hold no "
                   "control character, space or '#'";
        }
        if (q->method.len > GB_SUBREQ_METHOD_MAX
            || (q->method.len
                && !gb_response_valid_name(q->method.data, q->method.len))) {
            return "the method is not a token";
        }
        return NULL;
    }
    if (!gb_mutate_valid_field(GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_FILENAME,
                               q->target.data, q->target.len)) {
        return "not an absolute path without control characters";
    }
    if (q->method.len) {
        return "a file lookup takes no method";
    }
    if (!r->filename) {
        /* ap_sub_req_lookup_file starts from r->filename's directory. */
        return "this request maps to no file name, which a file lookup "
               "starts from";
    }
    return NULL;
}

/* Fills res with what the plugin may read of rr. Strings point into rr,
 * so res must be sent before rr is destroyed. */
static void gb_subreq_describe(apr_pool_t *mp, const request_rec *rr,
                               int with_headers,
                               Gobridge__V1__SubRequestResult *res,
                               Gobridge__V1__FileInfo *fi)
{
    res->uri = gb_pb_bytes(rr->uri);
    res->filename = gb_pb_bytes(rr->filename);
    res->canonical_filename = gb_pb_bytes(rr->canonical_filename);
    res->path_info = gb_pb_bytes(rr->path_info);
    res->args = gb_pb_bytes(rr->args);
    res->content_type = gb_pb_bytes(rr->content_type);
    res->content_encoding = gb_pb_bytes(rr->content_encoding);
    res->handler = gb_pb_bytes(rr->handler);
    if (rr->filename && rr->finfo.filetype != APR_NOFILE) {
        fi->type = rr->finfo.filetype == APR_REG
                   ? GOBRIDGE__V1__FILE_INFO__TYPE__TYPE_REGULAR
                   : rr->finfo.filetype == APR_DIR
                   ? GOBRIDGE__V1__FILE_INFO__TYPE__TYPE_DIRECTORY
                   : GOBRIDGE__V1__FILE_INFO__TYPE__TYPE_OTHER;
        fi->size = rr->finfo.size;
        fi->mtime_us = rr->finfo.mtime;
        res->file = fi;
    }
    if (with_headers) {
        const apr_array_header_t *a = apr_table_elts(rr->headers_out);
        const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
        Gobridge__V1__Pair *pairs;
        int i, n = a->nelts < GB_SUBREQ_HEADERS_MAX ? a->nelts
                                                    : GB_SUBREQ_HEADERS_MAX;

        res->headers_out = apr_palloc(mp, (n ? n : 1)
                                          * sizeof(*res->headers_out));
        pairs = apr_palloc(mp, (n ? n : 1) * sizeof(*pairs));
        for (i = 0; i < n; i++) {
            if (!e[i].key) {
                continue;
            }
            gobridge__v1__pair__init(&pairs[res->n_headers_out]);
            pairs[res->n_headers_out].key = gb_pb_bytes(e[i].key);
            pairs[res->n_headers_out].value = gb_pb_bytes(e[i].val);
            res->headers_out[res->n_headers_out] = &pairs[res->n_headers_out];
            res->n_headers_out++;
        }
    }
}

/* Runs rr into this response where the plugin's body has got to, as
 * mod_include's #include virtual does: rr's output passes through r's
 * whole output filter chain after the body gb_pass_body already passed.
 * If the plugin sent no head, r's status (200 unless a phase set another)
 * and content type are the head. Returns rr's status. */
static int gb_subreq_run(gb_handle_ctx *ctx, request_rec *rr)
{
    int rc;

    ctx->committed = 1;
    ctx->passed = 1;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, ctx->r, GB_APLOGNO(0344)
                  "%s: running sub-request %s", ctx->plugin,
                  ap_escape_logitem(rr->pool, rr->uri));
    rc = ap_run_sub_req(rr);
    return rc == OK ? rr->status : rc;
}

/* sub_request: looks the target up (and maybe runs it), answers, and
 * destroys the sub-request. Returns GB_GO_ON or the handler's result. */
static int gb_subrequest(gb_handle_ctx *ctx, apr_pool_t *mp,
                         const Gobridge__V1__SubRequest *q)
{
    Gobridge__V1__HandleRequest msg = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    Gobridge__V1__SubRequestResult res =
        GOBRIDGE__V1__SUB_REQUEST_RESULT__INIT;
    Gobridge__V1__FileInfo fi = GOBRIDGE__V1__FILE_INFO__INIT;
    request_rec *r = ctx->r;
    request_rec *rr = NULL;
    const char *target, *why;
    apr_status_t rv;

    if (q->kind != GOBRIDGE__V1__SUB_REQUEST__KIND__KIND_URI
        && q->kind != GOBRIDGE__V1__SUB_REQUEST__KIND__KIND_FILE) {
        return gb_protocol_error(ctx, apr_psprintf(mp, "sub_request of "
                                 "kind %d", (int)q->kind));
    }
    res.id = q->id;
    target = gb_pb_strdup(mp, q->target);
    if ((why = gb_subreq_refusal(r, q)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0341)
                      "%s: sub-request for '%s' refused: %s", ctx->plugin,
                      ap_escape_logitem(mp, target), why);
        res.refused = gb_pb_bytes(why);
    }
    else {
        /* Only a sub-request that runs gets an output filter chain: a
         * lookup with NULL never writes, and skips the quick handler. */
        ap_filter_t *next = q->run ? r->output_filters : NULL;

        if (q->kind == GOBRIDGE__V1__SUB_REQUEST__KIND__KIND_URI) {
            rr = ap_sub_req_method_uri(q->method.len
                                       ? gb_pb_strdup(mp, q->method) : "GET",
                                       target, r, next);
        }
        else {
            rr = ap_sub_req_lookup_file(target, r, next);
        }
        res.status = rr->status;
        if (q->run && rr->status == HTTP_OK) {
            res.status = gb_subreq_run(ctx, rr);
            res.ran = 1;
        }
        gb_subreq_describe(mp, rr, q->headers_out, &res, &fi);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0340)
                      "%s: sub-request %s '%s': status %d%s", ctx->plugin,
                      q->kind == GOBRIDGE__V1__SUB_REQUEST__KIND__KIND_URI
                      ? "for URI" : "for file",
                      ap_escape_logitem(mp, target), res.status,
                      res.ran ? " (ran)" : "");
    }

    if (res.ran && r->connection->aborted) {
        ap_destroy_sub_req(rr);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0346)
                      "%s: client went away during a sub-request; "
                      "cancelling the call", ctx->plugin);
        gb_call_cancel(ctx->call);
        return OK;
    }
    msg.sub_request = &res;
    rv = gb_call_send(ctx->call, &msg.base, 0, ctx->timeout);
    if (rr) {
        ap_destroy_sub_req(rr);
    }
    if (rv == APR_EOF) {
        /* The plugin ended the call first; its finish is still to be read. */
        return GB_GO_ON;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0345)
                      "%s: sending the sub-request answer failed",
                      ctx->plugin);
        return gb_fail_rpc(ctx, gb_rpc_failed(rv));
    }
    return GB_GO_ON;
}

/* The plugin's Finish: the handler's result, after checking the stream
 * ends with grpc-status OK (only then is the connection reused). */
static int gb_finish(gb_handle_ctx *ctx, apr_pool_t *mp,
                     const Gobridge__V1__Finish *f)
{
    request_rec *r = ctx->r;
    ProtobufCMessage *extra;
    apr_status_t rv;
    int rc;

    switch (f->result) {
    case GOBRIDGE__V1__RESULT__RESULT_OK:
    case GOBRIDGE__V1__RESULT__RESULT_DONE:
        rc = OK;
        break;
    case GOBRIDGE__V1__RESULT__RESULT_DECLINED:
        if (ctx->committed) {
            return gb_protocol_error(ctx, "DECLINED after the response "
                                          "started");
        }
        rc = DECLINED;
        break;
    case GOBRIDGE__V1__RESULT__RESULT_HTTP_STATUS:
        if (ctx->committed) {
            return gb_protocol_error(ctx, "HTTP_STATUS after the response "
                                          "started");
        }
        if (f->http_status >= 200 && f->http_status < 300) {
            r->status = f->http_status;     /* an empty success */
            rc = OK;
        }
        else if (f->http_status >= 300 && f->http_status <= 599) {
            /* httpd's error document, which keeps err_headers_out. */
            if (f->n_err_headers) {
                Gobridge__V1__ResponseHead h = GOBRIDGE__V1__RESPONSE_HEAD__INIT;
                const char *why;

                h.status = f->http_status;
                h.n_err_headers = f->n_err_headers;
                h.err_headers = f->err_headers;
                if (gb_apply_head(ctx, mp, &h, &why) != APR_SUCCESS) {
                    return gb_protocol_error(ctx, apr_psprintf(
                        mp, "finish's err_headers: %s", why));
                }
            }
            rc = f->http_status;
        }
        else {
            return gb_protocol_error(ctx, apr_psprintf(mp, "finish with "
                                     "http_status %d", f->http_status));
        }
        break;
    default:
        return gb_protocol_error(ctx, apr_psprintf(mp, "finish with "
                                 "result %d", (int)f->result));
    }

    rv = gb_call_recv(ctx->call, mp, &gobridge__v1__handle_response__descriptor,
                      ctx->timeout, &extra);
    if (rv == APR_EOF && gb_call_status(ctx->call, NULL) == GB_GRPC_OK) {
        ctx->clean = 1;
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, GB_APLOGNO(0036)
                      "%s: stream did not end cleanly after finish; "
                      "closing the connection", ctx->plugin);
        gb_call_cancel(ctx->call);
    }
    return rc;
}

/* internal_redirect and send_file: checked and remembered here, acted on
 * after the stream ended cleanly (gb_handler_handle). Returns GB_GO_ON or
 * the handler's result. */
static int gb_take_ending(gb_handle_ctx *ctx,
                          const Gobridge__V1__HandleResponse *m)
{
    request_rec *r = ctx->r;

    if (m->internal_redirect.len && m->send_file) {
        return gb_protocol_error(ctx, "internal_redirect and send_file in "
                                      "one response");
    }
    if (!m->finish || m->finish->result != GOBRIDGE__V1__RESULT__RESULT_OK) {
        return gb_protocol_error(ctx, "internal_redirect or send_file "
                                      "without finish RESULT_OK in the same "
                                      "message");
    }
    if (m->internal_redirect.len) {
        if (ctx->committed) {
            return gb_protocol_error(ctx, "internal_redirect after a head or "
                                          "body");
        }
        if (!gb_mutate_valid_redirect(m->internal_redirect)) {
            return gb_protocol_error(ctx, "internal_redirect is not a local "
                                          "URI starting with '/'");
        }
        ctx->redirect = gb_pb_strdup(r->pool, m->internal_redirect);
        return GB_GO_ON;
    }
    if (ctx->passed || m->body.len || m->flush) {
        return gb_protocol_error(ctx, "send_file after body or a flush");
    }
    if (!m->send_file->path.len || m->send_file->path.data[0] != '/'
        || memchr(m->send_file->path.data, '\0', m->send_file->path.len)) {
        return gb_protocol_error(ctx, "send_file path is not an absolute "
                                      "path");
    }
    if (m->send_file->offset < 0 || m->send_file->length < 0) {
        return gb_protocol_error(ctx, "send_file with a negative offset or "
                                      "length");
    }
    ctx->sf_path = gb_pb_strdup(r->pool, m->send_file->path);
    ctx->sf_offset = (apr_off_t)m->send_file->offset;
    ctx->sf_length = (apr_off_t)m->send_file->length;
    return GB_GO_ON;
}

/* Serves ctx->sf_path as the response body the way httpd's default handler
 * serves a file: validators from the file, ap_meets_conditions, a file
 * bucket (sendfile/mmap per EnableSendfile/EnableMMAP); the byterange
 * filter answers Range requests. The plugin's call has ended already. */
static int gb_send_file(gb_handle_ctx *ctx)
{
    request_rec *r = ctx->r;
    conn_rec *c = r->connection;
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    apr_bucket_brigade *bb;
    apr_bucket *e;
    apr_finfo_t fi;
    apr_file_t *fd;
    apr_off_t len;
    apr_status_t rv;
    int errstatus;

    /* Refuse FIFOs and devices before opening: open() on a FIFO blocks. */
    rv = apr_stat(&fi, ctx->sf_path, APR_FINFO_TYPE, r->pool);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0302)
                      "%s: send_file: %s is not a regular file", ctx->plugin,
                      ap_escape_logitem(r->pool, ctx->sf_path));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_open(&fd, ctx->sf_path, APR_READ | APR_BINARY
                           | AP_SENDFILE_ENABLED(cd->enable_sendfile),
                           0, r->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_MIN | APR_FINFO_IDENT, fd);
        if (rv == APR_INCOMPLETE) {
            rv = APR_SUCCESS;
        }
        if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
            rv = APR_EBADF;     /* replaced since the stat */
        }
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0301)
                      "%s: send_file: cannot open %s as Apache's User",
                      ctx->plugin, ap_escape_logitem(r->pool, ctx->sf_path));
        return APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)
               ? HTTP_NOT_FOUND
               : APR_STATUS_IS_EACCES(rv) ? HTTP_FORBIDDEN
               : HTTP_INTERNAL_SERVER_ERROR;
    }
    len = ctx->sf_length ? ctx->sf_length : fi.size - ctx->sf_offset;
    if (ctx->sf_offset > fi.size || len < 0
        || len > fi.size - ctx->sf_offset) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0303)
                      "%s: send_file: offset %" APR_OFF_T_FMT " length %"
                      APR_OFF_T_FMT " lie outside %s (%" APR_OFF_T_FMT
                      " bytes)", ctx->plugin, ctx->sf_offset, ctx->sf_length,
                      ap_escape_logitem(r->pool, ctx->sf_path), fi.size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0304)
                  "%s: send_file: %s, %" APR_OFF_T_FMT " bytes from %"
                  APR_OFF_T_FMT, ctx->plugin,
                  ap_escape_logitem(r->pool, ctx->sf_path), len,
                  ctx->sf_offset);

    /* The validators describe the file, unless the plugin set its own. */
    fi.fname = ctx->sf_path;
    r->finfo = fi;
    ap_update_mtime(r, fi.mtime);
    if (!apr_table_get(r->headers_out, "Last-Modified")) {
        ap_set_last_modified(r);
    }
    if (!apr_table_get(r->headers_out, "ETag")) {
        ap_set_etag(r);
    }
    if ((errstatus = ap_meets_conditions(r)) != OK) {
        apr_file_close(fd);
        r->status = errstatus;
        return errstatus;
    }
    ap_set_content_length(r, len);

    bb = apr_brigade_create(r->pool, c->bucket_alloc);
    apr_brigade_insert_file(bb, fd, ctx->sf_offset, len, r->pool);
#if APR_HAS_MMAP
    if (cd->enable_mmap == ENABLE_MMAP_OFF) {
        for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
             e = APR_BUCKET_NEXT(e)) {
            if (APR_BUCKET_IS_FILE(e)) {
                apr_bucket_file_enable_mmap(e, 0);
            }
        }
    }
#endif
    e = apr_bucket_eos_create(c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, e);
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    if (rv == APR_SUCCESS || r->status != HTTP_OK || c->aborted) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, GB_APLOGNO(0305)
                  "%s: send_file: passing %s to the output filters failed",
                  ctx->plugin, ap_escape_logitem(r->pool, ctx->sf_path));
    return AP_FILTER_ERROR;
}

/* Whether a failed call may be opened again: nothing of it reached the
 * client, and gb_rpc_resendable() says so for r's method. */
static int gb_may_resend(gb_handle_ctx *ctx)
{
    return !ctx->committed
           && gb_rpc_resendable(ctx->call, gb_rpc_idempotent(ctx->r),
                                ctx->attempt);
}

/* gb_call_recv of the plugin's next message within GoBridgeTimeout, in
 * slices, so that a client gone meanwhile ends the wait (*gone set). */
static apr_status_t gb_handle_recv(gb_handle_ctx *ctx, apr_pool_t *mp,
                                   Gobridge__V1__HandleResponse **m,
                                   int *gone)
{
    apr_time_t deadline = apr_time_now() + ctx->timeout;
    apr_interval_time_t left = ctx->timeout;

    *gone = 0;
    while (left > 0) {
        apr_status_t rv;

        rv = gb_call_recv(ctx->call, mp,
                          &gobridge__v1__handle_response__descriptor,
                          left < GB_ABORT_CHECK_EVERY ? left
                                                      : GB_ABORT_CHECK_EVERY,
                          (ProtobufCMessage **)m);
        if (!APR_STATUS_IS_TIMEUP(rv)) {
            return rv;
        }
        if (ctx->r->connection->aborted) {
            *gone = 1;
            return rv;
        }
        left = deadline - apr_time_now();
    }
    return APR_TIMEUP;
}

static int gb_handle_loop(gb_handle_ctx *ctx, apr_pool_t *tmp)
{
    request_rec *r = ctx->r;
    apr_size_t max = gb_config_max_message(ctx->d);
    apr_pool_t *mp;
    int rc;

    apr_pool_create(&mp, tmp);
    apr_pool_tag(mp, "gobridge (message)");
    for (;;) {
        Gobridge__V1__HandleResponse *m;
        const char *why;
        apr_status_t rv;
        int gone;

        apr_pool_clear(mp);
        rv = gb_handle_recv(ctx, mp, &m, &gone);
        if (gone) {
            /* Nobody to answer: the plugin's context is cancelled with
             * the stream, and the connection is closed (not reused). */
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0470)
                          "%s: the client went away while the plugin "
                          "worked; cancelling the call", ctx->plugin);
            gb_call_cancel(ctx->call);
            return OK;
        }
        if (rv != APR_SUCCESS && gb_may_resend(ctx)) {
            return GB_RESEND;
        }
        if (rv == APR_EOF) {
            const char *msg = NULL;
            int code = gb_call_status(ctx->call, &msg);
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0037)
                          "%s: call ended without finish: grpc-status %d "
                          "(%s)", ctx->plugin, code,
                          msg ? ap_escape_logitem(mp, msg) : "no message");
            return gb_fail_rpc(ctx, gb_rpc_grpc_failed(code));
        }
        if (APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0038)
                          "%s: no message from the plugin within %"
                          APR_TIME_T_FMT " ms (GoBridgeTimeout); cancelling",
                          ctx->plugin, apr_time_as_msec(ctx->timeout));
            return gb_fail_rpc(ctx, GB_RPC_TIMEOUT);
        }
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0039)
                          "%s: receiving from the plugin failed "
                          "(GoBridgeMaxMessageSize is %" APR_SIZE_T_FMT ")",
                          ctx->plugin, max);
            return gb_fail_rpc(ctx, gb_rpc_failed(rv));
        }

        if (!gb_apply_logs(ctx, mp, m)) {
            return gb_protocol_error(ctx, "unknown log level");
        }
        if (m->n_mutations && !gb_apply_notes_env(ctx, mp, m, &why)) {
            return gb_protocol_error(ctx, why);
        }
        /* One answer per message, and none after the end. */
        if (m->sub_request && (m->read_body || m->finish
                               || m->internal_redirect.len
                               || m->send_file)) {
            return gb_protocol_error(ctx, "sub_request together with "
                                     "read_body, internal_redirect, "
                                     "send_file or finish");
        }
        if (m->head) {
            if (ctx->committed) {
                return gb_protocol_error(ctx, "a second head, or a head "
                                              "after body");
            }
            if (gb_apply_head(ctx, mp, m->head, &why) != APR_SUCCESS) {
                return gb_protocol_error(ctx, why);
            }
            ctx->committed = 1;
        }
        if ((m->body.len || m->flush) && gb_is_last(m)) {
            /* The whole rest of the response is here: end the call first
             * (the connection goes back to the pool before a slow client
             * is served), then pass the body with EOS in one brigade, so
             * httpd's content-length filter sets Content-Length instead of
             * chunking, and HTTP/1.0 clients keep their connection. */
            if ((rc = gb_finish(ctx, mp, m->finish)) != OK) {
                return rc;
            }
            return gb_pass_last(ctx, m);
        }
        if (m->body.len || m->flush) {
            if ((rc = gb_pass_body(ctx, m)) != GB_GO_ON) {
                return rc;
            }
        }
        if (m->discard_body) {
            gb_discard_body(ctx);
        }
        if (m->read_body) {
            if ((rc = gb_send_body(ctx, mp, m->read_body)) != GB_GO_ON) {
                return rc;
            }
        }
        if (m->sub_request) {
            if ((rc = gb_subrequest(ctx, mp, m->sub_request)) != GB_GO_ON) {
                return rc;
            }
        }
        if (m->internal_redirect.len || m->send_file) {
            if ((rc = gb_take_ending(ctx, m)) != GB_GO_ON) {
                return rc;
            }
        }
        if (m->finish) {
            return gb_finish(ctx, mp, m->finish);
        }
    }
}

/* Opens the Handle call (on a new connection if fresh) and sends its first
 * message. Returns GB_GO_ON, GB_RESEND, or the handler's result after
 * logging why; ctx->call is NULL when no call was opened. */
static int gb_handle_start(gb_handle_ctx *ctx, apr_pool_t *tmp,
                           Gobridge__V1__HandleRequest *first, int fresh)
{
    request_rec *r = ctx->r;
    gb_rpc_outcome outcome;
    apr_status_t rv;

    rv = gb_rpc_open(r, ctx->d, ctx->plugin, GB_STATS_HANDLER, tmp,
                     GB_METHOD_HANDLE, 0, fresh,
                     &ctx->call, &outcome);
    if (rv != APR_SUCCESS) {
        ctx->call = NULL;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0042)
                      "%s: cannot connect to %s; is the plugin running "
                      "and healthy (gobridged's lines, or for a remote "
                      "plugin its TLS line just before)?", ctx->plugin,
                      gb_rpc_socket(r, ctx->plugin));
        return gb_rpc_http_status(r, outcome);
    }
    rv = gb_call_send(ctx->call, &first->base, 0, ctx->timeout);
    ctx->body_eof_sent = first->body_eof;
    /* APR_EOF: the plugin answered and ended the call before taking all of
     * our message (e.g. a quick 413); its answer is waiting in the call. */
    if (rv == APR_SUCCESS || rv == APR_EOF) {
        return GB_GO_ON;
    }
    if (gb_may_resend(ctx)) {
        return GB_RESEND;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0043)
                  "%s: cannot start the Handle call", ctx->plugin);
    gb_rpc_note_failure(ctx->call, gb_rpc_failed(rv));
    gb_rpc_close(ctx->call, 0);
    ctx->call = NULL;
    return gb_rpc_http_status(r, gb_rpc_failed(rv));
}

/* What the module read of the request body before calling any plugin.
 * Kept for the whole handler, so that the next plugin of a GoBridgeHandler
 * list gets the same first message when one declines. */
typedef struct {
    const char *buf;
    apr_size_t len;
    int eof;                /* the whole body is in buf */
} gb_prefetch;

/* Runs one plugin's Handle call for r: the handler's result, DECLINED
 * included (the caller decides whether the next plugin may try). */
static int gb_handle_one(request_rec *r, gb_dir_conf *d, const char *plugin,
                         const gb_prefetch *pre, int *body_taken)
{
    Gobridge__V1__HandleRequest first = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    gb_handle_ctx ctx;
    apr_pool_t *tmp;
    int rc, attempt;

    memset(&ctx, 0, sizeof(ctx));
    ctx.r = r;
    ctx.d = d;
    ctx.plugin = plugin;
    ctx.timeout = gb_config_timeout(ctx.d);

    apr_pool_create(&tmp, r->pool);
    apr_pool_tag(tmp, "gobridge (handler)");
    ctx.out = apr_brigade_create(tmp, r->connection->bucket_alloc);
    ctx.in = apr_brigade_create(tmp, r->connection->bucket_alloc);

    first.request = gb_request_build(r, tmp, ctx.plugin, ctx.d);
    ctx.body_eof_read = pre->eof;
    if (pre->len) {
        first.body = gb_pb_bytesn(pre->buf, pre->len);
    }
    first.body_eof = ctx.body_eof_read;

    for (attempt = 0; ; attempt++) {
        ctx.attempt = attempt;
        rc = gb_handle_start(&ctx, tmp, &first, attempt > 0);
        if (rc == GB_GO_ON) {
            rc = gb_handle_loop(&ctx, tmp);
        }
        if (rc != GB_RESEND) {
            break;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0189)
                      "%s: the plugin did not take the request (%s); "
                      "sending it again on a new connection", ctx.plugin,
                      gb_call_fate_of(ctx.call) == GB_CALL_REFUSED
                      ? "refused, or never served"
                      : "pooled connection lost before it answered");
        gb_rpc_close(ctx.call, 0);
        ctx.call = NULL;
    }
    if (!ctx.call) {
        apr_pool_destroy(tmp);
        return rc;
    }
    *body_taken = ctx.body_taken;
    gb_rpc_close(ctx.call, ctx.clean);
    /* Transient buckets are set aside by now; the messages can go. */
    apr_pool_destroy(tmp);
    /* The plugin is done and its connection back in the pool: a redirect
     * or a file to a slow client holds no plugin connection. */
    if (rc == OK && ctx.redirect) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0300)
                      "%s: internal redirect of %s to %s", ctx.plugin,
                      r->uri, ap_escape_logitem(r->pool, ctx.redirect));
        ap_internal_redirect(ctx.redirect, r);
        return OK;
    }
    if (rc == OK && ctx.sf_path) {
        return gb_send_file(&ctx);
    }
    return rc;
}

/* The i-th plugin to try for r: the one a phase chose, alone, or the
 * GoBridgeHandler list. */
static const char *gb_handler_at(request_rec *r, const gb_dir_conf *d, int i)
{
    const char *chosen = gb_phase_content_plugin(r);

    if (chosen) {
        return i == 0 ? chosen : NULL;
    }
    return gb_config_handler_at(d, i);
}

int gb_handler_handle(request_rec *r)
{
    gb_dir_conf *d;
    gb_prefetch pre;
    apr_pool_t *pp = NULL;
    apr_off_t cl;
    const char *plugin;
    int i, rc = DECLINED, taken = 0;

    if (!r->handler || strcmp(r->handler, GB_HANDLER_NAME)) {
        return DECLINED;
    }
    d = gb_config_rget(r);
    for (i = 0; (plugin = gb_handler_at(r, d, i)) != NULL; i++) {
        if (!gb_config_plugin(r->server, plugin)) {
            break;
        }
    }
    if (i == 0 || plugin) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0040)
                      "%s: handler 'gobridge' without a GoBridgeHandler "
                      "naming a declared plugin for %s",
                      plugin ? plugin : "(none)", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    memset(&pre, 0, sizeof(pre));
    /* A body as the snapshot's has_body tells it (none in sub-requests). */
    cl = gb_request_content_length(r);
    pre.eof = cl == 0;
    if (!pre.eof && !r->expecting_100) {
        gb_handle_ctx rd;
        apr_status_t rv;
        char *buf;

        /* The prefetch lives until the last plugin of the list has
         * answered, not for the rest of the request; requests without a
         * body (most of them) make no pool for it. */
        apr_pool_create(&pp, r->pool);
        apr_pool_tag(pp, "gobridge (prefetch)");
        /* Only what has arrived: a plugin that never reads the body
         * must not wait for a slow client. */
        memset(&rd, 0, sizeof(rd));
        rd.r = r;
        rd.in = apr_brigade_create(pp, r->connection->bucket_alloc);
        rv = gb_read_body(&rd, pp, cl > 0 && cl < GB_PREFETCH_MAX
                                   ? (apr_size_t)cl : GB_PREFETCH_MAX,
                          APR_NONBLOCK_READ, &buf, &pre.len);
        apr_brigade_destroy(rd.in);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, GB_APLOGNO(0041)
                          "%s: reading the request body failed",
                          gb_handler_at(r, d, 0));
            apr_pool_destroy(pp);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        pre.buf = buf;
        pre.eof = rd.body_eof_read;
    }

    for (i = 0; (plugin = gb_handler_at(r, d, i)) != NULL; i++) {
        const char *next = gb_handler_at(r, d, i + 1);

        rc = gb_handle_one(r, d, plugin, &pre, &taken);
        if (rc != DECLINED || !next) {
            break;
        }
        if (taken) {
            /* The next plugin would see a body with its start missing. */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0045)
                          "%s: declined after reading the request body; "
                          "%s cannot be given it: 500", plugin, next);
            rc = HTTP_INTERNAL_SERVER_ERROR;
            break;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0046)
                      "%s: declined; trying %s", plugin, next);
    }
    if (pp) {
        apr_pool_destroy(pp);
    }
    return rc;
}
