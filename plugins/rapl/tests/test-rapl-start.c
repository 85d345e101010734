/* SPDX-License-Identifier: MIT */
/* Tests of the rapl plugin's start: options, the consistency check between
 * perf_events and powercap (with the warning text), the machine without RAPL
 * (one message, nothing registered), the fall-backs between interfaces, and
 * the advice of rapl_explain() for refused permissions. See rapl-test.h. */
#include <grp.h>
#include <sys/wait.h>

#include "rapl-test.h"

/* ---- options ---- */

static void test_default_config(void **state)
{
    (void)state;
    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    void *st = NULL;

    /* upstream's end-to-end test compares these four lines */
    assert_string_equal(alumet_plugin_rapl.default_config, "[plugins.rapl]\n"
                                                           "poll_interval = \"1s\"\n"
                                                           "flush_interval = \"5s\"\n"
                                                           "no_perf_events = false\n");
    assert_string_equal(alumet_plugin_rapl.name, "rapl");
    assert_string_equal(alumet_plugin_rapl.version, "0.3.1");
    const char *text = alumet_plugin_rapl.default_config;
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_rapl, text, &root, &st, &err), 0);
    struct rapl *rapl = st;
    assert_int_equal(rapl->cfg.poll_interval, ALUMET_NSEC_PER_SEC);
    assert_int_equal(rapl->cfg.flush_interval, 5 * ALUMET_NSEC_PER_SEC);
    assert_false(rapl->cfg.no_perf_events);
    assert_string_equal(rapl->cfg.sys_root, "/");
    assert_string_equal(rapl->cfg.proc_root, "/");
    alumet_plugin_rapl.free(st);
    toml_free(root);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"poll_interval = \"0s\"\n", "plugins.rapl.poll_interval: expected a duration greater "
                                     "than zero"},
        {"flush_interval = 5\n", "plugins.rapl.flush_interval"},
        {"no_perf_events = \"yes\"\n", "plugins.rapl.no_perf_events"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct env e;
        struct alumet_error err = {0};
        assert_int_equal(env_init(&e, NULL, cases[i].text, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("'%s' not in '%s'", cases[i].want, err.msg);
        env_done(&e);
    }
    /* sys_root = "" (the env writes its own sys_root first: use a plain tree) */
    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    void *st = NULL;
    const char *text = "[plugins.rapl]\nsys_root = \"\"\n";
    assert_int_equal(alumet__config_load_text(text, strlen(text), "t.toml", 0, &root, &err), 0);
    struct toml_value *sect = toml_table_get(toml_table_get(root, "plugins"), "rapl");
    assert_int_equal(alumet_plugin_rapl.init(alumet__config_from_value(sect), &st, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.rapl.sys_root: expected a directory"));
    toml_free(root);
}

static void test_sys_root_missing(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, NULL, NULL, &err), 0);
    free(e.rapl->cfg.sys_root);
    e.rapl->cfg.sys_root = strdup("/nonexistent-alumet-rapl-root");
    assert_non_null(e.rapl->cfg.sys_root);
    assert_int_equal(env_start_r(&e, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "cannot open the sys root '/nonexistent-alumet-rapl-root'"));
    env_done(&e);
}

/* ---- the consistency check ---- */

static void test_consistency_intel(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    e.perf.type = 22;
    env_start(&e);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN,
                              "perf_events and powercap do not report the same RAPL domains "
                              "(perf_events: 'package, pp0, dram, platform'; powercap: "
                              "'package, dram, platform')",
                              "measuring only the domains that both report ('package, dram, "
                              "platform'), skipping 'pp0'"),
        1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "AMD", NULL), 0);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_INFO,
                              "available RAPL domains (\"safe subset\"): package, dram, "
                              "platform",
                              NULL),
        1);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_INFO, "through perf_events (5 counters)", NULL), 1);
    env_done(&e);
}

/* AMD: powercap's core zone is not in perf_events; the warning says why. */
static void test_consistency_amd(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "amd-epyc-1s", "no_perf_events = true\n");
    const char *w = alumet_test_log_find("do not report the same RAPL domains");
    assert_non_null(strstr(w, "(perf_events: 'package'; powercap: 'package, pp0')"));
    assert_non_null(strstr(w, "on AMD CPUs only 'package' is reliable"));
    assert_non_null(strstr(w, "skipping 'pp0'"));
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    assert_int_equal(e.rapl->domains, RAPL_DOMAIN_BIT(RAPL_DOMAIN_PACKAGE));
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "through powercap (1 counters)", NULL),
                     1);
    env_done(&e);
}

static void test_consistency_equal(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-laptop-mmio", NULL, &err), 0);
    e.perf.type = 14;
    env_start(&e);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_INFO,
                              "available RAPL domains: package, pp0, pp1, dram, platform", NULL),
        1);
    assert_true(e.rapl->using_perf);
    assert_int_equal(e.perf.n, 5);
    env_done(&e);
}

/* Unknown names are skipped with a warning, the rest is measured. */
static void test_unknown_names(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-laptop-mmio", NULL, &err), 0);
    e.perf.type = 14;
    env_write(&e, "sys/devices/power/events/energy-foo", "event=0x09\n");
    env_write(&e, "sys/devices/power/events/energy-foo.scale", "2.3283064365386962890625e-10\n");
    env_write(&e, "sys/devices/power/events/energy-foo.unit", "Joules\n");
    char dir[PATH_MAX];
    alumet_test_path_join(dir, sizeof(dir), e.tmp, PC "intel-rapl:7");
    assert_int_equal(mkdir(dir, 0755), 0);
    env_write(&e, PC "intel-rapl:7/name", "weird-zone\n");
    env_start(&e);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN, "unknown RAPL perf event 'energy-foo'", "skipping"),
        1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "unknown RAPL powercap zone 'weird-zone'",
                                           "intel-rapl:7', skipping it"),
                     1);
    assert_int_equal(e.perf.n, 5);
    env_done(&e);
}

/* ---- one interface missing or refused ---- */

static void test_pmu_absent(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    env_rmtree(&e, "sys/devices/power");
    env_start(&e);
    assert_false(e.rapl->using_perf);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN, "no RAPL perf PMU in '", "using powercap"), 1);
    assert_int_equal(alumet_test_log_count(
                         ALUMET_LOG_INFO,
                         "available RAPL domains (from powercap): package, dram, platform", NULL),
                     1);
    env_done(&e);
}

static void test_pmu_broken(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    env_write(&e, "sys/devices/power/type", "abc\n");
    env_start(&e);
    assert_false(e.rapl->using_perf);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "cannot read the RAPL perf PMU: invalid PMU type "
                                           "'abc'",
                                           "using powercap"),
                     1);
    env_done(&e);
}

/* No powercap: perf_events alone, every domain it reports (pp0 too). */
static void test_powercap_absent(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    env_rmtree(&e, "sys/devices/virtual/powercap");
    e.perf.type = 22;
    env_start(&e);
    assert_true(e.rapl->using_perf);
    assert_int_equal(e.perf.n, 7); /* (cores, pkg, ram) x 2 sockets + psys */
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "no intel-rapl powercap zone in '",
                                           "not cross-checked"),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);

    /* and no_perf_events = true cannot be honoured */
    assert_int_equal(env_init(&e, "intel-xeon-2s", "no_perf_events = true\n", &err), 0);
    env_rmtree(&e, "sys/devices/virtual/powercap");
    assert_int_equal(env_start_r(&e, &err), -ENODEV);
    assert_non_null(strstr(err.msg, "plugins.rapl.no_perf_events is true, but this machine "
                                    "exposes RAPL through perf_events only"));
    env_done(&e);
}

/* perf refused and the powercap zone gone: start fails, naming both. */
static void test_both_fail(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    char path[PATH_MAX];
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    e.perf.type = 22;
    e.perf.open_error = -EACCES;
    alumet_test_path_join(path, sizeof(path), e.tmp, PC "intel-rapl:0/energy_uj");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(env_start_r(&e, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "perf_events was refused (see the warning above) and"));
    assert_non_null(strstr(err.msg, "intel-rapl:0/energy_uj': No such file or directory; the "
                                    "powercap zone has gone"));
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN, "perf_event_open refused the RAPL event", NULL), 1);
    env_done(&e);
}

/* A real EACCES: energy_uj readable by root only (Linux >= 5.10), read by
 * an unprivileged process (the test drops to nobody when it runs as root). */
static void test_powercap_permission(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    int fds[2];
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    e.perf.type = 22;
    e.perf.open_error = -EACCES;
    bool root = geteuid() == 0;
    static const char *const zones[] = {"intel-rapl:0", "intel-rapl:1", "intel-rapl:2",
                                        "intel-rapl:0/intel-rapl:0:0",
                                        "intel-rapl:1/intel-rapl:1:0"};
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        char rel[PATH_MAX], path[PATH_MAX];
        snprintf(rel, sizeof(rel), PC "%s/energy_uj", zones[i]);
        alumet_test_path_join(path, sizeof(path), e.tmp, rel);
        assert_int_equal(chmod(path, root ? 0400 : 0000), 0);
    }
    assert_int_equal(chmod(e.tmp, 0755), 0);
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* no cmocka in the child: report through the pipe */
        char out[8192];
        close(fds[0]);
        if (root && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)) {
            dprintf(fds[1], "skip");
            _exit(0);
        }
        int r = env_start_r(&e, &err);
        snprintf(out, sizeof(out), "%d\n%s\n%s", r, err.msg,
                 alumet_test_log_find("perf_event_open refused"));
        (void)!write(fds[1], out, strlen(out));
        _exit(0);
    }
    close(fds[1]);
    char got[8192] = "";
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], got + len, sizeof(got) - 1 - len)) > 0)
        len += (size_t)n;
    got[len] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (strcmp(got, "skip") == 0) {
        env_done(&e);
        skip();
    }
    char want[PATH_MAX * 2];
    snprintf(want, sizeof(want),
             "cannot read '%s/" PC "intel-rapl:0/energy_uj': Permission denied; since Linux "
             "5.10 the RAPL energy counters (energy_uj) are readable by root only: run the agent "
             "as root, or let every user read them (until the next reboot) with 'sudo chmod a+r "
             "%s/sys/class/powercap/intel-rapl*:*/energy_uj'",
             e.tmp, e.tmp);
    if (strncmp(got, "-13\n", 4) != 0 || !strstr(got, want) ||
        !strstr(got, "perf_events was refused") ||
        !strstr(got, "RAPL events count whole CPUs, which a process without CAP_PERFMON may do "
                     "only when kernel.perf_event_paranoid <= 0 (it is 2 here)"))
        fail_msg("child reported:\n%s\nexpected:\n%s", got, want);
    env_done(&e);
}

/* ---- no RAPL at all ---- */

static void test_no_rapl(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    size_t sources, transforms, outputs;
    assert_int_equal(env_init(&e, NULL, NULL, &err), 0);
    env_start(&e);
    char want[PATH_MAX * 3];
    snprintf(want, sizeof(want),
             "RAPL is not exposed here: no RAPL perf PMU in '%s/sys/devices/power' and no "
             "intel-rapl powercap zone in '%s/sys/devices/virtual/powercap'; on an Intel or AMD "
             "machine, load the drivers with 'sudo modprobe -a rapl intel_rapl_msr', and in a "
             "container mount the host's /sys; to estimate the energy of the CPU without RAPL, "
             "use the energy-estimation-tdp plugin; the rapl plugin measures nothing",
             e.tmp, e.tmp);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    assert_string_equal(alumet_test_log_find("RAPL is not exposed"), want);
    /* nothing registered: the other plugins go on */
    assert_null(e.rapl->source);
    alumet__pipeline_counts(e.p, &sources, &transforms, &outputs);
    assert_int_equal(sources, 0);
    assert_int_equal(alumet_registry_count(alumet_pipeline_registry(e.p)), 0);
    env_done(&e);
}

/* A virtual machine: the intel-rapl control type without zones, and the
 * hypervisor flag in cpuinfo. */
static void test_no_rapl_vm(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    char dir[PATH_MAX];
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    env_rmtree(&e, "sys/devices/power");
    env_rmtree(&e, "sys/devices/virtual/powercap/intel-rapl");
    alumet_test_path_join(dir, sizeof(dir), e.tmp, "sys/devices/virtual/powercap/intel-rapl");
    assert_int_equal(mkdir(dir, 0755), 0);
    env_write(&e, "proc/cpuinfo",
              "processor\t: 0\nvendor_id\t: GenuineIntel\n"
              "flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm\n\n");
    env_start(&e);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN, "RAPL is not exposed here",
                              "this is a virtual machine ('hypervisor' flag in /proc/cpuinfo)"),
        1);
    assert_null(e.rapl->source);
    env_done(&e);
}

/* ---- advice ---- */

static const struct rapl_privileges user_6_1 = {
    .paranoid = 2,
    .has_paranoid = true,
    .caps_known = true,
    .kernel_major = 6,
    .kernel_minor = 1,
    .exe = "/usr/local/bin/alumet-agent",
    .class_dir = "/sys/class/powercap",
};

static void expect_explain(int errnum, enum rapl_iface iface, const char *what,
                           const struct rapl_privileges *priv, const char *want)
{
    char buf[ALUMET_ERROR_MSG_MAX];
    size_t n = rapl_explain(errnum, iface, what, priv, buf, sizeof(buf));
    assert_true(n < sizeof(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("expected:\n%s\ngot:\n%s", want, buf);
}

static void test_explain_perf(void **state)
{
    (void)state;
    struct rapl_privileges p = user_6_1;
    expect_explain(-EACCES, RAPL_IFACE_PERF, "'energy-pkg' on CPU 0", &p,
                   "perf_event_open refused the RAPL event 'energy-pkg' on CPU 0: Permission "
                   "denied; RAPL events count whole CPUs, which a process without CAP_PERFMON "
                   "may do only when kernel.perf_event_paranoid <= 0 (it is 2 here); fix it with "
                   "one of: 'sudo sysctl -w kernel.perf_event_paranoid=0' (until the next reboot; "
                   "write 'kernel.perf_event_paranoid = 0' into /etc/sysctl.d/99-alumet.conf to "
                   "keep it), 'sudo setcap cap_perfmon=ep /usr/local/bin/alumet-agent' (gives the "
                   "agent CAP_PERFMON), or run the agent as root");

    /* Debian/Ubuntu level 4 */
    p.paranoid = 4;
    char buf[ALUMET_ERROR_MSG_MAX];
    rapl_explain(-EACCES, RAPL_IFACE_PERF, "'energy-pkg' on CPU 0", &p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "kernel.perf_event_paranoid is 4 here, a Debian/Ubuntu level "
                                "that forbids perf_event_open to every process without "
                                "CAP_PERFMON; fix it with one of: 'sudo sysctl -w "
                                "kernel.perf_event_paranoid=0'"));

    /* before Linux 5.8: CAP_SYS_ADMIN */
    p = user_6_1;
    p.kernel_major = 5;
    p.kernel_minor = 4;
    rapl_explain(EPERM, RAPL_IFACE_PERF, "'energy-pkg' on CPU 0", &p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "'sudo setcap cap_sys_admin=ep /usr/local/bin/alumet-agent' "
                                "(gives the agent CAP_SYS_ADMIN)"));

    /* the capability is there, yet refused: a security module or seccomp */
    p = user_6_1;
    p.cap_perfmon = true;
    rapl_explain(-EACCES, RAPL_IFACE_PERF, "'energy-pkg' on CPU 0", &p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "the agent has CAP_PERFMON, yet the kernel refused"));
    assert_non_null(strstr(buf, "plugins.rapl.no_perf_events = true"));

    /* the event is not supported */
    p = user_6_1;
    expect_explain(-ENOENT, RAPL_IFACE_PERF, "'energy-ram' on CPU 0", &p,
                   "perf_event_open cannot count the RAPL event 'energy-ram' on CPU 0: No such "
                   "file or directory; the power PMU advertises it but the CPU or the kernel does "
                   "not support it (old kernels on AMD CPUs, virtual machines); set "
                   "plugins.rapl.no_perf_events = true to read powercap");

    /* like snprintf: the length the full text needs */
    char small[16];
    size_t need = rapl_explain(-EACCES, RAPL_IFACE_PERF, "x", &p, small, sizeof(small));
    assert_true(need > sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_explain_powercap(void **state)
{
    (void)state;
    struct rapl_privileges p = user_6_1;
    const char *file = "/sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj";
    expect_explain(-EACCES, RAPL_IFACE_POWERCAP, file, &p,
                   "cannot read '/sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj': "
                   "Permission denied; since Linux 5.10 the RAPL energy counters (energy_uj) are "
                   "readable by root only: run the agent as root, or let every user read them "
                   "(until the next reboot) with 'sudo chmod a+r "
                   "/sys/class/powercap/intel-rapl*:*/energy_uj' (the rapl plugin's README gives "
                   "udev rules that last), or let the plugin use "
                   "perf_events (no_perf_events = false, with kernel.perf_event_paranoid <= 0 or "
                   "CAP_PERFMON)");
    p.root = true;
    char buf[ALUMET_ERROR_MSG_MAX];
    rapl_explain(EACCES, RAPL_IFACE_POWERCAP, file, &p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "the agent runs as root, yet the file cannot be read: in a "
                                "container with a user namespace"));
    rapl_explain(-EIO, RAPL_IFACE_POWERCAP, file, &p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "Input/output error; the hardware refused to read the RAPL "
                                "counter"));
    rapl_explain(-EINVAL, RAPL_IFACE_POWERCAP, file, &p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "does not hold a number of microjoules"));
}

/* The facts come from the proc root (and the sys root for the chmod path). */
static void test_privileges_read(void **state)
{
    (void)state;
    struct env e;
    struct rapl_privileges p;
    char want[PATH_MAX];
    env_setup(&e, "amd-epyc-1s", "no_perf_events = true\n");
    alumet_test_path_join(want, sizeof(want), e.tmp, "proc/self");
    assert_int_equal(mkdir(want, 0755), 0);
    env_write(&e, "proc/self/status",
              "Name:\talumet-agent\nCapInh:\t0000000000000000\n"
              "CapEff:\t0000004000000000\nCapBnd:\t000001ffffffffff\n");
    rapl_privileges_read(e.rapl, &p);
    assert_true(p.has_paranoid);
    assert_int_equal(p.paranoid, 4);
    assert_int_equal(p.kernel_major, 5);
    assert_int_equal(p.kernel_minor, 15);
    assert_true(p.caps_known);
    assert_true(p.cap_perfmon);
    assert_false(p.cap_sys_admin);
    assert_string_equal(p.exe, "/usr/bin/alumet-agent"); /* no proc/self/exe in the fixture */
    alumet_test_path_join(want, sizeof(want), e.tmp, "sys/class/powercap");
    assert_string_equal(p.class_dir, want);

    bool amd, hypervisor;
    assert_int_equal(rapl_cpuinfo_read(e.rapl, &amd, &hypervisor), 0);
    assert_true(amd);
    assert_false(hypervisor);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_config),   cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_sys_root_missing), cmocka_unit_test(test_consistency_intel),
        cmocka_unit_test(test_consistency_amd),  cmocka_unit_test(test_consistency_equal),
        cmocka_unit_test(test_unknown_names),    cmocka_unit_test(test_pmu_absent),
        cmocka_unit_test(test_pmu_broken),       cmocka_unit_test(test_powercap_absent),
        cmocka_unit_test(test_both_fail),        cmocka_unit_test(test_powercap_permission),
        cmocka_unit_test(test_no_rapl),          cmocka_unit_test(test_no_rapl_vm),
        cmocka_unit_test(test_explain_perf),     cmocka_unit_test(test_explain_powercap),
        cmocka_unit_test(test_privileges_read),
    };
    return alumet_run_tests(tests);
}
