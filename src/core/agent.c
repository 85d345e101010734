/* SPDX-License-Identifier: MIT */
/* Plugin lifecycle and the contexts handed to plugins in each phase. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config/config-tree.h"
#include "log-internal.h"
#include "registry.h"

#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

struct alumet_log_topic alumet__log_agent = ALUMET_LOG_TOPIC_INIT("agent");
struct alumet_log_topic alumet__log_core = ALUMET_LOG_TOPIC_INIT("core");

/* ---- contexts ---- */

int alumet_create_metric(struct alumet_start_ctx *ctx, const char *name,
                         enum alumet_value_type type, struct alumet_unit unit,
                         const char *description, alumet_metric_id *ret_id,
                         struct alumet_error *err)
{
    return alumet__registry_add(alumet__pipeline_registry(ctx->p), name, type, unit, description,
                                ret_id, err);
}

int alumet_add_source(struct alumet_start_ctx *ctx, const char *name,
                      const struct alumet_source_ops *ops, void *data,
                      const struct alumet_source_opts *opts, struct alumet_error *err)
{
    return alumet__pipeline_add_source(ctx->p, ctx->plugin->def->name, name, ops, data, opts, err);
}

int alumet_add_autonomous_source(struct alumet_start_ctx *ctx, const char *name,
                                 const struct alumet_autonomous_ops *ops, void *data,
                                 struct alumet_error *err)
{
    return alumet__pipeline_add_autonomous(ctx->p, ctx->plugin->def->name, name, ops, data, err);
}

int alumet_add_transform(struct alumet_start_ctx *ctx, const char *name,
                         const struct alumet_transform_ops *ops, void *data,
                         struct alumet_error *err)
{
    return alumet__pipeline_add_transform(ctx->p, ctx->plugin->def->name, name, ops, data, err);
}

int alumet_add_output(struct alumet_start_ctx *ctx, const char *name,
                      const struct alumet_output_ops *ops, void *data,
                      const struct alumet_output_opts *opts, struct alumet_error *err)
{
    return alumet__pipeline_add_output(ctx->p, ctx->plugin->def->name, name, ops, data, opts, err);
}

struct alumet_log_topic *alumet_start_log_topic(struct alumet_start_ctx *ctx)
{
    return &ctx->plugin->topic;
}

int alumet_subscribe_event(struct alumet_start_ctx *ctx, enum alumet_event_kind kind,
                           alumet_event_fn fn, void *data, struct alumet_error *err)
{
    if (kind < 0 || kind >= _ALUMET_EVENT_MAX || !fn)
        return alumet_error_set(err, -EINVAL, "invalid event subscription");
    return alumet__pipeline_subscribe(ctx->p, kind, fn, data, err);
}

const struct alumet_registry *alumet_pre_start_registry(struct alumet_pre_start_ctx *ctx)
{
    return alumet__pipeline_registry(ctx->p);
}

struct alumet_pipeline *alumet_post_start_pipeline(struct alumet_post_start_ctx *ctx)
{
    return ctx->p;
}

/* ---- phases ---- */

/* The plugin whose callback the agent runs now, for crash reports: a plugin
 * that crashes in init, start or stop is named before the process dies. */
static const char *volatile crash_plugin, *volatile crash_phase;

const char *alumet__agent_crash_context(const char **ret_phase)
{
    *ret_phase = crash_phase;
    return crash_plugin;
}

#define IN_PLUGIN(ap, phase, call)                                                                 \
    (crash_phase = (phase), crash_plugin = (ap)->def->name, plugin_call_done((call)))

static int plugin_call_done(int r)
{
    crash_plugin = NULL;
    return r;
}

/* A negative result is a failure whether the plugin filled err or not. */
static int plugin_failed(struct alumet_error *err, int r, const char *what,
                         const struct agent_plugin *ap)
{
    if (!err->code || !err->msg[0])
        alumet_error_set(err, r, "%s", strerror(-r));
    alumet_error_prefix(err, "%s: %s v%s", what, ap->def->name, ap->def->version);
    return r;
}

/* The plugin's section of its default config (an empty table when it has
 * none); caller frees with toml_free. */
static int plugin_default_section(const struct agent_plugin *ap, struct toml_value **ret,
                                  struct alumet_error *e)
{
    const char *def = ap->def->default_config;
    struct toml_value *root = NULL;
    int r = alumet__config_load_text(def ? def : "", def ? strlen(def) : 0, "<default config>", 0,
                                     &root, e);
    if (r < 0)
        return r;
    struct toml_value *plugins = toml_table_get(root, "plugins");
    struct toml_value *sect = plugins ? toml_table_take(plugins, ap->def->name) : NULL;
    toml_free(root);
    if (!sect)
        sect = toml_table_new();
    if (!sect)
        return alumet_error_set(e, -ENOMEM, "out of memory");
    *ret = sect;
    return 0;
}

/* The keys of the section that no getter read. After an init that stopped
 * early (`config check` only), the keys of the default config may just not
 * have been reached: only the others are reported then. */
static int plugin_report_unused(struct agent_plugin *ap, bool stopped,
                                void (*report)(void *data, const char *msg), void *data)
{
    if (!stopped)
        return alumet__config_report_unused(ap->config, report, data);
    struct alumet_error e = {0};
    struct toml_value *known = NULL;
    if (plugin_default_section(ap, &known, &e) < 0)
        return 0;
    int n = alumet__config_report_unused_except(ap->config, known, report, data);
    toml_free(known);
    return n;
}

/* Init one plugin. With collect (`config check`), every problem of its
 * options is reported, not only the first: the getters go on after a value
 * of the wrong type, and the keys no getter read are reported even when the
 * init fails. Returns the init's result, -EINVAL when only collected
 * problems or unknown keys make it fail. */
static int plugin_init(struct agent_plugin *ap, bool collect,
                       void (*report)(void *data, const char *msg), void *data)
{
    struct alumet_error e = {0};
    struct config_problems problems = {.msgs = NULL};
    char msg[ALUMET_ERROR_MSG_MAX + 128];
    int r = 0;

    if (collect)
        alumet__config_collect_begin(&problems);
    if (ap->def->init)
        r = IN_PLUGIN(ap, "init",
                      ap->def->init(alumet__config_from_value(ap->config), &ap->state, &e));
    alumet__config_collect_end();

    for (size_t i = 0; i < problems.n; i++)
        report(data, problems.msgs[i]);
    /* the error the init returned is most often the last problem collected */
    bool told = r < 0 && problems.n > 0 && strcmp(e.msg, problems.msgs[problems.n - 1]) == 0;
    int n_problems = (int)problems.n;
    alumet__config_problems_free(&problems);
    if (r < 0 && !told) {
        snprintf(msg, sizeof(msg), "plugin %s v%s failed to initialize: invalid configuration: %s",
                 ap->def->name, ap->def->version, e.msg[0] ? e.msg : strerror(-r));
        report(data, msg);
    }
    if (r < 0 && !collect)
        return r;

    int unknown = plugin_report_unused(ap, r < 0, report, data);
    int total = n_problems + unknown;
    if (r >= 0 && total == 0) {
        ap->initialized = true;
        return 0;
    }
    if (r >= 0 && ap->def->free)
        ap->def->free(ap->state);
    ap->state = NULL;
    if (n_problems == 0 && r >= 0)
        snprintf(msg, sizeof(msg),
                 "plugin %s v%s: invalid configuration: %d unknown key%s (see above)",
                 ap->def->name, ap->def->version, unknown, unknown > 1 ? "s" : "");
    else if (total > 0)
        snprintf(msg, sizeof(msg), "plugin %s v%s: invalid configuration: %d problem%s (see above)",
                 ap->def->name, ap->def->version, total, total > 1 ? "s" : "");
    if (total > 0)
        report(data, msg);
    return r < 0 ? r : -EINVAL;
}

int alumet__agent_init_plugins(struct plugin_set *set, bool keep_going,
                               void (*report)(void *data, const char *msg), void *data,
                               struct alumet_error *err)
{
    int failures = 0;
    int first = 0;
    for (size_t i = 0; i < set->len; i++) {
        struct agent_plugin *ap = &set->items[i];
        if (!ap->enabled)
            continue;
        struct alumet_error e = {0};
        int r = alumet__plugins_resolve(ap, &e);
        if (r < 0) {
            report(data, e.msg);
            r = -ENOEXEC;
        } else if (!ap->config) {
            struct toml_value *sect = NULL;
            r = plugin_default_section(ap, &sect, &e);
            if (r == -ENOMEM)
                return alumet_error_set(err, r, "out of memory");
            if (r < 0)
                report(data, e.msg);
            else
                ap->config = ap->owned_config = sect;
        }
        if (r >= 0)
            r = plugin_init(ap, keep_going, report, data);
        if (r < 0) {
            failures++;
            first = first ? first : r;
            if (!keep_going)
                break;
        }
    }
    if (failures)
        return alumet_error_set(err, first, "%d plugin%s failed to initialize", failures,
                                failures > 1 ? "s" : "");
    return 0;
}

int alumet__agent_start(struct plugin_set *set, struct alumet_pipeline *p, struct alumet_error *err)
{
    int r = alumet__agent_start_plugins(set, p, err);
    return r < 0 ? r : alumet__agent_start_pipeline(set, p, err);
}

int alumet__agent_start_plugins(struct plugin_set *set, struct alumet_pipeline *p,
                                struct alumet_error *err)
{
    int r;
    alumet_log_info("Starting the plugins...");
    for (size_t i = 0; i < set->len; i++) {
        struct agent_plugin *ap = &set->items[i];
        if (!ap->initialized)
            continue;
        struct alumet_start_ctx ctx = {p, ap};
        r = ap->def->start ? IN_PLUGIN(ap, "start", ap->def->start(ap->state, &ctx, err)) : 0;
        if (r < 0)
            return plugin_failed(err, r, "plugin failed to start", ap);
        ap->started = true;
    }
    alumet_log_info("Running pre-pipeline-start hooks...");
    for (size_t i = 0; i < set->len; i++) {
        struct agent_plugin *ap = &set->items[i];
        if (!ap->started || !ap->def->pre_pipeline_start)
            continue;
        struct alumet_pre_start_ctx ctx = {p};
        r = IN_PLUGIN(ap, "pre_pipeline_start", ap->def->pre_pipeline_start(ap->state, &ctx, err));
        if (r < 0)
            return plugin_failed(err, r, "plugin pre_pipeline_start failed", ap);
    }
    return 0;
}

int alumet__agent_start_pipeline(struct plugin_set *set, struct alumet_pipeline *p,
                                 struct alumet_error *err)
{
    int r;
    alumet_log_info("Starting the measurement pipeline...");
    r = alumet__pipeline_start(p, err);
    if (r < 0) {
        if (!err->code)
            alumet_error_set(err, r, "%s", strerror(-r));
        alumet_error_prefix(err, "Pipeline failed to build");
        return r;
    }
    alumet_log_info("The measurement pipeline has started.");
    alumet_log_info("Running post-pipeline-start hooks...");
    for (size_t i = 0; i < set->len; i++) {
        struct agent_plugin *ap = &set->items[i];
        if (!ap->started || !ap->def->post_pipeline_start)
            continue;
        struct alumet_post_start_ctx ctx = {p};
        r = IN_PLUGIN(ap, "post_pipeline_start",
                      ap->def->post_pipeline_start(ap->state, &ctx, err));
        if (r < 0)
            return plugin_failed(err, r, "plugin post_pipeline_start method failed", ap);
    }
    return 0;
}

int alumet__agent_stop_plugins(struct plugin_set *set)
{
    int failures = 0;
    alumet_log_info("Stopping the plugins...");
    for (size_t i = 0; i < set->len; i++) {
        struct agent_plugin *ap = &set->items[i];
        if (ap->started) {
            alumet_log_info("Stopping plugin %s v%s", ap->def->name, ap->def->version);
            struct alumet_error e = {0};
            int r = ap->def->stop ? IN_PLUGIN(ap, "stop", ap->def->stop(ap->state, &e)) : 0;
            if (r < 0) {
                alumet_log_error("Error while stopping plugin %s v%s: %s", ap->def->name,
                                 ap->def->version, e.msg);
                failures++;
            }
            ap->started = false;
        }
    }
    for (size_t i = 0; i < set->len; i++) {
        struct agent_plugin *ap = &set->items[i];
        if (ap->initialized && ap->def->free)
            ap->def->free(ap->state);
        ap->state = NULL;
        ap->initialized = false;
    }
    alumet_log_info("All plugins have stopped.");
    return failures;
}
