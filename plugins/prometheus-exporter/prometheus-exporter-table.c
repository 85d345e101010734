/* SPDX-License-Identifier: MIT */
/* The series table of prometheus-exporter: the latest value of every
 * (family, label set), and for delta metrics the sum of the values too,
 * written by the output thread and rendered by the HTTP thread
 * (prometheus-exporter-render.c) under one mutex. A family is one exported
 * metric name; a series is identified by its family and its label text
 * `k="v",...` (keys sorted, values escaped), which is also what the
 * exposition prints.
 *
 * Memory: series live in one array (indices, not pointers, so that it can
 * grow), chained from a power-of-two bucket array by a hash of their key;
 * removed slots go to a free list. The writer builds the key of each point
 * in scratch buffers of the table: no allocation per point once a series
 * exists. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus-exporter-table.h"

/* ---- table life ---- */

struct prometheus_table *prometheus_table_new(const struct prometheus_table_opts *opts)
{
    struct prometheus_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    atomic_init(&t->refs, 1);
    t->add_attributes = opts->add_attributes_to_labels;
    t->unit_name = opts->unit_name;
    t->expiry = opts->series_expiry;
    t->prefix = strdup(opts->prefix ? opts->prefix : "");
    t->suffix = strdup(opts->suffix ? opts->suffix : "");
    t->topic = opts->topic;
    t->n_buckets = 64;
    t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
    bool ok = t->prefix && t->suffix && t->buckets;
    if (ok && opts->n_counter_metrics) {
        t->counter_metrics = calloc(opts->n_counter_metrics, sizeof(char *));
        ok = t->counter_metrics != NULL;
        for (size_t i = 0; ok && i < opts->n_counter_metrics; i++) {
            ok = (t->counter_metrics[i] = strdup(opts->counter_metrics[i])) != NULL;
            t->n_counter_metrics = i + 1;
        }
    }
    if (!ok || pthread_mutex_init(&t->lock, NULL) != 0) {
        for (size_t i = 0; i < t->n_counter_metrics; i++)
            free(t->counter_metrics[i]);
        free(t->counter_metrics);
        free(t->prefix);
        free(t->suffix);
        free(t->buckets);
        free(t);
        return NULL;
    }
    return t;
}

struct prometheus_table *prometheus_table_ref(struct prometheus_table *t)
{
    atomic_fetch_add(&t->refs, 1);
    return t;
}

void prometheus_table_unref(struct prometheus_table *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (size_t i = 0; i < t->n_families; i++) {
        free(t->families[i].name);
        free(t->families[i].exported);
        free(t->families[i].unit);
        free(t->families[i].help);
        free(t->families[i].counter);
        free(t->families[i].counter_help);
    }
    for (size_t i = 0; i < t->n_series; i++)
        free(t->series[i].labels);
    for (size_t i = 0; i < t->n_counter_metrics; i++)
        free(t->counter_metrics[i]);
    free(t->counter_metrics);
    free(t->families);
    free(t->metric_family);
    free(t->series);
    free(t->buckets);
    prom_labels_free(&t->labels);
    free(t->key.s);
    free(t->prefix);
    free(t->suffix);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

size_t prometheus_table_series_count(struct prometheus_table *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->live;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* ---- families ---- */

/* "_<display name>" or "_<unique name>" of the unit of m, nothing when that
 * name is empty (sanitized later with the rest of the name: "kB", "_C"). */
static int prometheus_name_add_unit(struct text *b, const struct alumet_metric *m, bool display)
{
    char buf[256];
    const char *u = display ? m->unit_display : m->unit_unique;
    if (!u) {
        if (display)
            alumet_unit_display_name(&m->unit, buf, sizeof(buf));
        else
            alumet_unit_unique_name(&m->unit, buf, sizeof(buf));
        u = buf;
    }
    if (!*u)
        return 0;
    int r = text_adds(b, "_");
    return r < 0 ? r : text_adds(b, u);
}

/* The counter of a delta metric: name_cumulative[_unit]_total, the name of
 * its samples (the OpenMetrics family is the name without _total, never the
 * name of the gauge family), and its help text. */
static int prometheus_family_counter(struct prometheus_family *f, const struct alumet_metric *m)
{
    struct text text = {0};
    int r = text_adds(&text, f->name);
    if (r == 0)
        r = text_adds(&text, "_cumulative");
    if (r == 0 && *f->unit)
        r = text_adds(&text, "_");
    if (r == 0)
        r = text_adds(&text, f->unit);
    if (r == 0)
        r = text_adds(&text, "_total");
    f->counter = text.s;
    if (r < 0)
        return r;
    text = (struct text){0};
    r = text_adds(&text, m->description ? m->description : "");
    if (r == 0)
        r = text_adds(&text, ", summed since the series appeared.");
    f->counter_help = text.s;
    return r;
}

static int prometheus_family_init(struct prometheus_family *f, char *name,
                                  const struct alumet_metric *m, bool delta, bool unit_word)
{
    struct text text = {0};

    f->name = name;
    /* a unit inside the name (the user book's naming) is no OpenMetrics unit:
     * the name does not end with it */
    f->unit = unit_word ? prom_unit_word(&m->unit) : strdup("");
    if (!f->unit)
        return -ENOMEM;
    int r = text_adds(&text, name);
    if (r == 0 && *f->unit)
        r = text_adds(&text, "_");
    if (r == 0)
        r = text_adds(&text, f->unit);
    f->exported = text.s;
    if (r < 0)
        return r;
    text = (struct text){0};
    r = text_adds(&text, m->description ? m->description : "");
    if (r == 0)
        r = text_adds(&text, ".");
    f->help = text.s;
    f->delta = delta;
    if (r == 0 && delta)
        r = prometheus_family_counter(f, m);
    return r;
}

/* Index of the family of metric id (created when first seen), or a negative
 * errno. Metrics whose names sanitize alike share the first one's family. */
static int prometheus_table_family(struct prometheus_table *t, const struct alumet_registry *reg,
                                   alumet_metric_id id, struct alumet_error *err)
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
    if (r == 0 &&
        (t->unit_name == PROMETHEUS_UNIT_DISPLAY || t->unit_name == PROMETHEUS_UNIT_UNIQUE))
        r = prometheus_name_add_unit(&full, m, t->unit_name == PROMETHEUS_UNIT_DISPLAY);
    if (r == 0)
        r = text_adds(&full, t->suffix);
    char *name = r == 0 ? prom_sanitized_dup(full.s, full.len) : NULL;
    free(full.s);
    if (!name)
        return -ENOMEM;

    size_t fi = 0;
    while (fi < t->n_families && strcmp(t->families[fi].name, name) != 0)
        fi++;
    if (fi < t->n_families) {
        free(name);
    } else {
        if (t->n_families == t->cap_families) {
            size_t cap = t->cap_families ? 2 * t->cap_families : 16;
            struct prometheus_family *fs = realloc(t->families, cap * sizeof(*fs));
            if (!fs) {
                free(name);
                return -ENOMEM;
            }
            t->families = fs;
            t->cap_families = cap;
        }
        struct prometheus_family *f = &t->families[fi];
        memset(f, 0, sizeof(*f));
        r = prometheus_family_init(
            f, name, m, prom_metric_is_delta(m, t->counter_metrics, t->n_counter_metrics),
            t->unit_name == PROMETHEUS_UNIT_WORD);
        if (r < 0) {
            free(f->name);
            free(f->unit);
            free(f->exported);
            free(f->help);
            free(f->counter);
            free(f->counter_help);
            return r;
        }
        t->n_families++;
    }

    if (id >= t->n_metric_family) {
        size_t n =
            (size_t)id + 1 > 2 * t->n_metric_family ? (size_t)id + 1 : 2 * t->n_metric_family;
        uint32_t *mf = realloc(t->metric_family, n * sizeof(*mf));
        if (!mf)
            return -ENOMEM;
        memset(mf + t->n_metric_family, 0, (n - t->n_metric_family) * sizeof(*mf));
        t->metric_family = mf;
        t->n_metric_family = n;
    }
    t->metric_family[id] = (uint32_t)fi + 1;
    return (int)fi;
}

/* ---- the labels of a point ---- */

/* Build the label text of p into t->key: the four fixed labels and the
 * attributes, sorted by key (byte order, stable); of attributes with the
 * same key the last one wins. */
static int prometheus_point_key(struct prometheus_table *t, const struct alumet_buffer *buf,
                                const struct alumet_point *p)
{
    struct prom_labels *l = &t->labels;
    prom_labels_reset(l);
    t->key.len = 0;
    int r = prom_labels_add_point(l, buf, p, t->add_attributes);
    if (r < 0)
        return r;
    size_t n = prom_labels_sort(l);
    for (size_t i = 0; i < n; i++) {
        const struct prom_label *x = &l->items[i];
        if ((i > 0 && (r = text_add(&t->key, ",", 1)) < 0) ||
            (r = text_add(&t->key, prom_label_key(l, x), x->key_len)) < 0 ||
            (r = text_add(&t->key, "=\"", 2)) < 0 ||
            (r = prometheus_text_add_escaped(&t->key, prom_label_value(l, x), x->value_len,
                                             /* quote= */ true)) < 0 ||
            (r = text_add(&t->key, "\"", 1)) < 0)
            return r;
    }
    return 0;
}

/* ---- series ---- */

static uint64_t prometheus_hash(uint32_t family, const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ull ^ family;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int prometheus_rehash(struct prometheus_table *t, size_t n_buckets)
{
    uint32_t *b = calloc(n_buckets, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->n_series; i++) {
        struct prometheus_series *s = &t->series[i];
        if (!s->labels)
            continue;
        size_t h = (size_t)(s->hash & (n_buckets - 1));
        s->next = b[h];
        b[h] = (uint32_t)i + 1;
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = n_buckets;
    return 0;
}

/* The update interval of a delta series: the larger of the gaps between its
 * last two points (the poll interval of the source) and between its last two
 * writes (the flush interval, when the source flushes several polls at
 * once). A longer interval is taken at once, a shorter one a quarter at a
 * time and once per write, so that neither a late point nor the points of
 * several polls in one write make the series stale. */
static void prometheus_series_interval(struct prometheus_series *s, struct prometheus_family *f,
                                       alumet_time_ns ts, alumet_time_ns now)
{
    alumet_time_ns gap = ts - s->ts;
    if (gap <= 0)
        return; /* same poll, or a clock step back: nothing learnt */
    if (now - s->updated > gap)
        gap = now - s->updated;
    if (gap >= s->interval)
        s->interval = gap;
    else if (now != s->updated)
        s->interval -= (s->interval - gap) / 4;
    f->interval = s->interval;
}

/* When the gauge of delta series s, just written at now, goes stale: after
 * PROMETHEUS_DELTA_STALE_INTERVALS times its interval, or its family's for a
 * series with a single point so far; 0 while neither is known. Fixed now, so
 * that a longer interval learnt later from another series does not bring
 * back a gauge already left out. */
static void prometheus_series_deadline(struct prometheus_series *s,
                                       const struct prometheus_family *f, alumet_time_ns now)
{
    alumet_time_ns interval = s->interval ? s->interval : f->interval;
    s->stale_at = interval ? now + PROMETHEUS_DELTA_STALE_INTERVALS * interval : 0;
}

/* Points collapse onto one series when their attributes are not labels:
 * warn once per family when its values are not deltas (a sum of levels, such
 * as temperatures, is rarely what one wants). */
static void prometheus_warn_sum(struct prometheus_table *t, struct prometheus_family *f)
{
    if (f->delta || f->warned_sum || !t->topic)
        return;
    f->warned_sum = true;
    alumet_log_at(t->topic, ALUMET_LOG_WARN,
                  "points of '%s' with the same timestamp and different attributes are summed "
                  "onto one series, because add_attributes_to_labels = false: set it to true to "
                  "export one series per attribute value",
                  f->exported);
}

/* Write a point of value v and timestamp ts to the series (family, t->key),
 * created when new: its gauge takes v (or adds it, for a point of the same
 * timestamp when attributes are not labels), its counter adds v. */
static int prometheus_series_set(struct prometheus_table *t, uint32_t family, double v,
                                 alumet_time_ns ts, alumet_time_ns now)
{
    struct prometheus_family *f = &t->families[family];
    uint64_t h = prometheus_hash(family, t->key.s, t->key.len);
    uint32_t *head = &t->buckets[h & (t->n_buckets - 1)];
    for (uint32_t i = *head; i; i = t->series[i - 1].next) {
        struct prometheus_series *s = &t->series[i - 1];
        if (s->hash == h && s->family == family && s->labels_len == t->key.len &&
            memcmp(s->labels, t->key.s, t->key.len) == 0) {
            if (!t->add_attributes && ts == s->ts) {
                s->value += v;
                prometheus_warn_sum(t, f);
            } else {
                s->value = v;
            }
            if (f->delta) {
                s->total += v;
                prometheus_series_interval(s, f, ts, now);
            }
            s->ts = ts;
            s->updated = now;
            if (f->delta)
                prometheus_series_deadline(s, f, now);
            return 0;
        }
    }

    char *labels = malloc(t->key.len + 1);
    if (!labels)
        return -ENOMEM;
    memcpy(labels, t->key.s, t->key.len + 1);
    uint32_t idx = t->free_list;
    if (idx) {
        t->free_list = t->series[idx - 1].next;
    } else {
        if (t->n_series == t->cap_series) {
            size_t cap = t->cap_series ? 2 * t->cap_series : 64;
            struct prometheus_series *s =
                cap <= UINT32_MAX - 1 ? realloc(t->series, cap * sizeof(*s)) : NULL;
            if (!s) {
                free(labels);
                return -ENOMEM;
            }
            t->series = s;
            t->cap_series = cap;
        }
        idx = (uint32_t)++t->n_series;
    }
    struct prometheus_series *s = &t->series[idx - 1];
    *s = (struct prometheus_series){
        .labels = labels,
        .labels_len = t->key.len,
        .hash = h,
        .updated = now,
        .ts = ts,
        .value = v,
        .total = f->delta ? v : 0,
        .family = family,
        .next = *head,
    };
    if (f->delta)
        prometheus_series_deadline(s, f, now);
    *head = idx;
    t->live++;
    f->series++;
    if (t->live > t->n_buckets / 4 * 3)
        (void)prometheus_rehash(t, 2 * t->n_buckets); /* on failure the chains just grow */
    return 0;
}

/* Remove the series not updated for the expiry time. */
static void prometheus_sweep(struct prometheus_table *t, alumet_time_ns now)
{
    t->last_sweep = now;
    if (t->expiry <= 0)
        return;
    for (size_t b = 0; b < t->n_buckets; b++) {
        uint32_t *link = &t->buckets[b];
        while (*link) {
            uint32_t idx = *link;
            struct prometheus_series *s = &t->series[idx - 1];
            if (now - s->updated < t->expiry) {
                link = &s->next;
                continue;
            }
            *link = s->next;
            free(s->labels);
            s->labels = NULL;
            s->next = t->free_list;
            t->free_list = idx;
            t->live--;
            t->families[s->family].series--;
        }
    }
}

int prometheus_table_write(struct prometheus_table *t, const struct alumet_buffer *buf,
                           const struct alumet_registry *reg, alumet_time_ns now,
                           struct alumet_error *err)
{
    int r = 0;
    size_t len = alumet_buffer_len(buf);

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < len; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        int family = prometheus_table_family(t, reg, p->metric, err);
        if (family < 0) {
            r = family;
            break;
        }
        r = prometheus_point_key(t, buf, p);
        if (r < 0)
            break;
        double v = p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64;
        r = prometheus_series_set(t, (uint32_t)family, v, p->timestamp, now);
        if (r < 0)
            break;
    }
    /* sweep now and then, so that a table nobody scrapes stays bounded too */
    if (t->expiry > 0 && now - t->last_sweep >= t->expiry / 4)
        prometheus_sweep(t, now);
    pthread_mutex_unlock(&t->lock);
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    return r;
}

int prometheus_table_render(struct prometheus_table *t, enum prometheus_format fmt,
                            alumet_time_ns now, char **ret_text, size_t *ret_len)
{
    struct text out = {0};

    pthread_mutex_lock(&t->lock);
    prometheus_sweep(t, now);
    int r = prometheus_render_locked(t, fmt, now, &out);
    pthread_mutex_unlock(&t->lock);
    if (r < 0) {
        free(out.s);
        return r;
    }
    *ret_text = out.s;
    *ret_len = out.len;
    return 0;
}
