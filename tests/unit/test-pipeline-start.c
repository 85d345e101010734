/* SPDX-License-Identifier: MIT */
/* The start of the pipeline as a transaction: when the Nth thread cannot
 * be created, the start fails with a message naming it, the stop joins
 * exactly the threads that were created (never one that was not), and
 * every point measured by the sources that did start reaches the outputs.
 * pthread_create is wrapped (-Wl,--wrap=pthread_create) to fail on demand. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "alumet-test.h"
#include "core/pipeline.h"

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

static atomic_int creates, fail_at; /* fail the fail_at-th creation (1-based), 0: never */

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    int n = atomic_fetch_add(&creates, 1) + 1;
    if (n == atomic_load(&fail_at))
        return EAGAIN;
    return __real_pthread_create(t, a, fn, arg);
}

static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer con = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
static atomic_ulong produced, written;

static int src_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                    struct alumet_error *err)
{
    (void)data;
    (void)err;
    alumet_buffer_push_u64(buf, now, 0, &res, &con, 1);
    atomic_fetch_add(&produced, 1);
    return ALUMET_POLL_OK;
}

static int out_write(void *data, const struct alumet_buffer *buf, const struct alumet_registry *reg,
                     struct alumet_error *err)
{
    (void)data;
    (void)reg;
    (void)err;
    atomic_fetch_add(&written, alumet_buffer_len(buf));
    return 0;
}

static atomic_ulong transformed;

static int tf_apply(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                    struct alumet_error *err)
{
    (void)data;
    (void)reg;
    (void)err;
    atomic_fetch_add(&transformed, alumet_buffer_len(buf));
    return 0;
}

static const struct alumet_source_ops src_ops = {ALUMET_SOURCE_OPS_V1, src_poll, NULL, NULL};
static const struct alumet_output_ops out_ops = {ALUMET_OUTPUT_OPS_V1, out_write, NULL, NULL};
static const struct alumet_transform_ops tf_ops = {.version = ALUMET_TRANSFORM_OPS_V1,
                                                   .apply = tf_apply};

/* Threads in creation order: 2 outputs, the transform thread (only with a
 * transform: without, the sources push straight to the outputs), 3 sources. */
static void start_failing_at(int n, bool transform, const char *want)
{
    atomic_store(&creates, 0);
    atomic_store(&fail_at, n);
    atomic_store(&produced, 0);
    atomic_store(&written, 0);
    atomic_store(&transformed, 0);
    struct pipeline_settings s = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    struct alumet_error err = {0};
    struct alumet_source_opts o = {.poll_interval = ALUMET_NSEC_PER_MSEC};
    assert_int_equal(alumet__pipeline_add_output(p, "t", "out0", &out_ops, NULL, NULL, &err), 0);
    assert_int_equal(alumet__pipeline_add_output(p, "t", "out1", &out_ops, NULL, NULL, &err), 0);
    assert_int_equal(alumet__pipeline_add_source(p, "t", "a", &src_ops, NULL, &o, &err), 0);
    assert_int_equal(alumet__pipeline_add_source(p, "t", "b", &src_ops, NULL, &o, &err), 0);
    assert_int_equal(alumet__pipeline_add_source(p, "t", "c", &src_ops, NULL, &o, &err), 0);
    if (transform)
        assert_int_equal(alumet__pipeline_add_transform(p, "t", "tf", &tf_ops, NULL, &err), 0);
    assert_int_equal(alumet__pipeline_start(p, &err), -EAGAIN);
    assert_string_equal(err.msg, want);
    /* the abort path: joins what exists, loses nothing of what was measured */
    alumet__pipeline_stop(p);
    alumet__pipeline_free(p);
    assert_int_equal(atomic_load(&creates), n);
    assert_int_equal(atomic_load(&written), 2 * atomic_load(&produced));
    assert_int_equal(atomic_load(&transformed), transform ? atomic_load(&produced) : 0);
}

static void test_output_thread_fails(void **state)
{
    (void)state;
    start_failing_at(2, true, "cannot start output t/out1: Resource temporarily unavailable");
}

static void test_transform_thread_fails(void **state)
{
    (void)state;
    start_failing_at(3, true,
                     "cannot start the transform thread: Resource temporarily unavailable");
}

static void test_source_thread_fails(void **state)
{
    (void)state;
    start_failing_at(5, true, "cannot start source t/b: Resource temporarily unavailable");
}

/* Without a transform there is no transform thread: the third thread is
 * the first source's, and the points reach both outputs all the same. */
static void test_no_transform_thread(void **state)
{
    (void)state;
    start_failing_at(3, false, "cannot start source t/a: Resource temporarily unavailable");
    start_failing_at(5, false, "cannot start source t/c: Resource temporarily unavailable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_thread_fails),
        cmocka_unit_test(test_transform_thread_fails),
        cmocka_unit_test(test_source_thread_fails),
        cmocka_unit_test(test_no_transform_thread),
    };
    return alumet_run_tests(tests);
}
