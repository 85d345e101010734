/* SPDX-License-Identifier: MIT */
/* The file of an output that writes text (csv, jsonl): opened once at start,
 * truncated, written with write(2) across short writes, closed at the end.
 * It is also the byte sink of the plugins' buffered writers:
 *
 *     struct filesink f = FILESINK_INIT;
 *     r = filesink_open(&f, "alumet-output.csv");    (NULL: the standard output)
 *     w = csv_writer_new(&opts, filesink_write, &f);
 *     ...
 *     r = filesink_close(&f);
 *     filesink_done(&f);
 *
 * No logging: 0 or a negative errno, the plugin words the messages. Not
 * thread-safe: one output thread. */
#ifndef ALUMET_UTIL_FILESINK_H
#define ALUMET_UTIL_FILESINK_H

#include <stdbool.h>
#include <stddef.h>

struct filesink {
    int fd;           /* -1 when closed */
    char *path;       /* owned copy of the path; NULL: the standard output */
    bool truncatable; /* a regular file: filesink_write_whole can undo a part */
    bool reserve;     /* the last write found the disk full: reserve space first */
};

#define FILESINK_INIT                                                                              \
    {                                                                                              \
        -1, NULL, false, false                                                                     \
    }

/* Open path (borrowed, copied) for writing: created with mode 0666 (less the
 * umask) or truncated. NULL opens a duplicate of the standard output, so
 * that closing the sink leaves the process's own alone. 0, or -ENOMEM
 * (s->path stays NULL) or the errno of open/fcntl (s->path set, for the
 * message). s must be closed (FILESINK_INIT or after filesink_done). */
int filesink_open(struct filesink *s, const char *path);

/* Write all len bytes of bytes to the sink s (a struct filesink), across
 * short writes and EINTR. 0, -EIO when nothing could be written, or the
 * errno of write. Its signature is the one of the writers' sink functions. */
int filesink_write(void *s, const char *bytes, size_t len);

/* Like filesink_write, but all or nothing, so that a reader never finds half
 * a record and the same bytes can be written again once the cause is gone (a
 * full disk): when an error stops the write after a part of bytes went out,
 * the file is truncated back to where it was, and after a full disk the next
 * writes reserve their space first (fallocate; on ENOSPC or EDQUOT nothing is
 * written) until one succeeds, so that retries never show a cut record
 * either. Only when
 * s->truncatable (a regular file); otherwise a part may stay, as with
 * filesink_write. 0 or the errno of fallocate or write. */
int filesink_write_whole(void *s, const char *bytes, size_t len);

/* Close the file and report the error of close(2). 0 or a negative errno;
 * the sink is closed either way. */
int filesink_close(struct filesink *s);

/* Close the file without checking (idempotent) and free the path. */
void filesink_done(struct filesink *s);

#endif
