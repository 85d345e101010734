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
#include "csv-writer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/resource.h"
#include "util/format.h"

#define CSV_FIXED_COLUMNS 7
#define CSV_COL_UNKNOWN (-2) /* not looked up yet */
#define CSV_COL_LATE (-1)    /* not a header column */

static const char *const csv_fixed_columns[CSV_FIXED_COLUMNS] = {
    "metric", "timestamp", "value", "resource_kind", "resource_id", "consumer_kind", "consumer_id",
};

/* A cell of the row being written: a ready text (val, len) or an attribute
 * to format when it is written. raw: val is already escaped (or known not
 * to need it). */
struct csv_cell {
    const char *key;
    int32_t col;
    bool raw;
    const char *val;
    size_t len;
    size_t klen; /* length of key, 0 when not known yet */
    const struct alumet_attr *attr;
};

/* The column of an attribute key, remembered by the key's address for the
 * length of one measurement buffer: a buffer's keys (static strings, or
 * strings that the buffer owns) stay in place while it is written, and most
 * points of a buffer use the same few keys. gen tells the buffer. */
#define CSV_KEY_CACHE 64
struct csv_key {
    const char *ptr;
    uint64_t gen;
    int32_t col;
    size_t len;
};

/* A growable byte array. */
struct csv_bytes {
    char *s;
    size_t len;
    size_t cap;
};

/* The end of a row after the fixed cells (the attribute columns, then
 * __late_attributes and the newline) for a set of attributes, kept for the
 * buffer of generation gen: attributes are compared by key address and
 * value (strings by address, as csv_key). */
#define CSV_TAILS 32
#define CSV_TAIL_ATTRS 4
#define CSV_TAIL_PROBES 4
struct csv_tail {
    uint64_t gen;
    uint32_t n;
    struct alumet_attr attrs[CSV_TAIL_ATTRS];
    struct csv_bytes text;
};

struct csv_name {
    char *text; /* escaped metric cell text, NULL until first needed */
    size_t len;
};

struct csv_writer {
    struct csv_writer_opts opts;
    csv_sink_fn sink;
    void *sink_data;
    int failed;                                   /* -ENOMEM while building a row */
    bool special[256];                            /* bytes that make a cell need quotes */
    bool numbers_raw;                             /* numbers and timestamps never need quotes */
    bool resource_kind_raw[_ALUMET_RESOURCE_MAX]; /* the kind name never needs quotes */
    bool consumer_kind_raw[_ALUMET_CONSUMER_MAX];
    size_t resource_kind_len[_ALUMET_RESOURCE_MAX];
    size_t consumer_kind_len[_ALUMET_CONSUMER_MAX];
    struct csv_key keys[CSV_KEY_CACHE];
    uint64_t keys_gen; /* the buffer being written, 0 before the first */

    char *out; /* the write buffer: whole rows only, grown for a large buffer */
    size_t out_len;
    size_t out_cap;
    size_t out_rows; /* rows in out */

    bool has_header;
    bool fixed_header; /* the header starts with the seven fixed columns */
    char **columns;
    size_t ncols;
    int32_t *col_hash; /* open addressing: column index + 1, 0 when empty */
    size_t hash_mask;
    int32_t *slot; /* per column: index of the cell going there, -1 if none */

    struct csv_cell *cells;
    size_t cells_cap;
    int32_t *late; /* indices of the cells going to __late_attributes */
    size_t late_cap;
    struct csv_bytes late_text;
    struct csv_bytes list_text;
    struct csv_bytes resource_id;
    struct csv_bytes consumer_id;

    struct csv_name *names; /* by metric id */
    size_t names_len;

    /* the memos of csv_writer_write_buffer (see csv_row_fast), valid for
     * the buffer of generation keys_gen only */
    struct csv_bytes rc_text; /* resource_kind;resource_id;consumer_kind;consumer_id; */
    bool rc_valid;
    struct alumet_resource rc_resource;
    struct alumet_consumer rc_consumer;
    struct csv_tail tails[CSV_TAILS];
    struct csv_tail *tail_last;  /* the last hit */
    struct csv_bytes empty_tail; /* the end of a row without attributes */

    bool ts_valid;
    int64_t ts_last;
    size_t ts_len;
    char ts_text[2 * FORMAT_RFC3339_MAX + 3]; /* escaped */
    char value_text[FORMAT_F64_MAX];
    char attr_text[FORMAT_F64_MAX];
};

/* ---- small helpers ---- */

static int csv_bytes_reserve(struct csv_bytes *b, size_t need)
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

static void csv_bytes_done(struct csv_bytes *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static uint32_t csv_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static size_t csv_escape_table(const bool *special, const char *s, size_t len, char *out)
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
static char *csv_out_reserve_slow(struct csv_writer *w, size_t need)
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

static inline char *csv_out_reserve(struct csv_writer *w, size_t need)
{
    if (w->out_cap - w->out_len >= need)
        return w->out + w->out_len;
    return csv_out_reserve_slow(w, need);
}

/* Take back what was appended since mark (a failed buffer or row). */
static void csv_out_rollback(struct csv_writer *w, size_t mark, size_t mark_rows)
{
    w->out_len = mark;
    w->out_rows = mark_rows;
    w->failed = 0;
}

/* After whole rows: hand the text to the sink when it is time. On a sink
 * error, the rows since mark are taken back. */
static int csv_out_commit(struct csv_writer *w, bool flush, size_t mark, size_t mark_rows)
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
static const struct csv_key *csv_key_of(struct csv_writer *w, const char *key)
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

static int csv_reserve_cells(struct csv_writer *w, size_t n)
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
static int csv_emit_fast(struct csv_writer *w, struct csv_cell *cells, size_t n)
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
static int csv_emit_row(struct csv_writer *w, struct csv_cell *cells, size_t n)
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

/* Whether two attributes write the same text (strings by address; f64 by
 * bits; a list never: rare, and not kept). */
static bool csv_same_attr(const struct alumet_attr *a, const struct alumet_attr *b)
{
    if (a->key != b->key || a->type != b->type)
        return false;
    switch (a->type) {
    case ALUMET_ATTR_STR:
        return a->v.str == b->v.str;
    case ALUMET_ATTR_U64:
        return a->v.u64 == b->v.u64;
    case ALUMET_ATTR_F64:
        return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
    case ALUMET_ATTR_BOOL:
        return a->v.b == b->v.b;
    case ALUMET_ATTR_LIST_U64:
        break;
    }
    return false;
}

static bool csv_tail_hit(const struct csv_writer *w, const struct csv_tail *t,
                         const struct alumet_attr *attrs, uint32_t n)
{
    if (t->gen != w->keys_gen || t->n != n)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (!csv_same_attr(&attrs[i], &t->attrs[i]))
            return false;
    }
    return true;
}

/* The kept tail of these attributes (n ≥ 1): a hit, or the entry to fill
 * (*hit false). Open addressing over CSV_TAIL_PROBES entries from the
 * hash, so that the few sets of attributes of a buffer do not evict each
 * other; the last hit is tried first. */
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
    const struct alumet_resource *r = &w->rc_resource;
    const struct alumet_consumer *c = &w->rc_consumer;
    return w->rc_valid && p->resource.kind == r->kind && p->resource.num == r->num &&
           p->resource.str == r->str && p->resource.custom_kind == r->custom_kind &&
           p->consumer.kind == c->kind && p->consumer.num == c->num && p->consumer.str == c->str &&
           p->consumer.custom_kind == c->custom_kind;
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
