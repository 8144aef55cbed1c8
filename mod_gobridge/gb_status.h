/* gb_status.h: SetHandler gobridge-status, gobridge's mod_status.
 *
 * Shows, per declared plugin, what gobridged reports of its process (the
 * `status` file of the runtime directory, read at request time) and the
 * counters of calls shared by all children (gb_stats.h), plus the
 * connections of the child that answers. Forms: HTML (default), ?json,
 * ?auto (mod_status-like "Key: value" lines) and ?metrics (Prometheus
 * text exposition 0.0.4). Plugin arguments and socket paths are never
 * shown.
 */
#ifndef GB_STATUS_H
#define GB_STATUS_H

#include <httpd.h>

/* The handler name for SetHandler. */
#define GB_STATUS_HANDLER "gobridge-status"

/* The handler hook: DECLINED unless r->handler is gobridge-status. */
int gb_status_handler(request_rec *r);

#endif /* GB_STATUS_H */
