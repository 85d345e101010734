/* SPDX-License-Identifier: MIT */
/* The body of a push to Kwollect: a JSON array, one element a point. */
#include <errno.h>
#include <string.h>

#include "kwollect-output.h"

static const char *const kwo_fixed[] = {"ressource_kind", "ressource_id", "consumer_kind",
                                        "consumer_id"};

/* The last attribute of p named key, NULL when none. */
static const struct alumet_attr *kwo_last(const struct alumet_attr *attrs, uint32_t n,
                                          const char *key)
{
    for (uint32_t i = n; i > 0; i--)
        if (strcmp(attrs[i - 1].key, key) == 0)
            return &attrs[i - 1];
    return NULL;
}

static int kwo_add_label(struct text *t, bool first, const char *key)
{
    int r = first ? 0 : text_adds(t, ",");
    if (r == 0)
        r = json_text_add_string(t, key, (size_t)-1);
    return r == 0 ? text_adds(t, ":") : r;
}

static int kwo_add_point(struct text *t, const struct kwo_format *f,
                         const struct alumet_buffer *buf, const struct alumet_point *p,
                         const struct alumet_registry *reg)
{
    const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
    char rid[256], cid[4096];
    if (!m)
        return -EINVAL;
    const char *unit = f->use_unit_display_name ? m->unit_display : m->unit_unique;
    int r = text_adds(t, "{\"timestamp\":");
    if (r == 0)
        r = json_text_add_f64(t, (double)(p->timestamp / 1000000000) +
                                     (double)(p->timestamp % 1000000000) / 1e9);
    if (r == 0)
        r = text_adds(t, ",\"metric_id\":");
    if (r == 0 && f->append_unit_to_metric_name && unit && *unit) {
        struct text name = {0};
        r = text_adds(&name, m->name);
        if (r == 0)
            r = text_adds(&name, "_");
        if (r == 0)
            r = text_adds(&name, unit);
        if (r == 0)
            r = json_text_add_string(t, name.s, name.len);
        text_done(&name);
    } else if (r == 0) {
        r = json_text_add_string(t, m->name, (size_t)-1);
    }
    if (r == 0)
        r = text_adds(t, ",\"device_id\":");
    if (r == 0)
        r = json_text_add_string(t, f->device_id, (size_t)-1);
    if (r == 0)
        r = text_adds(t, ",\"value\":");
    if (r == 0)
        r = p->value_type == ALUMET_VALUE_U64 ? json_text_add_u64(t, p->value.u64)
                                              : json_text_add_f64(t, p->value.f64);
    if (r == 0)
        r = text_adds(t, ",\"labels\":{");
    alumet_resource_id_text(&p->resource, rid, sizeof(rid));
    alumet_consumer_id_text(&p->consumer, cid, sizeof(cid));
    const char *fixed_values[] = {alumet_resource_kind_name(&p->resource), rid,
                                  alumet_consumer_kind_name(&p->consumer), cid};
    const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
    /* labels are a map: one key once, the attribute's value winning */
    for (size_t i = 0; r == 0 && i < 4; i++) {
        const struct alumet_attr *a = kwo_last(attrs, p->attr_count, kwo_fixed[i]);
        r = kwo_add_label(t, i == 0, kwo_fixed[i]);
        if (r == 0)
            r = a ? json_text_add_attr_value(t, a)
                  : json_text_add_string(t, fixed_values[i], (size_t)-1);
    }
    for (uint32_t i = 0; r == 0 && i < p->attr_count; i++) {
        const struct alumet_attr *a = &attrs[i];
        bool fixed = false;
        for (size_t k = 0; k < 4; k++)
            fixed = fixed || strcmp(a->key, kwo_fixed[k]) == 0;
        if (fixed || kwo_last(attrs, p->attr_count, a->key) != a)
            continue;
        r = kwo_add_label(t, false, a->key);
        if (r == 0)
            r = json_text_add_attr_value(t, a);
    }
    return r == 0 ? text_adds(t, "}}") : r;
}

int kwo_format_buffer(struct text *t, const struct kwo_format *f, const struct alumet_buffer *buf,
                      const struct alumet_registry *reg)
{
    size_t n = alumet_buffer_len(buf);
    t->len = 0;
    int r = text_adds(t, "[");
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (i)
            r = text_adds(t, ",");
        if (r == 0)
            r = kwo_add_point(t, f, buf, alumet_buffer_get(buf, i), reg);
    }
    return r == 0 ? text_adds(t, "]") : r;
}
