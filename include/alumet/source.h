/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_SOURCE_H
#define ALUMET_SOURCE_H

#include <stdbool.h>

#include "error.h"
#include "export.h"
#include "measurement.h"
#include "time.h"

#define ALUMET_SOURCE_OPS_V1 1u

/* poll() returns one of these, or a negative errno for a fatal error (the
 * source is removed, the error is logged and makes the agent exit non-zero). */
#define ALUMET_POLL_OK 0
#define ALUMET_POLL_RETRY 1 /* non-fatal: logged (rate-limited), polling goes on */
#define ALUMET_POLL_DONE 2  /* the source ended normally: flushed, then removed */

/* A managed source, polled by a thread of its own.
 * poll: append points for instant `now` (wall clock) to buf. Called from the
 *       source's thread, never concurrently with itself or with reset.
 * reset: optional, called when the source is paused (drop deltas' baselines).
 * free: optional, called exactly once after the source stopped. */
struct alumet_source_ops {
    unsigned version;
    int (*poll)(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                struct alumet_error *err);
    void (*reset)(void *data);
    void (*free)(void *data);
};

/* How a managed source is triggered. */
struct alumet_source_opts {
    /* sizeof(struct alumet_source_opts) when the plugin was built, or 0
     * (= the first version's size): fields added later are read only when
     * the plugin's struct has them */
    uint32_t size;
    alumet_time_ns poll_interval;  /* > 0; 0 with manual_only */
    alumet_time_ns flush_interval; /* 0 = flush after every poll */
    bool manual_only;              /* polled only on trigger-now requests */
    bool start_paused;
    /* The source measures differences (counters, CPU times): its first poll,
     * and its first after a reset, only take the baselines. A trigger that
     * such a poll served is served again at once by the next poll, so that a
     * trigger (exec's measurements before and after the child) always gives
     * values. Read when size covers it. */
    bool baseline_first;
};

/* An autonomous source runs its own loop in a thread of its own. It builds
 * buffers with alumet_autonomous_buffer() and hands them over with
 * alumet_autonomous_push(). It must return soon after stop_fd becomes readable
 * (poll it with POLLIN) or alumet_autonomous_should_stop() is true.
 * run returns 0 or a negative errno (logged, the agent then exits non-zero). */
struct alumet_autonomous;

struct alumet_autonomous_ops {
    unsigned version;
    int (*run)(void *data, struct alumet_autonomous *ctx, struct alumet_error *err);
    void (*free)(void *data);
};

/* A fresh, empty buffer owned by the caller until pushed. NULL on -ENOMEM. */
ALUMET_API struct alumet_buffer *alumet_autonomous_buffer(struct alumet_autonomous *ctx);
/* Hand buf to the pipeline (takes ownership). Blocks while the pipeline
 * queue is full. 0, or -EPIPE when the pipeline is shutting down (buf freed). */
ALUMET_API int alumet_autonomous_push(struct alumet_autonomous *ctx, struct alumet_buffer *buf);
ALUMET_API bool alumet_autonomous_should_stop(struct alumet_autonomous *ctx);
ALUMET_API int alumet_autonomous_stop_fd(struct alumet_autonomous *ctx);
ALUMET_API const struct alumet_registry *alumet_autonomous_registry(struct alumet_autonomous *ctx);

#endif
