/* SPDX-License-Identifier: MIT */
/* The source "device_<bus id>" of one GPU: one poll reads every supported
 * feature and pushes its points in upstream's order, then (full mode) the
 * split of the interval's energy between the processes.
 *
 * A failing call skips its points and the poll ends with a retry (the first
 * error is reported); only a lost GPU (NVML_ERROR_GPU_IS_LOST) stops the
 * source. Upstream stops the source on any error and queries the memory
 * information even when unsupported (fatal on such GPUs): not here. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "nvml-plugin.h"

struct nvml_device *nvml_device_new(struct nvml *nvml, unsigned index)
{
    struct nvml_device *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->nvml = nvml;
    d->index = index;
    return d;
}

static void nvml_source_free(void *data)
{
    struct nvml_device *d = data;
    if (!d)
        return;
    struct nvml *nvml = d->nvml;
    if (nvml && d->slot < nvml->n_sources && nvml->sources[d->slot] == d)
        nvml->sources[d->slot] = NULL;
    free(d->samples);
    free(d->procs[0]);
    free(d->procs[1]);
    gpu_split_free(&d->split);
    free(d);
}

/* Pause: the first poll after the resume starts new intervals. */
static void nvml_source_reset(void *data)
{
    struct nvml_device *d = data;
    d->has_energy = false;
    d->has_power = false;
    d->polled = false;
    gpu_split_next(&d->split);
}

int nvml_energy_update(struct nvml_device *d, uint64_t value, alumet_time_ns now, double *ret_mj,
                       double *ret_dt, bool *ret_reset)
{
    *ret_reset = false;
    if (!d->has_energy)
        goto baseline;
    uint64_t prev = d->energy_mj, delta;
    if (value >= prev) {
        delta = value - prev;
    } else {
        /* value < prev, so prev >= 1 and this cannot overflow */
        delta = (UINT64_MAX - prev) + value + 1;
        if (delta > NVML_WRAP_MAX_MJ) {
            *ret_reset = true;
            goto baseline;
        }
    }
    if (delta == 0)
        return 0;
    *ret_mj = (double)delta;
    *ret_dt = now > d->energy_t ? (double)(now - d->energy_t) / 1e9 : 0;
    d->energy_mj = value;
    d->energy_t = now;
    return 1;
baseline:
    d->has_energy = true;
    d->energy_mj = value;
    d->energy_t = now;
    return -1;
}

/* ---- one poll ---- */

struct nvml_poll {
    struct nvml_device *d;
    const struct nvml_lib *lib;
    struct alumet_buffer *buf;
    alumet_time_ns now;
    struct alumet_resource gpu; /* gpu{bus id}, the id copied into buf */
    size_t failures;
    bool lost;
    struct alumet_error *err;
};

/* Whether r is a success; else count the failure (the first one is the
 * poll's error). */
static bool nvml_ok(struct nvml_poll *p, nvmlReturn_t r, const char *call)
{
    if (r == NVML_SUCCESS)
        return true;
    if (r == NVML_ERROR_GPU_IS_LOST)
        p->lost = true;
    if (p->failures++ == 0)
        alumet_error_set(p->err, r == NVML_ERROR_GPU_IS_LOST ? -ENODEV : -EIO,
                         "GPU %s ('%s'): %s failed: %s", p->d->bus_id, p->d->name, call,
                         nvml_strerror(p->lib, r));
    return false;
}

static const struct alumet_consumer nvml_machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static struct alumet_point *nvml_push_u64(struct nvml_poll *p, enum nvml_metric m,
                                          const struct alumet_resource *res,
                                          const struct alumet_consumer *c, uint64_t v)
{
    return alumet_buffer_push_u64(p->buf, p->now, p->d->nvml->metrics[m], res, c, v);
}

/* A device-level U64 point; -ENOMEM. */
static int nvml_gauge(struct nvml_poll *p, enum nvml_metric m, uint64_t v)
{
    return nvml_push_u64(p, m, &p->gpu, &nvml_machine, v) ? 0 : -ENOMEM;
}

static int nvml_gauge_attr(struct nvml_poll *p, enum nvml_metric m, uint64_t v, const char *key,
                           const char *value)
{
    struct alumet_point *pt = nvml_push_u64(p, m, &p->gpu, &nvml_machine, v);
    if (!pt || alumet_point_add_attr_str(p->buf, pt, key, value) < 0)
        return -ENOMEM;
    return 0;
}

/* Grow *buf to hold n items of size bytes (n > *cap). 0 or -ENOMEM. */
static int nvml_grow(void **buf, unsigned *cap, unsigned n, size_t size)
{
    unsigned ncap = n < 16 ? 16 : n + n / 2;
    void *b = reallocarray(*buf, ncap, size);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = ncap;
    return 0;
}

/* A running-process list (which = 0: compute, 1: graphics) into
 * d->procs[which]; *ret_n entries. Returns the NVML status, or
 * NVML_ERROR_MEMORY. */
static nvmlReturn_t nvml_get_processes(struct nvml_device *d, int which, unsigned *ret_n)
{
    nvmlDeviceGetRunningProcesses_fn fn = which ? d->graphics_procs : d->compute_procs;
    nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_SIZE;
    /* the list may grow between two calls: a few tries */
    for (int tries = 0; tries < 4 && r == NVML_ERROR_INSUFFICIENT_SIZE; tries++) {
        unsigned n = d->procs_cap[which];
        r = fn(d->handle, &n, (nvmlProcessInfo_v2_t *)(void *)d->procs[which]);
        if (r == NVML_SUCCESS) {
            *ret_n = n;
        } else if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
            void *b = d->procs[which];
            if (nvml_grow(&b, &d->procs_cap[which], n + 1, NVML_PROCESS_SLACK) < 0)
                return NVML_ERROR_MEMORY;
            d->procs[which] = b;
        }
    }
    return r;
}

static nvmlProcessInfo_v2_t nvml_process_at(const struct nvml_device *d, int which, unsigned i)
{
    nvmlProcessInfo_v2_t info;
    memcpy(&info, d->procs[which] + (size_t)i * sizeof(info), sizeof(info));
    return info;
}

/* nvml_used_gpu_memory of every process of both lists, compute first. */
static int nvml_push_process_memory(struct nvml_poll *p, const unsigned n[2], const bool ok[2])
{
    static const char *const contexts[2] = {"compute", "graphics"};
    struct nvml_device *d = p->d;
    for (int w = 0; w < 2; w++) {
        for (unsigned i = 0; ok[w] && i < n[w]; i++) {
            nvmlProcessInfo_v2_t info = nvml_process_at(d, w, i);
            if (gpu_split_add(&d->split, info.pid, 0) < 0)
                return -ENOMEM;
            if (info.usedGpuMemory == NVML_VALUE_NOT_AVAILABLE)
                continue;
            struct alumet_resource res = p->gpu;
            if (info.gpuInstanceId != NVML_INSTANCE_NONE) {
                res.kind = ALUMET_RESOURCE_GPU_PARTITION;
                res.num = info.gpuInstanceId;
            }
            struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, info.pid, NULL, NULL};
            struct alumet_point *pt =
                nvml_push_u64(p, NVML_M_USED_MEMORY, &res, &c, info.usedGpuMemory);
            if (!pt || alumet_point_add_attr_str(p->buf, pt, "context", contexts[w]) < 0)
                return -ENOMEM;
            if (info.computeInstanceId != NVML_INSTANCE_NONE &&
                alumet_point_add_attr_u64(p->buf, pt, "compute_instance_id",
                                          info.computeInstanceId) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* Per-process utilisation samples since the last seen one (from the second
 * poll on: the first poll sets the start). lastSeenTimeStamp is in µs, as
 * NVML expects (upstream passes seconds and so gets every buffered sample). */
static int nvml_push_process_utilization(struct nvml_poll *p)
{
    struct nvml_device *d = p->d;
    if (!d->polled) {
        d->last_seen_us = (unsigned long long)(p->now / 1000);
        return 0;
    }
    nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_SIZE;
    unsigned n = 0;
    for (int tries = 0; tries < 4 && r == NVML_ERROR_INSUFFICIENT_SIZE; tries++) {
        n = d->samples_cap;
        r = p->lib->get_process_utilization(d->handle, d->samples, &n, d->last_seen_us);
        if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
            void *b = d->samples;
            if (nvml_grow(&b, &d->samples_cap, n + 1, sizeof(*d->samples)) < 0)
                return -ENOMEM;
            d->samples = b;
        }
    }
    if (r == NVML_ERROR_NOT_FOUND) /* no sample since last_seen */
        return 0;
    if (!nvml_ok(p, r, "nvmlDeviceGetProcessUtilization"))
        return 0;
    for (unsigned i = 0; i < n && i < d->samples_cap; i++) {
        const nvmlProcessUtilizationSample_t *s = &d->samples[i];
        struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, s->pid, NULL, NULL};
        if (!nvml_push_u64(p, NVML_M_SM_UTILIZATION, &p->gpu, &c, s->smUtil) ||
            !nvml_push_u64(p, NVML_M_MEMORY_UTILIZATION, &p->gpu, &c, s->memUtil) ||
            !nvml_push_u64(p, NVML_M_ENCODER_UTILIZATION, &p->gpu, &c, s->encUtil) ||
            !nvml_push_u64(p, NVML_M_DECODER_UTILIZATION, &p->gpu, &c, s->decUtil))
            return -ENOMEM;
        if (gpu_split_add(&d->split, s->pid, s->smUtil) < 0) /* busy when above 0 */
            return -ENOMEM;
        if (s->timeStamp > d->last_seen_us)
            d->last_seen_us = s->timeStamp;
    }
    return 0;
}

static int nvml_push_attributed(struct nvml_poll *p, enum gpu_split_method method,
                                double idle_power_mw, const char *part,
                                const struct alumet_consumer *c, double mj)
{
    struct alumet_point *pt = alumet_buffer_push_f64(
        p->buf, p->now, p->d->nvml->metrics[NVML_M_ATTRIBUTED], &p->gpu, c, mj);
    if (!pt || alumet_point_add_attr_str(p->buf, pt, "part", part) < 0 ||
        alumet_point_add_attr_str(p->buf, pt, "method", nvml_split_method_name(method)) < 0 ||
        alumet_point_add_attr_f64(p->buf, pt, "idle_power_mw", idle_power_mw) < 0)
        return -ENOMEM;
    return 0;
}

/* The split of one interval's energy (mj over dt seconds). */
static int nvml_attribute(struct nvml_poll *p, double mj, double dt)
{
    struct nvml_device *d = p->d;
    const struct gpu_device_options *cfg = &d->nvml->cfg;

    struct gpu_split *s = &d->split;
    /* an interval without any activity gives the estimate of the idle power */
    double idle_mw = gpu_split_idle_power(
        s, mj, dt, (d->features & NVML_FEATURE_BIT(NVML_FEATURE_UTILIZATION)) != 0,
        cfg->idle_power_set, cfg->idle_power_mw);
    double idle, rest;
    enum gpu_split_method method =
        gpu_split_energy(mj, idle_mw * dt, s->shares, s->n_shares, &idle, &rest);
    int r = nvml_push_attributed(p, method, idle_mw, "idle", &nvml_machine, idle);
    for (size_t i = 0; r == 0 && i < s->n_shares; i++) {
        struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, s->shares[i].pid, NULL, NULL};
        r = nvml_push_attributed(p, method, idle_mw, "process", &c, s->shares[i].energy_mj);
    }
    if (r == 0)
        r = nvml_push_attributed(p, method, idle_mw, "unattributed", &nvml_machine, rest);
    return r;
}

static int nvml_poll_full(struct nvml_poll *p)
{
    struct nvml_device *d = p->d;
    const struct nvml_lib *lib = p->lib;
    unsigned f = d->features;
    int interval = 0;
    double mj = 0, dt = 0;
    int r;

#define HAS(x) (f & NVML_FEATURE_BIT(NVML_FEATURE_##x))
#define TRY(e)                                                                                     \
    do {                                                                                           \
        if ((r = (e)) < 0)                                                                         \
            return r;                                                                              \
    } while (0)

    if (HAS(ENERGY)) {
        /* the poll's points carry the instant of this read (util/read-clock.h) */
        unsigned long long e;
        alumet_time_ns from = read_clock_now(&d->nvml->clock);
        nvmlReturn_t got = lib->get_energy(d->handle, &e);
        p->now = read_clock_middle(from, read_clock_now(&d->nvml->clock));
        if (nvml_ok(p, got, "nvmlDeviceGetTotalEnergyConsumption")) {
            uint64_t prev = d->energy_mj;
            bool reset;
            interval = nvml_energy_update(d, e, p->now, &mj, &dt, &reset);
            if (reset)
                nvml_log(d->nvml, ALUMET_LOG_WARN,
                         "the energy counter of GPU %s went back from '%" PRIu64 "' to '%llu' mJ "
                         "(driver reloaded or GPU reset): new baseline, the energy of this "
                         "interval is unknown, skipping",
                         d->bus_id, prev, e);
            if (interval > 0) {
                if (!alumet_buffer_push_f64(p->buf, p->now, d->nvml->metrics[NVML_M_ENERGY],
                                            &p->gpu, &nvml_machine, mj))
                    return -ENOMEM;
            }
        } else {
            d->has_energy = false; /* no difference across a failure */
            interval = -1;
        }
    }
    if (HAS(POWER)) {
        unsigned mw;
        if (nvml_ok(p, lib->get_power(d->handle, &mw), "nvmlDeviceGetPowerUsage"))
            TRY(nvml_gauge(p, NVML_M_POWER, mw));
    }
    if (HAS(TEMPERATURE)) {
        unsigned t;
        if (nvml_ok(p, lib->get_temperature(d->handle, NVML_TEMPERATURE_GPU, &t),
                    "nvmlDeviceGetTemperature"))
            TRY(nvml_gauge(p, NVML_M_TEMPERATURE, t));
    }
    if (HAS(UTILIZATION)) {
        nvmlUtilization_t u;
        if (nvml_ok(p, lib->get_utilization(d->handle, &u), "nvmlDeviceGetUtilizationRates")) {
            TRY(nvml_gauge(p, NVML_M_GPU_UTILIZATION, u.gpu));
            TRY(nvml_gauge(p, NVML_M_MEMORY_UTILIZATION, u.memory));
            if (u.gpu > 0)
                d->split.busy = true;
        }
    }
    if (HAS(MEMORY)) {
        nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
        if (nvml_ok(p, lib->get_memory(d->handle, &m), "nvmlDeviceGetMemoryInfo_v2")) {
            TRY(nvml_gauge_attr(p, NVML_M_MEMORY_INFO, m.free, "kind", "free"));
            TRY(nvml_gauge_attr(p, NVML_M_MEMORY_INFO, m.reserved, "kind", "reserved"));
            TRY(nvml_gauge_attr(p, NVML_M_MEMORY_INFO, m.total, "kind", "total"));
            TRY(nvml_gauge_attr(p, NVML_M_MEMORY_INFO, m.used, "kind", "used"));
        }
    }
    if (HAS(DECODER)) {
        unsigned u, period;
        if (nvml_ok(p, lib->get_decoder(d->handle, &u, &period),
                    "nvmlDeviceGetDecoderUtilization")) {
            TRY(nvml_gauge(p, NVML_M_DECODER_UTILIZATION, u));
            TRY(nvml_gauge(p, NVML_M_DECODER_PERIOD, period));
        }
    }
    if (HAS(ENCODER)) {
        unsigned u, period;
        if (nvml_ok(p, lib->get_encoder(d->handle, &u, &period),
                    "nvmlDeviceGetEncoderUtilization")) {
            TRY(nvml_gauge(p, NVML_M_ENCODER_UTILIZATION, u));
            TRY(nvml_gauge(p, NVML_M_ENCODER_PERIOD, period));
        }
    }
    unsigned n[2] = {0, 0};
    bool ok[2] = {false, false};
    if (HAS(COMPUTE_PROCESSES)) {
        nvmlReturn_t s = nvml_get_processes(d, 0, &n[0]);
        if (s == NVML_ERROR_MEMORY)
            return -ENOMEM;
        ok[0] = nvml_ok(p, s, d->compute_symbol);
    }
    if (HAS(GRAPHICS_PROCESSES)) {
        nvmlReturn_t s = nvml_get_processes(d, 1, &n[1]);
        if (s == NVML_ERROR_MEMORY)
            return -ENOMEM;
        ok[1] = nvml_ok(p, s, d->graphics_symbol);
    }
    if (ok[0])
        TRY(nvml_gauge(p, NVML_M_N_COMPUTE, n[0]));
    if (ok[1])
        TRY(nvml_gauge(p, NVML_M_N_GRAPHICS, n[1]));
    TRY(nvml_push_process_memory(p, n, ok));
    if (HAS(PROCESS_UTILIZATION))
        TRY(nvml_push_process_utilization(p));
    if (HAS(CLOCKS)) {
        static const struct {
            int type;
            const char *name;
        } clocks[] = {
            {NVML_CLOCK_GRAPHICS, "Graphics"},
            {NVML_CLOCK_SM, "SM"},
            {NVML_CLOCK_MEM, "Memory"},
            {NVML_CLOCK_VIDEO, "Video"},
        };
        unsigned mhz[4];
        bool all = true;
        for (int i = 0; i < 4 && all; i++)
            all = nvml_ok(p, lib->get_clock(d->handle, clocks[i].type, &mhz[i]),
                          "nvmlDeviceGetClockInfo");
        for (int i = 0; i < 4 && all; i++)
            TRY(nvml_gauge_attr(p, NVML_M_CLOCK, (uint64_t)mhz[i] * 1000000u, "clock_type",
                                clocks[i].name));
    }
    d->polled = true;

    if (interval > 0 && d->nvml->cfg.process_energy)
        TRY(nvml_attribute(p, mj, dt));
    if (interval != 0) {
        /* the next interval starts now */
        gpu_split_next(&d->split);
    }
    return 0;
#undef HAS
#undef TRY
}

/* Minimal mode: the power, and the energy of the interval by the trapezoid
 * rule. Upstream pushes the energy only when the power strictly increased
 * (meant to skip stale readings, it drops most intervals): every interval
 * is pushed here. */
static int nvml_poll_minimal(struct nvml_poll *p)
{
    struct nvml_device *d = p->d;
    unsigned mw;
    /* the points carry the instant of this read (util/read-clock.h) */
    alumet_time_ns from = read_clock_now(&d->nvml->clock);
    nvmlReturn_t got = p->lib->get_power(d->handle, &mw);
    p->now = read_clock_middle(from, read_clock_now(&d->nvml->clock));
    if (!nvml_ok(p, got, "nvmlDeviceGetPowerUsage")) {
        d->has_power = false;
        return 0;
    }
    if (nvml_gauge(p, NVML_M_POWER, mw) < 0)
        return -ENOMEM;
    if (d->has_power && p->now > d->power_t) {
        double dt = (double)(p->now - d->power_t) / 1e9;
        double mj = ((double)d->power_mw + (double)mw) / 2 * dt;
        if (!alumet_buffer_push_f64(p->buf, p->now, d->nvml->metrics[NVML_M_ENERGY], &p->gpu,
                                    &nvml_machine, mj))
            return -ENOMEM;
    }
    d->has_power = true;
    d->power_mw = mw;
    d->power_t = p->now;
    return 0;
}

static int nvml_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                            struct alumet_error *err)
{
    struct nvml_device *d = data;
    struct nvml_poll p = {
        .d = d,
        .lib = &d->nvml->lib,
        .buf = buf,
        .now = now,
        .err = err,
    };
    const char *bus = alumet_buffer_strdup(buf, d->bus_id, (size_t)-1);
    if (!bus)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    p.gpu = (struct alumet_resource){ALUMET_RESOURCE_GPU, 0, bus, NULL};

    int r = d->nvml->mode == NVML_MODE_MINIMAL ? nvml_poll_minimal(&p) : nvml_poll_full(&p);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    if (p.lost)
        return alumet_error_prefix(err, "the GPU is lost (fell off the bus, or reset): its "
                                        "source stops");
    if (p.failures > 1)
        alumet_error_prefix(err, "%zu NVML calls failed", p.failures);
    return p.failures ? ALUMET_POLL_RETRY : ALUMET_POLL_OK;
}

const struct alumet_source_ops nvml_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = nvml_source_poll,
    .reset = nvml_source_reset,
    .free = nvml_source_free,
};
