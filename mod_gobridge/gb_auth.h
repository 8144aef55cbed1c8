/* gb_auth.h: Apache 2.4 auth providers served by Go plugins.
 *
 * - authn provider "gobridge": `AuthBasicProvider gobridge` (check_password)
 *   and `AuthDigestProvider gobridge` (get_realm_hash), answered by the
 *   plugin that `GoBridgeAuthnProvider <plugin>` names for the directory
 *   (or for an <AuthnProviderAlias gobridge name> section);
 * - authz provider "gobridge": `Require gobridge <plugin> [args...]`, the
 *   arguments parsed once per Require line and kept with that line.
 *
 * Both call the plugin's gobridge.v1.GoBridgeAuth service (auth.proto) in
 * one unary round trip and fail closed: a plugin that is down, slow or
 * answers anything unexpected yields AUTH_GENERAL_ERROR /
 * AUTHZ_GENERAL_ERROR (500), never a grant. Passwords are never logged.
 */
#ifndef GB_AUTH_H
#define GB_AUTH_H

#include <apr_pools.h>
#include <http_config.h>

/* Registers both providers and the mod_authn_socache hook-up. Call from
 * register_hooks. */
void gb_auth_register(apr_pool_t *p);

/* GoBridgeAuthnProvider plugin|None (per directory). */
const char *gb_auth_cmd_authn_provider(cmd_parms *cmd, void *dc,
                                       const char *a);

/* GoBridgeAuthnCacheHash apr1|sha1 (per directory). */
const char *gb_auth_cmd_cache_hash(cmd_parms *cmd, void *dc, const char *a);

#endif /* GB_AUTH_H */
