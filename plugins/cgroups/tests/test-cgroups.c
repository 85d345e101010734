/* SPDX-License-Identifier: MIT */
/* Tests of the cgroups plugin on the fixture trees of
 * tests/fixtures/cgroup/{v2,v1,hybrid} (their READMEs say what they imitate).
 * A test copies a tree into its temp dir, starts the plugin on it
 * (proc_root = sys_root = the copy) into a pipeline that is never run, and
 * polls the source itself; between two polls it rewrites counters in place
 * (the descriptors kept open see the change, as with cgroupfs) and moves its
 * own monotonic clock. The expected points are written out in full: the
 * numbers of the fixture files and of the rewrites, converted by hand. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "alumet-test-engine.h"
#include "cgroups-test-env.h"

extern const struct alumet_plugin alumet_plugin_cgroups;

/* "metric consumer_path [k=v] value" (an integral F64 as an integer, else
 * with %g); every point is the local machine's, at the poll time, with one
 * attribute at most. */
static void line_of(const struct cgtest_env *e, const struct alumet_point *p, const char *name,
                    char *line, size_t size)
{
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
    assert_int_equal(p->timestamp, e->now);
    char attrs[128] = "";
    if (p->attr_count) {
        assert_int_equal(p->attr_count, 1);
        const struct alumet_attr *a = alumet_point_attrs(e->buf, p);
        snprintf(attrs, sizeof(attrs), " %s=%s", a->key, a->v.str);
    }
    if (p->value_type == ALUMET_VALUE_U64)
        snprintf(line, size, "%s %s%s %llu", name, p->consumer.str, attrs,
                 (unsigned long long)p->value.u64);
    else if (p->value.f64 == (double)(long long)p->value.f64)
        snprintf(line, size, "%s %s%s %lld", name, p->consumer.str, attrs, (long long)p->value.f64);
    else
        snprintf(line, size, "%s %s%s %g", name, p->consumer.str, attrs, p->value.f64);
}

/* The state of the plugin is its engine. */
static struct cgroups *family(void *state)
{
    return state;
}

static const struct cgtest_plugin plugin = {&alumet_plugin_cgroups, "cgroups", family, line_of};

static int env_init(struct cgtest_env *e, const char *scenario, const char *section,
                    struct alumet_error *err)
{
    return cgtest_init(e, &plugin, &(struct cgtest_setup){.fixture = scenario}, section, err);
}

static void env_setup(struct cgtest_env *e, const char *scenario, const char *section)
{
    alumet_test_log_capture("debug");
    cgtest_setup(e, &plugin, &(struct cgtest_setup){.fixture = scenario}, section);
}

static void expect_in(const char *got, const char *part)
{
    if (!strstr(got, part)) {
        fprintf(stderr, "expected to find:\n%s\nin:\n%s\n", part, got);
        fail();
    }
}

static void env_advance(struct cgtest_env *e, alumet_time_ns d)
{
    e->mono += d;
    e->now += d;
}

static void env_write(struct cgtest_env *e, const char *rel, const char *text)
{
    alumet_test_write_at(e->tmp, rel, text);
}

#define APP "sys/fs/cgroup/system.slice/app.service/"
#define POD                                                                                        \
    "/kubepods.slice/kubepods-besteffort.slice/"                                                   \
    "kubepods-besteffort-pod00b506dc_87ee_462c_880d_3e41d0dacd0c.slice"

static void test_config(void **state)
{
    (void)state;
    struct cgtest_env e;
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    /* upstream requires both keys when the section is present */
    assert_int_equal(env_init(&e, NULL, "poll_interval = \"1s\"\n", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.cgroups.disable_sources: missing field "
                                    "'disable_sources' (required when [plugins.cgroups] is "
                                    "present)"));
    cgtest_done(&e);
    memset(&err, 0, sizeof(err));
    assert_int_equal(env_init(&e, NULL, "poll_interval = 5\ndisable_sources = false\n", &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.cgroups.poll_interval: expected a duration"));
    cgtest_done(&e);
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        env_init(&e, NULL, "poll_interval = \"1s\"\ndisable_sources = false\npoll_intervall = 1\n",
                 &err),
        -EINVAL);
    assert_non_null(strstr(err.msg, "poll_intervall"));
    cgtest_done(&e);

    /* the default config is accepted as is */
    void *st = NULL;
    struct toml_value *root = NULL;
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_cgroups,
                                             alumet_plugin_cgroups.default_config, &root, &st,
                                             &err),
                     0);
    assert_int_equal(((struct cgroups *)st)->poll_interval, 5 * CGTEST_SEC);
    alumet_plugin_cgroups.free(st);
    toml_free(root);
}

static void test_v2_two_polls(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, "v2", "poll_interval = \"5s\"\ndisable_sources = false\n");
    assert_int_equal(e.cg->n_cpus, 4);
    /* first poll: no CPU time nor I/O pressure (they are deltas) */
    cgtest_expect_dump(cgtest_poll(&e),
                       "cgroup_memory_anonymous " POD " 6307840\n"
                       "cgroup_memory_anonymous /system.slice/app.service 6307840\n"
                       "cgroup_memory_file " POD " 1228800\n"
                       "cgroup_memory_file /system.slice/app.service 1228800\n"
                       "cgroup_memory_kernel_stack " POD " 123904\n"
                       "cgroup_memory_kernel_stack /system.slice/app.service 123904\n"
                       "cgroup_memory_pagetables " POD " 425984\n"
                       "cgroup_memory_pagetables /system.slice/app.service 425984\n"
                       "cgroup_memory_swap_current " POD " 0\n"
                       "cgroup_memory_swap_current /system.slice/app.service 0\n"
                       "cgroup_memory_swap_max " POD " -1\n"
                       "cgroup_memory_swap_max /system.slice/app.service -1\n"
                       "cgroup_pswpin " POD " 79\n"
                       "cgroup_pswpin /system.slice/app.service 79\n"
                       "cgroup_pswpout " POD " 81\n"
                       "cgroup_pswpout /system.slice/app.service 81\n"
                       "cgroup_slab_reclaimable " POD " 77824\n"
                       "cgroup_slab_reclaimable /system.slice/app.service 77824\n"
                       "memory_max " POD " 4294967296\n"
                       "memory_max /system.slice/app.service -1\n"
                       "memory_usage " POD " 1073741824\n"
                       "memory_usage /system.slice 2147483648\n"
                       "memory_usage /system.slice/app.service 1073741824\n");
    /* the intermediate kubepods slices of the fixture have no file */
    assert_int_equal(cgroups_source_count(e.cg->source), 4);

    /* 5 s later app.service used 1 s of CPU (0.75 user, 0.25 system) and
     * stalled 2000 us on I/O (some), 500 us (full); its memory grew */
    env_advance(&e, 5 * CGTEST_SEC);
    env_write(&e, APP "cpu.stat",
              "usage_usec 13849502\nuser_usec 10941064\nsystem_usec 2908438\nnr_periods 0\n");
    env_write(&e, APP "io.pressure",
              "some avg10=0.00 avg60=0.00 avg300=0.00 total=91489491\n"
              "full avg10=0.00 avg60=0.00 avg300=0.00 total=84676042\n");
    env_write(&e, APP "memory.current", "1073745920\n");
    env_write(&e, "sys/fs/cgroup/cpu.stat",
              "usage_usec 910000000\nuser_usec 606000000\nsystem_usec 304000000\n");
    const char *d = cgtest_poll(&e);
    /* 1 s of CPU in 5 s on 4 CPUs = 5 %; v2 µs are reported as ns (x1000) */
    expect_in(d, "cpu_percent /system.slice/app.service kind=system 1.25\n"
                 "cpu_percent /system.slice/app.service kind=total 5\n"
                 "cpu_percent /system.slice/app.service kind=user 3.75\n");
    expect_in(d, "cpu_time_delta /system.slice/app.service kind=system 250000000\n"
                 "cpu_time_delta /system.slice/app.service kind=total 1000000000\n"
                 "cpu_time_delta /system.slice/app.service kind=user 750000000\n");
    /* the root: 10 s of CPU in 5 s on 4 CPUs = 50 % */
    expect_in(d, "cpu_percent / kind=system 20\n"
                 "cpu_percent / kind=total 50\n"
                 "cpu_percent / kind=user 30\n"
                 "cpu_percent /kubepods.slice");
    expect_in(d, "cpu_time_delta / kind=system 4000000000\n"
                 "cpu_time_delta / kind=total 10000000000\n"
                 "cpu_time_delta / kind=user 6000000000\n");
    expect_in(d, "io_pressure_full_total /system.slice/app.service 500\n");
    expect_in(d, "io_pressure_some_total /system.slice/app.service 2000\n");
    expect_in(d, "io_pressure_some_total / 0\n");
    expect_in(d, "memory_usage /system.slice/app.service 1073745920\n");
    expect_in(d, "cpu_time_delta " POD " kind=total 0\n");
    /* 4 cgroups with cpu.stat x 6 CPU points (/, /system.slice, app.service,
     * the pod) + 3 with io.pressure x 2 + the 23 memory points of poll 1 */
    assert_int_equal(alumet_buffer_len(e.buf), 24 + 6 + 23);
    cgtest_done(&e);
}

static void test_v2_appear_and_removal(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, "v2", "poll_interval = \"1s\"\ndisable_sources = false\n");
    cgtest_poll(&e);
    /* a new cgroup (mkdir; the kernel fills it): measured from the next poll */
    env_write(&e, "sys/fs/cgroup/batch.slice/cpu.stat",
              "usage_usec 10\nuser_usec 10\nsystem_usec 0\n");
    env_write(&e, "sys/fs/cgroup/batch.slice/memory.current", "8192\n");
    env_advance(&e, CGTEST_SEC);
    const char *d = cgtest_poll(&e);
    expect_in(d, "memory_usage /batch.slice 8192\n");
    assert_int_equal(cgroups_source_count(e.cg->source), 5);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_DEBUG, "measuring cgroup '/batch.slice'", NULL), 1);

    /* removed: its series ends, with one log line */
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/sys/fs/cgroup/batch.slice", e.tmp);
    alumet_test_remove_tree(p);
    env_advance(&e, CGTEST_SEC);
    d = cgtest_poll(&e);
    assert_null(strstr(d, "/batch.slice "));
    assert_int_equal(cgroups_source_count(e.cg->source), 4);
    env_advance(&e, CGTEST_SEC);
    cgtest_poll(&e);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "cgroup '/batch.slice' was removed, "
                                           "its measurement ends",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "was removed", NULL), 1);

    /* a cgroup whose files vanish before the watch reports it (the kernel
     * answers ENODEV on its open descriptors): also ends once */
    env_write(&e, APP "cpu.stat", "");
    env_advance(&e, CGTEST_SEC);
    d = cgtest_poll(&e);
    assert_null(strstr(d, "/system.slice/app.service "));
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "was removed", NULL), 2);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    cgtest_done(&e);
}

static void test_v1(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, "v1", "poll_interval = \"10s\"\ndisable_sources = false\n");
    cgtest_expect_dump(cgtest_poll(&e), "memory_usage / 3221225472\n"
                                        "memory_usage /user.slice 536870912\n");
    /* 10 s later: user.slice used 2 s (cpuacct.usage, ns): 1.5 s user, 0.5 s system (ticks) */
    env_advance(&e, 10 * CGTEST_SEC);
    env_write(&e, "sys/fs/cgroup/cpu,cpuacct/user.slice/cpuacct.usage", "2123456789\n");
    env_write(&e, "sys/fs/cgroup/cpu,cpuacct/user.slice/cpuacct.stat", "user 160\nsystem 52\n");
    /* 2 s in 10 s on 2 CPUs = 10 % */
    cgtest_expect_dump(cgtest_poll(&e), "cpu_percent / kind=system 0\n"
                                        "cpu_percent / kind=total 0\n"
                                        "cpu_percent / kind=user 0\n"
                                        "cpu_percent /user.slice kind=system 2.5\n"
                                        "cpu_percent /user.slice kind=total 10\n"
                                        "cpu_percent /user.slice kind=user 7.5\n"
                                        "cpu_time_delta / kind=system 0\n"
                                        "cpu_time_delta / kind=total 0\n"
                                        "cpu_time_delta / kind=user 0\n"
                                        "cpu_time_delta /user.slice kind=system 500000000\n"
                                        "cpu_time_delta /user.slice kind=total 2000000000\n"
                                        "cpu_time_delta /user.slice kind=user 1500000000\n"
                                        "memory_usage / 3221225472\n"
                                        "memory_usage /user.slice 536870912\n");
    cgtest_done(&e);
}

static void test_hybrid(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, "hybrid", "poll_interval = \"1s\"\ndisable_sources = false\n");
    /* memory from the v1 memory hierarchy (the unified one has no memory controller) */
    cgtest_expect_dump(cgtest_poll(&e), "memory_usage / 3221225472\n"
                                        "memory_usage /user.slice 268435456\n");
    env_advance(&e, CGTEST_SEC);
    env_write(&e, "sys/fs/cgroup/unified/user.slice/cpu.stat",
              "usage_usec 3800000\nuser_usec 2600000\nsystem_usec 1200000\n");
    env_write(&e, "sys/fs/cgroup/cpu,cpuacct/user.slice/cpuacct.usage", "3900000000\n");
    const char *d = cgtest_poll(&e);
    /* one series per consumer: /user.slice and / are measured by the v2
     * hierarchy (cpu.stat), not a second time by cpuacct */
    expect_in(d, "cpu_time_delta /user.slice kind=total 800000000\n");
    expect_in(d, "cpu_time_delta /system.slice/cron.service kind=total 0\n");
    assert_int_equal(e.cg->n_cpus, 8);
    expect_in(d, "cpu_percent /user.slice kind=total 10\n");
    size_t n = 0;
    for (const char *p = d; (p = strstr(p, "cpu_time_delta /user.slice kind=total")); p++)
        n++;
    assert_int_equal(n, 1);
    /* v2 cgroups: /, /system.slice/cron.service, /user.slice (the fixture's
     * /system.slice has no file); v1: memory / and /user.slice */
    assert_int_equal(cgroups_source_count(e.cg->source), 5);
    cgtest_done(&e);
}

static void test_no_hierarchy_then_mounted(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, NULL, "poll_interval = \"1s\"\ndisable_sources = false\n");
    alumet_test_write_at(e.tmp, "proc/self/mountinfo", "22 28 0:21 / /proc rw - proc proc rw\n");
    cgtest_expect_dump(cgtest_poll(&e), "");
    cgtest_expect_dump(cgtest_poll(&e), "");
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "no cgroup hierarchy is mounted", NULL),
                     1);
    /* mounted later: found at the next poll */
    char src[PATH_MAX];
    snprintf(src, sizeof(src), "%s/cgroup/v2", alumet_test_fixtures());
    alumet_test_sync_tree(e.tmp, src);
    assert_non_null(strstr(cgtest_poll(&e), "memory_usage /system.slice 2147483648\n"));
    cgtest_done(&e);
}

static void test_disable_sources(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, "v2", "poll_interval = \"1s\"\ndisable_sources = true\n");
    assert_null(e.cg->source);
    assert_non_null(alumet_registry_find(alumet_pipeline_registry(e.p), "cgroup_pswpout"));
    cgtest_done(&e);
}

/* ---- container names from a (fake) engine ---- */

#define CID1 "1111111111111111111111111111111111111111111111111111111111111111"
#define CID2 "2222222222222222222222222222222222222222222222222222222222222222"
#define CID3 "3333333333333333333333333333333333333333333333333333333333333333"
#define CID4 "4444444444444444444444444444444444444444444444444444444444444444"

/* The attributes of the memory_usage point of consumer cpath, "k=v,k=v"
 * ("-" when there is no such point). */
static const char *env_attrs(struct cgtest_env *e, const char *cpath)
{
    static char out[1024];
    strcpy(out, "-");
    const struct alumet_metric *m = NULL;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        m = alumet_registry_get(alumet_pipeline_registry(e->p), p->metric);
        if (strcmp(m->name, "memory_usage") != 0 || strcmp(p->consumer.str, cpath) != 0)
            continue;
        out[0] = '\0';
        const struct alumet_attr *a = alumet_point_attrs(e->buf, p);
        for (size_t k = 0; k < p->attr_count; k++) {
            size_t len = strlen(out);
            snprintf(out + len, sizeof(out) - len, "%s%s=%s", k ? "," : "", a[k].key, a[k].v.str);
        }
        break;
    }
    return out;
}

static void env_container(struct cgtest_env *e, const char *id)
{
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "sys/fs/cgroup/system.slice/docker-%s.scope/memory.current", id);
    env_write(e, rel, "4096\n");
}

static void test_containers(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char sock[PATH_MAX], section[PATH_MAX + 256];
    snprintf(sock, sizeof(sock), "%s/engine.sock", dir);
    struct fake_engine fe = {
        .answers = {{CID1, 200,
                     "{\"Name\":\"/web\",\"Config\":{\"Image\":\"nginx:1.27\",\"Labels\":{"
                     "\"com.example.team\":\"green\",\"tier\":\"front\"}}}"},
                    {CID3, 200, "{\"Name\":\"/late\",\"Config\":{\"Image\":\"busybox\"}}"},
                    {CID4, 200, "{\"Name\":\"/back\",\"Config\":{\"Image\":\"redis\"}}"}},
        .n = 3};
    assert_int_equal(fake_engine_start(&fe, sock), 0);
    snprintf(section, sizeof(section),
             "poll_interval = \"1s\"\ndisable_sources = false\nengine_socket = \"%s\"\n"
             "engine_timeout = \"100ms\"\n",
             sock);
    struct cgtest_env e;
    env_setup(&e, "v2", section);
    env_container(&e, CID1);
    env_container(&e, CID2); /* unknown to the engine (404) */
    cgtest_poll_only(&e);
    cgtest_expect_dump(env_attrs(&e, "/system.slice/docker-" CID1 ".scope"),
                       "container_id=" CID1 ",container_name=web,container_image=nginx:1.27,"
                       "container_label_com_example_team=green,container_label_tier=front");
    cgtest_expect_dump(env_attrs(&e, "/system.slice/docker-" CID2 ".scope"), "container_id=" CID2);
    cgtest_expect_dump(env_attrs(&e, "/system.slice"), "");
    assert_int_equal(atomic_load(&fe.requests), 2);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "naming the containers with the "
                                           "engine at",
                                           NULL),
                     1);
    /* the answers are kept: no request at later polls */
    env_advance(&e, CGTEST_SEC);
    cgtest_poll_only(&e);
    assert_int_equal(atomic_load(&fe.requests), 2);

    /* the engine stops answering: one timeout, one warning, the id only;
     * no request for 30 s */
    atomic_store(&fe.silent, true);
    env_container(&e, CID3);
    env_advance(&e, CGTEST_SEC);
    cgtest_poll_only(&e);
    cgtest_expect_dump(env_attrs(&e, "/system.slice/docker-" CID3 ".scope"), "container_id=" CID3);
    assert_int_equal(atomic_load(&fe.requests), 3);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "cannot ask the container engine at '",
                                           "' about "
                                           "container 333333333333: "),
                     1);
    atomic_store(&fe.silent, false);
    env_container(&e, CID4);
    env_advance(&e, 10 * CGTEST_SEC);
    cgtest_poll_only(&e);
    cgtest_expect_dump(env_attrs(&e, "/system.slice/docker-" CID4 ".scope"), "container_id=" CID4);
    assert_int_equal(atomic_load(&fe.requests), 3);

    /* 30 s later: asked again; a removed container's answer is forgotten */
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/sys/fs/cgroup/system.slice/docker-%s.scope", e.tmp, CID4);
    alumet_test_remove_tree(p);
    env_advance(&e, CGTEST_SEC);
    cgtest_poll_only(&e);
    env_container(&e, CID4);
    env_advance(&e, 30 * CGTEST_SEC);
    cgtest_poll_only(&e);
    cgtest_expect_dump(env_attrs(&e, "/system.slice/docker-" CID4 ".scope"),
                       "container_id=" CID4 ",container_name=back,container_image=redis");
    /* the container that appeared while the engine was down gets its names */
    cgtest_expect_dump(env_attrs(&e, "/system.slice/docker-" CID3 ".scope"),
                       "container_id=" CID3 ",container_name=late,container_image=busybox");
    assert_int_equal(atomic_load(&fe.requests), 5);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "answers again", NULL), 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    cgtest_done(&e);
    fake_engine_stop(&fe);

    /* engine_socket = "": off, no attribute */
    env_setup(&e, "v2", "poll_interval = \"1s\"\ndisable_sources = false\nengine_socket = \"\"\n");
    env_container(&e, CID1);
    cgtest_poll_only(&e);
    cgtest_expect_dump(env_attrs(&e, "/system.slice/docker-" CID1 ".scope"), "");
    cgtest_done(&e);

    /* a bad time limit */
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    assert_int_equal(env_init(&e, NULL,
                              "poll_interval = \"1s\"\ndisable_sources = false\n"
                              "engine_timeout = \"0s\"\n",
                              &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.cgroups.engine_timeout: expected a duration greater "
                                    "than 0, such as \"250ms\""));
    cgtest_done(&e);
    alumet_test_rmtree(dir);
}

static void test_vms(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, "v2", "poll_interval = \"1s\"\ndisable_sources = false\n");
    env_write(&e,
              "sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2dweb\\x2d1.scope/"
              "memory.current",
              "4096\n");
    env_write(&e,
              "sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2dweb\\x2d1.scope/libvirt/"
              "vcpu0/memory.current",
              "2048\n");
    cgtest_poll_only(&e);
    cgtest_expect_dump(env_attrs(&e, "/machine.slice/machine-qemu\\x2d1\\x2dweb\\x2d1.scope"),
                       "vm_name=web-1");
    cgtest_expect_dump(
        env_attrs(&e, "/machine.slice/machine-qemu\\x2d1\\x2dweb\\x2d1.scope/libvirt/vcpu0"),
        "vm_name=web-1");
    cgtest_expect_dump(env_attrs(&e, "/system.slice"), "");
    cgtest_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_v2_two_polls),
        cmocka_unit_test(test_v2_appear_and_removal),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_hybrid),
        cmocka_unit_test(test_no_hierarchy_then_mounted),
        cmocka_unit_test(test_disable_sources),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_vms),
    };
    return alumet_run_tests(tests);
}
