/* SPDX-License-Identifier: MIT */
/* The source "k8s": at every poll it takes the changes that the watches of
 * the hierarchies report (inotify, and a full rescan every
 * rescan_interval), keeps the cgroups of pods (and, with
 * annotate_containers, of their containers), labels them from the registry
 * of the API server, and reads them from the descriptors it keeps open.
 *
 * Hierarchies, as the cgroups plugin: the v2 one measures what its files
 * give; the v1 ones holding cpuacct (CPU time) or memory (memory usage)
 * measure what the v2 one does not have for the same path (a hybrid host:
 * CPU time from the unified hierarchy, memory from the v1 one), so that a
 * consumer never gets two series of a metric. The points are those of the cgroups plugin (consumer
 * cgroup{<canonical path>}, the same metrics), each with the attributes
 * uid, name, namespace, node first, and for the cgroup of a container
 * (annotate_containers) container_id (src/util/container-id.h).
 *
 * Labels never go missing: a pod that the API server does not (yet) know, or
 * any pod while the API server cannot be reached, is measured with uid
 * (from its cgroup path) and node only, and the list is asked again at most
 * every api_retry_interval, then at once for each new unknown uid; the
 * labels are completed as soon as a list names the pod. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s.h"
#include "util/cgroup-watch.h"
#include "util/cgroup.h"
#include "util/container-id.h"

#define K8S_V2_FILES                                                                               \
    (CGROUP_FILE_BIT(CPU_STAT) | CGROUP_FILE_BIT(MEMORY_CURRENT) | CGROUP_FILE_BIT(MEMORY_MAX) |   \
     CGROUP_FILE_BIT(MEMORY_STAT) | CGROUP_FILE_BIT(SWAP_CURRENT) | CGROUP_FILE_BIT(SWAP_MAX) |    \
     CGROUP_FILE_BIT(IO_PRESSURE))
#define K8S_V1_FILES                                                                               \
    (CGROUP_FILE_BIT(CPUACCT_USAGE) | CGROUP_FILE_BIT(CPUACCT_STAT) |                              \
     CGROUP_FILE_BIT(MEMORY_USAGE_V1))

struct k8s_cg {
    char *cpath; /* owned canonical path */
    size_t h;    /* index of its hierarchy */
    char uid[80];
    char container[CONTAINER_ID_LEN + 1]; /* "" when not a container's cgroup */
    bool known;                           /* labelled from the API server */
    char *name, *namespace;
    struct cgroup_reader rd;
    struct cgroup_stats last;
    alumet_time_ns last_mono;
    bool measured;
};

struct k8s_source {
    struct k8s *k;
    struct cgroup_hierarchies hs;
    struct cgroup_watch **watches; /* one per hierarchy, NULL for those not followed */
    struct k8s_cg **items;
    size_t n, cap;
    struct cgroup_buf scratch;
    alumet_time_ns last_rescan;
    bool discovered, warned_none, warned_read;
    bool new_unknown; /* a cgroup with an unknown uid appeared since the last list */
    size_t cur_h;
};

static const struct alumet_resource k8s_machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;

size_t k8s_source_count(const struct k8s_source *src)
{
    return src->n;
}

static void k8s_cg_free(struct k8s_cg *c)
{
    if (!c)
        return;
    cgroup_reader_close(&c->rd);
    free(c->cpath);
    free(c->name);
    free(c->namespace);
    free(c);
}

static void k8s_source_free(void *data)
{
    struct k8s_source *s = data;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        k8s_cg_free(s->items[i]);
    free(s->items);
    for (size_t i = 0; s->watches && i < s->hs.n; i++)
        cgroup_watch_free(s->watches[i]);
    free(s->watches);
    cgroup_hierarchies_done(&s->hs);
    free(s->scratch.p);
    free(s);
}

int k8s_source_new(struct k8s *k, struct k8s_source **ret)
{
    struct k8s_source *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->k = k;
    *ret = s;
    return 0;
}

/* Take the name and namespace of c's pod from the registry. */
static void k8s_label(struct k8s_source *s, struct k8s_cg *c)
{
    const struct k8s_pod *p = k8s_registry_find(&s->k->pods, c->uid);
    if (!p || c->known)
        return;
    char *name = strdup(p->name), *ns = strdup(p->namespace);
    if (!name || !ns) {
        free(name);
        free(ns);
        return; /* still labelled with uid and node */
    }
    c->name = name;
    c->namespace = ns;
    c->known = true;
}

/* Whether the v2 hierarchy has file `name` in cgroup cpath: it measures it. */
static bool k8s_v2_has(const struct k8s_source *s, const char *cpath, const char *name)
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

static void k8s_add(struct k8s_source *s, const char *cpath)
{
    struct k8s *k = s->k;
    const struct cgroup_hierarchy *h = &s->hs.items[s->cur_h];
    char uid[80];
    if (k8s_pod_uid(cpath, k->annotate_containers, uid, sizeof(uid)) < 0)
        return;
    struct k8s_cg *c = calloc(1, sizeof(*c));
    if (!c || !(c->cpath = strdup(cpath))) {
        free(c);
        k8s_log(k, ALUMET_LOG_ERROR, "out of memory, cgroup '%s' is not measured", cpath);
        return;
    }
    c->h = s->cur_h;
    snprintf(c->uid, sizeof(c->uid), "%s", uid);
    struct container_id cid;
    if (k->annotate_containers && k8s_pod_uid(cpath, false, uid, sizeof(uid)) < 0 &&
        container_id_from_cgroup(cpath, &cid) == 0)
        snprintf(c->container, sizeof(c->container), "%s", cid.id);
    c->rd = (struct cgroup_reader)CGROUP_READER_INIT;
    unsigned want = K8S_V2_FILES;
    if (h->version == CGROUP_V1) {
        want = 0;
        if (!k8s_v2_has(s, cpath, "cpu.stat"))
            want |= CGROUP_FILE_BIT(CPUACCT_USAGE) | CGROUP_FILE_BIT(CPUACCT_STAT);
        if (!k8s_v2_has(s, cpath, "memory.current"))
            want |= CGROUP_FILE_BIT(MEMORY_USAGE_V1);
    }
    int r = want ? cgroup_reader_open(&c->rd, h, cpath, want) : 0;
    if (r <= 0) {
        if (r < 0 && r != -ENOENT)
            k8s_log(k, ALUMET_LOG_WARN, "cannot open the files of cgroup '%s': %s, skipping", cpath,
                    strerror(-r));
        k8s_cg_free(c);
        return;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        struct k8s_cg **a = reallocarray(s->items, ncap, sizeof(*a));
        if (!a) {
            k8s_cg_free(c);
            k8s_log(k, ALUMET_LOG_ERROR, "out of memory, cgroup '%s' is not measured", cpath);
            return;
        }
        s->items = a;
        s->cap = ncap;
    }
    s->items[s->n++] = c;
    k8s_label(s, c);
    if (!c->known)
        s->new_unknown = true;
    k8s_log(k, ALUMET_LOG_DEBUG, "measuring the cgroup '%s' of pod %s", cpath, c->uid);
}

static void k8s_remove_at(struct k8s_source *s, size_t i)
{
    struct k8s_cg *c = s->items[i];
    k8s_log(s->k, ALUMET_LOG_INFO, "cgroup '%s' of pod %s was removed, its measurement ends",
            c->cpath, c->uid);
    k8s_cg_free(c);
    memmove(s->items + i, s->items + i + 1, (s->n - i - 1) * sizeof(*s->items));
    s->n--;
}

static void k8s_on_change(void *data, const char *cpath, bool created)
{
    struct k8s_source *s = data;
    if (created) {
        k8s_add(s, cpath);
        return;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i]->h == s->cur_h && strcmp(s->items[i]->cpath, cpath) == 0) {
            k8s_remove_at(s, i);
            return;
        }
}

static int k8s_discover(struct k8s_source *s)
{
    struct k8s *k = s->k;
    int r = cgroup_hierarchies_discover(&k->proc, &k->sys, &s->hs);
    if (r == -ENOMEM)
        return r;
    if (r < 0 || s->hs.n == 0) {
        if (!s->warned_none)
            k8s_log(k, ALUMET_LOG_WARN,
                    "no cgroup hierarchy is mounted (%s), will look again at every poll",
                    r < 0 ? strerror(-r) : "no cgroup or cgroup2 mount");
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
        if ((r = cgroup_watch_new(h, &s->watches[i])) < 0)
            return r;
        if (!cgroup_watch_has_inotify(s->watches[i]))
            k8s_log(k, ALUMET_LOG_WARN,
                    "cannot use inotify on '%s', new pods will be found by rescans only", h->path);
    }
    s->discovered = true;
    return 0;
}

/* Ask the API server again when a cgroup has an unknown uid: at once for a
 * new one (the pod was just created), else every api_retry_interval. */
static void k8s_refresh(struct k8s_source *s, alumet_time_ns mono)
{
    struct k8s *k = s->k;
    size_t unknown = 0;
    for (size_t i = 0; i < s->n; i++)
        unknown += !s->items[i]->known;
    if (!unknown)
        return;
    bool due = mono - k->last_list >= k->api_retry_interval;
    if (!due && !(s->new_unknown && k->api_ok))
        return;
    s->new_unknown = false;
    k->last_list = mono;
    char msg[512];
    int r = k8s_list_pods(k, msg, sizeof(msg));
    if (r < 0) {
        if (k->api_ok)
            k8s_log(k, ALUMET_LOG_WARN,
                    "cannot list the pods with the K8S API: %s; %zu pod cgroups are labelled with "
                    "their uid and node only until the API answers (retried every "
                    "api_retry_interval)",
                    msg, unknown);
        k->api_ok = false;
        return;
    }
    if (!k->api_ok)
        k8s_log(k, ALUMET_LOG_INFO, "the K8S API answers again: %zu pods on node '%s'", k->pods.n,
                k->node);
    k8s_note_list(k, msg);
    k->api_ok = true;
    for (size_t i = 0; i < s->n; i++)
        k8s_label(s, s->items[i]);
}

struct k8s_emit {
    struct k8s_source *s;
    struct alumet_buffer *buf;
    alumet_time_ns ts;
    struct alumet_consumer consumer;
    const struct k8s_cg *c;
    bool failed;
};

/* The attributes of every point: uid, name, namespace, node, container_id. */
/* A string attribute copied into the buffer: the pod's strings are freed
 * when its cgroup is removed, while the buffer may still be on its way to
 * the outputs. */
static int k8s_attr(struct k8s_emit *e, struct alumet_point *p, const char *key, const char *v)
{
    const char *copy = alumet_buffer_strdup(e->buf, v, (size_t)-1);
    return copy ? alumet_point_add_attr_str(e->buf, p, key, copy) : -ENOMEM;
}

static void k8s_attrs(struct k8s_emit *e, struct alumet_point *p)
{
    if (!p) {
        e->failed = true;
        return;
    }
    const struct k8s_cg *c = e->c;
    if (k8s_attr(e, p, "uid", c->uid) < 0 ||
        (c->known &&
         (k8s_attr(e, p, "name", c->name) < 0 || k8s_attr(e, p, "namespace", c->namespace) < 0)) ||
        k8s_attr(e, p, "node", e->s->k->node) < 0 ||
        (c->container[0] && k8s_attr(e, p, "container_id", c->container) < 0))
        e->failed = true;
}

static void k8s_u64(struct k8s_emit *e, alumet_metric_id m, uint64_t v)
{
    k8s_attrs(e, alumet_buffer_push_u64(e->buf, e->ts, m, &k8s_machine, &e->consumer, v));
}

static void k8s_f64(struct k8s_emit *e, alumet_metric_id m, double v)
{
    k8s_attrs(e, alumet_buffer_push_f64(e->buf, e->ts, m, &k8s_machine, &e->consumer, v));
}

static bool k8s_delta(uint64_t now, uint64_t before, uint64_t *ret)
{
    if (now < before)
        return false;
    *ret = now - before;
    return true;
}

static void k8s_cpu(struct k8s_emit *e, const char *kind, uint64_t now, uint64_t before, double dt)
{
    const struct cgroups_metrics *m = &e->s->k->m;
    uint64_t d;
    if (!k8s_delta(now, before, &d))
        return;
    struct alumet_point *p =
        alumet_buffer_push_u64(e->buf, e->ts, m->cpu_time_delta, &k8s_machine, &e->consumer, d);
    k8s_attrs(e, p);
    if (p && alumet_point_add_attr_str(e->buf, p, "kind", kind) < 0)
        e->failed = true;
    unsigned n_cpus = e->s->k->n_cpus;
    if (!n_cpus || dt <= 0)
        return;
    struct alumet_point *q = alumet_buffer_push_f64(e->buf, e->ts, m->cpu_percent, &k8s_machine,
                                                    &e->consumer, (double)d / dt / n_cpus * 100.0);
    k8s_attrs(e, q);
    if (q && alumet_point_add_attr_str(e->buf, q, "kind", kind) < 0)
        e->failed = true;
}

static double k8s_limit(uint64_t v)
{
    return v == CGROUP_UNLIMITED ? -1.0 : (double)v;
}

/* The points of one cgroup, in upstream's order (as the cgroups plugin). */
static void k8s_emit_cg(struct k8s_emit *e, struct k8s_cg *c, const struct cgroup_stats *st,
                        alumet_time_ns mono)
{
    const struct cgroups_metrics *m = &e->s->k->m;
    const struct cgroup_stats *b = &c->last;
    unsigned have = st->have;
#define HAVE(x) (have & CGROUP_STAT_BIT(x))
#define HAD(x) (c->measured && (b->have & CGROUP_STAT_BIT(x)))
    double dt = (double)(mono - c->last_mono);
    if (HAVE(CPU_USAGE) && HAD(CPU_USAGE))
        k8s_cpu(e, "total", st->cpu_usage_ns, b->cpu_usage_ns, dt);
    if (HAVE(CPU_SYSTEM) && HAD(CPU_SYSTEM))
        k8s_cpu(e, "system", st->cpu_system_ns, b->cpu_system_ns, dt);
    if (HAVE(CPU_USER) && HAD(CPU_USER))
        k8s_cpu(e, "user", st->cpu_user_ns, b->cpu_user_ns, dt);
    if (HAVE(MEMORY_CURRENT))
        k8s_u64(e, m->memory_usage, st->memory_current);
    if (HAVE(MEMORY_MAX))
        k8s_f64(e, m->memory_max, k8s_limit(st->memory_max));
    if (HAVE(SWAP_CURRENT))
        k8s_u64(e, m->swap_current, st->swap_current);
    if (HAVE(SWAP_MAX))
        k8s_f64(e, m->swap_max, k8s_limit(st->swap_max));
    if (HAVE(ANON))
        k8s_u64(e, m->anon, st->anon);
    if (HAVE(FILE))
        k8s_u64(e, m->file, st->file);
    if (HAVE(KERNEL_STACK))
        k8s_u64(e, m->kernel_stack, st->kernel_stack);
    if (HAVE(PAGETABLES))
        k8s_u64(e, m->pagetables, st->pagetables);
    if (HAVE(SLAB_RECLAIMABLE))
        k8s_u64(e, m->slab_reclaimable, st->slab_reclaimable);
    if (HAVE(PSWPIN))
        k8s_u64(e, m->pswpin, st->pswpin);
    if (HAVE(PSWPOUT))
        k8s_u64(e, m->pswpout, st->pswpout);
    uint64_t d;
    if (HAVE(IO_PRESSURE) && HAD(IO_PRESSURE)) {
        if (k8s_delta(st->io_pressure.some_us, b->io_pressure.some_us, &d))
            k8s_u64(e, m->io_some, d);
        if (st->io_pressure.has_full && b->io_pressure.has_full &&
            k8s_delta(st->io_pressure.full_us, b->io_pressure.full_us, &d))
            k8s_u64(e, m->io_full, d);
    }
#undef HAVE
#undef HAD
}

static int k8s_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                           struct alumet_error *err)
{
    struct k8s_source *s = data;
    struct k8s *k = s->k;
    alumet_time_ns mono = k->clock(k->clock_data);
    int r;

    if (!s->discovered) {
        if ((r = k8s_discover(s)) < 0)
            return alumet_error_set(err, r, "out of memory");
        if (!s->discovered)
            return ALUMET_POLL_OK;
        s->last_rescan = mono;
    }
    bool rescan = mono - s->last_rescan >= k->rescan_interval;
    if (rescan)
        s->last_rescan = mono;
    for (size_t i = 0; i < s->hs.n; i++) {
        if (!s->watches[i])
            continue;
        s->cur_h = i;
        r = cgroup_watch_update(s->watches[i], rescan, k8s_on_change, s);
        if (r < 0)
            k8s_log(k, ALUMET_LOG_WARN, "cannot list the cgroups of '%s': %s, will retry",
                    s->hs.items[i].path, strerror(-r));
        int e;
        if (cgroup_watch_take_unwatched(s->watches[i], &e))
            k8s_log(k, ALUMET_LOG_WARN,
                    "cannot watch some cgroup directories of '%s' with inotify (%s): new pods "
                    "below them are found by the rescans only; raise "
                    "fs.inotify.max_user_watches",
                    s->hs.items[i].path, strerror(-e));
    }
    k8s_refresh(s, mono);

    struct k8s_emit e = {.s = s, .buf = buf, .ts = now};
    for (size_t i = 0; i < s->n;) {
        struct k8s_cg *c = s->items[i];
        struct cgroup_stats st;
        r = cgroup_reader_read(&c->rd, &s->scratch, &st);
        if (r == -ENODEV) {
            k8s_remove_at(s, i);
            continue;
        }
        if (r < 0) {
            if (r == -ENOMEM)
                return alumet_error_set(err, r, "out of memory");
            if (!s->warned_read)
                k8s_log(k, ALUMET_LOG_WARN,
                        "cannot read the statistics of cgroup '%s': %s, skipping it at this poll "
                        "(said once)",
                        c->cpath, strerror(-r));
            s->warned_read = true;
            i++;
            continue;
        }
        e.consumer = (struct alumet_consumer){
            ALUMET_CONSUMER_CGROUP, 0, alumet_buffer_strdup(buf, c->cpath, (size_t)-1), NULL};
        e.c = c;
        if (!e.consumer.str)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        k8s_emit_cg(&e, c, &st, mono);
        if (e.failed)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        c->last = st;
        c->last_mono = mono;
        c->measured = true;
        i++;
    }
    return ALUMET_POLL_OK;
}

static void k8s_source_reset(void *data)
{
    struct k8s_source *s = data;
    for (size_t i = 0; i < s->n; i++)
        s->items[i]->measured = false;
}

const struct alumet_source_ops k8s_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = k8s_source_poll,
    .reset = k8s_source_reset,
    .free = k8s_source_free,
};
