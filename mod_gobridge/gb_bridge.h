/* gb_bridge.h: start and watch gobridged from httpd's parent.
 *
 * Like mod_cgid's daemon, gobridged is started in post_config and watched
 * as an APR "other child"; unlike it, gobridged lives in the process pool
 * and survives graceful restarts, which only rewrite its spec and SIGHUP
 * it (docs/architecture.md §1-3).
 */
#ifndef GB_BRIDGE_H
#define GB_BRIDGE_H

#include <httpd.h>

/* check_config: refuses plugins that would run as root. */
int gb_bridge_check(apr_pool_t *ptemp, server_rec *s);

/* post_config (parent): creates the runtime dir, writes the spec and
 * starts, reloads or stops gobridged. A no-op in the pre-config pass and
 * in configtest/dump modes. */
int gb_bridge_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                          server_rec *s);

/* monitor hook (parent): runs a respawn that a backoff postponed. */
int gb_bridge_monitor(apr_pool_t *p, server_rec *s);

#endif /* GB_BRIDGE_H */
