/* test_encode.c: the hand-written snapshot encoder (gb_encode.c) writes
 * exactly what protobuf-c writes, and messages around it decode to what
 * they held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "gb_encode.h"
#include "gb_pb.h"
#include "tests.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static Gobridge__V1__Pair **pairs(int n, const char *prefix)
{
    Gobridge__V1__Pair **v = apr_pcalloc(pool, sizeof(*v) * n);
    int i;

    for (i = 0; i < n; i++) {
        v[i] = apr_palloc(pool, sizeof(**v));
        gobridge__v1__pair__init(v[i]);
        /* Pair 0 is all empty; pair 1 has a key only. */
        if (i > 0) {
            v[i]->key = gb_pb_bytes(apr_psprintf(pool, "%s-%d", prefix, i));
        }
        if (i > 1) {
            v[i]->value = gb_pb_bytes(apr_psprintf(pool, "v%d", i));
        }
    }
    return v;
}

static ProtobufCBinaryData *blist(int n)
{
    ProtobufCBinaryData *v = apr_pcalloc(pool, sizeof(*v) * n);
    int i;

    for (i = 1; i < n; i++) {      /* element 0 stays empty */
        v[i] = gb_pb_bytes(apr_psprintf(pool, "item%d", i));
    }
    return v;
}

/* Every field set, with the values that trip encoders up: negative
 * int32/int64, big uint64, a 200-byte field (two-byte length), empty
 * repeated elements, field numbers past 15 (two-byte tags). */
static Gobridge__V1__Request *full_request(void)
{
    Gobridge__V1__Request *m = apr_palloc(pool, sizeof(*m));
    Gobridge__V1__Connection *c = apr_palloc(pool, sizeof(*c));
    Gobridge__V1__TLS *t = apr_palloc(pool, sizeof(*t));
    Gobridge__V1__Server *s = apr_palloc(pool, sizeof(*s));
    char *big = apr_palloc(pool, 201);

    memset(big, 'x', 200);
    big[200] = '\0';
    gobridge__v1__request__init(m);
    gobridge__v1__connection__init(c);
    gobridge__v1__tls__init(t);
    gobridge__v1__server__init(s);

    t->protocol = gb_pb_bytes("TLSv1.3");
    t->cipher = gb_pb_bytes("TLS_AES_256_GCM_SHA384");
    t->sni = gb_pb_bytes("example.org");
    t->client_verify = gb_pb_bytes("SUCCESS");
    t->client_subject = gb_pb_bytes("CN=me");
    t->client_issuer = gb_pb_bytes("CN=ca");
    t->client_serial = gb_pb_bytes("01");
    c->remote_ip = gb_pb_bytes("127.0.0.1");
    c->remote_port = 40000;
    c->local_ip = gb_pb_bytes("::1");
    c->local_port = 8443;
    c->useragent_ip = gb_pb_bytes("10.0.0.1");
    c->secure = 1;
    c->id = 0xfedcba9876543210ULL;
    c->keepalives = 300;
    c->n_notes = 3;
    c->notes = pairs(3, "cn");
    c->tls = t;
    s->hostname = gb_pb_bytes("www.example.org");
    s->port = 443;
    s->admin = gb_pb_bytes("you@example.org");
    s->document_root = gb_pb_bytes("/srv/www");
    s->n_aliases = 3;
    s->aliases = blist(3);
    s->is_virtual = 1;
    s->is_default = 1;
    s->n_defines = 2;
    s->defines = blist(2);
    s->n_options = 3;
    s->options = pairs(3, "sopt");
    s->defined_in = gb_pb_bytes("/etc/apache2/sites-enabled/app.conf");
    s->defined_at = 12;
    s->error_log = gb_pb_bytes("/var/log/apache2/error.log");
    s->log_level = gb_pb_bytes("trace3");
    s->timeout_us = 60000000;
    s->keep_alive = 1;
    s->keep_alive_timeout_us = 5000000;
    s->keep_alive_max = -1;     /* negative: sign-extended like int32 */
    s->limit_request_line = 8190;
    s->limit_request_fieldsize = 8190;
    s->limit_request_fields = 100;

    m->method = gb_pb_bytes("POST");
    m->protocol = gb_pb_bytes("HTTP/1.1");
    m->the_request = gb_pb_bytes("POST /app?x=1 HTTP/1.1");
    m->unparsed_uri = gb_pb_bytes("/app?x=1");
    m->uri = gb_pb_bytes("/app");
    m->args = gb_pb_bytes("x=1");
    m->path_info = gb_pb_bytes("/more");
    m->filename = gb_pb_bytes(big);
    m->hostname = gb_pb_bytes("www.example.org");
    m->n_headers_in = 4;
    m->headers_in = pairs(4, "hin");
    m->user = gb_pb_bytes("alice");
    m->auth_type = gb_pb_bytes("Basic");
    m->request_time_us = 1764000000123456LL;
    m->handler = gb_pb_bytes("gobridge");
    m->content_type = gb_pb_bytes("text/plain");
    m->content_length = -1;
    m->has_body = 1;
    m->n_options = 3;
    m->options = pairs(3, "opt");
    m->plugin = gb_pb_bytes("app");
    m->log_id = gb_pb_bytes("aGVsbG8");
    m->location = gb_pb_bytes("/app");
    m->connection = c;
    m->server = s;
    m->n_notes = 3;
    m->notes = pairs(3, "note");
    m->n_subprocess_env = 3;
    m->subprocess_env = pairs(3, "env");
    m->is_subrequest = 1;
    m->is_internal_redirect = 1;
    m->scheme = gb_pb_bytes("https");
    m->status = -200;
    m->status_line = gb_pb_bytes("200 OK");
    m->content_encoding = gb_pb_bytes("gzip");
    m->n_content_languages = 3;
    m->content_languages = blist(3);
    m->mtime_us = -5;
    m->no_cache = 1;
    m->canonical_filename = gb_pb_bytes("/srv/www/app");
    m->n_headers_out = 3;
    m->headers_out = pairs(3, "hout");
    m->n_err_headers_out = 3;
    m->err_headers_out = pairs(3, "herr");
    m->was_redirected = 1;
    m->main_uri = gb_pb_bytes("/main");
    m->prev_uri = gb_pb_bytes("/prev");
    m->prev_status = 302;
    m->bytes_sent = 1LL << 40;
    m->n_allowed_methods = 2;
    m->allowed_methods = blist(2);
    m->auth_name = gb_pb_bytes("realm");
    m->remote_host = gb_pb_bytes("client.example.org");
    m->files = gb_pb_bytes("*.py");
    return m;
}

static void assert_same_as_protobuf_c(const Gobridge__V1__Request *m)
{
    apr_size_t want = protobuf_c_message_get_packed_size(&m->base);
    apr_size_t got = gb_encode_request_size(m);
    unsigned char *a = malloc(want + 1), *b = malloc(got + 1);
    unsigned char *end;

    ck_assert_uint_eq(got, want);
    protobuf_c_message_pack(&m->base, a);
    end = gb_encode_request(m, b);
    ck_assert_uint_eq((apr_size_t)(end - b), got);
    ck_assert_msg(memcmp(a, b, want) == 0,
                  "hand-encoded Request differs from protobuf-c's");
    free(a);
    free(b);
}

START_TEST(request_matches_protobuf_c)
{
    Gobridge__V1__Request empty = GOBRIDGE__V1__REQUEST__INIT;
    Gobridge__V1__Request *full = full_request();
    Gobridge__V1__Request partial;

    assert_same_as_protobuf_c(&empty);
    assert_same_as_protobuf_c(full);
    /* Without the sub-messages and with only some fields. */
    partial = *full;
    partial.connection = NULL;
    partial.server = NULL;
    partial.n_headers_in = 0;
    partial.method.len = 0;
    partial.status = 0;
    assert_same_as_protobuf_c(&partial);
    /* Empty sub-messages are still sent (they are set). */
    full->connection->tls = apr_pcalloc(pool, sizeof(Gobridge__V1__TLS));
    gobridge__v1__tls__init(full->connection->tls);
    assert_same_as_protobuf_c(full);
}
END_TEST

/* The server's constant part, packed once (gb_encode_fixed, as
 * gb_request.c does per child) and attached to the per-request Server:
 * the bytes are protobuf-c's own, and decode to one Server with both. */
START_TEST(server_facts_ride_encoded)
{
    Gobridge__V1__Request *m = full_request();
    Gobridge__V1__Server facts = GOBRIDGE__V1__SERVER__INIT, empty =
        GOBRIDGE__V1__SERVER__INIT;
    ProtobufCMessageUnknownField uf;
    Gobridge__V1__Request *back;
    unsigned char *out;
    size_t total;

    ck_assert_int_eq(gb_encode_fixed(pool, &empty.base, &uf), 0);
    facts.hostname = gb_pb_bytes("facts.example.org");
    facts.timeout_us = 42000000;
    facts.n_options = 2;
    facts.options = pairs(2, "fopt");
    facts.limit_request_fields = 100;
    ck_assert_int_eq(gb_encode_fixed(pool, &facts.base, &uf), 1);
    ck_assert_uint_eq(uf.tag, 1);   /* hostname's, split off */
    m->server->hostname.len = 0;    /* in the facts only */
    m->server->timeout_us = 0;
    m->server->n_options = 0;
    m->server->limit_request_fields = 0;
    m->server->base.n_unknown_fields = 1;
    m->server->base.unknown_fields = &uf;
    assert_same_as_protobuf_c(m);

    total = gb_encode_request_size(m);
    out = malloc(total);
    gb_encode_request(m, out);
    back = gobridge__v1__request__unpack(NULL, total, out);
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_nonnull(back->server);
    ck_assert_uint_eq(back->server->hostname.len, 17);
    ck_assert(memcmp(back->server->hostname.data, "facts.example.org", 17) == 0);
    ck_assert_int_eq(back->server->timeout_us, 42000000);
    ck_assert_uint_eq(back->server->n_options, 2);
    ck_assert_int_eq(back->server->limit_request_fields, 100);
    ck_assert_uint_eq(back->server->port, 443);      /* per request */
    ck_assert_uint_eq(back->server->n_aliases, 3);
    ck_assert_uint_eq(back->server->base.n_unknown_fields, 0);
    gobridge__v1__request__free_unpacked(back, NULL);
    free(out);
}
END_TEST

/* A message holding the snapshot: packed by gb_encode, it decodes to what
 * it held (protobuf-c unpacks it and packs it again to the same bytes as
 * the original), and the message is left as it was. */
static void assert_round_trip(ProtobufCMessage *msg)
{
    apr_size_t want = protobuf_c_message_get_packed_size(msg);
    apr_size_t n = gb_encode_size(msg);
    unsigned char *ours = malloc(n), *ref = malloc(want), *again;
    ProtobufCMessage *back;

    ck_assert_uint_eq(n, want);
    ck_assert_uint_eq(gb_encode_pack(msg, ours), n);
    ck_assert_uint_eq(msg->n_unknown_fields, 0);
    protobuf_c_message_pack(msg, ref);
    back = protobuf_c_message_unpack(msg->descriptor, NULL, n, ours);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->n_unknown_fields, 0);
    again = malloc(want);
    ck_assert_uint_eq(protobuf_c_message_pack(back, again), want);
    ck_assert_msg(memcmp(again, ref, want) == 0,
                  "%s packed by gb_encode does not decode to what it held",
                  msg->descriptor->short_name);
    protobuf_c_message_free_unpacked(back, NULL);
    free(ours);
    free(ref);
    free(again);
}

/* With GB_TEST_ENCODE_DIR set, leaves ours.bin (gb_encode) and ref.bin
 * (protobuf-c) there for pbcheck/ to decode with Go's protobuf. */
static void write_for_go(ProtobufCMessage *msg)
{
    const char *dir = getenv("GB_TEST_ENCODE_DIR");
    apr_size_t n = gb_encode_size(msg);
    unsigned char *b = malloc(n);
    FILE *f;

    if (!dir) {
        free(b);
        return;
    }
    gb_encode_pack(msg, b);
    f = fopen(apr_pstrcat(pool, dir, "/ours.bin", NULL), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    protobuf_c_message_pack(msg, b);
    f = fopen(apr_pstrcat(pool, dir, "/ref.bin", NULL), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    free(b);
}

START_TEST(messages_around_the_snapshot)
{
    Gobridge__V1__HandleRequest h = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    Gobridge__V1__PhaseRequest ph = GOBRIDGE__V1__PHASE_REQUEST__INIT;
    Gobridge__V1__Request *full = full_request();

    h.request = full;
    h.body = gb_pb_bytes("some body");
    h.body_eof = 1;
    assert_round_trip(&h.base);
    ck_assert_ptr_eq(h.request, full);
    write_for_go(&h.base);
    ph.phase = GOBRIDGE__V1__PHASE__PHASE_FIXUPS;
    ph.request = full;
    assert_round_trip(&ph.base);
    ck_assert_ptr_eq(ph.request, full);
    /* No snapshot: protobuf-c alone. */
    h.request = NULL;
    assert_round_trip(&h.base);
}
END_TEST

Suite *gb_test_encode_suite(void)
{
    Suite *s = suite_create("encode");
    TCase *tc = tcase_create("snapshot");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, request_matches_protobuf_c);
    tcase_add_test(tc, server_facts_ride_encoded);
    tcase_add_test(tc, messages_around_the_snapshot);
    suite_add_tcase(s, tc);
    return s;
}
