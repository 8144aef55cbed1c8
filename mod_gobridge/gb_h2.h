/* gb_h2.h: an nghttp2 client session over an APR socket (a unix socket, or
 * TCP through TLS for a remote plugin).
 *
 * Knows HTTP/2, nothing about gRPC. The session never waits by itself:
 * gb_h2_pump() writes what nghttp2 wants, then reads with a deadline and
 * feeds nghttp2 until the caller's condition holds. Flow control is
 * manual: received DATA only opens the window again when the consumer
 * calls gb_h2_consume(), so a slow consumer bounds what is buffered.
 */
#ifndef GB_H2_H
#define GB_H2_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_time.h>
#include <httpd.h>

#include "gb_h2_compat.h"

typedef struct gb_h2_session gb_h2_session;
struct gb_tls_conn;
typedef struct gb_h2_stream gb_h2_stream;

/* One stream, owned by the caller (embedded in its call object) and
 * attached to the session as nghttp2 stream user data. */
struct gb_h2_stream {
    void *ctx;                       /* the owner's object */
    int32_t id;                      /* set by gb_h2_submit(), 0 before */
    int closed;                      /* nghttp2 closed the stream */
    int end_sent;                    /* our END_STREAM went out */
    apr_uint32_t error_code;         /* RST_STREAM code when closed */
    /* A response header (trailer=0) or trailer (1). Non-success makes
     * the session reset the stream (and ignore the rest of the block). */
    apr_status_t (*on_header)(gb_h2_stream *st, int trailer,
                              const char *name, apr_size_t nlen,
                              const char *value, apr_size_t vlen);
    /* A DATA chunk. Non-success makes the session reset the stream. The
     * callee must gb_h2_consume() the bytes when done with them. */
    apr_status_t (*on_data)(gb_h2_stream *st, const unsigned char *data,
                            apr_size_t len);
    /* nghttp2 wants request body: like nghttp2_data_source_read_callback. */
    gb_h2_ssize (*read)(gb_h2_stream *st, unsigned char *buf, apr_size_t len,
                        apr_uint32_t *data_flags);
};

/* Starts an HTTP/2 client session on a connected socket: sends the
 * preface and our SETTINGS (no push, large windows). With tls (not NULL)
 * every byte goes through it, and peer names the address in log lines.
 * The session and its nghttp2 state are freed with p. plugin/s/id only
 * label log lines. */
apr_status_t gb_h2_session_open(gb_h2_session **out, apr_pool_t *p,
                                apr_socket_t *sock, struct gb_tls_conn *tls,
                                const char *peer, server_rec *s,
                                const char *plugin, unsigned long id,
                                apr_interval_time_t timeout);

/* Labels log lines with a request while a connection is borrowed. */
void gb_h2_set_request(gb_h2_session *h, request_rec *r);
request_rec *gb_h2_request(gb_h2_session *h);
server_rec *gb_h2_server(gb_h2_session *h);
const char *gb_h2_plugin(gb_h2_session *h);
unsigned long gb_h2_id(gb_h2_session *h);

/* Submits a request with a body provider (st->read). */
apr_status_t gb_h2_submit(gb_h2_session *h, gb_h2_stream *st,
                          const nghttp2_nv *nva, apr_size_t nvlen);

/* The body provider has data again (after returning DEFERRED). */
void gb_h2_resume(gb_h2_session *h, gb_h2_stream *st);

/* Gives back flow-control window for len bytes delivered by on_data. */
void gb_h2_consume(gb_h2_session *h, gb_h2_stream *st, apr_size_t len);

/* Resets the stream with code and detaches it: no callback will reach
 * st again. Queues the frame; gb_h2_flush()/pump sends it. */
void gb_h2_reset(gb_h2_session *h, gb_h2_stream *st, apr_uint32_t code);

/* Detaches st without resetting (stream already closed or ending). */
void gb_h2_detach(gb_h2_session *h, gb_h2_stream *st);

/* Writes everything nghttp2 has queued, by the deadline. */
apr_status_t gb_h2_flush(gb_h2_session *h, apr_time_t deadline);

/* Writes and reads until done(baton) is true (APR_SUCCESS), the deadline
 * passes (APR_TIMEUP), or the connection fails (APR_ECONNRESET, or the
 * socket error). done is checked after each write and after each read. */
typedef int gb_h2_done_fn(void *baton);
apr_status_t gb_h2_pump(gb_h2_session *h, gb_h2_done_fn *done, void *baton,
                        apr_time_t deadline);

/* For an idle connection: reads whatever the peer sent meanwhile
 * (GOAWAY, PING, EOF) without waiting, answers it, and tells whether the
 * session can take a new stream. */
int gb_h2_check_idle(gb_h2_session *h);

/* False once the peer sent GOAWAY, the socket failed, or nghttp2 gave up. */
int gb_h2_usable(gb_h2_session *h);
int gb_h2_got_goaway(gb_h2_session *h);

/* Whether any frame came from the peer on this connection. A server sends
 * its SETTINGS before it reads a request: nothing heard, nothing served. */
int gb_h2_heard(gb_h2_session *h);

/* How many bytes have been written to the peer on this connection. A call
 * during which this did not move never reached the plugin. */
apr_uint64_t gb_h2_sent(gb_h2_session *h);

#endif /* GB_H2_H */
