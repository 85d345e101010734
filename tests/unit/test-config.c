/* SPDX-License-Identifier: MIT */
/* The config layer: typed getters and their messages, unknown keys, merge,
 * key paths, loading from a file. */
#include "alumet-test.h"

#include <errno.h>
#include <stdbool.h>

#include "core/config/config-tree.h"
#include "util/edit-distance.h"

#define FILE_NAME "alumet-config.toml"

static struct toml_value *load(const char *text)
{
    struct alumet_error err = {0};
    struct toml_value *root = NULL;
    int r =
        alumet__config_load_text(text, strlen(text), FILE_NAME, /* substitute= */ 0, &root, &err);
    if (r != 0)
        fail_msg("load: %d %s", r, err.msg);
    assert_non_null(root);
    return root;
}

static struct alumet_config *cfg(struct toml_value *v)
{
    return alumet__config_from_value(v);
}

/* The table at dotted path "a.b" below root (via the getter, so it is marked read). */
static struct alumet_config *table(struct toml_value *root, const char *a, const char *b)
{
    struct alumet_config *t = NULL, *u = NULL;
    assert_int_equal(alumet_config_get_table(cfg(root), a, &t, NULL), 0);
    assert_non_null(t);
    if (!b)
        return t;
    assert_int_equal(alumet_config_get_table(t, b, &u, NULL), 0);
    assert_non_null(u);
    return u;
}

struct reports {
    char *msgs[16];
    size_t n;
};

static void report_cb(void *data, const char *msg)
{
    struct reports *rep = data;
    assert_true(rep->n < 16);
    rep->msgs[rep->n] = strdup(msg);
    assert_non_null(rep->msgs[rep->n]);
    rep->n++;
}

static void reports_free(struct reports *rep)
{
    for (size_t i = 0; i < rep->n; i++)
        free(rep->msgs[i]);
    rep->n = 0;
}

static void test_get_string(void **state)
{
    (void)state;
    struct toml_value *root = load("s = \"hello\"\nn = 3\nz = \"a\\u0000b\"\n");
    struct alumet_error err = {0};
    const char *v = NULL;

    assert_int_equal(alumet_config_get_string(cfg(root), "s", "dflt", &v, &err), 0);
    assert_string_equal(v, "hello");
    assert_int_equal(alumet_config_get_string(cfg(root), "x", "dflt", &v, &err), 0);
    assert_string_equal(v, "dflt");
    assert_int_equal(alumet_config_get_string(cfg(root), "x", NULL, &v, &err), 0);
    assert_null(v);
    v = "unchanged";
    assert_int_equal(alumet_config_get_string(cfg(root), "n", "dflt", &v, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":2:5: n: expected a string, got integer 3");
    assert_string_equal(v, "unchanged");
    assert_true(toml_table_get(root, "s")->used);
    toml_free(root);
}

static void test_get_bool(void **state)
{
    (void)state;
    struct toml_value *root = load("b = true\ns = \"yes\"\n");
    struct alumet_error err = {0};
    bool v = false;

    assert_int_equal(alumet_config_get_bool(cfg(root), "b", false, &v, &err), 0);
    assert_true(v);
    assert_int_equal(alumet_config_get_bool(cfg(root), "x", false, &v, &err), 0);
    assert_false(v);
    assert_int_equal(alumet_config_get_bool(cfg(root), "s", false, &v, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":2:5: s: expected a boolean, got string \"yes\"");
    toml_free(root);
}

static void test_get_int(void **state)
{
    (void)state;
    struct toml_value *root = load("i = -42\nf = 1.5\ng = 5.0\nh = 1e100\nk = -inf\n");
    struct alumet_error err = {0};
    int64_t v = 0;

    assert_int_equal(alumet_config_get_int(cfg(root), "i", 7, &v, &err), 0);
    assert_int_equal(v, -42);
    assert_int_equal(alumet_config_get_int(cfg(root), "x", 7, &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(alumet_config_get_int(cfg(root), "f", 7, &v, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":2:5: f: expected an integer, got float 1.5");
    assert_int_equal(alumet_config_get_int(cfg(root), "g", 7, &v, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":3:5: g: expected an integer, got float 5.0");
    assert_int_equal(alumet_config_get_int(cfg(root), "h", 7, &v, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":4:5: h: expected an integer, got float 1e+100");
    assert_int_equal(alumet_config_get_int(cfg(root), "k", 7, &v, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":5:5: k: expected an integer, got float -inf");
    assert_int_equal(v, 7);
    toml_free(root);
}

static void test_get_float(void **state)
{
    (void)state;
    struct toml_value *root = load("f = 2.5\ni = 3\nb = true\n");
    struct alumet_error err = {0};
    double v = 0;

    assert_int_equal(alumet_config_get_float(cfg(root), "f", 1.0, &v, &err), 0);
    assert_true(v == 2.5);
    /* an integer is accepted where a float is expected */
    assert_int_equal(alumet_config_get_float(cfg(root), "i", 1.0, &v, &err), 0);
    assert_true(v == 3.0);
    assert_int_equal(alumet_config_get_float(cfg(root), "x", 0.25, &v, &err), 0);
    assert_true(v == 0.25);
    assert_int_equal(alumet_config_get_float(cfg(root), "b", 1.0, &v, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":3:5: b: expected a number, got boolean true");
    toml_free(root);
}

static void test_get_duration(void **state)
{
    (void)state;
    /* the example of include/alumet/config.h, at its exact position */
    struct toml_value *root = load("# Alumet configuration\n"
                                   "max_update_interval = \"2s\"\n"
                                   "\n"
                                   "[plugins.csv]\n"
                                   "output_path = \"alumet-output.csv\"\n"
                                   "\n"
                                   "[plugins.rapl]\n"
                                   "# poll every second\n"
                                   "flush_interval = \"1h 30m\"\n"
                                   "bad = \"5 parsecs\"\n"
                                   "huge = \"300years\"\n"
                                   "poll_interval = 5\n");
    struct alumet_config *rapl = table(root, "plugins", "rapl");
    struct alumet_error err = {0};
    alumet_time_ns v = 0;

    assert_int_equal(alumet_config_get_duration(rapl, "flush_interval", 1, &v, &err), 0);
    assert_int_equal(v, 5400 * ALUMET_NSEC_PER_SEC);
    assert_int_equal(alumet_config_get_duration(rapl, "absent", 1234, &v, &err), 0);
    assert_int_equal(v, 1234);
    assert_int_equal(alumet_config_get_duration(rapl, "poll_interval", 1, &v, &err), -EINVAL);
    assert_string_equal(err.msg, "alumet-config.toml:12:17: plugins.rapl.poll_interval: expected "
                                 "a duration such as \"1s\", got integer 5");
    assert_int_equal(alumet_config_get_duration(rapl, "bad", 1, &v, &err), -EINVAL);
    assert_string_equal(err.msg, "alumet-config.toml:10:7: plugins.rapl.bad: invalid duration "
                                 "\"5 parsecs\": expected a number followed by a unit such as "
                                 "\"1s\", \"500ms\" or \"1h 30m\"");
    assert_int_equal(alumet_config_get_duration(rapl, "huge", 1, &v, &err), -EINVAL);
    assert_string_equal(err.msg, "alumet-config.toml:11:8: plugins.rapl.huge: duration "
                                 "\"300years\" is too large (the maximum is about 292 years)");
    assert_int_equal(v, 1234);
    toml_free(root);
}

/* A poll or flush interval: a duration above zero; "0s" names the key and
 * gives the default as the example. */
static void test_get_interval(void **state)
{
    (void)state;
    struct toml_value *root = load("a = \"500ms\"\nzero = \"0s\"\nn = 1\n");
    struct alumet_error err = {0};
    alumet_time_ns v = 0;

    assert_int_equal(alumet_config_get_interval(cfg(root), "a", 1, &v, &err), 0);
    assert_int_equal(v, 500 * ALUMET_NSEC_PER_MSEC);
    assert_int_equal(alumet_config_get_interval(cfg(root), "absent", 7, &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(
        alumet_config_get_interval(cfg(root), "zero", 60 * ALUMET_NSEC_PER_SEC, &v, &err), -EINVAL);
    assert_string_equal(err.msg,
                        FILE_NAME ":2:8: zero: expected a duration greater than zero such as "
                                  "\"1m\"");
    assert_int_equal(alumet_config_get_interval(cfg(root), "n", 1, &v, &err), -EINVAL);
    assert_string_equal(err.msg,
                        FILE_NAME ":3:5: n: expected a duration such as \"1s\", got integer 1");
    toml_free(root);
}

static void test_get_char(void **state)
{
    (void)state;
    struct toml_value *root = load("d = \";\"\nlong = \"ab\"\nempty = \"\"\nn = 1\n");
    struct alumet_error err = {0};
    char v = 0;

    assert_int_equal(alumet_config_get_char(cfg(root), "d", ',', &v, &err), 0);
    assert_int_equal(v, ';');
    assert_int_equal(alumet_config_get_char(cfg(root), "x", ',', &v, &err), 0);
    assert_int_equal(v, ',');
    assert_int_equal(alumet_config_get_char(cfg(root), "long", ',', &v, &err), -EINVAL);
    assert_string_equal(err.msg,
                        FILE_NAME ":2:8: long: expected a single character, got string \"ab\"");
    assert_int_equal(alumet_config_get_char(cfg(root), "empty", ',', &v, &err), -EINVAL);
    assert_string_equal(err.msg,
                        FILE_NAME ":3:9: empty: expected a single character, got string \"\"");
    assert_int_equal(alumet_config_get_char(cfg(root), "n", ',', &v, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":4:5: n: expected a single character, got integer 1");
    toml_free(root);
}

static void test_get_string_array(void **state)
{
    (void)state;
    struct toml_value *root = load("a = [\"x\", \"y\"]\ne = []\nm = [\"x\", 1]\n"
                                   "s = \"x\\ty\\\"\"\n");
    struct alumet_error err = {0};
    const char **items = NULL;
    size_t n = 99;

    assert_int_equal(alumet_config_get_string_array(cfg(root), "a", &items, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0], "x");
    assert_string_equal(items[1], "y");
    assert_null(items[2]);
    free(items);
    assert_true(toml_table_get(root, "a")->used);

    assert_int_equal(alumet_config_get_string_array(cfg(root), "e", &items, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_non_null(items);
    assert_null(items[0]);
    free(items);

    assert_int_equal(alumet_config_get_string_array(cfg(root), "x", &items, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(items);

    assert_int_equal(alumet_config_get_string_array(cfg(root), "m", &items, &n, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":3:11: m[1]: expected a string, got integer 1");
    assert_int_equal(alumet_config_get_string_array(cfg(root), "s", &items, &n, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME
                        ":4:5: s: expected an array of strings, got string \"x\\ty\\\"\"");
    toml_free(root);
}

static void test_get_table(void **state)
{
    (void)state;
    struct toml_value *root = load("v = 3\narr = [1, 2]\nit = { a = 1 }\n[t]\nk = 1\n");
    struct alumet_error err = {0};
    struct alumet_config *t = NULL;
    int64_t k = 0;

    assert_int_equal(alumet_config_get_table(cfg(root), "t", &t, &err), 0);
    assert_non_null(t);
    assert_true(toml_table_get(root, "t")->used);
    /* keys inside are not marked by fetching the table */
    assert_false(toml_table_get(alumet__config_value(t), "k")->used);
    assert_int_equal(alumet_config_get_int(t, "k", 0, &k, &err), 0);
    assert_int_equal(k, 1);
    assert_int_equal(alumet_config_get_table(cfg(root), "x", &t, &err), 0);
    assert_null(t);
    assert_int_equal(alumet_config_get_table(cfg(root), "v", &t, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":1:5: v: expected a table, got integer 3");
    assert_int_equal(alumet_config_get_table(cfg(root), "arr", &t, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":2:7: arr: expected a table, got array");
    assert_int_equal(alumet_config_get_int(cfg(root), "it", 0, &k, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":3:6: it: expected an integer, got table");
    toml_free(root);
}

static void test_null_and_unpositioned(void **state)
{
    (void)state;
    struct alumet_error err = {0};
    int64_t i = 0;
    const char *s = NULL;

    /* a NULL table reads as an empty one */
    assert_int_equal(alumet_config_get_int(NULL, "a", 5, &i, &err), 0);
    assert_int_equal(i, 5);
    assert_int_equal(alumet_config_get_string(NULL, "a", "d", &s, &err), 0);
    assert_string_equal(s, "d");
    assert_false(alumet_config_has(NULL, "a"));
    assert_int_equal(alumet_config_len(NULL), 0);
    assert_null(alumet_config_key_at(NULL, 0));

    /* values built in code have no position: no "file:line:col: " */
    struct toml_value *root = toml_table_new();
    assert_non_null(root);
    struct toml_value *sub = toml_table_new();
    assert_non_null(sub);
    assert_int_equal(toml_table_set(root, "sub", sub), 0);
    assert_int_equal(alumet_config_get_int(cfg(root), "sub", 0, &i, &err), -EINVAL);
    assert_string_equal(err.msg, "sub: expected an integer, got table");
    assert_int_equal(
        alumet_config_error(cfg(sub), "port", &err, -ERANGE, "must be below %d", 65536), -ERANGE);
    assert_string_equal(err.msg, "sub.port: must be below 65536");
    toml_free(root);
}

static void test_has_len_key_at(void **state)
{
    (void)state;
    struct toml_value *root = load("b = 1\na = 2\n[c]\n");

    assert_true(alumet_config_has(cfg(root), "a"));
    assert_false(alumet_config_has(cfg(root), "z"));
    assert_false(toml_table_get(root, "a")->used); /* has does not mark */
    assert_int_equal(alumet_config_len(cfg(root)), 3);
    assert_string_equal(alumet_config_key_at(cfg(root), 0), "b");
    assert_string_equal(alumet_config_key_at(cfg(root), 1), "a");
    assert_string_equal(alumet_config_key_at(cfg(root), 2), "c");
    assert_null(alumet_config_key_at(cfg(root), 3));
    toml_free(root);
}

static void test_config_error(void **state)
{
    (void)state;
    struct toml_value *root = load("[plugins.x]\nport = 70000\n");
    struct alumet_config *x = table(root, "plugins", "x");
    struct alumet_error err = {0};

    assert_int_equal(alumet_config_error(x, "port", &err, -ERANGE, "%d is out of range", 70000),
                     -ERANGE);
    assert_int_equal(err.code, -ERANGE);
    assert_string_equal(err.msg, FILE_NAME ":2:8: plugins.x.port: 70000 is out of range");
    /* an absent key is placed at its table */
    assert_int_equal(alumet_config_error(x, "host", &err, -EINVAL, "is required"), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":1:1: plugins.x.host: is required");
    toml_free(root);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    struct toml_value *root = load("[plugins.csv]\n"
                                   "outptu_path = \"x.csv\"\n"
                                   "append_unit_to_metric_name = true\n"
                                   "totally_different = 1\n"
                                   "flush_intervall = \"1s\"\n"
                                   "flush_interval = \"1s\"\n"
                                   "Csv_delimiter = \";\"\n");
    struct alumet_config *csv = table(root, "plugins", "csv");
    const char *path = NULL;
    bool append = false;
    alumet_time_ns flush = 0;
    char delim = 0;
    struct reports rep = {.n = 0};

    assert_int_equal(alumet_config_get_string(csv, "output_path", "o.csv", &path, NULL), 0);
    assert_int_equal(alumet_config_get_bool(csv, "append_unit_to_metric_name", 0, &append, NULL),
                     0);
    assert_int_equal(alumet_config_get_duration(csv, "flush_interval", 0, &flush, NULL), 0);
    assert_int_equal(alumet_config_get_char(csv, "csv_delimiter", ',', &delim, NULL), 0);
    /* asked twice, suggested once */
    assert_int_equal(alumet_config_get_string(csv, "output_path", "o.csv", &path, NULL), 0);

    int n = alumet__config_report_unused(alumet__config_value(csv), report_cb, &rep);
    assert_int_equal(n, 4);
    assert_int_equal(rep.n, 4);
    assert_string_equal(rep.msgs[0], FILE_NAME ":2:1: plugins.csv.outptu_path: unknown key, did "
                                               "you mean 'output_path'?");
    assert_string_equal(rep.msgs[1], FILE_NAME ":4:1: plugins.csv.totally_different: unknown key");
    /* a present key that was read is a candidate too */
    assert_string_equal(rep.msgs[2], FILE_NAME ":5:1: plugins.csv.flush_intervall: unknown key, "
                                               "did you mean 'flush_interval'?");
    assert_string_equal(rep.msgs[3], FILE_NAME ":7:1: plugins.csv.Csv_delimiter: unknown key, did "
                                               "you mean 'csv_delimiter'?");
    reports_free(&rep);

    /* without a callback, only the count */
    assert_int_equal(alumet__config_report_unused(alumet__config_value(csv), NULL, NULL), 4);
    toml_free(root);
}

static void test_unknown_keys_nested(void **state)
{
    (void)state;
    struct toml_value *root = load("[plugins.x]\n"
                                   "a = 1\n"
                                   "list = [{ q = 1 }]\n"
                                   "[plugins.x.sub]\n"
                                   "b = 2\n"
                                   "c = 3\n"
                                   "[plugins.x.other]\n"
                                   "d = 4\n"
                                   "[plugins.x.other.deeper]\n"
                                   "e = 5\n");
    struct alumet_config *x = table(root, "plugins", "x");
    struct alumet_config *sub = NULL;
    int64_t i = 0;
    struct reports rep = {.n = 0};

    assert_int_equal(alumet_config_get_int(x, "a", 0, &i, NULL), 0);
    assert_int_equal(alumet_config_get_table(x, "sub", &sub, NULL), 0);
    assert_int_equal(alumet_config_get_int(sub, "b", 0, &i, NULL), 0);
    assert_int_equal(alumet_config_get_int(sub, "cc", 0, &i, NULL), 0);
    assert_int_equal(alumet_config_get_table(x, "others", &sub, NULL), 0);

    int n = alumet__config_report_unused(alumet__config_value(x), report_cb, &rep);
    assert_int_equal(n, 3);
    assert_string_equal(rep.msgs[0], FILE_NAME ":3:1: plugins.x.list: unknown key");
    assert_string_equal(rep.msgs[1],
                        FILE_NAME ":6:1: plugins.x.sub.c: unknown key, did you mean 'cc'?");
    /* a table never fetched is reported once, as a whole */
    assert_string_equal(rep.msgs[2], FILE_NAME ":7:12: plugins.x.other: unknown key, did you mean "
                                               "'others'?");
    reports_free(&rep);
    toml_free(root);
}

/* A NUL cannot travel in a C string: the getters refuse it at the value. */
static void test_nul_in_string(void **state)
{
    (void)state;
    struct toml_value *root = load("[plugins.csv]\n"
                                   "output_path = \"out\\u0000.csv\"\n"
                                   "list = [\"ok\", \"\\u0000\"]\n"
                                   "d = \"\\u0000\"\n");
    struct alumet_config *csv = table(root, "plugins", "csv");
    struct alumet_error err = {0};
    const char *s = "unchanged";
    const char **items = NULL;
    size_t n = 0;
    char c = 'x';

    assert_int_equal(alumet_config_get_string(csv, "output_path", NULL, &s, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":2:15: plugins.csv.output_path: string "
                                           "\"out\\u0000.csv\" contains a NUL character "
                                           "(\\u0000), which cannot be used here; remove it");
    assert_string_equal(s, "unchanged");
    assert_int_equal(alumet_config_get_string_array(csv, "list", &items, &n, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":3:15: plugins.csv.list[1]: string \"\\u0000\" "
                                           "contains a NUL character (\\u0000), which cannot be "
                                           "used here; remove it");
    assert_null(items);
    assert_int_equal(alumet_config_get_char(csv, "d", ',', &c, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":4:5: plugins.csv.d: string \"\\u0000\" contains a "
                                           "NUL character (\\u0000), which cannot be used here; "
                                           "remove it");
    assert_int_equal(c, 'x');

    struct alumet_config *arr = NULL;
    assert_int_equal(alumet_config_get_array(csv, "list", &arr, &n, &err), 0);
    assert_int_equal(alumet_config_array_string(arr, 0, &s, &err), 0);
    assert_string_equal(s, "ok");
    assert_int_equal(alumet_config_array_string(arr, 1, &s, &err), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":3:15: plugins.csv.list[1]: string \"\\u0000\" "
                                           "contains a NUL character (\\u0000), which cannot be "
                                           "used here; remove it");
    toml_free(root);

    /* a raw NUL byte in the text is a parse error */
    char errbuf[ALUMET_ERROR_MSG_MAX];
    static const char raw[] = "a = \"out\0.csv\"\n";
    assert_null(toml_parse(raw, sizeof(raw) - 1, FILE_NAME, errbuf, sizeof(errbuf)));
    assert_string_equal(errbuf, FILE_NAME ":1:9: invalid control character U+0000");
}

/* Many unknown keys: every one reported, the suggestions still right (this
 * took minutes when each report scanned the whole table). */
struct many_reports {
    size_t n;
    char *first, *typo;
};

static void many_report_cb(void *data, const char *msg)
{
    struct many_reports *m = data;
    char **slot = NULL;

    if (m->n == 0)
        slot = &m->first;
    else if (strstr(msg, "outptu_path"))
        slot = &m->typo;
    m->n++;
    if (slot) {
        *slot = strdup(msg);
        assert_non_null(*slot);
    }
}

static void test_unknown_keys_many(void **state)
{
    (void)state;
    const size_t n_keys = 200000;
    size_t cap = 32 * n_keys, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "[plugins.csv]\noutput_path = \"o.csv\"\n");
    for (size_t i = 0; i < n_keys - 1; i++)
        len += (size_t)snprintf(text + len, cap - len, "key_%zu = %zu\n", i, i);
    len += (size_t)snprintf(text + len, cap - len, "outptu_path = 1\n");
    assert_true(len < cap);
    struct toml_value *root = load(text);
    free(text);
    struct alumet_config *csv = table(root, "plugins", "csv");
    const char *path = NULL;
    int64_t i = 0;
    assert_int_equal(alumet_config_get_string(csv, "output_path", NULL, &path, NULL), 0);
    assert_int_equal(alumet_config_get_int(csv, "key_threshold", 0, &i, NULL), 0);

    struct many_reports m = {.n = 0};
    int n = alumet__config_report_unused(alumet__config_value(csv), many_report_cb, &m);
    assert_int_equal(n, n_keys);
    assert_int_equal(m.n, n_keys);
    assert_string_equal(m.first, FILE_NAME ":3:1: plugins.csv.key_0: unknown key");
    assert_string_equal(m.typo, FILE_NAME ":200002:1: plugins.csv.outptu_path: unknown key, did "
                                          "you mean 'output_path'?");
    free(m.first);
    free(m.typo);
    toml_free(root);
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(edit_distance("", ""), 0);
    assert_int_equal(edit_distance("abc", ""), 3);
    assert_int_equal(edit_distance("", "abc"), 3);
    assert_int_equal(edit_distance("same", "same"), 0);
    assert_int_equal(edit_distance("kitten", "sitting"), 3);
    assert_int_equal(edit_distance("ca", "ac"), 1);
    /* optimal string alignment: no edit of a transposed pair */
    assert_int_equal(edit_distance("ca", "abc"), 3);
    assert_int_equal(edit_distance("outptu_path", "output_path"), 1);
    assert_int_equal(edit_distance("pol_interval", "poll_interval"), 1);
    assert_int_equal(edit_distance("exec", "exce"), 1);
    assert_int_equal(edit_distance("run", "watch"), 5);
    /* rows longer than the stack's 64 are allocated */
    char a[201], b[201];
    memset(a, 'x', 200);
    memcpy(b, a, 200);
    a[200] = b[200] = '\0';
    b[7] = 'y';
    b[150] = 'z';
    assert_int_equal(edit_distance(a, b), 2);
    a[100] = b[101] = 'p'; /* and a transposed pair */
    a[101] = b[100] = 'q';
    assert_int_equal(edit_distance(a, b), 3);

    /* bounded: the distance when at most max, else max + 1 */
    assert_int_equal(edit_distance_within("kitten", 6, "sitting", 7, 3), 3);
    assert_int_equal(edit_distance_within("kitten", 6, "sitting", 7, 2), 3);
    assert_int_equal(edit_distance_within("kitten", 6, "sitting", 7, 0), 1);
    assert_int_equal(edit_distance_within("ab", 2, "abcdef", 6, 3), 4); /* lengths alone */
    assert_int_equal(edit_distance_within("exec", 4, "exce", 4, 1), 1);
    assert_int_equal(edit_distance_within("same", 4, "same", 4, 0), 0);
    assert_int_equal(edit_distance_within(a, 200, b, 200, 2), 3);
    assert_int_equal(edit_distance_within(a, 200, b, 200, 5), 3);
}

static void test_path(void **state)
{
    (void)state;
    struct toml_value *root = load("[a.\"b.c\"]\nd = [1, [2, { e = 3 }]]\n");
    struct toml_value *bc = toml_table_get(toml_table_get(root, "a"), "b.c");
    struct toml_value *d = toml_table_get(bc, "d");
    struct toml_value *e = toml_table_get(d->u.arr.items[1]->u.arr.items[1], "e");
    char buf[64];

    assert_int_equal(alumet__config_path(e, buf, sizeof(buf)), strlen("a.\"b.c\".d[1][1].e"));
    assert_string_equal(buf, "a.\"b.c\".d[1][1].e");
    assert_int_equal(alumet__config_path(d, buf, 5), strlen("a.\"b.c\".d"));
    assert_string_equal(buf, "a.\"b");
    assert_int_equal(alumet__config_path(d, NULL, 0), strlen("a.\"b.c\".d"));
    assert_int_equal(alumet__config_path(root, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    toml_free(root);
}

static void test_merge(void **state)
{
    (void)state;
    struct toml_value *base = load("a = 1\n"
                                   "s = 1\n"
                                   "[t]\n"
                                   "x = 1\n"
                                   "y = \"keep\"\n"
                                   "[t.sub]\n"
                                   "z = 1\n"
                                   "[u]\n"
                                   "k = 1\n");
    struct alumet_error err = {0};
    struct toml_value *over = NULL;
    const char *text = "a = \"now a string\"\n"
                       "b = 2\n"
                       "u = 5\n"
                       "[s]\n"
                       "q = 1\n"
                       "[t]\n"
                       "x = 10\n"
                       "new = true\n"
                       "[t.sub]\n"
                       "w = 2\n";
    assert_int_equal(alumet__config_load_text(text, strlen(text), "override.toml", 0, &over, &err),
                     0);

    assert_int_equal(alumet__config_merge(base, over), 0);
    assert_int_equal(over->u.tab.len, 0);
    toml_free(over);

    /* key order: base's keys in place, then the new ones */
    assert_int_equal(alumet_config_len(cfg(base)), 5);
    assert_string_equal(alumet_config_key_at(cfg(base), 0), "a");
    assert_string_equal(alumet_config_key_at(cfg(base), 1), "s");
    assert_string_equal(alumet_config_key_at(cfg(base), 2), "t");
    assert_string_equal(alumet_config_key_at(cfg(base), 3), "u");
    assert_string_equal(alumet_config_key_at(cfg(base), 4), "b");

    const char *str = NULL;
    int64_t i = 0;
    bool b = false;
    /* scalar replaced, with a type change */
    assert_int_equal(alumet_config_get_string(cfg(base), "a", NULL, &str, &err), 0);
    assert_string_equal(str, "now a string");
    assert_int_equal(alumet_config_get_int(cfg(base), "b", 0, &i, &err), 0);
    assert_int_equal(i, 2);
    /* table replaced by a scalar, scalar by a table */
    assert_int_equal(alumet_config_get_int(cfg(base), "u", 0, &i, &err), 0);
    assert_int_equal(i, 5);
    struct alumet_config *s = table(base, "s", NULL);
    assert_int_equal(alumet_config_get_int(s, "q", 0, &i, &err), 0);
    assert_int_equal(i, 1);
    /* table + table: merged */
    struct alumet_config *t = table(base, "t", NULL);
    assert_int_equal(alumet_config_len(t), 4);
    assert_int_equal(alumet_config_get_int(t, "x", 0, &i, &err), 0);
    assert_int_equal(i, 10);
    assert_int_equal(alumet_config_get_string(t, "y", NULL, &str, &err), 0);
    assert_string_equal(str, "keep");
    assert_int_equal(alumet_config_get_bool(t, "new", false, &b, &err), 0);
    assert_true(b);
    struct alumet_config *sub = table(base, "t", "sub");
    assert_int_equal(alumet_config_len(sub), 2);
    assert_int_equal(alumet_config_get_int(sub, "z", 0, &i, &err), 0);
    assert_int_equal(i, 1);
    assert_int_equal(alumet_config_get_int(sub, "w", 0, &i, &err), 0);
    assert_int_equal(i, 2);
    /* moved values keep their place in the override */
    assert_int_equal(alumet_config_get_bool(cfg(base), "b", false, &b, &err), -EINVAL);
    assert_string_equal(err.msg, "override.toml:2:5: b: expected a boolean, got integer 2");
    assert_int_equal(alumet__config_report_unused(base, NULL, NULL), 0);
    toml_free(base);
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    char *r = strdup(path);
    assert_non_null(r);
    return r;
}

static void test_load_file(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    struct alumet_error err = {0};
    struct toml_value *root = NULL;
    char expected[PATH_MAX + 200];

    setenv("ALUMET_TEST_CSV", "out.csv", 1);
    unsetenv("ALUMET_TEST_MISSING");
    char *path = write_file(dir, "alumet-config.toml",
                            "# ${ALUMET_TEST_MISSING} in a comment\n"
                            "[plugins.csv]\n"
                            "output_path = \"${ALUMET_TEST_CSV}\"\n"
                            "poll = 1\n");
    assert_int_equal(alumet__config_load_file(path, &root, &err), 0);
    struct alumet_config *csv = table(root, "plugins", "csv");
    const char *out = NULL;
    assert_int_equal(alumet_config_get_string(csv, "output_path", NULL, &out, &err), 0);
    assert_string_equal(out, "out.csv");
    alumet_time_ns d = 0;
    assert_int_equal(alumet_config_get_duration(csv, "poll", 0, &d, &err), -EINVAL);
    /* the file name in positions is the path given */
    snprintf(expected, sizeof(expected),
             "%s:4:8: plugins.csv.poll: expected a duration such as \"1s\", got integer 1", path);
    assert_string_equal(err.msg, expected);

    /* an override loaded from a file outlives its own tree once merged */
    char *opath = write_file(dir, "override.toml", "[plugins.csv]\nextra = 1\n");
    struct toml_value *over = NULL;
    assert_int_equal(alumet__config_load_file(opath, &over, &err), 0);
    assert_int_equal(alumet__config_merge(root, over), 0);
    toml_free(over);
    struct reports rep = {.n = 0};
    assert_int_equal(alumet__config_report_unused(alumet__config_value(csv), report_cb, &rep), 1);
    snprintf(expected, sizeof(expected), "%s:2:1: plugins.csv.extra: unknown key", opath);
    assert_string_equal(rep.msgs[0], expected);
    reports_free(&rep);
    toml_free(root);
    free(opath);
    free(path);

    /* substitution errors */
    path = write_file(dir, "missing-var.toml", "a = \"${ALUMET_TEST_MISSING}\"\n");
    root = NULL;
    assert_int_equal(alumet__config_load_file(path, &root, &err), -EINVAL);
    snprintf(expected, sizeof(expected),
             "%s:1:6: the environment variable ALUMET_TEST_MISSING does not exist", path);
    assert_string_equal(err.msg, expected);
    assert_null(root);
    free(path);

    /* parse errors, as toml_parse writes them */
    path = write_file(dir, "bad.toml", "a = 1\nb = \n");
    assert_int_equal(alumet__config_load_file(path, &root, &err), -EINVAL);
    snprintf(expected, sizeof(expected), "%s:2:", path);
    assert_memory_equal(err.msg, expected, strlen(expected));
    free(path);

    /* a missing file */
    snprintf(expected, sizeof(expected), "%s/nope.toml", dir);
    path = strdup(expected);
    assert_non_null(path);
    assert_int_equal(alumet__config_load_file(path, &root, &err), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    snprintf(expected, sizeof(expected),
             "could not load config from '%s': No such file or directory", path);
    assert_string_equal(err.msg, expected);
    free(path);

    /* a directory */
    assert_int_equal(alumet__config_load_file(dir, &root, &err), -EISDIR);
    snprintf(expected, sizeof(expected), "could not load config from '%s': Is a directory", dir);
    assert_string_equal(err.msg, expected);

    alumet_test_rmtree(dir);
}

/* A config is read up to 16 MiB, whatever the file is (/dev/zero never ends). */
static void test_load_size_limit(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    struct alumet_error err = {0};
    struct toml_value *root = NULL;
    char expected[PATH_MAX + 200];
    char path[PATH_MAX];
    const size_t limit = 16u << 20;

    /* exactly the limit: comments, accepted */
    snprintf(path, sizeof(path), "%s/big.toml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char line[] = "# 64 bytes of comment, repeated to fill the file to its limit..\n";
    assert_int_equal(sizeof(line) - 1, 64);
    for (size_t i = 0; i < limit / 64; i++)
        assert_int_equal(fwrite(line, 1, 64, f), 64);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(alumet__config_load_file(path, &root, &err), 0);
    toml_free(root);
    root = NULL;

    /* one byte more */
    f = fopen(path, "a");
    assert_non_null(f);
    assert_int_equal(fputc('\n', f), '\n');
    assert_int_equal(fclose(f), 0);
    assert_int_equal(alumet__config_load_file(path, &root, &err), -EFBIG);
    snprintf(expected, sizeof(expected),
             "%s: configuration larger than 16 MiB; is this the right file? A configuration is a "
             "TOML text file of a few KiB: point --config (or ALUMET_CONFIG) at one",
             path);
    assert_string_equal(err.msg, expected);
    assert_null(root);

    /* a device that never ends */
    assert_int_equal(alumet__config_load_file("/dev/zero", &root, &err), -EFBIG);
    assert_string_equal(err.msg,
                        "/dev/zero: configuration larger than 16 MiB; is this the right file? A "
                        "configuration is a TOML text file of a few KiB: point --config (or "
                        "ALUMET_CONFIG) at one");
    assert_null(root);
    alumet_test_rmtree(dir);
}

static void test_load_text_substitute(void **state)
{
    (void)state;
    struct alumet_error err = {0};
    struct toml_value *root = NULL;
    const char *text = "a = \"${ALUMET_TEST_CSV}\"\n";
    const char *s = NULL;

    setenv("ALUMET_TEST_CSV", "out.csv", 1);
    assert_int_equal(alumet__config_load_text(text, strlen(text), "t", 1, &root, &err), 0);
    assert_int_equal(alumet_config_get_string(cfg(root), "a", NULL, &s, &err), 0);
    assert_string_equal(s, "out.csv");
    toml_free(root);
    assert_int_equal(alumet__config_load_text(text, strlen(text), "t", 0, &root, &err), 0);
    assert_int_equal(alumet_config_get_string(cfg(root), "a", NULL, &s, &err), 0);
    assert_string_equal(s, "${ALUMET_TEST_CSV}");
    toml_free(root);
}

/* `config check`: the getters record a bad value and go on with the default,
 * alumet_config_error records too, an array item stays an error. */
static void test_collect(void **state)
{
    (void)state;
    struct toml_value *root =
        load("n = \"x\"\nb = 1\nd = \"5 parsecs\"\nc = \"ab\"\na = [1, \"s\", 2]\n"
             "t = 3\nz = \"a\\u0000b\"\nok = 7\n");
    struct config_problems p = {.msgs = NULL};
    struct alumet_error err = {0};
    int64_t n = 0;
    bool b = false;
    alumet_time_ns d = 0;
    char c = 0;
    const char **items = (const char **)1;
    size_t len = 9;
    struct alumet_config *t = cfg(root);
    const char *z = NULL;

    assert_false(alumet_config_checking());
    alumet__config_collect_begin(&p);
    assert_true(alumet_config_checking());
    assert_int_equal(alumet_config_get_int(cfg(root), "n", 42, &n, &err), 0);
    assert_int_equal(n, 42);
    assert_int_equal(alumet_config_get_bool(cfg(root), "b", true, &b, &err), 0);
    assert_true(b);
    assert_int_equal(alumet_config_get_duration(cfg(root), "d", 9, &d, &err), 0);
    assert_int_equal(d, 9);
    assert_int_equal(alumet_config_get_char(cfg(root), "c", ';', &c, &err), 0);
    assert_int_equal(c, ';');
    assert_int_equal(alumet_config_get_string_array(cfg(root), "a", &items, &len, &err), 0);
    assert_null(items);
    assert_int_equal(len, 0);
    assert_int_equal(alumet_config_get_table(cfg(root), "t", &t, &err), 0);
    assert_null(t);
    assert_int_equal(alumet_config_get_string(cfg(root), "z", "dflt", &z, &err), 0);
    assert_string_equal(z, "dflt");
    assert_int_equal(alumet_config_get_int(cfg(root), "ok", 0, &n, &err), 0);
    assert_int_equal(n, 7);
    assert_int_equal(alumet_config_error(cfg(root), "ok", &err, -EINVAL, "too big"), -EINVAL);
    assert_string_equal(err.msg, FILE_NAME ":8:6: ok: too big");
    alumet__config_collect_end();
    assert_false(alumet_config_checking());

    static const char *const want[] = {
        FILE_NAME ":1:5: n: expected an integer, got string \"x\"",
        FILE_NAME ":2:5: b: expected a boolean, got integer 1",
        FILE_NAME ":3:5: d: invalid duration \"5 parsecs\": expected a number followed by a "
                  "unit such as \"1s\", \"500ms\" or \"1h 30m\"",
        FILE_NAME ":4:5: c: expected a single character, got string \"ab\"",
        FILE_NAME ":5:6: a[0]: expected a string, got integer 1",
        FILE_NAME ":5:14: a[2]: expected a string, got integer 2",
        FILE_NAME ":6:5: t: expected a table, got integer 3",
        FILE_NAME ":7:5: z: string \"a\\u0000b\" contains a NUL character (\\u0000), which "
                  "cannot be used here; remove it",
        FILE_NAME ":8:6: ok: too big",
    };
    assert_int_equal(p.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < p.n; i++)
        assert_string_equal(p.msgs[i], want[i]);
    alumet__config_problems_free(&p);

    /* without a collector, the first bad value is an error again */
    assert_int_equal(alumet_config_get_int(cfg(root), "n", 42, &n, &err), -EINVAL);
    assert_string_equal(alumet_config_type(cfg(root), "a"), "array");
    assert_string_equal(alumet_config_type(cfg(root), "ok"), "integer");
    assert_null(alumet_config_type(cfg(root), "absent"));
    toml_free(root);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_get_string),
        cmocka_unit_test(test_get_bool),
        cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_get_float),
        cmocka_unit_test(test_get_duration),
        cmocka_unit_test(test_get_interval),
        cmocka_unit_test(test_get_char),
        cmocka_unit_test(test_get_string_array),
        cmocka_unit_test(test_get_table),
        cmocka_unit_test(test_null_and_unpositioned),
        cmocka_unit_test(test_has_len_key_at),
        cmocka_unit_test(test_config_error),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_unknown_keys_nested),
        cmocka_unit_test(test_unknown_keys_many),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_size_limit),
        cmocka_unit_test(test_load_text_substitute),
        cmocka_unit_test(test_collect),
    };
    return alumet_run_tests(group);
}
