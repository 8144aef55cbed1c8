/* gb_request.h: request_rec -> gobridge.v1.Request snapshot. */
#ifndef GB_REQUEST_H
#define GB_REQUEST_H

#include <httpd.h>

#include "gb_config.h"
#include "gb_pb.h"

/* Builds the snapshot in p. bytes fields point at the request's own strings
 * (no copies), so the snapshot must not outlive r. `plugin` is the
 * GoBridgePlugin name being called; options and location come from d. */
Gobridge__V1__Request *gb_request_build(request_rec *r, apr_pool_t *p,
                                        const char *plugin,
                                        const gb_dir_conf *d);

/* child_init: builds each server's constant part of the snapshot (names,
 * limits, timeouts, its own GoBridgeOption values) once, so a request
 * copies it instead of building it. */
void gb_request_child_init(apr_pool_t *pchild, server_rec *s);

/* The request body length from Content-Length, -1 when the body is chunked
 * or the header is unusable, 0 without a body. */
apr_off_t gb_request_content_length(request_rec *r);

/* optional_fn_retrieve hook: looks up mod_ssl's ssl_is_https and
 * ssl_var_lookup, so TLS facts are read when mod_ssl is loaded, with no
 * link-time dependency on it. */
void gb_request_optional_fns(void);

#endif /* GB_REQUEST_H */
