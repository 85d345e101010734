/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>

#include "alumet-test.h"
#include "core/registry.h"

static void test_register_and_get(void **state)
{
    (void)state;
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_error err = {0};
    alumet_metric_id a, b;
    assert_int_equal(alumet__registry_add(reg, "rapl_consumed_energy", ALUMET_VALUE_F64,
                                          ALUMET_UNIT(JOULE), "energy", &a, &err),
                     0);
    assert_int_equal(alumet__registry_add(reg, "mem", ALUMET_VALUE_U64,
                                          ALUMET_UNIT_PREFIXED(KILO, BYTE), NULL, &b, &err),
                     0);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(alumet_registry_count(reg), 2);
    const struct alumet_metric *m = alumet_registry_get(reg, b);
    assert_string_equal(m->name, "mem");
    assert_string_equal(m->description, "");
    assert_string_equal(m->unit_unique, "kiloBy");
    assert_string_equal(m->unit_display, "kB");
    assert_int_equal(m->value_type, ALUMET_VALUE_U64);
    assert_ptr_equal(alumet_registry_find(reg, "rapl_consumed_energy"),
                     alumet_registry_get(reg, 0));
    assert_null(alumet_registry_find(reg, "nope"));
    assert_null(alumet_registry_get(reg, 2));
    alumet__registry_free(reg);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_error err = {0};
    alumet_metric_id a, b = 99;
    assert_int_equal(
        alumet__registry_add(reg, "x", ALUMET_VALUE_U64, ALUMET_UNIT(SECOND), "d1", &a, &err), 0);
    /* same name, unit and type (description ignored): the existing id */
    assert_int_equal(
        alumet__registry_add(reg, "x", ALUMET_VALUE_U64, ALUMET_UNIT(SECOND), "d2", &b, &err), 0);
    assert_int_equal(a, b);
    /* another type or unit: refused */
    assert_int_equal(
        alumet__registry_add(reg, "x", ALUMET_VALUE_F64, ALUMET_UNIT(SECOND), "", &b, &err),
        -EEXIST);
    assert_string_equal(err.msg, "this metric has already been registered: x");
    assert_int_equal(alumet__registry_add(reg, "x", ALUMET_VALUE_U64,
                                          ALUMET_UNIT_PREFIXED(MILLI, SECOND), "", &b, &err),
                     -EEXIST);
    assert_int_equal(
        alumet__registry_add(reg, "", ALUMET_VALUE_U64, ALUMET_UNIT(SECOND), "", &b, &err),
        -EINVAL);
    assert_int_equal(alumet_registry_count(reg), 1);
    alumet__registry_free(reg);
}

struct reader_arg {
    struct alumet_registry *reg;
    int bad;
};

static void *reader(void *p)
{
    struct reader_arg *ra = p;
    for (int round = 0; round < 20000; round++) {
        size_t n = alumet_registry_count(ra->reg);
        for (size_t i = 0; i < n; i += 97) {
            const struct alumet_metric *m = alumet_registry_get(ra->reg, (alumet_metric_id)i);
            if (!m || m->id != i || !m->name)
                ra->bad++;
        }
    }
    return NULL;
}

static void test_late_registration_concurrent(void **state)
{
    (void)state;
    /* readers never see a half-registered metric while a writer adds many */
    struct alumet_registry *reg = alumet__registry_new();
    struct reader_arg ra = {reg, 0};
    pthread_t t;
    pthread_create(&t, NULL, reader, &ra);
    char name[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "metric_%d", i);
        assert_int_equal(
            alumet__registry_add(reg, name, ALUMET_VALUE_U64, ALUMET_UNIT(UNITY), "", NULL, NULL),
            0);
    }
    pthread_join(t, NULL);
    assert_int_equal(ra.bad, 0);
    assert_int_equal(alumet_registry_count(reg), 3000);
    assert_string_equal(alumet_registry_get(reg, 2999)->name, "metric_2999");
    alumet__registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_get),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_late_registration_concurrent),
    };
    return alumet_run_tests(tests);
}
