/* gb_stats.c: shared counters of calls to plugins (see gb_stats.h).
 *
 * Why apr_shm and not ap_slotmem: the segment is one fixed array sized in
 * post_config, written lock-free with atomics, and never needs mod_slotmem
 * loaded or persisted across a stop. Anonymous shared memory is inherited
 * by fork() and needs no file.
 */
#include "gb_private.h"
#include "gb_stats.h"

#include <apr_atomic.h>
#include <apr_shm.h>
#include <http_config.h>
#include <http_core.h>

#define GB_STATS_MAGIC 0x67627374u         /* "gbst" */
#define GB_STATS_NAME_MAX 64               /* as the plugin name rule */
#define GB_STATS_KEY "gobridge-stats"     /* userdata of the process pool */

/* 0.5 ms .. 10 s, the usual Prometheus spread, shifted down one step:
 * a healthy call to a plugin on a unix socket takes tens of µs. */
const apr_interval_time_t gb_stats_bounds[GB_STATS_BOUNDS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 2500000, 5000000, 10000000
};

/* A plugin's counters in the segment. 64-bit atomics need 8-byte
 * alignment, which every field has. */
struct gb_stats_slot {
    char name[GB_STATS_NAME_MAX + 8];
    volatile apr_uint64_t calls[GB_STATS_KINDS];
    volatile apr_uint64_t errors[GB_STATS_KINDS][GB_STATS_OUTCOMES];
    volatile apr_uint64_t buckets[GB_STATS_KINDS][GB_STATS_BUCKETS];
    volatile apr_uint64_t sum_usec[GB_STATS_KINDS];
};

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t nslots;
    apr_time_t since;
    struct gb_stats_slot slots[1];
} gb_stats_seg;

/* Kept in the process pool across generations. */
typedef struct {
    apr_shm_t *shm;
    gb_stats_seg *seg;
} gb_stats_holder;

/* The segment of this generation: set in the parent, inherited by the
 * children (the same address after fork). */
static gb_stats_seg *gb_seg;

static const char *const gb_stats_kind_names[GB_STATS_KINDS] = {
    "handler",
    "post_read_request", "translate_name", "map_to_storage",
    "header_parser", "access", "authn", "authz", "type_checker", "fixups",
    "log",
    "authn_provider", "authz_provider", "input_filter", "output_filter"
};

const char *gb_stats_kind_name(int kind)
{
    return kind >= 0 && kind < GB_STATS_KINDS ? gb_stats_kind_names[kind]
                                              : "unknown";
}

/* Whether seg was made for exactly these plugins, in this order. */
static int gb_stats_fits(const gb_stats_seg *seg,
                         const apr_array_header_t *plugins)
{
    int i;

    if (seg->magic != GB_STATS_MAGIC
        || seg->nslots != (apr_uint32_t)plugins->nelts) {
        return 0;
    }
    for (i = 0; i < plugins->nelts; i++) {
        const gb_plugin *pl = APR_ARRAY_IDX(plugins, i, gb_plugin *);

        if (strcmp(seg->slots[i].name, pl->name) != 0) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t gb_stats_create(apr_pool_t *pool, server_rec *s,
                                    const apr_array_header_t *plugins,
                                    gb_stats_holder *h)
{
    apr_size_t size = APR_OFFSETOF(gb_stats_seg, slots)
                      + sizeof(struct gb_stats_slot)
                        * (plugins->nelts ? plugins->nelts : 1);
    apr_status_t rv;
    int i;

    rv = apr_shm_create(&h->shm, size, NULL, pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GB_APLOGNO(0348)
                     "%s: cannot create %" APR_SIZE_T_FMT " bytes of "
                     "anonymous shared memory for the status counters; "
                     "gobridge-status will show no call counts",
                     __func__, size);
        h->seg = NULL;
        return rv;
    }
    h->seg = apr_shm_baseaddr_get(h->shm);
    memset(h->seg, 0, size);
    h->seg->magic = GB_STATS_MAGIC;
    h->seg->nslots = (apr_uint32_t)plugins->nelts;
    h->seg->since = apr_time_now();
    for (i = 0; i < plugins->nelts; i++) {
        const gb_plugin *pl = APR_ARRAY_IDX(plugins, i, gb_plugin *);

        apr_cpystrn(h->seg->slots[i].name, pl->name,
                    sizeof(h->seg->slots[i].name));
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GB_APLOGNO(0349)
                 "%s: status counters for %d plugins in %" APR_SIZE_T_FMT
                 " bytes of shared memory", __func__, plugins->nelts, size);
    return APR_SUCCESS;
}

apr_status_t gb_stats_post_config(apr_pool_t *pconf, server_rec *s)
{
    gb_srv_conf *conf = gb_config_sget(s);
    apr_pool_t *proc = s->process->pool;
    gb_stats_holder *h = NULL;
    apr_status_t rv = APR_SUCCESS;
    int i;

    (void)pconf;
    apr_pool_userdata_get((void **)&h, GB_STATS_KEY, proc);
    if (!h) {
        h = apr_pcalloc(proc, sizeof(*h));
        apr_pool_userdata_set(h, GB_STATS_KEY, apr_pool_cleanup_null, proc);
    }
    if (!h->seg || !gb_stats_fits(h->seg, conf->plugins)) {
        /* Children of the old generation keep their own mapping of the
         * old segment: destroying it here only unmaps it in the parent. */
        if (h->shm) {
            apr_shm_destroy(h->shm);
            h->shm = NULL;
            h->seg = NULL;
        }
        rv = gb_stats_create(proc, s, conf->plugins, h);
    }
    gb_seg = h->seg;
    for (i = 0; i < conf->plugins->nelts; i++) {
        gb_plugin *pl = APR_ARRAY_IDX(conf->plugins, i, gb_plugin *);

        pl->stats = gb_seg ? &gb_seg->slots[i] : NULL;
    }
    return rv;
}

apr_time_t gb_stats_since(void)
{
    return gb_seg ? gb_seg->since : 0;
}

void gb_stats_begin(gb_stats_call *sc, const gb_plugin *pl, int kind)
{
    sc->slot = pl ? pl->stats : NULL;
    if (!sc->slot) {
        return;
    }
    sc->kind = kind;
    sc->start = apr_time_now();
    apr_atomic_inc64(&sc->slot->calls[kind]);
}

void gb_stats_end(gb_stats_call *sc, int outcome)
{
    struct gb_stats_slot *slot = sc->slot;
    apr_interval_time_t took;
    int b;

    if (!slot) {
        return;
    }
    sc->slot = NULL;
    took = apr_time_now() - sc->start;
    if (took < 0) {
        took = 0;
    }
    for (b = 0; b < GB_STATS_BOUNDS && took > gb_stats_bounds[b]; b++) {
    }
    apr_atomic_add64(&slot->sum_usec[sc->kind], (apr_uint64_t)took);
    apr_atomic_inc64(&slot->buckets[sc->kind][b]);
    if (outcome > 0 && outcome < GB_STATS_OUTCOMES) {
        apr_atomic_inc64(&slot->errors[sc->kind][outcome]);
    }
}

int gb_stats_read(const gb_plugin *pl, gb_stats_plugin *out)
{
    struct gb_stats_slot *slot = pl->stats;
    int k, i;

    memset(out, 0, sizeof(*out));
    out->name = pl->name;
    if (!slot) {
        return 0;
    }
    for (k = 0; k < GB_STATS_KINDS; k++) {
        apr_uint64_t ended = 0;

        /* Ends first: a call that ends between the two reads is then
         * counted as started, never as ended before it began. */
        for (i = 0; i < GB_STATS_BUCKETS; i++) {
            out->buckets[k][i] = apr_atomic_read64(&slot->buckets[k][i]);
            ended += out->buckets[k][i];
        }
        out->sum_usec[k] = apr_atomic_read64(&slot->sum_usec[k]);
        for (i = 1; i < GB_STATS_OUTCOMES; i++) {
            out->errors[k][i] = apr_atomic_read64(&slot->errors[k][i]);
        }
        out->calls[k] = apr_atomic_read64(&slot->calls[k]);
        if (out->calls[k] < ended) {
            out->calls[k] = ended;
        }
        out->inflight[k] = out->calls[k] - ended;
    }
    return 1;
}

apr_interval_time_t gb_stats_quantile(const apr_uint64_t *buckets, double q)
{
    apr_uint64_t total = 0, seen = 0;
    double rank;
    int b;

    for (b = 0; b < GB_STATS_BUCKETS; b++) {
        total += buckets[b];
    }
    if (!total) {
        return -1;
    }
    rank = q * (double)total;
    for (b = 0; b < GB_STATS_BUCKETS; b++) {
        if (buckets[b] && (double)(seen + buckets[b]) >= rank) {
            double lo, hi;

            if (b == GB_STATS_BOUNDS) {
                return gb_stats_bounds[GB_STATS_BOUNDS - 1];
            }
            lo = b ? (double)gb_stats_bounds[b - 1] : 0.0;
            hi = (double)gb_stats_bounds[b];
            return (apr_interval_time_t)(lo + (hi - lo) * (rank - seen)
                                              / (double)buckets[b]);
        }
        seen += buckets[b];
    }
    return gb_stats_bounds[GB_STATS_BOUNDS - 1];
}
