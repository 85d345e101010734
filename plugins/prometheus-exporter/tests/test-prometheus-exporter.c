/* SPDX-License-Identifier: MIT */
/* The prometheus-exporter plugin, its parts: exposition text (exact bytes,
 * both formats), names, units, labels and escaping, expiry with an injected
 * clock, content negotiation, addresses. The plugin itself, with its HTTP
 * endpoint: test-prometheus-exporter-plugin.c. */
#include "alumet-test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "core/buffer.h"
#include "core/registry.h"
#include "plugins/prometheus-exporter/prometheus-exporter.h"

#define MINUTE (60 * ALUMET_NSEC_PER_SEC)
#define FIXED_LOCAL                                                                                \
    "resource_consumer_id=\"\",resource_consumer_kind=\"local_machine\",resource_id=\"\","         \
    "resource_kind=\"local_machine\""

/* ---- helpers ---- */

struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct prometheus_table *t;
};

static const struct alumet_resource local_resource = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer local_consumer = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static struct prometheus_table_opts default_opts(void)
{
    return (struct prometheus_table_opts){
        .prefix = "",
        .suffix = "_alumet",
        .add_attributes_to_labels = true,
        .series_expiry = 5 * MINUTE,
    };
}

static void fixture_init(struct fixture *f, const struct prometheus_table_opts *opts)
{
    f->reg = alumet__registry_new();
    f->buf = alumet__buffer_new(16);
    f->t = prometheus_table_new(opts);
    assert_non_null(f->reg);
    assert_non_null(f->buf);
    assert_non_null(f->t);
}

static void fixture_done(struct fixture *f)
{
    prometheus_table_unref(f->t);
    alumet__buffer_free(f->buf);
    alumet__registry_free(f->reg);
}

static alumet_metric_id add_metric(struct fixture *f, const char *name, enum alumet_value_type type,
                                   struct alumet_unit unit, const char *description)
{
    alumet_metric_id id = ALUMET_METRIC_ID_INVALID;
    struct alumet_error err = {0};
    assert_int_equal(alumet__registry_add(f->reg, name, type, unit, description, &id, &err), 0);
    return id;
}

static struct alumet_point *push(struct fixture *f, alumet_metric_id m, double v,
                                 const struct alumet_resource *r, const struct alumet_consumer *c)
{
    const struct alumet_metric *metric = alumet_registry_get(f->reg, m);
    struct alumet_point *p = metric->value_type == ALUMET_VALUE_U64
                                 ? alumet_buffer_push_u64(f->buf, 0, m, r, c, (uint64_t)v)
                                 : alumet_buffer_push_f64(f->buf, 0, m, r, c, v);
    assert_non_null(p);
    return p;
}

static void write_at(struct fixture *f, alumet_time_ns now)
{
    struct alumet_error err = {0};
    assert_int_equal(prometheus_table_write(f->t, f->buf, f->reg, now, &err), 0);
    alumet__buffer_clear(f->buf);
}

static char *render(struct fixture *f, enum prometheus_format fmt, alumet_time_ns now)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(prometheus_table_render(f->t, fmt, now, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    return text;
}

static void assert_render(struct fixture *f, enum prometheus_format fmt, alumet_time_ns now,
                          const char *expected)
{
    char *text = render(f, fmt, now);
    assert_string_equal(text, expected);
    free(text);
}

/* ---- values and names ---- */

static void check_sanitize(const char *in, const char *expected)
{
    char out[64];
    assert_int_equal(prom_sanitize(in, strlen(in), out), strlen(expected));
    assert_string_equal(out, expected);
}

static void test_sanitize(void **state)
{
    (void)state;
    check_sanitize("kernel_cpu_time", "kernel_cpu_time");
    check_sanitize("kernel:cpu", "kernel_cpu");
    check_sanitize("1abc", "_abc");
    check_sanitize("_x", "_x");
    check_sanitize("a%b-c.d e", "a_b_c_d_e");
    check_sanitize("\xce\xbcs", "_s");
    check_sanitize("a\xce\xbc"
                   "b",
                   "a_b");
    check_sanitize("\xe2\x82\x82\xe2\x82\x82", "__");
    check_sanitize("A9z", "A9z");
    check_sanitize("", "");
}

/* ---- exposition ---- */

/* Three families, two series each at most, with units, attributes, resources
 * and consumers; families in first-seen order, series sorted by labels. */
static void reference_points(struct fixture *f)
{
    alumet_metric_id time =
        add_metric(f, "kernel_cpu_time", ALUMET_VALUE_U64, ALUMET_UNIT_PREFIXED(MILLI, SECOND),
                   "CPU time spent in kernel mode");
    alumet_metric_id cs = add_metric(f, "kernel_context_switches", ALUMET_VALUE_U64,
                                     ALUMET_UNIT(UNITY), "number of context switches");
    alumet_metric_id energy =
        add_metric(f, "rapl_consumed_energy", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE),
                   "energy consumed since the previous measurement");
    const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_resource dram = {ALUMET_RESOURCE_DRAM, 0, NULL, NULL};
    const struct alumet_consumer proc = {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL};

    push(f, time, 4950, &local_resource, &local_consumer);
    struct alumet_point *p = push(f, energy, 12.5, &pkg, &local_consumer);
    assert_int_equal(alumet_point_add_attr_str(f->buf, p, "domain", "package"), 0);
    p = push(f, energy, 3.25, &dram, &local_consumer);
    assert_int_equal(alumet_point_add_attr_str(f->buf, p, "domain", "dram"), 0);
    push(f, cs, 1234, &local_resource, &proc);
    p = push(f, time, 10, &local_resource, &proc);
    assert_int_equal(alumet_point_add_attr_str(f->buf, p, "kind", "user"), 0);
}

#define REF_TIME "kernel_cpu_time_alumet_milliseconds"
#define REF_ENERGY "rapl_consumed_energy_alumet_joules"
#define REF_CS "kernel_context_switches_alumet"
#define REF_TIME_HEAD                                                                              \
    "# HELP " REF_TIME " CPU time spent in kernel mode.\n"                                         \
    "# TYPE " REF_TIME " gauge\n"
#define REF_TIME_SERIES                                                                            \
    REF_TIME "{kind=\"user\",resource_consumer_id=\"42\",resource_consumer_kind=\"process\","      \
             "resource_id=\"\",resource_kind=\"local_machine\"} 10.0\n" REF_TIME "{" FIXED_LOCAL   \
             "} 4950.0\n"
#define REF_ENERGY_HEAD                                                                            \
    "# HELP " REF_ENERGY " energy consumed since the previous measurement.\n"                      \
    "# TYPE " REF_ENERGY " gauge\n"
#define REF_ENERGY_SERIES                                                                          \
    REF_ENERGY "{domain=\"dram\",resource_consumer_id=\"\",resource_consumer_kind=\"local_"        \
               "machine\",resource_id=\"0\",resource_kind=\"dram\"} 3.25\n" REF_ENERGY             \
               "{domain=\"package\",resource_consumer_id=\"\",resource_consumer_kind=\"local_"     \
               "machine\",resource_id=\"0\",resource_kind=\"cpu_package\"} 12.5\n"
/* an energy: its counter family follows its gauge */
#define REF_COUNTER "rapl_consumed_energy_alumet_cumulative_joules"
#define REF_COUNTER_HELP                                                                           \
    " energy consumed since the previous measurement, summed since the series appeared.\n"
#define REF_COUNTER_SERIES                                                                         \
    REF_COUNTER "_total{domain=\"dram\",resource_consumer_id=\"\",resource_consumer_kind="         \
                "\"local_machine\",resource_id=\"0\",resource_kind=\"dram\"} 3.25\n" REF_COUNTER   \
                "_total{domain=\"package\",resource_consumer_id=\"\",resource_consumer_kind="      \
                "\"local_machine\",resource_id=\"0\",resource_kind=\"cpu_package\"} 12.5\n"
#define REF_COUNTER_OPENMETRICS                                                                    \
    "# HELP " REF_COUNTER REF_COUNTER_HELP "# TYPE " REF_COUNTER " counter\n"                      \
    "# UNIT " REF_COUNTER " joules\n" REF_COUNTER_SERIES
#define REF_COUNTER_TEXT                                                                           \
    "# HELP " REF_COUNTER "_total" REF_COUNTER_HELP "# TYPE " REF_COUNTER                          \
    "_total counter\n" REF_COUNTER_SERIES
#define REF_CS_ALL                                                                                 \
    "# HELP " REF_CS " number of context switches.\n"                                              \
    "# TYPE " REF_CS " gauge\n" REF_CS "{resource_consumer_id=\"42\",resource_consumer_kind="      \
    "\"process\",resource_id=\"\",resource_kind=\"local_machine\"} 1234.0\n"

static void test_render_openmetrics(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, 0, "# EOF\n");
    reference_points(&f);
    write_at(&f, 0);
    assert_int_equal(prometheus_table_series_count(f.t), 5);
    assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, 0,
                  REF_TIME_HEAD "# UNIT " REF_TIME " milliseconds\n" REF_TIME_SERIES REF_ENERGY_HEAD
                                "# UNIT " REF_ENERGY
                                " joules\n" REF_ENERGY_SERIES REF_COUNTER_OPENMETRICS REF_CS_ALL
                                "# EOF\n");
    fixture_done(&f);
}

/* text/plain 0.0.4: no UNIT line, no EOF, the same samples */
static void test_render_text(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 0, "");
    reference_points(&f);
    write_at(&f, 0);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 0,
                  REF_TIME_HEAD REF_TIME_SERIES REF_ENERGY_HEAD REF_ENERGY_SERIES REF_COUNTER_TEXT
                      REF_CS_ALL);
    fixture_done(&f);
}

/* The latest value wins; a new label set is a new series. */
static void test_latest_value(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_F64, ALUMET_UNIT(WATT), "power");
    push(&f, m, 1.5, &local_resource, &local_consumer);
    push(&f, m, 2.5, &local_resource, &local_consumer);
    write_at(&f, 0);
    push(&f, m, -0.125, &local_resource, &local_consumer);
    write_at(&f, 1);
    assert_int_equal(prometheus_table_series_count(f.t), 1);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 1,
                  "# HELP m_alumet_watts power.\n# TYPE m_alumet_watts gauge\n"
                  "m_alumet_watts{" FIXED_LOCAL "} -0.125\n");
    fixture_done(&f);
}

/* Label values escaped per OpenMetrics in both formats (upstream writes them
 * verbatim); HELP escapes '"' in OpenMetrics only. */
static void test_escaping(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m =
        add_metric(&f, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "say \"hi\"\\ back\nslash");
    const struct alumet_consumer cg = {ALUMET_CONSUMER_CGROUP, 0, "/a\"b\\c\nd", NULL};
    struct alumet_point *p = push(&f, m, 1, &local_resource, &cg);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "note", "x\"\\\n\ty"), 0);
    write_at(&f, 0);
    const char *series =
        "m_alumet{note=\"x\\\"\\\\\\n\ty\",resource_consumer_id=\"/a\\\"b\\\\c\\nd\","
        "resource_consumer_kind=\"cgroup\",resource_id=\"\","
        "resource_kind=\"local_machine\"} 1.0\n";
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "# HELP m_alumet say \\\"hi\\\"\\\\ back\\nslash.\n# TYPE m_alumet gauge\n%s# EOF\n",
             series);
    assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, 0, expected);
    snprintf(expected, sizeof(expected),
             "# HELP m_alumet say \"hi\"\\\\ back\\nslash.\n# TYPE m_alumet gauge\n%s", series);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 0, expected);
    fixture_done(&f);
}

/* Keys sanitized and sorted; attribute texts in Display form; the last of a
 * repeated attribute wins; an attribute named like a fixed label is renamed
 * (two labels of one name would make Prometheus reject the whole scrape). */
static void test_labels(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "d");
    static const uint64_t items[] = {1, 2};
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 2;

    struct alumet_point *p = push(&f, m, 7, &local_resource, &local_consumer);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "resource_kind", "mine"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "dup", "first"), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "a.b", 1), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "b", true), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "f", 1e21), 0);
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "1x", 0.5), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "dup", "last"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "", "empty key"), 0);
    write_at(&f, 0);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 0,
                  "# HELP m_alumet d.\n# TYPE m_alumet gauge\n"
                  "m_alumet{_=\"empty key\",_x=\"0.5\",a_b=\"1\",alumet_attribute__resource_kind="
                  "\"mine\",b=\"true\",dup=\"last\",f=\"1000000000000000000000\",l=\"[1, 2]\","
                  "resource_consumer_id=\"\",resource_consumer_kind=\"local_machine\","
                  "resource_id=\"\",resource_kind=\"local_machine\"} 7.0\n");
    fixture_done(&f);
}

/* Without attribute labels, the points of one poll that collapse onto one
 * series are summed (upstream keeps the last one). More in
 * test-prometheus-exporter-counters.c. */
static void test_no_attribute_labels(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    opts.add_attributes_to_labels = false;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "d");
    struct alumet_point *p = push(&f, m, 1, &local_resource, &local_consumer);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "a", "1"), 0);
    p = push(&f, m, 2, &local_resource, &local_consumer);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "a", "2"), 0);
    write_at(&f, 0);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 0,
                  "# HELP m_alumet d.\n# TYPE m_alumet gauge\nm_alumet{" FIXED_LOCAL "} 3.0\n");
    fixture_done(&f);
}

/* prefix + name + suffix sanitized as a whole; metrics whose names sanitize
 * alike share the first one's family (its unit and description). */
static void test_prefix_suffix_shared_family(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    opts.prefix = "my:";
    opts.suffix = "-x";
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id a = add_metric(&f, "a.b", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "first");
    alumet_metric_id b = add_metric(&f, "a:b", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "second");
    const struct alumet_resource core = {ALUMET_RESOURCE_CPU_CORE, 3, NULL, NULL};
    push(&f, a, 1, &local_resource, &local_consumer);
    push(&f, b, 2, &core, &local_consumer);
    write_at(&f, 0);
    assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, 0,
                  "# HELP my_a_b_x first.\n# TYPE my_a_b_x gauge\n"
                  "my_a_b_x{" FIXED_LOCAL "} 1.0\n"
                  "my_a_b_x{resource_consumer_id=\"\",resource_consumer_kind=\"local_machine\","
                  "resource_id=\"3\",resource_kind=\"cpu_core\"} 2.0\n# EOF\n");
    fixture_done(&f);
}

struct unit_case {
    struct alumet_unit unit;
    const char *exported;
};

static void test_unit_words(void **state)
{
    (void)state;
    const struct unit_case cases[] = {
        {ALUMET_UNIT_PREFIXED(MILLI, SECOND), "x_milliseconds"},
        {ALUMET_UNIT_PREFIXED(MICRO, SECOND), "x_microseconds"},
        {ALUMET_UNIT_PREFIXED(KILO, BYTE), "x_kilobytes"},
        {ALUMET_UNIT_PREFIXED(GIGA, BYTE), "x_gigabytes"},
        {ALUMET_UNIT_PREFIXED(NANO, WATT_HOUR), "x_nanowatt_hours"},
        {ALUMET_UNIT_PREFIXED(MEGA, HERTZ), "x_megahertz"},
        {ALUMET_UNIT(AMPERE), "x_amperes"},
        {ALUMET_UNIT(VOLT), "x_volts"},
        {ALUMET_UNIT(WATT), "x_watts"},
        {ALUMET_UNIT(JOULE), "x_joules"},
        {ALUMET_UNIT(DEGREE_CELSIUS), "x_celsius"},
        {ALUMET_UNIT(DEGREE_FAHRENHEIT), "x_fahrenheit"},
        {ALUMET_UNIT(PERCENT), "x_ratio"},
        {ALUMET_UNIT(UNITY), "x"},
        {ALUMET_UNIT_PREFIXED(MILLI, UNITY), "x_milli"},
        {{ALUMET_UNIT_CUSTOM, ALUMET_PREFIX_PLAIN, "g_CO2", "gCO\xe2\x82\x82"}, "x_g_CO2"},
        {{ALUMET_UNIT_CUSTOM, ALUMET_PREFIX_KILO, "tok.s", "tok/s"}, "x_kilotok_s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct prometheus_table_opts opts = default_opts();
        opts.suffix = "";
        struct fixture f;
        fixture_init(&f, &opts);
        alumet_metric_id m = add_metric(&f, "x", ALUMET_VALUE_U64, cases[i].unit, "d");
        push(&f, m, 5, &local_resource, &local_consumer);
        write_at(&f, 0);
        const char *name = cases[i].exported;
        const char *unit = strchr(name, '_');
        char expected[1024];
        if (prom_unit_is_energy(&cases[i].unit))
            snprintf(expected, sizeof(expected),
                     "# HELP %s d.\n# TYPE %s gauge\n# UNIT %s %s\n%s{" FIXED_LOCAL "} 5.0\n"
                     "# HELP x_cumulative_%s d, summed since the series appeared.\n"
                     "# TYPE x_cumulative_%s counter\n# UNIT x_cumulative_%s %s\n"
                     "x_cumulative_%s_total{" FIXED_LOCAL "} 5.0\n# EOF\n",
                     name, name, name, unit + 1, name, unit + 1, unit + 1, unit + 1, unit + 1,
                     unit + 1);
        else if (unit)
            snprintf(expected, sizeof(expected),
                     "# HELP %s d.\n# TYPE %s gauge\n# UNIT %s %s\n%s{" FIXED_LOCAL
                     "} 5.0\n# EOF\n",
                     name, name, name, unit + 1, name);
        else
            snprintf(expected, sizeof(expected),
                     "# HELP %s d.\n# TYPE %s gauge\n%s{" FIXED_LOCAL "} 5.0\n# EOF\n", name, name,
                     name);
        assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, 0, expected);
        fixture_done(&f);
    }
}

/* ---- expiry, with the clock given to write and render ---- */

static void test_expiry(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "d");
    const struct alumet_consumer p1 = {ALUMET_CONSUMER_PROCESS, 1, NULL, NULL};
    const struct alumet_consumer p2 = {ALUMET_CONSUMER_PROCESS, 2, NULL, NULL};
    const alumet_time_ns t0 = 1000 * ALUMET_NSEC_PER_SEC;
#define SERIES(pid, v)                                                                             \
    "m_alumet{resource_consumer_id=\"" pid "\",resource_consumer_kind=\"process\","                \
    "resource_id=\"\",resource_kind=\"local_machine\"} " v "\n"
#define HEAD "# HELP m_alumet d.\n# TYPE m_alumet gauge\n"

    push(&f, m, 1, &local_resource, &p1);
    push(&f, m, 2, &local_resource, &p2);
    write_at(&f, t0);
    push(&f, m, 3, &local_resource, &p1);
    write_at(&f, t0 + 3 * MINUTE);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, t0 + 5 * MINUTE - 1,
                  HEAD SERIES("1", "3.0") SERIES("2", "2.0"));
    /* process 2 ended: not updated for 5 minutes, gone */
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, t0 + 5 * MINUTE, HEAD SERIES("1", "3.0"));
    assert_int_equal(prometheus_table_series_count(f.t), 1);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, t0 + 8 * MINUTE - 1, HEAD SERIES("1", "3.0"));
    /* an empty family is not printed */
    assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, t0 + 8 * MINUTE, "# EOF\n");
    assert_int_equal(prometheus_table_series_count(f.t), 0);
    /* a series that comes back is a new series */
    push(&f, m, 4, &local_resource, &p2);
    write_at(&f, t0 + 9 * MINUTE);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, t0 + 9 * MINUTE, HEAD SERIES("2", "4.0"));
    /* the writer sweeps too, without any scrape */
    push(&f, m, 5, &local_resource, &p1);
    write_at(&f, t0 + 15 * MINUTE);
    assert_int_equal(prometheus_table_series_count(f.t), 1);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, t0 + 15 * MINUTE, HEAD SERIES("1", "5.0"));
    fixture_done(&f);
}

static void test_no_expiry(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    opts.series_expiry = 0;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "d");
    push(&f, m, 1, &local_resource, &local_consumer);
    write_at(&f, 0);
    write_at(&f, INT64_MAX / 2);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, INT64_MAX / 2,
                  "# HELP m_alumet d.\n# TYPE m_alumet gauge\nm_alumet{" FIXED_LOCAL "} 1.0\n");
    fixture_done(&f);
}

/* Many series: the hash table grows, expired slots are reused. */
static void test_many_series(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    opts.series_expiry = MINUTE;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "d");
    for (int round = 0; round < 3; round++) {
        for (uint32_t pid = 1; pid <= 10000; pid++) {
            const struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, pid + round * 20000u, NULL,
                                              NULL};
            push(&f, m, pid, &local_resource, &c);
            if (alumet_buffer_len(f.buf) == 1000)
                write_at(&f, round * 2 * MINUTE);
        }
        assert_int_equal(prometheus_table_series_count(f.t), 10000);
        char *text = render(&f, PROMETHEUS_FORMAT_OPENMETRICS, round * 2 * MINUTE);
        size_t lines = 0;
        for (const char *s = text; *s; s++)
            lines += *s == '\n';
        assert_int_equal(lines, 10000 + 3);
        free(text);
    }
    fixture_done(&f);
}

static void test_unknown_metric(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    assert_non_null(alumet_buffer_push_u64(f.buf, 0, 7, &local_resource, &local_consumer, 1));
    struct alumet_error err = {0};
    assert_int_equal(prometheus_table_write(f.t, f.buf, f.reg, 0, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown metric id 7 in a buffer");
    fixture_done(&f);
}

/* ---- negotiation and addresses ---- */

static void test_negotiate(void **state)
{
    (void)state;
    const struct {
        const char *accept;
        enum prometheus_format fmt;
    } cases[] = {
        /* no preference (no header, curl's any-type range, a browser): OpenMetrics */
        {NULL, PROMETHEUS_FORMAT_OPENMETRICS},
        {"", PROMETHEUS_FORMAT_OPENMETRICS},
        {"*/*", PROMETHEUS_FORMAT_OPENMETRICS},
        {"text/html,application/xhtml+xml,*/*;q=0.8", PROMETHEUS_FORMAT_OPENMETRICS},
        {"image/png", PROMETHEUS_FORMAT_OPENMETRICS},
        /* what Prometheus 2.42 sends */
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         PROMETHEUS_FORMAT_OPENMETRICS},
        {"application/openmetrics-text", PROMETHEUS_FORMAT_OPENMETRICS},
        {"APPLICATION/OpenMetrics-Text; version=1.0.0", PROMETHEUS_FORMAT_OPENMETRICS},
        {" application/openmetrics-text ; q=0.9 , */*;q=0.8", PROMETHEUS_FORMAT_OPENMETRICS},
        {"application/openmetrics-text;q=0.5, text/plain;q=0.5", PROMETHEUS_FORMAT_OPENMETRICS},
        {"text/plain;q=0.5, */*", PROMETHEUS_FORMAT_OPENMETRICS},
        /* text 0.0.4 only when asked for */
        {"text/plain", PROMETHEUS_FORMAT_TEXT},
        {"text/plain;version=0.0.4", PROMETHEUS_FORMAT_TEXT},
        {"text/*", PROMETHEUS_FORMAT_TEXT},
        {"text/plain, */*;q=0.1", PROMETHEUS_FORMAT_TEXT},
        {"text/plain;version=0.0.4;q=1, application/openmetrics-text;q=0.5",
         PROMETHEUS_FORMAT_TEXT},
        /* OpenMetrics refused (q=0) or its q unreadable: the other format */
        {"application/openmetrics-text;q=0", PROMETHEUS_FORMAT_TEXT},
        {"application/openmetrics-text;q=abc", PROMETHEUS_FORMAT_TEXT},
        {"application/openmetrics-text;q=1.5", PROMETHEUS_FORMAT_TEXT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (prometheus_negotiate(cases[i].accept) != cases[i].fmt)
            fail_msg("Accept '%s': expected format %d", cases[i].accept ? cases[i].accept : "NULL",
                     (int)cases[i].fmt);
    }
    assert_string_equal(prometheus_content_type(PROMETHEUS_FORMAT_OPENMETRICS),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_string_equal(prometheus_content_type(PROMETHEUS_FORMAT_TEXT),
                        "text/plain; version=0.0.4; charset=utf-8");
}

static void test_parse_address(void **state)
{
    (void)state;
    struct sockaddr_storage a;
    socklen_t len;
    assert_int_equal(prometheus_parse_address("0.0.0.0", 9091, &a, &len), 0);
    assert_int_equal(a.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 9091);
    assert_int_equal(prometheus_parse_address("127.0.0.1", 1, &a, &len), 0);
    assert_int_equal(prometheus_parse_address("[::]", 9091, &a, &len), 0);
    assert_int_equal(a.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(prometheus_parse_address("[::1]", 80, &a, &len), 0);
    static const char *const bad[] = {"::1",   "localhost",   "",     "[]",
                                      "1.2.3", "[127.0.0.1]", "[::1", "0.0.0.0:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(prometheus_parse_address(bad[i], 80, &a, &len), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_render_openmetrics),
        cmocka_unit_test(test_render_text),
        cmocka_unit_test(test_latest_value),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_no_attribute_labels),
        cmocka_unit_test(test_prefix_suffix_shared_family),
        cmocka_unit_test(test_unit_words),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_no_expiry),
        cmocka_unit_test(test_many_series),
        cmocka_unit_test(test_unknown_metric),
        cmocka_unit_test(test_negotiate),
        cmocka_unit_test(test_parse_address),
    };
    return alumet_run_tests(group);
}
