/* SPDX-License-Identifier: MIT */
/* The facts that decide whether this process may use perf_event_open: the
 * sysctl kernel.perf_event_paranoid and the effective capabilities, read
 * below a proc root (a fixture tree in tests, the host's /proc in a
 * container). The plugins (perf, rapl) turn them into advice, each in its
 * own words. No logging. */
#ifndef ALUMET_UTIL_PRIVILEGES_H
#define ALUMET_UTIL_PRIVILEGES_H

#include <stdbool.h>
#include <stdint.h>

/* Bits of the capability sets (linux/capability.h). */
#define PRIVILEGES_CAP_SYS_NICE 23 /* real-time scheduling */
#define PRIVILEGES_CAP_SYS_ADMIN 21
#define PRIVILEGES_CAP_PERFMON 38 /* Linux 5.8 and later */

/* Where kernel.perf_event_paranoid is, below the proc root. */
#define PRIVILEGES_PARANOID_FILE "proc/sys/kernel/perf_event_paranoid"

/* kernel.perf_event_paranoid, read below root_fd (a directory descriptor;
 * negative: "/"). 0 and *ret, -EINVAL when the file does not hold one
 * integer (white space after it allowed), or the errno of open or read. */
int privileges_read_paranoid(int root_fd, int *ret);

/* The effective capabilities of this process (the CapEff line of
 * proc/self/status below root_fd, as privileges_read_paranoid). 0 and *ret,
 * -EINVAL without a readable CapEff line, or the errno of open or read. */
int privileges_read_capeff(int root_fd, uint64_t *ret);

/* Whether the capability set caps holds bit cap. */
static inline bool privileges_has_cap(uint64_t caps, int cap)
{
    return (caps >> cap) & 1;
}

#endif
