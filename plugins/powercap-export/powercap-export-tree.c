/* SPDX-License-Identifier: MIT */
/* The counter trees of powercap-export (see powercap-export.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powercap-export.h"

#define PCX_ZONE "intel-rapl:0"

struct pcx_counter {
    char *name;      /* the directory name (sanitised) */
    uint64_t value;  /* µJ, in [0, max] */
    double fraction; /* below 1 µJ, carried to the next addition */
    bool created;    /* the tree exists (name and max written) */
    bool dirty;      /* energy_uj to write */
};

struct pcx_tree {
    char *dir;
    uint64_t max;
    struct pcx_counter *items;
    size_t n;
};

int pcx_tree_new(const char *dir, uint64_t max_uj, struct pcx_tree **ret)
{
    struct pcx_tree *t = calloc(1, sizeof(*t));
    if (!t || !(t->dir = strdup(dir))) {
        free(t);
        return -ENOMEM;
    }
    t->max = max_uj;
    *ret = t;
    return 0;
}

void pcx_tree_free(struct pcx_tree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i].name);
    free(t->items);
    free(t->dir);
    free(t);
}

static char *pcx_sanitize(const char *name)
{
    char *s = strdup(*name ? name : "_");
    for (char *p = s; p && *p; p++)
        if (*p == '/')
            *p = '_';
    if (s && s[0] == '.')
        s[0] = '_';
    return s;
}

static struct pcx_counter *pcx_find(const struct pcx_tree *t, const char *clean)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].name, clean) == 0)
            return &t->items[i];
    return NULL;
}

int pcx_tree_add(struct pcx_tree *t, const char *name, double uj)
{
    char *clean = pcx_sanitize(name);
    if (!clean)
        return -ENOMEM;
    struct pcx_counter *c = pcx_find(t, clean);
    if (!c) {
        struct pcx_counter *a = reallocarray(t->items, t->n + 1, sizeof(*a));
        if (!a) {
            free(clean);
            return -ENOMEM;
        }
        t->items = a;
        c = &a[t->n++];
        *c = (struct pcx_counter){.name = clean, .dirty = true};
    } else {
        free(clean);
    }
    if (!(uj > 0)) /* negative or NaN: nothing */
        return 0;
    double total = uj + c->fraction;
    double whole = floor(total);
    c->fraction = total - whole;
    /* modulo max + 1, in two steps so that a huge addition cannot overflow */
    uint64_t range = t->max + 1;
    uint64_t add = whole >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)whole;
    add %= range;
    c->value = c->value >= range - add ? c->value - (range - add) : c->value + add;
    c->dirty = true;
    return 0;
}

int64_t pcx_tree_value(const struct pcx_tree *t, const char *name)
{
    char *clean = pcx_sanitize(name);
    const struct pcx_counter *c = clean ? pcx_find(t, clean) : NULL;
    free(clean);
    return c ? (int64_t)c->value : -1;
}

/* mkdir -p of path (modified in place, restored). */
static int pcx_mkdirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = saved;
        if (r < 0 && errno != EEXIST)
            return -errno;
        if (!saved)
            return 0;
    }
}

/* Write text to dir/file through dir/.file.tmp and a rename. */
static int pcx_write(const char *dir, const char *file, const char *text, char *path, size_t size)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(path, size, "%s/%s", dir, file) >= size ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file) >= sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int r = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

/* The value a previous run left in energy_uj, so that the guest never sees
 * the counter go back (a wrap-around for it); 0 when none. */
static uint64_t pcx_previous(const char *zone, uint64_t max)
{
    char path[PATH_MAX], text[32];
    if ((size_t)snprintf(path, sizeof(path), "%s/energy_uj", zone) >= sizeof(path))
        return 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    return errno || end == text || v > max ? 0 : (uint64_t)v;
}

static int pcx_create(struct pcx_tree *t, struct pcx_counter *c, const char *zone, char *path,
                      size_t size)
{
    char text[32];
    if ((size_t)snprintf(path, size, "%s", zone) >= size)
        return -ENAMETOOLONG;
    int r = pcx_mkdirs(path);
    if (r < 0)
        return r;
    uint64_t prev = pcx_previous(zone, t->max);
    uint64_t range = t->max + 1, add = c->value;
    c->value = prev >= range - add ? prev - (range - add) : prev + add;
    if ((r = pcx_write(zone, "name", "package-0\n", path, size)) < 0)
        return r;
    snprintf(text, sizeof(text), "%" PRIu64 "\n", t->max);
    if ((r = pcx_write(zone, "max_energy_range_uj", text, path, size)) < 0)
        return r;
    c->created = true;
    return 0;
}

int pcx_tree_flush(struct pcx_tree *t, char *path, size_t size)
{
    int first = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct pcx_counter *c = &t->items[i];
        char zone[PATH_MAX], text[32], where[PATH_MAX];
        if (!c->dirty)
            continue;
        if ((size_t)snprintf(zone, sizeof(zone), "%s/%s/" PCX_ZONE, t->dir, c->name) >=
            sizeof(zone)) {
            if (!first) {
                if ((size_t)snprintf(path, size, "%s/%s", t->dir, c->name) >= size)
                    path[0] = '\0';
                first = -ENAMETOOLONG;
            }
            continue;
        }
        int r = c->created ? 0 : pcx_create(t, c, zone, where, sizeof(where));
        if (r == 0) {
            snprintf(text, sizeof(text), "%" PRIu64 "\n", c->value);
            r = pcx_write(zone, "energy_uj", text, where, sizeof(where));
        }
        if (r < 0) {
            if (!first) {
                if ((size_t)snprintf(path, size, "%s", where) >= size)
                    path[0] = '\0';
                first = r;
            }
            continue;
        }
        c->dirty = false;
    }
    return first;
}
