/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "delivery.h"
#include "log-internal.h"

#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_pipeline)

#define SUMMARY_PERIOD (60 * ALUMET_NSEC_PER_SEC)

/* Counters are written by the output thread and read by the health source:
 * relaxed atomics, each counter on its own. */
#define STAT_ADD(d, field, n) __atomic_fetch_add(&(d)->stats.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define STAT_SUB(d, field, n) __atomic_fetch_sub(&(d)->stats.field, (uint64_t)(n), __ATOMIC_RELAXED)

void alumet__delivery_stats(const struct delivery *d, struct alumet_output_stats *ret)
{
    ret->written_points = __atomic_load_n(&d->stats.written_points, __ATOMIC_RELAXED);
    ret->retried_writes = __atomic_load_n(&d->stats.retried_writes, __ATOMIC_RELAXED);
    ret->dropped_points = __atomic_load_n(&d->stats.dropped_points, __ATOMIC_RELAXED);
    ret->pending_points = __atomic_load_n(&d->stats.pending_points, __ATOMIC_RELAXED);
}

int alumet__delivery_init(struct delivery *d, const struct alumet_delivery_opts *opts,
                          const char *name, delivery_write_fn write, void *ctx)
{
    *d = (struct delivery){.opts = *opts, .name = name, .write = write, .ctx = ctx};
    if (!d->opts.max_points)
        d->opts.max_points = 1000000;
    if (!d->opts.initial_backoff)
        d->opts.initial_backoff = 500 * ALUMET_NSEC_PER_MSEC;
    if (!d->opts.max_backoff)
        d->opts.max_backoff = 30 * ALUMET_NSEC_PER_SEC;
    if (!d->opts.drain_timeout)
        d->opts.drain_timeout = 5 * ALUMET_NSEC_PER_SEC;
    d->rng = (uint64_t)alumet_time_monotonic() | 1;
    return 0;
}

static struct alumet_buffer *delivery_pop(struct delivery *d)
{
    struct alumet_buffer *b = d->pending[d->head];
    d->head = (d->head + 1) % d->cap;
    d->len--;
    STAT_SUB(d, pending_points, alumet_buffer_len(b));
    return b;
}

static void delivery_drop_oldest(struct delivery *d)
{
    struct alumet_buffer *b = delivery_pop(d);
    STAT_ADD(d, dropped_points, alumet_buffer_len(b));
    alumet__buffer_unref(b);
}

void alumet__delivery_done(struct delivery *d)
{
    while (d->len)
        delivery_drop_oldest(d);
    free(d->pending);
    d->pending = NULL;
    if (d->batch)
        STAT_ADD(d, dropped_points, alumet_buffer_len(d->batch));
    alumet__buffer_free(d->batch);
    d->batch = NULL;
}

static int delivery_keep(struct delivery *d, struct alumet_buffer *buf)
{
    if (d->len == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        struct alumet_buffer **n = malloc(ncap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        for (size_t i = 0; i < d->len; i++)
            n[i] = d->pending[(d->head + i) % d->cap];
        free(d->pending);
        d->pending = n;
        d->head = 0;
        d->cap = ncap;
    }
    d->pending[(d->head + d->len) % d->cap] = buf;
    d->len++;
    STAT_ADD(d, pending_points, alumet_buffer_len(buf));
    /* bounded: drop the oldest, but never the buffer just kept */
    while (d->stats.pending_points > d->opts.max_points && d->len > 1)
        delivery_drop_oldest(d);
    return 0;
}

alumet_time_ns alumet__delivery_next_backoff(alumet_time_ns cur, alumet_time_ns initial,
                                             alumet_time_ns max)
{
    if (cur <= 0)
        return initial < max ? initial : max;
    return cur > max / 2 ? max : cur * 2;
}

alumet_time_ns alumet__delivery_jitter(alumet_time_ns backoff, uint64_t rnd)
{
    /* wait between 75 % and 100 % of the backoff, so that many agents
     * restarted together do not hit the server in step */
    alumet_time_ns quarter = backoff / 4;
    return backoff - (quarter > 0 ? (alumet_time_ns)(rnd % (uint64_t)(quarter + 1)) : 0);
}

static uint64_t delivery_rand(struct delivery *d)
{
    /* xorshift64 */
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return d->rng;
}

static void delivery_failed(struct delivery *d, const char *msg)
{
    alumet_time_ns now = alumet_time_monotonic();
    STAT_ADD(d, retried_writes, 1);
    d->backoff =
        alumet__delivery_next_backoff(d->backoff, d->opts.initial_backoff, d->opts.max_backoff);
    alumet_time_ns wait = alumet__delivery_jitter(d->backoff, delivery_rand(d));
    d->next_retry = now + wait;
    if (!d->failing) {
        d->failing = true;
        d->last_summary = now;
        d->failures_since_summary = 0;
        alumet_log_error("cannot write to %s: %s; keeping the data and retrying (next attempt "
                         "in %lld ms)",
                         d->name, msg, (long long)(wait / ALUMET_NSEC_PER_MSEC));
    } else {
        d->failures_since_summary++;
        if (now - d->last_summary >= SUMMARY_PERIOD) {
            alumet_log_warn("%s still failing: %llu failed attempts in the last minute, %llu "
                            "points waiting, %llu points dropped so far; last error: %s",
                            d->name, (unsigned long long)d->failures_since_summary,
                            (unsigned long long)d->stats.pending_points,
                            (unsigned long long)d->stats.dropped_points, msg);
            d->last_summary = now;
            d->failures_since_summary = 0;
        }
    }
}

static void delivery_recovered(struct delivery *d)
{
    if (d->failing && d->len == 0) {
        alumet_log_info("delivery to %s recovered (%llu points dropped in total)", d->name,
                        (unsigned long long)d->stats.dropped_points);
        d->failing = false;
        d->backoff = 0;
    }
}

/* Write the oldest waiting buffer; 1 when it failed again, 0 when written. */
static int delivery_try_oldest(struct delivery *d, struct alumet_error *err)
{
    struct alumet_buffer *b = d->pending[d->head];
    struct alumet_error e = {0};
    int r = d->write(d->ctx, b, &e);
    if (r == ALUMET_WRITE_RETRY) {
        delivery_failed(d, e.msg);
        return 1;
    }
    delivery_pop(d);
    if (r == ALUMET_WRITE_DROP) {
        STAT_ADD(d, dropped_points, alumet_buffer_len(b));
        alumet__buffer_unref(b);
        delivery_recovered(d);
        return 0;
    }
    if (r < 0) {
        STAT_ADD(d, dropped_points, alumet_buffer_len(b));
        alumet__buffer_unref(b);
        *err = e;
        return r;
    }
    STAT_ADD(d, written_points, alumet_buffer_len(b));
    alumet__buffer_unref(b);
    delivery_recovered(d);
    return 0;
}

static int delivery_retry_due(struct delivery *d, struct alumet_error *err)
{
    while (d->len && alumet_time_monotonic() >= d->next_retry) {
        int r = delivery_try_oldest(d, err);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return 0;
}

alumet_time_ns alumet__delivery_deadline(const struct delivery *d)
{
    alumet_time_ns t = d->len ? d->next_retry : INT64_MAX;
    if (d->batch && d->batch_due < t)
        t = d->batch_due;
    return t;
}

/* Write buf now, or keep it behind what waits (takes the reference). */
static int delivery_write_now(struct delivery *d, struct alumet_buffer *buf,
                              struct alumet_error *err)
{
    if (d->len) {
        /* keep the order: behind what already waits */
        if (delivery_keep(d, buf) < 0) {
            STAT_ADD(d, dropped_points, alumet_buffer_len(buf));
            alumet__buffer_unref(buf);
        }
        return delivery_retry_due(d, err);
    }
    struct alumet_error e = {0};
    int r = d->write(d->ctx, buf, &e);
    if (r == ALUMET_WRITE_RETRY) {
        if (!d->opts.retry) {
            STAT_ADD(d, retried_writes, 1);
            STAT_ADD(d, dropped_points, alumet_buffer_len(buf));
            alumet_log_error("non-fatal error when writing to %s (%zu points dropped): %s", d->name,
                             alumet_buffer_len(buf), e.msg);
            alumet__buffer_unref(buf);
            return 0;
        }
        delivery_failed(d, e.msg);
        if (delivery_keep(d, buf) < 0) {
            STAT_ADD(d, dropped_points, alumet_buffer_len(buf));
            alumet__buffer_unref(buf);
        }
        return 0;
    }
    if (r < 0 || r == ALUMET_WRITE_DROP) {
        STAT_ADD(d, dropped_points, alumet_buffer_len(buf));
        alumet__buffer_unref(buf);
        if (r < 0)
            *err = e;
        return r < 0 ? r : 0;
    }
    STAT_ADD(d, written_points, alumet_buffer_len(buf));
    alumet__buffer_unref(buf);
    return 0;
}

/* Write the batch (the next one is due a period after this one was, or a
 * period from now when the writes fell behind). */
static int delivery_write_batch(struct delivery *d, struct alumet_error *err)
{
    struct alumet_buffer *b = d->batch;
    alumet_time_ns now = alumet_time_monotonic();
    d->batch = NULL;
    d->batch_due += d->batch_period;
    if (d->batch_due <= now)
        d->batch_due = now + d->batch_period;
    STAT_SUB(d, pending_points, alumet_buffer_len(b));
    return delivery_write_now(d, b, err);
}

/* Merge the points of buf into the batch (takes the reference). */
static int delivery_merge(struct delivery *d, struct alumet_buffer *buf, struct alumet_error *err)
{
    size_t n = alumet_buffer_len(buf);
    if (!d->batch && n > 0) {
        d->batch = alumet__buffer_new(n);
        if (d->batch && d->batch_due == 0)
            d->batch_due = alumet_time_monotonic() + d->batch_period;
    }
    for (size_t i = 0; i < n; i++) {
        if (!d->batch || !alumet_buffer_push_copy(d->batch, buf, alumet_buffer_get(buf, i))) {
            STAT_ADD(d, dropped_points, n - i);
            alumet_log_error("%s: out of memory, %zu points dropped", d->name, n - i);
            break;
        }
        STAT_ADD(d, pending_points, 1);
    }
    alumet__buffer_unref(buf);
    /* bounded like what waits for a retry: a full batch is written at once */
    if (d->batch && alumet_buffer_len(d->batch) >= d->opts.max_points)
        return delivery_write_batch(d, err);
    return alumet__delivery_service(d, err);
}

int alumet__delivery_submit(struct delivery *d, struct alumet_buffer *buf, struct alumet_error *err)
{
    if (d->batch_period > 0)
        return delivery_merge(d, buf, err);
    return delivery_write_now(d, buf, err);
}

int alumet__delivery_service(struct delivery *d, struct alumet_error *err)
{
    int r = delivery_retry_due(d, err);
    if (r == 0 && d->batch && alumet_time_monotonic() >= d->batch_due)
        r = delivery_write_batch(d, err);
    return r;
}

void alumet__delivery_drop(struct delivery *d, struct alumet_buffer *buf)
{
    STAT_ADD(d, dropped_points, alumet_buffer_len(buf));
    alumet__buffer_unref(buf);
}

void alumet__delivery_drain(struct delivery *d, alumet_time_ns deadline)
{
    alumet_time_ns limit = alumet_time_monotonic() + d->opts.drain_timeout;
    if (deadline < limit)
        limit = deadline;
    struct alumet_error err = {0};
    if (d->batch && delivery_write_batch(d, &err) < 0)
        alumet_log_error("%s: the last batch could not be written: %s", d->name, err.msg);
    while (d->len && alumet_time_monotonic() < limit) {
        alumet_time_ns now = alumet_time_monotonic();
        if (d->next_retry > now) {
            alumet_time_ns until = d->next_retry < limit ? d->next_retry : limit;
            struct timespec ts = {(until - now) / ALUMET_NSEC_PER_SEC,
                                  (until - now) % ALUMET_NSEC_PER_SEC};
            nanosleep(&ts, NULL);
            continue;
        }
        if (delivery_try_oldest(d, &err) < 0)
            break;
    }
    if (d->len) {
        uint64_t lost = d->stats.pending_points;
        while (d->len)
            delivery_drop_oldest(d);
        alumet_log_error("%s: %llu points could not be delivered before the shutdown and are "
                         "lost",
                         d->name, (unsigned long long)lost);
    }
}
