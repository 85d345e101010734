/* SPDX-License-Identifier: MIT */
/* filter: include and exclude by metric (upstream), by resource, consumer
 * and attribute (rules as tables), the exact rows kept, and the errors. */
#include "alumet-test-plugin.h"

#include <errno.h>

#include "core/buffer.h"
#include "plugins/filter/filter.h"

extern const struct alumet_plugin alumet_plugin_filter;

struct run {
    struct toml_value *root;
    struct agent_plugin ap;
    struct alumet_pipeline *p;
    struct alumet_registry *reg;
    struct filter *f;
    bool started;
    struct alumet_buffer *buf;
    alumet_metric_id energy, cpu, mem;
    struct alumet_error err;
};

static int run_init(struct run *r, const char *config)
{
    memset(r, 0, sizeof(*r));
    void *st = NULL;
    int rc = alumet_test_plugin_init(&alumet_plugin_filter,
                                     config ? config : alumet_plugin_filter.default_config,
                                     &r->root, &st, &r->err);
    r->f = st;
    return rc;
}

static int run_start(struct run *r)
{
    struct pipeline_settings ps = {0};
    r->p = alumet__pipeline_new(&ps);
    assert_non_null(r->p);
    r->reg = alumet__pipeline_registry(r->p);
    r->energy = alumet_test_add_metric(r->reg, "energy", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    r->cpu = alumet_test_add_metric(r->reg, "cpu", ALUMET_VALUE_F64, ALUMET_UNIT(PERCENT));
    r->mem = alumet_test_add_metric(r->reg, "mem", ALUMET_VALUE_U64, ALUMET_UNIT(BYTE));
    r->ap.def = &alumet_plugin_filter;
    r->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("filter");
    struct alumet_start_ctx sctx = {r->p, &r->ap};
    r->buf = alumet__buffer_new(16);
    assert_non_null(r->buf);
    int rc = alumet_plugin_filter.start(r->f, &sctx, &r->err);
    r->started = true;
    if (rc < 0)
        return rc;
    struct alumet_pre_start_ctx pctx = {r->p};
    return alumet_plugin_filter.pre_pipeline_start(r->f, &pctx, &r->err);
}

static void run_done(struct run *r)
{
    alumet__pipeline_free(r->p);
    alumet_plugin_filter.free(r->f);
    alumet__buffer_free(r->buf);
    toml_free(r->root);
}

/* Ten points, value = their index:
 * 0 energy cpu_package 0 domain=package   1 energy cpu_package 1 domain=package
 * 2 energy dram 0 domain=dram            3 energy local_machine domain=package_total
 * 4 cpu process 42 kind=user             5 cpu process 43 kind=user
 * 6 cpu process 42 kind=system           7 mem cgroup /a.slice
 * 8 mem process 42 (no attribute)        9 cpu local_machine cpu=3 (U64 attribute) */
static void fill(struct run *r)
{
    const struct alumet_resource pkg0 = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL},
                                 pkg1 = {ALUMET_RESOURCE_CPU_PACKAGE, 1, NULL, NULL},
                                 dram = {ALUMET_RESOURCE_DRAM, 0, NULL, NULL},
                                 lm = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer lc = ALUMET_CONSUMER_LOCAL_MACHINE_INIT,
                                 p42 = {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL},
                                 p43 = {ALUMET_CONSUMER_PROCESS, 43, NULL, NULL},
                                 cg = {ALUMET_CONSUMER_CGROUP, 0, "/a.slice", NULL};
    struct alumet_point *p;
    alumet__buffer_clear(r->buf);
    p = alumet_buffer_push_u64(r->buf, 0, r->energy, &pkg0, &lc, 0);
    alumet_test_add_str(r->buf, p, "domain", "package");
    p = alumet_buffer_push_u64(r->buf, 0, r->energy, &pkg1, &lc, 1);
    alumet_test_add_str(r->buf, p, "domain", "package");
    p = alumet_buffer_push_u64(r->buf, 0, r->energy, &dram, &lc, 2);
    alumet_test_add_str(r->buf, p, "domain", "dram");
    p = alumet_buffer_push_u64(r->buf, 0, r->energy, &lm, &lc, 3);
    alumet_test_add_str(r->buf, p, "domain", "package_total");
    p = alumet_buffer_push_f64(r->buf, 0, r->cpu, &lm, &p42, 4);
    alumet_test_add_str(r->buf, p, "kind", "user");
    p = alumet_buffer_push_f64(r->buf, 0, r->cpu, &lm, &p43, 5);
    alumet_test_add_str(r->buf, p, "kind", "user");
    p = alumet_buffer_push_f64(r->buf, 0, r->cpu, &lm, &p42, 6);
    alumet_test_add_str(r->buf, p, "kind", "system");
    assert_non_null(alumet_buffer_push_u64(r->buf, 0, r->mem, &lm, &cg, 7));
    assert_non_null(alumet_buffer_push_u64(r->buf, 0, r->mem, &lm, &p42, 8));
    p = alumet_buffer_push_f64(r->buf, 0, r->cpu, &lm, &lc, 9);
    assert_int_equal(alumet_point_add_attr_u64(r->buf, p, "cpu", 3), 0);
}

/* The indexes of the points left, as "0,3,5". */
static void kept(struct run *r, char *out, size_t size)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < alumet_buffer_len(r->buf) && w < size; i++) {
        const struct alumet_point *p = alumet_buffer_get(r->buf, i);
        double v = p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64;
        w += (size_t)snprintf(out + w, size - w, "%s%d", i ? "," : "", (int)v);
    }
}

static void test_rules(void **state)
{
    (void)state;
    static const struct {
        const char *rules;
        const char *kept;
    } cases[] = {
        /* upstream: metric names */
        {"include = [\"energy\"]", "0,1,2,3"},
        {"exclude = [\"energy\", \"mem\"]", "4,5,6,9"},
        /* beyond upstream: resource, consumer, attributes */
        {"include = [{ resource_kind = \"cpu_package\" }]", "0,1"},
        {"include = [{ resource_kind = \"cpu_package\", resource_id = \"1\" }]", "1"},
        {"exclude = [{ metric = \"energy\", resource_kind = \"dram\" }]", "0,1,3,4,5,6,7,8,9"},
        {"include = [{ consumer_kind = \"process\", consumer_id = \"42\" }]", "4,6,8"},
        {"include = [{ consumer_kind = \"cgroup\", consumer_id = \"/a.slice\" }]", "7"},
        {"include = [{ attributes = { domain = \"package\" } }]", "0,1"},
        {"include = [{ metric = \"cpu\", attributes = { kind = \"user\" } }, \"mem\"]", "4,5,7,8"},
        {"include = [{ attributes = { cpu = 3 } }]", "9"},
        {"include = [{ attributes = { cpu = \"3\" } }]", "9"},
        {"include = [{ attributes = { domain = \"package\", kind = \"user\" } }]", ""},
        /* both: what include keeps, less what exclude drops */
        {"include = [\"cpu\"]\nexclude = [{ consumer_id = \"43\" }]", "4,6,9"},
        {"include = [{ resource_kind = \"local_machine\", resource_id = \"\" }]", "3,4,5,6,7,8,9"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char config[512], got[128];
        struct run r;
        snprintf(config, sizeof(config), "[plugins.filter]\n%s\n", cases[i].rules);
        if (run_init(&r, config) != 0)
            fail_msg("case %zu: init: %s", i, r.err.msg);
        if (run_start(&r) != 0)
            fail_msg("case %zu: start: %s", i, r.err.msg);
        fill(&r);
        struct alumet_error err = {0};
        assert_int_equal(filter_transform_ops.apply(r.f, r.buf, r.reg, &err), 0);
        kept(&r, got, sizeof(got));
        if (strcmp(got, cases[i].kept) != 0)
            fail_msg("case %zu (%s): kept '%s', expected '%s'", i, cases[i].rules, got,
                     cases[i].kept);
        run_done(&r);
    }
}

static void test_nothing_to_do_and_errors(void **state)
{
    (void)state;
    struct run r;
    /* the default config: no transform, a warning that says what to set */
    assert_int_equal(run_init(&r, "[plugins.filter]\n"), 0);
    alumet_test_log_capture("filter=warn");
    assert_int_equal(run_start(&r), 0);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "neither include nor exclude is set: the filter does "
                                           "nothing",
                                           NULL),
                     1);
    alumet_test_log_release();
    run_done(&r);
    assert_int_equal(run_init(&r, NULL), 0);
    run_done(&r);

    assert_int_equal(run_init(&r, "[plugins.filter]\ninclude = [\"nope\"]\n"), 0);
    assert_int_equal(run_start(&r), -ENOENT);
    assert_string_equal(r.err.msg, "plugins.filter.include: metric 'nope' not found: enable the "
                                   "plugin that produces it, or check the name");
    run_done(&r);

    static const struct {
        const char *config;
        const char *msg;
    } cases[] = {
        {"[plugins.filter]\ninclude = [{ metrc = \"energy\" }]\n", "metrc"},
        {"[plugins.filter]\ninclude = [{ attributes = { a = [1] } }]\n",
         "expected a string, a number or a boolean"},
        {"[plugins.filter]\nexclude = [3]\n", "expected a string"},
        {"[plugins.filter]\ninclude = \"energy\"\n", "include"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = run_init(&r, cases[i].config);
        if (rc != -EINVAL || !strstr(r.err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', expected '%s'", i, rc, r.err.msg, cases[i].msg);
        run_done(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_nothing_to_do_and_errors),
    };
    return alumet_run_tests(tests);
}
