/* SPDX-License-Identifier: MIT */
/* The measurement pipeline: a thread per managed source (polled on its own
 * deadline) and per autonomous source, one transform thread, one thread and one bounded
 * queue per output. Private to libalumet. */
#ifndef ALUMET_CORE_PIPELINE_H
#define ALUMET_CORE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/plugin.h"

struct pipeline_settings {
    size_t source_queue_size; /* buffers between sources and transforms */
    size_t output_queue_size; /* default per-output queue, in buffers */
    enum alumet_queue_policy output_policy;
    alumet_time_ns max_update_interval; /* upper bound on control latency */
    alumet_time_ns shutdown_timeout;    /* outputs drop (and count) what waits longer; 0 = 30 s */
    /* --priority-worker-threads 0: the sources polled every 3 ms or faster
     * keep the normal scheduling (no SCHED_FIFO, default timer slack) */
    bool no_realtime;
};

struct alumet_pipeline *alumet__pipeline_new(const struct pipeline_settings *s);
/* Frees every element (calls their free ops) and the pipeline. NULL-safe.
 * The pipeline must have been stopped (or never started). */
void alumet__pipeline_free(struct alumet_pipeline *p);
/* Frees the elements only (their free ops run, in the calling thread): the
 * pipeline itself stays valid, empty, for the threads of plugins that hold
 * it until their stop (control requests then match nothing). NULL-safe. The
 * agent calls it, then the plugins' stop, then alumet__pipeline_free. */
void alumet__pipeline_free_elements(struct alumet_pipeline *p);

/* Element registration (before start). `plugin` is borrowed and must outlive p.
 * On success p owns data. */
int alumet__pipeline_add_source(struct alumet_pipeline *p, const char *plugin, const char *name,
                                const struct alumet_source_ops *ops, void *data,
                                const struct alumet_source_opts *opts, struct alumet_error *err);
int alumet__pipeline_add_autonomous(struct alumet_pipeline *p, const char *plugin, const char *name,
                                    const struct alumet_autonomous_ops *ops, void *data,
                                    struct alumet_error *err);
int alumet__pipeline_add_transform(struct alumet_pipeline *p, const char *plugin, const char *name,
                                   const struct alumet_transform_ops *ops, void *data,
                                   struct alumet_error *err);
int alumet__pipeline_add_output(struct alumet_pipeline *p, const char *plugin, const char *name,
                                const struct alumet_output_ops *ops, void *data,
                                const struct alumet_output_opts *opts, struct alumet_error *err);
/* An output of the agent itself (the exec summary): like any output, but
 * not counted in the startup summary nor in the health counters. */
int alumet__pipeline_add_internal_output(struct alumet_pipeline *p, const char *name,
                                         const struct alumet_output_ops *ops, void *data,
                                         const struct alumet_output_opts *opts,
                                         struct alumet_error *err);
int alumet__pipeline_subscribe(struct alumet_pipeline *p, enum alumet_event_kind kind,
                               alumet_event_fn fn, void *data, struct alumet_error *err);

struct alumet_registry *alumet__pipeline_registry(struct alumet_pipeline *p);

/* Start every thread: outputs, transforms, then sources (so that nothing
 * measured early is lost). */
int alumet__pipeline_start(struct alumet_pipeline *p, struct alumet_error *err);

/* Poll every managed source now and wait (up to timeout; 0: do not wait)
 * until they all polled. A trigger not done in time stays pending: the
 * source measures as soon as it can, at the latest before its final flush.
 * Returns the number of sources triggered. */
int alumet__pipeline_trigger_all_wait(struct alumet_pipeline *p, alumet_time_ns timeout);

/* Block until a shutdown is requested (signal, control, plugin). */
void alumet__pipeline_wait_shutdown_request(struct alumet_pipeline *p);
bool alumet__pipeline_shutdown_requested(struct alumet_pipeline *p);

/* At the stop, after the transforms drained and the internal outputs
 * finished: fn may fill buf (metrics registered in reg) with the agent's
 * last points, which then go to every other output. */
typedef void (*alumet_final_hook_fn)(void *data, struct alumet_buffer *buf,
                                     struct alumet_registry *reg);
void alumet__pipeline_set_final_hook(struct alumet_pipeline *p, alumet_final_hook_fn fn,
                                     void *data);

/* Stop the sources, flush every buffered point through the transforms to
 * every output, close the outputs and join every thread. Returns the number
 * of element errors seen during the whole run (0 = clean). */
int alumet__pipeline_stop(struct alumet_pipeline *p);

/* Counts for the startup summary. */
void alumet__pipeline_counts(struct alumet_pipeline *p, size_t *sources, size_t *transforms,
                             size_t *outputs);

/* Match "kind/plugin/name" patterns (exposed for tests). */
struct element_pattern {
    int kind; /* -1 any, else 0 source, 1 transform, 2 output */
    char plugin[128];
    char name[128];
};
int alumet__pattern_parse(const char *s, struct element_pattern *ret, struct alumet_error *err);
bool alumet__pattern_match_str(const char *pattern, const char *s);

#endif
