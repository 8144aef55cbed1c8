/* test_hostile.c: the transport against a peer that sends hand-made
 * HTTP/2 bytes (no grpc-go): answers no real plugin would send, which the
 * module must refuse without growing memory. The peer's bytes are written
 * into the socket before the call reads them (as in fuzz/fuzz_h2.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>
#include <apr_general.h>
#include <nghttp2/nghttp2.h>

#include "gb_private.h"
#include "gb_call.h"
#include "gb_conn.h"
#include "gb_pb.h"
#include "tests.h"

static apr_pool_t *hpchild;
static int hlfd = -1;
static char hpath[108];
static char hdir[64];

static void hostile_setup(void)
{
    struct sockaddr_un sa;

    strcpy(hdir, "/tmp/gbhostile-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(hdir));
    snprintf(hpath, sizeof(hpath), "%s/p.sock", hdir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, hpath);
    hlfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(hlfd, 0);
    ck_assert_int_eq(bind(hlfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(hlfd, 4), 0);
    ck_assert_int_eq(apr_pool_create(&hpchild, NULL), APR_SUCCESS);
    ck_assert_int_eq(gb_conn_child_init(hpchild, NULL), APR_SUCCESS);
}

static void hostile_teardown(void)
{
    apr_pool_destroy(hpchild);
    close(hlfd);
    unlink(hpath);
    rmdir(hdir);
}

static size_t frame(unsigned char *out, size_t len, int type, int flags,
                    int stream)
{
    out[0] = (unsigned char)(len >> 16);
    out[1] = (unsigned char)(len >> 8);
    out[2] = (unsigned char)len;
    out[3] = (unsigned char)type;
    out[4] = (unsigned char)flags;
    out[5] = (unsigned char)(stream >> 24);
    out[6] = (unsigned char)(stream >> 16);
    out[7] = (unsigned char)(stream >> 8);
    out[8] = (unsigned char)stream;
    return 9;
}

/* An HPACK bomb: one HEADERS frame of a few KiB whose fields, decoded,
 * are n copies of a 3000-byte grpc-message (each a 1-byte index). Before
 * the bound, every copy was decoded into the call's pool (6 MB here) and
 * the call ended "normally". */
START_TEST(hpack_bomb_refused)
{
    static unsigned char wire[32 * 1024];
    static char big[3000];
    enum { N = 2000 };
    nghttp2_nv *nva = calloc(N + 2, sizeof(*nva));
    nghttp2_hd_deflater *defl;
    Gobridge__V1__HandleRequest req = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    ProtobufCMessage *msg;
    gb_endpoint *ep;
    gb_conn *c;
    gb_call *call;
    apr_pool_t *p;
    size_t off = 0;
    ssize_t blen;
    apr_status_t rv;
    int sfd, i;

    memset(big, 'x', sizeof(big));
    nva[0].name = (uint8_t *)":status";
    nva[0].namelen = 7;
    nva[0].value = (uint8_t *)"200";
    nva[0].valuelen = 3;
    nva[1].name = (uint8_t *)"content-type";
    nva[1].namelen = 12;
    nva[1].value = (uint8_t *)"application/grpc";
    nva[1].valuelen = 16;
    for (i = 2; i < N + 2; i++) {
        nva[i].name = (uint8_t *)"grpc-message";
        nva[i].namelen = 12;
        nva[i].value = (uint8_t *)big;
        nva[i].valuelen = sizeof(big);
    }
    ck_assert_int_eq(nghttp2_hd_deflate_new(&defl, 4096), 0);
    off += frame(wire + off, 0, NGHTTP2_SETTINGS, 0, 0);
    blen = nghttp2_hd_deflate_hd(defl, wire + off + 9,
                                 sizeof(wire) - off - 9, nva, N + 2);
    ck_assert_int_gt(blen, 0);
    ck_assert_int_le(blen, 16384);
    frame(wire + off, (size_t)blen, NGHTTP2_HEADERS,
          NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1);
    off += 9 + (size_t)blen;
    nghttp2_hd_deflate_del(defl);
    free(nva);

    ck_assert_int_eq(apr_pool_create(&p, hpchild), APR_SUCCESS);
    ck_assert_int_eq(gb_conn_endpoint_make(hpchild, "hostile", hpath, &ep),
                     APR_SUCCESS);
    ck_assert_int_eq(gb_conn_acquire(NULL, ep, apr_time_from_sec(2), &c),
                     APR_SUCCESS);
    sfd = accept(hlfd, NULL, NULL);
    ck_assert_int_ge(sfd, 0);
    ck_assert_int_eq(write(sfd, wire, off), (ssize_t)off);
    ck_assert_int_eq(gb_call_start(c, p, GB_METHOD_HANDLE, 0, 1 << 20, &call),
                     APR_SUCCESS);
    rv = gb_call_send(call, &req.base, 1, apr_time_from_sec(2));
    ck_assert(rv == APR_SUCCESS || rv == APR_EOF);
    rv = gb_call_recv(call, p, &gobridge__v1__handle_response__descriptor,
                      apr_time_from_sec(2), &msg);
    ck_assert_msg(rv == APR_EGENERAL, "recv returned %d, want a protocol "
                  "error (APR_EGENERAL)", rv);
    ck_assert_int_eq(gb_call_status(call, NULL), GB_GRPC_INTERNAL);
    gb_call_cancel(call);
    gb_conn_release(c, 1);
    apr_pool_destroy(p);
    close(sfd);
}
END_TEST

/* A peer that accepts the connection and closes it without a word (a
 * plugin's listener closing as it stops, with connections in its backlog):
 * the call was certainly not served, so it may always be sent again. */
START_TEST(never_served_is_refused)
{
    Gobridge__V1__HandleRequest req = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    ProtobufCMessage *msg;
    gb_endpoint *ep;
    gb_conn *c;
    gb_call *call;
    apr_pool_t *p;
    apr_status_t rv;
    int sfd;

    ck_assert_int_eq(apr_pool_create(&p, hpchild), APR_SUCCESS);
    ck_assert_int_eq(gb_conn_endpoint_make(hpchild, "hostile", hpath, &ep),
                     APR_SUCCESS);
    ck_assert_int_eq(gb_conn_acquire(NULL, ep, apr_time_from_sec(2), &c),
                     APR_SUCCESS);
    sfd = accept(hlfd, NULL, NULL);
    ck_assert_int_ge(sfd, 0);
    close(sfd);
    ck_assert_int_eq(gb_call_start(c, p, GB_METHOD_HANDLE, 0, 1 << 20, &call),
                     APR_SUCCESS);
    rv = gb_call_send(call, &req.base, 1, apr_time_from_sec(2));
    if (rv == APR_SUCCESS) {
        rv = gb_call_recv(call, p, &gobridge__v1__handle_response__descriptor,
                          apr_time_from_sec(2), &msg);
    }
    ck_assert_msg(rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv),
                  "call on a connection closed unheard: %d", rv);
    ck_assert_int_eq(gb_call_fate_of(call), GB_CALL_REFUSED);
    gb_call_cancel(call);
    gb_conn_release(c, 0);
    apr_pool_destroy(p);
}
END_TEST

Suite *gb_test_hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");

    tcase_add_checked_fixture(tc, hostile_setup, hostile_teardown);
    tcase_add_test(tc, hpack_bomb_refused);
    tcase_add_test(tc, never_served_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
