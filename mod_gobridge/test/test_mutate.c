/* test_mutate.c: unit tests of gb_mutate (what a phase plugin may change),
 * without httpd. TAP output; failure messages read "F(x) = got; want w". */
#include "gb_mutate.h"
#include "gb_response.h"

#include <apr_general.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define CHECK(cond, ...) do {                                           \
        ++tap_n;                                                        \
        if (cond) {                                                     \
            printf("ok %d\n", tap_n);                                   \
        }                                                               \
        else {                                                          \
            ++tap_failed;                                               \
            printf("not ok %d - %s:%d: ", tap_n, __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                                        \
            printf("\n");                                               \
        }                                                               \
    } while (0)

#define F(x) GOBRIDGE__V1__FIELD_UPDATE__FIELD__FIELD_##x

static void test_fields(void)
{
    static const struct {
        Gobridge__V1__FieldUpdate__Field f;
        const char *v;
        int want;
    } cases[] = {
        {F(FILENAME), "/srv/www/x.html", 1}, {F(FILENAME), "x.html", 0},
        {F(FILENAME), "", 0}, {F(FILENAME), "/a\nb", 0},
        {F(CANONICAL_FILENAME), "/a", 1}, {F(CANONICAL_FILENAME), "a", 0},
        {F(URI), "/a b", 1}, {F(URI), "a", 0}, {F(URI), "/a\r", 0},
        {F(PATH_INFO), "", 1}, {F(PATH_INFO), "/x", 1}, {F(PATH_INFO), "x", 0},
        {F(ARGS), "a=1&b=%20", 1}, {F(ARGS), "", 1}, {F(ARGS), "a b", 0},
        {F(ARGS), "a#b", 0},
        {F(HANDLER), "default-handler", 1}, {F(HANDLER), "", 1},
        {F(HANDLER), "a b", 0},
        {F(CONTENT_TYPE), "text/html", 1},
        {F(CONTENT_TYPE), "text/html; charset=utf-8", 1},
        {F(CONTENT_TYPE), "text/html ;q=1", 1},
        {F(CONTENT_TYPE), "text", 0}, {F(CONTENT_TYPE), "/html", 0},
        {F(CONTENT_TYPE), "text/", 0}, {F(CONTENT_TYPE), "", 0},
        {F(CONTENT_TYPE), "text/html\r\nX: y", 0},
        {F(CONTENT_TYPE), "text/html junk", 0},
        {F(CONTENT_ENCODING), "gzip", 1}, {F(CONTENT_ENCODING), "", 1},
        {F(CONTENT_ENCODING), "gz ip", 0},
        {F(CONTENT_LANGUAGES), "en", 1}, {F(CONTENT_LANGUAGES), "en,pt-BR", 1},
        {F(CONTENT_LANGUAGES), "en, fr", 1}, {F(CONTENT_LANGUAGES), "", 1},
        {F(CONTENT_LANGUAGES), ",en", 0}, {F(CONTENT_LANGUAGES), "en,", 0},
        {F(CONTENT_LANGUAGES), "e n", 0},
        {F(USER), "ann", 1}, {F(USER), "ann smith", 1}, {F(USER), "", 1},
        {F(USER), "a\nb", 0},
        {F(AUTH_TYPE), "Basic", 1}, {F(AUTH_TYPE), "", 1},
        {F(AUTH_TYPE), "Bad Type", 0},
        {F(STATUS_LINE), "404 Not Here", 1}, {F(STATUS_LINE), "", 1},
        {F(STATUS_LINE), "99 x", 0}, {F(STATUS_LINE), "600 x", 0},
        {F(STATUS_LINE), "404", 0}, {F(STATUS_LINE), "404 a\r\n", 0},
        {F(NO_CACHE), "1", 1}, {F(NO_CACHE), "0", 1}, {F(NO_CACHE), "", 0},
        {F(NO_CACHE), "yes", 0},
        {F(ALLOWED_METHODS), "GET,POST", 1}, {F(ALLOWED_METHODS), "", 1},
        {F(ALLOWED_METHODS), "GET, PROPFIND, X-CUSTOM", 1},
        {F(ALLOWED_METHODS), "GET,", 0}, {F(ALLOWED_METHODS), ",GET", 0},
        {F(ALLOWED_METHODS), "GE T", 0}, {F(ALLOWED_METHODS), "GET\r\n", 0},
        {F(MTIME), "1700000000000000", 1}, {F(MTIME), "", 0},
        {F(MTIME), "-1", 0}, {F(MTIME), "17e9", 0},
        {F(MTIME), "1234567890123456789", 0},
        {F(ADD_OUTPUT_FILTER), "DEFLATE", 1}, {F(ADD_INPUT_FILTER), "", 0},
        {F(ADD_OUTPUT_FILTER), "DE FLATE", 0},
        {F(ADD_GOBRIDGE_OUTPUT_FILTER), "gzip.0", 1},
        {F(ADD_GOBRIDGE_INPUT_FILTER), "a/b", 0},
        {F(UNSPECIFIED), "x", 0}, {(Gobridge__V1__FieldUpdate__Field)99, "x", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = gb_mutate_valid_field(cases[i].f,
                                        (const unsigned char *)cases[i].v,
                                        strlen(cases[i].v));
        CHECK(got == cases[i].want, "valid_field(%d, %s) = %d; want %d",
              (int)cases[i].f, cases[i].v, got, cases[i].want);
    }
    /* NUL refused in every field, even where anything else goes. */
    CHECK(!gb_mutate_valid_field(F(USER), (const unsigned char *)"a\0b", 3),
          "valid_field(USER, a\\0b) = 1; want 0");
    CHECK(!gb_mutate_valid_field(F(FILENAME), (const unsigned char *)"/a\0b",
                                 4), "valid_field(FILENAME, /a\\0b) = 1; want 0");
}

static Gobridge__V1__Mutation *mut(apr_pool_t *p, int table, int op,
                                   const char *k, const char *v)
{
    Gobridge__V1__Mutation *m = apr_palloc(p, sizeof(*m));
    gobridge__v1__mutation__init(m);
    m->table = table;
    m->op = op;
    m->key = gb_pb_bytes(k);
    m->value = gb_pb_bytes(v);
    return m;
}

#define T(x) GOBRIDGE__V1__MUTATION__TABLE__TABLE_##x
#define OP(x) GOBRIDGE__V1__MUTATION__OP__OP_##x
#define R(x) GOBRIDGE__V1__RESULT__RESULT_##x

static void test_check(apr_pool_t *p)
{
    static const struct {
        int result, status, table, op;
        const char *k, *v, *redirect;
        int allow_redirect, ok;
    } cases[] = {
        {R(OK), 0, T(NOTES), OP(SET), "k", "v", "", 1, 1},
        {R(DECLINED), 0, T(HEADERS_OUT), OP(ADD), "X-A", "a\tb", "", 1, 1},
        {R(DONE), 0, T(HEADERS_IN), OP(UNSET), "Cookie", "\r\n", "", 1, 1},
        {R(HTTP_STATUS), 403, T(NOTES), OP(SET), "k", "v", "", 1, 1},
        {R(HTTP_STATUS), 302, T(ERR_HEADERS_OUT), OP(SET), "Location",
         "/x", "", 1, 1},
        {R(HTTP_STATUS), 200, T(NOTES), OP(SET), "k", "v", "", 1, 0},
        {R(HTTP_STATUS), 600, T(NOTES), OP(SET), "k", "v", "", 1, 0},
        {R(UNSPECIFIED), 0, T(NOTES), OP(SET), "k", "v", "", 1, 0},
        {99, 0, T(NOTES), OP(SET), "k", "v", "", 1, 0},
        {R(OK), 0, T(UNSPECIFIED), OP(SET), "k", "v", "", 1, 0},
        {R(OK), 0, T(CONN_NOTES), OP(SET), "k", "v", "", 1, 1},
        {R(OK), 0, 7, OP(SET), "k", "v", "", 1, 0},
        {R(OK), 0, T(NOTES), OP(UNSPECIFIED), "k", "v", "", 1, 0},
        {R(OK), 0, T(NOTES), 4, "k", "v", "", 1, 0},
        {R(OK), 0, T(HEADERS_OUT), OP(SET), "Bad Name", "v", "", 1, 0},
        {R(OK), 0, T(HEADERS_OUT), OP(SET), "", "v", "", 1, 0},
        {R(OK), 0, T(HEADERS_OUT), OP(SET), "X", "a\r\nInjected: 1", "", 1,
         0},
        {R(OK), 0, T(SUBPROCESS_ENV), OP(ADD), "E", "a\nb", "", 1, 0},
        {R(OK), 0, T(NOTES), OP(SET), "k", "v", "/next?x=1", 1, 1},
        {R(OK), 0, T(NOTES), OP(SET), "k", "v", "/next", 0, 0},
        {R(OK), 0, T(NOTES), OP(SET), "k", "v", "http://x/", 1, 0},
        {R(OK), 0, T(NOTES), OP(SET), "k", "v", "/a b", 1, 0},
        {R(OK), 0, T(NOTES), OP(SET), "k", "v", "/a#b", 1, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Gobridge__V1__PhaseResponse m = GOBRIDGE__V1__PHASE_RESPONSE__INIT;
        Gobridge__V1__Mutation *mu = mut(p, cases[i].table, cases[i].op,
                                         cases[i].k, cases[i].v);
        const char *why = NULL;
        int ok;

        m.result = cases[i].result;
        m.http_status = cases[i].status;
        m.n_mutations = 1;
        m.mutations = &mu;
        m.internal_redirect = gb_pb_bytes(cases[i].redirect);
        ok = gb_mutate_check(p, &m, cases[i].allow_redirect, &why)
             == APR_SUCCESS;
        CHECK(ok == cases[i].ok && (ok || why), "check(#%lu) = %d (%s); "
              "want %d", (unsigned long)i, ok, why ? why : "", cases[i].ok);
    }
}

/* One rule for every caller: an auth provider's, a handler's or a filter's
 * change is refused exactly when a phase's change of the same table would
 * be (the auth providers used to accept any key and control characters but
 * NUL, CR and LF in values); only the tables each may change differ. */
static void test_check_mutations_shared(apr_pool_t *p)
{
    static const struct {
        int table, op;
        const char *k, *v;
        int ok;
    } cases[] = {
        {T(NOTES), OP(SET), "k", "v", 1},
        {T(SUBPROCESS_ENV), OP(ADD), "REMOTE_GROUP", "a\tb", 1},
        {T(NOTES), OP(UNSET), "k", "\x01", 1},
        {T(NOTES), OP(SET), "bad key", "v", 0},
        {T(NOTES), OP(SET), "k:", "v", 0},
        {T(NOTES), OP(SET), "", "v", 0},
        {T(NOTES), OP(SET), "k", "a\x01b", 0},
        {T(NOTES), OP(SET), "k", "a\x7f", 0},
        {T(SUBPROCESS_ENV), OP(SET), "E", "a\r\nb", 0},
        {T(NOTES), 4, "k", "v", 0},
    };
    static const struct {
        unsigned allowed;
        const char *who;
    } callers[] = {
        {GB_MUTATE_TABLES_ALL, "a phase"},
        {GB_MUTATE_TABLES_NOTES_ENV, "an auth provider"},
        {GB_MUTATE_TABLES_NOTES_ENV, "a handler"},
        {GB_MUTATE_TABLES_FILTER, "a filter"},
    };
    size_t i, c;

    for (c = 0; c < sizeof(callers) / sizeof(callers[0]); c++) {
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            Gobridge__V1__Mutation *mu = mut(p, cases[i].table, cases[i].op,
                                             cases[i].k, cases[i].v);
            const char *why = NULL;
            int ok = gb_mutate_check_mutations(p, 1, &mu, callers[c].allowed,
                                               callers[c].who, &why)
                     == APR_SUCCESS;

            CHECK(ok == cases[i].ok && (ok || why),
                  "check_mutations(%s, #%lu) = %d (%s); want %d",
                  callers[c].who, (unsigned long)i, ok, why ? why : "",
                  cases[i].ok);
        }
    }
    /* The tables: what each caller may change, and what it may not. */
    {
        static const struct {
            unsigned allowed;
            int table, ok;
        } tables[] = {
            {GB_MUTATE_TABLES_NOTES_ENV, T(NOTES), 1},
            {GB_MUTATE_TABLES_NOTES_ENV, T(SUBPROCESS_ENV), 1},
            {GB_MUTATE_TABLES_NOTES_ENV, T(HEADERS_OUT), 0},
            {GB_MUTATE_TABLES_NOTES_ENV, T(HEADERS_IN), 0},
            {GB_MUTATE_TABLES_NOTES_ENV, T(CONN_NOTES), 0},
            {GB_MUTATE_TABLES_FILTER, T(HEADERS_OUT), 1},
            {GB_MUTATE_TABLES_FILTER, T(ERR_HEADERS_OUT), 1},
            {GB_MUTATE_TABLES_FILTER, T(HEADERS_IN), 0},
            {GB_MUTATE_TABLES_ALL, T(CONN_NOTES), 1},
            {GB_MUTATE_TABLES_ALL, T(HEADERS_IN), 1},
            {GB_MUTATE_TABLES_ALL, 0, 0},
            {GB_MUTATE_TABLES_ALL, 7, 0},
            {~0u, 31, 0},
        };

        for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
            Gobridge__V1__Mutation *mu = mut(p, tables[i].table, OP(SET),
                                             "k", "v");
            const char *why = NULL;
            int ok = gb_mutate_check_mutations(p, 1, &mu, tables[i].allowed,
                                               "x", &why) == APR_SUCCESS;

            CHECK(ok == tables[i].ok, "check_mutations(table %d, mask %#x) "
                  "= %d (%s); want %d", tables[i].table, tables[i].allowed,
                  ok, why ? why : "", tables[i].ok);
        }
    }
}

static void test_check_fields_and_logs(apr_pool_t *p)
{
    Gobridge__V1__PhaseResponse m = GOBRIDGE__V1__PHASE_RESPONSE__INIT;
    Gobridge__V1__FieldUpdate f = GOBRIDGE__V1__FIELD_UPDATE__INIT, *fp = &f;
    Gobridge__V1__LogRecord l = GOBRIDGE__V1__LOG_RECORD__INIT, *lp = &l;
    const char *why;

    m.result = R(OK);
    m.n_fields = 1;
    m.fields = &fp;
    f.field = F(FILENAME);
    f.value = gb_pb_bytes("/ok");
    CHECK(gb_mutate_check(p, &m, 1, &why) == APR_SUCCESS,
          "check(filename /ok) failed");
    f.value = gb_pb_bytes("relative");
    CHECK(gb_mutate_check(p, &m, 1, &why) == APR_EINVAL,
          "check(filename relative) = success; want EINVAL");
    f.value = gb_pb_bytes("/ok");
    m.n_logs = 1;
    m.logs = &lp;
    l.level = GOBRIDGE__V1__LOG_RECORD__LEVEL__LEVEL_WARNING;
    CHECK(gb_mutate_check(p, &m, 1, &why) == APR_SUCCESS,
          "check(log warning) failed");
    l.level = 42;
    CHECK(gb_mutate_check(p, &m, 1, &why) == APR_EINVAL,
          "check(log level 42) = success; want EINVAL");
}

/* PhaseResponse.reply and added filters: only before the response, a
 * reply only with DONE, 200..599 and a valid content type. */
static void test_check_reply(apr_pool_t *p)
{
    static const struct {
        int result, status;
        const char *ctype;
        int before_response, ok;
    } cases[] = {
        {R(DONE), 403, "application/json", 1, 1},
        {R(DONE), 200, "", 1, 1},
        {R(DONE), 599, "text/html; charset=utf-8", 1, 1},
        {R(DONE), 403, "text/plain", 0, 0},         /* the log phase */
        {R(OK), 403, "text/plain", 1, 0},
        {R(HTTP_STATUS), 403, "text/plain", 1, 0},
        {R(DONE), 199, "text/plain", 1, 0},
        {R(DONE), 600, "text/plain", 1, 0},
        {R(DONE), 403, "no type", 1, 0},
        {R(DONE), 403, "text/plain\r\nX: 1", 1, 0},
    };
    Gobridge__V1__FieldUpdate f = GOBRIDGE__V1__FIELD_UPDATE__INIT, *fp = &f;
    Gobridge__V1__PhaseResponse fm = GOBRIDGE__V1__PHASE_RESPONSE__INIT;
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Gobridge__V1__PhaseResponse m = GOBRIDGE__V1__PHASE_RESPONSE__INIT;
        Gobridge__V1__PhaseReply rep = GOBRIDGE__V1__PHASE_REPLY__INIT;
        int ok;

        why = NULL;
        m.result = cases[i].result;
        m.http_status = cases[i].status;
        rep.status = cases[i].status;
        rep.content_type = gb_pb_bytes(cases[i].ctype);
        rep.body = gb_pb_bytes("body");
        m.reply = &rep;
        ok = gb_mutate_check(p, &m, cases[i].before_response, &why)
             == APR_SUCCESS;
        CHECK(ok == cases[i].ok && (ok || why), "check_reply(#%lu) = %d "
              "(%s); want %d", (unsigned long)i, ok, why ? why : "",
              cases[i].ok);
    }
    fm.result = R(OK);
    fm.n_fields = 1;
    fm.fields = &fp;
    f.field = F(ADD_GOBRIDGE_OUTPUT_FILTER);
    f.value = gb_pb_bytes("gzip");
    CHECK(gb_mutate_check(p, &fm, 1, &why) == APR_SUCCESS,
          "check(add filter) failed");
    CHECK(gb_mutate_check(p, &fm, 0, &why) == APR_EINVAL,
          "check(add filter in the log phase) = success; want EINVAL");
}

static void test_apply(apr_pool_t *p)
{
    Gobridge__V1__PhaseResponse m = GOBRIDGE__V1__PHASE_RESPONSE__INIT;
    Gobridge__V1__Mutation *mus[10];
    gb_mutate_tables t;
    apr_pool_t *cp;
    apr_array_header_t *dropped = apr_array_make(p, 1, sizeof(char *));
    const apr_array_header_t *arr;

    t.headers_in = apr_table_make(p, 2);
    t.headers_out = apr_table_make(p, 2);
    t.err_headers_out = apr_table_make(p, 2);
    t.notes = apr_table_make(p, 2);
    t.subprocess_env = apr_table_make(p, 2);
    apr_pool_create(&cp, p);
    t.conn_pool = cp;
    t.conn_notes = apr_table_make(cp, 2);
    apr_table_set(t.headers_in, "Cookie", "secret");
    apr_table_set(t.notes, "n", "old");

    mus[0] = mut(p, T(HEADERS_IN), OP(UNSET), "cookie", "");
    mus[1] = mut(p, T(HEADERS_OUT), OP(ADD), "X-M", "a");
    mus[2] = mut(p, T(HEADERS_OUT), OP(ADD), "X-M", "b");
    mus[3] = mut(p, T(NOTES), OP(SET), "n", "new");
    mus[4] = mut(p, T(SUBPROCESS_ENV), OP(SET), "E", "v");
    mus[5] = mut(p, T(ERR_HEADERS_OUT), OP(SET), "Connection", "close");
    mus[6] = mut(p, T(HEADERS_OUT), OP(SET), "Content-Length", "5");
    mus[7] = mut(p, T(HEADERS_OUT), OP(UNSET), "Connection", "");
    mus[8] = mut(p, T(CONN_NOTES), OP(SET), "seen", "1");
    mus[9] = mut(p, T(CONN_NOTES), OP(ADD), "seen", "2");
    m.result = R(OK);
    m.n_mutations = 10;
    m.mutations = mus;
    gb_mutate_apply_tables(p, &m, &t, dropped);

    CHECK(!apr_table_get(t.headers_in, "Cookie"), "Cookie not unset");
    arr = apr_table_elts(t.headers_out);
    CHECK(arr->nelts == 2, "headers_out has %d entries; want 2 (X-M twice)",
          arr->nelts);
    CHECK(!strcmp(apr_table_get(t.notes, "n"), "new"), "note n = %s; want new",
          apr_table_get(t.notes, "n"));
    CHECK(!strcmp(apr_table_get(t.subprocess_env, "E"), "v"), "env E unset");
    CHECK(dropped->nelts == 2 && !apr_table_get(t.err_headers_out,
                                                "Connection"),
          "dropped %d hop-by-hop/Content-Length; want 2", dropped->nelts);
    arr = apr_table_elts(t.conn_notes);
    CHECK(arr->nelts == 2, "conn_notes has %d entries; want 2", arr->nelts);
    CHECK(arr->nelts == 2 && apr_pool_is_ancestor(cp,
          (apr_pool_t *)cp) && !strcmp(apr_table_get(t.conn_notes, "seen"),
          "1"), "conn note seen = %s; want 1",
          apr_table_get(t.conn_notes, "seen"));

    /* Without a connection table, conn-notes mutations change nothing. */
    t.conn_notes = NULL;
    m.n_mutations = 1;
    m.mutations = &mus[8];
    gb_mutate_apply_tables(p, &m, &t, dropped);
    CHECK(1, "conn notes skipped without a table");
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    test_fields();
    test_check(p);
    test_check_mutations_shared(p);
    test_check_fields_and_logs(p);
    test_check_reply(p);
    test_apply(p);
    printf("1..%d\n", tap_n);
    apr_terminate();
    return tap_failed ? 1 : 0;
}
