/* SPDX-License-Identifier: MIT */
/* test-transform: tags every point, to check that transforms run and in
 * which order. Each point gets the boolean attribute `<tag> = true` and the
 * tag is appended to the string attribute `chain` ("a", then "a,b" after the
 * next transform). Built twice (the plugin name comes from
 * TEST_TRANSFORM_NAME), because a plugin runs once: the order of the two
 * plugin sections in the config must be the order of the chain. With
 * `fail_at_buffer = N`, the Nth buffer makes the transform fail (fatal error
 * "test-transform: simulated failure"): the core disables it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/export.h"
#include "alumet/plugin.h"

#ifndef TEST_TRANSFORM_NAME
#define TEST_TRANSFORM_NAME "test-transform"
#endif

#define TEST_TRANSFORM_DEFAULT_CONFIG                                                              \
    "[plugins." TEST_TRANSFORM_NAME "]\n"                                                          \
    "tag = \"transformed\"\n"

/* Plugin state, and the data of the transform (a copy owned by the core). The
 * attribute key `tag` is borrowed by the points: the transform data is freed
 * only after every output thread has been joined, so it outlives them. */
struct test_transform {
    char *tag;
    uint64_t fail_at_buffer; /* this buffer (1 = the first) fails; 0 = never */
    uint64_t buffers;
};

static void test_transform_free(void *state)
{
    struct test_transform *tt = state;
    if (!tt)
        return;
    free(tt->tag);
    free(tt);
}

static struct test_transform *test_transform_new(const char *tag, uint64_t fail_at_buffer)
{
    struct test_transform *tt = calloc(1, sizeof(*tt));
    if (!tt)
        return NULL;
    tt->fail_at_buffer = fail_at_buffer;
    tt->tag = strdup(tag);
    if (!tt->tag) {
        free(tt);
        return NULL;
    }
    return tt;
}

static int test_transform_init(struct alumet_config *cfg, void **ret_state,
                               struct alumet_error *err)
{
    const char *tag;
    int64_t fail_at_buffer;
    int r = alumet_config_get_string(cfg, "tag", "transformed", &tag, err);
    if (r < 0)
        return r;
    r = alumet_config_get_int(cfg, "fail_at_buffer", 0, &fail_at_buffer, err);
    if (r < 0)
        return r;
    if (fail_at_buffer < 0)
        return alumet_config_error(cfg, "fail_at_buffer", err, -EINVAL,
                                   "expected a buffer number (0 = never fail)");
    if (!*tag || strcmp(tag, "chain") == 0)
        return alumet_config_error(cfg, "tag", err, -EINVAL,
                                   "expected a non-empty attribute name other than 'chain'");
    struct test_transform *tt = test_transform_new(tag, (uint64_t)fail_at_buffer);
    if (!tt)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    *ret_state = tt;
    return 0;
}

static int test_transform_apply(void *data, struct alumet_buffer *buf,
                                const struct alumet_registry *reg, struct alumet_error *err)
{
    struct test_transform *tt = data;
    size_t len = alumet_buffer_len(buf);
    (void)reg;

    if (++tt->buffers == tt->fail_at_buffer)
        return alumet_error_set(err, -EIO, "test-transform: simulated failure");
    for (size_t i = 0; i < len; i++) {
        struct alumet_point *p = alumet_buffer_at(buf, i);
        const struct alumet_attr *prev = alumet_point_find_attr(buf, p, "chain");
        const char *chain = tt->tag;
        if (prev && prev->type == ALUMET_ATTR_STR) {
            size_t n = strlen(prev->v.str) + strlen(tt->tag) + 2;
            char *text = alumet_buffer_alloc(buf, n);
            if (!text)
                return alumet_error_set(err, -ENOMEM, "out of memory");
            snprintf(text, n, "%s,%s", prev->v.str, tt->tag);
            chain = text;
        }
        struct alumet_attr a = {.key = "chain", .type = ALUMET_ATTR_STR, .v.str = chain};
        if (alumet_point_set_attr(buf, p, &a) < 0 ||
            alumet_point_add_attr_bool(buf, p, tt->tag, true) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static const struct alumet_transform_ops test_transform_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = test_transform_apply,
    .free = test_transform_free,
};

static int test_transform_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct test_transform *tt = state;
    struct test_transform *data = test_transform_new(tt->tag, tt->fail_at_buffer);
    if (!data)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int r = alumet_add_transform(ctx, "tag", &test_transform_ops, data, err);
    if (r < 0)
        test_transform_free(data);
    return r;
}

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = TEST_TRANSFORM_NAME,
    .version = "0.1.0",
    .default_config = TEST_TRANSFORM_DEFAULT_CONFIG,
    .init = test_transform_init,
    .start = test_transform_start,
    .free = test_transform_free,
};
