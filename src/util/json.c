/* SPDX-License-Identifier: MIT */
/* A small JSON reader (see json.h). */
#include "json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct json_parser {
    const char *p, *end;
    int depth;
};

void json_free(struct json *j)
{
    while (j) {
        struct json *next = j->next;
        json_free(j->child);
        json_free(j->value);
        free(j->str);
        free(j);
        j = next;
    }
}

static void json_ws(struct json_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int json_hex4(const char *s, const char *end, uint32_t *ret)
{
    uint32_t v = 0;
    if (end - s < 4)
        return -EBADMSG;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -EBADMSG;
    }
    *ret = v;
    return 0;
}

static char *json_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* A string at ps->p (on its '"'), decoded into *ret (owned). The decoded
 * text is never longer than the escaped one (\uXXXX: 6 bytes, ≤ 3 of UTF-8;
 * a pair: 12 bytes, 4 of UTF-8). */
static int json_string(struct json_parser *ps, char **ret)
{
    const char *s = ++ps->p;
    while (ps->p < ps->end && *ps->p != '"')
        ps->p += *ps->p == '\\' ? 2 : 1;
    if (ps->p >= ps->end)
        return -EBADMSG;
    const char *e = ps->p;
    char *out = malloc((size_t)(e - s) + 1), *o = out;
    if (!out)
        return -ENOMEM;
    for (const char *q = s; q < e; q++) {
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        q++;
        uint32_t cp, lo;
        switch (*q) {
        case 'n':
            *o++ = '\n';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'u':
            if (json_hex4(q + 1, e, &cp) < 0)
                goto bad;
            q += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && e - q > 6 && q[1] == '\\' && q[2] == 'u' &&
                json_hex4(q + 3, e, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                q += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd; /* a lone surrogate */
            }
            o = json_utf8(o, cp);
            break;
        default:
            *o++ = *q;
            break;
        }
    }
    *o = '\0';
    ps->p++;
    *ret = out;
    return 0;
bad:
    free(out);
    return -EBADMSG;
}

static int json_value(struct json_parser *ps, struct json **ret);

/* The items of an array or the members of an object, after its opener. */
static int json_items(struct json_parser *ps, struct json *j, char close)
{
    struct json **tail = &j->child;
    json_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        struct json *item = NULL;
        int r;
        json_ws(ps);
        if (close == '}') {
            if (ps->p >= ps->end || *ps->p != '"')
                return -EBADMSG;
            if (!(item = calloc(1, sizeof(*item))))
                return -ENOMEM;
            *tail = item;
            tail = &item->next;
            if ((r = json_string(ps, &item->str)) < 0)
                return r;
            json_ws(ps);
            if (ps->p >= ps->end || *ps->p++ != ':')
                return -EBADMSG;
            if ((r = json_value(ps, &item->value)) < 0)
                return r;
        } else {
            r = json_value(ps, &item);
            if (item) { /* linked even when incomplete: freed with the tree */
                *tail = item;
                tail = &item->next;
            }
            if (r < 0)
                return r;
        }
        json_ws(ps);
        if (ps->p >= ps->end)
            return -EBADMSG;
        char c = *ps->p++;
        if (c == close)
            return 0;
        if (c != ',')
            return -EBADMSG;
    }
}

static int json_value(struct json_parser *ps, struct json **ret)
{
    json_ws(ps);
    if (ps->p >= ps->end || ps->depth > 64)
        return -EBADMSG;
    struct json *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    *ret = j;
    char c = *ps->p;
    if (c == '"') {
        j->type = JSON_STRING;
        return json_string(ps, &j->str);
    }
    if (c == '{' || c == '[') {
        j->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        ps->p++;
        ps->depth++;
        int r = json_items(ps, j, c == '{' ? '}' : ']');
        ps->depth--;
        return r;
    }
    /* number, true, false, null */
    const char *s = ps->p;
    while (ps->p < ps->end &&
           ((*ps->p >= '0' && *ps->p <= '9') || (*ps->p >= 'a' && *ps->p <= 'z') || *ps->p == '+' ||
            *ps->p == '-' || *ps->p == '.' || *ps->p == 'E'))
        ps->p++;
    if (ps->p == s)
        return -EBADMSG;
    j->type = JSON_SCALAR;
    if (!(j->str = strndup(s, (size_t)(ps->p - s))))
        return -ENOMEM;
    return 0;
}

int json_parse(const char *text, size_t len, struct json **ret)
{
    struct json_parser ps = {text, text + len, 0};
    struct json *root = NULL;
    int r = json_value(&ps, &root);
    json_ws(&ps);
    if (r == 0 && ps.p != ps.end)
        r = -EBADMSG;
    if (r < 0) {
        json_free(root);
        return r;
    }
    *ret = root;
    return 0;
}

const struct json *json_get(const struct json *j, const char *key)
{
    if (!j || j->type != JSON_OBJECT)
        return NULL;
    for (const struct json *m = j->child; m; m = m->next)
        if (strcmp(m->str, key) == 0)
            return m->value;
    return NULL;
}

const char *json_str(const struct json *j)
{
    return j && j->type == JSON_STRING ? j->str : NULL;
}
