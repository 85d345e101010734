/* SPDX-License-Identifier: MIT */
/* A thin wrapper over perf_event_open(2) for counting (not sampling): open,
 * enable, read one counter with its enabled and running times. No logging:
 * the caller explains failures (see plugins/perf/perf-explain.c). */
#ifndef ALUMET_UTIL_PERF_EVENT_H
#define ALUMET_UTIL_PERF_EVENT_H

#include <linux/perf_event.h>
#include <stdint.h>
#include <sys/types.h>

/* The read_format that perf_event_read_count expects. */
#define PERF_EVENT_READ_FORMAT (PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING)

/* One read of a counter opened with PERF_EVENT_READ_FORMAT. */
struct perf_event_count {
    uint64_t value;        /* events counted while on the PMU */
    uint64_t time_enabled; /* ns during which the counter was enabled */
    uint64_t time_running; /* ns during which it was really on the PMU (multiplexing) */
};

/* perf_event_open(attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC).
 * attr is borrowed. Returns the new fd, or a negative errno (-ENOSYS when the
 * kernel has no perf_event_open). */
int perf_event_open_fd(const struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                       unsigned long flags);

/* PERF_EVENT_IOC_ENABLE / _DISABLE / _RESET on fd. 0 or a negative errno. */
int perf_event_enable(int fd);
int perf_event_disable(int fd);
int perf_event_reset(int fd);

/* Read the counter of fd (opened with read_format = PERF_EVENT_READ_FORMAT).
 * 0 and *ret, -EIO on a short read, or a negative errno. */
int perf_event_read_count(int fd, struct perf_event_count *ret);

#endif
