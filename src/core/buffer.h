/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_CORE_BUFFER_H
#define ALUMET_CORE_BUFFER_H

#include <stddef.h>

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

#endif
