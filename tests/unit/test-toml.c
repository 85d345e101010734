/* SPDX-License-Identifier: MIT */
/* Unit tests of the TOML 1.0 parser (src/core/config/toml.c). */
#include "alumet-test.h"

#include <errno.h>
#include <math.h>

#include "core/config/toml.h"

#define FILE_NAME "alumet-config.toml"

static char errbuf[512];

/* Parse a NUL-terminated document that must be valid. */
static struct toml_value *parse_ok(const char *text)
{
    errbuf[0] = '\0';
    struct toml_value *root = toml_parse(text, strlen(text), FILE_NAME, errbuf, sizeof(errbuf));
    if (!root)
        fail_msg("unexpected parse error: %s", errbuf);
    assert_non_null(root);
    assert_int_equal(root->type, TOML_TABLE);
    assert_null(root->parent);
    assert_null(root->key);
    return root;
}

/* Parse a document that must be invalid and check the exact error message. */
static void check_error(const char *text, const char *expected)
{
    memset(errbuf, 'x', sizeof(errbuf));
    struct toml_value *root = toml_parse(text, strlen(text), FILE_NAME, errbuf, sizeof(errbuf));
    if (root) {
        toml_free(root);
        fail_msg("document accepted, expected error: %s", expected);
    }
    assert_string_equal(errbuf, expected);
}

/* Parse a document that must be invalid (any message, but well formed). */
static void check_invalid(const char *text)
{
    errbuf[0] = '\0';
    struct toml_value *root = toml_parse(text, strlen(text), FILE_NAME, errbuf, sizeof(errbuf));
    if (root) {
        toml_free(root);
        fail_msg("invalid document accepted: %s", text);
    }
    assert_true(strncmp(errbuf, FILE_NAME ":", strlen(FILE_NAME ":")) == 0);
}

/* Walk a dotted path of plain keys from t. */
static struct toml_value *get_path(struct toml_value *t, const char *path)
{
    char part[128];

    while (t) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        assert_true(len < sizeof(part));
        memcpy(part, path, len);
        part[len] = '\0';
        t = toml_table_get(t, part);
        if (!dot)
            break;
        path = dot + 1;
    }
    return t;
}

static int64_t get_int(struct toml_value *root, const char *path)
{
    struct toml_value *v = get_path(root, path);
    assert_non_null(v);
    assert_int_equal(v->type, TOML_INTEGER);
    return v->u.i;
}

static double get_float(struct toml_value *root, const char *path)
{
    struct toml_value *v = get_path(root, path);
    assert_non_null(v);
    assert_int_equal(v->type, TOML_FLOAT);
    return v->u.f;
}

static const char *get_str(struct toml_value *root, const char *path)
{
    struct toml_value *v = get_path(root, path);
    assert_non_null(v);
    assert_int_equal(v->type, TOML_STRING);
    assert_int_equal(strlen(v->u.str.ptr), v->u.str.len);
    return v->u.str.ptr;
}

static int64_t parse_int(const char *text)
{
    struct toml_value *root = parse_ok(text);
    int64_t i = get_int(root, "v");
    toml_free(root);
    return i;
}

static double parse_float(const char *text)
{
    struct toml_value *root = parse_ok(text);
    double f = get_float(root, "v");
    toml_free(root);
    return f;
}

static void check_str(const char *text, const char *expected)
{
    struct toml_value *root = parse_ok(text);
    assert_string_equal(get_str(root, "s"), expected);
    toml_free(root);
}

/* ------------------------------------------------------------------------------------------- */

static void test_positions(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("# comment\n"
                                       "a = 1\n"
                                       "\n"
                                       "[tbl]\n"
                                       "  key = \"v\"\n"
                                       "\t\"quoted\" = 'x'\n"
                                       "  arr = [ 1,\n"
                                       "          2 ]\n"
                                       "\"\xc3\xa9t\xc3\xa9\" = true\n");
    assert_int_equal(root->u.tab.len, 2);

    struct toml_kv *kv = &root->u.tab.items[0];
    assert_string_equal(kv->key, "a");
    assert_int_equal(kv->key_len, 1);
    assert_int_equal(kv->line, 2);
    assert_int_equal(kv->col, 1);
    assert_int_equal(kv->val->line, 2);
    assert_int_equal(kv->val->col, 5);
    assert_string_equal(kv->val->file, FILE_NAME);

    struct toml_value *tbl = toml_table_get(root, "tbl");
    assert_non_null(tbl);
    assert_int_equal(tbl->line, 4);
    assert_int_equal(tbl->col, 1);
    kv = &root->u.tab.items[1];
    assert_int_equal(kv->line, 4);
    assert_int_equal(kv->col, 2);
    assert_int_equal(tbl->u.tab.len, 4);

    kv = &tbl->u.tab.items[0];
    assert_string_equal(kv->key, "key");
    assert_int_equal(kv->line, 5);
    assert_int_equal(kv->col, 3);
    assert_int_equal(kv->val->line, 5);
    assert_int_equal(kv->val->col, 9);

    kv = &tbl->u.tab.items[1];
    assert_string_equal(kv->key, "quoted");
    assert_int_equal(kv->line, 6);
    assert_int_equal(kv->col, 2);
    assert_int_equal(kv->val->line, 6);
    assert_int_equal(kv->val->col, 13);

    struct toml_value *arr = toml_table_get(tbl, "arr");
    assert_non_null(arr);
    assert_int_equal(arr->line, 7);
    assert_int_equal(arr->col, 9);
    assert_int_equal(arr->u.arr.len, 2);
    assert_int_equal(arr->u.arr.items[0]->line, 7);
    assert_int_equal(arr->u.arr.items[0]->col, 11);
    assert_int_equal(arr->u.arr.items[1]->line, 8);
    assert_int_equal(arr->u.arr.items[1]->col, 11);

    /* Columns count code points, not bytes. */
    kv = &tbl->u.tab.items[3];
    assert_string_equal(kv->key, "\xc3\xa9t\xc3\xa9");
    assert_int_equal(kv->key_len, 5);
    assert_int_equal(kv->line, 9);
    assert_int_equal(kv->col, 1);
    assert_int_equal(kv->val->line, 9);
    assert_int_equal(kv->val->col, 9);
    toml_free(root);

    /* Dotted keys: each part has its own position. */
    root = parse_ok("x = 0\n  a . b.c = 1\n");
    struct toml_value *a = toml_table_get(root, "a");
    assert_int_equal(root->u.tab.items[1].line, 2);
    assert_int_equal(root->u.tab.items[1].col, 3);
    assert_int_equal(a->line, 2);
    assert_int_equal(a->col, 3);
    assert_int_equal(a->u.tab.items[0].col, 7);
    struct toml_value *b = toml_table_get(a, "b");
    assert_int_equal(b->u.tab.items[0].col, 9);
    assert_int_equal(b->u.tab.items[0].val->col, 13);
    toml_free(root);

    /* An implicit table takes the position of the header that defines it. */
    root = parse_ok("[a.b]\nx = 1\n\n  [a]\n");
    a = toml_table_get(root, "a");
    assert_int_equal(a->line, 4);
    assert_int_equal(a->col, 3);
    assert_int_equal(root->u.tab.items[0].line, 4);
    assert_int_equal(root->u.tab.items[0].col, 4);
    toml_free(root);

    /* A UTF-8 byte order mark is skipped and is not a column. */
    root = parse_ok("\xef\xbb\xbfk = 1\n");
    assert_int_equal(root->u.tab.items[0].col, 1);
    assert_int_equal(root->u.tab.items[0].val->col, 5);
    toml_free(root);
}

static void test_errors(void **state)
{
    (void)state;
    check_error("a = 1\n\n        a = 2\n", FILE_NAME ":3:9: duplicate key 'a'");
    check_error("s = \"abc\nt = 1\n", FILE_NAME ":1:5: unterminated string");
    check_error("s = '''abc\n\n", FILE_NAME ":1:5: unterminated string");
    check_error("s = \"a\\qb\"\n", FILE_NAME ":1:7: invalid escape sequence '\\q'");
    check_error("s = \"\\ud800\"\n", FILE_NAME ":1:6: invalid unicode scalar value in escape");
    check_error("s = \"\\u12\"\n", FILE_NAME ":1:6: invalid unicode escape");
    check_error("n = 12x\n", FILE_NAME ":1:5: invalid integer");
    check_error("n = 1__2\n", FILE_NAME ":1:5: invalid integer");
    check_error("n = 012\n", FILE_NAME ":1:5: leading zeros are not allowed");
    check_error("n = 9223372036854775808\n", FILE_NAME ":1:5: integer out of range");
    check_error("f = 1.\n", FILE_NAME ":1:5: invalid float");
    check_error("[a]\nx = 1\n[a]\n", FILE_NAME ":3:2: table 'a' already defined");
    check_error("a.b = 1\na.b = 2\n", FILE_NAME ":2:1: duplicate key 'a.b'");
    check_error("a = 1\na.b = 2\n", FILE_NAME ":2:1: key 'a' is not a table");
    check_error("a = 1 b = 2\n", FILE_NAME ":1:7: expected a newline after a value");
    check_error("a = \n", FILE_NAME ":1:5: expected a value");
    check_error("a 1\n", FILE_NAME ":1:3: expected '=' after a key");
    check_error("a = [1, 2\n", FILE_NAME ":1:5: unterminated array");
    check_error("a = { x = 1,\n}\n", FILE_NAME ":1:13: newline in inline table");
    check_error("a = { x = 1, }\n", FILE_NAME ":1:14: trailing comma in inline table");
    check_error("d = 2023-02-29\n", FILE_NAME ":1:5: invalid date");
    check_error("t = 24:00:00\n", FILE_NAME ":1:5: invalid time");
    check_error("a = \"\xc3\x28\"\n", FILE_NAME ":1:6: invalid utf-8");
    check_error("# ok\n# bad \x01\n", FILE_NAME ":2:7: invalid control character U+0001");
    check_error("a = 1\r\n b = 2\r", FILE_NAME ":2:7: carriage return not followed by a newline");
    check_error("x = [[[1]]]\n[x]\n", FILE_NAME ":2:2: duplicate key 'x'");

    /* No file name. */
    struct toml_value *root = toml_parse("=", 1, NULL, errbuf, sizeof(errbuf));
    assert_null(root);
    assert_string_equal(errbuf, "<input>:1:1: expected a key before '='");

    /* A short buffer is truncated, still terminated. */
    char small[12];
    memset(small, 'x', sizeof(small));
    root = toml_parse("a = 1\na = 2\n", 12, FILE_NAME, small, sizeof(small));
    assert_null(root);
    assert_string_equal(small, "alumet-conf");

    /* No buffer at all. */
    assert_null(toml_parse("a = ", 4, FILE_NAME, NULL, 0));
}

static void test_insertion_order(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("zeta = 1\nalpha = 2\nmid = 3\n[b]\n[a]\nz=1\ny=2\nx=3\n");
    const char *top[] = {"zeta", "alpha", "mid", "b", "a"};
    assert_int_equal(root->u.tab.len, 5);
    for (size_t k = 0; k < 5; k++)
        assert_string_equal(root->u.tab.items[k].key, top[k]);
    struct toml_value *a = toml_table_get(root, "a");
    assert_int_equal(a->u.tab.len, 3);
    assert_string_equal(a->u.tab.items[0].key, "z");
    assert_string_equal(a->u.tab.items[1].key, "y");
    assert_string_equal(a->u.tab.items[2].key, "x");
    assert_int_equal(a->u.tab.items[2].val->u.i, 3);
    toml_free(root);
}

static void test_table_api(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("a = 1\nb = 2\nc = 3\n");

    assert_null(toml_table_get(root, "d"));
    assert_null(toml_table_get(NULL, "a"));
    assert_null(toml_table_get(toml_table_get(root, "a"), "a"));
    assert_int_equal(toml_table_get(root, "b")->u.i, 2);

    /* take removes and detaches */
    struct toml_value *b = toml_table_take(root, "b");
    assert_non_null(b);
    assert_int_equal(b->u.i, 2);
    assert_null(b->parent);
    assert_null(b->key);
    assert_int_equal(root->u.tab.len, 2);
    assert_string_equal(root->u.tab.items[0].key, "a");
    assert_string_equal(root->u.tab.items[1].key, "c");
    assert_null(toml_table_take(root, "b"));
    assert_ptr_equal(toml_table_get(root, "c")->key, root->u.tab.items[1].key);

    /* set on an existing key replaces in place */
    assert_int_equal(toml_table_set(root, "a", b), 0);
    assert_int_equal(root->u.tab.len, 2);
    assert_string_equal(root->u.tab.items[0].key, "a");
    assert_int_equal(root->u.tab.items[0].line, 1);
    assert_int_equal(root->u.tab.items[0].col, 1);
    assert_ptr_equal(root->u.tab.items[0].val, b);
    assert_ptr_equal(b->parent, root);
    assert_string_equal(b->key, "a");
    assert_int_equal(toml_table_get(root, "a")->u.i, 2);

    /* set on a new key appends */
    struct toml_value *t = toml_table_new();
    assert_non_null(t);
    assert_int_equal(t->type, TOML_TABLE);
    assert_int_equal(t->line, 0);
    assert_int_equal(t->col, 0);
    assert_null(t->file);
    assert_int_equal(t->u.tab.len, 0);
    assert_int_equal(toml_table_set(root, "new", t), 0);
    assert_int_equal(root->u.tab.len, 3);
    assert_string_equal(root->u.tab.items[2].key, "new");
    assert_int_equal(root->u.tab.items[2].key_len, 3);
    assert_ptr_equal(t->parent, root);
    assert_string_equal(t->key, "new");
    assert_ptr_equal(toml_table_get(root, "new"), t);

    struct toml_value *inner = toml_table_new();
    assert_int_equal(toml_table_set(t, "x", inner), 0);
    assert_ptr_equal(get_path(root, "new.x"), inner);
    assert_int_equal(toml_table_set(inner, "k", toml_table_new()), 0);
    assert_int_equal(toml_table_set(NULL, "k", NULL), -EINVAL);

    assert_string_equal(toml_type_name(TOML_STRING), "string");
    assert_string_equal(toml_type_name(TOML_INTEGER), "integer");
    assert_string_equal(toml_type_name(TOML_FLOAT), "float");
    assert_string_equal(toml_type_name(TOML_BOOL), "boolean");
    assert_string_equal(toml_type_name(TOML_DATETIME), "datetime");
    assert_string_equal(toml_type_name(TOML_DATETIME_LOCAL), "datetime");
    assert_string_equal(toml_type_name(TOML_DATE_LOCAL), "datetime");
    assert_string_equal(toml_type_name(TOML_TIME_LOCAL), "datetime");
    assert_string_equal(toml_type_name(TOML_ARRAY), "array");
    assert_string_equal(toml_type_name(TOML_TABLE), "table");
    toml_free(root);
    toml_free(NULL);
}

static void test_parent_key(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("top = 1\n[srv.http]\nport = 80\nlist = [{n = 1}, 2]\n"
                                       "[[job]]\nid = 1\n[[job]]\nid = 2\n");
    struct toml_value *top = toml_table_get(root, "top");
    assert_ptr_equal(top->parent, root);
    assert_string_equal(top->key, "top");
    assert_ptr_equal(top->key, root->u.tab.items[0].key);

    struct toml_value *srv = toml_table_get(root, "srv");
    struct toml_value *http = toml_table_get(srv, "http");
    struct toml_value *port = toml_table_get(http, "port");
    assert_ptr_equal(srv->parent, root);
    assert_ptr_equal(http->parent, srv);
    assert_ptr_equal(port->parent, http);
    assert_string_equal(srv->key, "srv");
    assert_string_equal(http->key, "http");
    assert_string_equal(port->key, "port");

    struct toml_value *list = toml_table_get(http, "list");
    assert_int_equal(list->u.arr.len, 2);
    struct toml_value *inl = list->u.arr.items[0];
    assert_ptr_equal(inl->parent, list);
    assert_null(inl->key);
    assert_ptr_equal(toml_table_get(inl, "n")->parent, inl);
    assert_string_equal(toml_table_get(inl, "n")->key, "n");
    assert_ptr_equal(list->u.arr.items[1]->parent, list);
    assert_null(list->u.arr.items[1]->key);

    struct toml_value *job = toml_table_get(root, "job");
    assert_int_equal(job->type, TOML_ARRAY);
    assert_int_equal(job->u.arr.len, 2);
    for (size_t k = 0; k < 2; k++) {
        assert_ptr_equal(job->u.arr.items[k]->parent, job);
        assert_null(job->u.arr.items[k]->key);
        assert_int_equal(toml_table_get(job->u.arr.items[k], "id")->u.i, (int64_t)k + 1);
    }
    toml_free(root);
}

static void test_integers(void **state)
{
    (void)state;
    assert_int_equal(parse_int("v = 0"), 0);
    assert_int_equal(parse_int("v = +0"), 0);
    assert_int_equal(parse_int("v = -0"), 0);
    assert_int_equal(parse_int("v = 42"), 42);
    assert_int_equal(parse_int("v = +17"), 17);
    assert_int_equal(parse_int("v = -17"), -17);
    assert_int_equal(parse_int("v = 1_000_000"), 1000000);
    assert_int_equal(parse_int("v = 5_3_49_221"), 5349221);
    assert_int_equal(parse_int("v = 0xDEADbeef"), 0xdeadbeef);
    assert_int_equal(parse_int("v = 0xdead_beef"), 0xdeadbeef);
    assert_int_equal(parse_int("v = 0x00ff"), 255);
    assert_int_equal(parse_int("v = 0o755"), 0755);
    assert_int_equal(parse_int("v = 0o0_1_7"), 15);
    assert_int_equal(parse_int("v = 0b1101_0110"), 0xd6);
    assert_true(parse_int("v = 9223372036854775807") == INT64_MAX);
    assert_true(parse_int("v = -9223372036854775808") == INT64_MIN);
    assert_true(parse_int("v = 0x7fffffffffffffff") == INT64_MAX);
    assert_true(parse_int("v = 0o777777777777777777777") == INT64_MAX);
    assert_true(parse_int("v = 0b"
                          "111111111111111111111111111111111111111111111111111111111111111") ==
                INT64_MAX);

    check_error("v = 9223372036854775808", FILE_NAME ":1:5: integer out of range");
    check_error("v = -9223372036854775809", FILE_NAME ":1:5: integer out of range");
    check_error("v = 0x8000000000000000", FILE_NAME ":1:5: integer out of range");
    check_error("v = 99999999999999999999999", FILE_NAME ":1:5: integer out of range");
    check_error("v = 0X1f", FILE_NAME ":1:5: invalid integer");
    check_error("v = 0x", FILE_NAME ":1:5: invalid integer");
    check_error("v = 0b102", FILE_NAME ":1:5: invalid integer");
    check_error("v = 0o8", FILE_NAME ":1:5: invalid integer");
    check_error("v = 0x_1", FILE_NAME ":1:5: invalid integer");
    check_error("v = -0x1", FILE_NAME ":1:5: invalid integer: no sign allowed with a base prefix");
    check_error("v = 1_", FILE_NAME ":1:5: invalid integer");
    check_error("v = _1", FILE_NAME ":1:5: invalid value");
    check_error("v = +-1", FILE_NAME ":1:5: invalid integer");
    check_error("v = 00", FILE_NAME ":1:5: leading zeros are not allowed");
    check_error("v = -01", FILE_NAME ":1:5: leading zeros are not allowed");
    check_error("v = 1 2", FILE_NAME ":1:7: expected a newline after a value");
}

static void test_floats(void **state)
{
    (void)state;
    assert_true(parse_float("v = 3.14") == 3.14);
    assert_true(parse_float("v = -0.01") == -0.01);
    assert_true(parse_float("v = +1.5") == 1.5);
    assert_true(parse_float("v = 5e+22") == 5e22);
    assert_true(parse_float("v = 1e06") == 1e6);
    assert_true(parse_float("v = -2E-2") == -0.02);
    assert_true(parse_float("v = 6.626e-34") == 6.626e-34);
    assert_true(parse_float("v = 224_617.445_991_228") == 224617.445991228);
    assert_true(parse_float("v = 1e1_0") == 1e10);
    assert_true(parse_float("v = 0.0") == 0.0);
    double z = parse_float("v = -0.0");
    assert_true(z == 0.0 && signbit(z));
    assert_false(signbit(parse_float("v = +0.0")));

    double f = parse_float("v = inf");
    assert_true(isinf(f) && f > 0);
    f = parse_float("v = +inf");
    assert_true(isinf(f) && f > 0);
    f = parse_float("v = -inf");
    assert_true(isinf(f) && f < 0);
    assert_true(isnan(parse_float("v = nan")));
    assert_true(isnan(parse_float("v = +nan")));
    assert_true(isnan(parse_float("v = -nan")));

    check_error("v = 1.", FILE_NAME ":1:5: invalid float");
    check_error("v = 1.e5", FILE_NAME ":1:5: invalid float");
    check_error("v = 1e", FILE_NAME ":1:5: invalid float");
    check_error("v = 1e_5", FILE_NAME ":1:5: invalid float");
    check_error("v = 1.5_", FILE_NAME ":1:5: invalid float");
    check_error("v = 1._5", FILE_NAME ":1:5: invalid float");
    check_error("v = 1.2.3", FILE_NAME ":1:5: invalid float");
    check_error("v = .5", FILE_NAME ":1:5: invalid value");
    check_error("v = 03.14", FILE_NAME ":1:5: leading zeros are not allowed");
    check_error("v = Inf", FILE_NAME ":1:5: invalid value");
    check_error("v = infinity", FILE_NAME ":1:5: invalid integer");
}

static void test_strings(void **state)
{
    (void)state;
    check_str("s = \"\"", "");
    check_str("s = ''", "");
    check_str("s = \"a \\\"quoted\\\" \\\\ \\b\\t\\n\\f\\r end\"",
              "a \"quoted\" \\ \b\t\n\f\r end");
    check_str("s = 'C:\\Users\\nodejs\\templates'", "C:\\Users\\nodejs\\templates");
    check_str("s = '<\\i\\c*\\s*>'", "<\\i\\c*\\s*>");
    check_str("s = \"tab\there\"", "tab\there");
    check_str("s = \"\\u00e9\\u20AC\"", "\xc3\xa9\xe2\x82\xac");
    check_str("s = \"\\U0001F600\\U00000041\"", "\xf0\x9f\x98\x80"
                                                "A");
    check_str("s = \"caf\xc3\xa9\"", "caf\xc3\xa9");

    /* Multi-line: the first newline is trimmed, newlines kept (CRLF as LF). */
    check_str("s = \"\"\"\nRoses are red\nViolets are blue\"\"\"",
              "Roses are red\nViolets are blue");
    check_str("s = \"\"\"\r\none\r\ntwo\"\"\"", "one\ntwo");
    check_str("s = '''\nfirst\n  second '\\n' \"\" '' \n'''", "first\n  second '\\n' \"\" '' \n");
    check_str("s = \"\"\"\"\"\"", "");
    /* Line-ending backslash trims whitespace and newlines. */
    check_str("s = \"\"\"\nThe quick \\\n\n\n   brown \\   \n  fox.\"\"\"", "The quick brown fox.");
    check_str("s = \"\"\"a\\\n\"\"\"", "a");
    /* Up to two quotes next to the closing delimiter. */
    check_str("s = \"\"\"\"This,\" she said.\"\"\"\"", "\"This,\" she said.\"");
    check_str("s = '''a'''''", "a''");
    check_str("s = \"\"\"a\"\"b\"\"\"", "a\"\"b");

    /* Embedded NUL: len counts it. */
    struct toml_value *root = parse_ok("s = \"a\\u0000b\"");
    struct toml_value *s = toml_table_get(root, "s");
    assert_int_equal(s->u.str.len, 3);
    assert_memory_equal(s->u.str.ptr, "a\0b", 4);
    toml_free(root);

    check_error("s = '''a''''''",
                FILE_NAME ":1:14: too many quotes at the end of a multi-line string");
    check_error("s = \"\"\"a\\ b\"\"\"", FILE_NAME ":1:9: invalid escape sequence");
    check_error("s = \"\\x41\"", FILE_NAME ":1:6: invalid escape sequence '\\x'");
    check_error("s = \"\\U00110000\"", FILE_NAME ":1:6: invalid unicode scalar value in escape");
    check_error("s = 'a\nb'", FILE_NAME ":1:5: unterminated string");
    check_error("s = \"a\\\nb\"", FILE_NAME ":1:7: invalid escape sequence");
    check_error("s = \"a\x7f\"", FILE_NAME ":1:7: invalid control character U+007F");
    check_error("s = \"\xed\xa0\x80\"", FILE_NAME ":1:6: invalid utf-8");
    check_error("s = \"\xc0\xaf\"", FILE_NAME ":1:6: invalid utf-8");
    check_error("s = \"\xf4\x90\x80\x80\"", FILE_NAME ":1:6: invalid utf-8");
    check_error("s = \"\xe2\x82\"", FILE_NAME ":1:6: invalid utf-8");
}

static void test_keys(void **state)
{
    (void)state;
    struct toml_value *root =
        parse_ok("bare_key-1 = 1\n\"quoted key\" = 2\n'lit\\key' = 3\n\"\" = 4\n1234 = 5\n"
                 "\"\\u0000\" = 6\n'\\u0000' = 7\n");
    assert_int_equal(get_int(root, "bare_key-1"), 1);
    assert_int_equal(toml_table_get(root, "quoted key")->u.i, 2);
    assert_int_equal(toml_table_get(root, "lit\\key")->u.i, 3);
    assert_int_equal(toml_table_get(root, "")->u.i, 4);
    assert_int_equal(toml_table_get(root, "1234")->u.i, 5);
    struct toml_kv *kv = &root->u.tab.items[5];
    assert_int_equal(kv->key_len, 1);
    assert_int_equal(kv->key[0], '\0');
    assert_int_equal(kv->val->u.i, 6);
    assert_int_equal(toml_table_get(root, "\\u0000")->u.i, 7);
    toml_free(root);

    check_error("\"a\" = 1\na = 2", FILE_NAME ":2:1: duplicate key 'a'");
    check_error("a b = 1", FILE_NAME ":1:3: expected '=' after a key");
    check_error("\"\"\"a\"\"\" = 1", FILE_NAME ":1:1: multi-line string not allowed here");
    check_error("k\xc3\xa9 = 1", FILE_NAME ":1:2: expected '=' after a key");
    check_error("\xc3\xa9 = 1", FILE_NAME ":1:1: invalid character in key");
}

static void test_dotted_keys(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("name = \"Orange\"\n"
                                       "physical.color = \"orange\"\n"
                                       "physical . shape = \"round\"\n"
                                       "site.\"google.com\" = true\n"
                                       "3.14159 = \"pi\"\n"
                                       "[fruit]\n"
                                       "apple.color = \"red\"\n"
                                       "apple.taste.sweet = true\n"
                                       "[fruit.apple.texture]\n"
                                       "smooth = true\n");
    struct toml_value *phys = toml_table_get(root, "physical");
    assert_int_equal(phys->type, TOML_TABLE);
    assert_int_equal(phys->u.tab.len, 2);
    assert_string_equal(get_str(root, "physical.color"), "orange");
    assert_string_equal(get_str(root, "physical.shape"), "round");
    struct toml_value *site = toml_table_get(root, "site");
    assert_true(toml_table_get(site, "google.com")->u.b);
    assert_string_equal(get_str(root, "3.14159"), "pi");
    assert_string_equal(get_str(root, "fruit.apple.color"), "red");
    assert_true(get_path(root, "fruit.apple.taste.sweet")->u.b);
    assert_true(get_path(root, "fruit.apple.texture.smooth")->u.b);
    assert_string_equal(get_path(root, "fruit.apple.texture")->key, "texture");
    toml_free(root);

    /* Tables defined by dotted keys cannot be redefined by headers, nor the
     * other way round. */
    check_error("a.b = 1\n[a]\n", FILE_NAME ":2:2: table 'a' already defined");
    check_error("[fruit]\napple.color = 1\n[fruit.apple]\n",
                FILE_NAME ":3:2: table 'fruit.apple' already defined");
    check_error("[a.b]\nx = 1\n[a]\nb.y = 2\n", FILE_NAME ":4:1: table 'b' already defined");
    check_error("a.b.c = 1\na.b = 2\n", FILE_NAME ":2:1: duplicate key 'a.b'");
    check_error("a.b.c = 1\na.b.c.d = 2\n", FILE_NAME ":2:1: key 'a.b.c' is not a table");
}

static void test_tables(void **state)
{
    (void)state;
    /* Super-tables may be defined after their children, once. */
    struct toml_value *root = parse_ok("[x.y.z.w]\na = 1\n[x]\nb = 2\n[x.y]\nc = 3\n[ x . 'q' ]\n");
    assert_int_equal(get_int(root, "x.y.z.w.a"), 1);
    assert_int_equal(get_int(root, "x.b"), 2);
    assert_int_equal(get_int(root, "x.y.c"), 3);
    assert_int_equal(get_path(root, "x.q")->type, TOML_TABLE);
    toml_free(root);

    check_error("[x.y]\n[x]\n[x]\n", FILE_NAME ":3:2: table 'x' already defined");
    check_error("[a]\nb = 1\n[a.b]\n", FILE_NAME ":3:2: duplicate key 'a.b'");
    check_error("[a]\nb = 1\n[a.b.c]\n", FILE_NAME ":3:2: key 'a.b' is not a table");
    check_error("[a]\n[a.b]\n[a.b]\n", FILE_NAME ":3:2: table 'a.b' already defined");
    check_error("[]\n", FILE_NAME ":1:2: expected a key before ']'");
    check_error("[a\n", FILE_NAME ":1:3: expected ']' at the end of a table header");
    check_error("[a] x = 1\n", FILE_NAME ":1:5: expected a newline after a table header");
    check_invalid("[a.]\n");
    check_invalid("[.a]\n");
    check_invalid("[a..b]\n");
    check_invalid("[a\n.b]\n");
    check_invalid("[[a]\n");
    check_invalid("[a]]\n");
    check_invalid("[\"a\n\"]\n");
}

static void test_arrays_of_tables(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("[[fruits]]\n"
                                       "name = \"apple\"\n"
                                       "[fruits.physical]\n"
                                       "color = \"red\"\n"
                                       "[[fruits.varieties]]\n"
                                       "name = \"red delicious\"\n"
                                       "[[fruits.varieties]]\n"
                                       "name = \"granny smith\"\n"
                                       "[[fruits]]\n"
                                       "name = \"banana\"\n"
                                       "[[fruits.varieties]]\n"
                                       "name = \"plantain\"\n");
    struct toml_value *fruits = toml_table_get(root, "fruits");
    assert_int_equal(fruits->type, TOML_ARRAY);
    assert_int_equal(fruits->u.arr.len, 2);
    assert_int_equal(fruits->line, 1);
    assert_int_equal(fruits->col, 1);
    struct toml_value *apple = fruits->u.arr.items[0];
    struct toml_value *banana = fruits->u.arr.items[1];
    assert_int_equal(banana->line, 9);
    assert_string_equal(get_str(apple, "name"), "apple");
    assert_string_equal(get_str(apple, "physical.color"), "red");
    struct toml_value *vars = toml_table_get(apple, "varieties");
    assert_int_equal(vars->u.arr.len, 2);
    assert_string_equal(get_str(vars->u.arr.items[0], "name"), "red delicious");
    assert_string_equal(get_str(vars->u.arr.items[1], "name"), "granny smith");
    assert_string_equal(get_str(banana, "name"), "banana");
    vars = toml_table_get(banana, "varieties");
    assert_int_equal(vars->u.arr.len, 1);
    assert_string_equal(get_str(vars->u.arr.items[0], "name"), "plantain");
    toml_free(root);

    /* Empty array of tables element, and a static array of tables. */
    root = parse_ok("[[a]]\n[[a]]\nb = [{x = 1}, {x = 2}]\n");
    assert_int_equal(toml_table_get(root, "a")->u.arr.len, 2);
    assert_int_equal(toml_table_get(root, "a")->u.arr.items[0]->u.tab.len, 0);
    assert_null(toml_table_get(root, "b"));
    struct toml_value *b = toml_table_get(toml_table_get(root, "a")->u.arr.items[1], "b");
    assert_non_null(b);
    assert_int_equal(b->u.arr.len, 2);
    assert_int_equal(get_int(b->u.arr.items[1], "x"), 2);
    toml_free(root);

    check_error("a = []\n[[a]]\n", FILE_NAME ":2:3: cannot extend static array 'a'");
    check_error("a = [{}]\n[a.b]\n", FILE_NAME ":2:2: cannot extend static array 'a'");
    check_error("[a]\n[[a]]\n", FILE_NAME ":2:3: table 'a' already defined");
    check_error("[[a]]\n[a]\n", FILE_NAME ":2:2: table 'a' already defined");
    check_error("[[a]]\nb.c = 1\n[a.b]\n", FILE_NAME ":3:2: table 'a.b' already defined");
    check_error("[[a] ]\n", FILE_NAME ":1:4: expected ']]' at the end of a table header");
}

static void test_inline_tables(void **state)
{
    (void)state;
    struct toml_value *root =
        parse_ok("pt = { x = 1, y.z = 2 , \"w\" = { } }\nempty = {}\nnest = {a = {b = [1]}}\n");
    struct toml_value *pt = toml_table_get(root, "pt");
    assert_int_equal(pt->type, TOML_TABLE);
    assert_int_equal(pt->u.tab.len, 3);
    assert_int_equal(get_int(root, "pt.x"), 1);
    assert_int_equal(get_int(root, "pt.y.z"), 2);
    assert_int_equal(get_path(root, "pt.w")->u.tab.len, 0);
    assert_int_equal(toml_table_get(root, "empty")->u.tab.len, 0);
    assert_int_equal(get_path(root, "nest.a.b")->u.arr.items[0]->u.i, 1);
    toml_free(root);

    /* Inline tables are immutable once closed. */
    check_error("a = {b = 1}\na.c = 2\n", FILE_NAME ":2:1: cannot extend inline table 'a'");
    check_error("a = {b = 1}\n[a]\n", FILE_NAME ":2:2: table 'a' already defined");
    check_error("a = {b = 1}\n[a.c]\n", FILE_NAME ":2:2: cannot extend inline table 'a'");
    check_error("a = {b = {c = 1}}\n[a.b.d]\n", FILE_NAME ":2:2: cannot extend inline table 'a'");
    check_error("a = {b = {c = 1}, b.d = 2}\n", FILE_NAME ":1:19: cannot extend inline table 'b'");
    check_error("a = {b = 1, b = 2}\n", FILE_NAME ":1:13: duplicate key 'b'");
    check_error("a = {b = 1}\n[[a]]\n", FILE_NAME ":2:3: table 'a' already defined");
    check_error("[t]\na = {}\n[t.a]\n", FILE_NAME ":3:2: table 't.a' already defined");
}

static void test_arrays(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("a = [\n  1, # one\n  'two',\n  [3.0, []],\n  {x = true},"
                                       "\n  # comment\n]\nb = []\nc = [ [ ] , ]\n");
    struct toml_value *a = toml_table_get(root, "a");
    assert_int_equal(a->u.arr.len, 4);
    assert_int_equal(a->u.arr.items[0]->type, TOML_INTEGER);
    assert_int_equal(a->u.arr.items[1]->type, TOML_STRING);
    assert_int_equal(a->u.arr.items[2]->type, TOML_ARRAY);
    assert_int_equal(a->u.arr.items[2]->u.arr.len, 2);
    assert_true(a->u.arr.items[2]->u.arr.items[0]->u.f == 3.0);
    assert_int_equal(a->u.arr.items[3]->type, TOML_TABLE);
    assert_int_equal(toml_table_get(root, "b")->u.arr.len, 0);
    assert_int_equal(toml_table_get(root, "c")->u.arr.len, 1);
    toml_free(root);

    check_error("a = [1,,2]\n", FILE_NAME ":1:8: invalid value");
    check_error("a = [,]\n", FILE_NAME ":1:6: invalid value");
    check_error("a = [1 2]\n", FILE_NAME ":1:8: expected ',' or ']' after an array element");
}

static void test_datetimes(void **state)
{
    (void)state;
    struct toml_value *root = parse_ok("odt1 = 1979-05-27T07:32:00Z\n"
                                       "odt2 = 1979-05-27 00:32:00.999999-07:00\n"
                                       "odt3 = 1979-05-27t07:32:00z\n"
                                       "ldt = 1979-05-27T07:32:00.5\n"
                                       "ld = 2000-02-29\n"
                                       "lt = 00:32:00.999\n"
                                       "leap = 1990-12-31T23:59:60Z\n"
                                       "d2 = 2024-01-31 # date then comment\n");
    struct {
        const char *key;
        enum toml_type type;
        const char *text;
    } want[] = {
        {"odt1", TOML_DATETIME, "1979-05-27T07:32:00Z"},
        {"odt2", TOML_DATETIME, "1979-05-27T00:32:00.999999-07:00"},
        {"odt3", TOML_DATETIME, "1979-05-27T07:32:00Z"},
        {"ldt", TOML_DATETIME_LOCAL, "1979-05-27T07:32:00.5"},
        {"ld", TOML_DATE_LOCAL, "2000-02-29"},
        {"lt", TOML_TIME_LOCAL, "00:32:00.999"},
        {"leap", TOML_DATETIME, "1990-12-31T23:59:60Z"},
        {"d2", TOML_DATE_LOCAL, "2024-01-31"},
    };
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        struct toml_value *v = toml_table_get(root, want[k].key);
        assert_non_null(v);
        assert_int_equal(v->type, want[k].type);
        assert_string_equal(v->u.str.ptr, want[k].text);
        assert_int_equal(v->u.str.len, strlen(want[k].text));
    }
    toml_free(root);

    check_error("d = 2100-02-29\n", FILE_NAME ":1:5: invalid date");
    check_error("d = 2023-04-31\n", FILE_NAME ":1:5: invalid date");
    check_error("d = 2023-13-01\n", FILE_NAME ":1:5: invalid date");
    check_error("d = 2023-1-01\n", FILE_NAME ":1:5: invalid date");
    check_error("d = 2023-01-01T10:00\n", FILE_NAME ":1:5: invalid time");
    check_error("d = 2023-01-01T10:60:00\n", FILE_NAME ":1:5: invalid time");
    check_error("d = 2023-01-01T10:00:00.\n", FILE_NAME ":1:5: invalid time");
    check_error("d = 2023-01-01T10:00:00+1:00\n", FILE_NAME ":1:5: invalid time offset");
    check_error("d = 2023-01-01x\n", FILE_NAME ":1:5: invalid date");
    check_error("t = 10:00:00Z\n", FILE_NAME ":1:5: invalid time");
}

static void test_documents(void **state)
{
    (void)state;
    /* Empty and blank documents. */
    const char *blank[] = {"", "\n", "  \t\n\r\n", "# only a comment", "\xef\xbb\xbf"};
    for (size_t k = 0; k < sizeof(blank) / sizeof(blank[0]); k++) {
        struct toml_value *root = parse_ok(blank[k]);
        assert_int_equal(root->u.tab.len, 0);
        toml_free(root);
    }
    /* Not NUL-terminated: only len bytes are read. */
    struct toml_value *root = toml_parse("a = 12345", 6, FILE_NAME, errbuf, sizeof(errbuf));
    assert_non_null(root);
    assert_int_equal(get_int(root, "a"), 12);
    toml_free(root);

    root = parse_ok("a = true\nb = false # c\n\r\nc = \"x\"\t# comment");
    assert_true(toml_table_get(root, "a")->u.b);
    assert_false(toml_table_get(root, "b")->u.b);
    assert_int_equal(toml_table_get(root, "b")->type, TOML_BOOL);
    assert_string_equal(get_str(root, "c"), "x");
    toml_free(root);
    check_error("a = truee\n", FILE_NAME ":1:5: invalid value");
    check_error("a = TRUE\n", FILE_NAME ":1:5: invalid value");
}

static void expect_too_deep(const char *s, size_t len, const char *expected)
{
    struct toml_value *root = toml_parse(s, len, FILE_NAME, errbuf, sizeof(errbuf));
    assert_null(root);
    assert_string_equal(errbuf, expected);
}

/* Hostile input must be rejected cleanly (run under ASan/UBSan to catch bugs). */
static void test_robustness(void **state)
{
    (void)state;
    const size_t reps = 100000;
    char *s = malloc(5 * reps + 16);
    size_t n;
    assert_non_null(s);

    /* a = [[[[... */
    memcpy(s, "a = ", 4);
    memset(s + 4, '[', reps);
    expect_too_deep(s, 4 + reps, FILE_NAME ":1:405: nesting too deep");

    /* a = {a = {a = ... */
    n = 4;
    for (size_t k = 0; k < reps; k++, n += 5)
        memcpy(s + n, "{a = ", 5);
    expect_too_deep(s, n, FILE_NAME ":1:2005: nesting too deep");

    /* [a.a.a. ... .a] */
    n = 0;
    s[n++] = '[';
    for (size_t k = 0; k < reps; k++, n += 2)
        memcpy(s + n, "a.", 2);
    s[n - 1] = ']';
    expect_too_deep(s, n, FILE_NAME ":1:802: nesting too deep");

    /* a.a.a. ... .a = 1 */
    n = 0;
    for (size_t k = 0; k < reps; k++, n += 2)
        memcpy(s + n, "a.", 2);
    memcpy(s + n - 1, " = 1", 4);
    expect_too_deep(s, n + 3, FILE_NAME ":1:801: nesting too deep");
    free(s);

    /* Every prefix and every single-byte corruption of a rich document. */
    static const char doc[] = "# doc\n[a.b]\nx = 1\ny = [1, 2.5, \"s\", 'l', {z = true}]\n"
                              "[[c]]\nd = 1979-05-27T07:32:00Z\ne = \"\"\"\nml \\\n  x\"\"\"\n"
                              "f.g = '''lit'''\nh = 0xff\ni = -inf\nj = 07:32:00\n";
    size_t len = sizeof(doc) - 1;
    char *buf = malloc(len);
    assert_non_null(buf);
    struct toml_value *root = parse_ok(doc);
    toml_free(root);
    for (size_t k = 0; k <= len; k++) {
        memcpy(buf, doc, k);
        toml_free(toml_parse(buf, k, FILE_NAME, errbuf, sizeof(errbuf)));
    }
    static const char bytes[] = {'\0', '\n', '"',  '\'', '[', ']',    '{',    '}', '=',  '.',
                                 ',',  '#',  '\\', 'x',  '0', '\x80', '\xff', ' ', '\r', '_'};
    for (size_t k = 0; k < len; k++) {
        for (size_t m = 0; m < sizeof(bytes); m++) {
            memcpy(buf, doc, len);
            buf[k] = bytes[m];
            toml_free(toml_parse(buf, len, FILE_NAME, errbuf, sizeof(errbuf)));
        }
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_insertion_order),
        cmocka_unit_test(test_table_api),
        cmocka_unit_test(test_parent_key),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_dotted_keys),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_arrays_of_tables),
        cmocka_unit_test(test_inline_tables),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_robustness),
    };
    return alumet_run_tests(tests);
}
