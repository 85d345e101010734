/* SPDX-License-Identifier: MIT */
/* The csv writer's rows from memos (csv-rows.c): the resource and consumer
 * cells and the attribute tails kept from row to row within a buffer. Every
 * expected text is written out by hand, and is what the writer printed
 * before the memos (the same bytes as upstream's csv output). */
#include "alumet-test-plugin.h"

#include <math.h>
#include <stdbool.h>

#include "core/buffer.h"
#include "plugins/csv/csv-writer.h"

struct fixture {
    struct alumet_registry *reg;
    struct alumet_buffer *buf;
    struct csv_writer *w;
    struct alumet_test_mem_sink sink;
    alumet_metric_id mu; /* "m", u64, no unit */
    alumet_metric_id mf; /* "f", f64, no unit */
};

static void fixture_init(struct fixture *f, char delimiter)
{
    struct csv_writer_opts opts = {
        .delimiter = delimiter,
        .late_delimiter = ',',
        .append_unit = true,
        .use_unit_display_name = true,
    };
    memset(f, 0, sizeof(*f));
    f->reg = alumet__registry_new();
    assert_non_null(f->reg);
    f->buf = alumet__buffer_new(4);
    assert_non_null(f->buf);
    f->w = csv_writer_new(&opts, alumet_test_mem_sink_write, &f->sink);
    assert_non_null(f->w);
    f->mu = alumet_test_add_metric(f->reg, "m", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY));
    f->mf = alumet_test_add_metric(f->reg, "f", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY));
}

static void fixture_done(struct fixture *f)
{
    csv_writer_free(f->w);
    alumet__buffer_free(f->buf);
    alumet__registry_free(f->reg);
    free(f->sink.s);
}

static void write_and_clear(struct fixture *f)
{
    struct alumet_error err = {0};
    assert_int_equal(csv_writer_write_buffer(f->w, f->buf, f->reg, &err), 0);
    assert_int_equal(csv_writer_flush(f->w), 0);
    alumet__buffer_clear(f->buf);
}

static struct alumet_point *push_u64(struct fixture *f, uint64_t v)
{
    struct alumet_point *p = alumet_test_push_u64(f->buf, f->mu, v);
    assert_non_null(p);
    return p;
}

#define HEAD "m;1970-01-01T00:00:00Z;"
#define LM "local_machine;;local_machine;;"
#define FIXED_HEADER "metric;timestamp;value;resource_kind;resource_id;consumer_kind;consumer_id;"

/* String attributes that need quotes (delimiter, quote, newline, CR), in a
 * header column and in __late_attributes, repeated from row to row (the
 * kept tail) and alternating with plain ones. */
static void test_memo_escaping(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, ';');
    static const char *const vals[] = {"a;b", "say \"hi\"", "two\nlines", "cr\r", "plain"};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 5; i++) {
            struct alumet_point *p = push_u64(&f, i);
            alumet_test_add_str(f.buf, p, "s", vals[i]);
            p = push_u64(&f, 10 + i);
            alumet_test_add_str(f.buf, p, "s", vals[i]);
        }
    }
    write_and_clear(&f);
    /* a later buffer: "late" is not a header column */
    for (size_t i = 0; i < 5; i++) {
        struct alumet_point *p = push_u64(&f, i);
        alumet_test_add_str(f.buf, p, "late", vals[i]);
        alumet_test_add_str(f.buf, p, "s", vals[i]);
        p = push_u64(&f, i);
        alumet_test_add_str(f.buf, p, "late", vals[i]);
        alumet_test_add_str(f.buf, p, "s", vals[i]);
    }
    write_and_clear(&f);

    const char *rows =
        HEAD "0;" LM "\"a;b\";\n" HEAD "10;" LM "\"a;b\";\n" HEAD "1;" LM
             "\"say \"\"hi\"\"\";\n" HEAD "11;" LM "\"say \"\"hi\"\"\";\n" HEAD "2;" LM
             "\"two\nlines\";\n" HEAD "12;" LM "\"two\nlines\";\n" HEAD "3;" LM "\"cr\r\";\n" HEAD
             "13;" LM "\"cr\r\";\n" HEAD "4;" LM "plain;\n" HEAD "14;" LM "plain;\n";
    char expected[4096];
    snprintf(expected, sizeof(expected),
             FIXED_HEADER "s;__late_attributes\n%s%s"
             /* the late value with ';' is quoted as a whole cell */
             HEAD "0;" LM "\"a;b\";\"late=a;b\"\n" HEAD "0;" LM "\"a;b\";\"late=a;b\"\n" HEAD
                          "1;" LM "\"say \"\"hi\"\"\";\"late=say \"\"hi\"\"\"\n" HEAD "1;" LM
                          "\"say \"\"hi\"\"\";\"late=say \"\"hi\"\"\"\n" HEAD "2;" LM
                          "\"two\nlines\";\"late=two\nlines\"\n" HEAD "2;" LM
                          "\"two\nlines\";\"late=two\nlines\"\n" HEAD "3;" LM
                          "\"cr\r\";\"late=cr\r\"\n" HEAD "3;" LM "\"cr\r\";\"late=cr\r\"\n" HEAD
                          "4;" LM "plain;late=plain\n" HEAD "4;" LM "plain;late=plain\n",
             rows, rows);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), expected);
    fixture_done(&f);
}

/* Consecutive rows whose attributes change: another value for the same key,
 * another key, fewer or more attributes, none; a late key whose value holds
 * the late delimiter; the same set again after others (kept, not rebuilt
 * wrong). */
static void test_memo_changing_attributes(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, ';');
    struct alumet_point *p = push_u64(&f, 1);
    alumet_test_add_str(f.buf, p, "a", "x");
    p = push_u64(&f, 2);
    alumet_test_add_str(f.buf, p, "b", "y");
    write_and_clear(&f);

    for (int round = 0; round < 2; round++) {
        p = push_u64(&f, 1);
        alumet_test_add_str(f.buf, p, "a", "x");
        p = push_u64(&f, 2);
        alumet_test_add_str(f.buf, p, "a", "z");
        p = push_u64(&f, 3);
        alumet_test_add_str(f.buf, p, "b", "x");
        p = push_u64(&f, 4);
        alumet_test_add_str(f.buf, p, "a", "x");
        alumet_test_add_str(f.buf, p, "b", "x");
        p = push_u64(&f, 5);
        p = push_u64(&f, 6);
        alumet_test_add_str(f.buf, p, "c", "1,2");
        p = push_u64(&f, 7);
        alumet_test_add_str(f.buf, p, "c", "1,2");
        alumet_test_add_str(f.buf, p, "d", "3");
        p = push_u64(&f, 8);
        alumet_test_add_str(f.buf, p, "b", "y");
        alumet_test_add_str(f.buf, p, "a", "x");
    }
    write_and_clear(&f);

    const char *rows = HEAD "1;" LM "x;;\n" HEAD "2;" LM "z;;\n" HEAD "3;" LM ";x;\n" HEAD "4;" LM
                            "x;x;\n" HEAD "5;" LM ";;\n" HEAD "6;" LM ";;c=1\\,2\n" HEAD "7;" LM
                            ";;c=1\\,2,d=3\n" HEAD "8;" LM "x;y;\n";
    char expected[2048];
    snprintf(expected, sizeof(expected),
             FIXED_HEADER "a;b;__late_attributes\n" HEAD "1;" LM "x;;\n" HEAD "2;" LM ";y;\n%s%s",
             rows, rows);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), expected);
    fixture_done(&f);
}

/* The memos compare strings by address within one buffer only: the same
 * address with another text in the next buffer (a recycled arena, a
 * rewritten array) gives the new text. */
static void test_memo_same_address_next_buffer(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, ';');
    char value[16] = "first";
    char id[16] = "c1";
    struct alumet_resource r = {ALUMET_RESOURCE_LOCAL_MACHINE, 0, NULL, NULL};
    struct alumet_consumer c = {ALUMET_CONSUMER_CGROUP, 0, id, NULL};

    for (int i = 0; i < 2; i++) {
        struct alumet_point *p = alumet_buffer_push_u64(f.buf, 0, f.mu, &r, &c, 1);
        assert_non_null(p);
        alumet_test_add_str(f.buf, p, "s", value);
    }
    write_and_clear(&f);
    strcpy(value, "sec;ond");
    strcpy(id, "c\"2");
    for (int i = 0; i < 2; i++) {
        struct alumet_point *p = alumet_buffer_push_u64(f.buf, 0, f.mu, &r, &c, 2);
        assert_non_null(p);
        alumet_test_add_str(f.buf, p, "s", value);
    }
    write_and_clear(&f);
    /* the buffer's own copies: the arena is reused after a clear */
    const char *texts[] = {"one", "t;wo", "three"};
    for (size_t b = 0; b < 3; b++) {
        for (int i = 0; i < 2; i++) {
            struct alumet_point *p = push_u64(&f, 3 + b);
            const char *s = alumet_buffer_strdup(f.buf, texts[b], (size_t)-1);
            assert_non_null(s);
            alumet_test_add_str(f.buf, p, "s", s);
        }
        write_and_clear(&f);
    }

    assert_string_equal(alumet_test_mem_sink_text(&f.sink), FIXED_HEADER
                        "s;__late_attributes\n" HEAD "1;local_machine;;cgroup;c1;first;\n" HEAD
                        "1;local_machine;;cgroup;c1;first;\n" HEAD
                        "2;local_machine;;cgroup;\"c\"\"2\";\"sec;ond\";\n" HEAD
                        "2;local_machine;;cgroup;\"c\"\"2\";\"sec;ond\";\n" HEAD "3;" LM
                        "one;\n" HEAD "3;" LM "one;\n" HEAD "4;" LM "\"t;wo\";\n" HEAD "4;" LM
                        "\"t;wo\";\n" HEAD "5;" LM "three;\n" HEAD "5;" LM "three;\n");
    fixture_done(&f);
}

/* Every value type and every attribute type, repeated and alternating:
 * f64 values NaN, ±inf, -0; attributes that differ only by sign of zero or
 * by a bool; lists (never kept) repeated. */
static void test_memo_value_types(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, ';');
    static const uint64_t items[] = {7, 8};
    struct alumet_attr list = {.key = "l", .type = ALUMET_ATTR_LIST_U64};
    list.v.list.items = items;
    list.v.list.len = 2;

    const double vals[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, 0.1, 1e21, 123456.789};
    for (size_t i = 0; i < 8; i++) {
        struct alumet_point *p = alumet_test_push_f64(f.buf, f.mf, vals[i]);
        assert_non_null(p);
        assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "af", i % 2 ? 0.0 : -0.0), 0);
        assert_int_equal(alumet_point_add_attr_bool(f.buf, p, "ab", i % 3 == 0), 0);
        assert_int_equal(
            alumet_point_add_attr_u64(f.buf, p, "au", i < 4 ? 18446744073709551615ull : 0), 0);
    }
    for (size_t i = 0; i < 2; i++) {
        struct alumet_point *p = push_u64(&f, i ? 18446744073709551615ull : 0);
        assert_int_equal(alumet_point_add_attr(f.buf, p, &list), 0);
        assert_int_equal(alumet_point_add_attr_f64(f.buf, p, "af", NAN), 0);
    }
    write_and_clear(&f);

    const char *fh = "f;1970-01-01T00:00:00Z;";
    char expected[4096];
    snprintf(expected, sizeof(expected),
             FIXED_HEADER "ab;af;au;l;__late_attributes\n"
                          "%sNaN;" LM "true;-0;18446744073709551615;;\n"
                          "%sinf;" LM "false;0;18446744073709551615;;\n"
                          "%s-inf;" LM "false;-0;18446744073709551615;;\n"
                          "%s-0;" LM "true;0;18446744073709551615;;\n"
                          "%s0;" LM "false;-0;0;;\n"
                          "%s0.1;" LM "false;0;0;;\n"
                          "%s1000000000000000000000;" LM "true;-0;0;;\n"
                          "%s123456.789;" LM "false;0;0;;\n" HEAD "0;" LM ";NaN;;[7, 8];\n" HEAD
                          "18446744073709551615;" LM ";NaN;;[7, 8];\n",
             fh, fh, fh, fh, fh, fh, fh, fh);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), expected);
    fixture_done(&f);
}

/* Resources and consumers: built-in kinds with numeric ids, custom kinds
 * and ids that need quotes, alternating from row to row and repeated. */
static void test_memo_resources(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, ';');
    const struct {
        struct alumet_resource r;
        struct alumet_consumer c;
    } cases[] = {
        {{ALUMET_RESOURCE_CPU_CORE, 4294967295u, NULL, NULL},
         {ALUMET_CONSUMER_PROCESS, 1, NULL, NULL}},
        {{ALUMET_RESOURCE_CPU_CORE, 3, NULL, NULL}, {ALUMET_CONSUMER_PROCESS, 1, NULL, NULL}},
        {{ALUMET_RESOURCE_DRAM, 0, NULL, NULL}, {ALUMET_CONSUMER_PROCESS, 2, NULL, NULL}},
        {{ALUMET_RESOURCE_GPU_PARTITION, 2, "gpu0", NULL},
         {ALUMET_CONSUMER_CUSTOM, 0, "x;y", "my kind"}},
        {{ALUMET_RESOURCE_CUSTOM, 0, "r\"1", "r;k"}, {ALUMET_CONSUMER_CUSTOM, 0, NULL, "c\nk"}},
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 5; i++) {
            for (int k = 0; k < 2; k++) {
                struct alumet_point *p =
                    alumet_buffer_push_u64(f.buf, 0, f.mu, &cases[i].r, &cases[i].c, i);
                assert_non_null(p);
                alumet_test_add_str(f.buf, p, "kind", k ? "b" : "a");
            }
        }
    }
    write_and_clear(&f);

    const char *rows =
        HEAD "0;cpu_core;4294967295;process;1;a;\n" HEAD "0;cpu_core;4294967295;process;1;b;\n" HEAD
             "1;cpu_core;3;process;1;a;\n" HEAD "1;cpu_core;3;process;1;b;\n" HEAD
             "2;dram;0;process;2;a;\n" HEAD "2;dram;0;process;2;b;\n" HEAD
             "3;gpu_partition;gpu0/2;my kind;\"x;y\";a;\n" HEAD
             "3;gpu_partition;gpu0/2;my kind;\"x;y\";b;\n" HEAD
             "4;\"r;k\";\"r\"\"1\";\"c\nk\";;a;\n" HEAD "4;\"r;k\";\"r\"\"1\";\"c\nk\";;b;\n";
    char expected[4096];
    snprintf(expected, sizeof(expected), FIXED_HEADER "kind;__late_attributes\n%s%s", rows, rows);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), expected);
    fixture_done(&f);
}

/* More attribute sets in one buffer than the writer keeps (40 values of a
 * u64 attribute, twice), more attributes than a kept tail holds (5), and an
 * attribute named like a fixed column (never kept: it changes that cell). */
static void test_memo_many_sets(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, ';');
    for (int round = 0; round < 2; round++) {
        for (uint64_t i = 0; i < 40; i++) {
            struct alumet_point *p = push_u64(&f, i);
            assert_int_equal(alumet_point_add_attr_u64(f.buf, p, "u", i * 1000), 0);
        }
    }
    write_and_clear(&f);
    for (int i = 0; i < 2; i++) {
        struct alumet_point *p = push_u64(&f, 1);
        static const char *const keys[] = {"k1", "k2", "k3", "k4", "u"};
        for (size_t k = 0; k < 5; k++)
            assert_int_equal(alumet_point_add_attr_u64(f.buf, p, keys[k], k), 0);
        p = push_u64(&f, 2);
        alumet_test_add_str(f.buf, p, "resource_id", "over");
        alumet_test_add_str(f.buf, p, "u", "s");
    }
    write_and_clear(&f);

    char expected[8192];
    size_t n = (size_t)snprintf(expected, sizeof(expected), FIXED_HEADER "u;__late_attributes\n");
    for (int round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 40; i++)
            n += (size_t)snprintf(expected + n, sizeof(expected) - n, HEAD "%u;" LM "%u;\n", i,
                                  i * 1000);
    }
    for (int i = 0; i < 2; i++) {
        n += (size_t)snprintf(expected + n, sizeof(expected) - n,
                              HEAD "1;" LM "4;k1=0,k2=1,k3=2,k4=3\n" HEAD
                                   "2;local_machine;over;local_machine;;s;\n");
    }
    assert_string_equal(alumet_test_mem_sink_text(&f.sink), expected);
    fixture_done(&f);
}

/* A buffer that the sink refuses is taken back whole and written again
 * later without a duplicate row; timestamps change within a buffer. */
struct refusing_sink {
    int calls;
    struct alumet_test_mem_sink mem;
};

static int refuse_first(void *data, const char *bytes, size_t len)
{
    struct refusing_sink *s = data;
    if (s->calls++ == 0)
        return -ENOSPC;
    return alumet_test_mem_sink_write(&s->mem, bytes, len);
}

static void test_memo_buffer_boundaries(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, ';');
    /* timestamps: two rows per second, then back to the first one */
    const alumet_time_ns ts[] = {1000000000, 1000000000, 2500000000, 2500000000, 1000000000};
    for (size_t i = 0; i < 5; i++) {
        struct alumet_point *p = alumet_buffer_push_u64(
            f.buf, ts[i], f.mu, &alumet_test_local_resource, &alumet_test_local_consumer, i);
        assert_non_null(p);
        alumet_test_add_str(f.buf, p, "s", "v");
    }
    write_and_clear(&f);
    assert_string_equal(alumet_test_mem_sink_text(&f.sink),
                        FIXED_HEADER "s;__late_attributes\n"
                                     "m;1970-01-01T00:00:01Z;0;" LM "v;\n"
                                     "m;1970-01-01T00:00:01Z;1;" LM "v;\n"
                                     "m;1970-01-01T00:00:02.5Z;2;" LM "v;\n"
                                     "m;1970-01-01T00:00:02.5Z;3;" LM "v;\n"
                                     "m;1970-01-01T00:00:01Z;4;" LM "v;\n");

    /* a writer that flushes each buffer into a sink that fails once */
    struct refusing_sink sink = {0};
    struct csv_writer_opts opts = {
        .delimiter = ';', .late_delimiter = ',', .flush_each_buffer = true};
    struct csv_writer *w = csv_writer_new(&opts, refuse_first, &sink);
    assert_non_null(w);
    struct alumet_error err = {0};
    for (size_t i = 0; i < 3; i++) {
        struct alumet_point *p = push_u64(&f, i);
        alumet_test_add_str(f.buf, p, "s", "v");
    }
    assert_int_equal(csv_writer_write_buffer(w, f.buf, f.reg, &err), -ENOSPC);
    assert_int_equal(csv_writer_pending_rows(w), 0);
    assert_int_equal(csv_writer_write_buffer(w, f.buf, f.reg, &err), 0);
    assert_int_equal(sink.calls, 2);
    assert_int_equal(csv_writer_pending_rows(w), 0);
    /* the header stayed buffered through the failure; each row once */
    assert_string_equal(alumet_test_mem_sink_text(&sink.mem),
                        FIXED_HEADER "s;__late_attributes\n" HEAD "0;" LM "v;\n" HEAD "1;" LM
                                     "v;\n" HEAD "2;" LM "v;\n");
    free(sink.mem.s);
    csv_writer_free(w);
    fixture_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo_escaping),
        cmocka_unit_test(test_memo_changing_attributes),
        cmocka_unit_test(test_memo_same_address_next_buffer),
        cmocka_unit_test(test_memo_value_types),
        cmocka_unit_test(test_memo_resources),
        cmocka_unit_test(test_memo_many_sets),
        cmocka_unit_test(test_memo_buffer_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
