/* gb_private.h: what every mod_gobridge translation unit includes first.
 *
 * Declares the module so that `LogLevel gobridge:trace3` works in every
 * file, and our own log-message codes (GBnnnn, documented in
 * docs/error-reference.md; the next free number is in
 * docs/log-message-tags/next-number; never reuse one).
 */
#ifndef GB_PRIVATE_H
#define GB_PRIVATE_H

#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA gobridge_module;

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(gobridge);
#endif

#define GB_APLOGNO(n) "GB" #n ": "

/* Version of the module, reported in the error log at startup. */
#define GB_VERSION "0.1.0"

/* gRPC method paths of gobridge.v1.GoBridge. */
#define GB_METHOD_DESCRIBE "/gobridge.v1.GoBridge/Describe"
#define GB_METHOD_PHASE    "/gobridge.v1.GoBridge/Phase"
#define GB_METHOD_HANDLE   "/gobridge.v1.GoBridge/Handle"

#endif /* GB_PRIVATE_H */
