/* SPDX-License-Identifier: MIT */
/* The rows of measurement buffers (csv_writer_write_buffer): the header
 * from the first buffer, then each point's row, from memos kept within the
 * buffer where they apply, else from cells through csv-writer.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/resource.h"
#include "csv-writer-impl.h"
#include "util/format.h"
#include "util/point-same.h"

/* ---- measurements ---- */

static int csv_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Header of a measurement buffer: the fixed columns, then the distinct
 * attribute keys of buf in byte order. */
static int csv_write_measurement_header(struct csv_writer *w, const struct alumet_buffer *buf)
{
    size_t len = alumet_buffer_len(buf);
    size_t nkeys = 0, cap = 0;
    const char **keys = NULL;
    const char **set = NULL; /* open addressing set of the keys */
    size_t set_mask = 0;
    int r = 0;

    for (size_t i = 0; i < len; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
        for (uint32_t j = 0; j < p->attr_count; j++) {
            const char *k = attrs[j].key;
            if (nkeys + 1 > cap) {
                /* grow both the list and the set (rehash) */
                size_t ncap = cap ? cap * 2 : 16;
                const char **nk = realloc(keys, (CSV_FIXED_COLUMNS + ncap) * sizeof(*nk));
                if (!nk) {
                    r = -ENOMEM;
                    goto out_free;
                }
                keys = nk;
                cap = ncap;
                const char **nset = calloc(4 * ncap, sizeof(*nset));
                if (!nset) {
                    r = -ENOMEM;
                    goto out_free;
                }
                free(set);
                set = nset;
                set_mask = 4 * ncap - 1;
                for (size_t q = 0; q < nkeys; q++) {
                    const char *kk = keys[CSV_FIXED_COLUMNS + q];
                    size_t h = csv_hash(kk) & set_mask;
                    while (set[h])
                        h = (h + 1) & set_mask;
                    set[h] = kk;
                }
            }
            size_t h = csv_hash(k) & set_mask;
            while (set[h] && strcmp(set[h], k) != 0)
                h = (h + 1) & set_mask;
            if (set[h])
                continue;
            set[h] = k;
            keys[CSV_FIXED_COLUMNS + nkeys++] = k;
        }
    }
    if (!keys) {
        keys = malloc(CSV_FIXED_COLUMNS * sizeof(*keys));
        if (!keys) {
            r = -ENOMEM;
            goto out_free;
        }
    }
    memcpy(keys, csv_fixed_columns, sizeof(csv_fixed_columns));
    qsort(keys + CSV_FIXED_COLUMNS, nkeys, sizeof(*keys), csv_cmp_str);
    r = csv_writer_write_header(w, keys, CSV_FIXED_COLUMNS + nkeys);
out_free:
    free(set);
    free(keys);
    return r;
}

/* Metric cell of metric id, cached (metrics may be registered late: the
 * cache grows as new ids show up). NULL with *ret_r set on failure. */
static const struct csv_name *csv_metric_cell(struct csv_writer *w,
                                              const struct alumet_registry *reg,
                                              alumet_metric_id id, int *ret_r)
{
    if (id < w->names_len && w->names[id].text)
        return &w->names[id];

    const struct alumet_metric *m = alumet_registry_get(reg, id);
    if (!m) {
        *ret_r = -EINVAL;
        return NULL;
    }
    if (id >= w->names_len) {
        size_t n = w->names_len ? w->names_len : 16;
        while (n <= id)
            n *= 2;
        struct csv_name *names = realloc(w->names, n * sizeof(*names));
        if (!names) {
            *ret_r = -ENOMEM;
            return NULL;
        }
        memset(names + w->names_len, 0, (n - w->names_len) * sizeof(*names));
        w->names = names;
        w->names_len = n;
    }
    size_t len = csv_metric_name(&w->opts, m, /* buf= */ NULL, /* size= */ 0);
    char *name = malloc(len + 1);
    char *text = malloc(2 * len + 3);
    if (!name || !text) {
        free(name);
        free(text);
        *ret_r = -ENOMEM;
        return NULL;
    }
    csv_metric_name(&w->opts, m, name, len + 1);
    w->names[id].len = csv_escape_table(w->special, name, len, text);
    w->names[id].text = text;
    free(name);
    return &w->names[id];
}

/* Id text of a resource or consumer into b. */
static const char *csv_id_text(struct csv_bytes *b, const void *rc, bool resource, size_t *ret_len)
{
    size_t n = resource ? alumet_resource_id_text(rc, b->s, b->cap)
                        : alumet_consumer_id_text(rc, b->s, b->cap);
    if (n >= b->cap) {
        if (csv_bytes_reserve(b, n + 1) < 0)
            return NULL;
        n = resource ? alumet_resource_id_text(rc, b->s, b->cap)
                     : alumet_consumer_id_text(rc, b->s, b->cap);
    }
    *ret_len = n;
    return b->s;
}

/* The row of point p through the cells and csv_emit_fast / csv_emit_row:
 * every case, the first row of a kind of row in a buffer. */
static int csv_write_point_cells(struct csv_writer *w, const struct alumet_point *p,
                                 const struct alumet_attr *attrs, const struct csv_name *name)
{
    size_t n = CSV_FIXED_COLUMNS + p->attr_count;
    int r = csv_reserve_cells(w, n);
    if (r < 0)
        return r;
    struct csv_cell *c = w->cells;

    c[0] = (struct csv_cell){.key = "metric", .raw = true, .val = name->text, .len = name->len};
    c[1] = (struct csv_cell){.key = "timestamp", .raw = true, .val = w->ts_text, .len = w->ts_len};
    size_t vlen = p->value_type == ALUMET_VALUE_F64
                      ? format_f64(p->value.f64, w->value_text, sizeof(w->value_text))
                      : format_u64(p->value.u64, w->value_text);
    c[2] =
        (struct csv_cell){.key = "value", .raw = w->numbers_raw, .val = w->value_text, .len = vlen};

    const char *kind = alumet_resource_kind_name(&p->resource);
    bool raw = p->resource.kind >= 0 && p->resource.kind < _ALUMET_RESOURCE_MAX &&
               w->resource_kind_raw[p->resource.kind];
    c[3] = (struct csv_cell){.key = "resource_kind",
                             .raw = raw,
                             .val = kind,
                             .len = raw ? w->resource_kind_len[p->resource.kind] : strlen(kind)};
    if (p->resource.kind == ALUMET_RESOURCE_LOCAL_MACHINE) {
        c[4] = (struct csv_cell){.key = "resource_id", .raw = true, .val = "", .len = 0};
    } else {
        size_t l;
        const char *id = csv_id_text(&w->resource_id, &p->resource, /* resource= */ true, &l);
        if (!id)
            return -ENOMEM;
        c[4] = (struct csv_cell){.key = "resource_id", .val = id, .len = l};
    }

    kind = alumet_consumer_kind_name(&p->consumer);
    raw = p->consumer.kind >= 0 && p->consumer.kind < _ALUMET_CONSUMER_MAX &&
          w->consumer_kind_raw[p->consumer.kind];
    c[5] = (struct csv_cell){.key = "consumer_kind",
                             .raw = raw,
                             .val = kind,
                             .len = raw ? w->consumer_kind_len[p->consumer.kind] : strlen(kind)};
    if (p->consumer.kind == ALUMET_CONSUMER_LOCAL_MACHINE) {
        c[6] = (struct csv_cell){.key = "consumer_id", .raw = true, .val = "", .len = 0};
    } else {
        size_t l;
        const char *id = csv_id_text(&w->consumer_id, &p->consumer, /* resource= */ false, &l);
        if (!id)
            return -ENOMEM;
        c[6] = (struct csv_cell){.key = "consumer_id", .val = id, .len = l};
    }
    for (int k = 0; k < CSV_FIXED_COLUMNS; k++)
        c[k].col = k;

    for (uint32_t j = 0; j < p->attr_count; j++) {
        const struct csv_key *k = csv_key_of(w, attrs[j].key);
        c[CSV_FIXED_COLUMNS + j] = (struct csv_cell){
            .key = attrs[j].key,
            .col = k->col,
            .klen = k->len,
            .attr = &attrs[j],
        };
    }

    r = csv_emit_fast(w, c, n);
    if (r > 0)
        r = csv_emit_row(w, c, n);
    return r;
}

/* ---- rows from memos ----
 *
 * A row of a measurement point is the metric cell (kept per metric), the
 * timestamp (kept while it is the same), the value, the resource and
 * consumer cells (kept while they are the same, rc_text) and the tail: the
 * attribute columns, __late_attributes and the newline (kept per set of
 * attributes in a small table, tails). The memos of resources, consumers
 * and attributes compare strings by address, valid while one buffer is
 * written (its strings are static or owned by it), and are dropped at each
 * new buffer, whose recycled memory may put other text at the same
 * addresses. A row is then one reservation, four copies and the number. */

static bool csv_tail_hit(const struct csv_writer *w, const struct csv_tail *t,
                         const struct alumet_attr *attrs, uint32_t n)
{
    if (t->gen != w->keys_gen || t->n != n)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (!point_same_attr(&attrs[i], &t->attrs[i]))
            return false;
    }
    return true;
}

/* The kept tail of these attributes (n ≥ 1): a hit, or the entry to fill
 * (*hit false). Open addressing over CSV_TAIL_PROBES entries from the
 * hash, so that the few sets of attributes of a buffer do not evict each
 * other; the tail last used is tried first. */
static struct csv_tail *csv_tail_find(struct csv_writer *w, const struct alumet_attr *attrs,
                                      uint32_t n, bool *hit)
{
    if (w->tail_last && csv_tail_hit(w, w->tail_last, attrs, n)) {
        *hit = true;
        return w->tail_last;
    }
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++) {
        const struct alumet_attr *a = &attrs[i];
        uint64_t v = 0;
        switch (a->type) {
        case ALUMET_ATTR_STR:
            v = (uintptr_t)a->v.str;
            break;
        case ALUMET_ATTR_U64:
            v = a->v.u64;
            break;
        case ALUMET_ATTR_F64:
            memcpy(&v, &a->v.f64, sizeof(v));
            break;
        case ALUMET_ATTR_BOOL:
            v = a->v.b;
            break;
        case ALUMET_ATTR_LIST_U64:
            break;
        }
        h = (h ^ (uintptr_t)a->key ^ ((uint64_t)a->type << 59) ^ v) * UINT64_C(0x9E3779B97F4A7C15);
    }
    size_t first = (size_t)(h >> 59); /* CSV_TAILS = 32 entries */
    struct csv_tail *free_entry = NULL;
    for (size_t k = 0; k < CSV_TAIL_PROBES; k++) {
        struct csv_tail *t = &w->tails[(first + k) % CSV_TAILS];
        if (csv_tail_hit(w, t, attrs, n)) {
            *hit = true;
            w->tail_last = t;
            return t;
        }
        if (!free_entry && t->gen != w->keys_gen)
            free_entry = t;
    }
    *hit = false;
    return free_entry ? free_entry : &w->tails[first];
}

/* Whether the tail of these attributes may be kept: none goes to a fixed
 * column (it would change the fixed cells), none is a list, few enough. */
static bool csv_tail_keepable(struct csv_writer *w, const struct alumet_attr *attrs, uint32_t n)
{
    if (n > CSV_TAIL_ATTRS)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (attrs[i].type == ALUMET_ATTR_LIST_U64)
            return false;
        int32_t col = csv_key_of(w, attrs[i].key)->col;
        if (col >= 0 && col < CSV_FIXED_COLUMNS)
            return false;
    }
    return true;
}

static bool csv_same_rc(const struct csv_writer *w, const struct alumet_point *p)
{
    return w->rc_valid && point_same_resource(&p->resource, &w->rc_resource) &&
           point_same_consumer(&p->consumer, &w->rc_consumer);
}

/* Whether the id of a resource or consumer of this kind is its number
 * (the rest: "" for the local machine, else a string). */
static bool csv_resource_id_is_num(enum alumet_resource_kind k)
{
    return k == ALUMET_RESOURCE_CPU_PACKAGE || k == ALUMET_RESOURCE_CPU_CORE ||
           k == ALUMET_RESOURCE_DRAM;
}

/* One kind cell and one id cell of the rc text at o, each followed by the
 * delimiter: a built-in kind whose name needs no quotes and a numeric or
 * empty id are copied and formatted in place, the rest escaped. Returns
 * the end, NULL on -ENOMEM. */
static char *csv_rc_pair(struct csv_writer *w, char *o, bool kind_raw, size_t kind_len,
                         const char *kind, int id_form, uint32_t num, struct csv_bytes *idb,
                         const void *rc, bool resource)
{
    const char d = w->opts.delimiter;
    if (kind_raw) {
        memcpy(o, kind, kind_len);
        o += kind_len;
    } else {
        o += csv_escape_table(w->special, kind, strlen(kind), o);
    }
    *o++ = d;
    if (id_form == 1 && w->numbers_raw) {
        o += format_u64(num, o);
    } else if (id_form != 0) {
        size_t l;
        const char *id = csv_id_text(idb, rc, resource, &l);
        if (!id)
            return NULL;
        o += csv_escape_table(w->special, id, l, o);
    }
    *o++ = d;
    return o;
}

/* The four resource and consumer cells of p, each followed by the
 * delimiter, into rc_text (the same text as csv_write_point_cells). */
static int csv_build_rc(struct csv_writer *w, const struct alumet_point *p)
{
    const struct alumet_resource *res = &p->resource;
    const struct alumet_consumer *con = &p->consumer;
    const char *rk = alumet_resource_kind_name(res);
    const char *ck = alumet_consumer_kind_name(con);
    bool rraw =
        res->kind >= 0 && res->kind < _ALUMET_RESOURCE_MAX && w->resource_kind_raw[res->kind];
    bool craw =
        con->kind >= 0 && con->kind < _ALUMET_CONSUMER_MAX && w->consumer_kind_raw[con->kind];
    /* id forms: 0 empty, 1 number, 2 text */
    int rform = res->kind == ALUMET_RESOURCE_LOCAL_MACHINE ? 0
                : csv_resource_id_is_num(res->kind)        ? 1
                                                           : 2;
    int cform = con->kind == ALUMET_CONSUMER_LOCAL_MACHINE ? 0
                : con->kind == ALUMET_CONSUMER_PROCESS     ? 1
                                                           : 2;
    /* the worst case of the texts: escaped kinds and ids */
    size_t need = 2 * (strlen(rk) + strlen(ck)) + 2 * FORMAT_U64_MAX + 12;
    if (rform == 2)
        need += 2 * (res->str ? strlen(res->str) : 0) + 2 * FORMAT_U64_MAX + 4;
    if (cform == 2)
        need += 2 * (con->str ? strlen(con->str) : 0);

    w->rc_valid = false;
    struct csv_bytes *b = &w->rc_text;
    if (csv_bytes_reserve(b, need) < 0)
        return -ENOMEM;
    char *o = csv_rc_pair(w, b->s, rraw, rraw ? w->resource_kind_len[res->kind] : 0, rk, rform,
                          res->num, &w->resource_id, res, /* resource= */ true);
    if (o)
        o = csv_rc_pair(w, o, craw, craw ? w->consumer_kind_len[con->kind] : 0, ck, cform, con->num,
                        &w->consumer_id, con, /* resource= */ false);
    if (!o)
        return -ENOMEM;
    b->len = (size_t)(o - b->s);
    w->rc_resource = *res;
    w->rc_consumer = *con;
    w->rc_valid = true;
    return 0;
}

/* Keep the tail of the row just written at row (the bytes after its fixed
 * cells, fixed_len long) for these attributes. Best effort: nothing is kept
 * without memory. */
static void csv_keep_tail(struct csv_tail *t, uint64_t gen, const struct alumet_attr *attrs,
                          uint32_t n, const char *tail, size_t len)
{
    t->gen = 0;
    if (csv_bytes_reserve(&t->text, len) < 0)
        return;
    memcpy(t->text.s, tail, len);
    t->text.len = len;
    memcpy(t->attrs, attrs, n * sizeof(*attrs));
    t->n = n;
    t->gen = gen;
}

/* The row of a point without attributes ends with the empty attribute
 * columns and the newline. */
static int csv_build_empty_tail(struct csv_writer *w)
{
    size_t n = w->ncols - CSV_FIXED_COLUMNS;
    if (csv_bytes_reserve(&w->empty_tail, n + 1) < 0)
        return -ENOMEM;
    memset(w->empty_tail.s, w->opts.delimiter, n);
    w->empty_tail.s[n] = '\n';
    w->empty_tail.len = n + 1;
    return 0;
}

int csv_writer_write_buffer(struct csv_writer *w, const struct alumet_buffer *buf,
                            const struct alumet_registry *reg, struct alumet_error *err)
{
    int r = 0;

    if (!w->has_header) {
        r = csv_write_measurement_header(w, buf);
        if (r < 0)
            return r;
    }
    if (!w->fixed_header)
        return -EINVAL; /* a header from csv_writer_write_header */
    if (csv_bytes_reserve(&w->resource_id, 64) < 0 || csv_bytes_reserve(&w->consumer_id, 64) < 0)
        return -ENOMEM;
    if (!w->empty_tail.len && csv_build_empty_tail(w) < 0)
        return -ENOMEM;

    w->keys_gen++; /* a new buffer: its strings may be at new addresses */
    w->rc_valid = false;

    /* all the rows of buf or none: taken back on any error */
    size_t mark = w->out_len, mark_rows = w->out_rows;
    size_t len = alumet_buffer_len(buf);
    const char d = w->opts.delimiter;
    for (size_t i = 0; i < len; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct csv_name *name = p->metric < w->names_len && w->names[p->metric].text
                                          ? &w->names[p->metric]
                                          : csv_metric_cell(w, reg, p->metric, &r);
        if (!name) {
            if (r == -EINVAL)
                alumet_error_set(err, -EINVAL, "unknown metric id %u in a buffer",
                                 (unsigned)p->metric);
            goto err_rollback;
        }
        if (!w->ts_valid || w->ts_last != p->timestamp) {
            char ts[FORMAT_RFC3339_MAX];
            size_t tl = format_rfc3339(p->timestamp, ts, sizeof(ts));
            w->ts_len = csv_escape_table(w->special, ts, tl, w->ts_text);
            w->ts_last = p->timestamp;
            w->ts_valid = true;
        }
        const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
        uint32_t na = p->attr_count;

        const struct csv_bytes *tail = NULL;
        struct csv_tail *t = NULL;
        if (w->numbers_raw) {
            if (na == 0) {
                tail = &w->empty_tail;
            } else {
                bool hit;
                t = csv_tail_find(w, attrs, na, &hit);
                if (hit)
                    tail = &t->text;
            }
            if (!csv_same_rc(w, p) && (r = csv_build_rc(w, p)) < 0)
                goto err_rollback;
        }
        if (!tail) {
            size_t row = w->out_len;
            r = csv_write_point_cells(w, p, attrs, name);
            if (r < 0)
                goto err_rollback;
            w->out_rows++;
            if (t && csv_tail_keepable(w, attrs, na)) {
                size_t fixed = name->len + w->ts_len + w->cells[2].len + w->rc_text.len + 3;
                csv_keep_tail(t, w->keys_gen, attrs, na, w->out + row + fixed,
                              w->out_len - row - fixed);
                w->tail_last = t;
            }
            continue;
        }

        char *o = csv_out_reserve(w, name->len + w->ts_len + FORMAT_F64_MAX + w->rc_text.len +
                                         tail->len + 3);
        if (!o) {
            r = w->failed;
            goto err_rollback;
        }
        memcpy(o, name->text, name->len);
        o += name->len;
        *o++ = d;
        memcpy(o, w->ts_text, w->ts_len);
        o += w->ts_len;
        *o++ = d;
        if (p->value_type == ALUMET_VALUE_F64)
            o += format_f64(p->value.f64, o, FORMAT_F64_MAX);
        else
            o += format_u64(p->value.u64, o);
        *o++ = d;
        memcpy(o, w->rc_text.s, w->rc_text.len);
        o += w->rc_text.len;
        memcpy(o, tail->s, tail->len);
        o += tail->len;
        w->out_len = (size_t)(o - w->out);
        w->out_rows++;
    }
    return csv_out_commit(w, w->opts.flush_each_buffer, mark, mark_rows);

err_rollback:
    csv_out_rollback(w, mark, mark_rows);
    return r;
}
