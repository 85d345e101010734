/* SPDX-License-Identifier: MIT */
/* A bounded FIFO of buffers with an explicit policy when full. Private. */
#ifndef ALUMET_CORE_OUTPUT_QUEUE_H
#define ALUMET_CORE_OUTPUT_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/output.h"

struct bqueue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct alumet_buffer **items;
    size_t cap, head, len;
    bool closed;
    enum alumet_queue_policy policy;
    uint64_t dropped_buffers, dropped_points; /* DROP_OLDEST only */
    uint64_t blocked;                         /* pushes that had to wait (BLOCK) */
};

int alumet__bqueue_init(struct bqueue *q, size_t cap, enum alumet_queue_policy policy);
/* Room for cap buffers (more than now), keeping what is queued; 0 or -ENOMEM. */
int alumet__bqueue_grow(struct bqueue *q, size_t cap);
/* Frees the queue and unrefs every buffer still in it. */
void alumet__bqueue_done(struct bqueue *q);
/* Takes the caller's reference on buf. BLOCK waits for room; DROP_OLDEST
 * unrefs the oldest buffer and counts it. 0, or -EPIPE once closed (buf unref'd). */
int alumet__bqueue_push(struct bqueue *q, struct alumet_buffer *buf);
/* Oldest buffer (caller owns the reference), or NULL once closed and empty. */
struct alumet_buffer *alumet__bqueue_pop(struct bqueue *q);
/* Like pop, but gives up at deadline (CLOCK_MONOTONIC ns): returns NULL
 * with *timed_out set. */
struct alumet_buffer *alumet__bqueue_pop_until(struct bqueue *q, int64_t deadline, bool *timed_out);
/* No more pushes; pops drain what is left. */
void alumet__bqueue_close(struct bqueue *q);

#endif
