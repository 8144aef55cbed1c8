/* gb_tls.h: mutual TLS to remote plugins, with OpenSSL.
 *
 * A remote plugin (GoBridgePlugin NAME ca=… cert=… key=… tcp://host:port)
 * is reached over TCP, and only over TLS 1.2 or later with both sides
 * authenticated: the plugin's certificate is checked against the CA file
 * and the server name, and ours (cert=/key=) is presented to it. A plugin
 * listening on a network must not answer anyone else.
 *
 * The context (gb_tls_ctx) is built once per plugin when the configuration
 * is checked, in httpd's parent, and inherited by every child across fork,
 * as mod_ssl does with its SSL_CTXs: OpenSSL 1.1.1 and later reseed their
 * random generator in a forked child by themselves. A connection
 * (gb_tls_conn) lives in the connection's pool and does its I/O on the
 * socket's descriptor in non-blocking mode, waiting with poll() up to the
 * caller's deadline: no read or write ever blocks past GoBridgeTimeout or
 * GoBridgeConnectTimeout.
 */
#ifndef GB_TLS_H
#define GB_TLS_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_time.h>
#include <httpd.h>

typedef struct gb_tls_ctx gb_tls_ctx;
typedef struct gb_tls_conn gb_tls_conn;

/* What a TLS failure is reported as to the call layer: the plugin could
 * not be reached safely, which gb_rpc treats as "down" (the next address
 * is tried; 503, or 500 for an auth provider). */
#define GB_TLS_EFAILED APR_ECONNREFUSED

/* Builds the client context for one remote plugin from PEM files: ca (the
 * CA certificates the plugin's certificate must chain to), cert (our
 * certificate chain) and key (its private key). servername, if not NULL,
 * is the name the plugin's certificate must carry (otherwise each
 * address's host). Allocated in p, freed with it. On failure returns NULL
 * and sets *err to a sentence naming the file and OpenSSL's reason. */
gb_tls_ctx *gb_tls_ctx_make(apr_pool_t *p, const char *ca, const char *cert,
                            const char *key, const char *servername,
                            const char **err);

/* The name checked for a connection to host: servername= or host. */
const char *gb_tls_ctx_name(const gb_tls_ctx *tc, const char *host);

/* Runs the TLS handshake on a connected TCP socket, by deadline: checks
 * the plugin's certificate against the CA and name (an IP address when
 * name is one), sends ours, offers ALPN "h2". peer labels log lines
 * ("plugin at host:port"). On success *out does the connection's I/O
 * (gb_tls_read/gb_tls_write) and is closed with p. On failure returns
 * GB_TLS_EFAILED (APR_TIMEUP past the deadline) and sets *why to the
 * reason (the certificate check's or OpenSSL's). */
apr_status_t gb_tls_connect(gb_tls_ctx *tc, apr_socket_t *sock,
                            apr_pool_t *p, const char *name,
                            apr_time_t deadline, gb_tls_conn **out,
                            const char **why);

/* Reads up to *len bytes, waiting at most t (0: not at all). Sets *len to
 * what was read. APR_SUCCESS with data; APR_EAGAIN/APR_TIMEUP when nothing
 * came; APR_EOF when the peer closed the connection; GB_TLS_EFAILED for a
 * TLS failure (an alert from the peer: gb_tls_reason() tells which), or
 * the socket's error. */
apr_status_t gb_tls_read(gb_tls_conn *c, char *buf, apr_size_t *len,
                         apr_interval_time_t t);

/* Writes all len bytes by deadline (APR_TIMEUP past it). */
apr_status_t gb_tls_write(gb_tls_conn *c, const char *buf, apr_size_t len,
                          apr_time_t deadline);

/* Why the last gb_tls_* call on c failed, or NULL. */
const char *gb_tls_reason(const gb_tls_conn *c);

/* The negotiated protocol and cipher ("TLSv1.3 TLS_AES_128_GCM_SHA256"),
 * for log lines. */
const char *gb_tls_describe(gb_tls_conn *c, apr_pool_t *p);

#endif /* GB_TLS_H */
