/* SPDX-License-Identifier: MIT */
/* energy-estimation-tdp: the options, and exact joules from synthetic
 * kernel_cpu_time points in every time unit, through the plugin lifecycle
 * (init, start, pre_pipeline_start) and the transform fed directly. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <unistd.h>

#include "core/buffer.h"
#include "plugins/energy-estimation-tdp/energy-estimation-tdp.h"

extern const struct alumet_plugin alumet_plugin_energy_estimation_tdp;

#define T0 ((alumet_time_ns)1746144000 * ALUMET_NSEC_PER_SEC)

struct run {
    struct toml_value *root;
    struct agent_plugin ap;
    struct alumet_pipeline *p;
    struct alumet_registry *reg;
    struct energy_estimation_tdp *eet;
    bool started;
    struct alumet_buffer *buf;
    alumet_metric_id in, other, out;
    struct alumet_error err;
};

/* Init with the [plugins.energy-estimation-tdp] section of config (or the
 * default config when config is NULL). */
static int run_init(struct run *r, const char *config)
{
    memset(r, 0, sizeof(*r));
    if (!config)
        config = alumet_plugin_energy_estimation_tdp.default_config;
    void *st = NULL;
    int rc = alumet_test_plugin_init(&alumet_plugin_energy_estimation_tdp, config, &r->root, &st,
                                     &r->err);
    r->eet = st;
    return rc;
}

/* Start with kernel_cpu_time registered in unit (unless NULL) and type. */
static int run_start(struct run *r, const struct alumet_unit *unit, enum alumet_value_type type)
{
    struct pipeline_settings ps = {0};
    r->p = alumet__pipeline_new(&ps);
    assert_non_null(r->p);
    r->reg = alumet__pipeline_registry(r->p);
    assert_int_equal(alumet__registry_add(r->reg, "kernel_context_switches", ALUMET_VALUE_U64,
                                          ALUMET_UNIT(UNITY), "", &r->other, &r->err),
                     0);
    if (unit)
        assert_int_equal(alumet__registry_add(r->reg, "kernel_cpu_time", type, *unit,
                                              "busy CPU time", &r->in, &r->err),
                         0);
    r->ap.def = &alumet_plugin_energy_estimation_tdp;
    r->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("energy-estimation-tdp");
    struct alumet_start_ctx sctx = {r->p, &r->ap};
    int rc = alumet_plugin_energy_estimation_tdp.start(r->eet, &sctx, &r->err);
    r->started = true;
    if (rc < 0)
        return rc;
    const struct alumet_metric *m = alumet_registry_find(r->reg, "estimated_consumed_energy");
    assert_non_null(m);
    assert_int_equal(m->value_type, ALUMET_VALUE_F64);
    assert_int_equal(m->unit.base, ALUMET_UNIT_JOULE);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_PLAIN);
    assert_string_equal(m->description, "CPU's estimated energy consumption");
    r->out = m->id;
    struct alumet_pre_start_ctx pctx = {r->p};
    rc = alumet_plugin_energy_estimation_tdp.pre_pipeline_start(r->eet, &pctx, &r->err);
    r->buf = alumet__buffer_new(16);
    assert_non_null(r->buf);
    return rc;
}

static void run_done(struct run *r)
{
    struct alumet_error err = {0};
    if (r->started)
        assert_int_equal(alumet_plugin_energy_estimation_tdp.stop(r->eet, &err), 0);
    alumet__pipeline_free(r->p);
    alumet_plugin_energy_estimation_tdp.free(r->eet);
    alumet__buffer_free(r->buf);
    toml_free(r->root);
}

static void apply(struct run *r)
{
    struct alumet_error err = {0};
    assert_int_equal(
        energy_estimation_tdp_transform_ops.apply(r->eet->running, r->buf, r->reg, &err), 0);
}

/* A kernel_cpu_time point as procfs makes them. */
static struct alumet_point *push_cpu(struct run *r, const struct alumet_resource *res,
                                     const char *state, double value, enum alumet_value_type t)
{
    const struct alumet_consumer machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    struct alumet_point *p =
        t == ALUMET_VALUE_U64
            ? alumet_buffer_push_u64(r->buf, T0, r->in, res, &machine, (uint64_t)value)
            : alumet_buffer_push_f64(r->buf, T0, r->in, res, &machine, value);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(r->buf, p, "cpu_state", state), 0);
    return p;
}

static const char config_4cpu[] = "[plugins.energy-estimation-tdp]\n"
                                  "poll_interval = \"500ms\"\n"
                                  "tdp = 100.0\n"
                                  "nb_vcpu = 2.0\n"
                                  "nb_cpu = 4\n";

static void test_plugin_and_default_config(void **state)
{
    (void)state;
    assert_string_equal(alumet_plugin_energy_estimation_tdp.name, "energy-estimation-tdp");
    assert_string_equal(alumet_plugin_energy_estimation_tdp.version, "2.0.0");
    assert_int_equal(alumet_plugin_energy_estimation_tdp.abi_version, ALUMET_PLUGIN_ABI);
    struct run r;
    /* the default config has the four keys of upstream, all read */
    assert_int_equal(run_init(&r, NULL), 0);
    assert_int_equal(r.eet->poll_interval, 5 * ALUMET_NSEC_PER_SEC);
    /* nb_cpu defaults to the CPUs online here */
    assert_true(r.eet->tdp == 100.0 && r.eet->nb_vcpu == 1.0 &&
                r.eet->nb_cpu == (double)sysconf(_SC_NPROCESSORS_ONLN));
    run_done(&r);
    assert_int_equal(run_init(&r, config_4cpu), 0);
    assert_int_equal(r.eet->poll_interval, 500 * ALUMET_NSEC_PER_MSEC);
    assert_true(r.eet->tdp == 100.0 && r.eet->nb_vcpu == 2.0 && r.eet->nb_cpu == 4.0);
    run_done(&r);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *msg;
    } cases[] = {
        {"[plugins.energy-estimation-tdp]\nnb_cpu = 4.0\n", "tdp: missing field 'tdp'"},
        {"[plugins.energy-estimation-tdp]\ntdp = 0.0\nnb_cpu = 4.0\n",
         "tdp: expected a number greater than 0"},
        {"[plugins.energy-estimation-tdp]\ntdp = 100.0\nnb_cpu = -1\n",
         "nb_cpu: expected a number greater than 0"},
        {"[plugins.energy-estimation-tdp]\ntdp = 100.0\nnb_cpu = 4\nnb_vcpu = 0\n",
         "nb_vcpu: expected a number greater than 0"},
        {"[plugins.energy-estimation-tdp]\ntdp = \"100W\"\nnb_cpu = 4\n",
         "tdp: expected a number, got string"},
        {"[plugins.energy-estimation-tdp]\ntdp = 100\nnb_cpu = 4\npoll_interval = \"0s\"\n",
         "poll_interval: expected a duration greater than zero"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;
        int rc = run_init(&r, cases[i].config);
        if (rc != -EINVAL)
            fail_msg("case %zu: expected -EINVAL, got %d", i, rc);
        if (!strstr(r.err.msg, cases[i].msg))
            fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].msg, r.err.msg);
        run_done(&r);
    }
}

/* tdp 100 W, nb_cpu 4: each CPU-second is 25 J, whatever the interval. */
static void test_exact_joules(void **state)
{
    (void)state;
    static const struct {
        struct alumet_unit unit;
        enum alumet_value_type type;
        double per_second; /* input units per second */
    } units[] = {
        {{ALUMET_UNIT_SECOND, ALUMET_PREFIX_MILLI, NULL, NULL}, ALUMET_VALUE_U64, 1e3},
        {{ALUMET_UNIT_SECOND, ALUMET_PREFIX_NANO, NULL, NULL}, ALUMET_VALUE_U64, 1e9},
        {{ALUMET_UNIT_SECOND, ALUMET_PREFIX_MICRO, NULL, NULL}, ALUMET_VALUE_U64, 1e6},
        {{ALUMET_UNIT_SECOND, ALUMET_PREFIX_PLAIN, NULL, NULL}, ALUMET_VALUE_F64, 1.0},
    };
    const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_resource core3 = {ALUMET_RESOURCE_CPU_CORE, 3, NULL, NULL};
    const struct alumet_consumer lm = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    static const struct {
        const char *state;
        double seconds;
        double joules;
    } points[] = {
        {"user", 0.5, 12.5},
        {"system", 0.25, 6.25},
        {"idle", 1.25, 0.0},
        {"nice", 0.125, 3.125},
    };
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        struct run r;
        assert_int_equal(run_init(&r, config_4cpu), 0);
        assert_int_equal(run_start(&r, &units[u].unit, units[u].type), 0);
        for (size_t k = 0; k < 4; k++)
            push_cpu(&r, k == 3 ? &core3 : &machine, points[k].state,
                     points[k].seconds * units[u].per_second, units[u].type);
        /* another metric: left alone */
        assert_non_null(alumet_buffer_push_u64(r.buf, T0, r.other, &machine, &lm, 7));
        apply(&r);
        assert_int_equal(alumet_buffer_len(r.buf), 9);
        for (size_t k = 0; k < 4; k++) {
            const struct alumet_point *in = alumet_buffer_get(r.buf, k);
            const struct alumet_point *e = alumet_buffer_get(r.buf, 5 + k);
            assert_int_equal(in->metric, r.in); /* the inputs stay */
            assert_int_equal(e->metric, r.out);
            assert_int_equal(e->value_type, ALUMET_VALUE_F64);
            if (fabs(e->value.f64 - points[k].joules) > 1e-12 * points[k].joules)
                fail_msg("unit %zu, %s: expected %.17g J, got %.17g J", u, points[k].state,
                         points[k].joules, e->value.f64);
            assert_int_equal(e->timestamp, T0);
            assert_int_equal(e->resource.kind,
                             k == 3 ? ALUMET_RESOURCE_CPU_CORE : ALUMET_RESOURCE_LOCAL_MACHINE);
            assert_int_equal(e->resource.num, k == 3 ? 3 : 0);
            assert_int_equal(e->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
            /* the input's cpu_state, then the estimate's labels */
            assert_int_equal(e->attr_count, 4);
            const struct alumet_attr *a = alumet_point_attrs(r.buf, e);
            assert_string_equal(a[0].key, "cpu_state");
            assert_string_equal(a[0].v.str, points[k].state);
            assert_string_equal(a[1].key, "estimate");
            assert_string_equal(a[1].v.str, "tdp");
            assert_string_equal(a[2].key, "tdp");
            assert_true(a[2].type == ALUMET_ATTR_F64 && a[2].v.f64 == 100.0);
            assert_string_equal(a[3].key, "nb_cpu");
            assert_true(a[3].type == ALUMET_ATTR_F64 && a[3].v.f64 == 4.0);
        }
        run_done(&r);
    }
}

/* Idle, stolen and guest time is not work of this machine's CPUs (guest time
 * is already in user and nice): 0 J, so that the points add up. A point
 * without cpu_state counts as work. */
static void test_states_that_are_not_work(void **state)
{
    (void)state;
    const struct alumet_unit ms = {ALUMET_UNIT_SECOND, ALUMET_PREFIX_MILLI, NULL, NULL};
    const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer lm = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    static const char *const states[] = {"user",    "nice",  "system", "idle",      "irq",
                                         "softirq", "steal", "guest",  "guest_nice"};
    static const double joules[] = {25.0, 25.0, 25.0, 0.0, 25.0, 25.0, 0.0, 0.0, 0.0};
    struct run r;
    assert_int_equal(run_init(&r, config_4cpu), 0);
    assert_int_equal(run_start(&r, &ms, ALUMET_VALUE_U64), 0);
    for (size_t k = 0; k < 9; k++)
        push_cpu(&r, &machine, states[k], 1000, ALUMET_VALUE_U64);
    assert_non_null(alumet_buffer_push_u64(r.buf, T0, r.in, &machine, &lm, 1000));
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 20);
    for (size_t k = 0; k < 10; k++) {
        const struct alumet_point *e = alumet_buffer_get(r.buf, 10 + k);
        double want = k < 9 ? joules[k] : 25.0;
        if (e->value.f64 != want)
            fail_msg("%s: expected %g J, got %g J", k < 9 ? states[k] : "(no state)", want,
                     e->value.f64);
    }
    run_done(&r);
}

/* The estimate of an interval does not depend on poll_interval, so
 * sub-second and irregular intervals (exec's extra polls) are right: a
 * machine whose 2 CPUs are busy for 0.3 s uses 0.6 CPU-s, 15 J at 25 W each. */
static void test_sub_second_interval(void **state)
{
    (void)state;
    const struct alumet_unit ms = {ALUMET_UNIT_SECOND, ALUMET_PREFIX_MILLI, NULL, NULL};
    const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    struct run r;
    assert_int_equal(run_init(&r, "[plugins.energy-estimation-tdp]\npoll_interval = \"100ms\"\n"
                                  "tdp = 100.0\nnb_vcpu = 2.0\nnb_cpu = 4.0\n"),
                     0);
    assert_int_equal(run_start(&r, &ms, ALUMET_VALUE_U64), 0);
    push_cpu(&r, &machine, "user", 600, ALUMET_VALUE_U64);
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 2);
    const struct alumet_point *e = alumet_buffer_get(r.buf, 1);
    assert_true(isfinite(e->value.f64));
    assert_true(fabs(e->value.f64 - 15.0) < 1e-12);
    run_done(&r);
}

static void test_missing_or_odd_metric(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_init(&r, config_4cpu), 0);
    assert_int_equal(run_start(&r, NULL, ALUMET_VALUE_U64), -ENOENT);
    assert_non_null(strstr(r.err.msg, "metric 'kernel_cpu_time' not found: enable the kernel "
                                      "source of the procfs plugin"));
    run_done(&r);

    const struct alumet_unit joule = ALUMET_UNIT(JOULE);
    assert_int_equal(run_init(&r, config_4cpu), 0);
    assert_int_equal(run_start(&r, &joule, ALUMET_VALUE_U64), -EINVAL);
    assert_non_null(strstr(r.err.msg, "metric 'kernel_cpu_time' is in 'J', not in seconds"));
    run_done(&r);
}

/* A fixture tree of tests/fixtures/tdp as both roots, then the config. */
static int run_init_in(struct run *r, const char *tree, const char *keys)
{
    char config[4096];
    snprintf(config, sizeof(config),
             "[plugins.energy-estimation-tdp]\n%ssys_root = \"%s/tdp/%s\"\n"
             "proc_root = \"%s/tdp/%s\"\n",
             keys, alumet_test_fixtures(), tree, alumet_test_fixtures(), tree);
    return run_init(r, config);
}

/* Start r and return the number of VM warnings logged. */
static size_t vm_warnings(struct run *r)
{
    const struct alumet_unit ms = {ALUMET_UNIT_SECOND, ALUMET_PREFIX_MILLI, NULL, NULL};
    alumet_test_log_capture("info");
    assert_int_equal(run_start(r, &ms, ALUMET_VALUE_U64), 0);
    alumet_test_log_release();
    return alumet_test_log_count(ALUMET_LOG_WARN, "virtual machine", NULL);
}

/* In a VM (DMI of QEMU, or only the hypervisor CPU flag), the placeholder
 * tdp and the default nb_cpu are reported once, with the keys to set; on
 * bare metal, or with both keys set, nothing is said. */
static void test_vm_warning(void **state)
{
    (void)state;
    struct run r;

    assert_int_equal(run_init_in(&r, "kvm-guest", "tdp = 100.0\n"), 0);
    assert_int_equal(vm_warnings(&r), 1);
    assert_string_equal(
        alumet_test_log_find("virtual machine"),
        "this machine looks like a virtual machine (DMI 'QEMU' 'Standard PC (Q35 + ICH9, "
        "2009)') and the estimate uses the placeholder tdp = 100 and nb_cpu = the vCPUs of "
        "this VM: set plugins.energy-estimation-tdp.tdp to the TDP of the host's processors "
        "(W) and plugins.energy-estimation-tdp.nb_cpu to the host's logical CPUs");
    run_done(&r);

    assert_int_equal(run_init_in(&r, "kvm-guest", "tdp = 240.0\n"), 0);
    assert_int_equal(vm_warnings(&r), 1);
    assert_non_null(strstr(alumet_test_log_find("virtual machine"),
                           "the estimate uses nb_cpu = the vCPUs of this VM: set"));
    run_done(&r);

    assert_int_equal(run_init_in(&r, "kvm-guest", "tdp = 240.0\nnb_cpu = 64\n"), 0);
    assert_int_equal(vm_warnings(&r), 0);
    run_done(&r);

    assert_int_equal(run_init_in(&r, "bare-metal", "tdp = 100.0\n"), 0);
    assert_int_equal(vm_warnings(&r), 0);
    run_done(&r);
}

/* total = true adds, per timestamp and resource, the sum of the states. */
static void test_total(void **state)
{
    (void)state;
    const struct alumet_unit ms = {ALUMET_UNIT_SECOND, ALUMET_PREFIX_MILLI, NULL, NULL};
    const struct alumet_resource machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_resource core1 = {ALUMET_RESOURCE_CPU_CORE, 1, NULL, NULL};
    struct run r;
    assert_int_equal(run_init_in(&r, "bare-metal", "tdp = 80.0\nnb_cpu = 8\ntotal = true\n"), 0);
    assert_int_equal(run_start(&r, &ms, ALUMET_VALUE_U64), 0);
    const struct alumet_metric *m = alumet_registry_find(r.reg, "estimated_consumed_energy_total");
    assert_non_null(m);
    /* 10 W per busy CPU: user 1500 ms + system 500 ms = 20 J; idle 0 J */
    push_cpu(&r, &machine, "user", 1500, ALUMET_VALUE_U64);
    push_cpu(&r, &machine, "system", 500, ALUMET_VALUE_U64);
    push_cpu(&r, &machine, "idle", 6000, ALUMET_VALUE_U64);
    push_cpu(&r, &core1, "user", 250, ALUMET_VALUE_U64);
    apply(&r);
    double totals[2] = {-1, -1};
    size_t count = 0;
    for (size_t i = 0; i < alumet_buffer_len(r.buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(r.buf, i);
        if (p->metric != m->id)
            continue;
        count++;
        assert_int_equal(p->timestamp, T0);
        assert_null(alumet_point_find_attr(r.buf, p, "cpu_state"));
        assert_string_equal(alumet_point_find_attr(r.buf, p, "estimate")->v.str, "tdp");
        totals[p->resource.kind == ALUMET_RESOURCE_CPU_CORE] = p->value.f64;
    }
    assert_int_equal(count, 2);
    assert_true(totals[0] == 20.0);
    assert_true(totals[1] == 2.5);
    run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_and_default_config),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_exact_joules),
        cmocka_unit_test(test_states_that_are_not_work),
        cmocka_unit_test(test_sub_second_interval),
        cmocka_unit_test(test_missing_or_odd_metric),
        cmocka_unit_test(test_vm_warning),
        cmocka_unit_test(test_total),
    };
    return alumet_run_tests(tests);
}
