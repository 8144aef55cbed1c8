/* gb_remote.c: the GoBridgePlugin line of a remote plugin (see
 * gb_remote.h). */
#include "gb_private.h"
#include "gb_remote.h"
#include "gb_tls.h"

#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>

#include <arpa/inet.h>

#define GB_REMOTE_SCHEME "tcp://"

int gb_remote_is_address(const char *arg)
{
    return !strncasecmp(arg, GB_REMOTE_SCHEME, sizeof(GB_REMOTE_SCHEME) - 1);
}

/* A file option's value, ServerRoot-relative as in mod_ssl. */
static const char *gb_remote_file(cmd_parms *cmd, const char *opt,
                                  const char *val, const char **err)
{
    const char *path;

    if (!*val) {
        *err = apr_psprintf(cmd->pool, "%s: empty %s", cmd->cmd->name, opt);
        return NULL;
    }
    path = ap_server_root_relative(cmd->pool, val);
    if (!path) {
        *err = apr_psprintf(cmd->pool, "%s: invalid path in %s",
                            cmd->cmd->name, opt);
    }
    return path;
}

int gb_remote_option(cmd_parms *cmd, gb_remote *rm, const char *opt,
                     const char **err)
{
    const char *eq = strchr(opt, '=');
    const char *key = apr_pstrndup(cmd->temp_pool, opt, eq - opt);
    const char *val = eq + 1;

    *err = NULL;
    if (!strcmp(key, "ca")) {
        rm->ca = gb_remote_file(cmd, opt, val, err);
    }
    else if (!strcmp(key, "cert")) {
        rm->cert = gb_remote_file(cmd, opt, val, err);
    }
    else if (!strcmp(key, "key")) {
        rm->key = gb_remote_file(cmd, opt, val, err);
    }
    else if (!strcmp(key, "servername")) {
        if (!*val || strpbrk(val, " \t\r\n/")) {
            *err = apr_psprintf(cmd->pool, "%s: invalid '%s': give the "
                                "DNS name (or IP address) the plugin's "
                                "certificate carries", cmd->cmd->name, opt);
        }
        rm->servername = apr_pstrdup(cmd->pool, val);
    }
    else if (!strcmp(key, "resolve")) {
        rm->resolve_set = 1;
        if (!strcasecmp(val, "off")) {
            rm->resolve = 0;
        }
        else if (ap_timeout_parameter_parse(val, &rm->resolve, "s")
                     != APR_SUCCESS
                 || rm->resolve < apr_time_from_sec(1)) {
            *err = apr_psprintf(cmd->pool, "%s: invalid '%s': give how "
                                "often to resolve the names again (at least "
                                "1s, e.g. resolve=30s), or resolve=off",
                                cmd->cmd->name, opt);
        }
    }
    else {
        return 0;
    }
    return 1;
}

int gb_remote_has_options(const gb_remote *rm)
{
    return rm->ca || rm->cert || rm->key || rm->servername
           || rm->resolve_set;
}

/* Whether host is an IP address rather than a name to resolve. */
static int gb_remote_is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}

/* Parses tcp://host:port into a. */
static const char *gb_remote_address(cmd_parms *cmd, const char *name,
                                     const char *arg, gb_remote_addr *a)
{
    const char *hp = arg + sizeof(GB_REMOTE_SCHEME) - 1;
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;

    if (apr_parse_addr_port(&host, &scope, &port, hp, cmd->pool)
            != APR_SUCCESS || !host || !*host || scope || port == 0
        || strchr(hp, '/')) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s': invalid address "
                            "'%s': write tcp://host:port (a name, an IPv4 "
                            "address or [an IPv6 address], and a port)",
                            cmd->cmd->name, name, arg);
    }
    a->text = apr_pstrdup(cmd->pool, hp);
    a->host = host;
    a->port = port;
    return NULL;
}

const char *gb_remote_finish(cmd_parms *cmd, const char *name,
                             gb_remote *rm, int argc, char *const argv[])
{
    const char *err = NULL;
    int i;

    rm->addrs = apr_array_make(cmd->pool, argc, sizeof(gb_remote_addr));
    for (i = 0; i < argc; i++) {
        if (!gb_remote_is_address(argv[i])) {
            return apr_psprintf(cmd->pool, "%s: plugin '%s': '%s' is not "
                                "an address; a remote plugin takes only "
                                "tcp://host:port addresses after its "
                                "options", cmd->cmd->name, name, argv[i]);
        }
        err = gb_remote_address(cmd, name, argv[i],
                                apr_array_push(rm->addrs));
        if (err) {
            return err;
        }
        rm->names |= !gb_remote_is_ip(APR_ARRAY_IDX(rm->addrs, i,
                                                    gb_remote_addr).host);
    }
    if (!rm->resolve_set) {
        rm->resolve = GB_REMOTE_DEFAULT_RESOLVE;
    }
    /* Plain TCP would let anyone on the network call the plugin, and
     * answer in its place: mutual TLS or nothing. */
    if (!rm->ca || !rm->cert || !rm->key) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s': a remote plugin "
                            "is reached over mutual TLS only; give ca= (the "
                            "CA of its certificate), cert= and key= (httpd's "
                            "client certificate and key)%s%s%s",
                            cmd->cmd->name, name,
                            rm->ca ? "" : "; ca= is missing",
                            rm->cert ? "" : "; cert= is missing",
                            rm->key ? "" : "; key= is missing");
    }
    rm->tls = gb_tls_ctx_make(cmd->pool, rm->ca, rm->cert, rm->key,
                              rm->servername, &err);
    if (!rm->tls) {
        return apr_psprintf(cmd->pool, "%s: plugin '%s': %s",
                            cmd->cmd->name, name, err);
    }
    return NULL;
}
