/* SPDX-License-Identifier: MIT */
/* bench-source: a managed source that produces a fixed number of synthetic
 * points as fast as the pipeline takes them, for the throughput benchmark
 * (bench/run-pipeline.sh). Each poll appends points_per_poll points that
 * alternate between a U64 and an F64 metric, on resource cpu_package, with
 * up to two string attributes. After total_points it returns
 * ALUMET_POLL_DONE and, with shutdown_when_done, asks the agent to shut
 * down: the agent then flushes every point to the outputs and exits, so one
 * `alumet-agent run` is one complete, timed run. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "alumet/alumet.h"

#define BENCH_SOURCE_DEFAULT_CONFIG                                                                \
    "[plugins.bench-source]\n"                                                                     \
    "# points appended by each poll\n"                                                             \
    "points_per_poll = 10000\n"                                                                    \
    "# the source stops after this many points\n"                                                  \
    "total_points = 20000000\n"                                                                    \
    "# a poll that takes longer than this is followed by the next one at once\n"                   \
    "poll_interval = \"1ms\"\n"                                                                    \
    "# number of string attributes per point (0, 1 or 2)\n"                                        \
    "attributes = 2\n"                                                                             \
    "# ask the agent to shut down once every point was produced\n"                                 \
    "shutdown_when_done = true\n"

struct bench_source {
    int64_t points_per_poll;
    int64_t total_points;
    int64_t attributes;
    alumet_time_ns poll_interval;
    bool shutdown_when_done;
    struct alumet_log_topic *log;

    /* written by the main thread (post_pipeline_start), read by the scheduler */
    _Atomic(struct alumet_pipeline *) pipeline;
    atomic_bool done;
};

/* What the source element owns; the plugin state outlives it. */
struct bench_source_poller {
    struct bench_source *bench;
    alumet_metric_id metric_u64, metric_f64;
    uint64_t produced;
    alumet_time_ns first_poll; /* monotonic */
};

static void bench_source_finish(struct bench_source *bench)
{
    atomic_store(&bench->done, true);
    struct alumet_pipeline *p = atomic_load(&bench->pipeline);
    if (p && bench->shutdown_when_done)
        alumet_pipeline_request_shutdown(p);
}

static int bench_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                             struct alumet_error *err)
{
    struct bench_source_poller *s = data;
    struct bench_source *bench = s->bench;
    const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_consumer machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

    if (s->produced == 0)
        s->first_poll = alumet_time_monotonic();
    uint64_t left = (uint64_t)bench->total_points - s->produced;
    uint64_t n = left < (uint64_t)bench->points_per_poll ? left : (uint64_t)bench->points_per_poll;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t seq = s->produced + i;
        struct alumet_point *p;
        if (seq & 1)
            p = alumet_buffer_push_f64(buf, now, s->metric_f64, &pkg, &machine, (double)seq * 0.5);
        else
            p = alumet_buffer_push_u64(buf, now, s->metric_u64, &pkg, &machine, seq);
        if (!p)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        if (bench->attributes > 0 &&
            alumet_point_add_attr_str(buf, p, "bench_domain", "package") < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        if (bench->attributes > 1 &&
            alumet_point_add_attr_str(buf, p, "bench_origin", "synthetic") < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    s->produced += n;
    if (s->produced < (uint64_t)bench->total_points)
        return ALUMET_POLL_OK;

    alumet_time_ns elapsed = alumet_time_monotonic() - s->first_poll;
    alumet_log_at(bench->log, ALUMET_LOG_INFO,
                  "produced %" PRIu64 " points in %.3f s (%.0f points/s at the source)",
                  s->produced, (double)elapsed / 1e9,
                  elapsed > 0 ? (double)s->produced * 1e9 / (double)elapsed : 0.0);
    bench_source_finish(bench);
    return ALUMET_POLL_DONE;
}

static const struct alumet_source_ops bench_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = bench_source_poll,
    .free = free,
};

static void bench_source_free(void *state)
{
    free(state);
}

static int bench_source_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct bench_source *bench = calloc(1, sizeof(*bench));
    if (!bench)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    atomic_init(&bench->pipeline, NULL);
    atomic_init(&bench->done, false);

    int r;
    if ((r = alumet_config_get_int(cfg, "points_per_poll", 10000, &bench->points_per_poll, err)) <
            0 ||
        (r = alumet_config_get_int(cfg, "total_points", 20000000, &bench->total_points, err)) < 0 ||
        (r = alumet_config_get_int(cfg, "attributes", 2, &bench->attributes, err)) < 0 ||
        (r = alumet_config_get_duration(cfg, "poll_interval", ALUMET_NSEC_PER_MSEC,
                                        &bench->poll_interval, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "shutdown_when_done", true, &bench->shutdown_when_done,
                                    err)) < 0)
        goto err_free;
    if (bench->points_per_poll <= 0 || bench->points_per_poll > UINT32_MAX) {
        r = alumet_config_error(cfg, "points_per_poll", err, -EINVAL,
                                "expected an integer between 1 and %" PRIu32 ", got %" PRId64,
                                UINT32_MAX, bench->points_per_poll);
        goto err_free;
    }
    if (bench->total_points <= 0) {
        r = alumet_config_error(cfg, "total_points", err, -EINVAL,
                                "expected a positive integer, got %" PRId64, bench->total_points);
        goto err_free;
    }
    if (bench->attributes < 0 || bench->attributes > 2) {
        r = alumet_config_error(cfg, "attributes", err, -EINVAL, "expected 0, 1 or 2, got %" PRId64,
                                bench->attributes);
        goto err_free;
    }
    if (bench->poll_interval <= 0) {
        r = alumet_config_error(cfg, "poll_interval", err, -EINVAL, "expected a positive duration");
        goto err_free;
    }
    *ret_state = bench;
    return 0;

err_free:
    bench_source_free(bench);
    return r;
}

static int bench_source_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct bench_source *bench = state;
    bench->log = alumet_start_log_topic(ctx);
    atomic_store(&bench->done, false);
    atomic_store(&bench->pipeline, NULL);

    struct bench_source_poller *s = calloc(1, sizeof(*s));
    if (!s)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    s->bench = bench;
    int r =
        alumet_create_metric(ctx, "bench_counter", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
                             "synthetic counter of the throughput benchmark", &s->metric_u64, err);
    if (r >= 0)
        r = alumet_create_metric(ctx, "bench_power", ALUMET_VALUE_F64, ALUMET_UNIT(WATT),
                                 "synthetic power of the throughput benchmark", &s->metric_f64,
                                 err);
    if (r < 0) {
        free(s);
        return r;
    }
    const struct alumet_source_opts opts = {.poll_interval = bench->poll_interval};
    r = alumet_add_source(ctx, "points", &bench_source_ops, s, &opts, err);
    if (r < 0)
        free(s); /* on failure the caller still owns it */
    return r;
}

static int bench_source_post_start(void *state, struct alumet_post_start_ctx *ctx,
                                   struct alumet_error *err)
{
    struct bench_source *bench = state;
    struct alumet_pipeline *p = alumet_post_start_pipeline(ctx);
    atomic_store(&bench->pipeline, p);
    /* the source may have finished before the pipeline pointer was known */
    if (atomic_load(&bench->done) && bench->shutdown_when_done)
        alumet_pipeline_request_shutdown(p);
    return 0;
}

static int bench_source_stop(void *state, struct alumet_error *err)
{
    struct bench_source *bench = state;
    atomic_store(&bench->pipeline, NULL);
    return 0;
}

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "bench-source",
    .version = "0.1.0",
    .default_config = BENCH_SOURCE_DEFAULT_CONFIG,
    .init = bench_source_init,
    .start = bench_source_start,
    .post_pipeline_start = bench_source_post_start,
    .stop = bench_source_stop,
    .free = bench_source_free,
};
