/* SPDX-License-Identifier: MIT */
/* A source plugin under test the way the GPU plugins' tests (nvml, amd-gpu,
 * jetson, grace-hopper) run it: inited from a TOML section, started on a
 * pipeline that is never run (so that only the test polls its sources, at
 * the instants it chooses), its sources polled into one buffer.
 *
 *     struct alumet_test_source t;
 *     alumet_test_source_init(&t, &alumet_plugin_x, "sys_root", dir, extra, &err);
 *     alumet_test_source_start(&t, &err);
 *     n = alumet_test_source_poll(&t, &x_source_ops, source, now);
 *     p = alumet_test_source_find(&t, NULL, "x_energy", 0, "part", "idle");
 *     alumet_test_source_done(&t);                  // stop and free, as the agent does */
#ifndef ALUMET_TEST_SOURCE_H
#define ALUMET_TEST_SOURCE_H

#include <dlfcn.h>

#include "alumet-test-plugin.h"
#include "core/buffer.h"

struct alumet_test_source {
    const struct alumet_plugin *def;
    void *state; /* the plugin's, from init */
    struct toml_value *root;
    struct alumet_pipeline *p; /* from start */
    struct agent_plugin ap;
    struct alumet_buffer *buf;
};

/* Init def with the section "[plugins.<name>]\n<key> = \"<value>\"\n<extra>"
 * (extra may be NULL); the init's result. */
static inline int alumet_test_source_init(struct alumet_test_source *t,
                                          const struct alumet_plugin *def, const char *key,
                                          const char *value, const char *extra,
                                          struct alumet_error *err)
{
    memset(t, 0, sizeof(*t));
    t->def = def;
    char text[4096];
    int n = snprintf(text, sizeof(text), "[plugins.%s]\n%s = \"%s\"\n%s", def->name, key, value,
                     extra ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof(text));
    return alumet_test_plugin_init(def, text, &t->root, &t->state, err);
}

/* Start the plugin on a new pipeline that is never run; the start's result. */
static inline int alumet_test_source_start(struct alumet_test_source *t, struct alumet_error *err)
{
    struct pipeline_settings s = {0};
    t->p = alumet__pipeline_new(&s);
    assert_non_null(t->p);
    t->ap.def = t->def;
    t->ap.enabled = true;
    t->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT(t->def->name);
    struct alumet_start_ctx ctx = {t->p, &t->ap};
    t->buf = alumet__buffer_new(0);
    assert_non_null(t->buf);
    return t->def->start(t->state, &ctx, err);
}

/* Free the pipeline (and so the sources, as the agent does before stop),
 * stop (which must succeed) and free the plugin. */
static inline void alumet_test_source_done(struct alumet_test_source *t)
{
    struct alumet_error err = {0};
    if (t->p) {
        alumet__pipeline_free(t->p);
        assert_int_equal(t->def->stop(t->state, &err), 0);
    }
    t->def->free(t->state);
    toml_free(t->root);
    alumet__buffer_free(t->buf);
}

/* With r < 0: print err (what failed) and the captured log, and fail. */
static inline void alumet_test_source_expect_ok(int r, const struct alumet_error *err,
                                                const char *what)
{
    if (r < 0) {
        print_error("%s: %s\n", what, err->msg);
        alumet_test_log_dump();
    }
    assert_int_equal(r, 0);
}

/* ---- a scripted stub library (tests/fixtures/<name>-stub/) ---- */

/* The script function of a stub: apply text (with reset: from an empty
 * state); 0 or the number of the first bad line. */
typedef int (*alumet_test_stub_script_fn)(const char *text, int reset);

/* dlopen the stub library (NULL if it cannot be loaded): the plugin's dlopen
 * of the same path then shares its state. With script, apply it (reset)
 * through the stub's function script_sym, returned in *ret_script. */
static inline void *alumet_test_stub_open(const char *library, const char *script_sym,
                                          const char *script,
                                          alumet_test_stub_script_fn *ret_script)
{
    void *stub = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (script) {
        assert_non_null(stub);
        *(void **)ret_script = dlsym(stub, script_sym);
        assert_non_null(*ret_script);
        assert_int_equal((*ret_script)(script, 1), 0);
    }
    return stub;
}

/* ---- polling ---- */

/* Clear the buffer and poll src (a source of ops) at now; the poll's result. */
static inline int alumet_test_source_poll_r(struct alumet_test_source *t,
                                            const struct alumet_source_ops *ops, void *src,
                                            alumet_time_ns now, struct alumet_error *err)
{
    assert_non_null(src);
    alumet__buffer_clear(t->buf);
    return ops->poll(src, t->buf, now, err);
}

/* The same poll, which must succeed; the number of points. */
static inline size_t alumet_test_source_poll(struct alumet_test_source *t,
                                             const struct alumet_source_ops *ops, void *src,
                                             alumet_time_ns now)
{
    struct alumet_error err = {0};
    int r = alumet_test_source_poll_r(t, ops, src, now, &err);
    if (r != ALUMET_POLL_OK)
        print_error("poll: %d %s\n", r, err.msg);
    assert_int_equal(r, ALUMET_POLL_OK);
    return alumet_buffer_len(t->buf);
}

/* ---- finding points ---- */

/* The name of the metric of p. */
static inline const char *alumet_test_source_metric_name(const struct alumet_test_source *t,
                                                         const struct alumet_point *p)
{
    const struct alumet_metric *m = alumet_registry_get(alumet_pipeline_registry(t->p), p->metric);
    assert_non_null(m);
    return m->name;
}

/* Whether p has the string attribute key = v (true without key). */
static inline bool alumet_test_source_attr_is(const struct alumet_test_source *t,
                                              const struct alumet_point *p, const char *key,
                                              const char *v)
{
    if (!key)
        return true;
    const struct alumet_attr *a = alumet_point_find_attr(t->buf, p, key);
    return a && a->type == ALUMET_ATTR_STR && strcmp(a->v.str, v) == 0;
}

/* The number of points of metric in the buffer. */
static inline size_t alumet_test_source_count(const struct alumet_test_source *t,
                                              const char *metric)
{
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(t->buf); i++)
        n += strcmp(alumet_test_source_metric_name(t, alumet_buffer_get(t->buf, i)), metric) == 0;
    return n;
}

/* The one point of metric whose consumer is pid (0: local_machine), with
 * key: whose attribute key is v, with resource: on that GPU; the test fails
 * when there is none or more than one. */
static inline const struct alumet_point *alumet_test_source_find(const struct alumet_test_source *t,
                                                                 const char *resource,
                                                                 const char *metric, uint32_t pid,
                                                                 const char *key, const char *v)
{
    const struct alumet_point *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(t->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(t->buf, i);
        bool consumer = pid ? p->consumer.kind == ALUMET_CONSUMER_PROCESS && p->consumer.num == pid
                            : p->consumer.kind == ALUMET_CONSUMER_LOCAL_MACHINE;
        if (strcmp(alumet_test_source_metric_name(t, p), metric) == 0 && consumer &&
            alumet_test_source_attr_is(t, p, key, v) &&
            (!resource || strcmp(p->resource.str, resource) == 0)) {
            found = p;
            n++;
        }
    }
    if (n != 1)
        fail_msg("expected one point %s%s%s pid %u %s=%s, found %zu", metric,
                 resource ? " on " : "", resource ? resource : "", pid, key ? key : "", v ? v : "",
                 n);
    if (resource)
        assert_int_equal(found->resource.kind, ALUMET_RESOURCE_GPU);
    return found;
}

/* The value of p, which must be a U64 (a F64). */
static inline uint64_t alumet_test_point_u64(const struct alumet_point *p)
{
    assert_int_equal(p->value_type, ALUMET_VALUE_U64);
    return p->value.u64;
}

static inline double alumet_test_point_f64(const struct alumet_point *p)
{
    assert_int_equal(p->value_type, ALUMET_VALUE_F64);
    return p->value.f64;
}

#endif
