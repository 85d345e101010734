/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/measurement.h"

int text_reserve(struct text *t, size_t more)
{
    if (more >= SIZE_MAX / 8 || t->len >= SIZE_MAX / 8)
        return -ENOMEM;
    if (t->len + more < t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap <= t->len + more)
        cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s)
        return -ENOMEM;
    t->s = s;
    t->cap = cap;
    return 0;
}

int text_add(struct text *t, const char *s, size_t len)
{
    int r = text_reserve(t, len);
    if (r < 0)
        return r;
    memcpy(t->s + t->len, s, len);
    t->len += len;
    t->s[t->len] = '\0';
    return 0;
}

int text_adds(struct text *t, const char *s)
{
    return text_add(t, s, strlen(s));
}

int text_addc(struct text *t, char c)
{
    return text_add(t, &c, 1);
}

int text_add_written(struct text *t, text_writer fn, const void *obj, size_t *ret_len)
{
    if (text_reserve(t, 64) < 0)
        return -ENOMEM;
    size_t room = t->cap - t->len;
    size_t need = fn(obj, t->s + t->len, room);
    if (need >= room) {
        if (text_reserve(t, need) < 0)
            return -ENOMEM;
        fn(obj, t->s + t->len, t->cap - t->len);
    }
    t->len += need;
    if (ret_len)
        *ret_len = need;
    return 0;
}

size_t text_of_resource_id(const void *resource, char *buf, size_t size)
{
    return alumet_resource_id_text(resource, buf, size);
}

size_t text_of_consumer_id(const void *consumer, char *buf, size_t size)
{
    return alumet_consumer_id_text(consumer, buf, size);
}

size_t text_of_attr(const void *attr, char *buf, size_t size)
{
    return alumet_attr_text(attr, buf, size);
}

void text_done(struct text *t)
{
    free(t->s);
    *t = (struct text){0};
}
