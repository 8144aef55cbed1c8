/* test_transport.c: the gRPC transport (gb_conn, gb_h2, gb_call) against a
 * real grpc-go server (grpcpeer/main.go) over real unix sockets. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "gb_private.h"
#include "gb_call.h"
#include "gb_conn.h"
#include "gb_h2.h"
#include "gb_pb.h"
#include "tests.h"

#define MIB (1024 * 1024)
#define SEC apr_time_from_sec(1)
/* Must match grpcpeer's ErrorMessage. */
#define PEER_ERROR_MESSAGE "denied: 100% sure\nnot you, \xc3\xbc" "n\xc3\xaf" "code"

typedef struct {
    pid_t pid;
    int out;                    /* read end of the peer's stdout */
    char path[108];
} peer_t;

static char sockdir[64];
static peer_t shared;
static apr_pool_t *pchild;
static apr_pool_t *pool;

static const char *peer_bin(void)
{
    const char *b = getenv("GB_TEST_PEER");
    return b ? b : "./build/grpcpeer";
}

/* Waits for the peer's "READY <gen>" line. */
static int peer_wait_ready(peer_t *pe, int gen)
{
    char line[64], want[64];
    size_t n = 0;

    snprintf(want, sizeof(want), "READY %d", gen);
    for (;;) {
        struct pollfd pfd = { pe->out, POLLIN, 0 };
        char ch;

        if (poll(&pfd, 1, 15000) <= 0 || read(pe->out, &ch, 1) != 1) {
            return -1;
        }
        if (ch != '\n') {
            if (n < sizeof(line) - 1) {
                line[n++] = ch;
            }
            continue;
        }
        line[n] = '\0';
        n = 0;
        if (strcmp(line, want) == 0) {
            return 0;
        }
    }
}

static int peer_start(peer_t *pe, const char *name)
{
    int fds[2];

    snprintf(pe->path, sizeof(pe->path), "%s/%s", sockdir, name);
    if (pipe(fds) != 0) {
        return -1;
    }
    pe->pid = fork();
    if (pe->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(peer_bin(), "grpcpeer", "-socket", pe->path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    pe->out = fds[0];
    return pe->pid > 0 ? peer_wait_ready(pe, 1) : -1;
}

static void peer_kill(peer_t *pe, int sig)
{
    if (pe->pid > 0) {
        kill(pe->pid, sig);
        if (sig == SIGKILL || sig == SIGTERM) {
            waitpid(pe->pid, NULL, 0);
            pe->pid = 0;
            close(pe->out);
        }
    }
}

static void suite_setup(void)
{
    strcpy(sockdir, "/tmp/gbtest.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sockdir));
    ck_assert_msg(peer_start(&shared, "shared.sock") == 0,
                  "cannot start %s (build it with make)", peer_bin());
}

static void suite_teardown(void)
{
    peer_kill(&shared, SIGKILL);
    unlink(shared.path);
    rmdir(sockdir);
}

/* One endpoint per socket path for the whole run, as post_config makes
 * one per plugin: its idle connections are the current child's. */
static gb_endpoint *endpoint(const char *path)
{
    static apr_pool_t *eppool;
    static apr_hash_t *eps;
    gb_endpoint *ep;

    if (!eppool) {
        apr_pool_create(&eppool, NULL);
        eps = apr_hash_make(eppool);
    }
    ep = apr_hash_get(eps, path, APR_HASH_KEY_STRING);
    if (!ep) {
        ck_assert_int_eq(gb_conn_endpoint_make(eppool, "test", path, &ep),
                         APR_SUCCESS);
        apr_hash_set(eps, apr_pstrdup(eppool, path), APR_HASH_KEY_STRING,
                     ep);
    }
    return ep;
}

/* The Handle call last started: a connection carries one call at a time,
 * ended before the next starts or the connection goes back. */
static gb_call *last_call;

static void end_last_call(void)
{
    gb_call_cancel(last_call);
    last_call = NULL;
}

static void release(gb_conn *c, int reusable)
{
    end_last_call();
    gb_conn_release(c, reusable);
}

static void setup(void)
{
    apr_pool_create(&pchild, NULL);
    ck_assert_int_eq(gb_conn_child_init(pchild, NULL), APR_SUCCESS);
    apr_pool_create(&pool, pchild);
}

static void teardown(void)
{
    end_last_call();
    apr_pool_destroy(pchild);
}

static gb_conn *acquire(const char *path)
{
    gb_conn *c = NULL;
    apr_status_t rv = gb_conn_acquire(NULL, endpoint(path), SEC, &c);

    ck_assert_msg(rv == APR_SUCCESS, "gb_conn_acquire(%s) = %d", path, rv);
    return c;
}

/* A Phase call for uri; returns the peer's connection id (http_status). */
static apr_status_t phase(gb_conn *c, const char *uri, const char *args,
                          apr_interval_time_t timeout, int *gs,
                          const char **gm, int *peer_conn)
{
    Gobridge__V1__PhaseRequest req = GOBRIDGE__V1__PHASE_REQUEST__INIT;
    Gobridge__V1__Request r = GOBRIDGE__V1__REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    apr_status_t rv;

    r.uri = gb_pb_bytes(uri);
    r.args = gb_pb_bytes(args);
    req.phase = GOBRIDGE__V1__PHASE__PHASE_FIXUPS;
    req.request = &r;
    rv = gb_call_unary(c, pool, GB_METHOD_PHASE, &req.base,
                       &gobridge__v1__phase_response__descriptor, timeout,
                       MIB, gs, gm, &out, NULL);
    if (rv == APR_SUCCESS && *gs == GB_GRPC_OK) {
        Gobridge__V1__PhaseResponse *resp = (void *)out;
        ck_assert_int_eq(resp->result, GOBRIDGE__V1__RESULT__RESULT_OK);
        ck_assert_uint_eq(resp->n_mutations, 2);
        ck_assert_str_eq(gb_pb_strdup(pool, resp->mutations[1]->value), uri);
        if (peer_conn) {
            *peer_conn = resp->http_status;
        }
    }
    return rv;
}

static int phase_ok(gb_conn *c)
{
    int gs = -1, id = 0;
    const char *gm = NULL;

    ck_assert_int_eq(phase(c, "/hello", "", 5 * SEC, &gs, &gm, &id),
                     APR_SUCCESS);
    ck_assert_msg(gs == GB_GRPC_OK, "grpc status %d (%s)", gs, gm);
    ck_assert_int_gt(id, 0);
    return id;
}

static gb_call *handle(gb_conn *c, const char *uri, const char *args,
                       const char *body, apr_size_t len, int eof,
                       apr_size_t max)
{
    Gobridge__V1__HandleRequest req = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    Gobridge__V1__Request r = GOBRIDGE__V1__REQUEST__INIT;
    gb_call *call = NULL;

    r.uri = gb_pb_bytes(uri);
    r.args = gb_pb_bytes(args);
    req.request = &r;
    req.body = gb_pb_bytesn(body, len);
    req.body_eof = eof;
    end_last_call();
    ck_assert_int_eq(gb_call_start(c, pool, GB_METHOD_HANDLE, 0, max, &call),
                     APR_SUCCESS);
    last_call = call;
    ck_assert_int_eq(gb_call_send(call, &req.base, eof, 5 * SEC),
                     APR_SUCCESS);
    return call;
}

static apr_status_t recv_resp(gb_call *call, apr_pool_t *p,
                              apr_interval_time_t t,
                              Gobridge__V1__HandleResponse **out)
{
    return gb_call_recv(call, p, &gobridge__v1__handle_response__descriptor,
                        t, (ProtobufCMessage **)out);
}

static apr_uint64_t fnv1a(apr_uint64_t h, const unsigned char *d, apr_size_t n)
{
    while (n--) {
        h = (h ^ *d++) * APR_UINT64_C(1099511628211);
    }
    return h;
}

#define FNV_INIT APR_UINT64_C(14695981039346656037)

START_TEST(unary_round_trip)
{
    Gobridge__V1__DescribeRequest dreq = GOBRIDGE__V1__DESCRIBE_REQUEST__INIT;
    Gobridge__V1__DescribeResponse *d = NULL;
    gb_conn *c = acquire(shared.path);
    const char *gm = NULL;
    int gs = -1;

    ck_assert_int_eq(gb_call_unary(c, pool, GB_METHOD_DESCRIBE, &dreq.base,
                                   &gobridge__v1__describe_response__descriptor,
                                   5 * SEC, MIB, &gs, &gm,
                                   (ProtobufCMessage **)&d, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(gs, GB_GRPC_OK);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(gb_pb_strdup(pool, d->sdk_version), "grpcpeer");
    ck_assert_uint_eq(d->n_phases, 2);
    phase_ok(c);
    release(c, 1);
}
END_TEST

START_TEST(stream_echo_10mib)
{
    const apr_size_t size = 10 * MIB;
    unsigned char *data = malloc(size);
    apr_uint64_t sent_sum, got_sum = FNV_INIT;
    apr_size_t off, got = 0, x = 12345;
    apr_pool_t *mp;
    gb_conn *c = acquire(shared.path);
    gb_call *call;
    int finished = 0;
    const char *gm;

    for (off = 0; off < size; off++) {
        x = x * 1103515245 + 12345;
        data[off] = (unsigned char)(x >> 16);
    }
    sent_sum = fnv1a(FNV_INIT, data, size);
    off = 64 * 1024;
    call = handle(c, "/echo", "", (const char *)data, off, 0, MIB);
    apr_pool_create(&mp, pool);
    for (;;) {
        Gobridge__V1__HandleResponse *m;
        apr_status_t rv;

        apr_pool_clear(mp);
        rv = recv_resp(call, mp, 5 * SEC, &m);
        if (rv == APR_EOF) {
            break;
        }
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert(!finished);
        got_sum = fnv1a(got_sum, m->body.data, m->body.len);
        got += m->body.len;
        if (m->read_body) {
            Gobridge__V1__HandleRequest req = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
            apr_size_t n = size - off;

            if (n > m->read_body) {
                n = m->read_body;
            }
            req.body = gb_pb_bytesn((const char *)data + off, n);
            off += n;
            req.body_eof = off == size;
            ck_assert_int_eq(gb_call_send(call, &req.base, req.body_eof,
                                          5 * SEC), APR_SUCCESS);
        }
        if (m->finish) {
            finished = 1;
        }
    }
    ck_assert(finished);
    ck_assert_int_eq(gb_call_status(call, &gm), GB_GRPC_OK);
    ck_assert_uint_eq(got, size);
    ck_assert_msg(got_sum == sent_sum, "checksum of the echo differs");
    release(c, 1);
    free(data);
}
END_TEST

/* Resident memory of this process: counts malloc, APR's allocator (which
 * may mmap directly) and anything else a leak could hide in. */
static apr_size_t heap_in_use(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (apr_size_t)resident * (apr_size_t)sysconf(_SC_PAGESIZE);
}

START_TEST(download_50mib_bounded_memory)
{
    const apr_size_t size = 50 * MIB;
    apr_size_t got = 0, base = 0, peak = 0, i;
    apr_pool_t *mp;
    gb_conn *c = acquire(shared.path);
    gb_call *call = handle(c, "/download", "mib=50", NULL, 0, 1, MIB);
    int n = 0;
    const char *gm;

    apr_pool_create(&mp, pool);
    for (;;) {
        Gobridge__V1__HandleResponse *m;
        apr_status_t rv;

        apr_pool_clear(mp);
        rv = recv_resp(call, mp, 5 * SEC, &m);
        if (rv == APR_EOF) {
            break;
        }
        ck_assert_int_eq(rv, APR_SUCCESS);
        for (i = 0; i < m->body.len; i++) {
            if (m->body.data[i] != (unsigned char)((got + i) % 251)) {
                ck_abort_msg("byte %lu differs", (unsigned long)(got + i));
            }
        }
        got += m->body.len;
        if (++n == 8) {
            base = heap_in_use();   /* after warm-up: 2 MiB in */
        }
        else if (n > 8 && heap_in_use() > peak) {
            peak = heap_in_use();
        }
    }
    ck_assert_int_eq(gb_call_status(call, &gm), GB_GRPC_OK);
    ck_assert_uint_eq(got, size);
    ck_assert_msg(peak < base + 4 * MIB,
                  "RSS grew from %lu to %lu bytes during a 50 MiB download",
                  (unsigned long)base, (unsigned long)peak);
    release(c, 1);
}
END_TEST

START_TEST(timeout_is_prompt)
{
    gb_conn *c = acquire(shared.path);
    unsigned long id = gb_conn_id(c);
    gb_call *call = handle(c, "/sleep", "ms=5000", NULL, 0, 1, MIB);
    Gobridge__V1__HandleResponse *m;
    apr_time_t t0 = apr_time_now(), dt;
    const char *gm = NULL;
    int gs = -1;
    apr_status_t rv;

    ck_assert_int_eq(recv_resp(call, pool, apr_time_from_msec(300), &m),
                     APR_TIMEUP);
    dt = apr_time_now() - t0;
    ck_assert_msg(dt >= apr_time_from_msec(250) && dt < SEC,
                  "timeout after %" APR_TIME_T_FMT "us", dt);
    gb_call_cancel(call);
    ck_assert_int_eq(gb_call_status(call, &gm), GB_GRPC_CANCELLED);
    release(c, 1);

    /* A cancelled stream leaves the connection usable. */
    c = acquire(shared.path);
    ck_assert_uint_eq(gb_conn_id(c), id);
    phase_ok(c);

    /* Unary: our wait and the plugin's grpc-timeout both end it. */
    t0 = apr_time_now();
    rv = phase(c, "/sleep", "ms=5000", apr_time_from_msec(300), &gs, &gm,
               NULL);
    dt = apr_time_now() - t0;
    ck_assert_msg(rv == APR_TIMEUP
                  || (rv == APR_SUCCESS && gs == GB_GRPC_DEADLINE_EXCEEDED),
                  "rv %d status %d", rv, gs);
    ck_assert_msg(dt < 2 * SEC, "unary timeout after %" APR_TIME_T_FMT "us",
                  dt);
    phase_ok(c);
    release(c, 1);
}
END_TEST

START_TEST(grpc_error_decoded)
{
    gb_conn *c = acquire(shared.path);
    gb_call *call = handle(c, "/error", "", NULL, 0, 1, MIB);
    Gobridge__V1__HandleResponse *m;
    const char *gm = NULL;
    int gs = -1;

    ck_assert_int_eq(recv_resp(call, pool, 5 * SEC, &m), APR_EOF);
    ck_assert_int_eq(gb_call_status(call, &gm), 7 /* PERMISSION_DENIED */);
    ck_assert_str_eq(gm, PEER_ERROR_MESSAGE);

    ck_assert_int_eq(phase(c, "/error", "", 5 * SEC, &gs, &gm, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(gs, 7);
    ck_assert_str_eq(gm, PEER_ERROR_MESSAGE);
    release(c, 1);
}
END_TEST

START_TEST(oversized_message_refused)
{
    gb_conn *c = acquire(shared.path);
    unsigned long id = gb_conn_id(c);
    gb_call *call = handle(c, "/oversized", "bytes=2097152", NULL, 0, 1, MIB);
    Gobridge__V1__HandleResponse *m;
    const char *gm;

    ck_assert_int_eq(recv_resp(call, pool, 5 * SEC, &m), APR_EGENERAL);
    ck_assert_int_eq(gb_call_status(call, &gm), GB_GRPC_INTERNAL);
    /* Even if the borrower says "reusable", the connection is retired. */
    release(c, 1);
    c = acquire(shared.path);
    ck_assert_uint_ne(gb_conn_id(c), id);
    phase_ok(c);
    release(c, 1);

    /* Just under the limit passes. */
    c = acquire(shared.path);
    call = handle(c, "/oversized", "bytes=1000000", NULL, 0, 1, MIB);
    ck_assert_int_eq(recv_resp(call, pool, 5 * SEC, &m), APR_SUCCESS);
    ck_assert_uint_eq(m->body.len, 1000000);
    ck_assert_int_eq(recv_resp(call, pool, 5 * SEC, &m), APR_EOF);
    ck_assert_int_eq(gb_call_status(call, &gm), GB_GRPC_OK);

    /* A limit above the 1 MiB stream window: a 3 MiB message still flows. */
    call = handle(c, "/oversized", "bytes=3145728", NULL, 0, 1, 4 * MIB);
    ck_assert_int_eq(recv_resp(call, pool, 5 * SEC, &m), APR_SUCCESS);
    ck_assert_uint_eq(m->body.len, 3145728);
    ck_assert_int_eq(recv_resp(call, pool, 5 * SEC, &m), APR_EOF);
    ck_assert_int_eq(gb_call_status(call, &gm), GB_GRPC_OK);
    release(c, 1);
}
END_TEST

START_TEST(connection_reuse)
{
    gb_conn *c = acquire(shared.path), *c2;
    unsigned long id = gb_conn_id(c);
    int peer_id = phase_ok(c), i;

    release(c, 1);
    for (i = 0; i < 5; i++) {
        c = acquire(shared.path);
        ck_assert_uint_eq(gb_conn_id(c), id);
        ck_assert_int_eq(phase_ok(c), peer_id);   /* the peer agrees */
        release(c, 1);
    }
    /* Two borrowers at once get two connections, both kept afterwards. */
    c = acquire(shared.path);
    c2 = acquire(shared.path);
    ck_assert_uint_ne(gb_conn_id(c), gb_conn_id(c2));
    ck_assert_int_ne(phase_ok(c), phase_ok(c2));
    release(c2, 1);
    release(c, 1);
    c = acquire(shared.path);
    c2 = acquire(shared.path);
    ck_assert_uint_le(gb_conn_id(c), 2);
    ck_assert_uint_le(gb_conn_id(c2), 2);
    release(c, 1);
    release(c2, 0);   /* not reusable: closed */
    c = acquire(shared.path);
    c2 = acquire(shared.path);
    ck_assert_uint_eq(gb_conn_id(c2), 3);
    release(c, 1);
    release(c2, 1);
}
END_TEST

START_TEST(peer_killed_fails_fast)
{
    peer_t pe;
    gb_conn *c;
    apr_status_t rv;
    apr_time_t t0;

    ck_assert_int_eq(peer_start(&pe, "kill.sock"), 0);
    c = acquire(pe.path);
    phase_ok(c);
    release(c, 1);
    peer_kill(&pe, SIGKILL);

    t0 = apr_time_now();
    rv = gb_conn_acquire(NULL, endpoint(pe.path), 2 * SEC, &c);
    ck_assert_msg(APR_STATUS_IS_ECONNREFUSED(rv), "acquire = %d", rv);
    ck_assert(apr_time_now() - t0 < SEC);

    unlink(pe.path);
    rv = gb_conn_acquire(NULL, endpoint(pe.path), 2 * SEC, &c);
    ck_assert_msg(APR_STATUS_IS_ENOENT(rv), "acquire = %d", rv);
}
END_TEST

START_TEST(goaway_reconnects)
{
    peer_t pe;
    gb_conn *c;
    unsigned long id;
    int peer_id;

    ck_assert_int_eq(peer_start(&pe, "goaway.sock"), 0);
    c = acquire(pe.path);
    id = gb_conn_id(c);
    peer_id = phase_ok(c);
    release(c, 1);

    peer_kill(&pe, SIGUSR1);   /* GracefulStop: GOAWAY, then serve anew */
    ck_assert_int_eq(peer_wait_ready(&pe, 2), 0);

    c = acquire(pe.path);
    ck_assert_uint_ne(gb_conn_id(c), id);
    ck_assert_int_ne(phase_ok(c), peer_id);
    release(c, 1);
    peer_kill(&pe, SIGKILL);
    unlink(pe.path);
}
END_TEST

START_TEST(close_mid_stream)
{
    gb_conn *c = acquire(shared.path);
    unsigned long id = gb_conn_id(c);
    gb_call *call = handle(c, "/close", "", NULL, 0, 1, MIB);
    Gobridge__V1__HandleResponse *m;
    const char *gm;
    apr_status_t rv;

    ck_assert_int_eq(recv_resp(call, pool, 5 * SEC, &m), APR_SUCCESS);
    ck_assert_ptr_nonnull(m->head);
    ck_assert_uint_eq(m->body.len, 64 * 1024);
    rv = recv_resp(call, pool, 5 * SEC, &m);
    ck_assert_msg(APR_STATUS_IS_ECONNRESET(rv), "recv = %d", rv);
    ck_assert_int_eq(gb_call_status(call, &gm), GB_GRPC_UNAVAILABLE);
    release(c, 1);
    c = acquire(shared.path);
    ck_assert_uint_ne(gb_conn_id(c), id);
    phase_ok(c);
    release(c, 1);
}
END_TEST

/* Starts a Handle call for /hello and sends its one message. */
static gb_call *hello_call(gb_conn *c, apr_status_t *rv)
{
    Gobridge__V1__HandleRequest req = GOBRIDGE__V1__HANDLE_REQUEST__INIT;
    Gobridge__V1__Request r = GOBRIDGE__V1__REQUEST__INIT;
    gb_call *call = NULL;

    r.uri = gb_pb_bytes("/hello");
    req.request = &r;
    req.body_eof = 1;
    ck_assert_int_eq(gb_call_start(c, pool, GB_METHOD_HANDLE, 0, MIB, &call),
                     APR_SUCCESS);
    *rv = gb_call_send(call, &req.base, 1, 5 * SEC);
    return call;
}

/* A call on a pooled connection whose plugin died while it was idle: not
 * a byte of it left (the first write failed), so its fate is "refused",
 * and it is sent again on another connection whatever its method. */
START_TEST(dead_idle_connection_refuses)
{
    Gobridge__V1__HandleResponse *m;
    gb_call *call;
    apr_status_t rv;
    peer_t pe;
    gb_conn *c;

    ck_assert_int_eq(peer_start(&pe, "lost.sock"), 0);
    c = acquire(pe.path);
    phase_ok(c);
    peer_kill(&pe, SIGKILL);

    call = hello_call(c, &rv);
    if (rv == APR_SUCCESS) {
        rv = recv_resp(call, pool, 5 * SEC, &m);
    }
    ck_assert_msg(rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv),
                  "call to a killed plugin: %d; want a lost connection", rv);
    ck_assert_int_eq(gb_call_fate_of(call), GB_CALL_REFUSED);
    gb_call_cancel(call);
    release(c, 0);
    unlink(pe.path);
}
END_TEST

/* Scripted peers, for the moments grpc-go cannot be stopped at: a unix
 * listener that accepts one connection, sends SETTINGS, says so on
 * *ready, waits for a byte on *go and then does what mode says. */
typedef enum {
    /* GOAWAY (last stream 0) and close without reading anything: a plugin
     * stopping with our new stream unread. */
    SCRIPT_GOAWAY_UNREAD,
    /* Read what we sent and close without a word: a plugin dying after it
     * took a call. */
    SCRIPT_READ_THEN_CLOSE
} script_mode;

static void script_run(int cs, script_mode mode)
{
    static const unsigned char goaway[17] = { 0, 0, 8, 7, 0, 0, 0, 0, 0,
                                              0, 0, 0, 0, 0, 0, 0, 0 };
    char buf[65536];

    if (mode == SCRIPT_GOAWAY_UNREAD) {
        if (write(cs, goaway, sizeof(goaway)) != sizeof(goaway)) {
            _exit(1);
        }
        return;
    }
    fcntl(cs, F_SETFL, O_NONBLOCK);
    while (read(cs, buf, sizeof(buf)) > 0) {
    }
}

static pid_t scripted_peer(const char *path, script_mode mode, int *go,
                           int *ready)
{
    static const unsigned char settings[9] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int ls = socket(AF_UNIX, SOCK_STREAM, 0), fds[2], said[2];
    pid_t pid;

    ck_assert_int_ge(ls, 0);
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    unlink(path);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(ls, 1), 0);
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pipe(said), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int cs = accept(ls, NULL, NULL);
        char ch;

        if (cs < 0 || write(cs, settings, sizeof(settings)) != sizeof(settings)
            || write(said[1], "s", 1) != 1 || read(fds[0], &ch, 1) != 1) {
            _exit(1);
        }
        script_run(cs, mode);
        close(cs);
        _exit(0);
    }
    close(ls);
    close(fds[0]);
    close(said[1]);
    *go = fds[1];
    *ready = said[0];
    return pid;
}

/* Connects to a scripted peer and takes the connection from the pool once,
 * which reads the peer's SETTINGS: the plugin has spoken on it, as one
 * that served calls before has. */
static gb_conn *scripted_acquire(const char *path, int ready)
{
    gb_conn *c = acquire(path);
    char ch;

    ck_assert_int_eq(read(ready, &ch, 1), 1);   /* its SETTINGS are sent */
    close(ready);
    release(c, 1);
    c = acquire(path);
    ck_assert(gb_h2_heard(gb_conn_session(c)));
    return c;
}

/* Tells the scripted peer to act and waits until it has (and is gone). */
static void scripted_go(pid_t pid, int go)
{
    int status;

    ck_assert_int_eq(write(go, "x", 1), 1);
    close(go);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "scripted peer: status %d", status);
}

/* A plugin that stops closes a connection whose first call it has not
 * read yet, right after its GOAWAY; the kernel then fails our next write
 * with ECONNRESET ahead of that GOAWAY. The call must come out "refused"
 * (safe to send again on another connection), not "lost" — a body filter
 * caught there failed a request in a graceful deploy. Here the call's own
 * first write is the one that fails; the GOAWAY must still be read. */
START_TEST(goaway_then_close_is_refused)
{
    char path[128];
    gb_call *call;
    apr_status_t rv;
    gb_conn *c;
    int go, ready;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/scripted.sock", sockdir);
    pid = scripted_peer(path, SCRIPT_GOAWAY_UNREAD, &go, &ready);
    c = scripted_acquire(path, ready);
    scripted_go(pid, go);

    call = hello_call(c, &rv);
    ck_assert_msg(rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv),
                  "call on a closed connection: %d; want a failure", rv);
    ck_assert(gb_h2_got_goaway(gb_conn_session(c)));
    ck_assert_int_eq(gb_call_fate_of(call), GB_CALL_REFUSED);
    gb_call_cancel(call);
    release(c, 0);
    unlink(path);
}
END_TEST

/* A plugin that took the call and died before answering: the call left,
 * so it may have run; its fate is "lost before any answer", sent again
 * only for a request that may run twice. */
START_TEST(taken_then_closed_is_lost)
{
    Gobridge__V1__HandleResponse *m;
    char path[128];
    gb_call *call;
    apr_status_t rv;
    gb_conn *c;
    int go, ready;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/taken.sock", sockdir);
    pid = scripted_peer(path, SCRIPT_READ_THEN_CLOSE, &go, &ready);
    c = scripted_acquire(path, ready);
    call = hello_call(c, &rv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    scripted_go(pid, go);

    rv = recv_resp(call, pool, 5 * SEC, &m);
    ck_assert_msg(rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv),
                  "call to a plugin that closed: %d; want a failure", rv);
    ck_assert_int_eq(gb_call_fate_of(call), GB_CALL_LOST_UNANSWERED);
    gb_call_cancel(call);
    release(c, 0);
    unlink(path);
}
END_TEST

/* When a failed call is sent again: what gb_rpc and the handler ask. */
START_TEST(resend_rule)
{
    static const struct {
        gb_call_fate fate;
        int sent, reused, idempotent, want;
    } t[] = {
        { GB_CALL_REFUSED, 1, 0, 0, 1 },    /* not processed: even a POST */
        { GB_CALL_REFUSED, 2, 0, 0, 1 },    /* refused again: still stopping */
        { GB_CALL_REFUSED, GB_CALL_SENDS, 1, 1, 0 },    /* bounded */
        { GB_CALL_LOST_UNANSWERED, 1, 1, 1, 1 },        /* idle close */
        { GB_CALL_LOST_UNANSWERED, 1, 1, 0, 0 },        /* may not run twice */
        { GB_CALL_LOST_UNANSWERED, 1, 0, 1, 0 },        /* fresh: a crash */
        { GB_CALL_LOST_UNANSWERED, 2, 1, 1, 0 },        /* only once */
        { GB_CALL_SEEN, 1, 1, 1, 0 },                   /* answered */
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ck_assert_msg(gb_call_may_resend(t[i].fate, t[i].sent, t[i].reused,
                                         t[i].idempotent) == t[i].want,
                      "case %lu: fate %d after %d sends (reused %d, "
                      "idempotent %d): want %d", (unsigned long)i,
                      (int)t[i].fate, t[i].sent, t[i].reused,
                      t[i].idempotent, t[i].want);
    }
}
END_TEST

Suite *gb_test_transport_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("grpcpeer");

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, unary_round_trip);
    tcase_add_test(tc, stream_echo_10mib);
    tcase_add_test(tc, download_50mib_bounded_memory);
    tcase_add_test(tc, timeout_is_prompt);
    tcase_add_test(tc, grpc_error_decoded);
    tcase_add_test(tc, oversized_message_refused);
    tcase_add_test(tc, connection_reuse);
    tcase_add_test(tc, peer_killed_fails_fast);
    tcase_add_test(tc, goaway_reconnects);
    tcase_add_test(tc, close_mid_stream);
    tcase_add_test(tc, dead_idle_connection_refuses);
    tcase_add_test(tc, goaway_then_close_is_refused);
    tcase_add_test(tc, taken_then_closed_is_lost);
    tcase_add_test(tc, resend_rule);
    suite_add_tcase(s, tc);
    return s;
}
