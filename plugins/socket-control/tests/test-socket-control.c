/* SPDX-License-Identifier: MIT */
/* The command line parser of socket-control: every command and action, and
 * every error message of upstream's socket control, exactly. */
#include <errno.h>
#include <string.h>

#include "alumet-test.h"
#include "socket-control.h"

static struct sockctl_command parse_ok(const char *line)
{
    struct sockctl_command c;
    memset(&c, 0xa5, sizeof(c));
    struct alumet_error err = {0};
    int r = sockctl_parse(line, &c, &err);
    if (r != 0)
        fail_msg("'%s': %s", line, err.msg);
    return c;
}

static void assert_error(const char *line, const char *msg)
{
    struct sockctl_command c = {0};
    struct alumet_error err = {0};
    assert_int_equal(sockctl_parse(line, &c, &err), -EINVAL);
    assert_string_equal(err.msg, msg);
}

static void assert_control(const char *line, enum sockctl_action action, enum sockctl_kind kind,
                           const char *pattern)
{
    struct sockctl_command c = parse_ok(line);
    assert_int_equal(c.verb, SOCKCTL_CONTROL);
    assert_int_equal(c.action, action);
    assert_int_equal(c.kind, kind);
    assert_string_equal(c.pattern, pattern);
}

static void test_simple_commands(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("shutdown").verb, SOCKCTL_SHUTDOWN);
    assert_int_equal(parse_ok("stop").verb, SOCKCTL_SHUTDOWN);
    assert_int_equal(parse_ok("  shutdown \r").verb, SOCKCTL_SHUTDOWN);
    assert_int_equal(parse_ok("status").verb, SOCKCTL_STATUS);
    /* an empty line crashes upstream's handler: here a no-op */
    assert_int_equal(parse_ok("").verb, SOCKCTL_NOOP);
    assert_int_equal(parse_ok(" \t ").verb, SOCKCTL_NOOP);
}

/* The examples of upstream's tests */
static void test_upstream_examples(void **state)
{
    (void)state;
    assert_control("control sources/my-plugin/my-source pause", SOCKCTL_PAUSE, SOCKCTL_KIND_SOURCE,
                   "src/my-plugin/my-source");
    assert_control("control sources/*/* resume", SOCKCTL_RESUME, SOCKCTL_KIND_SOURCE, "src/*/*");
    assert_control("control src/*/* stop", SOCKCTL_STOP, SOCKCTL_KIND_SOURCE, "src/*/*");
    assert_control("control sources trigger-now", SOCKCTL_TRIGGER_NOW, SOCKCTL_KIND_SOURCE,
                   "src/*/*");
    assert_control("control out/*/* stop", SOCKCTL_STOP, SOCKCTL_KIND_OUTPUT, "out/*/*");
    assert_control("control tra/*/* enable", SOCKCTL_RESUME, SOCKCTL_KIND_TRANSFORM, "tra/*/*");
    assert_control("control transform pause", SOCKCTL_PAUSE, SOCKCTL_KIND_TRANSFORM, "tra/*/*");
    assert_control("control * pause", SOCKCTL_PAUSE, SOCKCTL_KIND_ANY, "*/*/*");
    struct sockctl_command c = parse_ok("control sources set-period 10ms");
    assert_int_equal(c.action, SOCKCTL_SET_PERIOD);
    assert_string_equal(c.pattern, "src/*/*");
    assert_int_equal(c.period, 10 * ALUMET_NSEC_PER_MSEC);
}

static void test_actions_and_kinds(void **state)
{
    (void)state;
    assert_control("control source/procfs/kernel disable", SOCKCTL_PAUSE, SOCKCTL_KIND_SOURCE,
                   "src/procfs/kernel");
    assert_control("control output/csv/* pause", SOCKCTL_PAUSE, SOCKCTL_KIND_OUTPUT, "out/csv/*");
    assert_control("control all/proc*/*el resume", SOCKCTL_RESUME, SOCKCTL_KIND_ANY, "*/proc*/*el");
    struct sockctl_command c = parse_ok("control src/procfs/kernel set-poll-interval 1ms");
    assert_int_equal(c.action, SOCKCTL_SET_PERIOD);
    assert_int_equal(c.period, ALUMET_NSEC_PER_MSEC);
    c = parse_ok("  control\tsrc/procfs/kernel   set-period  1h30m ");
    assert_int_equal(c.period, 90 * 60 * ALUMET_NSEC_PER_SEC);
}

static void test_errors(void **state)
{
    (void)state;
    assert_error("restart", "unknown command 'restart'; available commands are 'shutdown' or "
                            "'control'");
    assert_error("Shutdown now", "unknown command 'Shutdown'; available commands are 'shutdown' "
                                 "or 'control'");
    assert_error("control", "invalid command 'control': missing argument 'selector'");
    assert_error("control   ", "invalid command 'control': missing argument 'selector'");
    assert_error("control src/*/*", "missing arguments after the selector");
    assert_error("control source/without-element pause",
                 "bad pattern, expected kind/plugin/element but got 'source/without-element'");
    assert_error("control a/b/c/d pause", "bad pattern, expected kind/plugin/element but got "
                                          "'a/b/c/d'");
    assert_error("control sauce pause", "bad kind: 'sauce'");
    assert_error("control sauce/*/* pause", "bad kind: 'sauce'");
    assert_error("control src/a*b/* pause", "bad pattern: 'a*b'");
    assert_error("control src/*/*x* pause", "bad pattern: '*x*'");
    assert_error("control src//x pause", "bad pattern: ''");
    assert_error("control src/x/ pause", "bad pattern: ''");
    /* errors in the action part: the whole line */
    assert_error("control output/*/* trigger-now", "invalid command 'control output/*/* "
                                                   "trigger-now'");
    assert_error("control transform/*/* set-period", "invalid command 'control transform/*/* "
                                                     "set-period'");
    assert_error("control transform/*/* stop", "invalid command 'control transform/*/* stop'");
    assert_error("control * stop", "invalid command 'control * stop'");
    assert_error("control * set-period 1s", "invalid command 'control * set-period 1s'");
    assert_error(" control src set-period\n", "invalid command 'control src set-period'");
    assert_error("control src set-period soon", "invalid command 'control src set-period soon'");
    assert_error("control src set-period 0s", "invalid command 'control src set-period 0s'");
    assert_error("control src set-period 1s 2s", "invalid command 'control src set-period 1s 2s'");
    assert_error("control src pause now", "invalid command 'control src pause now'");
    assert_error("control src explode", "invalid command 'control src explode'");
    assert_error("control src a b c d e", "invalid command 'control src a b c d e'");
}

static void test_long_line(void **state)
{
    (void)state;
    char line[SOCKCTL_LINE_MAX + 2];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    assert_error(line, "line too long (more than 4095 bytes)");
    /* the longest line accepted */
    line[SOCKCTL_LINE_MAX] = '\0';
    memcpy(line, "control src/", 12);
    memcpy(line + SOCKCTL_LINE_MAX - 8, "/* pause", 8);
    struct sockctl_command c = parse_ok(line);
    assert_int_equal(c.verb, SOCKCTL_CONTROL);
    assert_int_equal(strlen(c.pattern), SOCKCTL_LINE_MAX - 14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_commands),   cmocka_unit_test(test_upstream_examples),
        cmocka_unit_test(test_actions_and_kinds), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_line),
    };
    return alumet_run_tests(tests);
}
