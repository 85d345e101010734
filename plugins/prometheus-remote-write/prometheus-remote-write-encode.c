/* SPDX-License-Identifier: MIT */
/* The write request of prometheus-remote-write: a buffer of points becomes
 * a WriteRequest (remote write 1.0: prometheus/prompb, the subset in proto/),
 * packed by protobuf-c and compressed by snappy in its block format.
 *
 *   points ──► (series, timestamp, value) samples, sorted by series then time
 *          ──► one sample per series and millisecond (merged)
 *          ──► TimeSeries: the gauge, and the counter of a delta series
 *
 * The protobuf-c structures, the packed bytes and the compressed body live
 * in arrays of the encoder that only grow: a request allocates nothing once
 * the arrays are large enough and its series exist. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "prometheus-remote-write.h"
#include "prometheus/remote.pb-c.h"

/* One point, as a sample of its series. */
struct prw_point_sample {
    uint32_t series;
    uint32_t seq; /* order in the buffer, to keep sorting stable */
    alumet_time_ns ts;
    double value;
};

/* One sample to send: the gauge's value, and the counter's for a delta. */
struct prw_merged {
    int64_t ms;
    double gauge;
    double counter;
};

/* The samples of one series in the request: merged[first .. first + n). */
struct prw_run {
    uint32_t series;
    size_t first, n;
};

struct prw_encoder {
    struct prw_table *table;
    struct prw_point_sample *points;
    size_t cap_points;
    struct prw_merged *merged;
    size_t cap_merged;
    struct prw_run *runs;
    size_t cap_runs;
    /* the protobuf-c structures of the request */
    Prometheus__TimeSeries *ts;
    Prometheus__TimeSeries **ts_ptr;
    size_t cap_ts, cap_ts_ptr;
    Prometheus__Label *labels;
    Prometheus__Label **label_ptr;
    size_t cap_labels, cap_label_ptr;
    Prometheus__Sample *samples;
    Prometheus__Sample **sample_ptr;
    size_t cap_samples, cap_sample_ptr;
    uint8_t *proto;
    size_t cap_proto;
    char *body;
    size_t cap_body;
};

/* Make room for n items of size size in *arr (capacity *cap). */
static int prw_reserve(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    void *p = realloc(*(void **)arr, c * size);
    if (!p)
        return -ENOMEM;
    *(void **)arr = p;
    *cap = c;
    return 0;
}

struct prw_encoder *prw_encoder_new(const struct prw_naming *naming)
{
    struct prw_encoder *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->table = prw_table_new(naming);
    if (!e->table) {
        free(e);
        return NULL;
    }
    return e;
}

void prw_encoder_free(struct prw_encoder *e)
{
    if (!e)
        return;
    prw_table_free(e->table);
    free(e->points);
    free(e->merged);
    free(e->runs);
    free(e->ts);
    free(e->ts_ptr);
    free(e->labels);
    free(e->label_ptr);
    free(e->samples);
    free(e->sample_ptr);
    free(e->proto);
    free(e->body);
    free(e);
}

struct prw_table *prw_encoder_table(struct prw_encoder *e)
{
    return e->table;
}

static int prw_sample_cmp(const void *a, const void *b)
{
    const struct prw_point_sample *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The points of buf as samples of their series, in e->points. */
static int prw_encoder_collect(struct prw_encoder *e, const struct alumet_buffer *buf,
                               const struct alumet_registry *reg, alumet_time_ns now, size_t *ret_n,
                               struct alumet_error *err)
{
    size_t n = alumet_buffer_len(buf);
    if (prw_reserve(&e->points, &e->cap_points, n, sizeof(*e->points)) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        int fi = prw_table_family(e->table, reg, p->metric, err);
        if (fi < 0)
            return fi;
        int si = prw_table_series(e->table, buf, p, (uint32_t)fi, now);
        if (si < 0)
            return alumet_error_set(err, si, "out of memory");
        e->points[i] = (struct prw_point_sample){
            .series = (uint32_t)si,
            .seq = (uint32_t)i,
            .ts = p->timestamp,
            .value = p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64,
        };
    }
    if (n > 1)
        qsort(e->points, n, sizeof(*e->points), prw_sample_cmp);
    *ret_n = n;
    return 0;
}

/* Merge the sorted samples into one per series and millisecond (e->merged,
 * e->runs), advancing the counters of the delta series. */
static int prw_encoder_merge(struct prw_encoder *e, size_t n, size_t *ret_runs)
{
    size_t runs = 0, merged = 0;

    if (prw_reserve(&e->merged, &e->cap_merged, n, sizeof(*e->merged)) < 0 ||
        prw_reserve(&e->runs, &e->cap_runs, n, sizeof(*e->runs)) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct prw_point_sample *p = &e->points[i];
        struct prw_series *s = prw_table_series_get(e->table, p->series);
        bool delta = prw_table_family_get(e->table, s->family)->counter != NULL;
        int64_t ms = p->ts / 1000000;
        bool new_run = i == 0 || e->points[i - 1].series != p->series;
        if (new_run)
            e->runs[runs++] = (struct prw_run){.series = p->series, .first = merged};
        struct prw_merged *m = &e->merged[merged - (merged > 0 ? 1 : 0)];
        if (new_run || m->ms != ms) {
            m = &e->merged[merged++];
            *m = (struct prw_merged){.ms = ms, .gauge = p->value};
            e->runs[runs - 1].n++;
        } else if (delta || e->points[i - 1].ts == p->ts) {
            m->gauge += p->value; /* a delta, or attributes left out of the labels */
        } else {
            m->gauge = p->value; /* a level: the last one of the millisecond */
        }
        if (delta)
            s->total += p->value;
        m->counter = s->total;
    }
    *ret_runs = runs;
    return 0;
}

/* Fill the labels of series s into e->labels[*li...], with __name__ = name,
 * and point ts at them. */
static void prw_encoder_labels(struct prw_encoder *e, const struct prw_series *s, const char *name,
                               Prometheus__TimeSeries *ts, size_t *li)
{
    const char *pair = s->labels;
    ts->labels = &e->label_ptr[*li];
    ts->n_labels = s->n_labels + 1;
    for (uint32_t k = 0; k <= s->n_labels; k++) {
        Prometheus__Label *l = &e->labels[*li];
        prometheus__label__init(l);
        if (k == s->name_pos) {
            l->name = (char *)"__name__";
            l->value = (char *)name;
        } else {
            l->name = (char *)pair;
            pair += strlen(pair) + 1;
            l->value = (char *)pair;
            pair += strlen(pair) + 1;
        }
        e->label_ptr[*li] = l;
        (*li)++;
    }
}

/* One TimeSeries of run r: the gauge's values, or the counter's. */
static void prw_encoder_series(struct prw_encoder *e, const struct prw_run *r, bool counter,
                               size_t *ti, size_t *li, size_t *si)
{
    struct prw_series *s = prw_table_series_get(e->table, r->series);
    const struct prw_family *f = prw_table_family_get(e->table, s->family);
    Prometheus__TimeSeries *ts = &e->ts[*ti];

    prometheus__time_series__init(ts);
    prw_encoder_labels(e, s, counter ? f->counter : f->gauge, ts, li);
    ts->samples = &e->sample_ptr[*si];
    ts->n_samples = r->n;
    for (size_t k = 0; k < r->n; k++) {
        const struct prw_merged *m = &e->merged[r->first + k];
        Prometheus__Sample *smp = &e->samples[*si];
        prometheus__sample__init(smp);
        smp->timestamp = m->ms;
        smp->value = counter ? m->counter : m->gauge;
        e->sample_ptr[(*si)++] = smp;
    }
    e->ts_ptr[(*ti)++] = ts;
}

int prw_encoder_encode(struct prw_encoder *e, const struct alumet_buffer *buf,
                       const struct alumet_registry *reg, alumet_time_ns now,
                       struct prw_request *ret, struct alumet_error *err)
{
    size_t n = 0, runs = 0, n_ts = 0, n_labels = 0, n_samples = 0;

    *ret = (struct prw_request){0};
    prw_table_expire(e->table, now);
    int r = prw_encoder_collect(e, buf, reg, now, &n, err);
    if (r < 0)
        return r;
    if (n == 0)
        return 0;
    if (prw_encoder_merge(e, n, &runs) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    for (size_t i = 0; i < runs; i++) {
        const struct prw_series *s = prw_table_series_get(e->table, e->runs[i].series);
        size_t copies = prw_table_family_get(e->table, s->family)->counter ? 2 : 1;
        n_ts += copies;
        n_labels += copies * (s->n_labels + 1);
        n_samples += copies * e->runs[i].n;
    }
    if (prw_reserve(&e->ts, &e->cap_ts, n_ts, sizeof(*e->ts)) < 0 ||
        prw_reserve(&e->ts_ptr, &e->cap_ts_ptr, n_ts, sizeof(*e->ts_ptr)) < 0 ||
        prw_reserve(&e->labels, &e->cap_labels, n_labels, sizeof(*e->labels)) < 0 ||
        prw_reserve(&e->label_ptr, &e->cap_label_ptr, n_labels, sizeof(*e->label_ptr)) < 0 ||
        prw_reserve(&e->samples, &e->cap_samples, n_samples, sizeof(*e->samples)) < 0 ||
        prw_reserve(&e->sample_ptr, &e->cap_sample_ptr, n_samples, sizeof(*e->sample_ptr)) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    size_t ti = 0, li = 0, si = 0;
    for (size_t i = 0; i < runs; i++) {
        const struct prw_series *s = prw_table_series_get(e->table, e->runs[i].series);
        prw_encoder_series(e, &e->runs[i], false, &ti, &li, &si);
        if (prw_table_family_get(e->table, s->family)->counter)
            prw_encoder_series(e, &e->runs[i], true, &ti, &li, &si);
    }
    Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
    req.timeseries = e->ts_ptr;
    req.n_timeseries = n_ts;

    size_t len = prometheus__write_request__get_packed_size(&req);
    size_t max = snappy_max_compressed_length(len);
    if (prw_reserve(&e->proto, &e->cap_proto, len, 1) < 0 ||
        prw_reserve(&e->body, &e->cap_body, max, 1) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    prometheus__write_request__pack(&req, e->proto);
    size_t body_len = max;
    if (snappy_compress((const char *)e->proto, len, e->body, &body_len) != SNAPPY_OK)
        return alumet_error_set(err, -ENOMEM, "snappy cannot compress %zu bytes", len);
    *ret = (struct prw_request){
        .proto = e->proto,
        .proto_len = len,
        .body = e->body,
        .body_len = body_len,
        .n_series = n_ts,
        .n_samples = n_samples,
    };
    return 0;
}
