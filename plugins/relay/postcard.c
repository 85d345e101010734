/* SPDX-License-Identifier: MIT */
/* The postcard codec of the relay: see postcard.h. */
#include "postcard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pc_writer_done(struct pc_writer *w)
{
    free(w->data);
    *w = (struct pc_writer)PC_WRITER_INIT;
}

void pc_writer_clear(struct pc_writer *w)
{
    w->len = 0;
    w->oom = false;
}

uint8_t *pc_writer_reserve(struct pc_writer *w, size_t n)
{
    if (w->oom)
        return NULL;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->oom = true;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(w->data, cap);
        if (!d) {
            w->oom = true;
            return NULL;
        }
        w->data = d;
        w->cap = cap;
    }
    return w->data + w->len;
}

void pc_put_bytes(struct pc_writer *w, const void *bytes, size_t n)
{
    uint8_t *d = pc_writer_reserve(w, n);
    if (d && n) {
        memcpy(d, bytes, n);
        w->len += n;
    }
}

void pc_put_u8(struct pc_writer *w, uint8_t v)
{
    pc_put_bytes(w, &v, 1);
}

void pc_put_bool(struct pc_writer *w, bool v)
{
    pc_put_u8(w, v ? 1 : 0);
}

size_t pc_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void pc_put_varint(struct pc_writer *w, uint64_t v)
{
    uint8_t *d = pc_writer_reserve(w, 10);
    if (!d)
        return;
    size_t n = 0;
    while (v >= 0x80) {
        d[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    d[n++] = (uint8_t)v;
    w->len += n;
}

void pc_put_zigzag(struct pc_writer *w, int64_t v)
{
    pc_put_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void pc_put_f64(struct pc_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(bits >> (8 * i));
    pc_put_bytes(w, b, 8);
}

void pc_put_str(struct pc_writer *w, const char *s, size_t len)
{
    pc_put_varint(w, s ? len : 0);
    if (s)
        pc_put_bytes(w, s, len);
}

void pc_put_cstr(struct pc_writer *w, const char *s)
{
    pc_put_str(w, s, s ? strlen(s) : 0);
}

void pc_put_option(struct pc_writer *w, bool present)
{
    pc_put_u8(w, present ? 1 : 0);
}

int pc_writer_status(const struct pc_writer *w)
{
    return w->oom ? -ENOMEM : 0;
}

int pc_fail(struct pc_reader *r, const char *what)
{
    if (!r->err)
        r->err = what;
    return -EBADMSG;
}

int pc_get_u8(struct pc_reader *r, uint8_t *ret)
{
    if (pc_remaining(r) < 1)
        return pc_fail(r, "unexpected end of message");
    *ret = r->p[r->pos++];
    return 0;
}

int pc_get_bool(struct pc_reader *r, bool *ret)
{
    uint8_t b;
    int e = pc_get_u8(r, &b);
    if (e < 0)
        return e;
    if (b > 1)
        return pc_fail(r, "invalid bool (neither 0 nor 1)");
    *ret = b == 1;
    return 0;
}

static int pc_get_varint_max(struct pc_reader *r, unsigned max_bytes, unsigned bits, uint64_t *ret)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes; i++) {
        uint8_t b;
        int e = pc_get_u8(r, &b);
        if (e < 0)
            return e;
        uint64_t part = (uint64_t)(b & 0x7f);
        unsigned shift = 7 * i;
        /* the last group may only hold the bits left */
        if (shift + 7 > bits && (part >> (bits - shift)) != 0)
            return pc_fail(r, "varint out of range");
        v |= part << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return pc_fail(r, "varint too long");
}

int pc_get_varint(struct pc_reader *r, uint64_t *ret)
{
    return pc_get_varint_max(r, 10, 64, ret);
}

int pc_get_varint32(struct pc_reader *r, uint32_t *ret)
{
    uint64_t v = 0;
    int e = pc_get_varint_max(r, 5, 32, &v);
    if (e == 0)
        *ret = (uint32_t)v;
    return e;
}

int pc_get_zigzag(struct pc_reader *r, int64_t *ret)
{
    uint64_t v = 0;
    int e = pc_get_varint(r, &v);
    if (e == 0)
        *ret = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    return e;
}

int pc_get_f64(struct pc_reader *r, double *ret)
{
    const uint8_t *b;
    int e = pc_get_bytes(r, 8, &b);
    if (e < 0)
        return e;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)b[i] << (8 * i);
    memcpy(ret, &bits, sizeof(*ret));
    return 0;
}

int pc_get_bytes(struct pc_reader *r, size_t n, const uint8_t **ret)
{
    if (pc_remaining(r) < n)
        return pc_fail(r, "unexpected end of message");
    *ret = r->p + r->pos;
    r->pos += n;
    return 0;
}

/* Whether s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates). */
static bool pc_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

int pc_get_str(struct pc_reader *r, const char **ret, size_t *ret_len)
{
    uint64_t n;
    const uint8_t *b;
    int e = pc_get_varint(r, &n);
    if (e < 0)
        return e;
    if (n > pc_remaining(r))
        return pc_fail(r, "string longer than the message");
    e = pc_get_bytes(r, (size_t)n, &b);
    if (e < 0)
        return e;
    if (!pc_utf8_valid(b, (size_t)n))
        return pc_fail(r, "string is not valid UTF-8");
    *ret = (const char *)b;
    *ret_len = (size_t)n;
    return 0;
}

int pc_get_option(struct pc_reader *r, bool *ret_present)
{
    uint8_t b;
    int e = pc_get_u8(r, &b);
    if (e < 0)
        return e;
    if (b > 1)
        return pc_fail(r, "invalid option tag (neither 0 nor 1)");
    *ret_present = b == 1;
    return 0;
}

int pc_get_seq_len(struct pc_reader *r, size_t min_elem, size_t *ret)
{
    uint64_t n;
    int e = pc_get_varint(r, &n);
    if (e < 0)
        return e;
    if (min_elem && n > pc_remaining(r) / min_elem)
        return pc_fail(r, "sequence longer than the message");
    *ret = (size_t)n;
    return 0;
}
