/* SPDX-License-Identifier: MIT */
/* Process measurement: the source "process-watcher" finds new processes
 * every refresh_interval and hands each one to the first group whose filters
 * accept it; every group has one source ("process-group-<i>", or
 * "process-events" for the event strategy) that measures its processes with
 * the group's poll and flush intervals.
 *
 * Upstream creates one source per process at run time ("pid-<pid>"); the
 * pipeline of this agent takes its sources before it starts, so a group
 * source measures a changing set of processes instead. The points are the
 * same: one consumer process{pid} per process.
 *
 * Each measured process keeps /proc/<pid>/stat and its memory file open.
 * When the process ends, a read of these descriptors fails with ESRCH, so a
 * reused pid is never mistaken for the old process; the start time from
 * stat is compared as well (fixture trees are plain files). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

struct procfs_proc {
    pid_t pid;
    uint64_t starttime;         /* fingerprint: clock ticks after boot */
    struct procfile stat;       /* /proc/<pid>/stat */
    struct procfile mem;        /* statm or smaps_rollup, fd -1 when not readable */
    struct procfs_pid_stat now; /* read by the current poll */
    /* at the previous poll, in clock ticks: user and system time (with the
     * children's when the group measures descendants), children's times, guest */
    uint64_t user, sys, cutime, cstime, guest;
    int64_t ppid;
    /* ticks already reported for descendants that have gone, to take back
     * from the children's times when this process waits for them */
    uint64_t credit_user, credit_sys;
    alumet_time_ns last; /* monotonic time of the previous poll */
    bool gone;           /* the current poll found it gone */
    bool measured;       /* a poll already emitted the values since process start */
    bool rebase;         /* after a pause: take a new baseline, emit no CPU point */
};

struct procfs_group_source {
    struct procfs *pfs;
    struct procfs_group *g;
    struct procfs_proc *procs; /* in the order they were found */
    size_t n, cap;
    struct procfs_request *drain; /* swapped with the group's queue */
    size_t n_drain, cap_drain;
    char *scratch; /* PROCFS_SCRATCH bytes for one-shot reads */
};

struct procfs_seen {
    pid_t pid;
    uint64_t starttime;
};

struct procfs_watcher_source {
    struct procfs *pfs;
    DIR *dir; /* listing of /proc, rewound at every refresh */
    struct procfs_seen *seen, *next;
    size_t n_seen, cap_seen, n_next, cap_next;
    char *scratch;
};

#define PROCFS_SCRATCH 4096

static const struct alumet_resource procfs_machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

static bool procfs_gone(int r)
{
    return r == -ESRCH || r == -ENOENT;
}

/* Open, read and close a small file below the proc root into buf
 * (NUL-terminated). Returns the length or a negative errno. */
static ssize_t procfs_read_once(struct procfs *pfs, const char *rel, char *buf, size_t size)
{
    int fd = fsroot_openat(&pfs->proc, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            close(fd);
            return r;
        }
        if (n == 0 || (len += (size_t)n) >= size - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Report a failure to open a file of /proc/<pid>: permission problems and
 * the descriptor limit once, a vanished process never. */
static void procfs_open_failed(struct procfs *pfs, const char *rel, int r)
{
    if (procfs_gone(r))
        return;
    if (r == -EACCES || r == -EPERM) {
        procfs_warn_access(pfs, rel, r);
    } else if ((r == -EMFILE || r == -ENFILE) && !pfs->warned_fd_limit) {
        char path[PATH_MAX];
        fsroot_path(&pfs->proc, rel, path, sizeof(path));
        pfs->warned_fd_limit = true;
        procfs_warn(pfs,
                    "cannot open '%s': %s; raise the limit of open files of the agent "
                    "(ulimit -Hn, LimitNOFILE=) or measure fewer processes "
                    "(plugins.procfs.processes.groups), skipping the processes that do not fit",
                    path, strerror(-r));
    } else {
        procfs_debug(pfs, "cannot open '%s': %s, skipping", rel, strerror(-r));
    }
}

/* ---- /proc/<pid>/stat ---- */

/* Parse the fields of /proc/<pid>/stat that we need. The command name is in
 * parentheses and may itself contain spaces and parentheses, so the fields
 * are counted from the last ')':
 *   4242 (sleep) S 1 4242 4242 0 -1 4194304 100 0 0 0 150 30 0 0 20 0 1 0 123456 8388608 ...
 *   1    2       3 4 ...                              14  15             22     23
 * (3 state, 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime, 22 starttime, 23 vsize,
 *  43 guest_time) */
int procfs_pid_stat_parse(const char *text, size_t len, struct procfs_pid_stat *ret)
{
    struct procfile_scan s = procfile_scan_of(text, len);
    struct procfs_pid_stat st = {0};
    uint64_t pid;

    if (procfile_scan_u64(&s, &pid) < 0 || pid == 0 || pid > INT32_MAX)
        return -EINVAL;
    const char *close_paren = NULL;
    for (const char *c = s.p; c < s.end; c++)
        if (*c == ')')
            close_paren = c;
    if (!close_paren)
        return -EINVAL;
    s.p = close_paren + 1;

    const char *w;
    if (procfile_scan_word(&s, &w) == 0) /* 3: state */
        return -EINVAL;
    if (procfile_scan_i64(&s, &st.ppid) < 0) /* 4 */
        return -EINVAL;
    if (procfile_scan_skip_words(&s, 9) != 9) /* 5..13 */
        return -EINVAL;
    if (procfile_scan_u64(&s, &st.utime) < 0 || procfile_scan_u64(&s, &st.stime) < 0)
        return -EINVAL;
    int64_t cutime, cstime;
    if (procfile_scan_i64(&s, &cutime) < 0 || procfile_scan_i64(&s, &cstime) < 0)
        return -EINVAL;
    st.cutime = cutime > 0 ? (uint64_t)cutime : 0;
    st.cstime = cstime > 0 ? (uint64_t)cstime : 0;
    if (procfile_scan_skip_words(&s, 4) != 4) /* 18..21 */
        return -EINVAL;
    if (procfile_scan_u64(&s, &st.starttime) < 0 || procfile_scan_u64(&s, &st.vsize) < 0)
        return -EINVAL;
    /* 24..42, then guest_time (kernels since 2.6.24) */
    if (procfile_scan_skip_words(&s, 19) == 19 && procfile_scan_u64(&s, &st.guest_time) == 0)
        st.has_guest = true;
    st.pid = (pid_t)pid;
    *ret = st;
    return 0;
}

/* ---- one process ---- */

static void procfs_proc_close(struct procfs_proc *p)
{
    procfile_close(&p->stat);
    procfile_close(&p->mem);
}

/* Start measuring pid. starttime, when not 0, is the fingerprint that the
 * watcher saw: another process with the same pid is not ours. Returns 0,
 * -ESRCH when the process is not there (or not the expected one), another
 * negative errno when it cannot be read (already reported), or -ENOMEM. */
static int procfs_proc_open(struct procfs *pfs, const struct procfs_group *g, pid_t pid,
                            uint64_t starttime, struct procfs_proc *ret)
{
    struct procfs_proc p = {.pid = pid, .stat = PROCFILE_INIT, .mem = PROCFILE_INIT};
    char rel[64];
    struct procfs_pid_stat st;

    snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
    int r = procfile_open(&p.stat, pfs->proc.fd, rel, 512);
    if (r < 0) {
        procfs_open_failed(pfs, rel, r);
        return procfs_gone(r) ? -ESRCH : r;
    }
    r = procfile_read(&p.stat);
    if (r == 0 && p.stat.len == 0)
        r = -ESRCH;
    if (r < 0) {
        procfs_open_failed(pfs, rel, r);
        goto err_close;
    }
    if (procfs_pid_stat_parse(p.stat.buf, p.stat.len, &st) < 0) {
        procfs_debug(pfs, "cannot parse '%s', skipping", rel);
        r = -EINVAL;
        goto err_close;
    }
    if (starttime && st.starttime != starttime) {
        r = -ESRCH; /* the pid was reused since the watcher saw it */
        goto err_close;
    }
    p.starttime = st.starttime;

    bool accurate = g->memory_mode == PROCFS_MEMORY_ACCURATE;
    snprintf(rel, sizeof(rel), accurate ? "proc/%d/smaps_rollup" : "proc/%d/statm", (int)pid);
    r = procfile_open(&p.mem, pfs->proc.fd, rel, accurate ? 1024 : 128);
    if (r == -ENOMEM)
        goto err_close;
    if (r < 0) {
        /* CPU times are still measured: smaps_rollup needs ptrace access */
        procfs_open_failed(pfs, rel, r);
        p.mem = (struct procfile)PROCFILE_INIT;
    }
    *ret = p;
    return 0;

err_close:
    procfs_proc_close(&p);
    return r == -ENOMEM ? r : (procfs_gone(r) ? -ESRCH : r);
}

/* The memory of the process in quick mode, in pages:
 *   2048 200 150 5 0 300 0      (size resident shared text lib data dirty) */
static int procfs_statm_parse(const char *text, size_t len, uint64_t ret[3])
{
    struct procfile_scan s = procfile_scan_of(text, len);
    uint64_t size, resident, shared;

    if (procfile_scan_u64(&s, &size) < 0 || procfile_scan_u64(&s, &resident) < 0 ||
        procfile_scan_u64(&s, &shared) < 0)
        return -EINVAL;
    ret[0] = size;
    ret[1] = resident;
    ret[2] = shared;
    return 0;
}

/* The memory of the process in accurate mode, in kB:
 *   55d0c0a00000-7ffd5e3f2000 ---p 00000000 00:00 0    [rollup]
 *   Rss:                 800 kB
 *   Pss:                 400 kB
 *   Shared_Clean:        300 kB
 *   Shared_Dirty:          8 kB
 * ret: Rss, Pss, Shared_Clean + Shared_Dirty. */
static int procfs_smaps_parse(const char *text, size_t len, uint64_t ret[3])
{
    struct procfile_scan s = procfile_scan_of(text, len);
    static const char *const keys[4] = {"Rss:", "Pss:", "Shared_Clean:", "Shared_Dirty:"};
    uint64_t v[4] = {0};
    unsigned found = 0;

    for (; !procfile_scan_eof(&s); procfile_scan_next_line(&s)) {
        const char *w;
        size_t wl = procfile_scan_word(&s, &w);
        for (unsigned k = 0; k < 4; k++) {
            if (wl == strlen(keys[k]) && memcmp(w, keys[k], wl) == 0) {
                if (procfile_scan_u64(&s, &v[k]) < 0)
                    return -EINVAL;
                found |= 1u << k;
                break;
            }
        }
    }
    if (found != 0xf)
        return -EINVAL;
    ret[0] = v[0];
    ret[1] = v[1];
    ret[2] = v[2] + v[3];
    return 0;
}

static int procfs_push_kind_u64(struct alumet_buffer *buf, alumet_time_ns now,
                                alumet_metric_id metric, const struct alumet_consumer *c,
                                const char *kind, uint64_t value)
{
    struct alumet_point *p = alumet_buffer_push_u64(buf, now, metric, &procfs_machine, c, value);
    if (!p)
        return -ENOMEM;
    return alumet_point_add_attr_str(buf, p, "kind", kind);
}

static int procfs_push_kind_f64(struct alumet_buffer *buf, alumet_time_ns now,
                                alumet_metric_id metric, const struct alumet_consumer *c,
                                const char *kind, double value)
{
    struct alumet_point *p = alumet_buffer_push_f64(buf, now, metric, &procfs_machine, c, value);
    if (!p)
        return -ENOMEM;
    return alumet_point_add_attr_str(buf, p, "kind", kind);
}

/* Emit the memory points (proportional, resident, shared, virtual). A
 * process whose memory is gone (a zombie, a kernel thread) has none. */
static int procfs_proc_memory(struct procfs *pfs, const struct procfs_group *g,
                              struct procfs_proc *p, const struct procfs_pid_stat *st,
                              struct alumet_buffer *buf, alumet_time_ns now,
                              const struct alumet_consumer *c)
{
    alumet_metric_id m = pfs->m.memory_usage;
    uint64_t v[3];

    if (p->mem.fd < 0 || procfile_read(&p->mem) < 0)
        return 0;
    if (g->memory_mode == PROCFS_MEMORY_ACCURATE) {
        if (procfs_smaps_parse(p->mem.buf, p->mem.len, v) < 0)
            return 0;
        if (procfs_push_kind_u64(buf, now, m, c, "proportional", v[1] * 1024) < 0 ||
            procfs_push_kind_u64(buf, now, m, c, "resident", v[0] * 1024) < 0 ||
            procfs_push_kind_u64(buf, now, m, c, "shared", v[2] * 1024) < 0 ||
            procfs_push_kind_u64(buf, now, m, c, "virtual", st->vsize) < 0)
            return -ENOMEM;
        return 0;
    }
    if (procfs_statm_parse(p->mem.buf, p->mem.len, v) < 0)
        return 0;
    uint64_t page = (uint64_t)pfs->page_size;
    if (procfs_push_kind_u64(buf, now, m, c, "resident", v[1] * page) < 0 ||
        procfs_push_kind_u64(buf, now, m, c, "shared", v[2] * page) < 0 ||
        procfs_push_kind_u64(buf, now, m, c, "virtual", v[0] * page) < 0)
        return -ENOMEM;
    return 0;
}

static uint64_t procfs_ticks_delta(uint64_t now, uint64_t before)
{
    return now >= before ? now - before : 0;
}

/* Phase 1 of a poll: read the stat of the process into p->now. Returns 0, 1
 * when the process has gone (or its pid now belongs to another process), or
 * -ENOMEM. */
static int procfs_proc_read(struct procfs *pfs, struct procfs_proc *p)
{
    int r = procfile_read(&p->stat);
    if (r == -ENOMEM)
        return r;
    if (r < 0 || p->stat.len == 0) {
        if (r < 0 && !procfs_gone(r))
            procfs_debug(pfs, "cannot read the stat of process %d: %s, skipping it", (int)p->pid,
                         strerror(-r));
        return 1;
    }
    if (procfs_pid_stat_parse(p->stat.buf, p->stat.len, &p->now) < 0 ||
        p->now.starttime != p->starttime)
        return 1;
    return 0;
}

/* User and system time of the process, in ticks. With descendants, the
 * times of the children it has waited for are included: a descendant that
 * runs and ends between two polls is then still counted (in its parent). */
static void procfs_proc_times(const struct procfs_group *g, const struct procfs_pid_stat *st,
                              uint64_t *user, uint64_t *sys)
{
    *user = st->utime;
    *sys = st->stime;
    if (g->descendants) {
        *user += st->cutime;
        *sys += st->cstime;
    }
}

/* Phase 2, for a process that has gone: what we reported for it is now part
 * of the children times of the parent that waited for it, so the parent
 * must not report it again. */
static void procfs_proc_credit_parent(struct procfs_group_source *src,
                                      const struct procfs_proc *gone)
{
    if (!src->g->descendants || !gone->measured || gone->ppid <= 0)
        return;
    for (size_t i = 0; i < src->n; i++) {
        struct procfs_proc *parent = &src->procs[i];
        if (parent->pid == gone->ppid && !parent->gone) {
            parent->credit_user += gone->user;
            parent->credit_sys += gone->sys;
            return;
        }
    }
}

/* Take back from the children part of a delta what was already reported for
 * children that have gone. */
static uint64_t procfs_apply_credit(uint64_t delta, uint64_t children_delta, uint64_t *credit)
{
    uint64_t take = *credit < children_delta ? *credit : children_delta;
    *credit -= take;
    return delta - take;
}

/* Phase 3: emit the points of a process read by procfs_proc_read. Returns 0
 * or -ENOMEM. */
static int procfs_proc_emit(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p,
                            struct alumet_buffer *buf, alumet_time_ns now, alumet_time_ns mono)
{
    const struct procfs_pid_stat *st = &p->now;
    const struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, (uint32_t)p->pid, NULL, NULL};

    int r = procfs_proc_memory(pfs, g, p, st, buf, now, &c);
    if (r < 0)
        return r;

    uint64_t user, sys;
    procfs_proc_times(g, st, &user, &sys);
    if (p->rebase) {
        p->rebase = false;
        p->credit_user = p->credit_sys = 0;
        goto out;
    }
    /* the first measurement reports the CPU time since the process started */
    uint64_t du = procfs_ticks_delta(user, p->measured ? p->user : 0);
    uint64_t ds = procfs_ticks_delta(sys, p->measured ? p->sys : 0);
    uint64_t dg = procfs_ticks_delta(st->guest_time, p->measured ? p->guest : 0);
    if (g->descendants) {
        du = procfs_apply_credit(du, procfs_ticks_delta(st->cutime, p->measured ? p->cutime : 0),
                                 &p->credit_user);
        ds = procfs_apply_credit(ds, procfs_ticks_delta(st->cstime, p->measured ? p->cstime : 0),
                                 &p->credit_sys);
    }
    uint64_t ns_per_tick = pfs->clk_tck > 0 ? (uint64_t)(ALUMET_NSEC_PER_SEC / pfs->clk_tck) : 0;
    alumet_metric_id m = pfs->m.cpu_time_delta;
    if (procfs_push_kind_u64(buf, now, m, &c, "user", du * ns_per_tick) < 0 ||
        procfs_push_kind_u64(buf, now, m, &c, "system", ds * ns_per_tick) < 0)
        return -ENOMEM;
    if (st->has_guest && procfs_push_kind_u64(buf, now, m, &c, "guest", dg * ns_per_tick) < 0)
        return -ENOMEM;

    alumet_time_ns dt = mono - p->last;
    if (p->measured && dt > 0 && pfs->n_cpus > 0) {
        double user_pct = 100.0 * ((double)(du * ns_per_tick) / (double)dt) / pfs->n_cpus;
        double sys_pct = 100.0 * ((double)(ds * ns_per_tick) / (double)dt) / pfs->n_cpus;
        double total = 100.0 * ((double)((du + ds) * ns_per_tick) / (double)dt) / pfs->n_cpus;
        m = pfs->m.cpu_percent;
        if (procfs_push_kind_f64(buf, now, m, &c, "user", user_pct) < 0 ||
            procfs_push_kind_f64(buf, now, m, &c, "system", sys_pct) < 0 ||
            procfs_push_kind_f64(buf, now, m, &c, "total", total) < 0)
            return -ENOMEM;
    }
out:
    p->user = user;
    p->sys = sys;
    p->cutime = st->cutime;
    p->cstime = st->cstime;
    p->guest = st->guest_time;
    p->ppid = st->ppid;
    p->last = mono;
    p->measured = true;
    return 0;
}

/* ---- a group's source ---- */

int procfs_group_push(struct procfs_group *g, const struct procfs_request *req)
{
    int r = 0;

    pthread_mutex_lock(&g->lock);
    void *grown = procfs_grow(g->queue, &g->cap_queue, g->n_queue + 1, sizeof(*g->queue));
    if (grown) {
        g->queue = grown;
        g->queue[g->n_queue++] = *req;
    } else {
        r = -ENOMEM;
    }
    pthread_mutex_unlock(&g->lock);
    return r;
}

static void procfs_request_done(struct procfs_request *req)
{
    if (req->proc) {
        procfs_proc_close(req->proc);
        free(req->proc);
        req->proc = NULL;
    }
}

void procfs_group_clear(struct procfs_group *g)
{
    if (g->lock_ready)
        pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->n_queue; i++)
        procfs_request_done(&g->queue[i]);
    g->n_queue = 0;
    if (g->lock_ready)
        pthread_mutex_unlock(&g->lock);
}

void procfs_group_done(struct procfs_group *g)
{
    procfs_group_clear(g);
    free(g->queue);
    g->queue = NULL;
    g->n_queue = g->cap_queue = 0;
    if (g->has_regex)
        regfree(&g->regex);
    g->has_regex = false;
    free(g->exe_regex);
    g->exe_regex = NULL;
}

int procfs_group_source_new(struct procfs *pfs, struct procfs_group *g,
                            struct procfs_group_source **ret)
{
    struct procfs_group_source *src = calloc(1, sizeof(*src));
    if (!src)
        return -ENOMEM;
    src->scratch = malloc(PROCFS_SCRATCH);
    if (!src->scratch) {
        free(src);
        return -ENOMEM;
    }
    src->pfs = pfs;
    src->g = g;
    *ret = src;
    return 0;
}

static void procfs_group_source_free(void *data)
{
    struct procfs_group_source *src = data;
    if (!src)
        return;
    for (size_t i = 0; i < src->n; i++)
        procfs_proc_close(&src->procs[i]);
    if (src->g->source == src)
        src->g->source = NULL;
    free(src->procs);
    free(src->drain);
    free(src->scratch);
    free(src);
}

static void procfs_group_source_reset(void *data)
{
    struct procfs_group_source *src = data;
    /* after a pause, the next poll takes a new baseline: no delta spans the pause */
    for (size_t i = 0; i < src->n; i++)
        src->procs[i].rebase = src->procs[i].measured;
}

size_t procfs_group_source_count(const struct procfs_group_source *src)
{
    return src->n;
}

pid_t procfs_group_source_pid(const struct procfs_group_source *src, size_t i)
{
    return i < src->n ? src->procs[i].pid : 0;
}

static ssize_t procfs_group_find(const struct procfs_group_source *src, pid_t pid)
{
    for (size_t i = 0; i < src->n; i++)
        if (src->procs[i].pid == pid)
            return (ssize_t)i;
    return -1;
}

static void procfs_group_remove(struct procfs_group_source *src, size_t i)
{
    procfs_proc_close(&src->procs[i]);
    memmove(&src->procs[i], &src->procs[i + 1], (src->n - i - 1) * sizeof(*src->procs));
    src->n--;
}

/* Start measuring pid in this group. 1 when added, 0 when it is not there
 * (or already measured), -ENOMEM. */
static int procfs_group_track(struct procfs_group_source *src, pid_t pid, uint64_t starttime)
{
    ssize_t at = procfs_group_find(src, pid);
    if (at >= 0) {
        if (!starttime || src->procs[at].starttime == starttime)
            return 0;
        /* the watcher saw a new process under a pid we measure: ours has gone */
        procfs_group_remove(src, (size_t)at);
    }
    void *grown = procfs_grow(src->procs, &src->cap, src->n + 1, sizeof(*src->procs));
    if (!grown)
        return -ENOMEM;
    src->procs = grown;
    int r = procfs_proc_open(src->pfs, src->g, pid, starttime, &src->procs[src->n]);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return 0;
    src->n++;
    procfs_debug(src->pfs, "%s: measuring process %d", src->g->name, (int)pid);
    return 1;
}

/* Take the requests queued by the watcher or by the events. */
static int procfs_group_drain(struct procfs_group_source *src)
{
    struct procfs_group *g = src->g;

    pthread_mutex_lock(&g->lock);
    struct procfs_request *q = g->queue;
    size_t n = g->n_queue, cap = g->cap_queue;
    g->queue = src->drain;
    g->cap_queue = src->cap_drain;
    g->n_queue = 0;
    pthread_mutex_unlock(&g->lock);
    src->drain = q;
    src->cap_drain = cap;
    src->n_drain = n;

    int r = 0;
    for (size_t i = 0; i < src->n_drain; i++) {
        struct procfs_request *req = &src->drain[i];
        if (r < 0) {
            procfs_request_done(req);
            continue;
        }
        ssize_t at = req->remove || req->proc ? procfs_group_find(src, req->pid) : -1;
        if (at >= 0) /* forgotten, or a pid that another process now has */
            procfs_group_remove(src, (size_t)at);
        if (req->proc) {
            /* opened and measured once by the watcher */
            void *grown = procfs_grow(src->procs, &src->cap, src->n + 1, sizeof(*src->procs));
            if (!grown) {
                r = -ENOMEM;
                procfs_request_done(req);
                continue;
            }
            src->procs = grown;
            src->procs[src->n++] = *req->proc;
            free(req->proc);
            req->proc = NULL;
        } else if (!req->remove) {
            r = procfs_group_track(src, req->pid, req->starttime);
        }
    }
    src->n_drain = 0;
    return r < 0 ? r : 0;
}

/* Children of pid from /proc/<pid>/task/<tid>/children ("7001 7002 "). 0,
 * -ENOENT when the kernel has no such file (CONFIG_PROC_CHILDREN), -ENOMEM. */
static int procfs_group_children(struct procfs_group_source *src, pid_t pid)
{
    struct procfs *pfs = src->pfs;
    char rel[96];
    DIR *d;

    snprintf(rel, sizeof(rel), "proc/%d/task", (int)pid);
    int r = fsroot_opendir(&pfs->proc, rel, &d);
    if (r < 0)
        return 0; /* the process has gone: the next poll notices it */
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        snprintf(rel, sizeof(rel), "proc/%d/task/%.20s/children", (int)pid, e->d_name);
        ssize_t len = procfs_read_once(pfs, rel, src->scratch, PROCFS_SCRATCH);
        if (len == -ENOENT) {
            /* the thread has gone, or the kernel lacks the file: tell them apart */
            snprintf(rel, sizeof(rel), "proc/%d/task/%.20s", (int)pid, e->d_name);
            int fd = fsroot_openat(&pfs->proc, rel, O_RDONLY | O_DIRECTORY);
            if (fd >= 0) {
                close(fd);
                r = -ENOENT;
                break;
            }
            continue;
        }
        if (len < 0)
            continue;
        struct procfile_scan s = procfile_scan_of(src->scratch, (size_t)len);
        uint64_t child;
        while (procfile_scan_u64(&s, &child) == 0) {
            if (child == 0 || child > INT32_MAX)
                continue;
            r = procfs_group_track(src, (pid_t)child, 0);
            if (r < 0)
                break;
            r = 0;
        }
        if (r < 0)
            break;
    }
    closedir(d);
    return r;
}

/* Without children files: look for processes whose parent is measured. */
static int procfs_group_scan_ppids(struct procfs_group_source *src)
{
    struct procfs *pfs = src->pfs;
    DIR *d;

    int r = fsroot_opendir(&pfs->proc, "proc", &d);
    if (r < 0)
        return 0;
    /* a pass finds the children of the processes known before it; repeat for
     * the grandchildren listed before their parent */
    for (int pass = 0; pass < 8; pass++) {
        bool added = false;
        struct dirent *e;
        rewinddir(d);
        while ((e = readdir(d))) {
            char *end;
            long pid = strtol(e->d_name, &end, 10);
            if (*end || pid <= 0 || pid > INT32_MAX || procfs_group_find(src, (pid_t)pid) >= 0)
                continue;
            char rel[64];
            struct procfs_pid_stat st;
            snprintf(rel, sizeof(rel), "proc/%ld/stat", pid);
            ssize_t len = procfs_read_once(pfs, rel, src->scratch, PROCFS_SCRATCH);
            if (len <= 0 || procfs_pid_stat_parse(src->scratch, (size_t)len, &st) < 0)
                continue;
            if (st.ppid <= 0 || st.ppid > INT32_MAX || procfs_group_find(src, (pid_t)st.ppid) < 0)
                continue;
            r = procfs_group_track(src, (pid_t)pid, st.starttime);
            if (r < 0)
                goto out;
            added |= r > 0;
        }
        if (!added)
            break;
    }
    r = 0;
out:
    closedir(d);
    return r;
}

/* Add the descendants of the measured processes (event strategy: the child
 * of exec and everything it starts). */
static int procfs_group_descendants(struct procfs_group_source *src)
{
    struct procfs *pfs = src->pfs;

    if (src->n == 0)
        return 0;
    if (!pfs->no_children_file) {
        /* src->n grows while we go: the children of new children are found too */
        for (size_t i = 0; i < src->n; i++) {
            int r = procfs_group_children(src, src->procs[i].pid);
            if (r == -ENOMEM)
                return r;
            if (r == -ENOENT) {
                procfs_debug(pfs, "no /proc/<pid>/task/<tid>/children files (kernel built "
                                  "without CONFIG_PROC_CHILDREN): looking for children by "
                                  "their parent pid");
                pfs->no_children_file = true;
                break;
            }
        }
        if (!pfs->no_children_file)
            return 0;
    }
    return procfs_group_scan_ppids(src);
}

/* A group of the watcher once the agent has announced a process (exec_mode):
 * forget its processes and what the watcher queued. */
static void procfs_group_stand_down(struct procfs_group_source *src)
{
    if (src->n)
        procfs_debug(src->pfs, "%s: measuring the announced process instead of %zu processes",
                     src->g->name, src->n);
    while (src->n)
        procfs_group_remove(src, src->n - 1);
    procfs_group_clear(src->g);
}

static int procfs_group_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                    struct alumet_error *err)
{
    struct procfs_group_source *src = data;
    alumet_time_ns mono = procfs_now(src->pfs);

    if (src->g != &src->pfs->events && atomic_load(&src->pfs->exec_mode)) {
        procfs_group_stand_down(src);
        return ALUMET_POLL_OK;
    }

    int r = procfs_group_drain(src);
    if (r == 0 && src->g->descendants)
        r = procfs_group_descendants(src);
    /* read every stat first (parents before children, in the order they were
     * found), settle the processes that have gone, then emit */
    for (size_t i = 0; r == 0 && i < src->n; i++) {
        r = procfs_proc_read(src->pfs, &src->procs[i]);
        src->procs[i].gone = r == 1;
        if (r == 1)
            r = 0;
    }
    for (size_t i = 0; r == 0 && i < src->n;) {
        if (!src->procs[i].gone) {
            i++;
            continue;
        }
        procfs_debug(src->pfs, "%s: process %d has ended", src->g->name, (int)src->procs[i].pid);
        procfs_proc_credit_parent(src, &src->procs[i]);
        procfs_group_remove(src, i);
    }
    for (size_t i = 0; r == 0 && i < src->n; i++)
        r = procfs_proc_emit(src->pfs, src->g, &src->procs[i], buf, now, mono);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    return ALUMET_POLL_OK;
}

const struct alumet_source_ops procfs_group_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = procfs_group_source_poll,
    .reset = procfs_group_source_reset,
    .free = procfs_group_source_free,
};

/* ---- the watcher ---- */

int procfs_watcher_source_new(struct procfs *pfs, struct procfs_watcher_source **ret)
{
    struct procfs_watcher_source *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->pfs = pfs;
    w->scratch = malloc(PATH_MAX > PROCFS_SCRATCH ? PATH_MAX : PROCFS_SCRATCH);
    if (!w->scratch) {
        free(w);
        return -ENOMEM;
    }
    int r = fsroot_opendir(&pfs->proc, "proc", &w->dir);
    if (r < 0) {
        free(w->scratch);
        free(w);
        return r;
    }
    *ret = w;
    return 0;
}

static void procfs_watcher_source_free(void *data)
{
    struct procfs_watcher_source *w = data;
    if (!w)
        return;
    if (w->dir)
        closedir(w->dir);
    free(w->seen);
    free(w->next);
    free(w->scratch);
    free(w);
}

static int procfs_seen_cmp(const void *a, const void *b)
{
    const struct procfs_seen *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Whether group g accepts the process: every filter it has must hold. */
static bool procfs_group_match(struct procfs_watcher_source *w, const struct procfs_group *g,
                               const struct procfs_pid_stat *st)
{
    if (g->pid != -1 && g->pid != st->pid)
        return false;
    if (g->ppid != -1 && g->ppid != st->ppid)
        return false;
    if (!g->has_regex)
        return true;
    char rel[64];
    snprintf(rel, sizeof(rel), "proc/%d/exe", (int)st->pid);
    ssize_t n = fsroot_readlink(&w->pfs->proc, rel, w->scratch, PATH_MAX);
    if (n < 0) {
        /* kernel threads have no exe (ENOENT) */
        procfs_open_failed(w->pfs, rel, (int)n);
        return false;
    }
    return regexec(&g->regex, w->scratch, 0, NULL, 0) == 0;
}

/* Open a new process for group g and measure it at once, as upstream's new
 * sources do (so a process is measured from the refresh that found it, even
 * when the group's source is polled before the watcher), then hand it to the
 * group. 0 (also when the process has gone), or -ENOMEM. */
static int procfs_watcher_hand_over(struct procfs_watcher_source *w, struct procfs_group *g,
                                    pid_t pid, uint64_t starttime, struct alumet_buffer *buf,
                                    alumet_time_ns now, alumet_time_ns mono)
{
    struct procfs_proc *proc = calloc(1, sizeof(*proc));
    if (!proc)
        return -ENOMEM;
    int r = procfs_proc_open(w->pfs, g, pid, starttime, proc);
    if (r < 0)
        goto out_free;
    r = procfs_proc_read(w->pfs, proc);
    if (r == 0)
        r = procfs_proc_emit(w->pfs, g, proc, buf, now, mono);
    if (r != 0)
        goto out_close;
    struct procfs_request req = {.pid = pid, .starttime = starttime, .proc = proc};
    r = procfs_group_push(g, &req);
    if (r < 0)
        goto out_close;
    return 0;

out_close:
    procfs_proc_close(proc);
out_free:
    free(proc);
    return r == -ENOMEM ? r : 0;
}

static int procfs_watcher_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                      struct alumet_error *err)
{
    struct procfs_watcher_source *w = data;
    struct procfs *pfs = w->pfs;
    alumet_time_ns mono = procfs_now(pfs);
    struct dirent *e;

    /* under exec and watch the events group measures the announced process:
     * no listing of /proc (exec_strategy "event") */
    if (atomic_load(&pfs->exec_mode))
        return ALUMET_POLL_OK;
    w->n_next = 0;
    rewinddir(w->dir);
    for (;;) {
        if (atomic_load(&pfs->exec_mode))
            return ALUMET_POLL_OK; /* announced during this listing */
        errno = 0;
        e = readdir(w->dir);
        if (!e)
            break;
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid > INT32_MAX)
            continue;

        char rel[64];
        struct procfs_pid_stat st;
        snprintf(rel, sizeof(rel), "proc/%ld/stat", pid);
        ssize_t len = procfs_read_once(pfs, rel, w->scratch, PROCFS_SCRATCH);
        if (len < 0) {
            /* a process that ends between the listing and the read is skipped silently */
            procfs_open_failed(pfs, rel, (int)len);
            continue;
        }
        if (len == 0 || procfs_pid_stat_parse(w->scratch, (size_t)len, &st) < 0)
            continue;

        void *grown = procfs_grow(w->next, &w->cap_next, w->n_next + 1, sizeof(*w->next));
        if (!grown)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        w->next = grown;
        struct procfs_seen key = {(pid_t)pid, st.starttime};
        w->next[w->n_next++] = key;

        const struct procfs_seen *known =
            w->seen ? bsearch(&key, w->seen, w->n_seen, sizeof(*w->seen), procfs_seen_cmp) : NULL;
        if (known && known->starttime == st.starttime)
            continue;
        /* a new process, or a new process under a reused pid: the first group
         * that accepts it measures it */
        for (size_t i = 0; i < pfs->n_groups; i++) {
            struct procfs_group *g = &pfs->groups[i];
            if (!procfs_group_match(w, g, &st))
                continue;
            int r = procfs_watcher_hand_over(w, g, (pid_t)pid, st.starttime, buf, now, mono);
            if (r < 0)
                return alumet_error_set(err, r, "out of memory");
            break;
        }
    }
    if (errno) {
        int r = -errno;
        char path[PATH_MAX];
        fsroot_path(&pfs->proc, "proc", path, sizeof(path));
        return alumet_error_set(err, r, "cannot list '%s': %s", path, strerror(-r));
    }
    /* what was not seen now has ended: forget it (upstream never forgets) */
    qsort(w->next, w->n_next, sizeof(*w->next), procfs_seen_cmp);
    struct procfs_seen *t = w->seen;
    size_t tcap = w->cap_seen;
    w->seen = w->next;
    w->cap_seen = w->cap_next;
    w->n_seen = w->n_next;
    w->next = t;
    w->cap_next = tcap;
    return ALUMET_POLL_OK;
}

const struct alumet_source_ops procfs_watcher_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = procfs_watcher_source_poll,
    .free = procfs_watcher_source_free,
};
