/* SPDX-License-Identifier: MIT */
/* energy-attribution: the upstream quirks fixed here (README.md, "Differences
 * from upstream"), the input filters, and the rate-limited warnings. */
#include "ea-test.h"

static const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

static const struct ea_metric_def metrics[] = {
    {"rapl_consumed_energy", ALUMET_VALUE_F64, EA_UNIT(JOULE)},
    {"cpu_percent", ALUMET_VALUE_F64, EA_UNIT(PERCENT)},
    {"big_counter", ALUMET_VALUE_U64, EA_UNIT(JOULE)},
};

/* A formula named "out" on energy e (package_total) and usage u (kind=total),
 * with expr and extra TOML lines (in the formula table) around. */
static int start_formula(struct ea_run *r, const char *expr, const char *energy_metric,
                         const char *extra_consumer)
{
    char config[2048];
    snprintf(config, sizeof(config),
             "[plugins.energy-attribution.formulas.out]\n"
             "expr = \"%s\"\nref = \"e\"\nretention_time = \"10s\"\n"
             "[plugins.energy-attribution.formulas.out.per_resource]\n"
             "e = { metric = \"%s\", domain = \"package_total\" }\n"
             "[plugins.energy-attribution.formulas.out.per_consumer]\n"
             "u = { metric = \"cpu_percent\", kind = \"total\" }\n%s",
             expr, energy_metric, extra_consumer);
    int rc = ea_run_init(r, config);
    if (rc < 0)
        fail_msg("init: %s", r->err.msg);
    return ea_run_start(r, metrics, 3);
}

static void push_e(struct ea_run *r, alumet_metric_id m, double s, double v)
{
    ea_attr(r, ea_push(r, m, &machine, 0, s, v), "domain", "package_total");
}

static void push_u(struct ea_run *r, double s, uint32_t pid, double v)
{
    ea_attr(r, ea_push(r, r->ids[1], &machine, pid, s, v), "kind", "total");
}

/* Upstream only lets the reference series meet the consumers: a second
 * per_resource series (here a second identifier on the same metric, which
 * upstream would also merge into the first) is usable, interpolated. */
static void test_second_per_resource_series(void **state)
{
    (void)state;
    static const char config[] =
        "[plugins.energy-attribution.formulas.out]\n"
        "expr = \"(pkg + ram) * u / 100.0\"\nref = \"pkg\"\n"
        "[plugins.energy-attribution.formulas.out.per_resource]\n"
        "pkg = { metric = \"rapl_consumed_energy\", domain = \"package_total\" }\n"
        "ram = { metric = \"rapl_consumed_energy\", domain = \"dram_total\" }\n"
        "[plugins.energy-attribution.formulas.out.per_consumer]\n"
        "u = { metric = \"cpu_percent\" }\n";
    struct ea_run r;
    struct ea_out out[32];
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 3), 0);
    alumet_metric_id m = ea_metric(&r, "out");
    for (int k = 0; k <= 8; k++) {
        ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, 0.5 * k, 30.0), "domain", "package_total");
        /* the dram energy grows linearly: 4 J at 0.25 s, +1 J per 0.5 s */
        ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, 0.25 + 0.5 * k, 4.0 + k), "domain",
                "dram_total");
        ea_push(&r, r.ids[1], &machine, 7, 0.5 * k, 50.0);
    }
    ea_apply(&r, 0);
    /* every reference point: 0.5 .. 4.0 within the dram series, and 0 s,
     * covered by the first dram point (its interval is (-0.25, 0.25]) */
    size_t n = ea_outputs(&r, m, 0, out, 32);
    assert_int_equal(n, 9);
    for (size_t i = 0; i < n; i++) {
        double t = 0.5 * (double)i;
        double ram = i == 0 ? 4.0 : 4.0 + (t - 0.25) * 2.0;
        assert_int_equal(out[i].t, ea_t(t));
        ea_check_close(out[i].value, (30.0 + ram) * 0.5, 1e-12, "pkg + ram");
        /* one domain attribute: the reference's comes first, the key once */
        const struct alumet_attr *a = alumet_point_attrs(r.buf, out[i].p);
        assert_int_equal(out[i].p->attr_count, 1);
        assert_string_equal(a[0].v.str, "package_total");
    }
    ea_run_done(&r);
}

static void test_division_by_zero_skips(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[16];
    struct ea_logs logs = {.len = 0};
    alumet_log_configure("info");
    alumet_log_set_sink(ea_log_sink, &logs);
    assert_int_equal(start_formula(&r, "e / u", "rapl_consumed_energy", ""), 0);
    alumet_metric_id m = ea_metric(&r, "out");
    for (int k = 0; k <= 4; k++) {
        push_e(&r, r.ids[0], k, 10.0);
        push_u(&r, k, 1, k == 1 || k == 2 ? 0.0 : 2.0);
    }
    ea_apply(&r, 0);
    size_t n = ea_outputs(&r, m, 0, out, 16);
    /* 1 s and 2 s are skipped; no NaN or infinity comes out */
    assert_int_equal(n, 3);
    assert_int_equal(out[0].t, ea_t(0));
    assert_int_equal(out[1].t, ea_t(3));
    assert_int_equal(out[2].t, ea_t(4));
    for (size_t i = 0; i < n; i++)
        assert_true(out[i].value == 5.0);
    /* one warning for both (rate-limited), naming the formula and the point */
    assert_int_equal(logs.count, 1);
    assert_non_null(strstr(logs.text, "formula 'out', resource 'local_machine', consumer "
                                      "'process/1' at '2025-05-02T00:00:01Z': division by zero, "
                                      "skipping the point"));
    /* the next buffer works: one line says so */
    alumet__buffer_clear(r.buf);
    push_e(&r, r.ids[0], 5, 10.0);
    push_u(&r, 5, 1, 4.0);
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 16), 1);
    assert_true(out[0].value == 2.5);
    assert_int_equal(logs.count, 2);
    assert_non_null(strstr(logs.text, "formula 'out': the attribution works again (2 points "
                                      "skipped so far)"));
    /* a non-finite result is skipped too */
    alumet__buffer_clear(r.buf);
    push_e(&r, r.ids[0], 6, 0.0);
    push_u(&r, 6, 1, 1e-300);
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 16), 1); /* 0 / 1e-300 = 0: fine */
    alumet_log_set_sink(NULL, NULL);
    ea_run_done(&r);
}

static void test_non_finite_skips(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[16];
    struct ea_logs logs = {.len = 0};
    alumet_log_configure("info");
    alumet_log_set_sink(ea_log_sink, &logs);
    assert_int_equal(start_formula(&r, "e * math::ln(u)", "rapl_consumed_energy", ""), 0);
    alumet_metric_id m = ea_metric(&r, "out");
    push_e(&r, r.ids[0], 0, 10.0);
    push_u(&r, 0, 1, 0.0);
    push_e(&r, r.ids[0], 1, 10.0);
    push_u(&r, 1, 1, 1.0);
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 16), 1);
    assert_int_equal(out[0].t, ea_t(1));
    assert_true(out[0].value == 0.0);
    assert_non_null(strstr(logs.text, "the expression gave '-inf', skipping the point"));
    alumet_log_set_sink(NULL, NULL);
    ea_run_done(&r);
}

/* A U64 value above 2^63 - 1 cannot be an integer of the expression:
 * upstream panics, here the point is skipped with an error. */
static void test_u64_overflow_skips(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[16];
    struct ea_logs logs = {.len = 0};
    alumet_log_configure("info");
    alumet_log_set_sink(ea_log_sink, &logs);
    assert_int_equal(start_formula(&r, "e * u / 100.0", "big_counter", ""), 0);
    alumet_metric_id m = ea_metric(&r, "out");
    const struct alumet_consumer lm = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    uint64_t values[] = {UINT64_C(9223372036854775813), 200, UINT64_C(9223372036854775807)};
    for (int k = 0; k < 3; k++) {
        struct alumet_point *p =
            alumet_buffer_push_u64(r.buf, ea_t(k), r.ids[2], &machine, &lm, values[k]);
        assert_non_null(p);
        ea_attr(&r, p, "domain", "package_total");
        push_u(&r, k, 1, 50.0);
    }
    ea_apply(&r, 0);
    size_t n = ea_outputs(&r, m, 0, out, 16);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].t, ea_t(1));
    assert_true(out[0].value == 100.0);
    ea_check_close(out[1].value, 9223372036854775807.0 / 2, 1e-15, "2^63 - 1 is fine");
    assert_non_null(strstr(logs.text, "the value '9223372036854775813' of 'e' does not fit in "
                                      "a 64-bit signed integer, skipping the point"));
    alumet_log_set_sink(NULL, NULL);
    ea_run_done(&r);
}

/* Upstream fails with an unbound variable when a consumer lacks a series the
 * formula reads; here the consumer waits for it. */
static void test_consumer_waits_for_all_series(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[16];
    assert_int_equal(start_formula(&r, "e * u * w / 10000.0", "rapl_consumed_energy",
                                   "w = { metric = \"cpu_percent\", kind = \"weight\" }\n"),
                     0);
    alumet_metric_id m = ea_metric(&r, "out");
    for (int k = 0; k <= 2; k++) {
        push_e(&r, r.ids[0], k, 100.0);
        push_u(&r, k, 1, 50.0);
    }
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 16), 0);
    alumet__buffer_clear(r.buf);
    for (int k = 0; k <= 2; k++)
        ea_attr(&r, ea_push(&r, r.ids[1], &machine, 1, k, 10.0), "kind", "weight");
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 16), 3);
    assert_true(out[0].value == 5.0 && out[2].value == 5.0);
    ea_run_done(&r);
}

/* Consumers of a resource that never gets a reference point, or whose
 * reference stopped, are forgotten after retention_time (upstream keeps them
 * forever). */
static void test_no_reference_is_bounded(void **state)
{
    (void)state;
    struct ea_run r;
    assert_int_equal(start_formula(&r, "e * u", "rapl_consumed_energy", ""), 0);
    for (int k = 0; k <= 30; k++) {
        alumet__buffer_clear(r.buf);
        push_u(&r, k, (uint32_t)(1 + k), 50.0); /* a new process every second */
        ea_apply(&r, 0);
    }
    const struct energy_attribution_state *st = &r.ea->running[0]->state;
    assert_int_equal(st->n_resources, 1);
    /* retention 10 s: only the processes seen during the last 10 s remain */
    assert_true(st->resources[0]->n_consumers <= 11);
    ea_run_done(&r);

    /* the reference stops (its source failed) and a process goes on: its
     * points still expire */
    assert_int_equal(start_formula(&r, "e * u", "rapl_consumed_energy", ""), 0);
    for (int k = 0; k <= 60; k++) {
        alumet__buffer_clear(r.buf);
        if (k <= 2)
            push_e(&r, r.ids[0], k, 10.0);
        push_u(&r, k + 0.5, 1, 50.0);
        ea_apply(&r, 0);
    }
    st = &r.ea->running[0]->state;
    assert_int_equal(st->n_resources, 1);
    assert_int_equal(st->resources[0]->n_consumers, 1);
    assert_true(energy_attribution_series_count(&st->resources[0]->consumers[0]->series[0]) <= 11);
    ea_run_done(&r);
}

/* The interpolation keeps the left neighbour of the next reference point, so
 * that a reference point between two polls of a consumer that was already
 * attributed is not lost (upstream drops that neighbour). */
static void test_keeps_interpolation_anchor(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[16];
    assert_int_equal(start_formula(&r, "e * u / 100.0", "rapl_consumed_energy", ""), 0);
    alumet_metric_id m = ea_metric(&r, "out");
    push_e(&r, r.ids[0], 0, 100.0);
    push_e(&r, r.ids[0], 4, 100.0);
    push_u(&r, 0, 1, 10.0);
    push_u(&r, 3, 1, 40.0);
    push_u(&r, 5, 1, 60.0);
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 16), 2);
    /* 4.5 s lies between the usage points at 3 s and 5 s */
    alumet__buffer_clear(r.buf);
    push_e(&r, r.ids[0], 4.5, 100.0);
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 16), 1);
    assert_int_equal(out[0].t, ea_t(4.5));
    ea_check_close(out[0].value, 55.0, 1e-12, "interpolated at 4.5 s");
    ea_run_done(&r);
}

static void test_filters(void **state)
{
    (void)state;
    static const char config[] =
        "[plugins.energy-attribution.formulas.out]\n"
        "expr = \"e * u\"\nref = \"e\"\n"
        "[plugins.energy-attribution.formulas.out.per_resource]\n"
        "e = { metric = \"rapl_consumed_energy\", resource_kind = \"cpu_package\", "
        "resource_id = \"1\", core = 3, ratio = 0.5, on = true, name = \"x\" }\n"
        "[plugins.energy-attribution.formulas.out.per_consumer]\n"
        "u = { metric = \"cpu_percent\", consumer_kind = \"process\", consumer_id = \"42\", "
        "keep_attributes = false }\n";
    const struct alumet_resource pkg0 = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_resource pkg1 = {ALUMET_RESOURCE_CPU_PACKAGE, 1, NULL, NULL};
    struct ea_run r;
    struct ea_out out[16];
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 3), 0);
    alumet_metric_id m = ea_metric(&r, "out");
    for (int k = 0; k < 2; k++) {
        /* variant 0 matches; each other one breaks one condition */
        for (int variant = 0; variant < 8; variant++) {
            double v = variant == 0 ? 2.0 : 1000.0;
            struct alumet_point *p = ea_push(&r, r.ids[0], variant == 1 ? &pkg0 : &pkg1, 0, k, v);
            assert_int_equal(alumet_point_add_attr_u64(r.buf, p, "core", variant == 2 ? 4 : 3), 0);
            /* only the first attribute with a key counts */
            assert_int_equal(alumet_point_add_attr_f64(r.buf, p, "ratio", 0.5), 0);
            assert_int_equal(alumet_point_add_attr_f64(r.buf, p, "ratio", 0.25), 0);
            if (variant != 3)
                assert_int_equal(alumet_point_add_attr_bool(r.buf, p, "on", true), 0);
            if (variant == 4)
                assert_int_equal(alumet_point_add_attr_u64(r.buf, p, "name", 1), 0);
            else
                ea_attr(&r, p, "name", variant == 5 ? "y" : "x");
            if (variant == 6)
                p->metric = r.ids[1];
            if (variant == 7)
                p->resource.kind = ALUMET_RESOURCE_DRAM;
        }
        struct alumet_point *u = ea_push(&r, r.ids[1], &pkg1, 42, k, 3.0);
        ea_attr(&r, u, "kind", "total");
        ea_push(&r, r.ids[1], &pkg1, 43, k, 1000.0);
        const struct alumet_consumer cg = {ALUMET_CONSUMER_CGROUP, 42, "/42", NULL};
        assert_non_null(alumet_buffer_push_f64(r.buf, ea_t(k), r.ids[1], &pkg1, &cg, 1000.0));
    }
    ea_apply(&r, 0);
    size_t n = ea_outputs(&r, m, 0, out, 16);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_true(out[i].value == 6.0);
        assert_int_equal(out[i].pid, 42);
        assert_int_equal(out[i].p->resource.kind, ALUMET_RESOURCE_CPU_PACKAGE);
        assert_int_equal(out[i].p->resource.num, 1);
        /* the energy's attributes (each key once), not the usage's */
        assert_int_equal(out[i].p->attr_count, 4);
        assert_null(alumet_point_find_attr(r.buf, out[i].p, "kind"));
        assert_true(alumet_point_attrs(r.buf, out[i].p)[1].v.f64 == 0.5);
    }
    ea_run_done(&r);
}

/* Consumer and resource ids with strings (cgroups, custom kinds) are copied
 * into the output buffer, which outlives the state of the transform. */
static void test_string_ids(void **state)
{
    (void)state;
    static const char config[] = "[plugins.energy-attribution.formulas.out]\n"
                                 "expr = \"e * u\"\nref = \"e\"\n"
                                 "per_resource = { e = { metric = \"rapl_consumed_energy\" } }\n"
                                 "per_consumer = { u = { metric = \"cpu_percent\" } }\n";
    const struct alumet_resource gpu = {ALUMET_RESOURCE_CUSTOM, 0, "node-1", "device_id"};
    struct ea_run r;
    struct ea_out out[8];
    char path[64];
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 3), 0);
    alumet_metric_id m = ea_metric(&r, "out");
    snprintf(path, sizeof(path), "/system.slice/a.service");
    const struct alumet_consumer cg = {ALUMET_CONSUMER_CGROUP, 0, path, NULL};
    for (int k = 0; k < 2; k++) {
        assert_non_null(alumet_buffer_push_f64(
            r.buf, ea_t(k), r.ids[0], &gpu,
            &(struct alumet_consumer)ALUMET_CONSUMER_LOCAL_MACHINE_INIT, 2.0));
        assert_non_null(alumet_buffer_push_f64(r.buf, ea_t(k), r.ids[1], &gpu, &cg, 0.5));
    }
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 8), 2);
    assert_string_equal(out[0].p->consumer.str, "/system.slice/a.service");
    assert_ptr_not_equal(out[0].p->consumer.str, path);
    assert_string_equal(out[0].p->resource.str, "node-1");
    assert_string_equal(out[0].p->resource.custom_kind, "device_id");
    ea_run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_per_resource_series),
        cmocka_unit_test(test_division_by_zero_skips),
        cmocka_unit_test(test_non_finite_skips),
        cmocka_unit_test(test_u64_overflow_skips),
        cmocka_unit_test(test_consumer_waits_for_all_series),
        cmocka_unit_test(test_no_reference_is_bounded),
        cmocka_unit_test(test_keeps_interpolation_anchor),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_string_ids),
    };
    return alumet_run_tests(tests);
}
