/* SPDX-License-Identifier: MIT */
/* Starting and stopping the agent, shared by run, exec and watch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "agent.h"
#include "alumet/log.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

static void run_report(void *data, const char *msg)
{
    (void)data;
    alumet_log_error("%s", msg);
}

static const char *plural(size_t n)
{
    return n > 1 ? "s" : "";
}

/* The summary that upstream prints (and that scripts grep for). */
static void run_log_summary(struct agent *a, struct alumet_pipeline *p)
{
    char text[16384];
    size_t w = 0, n_on = 0, n_off = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (w < sizeof(text))                                                                      \
            w += (size_t)snprintf(text + w, sizeof(text) - w, __VA_ARGS__);                        \
    } while (0)
    for (size_t i = 0; i < a->plugins.len; i++)
        a->plugins.items[i].enabled ? n_on++ : n_off++;
    ADD("Plugin startup complete.\n\xf0\x9f\xa7\xa9 %zu plugin%s started:\n", n_on, plural(n_on));
    for (size_t i = 0; i < a->plugins.len; i++)
        if (a->plugins.items[i].enabled)
            ADD("    - %s v%s\n", a->plugins.items[i].def->name, a->plugins.items[i].def->version);
    ADD("\n\xe2\xad\x95 %zu plugin%s disabled:\n", n_off, plural(n_off));
    for (size_t i = 0; i < a->plugins.len; i++)
        if (!a->plugins.items[i].enabled)
            ADD("    - %s v%s\n", a->plugins.items[i].def->name, a->plugins.items[i].def->version);
    const struct alumet_registry *reg = alumet_pipeline_registry(p);
    size_t nm = alumet_registry_count(reg);
    ADD("\n\xf0\x9f\x93\x8f %zu metric%s registered:\n", nm, plural(nm));
    for (size_t i = 0; i < nm; i++) {
        const struct alumet_metric *m = alumet_registry_get(reg, (alumet_metric_id)i);
        ADD("    - %s: %s (%s)\n", m->name, alumet_value_type_name(m->value_type), m->unit_display);
    }
    if (nm == 0)
        ADD("    \xe2\x88\x85\n");
    size_t ns, nt, no;
    alumet__pipeline_counts(p, &ns, &nt, &no);
    ADD("\n\xf0\x9f\x93\xa5 %zu source%s, \xf0\x9f\x94\x80 %zu transform%s and \xf0\x9f\x93\x9d "
        "%zu output%s registered.",
        ns, plural(ns), nt, plural(nt), no, plural(no));
#undef ADD
    alumet_log_info("%s", text);
}

int agent_start(struct agent *a, struct alumet_pipeline **ret_pipeline, agent_hook_fn before_start,
                agent_hook_fn before_pipeline, void *hook_data)
{
    struct alumet_error err = {0};
    size_t n = 0;
    for (size_t i = 0; i < a->plugins.len; i++)
        n += a->plugins.items[i].enabled;
    alumet_log_info("Initializing the plugins...");
    int r = alumet__agent_init_plugins(&a->plugins, false, run_report, NULL, &err);
    if (r < 0) {
        alumet_log_error("startup failure: %s", err.msg);
        alumet__agent_stop_plugins(&a->plugins);
        return r;
    }
    if (n == 0)
        alumet_log_warn("no plugin is enabled: nothing will be measured; enable plugins in the "
                        "config file or with --plugins");
    else
        alumet_log_info("%zu plugin%s initialized.", n, plural(n));
    struct alumet_pipeline *p = alumet__pipeline_new(&a->settings);
    if (!p) {
        alumet__agent_stop_plugins(&a->plugins);
        return -ENOMEM;
    }
    r = before_start ? before_start(p, hook_data, &err) : 0;
    if (r == 0)
        r = alumet__agent_start_plugins(&a->plugins, p, &err);
    if (r == 0 && before_pipeline)
        r = before_pipeline(p, hook_data, &err);
    if (r == 0)
        r = alumet__agent_start_pipeline(&a->plugins, p, &err);
    if (r < 0) {
        alumet_log_error("startup failure: %s", err.msg);
        alumet__pipeline_stop(p);
        alumet__pipeline_free_elements(p);
        alumet__agent_stop_plugins(&a->plugins);
        alumet__pipeline_free(p);
        return r;
    }
    run_log_summary(a, p);
    alumet_log_info("The agent is ready.");
    *ret_pipeline = p;
    agent_signals_attach(p);
    return 0;
}

int agent_stop(struct agent *a, struct alumet_pipeline *p)
{
    /* a signal during the stop is still received (and only logged) */
    int errors = alumet__pipeline_stop(p);
    agent_signals_detach();
    /* the elements are freed before their plugins stop, the pipeline
     * after: a plugin's thread (socket-control) may use it until its stop */
    alumet__pipeline_free_elements(p);
    errors += alumet__agent_stop_plugins(&a->plugins);
    alumet__pipeline_free(p);
    if (errors)
        alumet_log_error("%d error%s while running or shutting the agent down (see above)", errors,
                         plural((size_t)errors));
    return errors;
}
