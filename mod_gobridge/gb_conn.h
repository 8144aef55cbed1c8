/* gb_conn.h: per-child pools of HTTP/2 connections to plugin sockets.
 *
 * A connection is used by one thread at a time: gb_conn_acquire() hands out
 * an idle connection to the named socket (or opens one lazily) and
 * gb_conn_release() gives it back for the next request. This keeps
 * nghttp2 sessions single-threaded (no locks on the I/O path) while
 * prefork, worker and event children all reuse connections across requests.
 */
#ifndef GB_CONN_H
#define GB_CONN_H

#include <apr_pools.h>
#include <apr_time.h>
#include <httpd.h>

typedef struct gb_conn gb_conn;

/* Creates this child's connection registry in pchild. Call from child_init.
 * Idle connections are closed when pchild is destroyed. */
apr_status_t gb_conn_child_init(apr_pool_t *pchild, server_rec *s);

/* Borrows a connection to the unix socket at sock_path (the plugin's
 * published `<dir>/<name>.sock`), connecting within connect_timeout if no
 * idle one is usable. `plugin` is the plugin name, used in log lines.
 * Returns APR_SUCCESS, or the connect error (APR_ENOENT / ECONNREFUSED /
 * APR_TIMEUP: the plugin is down). */
apr_status_t gb_conn_acquire(request_rec *r, const char *plugin,
                             const char *sock_path,
                             apr_interval_time_t connect_timeout,
                             gb_conn **out);

/* Returns a borrowed connection. reusable=0 closes it (after a protocol
 * error, a cancelled stream that left the session in doubt, or GOAWAY). A
 * connection whose peer sent GOAWAY is closed regardless. */
void gb_conn_release(gb_conn *c, int reusable);

/* Transport internals, for gb_call.c and the C tests. */
struct gb_h2_session;
struct gb_call;

/* The connection's HTTP/2 session. */
struct gb_h2_session *gb_conn_session(gb_conn *c);

/* This child's serial number of the connection (log lines, tests). */
unsigned long gb_conn_id(gb_conn *c);

/* The call currently running on c (at most one), or NULL. */
struct gb_call *gb_conn_call(gb_conn *c);
void gb_conn_set_call(gb_conn *c, struct gb_call *call);

/* Marks c as not reusable whatever its borrower says at release. */
void gb_conn_poison(gb_conn *c);

#endif /* GB_CONN_H */
