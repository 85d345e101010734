/* SPDX-License-Identifier: MIT */
/* The jsonl plugin through the agent lifecycle: the default config, a file
 * (truncated at start, exact lines), the standard output (fd 1 redirected
 * for the test), errors and options. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>

extern const struct alumet_plugin alumet_plugin_jsonl;

/* The time of the points of the test source (alumet_test_run) */
#define T_RUN 1745593733996365220

/* Start, poll twice, stop. */
static void agent_run_twice(const char *config)
{
    struct alumet_test_run a;
    int r = alumet_test_run_start(&a, &alumet_plugin_jsonl, config, T_RUN);
    if (r < 0)
        fail_msg("start failed: %s %s", a.err.msg, a.report);
    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_stop(a.p), 0);
    alumet_test_run_done(&a);
}

#define TS "\"timestamp\":\"2025-04-25T15:08:53.99636522Z\",\"timestamp_ns\":1745593733996365220,"
#define LOCAL                                                                                      \
    "\"resource_kind\":\"local_machine\",\"resource_id\":\"\",\"consumer_kind\":"                  \
    "\"local_machine\",\"consumer_id\":\"\""
#define TWO_LINES                                                                                  \
    "{\"metric\":\"energy\",\"unit\":\"milliJ\",\"unit_display\":\"mJ\"," TS "\"value\":12," LOCAL \
    ",\"attributes\":{\"domain\":\"package\"}}\n"                                                  \
    "{\"metric\":\"ratio\",\"unit\":\"1\",\"unit_display\":\"\"," TS "\"value\":0.25," LOCAL       \
    ",\"attributes\":{}}\n"

static void test_plugin_default_config(void **state)
{
    (void)state;
    const struct alumet_plugin *pl = &alumet_plugin_jsonl;
    assert_string_equal(pl->name, "jsonl");
    assert_string_equal(pl->version, "0.1.0");
    assert_int_equal(pl->abi_version, ALUMET_PLUGIN_ABI);
    const char *def = pl->default_config;
    assert_memory_equal(def, "[plugins.jsonl]\n", 16);
    assert_non_null(strstr(def, "\noutput_path = \"alumet-output.jsonl\"\n"));
    assert_non_null(strstr(def, "\nstdout = false\n"));
    assert_non_null(strstr(def, "\nforce_flush = true\n"));

    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    assert_int_equal(alumet__config_load_text(def, strlen(def), "<default>", 0, &root, &err), 0);
    struct toml_value *sect = alumet_test_plugin_section(root, "jsonl");
    /* off by default: the agent takes the switch out before init */
    bool enabled = true;
    assert_int_equal(alumet__config_take_switch(sect, "jsonl", &enabled, NULL), 0);
    assert_false(enabled);
    void *st = NULL;
    assert_int_equal(pl->init(alumet__config_from_value(sect), &st, &err), 0);
    assert_int_equal(alumet__config_report_unused(sect, alumet_test_report_ignore, NULL), 0);
    pl->free(st);
    toml_free(root);
}

static void test_plugin_writes_file(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/out.jsonl", dir);
    FILE *old = fopen(path, "w");
    assert_non_null(old);
    fputs("old content that must disappear\n", old);
    fclose(old);

    for (int flush = 0; flush < 2; flush++) {
        char config[PATH_MAX + 128];
        snprintf(config, sizeof(config), "[plugins.jsonl]\noutput_path = \"%s\"\n%s", path,
                 flush ? "force_flush = true\n" : "force_flush = false\n");
        agent_run_twice(config);
        char *text = alumet_test_read_file(path);
        assert_string_equal(text, TWO_LINES TWO_LINES);
        free(text);
    }
    alumet_test_rmtree(dir);
}

/* stdout = true, or output_path = "-": the agent's fd 1, left open. */
static void test_plugin_stdout(void **state)
{
    (void)state;
    static const char *const configs[] = {
        "[plugins.jsonl]\nstdout = true\noutput_path = \"ignored.jsonl\"\n",
        "[plugins.jsonl]\noutput_path = \"-\"\n",
    };
    char *dir = alumet_test_tmpdir();
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/stdout.txt", dir);
    for (size_t i = 0; i < 2; i++) {
        fflush(stdout);
        int saved = dup(STDOUT_FILENO);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(saved >= 0 && fd >= 0);
        assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
        close(fd);
        agent_run_twice(configs[i]);
        /* fd 1 still works after the output closed its duplicate */
        assert_int_equal(write(STDOUT_FILENO, "end\n", 4), 4);
        assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
        close(saved);
        char *text = alumet_test_read_file(path);
        assert_string_equal(text, TWO_LINES TWO_LINES "end\n");
        free(text);
    }
    assert_int_equal(access("ignored.jsonl", F_OK), -1);
    alumet_test_rmtree(dir);
}

static void test_plugin_open_error(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char config[PATH_MAX + 128];
    snprintf(config, sizeof(config), "[plugins.jsonl]\noutput_path = \"%s/missing/x.jsonl\"\n",
             dir);
    struct alumet_test_run a;
    assert_int_equal(alumet_test_run_start(&a, &alumet_plugin_jsonl, config, T_RUN), -ENOENT);
    char expected[PATH_MAX + 256];
    snprintf(expected, sizeof(expected),
             "failed to open file for writing '%s/missing/x.jsonl': No such file or directory",
             dir);
    if (!strstr(a.err.msg, expected))
        fail_msg("unexpected message: %s", a.err.msg);
    alumet_test_run_done(&a);
    alumet_test_rmtree(dir);
}

static void test_plugin_bad_options(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *message;
    } cases[] = {
        {"output_path = \"\"", "plugins.jsonl.output_path: expected the path of a file, or \"-\" "
                               "for the standard output, got an empty string"},
        {"output_path = 3", "plugins.jsonl.output_path"},
        {"stdout = \"yes\"", "plugins.jsonl.stdout"},
        {"force_flush = 1", "plugins.jsonl.force_flush"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char config[256];
        snprintf(config, sizeof(config), "[plugins.jsonl]\n%s\n", cases[i].config);
        struct alumet_test_run a;
        assert_int_equal(alumet_test_run_start(&a, &alumet_plugin_jsonl, config, T_RUN), -EINVAL);
        if (!strstr(a.report, cases[i].message))
            fail_msg("config '%s': message '%s' lacks '%s'", cases[i].config, a.report,
                     cases[i].message);
        alumet_test_run_done(&a);
    }
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_plugin_default_config), cmocka_unit_test(test_plugin_writes_file),
        cmocka_unit_test(test_plugin_stdout),         cmocka_unit_test(test_plugin_open_error),
        cmocka_unit_test(test_plugin_bad_options),
    };
    return alumet_run_tests(group);
}
