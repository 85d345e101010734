/* SPDX-License-Identifier: MIT */
/* Tests of src/util/named-regex: typed named groups over POSIX ERE. */
#include <errno.h>

#include "alumet-test.h"
#include "util/named-regex.h"

static void test_types_and_match(void **state)
{
    (void)state;
    struct named_regex re;
    char msg[256] = "";
    assert_int_equal(named_regex_compile(&re,
                                         "/uid_(?<user_id__u64>\\d+)/job_(?<job_id:u64>\\d+)"
                                         "(?:/(?<step__str>[a-z0-9_]+))?(?<rest>(/.*)?)$",
                                         msg, sizeof(msg)),
                     0);
    assert_int_equal(re.n_groups, 4);
    assert_string_equal(re.groups[0].name, "user_id");
    assert_int_equal(re.groups[0].type, NAMED_REGEX_U64);
    assert_string_equal(re.groups[1].name, "job_id");
    assert_int_equal(re.groups[1].type, NAMED_REGEX_U64);
    assert_string_equal(re.groups[2].name, "step");
    assert_int_equal(re.groups[2].type, NAMED_REGEX_STR);
    assert_string_equal(re.groups[3].name, "rest");
    assert_int_equal(re.groups[3].type, NAMED_REGEX_STR);

    struct named_regex_capture caps[4];
    size_t bad = 99;
    /* unanchored at the start */
    assert_int_equal(named_regex_match(&re, "/slurm/uid_1000/job_5/step_0/task_1", caps, &bad), 1);
    assert_true(caps[0].present);
    assert_int_equal(caps[0].u64, 1000);
    assert_int_equal(caps[1].u64, 5);
    assert_true(caps[2].present);
    assert_int_equal(caps[2].len, 6);
    assert_memory_equal(caps[2].start, "step_0", 6);
    assert_int_equal(caps[3].len, 7);
    assert_memory_equal(caps[3].start, "/task_1", 7);
    /* a group that takes no part */
    assert_int_equal(named_regex_match(&re, "/uid_1/job_2", caps, &bad), 1);
    assert_false(caps[2].present);
    assert_true(caps[3].present);
    assert_int_equal(caps[3].len, 0);
    /* no match */
    assert_int_equal(named_regex_match(&re, "/uid_x/job_2", caps, &bad), 0);
    /* 2^64 does not fit */
    assert_int_equal(named_regex_match(&re, "/uid_18446744073709551616/job_2", caps, &bad),
                     -ERANGE);
    assert_int_equal(bad, 0);
    assert_int_equal(named_regex_match(&re, "/uid_18446744073709551615/job_2", caps, &bad), 1);
    assert_true(caps[0].u64 == UINT64_MAX);
    named_regex_done(&re);
}

static void test_u64_non_numeric(void **state)
{
    (void)state;
    struct named_regex re;
    char msg[256] = "";
    /* a u64 group whose pattern allows letters: an error at match time */
    assert_int_equal(named_regex_compile(&re, "job_(?P<id__uint>[a-z0-9]+)", msg, sizeof(msg)), 0);
    struct named_regex_capture caps[1];
    size_t bad = 99;
    assert_int_equal(named_regex_match(&re, "job_12a", caps, &bad), -ERANGE);
    assert_int_equal(bad, 0);
    assert_int_equal(named_regex_match(&re, "job_12", caps, &bad), 1);
    assert_int_equal(caps[0].u64, 12);
    named_regex_done(&re);
}

static void test_classes(void **state)
{
    (void)state;
    struct named_regex re;
    char msg[256] = "";
    /* '(' in a bracket is no group; \d in a bracket is left to regcomp */
    assert_int_equal(named_regex_compile(&re, "[(]x(?<a>[]a-c]+)", msg, sizeof(msg)), 0);
    assert_int_equal(re.n_subexp, 1);
    struct named_regex_capture caps[1];
    assert_int_equal(named_regex_match(&re, "(x]ab", caps, NULL), 1);
    assert_int_equal(caps[0].len, 3);
    named_regex_done(&re);
}

static void test_errors(void **state)
{
    (void)state;
    struct named_regex re;
    char msg[256] = "";
    assert_int_equal(named_regex_compile(&re, "job_(?<id__float>\\d+)", msg, sizeof(msg)), -EINVAL);
    assert_string_equal(msg, "invalid group name in regex 'job_(?<id__float>\\d+)' at "
                             "'(?<id__float>\\d+)': expected (?<name>...), (?<name__u64>...) or "
                             "(?<name__str>...)");
    assert_int_equal(named_regex_compile(&re, "job_(?<id:f64>x)", msg, sizeof(msg)), -EINVAL);
    assert_int_equal(named_regex_compile(&re, "job_(?<id", msg, sizeof(msg)), -EINVAL);
    assert_int_equal(named_regex_compile(&re, "job_(?=x)", msg, sizeof(msg)), -EINVAL);
    assert_string_equal(msg, "unsupported group '(?=x' in regex 'job_(?=x)'");
    assert_int_equal(named_regex_compile(&re, "job_(", msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "invalid regex 'job_(': "));
    assert_int_equal(re.n_groups, 0);
    named_regex_done(&re); /* zeroed: fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_match),
        cmocka_unit_test(test_u64_non_numeric),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
