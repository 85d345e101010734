/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_TRANSFORM_H
#define ALUMET_TRANSFORM_H

#include "error.h"
#include "export.h"
#include "measurement.h"
#include "metric.h"

#define ALUMET_TRANSFORM_OPS_V1 1u

/* apply() returns 0, ALUMET_TRANSFORM_SKIP for an unexpected input (logged,
 * the buffer goes on to the next transform), or a negative errno for a fatal
 * error: that transform is disabled (logged), the others keep running.
 * Transforms run in one thread, in config order, on whole buffers.
 * finish: optional, called once at shutdown with a buffer that the transform
 *         may fill with what it still holds; it is sent to the outputs. */
#define ALUMET_TRANSFORM_SKIP 1

struct alumet_transform_ops {
    unsigned version;
    int (*apply)(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                 struct alumet_error *err);
    int (*finish)(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                  struct alumet_error *err);
    void (*free)(void *data);
};

#endif
