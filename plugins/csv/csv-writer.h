/* SPDX-License-Identifier: MIT */
/* The CSV text of the csv plugin: header, rows, escaping, late attributes and
 * metric names with their unit, written into a large user-space buffer that
 * is handed to a byte sink (a file descriptor in the plugin, memory in tests).
 * The sink only ever gets whole rows, and a measurement buffer goes out whole
 * or not at all: on a sink error (a full disk) its rows are taken back, so
 * the same buffer can be written again later without duplicating a row.
 * No file handling and no logging here. A writer is used by one thread. */
#ifndef ALUMET_PLUGIN_CSV_WRITER_H
#define ALUMET_PLUGIN_CSV_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"

/* Default size of the write buffer. */
#define CSV_WRITER_BUFFER_SIZE (256 * 1024)

struct csv_writer_opts {
    char delimiter;             /* between cells */
    char late_delimiter;        /* between the entries of __late_attributes */
    bool append_unit;           /* metric cell: name_unit instead of name */
    bool use_unit_display_name; /* the unit's display name instead of its unique name */
    size_t buffer_size;         /* bytes buffered before the sink is called (checked after
                                   each buffer or line); 0 = default */
    bool flush_each_buffer;     /* call the sink after every measurement buffer */
};

/* Writes all len bytes somewhere, or nothing: 0 or a negative errno. After
 * an error, the same bytes are handed again on the next flush. */
typedef int (*csv_sink_fn)(void *data, const char *bytes, size_t len);

/* One cell of a row given by name (csv_writer_write_line). */
struct csv_field {
    const char *key;
    const char *value;
};

struct csv_writer;

/* New writer that sends its text to sink(sink_data, ...). opts is copied,
 * sink_data is borrowed. Caller frees with csv_writer_free(). NULL on -ENOMEM. */
struct csv_writer *csv_writer_new(const struct csv_writer_opts *opts, csv_sink_fn sink,
                                  void *sink_data);

/* Free w without flushing. NULL-safe. Returns NULL. */
struct csv_writer *csv_writer_free(struct csv_writer *w);

/* Whether the header has been written. */
bool csv_writer_has_header(const struct csv_writer *w);

/* Write the header: each of the n columns (copied) followed by the
 * delimiter, then "__late_attributes" and a newline. Only once per writer.
 * 0, -EALREADY, -ENOMEM, or the sink's error. */
int csv_writer_write_header(struct csv_writer *w, const char *const *columns, size_t n);

/* Write one row (taken back on error): for each header column the (escaped) value of the field of
 * that name, or nothing, followed by the delimiter; then the fields that are
 * not header columns as key=value joined by the late delimiter (escaped as
 * one cell); then a newline. A repeated key: the last value wins, at the
 * place of the first. Requires the header (-EINVAL without). 0, -ENOMEM, or
 * the sink's error. */
int csv_writer_write_line(struct csv_writer *w, const struct csv_field *fields, size_t n);

/* Write a measurement buffer the way upstream's csv output does: the header
 * first if not written yet (the 7 fixed columns, then the attribute keys of
 * this buffer in byte order), then one row per point, then the text goes to
 * the sink if flush_each_buffer is set or buffer_size is reached. The
 * metrics are looked up in reg (borrowed) by id. 0, -ENOMEM, -EINVAL with err
 * for a point of an unknown metric, -EINVAL after a header of
 * csv_writer_write_header() (the two ways are not mixed), or the sink's
 * error (err untouched: the caller names the file). On error no row of buf
 * is kept (the text of the earlier buffers and the header stay buffered). */
int csv_writer_write_buffer(struct csv_writer *w, const struct alumet_buffer *buf,
                            const struct alumet_registry *reg, struct alumet_error *err);

/* Hand the buffered text to the sink. 0 or the sink's error (the text is
 * kept for the next flush). */
int csv_writer_flush(struct csv_writer *w);

/* Rows buffered and not yet handed to the sink. */
size_t csv_writer_pending_rows(const struct csv_writer *w);

/* Escape s (len bytes) as one CSV cell (RFC 4180): when it holds the
 * delimiter, '"', '\n' or '\r', double each '"' and wrap it in quotes.
 * out must hold 2 * len + 3 bytes; the result is NUL-terminated. Returns its
 * length. */
size_t csv_escape(char delimiter, const char *s, size_t len, char *out);

/* The metric cell text for a metric: name, or name_unit (display or unique
 * unit name, whichever opts says; the bare name when that is empty). Not
 * escaped. Same contract as snprintf. */
size_t csv_metric_name(const struct csv_writer_opts *opts, const struct alumet_metric *m, char *buf,
                       size_t size);

#endif
