/* SPDX-License-Identifier: MIT */
/* JSON Lines text of the jsonl plugin (see jsonl-writer.h and README.md).
 * A line is four parts; only the value is formatted for every point:
 * - the head, {"metric":…,"unit":…,"unit_display":…, depends only on the
 *   metric: built once per metric id;
 * - "timestamp":…,"timestamp_ns":…,"value": is built again only when the
 *   timestamp changes (the points of a poll share it);
 * - the tail, from ,"resource_kind": to the end of the attributes, is kept
 *   from one point to the next of the same buffer while the resource,
 *   consumer and attributes are the same (compared by value and address,
 *   see jsonl_same_attr). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl-writer.h"
#include "util/format.h"
#include "util/json.h"
#include "util/point-same.h"
#include "util/text.h"

struct jsonl_head {
    char *text; /* NULL: not built yet */
    size_t len;
};

struct jsonl_writer {
    jsonl_sink_fn sink;
    void *sink_data;
    size_t buffer_size;
    struct text out;
    struct text tmp;
    /* "timestamp":"…","timestamp_ns":…,"value": of the last timestamp
     * (the points of a poll share it) */
    bool ts_valid;
    int64_t ts_last;
    size_t ts_len;
    char ts_text[FORMAT_RFC3339_MAX + FORMAT_U64_MAX + 48];
    /* the end of the line of tail_point (NULL: none), from ,"resource_kind":
     * to }\n; kept for the next points of the same buffer that have the same
     * resource, consumer and attributes (tail_attrs: those of tail_point) */
    struct text tail;
    const struct alumet_point *tail_point;
    const struct alumet_attr *tail_attrs;
    struct jsonl_head *heads; /* by metric id */
    size_t n_heads;
    int failed; /* a sink error, returned by every later call */
};

/* ---- text ---- */

/* Append a string literal. */
#define JSONL_ADD_LIT(b, lit) text_add((b), (lit), sizeof(lit) - 1)

/* Bytes that jsonl_escape changes: controls, '"', '\\' and non-ASCII (checked
 * as UTF-8). */
static bool jsonl_plain(const char *s, size_t len)
{
    /* 8 bytes at a time: a byte >= 0x80, < 0x20, '"' or '\\' makes a
     * lane of bad non-zero ("hasless" of Bit Twiddling Hacks: exact for
     * whether any byte is below n <= 128) */
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x, q, b;
        memcpy(&x, s + i, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        uint64_t bad = (x & highs) | ((x - ones * 0x20) & ~x & highs) | ((q - ones) & ~q & highs) |
                       ((b - ones) & ~b & highs);
        if (bad)
            return false;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* Append "s" (quoted and escaped). */
static int jsonl_text_add_string(struct text *b, const char *s, size_t len)
{
    int r = text_reserve(b, 6 * len + 3);
    if (r < 0)
        return r;
    b->s[b->len++] = '"';
    if (jsonl_plain(s, len)) {
        memcpy(b->s + b->len, s, len);
        b->len += len;
    } else {
        b->len += json_escape(s, len, b->s + b->len, true);
    }
    b->s[b->len++] = '"';
    return 0;
}

/* ---- strings and numbers ---- */

size_t jsonl_escape(const char *s, size_t len, char *out)
{
    return json_escape(s, len, out, true);
}

/* ---- writer ---- */

struct jsonl_writer *jsonl_writer_new(size_t buffer_size, jsonl_sink_fn sink, void *sink_data)
{
    struct jsonl_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->sink = sink;
    w->sink_data = sink_data;
    w->buffer_size = buffer_size ? buffer_size : JSONL_WRITER_BUFFER_SIZE;
    return w;
}

struct jsonl_writer *jsonl_writer_free(struct jsonl_writer *w)
{
    if (!w)
        return NULL;
    for (size_t i = 0; i < w->n_heads; i++)
        free(w->heads[i].text);
    free(w->heads);
    free(w->out.s);
    free(w->tmp.s);
    free(w->tail.s);
    free(w);
    return NULL;
}

int jsonl_writer_flush(struct jsonl_writer *w)
{
    if (w->failed)
        return w->failed;
    if (w->out.len == 0)
        return 0;
    int r = w->sink(w->sink_data, w->out.s, w->out.len);
    w->out.len = 0;
    if (r < 0)
        w->failed = r;
    return r;
}

/* The start of the lines of metric id, built when first needed. */
static const struct jsonl_head *jsonl_head(struct jsonl_writer *w,
                                           const struct alumet_registry *reg, alumet_metric_id id,
                                           struct alumet_error *err, int *ret_r)
{
    if (id < w->n_heads && w->heads[id].text)
        return &w->heads[id];
    const struct alumet_metric *m = alumet_registry_get(reg, id);
    if (!m) {
        *ret_r = alumet_error_set(err, -EINVAL, "unknown metric id %u in a buffer", (unsigned)id);
        return NULL;
    }
    *ret_r = -ENOMEM;
    if (id >= w->n_heads) {
        size_t n = (size_t)id + 1 > 2 * w->n_heads ? (size_t)id + 1 : 2 * w->n_heads;
        struct jsonl_head *h = realloc(w->heads, n * sizeof(*h));
        if (!h)
            return NULL;
        memset(h + w->n_heads, 0, (n - w->n_heads) * sizeof(*h));
        w->heads = h;
        w->n_heads = n;
    }
    char unique[256], display[256];
    const char *u = m->unit_unique, *du = m->unit_display;
    if (!u) {
        alumet_unit_unique_name(&m->unit, unique, sizeof(unique));
        u = unique;
    }
    if (!du) {
        alumet_unit_display_name(&m->unit, display, sizeof(display));
        du = display;
    }
    struct text t = {0};
    if (text_adds(&t, "{\"metric\":") < 0 ||
        jsonl_text_add_string(&t, m->name, strlen(m->name)) < 0 ||
        text_adds(&t, ",\"unit\":") < 0 || jsonl_text_add_string(&t, u, strlen(u)) < 0 ||
        text_adds(&t, ",\"unit_display\":") < 0 || jsonl_text_add_string(&t, du, strlen(du)) < 0 ||
        text_adds(&t, ",") < 0) {
        free(t.s);
        return NULL;
    }
    w->heads[id] = (struct jsonl_head){t.s, t.len};
    *ret_r = 0;
    return &w->heads[id];
}

/* The id text of the resource (consumer false) or consumer of p, in w->tmp,
 * its length in *ret_len. 0 or -ENOMEM. */
static int jsonl_id_text(struct jsonl_writer *w, const struct alumet_point *p, bool consumer,
                         size_t *ret_len)
{
    if (w->tmp.cap < 64 && text_reserve(&w->tmp, 64) < 0)
        return -ENOMEM;
    for (;;) {
        size_t n = consumer ? alumet_consumer_id_text(&p->consumer, w->tmp.s, w->tmp.cap)
                            : alumet_resource_id_text(&p->resource, w->tmp.s, w->tmp.cap);
        if (n < w->tmp.cap) {
            *ret_len = n;
            return 0;
        }
        if (text_reserve(&w->tmp, n + 1) < 0)
            return -ENOMEM;
    }
}

static int jsonl_add_attr_value(struct text *b, const struct alumet_attr *a)
{
    switch (a->type) {
    case ALUMET_ATTR_F64:
        return json_text_add_f64(b, a->v.f64);
    case ALUMET_ATTR_U64:
        return json_text_add_u64(b, a->v.u64);
    case ALUMET_ATTR_BOOL:
        return text_adds(b, a->v.b ? "true" : "false");
    case ALUMET_ATTR_STR:
        return jsonl_text_add_string(b, a->v.str, strlen(a->v.str));
    case ALUMET_ATTR_LIST_U64: {
        int r = text_add(b, "[", 1);
        for (size_t i = 0; r == 0 && i < a->v.list.len; i++) {
            if (i > 0)
                r = text_add(b, ",", 1);
            if (r == 0)
                r = json_text_add_u64(b, a->v.list.items[i]);
        }
        return r < 0 ? r : text_add(b, "]", 1);
    }
    }
    return text_adds(b, "null");
}

/* The attributes object: keys in order of first appearance, the last value of
 * a repeated key (JSON objects should not repeat a key). */
static int jsonl_add_attrs(struct text *b, const struct alumet_attr *attrs, uint32_t n)
{
    int r = text_add(b, "{", 1);
    bool first = true;
    for (uint32_t i = 0; r == 0 && i < n; i++) {
        uint32_t last = i;
        bool seen = false;
        for (uint32_t j = 0; j < n && !seen; j++) {
            if (j != i &&
                (attrs[j].key == attrs[i].key || strcmp(attrs[j].key, attrs[i].key) == 0)) {
                if (j < i)
                    seen = true;
                else
                    last = j;
            }
        }
        if (seen)
            continue;
        if (!first)
            r = text_add(b, ",", 1);
        first = false;
        if (r == 0)
            r = jsonl_text_add_string(b, attrs[i].key, strlen(attrs[i].key));
        if (r == 0)
            r = text_add(b, ":", 1);
        if (r == 0)
            r = jsonl_add_attr_value(b, &attrs[last]);
    }
    return r < 0 ? r : text_add(b, "}", 1);
}

/* Whether point p (attributes attrs) ends its line with the text of the tail
 * point of w. */
static bool jsonl_same_tail(const struct jsonl_writer *w, const struct alumet_point *p,
                            const struct alumet_attr *attrs)
{
    const struct alumet_point *q = w->tail_point;
    if (!q || p->attr_count != q->attr_count || !point_same_resource(&p->resource, &q->resource) ||
        !point_same_consumer(&p->consumer, &q->consumer))
        return false;
    for (uint32_t i = 0; i < p->attr_count; i++) {
        if (!point_same_attr(&attrs[i], &w->tail_attrs[i]))
            return false;
    }
    return true;
}

/* The end of the line of p, from ,"resource_kind": to }\n, into w->tail. */
static int jsonl_build_tail(struct jsonl_writer *w, const struct alumet_point *p,
                            const struct alumet_attr *attrs)
{
    struct text *t = &w->tail;
    const char *rk = alumet_resource_kind_name(&p->resource);
    const char *ck = alumet_consumer_kind_name(&p->consumer);
    size_t n;
    int r;

    w->tail_point = NULL;
    t->len = 0;
    if ((r = JSONL_ADD_LIT(t, ",\"resource_kind\":")) < 0 ||
        (r = jsonl_text_add_string(t, rk, strlen(rk))) < 0 ||
        (r = JSONL_ADD_LIT(t, ",\"resource_id\":")) < 0 ||
        (r = jsonl_id_text(w, p, /* consumer= */ false, &n)) < 0 ||
        (r = jsonl_text_add_string(t, w->tmp.s, n)) < 0 ||
        (r = JSONL_ADD_LIT(t, ",\"consumer_kind\":")) < 0 ||
        (r = jsonl_text_add_string(t, ck, strlen(ck))) < 0 ||
        (r = JSONL_ADD_LIT(t, ",\"consumer_id\":")) < 0 ||
        (r = jsonl_id_text(w, p, /* consumer= */ true, &n)) < 0 ||
        (r = jsonl_text_add_string(t, w->tmp.s, n)) < 0 ||
        (r = JSONL_ADD_LIT(t, ",\"attributes\":")) < 0 ||
        (r = jsonl_add_attrs(t, attrs, p->attr_count)) < 0 || (r = JSONL_ADD_LIT(t, "}\n")) < 0)
        return r;
    w->tail_point = p;
    w->tail_attrs = attrs;
    return 0;
}

/* "timestamp":"…","timestamp_ns":…,"value": of ts, into w->ts_text. */
static void jsonl_build_ts(struct jsonl_writer *w, alumet_time_ns ts)
{
    char *t = w->ts_text;
    size_t n = 0;

    memcpy(t, "\"timestamp\":\"", 13);
    n = 13;
    n += format_rfc3339(ts, t + n, FORMAT_RFC3339_MAX);
    memcpy(t + n, "\",\"timestamp_ns\":", 17);
    n += 17;
    if (ts < 0)
        t[n++] = '-';
    n += format_u64(ts < 0 ? -(uint64_t)ts : (uint64_t)ts, t + n);
    memcpy(t + n, ",\"value\":", 9);
    w->ts_len = n + 9;
    w->ts_last = ts;
    w->ts_valid = true;
}

/* Every line is three texts kept between points (the head of its metric, the
 * timestamp, the tail of its resource, consumer and attributes) around the
 * value: one reservation, three copies and a number per point. */
int jsonl_writer_write_buffer(struct jsonl_writer *w, const struct alumet_buffer *buf,
                              const struct alumet_registry *reg, struct alumet_error *err)
{
    size_t n = alumet_buffer_len(buf);
    int r = 0;

    if (w->failed)
        return w->failed;
    /* the strings of the last buffer are gone; their addresses may be reused */
    w->tail_point = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct jsonl_head *head = p->metric < w->n_heads && w->heads[p->metric].text
                                            ? &w->heads[p->metric]
                                            : jsonl_head(w, reg, p->metric, err, &r);
        if (!head)
            return r;
        const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
        if (!jsonl_same_tail(w, p, attrs) && (r = jsonl_build_tail(w, p, attrs)) < 0)
            return r;
        if (!w->ts_valid || w->ts_last != p->timestamp)
            jsonl_build_ts(w, p->timestamp);
        if ((r = text_reserve(&w->out,
                              head->len + w->ts_len + FORMAT_F64_POINT_MAX + w->tail.len)) < 0)
            return r;
        char *o = w->out.s + w->out.len;
        memcpy(o, head->text, head->len);
        o += head->len;
        memcpy(o, w->ts_text, w->ts_len);
        o += w->ts_len;
        if (p->value_type == ALUMET_VALUE_U64)
            o += format_u64(p->value.u64, o);
        else
            o += format_f64_json(p->value.f64, o, FORMAT_F64_POINT_MAX);
        memcpy(o, w->tail.s, w->tail.len);
        o += w->tail.len;
        w->out.len = (size_t)(o - w->out.s);
        if (w->out.len >= w->buffer_size && (r = jsonl_writer_flush(w)) < 0)
            return r;
    }
    return 0;
}
