/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_CONFIG_H
#define ALUMET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "time.h"

/* A table of the configuration (for a plugin: its `[plugins.NAME]` section).
 * Owned by the agent; valid during the plugin's init only unless stated.
 *
 * Every getter marks the key as read. After a plugin's init, the agent
 * reports every key that was never read as an unknown key, with a "did you
 * mean" suggestion, so each plugin is strict without extra code.
 *
 * Getters return 0 and write *ret when the key is present with the right
 * type, 0 and write the default when the key is absent, or -EINVAL with err
 * naming file:line:col, the key path, what was expected and what was found:
 *   alumet-config.toml:12:17: plugins.rapl.poll_interval: expected a duration
 *   such as "1s", got integer 5
 * (under `alumet-agent config check`, a value of the wrong type is reported
 * and the getter returns 0 with the default: see alumet_config_checking).
 * Strings returned are borrowed from the config tree (copy them in init). */
struct alumet_config;

ALUMET_API int alumet_config_get_string(struct alumet_config *t, const char *key, const char *def,
                                        const char **ret, struct alumet_error *err);
ALUMET_API int alumet_config_get_bool(struct alumet_config *t, const char *key, bool def, bool *ret,
                                      struct alumet_error *err);
ALUMET_API int alumet_config_get_int(struct alumet_config *t, const char *key, int64_t def,
                                     int64_t *ret, struct alumet_error *err);
/* An integer is accepted where a float is expected. */
ALUMET_API int alumet_config_get_float(struct alumet_config *t, const char *key, double def,
                                       double *ret, struct alumet_error *err);
/* A humantime string ("1s", "500ms", "1h 30m"). */
ALUMET_API int alumet_config_get_duration(struct alumet_config *t, const char *key,
                                          alumet_time_ns def, alumet_time_ns *ret,
                                          struct alumet_error *err);
/* A duration greater than zero (a poll or flush interval); "0s" is an
 * error that names the key and gives def as the example. */
ALUMET_API int alumet_config_get_interval(struct alumet_config *t, const char *key,
                                          alumet_time_ns def, alumet_time_ns *ret,
                                          struct alumet_error *err);
/* A single character string (such as a CSV delimiter). */
ALUMET_API int alumet_config_get_char(struct alumet_config *t, const char *key, char def, char *ret,
                                      struct alumet_error *err);

/* An array of strings: *ret_items is a borrowed NULL-terminated array valid
 * as long as the tree (caller frees the array itself with free(), not the
 * strings). When absent, *ret_items = NULL and *ret_len = 0. */
ALUMET_API int alumet_config_get_string_array(struct alumet_config *t, const char *key,
                                              const char ***ret_items, size_t *ret_len,
                                              struct alumet_error *err);

/* An array whose items may have different types (TOML 1.0 allows
 * `["A", { event = "B" }]`): *ret_array = the array (borrowed, valid as long
 * as the tree) and *ret_len = its number of items; NULL and 0 when absent,
 * -EINVAL when the key holds something else. Read the items with the
 * alumet_config_array_* functions below. */
ALUMET_API int alumet_config_get_array(struct alumet_config *t, const char *key,
                                       struct alumet_config **ret_array, size_t *ret_len,
                                       struct alumet_error *err);
/* Whether item i of an array is a table (false when out of range). */
ALUMET_API bool alumet_config_array_is_table(const struct alumet_config *arr, size_t i);
/* Item i of an array as a string, or as a table (whose keys not read are then
 * reported as unknown keys, as for any table). -EINVAL with err when the item
 * has another type ("file:line:col: plugins.x.events[2]: expected a string,
 * got integer 5"), -ERANGE when i is out of range. */
ALUMET_API int alumet_config_array_string(struct alumet_config *arr, size_t i, const char **ret,
                                          struct alumet_error *err);
ALUMET_API int alumet_config_array_table(struct alumet_config *arr, size_t i,
                                         struct alumet_config **ret, struct alumet_error *err);

/* Sub-table: *ret = the table, or NULL when absent; -EINVAL when the key
 * holds something else. */
ALUMET_API int alumet_config_get_table(struct alumet_config *t, const char *key,
                                       struct alumet_config **ret, struct alumet_error *err);

/* An array of tables (`[[a.b]]` headers, or an array of inline tables):
 * *ret_items is a NULL-terminated array of borrowed tables, valid as long as
 * the tree (caller frees the array itself with free()); keys of these tables
 * that are never read are reported as unknown keys. When absent,
 * *ret_items = NULL and *ret_len = 0. -EINVAL when the key holds something
 * else or an element is not a table; -ENOMEM. */
ALUMET_API int alumet_config_get_table_array(struct alumet_config *t, const char *key,
                                             struct alumet_config ***ret_items, size_t *ret_len,
                                             struct alumet_error *err);

/* Whether key is present (does not mark it read). */
ALUMET_API bool alumet_config_has(const struct alumet_config *t, const char *key);

/* The TOML type of the value under key ("string", "integer", "float",
 * "boolean", "datetime", "array", "table"), NULL when absent; does not mark
 * the key read. For an option that accepts several types: probe with this,
 * then read with the getter of that type (a getter that finds another type
 * is an error, reported by `alumet-agent config check`). */
ALUMET_API const char *alumet_config_type(const struct alumet_config *t, const char *key);

/* Keys of t in file order: number of keys, and the i-th key (borrowed). */
ALUMET_API size_t alumet_config_len(const struct alumet_config *t);
ALUMET_API const char *alumet_config_key_at(const struct alumet_config *t, size_t i);

/* Format an error about key in t: "file:line:col: path.key: <message>". Use
 * for values of the right type that a plugin rejects (out of range...). */
ALUMET_API int alumet_config_error(struct alumet_config *t, const char *key,
                                   struct alumet_error *err, int code, const char *fmt, ...)
    ALUMET_PRINTF(5, 6);

/* True during the init that `alumet-agent config check` runs (on the
 * calling thread): a plugin may then also check what it would otherwise
 * find out only at start, such as the directory of a file it will write,
 * and report each problem with alumet_config_error. Under `config check`,
 * every problem that the getters and alumet_config_error find is reported,
 * not only the first (a getter that finds a value of the wrong type reports
 * it and returns 0 with the default), so a plugin that checks all its
 * values before returning the first error shows the user all of them. */
ALUMET_API bool alumet_config_checking(void);

/* Parse a humantime duration ("1s", "1h30m", "500ms"); 0 or -EINVAL. */
ALUMET_API int alumet_duration_parse(const char *s, alumet_time_ns *ret);

/* Format a duration the humantime way ("1m", "1m 30s", "500ms", "0s"). */
ALUMET_API size_t alumet_duration_format(alumet_time_ns d, char *buf, size_t size);

#endif
