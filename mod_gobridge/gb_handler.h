/* gb_handler.h: the content handler (GoBridgeHandler), one Handle stream
 * per request (docs/architecture.md §5). */
#ifndef GB_HANDLER_H
#define GB_HANDLER_H

#include <httpd.h>

/* fixups hook: where GoBridgeHandler names a plugin, r->handler becomes
 * GB_HANDLER_NAME ("gobridge"); this wins over SetHandler/AddHandler in
 * the same scope. `GoBridgeHandler None` hands a sub-location back. */
int gb_handler_fixups(request_rec *r);

/* handler hook: serves r->handler == "gobridge" through the plugin named
 * by GoBridgeHandler. */
int gb_handler_handle(request_rec *r);

#endif /* GB_HANDLER_H */
