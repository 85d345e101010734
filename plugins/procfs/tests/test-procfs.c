/* SPDX-License-Identifier: MIT */
/* Tests of the procfs plugin on the fixture trees of tests/fixtures/procfs/
 * (each scenario's README says what it imitates and the values expected
 * here). A test copies a scenario's t0/ tree into its temp dir, starts the
 * plugin on it (proc_root = sys_root = the copy) into a pipeline that is never
 * run, then polls the sources itself; moving to t1/ rewrites the copied files
 * in place, as the kernel does, so the descriptors kept open see the change,
 * and a file missing from t1/ is emptied then removed, which the plugin reads
 * as a process that has gone (a real /proc answers ESRCH). A new process
 * under a reused pid gets a new /proc/<pid> directory (env_new_process), as
 * the kernel gives it a new inode: the watcher lists a known pid whose inode
 * has not changed without reading it again. Clock ticks are
 * 100 per second and pages 4 KiB, as on the imitated machines; the monotonic
 * clock is the test's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "alumet-test-plugin.h"
#include "core/buffer.h"
#include "procfs.h"

extern const struct alumet_plugin alumet_plugin_procfs;

#define SEC ALUMET_NSEC_PER_SEC
#define MS ALUMET_NSEC_PER_MSEC
#define T0 ((alumet_time_ns)1700000000 * SEC)

/* ---- a started plugin ---- */

struct env {
    char *tmp;
    char scenario[PATH_MAX];
    struct toml_value *root;
    struct procfs *pfs;
    struct alumet_pipeline *p;
    struct agent_plugin ap;
    struct alumet_buffer *buf;
    alumet_time_ns mono;
    alumet_time_ns now;
};

static alumet_time_ns env_clock(void *data)
{
    return *(const alumet_time_ns *)data;
}

/* Move the copied tree to the scenario's step ("t0", "t1"...). */
static void env_step(struct env *e, const char *step)
{
    char src[PATH_MAX];
    alumet_test_path_join(src, sizeof(src), e->scenario, step);
    alumet_test_sync_tree(e->tmp, src);
}

/* Pid is a new process at the scenario's step: its directory is replaced by
 * a new one (a new inode, made while the old one still exists), and the
 * files of the old one are emptied, so that the descriptors opened on them
 * read the process as gone, as the kernel does. */
static void env_new_process(struct env *e, const char *step, int pid)
{
    char src[PATH_MAX], rel[64], fresh[PATH_MAX], old[PATH_MAX], gone[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/proc/%d", step, pid);
    alumet_test_path_join(src, sizeof(src), e->scenario, rel);
    snprintf(rel, sizeof(rel), "new-%d", pid);
    alumet_test_path_join(fresh, sizeof(fresh), e->tmp, rel);
    snprintf(rel, sizeof(rel), "gone-%d", pid);
    alumet_test_path_join(gone, sizeof(gone), e->tmp, rel);
    snprintf(rel, sizeof(rel), "proc/%d", pid);
    alumet_test_path_join(old, sizeof(old), e->tmp, rel);
    alumet_test_sync_tree(fresh, src);
    assert_int_equal(rename(old, gone), 0);
    assert_int_equal(rename(fresh, old), 0);
    alumet_test_sync_tree(gone, fresh); /* fresh is no more: empties gone */
    assert_int_equal(rmdir(gone), 0);
}

static int env_init(struct env *e, const char *scenario, const char *extra,
                    struct alumet_error *err)
{
    memset(e, 0, sizeof(*e));
    e->tmp = alumet_test_tmpdir();
    int n = snprintf(e->scenario, sizeof(e->scenario), "%s/procfs/%s", alumet_test_fixtures(),
                     scenario);
    assert_true(n > 0 && (size_t)n < sizeof(e->scenario));
    e->mono = 1000 * SEC;
    e->now = T0;

    char text[8192];
    n = snprintf(text, sizeof(text), "[plugins.procfs]\nproc_root = \"%s\"\nsys_root = \"%s\"\n%s",
                 e->tmp, e->tmp, extra ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof(text));
    void *state = NULL;
    int r = alumet_test_plugin_init(&alumet_plugin_procfs, text, &e->root, &state, err);
    e->pfs = state;
    if (r < 0)
        return r;
    e->pfs->clk_tck = 100;
    e->pfs->page_size = 4096;
    e->pfs->clock = env_clock;
    e->pfs->clock_data = &e->mono;
    return 0;
}

static void env_start(struct env *e)
{
    struct pipeline_settings s = {0};
    struct alumet_error err = {0};

    e->p = alumet__pipeline_new(&s);
    assert_non_null(e->p);
    e->ap.def = &alumet_plugin_procfs;
    e->ap.enabled = true;
    e->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("procfs");
    struct alumet_start_ctx ctx = {e->p, &e->ap};
    int r = alumet_plugin_procfs.start(e->pfs, &ctx, &err);
    if (r < 0)
        print_error("start: %s\n", err.msg);
    assert_int_equal(r, 0);
    if (!e->buf)
        e->buf = alumet__buffer_new(0);
    assert_non_null(e->buf);
}

/* Copy the scenario's first step, init and start. */
static void env_setup(struct env *e, const char *scenario, const char *first, const char *extra)
{
    struct alumet_error err = {0};
    alumet_test_log_capture("info");
    int r = env_init(e, scenario, extra, &err);
    if (r < 0)
        print_error("init: %s\n", err.msg);
    assert_int_equal(r, 0);
    if (first)
        env_step(e, first);
    env_start(e);
}

static void env_stop(struct env *e)
{
    struct alumet_error err = {0};
    alumet__pipeline_free(e->p); /* frees the sources, as the agent does before stop */
    e->p = NULL;
    assert_int_equal(alumet_plugin_procfs.stop(e->pfs, &err), 0);
}

static void env_done(struct env *e)
{
    if (e->p)
        env_stop(e);
    alumet_plugin_procfs.free(e->pfs);
    toml_free(e->root);
    alumet__buffer_free(e->buf);
    alumet_test_rmtree(e->tmp);
    alumet_test_log_release();
}

/* Poll a source into the (cleared) buffer; returns the number of points. */
static size_t env_poll(struct env *e, const struct alumet_source_ops *ops, void *src)
{
    struct alumet_error err = {0};
    assert_non_null(src);
    alumet__buffer_clear(e->buf);
    int r = ops->poll(src, e->buf, e->now, &err);
    if (r != ALUMET_POLL_OK)
        print_error("poll: %d %s\n", r, err.msg);
    assert_int_equal(r, ALUMET_POLL_OK);
    return alumet_buffer_len(e->buf);
}

static void env_advance(struct env *e, alumet_time_ns d)
{
    e->mono += d;
    e->now += d;
}

/* ---- finding points ---- */

#define MACHINE ALUMET_RESOURCE_LOCAL_MACHINE, 0
#define CORE(n) ALUMET_RESOURCE_CPU_CORE, (n)
#define NOBODY ALUMET_CONSUMER_LOCAL_MACHINE, 0
#define PROC(n) ALUMET_CONSUMER_PROCESS, (n)

struct query {
    const char *metric;
    enum alumet_resource_kind rk;
    uint32_t rn;
    enum alumet_consumer_kind ck;
    uint32_t cn;
    const char *k1, *v1, *k2, *v2;
};

static bool attr_is(const struct alumet_buffer *buf, const struct alumet_point *p, const char *k,
                    const char *v)
{
    if (!k)
        return true;
    const struct alumet_attr *a = alumet_point_find_attr(buf, p, k);
    return a && a->type == ALUMET_ATTR_STR && strcmp(a->v.str, v) == 0;
}

static bool point_matches(struct env *e, const struct alumet_point *p, const struct query *q)
{
    const struct alumet_metric *m = alumet_registry_get(alumet_pipeline_registry(e->p), p->metric);
    return m && strcmp(m->name, q->metric) == 0 && p->resource.kind == q->rk &&
           p->resource.num == q->rn && p->consumer.kind == q->ck && p->consumer.num == q->cn &&
           attr_is(e->buf, p, q->k1, q->v1) && attr_is(e->buf, p, q->k2, q->v2);
}

static size_t count_points(struct env *e, struct query q)
{
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++)
        n += point_matches(e, alumet_buffer_get(e->buf, i), &q);
    return n;
}

static size_t count_metric(struct env *e, const char *metric)
{
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_metric *m = alumet_registry_get(alumet_pipeline_registry(e->p),
                                                            alumet_buffer_get(e->buf, i)->metric);
        n += m && strcmp(m->name, metric) == 0;
    }
    return n;
}

static size_t count_consumer(struct env *e, uint32_t pid)
{
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        n += p->consumer.kind == ALUMET_CONSUMER_PROCESS && p->consumer.num == pid;
    }
    return n;
}

static const struct alumet_point *find_one(struct env *e, struct query q)
{
    const struct alumet_point *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        if (point_matches(e, p, &q)) {
            found = p;
            n++;
        }
    }
    if (n != 1)
        print_error("expected one point %s{%s=%s,%s=%s} resource %d/%u consumer %d/%u, found %zu\n",
                    q.metric, q.k1 ? q.k1 : "", q.v1 ? q.v1 : "", q.k2 ? q.k2 : "",
                    q.v2 ? q.v2 : "", (int)q.rk, q.rn, (int)q.ck, q.cn, n);
    assert_int_equal(n, 1);
    return found;
}

static void expect_u64(struct env *e, struct query q, uint64_t want)
{
    const struct alumet_point *p = find_one(e, q);
    assert_int_equal(p->value_type, ALUMET_VALUE_U64);
    if (p->value.u64 != want)
        print_error("%s{%s=%s,%s=%s} consumer %u\n", q.metric, q.k1 ? q.k1 : "", q.v1 ? q.v1 : "",
                    q.k2 ? q.k2 : "", q.v2 ? q.v2 : "", q.cn);
    assert_int_equal(p->value.u64, want);
    assert_int_equal(p->timestamp, e->now);
}

static void expect_f64(struct env *e, struct query q, double want)
{
    const struct alumet_point *p = find_one(e, q);
    assert_int_equal(p->value_type, ALUMET_VALUE_F64);
    if (fabs(p->value.f64 - want) > 1e-9) {
        print_error("%s{%s=%s} consumer %u: expected %.12g, got %.12g\n", q.metric,
                    q.k1 ? q.k1 : "", q.v1 ? q.v1 : "", q.cn, want, p->value.f64);
        fail();
    }
}

#define CPU_TIME(res, state)                                                                       \
    {                                                                                              \
        "kernel_cpu_time", res, NOBODY, "cpu_state", state, NULL, NULL                             \
    }
#define PROC_CPU(pid, kind)                                                                        \
    {                                                                                              \
        "cpu_time_delta", MACHINE, PROC(pid), "kind", kind, NULL, NULL                             \
    }
#define PROC_PCT(pid, kind)                                                                        \
    {                                                                                              \
        "cpu_percent", MACHINE, PROC(pid), "kind", kind, NULL, NULL                                \
    }
#define PROC_MEM(pid, kind)                                                                        \
    {                                                                                              \
        "memory_usage", MACHINE, PROC(pid), "kind", kind, NULL, NULL                               \
    }
#define NET(metric, ifname, dir)                                                                   \
    {                                                                                              \
        metric, MACHINE, NOBODY, "interface", ifname, "direction", dir                             \
    }

static const char *const only_kernel = "[plugins.procfs.memory]\nenabled = false\n"
                                       "[plugins.procfs.network]\nenabled = false\n"
                                       "[plugins.procfs.processes]\nenabled = false\n";

/* ---- pure helpers ---- */

static void test_meminfo_metric_names(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"MemTotal", "mem_total"},
        {"MemFree", "mem_free"},
        {"MemAvailable", "mem_available"},
        {"Cached", "cached"},
        {"SwapCached", "swap_cached"},
        {"Active", "active"},
        {"Inactive", "inactive"},
        {"Mapped", "mapped"},
        {"HugePages_Total", "hugepages_total"},
        {"Committed_AS", "committed_as"},
        {"SReclaimable", "s_reclaimable"},
        {"KReclaimable", "k_reclaimable"},
        {"DirectMap4k", "direct_map4k"},
        {"Active(anon)", "active(anon)"},
        {"NFS_Unstable", "nfs_unstable"},
        {"AnonHugePages", "anon_huge_pages"},
        {"A", "A"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[64];
        size_t n = procfs_meminfo_metric_name(cases[i][0], name, sizeof(name));
        assert_string_equal(name, cases[i][1]);
        assert_int_equal(n, strlen(cases[i][1]));
    }
    char small[4];
    assert_int_equal(procfs_meminfo_metric_name("MemTotal", small, sizeof(small)), 9);
    assert_string_equal(small, "mem");
}

static void test_cpu_list(void **state)
{
    (void)state;
    assert_int_equal(procfs_cpu_list_count("0-3,5-6\n", 8), 6);
    assert_int_equal(procfs_cpu_list_count("0\n", 2), 1);
    assert_int_equal(procfs_cpu_list_count("0,2-3\n", 6), 3);
    assert_int_equal(procfs_cpu_list_count("0-1", 3), 2);
    assert_int_equal(procfs_cpu_list_count("", 0), 0);
    assert_int_equal(procfs_cpu_list_count("1-2-3\n", 6), -EINVAL);
    assert_int_equal(procfs_cpu_list_count("3-1\n", 4), -EINVAL);
    assert_int_equal(procfs_cpu_list_count("a\n", 2), -EINVAL);
}

static void test_pid_stat_parse(void **state)
{
    (void)state;
    struct procfs_pid_stat st;
    char path[PATH_MAX];
    alumet_test_path_join(path, sizeof(path), alumet_test_fixtures(),
                          "procfs/busy-host/t0/proc/4300/stat");
    char *text = alumet_test_read_file(path);
    assert_non_null(text);
    /* the command name "my (weird) proc" has spaces and parentheses */
    assert_int_equal(procfs_pid_stat_parse(text, strlen(text), &st), 0);
    free(text);
    assert_int_equal(st.pid, 4300);
    assert_int_equal(st.ppid, 812);
    assert_int_equal(st.utime, 1000);
    assert_int_equal(st.stime, 100);
    assert_int_equal(st.starttime, 130000);
    assert_int_equal(st.vsize, 31457280);
    assert_true(st.has_guest);
    assert_int_equal(st.guest_time, 0);

    /* an old kernel without guest_time (fields 1 to 41 only) */
    const char *old = "42 (a) R 1 42 42 0 -1 0 0 0 0 0 7 8 9 10 20 0 1 0 500 4096 1 0 0 0 0 0 "
                      "0 0 0 0 0 0 0 0 17 0 0 0\n";
    assert_int_equal(procfs_pid_stat_parse(old, strlen(old), &st), 0);
    assert_false(st.has_guest);
    assert_int_equal(st.cutime, 9);
    assert_int_equal(st.cstime, 10);
    assert_int_equal(st.starttime, 500);
    const char *bad = "42 (a R 1";
    assert_int_equal(procfs_pid_stat_parse(bad, strlen(bad), &st), -EINVAL);
    /* negative children times count as 0; ") )" in the name; no guest field number */
    const char *neg = "7 (x) ) y) S -1 7 7 0 -1 0 0 0 0 0 3 4 -5 -6 20 0 1 0 99 8192 1 0 0 0 0 0 "
                      "0 0 0 0 0 0 0 0 17 0 0 0 0 g\n";
    assert_int_equal(procfs_pid_stat_parse(neg, strlen(neg), &st), 0);
    assert_int_equal(st.pid, 7);
    assert_int_equal(st.ppid, -1);
    assert_int_equal(st.utime, 3);
    assert_int_equal(st.stime, 4);
    assert_int_equal(st.cutime, 0);
    assert_int_equal(st.cstime, 0);
    assert_int_equal(st.starttime, 99);
    assert_int_equal(st.vsize, 8192);
    assert_false(st.has_guest);
    /* a field that is not a number, a line cut before vsize, an overflow */
    const char *word = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 3x 4 0 0 20 0 1 0 99 8192\n";
    assert_int_equal(procfs_pid_stat_parse(word, strlen(word), &st), -EINVAL);
    const char *cut = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 99\n8192";
    assert_int_equal(procfs_pid_stat_parse(cut, strlen(cut), &st), -EINVAL);
    const char *big = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 18446744073709551616 4 0 0 20 0 1 0 99 1\n";
    assert_int_equal(procfs_pid_stat_parse(big, strlen(big), &st), -EINVAL);
    assert_int_equal(procfs_pid_stat_parse("", 0, &st), -EINVAL);
}

/* ---- options ---- */

static void test_default_config(void **state)
{
    (void)state;
    struct alumet_error err = {0};
    struct toml_value *root = NULL;
    const char *text = alumet_plugin_procfs.default_config;

    assert_int_equal(strncmp(text, "[plugins.procfs]\n", 17), 0);
    /* every key of the default is an option */
    void *st = NULL;
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_procfs, text, &root, &st, &err), 0);
    struct procfs *pfs = st;
    assert_true(pfs->cfg.kernel_enabled && pfs->cfg.memory_enabled && pfs->cfg.network_enabled);
    assert_int_equal(pfs->cfg.kernel_poll, 5 * SEC);
    assert_int_equal(pfs->cfg.memory_poll, 5 * SEC);
    assert_int_equal(pfs->cfg.network_poll, 5 * SEC);
    assert_int_equal(pfs->cfg.kernel_flush, 0); /* after every poll */
    assert_int_equal(pfs->cfg.memory_flush, 0);
    assert_int_equal(pfs->cfg.network_flush, 0);
    assert_int_equal(pfs->cfg.n_meminfo_keys, 8);
    assert_string_equal(pfs->cfg.meminfo_keys[7], "Mapped");
    assert_true(pfs->cfg.processes_enabled);
    assert_int_equal(pfs->cfg.refresh_interval, 2 * SEC);
    assert_int_equal(pfs->cfg.strategy, PROCFS_STRATEGY_WATCHER);
    assert_int_equal(pfs->cfg.exec_strategy, PROCFS_STRATEGY_EVENT);
    assert_int_equal(pfs->n_groups, 1);
    assert_int_equal(pfs->groups[0].pid, -1);
    assert_int_equal(pfs->groups[0].ppid, -1);
    assert_false(pfs->groups[0].has_regex);
    assert_int_equal(pfs->groups[0].poll_interval, 2 * SEC);
    assert_int_equal(pfs->groups[0].flush_interval, 4 * SEC);
    assert_int_equal(pfs->groups[0].memory_mode, PROCFS_MEMORY_QUICK);
    assert_int_equal(pfs->events.poll_interval, 1 * SEC);
    assert_int_equal(pfs->events.flush_interval, 4 * SEC);
    assert_string_equal(pfs->cfg.proc_root, "/");
    assert_string_equal(pfs->cfg.sys_root, "/");
    assert_true(pfs->clk_tck > 0 && pfs->page_size > 0);
    alumet_plugin_procfs.free(st);
    toml_free(root);

    /* flush_interval of the system sources (an extension) */
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_procfs,
                                             "[plugins.procfs.kernel]\npoll_interval = \"1ms\"\n"
                                             "flush_interval = \"100ms\"\n"
                                             "[plugins.procfs.network]\nflush_interval = \"2s\"\n",
                                             &root, &st, &err),
                     0);
    pfs = st;
    assert_int_equal(pfs->cfg.kernel_poll, SEC / 1000);
    assert_int_equal(pfs->cfg.kernel_flush, SEC / 10);
    assert_int_equal(pfs->cfg.memory_flush, 0);
    assert_int_equal(pfs->cfg.network_flush, 2 * SEC);
    alumet_plugin_procfs.free(st);
    toml_free(root);

    /* an empty section means the same defaults */
    assert_int_equal(
        alumet_test_plugin_init(&alumet_plugin_procfs, "[plugins.procfs]\n", &root, &st, &err), 0);
    pfs = st;
    assert_int_equal(pfs->n_groups, 1);
    assert_int_equal(pfs->cfg.n_meminfo_keys, 8);
    alumet_plugin_procfs.free(st);
    toml_free(root);
}

static void expect_config_error(const char *extra, const char *needle)
{
    struct env e;
    struct alumet_error err = {0};
    int r = env_init(&e, "busy-host", extra, &err);
    if (r == 0 || !strstr(err.msg, needle))
        print_error("config '%s': r=%d, message '%s', expected '%s'\n", extra, r, err.msg, needle);
    assert_int_equal(r, -EINVAL);
    assert_non_null(strstr(err.msg, needle));
    toml_free(e.root);
    alumet_test_rmtree(e.tmp);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_config_error("[plugins.procfs.processes]\nstrategy = \"events\"\n",
                        "plugins.procfs.processes.strategy: expected \"watcher\" or \"event\"");
    expect_config_error("[plugins.procfs.processes]\nexec_strategy = \"all\"\n",
                        "plugins.procfs.processes.exec_strategy: expected \"watcher\" or "
                        "\"event\", got 'all'");
    expect_config_error("[plugins.procfs.kernel]\npoll_interval = \"0s\"\n",
                        "plugins.procfs.kernel.poll_interval: expected a duration greater");
    expect_config_error("[plugins.procfs.kernel]\nflush_interval = \"soon\"\n",
                        "plugins.procfs.kernel.flush_interval: invalid duration");
    expect_config_error("[plugins.procfs.memory]\npoll_interval = 5\n",
                        "plugins.procfs.memory.poll_interval: expected a duration");
    expect_config_error("[[plugins.procfs.processes.groups]]\nexe_regex = \"(\"\n",
                        "exe_regex: invalid regular expression '('");
    expect_config_error("[[plugins.procfs.processes.groups]]\nmemory_mode = \"slow\"\n",
                        "memory_mode: expected \"quick\" or \"slow_but_accurate\", got 'slow'");
    expect_config_error("[[plugins.procfs.processes.groups]]\npid = -3\n",
                        "pid: expected a process id between 0 and 4294967295, got -3");
    expect_config_error("[plugins.procfs.processes.events]\nflush_interval = \"soon\"\n",
                        "plugins.procfs.processes.events.flush_interval: invalid duration");
    expect_config_error("[plugins.procfs.memory]\nmetrics = [\"MemTotal\", \"\"]\n",
                        "plugins.procfs.memory.metrics: expected names of /proc/meminfo entries");
    expect_config_error("[plugins.procfs.processes]\ngroups = 3\n",
                        "plugins.procfs.processes.groups: expected an array of tables");

    /* a misspelt key of a group is an unknown key, with a suggestion */
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(
        env_init(&e, "busy-host", "[[plugins.procfs.processes.groups]]\nexe_regx = \"a\"\n", &err),
        -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.procfs.processes.groups[0].exe_regx: unknown key, "
                                    "did you mean 'exe_regex'?"));
    alumet_plugin_procfs.free(e.pfs);
    toml_free(e.root);
    alumet_test_rmtree(e.tmp);

    struct toml_value *root = NULL;
    const char *text = "[plugins.procfs]\nproc_root = \"\"\n";
    assert_int_equal(alumet__config_load_text(text, strlen(text), "t", 0, &root, &err), 0);
    void *st = NULL;
    struct toml_value *sect = toml_table_get(toml_table_get(root, "plugins"), "procfs");
    assert_int_equal(alumet_plugin_procfs.init(alumet__config_from_value(sect), &st, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.procfs.proc_root: expected a directory"));
    toml_free(root);
}

static void test_missing_proc_root(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    char extra[] = "[plugins.procfs.processes]\nenabled = false\n";
    assert_int_equal(env_init(&e, "busy-host", extra, &err), 0);
    /* nothing copied: the root has no proc/ */
    struct pipeline_settings s = {0};
    e.p = alumet__pipeline_new(&s);
    e.ap.def = &alumet_plugin_procfs;
    e.ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("procfs");
    struct alumet_start_ctx ctx = {e.p, &e.ap};
    alumet_test_log_capture(/* spec= */ NULL);
    assert_int_equal(alumet_plugin_procfs.start(e.pfs, &ctx, &err), 0);
    /* each part says which file is missing and how to silence it */
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "proc/stat",
                                           "plugins.procfs.kernel.enabled = false"),
                     1);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN, "proc/meminfo", "skipping the memory metrics"), 1);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN, "proc/net/dev", "skipping the network metrics"), 1);
    assert_null(e.pfs->kernel);
    env_done(&e);

    /* a proc root that does not exist fails the start */
    char bad[] = "proc_root = \"/nonexistent/alumet-test\"\n";
    memset(&e, 0, sizeof(e));
    struct toml_value *root = NULL;
    char text[256];
    snprintf(text, sizeof(text), "[plugins.procfs]\n%s", bad);
    assert_int_equal(alumet__config_load_text(text, strlen(text), "t", 0, &root, &err), 0);
    void *st = NULL;
    struct toml_value *sect = toml_table_get(toml_table_get(root, "plugins"), "procfs");
    assert_int_equal(alumet_plugin_procfs.init(alumet__config_from_value(sect), &st, &err), 0);
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    struct agent_plugin ap = {.def = &alumet_plugin_procfs};
    struct alumet_start_ctx ctx2 = {p, &ap};
    assert_int_equal(alumet_plugin_procfs.start(st, &ctx2, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "cannot open the proc root '/nonexistent/alumet-test'"));
    alumet__pipeline_free(p);
    alumet_plugin_procfs.stop(st, &err);
    alumet_plugin_procfs.free(st);
    toml_free(root);
}

/* ---- kernel ---- */

static void test_kernel(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", only_kernel);

    /* the first poll only sets the baseline */
    assert_int_equal(env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel), 0);
    env_advance(&e, 5 * SEC);
    env_step(&e, "t1");
    /* 3 cpu lines × 9 states (no iowait), context switches, forks, running, blocked */
    assert_int_equal(env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel), 31);
    assert_int_equal(count_metric(&e, "kernel_cpu_time"), 27);
    assert_int_equal(count_points(&e, (struct query)CPU_TIME(MACHINE, "iowait")), 0);

    /* ticks × 1000 / CLK_TCK (100), then the difference: user 1150 - 1000 ticks */
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "user"), 1500);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "nice"), 0);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "system"), 300);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "idle"), 7800);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "irq"), 10);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "softirq"), 20);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "steal"), 0);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "guest"), 0);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "guest_nice"), 0);
    expect_u64(&e, (struct query)CPU_TIME(CORE(0), "user"), 1000);
    expect_u64(&e, (struct query)CPU_TIME(CORE(0), "system"), 100);
    expect_u64(&e, (struct query)CPU_TIME(CORE(0), "idle"), 3700);
    expect_u64(&e, (struct query)CPU_TIME(CORE(0), "softirq"), 10);
    expect_u64(&e, (struct query)CPU_TIME(CORE(1), "user"), 500);
    expect_u64(&e, (struct query)CPU_TIME(CORE(1), "system"), 200);
    expect_u64(&e, (struct query)CPU_TIME(CORE(1), "idle"), 4100);
    expect_u64(&e, (struct query)CPU_TIME(CORE(1), "irq"), 10);
    expect_u64(&e,
               (struct query){"kernel_context_switches", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               3000);
    expect_u64(&e, (struct query){"kernel_new_forks", MACHINE, NOBODY, NULL, NULL, NULL, NULL}, 12);
    expect_u64(
        &e, (struct query){"kernel_n_procs_running", MACHINE, NOBODY, NULL, NULL, NULL, NULL}, 3);
    expect_u64(
        &e, (struct query){"kernel_n_procs_blocked", MACHINE, NOBODY, NULL, NULL, NULL, NULL}, 1);

    /* the metrics as upstream registers them */
    const struct alumet_metric *m =
        alumet_registry_find(alumet_pipeline_registry(e.p), "kernel_cpu_time");
    assert_non_null(m);
    assert_int_equal(m->value_type, ALUMET_VALUE_U64);
    assert_string_equal(m->unit_display, "ms");

    /* reset (a pause) drops the baseline */
    procfs_kernel_source_ops.reset(e.pfs->kernel);
    assert_int_equal(env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel), 0);
    assert_int_equal(env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel), 31);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "user"), 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

static void test_kernel_clock_ticks(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", only_kernel);
    /* a kernel with USER_HZ 250: 150 ticks are 600 ms, and 1000 ticks are 4000 ms */
    e.pfs->clk_tck = 250;
    env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel);
    env_step(&e, "t1");
    env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "user"), 600);
    expect_u64(&e, (struct query)CPU_TIME(CORE(0), "user"), 400);
    env_done(&e);
}

static void test_kernel_offline_cpu(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "offline-cpu", "t0",
              "[plugins.procfs.memory]\nenabled = false\n"
              "[plugins.procfs.network]\nenabled = false\n"
              "[plugins.procfs.processes]\nstrategy = \"event\"\n");
    /* online "0,2-3" */
    assert_int_equal(e.pfs->n_cpus, 3);
    env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel);
    env_step(&e, "t1");
    assert_int_equal(env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel), 4 * 9 + 4);
    /* the resource is the CPU number, not the line index (upstream gives 1 and 2 here) */
    expect_u64(&e, (struct query)CPU_TIME(CORE(0), "user"), 100);
    expect_u64(&e, (struct query)CPU_TIME(CORE(2), "user"), 100);
    expect_u64(&e, (struct query)CPU_TIME(CORE(3), "idle"), 1000);
    expect_u64(&e, (struct query)CPU_TIME(MACHINE, "user"), 300);
    assert_int_equal(count_points(&e, (struct query)CPU_TIME(CORE(1), "user")), 0);
    env_done(&e);
}

/* ---- memory ---- */

static void test_memory(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0",
              "[plugins.procfs.kernel]\nenabled = false\n"
              "[plugins.procfs.network]\nenabled = false\n"
              "[plugins.procfs.processes]\nenabled = false\n");
    /* no baseline: every poll reports, in file order, the configured entries in bytes */
    assert_int_equal(env_poll(&e, &procfs_memory_source_ops, e.pfs->memory), 8);
    expect_u64(&e, (struct query){"mem_total", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               4014056ull * 1024);
    expect_u64(&e, (struct query){"mem_free", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               2220924ull * 1024);
    expect_u64(&e, (struct query){"mem_available", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               3347212ull * 1024);
    expect_u64(&e, (struct query){"cached", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               1201848ull * 1024);
    expect_u64(&e, (struct query){"swap_cached", MACHINE, NOBODY, NULL, NULL, NULL, NULL}, 0);
    expect_u64(&e, (struct query){"active", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               689656ull * 1024);
    expect_u64(&e, (struct query){"inactive", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               861272ull * 1024);
    expect_u64(&e, (struct query){"mapped", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               265436ull * 1024);
    const struct alumet_metric *m =
        alumet_registry_find(alumet_pipeline_registry(e.p), "mem_total");
    assert_non_null(m);
    assert_string_equal(m->unit_display, "B");
    assert_string_equal(m->description, "MemTotal entry in /proc/meminfo, converted to bytes");
    env_advance(&e, 5 * SEC);
    env_step(&e, "t1");
    assert_int_equal(env_poll(&e, &procfs_memory_source_ops, e.pfs->memory), 8);
    expect_u64(&e, (struct query){"mem_free", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               2210000ull * 1024);
    env_done(&e);

    /* an entry that Linux never writes is an error, each one with the closest name */
    struct alumet_error ierr = {0};
    assert_int_equal(env_init(&e, "busy-host",
                              "[plugins.procfs.memory]\nmetrics = [\"MemTotl\", \"Nope\"]\n",
                              &ierr),
                     -EINVAL);
    assert_string_equal(ierr.msg, "test.toml:5:11: plugins.procfs.memory.metrics: 'Nope' is not "
                                  "an entry of /proc/meminfo (see `cat /proc/meminfo` for the "
                                  "names, such as \"MemTotal\")");
    toml_free(e.root);
    alumet_test_rmtree(e.tmp);

    /* chosen entries; a known one missing from the file (Balloon) gives no point;
     * counts are "bytes" as upstream */
    env_setup(&e, "busy-host", "t0",
              "[plugins.procfs.kernel]\nenabled = false\n"
              "[plugins.procfs.memory]\n"
              "metrics = [\"Committed_AS\", \"HugePages_Total\", \"DirectMap4k\", \"Balloon\", "
              "\"Active(anon)\"]\n"
              "[plugins.procfs.network]\nenabled = false\n"
              "[plugins.procfs.processes]\nenabled = false\n");
    assert_int_equal(env_poll(&e, &procfs_memory_source_ops, e.pfs->memory), 4);
    expect_u64(&e, (struct query){"committed_as", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               1446736ull * 1024);
    expect_u64(&e, (struct query){"hugepages_total", MACHINE, NOBODY, NULL, NULL, NULL, NULL}, 0);
    expect_u64(&e, (struct query){"direct_map4k", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               165824ull * 1024);
    expect_u64(&e, (struct query){"active(anon)", MACHINE, NOBODY, NULL, NULL, NULL, NULL},
               277368ull * 1024);
    /* points in file order */
    const struct alumet_metric *first =
        alumet_registry_get(alumet_pipeline_registry(e.p), alumet_buffer_get(e.buf, 0)->metric);
    assert_string_equal(first->name, "active(anon)");

    /* an unparsable configured line makes the poll fail, but not fatally */
    char path[PATH_MAX];
    alumet_test_path_join(path, sizeof(path), e.tmp, "proc/meminfo");
    const char *broken = "Committed_AS:    oops kB\n";
    alumet_test_write_file(path, broken);
    struct alumet_error err = {0};
    alumet__buffer_clear(e.buf);
    assert_int_equal(procfs_memory_source_ops.poll(e.pfs->memory, e.buf, e.now, &err),
                     ALUMET_POLL_RETRY);
    assert_non_null(strstr(err.msg, "cannot parse the line 'Committed_AS:    oops kB'"));
    env_done(&e);
}

/* ---- network ---- */

static void test_network(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0",
              "[plugins.procfs.kernel]\nenabled = false\n"
              "[plugins.procfs.memory]\nenabled = false\n"
              "[plugins.procfs.processes]\nenabled = false\n");
    assert_int_equal(env_poll(&e, &procfs_network_source_ops, e.pfs->network), 0);
    env_advance(&e, 5 * SEC);
    env_step(&e, "t1");
    /* 3 interfaces × 2 directions × 4 metrics */
    assert_int_equal(env_poll(&e, &procfs_network_source_ops, e.pfs->network), 24);
    expect_u64(&e, (struct query)NET("network_bytes", "lo", "rx"), 600);
    expect_u64(&e, (struct query)NET("network_packets", "lo", "rx"), 6);
    expect_u64(&e, (struct query)NET("network_bytes", "lo", "tx"), 600);
    expect_u64(&e, (struct query)NET("network_bytes", "eth0", "rx"), 12345);
    expect_u64(&e, (struct query)NET("network_packets", "eth0", "rx"), 100);
    expect_u64(&e, (struct query)NET("network_packet_drops", "eth0", "rx"), 3);
    expect_u64(&e, (struct query)NET("network_errors", "eth0", "rx"), 0);
    expect_u64(&e, (struct query)NET("network_bytes", "eth0", "tx"), 1000);
    expect_u64(&e, (struct query)NET("network_packets", "eth0", "tx"), 10);
    expect_u64(&e, (struct query)NET("network_packet_drops", "eth0", "tx"), 0);
    expect_u64(&e, (struct query)NET("network_errors", "eth0", "tx"), 2);
    /* an interface that appeared reports its counters once, as upstream does */
    expect_u64(&e, (struct query)NET("network_bytes", "wlan0", "rx"), 70000);
    expect_u64(&e, (struct query)NET("network_packets", "wlan0", "tx"), 100);
    /* order: rx bytes, packets, drops, errors, then tx; attributes interface then direction */
    const struct alumet_point *p = alumet_buffer_get(e.buf, 0);
    const struct alumet_attr *a = alumet_point_attrs(e.buf, p);
    assert_int_equal(p->attr_count, 2);
    assert_string_equal(a[0].key, "interface");
    assert_string_equal(a[0].v.str, "lo");
    assert_string_equal(a[1].key, "direction");
    assert_string_equal(a[1].v.str, "rx");
    const char *order[8] = {"network_bytes",        "network_packets", "network_packet_drops",
                            "network_errors",       "network_bytes",   "network_packets",
                            "network_packet_drops", "network_errors"};
    for (size_t i = 0; i < 8; i++) {
        const struct alumet_metric *m =
            alumet_registry_get(alumet_pipeline_registry(e.p), alumet_buffer_get(e.buf, i)->metric);
        assert_string_equal(m->name, order[i]);
    }
    const struct alumet_metric *m =
        alumet_registry_find(alumet_pipeline_registry(e.p), "network_packets");
    assert_string_equal(m->unit_unique, "1");
    env_done(&e);
}

/* An interface whose driver was reloaded between two reads (fixture
 * procfs/net-reset): its counters went backwards, so each gives its new
 * value (the traffic since the reload), never a wrapped 2^64 - n; a counter
 * that did not move gives 0; the other interfaces are not affected. */
static void test_network_counter_reset(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "net-reset", "t0",
              "[plugins.procfs.kernel]\nenabled = false\n"
              "[plugins.procfs.memory]\nenabled = false\n"
              "[plugins.procfs.processes]\nenabled = false\n");
    assert_int_equal(env_poll(&e, &procfs_network_source_ops, e.pfs->network), 0);

    env_advance(&e, 5 * SEC);
    env_step(&e, "t1");
    assert_int_equal(env_poll(&e, &procfs_network_source_ops, e.pfs->network), 16);
    expect_u64(&e, (struct query)NET("network_bytes", "lo", "rx"), 500);
    expect_u64(&e, (struct query)NET("network_packets", "lo", "tx"), 5);
    expect_u64(&e, (struct query)NET("network_bytes", "eth0", "rx"), 4000);
    expect_u64(&e, (struct query)NET("network_packets", "eth0", "rx"), 40);
    expect_u64(&e, (struct query)NET("network_errors", "eth0", "rx"), 1);
    expect_u64(&e, (struct query)NET("network_packet_drops", "eth0", "rx"), 2);
    expect_u64(&e, (struct query)NET("network_bytes", "eth0", "tx"), 2000);
    expect_u64(&e, (struct query)NET("network_packets", "eth0", "tx"), 20);
    expect_u64(&e, (struct query)NET("network_errors", "eth0", "tx"), 0);
    expect_u64(&e, (struct query)NET("network_packet_drops", "eth0", "tx"), 1);

    env_advance(&e, 5 * SEC);
    env_step(&e, "t2");
    assert_int_equal(env_poll(&e, &procfs_network_source_ops, e.pfs->network), 16);
    expect_u64(&e, (struct query)NET("network_bytes", "lo", "rx"), 200);
    expect_u64(&e, (struct query)NET("network_packets", "lo", "rx"), 2);
    expect_u64(&e, (struct query)NET("network_bytes", "lo", "tx"), 200);
    expect_u64(&e, (struct query)NET("network_packets", "lo", "tx"), 2);
    expect_u64(&e, (struct query)NET("network_bytes", "eth0", "rx"), 800);
    expect_u64(&e, (struct query)NET("network_packets", "eth0", "rx"), 8);
    expect_u64(&e, (struct query)NET("network_errors", "eth0", "rx"), 0);
    expect_u64(&e, (struct query)NET("network_packet_drops", "eth0", "rx"), 1);
    expect_u64(&e, (struct query)NET("network_bytes", "eth0", "tx"), 600);
    expect_u64(&e, (struct query)NET("network_packets", "eth0", "tx"), 6);
    expect_u64(&e, (struct query)NET("network_errors", "eth0", "tx"), 0); /* 1 -> 1 */
    expect_u64(&e, (struct query)NET("network_packet_drops", "eth0", "tx"), 0);
    env_done(&e);
}

/* ---- processes: watcher ---- */

static const char *const watcher_groups = "[plugins.procfs.kernel]\nenabled = false\n"
                                          "[plugins.procfs.memory]\nenabled = false\n"
                                          "[plugins.procfs.network]\nenabled = false\n"
                                          "[[plugins.procfs.processes.groups]]\n"
                                          "pid = 4300\n"
                                          "[[plugins.procfs.processes.groups]]\n"
                                          "ppid = 812\n"
                                          "exe_regex = \"^/usr/bin/(sleep|cat)$\"\n"
                                          "poll_interval = \"5s\"\n"
                                          "[[plugins.procfs.processes.groups]]\n"
                                          "exe_regex = \"systemd|qemu\"\n";

static const char *const watcher_groups_all = "[plugins.procfs.kernel]\nenabled = false\n"
                                              "[plugins.procfs.memory]\nenabled = false\n"
                                              "[plugins.procfs.network]\nenabled = false\n"
                                              "[[plugins.procfs.processes.groups]]\n"
                                              "exe_regex = \"\"\n";

static bool group_has(struct procfs_group *g, pid_t pid)
{
    for (size_t i = 0; i < procfs_group_source_count(g->source); i++)
        if (procfs_group_source_pid(g->source, i) == pid)
            return true;
    return false;
}

static size_t poll_group(struct env *e, size_t i)
{
    return env_poll(e, &procfs_group_source_ops, e->pfs->groups[i].source);
}

static void test_watcher_groups(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", watcher_groups);
    assert_int_equal(e.pfs->n_groups, 3);
    assert_int_equal(e.pfs->n_cpus, 2);

    /* the watcher gives each new process to the first group that accepts it, and
     * measures it at once (as a new upstream source does): the CPU time since the
     * process started, no cpu_percent. 812 (bash) and 2 (a kernel thread, no exe)
     * go nowhere; 4400 vanished between the listing and the read */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 4 * 6);
    assert_int_equal(e.pfs->groups[0].n_queue, 1);
    assert_int_equal(e.pfs->groups[1].n_queue, 1);
    assert_int_equal(e.pfs->groups[2].n_queue, 2);
    assert_int_equal(count_consumer(&e, 812) + count_consumer(&e, 2), 0);
    expect_u64(&e, (struct query)PROC_CPU(4300, "user"), 1000 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(4300, "system"), 100 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(4300, "guest"), 0);
    /* quick mode: statm pages × 4096 */
    expect_u64(&e, (struct query)PROC_MEM(4300, "resident"), 2560ull * 4096);
    expect_u64(&e, (struct query)PROC_MEM(4300, "shared"), 1024ull * 4096);
    expect_u64(&e, (struct query)PROC_MEM(4300, "virtual"), 7680ull * 4096);
    expect_u64(&e, (struct query)PROC_CPU(4242, "user"), 150 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(5100, "guest"), 1500 * 10 * MS);
    assert_int_equal(count_metric(&e, "cpu_percent"), 0);

    /* the groups take them, with the descriptors and the stat the watcher
     * read: at the same instant they emit nothing more (the watcher's
     * measurement stands for this poll) */
    assert_int_equal(poll_group(&e, 0), 0);
    assert_true(group_has(&e.pfs->groups[0], 4300));
    assert_int_equal(poll_group(&e, 1), 0);
    assert_true(group_has(&e.pfs->groups[1], 4242));
    assert_int_equal(poll_group(&e, 2), 0);
    assert_true(group_has(&e.pfs->groups[2], 1));
    assert_true(group_has(&e.pfs->groups[2], 5100));

    /* a second refresh finds nothing new */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    assert_int_equal(e.pfs->groups[0].n_queue + e.pfs->groups[1].n_queue + e.pfs->groups[2].n_queue,
                     0);

    /* 5 s later: deltas, and cpu_percent = 100 × Δcpu / Δt / 2 CPUs */
    env_advance(&e, 5 * SEC);
    env_step(&e, "t1");
    assert_int_equal(poll_group(&e, 0), 3 + 3 + 3);
    expect_u64(&e, (struct query)PROC_CPU(4300, "user"), 450 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(4300, "system"), 20 * 10 * MS);
    expect_f64(&e, (struct query)PROC_PCT(4300, "user"), 45.0);
    expect_f64(&e, (struct query)PROC_PCT(4300, "system"), 2.0);
    expect_f64(&e, (struct query)PROC_PCT(4300, "total"), 47.0);
    /* point order: memory, then CPU time, then percentages */
    const char *order[9] = {"memory_usage",   "memory_usage",   "memory_usage",
                            "cpu_time_delta", "cpu_time_delta", "cpu_time_delta",
                            "cpu_percent",    "cpu_percent",    "cpu_percent"};
    for (size_t i = 0; i < 9; i++) {
        const struct alumet_metric *m =
            alumet_registry_get(alumet_pipeline_registry(e.p), alumet_buffer_get(e.buf, i)->metric);
        assert_string_equal(m->name, order[i]);
    }
    poll_group(&e, 1);
    expect_u64(&e, (struct query)PROC_CPU(4242, "user"), 0);
    expect_u64(&e, (struct query)PROC_CPU(4242, "system"), 10 * MS);
    expect_f64(&e, (struct query)PROC_PCT(4242, "system"), 100.0 * (0.01 / 5.0) / 2);
    poll_group(&e, 2);
    expect_u64(&e, (struct query)PROC_CPU(5100, "user"), 300 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(5100, "guest"), 250 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(1, "user"), 10 * MS);

    const struct alumet_metric *m =
        alumet_registry_find(alumet_pipeline_registry(e.p), "cpu_time_delta");
    assert_string_equal(m->unit_display, "ns");
    m = alumet_registry_find(alumet_pipeline_registry(e.p), "cpu_percent");
    assert_int_equal(m->value_type, ALUMET_VALUE_F64);
    assert_string_equal(m->unit_display, "%");

    /* t2: 4300 has ended, 4242 belongs to another process (started later): the
     * groups drop them without a word */
    env_advance(&e, 5 * SEC);
    env_step(&e, "t2");
    env_new_process(&e, "t2", 4242);
    assert_int_equal(poll_group(&e, 0), 0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[0].source), 0);
    assert_int_equal(poll_group(&e, 1), 0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[1].source), 0);
    /* the watcher sees a new fingerprint for 4242 (cat, child of 812): measured
     * from its start, then group 1 takes it */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(4242, "user"), 7 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(4242, "system"), 3 * 10 * MS);
    expect_u64(&e, (struct query)PROC_MEM(4242, "resident"), 256ull * 4096);
    assert_int_equal(e.pfs->groups[1].n_queue, 1);
    /* the group's first poll after the hand-over, half its poll interval (5 s)
     * later or more, measures it: the delta against what the watcher read */
    env_advance(&e, 2500 * MS);
    assert_int_equal(poll_group(&e, 1), 9);
    expect_u64(&e, (struct query)PROC_CPU(4242, "user"), 0);
    expect_f64(&e, (struct query)PROC_PCT(4242, "total"), 0.0);
    if (alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL) != 0)
        alumet_test_log_dump();
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

/* The watcher notices a reused pid before the group does. */
static void test_watcher_pid_reuse_first(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", watcher_groups);
    env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher);
    poll_group(&e, 1);
    env_advance(&e, 5 * SEC);
    env_step(&e, "t2");
    env_new_process(&e, "t2", 4242);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(4242, "user"), 7 * 10 * MS);
    /* the group replaces its old 4242 by the new one, measured by the watcher
     * at this instant */
    assert_int_equal(poll_group(&e, 1), 0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[1].source), 1);
    /* 1 s later: the new process's delta, against its own start (t2) */
    env_advance(&e, 1 * SEC);
    assert_int_equal(poll_group(&e, 1), 9);
    expect_u64(&e, (struct query)PROC_CPU(4242, "user"), 0);
    expect_f64(&e, (struct query)PROC_PCT(4242, "total"), 0.0);
    env_done(&e);
}

static void test_accurate_memory(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0",
              "[plugins.procfs.kernel]\nenabled = false\n"
              "[plugins.procfs.memory]\nenabled = false\n"
              "[plugins.procfs.network]\nenabled = false\n"
              "[[plugins.procfs.processes.groups]]\n"
              "pid = 4242\n"
              "memory_mode = \"slow_but_accurate\"\n");
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 4 + 3);
    /* smaps_rollup in kB: proportional = Pss, resident = Rss, shared = Shared_Clean +
     * Shared_Dirty, virtual = vsize of stat; in this order */
    expect_u64(&e, (struct query)PROC_MEM(4242, "proportional"), 400 * 1024);
    expect_u64(&e, (struct query)PROC_MEM(4242, "resident"), 800 * 1024);
    expect_u64(&e, (struct query)PROC_MEM(4242, "shared"), 308 * 1024);
    expect_u64(&e, (struct query)PROC_MEM(4242, "virtual"), 8388608);
    const char *kinds[4] = {"proportional", "resident", "shared", "virtual"};
    for (size_t i = 0; i < 4; i++)
        assert_true(attr_is(e.buf, alumet_buffer_get(e.buf, i), "kind", kinds[i]));
    env_done(&e);
}

/* ---- processes: many more than the descriptors allow ---- */

#define MANY 20000
#define MANY_FIRST 100000
#define MANY_CAP 1000 /* descriptors: 500 processes kept open */

/* A process of the generated tree: user and system ticks and resident pages
 * derived from the pid, start time 1000 + pid. */
static void many_write(const char *tmp, int pid, uint64_t start)
{
    char rel[64], text[512];
    snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
    snprintf(text, sizeof(text),
             "%d (sleep) S 1 %d %d 0 -1 4194304 100 0 0 0 %d %d 0 0 20 0 1 0 %llu 8388608 "
             "200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
             pid, pid, pid, pid % 1000, pid % 7, (unsigned long long)start);
    alumet_test_write_at(tmp, rel, text);
    snprintf(rel, sizeof(rel), "proc/%d/statm", pid);
    snprintf(text, sizeof(text), "2048 %d 100 5 0 300 0\n", pid % 500 + 1);
    alumet_test_write_at(tmp, rel, text);
}

static size_t open_fds(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Every process alive (alive[pid - MANY_FIRST]) has its points, with its
 * values; nothing else. */
static void expect_many(struct env *e, const unsigned char *alive, size_t per_proc)
{
    size_t n_alive = 0;
    for (int i = 0; i < MANY + 1000; i++)
        n_alive += alive[i];
    assert_int_equal(alumet_buffer_len(e->buf), n_alive * per_proc);
    unsigned char *seen = calloc(MANY + 1000, 1);
    assert_non_null(seen);
    alumet_metric_id mem = alumet_registry_find(alumet_pipeline_registry(e->p), "memory_usage")->id;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        int pid = (int)p->consumer.num;
        assert_true(pid >= MANY_FIRST && pid < MANY_FIRST + MANY + 1000 && alive[pid - MANY_FIRST]);
        if (p->metric == mem && attr_is(e->buf, p, "kind", "resident")) {
            assert_int_equal(p->value.u64, (uint64_t)(pid % 500 + 1) * 4096);
            seen[pid - MANY_FIRST]++;
        }
    }
    for (int i = 0; i < MANY + 1000; i++)
        if (seen[i] != alive[i])
            fail_msg("process %d: %d resident points", MANY_FIRST + i, seen[i]);
    free(seen);
}

/* 20000 processes with a budget of 1000 descriptors (as an agent whose soft
 * limit of open files is 2000): every process is found and measured, 500
 * through descriptors kept open (the first listed), the others by path; the
 * descriptors stay within the budget and go to new processes when kept ones
 * end. The tree (40000 files) is made in /dev/shm when there is one: on a
 * disk, with other jobs, making and removing it takes tens of seconds. */
static void test_many_processes(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    static unsigned char alive[MANY + 1000];
    struct stat shm;
    char *tmpdir = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    if (stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    alumet_test_log_capture("info");
    int r = env_init(&e, "busy-host", watcher_groups_all, &err);
    if (tmpdir)
        setenv("TMPDIR", tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(tmpdir);
    assert_int_equal(r, 0);
    memset(alive, 0, sizeof(alive));
    for (int pid = MANY_FIRST; pid < MANY_FIRST + MANY; pid++) {
        many_write(e.tmp, pid, 1000 + (uint64_t)pid);
        alive[pid - MANY_FIRST] = 1;
    }
    alumet_test_write_at(e.tmp, "sys/devices/system/cpu/online", "0-1\n");
    size_t fds_before = open_fds();
    env_start(&e);
    e.pfs->fd_raise = false; /* keep this budget: no raising of the limit */
    procfs_fd_cap_set(e.pfs, 2 * MANY_CAP);
    assert_int_equal(e.pfs->fd_cap, MANY_CAP);
    size_t fds = open_fds();

    /* the watcher measures each one from its start: 3 memory, 3 CPU time */
    env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher);
    expect_many(&e, alive, 6);
    expect_u64(&e, (struct query)PROC_CPU(MANY_FIRST + 1234, "user"), 234 * 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(MANY_FIRST + 1234, "system"), (101234 % 7) * 10 * MS);
    assert_int_equal(e.pfs->fd_left, 0);
    assert_int_equal(open_fds(), fds + MANY_CAP);

    /* the group measures them all, 1 s later */
    env_advance(&e, 1 * SEC);
    poll_group(&e, 0);
    struct procfs_group_source *src = e.pfs->groups[0].source;
    assert_int_equal(procfs_group_source_count(src), MANY);
    expect_many(&e, alive, 9);
    assert_int_equal(open_fds(), fds + MANY_CAP);

    /* the first 1000 listed end (the 500 kept open among them), 1000 new ones
     * start: the watcher reads only the new ones, which take the freed
     * descriptors */
    int ended[1000];
    for (int i = 0; i < 1000; i++)
        ended[i] = (int)procfs_group_source_pid(src, (size_t)i);
    for (int i = 0; i < 1000; i++) {
        char rel[64], path[PATH_MAX];
        snprintf(rel, sizeof(rel), "proc/%d", ended[i]);
        alumet_test_path_join(path, sizeof(path), e.tmp, rel);
        alumet_test_sync_tree(path, "/nonexistent"); /* empties the files */
        assert_int_equal(rmdir(path), 0);
        alive[ended[i] - MANY_FIRST] = 0;
        many_write(e.tmp, MANY_FIRST + MANY + i, 5000);
    }
    env_advance(&e, 1 * SEC);
    poll_group(&e, 0);
    expect_many(&e, alive, 9);
    assert_int_equal(e.pfs->fd_left, MANY_CAP);
    assert_int_equal(open_fds(), fds);
    memset(alive + MANY, 1, 1000);
    env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher);
    memset(alive, 0, MANY);
    expect_many(&e, alive, 6); /* only the new ones */
    assert_int_equal(e.pfs->fd_left, 0);
    for (int pid = MANY_FIRST; pid < MANY_FIRST + MANY; pid++)
        alive[pid - MANY_FIRST] = 1;
    for (int i = 0; i < 1000; i++)
        alive[ended[i] - MANY_FIRST] = 0;
    env_advance(&e, 1 * SEC);
    poll_group(&e, 0);
    assert_int_equal(procfs_group_source_count(src), MANY);
    expect_many(&e, alive, 9);
    assert_int_equal(open_fds(), fds + MANY_CAP);

    /* a pid listed again with the same directory inode is the same process:
     * its stat is not read again (a new process gets a new directory) */
    many_write(e.tmp, (int)procfs_group_source_pid(src, 0), 1);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    if (alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL) != 0)
        alumet_test_log_dump();
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
    assert_int_equal(open_fds(), fds_before); /* every descriptor closed */
}

/* ---- processes: the hand-over from the watcher to a group ---- */

static const char *const hand_over_cfg = "[plugins.procfs.kernel]\nenabled = false\n"
                                         "[plugins.procfs.memory]\nenabled = false\n"
                                         "[plugins.procfs.network]\nenabled = false\n"
                                         "[[plugins.procfs.processes.groups]]\n"
                                         "ppid = 77\n"
                                         "poll_interval = \"2s\"\n";

/* A child of 77 in the tree, written in place (the descriptors kept open on
 * its files read the new text); statm only when mem. */
static void job_write(const char *tmp, int pid, int utime, int stime, uint64_t start, bool mem)
{
    char rel[64], text[512];
    snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
    snprintf(text, sizeof(text),
             "%d (job) S 77 %d %d 0 -1 4194304 100 0 0 0 %d %d 0 0 20 0 1 0 %llu 8388608 "
             "200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
             pid, pid, pid, utime, stime, (unsigned long long)start);
    alumet_test_write_at(tmp, rel, text);
    if (!mem)
        return;
    snprintf(rel, sizeof(rel), "proc/%d/statm", pid);
    alumet_test_write_at(tmp, rel, "2048 300 100 5 0 300 0\n");
}

/* The process has ended: its files read empty, its directory goes. */
static void job_end(const char *tmp, int pid)
{
    char rel[64], path[PATH_MAX];
    snprintf(rel, sizeof(rel), "proc/%d", pid);
    alumet_test_path_join(path, sizeof(path), tmp, rel);
    alumet_test_sync_tree(path, "/nonexistent");
    assert_int_equal(rmdir(path), 0);
}

/* A new process is read once, by the watcher: the group takes its
 * descriptors and what was read, emits nothing for it within half a poll
 * interval (no second read in the same period), then measures its delta
 * against the watcher's read. A process that ends right after discovery (its
 * statm already gone when the group was to keep it) is dropped without a
 * word. */
static void test_watcher_hand_over(void **state)
{
    (void)state;
    struct env e;
    size_t fds_before = open_fds();
    env_setup(&e, "busy-host", "t0", hand_over_cfg);
    size_t fds = open_fds();
    job_write(e.tmp, 9000, 40, 10, 5000, true);
    job_write(e.tmp, 9001, 5, 5, 5001, false);
    /* 9000: 3 memory, 3 CPU time; 9001: CPU time only */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6 + 3);
    expect_u64(&e, (struct query)PROC_CPU(9000, "user"), 400 * MS);
    expect_u64(&e, (struct query)PROC_CPU(9000, "system"), 100 * MS);
    expect_u64(&e, (struct query)PROC_MEM(9000, "resident"), 300ull * 4096);
    expect_u64(&e, (struct query)PROC_CPU(9001, "user"), 50 * MS);
    assert_int_equal(count_metric(&e, "memory_usage"), 3);
    /* 9000 keeps stat and statm open, 9001 is read by path */
    assert_int_equal(open_fds(), fds + 2);
    assert_int_equal(e.pfs->groups[0].n_queue, 2);

    job_end(e.tmp, 9001);
    job_write(e.tmp, 9000, 100, 30, 5000, true);
    env_advance(&e, 999 * MS);
    assert_int_equal(poll_group(&e, 0), 0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[0].source), 2);

    env_advance(&e, 1 * MS);
    assert_int_equal(poll_group(&e, 0), 9);
    expect_u64(&e, (struct query)PROC_CPU(9000, "user"), 600 * MS);
    expect_u64(&e, (struct query)PROC_CPU(9000, "system"), 200 * MS);
    expect_f64(&e, (struct query)PROC_PCT(9000, "user"), 30.0);
    expect_f64(&e, (struct query)PROC_PCT(9000, "total"), 40.0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[0].source), 1);
    assert_int_equal(open_fds(), fds + 2);

    /* 9000 ends, a new process takes its pid (a new start time, a new
     * directory): the group drops the old one, the watcher hands over the new
     * one, measured from its own start */
    job_end(e.tmp, 9000);
    job_write(e.tmp, 9000, 3, 1, 7000, true);
    env_advance(&e, 1 * SEC);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(9000, "user"), 30 * MS);
    expect_u64(&e, (struct query)PROC_CPU(9000, "system"), 10 * MS);
    assert_int_equal(poll_group(&e, 0), 0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[0].source), 1);
    job_write(e.tmp, 9000, 5, 1, 7000, true);
    env_advance(&e, 2 * SEC);
    assert_int_equal(poll_group(&e, 0), 9);
    expect_u64(&e, (struct query)PROC_CPU(9000, "user"), 20 * MS);
    assert_int_equal(open_fds(), fds + 2);
    if (alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL) != 0)
        alumet_test_log_dump();
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
    assert_int_equal(open_fds(), fds_before); /* every descriptor closed */
}

/* The tree is the agent's own pid namespace when "self" and pid 1 name the
 * same ns/pid (the kernel's nsfs inode; here one file with two names, or two
 * files when same is false), with the namespace's last allocated pid in
 * loadavg. Written before the plugin starts (it checks at its start). */
static void quiet_tree(const char *tmp, bool same, int last_pid)
{
    char a[PATH_MAX], b[PATH_MAX], text[64];
    alumet_test_write_at(tmp, "proc/1/ns/pid", "");
    alumet_test_path_join(a, sizeof(a), tmp, "proc/1/ns/pid");
    alumet_test_path_join(b, sizeof(b), tmp, "proc/self/ns");
    assert_int_equal(mkdir(b, 0755), 0);
    alumet_test_path_join(b, sizeof(b), tmp, "proc/self/ns/pid");
    if (same)
        assert_int_equal(link(a, b), 0);
    else
        alumet_test_write_file(b, "");
    snprintf(text, sizeof(text), "0.08 0.05 0.01 1/133 %d\n", last_pid);
    alumet_test_write_at(tmp, "proc/loadavg", text);
}

static void quiet_last_pid(const char *tmp, int last_pid)
{
    char text[64];
    snprintf(text, sizeof(text), "0.08 0.05 0.01 2/134 %d\n", last_pid);
    alumet_test_write_at(tmp, "proc/loadavg", text);
}

/* In the agent's own pid namespace the watcher lists /proc only when a pid
 * was allocated since its last two listings (the last field of loadavg), and
 * at least once every 10 refreshes; elsewhere at every refresh. A process
 * that appears without a new pid (impossible on a real /proc) shows which
 * refreshes listed. */
static void test_watcher_quiet(void **state)
{
    (void)state;
    struct env e;
    assert_int_equal(env_init(&e, "busy-host", hand_over_cfg, &(struct alumet_error){0}), 0);
    env_step(&e, "t0");
    quiet_tree(e.tmp, true, 5100);
    env_start(&e);
    job_write(e.tmp, 9000, 40, 10, 5000, true);
    quiet_last_pid(e.tmp, 9000);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    /* the second listing confirms the first (a fork in progress during the
     * first would be in /proc now) */
    job_write(e.tmp, 9001, 5, 5, 5001, true);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(9001, "user"), 50 * MS);
    /* then no pid allocated: no listing */
    job_write(e.tmp, 9002, 7, 0, 5002, true);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    /* a pid allocated: listed at once, and once more to confirm */
    quiet_last_pid(e.tmp, 9002);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(9002, "user"), 70 * MS);
    job_write(e.tmp, 9003, 1, 0, 5003, true);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    /* quiet: 9 refreshes skip the listing, the 10th lists */
    job_write(e.tmp, 9004, 2, 0, 5004, true);
    for (int i = 0; i < 9; i++)
        assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(9004, "user"), 20 * MS);
    /* a process that could not be read (not ended: its stat unparsable) is
     * read again at the next refresh, which lists /proc */
    alumet_test_write_at(e.tmp, "proc/9005/stat", "9005 (job\n");
    quiet_last_pid(e.tmp, 9005);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    job_write(e.tmp, 9005, 3, 0, 5005, true);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    assert_int_equal(e.pfs->groups[0].n_queue, 6);
    env_done(&e);

    /* "self" in another pid namespace than pid 1 of the tree: its loadavg
     * is not the agent's; every refresh lists */
    assert_int_equal(env_init(&e, "busy-host", hand_over_cfg, &(struct alumet_error){0}), 0);
    env_step(&e, "t0");
    quiet_tree(e.tmp, false, 9000);
    env_start(&e);
    for (int pid = 9000; pid < 9004; pid++) {
        job_write(e.tmp, pid, 1, 0, 5000 + pid, true);
        assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    }
    env_done(&e);
}

/* The state kept per process: a regression of these sizes costs
 * 10,000 × the difference at 10,000 processes (bench/README.md, "Memory at
 * 10,000 processes, second pass"). */
static void test_state_sizes(void **state)
{
    (void)state;
    assert_true(sizeof(struct procfs_proc) <= 64);
    assert_int_equal(sizeof(struct procfs_seen), 16);
}

/* The points of the process at index i of the group's array, in order:
 * 3 memory, 3 CPU time, 3 CPU %. */
static void expect_proc_block(struct env *e, size_t first, pid_t pid)
{
    static const char *const order[9] = {"memory_usage",   "memory_usage",   "memory_usage",
                                         "cpu_time_delta", "cpu_time_delta", "cpu_time_delta",
                                         "cpu_percent",    "cpu_percent",    "cpu_percent"};
    for (size_t i = 0; i < 9; i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, first + i);
        const struct alumet_metric *m =
            alumet_registry_get(alumet_pipeline_registry(e->p), p->metric);
        assert_string_equal(m->name, order[i]);
        assert_int_equal(p->consumer.num, (uint32_t)pid);
    }
}

/* A group of the watcher reads and emits each process in one pass: a
 * process that has gone (9101) or whose pid now names another process
 * (9102, read by path) is dropped where it stands, the others keep their
 * order and their previous values, and the descriptors of those that have
 * gone are free for the next poll, not for the processes after them. */
static void test_group_one_pass(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", hand_over_cfg);
    procfs_fd_cap_set(e.pfs, 12); /* 6 descriptors: 3 processes kept open */
    e.pfs->fd_raise = false;
    job_write(e.tmp, 9100, 10, 10, 5000, true);
    job_write(e.tmp, 9101, 20, 10, 5001, true);
    job_write(e.tmp, 9102, 30, 10, 5002, true);
    job_write(e.tmp, 9103, 40, 10, 5003, true);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 4 * 6);
    struct procfs_group_source *src = e.pfs->groups[0].source;
    env_advance(&e, 2 * SEC);
    assert_int_equal(poll_group(&e, 0), 4 * 9);
    assert_int_equal(procfs_group_source_count(src), 4);
    pid_t order[4];
    for (size_t i = 0; i < 4; i++)
        order[i] = procfs_group_source_pid(src, i);
    /* the last one listed is read by path (the budget held 3) */
    assert_int_equal(e.pfs->fd_left, 0);

    /* 2 s later: 9101 has ended, 9102 is another process (a new start time),
     * the others ran 1 s user (100 ticks) and 0.5 s system */
    job_end(e.tmp, 9101);
    job_end(e.tmp, 9102);
    job_write(e.tmp, 9102, 1, 1, 9999, true);
    job_write(e.tmp, 9100, 110, 60, 5000, true);
    job_write(e.tmp, 9103, 140, 60, 5003, true);
    env_advance(&e, 2 * SEC);
    assert_int_equal(poll_group(&e, 0), 2 * 9);
    assert_int_equal(procfs_group_source_count(src), 2);
    size_t k = 0;
    for (size_t i = 0; i < 4; i++) {
        if (order[i] != 9100 && order[i] != 9103)
            continue;
        assert_int_equal(procfs_group_source_pid(src, k), order[i]);
        expect_proc_block(&e, 9 * k, order[i]);
        k++;
    }
    for (pid_t pid = 9100; pid <= 9103; pid += 3) {
        expect_u64(&e, (struct query)PROC_CPU(pid, "user"), 1000 * MS);
        expect_u64(&e, (struct query)PROC_CPU(pid, "system"), 500 * MS);
        /* 100 × 1 s / 2 s / 2 CPUs */
        expect_f64(&e, (struct query)PROC_PCT(pid, "user"), 25.0);
        expect_f64(&e, (struct query)PROC_PCT(pid, "total"), 37.5);
        expect_u64(&e, (struct query)PROC_MEM(pid, "resident"), 300ull * 4096);
    }
    /* the two processes gone gave back what they held, after the poll */
    size_t kept_gone = 0;
    for (size_t i = 0; i < 4; i++)
        kept_gone += (order[i] == 9101 || order[i] == 9102) && i < 3;
    assert_int_equal(e.pfs->fd_left, 2 * (long)kept_gone);

    /* again, against the values of this poll */
    job_write(e.tmp, 9100, 120, 60, 5000, true);
    job_write(e.tmp, 9103, 140, 70, 5003, true);
    env_advance(&e, 2 * SEC);
    assert_int_equal(poll_group(&e, 0), 2 * 9);
    expect_u64(&e, (struct query)PROC_CPU(9100, "user"), 100 * MS);
    expect_u64(&e, (struct query)PROC_CPU(9100, "system"), 0);
    expect_u64(&e, (struct query)PROC_CPU(9103, "user"), 0);
    expect_u64(&e, (struct query)PROC_CPU(9103, "system"), 100 * MS);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

/* The limit of open files that the watcher asks for (plugins/procfs/README.md,
 * "Open files"). */
static void test_fd_limit_rule(void **state)
{
    (void)state;
    /* the cap (half the limit) holds 1.5 times the processes' 2 descriptors */
    assert_int_equal(procfile_fd_limit_for(300, 20000, 1048576), 20000);
    assert_int_equal(procfile_fd_limit_for(3333, 20000, 1048576), 20000);
    /* else 8 per process, in steps of 1024 */
    assert_int_equal(procfile_fd_limit_for(3334, 20000, 1048576), 27648);
    assert_int_equal(procfile_fd_limit_for(10000, 20000, 1048576), 80896);
    assert_int_equal(procfile_fd_limit_for(10000, 1024, 1048576), 80896);
    /* at most fs.nr_open, never lower than now */
    assert_int_equal(procfile_fd_limit_for(10000, 20000, 50000), 50000);
    assert_int_equal(procfile_fd_limit_for(200000, 20000, 1048576), 1048576);
    assert_int_equal(procfile_fd_limit_for(10000, 2000000, 1048576), 2000000);
    assert_int_equal(procfile_fd_limit_for(10000, 20000, 10000), 20000);
}

/* ---- processes: event strategy ---- */

static const char *const event_strategy = "[plugins.procfs.kernel]\nenabled = false\n"
                                          "[plugins.procfs.memory]\nenabled = false\n"
                                          "[plugins.procfs.network]\nenabled = false\n"
                                          "[plugins.procfs.processes]\n"
                                          "strategy = \"event\"\n";

static void publish(struct env *e, enum alumet_event_kind kind, enum alumet_consumer_kind ck,
                    uint32_t pid)
{
    struct alumet_consumer c = {ck, pid, ck == ALUMET_CONSUMER_CGROUP ? "/user.slice" : NULL, NULL};
    alumet_pipeline_publish(e->p, kind, &c, 1);
}

static size_t poll_events(struct env *e)
{
    return env_poll(e, &procfs_group_source_ops, e->pfs->events.source);
}

/* A process of the tree in /proc/<pid>/stat, with its children's times. */
static void tree_write(const char *tmp, int pid, int ppid, int utime, int stime, int cutime,
                       int cstime, uint64_t start)
{
    char rel[64], text[512];
    snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
    snprintf(text, sizeof(text),
             "%d (job) S %d %d %d 0 -1 4194304 100 0 0 0 %d %d %d %d 20 0 1 0 %llu 8388608 "
             "200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
             pid, ppid, pid, pid, utime, stime, cutime, cstime, (unsigned long long)start);
    alumet_test_write_at(tmp, rel, text);
    snprintf(rel, sizeof(rel), "proc/%d/statm", pid);
    alumet_test_write_at(tmp, rel, "2048 300 100 5 0 300 0\n");
}

/* A group that measures descendants reads every process before it emits
 * any: a child found gone (9301, after its parent in the group) is settled
 * first, so its parent, which has waited for it, takes back what the child
 * had reported from its children's times in the same poll (read and emitted
 * in one pass, the parent would report the child's 0.3 s user and 0.1 s
 * system again). */
static void test_group_two_phase(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", event_strategy);
    tree_write(e.tmp, 9300, 1, 10, 0, 0, 0, 6000);
    alumet_test_write_at(e.tmp, "proc/9300/task/9300/children", "9301 ");
    tree_write(e.tmp, 9301, 9300, 30, 10, 0, 0, 6001);
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 9300);
    assert_int_equal(poll_events(&e), 2 * 6);
    struct procfs_group_source *src = e.pfs->events.source;
    assert_int_equal(procfs_group_source_pid(src, 0), 9300);
    assert_int_equal(procfs_group_source_pid(src, 1), 9301);
    expect_u64(&e, (struct query)PROC_CPU(9300, "user"), 100 * MS);
    expect_u64(&e, (struct query)PROC_CPU(9301, "user"), 300 * MS);
    expect_u64(&e, (struct query)PROC_CPU(9301, "system"), 100 * MS);

    /* 1 s later 9301 has run 0.2 s user more and ended; 9300 ran 2 ticks and
     * waited for it: its children's times are 9301's final 50 and 10 ticks */
    job_end(e.tmp, 9301);
    alumet_test_write_at(e.tmp, "proc/9300/task/9300/children", "");
    tree_write(e.tmp, 9300, 1, 12, 0, 50, 10, 6000);
    env_advance(&e, 1 * SEC);
    assert_int_equal(poll_events(&e), 9);
    assert_int_equal(procfs_group_source_count(src), 1);
    expect_proc_block(&e, 0, 9300);
    /* own 2 ticks + 9301's last 20 user ticks; its last system ticks: none */
    expect_u64(&e, (struct query)PROC_CPU(9300, "user"), 220 * MS);
    expect_u64(&e, (struct query)PROC_CPU(9300, "system"), 0);
    expect_f64(&e, (struct query)PROC_PCT(9300, "user"), 11.0);

    /* the credit is spent: the next growth of the children's times counts */
    tree_write(e.tmp, 9300, 1, 12, 0, 60, 10, 6000);
    env_advance(&e, 1 * SEC);
    assert_int_equal(poll_events(&e), 9);
    expect_u64(&e, (struct query)PROC_CPU(9300, "user"), 100 * MS);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

static void test_event_strategy(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "exec-tree", "t0", event_strategy);
    assert_null(e.pfs->watcher);
    assert_int_equal(poll_events(&e), 0);

    /* exec announces its child (other consumer kinds are not for procfs) */
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_CGROUP, 0);
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 7000);
    assert_int_equal(e.pfs->events.n_queue, 1);
    /* the child and its descendants, found through task/<tid>/children */
    assert_int_equal(poll_events(&e), 3 * 6);
    struct procfs_group_source *src = e.pfs->events.source;
    assert_int_equal(procfs_group_source_count(src), 3);
    assert_int_equal(procfs_group_source_pid(src, 0), 7000);
    assert_int_equal(procfs_group_source_pid(src, 1), 7001);
    assert_int_equal(procfs_group_source_pid(src, 2), 7002);
    assert_int_equal(count_consumer(&e, 6999), 0); /* the agent itself is not measured */
    expect_u64(&e, (struct query)PROC_CPU(7000, "user"), 0);
    expect_u64(&e, (struct query)PROC_CPU(7001, "user"), 20 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7001, "system"), 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7002, "user"), 100 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7002, "system"), 20 * MS);

    /* 1 s later a second compiler runs */
    env_advance(&e, 1 * SEC);
    env_step(&e, "t1");
    assert_int_equal(poll_events(&e), 3 * 9 + 6);
    assert_int_equal(procfs_group_source_count(src), 4);
    expect_u64(&e, (struct query)PROC_CPU(7001, "user"), 10 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7002, "user"), 500 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7002, "system"), 20 * MS);
    expect_f64(&e, (struct query)PROC_PCT(7002, "user"), 25.0);
    expect_f64(&e, (struct query)PROC_PCT(7002, "system"), 1.0);
    expect_f64(&e, (struct query)PROC_PCT(7002, "total"), 26.0);
    expect_u64(&e, (struct query)PROC_CPU(7003, "user"), 300 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7003, "system"), 30 * MS);

    /* t2: 7002 ended and make waited for it and for a process too short to be
     * seen: make reports its own time, the rest of 7002 and the short one
     * (1 + 20 + 20 ticks user, 1 + 1 + 1 system), not what 7002 reported before */
    env_advance(&e, 1 * SEC);
    env_step(&e, "t2");
    assert_int_equal(poll_events(&e), 3 * 9);
    assert_int_equal(procfs_group_source_count(src), 3);
    assert_int_equal(count_consumer(&e, 7002), 0);
    expect_u64(&e, (struct query)PROC_CPU(7001, "user"), 410 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7001, "system"), 30 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7003, "user"), 400 * MS);
    expect_u64(&e, (struct query)PROC_CPU(7003, "system"), 10 * MS);

    /* END: the announced process is forgotten */
    publish(&e, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 7000);
    poll_events(&e);
    assert_int_equal(count_consumer(&e, 7000), 0);
    assert_int_equal(procfs_group_source_count(src), 2);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

/* Without CONFIG_PROC_CHILDREN: the descendants are found by their ppid. */
static void test_event_ppid_scan(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "exec-tree", "t0", event_strategy);
    static const char *const files[] = {"6999", "7000", "7001", "7002"};
    for (size_t i = 0; i < 4; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/proc/%s/task/%s/children", e.tmp, files[i], files[i]);
        assert_int_equal(unlink(path), 0);
    }
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 7000);
    assert_int_equal(poll_events(&e), 3 * 6);
    assert_true(e.pfs->no_children_file);
    struct procfs_group_source *src = e.pfs->events.source;
    assert_int_equal(procfs_group_source_count(src), 3);
    assert_int_equal(procfs_group_source_pid(src, 0), 7000);
    expect_u64(&e, (struct query)PROC_CPU(7002, "user"), 100 * MS);
    assert_int_equal(count_consumer(&e, 6999), 0);
    env_done(&e);
}

/* An announced process that does not exist is skipped without noise. */
static void test_event_unknown_pid(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "exec-tree", "t0", event_strategy);
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 31337);
    assert_int_equal(poll_events(&e), 0);
    assert_int_equal(procfs_group_source_count(e.pfs->events.source), 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

/* ---- processes: the watcher under exec and watch ---- */

static const char *const watcher_exec = "[plugins.procfs.kernel]\nenabled = false\n"
                                        "[plugins.procfs.memory]\nenabled = false\n"
                                        "[plugins.procfs.network]\nenabled = false\n";

/* exec_strategy "event" (the default): until the agent announces a process,
 * the watcher measures every process; from the announcement on, only the
 * announced process and its descendants are measured, and /proc is no longer
 * listed. */
static void test_exec_strategy_event(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "exec-tree", "t0", watcher_exec);
    assert_int_equal(e.pfs->cfg.strategy, PROCFS_STRATEGY_WATCHER);
    assert_non_null(e.pfs->watcher);
    assert_non_null(e.pfs->events.source);

    /* as `run`: the watcher hands the 4 processes to the group */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 4 * 6);
    assert_int_equal(e.pfs->groups[0].n_queue, 4);
    assert_int_equal(poll_group(&e, 0), 0); /* measured by the watcher at this instant */
    assert_int_equal(procfs_group_source_count(e.pfs->groups[0].source), 4);
    assert_int_equal(poll_events(&e), 0);
    assert_false(atomic_load(&e.pfs->exec_mode));

    /* exec announces its child 7000 (a cgroup consumer changes nothing) */
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_CGROUP, 0);
    assert_false(atomic_load(&e.pfs->exec_mode));
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 7000);
    assert_true(atomic_load(&e.pfs->exec_mode));
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "measuring process 7000, announced by the agent, and "
                                           "its descendants; the other processes are not measured",
                                           "exec_strategy = \"watcher\""),
                     1);

    /* 1 s later 7003 has started: the watcher does not list /proc anymore, the
     * group forgets its processes, the events group measures 7000 and its
     * descendants (since they started) and not the agent 6999 */
    env_advance(&e, 1 * SEC);
    env_step(&e, "t1");
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    assert_int_equal(e.pfs->groups[0].n_queue, 0);
    assert_int_equal(poll_group(&e, 0), 0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[0].source), 0);
    assert_int_equal(poll_events(&e), 4 * 6);
    struct procfs_group_source *src = e.pfs->events.source;
    assert_int_equal(procfs_group_source_count(src), 4);
    assert_int_equal(procfs_group_source_pid(src, 0), 7000);
    assert_int_equal(procfs_group_source_pid(src, 3), 7003);
    assert_int_equal(count_consumer(&e, 6999), 0);
    expect_u64(&e, (struct query)PROC_CPU(7003, "user"), 300 * MS);

    /* a second announcement is measured too, without a second message */
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 6999);
    assert_int_equal(poll_events(&e), 5 * 6); /* at the same instant: no cpu_percent */
    assert_int_equal(procfs_group_source_count(src), 5);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "announced by the agent", NULL), 1);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);

    /* a restart measures every process again until the next announcement */
    env_stop(&e);
    assert_false(atomic_load(&e.pfs->exec_mode));
    env_done(&e);
}

/* exec_strategy "watcher": upstream's behaviour, every process is measured
 * under exec too; there is no events group. */
static void test_exec_strategy_watcher(void **state)
{
    (void)state;
    struct env e;
    char extra[512];
    snprintf(extra, sizeof(extra), "%s[plugins.procfs.processes]\nexec_strategy = \"watcher\"\n",
             watcher_exec);
    env_setup(&e, "exec-tree", "t0", extra);
    assert_int_equal(e.pfs->cfg.exec_strategy, PROCFS_STRATEGY_WATCHER);
    assert_null(e.pfs->events.source);
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 4 * 6);
    publish(&e, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, ALUMET_CONSUMER_PROCESS, 7000);
    assert_false(atomic_load(&e.pfs->exec_mode));
    env_advance(&e, 1 * SEC);
    env_step(&e, "t1");
    /* the new process 7003 is found by the watcher; the group measures all 5 */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(7003, "user"), 300 * MS);
    poll_group(&e, 0);
    assert_int_equal(procfs_group_source_count(e.pfs->groups[0].source), 5);
    assert_int_equal(count_consumer(&e, 6999), 6 + 3);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "announced by the agent", NULL), 0);
    env_done(&e);
}

/* ---- permissions ---- */

static void test_hidepid_mount(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "hidepid", "t0", NULL);
    if (alumet_test_log_count(ALUMET_LOG_WARN, "hidepid=invisible", NULL) != 1)
        alumet_test_log_dump();
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "/proc is mounted with 'hidepid=invisible'",
                                           "'mount -o remount,hidepid=0 /proc'"),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "CAP_SYS_PTRACE", NULL), 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    /* the one process of our user is measured */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6);
    expect_u64(&e, (struct query)PROC_CPU(1234, "user"), 200 * MS);
    env_advance(&e, 2 * SEC);
    assert_int_equal(poll_group(&e, 0), 9);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    env_done(&e);
}

/* No hidepid on the mount: no warning. */
static void test_no_hidepid(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", NULL);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

/* Run as an unprivileged user (root passes every permission check) on a
 * copy where the directory of process 4300 is unreadable. Returns the exit
 * status of the check: 0 when one warning names hidepid and the others are
 * measured. */
static int unreadable_check(struct env *e)
{
    size_t n = env_poll(e, &procfs_watcher_source_ops, e->pfs->watcher);
    bool measured = count_consumer(e, 4242) == 6 && count_consumer(e, 4300) == 0;
    env_poll(e, &procfs_group_source_ops, e->pfs->groups[0].source);
    env_poll(e, &procfs_watcher_source_ops, e->pfs->watcher); /* no second warning */
    int warnings =
        alumet_test_log_count(ALUMET_LOG_WARN, "hidepid", "mount -o remount,hidepid=0 /proc");
    if (!measured || warnings != 1 || alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL) != 1 ||
        n == 0) {
        alumet_test_log_dump();
        return 1;
    }
    return 0;
}

static void test_unreadable_process(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0",
              "[plugins.procfs.kernel]\nenabled = false\n"
              "[plugins.procfs.memory]\nenabled = false\n"
              "[plugins.procfs.network]\nenabled = false\n");
    char dir[PATH_MAX];
    alumet_test_path_join(dir, sizeof(dir), e.tmp, "proc/4300");
    assert_int_equal(chmod(dir, 0), 0);
    assert_int_equal(chmod(e.tmp, 0755), 0);

    if (geteuid() != 0) {
        assert_int_equal(unreadable_check(&e), 0);
    } else {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* nobody: the permission checks of the kernel apply */
            if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                _exit(2);
            _exit(unreadable_check(&e));
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    chmod(dir, 0755);
    env_done(&e);
}

/* ---- lifecycle ---- */

static void test_restart(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", NULL);
    env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel);
    env_stop(&e);
    assert_int_equal(e.pfs->proc.fd, -1);
    /* start → stop → start */
    env_start(&e);
    assert_int_equal(env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel), 0);
    env_step(&e, "t1");
    assert_int_equal(env_poll(&e, &procfs_kernel_source_ops, e.pfs->kernel), 31);
    /* the default group measures every process of the tree */
    assert_int_equal(env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher), 6 * 6);
    env_advance(&e, 2 * SEC);
    assert_int_equal(poll_group(&e, 0), 6 * 9);
    env_done(&e);
}

/* A process source that is paused takes a new baseline when it resumes. */
static void test_process_reset(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "busy-host", "t0", watcher_groups);
    env_poll(&e, &procfs_watcher_source_ops, e.pfs->watcher);
    poll_group(&e, 0);
    procfs_group_source_ops.reset(e.pfs->groups[0].source);
    env_advance(&e, 5 * SEC);
    env_step(&e, "t1");
    assert_int_equal(poll_group(&e, 0), 3); /* memory only */
    env_advance(&e, 5 * SEC);
    assert_int_equal(poll_group(&e, 0), 9);
    expect_u64(&e, (struct query)PROC_CPU(4300, "user"), 0);
    expect_f64(&e, (struct query)PROC_PCT(4300, "total"), 0.0);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo_metric_names),
        cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_pid_stat_parse),
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_missing_proc_root),
        cmocka_unit_test(test_kernel),
        cmocka_unit_test(test_kernel_clock_ticks),
        cmocka_unit_test(test_kernel_offline_cpu),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_network),
        cmocka_unit_test(test_network_counter_reset),
        cmocka_unit_test(test_watcher_groups),
        cmocka_unit_test(test_watcher_pid_reuse_first),
        cmocka_unit_test(test_accurate_memory),
        cmocka_unit_test(test_many_processes),
        cmocka_unit_test(test_watcher_hand_over),
        cmocka_unit_test(test_watcher_quiet),
        cmocka_unit_test(test_state_sizes),
        cmocka_unit_test(test_group_one_pass),
        cmocka_unit_test(test_group_two_phase),
        cmocka_unit_test(test_fd_limit_rule),
        cmocka_unit_test(test_event_strategy),
        cmocka_unit_test(test_event_ppid_scan),
        cmocka_unit_test(test_event_unknown_pid),
        cmocka_unit_test(test_exec_strategy_event),
        cmocka_unit_test(test_exec_strategy_watcher),
        cmocka_unit_test(test_hidepid_mount),
        cmocka_unit_test(test_no_hidepid),
        cmocka_unit_test(test_unreadable_process),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_process_reset),
    };
    return alumet_run_tests(tests);
}
