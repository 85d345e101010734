/* SPDX-License-Identifier: MIT */
/* elasticsearch plugin, private: the bulk requests (elasticsearch-bulk.c):
 * the NDJSON of points, in the layout of upstream Alumet's elasticsearch
 * plugin 0.1.0, and the per-item outcome of a bulk response. */
#ifndef ALUMET_ELASTICSEARCH_H
#define ALUMET_ELASTICSEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "util/json.h"

/* Items (two NDJSON lines each: the action, the document) one after the
 * other in text; item i spans off[i] to off[i + 1] (or text.len). */
struct es_batch {
    struct text text;
    size_t *off;
    size_t n, cap;
};

void es_batch_clear(struct es_batch *b);
void es_batch_done(struct es_batch *b);
/* Append item i of from to b. 0 or -ENOMEM. */
int es_batch_copy_item(struct es_batch *b, const struct es_batch *from, size_t i);

/* How points become items. */
struct es_format {
    char *prefix;     /* index prefix, already lower case (es_index_name) */
    bool unit_suffix; /* metric_unit_as_index_suffix */
    /* the action line of each metric, by metric id, built once */
    char **actions;
    size_t n_actions;
};

void es_format_done(struct es_format *f);

/* A valid index name from text (borrowed) written into out (size bytes):
 * lower case (Elasticsearch refuses upper case), and '_' for the characters
 * it refuses (\ / * ? " < > | space , # :). */
void es_index_name(const char *text, char *out, size_t size);

/* Append the two lines of every point of buf to b:
 *   {"create":{"_index":"<prefix>-<metric>[-<unit>]"}}
 *   {"@timestamp":"<RFC 3339>","resource_kind":"…","resource_id":"…",
 *    "consumer_kind":"…","consumer_id":"…","value":<number>,<attributes>}
 * 0, -ENOMEM, or -EINVAL (a metric not in reg). */
int es_batch_add_buffer(struct es_batch *b, struct es_format *f, const struct alumet_buffer *buf,
                        const struct alumet_registry *reg);

/* The outcome of each item of a bulk response (text, len bytes) for n
 * items: statuses[i] receives the HTTP status of item i. The first failure
 * that may pass (es_status_is_transient) is described in why[0], the first
 * other one in why[1] ("<status> <type>: <reason>", size bytes each; ""
 * when none). Returns the number of failed items (0: all stored), or
 * -EINVAL when the response cannot be read (why[0] says why), -ENOMEM. */
int es_bulk_outcome(const char *text, size_t len, size_t n, int *statuses, char why[2][512]);

/* Whether an item status may pass by itself (429 and 5xx): the item is sent
 * again; any other failure is permanent (the item is dropped). */
bool es_status_is_transient(int status);

#endif
