/* SPDX-License-Identifier: MIT */
/* An injectable filesystem root: "/" on a real machine, a fixture tree in
 * tests, "/host" in a container that mounts the host's /proc there. The root
 * is opened once as a directory descriptor and every file below it is opened
 * relative to it, fd first and path second:
 *
 *     struct fsroot proc;
 *     r = fsroot_open(&proc, "/");
 *     fd = fsroot_openat(&proc, "proc/stat", O_RDONLY);
 *
 * No logging, no allocation after fsroot_open. */
#ifndef ALUMET_UTIL_FSROOT_H
#define ALUMET_UTIL_FSROOT_H

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

struct fsroot {
    int fd;     /* O_PATH directory descriptor, -1 when closed */
    char *path; /* owned copy of the root without its trailing '/' ("" for "/") */
};

#define FSROOT_INIT                                                                                \
    {                                                                                              \
        -1, NULL                                                                                   \
    }

/* Open the directory path (borrowed) as the root. 0, or a negative errno
 * (-ENOENT, -ENOTDIR, -EACCES, -ENOMEM); root is left closed on failure. */
int fsroot_open(struct fsroot *root, const char *path);

/* Close the root (idempotent; a closed or zeroed-by-FSROOT_INIT root is fine). */
void fsroot_close(struct fsroot *root);

/* Open rel (borrowed, relative to the root; a leading '/' is ignored) with
 * flags | O_CLOEXEC. Returns the new descriptor (caller closes) or a negative
 * errno. */
int fsroot_openat(const struct fsroot *root, const char *rel, int flags);

/* Open the directory rel for reading; *ret_dir is owned by the caller
 * (closedir). 0 or a negative errno. */
int fsroot_opendir(const struct fsroot *root, const char *rel, DIR **ret_dir);

/* Read the target of the symbolic link rel into buf (NUL-terminated).
 * Returns its length, -ENAMETOOLONG when it does not fit, or a negative errno. */
ssize_t fsroot_readlink(const struct fsroot *root, const char *rel, char *buf, size_t size);

/* The full path of rel for messages ("/proc/stat", "/srv/fixture/proc/stat").
 * Writes at most size bytes (NUL-terminated); returns the length the full
 * text needs, like snprintf. */
size_t fsroot_path(const struct fsroot *root, const char *rel, char *buf, size_t size);

#endif
