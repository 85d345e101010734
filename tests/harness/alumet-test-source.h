/* SPDX-License-Identifier: MIT */
/* A source plugin under test the way the GPU plugins' tests (nvml, amd-gpu,
 * jetson, grace-hopper) run it: inited from a TOML section, started on a
 * pipeline that is never run (so that only the test polls its sources, at
 * the instants it chooses), its sources polled into one buffer.
 *
 *     struct alumet_test_source t;
 *     alumet_test_source_init(&t, &alumet_plugin_x, "sys_root", dir, extra, &err);
 *     alumet_test_source_start(&t, &err);
 *     ... x_source_ops.poll(source, t.buf, now, &err) ...
 *     alumet_test_source_done(&t);                  // stop and free, as the agent does */
#ifndef ALUMET_TEST_SOURCE_H
#define ALUMET_TEST_SOURCE_H

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

#endif
