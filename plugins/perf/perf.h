/* SPDX-License-Identifier: MIT */
/* perf plugin, private header shared by its files:
 *   perf.c          the plugin: options, lifecycle, consumer events, the source
 *   perf-events.c   event specifications (grammar, native tables, libpfm4)
 *   perf-monitor.c  counters of a target (process, cgroup, system): open, read, scale
 *   perf-explain.c  advice for perf_event_open failures (paranoid level, capabilities)
 * Nothing here is exported from the agent (-fvisibility=hidden). */
#ifndef ALUMET_PLUGIN_PERF_H
#define ALUMET_PLUGIN_PERF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alumet/plugin.h"
#include "util/perf-event.h"

#define perf_log(perf, level, ...) alumet_log_at((perf)->log, (level), __VA_ARGS__)

/* ---- event specifications (perf-events.c) ---- */

/* Which config key an event comes from, which decides its metric name. */
enum perf_naming {
    PERF_NAMING_EVENTS,   /* `events`: the full grammar, metric perf_<sanitized name> */
    PERF_NAMING_HARDWARE, /* `hardware_events` (older upstream): perf_hardware_<NAME> */
    PERF_NAMING_SOFTWARE, /* `software_events`: perf_software_<NAME> */
    PERF_NAMING_CACHE,    /* `cache_events`: perf_cache_<ID>_<OP>_<RESULT> */
};

enum perf_event_origin {
    PERF_ORIGIN_NATIVE, /* the kernel's generic tables (hardware, software, cache) */
    PERF_ORIGIN_RAW,    /* rN */
    PERF_ORIGIN_PFM,    /* encoded by libpfm4 */
};

/* One configured event, resolved at init. Strings are owned. */
struct perf_event_spec {
    char *input;  /* as configured: "INSTRUCTIONS#u" */
    char *name;   /* resolved: "INSTRUCTIONS", "r0x412e", "RESOURCE_STALLS:ANY" */
    char *metric; /* "perf_instructions", "perf_hardware_INSTRUCTIONS" */
    char *description;
    enum perf_event_origin origin;
    uint32_t type;
    uint64_t config, config1, config2;
    bool exclude_user, exclude_kernel, exclude_hv, exclude_host, exclude_guest, exclude_idle;
    bool has_modifiers;
    bool nanoseconds; /* CPU_CLOCK and TASK_CLOCK count nanoseconds */
};

/* Encode a libpfm4 event name: fill type, config, config1 and config2 of
 * *attr. 0, or a negative errno with err saying why. */
typedef int (*perf_pfm_encode_fn)(void *data, const char *name, struct perf_event_attr *attr,
                                  struct alumet_error *err);

/* The real encoder (libpfm4's pfm_get_os_event_encoding); data is unused. */
int perf_pfm_encode(void *data, const char *name, struct perf_event_attr *attr,
                    struct alumet_error *err);

/* Parse one event written `<event>[#<modifiers>]` (see README.md) into *ret
 * (cleared first; free with perf_event_spec_done). rename (may be NULL)
 * replaces the name in the metric. pfm may be NULL (libpfm names are then
 * errors). 0, or -EINVAL / -ENOMEM with err: "invalid event 'X#z': unknown
 * modifier 'z'". */
int perf_event_spec_parse(const char *input, const char *rename, enum perf_naming naming,
                          perf_pfm_encode_fn pfm, void *pfm_data, struct perf_event_spec *ret,
                          struct alumet_error *err);
void perf_event_spec_done(struct perf_event_spec *e);

/* The perf_event_attr that counts e: disabled, read_format =
 * PERF_EVENT_READ_FORMAT, the exclude bits, and inherit as asked. */
void perf_event_spec_attr(const struct perf_event_spec *e, bool inherit,
                          struct perf_event_attr *ret);

/* Whether e needs a hardware PMU (hardware, cache, raw or a dynamic PMU type). */
bool perf_event_spec_is_hardware(const struct perf_event_spec *e);

/* Metric-name-safe text: ASCII letters and digits lower-cased, every other
 * character (a UTF-8 sequence counts as one) becomes '_', leading and
 * trailing '_' removed. Writes into buf like snprintf, returns the length. */
size_t perf_sanitize(const char *s, char *buf, size_t size);

/* ---- multiplexing (perf-monitor.c) ---- */

/* How faithful a reported cumulative value is; it only ever degrades. */
enum perf_accuracy {
    PERF_ACCURACY_EXACT,          /* every interval fully counted */
    PERF_ACCURACY_EXTRAPOLATED,   /* some intervals scaled (value * enabled / running) */
    PERF_ACCURACY_UNDERESTIMATED, /* some intervals kept raw, or missed entirely */
};

/* What happened to a counter between two reads. */
enum perf_interval {
    PERF_INTERVAL_IDLE,        /* not enabled at all (the process did not run) */
    PERF_INTERVAL_EXACT,       /* on the PMU all the time it was enabled */
    PERF_INTERVAL_MULTIPLEXED, /* on the PMU part of the time */
    PERF_INTERVAL_STARVED,     /* enabled but never on the PMU: nothing to scale */
};

/* The scaled cumulative value of one counter. Zero-initialized: a counter
 * counts from zero when enabled, so the first read is an interval like any other. */
struct perf_scaling {
    struct perf_event_count prev;
    uint64_t total;
    enum perf_accuracy accuracy;
};

/* Account for a new read: each interval is scaled on its own, as `perf stat`
 * does (delta * d_enabled / d_running, rounded to the nearest), and added to
 * total, so that the total never decreases. */
enum perf_interval perf_scaling_update(struct perf_scaling *s, const struct perf_event_count *now,
                                       bool auto_scale);
const char *perf_accuracy_name(enum perf_accuracy a);

/* ---- system calls, replaceable by tests ---- */

struct perf_sys_ops {
    /* perf_event_open with close-on-exec; the fd or a negative errno */
    int (*open)(void *data, const struct perf_event_attr *attr, pid_t pid, int cpu,
                unsigned long flags);
    int (*enable)(void *data, int fd);
    int (*read)(void *data, int fd, struct perf_event_count *ret);
    void (*close)(void *data, int fd);
};

extern const struct perf_sys_ops perf_sys_real;

/* ---- failures (perf-explain.c) ---- */

enum perf_failure {
    PERF_FAILURE_UNSUPPORTED, /* ENOENT, EOPNOTSUPP, ENODEV, EINVAL: skip the event */
    PERF_FAILURE_DENIED,      /* EACCES, EPERM */
    PERF_FAILURE_GONE,        /* ESRCH: the process ended */
    PERF_FAILURE_OTHER,
};

enum perf_failure perf_failure_of(int errnum);

/* What was being opened, for perf_explain. */
struct perf_explain_ctx {
    int root_fd;        /* proc_root: proc/sys/kernel/perf_event_paranoid, proc/self/... */
    const char *event;  /* the event as configured */
    const char *target; /* "process '1234'", "cgroup '/a'", "the whole machine" */
    bool cpu_wide;      /* per-CPU counting: cgroup or system-wide mode */
    bool kernel;        /* counts kernel or hypervisor space (modifiers k, h) */
    bool hardware;      /* needs a hardware PMU */
    bool modifiers;     /* the event has #modifiers */
};

/* Turn a perf_event_open errno (positive or negative) and its context into
 * one message that says what is wrong and the exact command that fixes it.
 * Writes into buf like snprintf and returns the length. */
/* Why an event is unsupported, from the errno of perf_event_open
 * ("ENOENT: unknown event type or configuration"). */
const char *perf_unsupported_reason(int errnum);
#define PERF_VM_HINT                                                                               \
    "; in a virtual machine the hardware counters are usually not exposed (no 'cpu' entry in "     \
    "/sys/bus/event_source/devices): only software events such as PAGE_FAULTS, "                   \
    "CONTEXT_SWITCHES or TASK_CLOCK work there"

size_t perf_explain(int errnum, const struct perf_explain_ctx *ctx, char *buf, size_t size);

/* ---- the plugin state (perf.c) and its targets (perf-monitor.c) ---- */

enum perf_target_kind {
    PERF_TARGET_PROCESS, /* a process and its descendants (inherit), all CPUs */
    PERF_TARGET_CGROUP,  /* a cgroup, one counter per CPU */
    PERF_TARGET_SYSTEM,  /* the whole machine, one counter per CPU */
};

#define PERF_NO_CPU UINT32_MAX

/* One measured series: one event, summed over fds (the threads of a
 * process) or on one CPU. */
struct perf_series {
    uint32_t event; /* index in perf->events */
    uint32_t cpu;   /* resource cpu_core{cpu}, or PERF_NO_CPU for local_machine */
    int *fds;
    size_t n_fds;
    struct perf_scaling scaling;
    bool told_multiplexed;
    bool told_starved;
};

struct perf_target {
    enum perf_target_kind kind;
    uint32_t pid; /* process */
    char *path;   /* cgroup: the path of the consumer event, owned */
    char *label;  /* "process '1234'", for messages, owned */
    struct perf_series *series;
    size_t n_series;
    size_t n_places; /* threads or CPUs */
    bool dead;       /* a read failed: dropped at the end of the poll */
};

/* Per-event state of a run. */
struct perf_event_state {
    alumet_metric_id metric;
    bool unsupported; /* failed with PERF_FAILURE_UNSUPPORTED: told once, not tried again */
    bool denied_task; /* a denial was told for a process (then: debug level) */
    bool denied_cpu;  /* the same per CPU (cgroup, system) */
};

struct perf {
    /* options, from init */
    alumet_time_ns poll_interval;
    alumet_time_ns flush_interval;
    bool start_paused;
    bool auto_scale;
    bool system_wide;
    char *proc_root;
    char *sys_root;
    char *cgroup_root;
    struct perf_event_spec *events;
    size_t n_events;

    /* services */
    struct alumet_log_topic own_log; /* until start hands the plugin's topic */
    struct alumet_log_topic *log;
    const struct perf_sys_ops *sys;
    void *sys_data;

    /* one run: start -> stop */
    pthread_mutex_t lock; /* targets, running (the source polls in another thread) */
    /* one consumer event at a time: two sources may publish at once (the
     * cgroup detectors of cgroups and slurm at their first polls), and the
     * event path sets the told/explained flags below */
    pthread_mutex_t event_lock;
    atomic_int refs; /* the plugin, and the source while the pipeline has it */
    bool running;
    int proc_fd; /* proc_root, opened at start */
    int sys_fd;  /* sys_root */
    struct perf_event_state *ev;
    struct perf_target **targets;
    size_t n_targets, cap_targets;
    bool explained_denied_task; /* the whole explanation was given for a process */
    bool explained_denied_cpu;  /* ... per CPU */
    bool told_nothing_task;     /* "no perf event could be opened" was told for a process */
    bool told_nothing_cpu;      /* ... per CPU */
};

/* Open the counters of a target; the caller adds it with perf_targets_add.
 * 0 and *ret, or a negative errno once every problem has been logged
 * (-ENOENT: no event could be opened, -ESRCH: the process is gone). */
int perf_target_new_process(struct perf *perf, uint32_t pid, struct perf_target **ret);
int perf_target_new_cgroup(struct perf *perf, const char *path, struct perf_target **ret);
int perf_target_new_system(struct perf *perf, struct perf_target **ret);
/* Close its fds and free it. NULL-safe. */
void perf_target_free(struct perf *perf, struct perf_target *t);
/* Read every series of t and push one point each into buf. A read failure
 * marks t dead (logged once). 0, or -ENOMEM. */
int perf_target_poll(struct perf *perf, struct perf_target *t, struct alumet_buffer *buf,
                     alumet_time_ns now);

/* Open every event once for the agent itself, to tell at start which ones
 * this machine cannot count (one warning each). Returns how many can. */
size_t perf_probe_events(struct perf *perf);

/* Parse a CPU list ("0-3,5\n") into a new array (caller frees). 0 or -EINVAL
 * ("invalid cpu_list") or -ENOMEM. */
int perf_parse_cpu_list(const char *text, uint32_t **ret, size_t *ret_len);

#endif
