/* gb_config.c: directives, create/merge, and whole-configuration checks. */
#include "gb_private.h"
#include "gb_config.h"
#include "gb_remote.h"

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>

/* Marks a GoBridgeOption key that a section unsets: merging keeps the marker
 * so a deeper section can set the key again; readers skip it. Compared by
 * address, so it must be stored with apr_table_setn (no copy). */
static const char gb_option_unset[] = "";
#define GB_CONFIG_UNSET gb_option_unset

/* A plugin name used by a directive, checked once the whole configuration
 * is read (GoBridgePlugin may come later in the file). */
typedef struct {
    const char *directive;
    const char *name;
    const char *file;
    unsigned line;
} gb_plugin_ref;

/* Lives in pconf; reset by pre_config for every configuration generation. */
static apr_array_header_t *gb_plugin_refs;

gb_srv_conf *gb_config_sget(server_rec *s)
{
    return ap_get_module_config(s->module_config, &gobridge_module);
}

int gb_config_local_plugins(const gb_srv_conf *conf)
{
    int i, n = 0;

    for (i = 0; i < conf->plugins->nelts; i++) {
        n += APR_ARRAY_IDX(conf->plugins, i, gb_plugin *)->remote == NULL;
    }
    return n;
}

gb_dir_conf *gb_config_rget(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &gobridge_module);
}

void *gb_config_create_srv(apr_pool_t *p, server_rec *s)
{
    gb_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));
    (void)s;
    conf->plugins = apr_array_make(p, 4, sizeof(gb_plugin *));
    conf->plugin_by_name = apr_hash_make(p);
    return conf;
}

/* Everything server-level is GLOBAL_ONLY: virtual hosts share the main
 * server's registry. */
void *gb_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    gb_srv_conf *conf = apr_palloc(p, sizeof(*conf));
    gb_srv_conf *add = addv;
    int i;

    *conf = *(gb_srv_conf *)basev;
    /* Phase handlers may differ per virtual host. */
    for (i = 0; i < GB_PHASE_COUNT; i++) {
        if (add->phases[i]) {
            conf->phases[i] = add->phases[i];
        }
    }
    return conf;
}

void *gb_config_create_dir(apr_pool_t *p, char *dir)
{
    gb_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));
    conf->location = dir;
    conf->files = NULL;         /* set by gb_config_note_section */
    conf->handler = NULL;
    conf->options = apr_table_make(p, 4);
    conf->timeout = -1;
    conf->connect_timeout = -1;
    conf->max_message = -1;
    conf->phases_on = -1;
    conf->authn_cache_hash = -1;
    conf->file_walk = -1;
    return conf;
}

void *gb_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    gb_dir_conf *base = basev, *add = addv;
    gb_dir_conf *conf = apr_palloc(p, sizeof(*conf));
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    /* The innermost section with our directives names the request's
     * location; a <Files> section brings its pattern and the path around
     * it, or keeps the enclosing one when it has none of its own. */
    if (add->files) {
        conf->files = add->files;
        conf->location = add->location ? add->location : base->location;
    }
    else {
        conf->files = add->location ? NULL : base->files;
        conf->location = add->location ? add->location : base->location;
    }
    /* The list is one setting: an inner GoBridgeHandler replaces it. */
    conf->handler = add->handler ? add->handler : base->handler;
    conf->handler_next = add->handler ? add->handler_next
                                      : base->handler_next;
    conf->timeout = add->timeout >= 0 ? add->timeout : base->timeout;
    conf->connect_timeout = add->connect_timeout >= 0
                            ? add->connect_timeout : base->connect_timeout;
    conf->max_message = add->max_message >= 0
                        ? add->max_message : base->max_message;
    conf->authn_cache_hash = add->authn_cache_hash >= 0
                             ? add->authn_cache_hash : base->authn_cache_hash;
    conf->authn_plugin = add->authn_plugin ? add->authn_plugin
                                           : base->authn_plugin;
    /* An inner section's list replaces the outer one (None clears it). */
    for (i = 0; i < GB_PHASE_COUNT; i++) {
        conf->phases[i] = add->phases[i] ? add->phases[i] : base->phases[i];
    }
    conf->out_filters = add->out_filters ? add->out_filters
                                         : base->out_filters;
    conf->in_filters = add->in_filters ? add->in_filters : base->in_filters;
    conf->file_walk = add->file_walk >= 0 ? add->file_walk : base->file_walk;
    /* GoBridgePhases: like core's Options, an absolute list replaces what
     * is inherited; +/- change it; relative changes on top of relative
     * changes accumulate until some section sets an absolute list. */
    if (add->phases_on >= 0) {
        conf->phases_on = add->phases_on;
        conf->phases_add = conf->phases_del = 0;
    }
    else if (base->phases_on >= 0) {
        conf->phases_on = (int)(((unsigned)base->phases_on | add->phases_add)
                                & ~add->phases_del);
        conf->phases_add = conf->phases_del = 0;
    }
    else {
        conf->phases_on = -1;
        conf->phases_add = (base->phases_add & ~add->phases_del)
                           | add->phases_add;
        conf->phases_del = (base->phases_del & ~add->phases_add)
                           | add->phases_del;
    }

    /* Like PythonOption: the inner section overrides a key, keeps the rest;
     * setn keeps the unset marker's address. */
    conf->options = apr_table_copy(p, base->options);
    arr = apr_table_elts(add->options);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        apr_table_setn(conf->options, e[i].key, e[i].val);
    }
    return conf;
}

void gb_config_options_do(const gb_dir_conf *d,
                          int (*fn)(void *ctx, const char *k, const char *v),
                          void *ctx)
{
    const apr_array_header_t *arr = apr_table_elts(d->options);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].val == GB_CONFIG_UNSET) {
            continue;
        }
        if (!fn(ctx, e[i].key, e[i].val)) {
            break;
        }
    }
}

apr_interval_time_t gb_config_timeout(const gb_dir_conf *d)
{
    return d->timeout >= 0 ? d->timeout : GB_CONFIG_DEFAULT_TIMEOUT;
}

apr_interval_time_t gb_config_connect_timeout(const gb_dir_conf *d)
{
    if (d->connect_timeout >= 0) {
        return d->connect_timeout;
    }
    /* Never wait longer to connect than for the whole call. */
    return d->timeout >= 0 && d->timeout < GB_CONFIG_DEFAULT_CONNECT_TIMEOUT
           ? d->timeout : GB_CONFIG_DEFAULT_CONNECT_TIMEOUT;
}

apr_size_t gb_config_max_message(const gb_dir_conf *d)
{
    return d->max_message >= 0 ? (apr_size_t)d->max_message
                               : GB_CONFIG_DEFAULT_MAX_MESSAGE;
}

const apr_array_header_t *gb_config_phase_plugins(request_rec *r,
                                                  gb_phase_id id)
{
    const apr_array_header_t *a;

    if (id <= GB_PHASE_MAP_TO_STORAGE) {
        a = gb_config_sget(r->server)->phases[id];
    }
    else {
        const gb_dir_conf *d = gb_config_rget(r);
        if (!gb_config_phases_on(d, GB_PHASES_BIT(id))) {
            return NULL;
        }
        a = d->phases[id];
    }
    return a && a->nelts > 0 ? a : NULL;
}

int gb_config_phases_on(const gb_dir_conf *d, unsigned mask)
{
    unsigned on = d->phases_on >= 0 ? (unsigned)d->phases_on
                                    : (GB_PHASES_ALL & ~d->phases_del);
    return (on & mask) == mask;
}

const char *gb_config_handler(const gb_dir_conf *d)
{
    if (!d->handler || !*d->handler
        || !gb_config_phases_on(d, GB_PHASES_HANDLER)) {
        return NULL;
    }
    return d->handler;
}

int gb_config_file_walk(const gb_dir_conf *d)
{
    return d->file_walk != 0;
}

gb_cache_hash gb_config_authn_cache_hash(const gb_dir_conf *d)
{
    return d->authn_cache_hash >= 0 ? (gb_cache_hash)d->authn_cache_hash
                                    : GB_CACHE_HASH_APR1;
}

const char *gb_config_handler_at(const gb_dir_conf *d, int i)
{
    const char *first = gb_config_handler(d);

    if (!first || i < 0) {
        return NULL;
    }
    if (i == 0) {
        return first;
    }
    if (!d->handler_next || i > d->handler_next->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(d->handler_next, i - 1, const char *);
}

const gb_plugin *gb_config_plugin(server_rec *s, const char *name)
{
    gb_srv_conf *conf = gb_config_sget(s);
    return name ? apr_hash_get(conf->plugin_by_name, name,
                               APR_HASH_KEY_STRING)
                : NULL;
}

apr_interval_time_t gb_config_drain_timeout(server_rec *s)
{
    gb_srv_conf *conf = gb_config_sget(s);
    return conf->drain > 0 ? conf->drain : GB_CONFIG_DEFAULT_DRAIN;
}

const char *gb_config_daemon(server_rec *s)
{
    gb_srv_conf *conf = gb_config_sget(s);
    return conf->daemon ? conf->daemon : GB_DEFAULT_DAEMON;
}

/* --- directive handlers ------------------------------------------------ */

static int gb_valid_name(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++, n++) {
        if (!apr_isalnum(*s) && *s != '_' && *s != '.' && *s != '-') {
            return 0;
        }
    }
    /* "." and ".." would make "<dir>/..sock" confusing; refuse them. */
    return n >= 1 && n <= GB_CONFIG_PLUGIN_NAME_MAX;
}

/* The spec file (docs/architecture.md §2) has no escaping: TAB, CR and LF
 * separate records and fields. NUL cannot reach us through httpd.conf. */
static int gb_spec_safe(const char *s)
{
    return strpbrk(s, "\t\r\n") == NULL;
}

static void gb_remember_ref(cmd_parms *cmd, const char *name)
{
    gb_plugin_ref *ref;

    if (!gb_plugin_refs) {
        gb_plugin_refs = apr_array_make(cmd->pool, 8, sizeof(gb_plugin_ref));
    }
    ref = apr_array_push(gb_plugin_refs);
    ref->directive = cmd->cmd->name;
    ref->name = name;
    ref->file = cmd->directive->filename;
    ref->line = cmd->directive->line_num;
}

void gb_config_remember_ref(cmd_parms *cmd, const char *name)
{
    gb_remember_ref(cmd, name);
}

void gb_config_refs_do(gb_config_ref_fn *fn, void *ctx)
{
    int i;

    for (i = 0; gb_plugin_refs && i < gb_plugin_refs->nelts; i++) {
        const gb_plugin_ref *ref = &APR_ARRAY_IDX(gb_plugin_refs, i,
                                                  gb_plugin_ref);
        fn(ctx, ref->name, ref->directive, ref->file, ref->line);
    }
}

int gb_config_in_htaccess(const cmd_parms *cmd)
{
    /* httpd sets ACCESS_CONF in <Directory>/<Location>/<Files> and
     * RSRC_CONF at server level; .htaccess gets only AllowOverride bits. */
    return !(cmd->override & (RSRC_CONF | ACCESS_CONF));
}

/* A plugin name in a per-directory directive. Read at start-up it is
 * checked once the whole configuration is known (GoBridgePlugin may come
 * later); read from .htaccess, at request time, the registry is complete:
 * an unknown name is refused now (httpd answers 500 and logs the file).
 * Nothing from .htaccess may go into the pconf-lived reference list. */
static const char *gb_config_ref(cmd_parms *cmd, const char *name)
{
    if (!gb_config_in_htaccess(cmd)) {
        gb_remember_ref(cmd, name);
        return NULL;
    }
    if (!gb_config_plugin(cmd->server, name)) {
        return apr_psprintf(cmd->pool, "%s: unknown plugin '%s': declare it "
                            "with GoBridgePlugin in the server "
                            "configuration", cmd->cmd->name, name);
    }
    return NULL;
}

const char *gb_config_cmd_plugin(cmd_parms *cmd, void *dc, int argc,
                                 char *const argv[])
{
    gb_srv_conf *conf = gb_config_sget(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *name = argv[0];
    apr_finfo_t fi;
    apr_status_t rv;
    gb_plugin *pl, *prev;
    gb_remote rm;
    int i, opt, processes = 1, processes_set = 0;

    (void)dc;
    if (err) {
        return err;
    }
    if (argc < 2) {
        return apr_psprintf(cmd->pool, "%s: takes a plugin name, options, "
                            "the absolute path of its binary, then optional "
                            "arguments (or, for a remote plugin, its TLS "
                            "options and tcp://host:port addresses)",
                            cmd->cmd->name);
    }
    if (!gb_valid_name(argv[0]) || !strcmp(argv[0], ".")
        || !strcmp(argv[0], "..")) {
        return apr_psprintf(cmd->pool, "%s: invalid plugin name '%s': use "
                            "1 to %d of A-Z a-z 0-9 _ . -", cmd->cmd->name,
                            argv[0], GB_CONFIG_PLUGIN_NAME_MAX);
    }
    prev = apr_hash_get(conf->plugin_by_name, argv[0], APR_HASH_KEY_STRING);
    if (prev) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s' is already declared "
                            "at %s:%u; give each plugin a unique name",
                            cmd->cmd->name, argv[0], prev->file, prev->line);
    }
    /* Options (key=value) come before the binary, whose path is absolute:
     * everything after the binary is the plugin's own. */
    memset(&rm, 0, sizeof(rm));
    for (opt = 1; opt < argc && argv[opt][0] != '/'
                  && !gb_remote_is_address(argv[opt])
                  && strchr(argv[opt], '='); opt++) {
        char *end;
        long n;

        if (gb_remote_option(cmd, &rm, argv[opt], &err)) {
            if (err) {
                return err;
            }
            continue;
        }
        if (strncmp(argv[opt], "processes=", 10)) {
            return apr_psprintf(cmd->pool, "%s: plugin '%s': unknown option "
                                "'%s'; the options are processes=N, and for "
                                "a remote plugin ca=, cert=, key= and "
                                "servername=, before the binary or address",
                                cmd->cmd->name, argv[0], argv[opt]);
        }
        processes_set = 1;
        n = strtol(argv[opt] + 10, &end, 10);
        if (end == argv[opt] + 10 || *end || n < 1
            || n > GB_CONFIG_PROCESSES_MAX) {
            return apr_psprintf(cmd->pool, "%s: plugin '%s': invalid '%s': "
                                "give a number of processes from 1 to %d",
                                cmd->cmd->name, argv[0], argv[opt],
                                GB_CONFIG_PROCESSES_MAX);
        }
        processes = (int)n;
    }
    if (opt == argc) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s': no binary after "
                            "the options", cmd->cmd->name, argv[0]);
    }
    if (gb_remote_is_address(argv[opt])) {
        if (processes_set) {
            return apr_psprintf(cmd->pool, "%s: plugin '%s': processes= is "
                                "for plugins gobridged starts; a remote "
                                "plugin's instances are its addresses",
                                cmd->cmd->name, name);
        }
        err = gb_remote_finish(cmd, name, &rm, argc - opt, argv + opt);
        if (err) {
            return err;
        }
        pl = apr_pcalloc(cmd->pool, sizeof(*pl));
        pl->name = apr_pstrdup(cmd->pool, name);
        pl->args = apr_array_make(cmd->pool, 1, sizeof(const char *));
        pl->remote = apr_pmemdup(cmd->pool, &rm, sizeof(rm));
        pl->processes = 1;
        pl->file = cmd->directive->filename;
        pl->line = cmd->directive->line_num;
        APR_ARRAY_PUSH(conf->plugins, gb_plugin *) = pl;
        apr_hash_set(conf->plugin_by_name, pl->name, APR_HASH_KEY_STRING, pl);
        return NULL;
    }
    if (gb_remote_has_options(&rm)) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s': ca=, cert=, key= "
                            "and servername= are for a remote plugin "
                            "(tcp://host:port), not a binary",
                            cmd->cmd->name, name);
    }
    /* From here on argv[1] is the binary. */
    argv += opt - 1;
    argc -= opt - 1;
    for (i = 1; i < argc; i++) {
        if (!gb_spec_safe(argv[i])) {
            return apr_psprintf(cmd->pool, "%s: plugin '%s': %s '%s' "
                                "contains a TAB, CR or LF; remove it",
                                cmd->cmd->name, name,
                                i == 1 ? "binary" : "argument", argv[i]);
        }
    }
    if (!ap_os_is_path_absolute(cmd->pool, argv[1])) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s': binary '%s' must "
                            "be an absolute path", cmd->cmd->name, name,
                            argv[1]);
    }
    rv = apr_stat(&fi, argv[1], APR_FINFO_TYPE | APR_FINFO_PROT, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(cmd->pool, "%s: plugin '%s': cannot stat binary "
                            "'%s' (%s); build or install the plugin first",
                            cmd->cmd->name, name, argv[1],
                            apr_strerror(rv, buf, sizeof(buf)));
    }
    if (fi.filetype != APR_REG
        || !(fi.protection & (APR_UEXECUTE | APR_GEXECUTE | APR_WEXECUTE))) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s': '%s' is not an "
                            "executable regular file", cmd->cmd->name,
                            name, argv[1]);
    }

    pl = apr_pcalloc(cmd->pool, sizeof(*pl));
    pl->name = apr_pstrdup(cmd->pool, name);
    pl->binary = apr_pstrdup(cmd->pool, argv[1]);
    pl->args = apr_array_make(cmd->pool, argc - 2 > 0 ? argc - 2 : 1,
                              sizeof(const char *));
    for (i = 2; i < argc; i++) {
        APR_ARRAY_PUSH(pl->args, const char *) =
            apr_pstrdup(cmd->pool, argv[i]);
    }
    pl->processes = processes;
    pl->file = cmd->directive->filename;
    pl->line = cmd->directive->line_num;
    APR_ARRAY_PUSH(conf->plugins, gb_plugin *) = pl;
    apr_hash_set(conf->plugin_by_name, pl->name, APR_HASH_KEY_STRING, pl);
    return NULL;
}

/* Configuration sections that only include or leave out what they hold
 * (<IfModule>, <IfDefine>, …): not places with a path of their own. */
static int gb_config_is_conditional(const ap_directive_t *sec)
{
    return !strncasecmp(sec->directive, "<If", 3)
           && strcasecmp(sec->directive, "<If") != 0;
}

static const ap_directive_t *gb_config_section_of(const ap_directive_t *dir)
{
    const ap_directive_t *sec = dir ? dir->parent : NULL;

    while (sec && gb_config_is_conditional(sec)) {
        sec = sec->parent;
    }
    return sec;
}

/* The path core gives a <Directory>/<DirectoryMatch> section (what
 * create_dir_config receives for it), worked out from its arguments the
 * way core's dirsection does: canonical, with a trailing slash, or the
 * regular expression as written. NULL for any other section. */
static const char *gb_config_dir_path(apr_pool_t *p, const ap_directive_t *sec)
{
    const char *args, *endp, *path;
    char *canon;
    int match = !strcasecmp(sec->directive, "<DirectoryMatch");
    apr_status_t rv;

    if (!match && strcasecmp(sec->directive, "<Directory")) {
        return NULL;
    }
    endp = ap_strrchr_c(sec->args, '>');
    args = endp ? apr_pstrmemdup(p, sec->args, endp - sec->args)
                : sec->args;
    path = ap_getword_conf(p, &args);
    if (!strcmp(path, "~")) {
        return ap_getword_conf(p, &args);
    }
    if (match || !strcmp(path, "/")) {
        return path;
    }
    rv = apr_filepath_merge(&canon, NULL, path, APR_FILEPATH_TRUENAME, p);
    if (rv != APR_SUCCESS && rv != APR_EPATHWILD) {
        return path;
    }
    if (canon[strlen(canon) - 1] != '/') {
        canon = apr_pstrcat(p, canon, "/", NULL);
    }
    return canon;
}

void gb_config_note_section(cmd_parms *cmd, gb_dir_conf *d)
{
    const ap_directive_t *sec, *outer;

    if (d->files) {
        return;                 /* noted by an earlier directive */
    }
    sec = gb_config_section_of(cmd->directive);
    if (!sec || (strcasecmp(sec->directive, "<Files")
                 && strcasecmp(sec->directive, "<FilesMatch"))) {
        return;
    }
    d->files = d->location ? d->location : "";
    outer = gb_config_section_of(sec);
    if (outer) {
        d->location = gb_config_dir_path(cmd->pool, outer);
    }
    else if (ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL
             && cmd->config_file && cmd->config_file->name) {
        /* An .htaccess file: its directory, as core names that section. */
        const char *name = cmd->config_file->name;
        const char *slash = ap_strrchr_c(name, '/');
        d->location = slash ? apr_pstrmemdup(cmd->pool, name,
                                             slash - name + 1) : NULL;
    }
    else {
        d->location = NULL;
    }
}

const char *gb_config_cmd_handler(cmd_parms *cmd, void *dc, int argc,
                                  char *const argv[])
{
    gb_dir_conf *conf = dc;
    const char *err;
    int i;

    gb_config_note_section(cmd, conf);

    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: takes one or more plugin "
                            "names, or None", cmd->cmd->name);
    }
    conf->handler_next = NULL;
    if (argc == 1 && !strcasecmp(argv[0], "none")) {
        conf->handler = "";     /* an inner section hands the URL back */
        return NULL;
    }
    for (i = 0; i < argc; i++) {
        if (!gb_valid_name(argv[i]) || !strcasecmp(argv[i], "none")) {
            return apr_psprintf(cmd->pool, "%s: invalid plugin name '%s': "
                                "use the names of GoBridgePlugin lines, or "
                                "None alone", cmd->cmd->name, argv[i]);
        }
        err = gb_config_ref(cmd, argv[i]);
        if (err) {
            return err;
        }
    }
    conf->handler = apr_pstrdup(cmd->pool, argv[0]);
    if (argc > 1) {
        conf->handler_next = apr_array_make(cmd->pool, argc - 1,
                                            sizeof(const char *));
        for (i = 1; i < argc; i++) {
            APR_ARRAY_PUSH(conf->handler_next, const char *) =
                apr_pstrdup(cmd->pool, argv[i]);
        }
    }
    return NULL;
}

const char *gb_config_cmd_phase(cmd_parms *cmd, void *dc, int argc,
                                char *const argv[])
{
    gb_phase_id id = (gb_phase_id)(apr_uintptr_t)cmd->info;
    apr_array_header_t **slot;
    const char *err;
    int i;

    if (id <= GB_PHASE_MAP_TO_STORAGE) {
        err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
        if (err) {
            return err;
        }
        slot = &gb_config_sget(cmd->server)->phases[id];
    }
    else {
        gb_config_note_section(cmd, dc);
        slot = &((gb_dir_conf *)dc)->phases[id];
    }
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: takes one or more plugin "
                            "names, or None", cmd->cmd->name);
    }
    *slot = apr_array_make(cmd->pool, argc, sizeof(const char *));
    if (argc == 1 && !strcasecmp(argv[0], "none")) {
        return NULL;            /* an inner section switches the phase off */
    }
    for (i = 0; i < argc; i++) {
        if (!gb_valid_name(argv[i])) {
            return apr_psprintf(cmd->pool, "%s: invalid plugin name '%s': "
                                "use the names of GoBridgePlugin lines, or "
                                "None alone", cmd->cmd->name, argv[i]);
        }
        APR_ARRAY_PUSH(*slot, const char *) = apr_pstrdup(cmd->pool, argv[i]);
        err = gb_config_ref(cmd, argv[i]);
        if (err) {
            return err;
        }
    }
    return NULL;
}

const char *gb_config_cmd_filter(cmd_parms *cmd, void *dc, int argc,
                                 char *const argv[])
{
    gb_dir_conf *conf = dc;
    apr_array_header_t **slot = cmd->info ? &conf->out_filters
                                          : &conf->in_filters;
    const char *err;
    int i;

    gb_config_note_section(cmd, conf);

    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: takes one or more plugin "
                            "names, or None", cmd->cmd->name);
    }
    /* Like the phase lists: an inner section's list replaces the outer
     * one, None switches filtering off. */
    *slot = apr_array_make(cmd->pool, argc, sizeof(const char *));
    if (argc == 1 && !strcasecmp(argv[0], "none")) {
        return NULL;
    }
    for (i = 0; i < argc; i++) {
        if (!gb_valid_name(argv[i])) {
            return apr_psprintf(cmd->pool, "%s: invalid plugin name '%s': "
                                "use the names of GoBridgePlugin lines, or "
                                "None alone", cmd->cmd->name, argv[i]);
        }
        APR_ARRAY_PUSH(*slot, const char *) = apr_pstrdup(cmd->pool, argv[i]);
        err = gb_config_ref(cmd, argv[i]);
        if (err) {
            return err;
        }
    }
    return NULL;
}

const apr_array_header_t *gb_config_filters(const gb_dir_conf *d,
                                            int output)
{
    const apr_array_header_t *a = output ? d->out_filters : d->in_filters;

    return a && a->nelts > 0 ? a : NULL;
}

/* GoBridgePhases names: httpd's hook names and the GoBridge<X>Handler
 * spellings. */
static const struct {
    const char *name;
    unsigned bits;
} gb_phase_names[] = {
    {"header_parser", GB_PHASES_BIT(GB_PHASE_HEADER_PARSER)},
    {"HeaderParser", GB_PHASES_BIT(GB_PHASE_HEADER_PARSER)},
    {"access", GB_PHASES_BIT(GB_PHASE_ACCESS)},
    {"authn", GB_PHASES_BIT(GB_PHASE_AUTHN)},
    {"authz", GB_PHASES_BIT(GB_PHASE_AUTHZ)},
    {"type_checker", GB_PHASES_BIT(GB_PHASE_TYPE_CHECKER)},
    {"Type", GB_PHASES_BIT(GB_PHASE_TYPE_CHECKER)},
    {"fixups", GB_PHASES_BIT(GB_PHASE_FIXUPS)},
    {"Fixup", GB_PHASES_BIT(GB_PHASE_FIXUPS)},
    {"log", GB_PHASES_BIT(GB_PHASE_LOG)},
    {"handler", GB_PHASES_HANDLER},
    {NULL, 0}
};

static unsigned gb_phase_bits(const char *name)
{
    int i;

    for (i = 0; gb_phase_names[i].name; i++) {
        if (!strcasecmp(name, gb_phase_names[i].name)) {
            return gb_phase_names[i].bits;
        }
    }
    return 0;
}

const char *gb_config_cmd_phases(cmd_parms *cmd, void *dc, int argc,
                                 char *const argv[])
{
    gb_dir_conf *conf = dc;
    unsigned on = 0, plus = 0, minus = 0, touched;
    int i, absolute = 0, relative = 0;

    gb_config_note_section(cmd, conf);

    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: takes phase names (optionally "
                            "with + or -), All or None", cmd->cmd->name);
    }
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        unsigned bits;
        char sign = 0;

        if (argc == 1 && !strcasecmp(a, "All")) {
            on = GB_PHASES_ALL;
            absolute = 1;
            break;
        }
        if (argc == 1 && !strcasecmp(a, "None")) {
            absolute = 1;
            break;
        }
        if (*a == '+' || *a == '-') {
            sign = *a++;
        }
        bits = gb_phase_bits(a);
        if (!bits) {
            return apr_psprintf(cmd->pool, "%s: unknown phase '%s': use "
                                "header_parser, access, authn, authz, "
                                "type_checker, fixups, handler or log "
                                "(All or None alone)", cmd->cmd->name, a);
        }
        if (sign == '+') {
            plus |= bits;
            minus &= ~bits;
            relative = 1;
        }
        else if (sign == '-') {
            minus |= bits;
            plus &= ~bits;
            relative = 1;
        }
        else {
            on |= bits;
            absolute = 1;
        }
    }
    if (absolute && relative) {
        return apr_psprintf(cmd->pool, "%s: either list the phases to use or "
                            "change the inherited ones with +/-, not both "
                            "on one line", cmd->cmd->name);
    }
    /* In .htaccess FileInfo may switch the other phases with +/-; what
     * could switch off access control needs AuthConfig (or the directive
     * named in AllowOverrideList). */
    touched = absolute ? GB_PHASES_ALL : (plus | minus);
    if (gb_config_in_htaccess(cmd) && (touched & GB_PHASES_AUTH)
        && !(cmd->override & OR_AUTHCFG)
        && !(cmd->override_list
             && apr_table_get(cmd->override_list, cmd->cmd->name))) {
        return apr_psprintf(cmd->pool, "%s: in .htaccess, a full list, All, "
                            "None and the access, authn and authz phases "
                            "need AllowOverride AuthConfig; with FileInfo "
                            "use +phase/-phase for the others",
                            cmd->cmd->name);
    }
    if (absolute) {
        conf->phases_on = (int)on;
        conf->phases_add = conf->phases_del = 0;
    }
    else if (conf->phases_on >= 0) {
        conf->phases_on = (int)(((unsigned)conf->phases_on | plus) & ~minus);
    }
    else {
        conf->phases_add = (conf->phases_add & ~minus) | plus;
        conf->phases_del = (conf->phases_del & ~plus) | minus;
    }
    return NULL;
}

const char *gb_config_cmd_option(cmd_parms *cmd, void *dc, const char *key,
                                 const char *val)
{
    gb_dir_conf *conf = dc;

    gb_config_note_section(cmd, conf);

    if (!*key) {
        return apr_psprintf(cmd->pool, "%s: the key must not be empty",
                            cmd->cmd->name);
    }
    /* No value or an empty one removes the key, as PythonOption does. */
    apr_table_setn(conf->options, key, val && *val ? val : GB_CONFIG_UNSET);
    return NULL;
}

/* GoBridgeTimeout and GoBridgeConnectTimeout (cmd->info != NULL). */
/* A positive duration in GoBridgeTimeout's forms (seconds, or ms, s, mi,
 * h), or the error naming the directive. */
static const char *gb_config_duration(cmd_parms *cmd, const char *a,
                                      apr_interval_time_t *t)
{
    if (ap_timeout_parameter_parse(a, t, "s") != APR_SUCCESS || *t <= 0) {
        return apr_psprintf(cmd->pool, "%s: invalid duration '%s': give a "
                            "positive number of seconds, or a number with "
                            "the unit ms, s, mi or h (e.g. 30, 500ms)",
                            cmd->cmd->name, a);
    }
    return NULL;
}

const char *gb_config_cmd_timeout(cmd_parms *cmd, void *dc, const char *a)
{
    gb_dir_conf *conf = dc;
    apr_interval_time_t t;
    const char *err;

    gb_config_note_section(cmd, conf);

    if ((err = gb_config_duration(cmd, a, &t)) != NULL) {
        return err;
    }
    if (cmd->info) {
        conf->connect_timeout = t;
    }
    else {
        conf->timeout = t;
    }
    return NULL;
}

/* GoBridgeFileWalk On|Off. It decides whether <Directory> and <Files>
 * sections apply, so it cannot sit in one: httpd reads it before that walk
 * (gb_phase_note_file_walk), when only <Location> sections are merged. */
const char *gb_config_cmd_file_walk(cmd_parms *cmd, void *dc, int on)
{
    gb_dir_conf *conf = dc;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIRECTORY
                                                | NOT_IN_FILES);

    if (err) {
        return apr_pstrcat(cmd->pool, err, " (it decides whether "
                           "<Directory> and <Files> sections apply: put it "
                           "in a <Location> section)", NULL);
    }
    gb_config_note_section(cmd, conf);
    conf->file_walk = on ? 1 : 0;
    return NULL;
}

const char *gb_config_cmd_max_message(cmd_parms *cmd, void *dc,
                                      const char *a)
{
    gb_dir_conf *conf = dc;
    apr_off_t n;
    char *end;

    gb_config_note_section(cmd, conf);

    /* Below 512 KiB the SDK's 256 KiB body chunks, with the head and log
     * records that ride along, might not fit; above 1 GiB one message
     * would be held in memory whole. */
    if (apr_strtoff(&n, a, &end, 10) != APR_SUCCESS || end == a) {
        n = -1;
    }
    else if (*end && !end[1]) {
        switch (apr_toupper(*end)) {
        case 'K': n <<= 10; break;
        case 'M': n <<= 20; break;
        case 'G': n <<= 30; break;
        default:  n = -1;
        }
    }
    else if (*end) {
        n = -1;
    }
    if (n < 512 * 1024 || n > 1024 * 1024 * 1024) {
        return apr_psprintf(cmd->pool, "%s: invalid size '%s': give a "
                            "number of bytes from 512K to 1G (the suffixes "
                            "K, M and G are understood)", cmd->cmd->name, a);
    }
    conf->max_message = n;
    return NULL;
}

const char *gb_config_cmd_socket_dir(cmd_parms *cmd, void *dc,
                                     const char *a)
{
    gb_srv_conf *conf = gb_config_sget(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dc;
    if (err) {
        return err;
    }
    if (!gb_spec_safe(a) || !*a) {
        return apr_psprintf(cmd->pool, "%s: invalid directory '%s'",
                            cmd->cmd->name, a);
    }
    /* Resolved against DefaultRuntimeDir in check_config, which may
     * appear after this line. */
    conf->socket_dir = a;
    return NULL;
}

const char *gb_config_cmd_daemon(cmd_parms *cmd, void *dc, const char *a)
{
    gb_srv_conf *conf = gb_config_sget(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dc;
    if (err) {
        return err;
    }
    if (!ap_os_is_path_absolute(cmd->pool, a)) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be an absolute path",
                            cmd->cmd->name, a);
    }
    conf->daemon = a;
    return NULL;
}

/* GoBridgeDrainTimeout duration: how long a plugin process being stopped
 * (replaced, removed, or with httpd) may take to finish its calls. */
const char *gb_config_cmd_drain(cmd_parms *cmd, void *dc, const char *a)
{
    gb_srv_conf *conf = gb_config_sget(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t t;

    (void)dc;
    if (err || (err = gb_config_duration(cmd, a, &t)) != NULL) {
        return err;
    }
    conf->drain = t;
    return NULL;
}

/* GoBridgeAutoReload Off | duration: at least 100 ms, so that gobridged's
 * stat of each binary stays a trifle. */
const char *gb_config_cmd_autoreload(cmd_parms *cmd, void *dc, const char *a)
{
    gb_srv_conf *conf = gb_config_sget(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t t;

    (void)dc;
    if (err) {
        return err;
    }
    if (!strcasecmp(a, "Off")) {
        conf->autoreload = 0;
        return NULL;
    }
    if (ap_timeout_parameter_parse(a, &t, "s") != APR_SUCCESS
        || t < apr_time_from_msec(100)) {
        return apr_psprintf(cmd->pool, "%s: invalid value '%s': give Off, "
                            "or how often to look for new builds, 100ms or "
                            "more (e.g. 2s, 500ms)", cmd->cmd->name, a);
    }
    conf->autoreload = t;
    return NULL;
}

/* --- whole-configuration checks ---------------------------------------- */

void gb_config_pre_config(apr_pool_t *pconf)
{
    gb_plugin_refs = apr_array_make(pconf, 8, sizeof(gb_plugin_ref));
}

static int gb_is_executable_file(const char *path, apr_pool_t *p,
                                 apr_status_t *rv)
{
    apr_finfo_t fi;

    *rv = apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_PROT, p);
    if (*rv != APR_SUCCESS) {
        return 0;
    }
    return fi.filetype == APR_REG
           && (fi.protection & (APR_UEXECUTE | APR_GEXECUTE | APR_WEXECUTE));
}

/* sizeof(sockaddr_un.sun_path) on Linux, and the length of what go-plugin
 * appends to our socket directory ("/s/plugin" and a random uint32). */
#define GB_CONFIG_SUN_PATH_MAX 108
#define GB_CONFIG_GOPLUGIN_SOCK_SUFFIX (sizeof("/s/plugin") - 1 + 10)

int gb_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    gb_srv_conf *conf = gb_config_sget(s);
    const char *dir;
    server_rec *vs;
    apr_status_t rv;
    int i, bad = 0, local = 0;

    for (i = 0; gb_plugin_refs && i < gb_plugin_refs->nelts; i++) {
        gb_plugin_ref *ref = &APR_ARRAY_IDX(gb_plugin_refs, i, gb_plugin_ref);
        if (!apr_hash_get(conf->plugin_by_name, ref->name,
                          APR_HASH_KEY_STRING)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                         GB_APLOGNO(0001) "%s: unknown plugin '%s' at %s "
                         "line %u: declare it with GoBridgePlugin in the "
                         "server configuration", ref->directive, ref->name,
                         ref->file, ref->line);
            bad = 1;
        }
    }

    dir = ap_runtime_dir_relative(pconf, conf->socket_dir ? conf->socket_dir
                                                          : "gobridge");
    if (!dir) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     GB_APLOGNO(0002) "GoBridgeSocketDir: invalid path '%s'",
                     conf->socket_dir);
        return !OK;
    }
    /* Every socket path must fit sockaddr_un.sun_path (108 bytes on
     * Linux, with its NUL): `<dir>/<name>.sock` for each plugin, and
     * go-plugin's own `<dir>/s/plugin<up to 10 digits>`. */
    for (i = 0; i < conf->plugins->nelts; i++) {
        const gb_plugin *pl = APR_ARRAY_IDX(conf->plugins, i, gb_plugin *);
        /* `<dir>/<name>.sock`, or `<dir>/<name>.<i>.sock` in a pool. */
        apr_size_t need = strlen(dir) + 1 + strlen(pl->name) + 5
                          + (pl->processes > 1 ? 3 : 0);
        int j;

        if (pl->remote) {
            continue;   /* no socket here, no process of gobridged's */
        }
        local++;

        /* gobridged runs a pool's processes as NAME.0, NAME.1, …: no
         * other plugin may be called so. */
        for (j = 0; pl->processes > 1 && j < pl->processes; j++) {
            const gb_plugin *other = apr_hash_get(
                conf->plugin_by_name,
                apr_psprintf(ptemp, "%s.%d", pl->name, j),
                APR_HASH_KEY_STRING);
            if (other) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                             GB_APLOGNO(0351) "GoBridgePlugin: plugin '%s' "
                             "(%s line %u) has the name of process %d of "
                             "the pool '%s' (%s line %u, processes=%d); "
                             "rename one of them", other->name, other->file,
                             other->line, j, pl->name, pl->file, pl->line,
                             pl->processes);
                bad = 1;
            }
        }

        if (need < strlen(dir) + GB_CONFIG_GOPLUGIN_SOCK_SUFFIX) {
            need = strlen(dir) + GB_CONFIG_GOPLUGIN_SOCK_SUFFIX;
        }
        if (need + 1 > GB_CONFIG_SUN_PATH_MAX) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                         GB_APLOGNO(0003) "GoBridgeSocketDir: '%s' is too "
                         "long for the unix socket of plugin '%s' (declared "
                         "at %s line %u): socket paths are limited to %d "
                         "bytes; use a shorter GoBridgeSocketDir or plugin "
                         "name", dir, pl->name, pl->file, pl->line,
                         GB_CONFIG_SUN_PATH_MAX - 1);
            bad = 1;
        }
    }
    /* Children inherit the resolved path from every server_rec. */
    for (vs = s; vs; vs = vs->next) {
        gb_config_sget(vs)->socket_dir = dir;
    }

    if (local > 0) {
        const char *daemon = gb_config_daemon(s);
        if (!gb_is_executable_file(daemon, ptemp, &rv)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s,
                         GB_APLOGNO(0004) "GoBridgeDaemon: '%s' is not an "
                         "executable file; install gobridged there or point "
                         "GoBridgeDaemon at it", daemon);
            bad = 1;
        }
    }
    return bad ? !OK : OK;
}
