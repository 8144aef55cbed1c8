/* gb_log.h: logging for the transport files, which may run without a
 * request (connection set-up, pchild cleanups) and, in the C unit tests,
 * without httpd at all (test/stub.c provides ap_log_error_/ap_log_rerror_).
 *
 * GB_LOG logs against r when there is one, else against s (which httpd
 * allows to be NULL). The level check happens in the ap_log_* macros
 * before any argument is formatted.
 */
#ifndef GB_LOG_H
#define GB_LOG_H

#include "gb_private.h"

#define GB_LOG(r, s, level, rv, ...)                                        \
    do {                                                                    \
        request_rec *gb_log_r_ = (r);                                       \
        if (gb_log_r_) {                                                    \
            ap_log_rerror(APLOG_MARK, level, rv, gb_log_r_, __VA_ARGS__);   \
        }                                                                   \
        else {                                                              \
            ap_log_error(APLOG_MARK, level, rv, (s), __VA_ARGS__);          \
        }                                                                   \
    } while (0)

#endif /* GB_LOG_H */
