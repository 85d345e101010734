/* SPDX-License-Identifier: MIT */
/* The expression language of energy-attribution: values, types, precedence,
 * functions, and the errors at compile time and at evaluation time. */
#include "alumet-test.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#include "plugins/energy-attribution/energy-attribution.h"

/* Variables a (int), b (float), z (int zero), big (int), f0 (float zero). */
static const char *const names[] = {"a", "b", "z", "big", "f0"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static const struct energy_attribution_value vars[N_NAMES] = {
    {EA_VALUE_INT, {.i = 100}},       {EA_VALUE_FLOAT, {.f = 80.0}}, {EA_VALUE_INT, {.i = 0}},
    {EA_VALUE_INT, {.i = INT64_MAX}}, {EA_VALUE_FLOAT, {.f = 0.0}},
};

/* Compile and evaluate text; the compilation must succeed. */
static int eval(const char *text, struct energy_attribution_value *ret, struct alumet_error *err)
{
    struct energy_attribution_expr *e = NULL;
    struct alumet_error cerr = {0};
    int r = energy_attribution_expr_compile(text, names, N_NAMES, &e, &cerr);
    if (r < 0)
        fail_msg("'%s' does not compile: %s", text, cerr.msg);
    r = energy_attribution_expr_eval(e, vars, ret, err);
    energy_attribution_expr_free(e);
    return r;
}

static void check_int(const char *text, int64_t want)
{
    struct energy_attribution_value v;
    struct alumet_error err = {0};
    if (eval(text, &v, &err) < 0)
        fail_msg("'%s': evaluation failed: %s", text, err.msg);
    if (v.type != EA_VALUE_INT)
        fail_msg("'%s': expected the integer %" PRId64 ", got type %d", text, want, (int)v.type);
    if (v.v.i != want)
        fail_msg("'%s': expected %" PRId64 ", got %" PRId64, text, want, v.v.i);
}

static void check_float(const char *text, double want)
{
    struct energy_attribution_value v;
    struct alumet_error err = {0};
    if (eval(text, &v, &err) < 0)
        fail_msg("'%s': evaluation failed: %s", text, err.msg);
    if (v.type != EA_VALUE_FLOAT)
        fail_msg("'%s': expected the float %.17g, got type %d", text, want, (int)v.type);
    if (!(fabs(v.v.f - want) <= 1e-12 * fabs(want)))
        fail_msg("'%s': expected %.17g, got %.17g", text, want, v.v.f);
}

static void check_eval_error(const char *text, int code, const char *msg_part)
{
    struct energy_attribution_value v;
    struct alumet_error err = {0};
    int r = eval(text, &v, &err);
    if (r != code)
        fail_msg("'%s': expected error %d, got %d (%s)", text, code, r, err.msg);
    if (!strstr(err.msg, msg_part))
        fail_msg("'%s': expected '%s' in the error, got '%s'", text, msg_part, err.msg);
}

static void check_compile_error(const char *text, const char *msg_part)
{
    struct energy_attribution_expr *e = NULL;
    struct alumet_error err = {0};
    int r = energy_attribution_expr_compile(text, names, N_NAMES, &e, &err);
    if (r != -EINVAL && r != -E2BIG) {
        energy_attribution_expr_free(e);
        fail_msg("'%s': expected a compile error, got %d", text, r);
    }
    if (!strstr(err.msg, msg_part))
        fail_msg("'%s': expected '%s' in the error, got '%s'", text, msg_part, err.msg);
}

static void test_arithmetic(void **state)
{
    (void)state;
    check_int("1 + 2 * 3", 7);
    check_int("(1 + 2) * 3", 9);
    check_int("1 - 2 - 3", -4);
    check_int("2 * -3", -6);
    check_int("--4", 4);
    check_int("7 / 2", 3); /* integer division, as evalexpr */
    check_int("-7 / 2", -3);
    check_int("10 % 3", 1);
    check_int("-10 % 3", -1);
    check_int("a * 3 - z", 300);
    check_float("7 / 2.0", 3.5);
    check_float("7.0 / 2", 3.5);
    check_float("10.5 % 3", 1.5);
    check_float("2 ^ 3", 8.0);       /* ^ is always a float */
    check_float("2 ^ 3 ^ 2", 512.0); /* and binds to the right */
    check_float("-2 ^ 2", -4.0);
    check_float("2 * 3 ^ 2", 18.0);
    check_float("1e3 + .5 + 2.", 1002.5);
    check_float("1.5E-1", 0.15);
    check_float("99999999999999999999", 1e20); /* too big for an integer */
    check_int("9223372036854775807", INT64_MAX);
    check_float("a * b / 100.0", 80.0);
    check_float("a * b / 100", 80.0);
    check_float("  b\t*\n2  ", 160.0);
}

static void test_logic(void **state)
{
    (void)state;
    check_int("if(a > 50, a, 0)", 100);
    check_float("if(b == 80, 1.5, 2)", 1.5);
    check_int("if(a == 100.0, 1, 0)", 1); /* numbers compare by value */
    check_int("if(a != 100.0, 1, 0)", 0);
    check_int("if(a > 1 && b < 1 || true, 1, 0)", 1); /* && before || */
    check_int("if(true || false && false, 1, 0)", 1);
    check_int("if(!(a < b), 1, 0)", 1);
    check_int("if(a >= 100 && a <= 100, 1, 0)", 1);
    check_int("if(1 + 1 == 2 == true, 1, 0)", 1);
    check_int("if(true == 1, 1, 0)", 0);           /* a boolean is never a number */
    check_int("if(z == 0, 0, a / z)", 0);          /* only the branch taken runs */
    check_int("if(z != 0 && a / z > 1, 1, 2)", 2); /* && short-circuits */
    check_int("if(z == 0 || a / z > 1, 1, 2)", 1);
    check_float("if(b > 1, b, a)", 80.0);
}

static void test_functions(void **state)
{
    (void)state;
    check_float("min(3, 2.5, 4)", 2.5);
    check_int("min(1, 2.5)", 1); /* the winner keeps its type */
    check_int("max(1, 2, a)", 100);
    check_float("max(1, b)", 80.0);
    check_int("min(5)", 5);
    check_float("floor(2.7)", 2.0);
    check_float("floor(3)", 3.0);
    check_float("round(2.5)", 3.0); /* half away from zero */
    check_float("round(-2.5)", -3.0);
    check_float("ceil(2.1)", 3.0);
    check_int("math::abs(-3)", 3);
    check_float("math::abs(-3.5)", 3.5);
    check_float("math::sqrt(16)", 4.0);
    check_float("math::cbrt(27)", 3.0);
    check_float("math::log(8, 2)", 3.0);
    check_float("math::log2(8)", 3.0);
    check_float("math::log10(1000)", 3.0);
    check_float("math::ln(math::exp(2))", 2.0);
    check_float("math::exp2(10)", 1024.0);
    check_float("math::pow(2, 10)", 1024.0);
    check_float("math::hypot(3, 4)", 5.0);
    check_float("math::atan2(1, 1) * 4", M_PI);
    check_float("math::sin(0) + math::cos(0) + math::tan(0)", 1.0);
    check_float("math::asin(1) * 2", M_PI);
    check_float("math::acos(1) + math::atan(0) + math::sinh(0) + math::tanh(0)", 0.0);
    check_float("math::cosh(0) + math::asinh(0) + math::acosh(1) + math::atanh(0)", 1.0);
    check_int("if(math::is_nan(b), 1, 0)", 0);
    check_int("if(math::is_finite(a) && math::is_normal(b), 1, 0)", 1);
    check_int("if(math::is_infinite(b / 0.5), 1, 0)", 0);
}

static void test_eval_errors(void **state)
{
    (void)state;
    check_eval_error("a / z", -EDOM, "division by zero");
    check_eval_error("a % z", -EDOM, "division by zero");
    check_eval_error("b / f0", -EDOM, "division by zero");
    check_eval_error("b / (a - 100)", -EDOM, "division by zero");
    check_eval_error("big + 1", -ERANGE, "integer overflow");
    check_eval_error("big * 2", -ERANGE, "integer overflow");
    check_eval_error("-big - 2", -ERANGE, "integer overflow");
    check_eval_error("-(-big - 1)", -ERANGE, "integer overflow");
    check_eval_error("math::abs(-big - 1)", -ERANGE, "integer overflow");
    check_eval_error("(-big - 1) / -1", -ERANGE, "integer overflow");
    /* a float operand makes it a float operation: no overflow */
    check_float("big + 1.0", 9223372036854775808.0);
}

static void test_compile_errors(void **state)
{
    (void)state;
    check_compile_error("1 +", "unexpected end");
    check_compile_error("", "unexpected end");
    check_compile_error("a +* b", "column 4: expected an operand, found '*'");
    check_compile_error("(1", "expected ')'");
    check_compile_error("1 2", "column 3: expected an operator, found '2'");
    check_compile_error("foo * 2", "unknown variable 'foo'");
    check_compile_error("nope(1)", "unknown function 'nope'");
    check_compile_error("min()", "expects at least 1 argument");
    check_compile_error("math::log(1)", "expects 2 arguments, got 1");
    check_compile_error("if(a > 1, 2)", "expects 3 arguments, got 2");
    check_compile_error("a < b", "must give a number");
    check_compile_error("true", "must give a number");
    check_compile_error("1 + true", "operator '+' expects a number");
    check_compile_error("!a", "'!' expects a boolean");
    check_compile_error("-(a > b)", "'-' expects a number");
    check_compile_error("a && b", "operator '&&' expects a boolean");
    check_compile_error("if(a, 1, 2)", "if expects a boolean");
    check_compile_error("math::sqrt(a > 1)", "math::sqrt expects a number");
    check_compile_error("1..2", "malformed number");
    check_compile_error("12abc", "malformed number");
    check_compile_error("a $ b", "unexpected character '$'");
    check_compile_error("min(1, 2", "expected ',' or ')'");

    /* nesting and length are bounded, so evaluation cannot exhaust the stack */
    char deep[201];
    memset(deep, '(', 200);
    deep[200] = '\0';
    check_compile_error(deep, "nested too deeply");
    size_t cap = 3 * 2000 + 2;
    char *longer = malloc(cap);
    assert_non_null(longer);
    size_t len = 0;
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(longer + len, cap - len, "%s1", i ? "+" : "");
    check_compile_error(longer, "expression too long");
    free(longer);
}

static void test_names_and_uses(void **state)
{
    (void)state;
    assert_true(energy_attribution_expr_valid_name("cpu_energy"));
    assert_true(energy_attribution_expr_valid_name("_x1"));
    assert_false(energy_attribution_expr_valid_name("1x"));
    assert_false(energy_attribution_expr_valid_name("a-b"));
    assert_false(energy_attribution_expr_valid_name(""));
    assert_false(energy_attribution_expr_valid_name("true"));
    assert_false(energy_attribution_expr_valid_name("min"));
    assert_false(energy_attribution_expr_valid_name("if"));

    struct energy_attribution_expr *e = NULL;
    struct alumet_error err = {0};
    assert_int_equal(energy_attribution_expr_compile("a * b + min(a, 2)", names, N_NAMES, &e, &err),
                     0);
    assert_true(energy_attribution_expr_uses(e, 0));
    assert_true(energy_attribution_expr_uses(e, 1));
    assert_false(energy_attribution_expr_uses(e, 2));
    assert_false(energy_attribution_expr_uses(e, N_NAMES));
    assert_null(energy_attribution_expr_free(e));
    assert_null(energy_attribution_expr_free(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arithmetic),     cmocka_unit_test(test_logic),
        cmocka_unit_test(test_functions),      cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_compile_errors), cmocka_unit_test(test_names_and_uses),
    };
    return alumet_run_tests(tests);
}
