/* SPDX-License-Identifier: MIT */
/* Aligning a series onto a reference interval (README.md, "Alignment").
 *
 * A reference point at t covers the interval (prev, t] since the reference
 * point before it; a point of another series covers (its prev, its time].
 * The value at t must not depend on when the points arrive (on a loaded
 * machine the sources of one poll round flush in any order, milliseconds
 * apart), so every rule below reads only points that are stamped before t,
 * or waits for the point that decides:
 *   - a point stamped within a tenth of the reference interval before t was
 *     measured in the same poll round: its value (whether or not a later
 *     point has come yet);
 *   - else the next point, if it is stamped within a tenth of the reference
 *     interval after t (the same poll round, its source stamped a little
 *     later): its value;
 *   - between two points: the point at t, or the linear interpolation, as
 *     upstream does;
 *   - before the first point: the first point, if its interval overlaps the
 *     reference interval by half or more;
 *   - after the last point, once the series has ended (the agent stops): the
 *     last point, if its interval overlaps the reference interval by half or
 *     more; before that, wait for the next point.
 * A prorated series (option prorate) is summed by overlap instead, below. */
#include <stdint.h>

#include "energy-attribution.h"

/* When neither series tells the length of an interval, two points this
 * close come from the same poll round. */
#define EA_SAME_POLL (100 * ALUMET_NSEC_PER_MSEC)

/* Whether the interval (start, end] covers the reference interval (ref_prev,
 * t] (ref_prev INT64_MIN: as long as it) by half or more. */
static bool energy_attribution_overlaps_half(alumet_time_ns start, alumet_time_ns end,
                                             alumet_time_ns t, alumet_time_ns ref_prev)
{
    if (ref_prev == INT64_MIN)
        ref_prev = t - (end - start);
    alumet_time_ns from = start > ref_prev ? start : ref_prev;
    alumet_time_ns to = end < t ? end : t;
    return to > from && 2 * (to - from) >= t - ref_prev;
}

/* Where the interval of point p starts: a point without a point before it
 * covers only its instant. */
static alumet_time_ns energy_attribution_start(const struct energy_attribution_sample *p)
{
    return p->prev != INT64_MIN ? p->prev : p->t - 1;
}

/* A prorated series: each point is an amount over its own interval, which
 * counts for the part of that interval inside (lower, upper], the reference
 * interval whose ends are moved onto the series' point of the same poll
 * round (within a tenth of the reference interval), when it has one. The
 * lower end is where the previous reference point's share ended (s->bound),
 * so that every part of every interval counts once, whatever the order and
 * the delays of the sources. */
static enum energy_attribution_cover
energy_attribution_cover_prorated(const struct energy_attribution_series *s, alumet_time_ns t,
                                  alumet_time_ns ref_prev, bool ended,
                                  struct energy_attribution_at *at)
{
    size_t n = energy_attribution_series_count(s);
    alumet_time_ns tol = ref_prev != INT64_MIN ? (t - ref_prev) / 10 : EA_SAME_POLL;
    size_t k = energy_attribution_series_lower_bound(s, t - tol);
    const struct energy_attribution_sample *last = energy_attribution_series_at(s, n - 1);

    at->prorate = true;
    at->lower = s->has_bound ? s->bound : ref_prev != INT64_MIN ? ref_prev - tol : INT64_MIN;
    if (k < n && energy_attribution_series_at(s, k)->t <= t + tol)
        at->upper = energy_attribution_series_at(s, k)->t;
    else if (k < n)
        at->upper = t;
    else if (!ended)
        return EA_TOO_LATE; /* wait for the point that ends the interval */
    else if (last->t <= at->lower)
        return EA_TOO_LATE; /* the series ended before: nothing of it here */
    else
        at->upper = t;
    if (at->upper < at->lower)
        at->upper = at->lower; /* the previous share already went past t */
    return energy_attribution_start(energy_attribution_series_at(s, 0)) >= at->upper ? EA_TOO_EARLY
                                                                                     : EA_COVERED;
}

double energy_attribution_prorated_sum(const struct energy_attribution_series *s,
                                       const struct energy_attribution_at *at, size_t *ret_k)
{
    size_t n = energy_attribution_series_count(s);
    size_t k = at->lower == INT64_MIN ? 0 : energy_attribution_series_lower_bound(s, at->lower + 1);
    double sum = 0.0;

    *ret_k = k < n ? k : n - 1;
    for (; k < n; k++) {
        const struct energy_attribution_sample *p = energy_attribution_series_at(s, k);
        alumet_time_ns start = energy_attribution_start(p);
        if (start >= at->upper)
            break;
        alumet_time_ns from = start > at->lower ? start : at->lower;
        alumet_time_ns to = p->t < at->upper ? p->t : at->upper;
        if (to > from)
            sum +=
                energy_attribution_sample_value(p) * ((double)(to - from) / (double)(p->t - start));
        *ret_k = k;
    }
    return sum;
}

enum energy_attribution_cover energy_attribution_cover(const struct energy_attribution_series *s,
                                                       alumet_time_ns t, alumet_time_ns ref_prev,
                                                       bool ended, bool prorate,
                                                       struct energy_attribution_at *at)
{
    size_t n = energy_attribution_series_count(s);
    if (n == 0)
        return EA_TOO_LATE;
    if (prorate)
        return energy_attribution_cover_prorated(s, t, ref_prev, ended, at);
    size_t k = energy_attribution_series_lower_bound(s, t);
    const struct energy_attribution_sample *next =
        k < n ? energy_attribution_series_at(s, k) : NULL;
    const struct energy_attribution_sample *before =
        k > 0 ? energy_attribution_series_at(s, k - 1) : NULL;
    at->interpolate = at->prorate = false;
    if (next && next->t == t) {
        at->k = k;
        return EA_COVERED;
    }
    if (before) {
        /* the same poll round: within a tenth of the reference interval (of
         * the point's own when the reference's is unknown) */
        alumet_time_ns tol = ref_prev != INT64_MIN       ? (t - ref_prev) / 10
                             : before->prev != INT64_MIN ? (before->t - before->prev) / 10
                                                         : EA_SAME_POLL;
        if (t - before->t <= tol) {
            at->k = k - 1;
            return EA_COVERED;
        }
        if (next) {
            /* interpolating between a whole interval's point and the next
             * one's over a short reference interval (exec's last, 50 ms)
             * counted part of the whole interval again (+10 % for the child
             * of energy-attribution-joules-e2e under load) */
            at->k = k;
            at->interpolate = next->t - t > tol;
            return EA_COVERED;
        }
        /* after the last point: its interval, or as long as the reference's */
        if (!ended)
            return EA_TOO_LATE;
        alumet_time_ns start = before->prev != INT64_MIN ? before->prev
                               : ref_prev != INT64_MIN   ? before->t - (t - ref_prev)
                                                         : before->t - EA_SAME_POLL;
        at->k = k - 1;
        return energy_attribution_overlaps_half(start, before->t, t, ref_prev) ? EA_COVERED
                                                                               : EA_TOO_LATE;
    }
    /* before the first point: its interval is known when a point before it
     * was seen, else taken as long as the reference's, else as long as the
     * time to its second point (wait for it), else (the series ended there)
     * as a poll round */
    alumet_time_ns start;
    if (next->prev != INT64_MIN)
        start = next->prev;
    else if (ref_prev != INT64_MIN)
        start = next->t - (t - ref_prev);
    else if (n >= 2)
        start = next->t - (energy_attribution_series_at(s, 1)->t - next->t);
    else if (!ended)
        return EA_TOO_LATE;
    else
        start = next->t - EA_SAME_POLL;
    at->k = 0;
    return energy_attribution_overlaps_half(start, next->t, t, ref_prev) ? EA_COVERED
                                                                         : EA_TOO_EARLY;
}
