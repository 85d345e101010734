/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests of the rapl plugin.
 *
 * A test copies a scenario of tests/fixtures/rapl/ into its temp dir, starts
 * the plugin on it (sys_root = proc_root = the copy) into a pipeline that is
 * never run, then polls the source itself. Counters move by rewriting the
 * copied energy_uj files in place (the descriptors kept open see the change,
 * as with sysfs) and, for perf_events, through a fake perf_event_open and
 * read installed in the plugin state: this machine may have no power PMU. */
#ifndef RAPL_TEST_H
#define RAPL_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>

#include "alumet-test-plugin.h"
#include "core/buffer.h"
#include "rapl.h"

extern const struct alumet_plugin alumet_plugin_rapl;

#define T0 ((alumet_time_ns)1700000000 * ALUMET_NSEC_PER_SEC)
#define TWO32 4294967296.0 /* counts per joule of a perf RAPL event */

#define PC "sys/devices/virtual/powercap/intel-rapl/"

/* ---- fake perf_event_open ---- */

struct fake_counter {
    int fd;
    int cpu;
    uint64_t config;
};

struct fake_perf {
    struct fake_counter c[32];
    int n;
    uint32_t type;     /* the type every attr must carry */
    int open_error;    /* negative errno returned by open, 0 = succeed */
    int read_error_fd; /* fd whose read fails with read_error */
    int read_error;
    uint64_t values[8][128]; /* [config][cpu] */
};

static int fake_open(void *data, const struct perf_event_attr *attr, int cpu)
{
    struct fake_perf *fp = data;
    if (fp->open_error)
        return fp->open_error;
    assert_int_equal(attr->type, fp->type);
    assert_int_equal(attr->size, sizeof(*attr));
    assert_true(attr->config < 8 && cpu >= 0 && cpu < 128);
    assert_true(fp->n < 32);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    fp->c[fp->n++] = (struct fake_counter){fd, cpu, attr->config};
    return fd;
}

static int fake_read(void *data, int fd, uint64_t *ret)
{
    struct fake_perf *fp = data;
    if (fp->read_error && fd == fp->read_error_fd)
        return fp->read_error;
    for (int i = 0; i < fp->n; i++)
        if (fp->c[i].fd == fd) {
            *ret = fp->values[fp->c[i].config][fp->c[i].cpu];
            return 0;
        }
    fail_msg("read of an unknown perf fd %d", fd);
    return -EBADF;
}

/* The fd opened for (config, cpu), -1 when none. */
static inline int fake_fd(const struct fake_perf *fp, uint64_t config, int cpu)
{
    for (int i = 0; i < fp->n; i++)
        if (fp->c[i].config == config && fp->c[i].cpu == cpu)
            return fp->c[i].fd;
    return -1;
}

/* ---- a started plugin ---- */

struct env {
    char *tmp;
    struct toml_value *root;
    struct rapl *rapl;
    struct alumet_pipeline *p;
    struct agent_plugin ap;
    struct alumet_buffer *buf;
    struct fake_perf perf;
    alumet_time_ns now;
    /* the plugin's clock reads e->now; a preemption: at its read number
     * stall_at (from 1, counted from the start), now moves on by stall and
     * stall_rel is set to stall_value (the counter went on meanwhile) */
    int clock_reads, stall_at;
    alumet_time_ns stall;
    const char *stall_rel;
    uint64_t stall_value;
};

static inline void env_set(struct env *e, const char *rel, uint64_t value);

static alumet_time_ns env_clock(void *data)
{
    struct env *e = data;
    if (++e->clock_reads == e->stall_at) {
        e->now += e->stall;
        env_set(e, e->stall_rel, e->stall_value);
    }
    return e->now;
}

/* Copy scenario (NULL: an empty root) into a temp dir and init the plugin
 * with sys_root = proc_root = the copy and the extra config lines. */
static inline int env_init(struct env *e, const char *scenario, const char *extra,
                           struct alumet_error *err)
{
    memset(e, 0, sizeof(*e));
    alumet_test_log_capture("debug");
    e->tmp = alumet_test_tmpdir();
    e->now = T0;
    if (scenario)
        alumet_test_copy_fixture("rapl", scenario, e->tmp);
    char text[4096];
    int n =
        snprintf(text, sizeof(text), "[plugins.rapl]\nsys_root = \"%s\"\nproc_root = \"%s\"\n%s",
                 e->tmp, e->tmp, extra ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof(text));
    void *state = NULL;
    int r = alumet_test_plugin_init(&alumet_plugin_rapl, text, &e->root, &state, err);
    if (r < 0)
        return r;
    e->rapl = state;
    e->rapl->perf_ops = (struct rapl_perf_ops){fake_open, fake_read, &e->perf};
    e->rapl->clock = (struct read_clock){env_clock, e};
    return 0;
}

/* Start into a fresh pipeline; returns start's result. */
static inline int env_start_r(struct env *e, struct alumet_error *err)
{
    struct pipeline_settings s = {0};
    e->p = alumet__pipeline_new(&s);
    assert_non_null(e->p);
    e->ap.def = &alumet_plugin_rapl;
    e->ap.enabled = true;
    e->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("rapl");
    struct alumet_start_ctx ctx = {e->p, &e->ap};
    if (!e->buf)
        e->buf = alumet__buffer_new(0);
    assert_non_null(e->buf);
    return alumet_plugin_rapl.start(e->rapl, &ctx, err);
}

static inline void env_start(struct env *e)
{
    struct alumet_error err = {0};
    int r = env_start_r(e, &err);
    if (r < 0) {
        print_error("start: %s\n", err.msg);
        alumet_test_log_dump();
    }
    assert_int_equal(r, 0);
}

static inline void env_setup(struct env *e, const char *scenario, const char *extra)
{
    struct alumet_error err = {0};
    int r = env_init(e, scenario, extra, &err);
    if (r < 0)
        print_error("init: %s\n", err.msg);
    assert_int_equal(r, 0);
    env_start(e);
}

static inline void env_stop(struct env *e)
{
    struct alumet_error err = {0};
    alumet__pipeline_free(e->p); /* frees the source, as the agent does before stop */
    e->p = NULL;
    assert_int_equal(alumet_plugin_rapl.stop(e->rapl, &err), 0);
}

static inline void env_done(struct env *e)
{
    if (e->p)
        env_stop(e);
    alumet_plugin_rapl.free(e->rapl);
    toml_free(e->root);
    alumet__buffer_free(e->buf);
    alumet_test_rmtree(e->tmp);
    alumet_test_log_release();
}

/* Poll the source into the (cleared) buffer; returns the poll result. */
static inline int env_poll_r(struct env *e, struct alumet_error *err)
{
    assert_non_null(e->rapl->source);
    alumet__buffer_clear(e->buf);
    e->now += ALUMET_NSEC_PER_SEC;
    return rapl_source_ops.poll(e->rapl->source, e->buf, e->now, err);
}

/* Poll, expecting success; returns the number of points. */
static inline size_t env_poll(struct env *e)
{
    struct alumet_error err = {0};
    int r = env_poll_r(e, &err);
    if (r != ALUMET_POLL_OK)
        print_error("poll: %d %s\n", r, err.msg);
    assert_int_equal(r, ALUMET_POLL_OK);
    return alumet_buffer_len(e->buf);
}

/* Rewrite a counter file of the copy (rel below the root). */
static inline void env_set(struct env *e, const char *rel, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof(text), "%" PRIu64 "\n", value);
    alumet_test_write_at(e->tmp, rel, text);
}

static inline void env_write(struct env *e, const char *rel, const char *text)
{
    alumet_test_write_at(e->tmp, rel, text);
}

static inline void env_rmtree(struct env *e, const char *rel)
{
    char path[PATH_MAX];
    alumet_test_path_join(path, sizeof(path), e->tmp, rel);
    assert_int_equal(alumet_test_remove_tree(path), 0);
}

/* ---- finding points ---- */

#define PKG(n) ALUMET_RESOURCE_CPU_PACKAGE, (n)
#define DRAM(n) ALUMET_RESOURCE_DRAM, (n)
#define MACHINE ALUMET_RESOURCE_LOCAL_MACHINE, 0

/* The number of points with this domain attribute and resource. */
static inline size_t count_points(struct env *e, const char *domain, enum alumet_resource_kind rk,
                                  uint32_t rn)
{
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        const struct alumet_attr *a = alumet_point_find_attr(e->buf, p, "domain");
        n += a && a->type == ALUMET_ATTR_STR && strcmp(a->v.str, domain) == 0 &&
             p->resource.kind == rk && p->resource.num == rn;
    }
    return n;
}

/* The value of the one point with this domain and resource, which must carry
 * the metric rapl_consumed_energy (F64, joules), the consumer local_machine,
 * the poll's timestamp and the domain attribute only. */
static inline double value_of(struct env *e, const char *domain, enum alumet_resource_kind rk,
                              uint32_t rn)
{
    const struct alumet_point *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < alumet_buffer_len(e->buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(e->buf, i);
        const struct alumet_attr *a = alumet_point_find_attr(e->buf, p, "domain");
        if (a && a->type == ALUMET_ATTR_STR && strcmp(a->v.str, domain) == 0 &&
            p->resource.kind == rk && p->resource.num == rn) {
            found = p;
            n++;
        }
    }
    if (n != 1)
        print_error("expected one point domain=%s resource %d/%u, found %zu\n", domain, (int)rk, rn,
                    n);
    assert_int_equal(n, 1);
    const struct alumet_metric *m =
        alumet_registry_get(alumet_pipeline_registry(e->p), found->metric);
    assert_non_null(m);
    assert_string_equal(m->name, "rapl_consumed_energy");
    assert_int_equal(m->value_type, ALUMET_VALUE_F64);
    assert_int_equal(m->unit.base, ALUMET_UNIT_JOULE);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_PLAIN);
    assert_int_equal(found->value_type, ALUMET_VALUE_F64);
    assert_int_equal(found->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
    assert_int_equal(found->timestamp, e->now);
    assert_int_equal(found->attr_count, 1);
    return found->value.f64;
}

/* Exact comparison: the joules are computed exactly (µJ / 1e6 is correctly
 * rounded, and perf scales are powers of two). */
#define expect_joules(e, domain, res, want)                                                        \
    do {                                                                                           \
        double got_ = value_of((e), (domain), res);                                                \
        if (got_ != (want)) {                                                                      \
            print_error("%s: expected %.17g J, got %.17g J\n", (domain), (double)(want), got_);    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#endif
