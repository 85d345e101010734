/* SPDX-License-Identifier: MIT */
/* JSON Lines text of the jsonl plugin (see jsonl-writer.h and README.md).
 * The start of every line, {"metric":…,"unit":…,"unit_display":…, depends
 * only on the metric: it is built once per metric id and copied. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl-writer.h"
#include "util/format.h"
#include "util/json.h"

struct jsonl_text {
    char *s;
    size_t len;
    size_t cap;
};

struct jsonl_head {
    char *text; /* NULL: not built yet */
    size_t len;
};

struct jsonl_writer {
    jsonl_sink_fn sink;
    void *sink_data;
    size_t buffer_size;
    struct jsonl_text out;
    struct jsonl_text tmp;
    /* "timestamp":"…","timestamp_ns":…,"value": of the last timestamp
     * (the points of a poll share it) */
    bool ts_valid;
    int64_t ts_last;
    size_t ts_len;
    char ts_text[FORMAT_RFC3339_MAX + FORMAT_U64_MAX + 48];
    struct jsonl_head *heads; /* by metric id */
    size_t n_heads;
    int failed; /* a sink error, returned by every later call */
};

/* ---- text ---- */

static int jsonl_text_reserve(struct jsonl_text *b, size_t more)
{
    if (more < SIZE_MAX / 8 && b->len + more < b->cap)
        return 0;
    if (more >= SIZE_MAX / 8 || b->len >= SIZE_MAX / 8)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap <= b->len + more)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s)
        return -ENOMEM;
    b->s = s;
    b->cap = cap;
    return 0;
}

static int jsonl_text_add(struct jsonl_text *b, const char *s, size_t len)
{
    int r = jsonl_text_reserve(b, len);
    if (r < 0)
        return r;
    memcpy(b->s + b->len, s, len);
    b->len += len;
    return 0;
}

static int jsonl_text_adds(struct jsonl_text *b, const char *s)
{
    return jsonl_text_add(b, s, strlen(s));
}

/* Append a string literal. */
#define JSONL_ADD_LIT(b, lit) jsonl_text_add((b), (lit), sizeof(lit) - 1)

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
static int jsonl_text_add_string(struct jsonl_text *b, const char *s, size_t len)
{
    int r = jsonl_text_reserve(b, 6 * len + 3);
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

static int jsonl_text_add_u64(struct jsonl_text *b, uint64_t v)
{
    char num[FORMAT_U64_MAX];
    return jsonl_text_add(b, num, format_u64(v, num));
}

static int jsonl_text_add_f64(struct jsonl_text *b, double v)
{
    char num[FORMAT_F64_POINT_MAX];
    return jsonl_text_add(b, num, format_f64_json(v, num, sizeof(num)));
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
    struct jsonl_text t = {0};
    if (jsonl_text_adds(&t, "{\"metric\":") < 0 ||
        jsonl_text_add_string(&t, m->name, strlen(m->name)) < 0 ||
        jsonl_text_adds(&t, ",\"unit\":") < 0 || jsonl_text_add_string(&t, u, strlen(u)) < 0 ||
        jsonl_text_adds(&t, ",\"unit_display\":") < 0 ||
        jsonl_text_add_string(&t, du, strlen(du)) < 0 || jsonl_text_adds(&t, ",") < 0) {
        free(t.s);
        return NULL;
    }
    w->heads[id] = (struct jsonl_head){t.s, t.len};
    *ret_r = 0;
    return &w->heads[id];
}

typedef size_t (*jsonl_text_fn)(const void *obj, char *buf, size_t size);

static size_t jsonl_resource_id(const void *obj, char *buf, size_t size)
{
    return alumet_resource_id_text(obj, buf, size);
}

static size_t jsonl_consumer_id(const void *obj, char *buf, size_t size)
{
    return alumet_consumer_id_text(obj, buf, size);
}

/* Append ",\"key\":\"<text of obj>\"". */
static int jsonl_add_text_field(struct jsonl_writer *w, const char *key, jsonl_text_fn fn,
                                const void *obj)
{
    if (w->tmp.cap < 64 && jsonl_text_reserve(&w->tmp, 64) < 0)
        return -ENOMEM;
    size_t n = fn(obj, w->tmp.s, w->tmp.cap);
    if (n >= w->tmp.cap) {
        if (jsonl_text_reserve(&w->tmp, n + 1) < 0)
            return -ENOMEM;
        fn(obj, w->tmp.s, w->tmp.cap);
    }
    int r = jsonl_text_adds(&w->out, key);
    return r < 0 ? r : jsonl_text_add_string(&w->out, w->tmp.s, n);
}

static int jsonl_add_attr_value(struct jsonl_text *b, const struct alumet_attr *a)
{
    switch (a->type) {
    case ALUMET_ATTR_F64:
        return jsonl_text_add_f64(b, a->v.f64);
    case ALUMET_ATTR_U64:
        return jsonl_text_add_u64(b, a->v.u64);
    case ALUMET_ATTR_BOOL:
        return jsonl_text_adds(b, a->v.b ? "true" : "false");
    case ALUMET_ATTR_STR:
        return jsonl_text_add_string(b, a->v.str, strlen(a->v.str));
    case ALUMET_ATTR_LIST_U64: {
        int r = jsonl_text_add(b, "[", 1);
        for (size_t i = 0; r == 0 && i < a->v.list.len; i++) {
            if (i > 0)
                r = jsonl_text_add(b, ",", 1);
            if (r == 0)
                r = jsonl_text_add_u64(b, a->v.list.items[i]);
        }
        return r < 0 ? r : jsonl_text_add(b, "]", 1);
    }
    }
    return jsonl_text_adds(b, "null");
}

/* The attributes object: keys in order of first appearance, the last value of
 * a repeated key (JSON objects should not repeat a key). */
static int jsonl_add_attrs(struct jsonl_text *b, const struct alumet_attr *attrs, uint32_t n)
{
    int r = jsonl_text_add(b, "{", 1);
    bool first = true;
    for (uint32_t i = 0; r == 0 && i < n; i++) {
        uint32_t last = i;
        bool seen = false;
        for (uint32_t j = 0; j < n && !seen; j++) {
            if (j != i && strcmp(attrs[j].key, attrs[i].key) == 0) {
                if (j < i)
                    seen = true;
                else
                    last = j;
            }
        }
        if (seen)
            continue;
        if (!first)
            r = jsonl_text_add(b, ",", 1);
        first = false;
        if (r == 0)
            r = jsonl_text_add_string(b, attrs[i].key, strlen(attrs[i].key));
        if (r == 0)
            r = jsonl_text_add(b, ":", 1);
        if (r == 0)
            r = jsonl_add_attr_value(b, &attrs[last]);
    }
    return r < 0 ? r : jsonl_text_add(b, "}", 1);
}

static int jsonl_write_point(struct jsonl_writer *w, const struct alumet_buffer *buf,
                             const struct alumet_point *p, const struct jsonl_head *head)
{
    struct jsonl_text *o = &w->out;
    int r;

    if (!w->ts_valid || w->ts_last != p->timestamp) {
        char *t = w->ts_text;
        size_t n = 0;
        memcpy(t, "\"timestamp\":\"", 13);
        n = 13;
        n += format_rfc3339(p->timestamp, t + n, FORMAT_RFC3339_MAX);
        memcpy(t + n, "\",\"timestamp_ns\":", 17);
        n += 17;
        if (p->timestamp < 0)
            t[n++] = '-';
        n += format_u64(p->timestamp < 0 ? -(uint64_t)p->timestamp : (uint64_t)p->timestamp, t + n);
        memcpy(t + n, ",\"value\":", 9);
        w->ts_len = n + 9;
        w->ts_last = p->timestamp;
        w->ts_valid = true;
    }
    if ((r = jsonl_text_add(o, head->text, head->len)) < 0 ||
        (r = jsonl_text_add(o, w->ts_text, w->ts_len)) < 0)
        return r;
    r = p->value_type == ALUMET_VALUE_U64 ? jsonl_text_add_u64(o, p->value.u64)
                                          : jsonl_text_add_f64(o, p->value.f64);
    if (r < 0)
        return r;
    const char *rk = alumet_resource_kind_name(&p->resource);
    const char *ck = alumet_consumer_kind_name(&p->consumer);
    if ((r = JSONL_ADD_LIT(o, ",\"resource_kind\":")) < 0 ||
        (r = jsonl_text_add_string(o, rk, strlen(rk))) < 0 ||
        (r = jsonl_add_text_field(w, ",\"resource_id\":", jsonl_resource_id, &p->resource)) < 0 ||
        (r = JSONL_ADD_LIT(o, ",\"consumer_kind\":")) < 0 ||
        (r = jsonl_text_add_string(o, ck, strlen(ck))) < 0 ||
        (r = jsonl_add_text_field(w, ",\"consumer_id\":", jsonl_consumer_id, &p->consumer)) < 0 ||
        (r = JSONL_ADD_LIT(o, ",\"attributes\":")) < 0 ||
        (r = jsonl_add_attrs(o, alumet_point_attrs(buf, p), p->attr_count)) < 0)
        return r;
    return jsonl_text_add(o, "}\n", 2);
}

int jsonl_writer_write_buffer(struct jsonl_writer *w, const struct alumet_buffer *buf,
                              const struct alumet_registry *reg, struct alumet_error *err)
{
    size_t n = alumet_buffer_len(buf);
    int r = 0;

    if (w->failed)
        return w->failed;
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct jsonl_head *head = jsonl_head(w, reg, p->metric, err, &r);
        if (!head)
            return r;
        size_t start = w->out.len;
        r = jsonl_write_point(w, buf, p, head);
        if (r < 0) {
            w->out.len = start; /* no half line */
            return r;
        }
        if (w->out.len >= w->buffer_size && (r = jsonl_writer_flush(w)) < 0)
            return r;
    }
    return 0;
}
