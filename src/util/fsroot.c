/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"

int fsroot_open(struct fsroot *root, const char *path)
{
    root->fd = -1;
    root->path = NULL;
    if (!path || !*path)
        return -EINVAL;

    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len == 1 && path[0] == '/')
        len = 0;
    char *copy = strndup(path, len);
    if (!copy)
        return -ENOMEM;

    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        free(copy);
        return r;
    }
    root->fd = fd;
    root->path = copy;
    return 0;
}

void fsroot_close(struct fsroot *root)
{
    if (root->fd >= 0)
        close(root->fd);
    root->fd = -1;
    free(root->path);
    root->path = NULL;
}

static const char *fsroot_rel(const char *rel)
{
    while (*rel == '/')
        rel++;
    return *rel ? rel : ".";
}

int fsroot_openat(const struct fsroot *root, const char *rel, int flags)
{
    if (root->fd < 0)
        return -EBADF;
    int fd = openat(root->fd, fsroot_rel(rel), flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int fsroot_opendir(const struct fsroot *root, const char *rel, DIR **ret_dir)
{
    int fd = fsroot_openat(root, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (!d) {
        int r = -errno;
        close(fd);
        return r;
    }
    *ret_dir = d;
    return 0;
}

ssize_t fsroot_readlink(const struct fsroot *root, const char *rel, char *buf, size_t size)
{
    if (root->fd < 0)
        return -EBADF;
    if (size == 0)
        return -ENAMETOOLONG;
    ssize_t n = readlinkat(root->fd, fsroot_rel(rel), buf, size);
    if (n < 0)
        return -errno;
    if ((size_t)n >= size)
        return -ENAMETOOLONG;
    buf[n] = '\0';
    return n;
}

size_t fsroot_path(const struct fsroot *root, const char *rel, char *buf, size_t size)
{
    while (*rel == '/')
        rel++;
    int n = snprintf(buf, size, "%s/%s", root->path ? root->path : "", rel);
    return n < 0 ? 0 : (size_t)n;
}
