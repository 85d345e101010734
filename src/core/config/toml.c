/* SPDX-License-Identifier: MIT */
/* TOML 1.0 parser: hand-written recursive descent, text -> tree of toml_value.
 *
 * The whole text is checked first (UTF-8, control characters, bare carriage
 * returns), then parsed in one pass. Table semantics are tracked with private
 * bits in toml_value.flags:
 *   TF_DEFINED   table defined by a [header] or [[header]] (or the root)
 *   TF_IMPLICIT  table created as a parent by a header, may be defined later once
 *   TF_DOTTED    table created by a dotted key, only dotted keys may extend it
 *   TF_INLINE    inline table: immutable once closed
 *   TF_AOT       array created by [[header]] (the only arrays headers may extend)
 * The nesting depth of containers is kept in the upper bits of flags so that
 * a hostile document cannot exhaust the stack. */
#include "toml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    TF_DEFINED = 1u << 0,
    TF_IMPLICIT = 1u << 1,
    TF_DOTTED = 1u << 2,
    TF_INLINE = 1u << 3,
    TF_AOT = 1u << 4,
};

#define TF_DEPTH_SHIFT 8
#define TOML_MAX_DEPTH 400

struct pos {
    int line, col;
};

struct kv_slot {
    const struct toml_value *t; /* NULL: empty slot */
    size_t idx;                 /* index in t->u.tab.items */
};

struct parser {
    const char *s;
    size_t len;
    size_t i;          /* current offset */
    int line;          /* line of offset i */
    size_t line_start; /* offset of the first byte of the current line */
    size_t col_off;    /* column cache: offset col_off (on the current line)... */
    int col_at;        /* ...is at column col_at */
    const char *file;
    char *err;
    size_t errsize;
    bool failed;
    struct toml_value *root;
    struct toml_value *cur; /* table that receives key/value pairs */
    struct kv_slot *slots;  /* hash index of (table, key) -> item, keeps lookups O(1) */
    size_t nslots, nused;
};

struct buf {
    char *p;
    size_t len, cap;
};

struct key_part {
    char *s; /* owned until moved into a table */
    size_t len;
    struct pos at;
};

struct key {
    struct key_part *parts;
    size_t n, cap;
};

/* ---------------------------------------------------------------------------------------------
 * Errors and positions
 */

static void vfail(struct parser *p, struct pos at, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void vfail(struct parser *p, struct pos at, const char *fmt, va_list ap)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->err || p->errsize == 0)
        return;
    int n =
        snprintf(p->err, p->errsize, "%s:%d:%d: ", p->file ? p->file : "<input>", at.line, at.col);
    if (n < 0 || (size_t)n >= p->errsize)
        return;
    vsnprintf(p->err + n, p->errsize - (size_t)n, fmt, ap);
}

static int fail(struct parser *p, struct pos at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, struct pos at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(p, at, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Position of the current offset. Columns count code points, 1-based. */
static struct pos here(struct parser *p)
{
    if (p->col_off < p->line_start) {
        p->col_off = p->line_start;
        p->col_at = 1;
    }
    while (p->col_off < p->i) {
        if (((unsigned char)p->s[p->col_off] & 0xC0) != 0x80)
            p->col_at++;
        p->col_off++;
    }
    return (struct pos){p->line, p->col_at};
}

static int fail_here(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_here(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    struct pos at = here(p);

    va_start(ap, fmt);
    vfail(p, at, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int fail_nomem(struct parser *p)
{
    fail(p, here(p), "out of memory");
    return -ENOMEM;
}

/* ---------------------------------------------------------------------------------------------
 * Growable byte buffer
 */

static int buf_reserve(struct buf *b, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        return -ENOMEM;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 16;
    while (cap < b->len + n + 1)
        cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
    char *np = realloc(b->p, cap);
    if (!np)
        return -ENOMEM;
    b->p = np;
    b->cap = cap;
    return 0;
}

static int buf_add(struct buf *b, const char *s, size_t n)
{
    int r = buf_reserve(b, n);

    if (r < 0)
        return r;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

static int buf_add_utf8(struct buf *b, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_add(b, u, n);
}

/* Make sure the buffer holds an allocated, NUL-terminated (possibly empty) string. */
static int buf_finish(struct buf *b)
{
    int r = buf_reserve(b, 0);

    if (r < 0)
        return r;
    b->p[b->len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Values
 */

static unsigned depth_of(const struct toml_value *v)
{
    return v ? v->flags >> TF_DEPTH_SHIFT : 0;
}

static struct toml_value *value_new(struct parser *p, enum toml_type type, struct pos at)
{
    struct toml_value *v = calloc(1, sizeof(*v));

    if (!v)
        return NULL;
    v->type = type;
    v->line = at.line;
    v->col = at.col;
    v->file = p ? p->file : NULL;
    return v;
}

void toml_free(struct toml_value *v)
{
    if (!v)
        return;
    if (v->cfg_private_free)
        v->cfg_private_free(v->cfg_private);
    switch (v->type) {
    case TOML_STRING:
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL:
        free(v->u.str.ptr);
        break;
    case TOML_ARRAY:
        for (size_t k = 0; k < v->u.arr.len; k++)
            toml_free(v->u.arr.items[k]);
        free(v->u.arr.items);
        break;
    case TOML_TABLE:
        for (size_t k = 0; k < v->u.tab.len; k++) {
            free(v->u.tab.items[k].key);
            toml_free(v->u.tab.items[k].val);
        }
        free(v->u.tab.items);
        break;
    default:
        break;
    }
    free(v);
}

static struct toml_kv *tab_find(const struct toml_value *t, const char *key, size_t len)
{
    for (size_t k = 0; k < t->u.tab.len; k++) {
        struct toml_kv *kv = &t->u.tab.items[k];
        if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
            return kv;
    }
    return NULL;
}

/* Append key (owned, taken on success) -> v (owned, taken on success) to table t. */
static int tab_append(struct toml_value *t, char *key, size_t len, struct pos at,
                      struct toml_value *v)
{
    if (t->u.tab.len == t->u.tab.cap) {
        size_t cap = t->u.tab.cap ? t->u.tab.cap * 2 : 4;
        struct toml_kv *items = realloc(t->u.tab.items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        t->u.tab.items = items;
        t->u.tab.cap = cap;
    }
    struct toml_kv *kv = &t->u.tab.items[t->u.tab.len++];
    kv->key = key;
    kv->key_len = len;
    kv->line = at.line;
    kv->col = at.col;
    kv->val = v;
    v->parent = t;
    v->key = key;
    return 0;
}

static int arr_append(struct toml_value *a, struct toml_value *v)
{
    if (a->u.arr.len == a->u.arr.cap) {
        size_t cap = a->u.arr.cap ? a->u.arr.cap * 2 : 4;
        struct toml_value **items = realloc(a->u.arr.items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        a->u.arr.items = items;
        a->u.arr.cap = cap;
    }
    a->u.arr.items[a->u.arr.len++] = v;
    v->parent = a;
    v->key = NULL;
    return 0;
}

/* Parser-private hash index over all tables being built: key lookups while
 * parsing stay O(1) however many keys a table has. */
static size_t kv_hash(const struct toml_value *t, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15ull);

    for (size_t k = 0; k < len; k++) {
        h ^= (unsigned char)key[k];
        h *= 0x100000001b3ull;
    }
    return (size_t)(h ^ (h >> 29));
}

static void index_put(struct parser *p, const struct toml_value *t, size_t idx)
{
    const struct toml_kv *kv = &t->u.tab.items[idx];
    size_t mask = p->nslots - 1;
    size_t h = kv_hash(t, kv->key, kv->key_len) & mask;

    while (p->slots[h].t)
        h = (h + 1) & mask;
    p->slots[h].t = t;
    p->slots[h].idx = idx;
    p->nused++;
}

/* Make room for one more entry. */
static int index_reserve(struct parser *p)
{
    if ((p->nused + 1) * 2 <= p->nslots)
        return 0;
    size_t n = p->nslots ? p->nslots * 2 : 64;
    struct kv_slot *old = p->slots;
    size_t nold = p->nslots;
    if (n > SIZE_MAX / sizeof(*old))
        return -ENOMEM;
    p->slots = calloc(n, sizeof(*old));
    if (!p->slots) {
        p->slots = old;
        return -ENOMEM;
    }
    p->nslots = n;
    p->nused = 0;
    for (size_t k = 0; k < nold; k++)
        if (old[k].t)
            index_put(p, old[k].t, old[k].idx);
    free(old);
    return 0;
}

static struct toml_kv *p_find(const struct parser *p, const struct toml_value *t, const char *key,
                              size_t len)
{
    if (!p->nslots)
        return NULL;
    size_t mask = p->nslots - 1;
    for (size_t h = kv_hash(t, key, len) & mask; p->slots[h].t; h = (h + 1) & mask) {
        if (p->slots[h].t != t)
            continue;
        struct toml_kv *kv = &t->u.tab.items[p->slots[h].idx];
        if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
            return kv;
    }
    return NULL;
}

/* tab_append for tables of the document being parsed (keeps the index). Takes
 * key and v only on success. */
static int p_append(struct parser *p, struct toml_value *t, char *key, size_t len, struct pos at,
                    struct toml_value *v)
{
    int r = index_reserve(p);

    if (r < 0)
        return r;
    r = tab_append(t, key, len, at, v);
    if (r < 0)
        return r;
    index_put(p, t, t->u.tab.len - 1);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Low-level scanning
 */

static int peek(const struct parser *p)
{
    return p->i < p->len ? (unsigned char)p->s[p->i] : -1;
}

static int peek_at(const struct parser *p, size_t k)
{
    return p->i + k < p->len ? (unsigned char)p->s[p->i + k] : -1;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_bare_key_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

/* Newline at the current offset? (A '\r' is always followed by '\n': checked upfront.) */
static bool at_newline(const struct parser *p)
{
    int c = peek(p);
    return c == '\n' || c == '\r';
}

static void eat_newline(struct parser *p)
{
    if (peek(p) == '\r')
        p->i++;
    if (peek(p) == '\n') {
        p->i++;
        p->line++;
        p->line_start = p->i;
    }
}

static void skip_ws(struct parser *p)
{
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
        p->i++;
}

static void skip_comment(struct parser *p)
{
    if (peek(p) != '#')
        return;
    while (p->i < p->len && !at_newline(p))
        p->i++;
}

/* Whitespace, newlines and comments (inside arrays). */
static void skip_ws_nl_comments(struct parser *p)
{
    for (;;) {
        skip_ws(p);
        skip_comment(p);
        if (!at_newline(p))
            return;
        eat_newline(p);
    }
}

/* Check the whole text: valid UTF-8 (no overlong forms, no surrogates, at most
 * U+10FFFF), no control characters other than tab and newlines, '\r' only in "\r\n". */
static int check_text(struct parser *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    size_t n = p->len;
    int line = 1, col = 1;
    size_t k = 0;

    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        k = 3;
    for (; k < n; col++) {
        unsigned c = s[k];
        if (c < 0x80) {
            if (c == '\n') {
                line++;
                col = 0;
            } else if (c == '\r') {
                if (k + 1 >= n || s[k + 1] != '\n')
                    return fail(p, (struct pos){line, col},
                                "carriage return not followed by a newline");
            } else if ((c < 0x20 && c != '\t') || c == 0x7F) {
                return fail(p, (struct pos){line, col}, "invalid control character U+%04X", c);
            }
            k++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return fail(p, (struct pos){line, col}, "invalid utf-8");
        }
        if (n - k - 1 < need)
            return fail(p, (struct pos){line, col}, "invalid utf-8");
        for (size_t m = 1; m <= need; m++) {
            if ((s[k + m] & 0xC0) != 0x80)
                return fail(p, (struct pos){line, col}, "invalid utf-8");
            cp = (cp << 6) | (s[k + m] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(p, (struct pos){line, col}, "invalid utf-8");
        k += need + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Strings
 */

static int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Escape sequence at p->i (the backslash), appended to b. */
static int parse_escape(struct parser *p, struct buf *b)
{
    struct pos at = here(p);
    int c = peek_at(p, 1);
    char out;

    switch (c) {
    case 'b':
        out = '\b';
        break;
    case 't':
        out = '\t';
        break;
    case 'n':
        out = '\n';
        break;
    case 'f':
        out = '\f';
        break;
    case 'r':
        out = '\r';
        break;
    case '"':
        out = '"';
        break;
    case '\\':
        out = '\\';
        break;
    case 'u':
    case 'U': {
        size_t n = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < n; k++) {
            int h = hex_val(peek_at(p, 2 + k));
            if (h < 0)
                return fail(p, at, "invalid unicode escape");
            cp = (cp << 4) | (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(p, at, "invalid unicode scalar value in escape");
        p->i += 2 + n;
        return buf_add_utf8(b, cp) < 0 ? fail_nomem(p) : 0;
    }
    default:
        if (c > 0x20 && c < 0x7F)
            return fail(p, at, "invalid escape sequence '\\%c'", c);
        return fail(p, at, "invalid escape sequence");
    }
    p->i += 2;
    return buf_addc(b, out) < 0 ? fail_nomem(p) : 0;
}

/* Basic or literal string at p->i, single-line or (when allow_multi) multi-line.
 * The result is in b (NUL-terminated). */
static int parse_string(struct parser *p, struct buf *b, bool allow_multi)
{
    struct pos at = here(p);
    char q = p->s[p->i];
    bool basic = q == '"';
    bool multi = peek_at(p, 1) == q && peek_at(p, 2) == q;
    int r;

    if (multi && !allow_multi)
        return fail(p, at, "multi-line string not allowed here");
    if (!multi) {
        p->i++;
        for (;;) {
            int c = peek(p);
            if (c < 0 || c == '\n' || c == '\r')
                return fail(p, at, "unterminated string");
            if (c == q) {
                p->i++;
                break;
            }
            if (basic && c == '\\') {
                r = parse_escape(p, b);
                if (r < 0)
                    return r;
                continue;
            }
            /* Copy a run of plain bytes at once. */
            size_t start = p->i;
            while (p->i < p->len && p->s[p->i] != q && p->s[p->i] != '\n' && p->s[p->i] != '\r' &&
                   !(basic && p->s[p->i] == '\\'))
                p->i++;
            if (buf_add(b, p->s + start, p->i - start) < 0)
                return fail_nomem(p);
        }
        return buf_finish(b) < 0 ? fail_nomem(p) : 0;
    }

    p->i += 3;
    /* A newline right after the opening delimiter is trimmed. */
    if (at_newline(p))
        eat_newline(p);
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return fail(p, at, "unterminated string");
        if (c == q) {
            size_t n = 0;
            while (peek_at(p, n) == q)
                n++;
            if (n < 3) {
                if (buf_add(b, p->s + p->i, n) < 0)
                    return fail_nomem(p);
                p->i += n;
                continue;
            }
            if (n > 5) {
                p->i += 5;
                return fail_here(p, "too many quotes at the end of a multi-line string");
            }
            if (buf_add(b, p->s + p->i, n - 3) < 0)
                return fail_nomem(p);
            p->i += n;
            break;
        }
        if (c == '\n' || c == '\r') {
            eat_newline(p);
            if (buf_addc(b, '\n') < 0)
                return fail_nomem(p);
            continue;
        }
        if (basic && c == '\\') {
            /* Line-ending backslash: trims whitespace and newlines up to the next
             * non-whitespace character. */
            size_t k = 1;
            while (peek_at(p, k) == ' ' || peek_at(p, k) == '\t')
                k++;
            if (peek_at(p, k) == '\n' || peek_at(p, k) == '\r') {
                p->i += k;
                while (peek(p) == ' ' || peek(p) == '\t' || at_newline(p)) {
                    if (at_newline(p))
                        eat_newline(p);
                    else
                        p->i++;
                }
                continue;
            }
            r = parse_escape(p, b);
            if (r < 0)
                return r;
            continue;
        }
        size_t start = p->i;
        while (p->i < p->len && p->s[p->i] != q && p->s[p->i] != '\n' && p->s[p->i] != '\r' &&
               !(basic && p->s[p->i] == '\\'))
            p->i++;
        if (buf_add(b, p->s + start, p->i - start) < 0)
            return fail_nomem(p);
    }
    return buf_finish(b) < 0 ? fail_nomem(p) : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Keys
 */

static void key_free(struct key *k)
{
    for (size_t j = 0; j < k->n; j++)
        free(k->parts[j].s);
    free(k->parts);
    k->parts = NULL;
    k->n = k->cap = 0;
}

/* Write parts [0, upto] of k joined by dots into out (for messages); control
 * characters are shown as '?'. */
static const char *key_text(const struct key *k, size_t upto, char *out, size_t size)
{
    size_t o = 0;

    for (size_t j = 0; j <= upto && j < k->n; j++) {
        if (j && o + 1 < size)
            out[o++] = '.';
        for (size_t m = 0; m < k->parts[j].len && o + 1 < size; m++) {
            unsigned char c = (unsigned char)k->parts[j].s[m];
            out[o++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
        }
    }
    if (o + 1 >= size && size > 4) {
        memcpy(out + size - 4, "...", 3);
        o = size - 1;
    }
    out[o] = '\0';
    return out;
}

/* Error "<pre>'<parts [0, upto] of k>'<post>". Kept out of line so that the
 * recursive parsing functions do not carry the name buffer on the stack. */
static int fail_key(struct parser *p, struct pos at, const char *pre, const struct key *k,
                    size_t upto, const char *post) __attribute__((noinline));
static int fail_key(struct parser *p, struct pos at, const char *pre, const struct key *k,
                    size_t upto, const char *post)
{
    char name[256];

    return fail(p, at, "%s'%s'%s", pre, key_text(k, upto, name, sizeof(name)), post);
}

/* key = simple-key *( ws '.' ws simple-key ), leading and trailing ws skipped. */
static int parse_key(struct parser *p, struct key *k)
{
    for (;;) {
        skip_ws(p);
        struct pos at = here(p);
        int c = peek(p);
        struct buf b = {0};

        if (c == '"' || c == '\'') {
            int r = parse_string(p, &b, false);
            if (r < 0) {
                free(b.p);
                return r;
            }
        } else if (is_bare_key_char(c)) {
            size_t start = p->i;
            while (is_bare_key_char(peek(p)))
                p->i++;
            if (buf_add(&b, p->s + start, p->i - start) < 0)
                return fail_nomem(p);
        } else if (c < 0 || at_newline(p)) {
            return fail(p, at, "expected a key");
        } else if (c == '=' || c == '.' || c == ']') {
            return fail(p, at, "expected a key before '%c'", c);
        } else {
            return fail(p, at, "invalid character in key");
        }
        if (k->n == k->cap) {
            size_t cap = k->cap ? k->cap * 2 : 4;
            struct key_part *parts = realloc(k->parts, cap * sizeof(*parts));
            if (!parts) {
                free(b.p);
                return fail_nomem(p);
            }
            k->parts = parts;
            k->cap = cap;
        }
        k->parts[k->n++] = (struct key_part){b.p, b.len, at};
        skip_ws(p);
        if (peek(p) != '.')
            return 0;
        p->i++;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Numbers and date-times
 */

static bool is_value_end(int c)
{
    return c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#' || c == ',' ||
           c == ']' || c == '}';
}

static bool is_number_char(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '+' || c == '-' || c == '.';
}

/* Digits (of the base) separated by single underscores, starting at t[*j].
 * Returns false when empty or when an underscore is not between two digits. */
static bool scan_digits(const char *t, size_t n, size_t *j, int base)
{
    size_t start = *j;

    while (*j < n) {
        int h = hex_val((unsigned char)t[*j]);
        if (h >= 0 && h < base) {
            (*j)++;
            continue;
        }
        if (t[*j] == '_' && *j > start && *j + 1 < n) {
            int h2 = hex_val((unsigned char)t[*j + 1]);
            if (h2 >= 0 && h2 < base) {
                (*j)++;
                continue;
            }
        }
        break;
    }
    if (*j == start)
        return false;
    return !(*j < n && t[*j] == '_');
}

static int parse_number(struct parser *p, struct toml_value **out)
{
    struct pos at = here(p);
    size_t start = p->i;

    while (is_number_char(peek(p)))
        p->i++;
    const char *t = p->s + start;
    size_t n = p->i - start;
    size_t j = 0;
    bool neg = false, sign = false;

    if (n && (t[0] == '+' || t[0] == '-')) {
        neg = t[0] == '-';
        sign = true;
        j = 1;
    }
    /* inf and nan */
    if (n - j == 3 && (memcmp(t + j, "inf", 3) == 0 || memcmp(t + j, "nan", 3) == 0)) {
        struct toml_value *v = value_new(p, TOML_FLOAT, at);
        if (!v)
            return fail_nomem(p);
        if (t[j] == 'i')
            v->u.f = neg ? -__builtin_inf() : __builtin_inf();
        else
            v->u.f = neg ? -__builtin_nan("") : __builtin_nan("");
        *out = v;
        return 0;
    }
    /* 0x, 0o, 0b */
    if (n - j >= 2 && t[j] == '0' && (t[j + 1] == 'x' || t[j + 1] == 'o' || t[j + 1] == 'b')) {
        int base = t[j + 1] == 'x' ? 16 : t[j + 1] == 'o' ? 8 : 2;
        if (sign)
            return fail(p, at, "invalid integer: no sign allowed with a base prefix");
        j += 2;
        size_t d0 = j;
        if (!scan_digits(t, n, &j, base) || j != n)
            return fail(p, at, "invalid integer");
        uint64_t u = 0;
        for (size_t m = d0; m < n; m++) {
            if (t[m] == '_')
                continue;
            uint64_t h = (uint64_t)hex_val((unsigned char)t[m]);
            if (u > ((uint64_t)INT64_MAX - h) / (uint64_t)base)
                return fail(p, at, "integer out of range");
            u = u * (uint64_t)base + h;
        }
        struct toml_value *v = value_new(p, TOML_INTEGER, at);
        if (!v)
            return fail_nomem(p);
        v->u.i = (int64_t)u;
        *out = v;
        return 0;
    }
    /* Decimal integer or float. */
    size_t int0 = j;
    bool is_float = false;
    bool ok = scan_digits(t, n, &j, 10);
    size_t int_end = j;
    if (ok && j < n && t[j] == '.') {
        j++;
        is_float = true;
        ok = scan_digits(t, n, &j, 10);
    }
    if (ok && j < n && (t[j] == 'e' || t[j] == 'E')) {
        j++;
        is_float = true;
        if (j < n && (t[j] == '+' || t[j] == '-'))
            j++;
        ok = scan_digits(t, n, &j, 10);
    }
    if (!is_float)
        for (size_t m = j; m < n; m++)
            if (t[m] == '.' || t[m] == 'e' || t[m] == 'E')
                is_float = true;
    if (!ok || j != n)
        return fail(p, at, is_float ? "invalid float" : "invalid integer");
    if (t[int0] == '0' && int_end - int0 > 1)
        return fail(p, at, "leading zeros are not allowed");

    struct toml_value *v = value_new(p, is_float ? TOML_FLOAT : TOML_INTEGER, at);
    if (!v)
        return fail_nomem(p);
    if (is_float) {
        char small[64];
        char *clean = n < sizeof(small) ? small : malloc(n + 1);
        if (!clean) {
            toml_free(v);
            return fail_nomem(p);
        }
        size_t c = 0;
        for (size_t m = 0; m < n; m++)
            if (t[m] != '_')
                clean[c++] = t[m];
        clean[c] = '\0';
        v->u.f = strtod(clean, NULL);
        if (clean != small)
            free(clean);
    } else {
        uint64_t u = 0;
        uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t m = int0; m < n; m++) {
            if (t[m] == '_')
                continue;
            uint64_t d = (uint64_t)(t[m] - '0');
            if (u > (lim - d) / 10) {
                toml_free(v);
                return fail(p, at, "integer out of range");
            }
            u = u * 10 + d;
        }
        v->u.i = neg ? (int64_t)(0 - u) : (int64_t)u;
    }
    *out = v;
    return 0;
}

/* n digits at offset k from the current position, as a number; -1 when not all digits. */
static int digits_at(const struct parser *p, size_t k, size_t n)
{
    int v = 0;

    for (size_t m = 0; m < n; m++) {
        int c = peek_at(p, k + m);
        if (!is_digit(c))
            return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

static bool looks_like_date(const struct parser *p)
{
    return digits_at(p, 0, 4) >= 0 && peek_at(p, 4) == '-';
}

static bool looks_like_time(const struct parser *p)
{
    return digits_at(p, 0, 2) >= 0 && peek_at(p, 2) == ':';
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* HH:MM:SS[.frac] at the current offset, appended to b. */
static int parse_time(struct parser *p, struct buf *b, struct pos at)
{
    int h = digits_at(p, 0, 2), m = digits_at(p, 3, 2), s = digits_at(p, 6, 2);

    if (h < 0 || peek_at(p, 2) != ':' || m < 0 || peek_at(p, 5) != ':' || s < 0)
        return fail(p, at, "invalid time");
    if (h > 23 || m > 59 || s > 60)
        return fail(p, at, "invalid time");
    if (buf_add(b, p->s + p->i, 8) < 0)
        return fail_nomem(p);
    p->i += 8;
    if (peek(p) == '.') {
        size_t k = 1;
        while (is_digit(peek_at(p, k)))
            k++;
        if (k == 1)
            return fail(p, at, "invalid time");
        if (buf_add(b, p->s + p->i, k) < 0)
            return fail_nomem(p);
        p->i += k;
    }
    return 0;
}

static int parse_datetime(struct parser *p, struct toml_value **out)
{
    struct pos at = here(p);
    struct buf b = {0};
    enum toml_type type;
    int r;

    if (looks_like_date(p)) {
        int y = digits_at(p, 0, 4), mo = digits_at(p, 5, 2), d = digits_at(p, 8, 2);
        if (mo < 0 || peek_at(p, 7) != '-' || d < 0 || mo < 1 || mo > 12 || d < 1 ||
            d > days_in_month(y, mo))
            return fail(p, at, "invalid date");
        if (buf_add(&b, p->s + p->i, 10) < 0)
            return fail_nomem(p);
        p->i += 10;
        type = TOML_DATE_LOCAL;
        int c = peek(p);
        if (c == 'T' || c == 't' || (c == ' ' && is_digit(peek_at(p, 1)))) {
            p->i++;
            if (buf_addc(&b, 'T') < 0) {
                free(b.p);
                return fail_nomem(p);
            }
            r = parse_time(p, &b, at);
            if (r < 0) {
                free(b.p);
                return r;
            }
            type = TOML_DATETIME_LOCAL;
            c = peek(p);
            if (c == 'Z' || c == 'z') {
                p->i++;
                r = buf_addc(&b, 'Z');
                type = TOML_DATETIME;
            } else if (c == '+' || c == '-') {
                int oh = digits_at(p, 1, 2), om = digits_at(p, 4, 2);
                if (oh < 0 || peek_at(p, 3) != ':' || om < 0 || oh > 23 || om > 59) {
                    free(b.p);
                    return fail(p, at, "invalid time offset");
                }
                r = buf_add(&b, p->s + p->i, 6);
                p->i += 6;
                type = TOML_DATETIME;
            }
            if (r < 0) {
                free(b.p);
                return fail_nomem(p);
            }
        }
    } else {
        r = parse_time(p, &b, at);
        if (r < 0) {
            free(b.p);
            return r;
        }
        type = TOML_TIME_LOCAL;
    }
    if (!is_value_end(peek(p))) {
        free(b.p);
        return fail(p, at,
                    type == TOML_DATE_LOCAL   ? "invalid date"
                    : type == TOML_TIME_LOCAL ? "invalid time"
                                              : "invalid date-time");
    }
    struct toml_value *v = value_new(p, type, at);
    if (!v) {
        free(b.p);
        return fail_nomem(p);
    }
    v->u.str.ptr = b.p;
    v->u.str.len = b.len;
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Values, arrays, inline tables
 */

static int parse_value(struct parser *p, unsigned depth, struct toml_value **out);

static int parse_array(struct parser *p, unsigned depth, struct toml_value **out)
{
    struct pos at = here(p);
    struct toml_value *a = value_new(p, TOML_ARRAY, at);
    int r;

    if (!a)
        return fail_nomem(p);
    a->flags = depth << TF_DEPTH_SHIFT;
    p->i++;
    for (;;) {
        skip_ws_nl_comments(p);
        if (peek(p) == ']') {
            p->i++;
            break;
        }
        struct toml_value *v = NULL;
        r = parse_value(p, depth + 1, &v);
        if (r < 0)
            goto err;
        if (arr_append(a, v) < 0) {
            toml_free(v);
            r = fail_nomem(p);
            goto err;
        }
        skip_ws_nl_comments(p);
        int c = peek(p);
        if (c == ',') {
            p->i++;
            continue;
        }
        if (c == ']') {
            p->i++;
            break;
        }
        r = c < 0 ? fail(p, at, "unterminated array")
                  : fail_here(p, "expected ',' or ']' after an array element");
        goto err;
    }
    *out = a;
    return 0;
err:
    toml_free(a);
    return r;
}

static int insert_keyval(struct parser *p, struct toml_value *t, struct key *k, unsigned depth);

static int parse_inline_table(struct parser *p, unsigned depth, struct toml_value **out)
{
    struct pos at = here(p);
    struct toml_value *t = value_new(p, TOML_TABLE, at);
    int r;

    if (!t)
        return fail_nomem(p);
    t->flags = depth << TF_DEPTH_SHIFT;
    p->i++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->i++;
        goto done;
    }
    for (;;) {
        struct key k = {0};
        skip_ws(p);
        if (at_newline(p)) {
            r = fail_here(p, "newline in inline table");
            goto err;
        }
        r = parse_key(p, &k);
        if (r == 0)
            r = insert_keyval(p, t, &k, depth);
        key_free(&k);
        if (r < 0)
            goto err;
        skip_ws(p);
        int c = peek(p);
        if (c == ',') {
            p->i++;
            skip_ws(p);
            if (peek(p) == '}') {
                r = fail_here(p, "trailing comma in inline table");
                goto err;
            }
            continue;
        }
        if (c == '}') {
            p->i++;
            break;
        }
        if (c < 0)
            r = fail(p, at, "unterminated inline table");
        else if (at_newline(p))
            r = fail_here(p, "newline in inline table");
        else
            r = fail_here(p, "expected ',' or '}' in inline table");
        goto err;
    }
done:
    t->flags |= TF_INLINE;
    *out = t;
    return 0;
err:
    toml_free(t);
    return r;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* true, false, inf or nan in any case (written wrongly: not strings) */
static bool is_keyword_ci(const char *s, size_t n)
{
    static const char *const words[] = {"true", "false", "inf", "nan"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
            return true;
    return false;
}

/* A bare word where a value goes is most likely a string without its
 * quotes: say so, with the line as it should be when the word follows
 * "key =" (output_path = out.csv -> output_path = "out.csv"). */
static int fail_bare_word(struct parser *p)
{
    size_t start = p->i, end = p->i;
    while (end < p->len && !strchr("\n\r#,]}", p->s[end]))
        end++;
    while (end > start && is_blank(p->s[end - 1]))
        end--;
    /* a word: not a malformed number (.5, _1, Inf) nor a capitalised boolean */
    bool word = end > start && end - start <= 200 &&
                ((p->s[start] >= 'a' && p->s[start] <= 'z') ||
                 (p->s[start] >= 'A' && p->s[start] <= 'Z') || p->s[start] == '/') &&
                !memchr(p->s + start, '"', end - start) &&
                !memchr(p->s + start, '\\', end - start) &&
                !is_keyword_ci(p->s + start, end - start);
    if (!word)
        return fail_here(p, "invalid value");
    size_t eq = start;
    while (eq > 0 && is_blank(p->s[eq - 1]))
        eq--;
    size_t ke = eq > 0 && p->s[eq - 1] == '=' ? eq - 1 : 0;
    size_t ks = ke;
    while (ks > 0 && p->s[ks - 1] != '\n')
        ks--;
    while (ks < ke && is_blank(p->s[ks]))
        ks++;
    while (ke > ks && is_blank(p->s[ke - 1]))
        ke--;
    if (ke > ks && ke - ks <= 100)
        return fail_here(p, "invalid value; strings need quotes: %.*s = \"%.*s\"", (int)(ke - ks),
                         p->s + ks, (int)(end - start), p->s + start);
    return fail_here(p, "invalid value; strings need quotes: \"%.*s\"", (int)(end - start),
                     p->s + start);
}

static int parse_literal(struct parser *p, const char *word, bool val, struct toml_value **out)
{
    struct pos at = here(p);
    size_t n = strlen(word);

    if (p->len - p->i < n || memcmp(p->s + p->i, word, n) != 0 ||
        (p->i + n < p->len && !is_value_end((unsigned char)p->s[p->i + n])))
        return fail(p, at, "invalid value");
    struct toml_value *v = value_new(p, TOML_BOOL, at);
    if (!v)
        return fail_nomem(p);
    v->u.b = val;
    p->i += n;
    *out = v;
    return 0;
}

static int parse_value(struct parser *p, unsigned depth, struct toml_value **out)
{
    int c = peek(p);
    int r;

    if (depth > TOML_MAX_DEPTH)
        return fail_here(p, "nesting too deep");
    if (c == '"' || c == '\'') {
        struct pos at = here(p);
        struct buf b = {0};
        r = parse_string(p, &b, true);
        if (r < 0) {
            free(b.p);
            return r;
        }
        struct toml_value *v = value_new(p, TOML_STRING, at);
        if (!v) {
            free(b.p);
            return fail_nomem(p);
        }
        v->u.str.ptr = b.p;
        v->u.str.len = b.len;
        *out = v;
        return 0;
    }
    if (c == '[')
        return parse_array(p, depth, out);
    if (c == '{')
        return parse_inline_table(p, depth, out);
    if (c == 't')
        return parse_literal(p, "true", true, out);
    if (c == 'f')
        return parse_literal(p, "false", false, out);
    if (is_digit(c) && (looks_like_date(p) || looks_like_time(p)))
        return parse_datetime(p, out);
    if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
        return parse_number(p, out);
    if (c < 0 || at_newline(p) || c == '#')
        return fail_here(p, "expected a value");
    return fail_bare_word(p);
}

/* Key/value pair: the key k is already parsed (ws after it skipped); parse
 * '=' and the value and insert it below table t (depth: t's depth). */
static int insert_keyval(struct parser *p, struct toml_value *t, struct key *k, unsigned depth)
{
    int r;

    if (peek(p) != '=')
        return fail_here(p, "expected '=' after a key");
    p->i++;
    skip_ws(p);
    for (size_t j = 0; j + 1 < k->n; j++) {
        struct key_part *kp = &k->parts[j];
        struct toml_kv *kv = p_find(p, t, kp->s, kp->len);
        depth++;
        if (!kv) {
            if (depth > TOML_MAX_DEPTH)
                return fail(p, kp->at, "nesting too deep");
            struct toml_value *nt = value_new(p, TOML_TABLE, kp->at);
            if (!nt)
                return fail_nomem(p);
            nt->flags = TF_DOTTED | (depth << TF_DEPTH_SHIFT);
            if (p_append(p, t, kp->s, kp->len, kp->at, nt) < 0) {
                toml_free(nt);
                return fail_nomem(p);
            }
            kp->s = NULL;
            t = nt;
            continue;
        }
        struct toml_value *v = kv->val;
        if (v->type != TOML_TABLE)
            return fail_key(p, k->parts[0].at, "key ", k, j, " is not a table");
        if (v->flags & TF_INLINE)
            return fail_key(p, k->parts[0].at, "cannot extend inline table ", k, j, "");
        if (!(v->flags & TF_DOTTED))
            return fail_key(p, k->parts[0].at, "table ", k, j, " already defined");
        t = v;
    }
    struct key_part *last = &k->parts[k->n - 1];
    if (p_find(p, t, last->s, last->len))
        return fail_key(p, k->parts[0].at, "duplicate key ", k, k->n - 1, "");
    struct toml_value *v = NULL;
    r = parse_value(p, depth + 1, &v);
    if (r < 0)
        return r;
    if (p_append(p, t, last->s, last->len, last->at, v) < 0) {
        toml_free(v);
        return fail_nomem(p);
    }
    last->s = NULL;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Table headers
 */

static int parse_header(struct parser *p)
{
    struct pos at = here(p);
    bool aot = peek_at(p, 1) == '[';
    struct key k = {0};
    int r;

    p->i += aot ? 2 : 1;
    r = parse_key(p, &k);
    if (r < 0)
        goto out;
    if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
        r = fail_here(p, aot ? "expected ']]' at the end of a table header"
                             : "expected ']' at the end of a table header");
        goto out;
    }
    p->i += aot ? 2 : 1;

    struct toml_value *t = p->root;
    for (size_t j = 0; j + 1 < k.n; j++) {
        struct key_part *kp = &k.parts[j];
        struct toml_kv *kv = p_find(p, t, kp->s, kp->len);
        if (!kv) {
            if (depth_of(t) + 1 > TOML_MAX_DEPTH) {
                r = fail(p, kp->at, "nesting too deep");
                goto out;
            }
            struct toml_value *nt = value_new(p, TOML_TABLE, kp->at);
            if (!nt) {
                r = fail_nomem(p);
                goto out;
            }
            nt->flags = TF_IMPLICIT | ((depth_of(t) + 1) << TF_DEPTH_SHIFT);
            if (p_append(p, t, kp->s, kp->len, kp->at, nt) < 0) {
                toml_free(nt);
                r = fail_nomem(p);
                goto out;
            }
            kp->s = NULL;
            t = nt;
            continue;
        }
        struct toml_value *v = kv->val;
        if (v->type == TOML_ARRAY && (v->flags & TF_AOT) && v->u.arr.len > 0)
            v = v->u.arr.items[v->u.arr.len - 1];
        if (v->type == TOML_ARRAY && !(v->flags & TF_AOT)) {
            r = fail_key(p, k.parts[0].at, "cannot extend static array ", &k, j, "");
            goto out;
        }
        if (v->type != TOML_TABLE) {
            r = fail_key(p, k.parts[0].at, "key ", &k, j, " is not a table");
            goto out;
        }
        if (v->flags & TF_INLINE) {
            r = fail_key(p, k.parts[0].at, "cannot extend inline table ", &k, j, "");
            goto out;
        }
        t = v;
    }

    struct key_part *last = &k.parts[k.n - 1];
    struct toml_kv *kv = p_find(p, t, last->s, last->len);
    struct toml_value *nt;
    if (depth_of(t) + 2 > TOML_MAX_DEPTH) {
        r = fail(p, last->at, "nesting too deep");
        goto out;
    }
    if (!aot) {
        if (kv) {
            struct toml_value *v = kv->val;
            if (v->type == TOML_TABLE && (v->flags & TF_IMPLICIT)) {
                v->flags = (v->flags & ~(unsigned)TF_IMPLICIT) | TF_DEFINED;
                v->line = at.line;
                v->col = at.col;
                kv->line = last->at.line;
                kv->col = last->at.col;
                p->cur = v;
                r = 0;
                goto out;
            }
            if (v->type == TOML_TABLE || (v->type == TOML_ARRAY && (v->flags & TF_AOT)))
                r = fail_key(p, k.parts[0].at, "table ", &k, k.n - 1, " already defined");
            else
                r = fail_key(p, k.parts[0].at, "duplicate key ", &k, k.n - 1, "");
            goto out;
        }
        nt = value_new(p, TOML_TABLE, at);
        if (!nt) {
            r = fail_nomem(p);
            goto out;
        }
        nt->flags = TF_DEFINED | ((depth_of(t) + 1) << TF_DEPTH_SHIFT);
        if (p_append(p, t, last->s, last->len, last->at, nt) < 0) {
            toml_free(nt);
            r = fail_nomem(p);
            goto out;
        }
        last->s = NULL;
        p->cur = nt;
        r = 0;
        goto out;
    }

    struct toml_value *arr;
    if (kv) {
        arr = kv->val;
        if (arr->type != TOML_ARRAY || !(arr->flags & TF_AOT)) {
            if (arr->type == TOML_ARRAY)
                r = fail_key(p, k.parts[0].at, "cannot extend static array ", &k, k.n - 1, "");
            else if (arr->type == TOML_TABLE)
                r = fail_key(p, k.parts[0].at, "table ", &k, k.n - 1, " already defined");
            else
                r = fail_key(p, k.parts[0].at, "duplicate key ", &k, k.n - 1, "");
            goto out;
        }
    } else {
        arr = value_new(p, TOML_ARRAY, at);
        if (!arr) {
            r = fail_nomem(p);
            goto out;
        }
        arr->flags = TF_AOT | ((depth_of(t) + 1) << TF_DEPTH_SHIFT);
        if (p_append(p, t, last->s, last->len, last->at, arr) < 0) {
            toml_free(arr);
            r = fail_nomem(p);
            goto out;
        }
        last->s = NULL;
    }
    nt = value_new(p, TOML_TABLE, at);
    if (!nt) {
        r = fail_nomem(p);
        goto out;
    }
    nt->flags = TF_DEFINED | ((depth_of(arr) + 1) << TF_DEPTH_SHIFT);
    if (arr_append(arr, nt) < 0) {
        toml_free(nt);
        r = fail_nomem(p);
        goto out;
    }
    p->cur = nt;
    r = 0;
out:
    key_free(&k);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Document
 */

static int parse_document(struct parser *p)
{
    int r;

    /* UTF-8 byte order mark */
    if (p->len >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0) {
        p->i = 3;
        p->col_off = 3;
    }
    for (;;) {
        skip_ws(p);
        int c = peek(p);
        if (c < 0)
            return 0;
        if (at_newline(p)) {
            eat_newline(p);
            continue;
        }
        if (c == '#') {
            skip_comment(p);
            continue;
        }
        if (c == '[') {
            r = parse_header(p);
        } else {
            struct key k = {0};
            r = parse_key(p, &k);
            if (r == 0)
                r = insert_keyval(p, p->cur, &k, depth_of(p->cur));
            key_free(&k);
        }
        if (r < 0)
            return r;
        skip_ws(p);
        skip_comment(p);
        if (peek(p) >= 0 && !at_newline(p))
            return fail_here(p, c == '[' ? "expected a newline after a table header"
                                         : "expected a newline after a value");
    }
}

struct toml_value *toml_parse(const char *text, size_t len, const char *file, char *errbuf,
                              size_t errsize)
{
    struct parser p = {
        .s = text ? text : "",
        .len = text ? len : 0,
        .line = 1,
        .col_at = 1,
        .file = file,
        .err = errbuf,
        .errsize = errsize,
    };
    int r;

    if (errbuf && errsize)
        errbuf[0] = '\0';
    p.root = value_new(&p, TOML_TABLE, (struct pos){1, 1});
    if (!p.root) {
        fail_nomem(&p);
        return NULL;
    }
    p.root->flags = TF_DEFINED;
    p.cur = p.root;
    r = check_text(&p);
    if (r == 0)
        r = parse_document(&p);
    free(p.slots);
    if (r < 0) {
        toml_free(p.root);
        return NULL;
    }
    return p.root;
}

/* ---------------------------------------------------------------------------------------------
 * Tree API
 */

struct toml_value *toml_table_get(const struct toml_value *t, const char *key)
{
    if (!t || t->type != TOML_TABLE || !key)
        return NULL;
    struct toml_kv *kv = tab_find(t, key, strlen(key));
    return kv ? kv->val : NULL;
}

struct toml_value *toml_table_take(struct toml_value *t, const char *key)
{
    if (!t || t->type != TOML_TABLE || !key)
        return NULL;
    struct toml_kv *kv = tab_find(t, key, strlen(key));
    if (!kv)
        return NULL;
    struct toml_value *v = kv->val;
    size_t idx = (size_t)(kv - t->u.tab.items);
    free(kv->key);
    memmove(kv, kv + 1, (t->u.tab.len - idx - 1) * sizeof(*kv));
    t->u.tab.len--;
    v->parent = NULL;
    v->key = NULL;
    return v;
}

int toml_table_set(struct toml_value *t, const char *key, struct toml_value *v)
{
    if (!t || t->type != TOML_TABLE || !key || !v)
        return -EINVAL;
    size_t len = strlen(key);
    struct toml_kv *kv = tab_find(t, key, len);
    if (kv) {
        if (kv->val != v)
            toml_free(kv->val);
        kv->val = v;
        v->parent = t;
        v->key = kv->key;
        return 0;
    }
    char *k = malloc(len + 1);
    if (!k)
        return -ENOMEM;
    memcpy(k, key, len + 1);
    int r = tab_append(t, k, len, (struct pos){v->line, v->col}, v);
    if (r < 0)
        free(k);
    return r;
}

struct toml_value *toml_table_new(void)
{
    return value_new(NULL, TOML_TABLE, (struct pos){0, 0});
}

const char *toml_type_name(enum toml_type t)
{
    switch (t) {
    case TOML_STRING:
        return "string";
    case TOML_INTEGER:
        return "integer";
    case TOML_FLOAT:
        return "float";
    case TOML_BOOL:
        return "boolean";
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL:
        return "datetime";
    case TOML_ARRAY:
        return "array";
    case TOML_TABLE:
        return "table";
    }
    return "unknown";
}
