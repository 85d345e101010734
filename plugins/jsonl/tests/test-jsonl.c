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

/* text is the lines want[0..n) (each with its newline), in order. */
static void assert_lines(const char *got, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(want[i]);
        if (strncmp(got, want[i], len) != 0)
            print_error("line %zu: got %.*s expected %s", i, (int)(strcspn(got, "\n") + 1), got,
                        want[i]);
        assert_int_equal(strncmp(got, want[i], len), 0);
        got += len;
    }
    assert_string_equal(got, "");
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

/* The end of a line (resource, consumer, attributes) is kept from one point to
 * the next while they are the same: every change of one of them, alone, shows
 * in its line; values that are equal but at another address give the same
 * text; two metrics (one with a name to escape) share a tail. */
static void test_tail_changes(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_metric_id w =
        alumet_test_add_metric(f.reg, "w\"\xc3\xa9\n", ALUMET_VALUE_F64, ALUMET_UNIT(WATT));
    static const uint64_t items[] = {1, 2};
    char y2[] = "y";
    char a2[] = "a";
    const struct alumet_resource pkg0 = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_resource pkg1 = {ALUMET_RESOURCE_CPU_PACKAGE, 1, NULL, NULL};
    const struct alumet_resource custom_k = {ALUMET_RESOURCE_CUSTOM, 0, "s", "k"};
    const struct alumet_resource custom_k2 = {ALUMET_RESOURCE_CUSTOM, 0, "s", "k2"};
    const struct alumet_consumer local = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    const struct alumet_consumer pid42 = {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL};
    const struct alumet_consumer pid43 = {ALUMET_CONSUMER_PROCESS, 43, NULL, NULL};
    const struct alumet_consumer cg_a = {ALUMET_CONSUMER_CGROUP, 0, "/a", NULL};
    const struct alumet_consumer cg_b = {ALUMET_CONSUMER_CGROUP, 0, "/b\"", NULL};
    const struct {
        const struct alumet_resource *r;
        const struct alumet_consumer *c;
        int attr; /* what to add, see below */
    } pts[] = {
        {&pkg0, &local, 0},      {&pkg0, &local, 0},      {&pkg0, &local, 1},
        {&pkg0, &local, 2},      {&pkg0, &local, 3},      {&pkg0, &local, 4},
        {&pkg0, &local, 5},      {&pkg0, &local, 6},      {&pkg0, &local, 7},
        {&pkg0, &local, 8},      {&pkg0, &local, 9},      {&pkg0, &local, 10},
        {&pkg0, &local, 11},     {&pkg0, &local, 11},     {&pkg0, &local, 12},
        {&pkg0, &local, 13},     {&pkg0, &local, 0},      {&pkg0, &local, -1},
        {&pkg1, &local, -1},     {&pkg1, &pid42, -1},     {&pkg1, &pid43, -1},
        {&pkg1, &cg_a, -1},      {&pkg1, &cg_b, -1},      {&custom_k, &cg_b, -1},
        {&custom_k2, &cg_b, -1}, {&custom_k2, &cg_b, 14}, {&custom_k2, &cg_b, 15},
        {&custom_k2, &cg_b, 15}, {&custom_k2, &cg_b, 0},  {&custom_k2, &cg_b, 16},
    };
    for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
        struct alumet_point *p =
            i >= 26 ? alumet_buffer_push_f64(f.buf, 0, w, pts[i].r, pts[i].c, (double)i)
                    : alumet_buffer_push_u64(f.buf, 0, m, pts[i].r, pts[i].c, i);
        assert_non_null(p);
        struct alumet_attr list = {.key = "a", .type = ALUMET_ATTR_LIST_U64};
        list.v.list.items = items;
        list.v.list.len = pts[i].attr == 12 ? 1 : 2;
        switch (pts[i].attr) {
        case 0:
            alumet_test_add_str(f.buf, p, "a", "x");
            break;
        case 1:
            alumet_test_add_str(f.buf, p, "a", "y");
            break;
        case 2: /* the same text at another address */
            alumet_test_add_str(f.buf, p, "a", y2);
            break;
        case 3:
        case 4: /* then 0.0: the same bits, another type */
            assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "a", pts[i].attr == 3 ? 5 : 0), 0);
            break;
        case 5:
        case 6:
        case 7:
        case 8: {
            const double v[] = {0.0, -0.0, NAN, -INFINITY};
            assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "a", v[pts[i].attr - 5]), 0);
            break;
        }
        case 9:
        case 10:
            assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "a", pts[i].attr == 9), 0);
            break;
        case 11:
        case 12:
            assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
            break;
        case 13:
            alumet_test_add_str(f.buf, p, "a", "x");
            alumet_test_add_str(f.buf, p, "b", "x");
            break;
        case 14: /* the same key text at another address */
            alumet_test_add_str(f.buf, p, a2, "x");
            break;
        case 15:
            alumet_test_add_str(f.buf, p, "k\"\\\x01", "v\t\xff");
            break;
        case 16: /* another key, the same value */
            alumet_test_add_str(f.buf, p, "b", "x");
            break;
        }
    }
    write_and_clear(&f);
#define L0(v) "{\"metric\":\"m\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH ",\"value\":" v
#define W0(v)                                                                                      \
    "{\"metric\":\"w\\\"\xc3\xa9\\n\",\"unit\":\"W\",\"unit_display\":\"W\"," EPOCH ",\"value\""   \
    ":" v
#define PKG(n) ",\"resource_kind\":\"cpu_package\",\"resource_id\":\"" n "\""
#define LOC ",\"consumer_kind\":\"local_machine\",\"consumer_id\":\"\""
#define CG_B ",\"consumer_kind\":\"cgroup\",\"consumer_id\":\"/b\\\"\""
#define CUSTOM(k) ",\"resource_kind\":\"" k "\",\"resource_id\":\"s\""
#define ATTRS(a) ",\"attributes\":{" a "}}\n"
    static const char *const want[] = {
        L0("0") PKG("0") LOC ATTRS("\"a\":\"x\""),
        L0("1") PKG("0") LOC ATTRS("\"a\":\"x\""),
        L0("2") PKG("0") LOC ATTRS("\"a\":\"y\""),
        L0("3") PKG("0") LOC ATTRS("\"a\":\"y\""),
        L0("4") PKG("0") LOC ATTRS("\"a\":5"),
        L0("5") PKG("0") LOC ATTRS("\"a\":0"),
        L0("6") PKG("0") LOC ATTRS("\"a\":0.0"),
        L0("7") PKG("0") LOC ATTRS("\"a\":-0.0"),
        L0("8") PKG("0") LOC ATTRS("\"a\":null"),
        L0("9") PKG("0") LOC ATTRS("\"a\":null"),
        L0("10") PKG("0") LOC ATTRS("\"a\":true"),
        L0("11") PKG("0") LOC ATTRS("\"a\":false"),
        L0("12") PKG("0") LOC ATTRS("\"a\":[1,2]"),
        L0("13") PKG("0") LOC ATTRS("\"a\":[1,2]"),
        L0("14") PKG("0") LOC ATTRS("\"a\":[1]"),
        L0("15") PKG("0") LOC ATTRS("\"a\":\"x\",\"b\":\"x\""),
        L0("16") PKG("0") LOC ATTRS("\"a\":\"x\""),
        L0("17") PKG("0") LOC ATTRS(""),
        L0("18") PKG("1") LOC ATTRS(""),
        L0("19") PKG("1") ",\"consumer_kind\":\"process\",\"consumer_id\":\"42\"" ATTRS(""),
        L0("20") PKG("1") ",\"consumer_kind\":\"process\",\"consumer_id\":\"43\"" ATTRS(""),
        L0("21") PKG("1") ",\"consumer_kind\":\"cgroup\",\"consumer_id\":\"/a\"" ATTRS(""),
        L0("22") PKG("1") CG_B ATTRS(""),
        L0("23") CUSTOM("k") CG_B ATTRS(""),
        L0("24") CUSTOM("k2") CG_B ATTRS(""),
        L0("25") CUSTOM("k2") CG_B ATTRS("\"a\":\"x\""),
        W0("26.0") CUSTOM("k2") CG_B ATTRS("\"k\\\"\\\\\\u0001\":\"v\\t\\ufffd\""),
        W0("27.0") CUSTOM("k2") CG_B ATTRS("\"k\\\"\\\\\\u0001\":\"v\\t\\ufffd\""),
        W0("28.0") CUSTOM("k2") CG_B ATTRS("\"a\":\"x\""),
        W0("29.0") CUSTOM("k2") CG_B ATTRS("\"b\":\"x\""),
    };
    assert_lines(text(&f), want, sizeof(want) / sizeof(want[0]));
    fixture_done(&f);
}

/* Points of two metrics in turn, with the same end of line, then a point that
 * differs: each line has its own head and value. */
static void test_tail_two_metrics(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id c = alumet_test_add_metric(f.reg, "c", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_metric_id p = alumet_test_add_metric(f.reg, "p", ALUMET_VALUE_F64, ALUMET_UNIT(WATT));
    for (int i = 0; i < 4; i++) {
        struct alumet_point *pt =
            i % 2 ? alumet_test_push_f64(f.buf, p, i * 0.5) : alumet_test_push_u64(f.buf, c, i);
        alumet_test_add_str(f.buf, pt, "d", "package");
        alumet_test_add_str(f.buf, pt, "o", "synthetic");
    }
    struct alumet_point *pt = alumet_test_push_f64(f.buf, p, INFINITY);
    alumet_test_add_str(f.buf, pt, "d", "package");
    alumet_test_add_str(f.buf, pt, "o", "other");
    write_and_clear(&f);
#define C_HEAD "{\"metric\":\"c\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH ",\"value\":"
#define P_HEAD "{\"metric\":\"p\",\"unit\":\"W\",\"unit_display\":\"W\"," EPOCH ",\"value\":"
#define DO "," LOCAL ",\"attributes\":{\"d\":\"package\",\"o\":\"synthetic\"}}\n"
    assert_string_equal(text(&f), C_HEAD "0" DO P_HEAD "0.5" DO C_HEAD "2" DO P_HEAD "1.5" DO P_HEAD
                                         "null," LOCAL
                                         ",\"attributes\":{\"d\":\"package\",\"o\":\"other\"}}\n");
    fixture_done(&f);
}

/* A buffer cleared and filled again gives its strings the same addresses:
 * the end of line kept from the last buffer must not be reused. */
static void test_tail_next_buffer(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 0);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    const char *addr[2][3];
    static const char *const words[2][3] = {{"key1", "first", "/cg1"}, {"key2", "other", "/cg2"}};
    for (int b = 0; b < 2; b++) {
        for (int k = 0; k < 3; k++) {
            addr[b][k] = alumet_buffer_strdup(f.buf, words[b][k], (size_t)-1);
            assert_non_null(addr[b][k]);
        }
        const struct alumet_consumer cg = {ALUMET_CONSUMER_CGROUP, 0, addr[b][2], NULL};
        struct alumet_point *p =
            alumet_buffer_push_u64(f.buf, 0, m, &alumet_test_local_resource, &cg, 1);
        assert_non_null(p);
        alumet_test_add_str(f.buf, p, addr[b][0], addr[b][1]);
        write_and_clear(&f);
    }
    /* the test is only meaningful when the addresses repeat */
    for (int k = 0; k < 3; k++)
        assert_ptr_equal(addr[0][k], addr[1][k]);
#define CG_LINE(c, k, v)                                                                           \
    "{\"metric\":\"m\",\"unit\":\"1\",\"unit_display\":\"\"," EPOCH                                \
    ",\"value\":1,\"resource_kind\":\"local_machine\",\"resource_id\":\"\","                       \
    "\"consumer_kind\":\"cgroup\",\"consumer_id\":\"" c "\",\"attributes\":{\"" k "\":\"" v        \
    "\"}}\n"
    assert_string_equal(text(&f),
                        CG_LINE("/cg1", "key1", "first") CG_LINE("/cg2", "key2", "other"));
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
        cmocka_unit_test(test_tail_changes),
        cmocka_unit_test(test_tail_two_metrics),
        cmocka_unit_test(test_tail_next_buffer),
        cmocka_unit_test(test_late_metrics),
        cmocka_unit_test(test_unknown_metric),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_sink_error),
    };
    return alumet_run_tests(group);
}
