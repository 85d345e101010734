/* SPDX-License-Identifier: MIT */
/* The source "amd_gpu_devices": one poll reads every GPU in turn (AMD SMI
 * is not reliably thread-safe) and pushes its points in upstream's order
 * (activity, processes, energy, power, voltage, memory, temperatures), then
 * the split of the interval's energy between the processes.
 *
 * A failing call skips its points and the poll ends with a retry (the first
 * error is reported); the other calls and GPUs go on. Upstream skips failing
 * calls silently, except the power-management query whose failure stops the
 * source. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "amd-gpu-plugin.h"

void amd_device_clear(struct amd_device *d)
{
    free(d->procs);
    free(d->seen);
    free(d->seen_next);
    gpu_split_free(&d->split);
    d->procs = NULL;
    d->seen = d->seen_next = NULL;
}

static void amd_source_free(void *data)
{
    struct amd_gpu_source *src = data;
    if (!src)
        return;
    if (src->amd && src->amd->source == src)
        src->amd->source = NULL;
    for (size_t i = 0; i < src->n_devices; i++)
        amd_device_clear(&src->devices[i]);
    free(src->devices);
    free(src);
}

/* Pause: the first poll after the resume starts new intervals. */
static void amd_source_reset(void *data)
{
    struct amd_gpu_source *src = data;
    for (size_t i = 0; i < src->n_devices; i++) {
        struct amd_device *d = &src->devices[i];
        d->has_energy = false;
        d->procs_polled = false;
        d->n_seen = 0;
        gpu_split_next(&d->split);
    }
}

int amd_energy_update(struct amd_device *d, uint64_t value, double resolution_uj,
                      alumet_time_ns now, double *ret_mj, double *ret_dt, bool *ret_reset)
{
    *ret_reset = false;
    if (!d->has_energy)
        goto baseline;
    uint64_t prev = d->energy_count, delta;
    if (value >= prev) {
        delta = value - prev;
    } else {
        /* value < prev, so prev >= 1 and this cannot overflow */
        delta = (UINT64_MAX - prev) + value + 1;
        if ((double)delta * resolution_uj / 1000 > AMD_WRAP_MAX_MJ) {
            *ret_reset = true;
            goto baseline;
        }
    }
    *ret_mj = (double)delta * resolution_uj / 1000;
    *ret_dt = now > d->energy_t ? (double)(now - d->energy_t) / 1e9 : 0;
    d->energy_count = value;
    d->energy_t = now;
    return 1;
baseline:
    d->has_energy = true;
    d->energy_count = value;
    d->energy_t = now;
    return -1;
}

/* ---- one poll of one GPU ---- */

struct amd_poll {
    struct amd_gpu *amd;
    struct amd_device *d;
    const struct amd_lib *lib;
    struct alumet_buffer *buf;
    alumet_time_ns now;
    struct alumet_resource gpu; /* gpu{uuid}, the id copied into buf */
    size_t failures;
    struct alumet_error *err;
};

/* Whether s is a success; else count the failure (the first one is the
 * poll's error). */
static bool amd_ok(struct amd_poll *p, amdsmi_status_t s, const char *call)
{
    if (s == AMDSMI_STATUS_SUCCESS)
        return true;
    if (p->failures++ == 0)
        alumet_error_set(p->err, -EIO, "GPU %s: %s failed: %s", p->d->uuid, call,
                         amd_strerror(p->lib, s));
    return false;
}

static const struct alumet_consumer amd_machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static struct alumet_point *amd_push_u64(struct amd_poll *p, enum amd_metric m,
                                         const struct alumet_consumer *c, uint64_t v)
{
    return alumet_buffer_push_u64(p->buf, p->now, p->amd->metrics[m], &p->gpu, c, v);
}

/* A device-level U64 point, with an attribute when key is set; -ENOMEM. */
static int amd_gauge(struct amd_poll *p, enum amd_metric m, uint64_t v, const char *key,
                     const char *value)
{
    struct alumet_point *pt = amd_push_u64(p, m, &amd_machine, v);
    if (!pt || (key && alumet_point_add_attr_str(p->buf, pt, key, value) < 0))
        return -ENOMEM;
    return 0;
}

static int amd_poll_activity(struct amd_poll *p)
{
    amdsmi_engine_usage_t u;
    memset(&u, 0, sizeof(u));
    if (!amd_ok(p, p->lib->get_activity(p->d->handle, &u), "amdsmi_get_gpu_activity"))
        return 0;
    const struct {
        uint32_t value;
        const char *type;
    } parts[3] = {
        {u.gfx_activity, "graphic_core"},
        {u.mm_activity, "memory_management"},
        {u.umc_activity, "unified_memory_controller"},
    };
    for (int i = 0; i < 3; i++) {
        if (parts[i].value == 0)
            continue; /* upstream pushes no zero */
        p->d->split.busy = true;
        struct alumet_point *pt =
            alumet_buffer_push_f64(p->buf, p->now, p->amd->metrics[AMD_M_ACTIVITY], &p->gpu,
                                   &amd_machine, (double)parts[i].value);
        if (!pt || alumet_point_add_attr_str(p->buf, pt, "activity_type", parts[i].type) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* One process of the list, whatever the layout. */
struct amd_proc {
    uint32_t pid;
    char name[257];
    uint64_t mem, gfx, enc, gtt, cpu, vram;
    uint32_t cu_occupancy;
    bool has_cu_occupancy;
};

static void amd_proc_decode(const struct amd_lib *lib, const unsigned char *entry,
                            struct amd_proc *out)
{
    memset(out, 0, sizeof(*out));
    if (lib->abi == AMD_ABI_6_3) {
        amdsmi_proc_info_v63_t e;
        memcpy(&e, entry, sizeof(e));
        memcpy(out->name, e.name, sizeof(e.name));
        out->pid = e.pid;
        out->mem = e.mem;
        out->gfx = e.engine_usage.gfx;
        out->enc = e.engine_usage.enc;
        out->gtt = e.memory_usage.gtt_mem;
        out->cpu = e.memory_usage.cpu_mem;
        out->vram = e.memory_usage.vram_mem;
        return;
    }
    amdsmi_proc_info_v64_t e;
    memcpy(&e, entry, sizeof(e));
    memcpy(out->name, e.name, sizeof(e.name));
    out->pid = e.pid;
    out->mem = e.mem;
    out->gfx = e.engine_usage.gfx;
    out->enc = e.engine_usage.enc;
    out->gtt = e.memory_usage.gtt_mem;
    out->cpu = e.memory_usage.cpu_mem;
    out->vram = e.memory_usage.vram_mem;
    out->cu_occupancy = e.cu_occupancy;
    out->has_cu_occupancy = lib->abi >= AMD_ABI_6_4_2 && e.cu_occupancy != UINT32_MAX;
}

static size_t amd_proc_size(const struct amd_lib *lib)
{
    return lib->abi == AMD_ABI_6_3 ? sizeof(amdsmi_proc_info_v63_t)
                                   : sizeof(amdsmi_proc_info_v64_t);
}

/* The process list into d->procs: room for 32 first, grown when the library
 * says it is too small (at most 5 retries). The status; *ret_n entries. */
static amdsmi_status_t amd_get_processes(struct amd_poll *p, uint32_t *ret_n, bool *ret_nomem)
{
    struct amd_device *d = p->d;
    amdsmi_status_t s = AMDSMI_STATUS_OUT_OF_RESOURCES;
    *ret_nomem = false;
    for (int tries = 0; tries < 6 && s == AMDSMI_STATUS_OUT_OF_RESOURCES; tries++) {
        uint32_t want = d->procs_cap ? d->procs_cap : 32;
        if (tries > 0)
            want = *ret_n > d->procs_cap ? *ret_n : d->procs_cap * 2;
        if (want > d->procs_cap) {
            /* the largest layout per entry, whatever the library's */
            unsigned char *b = reallocarray(d->procs, want, AMDSMI_PROC_INFO_MAX_SIZE);
            if (!b) {
                *ret_nomem = true;
                return s;
            }
            d->procs = b;
            d->procs_cap = want;
        }
        uint32_t n = d->procs_cap;
        memset(d->procs, 0, (size_t)d->procs_cap * amd_proc_size(p->lib));
        s = p->lib->get_processes(d->handle, &n, d->procs);
        *ret_n = n;
    }
    if (*ret_n > d->procs_cap)
        *ret_n = d->procs_cap;
    return s;
}

static int amd_proc_point(struct amd_poll *p, enum amd_metric m, const struct alumet_consumer *c,
                          const char *name, uint64_t v)
{
    if (v == 0)
        return 0; /* upstream pushes no zero */
    struct alumet_point *pt = amd_push_u64(p, m, c, v);
    if (!pt || alumet_point_add_attr_str(p->buf, pt, "process_name", name) < 0)
        return -ENOMEM;
    return 0;
}

/* The GFX time of pid at the previous poll, or -1. */
static int64_t amd_seen_gfx(const struct amd_device *d, uint32_t pid)
{
    for (size_t i = 0; i < d->n_seen; i++)
        if (d->seen[i].pid == pid)
            return (int64_t)d->seen[i].gfx_ns;
    return -1;
}

/* The per-process metrics, and each process's GFX time of the interval for
 * the energy split: the difference with the previous poll; a process not
 * listed at the previous poll gets all its time (it started in the
 * interval); nothing at the first poll (no interval yet). */
static int amd_poll_processes(struct amd_poll *p)
{
    struct amd_device *d = p->d;
    bool first = !d->procs_polled;
    uint32_t n = 0;
    bool nomem;
    amdsmi_status_t s = amd_get_processes(p, &n, &nomem);
    if (nomem)
        return -ENOMEM;
    if (!amd_ok(p, s, "amdsmi_get_gpu_process_list")) {
        d->procs_polled = false; /* no difference across a failure */
        return 0;
    }
    if (n > d->seen_cap) {
        struct amd_proc_seen *a = reallocarray(d->seen, n, sizeof(*a));
        if (a)
            d->seen = a;
        struct amd_proc_seen *b = reallocarray(d->seen_next, n, sizeof(*b));
        if (b)
            d->seen_next = b;
        if (!a || !b)
            return -ENOMEM;
        d->seen_cap = n;
    }
    size_t size = amd_proc_size(p->lib);
    for (uint32_t i = 0; i < n; i++) {
        struct amd_proc pr;
        amd_proc_decode(p->lib, d->procs + (size_t)i * size, &pr);
        const char *name = alumet_buffer_strdup(p->buf, pr.name, (size_t)-1);
        if (!name)
            return -ENOMEM;
        struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, pr.pid, NULL, NULL};
        if (pr.has_cu_occupancy && d->compute_units > 0 && pr.cu_occupancy > 0) {
            struct alumet_point *pt = alumet_buffer_push_f64(
                p->buf, p->now, p->amd->metrics[AMD_M_PROC_CU_OCCUPANCY], &p->gpu, &c,
                (double)pr.cu_occupancy / (double)d->compute_units * 100);
            if (!pt || alumet_point_add_attr_str(p->buf, pt, "process_name", name) < 0)
                return -ENOMEM;
        }
        int r = amd_proc_point(p, AMD_M_PROC_MEMORY, &c, name, pr.mem);
        if (r == 0)
            r = amd_proc_point(p, AMD_M_PROC_GFX, &c, name, pr.gfx);
        if (r == 0)
            r = amd_proc_point(p, AMD_M_PROC_ENCODE, &c, name, pr.enc);
        if (r == 0)
            r = amd_proc_point(p, AMD_M_PROC_GTT, &c, name, pr.gtt);
        if (r == 0)
            r = amd_proc_point(p, AMD_M_PROC_CPU, &c, name, pr.cpu);
        if (r == 0)
            r = amd_proc_point(p, AMD_M_PROC_VRAM, &c, name, pr.vram);
        if (r < 0)
            return r;
        double weight = 0;
        if (!first) {
            int64_t before = amd_seen_gfx(d, pr.pid);
            if (before < 0)
                weight = (double)pr.gfx;
            else if (pr.gfx > (uint64_t)before)
                weight = (double)(pr.gfx - (uint64_t)before);
        }
        if (gpu_split_add(&d->split, pr.pid, weight) < 0) /* busy when above 0 */
            return -ENOMEM;
        d->seen_next[i] = (struct amd_proc_seen){pr.pid, pr.gfx};
    }
    struct amd_proc_seen *t = d->seen;
    d->seen = d->seen_next;
    d->seen_next = t;
    d->n_seen = n;
    d->procs_polled = true;
    return 0;
}

static int amd_push_attributed(struct amd_poll *p, enum gpu_split_method method,
                               double idle_power_mw, const char *part,
                               const struct alumet_consumer *c, double mj)
{
    struct alumet_point *pt =
        alumet_buffer_push_f64(p->buf, p->now, p->amd->metrics[AMD_M_ATTRIBUTED], &p->gpu, c, mj);
    if (!pt || alumet_point_add_attr_str(p->buf, pt, "part", part) < 0 ||
        alumet_point_add_attr_str(p->buf, pt, "method", amd_split_method_name(method)) < 0 ||
        alumet_point_add_attr_f64(p->buf, pt, "idle_power_mw", idle_power_mw) < 0)
        return -ENOMEM;
    return 0;
}

/* The split of one interval's energy (mj over dt seconds). */
static int amd_attribute(struct amd_poll *p, double mj, double dt)
{
    struct amd_device *d = p->d;
    const struct gpu_device_options *cfg = &p->amd->cfg;

    struct gpu_split *s = &d->split;
    /* an interval without any activity gives the estimate of the idle power */
    double idle_mw =
        gpu_split_idle_power(s, mj, dt, (d->features & AMD_FEATURE_BIT(AMD_FEATURE_ACTIVITY)) != 0,
                             cfg->idle_power_set, cfg->idle_power_mw);
    double idle, rest;
    enum gpu_split_method method =
        gpu_split_energy(mj, idle_mw * dt, s->shares, s->n_shares, &idle, &rest);
    int r = amd_push_attributed(p, method, idle_mw, "idle", &amd_machine, idle);
    for (size_t i = 0; r == 0 && i < s->n_shares; i++) {
        struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, s->shares[i].pid, NULL, NULL};
        r = amd_push_attributed(p, method, idle_mw, "process", &c, s->shares[i].energy_mj);
    }
    if (r == 0)
        r = amd_push_attributed(p, method, idle_mw, "unattributed", &amd_machine, rest);
    return r;
}

/* The energy counter: 1 with *mj and *dt when an interval ended, 0 (no
 * interval: failure, first read or reset). */
static int amd_poll_energy(struct amd_poll *p, double *mj, double *dt)
{
    struct amd_device *d = p->d;
    uint64_t count = 0, ts = 0;
    float res = 0;
    /* the energy and what follows it carry the instant of this read
     * (util/read-clock.h) */
    alumet_time_ns from = read_clock_now(&p->amd->clock);
    amdsmi_status_t got = p->lib->get_energy(d->handle, &count, &res, &ts);
    p->now = read_clock_middle(from, read_clock_now(&p->amd->clock));
    if (!amd_ok(p, got, "amdsmi_get_energy_count")) {
        d->has_energy = false; /* no difference across a failure */
        return 0;
    }
    if (!(res > 0) || !isfinite(res)) {
        if (p->failures++ == 0)
            alumet_error_set(p->err, -EIO,
                             "GPU %s: amdsmi_get_energy_count gave the counter resolution %g "
                             "uJ, not a positive number",
                             d->uuid, (double)res);
        d->has_energy = false;
        return 0;
    }
    uint64_t prev = d->energy_count;
    bool reset;
    int interval = amd_energy_update(d, count, res, p->now, mj, dt, &reset);
    if (reset)
        amd_log(p->amd, ALUMET_LOG_WARN,
                "the energy counter of GPU %s went back from '%" PRIu64 "' to '%" PRIu64
                "' (driver reloaded or GPU reset): new baseline, the energy of this interval is "
                "unknown, skipping",
                d->uuid, prev, count);
    if (interval <= 0)
        return 0;
    if (!alumet_buffer_push_f64(p->buf, p->now, p->amd->metrics[AMD_M_ENERGY], &p->gpu,
                                &amd_machine, *mj))
        return -ENOMEM;
    return 1;
}

/* Socket power, when power management is on (ROCm 7 libraries). */
static int amd_poll_power(struct amd_poll *p)
{
    bool enabled = false;
    if (!amd_ok(p, p->lib->get_pm(p->d->handle, &enabled),
                "amdsmi_is_gpu_power_management_enabled") ||
        !enabled)
        return 0;
    amdsmi_power_info_v70_t info;
    memset(&info, 0, sizeof(info));
    if (!amd_ok(p, p->lib->get_power(p->d->handle, &info), "amdsmi_get_power_info"))
        return 0;
    if (info.socket_power >= UINT32_MAX)
        return 0; /* "not supported" */
    return amd_gauge(p, AMD_M_POWER, info.socket_power, NULL, NULL);
}

static int amd_poll_device(struct amd_poll *p)
{
    struct amd_device *d = p->d;
    const struct amd_lib *lib = p->lib;
    unsigned f = d->features;
    int interval = 0, r;
    double mj = 0, dt = 0;
    int64_t v;
    uint64_t u;

#define HAS(x) (f & AMD_FEATURE_BIT(AMD_FEATURE_##x))
#define TRY(e)                                                                                     \
    do {                                                                                           \
        if ((r = (e)) < 0)                                                                         \
            return r;                                                                              \
    } while (0)
    if (HAS(ACTIVITY))
        TRY(amd_poll_activity(p));
    if (HAS(PROCESSES))
        TRY(amd_poll_processes(p));
    if (HAS(ENERGY))
        TRY(interval = amd_poll_energy(p, &mj, &dt));
    if (HAS(POWER))
        TRY(amd_poll_power(p));
    if (HAS(VOLTAGE) &&
        amd_ok(p, lib->get_voltage(d->handle, AMDSMI_VOLT_TYPE_VDDGFX, AMDSMI_VOLT_CURRENT, &v),
               "amdsmi_get_gpu_volt_metric") &&
        v >= 0)
        TRY(amd_gauge(p, AMD_M_VOLTAGE, (uint64_t)v, NULL, NULL));
    if (HAS(MEMORY_GTT) && amd_ok(p, lib->get_memory(d->handle, AMDSMI_MEM_TYPE_GTT, &u),
                                  "amdsmi_get_gpu_memory_usage"))
        TRY(amd_gauge(p, AMD_M_MEMORY, u, "memory_type", "memory_graphic_translation_table"));
    if (HAS(MEMORY_VRAM) && amd_ok(p, lib->get_memory(d->handle, AMDSMI_MEM_TYPE_VRAM, &u),
                                   "amdsmi_get_gpu_memory_usage"))
        TRY(amd_gauge(p, AMD_M_MEMORY, u, "memory_type", "memory_video_computing"));
    for (int i = 0; i < AMD_N_TEMPERATURES; i++) {
        if (!(f & AMD_FEATURE_BIT(AMD_FEATURE_TEMP_EDGE + i)))
            continue;
        if (amd_ok(p,
                   lib->get_temperature(d->handle, amd_temperatures[i].sensor, AMDSMI_TEMP_CURRENT,
                                        &v),
                   "amdsmi_get_temp_metric") &&
            v >= 0)
            TRY(amd_gauge(p, AMD_M_TEMPERATURE, (uint64_t)v, "thermal_zone",
                          amd_temperatures[i].zone));
    }
    if (interval > 0 && p->amd->cfg.process_energy)
        TRY(amd_attribute(p, mj, dt));
    /* the next interval starts now (or there is no interval at all) */
    gpu_split_next(&d->split);
    return 0;
#undef HAS
#undef TRY
}

static int amd_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                           struct alumet_error *err)
{
    struct amd_gpu_source *src = data;
    size_t failures = 0;
    for (size_t i = 0; i < src->n_devices; i++) {
        struct amd_device *d = &src->devices[i];
        struct alumet_error one = {0};
        struct amd_poll p = {
            .amd = src->amd,
            .d = d,
            .lib = &src->amd->lib,
            .buf = buf,
            .now = now,
            .err = failures ? &one : err,
        };
        const char *id = alumet_buffer_strdup(buf, d->uuid, (size_t)-1);
        if (!id)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        p.gpu = (struct alumet_resource){ALUMET_RESOURCE_GPU, 0, id, NULL};
        if (amd_poll_device(&p) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        failures += p.failures;
    }
    if (failures > 1)
        alumet_error_prefix(err, "%zu AMD SMI calls failed", failures);
    return failures ? ALUMET_POLL_RETRY : ALUMET_POLL_OK;
}

const struct alumet_source_ops amd_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = amd_source_poll,
    .reset = amd_source_reset,
    .free = amd_source_free,
};
