/* gb_mutate.h: validate a plugin's PhaseResponse and apply its table
 * mutations.
 *
 * Pure functions over APR tables (no request_rec), so they are unit tested
 * without httpd (test/test_module.c). The whole answer is checked before
 * anything is applied: a phase either takes all of a plugin's changes or
 * none of them.
 */
#ifndef GB_MUTATE_H
#define GB_MUTATE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "gb_pb.h"

/* The tables a Mutation may change, indexed by Mutation.Table. */
typedef struct gb_mutate_tables {
    apr_table_t *headers_in;
    apr_table_t *headers_out;
    apr_table_t *err_headers_out;
    apr_table_t *notes;
    apr_table_t *subprocess_env;
    apr_table_t *conn_notes;        /* c->notes; NULL: refused */
    apr_pool_t *conn_pool;          /* c->pool: conn_notes' keys and values */
} gb_mutate_tables;

/* Whether value (n bytes) is acceptable for field f. Every field refuses
 * NUL and other control characters; see the .c for each field's rule. */
int gb_mutate_valid_field(Gobridge__V1__FieldUpdate__Field f,
                          const unsigned char *v, apr_size_t n);

/* Whether b is a local URI an internal redirect may go to: "/path[?q]",
 * no control characters, spaces or fragment. */
int gb_mutate_valid_redirect(ProtobufCBinaryData b);

/* Table bits for gb_mutate_check_mutations: which tables a caller may
 * change. Phases may change all of them; the content handler and auth
 * providers notes and subprocess_env; output filters the response headers
 * too. */
#define GB_MUTATE_TABLE_BIT(t) (1u << (unsigned)(t))
#define GB_MUTATE_TABLES_ALL                                            \
    (GB_MUTATE_TABLE_BIT(GOBRIDGE__V1__MUTATION__TABLE__TABLE_HEADERS_IN)     \
     | GB_MUTATE_TABLE_BIT(GOBRIDGE__V1__MUTATION__TABLE__TABLE_HEADERS_OUT)  \
     | GB_MUTATE_TABLE_BIT(                                             \
           GOBRIDGE__V1__MUTATION__TABLE__TABLE_ERR_HEADERS_OUT)        \
     | GB_MUTATE_TABLE_BIT(GOBRIDGE__V1__MUTATION__TABLE__TABLE_NOTES)        \
     | GB_MUTATE_TABLE_BIT(                                             \
           GOBRIDGE__V1__MUTATION__TABLE__TABLE_SUBPROCESS_ENV)         \
     | GB_MUTATE_TABLE_BIT(GOBRIDGE__V1__MUTATION__TABLE__TABLE_CONN_NOTES))
#define GB_MUTATE_TABLES_NOTES_ENV                                      \
    (GB_MUTATE_TABLE_BIT(GOBRIDGE__V1__MUTATION__TABLE__TABLE_NOTES)          \
     | GB_MUTATE_TABLE_BIT(                                             \
           GOBRIDGE__V1__MUTATION__TABLE__TABLE_SUBPROCESS_ENV))
#define GB_MUTATE_TABLES_FILTER                                         \
    (GB_MUTATE_TABLES_NOTES_ENV                                         \
     | GB_MUTATE_TABLE_BIT(GOBRIDGE__V1__MUTATION__TABLE__TABLE_HEADERS_OUT)  \
     | GB_MUTATE_TABLE_BIT(                                             \
           GOBRIDGE__V1__MUTATION__TABLE__TABLE_ERR_HEADERS_OUT))

/* The one rule for every table change a plugin sends, whoever sends it (a
 * phase, the content handler, an auth provider, a filter): a table among
 * allowed (GB_MUTATE_TABLE_BIT of each), a known op, a key that is an HTTP
 * token and, unless the op is unset, a value without control characters
 * but HTAB. On a bad mutation returns APR_EINVAL with *why (allocated in p)
 * naming it; who is the caller's name in that message ("a handler"). */
apr_status_t gb_mutate_check_mutations(apr_pool_t *p, size_t n,
                                       Gobridge__V1__Mutation *const *muts,
                                       unsigned allowed, const char *who,
                                       const char **why);

/* Checks every part of m: the result and its status (300..599 with
 * RESULT_HTTP_STATUS), log levels, each mutation (known table and op,
 * header-token key, value without control characters but HTAB), each field
 * update, the reply (RESULT_DONE, status 200..599, content type) and the
 * redirect target. Unless before_response (the log phase), a reply, a
 * redirect and added filters are refused. On a bad answer returns
 * APR_EINVAL with *why (allocated in p) saying what. */
apr_status_t gb_mutate_check(apr_pool_t *p,
                             const Gobridge__V1__PhaseResponse *m,
                             int before_response, const char **why);

/* Applies m's mutations (already checked) in order, copying keys and values
 * into p (into t->conn_pool for t->conn_notes, which outlive the request;
 * conn-notes mutations are skipped when t->conn_notes is NULL). Hop-by-hop fields and Content-Length set in headers_out or
 * err_headers_out are skipped and their names pushed onto dropped (const
 * char *), as for the content handler's head. */
void gb_mutate_apply_tables(apr_pool_t *p,
                            const Gobridge__V1__PhaseResponse *m,
                            const gb_mutate_tables *t,
                            apr_array_header_t *dropped);

#endif /* GB_MUTATE_H */
