/* SPDX-License-Identifier: MIT */
/* Text of prometheus-exporter: a growable text buffer, escaping, names
 * (sanitized as upstream does) and sample values (as upstream's dtoa prints
 * them). No locking, no logging. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus-exporter.h"
#include "util/format.h"

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

static size_t prometheus_copy_out(const char *s, size_t n, char *buf, size_t size)
{
    if (size > 0) {
        size_t c = n < size ? n : size - 1;
        memcpy(buf, s, c);
        buf[c] = '\0';
    }
    return n;
}

/* The exponent of dtoa: "-7", "21", "308". */
static size_t prometheus_put_exponent(char *p, int e)
{
    char tmp[8];
    size_t n = 0, len = 0;
    if (e < 0) {
        p[len++] = '-';
        e = -e;
    }
    do {
        tmp[n++] = (char)('0' + e % 10);
        e /= 10;
    } while (e > 0);
    while (n > 0)
        p[len++] = tmp[--n];
    return len;
}

size_t prometheus_format_value(double v, char *buf, size_t size)
{
    if (isnan(v))
        return prometheus_copy_out("NaN", 3, buf, size);
    if (isinf(v))
        return prometheus_copy_out(v > 0 ? "+Inf" : "-Inf", 4, buf, size);
    if (v == 0)
        return signbit(v) ? prometheus_copy_out("-0.0", 4, buf, size)
                          : prometheus_copy_out("0.0", 3, buf, size);

    /* The shortest round-trip digits, from the positional Display text:
     * "12.34", "0.0000123", "12300000" (format_f64 never uses exponents). */
    char text[FORMAT_F64_MAX];
    size_t tlen = format_f64(v, text, sizeof(text));
    char d[24];
    int nd = 0, seen = 0, point = -1, lead = 0, zeros = 0;
    for (size_t i = 0; i < tlen; i++) {
        char c = text[i];
        if (c == '.') {
            point = seen;
            continue;
        }
        if (c < '0' || c > '9')
            continue;
        seen++;
        if (c == '0') {
            if (nd == 0)
                lead++;
            else
                zeros++;
            continue;
        }
        while (zeros > 0 && nd < 20) {
            d[nd++] = '0';
            zeros--;
        }
        if (nd < 20)
            d[nd++] = c;
    }
    if (point < 0)
        point = seen;
    int kk = point - lead; /* 10^(kk-1) <= |v| < 10^kk */
    int k = kk - nd;       /* |v| = d x 10^k */

    /* dtoa's (RapidJSON's) layout */
    char out[48];
    size_t n = 0;
    if (v < 0)
        out[n++] = '-';
    if (k >= 0 && kk <= 21) {
        memcpy(out + n, d, (size_t)nd);
        n += (size_t)nd;
        memset(out + n, '0', (size_t)k);
        n += (size_t)k;
        memcpy(out + n, ".0", 2);
        n += 2;
    } else if (kk > 0 && kk <= 21) {
        memcpy(out + n, d, (size_t)kk);
        n += (size_t)kk;
        out[n++] = '.';
        memcpy(out + n, d + kk, (size_t)(nd - kk));
        n += (size_t)(nd - kk);
    } else if (kk > -6 && kk <= 0) {
        out[n++] = '0';
        out[n++] = '.';
        memset(out + n, '0', (size_t)-kk);
        n += (size_t)-kk;
        memcpy(out + n, d, (size_t)nd);
        n += (size_t)nd;
    } else {
        out[n++] = d[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, d + 1, (size_t)(nd - 1));
            n += (size_t)(nd - 1);
        }
        out[n++] = 'e';
        n += prometheus_put_exponent(out + n, kk - 1);
    }
    return prometheus_copy_out(out, n, buf, size);
}
