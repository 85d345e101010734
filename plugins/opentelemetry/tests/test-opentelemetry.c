/* SPDX-License-Identifier: MIT */
/* The opentelemetry plugin: the OTLP request of a buffer, unpacked again with
 * protobuf-c and checked field by field; the HTTP outcomes (OTLP retry
 * rules, google.rpc.Status messages); the options. The agent against a
 * collector is tested by test_opentelemetry_collector.py. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "core/buffer.h"
#include "plugins/opentelemetry/opentelemetry.h"

extern const struct alumet_plugin alumet_plugin_opentelemetry;

#define T0 1755604520429334196

struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct otel_encoder enc;
    otel_request *req;
};

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->reg = alumet__registry_new();
    assert_non_null(f->reg);
    f->buf = alumet__buffer_new(16);
    assert_non_null(f->buf);
    f->enc.prefix = "";
    f->enc.suffix = "_alumet";
    f->enc.use_unit_display_name = true;
    f->enc.add_attributes_to_labels = true;
}

static void fixture_free_request(struct fixture *f)
{
    if (f->req)
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
            f->req, NULL);
    f->req = NULL;
}

static void fixture_done(struct fixture *f)
{
    fixture_free_request(f);
    otel_encoder_done(&f->enc);
    alumet__buffer_free(f->buf);
    alumet__registry_free(f->reg);
}

static alumet_metric_id add_metric(struct fixture *f, const char *name, enum alumet_value_type type,
                                   struct alumet_unit unit, const char *desc)
{
    alumet_metric_id id = ALUMET_METRIC_ID_INVALID;
    struct alumet_error err = {0};
    assert_int_equal(alumet__registry_add(f->reg, name, type, unit, desc, &id, &err), 0);
    return id;
}

/* Encode the buffer, unpack it into f->req, clear the buffer. */
static void encode(struct fixture *f, size_t expected_points)
{
    const uint8_t *data = NULL;
    size_t len = 0, points = 0;
    struct alumet_error err = {0};

    fixture_free_request(f);
    assert_int_equal(otel_encode(&f->enc, f->buf, f->reg, &data, &len, &points, &err), 0);
    assert_int_equal(points, expected_points);
    f->req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
        NULL, len, data);
    assert_non_null(f->req);
    alumet__buffer_clear(f->buf);
}

static void check_kv(const otel_key_value *kv, const char *key, const char *value)
{
    assert_non_null(kv);
    assert_string_equal(kv->key, key);
    assert_non_null(kv->value);
    assert_int_equal(kv->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    assert_string_equal(kv->value->string_value, value);
}

/* The request envelope: one ResourceMetrics, one ScopeMetrics; returns it. */
static const otel_scope_metrics *check_envelope(const otel_request *req, size_t n_metrics)
{
    assert_int_equal(req->n_resource_metrics, 1);
    const otel_resource_metrics *rm = req->resource_metrics[0];
    assert_string_equal(rm->schema_url, "");
    assert_non_null(rm->resource);
    assert_int_equal(rm->resource->n_attributes, 1);
    check_kv(rm->resource->attributes[0], "service.name", "alumet-otlp-grpc");
    assert_int_equal(rm->resource->dropped_attributes_count, 0);
    assert_int_equal(rm->n_scope_metrics, 1);
    const otel_scope_metrics *sm = rm->scope_metrics[0];
    assert_string_equal(sm->schema_url, "");
    assert_non_null(sm->scope);
    assert_string_equal(sm->scope->name, "alumet");
    assert_string_equal(sm->scope->version, "0.1.0");
    assert_int_equal(sm->scope->n_attributes, 1);
    check_kv(sm->scope->attributes[0], "tool", "alumet");
    assert_int_equal(sm->scope->dropped_attributes_count, 0);
    assert_int_equal(sm->n_metrics, n_metrics);
    return sm;
}

static const otel_gauge *check_metric(const otel_metric *m, const char *name, const char *desc,
                                      const char *unit, size_t n_points)
{
    assert_string_equal(m->name, name);
    assert_string_equal(m->description, desc);
    assert_string_equal(m->unit, unit);
    assert_int_equal(m->n_metadata, 0);
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_non_null(m->gauge);
    assert_int_equal(m->gauge->n_data_points, n_points);
    return m->gauge;
}

/* A data point: time, value, and its attributes as "k=v" strings in order. */
static void check_point(const otel_data_point *dp, uint64_t time, double value,
                        const char *const *attrs, size_t n)
{
    assert_int_equal(dp->time_unix_nano, time);
    assert_int_equal(dp->start_time_unix_nano, 0);
    assert_int_equal(dp->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    if (isnan(value))
        assert_true(isnan(dp->as_double));
    else
        assert_memory_equal(&dp->as_double, &value, sizeof(value)); /* bit for bit */
    assert_int_equal(dp->n_exemplars, 0);
    assert_int_equal(dp->flags, 0);
    assert_int_equal(dp->n_attributes, n);
    for (size_t i = 0; i < n; i++) {
        char kv[512];
        snprintf(kv, sizeof(kv), "%s=%s", dp->attributes[i]->key,
                 dp->attributes[i]->value->string_value);
        assert_int_equal(dp->attributes[i]->value->value_case,
                         OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
        assert_string_equal(kv, attrs[i]);
    }
}

/* ---- the request layout ---- */

static void test_request_layout(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    alumet_metric_id energy = add_metric(&f, "rapl_consumed_energy", ALUMET_VALUE_U64,
                                         ALUMET_UNIT(JOULE), "energy consumed");
    alumet_metric_id ratio =
        add_metric(&f, "ratio", ALUMET_VALUE_F64, ALUMET_UNIT_PREFIXED(MILLI, SECOND), "");
    const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_resource local = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_resource dram = {ALUMET_RESOURCE_DRAM, 1, NULL, NULL};
    const struct alumet_consumer local_c = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    const struct alumet_consumer proc = {ALUMET_CONSUMER_PROCESS, 42, NULL, NULL};
    const struct alumet_consumer cg = {ALUMET_CONSUMER_CGROUP, 0, "/sys/fs/cgroup/x", NULL};
    static const uint64_t items[] = {1, 2};

    struct alumet_point *p = alumet_buffer_push_u64(f.buf, T0, energy, &pkg, &local_c, 123);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "domain", "package"), 0);
    p = alumet_buffer_push_f64(f.buf, T0 + 1, ratio, &local, &proc, 0.5);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "b_attr", 7), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "a_attr", ""), 0);
    assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "Z", true), 0);
    struct alumet_attr list = {.key = "list", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 2;
    assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
    assert_non_null(alumet_buffer_push_u64(f.buf, T0 + 2, energy, &dram, &cg, UINT64_MAX));
    encode(&f, 3);

    const otel_scope_metrics *sm = check_envelope(f.req, 2);
    /* metrics in the order of their first point */
    const otel_gauge *g =
        check_metric(sm->metrics[0], "rapl_consumed_energy_alumet", "energy consumed", "J", 2);
    static const char *const a0[] = {"domain=package", "resource_consumer_id=empty",
                                     "resource_consumer_kind=local_machine", "resource_id=0",
                                     "resource_kind=cpu_package"};
    check_point(g->data_points[0], T0, 123.0, a0, 5);
    static const char *const a2[] = {"resource_consumer_id=/sys/fs/cgroup/x",
                                     "resource_consumer_kind=cgroup", "resource_id=1",
                                     "resource_kind=dram"};
    check_point(g->data_points[1], T0 + 2, 18446744073709551615.0, a2, 4);
    g = check_metric(sm->metrics[1], "ratio_alumet", "", "ms", 1);
    /* sorted by key, bytewise: upper case first */
    static const char *const a1[] = {"Z=true",
                                     "a_attr=empty",
                                     "b_attr=7",
                                     "list=[1, 2]",
                                     "resource_consumer_id=42",
                                     "resource_consumer_kind=process",
                                     "resource_id=empty",
                                     "resource_kind=local_machine"};
    check_point(g->data_points[0], T0 + 1, 0.5, a1, 8);
    fixture_done(&f);
}

static void test_options(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.enc.prefix = "pre.";
    f.enc.suffix = "";
    f.enc.use_unit_display_name = false;
    f.enc.add_attributes_to_labels = false;
    alumet_metric_id t =
        add_metric(&f, "temp", ALUMET_VALUE_F64, ALUMET_UNIT(DEGREE_CELSIUS), "temperature");
    const struct alumet_resource gpu = {ALUMET_RESOURCE_GPU, 0, "0000:3b:00.0", NULL};
    const struct alumet_consumer custom = {ALUMET_CONSUMER_CUSTOM, 0, "id", "my_kind"};
    struct alumet_point *p = alumet_buffer_push_f64(f.buf, 0, t, &gpu, &custom, -1.25);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "hidden", "x"), 0);
    assert_non_null(alumet_buffer_push_f64(f.buf, -5, t, &gpu, &custom, NAN));
    encode(&f, 2);
    const otel_scope_metrics *sm = check_envelope(f.req, 1);
    const otel_gauge *g = check_metric(sm->metrics[0], "pre.temp", "temperature", "Cel", 2);
    static const char *const a[] = {"resource_consumer_id=id", "resource_consumer_kind=my_kind",
                                    "resource_id=0000:3b:00.0", "resource_kind=gpu"};
    check_point(g->data_points[0], 0, -1.25, a, 4);
    /* before 1970 cannot be a fixed64: 0, "unspecified" */
    check_point(g->data_points[1], 0, NAN, a, 4);

    /* the display name of Celsius, UTF-8 */
    f.enc.use_unit_display_name = true;
    assert_non_null(alumet_buffer_push_f64(f.buf, 0, t, &gpu, &custom, 1));
    encode(&f, 1);
    sm = check_envelope(f.req, 1);
    check_metric(sm->metrics[0], "pre.temp", "temperature",
                 "\xc2\xb0"
                 "C",
                 1);
    fixture_done(&f);
}

/* The arrays are reused: a large buffer, then small ones, then late metrics. */
static void test_reuse(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    alumet_metric_id ids[10];
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "m%d", i);
        ids[i] = add_metric(&f, name, ALUMET_VALUE_U64, ALUMET_UNIT(WATT), "");
    }
    const struct alumet_resource local = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer local_c = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    char long_text[300];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    for (uint64_t i = 0; i < 5000; i++) {
        struct alumet_point *p =
            alumet_buffer_push_u64(f.buf, (alumet_time_ns)i, ids[i % 10], &local, &local_c, i);
        assert_non_null(p);
        assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "seq", i), 0);
        if (i % 7 == 0)
            assert_int_equal(alumet_point_add_attr_str(f.buf, p, "long", long_text), 0);
    }
    encode(&f, 5000);
    const otel_scope_metrics *sm = check_envelope(f.req, 10);
    for (size_t m = 0; m < 10; m++) {
        char name[32];
        snprintf(name, sizeof(name), "m%zu_alumet", m);
        const otel_gauge *g = check_metric(sm->metrics[m], name, "", "W", 500);
        for (size_t k = 0; k < 500; k++) {
            const otel_data_point *dp = g->data_points[k];
            uint64_t seq = k * 10 + m;
            assert_int_equal(dp->time_unix_nano, seq);
            assert_true(dp->as_double == (double)seq);
            size_t n = seq % 7 == 0 ? 6 : 5;
            assert_int_equal(dp->n_attributes, n);
            if (n == 6) {
                assert_string_equal(dp->attributes[0]->key, "long");
                assert_string_equal(dp->attributes[0]->value->string_value, long_text);
            }
        }
    }

    /* a small buffer after: only its metric, in the right slot */
    alumet_metric_id late = add_metric(&f, "late", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY), "d");
    assert_non_null(alumet_buffer_push_f64(f.buf, 9, late, &local, &local_c, 2.5));
    assert_non_null(alumet_buffer_push_u64(f.buf, 10, ids[3], &local, &local_c, 3));
    encode(&f, 2);
    sm = check_envelope(f.req, 2);
    static const char *const a[] = {"resource_consumer_id=empty",
                                    "resource_consumer_kind=local_machine", "resource_id=empty",
                                    "resource_kind=local_machine"};
    check_point(check_metric(sm->metrics[0], "late_alumet", "d", "", 1)->data_points[0], 9, 2.5, a,
                4);
    check_point(check_metric(sm->metrics[1], "m3_alumet", "", "W", 1)->data_points[0], 10, 3, a, 4);
    fixture_done(&f);
}

static void test_empty_and_unknown(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    const uint8_t *data = NULL;
    size_t len = 99, points = 99;
    struct alumet_error err = {0};
    assert_int_equal(otel_encode(&f.enc, f.buf, f.reg, &data, &len, &points, &err), 0);
    assert_int_equal(len, 0);
    assert_int_equal(points, 0);

    const struct alumet_resource local = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer local_c = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    assert_non_null(alumet_buffer_push_u64(f.buf, 1, 5, &local, &local_c, 1));
    assert_int_equal(otel_encode(&f.enc, f.buf, f.reg, &data, &len, &points, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown metric id '5' in a point");
    fixture_done(&f);
}

/* ---- HTTP outcomes ---- */

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(otel_http_classify(CURLE_OK, 200), 0);
    assert_int_equal(otel_http_classify(CURLE_OK, 202), 0);
    static const long retry[] = {429, 502, 503, 504};
    for (size_t i = 0; i < sizeof(retry) / sizeof(*retry); i++)
        assert_int_equal(otel_http_classify(CURLE_OK, retry[i]), ALUMET_WRITE_RETRY);
    static const long refused[] = {301, 400, 401, 403, 404, 413, 415, 500, 501};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++)
        assert_int_equal(otel_http_classify(CURLE_OK, refused[i]), OTEL_HTTP_REJECTED);
    assert_int_equal(otel_http_classify(CURLE_COULDNT_CONNECT, 0), ALUMET_WRITE_RETRY);
    assert_int_equal(otel_http_classify(CURLE_OPERATION_TIMEDOUT, 0), ALUMET_WRITE_RETRY);
    assert_int_equal(otel_http_classify(CURLE_GOT_NOTHING, 0), ALUMET_WRITE_RETRY);
    /* a reply that is not HTTP (the URL's scheme was checked at init) */
    assert_int_equal(otel_http_classify(CURLE_UNSUPPORTED_PROTOCOL, 0), ALUMET_WRITE_RETRY);
    assert_int_equal(otel_http_classify(CURLE_WEIRD_SERVER_REPLY, 0), ALUMET_WRITE_RETRY);
    assert_int_equal(otel_http_classify(CURLE_URL_MALFORMAT, 0), -EINVAL);
    assert_int_equal(otel_http_classify(CURLE_OUT_OF_MEMORY, 0), -ENOMEM);
}

static void test_status_message(void **state)
{
    (void)state;
    char buf[64];
    /* google.rpc.Status { code: 3, message: "bad data", details: [Any{}] } */
    static const uint8_t status[] = {0x08, 0x03, 0x12, 0x08, 'b',  'a',  'd',  ' ',
                                     'd',  'a',  't',  'a',  0x1a, 0x02, 0x0a, 0x00};
    assert_string_equal(otel_http_status_message(status, sizeof(status), buf, sizeof(buf)),
                        "bad data");
    /* message first, long varint code, fixed fields skipped */
    static const uint8_t other[] = {0x09, 1,    2,    3,    4,    5,    6,   7,  8,
                                    0x08, 0xff, 0xff, 0x03, 0x12, 0x02, 'o', 'k'};
    assert_string_equal(otel_http_status_message(other, sizeof(other), buf, sizeof(buf)), "ok");
    assert_null(otel_http_status_message(status, 5, buf, sizeof(buf))); /* truncated */
    assert_null(otel_http_status_message(status, 2, buf, sizeof(buf))); /* no message */
    static const uint8_t junk[] = {0x0f, 0x01};
    assert_null(otel_http_status_message(junk, sizeof(junk), buf, sizeof(buf)));
    /* truncated to the buffer */
    assert_string_equal(otel_http_status_message(status, sizeof(status), buf, 4), "bad");
}

/* ---- the plugin: options ---- */

static void test_plugin_default_config(void **state)
{
    (void)state;
    assert_string_equal(alumet_plugin_opentelemetry.name, "opentelemetry");
    assert_string_equal(alumet_plugin_opentelemetry.version, "0.1.0");
    assert_int_equal(alumet_plugin_opentelemetry.abi_version, ALUMET_PLUGIN_ABI);
    const char *def = alumet_plugin_opentelemetry.default_config;
    const char *keys[] = {
        "[plugins.opentelemetry]\n",
        "\ncollector_host = \"http://localhost:4317\"\n",
        "\nprotocol = \"grpc\"\n",
        "\nprefix = \"\"\n",
        "\nsuffix = \"_alumet\"\n",
        "\nuse_unit_display_name = true\n",
        "\nadd_attributes_to_labels = true\n",
        "\nmax_buffered_points = 1000000\n",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(strstr(def, keys[i]));
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_opentelemetry, def, NULL, &st, &err),
                     0);
    const struct otel_settings *s = st; /* struct otel starts with its settings */
    assert_string_equal(s->collector_host, "http://localhost:4317");
    assert_int_equal(s->protocol, OTEL_PROTOCOL_GRPC);
    assert_string_equal(s->prefix, "");
    assert_string_equal(s->suffix, "_alumet");
    assert_true(s->use_unit_display_name);
    assert_true(s->add_attributes_to_labels);
    assert_int_equal(s->n_headers, 0);
    assert_int_equal(s->max_buffered_points, 1000000);
    alumet_plugin_opentelemetry.free(st);
}

static void test_plugin_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(
        alumet_test_plugin_init(&alumet_plugin_opentelemetry,
                                "[plugins.opentelemetry]\ncollector_host = \"https://c:1/otlp//\"\n"
                                "prefix = \"p_\"\nsuffix = \"\"\nuse_unit_display_name = false\n"
                                "add_attributes_to_labels = false\nmax_buffered_points = 0\n"
                                "[plugins.opentelemetry.headers]\napi-key = \"s3cr t\"\n"
                                "X-Scope-OrgID = \"tenant\"\n",
                                NULL, &st, &err),
        0);
    const struct otel_settings *s = st;
    assert_string_equal(s->collector_host, "https://c:1/otlp");
    assert_string_equal(s->prefix, "p_");
    assert_string_equal(s->suffix, "");
    assert_false(s->use_unit_display_name);
    assert_false(s->add_attributes_to_labels);
    assert_int_equal(s->max_buffered_points, 0);
    assert_int_equal(s->n_headers, 2);
    assert_string_equal(s->headers[0], "api-key: s3cr t");
    assert_string_equal(s->headers[1], "X-Scope-OrgID: tenant");
    assert_null(s->headers[2]);
    struct otel_settings copy;
    assert_int_equal(otel_settings_copy(&copy, s), 0);
    assert_string_equal(copy.headers[1], "X-Scope-OrgID: tenant");
    assert_ptr_not_equal(copy.headers, s->headers);
    otel_settings_done(&copy);
    alumet_plugin_opentelemetry.free(st);
}

/* The user book's options: push_interval_seconds (a number of seconds) and
 * append_unit_to_metric_name; absent, upstream's behaviour. */
static void test_plugin_book_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_opentelemetry,
                                             "[plugins.opentelemetry]\n", NULL, &st, &err),
                     0);
    const struct otel_settings *s = st;
    assert_int_equal(s->push_interval, 0);
    assert_false(s->append_unit_to_metric_name);
    alumet_plugin_opentelemetry.free(st);

    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_opentelemetry,
                                             "[plugins.opentelemetry]\npush_interval_seconds = 15\n"
                                             "append_unit_to_metric_name = true\n",
                                             NULL, &st, &err),
                     0);
    s = st;
    assert_int_equal(s->push_interval, 15 * ALUMET_NSEC_PER_SEC);
    assert_true(s->append_unit_to_metric_name);
    alumet_plugin_opentelemetry.free(st);

    assert_int_equal(
        alumet_test_plugin_init(&alumet_plugin_opentelemetry,
                                "[plugins.opentelemetry]\npush_interval_seconds = 0.25\n", NULL,
                                &st, &err),
        0);
    assert_int_equal(((const struct otel_settings *)st)->push_interval, 250 * ALUMET_NSEC_PER_MSEC);
    alumet_plugin_opentelemetry.free(st);

    st = NULL;
    assert_int_equal(alumet_test_plugin_init(
                         &alumet_plugin_opentelemetry,
                         "[plugins.opentelemetry]\npush_interval_seconds = -1\n", NULL, &st, &err),
                     -EINVAL);
    assert_string_equal(err.msg,
                        "test.toml:2:25: plugins.opentelemetry.push_interval_seconds: expected a "
                        "number of seconds between 0 and 86400 (0: one export per "
                        "buffer), got -1");
}

/* Without protocol: gRPC (upstream's) unless the URL is OTLP/HTTP's. */
static void test_plugin_protocol(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        enum otel_protocol protocol;
    } cases[] = {
        {"collector_host = \"http://localhost:4317\"\n", OTEL_PROTOCOL_GRPC},
        {"collector_host = \"https://otel.example:443\"\n", OTEL_PROTOCOL_GRPC},
        {"collector_host = \"http://127.0.0.1:4318\"\n", OTEL_PROTOCOL_HTTP_PROTOBUF},
        {"collector_host = \"http://127.0.0.1:4318/\"\n", OTEL_PROTOCOL_HTTP_PROTOBUF},
        {"collector_host = \"https://gw.example/otlp/v1/metrics\"\n", OTEL_PROTOCOL_HTTP_PROTOBUF},
        {"collector_host = \"http://localhost:4318\"\nprotocol = \"grpc\"\n", OTEL_PROTOCOL_GRPC},
        {"collector_host = \"http://localhost:4317\"\nprotocol = \"http/protobuf\"\n",
         OTEL_PROTOCOL_HTTP_PROTOBUF},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        void *st = NULL;
        struct alumet_error err = {0};
        snprintf(text, sizeof(text), "[plugins.opentelemetry]\n%s", cases[i].config);
        assert_int_equal(
            alumet_test_plugin_init(&alumet_plugin_opentelemetry, text, NULL, &st, &err), 0);
        const struct otel_settings *s = st;
        if (s->protocol != cases[i].protocol)
            fail_msg("case %zu: protocol %d, expected %d", i, (int)s->protocol,
                     (int)cases[i].protocol);
        alumet_plugin_opentelemetry.free(st);
    }
}

/* gRPC statuses: OTLP's retryable ones are retried, the others dropped. */
static void test_grpc_status(void **state)
{
    (void)state;
    static const int retry[] = {1, 4, 8, 10, 11, 14, 15};
    static const int drop[] = {2, 3, 5, 6, 7, 9, 12, 13, 16, 17, 99};
    assert_int_equal(otel_grpc_classify(0), 0);
    for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
        assert_int_equal(otel_grpc_classify(retry[i]), ALUMET_WRITE_RETRY);
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        assert_int_equal(otel_grpc_classify(drop[i]), OTEL_HTTP_REJECTED);
    assert_int_equal(otel_grpc_from_http(400), 13);
    assert_int_equal(otel_grpc_from_http(401), 16);
    assert_int_equal(otel_grpc_from_http(403), 7);
    assert_int_equal(otel_grpc_from_http(404), 12);
    assert_int_equal(otel_grpc_from_http(429), 14);
    assert_int_equal(otel_grpc_from_http(502), 14);
    assert_int_equal(otel_grpc_from_http(503), 14);
    assert_int_equal(otel_grpc_from_http(504), 14);
    assert_int_equal(otel_grpc_from_http(500), 2);
    assert_string_equal(otel_grpc_status_name(3), "INVALID_ARGUMENT");
    assert_string_equal(otel_grpc_status_name(14), "UNAVAILABLE");
    assert_string_equal(otel_grpc_status_name(16), "UNAUTHENTICATED");
    assert_string_equal(otel_grpc_status_name(42), "UNKNOWN");
    char buf[32];
    otel_grpc_decode_message("bad%20point%3A %E2%9C%93%0a%", buf, sizeof(buf));
    assert_string_equal(buf, "bad point: \xe2\x9c\x93 %");
    otel_grpc_decode_message("0123456789", buf, 5);
    assert_string_equal(buf, "0123");
}

static void test_plugin_bad_options(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *message;
    } cases[] = {
        {"collector_host = \"\"\n", "plugins.opentelemetry.collector_host: expected the URL of "
                                    "the collector's OTLP receiver"},
        {"protocol = \"http/json\"\n", "plugins.opentelemetry.protocol: expected \"grpc\" or "
                                       "\"http/protobuf\", got \"http/json\" (OTLP/HTTP with "
                                       "JSON is not supported)"},
        {"protocol = \"gprc\"\n", "plugins.opentelemetry.protocol: expected \"grpc\" or "
                                  "\"http/protobuf\", got \"gprc\""},
        {"max_buffered_points = -5\n", "plugins.opentelemetry.max_buffered_points: expected a "
                                       "number of points (0 or more), got -5"},
        {"request_timeout = \"0s\"\n", "plugins.opentelemetry.request_timeout: expected a "
                                       "duration longer than 0"},
        {"headers = { \"bad name\" = \"x\" }\n",
         "expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), got 'bad name'"},
        {"headers = { a = \"x\\r\\nEvil: 1\" }\n",
         "plugins.opentelemetry.headers.a: expected a header value on one line"},
        {"headers = { a = 1 }\n", "plugins.opentelemetry.headers.a"},
        {"headers = \"api-key: x\"\n", "plugins.opentelemetry.headers"},
        {"suffix = false\n", "plugins.opentelemetry.suffix"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "[plugins.opentelemetry]\n%s", cases[i].config);
        void *st = NULL;
        struct alumet_error err = {0};
        assert_int_equal(
            alumet_test_plugin_init(&alumet_plugin_opentelemetry, text, NULL, &st, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].message))
            fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].message, err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_request_layout),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_empty_and_unknown),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_status_message),
        cmocka_unit_test(test_plugin_default_config),
        cmocka_unit_test(test_plugin_book_options),
        cmocka_unit_test(test_plugin_options),
        cmocka_unit_test(test_plugin_bad_options),
        cmocka_unit_test(test_plugin_protocol),
        cmocka_unit_test(test_grpc_status),
    };
    return alumet_run_tests(group);
}
