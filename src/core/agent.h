/* SPDX-License-Identifier: MIT */
/* Plugin set and lifecycle: init, start, pre/post pipeline start, stop, free.
 * Private to libalumet and the agent program. */
#ifndef ALUMET_CORE_AGENT_H
#define ALUMET_CORE_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/plugin.h"
#include "config/toml.h"
#include "pipeline.h"

struct agent_plugin {
    const struct alumet_plugin *def;
    bool enabled;
    bool asked; /* enabled = true written in its section (doctor: asked on purpose) */
    bool initialized, started;
    void *state;
    void *dl_handle; /* dynamic plugins only */
    struct alumet_log_topic topic;
    struct toml_value *config;       /* borrowed: its section, or the parsed default */
    struct toml_value *owned_config; /* parsed default config, freed with the plugin */
    /* a bundled module not loaded yet: def is a stub (name and version) */
    struct alumet_plugin *stub;
    char *module_path, *module_symbol;
};

/* The contexts handed to plugins in each phase (defined here so that plugin
 * tests can start a plugin into a pipeline of their own). */
struct alumet_start_ctx {
    struct alumet_pipeline *p;
    struct agent_plugin *plugin;
};

struct alumet_pre_start_ctx {
    struct alumet_pipeline *p;
};

struct alumet_post_start_ctx {
    struct alumet_pipeline *p;
};

struct plugin_set {
    struct agent_plugin *items;
    size_t len, cap;
};

/* Add a plugin definition (borrowed) to the set. Duplicate names → -EEXIST. */
int alumet__plugins_add(struct plugin_set *set, const struct alumet_plugin *def, void *dl_handle,
                        struct alumet_error *err);
/* Add a bundled module by name and version; it is loaded (dlopen of path,
 * then the struct named symbol) by alumet__plugins_resolve, only when needed. */
int alumet__plugins_add_module(struct plugin_set *set, const char *name, const char *version,
                               const char *path, const char *symbol, struct alumet_error *err);
/* Load the module of ap if it is not loaded yet (else nothing); 0 or -errno. */
int alumet__plugins_resolve(struct agent_plugin *ap, struct alumet_error *err);
struct agent_plugin *alumet__plugins_find(struct plugin_set *set, const char *name);
/* dlclose dynamic plugins and free the set's memory. */
void alumet__plugins_done(struct plugin_set *set);

/* Load every *.so of dir as a dynamic plugin (symbol alumet_plugin_entry).
 * A plugin built for another ABI is refused with both versions named; such
 * failures are reported through report() and the others still load.
 * Returns the number loaded, or a negative errno when dir cannot be read. */
int alumet__plugins_load_dir(struct plugin_set *set, const char *dir,
                             void (*report)(void *data, const char *msg), void *data,
                             struct alumet_error *err);
/* Load one shared object. */
int alumet__plugins_load_file(struct plugin_set *set, const char *path, struct alumet_error *err);

/* Init every enabled plugin in set order with its config table. After each
 * init, keys the plugin never read are reported (report is called once per
 * problem) and make the init fail. Returns 0 or the first error; with
 * keep_going, every plugin is tried (for `config check`) and the number of
 * failures is returned as a negative count via err. */
int alumet__agent_init_plugins(struct plugin_set *set, bool keep_going,
                               void (*report)(void *data, const char *msg), void *data,
                               struct alumet_error *err);

/* Start the enabled plugins (they register metrics and elements into p),
 * run the pre-start hooks, start the pipeline, run the post-start hooks. */
int alumet__agent_start(struct plugin_set *set, struct alumet_pipeline *p,
                        struct alumet_error *err);
/* The two halves of alumet__agent_start, for a caller that acts in between
 * (exec and watch announce their process before the sources first poll):
 * start the plugins and run the pre-start hooks; then start the pipeline and
 * run the post-start hooks. */
int alumet__agent_start_plugins(struct plugin_set *set, struct alumet_pipeline *p,
                                struct alumet_error *err);
int alumet__agent_start_pipeline(struct plugin_set *set, struct alumet_pipeline *p,
                                 struct alumet_error *err);

/* Stop (in order, each even if others fail) and free every plugin state.
 * Returns the number of plugins that failed to stop. */
int alumet__agent_stop_plugins(struct plugin_set *set);

/* The plugin (and phase: "init", "start", ...) whose callback runs now on
 * the agent's thread, or NULL. Async-signal-safe: for crash reports. */
const char *alumet__agent_crash_context(const char **ret_phase);

#endif
