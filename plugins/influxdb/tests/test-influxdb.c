/* SPDX-License-Identifier: MIT */
/* The influxdb plugin: the line protocol (exact strings, against upstream's
 * builder tests and the examples of its README), the classification of HTTP
 * outcomes, and the options. The HTTP client against a server is tested by
 * test_influxdb_v2.py (protocol-level fake) and test_influxdb_v1.py (a real
 * InfluxDB 1.x). */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "core/buffer.h"
#include "plugins/influxdb/influxdb-line.h"
#include "plugins/influxdb/influxdb.h"

extern const struct alumet_plugin alumet_plugin_influxdb;

#define T0 1755604520429334196

struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct text out;
    struct influxdb_line_opts opts;
    struct influxdb_line_check check;
    char reports[512]; /* "metric/attribute;" per report of the check */
};

static void record_report(void *ctx, const char *metric, const char *attribute)
{
    struct fixture *f = ctx;
    size_t n = strlen(f->reports);
    snprintf(f->reports + n, sizeof(f->reports) - n, "%s/%s;", metric, attribute);
}

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->reg = alumet__registry_new();
    assert_non_null(f->reg);
    f->buf = alumet__buffer_new(16);
    assert_non_null(f->buf);
    f->check.report = record_report;
    f->check.ctx = f;
}

static void fixture_done(struct fixture *f)
{
    influxdb_line_check_done(&f->check);
    text_done(&f->out);
    alumet__buffer_free(f->buf);
    alumet__registry_free(f->reg);
}

static alumet_metric_id add_metric(struct fixture *f, const char *name, enum alumet_value_type type)
{
    alumet_metric_id id = ALUMET_METRIC_ID_INVALID;
    struct alumet_error err = {0};
    assert_int_equal(
        alumet__registry_add(f->reg, name, type, ALUMET_UNIT(JOULE), "test metric", &id, &err), 0);
    return id;
}

static struct alumet_point *push_u64(struct fixture *f, alumet_metric_id m, uint64_t v)
{
    struct alumet_point *p = alumet_buffer_push_u64(f->buf, T0, m, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, v);
    assert_non_null(p);
    return p;
}

static struct alumet_point *push_f64(struct fixture *f, alumet_metric_id m, double v)
{
    struct alumet_point *p = alumet_buffer_push_f64(f->buf, T0, m, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, v);
    assert_non_null(p);
    return p;
}

/* Encode the buffer with the overwrite check, compare the lines with
 * expected and the reports of the check with reports, clear them all. */
static void check_lines_reports(struct fixture *f, const char *expected, size_t lines,
                                size_t skipped, const char *reports)
{
    struct alumet_error err = {0};
    size_t n = 99, s = 99;
    f->out.len = 0;
    f->reports[0] = '\0';
    assert_int_equal(
        influxdb_line_write_buffer(&f->out, &f->opts, f->buf, f->reg, &f->check, &n, &s, &err), 0);
    assert_string_equal(f->out.len ? f->out.s : "", expected);
    assert_int_equal(n, lines);
    assert_int_equal(s, skipped);
    assert_string_equal(f->reports, reports);
    alumet__buffer_clear(f->buf);
}

/* The same, where no point overwrites another one. */
static void check_lines(struct fixture *f, const char *expected, size_t lines, size_t skipped)
{
    check_lines_reports(f, expected, lines, skipped, "");
}

/* ---- the examples of upstream's README and spec ---- */

static void test_upstream_examples(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    alumet_metric_id m = add_metric(&f, "rapl_consumed_energy", ALUMET_VALUE_U64);
    const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};

    struct alumet_point *p =
        alumet_buffer_push_u64(f.buf, T0, m, &pkg, &alumet_test_local_consumer, 123);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "domain", "package"), 0);
    check_lines(&f,
                "rapl_consumed_energy,resource_kind=cpu_package,resource_id=0,"
                "resource_consumer_kind=local_machine domain=\"package\",value=123u "
                "1755604520429334196",
                1, 0);

    static const char *const tags[] = {"domain"};
    f.opts.as_tags = tags;
    f.opts.n_as_tags = 1;
    p = alumet_buffer_push_u64(f.buf, T0, m, &pkg, &alumet_test_local_consumer, 123);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "domain", "package"), 0);
    check_lines(&f,
                "rapl_consumed_energy,resource_kind=cpu_package,resource_id=0,"
                "resource_consumer_kind=local_machine,domain=package value=123u "
                "1755604520429334196",
                1, 0);
    fixture_done(&f);
}

/* ---- placement of the attributes ---- */

static void test_attribute_placement(void **state)
{
    (void)state;
    static const char *const tags[] = {"t1", "t2"};
    static const char *const fields[] = {"f1"};
    struct influxdb_line_opts o = {false, tags, 2, fields, 1, false};

    assert_true(influxdb_line_is_tag(&o, "t1"));
    assert_true(influxdb_line_is_tag(&o, "t2"));
    assert_false(influxdb_line_is_tag(&o, "f1"));
    assert_false(influxdb_line_is_tag(&o, "other"));
    o.attributes_as_tags = true;
    assert_true(influxdb_line_is_tag(&o, "t1"));
    assert_false(influxdb_line_is_tag(&o, "f1"));
    assert_true(influxdb_line_is_tag(&o, "other"));

    struct fixture f;
    fixture_init(&f);
    f.opts = o;
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_F64);
    struct alumet_point *p = push_f64(&f, m, 0.5);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "a", "x"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "f1", "y"), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "b", 7), 0);
    /* attributes_as = "tag": every attribute but f1 is a tag, in attribute order */
    check_lines(&f,
                "m,resource_kind=local_machine,resource_consumer_kind=local_machine,a=x,b=7 "
                "f1=\"y\",value=0.5 1755604520429334196",
                1, 0);
    fixture_done(&f);
}

/* ---- the default placement: every attribute a tag ---- */

/* kernel_cpu_time as procfs makes it: one point per cpu_state, same
 * resource and timestamp. As tags, every point is its own series. */
static void test_default_tags(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.opts.attributes_as_tags = true;
    alumet_metric_id m = add_metric(&f, "kernel_cpu_time", ALUMET_VALUE_U64);
    const struct alumet_resource core = {ALUMET_RESOURCE_CPU_CORE, 1, NULL, NULL};
    static const char *const states[] = {"user", "nice", "system"};
    for (size_t i = 0; i < 3; i++) {
        struct alumet_point *p =
            alumet_buffer_push_u64(f.buf, T0, m, &core, &alumet_test_local_consumer, 10 * i);
        assert_non_null(p);
        assert_int_equal(alumet_point_add_attr_str(f.buf, p, "cpu_state", states[i]), 0);
    }
    check_lines(&f,
                "kernel_cpu_time,resource_kind=cpu_core,resource_id=1,"
                "resource_consumer_kind=local_machine,cpu_state=user value=0u "
                "1755604520429334196\n"
                "kernel_cpu_time,resource_kind=cpu_core,resource_id=1,"
                "resource_consumer_kind=local_machine,cpu_state=nice value=10u "
                "1755604520429334196\n"
                "kernel_cpu_time,resource_kind=cpu_core,resource_id=1,"
                "resource_consumer_kind=local_machine,cpu_state=system value=20u "
                "1755604520429334196",
                3, 0);

    /* tag values of every type, escaped (`,` `=` space; a backslash as is);
     * an empty one is left out */
    alumet_metric_id e = add_metric(&f, "e", ALUMET_VALUE_F64);
    static const uint64_t items[] = {1, 2};
    struct alumet_point *p = push_f64(&f, e, 2.5);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "domain", "a b,c=d\\e"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "k e=y,", "v"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "none", ""), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "u", 18446744073709551615u), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "f", 1e21), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "b", true), 0);
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 2;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "value", "v"), 0);
    check_lines(&f,
                "e,resource_kind=local_machine,resource_consumer_kind=local_machine,"
                "domain=a\\ b\\,c\\=d\\e,k\\ e\\=y\\,=v,u=18446744073709551615,"
                "f=1000000000000000000000,b=true,l=[1\\,\\ 2],value=v value=2.5 "
                "1755604520429334196",
                1, 0);
    fixture_done(&f);
}

/* ---- the overwrite check ---- */

static struct alumet_point *push_at(struct fixture *f, alumet_metric_id m, alumet_time_ns t,
                                    uint64_t v, const char *k1, const char *v1, const char *k2,
                                    const char *v2)
{
    struct alumet_point *p = alumet_buffer_push_u64(f->buf, t, m, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, v);
    assert_non_null(p);
    if (k1)
        assert_int_equal(alumet_point_add_attr_str(f->buf, p, k1, v1), 0);
    if (k2)
        assert_int_equal(alumet_point_add_attr_str(f->buf, p, k2, v2), 0);
    return p;
}

/* Encode, check only the reports and the number of lines. */
static void check_reports(struct fixture *f, size_t lines, const char *reports)
{
    struct alumet_error err = {0};
    size_t n = 0, s = 0;
    f->out.len = 0;
    f->reports[0] = '\0';
    assert_int_equal(
        influxdb_line_write_buffer(&f->out, &f->opts, f->buf, f->reg, &f->check, &n, &s, &err), 0);
    assert_int_equal(n, lines);
    assert_string_equal(f->reports, reports);
    alumet__buffer_clear(f->buf);
}

static void test_overwrite_check(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    alumet_metric_id cpu = add_metric(&f, "kernel_cpu_time", ALUMET_VALUE_U64);
    alumet_metric_id net = add_metric(&f, "network_bytes", ALUMET_VALUE_U64);

    /* attributes_as = "field" (upstream): the cpu_state values overwrite
     * each other; the lines are written all the same */
    push_at(&f, cpu, T0, 1, "cpu_state", "user", NULL, NULL);
    push_at(&f, cpu, T0, 2, "cpu_state", "system", NULL, NULL);
    check_lines_reports(&f,
                        "kernel_cpu_time,resource_kind=local_machine,resource_consumer_kind="
                        "local_machine cpu_state=\"user\",value=1u 1755604520429334196\n"
                        "kernel_cpu_time,resource_kind=local_machine,resource_consumer_kind="
                        "local_machine cpu_state=\"system\",value=2u 1755604520429334196",
                        2, 0, "kernel_cpu_time/cpu_state;");
    /* once per metric, also in the next writes */
    push_at(&f, cpu, T0, 1, "cpu_state", "user", NULL, NULL);
    push_at(&f, cpu, T0, 2, "cpu_state", "idle", NULL, NULL);
    check_reports(&f, 2, "");

    /* no overwrite: other timestamps, the same point twice (the source's
     * doing), an attribute that differs only as a tag */
    static const char *const tags[] = {"interface"};
    f.opts.as_tags = tags;
    f.opts.n_as_tags = 1;
    push_at(&f, net, T0, 1, "direction", "rx", NULL, NULL);
    push_at(&f, net, T0 + 1, 2, "direction", "tx", NULL, NULL);
    push_at(&f, net, T0 + 2, 3, "direction", "rx", NULL, NULL);
    push_at(&f, net, T0 + 2, 3, "direction", "rx", NULL, NULL);
    push_at(&f, net, T0 + 3, 3, "interface", "lo", "direction", "rx");
    push_at(&f, net, T0 + 3, 3, "interface", "eth0", "direction", "rx");
    check_reports(&f, 6, "");
    /* the second field differs; the report names it */
    push_at(&f, net, T0, 3, "interface", "lo", "direction", "rx");
    push_at(&f, net, T0, 3, "interface", "lo", "direction", "tx");
    check_reports(&f, 2, "network_bytes/direction;");

    /* attributes_as = "tag" with attributes_as_fields: only the listed
     * attributes can make points collide; many lines (the table grows) */
    alumet_metric_id proc = add_metric(&f, "cpu_time_delta", ALUMET_VALUE_U64);
    static const char *const fields[] = {"kind"};
    f.opts.attributes_as_tags = true;
    f.opts.as_fields = fields;
    f.opts.n_as_fields = 1;
    char id[16];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "%d", i);
        push_at(&f, proc, T0, 1, "pid", id, "kind", "user");
    }
    check_reports(&f, 300, "");
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "%d", i);
        push_at(&f, proc, T0, 1, "pid", id, "kind", i == 299 ? "system" : "user");
    }
    push_at(&f, proc, T0, 1, "pid", "299", "kind", "user");
    check_reports(&f, 301, "cpu_time_delta/kind;");

    /* every attribute a tag: nothing to check */
    f.opts.n_as_fields = 0;
    push_at(&f, cpu, T0, 1, "cpu_state", "user", NULL, NULL);
    push_at(&f, cpu, T0, 2, "cpu_state", "system", NULL, NULL);
    check_reports(&f, 2, "");
    fixture_done(&f);
}

/* ---- escaping ---- */

static void test_escaping(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.opts.attributes_as_tags = true;
    static const char *const fields[] = {"my field,=", "s"};
    f.opts.as_fields = fields;
    f.opts.n_as_fields = 2;
    alumet_metric_id m = add_metric(&f, "my metric,x=y", ALUMET_VALUE_U64);
    const struct alumet_resource r = {ALUMET_RESOURCE_CUSTOM, 0, "id,with=all of", "kind x"};
    const struct alumet_consumer c = {ALUMET_CONSUMER_CGROUP, 0, "C:\\dir\\", NULL};
    struct alumet_point *p = alumet_buffer_push_u64(f.buf, T0, m, &r, &c, 1);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "tag key,=", "v a,l=ue"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "my field,=", "q\"uo\\te, =x"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "s", "line\nbreak"), 0);
    /* measurement: `,` and space; tag keys and values, field keys: `,` `=`
     * space; backslashes in tags are not escaped (upstream); strings: `"` `\` */
    check_lines(&f,
                "my\\ metric\\,x=y,resource_kind=kind\\ x,resource_id=id\\,with\\=all\\ of,"
                "resource_consumer_kind=cgroup,resource_consumer_id=C:\\dir\\,"
                "tag\\ key\\,\\==v\\ a\\,l\\=ue "
                "my\\ field\\,\\==\"q\\\"uo\\\\te, =x\",s=\"line\nbreak\",value=1u "
                "1755604520429334196",
                1, 0);
    fixture_done(&f);
}

/* ---- field encodings ---- */

static void test_field_types(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    alumet_metric_id mu = add_metric(&f, "u", ALUMET_VALUE_U64);
    alumet_metric_id mf = add_metric(&f, "f", ALUMET_VALUE_F64);
    static const uint64_t items[] = {1, 22, 18446744073709551615u};

    struct alumet_point *p = push_u64(&f, mu, 18446744073709551615u);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "float", 123.0), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "half", -0.5), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "big", 1e21), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "small", 1e-7), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "uint", 0), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "yes", true), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "no", false), 0);
    struct alumet_attr list = {.key = "list", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 3;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    struct alumet_attr empty = {.key = "empty", .type = ALUMET_ATTR_LIST_U64};
    assert_int_equal(alumet_point_add_attr(f.buf, p, &empty), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "str", ""), 0);
    push_f64(&f, mf, 123.0);
    push_f64(&f, mf, -0.0);
    push_f64(&f, mf, 0.1 + 0.2);
    check_lines(&f,
                "u,resource_kind=local_machine,resource_consumer_kind=local_machine "
                "float=123,half=-0.5,big=1000000000000000000000,small=0.0000001,uint=0u,yes=T,"
                "no=F,list=\"1,22,18446744073709551615\",empty=\"\",str=\"\","
                "value=18446744073709551615u 1755604520429334196\n"
                "f,resource_kind=local_machine,resource_consumer_kind=local_machine "
                "value=123 1755604520429334196\n"
                "f,resource_kind=local_machine,resource_consumer_kind=local_machine "
                "value=-0 1755604520429334196\n"
                "f,resource_kind=local_machine,resource_consumer_kind=local_machine "
                "value=0.30000000000000004 1755604520429334196",
                4, 0);
    fixture_done(&f);
}

/* InfluxDB 1.x: no `u` suffix; integers as `i`, floats past INT64_MAX (in
 * Rust Display form: 2^63 is "9223372036854776000"). */
static void test_v1_integers(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.opts.v1_integers = true;
    alumet_metric_id mu = add_metric(&f, "u", ALUMET_VALUE_U64);

    struct alumet_point *p = push_u64(&f, mu, 9223372036854775807u);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "a", 0), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "b", 9223372036854775808u), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "c", 2.5), 0);
    push_u64(&f, mu, 9223372036854775808u);
    push_u64(&f, mu, 18446744073709551615u);
    push_u64(&f, mu, 42);
    /* the points have the same series and timestamp: the first one, the
     * only one with attribute fields, is overwritten */
    check_lines_reports(&f,
                        "u,resource_kind=local_machine,resource_consumer_kind=local_machine "
                        "a=0i,b=9223372036854776000,c=2.5,value=9223372036854775807i "
                        "1755604520429334196\n"
                        "u,resource_kind=local_machine,resource_consumer_kind=local_machine "
                        "value=9223372036854776000 1755604520429334196\n"
                        "u,resource_kind=local_machine,resource_consumer_kind=local_machine "
                        "value=18446744073709552000 1755604520429334196\n"
                        "u,resource_kind=local_machine,resource_consumer_kind=local_machine "
                        "value=42i 1755604520429334196",
                        4, 0, "u/a;");
    fixture_done(&f);
}

/* ---- reserved keys, empty tags ---- */

static void test_reserved_and_empty(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    static const char *const tags[] = {"resource_kind", "resource_consumer_id", "empty",
                                       "resource_id", "n"};
    f.opts.as_tags = tags;
    f.opts.n_as_tags = 5;
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_U64);
    const struct alumet_consumer proc = {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL};
    struct alumet_point *p =
        alumet_buffer_push_u64(f.buf, 0, m, &alumet_test_local_resource, &proc, 3);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "value", "v"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "resource_kind", "rk"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "empty", ""), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "resource_consumer_id", 9), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "n", 1.5), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "resource_id", "r"), 0);
    check_lines(&f,
                "m,resource_kind=local_machine,resource_consumer_kind=process,"
                "resource_consumer_id=42,alumet_attribute__resource_kind=rk,"
                "alumet_attribute__resource_consumer_id=9,n=1.5,alumet_attribute__resource_id=r "
                "alumet_attribute__value=\"v\",value=3u 0",
                1, 0);
    fixture_done(&f);
}

/* ---- resources, long ids, timestamps, several lines ---- */

static void test_resources_and_timestamps(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    alumet_metric_id m = add_metric(&f, "m", ALUMET_VALUE_U64);
    char long_path[600];
    memset(long_path, 'p', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    const struct alumet_resource core = {ALUMET_RESOURCE_CPU_CORE, 17, NULL, NULL};
    const struct alumet_resource gpu = {ALUMET_RESOURCE_GPU, 0, "0000:3b:00.0", NULL};
    const struct alumet_resource dram = {ALUMET_RESOURCE_DRAM, 1, NULL, NULL};
    const struct alumet_consumer cg = {ALUMET_CONSUMER_CGROUP, 0, long_path, NULL};
    const struct alumet_consumer custom = {ALUMET_CONSUMER_CUSTOM, 0, "", "my_kind"};

    assert_non_null(alumet_buffer_push_u64(f.buf, 1, m, &core, &cg, 1));
    assert_non_null(alumet_buffer_push_u64(f.buf, -1, m, &gpu, &custom, 2));
    assert_non_null(
        alumet_buffer_push_u64(f.buf, INT64_MAX, m, &dram, &alumet_test_local_consumer, 3));
    char expected[2048];
    snprintf(expected, sizeof(expected),
             "m,resource_kind=cpu_core,resource_id=17,resource_consumer_kind=cgroup,"
             "resource_consumer_id=%s value=1u 1\n"
             "m,resource_kind=gpu,resource_id=0000:3b:00.0,resource_consumer_kind=my_kind "
             "value=2u -1\n"
             "m,resource_kind=dram,resource_id=1,resource_consumer_kind=local_machine "
             "value=3u 9223372036854775807",
             long_path);
    check_lines(&f, expected, 3, 0);

    /* appending to text already there: a '\n' first */
    struct alumet_error err = {0};
    size_t n, s;
    push_u64(&f, m, 5);
    f.out.len = 0;
    assert_int_equal(influxdb_line_write_buffer(&f.out, &f.opts, f.buf, f.reg, NULL, &n, &s, &err),
                     0);
    assert_int_equal(influxdb_line_write_buffer(&f.out, &f.opts, f.buf, f.reg, NULL, &n, &s, &err),
                     0);
    assert_string_equal(f.out.s,
                        "m,resource_kind=local_machine,resource_consumer_kind=local_machine "
                        "value=5u 1755604520429334196\n"
                        "m,resource_kind=local_machine,resource_consumer_kind=local_machine "
                        "value=5u 1755604520429334196");
    alumet__buffer_clear(f.buf);
    check_lines(&f, "", 0, 0);
    fixture_done(&f);
}

/* ---- values InfluxDB cannot store, unknown metrics ---- */

static void test_non_finite(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    alumet_metric_id m = add_metric(&f, "f", ALUMET_VALUE_F64);
    push_f64(&f, m, NAN);
    struct alumet_point *p = push_f64(&f, m, 1.0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "inf", INFINITY), 0);
    assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "ok", 2.0), 0);
    push_f64(&f, m, -INFINITY);
    check_lines(&f,
                "f,resource_kind=local_machine,resource_consumer_kind=local_machine "
                "ok=2,value=1 1755604520429334196",
                1, 2);
    push_f64(&f, m, NAN);
    check_lines(&f, "", 0, 1);
    fixture_done(&f);
}

static void test_unknown_metric(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    push_u64(&f, 7, 1);
    struct alumet_error err = {0};
    size_t n, s;
    assert_int_equal(influxdb_line_write_buffer(&f.out, &f.opts, f.buf, f.reg, NULL, &n, &s, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "unknown metric id '7' in a point");
    fixture_done(&f);
}

/* ---- HTTP outcomes ---- */

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(influxdb_http_classify(CURLE_OK, 204), 0);
    assert_int_equal(influxdb_http_classify(CURLE_OK, 200), 0);
    assert_int_equal(influxdb_http_classify(CURLE_OK, 400), INFLUXDB_HTTP_REJECTED);
    assert_int_equal(influxdb_http_classify(CURLE_OK, 413), INFLUXDB_HTTP_REJECTED);
    assert_int_equal(influxdb_http_classify(CURLE_OK, 422), INFLUXDB_HTTP_REJECTED);
    static const long retry[] = {301, 401, 403, 404, 408, 429, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof(retry) / sizeof(*retry); i++)
        assert_int_equal(influxdb_http_classify(CURLE_OK, retry[i]), ALUMET_WRITE_RETRY);
    /* a reply that is not HTTP ("Received HTTP/0.9 when not allowed" is
     * CURLE_UNSUPPORTED_PROTOCOL: the URL's scheme was checked at init) */
    static const CURLcode transient[] = {
        CURLE_COULDNT_CONNECT,    CURLE_OPERATION_TIMEDOUT,   CURLE_GOT_NOTHING,
        CURLE_RECV_ERROR,         CURLE_SEND_ERROR,           CURLE_COULDNT_RESOLVE_HOST,
        CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL, CURLE_HTTP2,
    };
    for (size_t i = 0; i < sizeof(transient) / sizeof(*transient); i++)
        assert_int_equal(influxdb_http_classify(transient[i], 0), ALUMET_WRITE_RETRY);
    assert_int_equal(influxdb_http_classify(CURLE_URL_MALFORMAT, 0), -EINVAL);
    assert_int_equal(influxdb_http_classify(CURLE_OUT_OF_MEMORY, 0), -ENOMEM);
}

/* A URL that libcurl cannot use is a configuration error at start. */
static void test_http_bad_url(void **state)
{
    (void)state;
    static const struct {
        const char *host, *message;
    } cases[] = {
        {"ftp://h:1", "cannot configure the HTTP client for 'ftp://h:1' (org 'o', bucket 'b'): "
                      "Unsupported protocol"},
        {"gopher+x://h", "cannot configure the HTTP client for 'gopher+x://h' (org 'o', bucket "
                         "'b'): Unsupported protocol"},
        {"http://h:99999", "cannot configure the HTTP client for 'http://h:99999' (org 'o', "
                           "bucket 'b'): URL using bad/illegal format or missing URL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "[plugins.influxdb]\nhost = \"%s\"\norg = \"o\"\n"
                 "bucket = \"b\"\n",
                 cases[i].host);
        void *st = NULL;
        struct alumet_error err = {0};
        assert_int_equal(alumet_test_plugin_init(&alumet_plugin_influxdb, text, NULL, &st, &err),
                         0);
        struct influxdb_http h;
        assert_int_equal(influxdb_http_init(&h, st, &err), -EINVAL);
        assert_string_equal(err.msg, cases[i].message);
        alumet_plugin_influxdb.free(st);
    }
}

/* ---- the plugin: options ---- */

static void test_plugin_default_config(void **state)
{
    (void)state;
    assert_string_equal(alumet_plugin_influxdb.name, "influxdb");
    assert_string_equal(alumet_plugin_influxdb.version, "0.1.0");
    assert_int_equal(alumet_plugin_influxdb.abi_version, ALUMET_PLUGIN_ABI);
    const char *def = alumet_plugin_influxdb.default_config;
    const char *keys[] = {
        "[plugins.influxdb]\n# Off by default: it needs a server (or opens a port); set to true to "
        "use it\nenabled = false\n",
        "\nhost = \"http://localhost:8086\"\n",
        "\ntoken = \"FILL ME\"\n",
        "\norg = \"FILL ME\"\n",
        "\nbucket = \"FILL ME\"\n",
        "\nattributes_as = \"tag\"\n",
        "\napi_version = 2\n",
        "\nmax_buffered_points = 1000000\n",
        "\nconnect_timeout = \"5s\"\n",
        "\nrequest_timeout = \"30s\"\n",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(strstr(def, keys[i]));

    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_influxdb, def, NULL, &st, &err), 0);
    const struct influxdb_settings *s = st; /* struct influxdb starts with its settings */
    assert_string_equal(s->host, "http://localhost:8086");
    assert_int_equal(s->api, INFLUXDB_API_V2);
    assert_true(s->attributes_as_tags);
    assert_int_equal(s->max_buffered_points, 1000000);
    assert_int_equal(s->connect_timeout, 5 * ALUMET_NSEC_PER_SEC);
    assert_int_equal(s->request_timeout, 30 * ALUMET_NSEC_PER_SEC);
    alumet_plugin_influxdb.free(st);
}

static void test_plugin_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(
        alumet_test_plugin_init(&alumet_plugin_influxdb,
                                "[plugins.influxdb]\nhost = \"https://h:1/\"\napi_version = 1\n"
                                "database = \"d b\"\nretention_policy = \"rp\"\n"
                                "username = \"u\"\npassword = \"p\"\nattributes_as = \"tag\"\n"
                                "attributes_as_fields = [\"x\", \"y\"]\n"
                                "attributes_as_tags = []\nmax_buffered_points = 0\n"
                                "request_timeout = \"250ms\"\n",
                                NULL, &st, &err),
        0);
    const struct influxdb_settings *s = st;
    assert_string_equal(s->host, "https://h:1");
    assert_int_equal(s->api, INFLUXDB_API_V1);
    assert_string_equal(s->database, "d b");
    assert_string_equal(s->retention_policy, "rp");
    assert_string_equal(s->sec.username, "u");
    assert_string_equal(s->sec.password, "p");
    assert_true(s->attributes_as_tags);
    assert_int_equal(s->n_as_fields, 2);
    assert_string_equal(s->as_fields[1], "y");
    assert_int_equal(s->n_as_tags, 0);
    assert_int_equal(s->max_buffered_points, 0);
    assert_int_equal(s->request_timeout, 250 * ALUMET_NSEC_PER_MSEC);

    struct influxdb_settings copy;
    assert_int_equal(influxdb_settings_copy(&copy, s), 0);
    assert_string_equal(copy.as_fields[0], "x");
    assert_null(copy.as_fields[2]);
    assert_ptr_not_equal(copy.host, s->host);
    influxdb_settings_done(&copy);
    alumet_plugin_influxdb.free(st);

    /* attributes_as: "tag" when absent, "field" for upstream's placement */
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_influxdb,
                                             "[plugins.influxdb]\norg = \"o\"\nbucket = \"b\"\n",
                                             NULL, &st, &err),
                     0);
    assert_true(((const struct influxdb_settings *)st)->attributes_as_tags);
    alumet_plugin_influxdb.free(st);
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_influxdb,
                                             "[plugins.influxdb]\norg = \"o\"\nbucket = \"b\"\n"
                                             "attributes_as = \"field\"\n",
                                             NULL, &st, &err),
                     0);
    assert_false(((const struct influxdb_settings *)st)->attributes_as_tags);
    alumet_plugin_influxdb.free(st);
}

static void test_plugin_bad_options(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *message;
    } cases[] = {
        {"api_version = 3\n", "plugins.influxdb.api_version: expected 1 (InfluxDB 1.x) or 2"},
        {"attributes_as = \"both\"\n",
         "plugins.influxdb.attributes_as: expected \"field\" or \"tag\", got \"both\""},
        {"host = \"/\"\n", "plugins.influxdb.host: expected the base URL of InfluxDB"},
        {"api_version = 1\n", "plugins.influxdb.database: expected a non-empty string "
                              "(api_version = 1)"},
        {"org = \"\"\n", "plugins.influxdb.org: expected a non-empty string (api_version = 2)"},
        {"max_buffered_points = -1\n", "plugins.influxdb.max_buffered_points: expected a "
                                       "number of points (0 or more), got -1"},
        {"connect_timeout = \"0s\"\n", "plugins.influxdb.connect_timeout: expected a duration"},
        {"token = 5\n", "plugins.influxdb.token"},
        {"attributes_as_tags = \"domain\"\n", "plugins.influxdb.attributes_as_tags"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "[plugins.influxdb]\norg = \"o\"\nbucket = \"b\"\n%s",
                 cases[i].config);
        /* a repeated key (org) is a TOML error: give the case its own table */
        if (strncmp(cases[i].config, "org", 3) == 0)
            snprintf(text, sizeof(text), "[plugins.influxdb]\nbucket = \"b\"\n%s", cases[i].config);
        void *st = NULL;
        struct alumet_error err = {0};
        assert_int_equal(alumet_test_plugin_init(&alumet_plugin_influxdb, text, NULL, &st, &err),
                         -EINVAL);
        if (!strstr(err.msg, cases[i].message))
            fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].message, err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_upstream_examples),
        cmocka_unit_test(test_attribute_placement),
        cmocka_unit_test(test_default_tags),
        cmocka_unit_test(test_overwrite_check),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_field_types),
        cmocka_unit_test(test_v1_integers),
        cmocka_unit_test(test_reserved_and_empty),
        cmocka_unit_test(test_resources_and_timestamps),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_unknown_metric),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_http_bad_url),
        cmocka_unit_test(test_plugin_default_config),
        cmocka_unit_test(test_plugin_options),
        cmocka_unit_test(test_plugin_bad_options),
    };
    return alumet_run_tests(group);
}
