/* SPDX-License-Identifier: MIT */
/* toml-test decoder: TOML on stdin -> toml-test "tagged JSON" on stdout.
 * Exit 0 on a valid document; on an invalid one print the error on stderr and exit 1. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/toml.h"

static void put_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        switch (c) {
        case '"':
            fputs("\\\"", stdout);
            break;
        case '\\':
            fputs("\\\\", stdout);
            break;
        case '\b':
            fputs("\\b", stdout);
            break;
        case '\f':
            fputs("\\f", stdout);
            break;
        case '\n':
            fputs("\\n", stdout);
            break;
        case '\r':
            fputs("\\r", stdout);
            break;
        case '\t':
            fputs("\\t", stdout);
            break;
        default:
            if (c < 0x20 || c == 0x7F)
                printf("\\u%04x", c);
            else
                putchar(c);
        }
    }
    putchar('"');
}

static void put_tagged(const char *type, const char *value, size_t len)
{
    fputs("{\"type\": \"", stdout);
    fputs(type, stdout);
    fputs("\", \"value\": ", stdout);
    put_json_string(value, len);
    putchar('}');
}

/* Shortest "%.*g" text that reads back as the same double. */
static void format_float(double f, char *out, size_t size)
{
    if (isnan(f)) {
        snprintf(out, size, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(out, size, "%s", f < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, f);
        if (strtod(out, NULL) == f)
            return;
    }
}

/* toml-test writes fractional seconds with at least millisecond precision
 * ("17:45:56.6" -> "17:45:56.600"). */
static void put_datetime(const char *type, const char *text, size_t len)
{
    char out[128];
    const char *dot = memchr(text, '.', len);

    if (!dot || len + 3 >= sizeof(out)) {
        put_tagged(type, text, len);
        return;
    }
    size_t pre = (size_t)(dot - text) + 1, digits = 0;
    while (pre + digits < len && text[pre + digits] >= '0' && text[pre + digits] <= '9')
        digits++;
    size_t tail = pre + digits, o = tail;
    memcpy(out, text, o);
    for (; digits < 3; digits++)
        out[o++] = '0';
    memcpy(out + o, text + tail, len - tail);
    o += len - tail;
    put_tagged(type, out, o);
}

static void put_value(const struct toml_value *v)
{
    char num[64];

    switch (v->type) {
    case TOML_STRING:
        put_tagged("string", v->u.str.ptr, v->u.str.len);
        break;
    case TOML_INTEGER:
        snprintf(num, sizeof(num), "%" PRId64, v->u.i);
        put_tagged("integer", num, strlen(num));
        break;
    case TOML_FLOAT:
        format_float(v->u.f, num, sizeof(num));
        put_tagged("float", num, strlen(num));
        break;
    case TOML_BOOL:
        put_tagged("bool", v->u.b ? "true" : "false", v->u.b ? 4 : 5);
        break;
    case TOML_DATETIME:
        put_datetime("datetime", v->u.str.ptr, v->u.str.len);
        break;
    case TOML_DATETIME_LOCAL:
        put_datetime("datetime-local", v->u.str.ptr, v->u.str.len);
        break;
    case TOML_DATE_LOCAL:
        put_datetime("date-local", v->u.str.ptr, v->u.str.len);
        break;
    case TOML_TIME_LOCAL:
        put_datetime("time-local", v->u.str.ptr, v->u.str.len);
        break;
    case TOML_ARRAY:
        putchar('[');
        for (size_t k = 0; k < v->u.arr.len; k++) {
            if (k)
                fputs(", ", stdout);
            put_value(v->u.arr.items[k]);
        }
        putchar(']');
        break;
    case TOML_TABLE:
        putchar('{');
        for (size_t k = 0; k < v->u.tab.len; k++) {
            if (k)
                fputs(", ", stdout);
            put_json_string(v->u.tab.items[k].key, v->u.tab.items[k].key_len);
            fputs(": ", stdout);
            put_value(v->u.tab.items[k].val);
        }
        putchar('}');
        break;
    }
}

int main(void)
{
    size_t cap = 1 << 16, len = 0, n;
    char *text = malloc(cap);
    char err[512];

    if (!text) {
        fputs("toml-test-decoder: out of memory\n", stderr);
        return 2;
    }
    while ((n = fread(text + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            char *t = cap > SIZE_MAX / 2 ? NULL : realloc(text, cap * 2);
            if (!t) {
                free(text);
                fputs("toml-test-decoder: out of memory\n", stderr);
                return 2;
            }
            text = t;
            cap *= 2;
        }
    }
    if (ferror(stdin)) {
        free(text);
        fputs("toml-test-decoder: read error\n", stderr);
        return 2;
    }
    struct toml_value *root = toml_parse(text, len, "stdin", err, sizeof(err));
    free(text);
    if (!root) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    put_value(root);
    putchar('\n');
    toml_free(root);
    return fflush(stdout) == 0 ? 0 : 2;
}
