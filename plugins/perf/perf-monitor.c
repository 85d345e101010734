/* SPDX-License-Identifier: MIT */
/* The counters of one target:
 *   process  one counter per event and per thread, inherit = 1 (children and
 *            threads created later are counted too), summed into one series
 *            per event: resource local_machine, consumer process{pid};
 *   cgroup   one counter per event and per online CPU, PERF_FLAG_PID_CGROUP:
 *            one series per CPU, resource cpu_core{cpu}, consumer cgroup{path};
 *   system   one counter per event and per online CPU (pid -1): resource
 *            cpu_core{cpu}, consumer local_machine.
 * Each counter is read with its enabled and running times, and each polling
 * interval is scaled for multiplexing like `perf stat` does. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf.h"

/* ---- system calls ---- */

static int perf_sys_open(void *data, const struct perf_event_attr *attr, pid_t pid, int cpu,
                         unsigned long flags)
{
    (void)data;
    return perf_event_open_fd(attr, pid, cpu, -1, flags);
}

static int perf_sys_enable(void *data, int fd)
{
    (void)data;
    return perf_event_enable(fd);
}

static int perf_sys_read(void *data, int fd, struct perf_event_count *ret)
{
    (void)data;
    return perf_event_read_count(fd, ret);
}

static void perf_sys_close(void *data, int fd)
{
    (void)data;
    close(fd);
}

const struct perf_sys_ops perf_sys_real = {
    .open = perf_sys_open,
    .enable = perf_sys_enable,
    .read = perf_sys_read,
    .close = perf_sys_close,
};

/* ---- multiplexing ---- */

__extension__ typedef unsigned __int128 perf_u128;

enum perf_interval perf_scaling_update(struct perf_scaling *s, const struct perf_event_count *now,
                                       bool auto_scale)
{
    uint64_t d_enabled =
        now->time_enabled > s->prev.time_enabled ? now->time_enabled - s->prev.time_enabled : 0;
    uint64_t d_running =
        now->time_running > s->prev.time_running ? now->time_running - s->prev.time_running : 0;
    /* a sum over threads can shrink when one is gone: count nothing then */
    uint64_t delta = now->value > s->prev.value ? now->value - s->prev.value : 0;
    enum perf_interval kind;
    perf_u128 add = delta;

    if (d_enabled == 0) {
        kind = PERF_INTERVAL_IDLE;
    } else if (d_running == 0) {
        kind = PERF_INTERVAL_STARVED; /* nothing counted, nothing to scale */
        s->accuracy = PERF_ACCURACY_UNDERESTIMATED;
    } else if (d_running < d_enabled) {
        kind = PERF_INTERVAL_MULTIPLEXED;
        if (auto_scale) {
            /* delta counted during d_running: how many during d_enabled, rounded */
            add = ((perf_u128)delta * d_enabled + d_running / 2) / d_running;
            if (s->accuracy < PERF_ACCURACY_EXTRAPOLATED)
                s->accuracy = PERF_ACCURACY_EXTRAPOLATED;
        } else {
            s->accuracy = PERF_ACCURACY_UNDERESTIMATED;
        }
    } else {
        kind = PERF_INTERVAL_EXACT;
    }
    if (add > UINT64_MAX - s->total)
        s->total = UINT64_MAX;
    else
        s->total += (uint64_t)add;
    s->prev = *now;
    return kind;
}

const char *perf_accuracy_name(enum perf_accuracy a)
{
    switch (a) {
    case PERF_ACCURACY_EXACT:
        return "exact";
    case PERF_ACCURACY_EXTRAPOLATED:
        return "extrapolated";
    case PERF_ACCURACY_UNDERESTIMATED:
        return "underestimated";
    }
    return "exact";
}

/* ---- places: threads and CPUs ---- */

int perf_parse_cpu_list(const char *text, uint32_t **ret, size_t *ret_len)
{
    /* "0-3,5\n" */
    uint32_t *cpus = NULL;
    size_t n = 0, cap = 0;
    const char *p = text;
    int r = -EINVAL;

    while (*p && *p != '\n') {
        char *end;
        errno = 0;
        unsigned long a = strtoul(p, &end, 10);
        if (end == p || errno || a > UINT32_MAX - 1 || *p == '-' || *p == '+')
            goto err_free;
        unsigned long b = a;
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            b = strtoul(q, &end, 10);
            if (end == q || errno || b < a || b > UINT32_MAX - 1 || *q == '-' || *q == '+')
                goto err_free;
            p = end;
            if (*p == '-')
                goto err_free; /* two dashes */
        }
        for (unsigned long c = a; c <= b; c++) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                uint32_t *nc = reallocarray(cpus, ncap, sizeof(*cpus));
                if (!nc) {
                    r = -ENOMEM;
                    goto err_free;
                }
                cpus = nc;
                cap = ncap;
            }
            cpus[n++] = (uint32_t)c;
        }
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            goto err_free;
    }
    if (n == 0)
        goto err_free;
    *ret = cpus;
    *ret_len = n;
    return 0;

err_free:
    free(cpus);
    return r;
}

/* The online CPUs (sys_root: sys/devices/system/cpu/online). */
static int perf_online_cpus(struct perf *perf, uint32_t **ret, size_t *ret_len)
{
    char buf[4096];
    int fd = openat(perf->sys_fd, "sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        perf_log(perf, ALUMET_LOG_WARN, "cannot read '%s/sys/devices/system/cpu/online': %s",
                 strcmp(perf->sys_root, "/") == 0 ? "" : perf->sys_root, strerror(-r));
        return r;
    }
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
        ;
    int r = n < 0 ? -errno : 0;
    close(fd);
    if (r == 0) {
        buf[n] = '\0';
        r = perf_parse_cpu_list(buf, ret, ret_len);
        if (r == -EINVAL)
            perf_log(perf, ALUMET_LOG_WARN,
                     "invalid cpu_list '%.*s' in sys/devices/system/cpu/online",
                     (int)strcspn(buf, "\n"), buf);
    }
    return r;
}

static int perf_cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* The threads of process pid (proc_root: proc/<pid>/task). -ESRCH when the
 * process does not exist. */
static int perf_list_threads(struct perf *perf, uint32_t pid, pid_t **ret, size_t *ret_len)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "proc/%u/task", pid);
    int fd = openat(perf->proc_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int r = -errno;
        close(fd);
        return r;
    }
    pid_t *tids = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long v = strtol(de->d_name, &end, 10);
        if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || v <= 0 || v > INT_MAX)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            pid_t *nt = reallocarray(tids, ncap, sizeof(*tids));
            if (!nt) {
                r = -ENOMEM;
                break;
            }
            tids = nt;
            cap = ncap;
        }
        tids[n++] = (pid_t)v;
    }
    closedir(d);
    /* in thread creation order (the main thread first), for the messages and tests */
    if (r == 0)
        qsort(tids, n, sizeof(*tids), perf_cmp_pid);
    if (r == 0 && n == 0)
        r = -ESRCH;
    if (r < 0) {
        free(tids);
        return r;
    }
    *ret = tids;
    *ret_len = n;
    return 0;
}

/* ---- targets ---- */

struct perf_place {
    pid_t pid; /* thread id, cgroup fd, or -1 */
    int cpu;   /* -1: any CPU */
};

void perf_target_free(struct perf *perf, struct perf_target *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_series; i++) {
        for (size_t j = 0; j < t->series[i].n_fds; j++)
            perf->sys->close(perf->sys_data, t->series[i].fds[j]);
        free(t->series[i].fds);
    }
    free(t->series);
    free(t->path);
    free(t->label);
    free(t);
}

static void perf_explain_ctx_init(struct perf *perf, const struct perf_target *t, size_t event,
                                  struct perf_explain_ctx *ctx)
{
    const struct perf_event_spec *e = &perf->events[event];
    *ctx = (struct perf_explain_ctx){
        .root_fd = perf->proc_fd,
        .event = e->input,
        .target = t->label,
        .cpu_wide = t->kind != PERF_TARGET_PROCESS,
        .kernel = !e->exclude_kernel || !e->exclude_hv,
        .hardware = perf_event_spec_is_hardware(e),
        .modifiers = e->has_modifiers,
    };
}

/* Tell why event could not be opened for t (errnum > 0). */
static void perf_report_failure(struct perf *perf, const struct perf_target *t, size_t event,
                                int errnum)
{
    struct perf_explain_ctx ctx;
    char msg[2048];
    enum perf_failure f = perf_failure_of(errnum);

    perf_explain_ctx_init(perf, t, event, &ctx);
    if (f == PERF_FAILURE_UNSUPPORTED) {
        if (perf->ev[event].unsupported)
            return;
        perf->ev[event].unsupported = true;
        perf_explain(errnum, &ctx, msg, sizeof(msg));
        perf_log(perf, ALUMET_LOG_WARN, "%s, skipping", msg);
        return;
    }
    if (f == PERF_FAILURE_DENIED) {
        /* the same cause for every target: each event is told once */
        bool *event_told =
            ctx.cpu_wide ? &perf->ev[event].denied_cpu : &perf->ev[event].denied_task;
        if (*event_told) {
            perf_log(perf, ALUMET_LOG_DEBUG, "permission denied opening perf event '%s' for %s",
                     ctx.event, ctx.target);
            return;
        }
        *event_told = true;
        bool *told = ctx.cpu_wide ? &perf->explained_denied_cpu : &perf->explained_denied_task;
        if (*told) {
            perf_log(perf, ALUMET_LOG_WARN,
                     "permission denied opening perf event '%s' for %s (see the explanation "
                     "above), skipping",
                     ctx.event, ctx.target);
            return;
        }
        *told = true;
    }
    perf_explain(errnum, &ctx, msg, sizeof(msg));
    perf_log(perf, ALUMET_LOG_WARN, "%s, skipping", msg);
}

/* Open every usable event on every place of t. per_place: one series per
 * place (CPU), else one series per event summing the places (threads).
 * Returns the number of series (0: nothing could be opened). gone is set
 * when every failure said that the process does not exist. */
static int perf_target_open(struct perf *perf, struct perf_target *t,
                            const struct perf_place *places, size_t n_places, unsigned long flags,
                            const uint32_t *cpus, bool *gone)
{
    bool per_place = cpus != NULL;
    size_t max_series = perf->n_events * (per_place ? n_places : 1);
    int *fds = calloc(n_places ? n_places : 1, sizeof(*fds));
    int r = 0;
    size_t n_gone = 0, n_failed = 0;

    t->n_places = n_places;
    t->series = calloc(max_series ? max_series : 1, sizeof(*t->series));
    if (!fds || !t->series) {
        r = -ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < perf->n_events; i++) {
        struct perf_event_attr attr;
        size_t n_ok = 0;
        int fail = 0;

        if (perf->ev[i].unsupported)
            continue;
        perf_event_spec_attr(&perf->events[i], t->kind == PERF_TARGET_PROCESS, &attr);
        for (size_t j = 0; j < n_places; j++)
            fds[j] = -1;
        for (size_t j = 0; j < n_places; j++) {
            fds[j] = perf->sys->open(perf->sys_data, &attr, places[j].pid, places[j].cpu, flags);
            if (fds[j] >= 0) {
                n_ok++;
                continue;
            }
            /* a thread that ended since the listing: the others go on */
            if (t->kind == PERF_TARGET_PROCESS && fds[j] == -ESRCH)
                continue;
            fail = -fds[j];
            break;
        }
        if (fail || n_ok == 0) {
            for (size_t j = 0; j < n_places; j++)
                if (fds[j] >= 0)
                    perf->sys->close(perf->sys_data, fds[j]);
            n_failed++;
            if (!fail) {
                n_gone++;
                continue;
            }
            perf_report_failure(perf, t, i, fail);
            continue;
        }
        if (per_place) {
            for (size_t j = 0; j < n_places; j++) {
                struct perf_series *s = &t->series[t->n_series];
                s->fds = malloc(sizeof(*s->fds));
                if (!s->fds) {
                    for (size_t k = j; k < n_places; k++)
                        perf->sys->close(perf->sys_data, fds[k]);
                    r = -ENOMEM;
                    goto out_free;
                }
                s->fds[0] = fds[j];
                s->n_fds = 1;
                s->event = (uint32_t)i;
                s->cpu = cpus[j];
                t->n_series++;
            }
        } else {
            struct perf_series *s = &t->series[t->n_series];
            s->fds = malloc(n_ok * sizeof(*s->fds));
            if (!s->fds) {
                for (size_t j = 0; j < n_places; j++)
                    if (fds[j] >= 0)
                        perf->sys->close(perf->sys_data, fds[j]);
                r = -ENOMEM;
                goto out_free;
            }
            for (size_t j = 0; j < n_places; j++)
                if (fds[j] >= 0)
                    s->fds[s->n_fds++] = fds[j];
            s->event = (uint32_t)i;
            s->cpu = PERF_NO_CPU;
            t->n_series++;
        }
    }
    *gone = n_failed > 0 && n_gone == n_failed && t->n_series == 0;

    /* everything is open: start counting */
    for (size_t i = 0; i < t->n_series; i++) {
        for (size_t j = 0; j < t->series[i].n_fds; j++) {
            int e = perf->sys->enable(perf->sys_data, t->series[i].fds[j]);
            if (e < 0)
                perf_log(perf, ALUMET_LOG_WARN, "cannot enable perf event '%s' for %s: %s",
                         perf->events[t->series[i].event].input, t->label, strerror(-e));
        }
    }
    r = (int)t->n_series;

out_free:
    free(fds);
    return r;
}

/* A target labelled "<what> '<id>'", or "<what>" when id is NULL. */
static struct perf_target *perf_target_alloc(enum perf_target_kind kind, const char *what,
                                             const char *id)
{
    struct perf_target *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->kind = kind;
    size_t n = strlen(what) + (id ? strlen(id) + 3 : 0) + 1;
    t->label = malloc(n);
    if (!t->label) {
        free(t);
        return NULL;
    }
    if (id)
        snprintf(t->label, n, "%s '%s'", what, id);
    else
        snprintf(t->label, n, "%s", what);
    return t;
}

static int perf_target_finish(struct perf *perf, struct perf_target *t, int r, bool gone,
                              const char *places, struct perf_target **ret)
{
    if (r == -ENOMEM) {
        perf_log(perf, ALUMET_LOG_ERROR, "out of memory while opening the perf events of %s",
                 t->label);
    } else if (r == 0 && gone) {
        perf_log(perf, ALUMET_LOG_WARN, "%s does not exist anymore, skipping", t->label);
        r = -ESRCH;
    } else if (r == 0) {
        /* told once per kind of target: the causes were told above */
        bool *told =
            t->kind == PERF_TARGET_PROCESS ? &perf->told_nothing_task : &perf->told_nothing_cpu;
        perf_log(perf, *told ? ALUMET_LOG_DEBUG : ALUMET_LOG_WARN,
                 "no perf event could be opened for %s, skipping it", t->label);
        *told = true;
        r = -ENOENT;
    }
    if (r < 0) {
        perf_target_free(perf, t);
        return r;
    }
    size_t n_events = t->n_series / (t->kind == PERF_TARGET_PROCESS ? 1 : t->n_places);
    perf_log(perf, ALUMET_LOG_INFO, "measuring %s (%zu %s%s) with %zu perf event%s", t->label,
             t->n_places, places, t->n_places > 1 ? "s" : "", n_events, n_events > 1 ? "s" : "");
    *ret = t;
    return 0;
}

int perf_target_new_process(struct perf *perf, uint32_t pid, struct perf_target **ret)
{
    char num[16];
    snprintf(num, sizeof(num), "%u", pid);
    struct perf_target *t = perf_target_alloc(PERF_TARGET_PROCESS, "process", num);
    pid_t *tids = NULL;
    size_t n = 0;
    struct perf_place *places = NULL;
    bool gone = false;
    int r;

    if (!t) {
        perf_log(perf, ALUMET_LOG_ERROR, "out of memory while opening the perf events of %s",
                 "a process");
        return -ENOMEM;
    }
    t->pid = pid;
    r = perf_list_threads(perf, pid, &tids, &n);
    if (r == -ESRCH) {
        perf_log(perf, ALUMET_LOG_WARN, "%s does not exist, skipping", t->label);
        perf_target_free(perf, t);
        return r;
    }
    if (r < 0) {
        /* no /proc: the process itself only (its main thread, and inherit) */
        perf_log(perf, ALUMET_LOG_DEBUG, "cannot list the threads of %s: %s", t->label,
                 strerror(-r));
        tids = malloc(sizeof(*tids));
        if (tids) {
            tids[0] = (pid_t)pid;
            n = 1;
        }
    }
    places = tids ? calloc(n, sizeof(*places)) : NULL;
    if (!places) {
        r = -ENOMEM;
    } else {
        for (size_t i = 0; i < n; i++)
            places[i] = (struct perf_place){.pid = tids[i], .cpu = -1};
        r = perf_target_open(perf, t, places, n, 0, NULL, &gone);
    }
    free(places);
    free(tids);
    return perf_target_finish(perf, t, r, gone, "thread", ret);
}

/* The cgroup directory of path: path itself when it is already below
 * cgroup_root, else cgroup_root + path. */
static int perf_cgroup_open(struct perf *perf, const char *path, char *dir, size_t size)
{
    size_t rl = strlen(perf->cgroup_root);
    while (rl > 1 && perf->cgroup_root[rl - 1] == '/')
        rl--;
    if (strncmp(path, perf->cgroup_root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0'))
        snprintf(dir, size, "%s", path);
    else
        snprintf(dir, size, "%.*s%s%s", (int)rl, perf->cgroup_root, path[0] == '/' ? "" : "/",
                 path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int perf_target_new_cgroup(struct perf *perf, const char *path, struct perf_target **ret)
{
    struct perf_target *t = perf_target_alloc(PERF_TARGET_CGROUP, "cgroup", path);
    uint32_t *cpus = NULL;
    size_t n = 0;
    struct perf_place *places = NULL;
    char dir[PATH_MAX];
    bool gone = false;
    int r, cg_fd;

    if (!t || !(t->path = strdup(path))) {
        perf_target_free(perf, t);
        perf_log(perf, ALUMET_LOG_ERROR, "out of memory while opening the perf events of %s",
                 "a cgroup");
        return -ENOMEM;
    }
    cg_fd = perf_cgroup_open(perf, path, dir, sizeof(dir));
    if (cg_fd < 0) {
        perf_log(perf, ALUMET_LOG_WARN,
                 "cannot open the directory '%s' of cgroup '%s': %s (is cgroup_root '%s' the "
                 "mount point of the cgroup v2 hierarchy?), skipping",
                 dir, path, strerror(-cg_fd), perf->cgroup_root);
        perf_target_free(perf, t);
        return cg_fd;
    }
    r = perf_online_cpus(perf, &cpus, &n);
    if (r == 0) {
        places = calloc(n, sizeof(*places));
        if (!places) {
            r = -ENOMEM;
        } else {
            for (size_t i = 0; i < n; i++)
                places[i] = (struct perf_place){.pid = cg_fd, .cpu = (int)cpus[i]};
            r = perf_target_open(perf, t, places, n, PERF_FLAG_PID_CGROUP, cpus, &gone);
        }
    }
    /* the kernel holds the cgroup from perf_event_open on */
    close(cg_fd);
    free(places);
    free(cpus);
    if (r < 0 && r != -ENOMEM) {
        perf_target_free(perf, t);
        return r;
    }
    return perf_target_finish(perf, t, r, gone, "CPU", ret);
}

int perf_target_new_system(struct perf *perf, struct perf_target **ret)
{
    struct perf_target *t = perf_target_alloc(PERF_TARGET_SYSTEM, "the whole machine", NULL);
    uint32_t *cpus = NULL;
    size_t n = 0;
    struct perf_place *places = NULL;
    bool gone = false;
    int r;

    if (!t) {
        perf_log(perf, ALUMET_LOG_ERROR, "out of memory while opening the perf events of %s",
                 "the whole machine");
        return -ENOMEM;
    }
    r = perf_online_cpus(perf, &cpus, &n);
    if (r == 0) {
        places = calloc(n, sizeof(*places));
        if (!places) {
            r = -ENOMEM;
        } else {
            for (size_t i = 0; i < n; i++)
                places[i] = (struct perf_place){.pid = -1, .cpu = (int)cpus[i]};
            r = perf_target_open(perf, t, places, n, 0, cpus, &gone);
        }
    }
    free(places);
    free(cpus);
    if (r < 0 && r != -ENOMEM) {
        perf_target_free(perf, t);
        return r;
    }
    return perf_target_finish(perf, t, r, gone, "CPU", ret);
}

/* ---- reading ---- */

int perf_target_poll(struct perf *perf, struct perf_target *t, struct alumet_buffer *buf,
                     alumet_time_ns now)
{
    struct alumet_consumer consumer = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

    if (t->dead)
        return 0;
    if (t->kind == PERF_TARGET_PROCESS) {
        consumer.kind = ALUMET_CONSUMER_PROCESS;
        consumer.num = t->pid;
    } else if (t->kind == PERF_TARGET_CGROUP) {
        consumer.kind = ALUMET_CONSUMER_CGROUP;
        consumer.str = alumet_buffer_strdup(buf, t->path, (size_t)-1);
        if (!consumer.str)
            return -ENOMEM;
    }
    for (size_t i = 0; i < t->n_series; i++) {
        struct perf_series *s = &t->series[i];
        const struct perf_event_spec *e = &perf->events[s->event];
        struct perf_event_count sum = {0, 0, 0};

        for (size_t j = 0; j < s->n_fds; j++) {
            struct perf_event_count c;
            int r = perf->sys->read(perf->sys_data, s->fds[j], &c);
            if (r < 0) {
                perf_log(perf, ALUMET_LOG_WARN,
                         "cannot read perf event '%s' of %s: %s; no longer measuring %s", e->input,
                         t->label, strerror(-r), t->label);
                t->dead = true;
                return 0;
            }
            sum.value += c.value;
            sum.time_enabled += c.time_enabled;
            sum.time_running += c.time_running;
        }
        /* for the messages; perf_scaling_update guards against a shrinking sum */
        uint64_t d_enabled = sum.time_enabled - s->scaling.prev.time_enabled;
        uint64_t d_running = sum.time_running - s->scaling.prev.time_running;
        enum perf_interval kind = perf_scaling_update(&s->scaling, &sum, perf->auto_scale);
        if (kind == PERF_INTERVAL_MULTIPLEXED && !s->told_multiplexed) {
            s->told_multiplexed = true;
            perf_log(perf, ALUMET_LOG_INFO,
                     "perf event '%s' of %s is multiplexed: on the PMU %.1f%% of the time "
                     "during the last interval; %s",
                     e->input, t->label, 100.0 * (double)d_running / (double)d_enabled,
                     perf->auto_scale ? "its values are scaled (attribute accuracy = "
                                        "'extrapolated')"
                                      : "its values are not scaled (multiplexing_auto_scale = "
                                        "false) and are too low");
        } else if (kind == PERF_INTERVAL_STARVED && !s->told_starved) {
            s->told_starved = true;
            perf_log(perf, ALUMET_LOG_WARN,
                     "perf event '%s' of %s was never on the PMU during the last interval "
                     "(too many events, or another tool holds the counters): that interval is "
                     "lost and the value is underestimated",
                     e->input, t->label);
        } else if (kind == PERF_INTERVAL_MULTIPLEXED) {
            perf_log(perf, ALUMET_LOG_DEBUG, "perf event '%s' of %s: running %.1f%% of the time",
                     e->input, t->label, 100.0 * (double)d_running / (double)d_enabled);
        }
        struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
        if (s->cpu != PERF_NO_CPU) {
            res.kind = ALUMET_RESOURCE_CPU_CORE;
            res.num = s->cpu;
        }
        struct alumet_point *p = alumet_buffer_push_u64(buf, now, perf->ev[s->event].metric, &res,
                                                        &consumer, s->scaling.total);
        if (!p || alumet_point_add_attr_str(buf, p, "accuracy",
                                            perf_accuracy_name(s->scaling.accuracy)) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* ---- probe ---- */

size_t perf_probe_events(struct perf *perf)
{
    struct perf_target self = {.kind = PERF_TARGET_PROCESS, .label = "the agent itself"};
    size_t usable = 0;
    /* unsupported events are told in one warning (a VM refuses them all) */
    size_t unsupported[64], n_unsupported = 0;
    int unsupported_err[64];

    for (size_t i = 0; i < perf->n_events; i++) {
        struct perf_event_attr attr;
        if (perf->ev[i].unsupported)
            continue;
        perf_event_spec_attr(&perf->events[i], false, &attr);
        int fd = perf->sys->open(perf->sys_data, &attr, 0, -1, 0);
        if (fd >= 0) {
            perf->sys->close(perf->sys_data, fd);
            usable++;
            continue;
        }
        enum perf_failure f = perf_failure_of(fd);
        if (f == PERF_FAILURE_UNSUPPORTED && n_unsupported < 64) {
            unsupported_err[n_unsupported] = -fd;
            unsupported[n_unsupported++] = i;
        } else if (f == PERF_FAILURE_UNSUPPORTED) {
            perf_report_failure(perf, &self, i, -fd);
        } else if (f == PERF_FAILURE_DENIED) {
            /* the processes of this user will be denied too: say why once */
            if (!perf->explained_denied_task) {
                struct perf_explain_ctx ctx;
                char msg[2048];
                perf_explain_ctx_init(perf, &self, i, &ctx);
                perf_explain(-fd, &ctx, msg, sizeof(msg));
                perf_log(perf, ALUMET_LOG_WARN, "%s", msg);
                perf->explained_denied_task = true;
            }
            /* the agent's own processes are denied too: no more warnings */
            perf->ev[i].denied_task = true;
        } else {
            /* something about this moment (EMFILE, EBUSY): the targets will tell */
            perf_log(perf, ALUMET_LOG_DEBUG, "probe of perf event '%s': %s", perf->events[i].input,
                     strerror(-fd));
            usable++;
        }
    }
    if (n_unsupported == 1) {
        perf_report_failure(perf, &self, unsupported[0], unsupported_err[0]);
    } else if (n_unsupported > 1) {
        /* one warning for all of them: a VM refuses every hardware event */
        char names[2048];
        size_t w = 0;
        bool hardware = false;
        for (size_t k = 0; k < n_unsupported; k++) {
            size_t i = unsupported[k];
            perf->ev[i].unsupported = true;
            hardware |= perf_event_spec_is_hardware(&perf->events[i]);
            if (w < sizeof(names))
                w += (size_t)snprintf(names + w, sizeof(names) - w, "%s'%s' (%s)", k ? ", " : "",
                                      perf->events[i].input,
                                      perf_unsupported_reason(unsupported_err[k]));
        }
        perf_log(perf, ALUMET_LOG_WARN,
                 "perf events not supported by this CPU or kernel: %s%s, skipping them", names,
                 hardware ? PERF_VM_HINT : "");
    }
    return usable;
}
