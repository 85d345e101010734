/* SPDX-License-Identifier: MIT */
/* mongodb plugin, private: one BSON document per point, in the layout of
 * upstream Alumet's mongodb plugin 0.1.0 (mongodb-doc.c). */
#ifndef ALUMET_MONGODB_H
#define ALUMET_MONGODB_H

#include <bson/bson.h>

#include "alumet/measurement.h"
#include "alumet/metric.h"

/* Append to doc (initialised, empty) the fields of point p of buf, in
 * upstream's order: measurement, resource_kind, resource_id,
 * resource_consumer_kind, resource_consumer_id, the attributes (a key equal
 * to one of these or to "value" gets "_field" appended), value, timestamp
 * (decimal nanoseconds). U64 numbers are strings "<n>u", as upstream writes
 * them. Returns 0, or -ENOMEM (libbson refused a field: a document over
 * its size limit) or -EINVAL (a metric not in reg). */
int mongodb_doc_build(bson_t *doc, const struct alumet_buffer *buf, const struct alumet_point *p,
                      const struct alumet_registry *reg);

#endif
