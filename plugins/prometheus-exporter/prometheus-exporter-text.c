/* SPDX-License-Identifier: MIT */
/* Text of prometheus-exporter: a growable text buffer, escaping and names
 * (sanitized as upstream does); the sample values are written by
 * format_f64_dtoa (src/util/format.c). No locking, no logging. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus-exporter.h"

/* ---- text ---- */

int prometheus_text_reserve(struct prometheus_text *b, size_t more)
{
    if (more < SIZE_MAX / 4 && b->len + more < b->cap)
        return 0;
    if (more >= SIZE_MAX / 4 || b->len >= SIZE_MAX / 4)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= b->len + more)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s)
        return -ENOMEM;
    b->s = s;
    b->cap = cap;
    return 0;
}

int prometheus_text_add(struct prometheus_text *b, const char *s, size_t len)
{
    int r = prometheus_text_reserve(b, len);
    if (r < 0)
        return r;
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
    return 0;
}

int prometheus_text_adds(struct prometheus_text *b, const char *s)
{
    return prometheus_text_add(b, s, strlen(s));
}

int prometheus_text_add_escaped(struct prometheus_text *b, const char *s, size_t len, bool quote)
{
    int r = prometheus_text_reserve(b, 2 * len);
    if (r < 0)
        return r;
    char *p = b->s + b->len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' || (c == '"' && quote)) {
            *p++ = '\\';
            *p++ = c;
        } else if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else {
            *p++ = c;
        }
    }
    b->len = (size_t)(p - b->s);
    b->s[b->len] = '\0';
    return 0;
}

/* ---- names and values ---- */

size_t prometheus_sanitize(const char *s, size_t len, char *out)
{
    size_t n = 0;
    bool in_sequence = false;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (in_sequence && (c & 0xC0) == 0x80)
            continue; /* the rest of a UTF-8 sequence: one character, one '_' */
        in_sequence = c >= 0x80;
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool keep = letter || (n > 0 && c >= '0' && c <= '9');
        out[n++] = keep ? (char)c : '_';
    }
    out[n] = '\0';
    return n;
}
