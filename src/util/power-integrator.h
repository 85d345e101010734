/* SPDX-License-Identifier: MIT */
/* Energy from a series of power samples, for the sources that read a power
 * (watts, milliwatts...) rather than an energy counter: the Jetson INA3221
 * rails and the Grace hwmon sensors.
 *
 * Between two consecutive samples (t0, P0) and (t1, P1) the energy is the
 * trapezoid (P0 + P1) / 2 × (t1 − t0), with the samples' own timestamps, so
 * that uneven intervals (a late poll, a trigger-now of exec) are counted for
 * their real length. The first sample only sets the baseline: it gives no
 * energy. The unit of the energy is the power's unit times seconds (mW →
 * mJ, µW → µJ).
 *
 *     struct power_integrator pi = POWER_INTEGRATOR_INIT;
 *     if (power_integrator_add(&pi, now, milliwatts, &millijoules) > 0)
 *         push(millijoules);
 *
 * No logging, no allocation. Not thread-safe: one owner at a time. */
#ifndef ALUMET_UTIL_POWER_INTEGRATOR_H
#define ALUMET_UTIL_POWER_INTEGRATOR_H

#include <stdbool.h>
#include <stdint.h>

struct power_integrator {
    bool has_prev;
    double prev_power; /* the previous sample, in the caller's power unit */
    int64_t prev_t;    /* its time, ns */
};

#define POWER_INTEGRATOR_INIT                                                                      \
    {                                                                                              \
        false, 0.0, 0                                                                              \
    }

/* Add the sample `power` (finite, >= 0) taken at time t (ns). Returns 1 and
 * writes the energy since the previous sample to *ret_energy (power unit × s);
 * 0 when the sample is only a baseline: the first one, the first after
 * power_integrator_reset, or one whose time is before the previous sample's
 * (the clock went back: that interval cannot be measured); -EINVAL (and the
 * baseline is forgotten) when power is negative or not finite. */
int power_integrator_add(struct power_integrator *pi, int64_t t, double power, double *ret_energy);

/* Forget the baseline (a paused source, a failed read): the next sample gives
 * no energy. */
void power_integrator_reset(struct power_integrator *pi);

#endif
