/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_OUTPUT_H
#define ALUMET_OUTPUT_H

#include "error.h"
#include "export.h"
#include "measurement.h"
#include "metric.h"

#define ALUMET_OUTPUT_OPS_V1 1u

/* write() returns 0, ALUMET_WRITE_RETRY (non-fatal, logged; the buffer is
 * dropped and counted), or a negative errno (fatal: the output stops, the
 * agent exits non-zero). Each output has its own thread: write is never
 * called concurrently with itself. The buffer is read-only and borrowed.
 * close: optional, called once after the last write (flush files, ...).
 * free: optional, called exactly once after the output thread was joined. */
#define ALUMET_WRITE_RETRY 1

struct alumet_output_ops {
    unsigned version;
    int (*write)(void *data, const struct alumet_buffer *buf, const struct alumet_registry *reg,
                 struct alumet_error *err);
    int (*close)(void *data, struct alumet_error *err);
    void (*free)(void *data);
};

/* What an output's queue does when it is full. */
enum alumet_queue_policy {
    ALUMET_QUEUE_BLOCK,        /* lossless: the transform thread waits */
    ALUMET_QUEUE_DROP_OLDEST,  /* drop the oldest queued buffer, count it */
};

struct alumet_output_opts {
    size_t queue_size;                /* in buffers; 0 = the agent's default */
    enum alumet_queue_policy policy;  /* default: the agent's default (block) */
    bool policy_set;                  /* false: use the agent's configured policy */
};

#endif
