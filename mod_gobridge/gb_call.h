/* gb_call.h: one gRPC call (one HTTP/2 stream) on a borrowed gb_conn.
 *
 * Blocking, single-threaded API. Every function that waits takes a timeout
 * and returns APR_TIMEUP when it runs out. While a send waits for flow-control
 * window it also reads: messages that arrive meanwhile are queued and
 * returned by later gb_call_recv() calls, so a plugin streaming a response
 * while we stream the request body cannot deadlock us.
 *
 * Lifetimes: the call and every message it returns live in the pool given to
 * gb_call_start() unless gb_call_recv() is given another pool. Decoded
 * messages use an APR-pool ProtobufCAllocator (gb_pb.h), so clearing that
 * pool frees them: a long stream clears a per-message pool each turn and
 * holds no more than one message in memory.
 */
#ifndef GB_CALL_H
#define GB_CALL_H

#include <apr_pools.h>
#include <apr_time.h>
#include <protobuf-c/protobuf-c.h>

#include "gb_conn.h"

typedef struct gb_call gb_call;

/* child_init: lets calls still open when the child exits (prefork stops
 * its children from a signal handler) be dropped without touching their
 * connections, which may be gone already. */
void gb_call_child_init(apr_pool_t *pchild);

/* gRPC status codes the module acts on (from grpc/status codes). */
#define GB_GRPC_OK                 0
#define GB_GRPC_CANCELLED          1
#define GB_GRPC_UNKNOWN            2
#define GB_GRPC_DEADLINE_EXCEEDED  4
#define GB_GRPC_UNIMPLEMENTED     12
#define GB_GRPC_INTERNAL          13
#define GB_GRPC_UNAVAILABLE       14

/* Opens a stream for `method` (e.g. GB_METHOD_HANDLE) on c, which carries
 * one call at a time: end or cancel it before the next, and before
 * gb_conn_release(c). deadline > 0 sends grpc-timeout (unary calls); 0
 * sends none (the Handle stream).
 * max_message bounds every received message (larger is a protocol error). */
apr_status_t gb_call_start(gb_conn *c, apr_pool_t *p, const char *method,
                           apr_interval_time_t deadline,
                           apr_size_t max_message, gb_call **out);

/* Packs msg, frames it and writes it, waiting at most `timeout` for flow
 * control. end_stream=1 half-closes our side after it. Returns APR_EOF
 * when the plugin already ended the call (gb_call_recv() then returns
 * what it sent, then APR_EOF with its status); APR_TIMEUP cancels the
 * stream (half a message may have been written). */
apr_status_t gb_call_send(gb_call *call, const ProtobufCMessage *msg,
                          int end_stream, apr_interval_time_t timeout);

/* Half-closes our side without a message. */
apr_status_t gb_call_close_send(gb_call *call, apr_interval_time_t timeout);

/* Waits at most `timeout` for the next message and unpacks it with
 * descriptor d into pool p. Returns APR_SUCCESS with *out set, APR_EOF when
 * the stream ended (see gb_call_status()), APR_TIMEUP, or another error
 * (connection lost: APR_ECONNRESET; protocol error: APR_EGENERAL). */
apr_status_t gb_call_recv(gb_call *call, apr_pool_t *p,
                          const ProtobufCMessageDescriptor *d,
                          apr_interval_time_t timeout, ProtobufCMessage **out);

/* After APR_EOF: the grpc-status (or GB_GRPC_UNKNOWN if the trailers had
 * none) and grpc-message (percent-decoded, NULL if none). */
int gb_call_status(gb_call *call, const char **message);

/* Whether the plugin saw a call that failed. A refused stream (RST_STREAM
 * REFUSED_STREAM, or left out by a GOAWAY), or a connection lost before
 * the plugin sent anything at all on it (not even its SETTINGS), was
 * certainly not processed. A connection lost before anything came back on
 * the stream most likely was not (a peer closing an idle connection), but
 * a crash mid-call looks the same. */
typedef enum {
    GB_CALL_SEEN = 0,               /* answered, or fate unknown */
    GB_CALL_REFUSED,                /* certainly not processed */
    GB_CALL_LOST_UNANSWERED         /* connection lost, no answer */
} gb_call_fate;
gb_call_fate gb_call_fate_of(const gb_call *call);

/* How many times a call is sent at most: the first time and resends. */
#define GB_CALL_SENDS 3

/* Whether a call that failed with fate, after being sent `sent` times,
 * may be sent again on a new connection: one the plugin certainly did not
 * process (refused), up to GB_CALL_SENDS in all, since a resend can still
 * find the old process of a plugin being replaced; one lost before any
 * answer, only after the first send, only on a pooled connection (reused:
 * the plugin may have closed it idle) and only for a request that may run
 * twice (idempotent). */
int gb_call_may_resend(gb_call_fate fate, int sent, int reused,
                       int idempotent);

/* The connection the call was started on. */
gb_conn *gb_call_conn(const gb_call *call);

/* The connection the call was started on, handed out once (NULL after):
 * whoever takes it gives it back with gb_conn_release(). */
gb_conn *gb_call_take_conn(gb_call *call);

/* A pointer the call's owner keeps with it (gb_rpc.c: its counters);
 * NULL until set. */
void gb_call_set_baton(gb_call *call, void *baton);
void *gb_call_baton(const gb_call *call);

/* Cancels the stream (RST_STREAM CANCEL) if it is still open. Safe to call
 * more than once and after the end. */
void gb_call_cancel(gb_call *call);

/* Convenience for unary calls: start, send req with end_stream, receive one
 * message and the trailers. On APR_SUCCESS *grpc_status is set and *out is
 * set when grpc_status is GB_GRPC_OK. *fate (if not NULL) tells whether
 * the plugin saw a call that failed (gb_call_fate_of()). */
apr_status_t gb_call_unary(gb_conn *c, apr_pool_t *p, const char *method,
                           const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_desc,
                           apr_interval_time_t timeout, apr_size_t max_message,
                           int *grpc_status, const char **grpc_message,
                           ProtobufCMessage **out, gb_call_fate *fate);

#endif /* GB_CALL_H */
