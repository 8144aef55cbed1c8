/* gb_tls.c: mutual TLS to remote plugins, with OpenSSL (see gb_tls.h). */
#include <apr_portable.h>
#include <apr_strings.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "gb_tls.h"

struct gb_tls_ctx {
    SSL_CTX *ctx;
    const char *servername;     /* NULL: each address's host */
};

struct gb_tls_conn {
    apr_pool_t *pool;
    SSL *ssl;
    int fd;
    int established;            /* handshake done: close_notify on close */
    const char *reason;         /* of the last failure */
};

/* OpenSSL's queued errors as one line ("reason; reason"), emptying the
 * queue; fallback when there are none. */
static const char *gb_tls_errors(apr_pool_t *p, const char *fallback)
{
    const char *out = NULL;
    unsigned long e;

    while ((e = ERR_get_error()) != 0) {
        char buf[256];

        ERR_error_string_n(e, buf, sizeof(buf));
        out = out ? apr_pstrcat(p, out, "; ", buf, NULL)
                  : apr_pstrdup(p, buf);
    }
    return out ? out : fallback;
}

static apr_status_t gb_tls_ctx_cleanup(void *data)
{
    gb_tls_ctx *tc = data;

    if (tc->ctx) {
        SSL_CTX_free(tc->ctx);
        tc->ctx = NULL;
    }
    return APR_SUCCESS;
}

gb_tls_ctx *gb_tls_ctx_make(apr_pool_t *p, const char *ca, const char *cert,
                            const char *key, const char *servername,
                            const char **err)
{
    static const unsigned char alpn[] = { 2, 'h', '2' };
    gb_tls_ctx *tc = apr_pcalloc(p, sizeof(*tc));
    long opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;

    ERR_clear_error();
    tc->servername = servername ? apr_pstrdup(p, servername) : NULL;
    tc->ctx = SSL_CTX_new(TLS_client_method());
    if (!tc->ctx) {
        *err = gb_tls_errors(p, "cannot create an OpenSSL context");
        return NULL;
    }
    apr_pool_cleanup_register(p, tc, gb_tls_ctx_cleanup,
                              apr_pool_cleanup_null);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* A plugin that goes away without close_notify is an ordinary end of
     * the connection (a crash or a kill), not a TLS failure to report. */
    opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
    SSL_CTX_set_options(tc->ctx, opts);
    /* gb_h2 hands over what nghttp2 serialised, a part at a time. */
    SSL_CTX_set_mode(tc->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!SSL_CTX_set_min_proto_version(tc->ctx, TLS1_2_VERSION)) {
        *err = gb_tls_errors(p, "cannot require TLS 1.2 or later");
        return NULL;
    }
    if (SSL_CTX_load_verify_locations(tc->ctx, ca, NULL) != 1) {
        *err = apr_psprintf(p, "cannot load the CA certificates ca=%s: %s",
                            ca, gb_tls_errors(p, "no certificate found"));
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(tc->ctx, cert) != 1) {
        *err = apr_psprintf(p, "cannot load the client certificate "
                            "cert=%s: %s", cert,
                            gb_tls_errors(p, "no certificate found"));
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(tc->ctx, key, SSL_FILETYPE_PEM) != 1) {
        int mismatch = ERR_GET_REASON(ERR_peek_last_error())
                       == X509_R_KEY_VALUES_MISMATCH;

        *err = apr_psprintf(p, "%s key=%s%s%s: %s",
                            mismatch ? "the private key"
                                     : "cannot load the private key",
                            key, mismatch ? " does not belong to the "
                                            "certificate cert=" : "",
                            mismatch ? cert : "",
                            gb_tls_errors(p, "no key found"));
        return NULL;
    }
    if (SSL_CTX_check_private_key(tc->ctx) != 1) {
        *err = apr_psprintf(p, "the private key key=%s does not belong to "
                            "the certificate cert=%s: %s", key, cert,
                            gb_tls_errors(p, "mismatch"));
        return NULL;
    }
    SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_PEER, NULL);
    /* Returns 0 on success, unlike the rest of the API. */
    if (SSL_CTX_set_alpn_protos(tc->ctx, alpn, sizeof(alpn)) != 0) {
        *err = gb_tls_errors(p, "cannot offer ALPN h2");
        return NULL;
    }
    return tc;
}

const char *gb_tls_ctx_name(const gb_tls_ctx *tc, const char *host)
{
    return tc && tc->servername ? tc->servername : host;
}

/* Waits until fd is ready for events, or deadline. */
static apr_status_t gb_tls_wait(int fd, short events, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd;
        apr_interval_time_t left = deadline - apr_time_now();
        int ms, rc;

        if (left <= 0) {
            return APR_TIMEUP;
        }
        /* Rounded up: never wake up early and spin. */
        ms = (int)((left + 999) / 1000);
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        rc = poll(&pfd, 1, ms);
        if (rc > 0) {
            /* An error or hang-up is for SSL_read/SSL_write to report. */
            return APR_SUCCESS;
        }
        if (rc < 0 && errno != EINTR) {
            return errno;
        }
    }
}

static apr_status_t gb_tls_conn_cleanup(void *data)
{
    gb_tls_conn *c = data;

    if (c->ssl) {
        if (c->established) {
            /* One non-blocking attempt at close_notify; the socket closes
             * right after, whatever it says. */
            ERR_clear_error();
            SSL_shutdown(c->ssl);
            ERR_clear_error();
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    return APR_SUCCESS;
}

/* Whether name is an IPv4 or IPv6 address (checked as one, not as a DNS
 * name, in the plugin's certificate). */
static int gb_tls_is_ip(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, name, buf) == 1
           || inet_pton(AF_INET6, name, buf) == 1;
}

/* Whether a failed SSL call (SSL_get_error() e, errno sys) means the peer
 * closed or reset the connection rather than refused us: EOF or a socket
 * error, not an alert or a failed check. */
static int gb_tls_peer_gone(int e, int sys)
{
    unsigned long err;

    if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) {
        (void)sys;
        return 1;
    }
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    err = ERR_peek_error();
    return e == SSL_ERROR_SSL && ERR_GET_LIB(err) == ERR_LIB_SSL
           && ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#else
    (void)err;
    return 0;
#endif
}

/* The reason of a failed handshake: the certificate check's result when it
 * failed, else OpenSSL's errors (an alert from the plugin, say). */
static const char *gb_tls_handshake_reason(gb_tls_conn *c, int ssl_err,
                                           int sys_errno)
{
    long v = SSL_get_verify_result(c->ssl);
    const char *errs;

    if (v != X509_V_OK) {
        ERR_clear_error();
        return apr_psprintf(c->pool, "the plugin's certificate failed "
                            "verification: %s",
                            X509_verify_cert_error_string(v));
    }
    errs = gb_tls_errors(c->pool, NULL);
    if (errs) {
        return errs;
    }
    if (ssl_err == SSL_ERROR_SYSCALL && sys_errno) {
        char buf[120];

        return apr_pstrdup(c->pool, apr_strerror(sys_errno, buf,
                                                 sizeof(buf)));
    }
    return "the plugin closed the connection during the handshake";
}

apr_status_t gb_tls_connect(gb_tls_ctx *tc, apr_socket_t *sock,
                            apr_pool_t *p, const char *name,
                            apr_time_t deadline, gb_tls_conn **out,
                            const char **why)
{
    gb_tls_conn *c = apr_pcalloc(p, sizeof(*c));
    apr_os_sock_t fd;
    apr_status_t rv;

    *why = NULL;
    c->pool = p;
    rv = apr_os_sock_get(&fd, sock);
    if (rv == APR_SUCCESS) {
        rv = apr_socket_opt_set(sock, APR_SO_NONBLOCK, 1);
    }
    if (rv != APR_SUCCESS) {
        *why = "cannot use the socket";
        return rv;
    }
    c->fd = fd;
    ERR_clear_error();
    c->ssl = SSL_new(tc->ctx);
    if (!c->ssl) {
        *why = gb_tls_errors(p, "cannot create a TLS connection");
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, c, gb_tls_conn_cleanup,
                              apr_pool_cleanup_null);
    SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (gb_tls_is_ip(name)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
                                          name) != 1) {
            *why = gb_tls_errors(p, "cannot check the address");
            return GB_TLS_EFAILED;
        }
    }
    else if (SSL_set1_host(c->ssl, name) != 1
             || SSL_set_tlsext_host_name(c->ssl, name) != 1) {
        *why = gb_tls_errors(p, "cannot check the server name");
        return GB_TLS_EFAILED;
    }
    if (SSL_set_fd(c->ssl, fd) != 1) {
        *why = gb_tls_errors(p, "cannot attach the socket");
        return GB_TLS_EFAILED;
    }
    for (;;) {
        int rc = SSL_connect(c->ssl);
        int e, sys;

        if (rc == 1) {
            break;
        }
        sys = errno;
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            rv = gb_tls_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                             deadline);
            if (rv != APR_SUCCESS) {
                *why = APR_STATUS_IS_TIMEUP(rv)
                       ? "no answer to the TLS handshake in time"
                       : "the socket failed during the handshake";
                return rv;
            }
            continue;
        }
        if (gb_tls_peer_gone(e, sys)) {
            /* Not a refusal: the plugin went away (killed, restarting)
             * in the middle, like a reset after connect. */
            ERR_clear_error();
            *why = "the plugin closed the connection during the handshake";
            return (e == SSL_ERROR_SYSCALL && sys) ? sys : APR_ECONNRESET;
        }
        *why = gb_tls_handshake_reason(c, e, sys);
        return GB_TLS_EFAILED;
    }
    c->established = 1;
    *out = c;
    return APR_SUCCESS;
}

/* A failed SSL_read/SSL_write: the status for e, with c->reason set. */
static apr_status_t gb_tls_failed(gb_tls_conn *c, int e, int sys)
{
    switch (e) {
    case SSL_ERROR_ZERO_RETURN:
        return APR_EOF;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        /* Without errno: the peer closed the connection. */
        return sys ? sys : APR_EOF;
    default:
        c->established = 0;
        if (gb_tls_peer_gone(e, sys)) {
            ERR_clear_error();
            return APR_EOF;
        }
        c->reason = gb_tls_errors(c->pool, "TLS protocol error");
        return GB_TLS_EFAILED;
    }
}

apr_status_t gb_tls_read(gb_tls_conn *c, char *buf, apr_size_t *len,
                         apr_interval_time_t t)
{
    apr_time_t deadline = 0;
    int want = (int)(*len > 0x7fffffff ? 0x7fffffff : *len);

    *len = 0;
    ERR_clear_error();
    for (;;) {
        int n = SSL_read(c->ssl, buf, want);
        int e, sys;
        apr_status_t rv;

        if (n > 0) {
            *len = (apr_size_t)n;
            return APR_SUCCESS;
        }
        sys = errno;
        e = SSL_get_error(c->ssl, n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            return gb_tls_failed(c, e, sys);
        }
        if (t <= 0) {
            return APR_EAGAIN;
        }
        if (!deadline) {
            deadline = apr_time_now() + t;
        }
        rv = gb_tls_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                         deadline);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
}

apr_status_t gb_tls_write(gb_tls_conn *c, const char *buf, apr_size_t len,
                          apr_time_t deadline)
{
    ERR_clear_error();
    while (len > 0) {
        int want = (int)(len > 0x7fffffff ? 0x7fffffff : len);
        int n = SSL_write(c->ssl, buf, want);
        int e, sys;
        apr_status_t rv;

        if (n > 0) {
            buf += n;
            len -= (apr_size_t)n;
            continue;
        }
        sys = errno;
        e = SSL_get_error(c->ssl, n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            rv = gb_tls_failed(c, e, sys);
            return rv == APR_EOF ? APR_ECONNRESET : rv;
        }
        rv = gb_tls_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                         deadline);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

const char *gb_tls_reason(const gb_tls_conn *c)
{
    return c->reason;
}

const char *gb_tls_describe(gb_tls_conn *c, apr_pool_t *p)
{
    return apr_pstrcat(p, SSL_get_version(c->ssl), " ",
                       SSL_get_cipher_name(c->ssl), NULL);
}
