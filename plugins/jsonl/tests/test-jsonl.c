/* SPDX-License-Identifier: MIT */
/* The jsonl writer: exact lines (escaping, numbers, timestamps, attributes,
 * resources), buffering and errors. The plugin through the agent lifecycle:
 * test-jsonl-plugin.c. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "core/buffer.h"
#include "plugins/jsonl/jsonl-writer.h"

#define LOCAL                                                                                      \
    "\"resource_kind\":\"local_machine\",\"resource_id\":\"\",\"consumer_kind\":"                  \
    "\"local_machine\",\"consumer_id\":\"\""
#define EPOCH "\"timestamp\":\"1970-01-01T00:00:00Z\",\"timestamp_ns\":0"

/* ---- helpers ---- */

struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct jsonl_writer *w;
    struct alumet_test_mem_sink sink;
};

static void fixture_init(struct fixture *f, size_t buffer_size)
{
    memset(f, 0, sizeof(*f));
    f->reg = alumet__registry_new();
    f->buf = alumet__buffer_new(16);
    f->w = jsonl_writer_new(buffer_size, alumet_test_mem_sink_write, &f->sink);
    assert_non_null(f->reg);
    assert_non_null(f->buf);
    assert_non_null(f->w);
}

static void fixture_done(struct fixture *f)
{
    jsonl_writer_free(f->w);
    alumet__buffer_free(f->buf);
    alumet__registry_free(f->reg);
    free(f->sink.s);
}

static void write_and_clear(struct fixture *f)
{
    struct alumet_error err = {0};
    assert_int_equal(jsonl_writer_write_buffer(f->w, f->buf, f->reg, &err), 0);
    assert_int_equal(jsonl_writer_flush(f->w), 0);
    alumet__buffer_clear(f->buf);
}

static const char *text(struct fixture *f)
{
    return f->sink.s ? f->sink.s : "";
}

/* ---- strings and numbers ---- */

static void check_escape(const char *in, size_t len, const char *expected)
{
    char out[256];
    assert_int_equal(jsonl_escape(in, len, out), strlen(expected));
    assert_string_equal(out, expected);
}

static void test_escape(void **state)
{
    (void)state;
    check_escape("plain", 5, "plain");
    check_escape("", 0, "");
    check_escape("a\"b\\c/d", 7, "a\\\"b\\\\c/d");
    check_escape("\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f");
    check_escape("\x01\x1f\x7f", 3, "\\u0001\\u001f\x7f");
    check_escape("nul\0here", 8, "nul\\u0000here");
    /* valid UTF-8 is copied: é, μ, ₂, 😀 */
    check_escape("\xc3\xa9\xce\xbc\xe2\x82\x82\xf0\x9f\x98\x80", 11,
                 "\xc3\xa9\xce\xbc\xe2\x82\x82\xf0\x9f\x98\x80");
    /* invalid bytes become U+FFFD, one per byte */
    check_escape("a\xff"
                 "b",
                 3, "a\\ufffdb");
    check_escape("\xc3", 1, "\\ufffd");
    check_escape("\xc0\x80", 2, "\\ufffd\\ufffd");
    check_escape("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd");
    check_escape("\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd");
    check_escape("\xe2\x82"
                 "x",
                 3, "\\ufffd\\ufffdx");
}

/* ---- lines ---- */

static void test_reference_lines(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id mu =
        alumet_test_add_metric(f.reg, "test_metric_u64", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_metric_id mf =
        alumet_test_add_metric(f.reg, "test_metric_f64", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY));
    struct alumet_point *p = alumet_test_push_u64(f.buf, mu, 0);
    alumet_test_add_str(f.buf, p, "attributes_1", "value1");
    alumet_test_add_str(f.buf, p, "attributes_2", "value2");
    p = alumet_test_push_u64(f.buf, mu, 1);
    alumet_test_add_str(f.buf, p, "attributes_1", "value1");
    p = alumet_test_push_f64(f.buf, mf, 0.5);
    alumet_test_add_str(f.buf, p, "attributes_2", "value2");
    alumet_test_push_f64(f.buf, mf, 0.75);
    write_and_clear(&f);
    write_and_clear(&f); /* an empty buffer writes nothing */
    assert_int_equal(f.sink.calls, 1);
    assert_string_equal(
        text(&f),
        "{\"metric\":\"test_metric_u64\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
        ",\"value\":0," LOCAL ",\"attributes\":{\"attributes_1\":\"value1\",\"attributes_2\":"
        "\"value2\"}}\n"
        "{\"metric\":\"test_metric_u64\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
        ",\"value\":1," LOCAL ",\"attributes\":{\"attributes_1\":\"value1\"}}\n"
        "{\"metric\":\"test_metric_f64\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
        ",\"value\":0.5," LOCAL ",\"attributes\":{\"attributes_2\":\"value2\"}}\n"
        "{\"metric\":\"test_metric_f64\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
        ",\"value\":0.75," LOCAL ",\"attributes\":{}}\n");
    fixture_done(&f);
}

static void test_values_and_timestamps(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id e = alumet_test_add_metric(f.reg, "energy", ALUMET_VALUE_U64,
                                                ALUMET_UNIT_PREFIXED(MILLI, JOULE));
    alumet_metric_id t =
        alumet_test_add_metric(f.reg, "temp", ALUMET_VALUE_F64, ALUMET_UNIT(DEGREE_CELSIUS));
    alumet_metric_id d = alumet_test_add_metric(f.reg, "delay", ALUMET_VALUE_F64,
                                                ALUMET_UNIT_PREFIXED(MICRO, SECOND));
    const struct {
        alumet_time_ns ts;
        alumet_metric_id m;
        double f;
        uint64_t u;
    } pts[] = {
        {1745593733996365220, e, 0, UINT64_MAX},
        {1745593733500000000, t, 1e21, 0},
        {-1, t, NAN, 0},
        {1, t, 0.1 + 0.2, 0},
        {1, d, -0.0, 0},
        {INT64_MAX, d, 100, 0},
    };
    for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
        struct alumet_point *p =
            pts[i].m == e
                ? alumet_buffer_push_u64(f.buf, pts[i].ts, pts[i].m, &alumet_test_local_resource,
                                         &alumet_test_local_consumer, pts[i].u)
                : alumet_buffer_push_f64(f.buf, pts[i].ts, pts[i].m, &alumet_test_local_resource,
                                         &alumet_test_local_consumer, pts[i].f);
        assert_non_null(p);
    }
    write_and_clear(&f);
#define TEMP                                                                                       \
    "{\"metric\":\"temp\",\"unit\":\"Cel\",\"unit_display\":\"\xc2\xb0"                            \
    "C\","
#define DELAY "{\"metric\":\"delay\",\"unit\":\"micros\",\"unit_display\":\"\xce\xbcs\","
    assert_string_equal(
        text(&f),
        "{\"metric\":\"energy\",\"unit\":\"milliJ\",\"unit_display\":\"mJ\","
        "\"timestamp\":\"2025-04-25T15:08:53.99636522Z\",\"timestamp_ns\":1745593733996365220,"
        "\"value\":18446744073709551615," LOCAL ",\"attributes\":{}}\n" TEMP
        "\"timestamp\":\"2025-04-25T15:08:53.5Z\",\"timestamp_ns\":1745593733500000000,"
        "\"value\":1e21," LOCAL ",\"attributes\":{}}\n" TEMP
        "\"timestamp\":\"1969-12-31T23:59:59.999999999Z\",\"timestamp_ns\":-1,"
        "\"value\":null," LOCAL ",\"attributes\":{}}\n" TEMP
        "\"timestamp\":\"1970-01-01T00:00:00.000000001Z\",\"timestamp_ns\":1,"
        "\"value\":0.30000000000000004," LOCAL ",\"attributes\":{}}\n" DELAY
        "\"timestamp\":\"1970-01-01T00:00:00.000000001Z\",\"timestamp_ns\":1,"
        "\"value\":-0.0," LOCAL ",\"attributes\":{}}\n" DELAY
        "\"timestamp\":\"2262-04-11T23:47:16.854775807Z\",\"timestamp_ns\":9223372036854775807,"
        "\"value\":100.0," LOCAL ",\"attributes\":{}}\n");
    fixture_done(&f);
}

/* Typed attribute values; a repeated key keeps its first place and its last
 * value; keys and strings escaped. */
static void test_attributes(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    static const uint64_t items[] = {1, 2, 18446744073709551615ull};
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 3;

    struct alumet_point *p = alumet_test_push_u64(f.buf, m, 1);
    alumet_test_add_str(f.buf, p, "k", "first");
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "f", 0.45), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "u", 69), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "b", true), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "nb", false), 0);
    alumet_test_add_str(f.buf, p, "s", "elastic search");
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    list.key = "empty";
    list.v.list.len = 0;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "nan", NAN), 0);
    alumet_test_add_str(f.buf, p, "k", "second");
    alumet_test_add_str(f.buf, p, "we\"ird\n", "va\\lue\x01");
    alumet_test_add_str(f.buf, p, "k", "third");
    write_and_clear(&f);
    assert_string_equal(text(&f),
                        "{\"metric\":\"m\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
                        ",\"value\":1," LOCAL ",\"attributes\":{\"k\":\"third\",\"f\":0.45,"
                        "\"u\":69,\"b\":true,\"nb\":false,\"s\":\"elastic search\","
                        "\"l\":[1,2,18446744073709551615],\"empty\":[],\"nan\":null,"
                        "\"we\\\"ird\\n\":\"va\\\\lue\\u0001\"}}\n");
    fixture_done(&f);
}

/* Strings are copied as they are only when no byte needs escaping (checked 8
 * bytes at a time): each byte that needs it, at every position of a 20-byte
 * value, gives the escaped text. */
static void test_plain_strings(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, (char)0xc3, (char)0xff};
    static const char *const escaped[] = {"\\\"",    "\\\\",    "\\n",    "\\u0001",
                                          "\\u001f", "\\ufffd", "\\ufffd"};
    for (size_t k = 0; k < sizeof(specials); k++) {
        for (size_t pos = 0; pos < 20; pos++) {
            struct fixture f;
            fixture_init(&f, 0);
            alumet_metric_id m =
                alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
            char v[21];
            memset(v, 'a', 20);
            v[20] = '\0';
            v[pos] = specials[k];
            struct alumet_point *p = alumet_test_push_u64(f.buf, m, 1);
            alumet_test_add_str(f.buf, p, "s", v);
            /* DEL and a space are plain */
            alumet_test_add_str(f.buf, p, "t", "0123456789 \x7f~}|{zyx");
            write_and_clear(&f);
            char want[128];
            snprintf(want, sizeof(want), "\"s\":\"%.*s%s%.*s\",\"t\":\"0123456789 \x7f~}|{zyx\"}",
                     (int)pos, "aaaaaaaaaaaaaaaaaaaa", escaped[k], (int)(19 - pos),
                     "aaaaaaaaaaaaaaaaaaaa");
            if (!strstr(text(&f), want))
                print_error("special %zu at %zu: %s, expected %s\n", k, pos, text(&f), want);
            assert_non_null(strstr(text(&f), want));
            fixture_done(&f);
        }
    }
}

static void test_resources(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    const struct {
        struct alumet_resource r;
        struct alumet_consumer c;
    } cases[] = {
        {{ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL}, {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL}},
        {{ALUMET_RESOURCE_GPU, 0, "0000:3b:00.0", NULL},
         {ALUMET_CONSUMER_CGROUP, 0, "/sys/fs/cgroup/a\"b", NULL}},
        {{ALUMET_RESOURCE_CUSTOM, 0, "a\nb", "r\tkind"}, {ALUMET_CONSUMER_CUSTOM, 0, "", "c"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_non_null(alumet_buffer_push_u64(f.buf, 0, m, &cases[i].r, &cases[i].c, i));
    write_and_clear(&f);
#define HEAD_M "{\"metric\":\"m\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
    assert_string_equal(
        text(&f),
        HEAD_M ",\"value\":0,\"resource_kind\":\"cpu_package\",\"resource_id\":\"0\","
               "\"consumer_kind\":\"process\",\"consumer_id\":\"42\",\"attributes\":{}}\n" HEAD_M
               ",\"value\":1,\"resource_kind\":\"gpu\",\"resource_id\":\"0000:3b:00.0\","
               "\"consumer_kind\":\"cgroup\",\"consumer_id\":\"/sys/fs/cgroup/a\\\"b\","
               "\"attributes\":{}}\n" HEAD_M
               ",\"value\":2,\"resource_kind\":\"r\\tkind\",\"resource_id\":\"a\\nb\","
               "\"consumer_kind\":\"c\",\"consumer_id\":\"\",\"attributes\":{}}\n");
    fixture_done(&f);
}

/* Metrics registered after the first write (late registration). */
static void test_late_metrics(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id m0 = alumet_test_add_metric(f.reg, "m0", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_test_push_u64(f.buf, m0, 0);
    write_and_clear(&f);
    char name[16];
    alumet_metric_id last = m0;
    for (int i = 1; i <= 300; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        last = alumet_test_add_metric(f.reg, name, ALUMET_VALUE_U64, ALUMET_UNIT(BYTE));
    }
    alumet_test_push_u64(f.buf, last, 300);
    write_and_clear(&f);
    assert_string_equal(text(&f),
                        "{\"metric\":\"m0\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
                        ",\"value\":0," LOCAL ",\"attributes\":{}}\n"
                        "{\"metric\":\"m300\",\"unit\":\"By\",\"unit_display\":\"B\"," EPOCH
                        ",\"value\":300," LOCAL ",\"attributes\":{}}\n");
    fixture_done(&f);
}

static void test_unknown_metric(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_test_push_u64(f.buf, m, 1);
    alumet_test_push_u64(f.buf, 7, 0);
    struct alumet_error err = {0};
    assert_int_equal(jsonl_writer_write_buffer(f.w, f.buf, f.reg, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown metric id 7 in a buffer");
    /* the lines before the bad point are kept, whole */
    assert_int_equal(jsonl_writer_flush(f.w), 0);
    assert_string_equal(text(&f), "{\"metric\":\"m\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH
                                  ",\"value\":1," LOCAL ",\"attributes\":{}}\n");
    fixture_done(&f);
}

/* A tiny write buffer: the same bytes, in many sink calls. */
static void test_small_buffer(void **state)
{
    (void)state;
    struct fixture small, big;
    fixture_init(&small, 16);
    fixture_init(&big, 0);
    for (int i = 0; i < 2; i++) {
        struct fixture *f = i ? &big : &small;
        alumet_metric_id m =
            alumet_test_add_metric(f->reg, "m", ALUMET_VALUE_F64, ALUMET_UNIT(WATT));
        for (int k = 0; k < 50; k++) {
            struct alumet_point *p = alumet_test_push_f64(f->buf, m, k / 3.0);
            alumet_test_add_str(f->buf, p, "k", "a somewhat long attribute value");
        }
        struct alumet_error err = {0};
        assert_int_equal(jsonl_writer_write_buffer(f->w, f->buf, f->reg, &err), 0);
        assert_int_equal(jsonl_writer_flush(f->w), 0);
    }
    assert_true(small.sink.calls >= 50);
    assert_int_equal(big.sink.calls, 1);
    assert_string_equal(text(&small), text(&big));
    fixture_done(&small);
    fixture_done(&big);
}

/* A sink error is returned, then sticks. */
static void test_sink_error(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 64);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    for (int i = 0; i < 10; i++)
        alumet_test_push_u64(f.buf, m, (uint64_t)i);
    f.sink.fail = -ENOSPC;
    struct alumet_error err = {0};
    assert_int_equal(jsonl_writer_write_buffer(f.w, f.buf, f.reg, &err), -ENOSPC);
    assert_int_equal(err.code, 0);
    f.sink.fail = 0;
    assert_int_equal(jsonl_writer_flush(f.w), -ENOSPC);
    assert_int_equal(jsonl_writer_write_buffer(f.w, f.buf, f.reg, &err), -ENOSPC);
    assert_int_equal(f.sink.len, 0);
    fixture_done(&f);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_reference_lines),
        cmocka_unit_test(test_values_and_timestamps),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_plain_strings),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_late_metrics),
        cmocka_unit_test(test_unknown_metric),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_sink_error),
    };
    return alumet_run_tests(group);
}
