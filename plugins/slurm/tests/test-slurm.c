/* SPDX-License-Identifier: MIT */
/* Tests of the slurm plugin on cgroup trees written by the tests: Slurm's
 * cgroup v2 layout (/sys/fs/cgroup/system.slice/slurmstepd.scope/job_<id>/
 * step_<n>/{user,slurm}/task_<t>) and its v1 layout
 * (/sys/fs/cgroup/<controller>/slurm/uid_<u>/job_<id>/step_<n>/task_<t>).
 * The plugin is started on the tree (proc_root = sys_root = the tree) into
 * a pipeline that is never run, and its source is polled directly. The
 * expected points are written out in full: every point, every attribute,
 * in order. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "cgroups-test-env.h"
#include "slurm.h"

extern const struct alumet_plugin alumet_plugin_slurm;

#define SCOPE "sys/fs/cgroup/system.slice/slurmstepd.scope"

/* Slurm 23 on cgroup v2: two jobs, each with steps; job 10707 has step 2
 * with its sub-steps user (task 0) and slurm (slurmstepd), and the batch
 * step; job 10708 has a step 0; slurmstepd.scope/system is slurmstepd's
 * own cgroup; ssh.service is not Slurm's; the last job id does not fit in
 * 64 bits. Each cgroup has memory.current = a number that names it. */
static void tree_v2(const char *dir)
{
    static const struct {
        const char *rel, *mem;
    } cgs[] = {
        {SCOPE "/job_10707", "1000\n"},
        {SCOPE "/job_10707/step_2", "1200\n"},
        {SCOPE "/job_10707/step_2/user", "1210\n"},
        {SCOPE "/job_10707/step_2/user/task_0", "1211\n"},
        {SCOPE "/job_10707/step_2/slurm", "1220\n"},
        {SCOPE "/job_10707/step_batch", "1300\n"},
        {SCOPE "/job_10708", "2000\n"},
        {SCOPE "/job_10708/step_0", "2100\n"},
        {SCOPE "/system", "3000\n"},
        {"sys/fs/cgroup/system.slice/ssh.service", "4000\n"},
        {SCOPE "/job_99999999999999999999999", "5000\n"},
    };
    char rel[512];
    alumet_test_write_at(dir, "proc/self/mountinfo", CGTEST_V2_MOUNT);
    alumet_test_write_at(dir, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    alumet_test_write_at(dir, "sys/devices/system/cpu/online", "0-3\n");
    for (size_t i = 0; i < sizeof(cgs) / sizeof(cgs[0]); i++) {
        snprintf(rel, sizeof(rel), "%s/memory.current", cgs[i].rel);
        alumet_test_write_at(dir, rel, cgs[i].mem);
    }
}

/* Slurm on cgroup v1 (task/cgroup): cpuacct and memory hierarchies, user
 * 1000, job 5, step 0 with task 1, and the batch step; and job 6 under the
 * root "slurm_<node>" of a Slurm built with --enable-multiple-slurmd
 * (Debian's). */
static void tree_v1(const char *dir)
{
    alumet_test_write_at(dir, "proc/self/mountinfo", CGTEST_V1_MOUNTS);
    alumet_test_write_at(dir, "sys/devices/system/cpu/online", "0-1\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/release_agent", "");
    alumet_test_write_at(dir, "sys/fs/cgroup/memory/release_agent", "");
#define CPU "sys/fs/cgroup/cpu,cpuacct/slurm/uid_1000/job_5"
#define MEM "sys/fs/cgroup/memory/slurm/uid_1000/job_5"
    alumet_test_write_at(dir, CPU "/cpuacct.usage", "1000000000\n");
    alumet_test_write_at(dir, CPU "/step_0/cpuacct.usage", "600000000\n");
    alumet_test_write_at(dir, CPU "/step_0/task_1/cpuacct.usage", "500000000\n");
    alumet_test_write_at(dir, CPU "/step_batch/cpuacct.usage", "400000000\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/cpu,cpuacct/slurm/cpuacct.usage", "9000000000\n");
    alumet_test_write_at(dir, MEM "/memory.usage_in_bytes", "8192\n");
    alumet_test_write_at(dir, MEM "/step_0/memory.usage_in_bytes", "4096\n");
    alumet_test_write_at(dir, "sys/fs/cgroup/memory/slurm_n1/uid_1001/job_6/memory.usage_in_bytes",
                         "16384\n");
}

/* no scontrol unless the test gives one (a real one may be installed) */
#define SCONTROL(section) (strstr(section, "scontrol_path") ? "" : "scontrol_path = \"\"\n")

static const struct cgtest_plugin plugin = {&alumet_plugin_slurm, "slurm", cgtest_family_head,
                                            cgtest_line_attrs};

static void env_setup(struct cgtest_env *e, void (*tree)(const char *), const char *section)
{
    alumet_test_log_capture("debug");
    cgtest_setup(e, &plugin, &(struct cgtest_setup){.tree = tree, .extra = SCONTROL(section)},
                 section);
}

#define J "/system.slice/slurmstepd.scope/job_1070"
#define JOB_LINES                                                                                  \
    "memory_usage " J "7 job_id=10707(u64) 1000\n"                                                 \
    "memory_usage " J "8 job_id=10708(u64) 2000\n"
#define STEP_LINES                                                                                 \
    "memory_usage " J "7/step_2 job_id=10707(u64) step=2 1200\n"                                   \
    "memory_usage " J "7/step_batch job_id=10707(u64) step=batch 1300\n"                           \
    "memory_usage " J "8/step_0 job_id=10708(u64) step=0 2100\n"
#define SUBSTEP_LINES                                                                              \
    "memory_usage " J "7/step_2/slurm job_id=10707(u64) step=2 sub_step=slurm 1220\n"              \
    "memory_usage " J "7/step_2/user job_id=10707(u64) step=2 sub_step=user 1210\n"
#define TASK_LINES                                                                                 \
    "memory_usage " J "7/step_2/user/task_0 job_id=10707(u64) step=2 sub_step=user task=0 1211\n"

/* The lines of text, sorted as cgtest_poll sorts them (into out). */
static const char *sorted_lines(const char *text, char *out, size_t size)
{
    char *copy = strdup(text), *lines[64], *save = NULL;
    size_t n = 0;
    assert_non_null(copy);
    for (char *l = strtok_r(copy, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, n, sizeof(*lines), cgtest_cmp_lines);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s\n", lines[i]);
    }
    free(copy);
    return out;
}

static void check_level(const char *level, const char *want)
{
    char sorted[8192];
    struct cgtest_env e;
    char section[256];
    snprintf(section, sizeof(section),
             "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
             "jobs_monitoring_level = \"%s\"\n",
             level);
    env_setup(&e, tree_v2, section);
    cgtest_expect_dump(cgtest_poll(&e), sorted_lines(want, sorted, sizeof(sorted)));
    cgtest_done(&e);
}

/* Each level measures the cgroups down to it, with the attributes of their
 * depth; steps of two jobs with the same name are both measured (upstream
 * rejected the second source as a duplicate). */
static void test_v2_levels(void **state)
{
    (void)state;
    check_level("job", JOB_LINES);
    check_level("step", JOB_LINES STEP_LINES);
    check_level("substep", JOB_LINES STEP_LINES SUBSTEP_LINES);
    check_level("task", JOB_LINES STEP_LINES SUBSTEP_LINES TASK_LINES);
}

/* ignore_non_jobs = false: the other cgroups too, without attributes; the
 * job id too large for a u64 is not a job (a warning says so). */
static void test_v2_non_jobs(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v2,
              "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = false\n"
              "jobs_monitoring_level = \"job\"\n");
    cgtest_expect_dump(cgtest_poll(&e),
                       JOB_LINES "memory_usage /system.slice/slurmstepd.scope/"
                                 "job_99999999999999999999999 5000\n"
                                 "memory_usage /system.slice/slurmstepd.scope/system 3000\n"
                                 "memory_usage /system.slice/ssh.service 4000\n");
    assert_non_null(
        alumet_test_log_find("cgroup '/system.slice/slurmstepd.scope/job_99999999999999999999999': "
                             "job_id is too large, not a Slurm job"));
    cgtest_done(&e);
}

/* CPU time of a task over two polls: the job attributes come first, then
 * kind. cpu.stat is in µs, the metric in ns. */
static void test_v2_task_cpu(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v2,
              "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
              "jobs_monitoring_level = \"task\"\n");
    const char *task = SCOPE "/job_10707/step_2/user/task_0/cpu.stat";
    alumet_test_write_at(e.tmp, task, "usage_usec 1000\nuser_usec 600\nsystem_usec 400\n");
    cgtest_poll(&e);
    alumet_test_write_at(e.tmp, task, "usage_usec 3000\nuser_usec 1600\nsystem_usec 1400\n");
    e.mono += 1 * CGTEST_SEC;
    e.now += 1 * CGTEST_SEC;
    const char *got = cgtest_poll(&e);
#define TA " job_id=10707(u64) step=2 sub_step=user task=0"
    static const char *const want[] = {
        "cpu_percent " J "7/step_2/user/task_0" TA " kind=system 0.025\n",
        "cpu_percent " J "7/step_2/user/task_0" TA " kind=total 0.05\n",
        "cpu_percent " J "7/step_2/user/task_0" TA " kind=user 0.025\n",
        "cpu_time_delta " J "7/step_2/user/task_0" TA " kind=system 1000000\n",
        "cpu_time_delta " J "7/step_2/user/task_0" TA " kind=total 2000000\n",
        "cpu_time_delta " J "7/step_2/user/task_0" TA " kind=user 1000000\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(got, want[i])) {
            fprintf(stderr, "expected to find:\n%s\nin:\n%s\n", want[i], got);
            fail();
        }
    cgtest_done(&e);
}

/* A Slurm built with --enable-multiple-slurmd (Debian's) names its v2 scope
 * "<node name>_slurmstepd.scope". */
static void tree_v2_multi(const char *dir)
{
#define MSCOPE "sys/fs/cgroup/system.slice/n1_slurmstepd.scope"
    alumet_test_write_at(dir, "proc/self/mountinfo", CGTEST_V2_MOUNT);
    alumet_test_write_at(dir, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    alumet_test_write_at(dir, "sys/devices/system/cpu/online", "0-3\n");
    alumet_test_write_at(dir, MSCOPE "/job_30/memory.current", "3000\n");
    alumet_test_write_at(dir, MSCOPE "/job_30/step_0/user/task_1/memory.current", "3011\n");
    alumet_test_write_at(dir, MSCOPE "/system/memory.current", "9000\n");
}

static void test_v2_multiple_slurmd(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v2_multi,
              "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
              "jobs_monitoring_level = \"task\"\n");
    cgtest_expect_dump(cgtest_poll(&e),
                       "memory_usage /system.slice/n1_slurmstepd.scope/job_30 "
                       "job_id=30(u64) 3000\n"
                       "memory_usage /system.slice/n1_slurmstepd.scope/job_30/step_0/user/"
                       "task_1 job_id=30(u64) step=0 sub_step=user task=1 3011\n");
    cgtest_done(&e);
}

/* v1: user_id and job_id from the path; the step and task directories
 * below the job are steps and tasks (upstream measured them as the job). */
static void test_v1(void **state)
{
    (void)state;
    struct cgtest_env e;
    env_setup(&e, tree_v1,
              "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
              "jobs_monitoring_level = \"task\"\n");
#define U "/slurm/uid_1000/job_5"
#define UA " user_id=1000(u64) job_id=5(u64)"
#define N1 "memory_usage /slurm_n1/uid_1001/job_6 user_id=1001(u64) job_id=6(u64) 16384\n"
    cgtest_expect_dump(cgtest_poll(&e), "memory_usage " U UA " 8192\n"
                                        "memory_usage " U "/step_0" UA " step=0 4096\n" N1);
    alumet_test_write_at(e.tmp, CPU "/cpuacct.usage", "3000000000\n");
    alumet_test_write_at(e.tmp, CPU "/step_0/cpuacct.usage", "1600000000\n");
    alumet_test_write_at(e.tmp, CPU "/step_0/task_1/cpuacct.usage", "1000000000\n");
    alumet_test_write_at(e.tmp, CPU "/step_batch/cpuacct.usage", "400000000\n");
    e.mono += 2 * CGTEST_SEC;
    e.now += 2 * CGTEST_SEC;
    cgtest_expect_dump(cgtest_poll(&e),
                       "cpu_percent " U UA " kind=total 50\n"
                       "cpu_percent " U "/step_0" UA " step=0 kind=total 25\n"
                       "cpu_percent " U "/step_0/task_1" UA " step=0 task=1 kind=total 12.5\n"
                       "cpu_percent " U "/step_batch" UA " step=batch kind=total 0\n"
                       "cpu_time_delta " U UA " kind=total 2000000000\n"
                       "cpu_time_delta " U "/step_0" UA " step=0 kind=total 1000000000\n"
                       "cpu_time_delta " U "/step_0/task_1" UA
                       " step=0 task=1 kind=total 500000000\n"
                       "cpu_time_delta " U "/step_batch" UA " step=batch kind=total 0\n"
                       "memory_usage " U UA " 8192\n"
                       "memory_usage " U "/step_0" UA " step=0 4096\n" N1);
    cgtest_done(&e);

    /* level "step": no task; "job": the job only */
    env_setup(&e, tree_v1,
              "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
              "jobs_monitoring_level = \"job\"\n");
    cgtest_expect_dump(cgtest_poll(&e), "memory_usage " U UA " 8192\n" N1);
    cgtest_done(&e);
}

/* A stand-in for scontrol: job 10707 as Slurm 23 prints it (a name with a
 * space, no account), job 10708 unknown (as when the job has ended); it
 * logs its arguments to <tmp>/calls. */
static void write_scontrol(const char *dir)
{
    char text[2048], path[PATH_MAX];
    snprintf(text, sizeof(text),
             "#!/bin/sh\n"
             "echo \"$@\" >> '%s/calls'\n"
             "case \"$4\" in\n"
             "10707) echo 'JobId=10707 JobName=my job UserId=alice(1000) GroupId=alice(1000) "
             "MCS_label=N/A Priority=4294901759 Nice=0 Account=(null) QOS=normal "
             "JobState=RUNNING Reason=None Dependency=(null) Partition=debug "
             "AllocNode:Sid=n1:4242 NodeList=n1 Command=/home/alice/run.sh' ;;\n"
             "*) echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1 ;;\n"
             "esac\n",
             dir);
    snprintf(path, sizeof(path), "%s/scontrol", dir);
    alumet_test_write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
}

/* The user, name and partition of a job from scontrol, asked once per job
 * (its steps reuse the answer); a job that scontrol does not know keeps the
 * attributes of its path, with a warning. */
static void test_v2_scontrol(void **state)
{
    (void)state;
    struct cgtest_env e;
    char *bin = alumet_test_tmpdir(), section[1024];
    write_scontrol(bin);
    snprintf(section, sizeof(section),
             "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
             "jobs_monitoring_level = \"step\"\nscontrol_path = \"%s/scontrol\"\n",
             bin);
    env_setup(&e, tree_v2, section);
    char sorted[8192];
#define INFO " user_id=1000(u64) user=alice job_name=my job partition=debug"
    cgtest_expect_dump(
        cgtest_poll(&e),
        sorted_lines("memory_usage " J "7 job_id=10707(u64)" INFO " 1000\n"
                     "memory_usage " J "7/step_2 job_id=10707(u64) step=2" INFO " 1200\n"
                     "memory_usage " J "7/step_batch job_id=10707(u64) step=batch" INFO " 1300\n"
                     "memory_usage " J "8 job_id=10708(u64) 2000\n"
                     "memory_usage " J "8/step_0 job_id=10708(u64) step=0 2100\n",
                     sorted, sizeof(sorted)));
    char want[1024];
    snprintf(want, sizeof(want),
             "'%s/scontrol -o show job 10708' exited with status 1 (slurm_load_jobs error: "
             "Invalid job id specified); the points of job 10708 have no user, job_name, account "
             "nor partition attribute",
             bin);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, want, NULL), 1);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/calls", bin);
    char *calls = alumet_test_read_file(path);
    assert_non_null(calls);
    /* once per job, in the order the directories are listed */
    assert_string_equal(sorted_lines(calls, sorted, sizeof(sorted)),
                        "-o show job 10707\n-o show job 10708\n");
    free(calls);
    cgtest_done(&e);
    alumet_test_rmtree(bin);

    /* a missing scontrol: said once, no attribute from it */
    env_setup(&e, tree_v2,
              "poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
              "jobs_monitoring_level = \"job\"\nscontrol_path = \"/nonexistent/scontrol\"\n");
    cgtest_expect_dump(cgtest_poll(&e), JOB_LINES);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "cannot run '/nonexistent/scontrol': "
                                           "not found",
                                           NULL),
                     1);
    cgtest_done(&e);
}

/* annotate_foreign_measurements: the points of other plugins whose consumer
 * is a cgroup in a job (at any depth, v2 or v1 layout) gain the job's
 * attributes that they lack; the others, and those that have a job_id
 * already, are left as they are. */
static void test_annotation(void **state)
{
    (void)state;
    struct cgtest_env e;
    char *bin = alumet_test_tmpdir(), section[1024];
    write_scontrol(bin);
    snprintf(section, sizeof(section),
             "poll_interval = \"5s\"\ndisable_sources = true\nignore_non_jobs = true\n"
             "jobs_monitoring_level = \"job\"\nannotate_foreign_measurements = true\n"
             "scontrol_path = \"%s/scontrol\"\n",
             bin);
    env_setup(&e, tree_v2, section);
    static const char *const paths[] = {
        J "7/step_2/user/task_0",            /* a task: every level */
        J "7/step_2/user/task_0/app/worker", /* below a task: the task's */
        J "8",                               /* a job scontrol does not know */
        "/slurm/uid_1000/job_5/step_0",      /* cgroup v1 */
        "/system.slice/ssh.service",         /* not a job */
        J "7/step_batch",                    /* has a job_id already */
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct alumet_consumer c = {.kind = ALUMET_CONSUMER_CGROUP, .str = paths[i]};
        struct alumet_resource res = {.kind = ALUMET_RESOURCE_LOCAL_MACHINE};
        struct alumet_point *p =
            alumet_buffer_push_u64(e.buf, CGTEST_T0, e.cg->m.memory_usage, &res, &c, 100 + i);
        assert_non_null(p);
        if (i == 5)
            assert_int_equal(alumet_point_add_attr_u64(e.buf, p, "job_id", 42), 0);
        if (i == 1)
            assert_int_equal(alumet_point_add_attr_str(e.buf, p, "user", "keep"), 0);
    }
    struct alumet_error err = {0};
    assert_int_equal(cgroups_annotate_ops.apply(e.cg, e.buf, NULL, &err), 0);
    char sorted[8192];
    cgtest_expect_dump(
        cgtest_dump(&e),
        sorted_lines("memory_usage " J "7/step_2/user/task_0 job_id=10707(u64) step=2 "
                     "sub_step=user task=0" INFO " 100\n"
                     "memory_usage " J "7/step_2/user/task_0/app/worker user=keep "
                     "job_id=10707(u64) step=2 sub_step=user task=0 user_id=1000(u64) "
                     "job_name=my job partition=debug 101\n"
                     "memory_usage " J "8 job_id=10708(u64) 102\n"
                     "memory_usage /slurm/uid_1000/job_5/step_0 user_id=1000(u64) "
                     "job_id=5(u64) step=0 103\n"
                     "memory_usage /system.slice/ssh.service 104\n"
                     "memory_usage " J "7/step_batch job_id=42(u64) 105\n",
                     sorted, sizeof(sorted)));
    cgtest_done(&e);
    alumet_test_rmtree(bin);
}

/* The fields of scontrol's one-line output. */
static void test_scontrol_parse(void **state)
{
    (void)state;
    struct slurm_job_info j = {.job_id = 3};
    assert_int_equal(slurm_job_info_parse("JobId=3 JobName=a=b c UserId=bob(1001) "
                                          "GroupId=bob(1001) Account=physics QOS=normal "
                                          "Partition=gpu,cpu",
                                          &j),
                     0);
    assert_true(j.known);
    assert_int_equal(j.job_id, 3);
    assert_string_equal(j.name, "a=b c");
    assert_string_equal(j.user, "bob");
    assert_true(j.has_uid);
    assert_int_equal(j.uid, 1001);
    assert_string_equal(j.account, "physics");
    assert_string_equal(j.partition, "gpu,cpu");
    free(j.name);
    free(j.user);
    free(j.account);
    free(j.partition);
    j = (struct slurm_job_info){.job_id = 4};
    assert_int_equal(slurm_job_info_parse("JobId=4 Account=(null)", &j), 0);
    assert_null(j.name);
    assert_null(j.user);
    assert_false(j.has_uid);
    assert_null(j.account);
}

static void expect_init_error(const char *section, int code, const char *msg)
{
    cgtest_expect_init_error(&plugin, &(struct cgtest_setup){.extra = SCONTROL(section)}, section,
                             code, msg);
}

static void test_config(void **state)
{
    (void)state;
    expect_init_error("poll_interval = \"5s\"\ndisable_sources = false\n"
                      "jobs_monitoring_level = \"job\"\n",
                      -EINVAL,
                      "plugins.slurm.ignore_non_jobs: missing field 'ignore_non_jobs' (required "
                      "when [plugins.slurm] is present)");
    expect_init_error("poll_interval = \"5s\"\ndisable_sources = false\nignore_non_jobs = true\n"
                      "jobs_monitoring_level = \"jobs\"\n",
                      -EINVAL,
                      "plugins.slurm.jobs_monitoring_level: unknown level 'jobs', expected "
                      "\"job\", \"step\", \"substep\" or \"task\"");
    expect_init_error("disable_sources = false\nignore_non_jobs = true\n"
                      "jobs_monitoring_level = \"job\"\n",
                      -EINVAL, "plugins.slurm.poll_interval: missing field 'poll_interval'");

    /* the default config is accepted; cgroupv1_refresh_interval is applied */
    void *st = NULL;
    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_slurm,
                                             alumet_plugin_slurm.default_config, &root, &st, &err),
                     0);
    struct cgroups *cg = cgtest_family_head(st);
    assert_int_equal(cg->poll_interval, 5 * CGTEST_SEC);
    assert_int_equal(cg->rescan_interval, 30 * CGTEST_SEC);
    assert_false(cg->start_paused);
    alumet_plugin_slurm.free(st);
    toml_free(root);
    assert_int_equal(
        alumet_test_plugin_init(&alumet_plugin_slurm,
                                "[plugins.slurm]\npoll_interval = \"1s\"\ndisable_sources = "
                                "false\nignore_non_jobs = true\njobs_monitoring_level = \"job\"\n"
                                "cgroupv1_refresh_interval = \"7s\"\n"
                                "add_source_in_pause_state = true\n",
                                &root, &st, &err),
        0);
    cg = cgtest_family_head(st);
    assert_int_equal(cg->rescan_interval, 7 * CGTEST_SEC);
    assert_true(cg->start_paused);
    alumet_plugin_slurm.free(st);
    toml_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_v2_levels),
        cmocka_unit_test(test_v2_non_jobs),
        cmocka_unit_test(test_v2_task_cpu),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_v2_scontrol),
        cmocka_unit_test(test_scontrol_parse),
        cmocka_unit_test(test_annotation),
        cmocka_unit_test(test_v2_multiple_slurmd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
