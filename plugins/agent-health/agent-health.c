/* SPDX-License-Identifier: MIT */
/* agent-health: the agent measures itself like anything else. Per output:
 * points written, dropped and waiting, writes retried; for the process: CPU
 * time and resident memory. So users can alert on a dead database or an
 * agent that grows. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alumet/alumet.h"
#include "util/format.h"

#define AGENT_HEALTH_DEFAULT_CONFIG                                                                \
    "[plugins.agent-health]\n"                                                                     \
    "# How often the agent measures itself\n"                                                      \
    "poll_interval = \"10s\"\n"                                                                    \
    "flush_interval = \"10s\"\n"

enum {
    HEALTH_WRITTEN,
    HEALTH_DROPPED,
    HEALTH_PENDING,
    HEALTH_RETRIES,
    HEALTH_CPU,
    HEALTH_RSS,
    HEALTH_N
};

struct agent_health {
    alumet_time_ns poll_interval, flush_interval;
    alumet_metric_id metrics[HEALTH_N];
    struct alumet_pipeline *pipeline; /* set in post_pipeline_start */
    int statm_fd;
    long page_size;
};

static int agent_health_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct agent_health *h = calloc(1, sizeof(*h));
    if (!h)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    h->statm_fd = -1;
    int r = alumet_config_get_duration(cfg, "poll_interval", 10 * ALUMET_NSEC_PER_SEC,
                                       &h->poll_interval, err);
    if (r == 0)
        r = alumet_config_get_duration(cfg, "flush_interval", h->poll_interval, &h->flush_interval,
                                       err);
    if (r == 0 && h->poll_interval <= 0)
        r = alumet_config_error(cfg, "poll_interval", err, -EINVAL, "expected a positive duration");
    if (r < 0) {
        free(h);
        return r;
    }
    h->page_size = sysconf(_SC_PAGESIZE);
    *ret_state = h;
    return 0;
}

static void agent_health_free(void *state)
{
    struct agent_health *h = state;
    if (!h)
        return;
    if (h->statm_fd >= 0)
        close(h->statm_fd);
    free(h);
}

/* /proc/self/statm: "size resident shared text lib data dt" in pages */
static uint64_t agent_health_rss(struct agent_health *h)
{
    char buf[128];
    ssize_t n = pread(h->statm_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strchr(buf, ' ');
    uint64_t pages = 0;
    for (p = p ? p + 1 : buf; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (uint64_t)(*p - '0');
    return pages * (uint64_t)h->page_size;
}

static int agent_health_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                             struct alumet_error *err)
{
    struct agent_health *h = data;
    const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer self = {ALUMET_CONSUMER_PROCESS, (uint32_t)getpid(), NULL, NULL};
    struct alumet_pipeline *p = __atomic_load_n(&h->pipeline, __ATOMIC_ACQUIRE);
    size_t n = p ? alumet_pipeline_output_count(p) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name;
        struct alumet_output_stats st;
        if (alumet_pipeline_output_stats(p, i, &name, &st) < 0)
            continue;
        const uint64_t values[] = {st.written_points, st.dropped_points, st.pending_points,
                                   st.retried_writes};
        for (int k = HEALTH_WRITTEN; k <= HEALTH_RETRIES; k++) {
            struct alumet_point *pt =
                alumet_buffer_push_u64(buf, now, h->metrics[k], &res, &self, values[k]);
            if (!pt || alumet_point_add_attr_str(buf, pt, "output", name) < 0)
                return alumet_error_set(err, -ENOMEM, "out of memory");
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    uint64_t cpu_ms = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
    if (!alumet_buffer_push_u64(buf, now, h->metrics[HEALTH_CPU], &res, &self, cpu_ms) ||
        !alumet_buffer_push_u64(buf, now, h->metrics[HEALTH_RSS], &res, &self, agent_health_rss(h)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops agent_health_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = agent_health_poll,
};

static int agent_health_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct agent_health *h = state;
    static const struct {
        const char *name, *desc;
        int unit_base, unit_prefix;
    } defs[HEALTH_N] = {
        [HEALTH_WRITTEN] = {"alumet_output_points_written",
                            "points an output wrote successfully since the agent started",
                            ALUMET_UNIT_UNITY, ALUMET_PREFIX_PLAIN},
        [HEALTH_DROPPED] = {"alumet_output_points_dropped",
                            "points an output lost (full queue, retry limit, refused data)",
                            ALUMET_UNIT_UNITY, ALUMET_PREFIX_PLAIN},
        [HEALTH_PENDING] = {"alumet_output_points_pending",
                            "points waiting for a retry of an output right now", ALUMET_UNIT_UNITY,
                            ALUMET_PREFIX_PLAIN},
        [HEALTH_RETRIES] = {"alumet_output_write_retries",
                            "writes of an output that failed transiently", ALUMET_UNIT_UNITY,
                            ALUMET_PREFIX_PLAIN},
        [HEALTH_CPU] = {"alumet_cpu_time", "CPU time (user + system) used by the agent",
                        ALUMET_UNIT_SECOND, ALUMET_PREFIX_MILLI},
        [HEALTH_RSS] = {"alumet_memory_rss", "resident memory of the agent", ALUMET_UNIT_BYTE,
                        ALUMET_PREFIX_PLAIN},
    };
    for (int i = 0; i < HEALTH_N; i++) {
        struct alumet_unit u = {(enum alumet_base_unit)defs[i].unit_base,
                                (enum alumet_unit_prefix)defs[i].unit_prefix, NULL, NULL};
        int r = alumet_create_metric(ctx, defs[i].name, ALUMET_VALUE_U64, u, defs[i].desc,
                                     &h->metrics[i], err);
        if (r < 0)
            return r;
    }
    h->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    struct alumet_source_opts opts = {.poll_interval = h->poll_interval,
                                      .flush_interval = h->flush_interval};
    return alumet_add_source(ctx, "self", &agent_health_source_ops, h, &opts, err);
}

static int agent_health_post_start(void *state, struct alumet_post_start_ctx *ctx,
                                   struct alumet_error *err)
{
    (void)err;
    struct agent_health *h = state;
    __atomic_store_n(&h->pipeline, alumet_post_start_pipeline(ctx), __ATOMIC_RELEASE);
    return 0;
}

static int agent_health_stop(void *state, struct alumet_error *err)
{
    (void)err;
    struct agent_health *h = state;
    __atomic_store_n(&h->pipeline, NULL, __ATOMIC_RELEASE);
    if (h->statm_fd >= 0)
        close(h->statm_fd);
    h->statm_fd = -1;
    return 0;
}

const struct alumet_plugin alumet_plugin_agent_health = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "agent-health",
    .version = "0.1.0",
    .default_config = AGENT_HEALTH_DEFAULT_CONFIG,
    .init = agent_health_init,
    .start = agent_health_start,
    .post_pipeline_start = agent_health_post_start,
    .stop = agent_health_stop,
    .free = agent_health_free,
};
