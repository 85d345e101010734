/* SPDX-License-Identifier: MIT */
/* procfs: system and process metrics read from /proc, as upstream Alumet's
 * procfs plugin 0.3.0 (see README.md). This file holds the plugin struct,
 * the metrics, the lifecycle, the consumer events and the advice given
 * when /proc cannot be read (the options: procfs-config.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "procfs.h"

/* CAP_SYS_PTRACE, from linux/capability.h */
#define PROCFS_CAP_SYS_PTRACE 19

/* ---- shared helpers ---- */

void *procfs_grow(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap && items)
        return items;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *n = reallocarray(items, ncap, size);
    if (n)
        *cap = ncap;
    return n;
}

size_t procfs_fit_cap(size_t cap, size_t n)
{
    while (cap > 64 && n < cap / 4)
        cap /= 2;
    return cap;
}

static alumet_time_ns procfs_monotonic(void *data)
{
    (void)data;
    return alumet_time_monotonic();
}

alumet_time_ns procfs_now(const struct procfs *pfs)
{
    return pfs->clock(pfs->clock_data);
}

void procfs_warn_access(struct procfs *pfs, const char *rel, int r)
{
    char path[PATH_MAX];

    fsroot_path(&pfs->proc, rel, path, sizeof(path));
    if (pfs->warned_access) {
        procfs_debug(pfs, "cannot read '%s': %s, skipping", path, strerror(-r));
        return;
    }
    pfs->warned_access = true;
    procfs_warn(pfs,
                "cannot read '%s': %s; /proc hides the processes of other users when it is "
                "mounted with hidepid=1 or hidepid=2 (or ptrace rules forbid access): run the "
                "agent as root or with CAP_SYS_PTRACE, run it as the user who owns the "
                "processes, or remount /proc with 'mount -o remount,hidepid=0 /proc', skipping "
                "the processes that cannot be read",
                path, strerror(-r));
}

/* ---- lifecycle ---- */

static void procfs_group_free(struct procfs_group *g)
{
    procfs_group_done(g);
    if (g->lock_ready)
        pthread_mutex_destroy(&g->lock);
    g->lock_ready = false;
}

static void procfs_release(struct procfs *pfs)
{
    fsroot_close(&pfs->proc);
    fsroot_close(&pfs->sys);
    free(pfs->m.meminfo);
    pfs->m.meminfo = NULL;
    pfs->kernel = NULL;
    pfs->memory = NULL;
    pfs->network = NULL;
    pfs->watcher = NULL;
    pfs->log = &pfs->fallback_log;
}

static void procfs_free(void *state)
{
    struct procfs *pfs = state;
    if (!pfs)
        return;
    procfs_release(pfs);
    for (size_t i = 0; i < pfs->n_groups; i++)
        procfs_group_free(&pfs->groups[i]);
    free(pfs->groups);
    procfs_group_free(&pfs->events);
    for (size_t i = 0; i < pfs->cfg.n_meminfo_keys; i++)
        free(pfs->cfg.meminfo_keys[i]);
    free(pfs->cfg.meminfo_keys);
    free(pfs->cfg.proc_root);
    free(pfs->cfg.sys_root);
    free(pfs);
}

static int procfs_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct procfs *pfs = calloc(1, sizeof(*pfs));
    int r;

    if (!pfs)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    pfs->proc = (struct fsroot)FSROOT_INIT;
    pfs->sys = (struct fsroot)FSROOT_INIT;
    pfs->fallback_log = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("procfs");
    pfs->log = &pfs->fallback_log;
    pfs->clock = procfs_monotonic;
    pfs->clk_tck = sysconf(_SC_CLK_TCK);
    pfs->page_size = sysconf(_SC_PAGESIZE);
    if (pfs->clk_tck <= 0 || pfs->page_size <= 0) {
        r = alumet_error_set(err, -EINVAL,
                             "cannot get the clock tick rate or the page size of "
                             "the system (sysconf)");
        goto err_free;
    }
    r = procfs_group_init_lock(&pfs->events);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto err_free;
    }
    r = procfs_parse_config(pfs, cfg, err);
    if (r < 0)
        goto err_free;
    *ret_state = pfs;
    return 0;

err_free:
    procfs_free(pfs);
    return r;
}

/* Number of online CPUs, for cpu_percent. */
static void procfs_read_cpus(struct procfs *pfs)
{
    static const char rel[] = "sys/devices/system/cpu/online";
    char buf[1024], path[PATH_MAX];
    ssize_t n;

    if (pfs->sys.fd < 0)
        return; /* start said why */
    fsroot_path(&pfs->sys, rel, path, sizeof(path));
    int fd = fsroot_openat(&pfs->sys, rel, O_RDONLY);
    if (fd >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
            n = -errno;
        close(fd);
    } else {
        n = fd;
    }
    int count = n >= 0 ? procfs_cpu_list_count(buf, (size_t)n) : (int)n;
    if (count <= 0) {
        procfs_warn(pfs,
                    "cannot read the online CPUs from '%s': %s, skipping the cpu_percent "
                    "metric of processes",
                    path, count < 0 ? strerror(-count) : "empty list");
        pfs->n_cpus = 0;
        return;
    }
    pfs->n_cpus = (unsigned)count;
}

/* CapEff of proc/self/status holds CAP_SYS_PTRACE:
 *   CapEff:	000001ffffffffff */
static bool procfs_has_ptrace_cap(struct procfs *pfs)
{
    struct procfile pf = PROCFILE_INIT;
    bool has = false;

    if (procfile_open(&pf, pfs->proc.fd, "proc/self/status", 2048) < 0)
        return geteuid() == 0;
    if (procfile_read(&pf) < 0) {
        procfile_close(&pf);
        return geteuid() == 0;
    }
    const char *at = strstr(pf.buf, "\nCapEff:");
    if (at) {
        at += 8;
        while (*at == ' ' || *at == '\t')
            at++;
        char *end;
        unsigned long long caps = strtoull(at, &end, 16);
        has = end != at && (caps >> PROCFS_CAP_SYS_PTRACE) & 1;
    }
    procfile_close(&pf);
    return has;
}

/* With hidepid, /proc shows the processes of other users as unreadable
 * (hidepid=1) or not at all (hidepid=2): nothing fails, they are just
 * missing. Tell the user once, at start. proc/self/mounts:
 *   proc /proc proc rw,nosuid,nodev,noexec,relatime,hidepid=invisible 0 0 */
static void procfs_check_hidepid(struct procfs *pfs)
{
    struct procfile pf = PROCFILE_INIT;
    char value[32] = "";

    if (procfile_open(&pf, pfs->proc.fd, "proc/self/mounts", 4096) < 0)
        return;
    if (procfile_read(&pf) < 0) {
        procfile_close(&pf);
        return;
    }
    struct procfile_scan s = procfile_scan_of(pf.buf, pf.len);
    for (; !procfile_scan_eof(&s) && !value[0]; procfile_scan_next_line(&s)) {
        const char *dev, *mnt, *type, *opts;
        size_t ld = procfile_scan_word(&s, &dev);
        size_t lm = procfile_scan_word(&s, &mnt);
        size_t lt = procfile_scan_word(&s, &type);
        size_t lo = procfile_scan_word(&s, &opts);
        (void)ld;
        if (lt != 4 || memcmp(type, "proc", 4) != 0 || lm < 5 ||
            memcmp(mnt + lm - 5, "/proc", 5) != 0)
            continue;
        for (size_t i = 0; i < lo;) {
            size_t j = i;
            while (j < lo && opts[j] != ',')
                j++;
            if (j - i > 8 && memcmp(opts + i, "hidepid=", 8) == 0) {
                size_t vl = j - i - 8;
                if (!(vl == 1 && opts[i + 8] == '0') &&
                    !(vl == 3 && !memcmp(opts + i + 8, "off", 3)))
                    snprintf(value, sizeof(value), "%.*s", (int)vl, opts + i + 8);
            }
            i = j + 1;
        }
    }
    procfile_close(&pf);
    if (!value[0] || procfs_has_ptrace_cap(pfs))
        return;
    pfs->warned_access = true;
    procfs_warn(pfs,
                "/proc is mounted with 'hidepid=%s' and the agent lacks CAP_SYS_PTRACE: the "
                "processes of other users are hidden from it and are not measured; run the "
                "agent as root or with CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep alumet-agent), "
                "or remount /proc with 'mount -o remount,hidepid=0 /proc'",
                value);
}

/* The files of the measured processes stay open, within a budget of half
 * the soft limit of open files (procfs-proc.c). The watcher, which may
 * measure every process, first raises the soft limit to the hard one
 * (upstream does this too), then, when the processes need more, both
 * (procfs_fd_cap_fit, after every refresh: the first listing keeps what
 * the cap allows open and reads the rest by path until the next one; not
 * listed here too, which cost one more cold listing of /proc at start,
 * 0.5 ms at 300 processes, 1 us per process). */
static void procfs_limit_fds(struct procfs *pfs, bool raise)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        procfs_fd_cap_set(pfs, 1024);
        return;
    }
    if (raise && rl.rlim_cur < rl.rlim_max) {
        rlim_t soft = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            procfs_debug(pfs, "cannot raise the limit of open files: %s", strerror(errno));
            rl.rlim_cur = soft;
        }
    }
    long soft =
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
    procfs_fd_cap_set(pfs, soft);
    procfs_debug(pfs,
                 "keeping at most %ld files of processes open (half the limit of open "
                 "files, %ld); the other processes are read by path",
                 atomic_load(&pfs->fd_cap), soft);
    if (!raise)
        return;
    /* the system's ceiling, not the proc root's (fixture trees) */
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    long nr_open = 0;
    if (f) {
        if (fscanf(f, "%ld", &nr_open) != 1)
            nr_open = 0;
        fclose(f);
    }
    pfs->nr_open = nr_open > 0 ? nr_open : 1048576;
    pfs->fd_raise = true;
}

struct procfs_metric_def {
    alumet_metric_id *id;
    const char *name;
    enum alumet_value_type type;
    struct alumet_unit unit;
    const char *description;
};

static int procfs_create_metrics(struct alumet_start_ctx *ctx, const struct procfs_metric_def *defs,
                                 size_t n, struct alumet_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = alumet_create_metric(ctx, defs[i].name, defs[i].type, defs[i].unit,
                                     defs[i].description, defs[i].id, err);
        if (r < 0)
            return r;
    }
    return 0;
}

#define PROCFS_N(a) (sizeof(a) / sizeof((a)[0]))

/* Register a source; on failure free it (the caller still owned it).
 * baselines: its first poll only takes baselines (CPU times, byte counts). */
static int procfs_add(struct alumet_start_ctx *ctx, const char *name,
                      const struct alumet_source_ops *ops, void *src, alumet_time_ns poll,
                      alumet_time_ns flush, bool paused, bool baselines, struct alumet_error *err)
{
    struct alumet_source_opts o = {.size = sizeof(o),
                                   .poll_interval = poll,
                                   .flush_interval = flush,
                                   .start_paused = paused,
                                   .baseline_first = baselines};
    int r = alumet_add_source(ctx, name, ops, src, &o, err);
    if (r < 0)
        ops->free(src);
    return r;
}

/* A system file that cannot be opened disables its part only. */
static int procfs_unavailable(struct procfs *pfs, int r, const char *rel, const char *part,
                              struct alumet_error *err)
{
    char path[PATH_MAX];

    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    fsroot_path(&pfs->proc, rel, path, sizeof(path));
    procfs_warn(pfs,
                "cannot open '%s': %s; set plugins.procfs.%s.enabled = false to silence this "
                "warning, skipping the %s metrics",
                path, strerror(-r), part, part);
    return 0;
}

static int procfs_start_system(struct procfs *pfs, struct alumet_start_ctx *ctx,
                               struct alumet_error *err)
{
    const struct procfs_config *c = &pfs->cfg;
    int r;

    if (c->kernel_enabled) {
        const struct procfs_metric_def defs[] = {
            {&pfs->m.cpu_time, "kernel_cpu_time", ALUMET_VALUE_U64,
             ALUMET_UNIT_PREFIXED(MILLI, SECOND), "busy CPU time"},
            {&pfs->m.ctx_switches, "kernel_context_switches", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
             "number of context switches"},
            {&pfs->m.new_forks, "kernel_new_forks", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
             "number of fork operations"},
            {&pfs->m.procs_running, "kernel_n_procs_running", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
             "number of processes in a runnable state"},
            {&pfs->m.procs_blocked, "kernel_n_procs_blocked", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
             "number of processes blocked waiting for I/O"},
        };
        struct procfs_kernel_source *k;
        r = procfs_create_metrics(ctx, defs, PROCFS_N(defs), err);
        if (r < 0)
            return r;
        r = procfs_kernel_source_new(pfs, &k);
        if (r < 0) {
            r = procfs_unavailable(pfs, r, "proc/stat", "kernel", err);
            if (r < 0)
                return r;
        } else {
            r = procfs_add(ctx, "kernel", &procfs_kernel_source_ops, k, c->kernel_poll,
                           c->kernel_flush, false, true, err);
            if (r < 0)
                return r;
            pfs->kernel = k;
        }
    }

    if (c->memory_enabled) {
        pfs->m.meminfo = calloc(c->n_meminfo_keys ? c->n_meminfo_keys : 1, sizeof(*pfs->m.meminfo));
        if (!pfs->m.meminfo)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < c->n_meminfo_keys; i++) {
            char name[256], desc[320];
            const char *key = c->meminfo_keys[i];
            if (procfs_meminfo_metric_name(key, name, sizeof(name)) >= sizeof(name))
                return alumet_error_set(err, -EINVAL, "the /proc/meminfo entry '%s' is too long",
                                        key);
            snprintf(desc, sizeof(desc), "%s entry in /proc/meminfo, converted to bytes", key);
            r = alumet_create_metric(ctx, name, ALUMET_VALUE_U64, ALUMET_UNIT(BYTE), desc,
                                     &pfs->m.meminfo[i], err);
            if (r < 0)
                return r;
        }
        struct procfs_memory_source *m;
        r = procfs_memory_source_new(pfs, &m);
        if (r < 0) {
            r = procfs_unavailable(pfs, r, "proc/meminfo", "memory", err);
            if (r < 0)
                return r;
        } else {
            r = procfs_add(ctx, "memory", &procfs_memory_source_ops, m, c->memory_poll,
                           c->memory_flush, false, false, err);
            if (r < 0)
                return r;
            pfs->memory = m;
        }
    }

    if (c->network_enabled) {
        const struct procfs_metric_def defs[] = {
            {&pfs->m.net_bytes, "network_bytes", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE),
             "number of bytes received or transmitted"},
            {&pfs->m.net_packets, "network_packets", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
             "number of packets received or transmitted"},
            {&pfs->m.net_drops, "network_packet_drops", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
             "number of packets dropped"},
            {&pfs->m.net_errors, "network_errors", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
             "number of transmission or reception errors"},
        };
        struct procfs_network_source *n;
        r = procfs_create_metrics(ctx, defs, PROCFS_N(defs), err);
        if (r < 0)
            return r;
        r = procfs_network_source_new(pfs, &n);
        if (r < 0) {
            r = procfs_unavailable(pfs, r, "proc/net/dev", "network", err);
            if (r < 0)
                return r;
        } else {
            r = procfs_add(ctx, "network", &procfs_network_source_ops, n, c->network_poll,
                           c->network_flush, false, true, err);
            if (r < 0)
                return r;
            pfs->network = n;
        }
    }
    return 0;
}

/* START_CONSUMER_MEASUREMENT: measure the announced processes (and their
 * descendants); END: forget them. Runs in the publisher's thread: only
 * queue the request, the source of the events group does the work. With the
 * watcher strategy (and exec_strategy "event"), the first START switches
 * the process measurement to the announced processes: the watcher and its
 * groups stand down from their next poll on. */
/* The events group starts paused: resume it once a process was announced
 * and the pipeline is known (from the event, or from post_pipeline_start
 * for an announce made before the pipeline started, as exec's). Either side
 * may come first; a second resume is harmless. */
static void procfs_wake_events(struct procfs *pfs)
{
    struct alumet_pipeline *p = atomic_load(&pfs->pipeline);
    if (!p || !atomic_load(&pfs->events_wanted) || atomic_exchange(&pfs->events_awake, true))
        return;
    struct alumet_error err = {0};
    if (alumet_pipeline_control(p, "src/procfs/process-events", ALUMET_CONTROL_RESUME, 0, &err) < 1)
        procfs_warn(pfs, "cannot resume the source process-events: %s",
                    err.msg[0] ? err.msg : "not found");
}

static int procfs_post_start(void *state, struct alumet_post_start_ctx *ctx,
                             struct alumet_error *err)
{
    struct procfs *pfs = state;
    (void)err;
    atomic_store(&pfs->pipeline, alumet_post_start_pipeline(ctx));
    procfs_wake_events(pfs);
    return 0;
}

static void procfs_on_event(void *data, enum alumet_event_kind kind,
                            const struct alumet_consumer *consumers, size_t n)
{
    struct procfs *pfs = data;

    for (size_t i = 0; i < n; i++) {
        if (consumers[i].kind != ALUMET_CONSUMER_PROCESS || consumers[i].num == 0 ||
            consumers[i].num > INT32_MAX)
            continue;
        if (kind == ALUMET_EVENT_START_CONSUMER_MEASUREMENT &&
            pfs->cfg.strategy == PROCFS_STRATEGY_WATCHER && !atomic_exchange(&pfs->exec_mode, true))
            procfs_info(pfs,
                        "measuring process %u, announced by the agent, and its descendants; "
                        "the other processes are not measured (to measure them all, set "
                        "plugins.procfs.processes.exec_strategy = \"watcher\")",
                        consumers[i].num);
        struct procfs_proc req = {
            .pid = (pid_t)consumers[i].num,
            .remove = kind == ALUMET_EVENT_END_CONSUMER_MEASUREMENT,
        };
        if (procfs_group_push(&pfs->events, &req) < 0)
            alumet_log_at(pfs->log, ALUMET_LOG_ERROR,
                          "out of memory: cannot measure process %u, skipping it",
                          consumers[i].num);
        else if (!req.remove)
            atomic_store(&pfs->events_wanted, true);
    }
    procfs_wake_events(pfs);
}

static int procfs_add_group(struct procfs *pfs, struct alumet_start_ctx *ctx,
                            struct procfs_group *g, struct alumet_error *err)
{
    struct procfs_group_source *src;
    g->pfs = pfs;
    int r = procfs_group_source_new(pfs, g, &src);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    /* the events group has nothing to poll until a process is announced:
     * it sleeps until then (procfs_wake_events) */
    r = procfs_add(ctx, g->name, &procfs_group_source_ops, src, g->poll_interval, g->flush_interval,
                   g == &pfs->events, true, err);
    if (r < 0)
        return r;
    g->source = src;
    return 0;
}

static int procfs_start_processes(struct procfs *pfs, struct alumet_start_ctx *ctx,
                                  struct alumet_error *err)
{
    const struct procfs_metric_def defs[] = {
        {&pfs->m.cpu_time_delta, "cpu_time_delta", ALUMET_VALUE_U64,
         ALUMET_UNIT_PREFIXED(NANO, SECOND),
         "Time spent executing on the CPU since the previous measurement"},
        {&pfs->m.cpu_percent, "cpu_percent", ALUMET_VALUE_F64, ALUMET_UNIT(PERCENT),
         "CPU usage percent"},
        {&pfs->m.memory_usage, "memory_usage", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE), "Memory usage"},
    };
    int r = procfs_create_metrics(ctx, defs, PROCFS_N(defs), err);
    if (r < 0)
        return r;

    procfs_read_cpus(pfs);
    procfs_check_hidepid(pfs);
    procfs_limit_fds(pfs, pfs->cfg.strategy == PROCFS_STRATEGY_WATCHER && pfs->n_groups > 0);

    /* the events group: for strategy "event", and for "watcher" under exec
     * and watch (exec_strategy "event") */
    if (pfs->cfg.strategy == PROCFS_STRATEGY_EVENT ||
        pfs->cfg.exec_strategy == PROCFS_STRATEGY_EVENT) {
        r = procfs_add_group(pfs, ctx, &pfs->events, err);
        if (r < 0)
            return r;
        r = alumet_subscribe_event(ctx, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, procfs_on_event,
                                   pfs, err);
        if (r < 0)
            return r;
        r = alumet_subscribe_event(ctx, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, procfs_on_event, pfs,
                                   err);
        if (r < 0)
            return r;
    }
    if (pfs->cfg.strategy == PROCFS_STRATEGY_EVENT)
        return 0;

    if (pfs->n_groups == 0) {
        procfs_info(pfs, "no process group is configured (plugins.procfs.processes.groups), "
                         "skipping the process metrics");
        return 0;
    }
    /* the watcher comes first: when every source is triggered at once (exec),
     * the groups measure the processes that it has just found */
    struct procfs_watcher_source *w;
    r = procfs_watcher_source_new(pfs, &w);
    if (r < 0) {
        char path[PATH_MAX];
        fsroot_path(&pfs->proc, "proc", path, sizeof(path));
        return alumet_error_set(err, r, "cannot list the processes in '%s': %s", path,
                                strerror(-r));
    }
    r = procfs_add(ctx, "process-watcher", &procfs_watcher_source_ops, w, pfs->cfg.refresh_interval,
                   0, false, false, err);
    if (r < 0)
        return r;
    pfs->watcher = w;
    for (size_t i = 0; i < pfs->n_groups; i++) {
        r = procfs_add_group(pfs, ctx, &pfs->groups[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int procfs_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct procfs *pfs = state;

    pfs->log = alumet_start_log_topic(ctx);
    int r = fsroot_open(&pfs->proc, pfs->cfg.proc_root);
    if (r < 0)
        return alumet_error_set(err, r,
                                "cannot open the proc root '%s': %s; the hidden option "
                                "plugins.procfs.proc_root must name the directory that holds "
                                "proc/ (default \"/\")",
                                pfs->cfg.proc_root, strerror(-r));
    r = fsroot_open(&pfs->sys, pfs->cfg.sys_root);
    if (r < 0 && r != -ENOMEM)
        procfs_warn(pfs, "cannot open the sys root '%s': %s, skipping the cpu_percent metric",
                    pfs->cfg.sys_root, strerror(-r));
    else if (r < 0)
        return alumet_error_set(err, r, "out of memory");

    r = procfs_start_system(pfs, ctx, err);
    if (r < 0)
        return r;
    if (pfs->cfg.processes_enabled)
        return procfs_start_processes(pfs, ctx, err);
    return 0;
}

/* The sources borrowed the state and have been freed by now (the core frees
 * the pipeline before stopping the plugins): release what start opened, so
 * that start can run again. */
static int procfs_stop(void *state, struct alumet_error *err)
{
    struct procfs *pfs = state;
    (void)err;

    procfs_release(pfs);
    for (size_t i = 0; i < pfs->n_groups; i++) {
        procfs_group_clear(&pfs->groups[i]);
        pfs->groups[i].source = NULL;
    }
    procfs_group_clear(&pfs->events);
    pfs->events.source = NULL;
    atomic_store(&pfs->exec_mode, false);
    atomic_store(&pfs->pipeline, NULL);
    atomic_store(&pfs->events_wanted, false);
    atomic_store(&pfs->events_awake, false);
    pfs->warned_access = false;
    pfs->warned_fd_limit = false;
    return 0;
}

const struct alumet_plugin alumet_plugin_procfs = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "procfs",
    .version = "0.3.0",
    .default_config = procfs_default_config,
    .init = procfs_init,
    .start = procfs_start,
    .post_pipeline_start = procfs_post_start,
    .stop = procfs_stop,
    .free = procfs_free,
};
