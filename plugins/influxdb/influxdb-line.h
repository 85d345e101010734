/* SPDX-License-Identifier: MIT */
/* InfluxDB line protocol, as upstream Alumet's influxdb plugin 0.1.0 writes
 * it (README.md, "Line protocol"), one line per point:
 *
 *   <measurement>[,<tag>=<value>...] <field>=<value>[,<field>=<value>...] <ns>
 *   energy,resource_kind=cpu_package,resource_id=0 domain="package",value=123u 17556045204
 *
 * No allocation per point: the text goes into a growable buffer that the
 * output reuses from one write to the next. */
#ifndef ALUMET_INFLUXDB_LINE_H
#define ALUMET_INFLUXDB_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "util/text.h"

/* How attributes and unsigned integers are written. The lists are borrowed. */
struct influxdb_line_opts {
    bool attributes_as_tags;    /* default placement: true = tag, false = field */
    const char *const *as_tags; /* attributes that are always tags */
    size_t n_as_tags;
    const char *const *as_fields; /* attributes that are always fields */
    size_t n_as_fields;
    /* InfluxDB 1.x has no unsigned integers (the `u` suffix is refused):
     * write U64 values as signed integers (`i`), and as floats when they do
     * not fit in an int64. */
    bool v1_integers;
};

/* Whether an attribute named key goes to the tags (true) or the fields. */
bool influxdb_line_is_tag(const struct influxdb_line_opts *o, const char *key);

/* The overwrite check. InfluxDB keeps one point per series (measurement and
 * tags) and timestamp: two points of a buffer that differ only by
 * attributes written as fields overwrite each other. The builder detects
 * them (same series text and timestamp twice in one buffer, a field
 * attribute differing) and calls report once per metric, naming the first
 * attribute found. Kept from one write to the next (the table is reused);
 * zero it, set report and ctx, release it with influxdb_line_check_done. */
struct influxdb_line_slot;
struct influxdb_line_check {
    void (*report)(void *ctx, const char *metric, const char *attribute);
    void *ctx;
    /* private */
    struct influxdb_line_slot *slots; /* open addressing, cap a power of 2 */
    size_t cap;
    alumet_metric_id *reported; /* metrics already reported */
    size_t n_reported;
    size_t cap_reported;
};

void influxdb_line_check_done(struct influxdb_line_check *c);

/* Append the lines of every point of buf to out: lines are separated by
 * '\n', with no newline after the last one (out may already hold lines of
 * an earlier buffer: a '\n' is added first then). A point whose value is
 * not a finite number cannot be written (InfluxDB refuses NaN and
 * infinities): it is skipped and counted in *ret_skipped; attribute fields
 * that are not finite are left out of their line.
 * *ret_lines receives the number of lines appended.
 * check (may be NULL: no check) looks for points that would overwrite each
 * other; it costs nothing when every attribute is a tag.
 * Returns 0, -ENOMEM, or -EINVAL with err when a point names a metric that
 * is not in reg. */
int influxdb_line_write_buffer(struct text *out, const struct influxdb_line_opts *o,
                               const struct alumet_buffer *buf, const struct alumet_registry *reg,
                               struct influxdb_line_check *check, size_t *ret_lines,
                               size_t *ret_skipped, struct alumet_error *err);

#endif
