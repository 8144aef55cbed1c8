/* gb_remote.h: remote plugins, which gobridged does not start: a
 * GoBridgePlugin line whose target is one or more tcp://host:port
 * addresses instead of a binary, reached over mutual TLS (gb_tls.h).
 *
 *   GoBridgePlugin NAME ca=FILE cert=FILE key=FILE [servername=NAME] \
 *                  [resolve=DURATION|off] tcp://HOST:PORT [tcp://...]
 *
 * Each address may resolve to several IP addresses (a Kubernetes headless
 * Service): every one becomes an endpoint of the plugin, and calls are
 * spread over them like over a pool's processes (gb_rpc.c). Names are
 * resolved when the configuration is loaded and again by each child
 * (gb_resolve.h).
 */
#ifndef GB_REMOTE_H
#define GB_REMOTE_H

#include <apr_network_io.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <http_config.h>

struct gb_tls_ctx;
struct gb_remote_live;

/* One tcp://host:port of the line. */
typedef struct {
    const char *text;           /* as written, for log lines */
    const char *host;
    apr_port_t port;
} gb_remote_addr;

/* A remote plugin's part of its gb_plugin. */
typedef struct gb_remote {
    apr_array_header_t *addrs;  /* gb_remote_addr, in order */
    const char *ca;             /* absolute paths (ServerRoot-relative as
                                 * written) */
    const char *cert;
    const char *key;
    const char *servername;     /* NULL: each address's host */
    struct gb_tls_ctx *tls;     /* built from the files above when the
                                 * line is read */
    apr_interval_time_t resolve;/* resolve=: how often a child resolves
                                 * the names again (gb_resolve.h); 0 off */
    int resolve_set;            /* resolve= was given */
    int names;                  /* some host is a name, not an IP */
    struct gb_remote_live *live;/* this child's endpoints (gb_resolve.c);
                                 * NULL before child_init */
} gb_remote;

/* resolve='s default. */
#define GB_REMOTE_DEFAULT_RESOLVE apr_time_from_sec(30)

/* Whether a GoBridgePlugin argument is a remote address (tcp://...). */
int gb_remote_is_address(const char *arg);

/* Sets one of the options (ca=, cert=, key=, servername=, resolve=) of a line
 * in *rm (zeroed by the caller). Returns 1 if opt was one of them, 0 if
 * not, and sets *err (cmd->pool) if its value is invalid. */
int gb_remote_option(cmd_parms *cmd, gb_remote *rm, const char *opt,
                     const char **err);

/* Whether any TLS option was given (only remote plugins take them). */
int gb_remote_has_options(const gb_remote *rm);

/* Reads the addresses argv[0..argc-1] of plugin name into rm and builds
 * its TLS context from the files (refusing a missing option or a file
 * OpenSSL cannot use). Returns NULL or the error, in cmd->pool, for httpd
 * to print with the file and line of the directive. */
const char *gb_remote_finish(cmd_parms *cmd, const char *name,
                             gb_remote *rm, int argc, char *const argv[]);

#endif /* GB_REMOTE_H */
