/* SPDX-License-Identifier: MIT */
/* rapl: the energy of the CPU packages, cores, integrated GPU, memory and
 * platform from the RAPL counters, as upstream Alumet's rapl plugin 0.3.1
 * (see README.md). This file holds the plugin struct, the options, the start
 * decision (which interface, which domains) and the lifecycle. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "rapl.h"

/* What `config regen` writes: exactly upstream's four lines (its end-to-end
 * test compares them). The options are documented in README.md, as are the
 * hidden options sys_root and proc_root. */
#define RAPL_DEFAULT_CONFIG                                                                        \
    "[plugins.rapl]\n"                                                                             \
    "poll_interval = \"1s\"\n"                                                                     \
    "flush_interval = \"5s\"\n"                                                                    \
    "no_perf_events = false\n"

#define RAPL_DESCRIPTION "Energy consumed since the previous measurement, as reported by RAPL."

/* ---- domains ---- */

static const char *const rapl_domain_names[_RAPL_DOMAIN_MAX] = {
    "package", "pp0", "pp1", "dram", "platform",
};
static const char *const rapl_domain_totals[_RAPL_DOMAIN_MAX] = {
    "package_total", "pp0_total", "pp1_total", "dram_total", "platform_total",
};

const char *rapl_domain_name(enum rapl_domain d)
{
    return d >= 0 && d < _RAPL_DOMAIN_MAX ? rapl_domain_names[d] : "unknown";
}

const char *rapl_domain_total_name(enum rapl_domain d)
{
    return d >= 0 && d < _RAPL_DOMAIN_MAX ? rapl_domain_totals[d] : "unknown";
}

size_t rapl_domains_text(unsigned mask, char *buf, size_t size)
{
    size_t len = 0;
    if (size > 0)
        buf[0] = '\0';
    for (int d = 0; d < _RAPL_DOMAIN_MAX; d++) {
        if (!(mask & RAPL_DOMAIN_BIT(d)))
            continue;
        int n = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s%s",
                         len ? ", " : "", rapl_domain_names[d]);
        if (n > 0)
            len += (size_t)n;
    }
    if (len == 0) {
        int n = snprintf(buf, size, "none");
        len = n > 0 ? (size_t)n : 0;
    }
    return len;
}

enum rapl_domain rapl_domain_of_event(const char *name)
{
    static const char *const events[_RAPL_DOMAIN_MAX] = {"pkg", "cores", "gpu", "ram", "psys"};
    for (int d = 0; d < _RAPL_DOMAIN_MAX; d++)
        if (strcmp(name, events[d]) == 0)
            return (enum rapl_domain)d;
    return _RAPL_DOMAIN_INVALID;
}

/* Decimal digits at *p, moved past them. 0 or -EINVAL. */
static int rapl_scan_u32(const char **p, uint32_t *ret)
{
    uint64_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -EINVAL;
        s++;
    }
    *p = s;
    *ret = (uint32_t)v;
    return 0;
}

int rapl_zone_name_parse(const char *name, enum rapl_domain *ret_domain, int64_t *ret_socket)
{
    static const struct {
        const char *name;
        enum rapl_domain domain;
    } fixed[] = {
        {"core", RAPL_DOMAIN_PP0},
        {"uncore", RAPL_DOMAIN_PP1},
        {"dram", RAPL_DOMAIN_DRAM},
        {"psys", RAPL_DOMAIN_PLATFORM},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(name, fixed[i].name) == 0) {
            *ret_domain = fixed[i].domain;
            *ret_socket = -1;
            return 0;
        }
    /* "package-1", or "package-0-die-1" on multi-die CPUs (upstream fails on it) */
    if (strncmp(name, "package-", 8) != 0)
        return -EINVAL;
    const char *p = name + 8;
    uint32_t socket, die;
    if (rapl_scan_u32(&p, &socket) < 0)
        return -EINVAL;
    if (strncmp(p, "-die-", 5) == 0) {
        p += 5;
        if (rapl_scan_u32(&p, &die) < 0)
            return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    *ret_domain = RAPL_DOMAIN_PACKAGE;
    *ret_socket = socket;
    return 0;
}

struct alumet_resource rapl_domain_resource(enum rapl_domain d, uint32_t socket)
{
    switch (d) {
    case RAPL_DOMAIN_DRAM:
        return (struct alumet_resource){ALUMET_RESOURCE_DRAM, socket, NULL, NULL};
    case RAPL_DOMAIN_PLATFORM:
        return (struct alumet_resource)ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    default:
        /* pp0 and pp1 cover all the cores (the GPU) of a package, not one core */
        return (struct alumet_resource){ALUMET_RESOURCE_CPU_PACKAGE, socket, NULL, NULL};
    }
}

/* ---- small helpers ---- */

int rapl_read_text(const struct fsroot *root, const char *rel, char *buf, size_t size)
{
    if (size < 2)
        return -EINVAL;
    int fd = fsroot_openat(root, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    ssize_t n;
    while ((n = pread(fd, buf, size - 1, 0)) < 0 && errno == EINTR)
        ;
    int r = n < 0 ? -errno : 0;
    if (r == 0 && (size_t)n == size - 1) {
        char more;
        ssize_t m = pread(fd, &more, 1, n);
        if (m > 0)
            r = -EFBIG;
    }
    close(fd);
    if (r < 0)
        return r;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    return (int)n;
}

int rapl_parse_u64(const char *text, uint64_t *ret)
{
    const char *p = text;
    uint64_t v = 0;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
        p++;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* ---- options ---- */

static int rapl_get_root(struct alumet_config *t, const char *key, char **ret,
                         struct alumet_error *err)
{
    const char *root;
    int r = alumet_config_get_string(t, key, "/", &root, err);
    if (r < 0)
        return r;
    if (!*root)
        return alumet_config_error(t, key, err, -EINVAL,
                                   "expected a directory, got an empty string");
    *ret = strdup(root);
    if (!*ret)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* Every key is optional (upstream requires all three when the section
 * exists): a missing one takes upstream's default. */
static int rapl_parse_config(struct rapl_config *c, struct alumet_config *cfg,
                             struct alumet_error *err)
{
    int r = alumet_config_get_interval(cfg, "poll_interval", ALUMET_NSEC_PER_SEC, &c->poll_interval,
                                       err);
    if (r < 0)
        return r;
    r = alumet_config_get_interval(cfg, "flush_interval", 5 * ALUMET_NSEC_PER_SEC,
                                   &c->flush_interval, err);
    if (r < 0)
        return r;
    r = alumet_config_get_bool(cfg, "no_perf_events", /* def= */ false, &c->no_perf_events, err);
    if (r < 0)
        return r;
    /* hidden options: where /sys and /proc are (tests, containers) */
    r = rapl_get_root(cfg, "sys_root", &c->sys_root, err);
    if (r < 0)
        return r;
    return rapl_get_root(cfg, "proc_root", &c->proc_root, err);
}

/* ---- lifecycle ---- */

static void rapl_release(struct rapl *rapl)
{
    fsroot_close(&rapl->sys);
    fsroot_close(&rapl->proc);
    rapl->source = NULL;
    rapl->domains = 0;
    rapl->using_perf = false;
    rapl->metric = ALUMET_METRIC_ID_INVALID;
    rapl->log = &rapl->fallback_log;
}

static void rapl_free(void *state)
{
    struct rapl *rapl = state;
    if (!rapl)
        return;
    rapl_release(rapl);
    free(rapl->cfg.sys_root);
    free(rapl->cfg.proc_root);
    free(rapl);
}

static int rapl_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct rapl *rapl = calloc(1, sizeof(*rapl));
    if (!rapl)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    rapl->sys = (struct fsroot)FSROOT_INIT;
    rapl->proc = (struct fsroot)FSROOT_INIT;
    rapl->fallback_log = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("rapl");
    rapl->log = &rapl->fallback_log;
    rapl->perf_ops = rapl_perf_syscalls;
    rapl->metric = ALUMET_METRIC_ID_INVALID;
    int r = rapl_parse_config(&rapl->cfg, cfg, err);
    if (r < 0) {
        rapl_free(rapl);
        return r;
    }
    *ret_state = rapl;
    return 0;
}

/* What discovery found on both interfaces. */
struct rapl_found {
    struct rapl_pmu pmu;
    struct rapl_zones zones;
    int pmu_r, zones_r; /* 0, -ENOENT (absent) or an error */
    struct alumet_error pmu_err, zones_err;
    unsigned pmu_domains, zones_domains;
};

/* The domains to measure. Both interfaces are compared, as upstream does:
 * kernels have advertised domains that do not exist (AMD before Linux 5.17,
 * the powercap "core" zone of AMD CPUs), so only the domains that both report
 * are kept. 0, or a negative errno with err when nothing can be measured. */
static int rapl_choose_domains(struct rapl *rapl, struct rapl_found *f, unsigned *ret,
                               struct alumet_error *err)
{
    char pd[128], zd[128], kept[128], dropped[128], path[PATH_MAX];
    const char *label;

    rapl_domains_text(f->pmu_domains, pd, sizeof(pd));
    rapl_domains_text(f->zones_domains, zd, sizeof(zd));
    if (f->pmu_domains && f->zones_domains) {
        unsigned both = f->pmu_domains & f->zones_domains;
        *ret = both;
        label = "";
        if (f->pmu_domains != f->zones_domains) {
            bool amd = false, hypervisor = false;
            rapl_cpuinfo_read(rapl, &amd, &hypervisor);
            rapl_domains_text(both, kept, sizeof(kept));
            rapl_domains_text((f->pmu_domains | f->zones_domains) & ~both, dropped,
                              sizeof(dropped));
            rapl_log(rapl, ALUMET_LOG_WARN,
                     "perf_events and powercap do not report the same RAPL domains "
                     "(perf_events: '%s'; powercap: '%s'), a kernel bug that a newer kernel "
                     "may fix%s; measuring only the domains that both report ('%s'), skipping "
                     "'%s'",
                     pd, zd,
                     amd ? "; on AMD CPUs only 'package' is reliable: old kernels (before "
                           "Linux 5.17) advertise perf events that do not exist, and the "
                           "powercap 'core' zone gives aberrant values"
                         : "",
                     kept, dropped);
            if (!both)
                return alumet_error_set(err, -ENODEV,
                                        "perf_events ('%s') and powercap ('%s') have no RAPL "
                                        "domain in common, unable to choose what to measure",
                                        pd, zd);
            label = " (\"safe subset\")";
        }
    } else if (f->pmu_domains) {
        *ret = f->pmu_domains;
        label = " (from perf_events)";
        fsroot_path(&rapl->sys, RAPL_POWERCAP_DIR, path, sizeof(path));
        if (f->zones_r < 0 && f->zones_r != -ENOENT)
            rapl_log(rapl, ALUMET_LOG_WARN,
                     "cannot list the RAPL powercap zones: %s; the domains of perf_events are "
                     "not cross-checked",
                     f->zones_err.msg);
        else
            rapl_log(rapl, ALUMET_LOG_INFO,
                     "no intel-rapl powercap zone in '%s', the domains of perf_events are not "
                     "cross-checked",
                     path);
    } else {
        *ret = f->zones_domains;
        label = " (from powercap)";
        fsroot_path(&rapl->sys, RAPL_POWER_DIR, path, sizeof(path));
        if (f->pmu_r < 0 && f->pmu_r != -ENOENT)
            rapl_log(rapl, ALUMET_LOG_WARN, "cannot read the RAPL perf PMU: %s, using powercap",
                     f->pmu_err.msg);
        else if (f->pmu_r == 0)
            rapl_log(rapl, ALUMET_LOG_WARN,
                     "the RAPL perf PMU in '%s' has no energy event, using powercap", path);
        else
            /* a warning only when perf_events was wanted */
            rapl_log(rapl, rapl->cfg.no_perf_events ? ALUMET_LOG_INFO : ALUMET_LOG_WARN,
                     "no RAPL perf PMU in '%s' (kernel without the RAPL PMU, or module 'rapl' "
                     "not loaded), using powercap",
                     path);
    }
    rapl_domains_text(*ret, kept, sizeof(kept));
    rapl_log(rapl, ALUMET_LOG_INFO, "available RAPL domains%s: %s", label, kept);
    return 0;
}

/* Open the counters of domains: perf_events first (unless no_perf_events),
 * then powercap when perf_events is refused. *ret_src is the new source. */
static int rapl_open_counters(struct rapl *rapl, struct rapl_found *f, unsigned domains,
                              struct rapl_source **ret_src, struct alumet_error *err)
{
    struct alumet_error perf_err = {0};
    bool can_perf = f->pmu_r == 0 && (f->pmu_domains & domains) == domains;
    bool can_powercap = f->zones_r == 0 && (f->zones_domains & domains) == domains;
    bool perf_failed = false;
    int r;

    struct rapl_source *src = rapl_source_new(rapl, ALUMET_METRIC_ID_INVALID);
    if (!src)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if (can_perf && !rapl->cfg.no_perf_events) {
        r = rapl_perf_open(rapl, &f->pmu, domains, src, &perf_err);
        if (r == 0) {
            rapl->using_perf = true;
            *ret_src = src;
            return 0;
        }
        rapl_source_ops.free(src);
        if (r == -ENOMEM || !can_powercap)
            return alumet_error_set(err, r, "%s", perf_err.msg);
        perf_failed = true;
        rapl_log(rapl, ALUMET_LOG_WARN, "%s; falling back to powercap", perf_err.msg);
        src = rapl_source_new(rapl, ALUMET_METRIC_ID_INVALID);
        if (!src)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    if (!can_powercap) {
        char path[PATH_MAX];
        rapl_source_ops.free(src);
        fsroot_path(&rapl->sys, RAPL_POWERCAP_DIR, path, sizeof(path));
        return alumet_error_set(err, -ENODEV,
                                "plugins.rapl.no_perf_events is true, but this machine exposes "
                                "RAPL through perf_events only (no intel-rapl powercap zone in "
                                "'%s'); set no_perf_events = false",
                                path);
    }
    r = rapl_powercap_open(rapl, &f->zones, domains, src, err);
    if (r < 0) {
        rapl_source_ops.free(src);
        if (perf_failed)
            alumet_error_prefix(err, "perf_events was refused (see the warning above) and");
        return r;
    }
    *ret_src = src;
    return 0;
}

static int rapl_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct rapl *rapl = state;
    struct rapl_found f = {0};
    struct rapl_source *src = NULL;
    unsigned domains = 0;
    char text[ALUMET_ERROR_MSG_MAX];
    int r;

    rapl->log = alumet_start_log_topic(ctx);
    r = fsroot_open(&rapl->sys, rapl->cfg.sys_root);
    if (r < 0)
        return alumet_error_set(err, r,
                                "cannot open the sys root '%s': %s; the hidden option "
                                "plugins.rapl.sys_root must name the directory that holds sys/ "
                                "(default \"/\")",
                                rapl->cfg.sys_root, strerror(-r));
    /* /proc only serves the advice: without it the messages are less precise */
    r = fsroot_open(&rapl->proc, rapl->cfg.proc_root);
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    if (r < 0)
        rapl_log(rapl, ALUMET_LOG_DEBUG, "cannot open the proc root '%s': %s", rapl->cfg.proc_root,
                 strerror(-r));

    f.pmu_r = rapl_pmu_discover(rapl, &f.pmu, &f.pmu_err);
    f.zones_r = rapl_zones_discover(rapl, &f.zones, &f.zones_err);
    if (f.pmu_r == -ENOMEM || f.zones_r == -ENOMEM) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    f.pmu_domains = f.pmu_r == 0 ? rapl_pmu_domains(&f.pmu) : 0;
    f.zones_domains = f.zones_r == 0 ? rapl_zones_domains(&f.zones) : 0;

    if (!f.pmu_domains && !f.zones_domains) {
        bool pmu_failed = f.pmu_r < 0 && f.pmu_r != -ENOENT;
        bool zones_failed = f.zones_r < 0 && f.zones_r != -ENOENT;
        if (pmu_failed || zones_failed) {
            r = alumet_error_set(err, pmu_failed ? f.pmu_r : f.zones_r,
                                 "both perf_events and powercap failed, unable to read RAPL "
                                 "counters: perf_events: %s; powercap: %s",
                                 pmu_failed ? f.pmu_err.msg : "no RAPL event",
                                 zones_failed ? f.zones_err.msg : "no RAPL zone");
            goto out;
        }
        /* no RAPL on this machine (virtual machines): say it once, measure
         * nothing, and let the other plugins run */
        bool amd, hypervisor;
        rapl_cpuinfo_read(rapl, &amd, &hypervisor);
        rapl_explain_absent(rapl, hypervisor, text, sizeof(text));
        rapl_log(rapl, ALUMET_LOG_WARN, "%s", text);
        r = 0;
        goto out;
    }

    r = rapl_choose_domains(rapl, &f, &domains, err);
    if (r < 0)
        goto out;
    r = rapl_open_counters(rapl, &f, domains, &src, err);
    if (r < 0)
        goto out;
    r = alumet_create_metric(ctx, RAPL_METRIC, ALUMET_VALUE_F64, ALUMET_UNIT(JOULE),
                             RAPL_DESCRIPTION, &rapl->metric, err);
    if (r < 0) {
        rapl_source_ops.free(src);
        goto out;
    }
    src->metric = rapl->metric;
    size_t n = src->n;
    struct alumet_source_opts opts = {
        .size = sizeof(opts),
        .poll_interval = rapl->cfg.poll_interval,
        .flush_interval = rapl->cfg.flush_interval,
        .baseline_first = true, /* energy counter differences */
    };
    r = alumet_add_source(ctx, RAPL_SOURCE_NAME, &rapl_source_ops, src, &opts, err);
    if (r < 0) {
        rapl_source_ops.free(src);
        goto out;
    }
    rapl->source = src;
    rapl->domains = domains;
    rapl_domains_text(domains, text, sizeof(text));
    rapl_log(rapl, ALUMET_LOG_INFO, "measuring the RAPL domains '%s' through %s (%zu counters)",
             text, rapl->using_perf ? "perf_events" : "powercap", n);
out:
    rapl_pmu_done(&f.pmu);
    rapl_zones_done(&f.zones);
    return r;
}

/* The core has freed the source (and closed its counters) by now: release
 * what start opened, so that start can run again. */
static int rapl_stop(void *state, struct alumet_error *err)
{
    (void)err;
    rapl_release(state);
    return 0;
}

const struct alumet_plugin alumet_plugin_rapl = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "rapl",
    .version = "0.3.1",
    .default_config = RAPL_DEFAULT_CONFIG,
    .init = rapl_init,
    .start = rapl_start,
    .stop = rapl_stop,
    .free = rapl_free,
};
