/* SPDX-License-Identifier: MIT */
/* The series table of prometheus-remote-write: the families (exported names
 * of each metric) and the label sets met so far, with the running total of
 * the delta series (their counter). The names and labels are built as
 * prometheus-exporter builds them (see its README.md, "Names" and "Labels"),
 * except that labels with an empty value are left out, as Prometheus drops
 * them from a scrape.
 *
 * Memory: series live in one array (indices, so that it can grow), chained
 * from a power-of-two bucket array by a hash of their family and labels;
 * removed slots go to a free list. The labels of each point are built in
 * scratch buffers of the table: no allocation per point once its series
 * exists. Used by the output thread only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus-remote-write.h"

/* One label of the point being built: offsets into scratch. */
struct prw_label {
    size_t key, key_len;
    size_t value, value_len;
};

struct prw_table {
    char *prefix;
    char *suffix;
    bool add_attributes;
    char **counter_metrics;
    size_t n_counter_metrics;
    char **extra; /* name, value, name, value... */
    size_t n_extra;
    alumet_time_ns expiry;
    alumet_time_ns last_sweep;

    struct prw_family *families;
    char **family_keys; /* sanitize(prefix + name + suffix) of each family */
    size_t n_families, cap_families;
    uint32_t *metric_family; /* metric id -> family index + 1, 0 = not seen yet */
    size_t n_metric_family;

    struct prw_series *series;
    size_t n_series, cap_series;
    uint32_t free_list;
    size_t live;
    uint32_t *buckets;
    size_t n_buckets; /* a power of two */

    struct text scratch;
    struct text key;
    struct prw_label *labels;
    size_t cap_labels;
};

static char **prw_strv_dup(const char *const *v, size_t n)
{
    char **d = calloc(n + 1, sizeof(*d));
    for (size_t i = 0; d && i < n; i++) {
        d[i] = strdup(v[i]);
        if (!d[i]) {
            for (size_t k = 0; k < i; k++)
                free(d[k]);
            free(d);
            return NULL;
        }
    }
    return d;
}

static void prw_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- table life ---- */

struct prw_table *prw_table_new(const struct prw_naming *naming)
{
    struct prw_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->prefix = strdup(naming->prefix ? naming->prefix : "");
    t->suffix = strdup(naming->suffix ? naming->suffix : "");
    t->add_attributes = naming->add_attributes_to_labels;
    t->expiry = naming->series_expiry;
    t->n_buckets = 64;
    t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
    t->counter_metrics = prw_strv_dup(naming->counter_metrics, naming->n_counter_metrics);
    t->n_counter_metrics = naming->n_counter_metrics;
    t->extra = calloc(2 * naming->n_extra + 1, sizeof(*t->extra));
    bool ok = t->prefix && t->suffix && t->buckets && t->counter_metrics && t->extra;
    for (size_t i = 0; ok && i < naming->n_extra; i++) {
        ok = (t->extra[2 * i] = strdup(naming->extra_names[i])) != NULL &&
             (t->extra[2 * i + 1] = strdup(naming->extra_values[i])) != NULL;
        t->n_extra = i + 1;
    }
    if (!ok) {
        prw_table_free(t);
        return NULL;
    }
    return t;
}

void prw_table_free(struct prw_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_families; i++) {
        free(t->families[i].gauge);
        free(t->families[i].counter);
        free(t->family_keys[i]);
    }
    for (size_t i = 0; i < t->n_series; i++)
        free(t->series[i].labels);
    prw_strv_free(t->counter_metrics, t->n_counter_metrics);
    prw_strv_free(t->extra, 2 * t->n_extra);
    free(t->families);
    free(t->family_keys);
    free(t->metric_family);
    free(t->series);
    free(t->buckets);
    free(t->scratch.s);
    free(t->key.s);
    free(t->labels);
    free(t->prefix);
    free(t->suffix);
    free(t);
}

const struct prw_family *prw_table_family_get(const struct prw_table *t, uint32_t fi)
{
    return &t->families[fi];
}

struct prw_series *prw_table_series_get(struct prw_table *t, uint32_t si)
{
    return &t->series[si];
}

size_t prw_table_series_count(const struct prw_table *t)
{
    return t->live;
}

/* ---- families ---- */

/* "<key>[<middle>][_<unit>][<end>]" */
static char *prw_name_join(const char *key, const char *middle, const char *unit, const char *end)
{
    struct text b = {0};
    int r = text_adds(&b, key);
    if (r == 0)
        r = text_adds(&b, middle);
    if (r == 0 && *unit)
        r = text_adds(&b, "_");
    if (r == 0)
        r = text_adds(&b, unit);
    if (r == 0)
        r = text_adds(&b, end);
    if (r < 0) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static int prw_family_add(struct prw_table *t, char *key, const struct alumet_metric *m)
{
    if (t->n_families == t->cap_families) {
        size_t cap = t->cap_families ? 2 * t->cap_families : 16;
        struct prw_family *fs = realloc(t->families, cap * sizeof(*fs));
        if (!fs)
            return -ENOMEM;
        t->families = fs;
        char **ks = realloc(t->family_keys, cap * sizeof(*ks));
        if (!ks)
            return -ENOMEM;
        t->family_keys = ks;
        t->cap_families = cap;
    }
    char *unit = prom_unit_word(&m->unit);
    if (!unit)
        return -ENOMEM;
    struct prw_family f = {
        .gauge = prw_name_join(key, "", unit, ""),
        .counter = prom_metric_is_delta(m, t->counter_metrics, t->n_counter_metrics)
                       ? prw_name_join(key, "_cumulative", unit, "_total")
                       : NULL,
    };
    free(unit);
    if (!f.gauge ||
        (prom_metric_is_delta(m, t->counter_metrics, t->n_counter_metrics) && !f.counter)) {
        free(f.gauge);
        free(f.counter);
        return -ENOMEM;
    }
    t->families[t->n_families] = f;
    t->family_keys[t->n_families] = key;
    t->n_families++;
    return 0;
}

int prw_table_family(struct prw_table *t, const struct alumet_registry *reg, alumet_metric_id id,
                     struct alumet_error *err)
{
    if (id < t->n_metric_family && t->metric_family[id])
        return (int)t->metric_family[id] - 1;
    const struct alumet_metric *m = alumet_registry_get(reg, id);
    if (!m)
        return alumet_error_set(err, -EINVAL, "unknown metric id %u in a buffer", (unsigned)id);

    struct text full = {0};
    int r = text_adds(&full, t->prefix);
    if (r == 0)
        r = text_adds(&full, m->name);
    if (r == 0)
        r = text_adds(&full, t->suffix);
    char *key = r == 0 ? prom_sanitized_dup(full.s, full.len) : NULL;
    free(full.s);
    if (!key)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    /* metrics whose names sanitize alike share the first one's family */
    size_t fi = 0;
    while (fi < t->n_families && strcmp(t->family_keys[fi], key) != 0)
        fi++;
    if (fi < t->n_families) {
        free(key);
    } else if ((r = prw_family_add(t, key, m)) < 0) {
        free(key);
        return alumet_error_set(err, r, "out of memory");
    }

    if (id >= t->n_metric_family) {
        size_t n =
            (size_t)id + 1 > 2 * t->n_metric_family ? (size_t)id + 1 : 2 * t->n_metric_family;
        uint32_t *mf = realloc(t->metric_family, n * sizeof(*mf));
        if (!mf)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        memset(mf + t->n_metric_family, 0, (n - t->n_metric_family) * sizeof(*mf));
        t->metric_family = mf;
        t->n_metric_family = n;
    }
    t->metric_family[id] = (uint32_t)fi + 1;
    return (int)fi;
}

/* ---- the labels of a point ---- */

static int prw_label_push(struct prw_table *t, size_t *n, size_t key, size_t key_len, size_t value,
                          size_t value_len)
{
    if (*n == t->cap_labels) {
        size_t cap = t->cap_labels ? 2 * t->cap_labels : 16;
        struct prw_label *l = realloc(t->labels, cap * sizeof(*l));
        if (!l)
            return -ENOMEM;
        t->labels = l;
        t->cap_labels = cap;
    }
    t->labels[(*n)++] = (struct prw_label){key, key_len, value, value_len};
    return 0;
}

/* Append s to scratch; *ret_off = its offset. */
static int prw_scratch_add(struct prw_table *t, const char *s, size_t len, size_t *ret_off)
{
    *ret_off = t->scratch.len;
    return text_add(&t->scratch, s, len);
}

static int prw_label_add(struct prw_table *t, size_t *n, const char *key, const char *value,
                         size_t value_len)
{
    size_t k, v = 0;
    int r = prw_scratch_add(t, key, strlen(key), &k);
    if (r == 0)
        r = prw_scratch_add(t, value, value_len, &v);
    return r < 0 ? r : prw_label_push(t, n, k, strlen(key), v, value_len);
}

static int prw_label_text(struct prw_table *t, size_t *n, const char *key, text_writer fn,
                          const void *obj)
{
    size_t k, vn = 0;
    int r = prw_scratch_add(t, key, strlen(key), &k);
    size_t v = t->scratch.len;
    if (r == 0)
        r = text_add_written(&t->scratch, fn, obj, &vn);
    return r < 0 ? r : prw_label_push(t, n, k, strlen(key), v, vn);
}

static int prw_attr_label(struct prw_table *t, size_t *n, const struct alumet_attr *a)
{
    size_t klen = strlen(a->key);
    if (text_reserve(&t->scratch, klen + sizeof(PROM_ATTR_RENAME) + 1) < 0)
        return -ENOMEM;
    size_t k = t->scratch.len;
    size_t kn = prom_attr_label_name(a->key, klen, t->scratch.s + k);
    t->scratch.len += kn;
    size_t v = t->scratch.len, vn;
    int r = text_add_written(&t->scratch, text_of_attr, a, &vn);
    return r < 0 ? r : prw_label_push(t, n, k, kn, v, vn);
}

static int prw_label_cmp(const struct prw_table *t, const struct prw_label *a,
                         const struct prw_label *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(t->scratch.s + a->key, t->scratch.s + b->key, n);
    if (c)
        return c;
    return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/* Whether the label name key (len bytes, not NUL-terminated) sorts before
 * "__name__" in byte order. */
static bool prw_key_before_name(const char *key, size_t len)
{
    static const char name[] = "__name__";
    size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
    int c = memcmp(key, name, n);
    return c < 0 || (c == 0 && len < sizeof(name) - 1);
}

/* Build the labels of p into t->key as "name\0value\0" pairs: the extra
 * labels, the four fixed labels and the attributes, sorted by name (byte
 * order); of labels with the same name the last one wins, so a point's label
 * beats an extra label; empty values left out. *ret_n: the pairs,
 * *ret_name_pos: where __name__ goes. */
static int prw_point_labels(struct prw_table *t, const struct alumet_buffer *buf,
                            const struct alumet_point *p, uint32_t *ret_n, uint32_t *ret_name_pos)
{
    size_t n = 0;
    int r = 0;

    t->scratch.len = 0;
    t->key.len = 0;
    for (size_t i = 0; r == 0 && i < t->n_extra; i++)
        r = prw_label_add(t, &n, t->extra[2 * i], t->extra[2 * i + 1], strlen(t->extra[2 * i + 1]));
    const char *rk = alumet_resource_kind_name(&p->resource);
    const char *ck = alumet_consumer_kind_name(&p->consumer);
    if (r == 0)
        r = prw_label_add(t, &n, prom_fixed_labels[0], rk, strlen(rk));
    if (r == 0)
        r = prw_label_text(t, &n, prom_fixed_labels[1], text_of_resource_id, &p->resource);
    if (r == 0)
        r = prw_label_add(t, &n, prom_fixed_labels[2], ck, strlen(ck));
    if (r == 0)
        r = prw_label_text(t, &n, prom_fixed_labels[3], text_of_consumer_id, &p->consumer);
    if (r == 0 && t->add_attributes) {
        const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
        for (uint32_t i = 0; r == 0 && i < p->attr_count; i++)
            r = prw_attr_label(t, &n, &attrs[i]);
    }
    if (r < 0)
        return r;

    /* insertion sort: a handful of labels, and stable */
    for (size_t i = 1; i < n; i++) {
        struct prw_label x = t->labels[i];
        size_t j = i;
        while (j > 0 && prw_label_cmp(t, &t->labels[j - 1], &x) > 0) {
            t->labels[j] = t->labels[j - 1];
            j--;
        }
        t->labels[j] = x;
    }

    uint32_t pairs = 0, name_pos = 0;
    for (size_t i = 0; i < n; i++) {
        const struct prw_label *l = &t->labels[i];
        if (i + 1 < n && prw_label_cmp(t, l, &t->labels[i + 1]) == 0)
            continue; /* a later label of the same name wins */
        if (l->value_len == 0)
            continue; /* Prometheus drops labels with an empty value */
        if ((r = text_add(&t->key, t->scratch.s + l->key, l->key_len)) < 0 ||
            (r = text_add(&t->key, "", 1)) < 0 ||
            (r = text_add(&t->key, t->scratch.s + l->value, l->value_len)) < 0 ||
            (r = text_add(&t->key, "", 1)) < 0)
            return r;
        if (prw_key_before_name(t->scratch.s + l->key, l->key_len))
            name_pos = pairs + 1;
        pairs++;
    }
    *ret_n = pairs;
    *ret_name_pos = name_pos;
    return 0;
}

/* ---- series ---- */

static uint64_t prw_hash(uint32_t family, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ family;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int prw_table_grow_buckets(struct prw_table *t)
{
    size_t n = t->n_buckets * 2;
    uint32_t *b = calloc(n, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->n_series; i++) {
        struct prw_series *s = &t->series[i];
        if (!s->labels)
            continue;
        size_t k = s->hash & (n - 1);
        s->next = b[k];
        b[k] = (uint32_t)i + 1;
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = n;
    return 0;
}

/* A free slot of the series array: its index, or -ENOMEM. */
static int prw_table_slot(struct prw_table *t)
{
    if (t->free_list) {
        uint32_t si = t->free_list - 1;
        t->free_list = t->series[si].next;
        return (int)si;
    }
    if (t->n_series == t->cap_series) {
        size_t cap = t->cap_series ? 2 * t->cap_series : 64;
        struct prw_series *s = realloc(t->series, cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        t->series = s;
        t->cap_series = cap;
    }
    return (int)t->n_series++;
}

int prw_table_series(struct prw_table *t, const struct alumet_buffer *buf,
                     const struct alumet_point *p, uint32_t fi, alumet_time_ns now)
{
    uint32_t n_labels, name_pos;
    int r = prw_point_labels(t, buf, p, &n_labels, &name_pos);
    if (r < 0)
        return r;
    uint64_t h = prw_hash(fi, t->key.s ? t->key.s : "", t->key.len);
    for (uint32_t i = t->buckets[h & (t->n_buckets - 1)]; i; i = t->series[i - 1].next) {
        struct prw_series *s = &t->series[i - 1];
        if (s->hash == h && s->family == fi && s->labels_len == t->key.len &&
            memcmp(s->labels, t->key.s, t->key.len) == 0) {
            s->updated = now;
            return (int)i - 1;
        }
    }

    if (t->live + 1 > t->n_buckets && (r = prw_table_grow_buckets(t)) < 0)
        return r;
    int si = prw_table_slot(t);
    if (si < 0)
        return si;
    char *labels = malloc(t->key.len + 1);
    if (!labels) {
        /* give the slot back */
        t->series[si].labels = NULL;
        t->series[si].next = t->free_list;
        t->free_list = (uint32_t)si + 1;
        return -ENOMEM;
    }
    if (t->key.len)
        memcpy(labels, t->key.s, t->key.len);
    labels[t->key.len] = '\0';
    size_t k = h & (t->n_buckets - 1);
    t->series[si] = (struct prw_series){
        .labels = labels,
        .labels_len = t->key.len,
        .hash = h,
        .family = fi,
        .n_labels = n_labels,
        .name_pos = name_pos,
        .next = t->buckets[k],
        .updated = now,
    };
    t->buckets[k] = (uint32_t)si + 1;
    t->live++;
    return si;
}

void prw_table_expire(struct prw_table *t, alumet_time_ns now)
{
    if (t->expiry <= 0 || now - t->last_sweep < t->expiry / 4)
        return;
    t->last_sweep = now;
    for (size_t k = 0; k < t->n_buckets; k++) {
        uint32_t *link = &t->buckets[k];
        while (*link) {
            uint32_t si = *link - 1;
            struct prw_series *s = &t->series[si];
            if (now - s->updated <= t->expiry) {
                link = &s->next;
                continue;
            }
            *link = s->next;
            free(s->labels);
            s->labels = NULL;
            s->next = t->free_list;
            t->free_list = si + 1;
            t->live--;
        }
    }
}
