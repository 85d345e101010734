/* SPDX-License-Identifier: MIT */
/* CSV text of the csv plugin, byte-compatible with upstream Alumet's csv
 * output (plugins/csv/src/csv.rs and output.rs):
 *
 *   metric;timestamp;value;resource_kind;resource_id;consumer_kind;consumer_id;attr;__late_attributes
 *   rapl_consumed_energy_J;2025-04-25T15:08:53.99636522Z;12.5;cpu_package;0;local_machine;;x;k=v
 *
 * Upstream puts every cell of a point into a map (the seven fixed cells, then
 * the attributes, so an attribute named like a fixed column replaces it, and
 * the last of a repeated key wins), takes out one entry per header column
 * and joins what is left into __late_attributes. The same rules are followed
 * here without a map or an allocation per point: cells are matched to header
 * columns through a small hash table built with the header. */
#include "csv-writer-impl.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/resource.h"
#include "util/format.h"

const char *const csv_fixed_columns[CSV_FIXED_COLUMNS] = {
    "metric", "timestamp", "value", "resource_kind", "resource_id", "consumer_kind", "consumer_id",
};

/* ---- small helpers ---- */

int csv_bytes_reserve(struct csv_bytes *b, size_t need)
{
    if (b->cap >= need)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s)
        return -ENOMEM;
    b->s = s;
    b->cap = cap;
    return 0;
}

static int csv_bytes_append(struct csv_bytes *b, const char *s, size_t len)
{
    int r = csv_bytes_reserve(b, b->len + len + 1);
    if (r < 0)
        return r;
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
    return 0;
}

void csv_bytes_done(struct csv_bytes *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

uint32_t csv_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

size_t csv_escape_table(const bool *special, const char *s, size_t len, char *out)
{
    size_t i = 0;
    while (i < len && !special[(unsigned char)s[i]])
        i++;
    if (i == len) {
        memcpy(out, s, len);
        return len;
    }
    char *p = out;
    *p++ = '"';
    memcpy(p, s, i);
    p += i;
    for (; i < len; i++) {
        if (s[i] == '"')
            *p++ = '"';
        *p++ = s[i];
    }
    *p++ = '"';
    return (size_t)(p - out);
}

size_t csv_escape(char delimiter, const char *s, size_t len, char *out)
{
    bool special[256] = {false};
    special[(unsigned char)delimiter] = true;
    special['"'] = special['\n'] = special['\r'] = true;
    size_t n = csv_escape_table(special, s, len, out);
    out[n] = '\0';
    return n;
}

size_t csv_metric_name(const struct csv_writer_opts *opts, const struct alumet_metric *m, char *buf,
                       size_t size)
{
    char unit[256];
    const char *u = "";

    if (opts->append_unit) {
        u = opts->use_unit_display_name ? m->unit_display : m->unit_unique;
        if (!u) {
            if (opts->use_unit_display_name)
                alumet_unit_display_name(&m->unit, unit, sizeof(unit));
            else
                alumet_unit_unique_name(&m->unit, unit, sizeof(unit));
            u = unit;
        }
    }
    int n = *u ? snprintf(buf, size, "%s_%s", m->name, u) : snprintf(buf, size, "%s", m->name);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- the write buffer ---- */

int csv_writer_flush(struct csv_writer *w)
{
    if (w->out_len == 0)
        return 0;
    /* the sink writes all or nothing: on failure the text stays for the next try */
    int r = w->sink(w->sink_data, w->out, w->out_len);
    if (r < 0)
        return r;
    /* grown for a large buffer (a burst of processes) and now 8 times more
     * than that text: back to its usual size */
    if (w->out_cap > w->opts.buffer_size && w->out_cap / 8 > w->out_len) {
        size_t cap = w->out_len * 2 > w->opts.buffer_size ? w->out_len * 2 : w->opts.buffer_size;
        char *o = realloc(w->out, cap);
        if (o) {
            w->out = o;
            w->out_cap = cap;
        }
    }
    w->out_len = 0;
    w->out_rows = 0;
    return 0;
}

size_t csv_writer_pending_rows(const struct csv_writer *w)
{
    return w->out_rows;
}

/* Room for need more bytes: the buffer grows (a row is never split between
 * two sink calls). NULL on -ENOMEM (also in w->failed). */
char *csv_out_reserve_slow(struct csv_writer *w, size_t need)
{
    size_t cap = w->out_cap ? w->out_cap : 4096;
    while (cap - w->out_len < need) {
        if (cap > SIZE_MAX / 2) {
            w->failed = -ENOMEM;
            return NULL;
        }
        cap *= 2;
    }
    char *o = realloc(w->out, cap);
    if (!o) {
        w->failed = -ENOMEM;
        return NULL;
    }
    w->out = o;
    w->out_cap = cap;
    return w->out + w->out_len;
}

/* Take back what was appended since mark (a failed buffer or row). */
void csv_out_rollback(struct csv_writer *w, size_t mark, size_t mark_rows)
{
    w->out_len = mark;
    w->out_rows = mark_rows;
    w->failed = 0;
}

/* After whole rows: hand the text to the sink when it is time. On a sink
 * error, the rows since mark are taken back. */
int csv_out_commit(struct csv_writer *w, bool flush, size_t mark, size_t mark_rows)
{
    if (!flush && w->out_len < w->opts.buffer_size)
        return 0;
    int r = csv_writer_flush(w);
    if (r < 0)
        csv_out_rollback(w, mark, mark_rows);
    return r;
}

/* Append one escaped cell then the byte `after` (delimiter or newline). */
static int csv_put_cell(struct csv_writer *w, const char *s, size_t len, char after)
{
    char *p = csv_out_reserve(w, 2 * len + 3);
    if (!p)
        return w->failed;
    size_t n = csv_escape_table(w->special, s, len, p);
    p[n] = after;
    w->out_len += n + 1;
    return 0;
}

/* Append a cell that needs no escaping, then the byte `after`. */
static int csv_put_raw_cell(struct csv_writer *w, const char *s, size_t len, char after)
{
    char *p = csv_out_reserve(w, len + 1);
    if (!p)
        return w->failed;
    memcpy(p, s, len);
    p[len] = after;
    w->out_len += len + 1;
    return 0;
}

static int csv_put_raw(struct csv_writer *w, const char *s, size_t len)
{
    char *p = csv_out_reserve(w, len);
    if (!p)
        return w->failed;
    memcpy(p, s, len);
    w->out_len += len;
    return 0;
}

static bool csv_needs_escape(const struct csv_writer *w, const char *s)
{
    for (; *s; s++)
        if (w->special[(unsigned char)*s])
            return true;
    return false;
}

/* ---- lifetime ---- */

static void csv_header_done(struct csv_writer *w)
{
    for (size_t i = 0; i < w->ncols; i++)
        free(w->columns[i]);
    free(w->columns);
    free(w->col_hash);
    free(w->slot);
    w->columns = NULL;
    w->col_hash = NULL;
    w->slot = NULL;
    w->ncols = 0;
}

struct csv_writer *csv_writer_new(const struct csv_writer_opts *opts, csv_sink_fn sink,
                                  void *sink_data)
{
    struct csv_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->opts = *opts;
    if (!w->opts.buffer_size)
        w->opts.buffer_size = CSV_WRITER_BUFFER_SIZE;
    w->sink = sink;
    w->sink_data = sink_data;
    w->special[(unsigned char)opts->delimiter] = true;
    w->special['"'] = w->special['\n'] = w->special['\r'] = true;
    /* what numbers, timestamps and the built-in kind names are made of */
    const char *number_chars = "0123456789.-+eEinfNaTZ:";
    w->numbers_raw = !strchr(number_chars, opts->delimiter);
    for (int k = 0; k < _ALUMET_RESOURCE_MAX; k++) {
        struct alumet_resource r = {.kind = (enum alumet_resource_kind)k};
        const char *name = alumet_resource_kind_name(&r);
        w->resource_kind_raw[k] = k != ALUMET_RESOURCE_CUSTOM && !csv_needs_escape(w, name);
        w->resource_kind_len[k] = strlen(name);
    }
    for (int k = 0; k < _ALUMET_CONSUMER_MAX; k++) {
        struct alumet_consumer c = {.kind = (enum alumet_consumer_kind)k};
        const char *name = alumet_consumer_kind_name(&c);
        w->consumer_kind_raw[k] = k != ALUMET_CONSUMER_CUSTOM && !csv_needs_escape(w, name);
        w->consumer_kind_len[k] = strlen(name);
    }
    w->out_cap = w->opts.buffer_size;
    w->out = malloc(w->out_cap);
    if (!w->out)
        return csv_writer_free(w);
    return w;
}

struct csv_writer *csv_writer_free(struct csv_writer *w)
{
    if (!w)
        return NULL;
    csv_header_done(w);
    free(w->cells);
    free(w->late);
    csv_bytes_done(&w->late_text);
    csv_bytes_done(&w->list_text);
    csv_bytes_done(&w->resource_id);
    csv_bytes_done(&w->consumer_id);
    csv_bytes_done(&w->rc_text);
    csv_bytes_done(&w->empty_tail);
    for (size_t i = 0; i < CSV_TAILS; i++)
        csv_bytes_done(&w->tails[i].text);
    for (size_t i = 0; i < w->names_len; i++)
        free(w->names[i].text);
    free(w->names);
    free(w->out);
    free(w);
    return NULL;
}

bool csv_writer_has_header(const struct csv_writer *w)
{
    return w->has_header;
}

/* ---- header ---- */

static int32_t csv_lookup_column(const struct csv_writer *w, const char *key)
{
    for (size_t h = csv_hash(key) & w->hash_mask;; h = (h + 1) & w->hash_mask) {
        int32_t e = w->col_hash[h];
        if (e == 0)
            return CSV_COL_LATE;
        if (strcmp(w->columns[e - 1], key) == 0)
            return e - 1;
    }
}

/* Column (or CSV_COL_LATE) and length of attribute key, from the cache of
 * the buffer being written (see struct csv_key). */
const struct csv_key *csv_key_of(struct csv_writer *w, const char *key)
{
    uintptr_t a = (uintptr_t)key;
    struct csv_key *e =
        &w->keys[(((uint64_t)a >> 3) * UINT64_C(0x9E3779B97F4A7C15)) >> 58]; /* 64 entries */
    if (e->ptr != key || e->gen != w->keys_gen) {
        e->ptr = key;
        e->gen = w->keys_gen;
        e->col = csv_lookup_column(w, key);
        e->len = strlen(key);
    }
    return e;
}

int csv_writer_write_header(struct csv_writer *w, const char *const *columns, size_t n)
{
    if (w->has_header)
        return -EALREADY;
    if (n > INT32_MAX / 4)
        return -E2BIG;

    size_t hcap = 8;
    while (hcap < 2 * n + 2)
        hcap *= 2;
    w->columns = calloc(n ? n : 1, sizeof(*w->columns));
    w->slot = calloc(n ? n : 1, sizeof(*w->slot));
    w->col_hash = calloc(hcap, sizeof(*w->col_hash));
    if (!w->columns || !w->slot || !w->col_hash)
        goto err_nomem;
    w->hash_mask = hcap - 1;
    for (size_t i = 0; i < n; i++) {
        w->columns[i] = strdup(columns[i]);
        if (!w->columns[i])
            goto err_nomem;
        w->ncols = i + 1;
        /* a repeated column name keeps its first column (upstream takes the
         * value out of its map there, the later one stays empty) */
        if (csv_lookup_column(w, columns[i]) != CSV_COL_LATE)
            continue;
        size_t h = csv_hash(columns[i]) & w->hash_mask;
        while (w->col_hash[h])
            h = (h + 1) & w->hash_mask;
        w->col_hash[h] = (int32_t)i + 1;
    }
    w->fixed_header = n >= CSV_FIXED_COLUMNS;
    for (size_t i = 0; i < CSV_FIXED_COLUMNS && w->fixed_header; i++)
        w->fixed_header = strcmp(columns[i], csv_fixed_columns[i]) == 0;
    w->has_header = true;

    /* column names are written as they are, like upstream */
    size_t mark = w->out_len;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        r = csv_put_raw(w, columns[i], strlen(columns[i]));
        if (r == 0)
            r = csv_put_raw(w, &w->opts.delimiter, 1);
    }
    if (r == 0)
        r = csv_put_raw(w, "__late_attributes\n", 18);
    if (r < 0) {
        csv_out_rollback(w, mark, w->out_rows);
        csv_header_done(w);
        w->has_header = false;
    }
    return r;

err_nomem:
    csv_header_done(w);
    return -ENOMEM;
}

/* ---- rows ---- */

int csv_reserve_cells(struct csv_writer *w, size_t n)
{
    if (n <= w->cells_cap)
        return 0;
    size_t cap = w->cells_cap ? w->cells_cap : 16;
    while (cap < n)
        cap *= 2;
    struct csv_cell *c = realloc(w->cells, cap * sizeof(*c));
    if (!c)
        return -ENOMEM;
    w->cells = c;
    int32_t *l = realloc(w->late, cap * sizeof(*l));
    if (!l)
        return -ENOMEM;
    w->late = l;
    w->cells_cap = w->late_cap = cap;
    return 0;
}

/* Text of an attribute value, as upstream's Display prints it. Borrowed from
 * the attribute or the writer, valid until the next call. NULL on -ENOMEM. */
static const char *csv_attr_text(struct csv_writer *w, const struct alumet_attr *a, size_t *ret_len)
{
    switch (a->type) {
    case ALUMET_ATTR_F64:
        *ret_len = format_f64(a->v.f64, w->attr_text, sizeof(w->attr_text));
        return w->attr_text;
    case ALUMET_ATTR_U64:
        *ret_len = format_u64(a->v.u64, w->attr_text);
        return w->attr_text;
    case ALUMET_ATTR_BOOL:
        *ret_len = a->v.b ? 4 : 5;
        return a->v.b ? "true" : "false";
    case ALUMET_ATTR_STR:
        *ret_len = a->v.str ? strlen(a->v.str) : 0;
        return a->v.str ? a->v.str : "";
    case ALUMET_ATTR_LIST_U64: {
        /* "[1, 2, 3]" (upstream prints "[12, 3, ]", a bug not reproduced) */
        struct csv_bytes *b = &w->list_text;
        char num[FORMAT_U64_MAX];
        b->len = 0;
        if (csv_bytes_append(b, "[", 1) < 0)
            return NULL;
        for (size_t i = 0; i < a->v.list.len; i++) {
            if (i && csv_bytes_append(b, ", ", 2) < 0)
                return NULL;
            size_t n = format_u64(a->v.list.items[i], num);
            if (csv_bytes_append(b, num, n) < 0)
                return NULL;
        }
        if (csv_bytes_append(b, "]", 1) < 0)
            return NULL;
        *ret_len = b->len;
        return b->s;
    }
    }
    *ret_len = 0;
    return "";
}

static const char *csv_cell_text(struct csv_writer *w, const struct csv_cell *c, size_t *ret_len)
{
    if (!c->attr) {
        *ret_len = c->len;
        return c->val;
    }
    return csv_attr_text(w, c->attr, ret_len);
}

/* Build "k=v,k=v" (values with the late delimiter escaped as \<delim>) into
 * w->late_text. */
static int csv_build_late(struct csv_writer *w, const struct csv_cell *cells, size_t nlate)
{
    struct csv_bytes *b = &w->late_text;
    char ld = w->opts.late_delimiter;

    b->len = 0;
    for (size_t i = 0; i < nlate; i++) {
        const struct csv_cell *c = &cells[w->late[i]];
        size_t len;
        const char *v = csv_cell_text(w, c, &len);
        if (!v)
            return -ENOMEM;
        size_t klen = c->klen ? c->klen : strlen(c->key);
        /* worst case: every byte of the value escaped, '=' and delimiter */
        if (csv_bytes_reserve(b, b->len + klen + 2 * len + 3) < 0)
            return -ENOMEM;
        if (i)
            b->s[b->len++] = ld;
        memcpy(b->s + b->len, c->key, klen);
        b->len += klen;
        b->s[b->len++] = '=';
        for (size_t j = 0; j < len; j++) {
            if (v[j] == ld)
                b->s[b->len++] = '\\';
            b->s[b->len++] = v[j];
        }
    }
    return 0;
}

static int csv_put_cell_of(struct csv_writer *w, const struct csv_cell *c, char after)
{
    if (c->raw)
        return csv_put_raw_cell(w, c->val, c->len, after);
    size_t len;
    const char *v = csv_cell_text(w, c, &len);
    return v ? csv_put_cell(w, v, len, after) : -ENOMEM;
}

/* The row of a measurement point in the common case, written in one
 * stretch: every attribute goes to its own header column or, for one of
 * them at most, to __late_attributes, and none is a list. The same text as
 * csv_emit_row. Returns 1 (nothing written) when the point is not such a
 * row, else 0 or -ENOMEM. */
int csv_emit_fast(struct csv_writer *w, struct csv_cell *cells, size_t n)
{
    size_t ne = w->ncols - CSV_FIXED_COLUMNS;
    int32_t *slot = w->slot + CSV_FIXED_COLUMNS;
    int32_t late = -1;
    size_t bound = w->ncols + 1;

    memset(slot, 0xff, ne * sizeof(*slot));
    for (size_t i = 0; i < CSV_FIXED_COLUMNS; i++)
        bound += cells[i].raw ? cells[i].len : 2 * cells[i].len + 2;
    for (size_t i = CSV_FIXED_COLUMNS; i < n; i++) {
        struct csv_cell *c = &cells[i];
        const struct alumet_attr *a = c->attr;
        size_t vb = FORMAT_F64_MAX;
        if (a->type == ALUMET_ATTR_STR) {
            c->val = a->v.str ? a->v.str : "";
            vb = c->len = strlen(c->val);
        } else if (a->type == ALUMET_ATTR_LIST_U64) {
            return 1;
        }
        if (c->col >= CSV_FIXED_COLUMNS) {
            if (slot[c->col - CSV_FIXED_COLUMNS] >= 0)
                return 1; /* a repeated key */
            slot[c->col - CSV_FIXED_COLUMNS] = (int32_t)i;
            bound += 2 * vb + 2;
        } else if (c->col == CSV_COL_LATE && late < 0) {
            late = (int32_t)i;
            bound += 2 * (c->klen + 1 + 2 * vb) + 3;
        } else {
            return 1;
        }
    }
    char *p = csv_out_reserve(w, bound);
    if (!p)
        return w->failed;
    const char d = w->opts.delimiter;
    for (size_t i = 0; i < CSV_FIXED_COLUMNS; i++) {
        const struct csv_cell *c = &cells[i];
        if (c->raw) {
            memcpy(p, c->val, c->len);
            p += c->len;
        } else {
            p += csv_escape_table(w->special, c->val, c->len, p);
        }
        *p++ = d;
    }
    for (size_t e = 0; e < ne; e++) {
        int32_t s = slot[e];
        if (s >= 0) {
            const struct csv_cell *c = &cells[s];
            const struct alumet_attr *a = c->attr;
            if (a->type == ALUMET_ATTR_STR) {
                p += csv_escape_table(w->special, c->val, c->len, p);
            } else if (a->type == ALUMET_ATTR_U64 && w->numbers_raw) {
                p += format_u64(a->v.u64, p);
            } else {
                size_t len;
                const char *v = csv_attr_text(w, a, &len);
                p += csv_escape_table(w->special, v, len, p);
            }
        }
        *p++ = d;
    }
    if (late >= 0) {
        w->late[0] = late;
        w->out_len = (size_t)(p - w->out); /* csv_build_late may not grow out */
        if (csv_build_late(w, cells, 1) < 0)
            return -ENOMEM;
        p += csv_escape_table(w->special, w->late_text.s, w->late_text.len, p);
    }
    *p++ = '\n';
    w->out_len = (size_t)(p - w->out);
    return 0;
}

/* Write one row from n cells (see csv_writer_write_line for the rules). */
int csv_emit_row(struct csv_writer *w, struct csv_cell *cells, size_t n)
{
    size_t nlate = 0;
    int r;

    if (n == CSV_FIXED_COLUMNS && w->fixed_header && cells[0].col == 0 && cells[0].raw) {
        /* a point without attributes: the fixed cells, in order */
        for (size_t col = 0; col < CSV_FIXED_COLUMNS; col++) {
            r = csv_put_cell_of(w, &cells[col], w->opts.delimiter);
            if (r < 0)
                return r;
        }
        char *p = csv_out_reserve(w, w->ncols - CSV_FIXED_COLUMNS + 1);
        if (!p)
            return w->failed;
        memset(p, w->opts.delimiter, w->ncols - CSV_FIXED_COLUMNS);
        p[w->ncols - CSV_FIXED_COLUMNS] = '\n';
        w->out_len += w->ncols - CSV_FIXED_COLUMNS + 1;
        return 0;
    }

    memset(w->slot, 0xff, w->ncols * sizeof(*w->slot));
    for (size_t i = 0; i < n; i++) {
        struct csv_cell *c = &cells[i];
        if (c->col == CSV_COL_UNKNOWN)
            c->col = csv_lookup_column(w, c->key);
        if (c->col >= 0) {
            w->slot[c->col] = (int32_t)i;
            continue;
        }
        /* a repeated late key: last value, first place */
        size_t j = 0;
        while (j < nlate && strcmp(cells[w->late[j]].key, c->key) != 0)
            j++;
        w->late[j] = (int32_t)i;
        if (j == nlate)
            nlate++;
    }

    for (size_t col = 0; col < w->ncols; col++) {
        int32_t s = w->slot[col];
        if (s < 0)
            r = csv_put_raw(w, &w->opts.delimiter, 1);
        else
            r = csv_put_cell_of(w, &cells[s], w->opts.delimiter);
        if (r < 0)
            return r;
    }
    if (nlate == 0)
        return csv_put_raw(w, "\n", 1);
    r = csv_build_late(w, cells, nlate);
    if (r < 0)
        return r;
    return csv_put_cell(w, w->late_text.s, w->late_text.len, '\n');
}

int csv_writer_write_line(struct csv_writer *w, const struct csv_field *fields, size_t n)
{
    if (!w->has_header)
        return -EINVAL;
    int r = csv_reserve_cells(w, n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        w->cells[i] = (struct csv_cell){
            .key = fields[i].key,
            .col = CSV_COL_UNKNOWN,
            .val = fields[i].value,
            .len = strlen(fields[i].value),
        };
    }
    size_t mark = w->out_len, mark_rows = w->out_rows;
    r = csv_emit_row(w, w->cells, n);
    if (r < 0) {
        csv_out_rollback(w, mark, mark_rows);
        return r;
    }
    w->out_rows++;
    return csv_out_commit(w, /* flush= */ false, mark, mark_rows);
}
