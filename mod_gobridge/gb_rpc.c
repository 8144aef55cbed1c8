/* gb_rpc.c: a call to a plugin (see gb_rpc.h). */
#include "gb_private.h"
#include "gb_rpc.h"
#include "gb_conn.h"
#include "gb_resolve.h"

#include <apr_atomic.h>
#include <apr_strings.h>

apr_status_t gb_rpc_post_config(apr_pool_t *pconf, server_rec *s)
{
    gb_srv_conf *conf = gb_config_sget(s);
    int i, j;

    for (i = 0; i < conf->plugins->nelts; i++) {
        gb_plugin *pl = APR_ARRAY_IDX(conf->plugins, i, gb_plugin *);

        if (pl->remote) {
            gb_resolve_post_config(pconf, s, pl);
            continue;
        }
        pl->nendpoints = pl->processes;
        pl->endpoints = apr_pcalloc(pconf, pl->processes
                                           * sizeof(*pl->endpoints));
        for (j = 0; j < pl->processes; j++) {
            /* gobridged publishes a pool's processes as NAME.I.sock. */
            const char *path = pl->processes == 1
                ? apr_pstrcat(pconf, conf->socket_dir, "/", pl->name,
                              ".sock", NULL)
                : apr_psprintf(pconf, "%s/%s.%d.sock", conf->socket_dir,
                               pl->name, j);
            apr_status_t rv = gb_conn_endpoint_make(pconf, pl->name, path,
                                                    &pl->endpoints[j]);

            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, GB_APLOGNO(0187)
                             "%s: cannot resolve the socket %s of plugin %s "
                             "(declared at %s line %u)", __func__, path,
                             pl->name, pl->file, pl->line);
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

const char *gb_rpc_socket(request_rec *r, const char *plugin)
{
    const gb_plugin *pl = gb_config_plugin(r->server, plugin);

    gb_endpoint **eps;
    int n;

    if (!pl || !pl->endpoints) {
        return "(no such plugin)";
    }
    eps = gb_resolve_endpoints(NULL, pl, &n);
    if (n == 0) {
        return "(no address resolved)";
    }
    return n == 1 ? gb_conn_endpoint_path(eps[0])
                  : apr_psprintf(r->pool, "%s and %d more",
                                 gb_conn_endpoint_path(eps[0]), n - 1);
}

/* What gb_rpc keeps with an open stream (the call's baton). */
typedef struct {
    gb_stats_call sc;
    gb_rpc_outcome failure;
} gb_rpc_track;

/* A connection that could not be had: the plugin is down unless the
 * failure is our own. */
static gb_rpc_outcome gb_rpc_unreachable(apr_status_t rv)
{
    return APR_STATUS_IS_TIMEUP(rv) ? GB_RPC_DOWN : gb_rpc_failed(rv);
}

/* The process of a pool (the instance of a remote plugin) to call next,
 * among the n of eps: the one this child has the fewest calls in flight
 * with, so that a slow one is given no more than it can take; ties go
 * round (start). */
static int gb_rpc_pick(gb_endpoint **eps, int n, unsigned start)
{
    apr_uint32_t least = 0;
    int i, best = -1;

    for (i = 0; i < n; i++) {
        int k = (int)((start + (unsigned)i) % (unsigned)n);
        apr_uint32_t busy = gb_conn_endpoint_busy(eps[k]);

        if (best < 0 || busy < least) {
            best = k;
            least = busy;
        }
    }
    return best;
}

/* An idle connection, or a new one when fresh is set. A pool's processes
 * (a remote plugin's instances) are tried in turn: one that is down or
 * restarting is skipped. When a remote plugin's every instance is down,
 * its names are resolved again and the new instances, if any, tried. */
static apr_status_t gb_rpc_acquire(request_rec *r, const gb_dir_conf *d,
                                   const gb_plugin *pl, int fresh,
                                   gb_conn **conn)
{
    static volatile apr_uint32_t turn;
    apr_interval_time_t t = gb_config_connect_timeout(d);
    apr_status_t rv = APR_NOTFOUND;
    gb_endpoint **eps;
    int i, n, first, round;

    if (!pl || !pl->endpoints) {
        /* Refused at configtest; only a plugin gone since gets here. */
        return APR_NOTFOUND;
    }
    for (round = 0; round < 2; round++) {
        eps = gb_resolve_endpoints(r, pl, &n);
        if (n == 0) {
            /* A remote plugin whose names did not resolve: down. */
            rv = APR_ECONNREFUSED;
        }
        first = n <= 1 ? 0 : gb_rpc_pick(eps, n, apr_atomic_inc32(&turn));
        for (i = 0; i < n; i++) {
            gb_endpoint *ep = eps[(first + i) % n];

            rv = fresh ? gb_conn_acquire_new(r, ep, t, conn)
                       : gb_conn_acquire(r, ep, t, conn);
            if (rv == APR_SUCCESS || gb_rpc_unreachable(rv) != GB_RPC_DOWN) {
                return rv;
            }
        }
        if (!pl->remote || !gb_resolve_all_down(r, pl)) {
            break;
        }
    }
    return rv;
}

/* The rule of HTTP clients (RFC 9110 §9.2.2, Go's net/http): a request
 * the server certainly did not process may be sent again; one lost with
 * its pooled connection before any answer, only if it may run twice
 * (gb_call_may_resend()). */
static int gb_rpc_may_resend(gb_call_fate fate, const gb_conn *conn,
                             int idempotent, int attempt)
{
    return gb_call_may_resend(fate, attempt + 1,
                              conn && gb_conn_reused(conn), idempotent);
}

int gb_rpc_resendable(const gb_call *call, int idempotent, int attempt)
{
    return gb_rpc_may_resend(gb_call_fate_of(call), gb_call_conn(call),
                             idempotent, attempt);
}

int gb_rpc_idempotent(const request_rec *r)
{
    int m = r->method_number;

    return m == M_GET || m == M_OPTIONS || m == M_TRACE || m == M_PUT
           || m == M_DELETE;
}

static apr_status_t gb_rpc_cleanup(void *data)
{
    gb_rpc_close(data, 0);
    return APR_SUCCESS;
}

apr_status_t gb_rpc_open(request_rec *r, const gb_dir_conf *d,
                         const char *plugin, gb_stats_kind kind,
                         apr_pool_t *p,
                         const char *method, apr_interval_time_t deadline,
                         int fresh, gb_call **out, gb_rpc_outcome *outcome)
{
    const gb_plugin *pl = gb_config_plugin(r->server, plugin);
    gb_rpc_track *t;
    gb_conn *conn;
    apr_status_t rv;

    t = apr_palloc(p, sizeof(*t));
    t->failure = GB_RPC_OK;
    gb_stats_begin(&t->sc, pl, kind);
    rv = gb_rpc_acquire(r, d, pl, fresh, &conn);
    if (rv != APR_SUCCESS) {
        *outcome = gb_rpc_unreachable(rv);
        gb_stats_end(&t->sc, *outcome);
        return rv;
    }
    rv = gb_call_start(conn, p, method, deadline, gb_config_max_message(d),
                       out);
    if (rv != APR_SUCCESS) {
        gb_conn_release(conn, 0);
        *outcome = gb_rpc_failed(rv);
        gb_stats_end(&t->sc, *outcome);
        return rv;
    }
    gb_call_set_baton(*out, t);
    /* Registered after gb_call_start's own cleanup, so it runs first. */
    apr_pool_cleanup_register(p, *out, gb_rpc_cleanup,
                              apr_pool_cleanup_null);
    *outcome = GB_RPC_OK;
    return APR_SUCCESS;
}

void gb_rpc_note_failure(gb_call *call, gb_rpc_outcome outcome)
{
    gb_rpc_track *t = call ? gb_call_baton(call) : NULL;

    if (t && t->failure == GB_RPC_OK) {
        t->failure = outcome;
    }
}

void gb_rpc_close(gb_call *call, int clean)
{
    gb_rpc_track *t;
    gb_conn *conn;

    if (!call || !(conn = gb_call_take_conn(call))) {
        return;
    }
    gb_call_cancel(call);
    gb_conn_release(conn, clean);
    if ((t = gb_call_baton(call)) != NULL) {
        gb_stats_end(&t->sc, t->failure);
    }
}

/* gb_rpc_unary without the counting. */
static gb_rpc_outcome gb_rpc_unary_call(request_rec *r, const gb_dir_conf *d,
                                        const gb_plugin *pl, apr_pool_t *p,
                                        const char *method,
                                        const ProtobufCMessage *req,
                                        const ProtobufCMessageDescriptor
                                        *resp_desc,
                                        apr_interval_time_t timeout,
                                        gb_rpc_result *res,
                                        ProtobufCMessage **out)
{
    const char *plugin = pl ? pl->name : "(no such plugin)";
    gb_call_fate fate;
    gb_conn *conn;
    apr_status_t rv;
    int attempt, resend;

    if (timeout <= 0) {
        timeout = gb_config_timeout(d);
    }
    for (attempt = 0; ; attempt++) {
        memset(res, 0, sizeof(*res));
        res->grpc_status = GB_GRPC_UNKNOWN;
        *out = NULL;
        rv = gb_rpc_acquire(r, d, pl, attempt > 0, &conn);
        if (rv != APR_SUCCESS) {
            res->rv = rv;
            return res->outcome = gb_rpc_unreachable(rv);
        }
        res->connected = 1;
        fate = GB_CALL_SEEN;
        rv = gb_call_unary(conn, p, method, req, resp_desc, timeout,
                           gb_config_max_message(d), &res->grpc_status,
                           &res->grpc_message, out, &fate);
        resend = gb_rpc_may_resend(fate, conn, gb_rpc_idempotent(r),
                                   attempt);
        /* A call that ended with trailers left the connection usable. */
        gb_conn_release(conn, rv == APR_SUCCESS && !resend);
        if (resend) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, GB_APLOGNO(0188)
                          "%s: %s was %s; sending it again on a new "
                          "connection", plugin, method,
                          fate == GB_CALL_REFUSED ? "refused, or never served"
                          : "lost with its pooled connection before any "
                            "answer");
            continue;
        }
        break;
    }
    if (rv != APR_SUCCESS) {
        res->rv = rv;
        return res->outcome = gb_rpc_failed(rv);
    }
    return res->outcome = gb_rpc_grpc_failed(res->grpc_status);
}

gb_rpc_outcome gb_rpc_unary(request_rec *r, const gb_dir_conf *d,
                            const char *plugin, gb_stats_kind kind,
                            apr_pool_t *p,
                            const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc,
                            apr_interval_time_t timeout, gb_rpc_result *res,
                            ProtobufCMessage **out)
{
    const gb_plugin *pl = gb_config_plugin(r->server, plugin);
    gb_stats_call sc;

    gb_stats_begin(&sc, pl, kind);
    gb_rpc_unary_call(r, d, pl, p, method, req, resp_desc, timeout, res,
                      out);
    gb_stats_end(&sc, res->outcome);
    return res->outcome;
}

gb_rpc_outcome gb_rpc_failed(apr_status_t rv)
{
    if (rv == APR_SUCCESS) {
        return GB_RPC_OK;
    }
    if (APR_STATUS_IS_TIMEUP(rv)) {
        return GB_RPC_TIMEOUT;
    }
    /* Gone under us (crashed, killed, restarting) or not there: that is
     * "retry later", not a bug. */
    if (APR_STATUS_IS_ECONNRESET(rv) || APR_STATUS_IS_ECONNABORTED(rv)
        || APR_STATUS_IS_EPIPE(rv) || APR_STATUS_IS_ENOENT(rv)
        || APR_STATUS_IS_ECONNREFUSED(rv)) {
        return GB_RPC_DOWN;
    }
    return GB_RPC_BROKEN;
}

gb_rpc_outcome gb_rpc_grpc_failed(int grpc_status)
{
    switch (grpc_status) {
    case GB_GRPC_OK:
        return GB_RPC_OK;
    case GB_GRPC_UNAVAILABLE:
        return GB_RPC_DOWN;
    case GB_GRPC_DEADLINE_EXCEEDED:
        return GB_RPC_TIMEOUT;
    default:
        return GB_RPC_BROKEN;
    }
}

int gb_rpc_http_status(request_rec *r, gb_rpc_outcome outcome)
{
    switch (outcome) {
    case GB_RPC_DOWN:
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return HTTP_SERVICE_UNAVAILABLE;
    case GB_RPC_TIMEOUT:
        return HTTP_GATEWAY_TIME_OUT;
    default:
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}
