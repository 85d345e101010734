/* SPDX-License-Identifier: MIT */
/* The prometheus-exporter plugin through the agent lifecycle: options, the
 * default config, the HTTP endpoint on 127.0.0.1 (a real socket: status,
 * content negotiation, exact bodies), a port in use failing the startup. */
#include "alumet-test-plugin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>

extern const struct alumet_plugin alumet_plugin_prometheus_exporter;

/* ---- a log sink that finds the port the endpoint listens on ---- */

struct log_capture {
    pthread_mutex_t lock;
    unsigned port;
    char last[1024];
};

static void capture_sink(void *data, enum alumet_log_level level, const char *topic,
                         const char *msg)
{
    struct log_capture *c = data;
    static const char prefix[] = "serving the metrics on '127.0.0.1:";
    (void)level;
    pthread_mutex_lock(&c->lock);
    snprintf(c->last, sizeof(c->last), "%s: %s", topic, msg);
    if (strncmp(msg, prefix, strlen(prefix)) == 0)
        c->port = (unsigned)strtoul(msg + strlen(prefix), NULL, 10);
    pthread_mutex_unlock(&c->lock);
}

/* ---- a minimal HTTP client ---- */

struct http_reply {
    int status;
    char *raw; /* the whole reply */
    const char *body;
};

static int http_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static void http_request(unsigned port, const char *request, struct http_reply *ret)
{
    int fd = http_connect(port);
    assert_true(fd >= 0);
    size_t len = strlen(request);
    assert_int_equal(write(fd, request, len), (ssize_t)len);
    size_t cap = 4096, n = 0;
    char *raw = malloc(cap);
    assert_non_null(raw);
    for (;;) {
        if (n + 1 == cap) {
            raw = realloc(raw, cap *= 2);
            assert_non_null(raw);
        }
        ssize_t k = read(fd, raw + n, cap - n - 1);
        assert_true(k >= 0);
        if (k == 0)
            break;
        n += (size_t)k;
    }
    raw[n] = '\0';
    close(fd);
    assert_memory_equal(raw, "HTTP/1.1 ", 9);
    ret->status = atoi(raw + 9);
    ret->raw = raw;
    const char *sep = strstr(raw, "\r\n\r\n");
    assert_non_null(sep);
    ret->body = sep + 4;
}

/* GET path with an Accept header (NULL: none). */
static void http_get(unsigned port, const char *path, const char *accept, struct http_reply *ret)
{
    char req[512];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n%s%s%sConnection: close\r\n\r\n",
             path, accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "");
    http_request(port, req, ret);
}

static void assert_header(const struct http_reply *r, const char *line)
{
    if (!strcasestr(r->raw, line))
        fail_msg("header '%s' missing from the reply:\n%s", line, r->raw);
}

/* ---- tests ---- */

static void test_plugin_default_config(void **state)
{
    (void)state;
    const struct alumet_plugin *pl = &alumet_plugin_prometheus_exporter;
    assert_string_equal(pl->name, "prometheus-exporter");
    assert_string_equal(pl->version, "0.1.0");
    assert_int_equal(pl->abi_version, ALUMET_PLUGIN_ABI);
    const char *def = pl->default_config;
    assert_memory_equal(def, "[plugins.prometheus-exporter]\n", 30);
    const char *keys[] = {
        "\nhost = \"0.0.0.0\"\n",
        "\nprefix = \"\"\n",
        "\nsuffix = \"_alumet\"\n",
        "\nport = 9091\n",
        "\nadd_attributes_to_labels = true\n",
        "\nseries_expiry = \"5m\"\n",
        "\ncounter_metrics = []\n",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(strstr(def, keys[i]));

    /* it parses, and init accepts every key of it (the agent takes the
     * enabled switch out before init) */
    struct alumet_error err = {0};
    void *st = NULL;
    assert_int_equal(alumet_test_plugin_init(pl, def, NULL, &st, &err), 0);
    pl->free(st);
}

#define LOCAL_LABELS                                                                               \
    "resource_consumer_id=\"\",resource_consumer_kind=\"local_machine\",resource_id=\"\","         \
    "resource_kind=\"local_machine\""
#define BODY_HEAD                                                                                  \
    "# HELP energy_alumet_millijoules consumed energy.\n"                                          \
    "# TYPE energy_alumet_millijoules gauge\n"
#define BODY_ENERGY "energy_alumet_millijoules{domain=\"package\"," LOCAL_LABELS "} 12.0\n"
/* an energy: the counter of the two polls follows the gauge */
#define BODY_COUNTER_NAME "energy_alumet_cumulative_millijoules"
#define BODY_COUNTER_HELP " consumed energy, summed since the series appeared.\n"
#define BODY_COUNTER_SERIES BODY_COUNTER_NAME "_total{domain=\"package\"," LOCAL_LABELS "} 24.0\n"
#define BODY_COUNTER_OM                                                                            \
    "# HELP " BODY_COUNTER_NAME BODY_COUNTER_HELP "# TYPE " BODY_COUNTER_NAME " counter\n"         \
    "# UNIT " BODY_COUNTER_NAME " millijoules\n" BODY_COUNTER_SERIES
#define BODY_COUNTER_TEXT                                                                          \
    "# HELP " BODY_COUNTER_NAME "_total" BODY_COUNTER_HELP "# TYPE " BODY_COUNTER_NAME             \
    "_total counter\n" BODY_COUNTER_SERIES
#define BODY_TEXT BODY_HEAD BODY_ENERGY BODY_COUNTER_TEXT BODY_RATIO
#define BODY_RATIO                                                                                 \
    "# HELP ratio_alumet a ratio.\n# TYPE ratio_alumet gauge\n"                                    \
    "ratio_alumet{" LOCAL_LABELS "} 0.25\n"
#define ACCEPT_OM "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

static void test_plugin_http(void **state)
{
    (void)state;
    struct log_capture cap = {.lock = PTHREAD_MUTEX_INITIALIZER};
    alumet_log_set_sink(capture_sink, &cap);
    struct alumet_test_run a;
    int r = alumet_test_run_start(&a, &alumet_plugin_prometheus_exporter,
                                  "[plugins.prometheus-exporter]\nhost = \"127.0.0.1\"\nport = 0\n"
                                  "suffix = \"_alumet\"\n",
                                  /* one timestamp: no interval, the gauge never stale */
                                  /* timestamp= */ 1000 * ALUMET_NSEC_PER_SEC);
    if (r < 0)
        fail_msg("start failed: %s", a.err.msg);
    pthread_mutex_lock(&cap.lock);
    unsigned port = cap.port;
    pthread_mutex_unlock(&cap.lock);
    assert_true(port > 0 && port < 65536);

    struct http_reply rep;
    http_get(port, "/metrics", ACCEPT_OM, &rep);
    assert_int_equal(rep.status, 200);
    assert_header(&rep, "\r\nContent-Type: application/openmetrics-text; version=1.0.0; "
                        "charset=utf-8\r\n");
    assert_string_equal(rep.body, "# EOF\n");
    free(rep.raw);

    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    /* the points reach the output thread a little later */
    const char *expected = BODY_HEAD
        "# UNIT energy_alumet_millijoules millijoules\n" BODY_ENERGY BODY_COUNTER_OM BODY_RATIO
        "# EOF\n";
    for (int i = 0;; i++) {
        http_get(port, "/metrics", ACCEPT_OM, &rep);
        assert_int_equal(rep.status, 200);
        if (strcmp(rep.body, expected) == 0 || i == 500)
            break;
        free(rep.raw);
        usleep(10000);
    }
    assert_string_equal(rep.body, expected);
    free(rep.raw);

    /* no Accept header: OpenMetrics, as upstream */
    http_get(port, "/metrics?x=1", NULL, &rep);
    assert_int_equal(rep.status, 200);
    assert_header(&rep, "\r\nContent-Type: application/openmetrics-text; version=1.0.0; "
                        "charset=utf-8\r\n");
    assert_string_equal(rep.body, expected);
    free(rep.raw);

    /* the Prometheus text format when asked for */
    http_get(port, "/metrics?x=1", "text/plain", &rep);
    assert_int_equal(rep.status, 200);
    assert_header(&rep, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
    assert_string_equal(rep.body, BODY_TEXT);
    free(rep.raw);

    http_get(port, "/", NULL, &rep);
    assert_int_equal(rep.status, 404);
    assert_string_equal(rep.body, "Not Found");
    free(rep.raw);
    http_get(port, "/metrics/x", ACCEPT_OM, &rep);
    assert_int_equal(rep.status, 404);
    free(rep.raw);

    /* any method; a request body is read and ignored */
    http_request(port,
                 "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                 "Connection: close\r\n\r\nhello",
                 &rep);
    assert_int_equal(rep.status, 200);
    assert_string_equal(rep.body, expected);
    free(rep.raw);
    http_request(port, "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rep);
    assert_int_equal(rep.status, 200);
    assert_string_equal(rep.body, "");
    free(rep.raw);

    assert_int_equal(alumet__pipeline_stop(a.p), 0);
    alumet_test_run_done(&a);
    alumet_log_set_sink(NULL, NULL);
    /* the plugin stopped: nobody listens any more */
    assert_int_equal(http_connect(port), -ECONNREFUSED);
}

/* The body served with these options once the test source polled twice. */
static void check_names(const char *options, const char *expected)
{
    struct log_capture cap = {.lock = PTHREAD_MUTEX_INITIALIZER};
    alumet_log_set_sink(capture_sink, &cap);
    char config[512];
    snprintf(config, sizeof(config),
             "[plugins.prometheus-exporter]\nhost = \"127.0.0.1\"\nport = 0\n%s", options);
    struct alumet_test_run a;
    if (alumet_test_run_start(&a, &alumet_plugin_prometheus_exporter, config,
                              1000 * ALUMET_NSEC_PER_SEC) < 0)
        fail_msg("start failed: %s", a.err.msg);
    pthread_mutex_lock(&cap.lock);
    unsigned port = cap.port;
    pthread_mutex_unlock(&cap.lock);
    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_trigger_all_wait(a.p, 5 * ALUMET_NSEC_PER_SEC), 1);
    struct http_reply rep;
    for (int i = 0;; i++) {
        http_get(port, "/metrics", ACCEPT_OM, &rep);
        assert_int_equal(rep.status, 200);
        if (strcmp(rep.body, expected) == 0 || i == 500)
            break;
        free(rep.raw);
        usleep(10000);
    }
    assert_string_equal(rep.body, expected);
    free(rep.raw);
    assert_int_equal(alumet__pipeline_stop(a.p), 0);
    alumet_test_run_done(&a);
    alumet_log_set_sink(NULL, NULL);
}

/* the energy named name, the ratio (no unit: Unity) named ratio */
#define BOOK_BODY(name, ratio)                                                                     \
    "# HELP " name " consumed energy.\n# TYPE " name " gauge\n" name                               \
    "{domain=\"package\"," LOCAL_LABELS "} 12.0\n# HELP " name "_cumulative" BODY_COUNTER_HELP     \
    "# TYPE " name "_cumulative counter\n" name                                                    \
    "_cumulative_total{domain=\"package\"," LOCAL_LABELS "} 24.0\n"                                \
    "# HELP " ratio " a ratio.\n# TYPE " ratio " gauge\n" ratio "{" LOCAL_LABELS "} 0.25\n# EOF\n"

/* The user book's options (upstream rejects them): the unit's display or
 * unique name before the suffix, or no unit; then no UNIT line, as the name
 * does not end with the unit. Without them: upstream's names. */
static void test_plugin_book_unit_names(void **state)
{
    (void)state;
    check_names("append_unit_to_metric_name = true\nuse_unit_display_name = true\n",
                BOOK_BODY("energy_mJ_alumet", "ratio_alumet"));
    check_names("use_unit_display_name = false\n",
                BOOK_BODY("energy_milliJ_alumet", "ratio_1_alumet"));
    check_names("append_unit_to_metric_name = false\nuse_unit_display_name = true\n",
                BOOK_BODY("energy_alumet", "ratio_alumet"));
    check_names(
        "append_unit_to_metric_name = true\n", BODY_HEAD
        "# UNIT energy_alumet_millijoules millijoules\n" BODY_ENERGY BODY_COUNTER_OM BODY_RATIO
        "# EOF\n");
}

/* A port in use fails the startup, naming the address and the reason. */
static void test_plugin_bind_error(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    unsigned port = ntohs(addr.sin_port);

    char config[256];
    snprintf(config, sizeof(config),
             "[plugins.prometheus-exporter]\nhost = \"127.0.0.1\"\n"
             "port = %u\n",
             port);
    struct alumet_test_run a;
    assert_int_equal(
        alumet_test_run_start(&a, &alumet_plugin_prometheus_exporter, config, /* timestamp= */ 0),
        -EADDRINUSE);
    char expected[256];
    snprintf(expected, sizeof(expected),
             "failed to bind the metrics endpoint to '127.0.0.1:%u': Address already in use; "
             "another program listens on this port",
             port);
    if (!strstr(a.err.msg, expected))
        fail_msg("unexpected error message: %s", a.err.msg);
    alumet_test_run_done(&a);
    close(fd);
}

static void test_plugin_bad_options(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *message;
    } cases[] = {
        {"host = \"localhost\"", "plugins.prometheus-exporter.host: invalid host:port "
                                 "configuration: expected an IP address"},
        {"host = \"::1\"", "got '::1'"},
        {"port = 70000", "plugins.prometheus-exporter.port: expected a port number between 0 "
                         "and 65535 (0: any free port), got 70000"},
        {"port = -1", "got -1"},
        {"series_expiry = 5", "plugins.prometheus-exporter.series_expiry"},
        {"prefix = 3", "plugins.prometheus-exporter.prefix"},
        {"add_attributes_to_labels = \"yes\"", "add_attributes_to_labels"},
        {"counter_metrics = \"energy\"", "plugins.prometheus-exporter.counter_metrics"},
        {"counter_metrics = [\"energy\", 3]", "plugins.prometheus-exporter.counter_metrics"},
        {"counter_metrics = [\"energy\", \"\"]",
         "plugins.prometheus-exporter.counter_metrics: item 2 is empty: expected a metric name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char config[256];
        snprintf(config, sizeof(config), "[plugins.prometheus-exporter]\n%s\n", cases[i].config);
        struct alumet_test_run a;
        assert_int_equal(alumet_test_run_start(&a, &alumet_plugin_prometheus_exporter, config,
                                               /* timestamp= */ 0),
                         -EINVAL);
        if (!strstr(a.report, cases[i].message))
            fail_msg("config '%s': message '%s' lacks '%s'", cases[i].config, a.report,
                     cases[i].message);
        alumet_test_run_done(&a);
    }
}

/* A name of counter_metrics that no metric has is a warning at startup (a
 * typo would leave its metric without a counter); a known one is not. */
static void test_plugin_unknown_counter_metric(void **state)
{
    (void)state;
    alumet_test_log_capture("warn");
    struct alumet_test_run a;
    int r = alumet_test_run_start(&a, &alumet_plugin_prometheus_exporter,
                                  "[plugins.prometheus-exporter]\nhost = \"127.0.0.1\"\nport = 0\n"
                                  "counter_metrics = [\"ratio\", \"enrgy\"]\n",
                                  /* timestamp= */ 0);
    alumet_test_log_release();
    if (r < 0)
        fail_msg("start failed: %s", a.err.msg);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "counter_metrics", NULL), 1);
    assert_string_equal(alumet_test_log_find("counter_metrics"),
                        "option 'counter_metrics' of [plugins.prometheus-exporter]: no metric "
                        "named 'enrgy' is registered, it will have no counter; check the name "
                        "(the metric's own name, without prefix, suffix nor unit) and that the "
                        "plugin measuring it is enabled");
    assert_int_equal(alumet__pipeline_stop(a.p), 0);
    alumet_test_run_done(&a);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_plugin_default_config),
        cmocka_unit_test(test_plugin_http),
        cmocka_unit_test(test_plugin_book_unit_names),
        cmocka_unit_test(test_plugin_bind_error),
        cmocka_unit_test(test_plugin_bad_options),
        cmocka_unit_test(test_plugin_unknown_counter_metric),
    };
    return alumet_run_tests(group);
}
