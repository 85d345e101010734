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

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/time.h"

/* The duration at key (def when absent); it must be above zero. */
int gpu_plugin_get_interval(struct alumet_config *cfg, const char *key, alumet_time_ns def,
                            alumet_time_ns *ret, struct alumet_error *err);

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

/* The names of the features whose bit (1 << index) is set in features,
 * joined by ", " into text (cut at the last name that fits in size). */
void gpu_plugin_feature_list(char *text, size_t size, unsigned features, const char *const *names,
                             int n_names);

#endif
