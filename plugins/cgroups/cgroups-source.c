/* SPDX-License-Identifier: MIT */
/* The source "cgroups": at every poll it takes the changes that the watches
 * of the hierarchies report (inotify, and a full rescan every
 * rescan_interval), then reads every measured cgroup from the descriptors it
 * keeps open.
 *
 * Upstream creates one source per cgroup at run time; the pipeline of this
 * agent takes its sources before it starts, so one source measures the
 * changing set of cgroups instead. The points are the same: consumer
 * cgroup{<canonical path>}.
 *
 * Which hierarchy measures what: the v2 hierarchy measures everything its
 * files give; a v1 hierarchy with cpuacct measures CPU time, one with memory
 * measures memory_usage, except for a cgroup whose canonical path also
 * exists in the v2 hierarchy with the same file (a hybrid host where both
 * trees mirror systemd's): the v2 one then measures it, so that a consumer
 * never gets two series of the same metric. Named and other v1 hierarchies
 * measure nothing and are not followed.
 *
 * For slurm, oar and k8s, cg->family.setup decides which cgroups are
 * measured and gives their attributes, which come first on each of their
 * points. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "util/cgroup-watch.h"
#include "util/cgroup.h"

/* The files a v2 cgroup is read from: what the metrics need. */
#define CGROUPS_V2_FILES                                                                           \
    (CGROUP_FILE_BIT(CPU_STAT) | CGROUP_FILE_BIT(MEMORY_CURRENT) | CGROUP_FILE_BIT(MEMORY_MAX) |   \
     CGROUP_FILE_BIT(MEMORY_STAT) | CGROUP_FILE_BIT(SWAP_CURRENT) | CGROUP_FILE_BIT(SWAP_MAX) |    \
     CGROUP_FILE_BIT(IO_PRESSURE))

struct cgroups_cg {
    char *cpath; /* owned canonical path */
    size_t h;    /* index of its hierarchy */
    struct cgroup_reader rd;
    struct cgroups_attrs attrs;
    struct cgroup_stats last;
    alumet_time_ns last_mono;
    bool measured; /* `last` holds a previous read */
    bool pending;  /* family.refresh to call before its reads */
};

struct cgroups_source {
    struct cgroups *cg;
    struct cgroup_hierarchies hs;
    struct cgroup_watch **watches; /* one per hierarchy, NULL for those not followed */
    struct cgroups_cg **items;     /* owned, in the order they were found */
    size_t n, cap;
    struct cgroup_buf scratch;
    alumet_time_ns last_rescan;
    bool discovered; /* hierarchies found */
    bool warned_none, warned_read;
    /* for the watch callbacks */
    size_t cur_h;
    alumet_time_ns now;
    struct alumet_consumer *started, *ended; /* events to publish after the updates */
    size_t n_started, n_ended, cap_started, cap_ended;
};

static const struct alumet_resource cgroups_machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

size_t cgroups_source_count(const struct cgroups_source *src)
{
    return src->n;
}

static void cgroups_cg_free(struct cgroups_cg *c)
{
    if (!c)
        return;
    cgroup_reader_close(&c->rd);
    cgroups_attrs_done(&c->attrs);
    free(c->cpath);
    free(c);
}

static int cgroups_attrs_push(struct cgroups_attrs *a, const char *key, const char *str,
                              uint64_t u64)
{
    struct cgroups_attr *items = reallocarray(a->items, a->n + 1, sizeof(*items));
    if (!items)
        return -ENOMEM;
    a->items = items;
    struct cgroups_attr *x = &items[a->n];
    *x = (struct cgroups_attr){strdup(key), str ? strdup(str) : NULL, u64};
    if (!x->key || (str && !x->str)) {
        free(x->key);
        free(x->str);
        return -ENOMEM;
    }
    a->n++;
    return 0;
}

int cgroups_attrs_add_str(struct cgroups_attrs *a, const char *key, const char *value)
{
    return cgroups_attrs_push(a, key, value, 0);
}

int cgroups_attrs_add_u64(struct cgroups_attrs *a, const char *key, uint64_t value)
{
    return cgroups_attrs_push(a, key, NULL, value);
}

void cgroups_attrs_done(struct cgroups_attrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->items[i].key);
        free(a->items[i].str);
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}

static void cgroups_source_clear_events(struct cgroups_source *s)
{
    for (size_t i = 0; i < s->n_started; i++)
        free((char *)s->started[i].str);
    for (size_t i = 0; i < s->n_ended; i++)
        free((char *)s->ended[i].str);
    s->n_started = s->n_ended = 0;
}

static void cgroups_source_free(void *data)
{
    struct cgroups_source *s = data;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        cgroups_cg_free(s->items[i]);
    free(s->items);
    for (size_t i = 0; s->watches && i < s->hs.n; i++)
        cgroup_watch_free(s->watches[i]);
    free(s->watches);
    cgroup_hierarchies_done(&s->hs);
    cgroups_source_clear_events(s);
    free(s->started);
    free(s->ended);
    free(s->scratch.p);
    free(s);
}

int cgroups_source_new(struct cgroups *cg, struct cgroups_source **ret)
{
    struct cgroups_source *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cg = cg;
    *ret = s;
    return 0;
}

/* Queue a consumer event for cpath (copied); dropped on -ENOMEM. */
static void cgroups_queue_event(struct alumet_consumer **items, size_t *n, size_t *cap,
                                const char *cpath)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct alumet_consumer *a = reallocarray(*items, ncap, sizeof(*a));
        if (!a)
            return;
        *items = a;
        *cap = ncap;
    }
    char *copy = strdup(cpath);
    if (!copy)
        return;
    (*items)[(*n)++] = (struct alumet_consumer){ALUMET_CONSUMER_CGROUP, 0, copy, NULL};
}

/* Whether the v2 hierarchy has file `name` in cgroup cpath: it measures it. */
static bool cgroups_v2_has(const struct cgroups_source *s, const char *cpath, const char *name)
{
    const struct cgroup_hierarchy *v2 = cgroup_hierarchies_v2(&s->hs);
    char rel[PATH_MAX];
    if (!v2)
        return false;
    while (*cpath == '/')
        cpath++;
    int n = snprintf(rel, sizeof(rel), "%s%s%s", cpath, *cpath ? "/" : "", name);
    return n > 0 && (size_t)n < sizeof(rel) && faccessat(v2->fd, rel, F_OK, 0) == 0;
}

/* The name of a cgroup in the log lines, and what follows it in some
 * (family.describe). */
struct cgroups_desc {
    char name[PATH_MAX], owner[CGROUPS_OWNER_MAX];
};

static void cgroups_describe(const struct cgroups_source *s, size_t h, const char *cpath,
                             struct cgroups_desc *d)
{
    const struct cgroups_family *f = &s->cg->family;
    d->owner[0] = '\0';
    if (f->describe)
        f->describe(f->data, &s->hs.items[h], cpath, d->name, d->owner);
    else
        cgroup_unique_name(&s->hs.items[h], cpath, d->name, sizeof(d->name));
}

/* A cgroup appeared in hierarchy cur_h: open its files. */
static void cgroups_add(struct cgroups_source *s, const char *cpath)
{
    struct cgroups *cg = s->cg;
    const struct cgroup_hierarchy *h = &s->hs.items[s->cur_h];
    unsigned want = CGROUPS_V2_FILES;
    if (h->version == CGROUP_V1) {
        want = 0;
        if (!cgroups_v2_has(s, cpath, "cpu.stat"))
            want |= CGROUP_FILE_BIT(CPUACCT_USAGE) | CGROUP_FILE_BIT(CPUACCT_STAT);
        if (!cgroups_v2_has(s, cpath, "memory.current"))
            want |= CGROUP_FILE_BIT(MEMORY_USAGE_V1);
    }
    cgroups_queue_event(&s->started, &s->n_started, &s->cap_started, cpath);
    if (!want)
        return;

    struct cgroups_cg *c = calloc(1, sizeof(*c));
    struct cgroups_desc d;
    cgroups_describe(s, s->cur_h, cpath, &d);
    if (!c || !(c->cpath = strdup(cpath))) {
        free(c);
        cgroups_log(cg, ALUMET_LOG_ERROR, "out of memory, cgroup '%s' is not measured", d.name);
        return;
    }
    c->h = s->cur_h;
    c->rd = (struct cgroup_reader)CGROUP_READER_INIT;
    if (cg->family.setup) {
        int k = cg->family.setup(cg->family.data, h, cpath, &c->attrs);
        c->pending = k == 2 && cg->family.refresh;
        if (k <= 0) {
            if (k < 0)
                cgroups_log(cg, ALUMET_LOG_ERROR, "out of memory, cgroup '%s' is not measured",
                            d.name);
            cgroups_cg_free(c);
            return;
        }
    }
    int r = cgroup_reader_open(&c->rd, h, cpath, want);
    if (r <= 0) {
        /* gone already, or nothing to read there (a v1 cgroup measured by v2) */
        if (r < 0 && r != -ENOENT)
            cgroups_log(cg, ALUMET_LOG_WARN, "cannot open the files of cgroup '%s': %s, skipping",
                        d.name, strerror(-r));
        cgroups_cg_free(c);
        return;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        struct cgroups_cg **a = reallocarray(s->items, ncap, sizeof(*a));
        if (!a) {
            cgroups_cg_free(c);
            cgroups_log(cg, ALUMET_LOG_ERROR, "out of memory, cgroup '%s' is not measured", d.name);
            return;
        }
        s->items = a;
        s->cap = ncap;
    }
    s->items[s->n++] = c;
    cgroups_log(cg, ALUMET_LOG_DEBUG, "measuring cgroup '%s'%s", d.name, d.owner);
}

/* Stop measuring item i: one log line says that its series ends. */
static void cgroups_remove_at(struct cgroups_source *s, size_t i)
{
    struct cgroups_cg *c = s->items[i];
    struct cgroups_desc d;
    cgroups_describe(s, c->h, c->cpath, &d);
    cgroups_log(s->cg, ALUMET_LOG_INFO, "cgroup '%s'%s was removed, its measurement ends", d.name,
                d.owner);
    cgroups_cg_free(c);
    memmove(s->items + i, s->items + i + 1, (s->n - i - 1) * sizeof(*s->items));
    s->n--;
}

static void cgroups_on_change(void *data, const char *cpath, bool created)
{
    struct cgroups_source *s = data;
    if (created) {
        cgroups_add(s, cpath);
        return;
    }
    cgroups_queue_event(&s->ended, &s->n_ended, &s->cap_ended, cpath);
    if (s->cg->family.removed)
        s->cg->family.removed(s->cg->family.data, &s->hs.items[s->cur_h], cpath);
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i]->h == s->cur_h && strcmp(s->items[i]->cpath, cpath) == 0) {
            cgroups_remove_at(s, i);
            return;
        }
}

/* Find the hierarchies (again at every poll until some are mounted). */
static int cgroups_discover(struct cgroups_source *s)
{
    struct cgroups *cg = s->cg;
    int r = cgroup_hierarchies_discover(&cg->proc, &cg->sys, &s->hs);
    if (r == -ENOMEM)
        return r;
    if (r < 0 || s->hs.n == 0) {
        char path[PATH_MAX];
        fsroot_path(&cg->proc, "proc/self/mountinfo", path, sizeof(path));
        if (!s->warned_none)
            cgroups_log(cg, ALUMET_LOG_WARN,
                        "no cgroup hierarchy is mounted (read from '%s': %s), will look again at "
                        "every poll",
                        path, r < 0 ? strerror(-r) : "no cgroup or cgroup2 mount");
        s->warned_none = true;
        cgroup_hierarchies_done(&s->hs);
        return 0;
    }
    s->watches = calloc(s->hs.n, sizeof(*s->watches));
    if (!s->watches)
        return -ENOMEM;
    for (size_t i = 0; i < s->hs.n; i++) {
        const struct cgroup_hierarchy *h = &s->hs.items[i];
        if (h->version == CGROUP_V1 &&
            !(h->controllers & (CGROUP_CTRL_BIT(CPUACCT) | CGROUP_CTRL_BIT(MEMORY))))
            continue;
        r = cgroup_watch_new(h, &s->watches[i]);
        if (r < 0)
            return r;
        if (!cgroup_watch_has_inotify(s->watches[i]))
            cgroups_log(cg, ALUMET_LOG_WARN,
                        "cannot use inotify on '%s', new cgroups will be found by rescans only "
                        "(every rescan_interval)",
                        h->path);
        cgroups_log(cg, ALUMET_LOG_DEBUG, "following the cgroup v%d hierarchy '%s' at '%s'",
                    (int)h->version, h->name, h->path);
    }
    s->discovered = true;
    return 0;
}

/* Δ of a cumulative counter; false when it went back (the cgroup was
 * recreated between two polls): no point, the new value is the baseline. */
static bool cgroups_delta(uint64_t now, uint64_t before, uint64_t *ret)
{
    if (now < before)
        return false;
    *ret = now - before;
    return true;
}

struct cgroups_emit {
    struct cgroups_source *s;
    struct alumet_buffer *buf;
    alumet_time_ns ts;
    struct alumet_consumer consumer;
    const struct cgroups_attrs *attrs;
    bool failed;
};

/* The cgroup's attributes on p (NULL: failed already). Copied into the
 * buffer: the cgroup's own strings are freed when it is removed, while the
 * buffer may still be on its way to the outputs. */
static struct alumet_point *cgroups_attrs_on(struct cgroups_emit *e, struct alumet_point *p)
{
    for (size_t i = 0; p && i < e->attrs->n; i++) {
        const struct cgroups_attr *a = &e->attrs->items[i];
        const char *key = alumet_buffer_strdup(e->buf, a->key, (size_t)-1);
        const char *str = a->str ? alumet_buffer_strdup(e->buf, a->str, (size_t)-1) : NULL;
        int r = !key || (a->str && !str) ? -ENOMEM
                : a->str                 ? alumet_point_add_attr_str(e->buf, p, key, str)
                                         : alumet_point_add_attr_u64(e->buf, p, key, a->u64);
        if (r < 0)
            p = NULL;
    }
    e->failed = e->failed || !p;
    return p;
}

static struct alumet_point *cgroups_u64(struct cgroups_emit *e, alumet_metric_id m, uint64_t v)
{
    return cgroups_attrs_on(
        e, alumet_buffer_push_u64(e->buf, e->ts, m, &cgroups_machine, &e->consumer, v));
}

static struct alumet_point *cgroups_f64(struct cgroups_emit *e, alumet_metric_id m, double v)
{
    return cgroups_attrs_on(
        e, alumet_buffer_push_f64(e->buf, e->ts, m, &cgroups_machine, &e->consumer, v));
}

static void cgroups_cpu(struct cgroups_emit *e, const char *kind, uint64_t now, uint64_t before,
                        double dt_ns)
{
    const struct cgroups_metrics *m = &e->s->cg->m;
    uint64_t d;
    if (!cgroups_delta(now, before, &d))
        return;
    struct alumet_point *p = cgroups_u64(e, m->cpu_time_delta, d);
    if (p && alumet_point_add_attr_str(e->buf, p, "kind", kind) < 0)
        e->failed = true;
    unsigned n_cpus = e->s->cg->n_cpus;
    if (!n_cpus || dt_ns <= 0)
        return;
    struct alumet_point *q = cgroups_f64(e, m->cpu_percent, (double)d / dt_ns / n_cpus * 100.0);
    if (!q || alumet_point_add_attr_str(e->buf, q, "kind", kind) < 0)
        e->failed = true;
}

static double cgroups_limit(uint64_t v)
{
    return v == CGROUP_UNLIMITED ? -1.0 : (double)v;
}

/* The points of one cgroup, in upstream's order. */
static void cgroups_emit_cg(struct cgroups_emit *e, struct cgroups_cg *c,
                            const struct cgroup_stats *st, alumet_time_ns mono)
{
    const struct cgroups_metrics *m = &e->s->cg->m;
    const struct cgroup_stats *b = &c->last;
    unsigned have = st->have;
#define HAVE(x) (have & CGROUP_STAT_BIT(x))
#define HAD(x) (c->measured && (b->have & CGROUP_STAT_BIT(x)))
    double dt = (double)(mono - c->last_mono);

    if (HAVE(CPU_USAGE) && HAD(CPU_USAGE))
        cgroups_cpu(e, "total", st->cpu_usage_ns, b->cpu_usage_ns, dt);
    if (HAVE(CPU_SYSTEM) && HAD(CPU_SYSTEM))
        cgroups_cpu(e, "system", st->cpu_system_ns, b->cpu_system_ns, dt);
    if (HAVE(CPU_USER) && HAD(CPU_USER))
        cgroups_cpu(e, "user", st->cpu_user_ns, b->cpu_user_ns, dt);
    if (HAVE(MEMORY_CURRENT))
        cgroups_u64(e, m->memory_usage, st->memory_current);
    if (HAVE(MEMORY_MAX))
        cgroups_f64(e, m->memory_max, cgroups_limit(st->memory_max));
    if (HAVE(SWAP_CURRENT))
        cgroups_u64(e, m->swap_current, st->swap_current);
    if (HAVE(SWAP_MAX))
        cgroups_f64(e, m->swap_max, cgroups_limit(st->swap_max));
    if (HAVE(ANON))
        cgroups_u64(e, m->anon, st->anon);
    if (HAVE(FILE))
        cgroups_u64(e, m->file, st->file);
    if (HAVE(KERNEL_STACK))
        cgroups_u64(e, m->kernel_stack, st->kernel_stack);
    if (HAVE(PAGETABLES))
        cgroups_u64(e, m->pagetables, st->pagetables);
    if (HAVE(SLAB_RECLAIMABLE))
        cgroups_u64(e, m->slab_reclaimable, st->slab_reclaimable);
    if (HAVE(PSWPIN))
        cgroups_u64(e, m->pswpin, st->pswpin);
    if (HAVE(PSWPOUT))
        cgroups_u64(e, m->pswpout, st->pswpout);
    uint64_t d;
    if (HAVE(IO_PRESSURE) && HAD(IO_PRESSURE)) {
        if (cgroups_delta(st->io_pressure.some_us, b->io_pressure.some_us, &d))
            cgroups_u64(e, m->io_some, d);
        if (st->io_pressure.has_full && b->io_pressure.has_full &&
            cgroups_delta(st->io_pressure.full_us, b->io_pressure.full_us, &d))
            cgroups_u64(e, m->io_full, d);
    }
#undef HAVE
#undef HAD
}

static int cgroups_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                               struct alumet_error *err)
{
    struct cgroups_source *s = data;
    struct cgroups *cg = s->cg;
    alumet_time_ns mono = cg->clock(cg->clock_data);
    int r;

    if (!s->discovered) {
        if ((r = cgroups_discover(s)) < 0)
            return alumet_error_set(err, r, "out of memory");
        if (!s->discovered)
            return ALUMET_POLL_OK;
        s->last_rescan = mono;
    }
    bool rescan = mono - s->last_rescan >= cg->rescan_interval;
    if (rescan)
        s->last_rescan = mono;
    for (size_t i = 0; i < s->hs.n; i++) {
        if (!s->watches[i])
            continue;
        s->cur_h = i;
        r = cgroup_watch_update(s->watches[i], rescan, cgroups_on_change, s);
        if (r < 0)
            cgroups_log(cg, ALUMET_LOG_WARN, "cannot list the cgroups of '%s': %s, will retry",
                        s->hs.items[i].path, strerror(-r));
        int e;
        size_t unwatched = cgroup_watch_take_unwatched(s->watches[i], &e);
        if (unwatched)
            cgroups_log(cg, ALUMET_LOG_WARN,
                        "cannot watch %zu cgroup directories of '%s' with inotify (%s): the "
                        "cgroups created below them are found by the rescans only; raise the "
                        "limit with 'sysctl fs.inotify.max_user_watches=<more>'",
                        unwatched, s->hs.items[i].path, strerror(-e));
    }
    struct alumet_pipeline *pipeline = atomic_load(&cg->pipeline);
    if (pipeline) {
        if (s->n_ended)
            alumet_pipeline_publish(pipeline, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, s->ended,
                                    s->n_ended);
        if (s->n_started)
            alumet_pipeline_publish(pipeline, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, s->started,
                                    s->n_started);
    }
    cgroups_source_clear_events(s);

    if (cg->family.before_refresh) {
        size_t pending = 0;
        for (size_t i = 0; i < s->n; i++)
            pending += s->items[i]->pending;
        cg->family.before_refresh(cg->family.data, mono, pending);
    }

    struct cgroups_emit e = {.s = s, .buf = buf, .ts = now};
    for (size_t i = 0; i < s->n;) {
        struct cgroups_cg *c = s->items[i];
        struct cgroup_stats st;
        if (c->pending) {
            r = cg->family.refresh(cg->family.data, &s->hs.items[c->h], c->cpath, &c->attrs);
            if (r < 0)
                return alumet_error_set(err, r, "out of memory");
            c->pending = r == 0;
        }
        r = cgroup_reader_read(&c->rd, &s->scratch, &st);
        if (r == -ENODEV) {
            /* removed before the watch said so: its removal event finds nothing */
            cgroups_remove_at(s, i);
            continue;
        }
        if (r < 0) {
            if (r == -ENOMEM)
                return alumet_error_set(err, r, "out of memory");
            if (!s->warned_read) {
                struct cgroups_desc d;
                cgroups_describe(s, c->h, c->cpath, &d);
                cgroups_log(cg, ALUMET_LOG_WARN,
                            "cannot read the statistics of cgroup '%s': %s, skipping it at this "
                            "poll (said once)",
                            d.name, strerror(-r));
            }
            s->warned_read = true;
            i++;
            continue;
        }
        e.consumer = (struct alumet_consumer){
            ALUMET_CONSUMER_CGROUP, 0, alumet_buffer_strdup(buf, c->cpath, (size_t)-1), NULL};
        if (!e.consumer.str)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        e.attrs = &c->attrs;
        cgroups_emit_cg(&e, c, &st, mono);
        if (e.failed)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        c->last = st;
        c->last_mono = mono;
        c->measured = true;
        i++;
    }
    return ALUMET_POLL_OK;
}

/* After a pause: take new baselines. */
static void cgroups_source_reset(void *data)
{
    struct cgroups_source *s = data;
    for (size_t i = 0; i < s->n; i++)
        s->items[i]->measured = false;
}

const struct alumet_source_ops cgroups_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = cgroups_source_poll,
    .reset = cgroups_source_reset,
    .free = cgroups_source_free,
};
