/* SPDX-License-Identifier: MIT */
/* JSON for the plugins that speak it over HTTP (elasticsearch,
 * kwollect-output, kwollect-input, the container engine client): a growable text with JSON values
 * appended (strings escaped, numbers the way serde_json prints them), and a
 * small parser into a tree, for the answers of servers. No logging. */
#ifndef ALUMET_UTIL_JSON_H
#define ALUMET_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

/* ---- writing ---- */

/* JSON values appended to a growable text (src/util/text.h). */
/* Append s (len bytes, or strlen when (size_t)-1) as a JSON string: quoted,
 * with '"', '\\' and control characters escaped; invalid UTF-8 bytes become
 * U+FFFD. */
int json_text_add_string(struct text *t, const char *s, size_t len);
/* Write s (len bytes) as the inside of a JSON string: '"' and '\\' escaped,
 * \n \r \t, \b \f when short_bf (else \u0008 \u000c), other control
 * characters as \u00XX, valid UTF-8 copied, each byte of an invalid UTF-8
 * sequence as \ufffd. out holds 6 * len + 1 bytes; NUL-terminated. Returns
 * the length written. */
size_t json_escape(const char *s, size_t len, char *out, bool short_bf);
int json_text_add_u64(struct text *t, uint64_t v);
/* serde_json's text of an f64 (format_f64_json): "1.0", "0.45", "1e21";
 * null for NaN and infinities. */
int json_text_add_f64(struct text *t, double v);
struct alumet_attr;
/* The value of an attribute: a number, true/false, a string, or an array of
 * u64 for a list. -EINVAL for an unknown type. */
int json_text_add_attr_value(struct text *t, const struct alumet_attr *a);

/* ---- parsing ---- */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

/* A value. Members of an object and items of an array are the child list. */
struct json {
    enum json_type type;
    char *key;   /* a member of an object: its name (unescaped), else NULL */
    char *str;   /* STRING: the unescaped text; NUMBER: its text as written */
    double num;  /* NUMBER */
    bool b;      /* BOOL */
    bool is_int; /* NUMBER written without fraction nor exponent */
    struct json *child;
    struct json *next;
};

/* Parse text (len bytes) into a tree; caller frees with json_free. Returns 0,
 * -ENOMEM, or -EINVAL with a message in errbuf (errsize bytes) naming the
 * byte offset ("expected ',' or '}' at byte 12"). Depth is limited to 64. */
int json_parse(const char *text, size_t len, struct json **ret, char *errbuf, size_t errsize);
void json_free(struct json *j);
/* Member key of object j (borrowed), NULL when absent or j is not an object. */
const struct json *json_get(const struct json *j, const char *key);
/* Number of items (array) or members (object). */
size_t json_len(const struct json *j);
/* The text of a STRING, or NULL (j NULL or not a string). */
const char *json_str(const struct json *j);

#endif
