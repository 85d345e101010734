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

struct source {
    char *plugin, *name; /* "plugin", "name" */
    const struct alumet_source_ops *ops;
    void *data;
    alumet_time_ns period;
    uint64_t flush_rounds, round;
    bool manual_only;
    enum source_state state;
    bool polling;            /* being polled, outside the lock */
    bool manual_pending;     /* trigger-now requested */
    bool flush_pending;      /* flush-now requested */
    alumet_time_ns deadline; /* monotonic */
    struct alumet_buffer *buf;
    size_t last_len;  /* size hint for the next buffer */
    unsigned retries; /* consecutive non-fatal failures */
    uint64_t polls;
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
    bool failed;
};

struct output {
    char *plugin, *name;
    const struct alumet_output_ops *ops;
    void *data;
    struct bqueue queue;
    pthread_t thread;
    bool started;
    atomic_bool failed;
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
    pthread_cond_t wake;   /* scheduler: state changed */
    pthread_cond_t polled; /* a trigger-now poll completed */
    VEC(struct source *) sources;
    VEC(struct alumet_autonomous *) autonomous;
    VEC(struct transform *) transforms;
    VEC(struct output *) outputs;
    VEC(struct subscriber) subscribers;

    struct bqueue input;
    struct alumet__buffer_pool *pool; /* recycled source buffers */
    pthread_t scheduler, transformer;
    bool started, stopping;
    bool scheduler_exit;

    pthread_mutex_t shutdown_lock;
    pthread_cond_t shutdown_cond;
    bool shutdown_requested;

    atomic_int errors;
    bool warned_input_full;
};

#endif
