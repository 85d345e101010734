/* SPDX-License-Identifier: MIT */
/* slow-output: an output that sleeps `delay` for every buffer it receives,
 * then appends the values of its points to `output_path`, one per line. The
 * e2e tests use it to show that a slow output neither delays another output
 * nor the sources, and to check the queue policies (block is lossless,
 * drop_oldest drops and counts). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/export.h"
#include "alumet/plugin.h"

#define SLOW_OUTPUT_DEFAULT_CONFIG                                                                 \
    "[plugins.slow-output]\n"                                                                      \
    "delay = \"100ms\"\n"                                                                          \
    "output_path = \"slow-output.txt\"\n"

/* Plugin state: the options, read in init. */
struct slow_output {
    alumet_time_ns delay;
    char *output_path;
};

/* The output "out": owned by the core once registered. */
struct slow_output_out {
    alumet_time_ns delay;
    char *path;
    int fd;
    char *text; /* one line per point, reused */
    size_t cap;
};

static void slow_output_free(void *state)
{
    struct slow_output *so = state;
    if (!so)
        return;
    free(so->output_path);
    free(so);
}

static int slow_output_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct slow_output *so = calloc(1, sizeof(*so));
    const char *path;
    int r;

    if (!so)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = alumet_config_get_duration(cfg, "delay", 100 * ALUMET_NSEC_PER_MSEC, &so->delay, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_string(cfg, "output_path", "slow-output.txt", &path, err);
    if (r < 0)
        goto err_free;
    so->output_path = strdup(path);
    if (!so->output_path) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret_state = so;
    return 0;

err_free:
    slow_output_free(so);
    return r;
}

static void slow_output_sleep(alumet_time_ns d)
{
    struct timespec ts = {.tv_sec = d / ALUMET_NSEC_PER_SEC, .tv_nsec = d % ALUMET_NSEC_PER_SEC};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int slow_output_out_write(void *data, const struct alumet_buffer *buf,
                                 const struct alumet_registry *reg, struct alumet_error *err)
{
    struct slow_output_out *o = data;
    size_t n = alumet_buffer_len(buf);
    (void)reg;

    slow_output_sleep(o->delay);
    /* a u64 or an f64 in %.17g: at most 24 characters and a newline */
    size_t need = n * 32 + 1;
    if (need > o->cap) {
        char *t = realloc(o->text, need);
        if (!t)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        o->text = t;
        o->cap = need;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        if (p->value_type == ALUMET_VALUE_U64)
            w += (size_t)snprintf(o->text + w, o->cap - w, "%" PRIu64 "\n", p->value.u64);
        else
            w += (size_t)snprintf(o->text + w, o->cap - w, "%.17g\n", p->value.f64);
    }
    for (size_t off = 0; off < w;) {
        ssize_t k = write(o->fd, o->text + off, w - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int r = k < 0 ? -errno : -EIO;
            return alumet_error_set(err, r, "slow-output: cannot write to '%s': %s", o->path,
                                    strerror(-r));
        }
        off += (size_t)k;
    }
    return 0;
}

static void slow_output_out_free(void *data)
{
    struct slow_output_out *o = data;
    if (!o)
        return;
    if (o->fd >= 0)
        close(o->fd);
    free(o->text);
    free(o->path);
    free(o);
}

static const struct alumet_output_ops slow_output_out_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = slow_output_out_write,
    .free = slow_output_out_free,
};

static int slow_output_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct slow_output *so = state;
    int r;

    struct slow_output_out *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->delay = so->delay;
    o->fd = -1;
    o->path = strdup(so->output_path);
    if (!o->path) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    o->fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        r = -errno;
        alumet_error_set(err, r, "slow-output: cannot open '%s': %s", o->path, strerror(-r));
        goto err_free;
    }
    r = alumet_add_output(ctx, "out", &slow_output_out_ops, o, /* opts= */ NULL, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    slow_output_out_free(o);
    return r;
}

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "slow-output",
    .version = "0.1.0",
    .default_config = SLOW_OUTPUT_DEFAULT_CONFIG,
    .init = slow_output_init,
    .start = slow_output_start,
    .free = slow_output_free,
};
