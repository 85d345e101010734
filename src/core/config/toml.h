/* SPDX-License-Identifier: MIT */
/* TOML 1.0 parser: text -> tree of toml_value. Private to libalumet. */
#ifndef ALUMET_CORE_TOML_H
#define ALUMET_CORE_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
    TOML_STRING,
    TOML_INTEGER,
    TOML_FLOAT,
    TOML_BOOL,
    TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
    TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
    TOML_DATE_LOCAL,     /* 1979-05-27 */
    TOML_TIME_LOCAL,     /* 07:32:00 */
    TOML_ARRAY,
    TOML_TABLE,
};

struct toml_value;

struct toml_kv {
    char *key; /* owned, NUL-terminated; "\u0000" keys hold NULs: use key_len */
    size_t key_len;
    int line, col;          /* position of the key */
    struct toml_value *val; /* owned */
};

struct toml_value {
    enum toml_type type;
    int line, col;             /* 1-based position where the value starts */
    const char *file;          /* borrowed file name given to toml_parse */
    struct toml_value *parent; /* NULL for the root */
    const char *key; /* borrowed key under which it sits in its parent table, NULL in arrays/root */
    bool used;       /* set by the config getters (unknown-key detection) */
    unsigned flags;  /* parser-private bits (defined/implicit/inline/array-of-tables) */
    union {
        struct {
            char *ptr; /* owned, NUL-terminated; len excludes the NUL (may contain NUL bytes) */
            size_t len;
        } str; /* TOML_STRING, and the datetime types (their text, normalized: 'T' separator
                  upper-case, 'Z' upper-case) */
        int64_t i;
        double f;
        bool b;
        struct {
            struct toml_value **items;
            size_t len, cap;
        } arr;
        struct {
            struct toml_kv *items; /* in insertion (file) order */
            size_t len, cap;
        } tab;
    } u;
    /* Owned by config-tree.c (keys asked by getters, file names kept alive).
     * toml_free calls cfg_private_free(cfg_private) when cfg_private_free is
     * not NULL, before freeing v. Zero in new values. */
    void *cfg_private;
    void (*cfg_private_free)(void *cfg_private);
};

/* Parse text (len bytes, need not be NUL-terminated) into a new root table.
 * file is the name used in positions (borrowed, must outlive the tree).
 * On error returns NULL and writes "file:line:col: message" into errbuf. */
struct toml_value *toml_parse(const char *text, size_t len, const char *file, char *errbuf,
                              size_t errsize);

/* Free a value and everything below it. NULL-safe. */
void toml_free(struct toml_value *v);

/* Value of key in table t (exact match), NULL when absent or t is not a table. */
struct toml_value *toml_table_get(const struct toml_value *t, const char *key);

/* Remove key from table t and return its value (caller frees), NULL if absent. */
struct toml_value *toml_table_take(struct toml_value *t, const char *key);

/* Set key in table t to v (takes ownership of v; replaces and frees an old value,
 * keeping its position; else appends). Fixes v->parent and v->key. 0 or -ENOMEM. */
int toml_table_set(struct toml_value *t, const char *key, struct toml_value *v);

/* New empty table (line/col 0, file NULL). NULL on -ENOMEM. */
struct toml_value *toml_table_new(void);

/* "string", "integer", "float", "boolean", "datetime", "array", "table"
 * (all four datetime types are "datetime"). */
const char *toml_type_name(enum toml_type t);

#endif
