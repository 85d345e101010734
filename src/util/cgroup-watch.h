/* SPDX-License-Identifier: MIT */
/* Detection of the cgroups of one hierarchy that appear and disappear.
 *
 * Every directory of the hierarchy is watched with inotify (IN_CREATE,
 * IN_DELETE, IN_DELETE_SELF, IN_MOVED_*): a new directory is watched, then
 * walked, so that cgroups created inside it before the watch was in place are
 * found too. A full rescan (walk and diff against the known set) runs on
 * the first update, when inotify overflows, and whenever the caller asks
 * (its periodic fallback: inotify may be unavailable, max_user_watches
 * exhausted, or a filesystem that does not report changes).
 *
 *     struct cgroup_watch *w;
 *     r = cgroup_watch_new(h, &w);
 *     r = cgroup_watch_update(w, true, on_change, data);   (initial scan)
 *     ...  every poll: cgroup_watch_update(w, rescan_due, on_change, data);
 *     cgroup_watch_free(w);
 *
 * A path is reported as created once, and again only after it was reported
 * removed. The root of the hierarchy ("/") is reported as well. No logging,
 * no thread: the caller decides when to look (poll(2) on cgroup_watch_fd()
 * for a thread that waits, or a call at every poll of a source). */
#ifndef ALUMET_UTIL_CGROUP_WATCH_H
#define ALUMET_UTIL_CGROUP_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

struct cgroup_watch;

/* A change: cpath is the canonical path (borrowed for the call), created
 * says whether it appeared (true) or disappeared (false). A callback may not
 * call back into the watch. */
typedef void (*cgroup_watch_fn)(void *data, const char *cpath, bool created);

/* Watch the hierarchy h (borrowed: it must outlive the watch). Nothing is
 * reported before the first update. When inotify cannot be set up the
 * watch still works by rescans (cgroup_watch_has_inotify says so). 0 or
 * -ENOMEM; *ret is freed with cgroup_watch_free. */
int cgroup_watch_new(const struct cgroup_hierarchy *h, struct cgroup_watch **ret);

/* Report the changes since the last update: read the pending inotify events
 * (without blocking), then walk the whole hierarchy when rescan is true, on
 * the first call, or after an inotify overflow. fn is called once per
 * change. Returns the number of changes reported, or a negative errno when
 * the hierarchy's root cannot be listed (the known set is then kept). */
int cgroup_watch_update(struct cgroup_watch *w, bool rescan, cgroup_watch_fn fn, void *data);

/* The inotify descriptor (readable when events are pending), -1 without inotify. */
int cgroup_watch_fd(const struct cgroup_watch *w);

bool cgroup_watch_has_inotify(const struct cgroup_watch *w);

/* Number of cgroups known (reported created and not yet removed). */
size_t cgroup_watch_count(const struct cgroup_watch *w);

/* Number of directories that inotify refused to watch since the last call
 * (ENOSPC: fs.inotify.max_user_watches), and the last such error; the
 * counter is reset. Those directories are still found by rescans. */
size_t cgroup_watch_take_unwatched(struct cgroup_watch *w, int *ret_error);

/* Release the watch (NULL-safe). Reports nothing. */
void cgroup_watch_free(struct cgroup_watch *w);

#endif
