/* SPDX-License-Identifier: MIT */
/* ${NAME} substitution in the raw text of a config file, before TOML parsing.
 *
 *   path = "${HOME}/alumet.csv"   # ${NOT_THIS}, comments are left alone
 *
 * The scanner follows the TOML string and comment syntax only as far as
 * needed to know whether a byte sits in a comment: a '#' outside strings
 * starts a comment that runs to the end of the line. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config-tree.h"

enum subst_state {
    SUBST_NORMAL,
    SUBST_COMMENT,
    SUBST_BASIC,      /* "..." */
    SUBST_ML_BASIC,   /* """...""" */
    SUBST_LITERAL,    /* '...' */
    SUBST_ML_LITERAL, /* '''...''' */
};

struct subst {
    const char *text;
    size_t len, pos;
    int line;
    size_t line_start; /* offset of the first byte of the current line */
    char *out;
    size_t out_len, out_cap;
};

static int subst_emit(struct subst *s, const char *p, size_t n)
{
    if (n >= s->out_cap - s->out_len) {
        size_t cap = s->out_cap;
        while (n >= cap - s->out_len) {
            if (cap > SIZE_MAX / 2)
                return -ENOMEM;
            cap *= 2;
        }
        char *o = realloc(s->out, cap);
        if (!o)
            return -ENOMEM;
        s->out = o;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, p, n);
    s->out_len += n;
    return 0;
}

/* Move past n input bytes without copying them, counting lines. */
static void subst_skip(struct subst *s, size_t n)
{
    for (size_t end = s->pos + n; s->pos < end; s->pos++) {
        if (s->text[s->pos] == '\n') {
            s->line++;
            s->line_start = s->pos + 1;
        }
    }
}

/* Copy n input bytes to the output. */
static int subst_copy(struct subst *s, size_t n)
{
    int r = subst_emit(s, s->text + s->pos, n);
    if (r < 0)
        return r;
    subst_skip(s, n);
    return 0;
}

/* 1-based column of the current byte, in characters (UTF-8 continuation
 * bytes do not count), as the TOML parser counts them. */
static int subst_col(const struct subst *s)
{
    int col = 1;
    for (size_t i = s->line_start; i < s->pos; i++)
        if (((unsigned char)s->text[i] & 0xc0) != 0x80)
            col++;
    return col;
}

static bool subst_utf8_valid(const unsigned char *p)
{
    while (*p) {
        unsigned char c = *p;
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

static int subst_error(const struct subst *s, const char *file, struct alumet_error *err,
                       const char *msg, const char *name, size_t name_len)
{
    int line = s->line, col = subst_col(s);

    if (!name)
        return alumet_error_set(err, -EINVAL, "%s%s%d:%d: %s", file ? file : "", file ? ":" : "",
                                line, col, msg);
    return alumet_error_set(err, -EINVAL, "%s%s%d:%d: the environment variable %.*s %s",
                            file ? file : "", file ? ":" : "", line, col, (int)name_len, name, msg);
}

/* At "${": replace it and the name up to '}' by the variable's value. */
static int subst_variable(struct subst *s, const char *file, struct alumet_error *err)
{
    const char *name = s->text + s->pos + 2;
    size_t avail = s->len - s->pos - 2;
    const char *close = memchr(name, '}', avail);

    if (!close)
        return subst_error(
            s, file, err, "wrong use of the substitution syntax, it should be ${ENV_VAR}", NULL, 0);

    size_t name_len = (size_t)(close - name);
    if (memchr(name, '\0', name_len))
        return subst_error(s, file, err, "does not exist", name, name_len);
    char *cname = strndup(name, name_len);
    if (!cname)
        return -ENOMEM;
    const char *value = secure_getenv(cname);
    free(cname);
    if (!value)
        return subst_error(s, file, err, "does not exist", name, name_len);
    if (!subst_utf8_valid((const unsigned char *)value))
        return subst_error(s, file, err, "is not valid UTF-8", name, name_len);

    int r = subst_emit(s, value, strlen(value));
    if (r < 0)
        return r;
    subst_skip(s, name_len + 3);
    return 0;
}

/* Length of the run of c starting at the current byte. */
static size_t subst_run(const struct subst *s, char c)
{
    size_t n = 0;
    while (s->pos + n < s->len && s->text[s->pos + n] == c)
        n++;
    return n;
}

static bool subst_at(const struct subst *s, size_t off, const char *what)
{
    size_t n = strlen(what);
    return s->len - s->pos >= off + n && memcmp(s->text + s->pos + off, what, n) == 0;
}

int alumet__config_substitute(const char *text, size_t len, const char *file, char **ret,
                              size_t *ret_len, struct alumet_error *err)
{
    struct subst s = {.text = text, .len = len, .line = 1, .out_cap = len + 64};
    enum subst_state st = SUBST_NORMAL;
    int r = 0;

    if (!text && len > 0)
        return -EINVAL;
    if (len > SIZE_MAX - 64)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    s.out = malloc(s.out_cap);
    if (!s.out)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    while (s.pos < s.len) {
        char c = text[s.pos];
        size_t n = 1;

        if (st == SUBST_COMMENT) {
            if (c == '\n')
                st = SUBST_NORMAL;
            r = subst_copy(&s, 1);
            if (r < 0)
                goto err_free;
            continue;
        }
        if (c == '\\' && subst_at(&s, 1, "${")) {
            /* escaped: a literal "${", and what follows is text */
            r = subst_emit(&s, "${", 2);
            if (r < 0)
                goto err_free;
            subst_skip(&s, 3);
            continue;
        }
        if (c == '$' && subst_at(&s, 1, "{")) {
            r = subst_variable(&s, file, err);
            if (r < 0)
                goto err_free;
            continue;
        }

        switch (st) {
        case SUBST_NORMAL:
            if (c == '#') {
                st = SUBST_COMMENT;
            } else if (c == '"') {
                n = subst_run(&s, '"') >= 3 ? 3 : 1;
                st = n == 3 ? SUBST_ML_BASIC : SUBST_BASIC;
            } else if (c == '\'') {
                n = subst_run(&s, '\'') >= 3 ? 3 : 1;
                st = n == 3 ? SUBST_ML_LITERAL : SUBST_LITERAL;
            }
            break;
        case SUBST_BASIC:
            if (c == '\\')
                n = s.pos + 1 < s.len ? 2 : 1; /* the escaped byte cannot end the string */
            else if (c == '"' || c == '\n')
                st = SUBST_NORMAL;
            break;
        case SUBST_LITERAL:
            if (c == '\'' || c == '\n')
                st = SUBST_NORMAL;
            break;
        case SUBST_ML_BASIC:
            if (c == '\\') {
                n = s.pos + 1 < s.len ? 2 : 1;
            } else if (c == '"') {
                /* up to two quotes before the closing """ belong to the string */
                n = subst_run(&s, '"');
                if (n >= 3)
                    st = SUBST_NORMAL;
            }
            break;
        case SUBST_ML_LITERAL:
            if (c == '\'') {
                n = subst_run(&s, '\'');
                if (n >= 3)
                    st = SUBST_NORMAL;
            }
            break;
        case SUBST_COMMENT:
            break;
        }
        r = subst_copy(&s, n);
        if (r < 0)
            goto err_free;
    }

    s.out[s.out_len] = '\0';
    *ret = s.out;
    if (ret_len)
        *ret_len = s.out_len;
    return 0;

err_free:
    free(s.out);
    if (r == -ENOMEM)
        alumet_error_set(err, r, "out of memory");
    return r;
}
