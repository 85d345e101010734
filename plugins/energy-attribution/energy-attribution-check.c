/* SPDX-License-Identifier: MIT */
/* Which points an input takes (its filters), and the diagnostics of filters
 * that take the wrong points: a filter that matches several series at one
 * timestamp (9 cpu_state points of estimated_consumed_energy for a filter
 * without cpu_state) is an error that names the attribute that tells them
 * apart; a filter that matches nothing (kind = "totl") is reported once with
 * the values that were seen instead. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "energy-attribution.h"

#define ALUMET_LOG_DEFAULT_TOPIC (t->log)

/* An input that has seen points of its metric for this long without taking
 * any is reported (by the points' timestamps). */
#define EA_NOMATCH_DELAY (10 * ALUMET_NSEC_PER_SEC)

/* Criteria of an input, in the order they are checked. */
enum {
    EA_CRIT_RESOURCE_KIND,
    EA_CRIT_CONSUMER_KIND,
    EA_CRIT_RESOURCE_ID,
    EA_CRIT_CONSUMER_ID,
    EA_CRIT_FILTERS, /* + index of the attribute filter */
};

static bool energy_attribution_id_matches(struct energy_attribution_transform *t, const char *want,
                                          size_t len)
{
    /* len is the length of the full id text: compare only when it can match */
    return len == strlen(want) && strcmp(t->id_scratch, want) == 0;
}

static const struct alumet_attr *energy_attribution_first_attr(const struct alumet_attr *attrs,
                                                               size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(attrs[i].key, key) == 0)
            return &attrs[i];
    return NULL;
}

static bool energy_attribution_filter_matches(const struct energy_attribution_filter *f,
                                              const struct alumet_attr *attrs, size_t n)
{
    /* only the first attribute with that key counts, as upstream */
    const struct alumet_attr *a = energy_attribution_first_attr(attrs, n, f->key);
    if (!a || a->type != f->type)
        return false;
    switch (a->type) {
    case ALUMET_ATTR_F64:
        return a->v.f64 == f->v.f64;
    case ALUMET_ATTR_U64:
        return a->v.u64 == f->v.u64;
    case ALUMET_ATTR_BOOL:
        return a->v.b == f->v.b;
    case ALUMET_ATTR_STR:
        return a->v.str && strcmp(a->v.str, f->v.str) == 0;
    default:
        return false;
    }
}

int energy_attribution_reject(struct energy_attribution_transform *t,
                              const struct energy_attribution_input *in,
                              const struct alumet_buffer *buf, const struct alumet_point *p)
{
    if (in->resource_kind && strcmp(alumet_resource_kind_name(&p->resource), in->resource_kind))
        return EA_CRIT_RESOURCE_KIND;
    if (in->consumer_kind && strcmp(alumet_consumer_kind_name(&p->consumer), in->consumer_kind))
        return EA_CRIT_CONSUMER_KIND;
    if (in->resource_id) {
        size_t len = alumet_resource_id_text(&p->resource, t->id_scratch, t->id_scratch_size);
        if (!energy_attribution_id_matches(t, in->resource_id, len))
            return EA_CRIT_RESOURCE_ID;
    }
    if (in->consumer_id) {
        size_t len = alumet_consumer_id_text(&p->consumer, t->id_scratch, t->id_scratch_size);
        if (!energy_attribution_id_matches(t, in->consumer_id, len))
            return EA_CRIT_CONSUMER_ID;
    }
    const struct alumet_attr *attrs = in->n_filters ? alumet_point_attrs(buf, p) : NULL;
    for (size_t k = 0; k < in->n_filters; k++)
        if (!energy_attribution_filter_matches(&in->filters[k], attrs, p->attr_count))
            return EA_CRIT_FILTERS + (int)k;
    return -1;
}

/* The value of an attribute as TOML would write it: "user", 3, 0.5, true. */
static void energy_attribution_attr_text(const struct alumet_attr *a, char *out, size_t size)
{
    switch (a ? a->type : ALUMET_ATTR_LIST_U64) {
    case ALUMET_ATTR_STR:
        snprintf(out, size, "\"%s\"", a->v.str ? a->v.str : "");
        break;
    case ALUMET_ATTR_U64:
        snprintf(out, size, "%" PRIu64, a->v.u64);
        break;
    case ALUMET_ATTR_F64:
        snprintf(out, size, "%g", a->v.f64);
        break;
    case ALUMET_ATTR_BOOL:
        snprintf(out, size, "%s", a->v.b ? "true" : "false");
        break;
    default:
        snprintf(out, size, "%s", a ? "(a list)" : "(none)");
    }
}

/* Append value to list ("a", "b") unless it is there; "..." when full. */
static void energy_attribution_list_add(char *list, size_t size, const char *value)
{
    size_t len = strlen(list), vlen = strlen(value);
    for (const char *at = list; (at = strstr(at, value)); at += vlen)
        if ((at == list || at[-1] == ' ') && (at[vlen] == ',' || at[vlen] == '\0'))
            return;
    if (len + vlen + 6 >= size) {
        if (len + 6 < size && !strstr(list, "..."))
            snprintf(list + len, size - len, "%s...", len ? ", " : "");
        return;
    }
    snprintf(list + len, size - len, "%s%s", len ? ", " : "", value);
}

/* The option (and its value) behind criterion c of input in: `kind = "totl"`. */
static void energy_attribution_criterion_text(const struct energy_attribution_input *in, int c,
                                              char *out, size_t size)
{
    static const char *const names[] = {"resource_kind", "consumer_kind", "resource_id",
                                        "consumer_id"};
    const char *values[] = {in->resource_kind, in->consumer_kind, in->resource_id, in->consumer_id};
    if (c < EA_CRIT_FILTERS) {
        snprintf(out, size, "%s = \"%s\"", names[c], values[c]);
        return;
    }
    const struct energy_attribution_filter *f = &in->filters[c - EA_CRIT_FILTERS];
    struct alumet_attr a = {.key = f->key, .type = f->type};
    if (f->type == ALUMET_ATTR_STR)
        a.v.str = f->v.str;
    else if (f->type == ALUMET_ATTR_U64)
        a.v.u64 = f->v.u64;
    else if (f->type == ALUMET_ATTR_F64)
        a.v.f64 = f->v.f64;
    else
        a.v.b = f->v.b;
    char v[128];
    energy_attribution_attr_text(&a, v, sizeof(v));
    snprintf(out, size, "%s = %s", f->key, v);
}

void energy_attribution_diag_note(struct energy_attribution_transform *t, size_t i,
                                  const struct alumet_buffer *buf, const struct alumet_point *p,
                                  int criterion)
{
    struct energy_attribution_diag *d = &t->diags[i];
    const struct energy_attribution_input *in = &t->formula->inputs[i];
    if (d->seen++ == 0)
        d->first_seen = p->timestamp;
    if (p->timestamp > d->newest)
        d->newest = p->timestamp;
    if (criterion < 0) {
        d->taken++;
        return;
    }
    if (d->taken || d->reported)
        return;
    if (d->criterion < 0)
        d->criterion = criterion;
    if (criterion != d->criterion)
        return;
    char v[PATH_MAX + 4];
    switch (criterion) {
    case EA_CRIT_RESOURCE_KIND:
        snprintf(v, sizeof(v), "\"%s\"", alumet_resource_kind_name(&p->resource));
        break;
    case EA_CRIT_CONSUMER_KIND:
        snprintf(v, sizeof(v), "\"%s\"", alumet_consumer_kind_name(&p->consumer));
        break;
    case EA_CRIT_RESOURCE_ID:
    case EA_CRIT_CONSUMER_ID: {
        char id[PATH_MAX];
        if (criterion == EA_CRIT_RESOURCE_ID)
            alumet_resource_id_text(&p->resource, id, sizeof(id));
        else
            alumet_consumer_id_text(&p->consumer, id, sizeof(id));
        snprintf(v, sizeof(v), "\"%s\"", id);
        break;
    }
    default: {
        const char *key = in->filters[criterion - EA_CRIT_FILTERS].key;
        energy_attribution_attr_text(
            energy_attribution_first_attr(alumet_point_attrs(buf, p), p->attr_count, key), v,
            sizeof(v));
    }
    }
    energy_attribution_list_add(d->values, sizeof(d->values), v);
}

void energy_attribution_diag_report(struct energy_attribution_transform *t, bool at_end)
{
    const struct energy_attribution_formula *f = t->formula;
    for (size_t i = 0; i < f->n_inputs; i++) {
        struct energy_attribution_diag *d = &t->diags[i];
        const struct energy_attribution_input *in = &f->inputs[i];
        if (d->reported || d->taken || !d->seen || d->criterion < 0 ||
            (!at_end && d->newest - d->first_seen < EA_NOMATCH_DELAY))
            continue;
        char crit[300];
        energy_attribution_criterion_text(in, d->criterion, crit, sizeof(crit));
        alumet_log_warn("formula '%s': the %s series '%s' matched none of the %" PRIu64
                        " points of metric '%s': none has %s (values seen: %s); fix the filter",
                        f->name, in->per_consumer ? "per_consumer" : "per_resource", in->ident,
                        d->seen, in->metric_name, crit, d->values);
        d->reported = true;
    }
}

/* The first attribute key whose value differs between the points p and q
 * (or that only one of them has), NULL when they have the same attributes. */
static const char *energy_attribution_differing_key(const struct alumet_buffer *buf,
                                                    const struct alumet_point *p,
                                                    const struct alumet_point *q)
{
    const struct alumet_point *pts[2] = {p, q};
    for (int side = 0; side < 2; side++) {
        const struct alumet_point *a = pts[side], *b = pts[!side];
        const struct alumet_attr *aa = alumet_point_attrs(buf, a);
        for (size_t k = 0; k < a->attr_count; k++) {
            const struct alumet_attr *other =
                energy_attribution_first_attr(alumet_point_attrs(buf, b), b->attr_count, aa[k].key);
            char x[128], y[128];
            energy_attribution_attr_text(&aa[k], x, sizeof(x));
            energy_attribution_attr_text(other, y, sizeof(y));
            if (!other || strcmp(x, y) != 0)
                return aa[k].key;
        }
    }
    return NULL;
}

int energy_attribution_ambiguity(struct energy_attribution_transform *t, size_t i,
                                 const struct alumet_buffer *buf, const struct alumet_point *p,
                                 struct alumet_error *err)
{
    const struct energy_attribution_formula *f = t->formula;
    const struct energy_attribution_input *in = &f->inputs[i];
    const char *key = NULL;
    size_t count = 0;
    char values[240] = "";

    /* the points of the same series key at that timestamp in this buffer */
    for (size_t k = 0; k < alumet_buffer_len(buf); k++) {
        const struct alumet_point *q = alumet_buffer_get(buf, k);
        if (q->metric != p->metric || q->timestamp != p->timestamp ||
            !energy_attribution_resource_eq(&q->resource, &p->resource) ||
            (in->per_consumer && !energy_attribution_consumer_eq(&q->consumer, &p->consumer)) ||
            energy_attribution_reject(t, in, buf, q) >= 0)
            continue;
        count++;
        if (!key && q != p)
            key = energy_attribution_differing_key(buf, p, q);
    }
    if (!key)
        return alumet_error_set(err, -EINVAL,
                                "formula '%s': the %s series '%s' (metric '%s') got two points "
                                "with the same timestamp and attributes: a source sends its "
                                "points twice",
                                f->name, in->per_consumer ? "per_consumer" : "per_resource",
                                in->ident, in->metric_name);
    for (size_t k = 0; k < alumet_buffer_len(buf); k++) {
        const struct alumet_point *q = alumet_buffer_get(buf, k);
        if (q->metric != p->metric || q->timestamp != p->timestamp ||
            !energy_attribution_resource_eq(&q->resource, &p->resource))
            continue;
        char v[128];
        energy_attribution_attr_text(
            energy_attribution_first_attr(alumet_point_attrs(buf, q), q->attr_count, key), v,
            sizeof(v));
        energy_attribution_list_add(values, sizeof(values), v);
    }
    return alumet_error_set(err, -EINVAL,
                            "formula '%s': the filter of the %s series '%s' (metric '%s') "
                            "matches %zu series per timestamp, which differ by attribute %s "
                            "(%s); add %s = ... to the filter, with one of these values",
                            f->name, in->per_consumer ? "per_consumer" : "per_resource", in->ident,
                            in->metric_name, count, key, values, key);
}
