/* mod_gobridge.c: module glue only. Directives live in gb_config.c, the
 * gobridged supervision in gb_bridge.c, the content handler in
 * gb_handler.c, calls to plugins in gb_rpc.c over the transport of
 * gb_conn.c/gb_call.c. */
#include "gb_private.h"
#include "gb_bridge.h"
#include "gb_config.h"
#include "gb_conn.h"
#include "gb_auth.h"
#include "gb_filter.h"
#include "gb_handler.h"
#include "gb_phase.h"
#include "gb_request.h"
#include "gb_resolve.h"
#include "gb_rpc.h"
#include "gb_stats.h"
#include "gb_status.h"

#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mpm_common.h>

static int gb_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    gb_config_pre_config(pconf);
    return OK;
}

/* Runs in configtest too (post_config does not), so every check that
 * needs the whole configuration lives here. */
static int gb_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    int rc;

    (void)plog;
    rc = gb_config_check(pconf, ptemp, s);
    if (rc == OK) {
        rc = gb_bridge_check(ptemp, s);
    }
    return rc;
}

static int gb_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    if (gb_rpc_post_config(pconf, s) != APR_SUCCESS) {
        return !OK;
    }
    /* Without shared memory the status page shows no counts; gobridge
     * serves all the same. */
    gb_stats_post_config(pconf, s);
    return gb_bridge_post_config(pconf, ptemp, s);
}

static void gb_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = gb_conn_child_init(pchild, s);

    if (rv == APR_SUCCESS) {
        rv = gb_resolve_child_init(pchild, s);
    }
    gb_request_child_init(pchild, s);
    gb_call_child_init(pchild);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GB_APLOGNO(0050)
                     "gb_child_init: cannot set up the connection pool; "
                     "gobridge requests will fail");
    }
}

static const command_rec gb_cmds[] = {
    AP_INIT_TAKE_ARGV("GoBridgePlugin", gb_config_cmd_plugin, NULL,
                      RSRC_CONF, "GoBridgePlugin name [processes=N] "
                      "/path/to/binary [args...]: declare a plugin process, "
                      "or a pool of N; or GoBridgePlugin name ca=FILE "
                      "cert=FILE key=FILE [servername=NAME] "
                      "tcp://host:port...: a remote plugin over mutual TLS"),
    /* Per-directory directives may appear in .htaccess: the handler,
     * timeouts and phases with AllowOverride FileInfo (like SetHandler),
     * options with Options, the auth phases with AuthConfig. */
    AP_INIT_TAKE_ARGV("GoBridgeHandler", gb_config_cmd_handler, NULL,
                      RSRC_CONF | ACCESS_CONF | OR_FILEINFO,
                      "GoBridgeHandler plugin [plugin...] | None: serve "
                      "this location with the first plugin that does not "
                      "decline"),
    AP_INIT_TAKE12("GoBridgeOption", gb_config_cmd_option, NULL,
                   RSRC_CONF | ACCESS_CONF | OR_OPTIONS, "GoBridgeOption key [value]: "
                   "set (or, without a value, unset) an option for plugins"),
    AP_INIT_TAKE1("GoBridgeTimeout", gb_config_cmd_timeout, NULL,
                  RSRC_CONF | ACCESS_CONF | OR_FILEINFO, "GoBridgeTimeout duration: how "
                  "long to wait for each message from a plugin (30s)"),
    AP_INIT_TAKE1("GoBridgeConnectTimeout", gb_config_cmd_timeout, "connect",
                  RSRC_CONF | ACCESS_CONF | OR_FILEINFO, "GoBridgeConnectTimeout duration: "
                  "how long to wait to connect to a plugin (5s)"),
    AP_INIT_TAKE1("GoBridgeMaxMessageSize", gb_config_cmd_max_message, NULL,
                  RSRC_CONF | ACCESS_CONF | OR_FILEINFO, "GoBridgeMaxMessageSize bytes: "
                  "largest gRPC message accepted from a plugin (4194304)"),
    AP_INIT_FLAG("GoBridgeFileWalk", gb_config_cmd_file_walk, NULL,
                 RSRC_CONF | ACCESS_CONF, "GoBridgeFileWalk On|Off: Off "
                 "for URLs that are not files (a plugin serves them): skip "
                 "<Directory>, <Files> and .htaccess and their stat calls"),
    AP_INIT_TAKE_ARGV("GoBridgePhases", gb_config_cmd_phases, NULL,
                      RSRC_CONF | ACCESS_CONF | OR_FILEINFO, "GoBridgePhases "
                      "[+|-]phase... | All | None: the per-directory phases "
                      "(and the handler) gobridge runs here"),
    AP_INIT_TAKE1("GoBridgeSocketDir", gb_config_cmd_socket_dir, NULL,
                  RSRC_CONF, "GoBridgeSocketDir path: runtime directory of "
                  "gobridged and the plugin sockets"),
    AP_INIT_TAKE1("GoBridgeDaemon", gb_config_cmd_daemon, NULL, RSRC_CONF,
                  "GoBridgeDaemon /path/to/gobridged: the supervisor binary"),
    AP_INIT_TAKE1("GoBridgeDrainTimeout", gb_config_cmd_drain, NULL,
                  RSRC_CONF, "GoBridgeDrainTimeout duration: how long a "
                  "plugin process being stopped or replaced may take to "
                  "finish its calls (10s)"),
    AP_INIT_TAKE1("GoBridgeAutoReload", gb_config_cmd_autoreload, NULL,
                  RSRC_CONF, "GoBridgeAutoReload Off|interval: start new "
                  "builds of plugin binaries as soon as they appear"),
    /* Phase handlers (gb_phase.c): plugin names in order, or None. */
#define GB_PHASE_CMD(name, id, where)                                       \
    AP_INIT_TAKE_ARGV(name, gb_config_cmd_phase, (void *)(id), where,       \
                      name " plugin [plugin...] | None: send this phase "   \
                      "to the named plugins, in order")
    GB_PHASE_CMD("GoBridgePostReadRequestHandler", GB_PHASE_POST_READ_REQUEST,
                 RSRC_CONF),
    GB_PHASE_CMD("GoBridgeTransHandler", GB_PHASE_TRANSLATE_NAME, RSRC_CONF),
    GB_PHASE_CMD("GoBridgeMapToStorageHandler", GB_PHASE_MAP_TO_STORAGE,
                 RSRC_CONF),
    GB_PHASE_CMD("GoBridgeHeaderParserHandler", GB_PHASE_HEADER_PARSER,
                 RSRC_CONF | ACCESS_CONF | OR_FILEINFO),
    GB_PHASE_CMD("GoBridgeAccessHandler", GB_PHASE_ACCESS,
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG),
    GB_PHASE_CMD("GoBridgeAuthnHandler", GB_PHASE_AUTHN,
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG),
    GB_PHASE_CMD("GoBridgeAuthzHandler", GB_PHASE_AUTHZ,
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG),
    GB_PHASE_CMD("GoBridgeTypeHandler", GB_PHASE_TYPE_CHECKER,
                 RSRC_CONF | ACCESS_CONF | OR_FILEINFO),
    GB_PHASE_CMD("GoBridgeFixupHandler", GB_PHASE_FIXUPS,
                 RSRC_CONF | ACCESS_CONF | OR_FILEINFO),
    GB_PHASE_CMD("GoBridgeLogHandler", GB_PHASE_LOG,
                 RSRC_CONF | ACCESS_CONF | OR_FILEINFO),
#undef GB_PHASE_CMD
    /* Body filters (gb_filter.c). */
    AP_INIT_TAKE_ARGV("GoBridgeOutputFilter", gb_config_cmd_filter,
                      (void *)1, RSRC_CONF | ACCESS_CONF | OR_FILEINFO,
                      "GoBridgeOutputFilter plugin [plugin...] | None: "
                      "transform response bodies with the named plugins, "
                      "in order"),
    AP_INIT_TAKE_ARGV("GoBridgeInputFilter", gb_config_cmd_filter, NULL,
                      RSRC_CONF | ACCESS_CONF | OR_FILEINFO,
                      "GoBridgeInputFilter plugin [plugin...] | None: "
                      "transform request bodies with the named plugins, "
                      "in order"),
    /* Auth providers (gb_auth.c). */
    AP_INIT_TAKE1("GoBridgeAuthnProvider", gb_auth_cmd_authn_provider, NULL,
                  RSRC_CONF | ACCESS_CONF, "GoBridgeAuthnProvider "
                  "plugin|None: the plugin that answers 'AuthBasicProvider "
                  "gobridge' and 'AuthDigestProvider gobridge' here"),
    AP_INIT_TAKE1("GoBridgeAuthnCacheHash", gb_auth_cmd_cache_hash, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "GoBridgeAuthnCacheHash apr1|sha1: how granted passwords "
                  "are hashed for mod_authn_socache"),
    {NULL}
};

static void gb_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(gb_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(gb_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(gb_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(gb_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(gb_bridge_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    /* After core's SetHandler (REALLY_FIRST), so GoBridgeHandler wins. */
    ap_hook_fixups(gb_handler_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(gb_handler_handle, NULL, NULL, APR_HOOK_MIDDLE);
    /* SetHandler gobridge-status (gb_status.c). */
    ap_hook_handler(gb_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* mod_ssl's optional functions, for the TLS facts (gb_request.c). */
    ap_hook_optional_fn_retrieve(gb_request_optional_fns, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    /* authn provider and Require gobridge (gb_auth.c). */
    gb_auth_register(p);
    /* GoBridgeOutputFilter / GoBridgeInputFilter (gb_filter.c). */
    gb_filter_register(p);
    ap_hook_insert_filter(gb_filter_insert, NULL, NULL, APR_HOOK_MIDDLE);

    /* Phase handlers (gb_phase.c). Type checker first, so a plugin's
     * content type wins over mod_mime's; the auth hooks per configuration,
     * ahead of mod_authz_core's LAST ones. */
    ap_hook_post_read_request(gb_phase_post_read_request, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_translate_name(gb_phase_translate_name, NULL, NULL,
                           APR_HOOK_MIDDLE);
    /* GoBridgeFileWalk Off: read before any translation, acted on ahead
     * of core's directory walk. */
    ap_hook_translate_name(gb_phase_note_file_walk, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_map_to_storage(gb_phase_skip_file_walk, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_map_to_storage(gb_phase_map_to_storage, NULL, NULL,
                           APR_HOOK_MIDDLE);
    ap_hook_header_parser(gb_phase_header_parser, NULL, NULL,
                          APR_HOOK_MIDDLE);
    ap_hook_check_access_ex(gb_phase_access, NULL, NULL, APR_HOOK_MIDDLE,
                            AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(gb_phase_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(gb_phase_authz, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_type_checker(gb_phase_type_checker, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_fixups(gb_phase_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(gb_phase_log, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(gb_phase_redirect_handler, NULL, NULL,
                    APR_HOOK_REALLY_FIRST);
}

/* What AP_DECLARE_MODULE(gobridge) expands to, minus its
 * APLOG_USE_MODULE(gobridge), which gb_private.h already did for this file
 * (as mod_http2.c does). Default visibility: the one exported symbol. */
#pragma GCC visibility push(default)
module AP_MODULE_DECLARE_DATA gobridge_module = {
    STANDARD20_MODULE_STUFF,
    gb_config_create_dir,
    gb_config_merge_dir,
    gb_config_create_srv,
    gb_config_merge_srv,
    gb_cmds,
    gb_register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE
};
#pragma GCC visibility pop
