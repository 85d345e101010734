/* SPDX-License-Identifier: MIT */
/* energy-attribution: splits the energy of a resource among its consumers
 * with user formulas (README.md). One transform `attribution-<formula>` per
 * formula, registered in the order of the file, each producing the metric
 * named after its formula. This file reads the options and runs the
 * lifecycle; the expressions are compiled at init so that `config check`
 * reports their errors, the metrics are looked up by name before the pipeline
 * starts, when every plugin has registered its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/export.h"
#include "alumet/plugin.h"
#include "energy-attribution.h"

/* Kept this long after the newest point of the resource when they cannot
 * be attributed (upstream requires the option; its user book omits it). */
#define EA_DEFAULT_RETENTION (60 * ALUMET_NSEC_PER_SEC)

#define EA_METRIC_DESCRIPTION                                                                      \
    "Energy attribution (since the previous value) per consumer and per resource"

#define EA_REST_DESCRIPTION                                                                        \
    "Energy of the resource that the formula gave to no consumer (since the previous value)"

/* ---- formulas ---- */

static void energy_attribution_input_done(struct energy_attribution_input *in)
{
    free(in->ident);
    free(in->metric_name);
    free(in->resource_kind);
    free(in->resource_id);
    free(in->consumer_kind);
    free(in->consumer_id);
    for (size_t i = 0; i < in->n_filters; i++) {
        free(in->filters[i].key);
        if (in->filters[i].type == ALUMET_ATTR_STR)
            free(in->filters[i].v.str);
    }
    free(in->filters);
}

static void energy_attribution_formula_done(struct energy_attribution_formula *f)
{
    free(f->name);
    free(f->expr_text);
    energy_attribution_expr_free(f->expr);
    for (size_t i = 0; i < f->n_inputs; i++)
        energy_attribution_input_done(&f->inputs[i]);
    free(f->inputs);
}

static void energy_attribution_free(void *state)
{
    struct energy_attribution *ea = state;
    if (!ea)
        return;
    for (size_t i = 0; i < ea->n_formulas; i++)
        energy_attribution_formula_done(&ea->formulas[i]);
    free(ea->formulas);
    free(ea->running);
    free(ea);
}

/* Copy an optional string option (NULL when absent). */
static int energy_attribution_opt_string(struct alumet_config *t, const char *key, char **ret,
                                         struct alumet_error *err)
{
    const char *s;
    int r = alumet_config_get_string(t, key, NULL, &s, err);
    if (r < 0)
        return r;
    *ret = NULL;
    if (s && !(*ret = strdup(s)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

static const char *const energy_attribution_input_keys[] = {
    "metric",      "resource_kind",   "resource_id", "consumer_kind",
    "consumer_id", "keep_attributes", "prorate",
};

/* An attribute filter: `domain = "package_total"`, `core = 3`, `on = true`. */
static int energy_attribution_filter_parse(struct alumet_config *t, const char *key,
                                           struct energy_attribution_filter *f,
                                           struct alumet_error *err)
{
    const char *type = alumet_config_type(t, key);
    const char *s;
    int64_t i;
    int r = 0;

    f->key = strdup(key);
    if (!f->key)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if (!type)
        type = "";
    if (strcmp(type, "boolean") == 0) {
        f->type = ALUMET_ATTR_BOOL;
        r = alumet_config_get_bool(t, key, false, &f->v.b, err);
    } else if (strcmp(type, "integer") == 0) {
        f->type = ALUMET_ATTR_U64;
        if ((r = alumet_config_get_int(t, key, 0, &i, err)) < 0)
            return r;
        if (i < 0)
            return alumet_config_error(t, key, err, -EINVAL,
                                       "an attribute filter must be a non-negative integer, a "
                                       "float, a boolean or a string");
        f->v.u64 = (uint64_t)i;
    } else if (strcmp(type, "float") == 0) {
        f->type = ALUMET_ATTR_F64;
        r = alumet_config_get_float(t, key, 0.0, &f->v.f64, err);
    } else if (strcmp(type, "string") == 0) {
        f->type = ALUMET_ATTR_U64; /* nothing to free until the string is copied */
        if ((r = alumet_config_get_string(t, key, "", &s, err)) < 0)
            return r;
        f->v.str = strdup(s);
        if (!f->v.str)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        f->type = ALUMET_ATTR_STR;
    } else {
        f->type = ALUMET_ATTR_U64; /* nothing to free */
        return alumet_config_error(t, key, err, -EINVAL,
                                   "expected an attribute filter (a non-negative integer, a "
                                   "float, a boolean or a string), or one of the options metric, "
                                   "resource_kind, resource_id, consumer_kind, consumer_id, "
                                   "keep_attributes, prorate");
    }
    return r;
}

/* `ident = { metric = "...", resource_kind = "...", domain = "..." }` */
static int energy_attribution_input_parse(struct alumet_config *table, const char *ident,
                                          bool per_consumer, struct energy_attribution_input *in,
                                          struct alumet_error *err)
{
    struct alumet_config *t;
    const char *metric;
    int r;

    in->per_consumer = per_consumer;
    if (!(in->ident = strdup(ident)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if (!energy_attribution_expr_valid_name(ident))
        return alumet_config_error(table, ident, err, -EINVAL,
                                   "'%s' cannot name a variable of the expression: use letters, "
                                   "digits and '_', not starting with a digit, and neither a "
                                   "function name nor true or false",
                                   ident);
    if ((r = alumet_config_get_table(table, ident, &t, err)) < 0)
        return r;
    if ((r = alumet_config_get_string(t, "metric", NULL, &metric, err)) < 0)
        return r;
    if (!metric)
        return alumet_config_error(t, "metric", err, -EINVAL,
                                   "missing field 'metric': the name of the metric of this time "
                                   "series, such as \"rapl_consumed_energy\"");
    if (!(in->metric_name = strdup(metric)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if ((r = energy_attribution_opt_string(t, "resource_kind", &in->resource_kind, err)) < 0 ||
        (r = energy_attribution_opt_string(t, "resource_id", &in->resource_id, err)) < 0 ||
        (r = energy_attribution_opt_string(t, "consumer_kind", &in->consumer_kind, err)) < 0 ||
        (r = energy_attribution_opt_string(t, "consumer_id", &in->consumer_id, err)) < 0 ||
        (r = alumet_config_get_bool(t, "keep_attributes", true, &in->keep_attributes, err)) < 0 ||
        (r = alumet_config_get_bool(t, "prorate", false, &in->prorate, err)) < 0)
        return r;
    if (in->prorate && !per_consumer)
        return alumet_config_error(t, "prorate", err, -EINVAL,
                                   "prorate applies to per_consumer series only (the amounts of "
                                   "a consumer over its own intervals, such as cpu_time_delta)");
    size_t n = alumet_config_len(t);
    in->filters = calloc(n ? n : 1, sizeof(*in->filters));
    if (!in->filters)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        const char *key = alumet_config_key_at(t, k);
        bool known = false;
        for (size_t j = 0; j < sizeof(energy_attribution_input_keys) / sizeof(char *); j++)
            known = known || strcmp(key, energy_attribution_input_keys[j]) == 0;
        if (known)
            continue;
        r = energy_attribution_filter_parse(t, key, &in->filters[in->n_filters++], err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Read the inputs of one table (per_resource or per_consumer). */
static int energy_attribution_inputs_parse(struct alumet_config *ft, const char *key,
                                           bool per_consumer, struct energy_attribution_formula *f,
                                           struct alumet_error *err)
{
    struct alumet_config *table;
    int r = alumet_config_get_table(ft, key, &table, err);
    if (r < 0)
        return r;
    if (!table)
        return alumet_config_error(ft, key, err, -EINVAL,
                                   "missing table '%s': declare the time series of the formula "
                                   "there, such as `cpu_energy = { metric = "
                                   "\"rapl_consumed_energy\" }`",
                                   key);
    size_t n = alumet_config_len(table);
    struct energy_attribution_input *inputs =
        realloc(f->inputs, (f->n_inputs + n + 1) * sizeof(*inputs));
    if (!inputs)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    f->inputs = inputs;
    for (size_t k = 0; k < n; k++) {
        const char *ident = alumet_config_key_at(table, k);
        for (size_t j = 0; j < f->n_inputs; j++)
            if (strcmp(f->inputs[j].ident, ident) == 0)
                return alumet_config_error(table, ident, err, -EINVAL,
                                           "the time series '%s' is declared twice, in "
                                           "per_resource and in per_consumer",
                                           ident);
        struct energy_attribution_input *in = &f->inputs[f->n_inputs++];
        memset(in, 0, sizeof(*in));
        r = energy_attribution_input_parse(table, ident, per_consumer, in, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int energy_attribution_formula_parse(struct alumet_config *formulas, const char *name,
                                            struct energy_attribution_formula *f,
                                            struct alumet_error *err)
{
    struct alumet_config *ft;
    const char *expr, *ref;
    int r;

    if (!(f->name = strdup(name)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if ((r = alumet_config_get_table(formulas, name, &ft, err)) < 0)
        return r;
    if ((r = alumet_config_get_string(ft, "expr", NULL, &expr, err)) < 0 ||
        (r = alumet_config_get_string(ft, "ref", NULL, &ref, err)) < 0 ||
        (r = alumet_config_get_duration(ft, "retention_time", EA_DEFAULT_RETENTION, &f->retention,
                                        err)) < 0)
        return r;
    if (!expr)
        return alumet_config_error(ft, "expr", err, -EINVAL,
                                   "missing field 'expr': the formula that gives the energy of "
                                   "a consumer, such as \"cpu_energy * cpu_usage / 100.0\"");
    if (!ref)
        return alumet_config_error(ft, "ref", err, -EINVAL,
                                   "missing field 'ref': the per_resource time series whose "
                                   "timestamps the results take, such as \"cpu_energy\"");
    if ((r = alumet_config_get_bool(ft, "unattributed", true, &f->unattributed, err)) < 0)
        return r;
    if (f->retention < 0)
        return alumet_config_error(ft, "retention_time", err, -EINVAL,
                                   "expected a non-negative duration");
    if (!(f->expr_text = strdup(expr)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if ((r = energy_attribution_inputs_parse(ft, "per_resource", false, f, err)) < 0)
        return r;
    f->n_resource_inputs = f->n_inputs;
    if ((r = energy_attribution_inputs_parse(ft, "per_consumer", true, f, err)) < 0)
        return r;
    f->ref = SIZE_MAX;
    for (size_t i = 0; i < f->n_resource_inputs; i++)
        if (strcmp(f->inputs[i].ident, ref) == 0)
            f->ref = i;
    if (f->ref == SIZE_MAX)
        return alumet_config_error(ft, "ref", err, -EINVAL,
                                   "temporal reference '%s' not found, it should be declared in "
                                   "`per_resource`",
                                   ref);
    const char **names = calloc(f->n_inputs + 1, sizeof(*names));
    if (!names)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < f->n_inputs; i++)
        names[i] = f->inputs[i].ident;
    struct alumet_error ce = {0};
    r = energy_attribution_expr_compile(expr, names, f->n_inputs, &f->expr, &ce);
    free(names);
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    if (r < 0)
        return alumet_config_error(ft, "expr", err, r, "failed to compile expression '%s': %s",
                                   expr, ce.msg);
    return 0;
}

/* ---- lifecycle ---- */

static int energy_attribution_init(struct alumet_config *cfg, void **ret_state,
                                   struct alumet_error *err)
{
    struct alumet_config *formulas;
    int r = alumet_config_get_table(cfg, "formulas", &formulas, err);
    if (r < 0)
        return r;
    if (!formulas)
        return alumet_config_error(cfg, "formulas", err, -EINVAL,
                                   "missing field 'formulas': declare each formula in a table "
                                   "[plugins.energy-attribution.formulas.<metric name>] (see "
                                   "the README of the plugin)");
    struct energy_attribution *ea = calloc(1, sizeof(*ea));
    if (!ea)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    size_t n = alumet_config_len(formulas);
    ea->formulas = calloc(n ? n : 1, sizeof(*ea->formulas));
    if (!ea->formulas) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    /* in file order: the transforms run in this order, so that a formula may
     * use the metric of a previous one */
    for (size_t i = 0; i < n; i++) {
        ea->n_formulas++;
        r = energy_attribution_formula_parse(formulas, alumet_config_key_at(formulas, i),
                                             &ea->formulas[i], err);
        if (r < 0)
            goto err_free;
    }
    *ret_state = ea;
    return 0;

err_free:
    energy_attribution_free(ea);
    return r;
}

static int energy_attribution_start(void *state, struct alumet_start_ctx *ctx,
                                    struct alumet_error *err)
{
    struct energy_attribution *ea = state;
    struct alumet_log_topic *log = alumet_start_log_topic(ctx);
    int r;

    free(ea->running);
    ea->running = calloc(ea->n_formulas ? ea->n_formulas : 1, sizeof(*ea->running));
    if (!ea->running)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < ea->n_formulas; i++) {
        const struct energy_attribution_formula *f = &ea->formulas[i];
        alumet_metric_id out;
        r = alumet_create_metric(ctx, f->name, ALUMET_VALUE_F64, ALUMET_UNIT(JOULE),
                                 EA_METRIC_DESCRIPTION, &out, err);
        if (r < 0)
            return r;
        alumet_metric_id rest = out;
        if (f->unattributed) {
            char rest_name[512];
            snprintf(rest_name, sizeof(rest_name), "%s_unattributed", f->name);
            r = alumet_create_metric(ctx, rest_name, ALUMET_VALUE_F64, ALUMET_UNIT(JOULE),
                                     EA_REST_DESCRIPTION, &rest, err);
            if (r < 0)
                return r;
        }
        /* upstream's name `attribution/<formula>` cannot be an element name here,
         * where '/' separates the plugin from the element in control patterns */
        size_t len = strlen(f->name) + sizeof("attribution-");
        char *name = malloc(len);
        struct energy_attribution_transform *t =
            energy_attribution_transform_new(f, out, rest, log);
        if (!name || !t) {
            free(name);
            energy_attribution_transform_free(t);
            return alumet_error_set(err, -ENOMEM, "out of memory");
        }
        snprintf(name, len, "attribution-%s", f->name);
        for (char *c = name; *c; c++)
            if (*c == '/')
                *c = '_';
        r = alumet_add_transform(ctx, name, &energy_attribution_transform_ops, t, err);
        free(name);
        if (r < 0) {
            energy_attribution_transform_free(t);
            return r;
        }
        ea->running[i] = t;
    }
    return 0;
}

static int energy_attribution_pre_pipeline_start(void *state, struct alumet_pre_start_ctx *ctx,
                                                 struct alumet_error *err)
{
    struct energy_attribution *ea = state;
    const struct alumet_registry *reg = alumet_pre_start_registry(ctx);

    for (size_t i = 0; i < ea->n_formulas; i++) {
        int r = energy_attribution_transform_resolve(ea->running[i], reg, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int energy_attribution_stop(void *state, struct alumet_error *err)
{
    struct energy_attribution *ea = state;
    /* the core has freed the transforms */
    free(ea->running);
    ea->running = NULL;
    return 0;
}

const struct alumet_plugin alumet_plugin_energy_attribution = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "energy-attribution",
    .version = "0.1.1",
    .default_config = NULL, /* as upstream: formulas depend on the sources */
    .init = energy_attribution_init,
    .start = energy_attribution_start,
    .pre_pipeline_start = energy_attribution_pre_pipeline_start,
    .stop = energy_attribution_stop,
    .free = energy_attribution_free,
};
