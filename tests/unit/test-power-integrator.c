/* SPDX-License-Identifier: MIT */
/* src/util/power-integrator.c: the trapezoid between consecutive power
 * samples, with uneven intervals. The expected joules are computed here from
 * the power profile (areas of rectangles and of a ramp), not by the code's
 * formula. */
#include "alumet-test.h"

#include <errno.h>
#include <math.h>

#include "util/power-integrator.h"

#define MS ((int64_t)1000000) /* ns */
#define T0 ((int64_t)1700000000 * 1000 * MS)

/* Add a sample that must give energy; returns it. */
static double add_energy(struct power_integrator *pi, int64_t t, double power)
{
    double e = -1;
    assert_int_equal(power_integrator_add(pi, t, power, &e), 1);
    return e;
}

static void add_baseline(struct power_integrator *pi, int64_t t, double power)
{
    double e = -42;
    assert_int_equal(power_integrator_add(pi, t, power, &e), 0);
    assert_true(e == -42); /* not written */
}

#define assert_exact(got, want)                                                                    \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (g_ != w_)                                                                              \
            fail_msg("expected %.17g, got %.17g", w_, g_);                                         \
    } while (0)

static void test_first_sample_gives_nothing(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    add_baseline(&pi, T0, 10.0);
    assert_exact(add_energy(&pi, T0 + 1000 * MS, 10.0), 10.0);
}

/* 10 W for 0.3 s, then 20 W for 0.7 s: 3 J + 14 J = 17 J. The sensor is read
 * at 0, at the step (0.3 s, once before it and once after it: two samples at
 * the same time), and at 1 s: uneven intervals. */
static void test_step_uneven_intervals(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    add_baseline(&pi, T0, 10.0);
    double a = add_energy(&pi, T0 + 300 * MS, 10.0);
    double b = add_energy(&pi, T0 + 300 * MS, 20.0);
    double c = add_energy(&pi, T0 + 1000 * MS, 20.0);
    assert_exact(a, 3.0);
    assert_exact(b, 0.0);
    assert_exact(c, 14.0);
    assert_exact(a + b + c, 17.0);
}

/* Constant 5000 mW over 0.25 s, 1.5 s and 10 ms: 1250, 7500 and 50 mJ. */
static void test_constant_power_uneven_intervals(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    add_baseline(&pi, T0, 5000.0);
    assert_exact(add_energy(&pi, T0 + 250 * MS, 5000.0), 1250.0);
    assert_exact(add_energy(&pi, T0 + 1750 * MS, 5000.0), 7500.0);
    assert_exact(add_energy(&pi, T0 + 1760 * MS, 5000.0), 50.0);
}

/* A ramp P(t) = 10 W + 10 W/s × t over 1 s, read at 0, 0.1, 0.45 and 1 s:
 * the area under it is 10 + 5 = 15 J, and the trapezoid is exact on a line
 * whatever the sampling. */
static void test_ramp_uneven_intervals(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    const int64_t at[] = {0, 100, 450, 1000};
    double sum = 0;
    add_baseline(&pi, T0, 10.0);
    for (int i = 1; i < 4; i++) {
        double s0 = (double)at[i - 1] / 1000, s1 = (double)at[i] / 1000;
        double e = add_energy(&pi, T0 + at[i] * MS, 10.0 + 10.0 * s1);
        /* the area of this slice: 10 (s1 - s0) + 5 (s1² - s0²) */
        double want = 10 * (s1 - s0) + 5 * (s1 * s1 - s0 * s0);
        if (fabs(e - want) > 1e-12)
            fail_msg("slice %d: expected %.17g J, got %.17g J", i, want, e);
        sum += e;
    }
    if (fabs(sum - 15.0) > 1e-12)
        fail_msg("expected 15 J, got %.17g J", sum);
}

/* Grace sensors in µW: 140 W then 25 W six seconds apart is 495 J, that is
 * 495 000 000 µJ (spec §8.4: 495 000 mJ). */
static void test_large_values_microwatts(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    add_baseline(&pi, T0, 140000000.0);
    assert_exact(add_energy(&pi, T0 + 6000 * MS, 25000000.0), 495000000.0);
}

/* The clock goes back: no energy for that interval, and the sample is the
 * new baseline. */
static void test_clock_back(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    add_baseline(&pi, T0, 1000.0);
    add_baseline(&pi, T0 - 500 * MS, 2000.0);
    assert_exact(add_energy(&pi, T0, 2000.0), 1000.0);
}

static void test_reset(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    add_baseline(&pi, T0, 1000.0);
    power_integrator_reset(&pi);
    add_baseline(&pi, T0 + 1000 * MS, 3000.0);
    assert_exact(add_energy(&pi, T0 + 2000 * MS, 1000.0), 2000.0);
}

static void test_bad_power(void **state)
{
    (void)state;
    struct power_integrator pi = POWER_INTEGRATOR_INIT;
    double e = -42;
    add_baseline(&pi, T0, 1000.0);
    assert_int_equal(power_integrator_add(&pi, T0 + MS, -1.0, &e), -EINVAL);
    assert_int_equal(power_integrator_add(&pi, T0 + MS, NAN, &e), -EINVAL);
    assert_true(e == -42);
    /* the baseline was forgotten: no interval spans the bad sample */
    add_baseline(&pi, T0 + 2 * MS, 1000.0);
    assert_exact(add_energy(&pi, T0 + 1002 * MS, 1000.0), 1000.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_sample_gives_nothing),
        cmocka_unit_test(test_step_uneven_intervals),
        cmocka_unit_test(test_constant_power_uneven_intervals),
        cmocka_unit_test(test_ramp_uneven_intervals),
        cmocka_unit_test(test_large_values_microwatts),
        cmocka_unit_test(test_clock_back),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_bad_power),
    };
    return alumet_run_tests(tests);
}
