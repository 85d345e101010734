/* SPDX-License-Identifier: MIT */
/* Event specifications: `<event>[#<modifiers>]`, resolved in this order
 *   1. raw:    r3c, r0x412e            -> PERF_TYPE_RAW, config = the hex value
 *   2. pmu/... (pmu-named, pmu-raw)    -> not supported yet (an error)
 *   3. native: INSTRUCTIONS, PAGE_FAULTS, LL_READ_MISS (case-insensitive)
 *   4. libpfm4: anything else, [pmu::]event[:umask...], e.g. RESOURCE_STALLS:ANY
 * and modifiers u, k, h, H, G, I separated by ':' (INSTRUCTIONS#u:k). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* linux/perf_event.h first: perfmon's copy of it then steps aside */
#include <linux/perf_event.h>
#include <perfmon/pfmlib_perf_event.h>

#include "perf.h"
#include "util/strbuf.h"

struct perf_native {
    const char *name;
    uint64_t config;
    const char *description;
};

/* Descriptions are upstream's, word for word. */
static const struct perf_native perf_hardware_table[] = {
    {"CPU_CYCLES", PERF_COUNT_HW_CPU_CYCLES, "Total cycles."},
    {"INSTRUCTIONS", PERF_COUNT_HW_INSTRUCTIONS, "Retired instructions"},
    {"CACHE_REFERENCES", PERF_COUNT_HW_CACHE_REFERENCES, "Cache accesses"},
    {"CACHE_MISSES", PERF_COUNT_HW_CACHE_MISSES, "Cache misses"},
    {"BRANCH_INSTRUCTIONS", PERF_COUNT_HW_BRANCH_INSTRUCTIONS, "Retired branch instructions"},
    {"BRANCH_MISSES", PERF_COUNT_HW_BRANCH_MISSES, "Mispredicted branch instructions"},
    {"BUS_CYCLES", PERF_COUNT_HW_BUS_CYCLES, "Bus cycles"},
    {"STALLED_CYCLES_FRONTEND", PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
     "Stalled cycles during issue"},
    {"STALLED_CYCLES_BACKEND", PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
     "Stalled cycles during retirement"},
    {"REF_CPU_CYCLES", PERF_COUNT_HW_REF_CPU_CYCLES,
     "Total cycles, independent of frequency scaling"},
};

/* PERF_COUNT_SW_CGROUP_SWITCHES (Linux 5.13); older headers lack the name.
 * Upstream encodes CGROUP_SWITCHES as the DUMMY event, which always reads 0. */
#define PERF_SW_CGROUP_SWITCHES 11

static const struct perf_native perf_software_table[] = {
    {"PAGE_FAULTS", PERF_COUNT_SW_PAGE_FAULTS, "Page faults."},
    {"CONTEXT_SWITCHES", PERF_COUNT_SW_CONTEXT_SWITCHES, "Context switches."},
    {"CPU_MIGRATIONS", PERF_COUNT_SW_CPU_MIGRATIONS, "Process migration to another CPU."},
    {"PAGE_FAULTS_MIN", PERF_COUNT_SW_PAGE_FAULTS_MIN,
     "Minor page faults: resolved without needing I/O."},
    {"PAGE_FAULTS_MAJ", PERF_COUNT_SW_PAGE_FAULTS_MAJ,
     "Major page faults: I/O was required to resolve these."},
    {"ALIGNMENT_FAULTS", PERF_COUNT_SW_ALIGNMENT_FAULTS,
     "Alignment faults that required kernel intervention."},
    {"EMULATION_FAULTS", PERF_COUNT_SW_EMULATION_FAULTS, "Instruction emulation faults."},
    {"CGROUP_SWITCHES", PERF_SW_CGROUP_SWITCHES,
     "Context switches to a task in a different cgroup."},
    /* not in upstream's table: counting them needs no period, and they are
     * the CPU time of the target, in nanoseconds */
    {"CPU_CLOCK", PERF_COUNT_SW_CPU_CLOCK,
     "CPU clock: time the target spent on a CPU (per-CPU timer), in nanoseconds"},
    {"TASK_CLOCK", PERF_COUNT_SW_TASK_CLOCK,
     "Task clock: time the target spent running on a CPU, in nanoseconds"},
};

static const struct perf_native perf_cache_ids[] = {
    {"L1D", PERF_COUNT_HW_CACHE_L1D, "Level 1 data cache"},
    {"L1I", PERF_COUNT_HW_CACHE_L1I, "Level 1 instruction cache"},
    {"LL", PERF_COUNT_HW_CACHE_LL, "Last-level cache"},
    {"DTLB", PERF_COUNT_HW_CACHE_DTLB,
     "Data translation lookaside buffer (virtual address translation)"},
    {"ITLB", PERF_COUNT_HW_CACHE_ITLB,
     "Instruction translation lookaside buffer (virtual address translation)"},
    {"BPU", PERF_COUNT_HW_CACHE_BPU, "Branch prediction."},
    {"NODE", PERF_COUNT_HW_CACHE_NODE,
     "Memory accesses that stay local to the originating NUMA node"},
};

static const struct perf_native perf_cache_ops[] = {
    {"READ", PERF_COUNT_HW_CACHE_OP_READ, "read accesses"},
    {"WRITE", PERF_COUNT_HW_CACHE_OP_WRITE, "write accesses"},
    {"PREFETCH", PERF_COUNT_HW_CACHE_OP_PREFETCH, "prefetch accesses"},
};

static const struct perf_native perf_cache_results[] = {
    {"ACCESS", PERF_COUNT_HW_CACHE_RESULT_ACCESS, "counting the number of cache accesses"},
    {"MISS", PERF_COUNT_HW_CACHE_RESULT_MISS, "counting the number of cache misses"},
};

#define PERF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Case-insensitive lookup of the len first bytes of s in a table. */
static const struct perf_native *perf_native_find(const struct perf_native *table, size_t n,
                                                  const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == len && strncasecmp(table[i].name, s, len) == 0)
            return &table[i];
    return NULL;
}

/* A malloc'd copy of the first len bytes of s. */
static char *perf_strndup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

size_t perf_sanitize(const char *s, char *buf, size_t size)
{
    /* skip the leading characters that would become '_' */
    size_t start = 0;
    while (s[start] &&
           !((s[start] >= 'a' && s[start] <= 'z') || (s[start] >= 'A' && s[start] <= 'Z') ||
             (s[start] >= '0' && s[start] <= '9')))
        start++;
    size_t len = 0, keep = 0; /* keep: length up to the last letter or digit */
    for (const char *p = s + start; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char out;
        if (c >= 'A' && c <= 'Z')
            out = (char)(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out = (char)c;
        else if (c >= 0x80 && c < 0xc0)
            continue; /* UTF-8 continuation byte: its character is already a '_' */
        else
            out = '_';
        if (len + 1 < size)
            buf[len] = out;
        len++;
        if (out != '_')
            keep = len;
    }
    if (size > 0)
        buf[keep < size ? keep : size - 1] = '\0';
    return keep;
}

/* rN with N hexadecimal (optionally 0x / 0X after the r), nothing else. */
static bool perf_parse_raw(const char *name, size_t len, uint64_t *ret)
{
    if (len < 2 || name[0] != 'r')
        return false;
    size_t i = 1;
    if (len >= 3 && name[1] == '0' && (name[2] == 'x' || name[2] == 'X'))
        i = 3;
    if (i == len || len - i > 16)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        char c = name[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *ret = v;
    return true;
}

/* <ID>_<OP>_<RESULT>, split at the first two '_' like upstream: sets type,
 * config, name and description of e. 1 when it is one, 0 when not, or -ENOMEM. */
static int perf_parse_cache(const char *name, size_t len, struct perf_event_spec *e)
{
    const char *u1 = memchr(name, '_', len);
    if (!u1)
        return 0;
    const char *u2 = memchr(u1 + 1, '_', len - (size_t)(u1 + 1 - name));
    if (!u2)
        return 0;
    const struct perf_native *id = perf_native_find(perf_cache_ids, PERF_ARRAY_SIZE(perf_cache_ids),
                                                    name, (size_t)(u1 - name));
    const struct perf_native *op = perf_native_find(perf_cache_ops, PERF_ARRAY_SIZE(perf_cache_ops),
                                                    u1 + 1, (size_t)(u2 - u1 - 1));
    const struct perf_native *res =
        perf_native_find(perf_cache_results, PERF_ARRAY_SIZE(perf_cache_results), u2 + 1,
                         len - (size_t)(u2 + 1 - name));
    if (!id || !op || !res)
        return 0;
    e->type = PERF_TYPE_HW_CACHE;
    e->config = id->config | op->config << 8 | res->config << 16;
    e->name = strbuf_newf("%s_%s_%s", id->name, op->name, res->name);
    e->description = strbuf_newf("%s, %s, %s.", id->description, op->description, res->description);
    return e->name && e->description ? 1 : -ENOMEM;
}

/* The modifiers after '#': "u:k". Empty text is no modifier at all. */
static int perf_parse_modifiers(const char *input, const char *mods, struct perf_event_spec *e,
                                struct alumet_error *err)
{
    bool u = false, k = false, h = false, host = false, guest = false, idle = false;

    if (*mods) {
        const char *p = mods;
        for (;;) {
            const char *end = strchr(p, ':');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (n == 0)
                return alumet_error_set(err, -EINVAL,
                                        "invalid event '%s': empty modifier (check the ':' "
                                        "separators)",
                                        input);
            if (n == 1 && *p == 'u')
                u = true;
            else if (n == 1 && *p == 'k')
                k = true;
            else if (n == 1 && *p == 'h')
                h = true;
            else if (n == 1 && *p == 'H')
                host = true;
            else if (n == 1 && *p == 'G')
                guest = true;
            else if (n == 1 && *p == 'I')
                idle = true;
            else
                return alumet_error_set(err, -EINVAL, "invalid event '%s': unknown modifier '%.*s'",
                                        input, (int)n, p);
            if (!end)
                break;
            p = end + 1;
        }
        e->has_modifiers = true;
    }
    /* none of u/k/h: user space only; some: exactly those */
    if (u || k || h) {
        e->exclude_user = !u;
        e->exclude_kernel = !k;
        e->exclude_hv = !h;
    } else {
        e->exclude_user = false;
        e->exclude_kernel = true;
        e->exclude_hv = true;
    }
    e->exclude_host = guest && !host;
    e->exclude_guest = host && !guest;
    e->exclude_idle = idle;
    return 0;
}

static const char *const perf_naming_category[] = {
    [PERF_NAMING_EVENTS] = "",
    [PERF_NAMING_HARDWARE] = "hardware",
    [PERF_NAMING_SOFTWARE] = "software",
    [PERF_NAMING_CACHE] = "cache",
};

/* The event of a legacy list (hardware_events, ...): only its category. */
static int perf_resolve_legacy(const char *input, const char *name, size_t len,
                               enum perf_naming naming, struct perf_event_spec *e,
                               struct alumet_error *err)
{
    const struct perf_native *n = NULL;

    if (naming == PERF_NAMING_CACHE) {
        int r = perf_parse_cache(name, len, e);
        if (r < 0)
            return alumet_error_set(err, r, "out of memory");
        if (r > 0)
            return 0;
        return alumet_error_set(err, -EINVAL,
                                "invalid event '%s': '%.*s' is not a cache event (expected "
                                "<ID>_<OP>_<RESULT>, ID one of L1D, L1I, LL, DTLB, ITLB, BPU, "
                                "NODE, OP one of READ, WRITE, PREFETCH, RESULT one of ACCESS, "
                                "MISS)",
                                input, (int)len, name);
    }
    if (naming == PERF_NAMING_HARDWARE) {
        n = perf_native_find(perf_hardware_table, PERF_ARRAY_SIZE(perf_hardware_table), name, len);
        e->type = PERF_TYPE_HARDWARE;
    } else {
        n = perf_native_find(perf_software_table, PERF_ARRAY_SIZE(perf_software_table), name, len);
        e->type = PERF_TYPE_SOFTWARE;
    }
    if (!n) {
        char list[512];
        size_t w = 0;
        const struct perf_native *t =
            naming == PERF_NAMING_HARDWARE ? perf_hardware_table : perf_software_table;
        size_t nt = naming == PERF_NAMING_HARDWARE ? PERF_ARRAY_SIZE(perf_hardware_table)
                                                   : PERF_ARRAY_SIZE(perf_software_table);
        list[0] = '\0';
        for (size_t i = 0; i < nt && w < sizeof(list); i++)
            w += (size_t)snprintf(list + w, sizeof(list) - w, "%s%s", i ? ", " : "", t[i].name);
        return alumet_error_set(err, -EINVAL,
                                "invalid event '%s': '%.*s' is not a %s event (expected one of %s)",
                                input, (int)len, name, perf_naming_category[naming], list);
    }
    e->config = n->config;
    e->name = strdup(n->name);
    e->description = strdup(n->description);
    return e->name && e->description ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
}

/* The event of the `events` list: raw, pmu/, native, libpfm. */
static int perf_resolve(const char *input, const char *name, size_t len, perf_pfm_encode_fn pfm,
                        void *pfm_data, struct perf_event_spec *e, struct alumet_error *err)
{
    uint64_t raw;
    const struct perf_native *n;
    int r;

    if (perf_parse_raw(name, len, &raw)) {
        e->origin = PERF_ORIGIN_RAW;
        e->type = PERF_TYPE_RAW;
        e->config = raw;
        e->name = perf_strndup(name, len);
        e->description = strbuf_newf("raw event 0x%llx", (unsigned long long)raw);
        return e->name && e->description ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
    }
    if (memchr(name, '/', len))
        return alumet_error_set(err, -EINVAL,
                                "invalid event '%s': pmu-named / pmu-raw events ('%.*s') are not "
                                "supported yet; this is planned for a future release",
                                input, (int)len, name);
    e->origin = PERF_ORIGIN_NATIVE;
    if ((n = perf_native_find(perf_hardware_table, PERF_ARRAY_SIZE(perf_hardware_table), name,
                              len))) {
        e->type = PERF_TYPE_HARDWARE;
    } else if ((n = perf_native_find(perf_software_table, PERF_ARRAY_SIZE(perf_software_table),
                                     name, len))) {
        e->type = PERF_TYPE_SOFTWARE;
    } else if ((r = perf_parse_cache(name, len, e)) != 0) {
        return r < 0 ? alumet_error_set(err, r, "out of memory") : 0;
    }
    if (n) {
        e->config = n->config;
        e->name = strdup(n->name);
        e->description = strdup(n->description);
        return e->name && e->description ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
    }

    /* libpfm4 */
    e->origin = PERF_ORIGIN_PFM;
    e->name = perf_strndup(name, len);
    if (!e->name)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    struct alumet_error perr = {0};
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    r = pfm ? pfm(pfm_data, e->name, &attr, &perr)
            : alumet_error_set(&perr, -ENOTSUP, "libpfm is not available");
    if (r < 0)
        return alumet_error_set(err, -EINVAL,
                                "invalid event '%s': unknown event '%s': not a native event, and "
                                "libpfm could not encode it: %s",
                                input, e->name, perr.msg);
    e->type = attr.type;
    e->config = attr.config;
    e->config1 = attr.config1;
    e->config2 = attr.config2;
    e->description = strbuf_newf("%s (encoded via libpfm)", e->name);
    return e->description ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
}

int perf_event_spec_parse(const char *input, const char *rename, enum perf_naming naming,
                          perf_pfm_encode_fn pfm, void *pfm_data, struct perf_event_spec *ret,
                          struct alumet_error *err)
{
    struct perf_event_spec e;
    int r;

    memset(&e, 0, sizeof(e));
    memset(ret, 0, sizeof(*ret));
    const char *hash = strchr(input, '#');
    size_t len = hash ? (size_t)(hash - input) : strlen(input);
    if (len == 0)
        return alumet_error_set(err, -EINVAL, "empty event name in '%s'", input);
    r = perf_parse_modifiers(input, hash ? hash + 1 : "", &e, err);
    if (r < 0)
        return r;
    e.input = strdup(input);
    if (!e.input) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    if (naming == PERF_NAMING_EVENTS)
        r = perf_resolve(input, input, len, pfm, pfm_data, &e, err);
    else
        r = perf_resolve_legacy(input, input, len, naming, &e, err);
    if (r < 0)
        goto err_free;
    e.nanoseconds = e.type == PERF_TYPE_SOFTWARE &&
                    (e.config == PERF_COUNT_SW_CPU_CLOCK || e.config == PERF_COUNT_SW_TASK_CLOCK);

    /* metric name */
    if (naming == PERF_NAMING_EVENTS) {
        const char *base = rename ? rename : e.name;
        size_t n = perf_sanitize(base, NULL, 0);
        if (n == 0) {
            r = alumet_error_set(err, -EINVAL,
                                 "invalid event '%s': the metric name made from '%s' is empty "
                                 "(it needs at least one ASCII letter or digit)",
                                 input, base);
            goto err_free;
        }
        e.metric = malloc(n + sizeof("perf_"));
        if (e.metric) {
            memcpy(e.metric, "perf_", 5);
            perf_sanitize(base, e.metric + 5, n + 1);
        }
    } else {
        e.metric = strbuf_newf("perf_%s_%s", perf_naming_category[naming], e.name);
    }
    if (!e.metric) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret = e;
    return 0;

err_free:
    perf_event_spec_done(&e);
    return r;
}

void perf_event_spec_done(struct perf_event_spec *e)
{
    if (!e)
        return;
    free(e->input);
    free(e->name);
    free(e->metric);
    free(e->description);
    memset(e, 0, sizeof(*e));
}

void perf_event_spec_attr(const struct perf_event_spec *e, bool inherit,
                          struct perf_event_attr *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->size = sizeof(*ret);
    ret->type = e->type;
    ret->config = e->config;
    ret->config1 = e->config1;
    ret->config2 = e->config2;
    ret->read_format = PERF_EVENT_READ_FORMAT;
    ret->disabled = 1;
    ret->inherit = inherit ? 1 : 0;
    ret->exclude_user = e->exclude_user;
    ret->exclude_kernel = e->exclude_kernel;
    ret->exclude_hv = e->exclude_hv;
    ret->exclude_host = e->exclude_host;
    ret->exclude_guest = e->exclude_guest;
    ret->exclude_idle = e->exclude_idle;
}

bool perf_event_spec_is_hardware(const struct perf_event_spec *e)
{
    return e->type == PERF_TYPE_HARDWARE || e->type == PERF_TYPE_HW_CACHE ||
           e->type == PERF_TYPE_RAW || e->type >= PERF_TYPE_MAX;
}

int perf_pfm_encode(void *data, const char *name, struct perf_event_attr *attr,
                    struct alumet_error *err)
{
    (void)data;
    int r = pfm_initialize();
    if (r != PFM_SUCCESS)
        return alumet_error_set(err, -ENOTSUP, "libpfm cannot be initialized: %s", pfm_strerror(r));

    struct perf_event_attr a;
    pfm_perf_encode_arg_t arg;
    memset(&a, 0, sizeof(a));
    memset(&arg, 0, sizeof(arg));
    arg.attr = &a;
    arg.size = sizeof(arg);
    /* PFM_PLM3: the privilege levels are the plugin's modifiers, set later */
    r = pfm_get_os_event_encoding(name, PFM_PLM3, PFM_OS_PERF_EVENT, &arg);
    if (r != PFM_SUCCESS)
        return alumet_error_set(err, -ENOENT,
                                "%s; the event may not exist on this CPU, or this libpfm may be "
                                "too old to know this CPU model; list the events of this CPU "
                                "with libpfm's 'showevtinfo'",
                                pfm_strerror(r));
    attr->type = a.type;
    attr->config = a.config;
    attr->config1 = a.config1;
    attr->config2 = a.config2;
    return 0;
}
