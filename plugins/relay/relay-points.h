/* SPDX-License-Identifier: MIT */
/* Points received by relay-server rebuilt from their wire form: resource
 * and consumer parsed back from (kind, id) as upstream does (agent-and-core
 * §1.2: `local_machine` needs an empty id; `cpu_package`, `cpu_core`, `dram`
 * and `process` a u32; `gpu` and `cgroup` keep the id; any other kind is a
 * custom one), and attributes. Strings are copied into buf. No logging. */
#ifndef ALUMET_RELAY_POINTS_H
#define ALUMET_RELAY_POINTS_H

#include "alumet/measurement.h"
#include "relay-proto.h"

/* 0, -EINVAL (an id that does not fit the kind) or -ENOMEM. */
int relay_points_resource(struct alumet_buffer *buf, struct relay_str kind, struct relay_str id,
                          struct alumet_resource *ret);
int relay_points_consumer(struct alumet_buffer *buf, struct relay_str kind, struct relay_str id,
                          struct alumet_consumer *ret);
/* Add the attribute key = v to point p of buf (a ListU64 is read from
 * v->list). 0 or -ENOMEM. */
int relay_points_add_attr(struct alumet_buffer *buf, struct alumet_point *p, struct relay_str key,
                          struct relay_value *v);

#endif
