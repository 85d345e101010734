/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pathcheck.h"

/* The directory part of path ("." for a bare name, "/" for "/x"). */
static void pathcheck_dir(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, size, ".");
        return;
    }
    size_t len = (size_t)(slash - path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    if (len == 0)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)len, path);
}

static const char pathcheck_other[] = "choose another path";

int pathcheck_writable(const char *path, enum pathcheck_kind kind, char *why, size_t size)
{
    char dir[4096];
    struct stat st;

    if (path[strlen(path) - 1] == '/') {
        snprintf(why, size, "'%s' names a directory: expected the path of a %s in it", path,
                 kind == PATHCHECK_SOCKET ? "socket" : "file");
        return -EISDIR;
    }
    pathcheck_dir(path, dir, sizeof(dir));
    if (stat(dir, &st) < 0) {
        int e = errno;
        if (e == ENOENT)
            snprintf(why, size, "directory '%s' does not exist: create it (mkdir -p '%s') or %s",
                     dir, dir, pathcheck_other);
        else
            snprintf(why, size, "cannot use directory '%s': %s; %s", dir, strerror(e),
                     pathcheck_other);
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, size, "'%s' is not a directory: %s", dir, pathcheck_other);
        return -ENOTDIR;
    }
    /* a socket always replaces the old file: the directory must be writable */
    bool exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(why, size, "'%s' is a directory: expected the path of a %s", path,
                 kind == PATHCHECK_SOCKET ? "socket" : "file");
        return -EISDIR;
    }
    if (exists && kind == PATHCHECK_SOCKET && !S_ISSOCK(st.st_mode)) {
        snprintf(why, size,
                 "'%s' exists and is not a socket: the agent does not replace it; remove it or %s",
                 path, pathcheck_other);
        return -EEXIST;
    }
    if (exists && kind == PATHCHECK_FILE) {
        if (access(path, W_OK) < 0) {
            int e = errno;
            snprintf(why, size,
                     "cannot write to the existing file '%s': %s; give the user running "
                     "alumet-agent write permission on it, or %s",
                     path, strerror(e), pathcheck_other);
            return -e;
        }
        return 0;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        int e = errno;
        snprintf(why, size,
                 "cannot create '%s' in directory '%s': %s; give the user running alumet-agent "
                 "write permission on the directory, or %s",
                 path, dir, strerror(e), pathcheck_other);
        return -e;
    }
    return 0;
}
