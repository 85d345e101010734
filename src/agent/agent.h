/* SPDX-License-Identifier: MIT */
/* State shared by the alumet-agent commands. */
#ifndef ALUMET_AGENT_AGENT_H
#define ALUMET_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/agent.h"
#include "core/config/toml.h"

#define AGENT_MAX_OVERRIDES 64

/* The config file when neither --config nor ALUMET_CONFIG names one. */
#define AGENT_DEFAULT_CONFIG_PATH "alumet-config.toml"

struct agent {
    /* global options */
    const char *config_path;
    bool no_default_config;
    const char *overrides[AGENT_MAX_OVERRIDES];
    size_t n_overrides;
    const char *plugins_flag; /* --plugins (joined) */
    char *plugins_flag_owned;
    const char *max_update_interval;
    const char *source_channel_size;
    const char *priority_threads; /* --priority-worker-threads / ALUMET_PRIORITY_THREADS */
    const char *output_file, *relay_out, *relay_in;
    const char *plugin_dir;
    const char *argv0;

    struct plugin_set plugins;
    struct toml_value *config; /* the loaded config, after overrides */
    int config_problems;       /* problems reported while loading */
    struct pipeline_settings settings;
    bool exec_summary; /* general option exec_summary */
};

/* Built-in plugins (generated table, ends with an all-NULL entry): either
 * linked in (def), or a module next to the agent (name, version and the
 * symbol of its struct), loaded only when it is enabled. */
struct agent_builtin {
    const struct alumet_plugin *def;
    const char *name, *version, *symbol;
};
extern const struct agent_builtin agent_builtin_plugins[];

/* Load the config: read or generate the file, substitute, apply overrides,
 * enable/disable and order the plugins, read the general options. Problems
 * are logged; returns 0 or a negative errno. */
int agent_load_config(struct agent *a, bool keep_going);
/* Default config text for the enabled plugins (caller frees). */
char *agent_default_config(struct agent *a);
/* Apply --plugins (enable exactly those); -ENOENT (logged) when a listed
 * plugin is not built. */
int agent_apply_plugins_flag(struct agent *a);
/* Write text to path; 0 or negative errno with a logged message. */
int agent_write_file(const char *path, const char *text);

/* Start everything; returns 0 or negative errno (logged). The hooks get
 * hook_data and may be NULL: before_start may register more elements into
 * the pipeline before the plugins start; before_pipeline runs after the
 * plugins started (they have subscribed to the events) and before the
 * sources first poll (exec and watch announce their process there). */
typedef int (*agent_hook_fn)(struct alumet_pipeline *p, void *data, struct alumet_error *err);
int agent_start(struct agent *a, struct alumet_pipeline **ret_pipeline, agent_hook_fn before_start,
                agent_hook_fn before_pipeline, void *hook_data);
/* Stop the pipeline and the plugins, free the pipeline. Returns the number
 * of errors seen while running and stopping. */
int agent_stop(struct agent *a, struct alumet_pipeline *p);

int cmd_run(int argc, char **argv, struct agent *a);
int cmd_exec(int argc, char **argv, struct agent *a);
int cmd_watch(int argc, char **argv, struct agent *a);
int cmd_config(int argc, char **argv, struct agent *a);
int cmd_plugins(int argc, char **argv, struct agent *a);
int cmd_doctor(int argc, char **argv, struct agent *a);
int cmd_report(int argc, char **argv, struct agent *a);

/* Install SIGINT/SIGTERM handlers that request a clean shutdown of p. */
/* Signals (agent-signals.c): install before agent_start, remove after
 * agent_stop. agent_start attaches the pipeline, agent_stop detaches it
 * before freeing it. A SIGINT/SIGTERM requests a clean stop. */
int agent_install_signals(void);
void agent_signals_attach(struct alumet_pipeline *p);
void agent_signals_detach(void);
bool agent_signals_stop_requested(void);
/* Log the status line every interval while a pipeline is attached (0: only
 * on SIGUSR1); set it before agent_install_signals. */
void agent_signals_status_every(alumet_time_ns interval);
/* agent-status.c: log one status line at INFO (outputs' points written and
 * dropped, the agent's CPU time and RSS); up: time since the start. */
void agent_status_log(struct alumet_pipeline *p, alumet_time_ns up);
void agent_remove_signals(void);
/* exec: SIGINT/SIGTERM sent to the agent alone go to this child (0: none);
 * those from the terminal already reached it. */
void agent_forward_signals_to(pid_t pid);
/* On a crash inside a plugin's init, start or stop: name the plugin. */
void agent_install_crash_report(void);

/* exec-cpu.c: CPU time (seconds) for the exec/watch summary. */
double exec_cpu_machine_busy(void);
double exec_cpu_process(pid_t pid);
double exec_energy_source(struct agent *a, bool estimated, char *buf, size_t size);

#endif
