/* SPDX-License-Identifier: MIT */
#include "privileges.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Read the start of the file rel below root_fd ("/" when negative) into buf
 * (size bytes, NUL-terminated). 0 or a negative errno. */
static int privileges_read_text(int root_fd, const char *rel, char *buf, size_t size)
{
    char path[PATH_MAX];
    int fd;

    if (root_fd >= 0) {
        fd = openat(root_fd, rel, O_RDONLY | O_CLOEXEC);
    } else {
        snprintf(path, sizeof(path), "/%s", rel);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return -errno;
    size_t len = 0;
    int r = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = -errno;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return r;
}

int privileges_read_paranoid(int root_fd, int *ret)
{
    char buf[32];
    int r = privileges_read_text(root_fd, PRIVILEGES_PARANOID_FILE, buf, sizeof(buf));
    if (r < 0)
        return r;
    /* "2\n" */
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (end == buf || errno || v < INT_MIN || v > INT_MAX)
        return -EINVAL;
    end += strspn(end, " \t\n");
    if (*end)
        return -EINVAL;
    *ret = (int)v;
    return 0;
}

int privileges_read_capeff(int root_fd, uint64_t *ret)
{
    char buf[8192];
    int r = privileges_read_text(root_fd, "proc/self/status", buf, sizeof(buf));
    if (r < 0)
        return r;
    /* "CapEff:\t000001ffffffffff", at the start of a line */
    const char *p = strstr(buf, "CapEff:");
    if (!p || (p != buf && p[-1] != '\n'))
        return -EINVAL;
    p += strlen("CapEff:");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 16);
    if (end == p || errno)
        return -EINVAL;
    *ret = v;
    return 0;
}
