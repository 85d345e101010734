/* SPDX-License-Identifier: MIT */
/* Force-included (cc -include) when bench/run-outputs.sh compiles a second
 * copy of bench/bench-source.c for the influxdb scenario: every point gets a
 * timestamp of its own (strictly increasing, 1 ns apart within a poll)
 * instead of the poll's `now`.
 *
 * Why: InfluxDB keeps one point per series and timestamp. bench-source puts
 * all the points of a poll on two series (bench_counter and bench_power,
 * same tags) at the same instant, so the server would merge each poll's
 * 10000 points into 2, and `SELECT count(*)` could not check that every
 * point arrived. The other scenarios use the unmodified plugin.
 *
 * The header includes the public API first, then renames the two push
 * functions in the code that follows, so bench-source.c itself is compiled
 * unchanged. */
#ifndef BENCH_OUTPUTS_DISTINCT_TIMESTAMPS_H
#define BENCH_OUTPUTS_DISTINCT_TIMESTAMPS_H

#include "alumet/alumet.h"

/* Only the scheduler thread polls the (single) bench-source source. */
static alumet_time_ns bench_distinct_last;

static inline alumet_time_ns bench_distinct_ts(alumet_time_ns now)
{
    bench_distinct_last = now > bench_distinct_last ? now : bench_distinct_last + 1;
    return bench_distinct_last;
}

static inline struct alumet_point *bench_distinct_push_u64(struct alumet_buffer *buf,
                                                           alumet_time_ns ts, alumet_metric_id m,
                                                           const struct alumet_resource *r,
                                                           const struct alumet_consumer *c,
                                                           uint64_t value)
{
    return alumet_buffer_push_u64(buf, bench_distinct_ts(ts), m, r, c, value);
}

static inline struct alumet_point *bench_distinct_push_f64(struct alumet_buffer *buf,
                                                           alumet_time_ns ts, alumet_metric_id m,
                                                           const struct alumet_resource *r,
                                                           const struct alumet_consumer *c,
                                                           double value)
{
    return alumet_buffer_push_f64(buf, bench_distinct_ts(ts), m, r, c, value);
}

#define alumet_buffer_push_u64 bench_distinct_push_u64
#define alumet_buffer_push_f64 bench_distinct_push_f64

#endif
