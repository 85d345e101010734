/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cgroup.h"
#include "procfile.h"

_Static_assert(_CGROUP_FILE_MAX == 13, "CGROUP_READER_INIT lists one -1 per file");
_Static_assert(_CGROUP_FILE_MAX <= 32 && _CGROUP_STAT_MAX <= 32, "masks are 32 bits");

static const char *const cgroup_controller_names[] = {
#define CGROUP_X_NAME(id, name) name,
    CGROUP_CONTROLLERS(CGROUP_X_NAME)
#undef CGROUP_X_NAME
};

static const struct {
    const char *name;
    int version;
} cgroup_files[] = {
#define CGROUP_X_FILE(id, name, v) {name, v},
    CGROUP_FILES(CGROUP_X_FILE)
#undef CGROUP_X_FILE
};

int cgroup_controller_from_name(const char *name, size_t len)
{
    for (int i = 0; i < _CGROUP_CTRL_MAX; i++)
        if (strlen(cgroup_controller_names[i]) == len &&
            memcmp(cgroup_controller_names[i], name, len) == 0)
            return i;
    return -1;
}

const char *cgroup_file_name(enum cgroup_file f)
{
    return (unsigned)f < _CGROUP_FILE_MAX ? cgroup_files[f].name : "?";
}

/* ---- hierarchies ---- */

/* Copy a mountinfo field, decoding the octal escapes of spaces, tabs,
 * newlines and backslashes ("\040"). NULL on -ENOMEM. */
static char *cgroup_unescape(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
            s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void cgroup_hierarchy_done(struct cgroup_hierarchy *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    free(h->name);
    free(h->mount_point);
    free(h->path);
    h->name = h->mount_point = h->path = NULL;
}

void cgroup_hierarchies_done(struct cgroup_hierarchies *hs)
{
    for (size_t i = 0; i < hs->n; i++)
        cgroup_hierarchy_done(&hs->items[i]);
    free(hs->items);
    hs->items = NULL;
    hs->n = 0;
}

/* v1 super options "rw,cpu,cpuacct" → controllers and name "cpu,cpuacct";
 * "rw,name=systemd" → no controller, name "name=systemd". */
static int cgroup_v1_controllers(const char *opts, size_t len, struct cgroup_hierarchy *h)
{
    char *name = malloc(len + 1);
    if (!name)
        return -ENOMEM;
    size_t o = 0;
    const char *p = opts, *end = opts + len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t n = c ? (size_t)(c - p) : (size_t)(end - p);
        int ctrl = cgroup_controller_from_name(p, n);
        bool named = n > 5 && memcmp(p, "name=", 5) == 0;
        if (ctrl >= 0 || named) {
            if (ctrl >= 0)
                h->controllers |= 1u << ctrl;
            if (o)
                name[o++] = ',';
            memcpy(name + o, p, n);
            o += n;
        }
        p += n + 1;
    }
    name[o] = '\0';
    h->name = name;
    return 0;
}

/* Root's cgroup.controllers: "cpuset cpu io memory pids\n". */
static void cgroup_v2_controllers(struct cgroup_hierarchy *h)
{
    struct procfile pf = PROCFILE_INIT;
    if (procfile_open(&pf, h->fd, "cgroup.controllers", 256) < 0)
        return;
    if (procfile_read(&pf) == 0) {
        struct procfile_scan s = procfile_scan_of(pf.buf, pf.len);
        const char *w;
        size_t n;
        while ((n = procfile_scan_word(&s, &w)) > 0) {
            int c = cgroup_controller_from_name(w, n);
            if (c >= 0)
                h->controllers |= 1u << c;
        }
    }
    procfile_close(&pf);
}

/* Parse one mountinfo line into h when it is a cgroup mount:
 *   32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
 * Returns 1 when it is, 0 when not, -ENOMEM. */
static int cgroup_parse_mount(const char *line, size_t len, struct cgroup_hierarchy *h)
{
    struct procfile_scan s = procfile_scan_of(line, len);
    const char *w, *mp = NULL;
    size_t n, mp_len = 0;
    uint64_t major, minor;

    procfile_scan_skip_words(&s, 2);
    if (procfile_scan_u64(&s, &major) < 0 || s.p >= s.end || *s.p != ':')
        return 0;
    s.p++;
    if (procfile_scan_u64(&s, &minor) < 0)
        return 0;
    procfile_scan_skip_words(&s, 1); /* root within the filesystem */
    mp_len = procfile_scan_word(&s, &mp);
    procfile_scan_skip_words(&s, 1); /* mount options */
    while ((n = procfile_scan_word(&s, &w)) > 0 && !(n == 1 && w[0] == '-'))
        ; /* optional fields up to "-" */
    if (n == 0)
        return 0;
    n = procfile_scan_word(&s, &w);
    int version = n == 7 && memcmp(w, "cgroup2", 7) == 0  ? 2
                  : n == 6 && memcmp(w, "cgroup", 6) == 0 ? 1
                                                          : 0;
    if (!version || mp_len == 0)
        return 0;
    procfile_scan_skip_words(&s, 1); /* source */
    const char *opts;
    size_t opts_len = procfile_scan_word(&s, &opts);

    memset(h, 0, sizeof(*h));
    h->fd = -1;
    h->version = version == 2 ? CGROUP_V2 : CGROUP_V1;
    h->dev = makedev((unsigned)major, (unsigned)minor);
    h->mount_point = cgroup_unescape(mp, mp_len);
    if (!h->mount_point)
        return -ENOMEM;
    if (version == 1)
        return cgroup_v1_controllers(opts, opts_len, h) < 0 ? -ENOMEM : 1;
    h->name = strdup("");
    return h->name ? 1 : -ENOMEM;
}

static int cgroup_hierarchy_open(const struct fsroot *sys_root, struct cgroup_hierarchy *h)
{
    size_t need = fsroot_path(sys_root, h->mount_point, NULL, 0) + 1;
    h->path = malloc(need);
    if (!h->path)
        return -ENOMEM;
    fsroot_path(sys_root, h->mount_point, h->path, need);
    /* "/sys/fs/cgroup/" → "/sys/fs/cgroup" so that paths join with one '/' */
    size_t len = strlen(h->path);
    while (len > 1 && h->path[len - 1] == '/')
        h->path[--len] = '\0';
    int fd = fsroot_openat(sys_root, h->mount_point, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    h->fd = fd;
    if (h->version == CGROUP_V2)
        cgroup_v2_controllers(h);
    return 0;
}

int cgroup_hierarchies_discover(const struct fsroot *proc_root, const struct fsroot *sys_root,
                                struct cgroup_hierarchies *ret)
{
    struct procfile pf = PROCFILE_INIT;
    struct cgroup_hierarchies hs = {0};
    size_t cap = 0;
    int r = procfile_open(&pf, proc_root->fd, "proc/self/mountinfo", 16384);
    if (r < 0)
        return r;
    r = procfile_read(&pf);
    if (r < 0)
        goto out_close;

    for (const char *line = pf.buf, *end = pf.buf + pf.len; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        struct cgroup_hierarchy h;
        int k = cgroup_parse_mount(line, len, &h);
        line += len + 1;
        if (k < 0) {
            r = k;
            goto out_free;
        }
        if (k == 0)
            continue;
        bool dup = false;
        for (size_t i = 0; i < hs.n; i++)
            dup = dup || hs.items[i].dev == h.dev;
        if (dup || (k = cgroup_hierarchy_open(sys_root, &h)) < 0) {
            cgroup_hierarchy_done(&h);
            if (k == -ENOMEM) {
                r = k;
                goto out_free;
            }
            continue;
        }
        if (hs.n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct cgroup_hierarchy *n = reallocarray(hs.items, ncap, sizeof(*n));
            if (!n) {
                cgroup_hierarchy_done(&h);
                r = -ENOMEM;
                goto out_free;
            }
            hs.items = n;
            cap = ncap;
        }
        /* v2 first: it is the one that the other lookups prefer */
        if (h.version == CGROUP_V2) {
            memmove(hs.items + 1, hs.items, hs.n * sizeof(*hs.items));
            hs.items[0] = h;
        } else {
            hs.items[hs.n] = h;
        }
        hs.n++;
    }
    *ret = hs;
    procfile_close(&pf);
    return 0;

out_free:
    cgroup_hierarchies_done(&hs);
out_close:
    procfile_close(&pf);
    return r;
}

const struct cgroup_hierarchy *cgroup_hierarchies_v2(const struct cgroup_hierarchies *hs)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->items[i].version == CGROUP_V2)
            return &hs->items[i];
    return NULL;
}

const struct cgroup_hierarchy *cgroup_hierarchies_with(const struct cgroup_hierarchies *hs,
                                                       enum cgroup_controller c)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->items[i].controllers & (1u << c))
            return &hs->items[i];
    return NULL;
}

size_t cgroup_unique_name(const struct cgroup_hierarchy *h, const char *cpath, char *buf,
                          size_t size)
{
    int n = h->version == CGROUP_V2 ? snprintf(buf, size, "%s", cpath)
                                    : snprintf(buf, size, "%s:%s", h->name, cpath);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- readers ---- */

int cgroup_reader_open(struct cgroup_reader *r, const struct cgroup_hierarchy *h, const char *cpath,
                       unsigned want)
{
    struct cgroup_reader init = CGROUP_READER_INIT;
    *r = init;
    long tck = sysconf(_SC_CLK_TCK);
    if (tck > 0)
        r->clk_tck = tck;

    while (*cpath == '/')
        cpath++;
    int dir = openat(h->fd, *cpath ? cpath : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;

    int n = 0, ret = 0;
    for (int f = 0; f < _CGROUP_FILE_MAX; f++) {
        if (!(want & (1u << f)) || cgroup_files[f].version != (int)h->version)
            continue;
        if (f == CGROUP_FILE_CPUACCT_USAGE || f == CGROUP_FILE_CPUACCT_STAT) {
            if (!(h->controllers & CGROUP_CTRL_BIT(CPUACCT)))
                continue;
        } else if (f == CGROUP_FILE_MEMORY_USAGE_V1) {
            if (!(h->controllers & CGROUP_CTRL_BIT(MEMORY)))
                continue;
        }
        int fd = openat(dir, cgroup_files[f].name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            ret = -errno;
            break;
        }
        r->fd[f] = fd;
        r->files |= 1u << f;
        n++;
    }
    close(dir);
    if (ret < 0) {
        cgroup_reader_close(r);
        return ret;
    }
    return n;
}

void cgroup_reader_close(struct cgroup_reader *r)
{
    for (int f = 0; f < _CGROUP_FILE_MAX; f++) {
        if (r->fd[f] >= 0)
            close(r->fd[f]);
        r->fd[f] = -1;
    }
    r->files = 0;
}

/* Read fd from offset 0 into scratch (NUL-terminated). Returns the length,
 * -ENODEV when the cgroup is gone, or a negative errno. */
static ssize_t cgroup_pread(int fd, struct cgroup_buf *b)
{
    if (!b->p) {
        b->cap = 4096;
        b->p = malloc(b->cap);
        if (!b->p) {
            b->cap = 0;
            return -ENOMEM;
        }
    }
    for (;;) {
        size_t len = 0;
        for (;;) {
            ssize_t k = pread(fd, b->p + len, b->cap - 1 - len, (off_t)len);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                return errno == ENOENT || errno == ESTALE ? -ENODEV : -errno;
            }
            if (k == 0)
                break;
            len += (size_t)k;
            if (len == b->cap - 1)
                break;
        }
        if (len < b->cap - 1) {
            b->p[len] = '\0';
            /* cgroupfs files are never empty: an emptied fixture file is a removal */
            return len ? (ssize_t)len : -ENODEV;
        }
        char *n = realloc(b->p, b->cap * 2);
        if (!n)
            return -ENOMEM;
        b->p = n;
        b->cap *= 2;
    }
}

/* One number on its own line: "1073741824\n", or "max\n" when allowed. */
static int cgroup_parse_single(const char *text, size_t len, bool allow_max, uint64_t *ret)
{
    struct procfile_scan s = procfile_scan_of(text, len);
    if (allow_max && len >= 3 && memcmp(text, "max", 3) == 0) {
        *ret = CGROUP_UNLIMITED;
        return 0;
    }
    return procfile_scan_u64(&s, ret) < 0 ? -EBADMSG : 0;
}

/* "key value" lines (cpu.stat, memory.stat, cpuacct.stat): for each key of
 * keys[] found, write its value in vals[] and set bit i of the result. */
static unsigned cgroup_parse_keyed(const char *text, size_t len, const char *const *keys,
                                   size_t n_keys, uint64_t *vals)
{
    struct procfile_scan s = procfile_scan_of(text, len);
    unsigned found = 0;
    while (!procfile_scan_eof(&s)) {
        const char *w;
        size_t wl = procfile_scan_word(&s, &w);
        for (size_t i = 0; i < n_keys; i++) {
            if (!(found & (1u << i)) && strlen(keys[i]) == wl && memcmp(keys[i], w, wl) == 0) {
                if (procfile_scan_u64(&s, &vals[i]) == 0)
                    found |= 1u << i;
                break;
            }
        }
        procfile_scan_next_line(&s);
    }
    return found;
}

/* Pressure file:
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=91487491
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=84675542 */
static int cgroup_parse_pressure(const char *text, size_t len, struct cgroup_pressure *ret)
{
    struct procfile_scan s = procfile_scan_of(text, len);
    bool some = false;
    memset(ret, 0, sizeof(*ret));
    while (!procfile_scan_eof(&s)) {
        const char *w;
        size_t wl = procfile_scan_word(&s, &w);
        bool is_some = wl == 4 && memcmp(w, "some", 4) == 0;
        bool is_full = wl == 4 && memcmp(w, "full", 4) == 0;
        while ((is_some || is_full) && (wl = procfile_scan_word(&s, &w)) > 0) {
            if (wl > 6 && memcmp(w, "total=", 6) == 0) {
                struct procfile_scan v = procfile_scan_of(w + 6, wl - 6);
                uint64_t x;
                if (procfile_scan_u64(&v, &x) < 0)
                    return -EBADMSG;
                if (is_some) {
                    ret->some_us = x;
                    some = true;
                } else {
                    ret->full_us = x;
                    ret->has_full = true;
                }
            }
        }
        procfile_scan_next_line(&s);
    }
    return some ? 0 : -EBADMSG;
}

/* io.stat, one line per device:
 *   8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0 */
static void cgroup_parse_io(const char *text, size_t len, struct cgroup_stats *st)
{
    static const char *const keys[] = {"rbytes=", "wbytes=", "rios=", "wios="};
    uint64_t *vals[] = {&st->io_rbytes, &st->io_wbytes, &st->io_rios, &st->io_wios};
    struct procfile_scan s = procfile_scan_of(text, len);
    while (!procfile_scan_eof(&s)) {
        const char *w;
        size_t wl;
        procfile_scan_word(&s, &w); /* device */
        while ((wl = procfile_scan_word(&s, &w)) > 0) {
            for (size_t i = 0; i < 4; i++) {
                size_t kl = strlen(keys[i]);
                if (wl > kl && memcmp(w, keys[i], kl) == 0) {
                    struct procfile_scan v = procfile_scan_of(w + kl, wl - kl);
                    uint64_t x;
                    if (procfile_scan_u64(&v, &x) == 0)
                        *vals[i] += x;
                }
            }
        }
        procfile_scan_next_line(&s);
    }
}

static int cgroup_parse_file(const struct cgroup_reader *r, int f, const char *t, size_t len,
                             struct cgroup_stats *st)
{
    static const char *const cpu_keys[] = {"usage_usec", "user_usec", "system_usec"};
    static const char *const acct_keys[] = {"user", "system"};
    static const char *const mem_keys[] = {
        "anon", "file", "kernel_stack", "pagetables", "slab_reclaimable", "pswpin", "pswpout",
    };
    uint64_t v[7];
    unsigned found;
    int k;

    switch (f) {
    case CGROUP_FILE_CPU_STAT:
        found = cgroup_parse_keyed(t, len, cpu_keys, 3, v);
        /* µs → ns: the unit of cpu_time_delta */
        uint64_t *cpu[] = {&st->cpu_usage_ns, &st->cpu_user_ns, &st->cpu_system_ns};
        for (int i = 0; i < 3; i++)
            if (found & (1u << i)) {
                *cpu[i] = v[i] * 1000u;
                st->have |= 1u << (CGROUP_STAT_CPU_USAGE + i);
            }
        return found & 1u ? 0 : -EBADMSG;
    case CGROUP_FILE_CPUACCT_USAGE:
        if ((k = cgroup_parse_single(t, len, false, &st->cpu_usage_ns)) == 0)
            st->have |= CGROUP_STAT_BIT(CPU_USAGE);
        return k;
    case CGROUP_FILE_CPUACCT_STAT:
        found = cgroup_parse_keyed(t, len, acct_keys, 2, v);
        if (found & 1u) {
            st->cpu_user_ns = v[0] * (1000000000u / (uint64_t)r->clk_tck);
            st->have |= CGROUP_STAT_BIT(CPU_USER);
        }
        if (found & 2u) {
            st->cpu_system_ns = v[1] * (1000000000u / (uint64_t)r->clk_tck);
            st->have |= CGROUP_STAT_BIT(CPU_SYSTEM);
        }
        return found == 3u ? 0 : -EBADMSG;
    case CGROUP_FILE_MEMORY_CURRENT:
    case CGROUP_FILE_MEMORY_USAGE_V1:
        if ((k = cgroup_parse_single(t, len, false, &st->memory_current)) == 0)
            st->have |= CGROUP_STAT_BIT(MEMORY_CURRENT);
        return k;
    case CGROUP_FILE_MEMORY_MAX:
        if ((k = cgroup_parse_single(t, len, true, &st->memory_max)) == 0)
            st->have |= CGROUP_STAT_BIT(MEMORY_MAX);
        return k;
    case CGROUP_FILE_SWAP_CURRENT:
        if ((k = cgroup_parse_single(t, len, false, &st->swap_current)) == 0)
            st->have |= CGROUP_STAT_BIT(SWAP_CURRENT);
        return k;
    case CGROUP_FILE_SWAP_MAX:
        if ((k = cgroup_parse_single(t, len, true, &st->swap_max)) == 0)
            st->have |= CGROUP_STAT_BIT(SWAP_MAX);
        return k;
    case CGROUP_FILE_MEMORY_STAT: {
        found = cgroup_parse_keyed(t, len, mem_keys, 7, v);
        uint64_t *mem[] = {
            &st->anon,   &st->file,   &st->kernel_stack, &st->pagetables, &st->slab_reclaimable,
            &st->pswpin, &st->pswpout};
        for (int i = 0; i < 7; i++)
            if (found & (1u << i)) {
                *mem[i] = v[i];
                st->have |= 1u << (CGROUP_STAT_ANON + i);
            }
        return 0;
    }
    case CGROUP_FILE_IO_STAT:
        cgroup_parse_io(t, len, st);
        st->have |= CGROUP_STAT_BIT(IO);
        return 0;
    case CGROUP_FILE_CPU_PRESSURE:
    case CGROUP_FILE_MEMORY_PRESSURE:
    case CGROUP_FILE_IO_PRESSURE: {
        struct cgroup_pressure *p = f == CGROUP_FILE_CPU_PRESSURE      ? &st->cpu_pressure
                                    : f == CGROUP_FILE_MEMORY_PRESSURE ? &st->memory_pressure
                                                                       : &st->io_pressure;
        if ((k = cgroup_parse_pressure(t, len, p)) == 0)
            st->have |= 1u << (CGROUP_STAT_CPU_PRESSURE + (f - CGROUP_FILE_CPU_PRESSURE));
        return k;
    }
    default:
        return -EINVAL;
    }
}

int cgroup_reader_read(struct cgroup_reader *r, struct cgroup_buf *scratch,
                       struct cgroup_stats *ret)
{
    struct cgroup_stats st;
    memset(&st, 0, sizeof(st));
    for (int f = 0; f < _CGROUP_FILE_MAX; f++) {
        if (r->fd[f] < 0)
            continue;
        ssize_t len = cgroup_pread(r->fd[f], scratch);
        if (len < 0)
            return (int)len;
        int k = cgroup_parse_file(r, f, scratch->p, (size_t)len, &st);
        if (k < 0)
            return k;
    }
    *ret = st;
    return 0;
}

/* ---- the cgroup of a process ---- */

/* Lines "hierarchy-id:controllers:path":
 *   4:memory:/process_api/fd0e82d0
 *   1:cpu,cpuacct:/user.slice
 *   0::/user.slice/user-1000.slice/session-2.scope */
ssize_t cgroup_parse_proc_cgroup(const char *text, size_t len, char *buf, size_t size)
{
    const char *best = NULL, *end = text + len;
    size_t best_len = 0;
    int best_rank = 0; /* 3: v2 line, 2: cpuacct, 1: any */

    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        const char *c1 = memchr(line, ':', (size_t)(le - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
        if (c2 && c2 + 1 < le) {
            const char *ctrl = c1 + 1;
            size_t ctrl_len = (size_t)(c2 - ctrl);
            int rank = 1;
            if (ctrl_len == 0 && c1 - line == 1 && line[0] == '0') {
                rank = 3;
            } else {
                for (const char *p = ctrl; p < c2;) {
                    const char *comma = memchr(p, ',', (size_t)(c2 - p));
                    size_t n = comma ? (size_t)(comma - p) : (size_t)(c2 - p);
                    if (n == 7 && memcmp(p, "cpuacct", 7) == 0)
                        rank = 2;
                    p += n + 1;
                }
            }
            if (rank > best_rank) {
                best = c2 + 1;
                best_len = (size_t)(le - best);
                best_rank = rank;
            }
        }
        line = le + 1;
    }
    if (!best)
        return -ENOENT;
    if (best_len + 1 > size)
        return -ENAMETOOLONG;
    memcpy(buf, best, best_len);
    buf[best_len] = '\0';
    return (ssize_t)best_len;
}

ssize_t cgroup_of_pid(const struct fsroot *proc_root, pid_t pid, char *buf, size_t size)
{
    char rel[64];
    char text[4096];
    snprintf(rel, sizeof(rel), "proc/%d/cgroup", (int)pid);
    int fd = fsroot_openat(proc_root, rel, O_RDONLY);
    if (fd < 0)
        return fd == -ENOENT ? -ESRCH : fd;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    int r = n < 0 ? -errno : 0;
    close(fd);
    if (r < 0)
        return r == -ENOENT ? -ESRCH : r;
    text[n] = '\0';
    return cgroup_parse_proc_cgroup(text, (size_t)n, buf, size);
}
