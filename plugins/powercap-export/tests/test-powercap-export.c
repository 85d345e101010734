/* SPDX-License-Identifier: MIT */
/* Tests of the counter trees of powercap-export: the files byte for byte,
 * the fractions of a microjoule, the wrap-around at max_energy_range_uj, the
 * value a previous run left, the names made safe, and a directory that
 * cannot be written (retried at the next flush). */
#include <errno.h>
#include <sys/stat.h>

#include "alumet-test-plugin.h"
#include "powercap-export.h"

static void expect_file(const char *dir, const char *rel, const char *want)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    char *got = alumet_test_read_file(path);
    if (!got || strcmp(got, want) != 0)
        print_error("%s: got %s, expected %s\n", path, got ? got : "(none)", want);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void expect_absent(const char *dir, const char *rel)
{
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(stat(path, &st), -1);
}

static void test_trees(void **state)
{
    (void)state;
    char *tmp = alumet_test_tmpdir();
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/exported/vms", tmp); /* created with its parents */
    struct pcx_tree *t;
    assert_int_equal(pcx_tree_new(dir, 1000, &t), 0);
    assert_int_equal(pcx_tree_add(t, "vm1", 400.75), 0);
    assert_int_equal(pcx_tree_add(t, "vm1", 0.5), 0); /* 401.25: 401 and a quarter kept */
    assert_int_equal(pcx_tree_add(t, "web/front", 7), 0);
    assert_int_equal(pcx_tree_add(t, ".hidden", 1), 0);
    assert_int_equal(pcx_tree_flush(t, path, sizeof(path)), 0);
    expect_file(dir, "vm1/intel-rapl:0/name", "package-0\n");
    expect_file(dir, "vm1/intel-rapl:0/max_energy_range_uj", "1000\n");
    expect_file(dir, "vm1/intel-rapl:0/energy_uj", "401\n");
    expect_file(dir, "web_front/intel-rapl:0/energy_uj", "7\n");
    expect_file(dir, "_hidden/intel-rapl:0/energy_uj", "1\n");
    expect_absent(dir, "vm1/intel-rapl:0/.energy_uj.tmp");

    /* 401.25 + 598.5 = 999.75: 999; + 1.5 = 1001.25: wraps to 0 (the
     * counter goes from 1000 to 0), a quarter kept */
    assert_int_equal(pcx_tree_add(t, "vm1", 598.5), 0);
    assert_int_equal(pcx_tree_flush(t, path, sizeof(path)), 0);
    expect_file(dir, "vm1/intel-rapl:0/energy_uj", "999\n");
    assert_int_equal(pcx_tree_add(t, "vm1", 1.5), 0);
    assert_int_equal(pcx_tree_add(t, "vm1", -3), 0); /* ignored */
    assert_int_equal(pcx_tree_flush(t, path, sizeof(path)), 0);
    expect_file(dir, "vm1/intel-rapl:0/energy_uj", "0\n");
    assert_int_equal(pcx_tree_value(t, "vm1"), 0);
    /* a huge addition: modulo 1001 (5000000 = 4995 * 1001 + 5) */
    assert_int_equal(pcx_tree_add(t, "vm1", 5000000), 0);
    assert_int_equal(pcx_tree_value(t, "vm1"), 5);
    pcx_tree_free(t);

    /* the next run continues from the values left: 7 + 995 = 1002 → 1 */
    assert_int_equal(pcx_tree_new(dir, 1000, &t), 0);
    assert_int_equal(pcx_tree_add(t, "web/front", 995), 0);
    assert_int_equal(pcx_tree_flush(t, path, sizeof(path)), 0);
    expect_file(dir, "web_front/intel-rapl:0/energy_uj", "1\n");
    pcx_tree_free(t);

    /* a directory that cannot be made: the error names it; retried later */
    char blocked[PATH_MAX];
    snprintf(blocked, sizeof(blocked), "%s/file", tmp);
    alumet_test_write_file(blocked, "x");
    snprintf(dir, sizeof(dir), "%s/file/vms", tmp);
    assert_int_equal(pcx_tree_new(dir, 1000, &t), 0);
    assert_int_equal(pcx_tree_add(t, "vm1", 3), 0);
    assert_int_equal(pcx_tree_flush(t, path, sizeof(path)), -ENOTDIR);
    snprintf(dir, sizeof(dir), "%s/file/vms/vm1/intel-rapl:0", tmp);
    assert_string_equal(path, dir);
    unlink(blocked);
    assert_int_equal(pcx_tree_flush(t, path, sizeof(path)), 0);
    snprintf(dir, sizeof(dir), "%s/file/vms", tmp);
    expect_file(dir, "vm1/intel-rapl:0/energy_uj", "3\n");
    /* nothing changed: nothing written (the file stays as it is) */
    alumet_test_write_at(dir, "vm1/intel-rapl:0/energy_uj", "77\n");
    assert_int_equal(pcx_tree_flush(t, path, sizeof(path)), 0);
    expect_file(dir, "vm1/intel-rapl:0/energy_uj", "77\n");
    pcx_tree_free(t);
    alumet_test_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trees),
    };
    return alumet_run_tests(tests);
}
