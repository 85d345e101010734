/* SPDX-License-Identifier: MIT */
/* The text of the jsonl plugin: one JSON object per measurement point and
 * per line (JSON Lines), written into a large user-space buffer that is handed
 * to a byte sink (a file descriptor in the plugin, memory in tests). No file
 * handling and no logging here. A writer is used by one thread. */
#ifndef ALUMET_PLUGIN_JSONL_WRITER_H
#define ALUMET_PLUGIN_JSONL_WRITER_H

#include <stddef.h>

#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"

/* Default size of the write buffer. */
#define JSONL_WRITER_BUFFER_SIZE (256 * 1024)

/* Writes all len bytes somewhere; returns 0 or a negative errno. */
typedef int (*jsonl_sink_fn)(void *data, const char *bytes, size_t len);

struct jsonl_writer;

/* New writer that sends its text to sink(sink_data, ...) whenever
 * buffer_size bytes are buffered (0: JSONL_WRITER_BUFFER_SIZE). sink_data is
 * borrowed. Caller frees with jsonl_writer_free(). NULL on -ENOMEM. */
struct jsonl_writer *jsonl_writer_new(size_t buffer_size, jsonl_sink_fn sink, void *sink_data);

/* Free w without flushing. NULL-safe. Returns NULL. */
struct jsonl_writer *jsonl_writer_free(struct jsonl_writer *w);

/* Write one line per point of buf, in order:
 * {"metric":…,"unit":…,"unit_display":…,"timestamp":…,"timestamp_ns":…,
 *  "value":…,"resource_kind":…,"resource_id":…,"consumer_kind":…,
 *  "consumer_id":…,"attributes":{…}}
 * The metrics are looked up in reg (borrowed) by id. 0, -ENOMEM, -EINVAL
 * with err for a point of an unknown metric, or the sink's error (err
 * untouched: the caller names the file). A sink error sticks: every later
 * call returns it. */
int jsonl_writer_write_buffer(struct jsonl_writer *w, const struct alumet_buffer *buf,
                              const struct alumet_registry *reg, struct alumet_error *err);

/* Hand the buffered text to the sink. 0 or the sink's error. */
int jsonl_writer_flush(struct jsonl_writer *w);

/* Write s (len bytes) as the inside of a JSON string: '"' and '\\' escaped,
 * \b \f \n \r \t, other control characters as \u00XX, valid UTF-8 copied,
 * each byte of an invalid UTF-8 sequence as \ufffd. out holds 6 * len + 1
 * bytes; NUL-terminated. Returns the length written. */
size_t jsonl_escape(const char *s, size_t len, char *out);

#endif
