/* SPDX-License-Identifier: MIT */
/* The syscall floor of the overhead benchmark (bench/run-overhead.sh, tool
 * "floor"): only the system calls that per-process CPU and memory at a fixed
 * interval need, and nothing else (no parsing beyond the start time, no
 * output but a summary at the end). Every interval:
 *
 *   - list /proc with getdents64 on one directory descriptor kept open;
 *   - for a pid not seen before: open /proc/<pid>/stat and /proc/<pid>/statm
 *     and keep them open;
 *   - pread stat and statm of every process once (one call each);
 *   - close the files of the processes that have gone (ESRCH, or no longer
 *     listed).
 *
 * With --system, every interval also reads /proc/stat, /proc/meminfo and
 * /proc/net/dev to their end with pread, through descriptors kept open: the
 * files of the agent's kernel, memory and network sources, so that the floor
 * of the benchmark's full configuration reads what the same metrics need.
 *
 * Descriptors are kept open up to the soft limit of open files (raised to
 * fs.nr_open when it may, with CAP_SYS_RESOURCE, else to the hard limit)
 * minus 64, or to N with --fd-cap N (the agent's cap, half its limit, to
 * compare like with like where the limit cannot be raised); the processes
 * beyond it are read by path (open, read, close), and counted apart.
 *
 * Usage: procfs-floor OUT_FILE [INTERVAL_MS [--system] [--fd-cap N]]
 * On SIGTERM or SIGINT it writes "samples S procs P by_path B polls N" to
 * OUT_FILE (S: process samples read, P: distinct pids, B: samples read by
 * path) and exits 0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct proc {
    int pid;
    int stat_fd, statm_fd; /* -1: read by path */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long fd_left;

static ssize_t read_file(int fd, int pid, const char *name, char *buf, size_t size)
{
    if (fd >= 0)
        return pread(fd, buf, size, 0);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size);
    close(fd);
    return n;
}

static void proc_close(struct proc *p)
{
    if (p->stat_fd >= 0) {
        close(p->stat_fd);
        close(p->statm_fd);
        fd_left += 2;
    }
}

static void proc_open(struct proc *p, int pid)
{
    char path[64];
    p->pid = pid;
    p->stat_fd = p->statm_fd = -1;
    if (fd_left < 2)
        return;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int a = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    int b = a >= 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (a < 0 || b < 0) {
        if (a >= 0)
            close(a);
        return;
    }
    p->stat_fd = a;
    p->statm_fd = b;
    fd_left -= 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT_FILE [INTERVAL_MS [--system] [--fd-cap N]]\n", argv[0]);
        return 2;
    }
    long interval_ms = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    bool read_system = false;
    long fd_cap = -1;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--system") == 0) {
            read_system = true;
        } else if (strcmp(argv[i], "--fd-cap") == 0 && i + 1 < argc) {
            fd_cap = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\n", argv[0], argv[i]);
            return 2;
        }
    }
    static const char *const system_files[3] = {"/proc/stat", "/proc/meminfo", "/proc/net/dev"};
    int system_fds[3] = {-1, -1, -1};
    if (read_system) {
        for (int i = 0; i < 3; i++) {
            system_fds[i] = open(system_files[i], O_RDONLY | O_CLOEXEC);
            if (system_fds[i] < 0) {
                perror(system_files[i]);
                return 1;
            }
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        /* as the agent's procfs with CAP_SYS_RESOURCE: up to fs.nr_open */
        long nr_open = 0;
        FILE *f = fopen("/proc/sys/fs/nr_open", "re");
        if (f) {
            if (fscanf(f, "%ld", &nr_open) != 1)
                nr_open = 0;
            fclose(f);
        }
        struct rlimit up = {(rlim_t)nr_open, (rlim_t)nr_open};
        if (nr_open <= 0 || rl.rlim_max == RLIM_INFINITY || (rlim_t)nr_open <= rl.rlim_max ||
            setrlimit(RLIMIT_NOFILE, &up) < 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        getrlimit(RLIMIT_NOFILE, &rl);
        fd_left = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : (long)rl.rlim_cur - 64;
    }
    if (fd_cap >= 0 && fd_cap < fd_left)
        fd_left = fd_cap;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        perror("/proc");
        return 1;
    }
    struct proc *procs = NULL, *next = NULL;
    size_t n = 0, cap = 0, n_next = 0, cap_next = 0;
    uint64_t samples = 0, by_path = 0, polls = 0, distinct = 0;
    static char dents[65536];
    char buf[4096];
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);

    while (!stop) {
        /* to the end of each file, as the agent (seq_file answers about a
         * page per call for /proc/net/dev) */
        for (int i = 0; i < 3 && system_fds[i] >= 0; i++) {
            static char sys_buf[65536];
            off_t off = 0;
            ssize_t got;
            while ((got = pread(system_fds[i], sys_buf, sizeof(sys_buf), off)) > 0)
                off += got;
            if (got < 0 || off == 0)
                return 1;
        }

        /* list /proc; the entries come in increasing pid order, as procs */
        lseek(dir, 0, SEEK_SET);
        n_next = 0;
        size_t at = 0;
        for (;;) {
            long got = syscall(SYS_getdents64, dir, dents, sizeof(dents));
            if (got <= 0)
                break;
            for (long off = 0; off < got;) {
                struct dirent64 *e = (struct dirent64 *)(dents + off);
                off += e->d_reclen;
                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                    continue;
                int pid = atoi(e->d_name);
                if (n_next == cap_next) {
                    cap_next = cap_next ? 2 * cap_next : 1024;
                    next = realloc(next, cap_next * sizeof(*next));
                    if (!next)
                        return 1;
                }
                while (at < n && procs[at].pid < pid)
                    proc_close(&procs[at++]); /* no longer listed */
                if (at < n && procs[at].pid == pid) {
                    next[n_next++] = procs[at++];
                } else {
                    proc_open(&next[n_next++], pid);
                    distinct++;
                }
            }
        }
        while (at < n)
            proc_close(&procs[at++]);
        struct proc *tp = procs;
        procs = next;
        next = tp;
        size_t tc = cap;
        cap = cap_next;
        cap_next = tc;
        n = n_next;

        /* read every process once; forget the ones that have gone */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            struct proc *p = &procs[i];
            ssize_t a = read_file(p->stat_fd, p->pid, "stat", buf, sizeof(buf));
            ssize_t b = a > 0 ? read_file(p->statm_fd, p->pid, "statm", buf, sizeof(buf)) : -1;
            if (a <= 0 || b <= 0) {
                proc_close(p);
                continue;
            }
            samples++;
            by_path += p->stat_fd < 0;
            procs[k++] = *p;
        }
        n = k;
        polls++;

        t.tv_nsec += (interval_ms % 1000) * 1000000;
        t.tv_sec += interval_ms / 1000 + t.tv_nsec / 1000000000;
        t.tv_nsec %= 1000000000;
        while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
            ;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fprintf(f, "samples %llu procs %llu by_path %llu polls %llu\n", (unsigned long long)samples,
            (unsigned long long)distinct, (unsigned long long)by_path, (unsigned long long)polls);
    fclose(f);
    return 0;
}
