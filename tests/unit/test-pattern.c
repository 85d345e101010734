/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "alumet-test.h"
#include "core/pipeline.h"

static void test_match_str(void **state)
{
    (void)state;
    assert_true(alumet__pattern_match_str("*", "anything"));
    assert_true(alumet__pattern_match_str("rapl", "rapl"));
    assert_false(alumet__pattern_match_str("rapl", "rapl2"));
    assert_true(alumet__pattern_match_str("ra*", "rapl"));
    assert_false(alumet__pattern_match_str("ra*", "procfs"));
    assert_true(alumet__pattern_match_str("*pl", "rapl"));
    assert_false(alumet__pattern_match_str("*pl", "pl2"));
    assert_true(alumet__pattern_match_str("*pl", "pl"));
}

static void test_parse(void **state)
{
    (void)state;
    struct element_pattern p;
    struct alumet_error err = {0};
    assert_int_equal(alumet__pattern_parse("sources/rapl/in", &p, &err), 0);
    assert_int_equal(p.kind, 0);
    assert_string_equal(p.plugin, "rapl");
    assert_string_equal(p.name, "in");
    assert_int_equal(alumet__pattern_parse("tra/*/x*", &p, &err), 0);
    assert_int_equal(p.kind, 1);
    assert_int_equal(alumet__pattern_parse("out/csv/*", &p, &err), 0);
    assert_int_equal(p.kind, 2);
    assert_int_equal(alumet__pattern_parse("*/csv/out", &p, &err), 0);
    assert_int_equal(p.kind, -1);
    assert_int_equal(alumet__pattern_parse("csv", &p, &err), 0);
    assert_int_equal(p.kind, -1);
    assert_string_equal(p.plugin, "csv");
    assert_string_equal(p.name, "*");
    assert_int_equal(alumet__pattern_parse("widgets/csv/out", &p, &err), -EINVAL);
    assert_string_equal(err.msg, "invalid element kind 'widgets' in pattern 'widgets/csv/out'");
    assert_int_equal(alumet__pattern_parse("src/a*b/out", &p, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "invalid plugin pattern 'a*b': asterisk '*' in the middle of the string");
    assert_int_equal(alumet__pattern_parse("", &p, &err), -EINVAL);
    assert_string_equal(err.msg, "invalid element pattern: the string is empty");
    assert_int_equal(alumet__pattern_parse("a/b/c/d", &p, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_str),
        cmocka_unit_test(test_parse),
    };
    return alumet_run_tests(tests);
}
