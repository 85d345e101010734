/* SPDX-License-Identifier: MIT */
/* filter: keeps or drops points, as upstream Alumet's plugin 0.1.0 does by
 * metric name (include/exclude), and beyond upstream by resource, consumer
 * and attribute: an item of include/exclude may be a table such as
 * { metric = "rapl_consumed_energy", resource_kind = "cpu_package",
 *   attributes = { domain = "package" } } (README.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/plugin.h"
#include "alumet/resource.h"
#include "alumet/transform.h"
#include "filter.h"

#define FILTER_DEFAULT_CONFIG                                                                      \
    "[plugins.filter]\n"                                                                           \
    "# Off by default (with neither include nor exclude it does nothing)\n"                        \
    "enabled = false\n"                                                                            \
    "# Keep only these metrics (or exclude = [...] to drop them); beyond upstream an\n"            \
    "# item may also be a table of conditions that must all hold:\n"                               \
    "# include = [\"rapl_consumed_energy\", { metric = \"cpu_time_delta\", consumer_kind = "       \
    "\"process\" }]\n"                                                                             \
    "# exclude = [{ resource_kind = \"cpu_core\" }, { attributes = { domain = \"dram\" } }]\n"

static void filter_rule_done(struct filter_rule *r)
{
    free(r->metric);
    free(r->resource_kind);
    free(r->resource_id);
    free(r->consumer_kind);
    free(r->consumer_id);
    for (size_t i = 0; i < r->n_attrs; i++) {
        free(r->attr_keys[i]);
        free(r->attr_values[i]);
    }
    free(r->attr_keys);
    free(r->attr_values);
}

static void filter_list_done(struct filter_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        filter_rule_done(&l->rules[i]);
    free(l->rules);
}

static void filter_free(void *state)
{
    struct filter *f = state;
    if (!f)
        return;
    filter_list_done(&f->include);
    filter_list_done(&f->exclude);
    free(f);
}

/* An optional string key of a rule table, copied into *ret (NULL when absent). */
static int filter_opt_string(struct alumet_config *t, const char *key, char **ret,
                             struct alumet_error *err)
{
    const char *s = NULL;
    int r = alumet_config_get_string(t, key, NULL, &s, err);
    if (r < 0 || !s)
        return r;
    if (!(*ret = strdup(s)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* The text of the value of key in t, as alumet_attr_text writes attribute
 * values: a string, an integer, a float or a boolean. */
static int filter_value_text(struct alumet_config *t, const char *key, char *buf, size_t size,
                             struct alumet_error *err)
{
    struct alumet_error scratch = {0};
    const char *s;
    int64_t i;
    double d;
    bool b;
    if (alumet_config_get_string(t, key, NULL, &s, &scratch) == 0) {
        snprintf(buf, size, "%s", s);
    } else if (alumet_config_get_int(t, key, 0, &i, &scratch) == 0) {
        snprintf(buf, size, "%" PRId64, i);
    } else if (alumet_config_get_float(t, key, 0, &d, &scratch) == 0) {
        struct alumet_attr a = {.key = key, .type = ALUMET_ATTR_F64, .v.f64 = d};
        alumet_attr_text(&a, buf, size);
    } else if (alumet_config_get_bool(t, key, false, &b, &scratch) == 0) {
        snprintf(buf, size, "%s", b ? "true" : "false");
    } else {
        return alumet_config_error(t, key, err, -EINVAL,
                                   "expected a string, a number or a boolean (the value the "
                                   "attribute must have)");
    }
    return 0;
}

static int filter_rule_attrs(struct filter_rule *rule, struct alumet_config *t,
                             struct alumet_error *err)
{
    struct alumet_config *attrs = NULL;
    int r = alumet_config_get_table(t, "attributes", &attrs, err);
    if (r < 0 || !attrs)
        return r;
    size_t n = alumet_config_len(attrs);
    rule->attr_keys = calloc(n ? n : 1, sizeof(char *));
    rule->attr_values = calloc(n ? n : 1, sizeof(char *));
    if (!rule->attr_keys || !rule->attr_values)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *key = alumet_config_key_at(attrs, i);
        char text[512];
        if ((r = filter_value_text(attrs, key, text, sizeof(text), err)) < 0)
            return r;
        rule->attr_keys[i] = strdup(key);
        rule->attr_values[i] = strdup(text);
        rule->n_attrs = i + 1;
        if (!rule->attr_keys[i] || !rule->attr_values[i])
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static int filter_rule_table(struct filter_rule *rule, struct alumet_config *t,
                             struct alumet_error *err)
{
    int r;
    if ((r = filter_opt_string(t, "metric", &rule->metric, err)) < 0 ||
        (r = filter_opt_string(t, "resource_kind", &rule->resource_kind, err)) < 0 ||
        (r = filter_opt_string(t, "resource_id", &rule->resource_id, err)) < 0 ||
        (r = filter_opt_string(t, "consumer_kind", &rule->consumer_kind, err)) < 0 ||
        (r = filter_opt_string(t, "consumer_id", &rule->consumer_id, err)) < 0 ||
        (r = filter_rule_attrs(rule, t, err)) < 0)
        return r;
    return 0;
}

/* include or exclude: an array of metric names and rule tables. */
static int filter_list_read(struct alumet_config *cfg, const char *key, struct filter_list *l,
                            struct alumet_error *err)
{
    struct alumet_config *arr = NULL;
    size_t n = 0;
    int r = alumet_config_get_array(cfg, key, &arr, &n, err);
    if (r < 0 || n == 0)
        return r;
    if (!(l->rules = calloc(n, sizeof(*l->rules))))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct filter_rule *rule = &l->rules[i];
        l->n = i + 1;
        rule->metric_id = ALUMET_METRIC_ID_INVALID;
        if (alumet_config_array_is_table(arr, i)) {
            struct alumet_config *t;
            if ((r = alumet_config_array_table(arr, i, &t, err)) < 0 ||
                (r = filter_rule_table(rule, t, err)) < 0)
                return r;
        } else {
            const char *name;
            if ((r = alumet_config_array_string(arr, i, &name, err)) < 0)
                return r;
            if (!(rule->metric = strdup(name)))
                return alumet_error_set(err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int filter_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct filter *f = calloc(1, sizeof(*f));
    int r;
    if (!f)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if ((r = filter_list_read(cfg, "include", &f->include, err)) < 0 ||
        (r = filter_list_read(cfg, "exclude", &f->exclude, err)) < 0) {
        filter_free(f);
        return r;
    }
    *ret_state = f;
    return 0;
}

/* want is NULL (any value) or equals have. */
static bool filter_text_equal(const char *want, const char *have)
{
    return !want || strcmp(want, have) == 0;
}

bool filter_rule_match(const struct filter_rule *rule, const struct alumet_buffer *buf,
                       const struct alumet_point *p)
{
    char text[512];
    if (rule->metric && p->metric != rule->metric_id)
        return false;
    if (!filter_text_equal(rule->resource_kind, alumet_resource_kind_name(&p->resource)) ||
        !filter_text_equal(rule->consumer_kind, alumet_consumer_kind_name(&p->consumer)))
        return false;
    if (rule->resource_id) {
        alumet_resource_id_text(&p->resource, text, sizeof(text));
        if (strcmp(rule->resource_id, text) != 0)
            return false;
    }
    if (rule->consumer_id) {
        alumet_consumer_id_text(&p->consumer, text, sizeof(text));
        if (strcmp(rule->consumer_id, text) != 0)
            return false;
    }
    const struct alumet_attr *a = alumet_point_attrs(buf, p);
    for (size_t k = 0; k < rule->n_attrs; k++) {
        bool found = false;
        for (uint32_t i = 0; !found && i < p->attr_count; i++) {
            if (strcmp(a[i].key, rule->attr_keys[k]) != 0)
                continue;
            alumet_attr_text(&a[i], text, sizeof(text));
            found = strcmp(text, rule->attr_values[k]) == 0;
        }
        if (!found)
            return false;
    }
    return true;
}

static bool filter_list_match(const struct filter_list *l, const struct alumet_buffer *buf,
                              const struct alumet_point *p)
{
    for (size_t i = 0; i < l->n; i++)
        if (filter_rule_match(&l->rules[i], buf, p))
            return true;
    return false;
}

static bool filter_keep(void *data, const struct alumet_buffer *buf, const struct alumet_point *p)
{
    const struct filter *f = data;
    if (f->include.n && !filter_list_match(&f->include, buf, p))
        return false;
    return !filter_list_match(&f->exclude, buf, p);
}

static int filter_apply(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                        struct alumet_error *err)
{
    (void)reg;
    (void)err;
    alumet_buffer_retain(buf, filter_keep, data);
    return 0;
}

/* The state belongs to the plugin (freed by filter_free). */
const struct alumet_transform_ops filter_transform_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = filter_apply,
};

static int filter_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct filter *f = state;
    f->log = alumet_start_log_topic(ctx);
    if (f->include.n == 0 && f->exclude.n == 0) {
        alumet_log_at(f->log, ALUMET_LOG_WARN,
                      "neither include nor exclude is set: the filter does nothing (set "
                      "plugins.filter.include or plugins.filter.exclude, or disable the plugin)");
        return 0;
    }
    return alumet_add_transform(ctx, "transform", &filter_transform_ops, f, err);
}

static int filter_resolve(struct filter_list *l, const char *what,
                          const struct alumet_registry *reg, struct alumet_error *err)
{
    for (size_t i = 0; i < l->n; i++) {
        struct filter_rule *rule = &l->rules[i];
        if (!rule->metric)
            continue;
        const struct alumet_metric *m = alumet_registry_find(reg, rule->metric);
        if (!m)
            return alumet_error_set(err, -ENOENT,
                                    "plugins.filter.%s: metric '%s' not found: enable the plugin "
                                    "that produces it, or check the name",
                                    what, rule->metric);
        rule->metric_id = m->id;
    }
    return 0;
}

/* Every metric named must exist once every plugin has registered its own. */
static int filter_pre_pipeline_start(void *state, struct alumet_pre_start_ctx *ctx,
                                     struct alumet_error *err)
{
    struct filter *f = state;
    const struct alumet_registry *reg = alumet_pre_start_registry(ctx);
    int r = filter_resolve(&f->include, "include", reg, err);
    return r < 0 ? r : filter_resolve(&f->exclude, "exclude", reg, err);
}

const struct alumet_plugin alumet_plugin_filter = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "filter",
    .version = "0.1.0",
    .default_config = FILTER_DEFAULT_CONFIG,
    .init = filter_init,
    .start = filter_start,
    .pre_pipeline_start = filter_pre_pipeline_start,
    .free = filter_free,
};
