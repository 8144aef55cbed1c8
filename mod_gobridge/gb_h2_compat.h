/* gb_h2_compat.h: the one place that knows which nghttp2 API we build on.
 *
 * We write against the classic API of nghttp2 1.52 (Debian 12): ssize_t
 * callbacks, nghttp2_session_mem_recv/mem_send, nghttp2_data_provider.
 * 1.60 added nghttp2_ssize and *_callback2 variants and deprecated these;
 * if a future build needs them, switch here and nowhere else.
 */
#ifndef GB_H2_COMPAT_H
#define GB_H2_COMPAT_H

#include <nghttp2/nghttp2.h>

typedef ssize_t gb_h2_ssize;
typedef nghttp2_data_provider gb_h2_data_provider;

#define gb_h2_mem_recv      nghttp2_session_mem_recv
#define gb_h2_mem_send      nghttp2_session_mem_send
#define gb_h2_submit_request nghttp2_submit_request

#define gb_h2_set_send_callback         nghttp2_session_callbacks_set_send_callback
#define gb_h2_set_data_source_read_fn(dp, fn) ((dp)->read_callback = (fn))

#endif /* GB_H2_COMPAT_H */
