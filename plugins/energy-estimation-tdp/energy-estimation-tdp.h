/* SPDX-License-Identifier: MIT */
/* energy-estimation-tdp: the plugin state and the transform data, shared with
 * the tests. Never installed, never included by another plugin. */
#ifndef ENERGY_ESTIMATION_TDP_H
#define ENERGY_ESTIMATION_TDP_H

#include <stdbool.h>

#include "alumet/metric.h"
#include "alumet/time.h"
#include "alumet/transform.h"

#define EET_INPUT_METRIC "kernel_cpu_time"
#define EET_OUTPUT_METRIC "estimated_consumed_energy"

struct energy_estimation_tdp {
    alumet_time_ns poll_interval;
    double tdp, nb_vcpu, nb_cpu;
    struct energy_estimation_tdp_transform *running; /* owned by the core while it runs */
};

/* The transform "transform". */
struct energy_estimation_tdp_transform {
    alumet_metric_id in, out;
    double joules_per_unit; /* TDP / nb_cpu x seconds per unit of the input */
    double watts_per_cpu;
    bool resolved;
};

/* The ops of the transform (data: struct energy_estimation_tdp_transform). */
extern const struct alumet_transform_ops energy_estimation_tdp_transform_ops;

#endif
