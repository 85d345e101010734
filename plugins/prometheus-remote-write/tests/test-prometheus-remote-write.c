/* SPDX-License-Identifier: MIT */
/* The prometheus-remote-write encoder: the bytes of a WriteRequest against a
 * vector written by hand from the protobuf encoding rules (not by the code
 * under test), then requests unpacked again with protobuf-c and checked
 * field by field: label order with __name__, extra labels, sample order,
 * merged milliseconds, the counters of delta series across requests and
 * their expiry, the snappy body; and the options. The agent against real
 * servers is tested by test_prometheus_remote_write_e2e.py. */
#include "alumet-test-plugin.h"

#include <errno.h>

#include <snappy-c.h>

#include "core/buffer.h"
#include "plugins/prometheus-remote-write/prometheus-remote-write.h"
#include "prometheus/remote.pb-c.h"

extern const struct alumet_plugin alumet_plugin_prometheus_remote_write;

#define MS ((alumet_time_ns)1000000)
#define T0 ((alumet_time_ns)1755604520000 * MS) /* 2025-08-19T11:55:20Z */

struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct prw_encoder *enc;
    struct prw_request req;
    Prometheus__WriteRequest *wr;
};

static const struct prw_naming default_naming = {
    .prefix = "", .suffix = "_alumet", .add_attributes_to_labels = true};

static void fixture_init(struct fixture *f, const struct prw_naming *naming)
{
    memset(f, 0, sizeof(*f));
    f->reg = alumet__registry_new();
    f->buf = alumet__buffer_new(16);
    f->enc = prw_encoder_new(naming);
    assert_non_null(f->reg);
    assert_non_null(f->buf);
    assert_non_null(f->enc);
}

static void fixture_done(struct fixture *f)
{
    if (f->wr)
        prometheus__write_request__free_unpacked(f->wr, NULL);
    prw_encoder_free(f->enc);
    alumet__buffer_free(f->buf);
    alumet__registry_free(f->reg);
}

/* Encode the buffer at monotonic time now, check that the body is the
 * snappy block of the protobuf, unpack it into f->wr, clear the buffer. */
static void encode(struct fixture *f, alumet_time_ns now, size_t n_series, size_t n_samples)
{
    struct alumet_error err = {0};
    if (f->wr)
        prometheus__write_request__free_unpacked(f->wr, NULL);
    f->wr = NULL;
    assert_int_equal(prw_encoder_encode(f->enc, f->buf, f->reg, now, &f->req, &err), 0);
    assert_int_equal(f->req.n_series, n_series);
    assert_int_equal(f->req.n_samples, n_samples);

    size_t len = 0;
    assert_int_equal(snappy_uncompressed_length(f->req.body, f->req.body_len, &len), SNAPPY_OK);
    assert_int_equal(len, f->req.proto_len);
    char *raw = malloc(len + 1);
    assert_non_null(raw);
    assert_int_equal(snappy_uncompress(f->req.body, f->req.body_len, raw, &len), SNAPPY_OK);
    assert_memory_equal(raw, f->req.proto, len);
    free(raw);

    f->wr = prometheus__write_request__unpack(NULL, f->req.proto_len, f->req.proto);
    assert_non_null(f->wr);
    assert_int_equal(f->wr->n_timeseries, n_series);
    alumet__buffer_clear(f->buf);
}

static struct alumet_point *push_f64(struct fixture *f, alumet_time_ns ts, alumet_metric_id m,
                                     struct alumet_resource res, double v)
{
    struct alumet_point *p =
        alumet_buffer_push_f64(f->buf, ts, m, &res, &alumet_test_local_consumer, v);
    assert_non_null(p);
    return p;
}

/* Check the labels of ts: "name=value" strings, in order. */
static void check_labels(const Prometheus__TimeSeries *ts, const char *const *expected, size_t n)
{
    assert_int_equal(ts->n_labels, n);
    for (size_t i = 0; i < n; i++) {
        char text[256];
        snprintf(text, sizeof(text), "%s=%s", ts->labels[i]->name, ts->labels[i]->value);
        assert_string_equal(text, expected[i]);
    }
}

static void check_samples(const Prometheus__TimeSeries *ts, const int64_t *ms, const double *values,
                          size_t n)
{
    assert_int_equal(ts->n_samples, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ts->samples[i]->timestamp, ms[i]);
        if (ts->samples[i]->value != values[i])
            fail_msg("sample %zu: expected %.17g, got %.17g", i, values[i], ts->samples[i]->value);
    }
}

/* One point, one series: the whole request byte for byte. */
static void test_bytes(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, &default_naming);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "cpu", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    /* 1500.25 ms after the epoch: the sample's timestamp is 1500 */
    assert_non_null(alumet_buffer_push_u64(f.buf, 1500250000, m, &alumet_test_local_resource,
                                           &alumet_test_local_consumer, 7));

    /* field 1 (tag 0x0a), length-delimited, everywhere but the sample's
     * value (field 1, fixed64: tag 0x09) and timestamp (field 2, varint:
     * tag 0x10); 1500 = 0x5dc is the varint dc 0b; 7.0 is 0x401c000000000000
     * little-endian. The empty ids are left out. */
    static const char expected[] = "\x0a\x6f"         /* timeseries, 111 bytes */
                                   "\x0a\x16"         /* label, 22 bytes */
                                   "\x0a\x08__name__" /* name */
                                   "\x12\x0a"
                                   "cpu_alumet" /* value */
                                   "\x0a\x27"   /* label, 39 bytes */
                                   "\x0a\x16resource_consumer_kind"
                                   "\x12\x0d"
                                   "local_machine"
                                   "\x0a\x1e" /* label, 30 bytes */
                                   "\x0a\x0dresource_kind"
                                   "\x12\x0d"
                                   "local_machine"
                                   "\x12\x0c" /* sample, 12 bytes */
                                   "\x09\x00\x00\x00\x00\x00\x00\x1c\x40"
                                   "\x10\xdc\x0b";
    struct alumet_error err = {0};
    assert_int_equal(prw_encoder_encode(f.enc, f.buf, f.reg, 1, &f.req, &err), 0);
    assert_int_equal(f.req.proto_len, sizeof(expected) - 1);
    assert_memory_equal(f.req.proto, expected, sizeof(expected) - 1);
    /* a snappy block starts with the varint of the uncompressed length
     * (113 = 0x71) and decompresses to the protobuf */
    assert_true(f.req.body_len >= 1);
    assert_int_equal((unsigned char)f.req.body[0], 0x71);
    char raw[sizeof(expected)];
    size_t raw_len = sizeof(raw);
    assert_int_equal(snappy_uncompress(f.req.body, f.req.body_len, raw, &raw_len), SNAPPY_OK);
    assert_int_equal(raw_len, sizeof(expected) - 1);
    assert_memory_equal(raw, expected, raw_len);
    fixture_done(&f);
}

/* An energy: labels sorted with __name__ among them (an upper-case
 * attribute sorts before it), an extra label, empty ids left out, samples
 * sorted by time, and the counter series after the gauge. */
static void test_energy_counter(void **state)
{
    (void)state;
    static const char *const names[] = {"instance", "resource_kind"};
    static const char *const values[] = {"node1", "overridden"};
    struct prw_naming naming = default_naming;
    naming.extra_names = names;
    naming.extra_values = values;
    naming.n_extra = 2;
    struct fixture f;
    fixture_init(&f, &naming);
    alumet_metric_id m =
        alumet_test_add_metric(f.reg, "rapl_consumed_energy", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE));
    struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    /* out of order in the buffer */
    struct alumet_point *p = push_f64(&f, T0 + 2000 * MS, m, pkg, 2.0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "domain", "package"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "Zone", "a"), 0);
    p = push_f64(&f, T0 + 1000 * MS, m, pkg, 1.5);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "domain", "package"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "Zone", "a"), 0);
    encode(&f, 1, 2, 4);

    const char *gauge[] = {
        "Zone=a",
        "__name__=rapl_consumed_energy_alumet_joules",
        "domain=package",
        "instance=node1",
        "resource_consumer_kind=local_machine",
        "resource_id=0",
        "resource_kind=cpu_package", /* the point's label wins over the extra one */
    };
    int64_t ms[] = {1755604521000, 1755604522000};
    check_labels(f.wr->timeseries[0], gauge, 7);
    check_samples(f.wr->timeseries[0], ms, (double[]){1.5, 2.0}, 2);
    gauge[1] = "__name__=rapl_consumed_energy_alumet_cumulative_joules_total";
    check_labels(f.wr->timeseries[1], gauge, 7);
    check_samples(f.wr->timeseries[1], ms, (double[]){1.5, 3.5}, 2);

    /* the next request goes on from the total */
    p = push_f64(&f, T0 + 3000 * MS, m, pkg, 0.25);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "Zone", "a"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "domain", "package"), 0);
    encode(&f, 2, 2, 2);
    check_samples(f.wr->timeseries[1], (int64_t[]){1755604523000}, (double[]){3.75}, 1);
    assert_int_equal(prw_table_series_count(prw_encoder_table(f.enc)), 1);
    fixture_done(&f);
}

/* Points of one series in one millisecond are one sample: summed for the
 * points of one timestamp (attributes left out) and for deltas, else the
 * last one. counter_metrics makes a delta of a metric of any unit. */
static void test_merge(void **state)
{
    (void)state;
    static const char *const counters[] = {"switches"};
    struct prw_naming naming = default_naming;
    naming.add_attributes_to_labels = false;
    naming.counter_metrics = counters;
    naming.n_counter_metrics = 1;
    naming.prefix = "x.";
    struct fixture f;
    fixture_init(&f, &naming);
    alumet_metric_id temp =
        alumet_test_add_metric(f.reg, "temp", ALUMET_VALUE_F64, ALUMET_UNIT(DEGREE_CELSIUS));
    alumet_metric_id sw =
        alumet_test_add_metric(f.reg, "switches", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    struct alumet_resource r = alumet_test_local_resource;
    struct alumet_point *p = push_f64(&f, T0, temp, r, 40.0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "sensor", "a"), 0);
    p = push_f64(&f, T0, temp, r, 2.0); /* same timestamp, another sensor: summed */
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "sensor", "b"), 0);
    push_f64(&f, T0 + 5 * MS + 100, temp, r, 30.0);
    push_f64(&f, T0 + 5 * MS + 900, temp, r, 31.0); /* same ms, later: the last one */
    assert_non_null(
        alumet_buffer_push_u64(f.buf, T0 + 100, sw, &r, &alumet_test_local_consumer, 3));
    assert_non_null(
        alumet_buffer_push_u64(f.buf, T0 + 200, sw, &r, &alumet_test_local_consumer, 4));
    encode(&f, 1, 3, 4);

    const char *labels[] = {"__name__=x_temp_alumet_celsius",
                            "resource_consumer_kind=local_machine", "resource_kind=local_machine"};
    check_labels(f.wr->timeseries[0], labels, 3);
    check_samples(f.wr->timeseries[0], (int64_t[]){1755604520000, 1755604520005},
                  (double[]){42.0, 31.0}, 2);
    labels[0] = "__name__=x_switches_alumet";
    check_labels(f.wr->timeseries[1], labels, 3);
    check_samples(f.wr->timeseries[1], (int64_t[]){1755604520000}, (double[]){7.0}, 1);
    labels[0] = "__name__=x_switches_alumet_cumulative_total";
    check_labels(f.wr->timeseries[2], labels, 3);
    check_samples(f.wr->timeseries[2], (int64_t[]){1755604520000}, (double[]){7.0}, 1);
    fixture_done(&f);
}

/* A series not written for series_expiry is forgotten: its counter starts
 * again (a counter reset for Prometheus). Attribute names are sanitized,
 * and one named like a fixed label is renamed. */
static void test_expiry_and_names(void **state)
{
    (void)state;
    struct prw_naming naming = default_naming;
    naming.series_expiry = 100;
    struct fixture f;
    fixture_init(&f, &naming);
    alumet_metric_id m = alumet_test_add_metric(
        f.reg, "énergie", ALUMET_VALUE_F64,
        (struct alumet_unit){ALUMET_UNIT_WATT_HOUR, ALUMET_PREFIX_KILO, NULL, NULL});
    struct alumet_resource r = alumet_test_local_resource;
    struct alumet_point *p = push_f64(&f, T0, m, r, 1.0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "resource_kind", "x"), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "1core", 3), 0);
    encode(&f, 1000, 2, 2);
    const char *labels[] = {"__name__=_nergie_alumet_kilowatt_hours", "_core=3",
                            "alumet_attribute__resource_kind=x",
                            "resource_consumer_kind=local_machine", "resource_kind=local_machine"};
    check_labels(f.wr->timeseries[0], labels, 5);

    p = push_f64(&f, T0 + 1, m, r, 2.0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "resource_kind", "x"), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "1core", 3), 0);
    encode(&f, 1050, 2, 2); /* within the expiry: 3 */
    check_samples(f.wr->timeseries[1], (int64_t[]){1755604520000}, (double[]){3.0}, 1);

    p = push_f64(&f, T0 + 2 * MS, m, r, 5.0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "resource_kind", "x"), 0);
    assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "1core", 3), 0);
    encode(&f, 1200, 2, 2); /* 150 ns later: expired, starts again */
    check_samples(f.wr->timeseries[1], (int64_t[]){1755604520002}, (double[]){5.0}, 1);
    fixture_done(&f);
}

/* A label name that is a prefix of __name__ sorts before it, whatever its
 * value (label names are compared alone, not with what follows them). */
static void test_name_prefix(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, &default_naming);
    alumet_metric_id m = alumet_test_add_metric(f.reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    struct alumet_point *p = alumet_buffer_push_u64(f.buf, T0, m, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, 1);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "-", "z"), 0);
    assert_int_equal(alumet_point_add_attr_str(f.buf, p, "1_", "zz"), 0);
    encode(&f, 1, 1, 1);
    const char *labels[] = {"_=z", "__=zz", "__name__=m_alumet",
                            "resource_consumer_kind=local_machine", "resource_kind=local_machine"};
    check_labels(f.wr->timeseries[0], labels, 5);
    fixture_done(&f);
}

static void test_empty_and_unknown(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, &default_naming);
    struct alumet_error err = {0};
    assert_int_equal(prw_encoder_encode(f.enc, f.buf, f.reg, 1, &f.req, &err), 0);
    assert_int_equal(f.req.n_series, 0);
    assert_non_null(alumet_buffer_push_u64(f.buf, T0, 42, &alumet_test_local_resource,
                                           &alumet_test_local_consumer, 1));
    assert_int_equal(prw_encoder_encode(f.enc, f.buf, f.reg, 1, &f.req, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown metric id 42 in a buffer");
    fixture_done(&f);
}

static void test_plugin_options(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *message;
    } cases[] = {
        {"url = \"localhost:9090\"\n", "plugins.prometheus-remote-write.url: expected the URL of "
                                       "a remote write endpoint, such as "
                                       "\"http://localhost:9090/api/v1/write\", got "
                                       "\"localhost:9090\""},
        {"labels = { \"a-b\" = \"x\" }\n", "expected a label name: ASCII letters, digits and "
                                           "'_', not starting with a digit nor with \"__\" "
                                           "(reserved by Prometheus), got \"a-b\""},
        {"labels = { job = \"\" }\n", "plugins.prometheus-remote-write.labels.job: expected a "
                                      "non-empty value"},
        {"labels = { job = 1 }\n", "plugins.prometheus-remote-write.labels.job"},
        {"username = \"u\"\nbearer_token = \"t\"\n",
         "plugins.prometheus-remote-write.username: set either a bearer token or a username "
         "and password (basic authentication), not both"},
        {"series_expiry = 5\n", "plugins.prometheus-remote-write.series_expiry"},
        {"max_buffered_points = -1\n", "plugins.prometheus-remote-write.max_buffered_points"},
        {"unknown = 1\n", "unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "[plugins.prometheus-remote-write]\n%s", cases[i].config);
        void *st = NULL;
        struct alumet_error err = {0};
        assert_int_equal(
            alumet_test_plugin_init(&alumet_plugin_prometheus_remote_write, text, NULL, &st, &err),
            -EINVAL);
        if (!strstr(err.msg, cases[i].message))
            fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].message, err.msg);
    }
    /* the default configuration is valid */
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_prometheus_remote_write,
                                             alumet_plugin_prometheus_remote_write.default_config,
                                             NULL, &st, &err),
                     0);
    alumet_plugin_prometheus_remote_write.free(st);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_bytes),          cmocka_unit_test(test_energy_counter),
        cmocka_unit_test(test_merge),          cmocka_unit_test(test_expiry_and_names),
        cmocka_unit_test(test_name_prefix),    cmocka_unit_test(test_empty_and_unknown),
        cmocka_unit_test(test_plugin_options),
    };
    return alumet_run_tests(group);
}
