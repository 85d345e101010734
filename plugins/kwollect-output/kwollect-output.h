/* SPDX-License-Identifier: MIT */
/* kwollect-output plugin, private: the JSON body of a push to the Kwollect
 * API of Grid'5000, as upstream Alumet's kwollect-output 0.1.0 writes it. */
#ifndef ALUMET_KWOLLECT_OUTPUT_H
#define ALUMET_KWOLLECT_OUTPUT_H

#include <stdbool.h>

#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "util/json.h"

struct kwo_format {
    const char *device_id;           /* borrowed: the hostname option, "" when absent */
    bool append_unit_to_metric_name; /* metric_id = <name>_<unit> */
    bool use_unit_display_name;      /* the unit's display name, else its unique name */
};

/* Replace t with the JSON array of the points of buf, one element each:
 *   {"timestamp":1750930866.123,"metric_id":"rapl_consumed_energy_J",
 *    "device_id":"taurus-7","value":12.5,"labels":{"ressource_kind":"…",
 *    "ressource_id":"…","consumer_kind":"…","consumer_id":"…",<attributes>}}
 * An attribute with the key of a fixed label replaces its value. 0, -ENOMEM
 * or -EINVAL (a metric not in reg). */
int kwo_format_buffer(struct text *t, const struct kwo_format *f, const struct alumet_buffer *buf,
                      const struct alumet_registry *reg);

#endif
