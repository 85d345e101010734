/* SPDX-License-Identifier: MIT */
/* The pipeline in-process: conservation of points through transforms to
 * every output, clean stop, trigger-now (served by a poll that measures),
 * flush-now, pause, bad patterns,
 * the status listing, the flush interval kept across a new poll interval,
 * points handed over during a poll. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alumet-test.h"
#include "core/buffer.h"
#include "core/pipeline-internal.h"
#include "core/pipeline.h"
#include "core/registry.h"

static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer con = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

struct counters {
    atomic_ulong polled, transformed_in, written[2];
    atomic_ulong polls;
};

static int src_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                    struct alumet_error *err)
{
    (void)err;
    struct counters *c = data;
    for (int i = 0; i < 3; i++)
        alumet_buffer_push_u64(buf, now, 0, &res, &con, (uint64_t)i);
    atomic_fetch_add(&c->polled, 3);
    atomic_fetch_add(&c->polls, 1);
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops src_ops = {ALUMET_SOURCE_OPS_V1, src_poll, NULL, NULL};

/* doubles every point */
static int tr_apply(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                    struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct counters *c = data;
    size_t n = alumet_buffer_len(buf);
    atomic_fetch_add(&c->transformed_in, n);
    for (size_t i = 0; i < n; i++)
        if (!alumet_buffer_push_copy(buf, buf, alumet_buffer_get(buf, i)))
            return -ENOMEM;
    return 0;
}

static const struct alumet_transform_ops tr_ops = {ALUMET_TRANSFORM_OPS_V1, tr_apply, NULL, NULL};

struct out {
    struct counters *c;
    int i;
};

static int out_write(void *data, const struct alumet_buffer *buf, const struct alumet_registry *reg,
                     struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct out *o = data;
    atomic_fetch_add(&o->c->written[o->i], alumet_buffer_len(buf));
    return 0;
}

static const struct alumet_output_ops out_ops = {ALUMET_OUTPUT_OPS_V1, out_write, NULL, NULL};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static struct alumet_pipeline *make(struct counters *c, struct out outs[2], bool manual)
{
    struct pipeline_settings s = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    struct alumet_error err = {0};
    struct alumet_source_opts o = {.poll_interval = 5 * ALUMET_NSEC_PER_MSEC,
                                   .flush_interval = 20 * ALUMET_NSEC_PER_MSEC,
                                   .manual_only = manual};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "src", &src_ops, c, &o, &err), 0);
    assert_int_equal(alumet__pipeline_add_transform(p, "t", "double", &tr_ops, c, &err), 0);
    for (int i = 0; i < 2; i++) {
        outs[i] = (struct out){c, i};
        char name[8];
        snprintf(name, sizeof(name), "out%d", i);
        assert_int_equal(alumet__pipeline_add_output(p, "t", name, &out_ops, &outs[i], NULL, &err),
                         0);
    }
    return p;
}

static void test_conservation(void **state)
{
    (void)state;
    struct counters c = {0};
    struct out outs[2];
    struct alumet_pipeline *p = make(&c, outs, false);
    struct alumet_error err = {0};
    /* duplicate names are refused */
    struct alumet_source_opts o = {.poll_interval = ALUMET_NSEC_PER_SEC};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "src", &src_ops, &c, &o, &err), -EEXIST);
    assert_string_equal(err.msg, "duplicate name: t/src");
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    sleep_ms(200);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    unsigned long polled = atomic_load(&c.polled);
    assert_true(polled >= 3 * 10); /* ~40 polls in 200 ms at 5 ms */
    assert_int_equal(atomic_load(&c.transformed_in), polled);
    assert_int_equal(atomic_load(&c.written[0]), 2 * polled);
    assert_int_equal(atomic_load(&c.written[1]), 2 * polled);
    alumet__pipeline_free(p);
}

static void test_trigger_and_controls(void **state)
{
    (void)state;
    struct counters c = {0};
    struct out outs[2];
    struct alumet_pipeline *p = make(&c, outs, true);
    struct alumet_error err = {0};
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    sleep_ms(30);
    assert_int_equal(atomic_load(&c.polls), 0); /* manual only: never polled by itself */
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(atomic_load(&c.polls), 1); /* polled once, before the call returned */
    assert_int_equal(alumet_pipeline_control(p, "src/t/*", ALUMET_CONTROL_TRIGGER_NOW, 0, &err), 1);
    assert_int_equal(alumet_pipeline_control(p, "tra/t/double", ALUMET_CONTROL_DISABLE, 0, &err),
                     1);
    assert_int_equal(alumet_pipeline_control(p, "out/nope/*", ALUMET_CONTROL_DISABLE, 0, &err), 0);
    assert_int_equal(alumet_pipeline_control(p, "foo/t/x", ALUMET_CONTROL_PAUSE, 0, &err), -EINVAL);
    assert_int_equal(alumet_pipeline_control(p, "t/src", ALUMET_CONTROL_SET_INTERVAL, 0, &err),
                     -EINVAL);
    assert_int_equal(alumet_pipeline_control(p, "t/src", ALUMET_CONTROL_FLUSH_NOW, 0, &err), 1);
    sleep_ms(30);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    /* 2 polls x 3 points; the first buffer was doubled (transform enabled) */
    assert_int_equal(atomic_load(&c.polled), 6);
    unsigned long w = atomic_load(&c.written[0]);
    assert_true(w == 6 || w == 9 || w == 12);
    assert_int_equal(atomic_load(&c.written[1]), w);
    alumet__pipeline_free(p);
}

/* A source whose poll takes 30 ms and whose reset checks that no poll runs
 * at the same time (control requests are applied by the source's thread). */
struct slow {
    atomic_int in_poll, overlaps, resets;
    atomic_ulong polls;
};

static int slow_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                     struct alumet_error *err)
{
    (void)err;
    struct slow *s = data;
    atomic_store(&s->in_poll, 1);
    sleep_ms(30);
    alumet_buffer_push_u64(buf, now, 0, &res, &con, 1);
    atomic_store(&s->in_poll, 0);
    atomic_fetch_add(&s->polls, 1);
    return ALUMET_POLL_OK;
}

static void slow_reset(void *data)
{
    struct slow *s = data;
    if (atomic_load(&s->in_poll))
        atomic_fetch_add(&s->overlaps, 1);
    atomic_fetch_add(&s->resets, 1);
}

static const struct alumet_source_ops slow_ops = {ALUMET_SOURCE_OPS_V1, slow_poll, slow_reset,
                                                  NULL};

static void test_control_never_overlaps_a_poll(void **state)
{
    (void)state;
    struct slow sl = {0};
    struct pipeline_settings st = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&st);
    struct alumet_error err = {0};
    struct alumet_source_opts o = {.poll_interval = ALUMET_NSEC_PER_MSEC};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "slow", &slow_ops, &sl, &o, &err), 0);
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    for (int i = 0; i < 20; i++) {
        /* the poll runs nearly all the time: each pause lands during one */
        sleep_ms(7);
        assert_int_equal(alumet_pipeline_control(p, "t/slow", ALUMET_CONTROL_PAUSE, 0, &err), 1);
        sleep_ms(7);
        assert_int_equal(alumet_pipeline_control(p, "t/slow", ALUMET_CONTROL_RESUME, 0, &err), 1);
    }
    assert_int_equal(alumet__pipeline_stop(p), 0);
    assert_int_equal(atomic_load(&sl.overlaps), 0);
    assert_true(atomic_load(&sl.resets) > 0);
    alumet__pipeline_free(p);
}

static void test_set_interval_keeps_a_manual_source_manual(void **state)
{
    (void)state;
    struct counters c = {0};
    struct out outs[2];
    struct alumet_pipeline *p = make(&c, outs, true);
    struct alumet_error err = {0};
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    assert_int_equal(alumet_pipeline_control(p, "t/src", ALUMET_CONTROL_SET_INTERVAL,
                                             ALUMET_NSEC_PER_MSEC, &err),
                     1);
    sleep_ms(100);
    assert_int_equal(atomic_load(&c.polls), 0); /* still polled on demand only */
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(atomic_load(&c.polls), 1);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    alumet__pipeline_free(p);
}

/* A source that measures differences, as RAPL does (baseline_first): a
 * counter that moves by 10 per poll; its first poll (and its first after a
 * reset) only takes the baseline. */
struct diff {
    atomic_ulong polls, points, resets, last;
    uint64_t prev;
    bool has_prev;
};

static int diff_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                     struct alumet_error *err)
{
    (void)err;
    struct diff *d = data;
    uint64_t counter = 10 * (atomic_fetch_add(&d->polls, 1) + 1);
    if (d->has_prev) {
        alumet_buffer_push_u64(buf, now, 0, &res, &con, counter - d->prev);
        atomic_store(&d->last, counter - d->prev);
        atomic_fetch_add(&d->points, 1);
    }
    d->prev = counter;
    d->has_prev = true;
    return ALUMET_POLL_OK;
}

static void diff_reset(void *data)
{
    struct diff *d = data;
    d->has_prev = false;
    atomic_fetch_add(&d->resets, 1);
}

static const struct alumet_source_ops diff_ops = {ALUMET_SOURCE_OPS_V1, diff_poll, diff_reset,
                                                  NULL};

/* Wait until *v reaches want: up to a minute, far more than a loaded
 * machine needs. */
static void wait_at_least(atomic_ulong *v, unsigned long want)
{
    for (int i = 0; i < 60000 && atomic_load(v) < want; i++)
        sleep_ms(1);
    assert_true(atomic_load(v) >= want);
}

/* Wait until *v reaches want, which it must not pass. */
static void wait_for(atomic_ulong *v, unsigned long want)
{
    wait_at_least(v, want);
    assert_int_equal(atomic_load(v), want);
}

/* A trigger gives a measurement, even when it reaches a source that
 * measures differences before its first poll (exec's "before" measurement
 * on a loaded machine) or before its first poll after a pause: the trigger
 * is served by the poll after the baselines. Without baseline_first (the
 * plain sources of the other tests, and a plugin built before the field
 * existed), one poll per trigger. */
static void test_trigger_measures_after_baselines(void **state)
{
    (void)state;
    struct diff manual = {0}, paused = {0}, old = {0};
    struct pipeline_settings st = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&st);
    struct alumet_error err = {0};
    struct alumet_source_opts mo = {.size = sizeof(mo),
                                    .poll_interval = ALUMET_NSEC_PER_SEC,
                                    .manual_only = true,
                                    .baseline_first = true};
    struct alumet_source_opts po = {
        .size = sizeof(po), .poll_interval = 3600 * ALUMET_NSEC_PER_SEC, .baseline_first = true};
    /* a plugin of the first version: the flag is past its struct's size */
    struct alumet_source_opts oo = {.size = offsetof(struct alumet_source_opts, baseline_first),
                                    .manual_only = true,
                                    .baseline_first = true};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "manual", &diff_ops, &manual, &mo, &err),
                     0);
    assert_int_equal(alumet__pipeline_add_source(p, "t", "paused", &diff_ops, &paused, &po, &err),
                     0);
    assert_int_equal(alumet__pipeline_add_source(p, "t", "old", &diff_ops, &old, &oo, &err), 0);
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    /* the periodic source's first poll, at start: a baseline */
    wait_for(&paused.polls, 1);
    assert_int_equal(atomic_load(&paused.points), 0);
    assert_int_equal(alumet_pipeline_control(p, "t/paused", ALUMET_CONTROL_PAUSE, 0, &err), 1);
    wait_for(&paused.resets, 1);

    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 60 * ALUMET_NSEC_PER_SEC), 3);
    assert_int_equal(atomic_load(&old.polls), 1);
    assert_int_equal(atomic_load(&old.points), 0);
    /* the manual source had never polled: baseline 10, then 20 */
    assert_int_equal(atomic_load(&manual.polls), 2);
    assert_int_equal(atomic_load(&manual.points), 1);
    assert_int_equal(atomic_load(&manual.last), 10);
    /* the paused one forgot its baseline (20) at the pause: 30, then 40 */
    assert_int_equal(atomic_load(&paused.polls), 3);
    assert_int_equal(atomic_load(&paused.points), 1);
    assert_int_equal(atomic_load(&paused.last), 10);

    /* from then on, one poll per trigger */
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 60 * ALUMET_NSEC_PER_SEC), 3);
    assert_int_equal(atomic_load(&old.polls), 2);
    assert_int_equal(atomic_load(&old.points), 1);
    assert_int_equal(atomic_load(&manual.polls), 3);
    assert_int_equal(atomic_load(&manual.points), 2);
    assert_int_equal(atomic_load(&paused.polls), 4);
    assert_int_equal(atomic_load(&paused.points), 2);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    alumet__pipeline_free(p);
}

/* A trigger on a source that is busy in a long poll is not lost: it is
 * honoured before the final flush, even when the stop comes first. */
static void test_pending_trigger_honoured_at_stop(void **state)
{
    (void)state;
    struct slow sl = {0};
    struct pipeline_settings st = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&st);
    struct alumet_error err = {0};
    struct alumet_source_opts o = {.poll_interval = 10 * ALUMET_NSEC_PER_SEC};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "slow", &slow_ops, &sl, &o, &err), 0);
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    /* the first periodic poll is running (30 ms): trigger, do not wait */
    while (!atomic_load(&sl.in_poll))
        sleep_ms(1);
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 0), 1);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    assert_int_equal(atomic_load(&sl.polls), 2);
    alumet__pipeline_free(p);
}

/* A source resumed from a pause polls on the ticks of the pipeline's start,
 * as the other sources of its period (procfs's process-events group,
 * resumed when exec announces the child, must poll with the kernel source
 * for the attribution to line their intervals up): after its resume, its
 * deadline and a running source's are the same tick, or whole periods
 * apart. Exact: the deadlines are read, not the poll instants. */
static void test_resume_keeps_the_ticks(void **state)
{
    (void)state;
    struct diff run = {0}, resumed = {0};
    struct pipeline_settings st = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&st);
    struct alumet_error err = {0};
    const alumet_time_ns period = 20 * ALUMET_NSEC_PER_MSEC;
    struct alumet_source_opts ro = {.size = sizeof(ro), .poll_interval = period};
    struct alumet_source_opts po = {
        .size = sizeof(po), .poll_interval = period, .start_paused = true};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "run", &diff_ops, &run, &ro, &err), 0);
    assert_int_equal(alumet__pipeline_add_source(p, "t", "resumed", &diff_ops, &resumed, &po, &err),
                     0);
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    wait_at_least(&run.polls, 3);
    sleep_ms(7); /* between two ticks, most likely */
    assert_int_equal(alumet_pipeline_control(p, "t/resumed", ALUMET_CONTROL_RESUME, 0, &err), 1);
    wait_at_least(&resumed.polls, 2); /* at once, then on a tick */
    pthread_mutex_lock(&p->lock);
    alumet_time_ns a = p->sources.items[0]->deadline, b = p->sources.items[1]->deadline;
    pthread_mutex_unlock(&p->lock);
    assert_int_equal((b - a) % period, 0);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    alumet__pipeline_free(p);
}

static void test_unknown_ops_version_is_refused(void **state)
{
    (void)state;
    struct pipeline_settings st = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&st);
    struct alumet_error err = {0};
    static const struct alumet_source_ops v7 = {7, src_poll, NULL, NULL};
    struct alumet_source_opts o = {.poll_interval = ALUMET_NSEC_PER_MSEC};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "src", &v7, NULL, &o, &err), -ENOTSUP);
    assert_string_equal(err.msg,
                        "source t/src: its operations table has version 7, this agent "
                        "knows version 1; rebuild the plugin against this agent's headers");
    static const struct alumet_output_ops o0 = {0, out_write, NULL, NULL};
    assert_int_equal(alumet__pipeline_add_output(p, "t", "out", &o0, NULL, NULL, &err), -ENOTSUP);
    alumet__pipeline_free(p);
}

/* The status listing: one line per element, as the element's thread
 * applied the requests. */
static void list_line(void *data, enum alumet_element_kind kind, const char *plugin,
                      const char *name, const char *state, alumet_time_ns poll_interval)
{
    static const char *const kinds[] = {"source", "transform", "output"};
    char *out = data;
    size_t len = strlen(out);
    snprintf(out + len, 512 - len, "%s %s/%s %s %lld\n", kinds[kind], plugin, name, state,
             (long long)poll_interval);
}

static void list_wait(struct alumet_pipeline *p, const char *expected)
{
    char out[512];
    for (int i = 0; i < 500; i++) {
        out[0] = '\0';
        alumet_pipeline_list_elements(p, list_line, out);
        if (strcmp(out, expected) == 0)
            return;
        sleep_ms(10); /* the source's thread applies the request */
    }
    assert_string_equal(out, expected);
}

static void test_list_elements(void **state)
{
    (void)state;
    struct counters c = {0};
    struct out outs[2];
    struct alumet_pipeline *p = make(&c, outs, false);
    struct alumet_error err = {0};
    char out[512] = "";
    assert_int_equal(alumet_pipeline_list_elements(p, list_line, out), 4);
    assert_string_equal(out, "source t/src running 5000000\n"
                             "transform t/double enabled 0\n"
                             "output t/out0 running 0\n"
                             "output t/out1 running 0\n");
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    assert_int_equal(alumet_pipeline_control(p, "src/t/src", ALUMET_CONTROL_PAUSE, 0, &err), 1);
    assert_int_equal(alumet_pipeline_control(p, "tra/t/*", ALUMET_CONTROL_DISABLE, 0, &err), 1);
    list_wait(p, "source t/src paused 5000000\n"
                 "transform t/double disabled 0\n"
                 "output t/out0 running 0\n"
                 "output t/out1 running 0\n");
    assert_int_equal(alumet_pipeline_control(p, "src/t/src", ALUMET_CONTROL_SET_INTERVAL,
                                             ALUMET_NSEC_PER_SEC, &err),
                     1);
    assert_int_equal(alumet_pipeline_control(p, "src/t/src", ALUMET_CONTROL_RESUME, 0, &err), 1);
    list_wait(p, "source t/src running 1000000000\n"
                 "transform t/double disabled 0\n"
                 "output t/out0 running 0\n"
                 "output t/out1 running 0\n");
    assert_int_equal(alumet_pipeline_control(p, "src/t/src", ALUMET_CONTROL_STOP, 0, &err), 1);
    list_wait(p, "source t/src stopped 1000000000\n"
                 "transform t/double disabled 0\n"
                 "output t/out0 running 0\n"
                 "output t/out1 running 0\n");
    assert_int_equal(alumet__pipeline_stop(p), 0);
    /* the elements freed, the pipeline stays usable by plugins until their stop */
    alumet__pipeline_free_elements(p);
    out[0] = '\0';
    assert_int_equal(alumet_pipeline_list_elements(p, list_line, out), 0);
    assert_string_equal(out, "");
    assert_int_equal(alumet_pipeline_control(p, "*", ALUMET_CONTROL_PAUSE, 0, &err), 0);
    alumet__pipeline_free(p);
}

/* A new poll interval keeps the flush interval in time (upstream resets it
 * to every poll): 5 ms polls flushed every 20 ms, set to 10 s, flush at
 * every poll, so each triggered poll reaches the outputs on its own. */
static void test_set_interval_keeps_the_flush_interval(void **state)
{
    (void)state;
    struct counters c = {0};
    struct out outs[2];
    struct alumet_pipeline *p = make(&c, outs, false);
    struct alumet_error err = {0};
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    assert_int_equal(alumet_pipeline_control(p, "src/t/src", ALUMET_CONTROL_SET_INTERVAL,
                                             10 * ALUMET_NSEC_PER_SEC, &err),
                     1);
    list_wait(p, "source t/src running 10000000000\n"
                 "transform t/double enabled 0\n"
                 "output t/out0 running 0\n"
                 "output t/out1 running 0\n");
    sleep_ms(100); /* what was flushed before reaches the outputs */
    for (int k = 0; k < 3; k++) {
        unsigned long before = atomic_load(&c.written[0]);
        assert_int_equal(alumet__pipeline_trigger_all_wait(p, 5 * ALUMET_NSEC_PER_SEC), 1);
        for (int i = 0; i < 500 && atomic_load(&c.written[0]) == before; i++)
            sleep_ms(10);
        assert_true(atomic_load(&c.written[0]) > before);
    }
    assert_int_equal(alumet__pipeline_stop(p), 0);
    alumet__pipeline_free(p);
}

/* A source that hands its points over every 4 points (alumet_buffer_hand_over):
 * the outputs get them in order, in buffers of at most 4 points, with their
 * attributes and arena strings, and none is lost at the stop. */
struct chunky {
    atomic_ulong next;  /* value of the next point pushed */
    atomic_ulong polls; /* polls finished */
    atomic_int failures;
    long delay_ms; /* between two hand-overs */
    pthread_mutex_t lock;
    uint64_t values[4096];
    size_t n_values;
    size_t sizes[1024];
    size_t n_sizes;
    int bad_attr;
};

static int chunky_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                       struct alumet_error *err)
{
    (void)err;
    struct chunky *c = data;
    for (int i = 0; i < 10; i++) {
        uint64_t v = atomic_fetch_add(&c->next, 1);
        struct alumet_point *pt = alumet_buffer_push_u64(buf, now, 0, &res, &con, v);
        char text[24];
        snprintf(text, sizeof(text), "v%llu", (unsigned long long)v);
        if (!pt || alumet_point_add_attr_str(buf, pt, "name", alumet_buffer_strdup(buf, text, -1)))
            atomic_fetch_add(&c->failures, 1);
        if (alumet_buffer_len(buf) == 4) {
            if (alumet_buffer_hand_over(buf) != 0 || alumet_buffer_len(buf) != 0)
                atomic_fetch_add(&c->failures, 1);
            if (c->delay_ms)
                sleep_ms(c->delay_ms);
        }
    }
    atomic_fetch_add(&c->polls, 1);
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops chunky_ops = {ALUMET_SOURCE_OPS_V1, chunky_poll, NULL, NULL};

static int chunky_write(void *data, const struct alumet_buffer *buf,
                        const struct alumet_registry *reg, struct alumet_error *err)
{
    (void)reg;
    (void)err;
    struct chunky *c = data;
    pthread_mutex_lock(&c->lock);
    if (c->n_sizes < 1024)
        c->sizes[c->n_sizes++] = alumet_buffer_len(buf);
    for (size_t i = 0; i < alumet_buffer_len(buf) && c->n_values < 4096; i++) {
        const struct alumet_point *pt = alumet_buffer_get(buf, i);
        c->values[c->n_values++] = pt->value.u64;
        const struct alumet_attr *a = alumet_point_find_attr(buf, pt, "name");
        char text[24];
        snprintf(text, sizeof(text), "v%llu", (unsigned long long)pt->value.u64);
        if (pt->attr_count != 1 || !a || strcmp(a->v.str, text) != 0)
            c->bad_attr++;
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static const struct alumet_output_ops chunky_out_ops = {ALUMET_OUTPUT_OPS_V1, chunky_write, NULL,
                                                        NULL};

static struct alumet_pipeline *chunky_make(struct chunky *c, bool manual)
{
    pthread_mutex_init(&c->lock, NULL);
    struct pipeline_settings st = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&st);
    struct alumet_error err = {0};
    struct alumet_source_opts o = {.poll_interval = ALUMET_NSEC_PER_MSEC, .manual_only = manual};
    assert_int_equal(alumet__pipeline_add_source(p, "t", "chunky", &chunky_ops, c, &o, &err), 0);
    assert_int_equal(alumet__pipeline_add_output(p, "t", "out", &chunky_out_ops, c, NULL, &err), 0);
    return p;
}

static void test_hand_over_in_chunks(void **state)
{
    (void)state;
    struct chunky c = {0};
    struct alumet_pipeline *p = chunky_make(&c, true);
    struct alumet_error err = {0};
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alumet__pipeline_trigger_all_wait(p, 10 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    assert_int_equal(atomic_load(&c.failures), 0);
    /* 3 polls of 10 points: 4 and 4 handed over, 2 flushed after the poll */
    assert_int_equal(c.n_sizes, 9);
    static const size_t sizes[] = {4, 4, 2, 4, 4, 2, 4, 4, 2};
    for (size_t i = 0; i < 9; i++)
        assert_int_equal(c.sizes[i], sizes[i]);
    assert_int_equal(c.n_values, 30);
    for (size_t i = 0; i < 30; i++)
        assert_int_equal(c.values[i], i);
    assert_int_equal(c.bad_attr, 0);
    alumet__pipeline_free(p);
    pthread_mutex_destroy(&c.lock);
}

static void test_hand_over_nothing_lost_at_stop(void **state)
{
    (void)state;
    struct chunky c = {.delay_ms = 2};
    struct alumet_pipeline *p = chunky_make(&c, false);
    struct alumet_error err = {0};
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    while (atomic_load(&c.polls) < 5)
        sleep_ms(1);
    /* the stop lands during a poll (it hands over every 2 ms, and is
     * polled every 1 ms): that poll ends, and its points are delivered */
    assert_int_equal(alumet__pipeline_stop(p), 0);
    assert_int_equal(atomic_load(&c.failures), 0);
    unsigned long polls = atomic_load(&c.polls);
    assert_int_equal(atomic_load(&c.next), 10 * polls);
    assert_int_equal(c.n_values, 10 * polls);
    for (size_t i = 0; i < c.n_values; i++)
        assert_int_equal(c.values[i], i);
    for (size_t i = 0; i < c.n_sizes; i++)
        assert_true(c.sizes[i] >= 1 && c.sizes[i] <= 4);
    assert_int_equal(c.bad_attr, 0);
    alumet__pipeline_free(p);
    pthread_mutex_destroy(&c.lock);
}

/* On a buffer that no managed source polls into, a hand-over does nothing. */
static void test_hand_over_outside_a_source(void **state)
{
    (void)state;
    struct alumet_buffer *buf = alumet__buffer_new(0);
    assert_int_equal(alumet_buffer_hand_over(buf), 0);
    alumet_buffer_push_u64(buf, 1, 0, &res, &con, 7);
    assert_int_equal(alumet_buffer_hand_over(buf), 0);
    assert_int_equal(alumet_buffer_len(buf), 1);
    assert_int_equal(alumet_buffer_get(buf, 0)->value.u64, 7);
    alumet__buffer_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_trigger_and_controls),
        cmocka_unit_test(test_control_never_overlaps_a_poll),
        cmocka_unit_test(test_set_interval_keeps_a_manual_source_manual),
        cmocka_unit_test(test_pending_trigger_honoured_at_stop),
        cmocka_unit_test(test_trigger_measures_after_baselines),
        cmocka_unit_test(test_resume_keeps_the_ticks),
        cmocka_unit_test(test_unknown_ops_version_is_refused),
        cmocka_unit_test(test_list_elements),
        cmocka_unit_test(test_set_interval_keeps_the_flush_interval),
        cmocka_unit_test(test_hand_over_in_chunks),
        cmocka_unit_test(test_hand_over_nothing_lost_at_stop),
        cmocka_unit_test(test_hand_over_outside_a_source),
    };
    return alumet_run_tests(tests);
}
