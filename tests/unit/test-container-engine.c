/* SPDX-License-Identifier: MIT */
/* Tests of src/util/json and src/util/container-engine: the reading of an
 * inspect answer, then the client against a fake engine on a Unix socket
 * (answers, 404, 500, no answer within the time limit, no engine). */
#include <errno.h>
#include <time.h>

#include "alumet-test-engine.h"
#include "alumet-test.h"
#include "util/container-engine.h"
#include "util/json.h"

#define ID "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6"

/* The shape of Podman 4.3's and Docker's answers (trimmed). */
static const char inspect[] =
    "{\"Id\":\"" ID "\",\"Created\":\"2026-12-04T16:14:33Z\",\"State\":{\"Pid\":12069,"
    "\"Running\":true},\"Image\":\"sha256:321a3d\",\"Name\":\"/web\",\"Config\":{"
    "\"Image\":\"localhost/bb:test\",\"Cmd\":[\"sh\",\"-c\"],\"Env\":null,"
    "\"Labels\":{\"app.kind\":\"busy\",\"note\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\","
    "\"n\":1}},\"HostConfig\":{\"Memory\":0,\"Privileged\":false}}";

static void test_json(void **state)
{
    (void)state;
    struct json *j;
    assert_int_equal(
        json_parse(" {\"a\": [1, -2.5e3, true, null, \"x\"], \"b\": {}} ", 45, &j, NULL, 0), 0);
    const struct json *a = json_get(j, "a");
    assert_int_equal(a->type, JSON_ARRAY);
    assert_string_equal(a->child->next->str, "-2.5e3");
    assert_int_equal(a->child->next->type, JSON_NUMBER);
    assert_true(a->child->next->num == -2500.0);
    assert_int_equal(a->child->next->next->type, JSON_BOOL);
    assert_int_equal(a->child->next->next->next->type, JSON_NULL);
    assert_string_equal(json_str(a->child->next->next->next->next), "x");
    assert_null(json_str(a));
    assert_null(json_get(j, "c"));
    assert_int_equal(json_get(j, "b")->type, JSON_OBJECT);
    json_free(j);
    static const char *const bad[] = {"",      "{",    "{\"a\"}",   "{\"a\":1,}", "[1 2]",
                                      "\"abc", "{} x", "\"\\u12\"", "{1:2}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(json_parse(bad[i], strlen(bad[i]), &j, NULL, 0), -EINVAL);
    char deep[200];
    memset(deep, '[', sizeof(deep));
    char msg[128];
    assert_int_equal(json_parse(deep, sizeof(deep), &j, msg, sizeof(msg)), -EINVAL);
}

static void test_parse(void **state)
{
    (void)state;
    struct container_info info;
    assert_int_equal(container_info_parse(inspect, strlen(inspect), &info), 0);
    assert_string_equal(info.name, "web");
    assert_string_equal(info.image, "localhost/bb:test");
    /* string labels only, in order, decoded */
    assert_int_equal(info.n_labels, 2);
    assert_string_equal(info.labels[0].key, "app.kind");
    assert_string_equal(info.labels[0].value, "busy");
    assert_string_equal(info.labels[1].key, "note");
    assert_string_equal(info.labels[1].value, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"");
    container_info_done(&info);

    /* no Config.Image: the image id; no labels */
    static const char other[] = "{\"Name\":\"db\",\"Image\":\"sha256:9\",\"Config\":{"
                                "\"Labels\":null}}";
    assert_int_equal(container_info_parse(other, strlen(other), &info), 0);
    assert_string_equal(info.name, "db");
    assert_string_equal(info.image, "sha256:9");
    assert_int_equal(info.n_labels, 0);
    container_info_done(&info);

    static const char noname[] = "{\"Config\":{}}";
    assert_int_equal(container_info_parse(noname, strlen(noname), &info), -EBADMSG);
    assert_int_equal(container_info_parse("[]", 2, &info), -EBADMSG);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_inspect(void **state)
{
    (void)state;
    char *tmp = alumet_test_tmpdir();
    char sock[256];
    snprintf(sock, sizeof(sock), "%s/engine.sock", tmp);
    struct fake_engine fe = {.answers = {{ID, 200, inspect},
                                         {"broken", 500, "{\"message\":\"oops\"}"},
                                         {"garbage", 200, "not json"}},
                             .n = 3};
    assert_int_equal(fake_engine_start(&fe, sock), 0);

    struct container_engine *e;
    assert_int_equal(container_engine_new(sock, 300 * 1000000LL, &e), 0);
    assert_string_equal(container_engine_socket(e), sock);
    struct container_info info;
    assert_int_equal(container_engine_inspect(e, ID, &info), 0);
    assert_string_equal(container_engine_error(e), "");
    assert_string_equal(info.name, "web");
    assert_string_equal(info.image, "localhost/bb:test");
    container_info_done(&info);
    assert_int_equal(container_engine_inspect(e, "0123", &info), -ENXIO);
    assert_string_equal(container_engine_error(e), "no such container (HTTP status 404)");
    assert_int_equal(container_engine_inspect(e, "broken", &info), -EPROTO);
    assert_string_equal(container_engine_error(e), "HTTP status 500");
    assert_int_equal(container_engine_inspect(e, "garbage", &info), -EPROTO);
    assert_string_equal(container_engine_error(e), "the answer is not a container's inspect JSON");
    assert_int_equal(atomic_load(&fe.requests), 4);

    /* an engine that does not answer: the time limit */
    atomic_store(&fe.silent, true);
    int64_t t0 = mono_ms();
    assert_int_equal(container_engine_inspect(e, ID, &info), -ETIMEDOUT);
    int64_t took = mono_ms() - t0;
    assert_true(took >= 290);
    assert_non_null(strstr(container_engine_error(e), "imed out"));
    container_engine_free(e);
    fake_engine_stop(&fe);

    /* no engine at all */
    assert_int_equal(container_engine_new(sock, 300 * 1000000LL, &e), 0);
    assert_int_equal(container_engine_inspect(e, ID, &info), -ECONNREFUSED);
    assert_non_null(strstr(container_engine_error(e), "onnect"));
    container_engine_free(e);
    alumet_test_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_inspect),
    };
    return alumet_run_tests(tests);
}
