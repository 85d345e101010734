/* SPDX-License-Identifier: MIT */
/* agent-health in-process, started by the agent's code on a pipeline with a
 * test source polled on trigger and three outputs of known behaviour:
 *   - t/rec writes everything and records the health points it receives;
 *   - t/lossy refuses the test points for good (ALUMET_WRITE_DROP) or fails
 *     transiently without retry (ALUMET_WRITE_RETRY), buffer after buffer;
 *   - t/gated has a queue of one buffer under drop_oldest and is held in its
 *     first write, so that the next buffers push each other out.
 * The health counters must equal exactly what those outputs lost. Every wait
 * is for an event (bounded by a minute), never for a duration. */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "alumet-test-plugin.h"

extern const struct alumet_plugin alumet_plugin_agent_health;

#define SEC ALUMET_NSEC_PER_SEC
#define TEST_POLLS 4
#define TEST_POINTS 5 /* per poll, so per buffer */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Wait (a minute at most) until an event of the pipeline happened; the
 * test fails otherwise. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int wait_i_ = 0; wait_i_ < 60000 && !(cond); wait_i_++)                               \
            sleep_ms(1);                                                                           \
        if (!(cond))                                                                               \
            fail_msg("timed out waiting for %s", #cond);                                           \
    } while (0)

/* A counter is updated by the output's thread just after the write that
 * the test saw: give it up to 5 s, then it must have the expected value. */
#define SETTLES_TO(expr, want)                                                                     \
    do {                                                                                           \
        for (int wait_i_ = 0; wait_i_ < 5000 && (expr) != (want); wait_i_++)                       \
            sleep_ms(1);                                                                           \
        assert_int_equal((expr), (want));                                                          \
    } while (0)

/* ---- the test source ---- */

struct src {
    alumet_metric_id metric;
    atomic_int polls;
};

static int src_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                    struct alumet_error *err)
{
    (void)err;
    struct src *s = data;
    for (int i = 0; i < TEST_POINTS; i++)
        assert_non_null(alumet_buffer_push_u64(buf, now, s->metric, &alumet_test_local_resource,
                                               &alumet_test_local_consumer, (uint64_t)i));
    atomic_fetch_add(&s->polls, 1);
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops src_ops = {ALUMET_SOURCE_OPS_V1, src_poll, NULL, NULL};

static bool is_test_buffer(const struct alumet_buffer *buf, const struct alumet_registry *reg)
{
    const struct alumet_metric *m = alumet_registry_get(reg, alumet_buffer_get(buf, 0)->metric);
    return m && strcmp(m->name, "test_points") == 0;
}

/* ---- t/rec: the health points of the last poll ---- */

#define HEALTH_MAX 32

struct health_row {
    char metric[64], output[32];
    uint64_t value;
};

struct rec {
    pthread_mutex_t lock;
    atomic_int batches;      /* health buffers received */
    atomic_int test_buffers; /* test buffers received */
    size_t first_batch;      /* points of the first health buffer */
    size_t n;
    struct health_row rows[HEALTH_MAX]; /* of the last health buffer */
};

static int rec_write(void *data, const struct alumet_buffer *buf, const struct alumet_registry *reg,
                     struct alumet_error *err)
{
    (void)err;
    struct rec *r = data;
    if (alumet_buffer_len(buf) == 0)
        return 0;
    if (is_test_buffer(buf, reg)) {
        atomic_fetch_add(&r->test_buffers, 1);
        return 0;
    }
    pthread_mutex_lock(&r->lock);
    r->n = 0;
    for (size_t i = 0; i < alumet_buffer_len(buf) && r->n < HEALTH_MAX; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
        const struct alumet_attr *o = alumet_point_find_attr(buf, p, "output");
        struct health_row *row = &r->rows[r->n++];
        snprintf(row->metric, sizeof(row->metric), "%s", m ? m->name : "?");
        snprintf(row->output, sizeof(row->output), "%s",
                 o && o->type == ALUMET_ATTR_STR ? o->v.str : "");
        row->value = p->value.u64;
    }
    if (atomic_load(&r->batches) == 0)
        r->first_batch = alumet_buffer_len(buf);
    pthread_mutex_unlock(&r->lock);
    atomic_fetch_add(&r->batches, 1);
    return 0;
}

/* The value of metric{output} in the last health buffer; fails if absent. */
static uint64_t rec_value(struct rec *r, const char *metric, const char *output)
{
    uint64_t v = 0;
    int found = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].metric, metric) == 0 && strcmp(r->rows[i].output, output) == 0) {
            v = r->rows[i].value;
            found++;
        }
    pthread_mutex_unlock(&r->lock);
    if (found != 1)
        fail_msg("%d points %s{output=%s} in the last health buffer", found, metric, output);
    return v;
}

/* ---- t/lossy: test buffers 1, 3 refused, 2, 4 failed transiently ---- */

struct lossy {
    atomic_int test_writes;
};

static int lossy_write(void *data, const struct alumet_buffer *buf,
                       const struct alumet_registry *reg, struct alumet_error *err)
{
    struct lossy *l = data;
    if (alumet_buffer_len(buf) == 0 || !is_test_buffer(buf, reg))
        return 0;
    int k = atomic_fetch_add(&l->test_writes, 1) + 1;
    if (k % 2)
        return ALUMET_WRITE_DROP;
    return alumet_error_set(err, ALUMET_WRITE_RETRY, "server busy");
}

/* ---- t/gated: held in its first write until the gate opens ---- */

struct gated {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    atomic_int writes; /* entered */
};

static int gated_write(void *data, const struct alumet_buffer *buf,
                       const struct alumet_registry *reg, struct alumet_error *err)
{
    (void)buf;
    (void)reg;
    (void)err;
    struct gated *g = data;
    atomic_fetch_add(&g->writes, 1);
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return 0;
}

static const struct alumet_output_ops rec_ops = {ALUMET_OUTPUT_OPS_V1, rec_write, NULL, NULL};
static const struct alumet_output_ops lossy_ops = {ALUMET_OUTPUT_OPS_V1, lossy_write, NULL, NULL};
static const struct alumet_output_ops gated_ops = {ALUMET_OUTPUT_OPS_V1, gated_write, NULL, NULL};

static uint64_t stat_dropped(struct alumet_pipeline *p, size_t i)
{
    const char *name;
    struct alumet_output_stats st;
    assert_int_equal(alumet_pipeline_output_stats(p, i, &name, &st), 0);
    return st.dropped_points;
}

static uint64_t stat_written(struct alumet_pipeline *p, size_t i)
{
    const char *name;
    struct alumet_output_stats st;
    assert_int_equal(alumet_pipeline_output_stats(p, i, &name, &st), 0);
    return st.written_points;
}

static void trigger(struct alumet_pipeline *p, const char *pattern)
{
    struct alumet_error err = {0};
    assert_int_equal(alumet_pipeline_control(p, pattern, ALUMET_CONTROL_TRIGGER_NOW, 0, &err), 1);
}

static void test_drop_counts(void **state)
{
    (void)state;
    static const char config[] = "[plugins.agent-health]\n"
                                 "poll_interval = \"1h\"\n" /* polled at start, then on trigger */
                                 "flush_interval = \"1h\"\n";
    static struct rec rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
    static struct gated gated = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                 .cond = PTHREAD_COND_INITIALIZER};
    struct lossy lossy = {0};
    struct src src = {0};
    struct toml_value *root = NULL;
    struct plugin_set set = {0};
    struct alumet_error err = {0};
    char report[ALUMET_ERROR_MSG_MAX] = "";

    alumet_test_log_capture("warn");
    assert_int_equal(alumet__config_load_text(config, strlen(config), "test.toml", 0, &root, &err),
                     0);
    assert_int_equal(alumet__plugins_add(&set, &alumet_plugin_agent_health, NULL, &err), 0);
    alumet__plugins_find(&set, "agent-health")->config =
        alumet_test_plugin_section(root, "agent-health");
    assert_int_equal(alumet__agent_init_plugins(&set, false, alumet_test_report_keep, report, &err),
                     0);

    struct pipeline_settings ps = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&ps);
    assert_non_null(p);
    src.metric = alumet_test_add_metric(alumet__pipeline_registry(p), "test_points",
                                        ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    struct alumet_source_opts so = {.size = sizeof(so), .manual_only = true};
    assert_int_equal(alumet__pipeline_add_source(p, "test", "src", &src_ops, &src, &so, &err), 0);
    struct alumet_output_opts no_retry = {.size = sizeof(no_retry)};
    struct alumet_output_opts one_drop_oldest = {.size = sizeof(one_drop_oldest),
                                                 .queue_size = 1,
                                                 .policy = ALUMET_QUEUE_DROP_OLDEST,
                                                 .policy_set = true};
    assert_int_equal(alumet__pipeline_add_output(p, "t", "rec", &rec_ops, &rec, NULL, &err), 0);
    assert_int_equal(
        alumet__pipeline_add_output(p, "t", "lossy", &lossy_ops, &lossy, &no_retry, &err), 0);
    assert_int_equal(
        alumet__pipeline_add_output(p, "t", "gated", &gated_ops, &gated, &one_drop_oldest, &err),
        0);
    assert_int_equal(alumet__agent_start(&set, p, &err), 0);

    /* the first health buffer (the only buffer so far) holds t/gated in its
     * write; t/rec has it */
    WAIT_FOR(atomic_load(&rec.batches) == 1);
    WAIT_FOR(atomic_load(&gated.writes) == 1);
    size_t first = rec.first_batch;
    /* four test buffers of 5 points, one after the other */
    for (int k = 1; k <= TEST_POLLS; k++) {
        trigger(p, "src/test/src");
        WAIT_FOR(atomic_load(&src.polls) == k);
    }
    /* t/lossy: all 20 lost (10 refused, 10 failed without retry); t/gated:
     * buffers 1..3 pushed out by the next one (15), the 4th waits; t/rec
     * wrote them all */
    WAIT_FOR(atomic_load(&rec.test_buffers) == TEST_POLLS &&
             atomic_load(&lossy.test_writes) == TEST_POLLS);
    SETTLES_TO(stat_dropped(p, 1), TEST_POLLS * TEST_POINTS);
    SETTLES_TO(stat_dropped(p, 2), (TEST_POLLS - 1) * TEST_POINTS);
    SETTLES_TO(stat_written(p, 0), first + TEST_POLLS * TEST_POINTS);
    SETTLES_TO(stat_written(p, 1), first); /* the health buffer, before the test ones */

    trigger(p, "src/agent-health/self");
    WAIT_FOR(atomic_load(&rec.batches) == 2);
    assert_int_equal(rec_value(&rec, "alumet_output_points_dropped", "t/rec"), 0);
    assert_int_equal(rec_value(&rec, "alumet_output_points_written", "t/rec"), first + 20);
    assert_int_equal(rec_value(&rec, "alumet_output_points_dropped", "t/lossy"), 20);
    assert_int_equal(rec_value(&rec, "alumet_output_write_retries", "t/lossy"), 2);
    assert_int_equal(rec_value(&rec, "alumet_output_points_pending", "t/lossy"), 0);
    assert_int_equal(rec_value(&rec, "alumet_output_points_written", "t/lossy"), first);
    assert_int_equal(rec_value(&rec, "alumet_output_points_dropped", "t/gated"), 15);
    assert_int_equal(rec_value(&rec, "alumet_output_points_written", "t/gated"), 0);
    assert_int_equal(rec_value(&rec, "alumet_output_write_retries", "t/gated"), 0);
    /* 3 outputs x 4 counters, the CPU time and the memory */
    assert_int_equal(rec.n, 3 * 4 + 2);

    pthread_mutex_lock(&gated.lock);
    gated.open = true;
    pthread_cond_broadcast(&gated.cond);
    pthread_mutex_unlock(&gated.lock);
    /* the losses make the stop report errors: one per output that lost points */
    assert_int_equal(alumet__pipeline_stop(p), 2);
    alumet__agent_stop_plugins(&set);
    alumet__pipeline_free(p);
    alumet__plugins_done(&set);
    toml_free(root);
    alumet_test_log_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_counts),
    };
    return alumet_run_tests(tests);
}
