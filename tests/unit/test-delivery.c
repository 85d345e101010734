/* SPDX-License-Identifier: MIT */
/* The delivery policy: retry in order, bounded waiting, counted drops. */
#include <errno.h>

#include "alumet-test.h"
#include "core/buffer.h"
#include "core/delivery.h"

static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer con = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

struct server {
    bool down;
    uint64_t received[64]; /* the first value of each write */
    size_t points[64];     /* the points of each write */
    size_t n;
    int fatal_at;
};

static int server_write(void *ctx, const struct alumet_buffer *buf, struct alumet_error *err)
{
    struct server *s = ctx;
    if (s->fatal_at && (int)s->n == s->fatal_at)
        return alumet_error_set(err, -EIO, "broken");
    if (s->down)
        return alumet_error_set(err, ALUMET_WRITE_RETRY, "connection refused");
    if (alumet_buffer_get(buf, 0)->value.u64 == 666)
        return ALUMET_WRITE_DROP;
    s->points[s->n] = alumet_buffer_len(buf);
    s->received[s->n++] = alumet_buffer_get(buf, 0)->value.u64;
    return 0;
}

static struct alumet_buffer *make(uint64_t v, size_t points)
{
    struct alumet_buffer *b = alumet__buffer_new(points);
    for (size_t i = 0; i < points; i++)
        alumet_buffer_push_u64(b, 0, 0, &res, &con, v);
    return b;
}

static void test_backoff_math(void **state)
{
    (void)state;
    alumet_time_ns ms = ALUMET_NSEC_PER_MSEC;
    assert_int_equal(alumet__delivery_next_backoff(0, 500 * ms, 30000 * ms), 500 * ms);
    assert_int_equal(alumet__delivery_next_backoff(500 * ms, 500 * ms, 30000 * ms), 1000 * ms);
    assert_int_equal(alumet__delivery_next_backoff(20000 * ms, 500 * ms, 30000 * ms), 30000 * ms);
    assert_int_equal(alumet__delivery_next_backoff(30000 * ms, 500 * ms, 30000 * ms), 30000 * ms);
    for (uint64_t r = 0; r < 1000; r += 7) {
        alumet_time_ns j = alumet__delivery_jitter(1000 * ms, r * 2654435761u);
        assert_true(j >= 750 * ms && j <= 1000 * ms);
    }
}

static void test_retry_keeps_order_and_recovers(void **state)
{
    (void)state;
    struct server s = {0};
    struct delivery d;
    struct alumet_delivery_opts o = {.retry = true, .initial_backoff = 1, .max_backoff = 1};
    alumet__delivery_init(&d, &o, "test/out", server_write, &s);
    struct alumet_error err = {0};
    assert_int_equal(alumet__delivery_submit(&d, make(0, 2), &err), 0);
    s.down = true;
    for (uint64_t i = 1; i <= 4; i++)
        assert_int_equal(alumet__delivery_submit(&d, make(i, 2), &err), 0);
    assert_int_equal(d.stats.pending_points, 8);
    assert_int_equal(alumet__delivery_deadline(&d) != INT64_MAX, 1);
    s.down = false;
    assert_int_equal(alumet__delivery_submit(&d, make(5, 2), &err), 0);
    assert_int_equal(alumet__delivery_service(&d, &err), 0);
    assert_int_equal(s.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(s.received[i], i); /* in order, nothing lost */
    assert_int_equal(d.stats.written_points, 12);
    assert_int_equal(d.stats.dropped_points, 0);
    assert_int_equal(d.stats.pending_points, 0);
    assert_false(d.failing);
    alumet__delivery_done(&d);
}

static void test_bounded_drops_oldest(void **state)
{
    (void)state;
    struct server s = {.down = true};
    struct delivery d;
    struct alumet_delivery_opts o = {
        .retry = true, .max_points = 6, .initial_backoff = ALUMET_NSEC_PER_SEC};
    alumet__delivery_init(&d, &o, "test/out", server_write, &s);
    struct alumet_error err = {0};
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(alumet__delivery_submit(&d, make(i, 2), &err), 0);
    assert_int_equal(d.stats.pending_points, 6);
    assert_int_equal(d.stats.dropped_points, 4); /* buffers 0 and 1 */
    s.down = false;
    d.next_retry = 0;
    assert_int_equal(alumet__delivery_service(&d, &err), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.received[0], 2);
    assert_int_equal(s.received[2], 4);
    alumet__delivery_done(&d);
}

static void test_no_retry_drops_and_fatal(void **state)
{
    (void)state;
    struct server s = {.down = true};
    struct delivery d;
    struct alumet_delivery_opts o = {.retry = false};
    alumet__delivery_init(&d, &o, "test/out", server_write, &s);
    struct alumet_error err = {0};
    assert_int_equal(alumet__delivery_submit(&d, make(0, 3), &err), 0);
    assert_int_equal(d.stats.dropped_points, 3);
    assert_int_equal(d.stats.pending_points, 0);
    s.down = false;
    assert_int_equal(alumet__delivery_submit(&d, make(666, 5), &err), 0); /* refused for good */
    assert_int_equal(d.stats.dropped_points, 8);
    assert_int_equal(d.stats.written_points, 0);
    s.fatal_at = 1;
    assert_int_equal(alumet__delivery_submit(&d, make(1, 1), &err), 0);
    assert_int_equal(alumet__delivery_submit(&d, make(2, 1), &err), -EIO);
    assert_string_equal(err.msg, "broken");
    alumet__delivery_done(&d);
}

static void test_drain_gives_up_and_counts(void **state)
{
    (void)state;
    struct server s = {.down = true};
    struct delivery d;
    struct alumet_delivery_opts o = {.retry = true,
                                     .initial_backoff = ALUMET_NSEC_PER_MSEC,
                                     .drain_timeout = 20 * ALUMET_NSEC_PER_MSEC};
    alumet__delivery_init(&d, &o, "test/out", server_write, &s);
    struct alumet_error err = {0};
    assert_int_equal(alumet__delivery_submit(&d, make(0, 4), &err), 0);
    alumet__delivery_drain(&d, INT64_MAX);
    assert_int_equal(d.stats.dropped_points, 4);
    assert_int_equal(d.len, 0);
    alumet__delivery_done(&d);
}

/* A batch period: the buffers are merged and written once per period, in
 * order, and what is merged is written at shutdown. */
static void test_batch_merges_until_due(void **state)
{
    (void)state;
    struct server s = {0};
    struct delivery d;
    struct alumet_delivery_opts o = {.retry = true};
    alumet__delivery_init(&d, &o, "test/out", server_write, &s);
    d.batch_period = 3600 * ALUMET_NSEC_PER_SEC;
    struct alumet_error err = {0};
    alumet_time_ns before = alumet_time_monotonic();
    assert_int_equal(alumet__delivery_submit(&d, make(1, 2), &err), 0);
    assert_int_equal(alumet__delivery_submit(&d, make(2, 3), &err), 0);
    assert_int_equal(alumet__delivery_submit(&d, make(3, 0), &err), 0);
    assert_int_equal(alumet__delivery_submit(&d, make(4, 1), &err), 0);
    assert_int_equal(alumet__delivery_service(&d, &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(d.stats.pending_points, 6);
    assert_true(alumet__delivery_deadline(&d) >= before + 3600 * ALUMET_NSEC_PER_SEC);
    assert_true(alumet__delivery_deadline(&d) < INT64_MAX);

    d.batch_due = alumet_time_monotonic() - 1; /* the period has passed */
    assert_int_equal(alumet__delivery_service(&d, &err), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.points[0], 6);
    assert_int_equal(s.received[0], 1);
    assert_int_equal(d.stats.written_points, 6);
    assert_int_equal(d.stats.pending_points, 0);
    assert_int_equal(alumet__delivery_deadline(&d), INT64_MAX);

    assert_int_equal(alumet__delivery_submit(&d, make(5, 2), &err), 0);
    assert_int_equal(s.n, 1);
    alumet__delivery_drain(&d, INT64_MAX); /* shutdown: the batch is written */
    assert_int_equal(s.n, 2);
    assert_int_equal(s.points[1], 2);
    assert_int_equal(s.received[1], 5);
    assert_int_equal(d.stats.written_points, 8);
    assert_int_equal(d.stats.dropped_points, 0);
    alumet__delivery_done(&d);
}

static void test_batch_failed_write_is_retried(void **state)
{
    (void)state;
    struct server s = {.down = true};
    struct delivery d;
    struct alumet_delivery_opts o = {.retry = true, .initial_backoff = 1, .max_backoff = 1};
    alumet__delivery_init(&d, &o, "test/out", server_write, &s);
    d.batch_period = 3600 * ALUMET_NSEC_PER_SEC;
    struct alumet_error err = {0};
    assert_int_equal(alumet__delivery_submit(&d, make(1, 2), &err), 0);
    assert_int_equal(alumet__delivery_submit(&d, make(2, 2), &err), 0);
    d.batch_due = alumet_time_monotonic() - 1;
    assert_int_equal(alumet__delivery_service(&d, &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(d.len, 1); /* the batch waits for a retry */
    assert_int_equal(d.stats.retried_writes, 1);
    assert_int_equal(d.stats.pending_points, 4);
    s.down = false;
    assert_int_equal(alumet__delivery_submit(&d, make(3, 1), &err), 0);
    assert_int_equal(s.n, 1); /* the retry, not the new batch */
    assert_int_equal(s.points[0], 4);
    alumet__delivery_drain(&d, INT64_MAX);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.points[1], 1);
    assert_int_equal(s.received[1], 3);
    assert_int_equal(d.stats.written_points, 5);
    assert_int_equal(d.stats.dropped_points, 0);
    alumet__delivery_done(&d);
}

static void test_batch_full_is_written_at_once(void **state)
{
    (void)state;
    struct server s = {0};
    struct delivery d;
    struct alumet_delivery_opts o = {.retry = true, .max_points = 5};
    alumet__delivery_init(&d, &o, "test/out", server_write, &s);
    d.batch_period = 3600 * ALUMET_NSEC_PER_SEC;
    struct alumet_error err = {0};
    assert_int_equal(alumet__delivery_submit(&d, make(1, 3), &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(alumet__delivery_submit(&d, make(2, 3), &err), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.points[0], 6);
    alumet__delivery_done(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_math),
        cmocka_unit_test(test_retry_keeps_order_and_recovers),
        cmocka_unit_test(test_bounded_drops_oldest),
        cmocka_unit_test(test_no_retry_drops_and_fatal),
        cmocka_unit_test(test_drain_gives_up_and_counts),
        cmocka_unit_test(test_batch_merges_until_due),
        cmocka_unit_test(test_batch_failed_write_is_retried),
        cmocka_unit_test(test_batch_full_is_written_at_once),
    };
    return alumet_run_tests(tests);
}
