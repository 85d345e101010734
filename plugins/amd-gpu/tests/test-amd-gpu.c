/* SPDX-License-Identifier: MIT */
/* Tests of the amd-gpu plugin against the scripted stub library
 * (tests/fixtures/amd-smi-stub/). The test dlopens the stub itself, so the
 * plugin's dlopen of the same path shares its state: the test scripts the
 * GPUs, starts the plugin into a pipeline that is never run, and polls the
 * source itself at instants 1 s apart. Every expected value comes from the
 * script (counter steps, resolutions, engine times), not from the plugin. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>

#include "alumet-test-source.h"
#include "amd-gpu-plugin.h"

extern const struct alumet_plugin alumet_plugin_amd_gpu;

#define T0 ((alumet_time_ns)1700000000 * ALUMET_NSEC_PER_SEC)
#define UUID "ccff74a1-0000-1000-80ac-8b41e6a0ffc2"

/* process <pid> <name> <mem> <gfx ns> <enc ns> <gtt> <cpu> <vram> <cu> <gfx rate> */
static const char FULL[] = "devices 1\n"
                           "device 0\n"
                           "uuid " UUID "\n"
                           "activity 40 0 7\n" /* gfx, umc (0: no point), mm */
                           "cu 304\n"
                           "energy 1000 500 15.3\n" /* probe 1000, poll 1: 1500, poll 2: 2000 */
                           "power 550\n"
                           "voltage 850\n"
                           "memory 4096 8192\n"
                           "temperature 0 45\n" /* edge */
                           "temperature 1 60\n" /* hotspot */
                           "temperature 3 50\n" /* HBM 0 */
                           "temperature 7 41\n" /* PLX */
                           "process 4242 python3 1048576 2000000 0 4096 0 1044480 76 0\n";

struct env {
    void *stub;
    alumet_test_stub_script_fn script;
    unsigned (*calls)(unsigned index, const char *call);
    struct alumet_test_source t;
    struct amd_gpu *amd;
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
    e->stub = alumet_test_stub_open(library, "amd_smi_stub_script", script, &e->script);
    if (e->stub)
        *(void **)&e->calls = dlsym(e->stub, "amd_smi_stub_calls");
    int r = alumet_test_source_init(&e->t, &alumet_plugin_amd_gpu, "library", library, extra, err);
    e->amd = e->t.state;
    if (e->amd)
        e->amd->clock = (struct read_clock){env_clock, e};
    return r;
}

static int env_start_r(struct env *e, struct alumet_error *err)
{
    return alumet_test_source_start(&e->t, err);
}

static void env_setup(struct env *e, const char *script, const char *extra)
{
    struct alumet_error err = {0};
    int r = env_init(e, AMD_SMI_STUB, script, extra, &err);
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

static void env_script(struct env *e, const char *text)
{
    assert_int_equal(e->script(text, 0), 0);
}

/* Poll the source 1 s after the previous poll; returns the poll's result. */
static int env_poll_r(struct env *e, struct alumet_error *err)
{
    e->now += ALUMET_NSEC_PER_SEC;
    return alumet_test_source_poll_r(&e->t, &amd_source_ops, e->amd->source, e->now, err);
}

static size_t env_poll(struct env *e)
{
    e->now += ALUMET_NSEC_PER_SEC;
    return alumet_test_source_poll(&e->t, &amd_source_ops, e->amd->source, e->now);
}

/* ---- finding points ---- */

static const char *metric_name(struct env *e, const struct alumet_point *p)
{
    return alumet_test_source_metric_name(&e->t, p);
}

static bool attr_is(struct env *e, const struct alumet_point *p, const char *key, const char *v)
{
    return alumet_test_source_attr_is(&e->t, p, key, v);
}

/* The one point of metric on GPU uuid whose consumer is pid (0:
 * local_machine) and, with key, whose attribute key is v. */
static const struct alumet_point *find_on(struct env *e, const char *uuid, const char *metric,
                                          uint32_t pid, const char *key, const char *v)
{
    const struct alumet_point *p = alumet_test_source_find(&e->t, uuid, metric, pid, key, v);
    assert_int_equal(p->timestamp, e->now);
    return p;
}

static const struct alumet_point *find(struct env *e, const char *metric, uint32_t pid,
                                       const char *key, const char *v)
{
    return find_on(e, UUID, metric, pid, key, v);
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

/* |got - want| within 1e-9 relative (float resolutions are not exact). */
#define expect_near(got, want)                                                                     \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(g_ - w_ <= 1e-9 * (w_ > 0 ? w_ : 1) && w_ - g_ <= 1e-9 * (w_ > 0 ? w_ : 1)))         \
            fail_msg("%s: expected %.17g, got %.17g", #got, w_, g_);                               \
    } while (0)

static double part_of(struct env *e, const char *part, uint32_t pid, const char *method)
{
    const struct alumet_point *p = find(e, AMD_GPU_ATTRIBUTED_METRIC, pid, "part", part);
    assert_true(attr_is(e, p, "method", method));
    return p->value.f64;
}

/* ---- options ---- */

static void test_default_config(void **state)
{
    (void)state;
    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    void *st = NULL;
    assert_string_equal(alumet_plugin_amd_gpu.default_config, "[plugins.amd-gpu]\n"
                                                              "poll_interval = \"1s\"\n"
                                                              "flush_interval = \"5s\"\n"
                                                              "skip_failed_devices = true\n");
    assert_string_equal(alumet_plugin_amd_gpu.name, "amd-gpu");
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_amd_gpu,
                                             alumet_plugin_amd_gpu.default_config, &root, &st,
                                             &err),
                     0);
    struct amd_gpu *amd = st;
    assert_int_equal(amd->cfg.poll_interval, ALUMET_NSEC_PER_SEC);
    assert_int_equal(amd->cfg.flush_interval, 5 * ALUMET_NSEC_PER_SEC);
    assert_true(amd->cfg.skip_failed_devices);
    assert_true(amd->cfg.process_energy);
    assert_false(amd->cfg.idle_power_set);
    assert_string_equal(amd->cfg.library, "libamd_smi.so");
    alumet_plugin_amd_gpu.free(st);
    toml_free(root);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"idle_power = -1\n", "plugins.amd-gpu.idle_power: expected a power in watts"},
        {"poll_interval = \"0s\"\n", "plugins.amd-gpu.poll_interval: expected a duration greater"},
        {"skip_failed_devices = 1\n", "plugins.amd-gpu.skip_failed_devices"},
        {"library = \"\"\n", "plugins.amd-gpu.library: expected a library name or path"},
        {"unknown_key = 1\n", "unknown_key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct env e;
        struct alumet_error err = {0};
        char text[256];
        /* the library key comes first in env_init: a second one is a duplicate */
        bool lib = strncmp(cases[i].text, "library", 7) == 0;
        snprintf(text, sizeof(text), "%s", cases[i].text);
        memset(&e, 0, sizeof(e));
        alumet_test_log_capture("debug");
        char conf[512];
        snprintf(conf, sizeof(conf), "[plugins.amd-gpu]\n%s%s", lib ? "" : "library = \"x\"\n",
                 text);
        void *st = NULL;
        assert_int_equal(
            alumet_test_plugin_init(&alumet_plugin_amd_gpu, conf, &e.t.root, &st, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("'%s' not in '%s'", cases[i].want, err.msg);
        alumet_plugin_amd_gpu.free(st);
        toml_free(e.t.root);
        alumet_test_log_release();
    }
}

/* ---- detection ---- */

/* The start measures nothing, with n_warn warnings of which the last is
 * want. */
static void expect_start_warnings(const char *library, const char *script, int n_warn,
                                  const char *want)
{
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, library, script, NULL, &err), 0);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_null(e.amd->source);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), n_warn);
    if (alumet_test_log_count(ALUMET_LOG_WARN, want, "the amd-gpu plugin measures nothing") != 1) {
        alumet_test_log_dump();
        fail_msg("no warning '%s'", want);
    }
    assert_int_equal(alumet_registry_count(alumet_pipeline_registry(e.t.p)), 0);
    env_done(&e);
}

static void expect_start_warning(const char *library, const char *script, const char *want)
{
    expect_start_warnings(library, script, 1, want);
}

static void test_no_library_no_driver_no_gpu(void **state)
{
    (void)state;
    expect_start_warning("/nonexistent/libamd_smi.so", NULL,
                         "no AMD SMI library: cannot load '/nonexistent/libamd_smi.so' (");
    expect_start_warning(AMD_SMI_STUB, "init_error 34\n",
                         "no AMD GPU driver: the AMD SMI library is installed but the amdgpu "
                         "kernel driver is not loaded (amdsmi_init: "
                         "AMDSMI_STATUS_DRIVER_NOT_LOADED: Processor driver not loaded)");
    expect_start_warning(AMD_SMI_STUB, "init_error 10\n",
                         "cannot use the AMD GPUs (amdsmi_init: AMDSMI_STATUS_NO_PERM: "
                         "Permission Denied): the agent needs read and write access to /dev/kfd");
    expect_start_warning(AMD_SMI_STUB, "init_error 18\n",
                         "Failed to initialize AMD SMI: AMDSMI_STATUS_UNKNOWN_ERROR");
    expect_start_warning(AMD_SMI_STUB, "devices 0\n",
                         "no AMD GPU: the amdgpu driver is loaded but AMD SMI sees 0 GPUs");
}

static const char TWO[] = "devices 2\n"
                          "device 0\nuuid " UUID "\nenergy 0 100 1\n"
                          "device 1\nsocket 1\nuuid bad-gpu\nenergy 0 100 1\n"
                          "temperature 0 40\nerror temperature 12\n";

static void test_failing_devices(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, TWO, NULL);
    assert_int_equal(e.amd->source->n_devices, 1);
    assert_string_equal(e.amd->source->devices[0].uuid, UUID);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "GPU device socket 1 processor 0 bad-gpu cannot be "
                                           "measured: amdsmi_get_temp_metric failed: "
                                           "AMDSMI_STATUS_IO: I/O Error, skipping",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "Found AMD GPU " UUID " with features: energy", NULL),
                     1);
    env_done(&e);

    /* skip_failed_devices = false: a start error */
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, AMD_SMI_STUB, TWO, "skip_failed_devices = false\n", &err), 0);
    assert_int_equal(env_start_r(&e, &err), -EIO);
    assert_string_equal(err.msg, "failed to inspect GPU device socket 1 processor 0 bad-gpu: "
                                 "amdsmi_get_temp_metric failed: AMDSMI_STATUS_IO: I/O Error (set "
                                 "plugins.amd-gpu.skip_failed_devices = true to measure the "
                                 "others)");
    env_done(&e);

    /* every GPU failing (the UUID itself, or no feature at all) */
    expect_start_warnings(AMD_SMI_STUB,
                          "devices 2\ndevice 0\nuuid a\nerror uuid 12\ndevice 1\nuuid b\n", 3,
                          "2 AMD SMI-compatible devices found but none of them is working");
}

static void test_uuid_dedup_and_order(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e,
              "devices 3\n"
              "device 0\nuuid zz-gpu\nenergy 0 10 1\n"
              "device 1\nsocket 1\nuuid aa-gpu\nenergy 0 20 1\n"
              "device 2\nsocket 2\nuuid zz-gpu\nenergy 0 30 1\n",
              "process_energy = false\n");
    struct amd_gpu_source *src = e.amd->source;
    assert_int_equal(src->n_devices, 2);
    assert_string_equal(src->devices[0].uuid, "aa-gpu");
    assert_string_equal(src->devices[1].uuid, "zz-gpu");
    env_poll(&e);
    assert_int_equal(env_poll(&e), 2);
    expect_near(find_on(&e, "aa-gpu", "amd_gpu_energy_consumption", 0, NULL, NULL)->value.f64,
                20.0 / 1000);
    /* the first processor with the UUID is the one measured */
    expect_near(find_on(&e, "zz-gpu", "amd_gpu_energy_consumption", 0, NULL, NULL)->value.f64,
                10.0 / 1000);
    assert_int_equal(e.calls(2, "energy"), 0);
    env_done(&e);
}

/* ---- metrics ---- */

static void test_full_rocm7(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, FULL, "process_energy = false\n");
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "Found AMD GPU " UUID
                                           " with features: activity, processes, energy, power, "
                                           "voltage, memory_gtt, memory_vram, temperature_edge, "
                                           "temperature_hotspot, temperature_hbm_0, "
                                           "temperature_plx",
                                           NULL),
                     1);
    /* poll 1: everything but the energy (baseline) */
    assert_int_equal(env_poll(&e), 2 + 5 + 1 + 1 + 2 + 4);
    /* poll 2 */
    assert_int_equal(env_poll(&e), 2 + 5 + 1 + 1 + 1 + 2 + 4);
    expect_near(f64_of(&e, "amd_gpu_activity_usage", 0, "activity_type", "graphic_core"), 40);
    expect_near(f64_of(&e, "amd_gpu_activity_usage", 0, "activity_type", "memory_management"), 7);
    assert_int_equal(count_metric(&e, "amd_gpu_activity_usage"), 2); /* umc 0: no point */
    /* (1500 - 1000) × 15.3 µJ = 7.65 mJ */
    expect_near(f64_of(&e, "amd_gpu_energy_consumption", 0, NULL, NULL),
                500 * (double)15.3f / 1000);
    assert_int_equal(u64_of(&e, "amd_gpu_power_consumption", 0, NULL, NULL), 550);
    assert_int_equal(u64_of(&e, "amd_gpu_voltage", 0, NULL, NULL), 850);
    assert_int_equal(
        u64_of(&e, "amd_gpu_memory_usage", 0, "memory_type", "memory_graphic_translation_table"),
        4096);
    assert_int_equal(u64_of(&e, "amd_gpu_memory_usage", 0, "memory_type", "memory_video_computing"),
                     8192);
    assert_int_equal(u64_of(&e, "amd_gpu_temperature", 0, "thermal_zone", "thermal_global"), 45);
    assert_int_equal(u64_of(&e, "amd_gpu_temperature", 0, "thermal_zone", "thermal_hotspot"), 60);
    assert_int_equal(
        u64_of(&e, "amd_gpu_temperature", 0, "thermal_zone", "thermal_high_bandwidth_memory_0"),
        50);
    assert_int_equal(u64_of(&e, "amd_gpu_temperature", 0, "thermal_zone", "thermal_pci_bus"), 41);
    /* processes: 76 of 304 CUs = 25 %; zero values skipped */
    expect_near(
        f64_of(&e, "amd_gpu_process_compute_unit_occupancy", 4242, "process_name", "python3"), 25);
    assert_int_equal(u64_of(&e, "amd_gpu_process_memory_usage", 4242, "process_name", "python3"),
                     1048576);
    assert_int_equal(u64_of(&e, "amd_gpu_process_engine_gfx", 4242, NULL, NULL), 2000000);
    assert_int_equal(u64_of(&e, "amd_gpu_process_memory_usage_gtt", 4242, NULL, NULL), 4096);
    assert_int_equal(u64_of(&e, "amd_gpu_process_memory_usage_vram", 4242, NULL, NULL), 1044480);
    assert_int_equal(count_metric(&e, "amd_gpu_process_engine_usage_encode"), 0);
    assert_int_equal(count_metric(&e, "amd_gpu_process_memory_usage_cpu"), 0);
    assert_int_equal(count_metric(&e, AMD_GPU_ATTRIBUTED_METRIC), 0);
    /* upstream's order: activity, processes, energy, power, ... */
    assert_string_equal(metric_name(&e, alumet_buffer_get(e.t.buf, 0)), "amd_gpu_activity_usage");
    assert_string_equal(metric_name(&e, alumet_buffer_get(e.t.buf, 2)),
                        "amd_gpu_process_compute_unit_occupancy");
    assert_string_equal(metric_name(&e, alumet_buffer_get(e.t.buf, 7)),
                        "amd_gpu_energy_consumption");
    env_done(&e);
}

/* The layouts of the older families: no socket_power before ROCm 7, no
 * cu_occupancy before 6.4.2, short process entries in 6.3. */
static void test_rocm6_families(void **state)
{
    (void)state;
    static const struct {
        const char *version;
        bool cu;
    } families[] = {
        {"version 24 7 1\n", false}, {"version 25 3 0\n", false}, {"version 25 5 1\n", true}};
    for (size_t i = 0; i < 3; i++) {
        struct env e;
        char script[2048];
        snprintf(script, sizeof(script), "%s%s", families[i].version, FULL);
        env_setup(&e, script, "process_energy = false\n");
        assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
        assert_false(e.amd->source->devices[0].features & AMD_FEATURE_BIT(AMD_FEATURE_POWER));
        assert_int_equal(e.calls(0, "pm"), 0);
        env_poll(&e);
        env_poll(&e);
        assert_int_equal(count_metric(&e, "amd_gpu_power_consumption"), 0);
        assert_int_equal(count_metric(&e, "amd_gpu_process_compute_unit_occupancy"),
                         families[i].cu ? 1 : 0);
        assert_int_equal(
            u64_of(&e, "amd_gpu_process_memory_usage_vram", 4242, "process_name", "python3"),
            1044480);
        assert_int_equal(u64_of(&e, "amd_gpu_process_engine_gfx", 4242, NULL, NULL), 2000000);
        env_done(&e);
    }
}

static void test_unknown_versions(void **state)
{
    (void)state;
    struct env e;
    char script[2048];
    snprintf(script, sizeof(script), "version 27 0 0\n%s", FULL);
    env_setup(&e, script, NULL);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "the AMD SMI library 27.0.0 is newer than the newest "
                                           "tested (26.x, ROCm 7): reading it as ROCm 7",
                                           NULL),
                     1);
    assert_true(e.amd->source->devices[0].features & AMD_FEATURE_BIT(AMD_FEATURE_POWER));
    env_done(&e);

    snprintf(script, sizeof(script), "version 23 6 0\n%s", FULL);
    env_setup(&e, script, NULL);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "the AMD SMI library 23.6.0 is older than ROCm 6.3",
                                           "per-process metrics and power are off"),
                     1);
    unsigned f = e.amd->source->devices[0].features;
    assert_false(f & AMD_FEATURE_BIT(AMD_FEATURE_PROCESSES));
    assert_false(f & AMD_FEATURE_BIT(AMD_FEATURE_POWER));
    assert_true(f & AMD_FEATURE_BIT(AMD_FEATURE_ENERGY));
    env_done(&e);
}

static void test_feature_masking(void **state)
{
    (void)state;
    struct env e;
    char script[2048];
    /* off: invalid, not supported, not implemented, no symbol, no permission,
     * unexpected data; the GPU stays */
    snprintf(script, sizeof(script),
             "%s"
             "error activity 2\nerror asic 3\nerror energy 10\nerror pm 5\n"
             "error voltage 43\nerror memory 1\n",
             FULL);
    env_setup(&e, script, NULL);
    unsigned f = e.amd->source->devices[0].features;
    unsigned temps = 0;
    for (int i = 0; i < AMD_N_TEMPERATURES; i++)
        temps |= AMD_FEATURE_BIT(AMD_FEATURE_TEMP_EDGE + i);
    assert_int_equal(f & ~temps, 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO, "GPU " UUID " : energy is off", NULL),
                     0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_INFO,
                                           "GPU " UUID ": energy is off: amdsmi_get_energy_count: "
                                           "AMDSMI_STATUS_NO_PERM: Permission Denied",
                                           NULL),
                     1);
    assert_int_equal(env_poll(&e), 4); /* the four temperatures */
    env_done(&e);

    /* power management disabled: no power, no failure */
    snprintf(script, sizeof(script), "%spm 0\n", FULL);
    env_setup(&e, script, NULL);
    assert_false(e.amd->source->devices[0].features & AMD_FEATURE_BIT(AMD_FEATURE_POWER));
    env_done(&e);
}

static void test_counter_wrap_and_reset(void **state)
{
    (void)state;
    struct env e;
    /* probe 2^64 - 1000, poll 1 2^64 - 400, poll 2 wraps to 200 */
    env_setup(&e,
              "devices 1\ndevice 0\nuuid " UUID "\n"
              "energy 0xFFFFFFFFFFFFFC18 600 1000\nenergy_reset 4 50\n",
              NULL);
    env_poll(&e);
    env_poll(&e);
    expect_near(f64_of(&e, "amd_gpu_energy_consumption", 0, NULL, NULL), 600);
    env_poll(&e); /* call 3: 800 */
    expect_near(f64_of(&e, "amd_gpu_energy_consumption", 0, NULL, NULL), 600);
    /* call 4: reset to 50: a new baseline, no point, one warning */
    assert_int_equal(env_poll(&e), 0);
    assert_int_equal(alumet_test_log_count(
                         ALUMET_LOG_WARN,
                         "the energy counter of GPU " UUID " went back from '800' to '50'", NULL),
                     1);
    env_poll(&e); /* call 5: 650 */
    expect_near(f64_of(&e, "amd_gpu_energy_consumption", 0, NULL, NULL), 600);
    env_done(&e);
}

static void test_poll_errors(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e,
              "devices 2\n"
              "device 0\nuuid " UUID "\nenergy 0 100 10\nvoltage 800\n"
              "error energy 12 2\n" /* probe and poll 1 fine, then I/O errors */
              "device 1\nuuid zz-gpu\nenergy 0 100 10\n",
              NULL);
    env_poll(&e);
    struct alumet_error err = {0};
    assert_int_equal(env_poll_r(&e, &err), ALUMET_POLL_RETRY);
    assert_string_equal(err.msg, "GPU " UUID
                                 ": amdsmi_get_energy_count failed: AMDSMI_STATUS_IO: I/O Error");
    /* the voltage of the failing GPU and the energy of the other one are there */
    assert_int_equal(u64_of(&e, "amd_gpu_voltage", 0, NULL, NULL), 800);
    expect_near(find_on(&e, "zz-gpu", "amd_gpu_energy_consumption", 0, NULL, NULL)->value.f64, 1);
    env_done(&e);
}

/* ---- per-process energy ---- */

/* A poll preempted 30 ms after its instant, whose energy read takes 2 ms:
 * the energy and its split carry the middle of the read, and the interval
 * (the idle energy) is 1.031 s long; the activity, read before, keeps the
 * poll's instant. */
static void test_read_instant(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e,
              "devices 1\ndevice 0\nuuid " UUID "\nactivity 50 0 0\nenergy 0 1000 1000\n"
              "cu 100\nprocess 111 a 1 1000 0 0 0 0 0 0\n",
              "idle_power = 0.3\n");
    env_poll(&e);
    env_script(&e, "device 0\nclear_processes\nprocess 111 a 1 4000 0 0 0 0 0 0\n");
    e.delay = 30 * ALUMET_NSEC_PER_MSEC;
    e.call = 2 * ALUMET_NSEC_PER_MSEC;
    env_poll(&e);
    expect_near(f64_of(&e, "amd_gpu_activity_usage", 0, "activity_type", "graphic_core"), 50);
    e.now += 31 * ALUMET_NSEC_PER_MSEC; /* find() checks the stamps against it */
    expect_near(f64_of(&e, "amd_gpu_energy_consumption", 0, NULL, NULL), 1000);
    expect_near(part_of(&e, "idle", 0, "gfx_share"), 309.3);
    expect_near(part_of(&e, "process", 111, "gfx_share"), 690.7);
    env_done(&e);
}

static void test_split_by_gfx_time(void **state)
{
    (void)state;
    struct env e;
    /* 1000 mJ per poll; idle 200 W × 1 s = ... capped by the energy: use 0.3 W */
    env_setup(&e,
              "devices 1\ndevice 0\nuuid " UUID "\nactivity 50 0 0\nenergy 0 1000 1000\n"
              "cu 100\n"
              "process 111 a 1 1000 0 0 0 0 0 0\n"
              "process 222 b 1 5000 0 0 0 0 0 0\n",
              "idle_power = 0.3\n");
    env_poll(&e); /* baseline of the counter and of the engine times */
    /* in the interval: 111 +3000 ns, 222 +1000 ns, 333 new with 0 */
    env_script(&e, "device 0\nclear_processes\n"
                   "process 111 a 1 4000 0 0 0 0 0 0\n"
                   "process 222 b 1 6000 0 0 0 0 0 0\n"
                   "process 333 c 1 0 0 0 0 0 0 0\n");
    env_poll(&e);
    expect_near(part_of(&e, "idle", 0, "gfx_share"), 300);
    expect_near(part_of(&e, "process", 111, "gfx_share"), 700.0 * 3 / 4);
    expect_near(part_of(&e, "process", 222, "gfx_share"), 700.0 / 4);
    expect_near(part_of(&e, "process", 333, "gfx_share"), 0);
    expect_near(part_of(&e, "unattributed", 0, "gfx_share"), 0);
    const struct alumet_attr *a = alumet_point_find_attr(
        e.t.buf, find(&e, AMD_GPU_ATTRIBUTED_METRIC, 0, "part", "idle"), "idle_power_mw");
    assert_non_null(a);
    expect_near(a->v.f64, 300);
    /* no GFX time in the next interval: an even split */
    env_poll(&e);
    expect_near(part_of(&e, "process", 111, "even_split"), 700.0 / 3);
    expect_near(part_of(&e, "process", 333, "even_split"), 700.0 / 3);
    /* no process: unattributed */
    env_script(&e, "device 0\nclear_processes\n");
    env_poll(&e);
    expect_near(part_of(&e, "unattributed", 0, "none"), 700);
    assert_int_equal(count_metric(&e, AMD_GPU_ATTRIBUTED_METRIC), 2);
    env_done(&e);
}

static void test_split_estimated_idle(void **state)
{
    (void)state;
    struct env e;
    /* 90 J per 1 s poll without activity: the idle estimate is 90 W */
    env_setup(&e,
              "devices 1\ndevice 0\nuuid " UUID "\nactivity 0 0 0\nenergy 0 90000 1000\ncu 10\n",
              NULL);
    env_poll(&e);
    env_poll(&e);
    /* the idle interval gives the estimate at once */
    expect_near(part_of(&e, "idle", 0, "none"), 90000);
    /* busy now: 150 J per interval, of which 90 idle, 60 to the process */
    env_script(&e, "device 0\nactivity 80 0 0\nenergy_step 150000\n"
                   "process 7 p 1 0 0 0 0 0 0 0\n");
    env_poll(&e); /* a new process without GFX time yet: an even split */
    expect_near(part_of(&e, "process", 7, "even_split"), 60000);
    env_script(&e, "device 0\nclear_processes\nprocess 7 p 1 500 0 0 0 0 0 0\n");
    env_poll(&e);
    expect_near(part_of(&e, "idle", 0, "gfx_share"), 90000);
    expect_near(part_of(&e, "process", 7, "gfx_share"), 60000);
    env_done(&e);
}

static void test_split_function(void **state)
{
    (void)state;
    struct amd_share s[3] = {{1, 2, 0}, {2, 6, 0}, {3, 0, 0}};
    double idle, rest;
    assert_int_equal(amd_split_energy(100, 20, s, 3, &idle, &rest), AMD_SPLIT_GFX_SHARE);
    expect_near(idle, 20);
    expect_near(s[0].energy_mj, 20);
    expect_near(s[1].energy_mj, 60);
    expect_near(s[2].energy_mj, 0);
    expect_near(rest, 0);
    /* idle above the energy: all idle */
    assert_int_equal(amd_split_energy(10, 50, s, 3, &idle, &rest), AMD_SPLIT_GFX_SHARE);
    expect_near(idle, 10);
    expect_near(s[1].energy_mj, 0);
    assert_int_equal(amd_split_energy(10, 0, NULL, 0, &idle, &rest), AMD_SPLIT_NONE);
    expect_near(rest, 10);
    assert_string_equal(amd_split_method_name(AMD_SPLIT_EVEN_SPLIT), "even_split");
}

static void test_abi_of(void **state)
{
    (void)state;
    bool known;
    assert_int_equal(amd_abi_of((uint32_t[3]){24, 7, 1}, &known), AMD_ABI_6_3);
    assert_true(known);
    assert_int_equal(amd_abi_of((uint32_t[3]){25, 3, 0}, &known), AMD_ABI_6_4_0);
    assert_int_equal(amd_abi_of((uint32_t[3]){25, 5, 1}, &known), AMD_ABI_6_4_2);
    assert_int_equal(amd_abi_of((uint32_t[3]){26, 0, 0}, &known), AMD_ABI_7_0);
    assert_true(known);
    assert_int_equal(amd_abi_of((uint32_t[3]){27, 0, 0}, &known), AMD_ABI_7_0);
    assert_false(known);
}

static void test_restart(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, FULL, NULL);
    struct alumet_error err = {0};
    alumet__pipeline_free(e.t.p);
    e.t.p = NULL;
    assert_null(e.amd->source);
    assert_int_equal(alumet_plugin_amd_gpu.stop(e.amd, &err), 0);
    alumet__buffer_free(e.t.buf);
    assert_int_equal(env_start_r(&e, &err), 0);
    assert_non_null(e.amd->source);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_read_instant),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_no_library_no_driver_no_gpu),
        cmocka_unit_test(test_failing_devices),
        cmocka_unit_test(test_uuid_dedup_and_order),
        cmocka_unit_test(test_full_rocm7),
        cmocka_unit_test(test_rocm6_families),
        cmocka_unit_test(test_unknown_versions),
        cmocka_unit_test(test_feature_masking),
        cmocka_unit_test(test_counter_wrap_and_reset),
        cmocka_unit_test(test_poll_errors),
        cmocka_unit_test(test_split_by_gfx_time),
        cmocka_unit_test(test_split_estimated_idle),
        cmocka_unit_test(test_split_function),
        cmocka_unit_test(test_abi_of),
        cmocka_unit_test(test_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
