/* SPDX-License-Identifier: MIT */
/* Tests of the nvml plugin against the scripted stub library
 * (tests/fixtures/nvml-stub/). The test dlopens the stub itself, so the
 * plugin's dlopen of the same path shares its state: the test scripts the
 * devices, starts the plugin into a pipeline that is never run, and polls
 * the sources itself at instants 1 s apart. Every expected value comes from
 * the script (counter steps, powers, samples), not from the plugin. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>

#include "alumet-test-source.h"
#include "nvml-plugin.h"

extern const struct alumet_plugin alumet_plugin_nvml;

#define T0 ((alumet_time_ns)1700000000 * ALUMET_NSEC_PER_SEC)
#define BUS "00001999:77:00.0"

/* Upstream's mock scenario (spec sources.md §4.6). */
static const char MOCK[] = "devices 1\n"
                           "device 0\n"
                           "name Mock GPU\n"
                           "bus " BUS "\n"
                           "energy 10 4990\n" /* probe 10, poll 1: 5000, poll 2: 9990 */
                           "power 100 100 150\n"
                           "temperature 65\n"
                           "utilization 50 60\n"
                           "memory 20 50 70 0\n"
                           "encoder 1 10000\n"
                           "decoder 50 1000\n"
                           "graphics 1234 64000 0 1\n"
                           "graphics 5678 32000 - -\n"
                           "clocks 4 1 3 2\n"
                           "sample 1234 50 7 0 0\n";

struct env {
    void *stub;
    alumet_test_stub_script_fn script;
    unsigned long long (*last_seen)(unsigned index);
    struct alumet_test_source t;
    struct nvml *nvml;
    alumet_time_ns now;
    /* the plugin's clock: now + delay at the start of a read, + call at its
     * end (a thread preempted delay ns after the poll's instant) */
    alumet_time_ns delay, call;
    unsigned clock_reads;
};

static alumet_time_ns env_clock(void *data)
{
    struct env *e = data;
    return e->now + e->delay + (e->clock_reads++ % 2 ? e->call : 0);
}

/* Load library (a stub: scripted with script) and init the plugin with
 * library = its path and the extra config lines. */
static int env_init(struct env *e, const char *library, const char *script, const char *extra,
                    struct alumet_error *err)
{
    memset(e, 0, sizeof(*e));
    alumet_test_log_capture("debug");
    e->now = T0;
    e->stub = alumet_test_stub_open(library, "nvml_stub_script", script, &e->script);
    if (e->stub)
        *(void **)&e->last_seen = dlsym(e->stub, "nvml_stub_last_seen");
    int r = alumet_test_source_init(&e->t, &alumet_plugin_nvml, "library", library, extra, err);
    e->nvml = e->t.state;
    if (e->nvml)
        e->nvml->clock = (struct read_clock){env_clock, e};
    return r;
}

static int env_start_r(struct env *e, struct alumet_error *err)
{
    return alumet_test_source_start(&e->t, err);
}

static void env_setup(struct env *e, const char *script, const char *extra)
{
    struct alumet_error err = {0};
    int r = env_init(e, NVML_STUB, script, extra, &err);
    if (r == 0)
        r = env_start_r(e, &err);
    alumet_test_source_expect_ok(r, &err, "init/start");
}

static void env_done(struct env *e)
{
    alumet_test_source_done(&e->t);
    if (e->stub)
        dlclose(e->stub);
    alumet_test_log_release();
}

/* Apply more script lines to the stub (no reset). */
static void env_script(struct env *e, const char *text)
{
    assert_int_equal(e->script(text, 0), 0);
}

/* Poll source i 1 s after the previous poll; returns the poll's result. */
static int env_poll_r(struct env *e, size_t i, struct alumet_error *err)
{
    assert_true(i < e->nvml->n_sources);
    e->now += ALUMET_NSEC_PER_SEC;
    return alumet_test_source_poll_r(&e->t, &nvml_source_ops, e->nvml->sources[i], e->now, err);
}

static size_t env_poll(struct env *e, size_t i)
{
    assert_true(i < e->nvml->n_sources);
    e->now += ALUMET_NSEC_PER_SEC;
    return alumet_test_source_poll(&e->t, &nvml_source_ops, e->nvml->sources[i], e->now);
}

/* ---- finding points ---- */

static bool attr_is(struct env *e, const struct alumet_point *p, const char *key, const char *v)
{
    return alumet_test_source_attr_is(&e->t, p, key, v);
}

/* The one point of metric whose consumer is pid (0: local_machine) and,
 * with key, whose attribute key is v; stamped with the poll's time. */
static const struct alumet_point *find(struct env *e, const char *metric, uint32_t pid,
                                       const char *key, const char *v)
{
    const struct alumet_point *p = alumet_test_source_find(&e->t, NULL, metric, pid, key, v);
    assert_int_equal(p->timestamp, e->now);
    return p;
}

static size_t count_metric(struct env *e, const char *metric)
{
    return alumet_test_source_count(&e->t, metric);
}

static uint64_t u64_of(struct env *e, const char *metric, uint32_t pid, const char *key,
                       const char *v)
{
    return alumet_test_point_u64(find(e, metric, pid, key, v));
}

static double f64_of(struct env *e, const char *metric, uint32_t pid, const char *key,
                     const char *v)
{
    return alumet_test_point_f64(find(e, metric, pid, key, v));
}

#define expect_f64(got, want)                                                                      \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (g_ != w_)                                                                              \
            fail_msg("%s: expected %.17g, got %.17g", #got, w_, g_);                               \
    } while (0)

/* The attributed part (idle, unattributed: pid 0; process: its pid), with
 * its method attribute checked. */
static double part_of(struct env *e, const char *part, uint32_t pid, const char *method)
{
    const struct alumet_point *p = find(e, NVML_ATTRIBUTED_METRIC, pid, "part", part);
    assert_true(attr_is(e, p, "method", method));
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_GPU);
    assert_string_equal(p->resource.str, BUS);
    return p->value.f64;
}

static double idle_power_attr(struct env *e)
{
    const struct alumet_point *p = find(e, NVML_ATTRIBUTED_METRIC, 0, "part", "idle");
    const struct alumet_attr *a = alumet_point_find_attr(e->t.buf, p, "idle_power_mw");
    assert_non_null(a);
    assert_int_equal(a->type, ALUMET_ATTR_F64);
    return a->v.f64;
}

/* ---- options ---- */

static void test_default_config(void **state)
{
    (void)state;
    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    void *st = NULL;
    assert_string_equal(alumet_plugin_nvml.default_config, "[plugins.nvml]\n"
                                                           "poll_interval = \"1s\"\n"
                                                           "flush_interval = \"5s\"\n"
                                                           "skip_failed_devices = true\n"
                                                           "mode = \"full\"\n");
    assert_string_equal(alumet_plugin_nvml.name, "nvml");
    assert_string_equal(alumet_plugin_nvml.version, "0.6.2");
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_nvml, alumet_plugin_nvml.default_config,
                                             &root, &st, &err),
                     0);
    struct nvml *nvml = st;
    assert_int_equal(nvml->cfg.poll_interval, ALUMET_NSEC_PER_SEC);
    assert_int_equal(nvml->cfg.flush_interval, 5 * ALUMET_NSEC_PER_SEC);
    assert_true(nvml->cfg.skip_failed_devices);
    assert_int_equal(nvml->mode, NVML_MODE_FULL);
    assert_true(nvml->cfg.process_energy);
    assert_false(nvml->cfg.idle_power_set);
    assert_string_equal(nvml->cfg.library, "libnvidia-ml.so.1");
    alumet_plugin_nvml.free(st);
    toml_free(root);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"mode = \"fast\"\n", "plugins.nvml.mode: expected \"full\" or \"minimal\", got 'fast'"},
        {"idle_power = -1\n", "plugins.nvml.idle_power: expected a power in watts"},
        {"poll_interval = \"0s\"\n", "plugins.nvml.poll_interval: expected a duration greater"},
        {"skip_failed_devices = 1\n", "plugins.nvml.skip_failed_devices"},
        {"process_energy = \"yes\"\n", "plugins.nvml.process_energy"},
        {"unknown_key = 1\n", "unknown_key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct env e;
        struct alumet_error err = {0};
        assert_int_equal(env_init(&e, NVML_STUB, NULL, cases[i].text, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("'%s' not in '%s'", cases[i].want, err.msg);
        env_done(&e);
    }
}

/* ---- detection ---- */

static void test_no_library(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "/nonexistent/libnvidia-ml.so.1", NULL, NULL, &err), 0);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_int_equal(e.nvml->n_sources, 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "no NVIDIA driver: cannot load the NVML library "
                                           "'/nonexistent/libnvidia-ml.so.1' (",
                                           "the nvml plugin measures nothing"),
                     1);
    assert_int_equal(alumet_registry_count(alumet_pipeline_registry(e.t.p)), 0);
    env_done(&e);
}

static void expect_start_warning(const char *library, const char *script, const char *want)
{
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, library, script, NULL, &err), 0);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_int_equal(e.nvml->n_sources, 0);
    if (alumet_test_log_count(ALUMET_LOG_WARN, want, "the nvml plugin measures nothing") != 1) {
        alumet_test_log_dump();
        fail_msg("no warning '%s'", want);
    }
    assert_int_equal(alumet_registry_count(alumet_pipeline_registry(e.t.p)), 0);
    env_done(&e);
}

static void test_no_driver_no_gpu(void **state)
{
    (void)state;
    expect_start_warning(NVML_STUB, "init_error 9\n",
                         "no NVIDIA driver: the NVML library is installed but the kernel driver "
                         "is not loaded (nvmlInit: Driver Not Loaded)");
    expect_start_warning(NVML_STUB, "devices 0\n",
                         "no NVIDIA GPU: the driver is loaded but NVML sees 0 devices");
    expect_start_warning(NVML_STUB_BROKEN, "devices 1\n",
                         "the NVML library '" NVML_STUB_BROKEN "' is too old or not NVML "
                         "(driver 450 or newer is needed): the library has no symbol "
                         "'nvmlDeviceGetPciInfo_v3'");
    expect_start_warning(NVML_STUB,
                         "devices 2\ndevice 0\nhandle_error 15\ndevice 1\nhandle_error 999\n",
                         "2 NVML-compatible devices found but none of them is working");
}

static const char THREE[] = "devices 3\n"
                            "device 0\nname Good GPU\nbus " BUS "\nenergy 0 1000\npower 5\n"
                            "device 1\nhandle_error 15\n"
                            "device 2\nname Bad GPU\nbus 00000000:03:00.0\nerror power 999\n";

static void test_failing_devices(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, THREE, NULL);
    assert_int_equal(e.nvml->n_sources, 1);
    assert_string_equal(e.nvml->sources[0]->bus_id, BUS);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 2);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "GPU device 1 cannot be measured: "
                                           "nvmlDeviceGetHandleByIndex_v2 failed: GPU is lost, "
                                           "skipping",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "GPU device 2 00000000:03:00.0 (\"Bad GPU\") cannot be "
                                           "measured: nvmlDeviceGetPowerUsage failed: Unknown "
                                           "Error, skipping",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "Found NVML device " BUS " \"Good GPU\" with features: "
                                           "total_energy_consumption, power_usage, "
                                           "temperature_gpu, utilization, memory_info, "
                                           "decoder_utilization, encoder_utilization, "
                                           "compute_processes, graphics_processes, "
                                           "process_utilization, clock_info",
                                           NULL),
                     1);
    env_done(&e);

    /* skip_failed_devices = false: the first failure fails the start */
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, NVML_STUB, THREE, "skip_failed_devices = false\n", &err), 0);
    assert_int_equal(env_start_r(&e, &err), -EIO);
    assert_string_equal(err.msg,
                        "failed to inspect GPU device 1: nvmlDeviceGetHandleByIndex_v2 failed: "
                        "GPU is lost (set plugins.nvml.skip_failed_devices = true to measure the "
                        "others)");
    env_done(&e);
}

/* ---- measurements ---- */

static void test_mock_full(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, MOCK, NULL);
    assert_int_equal(e.nvml->n_sources, 1);

    /* poll 1: upstream's 20 points (no energy difference, no samples yet) */
    assert_int_equal(env_poll(&e, 0), 20);
    assert_int_equal(count_metric(&e, "nvml_energy_consumption"), 0);
    assert_int_equal(u64_of(&e, "nvml_instant_power", 0, NULL, NULL), 100);
    assert_int_equal(u64_of(&e, "nvml_temperature_gpu", 0, NULL, NULL), 65);
    assert_int_equal(u64_of(&e, "nvml_gpu_utilization", 0, NULL, NULL), 50);
    assert_int_equal(u64_of(&e, "nvml_memory_utilization", 0, NULL, NULL), 60);
    assert_int_equal(u64_of(&e, "nvml_gpu_memory_info", 0, "kind", "free"), 20);
    assert_int_equal(u64_of(&e, "nvml_gpu_memory_info", 0, "kind", "reserved"), 50);
    assert_int_equal(u64_of(&e, "nvml_gpu_memory_info", 0, "kind", "total"), 70);
    assert_int_equal(u64_of(&e, "nvml_gpu_memory_info", 0, "kind", "used"), 0);
    assert_int_equal(u64_of(&e, "nvml_encoder_utilization", 0, NULL, NULL), 1);
    assert_int_equal(u64_of(&e, "nvml_encoder_sampling_period", 0, NULL, NULL), 10000);
    assert_int_equal(u64_of(&e, "nvml_decoder_utilization", 0, NULL, NULL), 50);
    assert_int_equal(u64_of(&e, "nvml_decoder_sampling_period", 0, NULL, NULL), 1000);
    assert_int_equal(u64_of(&e, "nvml_n_compute_processes", 0, NULL, NULL), 0);
    assert_int_equal(u64_of(&e, "nvml_n_graphic_processes", 0, NULL, NULL), 2);
    assert_int_equal(u64_of(&e, "nvml_clock_info", 0, "clock_type", "Graphics"), 4000000);
    assert_int_equal(u64_of(&e, "nvml_clock_info", 0, "clock_type", "SM"), 1000000);
    assert_int_equal(u64_of(&e, "nvml_clock_info", 0, "clock_type", "Memory"), 3000000);
    assert_int_equal(u64_of(&e, "nvml_clock_info", 0, "clock_type", "Video"), 2000000);
    /* the MIG process: resource gpu_partition{bus, 0}, compute instance 1 */
    const struct alumet_point *p = find(&e, "nvml_used_gpu_memory", 1234, "context", "graphics");
    assert_int_equal(p->value.u64, 64000);
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_GPU_PARTITION);
    assert_string_equal(p->resource.str, BUS);
    assert_int_equal(p->resource.num, 0);
    const struct alumet_attr *ci = alumet_point_find_attr(e.t.buf, p, "compute_instance_id");
    assert_non_null(ci);
    assert_int_equal(ci->v.u64, 1);
    p = find(&e, "nvml_used_gpu_memory", 5678, "context", "graphics");
    assert_int_equal(p->value.u64, 32000);
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_GPU);
    assert_int_equal(p->attr_count, 1);
    /* device points: resource gpu{bus}, consumer local_machine */
    p = find(&e, "nvml_instant_power", 0, NULL, NULL);
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_GPU);
    assert_string_equal(p->resource.str, BUS);

    /* poll 2: energy 4990 mJ, samples since poll 1 (lastSeen in µs) */
    alumet_time_ns t1 = e.now;
    env_poll(&e, 0);
    assert_int_equal(e.last_seen(0), (unsigned long long)(t1 / 1000));
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 4990);
    assert_int_equal(u64_of(&e, "nvml_instant_power", 0, NULL, NULL), 150);
    assert_int_equal(u64_of(&e, "nvml_sm_utilization", 1234, NULL, NULL), 50);
    assert_int_equal(u64_of(&e, "nvml_memory_utilization", 1234, NULL, NULL), 7);
    assert_int_equal(u64_of(&e, "nvml_encoder_utilization", 1234, NULL, NULL), 0);
    assert_int_equal(u64_of(&e, "nvml_decoder_utilization", 1234, NULL, NULL), 0);
    /* no idle power known yet (the GPU was busy): all to the processes by SM share */
    expect_f64(part_of(&e, "idle", 0, "sm_share"), 0);
    expect_f64(part_of(&e, "process", 1234, "sm_share"), 4990);
    expect_f64(part_of(&e, "process", 5678, "sm_share"), 0);
    expect_f64(part_of(&e, "unattributed", 0, "sm_share"), 0);
    /* 20 + energy + 4 sample points + 4 attributed */
    assert_int_equal(alumet_buffer_len(e.t.buf), 29);

    /* poll 3: the samples seen before are not asked again */
    env_poll(&e, 0);
    assert_int_equal(e.last_seen(0), (unsigned long long)(t1 / 1000) + 1);
    env_done(&e);
}

static const char SPLIT[] = "devices 1\ndevice 0\nname G\nbus " BUS "\n"
                            "energy 0 8000\n" /* 8000 mJ per poll, polls 1 s apart: 8 W */
                            "utilization 80 10\n"
                            "sample 100 60 0 0 0\n"
                            "sample 200 20 0 0 0\n"
                            "compute 100 1 - -\n"
                            "compute 200 1 - -\n";

/* A poll preempted 30 ms after its instant, whose energy read takes 2 ms:
 * its points carry the middle of the read, and the interval (the idle
 * energy) is 1.031 s long. Minimal mode stamps its power read so. */
static void test_read_instant(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, SPLIT, "idle_power = 2\n");
    env_poll(&e, 0);
    e.delay = 30 * ALUMET_NSEC_PER_MSEC;
    e.call = 2 * ALUMET_NSEC_PER_MSEC;
    env_poll(&e, 0);
    e.now += 31 * ALUMET_NSEC_PER_MSEC; /* find() checks every stamp against it */
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 8000);
    expect_f64(part_of(&e, "idle", 0, "sm_share"), 2062);
    expect_f64(part_of(&e, "process", 100, "sm_share"), 4453.5);
    expect_f64(part_of(&e, "process", 200, "sm_share"), 1484.5);
    env_done(&e);

    env_setup(&e, "devices 1\ndevice 0\nname G\nbus " BUS "\npower 5000\n", "mode = \"minimal\"\n");
    env_poll(&e, 0);
    e.delay = 30 * ALUMET_NSEC_PER_MSEC;
    e.call = 2 * ALUMET_NSEC_PER_MSEC;
    env_poll(&e, 0);
    e.now += 31 * ALUMET_NSEC_PER_MSEC;
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 5155); /* 5 W x 1.031 s */
    env_done(&e);
}

static void test_split_configured_idle(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, SPLIT, "idle_power = 2\n");
    env_poll(&e, 0);
    assert_int_equal(count_metric(&e, NVML_ATTRIBUTED_METRIC), 0);

    /* idle 2 W × 1 s; active 6000 mJ by SM share 60:20 */
    env_poll(&e, 0);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 8000);
    expect_f64(part_of(&e, "idle", 0, "sm_share"), 2000);
    expect_f64(part_of(&e, "process", 100, "sm_share"), 4500);
    expect_f64(part_of(&e, "process", 200, "sm_share"), 1500);
    expect_f64(part_of(&e, "unattributed", 0, "sm_share"), 0);
    expect_f64(idle_power_attr(&e), 2000);
    assert_int_equal(count_metric(&e, NVML_ATTRIBUTED_METRIC), 4);

    /* no sample: even split between the running processes */
    env_script(&e, "clear_samples\n");
    env_poll(&e, 0);
    expect_f64(part_of(&e, "idle", 0, "even_split"), 2000);
    expect_f64(part_of(&e, "process", 100, "even_split"), 3000);
    expect_f64(part_of(&e, "process", 200, "even_split"), 3000);
    expect_f64(part_of(&e, "unattributed", 0, "even_split"), 0);

    /* no process at all: the active part is unattributed */
    env_script(&e, "clear_processes\n");
    env_poll(&e, 0);
    expect_f64(part_of(&e, "idle", 0, "none"), 2000);
    expect_f64(part_of(&e, "unattributed", 0, "none"), 6000);
    assert_int_equal(count_metric(&e, NVML_ATTRIBUTED_METRIC), 2);

    /* idle power above the energy: everything is idle */
    env_script(&e, "energy_step 1000\nsample 100 60 0 0 0\n");
    env_poll(&e, 0);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 1000);
    expect_f64(part_of(&e, "idle", 0, "sm_share"), 1000);
    expect_f64(part_of(&e, "process", 100, "sm_share"), 0);
    expect_f64(part_of(&e, "unattributed", 0, "sm_share"), 0);
    env_done(&e);
}

static void test_split_estimated_idle(void **state)
{
    (void)state;
    struct env e;
    /* idle at first: 0 % utilisation, no sample, 3 W */
    env_setup(&e,
              "devices 1\ndevice 0\nname G\nbus " BUS "\nenergy 0 3000\n"
              "utilization 0 0\ncompute 42 1 - -\n",
              NULL);
    env_poll(&e, 0);
    env_poll(&e, 0);
    expect_f64(part_of(&e, "idle", 0, "even_split"), 3000);
    expect_f64(part_of(&e, "process", 42, "even_split"), 0);
    expect_f64(part_of(&e, "unattributed", 0, "even_split"), 0);
    expect_f64(idle_power_attr(&e), 3000);

    /* a busier idle interval does not raise the estimate */
    env_script(&e, "energy_step 3500\n");
    env_poll(&e, 0);
    expect_f64(idle_power_attr(&e), 3000);
    expect_f64(part_of(&e, "idle", 0, "even_split"), 3000);
    expect_f64(part_of(&e, "process", 42, "even_split"), 500);

    /* load: 10 W, pid 42 at 90 % SM: 3 J idle, 7 J to pid 42 */
    env_script(&e, "energy_step 10000\nutilization 90 5\nsample 42 90 0 0 0\n");
    env_poll(&e, 0);
    expect_f64(part_of(&e, "idle", 0, "sm_share"), 3000);
    expect_f64(part_of(&e, "process", 42, "sm_share"), 7000);
    expect_f64(part_of(&e, "unattributed", 0, "sm_share"), 0);
    env_done(&e);
}

/* The split itself: the parts always add up to the energy. */
static void test_split_function(void **state)
{
    (void)state;
    struct nvml_share s[3] = {{1, 1, 0}, {2, 1, 0}, {3, 1, 0}};
    double idle, rest;
    assert_int_equal(nvml_split_energy(1000, 100, s, 3, &idle, &rest), NVML_SPLIT_SM_SHARE);
    expect_f64(idle, 100);
    expect_f64(idle + s[0].energy_mj + s[1].energy_mj + s[2].energy_mj + rest, 1000);
    assert_true(rest >= 0 && rest < 1e-9);
    assert_int_equal(nvml_split_energy(10, 25, s, 3, &idle, &rest), NVML_SPLIT_SM_SHARE);
    expect_f64(idle, 10);
    expect_f64(s[0].energy_mj + rest, 0);
    assert_int_equal(nvml_split_energy(10, -5, NULL, 0, &idle, &rest), NVML_SPLIT_NONE);
    expect_f64(idle, 0);
    expect_f64(rest, 10);
}

static void test_counter_wrap_and_reset(void **state)
{
    (void)state;
    struct env e;
    /* probe 2^64-1000, poll 1: 2^64-400, poll 2: 200 (wrapped), 800, then a
     * reset at call 4 to 50, then 650 */
    env_setup(&e,
              "devices 1\ndevice 0\nname G\nbus " BUS "\n"
              "energy 18446744073709550616 600\nenergy_reset 4 50\n",
              "process_energy = false\n");
    env_poll(&e, 0);
    assert_int_equal(count_metric(&e, "nvml_energy_consumption"), 0);
    env_poll(&e, 0);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 600);
    env_poll(&e, 0);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 600);
    assert_int_equal(count_metric(&e, NVML_ATTRIBUTED_METRIC), 0);
    env_poll(&e, 0);
    assert_int_equal(count_metric(&e, "nvml_energy_consumption"), 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "the energy counter of GPU " BUS " went back from "
                                           "'800' to '50' mJ (driver reloaded or GPU reset): "
                                           "new baseline",
                                           "skipping"),
                     1);
    env_poll(&e, 0);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 600);
    env_done(&e);
}

static void test_unchanged_counter(void **state)
{
    (void)state;
    struct env e;
    /* the counter is not refreshed at poll 2: poll 3 covers 2 s */
    env_setup(&e,
              "devices 1\ndevice 0\nname G\nbus " BUS "\nenergy 0 0\nutilization 50 0\n"
              "sample 9 50 0 0 0\n",
              "idle_power = 1.5\n");
    env_script(&e, "energy_step 0\n");
    env_poll(&e, 0);
    env_script(&e, "energy_step 4000\n");
    env_poll(&e, 0);
    /* the counter: 0 at poll 1, 4000 at poll 2 */
    expect_f64(part_of(&e, "idle", 0, "sm_share"), 1500);
    env_script(&e, "energy_step 0\n");
    env_poll(&e, 0);
    assert_int_equal(count_metric(&e, "nvml_energy_consumption"), 0);
    assert_int_equal(count_metric(&e, NVML_ATTRIBUTED_METRIC), 0);
    env_script(&e, "energy_step 5000\n");
    env_poll(&e, 0);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 5000);
    expect_f64(part_of(&e, "idle", 0, "sm_share"), 3000); /* 1.5 W × 2 s */
    expect_f64(part_of(&e, "process", 9, "sm_share"), 2000);
    env_done(&e);
}

static void test_not_supported_masking(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e,
              "devices 1\ndevice 0\nname G\nbus " BUS "\nenergy 0 100\npower 7\n"
              "error temperature 3\nerror clocks 3\nerror process_utilization 3\n"
              "error compute 3\nerror graphics 3\nerror decoder 3\nerror encoder 3\n",
              NULL);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "Found NVML device " BUS " \"G\" with features: "
                                           "total_energy_consumption, power_usage, utilization, "
                                           "memory_info",
                                           NULL),
                     1);
    env_poll(&e, 0);
    env_poll(&e, 0);
    assert_int_equal(count_metric(&e, "nvml_temperature_gpu"), 0);
    assert_int_equal(count_metric(&e, "nvml_clock_info"), 0);
    assert_int_equal(count_metric(&e, "nvml_n_compute_processes"), 0);
    /* an idle interval (0 %): its mean power is the idle estimate */
    expect_f64(part_of(&e, "idle", 0, "none"), 100);
    expect_f64(part_of(&e, "unattributed", 0, "none"), 0);
    /* energy, power, 2 utilisations, 4 memory, idle and unattributed */
    assert_int_equal(alumet_buffer_len(e.t.buf), 10);
    env_done(&e);
}

static void test_v3_missing(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, NVML_STUB_NOV3, MOCK, NULL, &err), 0);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_int_equal(e.nvml->n_sources, 1);
    assert_string_equal(e.nvml->sources[0]->compute_symbol,
                        "nvmlDeviceGetComputeRunningProcesses_v2");
    assert_string_equal(e.nvml->sources[0]->graphics_symbol,
                        "nvmlDeviceGetGraphicsRunningProcesses_v2");
    env_poll(&e, 0);
    assert_int_equal(u64_of(&e, "nvml_used_gpu_memory", 5678, "context", "graphics"), 32000);
    env_done(&e);
}

static void test_poll_errors(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    /* temperature fails from its 3rd call (poll 2) on; the GPU is lost at
     * the 4th energy call (poll 3) */
    env_setup(&e,
              "devices 1\ndevice 0\nname G\nbus " BUS "\nenergy 0 100\ntemperature 40\n"
              "error temperature 999 2\nerror energy 15 3\n",
              NULL);
    env_poll(&e, 0);
    assert_int_equal(env_poll_r(&e, 0, &err), ALUMET_POLL_RETRY);
    assert_string_equal(err.msg, "GPU " BUS " ('G'): nvmlDeviceGetTemperature failed: Unknown "
                                 "Error");
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 100);
    assert_int_equal(count_metric(&e, "nvml_temperature_gpu"), 0);
    alumet_error_clear(&err);
    assert_true(env_poll_r(&e, 0, &err) < 0);
    assert_non_null(strstr(err.msg, "the GPU is lost (fell off the bus, or reset): its source "
                                    "stops: GPU " BUS " ('G'): "
                                    "nvmlDeviceGetTotalEnergyConsumption failed: GPU is lost"));
    env_done(&e);
}

static void test_minimal_mode(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "devices 1\ndevice 0\nname G\nbus " BUS "\npower 100 100 150 150 120\n",
              "mode = \"minimal\"\n");
    assert_non_null(
        alumet_registry_find(alumet_pipeline_registry(e.t.p), "nvml_energy_consumption"));
    assert_null(alumet_registry_find(alumet_pipeline_registry(e.t.p), "nvml_temperature_gpu"));
    assert_int_equal(env_poll(&e, 0), 1);
    assert_int_equal(u64_of(&e, "nvml_instant_power", 0, NULL, NULL), 100);
    assert_int_equal(env_poll(&e, 0), 2);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 125);
    /* equal power: upstream drops this interval, not here */
    assert_int_equal(env_poll(&e, 0), 2);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 150);
    assert_int_equal(env_poll(&e, 0), 2);
    expect_f64(f64_of(&e, "nvml_energy_consumption", 0, NULL, NULL), 135);
    env_done(&e);

    /* minimal mode needs the power */
    env_setup(&e,
              "devices 2\ndevice 0\nname A\nbus a\npower 1\ndevice 1\nname B\nbus b\n"
              "energy 0 1\nerror power 3\n",
              "mode = \"minimal\"\n");
    assert_int_equal(e.nvml->n_sources, 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "GPU device 1 b (\"B\") cannot be measured: minimal "
                                           "mode cannot be used on it: nvmlDeviceGetPowerUsage "
                                           "is not supported",
                                           NULL),
                     1);
    env_done(&e);
}

static void test_restart(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    env_setup(&e, MOCK, NULL);
    alumet__pipeline_free(e.t.p);
    assert_int_equal(alumet_plugin_nvml.stop(e.nvml, &err), 0);
    alumet__buffer_free(e.t.buf);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_int_equal(e.nvml->n_sources, 1);
    assert_int_equal(env_poll(&e, 0), 20);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_read_instant),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_no_library),
        cmocka_unit_test(test_no_driver_no_gpu),
        cmocka_unit_test(test_failing_devices),
        cmocka_unit_test(test_mock_full),
        cmocka_unit_test(test_split_configured_idle),
        cmocka_unit_test(test_split_estimated_idle),
        cmocka_unit_test(test_split_function),
        cmocka_unit_test(test_counter_wrap_and_reset),
        cmocka_unit_test(test_unchanged_counter),
        cmocka_unit_test(test_not_supported_masking),
        cmocka_unit_test(test_v3_missing),
        cmocka_unit_test(test_poll_errors),
        cmocka_unit_test(test_minimal_mode),
        cmocka_unit_test(test_restart),
    };
    return alumet_run_tests(tests);
}
