/* SPDX-License-Identifier: MIT */
#include "scheduler.h"

alumet_time_ns alumet__sched_next_deadline(alumet_time_ns deadline, alumet_time_ns period,
                                           alumet_time_ns now)
{
    alumet_time_ns next = deadline + period;
    if (next <= now) {
        alumet_time_ns missed = (now - deadline) / period;
        next = deadline + (missed + 1) * period;
    }
    return next;
}

uint64_t alumet__sched_flush_rounds(alumet_time_ns poll, alumet_time_ns flush)
{
    if (poll <= 0 || flush <= 0)
        return 1;
    uint64_t n = (uint64_t)(flush / poll);
    return n ? n : 1;
}

bool alumet__sched_wants_rt(alumet_time_ns period, bool manual_only)
{
    return !manual_only && period > 0 && period <= ALUMET_SCHED_RT_MAX_PERIOD;
}

int alumet__sched_rt_priority(int min_prio, int max_prio)
{
    int prio = max_prio * 56 / 100;
    return prio < min_prio ? min_prio : prio;
}
