/* SPDX-License-Identifier: MIT */
/* The source "in": reads every counter, turns the difference with the
 * previous read into joules, and adds one total per domain across sockets.
 *
 * Energy is always a difference of counters: the RAPL counters accumulate
 * energy, so nothing is ever computed from power and the poll interval.
 * Domains are never summed across types (psys contains the packages, a
 * package contains pp0 and pp1): the totals are per domain only. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rapl.h"

/* ---- counter arithmetic ---- */

enum rapl_delta rapl_counter_update(struct rapl_counter *c, uint64_t value, uint64_t *ret_delta)
{
    if (c->max != 0 && value > c->max) {
        c->has_prev = false;
        return RAPL_DELTA_INVALID;
    }
    bool had = c->has_prev;
    uint64_t prev = c->prev;
    c->prev = value;
    c->has_prev = true;
    if (!had)
        return RAPL_DELTA_FIRST;
    if (value >= prev) {
        *ret_delta = value - prev;
        return RAPL_DELTA_OK;
    }
    /* Backwards: the counter wrapped around once (several wraps between two
     * reads cannot be seen). Without a known maximum, or with a previous value
     * above it, no difference can be trusted: value is only a new baseline. */
    if (c->max == 0 || prev > c->max)
        return RAPL_DELTA_INVALID;
    /* max - prev <= max, and adding value < prev cannot overflow */
    *ret_delta = (c->max - prev) + value + 1;
    return RAPL_DELTA_WRAPPED;
}

double rapl_counter_joules(const struct rapl_counter *c, uint64_t delta)
{
    if (c->perf)
        return (double)delta * c->scale;
    /* µJ: the division is correctly rounded, so 30000000 µJ gives exactly 30 */
    return (double)delta / 1e6;
}

/* energy_uj: "124599532281\n" */
static int rapl_powercap_read(struct rapl *rapl, struct rapl_counter *c, uint64_t *ret)
{
    int r;

    if (c->pf.fd < 0) {
        /* the file vanished at an earlier read (driver unloaded): try again */
        r = procfile_open(&c->pf, rapl->sys.fd, c->rel, 32);
        if (r < 0)
            return r;
    }
    r = procfile_read(&c->pf);
    if (r == -ENODEV || r == -ENOENT || r == -ESTALE) {
        procfile_close(&c->pf);
        return r;
    }
    if (r < 0)
        return r;
    struct procfile_scan s = procfile_scan_of(c->pf.buf, c->pf.len);
    uint64_t v;
    r = procfile_scan_u64(&s, &v);
    if (r < 0)
        return r == -ERANGE ? -ERANGE : -EINVAL;
    if (!procfile_scan_at_eol(&s))
        return -EINVAL;
    *ret = v;
    return 0;
}

int rapl_counter_read(struct rapl *rapl, struct rapl_counter *c, uint64_t *ret)
{
    if (c->perf)
        return rapl->perf_ops.read(rapl->perf_ops.data, c->fd, ret);
    return rapl_powercap_read(rapl, c, ret);
}

/* ---- the source ---- */

struct rapl_source *rapl_source_new(struct rapl *rapl, alumet_metric_id metric)
{
    struct rapl_source *src = calloc(1, sizeof(*src));
    if (!src)
        return NULL;
    src->rapl = rapl;
    src->metric = metric;
    return src;
}

struct rapl_counter *rapl_source_add(struct rapl_source *src)
{
    if (src->n == src->cap) {
        size_t ncap = src->cap ? src->cap * 2 : 8;
        struct rapl_counter *n = reallocarray(src->counters, ncap, sizeof(*n));
        if (!n)
            return NULL;
        src->counters = n;
        src->cap = ncap;
    }
    struct rapl_counter *c = &src->counters[src->n++];
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->pf = (struct procfile)PROCFILE_INIT;
    return c;
}

static void rapl_source_free(void *data)
{
    struct rapl_source *src = data;
    if (!src)
        return;
    for (size_t i = 0; i < src->n; i++) {
        struct rapl_counter *c = &src->counters[i];
        if (c->fd >= 0)
            close(c->fd);
        procfile_close(&c->pf);
        free(c->what);
        free(c->rel);
    }
    free(src->counters);
    if (src->rapl && src->rapl->source == src)
        src->rapl->source = NULL;
    free(src);
}

/* Pause: forget every baseline, so that the first poll after the resume does
 * not give a difference spanning the pause. */
static void rapl_source_reset(void *data)
{
    struct rapl_source *src = data;
    for (size_t i = 0; i < src->n; i++)
        src->counters[i].has_prev = false;
}

static int rapl_push(struct rapl_source *src, struct alumet_buffer *buf, alumet_time_ns now,
                     const struct alumet_resource *res, const char *domain, double joules,
                     struct alumet_error *err)
{
    static const struct alumet_consumer machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    struct alumet_point *p = alumet_buffer_push_f64(buf, now, src->metric, res, &machine, joules);
    if (!p || alumet_point_add_attr_str(buf, p, "domain", domain) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* The counters of a poll are read within one window no longer than
 * RAPL_READ_WINDOW and stamped at its middle: a thread preempted between the
 * instant a poll stands for and its reads (tens of ms on a loaded machine)
 * would otherwise move that much energy into the next interval, and an exec
 * of a short program would be billed for it. A longer window is read again,
 * RAPL_READ_TRIES times at most (the last one stands). */
#define RAPL_READ_WINDOW ALUMET_NSEC_PER_MSEC
#define RAPL_READ_TRIES 3

static alumet_time_ns rapl_source_read_all(struct rapl_source *src)
{
    struct rapl *rapl = src->rapl;
    alumet_time_ns from = 0, to = 0;
    for (int t = 0; t < RAPL_READ_TRIES; t++) {
        from = read_clock_now(&rapl->clock);
        for (size_t i = 0; i < src->n; i++) {
            struct rapl_counter *c = &src->counters[i];
            c->read_r = rapl_counter_read(rapl, c, &c->raw);
        }
        to = read_clock_now(&rapl->clock);
        if (to - from <= RAPL_READ_WINDOW)
            break;
    }
    return read_clock_middle(from, to);
}

static int rapl_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns scheduled,
                            struct alumet_error *err)
{
    struct rapl_source *src = data;
    struct rapl *rapl = src->rapl;
    double totals[_RAPL_DOMAIN_MAX] = {0};
    bool have[_RAPL_DOMAIN_MAX] = {false};
    bool incomplete[_RAPL_DOMAIN_MAX] = {false};
    size_t failures = 0;
    int r;

    (void)scheduled; /* the points carry the instant of the reads themselves */
    alumet_time_ns now = rapl_source_read_all(src);
    for (size_t i = 0; i < src->n; i++) {
        struct rapl_counter *c = &src->counters[i];
        uint64_t raw = c->raw, delta = 0;

        r = c->read_r;
        if (r < 0) {
            /* the next good value is a new baseline, never a difference with
             * a value from before the failure */
            c->has_prev = false;
            incomplete[c->domain] = true;
            if (failures++ == 0) {
                alumet_error_set(err, r,
                                 "cannot read the RAPL counter %s: %s; its baseline is reset, "
                                 "will retry at the next poll",
                                 c->what, strerror(-r));
            }
            continue;
        }
        uint64_t prev = c->prev;
        switch (rapl_counter_update(c, raw, &delta)) {
        case RAPL_DELTA_FIRST:
            incomplete[c->domain] = true;
            continue;
        case RAPL_DELTA_INVALID:
            rapl_log(rapl, ALUMET_LOG_DEBUG,
                     "the RAPL counter %s went from '%" PRIu64 "' to '%" PRIu64
                     "' (maximum '%" PRIu64 "'), taking it as a new baseline",
                     c->what, prev, raw, c->max);
            incomplete[c->domain] = true;
            continue;
        case RAPL_DELTA_WRAPPED:
            rapl_log(rapl, ALUMET_LOG_DEBUG,
                     "the RAPL counter %s wrapped around ('%" PRIu64 "' then '%" PRIu64
                     "', maximum '%" PRIu64 "'): difference corrected to '%" PRIu64 "'",
                     c->what, prev, raw, c->max, delta);
            break;
        case RAPL_DELTA_OK:
            break;
        }
        double joules = rapl_counter_joules(c, delta);
        r = rapl_push(src, buf, now, &c->resource, rapl_domain_name(c->domain), joules, err);
        if (r < 0)
            return r;
        totals[c->domain] += joules;
        have[c->domain] = true;
    }

    /* One total per domain, only when every counter of the domain gave a
     * value: a total missing a socket would look like a drop in energy. */
    static const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    for (int d = 0; d < _RAPL_DOMAIN_MAX; d++) {
        if (!have[d] || incomplete[d])
            continue;
        r = rapl_push(src, buf, now, &machine, rapl_domain_total_name((enum rapl_domain)d),
                      totals[d], err);
        if (r < 0)
            return r;
    }
    if (failures > 1)
        alumet_error_prefix(err, "%zu RAPL counters failed", failures);
    return failures ? ALUMET_POLL_RETRY : ALUMET_POLL_OK;
}

const struct alumet_source_ops rapl_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = rapl_source_poll,
    .reset = rapl_source_reset,
    .free = rapl_source_free,
};
