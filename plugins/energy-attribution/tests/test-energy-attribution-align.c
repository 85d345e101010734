/* SPDX-License-Identifier: MIT */
/* energy-attribution: the consumer series aligned onto the reference
 * intervals (the first and last intervals of a program count), the
 * remainder points, and the diagnostics of filters that match several
 * series or nothing. The expected joules are computed here from a known
 * power and a known CPU time, not from the plugin's arithmetic. */
#include "ea-test.h"

static const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

static const char config[] = "[plugins.energy-attribution.formulas.attributed_energy]\n"
                             "expr = \"cpu_energy * cpu_usage / 100.0\"\n"
                             "ref = \"cpu_energy\"\n"
                             "[plugins.energy-attribution.formulas.attributed_energy."
                             "per_resource]\n"
                             "cpu_energy = { metric = \"rapl_consumed_energy\", domain = "
                             "\"package_total\" }\n"
                             "[plugins.energy-attribution.formulas.attributed_energy."
                             "per_consumer]\n"
                             "cpu_usage = { metric = \"cpu_percent\", kind = \"total\" }\n";

static const struct ea_metric_def metrics[] = {
    {"rapl_consumed_energy", ALUMET_VALUE_F64, EA_UNIT(JOULE)},
    {"cpu_percent", ALUMET_VALUE_F64, EA_UNIT(PERCENT)},
};

#define WATTS 40.0
#define NCPU 4.0

/* Sum of the results for pid, and of the remainder points, from index 0. */
static void sums(struct ea_run *r, uint32_t pid, double *ret_mine, double *ret_rest)
{
    alumet_metric_id m = ea_metric(r, "attributed_energy");
    alumet_metric_id rest = ea_metric(r, "attributed_energy_unattributed");
    for (size_t i = 0; i < alumet_buffer_len(r->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(r->buf, i);
        if (p->metric == m && p->consumer.num == pid)
            *ret_mine += p->value.f64;
        else if (p->metric == rest)
            *ret_rest += p->value.f64;
    }
}

/* `exec` of a program busy on one CPU of NCPU for `seconds`, under RAPL at
 * WATTS: both sources take a baseline at 0 (no point), poll every second
 * and once more at the end; procfs stamps its points `skew` seconds after
 * rapl (negative: before). Each source flushes its own buffer, procfs
 * first when procfs_first. The child's CPU time is `seconds`, so its energy
 * is WATTS x seconds / NCPU (cpu_percent = 100 x CPU time / (interval x NCPU)). */
static void exec_case(double seconds, double skew, bool procfs_first)
{
    struct ea_run r;
    double mine = 0.0, rest = 0.0, machine_energy = 0.0;
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 2), 0);
    double prev = 0.0;
    for (double t = 1.0; prev < seconds; t += 1.0) {
        double end = t < seconds ? t : seconds;
        double dt = end - prev;
        for (int src = 0; src < 2; src++) {
            bool procfs = (src == 0) == procfs_first;
            alumet__buffer_clear(r.buf);
            if (procfs)
                ea_attr(&r, ea_push(&r, r.ids[1], &machine, 42, end + skew, 100.0 / NCPU), "kind",
                        "total");
            else
                ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, end, WATTS * dt), "domain",
                        "package_total");
            machine_energy += procfs ? 0.0 : WATTS * dt;
            ea_apply(&r, 0);
            sums(&r, 42, &mine, &rest);
        }
        prev = end;
    }
    /* the remainder of the last reference points comes at the latest at shutdown */
    alumet__buffer_clear(r.buf);
    struct alumet_error err = {0};
    assert_int_equal(energy_attribution_transform_ops.finish(r.ea->running[0], r.buf, r.reg, &err),
                     0);
    sums(&r, 42, &mine, &rest);
    double want = WATTS * seconds / NCPU;
    char what[128];
    snprintf(what, sizeof(what), "%.1f s program, procfs %+.0f us%s", seconds, skew * 1e6,
             procfs_first ? ", procfs flushed first" : "");
    ea_check_close(mine, want, 1e-9, what);
    ea_check_close(mine + rest, machine_energy, 1e-12, "attributed + unattributed");
    ea_run_done(&r);
}

static void test_exec_first_and_last_intervals(void **state)
{
    (void)state;
    static const double programs[] = {0.5, 1.5, 3.25};
    static const double skews[] = {5e-6, -5e-6, 2e-3};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            for (int first = 0; first < 2; first++)
                exec_case(programs[i], skews[j], first);
}

/* A process that the watcher finds while RAPL runs (references every 1 s
 * from 0 s, procfs every 1 s at +0.4 s): its first point, at 10.4 s, is its
 * usage over (9.4, 10.4]; it covers the reference at 10 s ((9, 10]: more
 * than half) but not the one at 9 s. */
static void test_process_found_later(void **state)
{
    (void)state;
    struct ea_run r;
    struct ea_out out[64];
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 2), 0);
    alumet_metric_id m = ea_metric(&r, "attributed_energy");
    for (int k = 0; k <= 14; k++)
        ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, k, 10.0), "domain", "package_total");
    for (int k = 10; k <= 13; k++)
        ea_attr(&r, ea_push(&r, r.ids[1], &machine, 7, k + 0.4, 50.0), "kind", "total");
    ea_apply(&r, 0);
    size_t n = ea_outputs(&r, m, 0, out, 64);
    /* 10 (edge), 11, 12, 13; 14 waits for the next point */
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].t, ea_t(10.0 + (double)i));
        ea_check_close(out[i].value, 5.0, 1e-12, "10 J x 50 %");
    }
    ea_run_done(&r);
}

/* Collect the results for pid 7 in r->buf into got[] (*n of them so far). */
static void collect(struct ea_run *r, struct ea_out *got, size_t *n, size_t max)
{
    *n += ea_outputs(r, ea_metric(r, "attributed_energy"), 0, got + *n, max - *n);
}

/* The results must not depend on the order in which the buffers of one poll
 * round arrive (on a loaded machine, either source flushes first). References
 * every 1 s (10 J), usage stamped 50 ms before them (the same poll round: a
 * tenth of the interval is 100 ms) at 10 % x k, so the value at k s is that
 * of the usage point at k - 0.05 s, k J, even when the next usage point is
 * already there (interpolating towards it would give k + 0.5 J). The last
 * usage point, at 6.3 s (70 %, its interval (5.95, 6.3]), is 200 ms before the
 * last reference (6.5 s, 5 J, (6, 6.5]): beyond the same round but covering
 * more than half of its interval, it is attributed when the agent stops:
 * 3.5 J. Modes: one buffer; each round usage first; each round energy first. */
static void test_order_of_buffers(void **state)
{
    (void)state;
    static const double want_t[] = {1, 2, 3, 4, 5, 6, 6.5};
    static const double want_j[] = {1, 2, 3, 4, 5, 6, 3.5};
    for (int mode = 0; mode < 3; mode++) {
        struct ea_run r;
        struct ea_out got[32];
        size_t n = 0;
        assert_int_equal(ea_run_init(&r, config), 0);
        assert_int_equal(ea_run_start(&r, metrics, 2), 0);
        for (int k = 1; k <= 7; k++) {
            double tu = k < 7 ? k - 0.05 : 6.3, tr = k < 7 ? k : 6.5;
            for (int src = 0; src < 2; src++) {
                bool usage = (src == 0) == (mode != 2);
                if (mode != 0)
                    alumet__buffer_clear(r.buf);
                if (usage)
                    ea_attr(&r, ea_push(&r, r.ids[1], &machine, 7, tu, 10.0 * k), "kind", "total");
                else
                    ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, tr, k < 7 ? 10.0 : 5.0),
                            "domain", "package_total");
                if (mode != 0) {
                    ea_apply(&r, 0);
                    collect(&r, got, &n, 32);
                }
            }
        }
        if (mode == 0) {
            ea_apply(&r, 0);
            collect(&r, got, &n, 32);
        }
        /* 6.5 s waits for a next usage point until the agent stops */
        assert_int_equal(n, 6);
        alumet__buffer_clear(r.buf);
        struct alumet_error err = {0};
        assert_int_equal(
            energy_attribution_transform_ops.finish(r.ea->running[0], r.buf, r.reg, &err), 0);
        collect(&r, got, &n, 32);
        assert_int_equal(n, 7);
        for (size_t i = 0; i < n; i++) {
            char what[64];
            snprintf(what, sizeof(what), "mode %d, reference at %.1f s", mode, want_t[i]);
            assert_int_equal(got[i].t, ea_t(want_t[i]));
            ea_check_close(got[i].value, want_j[i], 1e-12, what);
        }
        ea_run_done(&r);
    }
}

/* A usage series stamped 2 ms after the references (its source stamped
 * later in the same round), and exec's last interval 50 ms long: at each
 * reference the value is that of the usage point just after it, within a
 * tenth of the interval. References at 1, 2 and 2.05 s at 40 W; usage at
 * 1.002 (20 %), 2.002 (10 %), 2.052 s (100 %): 8 J, 4 J, 2 J. Interpolating
 * (the rule before) gave 4.008 J at 2 s and 1.928 J at 2.05 s, counting part
 * of the usage of (1.002, 2.002] again in the short interval. Both orders
 * of the buffers of a round. */
static void test_same_round_after(void **state)
{
    (void)state;
    static const double tr[] = {1.0, 2.0, 2.05}, tu[] = {1.002, 2.002, 2.052};
    static const double usage[] = {20.0, 10.0, 100.0}, want[] = {8.0, 4.0, 2.0};
    for (int usage_first = 0; usage_first < 2; usage_first++) {
        struct ea_run r;
        struct ea_out got[8];
        size_t n = 0;
        assert_int_equal(ea_run_init(&r, config), 0);
        assert_int_equal(ea_run_start(&r, metrics, 2), 0);
        double prev = 0.0;
        for (int k = 0; k < 3; k++) {
            for (int src = 0; src < 2; src++) {
                alumet__buffer_clear(r.buf);
                if ((src == 0) == (usage_first == 1))
                    ea_attr(&r, ea_push(&r, r.ids[1], &machine, 7, tu[k], usage[k]), "kind",
                            "total");
                else
                    ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, tr[k], WATTS * (tr[k] - prev)),
                            "domain", "package_total");
                ea_apply(&r, 0);
                collect(&r, got, &n, 8);
            }
            prev = tr[k];
        }
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
            char what[64];
            snprintf(what, sizeof(what), "usage %s, reference at %.2f s",
                     usage_first ? "first" : "second", tr[i]);
            assert_int_equal(got[i].t, ea_t(tr[i]));
            ea_check_close(got[i].value, want[i], 1e-9, what);
        }
        ea_run_done(&r);
    }
}

/* Two consumers share each reference point; the remainder is the rest, and
 * the points at one timestamp add up to the reference exactly. */
static void test_remainder_exact(void **state)
{
    (void)state;
    struct ea_run r;
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 2), 0);
    alumet_metric_id m = ea_metric(&r, "attributed_energy");
    alumet_metric_id rest = ea_metric(&r, "attributed_energy_unattributed");
    const struct alumet_metric *def = alumet_registry_get(r.reg, rest);
    assert_int_equal(def->unit.base, ALUMET_UNIT_JOULE);
    for (int k = 1; k <= 4; k++) {
        ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, k, 100.0), "domain", "package_total");
        ea_attr(&r, ea_push(&r, r.ids[1], &machine, 1, k, 25.0), "kind", "total");
        ea_attr(&r, ea_push(&r, r.ids[1], &machine, 2, k, 12.5), "kind", "total");
    }
    ea_apply(&r, 0);
    double attributed[5] = {0}, remainder[5] = {0};
    int n_rest[5] = {0};
    for (size_t i = 0; i < alumet_buffer_len(r.buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(r.buf, i);
        int k = (int)((p->timestamp - EA_BASE) / ALUMET_NSEC_PER_SEC);
        if (p->metric == m) {
            attributed[k] += p->value.f64;
        } else if (p->metric == rest) {
            remainder[k] += p->value.f64;
            n_rest[k]++;
            assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
            assert_int_equal(p->resource.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
            assert_string_equal(alumet_point_find_attr(r.buf, p, "domain")->v.str, "package_total");
        }
    }
    for (int k = 1; k <= 4; k++) {
        assert_int_equal(n_rest[k], 1);
        assert_true(remainder[k] == 62.5);
        assert_true(attributed[k] + remainder[k] == 100.0);
    }
    ea_run_done(&r);
}

/* estimated_consumed_energy has one point per cpu_state: a filter without
 * cpu_state matches 9 series per timestamp, an error naming cpu_state. */
static void test_ambiguous_filter(void **state)
{
    (void)state;
    static const char vm[] = "[plugins.energy-attribution.formulas.attributed_energy]\n"
                             "expr = \"cpu * cpu_usage / 100.0\"\nref = \"cpu\"\n"
                             "per_resource = { cpu = { metric = \"estimated_consumed_energy\", "
                             "resource_kind = \"local_machine\" } }\n"
                             "per_consumer = { cpu_usage = { metric = \"cpu_percent\", "
                             "kind = \"total\" } }\n";
    static const struct ea_metric_def defs[] = {
        {"estimated_consumed_energy", ALUMET_VALUE_F64, EA_UNIT(JOULE)},
        {"cpu_percent", ALUMET_VALUE_F64, EA_UNIT(PERCENT)},
    };
    static const char *const states[] = {"user",    "nice",  "system", "idle",      "irq",
                                         "softirq", "steal", "guest",  "guest_nice"};
    struct ea_run r;
    assert_int_equal(ea_run_init(&r, vm), 0);
    assert_int_equal(ea_run_start(&r, defs, 2), 0);
    for (size_t k = 0; k < 9; k++)
        ea_attr(&r, ea_push(&r, r.ids[0], &machine, 0, 1, 1.0), "cpu_state", states[k]);
    struct alumet_error err = {0};
    assert_int_equal(energy_attribution_transform_ops.apply(r.ea->running[0], r.buf, r.reg, &err),
                     -EINVAL);
    assert_string_equal(err.msg,
                        "formula 'attributed_energy': the filter of the per_resource series "
                        "'cpu' (metric 'estimated_consumed_energy') matches 9 series per "
                        "timestamp, which differ by attribute cpu_state (\"user\", \"nice\", "
                        "\"system\", \"idle\", \"irq\", \"softirq\", \"steal\", \"guest\", "
                        "\"guest_nice\"); add cpu_state = ... to the filter, with one of these "
                        "values");
    ea_run_done(&r);
}

/* kind = "totl" matches nothing: said once, when its metric has been seen
 * for 10 s, with the values seen. */
static void test_filter_matching_nothing(void **state)
{
    (void)state;
    static const char typo[] = "[plugins.energy-attribution.formulas.e]\n"
                               "expr = \"a * u / 100.0\"\nref = \"a\"\n"
                               "per_resource = { a = { metric = \"rapl_consumed_energy\" } }\n"
                               "per_consumer = { u = { metric = \"cpu_percent\", "
                               "kind = \"totl\" } }\n";
    struct ea_run r;
    struct ea_logs logs = {.len = 0};
    alumet_log_configure("info");
    alumet_log_set_sink(ea_log_sink, &logs);
    assert_int_equal(ea_run_init(&r, typo), 0);
    assert_int_equal(ea_run_start(&r, metrics, 2), 0);
    static const char *const kinds[] = {"user", "system", "total"};
    for (int k = 0; k <= 12; k++) {
        alumet__buffer_clear(r.buf);
        ea_push(&r, r.ids[0], &machine, 0, k, 10.0);
        for (size_t j = 0; j < 3; j++)
            ea_attr(&r, ea_push(&r, r.ids[1], &machine, 5, k, 10.0), "kind", kinds[j]);
        ea_apply(&r, 0);
        assert_int_equal(logs.count, k < 10 ? 0 : 1);
    }
    alumet_log_set_sink(NULL, NULL);
    assert_string_equal(logs.text,
                        "formula 'e': the per_consumer series 'u' matched none of the 33 points "
                        "of metric 'cpu_percent': none has kind = \"totl\" (values seen: "
                        "\"user\", \"system\", \"total\"); fix the filter\n");
    ea_run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_first_and_last_intervals),
        cmocka_unit_test(test_process_found_later),
        cmocka_unit_test(test_order_of_buffers),
        cmocka_unit_test(test_same_round_after),
        cmocka_unit_test(test_remainder_exact),
        cmocka_unit_test(test_ambiguous_filter),
        cmocka_unit_test(test_filter_matching_nothing),
    };
    return alumet_run_tests(tests);
}
