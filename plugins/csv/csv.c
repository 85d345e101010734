/* SPDX-License-Identifier: MIT */
/* csv: writes every measurement to a CSV file, in the format of upstream
 * Alumet's csv plugin 0.2.0 (see README.md). The text is built by
 * csv-writer.c; this file holds the options and the file.
 *
 * A write error on a regular file (a full disk) is transient: the file is
 * truncated back to its last whole row, and the buffer is kept and retried by
 * the core's delivery policy (at most max_buffered_points points wait, the
 * rest are dropped and counted). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "csv-writer.h"
#include "util/filesink.h"
#include "util/pathcheck.h"

#define CSV_DEFAULT_CONFIG                                                                         \
    "[plugins.csv]\n"                                                                              \
    "# Path of the CSV file, relative to the working directory (truncated at startup)\n"           \
    "output_path = \"alumet-output.csv\"\n"                                                        \
    "# Write to the file after every buffer of measurements (false: every 256 KiB)\n"              \
    "force_flush = true\n"                                                                         \
    "# Append the unit to the metric name (rapl_consumed_energy_J)\n"                              \
    "append_unit_to_metric_name = true\n"                                                          \
    "# Use the unit's display name (ms) rather than its unique name (millis)\n"                    \
    "use_unit_display_name = true\n"                                                               \
    "# Delimiter between the cells (one character)\n"                                              \
    "csv_delimiter = \";\"\n"                                                                      \
    "# Delimiter between the entries of the __late_attributes column (one character)\n"            \
    "csv_late_delimiter = \",\"\n"

/* Points kept while the file cannot be written (a full disk) by default. */
#define CSV_MAX_BUFFERED_POINTS 100000

/* Plugin state: the options, read in init. */
struct csv {
    char *output_path;
    int64_t max_buffered_points;
    struct csv_writer_opts opts;
};

/* The output "out": owned by the core once registered, freed by
 * csv_output_free after the output thread has been joined. */
struct csv_output {
    struct filesink file;
    struct csv_writer *writer;
};

static void csv_free(void *state)
{
    struct csv *csv = state;
    if (!csv)
        return;
    free(csv->output_path);
    free(csv);
}

static int csv_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct csv *csv = calloc(1, sizeof(*csv));
    const char *path;
    int r;

    if (!csv)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = alumet_config_get_string(cfg, "output_path", "alumet-output.csv", &path, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "force_flush", /* def= */ true, &csv->opts.flush_each_buffer,
                               err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_int(cfg, "max_buffered_points", CSV_MAX_BUFFERED_POINTS,
                              &csv->max_buffered_points, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "append_unit_to_metric_name", /* def= */ true,
                               &csv->opts.append_unit, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "use_unit_display_name", /* def= */ true,
                               &csv->opts.use_unit_display_name, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_char(cfg, "csv_delimiter", ';', &csv->opts.delimiter, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_char(cfg, "csv_late_delimiter", ',', &csv->opts.late_delimiter, err);
    if (r < 0)
        goto err_free;
    /* every value is checked before the first error is returned: `config
     * check` reports them all */
    if (csv->max_buffered_points < 0)
        r = alumet_config_error(cfg, "max_buffered_points", err, -EINVAL,
                                "expected a number of points (0 or more), got %lld",
                                (long long)csv->max_buffered_points);
    char why[512];
    if (!*path)
        r = alumet_config_error(cfg, "output_path", err, -EINVAL,
                                "expected the path of a file, got an empty string");
    else if (alumet_config_checking() &&
             pathcheck_writable(path, PATHCHECK_FILE, why, sizeof(why)) < 0)
        r = alumet_config_error(cfg, "output_path", err, -EINVAL, "%s", why);
    if (r < 0)
        goto err_free;
    csv->output_path = strdup(path);
    if (!csv->output_path) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    csv->opts.buffer_size = CSV_WRITER_BUFFER_SIZE;
    *ret_state = csv;
    return 0;

err_free:
    csv_free(csv);
    return r;
}

static int csv_output_fail(struct csv_output *o, int r, struct alumet_error *err)
{
    if (err && err->code)
        return r; /* already explained (unknown metric) */
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    const char *path = o->file.path ? o->file.path : "<stdout>";
    /* nothing of the buffer stayed in the file: it can be written again */
    if (o->file.truncatable)
        return alumet_error_set(err, ALUMET_WRITE_RETRY, "failed to write to '%s': %s", path,
                                strerror(-r));
    return alumet_error_set(err, r, "failed to write to '%s': %s", path, strerror(-r));
}

static int csv_output_write(void *data, const struct alumet_buffer *buf,
                            const struct alumet_registry *reg, struct alumet_error *err)
{
    struct csv_output *o = data;

    int r = csv_writer_write_buffer(o->writer, buf, reg, err);
    if (r < 0)
        return csv_output_fail(o, r, err);
    return 0;
}

static int csv_output_close(void *data, struct alumet_error *err)
{
    struct csv_output *o = data;
    int r = 0;

    /* nothing was measured: still write the header, as upstream does when
     * its sources flush empty buffers, so that scripts find the columns */
    if (!csv_writer_has_header(o->writer)) {
        static const char *const columns[] = {"metric",        "timestamp",   "value",
                                              "resource_kind", "resource_id", "consumer_kind",
                                              "consumer_id"};
        r = csv_writer_write_header(o->writer, columns, sizeof(columns) / sizeof(columns[0]));
    }
    if (r == 0)
        r = csv_writer_flush(o->writer);
    if (r < 0 && r != -ENOMEM)
        return alumet_error_set(err, r, "failed to write to '%s': %s; %zu rows lost",
                                o->file.path ? o->file.path : "<stdout>", strerror(-r),
                                csv_writer_pending_rows(o->writer));
    if (r == 0)
        r = filesink_close(&o->file);
    if (r < 0)
        return csv_output_fail(o, r, err);
    return 0;
}

static void csv_output_free(void *data)
{
    struct csv_output *o = data;
    if (!o)
        return;
    csv_writer_free(o->writer);
    filesink_done(&o->file);
    free(o);
}

static const struct alumet_output_ops csv_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = csv_output_write,
    .close = csv_output_close,
    .free = csv_output_free,
};

static int csv_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct csv *csv = state;
    int r;

    struct csv_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->file = (struct filesink)FILESINK_INIT;
    r = filesink_open(&o->file, csv->output_path);
    if (r < 0 && !o->file.path) {
        alumet_error_set(err, r, "out of memory");
        goto err_free;
    }
    if (r < 0) {
        alumet_error_set(err, r, "failed to open file for writing '%s': %s", o->file.path,
                         strerror(-r));
        goto err_free;
    }
    o->writer = csv_writer_new(&csv->opts, filesink_write_whole, &o->file);
    if (!o->writer) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    struct alumet_output_opts opts = {0};
    opts.delivery.retry = csv->max_buffered_points > 0;
    opts.delivery.max_points = (size_t)csv->max_buffered_points;
    r = alumet_add_output(ctx, "out", &csv_output_ops, o, &opts, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    csv_output_free(o);
    return r;
}

/* The output belongs to the core once registered (it is closed and freed
 * after its thread ends), so start leaves nothing for stop to release. */
static int csv_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_csv = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "csv",
    .version = "0.2.0",
    .default_config = CSV_DEFAULT_CONFIG,
    .init = csv_init,
    .start = csv_start,
    .stop = csv_stop,
    .free = csv_free,
};
