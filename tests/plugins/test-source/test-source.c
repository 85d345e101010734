/* SPDX-License-Identifier: MIT */
/* test-source: a managed source for the end-to-end tests. Its metric
 * `test_counter` carries a global sequence number 0, 1, 2, ... so that a test
 * can check that every point reached the outputs exactly once. The number of
 * points produced so far is published in `count_file` after every poll and
 * when the source is freed, so a test knows how many points the agent made
 * before it was stopped. With `fail_at_poll = N`, the Nth poll fails (fatal
 * error "test-source: simulated failure") and produces nothing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/export.h"
#include "alumet/plugin.h"

#define TEST_SOURCE_DEFAULT_CONFIG                                                                 \
    "[plugins.test-source]\n"                                                                      \
    "poll_interval = \"100ms\"\n"                                                                  \
    "points_per_poll = 1\n"                                                                        \
    "max_polls = 0\n"

/* Plugin state: the options, read in init. */
struct test_source {
    alumet_time_ns poll_interval;
    alumet_time_ns flush_interval;
    int64_t points_per_poll;
    int64_t max_polls;
    int64_t fail_at_poll;
    alumet_time_ns poll_delay; /* each poll sleeps this long (a slow source) */
    bool fail_start;           /* start returns -EIO without filling err */
    bool crash_start;          /* start crashes (SIGSEGV) */
    char *count_file;          /* NULL: do not publish the count */
};

/* The source "counter": owned by the core once registered. */
struct test_source_counter {
    alumet_metric_id metric;
    uint64_t points_per_poll;
    uint64_t max_polls;    /* 0 = unlimited */
    uint64_t fail_at_poll; /* 0 = never */
    alumet_time_ns poll_delay;
    uint64_t polls;
    uint64_t next; /* next sequence number = points produced so far */
    char *count_file;
    char *count_tmp;
};

static void test_source_free(void *state)
{
    struct test_source *ts = state;
    if (!ts)
        return;
    free(ts->count_file);
    free(ts);
}

static int test_source_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct test_source *ts = calloc(1, sizeof(*ts));
    const char *count_file = NULL;
    int r;

    if (!ts)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = alumet_config_get_duration(cfg, "poll_interval", 100 * ALUMET_NSEC_PER_MSEC,
                                   &ts->poll_interval, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_duration(cfg, "flush_interval", 0, &ts->flush_interval, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_int(cfg, "points_per_poll", 1, &ts->points_per_poll, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_int(cfg, "max_polls", 0, &ts->max_polls, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_int(cfg, "fail_at_poll", 0, &ts->fail_at_poll, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_string(cfg, "count_file", /* def= */ NULL, &count_file, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_duration(cfg, "poll_delay", 0, &ts->poll_delay, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "fail_start", false, &ts->fail_start, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "crash_start", false, &ts->crash_start, err);
    if (r < 0)
        goto err_free;
    if (ts->poll_interval <= 0) {
        r = alumet_config_error(cfg, "poll_interval", err, -EINVAL, "expected a positive duration");
        goto err_free;
    }
    if (ts->points_per_poll < 0 || ts->points_per_poll > 1000000) {
        r = alumet_config_error(cfg, "points_per_poll", err, -EINVAL,
                                "expected an integer between 0 and 1000000");
        goto err_free;
    }
    if (ts->max_polls < 0 || ts->fail_at_poll < 0) {
        r = alumet_config_error(cfg, ts->max_polls < 0 ? "max_polls" : "fail_at_poll", err, -EINVAL,
                                "expected a positive integer (0 = never)");
        goto err_free;
    }
    if (count_file && !(ts->count_file = strdup(count_file))) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret_state = ts;
    return 0;

err_free:
    test_source_free(ts);
    return r;
}

/* Publish the count atomically (write a temporary file, then rename it), so
 * that a test reading the file while the agent runs never sees half a number. */
static void test_source_publish(struct test_source_counter *c)
{
    if (!c->count_file)
        return;
    char text[32];
    int len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)c->next);
    int fd = open(c->count_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t n = write(fd, text, (size_t)len);
    if (close(fd) == 0 && n == len)
        (void)rename(c->count_tmp, c->count_file);
}

static int test_source_counter_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                    struct alumet_error *err)
{
    struct test_source_counter *c = data;
    struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    struct alumet_consumer cons = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

    if (c->max_polls && c->polls >= c->max_polls)
        return ALUMET_POLL_DONE;
    if (c->poll_delay > 0) {
        struct timespec ts = {c->poll_delay / ALUMET_NSEC_PER_SEC,
                              c->poll_delay % ALUMET_NSEC_PER_SEC};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    c->polls++;
    if (c->polls == c->fail_at_poll)
        return alumet_error_set(err, -EIO, "test-source: simulated failure");
    for (uint64_t i = 0; i < c->points_per_poll; i++) {
        if (!alumet_buffer_push_u64(buf, now, c->metric, &res, &cons, c->next))
            return alumet_error_set(err, -ENOMEM, "out of memory");
        c->next++;
    }
    test_source_publish(c);
    return ALUMET_POLL_OK;
}

static void test_source_counter_free(void *data)
{
    struct test_source_counter *c = data;
    if (!c)
        return;
    test_source_publish(c);
    free(c->count_file);
    free(c->count_tmp);
    free(c);
}

static const struct alumet_source_ops test_source_counter_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = test_source_counter_poll,
    .free = test_source_counter_free,
};

static int test_source_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct test_source *ts = state;
    int r;

    if (ts->fail_start)
        return -EIO; /* err left empty on purpose: still a failure */
    if (ts->crash_start)
        raise(SIGSEGV);
    struct test_source_counter *c = calloc(1, sizeof(*c));
    if (!c)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    c->points_per_poll = (uint64_t)ts->points_per_poll;
    c->max_polls = (uint64_t)ts->max_polls;
    c->fail_at_poll = (uint64_t)ts->fail_at_poll;
    c->poll_delay = ts->poll_delay;
    if (ts->count_file) {
        size_t len = strlen(ts->count_file) + sizeof(".tmp");
        c->count_file = strdup(ts->count_file);
        c->count_tmp = malloc(len);
        if (!c->count_file || !c->count_tmp) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            goto err_free;
        }
        snprintf(c->count_tmp, len, "%s.tmp", ts->count_file);
    }
    r = alumet_create_metric(ctx, "test_counter", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
                             "sequence number of the point, from 0", &c->metric, err);
    if (r < 0)
        goto err_free;
    /* the count file exists (0) as soon as the source is registered */
    test_source_publish(c);
    struct alumet_source_opts opts = {
        .poll_interval = ts->poll_interval,
        .flush_interval = ts->flush_interval,
    };
    r = alumet_add_source(ctx, "counter", &test_source_counter_ops, c, &opts, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    free(c->count_file);
    free(c->count_tmp);
    free(c);
    return r;
}

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "test-source",
    .version = "0.1.0",
    .default_config = TEST_SOURCE_DEFAULT_CONFIG,
    .init = test_source_init,
    .start = test_source_start,
    .free = test_source_free,
};
