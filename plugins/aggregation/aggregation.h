/* SPDX-License-Identifier: MIT */
/* aggregation: the plugin state, the transform and its series, shared with
 * the tests. Never installed, never included by another plugin. */
#ifndef AGGREGATION_H
#define AGGREGATION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/log.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "alumet/time.h"
#include "alumet/transform.h"

enum aggregation_fn {
    AGGREGATION_SUM,
    AGGREGATION_MEAN,
    AGGREGATION_MIN,
    AGGREGATION_MAX,
    AGGREGATION_FN_MAX
};

#define AGGREGATION_LATE_METRIC "alumet_transform_points_dropped"
#define AGGREGATION_ELEMENT "plugin-aggregation"

/* One aggregated metric and its outputs (ALUMET_METRIC_ID_INVALID for the
 * functions not asked for). */
struct aggregation_input {
    char *name;
    alumet_metric_id in;
    enum alumet_value_type type;
    struct alumet_unit unit; /* custom names borrowed from the registry */
    const char *description; /* borrowed from the registry */
    alumet_metric_id out[AGGREGATION_FN_MAX];
};

/* The accumulator of one window [start, start + interval). */
struct aggregation_window {
    alumet_time_ns start;
    uint64_t count;
    uint64_t sum_u64, min_u64, max_u64;
    bool sum_overflow;
    double sum_f64, min_f64, max_f64;
};

/* A series: metric, resource, consumer and attributes (in order), with
 * copies of its strings, and its open windows sorted by start. */
struct aggregation_series {
    struct aggregation_series *next; /* hash chain */
    uint64_t hash;
    size_t input; /* index in inputs */
    struct alumet_resource resource;
    struct alumet_consumer consumer;
    struct alumet_attr *attrs;
    uint32_t n_attrs;
    alumet_time_ns closed_until; /* end of the last window emitted, INT64_MIN: none */
    alumet_time_ns newest;       /* newest timestamp seen */
    struct aggregation_window *windows;
    size_t n_windows, cap_windows;
};

#define AGGREGATION_BUCKETS 1024

struct aggregation_transform {
    alumet_time_ns interval;
    unsigned functions; /* bit per enum aggregation_fn */
    struct aggregation_input *inputs;
    size_t n_inputs;
    atomic_bool ready; /* the output metrics are registered (post_pipeline_start) */
    struct aggregation_series *buckets[AGGREGATION_BUCKETS];
    size_t n_series;
    alumet_time_ns newest;       /* newest timestamp of every series */
    uint64_t late, late_emitted; /* points dropped because their window was emitted */
    bool overflow_warned;
    alumet_metric_id late_metric;
    uint32_t pid;
    struct alumet_log_topic *log;
};

/* The plugin state. */
struct aggregation {
    alumet_time_ns interval;
    unsigned functions;
    char **metrics;
    size_t n_metrics;
    struct aggregation_transform *running; /* owned by the core while it runs */
};

/* The ops of the transform (data: struct aggregation_transform). */
extern const struct alumet_transform_ops aggregation_transform_ops;

/* Free t with its inputs and series (NULL-safe). */
void aggregation_transform_free(void *data);

/* Window start of timestamp ts: ts floored to a multiple of interval since
 * the UNIX epoch. */
alumet_time_ns aggregation_window_start(alumet_time_ns ts, alumet_time_ns interval);

#endif
