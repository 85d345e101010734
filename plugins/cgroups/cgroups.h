/* SPDX-License-Identifier: MIT */
/* Private header of the cgroups plugin, shared by its files and its tests.
 *
 * Layout:
 *   cgroups.c          plugin struct, options, metrics, lifecycle
 *   cgroups-source.c   the source "cgroups": finds the hierarchies, follows
 *                      the cgroups that appear and disappear, measures them
 *
 * Ownership: the plugin state (struct cgroups) is allocated by init and
 * freed by free. The source registered in start is owned by the core, which
 * frees it before the plugin is stopped; it borrows the plugin state. */
#ifndef ALUMET_PLUGIN_CGROUPS_H
#define ALUMET_PLUGIN_CGROUPS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "alumet/plugin.h"
#include "util/fsroot.h"

struct cgroups_metrics {
    alumet_metric_id cpu_time_delta, cpu_percent, memory_usage, memory_max, swap_current, swap_max;
    alumet_metric_id anon, file, kernel_stack, pagetables, slab_reclaimable, pswpin, pswpout;
    alumet_metric_id io_some, io_full;
};

struct cgroups_source;

struct cgroups {
    /* options */
    alumet_time_ns poll_interval;
    bool disable_sources;
    alumet_time_ns rescan_interval; /* hidden: full rescans of the hierarchies */
    char *proc_root, *sys_root;     /* hidden, default "/" */

    /* taken in start; tests may change them before polling */
    unsigned n_cpus;                     /* online CPUs, 0 = unknown (no cpu_percent) */
    alumet_time_ns (*clock)(void *data); /* monotonic, for intervals */
    void *clock_data;

    struct alumet_log_topic *log; /* borrowed from the start context */
    struct fsroot proc, sys;      /* opened by start, closed by stop */
    struct cgroups_metrics m;
    struct cgroups_source *source; /* borrowed (owned by the core), NULL without */
    /* for consumer events: set by post_pipeline_start while the source may poll */
    _Atomic(struct alumet_pipeline *) pipeline;
};

#define cgroups_log(cg, level, ...) alumet_log_at((cg)->log, (level), __VA_ARGS__)

/* ---- cgroups-source.c ---- */

/* Allocate the source (nothing is read before its first poll). 0 or -ENOMEM;
 * the caller frees it with the ops' free until it is registered. */
int cgroups_source_new(struct cgroups *cg, struct cgroups_source **ret);
extern const struct alumet_source_ops cgroups_source_ops;

/* Number of cgroups the source measures now. */
size_t cgroups_source_count(const struct cgroups_source *src);

#endif
