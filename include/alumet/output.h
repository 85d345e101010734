/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_OUTPUT_H
#define ALUMET_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "measurement.h"
#include "metric.h"
#include "time.h"

#define ALUMET_OUTPUT_OPS_V1 1u

/* write() returns 0, ALUMET_WRITE_RETRY (a transient failure: see the
 * delivery options below), ALUMET_WRITE_DROP, or a negative errno (fatal: the output stops, the
 * agent exits non-zero). Each output has its own thread: write is never
 * called concurrently with itself. The buffer is read-only and borrowed.
 * close: optional, called once after the last write (flush files, ...).
 * free: optional, called exactly once after the output thread was joined. */
#define ALUMET_WRITE_RETRY 1
/* The data was refused for good (the server rejected it: sending it again
 * cannot help): the buffer is dropped and counted, the output goes on. The
 * plugin logs why (rate-limited). */
#define ALUMET_WRITE_DROP 2

struct alumet_output_ops {
    unsigned version;
    int (*write)(void *data, const struct alumet_buffer *buf, const struct alumet_registry *reg,
                 struct alumet_error *err);
    int (*close)(void *data, struct alumet_error *err);
    void (*free)(void *data);
};

/* What an output's queue does when it is full. */
enum alumet_queue_policy {
    ALUMET_QUEUE_BLOCK,       /* lossless: the transform thread waits */
    ALUMET_QUEUE_DROP_OLDEST, /* drop the oldest queued buffer, count it */
};

/* Delivery of an output that can fail transiently (a network server).
 * When retry is false, a buffer whose write returned ALUMET_WRITE_RETRY is
 * dropped and counted (upstream's behaviour). When retry is true, the core
 * keeps it and retries, oldest first, with exponential backoff and jitter;
 * buffers that arrive meanwhile wait behind it, in order. At most max_points
 * points wait: past that the oldest buffer is dropped and counted. The first
 * failure is logged, then a summary at most once a minute, and one line when
 * delivery recovers. At shutdown, waiting buffers get until drain_timeout. */
struct alumet_delivery_opts {
    bool retry;
    size_t max_points;              /* 0 = 1000000 */
    alumet_time_ns initial_backoff; /* 0 = 500 ms */
    alumet_time_ns max_backoff;     /* 0 = 30 s */
    alumet_time_ns drain_timeout;   /* 0 = 5 s */
};

struct alumet_output_opts {
    uint32_t size; /* sizeof(struct alumet_output_opts) when built, or 0: see alumet_source_opts */
    size_t queue_size;               /* in buffers; 0 = the agent's default */
    enum alumet_queue_policy policy; /* default: the agent's default (block) */
    bool policy_set;                 /* false: use the agent's configured policy */
    struct alumet_delivery_opts delivery;
    /* 0: one write per buffer. Else the buffers are merged and written once
     * per period (sooner when delivery.max_points are waiting), and what is
     * merged is written at shutdown; a failed write of the batch is retried
     * as above. Read only when size covers it. */
    alumet_time_ns batch_period;
};

/* Counters of one output, for health metrics and tests. */
struct alumet_output_stats {
    uint64_t written_points; /* points written successfully */
    uint64_t retried_writes; /* writes that returned ALUMET_WRITE_RETRY */
    uint64_t dropped_points; /* lost: queue policy, retry limit, or no retry */
    uint64_t pending_points; /* waiting for a retry, or in the batch, now */
};

#endif
