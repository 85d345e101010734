/* SPDX-License-Identifier: MIT */
/* prometheus-exporter, the delta metrics (energies, counter_metrics): their
 * counter families (exact exposition, sums of the values), their gauges left
 * out once stale (update interval learnt from the points and the writes,
 * with an injected clock), and the points summed onto one series when the
 * attributes are not labels. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <stdbool.h>

#include "core/buffer.h"
#include "core/registry.h"
#include "plugins/prometheus-exporter/prometheus-exporter.h"

#define SEC ALUMET_NSEC_PER_SEC
#define MINUTE (60 * SEC)
#define LOCAL                                                                                      \
    "resource_consumer_id=\"\",resource_consumer_kind=\"local_machine\",resource_id=\"\","         \
    "resource_kind=\"local_machine\""
#define PKG                                                                                        \
    "resource_consumer_id=\"\",resource_consumer_kind=\"local_machine\",resource_id=\"0\","        \
    "resource_kind=\"cpu_package\""
#define DRAM                                                                                       \
    "resource_consumer_id=\"\",resource_consumer_kind=\"local_machine\",resource_id=\"0\","        \
    "resource_kind=\"dram\""
#define PROC(pid)                                                                                  \
    "resource_consumer_id=\"" pid "\",resource_consumer_kind=\"process\",resource_id=\"\","        \
    "resource_kind=\"local_machine\""

/* ---- helpers ---- */

struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct prometheus_table *t;
};

static struct alumet_log_topic topic = ALUMET_LOG_TOPIC_INIT("prometheus-exporter");
static const struct alumet_resource local_resource = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer local_consumer = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
static const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
static const struct alumet_resource dram = {ALUMET_RESOURCE_DRAM, 0, NULL, NULL};

static struct prometheus_table_opts default_opts(void)
{
    return (struct prometheus_table_opts){
        .prefix = "",
        .suffix = "_alumet",
        .add_attributes_to_labels = true,
        .series_expiry = 5 * MINUTE,
        .topic = &topic,
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

/* A point of metric m, value v, timestamp ts. */
static struct alumet_point *push(struct fixture *f, alumet_metric_id m, alumet_time_ns ts, double v,
                                 const struct alumet_resource *r, const struct alumet_consumer *c)
{
    const struct alumet_metric *metric = alumet_registry_get(f->reg, m);
    struct alumet_point *p = metric->value_type == ALUMET_VALUE_U64
                                 ? alumet_buffer_push_u64(f->buf, ts, m, r, c, (uint64_t)v)
                                 : alumet_buffer_push_f64(f->buf, ts, m, r, c, v);
    assert_non_null(p);
    return p;
}

static void push_attr(struct fixture *f, alumet_metric_id m, alumet_time_ns ts, double v,
                      const char *key, const char *value)
{
    struct alumet_point *p = push(f, m, ts, v, &local_resource, &local_consumer);
    assert_int_equal(alumet_point_add_attr_str(f->buf, p, key, value), 0);
}

static void write_at(struct fixture *f, alumet_time_ns now)
{
    struct alumet_error err = {0};
    assert_int_equal(prometheus_table_write(f->t, f->buf, f->reg, now, &err), 0);
    alumet__buffer_clear(f->buf);
}

static void assert_render(struct fixture *f, enum prometheus_format fmt, alumet_time_ns now,
                          const char *expected)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(prometheus_table_render(f->t, fmt, now, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, expected);
    free(text);
}

/* ---- the counter families ---- */

#define E_GAUGE "rapl_consumed_energy_alumet_joules"
#define E_COUNTER "rapl_consumed_energy_alumet_cumulative_joules"
#define E_HELP "energy consumed since the previous measurement"

/* Three polls of two energy series and a power: the energy also has a
 * counter family, right after its gauge, whose samples are the sums. */
static void three_polls(struct fixture *f)
{
    alumet_metric_id e =
        add_metric(f, "rapl_consumed_energy", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), E_HELP);
    alumet_metric_id w = add_metric(f, "power", ALUMET_VALUE_F64, ALUMET_UNIT(WATT), "power");
    static const double pkg_v[] = {12.5, 0.25, 1.125}, dram_v[] = {3.25, 0.5, 2};
    for (int i = 0; i < 3; i++) {
        alumet_time_ns ts = (i + 1) * SEC;
        push(f, e, ts, pkg_v[i], &pkg, &local_consumer);
        push(f, e, ts, dram_v[i], &dram, &local_consumer);
        push(f, w, ts, 40 + i, &local_resource, &local_consumer);
        write_at(f, ts);
    }
}

static void test_counter_openmetrics(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    three_polls(&f);
    assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, 3 * SEC,
                  "# HELP " E_GAUGE " " E_HELP ".\n"
                  "# TYPE " E_GAUGE " gauge\n"
                  "# UNIT " E_GAUGE " joules\n" E_GAUGE "{" PKG "} 1.125\n" E_GAUGE "{" DRAM
                  "} 2.0\n"
                  "# HELP " E_COUNTER " " E_HELP ", summed since the series appeared.\n"
                  "# TYPE " E_COUNTER " counter\n"
                  "# UNIT " E_COUNTER " joules\n" E_COUNTER "_total{" PKG "} 13.875\n" E_COUNTER
                  "_total{" DRAM "} 5.75\n"
                  "# HELP power_alumet_watts power.\n"
                  "# TYPE power_alumet_watts gauge\n"
                  "# UNIT power_alumet_watts watts\n"
                  "power_alumet_watts{" LOCAL "} 42.0\n"
                  "# EOF\n");
    fixture_done(&f);
}

/* The text format names the counter family like its samples, _total
 * included (it has no family/sample distinction). */
static void test_counter_text(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    three_polls(&f);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 3 * SEC,
                  "# HELP " E_GAUGE " " E_HELP ".\n"
                  "# TYPE " E_GAUGE " gauge\n" E_GAUGE "{" PKG "} 1.125\n" E_GAUGE "{" DRAM
                  "} 2.0\n"
                  "# HELP " E_COUNTER "_total " E_HELP ", summed since the series appeared.\n"
                  "# TYPE " E_COUNTER "_total counter\n" E_COUNTER "_total{" PKG
                  "} 13.875\n" E_COUNTER "_total{" DRAM "} 5.75\n"
                  "# HELP power_alumet_watts power.\n"
                  "# TYPE power_alumet_watts gauge\n"
                  "power_alumet_watts{" LOCAL "} 42.0\n");
    fixture_done(&f);
}

/* The counter is the f64 sum in arrival order: 0.1 + 0.2 is
 * 0.30000000000000004, what a reader summing the same values gets. */
static void test_counter_f64_sum(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    opts.suffix = "";
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id e = add_metric(&f, "e", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "d");
    push(&f, e, 1, 0.1, &local_resource, &local_consumer);
    write_at(&f, 1);
    push(&f, e, 2, 0.2, &local_resource, &local_consumer);
    write_at(&f, 2);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 2,
                  "# HELP e_joules d.\n# TYPE e_joules gauge\ne_joules{" LOCAL "} 0.2\n"
                  "# HELP e_cumulative_joules_total d, summed since the series appeared.\n"
                  "# TYPE e_cumulative_joules_total counter\n"
                  "e_cumulative_joules_total{" LOCAL "} 0.30000000000000004\n");
    fixture_done(&f);
}

/* Watt-hours (any prefix) are energies too; counter_metrics adds metrics by
 * their own name (not the exported one); the others have no counter. */
static void test_counter_metrics_option(void **state)
{
    (void)state;
    static const char *const names[] = {"kernel_cpu_time", "kernel_context_switches"};
    struct prometheus_table_opts opts = default_opts();
    opts.counter_metrics = names;
    opts.n_counter_metrics = 2;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id cs = add_metric(&f, "kernel_context_switches", ALUMET_VALUE_U64,
                                     ALUMET_UNIT(UNITY), "context switches");
    alumet_metric_id time = add_metric(&f, "kernel_cpu_time", ALUMET_VALUE_U64,
                                       ALUMET_UNIT_PREFIXED(MILLI, SECOND), "cpu time");
    alumet_metric_id other =
        add_metric(&f, "kernel_context_switches_alumet", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "o");
    alumet_metric_id wh = add_metric(&f, "gpu_energy", ALUMET_VALUE_F64,
                                     ALUMET_UNIT_PREFIXED(KILO, WATT_HOUR), "gpu energy");
    for (int i = 1; i <= 2; i++) {
        push(&f, cs, i * SEC, 100 * i, &local_resource, &local_consumer);
        push(&f, time, i * SEC, 7 * i, &local_resource, &local_consumer);
        push(&f, other, i * SEC, 5 * i, &local_resource, &local_consumer);
        push(&f, wh, i * SEC, 0.5 * i, &local_resource, &local_consumer);
        write_at(&f, i * SEC);
    }
    assert_render(&f, PROMETHEUS_FORMAT_OPENMETRICS, 2 * SEC,
                  "# HELP kernel_context_switches_alumet context switches.\n"
                  "# TYPE kernel_context_switches_alumet gauge\n"
                  "kernel_context_switches_alumet{" LOCAL "} 200.0\n"
                  "# HELP kernel_context_switches_alumet_cumulative context switches, summed "
                  "since the series appeared.\n"
                  "# TYPE kernel_context_switches_alumet_cumulative counter\n"
                  "kernel_context_switches_alumet_cumulative_total{" LOCAL "} 300.0\n"
                  "# HELP kernel_cpu_time_alumet_milliseconds cpu time.\n"
                  "# TYPE kernel_cpu_time_alumet_milliseconds gauge\n"
                  "# UNIT kernel_cpu_time_alumet_milliseconds milliseconds\n"
                  "kernel_cpu_time_alumet_milliseconds{" LOCAL "} 14.0\n"
                  "# HELP kernel_cpu_time_alumet_cumulative_milliseconds cpu time, summed since "
                  "the series appeared.\n"
                  "# TYPE kernel_cpu_time_alumet_cumulative_milliseconds counter\n"
                  "# UNIT kernel_cpu_time_alumet_cumulative_milliseconds milliseconds\n"
                  "kernel_cpu_time_alumet_cumulative_milliseconds_total{" LOCAL "} 21.0\n"
                  "# HELP kernel_context_switches_alumet_alumet o.\n"
                  "# TYPE kernel_context_switches_alumet_alumet gauge\n"
                  "kernel_context_switches_alumet_alumet{" LOCAL "} 10.0\n"
                  "# HELP gpu_energy_alumet_kilowatt_hours gpu energy.\n"
                  "# TYPE gpu_energy_alumet_kilowatt_hours gauge\n"
                  "# UNIT gpu_energy_alumet_kilowatt_hours kilowatt_hours\n"
                  "gpu_energy_alumet_kilowatt_hours{" LOCAL "} 1.0\n"
                  "# HELP gpu_energy_alumet_cumulative_kilowatt_hours gpu energy, summed since "
                  "the series appeared.\n"
                  "# TYPE gpu_energy_alumet_cumulative_kilowatt_hours counter\n"
                  "# UNIT gpu_energy_alumet_cumulative_kilowatt_hours kilowatt_hours\n"
                  "gpu_energy_alumet_cumulative_kilowatt_hours_total{" LOCAL "} 1.5\n"
                  "# EOF\n");
    fixture_done(&f);
}

/* ---- stale delta gauges ---- */

#define A_HEAD "# HELP a_alumet_joules d.\n# TYPE a_alumet_joules gauge\n"
#define A_COUNTER_HEAD                                                                             \
    "# HELP a_alumet_cumulative_joules_total d, summed since the series appeared.\n"               \
    "# TYPE a_alumet_cumulative_joules_total counter\n"
#define A(pid, v) "a_alumet_joules{" PROC(pid) "} " v "\n"
#define A_TOTAL(pid, v) "a_alumet_cumulative_joules_total{" PROC(pid) "} " v "\n"
#define CPU(v)                                                                                     \
    "# HELP cpu_alumet_ratio c.\n# TYPE cpu_alumet_ratio gauge\ncpu_alumet_ratio{" PROC(           \
        "2") "} " v "\n"

/* Processes 1 and 2 measured every second, 3 once; 2 and 3 end. Their
 * gauges go after twice the interval (3, seen once, takes its family's),
 * their counters stay until the series expire; a level metric stays. */
static void test_stale_delta_gauge(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id a = add_metric(&f, "a", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "d");
    alumet_metric_id cpu = add_metric(&f, "cpu", ALUMET_VALUE_F64, ALUMET_UNIT(PERCENT), "c");
    const struct alumet_consumer p1 = {ALUMET_CONSUMER_PROCESS, 1, NULL, NULL};
    const struct alumet_consumer p2 = {ALUMET_CONSUMER_PROCESS, 2, NULL, NULL};
    const struct alumet_consumer p3 = {ALUMET_CONSUMER_PROCESS, 3, NULL, NULL};

    push(&f, a, 10 * SEC, 1, &local_resource, &p1);
    push(&f, a, 10 * SEC, 2, &local_resource, &p2);
    push(&f, cpu, 10 * SEC, 50, &local_resource, &p2);
    write_at(&f, 10 * SEC);
    push(&f, a, 11 * SEC, 1, &local_resource, &p1);
    push(&f, a, 11 * SEC, 2, &local_resource, &p2);
    push(&f, a, 11 * SEC, 4, &local_resource, &p3);
    write_at(&f, 11 * SEC);
    push(&f, a, 12 * SEC, 1, &local_resource, &p1);
    write_at(&f, 12 * SEC);

    /* 2 and 3 were written 2 s ago: twice the interval, not more */
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 13 * SEC,
                  A_HEAD A("1", "1.0") A("2", "2.0") A("3", "4.0")
                      A_COUNTER_HEAD A_TOTAL("1", "3.0") A_TOTAL("2", "4.0") A_TOTAL("3", "4.0")
                          CPU("50.0"));
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 13 * SEC + 1,
                  A_HEAD A("1", "1.0") A_COUNTER_HEAD A_TOTAL("1", "3.0") A_TOTAL("2", "4.0")
                      A_TOTAL("3", "4.0") CPU("50.0"));
    /* every gauge stale: no gauge family, the counter family stays */
    assert_render(
        &f, PROMETHEUS_FORMAT_OPENMETRICS, 14 * SEC + 1,
        "# HELP a_alumet_cumulative_joules d, summed since the series appeared.\n"
        "# TYPE a_alumet_cumulative_joules counter\n"
        "# UNIT a_alumet_cumulative_joules joules\n"
        "a_alumet_cumulative_joules_total{" PROC(
            "1") "} 3.0\n"
                 "a_alumet_cumulative_joules_total{" PROC(
                     "2") "} 4.0\n"
                          "a_alumet_cumulative_joules_total{" PROC(
                              "3") "} 4.0\n"
                                   "# HELP cpu_alumet_ratio c.\n# TYPE cpu_alumet_ratio gauge\n"
                                   "# UNIT cpu_alumet_ratio ratio\n"
                                   "cpu_alumet_ratio{" PROC("2") "} 50.0\n# EOF\n");
    assert_int_equal(prometheus_table_series_count(f.t), 4);

    /* written again: the gauge is back, the counter goes on */
    push(&f, a, 15 * SEC, 0.5, &local_resource, &p2);
    write_at(&f, 15 * SEC);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 15 * SEC,
                  A_HEAD A("2", "0.5") A_COUNTER_HEAD A_TOTAL("1", "3.0") A_TOTAL("2", "4.5")
                      A_TOTAL("3", "4.0") CPU("50.0"));
    /* the series expire (5 minutes), counters included */
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 11 * SEC + 5 * MINUTE,
                  A_COUNTER_HEAD A_TOTAL("1", "3.0") A_TOTAL("2", "4.5"));
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 15 * SEC + 5 * MINUTE, "");
    /* a series that comes back after expiring counts from its new value
     * (Prometheus sees a counter reset) */
    push(&f, a, 16 * MINUTE, 7, &local_resource, &p1);
    write_at(&f, 16 * MINUTE);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 16 * MINUTE,
                  A_HEAD A("1", "7.0") A_COUNTER_HEAD A_TOTAL("1", "7.0"));
    fixture_done(&f);
}

/* A series seen once in a family without an interval yet stays until it
 * expires: nothing says when its next point is due. */
static void test_stale_unknown_interval(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id a = add_metric(&f, "a", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "d");
    const struct alumet_consumer p1 = {ALUMET_CONSUMER_PROCESS, 1, NULL, NULL};
    push(&f, a, SEC, 2, &local_resource, &p1);
    write_at(&f, SEC);
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, SEC + 5 * MINUTE - 1,
                  A_HEAD A("1", "2.0") A_COUNTER_HEAD A_TOTAL("1", "2.0"));
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, SEC + 5 * MINUTE, "");
    fixture_done(&f);
}

/* A source that flushes 4 polls (every 250 ms) per write, every second: the
 * interval is that of the writes, not of the points. */
static void test_stale_flush_interval(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id a = add_metric(&f, "a", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "d");
    const struct alumet_consumer p1 = {ALUMET_CONSUMER_PROCESS, 1, NULL, NULL};
    for (int w = 1; w <= 2; w++) {
        for (int j = 1; j <= 4; j++)
            push(&f, a, (w - 1) * SEC + j * SEC / 4, j, &local_resource, &p1);
        write_at(&f, w * SEC);
    }
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 4 * SEC,
                  A_HEAD A("1", "4.0") A_COUNTER_HEAD A_TOTAL("1", "20.0"));
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 4 * SEC + 1, A_COUNTER_HEAD A_TOTAL("1", "20.0"));
    fixture_done(&f);
}

/* A late poll lengthens the interval at once; shorter gaps shorten it by a
 * quarter of the difference per write: 1 s, then 3 s, then 2.5 s. */
static void test_stale_late_poll(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id a = add_metric(&f, "a", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "d");
    const struct alumet_consumer p1 = {ALUMET_CONSUMER_PROCESS, 1, NULL, NULL};
    static const int at[] = {1, 2, 3, 6, 7};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        push(&f, a, at[i] * SEC, 1, &local_resource, &p1);
        write_at(&f, at[i] * SEC);
        if (at[i] == 3) {
            /* interval 1 s: stale after 2 s without a point */
            assert_render(&f, PROMETHEUS_FORMAT_TEXT, 5 * SEC,
                          A_HEAD A("1", "1.0") A_COUNTER_HEAD A_TOTAL("1", "3.0"));
            assert_render(&f, PROMETHEUS_FORMAT_TEXT, 5 * SEC + 1,
                          A_COUNTER_HEAD A_TOTAL("1", "3.0"));
        }
    }
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 12 * SEC,
                  A_HEAD A("1", "1.0") A_COUNTER_HEAD A_TOTAL("1", "5.0"));
    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 12 * SEC + 1, A_COUNTER_HEAD A_TOTAL("1", "5.0"));
    fixture_done(&f);
}

/* ---- add_attributes_to_labels = false: summed, never the last one ---- */

static void test_no_attribute_labels_sum(void **state)
{
    (void)state;
    struct prometheus_table_opts opts = default_opts();
    opts.add_attributes_to_labels = false;
    struct fixture f;
    fixture_init(&f, &opts);
    alumet_metric_id e = add_metric(&f, "e", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "d");
    alumet_metric_id temp =
        add_metric(&f, "temp", ALUMET_VALUE_F64, ALUMET_UNIT(DEGREE_CELSIUS), "t");
    alumet_test_log_capture("warn");

    /* one poll: the domains collapse onto one series, summed */
    push_attr(&f, e, SEC, 10, "domain", "package");
    push_attr(&f, e, SEC, 2.5, "domain", "dram");
    write_at(&f, SEC);
    /* the next poll replaces the gauge, adds to the counter */
    push_attr(&f, e, 2 * SEC, 1, "domain", "package");
    push_attr(&f, e, 2 * SEC, 0.5, "domain", "dram");
    write_at(&f, 2 * SEC);
    /* the points of one poll in two writes are summed too */
    push_attr(&f, e, 3 * SEC, 4, "domain", "package");
    write_at(&f, 3 * SEC);
    push_attr(&f, e, 3 * SEC, 1, "domain", "dram");
    write_at(&f, 3 * SEC + SEC / 2);
    /* a level metric is summed as well, with a warning, once */
    push_attr(&f, temp, 3 * SEC, 40, "sensor", "a");
    push_attr(&f, temp, 3 * SEC, 42, "sensor", "b");
    write_at(&f, 3 * SEC + SEC / 2);
    push_attr(&f, temp, 4 * SEC, 41, "sensor", "a");
    push_attr(&f, temp, 4 * SEC, 43, "sensor", "b");
    write_at(&f, 4 * SEC);
    alumet_test_log_release();

    assert_render(&f, PROMETHEUS_FORMAT_TEXT, 4 * SEC,
                  "# HELP e_alumet_joules d.\n# TYPE e_alumet_joules gauge\n"
                  "e_alumet_joules{" LOCAL "} 5.0\n"
                  "# HELP e_alumet_cumulative_joules_total d, summed since the series appeared.\n"
                  "# TYPE e_alumet_cumulative_joules_total counter\n"
                  "e_alumet_cumulative_joules_total{" LOCAL "} 19.0\n"
                  "# HELP temp_alumet_celsius t.\n# TYPE temp_alumet_celsius gauge\n"
                  "temp_alumet_celsius{" LOCAL "} 84.0\n");
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "add_attributes_to_labels", NULL), 1);
    assert_string_equal(alumet_test_log_find("summed"),
                        "points of 'temp_alumet_celsius' with the same timestamp and different "
                        "attributes are summed onto one series, because add_attributes_to_labels "
                        "= false: set it to true to export one series per attribute value");
    fixture_done(&f);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_counter_openmetrics),
        cmocka_unit_test(test_counter_text),
        cmocka_unit_test(test_counter_f64_sum),
        cmocka_unit_test(test_counter_metrics_option),
        cmocka_unit_test(test_stale_delta_gauge),
        cmocka_unit_test(test_stale_unknown_interval),
        cmocka_unit_test(test_stale_flush_interval),
        cmocka_unit_test(test_stale_late_poll),
        cmocka_unit_test(test_no_attribute_labels_sum),
    };
    return alumet_run_tests(group);
}
