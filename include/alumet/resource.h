/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_RESOURCE_H
#define ALUMET_RESOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

#define ALUMET_RESOURCE_KINDS(X)                                                                   \
    X(LOCAL_MACHINE, "local_machine")                                                              \
    X(CPU_PACKAGE, "cpu_package")                                                                  \
    X(CPU_CORE, "cpu_core")                                                                        \
    X(DRAM, "dram")                                                                                \
    X(GPU, "gpu")                                                                                  \
    X(GPU_PARTITION, "gpu_partition")                                                              \
    X(CUSTOM, NULL)

enum alumet_resource_kind {
#define ALUMET_X_ENUM(id, name) ALUMET_RESOURCE_##id,
    ALUMET_RESOURCE_KINDS(ALUMET_X_ENUM)
#undef ALUMET_X_ENUM
        _ALUMET_RESOURCE_MAX,
    _ALUMET_RESOURCE_INVALID = -22
};

#define ALUMET_CONSUMER_KINDS(X)                                                                   \
    X(LOCAL_MACHINE, "local_machine")                                                              \
    X(PROCESS, "process")                                                                          \
    X(CGROUP, "cgroup")                                                                            \
    X(CUSTOM, NULL)

enum alumet_consumer_kind {
#define ALUMET_X_ENUM(id, name) ALUMET_CONSUMER_##id,
    ALUMET_CONSUMER_KINDS(ALUMET_X_ENUM)
#undef ALUMET_X_ENUM
        _ALUMET_CONSUMER_MAX,
    _ALUMET_CONSUMER_INVALID = -22
};

/* What is measured.
 * - cpu_package, cpu_core, dram: `num` is the id (package id for dram);
 * - gpu: `str` is the bus id;
 * - gpu_partition: `str` is the parent id, `num` the partition id;
 * - custom: `custom_kind` and `str` are the kind and the id.
 * Strings are borrowed: static, or allocated in the buffer that holds the point. */
struct alumet_resource {
    enum alumet_resource_kind kind;
    uint32_t num;
    const char *str;
    const char *custom_kind;
};

/* Who uses the resource.
 * - process: `num` is the pid; cgroup: `str` is the path;
 * - custom: `custom_kind` and `str`. */
struct alumet_consumer {
    enum alumet_consumer_kind kind;
    uint32_t num;
    const char *str;
    const char *custom_kind;
};

#define ALUMET_RESOURCE_LOCAL_MACHINE_INIT                                                         \
    {                                                                                              \
        ALUMET_RESOURCE_LOCAL_MACHINE, 0, NULL, NULL                                               \
    }
#define ALUMET_CONSUMER_LOCAL_MACHINE_INIT                                                         \
    {                                                                                              \
        ALUMET_CONSUMER_LOCAL_MACHINE, 0, NULL, NULL                                               \
    }

/* Kind string ("cpu_package", or the custom kind). Never NULL. */
ALUMET_API const char *alumet_resource_kind_name(const struct alumet_resource *r);
ALUMET_API const char *alumet_consumer_kind_name(const struct alumet_consumer *c);

/* Write the id text (empty for local_machine) into buf, NUL-terminated.
 * Returns the length the full text needs (like snprintf). */
ALUMET_API size_t alumet_resource_id_text(const struct alumet_resource *r, char *buf, size_t size);
ALUMET_API size_t alumet_consumer_id_text(const struct alumet_consumer *c, char *buf, size_t size);

#endif
