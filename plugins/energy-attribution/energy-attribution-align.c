/* SPDX-License-Identifier: MIT */
/* Aligning a series onto a reference interval (README.md, "How it works").
 *
 * A reference point at t covers the interval (prev, t] since the reference
 * point before it; a point of another series covers (its prev, its time].
 * Inside a series (t between its first and last points) the value at t is
 * interpolated, as upstream does. At its edges the point whose interval
 * covers t gives its value: the consumer's first point covers the reference
 * point stamped a few microseconds before it (an interval that it overlaps
 * by half or more), so the first interval of a program counts, and its last
 * point covers a reference point stamped a little after it in the same poll
 * round (a tenth of the interval), so the last one counts too. */
#include <stdint.h>

#include "energy-attribution.h"

/* When neither series tells the length of an interval, two points this
 * close come from the same poll round. */
#define EA_SAME_POLL (100 * ALUMET_NSEC_PER_MSEC)

enum energy_attribution_cover energy_attribution_cover(const struct energy_attribution_series *s,
                                                       alumet_time_ns t, alumet_time_ns ref_prev)
{
    size_t n = energy_attribution_series_count(s);
    if (n == 0)
        return EA_TOO_LATE;
    const struct energy_attribution_sample *first = energy_attribution_series_at(s, 0);
    const struct energy_attribution_sample *last = energy_attribution_series_at(s, n - 1);
    if (t >= first->t && t <= last->t)
        return EA_COVERED;
    if (t < first->t) {
        /* the interval of the first point: known when a point before it was
         * seen, else as long as the next one, else as long as the reference's */
        alumet_time_ns start;
        if (first->prev != INT64_MIN)
            start = first->prev;
        else if (n >= 2)
            start = first->t - (energy_attribution_series_at(s, 1)->t - first->t);
        else if (ref_prev != INT64_MIN)
            start = first->t - (t - ref_prev);
        else
            start = first->t - EA_SAME_POLL;
        /* the first point covers the reference interval if it overlaps at
         * least half of it (an unknown one as long as the point's) */
        if (ref_prev == INT64_MIN)
            ref_prev = t - (first->t - start);
        alumet_time_ns from = start > ref_prev ? start : ref_prev;
        return t > from && 2 * (t - from) >= t - ref_prev ? EA_COVERED : EA_TOO_EARLY;
    }
    /* after the last point: the same poll round (within a tenth of the
     * interval) is covered by it; otherwise wait for the next point */
    alumet_time_ns tol = ref_prev != INT64_MIN     ? (t - ref_prev) / 10
                         : last->prev != INT64_MIN ? (last->t - last->prev) / 10
                                                   : EA_SAME_POLL;
    return t - last->t <= tol ? EA_COVERED : EA_TOO_LATE;
}
