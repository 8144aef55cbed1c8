/* gb_resolve.c: a remote plugin's endpoints, from its addresses' names
 * (see gb_resolve.h). */
#include "gb_log.h"
#include "gb_resolve.h"
#include "gb_conn.h"
#include "gb_remote.h"
#include "gb_tls.h"

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

/* The endpoints a child calls, replaced whole when they change: a call
 * reads the pointer once and keeps using that set. Sets and endpoints are
 * never freed before the child exits (an endpoint may have a connection
 * borrowed), so a changed set costs a few bytes. */
typedef struct {
    int n;
    gb_endpoint **eps;
} gb_resolve_set;

/* One remote plugin's resolution state in this child. */
struct gb_remote_live {
    apr_pool_t *pool;           /* only under mu */
#if APR_HAS_THREADS
    apr_thread_mutex_t *mu;
#endif
    apr_hash_t *known;          /* label -> gb_endpoint *, under mu */
    void *set;                  /* gb_resolve_set *, apr_atomic_*ptr */
    apr_time_t next;            /* next periodic resolution (0: none),
                                 * written under mu, read without */
    apr_time_t last;            /* last resolution, under mu */
};

/* The label and hash key of an endpoint: "host:port (ip)". */
static const char *gb_resolve_label(apr_pool_t *p, const gb_remote_addr *a,
                                    apr_sockaddr_t *sa)
{
    char *ip = NULL;

    apr_sockaddr_ip_get(&ip, sa);
    return apr_psprintf(p, "%s (%s)", a->text, ip ? ip : "?");
}

void gb_resolve_post_config(apr_pool_t *pconf, server_rec *s, gb_plugin *pl)
{
    const gb_remote *rm = pl->remote;
    apr_array_header_t *eps = apr_array_make(pconf, rm->addrs->nelts,
                                             sizeof(gb_endpoint *));
    int i;

    for (i = 0; i < rm->addrs->nelts; i++) {
        const gb_remote_addr *a = &APR_ARRAY_IDX(rm->addrs, i,
                                                 gb_remote_addr);
        apr_sockaddr_t *sa = NULL;
        apr_status_t rv = apr_sockaddr_info_get(&sa, a->host, APR_UNSPEC,
                                                a->port, 0, pconf);

        if (rv != APR_SUCCESS) {
            /* Left out: a plugin's Service that is not up yet must not
             * keep httpd from starting. */
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GB_APLOGNO(0406)
                         "%s: cannot resolve %s of remote plugin %s "
                         "(declared at %s line %u); it is left out until "
                         "it resolves%s", __func__, a->text, pl->name,
                         pl->file, pl->line,
                         rm->resolve > 0 ? "" : " (resolve=off: until "
                                                "httpd restarts)");
            continue;
        }
        for (; sa; sa = sa->next) {
            gb_endpoint *ep;

            gb_conn_endpoint_make_tcp(pconf, pl->name,
                                      gb_resolve_label(pconf, a, sa), sa,
                                      rm->tls,
                                      gb_tls_ctx_name(rm->tls, a->host),
                                      &ep);
            APR_ARRAY_PUSH(eps, gb_endpoint *) = ep;
        }
    }
    pl->endpoints = (gb_endpoint **)eps->elts;
    pl->nendpoints = eps->nelts;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GB_APLOGNO(0407)
                 "%s: remote plugin %s has %d address%s", __func__,
                 pl->name, pl->nendpoints, pl->nendpoints == 1 ? "" : "es");
}

apr_status_t gb_resolve_live_init(apr_pool_t *pchild, gb_plugin *pl)
{
    struct gb_remote_live *lv;
    gb_resolve_set *set;
    apr_status_t rv;
    int j;

    lv = apr_pcalloc(pchild, sizeof(*lv));
    rv = apr_pool_create(&lv->pool, pchild);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(lv->pool, "gobridge_resolve");
#if APR_HAS_THREADS
    rv = apr_thread_mutex_create(&lv->mu, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv != APR_SUCCESS) {
        return rv;
    }
#endif
    lv->known = apr_hash_make(lv->pool);
    for (j = 0; j < pl->nendpoints; j++) {
        apr_hash_set(lv->known, gb_conn_endpoint_path(pl->endpoints[j]),
                     APR_HASH_KEY_STRING, pl->endpoints[j]);
    }
    set = apr_palloc(lv->pool, sizeof(*set));
    set->n = pl->nendpoints;
    set->eps = pl->endpoints;
    lv->set = set;
    lv->last = apr_time_now();
    lv->next = pl->remote->resolve > 0 && pl->remote->names
               ? lv->last + pl->remote->resolve : 0;
    /* Written in this child's copy of pconf: its own. */
    pl->remote->live = lv;
    return APR_SUCCESS;
}

apr_status_t gb_resolve_child_init(apr_pool_t *pchild, server_rec *s)
{
    gb_srv_conf *conf = gb_config_sget(s);
    int i;

    for (i = 0; i < conf->plugins->nelts; i++) {
        gb_plugin *pl = APR_ARRAY_IDX(conf->plugins, i, gb_plugin *);
        apr_status_t rv;

        if (!pl->remote || !pl->endpoints) {
            continue;
        }
        rv = gb_resolve_live_init(pchild, pl);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static gb_resolve_set *gb_resolve_set_of(struct gb_remote_live *lv)
{
    return apr_atomic_casptr((volatile void **)&lv->set, NULL, NULL);
}

/* Whether the endpoints of a and b are the same, in any order. */
static int gb_resolve_same(const gb_resolve_set *a, apr_array_header_t *b)
{
    int i, j;

    if (a->n != b->nelts) {
        return 0;
    }
    for (i = 0; i < b->nelts; i++) {
        gb_endpoint *ep = APR_ARRAY_IDX(b, i, gb_endpoint *);
        for (j = 0; j < a->n && a->eps[j] != ep; j++) {
        }
        if (j == a->n) {
            return 0;
        }
    }
    return 1;
}

/* Resolves pl's names and installs the endpoints if they changed. Under
 * lv->mu. Returns whether they changed. */
static int gb_resolve_refresh(request_rec *r, const gb_plugin *pl,
                              struct gb_remote_live *lv)
{
    const gb_remote *rm = pl->remote;
    gb_resolve_set *cur = gb_resolve_set_of(lv), *set;
    apr_array_header_t *eps;
    apr_pool_t *tmp;
    int i, j, failed = 0;

    lv->last = apr_time_now();
    if (rm->resolve > 0) {
        lv->next = lv->last + rm->resolve;
    }
    if (apr_pool_create(&tmp, lv->pool) != APR_SUCCESS) {
        return 0;
    }
    eps = apr_array_make(tmp, cur->n + 4, sizeof(gb_endpoint *));
    for (i = 0; i < rm->addrs->nelts && !failed; i++) {
        const gb_remote_addr *a = &APR_ARRAY_IDX(rm->addrs, i,
                                                 gb_remote_addr);
        apr_sockaddr_t *sa = NULL;
        apr_status_t rv = apr_sockaddr_info_get(&sa, a->host, APR_UNSPEC,
                                                a->port, 0, tmp);

        if (rv != APR_SUCCESS) {
            /* DNS down, or no ready instance: keep what there is. */
            GB_LOG(r, NULL, APLOG_DEBUG, rv, GB_APLOGNO(0409)
                   "%s: cannot resolve %s of remote plugin %s again; "
                   "keeping its %d address%s", __func__, a->text, pl->name,
                   cur->n, cur->n == 1 ? "" : "es");
            failed = 1;
            break;
        }
        for (; sa; sa = sa->next) {
            const char *label = gb_resolve_label(tmp, a, sa);
            gb_endpoint *ep = apr_hash_get(lv->known, label,
                                           APR_HASH_KEY_STRING);

            if (!ep) {
                /* A new instance: its address again, numerically, in the
                 * pool that lasts (no second lookup). */
                char *ip = NULL;
                apr_sockaddr_t *keep = NULL;

                apr_sockaddr_ip_get(&ip, sa);
                if (apr_sockaddr_info_get(&keep, ip, sa->family, a->port,
                                          0, lv->pool) != APR_SUCCESS) {
                    continue;
                }
                label = apr_pstrdup(lv->pool, label);
                gb_conn_endpoint_make_tcp(lv->pool, pl->name, label, keep,
                                          rm->tls,
                                          gb_tls_ctx_name(rm->tls, a->host),
                                          &ep);
                apr_hash_set(lv->known, label, APR_HASH_KEY_STRING, ep);
            }
            for (j = 0; j < eps->nelts
                        && APR_ARRAY_IDX(eps, j, gb_endpoint *) != ep; j++) {
            }
            if (j == eps->nelts) {
                APR_ARRAY_PUSH(eps, gb_endpoint *) = ep;
            }
        }
    }
    if (failed || eps->nelts == 0 || gb_resolve_same(cur, eps)) {
        if (!failed) {
            GB_LOG(r, NULL, APLOG_DEBUG, 0, GB_APLOGNO(0411)
                   "%s: resolved the names of remote plugin %s again: "
                   "%d address%s, unchanged", __func__, pl->name, cur->n,
                   cur->n == 1 ? "" : "es");
        }
        apr_pool_destroy(tmp);
        return 0;
    }
    set = apr_palloc(lv->pool, sizeof(*set));
    set->n = eps->nelts;
    set->eps = apr_pmemdup(lv->pool, eps->elts,
                           eps->nelts * sizeof(gb_endpoint *));
    apr_atomic_casptr((volatile void **)&lv->set, set, cur);
    /* Gone instances: their idle connections go now. */
    for (i = 0; i < cur->n; i++) {
        for (j = 0; j < set->n && set->eps[j] != cur->eps[i]; j++) {
        }
        if (j == set->n) {
            gb_conn_endpoint_close_idle(cur->eps[i]);
        }
    }
    GB_LOG(r, NULL, APLOG_INFO, 0, GB_APLOGNO(0410)
           "%s: remote plugin %s now has %d address%s (had %d)", __func__,
           pl->name, set->n, set->n == 1 ? "" : "es", cur->n);
    apr_pool_destroy(tmp);
    return 1;
}

/* Runs gb_resolve_refresh unless another thread is at it. */
static int gb_resolve_try(request_rec *r, const gb_plugin *pl,
                          struct gb_remote_live *lv, apr_time_t min_gap)
{
    int changed = 0;

#if APR_HAS_THREADS
    if (apr_thread_mutex_trylock(lv->mu) != APR_SUCCESS) {
        return 0;
    }
#endif
    if (apr_time_now() - lv->last >= min_gap) {
        changed = gb_resolve_refresh(r, pl, lv);
    }
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(lv->mu);
#endif
    return changed;
}

gb_endpoint **gb_resolve_endpoints(request_rec *r, const gb_plugin *pl,
                                   int *n)
{
    struct gb_remote_live *lv = pl->remote ? pl->remote->live : NULL;
    gb_resolve_set *set;

    if (!lv) {
        *n = pl->nendpoints;
        return pl->endpoints;
    }
    if (r && lv->next > 0 && r->request_time >= lv->next) {
        /* lv->next is read without the lock: a stale value at worst
         * makes this call try the lock; the check under it decides. */
        gb_resolve_try(r, pl, lv, pl->remote->resolve);
    }
    set = gb_resolve_set_of(lv);
    *n = set->n;
    return set->eps;
}

int gb_resolve_all_down(request_rec *r, const gb_plugin *pl)
{
    struct gb_remote_live *lv = pl->remote ? pl->remote->live : NULL;

    if (!lv || !pl->remote->names || pl->remote->resolve <= 0) {
        return 0;
    }
    return gb_resolve_try(r, pl, lv, apr_time_from_sec(1));
}

int gb_resolve_now(request_rec *r, const gb_plugin *pl)
{
    struct gb_remote_live *lv = pl->remote ? pl->remote->live : NULL;

    return lv ? gb_resolve_try(r, pl, lv, 0) : 0;
}
