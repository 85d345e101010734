/* SPDX-License-Identifier: MIT */
/* Pure deadline arithmetic of the scheduler (tested with an injected clock). */
#ifndef ALUMET_CORE_SCHEDULER_H
#define ALUMET_CORE_SCHEDULER_H

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

#endif
