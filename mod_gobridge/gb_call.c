/* gb_call.c: one gRPC call (one HTTP/2 stream) on a borrowed gb_conn.
 *
 * Memory stays bounded on long streams: the outgoing message lives in one
 * malloc'd buffer freed once written, received messages are malloc'd
 * until gb_call_recv() unpacks them into the caller's pool, and once a
 * received message waits unread we stop returning flow-control window, so
 * the plugin cannot push more than one HTTP/2 window ahead of us.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "gb_log.h"
#include "gb_call.h"
#include "gb_encode.h"
#include "gb_grpc.h"
#include "gb_h2.h"
#include "gb_pb.h"

/* Headers plus trailers accepted on one call. grpc-go sends about six;
 * custom metadata from a plugin stays far below this. */
#define GB_CALL_MAX_HEADERS 100

/* How long a cancel may take to reach the socket. */
#define GB_CALL_CANCEL_FLUSH apr_time_from_msec(500)

typedef struct gb_call_msg gb_call_msg;
struct gb_call_msg {
    gb_call_msg *next;
    unsigned char *data;        /* malloc'd */
    apr_size_t len;
};

struct gb_call {
    apr_pool_t *pool;
    gb_conn *conn;              /* NULL once detached */
    gb_conn *home;              /* the connection it started on */
    gb_h2_session *h2;
    gb_h2_stream st;
    const char *method;
    const char *plugin;
    unsigned long conn_id;
    gb_grpc_reader rd;
    /* outgoing message being written */
    unsigned char *out;
    apr_size_t out_len;
    apr_size_t out_off;
    int eos;                    /* END_STREAM wanted after out */
    /* received messages not yet returned */
    gb_call_msg *head;
    gb_call_msg *tail;
    apr_size_t withheld;        /* DATA bytes not yet given back as window */
    gb_grpc_status status;
    apr_status_t err;           /* sticky transport/protocol failure */
    int cancelled;
    int headers;                /* headers and trailers received */
    int got_data;               /* a DATA frame came */
    apr_time_t deadline_at;     /* when grpc-timeout runs out, 0: none */
    apr_uint64_t sent_before;   /* gb_h2_sent() when the call started */
    void *baton;                /* the owner's (gb_call_set_baton) */
};

#define GB_CALL_LOG(call, level, rv, ...)                                   \
    GB_LOG(gb_h2_request((call)->h2), gb_h2_server((call)->h2), level, rv,  \
           __VA_ARGS__)

static void gb_call_free_buffers(gb_call *call)
{
    while (call->head) {
        gb_call_msg *m = call->head;
        call->head = m->next;
        free(m->data);
        free(m);
    }
    call->tail = NULL;
    gb_grpc_reader_clear(&call->rd);
    free(call->out);
    call->out = NULL;
    call->out_len = call->out_off = 0;
}

/* Unhooks the call from its connection; the stream must be closed or
 * reset already. Gives back any window we held for it. */
static void gb_call_detach(gb_call *call)
{
    if (!call->conn) {
        return;
    }
    gb_h2_detach(call->h2, &call->st);
    if (call->withheld) {
        gb_h2_consume(call->h2, &call->st, call->withheld);
        call->withheld = 0;
    }
    call->conn = NULL;
}

/* Set when this child's pool starts going away. prefork's children do
 * that from a signal handler (SIGTERM on stop), possibly in the middle of
 * a call: the pools go in reverse order of creation, so a connection made
 * during the request is freed before the request's pool, whose calls would
 * then cancel their streams on freed memory. The process is about to
 * exit: a call's cleanup has nothing left to do. */
static volatile sig_atomic_t gb_call_exiting;

static apr_status_t gb_call_note_exit(void *data)
{
    (void)data;
    gb_call_exiting = 1;
    return APR_SUCCESS;
}

void gb_call_child_init(apr_pool_t *pchild)
{
    gb_call_exiting = 0;
    /* A pre-cleanup: it runs before any of pchild's sub-pools goes. */
    apr_pool_pre_cleanup_register(pchild, NULL, gb_call_note_exit);
}

static apr_status_t gb_call_cleanup(void *data)
{
    gb_call *call = data;

    if (gb_call_exiting) {
        return APR_SUCCESS;
    }
    gb_call_cancel(call);
    gb_call_free_buffers(call);
    return APR_SUCCESS;
}

static apr_status_t gb_call_on_header(gb_h2_stream *st, int trailer,
                                      const char *name, apr_size_t nlen,
                                      const char *value, apr_size_t vlen)
{
    gb_call *call = st->ctx;

    /* HPACK lets a few bytes stand for a 4 KiB header, and grpc-message
     * is decoded into the call's pool: without a bound, one HEADERS frame
     * could make a request's pool grow by tens of MiB. */
    if (++call->headers > GB_CALL_MAX_HEADERS) {
        if (!call->err) {
            GB_CALL_LOG(call, APLOG_ERR, APR_EGENERAL, GB_APLOGNO(0186)
                        "%s: plugin %s sent more than %d headers and "
                        "trailers on %s", __func__, call->plugin,
                        GB_CALL_MAX_HEADERS, call->method);
            call->err = APR_EGENERAL;
            if (call->conn) {
                gb_conn_poison(call->conn);
            }
        }
        return APR_EGENERAL;
    }
    GB_CALL_LOG(call, APLOG_TRACE4, APR_SUCCESS,
                "gb_call(%s-%lu-%d): %s %.*s: %.*s", call->plugin,
                call->conn_id, st->id, trailer ? "trailer" : "header",
                (int)nlen, name, (int)vlen, value);
    gb_grpc_status_header(&call->status, call->pool, name, nlen, value, vlen);
    return APR_SUCCESS;
}

static apr_status_t gb_call_on_msg(void *baton, unsigned char *data,
                                   apr_size_t len)
{
    gb_call *call = baton;
    gb_call_msg *m = malloc(sizeof(*m));

    if (!m) {
        free(data);
        return APR_ENOMEM;
    }
    m->next = NULL;
    m->data = data;
    m->len = len;
    if (call->tail) {
        call->tail->next = m;
    }
    else {
        call->head = m;
    }
    call->tail = m;
    return APR_SUCCESS;
}

static apr_status_t gb_call_on_data(gb_h2_stream *st, const unsigned char *data,
                                    apr_size_t len)
{
    gb_call *call = st->ctx;
    apr_status_t rv;

    call->got_data = 1;
    if (call->status.http_status != 200) {
        /* Not a gRPC response: the body is no message; status says why. */
        gb_h2_consume(call->h2, st, len);
        return APR_SUCCESS;
    }
    rv = gb_grpc_reader_feed(&call->rd, data, len, gb_call_on_msg, call);
    if (rv != APR_SUCCESS) {
        if (rv == APR_ENOSPC) {
            GB_CALL_LOG(call, APLOG_ERR, rv, GB_APLOGNO(0107)
                        "%s: plugin %s sent a message of %lu bytes on %s, "
                        "more than the limit of %lu", __func__, call->plugin,
                        (unsigned long)call->rd.len, call->method,
                        (unsigned long)call->rd.max_message);
        }
        else if (rv == APR_ENOTIMPL) {
            GB_CALL_LOG(call, APLOG_ERR, rv, GB_APLOGNO(0108)
                        "%s: plugin %s sent a compressed message on %s "
                        "(no compression was offered)", __func__,
                        call->plugin, call->method);
        }
        call->err = APR_EGENERAL;
        /* The stream is reset; keep the connection out of reuse too. */
        gb_conn_poison(call->conn);
        return rv;
    }
    if (call->head) {
        /* Someone waits to be read: stop opening the window. */
        call->withheld += len;
    }
    else {
        gb_h2_consume(call->h2, st, len);
    }
    return APR_SUCCESS;
}

static gb_h2_ssize gb_call_read(gb_h2_stream *st, unsigned char *buf,
                                apr_size_t len, apr_uint32_t *data_flags)
{
    gb_call *call = st->ctx;
    apr_size_t n = call->out_len - call->out_off;

    if (n == 0 && !call->eos) {
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > len) {
        n = len;
    }
    if (n) {
        memcpy(buf, call->out + call->out_off, n);
        call->out_off += n;
    }
    if (call->out_off == call->out_len && call->eos) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (gb_h2_ssize)n;
}

apr_status_t gb_call_start(gb_conn *c, apr_pool_t *p, const char *method,
                           apr_interval_time_t deadline,
                           apr_size_t max_message, gb_call **out)
{
    gb_call *call;
    nghttp2_nv *nva;
    apr_size_t nvlen;
    apr_status_t rv;

    call = apr_pcalloc(p, sizeof(*call));
    call->pool = p;
    call->h2 = gb_conn_session(c);
    call->method = method;
    call->plugin = gb_h2_plugin(call->h2);
    call->conn_id = gb_conn_id(c);
    call->deadline_at = deadline > 0 ? apr_time_now() + deadline : 0;
    gb_grpc_reader_init(&call->rd, max_message);
    gb_grpc_status_init(&call->status);
    call->st.ctx = call;
    call->st.on_header = gb_call_on_header;
    call->st.on_data = gb_call_on_data;
    call->st.read = gb_call_read;

    call->sent_before = gb_h2_sent(call->h2);
    rv = gb_grpc_request_nv(p, method, deadline, &nva, &nvlen);
    if (rv == APR_SUCCESS) {
        rv = gb_h2_submit(call->h2, &call->st, nva, nvlen);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    call->conn = c;
    call->home = c;
    apr_pool_cleanup_register(p, call, gb_call_cleanup, apr_pool_cleanup_null);
    GB_CALL_LOG(call, APLOG_TRACE2, APR_SUCCESS,
                "gb_call(%s-%lu-%d): started %s", call->plugin, call->conn_id,
                call->st.id, method);
    *out = call;
    return APR_SUCCESS;
}

static int gb_call_sent(void *baton)
{
    gb_call *call = baton;

    return call->err || call->st.closed
           || (call->out_off == call->out_len
               && (!call->eos || call->st.end_sent));
}

static int gb_call_readable(void *baton)
{
    gb_call *call = baton;

    return call->err || call->head || call->st.closed;
}

/* After a pump: a failed connection fails the call for good. */
static apr_status_t gb_call_pumped(gb_call *call, apr_status_t rv,
                                   const char *what)
{
    if (rv == APR_SUCCESS || APR_STATUS_IS_TIMEUP(rv)) {
        return rv;
    }
    GB_CALL_LOG(call, APLOG_DEBUG, rv, GB_APLOGNO(0183)
                "%s: connection %lu to plugin %s failed while %s on %s",
                __func__, call->conn_id, call->plugin, what, call->method);
    if (!call->err) {
        call->err = APR_ECONNRESET;
    }
    return call->err;
}

static apr_status_t gb_call_write(gb_call *call, apr_interval_time_t timeout)
{
    apr_status_t rv;

    gb_h2_resume(call->h2, &call->st);
    rv = gb_h2_pump(call->h2, gb_call_sent, call, apr_time_now() + timeout);
    if (rv == APR_SUCCESS && !call->err && call->st.closed
        && !(call->out_off == call->out_len && call->st.end_sent)) {
        /* The plugin ended the call before taking all we had. */
        rv = APR_EOF;
    }
    else if (rv == APR_SUCCESS && call->err) {
        rv = call->err;
    }
    else if (APR_STATUS_IS_TIMEUP(rv)) {
        /* Half a message may be on the wire: the stream is unusable. */
        GB_CALL_LOG(call, APLOG_DEBUG, rv, GB_APLOGNO(0110)
                    "%s: plugin %s did not take our message on %s in time",
                    __func__, call->plugin, call->method);
        gb_call_cancel(call);
    }
    else {
        rv = gb_call_pumped(call, rv, "sending");
    }
    free(call->out);
    call->out = NULL;
    call->out_len = call->out_off = 0;
    return rv;
}

apr_status_t gb_call_send(gb_call *call, const ProtobufCMessage *msg,
                          int end_stream, apr_interval_time_t timeout)
{
    apr_size_t size;

    if (call->err) {
        return call->err;
    }
    if (!call->conn || call->st.closed) {
        return APR_EOF;
    }
    if (call->eos) {
        return APR_EINVAL;   /* already half-closed */
    }
    /* gb_encode changes msg while it packs and restores it before it
     * returns; every caller's message is its own (no const object). */
    size = gb_encode_size((ProtobufCMessage *)msg);
    if (size > 0xffffffffUL) {
        return APR_ENOSPC;
    }
    call->out = malloc(GB_GRPC_FRAME_HDR + size);
    if (!call->out) {
        return APR_ENOMEM;
    }
    gb_grpc_frame_header(call->out, size);
    if (gb_encode_pack((ProtobufCMessage *)msg,
                       call->out + GB_GRPC_FRAME_HDR) != size) {
        free(call->out);
        call->out = NULL;
        return APR_ENOMEM;
    }
    call->out_len = GB_GRPC_FRAME_HDR + size;
    call->out_off = 0;
    call->eos = end_stream ? 1 : 0;
    GB_CALL_LOG(call, APLOG_TRACE3, APR_SUCCESS,
                "gb_call(%s-%lu-%d): sending %s of %lu bytes%s", call->plugin,
                call->conn_id, call->st.id, msg->descriptor->short_name,
                (unsigned long)size, end_stream ? ", end of stream" : "");
    return gb_call_write(call, timeout);
}

apr_status_t gb_call_close_send(gb_call *call, apr_interval_time_t timeout)
{
    if (call->err) {
        return call->err;
    }
    if (!call->conn || call->st.closed) {
        return APR_EOF;
    }
    if (call->eos && call->st.end_sent) {
        return APR_SUCCESS;
    }
    call->eos = 1;
    return gb_call_write(call, timeout);
}

apr_status_t gb_call_recv(gb_call *call, apr_pool_t *p,
                          const ProtobufCMessageDescriptor *d,
                          apr_interval_time_t timeout, ProtobufCMessage **out)
{
    ProtobufCAllocator a;
    gb_call_msg *m;
    apr_status_t rv;

    *out = NULL;
    if (!call->head && !call->err && !call->st.closed && call->conn) {
        rv = gb_h2_pump(call->h2, gb_call_readable, call,
                        apr_time_now() + timeout);
        if (APR_STATUS_IS_TIMEUP(rv)) {
            GB_CALL_LOG(call, APLOG_TRACE2, rv,
                        "gb_call(%s-%lu-%d): no message within %" APR_TIME_T_FMT
                        "ms", call->plugin, call->conn_id, call->st.id,
                        apr_time_as_msec(timeout));
            return rv;
        }
        gb_call_pumped(call, rv, "receiving");
    }
    if (call->head) {
        m = call->head;
        call->head = m->next;
        if (!call->head) {
            call->tail = NULL;
            if (call->withheld && call->conn) {
                gb_h2_consume(call->h2, &call->st, call->withheld);
                call->withheld = 0;
            }
        }
        gb_pb_allocator(&a, p);
        *out = protobuf_c_message_unpack(d, &a, m->len, m->data);
        GB_CALL_LOG(call, APLOG_TRACE3, APR_SUCCESS,
                    "gb_call(%s-%lu-%d): received %s of %lu bytes",
                    call->plugin, call->conn_id, call->st.id, d->short_name,
                    (unsigned long)m->len);
        free(m->data);
        free(m);
        if (!*out) {
            GB_CALL_LOG(call, APLOG_ERR, APR_EGENERAL, GB_APLOGNO(0109)
                        "%s: plugin %s sent a message on %s that is not a "
                        "valid %s", __func__, call->plugin, call->method,
                        d->name);
            call->err = APR_EGENERAL;
            gb_call_cancel(call);
            return APR_EGENERAL;
        }
        return APR_SUCCESS;
    }
    if (call->err) {
        return call->err;
    }
    if (call->st.closed || !call->conn) {
        return APR_EOF;
    }
    return APR_ECONNRESET;
}

gb_conn *gb_call_conn(const gb_call *call)
{
    return call->home;
}

gb_call_fate gb_call_fate_of(const gb_call *call)
{
    if (call->headers || call->got_data) {
        return GB_CALL_SEEN;
    }
    /* nghttp2 closes the streams a GOAWAY left out with REFUSED_STREAM. */
    if (call->st.closed && call->st.error_code == NGHTTP2_REFUSED_STREAM) {
        return GB_CALL_REFUSED;
    }
    if (call->err == APR_ECONNRESET) {
        /* Not a byte of the call left: the connection was gone before it
         * (a pooled one whose plugin stopped or died while it was idle). */
        if (gb_h2_sent(call->h2) == call->sent_before) {
            return GB_CALL_REFUSED;
        }
        /* A connection the plugin accepted but never served (its listener
         * closed as it stopped) is reset without a word. */
        return gb_h2_heard(call->h2) ? GB_CALL_LOST_UNANSWERED
                                     : GB_CALL_REFUSED;
    }
    return GB_CALL_SEEN;
}

int gb_call_may_resend(gb_call_fate fate, int sent, int reused,
                       int idempotent)
{
    if (sent >= GB_CALL_SENDS) {
        return 0;
    }
    switch (fate) {
    case GB_CALL_REFUSED:
        return 1;
    case GB_CALL_LOST_UNANSWERED:
        /* A plugin being stopped or replaced closes its idle connections;
         * a crash mid-call looks the same, which only a request that may
         * run twice survives, and only once. */
        return sent == 1 && reused && idempotent;
    default:
        return 0;
    }
}

void gb_call_set_baton(gb_call *call, void *baton)
{
    call->baton = baton;
}

void *gb_call_baton(const gb_call *call)
{
    return call->baton;
}

gb_conn *gb_call_take_conn(gb_call *call)
{
    gb_conn *c = call->home;

    call->home = NULL;
    return c;
}

int gb_call_status(gb_call *call, const char **message)
{
    const char *msg = NULL;
    int code;

    if (call->err == APR_ECONNRESET) {
        msg = "connection to the plugin lost";
        code = GB_GRPC_UNAVAILABLE;
    }
    else if (call->err) {
        msg = "protocol error";
        code = GB_GRPC_INTERNAL;
    }
    else if (call->cancelled) {
        msg = "cancelled";
        code = GB_GRPC_CANCELLED;
    }
    else if (!call->st.closed) {
        msg = "call still running";
        code = GB_GRPC_UNKNOWN;
    }
    else if (!gb_grpc_reader_idle(&call->rd)) {
        msg = "stream ended inside a message";
        code = GB_GRPC_INTERNAL;
    }
    else {
        code = gb_grpc_status_final(&call->status, call->st.error_code,
                                    call->pool, &msg);
        if (code == GB_GRPC_CANCELLED && call->status.grpc_status < 0
            && call->deadline_at && apr_time_now() >= call->deadline_at) {
            /* grpc-go resets a stream whose grpc-timeout ran out. */
            msg = "deadline exceeded";
            code = GB_GRPC_DEADLINE_EXCEEDED;
        }
    }
    if (message) {
        *message = msg;
    }
    return code;
}

void gb_call_cancel(gb_call *call)
{
    if (!call || !call->conn) {
        return;
    }
    if (!call->st.closed) {
        call->cancelled = 1;
        gb_h2_reset(call->h2, &call->st, NGHTTP2_CANCEL);
        /* If this fails the session is marked broken and not reused. */
        gb_h2_flush(call->h2, apr_time_now() + GB_CALL_CANCEL_FLUSH);
    }
    gb_call_detach(call);
}

apr_status_t gb_call_unary(gb_conn *c, apr_pool_t *p, const char *method,
                           const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_desc,
                           apr_interval_time_t timeout, apr_size_t max_message,
                           int *grpc_status, const char **grpc_message,
                           ProtobufCMessage **out, gb_call_fate *fate)
{
    apr_time_t deadline = apr_time_now() + timeout;
    ProtobufCMessage *resp = NULL, *extra = NULL;
    gb_call *call;
    apr_status_t rv;

    *out = NULL;
    rv = gb_call_start(c, p, method, timeout, max_message, &call);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = gb_call_send(call, req, 1, deadline - apr_time_now());
    if (rv == APR_SUCCESS || rv == APR_EOF) {
        rv = gb_call_recv(call, p, resp_desc, deadline - apr_time_now(),
                          &resp);
    }
    if (rv == APR_SUCCESS) {
        /* The trailers follow; a second message is a protocol error. */
        rv = gb_call_recv(call, p, resp_desc, deadline - apr_time_now(),
                          &extra);
        if (rv == APR_SUCCESS) {
            rv = APR_EGENERAL;
        }
    }
    if (rv != APR_EOF) {
        if (APR_STATUS_IS_TIMEUP(rv)) {
            GB_CALL_LOG(call, APLOG_DEBUG, rv, GB_APLOGNO(0185)
                        "%s: plugin %s did not answer %s within %"
                        APR_TIME_T_FMT "ms", __func__, call->plugin, method,
                        apr_time_as_msec(timeout));
        }
        if (fate) {
            *fate = gb_call_fate_of(call);
        }
        gb_call_cancel(call);
        return rv;
    }
    *grpc_status = gb_call_status(call, grpc_message);
    if (fate) {
        *fate = gb_call_fate_of(call);
    }
    gb_call_cancel(call);
    if (*grpc_status == GB_GRPC_OK) {
        if (!resp) {
            *grpc_status = GB_GRPC_INTERNAL;
            if (grpc_message) {
                *grpc_message = "no response message";
            }
        }
        *out = resp;
    }
    return APR_SUCCESS;
}
