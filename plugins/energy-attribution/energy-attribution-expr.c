/* SPDX-License-Identifier: MIT */
/* The expression language of the formulas: the subset of upstream's evalexpr
 * 11 that a formula needs (README.md, "Expressions"). A Pratt parser compiles
 * the text once, at init, into a tree of nodes stored in one array; the
 * evaluator walks it for every point without allocating.
 *
 *   cpu_energy * cpu_usage / 100.0
 *   if(total > 0.0, energy * share / total, 0.0)
 *   math::max(a - b, 0) ^ 2
 *
 * Integers are 64-bit and stay integers (7 / 2 == 3, overflow is an error),
 * an operation with a float operand is a float operation, `^` always gives a
 * float. Comparisons, &&, || and ! give booleans, which the result cannot be. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "energy-attribution-expr.h"

/* Deepest nesting of parentheses, calls and operators (bounds the recursion
 * of the parser), and most nodes (bounds the recursion of the evaluator). */
#define EA_EXPR_MAX_DEPTH 128
#define EA_EXPR_MAX_NODES 1024

static double energy_attribution_expr_log(double x, double base)
{
    return log(x) / log(base);
}

static bool energy_attribution_expr_is_nan(double x)
{
    return isnan(x);
}

static bool energy_attribution_expr_is_finite(double x)
{
    return isfinite(x);
}

static bool energy_attribution_expr_is_infinite(double x)
{
    return isinf(x);
}

static bool energy_attribution_expr_is_normal(double x)
{
    return isnormal(x);
}

/* the fields of a function of one number, of two, and of a predicate */
#define EA_F1(n, f) (n), EA_FN_F1, 1, (f), NULL, NULL
#define EA_F2(n, f) (n), EA_FN_F2, 2, NULL, (f), NULL
#define EA_PRED(n, f) (n), EA_FN_PRED, 1, NULL, NULL, (f)

static const struct ea_function energy_attribution_expr_functions[] = {
    {"min", EA_FN_MIN, 0, NULL, NULL, NULL},
    {"max", EA_FN_MAX, 0, NULL, NULL, NULL},
    {"if", EA_FN_IF, 3, NULL, NULL, NULL},
    {"math::abs", EA_FN_ABS, 1, NULL, NULL, NULL},
    {EA_F1("floor", floor)},
    {EA_F1("round", round)}, /* half away from zero, as Rust's f64::round */
    {EA_F1("ceil", ceil)},
    {EA_F1("math::sqrt", sqrt)},
    {EA_F1("math::cbrt", cbrt)},
    {EA_F1("math::ln", log)},
    {EA_F1("math::log2", log2)},
    {EA_F1("math::log10", log10)},
    {EA_F1("math::exp", exp)},
    {EA_F1("math::exp2", exp2)},
    {EA_F1("math::sin", sin)},
    {EA_F1("math::cos", cos)},
    {EA_F1("math::tan", tan)},
    {EA_F1("math::asin", asin)},
    {EA_F1("math::acos", acos)},
    {EA_F1("math::atan", atan)},
    {EA_F1("math::sinh", sinh)},
    {EA_F1("math::cosh", cosh)},
    {EA_F1("math::tanh", tanh)},
    {EA_F1("math::asinh", asinh)},
    {EA_F1("math::acosh", acosh)},
    {EA_F1("math::atanh", atanh)},
    {EA_F2("math::log", energy_attribution_expr_log)},
    {EA_F2("math::pow", pow)},
    {EA_F2("math::hypot", hypot)},
    {EA_F2("math::atan2", atan2)},
    {EA_PRED("math::is_nan", energy_attribution_expr_is_nan)},
    {EA_PRED("math::is_finite", energy_attribution_expr_is_finite)},
    {EA_PRED("math::is_infinite", energy_attribution_expr_is_infinite)},
    {EA_PRED("math::is_normal", energy_attribution_expr_is_normal)},
};

#define EA_N_FUNCTIONS (sizeof(energy_attribution_expr_functions) / sizeof(struct ea_function))

/* ---- lexer ---- */

enum ea_tok {
    EA_TK_END,
    EA_TK_INT,
    EA_TK_FLOAT,
    EA_TK_IDENT,
    EA_TK_OP,
    EA_TK_LPAREN,
    EA_TK_RPAREN,
    EA_TK_COMMA,
};

struct ea_token {
    enum ea_tok kind;
    size_t start, len;
    enum ea_op op; /* EA_TK_OP: the binary operator, or NOT / SUB for prefixes */
    int64_t i;
    double f;
};

struct ea_parser {
    const char *text;
    size_t pos;
    struct ea_token tok;
    struct energy_attribution_expr *e;
    const char *const *names;
    size_t n_names;
    int depth;
    struct alumet_error *err;
};

static bool energy_attribution_expr_is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool energy_attribution_expr_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool energy_attribution_expr_is_ident_char(char c)
{
    return energy_attribution_expr_is_ident_start(c) || energy_attribution_expr_is_digit(c);
}

static int energy_attribution_expr_syntax(struct ea_parser *ps, size_t at, const char *what)
{
    return alumet_error_set(ps->err, -EINVAL, "column %zu: %s", at + 1, what);
}

/* "12", "1.5", "2e-3", ".5": an integer that does not fit in 64 bits is read
 * as a float, as evalexpr does. */
static int energy_attribution_expr_lex_number(struct ea_parser *ps, struct ea_token *t)
{
    const char *s = ps->text + ps->pos;
    size_t n = 0;
    bool is_float = false;

    while (energy_attribution_expr_is_digit(s[n]))
        n++;
    if (s[n] == '.') {
        is_float = true;
        n++;
        while (energy_attribution_expr_is_digit(s[n]))
            n++;
    }
    if ((s[n] == 'e' || s[n] == 'E') &&
        (energy_attribution_expr_is_digit(s[n + 1]) ||
         ((s[n + 1] == '+' || s[n + 1] == '-') && energy_attribution_expr_is_digit(s[n + 2])))) {
        is_float = true;
        n += 2;
        while (energy_attribution_expr_is_digit(s[n]))
            n++;
    }
    if (energy_attribution_expr_is_ident_char(s[n]) || s[n] == '.')
        return energy_attribution_expr_syntax(ps, ps->pos, "malformed number");
    t->len = n;
    if (!is_float) {
        int64_t v = 0;
        size_t k = 0;
        for (; k < n; k++) {
            int d = s[k] - '0';
            if (v > (INT64_MAX - d) / 10)
                break;
            v = v * 10 + d;
        }
        if (k == n) {
            t->kind = EA_TK_INT;
            t->i = v;
            return 0;
        }
    }
    char tmp[64];
    if (n >= sizeof(tmp))
        return energy_attribution_expr_syntax(ps, ps->pos, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    t->kind = EA_TK_FLOAT;
    t->f = strtod(tmp, /* endptr= */ NULL);
    return 0;
}

static const struct {
    const char *text;
    enum ea_op op;
} energy_attribution_expr_ops[] = {
    {"&&", EA_OP_AND}, {"||", EA_OP_OR}, {"<=", EA_OP_LE}, {">=", EA_OP_GE}, {"==", EA_OP_EQ},
    {"!=", EA_OP_NE},  {"<", EA_OP_LT},  {">", EA_OP_GT},  {"+", EA_OP_ADD}, {"-", EA_OP_SUB},
    {"*", EA_OP_MUL},  {"/", EA_OP_DIV}, {"%", EA_OP_MOD}, {"^", EA_OP_POW}, {"!", EA_OP_NOT},
};

#define EA_N_OPS (sizeof(energy_attribution_expr_ops) / sizeof(energy_attribution_expr_ops[0]))

/* Read the next token into ps->tok. */
static int energy_attribution_expr_next(struct ea_parser *ps)
{
    const char *s = ps->text;
    struct ea_token *t = &ps->tok;

    while (s[ps->pos] == ' ' || s[ps->pos] == '\t' || s[ps->pos] == '\n' || s[ps->pos] == '\r')
        ps->pos++;
    memset(t, 0, sizeof(*t));
    t->start = ps->pos;
    char c = s[ps->pos];
    if (c == '\0') {
        t->kind = EA_TK_END;
        return 0;
    }
    if (energy_attribution_expr_is_digit(c) ||
        (c == '.' && energy_attribution_expr_is_digit(s[ps->pos + 1]))) {
        int r = energy_attribution_expr_lex_number(ps, t);
        if (r < 0)
            return r;
        ps->pos += t->len;
        return 0;
    }
    if (energy_attribution_expr_is_ident_start(c)) {
        size_t n = 0;
        for (;;) {
            while (energy_attribution_expr_is_ident_char(s[ps->pos + n]))
                n++;
            /* namespaced names: math::abs */
            if (s[ps->pos + n] == ':' && s[ps->pos + n + 1] == ':' &&
                energy_attribution_expr_is_ident_start(s[ps->pos + n + 2])) {
                n += 2;
                continue;
            }
            break;
        }
        t->kind = EA_TK_IDENT;
        t->len = n;
        ps->pos += n;
        return 0;
    }
    t->len = 1;
    if (c == '(' || c == ')' || c == ',') {
        t->kind = c == '(' ? EA_TK_LPAREN : c == ')' ? EA_TK_RPAREN : EA_TK_COMMA;
        ps->pos++;
        return 0;
    }
    for (size_t i = 0; i < EA_N_OPS; i++) {
        size_t n = strlen(energy_attribution_expr_ops[i].text);
        if (strncmp(s + ps->pos, energy_attribution_expr_ops[i].text, n) == 0) {
            t->kind = EA_TK_OP;
            t->op = energy_attribution_expr_ops[i].op;
            t->len = n;
            ps->pos += n;
            return 0;
        }
    }
    return alumet_error_set(ps->err, -EINVAL, "column %zu: unexpected character '%c'", ps->pos + 1,
                            c);
}

/* ---- parser ---- */

static int energy_attribution_expr_node(struct ea_parser *ps, enum ea_op op, enum ea_stype st)
{
    struct energy_attribution_expr *e = ps->e;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        struct ea_node *nodes = realloc(e->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return alumet_error_set(ps->err, -ENOMEM, "out of memory");
        e->nodes = nodes;
        e->cap = cap;
    }
    if (e->n >= EA_EXPR_MAX_NODES)
        return alumet_error_set(ps->err, -E2BIG, "expression too long (more than %d terms)",
                                EA_EXPR_MAX_NODES);
    struct ea_node *n = &e->nodes[e->n];
    memset(n, 0, sizeof(*n));
    n->op = op;
    n->stype = st;
    n->first = -1;
    n->next = -1;
    return (int)e->n++;
}

static const char *energy_attribution_expr_stype_name(enum ea_stype st)
{
    return st == EA_ST_BOOL ? "a boolean" : "a number";
}

/* Check the static type of operand `kid` (node index) of an operator. */
static int energy_attribution_expr_want(struct ea_parser *ps, int kid, enum ea_stype want,
                                        size_t at, const char *what)
{
    enum ea_stype st = ps->e->nodes[kid].stype;
    if (st == EA_ST_ANY || st == want)
        return 0;
    return alumet_error_set(ps->err, -EINVAL, "column %zu: %s expects %s, not %s", at + 1, what,
                            energy_attribution_expr_stype_name(want),
                            energy_attribution_expr_stype_name(st));
}

/* Binding power of a binary operator (0: not one), and whether it binds to
 * the right (^). evalexpr's precedences: ^ 120, * / % 100, + - 95,
 * comparisons 80, && 75, || 70; prefix - and ! are 110. */
static int energy_attribution_expr_power(enum ea_op op, bool *right)
{
    *right = false;
    switch (op) {
    case EA_OP_POW:
        *right = true;
        return 120;
    case EA_OP_MUL:
    case EA_OP_DIV:
    case EA_OP_MOD:
        return 100;
    case EA_OP_ADD:
    case EA_OP_SUB:
        return 95;
    case EA_OP_LT:
    case EA_OP_GT:
    case EA_OP_LE:
    case EA_OP_GE:
    case EA_OP_EQ:
    case EA_OP_NE:
        return 80;
    case EA_OP_AND:
        return 75;
    case EA_OP_OR:
        return 70;
    default:
        return 0;
    }
}

#define EA_PREFIX_POWER 110

static const char *energy_attribution_expr_op_text(enum ea_op op)
{
    for (size_t i = 0; i < EA_N_OPS; i++)
        if (energy_attribution_expr_ops[i].op == op)
            return energy_attribution_expr_ops[i].text;
    return "?";
}

static int energy_attribution_expr_parse(struct ea_parser *ps, int min_power);

static const struct ea_function *energy_attribution_expr_function(const char *name, size_t len)
{
    for (size_t i = 0; i < EA_N_FUNCTIONS; i++) {
        const struct ea_function *f = &energy_attribution_expr_functions[i];
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
            return f;
    }
    return NULL;
}

/* name(arg, ...): the current token is the '(' after the name. */
static int energy_attribution_expr_call(struct ea_parser *ps, const struct ea_token *name)
{
    const struct ea_function *fn =
        energy_attribution_expr_function(ps->text + name->start, name->len);
    if (!fn)
        return alumet_error_set(ps->err, -EINVAL, "column %zu: unknown function '%.*s'",
                                name->start + 1, (int)name->len, ps->text + name->start);
    int r = energy_attribution_expr_next(ps);
    if (r < 0)
        return r;
    int args[3] = {-1, -1, -1};
    int last = -1, node_first = -1;
    uint32_t nargs = 0;
    if (ps->tok.kind != EA_TK_RPAREN) {
        for (;;) {
            size_t at = ps->tok.start;
            int a = energy_attribution_expr_parse(ps, 0);
            if (a < 0)
                return a;
            enum ea_stype want = fn->kind == EA_FN_IF && nargs == 0 ? EA_ST_BOOL : EA_ST_NUM;
            if (fn->kind != EA_FN_IF || nargs == 0) {
                r = energy_attribution_expr_want(ps, a, want, at, fn->name);
                if (r < 0)
                    return r;
            }
            if (nargs < 3)
                args[nargs] = a;
            if (last >= 0)
                ps->e->nodes[last].next = a;
            else
                node_first = a;
            last = a;
            nargs++;
            if (ps->tok.kind == EA_TK_COMMA) {
                r = energy_attribution_expr_next(ps);
                if (r < 0)
                    return r;
                continue;
            }
            break;
        }
    }
    if (ps->tok.kind != EA_TK_RPAREN)
        return energy_attribution_expr_syntax(ps, ps->tok.start, "expected ',' or ')'");
    if ((fn->nargs && nargs != fn->nargs) || (!fn->nargs && nargs == 0))
        return alumet_error_set(
            ps->err, -EINVAL, "column %zu: function '%s' expects %s%u argument%s, got %u",
            name->start + 1, fn->name, fn->nargs ? "" : "at least ", fn->nargs ? fn->nargs : 1,
            fn->nargs == 1 || !fn->nargs ? "" : "s", nargs);
    enum ea_stype st = EA_ST_NUM;
    if (fn->kind == EA_FN_PRED)
        st = EA_ST_BOOL;
    else if (fn->kind == EA_FN_IF)
        st = ps->e->nodes[args[1]].stype == ps->e->nodes[args[2]].stype
                 ? ps->e->nodes[args[1]].stype
                 : EA_ST_ANY;
    int n = energy_attribution_expr_node(ps, EA_OP_CALL, st);
    if (n < 0)
        return n;
    ps->e->nodes[n].first = node_first;
    ps->e->nodes[n].nargs = nargs;
    ps->e->nodes[n].v.fn = fn;
    r = energy_attribution_expr_next(ps);
    return r < 0 ? r : n;
}

/* An operand: a number, a variable, a call, a parenthesised expression or a
 * prefix operator applied to an operand. */
static int energy_attribution_expr_prefix(struct ea_parser *ps)
{
    struct ea_token t = ps->tok;
    int r, n;

    switch (t.kind) {
    case EA_TK_INT:
    case EA_TK_FLOAT:
        n = energy_attribution_expr_node(ps, t.kind == EA_TK_INT ? EA_OP_INT : EA_OP_FLOAT,
                                         EA_ST_NUM);
        if (n < 0)
            return n;
        if (t.kind == EA_TK_INT)
            ps->e->nodes[n].v.i = t.i;
        else
            ps->e->nodes[n].v.f = t.f;
        r = energy_attribution_expr_next(ps);
        return r < 0 ? r : n;
    case EA_TK_IDENT:
        r = energy_attribution_expr_next(ps);
        if (r < 0)
            return r;
        if (ps->tok.kind == EA_TK_LPAREN)
            return energy_attribution_expr_call(ps, &t);
        if ((t.len == 4 && strncmp(ps->text + t.start, "true", 4) == 0) ||
            (t.len == 5 && strncmp(ps->text + t.start, "false", 5) == 0)) {
            n = energy_attribution_expr_node(ps, EA_OP_BOOL, EA_ST_BOOL);
            if (n >= 0)
                ps->e->nodes[n].v.b = t.len == 4;
            return n;
        }
        for (size_t i = 0; i < ps->n_names; i++) {
            if (strlen(ps->names[i]) == t.len &&
                strncmp(ps->names[i], ps->text + t.start, t.len) == 0) {
                n = energy_attribution_expr_node(ps, EA_OP_VAR, EA_ST_NUM);
                if (n < 0)
                    return n;
                ps->e->nodes[n].v.var = (uint32_t)i;
                ps->e->uses[i] = true;
                return n;
            }
        }
        return alumet_error_set(ps->err, -EINVAL,
                                "column %zu: unknown variable '%.*s' (declare it in "
                                "per_resource or per_consumer)",
                                t.start + 1, (int)t.len, ps->text + t.start);
    case EA_TK_LPAREN:
        r = energy_attribution_expr_next(ps);
        if (r < 0)
            return r;
        n = energy_attribution_expr_parse(ps, 0);
        if (n < 0)
            return n;
        if (ps->tok.kind != EA_TK_RPAREN)
            return energy_attribution_expr_syntax(ps, ps->tok.start, "expected ')'");
        r = energy_attribution_expr_next(ps);
        return r < 0 ? r : n;
    case EA_TK_OP:
        if (t.op == EA_OP_SUB || t.op == EA_OP_NOT) {
            r = energy_attribution_expr_next(ps);
            if (r < 0)
                return r;
            size_t at = ps->tok.start;
            int kid = energy_attribution_expr_parse(ps, EA_PREFIX_POWER);
            if (kid < 0)
                return kid;
            enum ea_stype st = t.op == EA_OP_SUB ? EA_ST_NUM : EA_ST_BOOL;
            r = energy_attribution_expr_want(ps, kid, st, at, t.op == EA_OP_SUB ? "'-'" : "'!'");
            if (r < 0)
                return r;
            n = energy_attribution_expr_node(ps, t.op == EA_OP_SUB ? EA_OP_NEG : EA_OP_NOT, st);
            if (n >= 0)
                ps->e->nodes[n].first = kid;
            return n;
        }
        break;
    default:
        break;
    }
    if (t.kind == EA_TK_END)
        return energy_attribution_expr_syntax(ps, t.start, "unexpected end of the expression");
    return alumet_error_set(ps->err, -EINVAL, "column %zu: expected an operand, found '%.*s'",
                            t.start + 1, (int)t.len, ps->text + t.start);
}

/* Parse an expression whose binary operators bind at least min_power. */
static int energy_attribution_expr_parse(struct ea_parser *ps, int min_power)
{
    if (++ps->depth > EA_EXPR_MAX_DEPTH)
        return energy_attribution_expr_syntax(ps, ps->tok.start, "expression nested too deeply");
    int lhs = energy_attribution_expr_prefix(ps);
    while (lhs >= 0 && ps->tok.kind == EA_TK_OP) {
        bool right;
        enum ea_op op = ps->tok.op;
        int power = energy_attribution_expr_power(op, &right);
        if (power == 0 || power < min_power)
            break;
        size_t at = ps->tok.start;
        int r = energy_attribution_expr_next(ps);
        if (r < 0)
            return r;
        int rhs = energy_attribution_expr_parse(ps, right ? power : power + 1);
        if (rhs < 0)
            return rhs;
        char what[32];
        snprintf(what, sizeof(what), "operator '%s'", energy_attribution_expr_op_text(op));
        enum ea_stype operand = op == EA_OP_AND || op == EA_OP_OR ? EA_ST_BOOL : EA_ST_NUM;
        enum ea_stype result = op >= EA_OP_LT ? EA_ST_BOOL : EA_ST_NUM;
        if (op == EA_OP_EQ || op == EA_OP_NE) {
            operand = EA_ST_ANY; /* numbers or booleans */
        } else {
            r = energy_attribution_expr_want(ps, lhs, operand, at, what);
            if (r >= 0)
                r = energy_attribution_expr_want(ps, rhs, operand, at, what);
            if (r < 0)
                return r;
        }
        int n = energy_attribution_expr_node(ps, op, result);
        if (n < 0)
            return n;
        ps->e->nodes[n].first = lhs;
        ps->e->nodes[lhs].next = rhs;
        lhs = n;
    }
    ps->depth--;
    return lhs;
}

struct energy_attribution_expr *energy_attribution_expr_free(struct energy_attribution_expr *e)
{
    if (e) {
        free(e->nodes);
        free(e->uses);
        free(e);
    }
    return NULL;
}

int energy_attribution_expr_compile(const char *text, const char *const *names, size_t n_names,
                                    struct energy_attribution_expr **ret_expr,
                                    struct alumet_error *err)
{
    struct energy_attribution_expr *e = calloc(1, sizeof(*e));
    if (!e)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    e->n_vars = n_names;
    e->uses = calloc(n_names ? n_names : 1, sizeof(*e->uses));
    if (!e->uses) {
        energy_attribution_expr_free(e);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    struct ea_parser ps = {.text = text, .e = e, .names = names, .n_names = n_names, .err = err};
    int r = energy_attribution_expr_next(&ps);
    if (r >= 0)
        r = energy_attribution_expr_parse(&ps, 0);
    if (r >= 0 && ps.tok.kind != EA_TK_END)
        r = alumet_error_set(err, -EINVAL, "column %zu: expected an operator, found '%.*s'",
                             ps.tok.start + 1, (int)ps.tok.len, text + ps.tok.start);
    if (r >= 0 && e->nodes[r].stype == EA_ST_BOOL)
        r = alumet_error_set(err, -EINVAL,
                             "the expression gives a boolean, it must give a number (joules)");
    if (r < 0) {
        energy_attribution_expr_free(e);
        return r;
    }
    e->root = r;
    *ret_expr = e;
    return 0;
}

bool energy_attribution_expr_uses(const struct energy_attribution_expr *e, size_t i)
{
    return i < e->n_vars && e->uses[i];
}

bool energy_attribution_expr_valid_name(const char *name)
{
    if (!energy_attribution_expr_is_ident_start(name[0]))
        return false;
    for (const char *p = name; *p; p++)
        if (!energy_attribution_expr_is_ident_char(*p))
            return false;
    if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0)
        return false;
    return !energy_attribution_expr_function(name, strlen(name));
}
