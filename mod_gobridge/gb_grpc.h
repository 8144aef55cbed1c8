/* gb_grpc.h: the gRPC-over-HTTP/2 codec, without any I/O.
 *
 * Framing (5-byte length prefix), incremental reassembly of messages from
 * DATA chunks, the request header list, grpc-timeout encoding and
 * grpc-status / grpc-message parsing. Everything here is pure so it can be
 * tested byte by byte.
 */
#ifndef GB_GRPC_H
#define GB_GRPC_H

#include <apr_pools.h>
#include <apr_time.h>

#include "gb_h2_compat.h"

#define GB_GRPC_FRAME_HDR 5

/* Writes the 5-byte prefix of an uncompressed message of len bytes. */
void gb_grpc_frame_header(unsigned char hdr[GB_GRPC_FRAME_HDR], apr_size_t len);

/* Receives one complete message. data was malloc()ed and now belongs to
 * the callee (NULL when len is 0). A non-success return stops the feed. */
typedef apr_status_t gb_grpc_msg_fn(void *baton, unsigned char *data,
                                    apr_size_t len);

/* Incremental reassembly. Holds at most one partial message (malloc'd so
 * a long stream does not grow any pool). */
typedef struct gb_grpc_reader {
    apr_size_t max_message;
    unsigned char hdr[GB_GRPC_FRAME_HDR];
    apr_size_t hdr_len;       /* prefix bytes collected so far */
    unsigned char *buf;       /* payload being collected */
    apr_size_t len;           /* payload length announced by the prefix */
    apr_size_t got;           /* payload bytes collected */
} gb_grpc_reader;

void gb_grpc_reader_init(gb_grpc_reader *rd, apr_size_t max_message);

/* Feeds a DATA chunk. Calls fn for every message completed by it.
 * Returns APR_SUCCESS, APR_ENOSPC (a prefix announces more than
 * max_message), APR_ENOTIMPL (compressed message: we never offer
 * compression), APR_ENOMEM, or fn's error. After an error the reader is
 * unusable until gb_grpc_reader_clear(). */
apr_status_t gb_grpc_reader_feed(gb_grpc_reader *rd, const unsigned char *data,
                                 apr_size_t len, gb_grpc_msg_fn *fn,
                                 void *baton);

/* True when no partial message is pending (a clean message boundary). */
int gb_grpc_reader_idle(const gb_grpc_reader *rd);

/* Frees a partial message. */
void gb_grpc_reader_clear(gb_grpc_reader *rd);

/* Encodes a grpc-timeout value ("2S", "1500m", "250u"...): the coarsest
 * unit that is exact, else rounded up, at most 8 digits. Returns NULL for
 * timeout <= 0 (send no grpc-timeout). */
const char *gb_grpc_timeout_encode(apr_pool_t *p, apr_interval_time_t timeout);

/* Builds the request headers for a call to `path`. grpc-timeout is added
 * when deadline > 0. */
apr_status_t gb_grpc_request_nv(apr_pool_t *p, const char *path,
                                apr_interval_time_t deadline,
                                nghttp2_nv **nva, apr_size_t *nvlen);

/* Decodes grpc-message's percent-encoding into a NUL-terminated pool
 * string. Malformed escapes are kept literally. */
char *gb_grpc_percent_decode(apr_pool_t *p, const char *s, apr_size_t len);

/* What the response headers and trailers said about a call. */
typedef struct gb_grpc_status {
    int http_status;            /* :status, 0 until seen */
    int grpc_status;            /* grpc-status, -1 until seen */
    const char *grpc_message;   /* decoded grpc-message, NULL if none */
    int content_type;           /* -1 unseen, 0 not gRPC, 1 application/grpc */
} gb_grpc_status;

void gb_grpc_status_init(gb_grpc_status *st);

/* Records one response header or trailer; others are ignored. */
void gb_grpc_status_header(gb_grpc_status *st, apr_pool_t *p,
                           const char *name, apr_size_t nlen,
                           const char *value, apr_size_t vlen);

/* The final gRPC status of a stream that ended. rst_error is the HTTP/2
 * error code of a RST_STREAM that ended it (0 = none). Follows gRPC's
 * rules: grpc-status wins; else a non-200 :status maps to a code; else a
 * reset maps to a code; else UNKNOWN. *message gets grpc-message or a
 * short explanation (pool string). */
int gb_grpc_status_final(const gb_grpc_status *st, apr_uint32_t rst_error,
                         apr_pool_t *p, const char **message);

#endif /* GB_GRPC_H */
