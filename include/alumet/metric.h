/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_METRIC_H
#define ALUMET_METRIC_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "units.h"

enum alumet_value_type {
    ALUMET_VALUE_F64,
    ALUMET_VALUE_U64,
    _ALUMET_VALUE_TYPE_MAX,
    _ALUMET_VALUE_TYPE_INVALID = -22
};

/* "F64" or "U64". */
ALUMET_API const char *alumet_value_type_name(enum alumet_value_type t);

/* Dense metric id, assigned in registration order from 0. */
typedef uint32_t alumet_metric_id;

#define ALUMET_METRIC_ID_INVALID UINT32_MAX

/* A registered metric. Owned by the registry, immutable once registered and
 * valid until the agent is freed. The unit's custom names point into the registry. */
struct alumet_metric {
    alumet_metric_id id;
    const char *name;
    const char *description;
    enum alumet_value_type value_type;
    struct alumet_unit unit;
    const char *unit_unique;  /* precomputed prefixed unique name */
    const char *unit_display; /* precomputed prefixed display name */
};

/* The metric registry. Readers never block: metrics can be added while
 * running (late registration) and are published atomically. */
struct alumet_registry;

/* Borrowed metric by id, NULL if out of range. Thread-safe, lock-free. */
ALUMET_API const struct alumet_metric *alumet_registry_get(const struct alumet_registry *reg,
                                                           alumet_metric_id id);

/* Borrowed metric by name, NULL when absent. Thread-safe. */
ALUMET_API const struct alumet_metric *alumet_registry_find(const struct alumet_registry *reg,
                                                            const char *name);

/* Number of registered metrics. Thread-safe. */
ALUMET_API size_t alumet_registry_count(const struct alumet_registry *reg);

#endif
