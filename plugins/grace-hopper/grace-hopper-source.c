/* SPDX-License-Identifier: MIT */
/* The source "hwmon": every poll reads power1_average of every sensor (µW),
 * integrates it into energy (the trapezoid between this poll's reading and
 * the previous one over the real time between them, see
 * src/util/power-integrator.h), estimates the DRAM of each socket as
 * grace − cpu − sysio, and adds the totals per kind and the machine total.
 *
 * Order of the points: per socket, each sensor's power then energy, then the
 * DRAM power and energy; then the power totals and the energy totals (grace,
 * cpu, sysio, module, dram); then the two "total" points. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grace-hopper.h"

/* "150000000\n" */
int gh_sensor_read(struct gh_sensor *s)
{
    int r = s->pf.fd < 0 ? procfile_reopen(&s->pf) : 0;
    if (r == 0)
        r = procfile_read(&s->pf);
    if (r == -ENODEV || r == -ENOENT || r == -ESTALE) {
        /* the device went away and may be back: open it again once */
        r = procfile_reopen(&s->pf);
        if (r == 0)
            r = procfile_read(&s->pf);
    }
    if (r < 0)
        return r;
    struct procfile_scan sc = procfile_scan_of(s->pf.buf, s->pf.len);
    uint64_t v;
    r = procfile_scan_u64(&sc, &v);
    if (r < 0 || !procfile_scan_at_eol(&sc))
        return r == -ERANGE ? -ERANGE : -EINVAL;
    s->uw = v;
    return 0;
}

struct gh_source *gh_source_new(struct gh *g)
{
    struct gh_source *src = calloc(1, sizeof(*src));
    if (!src)
        return NULL;
    src->gh = g;
    src->power_metric = ALUMET_METRIC_ID_INVALID;
    src->energy_metric = ALUMET_METRIC_ID_INVALID;
    return src;
}

struct gh_sensor *gh_source_add(struct gh_source *src)
{
    if (src->n == src->cap) {
        size_t ncap = src->cap ? src->cap * 2 : 8;
        struct gh_sensor *n = reallocarray(src->sensors, ncap, sizeof(*n));
        if (!n)
            return NULL;
        src->sensors = n;
        src->cap = ncap;
    }
    struct gh_sensor *s = &src->sensors[src->n++];
    memset(s, 0, sizeof(*s));
    s->pf = (struct procfile)PROCFILE_INIT;
    s->energy = (struct power_integrator)POWER_INTEGRATOR_INIT;
    return s;
}

static int gh_sensor_cmp(const void *a, const void *b)
{
    const struct gh_sensor *x = a, *y = b;
    if (x->socket != y->socket)
        return x->socket < y->socket ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

int gh_source_finish(struct gh_source *src)
{
    qsort(src->sensors, src->n, sizeof(src->sensors[0]), gh_sensor_cmp);
    src->sockets = calloc(src->n ? src->n : 1, sizeof(*src->sockets));
    if (!src->sockets)
        return -ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        struct gh_sensor *s = &src->sensors[i];
        if (src->n_sockets == 0 || src->sockets[src->n_sockets - 1].id != s->socket) {
            struct gh_socket *k = &src->sockets[src->n_sockets++];
            k->id = s->socket;
            k->energy = (struct power_integrator)POWER_INTEGRATOR_INIT;
        }
        if (s->kind <= GH_SYSIO)
            src->sockets[src->n_sockets - 1].parts[s->kind] = s;
    }
    for (size_t i = 0; i < src->n_sockets; i++) {
        struct gh_socket *k = &src->sockets[i];
        k->dram = k->parts[GH_GRACE] && k->parts[GH_CPU] && k->parts[GH_SYSIO];
    }
    return 0;
}

static void gh_source_free(void *data)
{
    struct gh_source *src = data;
    if (!src)
        return;
    for (size_t i = 0; i < src->n; i++) {
        procfile_close(&src->sensors[i].pf);
        free(src->sensors[i].what);
    }
    free(src->sensors);
    free(src->sockets);
    if (src->gh && src->gh->source == src)
        src->gh->source = NULL;
    free(src);
}

/* Pause: no energy interval spans the pause. */
static void gh_source_reset(void *data)
{
    struct gh_source *src = data;
    for (size_t i = 0; i < src->n; i++)
        power_integrator_reset(&src->sensors[i].energy);
    for (size_t i = 0; i < src->n_sockets; i++)
        power_integrator_reset(&src->sockets[i].energy);
}

static const struct alumet_consumer gh_machine_consumer = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static int gh_push_power(struct gh_source *src, struct alumet_buffer *buf, alumet_time_ns now,
                         const struct alumet_resource *res, const char *sensor, uint64_t uw,
                         struct alumet_error *err)
{
    struct alumet_point *p =
        alumet_buffer_push_u64(buf, now, src->power_metric, res, &gh_machine_consumer, uw);
    if (!p || alumet_point_add_attr_str(buf, p, "sensor", sensor) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int gh_push_energy(struct gh_source *src, struct alumet_buffer *buf, alumet_time_ns now,
                          const struct alumet_resource *res, const char *sensor, double mj,
                          struct alumet_error *err)
{
    struct alumet_point *p =
        alumet_buffer_push_f64(buf, now, src->energy_metric, res, &gh_machine_consumer, mj);
    if (!p || alumet_point_add_attr_str(buf, p, "sensor", sensor) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* Sums per kind over the sockets: a total exists when every sensor of the
 * kind gave a value this poll (a total missing a socket would look like a
 * drop). */
struct gh_totals {
    uint64_t uw[_GH_KIND_MAX];
    double mj[_GH_KIND_MAX];
    unsigned present[_GH_KIND_MAX]; /* sensors of the kind */
    unsigned powers[_GH_KIND_MAX], energies[_GH_KIND_MAX];
};

static void gh_total_add(struct gh_totals *t, enum gh_kind k, bool ok, uint64_t uw, bool has_mj,
                         double mj)
{
    t->present[k]++;
    if (ok) {
        t->powers[k]++;
        t->uw[k] += uw;
    }
    if (has_mj) {
        t->energies[k]++;
        t->mj[k] += mj;
    }
}

/* The DRAM estimate of socket k. */
static int gh_socket_dram(struct gh_source *src, struct gh_socket *k, struct alumet_buffer *buf,
                          alumet_time_ns now, struct gh_totals *t, struct alumet_error *err)
{
    struct gh_sensor *g = k->parts[GH_GRACE], *c = k->parts[GH_CPU], *s = k->parts[GH_SYSIO];
    if (!g->ok || !c->ok || !s->ok) {
        power_integrator_reset(&k->energy);
        gh_total_add(t, GH_DRAM, false, 0, false, 0);
        return 0;
    }
    if (c->uw > g->uw || s->uw > g->uw - c->uw) {
        /* the sensors are not sampled together: cpu + sysio can exceed grace
         * for a moment. No estimate rather than a negative one. */
        if (!k->dram_warned)
            gh_log(src->gh, ALUMET_LOG_WARN,
                   "could not compute the DRAM power of socket %" PRIu32 ": cpu (%" PRIu64
                   " µW) + sysio (%" PRIu64 " µW) > grace (%" PRIu64
                   " µW), skipping it until it is positive",
                   k->id, c->uw, s->uw, g->uw);
        k->dram_warned = true;
        power_integrator_reset(&k->energy);
        gh_total_add(t, GH_DRAM, false, 0, false, 0);
        return 0;
    }
    if (k->dram_warned)
        gh_log(src->gh, ALUMET_LOG_INFO, "the DRAM power of socket %" PRIu32 " is positive again",
               k->id);
    k->dram_warned = false;
    uint64_t uw = g->uw - c->uw - s->uw;
    double mj;
    bool has = power_integrator_add(&k->energy, now, (double)uw / 1000.0, &mj) > 0;
    struct alumet_resource res = {ALUMET_RESOURCE_DRAM, k->id, NULL, NULL};
    int r = gh_push_power(src, buf, now, &res, "dram", uw, err);
    if (r == 0 && has)
        r = gh_push_energy(src, buf, now, &res, "dram", mj, err);
    gh_total_add(t, GH_DRAM, true, uw, has, mj);
    return r;
}

static int gh_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                          struct alumet_error *err)
{
    static const char *const total_names[_GH_KIND_MAX] = {
        "grace_total", "cpu_total", "sysio_total", "module_total", "dram_total",
    };
    static const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    struct gh_source *src = data;
    struct gh_totals t = {0};
    size_t failures = 0;
    int r;

    for (size_t i = 0; i < src->n; i++) {
        struct gh_sensor *s = &src->sensors[i];
        r = gh_sensor_read(s);
        s->ok = r == 0;
        s->has_energy = false;
        if (r < 0) {
            power_integrator_reset(&s->energy);
            if (failures++ == 0)
                alumet_error_set(err, r, "cannot read '%s': %s; will retry at the next poll",
                                 s->what, r == -EINVAL ? "not a number" : strerror(-r));
            continue;
        }
        s->has_energy = power_integrator_add(&s->energy, now, (double)s->uw / 1000.0, &s->mj) > 0;
    }

    size_t si = 0;
    for (size_t ki = 0; ki < src->n_sockets; ki++) {
        struct gh_socket *k = &src->sockets[ki];
        struct alumet_resource res = {ALUMET_RESOURCE_CPU_PACKAGE, k->id, NULL, NULL};
        for (; si < src->n && src->sensors[si].socket == k->id; si++) {
            struct gh_sensor *s = &src->sensors[si];
            gh_total_add(&t, s->kind, s->ok, s->uw, s->has_energy, s->mj);
            if (!s->ok)
                continue;
            r = gh_push_power(src, buf, now, &res, gh_kind_name(s->kind), s->uw, err);
            if (r == 0 && s->has_energy)
                r = gh_push_energy(src, buf, now, &res, gh_kind_name(s->kind), s->mj, err);
            if (r < 0)
                return r;
        }
        if (k->dram && (r = gh_socket_dram(src, k, buf, now, &t, err)) < 0)
            return r;
    }

    bool power_ok[_GH_KIND_MAX], energy_ok[_GH_KIND_MAX];
    for (int k = 0; k < _GH_KIND_MAX; k++) {
        power_ok[k] = t.present[k] && t.powers[k] == t.present[k];
        energy_ok[k] = t.present[k] && t.energies[k] == t.present[k];
    }
    for (int k = 0; k < _GH_KIND_MAX; k++)
        if (power_ok[k] &&
            (r = gh_push_power(src, buf, now, &machine, total_names[k], t.uw[k], err)) < 0)
            return r;
    for (int k = 0; k < _GH_KIND_MAX; k++)
        if (energy_ok[k] &&
            (r = gh_push_energy(src, buf, now, &machine, total_names[k], t.mj[k], err)) < 0)
            return r;
    /* the machine: the modules (Grace Hopper: CPU + GPU + memory) when there
     * are, else the Grace sensors (Grace CPU superchip) */
    enum gh_kind top = t.present[GH_MODULE] ? GH_MODULE : GH_GRACE;
    if (power_ok[top] && (r = gh_push_power(src, buf, now, &machine, "total", t.uw[top], err)) < 0)
        return r;
    if (energy_ok[top] &&
        (r = gh_push_energy(src, buf, now, &machine, "total", t.mj[top], err)) < 0)
        return r;

    if (!failures)
        return ALUMET_POLL_OK;
    if (failures > 1)
        alumet_error_prefix(err, "%zu Grace power sensors failed", failures);
    return ALUMET_POLL_RETRY;
}

const struct alumet_source_ops gh_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = gh_source_poll,
    .reset = gh_source_reset,
    .free = gh_source_free,
};
