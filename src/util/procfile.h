/* SPDX-License-Identifier: MIT */
/* Files of /proc and /sys read the netdata way: opened once, then read from
 * offset 0 with pread into a buffer kept across reads, and parsed in place
 * with the small scanners below (no allocation per line, no sscanf).
 *
 *     struct procfile pf = PROCFILE_INIT;
 *     r = procfile_open(&pf, root_fd, "proc/stat", 4096);
 *     while (polling) {
 *         r = procfile_read(&pf);      (pf.buf holds the text, NUL-terminated)
 *         ...
 *     }
 *     procfile_close(&pf);
 *
 * A few /proc files do not support pread (some /proc/net files on old
 * kernels answer -ESPIPE): procfile then reopens the file for every read.
 * No logging. Not thread-safe: one owner at a time. */
#ifndef ALUMET_UTIL_PROCFILE_H
#define ALUMET_UTIL_PROCFILE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct procfile {
    int fd;      /* -1 when closed */
    int dirfd;   /* borrowed directory descriptor that path is relative to */
    char *path;  /* owned, relative to dirfd, to reopen */
    char *buf;   /* owned; text of the last read, NUL-terminated */
    size_t len;  /* bytes in buf, without the NUL */
    size_t cap;  /* allocated size of buf */
    bool reopen; /* pread is not supported: reopen for every read */
};

#define PROCFILE_INIT                                                                              \
    {                                                                                              \
        -1, -1, NULL, NULL, 0, 0, false                                                            \
    }

/* Open path (borrowed, relative to dirfd; dirfd is borrowed and must stay
 * open while pf is used) with a buffer of size_hint bytes (grown when the
 * file is larger). 0 or a negative errno from openat (-ENOENT, -EACCES,
 * -ESRCH...) or -ENOMEM; pf is left closed on failure. */
int procfile_open(struct procfile *pf, int dirfd, const char *path, size_t size_hint);

/* Read the whole file again from offset 0 into pf->buf (NUL-terminated,
 * length in pf->len). The buffer grows (doubling) when the file does not fit,
 * so reads after the first do not allocate. 0 or a negative errno: -ESRCH or
 * -ENOENT when the process of a /proc/<pid> file has gone, -ENOMEM. */
int procfile_read(struct procfile *pf);

/* Open the file again by its path (after -ENODEV, -ESTALE or -ENOENT from
 * procfile_read: the object it was open on has gone). 0 or a negative errno;
 * the file stays closed (fd -1) on failure and the next reopen tries again. */
int procfile_reopen(struct procfile *pf);

/* Close the file and release its memory (idempotent). */
void procfile_close(struct procfile *pf);

/* The limit of open files that procfs asks for to keep n_procs processes
 * open (two descriptors each, within a cap of half the limit), given the
 * current limit: current while its half holds 1.5 times their descriptors
 * (3 per process); else 8 per process (a cap of twice their 2 descriptors),
 * rounded up to a multiple of 1024, at most nr_open, never less than
 * current. Shared by procfs and doctor's check of it. */
long procfile_fd_limit_for(size_t n_procs, long current, long nr_open);

/* ---- scanners over a NUL-terminated text ---- */

/* A cursor over text; p never passes end (which points at the NUL). */
struct procfile_scan {
    const char *p;
    const char *end;
};

static inline struct procfile_scan procfile_scan_of(const char *text, size_t len)
{
    return (struct procfile_scan){text, text + len};
}

static inline bool procfile_scan_eof(const struct procfile_scan *s)
{
    return s->p >= s->end;
}

/* Skip spaces and tabs (not newlines). */
static inline void procfile_scan_blanks(struct procfile_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

/* Move to the first character of the next line (or to the end). */
static inline void procfile_scan_next_line(struct procfile_scan *s)
{
    while (s->p < s->end && *s->p != '\n')
        s->p++;
    if (s->p < s->end)
        s->p++;
}

/* Skip blanks, then read an unsigned decimal number. 0, -EINVAL when no digit
 * follows (the cursor is then left after the blanks), -ERANGE on overflow
 * (the digits are consumed). */
static inline int procfile_scan_u64(struct procfile_scan *s, uint64_t *ret)
{
    procfile_scan_blanks(s);
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return -EINVAL;
    uint64_t v = 0;
    bool overflow = false;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        unsigned d = (unsigned)(*s->p - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        v = v * 10 + d;
        s->p++;
    }
    if (overflow)
        return -ERANGE;
    *ret = v;
    return 0;
}

/* Skip blanks, then an optionally negative decimal number (the "-1" of some
 * /proc/<pid>/stat fields). Same returns as procfile_scan_u64. */
static inline int procfile_scan_i64(struct procfile_scan *s, int64_t *ret)
{
    procfile_scan_blanks(s);
    bool neg = s->p < s->end && *s->p == '-';
    if (neg)
        s->p++;
    uint64_t v;
    int r = procfile_scan_u64(s, &v);
    if (r < 0)
        return r;
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return -ERANGE;
    *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Skip blanks, then a word up to a blank, a newline or the end. *ret points
 * into the text (not NUL-terminated); returns its length (0 at a line end). */
static inline size_t procfile_scan_word(struct procfile_scan *s, const char **ret)
{
    procfile_scan_blanks(s);
    const char *start = s->p;
    while (s->p < s->end && *s->p != ' ' && *s->p != '\t' && *s->p != '\n')
        s->p++;
    *ret = start;
    return (size_t)(s->p - start);
}

/* Skip n blank-separated words of the current line. Returns how many were
 * skipped (fewer at the end of the line). */
static inline unsigned procfile_scan_skip_words(struct procfile_scan *s, unsigned n)
{
    unsigned i = 0;
    const char *w;
    for (; i < n; i++)
        if (procfile_scan_word(s, &w) == 0)
            break;
    return i;
}

/* Whether the cursor sits at the end of a line (after blanks). */
static inline bool procfile_scan_at_eol(struct procfile_scan *s)
{
    procfile_scan_blanks(s);
    return s->p >= s->end || *s->p == '\n';
}

#endif
