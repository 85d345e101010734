/* SPDX-License-Identifier: MIT */
/* Prometheus names, as prometheus-exporter and prometheus-remote-write both
 * build them (plugins/prometheus-exporter/README.md, "Names" and "Labels"):
 * sanitized metric and label names, the unit word of a metric, the labels
 * that Alumet always sets, and which metrics are deltas. No logging. */
#ifndef ALUMET_UTIL_PROM_NAMES_H
#define ALUMET_UTIL_PROM_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/metric.h"

/* The labels of a point's resource and consumer, in this order. */
extern const char *const prom_fixed_labels[4];

/* An attribute whose sanitized key is one of those labels gets this prefix. */
#define PROM_ATTR_RENAME "alumet_attribute__"

/* Write s (len bytes) as a Prometheus name: the first character kept if it is
 * an ASCII letter, the others if ASCII alphanumeric, every other character
 * (one UTF-8 sequence counts as one) replaced by '_'. out holds len + 1
 * bytes; NUL-terminated. Returns the length written. */
size_t prom_sanitize(const char *s, size_t len, char *out);

/* prom_sanitize into a new string; caller frees. NULL on -ENOMEM. */
char *prom_sanitized_dup(const char *s, size_t len);

/* The label name of an attribute key: sanitized, "_" when that is empty, and
 * PROM_ATTR_RENAME before it when it would be one of prom_fixed_labels or
 * __name__ (never two labels of the same name: Prometheus rejects them).
 * out holds strlen(key) + sizeof(PROM_ATTR_RENAME) + 1 bytes;
 * NUL-terminated. Returns the length written. */
size_t prom_attr_label_name(const char *key, size_t len, char *out);

/* Whether name is a valid label name that Prometheus does not reserve
 * ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"). */
bool prom_label_name_valid(const char *name);

/* The unit word of a metric, sanitized ("milliseconds", "g_CO2", ""); caller
 * frees. NULL on -ENOMEM. */
char *prom_unit_word(const struct alumet_unit *u);

/* Whether a metric of unit u is an energy, whose values are deltas: joules
 * and watt-hours, any prefix. */
bool prom_unit_is_energy(const struct alumet_unit *u);

/* Whether the values of m are per-interval deltas: an energy, or one of the
 * n names in counters (the plugins' counter_metrics option). */
bool prom_metric_is_delta(const struct alumet_metric *m, char *const *counters, size_t n);

#endif
