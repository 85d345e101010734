/* SPDX-License-Identifier: MIT */
/* The kwollect-output plugin: the JSON body (exact text: metric names with
 * units, labels, attributes overriding fixed labels, types) and the
 * options. The HTTP side is tested by test_kwollect_output.py. */
#include "alumet-test-plugin.h"

#include <errno.h>

#include "core/buffer.h"
#include "plugins/kwollect-output/kwollect-output.h"

extern const struct alumet_plugin alumet_plugin_kwollect_output;

static void test_body(void **state)
{
    (void)state;
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_buffer *buf = alumet__buffer_new(4);
    alumet_metric_id e =
        alumet_test_add_metric(reg, "rapl_consumed_energy", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE));
    alumet_metric_id t =
        alumet_test_add_metric(reg, "x", ALUMET_VALUE_U64, ALUMET_UNIT_PREFIXED(MILLI, SECOND));
    alumet_metric_id u = alumet_test_add_metric(reg, "n", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    struct alumet_resource res = {.kind = ALUMET_RESOURCE_CPU_PACKAGE, .num = 0};
    struct alumet_point *p = alumet_buffer_push_f64(buf, 1750930866123000000, e, &res,
                                                    &alumet_test_local_consumer, 12.0);
    static const uint64_t items[] = {3, 4};
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 2;
    assert_int_equal(alumet_point_add_attr_str(buf, p, "domain", "package"), 0);
    assert_int_equal(alumet_point_add_attr(buf, p, &list), 0);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "consumer_id", "override"), 0);
    assert_int_equal(alumet_point_add_attr_bool(buf, p, "b", false), 0);
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = 7};
    assert_non_null(alumet_buffer_push_u64(buf, 1000000000, t, &alumet_test_local_resource, &c, 5));
    assert_non_null(alumet_buffer_push_u64(buf, 1500000000, u, &alumet_test_local_resource,
                                           &alumet_test_local_consumer, 1));
    struct text out = {0};
    struct kwo_format f = {
        .device_id = "taurus-7", .append_unit_to_metric_name = true, .use_unit_display_name = true};
    assert_int_equal(kwo_format_buffer(&out, &f, buf, reg), 0);
    assert_string_equal(
        out.s, "[{\"timestamp\":1750930866.123,\"metric_id\":\"rapl_consumed_energy_J\","
               "\"device_id\":\"taurus-7\",\"value\":12.0,\"labels\":{\"ressource_kind\":"
               "\"cpu_package\",\"ressource_id\":\"0\",\"consumer_kind\":\"local_machine\","
               "\"consumer_id\":\"override\",\"domain\":\"package\",\"l\":[3,4],\"b\":false}},"
               "{\"timestamp\":1.0,\"metric_id\":\"x_ms\",\"device_id\":\"taurus-7\",\"value\":5,"
               "\"labels\":{\"ressource_kind\":\"local_machine\",\"ressource_id\":\"\","
               "\"consumer_kind\":\"process\",\"consumer_id\":\"7\"}},"
               "{\"timestamp\":1.5,\"metric_id\":\"n\",\"device_id\":\"taurus-7\",\"value\":1,"
               "\"labels\":{\"ressource_kind\":\"local_machine\",\"ressource_id\":\"\","
               "\"consumer_kind\":\"local_machine\",\"consumer_id\":\"\"}}]");
    /* unique unit names, then no unit at all */
    f.use_unit_display_name = false;
    assert_int_equal(kwo_format_buffer(&out, &f, buf, reg), 0);
    assert_non_null(strstr(out.s, "\"metric_id\":\"x_millis\""));
    assert_non_null(strstr(out.s, "\"metric_id\":\"n_1\""));
    f.append_unit_to_metric_name = false;
    assert_int_equal(kwo_format_buffer(&out, &f, buf, reg), 0);
    assert_non_null(strstr(out.s, "\"metric_id\":\"rapl_consumed_energy\""));
    text_done(&out);
    alumet__buffer_free(buf);
    alumet__registry_free(reg);
}

static void test_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_kwollect_output,
                                             alumet_plugin_kwollect_output.default_config, NULL,
                                             &st, &err),
                     0);
    alumet_plugin_kwollect_output.free(st);
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_kwollect_output,
                                             "[plugins.kwollect-output]\nurl = \"x\"\n", NULL, &st,
                                             &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.kwollect-output.url: expected the URL of the "
                                    "Kwollect metrics API"));
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_options),
    };
    return alumet_run_tests(group);
}
