/* gb_stats.h: the counters behind SetHandler gobridge-status.
 *
 * One anonymous shared memory segment, created by httpd's parent in
 * post_config and inherited by every child, holds one slot per declared
 * plugin: calls started per kind, calls ended per kind in a latency
 * histogram, and failed calls per kind and outcome. Children update it
 * with apr_atomic 64-bit operations and no lock; the status page reads it
 * without a lock either, so a reading may be a call or two out of step
 * between two counters (in flight is clamped at zero).
 *
 * Calls in flight are not counted separately: they are the calls started
 * less the calls ended, which keeps a call to two atomic adds at its end
 * and one at its start.
 *
 * The segment lives in the process pool and survives apachectl graceful
 * when the plugin list (names, in order) is unchanged; when it changed,
 * a new segment starts from zero and children of the old generation go
 * on counting in the old one until they exit.
 */
#ifndef GB_STATS_H
#define GB_STATS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <httpd.h>

#include "gb_config.h"

/* What a call was made for. The phases keep gb_phase_id's order. */
typedef enum {
    GB_STATS_HANDLER = 0,                           /* GoBridgeHandler */
    GB_STATS_PHASE0,                                /* + gb_phase_id */
    GB_STATS_AUTHN_PROVIDER = GB_STATS_PHASE0 + GB_PHASE_COUNT,
                                        /* AuthBasicProvider gobridge, ... */
    GB_STATS_AUTHZ_PROVIDER,            /* Require gobridge */
    GB_STATS_INPUT_FILTER,              /* GoBridgeInputFilter */
    GB_STATS_OUTPUT_FILTER,             /* GoBridgeOutputFilter */
    GB_STATS_KINDS
} gb_stats_kind;

#define GB_STATS_PHASE(id) ((gb_stats_kind)(GB_STATS_PHASE0 + (id)))

/* How a call ended; the values of gb_rpc_outcome (gb_rpc.h). */
#define GB_STATS_OUTCOMES 4

/* Upper bounds of the latency buckets, in microseconds; the last bucket
 * (+Inf) has none. */
#define GB_STATS_BOUNDS 14
#define GB_STATS_BUCKETS (GB_STATS_BOUNDS + 1)
extern const apr_interval_time_t gb_stats_bounds[GB_STATS_BOUNDS];

/* A call being counted: what gb_stats_begin() fills in and
 * gb_stats_end() takes. */
typedef struct {
    struct gb_stats_slot *slot;     /* NULL: not counted */
    int kind;
    apr_time_t start;
} gb_stats_call;

/* One plugin's counters, as read by the status page. */
typedef struct {
    const char *name;
    apr_uint64_t calls[GB_STATS_KINDS];         /* started */
    apr_uint64_t inflight[GB_STATS_KINDS];      /* started, not ended */
    apr_uint64_t errors[GB_STATS_KINDS][GB_STATS_OUTCOMES]; /* [0] unused */
    apr_uint64_t buckets[GB_STATS_KINDS][GB_STATS_BUCKETS]; /* not cumulative */
    apr_uint64_t sum_usec[GB_STATS_KINDS];      /* of the ended calls */
} gb_stats_plugin;

/* post_config: finds or creates the segment for the declared plugins and
 * points each gb_plugin at its slot. Returns the error of apr_shm_create
 * (logged); gobridge then counts nothing but serves all the same. */
apr_status_t gb_stats_post_config(apr_pool_t *pconf, server_rec *s);

/* The name of kind, as shown on the status page ("handler", "fixups",
 * "authn_provider", ...). */
const char *gb_stats_kind_name(int kind);

/* Counts the start of a call to pl (may be NULL: nothing is counted). */
void gb_stats_begin(gb_stats_call *sc, const gb_plugin *pl, int kind);

/* Counts the end of sc with outcome (a gb_rpc_outcome). Does nothing for
 * a call not counted or already ended. */
void gb_stats_end(gb_stats_call *sc, int outcome);

/* When the counters started (the segment was created), 0 without one. */
apr_time_t gb_stats_since(void);

/* A snapshot of plugin pl's counters in *out; 0 if it has none. */
int gb_stats_read(const gb_plugin *pl, gb_stats_plugin *out);

/* The latency below which a fraction q (0..1) of the calls counted in
 * buckets ended, interpolated inside its bucket (like Prometheus'
 * histogram_quantile); -1 without calls. For the last bucket it answers
 * the largest bound. */
apr_interval_time_t gb_stats_quantile(const apr_uint64_t *buckets,
                                      double q);

#endif /* GB_STATS_H */
