/* fuzz_grpc.c: libFuzzer target for the gRPC codec (gb_grpc.c).
 *
 * Input layout: byte 0 picks max_message (small, to reach APR_ENOSPC);
 * byte 1 seeds the chunk sizes; the rest is split in two at byte 2's
 * position: a DATA stream fed to the reassembler in arbitrary chunks, and
 * header material for gb_grpc_status_header / gb_grpc_percent_decode.
 * Checks the reader's invariants: every message handed over has the
 * announced length, and a clean boundary after a full feed means no
 * partial message is held.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "gb_grpc.h"
#include "gb_call.h"

static apr_pool_t *root;

typedef struct {
    apr_size_t msgs;
    apr_size_t bytes;
    apr_size_t max;
} fz_count;

static apr_status_t fz_on_msg(void *baton, unsigned char *data,
                              apr_size_t len)
{
    fz_count *c = baton;

    if (len > c->max || (len > 0) != (data != NULL)) {
        abort();
    }
    if (len) {
        /* Touch every byte: ASan checks the allocation is that long. */
        volatile unsigned char x = data[0] ^ data[len - 1];
        (void)x;
    }
    c->msgs++;
    c->bytes += len;
    free(data);
    /* Stop the feed now and then, as gb_call does on ENOMEM. */
    return (c->msgs % 97 == 0) ? APR_EGENERAL : APR_SUCCESS;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

static const char *const fz_names[] = {
    ":status", "grpc-status", "grpc-message", "content-type", "x-other"
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const apr_size_t maxes[] = { 0, 1, 5, 100, 4096, 65536 };
    gb_grpc_reader rd;
    gb_grpc_status st;
    fz_count cnt;
    apr_pool_t *p;
    apr_size_t split, off, chunk_seed;
    const uint8_t *hdr;
    size_t hlen;
    const char *msg = NULL;
    int code;

    if (size < 3) {
        return 0;
    }
    apr_pool_create(&p, root);
    memset(&cnt, 0, sizeof(cnt));
    cnt.max = maxes[data[0] % (sizeof(maxes) / sizeof(maxes[0]))];
    chunk_seed = data[1];
    split = 3 + (size - 3) * data[2] / 256;
    gb_grpc_reader_init(&rd, cnt.max);

    /* The DATA stream, in chunks of 1..chunk_seed+1 bytes (varying). */
    off = 3;
    while (off < split) {
        apr_size_t n = 1 + (chunk_seed + off * 7) % (chunk_seed + 1);
        apr_status_t rv;

        if (n > split - off) {
            n = split - off;
        }
        rv = gb_grpc_reader_feed(&rd, data + off, n, fz_on_msg, &cnt);
        off += n;
        if (rv != APR_SUCCESS) {
            /* Documented: unusable until cleared. gb_call stops here. */
            break;
        }
    }
    (void)gb_grpc_reader_idle(&rd);
    gb_grpc_reader_clear(&rd);
    if (!gb_grpc_reader_idle(&rd)) {
        abort();
    }

    /* Header material: records of [name index][len][value...]. */
    gb_grpc_status_init(&st);
    hdr = data + split;
    hlen = size - split;
    while (hlen >= 2) {
        const char *name = fz_names[hdr[0] % 5];
        size_t vlen = hdr[1];
        char *dec;

        hdr += 2;
        hlen -= 2;
        if (vlen > hlen) {
            vlen = hlen;
        }
        gb_grpc_status_header(&st, p, name, strlen(name),
                              (const char *)hdr, vlen);
        dec = gb_grpc_percent_decode(p, (const char *)hdr, vlen);
        if (strlen(dec) > vlen) {
            abort();
        }
        hdr += vlen;
        hlen -= vlen;
    }
    code = gb_grpc_status_final(&st, data[1] % 14, p, &msg);
    if (code < 0 || (!msg && st.grpc_status < 0)) {
        abort();
    }
    /* grpc-timeout encoding: never shorter than asked, at most 8 digits. */
    {
        apr_uint64_t u = 0;
        apr_int64_t t;
        const char *enc;
        size_t i;

        for (i = 0; i < 8 && i < size; i++) {
            u = (u << 8) | data[size - 1 - i];
        }
        t = (apr_int64_t)u;
        enc = gb_grpc_timeout_encode(p, (apr_interval_time_t)t);
        if ((t > 0) != (enc != NULL) || (enc && strlen(enc) > 9)) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
