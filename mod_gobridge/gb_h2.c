/* gb_h2.c: an nghttp2 client session over an APR socket: a plugin's unix
 * socket, or a remote plugin's TCP connection through TLS (gb_tls.c). The
 * plain path calls apr_socket_send/recv as it always did; TLS is one
 * branch on h->tls in the two I/O functions. */
#include <apr_poll.h>
#include <apr_strings.h>

#include "gb_log.h"
#include "gb_h2.h"
#include "gb_tls.h"

/* Reads are fed to nghttp2 in chunks of this size. */
#define GB_H2_READ_BUF      (64 * 1024)
/* Frames nghttp2 serialises one at a time are gathered up to this size and
 * written together: a call's HEADERS and small DATA take one write(2).
 * Bigger frames (full 16 KiB DATA) are written in place, without a copy. */
#define GB_H2_WRITE_BUF     (16 * 1024)
/* Our receive windows: a 256 KiB body chunk never waits for a
 * WINDOW_UPDATE, and what a stream may buffer stays bounded. */
#define GB_H2_STREAM_WINDOW (1024 * 1024)
#define GB_H2_CONN_WINDOW   (4 * 1024 * 1024)
/* The setting (experimental range) by which the SDK tells our connections
 * from other clients': internal/leangrpc's SettingLean. */
#define GB_H2_SETTING_LEAN  0xf0b1

struct gb_h2_session {
    apr_pool_t *pool;
    apr_socket_t *sock;
    gb_tls_conn *tls;           /* NULL: plain socket */
    const char *peer;           /* remote address, NULL for a unix socket */
    nghttp2_session *ngh;
    server_rec *s;
    request_rec *r;
    const char *plugin;
    unsigned long id;
    int goaway;                 /* peer sent GOAWAY: no new streams */
    int heard;                  /* a frame came from the peer */
    int broken;                 /* I/O or protocol failure: close it */
    int reading_remains;        /* in gb_h2_read_remains() */
    apr_uint64_t sent;          /* bytes written to the peer so far */
    apr_uint64_t sent_at_read;  /* sent when a read last brought bytes */
    unsigned char *rbuf;
    unsigned char *wbuf;        /* GB_H2_WRITE_BUF, see gb_h2_flush */
};

#define GB_H2_LOG(h, level, rv, ...) GB_LOG((h)->r, (h)->s, level, rv, __VA_ARGS__)

static gb_h2_stream *gb_h2_stream_of(nghttp2_session *ngh, int32_t id)
{
    return id > 0 ? nghttp2_session_get_stream_user_data(ngh, id) : NULL;
}

static int gb_h2_on_header(nghttp2_session *ngh, const nghttp2_frame *frame,
                           const uint8_t *name, size_t namelen,
                           const uint8_t *value, size_t valuelen,
                           uint8_t flags, void *user_data)
{
    gb_h2_stream *st;

    (void)flags;
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    st = gb_h2_stream_of(ngh, frame->hd.stream_id);
    if (st && st->on_header
        && st->on_header(st, frame->headers.cat == NGHTTP2_HCAT_HEADERS,
                         (const char *)name, namelen,
                         (const char *)value, valuelen) != APR_SUCCESS) {
        /* nghttp2 resets the stream (INTERNAL_ERROR), skips the rest of
         * the block and closes the stream; the connection stays sane. */
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

static int gb_h2_on_data_chunk(nghttp2_session *ngh, uint8_t flags,
                               int32_t stream_id, const uint8_t *data,
                               size_t len, void *user_data)
{
    gb_h2_session *h = user_data;
    gb_h2_stream *st = gb_h2_stream_of(ngh, stream_id);

    (void)flags;
    if (!st || !st->on_data) {
        /* Nobody listens any more: give the window straight back. */
        nghttp2_session_consume(ngh, stream_id, len);
        return 0;
    }
    if (st->on_data(st, data, len) != APR_SUCCESS) {
        nghttp2_session_consume(ngh, stream_id, len);
        gb_h2_reset(h, st, NGHTTP2_PROTOCOL_ERROR);
    }
    return 0;
}

static int gb_h2_on_stream_close(nghttp2_session *ngh, int32_t stream_id,
                                 uint32_t error_code, void *user_data)
{
    gb_h2_session *h = user_data;
    gb_h2_stream *st = gb_h2_stream_of(ngh, stream_id);

    GB_H2_LOG(h, APLOG_TRACE3, APR_SUCCESS,
              "gb_h2(%s-%lu-%d): stream closed, error %u (%s)",
              h->plugin, h->id, stream_id, error_code,
              nghttp2_http2_strerror(error_code));
    if (st) {
        st->closed = 1;
        st->error_code = error_code;
    }
    return 0;
}

static int gb_h2_on_frame_recv(nghttp2_session *ngh, const nghttp2_frame *frame,
                               void *user_data)
{
    gb_h2_session *h = user_data;

    (void)ngh;
    h->heard = 1;
    switch (frame->hd.type) {
    case NGHTTP2_GOAWAY:
        h->goaway = 1;
        GB_H2_LOG(h, APLOG_DEBUG, APR_SUCCESS, GB_APLOGNO(0106)
                  "%s: plugin %s sent GOAWAY on connection %lu "
                  "(error %u %s, last stream %d)", __func__, h->plugin, h->id,
                  frame->goaway.error_code,
                  nghttp2_http2_strerror(frame->goaway.error_code),
                  frame->goaway.last_stream_id);
        break;
    case NGHTTP2_RST_STREAM:
        GB_H2_LOG(h, APLOG_TRACE2, APR_SUCCESS,
                  "gb_h2(%s-%lu-%d): RST_STREAM %u received", h->plugin,
                  h->id, frame->hd.stream_id, frame->rst_stream.error_code);
        break;
    default:
        GB_H2_LOG(h, APLOG_TRACE5, APR_SUCCESS,
                  "gb_h2(%s-%lu-%d): frame type %u flags 0x%x len %lu",
                  h->plugin, h->id, frame->hd.stream_id, frame->hd.type,
                  frame->hd.flags, (unsigned long)frame->hd.length);
        break;
    }
    return 0;
}

static int gb_h2_on_frame_send(nghttp2_session *ngh, const nghttp2_frame *frame,
                               void *user_data)
{
    gb_h2_stream *st;

    (void)user_data;
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)
        && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        st = gb_h2_stream_of(ngh, frame->hd.stream_id);
        if (st) {
            st->end_sent = 1;
        }
    }
    return 0;
}

static int gb_h2_on_frame_not_send(nghttp2_session *ngh,
                                   const nghttp2_frame *frame,
                                   int lib_error_code, void *user_data)
{
    gb_h2_session *h = user_data;
    gb_h2_stream *st = gb_h2_stream_of(ngh, frame->hd.stream_id);

    GB_H2_LOG(h, APLOG_TRACE2, APR_SUCCESS,
              "gb_h2(%s-%lu-%d): frame type %u not sent: %s", h->plugin, h->id,
              frame->hd.stream_id, frame->hd.type,
              nghttp2_strerror(lib_error_code));
    if (st && frame->hd.type == NGHTTP2_HEADERS) {
        /* The request never left (GOAWAY arrived first): refused. */
        st->closed = 1;
        st->error_code = NGHTTP2_REFUSED_STREAM;
    }
    return 0;
}

static gb_h2_ssize gb_h2_read_body(nghttp2_session *ngh, int32_t stream_id,
                                   uint8_t *buf, size_t length,
                                   uint32_t *data_flags,
                                   nghttp2_data_source *source, void *user_data)
{
    /* Not source->ptr: a detached stream's memory may be gone by the time
     * nghttp2 asks for more (an RST_STREAM still queued); detaching clears
     * the stream's user data, so this finds NULL then. */
    gb_h2_stream *st = gb_h2_stream_of(ngh, stream_id);

    (void)source;
    (void)user_data;
    if (!st || !st->read) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    return st->read(st, buf, length, data_flags);
}

static apr_status_t gb_h2_session_cleanup(void *data)
{
    gb_h2_session *h = data;

    if (h->ngh) {
        nghttp2_session_del(h->ngh);
        h->ngh = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t gb_h2_session_open(gb_h2_session **out, apr_pool_t *p,
                                apr_socket_t *sock, gb_tls_conn *tls,
                                const char *peer, server_rec *s,
                                const char *plugin, unsigned long id,
                                apr_interval_time_t timeout)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    nghttp2_settings_entry settings[3];
    gb_h2_session *h;
    int rc;

    h = apr_pcalloc(p, sizeof(*h));
    h->pool = p;
    h->sock = sock;
    h->tls = tls;
    h->peer = peer;
    h->s = s;
    h->plugin = plugin;
    h->id = id;
    h->rbuf = apr_palloc(p, GB_H2_READ_BUF);
    h->wbuf = apr_palloc(p, GB_H2_WRITE_BUF);

    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        return APR_ENOMEM;
    }
    nghttp2_session_callbacks_set_on_header_callback(cbs, gb_h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
                                                        gb_h2_on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                        gb_h2_on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
                                                        gb_h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
                                                        gb_h2_on_frame_send);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs,
                                                    gb_h2_on_frame_not_send);
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        return APR_ENOMEM;
    }
    /* Window updates follow consumption, not arrival: bounded buffering. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    rc = nghttp2_session_client_new2(&h->ngh, cbs, h, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0) {
        GB_H2_LOG(h, APLOG_ERR, APR_ENOMEM, GB_APLOGNO(0103)
                  "%s: cannot create HTTP/2 session for plugin %s: %s",
                  __func__, plugin, nghttp2_strerror(rc));
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, h, gb_h2_session_cleanup,
                              apr_pool_cleanup_null);

    settings[0].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    settings[0].value = 0;
    settings[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    settings[1].value = GB_H2_STREAM_WINDOW;
    /* Asks a Go plugin's SDK for its lean server (internal/leangrpc);
     * any other HTTP/2 server ignores a setting it does not know. */
    settings[2].settings_id = GB_H2_SETTING_LEAN;
    settings[2].value = 1;
    rc = nghttp2_submit_settings(h->ngh, NGHTTP2_FLAG_NONE, settings, 3);
    if (rc == 0) {
        rc = nghttp2_session_set_local_window_size(h->ngh, NGHTTP2_FLAG_NONE,
                                                   0, GB_H2_CONN_WINDOW);
    }
    if (rc != 0) {
        GB_H2_LOG(h, APLOG_ERR, APR_EGENERAL, GB_APLOGNO(0181)
                  "%s: cannot queue HTTP/2 settings for plugin %s: %s",
                  __func__, plugin, nghttp2_strerror(rc));
        return APR_EGENERAL;
    }
    *out = h;
    return gb_h2_flush(h, apr_time_now() + timeout);
}

void gb_h2_set_request(gb_h2_session *h, request_rec *r)
{
    h->r = r;
}

request_rec *gb_h2_request(gb_h2_session *h)
{
    return h->r;
}

server_rec *gb_h2_server(gb_h2_session *h)
{
    return h->s;
}

const char *gb_h2_plugin(gb_h2_session *h)
{
    return h->plugin;
}

unsigned long gb_h2_id(gb_h2_session *h)
{
    return h->id;
}

apr_status_t gb_h2_submit(gb_h2_session *h, gb_h2_stream *st,
                          const nghttp2_nv *nva, apr_size_t nvlen)
{
    gb_h2_data_provider prd;
    int32_t id;

    if (!gb_h2_usable(h)) {
        return APR_ECONNRESET;
    }
    prd.source.ptr = NULL;     /* gb_h2_read_body finds the stream by id */
    gb_h2_set_data_source_read_fn(&prd, gb_h2_read_body);
    id = gb_h2_submit_request(h->ngh, NULL, nva, nvlen, &prd, st);
    if (id < 0) {
        GB_H2_LOG(h, APLOG_ERR, APR_EGENERAL, GB_APLOGNO(0111)
                  "%s: cannot submit a request to plugin %s: %s", __func__,
                  h->plugin, nghttp2_strerror(id));
        /* Typically out of stream ids: retire the connection. */
        h->broken = 1;
        return APR_EGENERAL;
    }
    st->id = id;
    st->closed = st->end_sent = 0;
    st->error_code = 0;
    return APR_SUCCESS;
}

void gb_h2_resume(gb_h2_session *h, gb_h2_stream *st)
{
    if (st->id > 0 && !st->closed && h->ngh) {
        /* Fails harmlessly when the data is not deferred. */
        nghttp2_session_resume_data(h->ngh, st->id);
    }
}

void gb_h2_consume(gb_h2_session *h, gb_h2_stream *st, apr_size_t len)
{
    if (st->id > 0 && len > 0 && h->ngh) {
        nghttp2_session_consume(h->ngh, st->id, len);
    }
}

void gb_h2_detach(gb_h2_session *h, gb_h2_stream *st)
{
    if (st->id > 0 && h->ngh
        && nghttp2_session_get_stream_user_data(h->ngh, st->id) == st) {
        nghttp2_session_set_stream_user_data(h->ngh, st->id, NULL);
    }
    st->on_data = NULL;
    st->on_header = NULL;
    st->read = NULL;
}

void gb_h2_reset(gb_h2_session *h, gb_h2_stream *st, apr_uint32_t code)
{
    if (st->id > 0 && !st->closed && h->ngh) {
        GB_H2_LOG(h, APLOG_TRACE2, APR_SUCCESS,
                  "gb_h2(%s-%lu-%d): sending RST_STREAM %u", h->plugin, h->id,
                  st->id, code);
        nghttp2_submit_rst_stream(h->ngh, NGHTTP2_FLAG_NONE, st->id, code);
    }
    gb_h2_detach(h, st);
    st->closed = 1;
    if (!st->error_code) {
        st->error_code = code;
    }
}

static apr_status_t gb_h2_write_all(gb_h2_session *h, const unsigned char *d,
                                    apr_size_t len, apr_time_t deadline)
{
    if (h->tls) {
        apr_status_t rv = gb_tls_write(h->tls, (const char *)d, len,
                                       deadline);

        if (rv == APR_SUCCESS) {
            h->sent += len;
        }
        return rv;
    }
    while (len > 0) {
        apr_interval_time_t left = deadline - apr_time_now();
        apr_size_t n = len;
        apr_status_t rv;

        if (left <= 0) {
            return APR_TIMEUP;
        }
        apr_socket_timeout_set(h->sock, left);
        rv = apr_socket_send(h->sock, (const char *)d, &n);
        d += n;
        len -= n;
        h->sent += n;
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static void gb_h2_read_remains(gb_h2_session *h);

/* Writes out len bytes of frames; a failure breaks the session. */
static apr_status_t gb_h2_write_out(gb_h2_session *h, const unsigned char *d,
                                    apr_size_t len, apr_time_t deadline)
{
    apr_status_t rv = gb_h2_write_all(h, d, len, deadline);

    if (rv != APR_SUCCESS) {
        /* A partial frame on the wire: the session is unusable. */
        h->broken = 1;
        if (APR_STATUS_IS_EPIPE(rv) || APR_STATUS_IS_ECONNRESET(rv)) {
            gb_h2_read_remains(h);
        }
        if (h->tls && rv == GB_TLS_EFAILED) {
            GB_H2_LOG(h, APLOG_ERR, 0, GB_APLOGNO(0401)
                      "%s: TLS failed writing to plugin %s at %s on "
                      "connection %lu: %s", __func__, h->plugin, h->peer,
                      h->id, gb_tls_reason(h->tls));
            return rv;
        }
        GB_H2_LOG(h, APLOG_DEBUG, rv, GB_APLOGNO(0104)
                  "%s: writing to plugin %s failed on connection %lu",
                  __func__, h->plugin, h->id);
        return rv;
    }
    GB_H2_LOG(h, APLOG_TRACE6, APR_SUCCESS,
              "gb_h2(%s-%lu): wrote %lu bytes", h->plugin, h->id,
              (unsigned long)len);
    return APR_SUCCESS;
}

apr_status_t gb_h2_flush(gb_h2_session *h, apr_time_t deadline)
{
    apr_size_t used = 0;        /* bytes gathered in h->wbuf */

    if (h->broken || !h->ngh) {
        return APR_ECONNRESET;
    }
    for (;;) {
        const uint8_t *data;
        gb_h2_ssize n = gb_h2_mem_send(h->ngh, &data);
        apr_status_t rv = APR_SUCCESS;

        if (n < 0) {
            h->broken = 1;
            GB_H2_LOG(h, APLOG_ERR, APR_EGENERAL, GB_APLOGNO(0105)
                      "%s: HTTP/2 error on connection %lu to plugin %s: %s",
                      __func__, h->id, h->plugin, nghttp2_strerror((int)n));
            return APR_EGENERAL;
        }
        /* data is valid until the next mem_send: gather or write it now. */
        if (used > 0 && (n == 0 || used + (apr_size_t)n > GB_H2_WRITE_BUF)) {
            rv = gb_h2_write_out(h, h->wbuf, used, deadline);
            used = 0;
        }
        if (rv != APR_SUCCESS || n == 0) {
            return rv;
        }
        if ((apr_size_t)n <= GB_H2_WRITE_BUF) {
            memcpy(h->wbuf + used, data, (apr_size_t)n);
            used += (apr_size_t)n;
        }
        else if ((rv = gb_h2_write_out(h, data, (apr_size_t)n,
                                       deadline)) != APR_SUCCESS) {
            return rv;
        }
    }
}

/* Feeds what was read to nghttp2. */
static apr_status_t gb_h2_feed(gb_h2_session *h, apr_size_t len)
{
    gb_h2_ssize n = gb_h2_mem_recv(h->ngh, h->rbuf, len);

    if (n < 0) {
        h->broken = 1;
        GB_H2_LOG(h, APLOG_ERR, APR_EGENERAL, GB_APLOGNO(0184)
                  "%s: plugin %s broke the HTTP/2 protocol on connection "
                  "%lu: %s", __func__, h->plugin, h->id,
                  nghttp2_strerror((int)n));
        /* nghttp2 may have queued a GOAWAY for the peer: best effort. */
        h->broken = 0;
        gb_h2_flush(h, apr_time_now() + apr_time_from_msec(100));
        h->broken = 1;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Waits up to t for the plugin's socket to become readable. */
static apr_status_t gb_h2_wait_readable(gb_h2_session *h,
                                        apr_interval_time_t t)
{
    apr_pollfd_t pfd = { 0 };
    apr_int32_t n = 0;
    apr_status_t rv;

    pfd.p = h->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.reqevents = APR_POLLIN;
    pfd.desc.s = h->sock;
    do {
        rv = apr_poll(&pfd, 1, &n, t);
    } while (APR_STATUS_IS_EINTR(rv));
    return rv;
}

/* One read with a timeout (0: don't wait). APR_EAGAIN/APR_TIMEUP when
 * nothing came. A read that may wait, the first since we wrote something
 * (a call, a body chunk), waits before it reads: the plugin cannot have
 * answered yet, and apr_socket_recv would try a read first, one system
 * call per call that finds nothing. */
static apr_status_t gb_h2_read_once(gb_h2_session *h, apr_interval_time_t t)
{
    apr_size_t len = GB_H2_READ_BUF;
    apr_status_t rv;

    if (h->tls) {
        rv = gb_tls_read(h->tls, (char *)h->rbuf, &len, t);
    }
    else if (t > 0 && h->sent != h->sent_at_read
             && (rv = gb_h2_wait_readable(h, t)) != APR_SUCCESS) {
        len = 0;
    }
    else {
        apr_socket_timeout_set(h->sock, t);
        rv = apr_socket_recv(h->sock, (char *)h->rbuf, &len);
    }
    if (len > 0) {
        h->sent_at_read = h->sent;
        GB_H2_LOG(h, APLOG_TRACE6, APR_SUCCESS,
                  "gb_h2(%s-%lu): read %lu bytes", h->plugin, h->id,
                  (unsigned long)len);
        return gb_h2_feed(h, len);
    }
    if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EAGAIN(rv)) {
        return rv;
    }
    h->broken = 1;
    if (h->tls && rv == GB_TLS_EFAILED) {
        /* An alert from the plugin: it refused our certificate, say. */
        GB_H2_LOG(h, APLOG_ERR, 0, GB_APLOGNO(0400)
                  "%s: TLS failed on connection %lu to plugin %s at %s: %s",
                  __func__, h->id, h->plugin, h->peer,
                  gb_tls_reason(h->tls));
        return rv;
    }
    GB_H2_LOG(h, APLOG_DEBUG, rv, GB_APLOGNO(0182)
              "%s: connection %lu to plugin %s lost%s", __func__, h->id,
              h->plugin, rv == APR_SUCCESS || APR_STATUS_IS_EOF(rv)
                         ? " (closed by the plugin)" : "");
    /* Callers see one status for "the peer went away". */
    return (rv == APR_SUCCESS || APR_STATUS_IS_EOF(rv)) ? APR_ECONNRESET : rv;
}

/* The plugin closed the connection while we wrote to it. What it sent
 * before closing is still in the socket: most often the GOAWAY of a plugin
 * that stopped before it read our new stream (closing with our frames
 * unread makes the kernel fail our next write with ECONNRESET, ahead of
 * the data we have not read). Fed to nghttp2, that GOAWAY closes the
 * stream as REFUSED_STREAM, so the call is known to be safe to send again
 * instead of "lost". Bounded, and never waits: the peer is gone. */
static void gb_h2_read_remains(gb_h2_session *h)
{
    int i;

    if (h->tls || h->reading_remains || !h->ngh) {
        return;     /* TLS: a TCP reset discards what it had queued */
    }
    h->reading_remains = 1;
    for (i = 0; i < 16; i++) {
        if (gb_h2_read_once(h, 0) != APR_SUCCESS) {
            break;
        }
    }
    h->reading_remains = 0;
}

apr_status_t gb_h2_pump(gb_h2_session *h, gb_h2_done_fn *done, void *baton,
                        apr_time_t deadline)
{
    for (;;) {
        apr_interval_time_t left;
        apr_status_t rv;

        if (done(baton)) {
            return APR_SUCCESS;
        }
        rv = gb_h2_flush(h, deadline);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (done(baton)) {
            return APR_SUCCESS;
        }
        if (!nghttp2_session_want_read(h->ngh)
            && !nghttp2_session_want_write(h->ngh)) {
            h->broken = 1;
            return APR_ECONNRESET;
        }
        left = deadline - apr_time_now();
        if (left <= 0) {
            return APR_TIMEUP;
        }
        rv = gb_h2_read_once(h, left);
        if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EAGAIN(rv)) {
            if (done(baton)) {
                return APR_SUCCESS;
            }
            return APR_TIMEUP;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
}

int gb_h2_check_idle(gb_h2_session *h)
{
    int i;

    /* Bounded: an idle peer has at most a few control frames for us. */
    for (i = 0; i < 16 && !h->broken; i++) {
        apr_status_t rv = gb_h2_read_once(h, 0);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    if (!h->broken) {
        gb_h2_flush(h, apr_time_now() + apr_time_from_msec(100));
    }
    return gb_h2_usable(h);
}

int gb_h2_usable(gb_h2_session *h)
{
    return !h->broken && !h->goaway && h->ngh
           && nghttp2_session_want_read(h->ngh);
}

int gb_h2_got_goaway(gb_h2_session *h)
{
    return h->goaway;
}

int gb_h2_heard(gb_h2_session *h)
{
    return h->heard;
}

apr_uint64_t gb_h2_sent(gb_h2_session *h)
{
    return h->sent;
}
