/* SPDX-License-Identifier: MIT */
/* The instant of a source's reads. A poll is called with the instant it
 * stands for, but its thread may be preempted before it reads the hardware
 * (tens of ms on a loaded machine): stamped with that instant, the energy of
 * the delay goes to the wrong interval, and exec bills it to a short program
 * or not. A source that measures energy reads the clock around its reads and
 * stamps their points at the middle:
 *
 *     alumet_time_ns from = read_clock_now(&clock);
 *     ... read the counters ...
 *     now = read_clock_middle(from, read_clock_now(&clock));
 *
 * The tests set the clock (now, data) to their own; zeroed, it is
 * alumet_time_now. */
#ifndef ALUMET_UTIL_READ_CLOCK_H
#define ALUMET_UTIL_READ_CLOCK_H

#include "alumet/time.h"

struct read_clock {
    alumet_time_ns (*now)(void *data); /* NULL: alumet_time_now */
    void *data;
};

static inline alumet_time_ns read_clock_now(const struct read_clock *c)
{
    return c->now ? c->now(c->data) : alumet_time_now();
}

static inline alumet_time_ns read_clock_middle(alumet_time_ns from, alumet_time_ns to)
{
    return to > from ? from + (to - from) / 2 : from;
}

#endif
