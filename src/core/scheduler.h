/* SPDX-License-Identifier: MIT */
/* Pure deadline arithmetic of the scheduler (tested with an injected clock). */
#ifndef ALUMET_CORE_SCHEDULER_H
#define ALUMET_CORE_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "alumet/time.h"

/* Next deadline after `deadline` for a source of period `period`, given that
 * the clock reads `now`: deadline + period, or, when ticks were missed, the
 * first tick start + k*period strictly after now (missed ticks collapse into
 * one, no burst, no drift). */
alumet_time_ns alumet__sched_next_deadline(alumet_time_ns deadline, alumet_time_ns period,
                                           alumet_time_ns now);

/* Polls between two flushes: max(1, floor(flush / poll)); 1 when flush is 0. */
uint64_t alumet__sched_flush_rounds(alumet_time_ns poll, alumet_time_ns flush);

/* Sources polled this often or more run at a real-time priority (upstream:
 * a period of 3 ms or less requests it). */
#define ALUMET_SCHED_RT_MAX_PERIOD (3 * ALUMET_NSEC_PER_MSEC)

/* Whether a source of this period asks for real-time scheduling: periodic
 * (not manual only) with 0 < period <= ALUMET_SCHED_RT_MAX_PERIOD. */
bool alumet__sched_wants_rt(alumet_time_ns period, bool manual_only);

/* The SCHED_FIFO priority of such sources, given the highest one the
 * system allows (sched_get_priority_max): max * 56 / 100, as upstream (55
 * on Linux, whose max is 99), and at least min. */
int alumet__sched_rt_priority(int min_prio, int max_prio);

#endif
