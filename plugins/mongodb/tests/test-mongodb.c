/* SPDX-License-Identifier: MIT */
/* The mongodb plugin: the document of a point (exact BSON, read back as
 * canonical extended JSON: field order and types), and the options. The
 * client against a server is tested by test_mongodb.py (a fake that speaks
 * the MongoDB wire protocol). */
#include "alumet-test-plugin.h"

#include <errno.h>

#include "core/buffer.h"
#include "plugins/mongodb/mongodb.h"

extern const struct alumet_plugin alumet_plugin_mongodb;

#define T0 1755604520429334196

/* The document of the only point of buf, as canonical extended JSON. */
static void check_doc(const struct alumet_buffer *buf, const struct alumet_registry *reg,
                      const char *expected)
{
    bson_t doc = BSON_INITIALIZER;
    assert_int_equal(mongodb_doc_build(&doc, buf, alumet_buffer_get(buf, 0), reg), 0);
    char *json = bson_as_canonical_extended_json(&doc, NULL);
    assert_non_null(json);
    assert_string_equal(json, expected);
    bson_free(json);
    bson_destroy(&doc);
}

static void test_doc_u64_and_attributes(void **state)
{
    (void)state;
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_buffer *buf = alumet__buffer_new(4);
    alumet_metric_id m =
        alumet_test_add_metric(reg, "rapl_consumed_energy", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    struct alumet_resource res = {.kind = ALUMET_RESOURCE_CPU_PACKAGE, .num = 0};
    struct alumet_point *p =
        alumet_buffer_push_u64(buf, T0, m, &res, &alumet_test_local_consumer, 123);
    assert_non_null(p);
    static const uint64_t items[] = {1, 18446744073709551615u};
    assert_int_equal(alumet_point_add_attr_str(buf, p, "domain", "package"), 0);
    assert_int_equal(alumet_point_add_attr_u64(buf, p, "u", 69), 0);
    assert_int_equal(alumet_point_add_attr_f64(buf, p, "f", 0.45), 0);
    assert_int_equal(alumet_point_add_attr_bool(buf, p, "b", true), 0);
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 2;
    assert_int_equal(alumet_point_add_attr(buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "value", "v"), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "resource_id", "r"), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "measurement", "m"), 0);
    check_doc(buf, reg,
              "{ \"measurement\" : \"rapl_consumed_energy\", \"resource_kind\" : \"cpu_package\", "
              "\"resource_id\" : \"0\", \"resource_consumer_kind\" : \"local_machine\", "
              "\"resource_consumer_id\" : \"\", \"domain\" : \"package\", \"u\" : \"69u\", "
              "\"f\" : { \"$numberDouble\" : \"0.4500000000000000111\" }, \"b\" : true, "
              "\"l\" : [ \"1u\", \"18446744073709551615u\" ], \"value_field\" : \"v\", "
              "\"resource_id_field\" : \"r\", \"measurement_field\" : \"m\", "
              "\"value\" : \"123u\", \"timestamp\" : \"1755604520429334196\" }");
    alumet__buffer_free(buf);
    alumet__registry_free(reg);
}

static void test_doc_f64_and_consumers(void **state)
{
    (void)state;
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_buffer *buf = alumet__buffer_new(4);
    alumet_metric_id m =
        alumet_test_add_metric(reg, "cpu_percent", ALUMET_VALUE_F64, ALUMET_UNIT(PERCENT));
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = 4242};
    assert_non_null(
        alumet_buffer_push_f64(buf, 1000000000, m, &alumet_test_local_resource, &c, 2.5));
    check_doc(buf, reg,
              "{ \"measurement\" : \"cpu_percent\", \"resource_kind\" : \"local_machine\", "
              "\"resource_id\" : \"\", \"resource_consumer_kind\" : \"process\", "
              "\"resource_consumer_id\" : \"4242\", \"value\" : { \"$numberDouble\" : \"2.5\" }, "
              "\"timestamp\" : \"1000000000\" }");
    alumet__buffer_free(buf);
    alumet__registry_free(reg);
}

static void test_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    static const struct {
        const char *config;
        const char *message;
    } bad[] = {
        {"collection = \"c\"\n", "plugins.mongodb.database: expected the name of the database"},
        {"database = \"d\"\n", "plugins.mongodb.collection: expected the name of the collection"},
        {"database = \"d\"\ncollection = \"c\"\nport = 70000\n",
         "plugins.mongodb.port: expected a TCP port (1 to 65535), got 70000"},
        {"database = \"d\"\ncollection = \"c\"\nusername = \"u\"\n",
         "plugins.mongodb.username: a username needs a password: set password too"},
        {"database = \"d\"\ncollection = \"c\"\nmax_buffered_points = -1\n",
         "plugins.mongodb.max_buffered_points: expected a number of points (0 or more), got -1"},
        {"database = \"d\"\ncollection = \"c\"\nuri = \"x\"\n", "uri"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "[plugins.mongodb]\n%s", bad[i].config);
        assert_int_equal(alumet_test_plugin_init(&alumet_plugin_mongodb, text, NULL, &st, &err),
                         -EINVAL);
        if (!strstr(err.msg, bad[i].message))
            fail_msg("case %zu: expected '%s' in '%s'", i, bad[i].message, err.msg);
    }
    /* the generated config passes the check ("FILL ME" is refused at start) */
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_mongodb,
                                             alumet_plugin_mongodb.default_config, NULL, &st, &err),
                     0);
    alumet_plugin_mongodb.free(st);
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_mongodb,
                                             "[plugins.mongodb]\ndatabase = \"d\"\n"
                                             "collection = \"c\"\nusername = \"u\"\n"
                                             "password = \"p@ss:w/rd\"\n",
                                             NULL, &st, &err),
                     0);
    alumet_plugin_mongodb.free(st);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_doc_u64_and_attributes),
        cmocka_unit_test(test_doc_f64_and_consumers),
        cmocka_unit_test(test_options),
    };
    return alumet_run_tests(group);
}
