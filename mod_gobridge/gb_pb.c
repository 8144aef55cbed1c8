/* gb_pb.c: protobuf-c on APR pools. */
#include "gb_private.h"
#include "gb_pb.h"

static void *gb_pb_alloc(void *data, size_t size)
{
    /* apr_palloc(0) is legal but protobuf-c never asks for it; keep
     * a non-NULL answer anyway so a zero-size alloc is not an OOM. */
    return apr_palloc((apr_pool_t *)data, size ? size : 1);
}

static void gb_pb_free(void *data, void *ptr)
{
    /* The pool frees everything at once. */
    (void)data;
    (void)ptr;
}

void gb_pb_allocator(ProtobufCAllocator *a, apr_pool_t *p)
{
    a->alloc = gb_pb_alloc;
    a->free = gb_pb_free;
    a->allocator_data = p;
}

ProtobufCBinaryData gb_pb_bytes(const char *s)
{
    ProtobufCBinaryData b;

    b.data = (uint8_t *)(s ? s : "");
    b.len = s ? strlen(s) : 0;
    return b;
}

ProtobufCBinaryData gb_pb_bytesn(const char *s, apr_size_t n)
{
    ProtobufCBinaryData b;

    b.data = (uint8_t *)(s ? s : "");
    b.len = s ? n : 0;
    return b;
}

char *gb_pb_strdup(apr_pool_t *p, ProtobufCBinaryData b)
{
    return apr_pstrmemdup(p, (const char *)(b.data ? b.data : (uint8_t *)""),
                          b.data ? b.len : 0);
}
