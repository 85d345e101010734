/* SPDX-License-Identifier: MIT */
/* Tests of the oar plugin on cgroup trees written by the tests: OAR 3 on
 * cgroup v2 (/sys/fs/cgroup/oar.slice/oar-u<uid>.slice/oar-u<uid>-j<id>)
 * and OAR 2 on cgroup v1 (/sys/fs/cgroup/<controller>/oar/<user>_<id>).
 * The plugin is started on the tree (proc_root = sys_root = the tree) into
 * a pipeline that is never run; its source is polled and its transform
 * applied directly. The expected points are written out in full. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "alumet/transform.h"
#include "cgroups-test-env.h"

extern const struct alumet_plugin alumet_plugin_oar;
extern const struct alumet_transform_ops oar_job_info_attacher_ops;

/* OAR 3 on cgroup v2: jobs 42 of uid 0 and 7 of uid 4294967295 (a uid
 * that no user has), a cgroup below job 42 (not a job), a slice that is
 * not a job and a cgroup outside OAR. memory.current names each. */
#define OAR3 "sys/fs/cgroup/oar.slice"
static void tree_v2(const char *dir)
{
    alumet_test_write_at(dir, "proc/self/mountinfo", CGTEST_V2_MOUNT);
    alumet_test_write_at(dir, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    alumet_test_write_at(dir, "sys/devices/system/cpu/online", "0-3\n");
    alumet_test_write_at(dir, OAR3 "/oar-u0.slice/oar-u0-j42/memory.current", "4200\n");
    alumet_test_write_at(dir, OAR3 "/oar-u0.slice/oar-u0-j42/sub/memory.current", "4210\n");
    alumet_test_write_at(dir, OAR3 "/oar-u4294967295.slice/oar-u4294967295-j7.slice/memory.current",
                         "700\n");
    alumet_test_write_at(dir, OAR3 "/oar-u0.slice/memory.current", "100\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/system.slice/ssh.service/memory.current", "5000\n");
}

/* OAR 2 on cgroup v1: jobs alice_42 and bob2_7 in the cpuacct and memory
 * hierarchies, and the oar cgroup itself. */
static void tree_v1(const char *dir)
{
    alumet_test_write_at(dir, "proc/self/mountinfo", CGTEST_V1_MOUNTS);
    alumet_test_write_at(dir, "sys/devices/system/cpu/online", "0-1\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/release_agent", "");
    alumet_test_write_at(dir, "sys/fs/cgroup/memory/release_agent", "");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/oar/cpuacct.usage", "9000000000\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/oar/alice_42/cpuacct.usage",
                         "1000000000\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/oar/bob2_7/cpuacct.usage", "500000000\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/memory/oar/alice_42/memory.usage_in_bytes", "8192\n");
}

static const struct cgtest_plugin plugin = {&alumet_plugin_oar, "oar", cgtest_family_head,
                                            cgtest_line_attrs};

static void env_setup(struct cgtest_env *e, void (*tree)(const char *), const char *section)
{
    alumet_test_log_capture("debug");
    cgtest_setup(e, &plugin, &(struct cgtest_setup){.tree = tree}, section);
}

#define SECTION(version, jobs_only)                                                                \
    "poll_interval = \"5s\"\ndisable_sources = false\noar_version = \"" version                    \
    "\"\njobs_only = " jobs_only "\n"

#define J42 "/oar.slice/oar-u0.slice/oar-u0-j42"
#define J7 "/oar.slice/oar-u4294967295.slice/oar-u4294967295-j7.slice"

/* Apply the transform to a point without job_id and one with; dump both. */
static const char *apply_transform(struct cgtest_env *e)
{
    struct alumet_error err = {0};
    static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    struct alumet_consumer none = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    alumet__buffer_clear(e->buf);
    const struct cgroups_metrics *m = &e->cg->m;
    assert_non_null(alumet_buffer_push_u64(e->buf, e->now, m->memory_usage, &res, &none, 1));
    struct alumet_point *p =
        alumet_buffer_push_u64(e->buf, e->now, m->memory_usage, &res, &none, 2);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_u64(e->buf, p, "job_id", 42), 0);
    assert_int_equal(oar_job_info_attacher_ops.apply(e->state, e->buf, NULL, &err), 0);
    static char out[512];
    out[0] = '\0';
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_point *q = alumet_buffer_get(e->buf, i);
        const struct alumet_attr *a = alumet_point_attrs(e->buf, q);
        size_t len = strlen(out);
        snprintf(out + len, sizeof(out) - len, "%llu:", (unsigned long long)q->value.u64);
        for (size_t k = 0; k < q->attr_count; k++) {
            len = strlen(out);
            snprintf(out + len, sizeof(out) - len, " %s", a[k].key);
            for (size_t j = 0; a[k].type == ALUMET_ATTR_LIST_U64 && j < a[k].v.list.len; j++) {
                len = strlen(out);
                snprintf(out + len, sizeof(out) - len, "%s%llu", j ? "," : "=",
                         (unsigned long long)a[k].v.list.items[j]);
            }
        }
        len = strlen(out);
        snprintf(out + len, sizeof(out) - len, "\n");
    }
    return out;
}

/* OAR 3 on v2: user_id and job_id from the path, user from the user
 * database (upstream's was always empty); the cgroup below a job is not a
 * job. The tracker follows the jobs, and the transform lists them. */
static void test_v2_oar3(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v2, SECTION("oar3", "true"));
    assert_string_equal(apply_transform(&e), "1: involved_jobs\n2: job_id\n");
    cgtest_expect_dump(cgtest_poll(&e),
                       "memory_usage " J42 " user_id=0(u64) job_id=42(u64) user=root 4200\n"
                       "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 700\n");
    assert_true(*alumet_test_log_find("cgroup '" J7 "': no user has the uid 4294967295, its points "
                                      "have no 'user' attribute"));
    assert_string_equal(apply_transform(&e), "1: involved_jobs=7,42\n2: job_id\n");

    /* job 42 ends: its cgroup (and the one below it) are removed */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sys/fs/cgroup" J42, e.tmp);
    alumet_test_remove_tree(path);
    cgtest_expect_dump(cgtest_poll(&e),
                       "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 700\n");
    assert_string_equal(apply_transform(&e), "1: involved_jobs=7\n2: job_id\n");
    cgtest_done(&e);
}

/* jobs_only = false: the other cgroups too, without attributes. */
static void test_v2_not_jobs_only(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v2, SECTION("oar2", "false"));
    cgtest_expect_dump(cgtest_poll(&e),
                       "memory_usage /oar.slice/oar-u0.slice 100\n"
                       "memory_usage " J42 " user_id=0(u64) job_id=42(u64) user=root 4200\n"
                       "memory_usage " J42 "/sub 4210\n"
                       "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 700\n"
                       "memory_usage /system.slice/ssh.service 5000\n");
    cgtest_done(&e);
}

/* OAR 2 on v1: user and job_id from the path (digits in user names are
 * fine); each hierarchy measures what its controller gives. */
static void test_v1_oar2(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v1, SECTION("oar2", "true"));
    cgtest_expect_dump(cgtest_poll(&e),
                       "memory_usage /oar/alice_42 user=alice job_id=42(u64) 8192\n");
    alumet_test_write_at(e.tmp, "sys/fs/cgroup/cpu,cpuacct/oar/alice_42/cpuacct.usage",
                         "2000000000\n");
    e.mono += 1 * CGTEST_SEC;
    e.now += 1 * CGTEST_SEC;
    cgtest_expect_dump(cgtest_poll(&e),
                       "cpu_percent /oar/alice_42 user=alice job_id=42(u64) kind=total 50\n"
                       "cpu_percent /oar/bob2_7 user=bob2 job_id=7(u64) kind=total 0\n"
                       "cpu_time_delta /oar/alice_42 user=alice job_id=42(u64) kind=total "
                       "1000000000\n"
                       "cpu_time_delta /oar/bob2_7 user=bob2 job_id=7(u64) kind=total 0\n"
                       "memory_usage /oar/alice_42 user=alice job_id=42(u64) 8192\n");
    assert_string_equal(apply_transform(&e), "1: involved_jobs=7,42\n2: job_id\n");
    cgtest_done(&e);
}

/* annotate_foreign_measurements: other plugins' points whose consumer is a
 * job's cgroup or one below it (v2 or v1 layout) gain the job's attributes
 * they lack, then the attacher leaves them alone (they have a job_id); the
 * others get involved_jobs only. */
static void test_annotation(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v2, SECTION("oar3", "true") "annotate_foreign_measurements = true\n");
    static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    static const char *const paths[] = {J42,
                                        J42 "/sub/deeper",
                                        J7,
                                        "/oar/alice_42/x",
                                        "/system.slice/ssh.service",
                                        "/oar.slice/oar-u0.slice"};
    alumet__buffer_clear(e.buf);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct alumet_consumer c = {.kind = ALUMET_CONSUMER_CGROUP, .str = paths[i]};
        struct alumet_point *p =
            alumet_buffer_push_u64(e.buf, e.now, e.cg->m.memory_usage, &res, &c, 10 + i);
        assert_non_null(p);
        if (i == 1)
            assert_int_equal(alumet_point_add_attr_str(e.buf, p, "user", "mine"), 0);
    }
    struct alumet_error err = {0};
    assert_int_equal(cgroups_annotate_ops.apply(e.cg, e.buf, NULL, &err), 0);
    assert_int_equal(oar_job_info_attacher_ops.apply(e.state, e.buf, NULL, &err), 0);
    cgtest_expect_dump(cgtest_dump(&e),
                       "memory_usage /oar.slice/oar-u0.slice involved_jobs=[] 15\n"
                       "memory_usage " J42 " user_id=0(u64) job_id=42(u64) user=root 10\n"
                       "memory_usage " J42
                       "/sub/deeper user=mine user_id=0(u64) job_id=42(u64) 11\n"
                       "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 12\n"
                       "memory_usage /oar/alice_42/x user=alice job_id=42(u64) 13\n"
                       "memory_usage /system.slice/ssh.service involved_jobs=[] 14\n");
    cgtest_done(&e);
}

static void expect_init_error(const char *section, int code, const char *msg)
{
    cgtest_expect_init_error(&plugin, NULL, section, code, msg);
}

static void test_config(void **state)
{
    (void)state;
    expect_init_error(SECTION("oar4", "true"), -EINVAL,
                      "plugins.oar.oar_version: unknown version 'oar4', expected \"oar2\" or "
                      "\"oar3\"");
    expect_init_error("poll_interval = \"5s\"\ndisable_sources = false\noar_version = \"oar3\"\n",
                      -EINVAL,
                      "plugins.oar.jobs_only: missing field 'jobs_only' (required when "
                      "[plugins.oar] is present)");
    void *st = NULL;
    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_oar, alumet_plugin_oar.default_config,
                                             &root, &st, &err),
                     0);
    assert_int_equal(cgtest_family_head(st)->poll_interval, 5 * CGTEST_SEC);
    alumet_plugin_oar.free(st);
    toml_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),           cmocka_unit_test(test_v2_oar3),
        cmocka_unit_test(test_v2_not_jobs_only), cmocka_unit_test(test_v1_oar2),
        cmocka_unit_test(test_annotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
