/* SPDX-License-Identifier: MIT */
/* web_config_file of prometheus-exporter: what the loader reads from a file
 * (inline and relative PEM, users, headers, the TLS version range as a
 * GnuTLS priority string), its errors with their line, and the credential
 * check against a published bcrypt test vector, with its cache; the watch
 * that loads the file again when it changes. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../prometheus-exporter.h"

/* crypt_blowfish's test vector: bcrypt("U*U", cost 5) */
#define VECTOR_HASH "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define VECTOR_PASSWORD "U*U"
/* bcrypt("", cost 5), same test vectors */
#define EMPTY_HASH "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"

#define FAKE_KEY "-----BEGIN PRIVATE KEY-----\nMIIfake\n-----END PRIVATE KEY-----\n"

static char *write_config(char *dir, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/web.yml", dir);
    alumet_test_write_file(path, text);
    return strdup(path);
}

static void test_load(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char key[512];
    snprintf(key, sizeof(key), "%s/server.key", dir);
    alumet_test_write_file(key, FAKE_KEY);
    char *path = write_config(dir, "tls_server_config:\n"
                                   "  cert: |\n"
                                   "    -----BEGIN CERTIFICATE-----\n"
                                   "    MIIinline\n"
                                   "    -----END CERTIFICATE-----\n"
                                   "  key_file: server.key\n"
                                   "  min_version: TLS10\n"
                                   "  max_version: TLS12\n"
                                   "  prefer_server_cipher_suites: true\n"
                                   "basic_auth_users:\n"
                                   "  alice: '" VECTOR_HASH "'\n"
                                   "  bob: \"" EMPTY_HASH "\"\n"
                                   "http_server_config:\n"
                                   "  http2: false\n"
                                   "  headers:\n"
                                   "    X-Frame-Options: deny\n");
    struct prometheus_webconfig wc;
    struct alumet_error err = {0};

    assert_int_equal(prometheus_webconfig_load(path, &wc, &err), 0);
    assert_string_equal(wc.cert,
                        "-----BEGIN CERTIFICATE-----\nMIIinline\n-----END CERTIFICATE-----\n");
    assert_string_equal(wc.key, FAKE_KEY);
    assert_null(wc.client_ca);
    assert_int_equal(wc.client_auth, PROMETHEUS_CLIENT_AUTH_NONE);
    assert_string_equal(wc.priorities, "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0");
    assert_int_equal(wc.n_users, 2);
    assert_string_equal(wc.users[0].name, "alice");
    assert_string_equal(wc.users[0].hash, VECTOR_HASH);
    assert_string_equal(wc.users[1].name, "bob");
    assert_int_equal(wc.n_headers, 1);
    assert_string_equal(wc.headers[0], "X-Frame-Options");
    assert_string_equal(wc.headers[1], "deny");
    prometheus_webconfig_done(&wc);

    /* an empty file: plain HTTP, no authentication */
    free(path);
    path = write_config(dir, "# nothing\n");
    assert_int_equal(prometheus_webconfig_load(path, &wc, &err), 0);
    assert_null(wc.cert);
    assert_int_equal(wc.n_users, 0);
    prometheus_webconfig_done(&wc);
    free(path);
    alumet_test_rmtree(dir);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message; /* after "web_config_file '<path>'" */
    } cases[] = {
        {"basic_auth_users:\n  alice: secret\n",
         ", line 2: the password of user 'alice' is not a bcrypt hash: expected \"$2y$10$\" and 53 "
         "characters, such as `htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints (quote it in YAML)"},
        {"tls_server_config:\n  key_file: server.key\n",
         ", line 2: tls_server_config needs cert_file: add it (a PEM file)"},
        {"tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
         ", line 2: 'cert_file': cannot read '@DIR@/missing.crt': No such file or directory; "
         "expected a PEM file that the agent's user can read (a relative path starts from the "
         "folder of this file)"},
        {"tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n"
         "  client_auth_type: RequireAndVerifyClientCert\n",
         ", line 4: client_auth_type \"RequireAndVerifyClientCert\" needs client_ca_file, the CA "
         "that signs the client certificates: add it"},
        {"tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n"
         "  client_auth_type: RequireAnyClientCert\n  client_ca_file: server.key\n",
         ", line 4: client_auth_type \"RequireAnyClientCert\" accepts certificates that nobody "
         "verifies and is not supported: use RequireAndVerifyClientCert with client_ca_file"},
        {"tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n"
         "  min_version: TLS13\n  max_version: TLS12\n",
         ", line 2: min_version is above max_version: lower min_version"},
        {"tls_server_config:\n  certfile: x\n",
         ", line 2: unknown option 'certfile' of tls_server_config; expected cert_file, "
         "key_file, client_ca_file, client_auth_type, min_version or max_version"},
        {"basic_auth_users:\n  alice: '" VECTOR_HASH "'\n\nbasic_auth_users: {}\n",
         ", line 4: 'basic_auth_users' is given twice (also on line 1): keep one"},
        {"- a\n- b\n", ", line 1: expected a mapping (tls_server_config, basic_auth_users, "
                       "http_server_config)"},
        {"basic_auth_users:\n  alice: 'x\n", ", line 3: found unexpected end of stream while "
                                             "scanning a quoted scalar; fix the YAML"},
    };
    char *dir = alumet_test_tmpdir();
    char key[512];
    snprintf(key, sizeof(key), "%s/server.key", dir);
    alumet_test_write_file(key, FAKE_KEY);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_config(dir, cases[i].text);
        char message[1024], want[2048];
        const char *at = strstr(cases[i].message, "@DIR@");
        if (at)
            snprintf(message, sizeof(message), "%.*s%s%s", (int)(at - cases[i].message),
                     cases[i].message, dir, at + 5);
        else
            snprintf(message, sizeof(message), "%s", cases[i].message);
        snprintf(want, sizeof(want), "web_config_file '%s'%s", path, message);
        struct prometheus_webconfig wc;
        struct alumet_error err = {0};
        assert_int_equal(prometheus_webconfig_load(path, &wc, &err), -EINVAL);
        assert_string_equal(err.msg, want);
        assert_null(wc.cert);
        assert_null(wc.users);
        free(path);
    }

    struct prometheus_webconfig wc;
    struct alumet_error err = {0};
    assert_int_equal(prometheus_webconfig_load("/nonexistent/web.yml", &wc, &err), -ENOENT);
    assert_string_equal(err.msg, "cannot read the web_config_file '/nonexistent/web.yml': No such "
                                 "file or directory; check the option web_config_file and the "
                                 "permissions of the agent's user");
    alumet_test_rmtree(dir);
}

static void test_check(void **state)
{
    (void)state;
    struct prometheus_user users[] = {
        {.name = "alice", .hash = strdup(VECTOR_HASH)},
        {.name = "bob", .hash = EMPTY_HASH},
    };
    struct prometheus_webconfig wc = {.users = users, .n_users = 2};
    struct prometheus_webconfig_cache cache = {0};
    pthread_mutex_init(&cache.lock, NULL);

    assert_false(prometheus_webconfig_check(&cache, &wc, "alice", "U*V"));
    assert_false(prometheus_webconfig_check(&cache, &wc, "alice", ""));
    assert_false(prometheus_webconfig_check(&cache, &wc, "carol", VECTOR_PASSWORD));
    assert_false(prometheus_webconfig_check(&cache, &wc, "bob", VECTOR_PASSWORD));
    assert_int_equal(cache.n, 0);
    assert_true(prometheus_webconfig_check(&cache, &wc, "bob", ""));
    assert_true(prometheus_webconfig_check(&cache, &wc, "alice", VECTOR_PASSWORD));
    assert_int_equal(cache.n, 2);
    /* the $2y$ spelling of the same hash */
    users[0].hash[2] = 'y';
    assert_true(prometheus_webconfig_check(&cache, &wc, "alice", VECTOR_PASSWORD));

    /* a cached success skips bcrypt: with another hash, the cached
     * credentials still pass, and the new password is checked by bcrypt */
    users[0].hash[7] = 'D';
    assert_true(prometheus_webconfig_check(&cache, &wc, "alice", VECTOR_PASSWORD));
    assert_false(prometheus_webconfig_check(&cache, &wc, "alice", "U*V"));
    /* the key holds the user: bob with alice's password is not in cache */
    assert_false(prometheus_webconfig_check(&cache, &wc, "bob", VECTOR_PASSWORD));

    /* the cache keeps the latest PROMETHEUS_CREDENTIAL_CACHE successes */
    users[0].hash[7] = 'C';
    users[1].hash = users[0].hash;
    char name[16];
    users[1].name = name;
    for (int i = 0; i < PROMETHEUS_CREDENTIAL_CACHE; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        assert_true(prometheus_webconfig_check(&cache, &wc, name, VECTOR_PASSWORD));
    }
    assert_int_equal(cache.n, PROMETHEUS_CREDENTIAL_CACHE);
    users[0].hash[7] = 'D';
    assert_false(prometheus_webconfig_check(&cache, &wc, "alice", VECTOR_PASSWORD));
    pthread_mutex_destroy(&cache.lock);
    free(users[0].hash);
}

/* The watch: nothing changed, the same version; a broken change, the same
 * version and one error; a good change, a new version while the old one
 * stays alive for its holders. */
static void test_watch(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char *path = write_config(dir, "basic_auth_users:\n  alice: '" VECTOR_HASH "'\n");
    struct alumet_log_topic topic = ALUMET_LOG_TOPIC_INIT("prometheus-exporter");
    struct prometheus_webfiles files = {0};
    struct prometheus_webstate *s = NULL, *cur;
    struct prometheus_webwatch w;
    struct alumet_error err = {0};
    char want[1024];

    alumet_test_log_capture("info");
    assert_int_equal(prometheus_webstate_load(path, &files, &s, &err), 0);
    assert_int_equal(files.n, 1);
    assert_string_equal(files.path[0], path);
    struct prometheus_webstate *first = prometheus_webstate_ref(s);
    prometheus_webwatch_init(&w, path, s, &files, &topic);
    assert_int_equal(files.n, 0); /* moved */
    cur = prometheus_webwatch_current(&w);
    assert_ptr_equal(cur, first);
    prometheus_webstate_unref(cur);

    free(write_config(dir, "basic_auth_users: [\n"));
    for (int i = 0; i < 3; i++) {
        cur = prometheus_webwatch_current(&w);
        assert_ptr_equal(cur, first);
        prometheus_webstate_unref(cur);
    }
    snprintf(want, sizeof(want),
             "ERROR prometheus-exporter: cannot reload: web_config_file '%s', line 2: did not "
             "find expected node content while parsing a flow node; fix the YAML; the endpoint "
             "keeps the previous configuration",
             path);
    assert_int_equal(alumet_test_log_count_lines("cannot reload"), 1);
    assert_int_equal(alumet_test_log_count_lines(want), 1);

    free(write_config(dir, "basic_auth_users:\n  alice: '" EMPTY_HASH "'\n"));
    cur = prometheus_webwatch_current(&w);
    assert_ptr_not_equal(cur, first);
    assert_string_equal(prometheus_webstate_config(cur)->users[0].hash, EMPTY_HASH);
    assert_string_equal(prometheus_webstate_config(first)->users[0].hash, VECTOR_HASH);
    snprintf(want, sizeof(want),
             "INFO prometheus-exporter: web_config_file '%s' changed: new connections and "
             "requests use it",
             path);
    assert_int_equal(alumet_test_log_count_lines(want), 1);
    prometheus_webstate_unref(first);
    struct prometheus_webstate *again = prometheus_webwatch_current(&w);
    assert_ptr_equal(again, cur);
    prometheus_webstate_unref(again);
    prometheus_webstate_unref(cur);
    assert_int_equal(alumet_test_log_count_lines("prometheus-exporter"), 2);
    alumet_test_log_release();
    prometheus_webwatch_done(&w);
    free(path);
    alumet_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_watch),
    };
    return alumet_run_tests(group);
}
