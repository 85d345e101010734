/* SPDX-License-Identifier: MIT */
/* energy-to-carbon: the plugin state, the intensity sources and the
 * transform, shared with the tests. Never installed, never included by
 * another plugin. */
#ifndef ENERGY_TO_CARBON_H
#define ENERGY_TO_CARBON_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/metric.h"
#include "alumet/time.h"
#include "alumet/transform.h"

#define ENERGY_TO_CARBON_METRIC "carbon_emission"
#define ENERGY_TO_CARBON_WORLD_AVG 475.0

struct energy_to_carbon_country {
    const char code[4]; /* ISO 3166-1 alpha-3, upper case */
    double intensity;   /* gCO2eq/kWh */
};

/* The country of code (upper case), NULL when unknown. */
const struct energy_to_carbon_country *energy_to_carbon_country_find(const char *code);
size_t energy_to_carbon_country_count(void);

/* One row of an intensity file: in force from `from` to the next row. */
struct energy_to_carbon_row {
    alumet_time_ns from;
    double intensity;
};

/* Read an intensity file (CSV "timestamp,gCO2eq/kWh", timestamps in RFC 3339
 * or UNIX seconds, strictly increasing; an optional header line, '#'
 * comments). *ret_rows: caller frees with free(). 0 or a negative errno with
 * err naming the file and the line. */
int energy_to_carbon_file_read(const char *path, struct energy_to_carbon_row **ret_rows,
                               size_t *ret_n, struct alumet_error *err);

/* The index of the row in force at t (the last one with from <= t), -1 when
 * t is before the first row. */
long energy_to_carbon_file_find(const struct energy_to_carbon_row *rows, size_t n,
                                alumet_time_ns t);

struct energy_to_carbon_transform {
    alumet_metric_id out;
    double intensity;                  /* constant intensity (no file) */
    char source[1024];                 /* "world_avg", "country FRA", "override", "file PATH" */
    struct energy_to_carbon_row *rows; /* intensity file, NULL without */
    size_t n_rows;
    alumet_time_ns stale_after; /* after the last row + its spacing: warned once */
    bool warned_before, warned_after;
    unsigned long long before_first; /* points before the first row: not converted */
    struct alumet_log_topic *log;
};

/* The plugin state. */
struct energy_to_carbon {
    struct energy_to_carbon_transform *t;       /* the settings; each start runs a copy */
    struct energy_to_carbon_transform *running; /* owned by the core while it runs */
};

/* The ops of the transform (data: struct energy_to_carbon_transform). */
extern const struct alumet_transform_ops energy_to_carbon_transform_ops;

#endif
