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
#define EET_TOTAL_METRIC "estimated_consumed_energy_total"

struct energy_estimation_tdp {
    alumet_time_ns poll_interval;
    double tdp, nb_vcpu, nb_cpu;
    bool total;           /* also emit EET_TOTAL_METRIC */
    char vm_warning[512]; /* the warning to print at start, "" when none */
    struct energy_estimation_tdp_transform *running; /* owned by the core while it runs */
};

/* The transform "transform". */
struct energy_estimation_tdp_transform {
    alumet_metric_id in, out, total;
    bool with_total;
    double joules_per_unit; /* TDP / nb_cpu x seconds per unit of the input */
    double watts_per_cpu;
    double tdp, nb_cpu; /* written on every point (attributes tdp, nb_cpu) */
    bool resolved;
};

/* The ops of the transform (data: struct energy_estimation_tdp_transform). */
extern const struct alumet_transform_ops energy_estimation_tdp_transform_ops;

#endif
