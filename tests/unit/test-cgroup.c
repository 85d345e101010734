/* SPDX-License-Identifier: MIT */
/* src/util/cgroup.c and cgroup-watch.c on the fixture trees of
 * tests/fixtures/cgroup/{v1,v2,hybrid} (their READMEs say what they imitate;
 * the expected values below are the numbers written in those files), then on
 * real cgroups of this machine when it has them (skipped otherwise). */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "util/cgroup-watch.h"
#include "util/cgroup.h"

struct roots {
    struct fsroot proc, sys;
    struct cgroup_hierarchies hs;
};

static void roots_open(struct roots *r, const char *scenario)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/cgroup/%s", alumet_test_fixtures(), scenario);
    memset(r, 0, sizeof(*r));
    assert_int_equal(fsroot_open(&r->proc, dir), 0);
    assert_int_equal(fsroot_open(&r->sys, dir), 0);
    assert_int_equal(cgroup_hierarchies_discover(&r->proc, &r->sys, &r->hs), 0);
}

static void roots_close(struct roots *r)
{
    cgroup_hierarchies_done(&r->hs);
    fsroot_close(&r->proc);
    fsroot_close(&r->sys);
}

static void assert_path_ends(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    if (n < k || strcmp(path + n - k, suffix) != 0)
        fail_msg("expected a path ending with '%s', got '%s'", suffix, path);
}

static void test_discover_v2(void **state)
{
    (void)state;
    struct roots r;
    roots_open(&r, "v2");
    assert_int_equal(r.hs.n, 1); /* mounted twice, kept once */
    const struct cgroup_hierarchy *h = &r.hs.items[0];
    assert_int_equal(h->version, CGROUP_V2);
    assert_string_equal(h->name, "");
    assert_string_equal(h->mount_point, "/sys/fs/cgroup");
    assert_path_ends(h->path, "/cgroup/v2/sys/fs/cgroup");
    assert_int_equal(h->controllers, CGROUP_CTRL_BIT(CPUSET) | CGROUP_CTRL_BIT(CPU) |
                                         CGROUP_CTRL_BIT(IO) | CGROUP_CTRL_BIT(MEMORY) |
                                         CGROUP_CTRL_BIT(HUGETLB) | CGROUP_CTRL_BIT(PIDS) |
                                         CGROUP_CTRL_BIT(RDMA) | CGROUP_CTRL_BIT(MISC));
    assert_ptr_equal(cgroup_hierarchies_v2(&r.hs), h);
    char name[64];
    assert_int_equal(cgroup_unique_name(h, "/system.slice", name, sizeof(name)), 13);
    assert_string_equal(name, "/system.slice");
    roots_close(&r);
}

static void test_discover_v1(void **state)
{
    (void)state;
    struct roots r;
    roots_open(&r, "v1");
    assert_int_equal(r.hs.n, 3);
    assert_null(cgroup_hierarchies_v2(&r.hs));
    /* mount options that are not controllers (rw, xattr, release_agent=) are left out */
    assert_string_equal(r.hs.items[0].name, "name=systemd");
    assert_int_equal(r.hs.items[0].controllers, 0);
    assert_string_equal(r.hs.items[1].name, "cpu,cpuacct");
    assert_int_equal(r.hs.items[1].controllers, CGROUP_CTRL_BIT(CPU) | CGROUP_CTRL_BIT(CPUACCT));
    assert_string_equal(r.hs.items[2].name, "memory");
    assert_int_equal(r.hs.items[2].controllers, CGROUP_CTRL_BIT(MEMORY));
    assert_ptr_equal(cgroup_hierarchies_with(&r.hs, CGROUP_CTRL_CPUACCT), &r.hs.items[1]);
    char name[64];
    cgroup_unique_name(&r.hs.items[1], "/user.slice", name, sizeof(name));
    assert_string_equal(name, "cpu,cpuacct:/user.slice");
    roots_close(&r);
}

static void test_discover_hybrid(void **state)
{
    (void)state;
    struct roots r;
    roots_open(&r, "hybrid");
    assert_int_equal(r.hs.n, 4);
    assert_int_equal(r.hs.items[0].version, CGROUP_V2); /* v2 first */
    assert_string_equal(r.hs.items[0].mount_point, "/sys/fs/cgroup/unified");
    assert_int_equal(r.hs.items[0].controllers, 0);
    assert_string_equal(r.hs.items[1].name, "name=systemd");
    assert_string_equal(r.hs.items[2].name, "cpu,cpuacct");
    assert_string_equal(r.hs.items[3].name, "memory");
    roots_close(&r);
}

static void test_discover_nothing(void **state)
{
    (void)state;
    char *tmp = alumet_test_tmpdir();
    alumet_test_write_at(tmp, "proc/self/mountinfo",
                         "22 28 0:21 / /proc rw,nosuid - proc proc rw\n"
                         "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    struct fsroot root;
    struct cgroup_hierarchies hs = {0};
    assert_int_equal(fsroot_open(&root, tmp), 0);
    /* the mount point does not exist under the root: skipped */
    assert_int_equal(cgroup_hierarchies_discover(&root, &root, &hs), 0);
    assert_int_equal(hs.n, 0);
    cgroup_hierarchies_done(&hs);
    fsroot_close(&root);
    alumet_test_rmtree(tmp);
}

static void test_read_v2(void **state)
{
    (void)state;
    struct roots r;
    roots_open(&r, "v2");
    struct cgroup_reader rd;
    struct cgroup_buf scratch = {0};
    struct cgroup_stats st;
    assert_int_equal(
        cgroup_reader_open(&rd, &r.hs.items[0], "/system.slice/app.service", CGROUP_FILES_ALL), 10);
    assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), 0);
    assert_int_equal(st.have, (1u << _CGROUP_STAT_MAX) - 1); /* every stat */
    assert_int_equal(st.cpu_usage_ns, 12849502000u);
    assert_int_equal(st.cpu_user_ns, 10191064000u);
    assert_int_equal(st.cpu_system_ns, 2658438000u);
    assert_int_equal(st.memory_current, 1073741824u);
    assert_true(st.memory_max == CGROUP_UNLIMITED);
    assert_int_equal(st.swap_current, 0);
    assert_true(st.swap_max == CGROUP_UNLIMITED);
    assert_int_equal(st.anon, 6307840);
    assert_int_equal(st.file, 1228800);
    assert_int_equal(st.kernel_stack, 123904);
    assert_int_equal(st.pagetables, 425984);
    assert_int_equal(st.slab_reclaimable, 77824);
    assert_int_equal(st.pswpin, 79);
    assert_int_equal(st.pswpout, 81);
    assert_int_equal(st.io_rbytes, 1459200 + 4096);
    assert_int_equal(st.io_wbytes, 314773504 + 8192);
    assert_int_equal(st.io_rios, 193);
    assert_int_equal(st.io_wios, 355);
    assert_int_equal(st.io_pressure.some_us, 91487491);
    assert_int_equal(st.io_pressure.full_us, 84675542);
    assert_int_equal(st.cpu_pressure.some_us, 3308211);
    assert_int_equal(st.memory_pressure.full_us, 3321);
    cgroup_reader_close(&rd);

    /* the root has cpu.stat and the pressure files only; cpu.pressure without "full" */
    assert_int_equal(cgroup_reader_open(&rd, &r.hs.items[0], "/", CGROUP_FILES_ALL), 4);
    assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), 0);
    assert_int_equal(st.cpu_usage_ns, 900000000000u);
    assert_false(st.cpu_pressure.has_full);
    assert_int_equal(st.cpu_pressure.some_us, 100);
    assert_false(st.have & CGROUP_STAT_BIT(MEMORY_CURRENT));
    cgroup_reader_close(&rd);

    /* only what is asked */
    assert_int_equal(cgroup_reader_open(&rd, &r.hs.items[0], "/system.slice",
                                        CGROUP_FILE_BIT(CPU_STAT) | CGROUP_FILE_BIT(MEMORY_STAT)),
                     1);
    assert_int_equal(rd.files, CGROUP_FILE_BIT(CPU_STAT));
    cgroup_reader_close(&rd);
    assert_int_equal(cgroup_reader_open(&rd, &r.hs.items[0], "/nope", CGROUP_FILES_ALL), -ENOENT);
    free(scratch.p);
    roots_close(&r);
}

static void test_read_v1(void **state)
{
    (void)state;
    struct roots r;
    roots_open(&r, "v1");
    struct cgroup_reader rd;
    struct cgroup_buf scratch = {0};
    struct cgroup_stats st;
    /* cpu,cpuacct: cpuacct.usage (ns) and cpuacct.stat (ticks of 10 ms) */
    assert_int_equal(cgroup_reader_open(&rd, &r.hs.items[1], "/user.slice", CGROUP_FILES_ALL), 2);
    rd.clk_tck = 100;
    assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), 0);
    assert_int_equal(st.have, CGROUP_STAT_BIT(CPU_USAGE) | CGROUP_STAT_BIT(CPU_USER) |
                                  CGROUP_STAT_BIT(CPU_SYSTEM));
    assert_int_equal(st.cpu_usage_ns, 123456789);
    assert_int_equal(st.cpu_user_ns, 100000000);
    assert_int_equal(st.cpu_system_ns, 20000000);
    cgroup_reader_close(&rd);
    assert_int_equal(cgroup_reader_open(&rd, &r.hs.items[2], "/user.slice", CGROUP_FILES_ALL), 1);
    assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), 0);
    assert_int_equal(st.have, CGROUP_STAT_BIT(MEMORY_CURRENT));
    assert_int_equal(st.memory_current, 536870912);
    cgroup_reader_close(&rd);
    /* a named hierarchy has no statistics */
    assert_int_equal(cgroup_reader_open(&rd, &r.hs.items[0], "/user.slice", CGROUP_FILES_ALL), 0);
    cgroup_reader_close(&rd);
    free(scratch.p);
    roots_close(&r);
}

static void test_read_gone_and_bad(void **state)
{
    (void)state;
    char *tmp = alumet_test_tmpdir();
    alumet_test_copy_fixture("cgroup", "v2", tmp);
    struct fsroot root;
    struct cgroup_hierarchies hs = {0};
    assert_int_equal(fsroot_open(&root, tmp), 0);
    assert_int_equal(cgroup_hierarchies_discover(&root, &root, &hs), 0);
    struct cgroup_reader rd;
    struct cgroup_buf scratch = {0};
    struct cgroup_stats st;
    assert_true(cgroup_reader_open(&rd, &hs.items[0], "/system.slice/app.service",
                                   CGROUP_FILE_BIT(CPU_STAT) | CGROUP_FILE_BIT(MEMORY_MAX)) == 2);
    alumet_test_write_at(tmp, "sys/fs/cgroup/system.slice/app.service/memory.max", "lots\n");
    assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), -EBADMSG);
    alumet_test_write_at(tmp, "sys/fs/cgroup/system.slice/app.service/memory.max", "4096\n");
    assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), 0);
    assert_int_equal(st.memory_max, 4096);
    /* a removed cgroup: the kernel answers ENODEV, an emptied fixture file reads "" */
    alumet_test_write_at(tmp, "sys/fs/cgroup/system.slice/app.service/cpu.stat", "");
    assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), -ENODEV);
    cgroup_reader_close(&rd);
    free(scratch.p);
    cgroup_hierarchies_done(&hs);
    fsroot_close(&root);
    alumet_test_rmtree(tmp);
}

static void test_proc_cgroup(void **state)
{
    (void)state;
    char buf[256];
    static const char v2[] = "0::/system.slice/app.service\n";
    assert_int_equal(cgroup_parse_proc_cgroup(v2, strlen(v2), buf, sizeof(buf)), 25);
    assert_string_equal(buf, "/system.slice/app.service");
    /* v1: the cpuacct line wins over the first line */
    static const char v1[] = "11:memory:/mem\n4:cpu,cpuacct:/user.slice\n1:name=systemd:/x\n";
    assert_int_equal(cgroup_parse_proc_cgroup(v1, strlen(v1), buf, sizeof(buf)), 11);
    assert_string_equal(buf, "/user.slice");
    /* hybrid: the v2 line wins, wherever it is */
    static const char hy[] = "9:name=systemd:/\n2:cpuacct:/a\n0::/b/c\n";
    assert_int_equal(cgroup_parse_proc_cgroup(hy, strlen(hy), buf, sizeof(buf)), 4);
    assert_string_equal(buf, "/b/c");
    assert_int_equal(cgroup_parse_proc_cgroup("", 0, buf, sizeof(buf)), -ENOENT);
    assert_int_equal(cgroup_parse_proc_cgroup(v2, strlen(v2), buf, 10), -ENAMETOOLONG);

    char dir[PATH_MAX];
    struct fsroot root;
    snprintf(dir, sizeof(dir), "%s/cgroup/hybrid", alumet_test_fixtures());
    assert_int_equal(fsroot_open(&root, dir), 0);
    assert_int_equal(cgroup_of_pid(&root, 4242, buf, sizeof(buf)), 11);
    assert_string_equal(buf, "/user.slice");
    assert_int_equal(cgroup_of_pid(&root, 4243, buf, sizeof(buf)), -ESRCH);
    fsroot_close(&root);
}

/* ---- detection ---- */

struct changes {
    char text[8192]; /* "+/a\n-/b\n" in the order reported */
    int n;
};

static void changes_fn(void *data, const char *cpath, bool created)
{
    struct changes *c = data;
    size_t len = strlen(c->text);
    snprintf(c->text + len, sizeof(c->text) - len, "%c%s\n", created ? '+' : '-', cpath);
    c->n++;
}

static bool changes_has(const struct changes *c, const char *line)
{
    char l[PATH_MAX + 4];
    snprintf(l, sizeof(l), "%s\n", line);
    return strstr(c->text, l) != NULL;
}

/* Update until n changes came (inotify events may be read in several
 * batches), at most a few seconds. */
static void wait_changes(struct cgroup_watch *w, struct changes *c, int n)
{
    for (int i = 0; i < 500 && c->n < n; i++) {
        assert_true(cgroup_watch_update(w, false, changes_fn, c) >= 0);
        if (c->n < n)
            usleep(10000);
    }
    if (c->n != n)
        fail_msg("expected %d changes, got %d:\n%s", n, c->n, c->text);
}

static void test_watch_fixture(void **state)
{
    (void)state;
    char *tmp = alumet_test_tmpdir();
    alumet_test_copy_fixture("cgroup", "v2", tmp);
    struct fsroot root;
    struct cgroup_hierarchies hs = {0};
    assert_int_equal(fsroot_open(&root, tmp), 0);
    assert_int_equal(cgroup_hierarchies_discover(&root, &root, &hs), 0);
    struct cgroup_watch *w;
    assert_int_equal(cgroup_watch_new(&hs.items[0], &w), 0);
    assert_true(cgroup_watch_has_inotify(w));

    struct changes c = {0};
    assert_int_equal(cgroup_watch_update(w, false, changes_fn, &c), 6);
    assert_true(changes_has(&c, "+/"));
    assert_true(changes_has(&c, "+/system.slice"));
    assert_true(changes_has(&c, "+/system.slice/app.service"));
    assert_true(changes_has(&c, "+/kubepods.slice"));
    assert_true(changes_has(&c, "+/kubepods.slice/kubepods-besteffort.slice"));
    assert_true(changes_has(&c,
                            "+/kubepods.slice/kubepods-besteffort.slice/"
                            "kubepods-besteffort-pod00b506dc_87ee_462c_880d_3e41d0dacd0c.slice"));
    assert_int_equal(cgroup_watch_count(w), 6);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cgroup_watch_update(w, true, changes_fn, &c), 0); /* nothing new */

    /* nested directories made at once: all found */
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/sys/fs/cgroup/a", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/sys/fs/cgroup/a/b", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/sys/fs/cgroup/a/b/c", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    wait_changes(w, &c, 3);
    assert_string_equal(c.text, "+/a\n+/a/b\n+/a/b/c\n");
    /* a file is not a cgroup */
    alumet_test_write_at(tmp, "sys/fs/cgroup/a/cgroup.procs", "");
    memset(&c, 0, sizeof(c));
    assert_int_equal(cgroup_watch_update(w, false, changes_fn, &c), 0);

    /* removal, seen once; then the same path again is new again */
    assert_int_equal(rmdir(p), 0);
    wait_changes(w, &c, 1);
    assert_string_equal(c.text, "-/a/b/c\n");
    assert_int_equal(mkdir(p, 0755), 0);
    memset(&c, 0, sizeof(c));
    wait_changes(w, &c, 1);
    assert_string_equal(c.text, "+/a/b/c\n");
    assert_int_equal(cgroup_watch_count(w), 9);

    /* with a rescan as well, a removal is reported once */
    assert_int_equal(rmdir(p), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cgroup_watch_update(w, true, changes_fn, &c), 1);
    assert_string_equal(c.text, "-/a/b/c\n");
    size_t unwatched = cgroup_watch_take_unwatched(w, NULL);
    assert_int_equal(unwatched, 0);

    cgroup_watch_free(w);
    cgroup_hierarchies_done(&hs);
    fsroot_close(&root);
    alumet_test_rmtree(tmp);
}

/* ---- real cgroups ---- */

/* The real hierarchies of this machine, or skip. */
static bool real_hierarchies(struct roots *r)
{
    memset(r, 0, sizeof(*r));
    if (geteuid() != 0)
        return false;
    if (fsroot_open(&r->proc, "/") < 0 || fsroot_open(&r->sys, "/") < 0 ||
        cgroup_hierarchies_discover(&r->proc, &r->sys, &r->hs) < 0 || r->hs.n == 0) {
        roots_close(r);
        return false;
    }
    return true;
}

static void test_watch_real(void **state)
{
    (void)state;
    struct roots r;
    if (!real_hierarchies(&r))
        skip(); /* not root, or no cgroup mounted */
    for (size_t i = 0; i < r.hs.n; i++) {
        const struct cgroup_hierarchy *h = &r.hs.items[i];
        char top[PATH_MAX], sub[PATH_MAX + 8];
        snprintf(top, sizeof(top), "%s/alumet-test-%d", h->path, (int)getpid());
        if (mkdir(top, 0755) < 0)
            continue; /* read-only or delegated elsewhere */
        struct cgroup_watch *w;
        assert_int_equal(cgroup_watch_new(h, &w), 0);
        struct changes *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        assert_true(cgroup_watch_update(w, false, changes_fn, c) > 0);
        memset(c, 0, sizeof(*c));
        snprintf(sub, sizeof(sub), "%s/x", top);
        assert_int_equal(mkdir(sub, 0755), 0);
        wait_changes(w, c, 1);
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "+/alumet-test-%d/x\n", (int)getpid());
        assert_string_equal(c->text, want);

        struct cgroup_reader rd;
        struct cgroup_buf scratch = {0};
        struct cgroup_stats st;
        char cpath[PATH_MAX];
        snprintf(cpath, sizeof(cpath), "/alumet-test-%d/x", (int)getpid());
        assert_true(cgroup_reader_open(&rd, h, cpath, CGROUP_FILES_ALL) >= 0);
        if (rd.files) {
            assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), 0);
            assert_int_equal(st.cpu_usage_ns, 0); /* nobody ran there */
        }
        assert_int_equal(rmdir(sub), 0);
        if (rd.files) /* the kernel answers ENODEV once the cgroup is gone */
            assert_int_equal(cgroup_reader_read(&rd, &scratch, &st), -ENODEV);
        cgroup_reader_close(&rd);
        free(scratch.p);
        memset(c, 0, sizeof(*c));
        wait_changes(w, c, 1);
        want[0] = '-';
        assert_string_equal(c->text, want);
        free(c);
        cgroup_watch_free(w);
        assert_int_equal(rmdir(top), 0);
    }
    roots_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discover_v2),       cmocka_unit_test(test_discover_v1),
        cmocka_unit_test(test_discover_hybrid),   cmocka_unit_test(test_discover_nothing),
        cmocka_unit_test(test_read_v2),           cmocka_unit_test(test_read_v1),
        cmocka_unit_test(test_read_gone_and_bad), cmocka_unit_test(test_proc_cgroup),
        cmocka_unit_test(test_watch_fixture),     cmocka_unit_test(test_watch_real),
    };
    return alumet_run_tests(tests);
}
