/* SPDX-License-Identifier: MIT */
/* nvml plugin, private header shared by its files and its tests:
 *   nvml.c              the plugin: options, library loading, device
 *                       detection (feature probes), metrics, lifecycle
 *   nvml-source.c       the source of one device: the poll (full and
 *                       minimal modes), the energy counter
 *   nvml-attribution.c  the split of a device's energy into idle, per-process
 *                       and unattributed parts
 *
 * Ownership: the plugin state (struct nvml) is allocated by init and freed
 * by free; it owns the library handle (opened by start, closed by stop).
 * Each device source (struct nvml_device) is owned by the core once
 * registered, and borrows the plugin state (function table, metric ids,
 * options, log topic). The core frees the sources before it stops the
 * plugin, so the library outlives every call into it. */
#ifndef ALUMET_PLUGIN_NVML_H
#define ALUMET_PLUGIN_NVML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/plugin.h"
#include "nvml-api.h"
#include "util/gpu-plugin.h"
#include "util/gpu-split.h"
#include "util/read-clock.h"

#define NVML_LIBRARY_DEFAULT "libnvidia-ml.so.1"
#define NVML_ATTRIBUTED_METRIC "nvml_attributed_energy"

#define nvml_log(nvml, level, ...) alumet_log_at((nvml)->log, (level), __VA_ARGS__)

/* ---- the library ---- */

/* Entry points resolved by dlsym. The first seven are required (the library
 * is refused without them); a missing optional one turns its feature off. */
struct nvml_lib {
    void *handle;
    bool initialized; /* nvmlInit_v2 succeeded: nvmlShutdown is due */
    nvmlInit_v2_fn init;
    nvmlShutdown_fn shutdown;
    nvmlErrorString_fn error_string;
    nvmlDeviceGetCount_v2_fn get_count;
    nvmlDeviceGetHandleByIndex_v2_fn get_handle;
    nvmlDeviceGetName_fn get_name;
    nvmlDeviceGetPciInfo_v3_fn get_pci;
    /* optional */
    nvmlDeviceGetTotalEnergyConsumption_fn get_energy;
    nvmlDeviceGetPowerUsage_fn get_power;
    nvmlDeviceGetTemperature_fn get_temperature;
    nvmlDeviceGetUtilizationRates_fn get_utilization;
    nvmlDeviceGetMemoryInfo_v2_fn get_memory;
    nvmlDeviceGetCodecUtilization_fn get_decoder;
    nvmlDeviceGetCodecUtilization_fn get_encoder;
    nvmlDeviceGetRunningProcesses_fn compute_v3, compute_v2;
    nvmlDeviceGetRunningProcesses_fn graphics_v3, graphics_v2;
    nvmlDeviceGetProcessUtilization_fn get_process_utilization;
    nvmlDeviceGetClockInfo_fn get_clock;
};

/* The text of an NVML status ("GPU is lost"), never NULL. */
const char *nvml_strerror(const struct nvml_lib *lib, nvmlReturn_t r);

/* ---- features ---- */

enum nvml_feature {
    NVML_FEATURE_ENERGY,
    NVML_FEATURE_POWER,
    NVML_FEATURE_TEMPERATURE,
    NVML_FEATURE_UTILIZATION,
    NVML_FEATURE_MEMORY,
    NVML_FEATURE_DECODER,
    NVML_FEATURE_ENCODER,
    NVML_FEATURE_COMPUTE_PROCESSES,
    NVML_FEATURE_GRAPHICS_PROCESSES,
    NVML_FEATURE_PROCESS_UTILIZATION,
    NVML_FEATURE_CLOCKS,
    _NVML_FEATURE_MAX,
};

#define NVML_FEATURE_BIT(f) (1u << (unsigned)(f))

/* "total_energy_consumption", ... (the names of the startup message). */
const char *nvml_feature_name(enum nvml_feature f);

/* ---- options and metrics ---- */

enum nvml_mode {
    NVML_MODE_FULL,
    NVML_MODE_MINIMAL,
};

enum nvml_metric {
    NVML_M_ENERGY,
    NVML_M_POWER,
    NVML_M_TEMPERATURE,
    NVML_M_GPU_UTILIZATION,
    NVML_M_MEMORY_UTILIZATION,
    NVML_M_MEMORY_INFO,
    NVML_M_DECODER_UTILIZATION,
    NVML_M_DECODER_PERIOD,
    NVML_M_ENCODER_UTILIZATION,
    NVML_M_ENCODER_PERIOD,
    NVML_M_N_COMPUTE,
    NVML_M_N_GRAPHICS,
    NVML_M_USED_MEMORY,
    NVML_M_SM_UTILIZATION,
    NVML_M_CLOCK,
    NVML_M_ATTRIBUTED,
    _NVML_M_MAX,
};

/* ---- the plugin ---- */

struct nvml_device;

struct nvml {
    struct gpu_device_options cfg; /* process_energy: in full mode only */
    enum nvml_mode mode;
    struct nvml_lib lib;
    alumet_metric_id metrics[_NVML_M_MAX];
    struct alumet_log_topic *log; /* the start context's topic, or fallback_log */
    struct alumet_log_topic fallback_log;
    /* the sources registered by start (borrowed: the core owns them; each
     * clears its slot when freed), for the tests */
    struct nvml_device **sources;
    size_t n_sources;
    struct read_clock clock; /* stamps the energy reads (a test's, or zeroed) */
};

/* Resolve the entry points of the library opened in lib->handle. 0, or
 * -ENOENT with err naming the first missing required symbol. */
int nvml_lib_resolve(struct nvml_lib *lib, struct alumet_error *err);

/* ---- per-process energy ---- */

/* The split is src/util/gpu-split.h's, with the sum of a process's smUtil
 * samples as its weight. The plugin's names for it: */
#define nvml_share gpu_share
#define nvml_split_energy gpu_split_energy
#define NVML_SPLIT_NONE GPU_SPLIT_NONE
#define NVML_SPLIT_SM_SHARE GPU_SPLIT_BY_USAGE /* by share of the SM utilisation samples */
#define NVML_SPLIT_EVEN_SPLIT GPU_SPLIT_EVEN   /* no SM sample above 0: evenly */

/* "none", "sm_share", "even_split". */
const char *nvml_split_method_name(enum gpu_split_method m);

/* ---- a device and its source ---- */

struct nvml_device {
    struct nvml *nvml; /* borrowed */
    unsigned index;
    size_t slot; /* in nvml->sources */
    nvmlDevice_t handle;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char bus_id[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
    unsigned features;                                              /* NVML_FEATURE_BIT set */
    nvmlDeviceGetRunningProcesses_fn compute_procs, graphics_procs; /* _v3 or _v2 */
    const char *compute_symbol, *graphics_symbol;

    /* energy counter (full mode) */
    bool has_energy;
    uint64_t energy_mj;      /* last counter value */
    alumet_time_ns energy_t; /* when the counter last changed (start of the interval) */

    /* previous power (minimal mode) */
    bool has_power;
    unsigned power_mw;
    alumet_time_ns power_t;

    /* process utilisation samples: queried from the second poll on */
    bool polled;
    unsigned long long last_seen_us;
    nvmlProcessUtilizationSample_t *samples;
    unsigned samples_cap;
    unsigned char *procs[2]; /* compute, graphics: NVML_PROCESS_SLACK bytes per entry */
    unsigned procs_cap[2];

    /* per-process energy: what the polls of the current interval saw; busy
     * when the utilisation or an SM sample was above 0 */
    struct gpu_split split;
};

/* A new device source for index (calloc'd, fields zero), NULL on -ENOMEM. */
struct nvml_device *nvml_device_new(struct nvml *nvml, unsigned index);

/* The energy counter step: value read at now. Returns 1 with *ret_mj and
 * *ret_dt (s, 0 when the clock went back) when an interval ends; 0 when the
 * counter did not change (the interval goes on: NVML refreshes it every 20
 * to 100 ms); -1 when value is a new baseline (first read, or a reset: then
 * *ret_reset is true). Counter semantics in README.md. */
int nvml_energy_update(struct nvml_device *d, uint64_t value, alumet_time_ns now, double *ret_mj,
                       double *ret_dt, bool *ret_reset);

/* Largest backwards step still taken as a wrap of the 64-bit counter; a
 * larger one is a reset (driver reload, GPU reset): 2^40 mJ, about 12 days
 * at 1 kW. */
#define NVML_WRAP_MAX_MJ ((uint64_t)1 << 40)

extern const struct alumet_source_ops nvml_source_ops;

#endif
