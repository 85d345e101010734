/* SPDX-License-Identifier: MIT */
/* The exposition of the prometheus-exporter table, in the OpenMetrics 1.0
 * and Prometheus 0.0.4 text formats: families in first-seen order, series
 * sorted by labels. A delta metric (an energy, or one of counter_metrics)
 * has two families: its gauge (the latest value, left out once stale) and
 * its counter (the sum of the values). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus-exporter-table.h"
#include "util/format.h"

struct prometheus_sort_item {
    uint32_t family;
    uint32_t series;
    const char *labels;
};

static int prometheus_sort_cmp(const void *a, const void *b)
{
    const struct prometheus_sort_item *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return strcmp(x->labels, y->labels);
}

/* The HELP, TYPE and UNIT lines of a family; name (len bytes) is the family
 * name, which OpenMetrics gives without the _total of a counter's samples:
 * the caller passes what the format wants. */
static int prometheus_render_head(struct text *out, const char *name, size_t len, const char *help,
                                  const char *type, const char *unit, enum prometheus_format fmt)
{
    bool om = fmt == PROMETHEUS_FORMAT_OPENMETRICS;
    int r = 0;
    if ((r = text_adds(out, "# HELP ")) < 0 || (r = text_add(out, name, len)) < 0 ||
        (r = text_adds(out, " ")) < 0 ||
        (r = prometheus_text_add_escaped(out, help, strlen(help), om)) < 0 ||
        (r = text_adds(out, "\n# TYPE ")) < 0 || (r = text_add(out, name, len)) < 0 ||
        (r = text_adds(out, " ")) < 0 || (r = text_adds(out, type)) < 0 ||
        (r = text_adds(out, "\n")) < 0)
        return r;
    if (om && *unit) {
        if ((r = text_adds(out, "# UNIT ")) < 0 || (r = text_add(out, name, len)) < 0 ||
            (r = text_adds(out, " ")) < 0 || (r = text_adds(out, unit)) < 0 ||
            (r = text_adds(out, "\n")) < 0)
            return r;
    }
    return 0;
}

/* One sample: name{labels} value, the value in upstream's dtoa layout
 * ("4950.0", "1e21"), "NaN", "+Inf", "-Inf". */
static int prometheus_render_sample(struct text *out, const char *name, size_t len,
                                    const struct prometheus_series *s, double v)
{
    char value[FORMAT_F64_POINT_MAX];
    size_t vn = format_f64_dtoa(v, value, sizeof(value));
    int r;
    if ((r = text_add(out, name, len)) < 0 || (r = text_add(out, "{", 1)) < 0 ||
        (r = text_add(out, s->labels, s->labels_len)) < 0 || (r = text_add(out, "} ", 2)) < 0 ||
        (r = text_add(out, value, vn)) < 0)
        return r;
    return text_add(out, "\n", 1);
}

/* Whether the gauge of series s is stale at now (see stale_at). A series
 * written while no interval was known takes its family's at the first
 * render that knows one. */
static bool prometheus_gauge_stale(const struct prometheus_family *f, struct prometheus_series *s,
                                   alumet_time_ns now)
{
    if (!f->delta)
        return false;
    if (!s->stale_at && f->interval)
        s->stale_at = s->updated + PROMETHEUS_DELTA_STALE_INTERVALS * f->interval;
    return s->stale_at && now > s->stale_at;
}

/* The families of f for its n series items: the gauge (printed when one of
 * its series is not stale), then the counter of a delta metric. */
static int prometheus_render_group(struct prometheus_table *t, const struct prometheus_family *f,
                                   const struct prometheus_sort_item *items, size_t n,
                                   enum prometheus_format fmt, alumet_time_ns now, struct text *out)
{
    size_t len = strlen(f->exported);
    bool head = false;
    int r;
    for (size_t i = 0; i < n; i++) {
        struct prometheus_series *s = &t->series[items[i].series];
        if (prometheus_gauge_stale(f, s, now))
            continue;
        if (!head) {
            r = prometheus_render_head(out, f->exported, len, f->help, "gauge", f->unit, fmt);
            if (r < 0)
                return r;
            head = true;
        }
        if ((r = prometheus_render_sample(out, f->exported, len, s, s->value)) < 0)
            return r;
    }
    if (!f->delta)
        return 0;

    /* OpenMetrics names the family without the _total of the samples; the
     * text format names it like the samples */
    len = strlen(f->counter);
    size_t family_len = fmt == PROMETHEUS_FORMAT_OPENMETRICS ? len - strlen("_total") : len;
    r = prometheus_render_head(out, f->counter, family_len, f->counter_help, "counter", f->unit,
                               fmt);
    for (size_t i = 0; r == 0 && i < n; i++) {
        const struct prometheus_series *s = &t->series[items[i].series];
        r = prometheus_render_sample(out, f->counter, len, s, s->total);
    }
    return r;
}

int prometheus_render_locked(struct prometheus_table *t, enum prometheus_format fmt,
                             alumet_time_ns now, struct text *out)
{
    struct prometheus_sort_item *items = NULL;
    size_t n = 0, bytes = 64;
    int r;

    if (t->live) {
        items = malloc(t->live * sizeof(*items));
        if (!items)
            return -ENOMEM;
    }
    for (size_t i = 0; i < t->n_series; i++) {
        const struct prometheus_series *s = &t->series[i];
        if (!s->labels)
            continue;
        items[n++] = (struct prometheus_sort_item){s->family, (uint32_t)i, s->labels};
        bytes += s->labels_len + 64;
        if (t->families[s->family].delta)
            bytes += s->labels_len + 96;
    }
    if (n > 1)
        qsort(items, n, sizeof(*items), prometheus_sort_cmp);
    r = text_reserve(out, bytes);
    if (r < 0)
        goto out_free;

    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && items[j].family == items[i].family;)
            j++;
        r = prometheus_render_group(t, &t->families[items[i].family], items + i, j - i, fmt, now,
                                    out);
        if (r < 0)
            goto out_free;
    }
    if (fmt == PROMETHEUS_FORMAT_OPENMETRICS)
        r = text_adds(out, "# EOF\n");
    else
        out->s[out->len] = '\0'; /* reserved above: an empty text is still a string */

out_free:
    free(items);
    return r;
}
