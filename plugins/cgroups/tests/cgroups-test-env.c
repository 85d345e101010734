/* SPDX-License-Identifier: MIT */
#include "cgroups-test-env.h"

static alumet_time_ns env_clock(void *data)
{
    return *(const alumet_time_ns *)data;
}

int cgtest_init(struct cgtest_env *e, const struct cgtest_plugin *pl, const struct cgtest_setup *s,
                const char *section, struct alumet_error *err)
{
    static const struct cgtest_setup none = {0};
    if (!s)
        s = &none;
    memset(e, 0, sizeof(*e));
    e->pl = pl;
    e->tmp = alumet_test_tmpdir();
    if (s->fixture)
        alumet_test_copy_fixture("cgroup", s->fixture, e->tmp);
    if (s->tree)
        s->tree(e->tmp);
    e->mono = 1000 * CGTEST_SEC;
    e->now = CGTEST_T0;
    char text[4096];
    int n =
        snprintf(text, sizeof(text), "[plugins.%s]\nproc_root = \"%s\"\nsys_root = \"%s\"\n%s%s",
                 pl->name, e->tmp, e->tmp, s->extra ? s->extra : "", section);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    int r = alumet_test_plugin_init(pl->def, text, &e->root, &e->state, err);
    if (r == 0) {
        e->cg = pl->family(e->state);
        e->cg->clock = env_clock;
        e->cg->clock_data = &e->mono;
    }
    return r;
}

void cgtest_start(struct cgtest_env *e)
{
    struct alumet_error err = {0};
    struct pipeline_settings s = {0};
    e->p = alumet__pipeline_new(&s);
    assert_non_null(e->p);
    e->ap.def = e->pl->def;
    e->ap.enabled = true;
    e->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT(e->pl->name);
    struct alumet_start_ctx ctx = {e->p, &e->ap};
    int r = e->pl->def->start(e->state, &ctx, &err);
    if (r < 0)
        print_error("start: %s\n", err.msg);
    assert_int_equal(r, 0);
    e->buf = alumet__buffer_new(0);
    assert_non_null(e->buf);
}

void cgtest_setup(struct cgtest_env *e, const struct cgtest_plugin *pl,
                  const struct cgtest_setup *s, const char *section)
{
    struct alumet_error err = {0};
    int r = cgtest_init(e, pl, s, section, &err);
    if (r < 0)
        print_error("init: %s\n", err.msg);
    assert_int_equal(r, 0);
    cgtest_start(e);
}

void cgtest_done(struct cgtest_env *e)
{
    struct alumet_error err = {0};
    if (e->p) {
        alumet__pipeline_free(e->p);
        assert_int_equal(e->pl->def->stop(e->state, &err), 0);
    }
    e->pl->def->free(e->state);
    toml_free(e->root);
    alumet__buffer_free(e->buf);
    alumet_test_rmtree(e->tmp);
    alumet_test_log_release();
}

void cgtest_expect_init_error(const struct cgtest_plugin *pl, const struct cgtest_setup *s,
                              const char *section, int code, const char *msg)
{
    struct cgtest_env e;
    struct alumet_error err = {0};
    alumet_test_log_capture("info"); /* quiet: into this file's capture */
    assert_int_equal(cgtest_init(&e, pl, s, section, &err), code);
    if (!strstr(err.msg, msg)) {
        fprintf(stderr, "expected the error:\n%s\ngot:\n%s\n", msg, err.msg);
        fail();
    }
    cgtest_done(&e);
}

struct cgroups *cgtest_family_head(void *state)
{
    return *(struct cgroups **)state;
}

void cgtest_poll_only(struct cgtest_env *e)
{
    struct alumet_error err = {0};
    alumet__buffer_clear(e->buf);
    assert_non_null(e->cg->source);
    int r = cgroups_source_ops.poll(e->cg->source, e->buf, e->now, &err);
    if (r != ALUMET_POLL_OK)
        print_error("poll: %d %s\n", r, err.msg);
    assert_int_equal(r, ALUMET_POLL_OK);
}

int cgtest_cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *cgtest_dump(struct cgtest_env *e)
{
    size_t n = alumet_buffer_len(e->buf);
    char **lines = calloc(n + 1, sizeof(*lines));
    assert_non_null(lines);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        const struct alumet_metric *m =
            alumet_registry_get(alumet_pipeline_registry(e->p), p->metric);
        assert_non_null(m);
        assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_CGROUP);
        char line[1024];
        e->pl->line(e, p, m->name, line, sizeof(line));
        lines[i] = strdup(line);
        assert_non_null(lines[i]);
    }
    qsort(lines, n, sizeof(*lines), cgtest_cmp_lines);
    e->dump[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(e->dump);
        snprintf(e->dump + len, sizeof(e->dump) - len, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return e->dump;
}

const char *cgtest_poll(struct cgtest_env *e)
{
    cgtest_poll_only(e);
    return cgtest_dump(e);
}

void cgtest_line_attrs(const struct cgtest_env *e, const struct alumet_point *p, const char *name,
                       char *line, size_t size)
{
    char attrs[512] = "";
    const struct alumet_attr *a = alumet_point_attrs(e->buf, p);
    for (size_t k = 0; k < p->attr_count; k++) {
        size_t len = strlen(attrs);
        if (a[k].type == ALUMET_ATTR_LIST_U64) {
            snprintf(attrs + len, sizeof(attrs) - len, " %s=[", a[k].key);
            for (size_t j = 0; j < a[k].v.list.len; j++) {
                len = strlen(attrs);
                snprintf(attrs + len, sizeof(attrs) - len, "%s%llu", j ? "," : "",
                         (unsigned long long)a[k].v.list.items[j]);
            }
            len = strlen(attrs);
            snprintf(attrs + len, sizeof(attrs) - len, "]");
        } else if (a[k].type == ALUMET_ATTR_U64)
            snprintf(attrs + len, sizeof(attrs) - len, " %s=%llu(u64)", a[k].key,
                     (unsigned long long)a[k].v.u64);
        else
            snprintf(attrs + len, sizeof(attrs) - len, " %s=%s", a[k].key, a[k].v.str);
    }
    if (p->value_type == ALUMET_VALUE_U64)
        snprintf(line, size, "%s %s%s %llu", name, p->consumer.str, attrs,
                 (unsigned long long)p->value.u64);
    else
        snprintf(line, size, "%s %s%s %g", name, p->consumer.str, attrs, p->value.f64);
}

void cgtest_expect_dump(const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "expected:\n%s\ngot:\n%s\n", want, got);
        fail();
    }
}
