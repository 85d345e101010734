/* SPDX-License-Identifier: MIT */
#include "perf-event.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int perf_event_open_fd(const struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                       unsigned long flags)
{
    long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC);
    if (fd < 0)
        return -errno;
    return (int)fd;
}

static int perf_event_ioctl(int fd, unsigned long request)
{
    if (ioctl(fd, request, 0) < 0)
        return -errno;
    return 0;
}

int perf_event_enable(int fd)
{
    return perf_event_ioctl(fd, PERF_EVENT_IOC_ENABLE);
}

int perf_event_disable(int fd)
{
    return perf_event_ioctl(fd, PERF_EVENT_IOC_DISABLE);
}

int perf_event_reset(int fd)
{
    return perf_event_ioctl(fd, PERF_EVENT_IOC_RESET);
}

int perf_event_read_count(int fd, struct perf_event_count *ret)
{
    uint64_t v[3];
    ssize_t n;

    while ((n = read(fd, v, sizeof(v))) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return -errno;
    if (n != (ssize_t)sizeof(v))
        return -EIO;
    *ret = (struct perf_event_count){.value = v[0], .time_enabled = v[1], .time_running = v[2]};
    return 0;
}
