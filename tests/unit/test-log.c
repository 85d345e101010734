/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "alumet-test.h"
#include "alumet/log.h"

struct capture {
    char last[256];
    int n;
};

static void sink(void *data, enum alumet_log_level level, const char *topic, const char *msg)
{
    struct capture *c = data;
    snprintf(c->last, sizeof(c->last), "%d %s: %s", (int)level, topic, msg);
    c->n++;
}

static int evaluated;
static int side_effect(void)
{
    return ++evaluated;
}

static void test_levels_and_globs(void **state)
{
    (void)state;
    struct alumet_log_topic rapl = ALUMET_LOG_TOPIC_INIT("rapl");
    struct alumet_log_topic perf = ALUMET_LOG_TOPIC_INIT("rapl.perf");
    struct alumet_log_topic csv = ALUMET_LOG_TOPIC_INIT("output.csv");
    struct capture c = {{0}, 0};
    alumet_log_set_sink(sink, &c);
    assert_int_equal(alumet_log_configure("warn,rapl=trace,output.*=debug"), 0);
    assert_true(alumet_log_enabled(&rapl, ALUMET_LOG_TRACE));
    assert_true(alumet_log_enabled(&perf, ALUMET_LOG_TRACE)); /* sub-topic */
    assert_true(alumet_log_enabled(&csv, ALUMET_LOG_DEBUG));
    assert_false(alumet_log_enabled(&csv, ALUMET_LOG_TRACE));
    /* reconfiguring is seen by topics already resolved */
    assert_int_equal(alumet_log_configure("error"), 0);
    assert_false(alumet_log_enabled(&rapl, ALUMET_LOG_WARN));
#define ALUMET_LOG_DEFAULT_TOPIC (&rapl)
    evaluated = 0;
    alumet_log_warn("not printed %d", side_effect());
    assert_int_equal(evaluated, 0); /* arguments not evaluated when off */
    alumet_log_error("value '%d'", 3);
    assert_string_equal(c.last, "1 rapl: value '3'");
    assert_int_equal(c.n, 1);
    assert_int_equal(alumet_log_configure("info,bad=nonsense"), -EINVAL);
    assert_true(alumet_log_enabled(&rapl, ALUMET_LOG_INFO)); /* valid parts still apply */
    alumet_log_set_sink(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_and_globs),
    };
    return alumet_run_tests(tests);
}
