/* SPDX-License-Identifier: MIT */
/* Text built piece by piece into a caller's fixed buffer, the snprintf way:
 * what does not fit is cut, and len counts the length that the full text
 * needs, so that a function writing a message can return it like snprintf:
 *
 *     struct strbuf sb = strbuf_of(buf, size);
 *     strbuf_printf(&sb, "cannot open '%s': ", path);
 *     strbuf_printf(&sb, "%s", why);
 *     return sb.len;
 *
 * And strbuf_newf, a heap string formatted like printf. No logging. */
#ifndef ALUMET_UTIL_STRBUF_H
#define ALUMET_UTIL_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *buf;   /* borrowed */
    size_t size; /* bytes of buf */
    size_t len;  /* length of the full text, which may exceed size - 1 */
};

/* An empty text in buf (size bytes, may be 0: buf is then never written). */
struct strbuf strbuf_of(char *buf, size_t size);

/* Append the text of fmt, cut to what fits, always NUL-terminated (when
 * size > 0). */
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A new string formatted like printf; caller frees. NULL on -ENOMEM. */
char *strbuf_newf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
