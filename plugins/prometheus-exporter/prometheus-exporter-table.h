/* SPDX-License-Identifier: MIT */
/* prometheus-exporter: the inside of the series table, shared by the table
 * (prometheus-exporter-table.c: families, labels, series, expiry) and its
 * exposition (prometheus-exporter-render.c). Private to the plugin. */
#ifndef ALUMET_PLUGIN_PROMETHEUS_EXPORTER_TABLE_H
#define ALUMET_PLUGIN_PROMETHEUS_EXPORTER_TABLE_H

#include <pthread.h>
#include <stdatomic.h>

#include "prometheus-exporter.h"
#include "util/prom-labels.h"

struct prometheus_family {
    char *name;     /* sanitize(prefix + metric name + suffix): the family key */
    char *exported; /* name, or name_unit: the name printed */
    char *unit;     /* sanitized unit word, "" when the unit has none */
    char *help;     /* description of the first metric, with a '.' appended */
    size_t series;  /* series of this family in the table */
    /* delta metrics (energies, counter_metrics) also have a counter family */
    bool delta;
    bool warned_sum;         /* the warning about summed points was logged */
    char *counter;           /* name_cumulative[_unit]_total: its samples */
    char *counter_help;      /* help of the counter family */
    alumet_time_ns interval; /* latest update interval of its series, 0 = unknown */
};

struct prometheus_series {
    char *labels; /* NULL: a free slot */
    size_t labels_len;
    uint64_t hash;
    alumet_time_ns updated;  /* monotonic time of the last write */
    alumet_time_ns ts;       /* timestamp of the last point */
    alumet_time_ns interval; /* update interval (delta metrics), 0 = unknown yet */
    alumet_time_ns stale_at; /* the gauge of a delta metric is stale after it, 0 = unknown */
    double value;
    double total; /* sum of the values (delta metrics): the counter */
    uint32_t family;
    uint32_t next; /* next in the bucket chain or the free list: index + 1, 0 = none */
};

struct prometheus_table {
    pthread_mutex_t lock;
    atomic_uint refs;
    char *prefix;
    char *suffix;
    bool add_attributes;
    enum prometheus_unit_name unit_name;
    alumet_time_ns expiry;
    char **counter_metrics;
    size_t n_counter_metrics;
    struct alumet_log_topic *topic;
    alumet_time_ns last_sweep;

    struct prometheus_family *families; /* in first-seen order */
    size_t n_families, cap_families;
    uint32_t *metric_family; /* metric id -> family index + 1, 0 = not seen yet */
    size_t n_metric_family;

    struct prometheus_series *series;
    size_t n_series, cap_series; /* slots used (live or free), allocated */
    uint32_t free_list;
    size_t live;
    uint32_t *buckets; /* index + 1 of the first series of the chain */
    size_t n_buckets;  /* a power of two */

    /* the writer's scratch (used under the lock) */
    struct prom_labels labels;
    struct text key;
};

/* Append the exposition of t in format fmt to out; stale delta gauges (at
 * now) are left out. Called with t->lock held (it dates the gauges whose
 * interval was unknown when they were written). 0 or -ENOMEM. */
int prometheus_render_locked(struct prometheus_table *t, enum prometheus_format fmt,
                             alumet_time_ns now, struct text *out);

#endif
