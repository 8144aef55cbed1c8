/* gb_resolve.h: a remote plugin's endpoints, from its addresses' names.
 *
 * Every IP address each tcp://host:port resolves to is an endpoint (an
 * instance of the plugin). They are resolved when the configuration is
 * loaded (post_config: start and every restart). Then each child resolves
 * the names again by itself, on the request path of the one call that
 * finds them due (the others go on with the endpoints they have):
 *
 *   - every resolve= interval (GoBridgePlugin option, 30 s by default;
 *     resolve=off never), so new instances of a headless Service get
 *     calls and gone ones are dropped;
 *   - at once (at most once a second) when a call found every endpoint
 *     down, so that a plugin whose every instance was replaced is found
 *     again by the call that noticed it.
 *
 * An endpoint keeps its idle connections across resolutions while its
 * address stays; one whose address is gone has them closed. A lookup that
 * fails keeps the endpoints there are. Addresses that are IP literals are
 * never resolved again.
 */
#ifndef GB_RESOLVE_H
#define GB_RESOLVE_H

#include <apr_pools.h>
#include <httpd.h>

#include "gb_config.h"

struct gb_endpoint;

/* post_config: resolves pl's addresses into pl->endpoints (pconf). */
void gb_resolve_post_config(apr_pool_t *pconf, server_rec *s, gb_plugin *pl);

/* child_init: this child's resolution state for every remote plugin. */
apr_status_t gb_resolve_child_init(apr_pool_t *pchild, server_rec *s);

/* pl's endpoints now, resolving the names again first if they are due
 * (r labels log lines; NULL: never resolve, just look). For a plugin that
 * is not remote, its processes' endpoints. */
struct gb_endpoint **gb_resolve_endpoints(request_rec *r,
                                          const gb_plugin *pl, int *n);

/* A call found every endpoint of remote plugin pl down: resolves its
 * names again now unless that was done less than a second ago. Returns
 * whether the endpoints changed (then worth trying). */
int gb_resolve_all_down(request_rec *r, const gb_plugin *pl);

/* For child_init and the C tests: pl's resolution state in this child,
 * in pchild, starting from pl->endpoints. */
apr_status_t gb_resolve_live_init(apr_pool_t *pchild, gb_plugin *pl);

/* Resolves remote plugin pl's names again now (tests). Returns whether
 * its endpoints changed. */
int gb_resolve_now(request_rec *r, const gb_plugin *pl);

#endif /* GB_RESOLVE_H */
