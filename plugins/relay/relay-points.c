/* SPDX-License-Identifier: MIT */
/* Points received by relay-server rebuilt from their wire form: see
 * relay-points.h. */
#include "relay-points.h"

#include <errno.h>
#include <stdint.h>

static bool relay_parse_u32(struct relay_str id, uint32_t *ret)
{
    if (id.len == 0 || id.len > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < id.len; i++) {
        if (id.s[i] < '0' || id.s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(id.s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *ret = (uint32_t)v;
    return true;
}

int relay_points_resource(struct alumet_buffer *buf, struct relay_str kind, struct relay_str id,
                          struct alumet_resource *ret)
{
    *ret = (struct alumet_resource){ALUMET_RESOURCE_LOCAL_MACHINE, 0, NULL, NULL};
    if (relay_str_eq(kind, "local_machine"))
        return id.len == 0 ? 0 : -EINVAL;
    static const struct {
        const char *name;
        enum alumet_resource_kind kind;
    } numbered[] = {{"cpu_package", ALUMET_RESOURCE_CPU_PACKAGE},
                    {"cpu_core", ALUMET_RESOURCE_CPU_CORE},
                    {"dram", ALUMET_RESOURCE_DRAM}};
    for (size_t i = 0; i < 3; i++)
        if (relay_str_eq(kind, numbered[i].name)) {
            ret->kind = numbered[i].kind;
            return relay_parse_u32(id, &ret->num) ? 0 : -EINVAL;
        }
    ret->str = alumet_buffer_strdup(buf, id.s, id.len);
    if (relay_str_eq(kind, "gpu")) {
        ret->kind = ALUMET_RESOURCE_GPU;
    } else {
        ret->kind = ALUMET_RESOURCE_CUSTOM;
        ret->custom_kind = alumet_buffer_strdup(buf, kind.s, kind.len);
        if (!ret->custom_kind)
            return -ENOMEM;
    }
    return ret->str ? 0 : -ENOMEM;
}

int relay_points_consumer(struct alumet_buffer *buf, struct relay_str kind, struct relay_str id,
                          struct alumet_consumer *ret)
{
    *ret = (struct alumet_consumer){ALUMET_CONSUMER_LOCAL_MACHINE, 0, NULL, NULL};
    if (relay_str_eq(kind, "local_machine"))
        return id.len == 0 ? 0 : -EINVAL;
    if (relay_str_eq(kind, "process")) {
        ret->kind = ALUMET_CONSUMER_PROCESS;
        return relay_parse_u32(id, &ret->num) ? 0 : -EINVAL;
    }
    ret->str = alumet_buffer_strdup(buf, id.s, id.len);
    if (relay_str_eq(kind, "cgroup")) {
        ret->kind = ALUMET_CONSUMER_CGROUP;
    } else {
        ret->kind = ALUMET_CONSUMER_CUSTOM;
        ret->custom_kind = alumet_buffer_strdup(buf, kind.s, kind.len);
        if (!ret->custom_kind)
            return -ENOMEM;
    }
    return ret->str ? 0 : -ENOMEM;
}

int relay_points_add_attr(struct alumet_buffer *buf, struct alumet_point *p, struct relay_str key,
                          struct relay_value *v)
{
    struct alumet_attr a = {alumet_buffer_strdup(buf, key.s, key.len), ALUMET_ATTR_U64, {0}};
    if (!a.key)
        return -ENOMEM;
    switch (v->tag) {
    case RELAY_VALUE_F64:
        a.type = ALUMET_ATTR_F64;
        a.v.f64 = v->f64;
        break;
    case RELAY_VALUE_U64:
        a.v.u64 = v->u64;
        break;
    case RELAY_VALUE_BOOL:
        a.type = ALUMET_ATTR_BOOL;
        a.v.b = v->b;
        break;
    case RELAY_VALUE_STR:
        a.type = ALUMET_ATTR_STR;
        if (!(a.v.str = alumet_buffer_strdup(buf, v->str.s, v->str.len)))
            return -ENOMEM;
        break;
    default: {
        a.type = ALUMET_ATTR_LIST_U64;
        uint64_t *items = alumet_buffer_alloc(buf, (v->list_len ? v->list_len : 1) * 8);
        if (!items)
            return -ENOMEM;
        for (size_t i = 0; i < v->list_len; i++)
            pc_get_varint(&v->list, &items[i]);
        a.v.list.items = items;
        a.v.list.len = v->list_len;
    }
    }
    return alumet_point_add_attr(buf, p, &a);
}
