/* SPDX-License-Identifier: MIT */
/* The quarch plugin: the averaging table and its command text, the power of
 * an answer, and the options. The protocol against a fake module and the
 * start of QIS are tested by test_quarch.py. */
#include "alumet-test-plugin.h"

#include <errno.h>

#include "plugins/quarch/quarch.h"

extern const struct alumet_plugin alumet_plugin_quarch;

static void test_averaging(void **state)
{
    (void)state;
    char text[16];
    assert_int_equal(quarch_averaging(100000), 32);
    assert_int_equal(quarch_averaging(130000), 32);
    assert_int_equal(quarch_averaging(130001), 64);
    assert_int_equal(quarch_averaging(ALUMET_NSEC_PER_MSEC), 256);
    assert_int_equal(quarch_averaging(4 * ALUMET_NSEC_PER_MSEC), 1024);
    assert_int_equal(quarch_averaging(100 * ALUMET_NSEC_PER_MSEC), 32768);
    assert_int_equal(quarch_averaging(150 * ALUMET_NSEC_PER_MSEC), 32768);
    quarch_averaging_text(32768, text);
    assert_string_equal(text, "32K");
    quarch_averaging_text(1024, text);
    assert_string_equal(text, "1K");
    quarch_averaging_text(256, text);
    assert_string_equal(text, "256");
}

static void test_power(void **state)
{
    (void)state;
    struct alumet_error err = {0};
    double w = 0;
    assert_int_equal(
        quarch_parse_power("12V Voltage = 12000mV\r\n12V Current = 800000uA", &w, &err), 0);
    assert_true(w == 12.0 * 0.8);
    /* two rails: each voltage with its current, not the product of the sums */
    assert_int_equal(quarch_parse_power("12V Voltage = 12000mV\n12V Current = 800000uA\n"
                                        "5V Voltage = 5000mV\n5V Current = 100000uA\n",
                                        &w, &err),
                     0);
    assert_true(w == 12.0 * 0.8 + 5.0 * 0.1);
    assert_int_equal(quarch_parse_power("OK", &w, &err), -EINVAL);
    assert_string_equal(err.msg, "unexpected answer to Measure:OUTputs? (0 voltages in mV, 0 "
                                 "currents in uA): 'OK'");
    assert_int_equal(quarch_parse_power("V = 1mV\nV = 2mV\nI = 3uA", &w, &err), -EINVAL);
}

static void test_options(void **state)
{
    (void)state;
    void *st = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_quarch,
                                             alumet_plugin_quarch.default_config, NULL, &st, &err),
                     0);
    alumet_plugin_quarch.free(st);
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_quarch,
                                             "[plugins.quarch]\nquarch_ip = \"1.2.3.4\"\n"
                                             "java_bin = \"j\"\nqis_jar_path = \"q\"\n"
                                             "quarch_port = 0\n",
                                             NULL, &st, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.quarch.quarch_port: expected a TCP port (1 to "
                                    "65535), got 0"));
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_quarch,
                                             "[plugins.quarch]\nquarch_ip = \"1.2.3.4\"\n"
                                             "java_bin = \"j\"\n",
                                             NULL, &st, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "plugins.quarch.qis_jar_path: missing"));
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_averaging),
        cmocka_unit_test(test_power),
        cmocka_unit_test(test_options),
    };
    return alumet_run_tests(group);
}
