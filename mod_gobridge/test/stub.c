/* stub.c: the few httpd symbols the transport references, so the C tests
 * link without httpd. Log lines go to stderr when GB_TEST_LOG is set
 * (any value; "trace" includes TRACE levels). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

module AP_MODULE_DECLARE_DATA gobridge_module;

static void stub_vlog(int level, apr_status_t status, const char *fmt,
                      va_list ap)
{
    const char *want = getenv("GB_TEST_LOG");
    char err[120];

    if (!want || ((level & APLOG_LEVELMASK) > APLOG_DEBUG
                  && strcmp(want, "trace") != 0)) {
        return;
    }
    fprintf(stderr, "[level %d] ", level & APLOG_LEVELMASK);
    vfprintf(stderr, fmt, ap);
    if (status) {
        fprintf(stderr, " (%d: %s)", status,
                apr_strerror(status, err, sizeof(err)));
    }
    fputc('\n', stderr);
}

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index,
                               int level, apr_status_t status,
                               const server_rec *s, const char *fmt, ...)
{
    va_list ap;

    (void)file; (void)line; (void)module_index; (void)s;
    va_start(ap, fmt);
    stub_vlog(level, status, fmt, ap);
    va_end(ap);
}

AP_DECLARE(void) ap_log_rerror_(const char *file, int line, int module_index,
                                int level, apr_status_t status,
                                const request_rec *r, const char *fmt, ...)
{
    va_list ap;

    (void)file; (void)line; (void)module_index; (void)r;
    va_start(ap, fmt);
    stub_vlog(level, status, fmt, ap);
    va_end(ap);
}
