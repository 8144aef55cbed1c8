/* gb_conn.c: per-child pools of HTTP/2 connections to plugin sockets.
 *
 * The registry is process-wide (one per Apache child, created in
 * child_init from pchild). Each endpoint keeps a stack of idle connections
 * under the registry's mutex; a borrowed connection belongs to one thread
 * and is used without locks. Each connection has its own pool with its
 * own allocator, so threads never share an allocator and closing a
 * connection returns its memory.
 */
#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "gb_log.h"
#include "gb_conn.h"
#include "gb_h2.h"
#include "gb_tls.h"

/* Idle connections kept per socket; more than the threads of a child
 * that use one plugin at once is never needed. */
#define GB_CONN_MAX_IDLE 64

struct gb_conn {
    apr_pool_t *pool;
    gb_endpoint *ep;
    apr_socket_t *sock;
    gb_h2_session *h2;
    unsigned long id;
    int poisoned;
    int reused;                 /* came from the idle stack this time */
    gb_conn *next;              /* in the idle stack */
};

struct gb_endpoint {
    const char *plugin;
    const char *path;           /* the socket, or a remote plugin's address
                                 * "host:port (ip)" */
    apr_sockaddr_t *addr;       /* resolved once, read-only after */
    gb_tls_ctx *tls;            /* remote: TCP and TLS; NULL: unix socket */
    const char *tls_name;       /* the name its certificate must carry */
    /* This child's idle connections, under the registry's mutex; valid
     * only while gen is the registry's (a new registry starts empty). */
    gb_conn *idle;
    int idle_count;
    int open_count;             /* idle and borrowed, this child */
    unsigned long gen;
    volatile apr_uint32_t busy;  /* this child's borrowed connections */
};

typedef struct {
    apr_pool_t *pool;           /* pchild */
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    server_rec *s;
    unsigned long next_id;
    unsigned long gen;
} gb_conn_registry;

static gb_conn_registry *gb_reg;
static unsigned long gb_reg_generation;

static void gb_conn_lock(void)
{
#if APR_HAS_THREADS
    if (gb_reg->mutex) {
        apr_thread_mutex_lock(gb_reg->mutex);
    }
#endif
}

static void gb_conn_unlock(void)
{
#if APR_HAS_THREADS
    if (gb_reg->mutex) {
        apr_thread_mutex_unlock(gb_reg->mutex);
    }
#endif
}

static apr_status_t gb_conn_registry_cleanup(void *data)
{
    /* The connection pools are children of pchild and go with it. */
    if (gb_reg == data) {
        gb_reg = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t gb_conn_endpoint_make(apr_pool_t *p, const char *plugin,
                                   const char *path, gb_endpoint **out)
{
    gb_endpoint *ep = apr_pcalloc(p, sizeof(*ep));
    apr_status_t rv;

    ep->plugin = apr_pstrdup(p, plugin);
    ep->path = apr_pstrdup(p, path);
    rv = apr_sockaddr_info_get(&ep->addr, ep->path, APR_UNIX, 0, 0, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = ep;
    return APR_SUCCESS;
}

apr_status_t gb_conn_endpoint_make_tcp(apr_pool_t *p, const char *plugin,
                                       const char *label,
                                       apr_sockaddr_t *addr,
                                       gb_tls_ctx *tls, const char *name,
                                       gb_endpoint **out)
{
    gb_endpoint *ep = apr_pcalloc(p, sizeof(*ep));

    ep->plugin = apr_pstrdup(p, plugin);
    ep->path = apr_pstrdup(p, label);
    ep->addr = addr;
    ep->tls = tls;
    ep->tls_name = apr_pstrdup(p, name);
    *out = ep;
    return APR_SUCCESS;
}

const char *gb_conn_endpoint_path(const gb_endpoint *ep)
{
    return ep->path;
}

apr_uint32_t gb_conn_endpoint_busy(gb_endpoint *ep)
{
    return apr_atomic_read32(&ep->busy);
}

apr_status_t gb_conn_child_init(apr_pool_t *pchild, server_rec *s)
{
    gb_conn_registry *reg = apr_pcalloc(pchild, sizeof(*reg));

    reg->pool = pchild;
    reg->s = s;
    reg->gen = ++gb_reg_generation;
#if APR_HAS_THREADS
    {
        apr_status_t rv = apr_thread_mutex_create(&reg->mutex,
                                                  APR_THREAD_MUTEX_DEFAULT,
                                                  pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GB_APLOGNO(0115)
                         "%s: cannot create the connection registry mutex",
                         __func__);
            return rv;
        }
    }
#endif
    apr_pool_cleanup_register(pchild, reg, gb_conn_registry_cleanup,
                              apr_pool_cleanup_null);
    gb_reg = reg;
    return APR_SUCCESS;
}

static void gb_conn_idle_sync(gb_endpoint *ep);

/* Closes c: socket, nghttp2 session and memory. */
static void gb_conn_close(gb_conn *c)
{
    apr_pool_t *p = c->pool;

    /* The pool is a child of pchild: unlink it under the lock. */
    gb_conn_lock();
    gb_conn_idle_sync(c->ep);
    if (c->ep->open_count > 0) {
        c->ep->open_count--;
    }
    apr_pool_destroy(p);
    gb_conn_unlock();
}

/* c's socket to its endpoint's address, connected within timeout. */
static apr_status_t gb_conn_connect(gb_conn *c, int family, int protocol,
                                    apr_interval_time_t timeout)
{
    apr_status_t rv = apr_socket_create(&c->sock, family, SOCK_STREAM,
                                        protocol, c->pool);

    if (rv == APR_SUCCESS) {
        apr_socket_timeout_set(c->sock, timeout);
        rv = apr_socket_connect(c->sock, c->ep->addr);
    }
    return rv;
}

/* TCP keepalive on a remote plugin's connection, probing after 30 s of
 * silence: an idle pooled connection whose plugin host vanished (or that
 * a NAT or conntrack table forgot) is found dead before a call is sent on
 * it, instead of the call waiting out GoBridgeTimeout; the probes also
 * keep such tables from forgetting it. */
static void gb_conn_keepalive(apr_socket_t *sock)
{
    apr_os_sock_t fd;

    apr_socket_opt_set(sock, APR_SO_KEEPALIVE, 1);
#if defined(TCP_KEEPIDLE) && defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
    if (apr_os_sock_get(&fd, sock) == APR_SUCCESS) {
        int idle = 30, intvl = 10, cnt = 3;

        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    }
#else
    (void)fd;
#endif
}

static int gb_conn_heard(void *baton)
{
    return gb_h2_heard(baton);
}

/* gb_conn_open for a remote plugin: TCP, the TLS handshake, our HTTP/2
 * preface, and the plugin's first SETTINGS, all within connect_timeout.
 * Waiting for the plugin to speak costs one round trip per connection and
 * makes "connected" mean "accepted": with TLS 1.3 a plugin refuses our
 * certificate only after our side of the handshake is done, and that
 * refusal must skip this address as a failed connect does, not fail the
 * call sent next. */
static apr_status_t gb_conn_open_tls(request_rec *r, gb_conn *c,
                                     apr_interval_time_t connect_timeout,
                                     gb_conn **out)
{
    gb_endpoint *ep = c->ep;
    apr_time_t deadline = apr_time_now() + connect_timeout;
    gb_tls_conn *tls = NULL;
    const char *why = NULL;
    apr_status_t rv;

    rv = gb_conn_connect(c, ep->addr->family, APR_PROTO_TCP,
                         connect_timeout);
    if (rv != APR_SUCCESS) {
        GB_LOG(r, gb_reg->s, APLOG_DEBUG, rv, GB_APLOGNO(0402)
               "%s: cannot connect to plugin %s at %s", __func__,
               ep->plugin, ep->path);
        gb_conn_close(c);
        return rv;
    }
    /* Calls are small request/answer exchanges: no Nagle delay. */
    apr_socket_opt_set(c->sock, APR_TCP_NODELAY, 1);
    gb_conn_keepalive(c->sock);
    rv = gb_tls_connect(ep->tls, c->sock, c->pool, ep->tls_name, deadline,
                        &tls, &why);
    if (rv != APR_SUCCESS) {
        /* A refusal (a certificate check, an alert) is a configuration
         * problem to show; a plugin going away mid-handshake is not. */
        if (rv == GB_TLS_EFAILED) {
            GB_LOG(r, gb_reg->s, APLOG_ERR, APR_SUCCESS, GB_APLOGNO(0403)
                   "%s: TLS handshake with plugin %s at %s failed "
                   "(checking the name %s): %s", __func__, ep->plugin,
                   ep->path, ep->tls_name, why);
        }
        else {
            GB_LOG(r, gb_reg->s, APLOG_DEBUG, rv, GB_APLOGNO(0408)
                   "%s: no TLS session with plugin %s at %s: %s", __func__,
                   ep->plugin, ep->path, why);
        }
        gb_conn_close(c);
        return rv;
    }
    rv = gb_h2_session_open(&c->h2, c->pool, c->sock, tls, ep->path,
                            gb_reg->s, ep->plugin, c->id, connect_timeout);
    if (rv == APR_SUCCESS) {
        rv = gb_h2_pump(c->h2, gb_conn_heard, c->h2, deadline);
    }
    if (rv != APR_SUCCESS) {
        GB_LOG(r, gb_reg->s, APLOG_DEBUG, rv, GB_APLOGNO(0404)
               "%s: plugin %s at %s did not start HTTP/2 after the TLS "
               "handshake", __func__, ep->plugin, ep->path);
        gb_conn_close(c);
        return rv;
    }
    GB_LOG(r, gb_reg->s, APLOG_DEBUG, APR_SUCCESS, GB_APLOGNO(0405)
           "%s: opened connection %lu to plugin %s at %s (%s)", __func__,
           c->id, ep->plugin, ep->path, gb_tls_describe(tls, c->pool));
    *out = c;
    return APR_SUCCESS;
}

static apr_status_t gb_conn_open(request_rec *r, gb_endpoint *ep,
                                 apr_interval_time_t connect_timeout,
                                 gb_conn **out)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    gb_conn *c;
    apr_status_t rv;
    unsigned long id;

    rv = apr_allocator_create(&alloc);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    gb_conn_lock();
    rv = apr_pool_create_ex(&p, gb_reg->pool, NULL, alloc);
    id = ++gb_reg->next_id;
    if (rv == APR_SUCCESS) {
        gb_conn_idle_sync(ep);
        ep->open_count++;
    }
    gb_conn_unlock();
    if (rv != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, p);
    apr_pool_tag(p, "gobridge_conn");

    c = apr_pcalloc(p, sizeof(*c));
    c->pool = p;
    c->id = id;
    c->ep = ep;

    if (ep->tls) {
        return gb_conn_open_tls(r, c, connect_timeout, out);
    }
    rv = gb_conn_connect(c, APR_UNIX, 0, connect_timeout);
    if (rv != APR_SUCCESS) {
        GB_LOG(r, gb_reg->s, APLOG_DEBUG, rv, GB_APLOGNO(0100)
               "%s: cannot connect to plugin %s at %s", __func__,
               ep->plugin, ep->path);
        gb_conn_close(c);
        return rv;
    }
    rv = gb_h2_session_open(&c->h2, p, c->sock, NULL, NULL, gb_reg->s,
                            ep->plugin, id, connect_timeout);
    if (rv != APR_SUCCESS) {
        GB_LOG(r, gb_reg->s, APLOG_DEBUG, rv, GB_APLOGNO(0180)
               "%s: connected to plugin %s at %s but could not start "
               "HTTP/2 on it", __func__, ep->plugin, ep->path);
        gb_conn_close(c);
        return rv;
    }
    GB_LOG(r, gb_reg->s, APLOG_DEBUG, APR_SUCCESS, GB_APLOGNO(0101)
           "%s: opened connection %lu to plugin %s at %s", __func__, id,
           ep->plugin, ep->path);
    *out = c;
    return APR_SUCCESS;
}

/* ep's idle stack in this child, emptied if it was another registry's.
 * Under the lock. */
static void gb_conn_idle_sync(gb_endpoint *ep)
{
    if (ep->gen != gb_reg->gen) {
        ep->idle = NULL;
        ep->idle_count = 0;
        ep->open_count = 0;
        ep->gen = gb_reg->gen;
    }
}

apr_status_t gb_conn_acquire(request_rec *r, gb_endpoint *ep,
                             apr_interval_time_t connect_timeout,
                             gb_conn **out)
{
    if (!gb_reg) {
        GB_LOG(r, NULL, APLOG_ERR, APR_EINIT, GB_APLOGNO(0114)
               "%s: no connection registry in this process (child_init "
               "did not run); cannot reach plugin %s", __func__, ep->plugin);
        return APR_EINIT;
    }
    for (;;) {
        gb_conn *c;

        gb_conn_lock();
        gb_conn_idle_sync(ep);
        c = ep->idle;
        if (c) {
            ep->idle = c->next;
            ep->idle_count--;
            c->next = NULL;
        }
        gb_conn_unlock();
        if (!c) {
            break;
        }
        gb_h2_set_request(c->h2, r);
        /* Outside the lock: this reads whatever the peer sent while idle. */
        if (gb_h2_check_idle(c->h2)) {
            GB_LOG(r, gb_reg->s, APLOG_TRACE2, APR_SUCCESS,
                   "gb_conn(%s-%lu): reusing idle connection", ep->plugin,
                   c->id);
            c->reused = 1;
            apr_atomic_inc32(&ep->busy);
            *out = c;
            return APR_SUCCESS;
        }
        GB_LOG(r, gb_reg->s, APLOG_DEBUG, APR_SUCCESS, GB_APLOGNO(0102)
               "%s: discarding idle connection %lu to plugin %s (%s)",
               __func__, c->id, ep->plugin,
               gb_h2_got_goaway(c->h2) ? "GOAWAY" : "closed by peer");
        gb_conn_close(c);
    }
    return gb_conn_acquire_new(r, ep, connect_timeout, out);
}

apr_status_t gb_conn_acquire_new(request_rec *r, gb_endpoint *ep,
                                 apr_interval_time_t connect_timeout,
                                 gb_conn **out)
{
    apr_status_t rv;

    if (!gb_reg) {
        return APR_EINIT;
    }
    rv = gb_conn_open(r, ep, connect_timeout, out);
    if (rv == APR_SUCCESS) {
        gb_h2_set_request((*out)->h2, r);
        apr_atomic_inc32(&ep->busy);
    }
    return rv;
}

void gb_conn_release(gb_conn *c, int reusable)
{
    if (!c || !gb_reg) {
        /* Without a registry pchild is gone, and c with it. */
        return;
    }
    apr_atomic_dec32(&c->ep->busy);
    gb_h2_set_request(c->h2, NULL);
    if (reusable && !c->poisoned && gb_h2_usable(c->h2)) {
        gb_endpoint *ep = c->ep;

        gb_conn_lock();
        gb_conn_idle_sync(ep);
        if (ep->idle_count < GB_CONN_MAX_IDLE) {
            c->next = ep->idle;
            ep->idle = c;
            ep->idle_count++;
            c = NULL;
        }
        gb_conn_unlock();
        if (!c) {
            return;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_TRACE2, APR_SUCCESS, gb_reg->s,
                 "gb_conn(%s-%lu): closing connection", c->ep->plugin, c->id);
    gb_conn_close(c);
}

void gb_conn_endpoint_close_idle(gb_endpoint *ep)
{
    gb_conn *c;

    if (!gb_reg) {
        return;
    }
    gb_conn_lock();
    gb_conn_idle_sync(ep);
    c = ep->idle;
    ep->idle = NULL;
    ep->idle_count = 0;
    gb_conn_unlock();
    while (c) {
        gb_conn *next = c->next;

        gb_conn_close(c);
        c = next;
    }
}

void gb_conn_endpoint_counts(gb_endpoint *ep, int *open, int *idle)
{
    *open = *idle = 0;
    if (!gb_reg || !ep) {
        return;
    }
    gb_conn_lock();
    gb_conn_idle_sync(ep);
    *open = ep->open_count;
    *idle = ep->idle_count;
    gb_conn_unlock();
}

struct gb_h2_session *gb_conn_session(gb_conn *c)
{
    return c->h2;
}

unsigned long gb_conn_id(gb_conn *c)
{
    return c->id;
}

int gb_conn_reused(const gb_conn *c)
{
    return c->reused;
}

void gb_conn_poison(gb_conn *c)
{
    c->poisoned = 1;
}
