/* SPDX-License-Identifier: MIT */
/* Private header of the procfs plugin, shared by its files and its tests.
 *
 * Layout:
 *   procfs.c          plugin struct, options, metrics, lifecycle, events, advice
 *   procfs-system.c   sources "kernel" (/proc/stat), "memory" (/proc/meminfo),
 *                     "network" (/proc/net/dev)
 *   procfs-process.c  one source per process group ("process-group-<i>",
 *                     "process-events")
 *   procfs-watcher.c  source "process-watcher"
 *   procfs-proc.c     one measured process: its files, the budget of descriptors
 *                     kept open, its reads and its points
 *
 * Ownership: the plugin state (struct procfs) is allocated by init and freed
 * by free. Every source registered in start is owned by the core, which frees
 * the sources when the pipeline is freed, before the plugins are stopped; the
 * sources therefore borrow the plugin state (roots, options, metric ids, the
 * queues of the groups) without holding a reference. Functions shared between
 * the files of the plugin are not static (they stay hidden: the build uses
 * -fvisibility=hidden) and carry the procfs_ prefix. */
#ifndef ALUMET_PLUGIN_PROCFS_H
#define ALUMET_PLUGIN_PROCFS_H

#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "alumet/plugin.h"
#include "util/fsroot.h"
#include "util/procfile.h"

/* ---- options ---- */

enum procfs_memory_mode {
    PROCFS_MEMORY_QUICK,    /* "quick": /proc/<pid>/statm */
    PROCFS_MEMORY_ACCURATE, /* "slow_but_accurate": /proc/<pid>/smaps_rollup */
};

enum procfs_strategy {
    PROCFS_STRATEGY_WATCHER, /* "watcher": scan /proc every refresh_interval */
    PROCFS_STRATEGY_EVENT,   /* "event": the processes announced by the agent */
};

/* What a group of processes measures, and for the event group the queue of
 * pids announced by the agent. The watcher (or the event callback) pushes
 * requests into `queue` under `lock`; the group's source drains it. */
struct procfs_group {
    /* options */
    int64_t pid;     /* -1: any pid; -2: a configured value that never matches */
    int64_t ppid;    /* same */
    char *exe_regex; /* owned, "" = no filter */
    regex_t regex;   /* compiled exe_regex when has_regex */
    bool has_regex;
    alumet_time_ns poll_interval, flush_interval;
    enum procfs_memory_mode memory_mode;
    bool descendants; /* also measure the descendants (event group) */

    /* runtime */
    char name[32]; /* source name */
    pthread_mutex_t lock;
    bool lock_ready;
    struct procfs_proc *queue; /* owned requests (see struct procfs_proc), n_queue of cap_queue */
    size_t n_queue, cap_queue;
    struct procfs_group_source *source; /* borrowed while registered (core owns it) */
    struct procfs *pfs;                 /* borrowed: the plugin state, set in start */
};

/* A measured process: 56 bytes, no allocation of its own. What only a group
 * that measures descendants needs is kept apart (struct procfs_proc_desc). */
struct procfs_proc {
    pid_t pid;
    int stat_fd;           /* /proc/<pid>/stat kept open, or -1: read by path */
    int mem_fd;            /* statm or smaps_rollup kept open, or -1 */
    unsigned kept : 1;     /* the two descriptors count in the plugin's budget */
    unsigned no_mem : 1;   /* the memory file cannot be read: CPU times only */
    unsigned skip : 1;     /* the current poll could not read it (no descriptor) */
    unsigned gone : 1;     /* the current poll found it gone */
    unsigned measured : 1; /* a poll already emitted the values since process start */
    unsigned rebase : 1;   /* after a pause: take a new baseline, emit no CPU point */
    unsigned ready : 1;    /* its stat was read when it was opened, into the stat that
                              the caller keeps with it: the next read uses it
                              (procfs_proc_open) */
    unsigned handed : 1;   /* measured by the watcher at last, not yet polled by its group */
    /* as a request in a group's queue: a process that the watcher has opened
     * and measured once (opened: the request holds its state, descriptors
     * included), a pid announced by an event (pid; starttime 0), or a pid to
     * forget (remove). A process goes from the watcher to its group by value
     * (no allocation per process), and the queue of a group that measures
     * nothing yet becomes its array of processes (no copy). */
    unsigned opened : 1;
    unsigned remove : 1; /* END event: forget this pid */
    uint64_t starttime;  /* fingerprint: clock ticks after boot (of a request: the one the
                            watcher saw, 0 = unknown) */
    /* at the previous poll, in clock ticks: user and system time (with the
     * children's when the group measures descendants), guest */
    uint64_t user, sys, guest;
    alumet_time_ns last; /* monotonic time of the previous poll */
};

struct procfs_config {
    bool kernel_enabled;
    alumet_time_ns kernel_poll;
    alumet_time_ns kernel_flush; /* 0: after every poll */
    bool memory_enabled;
    alumet_time_ns memory_poll;
    alumet_time_ns memory_flush; /* 0: after every poll */
    char **meminfo_keys;         /* owned strings */
    size_t n_meminfo_keys;
    bool network_enabled;
    alumet_time_ns network_poll;
    alumet_time_ns network_flush; /* 0: after every poll */
    bool processes_enabled;
    alumet_time_ns refresh_interval;
    enum procfs_strategy strategy;
    /* with strategy "watcher": what to measure once the agent announces a
     * process (exec, watch): EVENT = that process and its descendants only */
    enum procfs_strategy exec_strategy;
    char *proc_root; /* hidden option, default "/" */
    char *sys_root;  /* hidden option, default "/" */
};

/* ---- metric ids (registered in start) ---- */

struct procfs_metrics {
    alumet_metric_id cpu_time, ctx_switches, new_forks, procs_running, procs_blocked;
    alumet_metric_id *meminfo; /* owned, one per configured key */
    alumet_metric_id net_bytes, net_packets, net_drops, net_errors;
    alumet_metric_id cpu_time_delta, cpu_percent, memory_usage;
};

/* ---- plugin state ---- */

struct procfs_kernel_source;
struct procfs_memory_source;
struct procfs_network_source;
struct procfs_watcher_source;
struct procfs_group_source;

struct procfs {
    struct procfs_config cfg;
    struct procfs_group *groups; /* owned, n_groups */
    size_t n_groups;
    struct procfs_group events;

    /* taken from the system in init; tests may change them before polling */
    long clk_tck;    /* sysconf(_SC_CLK_TCK) */
    long page_size;  /* sysconf(_SC_PAGESIZE) */
    unsigned n_cpus; /* online CPUs (sys/devices/system/cpu/online), 0 = unknown */
    /* monotonic clock for intervals (alumet_time_monotonic), replaced by tests */
    alumet_time_ns (*clock)(void *data);
    void *clock_data;

    struct alumet_log_topic *log; /* borrowed from the start context (or a test) */
    struct alumet_log_topic fallback_log;
    struct fsroot proc, sys; /* opened by start, closed by stop */
    struct procfs_metrics m;

    /* borrowed pointers to the registered sources (owned by the core) */
    struct procfs_kernel_source *kernel;
    struct procfs_memory_source *memory;
    struct procfs_network_source *network;
    struct procfs_watcher_source *watcher;

    /* strategy "watcher" with exec_strategy "event": the agent has announced
     * a process (exec, watch), so the watcher and its groups stand down and
     * the events group measures that process and its descendants. Set by the
     * event callback, read by the sources' threads. */
    atomic_bool exec_mode;
    /* the events group starts paused and is resumed at the first announced
     * process (procfs_wake_events): no thread woken every second for nothing
     * under `run`, where nothing announces processes */
    _Atomic(struct alumet_pipeline *) pipeline; /* from post_pipeline_start */
    atomic_bool events_wanted;                  /* a process was announced */
    atomic_bool events_awake;                   /* resumed */

    /* descriptors kept open for the files of the measured processes: at most
     * fd_cap (set in start, procfs_fd_cap_set), fd_left of them still free;
     * taken and given back by the sources' threads */
    atomic_long fd_cap;
    atomic_long fd_left;
    /* the watcher may raise the limit of open files (procfs_fd_cap_fit), up
     * to nr_open (fs.nr_open, read in start) */
    bool fd_raise;
    long nr_open;

    /* warnings given once */
    bool warned_access;
    bool warned_fd_limit;
    bool no_children_file; /* /proc/<pid>/task/<tid>/children is missing: scan ppids */
};

#define procfs_log(pfs, level, ...) alumet_log_at((pfs)->log, (level), __VA_ARGS__)
#define procfs_warn(pfs, ...) procfs_log((pfs), ALUMET_LOG_WARN, __VA_ARGS__)
#define procfs_info(pfs, ...) procfs_log((pfs), ALUMET_LOG_INFO, __VA_ARGS__)
#define procfs_debug(pfs, ...) procfs_log((pfs), ALUMET_LOG_DEBUG, __VA_ARGS__)

#define PROCFS_SEC ALUMET_NSEC_PER_SEC

/* ---- procfs-config.c ---- */

/* What `config regen` writes: upstream's defaults, with comments. */
extern const char procfs_default_config[];
/* Read [plugins.procfs] into pfs (cfg, groups, events); errors name the key. */
int procfs_parse_config(struct procfs *pfs, struct alumet_config *cfg, struct alumet_error *err);
/* The lock of a group's queue; 0 or -ENOMEM. */
int procfs_group_init_lock(struct procfs_group *g);

/* ---- procfs.c ---- */

/* Warn once that a /proc/<pid> entry could not be read (permission), with
 * the advice (hidepid mount option, CAP_SYS_PTRACE, owner). rel is borrowed. */
void procfs_warn_access(struct procfs *pfs, const char *rel, int r);

/* The monotonic time for interval arithmetic. */
alumet_time_ns procfs_now(const struct procfs *pfs);

/* Make room for need items of size bytes in the array items of *cap items
 * (doubling). Returns the array, possibly moved (*cap updated), or NULL on
 * -ENOMEM (items is then unchanged and still owned by the caller). */
void *procfs_grow(void *items, size_t *cap, size_t need, size_t size);

/* The capacity that an array of cap items holding n should shrink to once a
 * burst has passed: halved until it is at most 4 times n (never below 64). */
size_t procfs_fit_cap(size_t cap, size_t n);

/* ---- procfs-system.c ---- */

/* Write the metric name of a /proc/meminfo key (MemTotal → mem_total,
 * HugePages_Total → hugepages_total, SReclaimable → s_reclaimable) into buf.
 * Returns the length the full name needs, like snprintf. */
size_t procfs_meminfo_metric_name(const char *key, char *buf, size_t size);

/* Count the CPUs of a list such as "0-3,5-6\n" (→ 6). Returns the count or
 * -EINVAL ("invalid cpu_list", e.g. "1-2-3"). */
int procfs_cpu_list_count(const char *text, size_t len);

/* Sources: *_new allocates the source and opens its file (the caller frees
 * it with the ops' free until it is registered). 0, -ENOMEM, or the negative
 * errno of opening the file (the part is then unavailable). */
int procfs_kernel_source_new(struct procfs *pfs, struct procfs_kernel_source **ret);
int procfs_memory_source_new(struct procfs *pfs, struct procfs_memory_source **ret);
int procfs_network_source_new(struct procfs *pfs, struct procfs_network_source **ret);
extern const struct alumet_source_ops procfs_kernel_source_ops;
extern const struct alumet_source_ops procfs_memory_source_ops;
extern const struct alumet_source_ops procfs_network_source_ops;

/* ---- procfs-proc.c ---- */

/* Bytes of the buffer that one read of a /proc/<pid> file goes into. */
#define PROCFS_SCRATCH 4096

/* The fields of /proc/<pid>/stat that the plugin uses. */
struct procfs_pid_stat {
    pid_t pid;
    int64_t ppid;
    uint64_t utime, stime;   /* clock ticks */
    uint64_t cutime, cstime; /* clock ticks of the children it has waited for */
    uint64_t starttime;      /* clock ticks after boot */
    uint64_t vsize;          /* bytes */
    uint64_t guest_time;     /* clock ticks, when has_guest */
    bool has_guest;
};

/* Parse the text of /proc/<pid>/stat. 0 or -EINVAL. */
int procfs_pid_stat_parse(const char *text, size_t len, struct procfs_pid_stat *ret);

/* The rest of a measured process in a group that measures descendants (the
 * events group), in an array parallel to its processes: its poll reads every
 * process first (into now), settles those that have gone (their parent takes
 * back what was reported for them), then emits. */
struct procfs_proc_desc {
    struct procfs_pid_stat now; /* read by the current poll */
    /* at the previous poll: children's times (clock ticks) and parent */
    uint64_t cutime, cstime;
    int64_t ppid;
    /* ticks already reported for descendants that have gone, to take back
     * from the children's times when this process waits for them */
    uint64_t credit_user, credit_sys;
};

/* The budget of descriptors: half of soft_limit (the soft RLIMIT_NOFILE of
 * the agent), 2 per process kept open. */
void procfs_fd_cap_set(struct procfs *pfs, long soft_limit);

/* With the watcher strategy (pfs->fd_raise): raise the limit of open files
 * (soft, and hard when the agent may: root or CAP_SYS_RESOURCE) to
 * procfile_fd_limit_for(n_procs) and the cap with it. Once raising fails, it
 * is not tried again (fd_raise cleared). */
void procfs_fd_cap_fit(struct procfs *pfs, size_t n_procs);

/* Whether a failure to open or read means that the process has gone. */
bool procfs_gone(int r);

/* Report a failure to open rel (below the proc root): permission and the
 * descriptor limit once as warnings, a vanished process never. */
void procfs_open_failed(struct procfs *pfs, const char *rel, int r);

/* The watcher's discovery read of a process: open /proc/<pid>/stat (kept
 * open when the budget allows, else read by path), read it once and parse it
 * into st (ret->starttime too). What it opened goes with ret: to
 * procfs_proc_adopt, or back with procfs_proc_close. 0, -ESRCH (gone),
 * -EMFILE or -ENFILE (no descriptor: try again later), -EINVAL (cannot be
 * parsed), another negative errno (cannot be read, already reported). */
int procfs_proc_probe(struct procfs *pfs, pid_t pid, char *scratch, struct procfs_proc *ret,
                      struct procfs_pid_stat *st);

/* Make a probed process one of group g: open its memory file next to its
 * stat (or check that it can be read by path). A process whose memory file
 * has gone already, or that finds no descriptor for it, is read by path
 * from now on: its next read tells whether it is still there. */
void procfs_proc_adopt(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p,
                       char *scratch);

/* Start measuring pid for group g, reading its stat once into st, so that it
 * can be emitted at once (scratch holds PROCFS_SCRATCH bytes): ret->ready is
 * set, and the next procfs_proc_read of ret with the same st uses what st
 * holds. starttime, when not 0, is the fingerprint that the watcher saw:
 * another process with the same pid is not ours. Returns 0, -ESRCH when the
 * process is not there (or not the expected one), another negative errno
 * when it cannot be read (already reported). */
int procfs_proc_open(struct procfs *pfs, const struct procfs_group *g, pid_t pid,
                     uint64_t starttime, char *scratch, struct procfs_proc *ret,
                     struct procfs_pid_stat *st);

/* Close the files of p and give its descriptors back (idempotent). */
void procfs_proc_close(struct procfs *pfs, struct procfs_proc *p);

/* Close the files of a process that has gone but keep the budget of its
 * descriptors until the caller gives it back (procfs_fd_give_back), as a
 * poll does once it has read every process: the processes read by path
 * after it in the same poll do not take them. Returns whether it held
 * descriptors of the budget. */
bool procfs_proc_drop(struct procfs *pfs, struct procfs_proc *p);
void procfs_fd_give_back(struct procfs *pfs, size_t n_procs);

/* Read the stat of the process into st. Returns 0 (p->skip set when it
 * could not be read for want of a descriptor), or 1 when the process has
 * gone (or its pid now belongs to another process). */
int procfs_proc_read(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p,
                     char *scratch, struct procfs_pid_stat *st);

/* Emit the points of a process whose stat procfs_proc_read read into st
 * (nothing when p->skip); d: its descendants' state when g measures
 * descendants, else NULL. When the points of one more process might not fit
 * in PROCFS_EMIT_CHUNK, those of buf are handed over to the pipeline first
 * (alumet_buffer_hand_over), so that a poll of thousands of processes holds
 * at most a chunk, in arrays that never grow beyond it; the points of one
 * process stay in one buffer. 0 or -ENOMEM. */
#define PROCFS_EMIT_CHUNK 1024
#define PROCFS_PROC_MAX_POINTS 10 /* memory (4 with smaps), CPU time (3), CPU % (3) */
/* a group poll trims malloc's heaps when it has this many processes more or
 * fewer than at its last trim */
#define PROCFS_TRIM_AFTER 1024
int procfs_proc_emit(struct procfs *pfs, const struct procfs_group *g, struct procfs_proc *p,
                     const struct procfs_pid_stat *st, struct procfs_proc_desc *d,
                     struct alumet_buffer *buf, alumet_time_ns now, alumet_time_ns mono,
                     char *scratch);

/* ---- procfs-process.c, procfs-watcher.c ---- */

/* A process the watcher has listed: 16 bytes. The inode number of a
 * /proc/<pid> directory (d_ino) is given when the kernel creates its inode,
 * so a new process under a reused pid has a new one: a pid listed again with
 * the same inode is the same process and its stat is not read again. The
 * kernel may drop the inode of a running process under memory pressure: its
 * next one costs one more read, after which the start time decides. Linux
 * numbers the inodes of /proc/<pid> with get_next_ino(), an unsigned int
 * (never 0): they fit in 32 bits. A larger one (a proc root that is not a
 * procfs, as the tests' fixture trees on a file system with 64-bit inode
 * numbers) is kept folded (its high half xor its low half): two directories
 * of one pid would have to fold to the same number to be taken for one. */
struct procfs_seen {
    uint32_t pid : 31;   /* at most INT32_MAX */
    uint32_t listed : 1; /* listed again by the current refresh */
    uint32_t ino;        /* d_ino of /proc/<pid>, 0 = unknown (always read) */
    uint64_t starttime;
};

/* The watcher lists proc/ (kept open); a group source measures group g
 * (borrowed, owned by the plugin state). 0 or a negative errno. */
int procfs_watcher_source_new(struct procfs *pfs, struct procfs_watcher_source **ret);
int procfs_group_source_new(struct procfs *pfs, struct procfs_group *g,
                            struct procfs_group_source **ret);
extern const struct alumet_source_ops procfs_watcher_source_ops;
extern const struct alumet_source_ops procfs_group_source_ops;

/* Queue a request for the group (thread-safe). 0, or -ENOMEM (the caller
 * then still owns what req opened). */
int procfs_group_push(struct procfs_group *g, const struct procfs_proc *req);

/* Drop the queued requests of a group (thread-safe). */
void procfs_group_clear(struct procfs_group *g);

/* Release the queue and the compiled regex of a group (not the lock). */
void procfs_group_done(struct procfs_group *g);

/* Number of processes a group source measures now, and the i-th pid (tests). */
size_t procfs_group_source_count(const struct procfs_group_source *src);
pid_t procfs_group_source_pid(const struct procfs_group_source *src, size_t i);

#endif
