/* gb_response.c: validation of plugin response heads (RFC 9110 §5). */
#include "gb_response.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>
#include <strings.h>

#include <httpd.h>
#include <http_log.h>

int gb_response_valid_name(const unsigned char *s, apr_size_t n)
{
    /* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
     *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
    static const char extra[] = "!#$%&'*+-.^_`|~";
    apr_size_t i;

    if (n == 0) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (s[i] >= 0x80 || !(apr_isalnum(s[i]) || strchr(extra, s[i]))
            || s[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

int gb_response_valid_value(const unsigned char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int gb_response_is_hop_by_hop(const char *name)
{
    static const char *const hop[] = {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "TE",
        "Trailer", "Proxy-Connection", NULL
    };
    int i;

    for (i = 0; hop[i]; i++) {
        if (!strcasecmp(name, hop[i])) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t gb_check_pairs(apr_pool_t *p, Gobridge__V1__Pair **v,
                                   size_t n, const char *what,
                                   const char **why)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const Gobridge__V1__Pair *pr = v[i];
        if (!gb_response_valid_name(pr->key.data, pr->key.len)) {
            *why = apr_psprintf(p, "%s name #%lu is not an HTTP token", what,
                                (unsigned long)i);
            return APR_EINVAL;
        }
        if (!gb_response_valid_value(pr->value.data, pr->value.len)) {
            *why = apr_psprintf(p, "%s '%s' has a control character in its "
                                "value", what, gb_pb_strdup(p, pr->key));
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static void gb_add_pairs(apr_pool_t *p, Gobridge__V1__Pair **v, size_t n,
                         apr_table_t *t, gb_response_head *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *k = gb_pb_strdup(p, v[i]->key);
        const char *val = gb_pb_strdup(p, v[i]->value);

        if (gb_response_is_hop_by_hop(k)) {
            APR_ARRAY_PUSH(out->dropped, const char *) = k;
        }
        else if (!strcasecmp(k, "Content-Length")) {
            continue;           /* httpd computes the framing */
        }
        else if (!strcasecmp(k, "Content-Type")) {
            out->content_type = val;
        }
        else {
            apr_table_addn(t, k, val);
        }
    }
}

apr_status_t gb_response_apply_head(apr_pool_t *p,
                                    const Gobridge__V1__ResponseHead *h,
                                    apr_table_t *headers_out,
                                    apr_table_t *err_headers_out,
                                    gb_response_head *out, const char **why)
{
    apr_status_t rv;

    if (h->status < 200 || h->status > 599) {
        *why = apr_psprintf(p, "status %d is outside 200..599", h->status);
        return APR_EINVAL;
    }
    rv = gb_check_pairs(p, h->headers, h->n_headers, "header", why);
    if (rv == APR_SUCCESS) {
        rv = gb_check_pairs(p, h->err_headers, h->n_err_headers,
                            "err_header", why);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    out->status = h->status;
    out->content_type = NULL;
    out->dropped = apr_array_make(p, 1, sizeof(const char *));
    gb_add_pairs(p, h->headers, h->n_headers, headers_out, out);
    gb_add_pairs(p, h->err_headers, h->n_err_headers, err_headers_out, out);
    return APR_SUCCESS;
}

int gb_response_log_level(Gobridge__V1__LogRecord__Level l, int *level)
{
    switch (l) {
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_UNSPECIFIED:
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_INFO:
        *level = APLOG_INFO; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_EMERG:
        *level = APLOG_EMERG; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_ALERT:
        *level = APLOG_ALERT; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_CRIT:
        *level = APLOG_CRIT; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_ERR:
        *level = APLOG_ERR; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_WARNING:
        *level = APLOG_WARNING; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_NOTICE:
        *level = APLOG_NOTICE; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_DEBUG:
        *level = APLOG_DEBUG; return 1;
    case GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_TRACE1:
        *level = APLOG_TRACE1; return 1;
    default:
        return 0;
    }
}
