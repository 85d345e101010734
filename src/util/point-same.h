/* SPDX-License-Identifier: MIT */
/* Whether two parts of points write the same text, judged without writing
 * it: for the writers (csv, jsonl) that keep the text of a row's resource,
 * consumer and attributes for the next rows of the same buffer. Strings are
 * compared by address: the keys and strings of one buffer are static or
 * owned by the buffer, so an address cannot change its text while the buffer
 * is written (a writer forgets what it kept at each new buffer, whose
 * recycled memory may put other text at the same addresses). */
#ifndef ALUMET_UTIL_POINT_SAME_H
#define ALUMET_UTIL_POINT_SAME_H

#include <stdbool.h>
#include <string.h>

#include "alumet/measurement.h"
#include "alumet/resource.h"

/* f64 by bits (-0 and 0 differ, a NaN equals itself); a list never (rare,
 * not worth comparing). */
static inline bool point_same_attr(const struct alumet_attr *a, const struct alumet_attr *b)
{
    if (a->key != b->key || a->type != b->type)
        return false;
    switch (a->type) {
    case ALUMET_ATTR_STR:
        return a->v.str == b->v.str;
    case ALUMET_ATTR_U64:
        return a->v.u64 == b->v.u64;
    case ALUMET_ATTR_F64:
        return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
    case ALUMET_ATTR_BOOL:
        return a->v.b == b->v.b;
    case ALUMET_ATTR_LIST_U64:
        break;
    }
    return false;
}

static inline bool point_same_resource(const struct alumet_resource *a,
                                       const struct alumet_resource *b)
{
    return a->kind == b->kind && a->num == b->num && a->str == b->str &&
           a->custom_kind == b->custom_kind;
}

static inline bool point_same_consumer(const struct alumet_consumer *a,
                                       const struct alumet_consumer *b)
{
    return a->kind == b->kind && a->num == b->num && a->str == b->str &&
           a->custom_kind == b->custom_kind;
}

#endif
