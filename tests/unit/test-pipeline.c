/* SPDX-License-Identifier: MIT */
/* The pipeline in-process: conservation of points through transforms to
 * every output, clean stop, trigger-now, flush-now, pause, bad patterns. */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "alumet-test.h"
#include "core/buffer.h"
#include "core/pipeline.h"
#include "core/registry.h"

static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer con = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

struct counters {
    atomic_ulong polled, transformed_in, written[2];
    atomic_ulong polls;
};

static int src_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                    struct alumet_error *err)
{
    (void)err;
    struct counters *c = data;
    for (int i = 0; i < 3; i++)
        alumet_buffer_push_u64(buf, now, 0, &res, &con, (uint64_t)i);
    atomic_fetch_add(&c->polled, 3);
    atomic_fetch_add(&c->polls, 1);
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops src_ops = {ALUMET_SOURCE_OPS_V1, src_poll, NULL, NULL};

/* doubles every point */
static int tr_apply(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                    struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct counters *c = data;
    size_t n = alumet_buffer_len(buf);
    atomic_fetch_add(&c->transformed_in, n);
    for (size_t i = 0; i < n; i++)
        if (!alumet_buffer_push_copy(buf, buf, alumet_buffer_get(buf, i)))
            return -ENOMEM;
    return 0;
}

static const struct alumet_transform_ops tr_ops = {ALUMET_TRANSFORM_OPS_V1, tr_apply, NULL, NULL};

struct out {
    struct counters *c;
    int i;
};

static int out_write(void *data, const struct alumet_buffer *buf, const struct alumet_registry *reg,
                     struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct out *o = data;
    atomic_fetch_add(&o->c->written[o->i], alumet_buffer_len(buf));
    return 0;
}

static const struct alumet_output_ops out_ops = {ALUMET_OUTPUT_OPS_V1, out_write, NULL, NULL};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static struct alumet_pipeline *make(struct counters *c, struct out outs[2], bool manual)
{
    struct pipeline_settings s = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    struct alumet_error err = {0};
    struct alumet_source_opts o = {.poll_interval = 5 * ALUMET_NSEC_PER_MSEC,
                                   .flush_interval = 20 * ALUMET_NSEC_PER_MSEC,
                                   .manual_only = manual};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "src", &src_ops, c, &o, &err), 0);
    assert_int_equal(alumet__pipeline_add_transform(p, "t", "double", &tr_ops, c, &err), 0);
    for (int i = 0; i < 2; i++) {
        outs[i] = (struct out){c, i};
        char name[8];
        snprintf(name, sizeof(name), "out%d", i);
        assert_int_equal(alumet__pipeline_add_output(p, "t", name, &out_ops, &outs[i], NULL, &err),
                         0);
    }
    return p;
}

static void test_conservation(void **state)
{
    (void)state;
    struct counters c = {0};
    struct out outs[2];
    struct alumet_pipeline *p = make(&c, outs, false);
    struct alumet_error err = {0};
    /* duplicate names are refused */
    struct alumet_source_opts o = {.poll_interval = ALUMET_NSEC_PER_SEC};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "src", &src_ops, &c, &o, &err), -EEXIST);
    assert_string_equal(err.msg, "duplicate name: t/src");
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    sleep_ms(200);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    unsigned long polled = atomic_load(&c.polled);
    assert_true(polled >= 3 * 10); /* ~40 polls in 200 ms at 5 ms */
    assert_int_equal(atomic_load(&c.transformed_in), polled);
    assert_int_equal(atomic_load(&c.written[0]), 2 * polled);
    assert_int_equal(atomic_load(&c.written[1]), 2 * polled);
    alumet__pipeline_free(p);
}

static void test_trigger_and_controls(void **state)
{
    (void)state;
    struct counters c = {0};
    struct out outs[2];
    struct alumet_pipeline *p = make(&c, outs, true);
    struct alumet_error err = {0};
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    sleep_ms(30);
    assert_int_equal(atomic_load(&c.polls), 0); /* manual only: never polled by itself */
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(atomic_load(&c.polls), 1); /* polled once, before the call returned */
    assert_int_equal(alumet_pipeline_control(p, "src/t/*", ALUMET_CONTROL_TRIGGER_NOW, 0, &err), 1);
    assert_int_equal(alumet_pipeline_control(p, "tra/t/double", ALUMET_CONTROL_DISABLE, 0, &err),
                     1);
    assert_int_equal(alumet_pipeline_control(p, "out/nope/*", ALUMET_CONTROL_DISABLE, 0, &err), 0);
    assert_int_equal(alumet_pipeline_control(p, "foo/t/x", ALUMET_CONTROL_PAUSE, 0, &err), -EINVAL);
    assert_int_equal(alumet_pipeline_control(p, "t/src", ALUMET_CONTROL_SET_INTERVAL, 0, &err),
                     -EINVAL);
    assert_int_equal(alumet_pipeline_control(p, "t/src", ALUMET_CONTROL_FLUSH_NOW, 0, &err), 1);
    sleep_ms(30);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    /* 2 polls x 3 points; the first buffer was doubled (transform enabled) */
    assert_int_equal(atomic_load(&c.polled), 6);
    unsigned long w = atomic_load(&c.written[0]);
    assert_true(w == 6 || w == 9 || w == 12);
    assert_int_equal(atomic_load(&c.written[1]), w);
    alumet__pipeline_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_trigger_and_controls),
    };
    return alumet_run_tests(tests);
}
