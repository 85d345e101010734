/* SPDX-License-Identifier: MIT */
/* The part of NVML's C API that the nvml plugin uses, written from NVIDIA's
 * documentation (no NVML header is needed to build). Every layout and
 * constant below must match the library's ABI exactly: the plugin loads
 * libnvidia-ml.so.1 with dlopen and calls it through these prototypes, and
 * the test stub (tests/fixtures/nvml-stub/) implements them.
 *
 * Versioned entry points: the library exports nvmlInit_v2,
 * nvmlDeviceGetCount_v2, nvmlDeviceGetHandleByIndex_v2,
 * nvmlDeviceGetPciInfo_v3, nvmlDeviceGetMemoryInfo_v2 and
 * nvmlDeviceGet{Compute,Graphics}RunningProcesses_v3 (and _v2). The _v2 and
 * _v3 process lists both fill nvmlProcessInfo_v2_t (24 bytes on LP64): the
 * nvml.h of CUDA 12.2 briefly added usedGpuCcProtectedMemory to
 * nvmlProcessInfo_t, which the drivers never wrote and later headers removed
 * (that field lives in nvmlProcessDetail_v1_t, of another call). The plugin
 * still hands the library room for the longer layout (NVML_PROCESS_SLACK). */
#ifndef ALUMET_PLUGIN_NVML_API_H
#define ALUMET_PLUGIN_NVML_API_H

typedef int nvmlReturn_t; /* an enum in nvml.h: int-sized */

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_ALREADY_INITIALIZED 5
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_INSUFFICIENT_POWER 8
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_TIMEOUT 10
#define NVML_ERROR_IRQ_ISSUE 11
#define NVML_ERROR_LIBRARY_NOT_FOUND 12
#define NVML_ERROR_FUNCTION_NOT_FOUND 13
#define NVML_ERROR_CORRUPTED_INFOROM 14
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_RESET_REQUIRED 16
#define NVML_ERROR_OPERATING_SYSTEM 17
#define NVML_ERROR_LIB_RM_VERSION_MISMATCH 18
#define NVML_ERROR_IN_USE 19
#define NVML_ERROR_MEMORY 20
#define NVML_ERROR_NO_DATA 21
#define NVML_ERROR_UNKNOWN 999

typedef struct nvmlDevice_st *nvmlDevice_t; /* opaque handle */

/* nvmlTemperatureSensors_t */
#define NVML_TEMPERATURE_GPU 0

/* nvmlClockType_t */
#define NVML_CLOCK_GRAPHICS 0
#define NVML_CLOCK_SM 1
#define NVML_CLOCK_MEM 2
#define NVML_CLOCK_VIDEO 3

#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16

/* usedGpuMemory when the driver cannot tell (Windows WDDM, some vGPUs) */
#define NVML_VALUE_NOT_AVAILABLE (~0ULL)
/* gpuInstanceId / computeInstanceId outside MIG */
#define NVML_INSTANCE_NONE 0xFFFFFFFFu

typedef struct nvmlPciInfo_st {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE]; /* "00000000:01:00.0" */
} nvmlPciInfo_t;

typedef struct nvmlUtilization_st {
    unsigned int gpu;    /* % of time a kernel ran, over the last sample period */
    unsigned int memory; /* % of time device memory was read or written */
} nvmlUtilization_t;

/* nvmlDeviceGetMemoryInfo_v2: `version` must be nvmlMemory_v2. */
typedef struct nvmlMemory_v2_st {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

/* NVML_STRUCT_VERSION(Memory, 2): the size in the low bits, the version in
 * the high byte. */
#define NVML_STRUCT_VERSION(size, ver) ((unsigned int)(size) | ((unsigned int)(ver) << 24U))
#define nvmlMemory_v2 NVML_STRUCT_VERSION(sizeof(nvmlMemory_v2_t), 2)

typedef struct nvmlProcessInfo_v2_st {
    unsigned int pid;
    unsigned long long usedGpuMemory; /* bytes, or NVML_VALUE_NOT_AVAILABLE */
    unsigned int gpuInstanceId;       /* MIG GPU instance, or NVML_INSTANCE_NONE */
    unsigned int computeInstanceId;   /* MIG compute instance, or NVML_INSTANCE_NONE */
} nvmlProcessInfo_v2_t;

/* Bytes given to the library per process entry: the longer layout of the
 * CUDA 12.2 header, so a library built against it cannot write past the end. */
#define NVML_PROCESS_SLACK 32

typedef struct nvmlProcessUtilizationSample_st {
    unsigned int pid;
    unsigned long long timeStamp; /* CPU time of the sample, µs since the epoch */
    unsigned int smUtil;          /* % */
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

/* ---- prototypes (as function pointer types) ---- */

typedef nvmlReturn_t (*nvmlInit_v2_fn)(void);
typedef nvmlReturn_t (*nvmlShutdown_fn)(void);
typedef const char *(*nvmlErrorString_fn)(nvmlReturn_t result);
typedef nvmlReturn_t (*nvmlDeviceGetCount_v2_fn)(unsigned int *count);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByIndex_v2_fn)(unsigned int index, nvmlDevice_t *device);
typedef nvmlReturn_t (*nvmlDeviceGetName_fn)(nvmlDevice_t device, char *name, unsigned int length);
typedef nvmlReturn_t (*nvmlDeviceGetPciInfo_v3_fn)(nvmlDevice_t device, nvmlPciInfo_t *pci);
/* mJ since the driver was (re)loaded */
typedef nvmlReturn_t (*nvmlDeviceGetTotalEnergyConsumption_fn)(nvmlDevice_t device,
                                                               unsigned long long *energy);
/* mW */
typedef nvmlReturn_t (*nvmlDeviceGetPowerUsage_fn)(nvmlDevice_t device, unsigned int *power);
typedef nvmlReturn_t (*nvmlDeviceGetTemperature_fn)(nvmlDevice_t device, int sensor,
                                                    unsigned int *temp);
typedef nvmlReturn_t (*nvmlDeviceGetUtilizationRates_fn)(nvmlDevice_t device,
                                                         nvmlUtilization_t *utilization);
typedef nvmlReturn_t (*nvmlDeviceGetMemoryInfo_v2_fn)(nvmlDevice_t device, nvmlMemory_v2_t *memory);
typedef nvmlReturn_t (*nvmlDeviceGetCodecUtilization_fn)(nvmlDevice_t device,
                                                         unsigned int *utilization,
                                                         unsigned int *sampling_period_us);
typedef nvmlReturn_t (*nvmlDeviceGetRunningProcesses_fn)(nvmlDevice_t device,
                                                         unsigned int *info_count,
                                                         nvmlProcessInfo_v2_t *infos);
typedef nvmlReturn_t (*nvmlDeviceGetProcessUtilization_fn)(nvmlDevice_t device,
                                                           nvmlProcessUtilizationSample_t *samples,
                                                           unsigned int *count,
                                                           unsigned long long last_seen_us);
typedef nvmlReturn_t (*nvmlDeviceGetClockInfo_fn)(nvmlDevice_t device, int type,
                                                  unsigned int *clock_mhz);

#endif
