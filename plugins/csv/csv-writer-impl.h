/* SPDX-License-Identifier: MIT */
/* Inside the csv writer: its state, shared by csv-writer.c (escaping, the
 * write buffer, header, rows from cells) and csv-rows.c (the rows of
 * measurement buffers). Not for the plugin. */
#ifndef ALUMET_PLUGIN_CSV_WRITER_IMPL_H
#define ALUMET_PLUGIN_CSV_WRITER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/resource.h"
#include "csv-writer.h"
#include "util/format.h"

#define CSV_FIXED_COLUMNS 7
#define CSV_COL_UNKNOWN (-2) /* not looked up yet */
#define CSV_COL_LATE (-1)    /* not a header column */

/* The seven fixed columns of a measurement row, in order. */
extern const char *const csv_fixed_columns[CSV_FIXED_COLUMNS];

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
    struct csv_tail *tail_last;  /* the last one used */
    struct csv_bytes empty_tail; /* the end of a row without attributes */

    bool ts_valid;
    int64_t ts_last;
    size_t ts_len;
    char ts_text[2 * FORMAT_RFC3339_MAX + 3]; /* escaped */
    char value_text[FORMAT_F64_MAX];
    char attr_text[FORMAT_F64_MAX];
};

/* Shared by csv-writer.c and csv-rows.c; see their definitions. */
int csv_bytes_reserve(struct csv_bytes *b, size_t need);
void csv_bytes_done(struct csv_bytes *b);
uint32_t csv_hash(const char *s);
size_t csv_escape_table(const bool *special, const char *s, size_t len, char *out);
char *csv_out_reserve_slow(struct csv_writer *w, size_t need);
void csv_out_rollback(struct csv_writer *w, size_t mark, size_t mark_rows);
int csv_out_commit(struct csv_writer *w, bool flush, size_t mark, size_t mark_rows);
const struct csv_key *csv_key_of(struct csv_writer *w, const char *key);
int csv_reserve_cells(struct csv_writer *w, size_t n);
int csv_emit_fast(struct csv_writer *w, struct csv_cell *cells, size_t n);
int csv_emit_row(struct csv_writer *w, struct csv_cell *cells, size_t n);

static inline char *csv_out_reserve(struct csv_writer *w, size_t need)
{
    if (w->out_cap - w->out_len >= need)
        return w->out + w->out_len;
    return csv_out_reserve_slow(w, need);
}

#endif
