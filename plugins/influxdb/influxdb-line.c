/* SPDX-License-Identifier: MIT */
/* InfluxDB line protocol writer (see influxdb-line.h and README.md). The
 * escaping rules are upstream's: measurement `,` and space; tag keys, tag
 * values and field keys `,` `=` and space; string field values `"` and `\`.
 * A backslash in a tag value is not escaped, like upstream (InfluxDB reads
 * it literally unless it precedes one of the escaped characters). */
#include "influxdb-line.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/resource.h"
#include "util/format.h"

/* The characters to escape with a backslash, as lookup tables (the
 * escaping is most of the work of an output that writes many points). */
static const bool influxdb_esc_measurement[256] = {[','] = true, [' '] = true};
static const bool influxdb_esc_key[256] = {[','] = true, ['='] = true, [' '] = true};
static const bool influxdb_esc_string[256] = {['"'] = true, ['\\'] = true};

#define INFLUXDB_ESC_MEASUREMENT influxdb_esc_measurement
#define INFLUXDB_ESC_KEY influxdb_esc_key
#define INFLUXDB_ESC_STRING influxdb_esc_string
#define INFLUXDB_RENAMED_PREFIX "alumet_attribute__"

/* Text of a small value: in the stack buffer when it fits, else on the heap
 * (long cgroup paths, long lists). */
#define INFLUXDB_SMALL_TEXT 256

struct influxdb_small_text {
    char stack[INFLUXDB_SMALL_TEXT];
    char *heap;
    const char *s;
    size_t len;
};

static const char *const influxdb_reserved_tags[] = {
    "resource_kind",
    "resource_id",
    "resource_consumer_kind",
    "resource_consumer_id",
};

/* Append s with a backslash before every character marked in special. */
static int influxdb_put_escaped(struct text *t, const char *s, size_t n, const bool special[256])
{
    if (n > SIZE_MAX / 2)
        return -ENOMEM;
    int r = text_reserve(t, 2 * n);
    if (r < 0)
        return r;
    char *d = t->s + t->len;
    for (size_t i = 0; i < n; i++) {
        if (special[(unsigned char)s[i]])
            *d++ = '\\';
        *d++ = s[i];
    }
    t->len = (size_t)(d - t->s);
    t->s[t->len] = '\0';
    return 0;
}

static void influxdb_small_text_done(struct influxdb_small_text *st)
{
    free(st->heap);
    st->heap = NULL;
}

/* Fill st with the text of obj; release it with influxdb_small_text_done. */
static int influxdb_small_text_fill(struct influxdb_small_text *st, text_writer fn, const void *obj)
{
    st->heap = NULL;
    st->s = st->stack;
    st->len = fn(obj, st->stack, sizeof(st->stack));
    if (st->len < sizeof(st->stack))
        return 0;
    st->heap = malloc(st->len + 1);
    if (!st->heap)
        return -ENOMEM;
    fn(obj, st->heap, st->len + 1);
    st->s = st->heap;
    return 0;
}

static int influxdb_attr_value_text(struct influxdb_small_text *st, const struct alumet_attr *a)
{
    if (a->type == ALUMET_ATTR_STR) {
        st->heap = NULL;
        st->s = a->v.str ? a->v.str : "";
        st->len = strlen(st->s);
        return 0;
    }
    return influxdb_small_text_fill(st, text_of_attr, a);
}

static bool influxdb_in_list(const char *const *list, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], key) == 0)
            return true;
    return false;
}

bool influxdb_line_is_tag(const struct influxdb_line_opts *o, const char *key)
{
    if (o->attributes_as_tags)
        return !influxdb_in_list(o->as_fields, o->n_as_fields, key);
    return influxdb_in_list(o->as_tags, o->n_as_tags, key);
}

/* ",key=value", omitted when the value is empty (InfluxDB refuses empty tag
 * values). */
static int influxdb_put_tag(struct text *t, const char *prefix, const char *key, const char *value,
                            size_t value_len)
{
    int r;

    if (value_len == 0)
        return 0;
    r = text_addc(t, ',');
    if (r == 0 && prefix)
        r = text_adds(t, prefix);
    if (r == 0)
        r = influxdb_put_escaped(t, key, strlen(key), INFLUXDB_ESC_KEY);
    if (r == 0)
        r = text_addc(t, '=');
    if (r == 0)
        r = influxdb_put_escaped(t, value, value_len, INFLUXDB_ESC_KEY);
    return r;
}

static int influxdb_put_u64(struct text *t, uint64_t v, bool v1_integers)
{
    char num[FORMAT_F64_MAX];
    size_t n;

    if (!v1_integers) {
        n = format_u64(v, num);
        num[n++] = 'u';
    } else if (v <= INT64_MAX) {
        n = format_u64(v, num);
        num[n++] = 'i';
    } else {
        /* no int64 holds it: a float (without suffix) is the best 1.x can store */
        n = format_f64((double)v, num, sizeof(num));
    }
    return text_add(t, num, n);
}

static int influxdb_put_f64(struct text *t, double v)
{
    char num[FORMAT_F64_MAX];
    size_t n = format_f64(v, num, sizeof(num));
    return text_add(t, num, n);
}

/* The value of an attribute field. */
static int influxdb_put_attr_field_value(struct text *t, const struct alumet_attr *a,
                                         bool v1_integers)
{
    char num[FORMAT_U64_MAX];
    int r = 0;

    switch (a->type) {
    case ALUMET_ATTR_F64:
        return influxdb_put_f64(t, a->v.f64);
    case ALUMET_ATTR_U64:
        return influxdb_put_u64(t, a->v.u64, v1_integers);
    case ALUMET_ATTR_BOOL:
        return text_addc(t, a->v.b ? 'T' : 'F');
    case ALUMET_ATTR_STR: {
        const char *s = a->v.str ? a->v.str : "";
        r = text_addc(t, '"');
        if (r == 0)
            r = influxdb_put_escaped(t, s, strlen(s), INFLUXDB_ESC_STRING);
        if (r == 0)
            r = text_addc(t, '"');
        return r;
    }
    case ALUMET_ATTR_LIST_U64:
        /* a string of the numbers joined by ',' (no escaping needed) */
        r = text_addc(t, '"');
        for (size_t i = 0; r == 0 && i < a->v.list.len; i++) {
            if (i > 0)
                r = text_addc(t, ',');
            if (r == 0)
                r = text_add(t, num, format_u64(a->v.list.items[i], num));
        }
        if (r == 0)
            r = text_addc(t, '"');
        return r;
    }
    return -EINVAL;
}

static int influxdb_put_tags(struct text *t, const struct influxdb_line_opts *o,
                             const struct alumet_point *p, const struct alumet_attr *attrs)
{
    struct influxdb_small_text st;
    const char *kind;
    int r;

    kind = alumet_resource_kind_name(&p->resource);
    r = influxdb_put_tag(t, NULL, "resource_kind", kind, strlen(kind));
    if (r < 0)
        return r;
    r = influxdb_small_text_fill(&st, text_of_resource_id, &p->resource);
    if (r == 0)
        r = influxdb_put_tag(t, NULL, "resource_id", st.s, st.len);
    influxdb_small_text_done(&st);
    if (r < 0)
        return r;
    kind = alumet_consumer_kind_name(&p->consumer);
    r = influxdb_put_tag(t, NULL, "resource_consumer_kind", kind, strlen(kind));
    if (r < 0)
        return r;
    r = influxdb_small_text_fill(&st, text_of_consumer_id, &p->consumer);
    if (r == 0)
        r = influxdb_put_tag(t, NULL, "resource_consumer_id", st.s, st.len);
    influxdb_small_text_done(&st);
    if (r < 0)
        return r;

    for (uint32_t i = 0; i < p->attr_count; i++) {
        const struct alumet_attr *a = &attrs[i];
        if (!influxdb_line_is_tag(o, a->key))
            continue;
        const char *prefix = NULL;
        for (size_t k = 0; k < sizeof(influxdb_reserved_tags) / sizeof(*influxdb_reserved_tags);
             k++)
            if (strcmp(a->key, influxdb_reserved_tags[k]) == 0)
                prefix = INFLUXDB_RENAMED_PREFIX;
        r = influxdb_attr_value_text(&st, a);
        if (r == 0)
            r = influxdb_put_tag(t, prefix, a->key, st.s, st.len);
        influxdb_small_text_done(&st);
        if (r < 0)
            return r;
    }
    return 0;
}

static int influxdb_put_fields(struct text *t, const struct influxdb_line_opts *o,
                               const struct alumet_point *p, const struct alumet_attr *attrs)
{
    char sep = ' ';
    int r;

    for (uint32_t i = 0; i < p->attr_count; i++) {
        const struct alumet_attr *a = &attrs[i];
        if (influxdb_line_is_tag(o, a->key))
            continue;
        if (a->type == ALUMET_ATTR_F64 && !isfinite(a->v.f64))
            continue; /* InfluxDB has no NaN nor infinity */
        const char *key = strcmp(a->key, "value") == 0 ? INFLUXDB_RENAMED_PREFIX "value" : a->key;
        r = text_addc(t, sep);
        if (r == 0)
            r = influxdb_put_escaped(t, key, strlen(key), INFLUXDB_ESC_KEY);
        if (r == 0)
            r = text_addc(t, '=');
        if (r == 0)
            r = influxdb_put_attr_field_value(t, a, o->v1_integers);
        if (r < 0)
            return r;
        sep = ',';
    }
    r = text_addc(t, sep);
    if (r == 0)
        r = text_adds(t, "value=");
    if (r < 0)
        return r;
    if (p->value_type == ALUMET_VALUE_U64)
        return influxdb_put_u64(t, p->value.u64, o->v1_integers);
    return influxdb_put_f64(t, p->value.f64);
}

/* One line; *ret_series_end receives the offset in t where the series
 * (measurement and tags) ends. */
static int influxdb_put_line(struct text *t, const struct influxdb_line_opts *o,
                             const struct alumet_metric *m, const struct alumet_point *p,
                             const struct alumet_attr *attrs, size_t *ret_series_end)
{
    char num[FORMAT_U64_MAX + 1];
    int r;

    r = influxdb_put_escaped(t, m->name, strlen(m->name), INFLUXDB_ESC_MEASUREMENT);
    if (r == 0)
        r = influxdb_put_tags(t, o, p, attrs);
    *ret_series_end = t->len;
    if (r == 0)
        r = influxdb_put_fields(t, o, p, attrs);
    if (r < 0)
        return r;
    /* timestamp: integer nanoseconds since the epoch (negative before 1970) */
    if (p->timestamp < 0) {
        num[0] = '-';
        size_t n = format_u64((uint64_t)0 - (uint64_t)p->timestamp, num + 1);
        num[n + 1] = '\0';
    } else {
        format_u64((uint64_t)p->timestamp, num);
    }
    r = text_addc(t, ' ');
    if (r == 0)
        r = text_adds(t, num);
    return r;
}

/* ---- the overwrite check ---- */

/* A line of the buffer being written: its series is out->s[start, start +
 * len), its point the index-th of the buffer. index + 1, 0: empty slot. */
struct influxdb_line_slot {
    uint64_t hash;
    size_t start;
    size_t len;
    size_t index1;
};

void influxdb_line_check_done(struct influxdb_line_check *c)
{
    free(c->slots);
    free(c->reported);
    c->slots = NULL;
    c->reported = NULL;
    c->cap = c->n_reported = c->cap_reported = 0;
}

/* Whether some attribute can be a field (else no line can overwrite
 * another one unless the source made the same point twice). */
static bool influxdb_line_has_fields(const struct influxdb_line_opts *o)
{
    return !o->attributes_as_tags || o->n_as_fields > 0;
}

/* An empty table of at least 2 * n slots. 0 or -ENOMEM. */
static int influxdb_check_begin(struct influxdb_line_check *c, size_t n)
{
    size_t cap = 64;
    while (cap < 2 * n && cap < SIZE_MAX / 4 / sizeof(*c->slots))
        cap *= 2;
    if (cap > c->cap) {
        struct influxdb_line_slot *slots = malloc(cap * sizeof(*slots));
        if (!slots)
            return -ENOMEM;
        free(c->slots);
        c->slots = slots;
        c->cap = cap;
    }
    memset(c->slots, 0, c->cap * sizeof(*c->slots));
    return 0;
}

static uint64_t influxdb_hash(const char *s, size_t n, alumet_time_ns t)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, then the timestamp mixed in */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    h ^= (uint64_t)t * 0x9e3779b97f4a7c15u;
    return h ^ (h >> 29);
}

static bool influxdb_attr_equal(const struct alumet_attr *a, const struct alumet_attr *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case ALUMET_ATTR_F64:
        return a->v.f64 == b->v.f64;
    case ALUMET_ATTR_U64:
        return a->v.u64 == b->v.u64;
    case ALUMET_ATTR_BOOL:
        return a->v.b == b->v.b;
    case ALUMET_ATTR_STR:
        return strcmp(a->v.str ? a->v.str : "", b->v.str ? b->v.str : "") == 0;
    case ALUMET_ATTR_LIST_U64:
        return a->v.list.len == b->v.list.len &&
               (a->v.list.len == 0 || memcmp(a->v.list.items, b->v.list.items,
                                             a->v.list.len * sizeof(*a->v.list.items)) == 0);
    }
    return false;
}

/* The first attribute field of p (n attributes) that q (nq) lacks or has
 * with another value; NULL when none. */
static const char *influxdb_field_not_in(const struct influxdb_line_opts *o,
                                         const struct alumet_attr *p, uint32_t n,
                                         const struct alumet_attr *q, uint32_t nq)
{
    for (uint32_t i = 0; i < n; i++) {
        if (influxdb_line_is_tag(o, p[i].key))
            continue;
        uint32_t k = 0;
        while (k < nq && strcmp(q[k].key, p[i].key) != 0)
            k++;
        if (k == nq || !influxdb_attr_equal(&p[i], &q[k]))
            return p[i].key;
    }
    return NULL;
}

static int influxdb_check_report(struct influxdb_line_check *c, const struct alumet_metric *m,
                                 alumet_metric_id id, const char *attribute)
{
    for (size_t i = 0; i < c->n_reported; i++)
        if (c->reported[i] == id)
            return 0;
    if (c->n_reported == c->cap_reported) {
        size_t cap = c->cap_reported ? 2 * c->cap_reported : 8;
        alumet_metric_id *v = realloc(c->reported, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->reported = v;
        c->cap_reported = cap;
    }
    c->reported[c->n_reported++] = id;
    if (c->report)
        c->report(c->ctx, m->name, attribute);
    return 0;
}

/* Note the line of the index-th point of buf, whose series is
 * out->s[start, start + len); report the metric when an earlier line of
 * the buffer has the same series and timestamp and another value of an
 * attribute field. */
static int influxdb_check_line(struct influxdb_line_check *c, const struct influxdb_line_opts *o,
                               const struct text *out, size_t start, size_t len,
                               const struct alumet_buffer *buf, size_t index,
                               const struct alumet_metric *m)
{
    const struct alumet_point *p = alumet_buffer_get(buf, index);
    uint64_t h = influxdb_hash(out->s + start, len, p->timestamp);
    size_t mask = c->cap - 1;

    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct influxdb_line_slot *sl = &c->slots[i];
        if (sl->index1 == 0) {
            *sl = (struct influxdb_line_slot){h, start, len, index + 1};
            return 0;
        }
        if (sl->hash != h || sl->len != len || memcmp(out->s + sl->start, out->s + start, len))
            continue;
        const struct alumet_point *q = alumet_buffer_get(buf, sl->index1 - 1);
        if (q->timestamp != p->timestamp)
            continue;
        const struct alumet_attr *pa = alumet_point_attrs(buf, p);
        const struct alumet_attr *qa = alumet_point_attrs(buf, q);
        const char *attr = influxdb_field_not_in(o, pa, p->attr_count, qa, q->attr_count);
        if (!attr)
            attr = influxdb_field_not_in(o, qa, q->attr_count, pa, p->attr_count);
        /* the same point twice is the source's doing, not the placement's */
        return attr ? influxdb_check_report(c, m, p->metric, attr) : 0;
    }
}

int influxdb_line_write_buffer(struct text *out, const struct influxdb_line_opts *o,
                               const struct alumet_buffer *buf, const struct alumet_registry *reg,
                               struct influxdb_line_check *check, size_t *ret_lines,
                               size_t *ret_skipped, struct alumet_error *err)
{
    size_t n = alumet_buffer_len(buf);
    size_t lines = 0, skipped = 0;
    int r;

    if (check && !influxdb_line_has_fields(o))
        check = NULL;
    if (check && influxdb_check_begin(check, n) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
        if (!m)
            return alumet_error_set(err, -EINVAL, "unknown metric id '%" PRIu32 "' in a point",
                                    p->metric);
        if (p->value_type == ALUMET_VALUE_F64 && !isfinite(p->value.f64)) {
            skipped++;
            continue;
        }
        size_t mark = out->len, series_end = 0;
        r = out->len > 0 ? text_addc(out, '\n') : 0;
        size_t start = out->len;
        if (r == 0)
            r = influxdb_put_line(out, o, m, p, alumet_point_attrs(buf, p), &series_end);
        if (r == 0 && check)
            r = influxdb_check_line(check, o, out, start, series_end - start, buf, i, m);
        if (r < 0) {
            out->len = mark;
            if (out->s)
                out->s[mark] = '\0';
            return alumet_error_set(err, r, "out of memory");
        }
        lines++;
    }
    *ret_lines = lines;
    *ret_skipped = skipped;
    return 0;
}
