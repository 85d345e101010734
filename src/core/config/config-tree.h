/* SPDX-License-Identifier: MIT */
/* The configuration layer over the TOML tree. Private to libalumet.
 * `struct alumet_config` (public, opaque) is a `struct toml_value` of type
 * TOML_TABLE; config-tree.c casts between the two. */
#ifndef ALUMET_CORE_CONFIG_TREE_H
#define ALUMET_CORE_CONFIG_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "toml.h"

static inline struct toml_value *alumet__config_value(struct alumet_config *c)
{
    return (struct toml_value *)(void *)c;
}
static inline struct alumet_config *alumet__config_from_value(struct toml_value *v)
{
    return (struct alumet_config *)(void *)v;
}

/* `config check`: between begin and end, on this thread, the problems that
 * the getters and alumet_config_error find are appended to p (one message
 * each, "file:line:col: path: what"), and a getter that finds a value of the
 * wrong type goes on with its default instead of failing, so that one run
 * of a plugin's init reports all its bad options. */
struct config_problems {
    char **msgs;
    size_t n, cap;
};
void alumet__config_collect_begin(struct config_problems *p);
void alumet__config_collect_end(void);
void alumet__config_problems_free(struct config_problems *p);

/* Replace ${NAME} by the value of the environment variable NAME (read with
 * secure_getenv); `\${` is kept as a literal `${`. Unlike upstream, text in
 * TOML comments is left alone. Errors (with file:line:col):
 *   the environment variable NAME does not exist
 *   wrong use of the substitution syntax, it should be ${ENV_VAR}
 * On success *ret is a new NUL-terminated string (caller frees). */
int alumet__config_substitute(const char *text, size_t len, const char *file, char **ret,
                              size_t *ret_len, struct alumet_error *err);

/* Read the file at path, substitute, parse. On success *ret is the root
 * table (caller frees with toml_free). -ENOENT when the file does not exist
 * (err names the path), other negative errno otherwise. file_name is stored
 * in positions and must outlive the tree. */
int alumet__config_load_file(const char *path, struct toml_value **ret, struct alumet_error *err);

/* Parse text (substituting first when substitute is true) into a root table. */
int alumet__config_load_text(const char *text, size_t len, const char *file, int substitute,
                             struct toml_value **ret, struct alumet_error *err);

/* Deep merge: for every key of over, when both values are tables merge
 * recursively, else the value of over replaces the one of base. Takes the
 * values out of over (over is left empty; caller still frees it). 0 or -ENOMEM. */
int alumet__config_merge(struct toml_value *base, struct toml_value *over);

/* Report every key below t that no getter read, one message per key:
 *   file:line:col: plugins.csv.outptu_path: unknown key, did you mean 'output_path'?
 * (suggestions come from the keys that getters asked for in that table, by
 * edit distance; no suggestion when nothing is close). report is called once
 * per problem. Returns the number of unknown keys. */
int alumet__config_report_unused(struct toml_value *t, void (*report)(void *data, const char *msg),
                                 void *data);
/* The same, for a plugin whose init stopped early (`config check`): the keys
 * of t that are also keys of known (its default section) may just not have
 * been reached, nor the keys inside a table it had started to read, so only
 * the other keys of t itself are reported. */
int alumet__config_report_unused_except(struct toml_value *t, const struct toml_value *known,
                                        void (*report)(void *data, const char *msg), void *data);

/* Take the on/off switch out of a plugin section, as the agent does before
 * the plugin's init: `enabled`, else `enable` (upstream accepts both; when
 * both are present only `enabled` is taken). *ret_enabled is true when
 * there is no switch. -EINVAL when the switch is not a boolean:
 *   file:line:col: unexpected type for plugins.NAME.enabled: expected boolean, got T */
int alumet__config_take_switch(struct toml_value *section, const char *plugin, bool *ret_enabled,
                               struct alumet_error *err);

/* Dotted key path of v from the root ("plugins.csv.output_path"), written
 * into buf. Returns the needed length (like snprintf). */
size_t alumet__config_path(const struct toml_value *v, char *buf, size_t size);

#endif
