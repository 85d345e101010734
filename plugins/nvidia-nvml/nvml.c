/* SPDX-License-Identifier: MIT */
/* nvml: the energy, power, temperature, utilisation, memory, clocks and
 * processes of NVIDIA GPUs through NVML, as upstream Alumet's nvml plugin
 * 0.6.2, plus an estimate of each process's share of the GPU energy (see
 * README.md). This file holds the plugin struct, the options, the loading of
 * libnvidia-ml (dlopen), the detection of the devices and their features,
 * the metrics and the lifecycle. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "nvml-plugin.h"

/* What `config regen` writes: upstream's four keys. The other options
 * (process_energy, idle_power, the hidden library) are in README.md. */
#define NVML_DEFAULT_CONFIG                                                                        \
    "[plugins.nvml]\n"                                                                             \
    "poll_interval = \"1s\"\n"                                                                     \
    "flush_interval = \"5s\"\n"                                                                    \
    "skip_failed_devices = true\n"                                                                 \
    "mode = \"full\"\n"

/* ---- the library ---- */

const char *nvml_strerror(const struct nvml_lib *lib, nvmlReturn_t r)
{
    const char *s = lib->error_string ? lib->error_string(r) : NULL;
    return s ? s : "unknown NVML error";
}

int nvml_lib_resolve(struct nvml_lib *lib, struct alumet_error *err)
{
#define REQUIRED(field, sym) GPU_PLUGIN_REQUIRED(lib, field, sym, err)
#define OPTIONAL(field, sym) GPU_PLUGIN_OPTIONAL(lib, field, sym)
    REQUIRED(init, "nvmlInit_v2");
    REQUIRED(shutdown, "nvmlShutdown");
    REQUIRED(error_string, "nvmlErrorString");
    REQUIRED(get_count, "nvmlDeviceGetCount_v2");
    REQUIRED(get_handle, "nvmlDeviceGetHandleByIndex_v2");
    REQUIRED(get_name, "nvmlDeviceGetName");
    REQUIRED(get_pci, "nvmlDeviceGetPciInfo_v3");
    OPTIONAL(get_energy, "nvmlDeviceGetTotalEnergyConsumption");
    OPTIONAL(get_power, "nvmlDeviceGetPowerUsage");
    OPTIONAL(get_temperature, "nvmlDeviceGetTemperature");
    OPTIONAL(get_utilization, "nvmlDeviceGetUtilizationRates");
    OPTIONAL(get_memory, "nvmlDeviceGetMemoryInfo_v2");
    OPTIONAL(get_decoder, "nvmlDeviceGetDecoderUtilization");
    OPTIONAL(get_encoder, "nvmlDeviceGetEncoderUtilization");
    OPTIONAL(compute_v3, "nvmlDeviceGetComputeRunningProcesses_v3");
    OPTIONAL(compute_v2, "nvmlDeviceGetComputeRunningProcesses_v2");
    OPTIONAL(graphics_v3, "nvmlDeviceGetGraphicsRunningProcesses_v3");
    OPTIONAL(graphics_v2, "nvmlDeviceGetGraphicsRunningProcesses_v2");
    OPTIONAL(get_process_utilization, "nvmlDeviceGetProcessUtilization");
    OPTIONAL(get_clock, "nvmlDeviceGetClockInfo");
#undef REQUIRED
#undef OPTIONAL
    return 0;
}

static void nvml_lib_close(struct nvml_lib *lib)
{
    if (lib->initialized)
        lib->shutdown();
    if (lib->handle)
        dlclose(lib->handle);
    memset(lib, 0, sizeof(*lib));
}

/* Open and initialise the library. 0; or -ENOENT / -ENODEV with err saying
 * which of library, driver or permission is missing (a warning: the plugin
 * then measures nothing). */
static int nvml_lib_open(struct nvml *nvml, struct alumet_error *err)
{
    struct nvml_lib *lib = &nvml->lib;
    const char *name = nvml->cfg.library;

    const char *why;
    lib->handle = gpu_plugin_dlopen(name, &why);
    if (!lib->handle)
        return alumet_error_set(err, -ENOENT,
                                "no NVIDIA driver: cannot load the NVML library '%s' (%s); "
                                "install the NVIDIA driver, which provides it, or set "
                                "plugins.nvml.library to its path",
                                name, why);
    int r = nvml_lib_resolve(lib, err);
    if (r < 0)
        return alumet_error_prefix(err,
                                   "the NVML library '%s' is too old or not NVML (driver 450 "
                                   "or newer is needed)",
                                   name);
    nvmlReturn_t s = lib->init();
    if (s == NVML_SUCCESS) {
        lib->initialized = true;
        return 0;
    }
    const char *what = nvml_strerror(lib, s);
    switch (s) {
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return alumet_error_set(err, -ENODEV,
                                "no NVIDIA driver: the NVML library is installed but the "
                                "kernel driver is not loaded (nvmlInit: %s); load it "
                                "('modprobe nvidia') or check 'nvidia-smi'",
                                what);
    case NVML_ERROR_NO_PERMISSION:
        return alumet_error_set(err, -EACCES,
                                "cannot use the NVIDIA driver (nvmlInit: %s): the agent needs "
                                "read and write access to /dev/nvidiactl and /dev/nvidia*",
                                what);
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return alumet_error_set(err, -ENODEV,
                                "the NVML library and the loaded NVIDIA kernel driver have "
                                "different versions (nvmlInit: %s); reboot, or reload the driver",
                                what);
    default:
        return alumet_error_set(err, -ENODEV, "failed to init the nvml library: %s", what);
    }
}

/* ---- features ---- */

static const char *const nvml_feature_names[_NVML_FEATURE_MAX] = {
    "total_energy_consumption",
    "power_usage",
    "temperature_gpu",
    "utilization",
    "memory_info",
    "decoder_utilization",
    "encoder_utilization",
    "compute_processes",
    "graphics_processes",
    "process_utilization",
    "clock_info",
};

const char *nvml_feature_name(enum nvml_feature f)
{
    return f >= 0 && f < _NVML_FEATURE_MAX ? nvml_feature_names[f] : "unknown";
}

/* The result of probing one feature: on, off (not supported, no permission
 * or no symbol), or a device failure (err set). */
static int nvml_probe_result(struct nvml_device *d, enum nvml_feature f, nvmlReturn_t s,
                             const char *call, struct alumet_error *err)
{
    const struct nvml_lib *lib = &d->nvml->lib;
    if (s == NVML_SUCCESS) {
        d->features |= NVML_FEATURE_BIT(f);
        return 0;
    }
    if (s == NVML_ERROR_NOT_SUPPORTED || s == NVML_ERROR_FUNCTION_NOT_FOUND)
        return 0;
    if (s == NVML_ERROR_NO_PERMISSION) {
        nvml_log(d->nvml, ALUMET_LOG_INFO, "GPU %u: %s is off: %s: %s", d->index,
                 nvml_feature_name(f), call, nvml_strerror(lib, s));
        return 0;
    }
    return alumet_error_set(err, s == NVML_ERROR_GPU_IS_LOST ? -ENODEV : -EIO, "%s failed: %s",
                            call, nvml_strerror(lib, s));
}

/* A process list: _v3, else _v2 when _v3 is missing or not supported. */
static int nvml_probe_processes(struct nvml_device *d, enum nvml_feature f,
                                nvmlDeviceGetRunningProcesses_fn v3, const char *v3_name,
                                nvmlDeviceGetRunningProcesses_fn v2, const char *v2_name,
                                struct alumet_error *err)
{
    nvmlDeviceGetRunningProcesses_fn fns[2] = {v3, v2};
    const char *names[2] = {v3_name, v2_name};
    for (int i = 0; i < 2; i++) {
        if (!fns[i])
            continue;
        unsigned n = 0;
        nvmlReturn_t s = fns[i](d->handle, &n, NULL);
        if (s == NVML_ERROR_INSUFFICIENT_SIZE)
            s = NVML_SUCCESS; /* processes are running: the call works */
        if (s == NVML_ERROR_NOT_SUPPORTED || s == NVML_ERROR_FUNCTION_NOT_FOUND)
            continue;
        int r = nvml_probe_result(d, f, s, names[i], err);
        if (d->features & NVML_FEATURE_BIT(f)) {
            if (f == NVML_FEATURE_COMPUTE_PROCESSES) {
                d->compute_procs = fns[i];
                d->compute_symbol = names[i];
            } else {
                d->graphics_procs = fns[i];
                d->graphics_symbol = names[i];
            }
        }
        return r;
    }
    return 0;
}

/* Probe every feature of device d by calling it once. 0, or a negative
 * errno with err when the device fails. */
static int nvml_probe(struct nvml_device *d, struct alumet_error *err)
{
    const struct nvml_lib *lib = &d->nvml->lib;
    nvmlDevice_t h = d->handle;
    int r = 0;

#define PROBE(feature, fn, call, ...)                                                              \
    do {                                                                                           \
        if (r == 0 && lib->fn)                                                                     \
            r = nvml_probe_result(d, NVML_FEATURE_##feature, lib->fn(h, __VA_ARGS__), call, err);  \
    } while (0)
    unsigned long long e;
    unsigned u, v;
    nvmlUtilization_t util;
    nvmlMemory_v2_t mem = {.version = nvmlMemory_v2};
    PROBE(ENERGY, get_energy, "nvmlDeviceGetTotalEnergyConsumption", &e);
    PROBE(POWER, get_power, "nvmlDeviceGetPowerUsage", &u);
    PROBE(TEMPERATURE, get_temperature, "nvmlDeviceGetTemperature", NVML_TEMPERATURE_GPU, &u);
    PROBE(UTILIZATION, get_utilization, "nvmlDeviceGetUtilizationRates", &util);
    PROBE(MEMORY, get_memory, "nvmlDeviceGetMemoryInfo_v2", &mem);
    PROBE(DECODER, get_decoder, "nvmlDeviceGetDecoderUtilization", &u, &v);
    PROBE(ENCODER, get_encoder, "nvmlDeviceGetEncoderUtilization", &u, &v);
#undef PROBE
    if (r == 0)
        r = nvml_probe_processes(d, NVML_FEATURE_COMPUTE_PROCESSES, lib->compute_v3,
                                 "nvmlDeviceGetComputeRunningProcesses_v3", lib->compute_v2,
                                 "nvmlDeviceGetComputeRunningProcesses_v2", err);
    if (r == 0)
        r = nvml_probe_processes(d, NVML_FEATURE_GRAPHICS_PROCESSES, lib->graphics_v3,
                                 "nvmlDeviceGetGraphicsRunningProcesses_v3", lib->graphics_v2,
                                 "nvmlDeviceGetGraphicsRunningProcesses_v2", err);
    if (r == 0 && lib->get_process_utilization) {
        unsigned n = 0;
        nvmlReturn_t s = lib->get_process_utilization(h, NULL, &n, 0);
        if (s == NVML_ERROR_INSUFFICIENT_SIZE || s == NVML_ERROR_NOT_FOUND)
            s = NVML_SUCCESS; /* samples are there, or none yet: the call works */
        r = nvml_probe_result(d, NVML_FEATURE_PROCESS_UTILIZATION, s,
                              "nvmlDeviceGetProcessUtilization", err);
    }
    if (r == 0 && lib->get_clock) {
        /* on only when the four clocks can be read */
        static const int types[4] = {NVML_CLOCK_GRAPHICS, NVML_CLOCK_SM, NVML_CLOCK_MEM,
                                     NVML_CLOCK_VIDEO};
        nvmlReturn_t s = NVML_SUCCESS;
        for (int i = 0; i < 4 && s == NVML_SUCCESS; i++)
            s = lib->get_clock(h, types[i], &u);
        r = nvml_probe_result(d, NVML_FEATURE_CLOCKS, s, "nvmlDeviceGetClockInfo", err);
    }
    return r;
}

/* Get the handle, name and bus id of GPU index, then probe it. 0, or a
 * negative errno with err saying why the device cannot be measured. */
static int nvml_inspect(struct nvml_device *d, struct alumet_error *err)
{
    const struct nvml_lib *lib = &d->nvml->lib;
    nvmlReturn_t s = lib->get_handle(d->index, &d->handle);
    if (s != NVML_SUCCESS)
        return alumet_error_set(err, -EIO, "nvmlDeviceGetHandleByIndex_v2 failed: %s",
                                nvml_strerror(lib, s));
    s = lib->get_name(d->handle, d->name, sizeof(d->name));
    if (s != NVML_SUCCESS)
        return alumet_error_set(err, -EIO, "nvmlDeviceGetName failed: %s", nvml_strerror(lib, s));
    d->name[sizeof(d->name) - 1] = '\0';
    nvmlPciInfo_t pci;
    memset(&pci, 0, sizeof(pci));
    s = lib->get_pci(d->handle, &pci);
    if (s != NVML_SUCCESS)
        return alumet_error_set(err, -EIO, "nvmlDeviceGetPciInfo_v3 failed: %s",
                                nvml_strerror(lib, s));
    pci.busId[sizeof(pci.busId) - 1] = '\0';
    snprintf(d->bus_id, sizeof(d->bus_id), "%s", pci.busId);
    int r = nvml_probe(d, err);
    if (r < 0)
        return r;
    if (d->features == 0)
        return alumet_error_set(err, -EOPNOTSUPP,
                                "it supports none of the measured features (energy, power, "
                                "temperature, utilisation, memory, codecs, processes, clocks)");
    if (d->nvml->mode == NVML_MODE_MINIMAL && !(d->features & NVML_FEATURE_BIT(NVML_FEATURE_POWER)))
        return alumet_error_set(err, -EOPNOTSUPP,
                                "minimal mode cannot be used on it: nvmlDeviceGetPowerUsage is "
                                "not supported (use mode = \"full\")");
    return 0;
}

/* ---- metrics ---- */

static const struct gpu_metric_def nvml_metric_defs[_NVML_M_MAX] = {
    [NVML_M_ENERGY] = {"nvml_energy_consumption", ALUMET_VALUE_F64, ALUMET_UNIT_JOULE,
                       ALUMET_PREFIX_MILLI,
                       "energy consumed by the GPU since the previous measurement"},
    [NVML_M_POWER] = {"nvml_instant_power", ALUMET_VALUE_U64, ALUMET_UNIT_WATT, ALUMET_PREFIX_MILLI,
                      "instantaneous power of the GPU"},
    [NVML_M_TEMPERATURE] = {"nvml_temperature_gpu", ALUMET_VALUE_U64, ALUMET_UNIT_DEGREE_CELSIUS,
                            ALUMET_PREFIX_PLAIN, "temperature of the GPU die"},
    [NVML_M_GPU_UTILIZATION] = {"nvml_gpu_utilization", ALUMET_VALUE_U64, ALUMET_UNIT_PERCENT,
                                ALUMET_PREFIX_PLAIN,
                                "share of time during which kernels were running on the GPU"},
    [NVML_M_MEMORY_UTILIZATION] = {"nvml_memory_utilization", ALUMET_VALUE_U64, ALUMET_UNIT_PERCENT,
                                   ALUMET_PREFIX_PLAIN,
                                   "share of time during which the GPU memory was read or "
                                   "written"},
    [NVML_M_MEMORY_INFO] = {"nvml_gpu_memory_info", ALUMET_VALUE_U64, ALUMET_UNIT_BYTE,
                            ALUMET_PREFIX_PLAIN, "GPU memory: free, reserved, total, used"},
    [NVML_M_DECODER_UTILIZATION] = {"nvml_decoder_utilization", ALUMET_VALUE_U64,
                                    ALUMET_UNIT_PERCENT, ALUMET_PREFIX_PLAIN,
                                    "utilisation of the video decoder"},
    [NVML_M_DECODER_PERIOD] = {"nvml_decoder_sampling_period", ALUMET_VALUE_U64, ALUMET_UNIT_SECOND,
                               ALUMET_PREFIX_MICRO, "sampling period of the decoder utilisation"},
    [NVML_M_ENCODER_UTILIZATION] = {"nvml_encoder_utilization", ALUMET_VALUE_U64,
                                    ALUMET_UNIT_PERCENT, ALUMET_PREFIX_PLAIN,
                                    "utilisation of the video encoder"},
    [NVML_M_ENCODER_PERIOD] = {"nvml_encoder_sampling_period", ALUMET_VALUE_U64, ALUMET_UNIT_SECOND,
                               ALUMET_PREFIX_MICRO, "sampling period of the encoder utilisation"},
    [NVML_M_N_COMPUTE] = {"nvml_n_compute_processes", ALUMET_VALUE_U64, ALUMET_UNIT_UNITY,
                          ALUMET_PREFIX_PLAIN, "number of compute processes on the GPU"},
    [NVML_M_N_GRAPHICS] = {"nvml_n_graphic_processes", ALUMET_VALUE_U64, ALUMET_UNIT_UNITY,
                           ALUMET_PREFIX_PLAIN, "number of graphics processes on the GPU"},
    [NVML_M_USED_MEMORY] = {"nvml_used_gpu_memory", ALUMET_VALUE_U64, ALUMET_UNIT_BYTE,
                            ALUMET_PREFIX_PLAIN, "GPU memory used by a process"},
    [NVML_M_SM_UTILIZATION] = {"nvml_sm_utilization", ALUMET_VALUE_U64, ALUMET_UNIT_PERCENT,
                               ALUMET_PREFIX_PLAIN,
                               "utilisation of the streaming multiprocessors by a process"},
    [NVML_M_CLOCK] = {"nvml_clock_info", ALUMET_VALUE_U64, ALUMET_UNIT_HERTZ, ALUMET_PREFIX_PLAIN,
                      "clock frequencies of the GPU"},
    [NVML_M_ATTRIBUTED] = {NVML_ATTRIBUTED_METRIC, ALUMET_VALUE_F64, ALUMET_UNIT_JOULE,
                           ALUMET_PREFIX_MILLI,
                           "estimated split of the GPU energy of the interval: idle part, "
                           "share of each process (by SM utilisation), unattributed rest"},
};

static int nvml_create_metrics(struct nvml *nvml, struct alumet_start_ctx *ctx,
                               struct alumet_error *err)
{
    for (int m = 0; m < _NVML_M_MAX; m++) {
        bool wanted = nvml->mode == NVML_MODE_FULL || (m == NVML_M_ENERGY || m == NVML_M_POWER);
        if (m == NVML_M_ATTRIBUTED)
            wanted = nvml->mode == NVML_MODE_FULL && nvml->cfg.process_energy;
        if (!wanted)
            continue;
        int r = gpu_plugin_create_metric(ctx, &nvml_metric_defs[m], &nvml->metrics[m], err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- options ---- */

/* Every key is optional (upstream requires its four when the section
 * exists): a missing one takes upstream's default. */
static int nvml_parse_config(struct nvml *nvml, struct alumet_config *cfg, struct alumet_error *err)
{
    const char *mode;
    int r = gpu_plugin_get_device_options(cfg, &nvml->cfg, err);
    if (r < 0)
        return r;
    r = alumet_config_get_string(cfg, "mode", "full", &mode, err);
    if (r < 0)
        return r;
    if (strcmp(mode, "full") == 0)
        nvml->mode = NVML_MODE_FULL;
    else if (strcmp(mode, "minimal") == 0)
        nvml->mode = NVML_MODE_MINIMAL;
    else
        return alumet_config_error(cfg, "mode", err, -EINVAL,
                                   "expected \"full\" or \"minimal\", got '%s'", mode);
    /* hidden library: where libnvidia-ml is (tests, unusual installs) */
    return gpu_plugin_get_split_options(cfg, "70.5", NVML_LIBRARY_DEFAULT, &nvml->cfg, err);
}

/* ---- lifecycle ---- */

static void nvml_free(void *state)
{
    struct nvml *nvml = state;
    if (!nvml)
        return;
    nvml_lib_close(&nvml->lib);
    free(nvml->sources);
    free(nvml->cfg.library);
    free(nvml);
}

static int nvml_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct nvml *nvml = calloc(1, sizeof(*nvml));
    if (!nvml)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    nvml->fallback_log = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("nvml");
    nvml->log = &nvml->fallback_log;
    for (int m = 0; m < _NVML_M_MAX; m++)
        nvml->metrics[m] = ALUMET_METRIC_ID_INVALID;
    int r = nvml_parse_config(nvml, cfg, err);
    if (r < 0) {
        nvml_free(nvml);
        return r;
    }
    *ret_state = nvml;
    return 0;
}

static void nvml_log_device(struct nvml *nvml, const struct nvml_device *d)
{
    char text[512];
    gpu_plugin_feature_list(text, sizeof(text), d->features, nvml_feature_names, _NVML_FEATURE_MAX);
    nvml_log(nvml, ALUMET_LOG_INFO, "Found NVML device %s \"%s\" with features: %s", d->bus_id,
             d->name, text);
}

/* Register the source of d (the core owns it on success). */
static int nvml_add_device(struct nvml *nvml, struct alumet_start_ctx *ctx, struct nvml_device *d,
                           struct alumet_error *err)
{
    char name[64 + NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
    snprintf(name, sizeof(name), "device_%s", d->bus_id);
    struct alumet_source_opts opts = {
        .size = sizeof(opts),
        .poll_interval = nvml->cfg.poll_interval,
        .flush_interval = nvml->cfg.flush_interval,
        .baseline_first = true, /* the energy counter */
    };
    /* room for the first samples, so that the poll rarely allocates */
    d->samples = calloc(16, sizeof(*d->samples));
    if (!d->samples)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    d->samples_cap = 16;
    return alumet_add_source(ctx, name, &nvml_source_ops, d, &opts, err);
}

static int nvml_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct nvml *nvml = state;
    struct alumet_error why = {0};
    struct nvml_device **found = NULL;
    unsigned count = 0, n_found = 0;
    int r;

    nvml->log = alumet_start_log_topic(ctx);
    r = nvml_lib_open(nvml, &why);
    if (r < 0) {
        /* no driver, no library: say which, measure nothing, let the others run */
        nvml_log(nvml, ALUMET_LOG_WARN, "%s; the nvml plugin measures nothing", why.msg);
        nvml_lib_close(&nvml->lib);
        return 0;
    }
    nvmlReturn_t s = nvml->lib.get_count(&count);
    if (s != NVML_SUCCESS) {
        r = alumet_error_set(err, -EIO, "nvmlDeviceGetCount_v2 failed: %s",
                             nvml_strerror(&nvml->lib, s));
        goto out_close;
    }
    if (count == 0) {
        nvml_log(nvml, ALUMET_LOG_WARN,
                 "no NVIDIA GPU: the driver is loaded but NVML sees 0 devices (check "
                 "'nvidia-smi', and the devices given to this container); the nvml plugin "
                 "measures nothing");
        r = 0;
        goto out_close;
    }
    found = calloc(count, sizeof(*found));
    if (!found) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out_close;
    }
    for (unsigned i = 0; i < count; i++) {
        struct nvml_device *d = nvml_device_new(nvml, i);
        if (!d) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            goto out_free;
        }
        alumet_error_clear(&why);
        r = nvml_inspect(d, &why);
        if (r == 0) {
            found[n_found++] = d;
            nvml_log_device(nvml, d);
            continue;
        }
        if (!nvml->cfg.skip_failed_devices) {
            r = alumet_error_set(err, r,
                                 "failed to inspect GPU device %u%s%s: %s (set "
                                 "plugins.nvml.skip_failed_devices = true to measure the others)",
                                 i, d->bus_id[0] ? " " : "", d->bus_id, why.msg);
            nvml_source_ops.free(d);
            goto out_free;
        }
        nvml_log(nvml, ALUMET_LOG_WARN, "GPU device %u%s%s%s%s%s cannot be measured: %s, skipping",
                 i, d->bus_id[0] ? " " : "", d->bus_id, d->name[0] ? " (\"" : "", d->name,
                 d->name[0] ? "\")" : "", why.msg);
        nvml_source_ops.free(d);
    }
    if (n_found == 0) {
        nvml_log(nvml, ALUMET_LOG_WARN,
                 "%u NVML-compatible devices found but none of them is working (see the "
                 "warnings above); the nvml plugin measures nothing",
                 count);
        r = 0;
        goto out_free;
    }
    r = nvml_create_metrics(nvml, ctx, err);
    if (r < 0)
        goto out_free;
    nvml->sources = calloc(n_found, sizeof(*nvml->sources));
    if (!nvml->sources) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out_free;
    }
    for (unsigned i = 0; i < n_found; i++) {
        found[i]->slot = nvml->n_sources;
        r = nvml_add_device(nvml, ctx, found[i], err);
        if (r < 0)
            goto out_free;
        nvml->sources[nvml->n_sources++] = found[i];
        found[i] = NULL; /* owned by the core */
    }
    free(found);
    return 0;

out_free:
    for (unsigned i = 0; i < n_found; i++)
        nvml_source_ops.free(found[i]);
    free(found);
    if (nvml->n_sources)
        return r; /* sources already registered use the library: stop closes it */
    free(nvml->sources);
    nvml->sources = NULL;
out_close:
    nvml_lib_close(&nvml->lib);
    return r;
}

/* The core has freed the sources by now: close the library, so that start
 * can run again. */
static int nvml_stop(void *state, struct alumet_error *err)
{
    struct nvml *nvml = state;
    (void)err;
    nvml_lib_close(&nvml->lib);
    free(nvml->sources);
    nvml->sources = NULL;
    nvml->n_sources = 0;
    nvml->log = &nvml->fallback_log;
    return 0;
}

const struct alumet_plugin alumet_plugin_nvml = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "nvml",
    .version = "0.6.2",
    .default_config = NVML_DEFAULT_CONFIG,
    .init = nvml_init,
    .start = nvml_start,
    .stop = nvml_stop,
    .free = nvml_free,
};
