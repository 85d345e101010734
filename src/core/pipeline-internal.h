/* SPDX-License-Identifier: MIT */
/* Internals of the pipeline shared by pipeline.c and control.c. Private. */
#ifndef ALUMET_CORE_PIPELINE_INTERNAL_H
#define ALUMET_CORE_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "delivery.h"
#include "output-queue.h"
#include "pipeline.h"

enum elem_kind { ELEM_SOURCE, ELEM_TRANSFORM, ELEM_OUTPUT };

enum source_state { SRC_RUN, SRC_PAUSE, SRC_STOP, SRC_DONE };

/* A managed source runs on a thread of its own, so that a slow or blocked
 * source never delays another one or the final measurement. Control
 * requests (pause, interval, trigger, flush, stop) are set by other threads
 * under p->lock and applied by the source's own thread between two polls:
 * no source callback ever runs on two threads at once. */
struct source {
    char *plugin, *name; /* "plugin", "name" */
    const struct alumet_source_ops *ops;
    void *data;
    struct alumet_pipeline *p;
    pthread_t thread;
    bool started;        /* thread created */
    pthread_cond_t wake; /* a request arrived (CLOCK_MONOTONIC) */
    /* owned by the source thread (read by others under p->lock) */
    alumet_time_ns period;
    uint64_t flush_rounds, round;
    alumet_time_ns flush_interval; /* as configured (0: every poll), kept across new periods */
    bool manual_only;
    enum source_state state;
    alumet_time_ns deadline; /* monotonic */
    struct alumet_buffer *buf;
    size_t last_len;  /* size hint for the next buffer */
    bool no_throttle; /* a hand-over of this poll waited in vain for the outputs */
    unsigned retries; /* consecutive non-fatal failures */
    uint64_t polls;
    bool baseline_first; /* alumet_source_opts.baseline_first */
    bool baselines; /* the next poll only takes baselines: the first, or the first after a reset */
    bool realtime;  /* the thread asked for SCHED_FIFO (its period is 3 ms or less) */
    /* requests, written by any thread under p->lock */
    bool req_pause, req_resume, req_stop, req_flush;
    alumet_time_ns req_interval; /* 0: none */
    uint64_t triggers_requested, triggers_done;
};

struct alumet_autonomous {
    char *plugin, *name;
    const struct alumet_autonomous_ops *ops;
    void *data;
    struct alumet_pipeline *p;
    int stop_fd;
    atomic_bool stop;
    pthread_t thread;
    bool started;
};

struct transform {
    char *plugin, *name;
    const struct alumet_transform_ops *ops;
    void *data;
    atomic_bool enabled;
    atomic_bool failed; /* written by the transform thread, read by status listings */
};

struct output {
    char *plugin, *name;
    const struct alumet_output_ops *ops;
    void *data;
    struct bqueue queue;
    pthread_t thread;
    bool started;
    uint64_t failures; /* failed writes (output thread only) */
    bool failing;      /* the last write failed */
    struct alumet_pipeline *p;
    char *full_name; /* "plugin/name", for logs */
    bool internal;   /* the agent's own (exec summary): not listed, not counted */
    struct delivery delivery;
};

struct subscriber {
    enum alumet_event_kind kind;
    alumet_event_fn fn;
    void *data;
};

#define VEC(T)                                                                                     \
    struct {                                                                                       \
        T *items;                                                                                  \
        size_t len, cap;                                                                           \
    }

struct alumet_pipeline {
    struct pipeline_settings settings;
    struct alumet_registry *registry;

    pthread_mutex_t lock;
    pthread_cond_t polled; /* a triggered poll completed */
    VEC(struct source *) sources;
    VEC(struct alumet_autonomous *) autonomous;
    VEC(struct transform *) transforms;
    VEC(struct output *) outputs;
    VEC(struct subscriber) subscribers;

    struct bqueue input;
    struct alumet__buffer_pool *pool; /* recycled source buffers */
    pthread_t transformer;
    bool started, transformer_started;
    /* no transform: the sources push straight to the outputs' queues (set
     * at the start; see alumet__pipeline_send) */
    bool direct;
    bool sources_exit; /* under lock: source threads finish (pending triggers first) */
    /* monotonic; INT64_MAX until the stop begins, then the time after which
     * outputs drop (and count) what they could not write yet */
    _Atomic alumet_time_ns shutdown_deadline;

    pthread_mutex_t shutdown_lock;
    pthread_cond_t shutdown_cond;
    bool shutdown_requested;

    alumet_final_hook_fn final_hook;
    void *final_data;

    atomic_int errors;
    atomic_bool warned_input_full;
    atomic_bool warned_realtime;      /* SCHED_FIFO was refused (logged once for all sources) */
    atomic_uint_fast64_t lost_points; /* sources to transforms: the pipeline was closed */
};

/* pipeline.c: a source's buffer (the caller's reference) goes on to the
 * transform thread, or, without transforms, straight to every output.
 * 0, or -EPIPE once the pipeline is closed (buf unref'd). */
int alumet__pipeline_send(struct alumet_pipeline *p, struct alumet_buffer *buf);

/* pipeline-sources.c */
int alumet__sources_start(struct alumet_pipeline *p, struct alumet_error *err);
/* Ask every source thread to finish (pending triggers are honoured, then
 * the buffers are flushed) and join them. */
void alumet__sources_stop(struct alumet_pipeline *p);
void alumet__source_free(struct source *s);
/* Wake a source's thread after a request was set (p->lock held). */
void alumet__source_wake(struct source *s);
void alumet__pipeline_record_error(struct alumet_pipeline *p);

#endif
