/* SPDX-License-Identifier: MIT */
/* A text that grows on the heap, for the outputs and clients that build a
 * request body or a page piece by piece (influxdb line protocol, the
 * Prometheus exposition and remote-write names, JSON):
 *
 *     struct text t = {0};
 *     if (text_adds(&t, "name") < 0 || text_add(&t, value, len) < 0) ...
 *     send(t.s, t.len);
 *     text_done(&t);
 *
 * Once anything was added, s is NUL-terminated. No logging. */
#ifndef ALUMET_UTIL_TEXT_H
#define ALUMET_UTIL_TEXT_H

#include <stddef.h>

struct text {
    char *s;
    size_t len;
    size_t cap;
};

/* Make room for more bytes after len, and the NUL. 0 or -ENOMEM. */
int text_reserve(struct text *t, size_t more);
/* Append len bytes of s. 0 or -ENOMEM. */
int text_add(struct text *t, const char *s, size_t len);
/* Append the NUL-terminated s. */
int text_adds(struct text *t, const char *s);
/* Append one character. */
int text_addc(struct text *t, char c);
/* A writer of the snprintf kind: writes at most size bytes (NUL included)
 * of the text of obj into buf, returns the length of the whole text. */
typedef size_t (*text_writer)(const void *obj, char *buf, size_t size);
/* Append the text that fn writes for obj; *ret_len (may be NULL) is its
 * length. 0 or -ENOMEM. */
int text_add_written(struct text *t, text_writer fn, const void *obj, size_t *ret_len);
/* Writers of the texts of the library's objects (obj: a struct
 * alumet_resource, struct alumet_consumer, struct alumet_attr). */
size_t text_of_resource_id(const void *resource, char *buf, size_t size);
size_t text_of_consumer_id(const void *consumer, char *buf, size_t size);
size_t text_of_attr(const void *attr, char *buf, size_t size);
/* Release the text; t is empty again. */
void text_done(struct text *t);

#endif
