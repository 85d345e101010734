/* SPDX-License-Identifier: MIT */
/* jetson: the current, voltage and power of every rail of the INA3221 power
 * monitors of NVIDIA Jetson boards, and the energy integrated from the power,
 * as upstream Alumet's jetson plugin (see README.md). This file holds the
 * plugin struct, the options, the metrics and the lifecycle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "jetson.h"
#include "util/gpu-plugin.h"

/* What `config regen` writes: upstream's two keys. The hidden sys_root is
 * documented in README.md. */
#define JETSON_DEFAULT_CONFIG                                                                      \
    "[plugins.jetson]\n"                                                                           \
    "poll_interval = \"1s\"\n"                                                                     \
    "flush_interval = \"5s\"\n"

static const char *const jetson_metric_names[_JETSON_FILE_MAX] = {
    "input_current",
    "input_power",
    "input_voltage",
};

static const char *const jetson_metric_descriptions[_JETSON_FILE_MAX] = {
    "input_current (see attributes for channel info)",
    "input_power (see attributes for channel info)",
    "input_voltage (see attributes for channel info)",
};

/* ---- options ---- */

/* Every key is optional (upstream requires both when the section exists). */
static int jetson_parse_config(struct jetson_config *c, struct alumet_config *cfg,
                               struct alumet_error *err)
{
    int r = gpu_plugin_get_intervals(cfg, &c->poll_interval, &c->flush_interval, err);
    if (r < 0)
        return r;
    return gpu_plugin_get_path(cfg, "sys_root", "/", "a directory", &c->sys_root, err);
}

/* ---- lifecycle ---- */

static void jetson_free(void *state)
{
    struct jetson *j = state;
    if (!j)
        return;
    fsroot_close(&j->sys);
    free(j->cfg.sys_root);
    free(j);
}

static int jetson_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct jetson *j = calloc(1, sizeof(*j));
    if (!j)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    j->sys = (struct fsroot)FSROOT_INIT;
    j->fallback_log = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("jetson");
    j->log = &j->fallback_log;
    int r = jetson_parse_config(&j->cfg, cfg, err);
    if (r < 0) {
        jetson_free(j);
        return r;
    }
    *ret_state = j;
    return 0;
}

static int jetson_create_metrics(struct alumet_start_ctx *ctx, struct jetson_source *src,
                                 struct alumet_error *err)
{
    static const enum alumet_base_unit units[_JETSON_FILE_MAX] = {
        ALUMET_UNIT_AMPERE,
        ALUMET_UNIT_WATT,
        ALUMET_UNIT_VOLT,
    };
    for (int f = 0; f < _JETSON_FILE_MAX; f++) {
        struct alumet_unit u = {units[f], ALUMET_PREFIX_MILLI, NULL, NULL};
        int r = alumet_create_metric(ctx, jetson_metric_names[f], ALUMET_VALUE_U64, u,
                                     jetson_metric_descriptions[f], &src->metrics[f], err);
        if (r < 0)
            return r;
    }
    return alumet_create_metric(ctx, "input_energy", ALUMET_VALUE_F64,
                                ALUMET_UNIT_PREFIXED(MILLI, JOULE),
                                "energy consumed since the previous measurement, integrated "
                                "from input_power (see attributes for channel info)",
                                &src->energy_metric, err);
}

static int jetson_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct jetson *j = state;
    j->log = alumet_start_log_topic(ctx);
    int r = gpu_plugin_open_sys_root(&j->sys, j->cfg.sys_root, "jetson", "holds sys/", err);
    if (r < 0)
        return r;
    struct jetson_source *src = jetson_source_new(j);
    if (!src) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_close;
    }
    r = jetson_discover(j, src, err);
    if (r <= 0) {
        jetson_source_ops.free(src);
        if (r == 0)
            return 0; /* no sensor: said in a warning, the agent goes on */
        goto err_close;
    }
    r = jetson_create_metrics(ctx, src, err);
    if (r < 0) {
        jetson_source_ops.free(src);
        goto err_close;
    }
    struct alumet_source_opts opts = {
        .size = sizeof(opts),
        .poll_interval = j->cfg.poll_interval,
        .flush_interval = j->cfg.flush_interval,
        .baseline_first = true, /* energy: the power integrated since the previous poll */
    };
    r = alumet_add_source(ctx, JETSON_SOURCE_NAME, &jetson_source_ops, src, &opts, err);
    if (r < 0) {
        jetson_source_ops.free(src);
        goto err_close;
    }
    j->source = src;
    return 0;

err_close:
    fsroot_close(&j->sys);
    return r;
}

/* The core has freed the source by now: release what start opened, so that
 * start can run again. */
static int jetson_stop(void *state, struct alumet_error *err)
{
    struct jetson *j = state;
    (void)err;
    fsroot_close(&j->sys);
    j->source = NULL;
    j->log = &j->fallback_log;
    return 0;
}

const struct alumet_plugin alumet_plugin_jetson = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "jetson",
    .version = "0.1.0",
    .default_config = JETSON_DEFAULT_CONFIG,
    .init = jetson_init,
    .start = jetson_start,
    .stop = jetson_stop,
    .free = jetson_free,
};
