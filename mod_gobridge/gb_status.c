/* gb_status.c: SetHandler gobridge-status (see gb_status.h).
 *
 * Nothing here runs outside a request to the status page: gobridged's
 * status file is read and the shared counters are summed only when the
 * page is asked for.
 */
#include "gb_private.h"
#include "gb_status.h"
#include "gb_config.h"
#include "gb_conn.h"
#include "gb_resolve.h"
#include "gb_rpc.h"
#include "gb_stats.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <unistd.h>

/* gobridged rewrites it whole (temp + rename); it stays small. */
#define GB_STATUS_FILE "status"
#define GB_STATUS_FILE_MAX (256 * 1024)

/* What gobridged says of one plugin. */
typedef struct {
    const char *name;
    const char *state;          /* running, starting, down, unknown;
                                 * remote for a remote plugin */
    long pid;                   /* 0: none */
    apr_time_t started;         /* of the current process, 0: none */
    long restarts;              /* starts after the first */
    const char *last_reason;    /* "" if it never ended */
    apr_time_t last_exit;       /* 0: never */
    const char *last_detail;    /* exit status or signal, "" */
} gb_status_proc;

/* Everything the page shows. */
typedef struct {
    request_rec *r;
    apr_time_t now;
    int have_daemon;            /* the status file was read */
    long daemon_pid;
    apr_time_t daemon_started;
    apr_hash_t *procs;          /* name -> gb_status_proc * */
    int n;
    const gb_plugin **plugins;
    gb_stats_plugin *stats;     /* [n] */
    int *conn_open;             /* [n], this child */
    int *conn_idle;             /* [n], this child */
} gb_status_page;

static const char *const gb_status_outcomes[GB_STATS_OUTCOMES] = {
    "ok", "down", "timeout", "broken"
};

static apr_time_t gb_status_usec(const char *s)
{
    apr_int64_t v = apr_atoi64(s);

    return v > 0 ? (apr_time_t)v : 0;
}

/* Reads gobridged's status file; a missing or unreadable file leaves the
 * process facts unknown (the counters are shown all the same). */
static void gb_status_read_daemon(gb_status_page *pg, const char *dir)
{
    request_rec *r = pg->r;
    const char *path = apr_pstrcat(r->pool, dir, "/" GB_STATUS_FILE, NULL);
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t len;
    char *buf, *line, *last;
    apr_status_t rv;

    pg->procs = apr_hash_make(r->pool);
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0,
                       r->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
        if (rv == APR_SUCCESS && fi.size > GB_STATUS_FILE_MAX) {
            rv = APR_EGENERAL;
        }
        if (rv == APR_SUCCESS) {
            len = (apr_size_t)fi.size;
            buf = apr_palloc(r->pool, len + 1);
            rv = apr_file_read_full(f, buf, len, &len);
            if (rv == APR_EOF) {
                rv = APR_SUCCESS;
            }
            buf[len] = '\0';
        }
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, GB_APLOGNO(0350)
                      "%s: cannot read gobridged's status file in the "
                      "runtime directory; plugin processes are shown as "
                      "unknown", __func__);
        return;
    }
    pg->have_daemon = 1;
    for (line = apr_strtok(buf, "\n", &last); line;
         line = apr_strtok(NULL, "\n", &last)) {
        char *fld[9];
        int nf = 0;
        char *p = line;

        if (*line == '#') {
            continue;
        }
        /* Fields past the ninth (a later version's) are cut off. */
        while (nf < 9) {
            fld[nf++] = p;
            p = strchr(p, '\t');
            if (!p) {
                break;
            }
            *p++ = '\0';
        }
        if (!strcmp(fld[0], "gobridged") && nf >= 3) {
            pg->daemon_pid = atol(fld[1]);
            pg->daemon_started = gb_status_usec(fld[2]);
        }
        else if (!strcmp(fld[0], "plugin") && nf >= 9) {
            gb_status_proc *pr = apr_pcalloc(r->pool, sizeof(*pr));

            pr->name = fld[1];
            pr->state = fld[2];
            pr->pid = atol(fld[3]);
            pr->started = gb_status_usec(fld[4]);
            pr->restarts = atol(fld[5]);
            pr->last_reason = fld[6];
            pr->last_exit = gb_status_usec(fld[7]);
            pr->last_detail = fld[8];
            apr_hash_set(pg->procs, pr->name, APR_HASH_KEY_STRING, pr);
        }
        /* Other records are for later versions: ignored. */
    }
}

static const gb_status_proc *gb_status_proc_of(const gb_status_page *pg,
                                               const char *name)
{
    static const gb_status_proc unknown = {
        NULL, "unknown", 0, 0, 0, "", 0, ""
    };
    /* gobridged knows nothing of a remote plugin (docs/remote.md). */
    static const gb_status_proc remote = {
        NULL, "remote", 0, 0, 0, "", 0, ""
    };
    const gb_plugin *pl = gb_config_plugin(pg->r->server, name);
    const gb_status_proc *pr;

    if (pl && pl->remote) {
        return &remote;
    }
    pr = apr_hash_get(pg->procs, name, APR_HASH_KEY_STRING);

    if (!pr && pg->procs) {
        /* A pool (processes=N) runs as NAME.0 …: its first process
         * stands for it here. */
        pr = apr_hash_get(pg->procs, apr_pstrcat(pg->r->pool, name, ".0",
                                                 NULL),
                          APR_HASH_KEY_STRING);
    }
    return pr ? pr : &unknown;
}

/* The pids of a plugin's processes, separated by sep ("" when none runs):
 * one, or a pool's (NAME.0 …). */
static const char *gb_status_pids(const gb_status_page *pg,
                                  const gb_plugin *pl, const char *sep)
{
    apr_pool_t *p = pg->r->pool;
    const char *out = "";
    int j;

    for (j = 0; j < pl->processes; j++) {
        const gb_status_proc *pr = pl->processes == 1
            ? gb_status_proc_of(pg, pl->name)
            : gb_status_proc_of(pg, apr_psprintf(p, "%s.%d", pl->name, j));
        if (pr->pid > 0) {
            out = apr_psprintf(p, "%s%s%ld", out, *out ? sep : "", pr->pid);
        }
    }
    return out;
}

/* A remote plugin's addresses as this child calls them now ("host:port
 * (ip)"), each passed through quote (NULL: as is) and joined by sep; NULL
 * for a plugin gobridged runs. */
static const char *gb_status_addresses(const gb_status_page *pg,
                                       const gb_plugin *pl, const char *sep,
                                       const char *(*quote)(apr_pool_t *,
                                                            const char *))
{
    apr_pool_t *p = pg->r->pool;
    struct gb_endpoint **eps;
    const char *out = "";
    int j, n;

    if (!pl->remote || !pl->endpoints) {
        return NULL;
    }
    eps = gb_resolve_endpoints(NULL, pl, &n);
    for (j = 0; j < n; j++) {
        const char *a = gb_conn_endpoint_path(eps[j]);

        out = apr_pstrcat(p, out, j ? sep : "", quote ? quote(p, a) : a,
                          NULL);
    }
    return out;
}

static void gb_status_collect(gb_status_page *pg)
{
    request_rec *r = pg->r;
    gb_srv_conf *conf = gb_config_sget(r->server);
    struct gb_endpoint **eps;
    int i, j, n;

    pg->now = apr_time_now();
    gb_status_read_daemon(pg, conf->socket_dir);
    pg->n = conf->plugins->nelts;
    pg->plugins = apr_pcalloc(r->pool, sizeof(*pg->plugins) * (pg->n + 1));
    pg->stats = apr_pcalloc(r->pool, sizeof(*pg->stats) * (pg->n + 1));
    pg->conn_open = apr_pcalloc(r->pool, sizeof(int) * (pg->n + 1));
    pg->conn_idle = apr_pcalloc(r->pool, sizeof(int) * (pg->n + 1));
    for (i = 0; i < pg->n; i++) {
        const gb_plugin *pl = APR_ARRAY_IDX(conf->plugins, i, gb_plugin *);

        pg->plugins[i] = pl;
        gb_stats_read(pl, &pg->stats[i]);
        /* A pool's processes together. */
        eps = pl->endpoints ? gb_resolve_endpoints(NULL, pl, &n) : NULL;
        for (j = 0; eps && j < n; j++) {
            int open, idle;

            gb_conn_endpoint_counts(eps[j], &open, &idle);
            pg->conn_open[i] += open;
            pg->conn_idle[i] += idle;
        }
    }
}

static apr_uint64_t gb_status_sum(const apr_uint64_t *v, int n)
{
    apr_uint64_t t = 0;
    int i;

    for (i = 0; i < n; i++) {
        t += v[i];
    }
    return t;
}

/* Seconds, as a decimal string. */
static const char *gb_status_secs(apr_pool_t *p, apr_int64_t usec)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT ".%06" APR_INT64_T_FMT,
                        usec / APR_USEC_PER_SEC, usec % APR_USEC_PER_SEC);
}

/* A bucket bound in seconds, without trailing zeros ("0.0005", "1"). */
static const char *gb_status_bound(apr_pool_t *p, apr_interval_time_t usec)
{
    char *v = apr_pstrdup(p, gb_status_secs(p, usec));
    char *e = v + strlen(v) - 1;

    while (*e == '0') {
        *e-- = '\0';
    }
    if (*e == '.') {
        *e = '\0';
    }
    return v;
}

static const char *gb_status_quantile(apr_pool_t *p,
                                      const apr_uint64_t *buckets, double q)
{
    apr_interval_time_t v = gb_stats_quantile(buckets, q);

    return v < 0 ? NULL : gb_status_secs(p, v);
}

/* A JSON string: the names are plain, but exit details are gobridged's
 * text. */
static const char *gb_status_json_str(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s);
    char *out = apr_palloc(p, n * 6 + 3), *o = out;

    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        }
        else if (c < 0x20 || c == 0x7f) {
            o += apr_snprintf(o, 7, "\\u%04x", c);
        }
        else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* A Prometheus label value (text format 0.0.4: \\, \" and \n escaped). */
static const char *gb_status_label(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s);
    char *out = apr_palloc(p, n * 2 + 1), *o = out;

    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        }
        else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static const char *gb_status_time(apr_pool_t *p, apr_time_t t)
{
    char *buf;

    if (!t) {
        return "-";
    }
    buf = apr_palloc(p, APR_RFC822_DATE_LEN);
    apr_rfc822_date(buf, t);
    return buf;
}

/* ?auto: "Key: value" lines, as mod_status's. */
static void gb_status_auto(gb_status_page *pg)
{
    request_rec *r = pg->r;
    int i, k, o;

    ap_set_content_type(r, "text/plain; charset=ISO-8859-1");
    ap_rprintf(r, "GoBridgeVersion: %s\n", GB_VERSION);
    ap_rprintf(r, "ChildPid: %" APR_PID_T_FMT "\n", getpid());
    ap_rprintf(r, "CountersSince: %" APR_TIME_T_FMT "\n",
               apr_time_sec(gb_stats_since()));
    ap_rprintf(r, "GobridgedUp: %d\n", pg->have_daemon);
    if (pg->have_daemon) {
        ap_rprintf(r, "GobridgedPid: %ld\n", pg->daemon_pid);
    }
    ap_rprintf(r, "Plugins: %d\n", pg->n);
    for (i = 0; i < pg->n; i++) {
        const char *nm = pg->plugins[i]->name;
        const gb_status_proc *pr = gb_status_proc_of(pg, nm);
        const gb_stats_plugin *st = &pg->stats[i];

        ap_rprintf(r, "Plugin.%s.State: %s\n", nm, pr->state);
        ap_rprintf(r, "Plugin.%s.Pid: %ld\n", nm, pr->pid);
        ap_rprintf(r, "Plugin.%s.Processes: %d\n", nm,
                   pg->plugins[i]->processes);
        ap_rprintf(r, "Plugin.%s.Pids: %s\n", nm,
                   gb_status_pids(pg, pg->plugins[i], " "));
        if (pg->plugins[i]->remote) {
            ap_rprintf(r, "Plugin.%s.Addresses: %s\n", nm,
                       gb_status_addresses(pg, pg->plugins[i], ", ", NULL));
        }
        ap_rprintf(r, "Plugin.%s.Uptime: %" APR_TIME_T_FMT "\n", nm,
                   pr->started ? apr_time_sec(pg->now - pr->started) : 0);
        ap_rprintf(r, "Plugin.%s.Restarts: %ld\n", nm, pr->restarts);
        if (*pr->last_reason) {
            ap_rprintf(r, "Plugin.%s.LastExit: %s\n", nm, pr->last_reason);
            ap_rprintf(r, "Plugin.%s.LastExitDetail: %s\n", nm,
                       pr->last_detail);
        }
        ap_rprintf(r, "Plugin.%s.ChildConnections: %d\n", nm,
                   pg->conn_open[i]);
        ap_rprintf(r, "Plugin.%s.ChildIdleConnections: %d\n", nm,
                   pg->conn_idle[i]);
        ap_rprintf(r, "Plugin.%s.Calls: %" APR_UINT64_T_FMT "\n", nm,
                   gb_status_sum(st->calls, GB_STATS_KINDS));
        ap_rprintf(r, "Plugin.%s.InFlight: %" APR_UINT64_T_FMT "\n", nm,
                   gb_status_sum(st->inflight, GB_STATS_KINDS));
        for (k = 0; k < GB_STATS_KINDS; k++) {
            const char *q;

            if (!st->calls[k]) {
                continue;
            }
            ap_rprintf(r, "Plugin.%s.Calls.%s: %" APR_UINT64_T_FMT "\n", nm,
                       gb_stats_kind_name(k), st->calls[k]);
            for (o = 1; o < GB_STATS_OUTCOMES; o++) {
                ap_rprintf(r, "Plugin.%s.Errors.%s.%s: %" APR_UINT64_T_FMT
                           "\n", nm, gb_stats_kind_name(k),
                           gb_status_outcomes[o], st->errors[k][o]);
            }
            if ((q = gb_status_quantile(r->pool, st->buckets[k], 0.5))) {
                ap_rprintf(r, "Plugin.%s.LatencyP50.%s: %s\n", nm,
                           gb_stats_kind_name(k), q);
                ap_rprintf(r, "Plugin.%s.LatencyP99.%s: %s\n", nm,
                           gb_stats_kind_name(k),
                           gb_status_quantile(r->pool, st->buckets[k], 0.99));
            }
        }
    }
}

/* ?json */
static void gb_status_json(gb_status_page *pg)
{
    request_rec *r = pg->r;
    apr_pool_t *p = r->pool;
    int i, k, o;

    ap_set_content_type(r, "application/json");
    ap_rprintf(r, "{\"version\":\"%s\",\"child_pid\":%" APR_PID_T_FMT
               ",\"now\":%s,\"counters_since\":%s,\"gobridged\":",
               GB_VERSION, getpid(), gb_status_secs(p, pg->now),
               gb_status_secs(p, gb_stats_since()));
    if (pg->have_daemon) {
        ap_rprintf(r, "{\"pid\":%ld,\"started\":%s}", pg->daemon_pid,
                   gb_status_secs(p, pg->daemon_started));
    }
    else {
        ap_rputs("null", r);
    }
    ap_rputs(",\"plugins\":[", r);
    for (i = 0; i < pg->n; i++) {
        const char *nm = pg->plugins[i]->name;
        const gb_status_proc *pr = gb_status_proc_of(pg, nm);
        const gb_stats_plugin *st = &pg->stats[i];
        int first;

        ap_rprintf(r, "%s{\"name\":%s,\"state\":%s,\"pid\":%ld,"
                   "\"pids\":[%s],\"processes\":%d,"
                   "\"started\":%s,\"uptime_seconds\":%s,\"restarts\":%ld,",
                   i ? "," : "", gb_status_json_str(p, nm),
                   gb_status_json_str(p, pr->state), pr->pid,
                   gb_status_pids(pg, pg->plugins[i], ","),
                   pg->plugins[i]->processes,
                   pr->started ? gb_status_secs(p, pr->started) : "null",
                   pr->started ? gb_status_secs(p, pg->now - pr->started)
                               : "null",
                   pr->restarts);
        if (pg->plugins[i]->remote) {
            ap_rprintf(r, "\"addresses\":[%s],",
                       gb_status_addresses(pg, pg->plugins[i], ",",
                                           gb_status_json_str));
        }
        if (*pr->last_reason) {
            ap_rprintf(r, "\"last_exit\":{\"reason\":%s,\"at\":%s,"
                       "\"detail\":%s},",
                       gb_status_json_str(p, pr->last_reason),
                       gb_status_secs(p, pr->last_exit),
                       gb_status_json_str(p, pr->last_detail));
        }
        else {
            ap_rputs("\"last_exit\":null,", r);
        }
        ap_rprintf(r, "\"child_connections\":{\"open\":%d,\"idle\":%d},"
                   "\"calls\":{", pg->conn_open[i], pg->conn_idle[i]);
        for (k = 0, first = 1; k < GB_STATS_KINDS; k++) {
            apr_uint64_t ended;
            const char *q50, *q90, *q99;

            if (!st->calls[k]) {
                continue;
            }
            ended = st->calls[k] - st->inflight[k];
            q50 = gb_status_quantile(p, st->buckets[k], 0.5);
            q90 = gb_status_quantile(p, st->buckets[k], 0.9);
            q99 = gb_status_quantile(p, st->buckets[k], 0.99);
            ap_rprintf(r, "%s\"%s\":{\"total\":%" APR_UINT64_T_FMT
                       ",\"in_flight\":%" APR_UINT64_T_FMT
                       ",\"ended\":%" APR_UINT64_T_FMT ",\"errors\":{",
                       first ? "" : ",", gb_stats_kind_name(k), st->calls[k],
                       st->inflight[k], ended);
            for (o = 1; o < GB_STATS_OUTCOMES; o++) {
                ap_rprintf(r, "%s\"%s\":%" APR_UINT64_T_FMT, o > 1 ? "," : "",
                           gb_status_outcomes[o], st->errors[k][o]);
            }
            ap_rprintf(r, "},\"latency_seconds\":{\"sum\":%s,\"p50\":%s,"
                       "\"p90\":%s,\"p99\":%s}}",
                       gb_status_secs(p, (apr_int64_t)st->sum_usec[k]),
                       q50 ? q50 : "null", q90 ? q90 : "null",
                       q99 ? q99 : "null");
            first = 0;
        }
        ap_rputs("}}", r);
    }
    ap_rputs("]}\n", r);
}

static void gb_status_metric_head(request_rec *r, const char *name,
                                  const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ?metrics: Prometheus text exposition format 0.0.4. */
static void gb_status_metrics(gb_status_page *pg)
{
    request_rec *r = pg->r;
    apr_pool_t *p = r->pool;
    int i, k, o, b;

    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    gb_status_metric_head(r, "gobridge_gobridged_up", "gauge",
                          "Whether gobridged's status file could be read.");
    ap_rprintf(r, "gobridge_gobridged_up %d\n", pg->have_daemon);

    gb_status_metric_head(r, "gobridge_plugin_up", "gauge",
                          "Whether gobridged reports the plugin's process "
                          "running.");
    for (i = 0; i < pg->n; i++) {
        const char *nm = pg->plugins[i]->name;

        ap_rprintf(r, "gobridge_plugin_up{plugin=\"%s\"} %d\n",
                   gb_status_label(p, nm),
                   !strcmp(gb_status_proc_of(pg, nm)->state, "running"));
    }
    gb_status_metric_head(r, "gobridge_plugin_start_time_seconds", "gauge",
                          "Start time of the plugin's current process, "
                          "in seconds since the epoch.");
    for (i = 0; i < pg->n; i++) {
        const gb_status_proc *pr = gb_status_proc_of(pg,
                                                     pg->plugins[i]->name);

        if (pr->started) {
            ap_rprintf(r, "gobridge_plugin_start_time_seconds{plugin=\"%s\"}"
                       " %s\n", gb_status_label(p, pg->plugins[i]->name),
                       gb_status_secs(p, pr->started));
        }
    }
    gb_status_metric_head(r, "gobridge_plugin_restarts_total", "counter",
                          "Starts of the plugin after its first, since "
                          "gobridged started.");
    for (i = 0; i < pg->n; i++) {
        const gb_status_proc *pr = gb_status_proc_of(pg,
                                                     pg->plugins[i]->name);

        ap_rprintf(r, "gobridge_plugin_restarts_total{plugin=\"%s\"} %ld\n",
                   gb_status_label(p, pg->plugins[i]->name), pr->restarts);
    }
    gb_status_metric_head(r, "gobridge_child_connections", "gauge",
                          "Connections to the plugin held by the httpd "
                          "child that answered this scrape.");
    for (i = 0; i < pg->n; i++) {
        const char *l = gb_status_label(p, pg->plugins[i]->name);

        ap_rprintf(r, "gobridge_child_connections{plugin=\"%s\",state="
                   "\"busy\"} %d\n", l, pg->conn_open[i] - pg->conn_idle[i]);
        ap_rprintf(r, "gobridge_child_connections{plugin=\"%s\",state="
                   "\"idle\"} %d\n", l, pg->conn_idle[i]);
    }

    gb_status_metric_head(r, "gobridge_calls_total", "counter",
                          "Calls to the plugin started, by kind, summed "
                          "over all httpd children.");
    for (i = 0; i < pg->n; i++) {
        for (k = 0; k < GB_STATS_KINDS; k++) {
            if (pg->stats[i].calls[k]) {
                ap_rprintf(r, "gobridge_calls_total{plugin=\"%s\",kind=\"%s\"}"
                           " %" APR_UINT64_T_FMT "\n",
                           gb_status_label(p, pg->plugins[i]->name),
                           gb_stats_kind_name(k), pg->stats[i].calls[k]);
            }
        }
    }
    gb_status_metric_head(r, "gobridge_calls_in_flight", "gauge",
                          "Calls to the plugin started and not yet ended.");
    for (i = 0; i < pg->n; i++) {
        for (k = 0; k < GB_STATS_KINDS; k++) {
            if (pg->stats[i].calls[k]) {
                ap_rprintf(r, "gobridge_calls_in_flight{plugin=\"%s\","
                           "kind=\"%s\"} %" APR_UINT64_T_FMT "\n",
                           gb_status_label(p, pg->plugins[i]->name),
                           gb_stats_kind_name(k), pg->stats[i].inflight[k]);
            }
        }
    }
    gb_status_metric_head(r, "gobridge_call_errors_total", "counter",
                          "Calls to the plugin that failed, by kind and "
                          "reason (down: unreachable or gone, timeout: "
                          "GoBridgeTimeout ran out, broken: protocol error "
                          "or error status).");
    for (i = 0; i < pg->n; i++) {
        for (k = 0; k < GB_STATS_KINDS; k++) {
            if (!pg->stats[i].calls[k]) {
                continue;
            }
            for (o = 1; o < GB_STATS_OUTCOMES; o++) {
                ap_rprintf(r, "gobridge_call_errors_total{plugin=\"%s\","
                           "kind=\"%s\",reason=\"%s\"} %" APR_UINT64_T_FMT
                           "\n", gb_status_label(p, pg->plugins[i]->name),
                           gb_stats_kind_name(k), gb_status_outcomes[o],
                           pg->stats[i].errors[k][o]);
            }
        }
    }
    gb_status_metric_head(r, "gobridge_call_duration_seconds", "histogram",
                          "Time from a call's start to its end (for the "
                          "handler, until the response was passed on).");
    for (i = 0; i < pg->n; i++) {
        const gb_stats_plugin *st = &pg->stats[i];
        const char *l = gb_status_label(p, pg->plugins[i]->name);

        for (k = 0; k < GB_STATS_KINDS; k++) {
            apr_uint64_t cum = 0;
            const char *kn = gb_stats_kind_name(k);

            if (!st->calls[k]) {
                continue;
            }
            for (b = 0; b < GB_STATS_BUCKETS; b++) {
                cum += st->buckets[k][b];
                ap_rprintf(r, "gobridge_call_duration_seconds_bucket{plugin="
                           "\"%s\",kind=\"%s\",le=\"%s\"} %" APR_UINT64_T_FMT
                           "\n", l, kn, b < GB_STATS_BOUNDS
                           ? gb_status_bound(p, gb_stats_bounds[b])
                           : "+Inf", cum);
            }
            ap_rprintf(r, "gobridge_call_duration_seconds_sum{plugin=\"%s\","
                       "kind=\"%s\"} %s\n", l, kn,
                       gb_status_secs(p, (apr_int64_t)st->sum_usec[k]));
            ap_rprintf(r, "gobridge_call_duration_seconds_count{plugin=\"%s\","
                       "kind=\"%s\"} %" APR_UINT64_T_FMT "\n", l, kn, cum);
        }
    }
}

/* HTML, the default. */
static void gb_status_html(gb_status_page *pg)
{
    request_rec *r = pg->r;
    apr_pool_t *p = r->pool;
    int i, k;

    ap_set_content_type(r, "text/html; charset=ISO-8859-1");
    ap_rputs(DOCTYPE_HTML_3_2 "<html><head>\n<title>gobridge status</title>\n"
             "</head><body>\n<h1>gobridge status</h1>\n", r);
    ap_rprintf(r, "<dl><dt>mod_gobridge %s, answered by httpd child %"
               APR_PID_T_FMT "</dt>\n", GB_VERSION, getpid());
    ap_rprintf(r, "<dt>Current time: %s</dt>\n", gb_status_time(p, pg->now));
    ap_rprintf(r, "<dt>Call counters since: %s</dt>\n",
               gb_status_time(p, gb_stats_since()));
    if (pg->have_daemon) {
        ap_rprintf(r, "<dt>gobridged: pid %ld, started %s</dt></dl>\n",
                   pg->daemon_pid, gb_status_time(p, pg->daemon_started));
    }
    else {
        ap_rputs("<dt>gobridged: no status file (not running?)</dt></dl>\n",
                 r);
    }
    ap_rputs("<h2>Plugins</h2>\n<table border=\"1\"><tr><th>Plugin</th>"
             "<th>State</th><th>PIDs</th><th>Started</th><th>Uptime (s)</th>"
             "<th>Restarts</th><th>Last exit</th>"
             "<th>Connections (this child: open/idle)</th></tr>\n", r);
    for (i = 0; i < pg->n; i++) {
        const char *nm = pg->plugins[i]->name;
        const gb_status_proc *pr = gb_status_proc_of(pg, nm);

        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                   "<td>%" APR_TIME_T_FMT "</td><td>%ld</td><td>%s</td>"
                   "<td>%d/%d</td></tr>\n",
                   ap_escape_html(p, nm), ap_escape_html(p, pr->state),
                   gb_status_pids(pg, pg->plugins[i], " "),
                   gb_status_time(p, pr->started),
                   pr->started ? apr_time_sec(pg->now - pr->started) : 0,
                   pr->restarts,
                   *pr->last_reason
                   ? ap_escape_html(p, apr_psprintf(p, "%s (%s) at %s",
                                                    pr->last_reason,
                                                    pr->last_detail,
                                                    gb_status_time(
                                                        p, pr->last_exit)))
                   : "-", pg->conn_open[i], pg->conn_idle[i]);
    }
    ap_rputs("</table>\n<h2>Calls (all children)</h2>\n<table border=\"1\">"
             "<tr><th>Plugin</th><th>Kind</th><th>Calls</th>"
             "<th>In flight</th><th>Down</th><th>Timeout</th>"
             "<th>Broken</th><th>p50 (s)</th><th>p90 (s)</th>"
             "<th>p99 (s)</th></tr>\n", r);
    for (i = 0; i < pg->n; i++) {
        const gb_stats_plugin *st = &pg->stats[i];

        for (k = 0; k < GB_STATS_KINDS; k++) {
            const char *q50, *q90, *q99;

            if (!st->calls[k]) {
                continue;
            }
            q50 = gb_status_quantile(p, st->buckets[k], 0.5);
            q90 = gb_status_quantile(p, st->buckets[k], 0.9);
            q99 = gb_status_quantile(p, st->buckets[k], 0.99);
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT
                       "</td><td>%" APR_UINT64_T_FMT "</td><td>%"
                       APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
                       "</td><td>%" APR_UINT64_T_FMT "</td><td>%s</td>"
                       "<td>%s</td><td>%s</td></tr>\n",
                       ap_escape_html(p, st->name), gb_stats_kind_name(k),
                       st->calls[k], st->inflight[k], st->errors[k][1],
                       st->errors[k][2], st->errors[k][3],
                       q50 ? q50 : "-", q90 ? q90 : "-", q99 ? q99 : "-");
        }
    }
    ap_rputs("</table>\n<p>Percentiles are estimated from fixed buckets "
             "(0.5 ms to 10 s).</p>\n</body></html>\n", r);
}

/* Whether word is one of the &- or ;-separated items of args, alone or
 * with a value ("metrics=", as Prometheus' params send it). */
static int gb_status_arg(const char *args, const char *word)
{
    apr_size_t n = strlen(word);
    const char *a = args;

    while (a && *a) {
        apr_size_t len = strcspn(a, "&;");

        if (len >= n && !strncmp(a, word, n) && (len == n || a[n] == '=')) {
            return 1;
        }
        a += len;
        if (*a) {
            a++;
        }
    }
    return 0;
}

int gb_status_handler(request_rec *r)
{
    gb_status_page pg;

    if (!r->handler || strcmp(r->handler, GB_STATUS_HANDLER) != 0) {
        return DECLINED;
    }
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    memset(&pg, 0, sizeof(pg));
    pg.r = r;
    gb_status_collect(&pg);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        ap_set_content_type(r, "text/html; charset=ISO-8859-1");
        return OK;
    }
    if (gb_status_arg(r->args, "metrics")) {
        gb_status_metrics(&pg);
    }
    else if (gb_status_arg(r->args, "json")) {
        gb_status_json(&pg);
    }
    else if (gb_status_arg(r->args, "auto")) {
        gb_status_auto(&pg);
    }
    else {
        gb_status_html(&pg);
    }
    return OK;
}
