/* SPDX-License-Identifier: MIT */
/* The postcard codec and the relay messages: every byte example of the
 * upstream protocol (spec outputs.md §8.2) encoded and decoded exactly, the
 * varint, zigzag, float, string and option encodings against postcard's
 * documented bytes, and the decoder's refusals of bad input. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>

#include "core/buffer.h"
#include "core/registry.h"
#include "plugins/relay/postcard.h"
#include "plugins/relay/relay-points.h"
#include "plugins/relay/relay-proto.h"

/* The spec's examples, byte for byte. */
static const uint8_t greet_node1[] = {0x00, 0x00, 0x00, 0x14, 0x05, 0x6e, 0x6f, 0x64,
                                      0x65, 0x31, 0x00, 0x05, 0x30, 0x2e, 0x39, 0x2e,
                                      0x35, 0x05, 0x30, 0x2e, 0x36, 0x2e, 0x30, 0x02};
static const uint8_t greet_response[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x01, 0x01,
                                         0x05, 0x30, 0x2e, 0x39, 0x2e, 0x35, 0x05,
                                         0x30, 0x2e, 0x36, 0x2e, 0x30, 0x02};
static const uint8_t register_rapl[] = {0x00, 0x00, 0x00, 0x22, 0x05, 0x6e, 0x6f, 0x64, 0x65, 0x31,
                                        0x02, 0x01, 0x00, 0x14, 0x72, 0x61, 0x70, 0x6c, 0x5f, 0x63,
                                        0x6f, 0x6e, 0x73, 0x75, 0x6d, 0x65, 0x64, 0x5f, 0x65, 0x6e,
                                        0x65, 0x72, 0x67, 0x79, 0x01, 0x01, 0x4a, 0x00};
static const uint8_t send_one[] = {
    0x00, 0x00, 0x00, 0x3f, 0x05, 0x6e, 0x6f, 0x64, 0x65, 0x31, 0x03, 0x01, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x0d, 0x6c, 0x6f, 0x63,
    0x61, 0x6c, 0x5f, 0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e, 0x65, 0x00, 0x07, 0x70, 0x72,
    0x6f, 0x63, 0x65, 0x73, 0x73, 0x02, 0x34, 0x32, 0x01, 0x06, 0x64, 0x6f, 0x6d, 0x61,
    0x69, 0x6e, 0x03, 0x07, 0x70, 0x61, 0x63, 0x6b, 0x61, 0x67, 0x65};

static void assert_bytes(const struct pc_writer *w, const uint8_t *want, size_t n)
{
    assert_int_equal(pc_writer_status(w), 0);
    if (w->len != n || memcmp(w->data, want, n) != 0) {
        fprintf(stderr, "expected %zu bytes:", n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x", want[i]);
        fprintf(stderr, "\n     got %zu bytes:", w->len);
        for (size_t i = 0; i < w->len; i++)
            fprintf(stderr, " %02x", w->data[i]);
        fprintf(stderr, "\n");
        fail();
    }
}

static void assert_str(struct relay_str s, const char *want)
{
    if (!relay_str_eq(s, want))
        fail_msg("expected '%s', got '%.*s'", want, (int)s.len, s.s);
}

/* A frame's body, after checking its big-endian length. */
static struct pc_reader frame_body(const uint8_t *frame, size_t n)
{
    assert_true(n >= 4);
    assert_int_equal(relay_be32(frame), n - 4);
    return pc_reader_of(frame + 4, n - 4);
}

/* The rest of a frame's body after its head, checking the head: sender and
 * kind. */
static struct pc_reader frame_after_head(const uint8_t *frame, size_t n, const char *sender,
                                         uint32_t kind)
{
    struct pc_reader r = frame_body(frame, n);
    struct relay_str got_sender;
    uint32_t got_kind;
    assert_int_equal(relay_decode_head(&r, &got_sender, &got_kind), 0);
    assert_str(got_sender, sender);
    assert_int_equal(got_kind, kind);
    return r;
}

/* ---- the spec's examples ---- */

static void test_greet(void **state)
{
    (void)state;
    struct pc_writer w = PC_WRITER_INIT;
    assert_int_equal(relay_encode_greet(&w, "node1", "0.9.5", "0.6.0", 2), 0);
    assert_bytes(&w, greet_node1, sizeof(greet_node1));
    pc_writer_done(&w);

    struct pc_reader r =
        frame_after_head(greet_node1, sizeof(greet_node1), "node1", RELAY_MSG_GREET);
    struct relay_greet g;
    assert_int_equal(relay_decode_greet(&r, &g), 0);
    assert_str(g.core_version, "0.9.5");
    assert_str(g.plugin_version, "0.6.0");
    assert_int_equal(g.protocol_version, 2);
    assert_int_equal(relay_decode_end(&r), 0);
}

static void test_greet_response(void **state)
{
    (void)state;
    struct pc_writer w = PC_WRITER_INIT;
    assert_int_equal(relay_encode_greet_response(&w, "", true, "0.9.5", "0.6.0", 2), 0);
    assert_bytes(&w, greet_response, sizeof(greet_response));
    pc_writer_done(&w);

    struct pc_reader r =
        frame_after_head(greet_response, sizeof(greet_response), "", RELAY_MSG_GREET_RESPONSE);
    struct relay_greet_response g;
    assert_int_equal(relay_decode_greet_response(&r, &g), 0);
    assert_true(g.accept);
    assert_str(g.core_version, "0.9.5");
    assert_str(g.plugin_version, "0.6.0");
    assert_int_equal(g.protocol_version, 2);
    assert_int_equal(relay_decode_end(&r), 0);
}

static void test_register_metrics(void **state)
{
    (void)state;
    /* from the registry, as the client sends it */
    struct alumet_registry *reg = alumet__registry_new();
    assert_non_null(reg);
    alumet_test_add_metric(reg, "rapl_consumed_energy", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    struct pc_writer w = PC_WRITER_INIT;
    assert_int_equal(relay_encode_registry(&w, "node1", reg, 0, 1), 0);
    assert_bytes(&w, register_rapl, sizeof(register_rapl));
    /* and from a metric view */
    pc_writer_clear(&w);
    struct relay_metric m = {0, {"rapl_consumed_energy", 20}, 1, {"J", 1}, {"", 0}};
    assert_int_equal(relay_encode_metrics(&w, "node1", &m, 1), 0);
    assert_bytes(&w, register_rapl, sizeof(register_rapl));
    pc_writer_done(&w);
    alumet__registry_free(reg);

    struct pc_reader r =
        frame_after_head(register_rapl, sizeof(register_rapl), "node1", RELAY_MSG_REGISTER_METRICS);
    size_t n;
    assert_int_equal(relay_decode_count(&r, 5, &n), 0);
    assert_int_equal(n, 1);
    struct relay_metric got;
    assert_int_equal(relay_decode_metric(&r, &got), 0);
    assert_int_equal(got.id, 0);
    assert_str(got.name, "rapl_consumed_energy");
    assert_int_equal(got.value_type, 1);
    assert_str(got.unit_base, "J");
    assert_str(got.unit_prefix, "");
    assert_int_equal(relay_decode_end(&r), 0);
}

static void test_send_measurements(void **state)
{
    (void)state;
    struct alumet_buffer *buf = alumet__buffer_new(4);
    assert_non_null(buf);
    struct alumet_consumer proc = {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL};
    struct alumet_point *p = alumet_buffer_push_f64(buf, ALUMET_NSEC_PER_SEC, 0,
                                                    &alumet_test_local_resource, &proc, 1.5);
    assert_non_null(p);
    alumet_test_add_str(buf, p, "domain", "package");
    struct pc_writer pts = PC_WRITER_INIT, w = PC_WRITER_INIT;
    relay_put_point(&pts, buf, alumet_buffer_get(buf, 0));
    assert_int_equal(relay_encode_send(&w, "node1", 1, pts.data, pts.len), 0);
    assert_bytes(&w, send_one, sizeof(send_one));
    pc_writer_done(&pts);
    pc_writer_done(&w);
    alumet__buffer_free(buf);

    struct pc_reader r =
        frame_after_head(send_one, sizeof(send_one), "node1", RELAY_MSG_SEND_MEASUREMENTS);
    struct relay_str key;
    size_t n;
    struct relay_point pt;
    struct relay_value v;
    assert_int_equal(relay_decode_count(&r, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(relay_decode_point(&r, &pt), 0);
    assert_int_equal(pt.metric_id, 0);
    assert_int_equal(pt.secs, 1);
    assert_int_equal(pt.nanos, 0);
    assert_int_equal(pt.value.tag, RELAY_VALUE_F64);
    assert_true(pt.value.f64 == 1.5);
    assert_str(pt.resource_kind, "local_machine");
    assert_str(pt.resource_id, "");
    assert_str(pt.consumer_kind, "process");
    assert_str(pt.consumer_id, "42");
    assert_int_equal(pt.attr_count, 1);
    assert_int_equal(relay_decode_attr(&r, &key, &v), 0);
    assert_str(key, "domain");
    assert_int_equal(v.tag, RELAY_VALUE_STR);
    assert_str(v.str, "package");
    assert_int_equal(relay_decode_end(&r), 0);
}

/* Every attribute type round-trips, a list included (bytes checked by hand:
 * key, tag 4, count 3, then the varints 1, 300 = ac 02, 2^64-1). */
static void test_attribute_types(void **state)
{
    (void)state;
    struct alumet_buffer *buf = alumet__buffer_new(4);
    struct alumet_point *p = alumet_test_push_u64(buf, 3, 7);
    static const uint64_t items[] = {1, 300, UINT64_MAX};
    struct alumet_attr list = {"l", ALUMET_ATTR_LIST_U64, {.list = {items, 3}}};
    assert_int_equal(alumet_point_add_attr(buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_bool(buf, p, "b", true), 0);
    assert_int_equal(alumet_point_add_attr_f64(buf, p, "f", -0.25), 0);
    assert_int_equal(alumet_point_add_attr_u64(buf, p, "u", 128), 0);
    struct pc_writer w = PC_WRITER_INIT;
    relay_put_point(&w, buf, alumet_buffer_get(buf, 0));
    static const uint8_t want_list[] = {0x01, 'l',  0x04, 0x03, 0x01, 0xac, 0x02, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    /* 03 (metric) 00 00 (t) 01 07 (U64 7), local_machine, "", local_machine, "", 04 attrs */
    size_t head = 1 + 2 + 2 + 14 + 1 + 14 + 1 + 1;
    assert_true(w.len > head + sizeof(want_list));
    assert_memory_equal(w.data + head, want_list, sizeof(want_list));

    struct pc_reader r = pc_reader_of(w.data, w.len);
    struct relay_point pt;
    struct relay_str key;
    struct relay_value v;
    uint64_t item;
    assert_int_equal(relay_decode_point(&r, &pt), 0);
    assert_int_equal(pt.metric_id, 3);
    assert_int_equal(pt.value.tag, RELAY_VALUE_U64);
    assert_int_equal(pt.value.u64, 7);
    assert_int_equal(pt.attr_count, 4);
    assert_int_equal(relay_decode_attr(&r, &key, &v), 0);
    assert_int_equal(v.tag, RELAY_VALUE_LIST_U64);
    assert_int_equal(v.list_len, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pc_get_varint(&v.list, &item), 0);
        assert_true(item == items[i]);
    }
    assert_int_equal(relay_decode_attr(&r, &key, &v), 0);
    assert_int_equal(v.tag, RELAY_VALUE_BOOL);
    assert_true(v.b);
    assert_int_equal(relay_decode_attr(&r, &key, &v), 0);
    assert_int_equal(v.tag, RELAY_VALUE_F64);
    assert_true(v.f64 == -0.25);
    assert_int_equal(relay_decode_attr(&r, &key, &v), 0);
    assert_int_equal(v.tag, RELAY_VALUE_U64);
    assert_int_equal(v.u64, 128);
    assert_int_equal(relay_decode_end(&r), 0);
    pc_writer_done(&w);
    alumet__buffer_free(buf);
}

/* ---- postcard primitives ---- */

static void check_varint(uint64_t v, const uint8_t *want, size_t n)
{
    struct pc_writer w = PC_WRITER_INIT;
    pc_put_varint(&w, v);
    assert_bytes(&w, want, n);
    assert_int_equal(pc_varint_len(v), n);
    struct pc_reader r = pc_reader_of(want, n);
    uint64_t got;
    assert_int_equal(pc_get_varint(&r, &got), 0);
    assert_true(got == v);
    assert_int_equal(pc_remaining(&r), 0);
    pc_writer_done(&w);
}

static void test_varint(void **state)
{
    (void)state;
    check_varint(0, (const uint8_t[]){0x00}, 1);
    check_varint(127, (const uint8_t[]){0x7f}, 1);
    check_varint(128, (const uint8_t[]){0x80, 0x01}, 2);
    check_varint(300, (const uint8_t[]){0xac, 0x02}, 2);
    check_varint(16384, (const uint8_t[]){0x80, 0x80, 0x01}, 3);
    check_varint(UINT32_MAX, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);
    check_varint(UINT64_MAX,
                 (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);
}

static void test_varint_refused(void **state)
{
    (void)state;
    uint64_t v;
    uint32_t v32;
    /* 11 bytes */
    struct pc_reader r = pc_reader_of(
        (const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 11);
    assert_int_equal(pc_get_varint(&r, &v), -EBADMSG);
    assert_string_equal(r.err, "varint too long");
    /* 2^64: the 10th byte may only hold one bit */
    r = pc_reader_of((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02},
                     10);
    assert_int_equal(pc_get_varint(&r, &v), -EBADMSG);
    assert_string_equal(r.err, "varint out of range");
    /* u32: 2^32 does not fit, 6 bytes are too many */
    r = pc_reader_of((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x10}, 5);
    assert_int_equal(pc_get_varint32(&r, &v32), -EBADMSG);
    assert_string_equal(r.err, "varint out of range");
    r = pc_reader_of((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 6);
    assert_int_equal(pc_get_varint32(&r, &v32), -EBADMSG);
    assert_string_equal(r.err, "varint too long");
    /* cut in the middle */
    r = pc_reader_of((const uint8_t[]){0x80}, 1);
    assert_int_equal(pc_get_varint(&r, &v), -EBADMSG);
    assert_string_equal(r.err, "unexpected end of message");
}

static void test_zigzag(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        uint8_t b[10];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {-1, {0x01}, 1},
        {1, {0x02}, 1},
        {-64, {0x7f}, 1},
        {64, {0x80, 0x01}, 2},
        {INT64_MAX, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
        {INT64_MIN, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pc_writer w = PC_WRITER_INIT;
        pc_put_zigzag(&w, cases[i].v);
        assert_bytes(&w, cases[i].b, cases[i].n);
        struct pc_reader r = pc_reader_of(cases[i].b, cases[i].n);
        int64_t got;
        assert_int_equal(pc_get_zigzag(&r, &got), 0);
        assert_true(got == cases[i].v);
        pc_writer_done(&w);
    }
}

static void test_scalars_strings_options(void **state)
{
    (void)state;
    struct pc_writer w = PC_WRITER_INIT;
    pc_put_f64(&w, 1.5);
    pc_put_bool(&w, true);
    pc_put_bool(&w, false);
    pc_put_cstr(&w, "é");
    pc_put_cstr(&w, NULL);
    pc_put_option(&w, false);
    pc_put_option(&w, true);
    pc_put_u8(&w, 9);
    static const uint8_t want[] = {0,    0,    0,    0,    0,    0,    0xf8, 0x3f, 0x01,
                                   0x00, 0x02, 0xc3, 0xa9, 0x00, 0x00, 0x01, 0x09};
    assert_bytes(&w, want, sizeof(want));
    struct pc_reader r = pc_reader_of(w.data, w.len);
    double f;
    bool b, present;
    const char *s;
    size_t len;
    uint8_t u;
    assert_int_equal(pc_get_f64(&r, &f), 0);
    assert_true(f == 1.5);
    assert_int_equal(pc_get_bool(&r, &b), 0);
    assert_true(b);
    assert_int_equal(pc_get_bool(&r, &b), 0);
    assert_false(b);
    assert_int_equal(pc_get_str(&r, &s, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "é", 2);
    assert_int_equal(pc_get_str(&r, &s, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(pc_get_option(&r, &present), 0);
    assert_false(present);
    assert_int_equal(pc_get_option(&r, &present), 0);
    assert_true(present);
    assert_int_equal(pc_get_u8(&r, &u), 0);
    assert_int_equal(u, 9);
    assert_int_equal(pc_remaining(&r), 0);
    pc_writer_done(&w);
}

static void test_bad_input(void **state)
{
    (void)state;
    bool b;
    const char *s;
    size_t len;
    struct pc_reader r = pc_reader_of((const uint8_t[]){0x02}, 1);
    assert_int_equal(pc_get_bool(&r, &b), -EBADMSG);
    assert_string_equal(r.err, "invalid bool (neither 0 nor 1)");
    r = pc_reader_of((const uint8_t[]){0x05, 'a', 'b'}, 3);
    assert_int_equal(pc_get_str(&r, &s, &len), -EBADMSG);
    assert_string_equal(r.err, "string longer than the message");
    r = pc_reader_of((const uint8_t[]){0x02, 0xc3, 0x28}, 3);
    assert_int_equal(pc_get_str(&r, &s, &len), -EBADMSG);
    assert_string_equal(r.err, "string is not valid UTF-8");
    r = pc_reader_of((const uint8_t[]){0x02, 0xc0, 0x80}, 3); /* overlong NUL */
    assert_int_equal(pc_get_str(&r, &s, &len), -EBADMSG);
    r = pc_reader_of((const uint8_t[]){0x03, 0xed, 0xa0, 0x80}, 4); /* surrogate */
    assert_int_equal(pc_get_str(&r, &s, &len), -EBADMSG);
    r = pc_reader_of((const uint8_t[]){0x07}, 1);
    assert_int_equal(pc_get_option(&r, &b), -EBADMSG);
    /* a count larger than the message cannot be believed */
    r = pc_reader_of((const uint8_t[]){0xff, 0xff, 0x03, 0x00}, 4);
    assert_int_equal(pc_get_seq_len(&r, 1, &len), -EBADMSG);
    assert_string_equal(r.err, "sequence longer than the message");

    /* every truncation of a valid message fails without reading past its end */
    for (size_t cut = 0; cut < sizeof(send_one) - 4; cut++) {
        struct pc_reader m = pc_reader_of(send_one + 4, cut);
        struct relay_str sender, key;
        uint32_t kind;
        size_t n;
        struct relay_point pt;
        struct relay_value v;
        int e = relay_decode_head(&m, &sender, &kind);
        if (e == 0)
            e = relay_decode_count(&m, 1, &n);
        if (e == 0)
            e = relay_decode_point(&m, &pt);
        if (e == 0)
            e = relay_decode_attr(&m, &key, &v);
        if (e == 0)
            e = relay_decode_end(&m);
        assert_int_equal(e, -EBADMSG);
    }
    /* an unknown variant, and trailing bytes */
    struct pc_reader m = pc_reader_of((const uint8_t[]){0x00, 0x07}, 2);
    struct relay_str sender;
    uint32_t kind;
    assert_int_equal(relay_decode_head(&m, &sender, &kind), -EBADMSG);
    assert_string_equal(m.err, "unknown message variant");
    m = pc_reader_of(greet_node1 + 4, sizeof(greet_node1) - 4);
    struct relay_greet g;
    assert_int_equal(relay_decode_head(&m, &sender, &kind), 0);
    assert_int_equal(relay_decode_greet(&m, &g), 0);
    m.len++; /* pretend one more byte */
    assert_int_equal(relay_decode_end(&m), -EBADMSG);
}

/* The extensions (token, acknowledgments) encode as documented in README.md. */
static void test_extensions(void **state)
{
    (void)state;
    struct pc_writer w = PC_WRITER_INIT;
    assert_int_equal(relay_encode_hello(&w, "n", "s3", true), 0);
    assert_int_equal(relay_encode_refused(&w, "", "no"), 0);
    assert_int_equal(relay_encode_ack(&w, "", 300), 0);
    static const uint8_t want[] = {0,    0, 0, 7, 0x01, 'n',  0x04, 0x02, 's', '3',
                                   0x01, 0, 0, 0, 5,    0x00, 0x05, 0x02, 'n', 'o',
                                   0,    0, 0, 4, 0x00, 0x06, 0xac, 0x02};
    assert_bytes(&w, want, sizeof(want));
    struct pc_reader r = pc_reader_of(want + 4, 7);
    struct relay_str sender;
    uint32_t kind;
    struct relay_hello h;
    assert_int_equal(relay_decode_head(&r, &sender, &kind), 0);
    assert_int_equal(kind, RELAY_MSG_HELLO);
    assert_int_equal(relay_decode_hello(&r, &h), 0);
    assert_str(h.token, "s3");
    assert_true(h.acks);
    pc_writer_done(&w);
}

static struct relay_str S(const char *s) {
    struct relay_str r = {s, strlen(s)};
    return r;
}

/* Resources and consumers parsed back as upstream does (agent-and-core §1.2). */
static void
test_points_parse_back(void **state)
{
    (void)state;
    struct alumet_buffer *buf = alumet__buffer_new(4);
    struct alumet_resource r;
    struct alumet_consumer c;
    char text[64];
    assert_int_equal(relay_points_resource(buf, S("local_machine"), S(""), &r), 0);
    assert_int_equal(r.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
    assert_int_equal(relay_points_resource(buf, S("local_machine"), S("1"), &r), -EINVAL);
    assert_int_equal(relay_points_resource(buf, S("cpu_package"), S("3"), &r), 0);
    assert_int_equal(r.kind, ALUMET_RESOURCE_CPU_PACKAGE);
    assert_int_equal(r.num, 3);
    assert_int_equal(relay_points_resource(buf, S("dram"), S("4294967295"), &r), 0);
    assert_int_equal(r.num, 4294967295u);
    assert_int_equal(relay_points_resource(buf, S("cpu_core"), S("4294967296"), &r), -EINVAL);
    assert_int_equal(relay_points_resource(buf, S("cpu_core"), S("-1"), &r), -EINVAL);
    assert_int_equal(relay_points_resource(buf, S("cpu_core"), S(""), &r), -EINVAL);
    assert_int_equal(relay_points_resource(buf, S("gpu"), S("0000:01:00.0"), &r), 0);
    assert_int_equal(r.kind, ALUMET_RESOURCE_GPU);
    assert_string_equal(r.str, "0000:01:00.0");
    /* gpu_partition cannot be parsed back: a custom kind, as upstream */
    assert_int_equal(relay_points_resource(buf, S("gpu_partition"), S("a/1"), &r), 0);
    assert_int_equal(r.kind, ALUMET_RESOURCE_CUSTOM);
    assert_string_equal(alumet_resource_kind_name(&r), "gpu_partition");
    alumet_resource_id_text(&r, text, sizeof(text));
    assert_string_equal(text, "a/1");
    assert_int_equal(relay_points_consumer(buf, S("process"), S("42"), &c), 0);
    assert_int_equal(c.kind, ALUMET_CONSUMER_PROCESS);
    assert_int_equal(c.num, 42);
    assert_int_equal(relay_points_consumer(buf, S("process"), S("4x"), &c), -EINVAL);
    assert_int_equal(relay_points_consumer(buf, S("cgroup"), S("/sys/a b"), &c), 0);
    assert_int_equal(c.kind, ALUMET_CONSUMER_CGROUP);
    assert_string_equal(c.str, "/sys/a b");
    assert_int_equal(relay_points_consumer(buf, S("pod"), S("uid-1"), &c), 0);
    assert_int_equal(c.kind, ALUMET_CONSUMER_CUSTOM);
    assert_string_equal(alumet_consumer_kind_name(&c), "pod");
    assert_int_equal(relay_points_consumer(buf, S("local_machine"), S(""), &c), 0);
    assert_int_equal(c.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
    /* a list attribute is copied out of the message */
    struct alumet_point *p = alumet_test_push_u64(buf, 0, 1);
    static const uint8_t items[] = {0x01, 0xac, 0x02};
    struct relay_value v = {.tag = RELAY_VALUE_LIST_U64, .list_len = 2};
    v.list = pc_reader_of(items, sizeof(items));
    assert_int_equal(relay_points_add_attr(buf, p, S("l"), &v), 0);
    const struct alumet_attr *a = alumet_point_find_attr(buf, p, "l");
    assert_non_null(a);
    assert_int_equal(a->type, ALUMET_ATTR_LIST_U64);
    assert_int_equal(a->v.list.len, 2);
    assert_int_equal(a->v.list.items[0], 1);
    assert_int_equal(a->v.list.items[1], 300);
    alumet__buffer_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greet),
        cmocka_unit_test(test_greet_response),
        cmocka_unit_test(test_register_metrics),
        cmocka_unit_test(test_send_measurements),
        cmocka_unit_test(test_attribute_types),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_varint_refused),
        cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_scalars_strings_options),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_points_parse_back),
    };
    return alumet_run_tests(tests);
}
