/* gb_filter.h: GoBridgeOutputFilter and GoBridgeInputFilter, one lock-step
 * Filter stream per filter instance (proto/gobridge/v1/filter.proto). */
#ifndef GB_FILTER_H
#define GB_FILTER_H

#include <httpd.h>

/* The filters' names, as SetOutputFilter would know them. Without a
 * GoBridge*Filter directive they pass everything through. */
#define GB_FILTER_OUTPUT "GOBRIDGE_OUTPUT"
#define GB_FILTER_INPUT  "GOBRIDGE_INPUT"

/* register_hooks: registers both filters. */
void gb_filter_register(apr_pool_t *p);

/* insert_filter hook: adds one filter instance per plugin named by
 * GoBridgeOutputFilter / GoBridgeInputFilter, in order. Sub-requests are
 * left alone: their output is part of the main response, which is
 * filtered as a whole. */
void gb_filter_insert(request_rec *r);

#endif /* GB_FILTER_H */
