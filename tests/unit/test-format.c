/* SPDX-License-Identifier: MIT */
/* src/util/format.c: Rust Display of f64, its JSON (ryu) and dtoa layouts,
 * decimal u64, RFC 3339 timestamps. */
#include "alumet-test.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <time.h>

#include "util/format.h"

struct f64_case {
    double v;
    const char *text;
};

static void check_f64(double v, const char *expected)
{
    char buf[FORMAT_F64_MAX];
    memset(buf, 'x', sizeof(buf));
    size_t n = format_f64(v, buf, sizeof(buf));
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_f64_examples(void **state)
{
    (void)state;
    static const struct f64_case cases[] = {
        {1.0, "1"},
        {0.5, "0.5"},
        {0.75, "0.75"},
        {1e21, "1000000000000000000000"},
        {1e22, "10000000000000000000000"},
        {1e23, "100000000000000000000000"},
        {1e16, "10000000000000000"},
        {1e-7, "0.0000001"},
        {1e-5, "0.00001"},
        {1.5e-5, "0.000015"},
        {0.001, "0.001"},
        {0.1, "0.1"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {2.0 / 3.0, "0.6666666666666666"},
        {123456.789, "123456.789"},
        {12345678.9, "12345678.9"},
        {-1234.5678, "-1234.5678"},
        {100.0, "100"},
        {123.0, "123"},
        {-7.0, "-7"},
        {3.141592653589793, "3.141592653589793"},
        {-2.718281828459045, "-2.718281828459045"},
        {4950.0, "4950"},
        {0x1p-20, "0.00000095367431640625"},
        {1e15 + 0.3, "1000000000000000.2"},
        {4503599627370495.5, "4503599627370495.5"},
        {0x1p52 + 0.5, "4503599627370496"},       /* rounds to even on input */
        {9007199254740993.0, "9007199254740992"}, /* 2^53 + 1 is not a double */
        {0x1p60, "1152921504606847000"},          /* shortest digits, then zeros */
        {18446744073709551615.0, "18446744073709552000"},
        /* powers of two whose shortest text lies above the nearest 16 digits */
        {0x1p-24, "0.00000005960464477539063"},
        {0x1p-44, "0.00000000000005684341886080802"},
        {0x1p89, "618970019642690200000000000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_f64(cases[i].v, cases[i].text);
}

static void test_f64_special(void **state)
{
    (void)state;
    check_f64(0.0, "0");
    check_f64(-0.0, "-0");
    check_f64(NAN, "NaN");
    check_f64(-NAN, "NaN");
    check_f64(INFINITY, "inf");
    check_f64(-INFINITY, "-inf");
}

/* "0." followed by zeros zeros and digits: the subnormal cases are too long
 * to write out literally. */
static char *small_text(const char *sign, size_t zeros, const char *digits)
{
    size_t len = strlen(sign) + 2 + zeros + strlen(digits);
    char *s = malloc(len + 1);
    assert_non_null(s);
    size_t n = strlen(sign);
    memcpy(s, sign, n);
    memcpy(s + n, "0.", 2);
    memset(s + n + 2, '0', zeros);
    memcpy(s + n + 2 + zeros, digits, strlen(digits) + 1);
    return s;
}

static void test_f64_extremes(void **state)
{
    (void)state;
    char *s = small_text("", 323, "5");
    check_f64(5e-324, s);
    assert_int_equal(strlen(s), 326);
    free(s);

    s = small_text("-", 322, "15");
    check_f64(-0x1p-1074 * 3, s);
    free(s);

    s = small_text("", 307, "22250738585072014");
    check_f64(2.2250738585072014e-308, s); /* DBL_MIN */
    free(s);

    s = small_text("", 309, "5");
    check_f64(5e-310, s);
    free(s);

    /* DBL_MAX: 17 digits then 292 zeros */
    char max[400];
    memcpy(max, "17976931348623157", 17);
    memset(max + 17, '0', 292);
    max[309] = '\0';
    check_f64(1.7976931348623157e308, max);
    memcpy(max, "-1", 2);
    memset(max + 2, '0', 308);
    max[310] = '\0';
    check_f64(-1e308, max);
}

static void test_f64_truncation(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(format_f64(123456.789, buf, 5), 10);
    assert_string_equal(buf, "1234");
    assert_int_equal(buf[5], 'x');
    assert_int_equal(format_f64(-INFINITY, buf, 3), 4);
    assert_string_equal(buf, "-i");
    assert_int_equal(format_f64(0.5, buf, 1), 3);
    assert_string_equal(buf, "");
    buf[0] = 'x';
    assert_int_equal(format_f64(0.5, buf, 0), 3);
    assert_int_equal(buf[0], 'x');
    assert_int_equal(format_f64(5e-324, NULL, 0), 326);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Property: every finite double reads back exactly, never uses an exponent,
 * and no shorter rounding of it reads back. */
static void test_f64_round_trip(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char buf[FORMAT_F64_MAX];

    for (int i = 0; i < 200000; i++) {
        uint64_t bits = xorshift(&seed);
        double v;
        if (i % 2) {
            /* the common range: 1e-6 to 1e16 */
            v = ldexp((double)(bits >> 11) / 0x1p53, (int)(bits % 74) - 20);
        } else {
            memcpy(&v, &bits, sizeof(v));
        }
        if (!isfinite(v))
            continue;
        size_t n = format_f64(v, buf, sizeof(buf));
        assert_int_equal(n, strlen(buf));
        assert_null(strchr(buf, 'e'));
        assert_true(strtod(buf, NULL) == v);
        if (v != 0 && i % 16 == 0) {
            /* significant digits of the text */
            int sig = 0;
            bool leading = true;
            int trailing_zeros = 0;
            for (const char *p = buf; *p; p++) {
                if (*p < '0' || *p > '9')
                    continue;
                if (leading && *p == '0')
                    continue;
                leading = false;
                sig++;
                trailing_zeros = *p == '0' ? trailing_zeros + 1 : 0;
            }
            if (!strchr(buf, '.'))
                sig -= trailing_zeros;
            if (sig > 1) {
                char shorter[64];
                snprintf(shorter, sizeof(shorter), "%.*e", sig - 2, v);
                assert_true(strtod(shorter, NULL) != v);
            }
        }
    }
}

/* The significant digits of a number's text (before any exponent), without
 * leading or trailing zeros, into sig. */
static void significant_digits(const char *text, char *sig)
{
    size_t n = 0;
    for (const char *p = text; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9' && (n > 0 || *p != '0'))
            sig[n++] = *p;
    }
    while (n > 0 && sig[n - 1] == '0')
        n--;
    sig[n] = '\0';
}

/* Decimals of at most 15 significant digits (what most measurements print:
 * "12345.5", "0.001"), read by strtod: the text has exactly their digits and
 * reads back, in the Display and JSON layouts; near powers of ten too. */
static void check_short_decimal(uint64_t m, int k)
{
    char dec[48], want[24], got[FORMAT_F64_MAX], sig[FORMAT_F64_MAX];
    snprintf(dec, sizeof(dec), "%" PRIu64 "e-%d", m, k);
    double v = strtod(dec, NULL);
    snprintf(want, sizeof(want), "%" PRIu64, m);
    significant_digits(want, want);
    for (int json = 0; json < 2; json++) {
        if (json)
            format_f64_json(v, got, sizeof(got));
        else
            format_f64(v, got, sizeof(got));
        significant_digits(got, sig);
        if (strcmp(sig, want) != 0 || strtod(got, NULL) != v)
            print_error("%s: got %s\n", dec, got);
        assert_string_equal(sig, want);
        assert_true(strtod(got, NULL) == v);
    }
}

static void test_f64_short_decimals(void **state)
{
    (void)state;
    uint64_t seed = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 200000; i++) {
        int digits = 1 + (int)(xorshift(&seed) % 15);
        uint64_t lo = 1, m;
        for (int d = 1; d < digits; d++)
            lo *= 10;
        m = lo + xorshift(&seed) % (9 * lo);
        check_short_decimal(m, (int)(xorshift(&seed) % 24));
    }
    /* 9...9, 10...0 and 10...01 at every scale */
    for (int digits = 1; digits <= 15; digits++) {
        uint64_t p = 1;
        for (int d = 1; d < digits; d++)
            p *= 10;
        for (int k = 0; k < 24; k++) {
            check_short_decimal(p, k);
            check_short_decimal(p * 10 - 1, k);
            if (digits > 1)
                check_short_decimal(p + 1, k);
        }
    }
    /* exact examples in the fast range */
    check_f64(12345.5, "12345.5");
    check_f64(0.00001, "0.00001");
    check_f64(0.1, "0.1");
    check_f64(999999999999999.9, "999999999999999.9");
    check_f64(99999999999999.98, "99999999999999.98");
    check_f64(123456789012345.6, "123456789012345.6");
    check_f64(0.000123456789012345, "0.000123456789012345");
}

static void test_u64(void **state)
{
    (void)state;
    char buf[FORMAT_U64_MAX];
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {101, "101"},
        {999, "999"},
        {1000, "1000"},
        {1234567890, "1234567890"},
        {4294967296ull, "4294967296"},
        {10000000000000000000ull, "10000000000000000000"},
        {UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(format_u64(cases[i].v, buf), strlen(cases[i].text));
        assert_string_equal(buf, cases[i].text);
    }
    /* every value of a sweep, and at every power of ten, agrees with printf */
    char ref[32];
    uint64_t p10 = 1;
    for (int j = 0; j < 20; j++, p10 *= 10) {
        for (int d = -1; d <= 1; d++) {
            uint64_t v = p10 + (uint64_t)d;
            snprintf(ref, sizeof(ref), "%" PRIu64, v);
            assert_int_equal(format_u64(v, buf), strlen(ref));
            assert_string_equal(buf, ref);
        }
    }
    uint64_t seed = 12345;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = xorshift(&seed) >> (i % 64);
        snprintf(ref, sizeof(ref), "%" PRIu64, v);
        assert_int_equal(format_u64(v, buf), strlen(ref));
        assert_string_equal(buf, ref);
    }
}

static void check_ts(int64_t ns, const char *expected)
{
    char buf[FORMAT_RFC3339_MAX];
    memset(buf, 'x', sizeof(buf));
    size_t n = format_rfc3339(ns, buf, sizeof(buf));
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_rfc3339_examples(void **state)
{
    (void)state;
    check_ts(0, "1970-01-01T00:00:00Z");
    check_ts(1745593733996365220, "2025-04-25T15:08:53.99636522Z");
    check_ts(1745593733500000000, "2025-04-25T15:08:53.5Z");
    check_ts(1745593733000000000, "2025-04-25T15:08:53Z");
    check_ts(1749211398000000000, "2025-06-06T12:03:18Z");
    check_ts(1, "1970-01-01T00:00:00.000000001Z");
    check_ts(10, "1970-01-01T00:00:00.00000001Z");
    check_ts(1000000, "1970-01-01T00:00:00.001Z");
    check_ts(123456789, "1970-01-01T00:00:00.123456789Z");
    check_ts(1709251199000000001, "2024-02-29T23:59:59.000000001Z");
    check_ts(1709251200000000000, "2024-03-01T00:00:00Z");
    check_ts(951825600000000000, "2000-02-29T12:00:00Z");
    check_ts(4107542400000000010, "2100-03-01T00:00:00.00000001Z");
    check_ts(946684799999999999, "1999-12-31T23:59:59.999999999Z");
    check_ts(946684800000000000, "2000-01-01T00:00:00Z");
}

static void test_rfc3339_negative(void **state)
{
    (void)state;
    check_ts(-1, "1969-12-31T23:59:59.999999999Z");
    check_ts(-1000000000, "1969-12-31T23:59:59Z");
    check_ts(-999999999, "1969-12-31T23:59:59.000000001Z");
    check_ts(-500000000, "1969-12-31T23:59:59.5Z");
    check_ts(-86400000000000, "1969-12-31T00:00:00Z");
    check_ts(-86400000000001, "1969-12-30T23:59:59.999999999Z");
    check_ts(-14182940000000000, "1969-07-20T20:17:40Z");
    check_ts(-2203891200000000000, "1900-03-01T00:00:00Z");
    check_ts(-2203891201000000000, "1900-02-28T23:59:59Z"); /* 1900 is not leap */
    check_ts(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
    check_ts(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
}

static void test_rfc3339_truncation(void **state)
{
    (void)state;
    char buf[12];
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(format_rfc3339(1745593733500000000, buf, 11), 22);
    assert_string_equal(buf, "2025-04-25");
    assert_int_equal(buf[11], 'x');
    assert_int_equal(format_rfc3339(0, NULL, 0), 20);
}

/* Every day from 1678 to 2261 (at a varying time of day) agrees with gmtime_r. */
static void test_rfc3339_against_gmtime(void **state)
{
    (void)state;
    char buf[FORMAT_RFC3339_MAX];
    char ref[64];
    uint64_t seed = 42;

    for (int64_t day = -106000; day <= 106700; day++) {
        int64_t sod = (int64_t)(xorshift(&seed) % 86400);
        time_t t = (time_t)(day * 86400 + sod);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        size_t rn = strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%SZ", &tm);
        assert_true(rn > 0);
        format_rfc3339((int64_t)t * 1000000000, buf, sizeof(buf));
        assert_string_equal(buf, ref);
    }
}

static void check_f64_json(double v, const char *expected)
{
    char buf[FORMAT_F64_POINT_MAX];
    assert_int_equal(format_f64_json(v, buf, sizeof(buf)), strlen(expected));
    assert_string_equal(buf, expected);
}

/* serde_json's (ryu's) layout (the jsonl plugin) */
static void test_f64_json(void **state)
{
    (void)state;
    check_f64_json(1.0, "1.0");
    check_f64_json(0.5, "0.5");
    check_f64_json(0.0, "0.0");
    check_f64_json(-0.0, "-0.0");
    check_f64_json(-2.5, "-2.5");
    check_f64_json(100.0, "100.0");
    check_f64_json(1e15, "1000000000000000.0");
    check_f64_json(1e16, "1e16");
    check_f64_json(1.5e16, "1.5e16");
    check_f64_json(1e21, "1e21");
    check_f64_json(1e-5, "0.00001");
    check_f64_json(1.25e-5, "0.0000125");
    check_f64_json(1e-6, "1e-6");
    check_f64_json(1e-7, "1e-7");
    check_f64_json(1.5e-7, "1.5e-7");
    check_f64_json(0.1 + 0.2, "0.30000000000000004");
    check_f64_json(123456.789, "123456.789");
    check_f64_json(1.5e300, "1.5e300");
    check_f64_json(5e-324, "5e-324");
    check_f64_json(DBL_MAX, "1.7976931348623157e308");
    check_f64_json(NAN, "null");
    check_f64_json(INFINITY, "null");
    check_f64_json(-INFINITY, "null");
}

static void check_f64_dtoa(double v, const char *expected)
{
    char buf[FORMAT_F64_POINT_MAX];
    size_t n = format_f64_dtoa(v, buf, sizeof(buf));
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

/* upstream's dtoa (RapidJSON layout, the prometheus-exporter plugin) and its test
 * cases */
static void test_f64_dtoa(void **state)
{
    (void)state;
    check_f64_dtoa(4950.0, "4950.0");
    check_f64_dtoa(0.5, "0.5");
    check_f64_dtoa(0.0, "0.0");
    check_f64_dtoa(-0.0, "-0.0");
    check_f64_dtoa(-2.5, "-2.5");
    check_f64_dtoa(1e21, "1e21");
    check_f64_dtoa(1e20, "100000000000000000000.0");
    check_f64_dtoa(1.234e20, "123400000000000000000.0");
    check_f64_dtoa(1.234e21, "1.234e21");
    check_f64_dtoa(2.71828, "2.71828");
    check_f64_dtoa(1.1e128, "1.1e128");
    check_f64_dtoa(1.1e-64, "1.1e-64");
    check_f64_dtoa(2.718281828459045, "2.718281828459045");
    check_f64_dtoa(5e-324, "5e-324");
    check_f64_dtoa(DBL_MAX, "1.7976931348623157e308");
    check_f64_dtoa(1e-7, "1e-7");
    check_f64_dtoa(1.5e-7, "1.5e-7");
    check_f64_dtoa(1e-6, "0.000001");
    check_f64_dtoa(0.000123, "0.000123");
    check_f64_dtoa(123456.789, "123456.789");
    check_f64_dtoa(0.1 + 0.2, "0.30000000000000004");
    check_f64_dtoa((double)UINT64_MAX, "18446744073709552000.0");
    check_f64_dtoa(NAN, "NaN");
    check_f64_dtoa(INFINITY, "+Inf");
    check_f64_dtoa(-INFINITY, "-Inf");
    char small[4];
    assert_int_equal(format_f64_dtoa(123456.5, small, sizeof(small)), 8);
    assert_string_equal(small, "123");
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_f64_examples),
        cmocka_unit_test(test_f64_special),
        cmocka_unit_test(test_f64_extremes),
        cmocka_unit_test(test_f64_truncation),
        cmocka_unit_test(test_f64_round_trip),
        cmocka_unit_test(test_f64_short_decimals),
        cmocka_unit_test(test_f64_json),
        cmocka_unit_test(test_f64_dtoa),
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_rfc3339_examples),
        cmocka_unit_test(test_rfc3339_negative),
        cmocka_unit_test(test_rfc3339_truncation),
        cmocka_unit_test(test_rfc3339_against_gmtime),
    };
    return alumet_run_tests(group);
}
