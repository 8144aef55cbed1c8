/* gb_config.h: server and per-directory configuration of mod_gobridge.
 *
 * Server-wide (main server only): the plugin registry (GoBridgePlugin), the
 * runtime directory (GoBridgeSocketDir) and the supervisor binary
 * (GoBridgeDaemon). Per directory: the content handler (GoBridgeHandler),
 * GoBridgeOption values, timeouts and the message size bound.
 */
#ifndef GB_CONFIG_H
#define GB_CONFIG_H

#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <httpd.h>
#include <http_config.h>

/* Handler name that GoBridgeHandler puts in r->handler (see gb_handler.c). */
#define GB_HANDLER_NAME "gobridge"

#define GB_CONFIG_DEFAULT_TIMEOUT         apr_time_from_sec(30)
#define GB_CONFIG_DEFAULT_CONNECT_TIMEOUT apr_time_from_sec(5)
#define GB_CONFIG_DEFAULT_MAX_MESSAGE     (4 * 1024 * 1024)
#define GB_CONFIG_DEFAULT_DRAIN           apr_time_from_sec(10)
#define GB_CONFIG_PLUGIN_NAME_MAX         64
#define GB_CONFIG_PROCESSES_MAX           64

#ifndef GB_DEFAULT_DAEMON
#define GB_DEFAULT_DAEMON "/usr/local/libexec/gobridge/gobridged"
#endif

/* The non-body phases that GoBridge*Handler directives send to plugins
 * (gb_phase.c). POST_READ_REQUEST, TRANSLATE_NAME and MAP_TO_STORAGE run
 * before httpd has a per-directory configuration, so their lists live in
 * the server configuration; the others are per directory. */
typedef enum {
    GB_PHASE_POST_READ_REQUEST = 0,
    GB_PHASE_TRANSLATE_NAME,
    GB_PHASE_MAP_TO_STORAGE,
    GB_PHASE_HEADER_PARSER,
    GB_PHASE_ACCESS,
    GB_PHASE_AUTHN,
    GB_PHASE_AUTHZ,
    GB_PHASE_TYPE_CHECKER,
    GB_PHASE_FIXUPS,
    GB_PHASE_LOG,
    GB_PHASE_COUNT
} gb_phase_id;

/* GoBridgePhases: bits of the per-directory phases a location uses. The
 * server-level phases (post_read_request, translate_name, map_to_storage)
 * run before a per-directory configuration exists and have no bit. */
#define GB_PHASES_BIT(id)   (1u << (id))
#define GB_PHASES_HANDLER   (1u << GB_PHASE_COUNT)      /* GoBridgeHandler */
#define GB_PHASES_ALL       (GB_PHASES_BIT(GB_PHASE_HEADER_PARSER)         \
                             | GB_PHASES_BIT(GB_PHASE_ACCESS)              \
                             | GB_PHASES_BIT(GB_PHASE_AUTHN)               \
                             | GB_PHASES_BIT(GB_PHASE_AUTHZ)               \
                             | GB_PHASES_BIT(GB_PHASE_TYPE_CHECKER)        \
                             | GB_PHASES_BIT(GB_PHASE_FIXUPS)              \
                             | GB_PHASES_BIT(GB_PHASE_LOG)                 \
                             | GB_PHASES_HANDLER)
/* The phases only AllowOverride AuthConfig may switch in .htaccess. */
#define GB_PHASES_AUTH      (GB_PHASES_BIT(GB_PHASE_ACCESS)                \
                             | GB_PHASES_BIT(GB_PHASE_AUTHN)               \
                             | GB_PHASES_BIT(GB_PHASE_AUTHZ))

struct gb_endpoint;
struct gb_stats_slot;
struct gb_remote;

/* One GoBridgePlugin line. */
typedef struct gb_plugin {
    const char *name;
    const char *binary;              /* absolute path; NULL when remote */
    apr_array_header_t *args;        /* const char *, may be empty */
    const char *file;                /* where it was declared */
    unsigned line;
    int processes;                   /* processes=N: a pool of N, 1 default */
    struct gb_remote *remote;        /* a remote plugin's addresses and
                                      * TLS (gb_remote.h); NULL for one
                                      * gobridged starts */
    struct gb_endpoint **endpoints;  /* one socket a process, or one a
                                      * remote address, resolved in
                                      * post_config (gb_rpc.c) */
    int nendpoints;                  /* how many: processes, or a remote
                                      * plugin's resolved addresses */
    struct gb_stats_slot *stats;     /* its counters in shared memory, set
                                      * in post_config (gb_stats.c); NULL
                                      * if there are none */
} gb_plugin;

typedef struct gb_srv_conf {
    apr_array_header_t *plugins;     /* gb_plugin *, declaration order */
    apr_hash_t *plugin_by_name;      /* name -> gb_plugin * */
    const char *socket_dir;          /* resolved in check_config */
    const char *daemon;              /* NULL: GB_DEFAULT_DAEMON */
    apr_interval_time_t drain;       /* GoBridgeDrainTimeout, 0 unset */
    apr_interval_time_t autoreload;  /* GoBridgeAutoReload: how often
                                      * gobridged looks for new builds;
                                      * 0 Off (the default) */
    /* Server-level phase handlers (const char * plugin names, in order);
     * NULL: unset (inherit), empty: None. */
    apr_array_header_t *phases[GB_PHASE_COUNT];
    /* The snapshot's part that is the same for every request this server
     * serves, encoded once per child (gb_request_child_init). */
    const struct ProtobufCMessageUnknownField *facts;
} gb_srv_conf;

/* How a granted Basic password is offered to mod_authn_socache. */
typedef enum {
    GB_CACHE_HASH_APR1 = 0,     /* salted $apr1$ (1000 MD5 rounds): default */
    GB_CACHE_HASH_SHA1          /* {SHA}: one SHA-1, unsalted, fast */
} gb_cache_hash;

typedef struct gb_dir_conf {
    const char *location;            /* the section path, NULL at server;
                                      * for a <Files> section the path of
                                      * the section around it (see
                                      * gb_config_note_section) */
    const char *files;               /* the <Files>/<FilesMatch> pattern
                                      * when this is one, else NULL */
    const char *handler;             /* first plugin; "" = GoBridgeHandler none */
    apr_array_header_t *handler_next;/* const char *: the plugins tried, in
                                      * order, when the one before declined;
                                      * set and merged with handler */
    apr_table_t *options;            /* values may be GB_CONFIG_UNSET (see .c) */
    apr_interval_time_t timeout;     /* -1: unset */
    apr_interval_time_t connect_timeout;
    apr_off_t max_message;           /* -1: unset */
    int authn_cache_hash;            /* GoBridgeAuthnCacheHash: a
                                      * GB_CACHE_HASH_*, -1 unset */
    const char *authn_plugin;        /* GoBridgeAuthnProvider (gb_auth.c):
                                      * NULL unset, "" None */
    /* Per-directory phase handlers, as in gb_srv_conf. */
    apr_array_header_t *phases[GB_PHASE_COUNT];
    /* GoBridgePhases, merged like core's Options: phases_on is an absolute
     * GB_PHASES_* mask or -1 (unset: inherit); phases_add/phases_del are
     * the +/- changes of a section that set no absolute list. */
    int phases_on;
    unsigned phases_add;
    unsigned phases_del;
    /* GoBridgeOutputFilter / GoBridgeInputFilter (gb_filter.c): plugin
     * names in order; NULL unset (inherit), empty None. */
    apr_array_header_t *out_filters;
    apr_array_header_t *in_filters;
    int file_walk;                   /* GoBridgeFileWalk: 1 On, 0 Off,
                                      * -1 unset (On) */
} gb_dir_conf;

void *gb_config_create_srv(apr_pool_t *p, server_rec *s);
void *gb_config_merge_srv(apr_pool_t *p, void *basev, void *addv);
void *gb_config_create_dir(apr_pool_t *p, char *dir);
void *gb_config_merge_dir(apr_pool_t *p, void *basev, void *addv);

/**
 * Record which section a per-directory directive sits in, for the snapshot's
 * location and files. Core names a <Files> section's configuration after its
 * pattern, which every <Files "*.py"> shares; for one, the pattern moves to
 * d->files and d->location becomes the path of the <Directory> around it
 * (the .htaccess directory in an .htaccess file; NULL at server level, where
 * merging takes the location of whatever encloses the request). Called by
 * every per-directory directive handler; repeated calls are harmless.
 * @param cmd the directive being read
 * @param d   the configuration of the section it is in
 */
void gb_config_note_section(cmd_parms *cmd, gb_dir_conf *d);

/* Directive handlers (see mod_gobridge.c for the command table). */
const char *gb_config_cmd_plugin(cmd_parms *cmd, void *dc, int argc,
                                 char *const argv[]);
const char *gb_config_cmd_handler(cmd_parms *cmd, void *dc, int argc,
                                  char *const argv[]);
const char *gb_config_cmd_option(cmd_parms *cmd, void *dc, const char *key,
                                 const char *val);
const char *gb_config_cmd_timeout(cmd_parms *cmd, void *dc, const char *a);
const char *gb_config_cmd_max_message(cmd_parms *cmd, void *dc,
                                      const char *a);
const char *gb_config_cmd_file_walk(cmd_parms *cmd, void *dc, int on);
const char *gb_config_cmd_socket_dir(cmd_parms *cmd, void *dc,
                                     const char *a);
const char *gb_config_cmd_daemon(cmd_parms *cmd, void *dc, const char *a);
const char *gb_config_cmd_autoreload(cmd_parms *cmd, void *dc,
                                     const char *a);
const char *gb_config_cmd_drain(cmd_parms *cmd, void *dc, const char *a);

/* Records that a directive at cmd's file and line names plugin `name`;
 * gb_config_check() refuses the configuration if no GoBridgePlugin
 * declares it. Only for directives read at start-up (not .htaccess). */
void gb_config_remember_ref(cmd_parms *cmd, const char *name);

/* Calls fn for every reference remembered in this configuration, in the
 * order read: the plugin, the directive naming it, where it is. */
typedef void gb_config_ref_fn(void *ctx, const char *plugin,
                              const char *directive, const char *file,
                              unsigned line);
void gb_config_refs_do(gb_config_ref_fn *fn, void *ctx);
/* GoBridge<Phase>Handler name... | None; cmd->info is the gb_phase_id. */
const char *gb_config_cmd_phase(cmd_parms *cmd, void *dc, int argc,
                                char *const argv[]);

/* GoBridgeOutputFilter / GoBridgeInputFilter name... | None; cmd->info
 * is non-NULL for the output filter. */
const char *gb_config_cmd_filter(cmd_parms *cmd, void *dc, int argc,
                                 char *const argv[]);

/* The filters' plugin names for d (output or input), or NULL for none. */
const apr_array_header_t *gb_config_filters(const gb_dir_conf *d,
                                            int output);

/* GoBridgePhases [+|-]phase... | All | None. */
const char *gb_config_cmd_phases(cmd_parms *cmd, void *dc, int argc,
                                 char *const argv[]);

/* Whether cmd is being read from an .htaccess file (neither the server
 * configuration nor a <Directory>/<Location>/<Files> section). */
int gb_config_in_htaccess(const cmd_parms *cmd);

/* pre_config: forget the plugin references of the previous generation. */
void gb_config_pre_config(apr_pool_t *pconf);

/* check_config: resolves defaults and validates what only the whole
 * configuration can tell (plugin names used before their declaration,
 * binaries, socket path lengths). Logs each problem with file and line and
 * returns !OK so that `apachectl configtest` fails. */
int gb_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* How many plugins gobridged starts: the declared ones that are not
 * remote. With none, gobridged is not run. */
int gb_config_local_plugins(const gb_srv_conf *conf);

/* Typed getters. */
gb_srv_conf *gb_config_sget(server_rec *s);
gb_dir_conf *gb_config_rget(request_rec *r);
const gb_plugin *gb_config_plugin(server_rec *s, const char *name);
const char *gb_config_daemon(server_rec *s);
/* GoBridgeDrainTimeout, or its default. */
apr_interval_time_t gb_config_drain_timeout(server_rec *s);
apr_interval_time_t gb_config_timeout(const gb_dir_conf *d);
apr_interval_time_t gb_config_connect_timeout(const gb_dir_conf *d);
apr_size_t gb_config_max_message(const gb_dir_conf *d);

/* The plugin names configured for phase id (server-level phases from the
 * request's server, the others from its per-directory configuration), or
 * NULL when there are none or GoBridgePhases switched the phase off. */
const apr_array_header_t *gb_config_phase_plugins(request_rec *r,
                                                  gb_phase_id id);

/* Whether GoBridgePhases leaves the phases in mask (GB_PHASES_*) on for
 * the per-directory configuration d (all are on by default). */
int gb_config_phases_on(const gb_dir_conf *d, unsigned mask);

/* The content handler's plugin for d: NULL when there is none
 * (GoBridgeHandler unset or None, or GoBridgePhases without handler). */
const char *gb_config_handler(const gb_dir_conf *d);

/* GoBridgeFileWalk for d: 0 when its URLs skip httpd's walk of the
 * filesystem (<Directory>, <Files>, .htaccess), 1 otherwise. */
int gb_config_file_walk(const gb_dir_conf *d);

/* GoBridgeAuthnCacheHash for d (GB_CACHE_HASH_APR1 when unset). */
gb_cache_hash gb_config_authn_cache_hash(const gb_dir_conf *d);

/* The i-th plugin of d's GoBridgeHandler list (0 is gb_config_handler's),
 * or NULL past its end. */
const char *gb_config_handler_at(const gb_dir_conf *d, int i);

/* The options that are set (unset markers skipped), in order; calls fn
 * like apr_table_do until it returns 0. */
void gb_config_options_do(const gb_dir_conf *d,
                          int (*fn)(void *ctx, const char *k, const char *v),
                          void *ctx);

#endif /* GB_CONFIG_H */
