/* SPDX-License-Identifier: MIT */
/* The part of AMD SMI's C API (libamd_smi.so, amdsmi.h) that the amd-gpu
 * plugin uses, written from AMD's documentation (no ROCm header is needed to
 * build). The plugin loads the library with dlopen and calls it through
 * these prototypes; the test stub (tests/fixtures/amd-smi-stub/) implements
 * them. Every layout and constant below must match the library's ABI.
 *
 * Three structures changed layout between ROCm releases. The library tells
 * its version through amdsmi_get_lib_version, whose structure starts with
 * four uint32_t and a build string pointer at offset 16 in every release
 * ({year, major, minor, release} until ROCm 6.3, {major, minor, release} and
 * padding since 6.4); the first three numbers are the version the plugin
 * reads ("24.7.1" for ROCm 6.3, "25.3.0" for 6.4.0, "26.2.0" for 7.1.1):
 *
 *   family       library      process info          ASIC info      power info
 *   ROCm 6.3     24.x         224 B, names 32 B     456 B          68 B, no socket_power
 *   ROCm 6.4.0   25.0-25.4    704 B, names 256 B    896 B          40 B, socket_power host only
 *   ROCm 6.4.2   25.5-25.x    704 B + cu_occupancy  896 B          40 B, socket_power host only
 *   ROCm 7.x     26.x         704 B + cu_occupancy  896 B          192 B, socket_power (W)
 *
 * The plugin always hands the library a buffer of the largest layout, and
 * reads the fields at the offsets of the family it detected. */
#ifndef ALUMET_PLUGIN_AMD_SMI_API_H
#define ALUMET_PLUGIN_AMD_SMI_API_H

#include <stdbool.h>
#include <stdint.h>

typedef uint32_t amdsmi_status_t; /* an enum in amdsmi.h, with 0xFFFFFFFF: 32 bits */

#define AMDSMI_STATUS_SUCCESS 0
#define AMDSMI_STATUS_INVAL 1
#define AMDSMI_STATUS_NOT_SUPPORTED 2
#define AMDSMI_STATUS_NOT_YET_IMPLEMENTED 3
#define AMDSMI_STATUS_FAIL_LOAD_MODULE 4
#define AMDSMI_STATUS_FAIL_LOAD_SYMBOL 5
#define AMDSMI_STATUS_DRM_ERROR 6
#define AMDSMI_STATUS_API_FAILED 7
#define AMDSMI_STATUS_TIMEOUT 8
#define AMDSMI_STATUS_RETRY 9
#define AMDSMI_STATUS_NO_PERM 10
#define AMDSMI_STATUS_INTERRUPT 11
#define AMDSMI_STATUS_IO 12
#define AMDSMI_STATUS_FILE_ERROR 14
#define AMDSMI_STATUS_OUT_OF_RESOURCES 15
#define AMDSMI_STATUS_INIT_ERROR 18
#define AMDSMI_STATUS_BUSY 30
#define AMDSMI_STATUS_NOT_FOUND 31
#define AMDSMI_STATUS_NOT_INIT 32
#define AMDSMI_STATUS_DRIVER_NOT_LOADED 34
#define AMDSMI_STATUS_NO_DATA 40
#define AMDSMI_STATUS_INSUFFICIENT_SIZE 41
#define AMDSMI_STATUS_UNEXPECTED_SIZE 42
#define AMDSMI_STATUS_UNEXPECTED_DATA 43
#define AMDSMI_STATUS_UNKNOWN_ERROR 0xFFFFFFFFu

/* amdsmi_init_flags_t (amdsmi_init takes a uint64_t) */
#define AMDSMI_INIT_AMD_GPUS (1u << 1)

typedef void *amdsmi_socket_handle;
typedef void *amdsmi_processor_handle;

#define AMDSMI_GPU_UUID_SIZE 38

/* amdsmi_temperature_type_t */
#define AMDSMI_TEMPERATURE_TYPE_EDGE 0
#define AMDSMI_TEMPERATURE_TYPE_HOTSPOT 1 /* also named JUNCTION */
#define AMDSMI_TEMPERATURE_TYPE_VRAM 2
#define AMDSMI_TEMPERATURE_TYPE_HBM_0 3
#define AMDSMI_TEMPERATURE_TYPE_HBM_1 4
#define AMDSMI_TEMPERATURE_TYPE_HBM_2 5
#define AMDSMI_TEMPERATURE_TYPE_HBM_3 6
#define AMDSMI_TEMPERATURE_TYPE_PLX 7
/* amdsmi_temperature_metric_t */
#define AMDSMI_TEMP_CURRENT 0
/* amdsmi_voltage_type_t, amdsmi_voltage_metric_t */
#define AMDSMI_VOLT_TYPE_VDDGFX 0
#define AMDSMI_VOLT_CURRENT 0
/* amdsmi_memory_type_t */
#define AMDSMI_MEM_TYPE_VRAM 0
#define AMDSMI_MEM_TYPE_GTT 2

/* amdsmi_version_t: see the top of this file. */
typedef struct {
    uint32_t v[4];
    const char *build;
} amdsmi_version_t;

/* amdsmi_engine_usage_t (every family): % of time each engine was busy */
typedef struct {
    uint32_t gfx_activity;
    uint32_t umc_activity;
    uint32_t mm_activity;
    uint32_t reserved[13];
} amdsmi_engine_usage_t;

/* The per-process usage shared by both process layouts. */
typedef struct {
    uint64_t gfx; /* ns the process spent on the GFX engine (cumulative) */
    uint64_t enc; /* ns on the encode engine */
    uint32_t reserved[12];
} amdsmi_proc_engine_usage_t;

typedef struct {
    uint64_t gtt_mem; /* bytes */
    uint64_t cpu_mem;
    uint64_t vram_mem;
    uint32_t reserved[10];
} amdsmi_proc_memory_usage_t;

/* amdsmi_proc_info_t of ROCm 6.3 (AMDSMI_NORMAL_STRING_LENGTH = 32) */
typedef struct {
    char name[32];
    uint32_t pid;
    uint64_t mem; /* bytes */
    amdsmi_proc_engine_usage_t engine_usage;
    amdsmi_proc_memory_usage_t memory_usage;
    char container_name[32];
    uint32_t reserved[4];
} amdsmi_proc_info_v63_t;

/* amdsmi_proc_info_t of ROCm 6.4 and later (AMDSMI_MAX_STRING_LENGTH = 256);
 * cu_occupancy is a reserved word before 6.4.2. */
typedef struct {
    char name[256];
    uint32_t pid;
    uint64_t mem;
    amdsmi_proc_engine_usage_t engine_usage;
    amdsmi_proc_memory_usage_t memory_usage;
    char container_name[256];
    uint32_t cu_occupancy; /* number of compute units in use */
    uint32_t reserved[11];
} amdsmi_proc_info_v64_t;

/* amdsmi_asic_info_t of ROCm 6.3 */
typedef struct {
    char market_name[256];
    uint32_t vendor_id;
    char vendor_name[64];
    uint32_t subvendor_id;
    uint64_t device_id;
    uint32_t rev_id;
    char asic_serial[32];
    uint32_t oam_id;
    uint32_t num_of_compute_units;
    uint64_t target_graphics_version;
    uint32_t reserved[15];
} amdsmi_asic_info_v63_t;

/* amdsmi_asic_info_t of ROCm 6.4 and later (7.x: subsystem_id in reserved[0]) */
typedef struct {
    char market_name[256];
    uint32_t vendor_id;
    char vendor_name[256];
    uint32_t subvendor_id;
    uint64_t device_id;
    uint32_t rev_id;
    char asic_serial[256];
    uint32_t oam_id;
    uint32_t num_of_compute_units; /* 0xFFFFFFFF when unknown */
    uint64_t target_graphics_version;
    uint32_t reserved[22];
} amdsmi_asic_info_v64_t;

/* amdsmi_power_info_t of ROCm 7.x (6.x: no socket_power the plugin can use) */
typedef struct {
    uint64_t socket_power; /* W; UINT32_MAX when not supported */
    uint32_t current_socket_power;
    uint32_t average_socket_power;
    uint64_t gfx_voltage;
    uint64_t soc_voltage;
    uint64_t mem_voltage;
    uint32_t power_limit;
    uint64_t reserved[18];
} amdsmi_power_info_v70_t;

/* The largest layouts: what the plugin hands to the library. */
#define AMDSMI_PROC_INFO_MAX_SIZE sizeof(amdsmi_proc_info_v64_t)
#define AMDSMI_ASIC_INFO_MAX_SIZE sizeof(amdsmi_asic_info_v64_t)
#define AMDSMI_POWER_INFO_MAX_SIZE sizeof(amdsmi_power_info_v70_t)

#ifdef __x86_64__
_Static_assert(sizeof(amdsmi_proc_info_v63_t) == 224, "ROCm 6.3 amdsmi_proc_info_t");
_Static_assert(sizeof(amdsmi_proc_info_v64_t) == 704, "ROCm 6.4 amdsmi_proc_info_t");
_Static_assert(sizeof(amdsmi_asic_info_v63_t) == 456, "ROCm 6.3 amdsmi_asic_info_t");
_Static_assert(sizeof(amdsmi_asic_info_v64_t) == 896, "ROCm 6.4 amdsmi_asic_info_t");
_Static_assert(sizeof(amdsmi_power_info_v70_t) == 192, "ROCm 7.0 amdsmi_power_info_t");
_Static_assert(sizeof(amdsmi_engine_usage_t) == 64, "amdsmi_engine_usage_t");
_Static_assert(sizeof(amdsmi_version_t) == 24, "amdsmi_version_t");
#endif

/* The entry points (amdsmi.h). */
typedef amdsmi_status_t (*amdsmi_init_fn)(uint64_t flags);
typedef amdsmi_status_t (*amdsmi_shut_down_fn)(void);
typedef amdsmi_status_t (*amdsmi_status_code_to_string_fn)(amdsmi_status_t status,
                                                           const char **text);
typedef amdsmi_status_t (*amdsmi_get_lib_version_fn)(amdsmi_version_t *version);
typedef amdsmi_status_t (*amdsmi_get_socket_handles_fn)(uint32_t *count,
                                                        amdsmi_socket_handle *sockets);
typedef amdsmi_status_t (*amdsmi_get_processor_handles_fn)(amdsmi_socket_handle socket,
                                                           uint32_t *count,
                                                           amdsmi_processor_handle *processors);
typedef amdsmi_status_t (*amdsmi_get_gpu_device_uuid_fn)(amdsmi_processor_handle h,
                                                         unsigned int *length, char *uuid);
typedef amdsmi_status_t (*amdsmi_get_gpu_activity_fn)(amdsmi_processor_handle h,
                                                      amdsmi_engine_usage_t *info);
/* info: an amdsmi_asic_info_v63_t or _v64_t, per family */
typedef amdsmi_status_t (*amdsmi_get_gpu_asic_info_fn)(amdsmi_processor_handle h, void *info);
/* list: amdsmi_proc_info_v63_t or _v64_t entries; *max_processes in: room,
 * out: entries written, or needed with AMDSMI_STATUS_OUT_OF_RESOURCES */
typedef amdsmi_status_t (*amdsmi_get_gpu_process_list_fn)(amdsmi_processor_handle h,
                                                          uint32_t *max_processes, void *list);
/* energy = accumulator × resolution µJ; timestamp in ns */
typedef amdsmi_status_t (*amdsmi_get_energy_count_fn)(amdsmi_processor_handle h,
                                                      uint64_t *accumulator, float *resolution,
                                                      uint64_t *timestamp);
typedef amdsmi_status_t (*amdsmi_is_gpu_power_management_enabled_fn)(amdsmi_processor_handle h,
                                                                     bool *enabled);
/* info: an amdsmi_power_info_t of the library's family */
typedef amdsmi_status_t (*amdsmi_get_power_info_fn)(amdsmi_processor_handle h, void *info);
typedef amdsmi_status_t (*amdsmi_get_gpu_volt_metric_fn)(amdsmi_processor_handle h, uint32_t sensor,
                                                         uint32_t metric, int64_t *millivolts);
typedef amdsmi_status_t (*amdsmi_get_gpu_memory_usage_fn)(amdsmi_processor_handle h, uint32_t type,
                                                          uint64_t *used);
typedef amdsmi_status_t (*amdsmi_get_temp_metric_fn)(amdsmi_processor_handle h, uint32_t sensor,
                                                     uint32_t metric, int64_t *celsius);

#endif
