/* gb_response.h: validate and apply a plugin's ResponseHead.
 *
 * Pure functions over APR tables (no request_rec), so they can be unit
 * tested without httpd. Nothing a plugin sends reaches the client unchecked.
 */
#ifndef GB_RESPONSE_H
#define GB_RESPONSE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "gb_pb.h"

typedef struct gb_response_head {
    int status;                      /* 200..599 */
    const char *content_type;        /* NULL when the plugin sent none */
    apr_array_header_t *dropped;     /* const char *: hop-by-hop names */
} gb_response_head;

/* RFC 9110 token (header field name). */
int gb_response_valid_name(const unsigned char *s, apr_size_t n);

/* Field value: no CTL but HTAB (so no CR, LF or NUL); DEL refused too. */
int gb_response_valid_value(const unsigned char *s, apr_size_t n);

/* Hop-by-hop fields that a content handler must not set. */
int gb_response_is_hop_by_hop(const char *name);

/* Maps a plugin's LogRecord level to httpd's APLOG_* level in *level;
 * returns 0 for an unknown level (a protocol error). Shared by the content
 * handler and the phase harness. */
int gb_response_log_level(Gobridge__V1__LogRecord__Level l, int *level);

/* Validates every part of h first, then (only if all is valid) copies its
 * headers into p and adds them to headers_out / err_headers_out, skipping
 * hop-by-hop fields (listed in out->dropped), Content-Length (httpd frames
 * the response) and Content-Type (returned in out->content_type for
 * ap_set_content_type). On a bad head returns APR_EINVAL with *why set and
 * leaves the tables untouched. */
apr_status_t gb_response_apply_head(apr_pool_t *p,
                                    const Gobridge__V1__ResponseHead *h,
                                    apr_table_t *headers_out,
                                    apr_table_t *err_headers_out,
                                    gb_response_head *out, const char **why);

#endif /* GB_RESPONSE_H */
