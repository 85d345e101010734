/* SPDX-License-Identifier: MIT */
/* The pipeline's stop, in-process: what sources still hold is drained
 * through a retrying output (every point written exactly once, or the loss
 * counted and reported), transforms emit what they hold in finish() to every
 * output and only to the transforms after them, autonomous sources are woken
 * by their stop_fd and their failures counted. No test depends on a timing:
 * sources are polled on trigger only and the waits are for events. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <time.h>

#include "alumet-test-plugin.h"
#include "core/buffer.h"
#include "core/pipeline.h"

#define MS ALUMET_NSEC_PER_MSEC
#define SEC ALUMET_NSEC_PER_SEC

static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer con = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- a source that counts: values base, base + 1, ... ---- */

struct counting_source {
    uint64_t base, next;
    unsigned per_poll;
    atomic_ulong produced;
};

static int counting_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                         struct alumet_error *err)
{
    (void)err;
    struct counting_source *s = data;
    for (unsigned i = 0; i < s->per_poll; i++)
        assert_non_null(alumet_buffer_push_u64(buf, now, 0, &res, &con, s->base + s->next++));
    atomic_fetch_add(&s->produced, s->per_poll);
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops counting_ops = {ALUMET_SOURCE_OPS_V1, counting_poll, NULL,
                                                      NULL};

/* ---- an output that records every value it wrote ---- */

#define MAX_VALUES 10000

struct recorder {
    pthread_mutex_t lock;
    unsigned writes;               /* calls of write, failed ones included */
    unsigned fail_from, fail_upto; /* writes fail_from..fail_upto (1-based) return RETRY */
    size_t n;
    uint64_t values[256];
    unsigned seen[MAX_VALUES]; /* times each value was written */
};

static void recorder_init(struct recorder *r, unsigned fail_from, unsigned fail_upto)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->fail_from = fail_from;
    r->fail_upto = fail_upto;
}

static int recorder_write(void *data, const struct alumet_buffer *buf,
                          const struct alumet_registry *reg, struct alumet_error *err)
{
    (void)reg;
    struct recorder *r = data;
    pthread_mutex_lock(&r->lock);
    unsigned k = ++r->writes;
    if (k >= r->fail_from && k <= r->fail_upto) {
        pthread_mutex_unlock(&r->lock);
        return alumet_error_set(err, ALUMET_WRITE_RETRY, "connection refused");
    }
    for (size_t i = 0; i < alumet_buffer_len(buf); i++) {
        uint64_t v = alumet_buffer_get(buf, i)->value.u64;
        assert_true(v < MAX_VALUES);
        r->seen[v]++;
        if (r->n < sizeof(r->values) / sizeof(r->values[0]))
            r->values[r->n] = v;
        r->n++;
    }
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static const struct alumet_output_ops recorder_ops = {ALUMET_OUTPUT_OPS_V1, recorder_write, NULL,
                                                      NULL};

/* Sources polled on trigger only (paused, with a period of an hour), whose
 * points stay in the source until the stop (flush after 1000 hours). */
static void add_counting_source(struct alumet_pipeline *p, const char *name,
                                struct counting_source *s, uint64_t base, unsigned per_poll,
                                alumet_time_ns flush)
{
    struct alumet_error err = {0};
    *s = (struct counting_source){.base = base, .per_poll = per_poll};
    struct alumet_source_opts o = {.size = sizeof(o),
                                   .poll_interval = 3600 * SEC,
                                   .flush_interval = flush,
                                   .start_paused = true};
    assert_int_equal(alumet__pipeline_add_source(p, "t", name, &counting_ops, s, &o, &err), 0);
}

static void trigger(struct alumet_pipeline *p, int n_sources)
{
    /* waits for the polls (up to a minute, far more than they take) */
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 60 * SEC), n_sources);
}

/* ---- 1. the shutdown drain through a retrying output ---- */

#define DRAIN_SOURCES 3
#define DRAIN_POLLS 5
#define DRAIN_PER_POLL 4

struct drain_run {
    struct counting_source src[DRAIN_SOURCES];
    struct recorder out;
    struct alumet_output_stats st;
    int stop_result;
    uint64_t produced;
};

/* Three sources hold 5 polls x 4 points each until the stop, which hands the
 * output three buffers at once; writes fail_from..fail_upto fail
 * transiently. */
static void drain_run(struct drain_run *d, unsigned fail_from, unsigned fail_upto,
                      alumet_time_ns drain_timeout)
{
    struct pipeline_settings s = {.shutdown_timeout = 60 * SEC};
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    struct alumet_error err = {0};
    assert_non_null(p);
    for (int i = 0; i < DRAIN_SOURCES; i++) {
        char name[8];
        snprintf(name, sizeof(name), "src%d", i);
        add_counting_source(p, name, &d->src[i], (uint64_t)i * 100, DRAIN_PER_POLL, 3600000 * SEC);
    }
    recorder_init(&d->out, fail_from, fail_upto);
    struct alumet_output_opts oo = {.size = sizeof(oo),
                                    .delivery = {.retry = true,
                                                 .initial_backoff = 1 * MS,
                                                 .max_backoff = 2 * MS,
                                                 .drain_timeout = drain_timeout}};
    assert_int_equal(
        alumet__pipeline_add_output(p, "t", "flaky", &recorder_ops, &d->out, &oo, &err), 0);
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    for (int k = 0; k < DRAIN_POLLS; k++)
        trigger(p, DRAIN_SOURCES);
    /* everything is still in the sources: the stop delivers it */
    pthread_mutex_lock(&d->out.lock);
    assert_int_equal(d->out.writes, 0);
    pthread_mutex_unlock(&d->out.lock);
    d->stop_result = alumet__pipeline_stop(p);
    const char *name;
    assert_int_equal(alumet_pipeline_output_stats(p, 0, &name, &d->st), 0);
    assert_string_equal(name, "t/flaky");
    d->produced = 0;
    for (int i = 0; i < DRAIN_SOURCES; i++)
        d->produced += atomic_load(&d->src[i].produced);
    alumet__pipeline_free(p);
    pthread_mutex_destroy(&d->out.lock);
}

static void test_drain_retries_until_written(void **state)
{
    (void)state;
    static struct drain_run d;
    alumet_test_log_capture("info");
    /* the first three writes fail, then the output recovers: within the
     * drain (a minute at most; it ends as soon as all is written) */
    drain_run(&d, 1, 3, 60 * SEC);
    assert_int_equal(d.produced, DRAIN_SOURCES * DRAIN_POLLS * DRAIN_PER_POLL); /* 60 */
    assert_int_equal(d.stop_result, 0);
    assert_int_equal(d.out.writes, 3 + DRAIN_SOURCES);
    assert_int_equal(d.out.n, 60);
    for (int i = 0; i < DRAIN_SOURCES; i++)
        for (uint64_t v = 0; v < DRAIN_POLLS * DRAIN_PER_POLL; v++)
            assert_int_equal(d.out.seen[i * 100 + v], 1); /* exactly once */
    /* and in order, source by source */
    for (size_t k = 1; k < d.out.n; k++)
        if (d.out.values[k] / 100 == d.out.values[k - 1] / 100)
            assert_true(d.out.values[k] == d.out.values[k - 1] + 1);
    assert_int_equal(d.st.written_points, 60);
    assert_int_equal(d.st.dropped_points, 0);
    assert_int_equal(d.st.pending_points, 0);
    assert_int_equal(d.st.retried_writes, 3);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_ERROR, "points could not be delivered", NULL),
                     0);
    alumet_test_log_release();
}

static void test_drain_gives_up_and_reports(void **state)
{
    (void)state;
    static struct drain_run d;
    alumet_test_log_capture("info");
    /* the first write succeeds (one source's buffer), then the output is
     * down for good: the drain gives up after 100 ms */
    drain_run(&d, 2, UINT32_MAX, 100 * MS);
    assert_int_equal(d.produced, 60);
    assert_int_equal(d.out.n, DRAIN_POLLS * DRAIN_PER_POLL); /* 20 */
    assert_int_equal(d.st.written_points, 20);
    assert_int_equal(d.st.dropped_points, d.produced - d.st.written_points); /* 40 */
    assert_int_equal(d.st.pending_points, 0);
    assert_true(d.st.retried_writes >= 1);
    assert_int_equal(d.st.retried_writes, d.out.writes - 1);
    /* the loss is an error of the run, named with its figures */
    assert_int_equal(d.stop_result, 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_ERROR,
                                           "t/flaky: 40 points could not be delivered before the "
                                           "shutdown and are lost",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_ERROR, "output t/flaky lost 40 points",
                                           "40 not written (write errors, retry limit or "
                                           "shutdown_timeout); 20 points written"),
                     1);
    alumet_test_log_release();
}

/* ---- 2. a transform that emits in finish() ---- */

#define TAG 1000 /* what the holding transform adds to the values it emits */

struct tr_seen {
    atomic_ulong plain, tagged;
    atomic_int finished; /* order of the finish calls */
};

static atomic_int finish_order;

static void tr_count(struct tr_seen *t, const struct alumet_buffer *buf)
{
    for (size_t i = 0; i < alumet_buffer_len(buf); i++)
        atomic_fetch_add(alumet_buffer_get(buf, i)->value.u64 >= TAG ? &t->tagged : &t->plain, 1);
}

static int watch_apply(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                       struct alumet_error *err)
{
    (void)reg;
    (void)err;
    tr_count(data, buf);
    return 0;
}

/* the last transform: in its finish, one point = 5000 + the tagged points
 * it saw, so that the outputs tell whether it saw the held points first */
static int watch_finish(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                        struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct tr_seen *t = data;
    t->finished = atomic_fetch_add(&finish_order, 1) + 1;
    assert_non_null(alumet_buffer_push_u64(buf, 0, 0, &res, &con, 5000 + atomic_load(&t->tagged)));
    return 0;
}

struct holder {
    struct tr_seen seen;
    size_t n;
    uint64_t held[64];
};

static bool keep_none(void *data, const struct alumet_buffer *buf, const struct alumet_point *p)
{
    struct holder *h = data;
    (void)buf;
    assert_true(h->n < 64);
    h->held[h->n++] = p->value.u64;
    return false;
}

/* keeps every point back (the buffer goes on empty) */
static int hold_apply(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                      struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct holder *h = data;
    tr_count(&h->seen, buf);
    alumet_buffer_retain(buf, keep_none, h);
    return 0;
}

/* emits what it held, tagged */
static int hold_finish(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                       struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct holder *h = data;
    h->seen.finished = atomic_fetch_add(&finish_order, 1) + 1;
    for (size_t i = 0; i < h->n; i++)
        assert_non_null(alumet_buffer_push_u64(buf, 0, 0, &res, &con, TAG + h->held[i]));
    h->n = 0;
    return 0;
}

static const struct alumet_transform_ops watch_ops = {ALUMET_TRANSFORM_OPS_V1, watch_apply, NULL,
                                                      NULL};
static const struct alumet_transform_ops watch_finish_ops = {ALUMET_TRANSFORM_OPS_V1, watch_apply,
                                                             watch_finish, NULL};
static const struct alumet_transform_ops hold_ops = {ALUMET_TRANSFORM_OPS_V1, hold_apply,
                                                     hold_finish, NULL};

static void test_transform_finish(void **state)
{
    (void)state;
    static struct recorder out[2];
    static struct holder hold;
    struct tr_seen before = {0}, after = {0};
    struct counting_source src;
    struct pipeline_settings s = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    struct alumet_error err = {0};
    memset(&hold, 0, sizeof(hold));
    atomic_store(&finish_order, 0);
    add_counting_source(p, "src", &src, 0, 3, 0); /* flushed after every poll */
    assert_int_equal(alumet__pipeline_add_transform(p, "t", "before", &watch_ops, &before, &err),
                     0);
    assert_int_equal(alumet__pipeline_add_transform(p, "t", "hold", &hold_ops, &hold, &err), 0);
    assert_int_equal(
        alumet__pipeline_add_transform(p, "t", "after", &watch_finish_ops, &after, &err), 0);
    for (int i = 0; i < 2; i++) {
        char name[8];
        snprintf(name, sizeof(name), "out%d", i);
        recorder_init(&out[i], 1, 0); /* never fails */
        assert_int_equal(
            alumet__pipeline_add_output(p, "t", name, &recorder_ops, &out[i], NULL, &err), 0);
    }
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    for (int k = 0; k < 3; k++)
        trigger(p, 1);
    assert_int_equal(alumet__pipeline_stop(p), 0);

    /* 3 polls x 3 points: 0..8, all held until the stop */
    assert_int_equal(atomic_load(&before.plain), 9);
    assert_int_equal(atomic_load(&hold.seen.plain), 9);
    /* what hold emitted in finish: seen by "after" only, not by "before"
     * nor by hold itself */
    assert_int_equal(atomic_load(&before.tagged), 0);
    assert_int_equal(atomic_load(&hold.seen.tagged), 0);
    assert_int_equal(atomic_load(&after.plain), 0);
    assert_int_equal(atomic_load(&after.tagged), 9);
    /* finish in config order: hold, then after (before has none) */
    assert_int_equal(hold.seen.finished, 1);
    assert_int_equal(after.finished, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(out[i].n, 10);
        for (uint64_t v = 0; v < 9; v++) {
            assert_int_equal(out[i].seen[v], 0);
            assert_int_equal(out[i].seen[TAG + v], 1);
        }
        assert_int_equal(out[i].seen[5009], 1); /* after's finish saw the 9 held points */
        pthread_mutex_destroy(&out[i].lock);
    }
    alumet__pipeline_free(p);
}

/* ---- 3. autonomous sources ---- */

#define AUTO_BUFFERS 4
#define AUTO_POINTS 5

struct auto_src {
    uint64_t base;
    int buffers, points;
    int fail; /* run returns this after pushing, without waiting */
    atomic_int pushed;
    atomic_int woken;     /* 1: by stop_fd, with should_stop true; -1: by the 20 s timeout */
    atomic_int last_push; /* result of the push of the last point (99), after the wake-up */
};

static int auto_run(void *data, struct alumet_autonomous *ctx, struct alumet_error *err)
{
    struct auto_src *a = data;
    uint64_t v = a->base;
    for (int b = 0; b < a->buffers; b++) {
        struct alumet_buffer *buf = alumet_autonomous_buffer(ctx);
        assert_non_null(buf);
        for (int i = 0; i < a->points; i++)
            assert_non_null(alumet_buffer_push_u64(buf, 0, 0, &res, &con, v++));
        assert_int_equal(alumet_autonomous_push(ctx, buf), 0);
    }
    atomic_store(&a->pushed, 1);
    if (a->fail)
        return alumet_error_set(err, a->fail, "sensor gone");
    struct pollfd pfd = {.fd = alumet_autonomous_stop_fd(ctx), .events = POLLIN};
    int r = poll(&pfd, 1, 20000);
    atomic_store(&a->woken,
                 r == 1 && (pfd.revents & POLLIN) && alumet_autonomous_should_stop(ctx) ? 1 : -1);
    /* a last measurement at the stop, which the pipeline still takes */
    struct alumet_buffer *last = alumet_autonomous_buffer(ctx);
    assert_non_null(last);
    assert_non_null(alumet_buffer_push_u64(last, 0, 0, &res, &con, 99));
    atomic_store(&a->last_push, alumet_autonomous_push(ctx, last));
    return 0;
}

static const struct alumet_autonomous_ops auto_ops = {ALUMET_SOURCE_OPS_V1, auto_run, NULL};

static void test_autonomous_sources(void **state)
{
    (void)state;
    static struct recorder out;
    struct auto_src good = {.base = 0, .buffers = AUTO_BUFFERS, .points = AUTO_POINTS};
    struct auto_src bad = {.base = 500, .buffers = 1, .points = 2, .fail = -EIO};
    struct pipeline_settings s = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    assert_int_equal(alumet__pipeline_add_autonomous(p, "t", "good", &auto_ops, &good, &err), 0);
    assert_int_equal(alumet__pipeline_add_autonomous(p, "t", "bad", &auto_ops, &bad, &err), 0);
    recorder_init(&out, 1, 0);
    assert_int_equal(alumet__pipeline_add_output(p, "t", "out", &recorder_ops, &out, NULL, &err),
                     0);
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    /* let "good" reach its wait on stop_fd (bounded: a minute) */
    for (int i = 0; i < 60000 && !atomic_load(&good.pushed); i++)
        sleep_ms(1);
    assert_int_equal(atomic_load(&good.pushed), 1);
    alumet_time_ns t0 = alumet_time_monotonic();
    int stopped = alumet__pipeline_stop(p);
    alumet_time_ns took = alumet_time_monotonic() - t0;
    /* woken by stop_fd, not by its 20 s timeout */
    assert_int_equal(atomic_load(&good.woken), 1);
    assert_true(took < 15 * SEC);
    assert_int_equal(atomic_load(&good.last_push), 0);
    /* the failure of "bad" is counted and named */
    assert_int_equal(stopped, 1);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_ERROR, "source t/bad failed: sensor gone", NULL), 1);
    /* every pushed point reached the output, once, even those of "bad" */
    assert_int_equal(out.n, AUTO_BUFFERS * AUTO_POINTS + 1 + 2);
    for (uint64_t v = 0; v < AUTO_BUFFERS * AUTO_POINTS; v++)
        assert_int_equal(out.seen[v], 1);
    assert_int_equal(out.seen[99], 1);
    assert_int_equal(out.seen[500], 1);
    assert_int_equal(out.seen[501], 1);
    const char *name;
    struct alumet_output_stats st;
    assert_int_equal(alumet_pipeline_output_stats(p, 0, &name, &st), 0);
    assert_int_equal(st.written_points, 23);
    assert_int_equal(st.dropped_points, 0);
    alumet__pipeline_free(p);
    pthread_mutex_destroy(&out.lock);
    alumet_test_log_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_retries_until_written),
        cmocka_unit_test(test_drain_gives_up_and_reports),
        cmocka_unit_test(test_transform_finish),
        cmocka_unit_test(test_autonomous_sources),
    };
    return alumet_run_tests(tests);
}
