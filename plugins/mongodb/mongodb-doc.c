/* SPDX-License-Identifier: MIT */
/* The document of a point, as upstream's mongodb plugin writes it:
 *
 *   { "measurement": "rapl_consumed_energy", "resource_kind": "cpu_package",
 *     "resource_id": "0", "resource_consumer_kind": "local_machine",
 *     "resource_consumer_id": "", "domain": "package", "value": 12.5,
 *     "timestamp": "1755604520429334196" }
 *
 * The server adds _id. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mongodb.h"
#include "util/format.h"

static const char *const mongodb_reserved[] = {
    "measurement",          "resource_kind", "resource_id", "resource_consumer_kind",
    "resource_consumer_id", "value",
};

/* "<n>u": upstream's text of an unsigned integer. */
static size_t mongodb_u64_text(uint64_t v, char buf[FORMAT_U64_MAX + 1])
{
    size_t n = format_u64(v, buf);
    buf[n++] = 'u';
    buf[n] = '\0';
    return n;
}

static bool mongodb_append_attr(bson_t *doc, const struct alumet_attr *a)
{
    char key[256];
    char num[FORMAT_U64_MAX + 1];
    const char *k = a->key;

    for (size_t i = 0; i < sizeof(mongodb_reserved) / sizeof(mongodb_reserved[0]); i++) {
        if (strcmp(k, mongodb_reserved[i]) == 0) {
            snprintf(key, sizeof(key), "%s_field", k);
            k = key;
            break;
        }
    }
    switch (a->type) {
    case ALUMET_ATTR_F64:
        return bson_append_double(doc, k, -1, a->v.f64);
    case ALUMET_ATTR_U64: {
        size_t n = mongodb_u64_text(a->v.u64, num);
        return bson_append_utf8(doc, k, -1, num, (int)n);
    }
    case ALUMET_ATTR_BOOL:
        return bson_append_bool(doc, k, -1, a->v.b);
    case ALUMET_ATTR_STR:
        return bson_append_utf8(doc, k, -1, a->v.str, -1);
    case ALUMET_ATTR_LIST_U64: {
        bson_t arr;
        char idx[16];
        const char *ik;
        bool ok = bson_append_array_begin(doc, k, -1, &arr);
        for (size_t i = 0; ok && i < a->v.list.len; i++) {
            size_t n = mongodb_u64_text(a->v.list.items[i], num);
            bson_uint32_to_string((uint32_t)i, &ik, idx, sizeof(idx));
            ok = bson_append_utf8(&arr, ik, -1, num, (int)n);
        }
        return bson_append_array_end(doc, &arr) && ok;
    }
    }
    return false;
}

int mongodb_doc_build(bson_t *doc, const struct alumet_buffer *buf, const struct alumet_point *p,
                      const struct alumet_registry *reg)
{
    const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
    char rid[256], cid[4096], num[FORMAT_U64_MAX + 1];
    bool ok;

    if (!m)
        return -EINVAL;
    alumet_resource_id_text(&p->resource, rid, sizeof(rid));
    alumet_consumer_id_text(&p->consumer, cid, sizeof(cid));
    ok = bson_append_utf8(doc, "measurement", -1, m->name, -1) &&
         bson_append_utf8(doc, "resource_kind", -1, alumet_resource_kind_name(&p->resource), -1) &&
         bson_append_utf8(doc, "resource_id", -1, rid, -1) &&
         bson_append_utf8(doc, "resource_consumer_kind", -1,
                          alumet_consumer_kind_name(&p->consumer), -1) &&
         bson_append_utf8(doc, "resource_consumer_id", -1, cid, -1);
    const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
    for (uint32_t i = 0; ok && i < p->attr_count; i++)
        ok = mongodb_append_attr(doc, &attrs[i]);
    if (ok && p->value_type == ALUMET_VALUE_U64) {
        size_t n = mongodb_u64_text(p->value.u64, num);
        ok = bson_append_utf8(doc, "value", -1, num, (int)n);
    } else if (ok) {
        ok = bson_append_double(doc, "value", -1, p->value.f64);
    }
    if (ok) {
        size_t n = format_u64((uint64_t)p->timestamp, num);
        ok = bson_append_utf8(doc, "timestamp", -1, num, (int)n);
    }
    return ok ? 0 : -ENOMEM;
}
