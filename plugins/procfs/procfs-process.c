/* SPDX-License-Identifier: MIT */
/* Process measurement: the source "process-watcher" (procfs-watcher.c)
 * finds new processes every refresh_interval and hands each one to the first
 * group whose filters accept it; every group has one source
 * ("process-group-<i>", or "process-events" for the event strategy) that
 * measures its processes with the group's poll and flush intervals.
 *
 * Upstream creates one source per process at run time ("pid-<pid>"); the
 * pipeline of this agent takes its sources before it starts, so a group
 * source measures a changing set of processes instead. The points are the
 * same: one consumer process{pid} per process.
 *
 * How a process is read (descriptors kept open, within a budget) is in
 * procfs-proc.c. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

struct procfs_group_source {
    struct procfs *pfs;
    struct procfs_group *g;
    struct procfs_proc *procs; /* in the order they were found */
    /* when g measures descendants: the rest of procs[i] in desc[i], else NULL */
    struct procfs_proc_desc *desc;
    size_t n, cap;             /* both arrays hold cap */
    struct procfs_proc *drain; /* requests, swapped with the group's queue */
    size_t n_drain, cap_drain;
    /* 2 × PROCFS_SCRATCH bytes: the first half for the files of a process,
     * the second for a list of children that is walked while they are opened */
    char *scratch;
    pid_t *pids; /* the pids of a drain, sorted (procfs_group_drain_overlaps) */
    size_t cap_pids;
    size_t n_trimmed; /* n when the poll last gave freed memory back */
};

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

/* Phase 2, for a process that has gone: what we reported for it is now part
 * of the children times of the parent that waited for it, so the parent
 * must not report it again. */
static void procfs_proc_credit_parent(struct procfs_group_source *src, size_t gone)
{
    const struct procfs_proc *p = &src->procs[gone];
    int64_t ppid = src->desc[gone].ppid;
    if (!p->measured || ppid <= 0)
        return;
    for (size_t i = 0; i < src->n; i++) {
        if (src->procs[i].pid == ppid && !src->procs[i].gone) {
            src->desc[i].credit_user += p->user;
            src->desc[i].credit_sys += p->sys;
            return;
        }
    }
}

/* ---- a group's source ---- */

int procfs_group_push(struct procfs_group *g, const struct procfs_proc *req)
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

static void procfs_request_done(struct procfs *pfs, struct procfs_proc *req)
{
    if (req->opened) {
        procfs_proc_close(pfs, req);
        req->opened = false;
    }
}

void procfs_group_clear(struct procfs_group *g)
{
    if (g->lock_ready)
        pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->n_queue; i++)
        procfs_request_done(g->pfs, &g->queue[i]);
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
    src->scratch = malloc(2 * PROCFS_SCRATCH);
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
        procfs_proc_close(src->pfs, &src->procs[i]);
    if (src->g->source == src)
        src->g->source = NULL;
    free(src->procs);
    free(src->desc);
    free(src->drain);
    free(src->pids);
    free(src->scratch);
    free(src);
}

static void procfs_group_source_reset(void *data)
{
    struct procfs_group_source *src = data;
    /* after a pause, the next poll takes a new baseline: no delta spans the pause */
    for (size_t i = 0; i < src->n; i++) {
        src->procs[i].rebase = src->procs[i].measured;
        src->procs[i].handed = false;
    }
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
    procfs_proc_close(src->pfs, &src->procs[i]);
    memmove(&src->procs[i], &src->procs[i + 1], (src->n - i - 1) * sizeof(*src->procs));
    if (src->desc)
        memmove(&src->desc[i], &src->desc[i + 1], (src->n - i - 1) * sizeof(*src->desc));
    src->n--;
}

/* Make room for need processes in both arrays. 0 or -ENOMEM. */
static int procfs_group_reserve(struct procfs_group_source *src, size_t need)
{
    if (need <= src->cap && src->procs)
        return 0;
    size_t cap = src->cap;
    void *grown = procfs_grow(src->procs, &cap, need, sizeof(*src->procs));
    if (!grown)
        return -ENOMEM;
    src->procs = grown;
    if (src->g->descendants) {
        grown = reallocarray(src->desc, cap, sizeof(*src->desc));
        if (!grown)
            return -ENOMEM; /* procs is larger than cap: no harm */
        src->desc = grown;
    }
    src->cap = cap;
    return 0;
}

/* Start measuring pid in this group. 1 when added, 0 when it is not there
 * (or already measured), -ENOMEM. absent: the caller knows that the group
 * does not measure pid (no lookup). */
static int procfs_group_track(struct procfs_group_source *src, pid_t pid, uint64_t starttime,
                              bool absent)
{
    ssize_t at = absent ? -1 : procfs_group_find(src, pid);
    if (at >= 0) {
        if (!starttime || src->procs[at].starttime == starttime)
            return 0;
        /* the watcher saw a new process under a pid we measure: ours has gone */
        procfs_group_remove(src, (size_t)at);
    }
    if (procfs_group_reserve(src, src->n + 1) < 0)
        return -ENOMEM;
    /* the stat read now is kept for the first read of the poll (ready), when
     * the group keeps stats (descendants) */
    struct procfs_pid_stat st;
    struct procfs_proc *p = &src->procs[src->n];
    int r = procfs_proc_open(src->pfs, src->g, pid, starttime, src->scratch, p,
                             src->desc ? &src->desc[src->n].now : &st);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return 0;
    if (src->desc)
        src->desc[src->n] = (struct procfs_proc_desc){.now = src->desc[src->n].now};
    else
        p->ready = false; /* read again by the poll */
    src->n++;
    procfs_debug(src->pfs, "%s: measuring process %d", src->g->name, (int)pid);
    return 1;
}

static int procfs_pid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* Whether a request of the drain may be about a process that the group
 * measures, or about the pid of another request: then every request looks
 * its pid up among the processes (linear). Otherwise, as when the watcher
 * hands over thousands of new processes, none does. O((n + m) log m). */
static bool procfs_group_drain_overlaps(struct procfs_group_source *src)
{
    size_t m = src->n_drain;
    void *grown = procfs_grow(src->pids, &src->cap_pids, m, sizeof(*src->pids));
    if (!grown)
        return true;
    src->pids = grown;
    for (size_t i = 0; i < m; i++)
        src->pids[i] = src->drain[i].pid;
    qsort(src->pids, m, sizeof(*src->pids), procfs_pid_cmp);
    for (size_t i = 1; i < m; i++)
        if (src->pids[i] == src->pids[i - 1])
            return true;
    for (size_t i = 0; i < src->n; i++)
        if (bsearch(&src->procs[i].pid, src->pids, m, sizeof(*src->pids), procfs_pid_cmp))
            return true;
    return false;
}

/* When the group measures nothing yet and every request of the drain is a
 * process opened by the watcher (pids all different), as at the first
 * refresh: the drain becomes the array of processes, without a copy (at
 * 10,000 processes, 560 kB less at the peak). Returns whether it did. */
static bool procfs_group_adopt_drain(struct procfs_group_source *src)
{
    if (src->g->descendants)
        return false;
    for (size_t i = 0; i < src->n_drain; i++)
        if (!src->drain[i].opened)
            return false;
    for (size_t i = 0; i < src->n_drain; i++)
        src->drain[i].opened = false;
    struct procfs_proc *procs = src->procs;
    size_t cap = src->cap;
    src->procs = src->drain;
    src->cap = src->cap_drain;
    src->n = src->n_drain;
    src->drain = procs;
    src->cap_drain = cap;
    src->n_drain = 0;
    return true;
}

/* Take the requests queued by the watcher or by the events. */
static int procfs_group_drain(struct procfs_group_source *src)
{
    struct procfs_group *g = src->g;

    pthread_mutex_lock(&g->lock);
    struct procfs_proc *q = g->queue;
    size_t n = g->n_queue, cap = g->cap_queue;
    g->queue = src->drain;
    g->cap_queue = src->cap_drain;
    g->n_queue = 0;
    pthread_mutex_unlock(&g->lock);
    src->drain = q;
    src->cap_drain = cap;
    src->n_drain = n;

    int r = 0;
    bool absent = src->n_drain > 0 && !procfs_group_drain_overlaps(src);
    if (absent && src->n == 0 && procfs_group_adopt_drain(src))
        return 0;
    for (size_t i = 0; i < src->n_drain; i++) {
        struct procfs_proc *req = &src->drain[i];
        if (r < 0) {
            procfs_request_done(src->pfs, req);
            continue;
        }
        pid_t pid = req->pid;
        ssize_t at = !absent && (req->remove || req->opened) ? procfs_group_find(src, pid) : -1;
        if (at >= 0) /* forgotten, or a pid that another process now has */
            procfs_group_remove(src, (size_t)at);
        if (req->opened) {
            /* opened and measured once by the watcher */
            if (procfs_group_reserve(src, src->n + 1) < 0) {
                r = -ENOMEM;
                procfs_request_done(src->pfs, req);
                continue;
            }
            src->procs[src->n] = *req;
            src->procs[src->n].opened = false;
            if (src->desc)
                src->desc[src->n] = (struct procfs_proc_desc){0};
            src->n++;
            req->opened = false;
        } else if (!req->remove) {
            r = procfs_group_track(src, pid, req->starttime, absent);
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
        char *list = src->scratch + PROCFS_SCRATCH;
        ssize_t len = procfs_read_once(pfs, rel, list, PROCFS_SCRATCH);
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
        struct procfile_scan s = procfile_scan_of(list, (size_t)len);
        uint64_t child;
        while (procfile_scan_u64(&s, &child) == 0) {
            if (child == 0 || child > INT32_MAX)
                continue;
            r = procfs_group_track(src, (pid_t)child, 0, false);
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
            r = procfs_group_track(src, (pid_t)pid, st.starttime, false);
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

/* After a poll that lost processes: give back the memory of a burst, the
 * arrays halved until they are at most 4 times what is left (after a burst,
 * at once rather than once per poll that loses a process). */
static void procfs_group_fit(struct procfs_group_source *src)
{
    size_t cap = procfs_fit_cap(src->cap, src->n);
    void *smaller;
    if (cap == src->cap || !(smaller = reallocarray(src->procs, cap, sizeof(*src->procs))))
        return;
    src->procs = smaller;
    src->cap = cap; /* desc may stay larger: no harm */
    if (src->desc && (smaller = reallocarray(src->desc, cap, sizeof(*src->desc))))
        src->desc = smaller;
}

/* Forget the processes that the poll found gone, in one pass (thousands may
 * end at once); their parents take back what was reported for them. */
static void procfs_group_settle(struct procfs_group_source *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (!src->procs[i].gone)
            continue;
        procfs_debug(src->pfs, "%s: process %d has ended", src->g->name, (int)src->procs[i].pid);
        procfs_proc_credit_parent(src, i);
    }
    size_t k = 0;
    for (size_t i = 0; i < src->n; i++) {
        if (src->procs[i].gone) {
            procfs_proc_close(src->pfs, &src->procs[i]);
        } else {
            src->procs[k] = src->procs[i];
            src->desc[k++] = src->desc[i];
        }
    }
    src->n = k;
    procfs_group_fit(src);
}

/* Whether the watcher measured p, just handed over, less than half a poll
 * interval ago: the group's poll then emits nothing for it (no second read
 * of its files in the same period, no delta over a fraction of it), and the
 * next poll measures it. Only the group's first poll after the hand-over. */
static bool procfs_handed_recently(struct procfs_group_source *src, struct procfs_proc *p,
                                   alumet_time_ns mono)
{
    p->handed = false;
    p->skip = mono - p->last < src->g->poll_interval / 2;
    return p->skip;
}

/* The poll of a group without descendants, in one pass: each process is
 * read and emitted (the stat on the stack), or forgotten when it has gone.
 * 0 or -ENOMEM. */
static int procfs_group_poll_each(struct procfs_group_source *src, struct alumet_buffer *buf,
                                  alumet_time_ns now, alumet_time_ns mono)
{
    int r = 0;
    size_t k = 0, n = src->n, n_freed = 0;
    for (size_t i = 0; i < n; i++) {
        struct procfs_proc *p = &src->procs[i];
        struct procfs_pid_stat st;
        if (r == 0 && !(p->handed && procfs_handed_recently(src, p, mono))) {
            if (procfs_proc_read(src->pfs, src->g, p, src->scratch, &st) == 1) {
                procfs_debug(src->pfs, "%s: process %d has ended", src->g->name, (int)p->pid);
                n_freed += procfs_proc_drop(src->pfs, p);
                continue;
            }
            r = procfs_proc_emit(src->pfs, src->g, p, &st, NULL, buf, now, mono, src->scratch);
        }
        if (k != i)
            src->procs[k] = *p;
        k++;
    }
    /* the descriptors of the processes that have gone go to the next poll's */
    procfs_fd_give_back(src->pfs, n_freed);
    src->n = k;
    if (k < n)
        procfs_group_fit(src);
    return r;
}

/* The poll of a group with descendants: add the new descendants, read every
 * stat first (parents before children, in the order they were found),
 * settle the processes that have gone, then emit. 0 or -ENOMEM. */
static int procfs_group_poll_tree(struct procfs_group_source *src, struct alumet_buffer *buf,
                                  alumet_time_ns now, alumet_time_ns mono)
{
    int r = procfs_group_descendants(src);
    size_t n_gone = 0;
    for (size_t i = 0; r == 0 && i < src->n; i++) {
        struct procfs_proc *p = &src->procs[i];
        if (p->handed && procfs_handed_recently(src, p, mono))
            continue; /* the watcher's measurement stands for this poll */
        p->gone = procfs_proc_read(src->pfs, src->g, p, src->scratch, &src->desc[i].now) == 1;
        n_gone += p->gone;
    }
    if (n_gone)
        procfs_group_settle(src);
    for (size_t i = 0; r == 0 && i < src->n; i++)
        r = procfs_proc_emit(src->pfs, src->g, &src->procs[i], &src->desc[i].now, &src->desc[i],
                             buf, now, mono, src->scratch);
    return r;
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
    /* the request arrays of a burst (thousands of new processes, as at the
     * start) are not kept: swapped with the group's queue at every drain,
     * they would stay at that size (64 bytes per process, twice) */
    if (src->cap_drain >= PROCFS_TRIM_AFTER) {
        free(src->drain);
        src->drain = NULL;
        src->cap_drain = 0;
    }
    if (src->cap_pids >= PROCFS_TRIM_AFTER) {
        free(src->pids);
        src->pids = NULL;
        src->cap_pids = 0;
    }
    if (r == 0)
        r = src->g->descendants ? procfs_group_poll_tree(src, buf, now, mono)
                                : procfs_group_poll_each(src, buf, now, mono);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    /* after a burst of processes found or gone (thousands of watcher's
     * requests freed here, arrays grown or settled), malloc keeps the freed
     * memory of the threads' heaps resident: give it back */
    size_t moved = src->n > src->n_trimmed ? src->n - src->n_trimmed : src->n_trimmed - src->n;
    if (moved >= PROCFS_TRIM_AFTER) {
        src->n_trimmed = src->n;
        malloc_trim(0);
    }
    return ALUMET_POLL_OK;
}

const struct alumet_source_ops procfs_group_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = procfs_group_source_poll,
    .reset = procfs_group_source_reset,
    .free = procfs_group_source_free,
};
