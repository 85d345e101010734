/* SPDX-License-Identifier: MIT */
/* Delivery policy shared by every output that can fail transiently: keep
 * the buffers that could not be written, retry them oldest first with
 * exponential backoff and jitter, bound what waits, count what is lost. */
#ifndef ALUMET_CORE_DELIVERY_H
#define ALUMET_CORE_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "alumet/output.h"

typedef int (*delivery_write_fn)(void *ctx, const struct alumet_buffer *buf,
                                 struct alumet_error *err);

struct delivery {
    struct alumet_delivery_opts opts;
    const char *name; /* "plugin/output", borrowed */
    delivery_write_fn write;
    void *ctx;
    struct alumet_buffer **pending; /* ring of waiting buffers (refs) */
    size_t cap, head, len;
    alumet_time_ns backoff, next_retry; /* monotonic */
    alumet_time_ns last_summary;
    uint64_t failures_since_summary;
    bool failing;
    uint64_t rng;
    struct alumet_output_stats stats;
    alumet_time_ns batch_period; /* 0: write every buffer as it comes */
    struct alumet_buffer *batch; /* the points merged since the last write */
    alumet_time_ns batch_due;    /* monotonic: when the batch is written */
};

int alumet__delivery_init(struct delivery *d, const struct alumet_delivery_opts *opts,
                          const char *name, delivery_write_fn write, void *ctx);
void alumet__delivery_done(struct delivery *d);

/* Deliver buf (takes the reference); with a batch period, merge its points
 * into the batch, written when due. Returns 0, or the negative errno of a
 * fatal write error (err filled). */
int alumet__delivery_submit(struct delivery *d, struct alumet_buffer *buf,
                            struct alumet_error *err);

/* Retry what waits, and write the batch, if their time has come. Returns 0
 * or a fatal error. */
int alumet__delivery_service(struct delivery *d, struct alumet_error *err);

/* Monotonic time of the next retry or batch write, or INT64_MAX when
 * nothing waits. */
alumet_time_ns alumet__delivery_deadline(const struct delivery *d);

/* At shutdown: write the batch, retry what waits until the drain timeout or
 * the deadline (monotonic), whichever comes first, then drop and count the
 * rest. */
void alumet__delivery_drain(struct delivery *d, alumet_time_ns deadline);

/* Drop buf without writing it (the shutdown deadline passed): counted. */
void alumet__delivery_drop(struct delivery *d, struct alumet_buffer *buf);

/* A consistent-enough snapshot of the counters, from any thread. */
void alumet__delivery_stats(const struct delivery *d, struct alumet_output_stats *ret);

/* Pure backoff arithmetic (tested): the next backoff after `cur`, doubled
 * and capped, and the delay actually waited, with up to 25 % jitter from rnd. */
alumet_time_ns alumet__delivery_next_backoff(alumet_time_ns cur, alumet_time_ns initial,
                                             alumet_time_ns max);
alumet_time_ns alumet__delivery_jitter(alumet_time_ns backoff, uint64_t rnd);

#endif
