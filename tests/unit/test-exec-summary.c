/* SPDX-License-Identifier: MIT */
/* The energy summary of exec (src/agent/exec-summary.c) as an output of a
 * real pipeline: energies in Wh, mWh, kWh and mJ are summed in joules (1 Wh
 * = 3600 J), other units are left out, and the printed text is exact. */
#include <stdio.h>

#include "agent/exec-summary.h"
#include "alumet-test.h"
#include "core/pipeline.h"
#include "core/registry.h"

static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer con = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

struct meter {
    alumet_metric_id wh, mwh, kwh, mj, watts;
};

/* Each poll: battery 0.25 Wh, cell 1 mWh, grid 0.0005 kWh, cpu 250 mJ, and a
 * power of 40 W that is not an energy. */
static int meter_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                      struct alumet_error *err)
{
    (void)err;
    struct meter *m = data;
    struct alumet_point *p = alumet_buffer_push_f64(buf, now, m->wh, &res, &con, 0.25);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "domain", "battery"), 0);
    assert_non_null(alumet_buffer_push_u64(buf, now, m->mwh, &res, &con, 1));
    assert_non_null(alumet_buffer_push_f64(buf, now, m->kwh, &res, &con, 0.0005));
    assert_non_null(alumet_buffer_push_u64(buf, now, m->mj, &res, &con, 250));
    assert_non_null(alumet_buffer_push_f64(buf, now, m->watts, &res, &con, 40.0));
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops meter_ops = {ALUMET_SOURCE_OPS_V1, meter_poll, NULL, NULL};

static alumet_metric_id add_metric(struct alumet_pipeline *p, const char *name,
                                   enum alumet_value_type type, struct alumet_unit unit)
{
    alumet_metric_id id;
    struct alumet_error err = {0};
    assert_int_equal(alumet__registry_add(alumet__pipeline_registry(p), name, type, unit,
                                          "test energy", &id, &err),
                     0);
    return id;
}

static struct alumet_pipeline *pipeline_new(void)
{
    struct pipeline_settings s = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&s);
    assert_non_null(p);
    return p;
}

/* A source polled only when the test triggers it. */
static void add_source(struct alumet_pipeline *p, const char *name,
                       const struct alumet_source_ops *ops, void *data)
{
    struct alumet_error err = {0};
    struct alumet_source_opts o = {.size = sizeof(o), .manual_only = true};
    assert_int_equal(alumet__pipeline_add_source(p, "t", name, ops, data, &o, &err), 0);
}

/* The summary of a process started at *t0 = now. */
static struct exec_summary *summary_new(alumet_time_ns *t0)
{
    *t0 = alumet_time_now();
    struct exec_summary *sum = exec_summary_new();
    assert_non_null(sum);
    exec_summary_child_started(sum, 0, *t0);
    return sum;
}

/* The summary as an output of p: `polls` polls, then the process ends at
 * `end` (every interval inside its lifetime, whatever the speed of the
 * machine), then p is stopped and freed. */
static void run(struct alumet_pipeline *p, struct exec_summary *sum, int polls, alumet_time_ns end)
{
    struct alumet_error err = {0};
    assert_int_equal(exec_summary_register(sum, p, &err), 0);
    assert_int_equal(alumet__pipeline_start(p, &err), 0);
    for (int i = 0; i < polls; i++)
        assert_int_equal(alumet__pipeline_trigger_all_wait(p, 60 * ALUMET_NSEC_PER_SEC), 1);
    exec_summary_child_ended(sum, end);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    alumet__pipeline_free(p);
}

/* The printed summary of the command argv (exit status 0; data_where NULL:
 * no data line) must be want exactly; sum is freed. */
static void expect_summary(struct exec_summary *sum, const char *const *argv,
                           const char *data_where, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    struct exec_summary_info info = {
        .argv = argv,
        .status = "exit status 0",
        .duration_what = "from the start of the process to its end",
        .data_where = data_where,
    };
    exec_summary_print(sum, f, &info);
    fclose(f);
    if (strcmp(text, want) != 0)
        print_error("got:\n%s", text);
    assert_string_equal(text, want);
    free(text);
    exec_summary_free(sum);
}

static void test_watt_hours_in_joules(void **state)
{
    (void)state;
    struct alumet_pipeline *p = pipeline_new();
    struct meter m;
    m.wh = add_metric(p, "battery_energy", ALUMET_VALUE_F64, ALUMET_UNIT(WATT_HOUR));
    m.mwh = add_metric(p, "cell_energy", ALUMET_VALUE_U64, ALUMET_UNIT_PREFIXED(MILLI, WATT_HOUR));
    m.kwh = add_metric(p, "grid_energy", ALUMET_VALUE_F64, ALUMET_UNIT_PREFIXED(KILO, WATT_HOUR));
    m.mj = add_metric(p, "cpu_energy", ALUMET_VALUE_U64, ALUMET_UNIT_PREFIXED(MILLI, JOULE));
    m.watts = add_metric(p, "cpu_power", ALUMET_VALUE_F64, ALUMET_UNIT(WATT));
    add_source(p, "meter", &meter_ops, &m);
    /* the process's lifetime: 2 s from before the summary exists */
    alumet_time_ns t0;
    struct exec_summary *sum = summary_new(&t0);
    run(p, sum, 2, t0 + 2 * ALUMET_NSEC_PER_SEC);

    const char *const argv[] = {"sleep", "1", NULL};
    /* two polls over 2 s: battery 0.5 Wh = 1800 J (900 W); cell 2 mWh =
     * 7.2 J (3.6 W); grid 0.001 kWh = 3600 J (1800 W); cpu 500 mJ (0.25 W);
     * rows in the order of the metrics */
    static const char want[] =
        "\n"
        " Energy summary of 'sleep 1' (exit status 0):\n"
        "\n"
        "          2.000 s   duration (from the start of the process to its end)\n"
        "\n"
        "           energy    avg power   metric                                   domain\n"
        "          1.800 kJ    900.000 W   battery_energy                           battery\n"
        "          7.200 J       3.600 W   cell_energy                              local_machine\n"
        "          3.600 kJ   1800.000 W   grid_energy                              local_machine\n"
        "        500.000 mJ      0.250 W   cpu_energy                               local_machine\n"
        "\n"
        "   full data: out.csv (csv)\n"
        "\n";
    expect_summary(sum, argv, "out.csv (csv)", want);
}

/* Each poll: 100 J of package_total, and its carbon as energy-to-carbon
 * makes it, at 50 then 100 gCO2eq/kWh (an intensity file). */
struct carbon_meter {
    alumet_metric_id energy, carbon;
    int polls;
};

static int carbon_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                       struct alumet_error *err)
{
    (void)err;
    struct carbon_meter *m = data;
    double intensity = m->polls++ == 0 ? 50.0 : 100.0;
    struct alumet_point *p = alumet_buffer_push_u64(buf, now, m->energy, &res, &con, 100);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "domain", "package_total"), 0);
    p = alumet_buffer_push_f64(buf, now, m->carbon, &res, &con, 100 / 3.6e6 * intensity);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "domain", "package_total"), 0);
    assert_int_equal(alumet_point_add_attr_f64(buf, p, "intensity", intensity), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "intensity_source", "file i.csv"), 0);
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops carbon_ops = {ALUMET_SOURCE_OPS_V1, carbon_poll, NULL, NULL};

/* The carbon line: 100 J at 50 g/kWh + 100 J at 100 g/kWh = 4.1667 mg, 75 g/kWh
 * on average; SCI = (4.1667 mg + 1 g) / 2 jobs. */
static void test_carbon_and_sci(void **state)
{
    (void)state;
    struct alumet_pipeline *p = pipeline_new();
    struct carbon_meter m = {0};
    const struct alumet_unit g = {ALUMET_UNIT_CUSTOM, ALUMET_PREFIX_PLAIN, "g_CO2", "gCO2"};
    m.energy = add_metric(p, "rapl_consumed_energy", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    m.carbon = add_metric(p, "carbon_emission", ALUMET_VALUE_F64, g);
    add_source(p, "meter", &carbon_ops, &m);
    alumet_time_ns t0;
    struct exec_summary *sum = summary_new(&t0);
    exec_summary_set_sci(sum, 1.0, 2, "job");
    run(p, sum, 2, t0 + 2 * ALUMET_NSEC_PER_SEC);

    const char *const argv[] = {"make", NULL};
    static const char want[] =
        "\n"
        " Energy summary of 'make' (exit status 0):\n"
        "\n"
        "          2.000 s   duration (from the start of the process to its end)\n"
        "\n"
        "           energy    avg power   metric                                   domain\n"
        "        200.000 J     100.000 W   rapl_consumed_energy                     package_total\n"
        "\n"
        "   carbon: 4.167 mg CO2eq (intensity 50 to 100 g/kWh, 75 on average, source: file "
        "i.csv), machine CPUs\n"
        "   SCI: 502.083 mg CO2eq per job = (E x I 4.167 mg + M 1.000 g) / R 2\n"
        "\n";
    expect_summary(sum, argv, NULL, want);
}

/* The cgroup line: which line of /proc/<pid>/cgroup, and its owner. */
static void test_cgroup_describe(void **state)
{
    (void)state;
    char buf[512];
    /* cgroup v2 */
    exec_cgroup_describe("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
                         "00b506dc_87ee_462c_880d_3e41d0dacd0c.slice/cri-containerd-"
                         "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6.scope\n",
                         buf, sizeof(buf));
    assert_string_equal(buf,
                        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
                        "00b506dc_87ee_462c_880d_3e41d0dacd0c.slice/cri-containerd-"
                        "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6.scope "
                        "(Kubernetes pod 00b506dc-87ee-462c-880d-3e41d0dacd0c, container "
                        "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6, "
                        "containerd)");
    /* hybrid: the v2 line is "/", the cpuacct one says more */
    exec_cgroup_describe("9:name=systemd:/\n4:memory:/x\n2:cpu,cpuacct:/slurm/uid_1000/job_42/"
                         "step_0\n0::/\n",
                         buf, sizeof(buf));
    assert_string_equal(buf, "/slurm/uid_1000/job_42/step_0 (Slurm job 42)");
    /* v1 without cpuacct path: the first path other than "/" */
    exec_cgroup_describe("3:cpuset:/\n4:memory:/machine.slice/machine-qemu\\x2d1\\x2dvm.scope\n",
                         buf, sizeof(buf));
    assert_string_equal(buf, "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope (virtual machine vm)");
    /* the root, and an owner-less path */
    exec_cgroup_describe("0::/\n", buf, sizeof(buf));
    assert_string_equal(buf, "/");
    exec_cgroup_describe("0::/user.slice/user-1000.slice/session-2.scope\n", buf, sizeof(buf));
    assert_string_equal(buf, "/user.slice/user-1000.slice/session-2.scope");
    /* nothing readable */
    exec_cgroup_describe("", buf, sizeof(buf));
    assert_string_equal(buf, "");
    exec_cgroup_describe("garbage\n", buf, sizeof(buf));
    assert_string_equal(buf, "");
    /* a small buffer: cut, NUL-terminated */
    char small[8];
    exec_cgroup_describe("0::/system.slice/docker-"
                         "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6.scope\n",
                         small, sizeof(small));
    assert_string_equal(small, "/system");
}

/* Each poll: an estimate of 0 mJ for the machine (the /proc/stat ticks of
 * a short run saw nothing). */
static int zero_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                     struct alumet_error *err)
{
    (void)err;
    assert_non_null(alumet_buffer_push_f64(buf, now, *(alumet_metric_id *)data, &res, &con, 0.0));
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops zero_ops = {ALUMET_SOURCE_OPS_V1, zero_poll, NULL, NULL};

/* The TDP model: the process's 1 ms of CPU time at 50 W per CPU is 50 mJ,
 * more than the machine's estimate from /proc/stat (0 J): the machine's
 * figure is raised to it, the rest is 0 (never negative), and it says why. */
static void test_estimate_raised_to_the_process(void **state)
{
    (void)state;
    struct alumet_pipeline *p = pipeline_new();
    alumet_metric_id id =
        add_metric(p, "estimated_consumed_energy", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE));
    add_source(p, "tdp", &zero_ops, &id);
    alumet_time_ns t0;
    struct exec_summary *sum = summary_new(&t0);
    exec_summary_set_process(sum, 0.001, 0.0, 50.0, "measured", "ESTIMATED by a test");
    run(p, sum, 1, t0 + ALUMET_NSEC_PER_SEC);

    const char *const argv[] = {"true", NULL};
    static const char want[] =
        "\n"
        " Energy summary of 'true' (exit status 0):\n"
        "\n"
        "          1.000 s   duration (from the start of the process to its end)\n"
        "          0.001 s   CPU time of the process and its descendants\n"
        "\n"
        "           energy    avg power   metric                                   domain\n"
        "          0.000 J       0.000 W   estimated_consumed_energy                local_machine "
        "(estimate)\n"
        "\n"
        "   the process's share of the CPU energy (its CPU time x 50 W per busy CPU, the "
        "estimate's model):\n"
        "         50.000 mJ      0.050 W   process and its descendants\n"
        "          0.000 J       0.000 W   the rest (other processes, idle)\n"
        "         50.000 mJ      0.050 W   machine CPUs, ESTIMATED by a test\n"
        "   (the machine's estimate is raised to the process's share: /proc/stat counts CPU time "
        "in 10 ms ticks and saw less of this short run than the process's own CPU time)\n"
        "\n";
    expect_summary(sum, argv, NULL, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watt_hours_in_joules),
        cmocka_unit_test(test_estimate_raised_to_the_process),
        cmocka_unit_test(test_carbon_and_sci),
        cmocka_unit_test(test_cgroup_describe),
    };
    return alumet_run_tests(tests);
}
