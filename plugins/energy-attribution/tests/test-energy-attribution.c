/* SPDX-License-Identifier: MIT */
/* energy-attribution: the options, upstream's worked example (exact points
 * and values), and a scenario with known joules over many buffers. */
#include "ea-test.h"

/* The configuration of upstream's test (plugins/energy-attribution/tests/transform.rs),
 * with the kind filter of the spec's worked example; without the remainder
 * points, the output is exactly upstream's. */
static const char worked_config[] =
    "[plugins.energy-attribution.formulas.attributed_energy]\n"
    "expr = \"cpu_energy * cpu_usage / 100.0\"\n"
    "ref = \"cpu_energy\"\n"
    "retention_time = \"60s\"\n"
    "unattributed = false\n"
    "[plugins.energy-attribution.formulas.attributed_energy.per_resource]\n"
    "cpu_energy = { metric = \"rapl_consumed_energy\", resource_kind = \"local_machine\", "
    "domain = \"package_total\" }\n"
    "[plugins.energy-attribution.formulas.attributed_energy.per_consumer]\n"
    "cpu_usage = { metric = \"cpu_usage_percent\", kind = \"total\" }\n";

static const struct ea_metric_def worked_metrics[] = {
    {"rapl_consumed_energy", ALUMET_VALUE_U64, EA_UNIT(JOULE)},
    {"cpu_usage_percent", ALUMET_VALUE_F64, EA_UNIT(UNITY)},
};

static const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

/* ---- options ---- */

static void test_plugin_struct(void **state)
{
    (void)state;
    assert_string_equal(alumet_plugin_energy_attribution.name, "energy-attribution");
    assert_string_equal(alumet_plugin_energy_attribution.version, "0.1.1");
    assert_int_equal(alumet_plugin_energy_attribution.abi_version, ALUMET_PLUGIN_ABI);
    assert_null(alumet_plugin_energy_attribution.default_config);
}

static void test_config_parsed(void **state)
{
    (void)state;
    struct ea_run r;
    assert_int_equal(ea_run_init(&r, worked_config), 0);
    assert_int_equal(r.ea->n_formulas, 1);
    const struct energy_attribution_formula *f = &r.ea->formulas[0];
    assert_string_equal(f->name, "attributed_energy");
    assert_string_equal(f->expr_text, "cpu_energy * cpu_usage / 100.0");
    assert_int_equal(f->retention, 60 * ALUMET_NSEC_PER_SEC);
    assert_int_equal(f->n_inputs, 2);
    assert_int_equal(f->n_resource_inputs, 1);
    assert_int_equal(f->ref, 0);
    assert_false(f->unattributed);
    const struct energy_attribution_input *e = &f->inputs[0], *u = &f->inputs[1];
    assert_string_equal(e->ident, "cpu_energy");
    assert_string_equal(e->metric_name, "rapl_consumed_energy");
    assert_false(e->per_consumer);
    assert_true(e->keep_attributes);
    assert_string_equal(e->resource_kind, "local_machine");
    assert_null(e->resource_id);
    assert_int_equal(e->n_filters, 1);
    assert_string_equal(e->filters[0].key, "domain");
    assert_int_equal(e->filters[0].type, ALUMET_ATTR_STR);
    assert_string_equal(e->filters[0].v.str, "package_total");
    assert_string_equal(u->ident, "cpu_usage");
    assert_true(u->per_consumer);
    assert_int_equal(u->n_filters, 1);
    ea_run_done(&r);

    /* the user book's form, without retention_time, is accepted (60 s) */
    const char *no_retention = "[plugins.energy-attribution.formulas.e]\n"
                               "expr = \"a * b\"\nref = \"a\"\n"
                               "per_resource = { a = { metric = \"x\" } }\n"
                               "per_consumer = { b = { metric = \"y\", keep_attributes = false, "
                               "n = 3, f = 0.5, on = true, consumer_kind = \"process\", "
                               "consumer_id = \"42\", resource_id = \"0\" } }\n";
    assert_int_equal(ea_run_init(&r, no_retention), 0);
    f = &r.ea->formulas[0];
    assert_int_equal(f->retention, 60 * ALUMET_NSEC_PER_SEC);
    assert_true(f->unattributed); /* the remainder is on by default */
    u = &f->inputs[1];
    assert_false(u->keep_attributes);
    assert_string_equal(u->consumer_kind, "process");
    assert_string_equal(u->consumer_id, "42");
    assert_string_equal(u->resource_id, "0");
    assert_int_equal(u->n_filters, 3);
    assert_int_equal(u->filters[0].type, ALUMET_ATTR_U64);
    assert_int_equal(u->filters[0].v.u64, 3);
    assert_int_equal(u->filters[1].type, ALUMET_ATTR_F64);
    assert_true(u->filters[1].v.f64 == 0.5);
    assert_int_equal(u->filters[2].type, ALUMET_ATTR_BOOL);
    assert_true(u->filters[2].v.b);
    ea_run_done(&r);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *msg;
    } cases[] = {
        {"", "formulas: missing field 'formulas'"},
        {"[plugins.energy-attribution]\nformulas = 3\n", "expected a table"},
        {"[plugins.energy-attribution.formulas.e]\nref = \"a\"\n"
         "per_resource = {}\nper_consumer = {}\n",
         "missing field 'expr'"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"1.0\"\n"
         "per_resource = {}\nper_consumer = {}\n",
         "missing field 'ref'"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_consumer = {}\n",
         "missing table 'per_resource'"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\" } }\n",
         "missing table 'per_consumer'"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"b\"\nref = \"b\"\n"
         "per_resource = { a = { metric = \"x\" } }\nper_consumer = { b = { metric = \"y\" } }\n",
         "temporal reference 'b' not found, it should be declared in `per_resource`"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a * c\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\" } }\nper_consumer = { b = { metric = \"y\" } }\n",
         "failed to compile expression 'a * c': column 5: unknown variable 'c'"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\" } }\nper_consumer = { a = { metric = \"y\" } }\n",
         "the time series 'a' is declared twice"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = { domain = \"x\" } }\nper_consumer = {}\n",
         "missing field 'metric'"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = \"rapl_consumed_energy\" }\nper_consumer = {}\n",
         "expected a table"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\", core = -1 } }\nper_consumer = {}\n",
         "non-negative integer"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\", core = [1] } }\nper_consumer = {}\n",
         "expected an attribute filter"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"min\"\nref = \"min\"\n"
         "per_resource = { min = { metric = \"x\" } }\nper_consumer = {}\n",
         "'min' cannot name a variable"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "retention_time = \"soon\"\n"
         "per_resource = { a = { metric = \"x\" } }\nper_consumer = {}\n",
         "retention_time"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a > 1\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\" } }\nper_consumer = {}\n",
         "must give a number"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\", prorate = true } }\nper_consumer = {}\n",
         "test.toml:4:48: plugins.energy-attribution.formulas.e.per_resource.a.prorate: prorate "
         "applies to per_consumer series only"},
        {"[plugins.energy-attribution.formulas.e]\nexpr = \"a\"\nref = \"a\"\n"
         "per_resource = { a = { metric = \"x\" } }\n"
         "per_consumer = { b = { metric = \"y\", prorate = \"yes\" } }\n",
         "prorate"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ea_run r;
        int rc = ea_run_init(&r, cases[i].config);
        if (rc != -EINVAL)
            fail_msg("case %zu: expected -EINVAL, got %d (%s)", i, rc, r.err.msg);
        if (!strstr(r.err.msg, cases[i].msg))
            fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].msg, r.err.msg);
        ea_run_done(&r);
    }
}

static void test_missing_metric(void **state)
{
    (void)state;
    struct ea_run r;
    assert_int_equal(ea_run_init(&r, worked_config), 0);
    /* only the energy: cpu_usage_percent is missing */
    assert_int_equal(ea_run_start(&r, worked_metrics, 1), -ENOENT);
    assert_non_null(strstr(r.err.msg, "could not find metric 'cpu_usage_percent' for "
                                      "per_consumer formula input 'cpu_usage'"));
    assert_non_null(strstr(r.err.msg, "enable the plugins"));
    ea_run_done(&r);
}

static void test_formulas_in_file_order(void **state)
{
    (void)state;
    const char *config = "[plugins.energy-attribution.formulas.zeta]\n"
                         "expr = \"e * 2\"\nref = \"e\"\n"
                         "per_resource = { e = { metric = \"rapl_consumed_energy\" } }\n"
                         "per_consumer = {}\n"
                         "[plugins.energy-attribution.formulas.alpha]\n"
                         "expr = \"e * 3\"\nref = \"e\"\n"
                         "per_resource = { e = { metric = \"rapl_consumed_energy\" } }\n"
                         "per_consumer = {}\n";
    struct ea_run r;
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, worked_metrics, 2), 0);
    assert_int_equal(r.ea->n_formulas, 2);
    assert_string_equal(r.ea->running[0]->formula->name, "zeta");
    assert_string_equal(r.ea->running[1]->formula->name, "alpha");
    /* the output metrics are registered in that order too */
    assert_true(ea_metric(&r, "zeta") < ea_metric(&r, "alpha"));
    const struct alumet_metric *m = alumet_registry_find(r.reg, "zeta");
    assert_int_equal(m->value_type, ALUMET_VALUE_F64);
    assert_int_equal(m->unit.base, ALUMET_UNIT_JOULE);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_PLAIN);
    assert_string_equal(m->description,
                        "Energy attribution (since the previous value) per consumer and per "
                        "resource");
    ea_run_done(&r);
}

/* ---- upstream's worked example ---- */

static struct alumet_point *push_energy(struct ea_run *r, double s, double v)
{
    struct alumet_point *p = ea_push(r, r->ids[0], &machine, 0, s, v);
    ea_attr(r, p, "domain", "package_total");
    return p;
}

static struct alumet_point *push_usage(struct ea_run *r, double s, uint32_t pid, double v)
{
    struct alumet_point *p = ea_push(r, r->ids[1], &machine, pid, s, v);
    ea_attr(r, p, "kind", "total");
    return p;
}

/* The attributed point o is (pid, t, value) with the two attributes of its
 * inputs, on local_machine. */
static void check_point(struct ea_run *r, const struct ea_out *o, uint32_t pid, double s,
                        double value, bool exact)
{
    assert_int_equal(o->pid, pid);
    assert_int_equal(o->p->consumer.kind, ALUMET_CONSUMER_PROCESS);
    assert_int_equal(o->p->resource.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
    assert_int_equal(o->t, ea_t(s));
    if (exact && o->value != value)
        fail_msg("pid %u at %gs: expected exactly %.17g, got %.17g", pid, s, value, o->value);
    ea_check_close(o->value, value, 1e-12, "attributed energy");
    assert_int_equal(o->p->attr_count, 2);
    const struct alumet_attr *a = alumet_point_attrs(r->buf, o->p);
    assert_string_equal(a[0].key, "domain");
    assert_string_equal(a[0].v.str, "package_total");
    assert_string_equal(a[1].key, "kind");
    assert_string_equal(a[1].v.str, "total");
}

static void test_worked_example(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[32];
    assert_int_equal(ea_run_init(&r, worked_config), 0);
    assert_int_equal(ea_run_start(&r, worked_metrics, 2), 0);
    alumet_metric_id m = ea_metric(&r, "attributed_energy");

    /* call 1: not enough data (inf = sup = 1 s, no reference point there) */
    push_energy(&r, 0, 0);
    push_energy(&r, 2, 100);
    push_usage(&r, 1, 1, 50);
    ea_apply(&r, 0);
    assert_int_equal(alumet_buffer_len(r.buf), 3);

    /* call 2: pid 1 at 2 s (exact usage 80) and at 4 s (usage interpolated
     * between 100 at 3 s and 0 at 5 s: 50) */
    alumet__buffer_clear(r.buf);
    push_energy(&r, 4, 100);
    push_usage(&r, 2, 1, 80);
    push_usage(&r, 3, 1, 100);
    push_usage(&r, 5, 1, 0);
    ea_apply(&r, 0);
    assert_int_equal(alumet_buffer_len(r.buf), 6);
    /* the inputs are unchanged */
    const struct alumet_point *p0 = alumet_buffer_get(r.buf, 0);
    assert_int_equal(p0->metric, r.ids[0]);
    assert_int_equal(p0->timestamp, ea_t(4));
    assert_int_equal(p0->value.u64, 100);
    assert_int_equal(p0->attr_count, 1);
    assert_int_equal(alumet_buffer_get(r.buf, 3)->value.f64, 0.0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 32), 2);
    check_point(&r, &out[0], 1, 2, 80.0, true);
    check_point(&r, &out[1], 1, 4, 50.0, true);

    /* call 3: both processes at 6 s */
    alumet__buffer_clear(r.buf);
    push_energy(&r, 6, 500);
    push_usage(&r, 6, 1, 90);
    push_usage(&r, 6, 2, 10);
    ea_apply(&r, 0);
    assert_int_equal(alumet_buffer_len(r.buf), 5);
    assert_int_equal(ea_outputs(&r, m, 0, out, 32), 2);
    check_point(&r, &out[0], 1, 6, 450.0, true);
    check_point(&r, &out[1], 2, 6, 50.0, true);

    /* call 4 (the rest of upstream's test): the reference at 10 Hz, then
     * 1 Hz; pid 1 at 1 Hz, pid 2 at 10 Hz with a gap */
    alumet__buffer_clear(r.buf);
    for (int k = 0; k <= 10; k++)
        push_energy(&r, 7 + k / 10.0, 500);
    push_energy(&r, 9, 500);
    push_energy(&r, 10, 500);
    push_usage(&r, 7, 1, 90);
    push_usage(&r, 8, 1, 1);
    for (int k = 0; k <= 6; k++)
        push_usage(&r, 7 + k / 10.0, 2, 10);
    push_usage(&r, 8, 2, 10);
    ea_apply(&r, 0);
    size_t n = ea_outputs(&r, m, 0, out, 32);
    assert_int_equal(n, 22);
    for (int k = 0; k <= 10; k++) {
        /* pid 1: usage from 90 at 7 s to 1 at 8 s, energy 500 J */
        double usage = 90.0 - 89.0 * k / 10.0;
        check_point(&r, &out[k], 1, 7 + k / 10.0, 500.0 * usage / 100.0, k == 0 || k == 10);
        check_point(&r, &out[11 + k], 2, 7 + k / 10.0, 50.0, true);
    }
    /* 9 s and 10 s wait for usage points after them */
    alumet__buffer_clear(r.buf);
    push_usage(&r, 10, 1, 20);
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 32), 2);
    check_point(&r, &out[0], 1, 9, 500.0 * 10.5 / 100.0, false);
    check_point(&r, &out[1], 1, 10, 100.0, true);
    ea_run_done(&r);
}

/* Points delivered in any order within a buffer are used in time order. */
static void test_out_of_order(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[8];
    assert_int_equal(ea_run_init(&r, worked_config), 0);
    assert_int_equal(ea_run_start(&r, worked_metrics, 2), 0);
    alumet_metric_id m = ea_metric(&r, "attributed_energy");
    push_usage(&r, 5, 1, 0);
    push_energy(&r, 4, 100);
    push_usage(&r, 3, 1, 100);
    push_energy(&r, 2, 100);
    push_usage(&r, 1, 1, 50);
    push_energy(&r, 0, 0);
    push_usage(&r, 2, 1, 80);
    ea_apply(&r, 0);
    assert_int_equal(ea_outputs(&r, m, 0, out, 8), 2);
    check_point(&r, &out[0], 1, 2, 80.0, true);
    check_point(&r, &out[1], 1, 4, 50.0, true);
    ea_run_done(&r);
}

/* ---- known joules ---- */

/* RAPL at 60 W (package_total), polled every 0.5 s and flushed every 2 s;
 * procfs cpu_percent every 1 s, a quarter of a second later. Four processes:
 *   pid 100: 25 %, all along                   -> 40 points x 7.5 J  = 300 J
 *   pid 200: 20 % + 1 %/s (linear, exact)      -> sum 0.3 (20 + t)   = 363 J
 *   pid 300: 10 %, until 10.25 s               -> 20 points x 3 J    = 60 J
 *   pid 400: 5 %, from 12.25 s                 -> 17 points x 1.5 J  = 25.5 J
 * (its first point, at 12.25 s, is its usage since 11.25 s: it covers the
 * reference point at 12.0 s, the energy of (11.5 s, 12.0 s])
 * with decoys that the filters must reject: per-package RAPL points, the
 * dram_total domain, and cpu_percent of kind "user". */
static void test_known_joules(void **state)
{
    (void)state;
    static const char config[] =
        "[plugins.energy-attribution.formulas.attributed_energy]\n"
        "expr = \"cpu_energy * cpu_usage / 100.0\"\n"
        "ref = \"cpu_energy\"\n"
        "retention_time = \"5s\"\n"
        "[plugins.energy-attribution.formulas.attributed_energy.per_resource]\n"
        "cpu_energy = { metric = \"rapl_consumed_energy\", domain = \"package_total\" }\n"
        "[plugins.energy-attribution.formulas.attributed_energy.per_consumer]\n"
        "cpu_usage = { metric = \"cpu_percent\", kind = \"total\" }\n";
    static const struct ea_metric_def metrics[] = {
        {"rapl_consumed_energy", ALUMET_VALUE_F64, EA_UNIT(JOULE)},
        {"cpu_percent", ALUMET_VALUE_F64, EA_UNIT(PERCENT)},
    };
    const struct alumet_resource pkg0 = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    struct ea_run r;
    struct ea_out out[64];
    double total[5] = {0};
    int count[5] = {0};
    alumet_time_ns last_t[5] = {0};

    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 2), 0);
    alumet_metric_id m = ea_metric(&r, "attributed_energy");
    for (int tick = 1; tick <= 84; tick++) {
        double now = tick * 0.25;
        alumet__buffer_clear(r.buf);
        if (tick % 8 == 0) {
            /* the rapl flush: the polls of (now - 2, now] */
            for (int k = 3; k >= 0; k--) {
                double t = now - 0.5 * k;
                ea_attr(&r, ea_push(&r, r.ids[0], &pkg0, 0, t, 29.0), "domain", "package");
                ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, t, 30.0), "domain", "package_total");
                ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, t, 7.0), "domain", "dram_total");
            }
        } else if (tick % 4 == 1) {
            /* a procfs poll */
            static const uint32_t pids[] = {100, 200, 300, 400};
            for (int j = 0; j < 4; j++) {
                double v = j == 0 ? 25.0 : j == 1 ? 20.0 + now : j == 2 ? 10.0 : 5.0;
                if ((j == 2 && now > 10.25) || (j == 3 && now < 12.25))
                    continue;
                ea_attr(&r, ea_push(&r, r.ids[1], &machine, pids[j], now, v), "kind", "total");
                ea_attr(&r, ea_push(&r, r.ids[1], &machine, pids[j], now, 99.0), "kind", "user");
            }
        }
        if (alumet_buffer_len(r.buf) == 0)
            continue;
        ea_apply(&r, 0);
        size_t n = ea_outputs(&r, m, 0, out, 64);
        for (size_t i = 0; i < n; i++) {
            int j = (int)(out[i].pid / 100);
            assert_true(j >= 1 && j <= 4);
            /* each reference point at most once per process, in time order */
            assert_true(out[i].t > last_t[j]);
            last_t[j] = out[i].t;
            total[j] += out[i].value;
            count[j]++;
        }
    }
    assert_int_equal(count[1], 40);
    assert_int_equal(count[2], 40);
    assert_int_equal(count[3], 20);
    assert_int_equal(count[4], 17);
    ea_check_close(total[1], 300.0, 0.001, "pid 100");
    ea_check_close(total[2], 363.0, 0.001, "pid 200");
    ea_check_close(total[3], 60.0, 0.001, "pid 300");
    ea_check_close(total[4], 25.5, 0.001, "pid 400");
    /* pid 300 ended more than retention_time ago: forgotten; the package
     * resource never had a reference point and its data expired */
    const struct energy_attribution_state *st = &r.ea->running[0]->state;
    assert_int_equal(st->n_resources, 1);
    assert_int_equal(st->resources[0]->n_consumers, 3);
    for (size_t k = 0; k < st->resources[0]->n_consumers; k++)
        assert_int_not_equal(st->resources[0]->consumers[k]->id.num, 300);
    /* and the memory stays bounded: a few points per series */
    assert_true(energy_attribution_series_count(&st->resources[0]->general[0]) <= 8);
    ea_run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_struct),          cmocka_unit_test(test_config_parsed),
        cmocka_unit_test(test_config_errors),          cmocka_unit_test(test_missing_metric),
        cmocka_unit_test(test_formulas_in_file_order), cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_out_of_order),           cmocka_unit_test(test_known_joules),
    };
    return alumet_run_tests(tests);
}
