/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_PLUGIN_H
#define ALUMET_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "export.h"
#include "log.h"
#include "metric.h"
#include "output.h"
#include "resource.h"
#include "source.h"
#include "transform.h"
#include "units.h"

/* Bumped whenever a struct shared with plugins changes. The loader refuses a
 * dynamic plugin built for another version and names both. */
#define ALUMET_PLUGIN_ABI 2u

/* Symbol name under which a dynamic plugin (.so) exports its struct. */
#define ALUMET_PLUGIN_ENTRY_SYMBOL "alumet_plugin_entry"

struct alumet_start_ctx;
struct alumet_pre_start_ctx;
struct alumet_post_start_ctx;

/* A plugin: one const struct. Hooks left out are NULL.
 * init: read the config table (keys not read become "unknown key" errors)
 *       and allocate the plugin state into *ret_state.
 * start: register metrics and pipeline elements.
 * pre_pipeline_start / post_pipeline_start: optional hooks.
 * stop: release what start acquired; free: release the state (NULL-safe).
 *
 * Any negative result is a failure, whether err was filled or not.
 *
 * Order, as a transaction. Start: init of every enabled plugin (in config
 * order), then start of each, then pre_pipeline_start of each, then the
 * pipeline threads (outputs, transform thread, sources), then
 * post_pipeline_start. If any step fails, what was done is undone in
 * reverse: the threads created are joined, stop is called for every plugin
 * whose start succeeded, free for every plugin whose init succeeded.
 * Teardown: the sources end (each takes its pending measurement and
 * flushes), the transforms drain, the outputs write what remains (until
 * shutdown_timeout) and close; then the elements' free ops run (sources,
 * transforms, outputs); then stop of every started plugin, then free of
 * every initialised plugin. An element's ops never run after its plugin's
 * stop.
 *
 * Ops tables carry a version (ALUMET_SOURCE_OPS_V1, ...): registration fails
 * for a version this core does not know, naming it. */
struct alumet_plugin {
    uint32_t abi_version; /* ALUMET_PLUGIN_ABI, always the first field */
    const char *name;
    const char *version;        /* x.y.z */
    const char *default_config; /* "[plugins.NAME]\n..." commented TOML, or NULL */
    int (*init)(struct alumet_config *cfg, void **ret_state, struct alumet_error *err);
    int (*start)(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err);
    int (*pre_pipeline_start)(void *state, struct alumet_pre_start_ctx *ctx,
                              struct alumet_error *err);
    int (*post_pipeline_start)(void *state, struct alumet_post_start_ctx *ctx,
                               struct alumet_error *err);
    int (*stop)(void *state, struct alumet_error *err);
    void (*free)(void *state);
};

/* ---- start phase ---- */

/* Register a metric (name and description are copied). Registering the same
 * name with the same unit and type returns the existing id; with another unit
 * or type it fails: "this metric has already been registered: NAME". */
ALUMET_API int alumet_create_metric(struct alumet_start_ctx *ctx, const char *name,
                                    enum alumet_value_type type, struct alumet_unit unit,
                                    const char *description, alumet_metric_id *ret_id,
                                    struct alumet_error *err);

/* Register a managed source named NAME (unique in the plugin). On success
 * the core owns data and calls ops->free once; on failure the caller keeps it. */
ALUMET_API int alumet_add_source(struct alumet_start_ctx *ctx, const char *name,
                                 const struct alumet_source_ops *ops, void *data,
                                 const struct alumet_source_opts *opts, struct alumet_error *err);
ALUMET_API int alumet_add_autonomous_source(struct alumet_start_ctx *ctx, const char *name,
                                            const struct alumet_autonomous_ops *ops, void *data,
                                            struct alumet_error *err);
ALUMET_API int alumet_add_transform(struct alumet_start_ctx *ctx, const char *name,
                                    const struct alumet_transform_ops *ops, void *data,
                                    struct alumet_error *err);
/* opts may be NULL (defaults). */
ALUMET_API int alumet_add_output(struct alumet_start_ctx *ctx, const char *name,
                                 const struct alumet_output_ops *ops, void *data,
                                 const struct alumet_output_opts *opts, struct alumet_error *err);

/* The plugin's log topic ("csv", "rapl"). */
ALUMET_API struct alumet_log_topic *alumet_start_log_topic(struct alumet_start_ctx *ctx);

/* Consumer measurement events: exec and watch publish START when the
 * measured process starts (or is found) and END after it ended (after the
 * last measurement). Callbacks run synchronously in the publisher's thread,
 * in subscription order; they should only hand work off. Two sources may
 * publish at once (the cgroup detectors at their first polls): a callback
 * may run concurrently with itself and must lock what it changes. */
enum alumet_event_kind {
    ALUMET_EVENT_START_CONSUMER_MEASUREMENT,
    ALUMET_EVENT_END_CONSUMER_MEASUREMENT,
    _ALUMET_EVENT_MAX,
};
typedef void (*alumet_event_fn)(void *data, enum alumet_event_kind kind,
                                const struct alumet_consumer *consumers, size_t n);
ALUMET_API int alumet_subscribe_event(struct alumet_start_ctx *ctx, enum alumet_event_kind kind,
                                      alumet_event_fn fn, void *data, struct alumet_error *err);

/* ---- pre-pipeline-start phase ---- */

ALUMET_API const struct alumet_registry *
alumet_pre_start_registry(struct alumet_pre_start_ctx *ctx);

/* ---- post-pipeline-start phase and control ---- */

struct alumet_pipeline;

/* The running pipeline (borrowed). It stays valid until the plugin's stop
 * has returned, so a thread of the plugin may use it until then; once the
 * elements were freed at the end of the run, control requests and listings
 * match nothing. */
ALUMET_API struct alumet_pipeline *alumet_post_start_pipeline(struct alumet_post_start_ctx *ctx);

/* Control requests on elements chosen by a pattern "KIND/PLUGIN/NAME" where
 * KIND is src|source|sources, tra|transform|transforms, out|output|outputs
 * or *; PLUGIN and NAME are `*`, `abc*`, `*abc` or exact. A pattern with one
 * or two parts ("rapl/NAME", "rapl") means any kind and, for one part, any name.
 * Returns the number of elements matched, or -EINVAL with err on a bad pattern. */
enum alumet_control_op {
    ALUMET_CONTROL_PAUSE, /* sources: stop polling (transforms: disable) */
    ALUMET_CONTROL_RESUME,
    ALUMET_CONTROL_STOP,         /* sources: flush and stop */
    ALUMET_CONTROL_TRIGGER_NOW,  /* managed sources: poll now */
    ALUMET_CONTROL_FLUSH_NOW,    /* managed sources: flush the buffer now */
    ALUMET_CONTROL_SET_INTERVAL, /* managed sources: new poll interval (arg, ns); the flush
                                  * interval is kept in time */
    ALUMET_CONTROL_ENABLE,       /* transforms */
    ALUMET_CONTROL_DISABLE,      /* transforms */
};
ALUMET_API int alumet_pipeline_control(struct alumet_pipeline *p, const char *pattern,
                                       enum alumet_control_op op, alumet_time_ns arg,
                                       struct alumet_error *err);

/* The elements of the pipeline, for a status listing: fn is called once per
 * element, sources (managed, then autonomous), transforms, outputs, in
 * registration order, with its kind, plugin and name (borrowed, valid during
 * the call), its state and, for a periodic managed source, its poll
 * interval (0 for the others). States: sources "running", "paused" or
 * "stopped"; transforms "enabled", "disabled" or "failed"; outputs
 * "running". A control request shows once the element's thread applied it
 * (between two polls). fn runs with the pipeline locked: it must not call
 * back into the pipeline. Returns the number of elements listed (0 once the
 * elements were freed at the end of the run). Thread-safe. */
enum alumet_element_kind {
    ALUMET_ELEMENT_SOURCE,
    ALUMET_ELEMENT_TRANSFORM,
    ALUMET_ELEMENT_OUTPUT,
};
typedef void (*alumet_element_fn)(void *data, enum alumet_element_kind kind, const char *plugin,
                                  const char *name, const char *state,
                                  alumet_time_ns poll_interval);
ALUMET_API size_t alumet_pipeline_list_elements(struct alumet_pipeline *p, alumet_element_fn fn,
                                                void *data);

/* Publish a consumer measurement event (exec, watch, detectors). */
ALUMET_API void alumet_pipeline_publish(struct alumet_pipeline *p, enum alumet_event_kind kind,
                                        const struct alumet_consumer *consumers, size_t n);

/* Register metrics while running (late registration). Same rules as
 * alumet_create_metric. Thread-safe. */
ALUMET_API int alumet_pipeline_create_metric(struct alumet_pipeline *p, const char *name,
                                             enum alumet_value_type type, struct alumet_unit unit,
                                             const char *description, alumet_metric_id *ret_id,
                                             struct alumet_error *err);

ALUMET_API const struct alumet_registry *alumet_pipeline_registry(struct alumet_pipeline *p);

/* Delivery counters of the outputs, for health metrics: the number of
 * outputs, and the name ("plugin/output", borrowed, valid while the pipeline
 * lives) and counters of output i (dropped_points includes the buffers its
 * full queue dropped). 0, or -ERANGE when i is out of range. Thread-safe. */
ALUMET_API size_t alumet_pipeline_output_count(struct alumet_pipeline *p);
ALUMET_API int alumet_pipeline_output_stats(struct alumet_pipeline *p, size_t i,
                                            const char **ret_name, struct alumet_output_stats *ret);

/* Ask the agent to shut down (flushes everything). Async-signal-unsafe, thread-safe. */
ALUMET_API void alumet_pipeline_request_shutdown(struct alumet_pipeline *p);

#endif
