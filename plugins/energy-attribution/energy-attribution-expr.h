/* SPDX-License-Identifier: MIT */
/* The compiled form of an expression, shared by the compiler
 * (energy-attribution-expr.c) and the evaluator (energy-attribution-eval.c). */
#ifndef ENERGY_ATTRIBUTION_EXPR_H
#define ENERGY_ATTRIBUTION_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "energy-attribution.h"

enum ea_op {
    EA_OP_INT,
    EA_OP_FLOAT,
    EA_OP_BOOL,
    EA_OP_VAR,
    EA_OP_NEG,
    EA_OP_NOT,
    EA_OP_ADD,
    EA_OP_SUB,
    EA_OP_MUL,
    EA_OP_DIV,
    EA_OP_MOD,
    EA_OP_POW,
    EA_OP_LT,
    EA_OP_GT,
    EA_OP_LE,
    EA_OP_GE,
    EA_OP_EQ,
    EA_OP_NE,
    EA_OP_AND,
    EA_OP_OR,
    EA_OP_CALL,
};

/* Static type of a node: leaves are all numbers, so only if() can mix. */
enum ea_stype {
    EA_ST_NUM,
    EA_ST_BOOL,
    EA_ST_ANY,
};

enum ea_fn_kind {
    EA_FN_F1,   /* float f(number) */
    EA_FN_F2,   /* float f(number, number) */
    EA_FN_PRED, /* bool f(number) */
    EA_FN_ABS,  /* keeps the type */
    EA_FN_MIN,
    EA_FN_MAX,
    EA_FN_IF,
};

struct ea_function {
    const char *name;
    enum ea_fn_kind kind;
    unsigned nargs; /* 0: one or more */
    double (*f1)(double);
    double (*f2)(double, double);
    bool (*pred)(double);
};

/* One node. Children form a list: `first`, then each child's `next`. */
struct ea_node {
    enum ea_op op;
    enum ea_stype stype;
    int32_t first, next;
    uint32_t nargs;
    union {
        int64_t i;
        double f;
        bool b;
        uint32_t var;
        const struct ea_function *fn;
    } v;
};

struct energy_attribution_expr {
    struct ea_node *nodes;
    size_t n, cap;
    int32_t root;
    bool *uses;
    size_t n_vars;
};

#endif
