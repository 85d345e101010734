/* SPDX-License-Identifier: MIT */
/* procfs: the options (init's parsing of [plugins.procfs], with the
 * errors that name the key and the fix) and the default configuration that
 * `config regen` writes. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "procfs.h"
#include "util/edit-distance.h"

/* What `config regen` writes: upstream's defaults, with comments. The hidden
 * options proc_root and sys_root are documented in README.md only. */
const char procfs_default_config[] =
    "[plugins.procfs]\n"
    "\n"
    "# Kernel statistics from /proc/stat: kernel_cpu_time (ms, per cpu_state, for the\n"
    "# machine and per CPU), kernel_context_switches, kernel_new_forks,\n"
    "# kernel_n_procs_running and kernel_n_procs_blocked\n"
    "[plugins.procfs.kernel]\n"
    "enabled = true\n"
    "poll_interval = \"5s\"\n"
    "\n"
    "# Memory statistics from /proc/meminfo, in bytes\n"
    "[plugins.procfs.memory]\n"
    "enabled = true\n"
    "poll_interval = \"5s\"\n"
    "# Entries of /proc/meminfo to measure; each one is a metric named in snake case\n"
    "# (MemTotal: mem_total, SwapCached: swap_cached, HugePages_Total: hugepages_total)\n"
    "metrics = [\n"
    "    \"MemTotal\",\n"
    "    \"MemFree\",\n"
    "    \"MemAvailable\",\n"
    "    \"Cached\",\n"
    "    \"SwapCached\",\n"
    "    \"Active\",\n"
    "    \"Inactive\",\n"
    "    \"Mapped\",\n"
    "]\n"
    "\n"
    "# Network statistics from /proc/net/dev, per interface and direction (rx, tx):\n"
    "# network_bytes, network_packets, network_packet_drops and network_errors\n"
    "[plugins.procfs.network]\n"
    "enabled = true\n"
    "poll_interval = \"5s\"\n"
    "\n"
    "# Process statistics: cpu_time_delta (ns), cpu_percent and memory_usage (bytes)\n"
    "[plugins.procfs.processes]\n"
    "enabled = true\n"
    "# How often the \"watcher\" strategy looks for new processes\n"
    "refresh_interval = \"2s\"\n"
    "# \"watcher\": scan /proc and measure the processes chosen by the groups below;\n"
    "# \"event\": measure the processes that the agent announces (the child of `exec`,\n"
    "# the process of `watch`) and their descendants, with the settings of `events`\n"
    "strategy = \"watcher\"\n"
    "# What the \"watcher\" strategy measures under `exec` and `watch`: \"event\" the\n"
    "# announced process and its descendants only (the system metrics stay the\n"
    "# machine's), \"watcher\" every process chosen by the groups below\n"
    "exec_strategy = \"event\"\n"
    "\n"
    "# A group of processes: a new process joins the first group whose filters all\n"
    "# accept it. Optional filters: pid = 1234 (this process only), ppid = 1 (the\n"
    "# children of this process only)\n"
    "[[plugins.procfs.processes.groups]]\n"
    "# Regular expression (POSIX extended) matched against the executable of the process\n"
    "# (the target of /proc/<pid>/exe); an empty string accepts every process\n"
    "exe_regex = \"\"\n"
    "poll_interval = \"2s\"\n"
    "flush_interval = \"4s\"\n"
    "# \"quick\" (/proc/<pid>/statm) or \"slow_but_accurate\" (/proc/<pid>/smaps_rollup,\n"
    "# which adds the proportional set size and needs ptrace access to the process)\n"
    "memory_mode = \"quick\"\n"
    "\n"
    "# Settings of the processes measured with strategy = \"event\"\n"
    "[plugins.procfs.processes.events]\n"
    "poll_interval = \"1s\"\n"
    "flush_interval = \"4s\"\n"
    "memory_mode = \"quick\"\n";

static const char *const procfs_default_meminfo[] = {
    "MemTotal", "MemFree", "MemAvailable", "Cached", "SwapCached", "Active", "Inactive", "Mapped",
};

/* The entries that Linux writes in /proc/meminfo (fs/proc/meminfo.c and the
 * architectures' arch_report_meminfo, up to 6.x); an entry found in the
 * machine's own file is accepted too (a newer kernel). */
static const char *const procfs_known_meminfo[] = {
    "MemTotal",          "MemFree",        "MemAvailable",    "Buffers",         "Cached",
    "SwapCached",        "Active",         "Inactive",        "Active(anon)",    "Inactive(anon)",
    "Active(file)",      "Inactive(file)", "Unevictable",     "Mlocked",         "HighTotal",
    "HighFree",          "LowTotal",       "LowFree",         "MmapCopy",        "SwapTotal",
    "SwapFree",          "Zswap",          "Zswapped",        "Dirty",           "Writeback",
    "AnonPages",         "Mapped",         "Shmem",           "KReclaimable",    "Slab",
    "SReclaimable",      "SUnreclaim",     "KernelStack",     "ShadowCallStack", "PageTables",
    "SecPageTables",     "NFS_Unstable",   "Bounce",          "WritebackTmp",    "CommitLimit",
    "Committed_AS",      "VmallocTotal",   "VmallocUsed",     "VmallocChunk",    "Percpu",
    "HardwareCorrupted", "AnonHugePages",  "ShmemHugePages",  "ShmemPmdMapped",  "FileHugePages",
    "FilePmdMapped",     "CmaTotal",       "CmaFree",         "Unaccepted",      "Balloon",
    "GPUActive",         "GPUReclaim",     "HugePages_Total", "HugePages_Free",  "HugePages_Rsvd",
    "HugePages_Surp",    "Hugepagesize",   "Hugetlb",         "DirectMap4k",     "DirectMap2M",
    "DirectMap4M",       "DirectMap1G",    "Quicklists",
};

/* Whether key is an entry of <proc_root>/proc/meminfo on this machine. */
static bool procfs_meminfo_has(const char *proc_root, const char *key)
{
    char path[4096], line[256];
    snprintf(path, sizeof(path), "%s/proc/meminfo", proc_root);
    FILE *f = fopen(path, "re");
    bool found = false;
    size_t len = strlen(key);
    while (f && !found && fgets(line, sizeof(line), f))
        found = strncmp(line, key, len) == 0 && line[len] == ':';
    if (f)
        fclose(f);
    return found;
}

/* An entry of memory.metrics that /proc/meminfo does not have: an error
 * naming the closest known entry. */
static int procfs_check_meminfo_key(struct alumet_config *t, const char *proc_root, const char *k,
                                    struct alumet_error *err)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < sizeof(procfs_known_meminfo) / sizeof(procfs_known_meminfo[0]); i++) {
        if (strcmp(procfs_known_meminfo[i], k) == 0)
            return 0;
        size_t d = edit_distance(k, procfs_known_meminfo[i]);
        if (d < best_d) {
            best_d = d;
            best = procfs_known_meminfo[i];
        }
    }
    if (procfs_meminfo_has(proc_root, k))
        return 0;
    size_t max = strlen(k) / 3 > 2 ? strlen(k) / 3 : 2;
    if (best && best_d <= max)
        return alumet_config_error(t, "metrics", err, -EINVAL,
                                   "'%s' is not an entry of /proc/meminfo, did you mean '%s'?", k,
                                   best);
    return alumet_config_error(t, "metrics", err, -EINVAL,
                               "'%s' is not an entry of /proc/meminfo (see `cat /proc/meminfo` "
                               "for the names, such as \"MemTotal\")",
                               k);
}

/* ---- options ---- */

/* flush_interval of a system source (an extension): absent or "0s" hands
 * the points over after every poll, as upstream. */
static int procfs_get_flush(struct alumet_config *t, alumet_time_ns *ret, struct alumet_error *err)
{
    int r = alumet_config_get_duration(t, "flush_interval", 0, ret, err);
    if (r < 0)
        return r;
    if (*ret < 0)
        return alumet_config_error(t, "flush_interval", err, -EINVAL,
                                   "expected a duration such as \"100ms\" (or \"0s\")");
    return 0;
}

static int procfs_get_memory_mode(struct alumet_config *t, enum procfs_memory_mode *ret,
                                  struct alumet_error *err)
{
    const char *s;
    int r = alumet_config_get_string(t, "memory_mode", "quick", &s, err);
    if (r < 0)
        return r;
    if (strcmp(s, "quick") == 0)
        *ret = PROCFS_MEMORY_QUICK;
    else if (strcmp(s, "slow_but_accurate") == 0)
        *ret = PROCFS_MEMORY_ACCURATE;
    else
        return alumet_config_error(t, "memory_mode", err, -EINVAL,
                                   "expected \"quick\" or \"slow_but_accurate\", got '%s'", s);
    return 0;
}

/* A pid filter: absent → -1 (any); above i32::MAX → -2, which never matches
 * (as upstream, where the value becomes -1). */
static int procfs_get_pid(struct alumet_config *t, const char *key, int64_t *ret,
                          struct alumet_error *err)
{
    int64_t v;
    int r = alumet_config_get_int(t, key, -1, &v, err);
    if (r < 0)
        return r;
    if (!alumet_config_has(t, key)) {
        *ret = -1;
        return 0;
    }
    if (v < 0 || v > UINT32_MAX)
        return alumet_config_error(t, key, err, -EINVAL,
                                   "expected a process id between 0 and 4294967295, got %lld",
                                   (long long)v);
    *ret = v > INT32_MAX ? -2 : v;
    return 0;
}

/* A group table ([[processes.groups]], or processes.events without the filters). */
static int procfs_parse_group(struct alumet_config *t, struct procfs_group *g, bool filters,
                              alumet_time_ns def_poll, struct alumet_error *err)
{
    int r;

    g->pid = g->ppid = -1;
    if (filters) {
        const char *re;
        r = procfs_get_pid(t, "pid", &g->pid, err);
        if (r < 0)
            return r;
        r = procfs_get_pid(t, "ppid", &g->ppid, err);
        if (r < 0)
            return r;
        r = alumet_config_get_string(t, "exe_regex", "", &re, err);
        if (r < 0)
            return r;
        g->exe_regex = strdup(re);
        if (!g->exe_regex)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        if (*re) {
            int e = regcomp(&g->regex, re, REG_EXTENDED | REG_NOSUB);
            if (e != 0) {
                char msg[256];
                regerror(e, &g->regex, msg, sizeof(msg));
                /* upstream panics here */
                return alumet_config_error(t, "exe_regex", err, -EINVAL,
                                           "invalid regular expression '%s': %s", re, msg);
            }
            g->has_regex = true;
        }
    }
    r = alumet_config_get_interval(t, "poll_interval", def_poll, &g->poll_interval, err);
    if (r < 0)
        return r;
    r = alumet_config_get_interval(t, "flush_interval", 4 * PROCFS_SEC, &g->flush_interval, err);
    if (r < 0)
        return r;
    return procfs_get_memory_mode(t, &g->memory_mode, err);
}

int procfs_group_init_lock(struct procfs_group *g)
{
    if (pthread_mutex_init(&g->lock, NULL) != 0)
        return -ENOMEM;
    g->lock_ready = true;
    return 0;
}

/* "watcher" or "event" */
static int procfs_get_strategy(struct alumet_config *t, const char *key, const char *def,
                               enum procfs_strategy *ret, struct alumet_error *err)
{
    const char *s;
    int r = alumet_config_get_string(t, key, def, &s, err);
    if (r < 0)
        return r;
    if (strcmp(s, "watcher") == 0)
        *ret = PROCFS_STRATEGY_WATCHER;
    else if (strcmp(s, "event") == 0)
        *ret = PROCFS_STRATEGY_EVENT;
    else
        return alumet_config_error(t, key, err, -EINVAL,
                                   "expected \"watcher\" or \"event\", got '%s'", s);
    return 0;
}

/* [plugins.procfs.processes] */
static int procfs_parse_processes(struct procfs *pfs, struct alumet_config *t,
                                  struct alumet_error *err)
{
    struct procfs_config *c = &pfs->cfg;
    struct alumet_config **groups = NULL;
    size_t n_groups = 0;

    int r = alumet_config_get_bool(t, "enabled", true, &c->processes_enabled, err);
    if (r < 0)
        return r;
    r = alumet_config_get_interval(t, "refresh_interval", 2 * PROCFS_SEC, &c->refresh_interval,
                                   err);
    if (r < 0)
        return r;
    r = procfs_get_strategy(t, "strategy", "watcher", &c->strategy, err);
    if (r < 0)
        return r;
    r = procfs_get_strategy(t, "exec_strategy", "event", &c->exec_strategy, err);
    if (r < 0)
        return r;

    r = alumet_config_get_table_array(t, "groups", &groups, &n_groups, err);
    if (r < 0)
        return r;
    bool default_group = !t || !alumet_config_has(t, "groups");
    size_t n = default_group ? 1 : n_groups;
    if (n > 0) {
        pfs->groups = calloc(n, sizeof(*pfs->groups));
        if (!pfs->groups) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct procfs_group *g = &pfs->groups[i];
        pfs->n_groups = i + 1;
        snprintf(g->name, sizeof(g->name), "process-group-%zu", i);
        r = procfs_group_init_lock(g);
        if (r < 0) {
            alumet_error_set(err, r, "out of memory");
            goto out;
        }
        /* a missing groups key means upstream's default: one group for every process */
        r = procfs_parse_group(default_group ? NULL : groups[i], g, true, 2 * PROCFS_SEC, err);
        if (r < 0)
            goto out;
    }

    struct alumet_config *ev;
    r = alumet_config_get_table(t, "events", &ev, err);
    if (r < 0)
        goto out;
    snprintf(pfs->events.name, sizeof(pfs->events.name), "process-events");
    pfs->events.descendants = true;
    r = procfs_parse_group(ev, &pfs->events, false, 1 * PROCFS_SEC, err);
out:
    free(groups);
    return r;
}

int procfs_parse_config(struct procfs *pfs, struct alumet_config *cfg, struct alumet_error *err)
{
    struct procfs_config *c = &pfs->cfg;
    struct alumet_config *t;
    const char *root;
    int r;

    /* hidden options: where /proc and /sys are (tests, containers) */
    r = alumet_config_get_string(cfg, "proc_root", "/", &root, err);
    if (r < 0)
        return r;
    if (!*root)
        return alumet_config_error(cfg, "proc_root", err, -EINVAL,
                                   "expected a directory, got an empty string");
    c->proc_root = strdup(root);
    r = alumet_config_get_string(cfg, "sys_root", "/", &root, err);
    if (r < 0)
        return r;
    if (!*root)
        return alumet_config_error(cfg, "sys_root", err, -EINVAL,
                                   "expected a directory, got an empty string");
    c->sys_root = strdup(root);
    if (!c->proc_root || !c->sys_root)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    /* every sub-table and key is optional: what is missing takes upstream's default */
    r = alumet_config_get_table(cfg, "kernel", &t, err);
    if (r < 0)
        return r;
    r = alumet_config_get_bool(t, "enabled", true, &c->kernel_enabled, err);
    if (r < 0)
        return r;
    r = alumet_config_get_interval(t, "poll_interval", 5 * PROCFS_SEC, &c->kernel_poll, err);
    if (r < 0)
        return r;
    r = procfs_get_flush(t, &c->kernel_flush, err);
    if (r < 0)
        return r;

    r = alumet_config_get_table(cfg, "memory", &t, err);
    if (r < 0)
        return r;
    r = alumet_config_get_bool(t, "enabled", true, &c->memory_enabled, err);
    if (r < 0)
        return r;
    r = alumet_config_get_interval(t, "poll_interval", 5 * PROCFS_SEC, &c->memory_poll, err);
    if (r < 0)
        return r;
    r = procfs_get_flush(t, &c->memory_flush, err);
    if (r < 0)
        return r;
    const char **keys = NULL;
    size_t n_keys = 0;
    int bad = 0;
    r = alumet_config_get_string_array(t, "metrics", &keys, &n_keys, err);
    if (r < 0)
        return r;
    bool defaults = !t || !alumet_config_has(t, "metrics");
    size_t n =
        defaults ? sizeof(procfs_default_meminfo) / sizeof(procfs_default_meminfo[0]) : n_keys;
    c->meminfo_keys = calloc(n ? n : 1, sizeof(*c->meminfo_keys));
    if (!c->meminfo_keys) {
        free(keys);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *k = defaults ? procfs_default_meminfo[i] : keys[i];
        if (!*k || strchr(k, ':') || strchr(k, ' ')) {
            free(keys);
            return alumet_config_error(t, "metrics", err, -EINVAL,
                                       "expected names of /proc/meminfo entries such as "
                                       "\"MemTotal\", got '%s'",
                                       k);
        }
        /* every unknown entry is reported (`config check` shows them all) */
        if (!defaults && procfs_check_meminfo_key(t, c->proc_root, k, err) < 0)
            bad = -EINVAL;
        c->meminfo_keys[i] = strdup(k);
        if (!c->meminfo_keys[i]) {
            free(keys);
            return alumet_error_set(err, -ENOMEM, "out of memory");
        }
        c->n_meminfo_keys = i + 1;
    }
    free(keys);
    if (bad < 0)
        return bad;

    r = alumet_config_get_table(cfg, "network", &t, err);
    if (r < 0)
        return r;
    r = alumet_config_get_bool(t, "enabled", true, &c->network_enabled, err);
    if (r < 0)
        return r;
    r = alumet_config_get_interval(t, "poll_interval", 5 * PROCFS_SEC, &c->network_poll, err);
    if (r < 0)
        return r;
    r = procfs_get_flush(t, &c->network_flush, err);
    if (r < 0)
        return r;

    r = alumet_config_get_table(cfg, "processes", &t, err);
    if (r < 0)
        return r;
    return procfs_parse_processes(pfs, t, err);
}
