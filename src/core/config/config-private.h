/* SPDX-License-Identifier: MIT */
/* What the files of the configuration layer share (config-tree.c: getters and
 * messages, config-suggest.c: unknown keys and "did you mean", config-load.c:
 * reading, substituting, merging). Private to src/core/config. */
#ifndef ALUMET_CORE_CONFIG_PRIVATE_H
#define ALUMET_CORE_CONFIG_PRIVATE_H

#include <stddef.h>

#include "alumet/error.h"
#include "toml.h"

/* What config-tree.c hangs on a toml_value (cfg_private), freed by toml_free
 * through cfg_private_free. */
struct config_private {
    char **asked; /* keys that getters asked for and did not find, owned */
    size_t n_asked, cap_asked;
    char **files; /* file names that values of this tree point to, owned */
    size_t n_files, cap_files;
};

void alumet__config_private_free(void *p);
/* The config_private of v, created when v has none; NULL out of memory. */
struct config_private *alumet__config_private_get(struct toml_value *v);
/* The config_private of v, NULL when it has none. */
struct config_private *alumet__config_private_peek(const struct toml_value *v);

/* Append s to a growable array of strings (takes ownership of s on success). */
int alumet__config_strv_push(char ***v, size_t *n, size_t *cap, char *s);

/* A bounded message under construction (truncated silently, like snprintf). */
struct config_msg {
    char buf[ALUMET_ERROR_MSG_MAX];
    size_t len;
};

void alumet__config_msg_add(struct config_msg *m, const char *fmt, ...) ALUMET_PRINTF(2, 3);
/* "file:line:col: " (nothing when line is unknown) */
void alumet__config_msg_pos(struct config_msg *m, const char *file, int line, int col);
/* the dotted path of v */
void alumet__config_msg_path(struct config_msg *m, const struct toml_value *v);

#endif
