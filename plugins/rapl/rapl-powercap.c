/* SPDX-License-Identifier: MIT */
/* The RAPL counters through the powercap sysfs: the zones of the intel-rapl
 * control types in /sys/devices/virtual/powercap,
 *
 *   intel-rapl/intel-rapl:0/name               "package-0"
 *   intel-rapl/intel-rapl:0/energy_uj          "124599532281" (µJ, cumulative)
 *   intel-rapl/intel-rapl:0/max_energy_range_uj "262143328850" (where it wraps)
 *   intel-rapl/intel-rapl:0/intel-rapl:0:0/name "dram"
 *   intel-rapl-mmio/intel-rapl-mmio:0/name     "package-0"
 *
 * Zones are told apart by their name file, never by their index (the index
 * depends on the order in which the kernel registered them). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "rapl.h"
#include "util/strbuf.h"

/* intel-rapl:0, intel-rapl:0:1, intel-rapl-mmio:0 (not the control type itself) */
static bool rapl_is_zone(const char *name)
{
    return strncmp(name, "intel-rapl", 10) == 0 && strchr(name, ':');
}

void rapl_zones_done(struct rapl_zones *z)
{
    for (size_t i = 0; i < z->len; i++)
        free(z->items[i].rel);
    free(z->items);
    memset(z, 0, sizeof(*z));
}

unsigned rapl_zones_domains(const struct rapl_zones *z)
{
    unsigned mask = 0;
    for (size_t i = 0; i < z->len; i++)
        mask |= RAPL_DOMAIN_BIT(z->items[i].domain);
    return mask;
}

static int rapl_zones_push(struct rapl_zones *z, const struct rapl_zone *zone)
{
    if (z->len == z->cap) {
        size_t ncap = z->cap ? z->cap * 2 : 8;
        struct rapl_zone *n = reallocarray(z->items, ncap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        z->items = n;
        z->cap = ncap;
    }
    z->items[z->len++] = *zone;
    return 0;
}

/* The zones below rel (a control type or a zone), recursively. socket is the
 * socket of the enclosing package zone, -1 when none. */
static int rapl_scan(struct rapl *rapl, const char *rel, bool mmio, int64_t socket, int depth,
                     struct rapl_zones *out, struct alumet_error *err)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *e;

    int r = fsroot_opendir(&rapl->sys, rel, &d);
    if (r < 0) {
        fsroot_path(&rapl->sys, rel, path, sizeof(path));
        return alumet_error_set(err, r, "cannot list '%s': %s", path, strerror(-r));
    }
    while ((e = readdir(d))) {
        char child[PATH_MAX], name_rel[PATH_MAX], name[128];
        struct stat st;
        enum rapl_domain domain;
        int64_t own;

        if (!rapl_is_zone(e->d_name))
            continue;
        /* real directories only: sysfs links such as subsystem lead back here */
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if ((size_t)snprintf(child, sizeof(child), "%s/%s", rel, e->d_name) >= sizeof(child) ||
            (size_t)snprintf(name_rel, sizeof(name_rel), "%s/name", child) >= sizeof(name_rel)) {
            r = alumet_error_set(err, -ENAMETOOLONG, "powercap path too long: '%s'", rel);
            goto out;
        }
        r = rapl_read_text(&rapl->sys, name_rel, name, sizeof(name));
        if (r < 0) {
            fsroot_path(&rapl->sys, name_rel, path, sizeof(path));
            alumet_error_set(err, r, "cannot read '%s': %s", path, strerror(-r));
            goto out;
        }
        if (rapl_zone_name_parse(name, &domain, &own) < 0) {
            fsroot_path(&rapl->sys, child, path, sizeof(path));
            rapl_log(rapl, ALUMET_LOG_WARN, "unknown RAPL powercap zone '%s' in '%s', skipping it",
                     name, path);
            own = -1;
        } else {
            struct rapl_zone z = {
                .domain = domain,
                .socket = (uint32_t)(own >= 0      ? own
                                     : socket >= 0 ? socket
                                                   : 0),
                .rel = strdup(child),
                .mmio = mmio,
            };
            if (!z.rel || rapl_zones_push(out, &z) < 0) {
                free(z.rel);
                r = alumet_error_set(err, -ENOMEM, "out of memory");
                goto out;
            }
        }
        if (depth < 3) {
            r = rapl_scan(rapl, child, mmio, own >= 0 ? own : socket, depth + 1, out, err);
            if (r < 0)
                goto out;
        }
    }
    r = 0;
out:
    closedir(d);
    return r;
}

static int rapl_zone_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rapl_zone *)a)->rel, ((const struct rapl_zone *)b)->rel);
}

/* An intel-rapl-mmio zone reads the same package counter as the intel-rapl
 * (MSR) zone of that package: keep one, or package_total would count the
 * package twice. */
static void rapl_zones_dedup(struct rapl *rapl, struct rapl_zones *z)
{
    size_t kept = 0;
    for (size_t i = 0; i < z->len; i++) {
        struct rapl_zone *m = &z->items[i];
        bool dup = false;
        for (size_t j = 0; m->mmio && j < z->len && !dup; j++)
            dup = !z->items[j].mmio && z->items[j].domain == m->domain &&
                  z->items[j].socket == m->socket;
        if (dup) {
            rapl_log(rapl, ALUMET_LOG_DEBUG,
                     "powercap zone '%s' duplicates an intel-rapl zone ('%s' of socket %u), "
                     "skipping it",
                     m->rel, rapl_domain_name(m->domain), m->socket);
            free(m->rel);
            continue;
        }
        z->items[kept++] = *m;
    }
    z->len = kept;
}

int rapl_zones_discover(struct rapl *rapl, struct rapl_zones *ret, struct alumet_error *err)
{
    char path[PATH_MAX];
    char types[8][64];
    size_t n_types = 0;
    DIR *d;
    struct dirent *e;

    memset(ret, 0, sizeof(*ret));
    int r = fsroot_opendir(&rapl->sys, RAPL_POWERCAP_DIR, &d);
    if (r == -ENOENT)
        return -ENOENT;
    if (r < 0) {
        fsroot_path(&rapl->sys, RAPL_POWERCAP_DIR, path, sizeof(path));
        return alumet_error_set(err, r, "cannot list '%s': %s", path, strerror(-r));
    }
    /* the control types: intel-rapl (MSR), intel-rapl-mmio */
    while ((e = readdir(d)) && n_types < sizeof(types) / sizeof(types[0])) {
        if (strncmp(e->d_name, "intel-rapl", 10) == 0 && !strchr(e->d_name, ':') &&
            strlen(e->d_name) < sizeof(types[0]))
            snprintf(types[n_types++], sizeof(types[0]), "%s", e->d_name);
    }
    closedir(d);

    for (size_t i = 0; i < n_types; i++) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof(rel), RAPL_POWERCAP_DIR "/%s", types[i]);
        r = rapl_scan(rapl, rel, strcmp(types[i], "intel-rapl") != 0, -1, 0, ret, err);
        if (r == -ENOTDIR)
            continue;
        if (r < 0) {
            rapl_zones_done(ret);
            return r;
        }
    }
    if (ret->len > 1)
        qsort(ret->items, ret->len, sizeof(ret->items[0]), rapl_zone_cmp);
    rapl_zones_dedup(rapl, ret);
    return 0;
}

/* ---- counters ---- */

static int rapl_powercap_open_one(struct rapl *rapl, const struct rapl_zone *z,
                                  struct rapl_source *src, struct alumet_error *err)
{
    char rel[PATH_MAX], path[PATH_MAX], text[64];
    struct rapl_counter *c = rapl_source_add(src);
    if (!c)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    c->domain = z->domain;
    c->socket = z->socket;
    c->resource = rapl_domain_resource(z->domain, z->socket);
    snprintf(rel, sizeof(rel), "%s/energy_uj", z->rel);
    fsroot_path(&rapl->sys, rel, path, sizeof(path));
    c->rel = strdup(rel);
    c->what = strbuf_newf("'%s'", path);
    if (!c->rel || !c->what)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    /* the permission to read energy_uj is checked when it is opened (root
     * only since Linux 5.10); a first read shows the counters that the
     * hardware refuses (EIO in some virtual machines) */
    uint64_t unused;
    int r = procfile_open(&c->pf, rapl->sys.fd, rel, 32);
    /* a counter outside sysfs (a guest's tree from powercap-export, shared
     * by virtiofs or 9p) is replaced by a rename at each update: reopen it
     * at every read instead of reading the old file forever */
    struct statfs sf;
    if (r == 0 && fstatfs(c->pf.fd, &sf) == 0 && sf.f_type != SYSFS_MAGIC)
        c->pf.reopen = true;
    if (r == 0)
        r = rapl_counter_read(rapl, c, &unused);
    if (r < 0) {
        struct rapl_privileges priv;
        char msg[ALUMET_ERROR_MSG_MAX];
        rapl_privileges_read(rapl, &priv);
        rapl_explain(r, RAPL_IFACE_POWERCAP, path, &priv, msg, sizeof(msg));
        return alumet_error_set(err, r, "%s", msg);
    }

    snprintf(rel, sizeof(rel), "%s/max_energy_range_uj", z->rel);
    r = rapl_read_text(&rapl->sys, rel, text, sizeof(text));
    if (r < 0 || rapl_parse_u64(text, &c->max) < 0 || c->max == 0) {
        fsroot_path(&rapl->sys, rel, path, sizeof(path));
        rapl_log(rapl, ALUMET_LOG_WARN,
                 "cannot read the wrap-around value of the RAPL counter in '%s': %s; a "
                 "counter that wraps around will give no value for that poll",
                 path, r < 0 ? strerror(-r) : "not a positive number");
        c->max = 0;
    }
    return 0;
}

int rapl_powercap_open(struct rapl *rapl, const struct rapl_zones *zones, unsigned domains,
                       struct rapl_source *src, struct alumet_error *err)
{
    for (size_t i = 0; i < zones->len; i++) {
        if (!(domains & RAPL_DOMAIN_BIT(zones->items[i].domain)))
            continue;
        int r = rapl_powercap_open_one(rapl, &zones->items[i], src, err);
        if (r < 0)
            return r;
    }
    return 0;
}
