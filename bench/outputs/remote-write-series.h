/* SPDX-License-Identifier: MIT */
/* Force-included (cc -include) when bench/run-remote-write.sh compiles a
 * copy of bench/bench-source.c for the prometheus-remote-write scenarios:
 * the points of a poll go to BENCH_RW_SERIES series per metric (resource
 * cpu_package 0 .. BENCH_RW_SERIES - 1, in turn), and every poll gets a
 * timestamp at least 1 ms after the previous one.
 *
 * Why: bench-source puts all the points of a poll on two series at one
 * instant, and polls every 10 us. Remote write carries one sample per series
 * and millisecond (the plugin merges the rest, as Prometheus would keep one),
 * so the server would hold two samples per millisecond and the count could
 * not check that every point arrived. With 10000 points per poll and 5000
 * series per metric, each series gets one sample per poll: a node with 5000
 * processes, each measured on two metrics.
 *
 * The header includes the public API first, then renames the two push
 * functions in the code that follows, so bench-source.c itself is compiled
 * unchanged. Only the scheduler thread polls the single bench-source. */
#ifndef BENCH_OUTPUTS_REMOTE_WRITE_SERIES_H
#define BENCH_OUTPUTS_REMOTE_WRITE_SERIES_H

#include "alumet/alumet.h"

#ifndef BENCH_RW_SERIES
#define BENCH_RW_SERIES 5000
#endif

static alumet_time_ns bench_rw_last_now, bench_rw_ts;
static uint64_t bench_rw_calls;

static inline alumet_time_ns bench_rw_stamp(alumet_time_ns now)
{
    if (now != bench_rw_last_now) { /* a new poll */
        bench_rw_last_now = now;
        bench_rw_ts = now > bench_rw_ts + 1000000 ? now : bench_rw_ts + 1000000;
    }
    return bench_rw_ts;
}

static inline struct alumet_resource bench_rw_resource(const struct alumet_resource *r)
{
    struct alumet_resource res = *r;
    res.num = (uint32_t)((bench_rw_calls++ / 2) % BENCH_RW_SERIES);
    return res;
}

static inline struct alumet_point *
bench_rw_push_u64(struct alumet_buffer *buf, alumet_time_ns ts, alumet_metric_id m,
                  const struct alumet_resource *r, const struct alumet_consumer *c, uint64_t value)
{
    struct alumet_resource res = bench_rw_resource(r);
    return alumet_buffer_push_u64(buf, bench_rw_stamp(ts), m, &res, c, value);
}

static inline struct alumet_point *bench_rw_push_f64(struct alumet_buffer *buf, alumet_time_ns ts,
                                                     alumet_metric_id m,
                                                     const struct alumet_resource *r,
                                                     const struct alumet_consumer *c, double value)
{
    struct alumet_resource res = bench_rw_resource(r);
    return alumet_buffer_push_f64(buf, bench_rw_stamp(ts), m, &res, c, value);
}

#define alumet_buffer_push_u64 bench_rw_push_u64
#define alumet_buffer_push_f64 bench_rw_push_f64

#endif
