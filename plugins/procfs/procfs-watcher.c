/* SPDX-License-Identifier: MIT */
/* The source "process-watcher": every refresh_interval it lists /proc, reads
 * the stat of each new process once, measures it at once and hands it to the
 * first group whose filters accept it (procfs-process.c measures it from
 * then on). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"

/* Bytes of the buffer for getdents64: about 2,700 entries of /proc per call */
#define PROCFS_DENTS 65536
/* Refreshes in a row that may skip the listing when no pid was allocated:
 * /proc is listed at least once every PROCFS_SKIP_MAX + 1 refreshes */
#define PROCFS_SKIP_MAX 9

struct procfs_watcher_source {
    struct procfs *pfs;
    int dir_fd;  /* /proc, kept open: listed with getdents64 at every refresh */
    char *dents; /* PROCFS_DENTS bytes, 8-byte aligned (malloc) */
    /* the processes of the previous listing, sorted by pid, in seen[0, n_seen);
     * the current listing marks those it lists again (listed), updates them
     * in place, and appends the new pids after them (seen[n_seen, n_seen +
     * n_new)), then drops the unmarked and merges the new ones in. The
     * kernel lists pids in increasing order, so the listing walks seen with a
     * cursor (and sorts the new ones only when they came out of order) */
    struct procfs_seen *seen;
    size_t n_seen, n_new, cap_seen, cursor;
    size_t n_listed; /* processes listed (and read) by the current listing */
    bool new_sorted;
    /* /proc/loadavg, kept open when /proc is the agent's own pid namespace
     * (else closed, fd -1): its last field is the last pid allocated there */
    struct procfile loadavg;
    int64_t listed_pid; /* the last pid allocated before the last listing, or -1 */
    bool settled;       /* the last two listings saw the same last pid */
    bool retry;         /* a process of the last listing could not be read */
    unsigned skipped;   /* refreshes in a row without a listing */
    char *scratch;
};

static void procfs_watcher_source_free(void *data)
{
    struct procfs_watcher_source *w = data;
    if (!w)
        return;
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    procfile_close(&w->loadavg);
    free(w->seen);
    free(w->dents);
    free(w->scratch);
    free(w);
}

/* The identity (device, inode) of the namespace file rel, false when it
 * cannot be read. */
static bool procfs_watcher_ns(const struct procfs *pfs, const char *rel, struct stat *st)
{
    int fd = fsroot_openat(&pfs->proc, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    int r = fstat(fd, st);
    close(fd);
    return r == 0;
}

/* Open /proc/loadavg when /proc is the pid namespace the agent is in (the
 * kernel gives the last pid of the reader's namespace): then "self" and pid
 * 1 of that /proc are in the same namespace (readable by root; another user
 * without CAP_SYS_PTRACE lists /proc at every refresh). Else it stays closed. */
static void procfs_watcher_open_loadavg(struct procfs_watcher_source *w)
{
    struct stat self, init;
    if (procfs_watcher_ns(w->pfs, "proc/self/ns/pid", &self) &&
        procfs_watcher_ns(w->pfs, "proc/1/ns/pid", &init) && self.st_dev == init.st_dev &&
        self.st_ino == init.st_ino)
        procfile_open(&w->loadavg, w->pfs->proc.fd, "proc/loadavg", 128);
}

/* The last pid allocated in the namespace (the fifth and last field of
 * loadavg: "0.52 0.58 0.59 1/467 31337"), or -1. */
static int64_t procfs_watcher_last_pid(struct procfs_watcher_source *w)
{
    int64_t pid;
    if (procfile_read(&w->loadavg) < 0)
        return -1;
    struct procfile_scan sc = procfile_scan_of(w->loadavg.buf, w->loadavg.len);
    if (procfile_scan_skip_words(&sc, 4) != 4 || procfile_scan_i64(&sc, &pid) < 0 || pid < 0 ||
        !procfile_scan_at_eol(&sc))
        return -1;
    return pid;
}

/* Whether this refresh may skip the listing: no pid was allocated in the
 * namespace since the last two listings began (a process is in /proc before
 * its fork returns: the second listing sees one that was being made during
 * the first), every process they listed was read, and /proc was listed
 * less than PROCFS_SKIP_MAX refreshes ago. *last is the last pid now. */
static bool procfs_watcher_quiet(struct procfs_watcher_source *w, int64_t *last)
{
    *last = w->loadavg.fd >= 0 ? procfs_watcher_last_pid(w) : -1;
    if (*last < 0 || *last != w->listed_pid || !w->settled || w->retry ||
        w->skipped >= PROCFS_SKIP_MAX)
        return false;
    w->skipped++;
    return true;
}

int procfs_watcher_source_new(struct procfs *pfs, struct procfs_watcher_source **ret)
{
    struct procfs_watcher_source *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->pfs = pfs;
    w->dir_fd = -1;
    w->listed_pid = -1;
    w->loadavg = (struct procfile)PROCFILE_INIT;
    procfs_watcher_open_loadavg(w);
    w->scratch = malloc(PATH_MAX > PROCFS_SCRATCH ? PATH_MAX : PROCFS_SCRATCH);
    w->dents = malloc(PROCFS_DENTS);
    int r = !w->scratch || !w->dents ? -ENOMEM
                                     : fsroot_openat(&pfs->proc, "proc", O_RDONLY | O_DIRECTORY);
    if (r < 0) {
        procfs_watcher_source_free(w);
        return r;
    }
    w->dir_fd = r;
    *ret = w;
    return 0;
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

/* Measure a new process, probed by the watcher, at once for group g, as
 * upstream's new sources do (so a process is measured from the refresh that
 * found it, even when the group's source is polled before the watcher), then
 * hand it to the group with what was opened and read, by value: the group
 * reads it again at its first poll at least half a poll interval later. 0 or
 * -ENOMEM (probe is then closed). */
static int procfs_watcher_hand_over(struct procfs_watcher_source *w, struct procfs_group *g,
                                    const struct procfs_proc *probe,
                                    const struct procfs_pid_stat *st, struct alumet_buffer *buf,
                                    alumet_time_ns now, alumet_time_ns mono)
{
    struct procfs_proc req = *probe;
    procfs_proc_adopt(w->pfs, g, &req, w->scratch);
    if (procfs_proc_emit(w->pfs, g, &req, st, NULL, buf, now, mono, w->scratch) < 0)
        goto err;
    req.handed = true;
    req.opened = true;
    if (procfs_group_push(g, &req) < 0)
        goto err;
    return 0;

err:
    procfs_proc_close(w->pfs, &req);
    return -ENOMEM;
}

/* The entry of pid in the previous listing, or NULL. The listing comes in
 * increasing pid order: the cursor walks seen along with it (a binary search
 * when the order breaks, as in fixture trees). */
static struct procfs_seen *procfs_watcher_known(struct procfs_watcher_source *w, pid_t pid)
{
    size_t j = w->cursor;
    if (j > 0 && (pid_t)w->seen[j - 1].pid >= pid) {
        struct procfs_seen key = {.pid = (uint32_t)pid};
        return bsearch(&key, w->seen, w->n_seen, sizeof(*w->seen), procfs_seen_cmp);
    }
    while (j < w->n_seen && (pid_t)w->seen[j].pid < pid)
        j++;
    w->cursor = j;
    return j < w->n_seen && (pid_t)w->seen[j].pid == pid ? &w->seen[j] : NULL;
}

/* One pid of the listing, with the inode number of its directory. 0 or
 * -ENOMEM. */
static int procfs_watcher_entry(struct procfs_watcher_source *w, pid_t pid, uint64_t d_ino,
                                struct alumet_buffer *buf, alumet_time_ns now, alumet_time_ns mono)
{
    struct procfs *pfs = w->pfs;
    uint32_t ino = (uint32_t)(d_ino ^ (d_ino >> 32)); /* d_ino itself on Linux's /proc */
    struct procfs_seen *known = procfs_watcher_known(w, pid);
    if (known && ino != 0 && known->ino == ino) {
        known->listed = 1; /* the same process: nothing to read */
        w->n_listed++;
        return 0;
    }

    /* opened, read and parsed once: what a group takes comes with it */
    struct procfs_proc probe;
    struct procfs_pid_stat st;
    int r = procfs_proc_probe(pfs, pid, w->scratch, &probe, &st);
    if (r < 0) {
        /* a process that ends between the listing and the read is skipped
         * silently; one that cannot be read now (or for want of a
         * descriptor) is read at the next refresh, which lists /proc */
        w->retry |= r != -ESRCH;
        return 0;
    }
    struct procfs_seen entry = {
        .pid = (uint32_t)pid, .listed = 1, .ino = ino, .starttime = probe.starttime};
    if (known && known->starttime == probe.starttime) {
        procfs_proc_close(pfs, &probe);
        *known = entry; /* the same process, a new inode */
        w->n_listed++;
        return 0;
    }
    /* a new process, or a new process under a reused pid: the first group
     * that accepts it measures it */
    if (!known) {
        void *grown =
            procfs_grow(w->seen, &w->cap_seen, w->n_seen + w->n_new + 1, sizeof(*w->seen));
        if (!grown) {
            procfs_proc_close(pfs, &probe);
            return -ENOMEM;
        }
        w->seen = grown;
    }
    struct procfs_group *taker = NULL;
    for (size_t i = 0; i < pfs->n_groups && !taker; i++)
        if (procfs_group_match(w, &pfs->groups[i], &st))
            taker = &pfs->groups[i];
    if (!taker)
        procfs_proc_close(pfs, &probe);
    else if (procfs_watcher_hand_over(w, taker, &probe, &st, buf, now, mono) < 0)
        return -ENOMEM;
    w->n_listed++;
    if (known) {
        *known = entry;
        return 0;
    }
    struct procfs_seen *tail = w->seen + w->n_seen;
    if (w->n_new > 0 && (pid_t)tail[w->n_new - 1].pid >= pid)
        w->new_sorted = false;
    tail[w->n_new++] = entry;
    return 0;
}

/* After a complete listing: drop the processes that were not listed again
 * (they have ended; upstream never forgets them), put the new ones in their
 * place, and give back the room of a burst (the array halved until it is at
 * most 4 times what is kept). */
static void procfs_watcher_settle(struct procfs_watcher_source *w)
{
    struct procfs_seen *seen = w->seen;
    size_t m = w->n_new, k = 0;
    /* the kernel lists the new pids after the others, but for a wrap of the
     * pids: then (and in fixture trees) sort the whole */
    bool sorted = w->new_sorted &&
                  (m == 0 || w->n_seen == 0 || seen[w->n_seen - 1].pid < seen[w->n_seen].pid);
    for (size_t i = 0; i < w->n_seen; i++) {
        if (seen[i].listed) {
            seen[i].listed = 0;
            seen[k++] = seen[i];
        }
    }
    memmove(seen + k, seen + w->n_seen, m * sizeof(*seen));
    for (size_t i = k; i < k + m; i++)
        seen[i].listed = 0;
    w->n_seen = k + m;
    w->n_new = 0;
    if (!sorted)
        qsort(seen, w->n_seen, sizeof(*seen), procfs_seen_cmp);
    size_t cap = procfs_fit_cap(w->cap_seen, w->n_seen);
    if (cap != w->cap_seen) {
        void *smaller = reallocarray(w->seen, cap, sizeof(*w->seen));
        if (smaller) {
            w->seen = smaller;
            w->cap_seen = cap;
        }
    }
}

/* A listing cut short: its new pids are not kept (the next refresh lists
 * /proc and reads them again) and the marks are cleared. */
static void procfs_watcher_abandon(struct procfs_watcher_source *w)
{
    w->retry = true;
    for (size_t i = 0; i < w->n_seen; i++)
        w->seen[i].listed = 0;
    w->n_new = 0;
}

/* The pid that an entry of /proc names ("1234"), or 0 ("self", "sys"...). */
static pid_t procfs_dirent_pid(const char *name)
{
    int64_t pid = 0;
    if (*name < '1' || *name > '9')
        return 0;
    for (; *name; name++) {
        if (*name < '0' || *name > '9' || pid > INT32_MAX / 10)
            return 0;
        pid = pid * 10 + (*name - '0');
    }
    return pid <= INT32_MAX ? (pid_t)pid : 0;
}

static int procfs_watcher_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                      struct alumet_error *err)
{
    struct procfs_watcher_source *w = data;
    struct procfs *pfs = w->pfs;
    alumet_time_ns mono = procfs_now(pfs);
    int r = 0;

    /* under exec and watch the events group measures the announced process:
     * no listing of /proc (exec_strategy "event") */
    if (atomic_load(&pfs->exec_mode))
        return ALUMET_POLL_OK;
    int64_t last;
    if (procfs_watcher_quiet(w, &last))
        return ALUMET_POLL_OK; /* no new process since the last listings */
    w->n_new = w->n_listed = 0;
    w->retry = false;
    w->cursor = 0;
    w->new_sorted = true;
    /* the directory's descriptor stays open: one getdents64 per PROCFS_DENTS
     * bytes of entries (readdir's buffer is 32 KiB) */
    if (lseek(w->dir_fd, 0, SEEK_SET) < 0)
        r = -errno;
    while (r == 0) {
        long got = syscall(SYS_getdents64, w->dir_fd, w->dents, PROCFS_DENTS);
        if (got <= 0) {
            r = got < 0 ? -errno : 0;
            break;
        }
        if (atomic_load(&pfs->exec_mode)) {
            procfs_watcher_abandon(w);
            return ALUMET_POLL_OK; /* announced during this listing */
        }
        for (long off = 0; off < got;) {
            const struct dirent64 *e = (const struct dirent64 *)(w->dents + off);
            off += e->d_reclen;
            pid_t pid = procfs_dirent_pid(e->d_name);
            if (pid > 0 && procfs_watcher_entry(w, pid, (uint64_t)e->d_ino, buf, now, mono) < 0) {
                procfs_watcher_abandon(w);
                return alumet_error_set(err, -ENOMEM, "out of memory");
            }
        }
    }
    if (r < 0) {
        char path[PATH_MAX];
        procfs_watcher_abandon(w);
        fsroot_path(&pfs->proc, "proc", path, sizeof(path));
        return alumet_error_set(err, r, "cannot list '%s': %s", path, strerror(-r));
    }
    procfs_fd_cap_fit(pfs, w->n_listed);
    procfs_watcher_settle(w);
    w->settled = last >= 0 && last == w->listed_pid;
    w->listed_pid = last;
    w->skipped = 0;
    return ALUMET_POLL_OK;
}

const struct alumet_source_ops procfs_watcher_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = procfs_watcher_source_poll,
    .free = procfs_watcher_source_free,
};
