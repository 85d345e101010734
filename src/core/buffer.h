/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_CORE_BUFFER_H
#define ALUMET_CORE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/measurement.h"

/* New empty buffer with room for cap points; refcount 1. NULL on -ENOMEM. */
struct alumet_buffer *alumet__buffer_new(size_t cap);
/* Free the buffer regardless of its refcount. NULL-safe. */
void alumet__buffer_free(struct alumet_buffer *buf);
/* Empty the buffer for reuse (keeps its memory). */
void alumet__buffer_clear(struct alumet_buffer *buf);
/* Shared read-only buffers across output threads. unref frees at zero. */
struct alumet_buffer *alumet__buffer_ref(struct alumet_buffer *buf);
void alumet__buffer_unref(struct alumet_buffer *buf);
/* Move every point of from to the end of to (from is left empty). 0 or -ENOMEM. */
int alumet__buffer_append(struct alumet_buffer *to, struct alumet_buffer *from);

/* What alumet_buffer_hand_over does on buf: fn(ctx, buf) (NULL: nothing).
 * Set by the pipeline on the buffer a managed source polls into. */
void alumet__buffer_set_hand_over(struct alumet_buffer *buf,
                                  int (*fn)(void *ctx, struct alumet_buffer *buf), void *ctx);
/* Exchange the contents (points, attributes, arena) of a and b; their
 * reference counts, pools and hand-over hooks stay. */
void alumet__buffer_swap(struct alumet_buffer *a, struct alumet_buffer *b);

/* A pool of reusable buffers (thread-safe). A buffer got from a pool goes
 * back to it, cleared, when its last reference is dropped (or is freed when
 * the pool is full). The pool must outlive its buffers. */
struct alumet__buffer_pool;
struct alumet__buffer_pool *alumet__buffer_pool_new(size_t cap);
void alumet__buffer_pool_free(struct alumet__buffer_pool *pool);
/* A buffer from the pool, or a new one with room for cap points. NULL on -ENOMEM. */
struct alumet_buffer *alumet__buffer_pool_get(struct alumet__buffer_pool *pool, size_t cap);
/* Count buf (got from pool) as handed over until it comes back to the pool. */
void alumet__buffer_pool_mark_handed(struct alumet__buffer_pool *pool, struct alumet_buffer *buf);
/* Wait until fewer than max buffers of the pool are handed over, at most
 * timeout_ns; whether they are. */
bool alumet__buffer_pool_wait_handed(struct alumet__buffer_pool *pool, size_t max,
                                     int64_t timeout_ns);
/* How many buffers the pool holds now. */
size_t alumet__buffer_pool_len(struct alumet__buffer_pool *pool);

#endif
