/* SPDX-License-Identifier: MIT */
/* Tests of the k8s plugin's options and of its source polled directly on the
 * fixture tree tests/fixtures/cgroup/k8s-v2 (copied into a temp dir), with
 * no API server listening (k8s_api_url on a closed port): the warning, and
 * the points of the pods labelled with uid and node, CPU deltas from
 * counters rewritten between two polls. Expected values worked out by hand
 * from the fixture (README there) and the rewrites. */
#include <errno.h>

#include "cgroups-test-env.h"
#include "k8s.h"

extern const struct alumet_plugin alumet_plugin_k8s;

#define UID1 "5f32d849-6210-4886-a48d-e0d90e1d0206"
#define UID2 "0c3f7d6e-1b2a-4c5d-9e8f-a1b2c3d4e5f6"
#define POD1                                                                                       \
    "/kubepods.slice/kubepods-burstable.slice/"                                                    \
    "kubepods-burstable-pod5f32d849_6210_4886_a48d_e0d90e1d0206.slice"
#define POD2                                                                                       \
    "/kubepods.slice/kubepods-besteffort.slice/"                                                   \
    "kubepods-besteffort-pod0c3f7d6e_1b2a_4c5d_9e8f_a1b2c3d4e5f6.slice"

/* "metric consumer k=v,k=v value" (F64 with %.15g); every point is the
 * local machine's. */
static void line_of(const struct cgtest_env *e, const struct alumet_point *p, const char *name,
                    char *line, size_t size)
{
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
    char attrs[512] = "";
    const struct alumet_attr *a = alumet_point_attrs(e->buf, p);
    for (uint32_t j = 0; j < p->attr_count; j++) {
        size_t len = strlen(attrs);
        snprintf(attrs + len, sizeof(attrs) - len, "%s%s=%s", j ? "," : "", a[j].key, a[j].v.str);
    }
    if (p->value_type == ALUMET_VALUE_U64)
        snprintf(line, size, "%s %s %s %llu", name, p->consumer.str, attrs,
                 (unsigned long long)p->value.u64);
    else
        snprintf(line, size, "%s %s %s %.15g", name, p->consumer.str, attrs, p->value.f64);
}

/* The engine is a member of the state. */
static struct cgroups *family(void *state)
{
    return &((struct k8s *)state)->cg;
}

static const struct cgtest_plugin plugin = {&alumet_plugin_k8s, "k8s", family, line_of};

/* On the fixture k8s-v2, with no API server listening. */
static int env_init(struct cgtest_env *e, const char *section, struct alumet_error *err)
{
    return cgtest_init(e, &plugin,
                       &(struct cgtest_setup){.fixture = "k8s-v2",
                                              .extra = "k8s_api_url = \"http://127.0.0.1:1\"\n"},
                       section, err);
}

/* init must fail with a message that contains `msg`. */
static void expect_config_error(const char *section, const char *msg)
{
    struct cgtest_env e;
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    assert_int_equal(env_init(&e, section, &err), -EINVAL);
    if (!strstr(err.msg, msg))
        fail_msg("expected '%s' in: %s", msg, err.msg);
    cgtest_done(&e);
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

#define L1 "uid=" UID1 ",node=n1"
#define L2 "uid=" UID2 ",node=n1"

static void test_source_api_down(void **state)
{
    (void)state;
    struct cgtest_env e;
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    int r = env_init(&e,
                     "poll_interval = \"1s\"\ndisable_sources = false\nk8s_node = \"n1\"\n"
                     "token_retrieval = { file = \"/nonexistent/token\" }\n"
                     "annotate_containers = false\n",
                     &err);
    if (r < 0)
        fail_msg("init: %s", err.msg);
    cgtest_start(&e);
    assert_non_null(e.cg->source);
    assert_string_equal(alumet_test_log_find("failed to list pods"),
                        "failed to list pods with the K8S API, are the url and token correct? "
                        "cannot read the token file '/nonexistent/token': No such file or "
                        "directory. The pods are measured and labelled with their uid (from the "
                        "cgroup path) and node only until the API answers");

    /* 1st poll: no CPU point yet (no baseline) */
    cgtest_expect_dump(cgtest_poll(&e), "memory_max " POD2 " " L2 " -1\n"
                                        "memory_max " POD1 " " L1 " 8388608\n"
                                        "memory_usage " POD2 " " L2 " 2097152\n"
                                        "memory_usage " POD1 " " L1 " 1048576\n");
    assert_int_equal(cgroups_source_count(e.cg->source), 2);

    /* 1 s later POD1 used 2000 µs (user 1000, system 1000) of 4 CPUs */
    alumet_test_write_at(e.tmp, "sys/fs/cgroup" POD1 "/cpu.stat",
                         "usage_usec 3000\nuser_usec 1600\nsystem_usec 1400\n");
    alumet_test_write_at(e.tmp, "sys/fs/cgroup" POD1 "/memory.current", "1050000\n");
    e.mono += CGTEST_SEC;
    e.now += CGTEST_SEC;
    cgtest_expect_dump(cgtest_poll(&e), "cpu_percent " POD2 " " L2 ",kind=system 0\n"
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
    e.mono += CGTEST_SEC;
    e.now += CGTEST_SEC;
    cgtest_poll(&e);
    assert_null(strstr(e.dump, POD2));
    assert_int_equal(cgroups_source_count(e.cg->source), 1);
    assert_string_equal(alumet_test_log_find("was removed"),
                        "cgroup '" POD2 "' of pod " UID2 " was removed, its measurement ends");
    cgtest_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_source_api_down),
    };
    return alumet_run_tests(tests);
}
