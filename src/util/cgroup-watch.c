/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-watch.h"

#define CGROUP_WATCH_MASK                                                                          \
    (IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

/* A known cgroup, in two chained hash tables: by path and by watch descriptor. */
struct cgroup_watch_entry {
    struct cgroup_watch_entry *next_path, *next_wd;
    int wd; /* -1: not watched */
    bool mark;
    char path[]; /* canonical path */
};

struct cgroup_watch {
    const struct cgroup_hierarchy *h;
    int ifd; /* inotify, -1 without */
    struct cgroup_watch_entry **by_path, **by_wd;
    size_t n_buckets, n;
    bool need_rescan;
    size_t unwatched;
    int unwatched_error;
    char *evbuf; /* inotify events */
};

#define CGROUP_WATCH_EVBUF (64 * (sizeof(struct inotify_event) + NAME_MAX + 1))

static size_t cgroup_watch_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static struct cgroup_watch_entry *cgroup_watch_find(const struct cgroup_watch *w, const char *path)
{
    for (struct cgroup_watch_entry *e = w->by_path[cgroup_watch_hash(path) & (w->n_buckets - 1)]; e;
         e = e->next_path)
        if (strcmp(e->path, path) == 0)
            return e;
    return NULL;
}

static struct cgroup_watch_entry *cgroup_watch_find_wd(const struct cgroup_watch *w, int wd)
{
    for (struct cgroup_watch_entry *e = w->by_wd[(size_t)wd & (w->n_buckets - 1)]; e;
         e = e->next_wd)
        if (e->wd == wd)
            return e;
    return NULL;
}

static void cgroup_watch_link_wd(struct cgroup_watch *w, struct cgroup_watch_entry *e)
{
    struct cgroup_watch_entry **b = &w->by_wd[(size_t)e->wd & (w->n_buckets - 1)];
    e->next_wd = *b;
    *b = e;
}

static void cgroup_watch_unlink_wd(struct cgroup_watch *w, struct cgroup_watch_entry *e)
{
    if (e->wd < 0)
        return;
    for (struct cgroup_watch_entry **p = &w->by_wd[(size_t)e->wd & (w->n_buckets - 1)]; *p;
         p = &(*p)->next_wd)
        if (*p == e) {
            *p = e->next_wd;
            break;
        }
    e->wd = -1;
}

/* Double the tables when the load passes 1. 0 or -ENOMEM. */
static int cgroup_watch_grow(struct cgroup_watch *w)
{
    if (w->n < w->n_buckets)
        return 0;
    size_t nb = w->n_buckets * 2;
    struct cgroup_watch_entry **bp = calloc(nb, sizeof(*bp)), **bw = calloc(nb, sizeof(*bw));
    if (!bp || !bw) {
        free(bp);
        free(bw);
        return -ENOMEM;
    }
    for (size_t i = 0; i < w->n_buckets; i++) {
        for (struct cgroup_watch_entry *e = w->by_path[i], *next; e; e = next) {
            next = e->next_path;
            size_t k = cgroup_watch_hash(e->path) & (nb - 1);
            e->next_path = bp[k];
            bp[k] = e;
            if (e->wd >= 0) {
                e->next_wd = bw[(size_t)e->wd & (nb - 1)];
                bw[(size_t)e->wd & (nb - 1)] = e;
            }
        }
    }
    free(w->by_path);
    free(w->by_wd);
    w->by_path = bp;
    w->by_wd = bw;
    w->n_buckets = nb;
    return 0;
}

int cgroup_watch_new(const struct cgroup_hierarchy *h, struct cgroup_watch **ret)
{
    struct cgroup_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->h = h;
    w->n_buckets = 64;
    w->by_path = calloc(w->n_buckets, sizeof(*w->by_path));
    w->by_wd = calloc(w->n_buckets, sizeof(*w->by_wd));
    w->evbuf = malloc(CGROUP_WATCH_EVBUF);
    if (!w->by_path || !w->by_wd || !w->evbuf) {
        w->ifd = -1;
        cgroup_watch_free(w);
        return -ENOMEM;
    }
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->need_rescan = true;
    *ret = w;
    return 0;
}

void cgroup_watch_free(struct cgroup_watch *w)
{
    if (!w)
        return;
    for (size_t i = 0; w->by_path && i < w->n_buckets; i++)
        for (struct cgroup_watch_entry *e = w->by_path[i], *next; e; e = next) {
            next = e->next_path;
            free(e);
        }
    if (w->ifd >= 0)
        close(w->ifd);
    free(w->by_path);
    free(w->by_wd);
    free(w->evbuf);
    free(w);
}

int cgroup_watch_fd(const struct cgroup_watch *w)
{
    return w->ifd;
}

bool cgroup_watch_has_inotify(const struct cgroup_watch *w)
{
    return w->ifd >= 0;
}

size_t cgroup_watch_count(const struct cgroup_watch *w)
{
    return w->n;
}

size_t cgroup_watch_take_unwatched(struct cgroup_watch *w, int *ret_error)
{
    size_t n = w->unwatched;
    if (ret_error)
        *ret_error = w->unwatched_error;
    w->unwatched = 0;
    return n;
}

/* Join the canonical paths parent and name into buf (PATH_MAX). */
static int cgroup_watch_join(char *buf, const char *parent, const char *name, size_t name_len)
{
    size_t pl = strcmp(parent, "/") == 0 ? 0 : strlen(parent);
    if (pl + 1 + name_len + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    memmove(buf, parent, pl);
    buf[pl] = '/';
    memcpy(buf + pl + 1, name, name_len);
    buf[pl + 1 + name_len] = '\0';
    return 0;
}

/* Watch the directory of cpath with inotify (when available). */
static int cgroup_watch_add_wd(struct cgroup_watch *w, const char *cpath)
{
    if (w->ifd < 0)
        return -1;
    char full[PATH_MAX];
    size_t hl = strlen(w->h->path);
    size_t cl = strcmp(cpath, "/") == 0 ? 0 : strlen(cpath);
    if (hl + cl + 1 > sizeof(full))
        return -1;
    memcpy(full, w->h->path, hl);
    memcpy(full + hl, cpath, cl);
    full[hl + cl] = '\0';
    if (hl + cl == 0) {
        full[0] = '/';
        full[1] = '\0';
    }
    int wd = inotify_add_watch(w->ifd, full, CGROUP_WATCH_MASK);
    if (wd < 0 && errno != ENOENT && errno != ENOTDIR) {
        w->unwatched++;
        w->unwatched_error = -errno;
    }
    return wd;
}

/* Record cpath as known and report it. Returns the entry, NULL on -ENOMEM. */
static struct cgroup_watch_entry *cgroup_watch_insert(struct cgroup_watch *w, const char *cpath,
                                                      int wd)
{
    if (cgroup_watch_grow(w) < 0)
        return NULL;
    size_t len = strlen(cpath);
    struct cgroup_watch_entry *e = calloc(1, sizeof(*e) + len + 1);
    if (!e)
        return NULL;
    memcpy(e->path, cpath, len + 1);
    e->wd = -1;
    e->mark = true;
    size_t k = cgroup_watch_hash(cpath) & (w->n_buckets - 1);
    e->next_path = w->by_path[k];
    w->by_path[k] = e;
    if (wd >= 0) {
        /* a reused wd means the kernel dropped the old watch (IN_IGNORED not read yet) */
        struct cgroup_watch_entry *old = cgroup_watch_find_wd(w, wd);
        if (old)
            cgroup_watch_unlink_wd(w, old);
        e->wd = wd;
        cgroup_watch_link_wd(w, e);
    }
    w->n++;
    return e;
}

static void cgroup_watch_remove(struct cgroup_watch *w, struct cgroup_watch_entry *e,
                                cgroup_watch_fn fn, void *data, int *changes)
{
    for (struct cgroup_watch_entry **p =
             &w->by_path[cgroup_watch_hash(e->path) & (w->n_buckets - 1)];
         *p; p = &(*p)->next_path)
        if (*p == e) {
            *p = e->next_path;
            break;
        }
    if (e->wd >= 0 && w->ifd >= 0)
        inotify_rm_watch(w->ifd, e->wd); /* fails harmlessly when the directory is gone */
    cgroup_watch_unlink_wd(w, e);
    w->n--;
    fn(data, e->path, false);
    (*changes)++;
    free(e);
}

/* Watch, then walk the directory dirfd (takes ownership) of cgroup cpath
 * (a PATH_MAX buffer, restored on return), marking every directory below it
 * and reporting those not known yet. */
static int cgroup_watch_walk(struct cgroup_watch *w, int dirfd, char *cpath, cgroup_watch_fn fn,
                             void *data, int *changes)
{
    struct cgroup_watch_entry *e = cgroup_watch_find(w, cpath);
    if (e) {
        e->mark = true;
        if (e->wd < 0 && w->ifd >= 0) {
            int wd = cgroup_watch_add_wd(w, cpath);
            if (wd >= 0) {
                struct cgroup_watch_entry *old = cgroup_watch_find_wd(w, wd);
                if (old)
                    cgroup_watch_unlink_wd(w, old);
                e->wd = wd;
                cgroup_watch_link_wd(w, e);
            }
        }
    } else {
        /* watch first, so that a directory created during the listing is seen */
        e = cgroup_watch_insert(w, cpath, cgroup_watch_add_wd(w, cpath));
        if (!e) {
            close(dirfd);
            return -ENOMEM;
        }
        fn(data, cpath, true);
        (*changes)++;
    }

    DIR *d = fdopendir(dirfd);
    if (!d) {
        int r = -errno;
        close(dirfd);
        return r == -ENOMEM ? r : 0;
    }
    size_t len = strlen(cpath);
    struct dirent *de;
    int r = 0;
    while (r == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.' &&
            (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
            continue;
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
            continue;
        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sub < 0)
            continue; /* not a directory, or gone already */
        if (cgroup_watch_join(cpath, cpath, de->d_name, strlen(de->d_name)) < 0) {
            close(sub);
            continue;
        }
        r = cgroup_watch_walk(w, sub, cpath, fn, data, changes);
        cpath[len] = '\0'; /* back to this directory ("/" has len 1) */
    }
    closedir(d);
    return r;
}

/* Walk the whole hierarchy and report what appeared and disappeared. */
static int cgroup_watch_rescan(struct cgroup_watch *w, cgroup_watch_fn fn, void *data, int *changes)
{
    int root = openat(w->h->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -errno;
    for (size_t i = 0; i < w->n_buckets; i++)
        for (struct cgroup_watch_entry *e = w->by_path[i]; e; e = e->next_path)
            e->mark = false;
    char cpath[PATH_MAX] = "/";
    int r = cgroup_watch_walk(w, root, cpath, fn, data, changes);
    if (r < 0)
        return r;
    for (size_t i = 0; i < w->n_buckets; i++)
        for (struct cgroup_watch_entry *e = w->by_path[i], *next; e; e = next) {
            next = e->next_path;
            if (!e->mark)
                cgroup_watch_remove(w, e, fn, data, changes);
        }
    w->need_rescan = false;
    return 0;
}

/* A directory appeared at cpath: walk it (it may hold cgroups already). */
static int cgroup_watch_created(struct cgroup_watch *w, char *cpath, cgroup_watch_fn fn, void *data,
                                int *changes)
{
    const char *rel = cpath + 1;
    int fd = openat(w->h->fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0; /* gone already: its deletion event follows */
    return cgroup_watch_walk(w, fd, cpath, fn, data, changes);
}

static int cgroup_watch_events(struct cgroup_watch *w, cgroup_watch_fn fn, void *data, int *changes)
{
    char cpath[PATH_MAX];
    for (;;) {
        ssize_t n = read(w->ifd, w->evbuf, CGROUP_WATCH_EVBUF);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        for (char *p = w->evbuf; p < w->evbuf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                w->need_rescan = true;
                continue;
            }
            struct cgroup_watch_entry *parent = cgroup_watch_find_wd(w, ev->wd);
            if (ev->mask & IN_IGNORED) {
                if (parent)
                    cgroup_watch_unlink_wd(w, parent);
                continue;
            }
            if (!parent || w->need_rescan)
                continue;
            if (ev->mask & IN_DELETE_SELF) {
                cgroup_watch_remove(w, parent, fn, data, changes);
                continue;
            }
            if (!(ev->mask & IN_ISDIR) || ev->len == 0 ||
                cgroup_watch_join(cpath, parent->path, ev->name, strlen(ev->name)) < 0)
                continue;
            if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
                int r = cgroup_watch_created(w, cpath, fn, data, changes);
                if (r < 0)
                    return r;
            } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
                struct cgroup_watch_entry *e = cgroup_watch_find(w, cpath);
                if (e)
                    cgroup_watch_remove(w, e, fn, data, changes);
            }
        }
    }
}

int cgroup_watch_update(struct cgroup_watch *w, bool rescan, cgroup_watch_fn fn, void *data)
{
    int changes = 0;
    if (w->ifd >= 0) {
        int r = cgroup_watch_events(w, fn, data, &changes);
        if (r < 0)
            w->need_rescan = true;
    }
    if (rescan || w->need_rescan) {
        int r = cgroup_watch_rescan(w, fn, data, &changes);
        if (r < 0)
            return r;
    }
    return changes;
}
