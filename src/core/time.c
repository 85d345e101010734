/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "alumet/time.h"

static alumet_time_ns time_read(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (alumet_time_ns)ts.tv_sec * ALUMET_NSEC_PER_SEC + ts.tv_nsec;
}

alumet_time_ns alumet_time_now(void)
{
    return time_read(CLOCK_REALTIME);
}

alumet_time_ns alumet_time_monotonic(void)
{
    return time_read(CLOCK_MONOTONIC);
}
