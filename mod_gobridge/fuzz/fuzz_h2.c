/* fuzz_h2.c: libFuzzer target for the client transport's receive path.
 *
 * Each input is what "the plugin" sends on a fresh connection: the bytes
 * are written into a real unix socket before the call starts and the
 * peer's side is then shut down, so gb_h2 (nghttp2 session, reads, flow
 * control), gb_call (gRPC reassembly, trailers, message queue, withheld
 * window) and protobuf-c unpacking all run on arbitrary input, and every
 * call ends at EOF without waiting for a timeout.
 *
 * Byte 0 picks the call: even = a Handle stream driven like gb_handler.c
 * (answers read_body with body, one message per turn in a cleared pool),
 * odd = a unary Phase call (gb_call_unary). Byte 1 bit 0 releases the
 * connection as reusable, so the next input's acquire runs the idle check
 * on it. The rest is the plugin's byte stream (seeds: corpus/h2, made by
 * seedgen/).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "gb_private.h"
#include "gb_call.h"
#include "gb_conn.h"
#include "gb_pb.h"

#define FZ_TIMEOUT apr_time_from_msec(200)
#define FZ_MAX_MESSAGE (64 * 1024)

static apr_pool_t *pchild;
static int lfd = -1;
static char sock_path[108];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct sockaddr_un sa;
    char dir[] = "/tmp/gbfuzz-XXXXXX";

    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);       /* as in httpd's children */
    apr_initialize();
    apr_pool_create(&pchild, NULL);
    if (gb_conn_child_init(pchild, NULL) != APR_SUCCESS || !mkdtemp(dir)) {
        abort();
    }
    snprintf(sock_path, sizeof(sock_path), "%s/p.sock", dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, sock_path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || listen(lfd, 16) != 0) {
        abort();
    }
    return 0;
}

/* Writes all of data; the client has not read anything yet, so the
 * socket buffer must hold it (inputs are capped by -max_len). */
static int fz_write(int fd, const uint8_t *d, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, d, n);
        if (w <= 0) {
            return -1;
        }
        d += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fz_handle(gb_conn *c, apr_pool_t *p)
{
    Gobridge__V1__HandleRequest req = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    Gobridge__V1__Request rq = GOBRIDGE__V1__REQUEST__INIT;
    static char body[300 * 1024];
    gb_call *call;
    apr_pool_t *mp;
    apr_status_t rv;
    int turns, clean = 0;

    rq.method = gb_pb_bytes("POST");
    rq.uri = gb_pb_bytes("/fuzz");
    rq.has_body = 1;
    req.request = &rq;
    if (gb_call_start(c, p, GB_METHOD_HANDLE, 0, FZ_MAX_MESSAGE, &call)
        != APR_SUCCESS) {
        return 0;
    }
    rv = gb_call_send(call, &req.base, 0, FZ_TIMEOUT);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        gb_call_cancel(call);
        return 0;
    }
    apr_pool_create(&mp, p);
    for (turns = 0; turns < 64; turns++) {
        Gobridge__V1__HandleResponse *m;

        apr_pool_clear(mp);
        rv = gb_call_recv(call, mp, &gobridge__v1__handle_response__descriptor,
                          FZ_TIMEOUT, (ProtobufCMessage **)&m);
        if (rv != APR_SUCCESS) {
            const char *msg = NULL;
            (void)gb_call_status(call, &msg);
            if (msg) {
                (void)strlen(msg);
            }
            break;
        }
        if (m->body.len) {
            /* What gb_pass_body hands the filters: must be readable. */
            volatile uint8_t x = m->body.data[0] ^ m->body.data[m->body.len - 1];
            (void)x;
        }
        if (m->read_body) {
            Gobridge__V1__HandleRequest b = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
            apr_size_t n = m->read_body > sizeof(body) ? sizeof(body)
                                                       : m->read_body;
            b.body = gb_pb_bytesn(body, n);
            b.body_eof = (turns & 1);
            rv = gb_call_send(call, &b.base, b.body_eof, FZ_TIMEOUT);
            if (rv != APR_SUCCESS && rv != APR_EOF) {
                break;
            }
        }
        if (m->finish) {
            ProtobufCMessage *extra;
            rv = gb_call_recv(call, mp,
                              &gobridge__v1__handle_response__descriptor,
                              FZ_TIMEOUT, &extra);
            clean = rv == APR_EOF && gb_call_status(call, NULL) == GB_GRPC_OK;
            break;
        }
    }
    gb_call_cancel(call);
    return clean;
}

static int fz_unary(gb_conn *c, apr_pool_t *p)
{
    Gobridge__V1__PhaseRequest req = GOBRIDGE__V1__PHASE_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    const char *msg = NULL;
    int status = -1;
    apr_status_t rv;

    rv = gb_call_unary(c, p, GB_METHOD_PHASE, &req.base,
                       &gobridge__v1__phase_response__descriptor, FZ_TIMEOUT,
                       FZ_MAX_MESSAGE, &status, &msg, &out);
    if (rv == APR_SUCCESS && msg) {
        (void)strlen(msg);
    }
    return rv == APR_SUCCESS && status == GB_GRPC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    gb_conn *c = NULL;
    apr_status_t rv;
    int sfd, clean;

    if (size < 2) {
        return 0;
    }
    apr_pool_create(&p, pchild);
    /* Connects (the listener's backlog accepts it) and sends our preface. */
    rv = gb_conn_acquire(NULL, "fuzz", sock_path, FZ_TIMEOUT, &c);
    if (rv != APR_SUCCESS) {
        char err[120];
        fprintf(stderr, "fuzz_h2: gb_conn_acquire: %d %s\n", rv,
                apr_strerror(rv, err, sizeof(err)));
        abort();
    }
    /* Non-blocking: a reused idle connection made no new connect. */
    sfd = accept(lfd, NULL, NULL);
    if (sfd >= 0) {
        if (fz_write(sfd, data + 2, size - 2) != 0) {
            abort();
        }
        shutdown(sfd, SHUT_WR);
    }
    clean = (data[0] & 1) ? fz_unary(c, p) : fz_handle(c, p);
    gb_conn_release(c, clean && (data[1] & 1));
    apr_pool_destroy(p);
    if (sfd >= 0) {
        close(sfd);
    }
    return 0;
}
