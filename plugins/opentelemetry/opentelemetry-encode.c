/* SPDX-License-Identifier: MIT */
/* OTLP encoding of a measurement buffer, with the layout of upstream
 * Alumet's opentelemetry plugin 0.1.0:
 *
 *   ExportMetricsServiceRequest
 *     ResourceMetrics { resource: [service.name = alumet-otlp-grpc]
 *       ScopeMetrics { scope: alumet 0.1.0 [tool = alumet]
 *         Metric { name: prefix + metric + suffix, description, unit,
 *           Gauge { NumberDataPoint { attributes sorted by key,
 *                                     time_unix_nano, as_double } ... } } ... } }
 *
 * One Metric per metric of the buffer, in the order of their first point
 * (upstream's order is unspecified). The protobuf-c structures live in
 * arrays that the encoder keeps from one buffer to the next. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/resource.h"
#include "opentelemetry.h"

#define OTEL_TEXT_BLOCK_SIZE (64 * 1024)
#define OTEL_FIXED_ATTRIBUTES 4

struct otel_text_block {
    struct otel_text_block *next;
    size_t size;
    size_t used;
    char data[];
};

/* ---- string arena ---- */

static void otel_text_reset(struct otel_text_block *b)
{
    for (; b; b = b->next)
        b->used = 0;
}

/* n bytes from the arena, NULL on -ENOMEM. Blocks are kept for reuse. */
static char *otel_text_alloc(struct otel_encoder *e, size_t n)
{
    struct otel_text_block **link = &e->text;
    struct otel_text_block *b;

    for (b = e->text; b; link = &b->next, b = b->next)
        if (b->size - b->used >= n)
            break;
    if (!b) {
        size_t size = n > OTEL_TEXT_BLOCK_SIZE ? n : OTEL_TEXT_BLOCK_SIZE;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->next = NULL;
        b->size = size;
        b->used = 0;
        *link = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

/* Text functions with the snprintf convention (return the full length). */
typedef size_t (*otel_text_fn)(const void *obj, char *buf, size_t size);

static size_t otel_resource_id_fn(const void *obj, char *buf, size_t size)
{
    return alumet_resource_id_text(obj, buf, size);
}

static size_t otel_consumer_id_fn(const void *obj, char *buf, size_t size)
{
    return alumet_consumer_id_text(obj, buf, size);
}

static size_t otel_attr_text_fn(const void *obj, char *buf, size_t size)
{
    return alumet_attr_text(obj, buf, size);
}

/* The text of obj in the arena, "empty" when it is empty (upstream). */
static char *otel_text_of(struct otel_encoder *e, otel_text_fn fn, const void *obj)
{
    char small[64];
    size_t len = fn(obj, small, sizeof(small));

    if (len == 0)
        return "empty";
    char *s = otel_text_alloc(e, len + 1);
    if (!s)
        return NULL;
    if (len < sizeof(small))
        memcpy(s, small, len + 1);
    else
        fn(obj, s, len + 1);
    return s;
}

static char *otel_text_concat(struct otel_encoder *e, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = otel_text_alloc(e, la + lb + lc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

/* ---- storage ---- */

/* Grow *arr (of elem bytes each) to hold n; *cap is updated by the caller
 * once every array of a group has grown. */
static int otel_grow(void **arr, size_t elem, size_t n)
{
    if (n > SIZE_MAX / elem)
        return -ENOMEM;
    void *p = realloc(*arr, n * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    return 0;
}

static size_t otel_next_cap(size_t cap, size_t need)
{
    size_t c = cap ? cap : 64;
    while (c < need)
        c *= 2;
    return c;
}

static int otel_reserve(struct otel_encoder *e, size_t points, size_t kvs)
{
    int r = 0;

    if (points > e->points_cap) {
        size_t cap = otel_next_cap(e->points_cap, points);
        r = otel_grow((void **)&e->points, sizeof(*e->points), cap);
        if (r == 0)
            r = otel_grow((void **)&e->point_ptrs, sizeof(*e->point_ptrs), cap);
        if (r < 0)
            return r;
        e->points_cap = cap;
    }
    if (kvs > e->kvs_cap) {
        size_t cap = otel_next_cap(e->kvs_cap, kvs);
        r = otel_grow((void **)&e->kvs, sizeof(*e->kvs), cap);
        if (r == 0)
            r = otel_grow((void **)&e->kv_ptrs, sizeof(*e->kv_ptrs), cap);
        if (r == 0)
            r = otel_grow((void **)&e->values, sizeof(*e->values), cap);
        if (r < 0)
            return r;
        e->kvs_cap = cap;
    }
    return 0;
}

static int otel_reserve_metrics(struct otel_encoder *e, size_t n)
{
    int r = 0;

    if (n <= e->metrics_cap)
        return 0;
    size_t cap = otel_next_cap(e->metrics_cap, n);
    r = otel_grow((void **)&e->metrics, sizeof(*e->metrics), cap);
    if (r == 0)
        r = otel_grow((void **)&e->metric_ptrs, sizeof(*e->metric_ptrs), cap);
    if (r == 0)
        r = otel_grow((void **)&e->gauges, sizeof(*e->gauges), cap);
    if (r == 0)
        r = otel_grow((void **)&e->metric_ids, sizeof(*e->metric_ids), cap);
    if (r < 0)
        return r;
    e->metrics_cap = cap;
    return 0;
}

static int otel_reserve_slots(struct otel_encoder *e, alumet_metric_id id)
{
    if ((size_t)id < e->slots_cap)
        return 0;
    size_t cap = otel_next_cap(e->slots_cap, (size_t)id + 1);
    uint32_t *s = realloc(e->slot_of_metric, cap * sizeof(*s));
    if (!s)
        return -ENOMEM;
    memset(s + e->slots_cap, 0, (cap - e->slots_cap) * sizeof(*s));
    e->slot_of_metric = s;
    e->slots_cap = cap;
    return 0;
}

void otel_encoder_done(struct otel_encoder *e)
{
    free(e->points);
    free(e->point_ptrs);
    free(e->kvs);
    free(e->kv_ptrs);
    free(e->values);
    free(e->metrics);
    free(e->metric_ptrs);
    free(e->gauges);
    free(e->metric_ids);
    free(e->slot_of_metric);
    while (e->text) {
        struct otel_text_block *next = e->text->next;
        free(e->text);
        e->text = next;
    }
    free(e->packed);
    *e = (struct otel_encoder){0};
}

/* ---- building the request ---- */

static void otel_set_kv(otel_key_value *kv, otel_any_value *v, const char *key, const char *value)
{
    otel_key_value kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    otel_any_value v_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;

    *kv = kv_init;
    *v = v_init;
    /* protobuf-c's fields are not const, packing does not write them */
    kv->key = (char *)key;
    kv->value = v;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = (char *)value;
}

/* Sort kvs[0..n) by key, stable (insertion sort: a handful of attributes). */
static void otel_sort_kvs(otel_key_value **kvs, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        otel_key_value *k = kvs[i];
        size_t j = i;
        while (j > 0 && strcmp(kvs[j - 1]->key, k->key) > 0) {
            kvs[j] = kvs[j - 1];
            j--;
        }
        kvs[j] = k;
    }
}

/* Fill the data point of p, its attributes starting at kvs[*kv_at]. */
static int otel_fill_point(struct otel_encoder *e, const struct alumet_buffer *buf,
                           const struct alumet_point *p, otel_data_point *dp, size_t *kv_at)
{
    otel_data_point init = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    size_t first = *kv_at, k = first;
    char *rid, *cid;

    *dp = init;
    rid = otel_text_of(e, otel_resource_id_fn, &p->resource);
    cid = otel_text_of(e, otel_consumer_id_fn, &p->consumer);
    if (!rid || !cid)
        return -ENOMEM;
    otel_set_kv(&e->kvs[k], &e->values[k], "resource_kind",
                alumet_resource_kind_name(&p->resource));
    k++;
    otel_set_kv(&e->kvs[k], &e->values[k], "resource_id", rid);
    k++;
    otel_set_kv(&e->kvs[k], &e->values[k], "resource_consumer_kind",
                alumet_consumer_kind_name(&p->consumer));
    k++;
    otel_set_kv(&e->kvs[k], &e->values[k], "resource_consumer_id", cid);
    k++;
    if (e->add_attributes_to_labels) {
        const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
        for (uint32_t i = 0; i < p->attr_count; i++) {
            const struct alumet_attr *a = &attrs[i];
            char *text;
            if (a->type == ALUMET_ATTR_STR && a->v.str && a->v.str[0])
                text = (char *)a->v.str;
            else
                text = otel_text_of(e, otel_attr_text_fn, a);
            if (!text)
                return -ENOMEM;
            otel_set_kv(&e->kvs[k], &e->values[k], a->key, text);
            k++;
        }
    }
    for (size_t i = first; i < k; i++)
        e->kv_ptrs[i] = &e->kvs[i];
    otel_sort_kvs(&e->kv_ptrs[first], k - first);
    dp->n_attributes = k - first;
    dp->attributes = &e->kv_ptrs[first];
    /* fixed64: a time before 1970 cannot be written, 0 means "unspecified" */
    dp->time_unix_nano = p->timestamp > 0 ? (uint64_t)p->timestamp : 0;
    dp->start_time_unix_nano = 0;
    dp->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    dp->as_double = p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64;
    *kv_at = k;
    return 0;
}

/* Group the points by metric: metrics[], gauges[] and the slices of
 * point_ptrs that hold each gauge's points; *ret_metrics receives the number
 * of metrics. 0, -ENOMEM or -EINVAL (unknown metric) with err. */
static int otel_group(struct otel_encoder *e, const struct alumet_buffer *buf,
                      const struct alumet_registry *reg, size_t n, size_t *ret_metrics,
                      struct alumet_error *err)
{
    size_t nm = 0;
    int r;

    for (size_t i = 0; i < n; i++) {
        alumet_metric_id id = alumet_buffer_get(buf, i)->metric;
        if (!alumet_registry_get(reg, id)) {
            r = alumet_error_set(err, -EINVAL, "unknown metric id '%" PRIu32 "' in a point", id);
            goto err_reset;
        }
        r = otel_reserve_slots(e, id);
        if (r == 0 && e->slot_of_metric[id] == 0) {
            r = otel_reserve_metrics(e, nm + 1);
            if (r == 0) {
                otel_gauge g = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
                e->gauges[nm] = g;
                e->metric_ids[nm] = id;
                e->slot_of_metric[id] = (uint32_t)++nm;
            }
        }
        if (r < 0) {
            alumet_error_set(err, r, "out of memory");
            goto err_reset;
        }
        e->gauges[e->slot_of_metric[id] - 1].n_data_points++;
    }
    /* each gauge gets its slice of point_ptrs, filled later */
    size_t at = 0;
    for (size_t g = 0; g < nm; g++) {
        e->gauges[g].data_points = &e->point_ptrs[at];
        at += e->gauges[g].n_data_points;
        e->gauges[g].n_data_points = 0;
    }
    *ret_metrics = nm;
    return 0;

err_reset:
    for (size_t g = 0; g < nm; g++)
        e->slot_of_metric[e->metric_ids[g]] = 0;
    return r;
}

static int otel_fill_metrics(struct otel_encoder *e, const struct alumet_registry *reg, size_t nm)
{
    for (size_t g = 0; g < nm; g++) {
        const struct alumet_metric *m = alumet_registry_get(reg, e->metric_ids[g]);
        otel_metric init = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
        otel_metric *om = &e->metrics[g];

        *om = init;
        om->unit = (char *)(e->use_unit_display_name ? m->unit_display : m->unit_unique);
        if (!om->unit)
            om->unit = "";
        const char *name = m->name;
        if (e->append_unit_to_metric_name && *om->unit)
            name = otel_text_concat(e, m->name, "_", om->unit);
        om->name = name ? otel_text_concat(e, e->prefix, name, e->suffix) : NULL;
        if (!om->name)
            return -ENOMEM;
        om->description = (char *)(m->description ? m->description : "");
        om->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        om->gauge = &e->gauges[g];
        e->metric_ptrs[g] = om;
    }
    return 0;
}

static int otel_pack(struct otel_encoder *e, otel_metric **metrics, size_t nm,
                     const uint8_t **ret_data, size_t *ret_len)
{
    otel_key_value service_kv, tool_kv;
    otel_any_value service_v, tool_v;
    otel_key_value *service_ptr = &service_kv, *tool_ptr = &tool_kv;
    otel_resource resource = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    otel_scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    otel_scope_metrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    otel_resource_metrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    otel_request req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    otel_scope_metrics *sm_ptr = &sm;
    otel_resource_metrics *rm_ptr = &rm;

    if (nm > 0) {
        otel_set_kv(&service_kv, &service_v, "service.name", OTEL_SERVICE_NAME);
        otel_set_kv(&tool_kv, &tool_v, "tool", "alumet");
        resource.n_attributes = 1;
        resource.attributes = &service_ptr;
        scope.name = OTEL_SCOPE_NAME;
        scope.version = OTEL_SCOPE_VERSION;
        scope.n_attributes = 1;
        scope.attributes = &tool_ptr;
        sm.scope = &scope;
        sm.n_metrics = nm;
        sm.metrics = metrics;
        rm.resource = &resource;
        rm.n_scope_metrics = 1;
        rm.scope_metrics = &sm_ptr;
        req.n_resource_metrics = 1;
        req.resource_metrics = &rm_ptr;
    }
    size_t len =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(
            &req);
    if (len > e->packed_cap) {
        size_t cap = otel_next_cap(e->packed_cap, len);
        uint8_t *p = realloc(e->packed, cap);
        if (!p)
            return -ENOMEM;
        e->packed = p;
        e->packed_cap = cap;
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req,
                                                                                       e->packed);
    *ret_data = e->packed;
    *ret_len = len;
    return 0;
}

int otel_encode(struct otel_encoder *e, const struct alumet_buffer *buf,
                const struct alumet_registry *reg, const uint8_t **ret_data, size_t *ret_len,
                size_t *ret_points, struct alumet_error *err)
{
    size_t n = alumet_buffer_len(buf);
    size_t nkv = 0, nm = 0, kv_at = 0;
    int r;

    for (size_t i = 0; i < n; i++)
        nkv += OTEL_FIXED_ATTRIBUTES +
               (e->add_attributes_to_labels ? alumet_buffer_get(buf, i)->attr_count : 0);
    r = otel_reserve(e, n, nkv);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    otel_text_reset(e->text);
    r = otel_group(e, buf, reg, n, &nm, err);
    if (r < 0)
        return r;
    for (size_t i = 0; r == 0 && i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        otel_gauge *g = &e->gauges[e->slot_of_metric[p->metric] - 1];
        r = otel_fill_point(e, buf, p, &e->points[i], &kv_at);
        g->data_points[g->n_data_points++] = &e->points[i];
    }
    if (r == 0)
        r = otel_fill_metrics(e, reg, nm);
    for (size_t g = 0; g < nm; g++)
        e->slot_of_metric[e->metric_ids[g]] = 0;
    if (r == 0)
        r = otel_pack(e, e->metric_ptrs, nm, ret_data, ret_len);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    *ret_points = n;
    return 0;
}
