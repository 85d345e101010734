/* SPDX-License-Identifier: MIT */
/* aggregation: the transform. The points of the aggregated metrics leave the
 * buffer and go into windows [k x interval, (k + 1) x interval) of their
 * series (metric, resource, consumer, attributes); a window is emitted when
 * a point of its series at or after its end arrives, or at shutdown
 * (finish: the last windows, partial). A point whose window was already
 * emitted is late: dropped, counted, logged and exposed as
 * alumet_transform_points_dropped (README.md). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "aggregation.h"
#include "alumet/error.h"
#include "alumet/resource.h"

alumet_time_ns aggregation_window_start(alumet_time_ns ts, alumet_time_ns interval)
{
    alumet_time_ns r = ts % interval;
    return r < 0 ? ts - r - interval : ts - r;
}

static uint64_t aggregation_mix(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint64_t aggregation_mix_str(uint64_t h, const char *s)
{
    return aggregation_mix(h, s ? s : "\x01", s ? strlen(s) + 1 : 1);
}

static uint64_t aggregation_attr_hash(uint64_t h, const struct alumet_attr *a)
{
    h = aggregation_mix_str(h, a->key);
    h = aggregation_mix(h, &a->type, sizeof(a->type));
    switch (a->type) {
    case ALUMET_ATTR_STR:
        return aggregation_mix_str(h, a->v.str);
    case ALUMET_ATTR_LIST_U64:
        return aggregation_mix(h, a->v.list.items, a->v.list.len * sizeof(uint64_t));
    case ALUMET_ATTR_BOOL:
        return aggregation_mix(h, &a->v.b, sizeof(a->v.b));
    default:
        return aggregation_mix(h, &a->v.u64, sizeof(a->v.u64));
    }
}

static uint64_t aggregation_point_hash(const struct alumet_buffer *buf,
                                       const struct alumet_point *p)
{
    uint64_t h = aggregation_mix(1469598103934665603ull, &p->metric, sizeof(p->metric));
    h = aggregation_mix(h, &p->resource.kind, sizeof(p->resource.kind));
    h = aggregation_mix(h, &p->resource.num, sizeof(p->resource.num));
    h = aggregation_mix_str(aggregation_mix_str(h, p->resource.str), p->resource.custom_kind);
    h = aggregation_mix(h, &p->consumer.kind, sizeof(p->consumer.kind));
    h = aggregation_mix(h, &p->consumer.num, sizeof(p->consumer.num));
    h = aggregation_mix_str(aggregation_mix_str(h, p->consumer.str), p->consumer.custom_kind);
    const struct alumet_attr *a = alumet_point_attrs(buf, p);
    for (uint32_t i = 0; i < p->attr_count; i++)
        h = aggregation_attr_hash(h, &a[i]);
    return h;
}

static bool aggregation_str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool aggregation_attr_eq(const struct alumet_attr *a, const struct alumet_attr *b)
{
    if (strcmp(a->key, b->key) != 0 || a->type != b->type)
        return false;
    switch (a->type) {
    case ALUMET_ATTR_STR:
        return aggregation_str_eq(a->v.str, b->v.str);
    case ALUMET_ATTR_LIST_U64:
        return a->v.list.len == b->v.list.len &&
               (a->v.list.len == 0 ||
                memcmp(a->v.list.items, b->v.list.items, a->v.list.len * sizeof(uint64_t)) == 0);
    case ALUMET_ATTR_BOOL:
        return a->v.b == b->v.b;
    default:
        return a->v.u64 == b->v.u64;
    }
}

static bool aggregation_series_eq(const struct aggregation_transform *t,
                                  const struct aggregation_series *s,
                                  const struct alumet_buffer *buf, const struct alumet_point *p)
{
    const struct alumet_resource *r = &p->resource;
    const struct alumet_consumer *c = &p->consumer;
    if (t->inputs[s->input].in != p->metric || s->n_attrs != p->attr_count ||
        s->resource.kind != r->kind || s->resource.num != r->num ||
        !aggregation_str_eq(s->resource.str, r->str) ||
        !aggregation_str_eq(s->resource.custom_kind, r->custom_kind) ||
        s->consumer.kind != c->kind || s->consumer.num != c->num ||
        !aggregation_str_eq(s->consumer.str, c->str) ||
        !aggregation_str_eq(s->consumer.custom_kind, c->custom_kind))
        return false;
    const struct alumet_attr *a = alumet_point_attrs(buf, p);
    for (uint32_t i = 0; i < s->n_attrs; i++)
        if (!aggregation_attr_eq(&s->attrs[i], &a[i]))
            return false;
    return true;
}

static void aggregation_series_free(struct aggregation_series *s)
{
    free((char *)s->resource.str);
    free((char *)s->resource.custom_kind);
    free((char *)s->consumer.str);
    free((char *)s->consumer.custom_kind);
    for (uint32_t i = 0; i < s->n_attrs; i++) {
        free((char *)s->attrs[i].key);
        if (s->attrs[i].type == ALUMET_ATTR_STR)
            free((char *)s->attrs[i].v.str);
        else if (s->attrs[i].type == ALUMET_ATTR_LIST_U64)
            free((uint64_t *)s->attrs[i].v.list.items);
    }
    free(s->attrs);
    free(s->windows);
    free(s);
}

void aggregation_transform_free(void *data)
{
    struct aggregation_transform *t = data;
    if (!t)
        return;
    for (size_t b = 0; b < AGGREGATION_BUCKETS; b++)
        while (t->buckets[b]) {
            struct aggregation_series *s = t->buckets[b];
            t->buckets[b] = s->next;
            aggregation_series_free(s);
        }
    for (size_t i = 0; i < t->n_inputs; i++)
        free(t->inputs[i].name);
    free(t->inputs);
    free(t);
}

/* A copy of s (NULL stays NULL); false on -ENOMEM. */
static bool aggregation_dup(const char **dst, const char *s)
{
    *dst = s ? strdup(s) : NULL;
    return !s || *dst;
}

static bool aggregation_attr_dup(struct alumet_attr *dst, const struct alumet_attr *a)
{
    *dst = *a;
    dst->key = NULL;
    if (a->type == ALUMET_ATTR_STR)
        dst->v.str = NULL;
    else if (a->type == ALUMET_ATTR_LIST_U64)
        dst->v.list.items = NULL;
    if (!aggregation_dup(&dst->key, a->key))
        return false;
    if (a->type == ALUMET_ATTR_STR)
        return aggregation_dup(&dst->v.str, a->v.str);
    if (a->type == ALUMET_ATTR_LIST_U64 && a->v.list.len) {
        uint64_t *items = malloc(a->v.list.len * sizeof(uint64_t));
        if (!items)
            return false;
        memcpy(items, a->v.list.items, a->v.list.len * sizeof(uint64_t));
        dst->v.list.items = items;
    }
    return true;
}

static struct aggregation_series *aggregation_series_new(size_t input, uint64_t hash,
                                                         const struct alumet_buffer *buf,
                                                         const struct alumet_point *p)
{
    struct aggregation_series *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->hash = hash;
    s->input = input;
    s->closed_until = INT64_MIN;
    s->newest = INT64_MIN;
    s->resource = p->resource;
    s->consumer = p->consumer;
    s->resource.str = s->resource.custom_kind = s->consumer.str = s->consumer.custom_kind = NULL;
    bool ok = aggregation_dup(&s->resource.str, p->resource.str) &&
              aggregation_dup(&s->resource.custom_kind, p->resource.custom_kind) &&
              aggregation_dup(&s->consumer.str, p->consumer.str) &&
              aggregation_dup(&s->consumer.custom_kind, p->consumer.custom_kind);
    if (ok && p->attr_count) {
        const struct alumet_attr *a = alumet_point_attrs(buf, p);
        ok = (s->attrs = calloc(p->attr_count, sizeof(*s->attrs))) != NULL;
        for (uint32_t i = 0; ok && i < p->attr_count; i++) {
            ok = aggregation_attr_dup(&s->attrs[i], &a[i]);
            s->n_attrs = i + 1;
        }
    }
    if (!ok) {
        aggregation_series_free(s);
        return NULL;
    }
    return s;
}

/* The series of p (created when new), NULL on -ENOMEM. */
static struct aggregation_series *aggregation_series_get(struct aggregation_transform *t,
                                                         size_t input,
                                                         const struct alumet_buffer *buf,
                                                         const struct alumet_point *p)
{
    uint64_t h = aggregation_point_hash(buf, p);
    struct aggregation_series **head = &t->buckets[h % AGGREGATION_BUCKETS];
    for (struct aggregation_series *s = *head; s; s = s->next)
        if (s->hash == h && aggregation_series_eq(t, s, buf, p))
            return s;
    struct aggregation_series *s = aggregation_series_new(input, h, buf, p);
    if (s) {
        s->next = *head;
        *head = s;
        t->n_series++;
    }
    return s;
}

/* The window of s that starts at start, inserted in order when new; NULL on -ENOMEM. */
static struct aggregation_window *aggregation_window_get(struct aggregation_series *s,
                                                         alumet_time_ns start)
{
    size_t i = 0;
    while (i < s->n_windows && s->windows[i].start < start)
        i++;
    if (i < s->n_windows && s->windows[i].start == start)
        return &s->windows[i];
    if (s->n_windows == s->cap_windows) {
        size_t cap = s->cap_windows ? 2 * s->cap_windows : 2;
        struct aggregation_window *w = realloc(s->windows, cap * sizeof(*w));
        if (!w)
            return NULL;
        s->windows = w;
        s->cap_windows = cap;
    }
    memmove(&s->windows[i + 1], &s->windows[i], (s->n_windows - i) * sizeof(s->windows[0]));
    s->n_windows++;
    s->windows[i] = (struct aggregation_window){.start = start};
    return &s->windows[i];
}

/* Add the value of p, in the type of its metric (a point whose value type
 * differs from its metric's, as process-to-cgroup-bridge makes, is
 * converted rather than misread). */
static void aggregation_window_add(struct aggregation_window *w, const struct alumet_point *p,
                                   enum alumet_value_type type)
{
    if (type == ALUMET_VALUE_U64) {
        uint64_t v = p->value_type == ALUMET_VALUE_U64 ? p->value.u64
                     : p->value.f64 > 0                ? (uint64_t)llround(p->value.f64)
                                                       : 0;
        if (__builtin_add_overflow(w->sum_u64, v, &w->sum_u64)) {
            w->sum_u64 = UINT64_MAX;
            w->sum_overflow = true;
        }
        w->sum_f64 += (double)v;
        w->min_u64 = w->count == 0 || v < w->min_u64 ? v : w->min_u64;
        w->max_u64 = w->count == 0 || v > w->max_u64 ? v : w->max_u64;
    } else {
        double v = p->value_type == ALUMET_VALUE_F64 ? p->value.f64 : (double)p->value.u64;
        w->sum_f64 += v;
        w->min_f64 = w->count == 0 || v < w->min_f64 ? v : w->min_f64;
        w->max_f64 = w->count == 0 || v > w->max_f64 ? v : w->max_f64;
    }
    w->count++;
}

/* Copy the key of s into a point of buf (strings into the buffer's arena). */
static int aggregation_emit_one(struct alumet_buffer *buf, const struct aggregation_series *s,
                                alumet_time_ns ts, alumet_metric_id m, bool u64, uint64_t vu,
                                double vf)
{
    struct alumet_resource r = s->resource;
    struct alumet_consumer c = s->consumer;
    if ((r.str && !(r.str = alumet_buffer_strdup(buf, r.str, (size_t)-1))) ||
        (r.custom_kind &&
         !(r.custom_kind = alumet_buffer_strdup(buf, r.custom_kind, (size_t)-1))) ||
        (c.str && !(c.str = alumet_buffer_strdup(buf, c.str, (size_t)-1))) ||
        (c.custom_kind && !(c.custom_kind = alumet_buffer_strdup(buf, c.custom_kind, (size_t)-1))))
        return -ENOMEM;
    struct alumet_point *p = u64 ? alumet_buffer_push_u64(buf, ts, m, &r, &c, vu)
                                 : alumet_buffer_push_f64(buf, ts, m, &r, &c, vf);
    if (!p)
        return -ENOMEM;
    for (uint32_t i = 0; i < s->n_attrs; i++) {
        struct alumet_attr a = s->attrs[i];
        if (!(a.key = alumet_buffer_strdup(buf, a.key, (size_t)-1)))
            return -ENOMEM;
        if (a.type == ALUMET_ATTR_STR && a.v.str &&
            !(a.v.str = alumet_buffer_strdup(buf, a.v.str, (size_t)-1)))
            return -ENOMEM;
        if (a.type == ALUMET_ATTR_LIST_U64 && a.v.list.len) {
            uint64_t *items = alumet_buffer_alloc(buf, a.v.list.len * sizeof(uint64_t));
            if (!items)
                return -ENOMEM;
            memcpy(items, a.v.list.items, a.v.list.len * sizeof(uint64_t));
            a.v.list.items = items;
        }
        if (alumet_point_add_attr(buf, p, &a) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* One point per function asked for, at the window's start. */
static int aggregation_emit(struct aggregation_transform *t, struct alumet_buffer *buf,
                            const struct aggregation_series *s, const struct aggregation_window *w)
{
    const struct aggregation_input *in = &t->inputs[s->input];
    bool u64 = in->type == ALUMET_VALUE_U64;
    if (u64 && w->sum_overflow && !t->overflow_warned) {
        t->overflow_warned = true;
        alumet_log_at(t->log, ALUMET_LOG_WARN,
                      "the sum of '%s' over a window exceeds the largest U64: '%s_sum' is capped "
                      "at 18446744073709551615 (use a shorter interval)",
                      in->name, in->name);
    }
    for (int f = 0; f < AGGREGATION_FN_MAX; f++) {
        if (!(t->functions & (1u << f)))
            continue;
        uint64_t vu = 0;
        double vf = 0;
        switch (f) {
        case AGGREGATION_SUM:
            vu = w->sum_u64;
            vf = w->sum_f64;
            break;
        case AGGREGATION_MEAN:
            /* U64 keeps its type (as upstream), rounded half up instead of truncated */
            vf = w->sum_f64 / (double)w->count;
            vu = w->sum_overflow ? (uint64_t)llround(vf)
                                 : w->sum_u64 / w->count + (w->sum_u64 % w->count * 2 >= w->count);
            break;
        case AGGREGATION_MIN:
            vu = w->min_u64;
            vf = w->min_f64;
            break;
        default:
            vu = w->max_u64;
            vf = w->max_f64;
            break;
        }
        if (aggregation_emit_one(buf, s, w->start, in->out[f], u64, vu, vf) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Emit the windows of s that end at or before until (all of them with
 * INT64_MAX), oldest first. */
static int aggregation_close(struct aggregation_transform *t, struct alumet_buffer *buf,
                             struct aggregation_series *s, alumet_time_ns until)
{
    size_t done = 0;
    while (done < s->n_windows &&
           (until == INT64_MAX || s->windows[done].start + t->interval <= until)) {
        if (aggregation_emit(t, buf, s, &s->windows[done]) < 0)
            return -ENOMEM;
        s->closed_until = s->windows[done].start + t->interval;
        done++;
    }
    memmove(s->windows, s->windows + done, (s->n_windows - done) * sizeof(s->windows[0]));
    s->n_windows -= done;
    return 0;
}

static ssize_t aggregation_input_of(const struct aggregation_transform *t, alumet_metric_id m)
{
    for (size_t i = 0; i < t->n_inputs; i++)
        if (t->inputs[i].in == m)
            return (ssize_t)i;
    return -1;
}

static bool aggregation_keep(void *data, const struct alumet_buffer *buf,
                             const struct alumet_point *p)
{
    (void)buf;
    return aggregation_input_of(data, p->metric) < 0;
}

/* The cumulative count of late points, when it changed. */
static int aggregation_emit_late(struct aggregation_transform *t, struct alumet_buffer *buf)
{
    if (t->late == t->late_emitted)
        return 0;
    const struct alumet_resource r = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = t->pid};
    struct alumet_point *p =
        alumet_buffer_push_u64(buf, alumet_time_now(), t->late_metric, &r, &c, t->late);
    if (!p ||
        alumet_point_add_attr_str(buf, p, "transform", "aggregation/" AGGREGATION_ELEMENT) < 0 ||
        alumet_point_add_attr_str(buf, p, "reason", "late") < 0)
        return -ENOMEM;
    t->late_emitted = t->late;
    return 0;
}

/* The horizon of a series that stopped: 10 intervals before the newest
 * point of any series (INT64_MIN when that underflows). Its windows that
 * ended before are emitted (a point of theirs would be late by then), and a
 * series without open window and without point since is forgotten (a
 * process that ended). */
static alumet_time_ns aggregation_horizon(const struct aggregation_transform *t)
{
    alumet_time_ns keep = t->interval > INT64_MAX / 20 ? INT64_MAX / 2 : 10 * t->interval;
    return t->newest < INT64_MIN + keep ? INT64_MIN : t->newest - keep;
}

/* Emit the windows that are over (a later point of the series, or the
 * horizon), forget the stopped series. */
static int aggregation_close_over(struct aggregation_transform *t, struct alumet_buffer *buf)
{
    alumet_time_ns horizon = aggregation_horizon(t);
    for (size_t b = 0; b < AGGREGATION_BUCKETS; b++)
        for (struct aggregation_series **sp = &t->buckets[b]; *sp;) {
            struct aggregation_series *s = *sp;
            alumet_time_ns until = s->newest > horizon ? s->newest : horizon;
            if (s->n_windows && aggregation_close(t, buf, s, until) < 0)
                return -ENOMEM;
            if (s->n_windows == 0 && s->newest < horizon) {
                *sp = s->next;
                aggregation_series_free(s);
                t->n_series--;
            } else {
                sp = &s->next;
            }
        }
    return 0;
}

static int aggregation_apply(void *data, struct alumet_buffer *buf,
                             const struct alumet_registry *reg, struct alumet_error *err)
{
    struct aggregation_transform *t = data;
    size_t n = alumet_buffer_len(buf);
    (void)reg;

    /* 1. every point of an aggregated metric goes into its window */
    size_t n_touched = 0;
    uint64_t late_before = t->late;
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        ssize_t in = aggregation_input_of(t, p->metric);
        if (in < 0)
            continue;
        struct aggregation_series *s = aggregation_series_get(t, (size_t)in, buf, p);
        if (!s)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        n_touched++;
        t->newest = p->timestamp > t->newest ? p->timestamp : t->newest;
        s->newest = p->timestamp > s->newest ? p->timestamp : s->newest;
        if (p->timestamp < s->closed_until) {
            t->late++;
            continue;
        }
        struct aggregation_window *w =
            aggregation_window_get(s, aggregation_window_start(p->timestamp, t->interval));
        if (!w)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        aggregation_window_add(w, p, t->inputs[in].type);
    }
    if (n_touched == 0)
        return 0;
    if (t->late > late_before && late_before == 0)
        alumet_log_at(t->log, ALUMET_LOG_WARN,
                      "a point arrived after its window was emitted and was dropped (counted "
                      "in " AGGREGATION_LATE_METRIC "): the sources of the aggregated metrics "
                      "flush later than the window ends, use a longer interval");
    alumet_buffer_retain(buf, aggregation_keep, t);
    /* 2. the windows that are over (not before the output metrics exist) */
    if (atomic_load_explicit(&t->ready, memory_order_acquire)) {
        if (aggregation_close_over(t, buf) < 0 || aggregation_emit_late(t, buf) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* At shutdown: the open windows (partial: they end at the last point). */
static int aggregation_finish(void *data, struct alumet_buffer *buf,
                              const struct alumet_registry *reg, struct alumet_error *err)
{
    struct aggregation_transform *t = data;
    (void)reg;
    if (!atomic_load_explicit(&t->ready, memory_order_acquire))
        return 0;
    for (size_t b = 0; b < AGGREGATION_BUCKETS; b++)
        for (struct aggregation_series *s = t->buckets[b]; s; s = s->next)
            if (aggregation_close(t, buf, s, INT64_MAX) < 0)
                return alumet_error_set(err, -ENOMEM, "out of memory");
    if (aggregation_emit_late(t, buf) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if (t->late)
        alumet_log_at(t->log, ALUMET_LOG_WARN,
                      "'%llu' points arrived after their window was emitted and were dropped",
                      (unsigned long long)t->late);
    return 0;
}

const struct alumet_transform_ops aggregation_transform_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = aggregation_apply,
    .finish = aggregation_finish,
    .free = aggregation_transform_free,
};
