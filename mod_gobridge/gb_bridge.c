/* gb_bridge.c: gobridged's life in httpd's parent process. */
#include "gb_private.h"
#include "gb_bridge.h"
#include "gb_config.h"
#include "gb_conn.h"

#include <apr_file_io.h>
#include <apr_thread_proc.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <http_main.h>
#include <mpm_common.h>
#include <unixd.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define GB_BRIDGE_SPEC        "gobridged.spec"
#define GB_BRIDGE_STOP_GRACE  apr_time_from_sec(10)
#define GB_BRIDGE_STABLE      apr_time_from_sec(60)
#define GB_BRIDGE_BACKOFF_MAX apr_time_from_sec(60)

/* Kept in the process pool: outlives every configuration generation, so a
 * graceful restart finds the gobridged it started before. It holds data
 * only: httpd unloads and reloads this DSO on every restart, so function
 * pointers (other-child callback, cleanups) are registered per generation
 * in pconf, whose cleanups run before mod_so unloads us. */
typedef struct gb_bridge_state {
    apr_pool_t *pool;           /* s->process->pool */
    apr_pool_t *pconf;          /* this generation's: owns our callbacks */
    apr_pool_t *gen;            /* holds spec/argv below; replaced on change */
    pid_t parent_pid;
    apr_proc_t proc;
    int running;
    int registered;
    const char *spec;           /* spec text gobridged last read */
    const char *argv_key;       /* command line, joined: change = respawn */
    const char **argv;
    const char *dir;
    uid_t uid;
    gid_t gid;
    const char *user_name;      /* for initgroups; NULL when not root */
    apr_time_t started;
    apr_time_t respawn_at;      /* 0: no respawn pending */
    apr_interval_time_t backoff;
} gb_bridge_state;

static const char *const gb_level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7",
    "trace8"
};

/* The uid/gid gobridged and the plugins run as. */
static void gb_bridge_run_as(uid_t *uid, gid_t *gid)
{
    if (geteuid() == 0) {
        *uid = ap_unixd_config.user_id;
        *gid = ap_unixd_config.group_id;
    }
    else {
        *uid = geteuid();
        *gid = getegid();
    }
}

int gb_bridge_check(apr_pool_t *ptemp, server_rec *s)
{
    uid_t uid;
    gid_t gid;

    (void)ptemp;
    if (gb_config_local_plugins(gb_config_sget(s)) == 0) {
        return OK;
    }
    gb_bridge_run_as(&uid, &gid);
    if (uid == 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     GB_APLOGNO(0005) "GoBridgePlugin: refusing to run "
                     "plugins as root; set User (and Group) to an "
                     "unprivileged account");
        return !OK;
    }
    return OK;
}

/* --- runtime directory and spec ---------------------------------------- */

static apr_status_t gb_bridge_prepare_dir(gb_bridge_state *st, server_rec *s,
                                          apr_pool_t *ptemp)
{
    const char *dir = st->dir;
    struct stat sb;
    apr_status_t rv;

    if (lstat(dir, &sb) != 0) {
        if (errno != ENOENT) {
            rv = errno;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, GB_APLOGNO(0006)
                         "GoBridgeSocketDir: cannot stat '%s'", dir);
            return rv;
        }
        rv = apr_dir_make_recursive(ap_make_dirstr_parent(ptemp, dir),
                                    APR_FPROT_OS_DEFAULT, ptemp);
        if (rv == APR_SUCCESS && mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rv = errno;
        }
        if (rv != APR_SUCCESS || lstat(dir, &sb) != 0) {
            rv = rv != APR_SUCCESS ? rv : errno;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, GB_APLOGNO(0007)
                         "GoBridgeSocketDir: cannot create '%s'; create it "
                         "or point GoBridgeSocketDir elsewhere", dir);
            return rv;
        }
    }
    if (S_ISLNK(sb.st_mode) || !S_ISDIR(sb.st_mode)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, GB_APLOGNO(0008)
                     "GoBridgeSocketDir: '%s' is %s, not a directory; "
                     "remove it", dir,
                     S_ISLNK(sb.st_mode) ? "a symbolic link" : "a file");
        return APR_EGENERAL;
    }
    /* A root-owned directory is ours to hand over (we just made it, or a
     * previous run did); anyone else's is refused. */
    if (sb.st_uid != st->uid && geteuid() == 0 && sb.st_uid == 0) {
        if (chown(dir, st->uid, st->gid) != 0) {
            rv = errno;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, GB_APLOGNO(0009)
                         "GoBridgeSocketDir: cannot give '%s' to uid %ld",
                         dir, (long)st->uid);
            return rv;
        }
        sb.st_uid = st->uid;
    }
    if (sb.st_uid != st->uid) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, GB_APLOGNO(0010)
                     "GoBridgeSocketDir: '%s' is owned by uid %ld, not by "
                     "Apache's User (uid %ld); remove it or fix its owner",
                     dir, (long)sb.st_uid, (long)st->uid);
        return APR_EGENERAL;
    }
    if ((sb.st_mode & 07777) != 0700 && chmod(dir, 0700) != 0) {
        rv = errno;
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, GB_APLOGNO(0011)
                     "GoBridgeSocketDir: cannot chmod 0700 '%s'", dir);
        return rv;
    }
    return APR_SUCCESS;
}

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *parts;
    gb_srv_conf *conf;
} gb_bridge_spec_ctx;

/* A `use` record: gobridged checks at start that the plugin serves what
 * the directive sends it (Describe), and names file and line if not. */
static void gb_bridge_spec_use(void *data, const char *plugin,
                               const char *directive, const char *file,
                               unsigned line)
{
    gb_bridge_spec_ctx *ctx = data;
    const gb_plugin *pl = apr_hash_get(ctx->conf->plugin_by_name, plugin,
                                       APR_HASH_KEY_STRING);

    if (!file || strpbrk(file, "\t\r\n")) {
        return;     /* the spec has no escaping; the check is a courtesy */
    }
    if (pl && pl->remote) {
        return;     /* not gobridged's: it cannot ask it */
    }
    APR_ARRAY_PUSH(ctx->parts, const char *) =
        apr_psprintf(ctx->p, "use\t%s\t%s\t%s\t%u\n", plugin, directive,
                     file, line);
}

/* A `build` record: the binary's identity now. A rebuilt binary (replaced
 * or rewritten: another inode, size or mtime) changes the spec, so a
 * graceful restart makes gobridged start the new build and retire the old
 * process; an unchanged one keeps running. An unreadable binary gets no
 * record (configtest already checked it exists). */
static const char *gb_bridge_spec_build(apr_pool_t *p, const gb_plugin *pl)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, pl->binary, APR_FINFO_IDENT | APR_FINFO_SIZE
                                  | APR_FINFO_MTIME, p) != APR_SUCCESS) {
        return "";
    }
    return apr_psprintf(p, "build\t%s\t%lu:%lu:%" APR_OFF_T_FMT ":%"
                        APR_TIME_T_FMT "\n", pl->name,
                        (unsigned long)fi.device, (unsigned long)fi.inode,
                        fi.size, fi.mtime);
}

static const char *gb_bridge_spec(apr_pool_t *p, gb_srv_conf *conf)
{
    apr_array_header_t *parts = apr_array_make(p, 16, sizeof(const char *));
    gb_bridge_spec_ctx uses;
    int i, j;

    APR_ARRAY_PUSH(parts, const char *) =
        "# written by mod_gobridge " GB_VERSION "; do not edit\n";
    for (i = 0; i < conf->plugins->nelts; i++) {
        const gb_plugin *pl = APR_ARRAY_IDX(conf->plugins, i, gb_plugin *);

        if (pl->remote) {
            continue;   /* runs elsewhere: gobridged never starts it */
        }
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrcat(p, "plugin\t", pl->name, "\t", pl->binary, NULL);
        for (j = 0; j < pl->args->nelts; j++) {
            APR_ARRAY_PUSH(parts, const char *) =
                apr_pstrcat(p, "\t", APR_ARRAY_IDX(pl->args, j, const char *),
                            NULL);
        }
        APR_ARRAY_PUSH(parts, const char *) = "\n";
        APR_ARRAY_PUSH(parts, const char *) = gb_bridge_spec_build(p, pl);
        if (pl->processes > 1) {
            APR_ARRAY_PUSH(parts, const char *) =
                apr_psprintf(p, "processes\t%s\t%d\n", pl->name,
                             pl->processes);
        }
    }
    if (conf->autoreload > 0) {
        APR_ARRAY_PUSH(parts, const char *) =
            apr_psprintf(p, "autoreload\t%" APR_TIME_T_FMT "\n",
                         apr_time_as_msec(conf->autoreload));
    }
    uses.p = p;
    uses.parts = parts;
    uses.conf = conf;
    gb_config_refs_do(gb_bridge_spec_use, &uses);
    return apr_array_pstrcat(p, parts, 0);
}

/* tmp + rename: gobridged never reads half a spec. */
static apr_status_t gb_bridge_write_spec(gb_bridge_state *st, server_rec *s,
                                         const char *spec, apr_pool_t *ptemp)
{
    const char *path = apr_pstrcat(ptemp, st->dir, "/" GB_BRIDGE_SPEC, NULL);
    char *tmp = apr_pstrcat(ptemp, path, ".XXXXXX", NULL);
    apr_file_t *f;
    apr_os_file_t fd;
    apr_status_t rv;

    rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                         | APR_FOPEN_EXCL, ptemp);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, spec, strlen(spec), NULL);
        /* fchown, not chown: never follow a name in a user-owned dir. */
        if (rv == APR_SUCCESS && geteuid() == 0
            && apr_os_file_get(&fd, f) == APR_SUCCESS
            && fchown(fd, st->uid, st->gid) != 0) {
            rv = errno;
        }
        if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS) {
            rv = APR_EGENERAL;
        }
        if (rv == APR_SUCCESS) {
            rv = apr_file_rename(tmp, path, ptemp);
        }
        if (rv != APR_SUCCESS) {
            apr_file_remove(tmp, ptemp);
        }
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, GB_APLOGNO(0012)
                     "GoBridgeSocketDir: cannot write '%s'", path);
    }
    return rv;
}

/* --- the process ------------------------------------------------------- */

/* In the forked child: become gobridged. Only async-signal-safe calls and
 * _exit() on failure; errors go to stderr, which is the error log. */
static void gb_bridge_exec(gb_bridge_state *st)
{
    static const char fail[] = "mod_gobridge: cannot start gobridged "
                               "(setsid/setgid/initgroups/setuid/exec)\n";
    int devnull, logfd = -1;
    apr_os_file_t fd;
    sigset_t none;
    int i;

    if (ap_server_conf && ap_server_conf->error_log
        && apr_os_file_get(&fd, ap_server_conf->error_log) == APR_SUCCESS) {
        logfd = fd;
    }
    devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0 && devnull != STDIN_FILENO) {
        dup2(devnull, STDIN_FILENO);
        close(devnull);
    }
    if (logfd >= 0) {
        dup2(logfd, STDERR_FILENO);
    }
    dup2(STDERR_FILENO, STDOUT_FILENO);

    /* Own session: httpd's killpg() of its children on restart/stop must
     * not reach gobridged; we stop it explicitly. */
    setsid();
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (i = 1; i < NSIG; i++) {
        if (i != SIGKILL && i != SIGSTOP) {
            signal(i, SIG_DFL);
        }
    }

    /* apr_proc_create() would setuid without dropping root's supplementary
     * groups; do what unixd does for httpd's own children instead. */
    if (geteuid() == 0) {
        if (setgid(st->gid) != 0
            || (st->user_name ? initgroups(st->user_name, st->gid)
                              : setgroups(1, &st->gid)) != 0
            || setuid(st->uid) != 0 || setuid(0) == 0) {
            (void)!write(STDERR_FILENO, fail, sizeof(fail) - 1);
            _exit(126);
        }
    }
    apr_pool_cleanup_for_exec();  /* close httpd's listeners and files */
    execv(st->argv[0], (char *const *)st->argv);
    (void)!write(STDERR_FILENO, fail, sizeof(fail) - 1);
    _exit(127);
}

static void gb_bridge_maint(int reason, void *data, apr_wait_t status);

static void gb_bridge_register(gb_bridge_state *st)
{
    if (!st->registered) {
        apr_proc_other_child_register(&st->proc, gb_bridge_maint, st, NULL,
                                      st->pconf);
        st->registered = 1;
    }
}

static apr_status_t gb_bridge_spawn(gb_bridge_state *st, server_rec *s)
{
    apr_status_t rv;

    st->respawn_at = 0;
    rv = apr_proc_fork(&st->proc, st->pool);
    if (rv == APR_INCHILD) {
        gb_bridge_exec(st);     /* does not return */
        _exit(127);
    }
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GB_APLOGNO(0013)
                     "gobridged: cannot fork to start %s", st->argv[0]);
        return rv;
    }
    st->running = 1;
    st->started = apr_time_now();
    gb_bridge_register(st);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GB_APLOGNO(0014)
                 "gobridged: started %s -dir %s (pid %" APR_PID_T_FMT ")",
                 st->argv[0], st->dir, st->proc.pid);
    return APR_SUCCESS;
}

static void gb_bridge_unregister(gb_bridge_state *st)
{
    if (st->registered) {
        st->registered = 0;
        apr_proc_other_child_unregister(st);
    }
}

/* SIGTERM, wait for gobridged to stop its plugins, then SIGKILL. */
static void gb_bridge_stop(gb_bridge_state *st, server_rec *s)
{
    apr_time_t until = apr_time_now() + GB_BRIDGE_STOP_GRACE;
    apr_exit_why_e why;
    int code;

    st->respawn_at = 0;
    if (!st->running) {
        return;
    }
    gb_bridge_unregister(st);
    st->running = 0;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GB_APLOGNO(0015)
                 "gobridged: stopping pid %" APR_PID_T_FMT, st->proc.pid);
    if (apr_proc_kill(&st->proc, SIGTERM) != APR_SUCCESS) {
        return;                 /* already gone (and reaped) */
    }
    while (apr_time_now() < until) {
        if (apr_proc_wait(&st->proc, &code, &why, APR_NOWAIT)
            != APR_CHILD_NOTDONE) {
            return;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GB_APLOGNO(0016)
                 "gobridged: pid %" APR_PID_T_FMT " did not exit within %d "
                 "seconds of SIGTERM; killing it", st->proc.pid,
                 (int)apr_time_sec(GB_BRIDGE_STOP_GRACE));
    apr_proc_kill(&st->proc, SIGKILL);
    apr_proc_wait(&st->proc, &code, &why, APR_WAIT);
}

static int gb_bridge_mpm_stopping(void)
{
    int state = AP_MPMQ_STOPPING;

    ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
    return state == AP_MPMQ_STOPPING;
}

/* Other-child callback, run by the MPM in the parent. */
static void gb_bridge_maint(int reason, void *data, apr_wait_t status)
{
    gb_bridge_state *st = data;
    apr_interval_time_t ran;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        gb_bridge_unregister(st);
        st->running = 0;
        if (gb_bridge_mpm_stopping()) {
            break;
        }
        ran = apr_time_now() - st->started;
        if (ran >= GB_BRIDGE_STABLE) {
            st->backoff = 0;
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     GB_APLOGNO(0017) "gobridged: pid %" APR_PID_T_FMT
                     " exited (status %d) after %" APR_TIME_T_FMT
                     " s; restarting it%s", st->proc.pid, (int)status,
                     apr_time_sec(ran), st->backoff ? " after a delay" : "");
        if (st->backoff == 0) {
            st->backoff = apr_time_from_sec(1);
            gb_bridge_spawn(st, ap_server_conf);
        }
        else {
            /* Crash loop: the monitor hook respawns when this is due. */
            st->respawn_at = apr_time_now() + st->backoff;
            st->backoff = st->backoff * 2 > GB_BRIDGE_BACKOFF_MAX
                          ? GB_BRIDGE_BACKOFF_MAX : st->backoff * 2;
        }
        break;
    case APR_OC_REASON_RESTART:
        /* httpd restarts; gobridged stays. post_config registers again. */
        gb_bridge_unregister(st);
        break;
    case APR_OC_REASON_UNREGISTER:
        st->registered = 0;
        break;
    default:
        break;
    }
}

int gb_bridge_monitor(apr_pool_t *p, server_rec *s)
{
    gb_bridge_state *st = NULL;

    (void)p;
    apr_pool_userdata_get((void **)&st, "gobridge-bridge", s->process->pool);
    if (st && st->respawn_at && !st->running
        && apr_time_now() >= st->respawn_at && !gb_bridge_mpm_stopping()) {
        gb_bridge_spawn(st, s);
    }
    return DECLINED;
}

/* pconf cleanup: stop gobridged when httpd's parent exits for good; on a
 * restart (pconf cleared, not exiting) leave it running. Children never
 * act: they may share pconf by fork. */
static apr_status_t gb_bridge_pconf_cleanup(void *data)
{
    gb_bridge_state *st = data;

    if (getpid() == st->parent_pid
        && ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
        gb_bridge_stop(st, ap_server_conf);
    }
    /* The other-child registration goes with pconf (APR's own cleanup). */
    st->pconf = NULL;
    return APR_SUCCESS;
}

static gb_bridge_state *gb_bridge_state_get(process_rec *process)
{
    gb_bridge_state *st = NULL;

    apr_pool_userdata_get((void **)&st, "gobridge-bridge", process->pool);
    if (!st) {
        st = apr_pcalloc(process->pool, sizeof(*st));
        st->pool = process->pool;
        apr_pool_userdata_set(st, "gobridge-bridge", apr_pool_cleanup_null,
                              process->pool);
    }
    st->parent_pid = getpid();
    return st;
}

/* How long httpd's start-up waits for freshly started plugins. Serving
 * before they listen would answer the first requests with 503. */
#define GB_BRIDGE_READY_WAIT apr_time_from_sec(5)

/* Waits until every declared plugin's socket is published (gobridged
 * publishes it once the plugin listens), gobridged dies, or the wait ends. */
static void gb_bridge_await_plugins(gb_bridge_state *st, gb_srv_conf *conf,
                                    server_rec *s, apr_pool_t *ptemp)
{
    apr_time_t deadline = apr_time_now() + GB_BRIDGE_READY_WAIT;
    int i;

    for (i = 0; i < conf->plugins->nelts; i++) {
        const gb_plugin *pl = APR_ARRAY_IDX(conf->plugins, i, gb_plugin *);
        const char *sock;
        apr_finfo_t fi;

        if (pl->remote) {
            continue;
        }
        /* A pool is ready with its first process: calls skip the others
         * until they are. */
        sock = gb_conn_endpoint_path(pl->endpoints[0]);

        while (apr_stat(&fi, sock, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
            if (apr_time_now() > deadline || kill(st->proc.pid, 0) != 0) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             GB_APLOGNO(0051) "%s: plugin not ready %d s "
                             "after start; its locations answer 503 until "
                             "gobridged has it running (see its log lines)",
                             pl->name, (int)apr_time_sec(GB_BRIDGE_READY_WAIT));
                return;
            }
            apr_sleep(apr_time_from_msec(20));
        }
    }
}

int gb_bridge_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                          server_rec *s)
{
    gb_srv_conf *conf = gb_config_sget(s);
    gb_bridge_state *st;
    apr_pool_t *gen;
    const char *spec, *key, **argv;
    int level;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL) {
        return OK;
    }
    st = gb_bridge_state_get(s->process);
    st->pconf = pconf;
    apr_pool_cleanup_register(pconf, st, gb_bridge_pconf_cleanup,
                              apr_pool_cleanup_null);
    /* Gone while httpd was restarting (reaped by no one we know of)? */
    if (st->running && kill(st->proc.pid, 0) != 0 && errno == ESRCH) {
        st->running = 0;
        st->registered = 0;
    }
    if (gb_config_local_plugins(conf) == 0) {
        /* The last plugin it ran was removed (remote ones need none). */
        gb_bridge_stop(st, s);
        return OK;
    }

    /* On failure below httpd exits, so gen is not worth reclaiming. */
    apr_pool_create(&gen, st->pool);
    apr_pool_tag(gen, "gobridge (bridge)");
    gb_bridge_run_as(&st->uid, &st->gid);
    st->user_name = NULL;
    if (geteuid() == 0 && ap_unixd_config.user_name
        && ap_unixd_config.user_name[0] != '#') {
        st->user_name = apr_pstrdup(gen, ap_unixd_config.user_name);
    }
    st->dir = apr_pstrdup(gen, conf->socket_dir);

    level = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);
    if (level < 0 || level > APLOG_TRACE8) {
        level = APLOG_WARNING;
    }
    argv = apr_palloc(gen, 10 * sizeof(*argv));
    argv[0] = apr_pstrdup(gen, gb_config_daemon(s));
    argv[1] = "-dir";
    argv[2] = st->dir;
    argv[3] = "-log-level";
    argv[4] = gb_level_names[level];
    argv[5] = "-parent-pid";
    argv[6] = apr_psprintf(gen, "%" APR_PID_T_FMT, st->parent_pid);
    argv[7] = "-grace";
    argv[8] = apr_psprintf(gen, "%" APR_TIME_T_FMT "ms",
                           apr_time_as_msec(gb_config_drain_timeout(s)));
    argv[9] = NULL;
    key = apr_pstrcat(gen, argv[0], " ", argv[2], " ", argv[4], " ",
                      argv[6], " ", argv[8], NULL);
    spec = apr_pstrdup(gen, gb_bridge_spec(ptemp, conf));

    if (gb_bridge_prepare_dir(st, s, ptemp) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    if (st->running && !strcmp(key, st->argv_key)) {
        if (strcmp(spec, st->spec)) {
            if (gb_bridge_write_spec(st, s, spec, ptemp) != APR_SUCCESS) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GB_APLOGNO(0018)
                         "gobridged: plugin list changed; reloading pid %"
                         APR_PID_T_FMT, st->proc.pid);
            apr_proc_kill(&st->proc, SIGHUP);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GB_APLOGNO(0019)
                         "gobridged: plugin list unchanged; keeping pid %"
                         APR_PID_T_FMT, st->proc.pid);
        }
        gb_bridge_register(st);
    }
    else {
        if (st->running) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GB_APLOGNO(0020)
                         "gobridged: command line changed (%s); restarting "
                         "it", key);
            gb_bridge_stop(st, s);
        }
        if (gb_bridge_write_spec(st, s, spec, ptemp) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        st->argv = argv;
        st->backoff = 0;
        if (gb_bridge_spawn(st, s) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    gb_bridge_await_plugins(st, conf, s, ptemp);

    /* Keep this generation's strings, drop the previous ones. */
    st->argv = argv;
    st->argv_key = key;
    st->spec = spec;
    if (st->gen) {
        apr_pool_destroy(st->gen);
    }
    st->gen = gen;
    return OK;
}
