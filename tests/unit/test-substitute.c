/* SPDX-License-Identifier: MIT */
/* ${NAME} substitution in config text (spec 2.4.3, minus the comment quirk). */
#include "alumet-test.h"

#include <errno.h>

#include "core/config/config-tree.h"

static int setup_env(void **state)
{
    (void)state;
    setenv("ALUMET_TEST_A", "alpha", 1);
    setenv("ALUMET_TEST_PATH", "/var/lib/alumet", 1);
    setenv("ALUMET_TEST_NUM", "42", 1);
    setenv("ALUMET_TEST_EMPTY", "", 1);
    setenv("ALUMET_TEST_BAD_UTF8", "caf\xe9", 1);
    unsetenv("ALUMET_TEST_MISSING");
    return 0;
}

/* Substitute text, expecting success and exactly `expected`. */
static void assert_subst(const char *text, const char *expected)
{
    struct alumet_error err = {0};
    char *out = NULL;
    size_t len = 0;
    int r = alumet__config_substitute(text, strlen(text), "alumet-config.toml", &out, &len, &err);
    if (r != 0)
        fail_msg("substitute '%s': expected 0, got %d (%s)", text, r, err.msg);
    assert_string_equal(out, expected);
    assert_int_equal(len, strlen(expected));
    free(out);
}

/* Substitute text, expecting -EINVAL with exactly `msg`. */
static void assert_subst_fails(const char *text, const char *msg)
{
    struct alumet_error err = {0};
    char *out = (char *)"untouched";
    int r = alumet__config_substitute(text, strlen(text), "alumet-config.toml", &out, NULL, &err);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.msg, msg);
    assert_string_equal(out, "untouched");
}

static void test_no_substitution(void **state)
{
    (void)state;
    assert_subst("", "");
    assert_subst("a = 1\n[plugins.csv]\nx = \"$HOME {}\"\n",
                 "a = 1\n[plugins.csv]\nx = \"$HOME {}\"\n");
    assert_subst("x = \"$\"\ny = '{'", "x = \"$\"\ny = '{'");
}

static void test_variable(void **state)
{
    (void)state;
    assert_subst("a = ${ALUMET_TEST_NUM}\n", "a = 42\n");
    assert_subst("${ALUMET_TEST_NUM}${ALUMET_TEST_NUM}", "4242");
    assert_subst("e = \"${ALUMET_TEST_EMPTY}\"", "e = \"\"");
    /* the value is inserted raw and not substituted again */
    setenv("ALUMET_TEST_NESTED", "${ALUMET_TEST_A}", 1);
    assert_subst("n = '${ALUMET_TEST_NESTED}'", "n = '${ALUMET_TEST_A}'");
}

static void test_inside_strings(void **state)
{
    (void)state;
    assert_subst("path = \"${ALUMET_TEST_PATH}/out.csv\"", "path = \"/var/lib/alumet/out.csv\"");
    assert_subst("path = '${ALUMET_TEST_PATH}/out.csv'", "path = '/var/lib/alumet/out.csv'");
    assert_subst("s = \"\"\"\n${ALUMET_TEST_A}\n\"\"\"", "s = \"\"\"\nalpha\n\"\"\"");
    assert_subst("s = '''\n${ALUMET_TEST_A}'''", "s = '''\nalpha'''");
}

static void test_comments_left_alone(void **state)
{
    (void)state;
    /* a missing variable in a comment is not an error */
    assert_subst("# set ${ALUMET_TEST_MISSING} first\na = 1\n",
                 "# set ${ALUMET_TEST_MISSING} first\na = 1\n");
    assert_subst("a = \"${ALUMET_TEST_A}\" # was ${ALUMET_TEST_A}\nb = ${ALUMET_TEST_NUM}",
                 "a = \"alpha\" # was ${ALUMET_TEST_A}\nb = 42");
    /* an unterminated ${ in a comment is not an error either */
    assert_subst("a = 1 # ${oops\n", "a = 1 # ${oops\n");
    /* the escape is not applied in comments */
    assert_subst("# \\${X}\n", "# \\${X}\n");
}

static void test_hash_in_strings(void **state)
{
    (void)state;
    /* a '#' in any kind of string does not start a comment */
    assert_subst("a = \"#${ALUMET_TEST_A}\"", "a = \"#alpha\"");
    assert_subst("a = '#${ALUMET_TEST_A}'", "a = '#alpha'");
    assert_subst("a = \"\"\"x\n# ${ALUMET_TEST_A}\"\"\"", "a = \"\"\"x\n# alpha\"\"\"");
    assert_subst("a = '''x\n# ${ALUMET_TEST_A}'''", "a = '''x\n# alpha'''");
    /* escaped quotes do not end a basic string */
    assert_subst("a = \"\\\"#${ALUMET_TEST_A}\"", "a = \"\\\"#alpha\"");
    assert_subst("a = \"\"\"\\\"\"\"#${ALUMET_TEST_A}\"\"\"", "a = \"\"\"\\\"\"\"#alpha\"\"\"");
    /* up to two quotes before the closing delimiter are content */
    assert_subst("a = \"\"\"x\"\"\"\"\" # ${ALUMET_TEST_MISSING}",
                 "a = \"\"\"x\"\"\"\"\" # ${ALUMET_TEST_MISSING}");
    assert_subst("a = '''x''''' # ${ALUMET_TEST_MISSING}",
                 "a = '''x''''' # ${ALUMET_TEST_MISSING}");
    /* a literal string has no escapes: the backslash does not hide the quote */
    assert_subst("a = 'C:\\' # ${ALUMET_TEST_MISSING}", "a = 'C:\\' # ${ALUMET_TEST_MISSING}");
    /* the empty string and the quotes of keys */
    assert_subst("a = \"\" # ${ALUMET_TEST_MISSING}", "a = \"\" # ${ALUMET_TEST_MISSING}");
    assert_subst("\"k#\" = '' # ${ALUMET_TEST_MISSING}\nb = ${ALUMET_TEST_NUM}",
                 "\"k#\" = '' # ${ALUMET_TEST_MISSING}\nb = 42");
    /* a comment ends with its line */
    assert_subst("# c\nb = \"${ALUMET_TEST_A}\"", "# c\nb = \"alpha\"");
}

static void test_escape(void **state)
{
    (void)state;
    assert_subst("a = \"\\${ALUMET_TEST_A}\"", "a = \"${ALUMET_TEST_A}\"");
    assert_subst("a = '\\${ALUMET_TEST_MISSING}'", "a = '${ALUMET_TEST_MISSING}'");
    /* an escaped ${ needs no closing brace */
    assert_subst("a = \"\\${\"", "a = \"${\"");
    /* only the backslash right before ${ is removed */
    assert_subst("a = \"\\\\${ALUMET_TEST_A}\"", "a = \"\\\\alpha\"");
    assert_subst("a = \"\\$\"", "a = \"\\$\"");
}

static void test_missing_variable(void **state)
{
    (void)state;
    assert_subst_fails("a = 1\nb = \"${ALUMET_TEST_MISSING}\"\n",
                       "alumet-config.toml:2:6: the environment variable ALUMET_TEST_MISSING "
                       "does not exist");
    assert_subst_fails("${}", "alumet-config.toml:1:1: the environment variable  does not exist");
    /* columns count characters, not bytes */
    assert_subst_fails("\"\xc3\xa9t\xc3\xa9\" = ${ALUMET_TEST_MISSING}",
                       "alumet-config.toml:1:9: the environment variable ALUMET_TEST_MISSING "
                       "does not exist");
    assert_subst_fails("a = \"${ALUMET_TEST_BAD_UTF8}\"",
                       "alumet-config.toml:1:6: the environment variable ALUMET_TEST_BAD_UTF8 "
                       "is not valid UTF-8");
}

static void test_unterminated(void **state)
{
    (void)state;
    assert_subst_fails("a = 1\n\n  b = \"${ALUMET_TEST_A\"\n",
                       "alumet-config.toml:3:8: wrong use of the substitution syntax, it should "
                       "be ${ENV_VAR}");
    assert_subst_fails("${", "alumet-config.toml:1:1: wrong use of the substitution syntax, it "
                             "should be ${ENV_VAR}");
    /* as upstream, the closing brace may be on a later line */
    assert_subst_fails("a = \"${ALUMET_TEST_A\"\nb = {}\n",
                       "alumet-config.toml:1:6: the environment variable ALUMET_TEST_A\"\nb = { "
                       "does not exist");
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* only len bytes are read */
    const char text[] = "a = ${ALUMET_TEST_NUM}xyz";
    char *out = NULL;
    size_t len = 0;
    int r = alumet__config_substitute(text, strlen(text) - 3, "f", &out, &len, NULL);
    assert_int_equal(r, 0);
    assert_string_equal(out, "a = 42");
    assert_int_equal(len, 6);
    free(out);

    struct alumet_error err = {0};
    r = alumet__config_substitute(text, 8, NULL, &out, &len, &err);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg,
                        "1:5: wrong use of the substitution syntax, it should be ${ENV_VAR}");
}

static void test_long_value(void **state)
{
    (void)state;
    /* the output grows past its first guess */
    char *big = malloc(10001);
    assert_non_null(big);
    memset(big, 'v', 10000);
    big[10000] = '\0';
    setenv("ALUMET_TEST_BIG", big, 1);
    char *out = NULL;
    size_t len = 0;
    int r = alumet__config_substitute("x${ALUMET_TEST_BIG}y", strlen("x${ALUMET_TEST_BIG}y"), "f",
                                      &out, &len, NULL);
    assert_int_equal(r, 0);
    assert_int_equal(len, 10002);
    assert_int_equal(out[0], 'x');
    assert_memory_equal(out + 1, big, 10000);
    assert_string_equal(out + 10001, "y");
    free(out);
    free(big);
    unsetenv("ALUMET_TEST_BIG");
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test_setup(test_no_substitution, setup_env),
        cmocka_unit_test_setup(test_variable, setup_env),
        cmocka_unit_test_setup(test_inside_strings, setup_env),
        cmocka_unit_test_setup(test_comments_left_alone, setup_env),
        cmocka_unit_test_setup(test_hash_in_strings, setup_env),
        cmocka_unit_test_setup(test_escape, setup_env),
        cmocka_unit_test_setup(test_missing_variable, setup_env),
        cmocka_unit_test_setup(test_unterminated, setup_env),
        cmocka_unit_test_setup(test_not_nul_terminated, setup_env),
        cmocka_unit_test_setup(test_long_value, setup_env),
    };
    return alumet_run_tests(group);
}
