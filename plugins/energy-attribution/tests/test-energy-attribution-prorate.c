/* SPDX-License-Identifier: MIT */
/* energy-attribution: prorated series (`prorate = true`). A process's CPU
 * time per interval (cpu_time_delta, ns) is split over the reference
 * intervals by overlap, so that its sum is attributed exactly once whatever
 * the delays and the order of the sources. Each scenario's CPU times come
 * from a known schedule (a constant rate per interval of the process's
 * points); the expected joules per reference point are worked out in the
 * comments from that schedule, at 7.5 J per CPU second (the VM recipe:
 * 120 W / 16 CPUs). */
#include "ea-test.h"

static const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

static const char config[] = "[plugins.energy-attribution.formulas.attributed_energy]\n"
                             "expr = \"cpu / 1e9 * 7.5\"\n"
                             "ref = \"energy\"\n"
                             "[plugins.energy-attribution.formulas.attributed_energy."
                             "per_resource]\n"
                             "energy = { metric = \"estimated_consumed_energy_total\" }\n"
                             "[plugins.energy-attribution.formulas.attributed_energy."
                             "per_consumer]\n"
                             "cpu = { metric = \"cpu_time_delta\", prorate = true }\n";

static const struct ea_metric_def metrics[] = {
    {"estimated_consumed_energy_total", ALUMET_VALUE_F64, EA_UNIT(JOULE)},
    {"cpu_time_delta", ALUMET_VALUE_U64, {ALUMET_UNIT_SECOND, ALUMET_PREFIX_NANO, NULL, NULL}},
};

#define J_PER_CPU_S 7.5
#define MACHINE_W 120.0
#define PID 7
#define MAX_POINTS 8

/* Reference points at ref[], the process's points at con[] with its CPU
 * seconds over each interval cpu[] (the first one: 0, the process was just
 * found), and the joules expected at each reference point (NAN: none). */
struct scenario {
    const char *name;
    size_t n_ref, n_con;
    double ref[MAX_POINTS], con[MAX_POINTS], cpu[MAX_POINTS], want[MAX_POINTS];
};

/* How the points reach the transform. */
enum delivery {
    IN_TIME_ORDER, /* one buffer per point, by timestamp */
    PROCESS_LATE,  /* each process point after the next reference point */
    ONE_BUFFER,    /* all at once */
    DELIVERY_COUNT,
};

/* Push reference point i: the machine's energy since the one before (1 s
 * for the first), which is returned. */
static double push_ref(struct ea_run *r, const struct scenario *sc, size_t i)
{
    double e = MACHINE_W * (i ? sc->ref[i] - sc->ref[i - 1] : 1.0);
    ea_push(r, r->ids[0], &machine, 0, sc->ref[i], e);
    return e;
}

static void push_con(struct ea_run *r, const struct scenario *sc, size_t i)
{
    ea_push(r, r->ids[1], &machine, PID, sc->con[i], sc->cpu[i] * 1e9);
}

/* Apply the buffer, gather its results into got[] (by reference point) and
 * its remainder points into *rest, and clear it. */
static void flush(struct ea_run *r, const struct scenario *sc, double *got, double *rest)
{
    alumet_metric_id m = ea_metric(r, "attributed_energy");
    alumet_metric_id m_rest = ea_metric(r, "attributed_energy_unattributed");
    ea_apply(r, 0);
    for (size_t k = 0; k < alumet_buffer_len(r->buf); k++) {
        const struct alumet_point *p = alumet_buffer_get(r->buf, k);
        if (p->metric != m && p->metric != m_rest)
            continue;
        size_t i = 0;
        while (i < sc->n_ref && ea_t(sc->ref[i]) != p->timestamp)
            i++;
        if (i == sc->n_ref)
            fail_msg("%s: a result at %" PRId64 " ns, no reference point there", sc->name,
                     p->timestamp);
        if (p->metric == m_rest) {
            *rest += p->value.f64;
            continue;
        }
        assert_int_equal(p->consumer.num, PID);
        if (!isnan(got[i]))
            fail_msg("%s: two results at reference point %.4f s", sc->name, sc->ref[i]);
        got[i] = p->value.f64;
    }
    alumet__buffer_clear(r->buf);
}

static void run(const struct scenario *sc, enum delivery how)
{
    struct ea_run r;
    double got[MAX_POINTS], rest = 0.0, energy = 0.0, want_sum = 0.0, got_sum = 0.0;
    for (size_t i = 0; i < MAX_POINTS; i++)
        got[i] = NAN;
    assert_int_equal(ea_run_init(&r, config), 0);
    assert_int_equal(ea_run_start(&r, metrics, 2), 0);
    size_t i = 0, j = 0, late = 0;
    while (i < sc->n_ref || j < sc->n_con) {
        bool ref_next = j == sc->n_con || (i < sc->n_ref && sc->ref[i] <= sc->con[j]);
        if (ref_next) {
            energy += push_ref(&r, sc, i++);
            if (how == PROCESS_LATE) /* the process points held back until now */
                for (; late < j; late++)
                    push_con(&r, sc, late);
        } else {
            if (how != PROCESS_LATE)
                push_con(&r, sc, j);
            j++;
        }
        if (how != ONE_BUFFER)
            flush(&r, sc, got, &rest);
    }
    for (; late < j && how == PROCESS_LATE; late++)
        push_con(&r, sc, late);
    flush(&r, sc, got, &rest);
    struct alumet_error err = {0};
    assert_int_equal(energy_attribution_transform_ops.finish(r.ea->running[0], r.buf, r.reg, &err),
                     0);
    flush(&r, sc, got, &rest);
    for (size_t k = 0; k < sc->n_ref; k++) {
        char what[160];
        snprintf(what, sizeof(what), "%s (delivery %d): reference point at %.4f s", sc->name,
                 (int)how, sc->ref[k]);
        if (isnan(sc->want[k]) != isnan(got[k]))
            fail_msg("%s: expected %s, got %.12g", what, isnan(sc->want[k]) ? "no result" : "one",
                     got[k]);
        if (isnan(got[k]))
            continue;
        ea_check_close(got[k], sc->want[k], 1e-9, what);
        got_sum += got[k];
    }
    for (size_t k = 0; k < sc->n_con; k++)
        want_sum += sc->cpu[k] * J_PER_CPU_S;
    ea_check_close(got_sum, want_sum, 1e-9, "the process's CPU time, attributed once");
    ea_check_close(got_sum + rest, energy, 1e-12, "attributed + unattributed");
    ea_run_done(&r);
}

static void check(const struct scenario *sc)
{
    for (int how = 0; how < DELIVERY_COUNT; how++)
        run(sc, (enum delivery)how);
}

/* energy-attribution-joules-e2e in CI's ASan pass (stop 23): `exec` of a
 * 0.5 s busy loop under load. procfs found the child at 0 and 1.9 ms (0 s
 * of CPU), the estimate's first point came at 9.1 ms, the child ended at
 * 864.8 ms with 0.17 s of CPU, the last estimate at 865.5 ms. Interpolating
 * at 9.1 ms gave the child 0.0106 J of the 0.17 s interval and the last
 * point all of it again (+0.8 % here, +16.2 % in CI's run); prorated, the
 * 9.1 ms point gets what the child used by then (nothing: its points at 0
 * and 1.9 ms are in that round) and the last one its 0.17 s: 1.275 J. */
static void test_exec_start(void **state)
{
    (void)state;
    static const struct scenario sc = {
        "exec start",
        2,
        3,
        {0.0091, 0.8655},
        {0.0, 0.0019, 0.8648},
        {0.0, 0.0, 0.17},
        {0.0, 0.17 * J_PER_CPU_S},
    };
    check(&sc);
}

/* A reference poll 200 ms late (more than a tenth of its interval): the
 * process uses 0.5 CPU from 0 to 2.5 s and is measured at 1, 2 and 2.5 s.
 * The reference point at 1.2 s gets (0, 1] and a fifth of (1, 2]: 0.6 s,
 * 4.5 J; the one at 2.001 s the rest of (1, 2] up to the process's point of
 * that round: 0.4 s, 3 J; the one at 2.502 s (2, 2.5]: 0.25 s, 1.875 J.
 * Interpolation would give 0.6 s at 1.2 s, then 0.5 s again at 2.001 s. */
static void test_late_reference(void **state)
{
    (void)state;
    static const struct scenario sc = {
        "late reference",
        4,
        4,
        {0.002, 1.2, 2.001, 2.502},
        {0.0, 1.0, 2.0, 2.5},
        {0.0, 0.5, 0.5, 0.25},
        {0.0, 0.6 * J_PER_CPU_S, 0.4 * J_PER_CPU_S, 0.25 * J_PER_CPU_S},
    };
    check(&sc);
}

/* The process stamped 1-2 ms after the reference in every round, and a
 * short last interval (exec's: the program ended 50 ms after a poll): each
 * reference point gets the interval of its round, whole. */
static void test_same_round_after(void **state)
{
    (void)state;
    static const struct scenario sc = {
        "same round after",
        4,
        4,
        {0.0, 1.0, 2.0, 2.05},
        {0.001, 1.002, 2.002, 2.052},
        {0.0, 0.4, 0.3, 0.05},
        {0.0, 0.4 * J_PER_CPU_S, 0.3 * J_PER_CPU_S, 0.05 * J_PER_CPU_S},
    };
    check(&sc);
}

/* A process that ends at 1.5 s while the reference goes on: the reference
 * point at 2 s gets (1.001, 1.5] once the agent stops (until then the
 * process may still have a point before 2 s), the one at 3 s nothing. */
static void test_process_ends(void **state)
{
    (void)state;
    static const struct scenario sc = {
        "process ends",
        4,
        3,
        {0.0, 1.0, 2.0, 3.0},
        {0.0, 1.001, 1.5},
        {0.0, 0.5, 0.25},
        {0.0, 0.5 * J_PER_CPU_S, 0.25 * J_PER_CPU_S, NAN},
    };
    check(&sc);
}

/* A process found at 2.5 s, between two reference points: the points
 * before are not its energy (no result), the one at 3 s gets what it used
 * from 2.5 s, the one at 4 s its whole interval. */
static void test_process_found_later(void **state)
{
    (void)state;
    static const struct scenario sc = {
        "process found later",
        5,
        3,
        {0.0, 1.0, 2.0, 3.0, 4.0},
        {2.5, 3.0, 4.0},
        {0.0, 0.2, 0.9},
        {NAN, NAN, NAN, 0.2 * J_PER_CPU_S, 0.9 * J_PER_CPU_S},
    };
    check(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_start),          cmocka_unit_test(test_late_reference),
        cmocka_unit_test(test_same_round_after),    cmocka_unit_test(test_process_ends),
        cmocka_unit_test(test_process_found_later),
    };
    return alumet_run_tests(tests);
}
