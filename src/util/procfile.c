/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfile.h"

int procfile_open(struct procfile *pf, int dirfd, const char *path, size_t size_hint)
{
    *pf = (struct procfile)PROCFILE_INIT;
    if (size_hint < 64)
        size_hint = 64;

    char *p = strdup(path);
    char *buf = malloc(size_hint);
    if (!p || !buf) {
        free(p);
        free(buf);
        return -ENOMEM;
    }
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        free(p);
        free(buf);
        return r;
    }
    buf[0] = '\0';
    *pf = (struct procfile){.fd = fd, .dirfd = dirfd, .path = p, .buf = buf, .cap = size_hint};
    return 0;
}

void procfile_close(struct procfile *pf)
{
    if (pf->fd >= 0)
        close(pf->fd);
    free(pf->path);
    free(pf->buf);
    *pf = (struct procfile)PROCFILE_INIT;
}

/* Read from offset off (pread, or read after a reopen). */
static ssize_t procfile_pread(struct procfile *pf, size_t off)
{
    ssize_t n;
    do {
        if (pf->reopen)
            n = read(pf->fd, pf->buf + off, pf->cap - off - 1);
        else
            n = pread(pf->fd, pf->buf + off, pf->cap - off - 1, (off_t)off);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int procfile_reopen(struct procfile *pf)
{
    if (!pf->path)
        return -EBADF;
    if (pf->fd >= 0)
        close(pf->fd);
    pf->fd = openat(pf->dirfd, pf->path, O_RDONLY | O_CLOEXEC);
    return pf->fd < 0 ? -errno : 0;
}

int procfile_read(struct procfile *pf)
{
    if (!pf->buf || (pf->fd < 0 && !pf->reopen))
        return -EBADF;
    pf->len = 0;
    pf->buf[0] = '\0';
    if (pf->reopen) {
        int r = procfile_reopen(pf);
        if (r < 0)
            return r;
    }
    /* seq_file answers at most about a page per call for files made of many
     * records (/proc/net/dev), so read until end of file */
    for (;;) {
        if (pf->len + 1 >= pf->cap) {
            size_t ncap = pf->cap * 2;
            char *nbuf = realloc(pf->buf, ncap);
            if (!nbuf)
                return -ENOMEM;
            pf->buf = nbuf;
            pf->cap = ncap;
        }
        ssize_t n = procfile_pread(pf, pf->len);
        if (n == -ESPIPE && !pf->reopen && pf->len == 0) {
            /* the file cannot be read at an offset: reopen it on every read */
            pf->reopen = true;
            int r = procfile_reopen(pf);
            if (r < 0)
                return r;
            continue;
        }
        if (n < 0) {
            pf->len = 0;
            pf->buf[0] = '\0';
            return (int)n;
        }
        if (n == 0)
            break;
        pf->len += (size_t)n;
    }
    pf->buf[pf->len] = '\0';
    return 0;
}

long procfile_fd_limit_for(size_t n_procs, long current, long nr_open)
{
    long n = n_procs > (size_t)(LONG_MAX / 16) ? LONG_MAX / 16 : (long)n_procs;
    if (current / 2 >= 3 * n)
        return current; /* the cap covers 1.5 times the processes */
    long want = (8 * n + 1023) / 1024 * 1024;
    if (want > nr_open)
        want = nr_open;
    return want > current ? want : current;
}
