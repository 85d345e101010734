/* SPDX-License-Identifier: MIT */
/* process-to-cgroup-bridge: copies the points of chosen metrics measured for
 * a process (procfs, perf, nvml...) to the cgroup of that process, read from
 * /proc/<pid>/cgroup with the cgroup core (src/util/cgroup.h), as upstream
 * Alumet's plugin 0.1.0 (see README.md). Optionally the copies that share
 * metric, cgroup and millisecond are merged into one point (their mean) and
 * the process points are dropped. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "alumet/transform.h"
#include "process-to-cgroup-bridge.h"
#include "util/cgroup.h"

#define P2C_DEFAULT_CONFIG                                                                         \
    "[plugins.process-to-cgroup-bridge]\n"                                                         \
    "# Off by default (it copies every process point to its cgroup); set to true to use it\n"      \
    "enabled = false\n"                                                                            \
    "# Metrics of processes to copy to the cgroup of the process (consumer cgroup)\n"              \
    "processes_metrics = [\n"                                                                      \
    "    \"cpu_time_delta\",\n"                                                                    \
    "    \"memory_usage\",\n"                                                                      \
    "]\n"                                                                                          \
    "# One point per metric, cgroup and millisecond: the mean of the processes' points\n"          \
    "merge_similar_cgroups = true\n"                                                               \
    "# Also keep the points of the processes\n"                                                    \
    "keep_processed_measurements = true\n"

/* The cgroups of the pids met in one buffer. */
#define P2C_CACHE 64

struct p2c_cached {
    uint32_t pid;
    int r; /* length of path, or the negative errno of the lookup */
    char path[PATH_MAX];
};

static void p2c_transform_free(void *data)
{
    struct p2c_transform *t = data;
    if (!t)
        return;
    free(t->ids);
    free(t->drop);
    free(t->cache);
    free(t);
}

static void p2c_free(void *state)
{
    struct p2c *b = state;
    if (!b)
        return;
    for (size_t i = 0; i < b->n_names; i++)
        free(b->names[i]);
    free(b->names);
    fsroot_close(&b->proc);
    free(b->proc_root);
    free(b);
}

static int p2c_require(struct alumet_config *cfg, const char *key, struct alumet_error *err)
{
    if (alumet_config_has(cfg, key))
        return 0;
    return alumet_config_error(
        cfg, key, err, -EINVAL,
        "missing field '%s' (required when [plugins.process-to-cgroup-bridge] is present)", key);
}

static int p2c_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct p2c *b = calloc(1, sizeof(*b));
    const char **names = NULL, *proc_root;
    size_t n = 0;
    int r;

    if (!b)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    b->proc.fd = -1;
    if ((r = p2c_require(cfg, "processes_metrics", err)) < 0 ||
        (r = p2c_require(cfg, "merge_similar_cgroups", err)) < 0 ||
        (r = p2c_require(cfg, "keep_processed_measurements", err)) < 0 ||
        (r = alumet_config_get_string_array(cfg, "processes_metrics", &names, &n, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "merge_similar_cgroups", true, &b->merge, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "keep_processed_measurements", true, &b->keep, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "proc_root", "/", &proc_root, err)) < 0)
        goto err_free;
    if (n == 0) {
        r = alumet_config_error(cfg, "processes_metrics", err, -EINVAL,
                                "expected at least one metric name, such as \"cpu_time_delta\"");
        goto err_free;
    }
    b->names = calloc(n, sizeof(*b->names));
    b->proc_root = strdup(proc_root);
    if (!b->names || !b->proc_root)
        goto err_nomem;
    for (size_t i = 0; i < n; i++) {
        if (!(b->names[i] = strdup(names[i])))
            goto err_nomem;
        b->n_names++;
    }
    free(names);
    *ret_state = b;
    return 0;

err_nomem:
    r = alumet_error_set(err, -ENOMEM, "out of memory");
err_free:
    free(names);
    p2c_free(b);
    return r;
}

/* The cgroup of pid: from the cache, or read and cached. Returns the path
 * (borrowed from the cache) or NULL with *ret_error. */
static const char *p2c_cgroup_of(struct p2c_transform *t, uint32_t pid, int *ret_error)
{
    for (size_t i = 0; i < t->n_cache; i++)
        if (t->cache[i].pid == pid) {
            *ret_error = t->cache[i].r;
            return t->cache[i].r >= 0 ? t->cache[i].path : NULL;
        }
    struct p2c_cached *c = &t->cache[t->n_cache < P2C_CACHE ? t->n_cache++ : P2C_CACHE - 1];
    c->pid = pid;
    c->r = (int)cgroup_of_pid(&t->b->proc, (pid_t)pid, c->path, sizeof(c->path));
    *ret_error = c->r;
    return c->r >= 0 ? c->path : NULL;
}

static bool p2c_wanted(const struct p2c_transform *t, alumet_metric_id m)
{
    for (size_t i = 0; i < t->n_ids; i++)
        if (t->ids[i] == m)
            return true;
    return false;
}

static bool p2c_keep(void *data, const struct alumet_buffer *buf, const struct alumet_point *p)
{
    struct p2c_transform *t = data;
    (void)buf;
    (void)p;
    return !t->drop[t->retain_at++];
}

static double p2c_value(const struct alumet_point *p)
{
    return p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64;
}

/* Merge the cgroup points [from, len) that share metric, cgroup and
 * millisecond: the first of a group takes the mean, the others are dropped. */
static void p2c_merge(struct p2c_transform *t, struct alumet_buffer *buf, size_t from)
{
    size_t len = alumet_buffer_len(buf);
    for (size_t i = from; i < len; i++) {
        struct alumet_point *p = alumet_buffer_at(buf, i);
        if (t->drop[i])
            continue;
        double sum = p2c_value(p);
        size_t n = 1;
        for (size_t j = i + 1; j < len; j++) {
            const struct alumet_point *q = alumet_buffer_get(buf, j);
            if (!t->drop[j] && q->metric == p->metric &&
                q->timestamp / ALUMET_NSEC_PER_MSEC == p->timestamp / ALUMET_NSEC_PER_MSEC &&
                strcmp(q->consumer.str, p->consumer.str) == 0) {
                sum += p2c_value(q);
                n++;
                t->drop[j] = true;
            }
        }
        /* the mean keeps the type of the metric */
        if (p->value_type == ALUMET_VALUE_U64)
            p->value.u64 = (uint64_t)llround(sum / (double)n);
        else
            p->value.f64 = sum / (double)n;
    }
}

static int p2c_apply(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                     struct alumet_error *err)
{
    struct p2c_transform *t = data;
    size_t n = alumet_buffer_len(buf);
    (void)reg;

    /* one flag per point: the n points and at most n copies */
    if (2 * n > t->cap_drop) {
        bool *d = realloc(t->drop, 2 * n * sizeof(*d));
        if (!d)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        t->drop = d;
        t->cap_drop = 2 * n;
    }
    if (n)
        memset(t->drop, 0, 2 * n * sizeof(*t->drop));
    t->n_cache = 0;
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        if (p->consumer.kind != ALUMET_CONSUMER_PROCESS || !p2c_wanted(t, p->metric))
            continue;
        int r;
        const char *path = p2c_cgroup_of(t, p->consumer.num, &r);
        if (!path) {
            if (r == -ENOMEM)
                return alumet_error_set(err, r, "out of memory");
            alumet_log_at(t->b->log, ALUMET_LOG_WARN,
                          "cannot find the cgroup of process %u (%s), its point is kept as is",
                          p->consumer.num, strerror(-r));
            continue;
        }
        const struct alumet_point in = *p;
        struct alumet_point *c = alumet_buffer_push_copy(buf, buf, &in);
        const char *str = c ? alumet_buffer_strdup(buf, path, (size_t)-1) : NULL;
        if (!str)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        c->consumer = (struct alumet_consumer){ALUMET_CONSUMER_CGROUP, 0, str, NULL};
        t->drop[i] = !t->keep;
    }
    if (alumet_buffer_len(buf) == n)
        return 0;
    if (t->merge)
        p2c_merge(t, buf, n);
    if (!t->keep || t->merge) {
        t->retain_at = 0;
        alumet_buffer_retain(buf, p2c_keep, t);
    }
    return 0;
}

const struct alumet_transform_ops p2c_transform_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = p2c_apply,
    .free = p2c_transform_free,
};

static int p2c_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct p2c *b = state;
    b->log = alumet_start_log_topic(ctx);
    int r = fsroot_open(&b->proc, b->proc_root);
    if (r < 0)
        return alumet_error_set(err, r,
                                "cannot open the proc root '%s': %s; the hidden option "
                                "plugins.process-to-cgroup-bridge.proc_root must name the "
                                "directory that holds proc/ (default \"/\")",
                                b->proc_root, strerror(-r));
    struct p2c_transform *t = calloc(1, sizeof(*t));
    if (t) {
        t->ids = calloc(b->n_names, sizeof(*t->ids));
        t->cache = calloc(P2C_CACHE, sizeof(*t->cache));
    }
    if (!t || !t->ids || !t->cache) {
        p2c_transform_free(t);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    t->b = b;
    t->merge = b->merge;
    t->keep = b->keep;
    r = alumet_add_transform(ctx, "transform", &p2c_transform_ops, t, err);
    if (r < 0) {
        p2c_transform_free(t);
        return r;
    }
    b->running = t;
    return 0;
}

/* Every plugin has registered its metrics: a name that is not one stops the
 * startup, as upstream. */
static int p2c_pre_pipeline_start(void *state, struct alumet_pre_start_ctx *ctx,
                                  struct alumet_error *err)
{
    struct p2c *b = state;
    const struct alumet_registry *reg = alumet_pre_start_registry(ctx);
    for (size_t i = 0; i < b->n_names; i++) {
        const struct alumet_metric *m = alumet_registry_find(reg, b->names[i]);
        if (!m)
            return alumet_error_set(err, -ENOENT,
                                    "metric not found: '%s' "
                                    "(plugins.process-to-cgroup-bridge.processes_metrics); enable "
                                    "the plugin that measures it (procfs: cpu_time_delta, "
                                    "cpu_percent, memory_usage) or remove it from the list",
                                    b->names[i]);
        b->running->ids[i] = m->id;
    }
    b->running->n_ids = b->n_names;
    return 0;
}

static int p2c_stop(void *state, struct alumet_error *err)
{
    struct p2c *b = state;
    (void)err;
    fsroot_close(&b->proc);
    b->running = NULL; /* freed by the core */
    return 0;
}

const struct alumet_plugin alumet_plugin_process_to_cgroup_bridge = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "process-to-cgroup-bridge",
    .version = "0.1.0",
    .default_config = P2C_DEFAULT_CONFIG,
    .init = p2c_init,
    .start = p2c_start,
    .pre_pipeline_start = p2c_pre_pipeline_start,
    .stop = p2c_stop,
    .free = p2c_free,
};
