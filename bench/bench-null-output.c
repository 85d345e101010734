/* SPDX-License-Identifier: MIT */
/* bench-null-output: an output that discards what it receives and only
 * counts it, for the throughput benchmark (bench/run-pipeline.sh). At close
 * it writes one line to result_path so that the run can be validated:
 *   points=20000000 buffers=2000 elapsed_ns=1234567890
 * elapsed_ns is the monotonic time from the first write to the close. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/alumet.h"

#define BENCH_NULL_OUTPUT_DEFAULT_CONFIG                                                           \
    "[plugins.bench-null-output]\n"                                                                \
    "# file that receives the totals at close (\"\" = log them only)\n"                            \
    "result_path = \"\"\n"

struct bench_null_output {
    char *result_path; /* NULL: log only */
    struct alumet_log_topic *log;
};

/* What the output element owns (freed by the core after its thread ended). */
struct bench_null_sink {
    struct bench_null_output *bench;
    uint64_t points, buffers;
    alumet_time_ns first_write; /* monotonic, 0 before the first write */
};

static int bench_null_output_write(void *data, const struct alumet_buffer *buf,
                                   const struct alumet_registry *reg, struct alumet_error *err)
{
    struct bench_null_sink *o = data;
    if (o->buffers == 0)
        o->first_write = alumet_time_monotonic();
    o->points += alumet_buffer_len(buf);
    o->buffers++;
    return 0;
}

static int bench_null_output_close(void *data, struct alumet_error *err)
{
    struct bench_null_sink *o = data;
    alumet_time_ns elapsed = o->buffers ? alumet_time_monotonic() - o->first_write : 0;
    alumet_log_at(o->bench->log, ALUMET_LOG_INFO,
                  "received %" PRIu64 " points in %" PRIu64 " buffers", o->points, o->buffers);
    if (!o->bench->result_path)
        return 0;
    FILE *f = fopen(o->bench->result_path, "we");
    if (!f) {
        int r = -errno;
        return alumet_error_set(err, r, "cannot create '%s': %s", o->bench->result_path,
                                strerror(-r));
    }
    fprintf(f, "points=%" PRIu64 " buffers=%" PRIu64 " elapsed_ns=%" PRId64 "\n", o->points,
            o->buffers, elapsed);
    if (fclose(f) != 0) {
        int r = -errno;
        return alumet_error_set(err, r, "cannot write '%s': %s", o->bench->result_path,
                                strerror(-r));
    }
    return 0;
}

static const struct alumet_output_ops bench_null_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = bench_null_output_write,
    .close = bench_null_output_close,
    .free = free,
};

static void bench_null_output_free(void *state)
{
    struct bench_null_output *bench = state;
    if (!bench)
        return;
    free(bench->result_path);
    free(bench);
}

static int bench_null_output_init(struct alumet_config *cfg, void **ret_state,
                                  struct alumet_error *err)
{
    struct bench_null_output *bench = calloc(1, sizeof(*bench));
    if (!bench)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    const char *path;
    int r = alumet_config_get_string(cfg, "result_path", "", &path, err);
    if (r < 0)
        goto err_free;
    if (*path && !(bench->result_path = strdup(path))) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret_state = bench;
    return 0;

err_free:
    bench_null_output_free(bench);
    return r;
}

static int bench_null_output_start(void *state, struct alumet_start_ctx *ctx,
                                   struct alumet_error *err)
{
    struct bench_null_output *bench = state;
    bench->log = alumet_start_log_topic(ctx);
    struct bench_null_sink *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->bench = bench;
    int r = alumet_add_output(ctx, "null", &bench_null_output_ops, o, /* opts= */ NULL, err);
    if (r < 0)
        free(o);
    return r;
}

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "bench-null-output",
    .version = "0.1.0",
    .default_config = BENCH_NULL_OUTPUT_DEFAULT_CONFIG,
    .init = bench_null_output_init,
    .start = bench_null_output_start,
    .free = bench_null_output_free,
};
