/* SPDX-License-Identifier: MIT */
/* The csv plugin: the writer (exact bytes, against upstream's reference
 * outputs) and the plugin through the agent lifecycle. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "core/buffer.h"
#include "plugins/csv/csv-writer.h"

extern const struct alumet_plugin alumet_plugin_csv;

/* ---- test helpers ---- */

static struct csv_writer_opts default_opts(void)
{
    return (struct csv_writer_opts){
        .delimiter = ';',
        .late_delimiter = ',',
        .append_unit = true,
        .use_unit_display_name = true,
    };
}

/* Everything a writer test needs: a registry, a buffer, a writer into memory. */
struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct csv_writer *w;
    struct alumet_test_mem_sink sink;
};

static void fixture_init(struct fixture *f, const struct csv_writer_opts *opts)
{
    memset(f, 0, sizeof(*f));
    f->reg = alumet__registry_new();
    assert_non_null(f->reg);
    f->buf = alumet__buffer_new(16);
    assert_non_null(f->buf);
    f->w = csv_writer_new(opts, alumet_test_mem_sink_write, &f->sink);
    assert_non_null(f->w);
}

static void fixture_done(struct fixture *f)
{
    csv_writer_free(f->w);
    alumet__buffer_free(f->buf);
    alumet__registry_free(f->reg);
    free(f->sink.s);
}

/* Write the fixture buffer, flush, clear the buffer. */
static void write_and_clear(struct fixture *f)
{
    struct alumet_error err = {0};
    assert_int_equal(csv_writer_write_buffer(f->w, f->buf, f->reg, &err), 0);
    assert_int_equal(csv_writer_flush(f->w), 0);
    alumet__buffer_clear(f->buf);
}

#define FIXED_HEADER "metric;timestamp;value;resource_kind;resource_id;consumer_kind;consumer_id;"

/* ---- escaping (upstream csv.rs csv_escape) ---- */

static void check_escape(char delim, const char *in, const char *expected)
{
    char out[64];
    size_t n = csv_escape(delim, in, strlen(in), out);
    assert_string_equal(out, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_escape(void **state)
{
    (void)state;
    check_escape(',', "abcdefg", "abcdefg");
    check_escape(',', "abcd\"efg", "\"abcd\"\"efg\"");
    check_escape(',', "abcd,efg", "\"abcd,efg\"");
    check_escape(',', "abcd;efg", "abcd;efg");
    check_escape(',', "", "");
    check_escape(';', "abcdefg", "abcdefg");
    check_escape(';', "abcd\"efg", "\"abcd\"\"efg\"");
    check_escape(';', "abcd;efg", "\"abcd;efg\"");
    check_escape(';', "abcd,efg", "abcd,efg");
    check_escape(';', "", "");
    check_escape(';', "line\nbreak", "\"line\nbreak\"");
    check_escape(';', "cr\rhere", "\"cr\rhere\"");
    check_escape(';', "\"", "\"\"\"\"");
    check_escape(';', "a\"b\"c;", "\"a\"\"b\"\"c;\"");
}

/* ---- the generic writer (upstream csv.rs csv_writer) ---- */

static void test_writer_lines(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct alumet_test_mem_sink sink = {0};
    struct csv_writer *w = csv_writer_new(&opts, alumet_test_mem_sink_write, &sink);
    assert_non_null(w);

    static const char *const header[] = {"timestamp", "metric", "value", "sensor", "pc"};
    assert_false(csv_writer_has_header(w));
    assert_int_equal(csv_writer_write_line(w, NULL, 0), -EINVAL);
    assert_int_equal(csv_writer_write_header(w, header, 5), 0);
    assert_true(csv_writer_has_header(w));
    assert_int_equal(csv_writer_write_header(w, header, 5), -EALREADY);

    const struct csv_field row1[] = {
        {"timestamp", "123456"},   {"value", "25"},    {"metric", "test"},
        {"sensor", "petits;pois"}, {"pc", "thinkpad"},
    };
    const struct csv_field row2[] = {
        {"value", "7"},  {"metric", "testtttt"}, {"sensor", "local"},
        {"gpu", "H200"}, {"cpu", "EPYC,AMD"},
    };
    const struct csv_field row3[] = {
        {"timestamp", "42"},
        {"value", "7"},
        {"metric", "amd"},
        {"sensor", "carottes"},
    };
    assert_int_equal(csv_writer_write_line(w, row1, 5), 0);
    assert_int_equal(csv_writer_write_line(w, row2, 5), 0);
    assert_int_equal(csv_writer_write_line(w, row3, 4), 0);
    assert_int_equal(csv_writer_flush(w), 0);
    assert_string_equal(alumet_test_mem_sink_text(&sink),
                        "timestamp;metric;value;sensor;pc;__late_attributes\n"
                        "123456;test;25;\"petits;pois\";thinkpad;\n"
                        ";testtttt;7;local;;gpu=H200,cpu=EPYC\\,AMD\n"
                        "42;amd;7;carottes;;\n");
    csv_writer_free(w);
    free(sink.s);
}

/* The late cell is escaped as a whole; keys and '=' are never escaped; a
 * repeated key keeps the last value at the first place. */
static void test_writer_late_rules(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct alumet_test_mem_sink sink = {0};
    struct csv_writer *w = csv_writer_new(&opts, alumet_test_mem_sink_write, &sink);
    assert_non_null(w);

    static const char *const header[] = {"a"};
    assert_int_equal(csv_writer_write_header(w, header, 1), 0);
    const struct csv_field row1[] = {{"x", "1;2"}, {"y=", "say \"hi\""}};
    const struct csv_field row2[] = {
        {"k", "1"}, {"a", "first"}, {"j", "2"}, {"k", "3"}, {"a", "last"}};
    const struct csv_field row3[] = {{"l", "a,b,,c"}};
    assert_int_equal(csv_writer_write_line(w, row1, 2), 0);
    assert_int_equal(csv_writer_write_line(w, row2, 5), 0);
    assert_int_equal(csv_writer_write_line(w, row3, 1), 0);
    assert_int_equal(csv_writer_write_line(w, NULL, 0), 0);
    assert_int_equal(csv_writer_flush(w), 0);
    assert_string_equal(alumet_test_mem_sink_text(&sink), "a;__late_attributes\n"
                                                          ";\"x=1;2,y==say \"\"hi\"\"\"\n"
                                                          "last;k=3,j=2\n"
                                                          ";l=a\\,b\\,\\,c\n"
                                                          ";\n");
    csv_writer_free(w);
    free(sink.s);
}

/* ---- measurements: upstream's reference outputs (tests/output.rs) ---- */

static void reference_points(struct fixture *f, alumet_metric_id mu, alumet_metric_id mf)
{
    struct alumet_point *p = alumet_test_push_u64(f->buf, mu, 0);
    alumet_test_add_str(f->buf, p, "attributes_1", "value1");
    alumet_test_add_str(f->buf, p, "attributes_2", "value2");
    p = alumet_test_push_u64(f->buf, mu, 1);
    alumet_test_add_str(f->buf, p, "attributes_1", "value1");
    p = alumet_test_push_f64(f->buf, mf, 0.5);
    alumet_test_add_str(f->buf, p, "attributes_2", "value2");
    alumet_test_push_f64(f->buf, mf, 0.75);
}

static void test_reference_output(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id mu =
        alumet_test_add_metric(f.reg, "test_metric_u64", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_metric_id mf =
        alumet_test_add_metric(f.reg, "test_metric_f64", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY));

    reference_points(&f, mu, mf);
    write_and_clear(&f);
    assert_string_equal(
        alumet_test_mem_sink_text(&f.sink), FIXED_HEADER
        "attributes_1;attributes_2;__late_attributes\n"
        "test_metric_u64;1970-01-01T00:00:00Z;0;local_machine;;local_machine;;value1;"
        "value2;\n"
        "test_metric_u64;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;value1;;\n"
        "test_metric_f64;1970-01-01T00:00:00Z;0.5;local_machine;;local_machine;;;"
        "value2;\n"
        "test_metric_f64;1970-01-01T00:00:00Z;0.75;local_machine;;local_machine;;;;\n");

    struct alumet_point *p = alumet_test_push_u64(f.buf, mu, 0);
    alumet_test_add_str(f.buf, p, "late_attributes_1", "value1");
    alumet_test_add_str(f.buf, p, "late_attributes_2", "value2");
    write_and_clear(&f);
    assert_string_equal(
        alumet_test_mem_sink_text(&f.sink), FIXED_HEADER
        "attributes_1;attributes_2;__late_attributes\n"
        "test_metric_u64;1970-01-01T00:00:00Z;0;local_machine;;local_machine;;value1;"
        "value2;\n"
        "test_metric_u64;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;value1;;\n"
        "test_metric_f64;1970-01-01T00:00:00Z;0.5;local_machine;;local_machine;;;"
        "value2;\n"
        "test_metric_f64;1970-01-01T00:00:00Z;0.75;local_machine;;local_machine;;;;\n"
        "test_metric_u64;1970-01-01T00:00:00Z;0;local_machine;;local_machine;;;;"
        "late_attributes_1=value1,late_attributes_2=value2\n");
    fixture_done(&f);
}

static void test_reference_unique_unit_name(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    opts.use_unit_display_name = false;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id mu =
        alumet_test_add_metric(f.reg, "test_metric_u64", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_test_add_metric(f.reg, "test_metric_f64", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY));

    alumet_test_push_u64(f.buf, mu, 0);
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "__late_attributes\n"
                                     "test_metric_u64_1;1970-01-01T00:00:00Z;0;local_machine;;"
                                     "local_machine;;\n");
    fixture_done(&f);
}

static void test_reference_no_unit(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    opts.append_unit = false;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id mu =
        alumet_test_add_metric(f.reg, "test_metric_u64", ALUMET_VALUE_U64, ALUMET_UNIT(SECOND));
    alumet_test_add_metric(f.reg, "test_metric_f64", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY));

    alumet_test_push_u64(f.buf, mu, 0);
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "__late_attributes\n"
                                     "test_metric_u64;1970-01-01T00:00:00Z;0;local_machine;;"
                                     "local_machine;;\n");
    fixture_done(&f);
}

/* ---- metric names with units (outputs.md 0.1) ---- */

struct unit_case {
    struct alumet_unit unit;
    const char *display;
    const char *unique;
};

static void test_metric_units(void **state)
{
    (void)state;
    const struct unit_case cases[] = {
        {ALUMET_UNIT(JOULE), "x_J", "x_J"},
        {ALUMET_UNIT_PREFIXED(MILLI, SECOND), "x_ms", "x_millis"},
        {ALUMET_UNIT(UNITY), "x", "x_1"},
        {ALUMET_UNIT(BYTE), "x_B", "x_By"},
        {ALUMET_UNIT_PREFIXED(MICRO, SECOND), "x_\xce\xbcs", "x_micros"},
        {ALUMET_UNIT(DEGREE_CELSIUS),
         "x_\xc2\xb0"
         "C",
         "x_Cel"},
        {ALUMET_UNIT_PREFIXED(KILO, WATT_HOUR), "x_kWh", "x_kiloW.h"},
        {ALUMET_UNIT(PERCENT), "x_%", "x_%"},
        {{ALUMET_UNIT_CUSTOM, ALUMET_PREFIX_PLAIN, "g_CO2", "gCO\xe2\x82\x82"},
         "x_gCO\xe2\x82\x82",
         "x_g_CO2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int unique = 0; unique < 2; unique++) {
            struct csv_writer_opts opts = default_opts();
            opts.use_unit_display_name = !unique;
            struct fixture f;
            fixture_init(&f, &opts);
            alumet_metric_id m =
                alumet_test_add_metric(f.reg, "x", ALUMET_VALUE_U64, cases[i].unit);
            alumet_test_push_u64(f.buf, m, 5);
            write_and_clear(&f);
            char expected[256];
            snprintf(expected, sizeof(expected),
                     FIXED_HEADER "__late_attributes\n"
                                  "%s;1970-01-01T00:00:00Z;5;local_machine;;local_machine;;\n",
                     unique ? cases[i].unique : cases[i].display);
            assert_string_equal(alumet_test_mem_sink_text(&f.sink), expected);

            char name[64];
            const struct alumet_metric *metric = alumet_registry_get(f.reg, m);
            assert_int_equal(csv_metric_name(&opts, metric, name, sizeof(name)),
                             strlen(unique ? cases[i].unique : cases[i].display));
            assert_string_equal(name, unique ? cases[i].unique : cases[i].display);
            fixture_done(&f);
        }
    }
}

static void test_metric_name_escaped(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m =
        alumet_test_add_metric(f.reg, "odd;\"name\"", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    alumet_test_push_u64(f.buf, m, 1);
    alumet_test_push_u64(f.buf, m, 2);
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "__late_attributes\n"
                                     "\"odd;\"\"name\"\"_J\";1970-01-01T00:00:00Z;1;local_machine;;"
                                     "local_machine;;\n"
                                     "\"odd;\"\"name\"\"_J\";1970-01-01T00:00:00Z;2;local_machine;;"
                                     "local_machine;;\n");
    fixture_done(&f);
}

/* ---- values and timestamps through the writer ---- */

static void test_values_and_timestamps(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id mf = alumet_test_add_metric(f.reg, "f", ALUMET_VALUE_F64, ALUMET_UNIT(WATT));
    alumet_metric_id mu = alumet_test_add_metric(f.reg, "u", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));

    const struct {
        alumet_time_ns ts;
        bool f64;
        double f;
        uint64_t u;
    } pts[] = {
        {1745593733996365220, true, 1e21, 0},
        {1745593733996365220, true, 0.1 + 0.2, 0},
        {1745593733500000000, true, -0.0, 0},
        {1745593733500000000, true, NAN, 0},
        {1745593733000000000, true, -INFINITY, 0},
        {-1, true, 1e-7, 0},
        {-1, false, 0, UINT64_MAX},
        {1, false, 0, 42},
        {1, true, 123456.789, 0},
        {1, true, 100.0, 0},
    };
    for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
        struct alumet_point *p =
            pts[i].f64 ? alumet_buffer_push_f64(f.buf, pts[i].ts, mf, &alumet_test_local_resource,
                                                &alumet_test_local_consumer, pts[i].f)
                       : alumet_buffer_push_u64(f.buf, pts[i].ts, mu, &alumet_test_local_resource,
                                                &alumet_test_local_consumer, pts[i].u);
        assert_non_null(p);
    }
    write_and_clear(&f);
    assert_string_equal(
        alumet_test_mem_sink_text(&f.sink), FIXED_HEADER
        "__late_attributes\n"
        "f_W;2025-04-25T15:08:53.99636522Z;1000000000000000000000;local_machine;;"
        "local_machine;;\n"
        "f_W;2025-04-25T15:08:53.99636522Z;0.30000000000000004;local_machine;;"
        "local_machine;;\n"
        "f_W;2025-04-25T15:08:53.5Z;-0;local_machine;;local_machine;;\n"
        "f_W;2025-04-25T15:08:53.5Z;NaN;local_machine;;local_machine;;\n"
        "f_W;2025-04-25T15:08:53Z;-inf;local_machine;;local_machine;;\n"
        "f_W;1969-12-31T23:59:59.999999999Z;0.0000001;local_machine;;local_machine;;\n"
        "u_J;1969-12-31T23:59:59.999999999Z;18446744073709551615;local_machine;;"
        "local_machine;;\n"
        "u_J;1970-01-01T00:00:00.000000001Z;42;local_machine;;local_machine;;\n"
        "f_W;1970-01-01T00:00:00.000000001Z;123456.789;local_machine;;local_machine;;\n"
        "f_W;1970-01-01T00:00:00.000000001Z;100;local_machine;;local_machine;;\n");
    fixture_done(&f);
}

/* With '.' as the delimiter every f64 with a fraction must be quoted. */
static void test_odd_delimiters(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    opts.delimiter = '.';
    opts.late_delimiter = '|';
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY));
    struct alumet_point *p = alumet_test_push_f64(f.buf, m, 0.5);
    alumet_test_add_str(f.buf, p, "a", "x|y.z");
    write_and_clear(&f);
    p = alumet_test_push_f64(f.buf, m, 2);
    alumet_test_add_str(f.buf, p, "b", "x|y.z");
    alumet_test_add_str(f.buf, p, "c", "1,2");
    assert_non_null(alumet_buffer_push_f64(f.buf, 500000000, m, &alumet_test_local_resource,
                                           &alumet_test_local_consumer, 3));
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        "metric.timestamp.value.resource_kind.resource_id.consumer_kind."
                        "consumer_id.a.__late_attributes\n"
                        "m.1970-01-01T00:00:00Z.\"0.5\".local_machine..local_machine..\"x|y.z\".\n"
                        "m.1970-01-01T00:00:00Z.2.local_machine..local_machine...\"b=x\\|y.z|c=1,"
                        "2\"\n"
                        "m.\"1970-01-01T00:00:00.5Z\".3.local_machine..local_machine...\n");
    fixture_done(&f);
}

/* ---- attributes ---- */

static void test_attribute_types(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    static const uint64_t items[] = {1, 2, 3};
    static const uint64_t one[] = {18446744073709551615ull};

    struct alumet_point *p = alumet_test_push_u64(f.buf, m, 1);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "f", 0.45), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "u", 69), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "b", true), 0);
    alumet_test_add_str(f.buf, p, "s", "elastic search");
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 3;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);

    p = alumet_test_push_u64(f.buf, m, 2);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "f", 1e21), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "b", false), 0);
    list.v.list.items = one;
    list.v.list.len = 1;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    write_and_clear(&f);

    /* then as late attributes: the list's ", " is escaped */
    p = alumet_test_push_u64(f.buf, m, 3);
    list.key = "late_list";
    list.v.list.items = items;
    list.v.list.len = 3;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    list.key = "empty";
    list.v.list.len = 0;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "late_f", -2.5), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "late_b", true), 0);
    write_and_clear(&f);

    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "b;f;l;s;u;__late_attributes\n"
                                     "m;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;true;"
                                     "0.45;[1, 2, 3];elastic search;69;\n"
                                     "m;1970-01-01T00:00:00Z;2;local_machine;;local_machine;;false;"
                                     "1000000000000000000000;[18446744073709551615];;;\n"
                                     "m;1970-01-01T00:00:00Z;3;local_machine;;local_machine;;;;;;;"
                                     "late_list=[1\\, 2\\, 3],empty=[],late_f=-2.5,late_b=true\n");
    fixture_done(&f);
}

/* Header columns: the distinct keys of the first buffer in byte order
 * (upper case first); later keys go to __late_attributes. */
static void test_header_sorted_union(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));

    struct alumet_point *p = alumet_test_push_u64(f.buf, m, 1);
    alumet_test_add_str(f.buf, p, "zeta", "z");
    alumet_test_add_str(f.buf, p, "alpha", "a");
    p = alumet_test_push_u64(f.buf, m, 2);
    alumet_test_add_str(f.buf, p, "Beta", "B");
    alumet_test_add_str(f.buf, p, "alpha", "a2");
    alumet_test_add_str(f.buf, p, "_under", "u");
    alumet_test_add_str(f.buf, p, "al", "x");
    write_and_clear(&f);
    p = alumet_test_push_u64(f.buf, m, 3);
    alumet_test_add_str(f.buf, p, "new", "n");
    alumet_test_add_str(f.buf, p, "zeta", "z3");
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "Beta;_under;al;alpha;zeta;__late_attributes\n"
                                     "m;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;;;;a;"
                                     "z;\n"
                                     "m;1970-01-01T00:00:00Z;2;local_machine;;local_machine;;B;u;x;"
                                     "a2;;\n"
                                     "m;1970-01-01T00:00:00Z;3;local_machine;;local_machine;;;;;;"
                                     "z3;new=n\n");
    fixture_done(&f);
}

/* Keys are looked up by address within a buffer only: a key of the next
 * buffer at the same address with another text gets its own column. One
 * late attribute, with both delimiters in its value, and numbers in
 * columns. */
static void test_keys_by_address(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    char key[8] = "a";
    struct alumet_point *p = alumet_test_push_u64(f.buf, m, 1);
    alumet_test_add_str(f.buf, p, key, "x");
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "n", 42), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "z", 0.25), 0);
    write_and_clear(&f);
    strcpy(key, "b"); /* same address, other key: not a column */
    p = alumet_test_push_u64(f.buf, m, 2);
    alumet_test_add_str(f.buf, p, key, "y;1,2");
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "n", 7), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "z", true), 0);
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "a;n;z;__late_attributes\n"
                                     "m;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;x;42;"
                                     "0.25;\n"
                                     "m;1970-01-01T00:00:00Z;2;local_machine;;local_machine;;;7;"
                                     "true;\"b=y;1\\,2\"\n");
    fixture_done(&f);
}

/* Many distinct keys: the key set and the column table grow. */
static void test_header_many_keys(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    char key[16];
    for (int i = 99; i >= 0; i--) {
        struct alumet_point *p = alumet_test_push_u64(f.buf, m, (uint64_t)i);
        snprintf(key, sizeof(key), "k%02d", i);
        const char *k = alumet_buffer_strdup(f.buf, key, (size_t)-1);
        assert_non_null(k);
        alumet_test_add_str(f.buf, p, k, "v");
        alumet_test_add_str(f.buf, p, "k00", "again");
    }
    write_and_clear(&f);
    const char *text = alumet_test_mem_sink_text(&f.sink);
    char expected[2048];
    size_t n = (size_t)snprintf(expected, sizeof(expected), "%s", FIXED_HEADER);
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(expected + n, sizeof(expected) - n, "k%02d;", i);
    snprintf(expected + n, sizeof(expected) - n, "__late_attributes\n");
    assert_memory_equal(text, expected, strlen(expected));
    /* first row: value 99, k99 = v, k00 = again (the last one wins) */
    const char *row = strchr(text, '\n') + 1;
    char expected_row[1024];
    n = (size_t)snprintf(expected_row, sizeof(expected_row),
                         "m;1970-01-01T00:00:00Z;99;local_machine;;local_machine;;again;");
    for (int i = 1; i < 99; i++)
        n += (size_t)snprintf(expected_row + n, sizeof(expected_row) - n, ";");
    snprintf(expected_row + n, sizeof(expected_row) - n, "v;\n");
    assert_memory_equal(row, expected_row, strlen(expected_row));
    fixture_done(&f);
}

/* Upstream puts the fixed cells and the attributes into one map: the last
 * of a repeated key wins, and an attribute named like a fixed column
 * replaces its value. */
static void test_attribute_overrides(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));

    struct alumet_point *p = alumet_test_push_u64(f.buf, m, 1);
    alumet_test_add_str(f.buf, p, "k", "first");
    alumet_test_add_str(f.buf, p, "k", "second");
    p = alumet_test_push_u64(f.buf, m, 2);
    alumet_test_add_str(f.buf, p, "value", "replaced");
    alumet_test_add_str(f.buf, p, "resource_id", "rid");
    write_and_clear(&f);
    p = alumet_test_push_u64(f.buf, m, 3);
    alumet_test_add_str(f.buf, p, "late", "1");
    alumet_test_add_str(f.buf, p, "late", "2");
    alumet_test_add_str(f.buf, p, "other", "x");
    alumet_test_add_str(f.buf, p, "late", "3");
    write_and_clear(&f);
    /* "resource_id" and "value" appear twice in the header, like upstream:
     * the fixed column gets the value, the later one stays empty */
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), FIXED_HEADER
                        "k;resource_id;value;__late_attributes\n"
                        "m;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;second;"
                        ";;\n"
                        "m;1970-01-01T00:00:00Z;replaced;local_machine;rid;"
                        "local_machine;;;;;\n"
                        "m;1970-01-01T00:00:00Z;3;local_machine;;local_machine;;;;;"
                        "late=3,other=x\n");
    fixture_done(&f);
}

/* An empty first buffer still writes the header, without attribute columns. */
static void test_empty_first_buffer(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), FIXED_HEADER "__late_attributes\n");
    struct alumet_point *p = alumet_test_push_u64(f.buf, m, 1);
    alumet_test_add_str(f.buf, p, "a", "1");
    write_and_clear(&f);
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), FIXED_HEADER
                        "__late_attributes\n"
                        "m;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;a=1\n");
    fixture_done(&f);
}

/* ---- resources and consumers ---- */

static void test_resources(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    char long_path[400];
    memset(long_path, 'p', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';

    const struct {
        struct alumet_resource r;
        struct alumet_consumer c;
    } cases[] = {
        {{ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL}, {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL}},
        {{ALUMET_RESOURCE_CPU_CORE, 17, NULL, NULL},
         {ALUMET_CONSUMER_CGROUP, 0, "/sys/fs/cgroup/a;b", NULL}},
        {{ALUMET_RESOURCE_DRAM, 1, NULL, NULL}, {ALUMET_CONSUMER_LOCAL_MACHINE, 0, NULL, NULL}},
        {{ALUMET_RESOURCE_GPU, 0, "0000:3b:00.0", NULL},
         {ALUMET_CONSUMER_CUSTOM, 0, "id\"1", "my_kind"}},
        {{ALUMET_RESOURCE_CUSTOM, 0, "rid", "rkind"}, {ALUMET_CONSUMER_CGROUP, 0, long_path, NULL}},
        {{ALUMET_RESOURCE_CUSTOM, 0, "a\nb", "r;kind"}, {ALUMET_CONSUMER_CUSTOM, 0, "", "c\"kind"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_non_null(alumet_buffer_push_u64(f.buf, 0, m, &cases[i].r, &cases[i].c, i));
    write_and_clear(&f);

    char expected[2048];
    snprintf(expected, sizeof(expected),
             FIXED_HEADER "__late_attributes\n"
                          "m;1970-01-01T00:00:00Z;0;cpu_package;0;process;42;\n"
                          "m;1970-01-01T00:00:00Z;1;cpu_core;17;cgroup;\"/sys/fs/cgroup/a;b\";\n"
                          "m;1970-01-01T00:00:00Z;2;dram;1;local_machine;;\n"
                          "m;1970-01-01T00:00:00Z;3;gpu;0000:3b:00.0;my_kind;\"id\"\"1\";\n"
                          "m;1970-01-01T00:00:00Z;4;rkind;rid;cgroup;%s;\n"
                          "m;1970-01-01T00:00:00Z;5;\"r;kind\";\"a\nb\";\"c\"\"kind\";;\n",
             long_path);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), expected);
    fixture_done(&f);
}

/* ---- registry and buffering ---- */

/* Metrics registered after the first write (late registration). */
static void test_late_metrics(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m0 = alumet_test_add_metric(f.reg, "m0", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_test_push_u64(f.buf, m0, 0);
    write_and_clear(&f);

    char name[16];
    alumet_metric_id last = m0;
    for (int i = 1; i <= 300; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        last = alumet_test_add_metric(f.reg, name, ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    }
    alumet_test_push_u64(f.buf, last, 300);
    alumet_test_push_u64(f.buf, m0, 1);
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), FIXED_HEADER
                        "__late_attributes\n"
                        "m0;1970-01-01T00:00:00Z;0;local_machine;;local_machine;;\n"
                        "m300_J;1970-01-01T00:00:00Z;300;local_machine;;local_machine;;\n"
                        "m0;1970-01-01T00:00:00Z;1;local_machine;;local_machine;;\n");
    fixture_done(&f);
}

static void test_unknown_metric(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_test_push_u64(f.buf, 7, 0);
    struct alumet_error err = {0};
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown metric id 7 in a buffer");
    fixture_done(&f);
}

/* A writer used for lines cannot take measurements. */
static void test_no_mixing(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    static const char *const header[] = {"a", "b"};
    assert_int_equal(csv_writer_write_header(f.w, header, 2), 0);
    struct alumet_error err = {0};
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), -EINVAL);
    assert_int_equal(csv_writer_flush(f.w), 0);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), "a;b;__late_attributes\n");
    fixture_done(&f);
}

/* A tiny write buffer gives the same bytes, in one sink call (a buffer goes
 * out whole: rows are never split between calls), and a cell larger than the
 * buffer still goes through. */
static void test_small_buffer(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    opts.buffer_size = 16;
    struct fixture f;
    fixture_init(&f, &opts);
    struct csv_writer_opts big = default_opts();
    struct alumet_test_mem_sink ref = {0};
    struct csv_writer *wref = csv_writer_new(&big, alumet_test_mem_sink_write, &ref);
    assert_non_null(wref);

    alumet_metric_id mu =
        alumet_test_add_metric(f.reg, "test_metric_u64", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_metric_id mf =
        alumet_test_add_metric(f.reg, "test_metric_f64", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY));
    reference_points(&f, mu, mf);
    char huge[1000];
    memset(huge, 'h', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    huge[500] = '"';
    struct alumet_point *p = alumet_test_push_u64(f.buf, mu, 9);
    alumet_test_add_str(f.buf, p, "attributes_1", huge);
    alumet_test_add_str(f.buf, p, "late", huge);

    struct alumet_error err = {0};
    assert_int_equal(csv_writer_write_buffer(wref, f.buf, f.reg, &err), 0);
    assert_int_equal(csv_writer_flush(wref), 0);
    write_and_clear(&f);
    assert_int_equal(f.sink.calls, 1);
    assert_int_equal(f.sink.len, ref.len);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), alumet_test_mem_sink_text(&ref));
    assert_true(strstr(ref.s, "hh\"\"hh") != NULL);
    csv_writer_free(wref);
    free(ref.s);
    fixture_done(&f);
}

#define ROW(v) "m;1970-01-01T00:00:00Z;" v ";local_machine;;local_machine;;\n"

/* A buffer goes to the sink whole or not at all: a sink error (a full disk)
 * takes its rows back, so that writing the same buffer again once the sink
 * works gives each row once; the text of the buffers before it is kept. */
static void test_sink_error(void **state)
{
    (void)state;
    struct csv_writer_opts opts = default_opts();
    opts.buffer_size = 64; /* rows are never split: the sink gets whole buffers */
    opts.flush_each_buffer = true;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    for (int i = 0; i < 10; i++)
        alumet_test_push_u64(f.buf, m, (uint64_t)i);
    f.sink.fail = -ENOSPC;
    struct alumet_error err = {0};
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), -ENOSPC);
    assert_int_equal(err.code, 0);
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), -ENOSPC);
    assert_int_equal(f.sink.len, 0);
    f.sink.fail = 0;
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), 0);
    assert_int_equal(f.sink.calls, 3);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "__late_attributes\n" ROW("0") ROW("1") ROW("2") ROW("3")
                            ROW("4") ROW("5") ROW("6") ROW("7") ROW("8") ROW("9"));
    assert_int_equal(csv_writer_pending_rows(f.w), 0);

    /* a point of an unknown metric: nothing of its buffer goes out */
    alumet__buffer_clear(f.buf);
    alumet_test_push_u64(f.buf, m, 10);
    alumet_test_push_u64(f.buf, 7, 11);
    size_t before = f.sink.len;
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), -EINVAL);
    assert_int_equal(csv_writer_flush(f.w), 0);
    assert_int_equal(f.sink.len, before);
    fixture_done(&f);

    /* buffered (force_flush = false): what was accepted waits for the next
     * flush, a failed one keeps it */
    opts.flush_each_buffer = false;
    opts.buffer_size = 0; /* the default, 256 KiB */
    fixture_init(&f, &opts);
    m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    alumet_test_push_u64(f.buf, m, 1);
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), 0);
    assert_int_equal(f.sink.calls, 0);
    assert_int_equal(csv_writer_pending_rows(f.w), 1);
    f.sink.fail = -ENOSPC;
    assert_int_equal(csv_writer_flush(f.w), -ENOSPC);
    assert_int_equal(csv_writer_pending_rows(f.w), 1);
    f.sink.fail = 0;
    alumet__buffer_clear(f.buf);
    alumet_test_push_u64(f.buf, m, 2);
    assert_int_equal(csv_writer_write_buffer(f.w, f.buf, f.reg, &err), 0);
    assert_int_equal(csv_writer_pending_rows(f.w), 2);
    assert_int_equal(csv_writer_flush(f.w), 0);
    assert_int_equal(csv_writer_pending_rows(f.w), 0);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "__late_attributes\n" ROW("1") ROW("2"));
    fixture_done(&f);
}

/* ---- the plugin, through the agent lifecycle ---- */

/* The time of the points of the test source (alumet_test_run) */
#define T_RUN 1745593733996365220

static void test_plugin_default_config(void **state)
{
    (void)state;
    assert_string_equal(alumet_plugin_csv.name, "csv");
    assert_string_equal(alumet_plugin_csv.version, "0.2.0");
    assert_int_equal(alumet_plugin_csv.abi_version, ALUMET_PLUGIN_ABI);
    const char *def = alumet_plugin_csv.default_config;
    assert_memory_equal(def, "[plugins.csv]\n", 14);
    const char *keys[] = {
        "\noutput_path = \"alumet-output.csv\"\n",
        "\nforce_flush = true\n",
        "\nappend_unit_to_metric_name = true\n",
        "\nuse_unit_display_name = true\n",
        "\ncsv_delimiter = \";\"\n",
        "\ncsv_late_delimiter = \",\"\n",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(strstr(def, keys[i]));

    /* it parses, and init accepts every key of it */
    struct alumet_error err = {0};
    void *st = NULL;
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_csv, def, NULL, &st, &err), 0);
    alumet_plugin_csv.free(st);
}

static void test_plugin_writes_file(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/out.csv", dir);
    /* an existing file is truncated */
    FILE *old = fopen(path, "w");
    assert_non_null(old);
    fputs("old content that must disappear\n", old);
    fclose(old);

    char config[PATH_MAX + 256];
    snprintf(config, sizeof(config),
             "[plugins.csv]\noutput_path = \"%s\"\nforce_flush = false\n"
             "use_unit_display_name = false\ncsv_delimiter = \",\"\ncsv_late_delimiter = \"|\"\n",
             path);
    struct alumet_test_run a;
    assert_int_equal(alumet_test_run_start(&a, &alumet_plugin_csv, config, T_RUN), 0);
    char *text = alumet_test_read_file(path);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_stop(a.p), 0);
    alumet_test_run_done(&a);

    text = alumet_test_read_file(path);
    assert_string_equal(text, "metric,timestamp,value,resource_kind,resource_id,consumer_kind,"
                              "consumer_id,domain,__late_attributes\n"
                              "energy_milliJ,2025-04-25T15:08:53.99636522Z,12,local_machine,,"
                              "local_machine,,package,\n"
                              "ratio_1,2025-04-25T15:08:53.99636522Z,0.25,local_machine,,"
                              "local_machine,,,\n"
                              "energy_milliJ,2025-04-25T15:08:53.99636522Z,12,local_machine,,"
                              "local_machine,,package,\n"
                              "ratio_1,2025-04-25T15:08:53.99636522Z,0.25,local_machine,,"
                              "local_machine,,,\n");
    free(text);
    alumet_test_rmtree(dir);
}

static void test_plugin_open_error(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char config[PATH_MAX + 128];
    snprintf(config, sizeof(config), "[plugins.csv]\noutput_path = \"%s/missing/out.csv\"\n", dir);
    struct alumet_test_run a;
    int r = alumet_test_run_start(&a, &alumet_plugin_csv, config, T_RUN);
    assert_int_equal(r, -ENOENT);
    char expected[PATH_MAX + 256];
    snprintf(expected, sizeof(expected),
             "failed to open file for writing '%s/missing/out.csv': No such file or directory",
             dir);
    assert_non_null(strstr(a.err.msg, expected));
    alumet_test_run_done(&a);
    alumet_test_rmtree(dir);
}

static void test_plugin_bad_options(void **state)
{
    (void)state;
    static const char *const configs[] = {
        "[plugins.csv]\ncsv_delimiter = \";;\"\n",
        "[plugins.csv]\nforce_flush = \"yes\"\n",
        "[plugins.csv]\noutput_path = \"\"\n",
        "[plugins.csv]\noutput_path = 3\n",
    };
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        struct alumet_test_run a;
        assert_int_equal(alumet_test_run_start(&a, &alumet_plugin_csv, configs[i], T_RUN), -EINVAL);
        alumet_test_run_done(&a);
    }
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_writer_lines),
        cmocka_unit_test(test_writer_late_rules),
        cmocka_unit_test(test_reference_output),
        cmocka_unit_test(test_reference_unique_unit_name),
        cmocka_unit_test(test_reference_no_unit),
        cmocka_unit_test(test_metric_units),
        cmocka_unit_test(test_metric_name_escaped),
        cmocka_unit_test(test_values_and_timestamps),
        cmocka_unit_test(test_odd_delimiters),
        cmocka_unit_test(test_attribute_types),
        cmocka_unit_test(test_header_sorted_union),
        cmocka_unit_test(test_header_many_keys),
        cmocka_unit_test(test_keys_by_address),
        cmocka_unit_test(test_attribute_overrides),
        cmocka_unit_test(test_empty_first_buffer),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_late_metrics),
        cmocka_unit_test(test_unknown_metric),
        cmocka_unit_test(test_no_mixing),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_sink_error),
        cmocka_unit_test(test_plugin_default_config),
        cmocka_unit_test(test_plugin_writes_file),
        cmocka_unit_test(test_plugin_open_error),
        cmocka_unit_test(test_plugin_bad_options),
    };
    return alumet_run_tests(group);
}
