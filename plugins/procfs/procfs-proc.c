/* SPDX-License-Identifier: MIT */
/* One measured process: its files, the budget of descriptors kept open, its
 * reads and its points. Used by the group sources and the watcher
 * (procfs-process.c, procfs-watcher.c).
 *
 * Descriptors. A process keeps /proc/<pid>/stat and its memory file (statm
 * or smaps_rollup) open, and every poll reads them with one pread each: the
 * cheapest way to read them again (no path lookup), and a process that has
 * ended answers ESRCH, so a reused pid is never mistaken for it. The plugin
 * keeps at most pfs->fd_cap such descriptors (half the soft RLIMIT_NOFILE,
 * see procfs_fd_cap_set; with the watcher, that limit is raised to cover the
 * processes, procfs_fd_cap_fit): the processes beyond it are measured all the same,
 * by opening, reading and closing their files at each poll, and they take
 * the descriptors of processes that end. The start time read from stat is
 * compared at every read as well (fixture trees are plain files, and a
 * process read by path may be a new one under the same pid). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"

static const struct alumet_resource procfs_machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

bool procfs_gone(int r)
{
    return r == -ESRCH || r == -ENOENT;
}

/* Report a failure to open a file of /proc/<pid>: permission problems and
 * the descriptor limit once, a vanished process never. */
void procfs_open_failed(struct procfs *pfs, const char *rel, int r)
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
                    "cannot open '%s': %s; the agent has run out of file descriptors "
                    "(procfs keeps at most %ld open, other plugins use the rest): raise its "
                    "limit of open files (ulimit -Hn, LimitNOFILE=), skipping the processes "
                    "that cannot be read until descriptors are free again",
                    path, strerror(-r), atomic_load(&pfs->fd_cap));
    } else {
        procfs_debug(pfs, "cannot open '%s': %s, skipping", rel, strerror(-r));
    }
}

/* ---- the budget of descriptors ---- */

#define PROCFS_FDS_PER_PROC 2

void procfs_fd_cap_set(struct procfs *pfs, long soft_limit)
{
    long cap = soft_limit > 0 ? soft_limit / 2 : 0;
    atomic_store(&pfs->fd_cap, cap);
    atomic_store(&pfs->fd_left, cap);
}

void procfs_fd_cap_fit(struct procfs *pfs, size_t n_procs)
{
    if (!pfs->fd_raise ||
        atomic_load(&pfs->fd_cap) / 3 >= (long)(n_procs < LONG_MAX / 4 ? n_procs : LONG_MAX / 4))
        return;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > LONG_MAX / 2)
        return;
    long current = (long)rl.rlim_cur;
    long want = procfile_fd_limit_for(n_procs, current, pfs->nr_open);
    if (want <= current)
        return;
    rl.rlim_cur = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
        rl.rlim_max = rl.rlim_cur;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        /* without CAP_SYS_RESOURCE the hard limit stays: the processes
         * beyond the cap are read by path */
        procfs_debug(pfs,
                     "cannot raise the limit of open files to %ld for %zu processes: %s; "
                     "the processes beyond %ld are read by path",
                     want, n_procs, strerror(errno), atomic_load(&pfs->fd_cap) / 2);
        pfs->fd_raise = false;
        return;
    }
    long cap = atomic_load(&pfs->fd_cap);
    atomic_store(&pfs->fd_cap, want / 2);
    atomic_fetch_add(&pfs->fd_left, want / 2 - cap);
    procfs_debug(pfs,
                 "%zu processes: limit of open files raised from %ld to %ld, keeping at most "
                 "%ld files of processes open",
                 n_procs, current, want, want / 2);
}

static bool procfs_fd_take(struct procfs *pfs)
{
    long left = atomic_load(&pfs->fd_left);
    while (left >= PROCFS_FDS_PER_PROC)
        if (atomic_compare_exchange_weak(&pfs->fd_left, &left, left - PROCFS_FDS_PER_PROC))
            return true;
    return false;
}

static void procfs_fd_give(struct procfs *pfs)
{
    atomic_fetch_add(&pfs->fd_left, PROCFS_FDS_PER_PROC);
}

/* ---- reading a file of the process ---- */

static const char *procfs_mem_file(const struct procfs_group *g)
{
    return g->memory_mode == PROCFS_MEMORY_ACCURATE ? "smaps_rollup" : "statm";
}

/* Read /proc/<pid>/<name> into buf (NUL-terminated) with one read: through
 * fd when it is kept open (pread at 0), else open, read and close. These
 * files are one record that the kernel hands over in one read (about 300
 * bytes for stat, 1 kB for smaps_rollup; buf holds PROCFS_SCRATCH). Returns
 * the length or a negative errno (-ESRCH, -ENOENT: gone). */
static ssize_t procfs_proc_file(struct procfs *pfs, int fd, pid_t pid, const char *name, char *buf)
{
    ssize_t n;
    if (fd >= 0) {
        /* the system call itself: glibc's pread is a cancellation point,
         * whose bookkeeping in a threaded process (two atomic operations
         * around the call) was 1.6 % of a group's CPU; no thread of the
         * agent is ever cancelled */
        do
            n = syscall(SYS_pread64, fd, buf, PROCFS_SCRATCH - 1, (off_t)0);
        while (n < 0 && errno == EINTR);
    } else {
        char rel[64];
        snprintf(rel, sizeof(rel), "proc/%d/%s", (int)pid, name);
        fd = openat(pfs->proc.fd, rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        do
            n = read(fd, buf, PROCFS_SCRATCH - 1);
        while (n < 0 && errno == EINTR);
        int e = errno;
        close(fd);
        errno = e;
    }
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return n;
}

/* ---- one process ---- */

void procfs_proc_close(struct procfs *pfs, struct procfs_proc *p)
{
    if (p->stat_fd >= 0)
        close(p->stat_fd);
    if (p->mem_fd >= 0)
        close(p->mem_fd);
    if (p->kept)
        procfs_fd_give(pfs);
    p->stat_fd = p->mem_fd = -1;
    p->kept = false;
}

bool procfs_proc_drop(struct procfs *pfs, struct procfs_proc *p)
{
    bool kept = p->kept;
    p->kept = false;
    procfs_proc_close(pfs, p);
    return kept;
}

void procfs_fd_give_back(struct procfs *pfs, size_t n_procs)
{
    if (n_procs)
        atomic_fetch_add(&pfs->fd_left, (long)n_procs * PROCFS_FDS_PER_PROC);
}

/* The discovery read: open /proc/<pid>/stat (kept open when the budget
 * allows, else read by path), read it once and parse it into st. The
 * descriptor, the budget it took and what was parsed go with ret, to the
 * group that takes the process (procfs_proc_adopt) or back
 * (procfs_proc_close). 0, -ESRCH when the process has gone, another negative
 * errno when it cannot be read (already reported; -EMFILE, -ENFILE: no
 * descriptor, try again later), -EINVAL when the text cannot be parsed. */
int procfs_proc_probe(struct procfs *pfs, pid_t pid, char *scratch, struct procfs_proc *ret,
                      struct procfs_pid_stat *st)
{
    struct procfs_proc p = {.pid = pid, .stat_fd = -1, .mem_fd = -1};
    char rel[64];
    int r;

    snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
    if (procfs_fd_take(pfs)) {
        p.stat_fd = openat(pfs->proc.fd, rel, O_RDONLY | O_CLOEXEC);
        if (p.stat_fd < 0) {
            r = -errno;
            procfs_fd_give(pfs);
            if (r != -EMFILE && r != -ENFILE) {
                procfs_open_failed(pfs, rel, r);
                return procfs_gone(r) ? -ESRCH : r;
            }
        } else {
            p.kept = true;
        }
    }
    ssize_t len = procfs_proc_file(pfs, p.stat_fd, pid, "stat", scratch);
    if (len == 0)
        len = -ESRCH;
    if (len < 0) {
        procfs_open_failed(pfs, rel, (int)len);
        r = (int)len;
        goto err_close;
    }
    if (procfs_pid_stat_parse(scratch, (size_t)len, st) < 0) {
        procfs_debug(pfs, "cannot parse '%s', skipping", rel);
        r = -EINVAL;
        goto err_close;
    }
    p.starttime = st->starttime;
    *ret = p;
    return 0;

err_close:
    procfs_proc_close(pfs, &p);
    return procfs_gone(r) ? -ESRCH : r;
}

void procfs_proc_adopt(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p,
                       char *scratch)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "proc/%d/%s", (int)p->pid, procfs_mem_file(g));
    if (p->kept) {
        p->mem_fd = openat(pfs->proc.fd, rel, O_RDONLY | O_CLOEXEC);
        if (p->mem_fd >= 0)
            return;
        int r = -errno;
        procfs_open_failed(pfs, rel, r);
        if (r == -EMFILE || r == -ENFILE || procfs_gone(r))
            procfs_proc_close(pfs, p); /* read by path; the next read decides */
        else
            p->no_mem = true; /* CPU times are still measured: smaps_rollup needs ptrace access */
        return;
    }
    /* not kept open: find out now whether the memory file can be read */
    ssize_t len = procfs_proc_file(pfs, -1, p->pid, procfs_mem_file(g), scratch);
    if (len < 0 && !procfs_gone((int)len) && len != -EMFILE && len != -ENFILE) {
        procfs_open_failed(pfs, rel, (int)len);
        p->no_mem = true;
    }
}

/* Keep the files of a process read by path open, when the budget allows
 * now. 0, or the negative errno of opening stat when it is not about
 * descriptors (the process has gone, permission). */
static int procfs_proc_keep(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p)
{
    if (!procfs_fd_take(pfs))
        return 0;
    char rel[64];
    snprintf(rel, sizeof(rel), "proc/%d/stat", (int)p->pid);
    int fd = openat(pfs->proc.fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        procfs_fd_give(pfs);
        procfs_open_failed(pfs, rel, r);
        return r == -EMFILE || r == -ENFILE ? 0 : r;
    }
    int mfd = -1;
    if (!p->no_mem) {
        snprintf(rel, sizeof(rel), "proc/%d/%s", (int)p->pid, procfs_mem_file(g));
        mfd = openat(pfs->proc.fd, rel, O_RDONLY | O_CLOEXEC);
        if (mfd < 0) {
            int r = -errno;
            procfs_open_failed(pfs, rel, r);
            if (r == -EMFILE || r == -ENFILE || procfs_gone(r)) {
                close(fd);
                procfs_fd_give(pfs);
                return 0;
            }
            p->no_mem = true;
        }
    }
    p->stat_fd = fd;
    p->mem_fd = mfd;
    p->kept = true;
    return 0;
}

int procfs_proc_open(struct procfs *pfs, const struct procfs_group *g, pid_t pid,
                     uint64_t starttime, char *scratch, struct procfs_proc *ret,
                     struct procfs_pid_stat *st)
{
    struct procfs_proc p;
    int r = procfs_proc_probe(pfs, pid, scratch, &p, st);
    if (r < 0)
        return r;
    if (starttime && p.starttime != starttime) {
        procfs_proc_close(pfs, &p);
        return -ESRCH; /* the pid was reused since the watcher saw it */
    }
    procfs_proc_adopt(pfs, g, &p, scratch);
    p.ready = true; /* st is what procfs_proc_read would give: the next read uses it */
    *ret = p;
    return 0;
}

/* ---- /proc/<pid>/stat ---- */

/* The number in [p, q): all decimal digits, no overflow. */
static bool procfs_field_u64(const char *p, const char *q, uint64_t *ret)
{
    uint64_t v = 0;
    if (p == q)
        return false;
    for (; p < q; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9 || __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
            return false;
    }
    *ret = v;
    return true;
}

/* The same, optionally negative (the "-1" of some fields). */
static bool procfs_field_i64(const char *p, const char *q, int64_t *ret)
{
    bool neg = p < q && *p == '-';
    uint64_t v;
    if (!procfs_field_u64(p + neg, q, &v) || v > (uint64_t)INT64_MAX + neg)
        return false;
    *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool procfs_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse the fields of /proc/<pid>/stat that we need, in one pass over the
 * text (this runs for every process at every poll). The command name is in
 * parentheses and may itself contain spaces and parentheses, so the fields
 * are counted from the last ')':
 *   4242 (sleep) S 1 4242 4242 0 -1 4194304 100 0 0 0 150 30 0 0 20 0 1 0 123456 8388608 ...
 *   1    2       3 4 ...                              14  15             22     23
 * (3 state, 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime, 22 starttime, 23 vsize,
 *  43 guest_time: kernels since 2.6.24) */
int procfs_pid_stat_parse(const char *text, size_t len, struct procfs_pid_stat *ret)
{
    const char *p = text, *end = text + len, *q;
    struct procfs_pid_stat st = {0};
    uint64_t pid;
    int64_t cutime = 0, cstime = 0;

    while (p < end && procfs_blank(*p))
        p++;
    for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
        ;
    if (!procfs_field_u64(p, q, &pid) || pid == 0 || pid > INT32_MAX)
        return -EINVAL;
    p = memrchr(q, ')', (size_t)(end - q));
    if (!p)
        return -EINVAL;
    p++;
    unsigned field = 3;
    for (; field <= 43; field++, p = q) {
        while (p < end && procfs_blank(*p))
            p++;
        for (q = p; q < end && !procfs_blank(*q) && *q != '\n'; q++)
            ;
        if (q == p)
            break; /* the end of the line */
        bool ok = true;
        switch (field) {
        case 4:
            ok = procfs_field_i64(p, q, &st.ppid);
            break;
        case 14:
            ok = procfs_field_u64(p, q, &st.utime);
            break;
        case 15:
            ok = procfs_field_u64(p, q, &st.stime);
            break;
        case 16:
            ok = procfs_field_i64(p, q, &cutime);
            break;
        case 17:
            ok = procfs_field_i64(p, q, &cstime);
            break;
        case 22:
            ok = procfs_field_u64(p, q, &st.starttime);
            break;
        case 23:
            ok = procfs_field_u64(p, q, &st.vsize);
            break;
        case 43:
            st.has_guest = procfs_field_u64(p, q, &st.guest_time);
            break;
        default:
            break;
        }
        if (!ok)
            return -EINVAL;
    }
    if (field <= 23)
        return -EINVAL;
    st.cutime = cutime > 0 ? (uint64_t)cutime : 0;
    st.cstime = cstime > 0 ? (uint64_t)cstime : 0;
    st.pid = (pid_t)pid;
    *ret = st;
    return 0;
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
                              const struct alumet_consumer *c, char *scratch)
{
    alumet_metric_id m = pfs->m.memory_usage;
    uint64_t v[3];

    if (p->no_mem)
        return 0;
    ssize_t len = procfs_proc_file(pfs, p->mem_fd, p->pid, procfs_mem_file(g), scratch);
    if (len <= 0)
        return 0;
    if (g->memory_mode == PROCFS_MEMORY_ACCURATE) {
        if (procfs_smaps_parse(scratch, (size_t)len, v) < 0)
            return 0;
        if (procfs_push_kind_u64(buf, now, m, c, "proportional", v[1] * 1024) < 0 ||
            procfs_push_kind_u64(buf, now, m, c, "resident", v[0] * 1024) < 0 ||
            procfs_push_kind_u64(buf, now, m, c, "shared", v[2] * 1024) < 0 ||
            procfs_push_kind_u64(buf, now, m, c, "virtual", st->vsize) < 0)
            return -ENOMEM;
        return 0;
    }
    if (procfs_statm_parse(scratch, (size_t)len, v) < 0)
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

int procfs_proc_read(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p,
                     char *scratch, struct procfs_pid_stat *st)
{
    p->skip = false;
    if (p->ready) {
        p->ready = false; /* read when it was opened, in this poll */
        return 0;
    }
    if (!p->kept && procfs_proc_keep(pfs, g, p) < 0)
        return 1;
    ssize_t len = procfs_proc_file(pfs, p->stat_fd, p->pid, "stat", scratch);
    if (len == -EMFILE || len == -ENFILE) {
        char rel[64];
        snprintf(rel, sizeof(rel), "proc/%d/stat", (int)p->pid);
        procfs_open_failed(pfs, rel, (int)len);
        p->skip = true; /* not gone: read again at the next poll */
        return 0;
    }
    if (len <= 0) {
        if (len < 0 && !procfs_gone((int)len))
            procfs_debug(pfs, "cannot read the stat of process %d: %s, skipping it", (int)p->pid,
                         strerror((int)-len));
        return 1;
    }
    if (procfs_pid_stat_parse(scratch, (size_t)len, st) < 0 || st->starttime != p->starttime)
        return 1;
    return 0;
}

/* User and system time of the process, in ticks. With descendants, the
 * times of the children it has waited for are included: a descendant that
 * runs and ends between two polls is then still counted (in its parent). */
static void procfs_proc_times(const struct procfs_pid_stat *st, bool descendants, uint64_t *user,
                              uint64_t *sys)
{
    *user = st->utime;
    *sys = st->stime;
    if (descendants) {
        *user += st->cutime;
        *sys += st->cstime;
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

int procfs_proc_emit(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p,
                     const struct procfs_pid_stat *st, struct procfs_proc_desc *d,
                     struct alumet_buffer *buf, alumet_time_ns now, alumet_time_ns mono,
                     char *scratch)
{
    if (p->skip)
        return 0;
    /* -EPIPE: the pipeline is closing, the points are counted as lost */
    if (alumet_buffer_len(buf) + PROCFS_PROC_MAX_POINTS > PROCFS_EMIT_CHUNK &&
        alumet_buffer_hand_over(buf) == -ENOMEM)
        return -ENOMEM;
    const struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, (uint32_t)p->pid, NULL, NULL};

    int r = procfs_proc_memory(pfs, g, p, st, buf, now, &c, scratch);
    if (r < 0)
        return r;

    uint64_t user, sys;
    procfs_proc_times(st, d != NULL, &user, &sys);
    if (p->rebase) {
        p->rebase = false;
        if (d)
            d->credit_user = d->credit_sys = 0;
        goto out;
    }
    /* the first measurement reports the CPU time since the process started */
    uint64_t du = procfs_ticks_delta(user, p->measured ? p->user : 0);
    uint64_t ds = procfs_ticks_delta(sys, p->measured ? p->sys : 0);
    uint64_t dg = procfs_ticks_delta(st->guest_time, p->measured ? p->guest : 0);
    if (d) {
        du = procfs_apply_credit(du, procfs_ticks_delta(st->cutime, p->measured ? d->cutime : 0),
                                 &d->credit_user);
        ds = procfs_apply_credit(ds, procfs_ticks_delta(st->cstime, p->measured ? d->cstime : 0),
                                 &d->credit_sys);
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
    p->guest = st->guest_time;
    p->last = mono;
    if (d) {
        d->cutime = st->cutime;
        d->cstime = st->cstime;
        d->ppid = st->ppid;
    }
    p->measured = true;
    return 0;
}
