/* SPDX-License-Identifier: MIT */
#include "filesink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int filesink_open(struct filesink *s, const char *path)
{
    if (!path) {
        s->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        return s->fd < 0 ? -errno : 0;
    }
    s->path = strdup(path);
    if (!s->path)
        return -ENOMEM;
    s->fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s->fd < 0)
        return -errno;
    struct stat st;
    s->truncatable = fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode);
    return 0;
}

int filesink_write(void *data, const char *bytes, size_t len)
{
    struct filesink *s = data;

    while (len > 0) {
        ssize_t n = write(s->fd, bytes, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        bytes += n;
        len -= (size_t)n;
    }
    return 0;
}

int filesink_write_whole(void *data, const char *bytes, size_t len)
{
    struct filesink *s = data;
    off_t start = s->truncatable ? lseek(s->fd, 0, SEEK_CUR) : -1;

    /* once the disk was found full, the space first: nothing is written
     * until all of it is there, so that a reader never sees a cut row while
     * the writes are retried (file systems without fallocate fall back on the
     * truncation below) */
    if (start >= 0 && s->reserve && len > 0 &&
        fallocate(s->fd, FALLOC_FL_KEEP_SIZE, start, (off_t)len) < 0 &&
        (errno == ENOSPC || errno == EDQUOT))
        return -errno;
    int r = filesink_write(s, bytes, len);
    if (r < 0 && start >= 0) {
        /* shrinking needs no space: this works on a full disk */
        if (ftruncate(s->fd, start) == 0)
            lseek(s->fd, start, SEEK_SET);
    }
    s->reserve = r == -ENOSPC || r == -EDQUOT;
    return r;
}

int filesink_close(struct filesink *s)
{
    int r = close(s->fd);
    s->fd = -1;
    return r < 0 ? -errno : 0;
}

void filesink_done(struct filesink *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->path);
    s->path = NULL;
}
