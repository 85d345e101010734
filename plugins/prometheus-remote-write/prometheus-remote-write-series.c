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

    struct prom_labels labels;
    struct text key;
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
    prom_labels_free(&t->labels);
    free(t->key.s);
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
    struct prom_labels *l = &t->labels;
    int r = 0;

    prom_labels_reset(l);
    t->key.len = 0;
    for (size_t i = 0; r == 0 && i < t->n_extra; i++)
        r = prom_labels_add(l, t->extra[2 * i], t->extra[2 * i + 1], strlen(t->extra[2 * i + 1]));
    if (r == 0)
        r = prom_labels_add_point(l, buf, p, t->add_attributes);
    if (r < 0)
        return r;

    size_t n = prom_labels_sort(l);
    uint32_t pairs = 0, name_pos = 0;
    for (size_t i = 0; i < n; i++) {
        const struct prom_label *x = &l->items[i];
        if (x->value_len == 0)
            continue; /* Prometheus drops labels with an empty value */
        if ((r = text_add(&t->key, prom_label_key(l, x), x->key_len)) < 0 ||
            (r = text_add(&t->key, "", 1)) < 0 ||
            (r = text_add(&t->key, prom_label_value(l, x), x->value_len)) < 0 ||
            (r = text_add(&t->key, "", 1)) < 0)
            return r;
        if (prw_key_before_name(prom_label_key(l, x), x->key_len))
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
