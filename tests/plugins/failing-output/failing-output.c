/* SPDX-License-Identifier: MIT */
/* failing-output: an output that accepts `fail_after` buffers, then fails
 * with a fatal error ("failing-output: simulated failure"). The e2e tests
 * check that the other outputs go on, that nothing is lost for them, and
 * that the agent reports the failure and exits non-zero. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/export.h"
#include "alumet/plugin.h"

#define FAILING_OUTPUT_DEFAULT_CONFIG                                                              \
    "[plugins.failing-output]\n"                                                                   \
    "fail_after = 0\n"

/* Plugin state: the options, read in init. */
struct failing_output {
    int64_t fail_after;
    int64_t fail_count; /* 0: every write after fail_after fails */
};

/* The output "out": owned by the core once registered. */
struct failing_output_out {
    uint64_t fail_after, fail_count;
    uint64_t written, failed;
};

static void failing_output_free(void *state)
{
    free(state);
}

static int failing_output_init(struct alumet_config *cfg, void **ret_state,
                               struct alumet_error *err)
{
    struct failing_output *fo = calloc(1, sizeof(*fo));
    if (!fo)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int r = alumet_config_get_int(cfg, "fail_after", 0, &fo->fail_after, err);
    if (r == 0)
        r = alumet_config_get_int(cfg, "fail_count", 0, &fo->fail_count, err);
    if (r == 0 && fo->fail_count < 0)
        r = alumet_config_error(cfg, "fail_count", err, -EINVAL,
                                "expected a number of writes (0: all)");
    if (r == 0 && fo->fail_after < 0)
        r = alumet_config_error(cfg, "fail_after", err, -EINVAL,
                                "expected a number of buffers (0 or more)");
    if (r < 0) {
        failing_output_free(fo);
        return r;
    }
    *ret_state = fo;
    return 0;
}

static int failing_output_out_write(void *data, const struct alumet_buffer *buf,
                                    const struct alumet_registry *reg, struct alumet_error *err)
{
    struct failing_output_out *o = data;
    (void)buf;
    (void)reg;

    if (o->written >= o->fail_after && (!o->fail_count || o->failed < o->fail_count)) {
        o->failed++;
        return alumet_error_set(err, -EIO, "failing-output: simulated failure");
    }
    o->written++;
    return 0;
}

static void failing_output_out_free(void *data)
{
    free(data);
}

static const struct alumet_output_ops failing_output_out_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = failing_output_out_write,
    .free = failing_output_out_free,
};

static int failing_output_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct failing_output *fo = state;
    struct failing_output_out *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->fail_after = (uint64_t)fo->fail_after;
    o->fail_count = (uint64_t)fo->fail_count;
    int r = alumet_add_output(ctx, "out", &failing_output_out_ops, o, /* opts= */ NULL, err);
    if (r < 0)
        failing_output_out_free(o);
    return r;
}

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "failing-output",
    .version = "0.1.0",
    .default_config = FAILING_OUTPUT_DEFAULT_CONFIG,
    .init = failing_output_init,
    .start = failing_output_start,
    .free = failing_output_free,
};
