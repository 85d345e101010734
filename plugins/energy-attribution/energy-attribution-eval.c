/* SPDX-License-Identifier: MIT */
/* The evaluator of the expression language: walks the tree compiled by
 * energy-attribution-expr.c, once per attributed point, without allocating.
 * Integer arithmetic is checked (overflow and division by zero are errors, as
 * in evalexpr); a float division by zero is an error too, where evalexpr
 * would give an infinity or NaN. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "energy-attribution-expr.h"

static const char *energy_attribution_expr_type_name(const struct energy_attribution_value *v)
{
    return v->type == EA_VALUE_INT ? "integer" : v->type == EA_VALUE_FLOAT ? "float" : "boolean";
}

static int energy_attribution_expr_number(const struct energy_attribution_value *v, double *ret,
                                          struct alumet_error *err)
{
    if (v->type == EA_VALUE_INT)
        *ret = (double)v->v.i;
    else if (v->type == EA_VALUE_FLOAT)
        *ret = v->v.f;
    else
        return alumet_error_set(err, -EINVAL, "expected a number, got a boolean");
    return 0;
}

static int energy_attribution_expr_bool(const struct energy_attribution_value *v, bool *ret,
                                        struct alumet_error *err)
{
    if (v->type != EA_VALUE_BOOL)
        return alumet_error_set(err, -EINVAL, "expected a boolean, got %s",
                                energy_attribution_expr_type_name(v));
    *ret = v->v.b;
    return 0;
}

static void energy_attribution_expr_set_float(struct energy_attribution_value *v, double f)
{
    v->type = EA_VALUE_FLOAT;
    v->v.f = f;
}

static void energy_attribution_expr_set_int(struct energy_attribution_value *v, int64_t i)
{
    v->type = EA_VALUE_INT;
    v->v.i = i;
}

static void energy_attribution_expr_set_bool(struct energy_attribution_value *v, bool b)
{
    v->type = EA_VALUE_BOOL;
    v->v.b = b;
}

/* a op b with both integers: checked, as evalexpr's checked_* functions. */
static int energy_attribution_expr_int_op(enum ea_op op, int64_t a, int64_t b,
                                          struct energy_attribution_value *ret,
                                          struct alumet_error *err)
{
    int64_t res;
    bool overflow = false;

    switch (op) {
    case EA_OP_ADD:
        overflow = __builtin_add_overflow(a, b, &res);
        break;
    case EA_OP_SUB:
        overflow = __builtin_sub_overflow(a, b, &res);
        break;
    case EA_OP_MUL:
        overflow = __builtin_mul_overflow(a, b, &res);
        break;
    case EA_OP_DIV:
    case EA_OP_MOD:
        if (b == 0)
            return alumet_error_set(err, -EDOM, "division by zero ('%" PRId64 " %c 0')", a,
                                    op == EA_OP_DIV ? '/' : '%');
        overflow = a == INT64_MIN && b == -1;
        res = overflow ? 0 : op == EA_OP_DIV ? a / b : a % b;
        break;
    default:
        return alumet_error_set(err, -EINVAL, "internal error: operator %d", (int)op);
    }
    if (overflow)
        return alumet_error_set(err, -ERANGE,
                                "integer overflow in an operation on '%" PRId64 "' and '%" PRId64
                                "' (write 1.0 instead of 1 to compute in "
                                "floating point)",
                                a, b);
    energy_attribution_expr_set_int(ret, res);
    return 0;
}

static int energy_attribution_expr_binary(enum ea_op op, const struct energy_attribution_value *a,
                                          const struct energy_attribution_value *b,
                                          struct energy_attribution_value *ret,
                                          struct alumet_error *err)
{
    double x = 0.0, y = 0.0;
    int r;

    if (op == EA_OP_EQ || op == EA_OP_NE) {
        bool eq;
        if (a->type == EA_VALUE_BOOL || b->type == EA_VALUE_BOOL)
            eq = a->type == b->type && a->v.b == b->v.b;
        else if (a->type == EA_VALUE_INT && b->type == EA_VALUE_INT)
            eq = a->v.i == b->v.i;
        else
            eq = (a->type == EA_VALUE_INT ? (double)a->v.i : a->v.f) ==
                 (b->type == EA_VALUE_INT ? (double)b->v.i : b->v.f);
        energy_attribution_expr_set_bool(ret, op == EA_OP_EQ ? eq : !eq);
        return 0;
    }
    if ((r = energy_attribution_expr_number(a, &x, err)) < 0 ||
        (r = energy_attribution_expr_number(b, &y, err)) < 0)
        return r;
    bool ints = a->type == EA_VALUE_INT && b->type == EA_VALUE_INT;
    switch (op) {
    case EA_OP_ADD:
    case EA_OP_SUB:
    case EA_OP_MUL:
    case EA_OP_DIV:
    case EA_OP_MOD:
        if (ints)
            return energy_attribution_expr_int_op(op, a->v.i, b->v.i, ret, err);
        if ((op == EA_OP_DIV || op == EA_OP_MOD) && y == 0.0)
            return alumet_error_set(err, -EDOM, "division by zero");
        energy_attribution_expr_set_float(ret, op == EA_OP_ADD   ? x + y
                                               : op == EA_OP_SUB ? x - y
                                               : op == EA_OP_MUL ? x * y
                                               : op == EA_OP_DIV ? x / y
                                                                 : fmod(x, y));
        return 0;
    case EA_OP_POW:
        energy_attribution_expr_set_float(ret, pow(x, y));
        return 0;
    case EA_OP_LT:
        energy_attribution_expr_set_bool(ret, ints ? a->v.i < b->v.i : x < y);
        return 0;
    case EA_OP_GT:
        energy_attribution_expr_set_bool(ret, ints ? a->v.i > b->v.i : x > y);
        return 0;
    case EA_OP_LE:
        energy_attribution_expr_set_bool(ret, ints ? a->v.i <= b->v.i : x <= y);
        return 0;
    case EA_OP_GE:
        energy_attribution_expr_set_bool(ret, ints ? a->v.i >= b->v.i : x >= y);
        return 0;
    default:
        return alumet_error_set(err, -EINVAL, "internal error: operator %d", (int)op);
    }
}

static int energy_attribution_expr_eval_node(const struct energy_attribution_expr *e, int32_t i,
                                             const struct energy_attribution_value *vars,
                                             struct energy_attribution_value *ret,
                                             struct alumet_error *err);

/* min(...) and max(...): the result has the type of the winning argument,
 * as in evalexpr. */
static int energy_attribution_expr_minmax(const struct energy_attribution_expr *e,
                                          const struct ea_node *n,
                                          const struct energy_attribution_value *vars,
                                          struct energy_attribution_value *ret,
                                          struct alumet_error *err)
{
    bool is_min = n->v.fn->kind == EA_FN_MIN;
    bool have_int = false, have_float = false;
    int64_t best_i = 0;
    double best_f = 0.0;

    for (int32_t k = n->first; k >= 0; k = e->nodes[k].next) {
        struct energy_attribution_value a;
        int r = energy_attribution_expr_eval_node(e, k, vars, &a, err);
        if (r < 0)
            return r;
        if (a.type == EA_VALUE_INT) {
            if (!have_int || (is_min ? a.v.i < best_i : a.v.i > best_i))
                best_i = a.v.i;
            have_int = true;
        } else if (a.type == EA_VALUE_FLOAT) {
            if (!have_float || (is_min ? a.v.f < best_f : a.v.f > best_f))
                best_f = a.v.f;
            have_float = true;
        } else {
            return alumet_error_set(err, -EINVAL, "%s expects numbers, got a boolean",
                                    n->v.fn->name);
        }
    }
    if (have_int && (!have_float || (is_min ? (double)best_i < best_f : (double)best_i > best_f)))
        energy_attribution_expr_set_int(ret, best_i);
    else
        energy_attribution_expr_set_float(ret, best_f);
    return 0;
}

static int energy_attribution_expr_call_eval(const struct energy_attribution_expr *e,
                                             const struct ea_node *n,
                                             const struct energy_attribution_value *vars,
                                             struct energy_attribution_value *ret,
                                             struct alumet_error *err)
{
    const struct ea_function *fn = n->v.fn;
    struct energy_attribution_value a, b;
    double x = 0.0, y = 0.0;
    int r;

    if (fn->kind == EA_FN_MIN || fn->kind == EA_FN_MAX)
        return energy_attribution_expr_minmax(e, n, vars, ret, err);
    r = energy_attribution_expr_eval_node(e, n->first, vars, &a, err);
    if (r < 0)
        return r;
    switch (fn->kind) {
    case EA_FN_IF: {
        /* only the branch taken is evaluated */
        bool cond = false;
        r = energy_attribution_expr_bool(&a, &cond, err);
        if (r < 0)
            return r;
        int32_t then_node = e->nodes[n->first].next;
        return energy_attribution_expr_eval_node(e, cond ? then_node : e->nodes[then_node].next,
                                                 vars, ret, err);
    }
    case EA_FN_ABS:
        if (a.type == EA_VALUE_INT) {
            if (a.v.i == INT64_MIN)
                return alumet_error_set(err, -ERANGE, "integer overflow in math::abs");
            energy_attribution_expr_set_int(ret, a.v.i < 0 ? -a.v.i : a.v.i);
            return 0;
        }
        r = energy_attribution_expr_number(&a, &x, err);
        if (r >= 0)
            energy_attribution_expr_set_float(ret, fabs(x));
        return r;
    case EA_FN_F1:
        r = energy_attribution_expr_number(&a, &x, err);
        if (r >= 0)
            energy_attribution_expr_set_float(ret, fn->f1(x));
        return r;
    case EA_FN_PRED:
        r = energy_attribution_expr_number(&a, &x, err);
        if (r >= 0)
            energy_attribution_expr_set_bool(ret, fn->pred(x));
        return r;
    case EA_FN_F2:
        r = energy_attribution_expr_eval_node(e, e->nodes[n->first].next, vars, &b, err);
        if (r >= 0)
            r = energy_attribution_expr_number(&a, &x, err);
        if (r >= 0)
            r = energy_attribution_expr_number(&b, &y, err);
        if (r >= 0)
            energy_attribution_expr_set_float(ret, fn->f2(x, y));
        return r;
    default:
        return alumet_error_set(err, -EINVAL, "internal error: function %s", fn->name);
    }
}

static int energy_attribution_expr_eval_node(const struct energy_attribution_expr *e, int32_t i,
                                             const struct energy_attribution_value *vars,
                                             struct energy_attribution_value *ret,
                                             struct alumet_error *err)
{
    const struct ea_node *n = &e->nodes[i];
    struct energy_attribution_value a, b;
    int r;

    switch (n->op) {
    case EA_OP_INT:
        energy_attribution_expr_set_int(ret, n->v.i);
        return 0;
    case EA_OP_FLOAT:
        energy_attribution_expr_set_float(ret, n->v.f);
        return 0;
    case EA_OP_BOOL:
        energy_attribution_expr_set_bool(ret, n->v.b);
        return 0;
    case EA_OP_VAR:
        *ret = vars[n->v.var];
        return 0;
    case EA_OP_CALL:
        return energy_attribution_expr_call_eval(e, n, vars, ret, err);
    case EA_OP_NEG:
        r = energy_attribution_expr_eval_node(e, n->first, vars, &a, err);
        if (r < 0)
            return r;
        if (a.type == EA_VALUE_INT) {
            if (a.v.i == INT64_MIN)
                return alumet_error_set(err, -ERANGE, "integer overflow in a negation");
            energy_attribution_expr_set_int(ret, -a.v.i);
            return 0;
        }
        if (a.type == EA_VALUE_BOOL)
            return alumet_error_set(err, -EINVAL, "'-' expects a number, got a boolean");
        energy_attribution_expr_set_float(ret, -a.v.f);
        return 0;
    case EA_OP_NOT: {
        bool v = false;
        r = energy_attribution_expr_eval_node(e, n->first, vars, &a, err);
        if (r >= 0)
            r = energy_attribution_expr_bool(&a, &v, err);
        if (r >= 0)
            energy_attribution_expr_set_bool(ret, !v);
        return r;
    }
    case EA_OP_AND:
    case EA_OP_OR: {
        /* short-circuit: the right side is evaluated only when needed */
        bool v = false;
        r = energy_attribution_expr_eval_node(e, n->first, vars, &a, err);
        if (r >= 0)
            r = energy_attribution_expr_bool(&a, &v, err);
        if (r < 0)
            return r;
        if (v == (n->op == EA_OP_OR)) {
            energy_attribution_expr_set_bool(ret, v);
            return 0;
        }
        r = energy_attribution_expr_eval_node(e, e->nodes[n->first].next, vars, &b, err);
        if (r >= 0)
            r = energy_attribution_expr_bool(&b, &v, err);
        if (r >= 0)
            energy_attribution_expr_set_bool(ret, v);
        return r;
    }
    default:
        r = energy_attribution_expr_eval_node(e, n->first, vars, &a, err);
        if (r >= 0)
            r = energy_attribution_expr_eval_node(e, e->nodes[n->first].next, vars, &b, err);
        if (r >= 0)
            r = energy_attribution_expr_binary(n->op, &a, &b, ret, err);
        return r;
    }
}

int energy_attribution_expr_eval(const struct energy_attribution_expr *e,
                                 const struct energy_attribution_value *vars,
                                 struct energy_attribution_value *ret, struct alumet_error *err)
{
    return energy_attribution_expr_eval_node(e, e->root, vars, ret, err);
}
