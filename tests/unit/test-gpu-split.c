/* SPDX-License-Identifier: MIT */
/* src/util/gpu-split.c: the per-process split of a GPU's interval energy
 * (shared by the nvml and amd-gpu plugins). The expected joules are worked
 * out here from the scenario (idle W × s, usage shares), with values that
 * are exact in binary, so they are compared exactly. */
#include "alumet-test.h"

#include <stdlib.h>

#include "util/gpu-split.h"

#define assert_exact(got, want)                                                                    \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (g_ != w_)                                                                              \
            fail_msg("expected %.17g, got %.17g", w_, g_);                                         \
    } while (0)

/* 10 J in 1 s, idle 2 W: 2 J idle, the 8 J left by usage 75 / 25 %. */
static void test_split_by_usage(void **state)
{
    (void)state;
    struct gpu_share s[2] = {{100, 75, -1}, {200, 25, -1}};
    double idle = -1, rest = -1;
    assert_int_equal(gpu_split_energy(10000, 2000 /* 2 W × 1 s */, s, 2, &idle, &rest),
                     GPU_SPLIT_BY_USAGE);
    assert_exact(idle, 2000);
    assert_exact(s[0].energy_mj, 6000);
    assert_exact(s[1].energy_mj, 2000);
    assert_exact(rest, 0);
    assert_int_equal(s[0].pid, 100); /* the inputs are kept */
    assert_exact(s[1].weight, 25);
}

/* No usage at all: 9 J, no idle power, three processes get 3 J each. */
static void test_even_split(void **state)
{
    (void)state;
    struct gpu_share s[3] = {{1, 0, -1}, {2, 0, -1}, {3, 0, -1}};
    double idle = -1, rest = -1;
    assert_int_equal(gpu_split_energy(9000, 0, s, 3, &idle, &rest), GPU_SPLIT_EVEN);
    assert_exact(idle, 0);
    for (int i = 0; i < 3; i++)
        assert_exact(s[i].energy_mj, 3000);
    assert_exact(rest, 0);
}

/* No process: 5 J, 1 J idle, the 4 J of activity are unattributed. */
static void test_no_process(void **state)
{
    (void)state;
    double idle = -1, rest = -1;
    assert_int_equal(gpu_split_energy(5000, 1000, NULL, 0, &idle, &rest), GPU_SPLIT_NONE);
    assert_exact(idle, 1000);
    assert_exact(rest, 4000);
}

/* The idle part is clamped to [0, energy]. */
static void test_idle_clamped(void **state)
{
    (void)state;
    struct gpu_share s[2] = {{1, 3, -1}, {2, 1, -1}};
    double idle = -1, rest = -1;
    /* idle power × interval above the energy: all of it idle */
    assert_int_equal(gpu_split_energy(1000, 3000, s, 2, &idle, &rest), GPU_SPLIT_BY_USAGE);
    assert_exact(idle, 1000);
    assert_exact(s[0].energy_mj, 0);
    assert_exact(s[1].energy_mj, 0);
    assert_exact(rest, 0);
    /* a negative idle energy counts as none */
    assert_int_equal(gpu_split_energy(1000, -50, s, 2, &idle, &rest), GPU_SPLIT_BY_USAGE);
    assert_exact(idle, 0);
    assert_exact(s[0].energy_mj, 750);
    assert_exact(s[1].energy_mj, 250);
    assert_exact(rest, 0);
    /* no energy in the interval */
    assert_int_equal(gpu_split_energy(0, 100, s, 2, &idle, &rest), GPU_SPLIT_BY_USAGE);
    assert_exact(idle, 0);
    assert_exact(s[0].energy_mj, 0);
    assert_exact(rest, 0);
}

/* Shares that do not divide exactly: the remainder takes the rounding and
 * the parts add up to the energy. */
static void test_rounding_remainder(void **state)
{
    (void)state;
    struct gpu_share s[3] = {{1, 1, -1}, {2, 1, -1}, {3, 1, -1}};
    double idle = -1, rest = -1;
    assert_int_equal(gpu_split_energy(1000, 100, s, 3, &idle, &rest), GPU_SPLIT_BY_USAGE);
    assert_exact(idle, 100);
    assert_true(rest >= 0 && rest < 1e-9);
    assert_true(s[0].energy_mj > 299.99999 && s[0].energy_mj < 300.00001);
    assert_exact(s[0].energy_mj, s[2].energy_mj);
}

/* gpu_split_add: one share per pid, weights summed, busy when a weight is
 * above 0; gpu_split_next empties it for the next interval. */
static void test_add_and_next(void **state)
{
    (void)state;
    struct gpu_split sp = {0};
    assert_int_equal(gpu_split_add(&sp, 42, 0), 0);
    assert_false(sp.busy);
    for (uint32_t pid = 1; pid <= 20; pid++) /* beyond the first allocation (8) */
        assert_int_equal(gpu_split_add(&sp, pid, pid == 7 ? 5 : 0), 0);
    assert_true(sp.busy);
    assert_int_equal(gpu_split_add(&sp, 42, 30), 0);
    assert_int_equal(gpu_split_add(&sp, 7, 2.5), 0);
    assert_int_equal(sp.n_shares, 21);
    assert_int_equal(sp.shares[0].pid, 42);
    assert_exact(sp.shares[0].weight, 30);
    assert_int_equal(sp.shares[7].pid, 7);
    assert_exact(sp.shares[7].weight, 7.5);
    assert_int_equal(sp.shares[20].pid, 20);
    gpu_split_next(&sp);
    assert_int_equal(sp.n_shares, 0);
    assert_false(sp.busy);
    assert_int_equal(gpu_split_add(&sp, 9, 1), 0);
    assert_int_equal(sp.shares[0].pid, 9);
    assert_exact(sp.shares[0].weight, 1);
    gpu_split_free(&sp);
    assert_null(sp.shares);
    assert_int_equal(sp.n_shares, 0);
}

/* The idle power: the lowest mean power of the intervals without activity,
 * unless configured. */
static void test_idle_power_estimate(void **state)
{
    (void)state;
    struct gpu_split sp = {0};
    /* busy interval, or a device that does not report its activity: no estimate */
    sp.busy = true;
    assert_exact(gpu_split_idle_power(&sp, 400000, 2, true, false, 0), 0);
    gpu_split_next(&sp);
    assert_exact(gpu_split_idle_power(&sp, 100000, 2, false, false, 0), 0);
    assert_exact(gpu_split_idle_power(&sp, 100000, 0, true, false, 0), 0); /* dt 0 */
    assert_false(sp.has_idle_estimate);
    /* 100 J in 2 s without activity: 50 W */
    assert_exact(gpu_split_idle_power(&sp, 100000, 2, true, false, 0), 50000);
    /* a higher idle interval does not raise it, a lower one lowers it */
    assert_exact(gpu_split_idle_power(&sp, 300000, 2, true, false, 0), 50000);
    assert_exact(gpu_split_idle_power(&sp, 60000, 2, true, false, 0), 30000);
    /* a busy interval keeps it */
    sp.busy = true;
    assert_exact(gpu_split_idle_power(&sp, 10000, 2, true, false, 0), 30000);
    /* configured: that one, whatever the estimate (which still follows) */
    sp.busy = false;
    assert_exact(gpu_split_idle_power(&sp, 20000, 2, true, true, 1500), 1500);
    assert_exact(sp.idle_estimate_mw, 10000);
    /* gpu_split_next keeps the estimate */
    gpu_split_next(&sp);
    assert_exact(gpu_split_idle_power(&sp, 400000, 1, false, false, 0), 10000);
    gpu_split_free(&sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_by_usage),      cmocka_unit_test(test_even_split),
        cmocka_unit_test(test_no_process),          cmocka_unit_test(test_idle_clamped),
        cmocka_unit_test(test_rounding_remainder),  cmocka_unit_test(test_add_and_next),
        cmocka_unit_test(test_idle_power_estimate),
    };
    return alumet_run_tests(tests);
}
