/* test_grpc.c: the pure gRPC codec (gb_grpc.c). */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "gb_grpc.h"
#include "gb_call.h"
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

/* Collected messages, for the framing tests. */
typedef struct {
    int n;
    apr_size_t len[16];
    unsigned char *data[16];
} collected;

static apr_status_t collect(void *baton, unsigned char *data, apr_size_t len)
{
    collected *c = baton;

    ck_assert_int_lt(c->n, 16);
    c->len[c->n] = len;
    c->data[c->n] = data;
    c->n++;
    return APR_SUCCESS;
}

static void collected_free(collected *c)
{
    int i;

    for (i = 0; i < c->n; i++) {
        free(c->data[i]);
    }
    c->n = 0;
}

static const apr_size_t msg_lens[] = { 0, 1, 5, 300, 0, 4000 };
#define NMSG (sizeof(msg_lens) / sizeof(msg_lens[0]))

static unsigned char msg_byte(int m, apr_size_t i)
{
    return (unsigned char)(m * 17 + i * 13);
}

static unsigned char *build_stream(apr_size_t *total)
{
    apr_size_t n = 0, i, off = 0;
    unsigned char *s;
    int m;

    for (m = 0; m < (int)NMSG; m++) {
        n += GB_GRPC_FRAME_HDR + msg_lens[m];
    }
    s = malloc(n);
    for (m = 0; m < (int)NMSG; m++) {
        gb_grpc_frame_header(s + off, msg_lens[m]);
        off += GB_GRPC_FRAME_HDR;
        for (i = 0; i < msg_lens[m]; i++) {
            s[off++] = msg_byte(m, i);
        }
    }
    *total = n;
    return s;
}

static void check_collected(collected *c, apr_size_t split)
{
    int m;
    apr_size_t i;

    ck_assert_msg(c->n == (int)NMSG, "split %lu: got %d messages; want %d",
                  (unsigned long)split, c->n, (int)NMSG);
    for (m = 0; m < (int)NMSG; m++) {
        ck_assert_uint_eq(c->len[m], msg_lens[m]);
        for (i = 0; i < msg_lens[m]; i++) {
            if (c->data[m][i] != msg_byte(m, i)) {
                ck_abort_msg("split %lu: message %d byte %lu differs",
                             (unsigned long)split, m, (unsigned long)i);
            }
        }
    }
}

START_TEST(frame_split_every_boundary)
{
    apr_size_t total, k;
    unsigned char *s = build_stream(&total);

    for (k = 0; k <= total; k++) {
        gb_grpc_reader rd;
        collected c = { 0 };

        gb_grpc_reader_init(&rd, 4000);
        ck_assert_int_eq(gb_grpc_reader_feed(&rd, s, k, collect, &c),
                         APR_SUCCESS);
        ck_assert_int_eq(gb_grpc_reader_feed(&rd, s + k, total - k, collect,
                                             &c), APR_SUCCESS);
        ck_assert(gb_grpc_reader_idle(&rd));
        check_collected(&c, k);
        collected_free(&c);
        gb_grpc_reader_clear(&rd);
    }
    free(s);
}
END_TEST

START_TEST(frame_byte_by_byte)
{
    apr_size_t total, k;
    unsigned char *s = build_stream(&total);
    gb_grpc_reader rd;
    collected c = { 0 };

    gb_grpc_reader_init(&rd, 4000);
    for (k = 0; k < total; k++) {
        ck_assert_int_eq(gb_grpc_reader_feed(&rd, s + k, 1, collect, &c),
                         APR_SUCCESS);
        if (k + 1 < total && k >= GB_GRPC_FRAME_HDR) {
            /* a partial message never shows up early */
            ck_assert_int_le(c.n, (int)NMSG);
        }
    }
    check_collected(&c, 1);
    collected_free(&c);
    gb_grpc_reader_clear(&rd);
    free(s);
}
END_TEST

START_TEST(frame_oversized_and_compressed)
{
    unsigned char hdr[GB_GRPC_FRAME_HDR];
    gb_grpc_reader rd;
    collected c = { 0 };

    gb_grpc_reader_init(&rd, 1024);
    gb_grpc_frame_header(hdr, 1025);
    ck_assert_int_eq(gb_grpc_reader_feed(&rd, hdr, sizeof(hdr), collect, &c),
                     APR_ENOSPC);
    ck_assert_int_eq(c.n, 0);
    gb_grpc_reader_clear(&rd);

    /* exactly the limit is fine; a partial one leaves the reader busy */
    gb_grpc_reader_init(&rd, 1024);
    gb_grpc_frame_header(hdr, 1024);
    ck_assert_int_eq(gb_grpc_reader_feed(&rd, hdr, sizeof(hdr), collect, &c),
                     APR_SUCCESS);
    ck_assert(!gb_grpc_reader_idle(&rd));
    gb_grpc_reader_clear(&rd);

    gb_grpc_reader_init(&rd, 1024);
    gb_grpc_frame_header(hdr, 3);
    hdr[0] = 1;
    ck_assert_int_eq(gb_grpc_reader_feed(&rd, hdr, sizeof(hdr), collect, &c),
                     APR_ENOTIMPL);
    gb_grpc_reader_clear(&rd);

    gb_grpc_frame_header(hdr, 0x01020304);
    ck_assert(hdr[0] == 0 && hdr[1] == 1 && hdr[2] == 2 && hdr[3] == 3
              && hdr[4] == 4);
}
END_TEST

START_TEST(timeout_encoding)
{
    static const struct {
        apr_interval_time_t in;
        const char *want;
    } tests[] = {
        { 0, NULL },
        { -5, NULL },
        { 1, "1u" },
        { 999, "999u" },
        { 1000, "1m" },
        { 1500000, "1500m" },
        { 2000000, "2S" },
        { 60000000, "1M" },
        { APR_INT64_C(7200000000), "2H" },
        { 1234567, "1234567u" },
        { APR_INT64_C(123456789012), "123457S" },   /* rounded up */
        { APR_INT64_C(100000000), "100S" },
        /* Found by fuzz_grpc: rounding up overflowed near INT64_MAX. */
        { APR_INT64_C(0x7fffffffffffffff), "99999999H" },
        { APR_INT64_C(0x7fffffffff000000), "99999999H" },
    };
    size_t i;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        const char *got = gb_grpc_timeout_encode(pool, tests[i].in);
        if (!tests[i].want) {
            ck_assert_msg(got == NULL, "gb_grpc_timeout_encode(%" APR_INT64_T_FMT
                          ") = %s; want NULL", (apr_int64_t)tests[i].in, got);
        }
        else {
            ck_assert_msg(got && strcmp(got, tests[i].want) == 0,
                          "gb_grpc_timeout_encode(%" APR_INT64_T_FMT
                          ") = %s; want %s", (apr_int64_t)tests[i].in,
                          got ? got : "NULL", tests[i].want);
        }
    }
}
END_TEST

START_TEST(percent_decoding)
{
    static const struct {
        const char *in;
        const char *want;
    } tests[] = {
        { "", "" },
        { "plain", "plain" },
        { "100%25 sure", "100% sure" },
        { "a%0Ab", "a\nb" },
        { "%C3%BC", "\xc3\xbc" },
        { "%e2%9c%93", "\xe2\x9c\x93" },
        { "bad %zz", "bad %zz" },
        { "trailing %", "trailing %" },
        { "trailing %4", "trailing %4" },
    };
    size_t i;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        const char *got = gb_grpc_percent_decode(pool, tests[i].in,
                                                 strlen(tests[i].in));
        ck_assert_msg(strcmp(got, tests[i].want) == 0,
                      "gb_grpc_percent_decode(%s) = %s; want %s", tests[i].in,
                      got, tests[i].want);
    }
}
END_TEST

static void hdr(gb_grpc_status *st, const char *n, const char *v)
{
    gb_grpc_status_header(st, pool, n, strlen(n), v, strlen(v));
}

START_TEST(status_parsing)
{
    gb_grpc_status st;
    const char *msg;

    /* trailers after a normal response */
    gb_grpc_status_init(&st);
    hdr(&st, ":status", "200");
    hdr(&st, "content-type", "application/grpc");
    hdr(&st, "grpc-status", "0");
    ck_assert_int_eq(gb_grpc_status_final(&st, 0, pool, &msg), GB_GRPC_OK);

    /* trailers-only error with an encoded message */
    gb_grpc_status_init(&st);
    hdr(&st, ":status", "200");
    hdr(&st, "content-type", "application/grpc+proto");
    hdr(&st, "grpc-status", "7");
    hdr(&st, "grpc-message", "no%20way%0A");
    ck_assert_int_eq(gb_grpc_status_final(&st, 0, pool, &msg), 7);
    ck_assert_str_eq(msg, "no way\n");
    ck_assert_int_eq(st.content_type, 1);

    /* HTTP errors map when grpc-status is absent */
    gb_grpc_status_init(&st);
    hdr(&st, ":status", "503");
    ck_assert_int_eq(gb_grpc_status_final(&st, 0, pool, &msg),
                     GB_GRPC_UNAVAILABLE);
    ck_assert_str_eq(msg, "HTTP status 503");
    gb_grpc_status_init(&st);
    hdr(&st, ":status", "404");
    ck_assert_int_eq(gb_grpc_status_final(&st, 0, pool, &msg),
                     GB_GRPC_UNIMPLEMENTED);

    /* a malformed grpc-status is never OK */
    gb_grpc_status_init(&st);
    hdr(&st, ":status", "200");
    hdr(&st, "grpc-status", "0x0");
    ck_assert_int_eq(gb_grpc_status_final(&st, 0, pool, &msg),
                     GB_GRPC_UNKNOWN);

    /* resets without trailers */
    gb_grpc_status_init(&st);
    hdr(&st, ":status", "200");
    ck_assert_int_eq(gb_grpc_status_final(&st, NGHTTP2_CANCEL, pool, &msg),
                     GB_GRPC_CANCELLED);
    ck_assert_int_eq(gb_grpc_status_final(&st, NGHTTP2_REFUSED_STREAM, pool,
                                          &msg), GB_GRPC_UNAVAILABLE);
    ck_assert_int_eq(gb_grpc_status_final(&st, 0, pool, &msg),
                     GB_GRPC_UNKNOWN);

    /* not gRPC at all */
    gb_grpc_status_init(&st);
    hdr(&st, ":status", "200");
    hdr(&st, "content-type", "text/html");
    ck_assert_int_eq(gb_grpc_status_final(&st, 0, pool, &msg),
                     GB_GRPC_UNKNOWN);
    ck_assert_int_eq(st.content_type, 0);
}
END_TEST

START_TEST(request_headers)
{
    nghttp2_nv *nv;
    apr_size_t n, i;
    const char *want[][2] = {
        { ":method", "POST" }, { ":scheme", "http" },
        { ":path", "/gobridge.v1.GoBridge/Phase" },
        { ":authority", "localhost" }, { "content-type", "application/grpc" },
        { "te", "trailers" }, { "grpc-timeout", "1500m" },
    };

    ck_assert_int_eq(gb_grpc_request_nv(pool, "/gobridge.v1.GoBridge/Phase",
                                        1500000, &nv, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, 7);
    for (i = 0; i < n; i++) {
        ck_assert_uint_eq(nv[i].namelen, strlen(want[i][0]));
        ck_assert(memcmp(nv[i].name, want[i][0], nv[i].namelen) == 0);
        ck_assert_uint_eq(nv[i].valuelen, strlen(want[i][1]));
        ck_assert(memcmp(nv[i].value, want[i][1], nv[i].valuelen) == 0);
    }
    ck_assert_int_eq(gb_grpc_request_nv(pool, "/x", 0, &nv, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(gb_grpc_request_nv(pool, "x", 0, &nv, &n), APR_EINVAL);
}
END_TEST

Suite *gb_test_codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("grpc");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, frame_split_every_boundary);
    tcase_add_test(tc, frame_byte_by_byte);
    tcase_add_test(tc, frame_oversized_and_compressed);
    tcase_add_test(tc, timeout_encoding);
    tcase_add_test(tc, percent_decoding);
    tcase_add_test(tc, status_parsing);
    tcase_add_test(tc, request_headers);
    suite_add_tcase(s, tc);
    return s;
}
