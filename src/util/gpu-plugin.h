/* SPDX-License-Identifier: MIT */
/* The options and start-up pieces that the GPU source plugins (nvml,
 * amd-gpu, jetson, grace-hopper) share, so that each one reads and checks
 * them the same way and with the same messages:
 *
 *     r = gpu_plugin_get_intervals(cfg, &c->poll_interval, &c->flush_interval, err);
 *     r = gpu_plugin_get_idle_power(cfg, "70.5", &c->idle_power_set, &c->idle_power_mw, err);
 *     r = gpu_plugin_get_path(cfg, "library", "libnvidia-ml.so.1", "a library name or path",
 *                             &c->library, err);
 *
 * Every function returns 0, or a negative errno with err set (the config
 * errors name the key). It uses the public config API (libalumet provides
 * it to the agent and the tests) and does not log. */
#ifndef ALUMET_UTIL_GPU_PLUGIN_H
#define ALUMET_UTIL_GPU_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/metric.h"
#include "alumet/plugin.h"
#include "alumet/time.h"
#include "alumet/units.h"
#include "fsroot.h"

/* poll_interval (default 1 s) then flush_interval (default 5 s), both above
 * zero: upstream's defaults for the GPU sources. */
int gpu_plugin_get_intervals(struct alumet_config *cfg, alumet_time_ns *ret_poll,
                             alumet_time_ns *ret_flush, struct alumet_error *err);

/* The non-empty string at key (def when absent), copied into *ret (the
 * caller frees it). what says what the key expects in the error about an
 * empty string ("a directory": "expected a directory, got an empty string"). */
int gpu_plugin_get_path(struct alumet_config *cfg, const char *key, const char *def,
                        const char *what, char **ret, struct alumet_error *err);

/* The optional idle_power key, in watts (0 or more, below 1 MW): *ret_set
 * says whether it is given, *ret_mw is its value in milliwatts. example is
 * the value that the error message shows ("70.5"). */
int gpu_plugin_get_idle_power(struct alumet_config *cfg, const char *example, bool *ret_set,
                              double *ret_mw, struct alumet_error *err);

/* ---- the plugins on a vendor library (nvml, amd-gpu) ---- */

/* Their common options (the state's cfg member). */
struct gpu_device_options {
    alumet_time_ns poll_interval, flush_interval;
    bool skip_failed_devices;
    bool process_energy; /* split the energy per process */
    bool idle_power_set; /* idle_power given: else estimated */
    double idle_power_mw;
    char *library; /* hidden: soname or path of the library (the caller frees it) */
};

/* poll_interval, flush_interval and skip_failed_devices (default true):
 * upstream's keys, read first. */
int gpu_plugin_get_device_options(struct alumet_config *cfg, struct gpu_device_options *o,
                                  struct alumet_error *err);

/* Then process_energy (default true), idle_power (idle_example: the value
 * that its error message shows) and the hidden library (default
 * lib_default). */
int gpu_plugin_get_split_options(struct alumet_config *cfg, const char *idle_example,
                                 const char *lib_default, struct gpu_device_options *o,
                                 struct alumet_error *err);

/* ---- the vendor library (loaded with dlopen at start) ---- */

/* dlopen(name, RTLD_NOW | RTLD_LOCAL); NULL with *ret_why set (dlerror's
 * message, or "unknown reason") when it cannot be loaded. */
void *gpu_plugin_dlopen(const char *name, const char **ret_why);

/* The address of sym in the library handle into *ret (a function pointer
 * seen as void *). Missing, it is NULL; and when required, -ENOENT with err
 * "the library has no symbol '<sym>'". */
int gpu_plugin_dlsym(void *handle, const char *sym, bool required, void **ret,
                     struct alumet_error *err);

/* In the function that resolves the symbols of lib (a struct with a handle
 * member; err in scope): lib->field = sym, a missing one returning -ENOENT
 * from that function, or left NULL. */
#define GPU_PLUGIN_REQUIRED(lib, field, sym, err)                                                  \
    do {                                                                                           \
        if (gpu_plugin_dlsym((lib)->handle, sym, true, (void **)&(lib)->field, err) < 0)           \
            return -ENOENT;                                                                        \
    } while (0)
#define GPU_PLUGIN_OPTIONAL(lib, field, sym)                                                       \
    ((void)gpu_plugin_dlsym((lib)->handle, sym, false, (void **)&(lib)->field, NULL))

/* ---- metrics ---- */

/* One metric of a plugin's table. */
struct gpu_metric_def {
    const char *name;
    enum alumet_value_type type;
    enum alumet_base_unit base;
    enum alumet_unit_prefix prefix;
    const char *description;
};

/* Create the metric def (alumet_create_metric) into *ret. */
int gpu_plugin_create_metric(struct alumet_start_ctx *ctx, const struct gpu_metric_def *def,
                             alumet_metric_id *ret, struct alumet_error *err);

/* ---- the plugins on sysfs (jetson, grace-hopper) ---- */

/* fsroot_open(sys, path), the sys_root option of plugin: on failure, an
 * error that names the path and the option, which must name the directory
 * that `that` ("holds sys/"). */
int gpu_plugin_open_sys_root(struct fsroot *sys, const char *path, const char *plugin,
                             const char *that, struct alumet_error *err);

/* The small text file rel below sys, without its trailing blanks (newline,
 * space, tab), into buf (size bytes, the text cut to size - 1): its length,
 * or a negative errno. */
ssize_t gpu_plugin_read_text(const struct fsroot *sys, const char *rel, char *buf, size_t size);

/* The names of the features whose bit (1 << index) is set in features,
 * joined by ", " into text (cut at the last name that fits in size). */
void gpu_plugin_feature_list(char *text, size_t size, unsigned features, const char *const *names,
                             int n_names);

#endif
