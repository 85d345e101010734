/* SPDX-License-Identifier: MIT */
/* The jetson plugin on the fixture trees of tests/fixtures/jetson/: exact
 * values and attributes of every channel (hwmon and iio drivers, symbolic
 * links), energy over uneven intervals (the test sets the poll times and
 * rewrites the power files between polls; the expected millijoules are the
 * areas of the power profile, worked out by hand), a file that vanishes and
 * comes back, no hardware, nothing readable, and the options. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>

#include "alumet-test-source.h"
#include "jetson.h"

extern const struct alumet_plugin alumet_plugin_jetson;

#define MS ((alumet_time_ns)1000000)
#define T0 ((alumet_time_ns)1700000000 * ALUMET_NSEC_PER_SEC)

#define ORIN_40 "sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon3/"
#define ORIN_41 "sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0041/hwmon/hwmon4/"
#define TX2_41 "sys/bus/i2c/drivers/ina3221x/0-0041/iio:device1/"

struct env {
    char *tmp;
    struct alumet_test_source t;
    struct jetson *j;
};

static int env_init(struct env *e, const char *scenario, const char *extra,
                    struct alumet_error *err)
{
    memset(e, 0, sizeof(*e));
    alumet_test_log_capture("info");
    e->tmp = alumet_test_tmpdir();
    if (scenario)
        alumet_test_copy_fixture("jetson", scenario, e->tmp);
    int r = alumet_test_source_init(&e->t, &alumet_plugin_jetson, "sys_root", e->tmp, extra, err);
    e->j = e->t.state;
    return r;
}

static int env_start_r(struct env *e, struct alumet_error *err)
{
    return alumet_test_source_start(&e->t, err);
}

static void env_setup(struct env *e, const char *scenario)
{
    struct alumet_error err = {0};
    assert_int_equal(env_init(e, scenario, NULL, &err), 0);
    alumet_test_source_expect_ok(env_start_r(e, &err), &err, "start");
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
    return alumet_test_source_poll_r(&e->t, &jetson_source_ops, e->j->source, now, err);
}

static size_t env_poll(struct env *e, alumet_time_ns now)
{
    return alumet_test_source_poll(&e->t, &jetson_source_ops, e->j->source, now);
}

/* Rewrite a file of the copy in place (the open descriptors see it). */
static void env_write(struct env *e, const char *rel, const char *text)
{
    alumet_test_write_at(e->tmp, rel, text);
}

static const char *metric_name(struct env *e, const struct alumet_point *p)
{
    return alumet_test_source_metric_name(&e->t, p);
}

/* The one point of metric for the channel labelled label; checks the
 * attributes (address, device, channel) and the resource and consumer. NULL
 * when there is none. */
static const struct alumet_point *find(struct env *e, const char *metric, const char *label)
{
    const struct alumet_point *found = NULL;
    for (size_t i = 0; i < alumet_buffer_len(e->t.buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->t.buf, i);
        const struct alumet_attr *a = alumet_point_find_attr(e->t.buf, p, "ina_channel_label");
        assert_non_null(a);
        if (strcmp(metric_name(e, p), metric) != 0 || strcmp(a->v.str, label) != 0)
            continue;
        assert_null(found);
        found = p;
    }
    if (found) {
        assert_int_equal(found->attr_count, 4);
        assert_int_equal(found->resource.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
        assert_int_equal(found->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
    }
    return found;
}

static uint64_t u64_of(struct env *e, const char *metric, const char *label)
{
    const struct alumet_point *p = find(e, metric, label);
    if (!p)
        fail_msg("no %s point for '%s'", metric, label);
    assert_int_equal(p->value_type, ALUMET_VALUE_U64);
    return p->value.u64;
}

static double mj_of(struct env *e, const char *label)
{
    const struct alumet_point *p = find(e, "input_energy", label);
    if (!p)
        fail_msg("no input_energy point for '%s'", label);
    assert_int_equal(p->value_type, ALUMET_VALUE_F64);
    return p->value.f64;
}

static void expect_attrs(struct env *e, const char *label, uint64_t dev, uint64_t addr,
                         uint64_t chan)
{
    const struct alumet_point *p = find(e, "input_current", label);
    if (!p)
        p = find(e, "input_voltage", label);
    assert_non_null(p);
    const struct alumet_attr *a = alumet_point_attrs(e->t.buf, p);
    assert_string_equal(a[0].key, "ina_device_number");
    assert_int_equal(a[0].v.u64, dev);
    assert_string_equal(a[1].key, "ina_i2c_address");
    assert_int_equal(a[1].v.u64, addr);
    assert_string_equal(a[2].key, "ina_channel_id");
    assert_int_equal(a[2].v.u64, chan);
    assert_string_equal(a[3].key, "ina_channel_label");
}

#define expect_mj(e, label, want)                                                                  \
    do {                                                                                           \
        double got_ = mj_of((e), (label)), want_ = (want);                                         \
        if (got_ != want_)                                                                         \
            fail_msg("%s: expected %.17g mJ, got %.17g mJ", (label), want_, got_);                 \
    } while (0)

/* hwmon driver (AGX Orin): every rail, power = current × voltage, the
 * channels without a voltage or with an empty file, the shunt voltages left
 * out; the metrics and their units. */
static void test_orin_values(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "agx-orin");
    /* 3 rails × 3 + VDDQ × 3 + channel_2 (current only); no energy yet */
    assert_int_equal(env_poll(&e, T0), 13);
    assert_int_equal(u64_of(&e, "input_current", "VDD_GPU_SOC"), 625);
    assert_int_equal(u64_of(&e, "input_voltage", "VDD_GPU_SOC"), 19200);
    assert_int_equal(u64_of(&e, "input_power", "VDD_GPU_SOC"), 12000);
    assert_int_equal(u64_of(&e, "input_power", "VDD_CPU_CV"), 4800);
    assert_int_equal(u64_of(&e, "input_current", "VIN_SYS_5V0"), 1520);
    assert_int_equal(u64_of(&e, "input_voltage", "VIN_SYS_5V0"), 5000);
    assert_int_equal(u64_of(&e, "input_power", "VIN_SYS_5V0"), 7600);
    assert_int_equal(u64_of(&e, "input_power", "VDDQ_VDD2_1V8AO"), 599); /* 599.4 */
    assert_int_equal(u64_of(&e, "input_current", "channel_2"), 100);
    assert_null(find(&e, "input_voltage", "channel_2"));
    assert_null(find(&e, "input_power", "channel_2"));
    assert_null(find(&e, "input_energy", "VDD_GPU_SOC"));
    expect_attrs(&e, "VDD_GPU_SOC", 3, 0x40, 1);
    expect_attrs(&e, "VIN_SYS_5V0", 3, 0x40, 3);
    expect_attrs(&e, "VDDQ_VDD2_1V8AO", 4, 0x41, 1);
    expect_attrs(&e, "channel_2", 4, 0x41, 2);
    /* sorted by address then channel: the first point is 0x40 channel 1 */
    const struct alumet_point *first = alumet_buffer_get(e.t.buf, 0);
    assert_string_equal(metric_name(&e, first), "input_current");
    assert_int_equal(first->timestamp, T0);
    assert_string_equal(alumet_point_find_attr(e.t.buf, first, "ina_channel_label")->v.str,
                        "VDD_GPU_SOC");

    const struct alumet_registry *reg = alumet_pipeline_registry(e.t.p);
    const struct alumet_metric *m = alumet_registry_find(reg, "input_power");
    assert_non_null(m);
    assert_int_equal(m->unit.base, ALUMET_UNIT_WATT);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_MILLI);
    assert_int_equal(m->value_type, ALUMET_VALUE_U64);
    m = alumet_registry_find(reg, "input_energy");
    assert_non_null(m);
    assert_int_equal(m->unit.base, ALUMET_UNIT_JOULE);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_MILLI);
    assert_int_equal(m->value_type, ALUMET_VALUE_F64);
    assert_non_null(alumet_registry_find(reg, "input_current"));
    assert_non_null(alumet_registry_find(reg, "input_voltage"));

    /* the empty in3_input: one warning naming it */
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "INA3221 file(s) cannot be read", NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "1-0041/hwmon/hwmon4/in3_input': "
                                           "empty file",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "measuring 5 INA3221 channel(s) of 2 device(s) "
                                           "through the hwmon driver",
                                           NULL),
                     1);
    env_done(&e);
}

/* hwmon driver: VDD_GPU_SOC goes from 12 W to 24 W between polls 0.3 s and
 * 1.3 s apart; VDD_CPU_CV stays at 4.8 W. Each interval's energy is the
 * trapezoid of its two readings: (12000 + 24000) / 2 mW × 0.3 s = 5400 mJ,
 * then 24000 mW × 1.3 s = 31200 mJ; 4800 mW × 0.3 s = 1440 mJ, × 1.3 s =
 * 6240 mJ. VDDQ (599.4 mW, computed, not rounded) × 0.3 s = 179.82 mJ. */
static void test_orin_energy_uneven(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "agx-orin");
    env_poll(&e, T0);
    env_write(&e, ORIN_40 "curr1_input", "1250\n"); /* 19200 mV × 1250 mA = 24 W */
    assert_int_equal(env_poll(&e, T0 + 300 * MS), 13 + 4);
    assert_int_equal(u64_of(&e, "input_power", "VDD_GPU_SOC"), 24000);
    expect_mj(&e, "VDD_GPU_SOC", 5400.0);
    expect_mj(&e, "VDD_CPU_CV", 1440.0);
    expect_mj(&e, "VIN_SYS_5V0", 2280.0);
    double vddq = mj_of(&e, "VDDQ_VDD2_1V8AO");
    if (fabs(vddq - 179.82) > 1e-9)
        fail_msg("VDDQ: expected 179.82 mJ, got %.17g", vddq);
    assert_null(find(&e, "input_energy", "channel_2")); /* no power, no energy */
    env_poll(&e, T0 + 1600 * MS);
    expect_mj(&e, "VDD_GPU_SOC", 31200.0);
    expect_mj(&e, "VDD_CPU_CV", 6240.0);
    env_done(&e);
}

/* iio driver (TX2): the power is read from in_power<N>_input, not computed. */
static void test_tx2_values(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "tx2-iio");
    assert_int_equal(env_poll(&e, T0), 15);
    assert_int_equal(u64_of(&e, "input_current", "VDD_IN"), 1520);
    assert_int_equal(u64_of(&e, "input_voltage", "VDD_IN"), 5080);
    assert_int_equal(u64_of(&e, "input_power", "VDD_IN"), 7721); /* not 1520 × 5080 / 1000 */
    assert_int_equal(u64_of(&e, "input_power", "VDD_SYS_GPU"), 5819);
    assert_int_equal(u64_of(&e, "input_power", "VDD_4V0_WIFI"), 0);
    expect_attrs(&e, "VDD_SYS_GPU", 0, 0x40, 0);
    expect_attrs(&e, "VDD_4V0_WIFI", 0, 0x40, 2);
    expect_attrs(&e, "VDD_IN", 1, 0x41, 0);
    expect_attrs(&e, "VDD_SYS_CPU", 1, 0x41, 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "through the iio driver", NULL), 1);
    env_done(&e);
}

/* The task's example: 10 W for 0.3 s then 20 W for 0.7 s is 17 J. VDD_IN is
 * read at 0 and 0.3 s (10 W), the power steps to 20 W and is read again at
 * 0.3 s (a trigger-now right after the step), then at 1 s. */
static void test_tx2_energy_step(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "tx2-iio");
    env_write(&e, TX2_41 "in_power0_input", "10000\n");
    env_poll(&e, T0);
    env_poll(&e, T0 + 300 * MS);
    double a = mj_of(&e, "VDD_IN");
    env_write(&e, TX2_41 "in_power0_input", "20000\n");
    env_poll(&e, T0 + 300 * MS);
    double b = mj_of(&e, "VDD_IN");
    env_poll(&e, T0 + 1000 * MS);
    double c = mj_of(&e, "VDD_IN");
    if (a != 3000.0 || b != 0.0 || c != 14000.0 || a + b + c != 17000.0)
        fail_msg("expected 3000 + 0 + 14000 = 17000 mJ, got %.17g + %.17g + %.17g", a, b, c);
    env_done(&e);
}

/* A sensor file reads empty (a channel disabled): the poll goes on with the other
 * channels and says which file failed; when it is back, its channel is read
 * again and its energy restarts from there (no interval spans the gap). */
static void test_missing_sensor_file(void **state)
{
    (void)state;
    struct env e;
    char path[PATH_MAX];
    struct alumet_error err = {0};
    env_setup(&e, "tx2-iio");
    env_poll(&e, T0);
    alumet_test_path_join(path, sizeof(path), e.tmp, TX2_41 "in_power0_input");
    assert_int_equal(truncate(path, 0), 0); /* what a disabled hwmon channel gives */
    assert_int_equal(env_poll_at(&e, T0 + 1000 * MS, &err), ALUMET_POLL_RETRY);
    assert_non_null(strstr(err.msg, "0-0041/iio:device1/in_power0_input': empty file"));
    assert_non_null(strstr(err.msg, "will retry at the next poll"));
    assert_null(find(&e, "input_power", "VDD_IN"));
    expect_mj(&e, "VDD_SYS_CPU", 2912.0); /* the others go on */
    env_write(&e, TX2_41 "in_power0_input", "8000\n");
    env_poll(&e, T0 + 2000 * MS);
    assert_int_equal(u64_of(&e, "input_power", "VDD_IN"), 8000);
    assert_null(find(&e, "input_energy", "VDD_IN"));
    env_poll(&e, T0 + 2500 * MS);
    expect_mj(&e, "VDD_IN", 4000.0);
    env_done(&e);
}

/* No INA3221 at all: one warning naming what was looked for, no source, and
 * start succeeds (the agent goes on with the other plugins). */
static void test_no_hardware(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, NULL, NULL, &err), 0);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_null(e.j->source);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    char want[PATH_MAX * 2];
    snprintf(want, sizeof(want),
             "neither '%s/sys/bus/i2c/drivers/ina3221' nor "
             "'%s/sys/bus/i2c/drivers/ina3221x' exists",
             e.tmp, e.tmp);
    const char *msg = alumet_test_log_find("no INA3221 power monitor found");
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "curr<N>_input"));
    assert_non_null(strstr(msg, "in_power<N>_input"));
    assert_non_null(strstr(msg, "skipping"));
    assert_null(alumet_registry_find(alumet_pipeline_registry(e.t.p), "input_power"));
    env_done(&e);
}

/* Devices exist but no file can be read (directories in place of the files:
 * read fails with EISDIR, even as root): start fails and says why. */
static void test_nothing_readable(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "tx2-iio", NULL, &err), 0);
    const char *dirs[] = {"0-0040/iio:device0/", TX2_41};
    for (int d = 0; d < 2; d++)
        for (int ch = 0; ch < (d == 0 ? 3 : 2); ch++) {
            static const char *const kinds[] = {"current", "voltage", "power"};
            for (int k = 0; k < 3; k++) {
                char rel[256], path[PATH_MAX];
                snprintf(rel, sizeof(rel), "%s%sin_%s%d_input",
                         d == 0 ? "sys/bus/i2c/drivers/ina3221x/" : "", dirs[d], kinds[k], ch);
                alumet_test_path_join(path, sizeof(path), e.tmp, rel);
                unlink(path);
                assert_int_equal(mkdir(path, 0755), 0);
            }
        }
    assert_int_equal(env_start_r(&e, &err), -EACCES);
    assert_non_null(strstr(err.msg, "no INA3221 channel could be read, are the permissions set "
                                    "properly?"));
    assert_non_null(strstr(err.msg, "15 file(s) failed: '"));
    assert_non_null(strstr(err.msg, "/iio:device0/in_current0_input': Is a directory"));
    assert_null(e.j->source);
    env_done(&e);
}

/* Options: upstream's defaults, a bad interval, an unknown key. */
static void test_options(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, NULL, "poll_interval = \"250ms\"\n", &err), 0);
    assert_int_equal(e.j->cfg.poll_interval, 250 * MS);
    assert_int_equal(e.j->cfg.flush_interval, 5 * ALUMET_NSEC_PER_SEC);
    env_done(&e);
    assert_int_equal(env_init(&e, NULL, "poll_interval = \"0s\"\n", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "greater than zero"));
    env_done(&e);
    assert_int_equal(env_init(&e, NULL, "poll_intervall = \"1s\"\n", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "poll_intervall"));
    env_done(&e);
    void *s = NULL;
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_jetson,
                                             alumet_plugin_jetson.default_config, NULL, &s, &err),
                     0);
    assert_int_equal(((struct jetson *)s)->cfg.poll_interval, ALUMET_NSEC_PER_SEC);
    alumet_plugin_jetson.free(s);
}

/* start → stop → start works on the same state. */
static void test_restart(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    env_setup(&e, "tx2-iio");
    alumet__pipeline_free(e.t.p);
    assert_int_equal(alumet_plugin_jetson.stop(e.j, &err), 0);
    alumet__buffer_free(e.t.buf);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_int_equal(env_poll(&e, T0), 15);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orin_values),
        cmocka_unit_test(test_orin_energy_uneven),
        cmocka_unit_test(test_tx2_values),
        cmocka_unit_test(test_tx2_energy_step),
        cmocka_unit_test(test_missing_sensor_file),
        cmocka_unit_test(test_no_hardware),
        cmocka_unit_test(test_nothing_readable),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_restart),
    };
    return alumet_run_tests(tests);
}
