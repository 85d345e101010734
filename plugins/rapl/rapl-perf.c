/* SPDX-License-Identifier: MIT */
/* The RAPL counters through perf_events: the "power" PMU that the kernel
 * describes in /sys/devices/power (type, cpumask, events/energy-*), one
 * system-wide counter per event and socket, read as 64-bit counts.
 *
 * The counts are read through rapl->perf_ops so that tests can inject them:
 * real perf_event_open needs the power PMU, which virtual machines lack. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rapl.h"
#include "util/perf-event.h"
#include "util/strbuf.h"

/* ---- the real system calls ---- */

static int rapl_perf_syscall_open(void *data, const struct perf_event_attr *attr, int cpu)
{
    (void)data;
    return perf_event_open_fd(attr, /* pid= */ -1, cpu, /* group_fd= */ -1, /* flags= */ 0);
}

static int rapl_perf_syscall_read(void *data, int fd, uint64_t *ret)
{
    struct perf_event_count count;
    (void)data;
    int r = perf_event_read_count(fd, &count);
    if (r < 0)
        return r;
    *ret = count.value;
    return 0;
}

const struct rapl_perf_ops rapl_perf_syscalls = {
    .open = rapl_perf_syscall_open,
    .read = rapl_perf_syscall_read,
    .data = NULL,
};

/* ---- discovery ---- */

/* A CPU list, as in cpumask or cpu/online: "0,32", "0-3,8\n". */
int rapl_cpu_list_parse(const char *text, int **ret)
{
    size_t n = 0, cap = 0;
    int *cpus = NULL;
    const char *p = text;

    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long a = strtoul(p, &end, 10);
        if (end == p || errno || a > INT_MAX || *p == '-' || *p == '+')
            goto invalid;
        unsigned long b = a;
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            errno = 0;
            b = strtoul(q, &end, 10);
            if (end == q || errno || b > INT_MAX || b < a || *q == '-' || *q == '+')
                goto invalid;
            p = end;
        }
        for (unsigned long c = a; c <= b; c++) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                int *grown = reallocarray(cpus, ncap, sizeof(*grown));
                if (!grown) {
                    free(cpus);
                    return -ENOMEM;
                }
                cpus = grown;
                cap = ncap;
            }
            cpus[n++] = (int)c;
        }
        if (*p == ',' && p[1] >= '0' && p[1] <= '9')
            p++;
        else if (*p == '\n' || *p == ' ' || *p == '\t')
            while (*p == '\n' || *p == ' ' || *p == '\t')
                p++;
        else if (*p)
            goto invalid;
    }
    if (n == 0 || n > INT_MAX)
        goto invalid;
    *ret = cpus;
    return (int)n;

invalid:
    free(cpus);
    return -EINVAL;
}

void rapl_pmu_done(struct rapl_pmu *pmu)
{
    free(pmu->cpus);
    free(pmu->sockets);
    memset(pmu, 0, sizeof(*pmu));
}

unsigned rapl_pmu_domains(const struct rapl_pmu *pmu)
{
    unsigned mask = 0;
    for (size_t i = 0; i < pmu->n_events; i++)
        mask |= RAPL_DOMAIN_BIT(pmu->events[i].domain);
    return mask;
}

/* Read a file of the PMU into buf; err names the file on failure. */
static int rapl_pmu_file(struct rapl *rapl, const char *rel, char *buf, size_t size,
                         struct alumet_error *err)
{
    char path[PATH_MAX];
    int r = rapl_read_text(&rapl->sys, rel, buf, size);
    if (r < 0) {
        fsroot_path(&rapl->sys, rel, path, sizeof(path));
        return alumet_error_set(err, r, "cannot read '%s': %s", path, strerror(-r));
    }
    return r;
}

/* The socket of each CPU of the cpumask: its physical_package_id, which
 * names the powercap zones too ("package-1"), else its position in the mask. */
static int rapl_pmu_sockets(struct rapl *rapl, struct rapl_pmu *pmu)
{
    pmu->sockets = calloc(pmu->n_cpus, sizeof(*pmu->sockets));
    if (!pmu->sockets)
        return -ENOMEM;
    for (size_t i = 0; i < pmu->n_cpus; i++) {
        char rel[PATH_MAX], text[32];
        uint64_t id;
        snprintf(rel, sizeof(rel), RAPL_CPU_DIR "/cpu%d/topology/physical_package_id",
                 pmu->cpus[i]);
        if (rapl_read_text(&rapl->sys, rel, text, sizeof(text)) >= 0 &&
            rapl_parse_u64(text, &id) == 0 && id <= UINT32_MAX)
            pmu->sockets[i] = (uint32_t)id;
        else
            pmu->sockets[i] = (uint32_t)i;
    }
    return 0;
}

/* events/energy-pkg: "event=0x02" */
static int rapl_event_config(const char *text, uint64_t *ret)
{
    if (strncmp(text, "event=", 6) != 0)
        return -EINVAL;
    const char *p = text + 6;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 0);
    if (end == p || errno || *p == '-' || *end)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* One events/energy-<name> entry with its .scale and .unit. 0, 1 when the
 * event is skipped (warned), or a negative errno with err. */
static int rapl_pmu_event(struct rapl *rapl, struct rapl_pmu *pmu, const char *entry,
                          struct alumet_error *err)
{
    char rel[PATH_MAX], path[PATH_MAX], text[256];
    struct rapl_event ev = {0};
    int r;

    fsroot_path(&rapl->sys, RAPL_POWER_DIR "/events", path, sizeof(path));
    ev.domain = rapl_domain_of_event(entry + strlen("energy-"));
    if (ev.domain == _RAPL_DOMAIN_INVALID) {
        rapl_log(rapl, ALUMET_LOG_WARN, "unknown RAPL perf event '%s' in '%s', skipping it", entry,
                 path);
        return 1;
    }
    for (size_t i = 0; i < pmu->n_events; i++)
        if (pmu->events[i].domain == ev.domain) {
            rapl_log(rapl, ALUMET_LOG_WARN,
                     "RAPL perf events '%s' and '%s' in '%s' both measure the domain '%s', "
                     "skipping '%s'",
                     pmu->events[i].name, entry, path, rapl_domain_name(ev.domain), entry);
            return 1;
        }
    if ((size_t)snprintf(ev.name, sizeof(ev.name), "%s", entry) >= sizeof(ev.name)) {
        rapl_log(rapl, ALUMET_LOG_WARN, "RAPL perf event name '%s' too long, skipping it", entry);
        return 1;
    }

    snprintf(rel, sizeof(rel), RAPL_POWER_DIR "/events/%s", entry);
    r = rapl_pmu_file(rapl, rel, text, sizeof(text), err);
    if (r < 0)
        return r;
    if (rapl_event_config(text, &ev.config) < 0) {
        rapl_log(rapl, ALUMET_LOG_WARN,
                 "unsupported encoding '%s' of the RAPL perf event '%s' in '%s', skipping it", text,
                 entry, path);
        return 1;
    }

    snprintf(rel, sizeof(rel), RAPL_POWER_DIR "/events/%s.scale", entry);
    r = rapl_pmu_file(rapl, rel, text, sizeof(text), err);
    if (r < 0)
        return r;
    /* "2.3283064365386962890625e-10" (2^-32, exact in double precision) */
    char *end;
    errno = 0;
    ev.scale = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(ev.scale) || ev.scale <= 0) {
        fsroot_path(&rapl->sys, rel, path, sizeof(path));
        return alumet_error_set(err, -EINVAL,
                                "invalid scale '%s' in '%s': expected a number "
                                "of joules per count such as "
                                "2.3283064365386962890625e-10",
                                text, path);
    }

    snprintf(rel, sizeof(rel), RAPL_POWER_DIR "/events/%s.unit", entry);
    r = rapl_pmu_file(rapl, rel, text, sizeof(text), err);
    if (r < 0)
        return r;
    if (strcmp(text, "Joules") != 0) {
        fsroot_path(&rapl->sys, rel, path, sizeof(path));
        rapl_log(rapl, ALUMET_LOG_WARN,
                 "the RAPL perf event '%s' counts '%s' ('%s'), not 'Joules', skipping it", entry,
                 text, path);
        return 1;
    }

    /* keep the events in domain order */
    size_t at = pmu->n_events;
    while (at > 0 && pmu->events[at - 1].domain > ev.domain) {
        pmu->events[at] = pmu->events[at - 1];
        at--;
    }
    pmu->events[at] = ev;
    pmu->n_events++;
    return 0;
}

int rapl_pmu_discover(struct rapl *rapl, struct rapl_pmu *ret, struct alumet_error *err)
{
    char text[4096], path[PATH_MAX];
    uint64_t type;
    DIR *d = NULL;
    int r;

    memset(ret, 0, sizeof(*ret));
    int fd = fsroot_openat(&rapl->sys, RAPL_POWER_DIR, O_RDONLY | O_DIRECTORY);
    if (fd == -ENOENT)
        return -ENOENT;
    if (fd < 0) {
        fsroot_path(&rapl->sys, RAPL_POWER_DIR, path, sizeof(path));
        return alumet_error_set(err, fd, "cannot open '%s': %s", path, strerror(-fd));
    }
    close(fd);

    r = rapl_pmu_file(rapl, RAPL_POWER_DIR "/type", text, sizeof(text), err);
    if (r < 0)
        goto fail;
    if (rapl_parse_u64(text, &type) < 0 || type > UINT32_MAX) {
        fsroot_path(&rapl->sys, RAPL_POWER_DIR "/type", path, sizeof(path));
        r = alumet_error_set(err, -EINVAL, "invalid PMU type '%s' in '%s'", text, path);
        goto fail;
    }
    ret->type = (uint32_t)type;

    r = rapl_pmu_file(rapl, RAPL_POWER_DIR "/cpumask", text, sizeof(text), err);
    if (r < 0)
        goto fail;
    r = rapl_cpu_list_parse(text, &ret->cpus);
    if (r < 0) {
        fsroot_path(&rapl->sys, RAPL_POWER_DIR "/cpumask", path, sizeof(path));
        r = r == -ENOMEM ? alumet_error_set(err, r, "out of memory")
                         : alumet_error_set(err, r, "invalid cpu_list '%s' in '%s'", text, path);
        goto fail;
    }
    ret->n_cpus = (size_t)r;
    r = rapl_pmu_sockets(rapl, ret);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto fail;
    }

    r = fsroot_opendir(&rapl->sys, RAPL_POWER_DIR "/events", &d);
    if (r == -ENOENT)
        return 0; /* a power PMU without events: no domain */
    if (r < 0) {
        fsroot_path(&rapl->sys, RAPL_POWER_DIR "/events", path, sizeof(path));
        alumet_error_set(err, r, "cannot list '%s': %s", path, strerror(-r));
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        /* energy-pkg, but not energy-pkg.scale nor energy-pkg.unit */
        if (strncmp(e->d_name, "energy-", 7) != 0 || strchr(e->d_name, '.'))
            continue;
        r = rapl_pmu_event(rapl, ret, e->d_name, err);
        if (r < 0)
            goto fail;
    }
    closedir(d);
    return 0;

fail:
    if (d)
        closedir(d);
    rapl_pmu_done(ret);
    return r;
}

/* ---- counters ---- */

static int rapl_perf_open_one(struct rapl *rapl, const struct rapl_pmu *pmu,
                              const struct rapl_event *ev, size_t i, struct rapl_source *src,
                              struct alumet_error *err)
{
    struct perf_event_attr attr = {
        .type = pmu->type,
        .size = sizeof(attr),
        .config = ev->config,
        .read_format = PERF_EVENT_READ_FORMAT,
    };
    int cpu = pmu->cpus[i];
    char *what = strbuf_newf("'%s' on CPU %d", ev->name, cpu);
    if (!what)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    int fd = rapl->perf_ops.open(rapl->perf_ops.data, &attr, cpu);
    if (fd < 0) {
        struct rapl_privileges priv;
        char msg[ALUMET_ERROR_MSG_MAX];
        rapl_privileges_read(rapl, &priv);
        rapl_explain(fd, RAPL_IFACE_PERF, what, &priv, msg, sizeof(msg));
        free(what);
        return alumet_error_set(err, fd, "%s", msg);
    }
    struct rapl_counter *c = rapl_source_add(src);
    if (!c) {
        close(fd);
        free(what);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    c->perf = true;
    c->fd = fd;
    c->what = what;
    c->domain = ev->domain;
    c->socket = pmu->sockets[i];
    c->resource = rapl_domain_resource(ev->domain, c->socket);
    c->scale = ev->scale;
    c->max = UINT64_MAX;
    return 0;
}

int rapl_perf_open(struct rapl *rapl, const struct rapl_pmu *pmu, unsigned domains,
                   struct rapl_source *src, struct alumet_error *err)
{
    for (size_t e = 0; e < pmu->n_events; e++) {
        const struct rapl_event *ev = &pmu->events[e];
        if (!(domains & RAPL_DOMAIN_BIT(ev->domain)))
            continue;
        /* psys measures the whole platform: every socket's CPU would read the
         * same counter, so it is opened once (upstream opens it per socket
         * and counts it once per socket in platform_total) */
        size_t n = ev->domain == RAPL_DOMAIN_PLATFORM ? 1 : pmu->n_cpus;
        for (size_t i = 0; i < n; i++) {
            int r = rapl_perf_open_one(rapl, pmu, ev, i, src, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}
