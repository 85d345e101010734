/* SPDX-License-Identifier: MIT */
/* Escaping of prometheus-exporter's text (the names are built by
 * src/util/prom-names.c, the sample values written by format_f64_dtoa in
 * src/util/format.c). No locking, no logging. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus-exporter.h"

int prometheus_text_add_escaped(struct text *b, const char *s, size_t len, bool quote)
{
    int r = text_reserve(b, 2 * len);
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
