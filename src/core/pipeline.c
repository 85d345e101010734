/* SPDX-License-Identifier: MIT */
/* The measurement pipeline.
 *
 *  scheduler thread (managed sources) ─┐
 *  autonomous source threads ──────────┼─► input queue ─► transform thread ─┬─► output queue ─►
 * output thread ┘                                    └─► ...
 *
 * Without transforms there is no transform thread: the sources push to the
 * output queues themselves (alumet__pipeline_send).
 *
 * Control requests mutate element state under the pipeline lock and wake
 * the scheduler; nothing else is shared between threads. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "delivery.h"
#include "log-internal.h"
#include "output-queue.h"
#include "pipeline-internal.h"
#include "registry.h"
#include "scheduler.h"
#include "util/thread-name.h"

#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_pipeline)

struct alumet_log_topic alumet__log_pipeline = ALUMET_LOG_TOPIC_INIT("pipeline");

/* Make room for one more item; 0 or -ENOMEM. */
static int vec_reserve(void **items, size_t *cap, size_t len, size_t elem)
{
    if (len < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *n = realloc(*items, ncap * elem);
    if (!n)
        return -ENOMEM;
    *items = n;
    *cap = ncap;
    return 0;
}

#define VEC_PUSH(v, x)                                                                             \
    (vec_reserve((void **)&(v).items, &(v).cap, (v).len, sizeof(*(v).items)) < 0                   \
         ? -ENOMEM                                                                                 \
         : ((v).items[(v).len++] = (x), 0))

struct alumet_pipeline *alumet__pipeline_new(const struct pipeline_settings *s)
{
    struct alumet_pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->settings = *s;
    if (!p->settings.source_queue_size)
        p->settings.source_queue_size = 2048;
    if (!p->settings.output_queue_size)
        p->settings.output_queue_size = 256;
    if (!p->settings.max_update_interval)
        p->settings.max_update_interval = 2 * ALUMET_NSEC_PER_SEC;
    if (!p->settings.shutdown_timeout)
        p->settings.shutdown_timeout = 30 * ALUMET_NSEC_PER_SEC;
    p->registry = alumet__registry_new();
    p->pool = alumet__buffer_pool_new(16);
    if (!p->registry || !p->pool ||
        alumet__bqueue_init(&p->input, p->settings.source_queue_size, ALUMET_QUEUE_BLOCK) < 0) {
        alumet__registry_free(p->registry);
        alumet__buffer_pool_free(p->pool);
        free(p);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->polled, &ca);
    pthread_mutex_init(&p->shutdown_lock, NULL);
    pthread_cond_init(&p->shutdown_cond, NULL);
    pthread_condattr_destroy(&ca);
    atomic_init(&p->shutdown_deadline, INT64_MAX);
    return p;
}

struct alumet_registry *alumet__pipeline_registry(struct alumet_pipeline *p)
{
    return p->registry;
}

const struct alumet_registry *alumet_pipeline_registry(struct alumet_pipeline *p)
{
    return p->registry;
}

int alumet_pipeline_create_metric(struct alumet_pipeline *p, const char *name,
                                  enum alumet_value_type type, struct alumet_unit unit,
                                  const char *description, alumet_metric_id *ret_id,
                                  struct alumet_error *err)
{
    return alumet__registry_add(p->registry, name, type, unit, description, ret_id, err);
}

/* ---- registration ---- */

static int ops_version_error(struct alumet_error *err, const char *kind, const char *plugin,
                             const char *name, unsigned got, unsigned known)
{
    return alumet_error_set(err, -ENOTSUP,
                            "%s %s/%s: its operations table has version %u, this agent knows "
                            "version %u; rebuild the plugin against this agent's headers",
                            kind, plugin, name, got, known);
}

static int pipeline_check_name(struct alumet_pipeline *p, enum elem_kind kind, const char *plugin,
                               const char *name, struct alumet_error *err)
{
    if (!name || !*name || strchr(name, '/'))
        return alumet_error_set(err, -EINVAL, "invalid element name '%s' in plugin '%s'",
                                name ? name : "", plugin);
#define CHECK(vec)                                                                                 \
    for (size_t i = 0; i < (vec).len; i++)                                                         \
        if (strcmp((vec).items[i]->plugin, plugin) == 0 &&                                         \
            strcmp((vec).items[i]->name, name) == 0)                                               \
            return alumet_error_set(err, -EEXIST, "duplicate name: %s/%s", plugin, name);
    if (kind == ELEM_SOURCE) {
        CHECK(p->sources);
        CHECK(p->autonomous);
    } else if (kind == ELEM_TRANSFORM) {
        CHECK(p->transforms);
    } else {
        CHECK(p->outputs);
    }
#undef CHECK
    if (p->started)
        return alumet_error_set(err, -EBUSY, "cannot add %s/%s: the pipeline is already running",
                                plugin, name);
    return 0;
}

static int pipeline_names(const char *plugin, const char *name, char **ret_plugin, char **ret_name)
{
    *ret_plugin = strdup(plugin);
    *ret_name = strdup(name);
    return *ret_plugin && *ret_name ? 0 : -ENOMEM;
}

int alumet__pipeline_add_source(struct alumet_pipeline *p, const char *plugin, const char *name,
                                const struct alumet_source_ops *ops, void *data,
                                const struct alumet_source_opts *opts, struct alumet_error *err)
{
    int r = pipeline_check_name(p, ELEM_SOURCE, plugin, name, err);
    if (r < 0)
        return r;
    if (!ops || !ops->poll)
        return alumet_error_set(err, -EINVAL, "source %s/%s has no poll function", plugin, name);
    if (ops->version != ALUMET_SOURCE_OPS_V1)
        return ops_version_error(err, "source", plugin, name, ops->version, ALUMET_SOURCE_OPS_V1);
    if (opts->size && opts->size < sizeof(uint32_t) + sizeof(alumet_time_ns))
        return alumet_error_set(err, -EINVAL, "source %s/%s: invalid options size %u", plugin, name,
                                (unsigned)opts->size);
    if (!opts->manual_only && opts->poll_interval <= 0)
        return alumet_error_set(err, -EINVAL,
                                "invalid trigger config for %s/%s: poll_interval must be non-zero",
                                plugin, name);
    struct source *s = calloc(1, sizeof(*s));
    if (!s)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = pipeline_names(plugin, name, &s->plugin, &s->name);
    s->buf = alumet__buffer_new(0);
    if (r < 0 || !s->buf || VEC_PUSH(p->sources, s) < 0) {
        alumet__buffer_free(s->buf);
        free(s->plugin);
        free(s->name);
        free(s);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    s->ops = ops;
    s->data = data;
    s->period = opts->poll_interval;
    s->manual_only = opts->manual_only;
    s->flush_rounds = alumet__sched_flush_rounds(opts->poll_interval, opts->flush_interval);
    s->flush_interval = opts->flush_interval;
    s->state = opts->start_paused ? SRC_PAUSE : SRC_RUN;
    s->baseline_first =
        opts->size >= offsetof(struct alumet_source_opts, baseline_first) + sizeof(bool) &&
        opts->baseline_first;
    s->p = p;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

int alumet__pipeline_add_autonomous(struct alumet_pipeline *p, const char *plugin, const char *name,
                                    const struct alumet_autonomous_ops *ops, void *data,
                                    struct alumet_error *err)
{
    int r = pipeline_check_name(p, ELEM_SOURCE, plugin, name, err);
    if (r < 0)
        return r;
    if (!ops || !ops->run)
        return alumet_error_set(err, -EINVAL, "source %s/%s has no run function", plugin, name);
    if (ops->version != ALUMET_SOURCE_OPS_V1)
        return ops_version_error(err, "source", plugin, name, ops->version, ALUMET_SOURCE_OPS_V1);
    struct alumet_autonomous *a = calloc(1, sizeof(*a));
    if (!a)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    a->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r = pipeline_names(plugin, name, &a->plugin, &a->name);
    if (a->stop_fd < 0 || r < 0 || VEC_PUSH(p->autonomous, a) < 0) {
        if (a->stop_fd >= 0)
            close(a->stop_fd);
        free(a->plugin);
        free(a->name);
        free(a);
        return alumet_error_set(err, -ENOMEM, "cannot create source %s/%s", plugin, name);
    }
    a->ops = ops;
    a->data = data;
    a->p = p;
    return 0;
}

int alumet__pipeline_add_transform(struct alumet_pipeline *p, const char *plugin, const char *name,
                                   const struct alumet_transform_ops *ops, void *data,
                                   struct alumet_error *err)
{
    int r = pipeline_check_name(p, ELEM_TRANSFORM, plugin, name, err);
    if (r < 0)
        return r;
    if (!ops || !ops->apply)
        return alumet_error_set(err, -EINVAL, "transform %s/%s has no apply function", plugin,
                                name);
    if (ops->version != ALUMET_TRANSFORM_OPS_V1)
        return ops_version_error(err, "transform", plugin, name, ops->version,
                                 ALUMET_TRANSFORM_OPS_V1);
    struct transform *t = calloc(1, sizeof(*t));
    if (!t)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = pipeline_names(plugin, name, &t->plugin, &t->name);
    if (r < 0 || VEC_PUSH(p->transforms, t) < 0) {
        free(t->plugin);
        free(t->name);
        free(t);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    t->ops = ops;
    t->data = data;
    atomic_init(&t->enabled, true);
    return 0;
}

static int output_write_cb(void *ctx, const struct alumet_buffer *buf, struct alumet_error *err)
{
    struct output *o = ctx;
    return o->ops->write(o->data, buf, o->p->registry, err);
}

int alumet__pipeline_add_output(struct alumet_pipeline *p, const char *plugin, const char *name,
                                const struct alumet_output_ops *ops, void *data,
                                const struct alumet_output_opts *opts, struct alumet_error *err)
{
    int r = pipeline_check_name(p, ELEM_OUTPUT, plugin, name, err);
    if (r < 0)
        return r;
    if (!ops || !ops->write)
        return alumet_error_set(err, -EINVAL, "output %s/%s has no write function", plugin, name);
    if (ops->version != ALUMET_OUTPUT_OPS_V1)
        return ops_version_error(err, "output", plugin, name, ops->version, ALUMET_OUTPUT_OPS_V1);
    struct output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    size_t qsize = opts && opts->queue_size ? opts->queue_size : p->settings.output_queue_size;
    enum alumet_queue_policy pol =
        opts && opts->policy_set ? opts->policy : p->settings.output_policy;
    r = pipeline_names(plugin, name, &o->plugin, &o->name);
    if (r == 0 && asprintf(&o->full_name, "%s/%s", plugin, name) < 0)
        o->full_name = NULL;
    struct alumet_delivery_opts dopts = opts ? opts->delivery : (struct alumet_delivery_opts){0};
    if (r < 0 || !o->full_name || alumet__bqueue_init(&o->queue, qsize, pol) < 0 ||
        VEC_PUSH(p->outputs, o) < 0) {
        alumet__bqueue_done(&o->queue);
        free(o->full_name);
        free(o->plugin);
        free(o->name);
        free(o);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    o->ops = ops;
    o->data = data;
    o->p = p;
    alumet__delivery_init(&o->delivery, &dopts, o->full_name, output_write_cb, o);
    if (opts &&
        opts->size >=
            offsetof(struct alumet_output_opts, batch_period) + sizeof(opts->batch_period) &&
        opts->batch_period > 0)
        o->delivery.batch_period = opts->batch_period;
    return 0;
}

int alumet__pipeline_add_internal_output(struct alumet_pipeline *p, const char *name,
                                         const struct alumet_output_ops *ops, void *data,
                                         const struct alumet_output_opts *opts,
                                         struct alumet_error *err)
{
    int r = alumet__pipeline_add_output(p, "agent", name, ops, data, opts, err);
    if (r == 0)
        p->outputs.items[p->outputs.len - 1]->internal = true;
    return r;
}

int alumet__pipeline_subscribe(struct alumet_pipeline *p, enum alumet_event_kind kind,
                               alumet_event_fn fn, void *data, struct alumet_error *err)
{
    struct subscriber s = {kind, fn, data};
    if (VEC_PUSH(p->subscribers, s) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

void alumet_pipeline_publish(struct alumet_pipeline *p, enum alumet_event_kind kind,
                             const struct alumet_consumer *consumers, size_t n)
{
    for (size_t i = 0; i < p->subscribers.len; i++)
        if (p->subscribers.items[i].kind == kind)
            p->subscribers.items[i].fn(p->subscribers.items[i].data, kind, consumers, n);
}

void alumet__pipeline_counts(struct alumet_pipeline *p, size_t *sources, size_t *transforms,
                             size_t *outputs)
{
    *sources = p->sources.len + p->autonomous.len;
    *transforms = p->transforms.len;
    *outputs = 0;
    for (size_t i = 0; i < p->outputs.len; i++)
        *outputs += !p->outputs.items[i]->internal;
}

/* ---- autonomous sources ---- */

struct alumet_buffer *alumet_autonomous_buffer(struct alumet_autonomous *ctx)
{
    (void)ctx;
    return alumet__buffer_new(0);
}

int alumet_autonomous_push(struct alumet_autonomous *ctx, struct alumet_buffer *buf)
{
    if (alumet_buffer_len(buf) == 0) {
        alumet__buffer_free(buf);
        return 0;
    }
    size_t n = alumet_buffer_len(buf);
    int r = alumet__pipeline_send(ctx->p, buf);
    if (r < 0)
        atomic_fetch_add(&ctx->p->lost_points, n);
    return r;
}

bool alumet_autonomous_should_stop(struct alumet_autonomous *ctx)
{
    return atomic_load(&ctx->stop);
}

int alumet_autonomous_stop_fd(struct alumet_autonomous *ctx)
{
    return ctx->stop_fd;
}

const struct alumet_registry *alumet_autonomous_registry(struct alumet_autonomous *ctx)
{
    return ctx->p->registry;
}

static void *autonomous_main(void *arg)
{
    struct alumet_autonomous *a = arg;
    struct alumet_error err = {0};
    alumet_thread_name("src:", a->plugin, a->name);
    int r = a->ops->run(a->data, a, &err);
    if (r < 0) {
        alumet_log_error("source %s/%s failed: %s", a->plugin, a->name,
                         err.msg[0] ? err.msg : strerror(-r));
        alumet__pipeline_record_error(a->p);
    } else {
        alumet_log_debug("source %s/%s stops", a->plugin, a->name);
    }
    return NULL;
}

/* ---- transforms and outputs ---- */

static void pipeline_broadcast(struct alumet_pipeline *p, struct alumet_buffer *buf)
{
    for (size_t i = 0; i < p->outputs.len; i++)
        alumet__bqueue_push(&p->outputs.items[i]->queue, alumet__buffer_ref(buf));
    alumet__buffer_unref(buf);
}

int alumet__pipeline_send(struct alumet_pipeline *p, struct alumet_buffer *buf)
{
    if (!p->direct)
        return alumet__bqueue_push(&p->input, buf);
    if (alumet_buffer_len(buf) > 0)
        pipeline_broadcast(p, buf);
    else
        alumet__buffer_unref(buf);
    return 0;
}

static void transform_run(struct alumet_pipeline *p, struct alumet_buffer *buf)
{
    for (size_t i = 0; i < p->transforms.len; i++) {
        struct transform *t = p->transforms.items[i];
        if (!atomic_load(&t->enabled) || t->failed)
            continue;
        struct alumet_error err = {0};
        int r = t->ops->apply(t->data, buf, p->registry, &err);
        if (r == ALUMET_TRANSFORM_SKIP) {
            alumet_log_error("transform %s/%s: unexpected input: %s", t->plugin, t->name, err.msg);
        } else if (r < 0) {
            /* upstream stops the whole data path here; we only drop this transform */
            alumet_log_error("transform %s/%s failed and is disabled, the others go on: %s",
                             t->plugin, t->name, err.msg[0] ? err.msg : strerror(-r));
            t->failed = true;
            alumet__pipeline_record_error(p);
        }
    }
}

static void *transformer_main(void *arg)
{
    struct alumet_pipeline *p = arg;
    struct alumet_buffer *buf;
    alumet_thread_name("transform", NULL, NULL);
    while ((buf = alumet__bqueue_pop(&p->input)))
        if (alumet_buffer_len(buf) > 0) {
            transform_run(p, buf);
            pipeline_broadcast(p, buf);
        } else {
            alumet__buffer_unref(buf);
        }
    /* finish: transforms may emit what they still hold */
    for (size_t i = 0; i < p->transforms.len; i++) {
        struct transform *t = p->transforms.items[i];
        if (!t->ops->finish)
            continue;
        struct alumet_buffer *fin = alumet__buffer_new(0);
        struct alumet_error err = {0};
        int r = fin ? t->ops->finish(t->data, fin, p->registry, &err) : -ENOMEM;
        if (r < 0) {
            alumet_log_error("transform %s/%s failed to finish: %s", t->plugin, t->name,
                             err.msg[0] ? err.msg : strerror(-r));
            alumet__pipeline_record_error(p);
        }
        if (fin && alumet_buffer_len(fin) > 0) {
            /* only the transforms after this one see what it emitted */
            for (size_t j = i + 1; j < p->transforms.len; j++) {
                struct transform *u = p->transforms.items[j];
                if (atomic_load(&u->enabled) && !u->failed)
                    u->ops->apply(u->data, fin, p->registry, &err);
            }
            pipeline_broadcast(p, fin);
        } else {
            alumet__buffer_free(fin);
        }
    }
    return NULL;
}

/* A failed write loses that buffer (counted by the delivery), never the
 * output: the next buffers are written as usual, so an output that failed
 * once (a full disk, a bad reply) comes back by itself. */
static void output_write_failed(struct output *o, const struct alumet_error *err, int r)
{
    o->failures++;
    if (o->failures == 1)
        alumet__pipeline_record_error(o->p);
    /* rate-limited: the first failure, then every power of two */
    if ((o->failures & (o->failures - 1)) == 0)
        alumet_log_error("output %s: write failed (%llu failure%s so far; the points of the "
                         "failed writes are lost and counted, the output goes on): %s",
                         o->full_name, (unsigned long long)o->failures, o->failures > 1 ? "s" : "",
                         err->msg[0] ? err->msg : strerror(r < 0 ? -r : EIO));
    o->failing = true;
}

static void output_write_ok(struct output *o)
{
    if (!o->failing)
        return;
    o->failing = false;
    struct alumet_output_stats st;
    alumet__delivery_stats(&o->delivery, &st);
    alumet_log_info("output %s writes again (%llu points lost so far)", o->full_name,
                    (unsigned long long)st.dropped_points);
}

static void *output_main(void *arg)
{
    struct output *o = arg;
    struct alumet_pipeline *p = o->p;
    alumet_thread_name("out:", o->plugin, NULL);
    for (;;) {
        alumet_time_ns deadline = alumet__delivery_deadline(&o->delivery);
        bool timed_out = false;
        struct alumet_buffer *buf = deadline == INT64_MAX
                                        ? alumet__bqueue_pop(&o->queue)
                                        : alumet__bqueue_pop_until(&o->queue, deadline, &timed_out);
        if (!buf && !timed_out)
            break; /* closed and drained */
        if (buf && alumet_time_monotonic() > atomic_load(&p->shutdown_deadline)) {
            alumet__delivery_drop(&o->delivery, buf); /* counted */
            continue;
        }
        struct alumet_error err = {0};
        int r = buf ? alumet__delivery_submit(&o->delivery, buf, &err)
                    : alumet__delivery_service(&o->delivery, &err);
        if (r < 0)
            output_write_failed(o, &err, r);
        else if (buf)
            output_write_ok(o);
    }
    alumet__delivery_drain(&o->delivery, atomic_load(&p->shutdown_deadline));
    if (o->ops->close) {
        struct alumet_error err = {0};
        int r = o->ops->close(o->data, &err);
        if (r < 0) {
            alumet_log_error("output %s failed to close: %s", o->full_name,
                             err.msg[0] ? err.msg : strerror(-r));
            alumet__pipeline_record_error(o->p);
        }
    }
    return NULL;
}

/* ---- lifecycle ---- */

/* Start every thread: outputs, then transforms, then sources, so that
 * nothing measured early is lost. On failure, what was started is stopped
 * by alumet__pipeline_stop, which joins exactly the threads created. */
int alumet__pipeline_start(struct alumet_pipeline *p, struct alumet_error *err)
{
    int r;
    p->started = true;
    for (size_t i = 0; i < p->outputs.len; i++) {
        struct output *o = p->outputs.items[i];
        r = pthread_create(&o->thread, NULL, output_main, o);
        if (r)
            return alumet_error_set(err, -r, "cannot start output %s/%s: %s", o->plugin, o->name,
                                    strerror(r));
        o->started = true;
    }
    /* Without transforms, the sources push straight to the outputs: no
     * thread woken for every buffer only to pass it on. A blocking output's
     * queue then takes the room of the sources' queue too, so that a slow
     * output makes the sources wait no sooner than through the transforms. */
    p->direct = p->transforms.len == 0;
    for (size_t i = 0; p->direct && i < p->outputs.len; i++) {
        struct bqueue *q = &p->outputs.items[i]->queue;
        if (q->policy == ALUMET_QUEUE_BLOCK &&
            alumet__bqueue_grow(q, q->cap + p->settings.source_queue_size) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    if (!p->direct) {
        r = pthread_create(&p->transformer, NULL, transformer_main, p);
        if (r)
            return alumet_error_set(err, -r, "cannot start the transform thread: %s", strerror(r));
        p->transformer_started = true;
    }
    r = alumet__sources_start(p, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < p->autonomous.len; i++) {
        struct alumet_autonomous *a = p->autonomous.items[i];
        r = pthread_create(&a->thread, NULL, autonomous_main, a);
        if (r)
            return alumet_error_set(err, -r, "cannot start source %s/%s: %s", a->plugin, a->name,
                                    strerror(r));
        a->started = true;
    }
    return 0;
}

void alumet_pipeline_request_shutdown(struct alumet_pipeline *p)
{
    pthread_mutex_lock(&p->shutdown_lock);
    p->shutdown_requested = true;
    pthread_cond_broadcast(&p->shutdown_cond);
    pthread_mutex_unlock(&p->shutdown_lock);
}

bool alumet__pipeline_shutdown_requested(struct alumet_pipeline *p)
{
    pthread_mutex_lock(&p->shutdown_lock);
    bool r = p->shutdown_requested;
    pthread_mutex_unlock(&p->shutdown_lock);
    return r;
}

void alumet__pipeline_wait_shutdown_request(struct alumet_pipeline *p)
{
    pthread_mutex_lock(&p->shutdown_lock);
    while (!p->shutdown_requested)
        pthread_cond_wait(&p->shutdown_cond, &p->shutdown_lock);
    pthread_mutex_unlock(&p->shutdown_lock);
}

/* Join an output thread, saying every few seconds what it still has to do. */
static void output_join(struct alumet_pipeline *p, struct output *o)
{
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        if (pthread_timedjoin_np(o->thread, NULL, &ts) == 0)
            break;
        pthread_mutex_lock(&o->queue.lock);
        size_t queued = o->queue.len;
        pthread_mutex_unlock(&o->queue.lock);
        alumet_time_ns left = atomic_load(&p->shutdown_deadline) - alumet_time_monotonic();
        if (left > 0)
            alumet_log_warn("shutdown: output %s is still writing (%zu buffers queued); what is "
                            "not written in %lld s is dropped (shutdown_timeout)",
                            o->full_name, queued, (long long)(left / ALUMET_NSEC_PER_SEC) + 1);
        else
            alumet_log_warn("shutdown: output %s is finishing its last write", o->full_name);
    }
    o->started = false;
}

/* After the stop: say exactly what was lost, where; each loss is an error. */
static void pipeline_report_losses(struct alumet_pipeline *p)
{
    uint64_t lost = atomic_load(&p->lost_points);
    if (lost) {
        alumet_log_error("%llu points were lost between the sources and the transforms",
                         (unsigned long long)lost);
        alumet__pipeline_record_error(p);
    }
    for (size_t i = 0; i < p->outputs.len; i++) {
        struct output *o = p->outputs.items[i];
        struct alumet_output_stats st;
        alumet__delivery_stats(&o->delivery, &st);
        uint64_t q = o->queue.dropped_points;
        if (!st.dropped_points && !q)
            continue;
        alumet_log_error("output %s lost %llu points: %llu in %llu buffers dropped because its "
                         "queue was full (output_queue_policy = \"drop_oldest\"), %llu not "
                         "written (write errors, retry limit or shutdown_timeout); %llu points "
                         "written",
                         o->full_name, (unsigned long long)(st.dropped_points + q),
                         (unsigned long long)q, (unsigned long long)o->queue.dropped_buffers,
                         (unsigned long long)st.dropped_points,
                         (unsigned long long)st.written_points);
        alumet__pipeline_record_error(p);
    }
}

void alumet__pipeline_set_final_hook(struct alumet_pipeline *p, alumet_final_hook_fn fn, void *data)
{
    p->final_hook = fn;
    p->final_data = data;
}

/* The agent's last points (exec's per-process figures), computed from what
 * its internal outputs saw: those finish first, then the hook's points go
 * to every other output, after everything measured. */
static void pipeline_final_points(struct alumet_pipeline *p)
{
    if (!p->final_hook)
        return;
    for (size_t i = 0; i < p->outputs.len; i++) {
        struct output *o = p->outputs.items[i];
        if (o->internal) {
            alumet__bqueue_close(&o->queue);
            if (o->started)
                output_join(p, o);
        }
    }
    struct alumet_buffer *buf = alumet__buffer_new(0);
    if (!buf)
        return;
    p->final_hook(p->final_data, buf, p->registry);
    for (size_t i = 0; i < p->outputs.len && alumet_buffer_len(buf) > 0; i++)
        if (!p->outputs.items[i]->internal)
            alumet__bqueue_push(&p->outputs.items[i]->queue, alumet__buffer_ref(buf));
    alumet__buffer_unref(buf);
}

int alumet__pipeline_stop(struct alumet_pipeline *p)
{
    if (!p->started)
        return atomic_load(&p->errors);
    alumet_time_ns limit = p->settings.shutdown_timeout;
    atomic_store(&p->shutdown_deadline, alumet_time_monotonic() + limit);
    /* 1. sources: autonomous ones are told to stop; managed ones honour
     * their pending triggers, flush and end */
    for (size_t i = 0; i < p->autonomous.len; i++) {
        struct alumet_autonomous *a = p->autonomous.items[i];
        uint64_t one = 1;
        atomic_store(&a->stop, true);
        if (write(a->stop_fd, &one, sizeof(one)) < 0)
            alumet_log_debug("eventfd write failed: %s", strerror(errno));
    }
    for (size_t i = 0; i < p->autonomous.len; i++)
        if (p->autonomous.items[i]->started) {
            pthread_join(p->autonomous.items[i]->thread, NULL);
            p->autonomous.items[i]->started = false;
        }
    alumet__sources_stop(p);
    /* 2. transforms drain the queue */
    alumet__bqueue_close(&p->input);
    if (p->transformer_started) {
        pthread_join(p->transformer, NULL);
        p->transformer_started = false;
    }
    pipeline_final_points(p);
    for (size_t i = 0; i < p->outputs.len; i++)
        alumet__bqueue_close(&p->outputs.items[i]->queue);
    /* 3. outputs write what remains, until the shutdown deadline */
    for (size_t i = 0; i < p->outputs.len; i++)
        if (p->outputs.items[i]->started)
            output_join(p, p->outputs.items[i]);
    pipeline_report_losses(p);
    p->started = false;
    return atomic_load(&p->errors);
}

void alumet__pipeline_free_elements(struct alumet_pipeline *p)
{
    if (!p)
        return;
    /* detached under the lock: a control request or a status listing from
     * a plugin's thread (socket-control) then finds an empty pipeline */
    pthread_mutex_lock(&p->lock);
    __typeof__(p->sources) sources = p->sources;
    __typeof__(p->autonomous) autonomous = p->autonomous;
    __typeof__(p->transforms) transforms = p->transforms;
    __typeof__(p->outputs) outputs = p->outputs;
    memset(&p->sources, 0, sizeof(p->sources));
    memset(&p->autonomous, 0, sizeof(p->autonomous));
    memset(&p->transforms, 0, sizeof(p->transforms));
    memset(&p->outputs, 0, sizeof(p->outputs));
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < sources.len; i++)
        alumet__source_free(sources.items[i]);
    for (size_t i = 0; i < autonomous.len; i++) {
        struct alumet_autonomous *a = autonomous.items[i];
        if (a->ops->free)
            a->ops->free(a->data);
        close(a->stop_fd);
        free(a->plugin);
        free(a->name);
        free(a);
    }
    for (size_t i = 0; i < transforms.len; i++) {
        struct transform *t = transforms.items[i];
        if (t->ops->free)
            t->ops->free(t->data);
        free(t->plugin);
        free(t->name);
        free(t);
    }
    for (size_t i = 0; i < outputs.len; i++) {
        struct output *o = outputs.items[i];
        if (o->ops->free)
            o->ops->free(o->data);
        alumet__bqueue_done(&o->queue);
        alumet__delivery_done(&o->delivery);
        free(o->full_name);
        free(o->plugin);
        free(o->name);
        free(o);
    }
    free(sources.items);
    free(autonomous.items);
    free(transforms.items);
    free(outputs.items);
}

void alumet__pipeline_free(struct alumet_pipeline *p)
{
    if (!p)
        return;
    alumet__pipeline_free_elements(p);
    free(p->subscribers.items);
    alumet__bqueue_done(&p->input);
    alumet__buffer_pool_free(p->pool);
    alumet__registry_free(p->registry);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->polled);
    pthread_mutex_destroy(&p->shutdown_lock);
    pthread_cond_destroy(&p->shutdown_cond);
    free(p);
}

size_t alumet_pipeline_output_count(struct alumet_pipeline *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->outputs.len; i++)
        n += !p->outputs.items[i]->internal;
    return n;
}

int alumet_pipeline_output_stats(struct alumet_pipeline *p, size_t i, const char **ret_name,
                                 struct alumet_output_stats *ret)
{
    size_t k = 0;
    for (; k < p->outputs.len && (p->outputs.items[k]->internal || i > 0); k++)
        if (!p->outputs.items[k]->internal)
            i--;
    if (k >= p->outputs.len)
        return -ERANGE;
    struct output *o = p->outputs.items[k];
    alumet__delivery_stats(&o->delivery, ret);
    pthread_mutex_lock(&o->queue.lock);
    ret->dropped_points += o->queue.dropped_points;
    pthread_mutex_unlock(&o->queue.lock);
    *ret_name = o->full_name;
    return 0;
}
