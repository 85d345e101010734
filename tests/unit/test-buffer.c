/* SPDX-License-Identifier: MIT */
#include "alumet-test.h"
#include "core/buffer.h"

static const struct alumet_resource pkg0 = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
static const struct alumet_consumer local = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static void test_push_and_attrs(void **state)
{
    (void)state;
    struct alumet_buffer *b = alumet__buffer_new(0);
    struct alumet_point *p = alumet_buffer_push_u64(b, 5, 1, &pkg0, &local, 42);
    assert_int_equal(alumet_point_add_attr_str(b, p, "domain", "package"), 0);
    assert_int_equal(alumet_point_add_attr_u64(b, p, "n", 7), 0);
    p = alumet_buffer_push_f64(b, 6, 2, &pkg0, &local, 0.5);
    assert_int_equal(alumet_point_add_attr_bool(b, p, "ok", true), 0);
    /* add to the first point after the second: its attributes move, order kept */
    p = alumet_buffer_at(b, 0);
    assert_int_equal(alumet_point_add_attr_f64(b, p, "x", 1.5), 0);
    assert_int_equal(alumet_buffer_len(b), 2);
    const struct alumet_point *q = alumet_buffer_get(b, 0);
    assert_int_equal(q->attr_count, 3);
    const struct alumet_attr *a = alumet_point_attrs(b, q);
    assert_string_equal(a[0].key, "domain");
    assert_string_equal(a[0].v.str, "package");
    assert_string_equal(a[1].key, "n");
    assert_string_equal(a[2].key, "x");
    q = alumet_buffer_get(b, 1);
    assert_int_equal(q->attr_count, 1);
    assert_true(alumet_point_attrs(b, q)[0].v.b);
    assert_int_equal(q->value.f64 == 0.5, 1);
    assert_null(alumet_buffer_get(b, 2));
    alumet__buffer_free(b);
}

static void test_add_appends_set_replaces(void **state)
{
    (void)state;
    struct alumet_buffer *b = alumet__buffer_new(4);
    struct alumet_point *p = alumet_buffer_push_u64(b, 0, 0, &pkg0, &local, 1);
    alumet_point_add_attr_str(b, p, "k", "v1");
    alumet_point_add_attr_str(b, p, "k", "v2");
    assert_int_equal(p->attr_count, 2);
    assert_string_equal(alumet_point_find_attr(b, p, "k")->v.str, "v2");
    struct alumet_attr a = {.key = "k", .type = ALUMET_ATTR_STR, .v.str = "v3"};
    alumet_point_set_attr(b, p, &a);
    assert_int_equal(p->attr_count, 2);
    assert_string_equal(alumet_point_attrs(b, p)[0].v.str, "v3");
    assert_null(alumet_point_find_attr(b, p, "nope"));
    alumet__buffer_free(b);
}

static bool keep_even(void *data, const struct alumet_buffer *b, const struct alumet_point *p)
{
    (void)data;
    (void)b;
    return p->value.u64 % 2 == 0;
}

static void test_retain_copy_clear(void **state)
{
    (void)state;
    struct alumet_buffer *b = alumet__buffer_new(0), *c = alumet__buffer_new(0);
    for (uint64_t i = 0; i < 1000; i++) {
        struct alumet_resource gpu = {ALUMET_RESOURCE_GPU, 0, alumet_buffer_strdup(b, "0:1", 3),
                                      NULL};
        struct alumet_point *p = alumet_buffer_push_u64(b, (alumet_time_ns)i, 0, &gpu, &local, i);
        alumet_point_add_attr_str(b, p, alumet_buffer_strdup(b, "key", (size_t)-1), "val");
    }
    alumet_buffer_retain(b, keep_even, NULL);
    assert_int_equal(alumet_buffer_len(b), 500);
    assert_int_equal(alumet_buffer_get(b, 499)->value.u64, 998);
    /* copies own their strings: the source buffer can be cleared */
    assert_int_equal(alumet__buffer_append(c, b), 0);
    assert_int_equal(alumet_buffer_len(b), 0);
    alumet__buffer_free(b);
    assert_int_equal(alumet_buffer_len(c), 500);
    const struct alumet_point *p = alumet_buffer_get(c, 10);
    assert_string_equal(p->resource.str, "0:1");
    assert_string_equal(alumet_point_attrs(c, p)[0].key, "key");
    assert_string_equal(alumet_point_attrs(c, p)[0].v.str, "val");
    alumet__buffer_clear(c);
    assert_int_equal(alumet_buffer_len(c), 0);
    alumet__buffer_unref(alumet__buffer_ref(c));
    alumet__buffer_unref(c);
}

static void test_attr_text(void **state)
{
    (void)state;
    char buf[64];
    uint64_t items[] = {1, 2, 3};
    struct alumet_attr a = {.key = "l", .type = ALUMET_ATTR_LIST_U64, .v.list = {items, 3}};
    assert_int_equal(alumet_attr_text(&a, buf, sizeof(buf)), 9);
    assert_string_equal(buf, "[1, 2, 3]"); /* upstream prints "[12, 3, ]" */
    a = (struct alumet_attr){.key = "f", .type = ALUMET_ATTR_F64, .v.f64 = 1.0};
    alumet_attr_text(&a, buf, sizeof(buf));
    assert_string_equal(buf, "1");
    a = (struct alumet_attr){.key = "f", .type = ALUMET_ATTR_F64, .v.f64 = 0.25};
    alumet_attr_text(&a, buf, sizeof(buf));
    assert_string_equal(buf, "0.25");
    a = (struct alumet_attr){.key = "b", .type = ALUMET_ATTR_BOOL, .v.b = false};
    alumet_attr_text(&a, buf, sizeof(buf));
    assert_string_equal(buf, "false");
    a = (struct alumet_attr){.key = "u", .type = ALUMET_ATTR_U64, .v.u64 = UINT64_MAX};
    alumet_attr_text(&a, buf, sizeof(buf));
    assert_string_equal(buf, "18446744073709551615");
    a = (struct alumet_attr){.key = "l", .type = ALUMET_ATTR_LIST_U64, .v.list = {NULL, 0}};
    alumet_attr_text(&a, buf, sizeof(buf));
    assert_string_equal(buf, "[]");
}

/* The pool keeps room for 4 times the largest recent need: after a source
 * had 10 chunks of 1024 points in flight, 4 stay pooled and the others are
 * freed; small buffers are kept apart from that bound. */
static void test_pool_keeps_four_needs(void **state)
{
    (void)state;
    struct alumet__buffer_pool *pool = alumet__buffer_pool_new(16);
    struct alumet_buffer *big[10], *small[3];
    const struct alumet_resource r = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer c = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    for (int i = 0; i < 10; i++) {
        big[i] = alumet__buffer_pool_get(pool, 1024);
        assert_non_null(alumet_buffer_push_u64(big[i], 1, 0, &r, &c, (uint64_t)i));
    }
    for (int i = 0; i < 3; i++)
        small[i] = alumet__buffer_pool_get(pool, 8);
    assert_int_equal(alumet__buffer_pool_len(pool), 0);
    for (int i = 0; i < 10; i++)
        alumet__buffer_unref(big[i]);
    assert_int_equal(alumet__buffer_pool_len(pool), 4);
    for (int i = 0; i < 3; i++)
        alumet__buffer_unref(small[i]);
    assert_int_equal(alumet__buffer_pool_len(pool), 7);
    /* what is pooled comes back empty */
    struct alumet_buffer *b = alumet__buffer_pool_get(pool, 1024);
    assert_int_equal(alumet_buffer_len(b), 0);
    assert_int_equal(alumet__buffer_pool_len(pool), 6);
    alumet__buffer_unref(b);
    alumet__buffer_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_and_attrs),
        cmocka_unit_test(test_add_appends_set_replaces),
        cmocka_unit_test(test_retain_copy_clear),
        cmocka_unit_test(test_attr_text),
        cmocka_unit_test(test_pool_keeps_four_needs),
    };
    return alumet_run_tests(tests);
}
