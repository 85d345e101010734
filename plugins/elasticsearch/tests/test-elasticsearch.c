/* SPDX-License-Identifier: MIT */
/* The elasticsearch plugin: the NDJSON of points (upstream's serializer test,
 * index names, reserved keys, types), the reading of bulk responses, the
 * JSON parser it uses, and the options. The HTTP side is tested by
 * test_elasticsearch.py against a fake server. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>

#include "core/buffer.h"
#include "plugins/elasticsearch/elasticsearch.h"

extern const struct alumet_plugin alumet_plugin_elasticsearch;

/* 2025-06-06T12:03:18Z */
#define T0 1749211398000000000

static void check_bulk(struct alumet_buffer *buf, struct alumet_registry *reg, bool unit_suffix,
                       const char *prefix, const char *expected)
{
    struct es_format f = {.prefix = strdup(prefix), .unit_suffix = unit_suffix};
    struct es_batch b = {0};
    assert_int_equal(es_batch_add_buffer(&b, &f, buf, reg), 0);
    assert_int_equal(b.n, alumet_buffer_len(buf));
    assert_string_equal(b.text.s, expected);
    es_batch_done(&b);
    es_format_done(&f);
}

static void test_upstream_serializer(void **state)
{
    (void)state;
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_buffer *buf = alumet__buffer_new(4);
    alumet_metric_id m = alumet_test_add_metric(reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    struct alumet_point *p = alumet_buffer_push_u64(buf, T0, m, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, 64);
    assert_int_equal(alumet_point_add_attr_bool(buf, p, "bool", true), 0);
    assert_int_equal(alumet_point_add_attr_f64(buf, p, "f64", 0.45), 0);
    assert_int_equal(alumet_point_add_attr_u64(buf, p, "u64", 69), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "str", "alumet"), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "string", "elastic search"), 0);
    check_bulk(buf, reg, false, "alumet",
               "{\"create\":{\"_index\":\"alumet-m\"}}\n"
               "{\"@timestamp\":\"2025-06-06T12:03:18Z\",\"resource_kind\":\"local_machine\","
               "\"resource_id\":\"\",\"consumer_kind\":\"local_machine\",\"consumer_id\":\"\","
               "\"value\":64,\"bool\":true,\"f64\":0.45,\"u64\":69,\"str\":\"alumet\","
               "\"string\":\"elastic search\"}\n");
    alumet__buffer_free(buf);
    alumet__registry_free(reg);
}

static void test_index_names_and_reserved(void **state)
{
    (void)state;
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_buffer *buf = alumet__buffer_new(4);
    alumet_metric_id e = alumet_test_add_metric(reg, "rapl_consumed_energy", ALUMET_VALUE_F64,
                                                ALUMET_UNIT_PREFIXED(MILLI, JOULE));
    struct alumet_resource res = {.kind = ALUMET_RESOURCE_CPU_PACKAGE, .num = 1};
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_CGROUP, .str = "/a\"b"};
    struct alumet_point *p = alumet_buffer_push_f64(buf, T0 + 500000000, e, &res, &c, 12.0);
    static const uint64_t items[] = {1, 2};
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 2;
    assert_int_equal(alumet_point_add_attr(buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "value", "v"), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "@timestamp", "t"), 0);
    assert_int_equal(alumet_point_add_attr_f64(buf, p, "nan", NAN), 0);
    assert_int_equal(alumet_point_add_attr_f64(buf, p, "big", 1e21), 0);
    check_bulk(buf, reg, true, "My Prefix",
               "{\"create\":{\"_index\":\"my_prefix-rapl_consumed_energy-millij\"}}\n"
               "{\"@timestamp\":\"2025-06-06T12:03:18.5Z\",\"resource_kind\":\"cpu_package\","
               "\"resource_id\":\"1\",\"consumer_kind\":\"cgroup\",\"consumer_id\":\"/a\\\"b\","
               "\"value\":12.0,\"l\":[1,2],\"__value\":\"v\",\"__@timestamp\":\"t\","
               "\"nan\":null,\"big\":1e21}\n");
    alumet__buffer_free(buf);
    alumet__registry_free(reg);
}

static void test_bulk_outcome(void **state)
{
    (void)state;
    int st[3];
    char why[2][512];
    const char *ok = "{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}";
    assert_int_equal(es_bulk_outcome(ok, strlen(ok), 1, st, why), 0);
    assert_int_equal(st[0], 201);
    const char *mixed =
        "{\"took\":3,\"errors\":true,\"items\":[{\"create\":{\"status\":201}},"
        "{\"create\":{\"status\":429,\"error\":{\"type\":\"es_rejected_execution_exception\","
        "\"reason\":\"queue \\\"full\\\"\"}}},{\"create\":{\"status\":400,\"error\":{\"type\":"
        "\"mapper_parsing_exception\",\"reason\":\"failed to parse\"}}}]}";
    assert_int_equal(es_bulk_outcome(mixed, strlen(mixed), 3, st, why), 2);
    assert_int_equal(st[0], 201);
    assert_int_equal(st[1], 429);
    assert_int_equal(st[2], 400);
    assert_string_equal(why[0], "429 es_rejected_execution_exception: queue \"full\"");
    assert_string_equal(why[1], "400 mapper_parsing_exception: failed to parse");
    assert_true(es_status_is_transient(429));
    assert_true(es_status_is_transient(503));
    assert_false(es_status_is_transient(400));
    assert_false(es_status_is_transient(409));
    /* a count that does not match, a response that is not JSON */
    assert_int_equal(es_bulk_outcome(mixed, strlen(mixed), 2, st, why), -EINVAL);
    assert_string_equal(why[0], "a bulk response with 3 items for 2 documents");
    assert_int_equal(es_bulk_outcome("{\"errors\":true,", 15, 1, st, why), -EINVAL);
    assert_string_equal(why[0], "expected a member name at byte 15");
}

static void test_json_parser(void **state)
{
    (void)state;
    struct json *j = NULL;
    char why[128];
    const char *text = " [1, -2.5e3, \"a\\u00e9\\ud83d\\ude00\\n\", true, null, {\"k\": []}] ";
    assert_int_equal(json_parse(text, strlen(text), &j, why, sizeof(why)), 0);
    assert_int_equal(j->type, JSON_ARRAY);
    assert_int_equal(json_len(j), 6);
    const struct json *i = j->child;
    assert_true(i->is_int && i->num == 1.0);
    i = i->next;
    assert_false(i->is_int);
    assert_true(i->num == -2500.0);
    i = i->next;
    assert_string_equal(i->str, "a\xc3\xa9\xf0\x9f\x98\x80\n");
    i = i->next;
    assert_true(i->type == JSON_BOOL && i->b);
    assert_int_equal(i->next->type, JSON_NULL);
    assert_int_equal(json_get(i->next->next, "k")->type, JSON_ARRAY);
    json_free(j);
    static const char *const bad[] = {"[1,]", "{\"a\" 1}", "\"abc", "[1] x", "tru"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        assert_int_equal(json_parse(bad[k], strlen(bad[k]), &j, why, sizeof(why)), -EINVAL);
}

static void test_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    char dir_file[PATH_MAX];
    char *dir = alumet_test_tmpdir();
    alumet_test_path_join(dir_file, sizeof(dir_file), dir, "nocolon.txt");
    alumet_test_write_file(dir_file, "useronly\n");
    char text[PATH_MAX + 256];
    static const struct {
        const char *config;
        const char *message;
    } bad[] = {
        {"server_url = \"\"\n", "plugins.elasticsearch.server_url: invalid server url ''"},
        {"[plugins.elasticsearch.auth.basic]\nuser = \"u\"\npassword = \"p\"\n"
         "[plugins.elasticsearch.auth.bearer]\ntoken = \"t\"\n",
         "invalid auth config: expected one of auth.basic, auth.basic_file, auth.api_key and "
         "auth.bearer, got 2"},
        {"[plugins.elasticsearch.auth.basic_file]\nfile = \"/nonexistent/x\"\n",
         "invalid auth config: cannot read '/nonexistent/x': No such file or directory"},
        {"[plugins.elasticsearch.auth.api_key]\n", "plugins.elasticsearch.auth.api_key.key: "
                                                   "invalid auth config: expected a string"},
        {"max_buffered_points = -2\n", "expected a number of points (0 or more), got -2"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[plugins.elasticsearch]\n%s", bad[i].config);
        assert_int_equal(
            alumet_test_plugin_init(&alumet_plugin_elasticsearch, text, NULL, &st, &err), -EINVAL);
        if (!strstr(err.msg, bad[i].message))
            fail_msg("case %zu: expected '%s' in '%s'", i, bad[i].message, err.msg);
    }
    snprintf(text, sizeof(text),
             "[plugins.elasticsearch]\n[plugins.elasticsearch.auth.basic_file]\nfile = \"%s\"\n",
             dir_file);
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_elasticsearch, text, NULL, &st, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "must hold \"user:password\""));
    /* the generated config is valid */
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_elasticsearch,
                                             alumet_plugin_elasticsearch.default_config, NULL, &st,
                                             &err),
                     0);
    alumet_plugin_elasticsearch.free(st);
    alumet_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_upstream_serializer),
        cmocka_unit_test(test_index_names_and_reserved),
        cmocka_unit_test(test_bulk_outcome),
        cmocka_unit_test(test_json_parser),
        cmocka_unit_test(test_options),
    };
    return alumet_run_tests(group);
}
