/* SPDX-License-Identifier: MIT */
/* Tests of the k8s plugin's options and of its source polled directly on the
 * fixture tree tests/fixtures/cgroup/k8s-v2 (copied into a temp dir), with
 * no API server listening (k8s_api_url on a closed port): the warning, and
 * the points of the pods labelled with uid and node, CPU deltas from
 * counters rewritten between two polls. Expected values worked out by hand
 * from the fixture (README there) and the rewrites. */
#include <errno.h>

#include "alumet-test-plugin.h"
#include "core/buffer.h"
#include "k8s.h"

extern const struct alumet_plugin alumet_plugin_k8s;

#define SEC ALUMET_NSEC_PER_SEC
#define T0 ((alumet_time_ns)1700000000 * SEC)
#define UID1 "5f32d849-6210-4886-a48d-e0d90e1d0206"
#define UID2 "0c3f7d6e-1b2a-4c5d-9e8f-a1b2c3d4e5f6"
#define POD1                                                                                       \
    "/kubepods.slice/kubepods-burstable.slice/"                                                    \
    "kubepods-burstable-pod5f32d849_6210_4886_a48d_e0d90e1d0206.slice"
#define POD2                                                                                       \
    "/kubepods.slice/kubepods-besteffort.slice/"                                                   \
    "kubepods-besteffort-pod0c3f7d6e_1b2a_4c5d_9e8f_a1b2c3d4e5f6.slice"

struct env {
    char *tmp;
    struct toml_value *root;
    struct k8s *k;
    struct alumet_pipeline *p;
    struct agent_plugin ap;
    struct alumet_buffer *buf;
    alumet_time_ns mono, now;
    char dump[16384];
};

static alumet_time_ns env_clock(void *data)
{
    return *(const alumet_time_ns *)data;
}

static int env_init(struct env *e, const char *section, struct alumet_error *err)
{
    memset(e, 0, sizeof(*e));
    e->tmp = alumet_test_tmpdir();
    alumet_test_copy_fixture("cgroup", "k8s-v2", e->tmp);
    e->mono = 1000 * SEC;
    e->now = T0;
    char text[4096];
    int n = snprintf(text, sizeof(text),
                     "[plugins.k8s]\nproc_root = \"%s\"\nsys_root = \"%s\"\n"
                     "k8s_api_url = \"http://127.0.0.1:1\"\n%s",
                     e->tmp, e->tmp, section);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    void *state = NULL;
    int r = alumet_test_plugin_init(&alumet_plugin_k8s, text, &e->root, &state, err);
    e->k = state;
    if (r == 0) {
        e->k->cg.clock = env_clock;
        e->k->cg.clock_data = &e->mono;
    }
    return r;
}

static void env_done(struct env *e)
{
    struct alumet_error err = {0};
    if (e->p) {
        alumet__pipeline_free(e->p);
        assert_int_equal(alumet_plugin_k8s.stop(e->k, &err), 0);
    }
    if (e->k)
        alumet_plugin_k8s.free(e->k);
    toml_free(e->root);
    if (e->buf)
        alumet__buffer_free(e->buf);
    alumet_test_rmtree(e->tmp);
    alumet_test_log_release();
}

/* init must fail with a message that contains `msg`. */
static void expect_config_error(const char *section, const char *msg)
{
    struct env e;
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    assert_int_equal(env_init(&e, section, &err), -EINVAL);
    if (!strstr(err.msg, msg))
        fail_msg("expected '%s' in: %s", msg, err.msg);
    env_done(&e);
}

static void test_config(void **state)
{
    (void)state;
    expect_config_error("poll_interval = \"1s\"\ndisable_sources = false\n"
                        "annotate_containers = false\n",
                        "plugins.k8s.token_retrieval: missing field 'token_retrieval' (required "
                        "when [plugins.k8s] is present)");
    expect_config_error("poll_interval = \"1s\"\ndisable_sources = false\n"
                        "annotate_containers = false\ntoken_retrieval = \"vault\"\n",
                        "plugins.k8s.token_retrieval: expected \"auto\", \"file\", \"kubectl\", "
                        "{ file = \"/path\" } or { kubectl = { ... } }, got \"vault\"");
    expect_config_error("poll_interval = \"1s\"\ndisable_sources = false\n"
                        "annotate_containers = false\n"
                        "token_retrieval = { file = \"/t\", kubectl = {} }\n",
                        "plugins.k8s.token_retrieval: expected exactly one of 'file' or "
                        "'kubectl'");
    expect_config_error("poll_interval = \"1s\"\ndisable_sources = false\n"
                        "token_retrieval = \"file\"\n",
                        "missing field 'annotate_containers'");
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Poll, then write the points into e->dump, one sorted line each:
 * "metric consumer k=v,k=v value" (F64 with %.15g). */
static const char *env_poll(struct env *e)
{
    struct alumet_error err = {0};
    alumet__buffer_clear(e->buf);
    int r = cgroups_source_ops.poll(e->k->cg.source, e->buf, e->now, &err);
    if (r != ALUMET_POLL_OK)
        fail_msg("poll: %d %s", r, err.msg);
    size_t n = alumet_buffer_len(e->buf);
    char **lines = calloc(n + 1, sizeof(*lines));
    assert_non_null(lines);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        const struct alumet_metric *m =
            alumet_registry_get(alumet_pipeline_registry(e->p), p->metric);
        assert_non_null(m);
        assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_CGROUP);
        assert_int_equal(p->resource.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
        char attrs[512] = "", line[1024];
        const struct alumet_attr *a = alumet_point_attrs(e->buf, p);
        for (uint32_t j = 0; j < p->attr_count; j++) {
            size_t len = strlen(attrs);
            snprintf(attrs + len, sizeof(attrs) - len, "%s%s=%s", j ? "," : "", a[j].key,
                     a[j].v.str);
        }
        if (p->value_type == ALUMET_VALUE_U64)
            snprintf(line, sizeof(line), "%s %s %s %llu", m->name, p->consumer.str, attrs,
                     (unsigned long long)p->value.u64);
        else
            snprintf(line, sizeof(line), "%s %s %s %.15g", m->name, p->consumer.str, attrs,
                     p->value.f64);
        assert_non_null(lines[i] = strdup(line));
    }
    qsort(lines, n, sizeof(*lines), cmp_lines);
    e->dump[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(e->dump);
        snprintf(e->dump + len, sizeof(e->dump) - len, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return e->dump;
}

static void expect_dump(const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "expected:\n%s\ngot:\n%s\n", want, got);
        fail();
    }
}

#define L1 "uid=" UID1 ",node=n1"
#define L2 "uid=" UID2 ",node=n1"

static void test_source_api_down(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    int r = env_init(&e,
                     "poll_interval = \"1s\"\ndisable_sources = false\nk8s_node = \"n1\"\n"
                     "token_retrieval = { file = \"/nonexistent/token\" }\n"
                     "annotate_containers = false\n",
                     &err);
    if (r < 0)
        fail_msg("init: %s", err.msg);
    struct pipeline_settings s = {0};
    assert_non_null(e.p = alumet__pipeline_new(&s));
    e.ap.def = &alumet_plugin_k8s;
    e.ap.enabled = true;
    e.ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("k8s");
    struct alumet_start_ctx ctx = {e.p, &e.ap};
    r = alumet_plugin_k8s.start(e.k, &ctx, &err);
    if (r < 0)
        fail_msg("start: %s", err.msg);
    assert_non_null(e.buf = alumet__buffer_new(0));
    assert_non_null(e.k->cg.source);
    assert_string_equal(alumet_test_log_find("failed to list pods"),
                        "failed to list pods with the K8S API, are the url and token correct? "
                        "cannot read the token file '/nonexistent/token': No such file or "
                        "directory. The pods are measured and labelled with their uid (from the "
                        "cgroup path) and node only until the API answers");

    /* 1st poll: no CPU point yet (no baseline) */
    expect_dump(env_poll(&e), "memory_max " POD2 " " L2 " -1\n"
                              "memory_max " POD1 " " L1 " 8388608\n"
                              "memory_usage " POD2 " " L2 " 2097152\n"
                              "memory_usage " POD1 " " L1 " 1048576\n");
    assert_int_equal(cgroups_source_count(e.k->cg.source), 2);

    /* 1 s later POD1 used 2000 µs (user 1000, system 1000) of 4 CPUs */
    alumet_test_write_at(e.tmp, "sys/fs/cgroup" POD1 "/cpu.stat",
                         "usage_usec 3000\nuser_usec 1600\nsystem_usec 1400\n");
    alumet_test_write_at(e.tmp, "sys/fs/cgroup" POD1 "/memory.current", "1050000\n");
    e.mono += SEC;
    e.now += SEC;
    expect_dump(env_poll(&e), "cpu_percent " POD2 " " L2 ",kind=system 0\n"
                              "cpu_percent " POD2 " " L2 ",kind=total 0\n"
                              "cpu_percent " POD2 " " L2 ",kind=user 0\n"
                              "cpu_percent " POD1 " " L1 ",kind=system 0.025\n"
                              "cpu_percent " POD1 " " L1 ",kind=total 0.05\n"
                              "cpu_percent " POD1 " " L1 ",kind=user 0.025\n"
                              "cpu_time_delta " POD2 " " L2 ",kind=system 0\n"
                              "cpu_time_delta " POD2 " " L2 ",kind=total 0\n"
                              "cpu_time_delta " POD2 " " L2 ",kind=user 0\n"
                              "cpu_time_delta " POD1 " " L1 ",kind=system 1000000\n"
                              "cpu_time_delta " POD1 " " L1 ",kind=total 2000000\n"
                              "cpu_time_delta " POD1 " " L1 ",kind=user 1000000\n"
                              "memory_max " POD2 " " L2 " -1\n"
                              "memory_max " POD1 " " L1 " 8388608\n"
                              "memory_usage " POD2 " " L2 " 2097152\n"
                              "memory_usage " POD1 " " L1 " 1050000\n");

    /* the pod goes away: its series ends with one line */
    char path[4096];
    snprintf(path, sizeof(path), "%s/sys/fs/cgroup" POD2, e.tmp);
    assert_int_equal(alumet_test_remove_tree(path), 0);
    e.mono += SEC;
    e.now += SEC;
    env_poll(&e);
    assert_null(strstr(e.dump, POD2));
    assert_int_equal(cgroups_source_count(e.k->cg.source), 1);
    assert_string_equal(alumet_test_log_find("was removed"),
                        "cgroup '" POD2 "' of pod " UID2 " was removed, its measurement ends");
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_source_api_down),
    };
    return alumet_run_tests(tests);
}
