/* SPDX-License-Identifier: MIT */
/* A small JSON reader: the whole text into a tree of strings, objects and
 * arrays, for the few fields an agent reads from an API answer (the
 * container engine's inspect). Numbers, true, false and null are kept as
 * their text (type JSON_SCALAR). Strings are decoded (\uXXXX and surrogate
 * pairs into UTF-8). Nesting is limited to 64 levels.
 *
 *     struct json *root;
 *     if (json_parse(text, len, &root) == 0) {
 *         const char *name = json_str(json_get(root, "Name"));
 *         ...
 *         json_free(root);
 *     }
 *
 * No logging. */
#ifndef ALUMET_UTIL_JSON_H
#define ALUMET_UTIL_JSON_H

#include <stddef.h>

enum json_type { JSON_SCALAR, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    char *str;          /* STRING: the decoded text; SCALAR: the text; a member: its key */
    struct json *child; /* ARRAY: first item; OBJECT: first member */
    struct json *next;  /* next item or member of the parent */
    struct json *value; /* a member of an OBJECT: its value */
};

/* Parse text[0..len) (one value, whitespace around it). 0, -EBADMSG when it
 * is not JSON, -ENOMEM. *ret is owned by the caller (json_free). */
int json_parse(const char *text, size_t len, struct json **ret);
void json_free(struct json *j);

/* Member key of object j, or NULL (j NULL or not an object). */
const struct json *json_get(const struct json *j, const char *key);
/* The text of a STRING, or NULL (j NULL or not a string). */
const char *json_str(const struct json *j);

#endif
