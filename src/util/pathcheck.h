/* SPDX-License-Identifier: MIT */
/* What `alumet-agent config check` can tell about a path that an output will
 * create or write at start (csv and jsonl files, the control socket),
 * without creating or writing anything: its directory exists and is
 * writable; an existing file there can be written (for a socket: is a
 * socket, which a start replaces when no process listens on it).
 *
 * No logging: 0, or a negative errno with why (for the user, after the path
 * of the option: "directory 'out' does not exist: create it (mkdir -p 'out')
 * or choose another path"). */
#ifndef ALUMET_UTIL_PATHCHECK_H
#define ALUMET_UTIL_PATHCHECK_H

#include <stdbool.h>
#include <stddef.h>

enum pathcheck_kind {
    PATHCHECK_FILE,   /* a file written in place (created when absent) */
    PATHCHECK_SOCKET, /* a Unix socket: an old socket there is replaced */
};

int pathcheck_writable(const char *path, enum pathcheck_kind kind, char *why, size_t size);

#endif
