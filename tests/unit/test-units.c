/* SPDX-License-Identifier: MIT */
#include "alumet-test.h"
#include "alumet/metric.h"
#include "alumet/resource.h"
#include "alumet/units.h"

static void check(struct alumet_unit u, const char *unique, const char *display)
{
    char buf[64];
    alumet_unit_unique_name(&u, buf, sizeof(buf));
    assert_string_equal(buf, unique);
    alumet_unit_display_name(&u, buf, sizeof(buf));
    assert_string_equal(buf, display);
}

static void test_unit_names(void **state)
{
    (void)state;
    check(ALUMET_UNIT(UNITY), "1", "");
    check(ALUMET_UNIT(JOULE), "J", "J");
    check(ALUMET_UNIT_PREFIXED(MILLI, JOULE), "milliJ", "mJ");
    check(ALUMET_UNIT_PREFIXED(KILO, BYTE), "kiloBy", "kB");
    check(ALUMET_UNIT_PREFIXED(NANO, SECOND), "nanos", "ns");
    check(ALUMET_UNIT_PREFIXED(MICRO, SECOND), "micros", "\xce\xbcs");
    check(ALUMET_UNIT_PREFIXED(KILO, UNITY), "kilo1", "k");
    check(ALUMET_UNIT(DEGREE_CELSIUS), "Cel",
          "\xc2\xb0"
          "C");
    check(ALUMET_UNIT(DEGREE_FAHRENHEIT), "[degF]",
          "\xc2\xb0"
          "F");
    check(ALUMET_UNIT(WATT_HOUR), "W.h", "Wh");
    check(ALUMET_UNIT(PERCENT), "%", "%");
    check(ALUMET_UNIT(HERTZ), "Hz", "Hz");
    struct alumet_unit c = {ALUMET_UNIT_CUSTOM, ALUMET_PREFIX_PLAIN, "g_CO2", "gCO\xe2\x82\x82"};
    check(c, "g_CO2", "gCO\xe2\x82\x82");
}

static void test_unit_parse(void **state)
{
    (void)state;
    assert_int_equal(alumet_base_unit_from_string("J"), ALUMET_UNIT_JOULE);
    assert_int_equal(alumet_base_unit_from_string("W.h"), ALUMET_UNIT_WATT_HOUR);
    assert_int_equal(alumet_base_unit_from_string("1"), ALUMET_UNIT_UNITY);
    assert_int_equal(alumet_base_unit_from_string("joule"), _ALUMET_UNIT_INVALID);
    assert_int_equal(alumet_unit_prefix_from_string("milli"), ALUMET_PREFIX_MILLI);
    assert_int_equal(alumet_unit_prefix_from_string("m"), ALUMET_PREFIX_MILLI);
    assert_int_equal(alumet_unit_prefix_from_string("\xce\xbc"), ALUMET_PREFIX_MICRO);
    assert_int_equal(alumet_unit_prefix_from_string(""), ALUMET_PREFIX_PLAIN);
    assert_int_equal(alumet_unit_prefix_from_string("x"), _ALUMET_PREFIX_INVALID);
    assert_string_equal(alumet_value_type_name(ALUMET_VALUE_F64), "F64");
    assert_string_equal(alumet_value_type_name(ALUMET_VALUE_U64), "U64");
}

static void test_resource_text(void **state)
{
    (void)state;
    char buf[64];
    struct alumet_resource r = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    assert_string_equal(alumet_resource_kind_name(&r), "local_machine");
    assert_int_equal(alumet_resource_id_text(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    r = (struct alumet_resource){ALUMET_RESOURCE_CPU_PACKAGE, 1, NULL, NULL};
    assert_string_equal(alumet_resource_kind_name(&r), "cpu_package");
    alumet_resource_id_text(&r, buf, sizeof(buf));
    assert_string_equal(buf, "1");
    r = (struct alumet_resource){ALUMET_RESOURCE_GPU_PARTITION, 2, "0000:01:00.0", NULL};
    alumet_resource_id_text(&r, buf, sizeof(buf));
    assert_string_equal(buf, "0000:01:00.0/2");
    r = (struct alumet_resource){ALUMET_RESOURCE_CUSTOM, 0, "x", "my_kind"};
    assert_string_equal(alumet_resource_kind_name(&r), "my_kind");
    struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, 4242, NULL, NULL};
    assert_string_equal(alumet_consumer_kind_name(&c), "process");
    alumet_consumer_id_text(&c, buf, sizeof(buf));
    assert_string_equal(buf, "4242");
    c = (struct alumet_consumer){ALUMET_CONSUMER_CGROUP, 0, "/user.slice", NULL};
    assert_string_equal(alumet_consumer_kind_name(&c), "cgroup");
    alumet_consumer_id_text(&c, buf, sizeof(buf));
    assert_string_equal(buf, "/user.slice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_names),
        cmocka_unit_test(test_unit_parse),
        cmocka_unit_test(test_resource_text),
    };
    return alumet_run_tests(tests);
}
