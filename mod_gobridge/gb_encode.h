/* gb_encode.h: packing messages for the wire, the snapshot by hand.
 *
 * protobuf-c sizes and packs a message by walking its descriptor, twice;
 * the request snapshot (Request: 45 fields, its Connection, Server, TLS and
 * header pairs) goes with nearly every call, and that walk was half of the
 * module's own instructions per request (bench/README.md). Here Request is
 * encoded by code written for it, in field order, with protobuf-c's rules
 * (proto3: empty bytes, zero numbers, false and NULL sub-messages left
 * out), so that its bytes are protobuf-c's own (test/test_encode.c checks
 * it); every other message, and the message around the snapshot, is still
 * packed by protobuf-c. */
#ifndef GB_ENCODE_H
#define GB_ENCODE_H

#include <apr.h>
#include <apr_pools.h>
#include <protobuf-c/protobuf-c.h>

#include "gen/gobridge/v1/gobridge.pb-c.h"

/* The size of msg on the wire, and packing it into out (which has room
 * for that size). Messages holding a Request in a field named "request"
 * have it encoded by hand; the field may come last on the wire, which any
 * protobuf decoder accepts. msg is changed while packing and restored. */
apr_size_t gb_encode_size(ProtobufCMessage *msg);
apr_size_t gb_encode_pack(ProtobufCMessage *msg, unsigned char *out);

/* Request alone, by hand: its size, and packing it into out. */
apr_size_t gb_encode_request_size(const Gobridge__V1__Request *m);
unsigned char *gb_encode_request(const Gobridge__V1__Request *m,
                                 unsigned char *out);

/* Packs msg once, into p, as one protobuf-c unknown-field entry: attached
 * to another message of msg's type (its unknown_fields), msg's fields are
 * written after that message's own, by protobuf-c and by the hand encoder
 * alike: one occurrence of the message with all the fields, in an order
 * every decoder accepts. For what is the same on every request (a
 * server's facts), packed per child instead of per call. Returns 0 (and
 * leaves uf alone) when msg packs to nothing. */
int gb_encode_fixed(apr_pool_t *p, const ProtobufCMessage *msg,
                    ProtobufCMessageUnknownField *uf);

#endif /* GB_ENCODE_H */
