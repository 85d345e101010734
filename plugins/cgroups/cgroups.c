/* SPDX-License-Identifier: MIT */
/* The engine of the cgroup family (cgroups, slurm, oar): the common options,
 * the metrics and the lifecycle. The cgroups plugin itself is
 * cgroups-raw.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "cgroups.h"

#define CGROUPS_SEC ALUMET_NSEC_PER_SEC

static alumet_time_ns cgroups_monotonic(void *data)
{
    (void)data;
    return alumet_time_monotonic();
}

void cgroups_common_free(void *state)
{
    struct cgroups *cg = state;
    if (!cg)
        return;
    fsroot_close(&cg->proc);
    fsroot_close(&cg->sys);
    free(cg->proc_root);
    free(cg->sys_root);
    free(cg);
}

/* A key that upstream requires whenever the section exists. */
int cgroups_require(struct cgroups *cg, struct alumet_config *cfg, const char *key,
                    struct alumet_error *err)
{
    if (alumet_config_has(cfg, key))
        return 0;
    return alumet_config_error(cfg, key, err, -EINVAL,
                               "missing field '%s' (required when [plugins.%s] is present)", key,
                               cg->section);
}

int cgroups_common_init(struct alumet_config *cfg, const char *section, struct cgroups **ret,
                        struct alumet_error *err)
{
    struct cgroups *cg = calloc(1, sizeof(*cg));
    const char *proc_root, *sys_root;
    int r;

    if (!cg)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    cg->section = section;
    cg->proc.fd = cg->sys.fd = -1;
    cg->clock = cgroups_monotonic;
    if ((r = cgroups_require(cg, cfg, "poll_interval", err)) < 0 ||
        (r = cgroups_require(cg, cfg, "disable_sources", err)) < 0 ||
        (r = alumet_config_get_duration(cfg, "poll_interval", 5 * CGROUPS_SEC, &cg->poll_interval,
                                        err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "disable_sources", false, &cg->disable_sources, err)) <
            0 ||
        (r = alumet_config_get_duration(cfg, "rescan_interval", 30 * CGROUPS_SEC,
                                        &cg->rescan_interval, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "proc_root", "/", &proc_root, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "sys_root", "/", &sys_root, err)) < 0)
        goto err_free;
    if (cg->poll_interval <= 0) {
        r = alumet_config_error(cfg, "poll_interval", err, -EINVAL,
                                "expected a duration greater than 0, such as \"5s\"");
        goto err_free;
    }
    if (cg->rescan_interval <= 0) {
        r = alumet_config_error(cfg, "rescan_interval", err, -EINVAL,
                                "expected a duration greater than 0, such as \"30s\"");
        goto err_free;
    }
    cg->proc_root = strdup(proc_root);
    cg->sys_root = strdup(sys_root);
    if (!cg->proc_root || !cg->sys_root) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret = cg;
    return 0;

err_free:
    cgroups_common_free(cg);
    return r;
}

unsigned cgroups_cpu_count(const char *s)
{
    unsigned n = 0;
    while (*s && *s != '\n') {
        char *end;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (end == s)
            return 0;
        if (*end == '-') {
            s = end + 1;
            b = strtoul(s, &end, 10);
            if (end == s || b < a || *end == '-')
                return 0;
        }
        n += (unsigned)(b - a + 1);
        s = end;
        if (*s == ',')
            s++;
    }
    return n;
}

static void cgroups_read_cpus(struct cgroups *cg)
{
    static const char rel[] = "sys/devices/system/cpu/online";
    char buf[1024], path[PATH_MAX];
    int fd = fsroot_openat(&cg->sys, rel, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    cg->n_cpus = cgroups_cpu_count(buf);
    if (!cg->n_cpus) {
        fsroot_path(&cg->sys, rel, path, sizeof(path));
        cgroups_log(cg, ALUMET_LOG_WARN,
                    "cannot read the online CPUs from '%s', skipping the cpu_percent metric", path);
    }
}

int cgroups_metrics_create(struct cgroups_metrics *m, struct alumet_start_ctx *ctx,
                           struct alumet_error *err)
{
    const struct {
        alumet_metric_id *id;
        const char *name;
        enum alumet_value_type type;
        struct alumet_unit unit;
        const char *description;
    } defs[] = {
        {&m->cpu_time_delta, "cpu_time_delta", ALUMET_VALUE_U64, ALUMET_UNIT_PREFIXED(NANO, SECOND),
         "Time spent executing on the CPU since the previous measurement"},
        {&m->cpu_percent, "cpu_percent", ALUMET_VALUE_F64, ALUMET_UNIT(PERCENT),
         "CPU usage percent"},
        {&m->memory_usage, "memory_usage", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE), "Memory usage"},
        {&m->memory_max, "memory_max", ALUMET_VALUE_F64, ALUMET_UNIT(BYTE),
         "Memory limit of the cgroup (-1: no limit)"},
        {&m->swap_current, "cgroup_memory_swap_current", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE),
         "Swap used by the cgroup"},
        {&m->swap_max, "cgroup_memory_swap_max", ALUMET_VALUE_F64, ALUMET_UNIT(BYTE),
         "Swap limit of the cgroup (-1: no limit)"},
        {&m->anon, "cgroup_memory_anonymous", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE),
         "Anonymous memory of the cgroup"},
        {&m->file, "cgroup_memory_file", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE),
         "File-backed memory of the cgroup (page cache)"},
        {&m->kernel_stack, "cgroup_memory_kernel_stack", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE),
         "Kernel stacks of the cgroup"},
        {&m->pagetables, "cgroup_memory_pagetables", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE),
         "Page tables of the cgroup"},
        {&m->slab_reclaimable, "cgroup_slab_reclaimable", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE),
         "Reclaimable slab memory of the cgroup"},
        {&m->pswpin, "cgroup_pswpin", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
         "Pages swapped in (cumulative)"},
        {&m->pswpout, "cgroup_pswpout", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
         "Pages swapped out (cumulative)"},
        {&m->io_some, "io_pressure_some_total", ALUMET_VALUE_U64,
         ALUMET_UNIT_PREFIXED(MICRO, SECOND),
         "Time some tasks of the cgroup were stalled on I/O since the previous measurement"},
        {&m->io_full, "io_pressure_full_total", ALUMET_VALUE_U64,
         ALUMET_UNIT_PREFIXED(MICRO, SECOND),
         "Time all tasks of the cgroup were stalled on I/O since the previous measurement"},
    };
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        int r = alumet_create_metric(ctx, defs[i].name, defs[i].type, defs[i].unit,
                                     defs[i].description, defs[i].id, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroups_common_start(struct cgroups *cg, struct alumet_start_ctx *ctx, const char *source_name,
                         struct alumet_error *err)
{
    cg->log = alumet_start_log_topic(ctx);
    int r = cgroups_metrics_create(&cg->m, ctx, err);
    if (r < 0 || cg->disable_sources)
        return r;

    r = fsroot_open(&cg->proc, cg->proc_root);
    if (r < 0)
        return alumet_error_set(err, r,
                                "cannot open the proc root '%s': %s; the hidden option "
                                "plugins.%s.proc_root must name the directory that holds "
                                "proc/ (default \"/\")",
                                cg->proc_root, strerror(-r), cg->section);
    r = fsroot_open(&cg->sys, cg->sys_root);
    if (r < 0)
        return alumet_error_set(err, r,
                                "cannot open the sys root '%s': %s; the hidden option "
                                "plugins.%s.sys_root must name the directory under which "
                                "the cgroup mount points are found (default \"/\")",
                                cg->sys_root, strerror(-r), cg->section);
    cgroups_read_cpus(cg);

    struct cgroups_source *src;
    if ((r = cgroups_source_new(cg, &src)) < 0)
        return alumet_error_set(err, r, "out of memory");
    struct alumet_source_opts o = {.size = sizeof(o),
                                   .poll_interval = cg->poll_interval,
                                   .start_paused = cg->start_paused,
                                   .baseline_first = true}; /* CPU time differences */
    r = alumet_add_source(ctx, source_name, &cgroups_source_ops, src, &o, err);
    if (r < 0) {
        cgroups_source_ops.free(src);
        return r;
    }
    cg->source = src;
    return 0;
}

/* The source publishes the consumer events of the cgroups it finds (perf
 * measures them when configured to). */
int cgroups_common_post_pipeline_start(void *state, struct alumet_post_start_ctx *ctx,
                                       struct alumet_error *err)
{
    struct cgroups *cg = state;
    (void)err;
    atomic_store(&cg->pipeline, alumet_post_start_pipeline(ctx));
    return 0;
}

/* The source borrowed the state and has been freed by now. */
int cgroups_common_stop(void *state, struct alumet_error *err)
{
    struct cgroups *cg = state;
    (void)err;
    fsroot_close(&cg->proc);
    fsroot_close(&cg->sys);
    cg->source = NULL;
    atomic_store(&cg->pipeline, NULL);
    return 0;
}
