/* SPDX-License-Identifier: MIT */
/* Helpers of the energy-attribution tests: run the plugin through its
 * lifecycle (init, start, pre_pipeline_start) into a pipeline that is never
 * started, then feed its transforms buffers directly, as the transform thread
 * would. */
#ifndef EA_TEST_H
#define EA_TEST_H

#include "alumet-test-plugin.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#include "core/buffer.h"
#include "plugins/energy-attribution/energy-attribution.h"

extern const struct alumet_plugin alumet_plugin_energy_attribution;

/* 2025-05-02T00:00:00Z, the origin of upstream's test */
#define EA_BASE ((alumet_time_ns)1746144000 * ALUMET_NSEC_PER_SEC)

static inline alumet_time_ns ea_t(double seconds)
{
    return EA_BASE + (alumet_time_ns)llround(seconds * 1e9);
}

/* A plain unit, usable in a static initializer */
#define EA_UNIT(b)                                                                                 \
    {                                                                                              \
        ALUMET_UNIT_##b, ALUMET_PREFIX_PLAIN, NULL, NULL                                           \
    }

struct ea_metric_def {
    const char *name;
    enum alumet_value_type type;
    struct alumet_unit unit;
};

struct ea_run {
    struct toml_value *root;
    struct agent_plugin ap;
    struct alumet_pipeline *p;
    struct alumet_registry *reg;
    struct energy_attribution *ea;
    bool started;
    struct alumet_buffer *buf;
    alumet_metric_id ids[8]; /* of the input metrics, in the order given */
    struct alumet_error err;
};

/* Init the plugin with config, TOML text holding [plugins.energy-attribution].
 * Returns init's status (err in r->err); on success, every key was read. */
static inline int ea_run_init(struct ea_run *r, const char *config)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(
        alumet__config_load_text(config, strlen(config), "test.toml", 0, &r->root, &r->err), 0);
    struct toml_value *plugins = toml_table_get(r->root, "plugins");
    struct toml_value *sect = plugins ? toml_table_get(plugins, "energy-attribution") : NULL;
    if (!sect) {
        sect = toml_table_new();
        assert_non_null(sect);
        toml_free(r->root);
        r->root = sect;
    }
    void *st = NULL;
    int rc = alumet_plugin_energy_attribution.init(alumet__config_from_value(sect), &st, &r->err);
    if (rc < 0)
        return rc;
    r->ea = st;
    assert_int_equal(alumet__config_report_unused(sect, alumet_test_report_ignore, NULL), 0);
    return 0;
}

/* Register the input metrics, start the plugin and resolve its transforms.
 * Returns the status of start or pre_pipeline_start. */
static inline int ea_run_start(struct ea_run *r, const struct ea_metric_def *defs, size_t n)
{
    struct pipeline_settings ps = {0};
    r->p = alumet__pipeline_new(&ps);
    assert_non_null(r->p);
    r->reg = alumet__pipeline_registry(r->p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(alumet__registry_add(r->reg, defs[i].name, defs[i].type, defs[i].unit,
                                              "test input", &r->ids[i], &r->err),
                         0);
    r->ap.def = &alumet_plugin_energy_attribution;
    r->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("energy-attribution");
    struct alumet_start_ctx sctx = {r->p, &r->ap};
    int rc = alumet_plugin_energy_attribution.start(r->ea, &sctx, &r->err);
    r->started = true;
    if (rc < 0)
        return rc;
    struct alumet_pre_start_ctx pctx = {r->p};
    rc = alumet_plugin_energy_attribution.pre_pipeline_start(r->ea, &pctx, &r->err);
    r->buf = alumet__buffer_new(64);
    assert_non_null(r->buf);
    return rc;
}

static inline void ea_run_done(struct ea_run *r)
{
    struct alumet_error err = {0};
    if (r->started)
        assert_int_equal(alumet_plugin_energy_attribution.stop(r->ea, &err), 0);
    /* frees the transforms, which borrow the formulas of the plugin state */
    alumet__pipeline_free(r->p);
    alumet_plugin_energy_attribution.free(r->ea);
    alumet__buffer_free(r->buf);
    toml_free(r->root);
}

/* Apply transform number i (in file order) to r->buf. */
static inline void ea_apply(struct ea_run *r, size_t i)
{
    struct alumet_error err = {0};
    int rc = energy_attribution_transform_ops.apply(r->ea->running[i], r->buf, r->reg, &err);
    if (rc != 0)
        fail_msg("apply failed with %d: %s", rc, err.msg);
}

static inline alumet_metric_id ea_metric(struct ea_run *r, const char *name)
{
    const struct alumet_metric *m = alumet_registry_find(r->reg, name);
    assert_non_null(m);
    return m->id;
}

static inline struct alumet_point *ea_push(struct ea_run *r, alumet_metric_id m,
                                           const struct alumet_resource *res, uint32_t pid,
                                           double seconds, double value)
{
    const struct alumet_consumer machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    const struct alumet_consumer process = {ALUMET_CONSUMER_PROCESS, pid, NULL, NULL};
    const struct alumet_metric *def = alumet_registry_get(r->reg, m);
    assert_non_null(def);
    struct alumet_point *p =
        def->value_type == ALUMET_VALUE_U64
            ? alumet_buffer_push_u64(r->buf, ea_t(seconds), m, res, pid ? &process : &machine,
                                     (uint64_t)value)
            : alumet_buffer_push_f64(r->buf, ea_t(seconds), m, res, pid ? &process : &machine,
                                     value);
    assert_non_null(p);
    return p;
}

static inline void ea_attr(struct ea_run *r, struct alumet_point *p, const char *key,
                           const char *value)
{
    assert_int_equal(alumet_point_add_attr_str(r->buf, p, key, value), 0);
}

/* The points of metric out in r->buf from index `from`. */
struct ea_out {
    uint32_t pid;
    alumet_time_ns t;
    double value;
    const struct alumet_point *p;
};

static inline size_t ea_outputs(struct ea_run *r, alumet_metric_id out, size_t from,
                                struct ea_out *ret, size_t max)
{
    size_t n = 0;
    for (size_t i = from; i < alumet_buffer_len(r->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(r->buf, i);
        if (p->metric != out)
            continue;
        assert_int_equal(p->value_type, ALUMET_VALUE_F64);
        assert_true(n < max);
        ret[n++] = (struct ea_out){p->consumer.num, p->timestamp, p->value.f64, p};
    }
    return n;
}

static inline void ea_check_close(double got, double want, double rel, const char *what)
{
    if (!(fabs(got - want) <= rel * fabs(want)))
        fail_msg("%s: expected %.12g, got %.12g", what, want, got);
}

/* A log sink that keeps the messages of one topic. */
struct ea_logs {
    char text[8192];
    size_t len;
    int count;
};

static inline void ea_log_sink(void *data, enum alumet_log_level level, const char *topic,
                               const char *msg)
{
    struct ea_logs *l = data;
    (void)level;
    if (strcmp(topic, "energy-attribution") != 0)
        return;
    l->count++;
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", msg);
    if (n > 0)
        l->len += (size_t)n < sizeof(l->text) - l->len ? (size_t)n : 0;
}

#endif
