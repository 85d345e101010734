/* SPDX-License-Identifier: MIT */
/* The _bulk body of the elasticsearch plugin (NDJSON, two lines a point),
 * and the reading of the bulk response, item by item. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elasticsearch.h"
#include "util/format.h"

/* Attribute names that would collide with the fixed fields: prefixed "__".
 * ("value" is added here: upstream writes a duplicate key.) */
static const char *const es_reserved[] = {
    "@timestamp", "resource_kind", "resource_id", "consumer_kind", "consumer_id", "value",
};

void es_batch_clear(struct es_batch *b)
{
    b->text.len = 0;
    if (b->text.s)
        b->text.s[0] = '\0';
    b->n = 0;
}

void es_batch_done(struct es_batch *b)
{
    text_done(&b->text);
    free(b->off);
    *b = (struct es_batch){0};
}

static int es_batch_begin_item(struct es_batch *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        size_t *off = realloc(b->off, cap * sizeof(*off));
        if (!off)
            return -ENOMEM;
        b->off = off;
        b->cap = cap;
    }
    b->off[b->n++] = b->text.len;
    return 0;
}

int es_batch_copy_item(struct es_batch *b, const struct es_batch *from, size_t i)
{
    size_t end = i + 1 < from->n ? from->off[i + 1] : from->text.len;
    int r = es_batch_begin_item(b);
    return r < 0 ? r : text_add(&b->text, from->text.s + from->off[i], end - from->off[i]);
}

void es_format_done(struct es_format *f)
{
    for (size_t i = 0; i < f->n_actions; i++)
        free(f->actions[i]);
    free(f->actions);
    free(f->prefix);
    *f = (struct es_format){0};
}

void es_index_name(const char *text, char *out, size_t size)
{
    size_t n = 0;
    for (; *text && n + 1 < size; text++) {
        char c = *text;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (strchr("\\/*?\"<>| ,#:", c))
            c = '_';
        out[n++] = c;
    }
    out[n] = '\0';
}

/* The action line of metric m, built once. */
static const char *es_action(struct es_format *f, const struct alumet_metric *m)
{
    if (m->id >= f->n_actions) {
        size_t n = m->id + 16;
        char **a = realloc(f->actions, n * sizeof(*a));
        if (!a)
            return NULL;
        memset(a + f->n_actions, 0, (n - f->n_actions) * sizeof(*a));
        f->actions = a;
        f->n_actions = n;
    }
    if (!f->actions[m->id]) {
        char raw[1024], index[1024];
        if (f->unit_suffix && m->unit_unique && *m->unit_unique)
            snprintf(raw, sizeof(raw), "%s-%s-%s", f->prefix, m->name, m->unit_unique);
        else
            snprintf(raw, sizeof(raw), "%s-%s", f->prefix, m->name);
        es_index_name(raw, index, sizeof(index));
        struct text t = {0};
        if (text_adds(&t, "{\"create\":{\"_index\":") < 0 ||
            json_text_add_string(&t, index, (size_t)-1) < 0 || text_adds(&t, "}}\n") < 0) {
            text_done(&t);
            return NULL;
        }
        f->actions[m->id] = t.s;
    }
    return f->actions[m->id];
}

static int es_add_key(struct text *t, const char *key)
{
    int r = text_adds(t, ",");
    if (r == 0)
        r = json_text_add_string(t, key, (size_t)-1);
    return r == 0 ? text_adds(t, ":") : r;
}

static int es_add_attr(struct text *t, const struct alumet_attr *a)
{
    char key[512];
    const char *k = a->key;
    int r;

    for (size_t i = 0; i < sizeof(es_reserved) / sizeof(es_reserved[0]); i++) {
        if (strcmp(k, es_reserved[i]) == 0) {
            snprintf(key, sizeof(key), "__%s", k);
            k = key;
            break;
        }
    }
    r = es_add_key(t, k);
    if (r < 0)
        return r;
    return json_text_add_attr_value(t, a);
}

static int es_add_point(struct es_batch *b, struct es_format *f, const struct alumet_buffer *buf,
                        const struct alumet_point *p, const struct alumet_registry *reg)
{
    const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
    char ts[FORMAT_RFC3339_MAX], rid[256], cid[4096];
    struct text *t = &b->text;

    if (!m)
        return -EINVAL;
    const char *action = es_action(f, m);
    if (!action)
        return -ENOMEM;
    format_rfc3339(p->timestamp, ts, sizeof(ts));
    alumet_resource_id_text(&p->resource, rid, sizeof(rid));
    alumet_consumer_id_text(&p->consumer, cid, sizeof(cid));
    int r = es_batch_begin_item(b);
    if (r == 0)
        r = text_adds(t, action);
    if (r == 0)
        r = text_adds(t, "{\"@timestamp\":\"");
    if (r == 0)
        r = text_adds(t, ts);
    if (r == 0)
        r = text_adds(t, "\",\"resource_kind\":");
    if (r == 0)
        r = json_text_add_string(t, alumet_resource_kind_name(&p->resource), (size_t)-1);
    if (r == 0)
        r = text_adds(t, ",\"resource_id\":");
    if (r == 0)
        r = json_text_add_string(t, rid, (size_t)-1);
    if (r == 0)
        r = text_adds(t, ",\"consumer_kind\":");
    if (r == 0)
        r = json_text_add_string(t, alumet_consumer_kind_name(&p->consumer), (size_t)-1);
    if (r == 0)
        r = text_adds(t, ",\"consumer_id\":");
    if (r == 0)
        r = json_text_add_string(t, cid, (size_t)-1);
    if (r == 0)
        r = text_adds(t, ",\"value\":");
    if (r == 0)
        r = p->value_type == ALUMET_VALUE_U64 ? json_text_add_u64(t, p->value.u64)
                                              : json_text_add_f64(t, p->value.f64);
    const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
    for (uint32_t i = 0; r == 0 && i < p->attr_count; i++)
        r = es_add_attr(t, &attrs[i]);
    return r == 0 ? text_adds(t, "}\n") : r;
}

int es_batch_add_buffer(struct es_batch *b, struct es_format *f, const struct alumet_buffer *buf,
                        const struct alumet_registry *reg)
{
    size_t n = alumet_buffer_len(buf);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = es_add_point(b, f, buf, alumet_buffer_get(buf, i), reg);
    return r;
}

bool es_status_is_transient(int status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

/* {"errors":false,...}: every item was stored, no need to read them. */
static bool es_no_errors(const char *s, size_t len)
{
    static const char key[] = "\"errors\"";
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", s[i]))
        i++;
    if (i >= len || s[i++] != '{')
        return false;
    while (i < len && strchr(" \t\r\n", s[i]))
        i++;
    if (len - i < sizeof(key) - 1 || memcmp(s + i, key, sizeof(key) - 1) != 0)
        return false;
    i += sizeof(key) - 1;
    while (i < len && strchr(" \t\r\n:", s[i]))
        i++;
    return len - i >= 5 && memcmp(s + i, "false", 5) == 0;
}

int es_bulk_outcome(const char *text, size_t len, size_t n, int *statuses, char why[2][512])
{
    const size_t size = 512;
    struct json *root = NULL;
    int failed = 0;

    for (size_t i = 0; i < n; i++)
        statuses[i] = 201;
    why[0][0] = why[1][0] = '\0';
    if (es_no_errors(text, len))
        return 0;
    int r = json_parse(text, len, &root, why[0], size);
    if (r < 0)
        return r;
    const struct json *errors = json_get(root, "errors");
    const struct json *items = json_get(root, "items");
    if (errors && errors->type == JSON_BOOL && !errors->b) {
        json_free(root);
        return 0;
    }
    if (!items || items->type != JSON_ARRAY || json_len(items) != n) {
        snprintf(why[0], size, "a bulk response with %zu items for %zu documents",
                 items ? json_len(items) : 0, n);
        json_free(root);
        return -EINVAL;
    }
    size_t i = 0;
    for (const struct json *it = items->child; it; it = it->next, i++) {
        /* {"create":{"status":429,"error":{"type":"…","reason":"…"}}} */
        const struct json *op = it->type == JSON_OBJECT ? it->child : NULL;
        const struct json *st = json_get(op, "status");
        int status = st && st->type == JSON_NUMBER ? (int)st->num : 0;
        statuses[i] = status;
        if (status >= 200 && status < 300)
            continue;
        failed++;
        char *w = why[es_status_is_transient(status) ? 0 : 1];
        if (!w[0]) {
            const struct json *err = json_get(op, "error");
            const struct json *type = json_get(err, "type");
            const struct json *reason = json_get(err, "reason");
            snprintf(w, size, "%d %s: %s", status,
                     type && type->type == JSON_STRING ? type->str : "error",
                     reason && reason->type == JSON_STRING ? reason->str : "(no reason given)");
        }
    }
    json_free(root);
    return failed;
}
