/* SPDX-License-Identifier: MIT */
/* Trapezoid integration of power samples; see power-integrator.h. */
#include "power-integrator.h"

#include <errno.h>
#include <math.h>

int power_integrator_add(struct power_integrator *pi, int64_t t, double power, double *ret_energy)
{
    if (!isfinite(power) || power < 0) {
        pi->has_prev = false;
        return -EINVAL;
    }
    bool had = pi->has_prev;
    double p0 = pi->prev_power;
    int64_t t0 = pi->prev_t;
    pi->has_prev = true;
    pi->prev_power = power;
    pi->prev_t = t;
    if (!had || t < t0)
        return 0;
    /* (P0 + P1) × Δt is exact in a double while it stays below 2^53 (20 W in
     * mW over 100 s in ns is 4e15), and correctly rounded beyond: halving and
     * scaling ns to s add one rounding each. */
    *ret_energy = (p0 + power) * (double)(t - t0) / 2e9;
    return 1;
}

void power_integrator_reset(struct power_integrator *pi)
{
    pi->has_prev = false;
}
