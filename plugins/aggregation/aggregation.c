/* SPDX-License-Identifier: MIT */
/* aggregation: tumbling-window aggregation of chosen metrics, as upstream
 * Alumet's plugin 0.1.0 (`<metric>_sum`, `<metric>_mean`), with min and max,
 * and the last (partial) windows emitted at shutdown (README.md). The
 * transform is in aggregation-transform.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aggregation.h"
#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"

#define AGGREGATION_DEFAULT_CONFIG                                                                 \
    "[plugins.aggregation]\n"                                                                      \
    "# Off by default (with no metric it does nothing)\n"                                          \
    "enabled = false\n"                                                                            \
    "# Length of the windows, aligned on multiples of it since the UNIX epoch\n"                   \
    "interval = \"1m\"\n"                                                                          \
    "# \"Sum\", \"Mean\", \"Min\" or \"Max\", or a list of them (case does not matter)\n"          \
    "function = \"Sum\"\n"                                                                         \
    "# Metrics to aggregate: their points are replaced by <metric>_sum (_mean, ...)\n"             \
    "metrics = []\n"

static const char *const aggregation_fn_names[AGGREGATION_FN_MAX] = {"sum", "mean", "min", "max"};

static void aggregation_free(void *state)
{
    struct aggregation *a = state;
    if (!a)
        return;
    for (size_t i = 0; i < a->n_metrics; i++)
        free(a->metrics[i]);
    free(a->metrics);
    free(a);
}

static int aggregation_fn_add(struct alumet_config *cfg, const char *name, unsigned *functions,
                              struct alumet_error *err)
{
    for (int f = 0; f < AGGREGATION_FN_MAX; f++)
        if (strcasecmp(name, aggregation_fn_names[f]) == 0) {
            *functions |= 1u << f;
            return 0;
        }
    return alumet_config_error(cfg, "function", err, -EINVAL,
                               "unknown function '%s': expected \"Sum\", \"Mean\", \"Min\" or "
                               "\"Max\" (or a list of them)",
                               name);
}

/* function = "Sum" or ["Sum", "Max"]. */
static int aggregation_functions(struct alumet_config *cfg, unsigned *ret, struct alumet_error *err)
{
    struct alumet_error scratch = {0};
    const char *one;
    const char **items = NULL;
    size_t n = 0;
    int r;

    *ret = 0;
    if (alumet_config_get_string(cfg, "function", "Sum", &one, &scratch) == 0)
        return aggregation_fn_add(cfg, one, ret, err);
    if ((r = alumet_config_get_string_array(cfg, "function", &items, &n, err)) < 0)
        return alumet_config_error(cfg, "function", err, -EINVAL,
                                   "expected \"Sum\", \"Mean\", \"Min\" or \"Max\", or a list of "
                                   "them");
    for (size_t i = 0; r == 0 && i < n; i++)
        r = aggregation_fn_add(cfg, items[i], ret, err);
    free(items);
    if (r == 0 && *ret == 0)
        r = alumet_config_error(cfg, "function", err, -EINVAL, "expected at least one function");
    return r;
}

static int aggregation_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct aggregation *a = calloc(1, sizeof(*a));
    const char **names = NULL;
    size_t n = 0;
    int r;

    if (!a)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if ((r = alumet_config_get_interval(cfg, "interval", 60 * ALUMET_NSEC_PER_SEC, &a->interval,
                                        err)) < 0 ||
        (r = aggregation_functions(cfg, &a->functions, err)) < 0 ||
        (r = alumet_config_get_string_array(cfg, "metrics", &names, &n, err)) < 0)
        goto err_free;
    if (n && !(a->metrics = calloc(n, sizeof(char *)))) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                r = alumet_config_error(cfg, "metrics", err, -EINVAL, "metric '%s' is listed twice",
                                        names[i]);
                goto err_free;
            }
        if (!(a->metrics[i] = strdup(names[i]))) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            goto err_free;
        }
        a->n_metrics = i + 1;
    }
    free(names);
    *ret_state = a;
    return 0;

err_free:
    free(names);
    aggregation_free(a);
    return r;
}

static int aggregation_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct aggregation *a = state;
    struct aggregation_transform *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    t->interval = a->interval;
    t->functions = a->functions;
    t->pid = (uint32_t)getpid();
    t->newest = INT64_MIN;
    t->log = alumet_start_log_topic(ctx);
    if (a->n_metrics && !(t->inputs = calloc(a->n_metrics, sizeof(*t->inputs)))) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    for (size_t i = 0; i < a->n_metrics; i++) {
        if (!(t->inputs[i].name = strdup(a->metrics[i]))) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            goto err_free;
        }
        t->n_inputs = i + 1;
        t->inputs[i].in = ALUMET_METRIC_ID_INVALID;
        for (int f = 0; f < AGGREGATION_FN_MAX; f++)
            t->inputs[i].out[f] = ALUMET_METRIC_ID_INVALID;
    }
    if ((r = alumet_create_metric(ctx, AGGREGATION_LATE_METRIC, ALUMET_VALUE_U64,
                                  ALUMET_UNIT(UNITY),
                                  "points a transform dropped since start (attribute reason: "
                                  "late = after their window was emitted)",
                                  &t->late_metric, err)) < 0 ||
        (r = alumet_add_transform(ctx, AGGREGATION_ELEMENT, &aggregation_transform_ops, t, err)) <
            0)
        goto err_free;
    a->running = t;
    if (a->n_metrics == 0)
        alumet_log_at(t->log, ALUMET_LOG_WARN,
                      "plugins.aggregation.metrics is empty: nothing is aggregated");
    return 0;

err_free:
    aggregation_transform_free(t);
    return r;
}

/* Every listed metric must exist once every plugin has registered its own. */
static int aggregation_pre_pipeline_start(void *state, struct alumet_pre_start_ctx *ctx,
                                          struct alumet_error *err)
{
    struct aggregation *a = state;
    const struct alumet_registry *reg = alumet_pre_start_registry(ctx);
    for (size_t i = 0; i < a->running->n_inputs; i++) {
        struct aggregation_input *in = &a->running->inputs[i];
        const struct alumet_metric *m = alumet_registry_find(reg, in->name);
        if (!m)
            return alumet_error_set(err, -ENOENT,
                                    "plugins.aggregation.metrics: metric '%s' not found: enable "
                                    "the plugin that produces it, or check the name",
                                    in->name);
        in->in = m->id;
        in->type = m->value_type;
        in->unit = m->unit;
        in->description = m->description;
    }
    return 0;
}

/* The output metrics, registered late as upstream does (their types and
 * units are those of the inputs, known once every plugin started). */
static int aggregation_post_pipeline_start(void *state, struct alumet_post_start_ctx *ctx,
                                           struct alumet_error *err)
{
    struct aggregation *a = state;
    struct aggregation_transform *t = a->running;
    struct alumet_pipeline *p = alumet_post_start_pipeline(ctx);
    for (size_t i = 0; i < t->n_inputs; i++) {
        struct aggregation_input *in = &t->inputs[i];
        for (int f = 0; f < AGGREGATION_FN_MAX; f++) {
            if (!(t->functions & (1u << f)))
                continue;
            char name[512];
            snprintf(name, sizeof(name), "%s_%s", in->name, aggregation_fn_names[f]);
            int r = alumet_pipeline_create_metric(p, name, in->type, in->unit, in->description,
                                                  &in->out[f], err);
            if (r < 0)
                return r;
        }
    }
    atomic_store_explicit(&t->ready, true, memory_order_release);
    return 0;
}

static int aggregation_stop(void *state, struct alumet_error *err)
{
    struct aggregation *a = state;
    (void)err;
    a->running = NULL; /* freed by the core */
    return 0;
}

const struct alumet_plugin alumet_plugin_aggregation = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "aggregation",
    .version = "0.1.0",
    .default_config = AGGREGATION_DEFAULT_CONFIG,
    .init = aggregation_init,
    .start = aggregation_start,
    .pre_pipeline_start = aggregation_pre_pipeline_start,
    .post_pipeline_start = aggregation_post_pipeline_start,
    .stop = aggregation_stop,
    .free = aggregation_free,
};
