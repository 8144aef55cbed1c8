/* gb_grpc.c: the gRPC-over-HTTP/2 codec, without any I/O. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "gb_grpc.h"
#include "gb_call.h"

/* Codes used only by the HTTP-status mapping below. */
#define GB_GRPC_PERMISSION_DENIED   7
#define GB_GRPC_RESOURCE_EXHAUSTED  8
#define GB_GRPC_UNAUTHENTICATED    16

void gb_grpc_frame_header(unsigned char hdr[GB_GRPC_FRAME_HDR], apr_size_t len)
{
    hdr[0] = 0; /* never compressed */
    hdr[1] = (unsigned char)((len >> 24) & 0xff);
    hdr[2] = (unsigned char)((len >> 16) & 0xff);
    hdr[3] = (unsigned char)((len >> 8) & 0xff);
    hdr[4] = (unsigned char)(len & 0xff);
}

void gb_grpc_reader_init(gb_grpc_reader *rd, apr_size_t max_message)
{
    memset(rd, 0, sizeof(*rd));
    rd->max_message = max_message;
}

int gb_grpc_reader_idle(const gb_grpc_reader *rd)
{
    return rd->hdr_len == 0;
}

void gb_grpc_reader_clear(gb_grpc_reader *rd)
{
    free(rd->buf);
    rd->buf = NULL;
    rd->hdr_len = 0;
    rd->len = rd->got = 0;
}

apr_status_t gb_grpc_reader_feed(gb_grpc_reader *rd, const unsigned char *data,
                                 apr_size_t len, gb_grpc_msg_fn *fn,
                                 void *baton)
{
    while (len > 0 || (rd->hdr_len == GB_GRPC_FRAME_HDR && rd->got == rd->len)) {
        apr_size_t n;

        if (rd->hdr_len < GB_GRPC_FRAME_HDR) {
            n = GB_GRPC_FRAME_HDR - rd->hdr_len;
            if (n > len) {
                n = len;
            }
            memcpy(rd->hdr + rd->hdr_len, data, n);
            rd->hdr_len += n;
            data += n;
            len -= n;
            if (rd->hdr_len < GB_GRPC_FRAME_HDR) {
                return APR_SUCCESS;
            }
            if (rd->hdr[0] != 0) {
                return APR_ENOTIMPL;
            }
            rd->len = ((apr_size_t)rd->hdr[1] << 24)
                      | ((apr_size_t)rd->hdr[2] << 16)
                      | ((apr_size_t)rd->hdr[3] << 8) | rd->hdr[4];
            if (rd->len > rd->max_message) {
                /* Refuse before allocating: the prefix is untrusted. */
                return APR_ENOSPC;
            }
            rd->got = 0;
            if (rd->len > 0) {
                rd->buf = malloc(rd->len);
                if (!rd->buf) {
                    return APR_ENOMEM;
                }
            }
        }
        n = rd->len - rd->got;
        if (n > len) {
            n = len;
        }
        if (n) {
            memcpy(rd->buf + rd->got, data, n);
            rd->got += n;
            data += n;
            len -= n;
        }
        if (rd->got == rd->len) {
            unsigned char *msg = rd->buf;
            apr_size_t mlen = rd->len;
            apr_status_t rv;

            rd->buf = NULL;
            rd->hdr_len = 0;
            rd->len = rd->got = 0;
            rv = fn(baton, msg, mlen);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

const char *gb_grpc_timeout_encode(apr_pool_t *p, apr_interval_time_t timeout)
{
    static const struct {
        char unit;
        apr_int64_t us;
    } units[] = {
        { 'H', APR_INT64_C(3600000000) },
        { 'M', APR_INT64_C(60000000) },
        { 'S', APR_INT64_C(1000000) },
        { 'm', APR_INT64_C(1000) },
        { 'u', APR_INT64_C(1) },
    };
    const apr_int64_t max = APR_INT64_C(99999999); /* 8 digits */
    apr_int64_t t = timeout;
    int i;

    if (t <= 0) {
        return NULL;
    }
    /* Exact in the coarsest unit that fits. */
    for (i = 0; i < 5; i++) {
        if (t % units[i].us == 0 && t / units[i].us <= max) {
            return apr_psprintf(p, "%" APR_INT64_T_FMT "%c",
                                t / units[i].us, units[i].unit);
        }
    }
    /* Else round up in the finest unit that fits: never shorter than asked. */
    for (i = 4; i >= 0; i--) {
        /* Not (t + us - 1) / us: that overflows for t near INT64_MAX. */
        apr_int64_t v = t / units[i].us + (t % units[i].us != 0);
        if (v <= max) {
            return apr_psprintf(p, "%" APR_INT64_T_FMT "%c", v, units[i].unit);
        }
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "H", max);
}

static void gb_grpc_nv(nghttp2_nv *nv, const char *name, const char *value)
{
    nv->name = (uint8_t *)name;
    nv->namelen = strlen(name);
    nv->value = (uint8_t *)value;
    nv->valuelen = strlen(value);
    nv->flags = NGHTTP2_NV_FLAG_NONE;
}

apr_status_t gb_grpc_request_nv(apr_pool_t *p, const char *path,
                                apr_interval_time_t deadline,
                                nghttp2_nv **nva, apr_size_t *nvlen)
{
    nghttp2_nv *nv = apr_pcalloc(p, 8 * sizeof(*nv));
    const char *tmo = gb_grpc_timeout_encode(p, deadline);
    apr_size_t n = 0;

    if (!path || path[0] != '/') {
        return APR_EINVAL;
    }
    gb_grpc_nv(&nv[n++], ":method", "POST");
    gb_grpc_nv(&nv[n++], ":scheme", "http");
    gb_grpc_nv(&nv[n++], ":path", path);
    gb_grpc_nv(&nv[n++], ":authority", "localhost");
    gb_grpc_nv(&nv[n++], "content-type", "application/grpc");
    gb_grpc_nv(&nv[n++], "te", "trailers");
    if (tmo) {
        gb_grpc_nv(&nv[n++], "grpc-timeout", tmo);
    }
    *nva = nv;
    *nvlen = n;
    return APR_SUCCESS;
}

static int gb_grpc_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

char *gb_grpc_percent_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1);
    apr_size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int hi, lo;

        if (s[i] == '%' && i + 2 < len
            && (hi = gb_grpc_hexval(s[i + 1])) >= 0
            && (lo = gb_grpc_hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

void gb_grpc_status_init(gb_grpc_status *st)
{
    st->http_status = 0;
    st->grpc_status = -1;
    st->grpc_message = NULL;
    st->content_type = -1;
}

static int gb_grpc_name_is(const char *name, apr_size_t nlen, const char *want)
{
    return nlen == strlen(want) && memcmp(name, want, nlen) == 0;
}

static int gb_grpc_parse_uint(const char *v, apr_size_t len, int max)
{
    int n = 0;
    apr_size_t i;

    if (len == 0 || len > 9) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }
        n = n * 10 + (v[i] - '0');
    }
    return n > max ? -1 : n;
}

void gb_grpc_status_header(gb_grpc_status *st, apr_pool_t *p,
                           const char *name, apr_size_t nlen,
                           const char *value, apr_size_t vlen)
{
    if (gb_grpc_name_is(name, nlen, ":status")) {
        int s = gb_grpc_parse_uint(value, vlen, 999);
        st->http_status = s < 0 ? 999 : s;
    }
    else if (gb_grpc_name_is(name, nlen, "grpc-status")) {
        int s = gb_grpc_parse_uint(value, vlen, 1000000);
        /* A malformed status is a broken peer: report UNKNOWN, not OK. */
        st->grpc_status = s < 0 ? GB_GRPC_UNKNOWN : s;
    }
    else if (gb_grpc_name_is(name, nlen, "grpc-message")) {
        st->grpc_message = gb_grpc_percent_decode(p, value, vlen);
    }
    else if (gb_grpc_name_is(name, nlen, "content-type")) {
        /* application/grpc, optionally followed by +proto, ;params... */
        static const char ct[] = "application/grpc";
        apr_size_t n = sizeof(ct) - 1;
        st->content_type = (vlen >= n && strncasecmp(value, ct, n) == 0
                            && (vlen == n || value[n] == '+'
                                || value[n] == ';')) ? 1 : 0;
    }
}

static int gb_grpc_from_http(int http_status)
{
    switch (http_status) {
    case 400:
        return GB_GRPC_INTERNAL;
    case 401:
        return GB_GRPC_UNAUTHENTICATED;
    case 403:
        return GB_GRPC_PERMISSION_DENIED;
    case 404:
        return GB_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return GB_GRPC_UNAVAILABLE;
    default:
        return GB_GRPC_UNKNOWN;
    }
}

int gb_grpc_status_final(const gb_grpc_status *st, apr_uint32_t rst_error,
                         apr_pool_t *p, const char **message)
{
    if (st->grpc_status >= 0) {
        *message = st->grpc_message;
        return st->grpc_status;
    }
    if (st->http_status != 0 && st->http_status != 200) {
        *message = apr_psprintf(p, "HTTP status %d", st->http_status);
        return gb_grpc_from_http(st->http_status);
    }
    if (rst_error != NGHTTP2_NO_ERROR) {
        *message = apr_psprintf(p, "stream reset: %s",
                                nghttp2_http2_strerror(rst_error));
        switch (rst_error) {
        case NGHTTP2_REFUSED_STREAM:
            return GB_GRPC_UNAVAILABLE;
        case NGHTTP2_CANCEL:
            return GB_GRPC_CANCELLED;
        case NGHTTP2_ENHANCE_YOUR_CALM:
            return GB_GRPC_RESOURCE_EXHAUSTED;
        default:
            return GB_GRPC_INTERNAL;
        }
    }
    if (st->content_type == 0) {
        *message = "response is not application/grpc";
        return GB_GRPC_UNKNOWN;
    }
    *message = "stream ended without grpc-status";
    return GB_GRPC_UNKNOWN;
}
