/* SPDX-License-Identifier: MIT */
/* Helpers of the plugin tests (plugins/<name>/tests), over alumet-test.h and
 * the private headers of the core that a test needs to run a plugin the way
 * the agent does:
 *   - fixture trees: join paths, write files in place, copy and sync trees;
 *   - a capture log sink, to count and find what a plugin logged;
 *   - the config: the report callbacks of unknown keys, a plugin's section,
 *     the init of a plugin from TOML text (its default config included);
 *   - measurements and a byte sink into memory, for the writers of output
 *     plugins;
 *   - an agent run: a plugin inited and started by the agent's code on a
 *     pipeline with one test source polled on demand. */
#ifndef ALUMET_TEST_PLUGIN_H
#define ALUMET_TEST_PLUGIN_H

#include "alumet-test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "alumet/log.h"
#include "alumet/plugin.h"
#include "core/agent.h"
#include "core/config/config-tree.h"
#include "core/pipeline.h"
#include "core/registry.h"

/* ---- fixture trees ---- */

/* "a/b" into buf (size bytes); the test fails when it does not fit. */
static inline void alumet_test_path_join(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    assert_true(n > 0 && (size_t)n < size);
}

/* Write text to path, created or truncated. O_TRUNC keeps the inode: a
 * descriptor that the plugin opened earlier sees the new text, as with the
 * files of /proc and /sys. */
static inline void alumet_test_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        print_error("cannot write '%s': %s\n", path, strerror(errno));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Write text to dir/rel, creating the missing parent directories of rel. */
static inline void alumet_test_write_at(const char *dir, const char *rel, const char *text)
{
    char path[PATH_MAX];
    alumet_test_path_join(path, sizeof(path), dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    alumet_test_write_file(path, text);
}

/* Make the tree dst look like src: create (dst included) and rewrite in
 * place what src has, symbolic links as links; empty, then remove what it
 * lacks (a missing src empties dst), the way /proc loses a process. */
static inline void alumet_test_sync_tree(const char *dst, const char *src)
{
    DIR *d = opendir(src);
    struct dirent *e;
    if (d)
        mkdir(dst, 0755);
    while (d && (e = readdir(d))) {
        char s[PATH_MAX], t[PATH_MAX];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        alumet_test_path_join(s, sizeof(s), src, e->d_name);
        alumet_test_path_join(t, sizeof(t), dst, e->d_name);
        assert_int_equal(lstat(s, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            alumet_test_sync_tree(t, s);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(s, target, sizeof(target) - 1);
            assert_true(n > 0);
            target[n] = '\0';
            unlink(t);
            assert_int_equal(symlink(target, t), 0);
        } else {
            char *text = alumet_test_read_file(s);
            assert_non_null(text);
            alumet_test_write_file(t, text);
            free(text);
        }
    }
    if (d)
        closedir(d);

    d = opendir(dst);
    assert_non_null(d);
    while ((e = readdir(d))) {
        char s[PATH_MAX], t[PATH_MAX];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        alumet_test_path_join(s, sizeof(s), src, e->d_name);
        alumet_test_path_join(t, sizeof(t), dst, e->d_name);
        if (lstat(s, &st) == 0)
            continue;
        assert_int_equal(lstat(t, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            alumet_test_sync_tree(t, s); /* s is missing: empties t */
            rmdir(t);
        } else {
            if (S_ISREG(st.st_mode))
                assert_int_equal(truncate(t, 0), 0);
            unlink(t);
        }
    }
    closedir(d);
}

/* Copy the fixture tree <fixtures>/<area>/<scenario> (which must exist) into
 * dst. */
static inline void alumet_test_copy_fixture(const char *area, const char *scenario, const char *dst)
{
    char src[PATH_MAX];
    struct stat st;
    int n = snprintf(src, sizeof(src), "%s/%s/%s", alumet_test_fixtures(), area, scenario);
    assert_true(n > 0 && (size_t)n < sizeof(src));
    if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
        fail_msg("no fixture tree '%s'", src);
    alumet_test_sync_tree(dst, src);
}

/* ---- log capture ---- */

#define ALUMET_TEST_LOG_MAX 256

/* What the capture sink received. Only the first ALUMET_TEST_LOG_MAX
 * messages are kept; n counts them all. */
struct alumet_test_log {
    pthread_mutex_t lock;
    size_t n;
    enum alumet_log_level level[ALUMET_TEST_LOG_MAX];
    char *line[ALUMET_TEST_LOG_MAX];    /* "WARN topic: message" */
    size_t msg_at[ALUMET_TEST_LOG_MAX]; /* where the message starts in line */
};

static struct alumet_test_log alumet_test__log = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline void alumet_test__log_sink(void *data, enum alumet_log_level level, const char *topic,
                                         const char *msg)
{
    static const char *const names[] = {"", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    struct alumet_test_log *c = data;
    const char *name = level > 0 && level <= ALUMET_LOG_TRACE ? names[level] : "?";
    char *line = NULL;
    int at = (int)(strlen(name) + strlen(topic) + 3);

    if (asprintf(&line, "%s %s: %s", name, topic, msg) < 0)
        line = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->n < ALUMET_TEST_LOG_MAX && line) {
        c->level[c->n] = level;
        c->line[c->n] = line;
        c->msg_at[c->n] = (size_t)at;
        line = NULL;
    }
    c->n++;
    pthread_mutex_unlock(&c->lock);
    free(line);
}

/* Forget the captured messages. */
static inline void alumet_test_log_clear(void)
{
    struct alumet_test_log *c = &alumet_test__log;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && i < ALUMET_TEST_LOG_MAX; i++)
        free(c->line[i]);
    c->n = 0;
    pthread_mutex_unlock(&c->lock);
}

/* Capture the log from now on, from an empty capture; spec configures the
 * levels (alumet_log_configure: "info", "debug"...), NULL leaves them. */
static inline void alumet_test_log_capture(const char *spec)
{
    alumet_test_log_clear();
    alumet_log_set_sink(alumet_test__log_sink, &alumet_test__log);
    if (spec)
        assert_int_equal(alumet_log_configure(spec), 0);
}

/* Give the log back to the default sink; the capture stays readable. */
static inline void alumet_test_log_release(void)
{
    alumet_log_set_sink(NULL, NULL);
}

/* Number of captured messages at level or more severe that contain every
 * non-NULL needle. */
static inline size_t alumet_test_log_count(enum alumet_log_level level, const char *a,
                                           const char *b)
{
    struct alumet_test_log *c = &alumet_test__log;
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && i < ALUMET_TEST_LOG_MAX; i++) {
        const char *msg = c->line[i] + c->msg_at[i];
        if (c->level[i] <= level && (!a || strstr(msg, a)) && (!b || strstr(msg, b)))
            n++;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* Number of captured lines, "LEVEL topic: message", that contain text. */
static inline size_t alumet_test_log_count_lines(const char *text)
{
    struct alumet_test_log *c = &alumet_test__log;
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && i < ALUMET_TEST_LOG_MAX; i++)
        if (strstr(c->line[i], text))
            n++;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* The first captured message that contains needle, or "" (borrowed until
 * the capture is cleared). */
static inline const char *alumet_test_log_find(const char *needle)
{
    struct alumet_test_log *c = &alumet_test__log;
    const char *found = "";
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && i < ALUMET_TEST_LOG_MAX; i++)
        if (strstr(c->line[i] + c->msg_at[i], needle)) {
            found = c->line[i] + c->msg_at[i];
            break;
        }
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* Print the captured lines (when a test is about to fail). */
static inline void alumet_test_log_dump(void)
{
    struct alumet_test_log *c = &alumet_test__log;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && i < ALUMET_TEST_LOG_MAX; i++)
        print_message("log: %s\n", c->line[i]);
    pthread_mutex_unlock(&c->lock);
}

/* ---- config ---- */

/* Report callbacks of alumet__config_report_unused and the agent's init. */
static inline void alumet_test_report_ignore(void *data, const char *msg)
{
    (void)data;
    (void)msg;
}

/* Keep the last message in data, a char[ALUMET_ERROR_MSG_MAX]. */
static inline void alumet_test_report_keep(void *data, const char *msg)
{
    snprintf(data, ALUMET_ERROR_MSG_MAX, "%s", msg);
}

/* Keep the last message in data, a struct alumet_error (-EINVAL). */
static inline void alumet_test_report_error(void *data, const char *msg)
{
    alumet_error_set(data, -EINVAL, "%s", msg);
}

/* The table plugins.<name> of root; the test fails without it. */
static inline struct toml_value *alumet_test_plugin_section(struct toml_value *root,
                                                            const char *name)
{
    struct toml_value *plugins = toml_table_get(root, "plugins");
    struct toml_value *sect = plugins ? toml_table_get(plugins, name) : NULL;
    if (!sect)
        fail_msg("no [plugins.%s] table in the config", name);
    return sect;
}

/* Init pl with the table plugins.<pl->name> of text (TOML: the default
 * config, or a test's) as the agent does: its enabled switch taken out
 * first; then every key must have been read (-EINVAL otherwise, with the
 * unknown key in err, and the state freed). Returns init's status, err
 * saying why. *ret_state (NULL on failure) is freed by the caller with
 * pl->free. With ret_root, *ret_root receives the parsed text, freed by the
 * caller with toml_free after the state (a plugin may borrow from it);
 * without, it is freed before the return. */
static inline int alumet_test_plugin_init(const struct alumet_plugin *pl, const char *text,
                                          struct toml_value **ret_root, void **ret_state,
                                          struct alumet_error *err)
{
    struct toml_value *root = NULL;
    void *state = NULL;
    bool enabled;

    *ret_state = NULL;
    if (alumet__config_load_text(text, strlen(text), "test.toml", 0, &root, err) < 0)
        fail_msg("config of %s: %s", pl->name, err->msg);
    if (ret_root)
        *ret_root = root;
    struct toml_value *sect = alumet_test_plugin_section(root, pl->name);
    assert_int_equal(alumet__config_take_switch(sect, pl->name, &enabled, NULL), 0);
    int r = pl->init(alumet__config_from_value(sect), &state, err);
    if (r == 0 && alumet__config_report_unused(sect, alumet_test_report_error, err) > 0) {
        pl->free(state);
        state = NULL;
        r = -EINVAL;
    }
    *ret_state = state;
    if (!ret_root)
        toml_free(root);
    return r;
}

/* ---- measurements ---- */

/* The local machine, as resource and as consumer of a point. */
static const struct alumet_resource alumet_test_local_resource = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer alumet_test_local_consumer = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

/* Register a metric ("test metric") in reg; returns its id. */
static inline alumet_metric_id alumet_test_add_metric(struct alumet_registry *reg, const char *name,
                                                      enum alumet_value_type type,
                                                      struct alumet_unit unit)
{
    alumet_metric_id id = ALUMET_METRIC_ID_INVALID;
    struct alumet_error err = {0};
    assert_int_equal(alumet__registry_add(reg, name, type, unit, "test metric", &id, &err), 0);
    return id;
}

/* Push a point of metric m for the local machine at time 0 (the epoch). */
static inline struct alumet_point *alumet_test_push_u64(struct alumet_buffer *buf,
                                                        alumet_metric_id m, uint64_t v)
{
    struct alumet_point *p = alumet_buffer_push_u64(buf, 0, m, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, v);
    assert_non_null(p);
    return p;
}

static inline struct alumet_point *alumet_test_push_f64(struct alumet_buffer *buf,
                                                        alumet_metric_id m, double v)
{
    struct alumet_point *p = alumet_buffer_push_f64(buf, 0, m, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, v);
    assert_non_null(p);
    return p;
}

/* Add the string attribute k = v to the point p of buf. */
static inline void alumet_test_add_str(struct alumet_buffer *buf, struct alumet_point *p,
                                       const char *k, const char *v)
{
    assert_int_equal(alumet_point_add_attr_str(buf, p, k, v), 0);
}

/* ---- a byte sink into memory ---- */

/* The sink of a writer (int (*)(void *, const char *, size_t)) into memory,
 * which can be told to fail. Zero it to start; free s at the end. */
struct alumet_test_mem_sink {
    char *s; /* what was written, NUL-terminated; NULL: nothing yet */
    size_t len;
    size_t calls;
    int fail; /* error to return, 0 = none */
};

static inline int alumet_test_mem_sink_write(void *data, const char *bytes, size_t len)
{
    struct alumet_test_mem_sink *m = data;
    m->calls++;
    if (m->fail)
        return m->fail;
    char *s = realloc(m->s, m->len + len + 1);
    assert_non_null(s);
    memcpy(s + m->len, bytes, len);
    m->s = s;
    m->len += len;
    m->s[m->len] = '\0';
    return 0;
}

/* What was written so far ("" when nothing). */
static inline const char *alumet_test_mem_sink_text(const struct alumet_test_mem_sink *m)
{
    return m->s ? m->s : "";
}

/* ---- an agent run ---- */

/* One plugin inited and started by the agent's code, on a pipeline with one
 * source "test/src" that runs only when triggered
 * (alumet__pipeline_trigger_all_wait). The source has two metrics: "energy"
 * (U64, mJ, "consumed energy") and "ratio" (F64, 1, "a ratio"); each poll
 * pushes energy = 12 with the attribute domain = "package", then ratio =
 * 0.25, for the local machine, at time timestamp (0: the poll time). */
struct alumet_test_run {
    struct toml_value *root;
    struct plugin_set set;
    struct alumet_pipeline *p;
    alumet_metric_id energy, ratio;
    alumet_time_ns timestamp;
    struct alumet_error err;
    char report[ALUMET_ERROR_MSG_MAX]; /* the last problem reported about the config */
};

static inline int alumet_test__run_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                        struct alumet_error *err)
{
    struct alumet_test_run *a = data;
    alumet_time_ns t = a->timestamp ? a->timestamp : now;
    (void)err;
    struct alumet_point *p = alumet_buffer_push_u64(buf, t, a->energy, &alumet_test_local_resource,
                                                    &alumet_test_local_consumer, 12);
    assert_non_null(p);
    assert_int_equal(alumet_point_add_attr_str(buf, p, "domain", "package"), 0);
    assert_non_null(alumet_buffer_push_f64(buf, t, a->ratio, &alumet_test_local_resource,
                                           &alumet_test_local_consumer, 0.25));
    return ALUMET_POLL_OK;
}

/* Init pl with its table plugins.<pl->name> of config (the agent's init:
 * a->report keeps what it reports about the config), build the pipeline
 * with the test source, start. Returns the status of init or start, a->err
 * saying why. Release with alumet_test_run_done in every case. */
static inline int alumet_test_run_start(struct alumet_test_run *a, const struct alumet_plugin *pl,
                                        const char *config, alumet_time_ns timestamp)
{
    static const struct alumet_source_ops ops = {
        .version = ALUMET_SOURCE_OPS_V1,
        .poll = alumet_test__run_poll,
    };
    memset(a, 0, sizeof(*a));
    a->timestamp = timestamp;
    assert_int_equal(
        alumet__config_load_text(config, strlen(config), "test.toml", 0, &a->root, &a->err), 0);
    assert_int_equal(alumet__plugins_add(&a->set, pl, NULL, &a->err), 0);
    alumet__plugins_find(&a->set, pl->name)->config = alumet_test_plugin_section(a->root, pl->name);
    int r = alumet__agent_init_plugins(&a->set, false, alumet_test_report_keep, a->report, &a->err);
    if (r < 0)
        return r;

    struct pipeline_settings ps = {0};
    a->p = alumet__pipeline_new(&ps);
    assert_non_null(a->p);
    struct alumet_registry *reg = alumet__pipeline_registry(a->p);
    assert_int_equal(alumet__registry_add(reg, "energy", ALUMET_VALUE_U64,
                                          ALUMET_UNIT_PREFIXED(MILLI, JOULE), "consumed energy",
                                          &a->energy, &a->err),
                     0);
    assert_int_equal(alumet__registry_add(reg, "ratio", ALUMET_VALUE_F64, ALUMET_UNIT(UNITY),
                                          "a ratio", &a->ratio, &a->err),
                     0);
    struct alumet_source_opts so = {.manual_only = true};
    assert_int_equal(alumet__pipeline_add_source(a->p, "test", "src", &ops, a, &so, &a->err), 0);
    return alumet__agent_start(&a->set, a->p, &a->err);
}

/* Stop the plugin, free the pipeline and the plugin (after any start
 * status). */
static inline void alumet_test_run_done(struct alumet_test_run *a)
{
    alumet__agent_stop_plugins(&a->set);
    alumet__pipeline_free(a->p);
    alumet__plugins_done(&a->set);
    toml_free(a->root);
}

#endif
