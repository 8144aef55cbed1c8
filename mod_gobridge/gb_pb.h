/* gb_pb.h: protobuf-c on APR pools. */
#ifndef GB_PB_H
#define GB_PB_H

#include <apr_pools.h>
#include <protobuf-c/protobuf-c.h>

#include "gen/gobridge/v1/gobridge.pb-c.h"

/* Fills *a with an allocator that takes memory from p and never frees
 * (the pool does). */
void gb_pb_allocator(ProtobufCAllocator *a, apr_pool_t *p);

/* ProtobufCBinaryData views of C strings (no copy; NULL gives empty). */
ProtobufCBinaryData gb_pb_bytes(const char *s);
ProtobufCBinaryData gb_pb_bytesn(const char *s, apr_size_t n);

/* A NUL-terminated pool copy of a bytes field. */
char *gb_pb_strdup(apr_pool_t *p, ProtobufCBinaryData b);

#endif /* GB_PB_H */
