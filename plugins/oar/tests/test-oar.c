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

#include "alumet-test-plugin.h"
#include "alumet/transform.h"
#include "cgroups.h"
#include "core/buffer.h"

extern const struct alumet_plugin alumet_plugin_oar;
extern const struct alumet_transform_ops oar_job_info_attacher_ops;

#define SEC ALUMET_NSEC_PER_SEC
#define T0 ((alumet_time_ns)1700000000 * SEC)

/* The state of the plugin starts with its struct cgroups pointer. */
struct oar_head {
    struct cgroups *cg;
};

struct env {
    char *tmp;
    struct toml_value *root;
    void *state;
    struct cgroups *cg;
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

#define V2_MOUNT                                                                                   \
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "      \
    "rw,nsdelegate\n"
#define V1_MOUNTS                                                                                  \
    "24 18 0:20 / /sys/fs/cgroup ro,nosuid shared:4 - tmpfs tmpfs ro,mode=755\n"                   \
    "28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,relatime shared:8 - cgroup cgroup "         \
    "rw,cpu,cpuacct\n"                                                                             \
    "29 24 0:25 / /sys/fs/cgroup/memory rw,nosuid,relatime shared:9 - cgroup cgroup rw,memory\n"

/* OAR 3 on cgroup v2: jobs 42 of uid 0 and 7 of uid 4294967295 (a uid
 * that no user has), a cgroup below job 42 (not a job), a slice that is
 * not a job and a cgroup outside OAR. memory.current names each. */
#define OAR3 "sys/fs/cgroup/oar.slice"
static void tree_v2(const char *dir)
{
    alumet_test_write_at(dir, "proc/self/mountinfo", V2_MOUNT);
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
    alumet_test_write_at(dir, "proc/self/mountinfo", V1_MOUNTS);
    alumet_test_write_at(dir, "sys/devices/system/cpu/online", "0-1\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/release_agent", "");
    alumet_test_write_at(dir, "sys/fs/cgroup/memory/release_agent", "");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/oar/cpuacct.usage", "9000000000\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/oar/alice_42/cpuacct.usage",
                         "1000000000\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/oar/bob2_7/cpuacct.usage", "500000000\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/memory/oar/alice_42/memory.usage_in_bytes", "8192\n");
}

static int env_init(struct env *e, void (*tree)(const char *), const char *section,
                    struct alumet_error *err)
{
    memset(e, 0, sizeof(*e));
    e->tmp = alumet_test_tmpdir();
    if (tree)
        tree(e->tmp);
    e->mono = 1000 * SEC;
    e->now = T0;
    char text[4096];
    int n = snprintf(text, sizeof(text), "[plugins.oar]\nproc_root = \"%s\"\nsys_root = \"%s\"\n%s",
                     e->tmp, e->tmp, section);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    int r = alumet_test_plugin_init(&alumet_plugin_oar, text, &e->root, &e->state, err);
    if (r == 0) {
        e->cg = ((struct oar_head *)e->state)->cg;
        e->cg->clock = env_clock;
        e->cg->clock_data = &e->mono;
    }
    return r;
}

static void env_setup(struct env *e, void (*tree)(const char *), const char *section)
{
    struct alumet_error err = {0};
    alumet_test_log_capture("debug");
    int r = env_init(e, tree, section, &err);
    if (r < 0)
        print_error("init: %s\n", err.msg);
    assert_int_equal(r, 0);
    struct pipeline_settings s = {0};
    e->p = alumet__pipeline_new(&s);
    assert_non_null(e->p);
    e->ap.def = &alumet_plugin_oar;
    e->ap.enabled = true;
    e->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("oar");
    struct alumet_start_ctx ctx = {e->p, &e->ap};
    r = alumet_plugin_oar.start(e->state, &ctx, &err);
    if (r < 0)
        print_error("start: %s\n", err.msg);
    assert_int_equal(r, 0);
    e->buf = alumet__buffer_new(0);
    assert_non_null(e->buf);
}

static void env_done(struct env *e)
{
    struct alumet_error err = {0};
    if (e->p) {
        alumet__pipeline_free(e->p);
        assert_int_equal(alumet_plugin_oar.stop(e->state, &err), 0);
    }
    alumet_plugin_oar.free(e->state);
    toml_free(e->root);
    alumet__buffer_free(e->buf);
    alumet_test_rmtree(e->tmp);
    alumet_test_log_release();
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *env_dump(struct env *e);

/* Poll, then write the points into e->dump, one sorted line each:
 * "metric consumer_path [key=value ...] value", attributes in their order. */
static const char *env_poll(struct env *e)
{
    struct alumet_error err = {0};
    alumet__buffer_clear(e->buf);
    assert_non_null(e->cg->source);
    int r = cgroups_source_ops.poll(e->cg->source, e->buf, e->now, &err);
    if (r != ALUMET_POLL_OK)
        print_error("poll: %d %s\n", r, err.msg);
    assert_int_equal(r, ALUMET_POLL_OK);
    return env_dump(e);
}

/* The points of e->buf into e->dump, one sorted line each. */
static const char *env_dump(struct env *e)
{
    size_t n = alumet_buffer_len(e->buf);
    char **lines = calloc(n + 1, sizeof(*lines));
    assert_non_null(lines);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        const struct alumet_metric *m =
            alumet_registry_get(alumet_pipeline_registry(e->p), p->metric);
        assert_non_null(m);
        assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_CGROUP);
        char attrs[512] = "";
        const struct alumet_attr *a = alumet_point_attrs(e->buf, p);
        for (size_t k = 0; k < p->attr_count; k++) {
            size_t len = strlen(attrs);
            if (a[k].type == ALUMET_ATTR_LIST_U64) {
                snprintf(attrs + len, sizeof(attrs) - len, " %s=[", a[k].key);
                for (size_t j = 0; j < a[k].v.list.len; j++) {
                    len = strlen(attrs);
                    snprintf(attrs + len, sizeof(attrs) - len, "%s%llu", j ? "," : "",
                             (unsigned long long)a[k].v.list.items[j]);
                }
                len = strlen(attrs);
                snprintf(attrs + len, sizeof(attrs) - len, "]");
            } else if (a[k].type == ALUMET_ATTR_U64)
                snprintf(attrs + len, sizeof(attrs) - len, " %s=%llu(u64)", a[k].key,
                         (unsigned long long)a[k].v.u64);
            else
                snprintf(attrs + len, sizeof(attrs) - len, " %s=%s", a[k].key, a[k].v.str);
        }
        char line[1024];
        if (p->value_type == ALUMET_VALUE_U64)
            snprintf(line, sizeof(line), "%s %s%s %llu", m->name, p->consumer.str, attrs,
                     (unsigned long long)p->value.u64);
        else
            snprintf(line, sizeof(line), "%s %s%s %g", m->name, p->consumer.str, attrs,
                     p->value.f64);
        lines[i] = strdup(line);
        assert_non_null(lines[i]);
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

#define SECTION(version, jobs_only)                                                                \
    "poll_interval = \"5s\"\ndisable_sources = false\noar_version = \"" version                    \
    "\"\njobs_only = " jobs_only "\n"

#define J42 "/oar.slice/oar-u0.slice/oar-u0-j42"
#define J7 "/oar.slice/oar-u4294967295.slice/oar-u4294967295-j7.slice"

/* Apply the transform to a point without job_id and one with; dump both. */
static const char *apply_transform(struct env *e)
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
    struct env e;
    env_setup(&e, tree_v2, SECTION("oar3", "true"));
    assert_string_equal(apply_transform(&e), "1: involved_jobs\n2: job_id\n");
    expect_dump(env_poll(&e), "memory_usage " J42 " user_id=0(u64) job_id=42(u64) user=root 4200\n"
                              "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 700\n");
    assert_true(*alumet_test_log_find("cgroup '" J7 "': no user has the uid 4294967295, its points "
                                      "have no 'user' attribute"));
    assert_string_equal(apply_transform(&e), "1: involved_jobs=7,42\n2: job_id\n");

    /* job 42 ends: its cgroup (and the one below it) are removed */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sys/fs/cgroup" J42, e.tmp);
    alumet_test_remove_tree(path);
    expect_dump(env_poll(&e), "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 700\n");
    assert_string_equal(apply_transform(&e), "1: involved_jobs=7\n2: job_id\n");
    env_done(&e);
}

/* jobs_only = false: the other cgroups too, without attributes. */
static void test_v2_not_jobs_only(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, tree_v2, SECTION("oar2", "false"));
    expect_dump(env_poll(&e), "memory_usage /oar.slice/oar-u0.slice 100\n"
                              "memory_usage " J42 " user_id=0(u64) job_id=42(u64) user=root 4200\n"
                              "memory_usage " J42 "/sub 4210\n"
                              "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 700\n"
                              "memory_usage /system.slice/ssh.service 5000\n");
    env_done(&e);
}

/* OAR 2 on v1: user and job_id from the path (digits in user names are
 * fine); each hierarchy measures what its controller gives. */
static void test_v1_oar2(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, tree_v1, SECTION("oar2", "true"));
    expect_dump(env_poll(&e), "memory_usage /oar/alice_42 user=alice job_id=42(u64) 8192\n");
    alumet_test_write_at(e.tmp, "sys/fs/cgroup/cpu,cpuacct/oar/alice_42/cpuacct.usage",
                         "2000000000\n");
    e.mono += 1 * SEC;
    e.now += 1 * SEC;
    expect_dump(env_poll(&e), "cpu_percent /oar/alice_42 user=alice job_id=42(u64) kind=total 50\n"
                              "cpu_percent /oar/bob2_7 user=bob2 job_id=7(u64) kind=total 0\n"
                              "cpu_time_delta /oar/alice_42 user=alice job_id=42(u64) kind=total "
                              "1000000000\n"
                              "cpu_time_delta /oar/bob2_7 user=bob2 job_id=7(u64) kind=total 0\n"
                              "memory_usage /oar/alice_42 user=alice job_id=42(u64) 8192\n");
    assert_string_equal(apply_transform(&e), "1: involved_jobs=7,42\n2: job_id\n");
    env_done(&e);
}

/* annotate_foreign_measurements: other plugins' points whose consumer is a
 * job's cgroup or one below it (v2 or v1 layout) gain the job's attributes
 * they lack, then the attacher leaves them alone (they have a job_id); the
 * others get involved_jobs only. */
static void test_annotation(void **state)
{
    (void)state;
    struct env e;
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
    expect_dump(env_dump(&e),
                "memory_usage /oar.slice/oar-u0.slice involved_jobs=[] 15\n"
                "memory_usage " J42 " user_id=0(u64) job_id=42(u64) user=root 10\n"
                "memory_usage " J42 "/sub/deeper user=mine user_id=0(u64) job_id=42(u64) 11\n"
                "memory_usage " J7 " user_id=4294967295(u64) job_id=7(u64) 12\n"
                "memory_usage /oar/alice_42/x user=alice job_id=42(u64) 13\n"
                "memory_usage /system.slice/ssh.service involved_jobs=[] 14\n");
    env_done(&e);
}

static void expect_init_error(const char *section, int code, const char *msg)
{
    struct env e;
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    assert_int_equal(env_init(&e, NULL, section, &err), code);
    if (!strstr(err.msg, msg)) {
        fprintf(stderr, "expected the error:\n%s\ngot:\n%s\n", msg, err.msg);
        fail();
    }
    env_done(&e);
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
    assert_int_equal(((struct oar_head *)st)->cg->poll_interval, 5 * SEC);
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
