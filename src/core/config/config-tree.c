/* SPDX-License-Identifier: MIT */
/* Typed getters over the TOML tree, with the error messages and the
 * unknown-key report that make every plugin's config strict:
 *
 *   alumet-config.toml:12:17: plugins.rapl.poll_interval: expected a duration
 *   such as "1s", got integer 5
 *   alumet-config.toml:3:1: plugins.csv.outptu_path: unknown key, did you mean
 *   'output_path'?
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-tree.h"

/* What config-tree.c hangs on a toml_value (cfg_private), freed by toml_free
 * through cfg_private_free. */
struct config_private {
    char **asked; /* keys that getters asked for and did not find, owned */
    size_t n_asked, cap_asked;
    char **files; /* file names that values of this tree point to, owned */
    size_t n_files, cap_files;
};

static void config_private_free(void *p)
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

static struct config_private *config_private_get(struct toml_value *v)
{
    if (!v->cfg_private) {
        struct config_private *cp = calloc(1, sizeof(*cp));
        if (!cp)
            return NULL;
        v->cfg_private = cp;
        v->cfg_private_free = config_private_free;
    }
    return v->cfg_private;
}

/* Append s to a growable array of strings (takes ownership of s on success). */
static int config_strv_push(char ***v, size_t *n, size_t *cap, char *s)
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

/* Remember that a getter asked t for key, for "did you mean" suggestions. */
static int config_remember(struct toml_value *t, const char *key)
{
    struct config_private *cp = config_private_get(t);
    if (!cp)
        return -ENOMEM;
    for (size_t i = 0; i < cp->n_asked; i++)
        if (strcmp(cp->asked[i], key) == 0)
            return 0;
    char *s = strdup(key);
    if (!s)
        return -ENOMEM;
    int r = config_strv_push(&cp->asked, &cp->n_asked, &cp->cap_asked, s);
    if (r < 0)
        free(s);
    return r;
}

/* A bounded message under construction (truncated silently, like snprintf). */
struct config_msg {
    char buf[ALUMET_ERROR_MSG_MAX];
    size_t len;
};

static void config_msg_add(struct config_msg *m, const char *fmt, ...) ALUMET_PRINTF(2, 3);
static void config_msg_add(struct config_msg *m, const char *fmt, ...)
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

static void config_msg_pos(struct config_msg *m, const char *file, int line, int col)
{
    if (line <= 0)
        return;
    if (file)
        config_msg_add(m, "%s:%d:%d: ", file, line, col);
    else
        config_msg_add(m, "%d:%d: ", line, col);
}

static void config_msg_path(struct config_msg *m, const struct toml_value *v)
{
    size_t n = alumet__config_path(v, m->buf + m->len, sizeof(m->buf) - m->len);
    m->len += n;
    if (m->len >= sizeof(m->buf))
        m->len = sizeof(m->buf) - 1;
}

/* The value as TOML would write it, strings between double quotes. */
static void config_msg_string(struct config_msg *m, const char *s, size_t len)
{
    config_msg_add(m, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            config_msg_add(m, "\\%c", c);
        else if (c == '\n')
            config_msg_add(m, "\\n");
        else if (c == '\t')
            config_msg_add(m, "\\t");
        else if (c == '\r')
            config_msg_add(m, "\\r");
        else if (c < 0x20 || c == 0x7f)
            config_msg_add(m, "\\u%04X", c);
        else
            config_msg_add(m, "%c", c);
    }
    config_msg_add(m, "\"");
}

static void config_msg_float(struct config_msg *m, double f)
{
    if (isnan(f)) {
        config_msg_add(m, "nan");
        return;
    }
    if (isinf(f)) {
        config_msg_add(m, "%sinf", f < 0 ? "-" : "");
        return;
    }
    /* the shortest text that reads back as f */
    char txt[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(txt, sizeof(txt), "%.*g", prec, f);
        if (strtod(txt, NULL) == f)
            break;
    }
    config_msg_add(m, "%s%s", txt, strpbrk(txt, ".en") ? "" : ".0");
}

static void config_msg_value(struct config_msg *m, const struct toml_value *v)
{
    config_msg_add(m, "%s", toml_type_name(v->type));
    switch (v->type) {
    case TOML_STRING:
        config_msg_add(m, " ");
        config_msg_string(m, v->u.str.ptr, v->u.str.len);
        break;
    case TOML_INTEGER:
        config_msg_add(m, " %" PRId64, v->u.i);
        break;
    case TOML_FLOAT:
        config_msg_add(m, " ");
        config_msg_float(m, v->u.f);
        break;
    case TOML_BOOL:
        config_msg_add(m, " %s", v->u.b ? "true" : "false");
        break;
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL:
        config_msg_add(m, " %.*s", (int)v->u.str.len, v->u.str.ptr);
        break;
    case TOML_ARRAY:
    case TOML_TABLE:
        break;
    }
}

/* "file:line:col: path: expected <expected>, got <type> <value>" */
static int config_type_error(const struct toml_value *v, const char *expected,
                             struct alumet_error *err)
{
    struct config_msg m = {.len = 0};

    config_msg_pos(&m, v->file, v->line, v->col);
    config_msg_path(&m, v);
    config_msg_add(&m, ": expected %s, got ", expected);
    config_msg_value(&m, v);
    return alumet_error_set(err, -EINVAL, "%s", m.buf);
}

/* A string value goes out as a C string: one holding a NUL (TOML allows
 * "\u0000") would be cut there, so it is refused at the value. */
static int config_check_string(const struct toml_value *v, struct alumet_error *err)
{
    if (memchr(v->u.str.ptr, '\0', v->u.str.len) == NULL)
        return 0;

    struct config_msg m = {.len = 0};
    config_msg_pos(&m, v->file, v->line, v->col);
    config_msg_path(&m, v);
    config_msg_add(&m, ": string ");
    config_msg_string(&m, v->u.str.ptr, v->u.str.len);
    config_msg_add(&m, " contains a NUL character (\\u0000), which cannot be used here; "
                       "remove it");
    return alumet_error_set(err, -EINVAL, "%s", m.buf);
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

int alumet_config_get_string(struct alumet_config *t, const char *key, const char *def,
                             const char **ret, struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup(t, key, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret = def;
        return 0;
    }
    if (v->type != TOML_STRING)
        return config_type_error(v, "a string", err);
    r = config_check_string(v, err);
    if (r < 0)
        return r;
    *ret = v->u.str.ptr;
    return 0;
}

int alumet_config_get_bool(struct alumet_config *t, const char *key, bool def, bool *ret,
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
    if (v->type != TOML_BOOL)
        return config_type_error(v, "a boolean", err);
    *ret = v->u.b;
    return 0;
}

int alumet_config_get_int(struct alumet_config *t, const char *key, int64_t def, int64_t *ret,
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
    if (v->type != TOML_INTEGER)
        return config_type_error(v, "an integer", err);
    *ret = v->u.i;
    return 0;
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
    else
        return config_type_error(v, "a number", err);
    return 0;
}

int alumet_config_get_duration(struct alumet_config *t, const char *key, alumet_time_ns def,
                               alumet_time_ns *ret, struct alumet_error *err)
{
    struct toml_value *v;
    int r = config_lookup(t, key, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret = def;
        return 0;
    }
    if (v->type != TOML_STRING)
        return config_type_error(v, "a duration such as \"1s\"", err);

    alumet_time_ns d;
    if (strlen(v->u.str.ptr) != v->u.str.len)
        r = -EINVAL;
    else
        r = alumet_duration_parse(v->u.str.ptr, &d);
    if (r < 0) {
        struct config_msg m = {.len = 0};
        config_msg_pos(&m, v->file, v->line, v->col);
        config_msg_path(&m, v);
        if (r == -ERANGE) {
            config_msg_add(&m, ": duration ");
            config_msg_string(&m, v->u.str.ptr, v->u.str.len);
            config_msg_add(&m, " is too large (the maximum is about 292 years)");
        } else {
            config_msg_add(&m, ": invalid duration ");
            config_msg_string(&m, v->u.str.ptr, v->u.str.len);
            config_msg_add(&m, ": expected a number followed by a unit such as \"1s\", "
                               "\"500ms\" or \"1h 30m\"");
        }
        return alumet_error_set(err, -EINVAL, "%s", m.buf);
    }
    *ret = d;
    return 0;
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
    if (v->type != TOML_STRING || v->u.str.len != 1)
        return config_type_error(v, "a single character", err);
    r = config_check_string(v, err);
    if (r < 0)
        return r;
    *ret = v->u.str.ptr[0];
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
    for (size_t i = 0; i < v->u.arr.len; i++) {
        if (v->u.arr.items[i]->type != item_type)
            return config_type_error(v->u.arr.items[i], item_what, err);
        if (item_type == TOML_STRING && (r = config_check_string(v->u.arr.items[i], err)) < 0)
            return r;
    }
    *ret = v;
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
    if (v->type != TOML_ARRAY)
        return config_type_error(v, "an array", err);
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
        return config_type_error(v, "a string", err);
    int r = config_check_string(v, err);
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
        return config_type_error(v, "a table", err);
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
    if (v->type != TOML_TABLE)
        return config_type_error(v, "a table", err);
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
        config_msg_pos(&m, v->file, v->line, v->col);
        config_msg_path(&m, v);
    } else if (tv) {
        config_msg_pos(&m, tv->file, tv->line, tv->col);
        size_t before = m.len;
        config_msg_path(&m, tv);
        if (key)
            config_msg_add(&m, "%s%s", m.len > before ? "." : "", key);
    } else if (key) {
        config_msg_add(&m, "%s", key);
    }
    if (m.len > 0 && m.buf[m.len - 1] != ' ')
        config_msg_add(&m, ": ");

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.buf + m.len, sizeof(m.buf) - m.len, fmt, ap);
    va_end(ap);
    return alumet_error_set(err, code, "%s", m.buf);
}

size_t alumet__edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (lb > SIZE_MAX / 3 / sizeof(size_t) - 1)
        return SIZE_MAX;
    /* three rows: i - 2, i - 1, i */
    size_t *rows = calloc(3 * (lb + 1), sizeof(*rows));
    if (!rows)
        return SIZE_MAX;
    size_t *r2 = rows, *r1 = rows + (lb + 1), *r0 = rows + 2 * (lb + 1);

    for (size_t j = 0; j <= lb; j++)
        r1[j] = j;
    for (size_t i = 1; i <= la; i++) {
        r0[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = r1[j] + 1;
            if (r0[j - 1] + 1 < d)
                d = r0[j - 1] + 1;
            if (r1[j - 1] + cost < d)
                d = r1[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && r2[j - 2] + 1 < d)
                d = r2[j - 2] + 1;
            r0[j] = d;
        }
        size_t *tmp = r2;
        r2 = r1;
        r1 = r0;
        r0 = tmp;
    }
    size_t d = r1[lb];
    free(rows);
    return d;
}

/* "did you mean": the known keys of a table, gathered once per table so that
 * reporting n unknown keys costs O(n * known), not O(n * table size). Keys
 * longer than SUGGEST_KEY_MAX get no suggestion, and after SUGGEST_BUDGET
 * distance computations in one table the rest are reported without one: a
 * config with 100k stray keys is reported in well under a second. */
#define SUGGEST_KEY_MAX 64
#define SUGGEST_BUDGET ((size_t)1 << 20)

struct config_known {
    const char **keys; /* borrowed from the table or its config_private */
    size_t n;
    size_t budget; /* distance computations left */
};

/* Known keys of t: keys asked by getters and absent (first: on a tie the user
 * most likely meant one of those), then present keys that were read. Out of
 * memory, there are none (budget 0). */
static void config_known_init(struct config_known *k, const struct toml_value *t)
{
    const struct config_private *cp =
        t->cfg_private_free == config_private_free ? t->cfg_private : NULL;
    size_t n = cp ? cp->n_asked : 0;

    for (size_t i = 0; i < t->u.tab.len; i++)
        n += t->u.tab.items[i].val->used;
    k->n = 0;
    k->budget = SUGGEST_BUDGET;
    k->keys = n ? calloc(n, sizeof(*k->keys)) : NULL;
    if (n && !k->keys) {
        k->budget = 0;
        return;
    }
    for (size_t i = 0; cp && i < cp->n_asked; i++)
        k->keys[k->n++] = cp->asked[i];
    for (size_t i = 0; i < t->u.tab.len; i++)
        if (t->u.tab.items[i].val->used)
            k->keys[k->n++] = t->u.tab.items[i].key;
}

/* Optimal string alignment distance of a and b when it is at most max,
 * else max + 1 (early exit once a whole row exceeds max). Both lengths are
 * at most SUGGEST_KEY_MAX. */
static size_t config_distance_within(const char *a, size_t la, const char *b, size_t lb, size_t max)
{
    size_t rows[3][SUGGEST_KEY_MAX + 1];
    size_t *r2 = rows[0], *r1 = rows[1], *r0 = rows[2];

    if ((la > lb ? la - lb : lb - la) > max)
        return max + 1;
    for (size_t j = 0; j <= lb; j++)
        r1[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t row_min = r0[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = r1[j] + 1;
            if (r0[j - 1] + 1 < d)
                d = r0[j - 1] + 1;
            if (r1[j - 1] + cost < d)
                d = r1[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && r2[j - 2] + 1 < d)
                d = r2[j - 2] + 1;
            r0[j] = d;
            if (d < row_min)
                row_min = d;
        }
        /* rows never decrease by more than one from the row before (a transposition
         * adds one to the row two above): past max, they stay past it */
        if (row_min > max)
            return max + 1;
        size_t *tmp = r2;
        r2 = r1;
        r1 = r0;
        r0 = tmp;
    }
    return r1[lb] <= max ? r1[lb] : max + 1;
}

/* The closest known key to key, NULL when none is close enough. */
static const char *config_suggest(struct config_known *k, const char *key)
{
    size_t len = strlen(key);
    size_t best_d = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;

    if (len > SUGGEST_KEY_MAX)
        return NULL;
    for (size_t i = 0; i < k->n && k->budget > 0; i++) {
        size_t klen = strlen(k->keys[i]);
        if (klen > SUGGEST_KEY_MAX || strcmp(k->keys[i], key) == 0)
            continue;
        /* a tie keeps the first found: only closer ones once there is a best */
        if (best && best_d <= 1)
            break;
        size_t max = best ? best_d - 1 : best_d;
        k->budget--;
        size_t d = config_distance_within(key, len, k->keys[i], klen, max);
        if (d <= max) {
            best = k->keys[i];
            best_d = d;
        }
    }
    return best;
}

int alumet__config_report_unused(struct toml_value *t, void (*report)(void *data, const char *msg),
                                 void *data)
{
    struct config_known known = {.keys = NULL};
    bool known_ready = false;
    int count = 0;

    if (!t || t->type != TOML_TABLE)
        return 0;
    for (size_t i = 0; i < t->u.tab.len; i++) {
        const struct toml_kv *kv = &t->u.tab.items[i];
        struct toml_value *v = kv->val;

        if (v->used) {
            if (v->type == TOML_TABLE)
                count += alumet__config_report_unused(v, report, data);
            /* tables of an array that a plugin read (alumet_config_array_table) */
            for (size_t j = 0; v->type == TOML_ARRAY && j < v->u.arr.len; j++)
                if (v->u.arr.items[j]->used)
                    count += alumet__config_report_unused(v->u.arr.items[j], report, data);
            continue;
        }
        count++;
        if (!report)
            continue;
        /* out of memory, no suggestions: the keys are reported all the same */
        if (!known_ready)
            config_known_init(&known, t);
        known_ready = true;
        struct config_msg m = {.len = 0};
        config_msg_pos(&m, v->file ? v->file : t->file, kv->line, kv->col);
        config_msg_path(&m, v);
        const char *best = config_suggest(&known, kv->key);
        if (best)
            config_msg_add(&m, ": unknown key, did you mean '%s'?", best);
        else
            config_msg_add(&m, ": unknown key");
        report(data, m.buf);
    }
    free(known.keys);
    return count;
}

/* Give the file names owned by from to to (both tables). */
static int config_move_files(struct toml_value *to, struct toml_value *from)
{
    struct config_private *src =
        from->cfg_private_free == config_private_free ? from->cfg_private : NULL;

    if (!src || src->n_files == 0)
        return 0;
    struct config_private *dst = config_private_get(to);
    if (!dst)
        return -ENOMEM;
    while (src->n_files > 0) {
        int r = config_strv_push(&dst->files, &dst->n_files, &dst->cap_files,
                                 src->files[src->n_files - 1]);
        if (r < 0)
            return r;
        src->n_files--;
    }
    return 0;
}

static struct toml_kv *config_kv_of(struct toml_value *t, const struct toml_value *v)
{
    for (size_t i = 0; i < t->u.tab.len; i++)
        if (t->u.tab.items[i].val == v)
            return &t->u.tab.items[i];
    return NULL;
}

int alumet__config_merge(struct toml_value *base, struct toml_value *over)
{
    if (!base || !over || base->type != TOML_TABLE || over->type != TOML_TABLE)
        return -EINVAL;

    /* the values of over may point to its file names: base keeps them alive */
    int r = config_move_files(base, over);
    if (r < 0)
        return r;

    struct toml_kv *items = over->u.tab.items;
    size_t n = over->u.tab.len;
    over->u.tab.items = NULL;
    over->u.tab.len = over->u.tab.cap = 0;

    size_t i = 0;
    for (; i < n; i++) {
        struct toml_value *bv = toml_table_get(base, items[i].key);
        struct toml_value *ov = items[i].val;

        if (bv && bv->type == TOML_TABLE && ov->type == TOML_TABLE) {
            r = alumet__config_merge(bv, ov);
            toml_free(ov);
        } else {
            r = toml_table_set(base, items[i].key, ov);
            if (r < 0) {
                toml_free(ov);
            } else {
                /* the key's position now refers to the file of over, as the value does */
                struct toml_kv *kv = config_kv_of(base, ov);
                if (kv) {
                    kv->line = items[i].line;
                    kv->col = items[i].col;
                }
            }
        }
        free(items[i].key);
        if (r < 0) {
            i++;
            goto err_free_rest;
        }
    }
    free(items);
    return 0;

err_free_rest:
    for (; i < n; i++) {
        toml_free(items[i].val);
        free(items[i].key);
    }
    free(items);
    return r;
}

/* The largest config read: real ones are a few KiB, and a path such as
 * /dev/zero or a log file given by mistake must not fill the memory. */
#define CONFIG_FILE_MAX ((size_t)16 << 20)

/* Read at most CONFIG_FILE_MAX + 1 bytes of path (any kind of file), to tell
 * "too large" without reading the rest. */
static int config_read_file(const char *path, char **ret, size_t *ret_len, struct alumet_error *err)
{
    int r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        return alumet_error_set(err, r, "could not load config from '%s': %s", path, strerror(-r));
    }

    /* room for CONFIG_FILE_MAX + 1 bytes and the final NUL */
    size_t cap = 4096, len = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (uint64_t)st.st_size < CONFIG_FILE_MAX ? (size_t)st.st_size + 2 : CONFIG_FILE_MAX + 2;
    char *buf = malloc(cap);
    if (!buf) {
        r = alumet_error_set(err, -ENOMEM, "could not load config from '%s': %s", path,
                             strerror(ENOMEM));
        goto out_close;
    }
    while (len <= CONFIG_FILE_MAX) {
        if (len + 1 >= cap) {
            size_t ncap = cap * 2 < CONFIG_FILE_MAX + 2 ? cap * 2 : CONFIG_FILE_MAX + 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                r = alumet_error_set(err, -ENOMEM, "could not load config from '%s': %s", path,
                                     strerror(ENOMEM));
                goto err_free;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            alumet_error_set(err, r, "could not load config from '%s': %s", path, strerror(-r));
            goto err_free;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > CONFIG_FILE_MAX) {
        r = alumet_error_set(err, -EFBIG,
                             "%s: configuration larger than %zu MiB; is this the right file? A "
                             "configuration is a TOML text file of a few KiB: point --config (or "
                             "ALUMET_CONFIG) at one",
                             path, CONFIG_FILE_MAX >> 20);
        goto err_free;
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    r = 0;
    goto out_close;

err_free:
    free(buf);
out_close:
    close(fd);
    return r;
}

int alumet__config_load_text(const char *text, size_t len, const char *file, int substitute,
                             struct toml_value **ret, struct alumet_error *err)
{
    char *subst = NULL;
    int r;

    if (substitute) {
        r = alumet__config_substitute(text, len, file, &subst, &len, err);
        if (r < 0)
            return r;
        text = subst;
    }

    char errbuf[ALUMET_ERROR_MSG_MAX];
    errbuf[0] = '\0';
    struct toml_value *root = toml_parse(text, len, file, errbuf, sizeof(errbuf));
    free(subst);
    if (!root) {
        if (errbuf[0] == '\0')
            return alumet_error_set(err, -ENOMEM, "out of memory");
        return alumet_error_set(err, -EINVAL, "%s", errbuf);
    }
    *ret = root;
    return 0;
}

int alumet__config_load_file(const char *path, struct toml_value **ret, struct alumet_error *err)
{
    char *text = NULL;
    size_t len = 0;
    struct toml_value *root;

    int r = config_read_file(path, &text, &len, err);
    if (r < 0)
        return r;

    /* the file name must live as long as the tree: the root owns this copy */
    char *file = strdup(path);
    if (!file) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out_free_text;
    }
    r = alumet__config_load_text(text, len, file, /* substitute= */ 1, &root, err);
    if (r < 0)
        goto err_free_file;

    struct config_private *cp = config_private_get(root);
    if (!cp) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free_root;
    }
    r = config_strv_push(&cp->files, &cp->n_files, &cp->cap_files, file);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto err_free_root;
    }
    *ret = root;
    goto out_free_text;

err_free_root:
    toml_free(root);
err_free_file:
    free(file);
out_free_text:
    free(text);
    return r;
}

int alumet__config_take_switch(struct toml_value *section, const char *plugin, bool *ret_enabled,
                               struct alumet_error *err)
{
    struct toml_value *sw = toml_table_take(section, "enabled");
    if (!sw)
        sw = toml_table_take(section, "enable");
    int r = 0;
    bool on = true;
    if (sw && sw->type != TOML_BOOL)
        r = alumet_error_set(err, -EINVAL,
                             "%s:%d:%d: unexpected type for plugins.%s.enabled: expected boolean, "
                             "got %s",
                             sw->file ? sw->file : "?", sw->line, sw->col, plugin,
                             toml_type_name(sw->type));
    else if (sw)
        on = sw->u.b;
    toml_free(sw);
    if (r == 0)
        *ret_enabled = on;
    return r;
}
