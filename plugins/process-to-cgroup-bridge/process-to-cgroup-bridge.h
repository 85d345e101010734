/* SPDX-License-Identifier: MIT */
/* Private header of the process-to-cgroup-bridge plugin, shared with its
 * tests. The plugin state (struct p2c) is allocated by init and freed by
 * free; the transform registered in start is owned by the core and borrows
 * the state (its proc root and log topic). */
#ifndef ALUMET_PLUGIN_P2C_H
#define ALUMET_PLUGIN_P2C_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/plugin.h"
#include "util/fsroot.h"

struct p2c_cached;

struct p2c_transform {
    struct p2c *b;         /* borrowed */
    alumet_metric_id *ids; /* owned: the metrics of processes_metrics, n_ids */
    size_t n_ids;
    bool merge, keep;
    bool *drop; /* owned: per point of the buffer being transformed */
    size_t cap_drop, retain_at;
    struct p2c_cached *cache; /* owned: the cgroups of the pids of one buffer */
    size_t n_cache;
};

struct p2c {
    char **names; /* owned: processes_metrics */
    size_t n_names;
    bool merge, keep;
    char *proc_root;               /* hidden option, default "/" */
    struct fsroot proc;            /* opened by start */
    struct alumet_log_topic *log;  /* borrowed from the start context */
    struct p2c_transform *running; /* borrowed (owned by the core) while started */
};

extern const struct alumet_transform_ops p2c_transform_ops;

#endif
