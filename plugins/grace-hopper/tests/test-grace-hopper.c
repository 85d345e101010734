/* SPDX-License-Identifier: MIT */
/* The grace-hopper plugin on the fixture trees of
 * tests/fixtures/grace-hopper/: every sensor, the DRAM estimate, the totals,
 * energy over uneven intervals (the test sets the poll times and rewrites
 * power1_average between polls; the expected millijoules are worked out by
 * hand from the power profile), a sensor that fails, an unknown sensor, no
 * hardware. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "alumet-test-source.h"
#include "grace-hopper.h"

extern const struct alumet_plugin alumet_plugin_grace_hopper;

#define MS ((alumet_time_ns)1000000)
#define T0 ((alumet_time_ns)1700000000 * ALUMET_NSEC_PER_SEC)
#define ACPI "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/"

struct env {
    char *tmp;
    struct alumet_test_source t;
    struct gh *g;
};

static void env_setup(struct env *e, const char *scenario, bool start_ok)
{
    struct alumet_error err = {0};
    memset(e, 0, sizeof(*e));
    alumet_test_log_capture("info");
    e->tmp = alumet_test_tmpdir();
    if (scenario)
        alumet_test_copy_fixture("grace-hopper", scenario, e->tmp);
    assert_int_equal(
        alumet_test_source_init(&e->t, &alumet_plugin_grace_hopper, "sys_root", e->tmp, NULL, &err),
        0);
    e->g = e->t.state;
    alumet_test_source_expect_ok(alumet_test_source_start(&e->t, &err), &err, "start");
    if (start_ok)
        assert_non_null(e->g->source);
}

static void env_done(struct env *e)
{
    alumet_test_source_done(&e->t);
    alumet_test_rmtree(e->tmp);
    alumet_test_log_release();
}

/* Poll at time now into the cleared buffer; returns the poll result. */
static int env_poll_at(struct env *e, alumet_time_ns now, struct alumet_error *err)
{
    return alumet_test_source_poll_r(&e->t, &gh_source_ops, e->g->source, now, err);
}

static size_t env_poll(struct env *e, alumet_time_ns now)
{
    return alumet_test_source_poll(&e->t, &gh_source_ops, e->g->source, now);
}

static void env_write(struct env *e, const char *rel, const char *text)
{
    alumet_test_write_at(e->tmp, rel, text);
}

/* The one point of metric with this sensor attribute and resource; NULL
 * when none. */
static const struct alumet_point *find(struct env *e, const char *metric, const char *sensor,
                                       enum alumet_resource_kind rk, uint32_t rn)
{
    const struct alumet_registry *reg = alumet_pipeline_registry(e->t.p);
    const struct alumet_point *found = NULL;
    for (size_t i = 0; i < alumet_buffer_len(e->t.buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->t.buf, i);
        const struct alumet_attr *a = alumet_point_find_attr(e->t.buf, p, "sensor");
        assert_non_null(a);
        assert_int_equal(p->attr_count, 1);
        assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
        if (strcmp(alumet_registry_get(reg, p->metric)->name, metric) != 0 ||
            strcmp(a->v.str, sensor) != 0 || p->resource.kind != rk || p->resource.num != rn)
            continue;
        assert_null(found);
        found = p;
    }
    return found;
}

#define PKG(n) ALUMET_RESOURCE_CPU_PACKAGE, (n)
#define DRAM(n) ALUMET_RESOURCE_DRAM, (n)
#define MACHINE ALUMET_RESOURCE_LOCAL_MACHINE, 0

#define expect_uw(e, sensor, res, want)                                                            \
    do {                                                                                           \
        const struct alumet_point *p_ = find((e), "grace_instant_power", (sensor), res);           \
        if (!p_)                                                                                   \
            fail_msg("no power point for '%s'", (sensor));                                         \
        assert_int_equal(p_->value.u64, (want));                                                   \
    } while (0)

#define expect_mj(e, sensor, res, want)                                                            \
    do {                                                                                           \
        const struct alumet_point *p_ = find((e), "grace_energy_consumption", (sensor), res);      \
        if (!p_)                                                                                   \
            fail_msg("no energy point for '%s'", (sensor));                                        \
        if (p_->value.f64 != (want))                                                               \
            fail_msg("%s: expected %.17g mJ, got %.17g mJ", (sensor), (double)(want),              \
                     p_->value.f64);                                                               \
    } while (0)

/* GH200, first poll: the four sensors, the DRAM estimate, the totals, and
 * the machine total = the module; no energy yet. */
static void test_gh200_values(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "gh200", true);
    assert_int_equal(env_poll(&e, T0), 11);
    expect_uw(&e, "grace", PKG(0), 150000000);
    expect_uw(&e, "cpu", PKG(0), 90000000);
    expect_uw(&e, "sysio", PKG(0), 20000000);
    expect_uw(&e, "module", PKG(0), 400000000);
    expect_uw(&e, "dram", DRAM(0), 40000000);
    expect_uw(&e, "grace_total", MACHINE, 150000000);
    expect_uw(&e, "module_total", MACHINE, 400000000);
    expect_uw(&e, "dram_total", MACHINE, 40000000);
    expect_uw(&e, "total", MACHINE, 400000000);
    /* order: the socket's sensors (grace, cpu, sysio, module), dram, totals */
    static const char *const order[] = {"grace",        "cpu",         "sysio",     "module",
                                        "dram",         "grace_total", "cpu_total", "sysio_total",
                                        "module_total", "dram_total",  "total"};
    for (size_t i = 0; i < 11; i++) {
        const struct alumet_point *p = alumet_buffer_get(e.t.buf, i);
        assert_string_equal(alumet_point_find_attr(e.t.buf, p, "sensor")->v.str, order[i]);
        assert_int_equal(p->timestamp, T0);
    }
    const struct alumet_metric *m =
        alumet_registry_find(alumet_pipeline_registry(e.t.p), "grace_instant_power");
    assert_non_null(m);
    assert_int_equal(m->unit.base, ALUMET_UNIT_WATT);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_MICRO);
    m = alumet_registry_find(alumet_pipeline_registry(e.t.p), "grace_energy_consumption");
    assert_non_null(m);
    assert_int_equal(m->unit.base, ALUMET_UNIT_JOULE);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_MILLI);
    assert_int_equal(m->value_type, ALUMET_VALUE_F64);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    env_done(&e);
}

/* The spec's check: Grace at 140 W then 25 W six seconds apart is
 * (140 + 25) / 2 × 6 = 495 J = 495 000 mJ; the module stays at 400 W:
 * 2 400 000 mJ, the machine total. At 25 W, cpu + sysio exceed grace: no
 * DRAM estimate (one warning), and no dram total. */
static void test_gh200_energy(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "gh200", true);
    env_write(&e, ACPI "ACPI000D:01/power1_average", "140000000\n");
    env_poll(&e, T0);
    env_write(&e, ACPI "ACPI000D:01/power1_average", "25000000\n");
    env_poll(&e, T0 + 6000 * MS);
    expect_mj(&e, "grace", PKG(0), 495000.0);
    expect_mj(&e, "module", PKG(0), 2400000.0);
    expect_mj(&e, "cpu", PKG(0), 540000.0);
    expect_mj(&e, "grace_total", MACHINE, 495000.0);
    expect_mj(&e, "total", MACHINE, 2400000.0);
    assert_null(find(&e, "grace_instant_power", "dram", DRAM(0)));
    assert_null(find(&e, "grace_energy_consumption", "dram", DRAM(0)));
    assert_null(find(&e, "grace_instant_power", "dram_total", MACHINE));
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "could not compute the DRAM power of "
                                           "socket 0",
                                           NULL),
                     1);
    env_poll(&e, T0 + 7000 * MS); /* still negative: no second warning */
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    env_done(&e);
}

/* Grace CPU superchip, two sockets, polls 0.25 s then 1 s apart: each
 * interval's energy is its length × the constant power. */
static void test_grace_2s_uneven(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "grace-2s", true);
    assert_int_equal(env_poll(&e, T0), 2 * 4 + 4 + 1);
    expect_uw(&e, "grace", PKG(1), 110000000); /* "grace power socket 1" */
    expect_uw(&e, "dram", DRAM(0), 25000000);
    expect_uw(&e, "dram", DRAM(1), 28000000);
    expect_uw(&e, "dram_total", MACHINE, 53000000);
    expect_uw(&e, "total", MACHINE, 230000000);
    assert_null(find(&e, "grace_instant_power", "module_total", MACHINE));
    env_poll(&e, T0 + 250 * MS);
    expect_mj(&e, "grace", PKG(0), 30000.0);
    expect_mj(&e, "dram", DRAM(1), 7000.0);
    expect_mj(&e, "dram_total", MACHINE, 13250.0);
    expect_mj(&e, "total", MACHINE, 57500.0);
    env_poll(&e, T0 + 1250 * MS);
    expect_mj(&e, "total", MACHINE, 230000.0);
    expect_mj(&e, "sysio_total", MACHINE, 27000.0);
    env_done(&e);
}

/* A sensor that fails: its points and its kind's totals are left out, the
 * others go on, the poll says which file; then it comes back. */
static void test_sensor_fails(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    env_setup(&e, "grace-2s", true);
    env_poll(&e, T0);
    env_write(&e, ACPI "ACPI000D:05/power1_average", "garbage\n"); /* CPU socket 1 */
    assert_int_equal(env_poll_at(&e, T0 + 1000 * MS, &err), ALUMET_POLL_RETRY);
    assert_non_null(strstr(err.msg, "/sys/class/hwmon/hwmon6/device/power1_average': not a number; "
                                    "will retry"));
    assert_null(find(&e, "grace_instant_power", "cpu", PKG(1)));
    assert_null(find(&e, "grace_instant_power", "cpu_total", MACHINE));
    assert_null(find(&e, "grace_instant_power", "dram", DRAM(1)));
    expect_uw(&e, "cpu", PKG(0), 80000000);
    expect_mj(&e, "total", MACHINE, 230000.0);
    env_write(&e, ACPI "ACPI000D:05/power1_average", "70000000\n");
    env_poll(&e, T0 + 2000 * MS);
    expect_uw(&e, "cpu_total", MACHINE, 150000000);
    assert_null(find(&e, "grace_energy_consumption", "cpu", PKG(1))); /* new baseline */
    assert_null(find(&e, "grace_energy_consumption", "cpu_total", MACHINE));
    env_done(&e);
}

/* An unknown sensor is named in one warning and ignored. */
static void test_unknown_sensor(void **state)
{
    (void)state;
    struct env e;
    memset(&e, 0, sizeof(e));
    char *tmp = alumet_test_tmpdir();
    alumet_test_copy_fixture("grace-hopper", "gh200", tmp);
    alumet_test_write_at(tmp, ACPI "ACPI000D:03/power1_oem_info", "Hopper GPU 0\n");
    /* env_setup copies the fixture again: use a scenario-less env on tmp */
    env_setup(&e, NULL, false);
    alumet_test_rmtree(e.tmp);
    e.tmp = tmp;
    alumet__pipeline_free(e.t.p);
    struct alumet_error err = {0};
    assert_int_equal(alumet_plugin_grace_hopper.stop(e.g, &err), 0);
    free(e.g->cfg.sys_root);
    e.g->cfg.sys_root = strdup(tmp);
    alumet_test_log_clear();
    struct pipeline_settings s = {0};
    e.t.p = alumet__pipeline_new(&s);
    struct alumet_start_ctx ctx = {e.t.p, &e.t.ap};
    assert_int_equal(alumet_plugin_grace_hopper.start(e.g, &ctx, &err), 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "/sys/class/hwmon/hwmon4/device/power1_oem_info': "
                                           "unknown sensor 'Hopper GPU 0'",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "no DRAM estimate for socket 0", NULL),
                     1);
    assert_int_equal(env_poll(&e, T0), 3 + 3 + 1); /* no sysio, no dram */
    env_done(&e);
}

/* No power meter: one warning naming the file looked for; start succeeds. */
static void test_no_hardware(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, NULL, false);
    assert_null(e.g->source);
    char want[PATH_MAX];
    snprintf(want, sizeof(want),
             "no Grace power telemetry found: no '%s/sys/class/hwmon/<hwmon>/device/"
             "power1_oem_info' file (the directory does not exist)",
             e.tmp);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, want, "skipping"), 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gh200_values),    cmocka_unit_test(test_gh200_energy),
        cmocka_unit_test(test_grace_2s_uneven), cmocka_unit_test(test_sensor_fails),
        cmocka_unit_test(test_unknown_sensor),  cmocka_unit_test(test_no_hardware),
    };
    return alumet_run_tests(tests);
}
