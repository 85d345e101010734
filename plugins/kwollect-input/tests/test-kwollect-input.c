/* SPDX-License-Identifier: MIT */
/* The kwollect-input plugin: units derived from metric names, timestamps,
 * the reading of an answer (points, resources, consumers, skipped metrics),
 * and the options. The HTTP side is tested by test_kwollect_input.py. */
#include "alumet-test-plugin.h"

#include <errno.h>

#include "core/buffer.h"
#include "plugins/kwollect-input/kwollect-input.h"

extern const struct alumet_plugin alumet_plugin_kwollect_input;

static void check_unit(const char *metric, const char *unique)
{
    char buf[64], name[64];
    struct alumet_unit u = kwi_unit_of(metric, buf, sizeof(buf));
    alumet_unit_unique_name(&u, name, sizeof(name));
    if (strcmp(name, unique) != 0)
        fail_msg("%s: expected unit '%s', got '%s'", metric, unique, name);
}

static void test_units(void **state)
{
    (void)state;
    check_unit("wattmetre_power_watt", "W");
    check_unit("pdu_outlet_kilowatt", "kiloW");
    check_unit("bmc_temp_celsius", "Cel");
    check_unit("prom_energy_watthour", "W.h");
    check_unit("network_ifacein_bytes_total", "By");
    check_unit("network_ifacein_packets_error_total", "1");
    check_unit("network_ifacein_packets_discard_total", "1");
    check_unit("bmc_fan_speed_percent", "%");
    check_unit("bmc_ps_current_amp", "A");
    check_unit("bmc_voltage_volt", "V");
    check_unit("x_power_VA", "V.A");
    check_unit("bmc_fan_rpm", "rpm");
    check_unit("bmc_airflow_cfm", "[cft_i]/min");
    check_unit("cpu_freq_kHz", "kiloHz");
    check_unit("only", "only");
}

static void test_times(void **state)
{
    (void)state;
    alumet_time_ns t = 0;
    assert_int_equal(kwi_parse_time("2025-07-21T16:15:31+02:00", &t), 0);
    assert_int_equal(t, 1753107331000000000);
    assert_int_equal(kwi_parse_time("2025-07-21T16:15:31.123456789+02:00", &t), 0);
    assert_int_equal(t, 1753107331123456789);
    assert_int_equal(kwi_parse_time("2025-07-21T14:15:31.5Z", &t), 0);
    assert_int_equal(t, 1753107331500000000);
    assert_int_equal(kwi_parse_time("2025-07-21T11:15:31.123-03:00", &t), 0);
    assert_int_equal(t, 1753107331123000000);
    assert_int_equal(kwi_parse_time("2025-07-21 16:15:31", &t), -EINVAL);
    assert_int_equal(kwi_parse_time("2025-13-21T16:15:31Z", &t), -EINVAL);
}

static void test_answer(void **state)
{
    (void)state;
    struct alumet_buffer *buf = alumet__buffer_new(4);
    const char *names[] = {"wattmetre_power_watt", "bmc_temp_celsius"};
    const alumet_metric_id ids[] = {7, 9};
    struct kwi_metrics m = {.names = names, .ids = ids, .n = 2};
    const char *text =
        "[{\"device_id\": \"taurus-7\", \"metric_id\": \"wattmetre_power_watt\", \"timestamp\": "
        "\"2025-07-21T16:15:31+02:00\", \"value\": 131.7, \"labels\": {\"_device_orig\": "
        "\"wattmetre1-port6\"}},"
        "{\"device_id\": \"taurus-7\", \"metric_id\": \"bmc_temp_celsius\", \"timestamp\": "
        "\"2025-07-21T16:15:32.25+02:00\", \"value\": 41, \"labels\": {\"sensor\": [1, 2]}},"
        "{\"device_id\": \"taurus-7\", \"metric_id\": \"other\", \"timestamp\": "
        "\"2025-07-21T16:15:32+02:00\", \"value\": 1, \"labels\": {}}]";
    size_t skipped = 9;
    struct alumet_error err = {0};
    assert_int_equal(kwi_parse_answer(text, strlen(text), &m, buf, &skipped, &err), 0);
    assert_int_equal(skipped, 1);
    assert_int_equal(alumet_buffer_len(buf), 2);
    const struct alumet_point *p = alumet_buffer_get(buf, 0);
    char id[64];
    assert_int_equal(p->metric, 7);
    assert_true(p->value.f64 == 131.7);
    assert_int_equal(p->timestamp, 1753107331000000000);
    assert_string_equal(alumet_resource_kind_name(&p->resource), "device_id");
    alumet_resource_id_text(&p->resource, id, sizeof(id));
    assert_string_equal(id, "taurus-7");
    assert_string_equal(alumet_consumer_kind_name(&p->consumer), "device_origin");
    alumet_consumer_id_text(&p->consumer, id, sizeof(id));
    assert_string_equal(id, "wattmetre1-port6");
    assert_string_equal(alumet_point_find_attr(buf, p, "metric_id")->v.str, "wattmetre_power_watt");
    p = alumet_buffer_get(buf, 1);
    assert_int_equal(p->metric, 9);
    assert_true(p->value.f64 == 41.0);
    assert_int_equal(p->timestamp, 1753107332250000000);
    assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
    assert_int_equal(kwi_parse_answer("{}", 2, &m, buf, &skipped, &err), -EINVAL);
    assert_string_equal(err.msg, "invalid answer from Kwollect: expected an array");
    const char *bad = "[{\"device_id\": \"d\", \"metric_id\": \"bmc_temp_celsius\", "
                      "\"timestamp\": \"yesterday\", \"value\": 1}]";
    assert_int_equal(kwi_parse_answer(bad, strlen(bad), &m, buf, &skipped, &err), -EINVAL);
    assert_string_equal(err.msg, "invalid timestamp 'yesterday' in measure 0");
    alumet__buffer_free(buf);
}

static void test_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_kwollect_input,
                                             alumet_plugin_kwollect_input.default_config, NULL, &st,
                                             &err),
                     0);
    alumet_plugin_kwollect_input.free(st);
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_kwollect_input,
                                             "[plugins.kwollect-input]\nsite = \"lyon\"\n"
                                             "hostname = \"n\"\nlogin = \"l\"\npassword = \"p\"\n"
                                             "metrics = \"wattmetre_power_watt\"\n",
                                             NULL, &st, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.kwollect-input.metrics"));
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_options),
    };
    return alumet_run_tests(group);
}
