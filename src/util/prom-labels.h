/* SPDX-License-Identifier: MIT */
/* The labels of one point, as prometheus-exporter and prometheus-remote-write
 * both build them: keys and values written into one reusable text, then
 * sorted by key (byte order, stable), of the labels of one key the last one
 * added kept. No allocation per point once the buffers have grown. */
#ifndef ALUMET_UTIL_PROM_LABELS_H
#define ALUMET_UTIL_PROM_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/measurement.h"
#include "util/text.h"

/* One label: offsets into the text. */
struct prom_label {
    size_t key, key_len;
    size_t value, value_len;
};

struct prom_labels {
    struct text text;
    struct prom_label *items;
    size_t n, cap;
};

/* Start a new point (the buffers are kept). */
void prom_labels_reset(struct prom_labels *l);
void prom_labels_free(struct prom_labels *l);

/* Add key = value (value_len bytes). 0 or -ENOMEM. */
int prom_labels_add(struct prom_labels *l, const char *key, const char *value, size_t value_len);

/* Add the four fixed labels of p (prom_fixed_labels: its resource and
 * consumer) and, with attributes, one per attribute (its key as
 * prom_attr_label_name makes it). 0 or -ENOMEM. */
int prom_labels_add_point(struct prom_labels *l, const struct alumet_buffer *buf,
                          const struct alumet_point *p, bool attributes);

/* Sort by key and keep, of the labels of one key, the last one added:
 * items[0..n) is then the label set. Returns n. */
size_t prom_labels_sort(struct prom_labels *l);

static inline const char *prom_label_key(const struct prom_labels *l, const struct prom_label *x)
{
    return l->text.s + x->key;
}

static inline const char *prom_label_value(const struct prom_labels *l, const struct prom_label *x)
{
    return l->text.s + x->value;
}

#endif
