/* SPDX-License-Identifier: MIT */
/* prometheus-remote-write plugin, private: the series table (names, labels
 * and counters of the series, prometheus-remote-write-series.c) and the
 * encoder of a write request (prometheus-remote-write-encode.c).
 *
 * Names and labels are those of the prometheus-exporter plugin (its
 * README.md), so that one dashboard reads both: a gauge
 * PREFIX+NAME+SUFFIX_UNIT per metric, and for a delta metric (an energy, or
 * one of counter_metrics) also a counter PREFIX+NAME+SUFFIX_cumulative_UNIT_total
 * whose value is the sum of the values of the series since it appeared. */
#ifndef ALUMET_PLUGIN_PROMETHEUS_REMOTE_WRITE_H
#define ALUMET_PLUGIN_PROMETHEUS_REMOTE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "alumet/time.h"
#include "util/prom-labels.h"
#include "util/prom-names.h"
#include "util/text.h"

/* What the names and labels are made of; every pointer is borrowed during
 * prw_encoder_new only (copied). */
struct prw_naming {
    const char *prefix;            /* before every metric name */
    const char *suffix;            /* after every metric name, before the unit */
    bool add_attributes_to_labels; /* attributes become labels */
    /* metrics whose values are per-interval deltas, besides the energies */
    const char *const *counter_metrics;
    size_t n_counter_metrics;
    /* labels added to every series: names[i] = values[i]; a label of the
     * point with the same name wins. Names are valid label names. */
    const char *const *extra_names;
    const char *const *extra_values;
    size_t n_extra;
    alumet_time_ns series_expiry; /* forget a counter not updated for this long; 0: never */
};

/* ---- the series table (prometheus-remote-write-series.c) ---- */

struct prw_family {
    char *gauge;   /* PREFIX+NAME+SUFFIX[_UNIT] */
    char *counter; /* PREFIX+NAME+SUFFIX_cumulative[_UNIT]_total, NULL: not a delta */
};

/* One label set (family and labels). labels holds n_labels "name\0value\0"
 * pairs, sorted by name, without empty values and without __name__, which
 * goes at index name_pos. */
struct prw_series {
    char *labels; /* NULL: a free slot */
    size_t labels_len;
    uint64_t hash;
    uint32_t family;
    uint32_t n_labels;
    uint32_t name_pos;
    uint32_t next;          /* bucket chain or free list: index + 1, 0 = none */
    alumet_time_ns updated; /* monotonic time of the last write */
    double total;           /* sum of the values so far (delta families) */
};

struct prw_table;

/* New table for naming (copied). NULL on -ENOMEM. */
struct prw_table *prw_table_new(const struct prw_naming *naming);
/* Free t (NULL-safe). */
void prw_table_free(struct prw_table *t);

/* Index of the family of metric id (created when first seen), or a negative
 * errno with err (-EINVAL: unknown metric). */
int prw_table_family(struct prw_table *t, const struct alumet_registry *reg, alumet_metric_id id,
                     struct alumet_error *err);
/* Index of the series of point p of buf in family fi (created when new),
 * dated now; or -ENOMEM. */
int prw_table_series(struct prw_table *t, const struct alumet_buffer *buf,
                     const struct alumet_point *p, uint32_t fi, alumet_time_ns now);
/* Remove the series not updated since now - series_expiry (at most every
 * quarter of it). */
void prw_table_expire(struct prw_table *t, alumet_time_ns now);

/* Borrowed entries (valid until the next call that adds to t). */
const struct prw_family *prw_table_family_get(const struct prw_table *t, uint32_t fi);
struct prw_series *prw_table_series_get(struct prw_table *t, uint32_t si);
/* Number of live series. */
size_t prw_table_series_count(const struct prw_table *t);

/* ---- the write request (prometheus-remote-write-encode.c) ---- */

struct prw_encoder;

/* New encoder with its table for naming (copied). NULL on -ENOMEM. */
struct prw_encoder *prw_encoder_new(const struct prw_naming *naming);
/* Free e (NULL-safe). */
void prw_encoder_free(struct prw_encoder *e);

/* What prw_encoder_encode made; the pointers are borrowed from the encoder
 * until its next call. */
struct prw_request {
    const uint8_t *proto; /* the WriteRequest, protobuf */
    size_t proto_len;
    const char *body; /* proto compressed by snappy (block format): what is sent */
    size_t body_len;
    size_t n_series;  /* time series in the request */
    size_t n_samples; /* samples in the request */
};

/* Encode every point of buf (metrics looked up in reg, borrowed) as a
 * WriteRequest: series with their labels sorted by name, __name__ among
 * them, their samples in timestamp order (ms). Points of one series with the
 * same millisecond are one sample: summed when the series is a delta or the
 * points have the same timestamp (attributes left out of the labels), else
 * the last one. The counters of the delta series advance by the values of
 * buf (in timestamp order). now: a monotonic time for the expiry of series.
 * 0 (*ret filled; n_series 0 when buf had no point), -ENOMEM, or -EINVAL
 * with err (a point of an unknown metric). */
int prw_encoder_encode(struct prw_encoder *e, const struct alumet_buffer *buf,
                       const struct alumet_registry *reg, alumet_time_ns now,
                       struct prw_request *ret, struct alumet_error *err);

/* The series table of e (borrowed), for the tests. */
struct prw_table *prw_encoder_table(struct prw_encoder *e);

#endif
