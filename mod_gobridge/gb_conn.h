/* gb_conn.h: per-child pools of HTTP/2 connections to plugin sockets.
 *
 * A connection is used by one thread at a time: gb_conn_acquire() hands out
 * an idle connection to an endpoint (or opens one lazily) and
 * gb_conn_release() gives it back for the next request. This keeps
 * nghttp2 sessions single-threaded (no locks on the I/O path) while
 * prefork, worker and event children all reuse connections across requests.
 *
 * An endpoint is one plugin's socket, resolved once when the configuration
 * is read; its pool of idle connections hangs off it. The endpoint lives in
 * pconf, which every child has a private copy of after the fork, so each
 * child's pool is its own without a lookup table (gb_conn.c).
 */
#ifndef GB_CONN_H
#define GB_CONN_H

#include <apr_pools.h>
#include <apr_time.h>
#include <httpd.h>

typedef struct gb_conn gb_conn;
typedef struct gb_endpoint gb_endpoint;

/* Resolves the unix socket at path (a plugin's published
 * `<dir>/<name>.sock`) into an endpoint allocated in p (pconf). `plugin`
 * is the plugin name, used in log lines. */
apr_status_t gb_conn_endpoint_make(apr_pool_t *p, const char *plugin,
                                   const char *path, gb_endpoint **out);

struct gb_tls_ctx;

/* A remote plugin's address: addr (one of the addresses its host resolved
 * to, allocated in p), reached over TCP and mutual TLS with tls, whose
 * certificate must carry name. label names it in log lines and on the
 * status page ("host:port (ip)"). */
apr_status_t gb_conn_endpoint_make_tcp(apr_pool_t *p, const char *plugin,
                                       const char *label,
                                       apr_sockaddr_t *addr,
                                       struct gb_tls_ctx *tls,
                                       const char *name, gb_endpoint **out);

/* Closes this child's idle connections to ep (a remote instance whose
 * address is gone); borrowed ones close when given back. */
void gb_conn_endpoint_close_idle(gb_endpoint *ep);

/* The endpoint's socket path, or a remote address (log lines). */
const char *gb_conn_endpoint_path(const gb_endpoint *ep);

/* How many connections to ep this child has borrowed now: the calls it has
 * in flight there. */
apr_uint32_t gb_conn_endpoint_busy(gb_endpoint *ep);

/* This child's connections to ep: *open counts those idle and those
 * borrowed (being used by a request), *idle those waiting in the pool. */
void gb_conn_endpoint_counts(gb_endpoint *ep, int *open, int *idle);

/* Creates this child's connection registry in pchild. Call from child_init.
 * Idle connections are closed when pchild is destroyed. */
apr_status_t gb_conn_child_init(apr_pool_t *pchild, server_rec *s);

/* Borrows a connection to ep, connecting within connect_timeout if no idle
 * one is usable. Returns APR_SUCCESS, or the connect error (APR_ENOENT /
 * ECONNREFUSED / APR_TIMEUP: the plugin is down). */
apr_status_t gb_conn_acquire(request_rec *r, gb_endpoint *ep,
                             apr_interval_time_t connect_timeout,
                             gb_conn **out);

/* Borrows a new connection to ep, leaving the idle ones alone: for sending
 * again a call that an idle connection's peer never saw. */
apr_status_t gb_conn_acquire_new(request_rec *r, gb_endpoint *ep,
                                 apr_interval_time_t connect_timeout,
                                 gb_conn **out);

/* Whether c came from the idle pool rather than a new connect: its peer
 * may have closed it since (a plugin stopping or replaced). */
int gb_conn_reused(const gb_conn *c);

/* Returns a borrowed connection; a call on it must have ended (or been
 * cancelled) first. reusable=0 closes it (after a protocol error, a
 * cancelled stream that left the session in doubt, or GOAWAY). A
 * connection whose peer sent GOAWAY is closed regardless. */
void gb_conn_release(gb_conn *c, int reusable);

/* Transport internals, for gb_call.c and the C tests. */
struct gb_h2_session;

/* The connection's HTTP/2 session. */
struct gb_h2_session *gb_conn_session(gb_conn *c);

/* This child's serial number of the connection (log lines, tests). */
unsigned long gb_conn_id(gb_conn *c);

/* Marks c as not reusable whatever its borrower says at release. */
void gb_conn_poison(gb_conn *c);

#endif /* GB_CONN_H */
