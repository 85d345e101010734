/* SPDX-License-Identifier: MIT */
/* Private header of the cgroups plugin, shared by its files and its tests.
 *
 * Layout:
 *   cgroups.c          options, metrics, lifecycle: the engine shared by
 *                      slurm and oar (cgroups_family_lib)
 *   cgroups-source.c   the source: finds the hierarchies, follows the
 *                      cgroups that appear and disappear, measures them
 *   cgroups-raw.c      the cgroups plugin: plugin struct, init, start
 *   cgroups-containers.c  its container names (Engine API), the family hooks
 *                      of the raw plugin (cgroups-containers-none.c without
 *                      libcurl)
 *
 * The plugins slurm, oar and k8s (plugins/slurm, plugins/oar, plugins/k8s)
 * are this plugin with a `family` hook that chooses the cgroups and gives
 * their attributes.
 *
 * Ownership: the plugin state (struct cgroups) is allocated by init and
 * freed by free. The source registered in start is owned by the core, which
 * frees it before the plugin is stopped; it borrows the plugin state. */
#ifndef ALUMET_PLUGIN_CGROUPS_H
#define ALUMET_PLUGIN_CGROUPS_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/plugin.h"
#include "util/fsroot.h"

struct cgroups_metrics {
    alumet_metric_id cpu_time_delta, cpu_percent, memory_usage, memory_max, swap_current, swap_max;
    alumet_metric_id anon, file, kernel_stack, pagetables, slab_reclaimable, pswpin, pswpout;
    alumet_metric_id io_some, io_full;
};

/* Register the metrics of the cgroup family (upstream's names and units),
 * shared by every plugin that measures cgroups. */
int cgroups_metrics_create(struct cgroups_metrics *m, struct alumet_start_ctx *ctx,
                           struct alumet_error *err);

struct cgroups_source;
struct cgroup_hierarchy;

/* One attribute of a measured cgroup (owned strings). */
struct cgroups_attr {
    char *key;
    char *str; /* NULL: the U64 u64 */
    uint64_t u64;
};

struct cgroups_attrs {
    struct cgroups_attr *items; /* owned */
    size_t n;
};

/* Append an attribute (key and value copied). 0 or -ENOMEM. */
int cgroups_attrs_add_str(struct cgroups_attrs *a, const char *key, const char *value);
int cgroups_attrs_add_u64(struct cgroups_attrs *a, const char *key, uint64_t value);
void cgroups_attrs_done(struct cgroups_attrs *a);

#define CGROUPS_OWNER_MAX 128

/* How a plugin of the cgroup family chooses its cgroups; zeroed for the raw
 * cgroups plugin (every cgroup, no attribute). Called from the source's poll. */
struct cgroups_family {
    /* 1: measure the cgroup cpath of h with the attributes appended to
     * *attrs (they come first on every point); 2: measure it, and call
     * refresh at the next polls until it says done; 0: skip it; -ENOMEM. */
    int (*setup)(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                 struct cgroups_attrs *attrs);
    /* For a cgroup whose setup returned 2, before each poll reads it: may
     * append attributes, or replace them all (k8s inserts name and namespace
     * in the middle of its own); 1: done, 0: call again at the next poll,
     * -ENOMEM. Optional (NULL: setup's 2 means 1). */
    int (*refresh)(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                   struct cgroups_attrs *attrs);
    /* Once per poll, after the cgroups that appeared or went away were taken
     * and before the refresh calls, with the monotonic time of the poll and
     * the number of cgroups whose refresh is still to come (k8s lists its
     * pods there); optional. */
    void (*before_refresh)(void *data, alumet_time_ns mono, size_t pending);
    /* How the log lines name the cgroup cpath of h: "cgroup '<name>'", and
     * "cgroup '<name>'<owner>" in those saying that it is measured or
     * removed (k8s: its path, " of pod <uid>"); optional (NULL: its
     * cgroup_unique_name, no owner). */
    void (*describe)(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                     char name[PATH_MAX], char owner[CGROUPS_OWNER_MAX]);
    /* The cgroup cpath of h was removed (measured or not); optional. */
    void (*removed)(void *data, const struct cgroup_hierarchy *h, const char *cpath);
    /* For the annotation transform (cgroups_annotate_ops), from the
     * transform thread: 1 with the attributes of the job that the cgroup at
     * canonical path cpath (any depth, any hierarchy) belongs to appended to
     * *attrs, 0 when it is in no job, -ENOMEM. Optional. */
    int (*annotate)(void *data, const char *cpath, struct cgroups_attrs *attrs);
    const char *annotate_key; /* a point with this attribute is left as it is */
    void *data;
};

struct cgroups {
    const char *section; /* "cgroups", "slurm", "oar": the config section, for messages */
    struct cgroups_family family;

    /* options */
    alumet_time_ns poll_interval;
    bool disable_sources;
    bool start_paused;              /* slurm's add_source_in_pause_state */
    alumet_time_ns rescan_interval; /* hidden: full rescans of the hierarchies */
    char *proc_root, *sys_root;     /* hidden, default "/" */

    /* taken in start; tests may change them before polling */
    unsigned n_cpus;                     /* online CPUs, 0 = unknown (no cpu_percent) */
    alumet_time_ns (*clock)(void *data); /* monotonic, for intervals */
    void *clock_data;

    struct alumet_log_topic *log; /* borrowed from the start context */
    struct fsroot proc, sys;      /* opened by start, closed by stop */
    struct cgroups_metrics m;
    struct cgroups_source *source;         /* borrowed (owned by the core), NULL without */
    struct cgroups_containers *containers; /* the raw plugin's container names, NULL: off */
    /* for consumer events: set by post_pipeline_start while the source may poll */
    _Atomic(struct alumet_pipeline *) pipeline;
};

#define cgroups_log(cg, level, ...) alumet_log_at((cg)->log, (level), __VA_ARGS__)

/* ---- cgroups.c: the part shared with slurm, oar and k8s ---- */

/* Count the CPUs of a list such as "0-3,5-6\n" (→ 6); 0 when malformed. */
unsigned cgroups_cpu_count(const char *s);

/* Allocate the state and read the common options of [plugins.<section>]
 * (section static): poll_interval and disable_sources (both required),
 * and the hidden rescan_interval, proc_root, sys_root. */
int cgroups_common_init(struct alumet_config *cfg, const char *section, struct cgroups **ret,
                        struct alumet_error *err);
/* -EINVAL with upstream's message when key, required, is missing. */
int cgroups_require(struct cgroups *cg, struct alumet_config *cfg, const char *key,
                    struct alumet_error *err);
/* The metrics, then (unless disable_sources) the roots and the source
 * source_name. */
int cgroups_common_start(struct cgroups *cg, struct alumet_start_ctx *ctx, const char *source_name,
                         struct alumet_error *err);
int cgroups_common_post_pipeline_start(void *state, struct alumet_post_start_ctx *ctx,
                                       struct alumet_error *err);
int cgroups_common_stop(void *state, struct alumet_error *err);
void cgroups_common_free(void *state);

/* ---- cgroups-source.c ---- */

/* Allocate the source (nothing is read before its first poll). 0 or -ENOMEM;
 * the caller frees it with the ops' free until it is registered. */
int cgroups_source_new(struct cgroups *cg, struct cgroups_source **ret);
extern const struct alumet_source_ops cgroups_source_ops;

/* Number of cgroups the source measures now. */
size_t cgroups_source_count(const struct cgroups_source *src);

/* ---- cgroups-annotate.c ---- */

/* The annotation transform (annotate_foreign_measurements = true); its data
 * is the plugin's struct cgroups, whose family.annotate is set. */
extern const struct alumet_transform_ops cgroups_annotate_ops;

/* ---- cgroups-containers.c: the raw plugin's container names ---- */

struct container_id;

/* Read engine_socket and engine_timeout of [plugins.cgroups]; when on, set
 * cg->containers. */
int cgroups_containers_init(struct cgroups *cg, struct alumet_config *cfg,
                            struct alumet_error *err);
/* Choose the socket (auto: the first default that exists) and log it. */
int cgroups_containers_start(struct cgroups *cg, struct alumet_error *err);
void cgroups_containers_free(struct cgroups *cg);
/* The attributes of container cid (its id, and what the engine says):
 * 1, 2 when the engine did not answer (cgroups_containers_refresh later),
 * 0 when off (no attribute), or -ENOMEM. */
int cgroups_containers_setup(struct cgroups *cg, const struct container_id *cid,
                             struct cgroups_attrs *attrs);
/* The attributes of container cid that a failed request could not give:
 * 1 (added, or the engine does not know it), 0 (the engine is still not
 * answering: ask again later), -ENOMEM. */
int cgroups_containers_refresh(struct cgroups *cg, const struct container_id *cid,
                               struct cgroups_attrs *attrs);
/* The cgroup of container id was removed: forget the engine's answer. */
void cgroups_containers_removed(struct cgroups *cg, const char *id);

#endif
