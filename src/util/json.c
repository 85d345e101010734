/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/measurement.h"
#include "format.h"

#define JSON_MAX_DEPTH 64

/* ---- writing ---- */

/* Length of the valid UTF-8 sequence at s (first byte >= 0x80, n bytes
 * left), 0 when invalid. */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;

    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

size_t json_escape(const char *s, size_t len, char *out, bool short_bf)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;

    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t l = json_utf8_len(u + i, len - i);
            if (l) {
                memcpy(out + n, s + i, l);
                n += l;
                i += l;
            } else {
                memcpy(out + n, "\\ufffd", 6);
                n += 6;
                i++;
            }
            continue;
        }
        i++;
        if (c >= 0x20 && c != '"' && c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        char esc = 0;
        switch (c) {
        case '"':
        case '\\':
            esc = (char)c;
            break;
        case '\n':
            esc = 'n';
            break;
        case '\r':
            esc = 'r';
            break;
        case '\t':
            esc = 't';
            break;
        case '\b':
            esc = short_bf ? 'b' : 0;
            break;
        case '\f':
            esc = short_bf ? 'f' : 0;
            break;
        default:
            break;
        }
        if (esc) {
            out[n++] = '\\';
            out[n++] = esc;
        } else {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[c >> 4];
            out[n + 5] = hex[c & 15];
            n += 6;
        }
    }
    out[n] = '\0';
    return n;
}

int json_text_add_string(struct text *t, const char *s, size_t len)
{
    if (len == (size_t)-1)
        len = strlen(s);
    int r = text_reserve(t, 6 * len + 3);
    if (r < 0)
        return r;
    char *out = t->s + t->len;
    out[0] = '"';
    size_t n = 1 + json_escape(s, len, out + 1, false);
    out[n++] = '"';
    t->len += n;
    t->s[t->len] = '\0';
    return 0;
}

int json_text_add_u64(struct text *t, uint64_t v)
{
    char num[FORMAT_U64_MAX];
    return text_add(t, num, format_u64(v, num));
}

int json_text_add_f64(struct text *t, double v)
{
    char num[FORMAT_F64_POINT_MAX];
    return text_add(t, num, format_f64_json(v, num, sizeof(num)));
}

int json_text_add_attr_value(struct text *t, const struct alumet_attr *a)
{
    int r = 0;
    switch (a->type) {
    case ALUMET_ATTR_F64:
        return json_text_add_f64(t, a->v.f64);
    case ALUMET_ATTR_U64:
        return json_text_add_u64(t, a->v.u64);
    case ALUMET_ATTR_BOOL:
        return text_adds(t, a->v.b ? "true" : "false");
    case ALUMET_ATTR_STR:
        return json_text_add_string(t, a->v.str, (size_t)-1);
    case ALUMET_ATTR_LIST_U64:
        r = text_adds(t, "[");
        for (size_t i = 0; r == 0 && i < a->v.list.len; i++) {
            if (i)
                r = text_adds(t, ",");
            if (r == 0)
                r = json_text_add_u64(t, a->v.list.items[i]);
        }
        return r == 0 ? text_adds(t, "]") : r;
    }
    return -EINVAL;
}

/* ---- parsing ---- */

struct json_parser {
    const char *s;
    size_t len;
    size_t pos;
    char *errbuf;
    size_t errsize;
};

static int json_fail(struct json_parser *p, const char *what)
{
    if (p->errsize)
        snprintf(p->errbuf, p->errsize, "%s at byte %zu", what, p->pos);
    return -EINVAL;
}

static void json_skip_ws(struct json_parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int json_hex4(struct json_parser *p, unsigned *ret)
{
    unsigned v = 0;
    if (p->len - p->pos < 4)
        return json_fail(p, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return json_fail(p, "invalid \\u escape");
    }
    *ret = v;
    return 0;
}

static size_t json_put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at p->pos (its opening quote), unescaped into a new string. */
static int json_parse_string(struct json_parser *p, char **ret)
{
    size_t start = ++p->pos, end = start;
    while (end < p->len && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len)
        return json_fail(p, "unterminated string");
    char *out = malloc(end - start + 1), *o = out;
    if (!out)
        return -ENOMEM;
    while (p->pos < end) {
        char c = p->s[p->pos++];
        if ((unsigned char)c < 0x20) {
            free(out);
            return json_fail(p, "control character in a string");
        }
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        c = p->s[p->pos++];
        const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", c);
        if (c && map && (map - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2 == 0) {
            *o++ = map[1];
            continue;
        }
        unsigned cp, lo;
        if (c != 'u' || json_hex4(p, &cp) < 0) {
            free(out);
            return json_fail(p, "invalid escape in a string");
        }
        if (cp >= 0xD800 && cp < 0xDC00 && p->pos + 6 <= end && p->s[p->pos] == '\\' &&
            p->s[p->pos + 1] == 'u') {
            p->pos += 2;
            if (json_hex4(p, &lo) < 0) {
                free(out);
                return -EINVAL;
            }
            cp = lo >= 0xDC00 && lo < 0xE000 ? 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                                             : 0xFFFD;
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        o += json_put_utf8(o, cp); /* never longer than the escape it replaces */
    }
    *o = '\0';
    p->pos = end + 1;
    *ret = out;
    return 0;
}

static int json_parse_value(struct json_parser *p, struct json *j, int depth);

static int json_parse_items(struct json_parser *p, struct json *j, int depth, char close)
{
    struct json **tail = &j->child;
    p->pos++;
    json_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        struct json *item = calloc(1, sizeof(*item));
        if (!item)
            return -ENOMEM;
        *tail = item;
        tail = &item->next;
        json_skip_ws(p);
        if (close == '}') {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return json_fail(p, "expected a member name");
            int r = json_parse_string(p, &item->key);
            if (r < 0)
                return r;
            json_skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return json_fail(p, "expected ':'");
            p->pos++;
        }
        int r = json_parse_value(p, item, depth + 1);
        if (r < 0)
            return r;
        json_skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return 0;
        }
        return json_fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int json_parse_number(struct json_parser *p, struct json *j)
{
    size_t start = p->pos;
    bool is_int = true;
    if (p->pos < p->len && p->s[p->pos] == '-')
        p->pos++;
    while (p->pos < p->len && strchr("0123456789.eE+-", p->s[p->pos])) {
        if (strchr(".eE", p->s[p->pos]))
            is_int = false;
        p->pos++;
    }
    size_t n = p->pos - start;
    if (n == 0 || (n == 1 && p->s[start] == '-'))
        return json_fail(p, "unexpected character");
    j->str = strndup(p->s + start, n);
    if (!j->str)
        return -ENOMEM;
    char *end;
    j->num = strtod(j->str, &end);
    if (*end)
        return json_fail(p, "invalid number");
    j->type = JSON_NUMBER;
    j->is_int = is_int;
    return 0;
}

static int json_parse_value(struct json_parser *p, struct json *j, int depth)
{
    static const struct {
        const char *word;
        enum json_type type;
        bool b;
    } words[] = {
        {"null", JSON_NULL, false}, {"true", JSON_BOOL, true}, {"false", JSON_BOOL, false}};

    if (depth > JSON_MAX_DEPTH)
        return json_fail(p, "nested too deep");
    json_skip_ws(p);
    if (p->pos >= p->len)
        return json_fail(p, "unexpected end");
    char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        j->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        return json_parse_items(p, j, depth, c == '{' ? '}' : ']');
    }
    if (c == '"') {
        j->type = JSON_STRING;
        return json_parse_string(p, &j->str);
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t l = strlen(words[i].word);
        if (p->len - p->pos >= l && memcmp(p->s + p->pos, words[i].word, l) == 0) {
            p->pos += l;
            j->type = words[i].type;
            j->b = words[i].b;
            return 0;
        }
    }
    return json_parse_number(p, j);
}

int json_parse(const char *text, size_t len, struct json **ret, char *errbuf, size_t errsize)
{
    struct json_parser p = {.s = text, .len = len, .errbuf = errbuf, .errsize = errsize};
    struct json *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    int r = json_parse_value(&p, j, 0);
    if (r == 0) {
        json_skip_ws(&p);
        if (p.pos != p.len)
            r = json_fail(&p, "unexpected text after the value");
    }
    if (r < 0) {
        if (r == -ENOMEM && errsize)
            snprintf(errbuf, errsize, "out of memory");
        json_free(j);
        return r;
    }
    *ret = j;
    return 0;
}

void json_free(struct json *j)
{
    while (j) {
        struct json *next = j->next;
        json_free(j->child);
        free(j->key);
        free(j->str);
        free(j);
        j = next;
    }
}

const struct json *json_get(const struct json *j, const char *key)
{
    if (!j || j->type != JSON_OBJECT)
        return NULL;
    for (const struct json *m = j->child; m; m = m->next)
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

size_t json_len(const struct json *j)
{
    size_t n = 0;
    for (const struct json *m = j ? j->child : NULL; m; m = m->next)
        n++;
    return n;
}

const char *json_str(const struct json *j)
{
    return j && j->type == JSON_STRING ? j->str : NULL;
}
