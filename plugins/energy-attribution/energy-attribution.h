/* SPDX-License-Identifier: MIT */
/* energy-attribution: declarations shared by the files of the plugin (and its
 * tests). Never installed, never included by another plugin.
 *
 *   energy-attribution.c            the plugin struct, the options, the lifecycle
 *   energy-attribution-expr.c       the expression language (parser, evaluator)
 *   energy-attribution-state.c      the time series kept between two buffers
 *   energy-attribution-align.c      which reference points a series covers (edges)
 *   energy-attribution-check.c      input filters, and the diagnostics of bad ones
 *   energy-attribution-transform.c  the attribution algorithm (apply, remainder) */
#ifndef ENERGY_ATTRIBUTION_H
#define ENERGY_ATTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "alumet/transform.h"

/* ---- expression language (energy-attribution-expr.c) ---- */

enum energy_attribution_value_type {
    EA_VALUE_INT,   /* 64-bit signed integer */
    EA_VALUE_FLOAT, /* double */
    EA_VALUE_BOOL,
};

struct energy_attribution_value {
    enum energy_attribution_value_type type;
    union {
        int64_t i;
        double f;
        bool b;
    } v;
};

/* A compiled expression: immutable once compiled, so that one thread may
 * evaluate it while another reads it. */
struct energy_attribution_expr;

/* Compile text (borrowed). Variable i of the expression is names[i] (borrowed,
 * only read during the call). A syntax error, an unknown variable or function,
 * a wrong number of arguments, an operand of the wrong type or a boolean
 * result give -EINVAL with err naming the column. On success *ret_expr is the
 * expression; the caller frees it with energy_attribution_expr_free(). */
int energy_attribution_expr_compile(const char *text, const char *const *names, size_t n_names,
                                    struct energy_attribution_expr **ret_expr,
                                    struct alumet_error *err);
/* NULL-safe; returns NULL. */
struct energy_attribution_expr *energy_attribution_expr_free(struct energy_attribution_expr *e);

/* Evaluate e with vars[i] bound to variable i (borrowed). Never allocates.
 * Returns 0 and *ret, or -EDOM (division by zero), -ERANGE (integer
 * overflow) or -EINVAL (operand of the wrong type) with err. */
int energy_attribution_expr_eval(const struct energy_attribution_expr *e,
                                 const struct energy_attribution_value *vars,
                                 struct energy_attribution_value *ret, struct alumet_error *err);

/* Whether the expression reads variable i. */
bool energy_attribution_expr_uses(const struct energy_attribution_expr *e, size_t i);

/* Whether name can be a variable: an identifier that is neither a keyword
 * (true, false) nor a function name. */
bool energy_attribution_expr_valid_name(const char *name);

/* ---- formulas, as configured (energy-attribution.c) ---- */

/* An attribute that the points of an input must have (first attribute with
 * that key): int matches U64, float F64, bool Bool and string Str. */
struct energy_attribution_filter {
    char *key;
    enum alumet_attr_type type; /* F64, U64, BOOL or STR */
    union {
        double f64;
        uint64_t u64;
        bool b;
        char *str;
    } v;
};

/* One time series of a formula: `ident = { metric = "...", ... }`. */
struct energy_attribution_input {
    char *ident;
    char *metric_name;
    bool per_consumer;
    bool keep_attributes;
    /* per_consumer only: a point is an amount over its own interval, which
     * counts for its overlap with the reference interval (README.md,
     * "Prorated series") */
    bool prorate;
    char *resource_kind; /* NULL: any; likewise for the three below */
    char *resource_id;
    char *consumer_kind;
    char *consumer_id;
    struct energy_attribution_filter *filters;
    size_t n_filters;
};

/* A formula: its inputs are the per_resource ones (file order), then the
 * per_consumer ones; variable i of the expression is input i. Read-only once
 * parsed. */
struct energy_attribution_formula {
    char *name; /* the table name: the name of the produced metric */
    char *expr_text;
    struct energy_attribution_expr *expr;
    size_t ref; /* index of the reference input (a per_resource one) */
    alumet_time_ns retention;
    struct energy_attribution_input *inputs;
    size_t n_inputs;
    size_t n_resource_inputs; /* inputs[0 .. n_resource_inputs) are per_resource */
    bool unattributed;        /* emit <name>_unattributed per reference point */
};

/* The plugin state. */
struct energy_attribution {
    struct energy_attribution_formula *formulas;
    size_t n_formulas;
    /* the transforms of the current run, owned by the core (set by start,
     * resolved by pre_pipeline_start, forgotten by stop) */
    struct energy_attribution_transform **running;
};

/* ---- state kept between buffers (energy-attribution-state.c) ---- */

/* A set of attributes copied out of a buffer (keys and strings owned). */
struct energy_attribution_attrset {
    struct alumet_attr *attrs;
    size_t len;
    /* the same attributes copied into the buffer of apply number `gen` */
    struct alumet_attr *in_buf;
    uint64_t gen;
};

struct energy_attribution_sample {
    alumet_time_ns t;
    union alumet_value value;
    enum alumet_value_type type;
    uint32_t attrs; /* index in the series' attribute sets, UINT32_MAX: none kept */
    /* the timestamp of the point before it in the series, even a dropped one
     * (INT64_MIN: none): the point covers (prev, t] */
    alumet_time_ns prev;
    /* reference points only: the sum of the results at t, and whether its
     * remainder (<formula>_unattributed) has been emitted */
    double share;
    bool closed;
};

/* The value of sample p as a double. */
static inline double energy_attribution_sample_value(const struct energy_attribution_sample *p)
{
    return p->type == ALUMET_VALUE_F64 ? p->value.f64 : (double)p->value.u64;
}

/* Points of one input, sorted by timestamp: items[head .. len) are alive. */
struct energy_attribution_series {
    struct energy_attribution_sample *items;
    size_t head, len, cap;
    alumet_time_ns dropped_t; /* timestamp of the newest dropped point, INT64_MIN: none */
    /* a prorated series: where the share of the last attributed reference
     * point ended (its `upper`), where the next one starts */
    alumet_time_ns bound;
    bool has_bound;
    struct energy_attribution_attrset *sets;
    size_t n_sets, cap_sets;
};

struct energy_attribution_consumer {
    struct alumet_consumer id; /* strings owned */
    uint64_t hash;
    bool attributed;
    alumet_time_ns last_attributed;
    struct energy_attribution_series series[]; /* one per per_consumer input */
};

struct energy_attribution_resource {
    struct alumet_resource id;                      /* strings owned */
    struct energy_attribution_series *general;      /* one per per_resource input */
    struct energy_attribution_consumer **consumers; /* in order of appearance */
    size_t n_consumers, cap_consumers;
    uint32_t *index; /* open addressing: consumer position + 1, 0 = empty */
    size_t index_cap;
};

struct energy_attribution_state {
    struct energy_attribution_resource **resources;
    size_t n_resources, cap_resources;
    size_t n_general, n_per_consumer;
};

static inline size_t energy_attribution_series_count(const struct energy_attribution_series *s)
{
    return s->len - s->head;
}

static inline const struct energy_attribution_sample *
energy_attribution_series_at(const struct energy_attribution_series *s, size_t i)
{
    return &s->items[s->head + i];
}

void energy_attribution_state_init(struct energy_attribution_state *st, size_t n_general,
                                   size_t n_per_consumer);
void energy_attribution_state_done(struct energy_attribution_state *st);

/* The resource r (borrowed, its strings are copied), created when absent.
 * NULL on -ENOMEM. */
struct energy_attribution_resource *
energy_attribution_state_resource(struct energy_attribution_state *st,
                                  const struct alumet_resource *r);
/* The consumer c of res, created when absent. NULL on -ENOMEM. */
struct energy_attribution_consumer *
energy_attribution_state_consumer(struct energy_attribution_state *st,
                                  struct energy_attribution_resource *res,
                                  const struct alumet_consumer *c);

/* Insert point p of buf into s at its place in time. When keep_attrs, its
 * attributes are copied (once per distinct set). 0 or -ENOMEM. */
int energy_attribution_series_insert(struct energy_attribution_series *s,
                                     const struct alumet_buffer *buf, const struct alumet_point *p,
                                     bool keep_attrs);

/* Index of the first point with timestamp >= t (count when none). */
size_t energy_attribution_series_lower_bound(const struct energy_attribution_series *s,
                                             alumet_time_ns t);

/* Drop the points older than t. With keep_anchor, the newest of them stays
 * when no point has exactly t, so that the value at any time after t can
 * still be interpolated. */
void energy_attribution_series_prune(struct energy_attribution_series *s, alumet_time_ns t,
                                     bool keep_anchor);

/* Whether the resources (or consumers) a and b are the same. */
bool energy_attribution_resource_eq(const struct alumet_resource *a,
                                    const struct alumet_resource *b);
bool energy_attribution_consumer_eq(const struct alumet_consumer *a,
                                    const struct alumet_consumer *b);

/* Remove the consumers with no point left and the resources with neither
 * points nor consumers. */
void energy_attribution_state_compact(struct energy_attribution_state *st);

/* ---- alignment onto the reference (energy-attribution-align.c) ---- */

enum energy_attribution_cover {
    EA_COVERED,   /* s gives a value at t (struct energy_attribution_at) */
    EA_TOO_EARLY, /* t is before what s covers: never attributable */
    EA_TOO_LATE,  /* t is after what s covers yet: wait for its next point */
};

/* Where the value of a series at t comes from: its point k, or the linear
 * interpolation between its points k - 1 and k; for a prorated series, the
 * shares of its points in (lower, upper]. */
struct energy_attribution_at {
    size_t k;
    bool interpolate;
    bool prorate;
    alumet_time_ns lower, upper;
};

/* Whether series s gives a value at the reference timestamp t, whose
 * reference interval starts at ref_prev (INT64_MIN: unknown), and from
 * which points (*at, when covered). ended: no point of s will come any more
 * (the agent stops), so its last point may cover t. prorate: the input's
 * option. */
enum energy_attribution_cover energy_attribution_cover(const struct energy_attribution_series *s,
                                                       alumet_time_ns t, alumet_time_ns ref_prev,
                                                       bool ended, bool prorate,
                                                       struct energy_attribution_at *at);

/* The sum of the shares of the points of prorated series s in (at->lower,
 * at->upper] (energy_attribution_cover), and in *ret_k the last point that
 * gave one (the attributes of the result). */
double energy_attribution_prorated_sum(const struct energy_attribution_series *s,
                                       const struct energy_attribution_at *at, size_t *ret_k);

/* ---- the transform (energy-attribution-transform.c) ---- */

/* Rate limit of a warning that may repeat at every buffer: the first one is
 * printed, then one every `backoff` (doubling up to a cap) with the number of
 * the others. */
struct energy_attribution_ratelimit {
    alumet_time_ns next;
    alumet_time_ns backoff;
    uint64_t suppressed;
    bool failing;
};

/* The data of one transform `attribution-<formula>`. */
struct energy_attribution_transform {
    const struct energy_attribution_formula *formula; /* borrowed from the plugin state */
    struct alumet_log_topic *log;
    alumet_metric_id out_metric;
    alumet_metric_id *in_metrics; /* per input, resolved before the pipeline starts */
    bool resolved;
    struct energy_attribution_state state;
    uint64_t gen;                           /* number of apply calls */
    uint64_t skipped, emitted;              /* totals */
    uint64_t apply_problems, apply_emitted; /* during the current apply */
    struct energy_attribution_ratelimit problems;
    /* scratch for one evaluation, one entry per input: the value, the series
     * (NULL when it has no point) and the attribute set of the value */
    struct energy_attribution_value *vars;
    struct energy_attribution_series **series;
    uint32_t *sets;
    bool ending;      /* in finish: the series have ended, their last points may cover */
    char *id_scratch; /* holds any resource_id or consumer_id of the filters */
    size_t id_scratch_size;
    alumet_metric_id rest_metric;          /* <formula>_unattributed, when formula->unattributed */
    struct energy_attribution_diag *diags; /* per input */
};

/* What an input has seen, to say why it matches nothing (per input). */
struct energy_attribution_diag {
    uint64_t seen, taken;              /* points of its metric, points accepted */
    alumet_time_ns first_seen, newest; /* timestamps of those points */
    int criterion;                     /* the first criterion that rejected a point, -1: none */
    char values[240];                  /* the values of that criterion seen, quoted */
    bool reported;
};

extern const struct alumet_transform_ops energy_attribution_transform_ops;

/* ---- filters and their diagnostics (energy-attribution-check.c) ---- */

/* -1 when input in accepts point p of buf, else the criterion that rejects it. */
int energy_attribution_reject(struct energy_attribution_transform *t,
                              const struct energy_attribution_input *in,
                              const struct alumet_buffer *buf, const struct alumet_point *p);
/* Count point p of input i's metric, taken (criterion -1) or not. */
void energy_attribution_diag_note(struct energy_attribution_transform *t, size_t i,
                                  const struct alumet_buffer *buf, const struct alumet_point *p,
                                  int criterion);
/* Warn once per input that has seen its metric for a while (or at all, when
 * at_end) without taking a point, naming the filter and the values seen. */
void energy_attribution_diag_report(struct energy_attribution_transform *t, bool at_end);
/* The error for point p of input i, which has a point at its timestamp
 * already: -EINVAL with err naming the attribute that tells them apart. */
int energy_attribution_ambiguity(struct energy_attribution_transform *t, size_t i,
                                 const struct alumet_buffer *buf, const struct alumet_point *p,
                                 struct alumet_error *err);

/* New transform for formula (borrowed: it must outlive the transform). NULL
 * on -ENOMEM. Free with energy_attribution_transform_free(). */
struct energy_attribution_transform *
energy_attribution_transform_new(const struct energy_attribution_formula *formula,
                                 alumet_metric_id out_metric, alumet_metric_id rest_metric,
                                 struct alumet_log_topic *log);
void energy_attribution_transform_free(void *data);

/* Look up every input metric by name in reg. -ENOENT with err naming the
 * missing metric and the input. */
int energy_attribution_transform_resolve(struct energy_attribution_transform *t,
                                         const struct alumet_registry *reg,
                                         struct alumet_error *err);

#endif
