/* SPDX-License-Identifier: MIT */
/* The transform `attribution-<formula>`: for every buffer, keep the points of
 * the formula's inputs, then, per resource and per consumer, evaluate the
 * formula at each reference timestamp that every input covers, the other
 * series being interpolated linearly onto it (README.md, "Algorithm"). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/time.h"
#include "energy-attribution.h"
#include "util/format.h"

#define ALUMET_LOG_DEFAULT_TOPIC (t->log)

/* The first skipped point is logged, then one message every 10 s, 20 s...
 * up to every 10 min, with the number of the others. */
#define EA_BACKOFF_FIRST (10 * ALUMET_NSEC_PER_SEC)
#define EA_BACKOFF_MAX (600 * ALUMET_NSEC_PER_SEC)

struct energy_attribution_transform *
energy_attribution_transform_new(const struct energy_attribution_formula *formula,
                                 alumet_metric_id out_metric, alumet_metric_id rest_metric,
                                 struct alumet_log_topic *log)
{
    struct energy_attribution_transform *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->formula = formula;
    t->log = log;
    t->out_metric = out_metric;
    t->rest_metric = rest_metric;
    t->problems.backoff = EA_BACKOFF_FIRST;
    energy_attribution_state_init(&t->state, formula->n_resource_inputs,
                                  formula->n_inputs - formula->n_resource_inputs);
    size_t n = formula->n_inputs;
    size_t scratch = 1;
    for (size_t i = 0; i < n; i++) {
        const struct energy_attribution_input *in = &formula->inputs[i];
        if (in->resource_id && strlen(in->resource_id) + 1 > scratch)
            scratch = strlen(in->resource_id) + 1;
        if (in->consumer_id && strlen(in->consumer_id) + 1 > scratch)
            scratch = strlen(in->consumer_id) + 1;
    }
    t->in_metrics = calloc(n, sizeof(*t->in_metrics));
    t->vars = calloc(n, sizeof(*t->vars));
    t->series = calloc(n, sizeof(*t->series));
    t->sets = calloc(n, sizeof(*t->sets));
    t->id_scratch = malloc(scratch);
    t->id_scratch_size = scratch;
    t->diags = calloc(n, sizeof(*t->diags));
    if (!t->in_metrics || !t->vars || !t->series || !t->sets || !t->id_scratch || !t->diags) {
        energy_attribution_transform_free(t);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        t->diags[i].criterion = -1;
    return t;
}

void energy_attribution_transform_free(void *data)
{
    struct energy_attribution_transform *t = data;
    if (!t)
        return;
    energy_attribution_state_done(&t->state);
    free(t->in_metrics);
    free(t->vars);
    free(t->series);
    free(t->sets);
    free(t->id_scratch);
    free(t->diags);
    free(t);
}

int energy_attribution_transform_resolve(struct energy_attribution_transform *t,
                                         const struct alumet_registry *reg,
                                         struct alumet_error *err)
{
    const struct energy_attribution_formula *f = t->formula;
    for (size_t i = 0; i < f->n_inputs; i++) {
        const struct energy_attribution_input *in = &f->inputs[i];
        const struct alumet_metric *m = alumet_registry_find(reg, in->metric_name);
        if (!m)
            return alumet_error_set(err, -ENOENT,
                                    "formula '%s': could not find metric '%s' for %s formula "
                                    "input '%s'; enable the plugins that produce it (such as "
                                    "rapl or procfs) and check the configuration",
                                    f->name, in->metric_name,
                                    in->per_consumer ? "per_consumer" : "per_resource", in->ident);
        t->in_metrics[i] = m->id;
    }
    t->resolved = true;
    return 0;
}

/* ---- problems, rate-limited ---- */

static void energy_attribution_problem(struct energy_attribution_transform *t,
                                       enum alumet_log_level level, const char *fmt, ...)
    ALUMET_PRINTF(3, 4);
static void energy_attribution_problem(struct energy_attribution_transform *t,
                                       enum alumet_log_level level, const char *fmt, ...)
{
    struct energy_attribution_ratelimit *rl = &t->problems;
    alumet_time_ns now = alumet_time_monotonic();

    t->skipped++;
    t->apply_problems++;
    if (rl->failing && now < rl->next) {
        rl->suppressed++;
        return;
    }
    if (alumet_log_enabled(t->log, level)) {
        char msg[ALUMET_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (rl->suppressed)
            alumet_log_write(t->log, level,
                             "%s, skipping the point (and %" PRIu64 " other points since the "
                             "last message)",
                             msg, rl->suppressed);
        else
            alumet_log_write(t->log, level, "%s, skipping the point", msg);
    }
    rl->failing = true;
    rl->suppressed = 0;
    rl->next = now + rl->backoff;
    rl->backoff = rl->backoff * 2 > EA_BACKOFF_MAX ? EA_BACKOFF_MAX : rl->backoff * 2;
}

/* "process/42", "local_machine" */
static void energy_attribution_describe(const struct alumet_resource *r,
                                        const struct alumet_consumer *c, alumet_time_ns ts,
                                        char *buf, size_t size)
{
    /* a consumer id may be a cgroup path; the message may cut it */
    char rid[128], cid[PATH_MAX], when[FORMAT_RFC3339_MAX];
    alumet_resource_id_text(r, rid, sizeof(rid));
    alumet_consumer_id_text(c, cid, sizeof(cid));
    format_rfc3339(ts, when, sizeof(when));
    snprintf(buf, size, "resource '%s%s%s', consumer '%s%s%s' at '%s'",
             alumet_resource_kind_name(r), rid[0] ? "/" : "", rid, alumet_consumer_kind_name(c),
             cid[0] ? "/" : "", cid, when);
}

/* ---- ingestion ---- */

/* Keep p in every series whose input accepts it. The number of series that
 * took it, -ENOMEM, or -EINVAL (err set) when the filter of an input matches
 * several series at one timestamp. */
static int energy_attribution_ingest(struct energy_attribution_transform *t,
                                     const struct alumet_buffer *buf, const struct alumet_point *p,
                                     struct alumet_error *err)
{
    int taken = 0;
    const struct energy_attribution_formula *f = t->formula;
    for (size_t i = 0; i < f->n_inputs; i++) {
        const struct energy_attribution_input *in = &f->inputs[i];
        if (p->metric != t->in_metrics[i])
            continue;
        int why = energy_attribution_reject(t, in, buf, p);
        energy_attribution_diag_note(t, i, buf, p, why);
        if (why >= 0)
            continue;
        struct energy_attribution_resource *res =
            energy_attribution_state_resource(&t->state, &p->resource);
        if (!res)
            return alumet_error_set(err, -ENOMEM, "formula '%s': out of memory", f->name);
        struct energy_attribution_series *s;
        if (in->per_consumer) {
            struct energy_attribution_consumer *c =
                energy_attribution_state_consumer(&t->state, res, &p->consumer);
            if (!c)
                return alumet_error_set(err, -ENOMEM, "formula '%s': out of memory", f->name);
            s = &c->series[i - f->n_resource_inputs];
        } else {
            s = &res->general[i];
        }
        /* one series has one point per timestamp: two mean that the filter
         * mixes series (the cpu_state values of a metric) */
        size_t k = energy_attribution_series_lower_bound(s, p->timestamp);
        if (k < energy_attribution_series_count(s) &&
            energy_attribution_series_at(s, k)->t == p->timestamp)
            return energy_attribution_ambiguity(t, i, buf, p, err);
        if (energy_attribution_series_insert(s, buf, p, in->keep_attributes) < 0)
            return alumet_error_set(err, -ENOMEM, "formula '%s': out of memory", f->name);
        taken++;
    }
    return taken;
}

/* ---- attribution ---- */

/* v, computed from the points of a series whose first contributing point
 * is p0, as the expression's value: p0's type (an integer rounded half away
 * from zero, as upstream) and attributes. -ERANGE (*ret_big set) when an
 * integer does not fit in 64 bits signed. */
static int energy_attribution_computed(const struct energy_attribution_sample *p0, double v,
                                       struct energy_attribution_value *ret, uint32_t *ret_set,
                                       uint64_t *ret_big)
{
    *ret_set = p0->attrs;
    if (p0->type == ALUMET_VALUE_F64) {
        ret->type = EA_VALUE_FLOAT;
        ret->v.f = v;
        return 0;
    }
    v = round(v);
    if (!(v < 9223372036854775808.0)) {
        *ret_big = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
        return -ERANGE;
    }
    ret->type = EA_VALUE_INT;
    ret->v.i = v < 0 ? 0 : (int64_t)v;
    return 0;
}

/* The value of input i's series s at the reference point refp (which s
 * covers, energy-attribution-align.c): one of its points, or the linear
 * interpolation between two, which keeps the type and the attributes of the
 * earlier one, or for a prorated series the sum of the shares of its points
 * (which moves the series' bound to the end of this share). -ERANGE when an
 * integer does not fit in the expression's 64-bit signed integers. */
static int energy_attribution_value_at(const struct energy_attribution_transform *t, size_t i,
                                       struct energy_attribution_series *s,
                                       const struct energy_attribution_sample *refp,
                                       struct energy_attribution_value *ret, uint32_t *ret_set,
                                       uint64_t *ret_big)
{
    struct energy_attribution_at at = {0};
    (void)energy_attribution_cover(s, refp->t, refp->prev, t->ending, t->formula->inputs[i].prorate,
                                   &at);
    size_t k = at.k;

    if (at.prorate) {
        double v = energy_attribution_prorated_sum(s, &at, &k);
        s->bound = at.upper;
        s->has_bound = true;
        return energy_attribution_computed(energy_attribution_series_at(s, k), v, ret, ret_set,
                                           ret_big);
    }
    const struct energy_attribution_sample *p0 = energy_attribution_series_at(s, k);
    if (!at.interpolate) {
        /* a point as it is: a U64 above 2^63 - 1 is exact in the error */
        *ret_set = p0->attrs;
        if (p0->type == ALUMET_VALUE_F64) {
            ret->type = EA_VALUE_FLOAT;
            ret->v.f = p0->value.f64;
            return 0;
        }
        if (p0->value.u64 > INT64_MAX) {
            *ret_big = p0->value.u64;
            return -ERANGE;
        }
        ret->type = EA_VALUE_INT;
        ret->v.i = (int64_t)p0->value.u64;
        return 0;
    }
    p0 = energy_attribution_series_at(s, k - 1);
    const struct energy_attribution_sample *p1 = energy_attribution_series_at(s, k);
    double u = (double)(refp->t - p0->t) / (double)(p1->t - p0->t);
    double v =
        (1.0 - u) * energy_attribution_sample_value(p0) + u * energy_attribution_sample_value(p1);
    return energy_attribution_computed(p0, v, ret, ret_set, ret_big);
}

/* Copy res/con ids into buf (their strings must live as long as the buffer). */
static int energy_attribution_ids_in_buf(struct alumet_buffer *buf,
                                         const struct energy_attribution_resource *res,
                                         const struct energy_attribution_consumer *c,
                                         struct alumet_resource *rid, struct alumet_consumer *cid)
{
    *rid = res->id;
    *cid = c->id;
    if ((rid->str && !(rid->str = alumet_buffer_strdup(buf, rid->str, (size_t)-1))) ||
        (rid->custom_kind &&
         !(rid->custom_kind = alumet_buffer_strdup(buf, rid->custom_kind, (size_t)-1))) ||
        (cid->str && !(cid->str = alumet_buffer_strdup(buf, cid->str, (size_t)-1))) ||
        (cid->custom_kind &&
         !(cid->custom_kind = alumet_buffer_strdup(buf, cid->custom_kind, (size_t)-1))))
        return -ENOMEM;
    return 0;
}

/* The attributes of set, copied into buf once per apply. */
static const struct alumet_attr *
energy_attribution_set_in_buf(struct energy_attribution_transform *t, struct alumet_buffer *buf,
                              struct energy_attribution_attrset *set)
{
    if (set->in_buf && set->gen == t->gen)
        return set->in_buf;
    struct alumet_attr *a = alumet_buffer_alloc(buf, set->len * sizeof(*a));
    if (!a)
        return NULL;
    for (size_t i = 0; i < set->len; i++) {
        a[i] = set->attrs[i];
        if (!(a[i].key = alumet_buffer_strdup(buf, a[i].key, (size_t)-1)))
            return NULL;
        if (a[i].type == ALUMET_ATTR_STR && a[i].v.str &&
            !(a[i].v.str = alumet_buffer_strdup(buf, a[i].v.str, (size_t)-1)))
            return NULL;
        if (a[i].type == ALUMET_ATTR_LIST_U64 && a[i].v.list.len) {
            uint64_t *items = alumet_buffer_alloc(buf, a[i].v.list.len * sizeof(*items));
            if (!items)
                return NULL;
            memcpy(items, a[i].v.list.items, a[i].v.list.len * sizeof(*items));
            a[i].v.list.items = items;
        }
    }
    set->in_buf = a;
    set->gen = t->gen;
    return a;
}

/* Append the attributed point; its attributes are those of the inputs that
 * keep them (the reference first), each key once. 0 or -ENOMEM. */
static int energy_attribution_emit(struct energy_attribution_transform *t,
                                   struct alumet_buffer *buf, alumet_time_ns ts, double value,
                                   const struct alumet_resource *rid,
                                   const struct alumet_consumer *cid)
{
    const struct energy_attribution_formula *f = t->formula;
    struct alumet_point *p = alumet_buffer_push_f64(buf, ts, t->out_metric, rid, cid, value);
    if (!p)
        return -ENOMEM;
    for (size_t n = 0; n < f->n_inputs; n++) {
        /* the reference first, then the inputs in declaration order */
        size_t i = n == 0 ? f->ref : n <= f->ref ? n - 1 : n;
        if (!t->series[i] || !f->inputs[i].keep_attributes || t->sets[i] == UINT32_MAX)
            continue;
        struct energy_attribution_attrset *set = &t->series[i]->sets[t->sets[i]];
        const struct alumet_attr *attrs = energy_attribution_set_in_buf(t, buf, set);
        if (!attrs)
            return -ENOMEM;
        for (size_t k = 0; k < set->len; k++) {
            if (alumet_point_find_attr(buf, p, attrs[k].key))
                continue;
            if (alumet_point_add_attr(buf, p, &attrs[k]) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

static int energy_attribution_emit_rest(struct energy_attribution_transform *t,
                                        struct alumet_buffer *buf,
                                        const struct energy_attribution_resource *res,
                                        struct energy_attribution_sample *refp, double value);

/* Evaluate the formula for consumer c at the reference point refp, whose
 * share grows by the result. */
static int energy_attribution_point(struct energy_attribution_transform *t,
                                    struct alumet_buffer *buf,
                                    const struct energy_attribution_resource *res,
                                    const struct energy_attribution_consumer *c,
                                    struct energy_attribution_sample *refp,
                                    struct alumet_resource *rid, struct alumet_consumer *cid,
                                    bool *ids_ready)
{
    alumet_time_ns ts = refp->t;
    const struct energy_attribution_formula *f = t->formula;
    char where[PATH_MAX + 256];
    struct alumet_error e = {0};
    int r;

    for (size_t i = 0; i < f->n_inputs; i++) {
        uint64_t big = 0;
        t->sets[i] = UINT32_MAX;
        if (!t->series[i])
            continue;
        r = energy_attribution_value_at(t, i, t->series[i], refp, &t->vars[i], &t->sets[i], &big);
        if (r < 0) {
            energy_attribution_describe(&res->id, &c->id, ts, where, sizeof(where));
            energy_attribution_problem(t, ALUMET_LOG_ERROR,
                                       "formula '%s', %s: the value '%" PRIu64 "' of '%s' does "
                                       "not fit in a 64-bit signed integer",
                                       f->name, where, big, f->inputs[i].ident);
            return 0;
        }
    }
    struct energy_attribution_value v = {EA_VALUE_FLOAT, {.f = 0.0}};
    r = energy_attribution_expr_eval(f->expr, t->vars, &v, &e);
    double value = v.type == EA_VALUE_INT ? (double)v.v.i : v.v.f;
    if (r >= 0 && v.type == EA_VALUE_BOOL)
        r = alumet_error_set(&e, -EINVAL, "the expression gave a boolean, not a number");
    else if (r >= 0 && !isfinite(value))
        r = alumet_error_set(&e, -EDOM, "the expression gave '%g'", value);
    if (r < 0) {
        energy_attribution_describe(&res->id, &c->id, ts, where, sizeof(where));
        energy_attribution_problem(t, ALUMET_LOG_WARN, "formula '%s', %s: %s", f->name, where,
                                   e.msg);
        return 0;
    }
    if (!*ids_ready) {
        r = energy_attribution_ids_in_buf(buf, res, c, rid, cid);
        if (r < 0)
            return r;
        *ids_ready = true;
    }
    r = energy_attribution_emit(t, buf, ts, value, rid, cid);
    if (r < 0)
        return r;
    refp->share += value;
    /* a consumer late to a reference point already closed: the remainder
     * is corrected, so that the points at t still add up to the reference */
    if (refp->closed && (r = energy_attribution_emit_rest(t, buf, res, refp, -value)) < 0)
        return r;
    t->emitted++;
    t->apply_emitted++;
    return 0;
}

/* Prune every series of consumer c; keep_anchor: the points that its next
 * reference point may need (those after a prorated series' bound). */
static void energy_attribution_prune_consumer(struct energy_attribution_transform *t,
                                              struct energy_attribution_consumer *c,
                                              alumet_time_ns before, bool keep_anchor)
{
    for (size_t i = 0; i < t->state.n_per_consumer; i++) {
        struct energy_attribution_series *s = &c->series[i];
        alumet_time_ns at = before;
        if (keep_anchor && s->has_bound && s->bound < before)
            at = s->bound + 1;
        energy_attribution_series_prune(s, at, keep_anchor);
    }
}

/* Where the reference timestamp ts (interval since ref_prev) stands for
 * consumer c of res: covered when every series that meets gives a value
 * there (t->series is set to those that have points). */
static enum energy_attribution_cover energy_attribution_consumer_cover(
    struct energy_attribution_transform *t, struct energy_attribution_resource *res,
    struct energy_attribution_consumer *c, alumet_time_ns ts, alumet_time_ns ref_prev)
{
    const struct energy_attribution_formula *f = t->formula;
    enum energy_attribution_cover worst = EA_COVERED;

    /* the series that meet: every per_resource one and those of c */
    for (size_t i = 0; i < f->n_inputs; i++) {
        struct energy_attribution_series *s =
            i < f->n_resource_inputs ? &res->general[i] : &c->series[i - f->n_resource_inputs];
        bool empty = energy_attribution_series_count(s) == 0;
        t->series[i] = empty ? NULL : s;
        if (i == f->ref)
            continue;
        /* an input that the formula does not read may lack points */
        if (empty && !energy_attribution_expr_uses(f->expr, i))
            continue;
        struct energy_attribution_at at;
        enum energy_attribution_cover cv =
            energy_attribution_cover(s, ts, ref_prev, t->ending, f->inputs[i].prorate, &at);
        if (cv == EA_TOO_EARLY)
            return EA_TOO_EARLY;
        if (cv == EA_TOO_LATE)
            worst = EA_TOO_LATE;
    }
    return worst;
}

/* Attribute what can be attributed to consumer c of res, then drop the
 * points that will never be needed again. 0 or -ENOMEM. */
static int energy_attribution_consumer_run(struct energy_attribution_transform *t,
                                           struct alumet_buffer *buf,
                                           struct energy_attribution_resource *res,
                                           struct energy_attribution_consumer *c,
                                           alumet_time_ns expired)
{
    struct energy_attribution_series *ref = &res->general[t->formula->ref];
    size_t n = energy_attribution_series_count(ref);
    size_t k =
        c->attributed ? energy_attribution_series_lower_bound(ref, c->last_attributed + 1) : 0;
    struct alumet_resource rid;
    struct alumet_consumer cid;
    bool ids_ready = false, any = false;
    alumet_time_ns last = 0;

    for (; k < n; k++) {
        struct energy_attribution_sample *refp = &ref->items[ref->head + k];
        enum energy_attribution_cover cv =
            energy_attribution_consumer_cover(t, res, c, refp->t, refp->prev);
        if (cv == EA_TOO_EARLY)
            continue; /* before the consumer's data: never its energy */
        if (cv == EA_TOO_LATE)
            break; /* wait for its next points */
        int r = energy_attribution_point(t, buf, res, c, refp, &rid, &cid, &ids_ready);
        if (r < 0)
            return r;
        any = true;
        last = refp->t;
    }
    if (!any) {
        energy_attribution_prune_consumer(t, c, expired, false);
        return 0;
    }
    c->attributed = true;
    c->last_attributed = last;
    if (expired > c->last_attributed)
        energy_attribution_prune_consumer(t, c, expired, false);
    else
        energy_attribution_prune_consumer(t, c, c->last_attributed, true);
    return 0;
}

static bool energy_attribution_consumer_alive(const struct energy_attribution_state *st,
                                              const struct energy_attribution_consumer *c)
{
    for (size_t i = 0; i < st->n_per_consumer; i++)
        if (energy_attribution_series_count(&c->series[i]))
            return true;
    return false;
}

/* Newest timestamp of the series of res and of its consumers, INT64_MIN when
 * they are all empty. */
static alumet_time_ns energy_attribution_newest(const struct energy_attribution_state *st,
                                                const struct energy_attribution_resource *res)
{
    alumet_time_ns newest = INT64_MIN;
    for (size_t g = 0; g < st->n_general; g++) {
        size_t n = energy_attribution_series_count(&res->general[g]);
        if (n && energy_attribution_series_at(&res->general[g], n - 1)->t > newest)
            newest = energy_attribution_series_at(&res->general[g], n - 1)->t;
    }
    for (size_t k = 0; k < res->n_consumers; k++) {
        for (size_t i = 0; i < st->n_per_consumer; i++) {
            const struct energy_attribution_series *s = &res->consumers[k]->series[i];
            size_t n = energy_attribution_series_count(s);
            if (n && energy_attribution_series_at(s, n - 1)->t > newest)
                newest = energy_attribution_series_at(s, n - 1)->t;
        }
    }
    return newest;
}

/* ---- the remainder ---- */

/* Emit the remainder point of refp: `<formula>_unattributed` at its
 * timestamp, for the whole machine, with value (and the reference's
 * attributes). 0 or -ENOMEM. */
static int energy_attribution_emit_rest(struct energy_attribution_transform *t,
                                        struct alumet_buffer *buf,
                                        const struct energy_attribution_resource *res,
                                        struct energy_attribution_sample *refp, double value)
{
    const struct energy_attribution_formula *f = t->formula;
    const struct alumet_consumer machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    struct alumet_resource rid = res->id;

    if (!f->unattributed)
        return 0;
    if ((rid.str && !(rid.str = alumet_buffer_strdup(buf, rid.str, (size_t)-1))) ||
        (rid.custom_kind &&
         !(rid.custom_kind = alumet_buffer_strdup(buf, rid.custom_kind, (size_t)-1))))
        return -ENOMEM;
    struct alumet_point *p =
        alumet_buffer_push_f64(buf, refp->t, t->rest_metric, &rid, &machine, value);
    if (!p)
        return -ENOMEM;
    if (!f->inputs[f->ref].keep_attributes || refp->attrs == UINT32_MAX)
        return 0;
    struct energy_attribution_attrset *set = &res->general[f->ref].sets[refp->attrs];
    const struct alumet_attr *attrs = energy_attribution_set_in_buf(t, buf, set);
    if (!attrs)
        return -ENOMEM;
    for (size_t k = 0; k < set->len; k++)
        if (!alumet_point_find_attr(buf, p, attrs[k].key) &&
            alumet_point_add_attr(buf, p, &attrs[k]) < 0)
            return -ENOMEM;
    return 0;
}

static alumet_time_ns
energy_attribution_consumer_newest(const struct energy_attribution_state *st,
                                   const struct energy_attribution_consumer *c)
{
    alumet_time_ns newest = INT64_MIN;
    for (size_t i = 0; i < st->n_per_consumer; i++) {
        size_t n = energy_attribution_series_count(&c->series[i]);
        if (n && energy_attribution_series_at(&c->series[i], n - 1)->t > newest)
            newest = energy_attribution_series_at(&c->series[i], n - 1)->t;
    }
    return newest;
}

/* Emit the remainder of the reference points of res that no consumer will
 * add to any more, in time order: those before `before`, and those that the
 * consumer data has reached (a consumer point at or after them) and that
 * every consumer has attributed, or cannot (it started later, or it ended:
 * its data stops before the others'). 0 or -ENOMEM. */
static int energy_attribution_close(struct energy_attribution_transform *t,
                                    struct alumet_buffer *buf,
                                    struct energy_attribution_resource *res, alumet_time_ns before)
{
    const struct energy_attribution_formula *f = t->formula;
    struct energy_attribution_series *ref = &res->general[f->ref];
    alumet_time_ns newest_all = INT64_MIN;

    for (size_t j = 0; j < res->n_consumers; j++) {
        alumet_time_ns cn = energy_attribution_consumer_newest(&t->state, res->consumers[j]);
        newest_all = cn > newest_all ? cn : newest_all;
    }
    for (size_t k = 0; k < energy_attribution_series_count(ref); k++) {
        struct energy_attribution_sample *refp = &ref->items[ref->head + k];
        if (refp->closed)
            continue;
        bool done =
            refp->t < before || (f->n_resource_inputs < f->n_inputs ? newest_all >= refp->t : true);
        for (size_t j = 0; done && j < res->n_consumers && refp->t >= before; j++) {
            struct energy_attribution_consumer *c = res->consumers[j];
            if (c->attributed && c->last_attributed >= refp->t)
                continue;
            alumet_time_ns cn = energy_attribution_consumer_newest(&t->state, c);
            if (cn == INT64_MIN)
                continue;
            enum energy_attribution_cover cv =
                energy_attribution_consumer_cover(t, res, c, refp->t, refp->prev);
            done = cv == EA_TOO_EARLY || (cv == EA_TOO_LATE && cn < newest_all);
        }
        if (!done)
            break;
        double e = energy_attribution_sample_value(refp);
        refp->closed = true;
        if (energy_attribution_emit_rest(t, buf, res, refp, e - refp->share) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int energy_attribution_resource_run(struct energy_attribution_transform *t,
                                           struct alumet_buffer *buf,
                                           struct energy_attribution_resource *res)
{
    const struct energy_attribution_formula *f = t->formula;
    struct energy_attribution_state *st = &t->state;
    bool no_ref = energy_attribution_series_count(&res->general[f->ref]) == 0;
    /* the newest point of any series: when the reference stops (its source
     * failed), the consumers' points still expire */
    alumet_time_ns newest = energy_attribution_newest(st, res);
    alumet_time_ns expired = newest < INT64_MIN + f->retention ? INT64_MIN : newest - f->retention;

    if (no_ref) {
        /* nothing to attribute yet: only forget what is too old */
        for (size_t g = 0; g < st->n_general; g++)
            energy_attribution_series_prune(&res->general[g], expired, false);
        for (size_t k = 0; k < res->n_consumers; k++)
            energy_attribution_prune_consumer(t, res->consumers[k], expired, false);
        return 0;
    }
    for (size_t k = 0; k < res->n_consumers; k++) {
        int r = energy_attribution_consumer_run(t, buf, res, res->consumers[k], expired);
        if (r < 0)
            return r;
    }
    /* The general series are kept back to the oldest point that a consumer may
     * still need: its last attributed time, or the retention limit. */
    size_t alive = 0;
    bool all_attributed = true;
    alumet_time_ns threshold = INT64_MAX;
    for (size_t k = 0; k < res->n_consumers; k++) {
        const struct energy_attribution_consumer *c = res->consumers[k];
        if (!energy_attribution_consumer_alive(st, c))
            continue;
        alive++;
        if (!c->attributed)
            all_attributed = false;
        else if (c->last_attributed < threshold)
            threshold = c->last_attributed;
    }
    if (!all_attributed || threshold < expired)
        threshold = expired;
    int r = energy_attribution_close(t, buf, res, alive ? threshold : expired);
    if (r < 0)
        return r;
    for (size_t g = 0; g < st->n_general; g++)
        energy_attribution_series_prune(&res->general[g], alive ? threshold : expired, alive > 0);
    return 0;
}

static int energy_attribution_transform_apply(void *data, struct alumet_buffer *buf,
                                              const struct alumet_registry *reg,
                                              struct alumet_error *err)
{
    struct energy_attribution_transform *t = data;
    size_t n = alumet_buffer_len(buf);
    int r;

    if (!t->resolved && (r = energy_attribution_transform_resolve(t, reg, err)) < 0)
        return r;
    size_t taken = 0;
    for (size_t i = 0; i < n; i++) {
        r = energy_attribution_ingest(t, buf, alumet_buffer_get(buf, i), err);
        if (r < 0)
            return r;
        taken += (size_t)r;
    }
    energy_attribution_diag_report(t, /* at_end= */ false);
    /* nothing new (a buffer of other sources): nothing more to attribute or to
     * forget than after the previous buffer */
    if (!taken)
        return 0;
    t->gen++;
    t->apply_problems = t->apply_emitted = 0;
    for (size_t i = 0; i < t->state.n_resources; i++) {
        r = energy_attribution_resource_run(t, buf, t->state.resources[i]);
        if (r < 0)
            return alumet_error_set(err, r, "formula '%s': out of memory", t->formula->name);
    }
    energy_attribution_state_compact(&t->state);
    if (t->problems.failing && !t->apply_problems && t->apply_emitted) {
        alumet_log_info("formula '%s': the attribution works again (%" PRIu64
                        " points skipped so far)",
                        t->formula->name, t->skipped);
        t->problems.failing = false;
        t->problems.suppressed = 0;
        t->problems.backoff = EA_BACKOFF_FIRST;
    }
    if (t->apply_emitted)
        alumet_log_trace("formula '%s': %" PRIu64 " points attributed from a buffer of %zu",
                         t->formula->name, t->apply_emitted, n);
    return 0;
}

/* At shutdown: the reference points that the last points of the consumers
 * cover now that no point will follow them, the remainder of every reference
 * point still open, and the inputs that never matched. */
static int energy_attribution_transform_finish(void *data, struct alumet_buffer *buf,
                                               const struct alumet_registry *reg,
                                               struct alumet_error *err)
{
    struct energy_attribution_transform *t = data;
    (void)reg;
    t->gen++;
    t->ending = true;
    for (size_t i = 0; i < t->state.n_resources; i++)
        if (energy_attribution_resource_run(t, buf, t->state.resources[i]) < 0 ||
            energy_attribution_close(t, buf, t->state.resources[i], INT64_MAX) < 0)
            return alumet_error_set(err, -ENOMEM, "formula '%s': out of memory", t->formula->name);
    energy_attribution_diag_report(t, /* at_end= */ true);
    return 0;
}

const struct alumet_transform_ops energy_attribution_transform_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = energy_attribution_transform_apply,
    .finish = energy_attribution_transform_finish,
    .free = energy_attribution_transform_free,
};
