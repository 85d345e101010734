/* SPDX-License-Identifier: MIT */
/* The one thin header over cmocka used by every C test. */
#ifndef ALUMET_TEST_H
#define ALUMET_TEST_H

#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

/* Fixture path: ALUMET_TEST_FIXTURES (env, set by Meson) or the compiled-in default. */
static inline const char *alumet_test_fixtures(void)
{
    const char *e = getenv("ALUMET_TEST_FIXTURES");
    return e && *e ? e : ALUMET_TEST_FIXTURES;
}

static inline int alumet_test__rm(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

/* Make a fresh temporary directory under $TMPDIR (or /tmp); caller removes it
 * with alumet_test_rmtree and frees the string. */
static inline char *alumet_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof(tmpl), "%s/alumet-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *r = strdup(d);
    assert_non_null(r);
    return r;
}

/* Remove the tree path (borrowed). 0, or -1 when a part of it could not be
 * removed. */
static inline int alumet_test_remove_tree(const char *path)
{
    return nftw(path, alumet_test__rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Remove the tree dir (from alumet_test_tmpdir) and free the string. */
static inline void alumet_test_rmtree(char *dir)
{
    if (dir) {
        alumet_test_remove_tree(dir);
        free(dir);
    }
}

/* Read a whole file into a NUL-terminated malloc'd string (NULL if missing). */
static inline char *alumet_test_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    size_t n;
    while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *t = realloc(s, cap *= 2);
            if (!t) {
                free(s);
                s = NULL;
            }
            s = t;
        }
    }
    fclose(f);
    if (s)
        s[len] = '\0';
    return s;
}

static inline int alumet_test__summary(int failed, size_t n)
{
    printf("%zu passed, %d failed, 0 skipped\n", n - (size_t)failed, failed);
    return failed;
}

/* Run the tests and print the summary line "N passed, N failed, N skipped". */
#define alumet_run_tests(group)                                                                    \
    alumet_test__summary(cmocka_run_group_tests(group, NULL, NULL),                                \
                         sizeof(group) / sizeof((group)[0]))

#endif
