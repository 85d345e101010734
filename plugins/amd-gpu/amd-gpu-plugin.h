/* SPDX-License-Identifier: MIT */
/* amd-gpu plugin, private header shared by its files and its tests:
 *   amd-gpu.c              the plugin: options, library loading (dlopen),
 *                          device detection (feature probes), metrics,
 *                          lifecycle
 *   amd-gpu-source.c       the source "amd_gpu_devices": the poll of every
 *                          GPU, the energy counter
 *   amd-gpu-attribution.c  the split of a GPU's energy into idle,
 *                          per-process and unattributed parts
 *
 * Ownership: the plugin state (struct amd_gpu) is allocated by init and
 * freed by free; it owns the library handle (opened by start, closed by
 * stop). The source (struct amd_gpu_source) owns its devices and is owned
 * by the core once registered; it borrows the plugin state. The core frees
 * the source before it stops the plugin, so the library outlives every call
 * into it. */
#ifndef ALUMET_PLUGIN_AMD_GPU_H
#define ALUMET_PLUGIN_AMD_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/plugin.h"
#include "amd-smi-api.h"
#include "util/gpu-plugin.h"
#include "util/gpu-split.h"
#include "util/read-clock.h"

#define AMD_GPU_LIBRARY_DEFAULT "libamd_smi.so"
#define AMD_GPU_ATTRIBUTED_METRIC "amd_gpu_attributed_energy"
#define AMD_GPU_SOURCE_NAME "amd_gpu_devices"

#define amd_log(amd, level, ...) alumet_log_at((amd)->log, (level), __VA_ARGS__)

/* ---- the library ---- */

/* The layout family of the library (amd-smi-api.h). */
enum amd_abi {
    AMD_ABI_6_3,   /* 24.x: short process names, 6.3 ASIC info */
    AMD_ABI_6_4_0, /* 25.0 to 25.4: long names, no cu_occupancy */
    AMD_ABI_6_4_2, /* 25.5 and later 25.x: cu_occupancy */
    AMD_ABI_7_0,   /* 26.x and later: socket_power */
};

/* Entry points resolved by dlsym. The first five are required (the library
 * is refused without them); a missing optional one turns its feature off. */
struct amd_lib {
    void *handle;
    bool initialized; /* amdsmi_init succeeded: amdsmi_shut_down is due */
    amdsmi_init_fn init;
    amdsmi_shut_down_fn shut_down;
    amdsmi_get_socket_handles_fn get_sockets;
    amdsmi_get_processor_handles_fn get_processors;
    amdsmi_get_gpu_device_uuid_fn get_uuid;
    /* optional */
    amdsmi_status_code_to_string_fn status_string;
    amdsmi_get_lib_version_fn get_version;
    amdsmi_get_gpu_activity_fn get_activity;
    amdsmi_get_gpu_asic_info_fn get_asic;
    amdsmi_get_gpu_process_list_fn get_processes;
    amdsmi_get_energy_count_fn get_energy;
    amdsmi_is_gpu_power_management_enabled_fn get_pm;
    amdsmi_get_power_info_fn get_power;
    amdsmi_get_gpu_volt_metric_fn get_voltage;
    amdsmi_get_gpu_memory_usage_fn get_memory;
    amdsmi_get_temp_metric_fn get_temperature;
    /* what amdsmi_get_lib_version said */
    uint32_t version[3];
    enum amd_abi abi;
};

/* The text of a status ("AMDSMI_STATUS_NOT_SUPPORTED: ..." from the
 * library, or our own name), never NULL. */
const char *amd_strerror(const struct amd_lib *lib, amdsmi_status_t s);

/* The family of library version v (major, minor, release as read). Sets
 * *known to false for a version outside 24.x to 26.x. */
enum amd_abi amd_abi_of(const uint32_t v[3], bool *known);

/* ---- features ---- */

enum amd_feature {
    AMD_FEATURE_ACTIVITY,
    AMD_FEATURE_PROCESSES,
    AMD_FEATURE_ENERGY,
    AMD_FEATURE_POWER,
    AMD_FEATURE_VOLTAGE,
    AMD_FEATURE_MEMORY_GTT,
    AMD_FEATURE_MEMORY_VRAM,
    AMD_FEATURE_TEMP_EDGE, /* the 7 temperature sensors, in this order */
    AMD_FEATURE_TEMP_HOTSPOT,
    AMD_FEATURE_TEMP_HBM_0,
    AMD_FEATURE_TEMP_HBM_1,
    AMD_FEATURE_TEMP_HBM_2,
    AMD_FEATURE_TEMP_HBM_3,
    AMD_FEATURE_TEMP_PLX,
    _AMD_FEATURE_MAX,
};

#define AMD_FEATURE_BIT(f) (1u << (unsigned)(f))
#define AMD_N_TEMPERATURES 7

/* The sensor and the thermal_zone attribute of temperature i (0 to 6). */
struct amd_temperature {
    uint32_t sensor;
    const char *zone;
};
extern const struct amd_temperature amd_temperatures[AMD_N_TEMPERATURES];

/* "activity", "processes", ... (the names of the startup message). */
const char *amd_feature_name(enum amd_feature f);

/* ---- options and metrics ---- */

enum amd_metric {
    AMD_M_ACTIVITY,
    AMD_M_ENERGY,
    AMD_M_POWER,
    AMD_M_VOLTAGE,
    AMD_M_MEMORY,
    AMD_M_TEMPERATURE,
    AMD_M_PROC_CU_OCCUPANCY,
    AMD_M_PROC_MEMORY,
    AMD_M_PROC_GFX,
    AMD_M_PROC_ENCODE,
    AMD_M_PROC_GTT,
    AMD_M_PROC_CPU,
    AMD_M_PROC_VRAM,
    AMD_M_ATTRIBUTED,
    _AMD_M_MAX,
};

/* ---- the plugin ---- */

struct amd_gpu_source;

struct amd_gpu {
    struct gpu_device_options cfg;
    struct amd_lib lib;
    alumet_metric_id metrics[_AMD_M_MAX];
    struct alumet_log_topic *log; /* the start context's topic, or fallback_log */
    struct alumet_log_topic fallback_log;
    /* the source registered by start (borrowed: the core owns it; it clears
     * this pointer when freed), for the tests */
    struct amd_gpu_source *source;
    struct read_clock clock; /* stamps the energy reads (a test's, or zeroed) */
};

/* Resolve the entry points of the library opened in lib->handle. 0, or
 * -ENOENT with err naming the first missing required symbol. */
int amd_lib_resolve(struct amd_lib *lib, struct alumet_error *err);

/* ---- per-process energy ---- */

/* The split is src/util/gpu-split.h's, with a process's GFX engine time in
 * the interval (ns) as its weight. The plugin's names for it: */
#define amd_share gpu_share
#define amd_split_energy gpu_split_energy
#define AMD_SPLIT_NONE GPU_SPLIT_NONE
#define AMD_SPLIT_GFX_SHARE GPU_SPLIT_BY_USAGE /* by share of the GFX engine time */
#define AMD_SPLIT_EVEN_SPLIT GPU_SPLIT_EVEN    /* no GFX time: evenly */

/* "none", "gfx_share", "even_split". */
const char *amd_split_method_name(enum gpu_split_method m);

/* ---- a device ---- */

/* The GFX engine time of a process at the previous poll. */
struct amd_proc_seen {
    uint32_t pid;
    uint64_t gfx_ns;
};

struct amd_device {
    amdsmi_processor_handle handle;
    char uuid[AMDSMI_GPU_UUID_SIZE + 2];
    unsigned features;      /* AMD_FEATURE_BIT set */
    uint32_t compute_units; /* from the ASIC info (> 0 when PROCESSES is on) */

    /* energy counter */
    bool has_energy;
    uint64_t energy_count;   /* last accumulator value */
    alumet_time_ns energy_t; /* when it was read (start of the interval) */

    /* process list: room for procs_cap entries of AMDSMI_PROC_INFO_MAX_SIZE */
    unsigned char *procs;
    uint32_t procs_cap;
    bool procs_polled; /* the previous poll read the process list */
    /* GFX times at the previous poll, and now */
    struct amd_proc_seen *seen, *seen_next;
    size_t n_seen, seen_cap;

    /* per-process energy of the current interval; busy when an activity or
     * a GFX time was above 0 */
    struct gpu_split split;
};

/* The one source: every GPU, polled in turn (the library is not reliably
 * thread-safe). */
struct amd_gpu_source {
    struct amd_gpu *amd; /* borrowed */
    struct amd_device *devices;
    size_t n_devices;
};

/* Free what a device owns (not the device itself). */
void amd_device_clear(struct amd_device *d);

/* The energy counter step: accumulator value × resolution µJ read at now.
 * Returns 1 with *ret_mj and *ret_dt (s, 0 when the clock went back) when
 * an interval ends; -1 when value is a new baseline (first read, or a reset:
 * then *ret_reset is true). Semantics in README.md. */
int amd_energy_update(struct amd_device *d, uint64_t value, double resolution_uj,
                      alumet_time_ns now, double *ret_mj, double *ret_dt, bool *ret_reset);

/* Largest backwards step still taken as a wrap of the 64-bit accumulator
 * (in mJ); a larger one is a reset (driver reload, GPU reset): 2^40 mJ,
 * about 12 days at 1 kW. */
#define AMD_WRAP_MAX_MJ ((double)((uint64_t)1 << 40))

extern const struct alumet_source_ops amd_source_ops;

#endif
