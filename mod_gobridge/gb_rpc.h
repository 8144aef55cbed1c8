/* gb_rpc.h: a call to a plugin, the one layer that the content handler,
 * the phases, the body filters and the auth providers go through.
 *
 * Each plugin's socket is resolved once, in post_config, into an endpoint
 * that carries this child's pool of connections (gb_conn.h). A call is
 * opened with gb_rpc_open() (borrow a connection, start the stream) and
 * ended with gb_rpc_close() (end or cancel the stream, give the
 * connection back); a unary call is gb_rpc_unary(). How a failed call
 * ends the request is decided in one table, gb_rpc_http_status().
 *
 * Every call is counted here for the status page (gb_stats.h), under the
 * kind its caller names: started when opened, ended when closed, with the
 * outcome gb_rpc_unary() saw or, for a stream, the one its caller noted
 * with gb_rpc_note_failure(). A unary call sent again on a new connection
 * counts once; a Handle stream opened again (fresh) counts twice.
 */
#ifndef GB_RPC_H
#define GB_RPC_H

#include <apr_pools.h>
#include <httpd.h>
#include <protobuf-c/protobuf-c.h>

#include "gb_call.h"
#include "gb_config.h"
#include "gb_stats.h"

/* What became of a call, as far as the request is concerned. */
typedef enum {
    GB_RPC_OK = 0,      /* answered with grpc-status OK */
    GB_RPC_DOWN,        /* not reachable, or gone mid-call: retry later */
    GB_RPC_TIMEOUT,     /* no answer within GoBridgeTimeout */
    GB_RPC_BROKEN       /* protocol error, bad answer, error status */
} gb_rpc_outcome;

/* The result of a unary call. */
typedef struct {
    gb_rpc_outcome outcome;
    apr_status_t rv;            /* the transport error, APR_SUCCESS if none */
    int connected;              /* 0: no connection could be had */
    int grpc_status;            /* when the call ended; GB_GRPC_UNKNOWN
                                 * otherwise */
    const char *grpc_message;   /* percent-decoded, or NULL */
} gb_rpc_result;

/* post_config: resolves every declared plugin's sockets (one for each
 * process of a pool). */
apr_status_t gb_rpc_post_config(apr_pool_t *pconf, server_rec *s);

/* The socket a plugin is reached at, or its pool's (log lines). */
const char *gb_rpc_socket(request_rec *r, const char *plugin);

/* Borrows a connection to plugin (a new one if fresh is set) and starts
 * method on it, counted under kind (its end is counted by gb_rpc_close(),
 * or here if it fails), with d's connect timeout and message bound;
 * deadline > 0 is sent as grpc-timeout.
 * The call lives in p; if p goes before gb_rpc_close(), the call is
 * cancelled and its connection closed. On failure returns the error and
 * sets *outcome (GB_RPC_DOWN: the plugin could not be reached). */
apr_status_t gb_rpc_open(request_rec *r, const gb_dir_conf *d,
                         const char *plugin, gb_stats_kind kind,
                         apr_pool_t *p,
                         const char *method, apr_interval_time_t deadline,
                         int fresh, gb_call **out, gb_rpc_outcome *outcome);

/* Whether a failed call, opened attempt times before (0: the first time),
 * may be opened again, on a new connection, with the same messages
 * (gb_call_may_resend(): refused calls up to GB_CALL_SENDS sends, a call
 * lost before any answer on a pooled connection once, for a request that
 * may run twice). See gb_call_fate_of(). */
int gb_rpc_resendable(const gb_call *call, int idempotent, int attempt);

/* Whether r's method may run twice (RFC 9110 §9.2.2). */
int gb_rpc_idempotent(const request_rec *r);

/* Records how an open call failed (the first failure noted wins), so
 * that gb_rpc_close() counts it under that outcome. */
void gb_rpc_note_failure(gb_call *call, gb_rpc_outcome outcome);

/* Ends call: cancels it if it is still running and gives its connection
 * back, for reuse if clean and the call ended at the transport level.
 * Safe to call more than once. */
void gb_rpc_close(gb_call *call, int clean);

/* One unary call, counted under kind, within d's GoBridgeTimeout (timeout
 * > 0 overrides it). A call the plugin did not process is sent again
 * on a new connection (gb_rpc_resendable(), with r's method deciding
 * idempotence): what a plugin being stopped or replaced leaves behind; it
 * counts as one call. Returns the outcome, with the details in *res and
 * the answer in *out (only with GB_RPC_OK). */
gb_rpc_outcome gb_rpc_unary(request_rec *r, const gb_dir_conf *d,
                            const char *plugin, gb_stats_kind kind,
                            apr_pool_t *p,
                            const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc,
                            apr_interval_time_t timeout, gb_rpc_result *res,
                            ProtobufCMessage **out);

/* The outcome of a transport error on an open call (gb_call_send/recv),
 * and of a grpc-status other than OK. */
gb_rpc_outcome gb_rpc_failed(apr_status_t rv);
gb_rpc_outcome gb_rpc_grpc_failed(int grpc_status);

/* The one table from outcome to the request's answer: DOWN is 503 with
 * Retry-After, TIMEOUT 504, BROKEN 500. The auth providers do not use it:
 * they fail closed with 500 whatever the outcome. */
int gb_rpc_http_status(request_rec *r, gb_rpc_outcome outcome);

#endif /* GB_RPC_H */
