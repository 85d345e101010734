/* SPDX-License-Identifier: MIT */
/* aggregation: options, windows aligned on the interval, the four functions
 * on known points, series kept apart, late points dropped and counted, the
 * partial windows at shutdown, through the plugin lifecycle (init, start,
 * pre and post pipeline start) and the transform fed directly. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <unistd.h>

#include "core/buffer.h"
#include "plugins/aggregation/aggregation.h"

extern const struct alumet_plugin alumet_plugin_aggregation;

/* 2025-05-02T00:00:00Z, a multiple of every interval used here */
#define T0 ((alumet_time_ns)1746144000 * ALUMET_NSEC_PER_SEC)
#define S(x) ((alumet_time_ns)((x) * (double)ALUMET_NSEC_PER_SEC))

struct run {
    struct toml_value *root;
    struct agent_plugin ap;
    struct alumet_pipeline *p;
    struct alumet_registry *reg;
    struct aggregation *agg;
    bool started;
    struct alumet_buffer *buf;
    alumet_metric_id energy, power, other;
    struct alumet_error err;
};

static int run_init(struct run *r, const char *config)
{
    memset(r, 0, sizeof(*r));
    void *st = NULL;
    int rc = alumet_test_plugin_init(&alumet_plugin_aggregation,
                                     config ? config : alumet_plugin_aggregation.default_config,
                                     &r->root, &st, &r->err);
    r->agg = st;
    return rc;
}

/* Start with energy (U64, mJ), power (F64, W) and other (U64) registered;
 * post_pipeline_start too unless !post. Returns the first failure. */
static int run_start(struct run *r, bool post)
{
    struct pipeline_settings ps = {0};
    r->p = alumet__pipeline_new(&ps);
    assert_non_null(r->p);
    r->reg = alumet__pipeline_registry(r->p);
    r->energy = alumet_test_add_metric(r->reg, "energy", ALUMET_VALUE_U64,
                                       ALUMET_UNIT_PREFIXED(MILLI, JOULE));
    r->power = alumet_test_add_metric(r->reg, "power", ALUMET_VALUE_F64, ALUMET_UNIT(WATT));
    r->other = alumet_test_add_metric(r->reg, "other", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    r->ap.def = &alumet_plugin_aggregation;
    r->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("aggregation");
    struct alumet_start_ctx sctx = {r->p, &r->ap};
    int rc = alumet_plugin_aggregation.start(r->agg, &sctx, &r->err);
    r->started = true;
    r->buf = alumet__buffer_new(16);
    assert_non_null(r->buf);
    if (rc < 0)
        return rc;
    struct alumet_pre_start_ctx pctx = {r->p};
    if ((rc = alumet_plugin_aggregation.pre_pipeline_start(r->agg, &pctx, &r->err)) < 0 || !post)
        return rc;
    struct alumet_post_start_ctx qctx = {r->p};
    return alumet_plugin_aggregation.post_pipeline_start(r->agg, &qctx, &r->err);
}

static void run_done(struct run *r)
{
    struct alumet_error err = {0};
    if (r->started)
        assert_int_equal(alumet_plugin_aggregation.stop(r->agg, &err), 0);
    alumet__pipeline_free(r->p);
    alumet_plugin_aggregation.free(r->agg);
    alumet__buffer_free(r->buf);
    toml_free(r->root);
}

static void apply(struct run *r)
{
    struct alumet_error err = {0};
    assert_int_equal(aggregation_transform_ops.apply(r->agg->running, r->buf, r->reg, &err), 0);
}

static void finish(struct run *r)
{
    struct alumet_error err = {0};
    assert_int_equal(aggregation_transform_ops.finish(r->agg->running, r->buf, r->reg, &err), 0);
}

static struct alumet_point *push(struct run *r, alumet_metric_id m, alumet_time_ns t, double v,
                                 const char *domain)
{
    const struct alumet_resource res = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_consumer c = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    struct alumet_point *p = m == r->power
                                 ? alumet_buffer_push_f64(r->buf, t, m, &res, &c, v)
                                 : alumet_buffer_push_u64(r->buf, t, m, &res, &c, (uint64_t)v);
    assert_non_null(p);
    if (domain)
        alumet_test_add_str(r->buf, p, "domain", domain);
    return p;
}

static alumet_metric_id metric(struct run *r, const char *name)
{
    const struct alumet_metric *m = alumet_registry_find(r->reg, name);
    if (!m)
        fail_msg("metric '%s' not registered", name);
    return m->id;
}

/* The only point of metric m (and domain, when not NULL) in the buffer. */
static const struct alumet_point *only(struct run *r, alumet_metric_id m, const char *domain)
{
    const struct alumet_point *found = NULL;
    for (size_t i = 0; i < alumet_buffer_len(r->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(r->buf, i);
        const struct alumet_attr *d = alumet_point_find_attr(r->buf, p, "domain");
        if (p->metric != m || (domain && (!d || strcmp(d->v.str, domain) != 0)))
            continue;
        if (found)
            fail_msg("two points of metric %u", (unsigned)m);
        found = p;
    }
    if (!found)
        fail_msg("no point of metric %u", (unsigned)m);
    return found;
}

static size_t count(struct run *r, alumet_metric_id m)
{
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(r->buf); i++)
        n += alumet_buffer_get(r->buf, i)->metric == m;
    return n;
}

static void test_default_config_and_errors(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, NULL), 0);
    assert_int_equal(r.agg->interval, 60 * ALUMET_NSEC_PER_SEC);
    assert_int_equal(r.agg->functions, 1u << AGGREGATION_SUM);
    assert_int_equal(r.agg->n_metrics, 0);
    run_done(&r);
    static const struct {
        const char *config;
        const char *msg;
    } cases[] = {
        {"[plugins.aggregation]\nfunction = \"Median\"\n",
         "function: unknown function 'Median': expected \"Sum\", \"Mean\", \"Min\" or \"Max\""},
        {"[plugins.aggregation]\nfunction = []\n", "function: expected at least one function"},
        {"[plugins.aggregation]\nfunction = 3\n", "function: expected \"Sum\""},
        {"[plugins.aggregation]\ninterval = \"0s\"\n",
         "interval: expected a duration greater than zero"},
        {"[plugins.aggregation]\nmetrics = [\"a\", \"a\"]\n", "metric 'a' is listed twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = run_init(&r, cases[i].config);
        if (rc != -EINVAL || !strstr(r.err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', expected '%s'", i, rc, r.err.msg, cases[i].msg);
        run_done(&r);
    }
    /* upstream's capitalised names and lower case, one or a list */
    assert_int_equal(run_init(&r, "[plugins.aggregation]\nfunction = [\"Mean\", \"max\"]\n"), 0);
    assert_int_equal(r.agg->functions, (1u << AGGREGATION_MEAN) | (1u << AGGREGATION_MAX));
    run_done(&r);
}

static void test_window_start(void **state)
{
    (void)state;
    /* 16:14:42.5 in windows of 1 min starts at 16:14:00 */
    alumet_time_ns t = T0 + S(16 * 3600 + 14 * 60 + 42.5);
    assert_int_equal(aggregation_window_start(t, 60 * ALUMET_NSEC_PER_SEC),
                     T0 + S(16 * 3600 + 14 * 60));
    assert_int_equal(aggregation_window_start(T0, 60 * ALUMET_NSEC_PER_SEC), T0);
    assert_int_equal(aggregation_window_start(T0 - 1, ALUMET_NSEC_PER_SEC), T0 - S(1));
    assert_int_equal(aggregation_window_start(-1, 10), -10);
}

static void test_missing_metric(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, "[plugins.aggregation]\nmetrics = [\"nope\"]\n"), 0);
    assert_int_equal(run_start(&r, true), -ENOENT);
    assert_string_equal(r.err.msg, "plugins.aggregation.metrics: metric 'nope' not found: enable "
                                   "the plugin that produces it, or check the name");
    run_done(&r);
}

static const char config_all[] = "[plugins.aggregation]\n"
                                 "interval = \"10s\"\n"
                                 "function = [\"Sum\", \"Mean\", \"Min\", \"Max\"]\n"
                                 "metrics = [\"energy\", \"power\"]\n";

/* Windows of 10 s: [T0, T0+10) gets energy 1, 2, 4 mJ (package) and 10 mJ
 * (dram: another series); power 1.5, 2.5 W. A point at T0+12 closes it. */
static void test_windows_exact(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, config_all), 0);
    assert_int_equal(run_start(&r, true), 0);
    const struct alumet_metric *sum = alumet_registry_find(r.reg, "energy_sum");
    assert_non_null(sum);
    assert_int_equal(sum->value_type, ALUMET_VALUE_U64);
    assert_int_equal(sum->unit.prefix, ALUMET_PREFIX_MILLI);
    assert_string_equal(sum->description, "test metric");
    assert_int_equal(alumet_registry_find(r.reg, "power_mean")->value_type, ALUMET_VALUE_F64);

    push(&r, r.energy, T0 + S(1), 1, "package");
    push(&r, r.other, T0 + S(1), 7, NULL);
    push(&r, r.energy, T0 + S(4), 2, "package");
    push(&r, r.power, T0 + S(2), 1.5, NULL);
    apply(&r);
    /* the aggregated points left, the others stay; nothing closed yet */
    assert_int_equal(alumet_buffer_len(r.buf), 1);
    assert_int_equal(alumet_buffer_get(r.buf, 0)->metric, r.other);
    alumet__buffer_clear(r.buf);

    push(&r, r.energy, T0 + S(9.5), 4, "package");
    push(&r, r.energy, T0 + S(3), 10, "dram");
    push(&r, r.power, T0 + S(9), 2.5, NULL);
    push(&r, r.energy, T0 + S(12), 100, "package"); /* closes package's window */
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 4);
    const struct alumet_point *p = only(&r, metric(&r, "energy_sum"), "package");
    assert_int_equal(p->timestamp, T0);
    assert_int_equal(p->value_type, ALUMET_VALUE_U64);
    assert_int_equal(p->value.u64, 7);
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_CPU_PACKAGE);
    assert_int_equal(p->attr_count, 1);
    assert_int_equal(only(&r, metric(&r, "energy_mean"), "package")->value.u64, 2); /* 7/3 */
    assert_int_equal(only(&r, metric(&r, "energy_min"), "package")->value.u64, 1);
    assert_int_equal(only(&r, metric(&r, "energy_max"), "package")->value.u64, 4);
    alumet__buffer_clear(r.buf);

    /* dram and power close with their own later points */
    push(&r, r.energy, T0 + S(10), 20, "dram");
    push(&r, r.power, T0 + S(25), 9.0, NULL);
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 8);
    assert_int_equal(only(&r, metric(&r, "energy_sum"), "dram")->value.u64, 10);
    p = only(&r, metric(&r, "power_sum"), NULL);
    assert_int_equal(p->timestamp, T0);
    assert_true(p->value.f64 == 4.0);
    assert_true(only(&r, metric(&r, "power_mean"), NULL)->value.f64 == 2.0);
    assert_true(only(&r, metric(&r, "power_min"), NULL)->value.f64 == 1.5);
    assert_true(only(&r, metric(&r, "power_max"), NULL)->value.f64 == 2.5);
    alumet__buffer_clear(r.buf);

    /* shutdown: the open windows, partial: package [T0+10) 100, dram 20,
     * power [T0+20) 9 */
    finish(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 12);
    p = only(&r, metric(&r, "energy_sum"), "package");
    assert_int_equal(p->timestamp, T0 + S(10));
    assert_int_equal(p->value.u64, 100);
    assert_int_equal(only(&r, metric(&r, "energy_sum"), "dram")->value.u64, 20);
    p = only(&r, metric(&r, "power_max"), NULL);
    assert_int_equal(p->timestamp, T0 + S(20));
    assert_true(p->value.f64 == 9.0);
    assert_int_equal(count(&r, metric(&r, AGGREGATION_LATE_METRIC)), 0);
    run_done(&r);
}

/* Mean of U64 rounds half up (upstream truncates). */
static void test_u64_mean_rounds(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, "[plugins.aggregation]\ninterval = \"1s\"\nfunction = "
                                  "\"mean\"\nmetrics = [\"energy\"]\n"),
                     0);
    assert_int_equal(run_start(&r, true), 0);
    push(&r, r.energy, T0, 1, NULL);
    push(&r, r.energy, T0 + S(0.5), 2, NULL);
    push(&r, r.energy, T0 + S(1), 0, NULL);
    apply(&r);
    assert_int_equal(only(&r, metric(&r, "energy_mean"), NULL)->value.u64, 2); /* 1.5 */
    alumet__buffer_clear(r.buf);
    /* an F64 value on the U64 metric (process-to-cgroup-bridge's merge)
     * counts as its rounded value: (0 + 3) / 2 = 1.5 -> 2 */
    const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_consumer lc = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    assert_non_null(alumet_buffer_push_f64(r.buf, T0 + S(1.5), r.energy, &pkg, &lc, 2.6));
    push(&r, r.energy, T0 + S(2), 0, NULL);
    apply(&r);
    const struct alumet_point *p = only(&r, metric(&r, "energy_mean"), NULL);
    assert_int_equal(p->value_type, ALUMET_VALUE_U64);
    assert_int_equal(p->value.u64, 2);
    run_done(&r);
}

/* A point whose window was emitted is dropped, counted and reported as
 * alumet_transform_points_dropped{transform, reason = late}. */
static void test_late_points_counted(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, config_all), 0);
    assert_int_equal(run_start(&r, true), 0);
    alumet_test_log_capture("aggregation=warn");
    push(&r, r.energy, T0 + S(1), 1, NULL);
    push(&r, r.energy, T0 + S(11), 2, NULL);
    apply(&r);
    assert_int_equal(count(&r, metric(&r, "energy_sum")), 1);
    alumet__buffer_clear(r.buf);
    push(&r, r.energy, T0 + S(5), 3, NULL);  /* late */
    push(&r, r.energy, T0 + S(12), 4, NULL); /* on time */
    push(&r, r.energy, T0 + S(9), 5, NULL);  /* late */
    apply(&r);
    alumet_metric_id late = metric(&r, AGGREGATION_LATE_METRIC);
    const struct alumet_point *p = only(&r, late, NULL);
    assert_int_equal(p->value.u64, 2);
    assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_PROCESS);
    assert_int_equal(p->consumer.num, (uint32_t)getpid());
    assert_string_equal(alumet_point_find_attr(r.buf, p, "transform")->v.str,
                        "aggregation/plugin-aggregation");
    assert_string_equal(alumet_point_find_attr(r.buf, p, "reason")->v.str, "late");
    assert_int_equal(alumet_buffer_len(r.buf), 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "arrived after its window", NULL), 1);
    alumet__buffer_clear(r.buf);
    /* unchanged count: no new point; finish: the window [T0+10) = 2 + 4 */
    push(&r, r.energy, T0 + S(13), 1, NULL);
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 0);
    finish(&r);
    assert_int_equal(only(&r, metric(&r, "energy_sum"), NULL)->value.u64, 7);
    assert_int_equal(count(&r, late), 0);
    assert_true(*alumet_test_log_find("'2' points arrived after their window was emitted and "
                                      "were dropped"));
    alumet_test_log_release();
    run_done(&r);
}

/* Before the output metrics exist (post_pipeline_start), windows stay open. */
static void test_not_ready_keeps_windows(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, config_all), 0);
    assert_int_equal(run_start(&r, false), 0);
    push(&r, r.energy, T0 + S(1), 1, NULL);
    push(&r, r.energy, T0 + S(11), 2, NULL);
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 0);
    struct alumet_post_start_ctx qctx = {r.p};
    assert_int_equal(alumet_plugin_aggregation.post_pipeline_start(r.agg, &qctx, &r.err), 0);
    push(&r, r.energy, T0 + S(12), 2, NULL);
    apply(&r);
    assert_int_equal(only(&r, metric(&r, "energy_sum"), NULL)->value.u64, 1);
    run_done(&r);
}

/* A series that stops (a process that ended): its last window is emitted
 * once the other series are 10 intervals later, and it is forgotten. */
static void test_stopped_series(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, "[plugins.aggregation]\ninterval = \"10s\"\n"
                                  "metrics = [\"energy\"]\n"),
                     0);
    assert_int_equal(run_start(&r, true), 0);
    alumet_metric_id sum = metric(&r, "energy_sum");
    push(&r, r.energy, T0 + S(1), 5, "dram");
    push(&r, r.energy, T0 + S(2), 1, "package");
    apply(&r);
    assert_int_equal(r.agg->running->n_series, 2);
    for (int k = 1; k <= 11; k++) {
        alumet__buffer_clear(r.buf);
        push(&r, r.energy, T0 + S(10 * k + 2), 1, "package");
        apply(&r);
        /* the package window before; from T0+112 (T0+10 + 10 x 10 s) dram's too */
        assert_int_equal(count(&r, sum), k < 11 ? 1 : 2);
    }
    assert_int_equal(only(&r, sum, "dram")->value.u64, 5);
    assert_int_equal(only(&r, sum, "dram")->timestamp, T0);
    assert_int_equal(r.agg->running->n_series, 1);
    run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_config_and_errors),
        cmocka_unit_test(test_window_start),
        cmocka_unit_test(test_missing_metric),
        cmocka_unit_test(test_windows_exact),
        cmocka_unit_test(test_u64_mean_rounds),
        cmocka_unit_test(test_late_points_counted),
        cmocka_unit_test(test_not_ready_keeps_windows),
        cmocka_unit_test(test_stopped_series),
    };
    return alumet_run_tests(tests);
}
