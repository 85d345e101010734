/* SPDX-License-Identifier: MIT */
/* The test environment of the cgroup family plugins (cgroups, slurm, oar,
 * k8s): a temp dir holding a fake /proc and /sys tree (a fixture copied or
 * files written by the test), the plugin's init from its config section
 * with proc_root = sys_root = that dir, a start into a pipeline that is
 * never run, the family source polled directly with the test's own
 * monotonic clock, and its points dumped as sorted lines. cgtest_done
 * releases the log capture. */
#ifndef ALUMET_CGROUPS_TEST_ENV_H
#define ALUMET_CGROUPS_TEST_ENV_H

#include "alumet-test-plugin.h"
#include "cgroups.h"
#include "core/buffer.h"

#define CGTEST_SEC ALUMET_NSEC_PER_SEC
#define CGTEST_T0 ((alumet_time_ns)1700000000 * CGTEST_SEC)

/* /proc/self/mountinfo of a cgroup v2 host, and of a v1 host with the
 * cpu,cpuacct and memory hierarchies */
#define CGTEST_V2_MOUNT                                                                            \
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "      \
    "rw,nsdelegate\n"
#define CGTEST_V1_MOUNTS                                                                           \
    "24 18 0:20 / /sys/fs/cgroup ro,nosuid shared:4 - tmpfs tmpfs ro,mode=755\n"                   \
    "28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,relatime shared:8 - cgroup cgroup "         \
    "rw,cpu,cpuacct\n"                                                                             \
    "29 24 0:25 / /sys/fs/cgroup/memory rw,nosuid,relatime shared:9 - cgroup cgroup rw,memory\n"

struct cgtest_env;

/* Writes point p (of metric `name`) as one line of the dump. */
typedef void cgtest_line_fn(const struct cgtest_env *e, const struct alumet_point *p,
                            const char *name, char *line, size_t size);

/* A plugin of the family under test. */
struct cgtest_plugin {
    const struct alumet_plugin *def;
    const char *name;                       /* its section [plugins.<name>] and log topic */
    struct cgroups *(*family)(void *state); /* the engine in its state */
    cgtest_line_fn *line;
};

struct cgtest_env {
    const struct cgtest_plugin *pl;
    char *tmp;
    struct toml_value *root;
    void *state;
    struct cgroups *cg; /* pl->family(state), set once init succeeds */
    struct alumet_pipeline *p;
    struct agent_plugin ap;
    struct alumet_buffer *buf;
    alumet_time_ns mono, now; /* the engine's clock and the poll time */
    char dump[16384];
};

/* How the tree is made and the plugin's section is written. */
struct cgtest_setup {
    const char *fixture;           /* tests/fixtures/cgroup/<fixture> to copy, or NULL */
    void (*tree)(const char *dir); /* writes the tree, or NULL */
    const char *extra;             /* lines put before the section, or NULL */
};

/* The init of the plugin on a new temp dir: "[plugins.<name>]", proc_root,
 * sys_root, then s->extra and section (s NULL: an empty tree, no extra).
 * Returns the init's result. */
int cgtest_init(struct cgtest_env *e, const struct cgtest_plugin *pl, const struct cgtest_setup *s,
                const char *section, struct alumet_error *err);
/* The start of the initialised plugin into a new pipeline, and the buffer. */
void cgtest_start(struct cgtest_env *e);
/* cgtest_init (must succeed), then cgtest_start. The caller captures the
 * log first if it reads it: each file has its own capture
 * (alumet-test-plugin.h). */
void cgtest_setup(struct cgtest_env *e, const struct cgtest_plugin *pl,
                  const struct cgtest_setup *s, const char *section);
void cgtest_done(struct cgtest_env *e);
/* The init (log captured from info) must return code, with an error that
 * contains msg. */
void cgtest_expect_init_error(const struct cgtest_plugin *pl, const struct cgtest_setup *s,
                              const char *section, int code, const char *msg);

/* The engine of a plugin whose state starts with its struct cgroups
 * pointer (slurm, oar). */
struct cgroups *cgtest_family_head(void *state);

/* Poll the source at e->now into e->buf (must return ALUMET_POLL_OK). */
void cgtest_poll_only(struct cgtest_env *e);
/* The points of e->buf into e->dump, one line each (pl->line), sorted. */
const char *cgtest_dump(struct cgtest_env *e);
/* The order of the dump's lines (qsort of char *). */
int cgtest_cmp_lines(const void *a, const void *b);
/* cgtest_poll_only, then cgtest_dump. */
const char *cgtest_poll(struct cgtest_env *e);

/* "metric consumer_path [ key=value ...] value", attributes in their order:
 * a string as is, a u64 as "<n>(u64)", a list of u64 as "[a,b]"; an F64
 * value with %g. */
void cgtest_line_attrs(const struct cgtest_env *e, const struct alumet_point *p, const char *name,
                       char *line, size_t size);

/* assert_string_equal with both texts in full (cmocka cuts them) */
void cgtest_expect_dump(const char *got, const char *want);

#endif
