/* gb_filter.c: body filters served by plugins, as lock-step Filter streams.
 *
 * One filter instance is one stream on a pooled connection, opened when
 * the first chunk is due and held until the plugin's DONE (or DECLINED),
 * then returned to the pool if the stream ended cleanly. The module sends
 * a chunk (at most GB_FILTER_CHUNK bytes) and reads the plugin's answer up
 * to its mark before it sends the next, so no thread is needed and memory
 * stays bounded: the output filter copies the brigade's data into one
 * chunk buffer and hands each answer message on as transient buckets; the
 * input filter holds one answer message at a time.
 *
 * Failures fail closed. An output filter that fails before anything went
 * down the chain turns the response into a 500 (504 on a timeout) through
 * an error bucket; after that it cuts the response off (error bucket 502,
 * no last chunk, connection closed), as mod_proxy does with a broken
 * backend. An input filter that fails makes the handler's read fail with
 * AP_FILTER_ERROR, which handlers map to a 500.
 */
#include "gb_private.h"
#include "gb_filter.h"
#include "gb_call.h"
#include "gb_config.h"
#include "gb_mutate.h"
#include "gb_phase.h"
#include "gb_request.h"
#include "gb_response.h"
#include "gb_rpc.h"
#include "gen/gobridge/v1/filter.pb-c.h"

#include <apr_buckets.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#define GB_METHOD_FILTER "/gobridge.v1.GoBridgeFilter/Filter"

/* The SDK reads chunks of up to 256 KiB (wire.MaxChunk). */
#define GB_FILTER_CHUNK (256 * 1024)

#define GB_MARK(x) GOBRIDGE__V1__FILTER_MARK__FILTER_MARK_##x
#define GB_TABLE(x) GOBRIDGE__V1__MUTATION__TABLE__TABLE_##x

typedef enum {
    GB_FILTER_NEW = 0,      /* nothing seen yet */
    GB_FILTER_RUN,          /* filtering */
    GB_FILTER_PASS,         /* declined: pass the body through */
    GB_FILTER_DONE,         /* the plugin's output is complete */
    GB_FILTER_FAILED        /* failed; the response is dealt with */
} gb_filter_state;

typedef struct {
    request_rec *r;
    const char *plugin;
    gb_dir_conf *d;
    int output;                 /* output filter, else input */
    gb_filter_state state;
    apr_pool_t *pool;           /* the stream's lifetime */
    apr_pool_t *mp;             /* the message being handled */
    gb_call *call;
    apr_interval_time_t timeout;
    char *buf;                  /* body not yet sent, GB_FILTER_CHUNK */
    apr_size_t len;
    int started;                /* the first FilterRequest went out */
    int eos_sent;
    int answered;               /* a mark came: headers and DECLINED final */
    int passed;                 /* data came from the plugin (output: and
                                 * went down the chain) */
    int awaiting;               /* input filter: the answer is being read */
    int upstream_eos;           /* input filter: f->next gave EOS */
    apr_status_t failure;       /* input filter: what reads return now */
    gb_rpc_outcome outcome;     /* output filter: how the call failed */
    int got_msg;                /* a message came on the call */
    int reopened;               /* times the call was opened again */
    int last_flush;             /* the last chunk's flags, to send it */
    int last_eos;               /*   again on a reopened call */
    apr_bucket_brigade *out;    /* output: to f->next; input: pending data */
    apr_bucket_brigade *tmp;    /* input: reads from f->next */
} gb_filter_ctx;

static ap_filter_rec_t *gb_filter_out_handle;
static ap_filter_rec_t *gb_filter_in_handle;

/* How a round (one chunk and its answer) ended. */
#define GB_ROUND_OK         0
#define GB_ROUND_FAIL       1   /* logged; ctx->failure says how */

static const char *gb_filter_kind(const gb_filter_ctx *ctx)
{
    return ctx->output ? "output" : "input";
}

/* Ends the stream; the connection is reused only after a clean end. */
static void gb_filter_end(gb_filter_ctx *ctx, int clean)
{
    gb_rpc_close(ctx->call, clean);
}

/* Records a failed round: what reads return, and how the call failed. */
static void gb_filter_failed(gb_filter_ctx *ctx, apr_status_t rv,
                             gb_rpc_outcome outcome)
{
    gb_rpc_note_failure(ctx->call, outcome);
    gb_filter_end(ctx, 0);
    ctx->failure = rv;
    ctx->outcome = outcome;
}

static int gb_filter_protocol_error(gb_filter_ctx *ctx, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_EGENERAL, ctx->r,
                  GB_APLOGNO(0325) "%s: protocol error from %s filter: %s",
                  ctx->plugin, gb_filter_kind(ctx), why);
    gb_filter_failed(ctx, APR_EGENERAL, GB_RPC_BROKEN);
    return GB_ROUND_FAIL;
}

/* Opens the stream (first chunk). */
static int gb_filter_open(gb_filter_ctx *ctx)
{
    request_rec *r = ctx->r;
    gb_rpc_outcome outcome;
    apr_status_t rv;

    if (!ctx->pool) {
        apr_pool_create(&ctx->pool, r->pool);
        apr_pool_tag(ctx->pool, "gobridge (filter)");
        apr_pool_create(&ctx->mp, ctx->pool);
        apr_pool_tag(ctx->mp, "gobridge (filter message)");
    }
    ctx->timeout = gb_config_timeout(ctx->d);
    rv = gb_rpc_open(r, ctx->d, ctx->plugin, ctx->output
                     ? GB_STATS_OUTPUT_FILTER : GB_STATS_INPUT_FILTER,
                     ctx->pool, GB_METHOD_FILTER, 0,
                     ctx->reopened, &ctx->call, &outcome);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0321)
                      "%s: cannot reach the plugin for the %s filter at %s; "
                      "is gobridged running and the plugin healthy?",
                      ctx->plugin, gb_filter_kind(ctx),
                      gb_rpc_socket(r, ctx->plugin));
        ctx->failure = rv;
        ctx->outcome = outcome;
        return GB_ROUND_FAIL;
    }
    return GB_ROUND_OK;
}

static int gb_filter_send(gb_filter_ctx *ctx, int flush, int eos);

/* Whether a call that failed before the plugin sent anything may be opened
 * again and its first chunk sent again: see gb_rpc_resendable(). A plugin
 * being replaced leaves such calls behind. */
static int gb_filter_may_reopen(gb_filter_ctx *ctx)
{
    return !ctx->got_msg && ctx->call
           && gb_rpc_resendable(ctx->call, gb_rpc_idempotent(ctx->r),
                                ctx->reopened);
}

static int gb_filter_reopen(gb_filter_ctx *ctx)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, ctx->r, GB_APLOGNO(0190)
                  "%s: the %s filter's plugin did not take the call; "
                  "sending it again on a new connection", ctx->plugin,
                  gb_filter_kind(ctx));
    gb_rpc_close(ctx->call, 0);
    ctx->call = NULL;
    ctx->started = 0;
    ctx->reopened++;
    return gb_filter_send(ctx, ctx->last_flush, ctx->last_eos);
}

/* Sends ctx->buf as the next chunk (the first one with the snapshot). */
static int gb_filter_send(gb_filter_ctx *ctx, int flush, int eos)
{
    Gobridge__V1__FilterRequest m = GOBRIDGE__V1__FILTER_REQUEST__INIT;
    apr_status_t rv;

    if (!ctx->started) {
        if (gb_filter_open(ctx) != GB_ROUND_OK) {
            return GB_ROUND_FAIL;
        }
        m.kind = ctx->output ? GOBRIDGE__V1__FILTER_KIND__FILTER_KIND_OUTPUT
                             : GOBRIDGE__V1__FILTER_KIND__FILTER_KIND_INPUT;
        m.request = gb_request_build(ctx->r, ctx->pool, ctx->plugin, ctx->d);
        ctx->started = 1;
    }
    m.data = gb_pb_bytesn(ctx->buf, ctx->len);
    m.flush = flush;
    m.eos = eos;
    ctx->eos_sent = eos;
    ctx->last_flush = flush;
    ctx->last_eos = eos;
    rv = gb_call_send(ctx->call, &m.base, eos, ctx->timeout);
    /* APR_EOF: the plugin ended the call first; its answer is queued. */
    if (rv != APR_SUCCESS && rv != APR_EOF && gb_filter_may_reopen(ctx)) {
        return gb_filter_reopen(ctx);
    }
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, ctx->r, GB_APLOGNO(0322)
                      "%s: sending a chunk to the %s filter failed",
                      ctx->plugin, gb_filter_kind(ctx));
        gb_filter_failed(ctx, rv, gb_rpc_failed(rv));
        return GB_ROUND_FAIL;
    }
    return GB_ROUND_OK;
}

/* Receives the next message of the answer into ctx->mp. */
static int gb_filter_recv(gb_filter_ctx *ctx,
                          Gobridge__V1__FilterResponse **m)
{
    apr_status_t rv;

    apr_pool_clear(ctx->mp);
    rv = gb_call_recv(ctx->call, ctx->mp,
                      &gobridge__v1__filter_response__descriptor,
                      ctx->timeout, (ProtobufCMessage **)m);
    if (rv == APR_SUCCESS) {
        ctx->got_msg = 1;
        return GB_ROUND_OK;
    }
    if (!APR_STATUS_IS_TIMEUP(rv) && gb_filter_may_reopen(ctx)) {
        return gb_filter_reopen(ctx) == GB_ROUND_OK ? gb_filter_recv(ctx, m)
                                                    : GB_ROUND_FAIL;
    }
    if (rv == APR_EOF) {
        const char *msg = NULL;
        int code = gb_call_status(ctx->call, &msg);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, ctx->r, GB_APLOGNO(0324)
                      "%s: %s filter ended without DONE: grpc-status %d (%s)",
                      ctx->plugin, gb_filter_kind(ctx), code,
                      msg ? ap_escape_logitem(ctx->mp, msg) : "no message");
        gb_filter_failed(ctx, code == GB_GRPC_DEADLINE_EXCEEDED
                              ? APR_TIMEUP : APR_EGENERAL,
                         gb_rpc_grpc_failed(code));
        return GB_ROUND_FAIL;
    }
    else if (APR_STATUS_IS_TIMEUP(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, ctx->r, GB_APLOGNO(0323)
                      "%s: no answer from the %s filter within %"
                      APR_TIME_T_FMT " ms (GoBridgeTimeout); cancelling",
                      ctx->plugin, gb_filter_kind(ctx),
                      apr_time_as_msec(ctx->timeout));
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, ctx->r, GB_APLOGNO(0337)
                      "%s: receiving from the %s filter failed "
                      "(GoBridgeMaxMessageSize is %" APR_SIZE_T_FMT ")",
                      ctx->plugin, gb_filter_kind(ctx),
                      gb_config_max_message(ctx->d));
    }
    gb_filter_failed(ctx, rv, gb_rpc_failed(rv));
    return GB_ROUND_FAIL;
}

/* After DONE or DECLINED the plugin ends the stream with status OK; only
 * then is the connection reused. */
static void gb_filter_finish(gb_filter_ctx *ctx)
{
    ProtobufCMessage *extra;
    apr_status_t rv;

    apr_pool_clear(ctx->mp);
    rv = gb_call_recv(ctx->call, ctx->mp,
                      &gobridge__v1__filter_response__descriptor,
                      ctx->timeout, &extra);
    if (rv == APR_EOF && gb_call_status(ctx->call, NULL) == GB_GRPC_OK) {
        gb_filter_end(ctx, 1);
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, ctx->r, GB_APLOGNO(0333)
                  "%s: %s filter stream did not end cleanly after its last "
                  "mark; closing the connection", ctx->plugin,
                  gb_filter_kind(ctx));
    gb_filter_end(ctx, 0);
}

/* DECLINED is a bare mark: checked before anything of the message is
 * applied. */
static int gb_filter_bare_decline(gb_filter_ctx *ctx,
                                  const Gobridge__V1__FilterResponse *m)
{
    if (m->mark == GB_MARK(DECLINED)
        && (m->data.len || m->n_mutations || m->content_type.len)) {
        return gb_filter_protocol_error(ctx, "DECLINED with data or header "
                                             "changes");
    }
    return GB_ROUND_OK;
}

/* Logs, header changes and content type of one message. */
static int gb_filter_apply(gb_filter_ctx *ctx,
                           const Gobridge__V1__FilterResponse *m)
{
    request_rec *r = ctx->r;
    size_t i;
    int level;

    for (i = 0; i < m->n_logs; i++) {
        if (!gb_response_log_level(m->logs[i]->level, &level)) {
            return gb_filter_protocol_error(ctx, "unknown log level");
        }
        /* The plugin's text is escaped: it must not forge log lines. */
        ap_log_rerror(APLOG_MARK, level, 0, r, GB_APLOGNO(0326) "%s: %s",
                      ctx->plugin, ap_escape_logitem(ctx->mp,
                          gb_pb_strdup(ctx->mp, m->logs[i]->message)));
    }
    if (m->n_mutations || m->content_type.len) {
        Gobridge__V1__PhaseResponse pr = GOBRIDGE__V1__PHASE_RESPONSE__INIT;
        gb_mutate_tables t;
        apr_array_header_t *dropped;
        const char *why;

        if (!ctx->output) {
            return gb_filter_protocol_error(ctx, "header changes from an "
                                                 "input filter");
        }
        if (ctx->answered || ctx->passed) {
            return gb_filter_protocol_error(ctx, "header changes after the "
                                                 "output started");
        }
        /* The rule every table change of a plugin is checked by. */
        if (gb_mutate_check_mutations(ctx->mp, m->n_mutations, m->mutations,
                                      GB_MUTATE_TABLES_FILTER, "a filter",
                                      &why) != APR_SUCCESS) {
            return gb_filter_protocol_error(ctx, why);
        }
        pr.n_mutations = m->n_mutations;
        pr.mutations = m->mutations;
        if (m->content_type.len
            && !gb_mutate_valid_field(
                   GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_CONTENT_TYPE,
                   m->content_type.data, m->content_type.len)) {
            return gb_filter_protocol_error(ctx, "invalid content_type");
        }
        memset(&t, 0, sizeof(t));
        t.headers_in = r->headers_in;
        t.headers_out = r->headers_out;
        t.err_headers_out = r->err_headers_out;
        t.notes = r->notes;
        t.subprocess_env = r->subprocess_env;
        dropped = apr_array_make(ctx->mp, 2, sizeof(const char *));
        gb_mutate_apply_tables(r->pool, &pr, &t, dropped);
        for (i = 0; i < (size_t)dropped->nelts; i++) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GB_APLOGNO(0327)
                          "%s: output filter set '%s', which httpd manages; "
                          "dropped", ctx->plugin,
                          ap_escape_logitem(ctx->mp, APR_ARRAY_IDX(dropped,
                              i, const char *)));
        }
        if (m->content_type.len) {
            ap_set_content_type(r, gb_pb_strdup(r->pool, m->content_type));
        }
    }
    return GB_ROUND_OK;
}

/* The body is being transformed (not declined): the length the handler
 * announced no longer holds. */
static void gb_filter_transforming(gb_filter_ctx *ctx)
{
    if (ctx->output && !ctx->answered && !ctx->passed) {
        apr_table_unset(ctx->r->headers_out, "Content-Length");
    }
}

/* Checks a mark against the stream's state; updates it. Returns
 * GB_ROUND_OK, or a protocol error. */
static int gb_filter_mark(gb_filter_ctx *ctx,
                          const Gobridge__V1__FilterResponse *m)
{
    switch (m->mark) {
    case GB_MARK(NEED_MORE):
        if (ctx->eos_sent) {
            return gb_filter_protocol_error(ctx, "NEED_MORE after the end "
                                                 "of the body");
        }
        gb_filter_transforming(ctx);
        ctx->answered = 1;
        return GB_ROUND_OK;
    case GB_MARK(DONE):
        gb_filter_transforming(ctx);
        ctx->answered = 1;
        ctx->state = GB_FILTER_DONE;
        gb_filter_finish(ctx);
        return GB_ROUND_OK;
    case GB_MARK(DECLINED):
        if (ctx->answered || ctx->passed) {
            return gb_filter_protocol_error(ctx, "DECLINED after the first "
                                                 "answer started");
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, ctx->r, GB_APLOGNO(0328)
                      "%s: %s filter declined; passing the body through",
                      ctx->plugin, gb_filter_kind(ctx));
        ctx->state = GB_FILTER_PASS;
        gb_filter_finish(ctx);
        return GB_ROUND_OK;
    default:
        return gb_filter_protocol_error(ctx, apr_psprintf(ctx->mp,
                                        "unknown mark %d", (int)m->mark));
    }
}

/* --- output filter ---------------------------------------------------- */

/* Fails the response: a status before anything went down, a cut-off
 * response after. Everything the handler passes later is discarded. */
static apr_status_t gb_filter_out_fail(ap_filter_t *f, gb_filter_ctx *ctx)
{
    request_rec *r = f->r;
    conn_rec *c = r->connection;
    int status = gb_rpc_http_status(r, ctx->outcome);

    ctx->state = GB_FILTER_FAILED;
    apr_brigade_cleanup(ctx->out);
    if (ctx->passed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GB_APLOGNO(0329)
                      "%s: output filter failed after the response started; "
                      "cutting the response off", ctx->plugin);
        r->no_cache = 1;
        c->keepalive = AP_CONN_CLOSE;
        status = HTTP_BAD_GATEWAY;   /* the chunk filter sends no last chunk */
    }
    APR_BRIGADE_INSERT_TAIL(ctx->out, ap_bucket_error_create(status, NULL,
                                                             r->pool,
                                                             c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_eos_create(c->bucket_alloc));
    ap_pass_brigade(f->next, ctx->out);
    apr_brigade_cleanup(ctx->out);
    return AP_FILTER_ERROR;
}

/* Passes ctx->out down. */
static apr_status_t gb_filter_out_pass(ap_filter_t *f, gb_filter_ctx *ctx)
{
    apr_status_t rv = ap_pass_brigade(f->next, ctx->out);

    apr_brigade_cleanup(ctx->out);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, f->r, GB_APLOGNO(0332)
                      "%s: passing the output filter's data on failed (the "
                      "client went away?); cancelling the filter",
                      ctx->plugin);
        gb_filter_end(ctx, 0);
        ctx->state = GB_FILTER_FAILED;
    }
    return rv;
}

/* Sends the buffered chunk and passes the answer down, then a flush
 * bucket if asked. APR_SUCCESS with ctx->state RUN, DONE or PASS;
 * otherwise the filter's return value (the response is dealt with). */
static apr_status_t gb_filter_out_round(ap_filter_t *f, gb_filter_ctx *ctx,
                                        int flush, int eos)
{
    conn_rec *c = f->r->connection;
    apr_status_t rv;

    if (gb_filter_send(ctx, flush, eos) != GB_ROUND_OK) {
        return gb_filter_out_fail(f, ctx);
    }
    for (;;) {
        Gobridge__V1__FilterResponse *m;

        if (gb_filter_recv(ctx, &m) != GB_ROUND_OK
            || gb_filter_bare_decline(ctx, m) != GB_ROUND_OK
            || gb_filter_apply(ctx, m) != GB_ROUND_OK) {
            return gb_filter_out_fail(f, ctx);
        }
        if (m->data.len) {
            gb_filter_transforming(ctx);
            ctx->passed = 1;
            APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_transient_create(
                (const char *)m->data.data, m->data.len, c->bucket_alloc));
            if ((rv = gb_filter_out_pass(f, ctx)) != APR_SUCCESS) {
                return rv;
            }
        }
        if (m->mark == GB_MARK(UNSPECIFIED)) {
            continue;
        }
        if (gb_filter_mark(ctx, m) != GB_ROUND_OK) {
            return gb_filter_out_fail(f, ctx);
        }
        break;
    }
    if (ctx->state == GB_FILTER_PASS && ctx->len) {
        /* Declined: the chunk goes on as it came. */
        APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_transient_create(
            ctx->buf, ctx->len, c->bucket_alloc));
    }
    ctx->len = 0;
    if (flush) {
        APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_flush_create(
            c->bucket_alloc));
    }
    if (!APR_BRIGADE_EMPTY(ctx->out)) {
        return gb_filter_out_pass(f, ctx);
    }
    return APR_SUCCESS;
}

/* Moves bucket e to ctx->out and passes it down (metadata, in order). */
static apr_status_t gb_filter_out_meta(ap_filter_t *f, gb_filter_ctx *ctx,
                                       apr_bucket *e)
{
    APR_BUCKET_REMOVE(e);
    APR_BRIGADE_INSERT_TAIL(ctx->out, e);
    return gb_filter_out_pass(f, ctx);
}

static apr_status_t gb_filter_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    gb_filter_ctx *ctx = f->ctx;
    request_rec *r = f->r;
    apr_status_t rv = APR_SUCCESS;

    if (!ctx) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GB_APLOGNO(0320)
                      "%s added without GoBridgeOutputFilter; passing the "
                      "response through", GB_FILTER_OUTPUT);
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    if (ctx->state == GB_FILTER_NEW) {
        /* No body to transform: HEAD, 204 and 304 go through untouched. */
        if (r->header_only || r->status == HTTP_NO_CONTENT
            || r->status == HTTP_NOT_MODIFIED) {
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
        ctx->state = GB_FILTER_RUN;
        ctx->out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        ctx->buf = apr_palloc(r->pool, GB_FILTER_CHUNK);
    }

    while (!APR_BRIGADE_EMPTY(bb) && rv == APR_SUCCESS) {
        apr_bucket *e = APR_BRIGADE_FIRST(bb);
        const char *data;
        apr_size_t n;

        switch (ctx->state) {
        case GB_FILTER_PASS:
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        case GB_FILTER_FAILED:
            apr_brigade_cleanup(bb);
            return AP_FILTER_ERROR;
        case GB_FILTER_DONE:
            /* The plugin's output is complete: input data is dropped,
             * metadata (EOS included) still goes on in order. */
            if (APR_BUCKET_IS_METADATA(e)) {
                rv = gb_filter_out_meta(f, ctx, e);
            }
            else {
                apr_bucket_delete(e);
            }
            continue;
        default:
            break;
        }

        if (APR_BUCKET_IS_EOS(e)) {
            rv = gb_filter_out_round(f, ctx, 0, 1);
            if (rv == APR_SUCCESS && ctx->state == GB_FILTER_RUN) {
                /* Unreachable: NEED_MORE after eos is refused. */
                rv = APR_EGENERAL;
            }
            continue;       /* DONE or PASS pass the EOS on */
        }
        if (APR_BUCKET_IS_FLUSH(e)) {
            rv = gb_filter_out_round(f, ctx, 1, 0);
            if (rv == APR_SUCCESS) {
                apr_bucket_delete(e);   /* the round passed its own */
            }
            continue;
        }
        if (APR_BUCKET_IS_METADATA(e)) {
            /* Anything passed down sends the response head: the plugin's
             * header changes must have come first. */
            if (ctx->len || !ctx->answered) {
                rv = gb_filter_out_round(f, ctx, 0, 0);
            }
            if (rv == APR_SUCCESS && ctx->state == GB_FILTER_RUN) {
                rv = gb_filter_out_meta(f, ctx, e);
            }
            continue;
        }

        /* Data: without blocking first, so that what a slow source (CGI,
         * a proxied server) produced so far reaches the client now. */
        rv = apr_bucket_read(e, &data, &n, APR_NONBLOCK_READ);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            rv = APR_SUCCESS;
            if (ctx->len) {
                rv = gb_filter_out_round(f, ctx, 1, 0);
            }
            if (rv == APR_SUCCESS && ctx->state == GB_FILTER_RUN) {
                rv = apr_bucket_read(e, &data, &n, APR_BLOCK_READ);
            }
            else {
                continue;
            }
        }
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GB_APLOGNO(0331)
                          "%s: reading the response body to filter failed",
                          ctx->plugin);
            gb_filter_failed(ctx, rv, gb_rpc_failed(rv));
            return gb_filter_out_fail(f, ctx);
        }
        if (n > GB_FILTER_CHUNK - ctx->len) {
            apr_bucket_split(e, GB_FILTER_CHUNK - ctx->len);
            n = GB_FILTER_CHUNK - ctx->len;
        }
        memcpy(ctx->buf + ctx->len, data, n);
        ctx->len += n;
        apr_bucket_delete(e);
        if (ctx->len == GB_FILTER_CHUNK) {
            rv = gb_filter_out_round(f, ctx, 0, 0);
        }
    }
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
    }
    return rv;
}

/* --- input filter ----------------------------------------------------- */

static apr_status_t gb_filter_in_fail(gb_filter_ctx *ctx)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, ctx->failure, ctx->r,
                  GB_APLOGNO(0330) "%s: input filter failed; the handler's "
                  "read of the request body fails", ctx->plugin);
    ctx->state = GB_FILTER_FAILED;
    ctx->failure = AP_FILTER_ERROR;     /* handlers answer 500 */
    apr_brigade_cleanup(ctx->out);
    return ctx->failure;
}

/* Reads up to a whole chunk of request body from f->next into ctx->buf. */
static apr_status_t gb_filter_in_read(ap_filter_t *f, gb_filter_ctx *ctx)
{
    apr_status_t rv = APR_SUCCESS;

    while (ctx->len < GB_FILTER_CHUNK && !ctx->upstream_eos) {
        apr_bucket *e;

        rv = ap_get_brigade(f->next, ctx->tmp, AP_MODE_READBYTES,
                            APR_BLOCK_READ, GB_FILTER_CHUNK - ctx->len);
        if (rv != APR_SUCCESS) {
            break;
        }
        for (e = APR_BRIGADE_FIRST(ctx->tmp);
             e != APR_BRIGADE_SENTINEL(ctx->tmp) && rv == APR_SUCCESS;
             e = APR_BUCKET_NEXT(e)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(e)) {
                ctx->upstream_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(e)) {
                continue;
            }
            rv = apr_bucket_read(e, &data, &n, APR_BLOCK_READ);
            if (rv == APR_SUCCESS && n > GB_FILTER_CHUNK - ctx->len) {
                rv = APR_EGENERAL;      /* a filter ignored readbytes */
            }
            if (rv == APR_SUCCESS) {
                memcpy(ctx->buf + ctx->len, data, n);
                ctx->len += n;
            }
        }
        apr_brigade_cleanup(ctx->tmp);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    return rv;
}

/* Fills ctx->out with the next part of the transformed body (or leaves
 * it empty at the end). */
static apr_status_t gb_filter_in_fill(ap_filter_t *f, gb_filter_ctx *ctx)
{
    conn_rec *c = f->r->connection;
    apr_status_t rv;

    while (APR_BRIGADE_EMPTY(ctx->out) && ctx->state == GB_FILTER_RUN) {
        Gobridge__V1__FilterResponse *m;

        if (!ctx->awaiting) {
            rv = gb_filter_in_read(f, ctx);
            if (rv != APR_SUCCESS) {
                /* The client's fault (413, 400, timeout): its status. */
                ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, f->r,
                              GB_APLOGNO(0334) "%s: reading the request "
                              "body to filter failed", ctx->plugin);
                gb_filter_end(ctx, 0);
                ctx->state = GB_FILTER_FAILED;
                ctx->failure = rv;
                return rv;
            }
            if (gb_filter_send(ctx, 0, ctx->upstream_eos) != GB_ROUND_OK) {
                return gb_filter_in_fail(ctx);
            }
            ctx->awaiting = 1;
        }
        if (gb_filter_recv(ctx, &m) != GB_ROUND_OK
            || gb_filter_bare_decline(ctx, m) != GB_ROUND_OK
            || gb_filter_apply(ctx, m) != GB_ROUND_OK) {
            return gb_filter_in_fail(ctx);
        }
        if (m->data.len) {
            ctx->passed = 1;
            /* A copy: the message's pool is cleared by the next one. */
            APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_heap_create(
                (const char *)m->data.data, m->data.len, NULL,
                c->bucket_alloc));
        }
        if (m->mark == GB_MARK(UNSPECIFIED)) {
            continue;
        }
        if (gb_filter_mark(ctx, m) != GB_ROUND_OK) {
            return gb_filter_in_fail(ctx);
        }
        ctx->awaiting = 0;
        if (ctx->state == GB_FILTER_DONE && !ctx->upstream_eos) {
            /* The rest of the body stays unread on the connection. */
            f->r->connection->keepalive = AP_CONN_CLOSE;
        }
        if (ctx->state == GB_FILTER_PASS) {
            /* Declined: what was read goes to the handler as it came. */
            if (ctx->len) {
                APR_BRIGADE_INSERT_TAIL(ctx->out, apr_bucket_heap_create(
                    ctx->buf, ctx->len, NULL, c->bucket_alloc));
            }
            if (ctx->upstream_eos) {
                APR_BRIGADE_INSERT_TAIL(ctx->out,
                                        apr_bucket_eos_create(c->bucket_alloc));
            }
        }
        ctx->len = 0;
    }
    return APR_SUCCESS;
}

static apr_status_t gb_filter_in(ap_filter_t *f, apr_bucket_brigade *bb,
                                 ap_input_mode_t mode,
                                 apr_read_type_e block, apr_off_t readbytes)
{
    gb_filter_ctx *ctx = f->ctx;
    request_rec *r = f->r;
    apr_bucket *split;
    apr_status_t rv;

    if (!ctx) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GB_APLOGNO(0336)
                      "%s added without GoBridgeInputFilter; passing the "
                      "request body through", GB_FILTER_INPUT);
        ap_remove_input_filter(f);
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode == AP_MODE_INIT || mode == AP_MODE_EATCRLF) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (ctx->state == GB_FILTER_FAILED) {
        return ctx->failure;
    }
    if (ctx->state == GB_FILTER_PASS && APR_BRIGADE_EMPTY(ctx->out)) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode != AP_MODE_READBYTES) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GB_APLOGNO(0335)
                      "%s: the input filter serves AP_MODE_READBYTES reads "
                      "only (mode %d asked)", ctx->plugin, (int)mode);
        return APR_ENOTIMPL;
    }
    if (ctx->state == GB_FILTER_NEW) {
        ctx->state = GB_FILTER_RUN;
        ctx->out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        ctx->tmp = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        ctx->buf = apr_palloc(r->pool, GB_FILTER_CHUNK);
    }
    if (APR_BRIGADE_EMPTY(ctx->out) && ctx->state == GB_FILTER_RUN) {
        /* Producing more means waiting for the plugin. */
        if (block == APR_NONBLOCK_READ) {
            return APR_EAGAIN;
        }
        if ((rv = gb_filter_in_fill(f, ctx)) != APR_SUCCESS) {
            return rv;
        }
    }
    if (APR_BRIGADE_EMPTY(ctx->out)) {
        if (ctx->state == GB_FILTER_PASS) {
            return ap_get_brigade(f->next, bb, mode, block, readbytes);
        }
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
        return APR_SUCCESS;
    }
    if (readbytes <= 0) {
        readbytes = GB_FILTER_CHUNK;
    }
    rv = apr_brigade_partition(ctx->out, readbytes, &split);
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
        return rv;
    }
    while (APR_BRIGADE_FIRST(ctx->out) != split) {
        apr_bucket *e = APR_BRIGADE_FIRST(ctx->out);
        APR_BUCKET_REMOVE(e);
        APR_BRIGADE_INSERT_TAIL(bb, e);
    }
    return APR_SUCCESS;
}

/* --- registration ----------------------------------------------------- */

void gb_filter_register(apr_pool_t *p)
{
    (void)p;
    gb_filter_out_handle = ap_register_output_filter(GB_FILTER_OUTPUT,
                                                     gb_filter_out, NULL,
                                                     AP_FTYPE_RESOURCE);
    gb_filter_in_handle = ap_register_input_filter(GB_FILTER_INPUT,
                                                   gb_filter_in, NULL,
                                                   AP_FTYPE_CONTENT_SET);
}

static void gb_filter_add_one(request_rec *r, gb_dir_conf *d,
                              const char *name, int output)
{
    gb_filter_ctx *ctx;

    if (!gb_config_plugin(r->server, name)) {
        return;     /* refused at configtest / .htaccess parse / phase */
    }
    ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    ctx->r = r;
    ctx->plugin = name;
    ctx->d = d;
    ctx->output = output;
    /* Instances of one type run in the order they are added. */
    if (output) {
        ap_add_output_filter_handle(gb_filter_out_handle, ctx, r,
                                    r->connection);
    }
    else {
        ap_add_input_filter_handle(gb_filter_in_handle, ctx, r,
                                   r->connection);
    }
}

static void gb_filter_add(request_rec *r, gb_dir_conf *d,
                          const apr_array_header_t *names, int output)
{
    int i;

    for (i = 0; names && i < names->nelts; i++) {
        gb_filter_add_one(r, d, APR_ARRAY_IDX(names, i, const char *),
                          output);
    }
}

/* The filters phases asked for (gb_phase_added_filters), after the
 * configured ones, in the order asked. */
static void gb_filter_add_phase_chosen(request_rec *r, gb_dir_conf *d,
                                       int body)
{
    const apr_array_header_t *added = gb_phase_added_filters(r);
    int i;

    for (i = 0; added && i < added->nelts; i++) {
        const gb_phase_filter *pf = &APR_ARRAY_IDX(added, i, gb_phase_filter);

        if (!pf->output && !body) {
            continue;
        }
        if (pf->gobridge) {
            gb_filter_add_one(r, d, pf->name, pf->output);
        }
        else if (pf->output) {
            ap_add_output_filter(pf->name, NULL, r, r->connection);
        }
        else {
            ap_add_input_filter(pf->name, NULL, r, r->connection);
        }
    }
}

void gb_filter_insert(request_rec *r)
{
    gb_dir_conf *d;
    int body;

    if (r->main) {
        return;
    }
    d = gb_config_rget(r);
    body = ap_request_has_body(r);
    gb_filter_add(r, d, gb_config_filters(d, 1), 1);
    if (body) {
        gb_filter_add(r, d, gb_config_filters(d, 0), 0);
    }
    gb_filter_add_phase_chosen(r, d, body);
}
