/* SPDX-License-Identifier: MIT */
/* The labels of one point (see prom-labels.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/prom-labels.h"
#include "util/prom-names.h"

void prom_labels_reset(struct prom_labels *l)
{
    l->text.len = 0;
    l->n = 0;
}

void prom_labels_free(struct prom_labels *l)
{
    free(l->text.s);
    free(l->items);
    *l = (struct prom_labels){.items = NULL};
}

/* A label whose key and value are already in the text. */
static int prom_labels_push(struct prom_labels *l, size_t key, size_t key_len, size_t value,
                            size_t value_len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct prom_label *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (struct prom_label){key, key_len, value, value_len};
    return 0;
}

int prom_labels_add(struct prom_labels *l, const char *key, const char *value, size_t value_len)
{
    size_t k = l->text.len, klen = strlen(key);
    int r = text_add(&l->text, key, klen);
    size_t v = l->text.len;
    if (r == 0)
        r = text_add(&l->text, value, value_len);
    return r < 0 ? r : prom_labels_push(l, k, klen, v, value_len);
}

/* key = what fn writes of obj. */
static int prom_labels_add_written(struct prom_labels *l, const char *key, text_writer fn,
                                   const void *obj)
{
    size_t k = l->text.len, klen = strlen(key), vn = 0;
    int r = text_add(&l->text, key, klen);
    size_t v = l->text.len;
    if (r == 0)
        r = text_add_written(&l->text, fn, obj, &vn);
    return r < 0 ? r : prom_labels_push(l, k, klen, v, vn);
}

static int prom_labels_add_attr(struct prom_labels *l, const struct alumet_attr *a)
{
    size_t klen = strlen(a->key);
    if (text_reserve(&l->text, klen + sizeof(PROM_ATTR_RENAME) + 1) < 0)
        return -ENOMEM;
    size_t k = l->text.len;
    size_t kn = prom_attr_label_name(a->key, klen, l->text.s + k);
    l->text.len += kn;
    size_t v = l->text.len, vn;
    int r = text_add_written(&l->text, text_of_attr, a, &vn);
    return r < 0 ? r : prom_labels_push(l, k, kn, v, vn);
}

int prom_labels_add_point(struct prom_labels *l, const struct alumet_buffer *buf,
                          const struct alumet_point *p, bool attributes)
{
    const char *rk = alumet_resource_kind_name(&p->resource);
    const char *ck = alumet_consumer_kind_name(&p->consumer);
    int r = prom_labels_add(l, prom_fixed_labels[0], rk, strlen(rk));
    if (r == 0)
        r = prom_labels_add_written(l, prom_fixed_labels[1], text_of_resource_id, &p->resource);
    if (r == 0)
        r = prom_labels_add(l, prom_fixed_labels[2], ck, strlen(ck));
    if (r == 0)
        r = prom_labels_add_written(l, prom_fixed_labels[3], text_of_consumer_id, &p->consumer);
    if (r == 0 && attributes) {
        const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
        for (uint32_t i = 0; r == 0 && i < p->attr_count; i++)
            r = prom_labels_add_attr(l, &attrs[i]);
    }
    return r;
}

static int prom_label_cmp(const struct prom_labels *l, const struct prom_label *a,
                          const struct prom_label *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(l->text.s + a->key, l->text.s + b->key, n);
    if (c)
        return c;
    return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

size_t prom_labels_sort(struct prom_labels *l)
{
    /* insertion sort: a handful of labels, and stable */
    for (size_t i = 1; i < l->n; i++) {
        struct prom_label x = l->items[i];
        size_t j = i;
        while (j > 0 && prom_label_cmp(l, &l->items[j - 1], &x) > 0) {
            l->items[j] = l->items[j - 1];
            j--;
        }
        l->items[j] = x;
    }
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++)
        if (i + 1 == l->n || prom_label_cmp(l, &l->items[i], &l->items[i + 1]) != 0)
            l->items[kept++] = l->items[i]; /* the last of its key */
    l->n = kept;
    return kept;
}
