/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_MEASUREMENT_H
#define ALUMET_MEASUREMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "metric.h"
#include "resource.h"
#include "time.h"

enum alumet_attr_type {
    ALUMET_ATTR_F64,
    ALUMET_ATTR_U64,
    ALUMET_ATTR_BOOL,
    ALUMET_ATTR_STR,
    ALUMET_ATTR_LIST_U64,
};

/* One attribute of a point. Strings and lists are borrowed: static, or
 * allocated in the buffer that holds the point (alumet_buffer_strdup). */
struct alumet_attr {
    const char *key;
    enum alumet_attr_type type;
    union {
        double f64;
        uint64_t u64;
        bool b;
        const char *str;
        struct {
            const uint64_t *items;
            size_t len;
        } list;
    } v;
};

union alumet_value {
    uint64_t u64;
    double f64;
};

/* A measurement point. Its attributes live in the buffer that holds it:
 * use alumet_point_attrs() to read them. */
struct alumet_point {
    alumet_time_ns timestamp; /* wall clock, ns since the UNIX epoch */
    alumet_metric_id metric;
    enum alumet_value_type value_type;
    union alumet_value value;
    struct alumet_resource resource;
    struct alumet_consumer consumer;
    uint32_t attr_first; /* private: index of the first attribute in the buffer */
    uint32_t attr_count; /* number of attributes */
};

/* A buffer of points with an arena for their strings and attributes.
 * Allocated once and reused; freed as one block. Not thread-safe: one owner
 * at a time (a source while polling, the transform thread, then read-only
 * for every output). */
struct alumet_buffer;

ALUMET_API size_t alumet_buffer_len(const struct alumet_buffer *buf);

/* Borrowed point i (i < len), NULL when out of range. */
ALUMET_API struct alumet_point *alumet_buffer_at(struct alumet_buffer *buf, size_t i);
ALUMET_API const struct alumet_point *alumet_buffer_get(const struct alumet_buffer *buf, size_t i);

/* Append a point; the returned pointer stays valid until the next push.
 * Returns NULL only on -ENOMEM. */
ALUMET_API struct alumet_point *alumet_buffer_push_u64(struct alumet_buffer *buf, alumet_time_ns ts,
                                                       alumet_metric_id m,
                                                       const struct alumet_resource *r,
                                                       const struct alumet_consumer *c,
                                                       uint64_t value);
ALUMET_API struct alumet_point *alumet_buffer_push_f64(struct alumet_buffer *buf, alumet_time_ns ts,
                                                       alumet_metric_id m,
                                                       const struct alumet_resource *r,
                                                       const struct alumet_consumer *c,
                                                       double value);

/* Append a copy of point p (which may come from another buffer: its strings
 * and attributes are copied into buf). Returns the new point or NULL (-ENOMEM). */
ALUMET_API struct alumet_point *alumet_buffer_push_copy(struct alumet_buffer *buf,
                                                        const struct alumet_buffer *from,
                                                        const struct alumet_point *p);

/* Add an attribute to point p of buf (appends; a repeated key is kept twice,
 * as upstream does, use alumet_point_set_attr to replace). Key and string
 * values are borrowed (static or from alumet_buffer_strdup). 0 or -ENOMEM. */
ALUMET_API int alumet_point_add_attr(struct alumet_buffer *buf, struct alumet_point *p,
                                     const struct alumet_attr *attr);
ALUMET_API int alumet_point_add_attr_str(struct alumet_buffer *buf, struct alumet_point *p,
                                         const char *key, const char *value);
ALUMET_API int alumet_point_add_attr_u64(struct alumet_buffer *buf, struct alumet_point *p,
                                         const char *key, uint64_t value);
ALUMET_API int alumet_point_add_attr_f64(struct alumet_buffer *buf, struct alumet_point *p,
                                         const char *key, double value);
ALUMET_API int alumet_point_add_attr_bool(struct alumet_buffer *buf, struct alumet_point *p,
                                          const char *key, bool value);

/* Set an attribute: replaces the value of an existing key, else appends. */
ALUMET_API int alumet_point_set_attr(struct alumet_buffer *buf, struct alumet_point *p,
                                     const struct alumet_attr *attr);

/* Borrowed attributes of p (count in p->attr_count). */
ALUMET_API const struct alumet_attr *alumet_point_attrs(const struct alumet_buffer *buf,
                                                        const struct alumet_point *p);

/* Borrowed value of the last attribute named key, NULL when absent. */
ALUMET_API const struct alumet_attr *alumet_point_find_attr(const struct alumet_buffer *buf,
                                                            const struct alumet_point *p,
                                                            const char *key);

/* Copy a string (len bytes, or strlen when len is (size_t)-1) into the
 * buffer's arena; the copy lives as long as the buffer content. NULL on -ENOMEM. */
ALUMET_API const char *alumet_buffer_strdup(struct alumet_buffer *buf, const char *s, size_t len);

/* Allocate size bytes (8-aligned) in the buffer's arena. NULL on -ENOMEM. */
ALUMET_API void *alumet_buffer_alloc(struct alumet_buffer *buf, size_t size);

/* Hand the points of buf over to the pipeline now, before the poll ends, and
 * leave buf empty (its memory is swapped with a pooled buffer's), so that a
 * source that emits many points per poll keeps its buffer of bounded size:
 * call it every thousand points or so (the procfs process groups do it
 * every 1024). The points keep their order: those handed over reach the
 * transforms and outputs before the ones pushed after the call, in a buffer
 * of their own. So the points of one poll may reach an output in several
 * buffers. Pointers to points or attributes of buf got before the call are
 * invalid after it (strings of its arena too). On a buffer that is not a
 * managed source's (a test's, an autonomous source's, a transform's) it
 * does nothing and returns 0: the points stay in buf. May block while the
 * queue to the transforms is full, and up to 100 ms once per poll while 2
 * handed-over buffers have not reached the outputs yet (so that a source
 * faster than its outputs does not pile chunks up). 0, -ENOMEM (buf kept
 * as it was) or
 * -EPIPE (the pipeline is shutting down: the points are counted as lost). */
ALUMET_API int alumet_buffer_hand_over(struct alumet_buffer *buf);

/* Keep only the points for which keep() returns true (order kept). */
ALUMET_API void alumet_buffer_retain(struct alumet_buffer *buf,
                                     bool (*keep)(void *data, const struct alumet_buffer *buf,
                                                  const struct alumet_point *p),
                                     void *data);

/* Text of an attribute value as upstream's Display prints it (numbers in
 * shortest round-trip form, true/false, strings verbatim, lists as "[1, 2]").
 * Returns the length that the full text needs (like snprintf). */
ALUMET_API size_t alumet_attr_text(const struct alumet_attr *a, char *buf, size_t size);

#endif
