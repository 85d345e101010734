/* SPDX-License-Identifier: MIT */
/* Typed getters over the TOML tree, with the error messages that make every
 * plugin's config strict (the unknown-key report is in config-suggest.c):
 *
 *   alumet-config.toml:12:17: plugins.rapl.poll_interval: expected a duration
 *   such as "1s", got integer 5
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"
#include "config-tree.h"

void alumet__config_private_free(void *p)
{
    struct config_private *cp = p;

    if (!cp)
        return;
    for (size_t i = 0; i < cp->n_asked; i++)
        free(cp->asked[i]);
    free(cp->asked);
    for (size_t i = 0; i < cp->n_files; i++)
        free(cp->files[i]);
    free(cp->files);
    free(cp);
}

struct config_private *alumet__config_private_get(struct toml_value *v)
{
    if (!v->cfg_private) {
        struct config_private *cp = calloc(1, sizeof(*cp));
        if (!cp)
            return NULL;
        v->cfg_private = cp;
        v->cfg_private_free = alumet__config_private_free;
    }
    return v->cfg_private;
}

struct config_private *alumet__config_private_peek(const struct toml_value *v)
{
    return v->cfg_private_free == alumet__config_private_free ? v->cfg_private : NULL;
}

/* Append s to a growable array of strings (takes ownership of s on success). */
int alumet__config_strv_push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        char **nv = reallocarray(*v, ncap, sizeof(**v));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = s;
    return 0;
}

/* Under `config check` (alumet__config_collect_begin), the problems of a
 * plugin's options are collected instead of stopping at the first one. One
 * plugin's init runs on one thread: the collector is per thread. */
static _Thread_local struct config_problems *config_collector;

void alumet__config_collect_begin(struct config_problems *p)
{
    config_collector = p;
}

void alumet__config_collect_end(void)
{
    config_collector = NULL;
}

bool alumet_config_checking(void)
{
    return config_collector != NULL;
}

void alumet__config_problems_free(struct config_problems *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->msgs[i]);
    free(p->msgs);
    *p = (struct config_problems){.msgs = NULL};
}

/* Record msg when collecting; true when it was recorded (out of memory:
 * false, and the caller stops as it would without a collector). */
static bool config_collect(const char *msg)
{
    struct config_problems *p = config_collector;
    if (!p)
        return false;
    char *s = strdup(msg);
    if (!s)
        return false;
    if (alumet__config_strv_push(&p->msgs, &p->n, &p->cap, s) < 0) {
        free(s);
        return false;
    }
    return true;
}

/* The end of a getter that found a bad value: the error (-EINVAL); or, under
 * `config check`, 0 once the problem is recorded, so that the plugin goes on
 * with the default and reads (and checks) its other options too. */
static int config_fail(struct config_msg *m, struct alumet_error *err)
{
    if (config_collect(m->buf))
        return 0;
    return alumet_error_set(err, -EINVAL, "%s", m->buf);
}

/* Remember that a getter asked t for key, for "did you mean" suggestions. */
static int config_remember(struct toml_value *t, const char *key)
{
    struct config_private *cp = alumet__config_private_get(t);
    if (!cp)
        return -ENOMEM;
    for (size_t i = 0; i < cp->n_asked; i++)
        if (strcmp(cp->asked[i], key) == 0)
            return 0;
    char *s = strdup(key);
    if (!s)
        return -ENOMEM;
    int r = alumet__config_strv_push(&cp->asked, &cp->n_asked, &cp->cap_asked, s);
    if (r < 0)
        free(s);
    return r;
}

void alumet__config_msg_add(struct config_msg *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->buf + m->len, sizeof(m->buf) - m->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->len += (size_t)n;
    if (m->len >= sizeof(m->buf))
        m->len = sizeof(m->buf) - 1;
}

void alumet__config_msg_pos(struct config_msg *m, const char *file, int line, int col)
{
    if (line <= 0)
        return;
    if (file)
        alumet__config_msg_add(m, "%s:%d:%d: ", file, line, col);
    else
        alumet__config_msg_add(m, "%d:%d: ", line, col);
}

void alumet__config_msg_path(struct config_msg *m, const struct toml_value *v)
{
    size_t n = alumet__config_path(v, m->buf + m->len, sizeof(m->buf) - m->len);
    m->len += n;
    if (m->len >= sizeof(m->buf))
        m->len = sizeof(m->buf) - 1;
}

/* The value as TOML would write it, strings between double quotes. */
static void config_msg_string(struct config_msg *m, const char *s, size_t len)
{
    alumet__config_msg_add(m, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            alumet__config_msg_add(m, "\\%c", c);
        else if (c == '\n')
            alumet__config_msg_add(m, "\\n");
        else if (c == '\t')
            alumet__config_msg_add(m, "\\t");
        else if (c == '\r')
            alumet__config_msg_add(m, "\\r");
        else if (c < 0x20 || c == 0x7f)
            alumet__config_msg_add(m, "\\u%04X", c);
        else
            alumet__config_msg_add(m, "%c", c);
    }
    alumet__config_msg_add(m, "\"");
}

static void config_msg_float(struct config_msg *m, double f)
{
    if (isnan(f)) {
        alumet__config_msg_add(m, "nan");
        return;
    }
    if (isinf(f)) {
        alumet__config_msg_add(m, "%sinf", f < 0 ? "-" : "");
        return;
    }
    /* the shortest text that reads back as f */
    char txt[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(txt, sizeof(txt), "%.*g", prec, f);
        if (strtod(txt, NULL) == f)
            break;
    }
    alumet__config_msg_add(m, "%s%s", txt, strpbrk(txt, ".en") ? "" : ".0");
}

static void config_msg_value(struct config_msg *m, const struct toml_value *v)
{
    alumet__config_msg_add(m, "%s", toml_type_name(v->type));
    switch (v->type) {
    case TOML_STRING:
        alumet__config_msg_add(m, " ");
        config_msg_string(m, v->u.str.ptr, v->u.str.len);
        break;
    case TOML_INTEGER:
        alumet__config_msg_add(m, " %" PRId64, v->u.i);
        break;
    case TOML_FLOAT:
        alumet__config_msg_add(m, " ");
        config_msg_float(m, v->u.f);
        break;
    case TOML_BOOL:
        alumet__config_msg_add(m, " %s", v->u.b ? "true" : "false");
        break;
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL:
        alumet__config_msg_add(m, " %.*s", (int)v->u.str.len, v->u.str.ptr);
        break;
    case TOML_ARRAY:
    case TOML_TABLE:
        break;
    }
}

/* "file:line:col: path: expected <expected>, got <type> <value>" */
static void config_type_msg(struct config_msg *m, const struct toml_value *v, const char *expected)
{
    alumet__config_msg_pos(m, v->file, v->line, v->col);
    alumet__config_msg_path(m, v);
    alumet__config_msg_add(m, ": expected %s, got ", expected);
    config_msg_value(m, v);
}

/* A value of the wrong type: -EINVAL, or 0 when collected (config_fail). */
static int config_type_error(const struct toml_value *v, const char *expected,
                             struct alumet_error *err)
{
    struct config_msg m = {.len = 0};
    config_type_msg(&m, v, expected);
    return config_fail(&m, err);
}

/* The same for an item of an array, which the caller cannot skip: always
 * -EINVAL (collected as well, for the report of `config check`). */
static int config_item_type_error(const struct toml_value *v, const char *expected,
                                  struct alumet_error *err)
{
    struct config_msg m = {.len = 0};
    config_type_msg(&m, v, expected);
    config_collect(m.buf);
    return alumet_error_set(err, -EINVAL, "%s", m.buf);
}

/* A string value goes out as a C string: one holding a NUL (TOML allows
 * "\u0000") would be cut there, so it is refused at the value. 0 when fine,
 * 1 when collected (config_fail; the caller takes its default), -EINVAL; an
 * item of an array is always refused (-EINVAL). */
static int config_check_string(const struct toml_value *v, bool item, struct alumet_error *err)
{
    if (memchr(v->u.str.ptr, '\0', v->u.str.len) == NULL)
        return 0;

    struct config_msg m = {.len = 0};
    alumet__config_msg_pos(&m, v->file, v->line, v->col);
    alumet__config_msg_path(&m, v);
    alumet__config_msg_add(&m, ": string ");
    config_msg_string(&m, v->u.str.ptr, v->u.str.len);
    alumet__config_msg_add(&m, " contains a NUL character (\\u0000), which cannot be used here; "
                               "remove it");
    if (item) {
        config_collect(m.buf);
        return alumet_error_set(err, -EINVAL, "%s", m.buf);
    }
    return config_fail(&m, err) < 0 ? -EINVAL : 1;
}

/* A string getter's end: *ret = the string, or def when it holds a NUL and
 * the problem was collected. */
static int config_string_out(const struct toml_value *v, const char *def, const char **ret,
                             struct alumet_error *err)
{
    int r = config_check_string(v, false, err);
    if (r < 0)
        return r;
    *ret = r > 0 ? def : v->u.str.ptr;
    return 0;
}

/* Find key in c. *ret = its value, or NULL when absent (then the key is
 * remembered for suggestions). A NULL c counts as an empty table. */
static int config_lookup(struct alumet_config *c, const char *key, struct toml_value **ret,
                         struct alumet_error *err)
{
    struct toml_value *t = c ? alumet__config_value(c) : NULL;

    *ret = NULL;
    if (!key)
        return alumet_error_set(err, -EINVAL, "config key is NULL");
    if (!t)
        return 0;
    if (t->type != TOML_TABLE)
        return alumet_error_set(err, -EINVAL, "config lookup of '%s' in a %s, not a table", key,
                                toml_type_name(t->type));
    struct toml_value *v = toml_table_get(t, key);
    if (v) {
        /* a key of the wrong type is known, not unknown: mark it either way */
        v->used = true;
        *ret = v;
        return 0;
    }
    int r = config_remember(t, key);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    return 0;
}

/* The value at key when it has the type `type`: 1 and *ret. 0 when the
 * key is absent, or has another type and the error was collected (`config
 * check`): the caller keeps its default. < 0 on an error. */
static int config_lookup_typed(struct alumet_config *t, const char *key, enum toml_type type,
                               const char *expected, struct toml_value **ret,
                               struct alumet_error *err)
{
    int r = config_lookup(t, key, ret, err);
    if (r < 0 || !*ret)
        return r;
    if ((*ret)->type != type)
        return config_type_error(*ret, expected, err);
    return 1;
}

int alumet_config_get_string(struct alumet_config *t, const char *key, const char *def,
                             const char **ret, struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup_typed(t, key, TOML_STRING, "a string", &v, err);
    if (r == 0)
        *ret = def;
    return r > 0 ? config_string_out(v, def, ret, err) : r;
}

int alumet_config_get_bool(struct alumet_config *t, const char *key, bool def, bool *ret,
                           struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup_typed(t, key, TOML_BOOL, "a boolean", &v, err);
    if (r >= 0)
        *ret = r > 0 ? v->u.b : def;
    return r > 0 ? 0 : r;
}

int alumet_config_get_int(struct alumet_config *t, const char *key, int64_t def, int64_t *ret,
                          struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup_typed(t, key, TOML_INTEGER, "an integer", &v, err);
    if (r >= 0)
        *ret = r > 0 ? v->u.i : def;
    return r > 0 ? 0 : r;
}

int alumet_config_get_float(struct alumet_config *t, const char *key, double def, double *ret,
                            struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup(t, key, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret = def;
        return 0;
    }
    if (v->type == TOML_INTEGER)
        *ret = (double)v->u.i;
    else if (v->type == TOML_FLOAT)
        *ret = v->u.f;
    else {
        if ((r = config_type_error(v, "a number", err)) == 0)
            *ret = def;
        return r;
    }
    return 0;
}

int alumet_config_get_duration(struct alumet_config *t, const char *key, alumet_time_ns def,
                               alumet_time_ns *ret, struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup_typed(t, key, TOML_STRING, "a duration such as \"1s\"", &v, err);
    if (r == 0)
        *ret = def;
    if (r <= 0)
        return r;

    alumet_time_ns d;
    if (strlen(v->u.str.ptr) != v->u.str.len)
        r = -EINVAL;
    else
        r = alumet_duration_parse(v->u.str.ptr, &d);
    if (r < 0) {
        struct config_msg m = {.len = 0};
        alumet__config_msg_pos(&m, v->file, v->line, v->col);
        alumet__config_msg_path(&m, v);
        if (r == -ERANGE) {
            alumet__config_msg_add(&m, ": duration ");
            config_msg_string(&m, v->u.str.ptr, v->u.str.len);
            alumet__config_msg_add(&m, " is too large (the maximum is about 292 years)");
        } else {
            alumet__config_msg_add(&m, ": invalid duration ");
            config_msg_string(&m, v->u.str.ptr, v->u.str.len);
            alumet__config_msg_add(&m, ": expected a number followed by a unit such as \"1s\", "
                                       "\"500ms\" or \"1h 30m\"");
        }
        if ((r = config_fail(&m, err)) == 0)
            *ret = def;
        return r;
    }
    *ret = d;
    return 0;
}

int alumet_config_get_interval(struct alumet_config *t, const char *key, alumet_time_ns def,
                               alumet_time_ns *ret, struct alumet_error *err)
{
    int r = alumet_config_get_duration(t, key, def, ret, err);
    if (r < 0 || *ret > 0)
        return r;
    char example[64];
    alumet_duration_format(def > 0 ? def : ALUMET_NSEC_PER_SEC, example, sizeof(example));
    r = alumet_config_error(t, key, err, -EINVAL,
                            "expected a duration greater than zero such as \"%s\"", example);
    if (r == 0)
        *ret = def;
    return r;
}

int alumet_config_get_char(struct alumet_config *t, const char *key, char def, char *ret,
                           struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup(t, key, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret = def;
        return 0;
    }
    if (v->type != TOML_STRING || v->u.str.len != 1) {
        if ((r = config_type_error(v, "a single character", err)) == 0)
            *ret = def;
        return r;
    }
    r = config_check_string(v, false, err);
    if (r < 0)
        return r;
    *ret = r == 0 ? v->u.str.ptr[0] : def;
    return 0;
}

/* The array under key whose items all have type item_type, or *ret = NULL
 * when absent; -EINVAL naming the array or the first wrong item. */
static int config_lookup_array(struct alumet_config *t, const char *key, enum toml_type item_type,
                               const char *what, const char *item_what, struct toml_value **ret,
                               struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup(t, key, &v, err);
    *ret = NULL;
    if (r < 0 || !v)
        return r;
    if (v->type != TOML_ARRAY)
        return config_type_error(v, what, err);
    /* under `config check`, every bad item is reported, and the array is
     * taken as absent */
    bool bad = false;
    for (size_t i = 0; i < v->u.arr.len; i++) {
        if (v->u.arr.items[i]->type != item_type) {
            if ((r = config_type_error(v->u.arr.items[i], item_what, err)) < 0)
                return r;
            bad = true;
        } else if (item_type == TOML_STRING) {
            if ((r = config_check_string(v->u.arr.items[i], false, err)) < 0)
                return r;
            bad = bad || r > 0;
        }
    }
    *ret = bad ? NULL : v;
    return 0;
}

int alumet_config_get_string_array(struct alumet_config *t, const char *key,
                                   const char ***ret_items, size_t *ret_len,
                                   struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup_array(t, key, TOML_STRING, "an array of strings", "a string", &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret_items = NULL;
        *ret_len = 0;
        return 0;
    }

    const char **items = calloc(v->u.arr.len + 1, sizeof(*items));
    if (!items)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < v->u.arr.len; i++)
        items[i] = v->u.arr.items[i]->u.str.ptr;
    *ret_items = items;
    *ret_len = v->u.arr.len;
    return 0;
}

int alumet_config_get_array(struct alumet_config *t, const char *key,
                            struct alumet_config **ret_array, size_t *ret_len,
                            struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup(t, key, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret_array = NULL;
        *ret_len = 0;
        return 0;
    }
    if (v->type != TOML_ARRAY) {
        *ret_array = NULL;
        *ret_len = 0;
        return config_type_error(v, "an array", err);
    }
    *ret_array = alumet__config_from_value(v);
    *ret_len = v->u.arr.len;
    return 0;
}

/* Item i of the array arr, marked read; NULL (with err) when out of range. */
static struct toml_value *config_array_item(struct alumet_config *arr, size_t i,
                                            struct alumet_error *err)
{
    struct toml_value *a = arr ? alumet__config_value(arr) : NULL;

    if (!a || a->type != TOML_ARRAY || i >= a->u.arr.len) {
        alumet_error_set(err, -ERANGE, "config array item %zu out of range", i);
        return NULL;
    }
    a->u.arr.items[i]->used = true;
    return a->u.arr.items[i];
}

bool alumet_config_array_is_table(const struct alumet_config *arr, size_t i)
{
    const struct toml_value *a = (const struct toml_value *)(const void *)arr;

    return a && a->type == TOML_ARRAY && i < a->u.arr.len && a->u.arr.items[i]->type == TOML_TABLE;
}

int alumet_config_array_string(struct alumet_config *arr, size_t i, const char **ret,
                               struct alumet_error *err)
{
    struct toml_value *v = config_array_item(arr, i, err);
    if (!v)
        return -ERANGE;
    if (v->type != TOML_STRING)
        return config_item_type_error(v, "a string", err);
    int r = config_check_string(v, true, err);
    if (r < 0)
        return r;
    *ret = v->u.str.ptr;
    return 0;
}

int alumet_config_array_table(struct alumet_config *arr, size_t i, struct alumet_config **ret,
                              struct alumet_error *err)
{
    struct toml_value *v = config_array_item(arr, i, err);
    if (!v)
        return -ERANGE;
    if (v->type != TOML_TABLE)
        return config_item_type_error(v, "a table", err);
    *ret = alumet__config_from_value(v);
    return 0;
}

int alumet_config_get_table(struct alumet_config *t, const char *key, struct alumet_config **ret,
                            struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup(t, key, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret = NULL;
        return 0;
    }
    if (v->type != TOML_TABLE) {
        *ret = NULL;
        return config_type_error(v, "a table", err);
    }
    *ret = alumet__config_from_value(v);
    return 0;
}

int alumet_config_get_table_array(struct alumet_config *t, const char *key,
                                  struct alumet_config ***ret_items, size_t *ret_len,
                                  struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup_array(t, key, TOML_TABLE, "an array of tables", "a table", &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret_items = NULL;
        *ret_len = 0;
        return 0;
    }

    struct alumet_config **items = calloc(v->u.arr.len + 1, sizeof(*items));
    if (!items)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < v->u.arr.len; i++) {
        /* the keys of these tables that the plugin does not read are unknown keys */
        v->u.arr.items[i]->used = true;
        items[i] = alumet__config_from_value(v->u.arr.items[i]);
    }
    *ret_items = items;
    *ret_len = v->u.arr.len;
    return 0;
}

bool alumet_config_has(const struct alumet_config *t, const char *key)
{
    const struct toml_value *v = (const struct toml_value *)(const void *)t;

    return v && key && toml_table_get(v, key) != NULL;
}

const char *alumet_config_type(const struct alumet_config *t, const char *key)
{
    const struct toml_value *v = (const struct toml_value *)(const void *)t;
    const struct toml_value *item =
        v && key && v->type == TOML_TABLE ? toml_table_get(v, key) : NULL;

    return item ? toml_type_name(item->type) : NULL;
}

size_t alumet_config_len(const struct alumet_config *t)
{
    const struct toml_value *v = (const struct toml_value *)(const void *)t;

    return v && v->type == TOML_TABLE ? v->u.tab.len : 0;
}

const char *alumet_config_key_at(const struct alumet_config *t, size_t i)
{
    const struct toml_value *v = (const struct toml_value *)(const void *)t;

    if (!v || v->type != TOML_TABLE || i >= v->u.tab.len)
        return NULL;
    return v->u.tab.items[i].key;
}

static bool config_key_is_bare(const char *key)
{
    if (!*key)
        return false;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

/* Write s at buf[at...] without going past buf[size - 2]; returns strlen(s). */
static size_t config_put(char *buf, size_t size, size_t at, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (at + i + 1 < size)
            buf[at + i] = s[i];
    return n;
}

/* One segment of a path: ".key", "key", ".\"a.b\"" or "[3]". Measures when
 * buf is NULL. */
static size_t config_segment(const struct toml_value *v, char *buf, size_t size, size_t at)
{
    const struct toml_value *p = v->parent;
    size_t n = 0;

    if (!p)
        return 0;
    if (p->type == TOML_ARRAY) {
        size_t idx = 0;
        while (idx < p->u.arr.len && p->u.arr.items[idx] != v)
            idx++;
        char num[32];
        snprintf(num, sizeof(num), "[%zu]", idx);
        return config_put(buf, size, at, num);
    }

    const char *key = v->key;
    for (size_t i = 0; !key && i < p->u.tab.len; i++)
        if (p->u.tab.items[i].val == v)
            key = p->u.tab.items[i].key;
    if (!key)
        key = "";
    if (p->parent)
        n += config_put(buf, size, at + n, ".");
    if (config_key_is_bare(key))
        return n + config_put(buf, size, at + n, key);

    n += config_put(buf, size, at + n, "\"");
    for (const char *c = key; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", *c);
        else if ((unsigned char)*c < 0x20 || *c == 0x7f)
            snprintf(esc, sizeof(esc), "\\u%04X", (unsigned char)*c);
        else
            snprintf(esc, sizeof(esc), "%c", *c);
        n += config_put(buf, size, at + n, esc);
    }
    return n + config_put(buf, size, at + n, "\"");
}

/* Built from the leaf up without recursion: the total length first, then
 * each segment at its place from the end. */
size_t alumet__config_path(const struct toml_value *v, char *buf, size_t size)
{
    size_t total = 0;

    if (!buf)
        size = 0;
    for (const struct toml_value *p = v; p; p = p->parent)
        total += config_segment(p, NULL, 0, 0);
    size_t at = total;
    for (const struct toml_value *p = v; p && size > 0; p = p->parent) {
        at -= config_segment(p, NULL, 0, 0);
        config_segment(p, buf, size, at);
    }
    if (size > 0)
        buf[total < size ? total : size - 1] = '\0';
    return total;
}

int alumet_config_error(struct alumet_config *t, const char *key, struct alumet_error *err,
                        int code, const char *fmt, ...)
{
    struct toml_value *tv = t ? alumet__config_value(t) : NULL;
    struct toml_value *v = tv && key ? toml_table_get(tv, key) : NULL;
    struct config_msg m = {.len = 0};

    if (v) {
        alumet__config_msg_pos(&m, v->file, v->line, v->col);
        alumet__config_msg_path(&m, v);
    } else if (tv) {
        alumet__config_msg_pos(&m, tv->file, tv->line, tv->col);
        size_t before = m.len;
        alumet__config_msg_path(&m, tv);
        if (key)
            alumet__config_msg_add(&m, "%s%s", m.len > before ? "." : "", key);
    } else if (key) {
        alumet__config_msg_add(&m, "%s", key);
    }
    if (m.len > 0 && m.buf[m.len - 1] != ' ')
        alumet__config_msg_add(&m, ": ");

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.buf + m.len, sizeof(m.buf) - m.len, fmt, ap);
    va_end(ap);
    config_collect(m.buf);
    return alumet_error_set(err, code, "%s", m.buf);
}
