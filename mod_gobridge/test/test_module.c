/* test_module.c: unit tests of gb_response (what a plugin may send),
 * gb_config (create/merge, directive parsing) and gb_stats (the shared
 * call counters), without httpd. TAP output.
 * Failure messages read "F(x) = got; want w". */
#include "gb_private.h"
#include "gb_config.h"
#include "gb_response.h"
#include "gb_stats.h"

#include <apr_general.h>
#include <http_config.h>
#include <stdio.h>

module AP_MODULE_DECLARE_DATA gobridge_module;

/* --- the few httpd functions gb_config.c links against ---------------- */

AP_DECLARE(const char *) ap_check_cmd_context(cmd_parms *cmd,
                                              unsigned forbidden)
{
    (void)cmd;
    (void)forbidden;
    return NULL;
}

/* Enough of core's word splitting for section arguments: a word, or a
 * quoted string without escapes. */
AP_DECLARE(char *) ap_getword_conf(apr_pool_t *p, const char **line)
{
    const char *s = *line, *e;
    char *w;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '"' || *s == '\'') {
        char q = *s++;
        e = strchr(s, q);
        e = e ? e : s + strlen(s);
        w = apr_pstrmemdup(p, s, e - s);
        s = *e ? e + 1 : e;
    }
    else {
        e = s;
        while (*e && *e != ' ' && *e != '\t') {
            e++;
        }
        w = apr_pstrmemdup(p, s, e - s);
        s = e;
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    *line = s;
    return w;
}

AP_DECLARE(int) ap_os_is_path_absolute(apr_pool_t *p, const char *dir)
{
    (void)p;
    return dir[0] == '/';
}

AP_DECLARE(apr_status_t) ap_timeout_parameter_parse(const char *s,
                                                    apr_interval_time_t *t,
                                                    const char *unit)
{
    char *end;
    long n = strtol(s, &end, 10);

    (void)unit;
    if (end == s) {
        return APR_EGENERAL;
    }
    if (!strcmp(end, "ms")) {
        *t = apr_time_from_msec(n);
    }
    else if (!*end || !strcmp(end, "s")) {
        *t = apr_time_from_sec(n);
    }
    else {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

AP_DECLARE(char *) ap_runtime_dir_relative(apr_pool_t *p, const char *f)
{
    return f[0] == '/' ? apr_pstrdup(p, f)
                       : apr_pstrcat(p, "/run/apache2/", f, NULL);
}

AP_DECLARE(char *) ap_server_root_relative(apr_pool_t *p, const char *f)
{
    return f[0] == '/' ? apr_pstrdup(p, f)
                       : apr_pstrcat(p, "/etc/apache2/", f, NULL);
}

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index,
                               int level, apr_status_t status,
                               const server_rec *s, const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level; (void)status;
    (void)s; (void)fmt;
}

/* --- a tiny TAP harness ------------------------------------------------ */

static int tap_n, tap_failed;

#define CHECK(cond, ...) do {                                           \
        ++tap_n;                                                        \
        if (cond) {                                                     \
            printf("ok %d\n", tap_n);                                   \
        }                                                               \
        else {                                                          \
            ++tap_failed;                                               \
            printf("not ok %d - %s:%d: ", tap_n, __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                                        \
            printf("\n");                                               \
        }                                                               \
    } while (0)

static Gobridge__V1__Pair *pair(apr_pool_t *p, const char *k, const char *v)
{
    Gobridge__V1__Pair *pr = apr_palloc(p, sizeof(*pr));
    gobridge__v1__pair__init(pr);
    pr->key = gb_pb_bytes(k);
    pr->value = gb_pb_bytes(v);
    return pr;
}

static void test_names_values(void)
{
    static const struct { const char *s; int want; } names[] = {
        {"Content-Type", 1}, {"X-A_b.c!#$%&'*+^`|~9", 1}, {"", 0},
        {"Bad Name", 0}, {"Bad:Name", 0}, {"Bad\rName", 0}, {"É", 0},
        {"(x)", 0}, {"a\"b", 0},
    };
    static const struct { const char *s; int want; } values[] = {
        {"text/html; charset=utf-8", 1}, {"a\tb", 1}, {"", 1},
        {"a\r\nSet-Cookie: x", 0}, {"a\nb", 0}, {"a\x01" "b", 0},
        {"a\x7f", 0}, {"caf\xc3\xa9", 1},
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int got = gb_response_valid_name((const unsigned char *)names[i].s,
                                         strlen(names[i].s));
        CHECK(got == names[i].want, "valid_name(%s) = %d; want %d",
              names[i].s, got, names[i].want);
    }
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int got = gb_response_valid_value((const unsigned char *)values[i].s,
                                          strlen(values[i].s));
        CHECK(got == values[i].want, "valid_value(#%lu) = %d; want %d",
              (unsigned long)i, got, values[i].want);
    }
    /* NUL inside a bytes value is refused too. */
    CHECK(!gb_response_valid_value((const unsigned char *)"a\0b", 3),
          "valid_value(a\\0b) = 1; want 0");
    CHECK(!gb_response_valid_name((const unsigned char *)"a\0b", 3),
          "valid_name(a\\0b) = 1; want 0");
}

static void test_apply_head(apr_pool_t *p)
{
    static const struct { int status; int ok; } statuses[] = {
        {200, 1}, {204, 1}, {302, 1}, {404, 1}, {599, 1},
        {100, 0}, {101, 0}, {199, 0}, {600, 0}, {0, 0}, {-1, 0},
    };
    Gobridge__V1__ResponseHead h = GOBRIDGE__V1__RESPONSE_HEAD__INIT;
    Gobridge__V1__Pair *hs[7], *ehs[1];
    apr_table_t *out = apr_table_make(p, 4), *err = apr_table_make(p, 4);
    gb_response_head res;
    const char *why = NULL;
    apr_status_t rv;
    size_t i;

    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        h.status = statuses[i].status;
        rv = gb_response_apply_head(p, &h, out, err, &res, &why);
        CHECK((rv == APR_SUCCESS) == statuses[i].ok,
              "apply_head(status %d) = %d; want ok=%d", h.status, rv,
              statuses[i].ok);
    }

    hs[0] = pair(p, "Content-Type", "text/plain");
    hs[1] = pair(p, "X-One", "1");
    hs[2] = pair(p, "Connection", "close");
    hs[3] = pair(p, "Content-Length", "99");
    hs[4] = pair(p, "Transfer-Encoding", "chunked");
    hs[5] = pair(p, "Set-Cookie", "a=1");
    hs[6] = pair(p, "Set-Cookie", "b=2");
    ehs[0] = pair(p, "WWW-Authenticate", "Basic");
    h.status = 201;
    h.headers = hs;
    h.n_headers = 7;
    h.err_headers = ehs;
    h.n_err_headers = 1;
    rv = gb_response_apply_head(p, &h, out, err, &res, &why);
    CHECK(rv == APR_SUCCESS, "apply_head(good) = %d (%s); want 0", rv,
          why ? why : "");
    CHECK(res.status == 201, "status = %d; want 201", res.status);
    CHECK(res.content_type && !strcmp(res.content_type, "text/plain"),
          "content_type = %s; want text/plain",
          res.content_type ? res.content_type : "(null)");
    CHECK(apr_table_get(out, "Content-Type") == NULL,
          "Content-Type in headers_out; want only via content_type");
    CHECK(apr_table_get(out, "Content-Length") == NULL,
          "Content-Length applied; want ignored");
    CHECK(apr_table_get(out, "Connection") == NULL
          && apr_table_get(out, "Transfer-Encoding") == NULL,
          "hop-by-hop header applied; want dropped");
    CHECK(res.dropped->nelts == 2, "dropped = %d; want 2",
          res.dropped->nelts);
    CHECK(apr_table_elts(out)->nelts == 3, "headers_out has %d; want 3 "
          "(X-One, Set-Cookie x2)", apr_table_elts(out)->nelts);
    CHECK(apr_table_get(err, "WWW-Authenticate") != NULL,
          "err_headers_out missing WWW-Authenticate");

    /* A bad value anywhere: nothing is applied. */
    out = apr_table_make(p, 4);
    hs[1] = pair(p, "X-Evil", "x\r\nSet-Cookie: s=1");
    rv = gb_response_apply_head(p, &h, out, err, &res, &why);
    CHECK(rv == APR_EINVAL, "apply_head(CRLF value) = %d; want EINVAL", rv);
    CHECK(apr_table_elts(out)->nelts == 0, "bad head applied %d headers; "
          "want 0", apr_table_elts(out)->nelts);
    hs[1] = pair(p, "X Evil", "1");
    rv = gb_response_apply_head(p, &h, out, err, &res, &why);
    CHECK(rv == APR_EINVAL, "apply_head(bad name) = %d; want EINVAL", rv);
    hs[1] = pair(p, "X-One", "1");
    ehs[0] = pair(p, "X-E", "\x00");
    ehs[0]->value.len = 1;
    rv = gb_response_apply_head(p, &h, out, err, &res, &why);
    CHECK(rv == APR_EINVAL, "apply_head(NUL err value) = %d; want EINVAL",
          rv);
}

/* --- gb_config --------------------------------------------------------- */

static cmd_parms *fake_cmd(apr_pool_t *p, const char *name)
{
    cmd_parms *cmd = apr_pcalloc(p, sizeof(*cmd));
    command_rec *cr = apr_pcalloc(p, sizeof(*cr));
    ap_directive_t *d = apr_pcalloc(p, sizeof(*d));

    cr->name = name;
    d->filename = "test.conf";
    d->line_num = 7;
    cmd->cmd = cr;
    cmd->directive = d;
    cmd->pool = p;
    cmd->temp_pool = p;
    /* What httpd sets inside a <Directory>/<Location>. */
    cmd->override = ACCESS_CONF | OR_ALL;
    return cmd;
}

/* The same directive read from an .htaccess file under AllowOverride
 * `allowed` (and, optionally, AllowOverrideList naming `listed`). */
static cmd_parms *htaccess_cmd(apr_pool_t *p, server_rec *s,
                               const char *name, int allowed,
                               const char *listed)
{
    cmd_parms *cmd = fake_cmd(p, name);

    cmd->server = s;
    cmd->override = allowed;
    if (listed) {
        cmd->override_list = apr_table_make(p, 1);
        apr_table_setn(cmd->override_list, listed, "1");
    }
    return cmd;
}

#define PH(id) GB_PHASES_BIT(GB_PHASE_##id)

/* A directive's arguments from one space-separated string. */
static char *const *argv_of(apr_pool_t *p, const char *line)
{
    char **argv;

    apr_tokenize_to_argv(line, &argv, p);
    return argv;
}

static int argc_of(char *const *argv)
{
    int n = 0;

    while (argv[n]) {
        n++;
    }
    return n;
}

static const char *phases(apr_pool_t *p, gb_dir_conf *d, const char *line)
{
    char *argv[8], *last, *tok, *copy = apr_pstrdup(p, line);
    int argc = 0;

    for (tok = apr_strtok(copy, " ", &last); tok && argc < 8;
         tok = apr_strtok(NULL, " ", &last)) {
        argv[argc++] = tok;
    }
    return gb_config_cmd_phases(fake_cmd(p, "GoBridgePhases"), d, argc,
                                argv);
}

/* GoBridgePhases parsing and its Options-like merge, and how it composes
 * with the GoBridge<Phase>Handler lists and GoBridgeHandler. */
static void test_config_phases(apr_pool_t *p)
{
    gb_dir_conf *srv = gb_config_create_dir(p, NULL);
    gb_dir_conf *app = gb_config_create_dir(p, "/app");
    gb_dir_conf *sub = gb_config_create_dir(p, "/app/sub");
    gb_dir_conf *deep = gb_config_create_dir(p, "/app/sub/deep");
    gb_dir_conf *m1, *m2, *m3;
    char *argv[2];

    CHECK(gb_config_phases_on(srv, GB_PHASES_ALL),
          "default: every phase on; want all");
    CHECK(phases(p, app, "fixups +access") != NULL,
          "absolute and relative mixed on one line accepted");
    CHECK(phases(p, app, "fixups bogus") != NULL, "unknown phase accepted");
    CHECK(phases(p, app, "fixups All") != NULL, "All with others accepted");
    CHECK(phases(p, app, "post_read_request") != NULL,
          "server-level phase accepted");

    /* Relative changes accumulate over unset sections. */
    CHECK(phases(p, app, "-access -Fixup") == NULL, "-access -Fixup refused");
    CHECK(phases(p, sub, "+fixups -handler") == NULL, "+fixups refused");
    m1 = gb_config_merge_dir(p, srv, app);
    m2 = gb_config_merge_dir(p, m1, sub);
    CHECK(!gb_config_phases_on(m1, PH(ACCESS))
          && !gb_config_phases_on(m1, PH(FIXUPS))
          && gb_config_phases_on(m1, PH(LOG)),
          "/app: access and fixups off, log on");
    CHECK(!gb_config_phases_on(m2, PH(ACCESS))
          && gb_config_phases_on(m2, PH(FIXUPS))
          && !gb_config_phases_on(m2, GB_PHASES_HANDLER),
          "/app/sub: access still off, fixups back on, handler off");

    /* An absolute list replaces what is inherited; +/- then change it. */
    CHECK(phases(p, deep, "log type_checker") == NULL, "absolute refused");
    m3 = gb_config_merge_dir(p, m2, deep);
    CHECK(gb_config_phases_on(m3, PH(LOG) | PH(TYPE_CHECKER))
          && !gb_config_phases_on(m3, PH(FIXUPS))
          && !gb_config_phases_on(m3, PH(HEADER_PARSER)),
          "deep: only log and type_checker; phases_on = %x", m3->phases_on);
    CHECK(phases(p, deep, "+access") == NULL
          && gb_config_phases_on(deep, PH(ACCESS) | PH(LOG)),
          "+access after an absolute list in one section");
    sub = gb_config_create_dir(p, "/x");
    CHECK(phases(p, sub, "+header_parser -log") == NULL, "relative refused");
    m3 = gb_config_merge_dir(p, gb_config_merge_dir(p, srv, deep), sub);
    CHECK(gb_config_phases_on(m3, PH(HEADER_PARSER) | PH(ACCESS))
          && !gb_config_phases_on(m3, PH(LOG)),
          "relative on top of absolute; phases_on = %x", m3->phases_on);

    /* None and All. */
    deep = gb_config_create_dir(p, "/n");
    CHECK(phases(p, deep, "None") == NULL && deep->phases_on == 0,
          "None = %x; want 0", deep->phases_on);
    sub = gb_config_create_dir(p, "/a");
    CHECK(phases(p, sub, "all") == NULL
          && sub->phases_on == (int)GB_PHASES_ALL, "All != GB_PHASES_ALL");
    m3 = gb_config_merge_dir(p, gb_config_merge_dir(p, srv, deep), sub);
    CHECK(gb_config_phases_on(m3, GB_PHASES_ALL), "All after None");

    /* The handler lists are kept under a switched-off phase, so +phase in
     * a deeper section brings the inherited list back. */
    app = gb_config_create_dir(p, "/h");
    argv[0] = "one";
    {
        cmd_parms *cmd = fake_cmd(p, "GoBridgeFixupHandler");
        cmd->info = (void *)GB_PHASE_FIXUPS;
        gb_config_cmd_phase(cmd, app, 1, argv);
    }
    app->handler = "one";
    sub = gb_config_create_dir(p, "/h/off");
    phases(p, sub, "None");
    deep = gb_config_create_dir(p, "/h/off/on");
    phases(p, deep, "+fixups +handler");
    m1 = gb_config_merge_dir(p, srv, app);
    m2 = gb_config_merge_dir(p, m1, sub);
    m3 = gb_config_merge_dir(p, m2, deep);
    CHECK(gb_config_handler(m1) && !strcmp(gb_config_handler(m1), "one"),
          "handler(/h) = %s; want one", gb_config_handler(m1));
    CHECK(gb_config_handler(m2) == NULL && m2->phases[GB_PHASE_FIXUPS],
          "GoBridgePhases None: handler %s; want none, list kept",
          gb_config_handler(m2));
    CHECK(gb_config_handler(m3) && gb_config_phases_on(m3, PH(FIXUPS))
          && m3->phases[GB_PHASE_FIXUPS]->nelts == 1,
          "+fixups +handler did not bring the inherited ones back");
    CHECK(app->phases_on == -1 && sub->phases_on == 0,
          "merging modified its inputs");
}

/* Directives read from .htaccess: plugin names are checked at once (no
 * pconf list), and GoBridgePhases needs AuthConfig for the auth phases. */
static void test_config_htaccess(apr_pool_t *p)
{
    server_rec *s = apr_pcalloc(p, sizeof(*s));
    void **mc = apr_pcalloc(p, sizeof(void *));
    gb_dir_conf *d = gb_config_create_dir(p, "/srv/www/u");
    cmd_parms *cmd;
    char *argv[2];
    const char *err;

    gobridge_module.module_index = 0;
    s->module_config = (ap_conf_vector_t *)mc;
    mc[0] = gb_config_create_srv(p, s);
    gb_config_pre_config(p);
    argv[0] = "known";
    argv[1] = "/bin/sh";
    cmd = fake_cmd(p, "GoBridgePlugin");
    cmd->server = s;
    gb_config_cmd_plugin(cmd, NULL, 2, argv);

    CHECK(!gb_config_in_htaccess(fake_cmd(p, "X")),
          "a <Directory> section taken for .htaccess");
    cmd = htaccess_cmd(p, s, "GoBridgeHandler", OR_FILEINFO, NULL);
    CHECK(gb_config_in_htaccess(cmd), ".htaccess not recognised");
    err = gb_config_cmd_handler(cmd, d, 1, argv_of(p, "known"));
    CHECK(err == NULL && !strcmp(d->handler, "known"),
          ".htaccess GoBridgeHandler known = %s", err ? err : "(null)");
    err = gb_config_cmd_handler(cmd, d, 1, argv_of(p, "unknown"));
    CHECK(err && !strncmp(err, "GoBridgeHandler: unknown plugin 'unknown'",
                          41), ".htaccess unknown plugin = %s; want refused",
          err ? err : "(null)");
    cmd = htaccess_cmd(p, s, "GoBridgeFixupHandler", OR_FILEINFO, NULL);
    cmd->info = (void *)GB_PHASE_FIXUPS;
    argv[0] = "known";
    argv[1] = "nope";
    err = gb_config_cmd_phase(cmd, d, 2, argv);
    CHECK(err && strstr(err, "'nope'"), ".htaccess phase list with an "
          "unknown plugin = %s; want refused", err ? err : "(null)");
    /* Nothing from .htaccess may reach the start-up reference list. */
    gb_config_sget(s)->daemon = "/bin/sh";
    CHECK(gb_config_check(p, p, s) == OK,
          ".htaccess names leaked into the start-up check");

    cmd = htaccess_cmd(p, s, "GoBridgePhases", OR_FILEINFO, NULL);
    argv[0] = "-fixups";
    CHECK(gb_config_cmd_phases(cmd, d, 1, argv) == NULL,
          "FileInfo: -fixups refused");
    argv[0] = "-access";
    CHECK(gb_config_cmd_phases(cmd, d, 1, argv) != NULL,
          "FileInfo: -access accepted; want AuthConfig needed");
    argv[0] = "None";
    CHECK(gb_config_cmd_phases(cmd, d, 1, argv) != NULL,
          "FileInfo: None accepted; want AuthConfig needed");
    cmd = htaccess_cmd(p, s, "GoBridgePhases", OR_FILEINFO | OR_AUTHCFG,
                       NULL);
    CHECK(gb_config_cmd_phases(cmd, d, 1, argv) == NULL,
          "FileInfo AuthConfig: None refused");
    cmd = htaccess_cmd(p, s, "GoBridgePhases", 0, "GoBridgePhases");
    argv[0] = "-authz";
    CHECK(gb_config_cmd_phases(cmd, d, 1, argv) == NULL,
          "AllowOverrideList GoBridgePhases: -authz refused");
}

typedef struct { const char *k[8]; const char *v[8]; int n; } opts;

static int collect(void *ctx, const char *k, const char *v)
{
    opts *o = ctx;
    o->k[o->n] = k;
    o->v[o->n] = v;
    o->n++;
    return 1;
}

static void test_config_merge(apr_pool_t *p)
{
    cmd_parms *cmd = fake_cmd(p, "GoBridgeOption");
    gb_dir_conf *srv = gb_config_create_dir(p, NULL);
    gb_dir_conf *outer = gb_config_create_dir(p, "/app");
    gb_dir_conf *inner = gb_config_create_dir(p, "/app/admin");
    gb_dir_conf *deep = gb_config_create_dir(p, "/app/admin/x");
    gb_dir_conf *m1, *m2, *m3;
    opts o;

    CHECK(gb_config_timeout(srv) == apr_time_from_sec(30),
          "default timeout = %" APR_TIME_T_FMT "; want 30s",
          gb_config_timeout(srv));
    CHECK(gb_config_max_message(srv) == 4 * 1024 * 1024,
          "default max message = %lu; want 4 MiB",
          (unsigned long)gb_config_max_message(srv));

    gb_config_cmd_option(cmd, outer, "db", "/var/app.db");
    gb_config_cmd_option(cmd, outer, "debug", "on");
    gb_config_cmd_option(cmd, outer, "mode", "a");
    gb_config_cmd_option(cmd, outer, "mode", "b");   /* last wins */
    outer->handler = "app";
    outer->timeout = apr_time_from_sec(5);
    gb_config_cmd_option(cmd, inner, "role", "admin");
    gb_config_cmd_option(cmd, inner, "debug", NULL); /* unset */
    gb_config_cmd_option(cmd, deep, "debug", "again");

    m1 = gb_config_merge_dir(p, srv, outer);
    m2 = gb_config_merge_dir(p, m1, inner);
    m3 = gb_config_merge_dir(p, m2, deep);

    memset(&o, 0, sizeof(o));
    gb_config_options_do(m1, collect, &o);
    CHECK(o.n == 3, "options(/app) n = %d; want 3", o.n);
    CHECK(o.n == 3 && !strcmp(o.k[2], "mode") && !strcmp(o.v[2], "b"),
          "options(/app)[2] = %s=%s; want mode=b", o.n > 2 ? o.k[2] : "",
          o.n > 2 ? o.v[2] : "");

    memset(&o, 0, sizeof(o));
    gb_config_options_do(m2, collect, &o);
    CHECK(o.n == 3, "options(/app/admin) n = %d; want 3 (db, mode, role)",
          o.n);
    CHECK(o.n == 3 && !strcmp(o.k[0], "db") && !strcmp(o.k[1], "mode")
          && !strcmp(o.k[2], "role"),
          "options(/app/admin) keys wrong");

    memset(&o, 0, sizeof(o));
    gb_config_options_do(m3, collect, &o);
    CHECK(o.n == 4, "options(/app/admin/x) n = %d; want 4", o.n);
    CHECK(apr_table_get(m3->options, "debug")
          && !strcmp(apr_table_get(m3->options, "debug"), "again"),
          "debug after re-set = %s; want again",
          apr_table_get(m3->options, "debug"));

    CHECK(m2->handler && !strcmp(m2->handler, "app"),
          "handler inherited = %s; want app", m2->handler);
    CHECK(m2->timeout == apr_time_from_sec(5),
          "timeout inherited = %" APR_TIME_T_FMT "; want 5s", m2->timeout);
    CHECK(!strcmp(m2->location, "/app/admin"), "location = %s; want "
          "/app/admin", m2->location);
    CHECK(gb_config_connect_timeout(m2) == apr_time_from_sec(5),
          "connect timeout = %" APR_TIME_T_FMT "; want 5s",
          gb_config_connect_timeout(m2));

    /* GoBridgeHandler None hands a sub-location back. */
    gb_config_cmd_handler(fake_cmd(p, "GoBridgeHandler"), deep, 1,
                          argv_of(p, "None"));
    m3 = gb_config_merge_dir(p, m2, deep);
    CHECK(m3->handler && !*m3->handler, "handler after None = %s; want \"\"",
          m3->handler);
    /* A list is one setting: tried in order, replaced whole by an inner
     * section, and None still switches it off. */
    {
        gb_dir_conf *a = gb_config_create_dir(p, "/chain");
        gb_dir_conf *b = gb_config_create_dir(p, "/chain/one");
        gb_dir_conf *ma, *mb, *mc;
        char *const *av = argv_of(p, "first second third");
        cmd_parms *hc = fake_cmd(p, "GoBridgeHandler");

        CHECK(gb_config_cmd_handler(hc, a, argc_of(av), av) == NULL,
              "GoBridgeHandler first second third refused");
        ma = gb_config_merge_dir(p, m1, a);
        CHECK(!strcmp(gb_config_handler_at(ma, 0), "first")
              && !strcmp(gb_config_handler_at(ma, 1), "second")
              && !strcmp(gb_config_handler_at(ma, 2), "third")
              && gb_config_handler_at(ma, 3) == NULL,
              "handler list of /chain wrong");
        av = argv_of(p, "solo");
        gb_config_cmd_handler(hc, b, argc_of(av), av);
        mb = gb_config_merge_dir(p, ma, b);
        CHECK(!strcmp(gb_config_handler_at(mb, 0), "solo")
              && gb_config_handler_at(mb, 1) == NULL,
              "an inner GoBridgeHandler did not replace the whole list");
        mc = gb_config_merge_dir(p, ma, deep);  /* deep says None */
        CHECK(gb_config_handler_at(mc, 0) == NULL
              && gb_config_handler_at(mc, 1) == NULL,
              "None left part of the list: %s",
              gb_config_handler_at(mc, 1));
        av = argv_of(p, "ok None");
        CHECK(gb_config_cmd_handler(hc, b, argc_of(av), av) != NULL,
              "GoBridgeHandler ok None accepted");
        CHECK(gb_config_cmd_handler(hc, b, 0, argv_of(p, "")) != NULL,
              "GoBridgeHandler without arguments accepted");
        gb_config_pre_config(p);    /* forget the names referenced here */
    }
    /* Merging must not change its inputs. */
    CHECK(apr_table_get(outer->options, "role") == NULL,
          "merge modified the outer section");
}

static void test_config_directives(apr_pool_t *p)
{
    server_rec *s = apr_pcalloc(p, sizeof(*s));
    void **mc = apr_pcalloc(p, sizeof(void *));
    cmd_parms *cmd = fake_cmd(p, "GoBridgePlugin");
    gb_dir_conf *d = gb_config_create_dir(p, "/x");
    char *argv[4];
    const char *err;

    gobridge_module.module_index = 0;
    s->module_config = (ap_conf_vector_t *)mc;
    mc[0] = gb_config_create_srv(p, s);
    cmd->server = s;
    gb_config_pre_config(p);

    argv[0] = "hello";
    argv[1] = "/bin/sh";
    argv[2] = "-c";
    argv[3] = "true";
    err = gb_config_cmd_plugin(cmd, NULL, 4, argv);
    CHECK(err == NULL, "GoBridgePlugin hello /bin/sh = %s; want NULL", err);
    CHECK(gb_config_plugin(s, "hello") != NULL, "plugin hello not found");
    err = gb_config_cmd_plugin(cmd, NULL, 2, argv);
    CHECK(err && !strncmp(err, "GoBridgePlugin:", 15) && strstr(err,
          "test.conf:7"), "duplicate = %s; want GoBridgePlugin: … test.conf:7",
          err ? err : "(null)");

    argv[0] = "bad/name";
    err = gb_config_cmd_plugin(cmd, NULL, 2, argv);
    CHECK(err != NULL, "GoBridgePlugin bad/name accepted");
    argv[0] = "..";
    err = gb_config_cmd_plugin(cmd, NULL, 2, argv);
    CHECK(err != NULL, "GoBridgePlugin .. accepted");
    argv[0] = "ok";
    argv[1] = "sh";
    err = gb_config_cmd_plugin(cmd, NULL, 2, argv);
    CHECK(err != NULL, "relative binary accepted");
    argv[1] = "/etc/passwd";
    err = gb_config_cmd_plugin(cmd, NULL, 2, argv);
    CHECK(err != NULL, "non-executable binary accepted");
    argv[1] = "/bin/sh";
    argv[2] = "a\tb";
    err = gb_config_cmd_plugin(cmd, NULL, 3, argv);
    CHECK(err != NULL, "TAB in argument accepted");

    /* processes=N before the binary; what follows the binary is the
     * plugin's own, '=' or not. */
    {
        char *pool[5] = {"pool", "processes=3", "/bin/sh", "-c",
                         "processes=9"};
        const gb_plugin *pl;

        err = gb_config_cmd_plugin(cmd, NULL, 5, pool);
        pl = gb_config_plugin(s, "pool");
        CHECK(!err && pl && pl->processes == 3 && !strcmp(pl->binary,
              "/bin/sh") && pl->args->nelts == 2,
              "GoBridgePlugin pool processes=3 /bin/sh -c processes=9 = %s, "
              "processes %d", err ? err : "ok", pl ? pl->processes : -1);
        CHECK(gb_config_plugin(s, "hello")->processes == 1,
              "a plugin without processes= is not one process");
        pool[0] = "pool2";
        pool[1] = "processes=0";
        CHECK(gb_config_cmd_plugin(cmd, NULL, 3, pool) != NULL,
              "processes=0 accepted");
        pool[1] = "processes=65";
        CHECK(gb_config_cmd_plugin(cmd, NULL, 3, pool) != NULL,
              "processes=65 accepted");
        pool[1] = "threads=4";
        err = gb_config_cmd_plugin(cmd, NULL, 3, pool);
        CHECK(err && strstr(err, "unknown option 'threads=4'"),
              "threads=4 = %s; want an unknown option", err ? err : "ok");
        pool[1] = "processes=2";
        CHECK(gb_config_cmd_plugin(cmd, NULL, 2, pool) != NULL,
              "options without a binary accepted");
    }

    /* A remote plugin: TLS options, then tcp:// addresses only; mutual
     * TLS is required, and files are read at once (e2e tests cover the
     * files themselves: tests/remote_test.go). */
    {
        static const struct {
            int argc;
            char *argv[6];
            const char *want;
        } bad[] = {
            {2, {"r", "tcp://10.0.0.1:7443"}, "mutual TLS only"},
            {3, {"r", "ca=/ca.pem", "tcp://10.0.0.1:7443"},
             "cert= is missing; key= is missing"},
            {5, {"r", "processes=2", "ca=/a", "cert=/b", "tcp://h:1"},
             "a remote plugin's instances are its addresses"},
            {3, {"r", "ca=/a", "tcp://h"}, "invalid address 'tcp://h'"},
            {3, {"r", "ca=/a", "tcp://h:0"}, "invalid address"},
            {3, {"r", "ca=/a", "tcp://h:1/x"}, "invalid address"},
            {4, {"r", "ca=/a", "tcp://h:1", "/bin/sh"},
             "'/bin/sh' is not an address"},
            {3, {"r", "servername=", "tcp://h:1"}, "invalid 'servername='"},
            {3, {"r", "ca=", "tcp://h:1"}, "empty ca="},
            {3, {"r", "resolve=soon", "tcp://h:1"}, "invalid 'resolve=soon'"},
            {3, {"r", "resolve=500ms", "tcp://h:1"}, "at least 1s"},
            {3, {"r", "resolve=off", "/bin/sh"}, "are for a remote plugin"},
            {3, {"r", "cert=/c.pem", "/bin/sh"}, "are for a remote plugin"},
            {5, {"r", "ca=/nonexistent/ca.pem", "cert=/c", "key=/k",
                 "tcp://h:1"}, "cannot load the CA certificates "
                               "ca=/nonexistent/ca.pem"},
        };
        int i;

        for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
            err = gb_config_cmd_plugin(cmd, NULL, bad[i].argc,
                                       (char *const *)bad[i].argv);
            CHECK(err && strstr(err, bad[i].want)
                  && !strncmp(err, "GoBridgePlugin:", 15),
                  "GoBridgePlugin %s %s … = %s; want an error with '%s'",
                  bad[i].argv[0], bad[i].argv[1], err ? err : "ok",
                  bad[i].want);
        }
        CHECK(gb_config_plugin(s, "r") == NULL,
              "a refused remote plugin was declared");
        CHECK(gb_config_local_plugins(gb_config_sget(s)) == 2,
              "local plugins = %d; want 2 (hello, pool)",
              gb_config_local_plugins(gb_config_sget(s)));
    }

    cmd = fake_cmd(p, "GoBridgeTimeout");
    err = gb_config_cmd_timeout(cmd, d, "soon");
    CHECK(err && !strncmp(err, "GoBridgeTimeout:", 16),
          "GoBridgeTimeout soon = %s; want an error naming it",
          err ? err : "(null)");
    err = gb_config_cmd_timeout(cmd, d, "0");
    CHECK(err != NULL, "GoBridgeTimeout 0 accepted");
    err = gb_config_cmd_timeout(cmd, d, "250ms");
    CHECK(!err && d->timeout == apr_time_from_msec(250),
          "GoBridgeTimeout 250ms = %" APR_TIME_T_FMT, d->timeout);
    CHECK(gb_config_connect_timeout(d) == apr_time_from_msec(250),
          "connect timeout not capped by GoBridgeTimeout");

    cmd = fake_cmd(p, "GoBridgeMaxMessageSize");
    CHECK(gb_config_cmd_max_message(cmd, d, "100") != NULL,
          "GoBridgeMaxMessageSize 100 accepted");
    CHECK(gb_config_cmd_max_message(cmd, d, "8MB") != NULL,
          "GoBridgeMaxMessageSize 8MB accepted");
    CHECK(gb_config_cmd_max_message(cmd, d, "8388608") == NULL
          && gb_config_max_message(d) == 8388608,
          "GoBridgeMaxMessageSize 8388608 refused");
    CHECK(gb_config_cmd_max_message(cmd, d, "2M") == NULL
          && gb_config_max_message(d) == 2 * 1024 * 1024,
          "GoBridgeMaxMessageSize 2M refused");
    CHECK(gb_config_cmd_max_message(cmd, d, "512k") == NULL
          && gb_config_max_message(d) == 512 * 1024,
          "GoBridgeMaxMessageSize 512k refused");
    CHECK(gb_config_cmd_max_message(cmd, d, "256K") != NULL,
          "GoBridgeMaxMessageSize 256K (below the SDK's chunks) accepted");
    CHECK(gb_config_cmd_max_message(cmd, d, "2G") != NULL,
          "GoBridgeMaxMessageSize 2G accepted");
    CHECK(gb_config_cmd_max_message(cmd, d, "1MK") != NULL,
          "GoBridgeMaxMessageSize 1MK accepted");

    cmd = fake_cmd(p, "GoBridgeHandler");
    cmd->server = s;
    gb_config_sget(s)->daemon = "/bin/sh";  /* the default is not installed */
    CHECK(gb_config_cmd_handler(cmd, d, 1, argv_of(p, "hello")) == NULL,
          "GoBridgeHandler hello refused");
    CHECK(gb_config_check(p, p, s) == OK, "check with known plugin failed");
    CHECK(gb_config_cmd_handler(cmd, d, 1, argv_of(p, "nothere")) == NULL,
          "GoBridgeHandler nothere refused at parse time");
    CHECK(gb_config_check(p, p, s) != OK,
          "check with unknown plugin passed");
}

/* A section node of the configuration tree, as httpd builds it. */
static ap_directive_t *section(apr_pool_t *p, const char *name,
                               const char *args, ap_directive_t *parent)
{
    ap_directive_t *d = apr_pcalloc(p, sizeof(*d));

    d->directive = name;
    d->args = args;
    d->parent = parent;
    return d;
}

/* A <Files> section's configuration reports the <Directory> around it and
 * its pattern apart, so two <Files "*.py"> sections differ. */
static void test_config_files(apr_pool_t *p)
{
    cmd_parms *cmd = fake_cmd(p, "GoBridgeHandler");
    gb_dir_conf *srv = gb_config_create_dir(p, NULL);
    gb_dir_conf *dir = gb_config_create_dir(p, "/srv/a/");
    gb_dir_conf *fa = gb_config_create_dir(p, "*.py");
    gb_dir_conf *fb = gb_config_create_dir(p, "*.py");
    gb_dir_conf *top = gb_config_create_dir(p, "*.gb");
    gb_dir_conf *loc = gb_config_create_dir(p, "/app");
    gb_dir_conf *m;
    ap_directive_t *da, *db, *ifm;

    da = section(p, "<Directory", "\"/srv/a\">", NULL);
    ifm = section(p, "<IfModule", "mod_mime.c>", da);
    cmd->directive->parent = section(p, "<Files", "\"*.py\">", ifm);
    gb_config_note_section(cmd, fa);
    gb_config_note_section(cmd, fa);   /* a second directive */
    CHECK(fa->files && !strcmp(fa->files, "*.py")
          && fa->location && !strcmp(fa->location, "/srv/a/"),
          "<Files *.py> in <Directory /srv/a> = files %s location %s; "
          "want *.py /srv/a/", fa->files, fa->location);

    db = section(p, "<DirectoryMatch", "\"^/srv/b\">", NULL);
    cmd->directive->parent = section(p, "<FilesMatch", "\\.py$>", db);
    gb_config_note_section(cmd, fb);
    CHECK(fb->location && !strcmp(fb->location, "^/srv/b"),
          "<FilesMatch> in <DirectoryMatch ^/srv/b> location = %s; "
          "want ^/srv/b", fb->location);

    /* At server level a <Files> takes the location of what encloses the
     * request; a <Location> merged after it names its own. */
    cmd->directive->parent = section(p, "<Files", "*.gb>", NULL);
    gb_config_note_section(cmd, top);
    m = gb_config_merge_dir(p, gb_config_merge_dir(p, srv, dir), top);
    CHECK(m->files && !strcmp(m->files, "*.gb")
          && m->location && !strcmp(m->location, "/srv/a/"),
          "merge(<Directory /srv/a/>, <Files *.gb>) = files %s location %s; "
          "want *.gb /srv/a/", m->files, m->location);
    m = gb_config_merge_dir(p, m, loc);
    CHECK(!m->files && !strcmp(m->location, "/app"),
          "merge(…, <Location /app>) = files %s location %s; want none /app",
          m->files, m->location);

    /* Directives outside <Files> change nothing. */
    cmd->directive->parent = section(p, "<Location", "/app>", NULL);
    gb_config_note_section(cmd, loc);
    CHECK(!loc->files && !strcmp(loc->location, "/app"),
          "<Location /app> = files %s location %s; want none /app",
          loc->files, loc->location);
}

/* gb_stats: counting, in flight, buckets, quantiles, and the segment kept
 * across a restart with the same plugins but not with others. */
static void test_stats(apr_pool_t *p)
{
    server_rec *s = apr_pcalloc(p, sizeof(*s));
    void **mc = apr_pcalloc(p, sizeof(void *));
    cmd_parms *cmd = fake_cmd(p, "GoBridgePlugin");
    apr_uint64_t b[GB_STATS_BUCKETS];
    const gb_plugin *a;
    gb_stats_plugin st;
    gb_stats_call sc, open;
    char *argv[2];
    int i;

    gobridge_module.module_index = 0;
    s->process = apr_pcalloc(p, sizeof(*s->process));
    apr_pool_create(&s->process->pool, p);
    s->module_config = (ap_conf_vector_t *)mc;
    mc[0] = gb_config_create_srv(p, s);
    cmd->server = s;
    gb_config_pre_config(p);
    argv[1] = "/bin/sh";
    argv[0] = "a";
    gb_config_cmd_plugin(cmd, NULL, 2, argv);
    argv[0] = "b";
    gb_config_cmd_plugin(cmd, NULL, 2, argv);
    CHECK(gb_stats_post_config(p, s) == APR_SUCCESS,
          "gb_stats_post_config() failed");
    a = gb_config_plugin(s, "a");
    CHECK(a && a->stats, "plugin a has no counters");

    for (i = 0; i < 3; i++) {
        gb_stats_begin(&sc, a, GB_STATS_HANDLER);
        gb_stats_end(&sc, 0);
    }
    gb_stats_begin(&sc, a, GB_STATS_PHASE(GB_PHASE_FIXUPS));
    sc.start -= 3000;               /* 3 ms: the (2.5, 5] ms bucket */
    gb_stats_end(&sc, 2);           /* GB_RPC_TIMEOUT */
    gb_stats_end(&sc, 2);           /* a second end counts nothing */
    gb_stats_begin(&open, a, GB_STATS_HANDLER);
    gb_stats_read(a, &st);
    CHECK(st.calls[GB_STATS_HANDLER] == 4 && st.inflight[GB_STATS_HANDLER] == 1,
          "handler calls/in flight = %d/%d; want 4/1",
          (int)st.calls[GB_STATS_HANDLER], (int)st.inflight[GB_STATS_HANDLER]);
    i = GB_STATS_PHASE(GB_PHASE_FIXUPS);
    CHECK(st.calls[i] == 1 && st.inflight[i] == 0 && st.errors[i][2] == 1
          && st.buckets[i][3] == 1 && st.sum_usec[i] >= 3000,
          "fixups calls %d in flight %d timeouts %d bucket[3] %d sum %d; "
          "want 1 0 1 1 >=3000", (int)st.calls[i], (int)st.inflight[i],
          (int)st.errors[i][2], (int)st.buckets[i][3], (int)st.sum_usec[i]);
    CHECK(!strcmp(gb_stats_kind_name(i), "fixups")
          && !strcmp(gb_stats_kind_name(GB_STATS_OUTPUT_FILTER),
                     "output_filter"),
          "kind names %s/%s; want fixups/output_filter",
          gb_stats_kind_name(i), gb_stats_kind_name(GB_STATS_OUTPUT_FILTER));
    gb_stats_end(&open, 0);

    memset(b, 0, sizeof(b));
    CHECK(gb_stats_quantile(b, 0.5) == -1, "quantile without calls = %d",
          (int)gb_stats_quantile(b, 0.5));
    b[0] = 10;
    CHECK(gb_stats_quantile(b, 0.5) == 250, "p50 of 10 calls <=0.5ms = %d; "
          "want 250", (int)gb_stats_quantile(b, 0.5));
    b[GB_STATS_BOUNDS] = 10;
    CHECK(gb_stats_quantile(b, 0.99) == 10000000, "p99 in +Inf = %d; want "
          "the largest bound", (int)gb_stats_quantile(b, 0.99));

    /* A restart with the same plugins keeps the counts... */
    gb_config_pre_config(p);
    mc[0] = gb_config_create_srv(p, s);
    argv[0] = "a";
    gb_config_cmd_plugin(cmd, NULL, 2, argv);
    argv[0] = "b";
    gb_config_cmd_plugin(cmd, NULL, 2, argv);
    gb_stats_post_config(p, s);
    gb_stats_read(gb_config_plugin(s, "a"), &st);
    CHECK(st.calls[GB_STATS_HANDLER] == 4, "handler calls after a restart "
          "with the same plugins = %d; want 4",
          (int)st.calls[GB_STATS_HANDLER]);
    /* ... one with another plugin starts from zero. */
    gb_config_pre_config(p);
    mc[0] = gb_config_create_srv(p, s);
    gb_config_cmd_plugin(cmd, NULL, 2, argv);
    gb_stats_post_config(p, s);
    gb_stats_read(gb_config_plugin(s, "b"), &st);
    CHECK(st.calls[GB_STATS_HANDLER] == 0 && gb_config_plugin(s, "b")->stats,
          "calls of b after the plugin list changed = %d; want 0",
          (int)st.calls[GB_STATS_HANDLER]);
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    test_names_values();
    test_apply_head(p);
    test_config_merge(p);
    test_config_directives(p);
    test_config_phases(p);
    test_config_htaccess(p);
    test_config_files(p);
    test_stats(p);
    printf("1..%d\n", tap_n);
    apr_terminate();
    return tap_failed ? 1 : 0;
}
