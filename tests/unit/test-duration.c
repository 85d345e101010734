/* SPDX-License-Identifier: MIT */
/* Humantime duration parsing and formatting (spec 2.4.8). */
#include "alumet-test.h"

#include <errno.h>
#include <inttypes.h>

#include "alumet/config.h"

#define SEC ((alumet_time_ns)1000000000)

static void assert_parse(const char *s, alumet_time_ns expected)
{
    alumet_time_ns d = -1;
    int r = alumet_duration_parse(s, &d);
    if (r != 0)
        fail_msg("parse \"%s\": expected 0, got %d", s, r);
    if (d != expected)
        fail_msg("parse \"%s\": expected %" PRId64 " ns, got %" PRId64 " ns", s, expected, d);
}

static void assert_parse_fails(const char *s, int code)
{
    alumet_time_ns d = 12345;
    int r = alumet_duration_parse(s, &d);
    if (r != code)
        fail_msg("parse \"%s\": expected %d, got %d", s ? s : "(null)", code, r);
    assert_int_equal(d, 12345); /* not written on failure */
}

static void assert_format(alumet_time_ns d, const char *expected)
{
    char buf[128];
    size_t n = alumet_duration_format(d, buf, sizeof(buf));
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_parse_units(void **state)
{
    (void)state;
    assert_parse("17nsec", 17);
    assert_parse("17nanos", 17);
    assert_parse("33ns", 33);
    assert_parse("3usec", 3000);
    assert_parse("78us", 78000);
    assert_parse("163\xc2\xb5s", 163000);
    assert_parse("31msec", 31000000);
    assert_parse("31millis", 31000000);
    assert_parse("6ms", 6000000);
    assert_parse("3000s", 3000 * SEC);
    assert_parse("300sec", 300 * SEC);
    assert_parse("300secs", 300 * SEC);
    assert_parse("50seconds", 50 * SEC);
    assert_parse("1second", 1 * SEC);
    assert_parse("100m", 6000 * SEC);
    assert_parse("12min", 720 * SEC);
    assert_parse("12mins", 720 * SEC);
    assert_parse("1minute", 60 * SEC);
    assert_parse("7minutes", 420 * SEC);
    assert_parse("2h", 7200 * SEC);
    assert_parse("7hr", 25200 * SEC);
    assert_parse("7hrs", 25200 * SEC);
    assert_parse("1hour", 3600 * SEC);
    assert_parse("24hours", 86400 * SEC);
    assert_parse("1day", 86400 * SEC);
    assert_parse("2days", 172800 * SEC);
    assert_parse("365d", 31536000 * SEC);
    assert_parse("1week", 604800 * SEC);
    assert_parse("7weeks", 4233600 * SEC);
    assert_parse("52w", 31449600 * SEC);
    assert_parse("1month", 2630016 * SEC);
    assert_parse("3months", 3 * 2630016 * SEC);
    assert_parse("12M", 31560192 * SEC);
    assert_parse("1year", 31557600 * SEC);
    assert_parse("7years", 7 * 31557600 * SEC);
    assert_parse("17y", 536479200 * SEC);
    assert_parse("0s", 0);
}

static void test_parse_combos(void **state)
{
    (void)state;
    assert_parse("1h30m", 5400 * SEC);
    assert_parse("1h 30m", 5400 * SEC);
    assert_parse("2h 37min", 9420 * SEC);
    assert_parse("20 min 17 nsec ", 1200 * SEC + 17);
    assert_parse("  1s500ms", SEC + 500000000);
    assert_parse("1 s", SEC);
    assert_parse("1s 1s", 2 * SEC);
    assert_parse("1s\t2ms\n", SEC + 2000000);
    /* the biggest value: INT64_MAX ns */
    assert_parse("9223372036854775807ns", INT64_MAX);
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_parse_fails("", -EINVAL);
    assert_parse_fails("   ", -EINVAL);
    assert_parse_fails("5", -EINVAL);
    assert_parse_fails("5 ", -EINVAL);
    assert_parse_fails("s", -EINVAL);
    assert_parse_fails("1x", -EINVAL);
    assert_parse_fails("1h x", -EINVAL);
    assert_parse_fails("1h 30", -EINVAL);
    assert_parse_fails("-1s", -EINVAL);
    assert_parse_fails("1.5s", -EINVAL);
    assert_parse_fails("1s,2s", -EINVAL);
    assert_parse_fails("5 parsecs", -EINVAL);
    assert_parse_fails("1S", -EINVAL);
    assert_parse_fails("1s\xc2\xb5", -EINVAL);
    assert_parse_fails("1\xc2", -EINVAL);
    assert_parse_fails(NULL, -EINVAL);
}

static void test_parse_overflow(void **state)
{
    (void)state;
    assert_parse_fails("9223372036854775808ns", -ERANGE);
    assert_parse_fails("100000000000000000000ns", -ERANGE);
    assert_parse_fails("18446744073709551616s", -ERANGE);
    assert_parse_fails("293y", -ERANGE);
    assert_parse_fails("292y 1y", -ERANGE);
    assert_parse_fails("9223372036854775807ns 1ns", -ERANGE);
    assert_parse_fails("99999999999999999999999999999h", -ERANGE);
    assert_parse("292y", (alumet_time_ns)292 * 31557600 * SEC);
}

static void test_format(void **state)
{
    (void)state;
    assert_format(0, "0s");
    assert_format(1 * SEC, "1s");
    assert_format(60 * SEC, "1m");
    assert_format(90 * SEC, "1m 30s");
    assert_format(500000000, "500ms");
    assert_format(1500000000, "1s 500ms");
    assert_format(5400 * SEC, "1h 30m");
    assert_format(9420 * SEC, "2h 37m");
    assert_format(32000000, "32ms");
    assert_format(1, "1ns");
    assert_format(1001, "1us 1ns");
    assert_format(86400 * SEC, "1day");
    assert_format(2 * 86400 * SEC, "2days");
    assert_format(2630016 * SEC, "1month");
    assert_format(31557600 * SEC, "1year");
    assert_format(2 * 31557600 * SEC, "2years");
    /* 1 year 2 months 3 days 4h 5m 6s 7ms 8us 9ns */
    assert_format((31557600 + 2 * 2630016 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6) * SEC + 7000000 +
                      8000 + 9,
                  "1year 2months 3days 4h 5m 6s 7ms 8us 9ns");
    assert_format(INT64_MAX, "292years 3months 7days 16h 6m 28s 854ms 775us 807ns");
    assert_format(-1500000000, "-1s 500ms");
    assert_format(INT64_MIN, "-292years 3months 7days 16h 6m 28s 854ms 775us 808ns");
}

static void test_format_truncation(void **state)
{
    (void)state;
    char buf[5];
    size_t n = alumet_duration_format(90 * SEC, buf, sizeof(buf));
    assert_int_equal(n, 6);
    assert_string_equal(buf, "1m 3");
    assert_int_equal(alumet_duration_format(90 * SEC, NULL, 0), 6);
    buf[0] = 'x';
    assert_int_equal(alumet_duration_format(90 * SEC, buf, 1), 6);
    assert_int_equal(buf[0], '\0');
}

static void test_roundtrip(void **state)
{
    (void)state;
    /* every format parses back to the same value */
    static const alumet_time_ns values[] = {
        1,
        999,
        1000,
        1000000,
        SEC - 1,
        SEC,
        59 * SEC,
        61 * SEC,
        3599 * SEC,
        86399 * SEC,
        86401 * SEC + 1,
        2630015 * SEC,
        2630017 * SEC,
        31557599 * SEC,
        31557601 * SEC + 7,
        123456789012345678,
        INT64_MAX,
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char buf[128];
        alumet_duration_format(values[i], buf, sizeof(buf));
        assert_parse(buf, values[i]);
    }
    for (alumet_time_ns s = 0; s < 86400; s += 7) {
        char buf[128];
        alumet_duration_format(s * SEC, buf, sizeof(buf));
        assert_parse(buf, s * SEC);
    }
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_parse_units),  cmocka_unit_test(test_parse_combos),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_parse_overflow),
        cmocka_unit_test(test_format),       cmocka_unit_test(test_format_truncation),
        cmocka_unit_test(test_roundtrip),
    };
    return alumet_run_tests(group);
}
