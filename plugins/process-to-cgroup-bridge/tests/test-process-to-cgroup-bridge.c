/* SPDX-License-Identifier: MIT */
/* Tests of the process-to-cgroup-bridge transform on a copy of the fixture
 * tree tests/fixtures/cgroup/v2 (process 4242 is in
 * /system.slice/app.service) to which the tests add processes: 4244 in the
 * same cgroup, 4245 in /other.slice; 4243 does not exist (a process that has
 * gone). Buffers are built here as procfs makes them and the expected output
 * is written out in full. */
#include <errno.h>
#include <fcntl.h>

#include "alumet-test-plugin.h"
#include "core/buffer.h"
#include "process-to-cgroup-bridge.h"

extern const struct alumet_plugin alumet_plugin_process_to_cgroup_bridge;

#define MS ALUMET_NSEC_PER_MSEC
#define T0 ((alumet_time_ns)1700000000 * ALUMET_NSEC_PER_SEC)

struct run {
    char *tmp;
    struct toml_value *root;
    struct agent_plugin ap;
    struct alumet_pipeline *p;
    struct alumet_registry *reg;
    struct p2c *b;
    bool started;
    struct alumet_buffer *buf;
    alumet_metric_id cpu, mem, other;
    struct alumet_error err;
    char dump[8192];
};

static int run_init(struct run *r, const char *scenario, const char *section)
{
    memset(r, 0, sizeof(*r));
    r->tmp = alumet_test_tmpdir();
    alumet_test_copy_fixture("cgroup", scenario, r->tmp);
    alumet_test_write_at(r->tmp, "proc/4244/cgroup", "0::/system.slice/app.service\n");
    alumet_test_write_at(r->tmp, "proc/4245/cgroup", "0::/other.slice\n");
    char text[2048];
    snprintf(text, sizeof(text), "[plugins.process-to-cgroup-bridge]\nproc_root = \"%s\"\n%s",
             r->tmp, section);
    void *st = NULL;
    int rc = alumet_test_plugin_init(&alumet_plugin_process_to_cgroup_bridge, text, &r->root, &st,
                                     &r->err);
    r->b = st;
    return rc;
}

static int run_start(struct run *r)
{
    struct pipeline_settings ps = {0};
    r->p = alumet__pipeline_new(&ps);
    assert_non_null(r->p);
    r->reg = alumet__pipeline_registry(r->p);
    r->cpu = alumet_test_add_metric(r->reg, "cpu_time_delta", ALUMET_VALUE_U64,
                                    ALUMET_UNIT_PREFIXED(NANO, SECOND));
    r->mem = alumet_test_add_metric(r->reg, "cpu_percent", ALUMET_VALUE_F64, ALUMET_UNIT(PERCENT));
    r->other =
        alumet_test_add_metric(r->reg, "kernel_new_forks", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    r->ap.def = &alumet_plugin_process_to_cgroup_bridge;
    r->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("process-to-cgroup-bridge");
    struct alumet_start_ctx sctx = {r->p, &r->ap};
    int rc = alumet_plugin_process_to_cgroup_bridge.start(r->b, &sctx, &r->err);
    r->started = true;
    if (rc < 0)
        return rc;
    struct alumet_pre_start_ctx pctx = {r->p};
    rc = alumet_plugin_process_to_cgroup_bridge.pre_pipeline_start(r->b, &pctx, &r->err);
    r->buf = alumet__buffer_new(16);
    assert_non_null(r->buf);
    return rc;
}

static void run_done(struct run *r)
{
    struct alumet_error err = {0};
    if (r->started)
        assert_int_equal(alumet_plugin_process_to_cgroup_bridge.stop(r->b, &err), 0);
    alumet__pipeline_free(r->p);
    alumet_plugin_process_to_cgroup_bridge.free(r->b);
    alumet__buffer_free(r->buf);
    toml_free(r->root);
    alumet_test_rmtree(r->tmp);
}

static void push(struct run *r, alumet_metric_id m, uint32_t pid, alumet_time_ns ts, double v)
{
    struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, pid, NULL, NULL};
    if (pid == 0)
        c.kind = ALUMET_CONSUMER_LOCAL_MACHINE;
    struct alumet_point *p =
        m == r->mem
            ? alumet_buffer_push_f64(r->buf, ts, m, &alumet_test_local_resource, &c, v)
            : alumet_buffer_push_u64(r->buf, ts, m, &alumet_test_local_resource, &c, (uint64_t)v);
    assert_non_null(p);
    if (m == r->cpu)
        alumet_test_add_str(r->buf, p, "kind", "total");
}

/* Apply, then write the points in order, one line each:
 * "metric consumer [attrs] value @ms". */
static const char *apply(struct run *r)
{
    struct alumet_error err = {0};
    int rc = p2c_transform_ops.apply(r->b->running, r->buf, r->reg, &err);
    if (rc != 0)
        print_error("apply: %d %s\n", rc, err.msg);
    assert_int_equal(rc, 0);
    r->dump[0] = '\0';
    for (size_t i = 0; i < alumet_buffer_len(r->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(r->buf, i);
        const struct alumet_metric *m = alumet_registry_get(r->reg, p->metric);
        char who[256], attrs[128] = "", val[64];
        if (p->consumer.kind == ALUMET_CONSUMER_PROCESS)
            snprintf(who, sizeof(who), "process:%u", p->consumer.num);
        else if (p->consumer.kind == ALUMET_CONSUMER_CGROUP)
            snprintf(who, sizeof(who), "cgroup:%s", p->consumer.str);
        else
            snprintf(who, sizeof(who), "machine");
        if (p->attr_count)
            snprintf(attrs, sizeof(attrs), " %s=%s", alumet_point_attrs(r->buf, p)->key,
                     alumet_point_attrs(r->buf, p)->v.str);
        if (p->value_type == ALUMET_VALUE_U64)
            snprintf(val, sizeof(val), "%llu", (unsigned long long)p->value.u64);
        else
            snprintf(val, sizeof(val), "%g f", p->value.f64);
        size_t len = strlen(r->dump);
        snprintf(r->dump + len, sizeof(r->dump) - len, "%s %s%s %s @%lld\n", m->name, who, attrs,
                 val, (long long)((p->timestamp - T0) / MS));
    }
    return r->dump;
}

static void expect_dump(const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "expected:\n%s\ngot:\n%s\n", want, got);
        fail();
    }
}

static void test_config(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, "v2", "processes_metrics = [\"cpu_time_delta\"]\n"), -EINVAL);
    assert_non_null(strstr(r.err.msg, "missing field 'merge_similar_cgroups'"));
    run_done(&r);
    assert_int_equal(run_init(&r, "v2",
                              "processes_metrics = []\nmerge_similar_cgroups = true\n"
                              "keep_processed_measurements = true\n"),
                     -EINVAL);
    assert_non_null(strstr(r.err.msg, "processes_metrics: expected at least one metric name"));
    run_done(&r);
    /* a metric that no plugin registers stops the startup */
    assert_int_equal(run_init(&r, "v2",
                              "processes_metrics = [\"some_metric_to_bridge\"]\n"
                              "merge_similar_cgroups = true\nkeep_processed_measurements = true\n"),
                     0);
    assert_int_equal(run_start(&r), -ENOENT);
    assert_non_null(strstr(r.err.msg, "metric not found: 'some_metric_to_bridge'"));
    run_done(&r);

    void *st = NULL;
    struct toml_value *root = NULL;
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_process_to_cgroup_bridge,
                                             alumet_plugin_process_to_cgroup_bridge.default_config,
                                             &root, &st, &r.err),
                     0);
    assert_int_equal(((struct p2c *)st)->n_names, 2);
    alumet_plugin_process_to_cgroup_bridge.free(st);
    toml_free(root);
}

static void test_keep_no_merge(void **state)
{
    (void)state;
    struct run r;
    alumet_test_log_capture("info");
    assert_int_equal(
        run_init(&r, "v2",
                 "processes_metrics = [\"cpu_time_delta\", \"cpu_percent\"]\n"
                 "merge_similar_cgroups = false\nkeep_processed_measurements = true\n"),
        0);
    assert_int_equal(run_start(&r), 0);
    push(&r, r.cpu, 4242, T0, 10);
    push(&r, r.mem, 4242, T0, 2.5);
    push(&r, r.other, 0, T0, 3);
    push(&r, r.cpu, 4243, T0, 5);   /* gone: kept, no copy, one warning */
    push(&r, r.other, 4242, T0, 4); /* not a listed metric */
    push(&r, r.cpu, 4244, T0, 21);
    expect_dump(apply(&r), "cpu_time_delta process:4242 kind=total 10 @0\n"
                           "cpu_percent process:4242 2.5 f @0\n"
                           "kernel_new_forks machine 3 @0\n"
                           "cpu_time_delta process:4243 kind=total 5 @0\n"
                           "kernel_new_forks process:4242 4 @0\n"
                           "cpu_time_delta process:4244 kind=total 21 @0\n"
                           "cpu_time_delta cgroup:/system.slice/app.service kind=total 10 @0\n"
                           "cpu_percent cgroup:/system.slice/app.service 2.5 f @0\n"
                           "cpu_time_delta cgroup:/system.slice/app.service kind=total 21 @0\n");
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "cannot find the cgroup of process 4243 (No such "
                                           "process), its point is kept as is",
                                           NULL),
                     1);
    run_done(&r);
    alumet_test_log_release();
}

static void test_merge_drop(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(
        run_init(&r, "v2",
                 "processes_metrics = [\"cpu_time_delta\", \"cpu_percent\"]\n"
                 "merge_similar_cgroups = true\nkeep_processed_measurements = false\n"),
        0);
    assert_int_equal(run_start(&r), 0);
    push(&r, r.cpu, 4242, T0, 10);
    push(&r, r.other, 0, T0, 3);
    push(&r, r.cpu, 4245, T0, 7);
    push(&r, r.cpu, 4244, T0 + MS / 2, 21); /* same millisecond as 4242 */
    push(&r, r.mem, 4242, T0, 2.5);
    push(&r, r.mem, 4244, T0, 4.0);
    push(&r, r.cpu, 4242, T0 + MS, 100); /* the next millisecond: another group */
    /* U64 stays U64: the mean of 10 and 21 is 15.5, rounded to 16 */
    expect_dump(apply(&r), "kernel_new_forks machine 3 @0\n"
                           "cpu_time_delta cgroup:/system.slice/app.service kind=total 16 @0\n"
                           "cpu_time_delta cgroup:/other.slice kind=total 7 @0\n"
                           "cpu_percent cgroup:/system.slice/app.service 3.25 f @0\n"
                           "cpu_time_delta cgroup:/system.slice/app.service kind=total 100 @1\n");
    run_done(&r);
}

static void test_hybrid_prefers_v2(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(
        run_init(&r, "hybrid",
                 "processes_metrics = [\"cpu_time_delta\"]\n"
                 "merge_similar_cgroups = true\nkeep_processed_measurements = false\n"),
        0);
    assert_int_equal(run_start(&r), 0);
    push(&r, r.cpu, 4242, T0, 10);
    expect_dump(apply(&r), "cpu_time_delta cgroup:/user.slice kind=total 10 @0\n");
    run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_keep_no_merge),
        cmocka_unit_test(test_merge_drop),
        cmocka_unit_test(test_hybrid_prefers_v2),
    };
    return alumet_run_tests(tests);
}
