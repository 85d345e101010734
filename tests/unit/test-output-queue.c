/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>

#include "alumet-test.h"
#include "core/buffer.h"
#include "core/output-queue.h"

static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer con = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static struct alumet_buffer *make(uint64_t tag, size_t n)
{
    struct alumet_buffer *b = alumet__buffer_new(n);
    for (size_t i = 0; i < n; i++)
        alumet_buffer_push_u64(b, 0, 0, &res, &con, tag);
    return b;
}

static void test_drop_oldest_counts(void **state)
{
    (void)state;
    struct bqueue q;
    assert_int_equal(alumet__bqueue_init(&q, 2, ALUMET_QUEUE_DROP_OLDEST), 0);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(alumet__bqueue_push(&q, make(i, 3)), 0);
    assert_int_equal(q.dropped_buffers, 3);
    assert_int_equal(q.dropped_points, 9);
    struct alumet_buffer *b = alumet__bqueue_pop(&q);
    assert_int_equal(alumet_buffer_get(b, 0)->value.u64, 3); /* 0, 1, 2 were dropped */
    alumet__buffer_unref(b);
    alumet__bqueue_close(&q);
    b = alumet__bqueue_pop(&q); /* drained after close */
    assert_int_equal(alumet_buffer_get(b, 0)->value.u64, 4);
    alumet__buffer_unref(b);
    assert_null(alumet__bqueue_pop(&q));
    assert_int_equal(alumet__bqueue_push(&q, make(9, 1)), -EPIPE);
    alumet__bqueue_done(&q);
}

static void *consumer(void *arg)
{
    struct bqueue *q = arg;
    uint64_t expect = 0, bad = 0;
    struct alumet_buffer *b;
    while ((b = alumet__bqueue_pop(q))) {
        if (alumet_buffer_get(b, 0)->value.u64 != expect++)
            bad++;
        alumet__buffer_unref(b);
    }
    return (void *)(uintptr_t)(bad + (expect != 1000 ? 1000000 : 0));
}

static void test_block_is_lossless(void **state)
{
    (void)state;
    struct bqueue q;
    assert_int_equal(alumet__bqueue_init(&q, 4, ALUMET_QUEUE_BLOCK), 0);
    pthread_t t;
    pthread_create(&t, NULL, consumer, &q);
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(alumet__bqueue_push(&q, make(i, 1)), 0);
    alumet__bqueue_close(&q);
    void *ret;
    pthread_join(t, &ret);
    assert_int_equal((uintptr_t)ret, 0);
    assert_int_equal(q.dropped_buffers, 0);
    alumet__bqueue_done(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_oldest_counts),
        cmocka_unit_test(test_block_is_lossless),
    };
    return alumet_run_tests(tests);
}
