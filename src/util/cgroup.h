/* SPDX-License-Identifier: MIT */
/* The cgroup core shared by every cgroup plugin (cgroups, k8s, slurm, oar,
 * containers) and by the process-to-cgroup-bridge transform:
 *
 *   - hierarchies: the cgroup v1 and v2 mounts listed in
 *     <proc_root>/proc/self/mountinfo, opened under <sys_root> (a fixture
 *     tree in tests, "/" on a machine); v1 only, v2 only or both (hybrid);
 *   - readers: the statistics files of one cgroup (cpu.stat, cpuacct.*,
 *     memory.*, io.stat, *.pressure), opened once and read again with pread;
 *   - the cgroup of a process from /proc/<pid>/cgroup.
 *
 * Detection of new and removed cgroups is in cgroup-watch.h.
 *
 *     struct cgroup_hierarchies hs = {0};
 *     r = cgroup_hierarchies_discover(&proc, &sys, &hs);
 *     struct cgroup_reader rd = CGROUP_READER_INIT;
 *     r = cgroup_reader_open(&rd, &hs.items[0], "/system.slice", CGROUP_FILES_ALL);
 *     struct cgroup_buf scratch = {0};
 *     struct cgroup_stats st;
 *     r = cgroup_reader_read(&rd, &scratch, &st);   (-ENODEV: the cgroup was removed)
 *
 * Naming: the canonical path of a cgroup is its path below the mount point
 * of its hierarchy with a leading '/' ("/" for the root); its unique name is
 * the canonical path on v2 and "<controllers>:<canonical path>" on v1
 * ("cpu,cpuacct:/user.slice").
 *
 * No logging: functions return 0 or a negative errno. Not thread-safe: one
 * owner per object. */
#ifndef ALUMET_UTIL_CGROUP_H
#define ALUMET_UTIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsroot.h"

/* The controllers a hierarchy can hold (v1: the mount's; v2: the root's
 * cgroup.controllers). */
#define CGROUP_CONTROLLERS(X)                                                                      \
    X(CPU, "cpu")                                                                                  \
    X(CPUACCT, "cpuacct")                                                                          \
    X(CPUSET, "cpuset")                                                                            \
    X(MEMORY, "memory")                                                                            \
    X(IO, "io")                                                                                    \
    X(BLKIO, "blkio")                                                                              \
    X(PIDS, "pids")                                                                                \
    X(DEVICES, "devices")                                                                          \
    X(FREEZER, "freezer")                                                                          \
    X(NET_CLS, "net_cls")                                                                          \
    X(NET_PRIO, "net_prio")                                                                        \
    X(PERF_EVENT, "perf_event")                                                                    \
    X(HUGETLB, "hugetlb")                                                                          \
    X(RDMA, "rdma")                                                                                \
    X(MISC, "misc")

enum cgroup_controller {
#define CGROUP_X_ENUM(id, name) CGROUP_CTRL_##id,
    CGROUP_CONTROLLERS(CGROUP_X_ENUM)
#undef CGROUP_X_ENUM
        _CGROUP_CTRL_MAX,
};

#define CGROUP_CTRL_BIT(c) (1u << (CGROUP_CTRL_##c))

/* The controller named name[0..len) (-1: not a controller name). */
int cgroup_controller_from_name(const char *name, size_t len);

enum cgroup_version {
    CGROUP_V1 = 1,
    CGROUP_V2 = 2,
};

/* One mounted hierarchy. */
struct cgroup_hierarchy {
    enum cgroup_version version;
    unsigned controllers; /* CGROUP_CTRL_BIT() set */
    /* v1: the controllers joined by ',' in mount order ("cpu,cpuacct"), or
     * "name=systemd" for a named hierarchy; v2: "" (owned) */
    char *name;
    char *mount_point; /* absolute, as mountinfo names it ("/sys/fs/cgroup/unified"; owned) */
    char *path;        /* the mount point below sys_root, for inotify and messages (owned) */
    int fd;            /* O_RDONLY|O_DIRECTORY descriptor of path, -1 when closed */
    dev_t dev;         /* major:minor of the mount (one entry per hierarchy) */
};

struct cgroup_hierarchies {
    struct cgroup_hierarchy *items; /* owned, n of them, v2 first then v1 in mount order */
    size_t n;
};

/* Find the cgroup hierarchies in <proc_root>/proc/self/mountinfo (both
 * roots borrowed) and open their mount points under sys_root. A hierarchy
 * mounted twice is kept once. Options that are not controllers ("rw",
 * "nosuid", "clone_children", "release_agent=...") are not part of a v1 name.
 * 0 (possibly with ret->n == 0: nothing mounted yet), or a negative errno
 * from reading mountinfo (-ENOENT, -EACCES) or -ENOMEM. A mount point that
 * cannot be opened is skipped. ret is overwritten (free with
 * cgroup_hierarchies_done). */
int cgroup_hierarchies_discover(const struct fsroot *proc_root, const struct fsroot *sys_root,
                                struct cgroup_hierarchies *ret);

/* Close and free every hierarchy (idempotent; a zeroed struct is fine). */
void cgroup_hierarchies_done(struct cgroup_hierarchies *hs);

/* The v2 hierarchy, or NULL (borrowed). */
const struct cgroup_hierarchy *cgroup_hierarchies_v2(const struct cgroup_hierarchies *hs);

/* The first hierarchy holding controller c (CGROUP_CTRL_*), or NULL. */
const struct cgroup_hierarchy *cgroup_hierarchies_with(const struct cgroup_hierarchies *hs,
                                                       enum cgroup_controller c);

/* Write the unique name of the cgroup at canonical path cpath in h
 * ("/a/b" on v2, "cpu,cpuacct:/a/b" on v1). Returns the length the full name
 * needs, like snprintf. */
size_t cgroup_unique_name(const struct cgroup_hierarchy *h, const char *cpath, char *buf,
                          size_t size);

/* ---- statistics files ---- */

/* The files a reader may open: id, file name, hierarchy version. */
#define CGROUP_FILES(X)                                                                            \
    X(CPU_STAT, "cpu.stat", 2)                                                                     \
    X(MEMORY_CURRENT, "memory.current", 2)                                                         \
    X(MEMORY_MAX, "memory.max", 2)                                                                 \
    X(MEMORY_STAT, "memory.stat", 2)                                                               \
    X(SWAP_CURRENT, "memory.swap.current", 2)                                                      \
    X(SWAP_MAX, "memory.swap.max", 2)                                                              \
    X(IO_STAT, "io.stat", 2)                                                                       \
    X(CPU_PRESSURE, "cpu.pressure", 2)                                                             \
    X(MEMORY_PRESSURE, "memory.pressure", 2)                                                       \
    X(IO_PRESSURE, "io.pressure", 2)                                                               \
    X(CPUACCT_USAGE, "cpuacct.usage", 1)                                                           \
    X(CPUACCT_STAT, "cpuacct.stat", 1)                                                             \
    X(MEMORY_USAGE_V1, "memory.usage_in_bytes", 1)

enum cgroup_file {
#define CGROUP_X_ENUM(id, name, v) CGROUP_FILE_##id,
    CGROUP_FILES(CGROUP_X_ENUM)
#undef CGROUP_X_ENUM
        _CGROUP_FILE_MAX,
};

#define CGROUP_FILE_BIT(f) (1u << (CGROUP_FILE_##f))
#define CGROUP_FILES_ALL ((1u << _CGROUP_FILE_MAX) - 1u)

/* The file name of f ("cpu.stat"). */
const char *cgroup_file_name(enum cgroup_file f);

/* Values a read may give; `have` says which were read. */
enum cgroup_stat {
    CGROUP_STAT_CPU_USAGE,  /* cpu.stat usage_usec, cpuacct.usage */
    CGROUP_STAT_CPU_USER,   /* cpu.stat user_usec, cpuacct.stat user */
    CGROUP_STAT_CPU_SYSTEM, /* cpu.stat system_usec, cpuacct.stat system */
    CGROUP_STAT_MEMORY_CURRENT,
    CGROUP_STAT_MEMORY_MAX,
    CGROUP_STAT_SWAP_CURRENT,
    CGROUP_STAT_SWAP_MAX,
    CGROUP_STAT_ANON, /* memory.stat keys */
    CGROUP_STAT_FILE,
    CGROUP_STAT_KERNEL_STACK,
    CGROUP_STAT_PAGETABLES,
    CGROUP_STAT_SLAB_RECLAIMABLE,
    CGROUP_STAT_PSWPIN,
    CGROUP_STAT_PSWPOUT,
    CGROUP_STAT_IO,              /* io.stat, summed over the devices */
    CGROUP_STAT_CPU_PRESSURE,    /* cpu.pressure */
    CGROUP_STAT_MEMORY_PRESSURE, /* memory.pressure */
    CGROUP_STAT_IO_PRESSURE,     /* io.pressure */
    _CGROUP_STAT_MAX,
};

#define CGROUP_STAT_BIT(s) (1u << (CGROUP_STAT_##s))
#define CGROUP_UNLIMITED UINT64_MAX /* "max" in memory.max, memory.swap.max */

/* Cumulative stall time of a pressure file ("some ... total=N"), in µs. */
struct cgroup_pressure {
    uint64_t some_us, full_us;
    bool has_full; /* cpu.pressure has no "full" line before Linux 5.13 */
};

struct cgroup_stats {
    uint32_t have; /* CGROUP_STAT_BIT() set */
    /* CPU time in nanoseconds, cumulative (v2 µs and v1 clock ticks converted) */
    uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
    /* bytes; *_max may be CGROUP_UNLIMITED */
    uint64_t memory_current, memory_max, swap_current, swap_max;
    /* memory.stat: bytes, except pswpin and pswpout (pages, cumulative) */
    uint64_t anon, file, kernel_stack, pagetables, slab_reclaimable, pswpin, pswpout;
    /* io.stat, cumulative, all devices together */
    uint64_t io_rbytes, io_wbytes, io_rios, io_wios;
    struct cgroup_pressure cpu_pressure, memory_pressure, io_pressure;
};

/* A scratch buffer for reads, owned by the caller, shared by any number of
 * readers (grown as needed; free p at the end). */
struct cgroup_buf {
    char *p;
    size_t cap;
};

/* The open files of one cgroup. */
struct cgroup_reader {
    int fd[_CGROUP_FILE_MAX]; /* -1 when not open */
    unsigned files;           /* CGROUP_FILE_BIT() of the open files */
    long clk_tck;             /* unit of cpuacct.stat (sysconf(_SC_CLK_TCK)); tests may set it */
};

#define CGROUP_READER_INIT                                                                         \
    {                                                                                              \
        .fd = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, .files = 0, .clk_tck = 100     \
    }

/* Open, among the files `want` (CGROUP_FILE_BIT() set), those of h's version
 * that exist in the cgroup cpath (canonical path, borrowed) of h (borrowed,
 * must stay open while r is used). On v1 only the files of the hierarchy's
 * controllers are tried (cpuacct.* with cpuacct, memory.* with memory).
 * Returns the number of files opened (r->files says which), -ENOENT when
 * the cgroup does not exist, or another negative errno (-EACCES, -ENOMEM);
 * r is left closed on failure. */
int cgroup_reader_open(struct cgroup_reader *r, const struct cgroup_hierarchy *h, const char *cpath,
                       unsigned want);

/* Read every open file from offset 0 into scratch and parse it into *ret
 * (written in full; ret->have says what was read). 0, -ENODEV when the
 * cgroup has been removed (a kernel file answers ENODEV, a fixture file
 * ENOENT or an empty text), -EBADMSG when a file does not have the expected
 * form, -ENOMEM. */
int cgroup_reader_read(struct cgroup_reader *r, struct cgroup_buf *scratch,
                       struct cgroup_stats *ret);

/* Close every file (idempotent). */
void cgroup_reader_close(struct cgroup_reader *r);

/* ---- the cgroup of a process ---- */

/* Read <proc_root>/proc/<pid>/cgroup and write the canonical path of the
 * process's cgroup into buf: the cgroup v2 line ("0::/path") when there is
 * one, else the line of the cpuacct controller, else the first line with a
 * path. Returns the length of the path (buf is NUL-terminated),
 * -ENAMETOOLONG when it does not fit, -ESRCH when the process has gone,
 * -ENOENT when the file lists no cgroup, or another negative errno. */
ssize_t cgroup_of_pid(const struct fsroot *proc_root, pid_t pid, char *buf, size_t size);

/* The same from the text of such a file (borrowed, len bytes). */
ssize_t cgroup_parse_proc_cgroup(const char *text, size_t len, char *buf, size_t size);

#endif
