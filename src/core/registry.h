/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_CORE_REGISTRY_H
#define ALUMET_CORE_REGISTRY_H

#include "alumet/error.h"
#include "alumet/metric.h"

/* New empty registry; caller frees with alumet__registry_free. NULL on -ENOMEM. */
struct alumet_registry *alumet__registry_new(void);
void alumet__registry_free(struct alumet_registry *reg);

/* Register a metric (name, description and custom unit names are copied).
 * Same name with same unit and type: returns the existing id. Same name with
 * another unit or type: -EEXIST, "this metric has already been registered: NAME".
 * Thread-safe: readers see the new metric only once it is complete. */
int alumet__registry_add(struct alumet_registry *reg, const char *name, enum alumet_value_type type,
                         struct alumet_unit unit, const char *desc, alumet_metric_id *ret_id,
                         struct alumet_error *err);

#endif
