/* SPDX-License-Identifier: MIT */
/* Deadline logic of the scheduler, with an injected clock. */
#include "alumet-test.h"
#include "core/scheduler.h"

#define MS ALUMET_NSEC_PER_MSEC

static void test_next_deadline_on_time(void **state)
{
    (void)state;
    /* polled right at its deadline: next tick one period later, no drift */
    assert_int_equal(alumet__sched_next_deadline(1000 * MS, 100 * MS, 1000 * MS), 1100 * MS);
    /* polled late but within the period: still start + k*period */
    assert_int_equal(alumet__sched_next_deadline(1000 * MS, 100 * MS, 1090 * MS), 1100 * MS);
}

static void test_next_deadline_drift_free(void **state)
{
    (void)state;
    /* simulate 1000 polls, each taking 3 ms: the deadlines never drift */
    alumet_time_ns start = 5 * ALUMET_NSEC_PER_SEC, d = start;
    for (int i = 0; i < 1000; i++) {
        alumet_time_ns now = d + 3 * MS;
        d = alumet__sched_next_deadline(d, 10 * MS, now);
    }
    assert_int_equal(d, start + 1000 * 10 * MS);
}

static void test_missed_ticks_collapse(void **state)
{
    (void)state;
    /* a poll that took 350 ms on a 100 ms period: ticks 1100, 1200, 1300 are
     * missed; the next one is 1400, not a burst of three */
    assert_int_equal(alumet__sched_next_deadline(1000 * MS, 100 * MS, 1350 * MS), 1400 * MS);
    /* exactly on a missed tick: strictly after now */
    assert_int_equal(alumet__sched_next_deadline(1000 * MS, 100 * MS, 1300 * MS), 1400 * MS);
}

static void test_flush_rounds(void **state)
{
    (void)state;
    /* upstream's table (poll s, flush s) -> rounds */
    const struct {
        int poll, flush;
        uint64_t rounds;
    } cases[] = {{1, 1, 1},   {1, 2, 2},   {2, 1, 1},   {2, 2, 1},
                 {22, 44, 2}, {21, 44, 2}, {22, 88, 4}, {1, 0, 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(alumet__sched_flush_rounds(cases[i].poll * ALUMET_NSEC_PER_SEC,
                                                    cases[i].flush * ALUMET_NSEC_PER_SEC),
                         cases[i].rounds);
    assert_int_equal(alumet__sched_flush_rounds(MS, 5 * ALUMET_NSEC_PER_SEC), 5000);
}

static void test_wants_rt(void **state)
{
    (void)state;
    /* upstream: a period of 3 ms or less requests real-time priority */
    assert_true(alumet__sched_wants_rt(3 * MS, false));
    assert_true(alumet__sched_wants_rt(MS, false));
    assert_true(alumet__sched_wants_rt(100000, false));
    assert_false(alumet__sched_wants_rt(3 * MS + 1, false));
    assert_false(alumet__sched_wants_rt(ALUMET_NSEC_PER_SEC, false));
    /* polled on demand only: no period to keep */
    assert_false(alumet__sched_wants_rt(MS, true));
    assert_false(alumet__sched_wants_rt(0, false));
}

static void test_rt_priority(void **state)
{
    (void)state;
    /* Linux: SCHED_FIFO priorities 1..99 -> 55, as upstream's max * 56 / 100 */
    assert_int_equal(alumet__sched_rt_priority(1, 99), 55);
    assert_int_equal(alumet__sched_rt_priority(1, 100), 56);
    assert_int_equal(alumet__sched_rt_priority(1, 31), 17);
    /* never below the lowest valid priority */
    assert_int_equal(alumet__sched_rt_priority(1, 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_deadline_on_time),
        cmocka_unit_test(test_next_deadline_drift_free),
        cmocka_unit_test(test_missed_ticks_collapse),
        cmocka_unit_test(test_flush_rounds),
        cmocka_unit_test(test_wants_rt),
        cmocka_unit_test(test_rt_priority),
    };
    return alumet_run_tests(tests);
}
