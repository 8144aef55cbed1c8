/* gb_encode.c: the request snapshot encoded by hand (see gb_encode.h). */
#include <stdlib.h>
#include <string.h>

#include "gb_encode.h"

#define WT_VARINT 0
#define WT_LEN    2

static apr_size_t varint_size(apr_uint64_t v)
{
    apr_size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static unsigned char *put_varint(unsigned char *p, apr_uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static apr_size_t tag_size(unsigned field)
{
    return varint_size((apr_uint64_t)field << 3);
}

static unsigned char *put_tag(unsigned char *p, unsigned field, unsigned wt)
{
    return put_varint(p, ((apr_uint64_t)field << 3) | wt);
}

/* A length-delimited field of n bytes: tag, length, content. */
static apr_size_t len_field_size(unsigned field, apr_size_t n)
{
    return tag_size(field) + varint_size(n) + n;
}

/* Singular fields, left out when zero or empty (proto3). int32 and int64
 * are sign-extended to 64 bits, as protobuf-c and every encoder do. */
static apr_size_t bytes_size(unsigned field, ProtobufCBinaryData b)
{
    return b.len ? len_field_size(field, b.len) : 0;
}

static unsigned char *put_bytes(unsigned char *p, unsigned field,
                                ProtobufCBinaryData b)
{
    if (!b.len) {
        return p;
    }
    p = put_tag(p, field, WT_LEN);
    p = put_varint(p, b.len);
    memcpy(p, b.data, b.len);
    return p + b.len;
}

static apr_size_t uint_size(unsigned field, apr_uint64_t v)
{
    return v ? tag_size(field) + varint_size(v) : 0;
}

static unsigned char *put_uint(unsigned char *p, unsigned field, apr_uint64_t v)
{
    if (!v) {
        return p;
    }
    p = put_tag(p, field, WT_VARINT);
    return put_varint(p, v);
}

#define int_size(f, v) uint_size((f), (apr_uint64_t)(apr_int64_t)(v))
#define put_int(p, f, v) put_uint((p), (f), (apr_uint64_t)(apr_int64_t)(v))
#define bool_size(f, v) uint_size((f), (v) ? 1 : 0)
#define put_bool(p, f, v) put_uint((p), (f), (v) ? 1 : 0)

/* Repeated bytes: every element, empty ones too. */
static apr_size_t rbytes_size(unsigned field, size_t n,
                              const ProtobufCBinaryData *v)
{
    apr_size_t s = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        s += len_field_size(field, v[i].len);
    }
    return s;
}

static unsigned char *put_rbytes(unsigned char *p, unsigned field, size_t n,
                                 const ProtobufCBinaryData *v)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p = put_tag(p, field, WT_LEN);
        p = put_varint(p, v[i].len);
        memcpy(p, v[i].data, v[i].len);
        p += v[i].len;
    }
    return p;
}

/* Pair. */
static apr_size_t pair_body(const Gobridge__V1__Pair *m)
{
    return bytes_size(1, m->key) + bytes_size(2, m->value);
}

static apr_size_t pairs_size(unsigned field, size_t n,
                             Gobridge__V1__Pair *const *v)
{
    apr_size_t s = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        s += len_field_size(field, pair_body(v[i]));
    }
    return s;
}

static unsigned char *put_pairs(unsigned char *p, unsigned field, size_t n,
                                Gobridge__V1__Pair *const *v)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p = put_tag(p, field, WT_LEN);
        p = put_varint(p, pair_body(v[i]));
        p = put_bytes(p, 1, v[i]->key);
        p = put_bytes(p, 2, v[i]->value);
    }
    return p;
}

/* TLS, Connection, Server. */
static apr_size_t tls_body(const Gobridge__V1__TLS *m)
{
    return bytes_size(1, m->protocol) + bytes_size(2, m->cipher)
         + bytes_size(3, m->sni) + bytes_size(4, m->client_verify)
         + bytes_size(5, m->client_subject) + bytes_size(6, m->client_issuer)
         + bytes_size(7, m->client_serial);
}

static unsigned char *put_tls(unsigned char *p, const Gobridge__V1__TLS *m)
{
    p = put_bytes(p, 1, m->protocol);
    p = put_bytes(p, 2, m->cipher);
    p = put_bytes(p, 3, m->sni);
    p = put_bytes(p, 4, m->client_verify);
    p = put_bytes(p, 5, m->client_subject);
    p = put_bytes(p, 6, m->client_issuer);
    return put_bytes(p, 7, m->client_serial);
}

static apr_size_t conn_body(const Gobridge__V1__Connection *m)
{
    return bytes_size(1, m->remote_ip) + uint_size(2, m->remote_port)
         + bytes_size(3, m->local_ip) + uint_size(4, m->local_port)
         + bytes_size(5, m->useragent_ip) + bool_size(6, m->secure)
         + uint_size(7, m->id) + uint_size(8, m->keepalives)
         + pairs_size(9, m->n_notes, m->notes)
         + (m->tls ? len_field_size(10, tls_body(m->tls)) : 0);
}

static unsigned char *put_conn(unsigned char *p,
                               const Gobridge__V1__Connection *m)
{
    p = put_bytes(p, 1, m->remote_ip);
    p = put_uint(p, 2, m->remote_port);
    p = put_bytes(p, 3, m->local_ip);
    p = put_uint(p, 4, m->local_port);
    p = put_bytes(p, 5, m->useragent_ip);
    p = put_bool(p, 6, m->secure);
    p = put_uint(p, 7, m->id);
    p = put_uint(p, 8, m->keepalives);
    p = put_pairs(p, 9, m->n_notes, m->notes);
    if (m->tls) {
        p = put_tag(p, 10, WT_LEN);
        p = put_varint(p, tls_body(m->tls));
        p = put_tls(p, m->tls);
    }
    return p;
}

/* Fields carried already encoded, as protobuf-c's unknown fields (see
 * gb_encode_fixed): written last, tag then data, as protobuf-c does. */
static apr_size_t unknown_size(const ProtobufCMessage *m)
{
    apr_size_t i, n = 0;

    for (i = 0; i < m->n_unknown_fields; i++) {
        n += tag_size(m->unknown_fields[i].tag) + m->unknown_fields[i].len;
    }
    return n;
}

static unsigned char *put_unknown(unsigned char *p, const ProtobufCMessage *m)
{
    apr_size_t i;

    for (i = 0; i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *uf = &m->unknown_fields[i];

        p = put_tag(p, uf->tag, uf->wire_type);
        memcpy(p, uf->data, uf->len);
        p += uf->len;
    }
    return p;
}

int gb_encode_fixed(apr_pool_t *p, const ProtobufCMessage *msg,
                    ProtobufCMessageUnknownField *uf)
{
    apr_size_t n = protobuf_c_message_get_packed_size(msg), i = 0;
    apr_uint64_t tag = 0;
    unsigned char *b;

    if (n == 0) {
        return 0;
    }
    b = apr_palloc(p, n);
    protobuf_c_message_pack(msg, b);
    /* The first field's tag becomes the entry's; its value and every
     * other field are the entry's data, so tag + data is msg's bytes. */
    do {
        tag |= (apr_uint64_t)(b[i] & 0x7f) << (7 * i);
    } while (b[i++] & 0x80);
    uf->tag = (uint32_t)(tag >> 3);
    uf->wire_type = (ProtobufCWireType)(tag & 7);
    uf->data = b + i;
    uf->len = n - i;
    return 1;
}

static apr_size_t server_body(const Gobridge__V1__Server *m)
{
    return bytes_size(1, m->hostname) + uint_size(2, m->port)
         + bytes_size(3, m->admin) + bytes_size(4, m->document_root)
         + rbytes_size(5, m->n_aliases, m->aliases)
         + bool_size(6, m->is_virtual) + bool_size(7, m->is_default)
         + rbytes_size(8, m->n_defines, m->defines)
         + pairs_size(9, m->n_options, m->options)
         + bytes_size(10, m->defined_in) + uint_size(11, m->defined_at)
         + bytes_size(12, m->error_log) + bytes_size(13, m->log_level)
         + int_size(14, m->timeout_us) + bool_size(15, m->keep_alive)
         + int_size(16, m->keep_alive_timeout_us)
         + int_size(17, m->keep_alive_max)
         + int_size(18, m->limit_request_line)
         + int_size(19, m->limit_request_fieldsize)
         + int_size(20, m->limit_request_fields)
         + unknown_size(&m->base);
}

static unsigned char *put_server(unsigned char *p,
                                 const Gobridge__V1__Server *m)
{
    p = put_bytes(p, 1, m->hostname);
    p = put_uint(p, 2, m->port);
    p = put_bytes(p, 3, m->admin);
    p = put_bytes(p, 4, m->document_root);
    p = put_rbytes(p, 5, m->n_aliases, m->aliases);
    p = put_bool(p, 6, m->is_virtual);
    p = put_bool(p, 7, m->is_default);
    p = put_rbytes(p, 8, m->n_defines, m->defines);
    p = put_pairs(p, 9, m->n_options, m->options);
    p = put_bytes(p, 10, m->defined_in);
    p = put_uint(p, 11, m->defined_at);
    p = put_bytes(p, 12, m->error_log);
    p = put_bytes(p, 13, m->log_level);
    p = put_int(p, 14, m->timeout_us);
    p = put_bool(p, 15, m->keep_alive);
    p = put_int(p, 16, m->keep_alive_timeout_us);
    p = put_int(p, 17, m->keep_alive_max);
    p = put_int(p, 18, m->limit_request_line);
    p = put_int(p, 19, m->limit_request_fieldsize);
    p = put_int(p, 20, m->limit_request_fields);
    return put_unknown(p, &m->base);
}

/* Request: every field in field-number order. */
apr_size_t gb_encode_request_size(const Gobridge__V1__Request *m)
{
    return bytes_size(1, m->method) + bytes_size(2, m->protocol)
         + bytes_size(3, m->the_request) + bytes_size(4, m->unparsed_uri)
         + bytes_size(5, m->uri) + bytes_size(6, m->args)
         + bytes_size(7, m->path_info) + bytes_size(8, m->filename)
         + bytes_size(9, m->hostname)
         + pairs_size(10, m->n_headers_in, m->headers_in)
         + bytes_size(11, m->user) + bytes_size(12, m->auth_type)
         + int_size(13, m->request_time_us) + bytes_size(14, m->handler)
         + bytes_size(15, m->content_type) + int_size(16, m->content_length)
         + bool_size(17, m->has_body)
         + pairs_size(18, m->n_options, m->options)
         + bytes_size(19, m->plugin) + bytes_size(20, m->log_id)
         + bytes_size(21, m->location)
         + (m->connection ? len_field_size(22, conn_body(m->connection)) : 0)
         + (m->server ? len_field_size(23, server_body(m->server)) : 0)
         + pairs_size(24, m->n_notes, m->notes)
         + pairs_size(25, m->n_subprocess_env, m->subprocess_env)
         + bool_size(26, m->is_subrequest)
         + bool_size(27, m->is_internal_redirect)
         + bytes_size(28, m->scheme) + int_size(29, m->status)
         + bytes_size(30, m->status_line)
         + bytes_size(31, m->content_encoding)
         + rbytes_size(32, m->n_content_languages, m->content_languages)
         + int_size(33, m->mtime_us) + bool_size(34, m->no_cache)
         + bytes_size(35, m->canonical_filename)
         + pairs_size(36, m->n_headers_out, m->headers_out)
         + pairs_size(37, m->n_err_headers_out, m->err_headers_out)
         + bool_size(38, m->was_redirected) + bytes_size(39, m->main_uri)
         + bytes_size(40, m->prev_uri) + int_size(41, m->prev_status)
         + int_size(42, m->bytes_sent)
         + rbytes_size(43, m->n_allowed_methods, m->allowed_methods)
         + bytes_size(44, m->auth_name) + bytes_size(45, m->remote_host)
         + bytes_size(46, m->files);
}

unsigned char *gb_encode_request(const Gobridge__V1__Request *m,
                                 unsigned char *p)
{
    p = put_bytes(p, 1, m->method);
    p = put_bytes(p, 2, m->protocol);
    p = put_bytes(p, 3, m->the_request);
    p = put_bytes(p, 4, m->unparsed_uri);
    p = put_bytes(p, 5, m->uri);
    p = put_bytes(p, 6, m->args);
    p = put_bytes(p, 7, m->path_info);
    p = put_bytes(p, 8, m->filename);
    p = put_bytes(p, 9, m->hostname);
    p = put_pairs(p, 10, m->n_headers_in, m->headers_in);
    p = put_bytes(p, 11, m->user);
    p = put_bytes(p, 12, m->auth_type);
    p = put_int(p, 13, m->request_time_us);
    p = put_bytes(p, 14, m->handler);
    p = put_bytes(p, 15, m->content_type);
    p = put_int(p, 16, m->content_length);
    p = put_bool(p, 17, m->has_body);
    p = put_pairs(p, 18, m->n_options, m->options);
    p = put_bytes(p, 19, m->plugin);
    p = put_bytes(p, 20, m->log_id);
    p = put_bytes(p, 21, m->location);
    if (m->connection) {
        p = put_tag(p, 22, WT_LEN);
        p = put_varint(p, conn_body(m->connection));
        p = put_conn(p, m->connection);
    }
    if (m->server) {
        p = put_tag(p, 23, WT_LEN);
        p = put_varint(p, server_body(m->server));
        p = put_server(p, m->server);
    }
    p = put_pairs(p, 24, m->n_notes, m->notes);
    p = put_pairs(p, 25, m->n_subprocess_env, m->subprocess_env);
    p = put_bool(p, 26, m->is_subrequest);
    p = put_bool(p, 27, m->is_internal_redirect);
    p = put_bytes(p, 28, m->scheme);
    p = put_int(p, 29, m->status);
    p = put_bytes(p, 30, m->status_line);
    p = put_bytes(p, 31, m->content_encoding);
    p = put_rbytes(p, 32, m->n_content_languages, m->content_languages);
    p = put_int(p, 33, m->mtime_us);
    p = put_bool(p, 34, m->no_cache);
    p = put_bytes(p, 35, m->canonical_filename);
    p = put_pairs(p, 36, m->n_headers_out, m->headers_out);
    p = put_pairs(p, 37, m->n_err_headers_out, m->err_headers_out);
    p = put_bool(p, 38, m->was_redirected);
    p = put_bytes(p, 39, m->main_uri);
    p = put_bytes(p, 40, m->prev_uri);
    p = put_int(p, 41, m->prev_status);
    p = put_int(p, 42, m->bytes_sent);
    p = put_rbytes(p, 43, m->n_allowed_methods, m->allowed_methods);
    p = put_bytes(p, 44, m->auth_name);
    p = put_bytes(p, 45, m->remote_host);
    return put_bytes(p, 46, m->files);
}

/* The "request" field of msg's type, if it has one holding a Request. */
static Gobridge__V1__Request **request_slot(ProtobufCMessage *msg,
                                            unsigned *field)
{
    const ProtobufCFieldDescriptor *f;

    f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
                                                        "request");
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE
        || f->label == PROTOBUF_C_LABEL_REPEATED
        || f->descriptor != &gobridge__v1__request__descriptor) {
        return NULL;
    }
    *field = f->id;
    return (Gobridge__V1__Request **)((char *)msg + f->offset);
}

/* While packing, the snapshot rides as protobuf-c's one "unknown field":
 * protobuf-c writes its tag and bytes as they are. */
typedef struct {
    Gobridge__V1__Request **slot;
    Gobridge__V1__Request *req;
    ProtobufCMessageUnknownField uf;
    unsigned char lenbuf[10];
    apr_size_t body;
} gb_splice;

static int splice_begin(ProtobufCMessage *msg, gb_splice *s)
{
    unsigned field;

    s->slot = request_slot(msg, &field);
    if (!s->slot || !*s->slot || msg->n_unknown_fields) {
        return 0;
    }
    s->req = *s->slot;
    s->body = gb_encode_request_size(s->req);
    s->uf.tag = field;
    s->uf.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    s->uf.len = (size_t)(put_varint(s->lenbuf, s->body) - s->lenbuf)
                + s->body;
    s->uf.data = NULL;      /* size only, until gb_encode_pack */
    *s->slot = NULL;
    msg->n_unknown_fields = 1;
    msg->unknown_fields = &s->uf;
    return 1;
}

static void splice_end(ProtobufCMessage *msg, gb_splice *s)
{
    *s->slot = s->req;
    msg->n_unknown_fields = 0;
    msg->unknown_fields = NULL;
}

apr_size_t gb_encode_size(ProtobufCMessage *msg)
{
    gb_splice s;
    apr_size_t n;

    if (!splice_begin(msg, &s)) {
        return protobuf_c_message_get_packed_size(msg);
    }
    n = protobuf_c_message_get_packed_size(msg);
    splice_end(msg, &s);
    return n;
}

apr_size_t gb_encode_pack(ProtobufCMessage *msg, unsigned char *out)
{
    gb_splice s;
    unsigned char *data, *p;
    apr_size_t n;

    if (!splice_begin(msg, &s)) {
        return protobuf_c_message_pack(msg, out);
    }
    /* protobuf-c copies an unknown field's bytes after the known fields:
     * they need a buffer of their own. */
    data = malloc(s.uf.len);
    if (!data) {
        splice_end(msg, &s);
        return 0;
    }
    p = put_varint(data, s.body);
    gb_encode_request(s.req, p);
    s.uf.data = data;
    n = protobuf_c_message_pack(msg, out);
    splice_end(msg, &s);
    free(data);
    return n;
}
