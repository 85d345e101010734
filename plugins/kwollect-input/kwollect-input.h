/* SPDX-License-Identifier: MIT */
/* kwollect-input plugin, private: the unit of a Kwollect metric name and
 * the reading of the API's answer (kwollect-input-parse.c). */
#ifndef ALUMET_KWOLLECT_INPUT_H
#define ALUMET_KWOLLECT_INPUT_H

#include <stddef.h>

#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/time.h"
#include "alumet/units.h"

/* The unit of a Kwollect metric, from its name: the last '_' segment, or,
 * for a name of 3 segments or more ending with "total", the segment before
 * (before "discard_total"/"error_total" when so), normalised (watt → W,
 * celsius → Cel, bytes → By, ...), then read as a prefixed unit ("kW"), a
 * base unit, or else a custom unit of that name. buf (size bytes) holds the
 * custom name, which the returned unit borrows. */
struct alumet_unit kwi_unit_of(const char *metric, char *buf, size_t size);

/* "2025-07-21T16:15:31.5+02:00" (0 to 9 fraction digits, an offset ±HH:MM
 * or Z) in nanoseconds since the epoch. 0 or -EINVAL. */
int kwi_parse_time(const char *text, alumet_time_ns *ret);

/* The configured metrics, for the answer. */
struct kwi_metrics {
    const char *const *names; /* n names */
    const alumet_metric_id *ids;
    size_t n;
};

/* Push a point to buf for each measure of the API's answer (text, len
 * bytes: a JSON array of {device_id, metric_id, timestamp, value, labels})
 * whose metric_id is configured; *ret_skipped counts the others. Resource
 * custom{device_id, <device_id>}, consumer custom{device_origin,
 * <labels._device_orig>} when that label is a string, else the local
 * machine; attribute metric_id. 0 or -EINVAL / -ENOMEM with err. */
int kwi_parse_answer(const char *text, size_t len, const struct kwi_metrics *m,
                     struct alumet_buffer *buf, size_t *ret_skipped, struct alumet_error *err);

#endif
