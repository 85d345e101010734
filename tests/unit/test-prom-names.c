/* SPDX-License-Identifier: MIT */
/* src/util/prom-names.c (the Prometheus names of prometheus-exporter and
 * prometheus-remote-write) and src/util/text.c (the growable text). */
#include "alumet-test.h"

#include "alumet/measurement.h"
#include "util/prom-names.h"
#include "util/text.h"

static void check_attr_label(const char *key, const char *expected)
{
    char out[128];
    memset(out, 'x', sizeof(out));
    size_t n = prom_attr_label_name(key, strlen(key), out);
    assert_string_equal(out, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_attr_label_name(void **state)
{
    (void)state;
    check_attr_label("domain", "domain");
    check_attr_label("cpu.state", "cpu_state");
    check_attr_label("9lives", "_lives");
    check_attr_label("", "_");
    check_attr_label("\xc3\xa9t\xc3\xa9", "_t_");
    /* never a second label of the name of a fixed one, nor __name__ */
    check_attr_label("resource_id", "alumet_attribute__resource_id");
    check_attr_label("resource_consumer_kind", "alumet_attribute__resource_consumer_kind");
    check_attr_label("__name__", "alumet_attribute____name__");
    check_attr_label("resource_id2", "resource_id2");
}

static void test_label_name_valid(void **state)
{
    (void)state;
    assert_true(prom_label_name_valid("job"));
    assert_true(prom_label_name_valid("_a9"));
    assert_false(prom_label_name_valid(""));
    assert_false(prom_label_name_valid("9a"));
    assert_false(prom_label_name_valid("__x"));
    assert_false(prom_label_name_valid("a-b"));
}

static void check_unit_word(struct alumet_unit u, const char *expected)
{
    char *w = prom_unit_word(&u);
    assert_non_null(w);
    assert_string_equal(w, expected);
    free(w);
}

static void test_unit_word(void **state)
{
    (void)state;
    check_unit_word((struct alumet_unit){.base = ALUMET_UNIT_JOULE, .prefix = ALUMET_PREFIX_MILLI},
                    "millijoules");
    check_unit_word(
        (struct alumet_unit){.base = ALUMET_UNIT_WATT_HOUR, .prefix = ALUMET_PREFIX_KILO},
        "kilowatt_hours");
    check_unit_word((struct alumet_unit){.base = ALUMET_UNIT_UNITY, .prefix = ALUMET_PREFIX_PLAIN},
                    "");
    check_unit_word(
        (struct alumet_unit){.base = ALUMET_UNIT_PERCENT, .prefix = ALUMET_PREFIX_PLAIN}, "ratio");
    check_unit_word((struct alumet_unit){.base = ALUMET_UNIT_CUSTOM,
                                         .prefix = ALUMET_PREFIX_PLAIN,
                                         .custom_unique = "g CO2"},
                    "g_CO2");
}

static void test_is_delta(void **state)
{
    (void)state;
    char *counters[] = {"cpu_time_delta"};
    struct alumet_metric m = {.name = "rapl_consumed_energy", .unit = {.base = ALUMET_UNIT_JOULE}};
    assert_true(prom_metric_is_delta(&m, counters, 1));
    m = (struct alumet_metric){.name = "cpu_time_delta", .unit = {.base = ALUMET_UNIT_SECOND}};
    assert_true(prom_metric_is_delta(&m, counters, 1));
    assert_false(prom_metric_is_delta(&m, counters, 0));
    m = (struct alumet_metric){.name = "power", .unit = {.base = ALUMET_UNIT_WATT}};
    assert_false(prom_metric_is_delta(&m, counters, 1));
}

static void test_text(void **state)
{
    (void)state;
    struct text t = {0};
    assert_int_equal(text_adds(&t, "a"), 0);
    assert_int_equal(text_addc(&t, '='), 0);
    /* longer than the first reservation of text_add_written */
    struct alumet_attr a = {
        .key = "k",
        .type = ALUMET_ATTR_STR,
        .v.str = "0123456789012345678901234567890123456789012345678901234567890123456789"};
    size_t len = 0;
    assert_int_equal(text_add_written(&t, text_of_attr, &a, &len), 0);
    assert_int_equal(len, 70);
    assert_int_equal(text_add(&t, "xyz", 2), 0);
    assert_string_equal(
        t.s, "a=0123456789012345678901234567890123456789012345678901234567890123456789xy");
    assert_int_equal(t.len, 74);
    text_done(&t);
    assert_null(t.s);
    assert_int_equal(t.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attr_label_name),
        cmocka_unit_test(test_label_name_valid),
        cmocka_unit_test(test_unit_word),
        cmocka_unit_test(test_is_delta),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
