/* SPDX-License-Identifier: MIT */
/* filter: the rules and the plugin state, shared with the tests. Never
 * installed, never included by another plugin. */
#ifndef FILTER_H
#define FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/log.h"
#include "alumet/metric.h"
#include "alumet/transform.h"

/* One rule: a point matches when every field that is set matches (NULL:
 * any). Attribute values are compared as text (alumet_attr_text). */
struct filter_rule {
    char *metric;
    alumet_metric_id metric_id; /* resolved before the pipeline starts */
    char *resource_kind, *resource_id, *consumer_kind, *consumer_id;
    size_t n_attrs;
    char **attr_keys, **attr_values;
};

struct filter_list {
    struct filter_rule *rules;
    size_t n;
};

struct filter {
    struct filter_list include, exclude; /* include.n == 0: every point is included */
    struct alumet_log_topic *log;
};

/* The transform "transform" (data: the struct filter, owned by the plugin). */
extern const struct alumet_transform_ops filter_transform_ops;

/* Whether the point p of buf matches the rule (metric ids resolved). */
bool filter_rule_match(const struct filter_rule *rule, const struct alumet_buffer *buf,
                       const struct alumet_point *p);

#endif
