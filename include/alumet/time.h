/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_TIME_H
#define ALUMET_TIME_H

#include <stdint.h>

#include "export.h"

/* The one time type: nanoseconds. Used for wall-clock timestamps (since the
 * UNIX epoch) and for durations. */
typedef int64_t alumet_time_ns;

#define ALUMET_NSEC_PER_USEC ((alumet_time_ns)1000)
#define ALUMET_NSEC_PER_MSEC ((alumet_time_ns)1000000)
#define ALUMET_NSEC_PER_SEC ((alumet_time_ns)1000000000)

/* Wall clock (CLOCK_REALTIME) now. Thread-safe. */
ALUMET_API alumet_time_ns alumet_time_now(void);

/* Monotonic clock (CLOCK_MONOTONIC) now, for intervals. Thread-safe. */
ALUMET_API alumet_time_ns alumet_time_monotonic(void);

#endif
