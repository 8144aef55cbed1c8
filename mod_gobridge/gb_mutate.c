/* gb_mutate.c: what a phase plugin may change, and how it is checked. */
#include "gb_mutate.h"
#include "gb_response.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>
#include <strings.h>

/* No CTL at all (not even HTAB) and no DEL. */
static int gb_no_ctl(const unsigned char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* No CTL, DEL or space. */
static int gb_no_ctl_space(const unsigned char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static apr_size_t gb_token_len(const unsigned char *s, apr_size_t n)
{
    apr_size_t i = 0;

    while (i < n && gb_response_valid_name(s + i, 1)) {
        i++;
    }
    return i;
}

/* "type/subtype" then nothing, or ';' and parameters that are a valid
 * header value. */
static int gb_valid_content_type(const unsigned char *s, apr_size_t n)
{
    apr_size_t i = gb_token_len(s, n);

    if (i == 0 || i >= n || s[i] != '/') {
        return 0;
    }
    s += i + 1;
    n -= i + 1;
    i = gb_token_len(s, n);
    if (i == 0) {
        return 0;
    }
    if (i == n) {
        return 1;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    return i < n && s[i] == ';'
           && gb_response_valid_value(s + i, n - i);
}

/* Comma-separated method tokens ("GET,POST,PROPFIND"), spaces after
 * commas allowed. */
static int gb_valid_methods(const unsigned char *s, apr_size_t n)
{
    apr_size_t i = 0, tok = 0;

    for (; i < n; i++) {
        if (s[i] == ',' && tok > 0) {
            tok = 0;
            while (i + 1 < n && s[i + 1] == ' ') {
                i++;
            }
        }
        else if (gb_response_valid_name(s + i, 1)) {
            tok++;
        }
        else {
            return 0;
        }
    }
    return tok > 0;
}

/* Decimal microseconds since the epoch: 1 to 18 digits, no sign. */
static int gb_valid_usec(const unsigned char *s, apr_size_t n)
{
    apr_size_t i;

    if (n == 0 || n > 18) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Comma-separated language tags ([A-Za-z0-9-]+), spaces after commas. */
static int gb_valid_languages(const unsigned char *s, apr_size_t n)
{
    apr_size_t i = 0, tag = 0;

    for (; i < n; i++) {
        if (apr_isalnum(s[i]) || s[i] == '-') {
            tag++;
        }
        else if (s[i] == ',' && tag > 0) {
            tag = 0;
            while (i + 1 < n && s[i + 1] == ' ') {
                i++;
            }
        }
        else {
            return 0;
        }
    }
    return tag > 0;
}

/* A GoBridgePlugin name as the directive accepts it (whether one is
 * declared is checked against the configuration when it is applied). */
static int gb_valid_plugin_name(const unsigned char *v, apr_size_t n)
{
    apr_size_t i;

    if (n < 1 || n > 64) {          /* GB_CONFIG_PLUGIN_NAME_MAX */
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!apr_isalnum(v[i]) && v[i] != '_' && v[i] != '.' && v[i] != '-') {
            return 0;
        }
    }
    return 1;
}

int gb_mutate_valid_field(Gobridge__V1__FieldUpdate__Field f,
                          const unsigned char *v, apr_size_t n)
{
    switch (f) {
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_FILENAME:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_CANONICAL_FILENAME:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_URI:
        return n > 0 && v[0] == '/' && gb_no_ctl(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_PATH_INFO:
        return n == 0 || (v[0] == '/' && gb_no_ctl(v, n));
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ARGS:
        return gb_no_ctl_space(v, n) && !memchr(v, '#', n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_HANDLER:
        return gb_no_ctl_space(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_CONTENT_TYPE:
        return gb_valid_content_type(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_CONTENT_ENCODING:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_AUTH_TYPE:
        return n == 0 || gb_response_valid_name(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_CONTENT_LANGUAGES:
        return n == 0 || gb_valid_languages(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_USER:
        return gb_no_ctl(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_STATUS_LINE:
        if (n == 0) {
            return 1;
        }
        return n >= 5 && v[0] >= '1' && v[0] <= '5' && apr_isdigit(v[1])
               && apr_isdigit(v[2]) && v[3] == ' ' && gb_no_ctl(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_NO_CACHE:
        return n == 1 && (v[0] == '0' || v[0] == '1');
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ALLOWED_METHODS:
        return n == 0 || gb_valid_methods(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_MTIME:
        return gb_valid_usec(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_GOBRIDGE_HANDLER:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_GOBRIDGE_OUTPUT_FILTER:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_GOBRIDGE_INPUT_FILTER:
        return gb_valid_plugin_name(v, n);
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_OUTPUT_FILTER:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_INPUT_FILTER:
        /* A registered filter's name; whether one is, at apply time. */
        return gb_response_valid_name(v, n);
    default:
        return 0;
    }
}

int gb_mutate_valid_redirect(ProtobufCBinaryData b)
{
    return b.len > 0 && b.data[0] == '/' && gb_no_ctl_space(b.data, b.len)
           && !memchr(b.data, '#', b.len);
}

static int gb_known_level(Gobridge__V1__LogRecord__Level l)
{
    int level;
    return gb_response_log_level(l, &level);
}

/* The fields that only make sense before the response is made. */
static int gb_field_before_response(Gobridge__V1__FieldUpdate__Field f)
{
    switch (f) {
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_OUTPUT_FILTER:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_INPUT_FILTER:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_GOBRIDGE_OUTPUT_FILTER:
    case GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_ADD_GOBRIDGE_INPUT_FILTER:
        return 1;
    default:
        return 0;
    }
}

static apr_status_t gb_reply_check(apr_pool_t *p,
                                   const Gobridge__V1__PhaseResponse *m,
                                   const char **why)
{
    const Gobridge__V1__PhaseReply *rep = m->reply;

    if (m->result != GOBRIDGE__V1__RESULT__RESULT_DONE) {
        *why = "a reply comes only with RESULT_DONE";
        return APR_EINVAL;
    }
    if (rep->status < 200 || rep->status > 599) {
        *why = apr_psprintf(p, "reply status %d is outside 200..599",
                            (int)rep->status);
        return APR_EINVAL;
    }
    if (rep->content_type.len
        && !gb_valid_content_type(rep->content_type.data,
                                  rep->content_type.len)) {
        *why = "reply content type is not type/subtype[; params]";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t gb_mutate_check_mutations(apr_pool_t *p, size_t n,
                                       Gobridge__V1__Mutation *const *muts,
                                       unsigned allowed, const char *who,
                                       const char **why)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const Gobridge__V1__Mutation *mu = muts[i];

        if (mu->table < GOBRIDGE__V1__MUTATION__TABLE__TABLE_HEADERS_IN
            || mu->table > GOBRIDGE__V1__MUTATION__TABLE__TABLE_CONN_NOTES) {
            *why = apr_psprintf(p, "mutation #%lu has unknown table %d",
                                (unsigned long)i, (int)mu->table);
            return APR_EINVAL;
        }
        if (!(allowed & GB_MUTATE_TABLE_BIT(mu->table))) {
            *why = apr_psprintf(p, "mutation #%lu of table %d: %s may not "
                                "change that table", (unsigned long)i,
                                (int)mu->table, who);
            return APR_EINVAL;
        }
        if (mu->op < GOBRIDGE__V1__MUTATION__OP__OP_SET
            || mu->op > GOBRIDGE__V1__MUTATION__OP__OP_UNSET) {
            *why = apr_psprintf(p, "mutation #%lu has unknown op %d",
                                (unsigned long)i, (int)mu->op);
            return APR_EINVAL;
        }
        if (!gb_response_valid_name(mu->key.data, mu->key.len)) {
            *why = apr_psprintf(p, "mutation #%lu: key is not an HTTP "
                                "token", (unsigned long)i);
            return APR_EINVAL;
        }
        if (mu->op != GOBRIDGE__V1__MUTATION__OP__OP_UNSET
            && !gb_response_valid_value(mu->value.data, mu->value.len)) {
            *why = apr_psprintf(p, "mutation #%lu ('%s') has a control "
                                "character in its value", (unsigned long)i,
                                gb_pb_strdup(p, mu->key));
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

apr_status_t gb_mutate_check(apr_pool_t *p,
                             const Gobridge__V1__PhaseResponse *m,
                             int before_response, const char **why)
{
    size_t i;

    switch (m->result) {
    case GOBRIDGE__V1__RESULT__RESULT_OK:
    case GOBRIDGE__V1__RESULT__RESULT_DECLINED:
    case GOBRIDGE__V1__RESULT__RESULT_DONE:
        break;
    case GOBRIDGE__V1__RESULT__RESULT_HTTP_STATUS:
        if (m->http_status < 300 || m->http_status > 599) {
            *why = apr_psprintf(p, "http_status %d is outside 300..599",
                                (int)m->http_status);
            return APR_EINVAL;
        }
        break;
    default:
        *why = apr_psprintf(p, "result %d is not a known Result",
                            (int)m->result);
        return APR_EINVAL;
    }
    for (i = 0; i < m->n_logs; i++) {
        if (!gb_known_level(m->logs[i]->level)) {
            *why = apr_psprintf(p, "log record #%lu has unknown level %d",
                                (unsigned long)i, (int)m->logs[i]->level);
            return APR_EINVAL;
        }
    }
    if (gb_mutate_check_mutations(p, m->n_mutations, m->mutations,
                                  GB_MUTATE_TABLES_ALL, "a phase", why)
        != APR_SUCCESS) {
        return APR_EINVAL;
    }
    for (i = 0; i < m->n_fields; i++) {
        const Gobridge__V1__FieldUpdate *f = m->fields[i];

        if (!gb_mutate_valid_field(f->field, f->value.data, f->value.len)) {
            *why = apr_psprintf(p, "field update #%lu (field %d) has an "
                                "invalid value or an unknown field",
                                (unsigned long)i, (int)f->field);
            return APR_EINVAL;
        }
        if (!before_response && gb_field_before_response(f->field)) {
            *why = apr_psprintf(p, "field update #%lu (field %d) is not "
                                "allowed once the response is made",
                                (unsigned long)i, (int)f->field);
            return APR_EINVAL;
        }
    }
    if (m->reply) {
        if (!before_response) {
            *why = "a reply is not allowed once the response is made";
            return APR_EINVAL;
        }
        if (gb_reply_check(p, m, why) != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    if (m->internal_redirect.len) {
        if (!before_response) {
            *why = "internal_redirect is not allowed in this phase";
            return APR_EINVAL;
        }
        if (!gb_mutate_valid_redirect(m->internal_redirect)) {
            *why = "internal_redirect is not a local URI starting with '/'";
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

void gb_mutate_apply_tables(apr_pool_t *p,
                            const Gobridge__V1__PhaseResponse *m,
                            const gb_mutate_tables *t,
                            apr_array_header_t *dropped)
{
    size_t i;

    for (i = 0; i < m->n_mutations; i++) {
        const Gobridge__V1__Mutation *mu = m->mutations[i];
        apr_pool_t *vp = p;
        const char *k;
        apr_table_t *tab;
        int response = 0;

        switch (mu->table) {
        case GOBRIDGE__V1__MUTATION__TABLE__TABLE_HEADERS_IN:
            tab = t->headers_in; break;
        case GOBRIDGE__V1__MUTATION__TABLE__TABLE_HEADERS_OUT:
            tab = t->headers_out; response = 1; break;
        case GOBRIDGE__V1__MUTATION__TABLE__TABLE_ERR_HEADERS_OUT:
            tab = t->err_headers_out; response = 1; break;
        case GOBRIDGE__V1__MUTATION__TABLE__TABLE_NOTES:
            tab = t->notes; break;
        case GOBRIDGE__V1__MUTATION__TABLE__TABLE_SUBPROCESS_ENV:
            tab = t->subprocess_env; break;
        case GOBRIDGE__V1__MUTATION__TABLE__TABLE_CONN_NOTES:
            if (!t->conn_notes || !t->conn_pool) {
                continue;
            }
            tab = t->conn_notes;
            vp = t->conn_pool;
            break;
        default:
            continue;   /* refused by gb_mutate_check */
        }
        k = gb_pb_strdup(vp, mu->key);
        if (response && mu->op != GOBRIDGE__V1__MUTATION__OP__OP_UNSET
            && (gb_response_is_hop_by_hop(k)
                || !strcasecmp(k, "Content-Length"))) {
            APR_ARRAY_PUSH(dropped, const char *) = k;
            continue;
        }
        switch (mu->op) {
        case GOBRIDGE__V1__MUTATION__OP__OP_SET:
            apr_table_setn(tab, k, gb_pb_strdup(vp, mu->value));
            break;
        case GOBRIDGE__V1__MUTATION__OP__OP_ADD:
            apr_table_addn(tab, k, gb_pb_strdup(vp, mu->value));
            break;
        default:
            apr_table_unset(tab, k);
            break;
        }
    }
}
