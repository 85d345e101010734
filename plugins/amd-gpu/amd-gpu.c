/* SPDX-License-Identifier: MIT */
/* amd-gpu: the activity, energy, power, voltage, memory, temperatures and
 * processes of AMD GPUs through AMD SMI (libamd_smi.so), as upstream
 * Alumet's amd-gpu plugin, plus an estimate of each process's share of the
 * GPU energy (see README.md). This file holds the plugin struct, the
 * options, the loading of the library (dlopen), the detection of the GPUs
 * and their features, the metrics and the lifecycle. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "amd-gpu-plugin.h"

/* What `config regen` writes: upstream's three keys. The other options
 * (process_energy, idle_power, the hidden library) are in README.md. */
#define AMD_DEFAULT_CONFIG                                                                         \
    "[plugins.amd-gpu]\n"                                                                          \
    "poll_interval = \"1s\"\n"                                                                     \
    "flush_interval = \"5s\"\n"                                                                    \
    "skip_failed_devices = true\n"

/* ---- the library ---- */

static const char *amd_status_name(amdsmi_status_t s)
{
    switch (s) {
    case AMDSMI_STATUS_INVAL:
        return "invalid parameters";
    case AMDSMI_STATUS_NOT_SUPPORTED:
        return "not supported";
    case AMDSMI_STATUS_NOT_YET_IMPLEMENTED:
        return "not implemented yet";
    case AMDSMI_STATUS_FAIL_LOAD_SYMBOL:
        return "failed to load a symbol";
    case AMDSMI_STATUS_NO_PERM:
        return "permission denied";
    case AMDSMI_STATUS_IO:
        return "I/O error";
    case AMDSMI_STATUS_BUSY:
        return "device busy";
    case AMDSMI_STATUS_NOT_FOUND:
        return "device not found";
    case AMDSMI_STATUS_DRIVER_NOT_LOADED:
        return "driver not loaded";
    case AMDSMI_STATUS_UNEXPECTED_DATA:
        return "unexpected data";
    default:
        return "AMD SMI error";
    }
}

const char *amd_strerror(const struct amd_lib *lib, amdsmi_status_t s)
{
    const char *text = NULL;
    if (lib->status_string && lib->status_string(s, &text) == AMDSMI_STATUS_SUCCESS && text)
        return text;
    return amd_status_name(s);
}

enum amd_abi amd_abi_of(const uint32_t v[3], bool *known)
{
    *known = v[0] >= 24 && v[0] <= 26;
    if (v[0] <= 24)
        return AMD_ABI_6_3;
    if (v[0] == 25)
        return v[1] >= 5 ? AMD_ABI_6_4_2 : AMD_ABI_6_4_0;
    return AMD_ABI_7_0;
}

int amd_lib_resolve(struct amd_lib *lib, struct alumet_error *err)
{
#define REQUIRED(field, sym) GPU_PLUGIN_REQUIRED(lib, field, sym, err)
#define OPTIONAL(field, sym) GPU_PLUGIN_OPTIONAL(lib, field, sym)
    REQUIRED(init, "amdsmi_init");
    REQUIRED(shut_down, "amdsmi_shut_down");
    REQUIRED(get_sockets, "amdsmi_get_socket_handles");
    REQUIRED(get_processors, "amdsmi_get_processor_handles");
    REQUIRED(get_uuid, "amdsmi_get_gpu_device_uuid");
    OPTIONAL(status_string, "amdsmi_status_code_to_string");
    OPTIONAL(get_version, "amdsmi_get_lib_version");
    OPTIONAL(get_activity, "amdsmi_get_gpu_activity");
    OPTIONAL(get_asic, "amdsmi_get_gpu_asic_info");
    OPTIONAL(get_processes, "amdsmi_get_gpu_process_list");
    OPTIONAL(get_energy, "amdsmi_get_energy_count");
    OPTIONAL(get_pm, "amdsmi_is_gpu_power_management_enabled");
    OPTIONAL(get_power, "amdsmi_get_power_info");
    OPTIONAL(get_voltage, "amdsmi_get_gpu_volt_metric");
    OPTIONAL(get_memory, "amdsmi_get_gpu_memory_usage");
    OPTIONAL(get_temperature, "amdsmi_get_temp_metric");
#undef REQUIRED
#undef OPTIONAL
    return 0;
}

static void amd_lib_close(struct amd_lib *lib)
{
    if (lib->initialized)
        lib->shut_down();
    if (lib->handle)
        dlclose(lib->handle);
    memset(lib, 0, sizeof(*lib));
}

/* Read the library version and pick the layouts. A version outside the
 * known ones is a warning: a newer one is read with the ROCm 7 layouts; an
 * older one (or none) turns off the features whose layouts changed. */
static void amd_lib_version(struct amd_gpu *amd, bool *old)
{
    struct amd_lib *lib = &amd->lib;
    amdsmi_version_t v;
    memset(&v, 0, sizeof(v));
    amdsmi_status_t s = lib->get_version ? lib->get_version(&v) : AMDSMI_STATUS_NOT_SUPPORTED;
    *old = false;
    if (s != AMDSMI_STATUS_SUCCESS) {
        amd_log(amd, ALUMET_LOG_WARN,
                "cannot tell the version of the AMD SMI library (amdsmi_get_lib_version: %s): "
                "per-process metrics and power are off",
                lib->get_version ? amd_strerror(lib, s) : "no such symbol");
        *old = true;
        lib->abi = AMD_ABI_6_3;
        return;
    }
    memcpy(lib->version, v.v, sizeof(lib->version));
    bool known;
    lib->abi = amd_abi_of(lib->version, &known);
    if (!known && lib->version[0] < 24) {
        amd_log(amd, ALUMET_LOG_WARN,
                "the AMD SMI library %u.%u.%u is older than ROCm 6.3 (library 24.x), the oldest "
                "supported: per-process metrics and power are off",
                lib->version[0], lib->version[1], lib->version[2]);
        *old = true;
    } else if (!known) {
        amd_log(amd, ALUMET_LOG_WARN,
                "the AMD SMI library %u.%u.%u is newer than the newest tested (26.x, ROCm 7): "
                "reading it as ROCm 7",
                lib->version[0], lib->version[1], lib->version[2]);
    }
}

/* Open and initialise the library. 0; or a negative errno with err saying
 * which of library, driver or permission is missing (a warning: the plugin
 * then measures nothing). */
static int amd_lib_open(struct amd_gpu *amd, struct alumet_error *err)
{
    struct amd_lib *lib = &amd->lib;
    const char *name = amd->cfg.library;

    const char *why;
    lib->handle = gpu_plugin_dlopen(name, &why);
    if (!lib->handle)
        return alumet_error_set(err, -ENOENT,
                                "no AMD SMI library: cannot load '%s' (%s); install ROCm's "
                                "amd-smi-lib package (ROCm 6.3 or newer), or set "
                                "plugins.amd-gpu.library to its path",
                                name, why);
    int r = amd_lib_resolve(lib, err);
    if (r < 0)
        return alumet_error_prefix(err, "'%s' is not the AMD SMI library, or is too old", name);
    amdsmi_status_t s = lib->init(AMDSMI_INIT_AMD_GPUS);
    if (s == AMDSMI_STATUS_SUCCESS) {
        lib->initialized = true;
        return 0;
    }
    const char *what = amd_strerror(lib, s);
    switch (s) {
    case AMDSMI_STATUS_DRIVER_NOT_LOADED:
        return alumet_error_set(err, -ENODEV,
                                "no AMD GPU driver: the AMD SMI library is installed but the "
                                "amdgpu kernel driver is not loaded (amdsmi_init: %s); load it "
                                "('modprobe amdgpu') or check 'amd-smi list'",
                                what);
    case AMDSMI_STATUS_NO_PERM:
        return alumet_error_set(err, -EACCES,
                                "cannot use the AMD GPUs (amdsmi_init: %s): the agent needs "
                                "read and write access to /dev/kfd and /dev/dri/renderD* "
                                "(groups 'render' and 'video')",
                                what);
    default:
        return alumet_error_set(err, -ENODEV, "Failed to initialize AMD SMI: %s", what);
    }
}

/* ---- features ---- */

static const char *const amd_feature_names[_AMD_FEATURE_MAX] = {
    "activity",
    "processes",
    "energy",
    "power",
    "voltage",
    "memory_gtt",
    "memory_vram",
    "temperature_edge",
    "temperature_hotspot",
    "temperature_hbm_0",
    "temperature_hbm_1",
    "temperature_hbm_2",
    "temperature_hbm_3",
    "temperature_plx",
};

const char *amd_feature_name(enum amd_feature f)
{
    return f >= 0 && f < _AMD_FEATURE_MAX ? amd_feature_names[f] : "unknown";
}

const struct amd_temperature amd_temperatures[AMD_N_TEMPERATURES] = {
    {AMDSMI_TEMPERATURE_TYPE_EDGE, "thermal_global"},
    {AMDSMI_TEMPERATURE_TYPE_HOTSPOT, "thermal_hotspot"},
    {AMDSMI_TEMPERATURE_TYPE_HBM_0, "thermal_high_bandwidth_memory_0"},
    {AMDSMI_TEMPERATURE_TYPE_HBM_1, "thermal_high_bandwidth_memory_1"},
    {AMDSMI_TEMPERATURE_TYPE_HBM_2, "thermal_high_bandwidth_memory_2"},
    {AMDSMI_TEMPERATURE_TYPE_HBM_3, "thermal_high_bandwidth_memory_3"},
    {AMDSMI_TEMPERATURE_TYPE_PLX, "thermal_pci_bus"},
};

/* Whether s means "this feature is not there" (upstream's list). */
static bool amd_status_is_off(amdsmi_status_t s)
{
    return s == AMDSMI_STATUS_INVAL || s == AMDSMI_STATUS_NOT_SUPPORTED ||
           s == AMDSMI_STATUS_NOT_YET_IMPLEMENTED || s == AMDSMI_STATUS_FAIL_LOAD_SYMBOL ||
           s == AMDSMI_STATUS_NO_PERM || s == AMDSMI_STATUS_UNEXPECTED_DATA;
}

/* The result of probing one feature: on, off, or a device failure (err). */
static int amd_probe_result(struct amd_gpu *amd, struct amd_device *d, enum amd_feature f,
                            amdsmi_status_t s, const char *call, struct alumet_error *err)
{
    if (s == AMDSMI_STATUS_SUCCESS) {
        d->features |= AMD_FEATURE_BIT(f);
        return 0;
    }
    if (s == AMDSMI_STATUS_NO_PERM)
        amd_log(amd, ALUMET_LOG_INFO, "GPU %s: %s is off: %s: %s", d->uuid, amd_feature_name(f),
                call, amd_strerror(&amd->lib, s));
    if (amd_status_is_off(s))
        return 0;
    return alumet_error_set(err, -EIO, "%s failed: %s", call, amd_strerror(&amd->lib, s));
}

/* The ASIC information (CU count) then the process list: both needed for
 * the per-process metrics, as upstream. */
static int amd_probe_processes(struct amd_gpu *amd, struct amd_device *d, struct alumet_error *err)
{
    const struct amd_lib *lib = &amd->lib;
    union {
        amdsmi_asic_info_v63_t v63;
        amdsmi_asic_info_v64_t v64;
    } asic;
    memset(&asic, 0, sizeof(asic));
    amdsmi_status_t s = lib->get_asic(d->handle, &asic);
    if (s != AMDSMI_STATUS_SUCCESS)
        return amd_probe_result(amd, d, AMD_FEATURE_PROCESSES, s, "amdsmi_get_gpu_asic_info", err);
    uint32_t cu =
        lib->abi == AMD_ABI_6_3 ? asic.v63.num_of_compute_units : asic.v64.num_of_compute_units;
    d->compute_units = cu == UINT32_MAX ? 0 : cu;
    uint32_t n = 0;
    s = lib->get_processes(d->handle, &n, NULL);
    if (s == AMDSMI_STATUS_OUT_OF_RESOURCES)
        s = AMDSMI_STATUS_SUCCESS; /* processes are running: the call works */
    return amd_probe_result(amd, d, AMD_FEATURE_PROCESSES, s, "amdsmi_get_gpu_process_list", err);
}

/* Power: ROCm 7 libraries only (socket_power), and only when power
 * management is on. */
static int amd_probe_power(struct amd_gpu *amd, struct amd_device *d, struct alumet_error *err)
{
    const struct amd_lib *lib = &amd->lib;
    bool enabled = false;
    amdsmi_status_t s = lib->get_pm(d->handle, &enabled);
    if (s != AMDSMI_STATUS_SUCCESS)
        return amd_probe_result(amd, d, AMD_FEATURE_POWER, s,
                                "amdsmi_is_gpu_power_management_enabled", err);
    if (!enabled) {
        amd_log(amd, ALUMET_LOG_INFO, "GPU %s: power is off: power management is disabled",
                d->uuid);
        return 0;
    }
    unsigned char info[AMDSMI_POWER_INFO_MAX_SIZE] __attribute__((aligned(8)));
    memset(info, 0, sizeof(info));
    return amd_probe_result(amd, d, AMD_FEATURE_POWER, lib->get_power(d->handle, info),
                            "amdsmi_get_power_info", err);
}

/* Probe every feature of d by calling it once. 0, or a negative errno with
 * err when the device fails. */
static int amd_probe(struct amd_gpu *amd, struct amd_device *d, bool old, struct alumet_error *err)
{
    const struct amd_lib *lib = &amd->lib;
    amdsmi_processor_handle h = d->handle;
    int r = 0;
#define PROBE(feature, fn, call, ...)                                                              \
    do {                                                                                           \
        if (r == 0 && lib->fn)                                                                     \
            r = amd_probe_result(amd, d, AMD_FEATURE_##feature, lib->fn(h, __VA_ARGS__), call,     \
                                 err);                                                             \
    } while (0)
    amdsmi_engine_usage_t usage;
    uint64_t u, ts;
    float res;
    int64_t v;
    PROBE(ACTIVITY, get_activity, "amdsmi_get_gpu_activity", &usage);
    if (r == 0 && !old && lib->get_asic && lib->get_processes)
        r = amd_probe_processes(amd, d, err);
    PROBE(ENERGY, get_energy, "amdsmi_get_energy_count", &u, &res, &ts);
    if (r == 0 && !old && lib->abi >= AMD_ABI_7_0 && lib->get_pm && lib->get_power)
        r = amd_probe_power(amd, d, err);
    PROBE(VOLTAGE, get_voltage, "amdsmi_get_gpu_volt_metric", AMDSMI_VOLT_TYPE_VDDGFX,
          AMDSMI_VOLT_CURRENT, &v);
    PROBE(MEMORY_GTT, get_memory, "amdsmi_get_gpu_memory_usage", AMDSMI_MEM_TYPE_GTT, &u);
    PROBE(MEMORY_VRAM, get_memory, "amdsmi_get_gpu_memory_usage", AMDSMI_MEM_TYPE_VRAM, &u);
    for (int i = 0; r == 0 && lib->get_temperature && i < AMD_N_TEMPERATURES; i++)
        r = amd_probe_result(
            amd, d, (enum amd_feature)(AMD_FEATURE_TEMP_EDGE + i),
            lib->get_temperature(h, amd_temperatures[i].sensor, AMDSMI_TEMP_CURRENT, &v),
            "amdsmi_get_temp_metric", err);
#undef PROBE
    if (r == 0 && d->features == 0)
        r = alumet_error_set(err, -EOPNOTSUPP,
                             "it supports none of the measured features (activity, processes, "
                             "energy, power, voltage, memory, temperatures)");
    return r;
}

/* The UUID of d (the id of its resource). */
static int amd_read_uuid(struct amd_gpu *amd, struct amd_device *d, struct alumet_error *err)
{
    char uuid[AMDSMI_GPU_UUID_SIZE + 1];
    unsigned len = AMDSMI_GPU_UUID_SIZE;
    memset(uuid, 0, sizeof(uuid));
    amdsmi_status_t s = amd->lib.get_uuid(d->handle, &len, uuid);
    if (s != AMDSMI_STATUS_SUCCESS)
        return alumet_error_set(err, -EIO, "amdsmi_get_gpu_device_uuid failed: %s",
                                amd_strerror(&amd->lib, s));
    if (len > AMDSMI_GPU_UUID_SIZE)
        len = AMDSMI_GPU_UUID_SIZE;
    uuid[len] = '\0';
    if (!uuid[0])
        return alumet_error_set(err, -EIO, "amdsmi_get_gpu_device_uuid gave an empty UUID");
    snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
    return 0;
}

/* ---- metrics ---- */

static const struct gpu_metric_def amd_metric_defs[_AMD_M_MAX] = {
    [AMD_M_ACTIVITY] = {"amd_gpu_activity_usage", ALUMET_VALUE_F64, ALUMET_UNIT_PERCENT,
                        ALUMET_PREFIX_PLAIN,
                        "GPU activity: graphic core, memory management, "
                        "unified memory controller"},
    [AMD_M_ENERGY] = {"amd_gpu_energy_consumption", ALUMET_VALUE_F64, ALUMET_UNIT_JOULE,
                      ALUMET_PREFIX_MILLI,
                      "energy consumed by the GPU since the previous measurement"},
    [AMD_M_POWER] = {"amd_gpu_power_consumption", ALUMET_VALUE_U64, ALUMET_UNIT_WATT,
                     ALUMET_PREFIX_PLAIN, "electrical power of the GPU socket"},
    [AMD_M_VOLTAGE] = {"amd_gpu_voltage", ALUMET_VALUE_U64, ALUMET_UNIT_VOLT, ALUMET_PREFIX_MILLI,
                       "voltage of the GPU graphic core (VDDGFX)"},
    [AMD_M_MEMORY] = {"amd_gpu_memory_usage", ALUMET_VALUE_U64, ALUMET_UNIT_BYTE,
                      ALUMET_PREFIX_PLAIN, "GPU memory used: GTT and VRAM"},
    [AMD_M_TEMPERATURE] = {"amd_gpu_temperature", ALUMET_VALUE_U64, ALUMET_UNIT_DEGREE_CELSIUS,
                           ALUMET_PREFIX_PLAIN, "temperature of a GPU thermal zone"},
    [AMD_M_PROC_CU_OCCUPANCY] = {"amd_gpu_process_compute_unit_occupancy", ALUMET_VALUE_F64,
                                 ALUMET_UNIT_PERCENT, ALUMET_PREFIX_PLAIN,
                                 "share of the compute units used by a process"},
    [AMD_M_PROC_MEMORY] = {"amd_gpu_process_memory_usage", ALUMET_VALUE_U64, ALUMET_UNIT_BYTE,
                           ALUMET_PREFIX_PLAIN, "GPU memory used by a process"},
    [AMD_M_PROC_GFX] = {"amd_gpu_process_engine_gfx", ALUMET_VALUE_U64, ALUMET_UNIT_SECOND,
                        ALUMET_PREFIX_NANO, "time a process spent on the GFX engine"},
    [AMD_M_PROC_ENCODE] = {"amd_gpu_process_engine_usage_encode", ALUMET_VALUE_U64,
                           ALUMET_UNIT_SECOND, ALUMET_PREFIX_NANO,
                           "time a process spent on the encode engine"},
    [AMD_M_PROC_GTT] = {"amd_gpu_process_memory_usage_gtt", ALUMET_VALUE_U64, ALUMET_UNIT_BYTE,
                        ALUMET_PREFIX_PLAIN, "GTT memory used by a process"},
    [AMD_M_PROC_CPU] = {"amd_gpu_process_memory_usage_cpu", ALUMET_VALUE_U64, ALUMET_UNIT_BYTE,
                        ALUMET_PREFIX_PLAIN, "CPU memory used by a process"},
    [AMD_M_PROC_VRAM] = {"amd_gpu_process_memory_usage_vram", ALUMET_VALUE_U64, ALUMET_UNIT_BYTE,
                         ALUMET_PREFIX_PLAIN, "VRAM used by a process"},
    [AMD_M_ATTRIBUTED] = {AMD_GPU_ATTRIBUTED_METRIC, ALUMET_VALUE_F64, ALUMET_UNIT_JOULE,
                          ALUMET_PREFIX_MILLI,
                          "estimated split of the GPU energy of the interval: idle part, share "
                          "of each process (by GFX engine time), unattributed rest"},
};

static int amd_create_metrics(struct amd_gpu *amd, struct alumet_start_ctx *ctx,
                              struct alumet_error *err)
{
    for (int m = 0; m < _AMD_M_MAX; m++) {
        if (m == AMD_M_ATTRIBUTED && !amd->cfg.process_energy)
            continue;
        int r = gpu_plugin_create_metric(ctx, &amd_metric_defs[m], &amd->metrics[m], err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- options ---- */

/* Every key is optional (upstream requires its three when the section
 * exists): a missing one takes upstream's default. */
static int amd_parse_config(struct gpu_device_options *c, struct alumet_config *cfg,
                            struct alumet_error *err)
{
    int r = gpu_plugin_get_device_options(cfg, c, err);
    if (r < 0)
        return r;
    /* hidden library: where libamd_smi is (tests, unusual installs) */
    return gpu_plugin_get_split_options(cfg, "90.5", AMD_GPU_LIBRARY_DEFAULT, c, err);
}

/* ---- lifecycle ---- */

static void amd_free(void *state)
{
    struct amd_gpu *amd = state;
    if (!amd)
        return;
    amd_lib_close(&amd->lib);
    free(amd->cfg.library);
    free(amd);
}

static int amd_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct amd_gpu *amd = calloc(1, sizeof(*amd));
    if (!amd)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    amd->fallback_log = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("amd-gpu");
    amd->log = &amd->fallback_log;
    for (int m = 0; m < _AMD_M_MAX; m++)
        amd->metrics[m] = ALUMET_METRIC_ID_INVALID;
    int r = amd_parse_config(&amd->cfg, cfg, err);
    if (r < 0) {
        amd_free(amd);
        return r;
    }
    *ret_state = amd;
    return 0;
}

static void amd_log_device(struct amd_gpu *amd, const struct amd_device *d)
{
    char text[512];
    gpu_plugin_feature_list(text, sizeof(text), d->features, amd_feature_names, _AMD_FEATURE_MAX);
    amd_log(amd, ALUMET_LOG_INFO, "Found AMD GPU %s with features: %s", d->uuid, text);
}

static int amd_device_cmp(const void *a, const void *b)
{
    return strcmp(((const struct amd_device *)a)->uuid, ((const struct amd_device *)b)->uuid);
}

static bool amd_has_uuid(const struct amd_gpu_source *src, const char *uuid)
{
    for (size_t i = 0; i < src->n_devices; i++)
        if (strcmp(src->devices[i].uuid, uuid) == 0)
            return true;
    return false;
}

/* One processor (socket si, processor pi): inspected, then kept in src,
 * skipped with a warning, or a start error. 1 kept, 0 skipped, < 0 error. */
static int amd_add_processor(struct amd_gpu *amd, struct amd_gpu_source *src,
                             amdsmi_processor_handle h, unsigned si, unsigned pi, bool old,
                             struct alumet_error *err)
{
    struct alumet_error why = {0};
    struct amd_device d;
    memset(&d, 0, sizeof(d));
    d.handle = h;
    int r = amd_read_uuid(amd, &d, &why);
    if (r == 0 && amd_has_uuid(src, d.uuid))
        return 0; /* the same GPU seen twice: keep the first */
    if (r == 0)
        r = amd_probe(amd, &d, old, &why);
    if (r == 0) {
        src->devices[src->n_devices++] = d;
        return 1;
    }
    char where[96];
    snprintf(where, sizeof(where), "socket %u processor %u%s%s", si, pi, d.uuid[0] ? " " : "",
             d.uuid);
    if (!amd->cfg.skip_failed_devices)
        return alumet_error_set(err, r,
                                "failed to inspect GPU device %s: %s (set "
                                "plugins.amd-gpu.skip_failed_devices = true to measure the others)",
                                where, why.msg);
    amd_log(amd, ALUMET_LOG_WARN, "GPU device %s cannot be measured: %s, skipping", where, why.msg);
    return 0;
}

/* Enumerate the processors of every socket into src. The number of
 * processors seen in *ret_seen. */
static int amd_enumerate(struct amd_gpu *amd, struct amd_gpu_source *src, bool old,
                         unsigned *ret_seen, struct alumet_error *err)
{
    const struct amd_lib *lib = &amd->lib;
    amdsmi_socket_handle *sockets = NULL;
    amdsmi_processor_handle *procs = NULL;
    uint32_t n_sockets = 0;
    int r = 0;
    *ret_seen = 0;
    amdsmi_status_t s = lib->get_sockets(&n_sockets, NULL);
    if (s == AMDSMI_STATUS_SUCCESS && n_sockets) {
        sockets = calloc(n_sockets, sizeof(*sockets));
        if (!sockets)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        s = lib->get_sockets(&n_sockets, sockets);
    }
    if (s != AMDSMI_STATUS_SUCCESS) {
        r = alumet_error_set(err, -EIO, "amdsmi_get_socket_handles failed: %s",
                             amd_strerror(lib, s));
        goto out;
    }
    for (uint32_t si = 0; si < n_sockets; si++) {
        uint32_t n = 0;
        s = lib->get_processors(sockets[si], &n, NULL);
        if (s == AMDSMI_STATUS_SUCCESS && n) {
            amdsmi_processor_handle *more = reallocarray(procs, n, sizeof(*procs));
            void *devs = reallocarray(src->devices, src->n_devices + n, sizeof(*src->devices));
            if (more)
                procs = more;
            if (devs)
                src->devices = devs;
            if (!more || !devs) {
                r = alumet_error_set(err, -ENOMEM, "out of memory");
                goto out;
            }
            s = lib->get_processors(sockets[si], &n, procs);
        }
        if (s != AMDSMI_STATUS_SUCCESS) {
            r = alumet_error_set(err, -EIO, "amdsmi_get_processor_handles failed on socket %u: %s",
                                 si, amd_strerror(lib, s));
            goto out;
        }
        for (uint32_t pi = 0; pi < n; pi++) {
            (*ret_seen)++;
            r = amd_add_processor(amd, src, procs[pi], si, pi, old, err);
            if (r < 0)
                goto out;
        }
    }
    r = 0;
out:
    free(procs);
    free(sockets);
    return r;
}

static int amd_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct amd_gpu *amd = state;
    struct alumet_error why = {0};
    unsigned seen = 0;
    bool old;
    int r;

    amd->log = alumet_start_log_topic(ctx);
    r = amd_lib_open(amd, &why);
    if (r < 0) {
        /* no library, no driver: say which, measure nothing, let the others run */
        amd_log(amd, ALUMET_LOG_WARN, "%s; the amd-gpu plugin measures nothing", why.msg);
        amd_lib_close(&amd->lib);
        return 0;
    }
    amd_lib_version(amd, &old);
    struct amd_gpu_source *src = calloc(1, sizeof(*src));
    if (!src) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out_close;
    }
    src->amd = amd;
    r = amd_enumerate(amd, src, old, &seen, err);
    if (r < 0)
        goto out_free;
    if (seen == 0) {
        amd_log(amd, ALUMET_LOG_WARN,
                "no AMD GPU: the amdgpu driver is loaded but AMD SMI sees 0 GPUs (check "
                "'amd-smi list', and the devices given to this container); the amd-gpu plugin "
                "measures nothing");
        goto out_free;
    }
    if (src->n_devices == 0) {
        amd_log(amd, ALUMET_LOG_WARN,
                "%u AMD SMI-compatible devices found but none of them is working (see the "
                "warnings above); the amd-gpu plugin measures nothing",
                seen);
        goto out_free;
    }
    qsort(src->devices, src->n_devices, sizeof(*src->devices), amd_device_cmp);
    for (size_t i = 0; i < src->n_devices; i++)
        amd_log_device(amd, &src->devices[i]);
    r = amd_create_metrics(amd, ctx, err);
    if (r < 0)
        goto out_free;
    struct alumet_source_opts opts = {
        .size = sizeof(opts),
        .poll_interval = amd->cfg.poll_interval,
        .flush_interval = amd->cfg.flush_interval,
        .baseline_first = true, /* energy counters */
    };
    amd->source = src;
    r = alumet_add_source(ctx, AMD_GPU_SOURCE_NAME, &amd_source_ops, src, &opts, err);
    if (r < 0) {
        amd->source = NULL;
        goto out_free;
    }
    return 0;

out_free:
    amd_source_ops.free(src);
out_close:
    amd_lib_close(&amd->lib);
    return r;
}

/* The core has freed the source by now: close the library, so that start
 * can run again. */
static int amd_stop(void *state, struct alumet_error *err)
{
    struct amd_gpu *amd = state;
    (void)err;
    amd_lib_close(&amd->lib);
    amd->source = NULL;
    amd->log = &amd->fallback_log;
    return 0;
}

const struct alumet_plugin alumet_plugin_amd_gpu = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "amd-gpu",
    .version = "0.1.0",
    .default_config = AMD_DEFAULT_CONFIG,
    .init = amd_init,
    .start = amd_start,
    .stop = amd_stop,
    .free = amd_free,
};
