/* SPDX-License-Identifier: MIT */
/* rapl plugin, private header shared by its files and its tests:
 *   rapl.c           the plugin: options, start decision (which interface,
 *                    which domains), metric, lifecycle
 *   rapl-perf.c      the perf_event power PMU: sysfs discovery, counters
 *   rapl-powercap.c  the powercap zones (intel-rapl, intel-rapl-mmio): discovery, counters
 *   rapl-source.c    the source "in": counter differences, points, totals
 *   rapl-explain.c   what to do when RAPL is missing or refused (rapl_explain)
 *
 * Ownership: the plugin state (struct rapl) is allocated by init and freed by
 * free. The source registered in start owns its counters (descriptors and
 * buffers) and is owned by the core, which frees it before the plugin is
 * stopped; it borrows the plugin state (log topic, perf operations).
 * Functions shared between the files are not static (the build hides them
 * with -fvisibility=hidden) and carry the rapl_ prefix. */
#ifndef ALUMET_PLUGIN_RAPL_H
#define ALUMET_PLUGIN_RAPL_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/plugin.h"
#include "util/fsroot.h"
#include "util/procfile.h"
#include "util/read-clock.h"

/* Below the sys root (hidden option sys_root, default "/"). */
#define RAPL_POWER_DIR "sys/devices/power"
#define RAPL_POWERCAP_DIR "sys/devices/virtual/powercap"
#define RAPL_CLASS_DIR "sys/class/powercap"
#define RAPL_CPU_DIR "sys/devices/system/cpu"

#define RAPL_SOURCE_NAME "in"
#define RAPL_METRIC "rapl_consumed_energy"

#define rapl_log(rapl, level, ...) alumet_log_at((rapl)->log, (level), __VA_ARGS__)

/* ---- domains ---- */

/* In the order of the totals (upstream's RaplDomainType). */
enum rapl_domain {
    RAPL_DOMAIN_PACKAGE,  /* the whole socket */
    RAPL_DOMAIN_PP0,      /* power plane 0: the cores */
    RAPL_DOMAIN_PP1,      /* power plane 1: the uncore (integrated GPU) */
    RAPL_DOMAIN_DRAM,     /* the memory attached to the socket */
    RAPL_DOMAIN_PLATFORM, /* psys: the whole platform (machine-wide) */
    _RAPL_DOMAIN_MAX,
    _RAPL_DOMAIN_INVALID = -22
};

/* A set of domains: bit (1u << domain). */
#define RAPL_DOMAIN_BIT(d) (1u << (unsigned)(d))

/* "package", "pp0", "pp1", "dram", "platform". */
const char *rapl_domain_name(enum rapl_domain d);
/* "package_total", ... */
const char *rapl_domain_total_name(enum rapl_domain d);
/* Names of the domains of mask, comma-separated in domain order ("package, dram"),
 * or "none". Returns the length the full text needs, like snprintf. */
size_t rapl_domains_text(unsigned mask, char *buf, size_t size);

/* Domain of a perf event name without its "energy-" prefix: "pkg", "cores",
 * "gpu", "ram", "psys"; _RAPL_DOMAIN_INVALID when unknown. */
enum rapl_domain rapl_domain_of_event(const char *name);

/* Parse a powercap zone name: "package-N" (and "package-N-die-M"), "core",
 * "uncore", "dram", "psys". *ret_socket is N, or -1 when the name has none.
 * 0, or -EINVAL when the name is unknown. */
int rapl_zone_name_parse(const char *name, enum rapl_domain *ret_domain, int64_t *ret_socket);

/* The resource of a counter: cpu_package{socket} for package, pp0 and pp1,
 * dram{socket} for dram, local_machine for platform. */
struct alumet_resource rapl_domain_resource(enum rapl_domain d, uint32_t socket);

/* ---- small helpers (rapl.c) ---- */

struct rapl;

/* Read the small file rel below root into buf (NUL-terminated, trailing
 * white space removed). Returns the length, or a negative errno (-EFBIG when
 * it does not fit). */
int rapl_read_text(const struct fsroot *root, const char *rel, char *buf, size_t size);

/* Parse a whole decimal number (surrounding white space allowed). 0 or -EINVAL. */
int rapl_parse_u64(const char *text, uint64_t *ret);

/* ---- configuration and state ---- */

struct rapl_config {
    alumet_time_ns poll_interval;  /* "1s" */
    alumet_time_ns flush_interval; /* "5s" */
    bool no_perf_events;           /* false */
    char *sys_root;                /* hidden, "/" */
    char *proc_root;               /* hidden, "/" */
};

/* The perf_event system calls, replaced by tests (this machine may have no
 * power PMU). open: the fd of a counter of attr on cpu (pid -1), or a negative
 * errno. read: the 64-bit count of fd. */
struct rapl_perf_ops {
    int (*open)(void *data, const struct perf_event_attr *attr, int cpu);
    int (*read)(void *data, int fd, uint64_t *ret);
    void *data;
};

/* The real ones: perf_event_open(2) and read(2) through src/util/perf-event. */
extern const struct rapl_perf_ops rapl_perf_syscalls;

struct rapl_source;

struct rapl {
    struct rapl_config cfg;
    struct rapl_perf_ops perf_ops; /* rapl_perf_syscalls, or a test's */
    struct alumet_log_topic *log;  /* borrowed from the start context (or a test) */
    struct alumet_log_topic fallback_log;
    struct fsroot sys, proc; /* opened by start, closed by stop */
    alumet_metric_id metric;
    unsigned domains;           /* measured domains (0: the plugin measures nothing) */
    bool using_perf;            /* which interface the source reads */
    struct rapl_source *source; /* borrowed once registered (the core owns it) */
    struct read_clock clock;    /* stamps a poll's reads (a test's, or zeroed) */
};

/* ---- the perf_event power PMU (rapl-perf.c) ---- */

struct rapl_event {
    enum rapl_domain domain;
    char name[64]; /* "energy-pkg" */
    uint64_t config;
    double scale; /* joules per count: 2^-32 on every current kernel */
};

struct rapl_pmu {
    uint32_t type;
    struct rapl_event events[_RAPL_DOMAIN_MAX]; /* sorted by domain */
    size_t n_events;
    int *cpus;         /* owned: the cpumask, one CPU per socket */
    uint32_t *sockets; /* owned: the socket of each of cpus */
    size_t n_cpus;
};

/* Read the PMU description below the sys root: type, cpumask, events/energy-*
 * with their .scale and .unit. Unknown events are skipped with a warning.
 * 0, -ENOENT when there is no power PMU directory, or another negative errno
 * with err. *ret is cleared first; release it with rapl_pmu_done. */
int rapl_pmu_discover(struct rapl *rapl, struct rapl_pmu *ret, struct alumet_error *err);
void rapl_pmu_done(struct rapl_pmu *pmu);
unsigned rapl_pmu_domains(const struct rapl_pmu *pmu);

/* Parse a CPU list ("0,32", "0-3,8\n") into *ret (owned, caller frees).
 * Returns the count (>= 1), -EINVAL or -ENOMEM. */
int rapl_cpu_list_parse(const char *text, int **ret);

/* ---- powercap zones (rapl-powercap.c) ---- */

struct rapl_zone {
    enum rapl_domain domain;
    uint32_t socket;
    char *rel; /* owned: the zone directory below the sys root */
    bool mmio; /* from the intel-rapl-mmio control type */
};

struct rapl_zones {
    struct rapl_zone *items; /* owned, sorted by rel */
    size_t len, cap;
};

/* List the zones of every intel-rapl* control type below the sys root.
 * Unknown zone names are skipped with a warning; an intel-rapl-mmio zone that
 * duplicates an intel-rapl zone (same domain and socket: the same counter
 * read through MMIO) is dropped. 0 (the list may be empty), -ENOENT when there
 * is no powercap directory, or another negative errno with err. */
int rapl_zones_discover(struct rapl *rapl, struct rapl_zones *ret, struct alumet_error *err);
void rapl_zones_done(struct rapl_zones *z);
unsigned rapl_zones_domains(const struct rapl_zones *z);

/* ---- counters and the source (rapl-source.c) ---- */

/* What a new counter value gives (model.md section 13). */
enum rapl_delta {
    RAPL_DELTA_FIRST,   /* no baseline yet: no value */
    RAPL_DELTA_OK,      /* new - prev */
    RAPL_DELTA_WRAPPED, /* max - prev + new + 1 */
    RAPL_DELTA_INVALID, /* above the maximum, or backwards with no maximum known: no value */
};

struct rapl_counter {
    enum rapl_domain domain;
    uint32_t socket;
    struct alumet_resource resource;
    bool perf;
    int fd;             /* perf: the counter; -1 for powercap */
    struct procfile pf; /* powercap: energy_uj, kept open (closed after it vanished) */
    char *what;         /* owned, for messages: "'energy-pkg' on CPU 0", or the energy_uj path */
    char *rel;          /* owned, powercap: energy_uj below the sys root (to reopen it) */
    double scale;       /* perf: joules per count */
    uint64_t max;       /* wrap value: 2^64-1 (perf), max_energy_range_uj; 0 = unknown */
    uint64_t prev;
    bool has_prev;
    uint64_t raw; /* the value of the current poll's read, when read_r is 0 */
    int read_r;
};

/* Feed a raw value to c: returns what it gives, the difference in *ret_delta
 * for OK and WRAPPED. value becomes the new baseline, except when it is above
 * the maximum (INVALID, the baseline is then forgotten). */
enum rapl_delta rapl_counter_update(struct rapl_counter *c, uint64_t value, uint64_t *ret_delta);

/* Joules of a difference of c's raw values (difference of counters, never
 * power times interval): delta * scale for perf, delta / 1e6 for powercap. */
double rapl_counter_joules(const struct rapl_counter *c, uint64_t delta);

struct rapl_source {
    struct rapl *rapl;             /* borrowed */
    struct rapl_counter *counters; /* owned */
    size_t n, cap;
    alumet_metric_id metric;
};

/* A new source without counters (NULL on -ENOMEM). Free it with
 * rapl_source_ops.free until the core owns it. */
struct rapl_source *rapl_source_new(struct rapl *rapl, alumet_metric_id metric);
/* Append a counter, cleared, with fd = -1; NULL on -ENOMEM. */
struct rapl_counter *rapl_source_add(struct rapl_source *src);
extern const struct alumet_source_ops rapl_source_ops;

/* Open a perf counter for every event of domains in the PMU on every cpumask
 * CPU (the platform event on the first CPU only) into src. 0, or the negative
 * errno of the first failure with err explaining it (src keeps what it had). */
int rapl_perf_open(struct rapl *rapl, const struct rapl_pmu *pmu, unsigned domains,
                   struct rapl_source *src, struct alumet_error *err);

/* Open energy_uj (and read max_energy_range_uj) of every zone of domains into
 * src. 0, or the negative errno of the first failure with err explaining it. */
int rapl_powercap_open(struct rapl *rapl, const struct rapl_zones *zones, unsigned domains,
                       struct rapl_source *src, struct alumet_error *err);

/* Read the current raw value of a counter: perf through rapl->perf_ops,
 * powercap with pread (reopening a file that had vanished). 0 or -errno. */
int rapl_counter_read(struct rapl *rapl, struct rapl_counter *c, uint64_t *ret);

/* ---- advice (rapl-explain.c) ---- */

enum rapl_iface {
    RAPL_IFACE_PERF,
    RAPL_IFACE_POWERCAP,
};

/* What decides whether the agent may read RAPL. */
struct rapl_privileges {
    int paranoid; /* kernel.perf_event_paranoid; valid when has_paranoid */
    bool has_paranoid;
    bool caps_known;  /* CapEff was read */
    bool cap_perfmon; /* CAP_PERFMON (Linux >= 5.8) */
    bool cap_sys_admin;
    bool root;                           /* effective uid 0 */
    unsigned kernel_major, kernel_minor; /* 0.0 when unknown */
    char exe[1024];                      /* the agent's executable, for setcap */
    char class_dir[1024];                /* the powercap class directory ("/sys/class/powercap") */
};

/* Gather the privileges of this process: proc/sys/kernel/perf_event_paranoid,
 * proc/self/status (CapEff), proc/sys/kernel/osrelease and proc/self/exe
 * below the proc root, the effective uid. Never fails: unknown facts stay unset. */
void rapl_privileges_read(const struct rapl *rapl, struct rapl_privileges *ret);

/* Explain why reading RAPL through iface failed with errnum (negative or
 * positive), and give the exact fix: the sysctl, the setcap command, the
 * chmod of the energy_uj files. what names the failing object ("'energy-pkg'
 * on CPU 0", or a file path). Writes into buf like snprintf and returns the
 * length the full text needs. */
size_t rapl_explain(int errnum, enum rapl_iface iface, const char *what,
                    const struct rapl_privileges *priv, char *buf, size_t size);

/* The message given when the machine exposes no RAPL at all (no power PMU,
 * no intel-rapl zone), with the paths looked at; hypervisor says whether
 * /proc/cpuinfo has the 'hypervisor' flag. Same return as rapl_explain. */
size_t rapl_explain_absent(const struct rapl *rapl, bool hypervisor, char *buf, size_t size);

/* The CPU vendor and the hypervisor flag from proc/cpuinfo below the proc
 * root: *ret_amd is true for AuthenticAMD and HygonGenuine. 0 or -errno. */
int rapl_cpuinfo_read(const struct rapl *rapl, bool *ret_amd, bool *ret_hypervisor);

#endif
