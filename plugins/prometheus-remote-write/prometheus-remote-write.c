/* SPDX-License-Identifier: MIT */
/* prometheus-remote-write: sends every measurement to a Prometheus remote
 * write 1.0 receiver (Prometheus with --web.enable-remote-write-receiver,
 * VictoriaMetrics, Mimir, Thanos receive...), with the names and labels of
 * the prometheus-exporter plugin. See README.md. The request is built by
 * prometheus-remote-write-encode.c and sent through the shared HTTP client
 * (src/util/http); a transient failure is retried by the core (delivery
 * policy), and the retry sends the very request that failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "prometheus-remote-write.h"
#include "util/http/httpclient.h"
#include "util/http/httpoutput.h"

#define PRW_DEFAULT_CONFIG                                                                         \
    "[plugins.prometheus-remote-write]\n"                                                          \
    "# Off by default: it needs a server; set to true to use it\n"                                 \
    "enabled = false\n"                                                                            \
    "# Remote write endpoint: Prometheus (started with --web.enable-remote-write-receiver)\n"      \
    "# \"http://HOST:9090/api/v1/write\", VictoriaMetrics \"http://HOST:8428/api/v1/write\"\n"     \
    "url = \"http://localhost:9090/api/v1/write\"\n"                                               \
    "# Names as prometheus-exporter gives them: prefix + metric name + suffix + unit\n"            \
    "prefix = \"\"\n"                                                                              \
    "suffix = \"_alumet\"\n"                                                                       \
    "# Export the attributes of the measurements as labels\n"                                      \
    "add_attributes_to_labels = true\n"                                                            \
    "# Metrics whose values are per-interval deltas, also sent as counters\n"                      \
    "# NAME_cumulative_UNIT_total (energies in joules or watt-hours always are)\n"                 \
    "counter_metrics = []\n"                                                                       \
    "# Forget the counter of a series not measured for this long (\"0s\": never)\n"                \
    "series_expiry = \"5m\"\n"                                                                     \
    "# Labels added to every series (a label of the measurement wins)\n"                           \
    "# labels = { instance = \"node1\", job = \"alumet\" }\n"                                      \
    "# Basic authentication (empty username: none), or a bearer token\n"                           \
    "# username = \"\"\n"                                                                          \
    "# password = \"\"\n"                                                                          \
    "# bearer_token = \"\"\n"                                                                      \
    "# Time limits of a write request\n"                                                           \
    "connect_timeout = \"5s\"\n"                                                                   \
    "request_timeout = \"30s\"\n"                                                                  \
    "# Measurements kept while the server cannot be reached, retried until it can\n"               \
    "# (past this, the oldest are dropped; 0: keep nothing, drop what fails)\n"                    \
    "max_buffered_points = 1000000\n"

#define PRW_USER_AGENT "alumet-prometheus-remote-write/0.1.0"
#define PRW_MAX_RESPONSE 511
/* prw_post: the server refused the data itself; sending it again cannot help */
#define PRW_REJECTED 2

/* Everything the output needs, read in init; owned strings. */
struct prw_settings {
    char *url;
    char *prefix;
    char *suffix;
    bool add_attributes;
    char **counter_metrics;
    size_t n_counter_metrics;
    char **label_names;
    char **label_values;
    size_t n_labels;
    alumet_time_ns series_expiry;
    struct httpoutput_security sec; /* TLS and authentication (docs/http-outputs.md) */
    alumet_time_ns connect_timeout;
    alumet_time_ns request_timeout;
    uint64_t max_buffered_points;
};

/* The request that failed last, resent as is when the core retries the
 * same buffer (its counters already advanced). */
struct prw_pending {
    bool valid;
    const struct alumet_buffer *buf;
    size_t len;
    uint64_t fingerprint;
    struct prw_request req;
};

/* The output "out": owned by the core once registered. */
struct prw_output {
    struct alumet_log_topic *log;
    struct prw_encoder *encoder;
    struct httpclient client;
    char *url; /* for messages */
    uint64_t max_buffered_points;
    struct prw_pending pending;
    struct httpoutput_complaint rejected;
};

static void prw_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void prw_free(void *state)
{
    struct prw_settings *s = state;
    if (!s)
        return;
    free(s->url);
    free(s->prefix);
    free(s->suffix);
    prw_strv_free(s->counter_metrics, s->n_counter_metrics);
    prw_strv_free(s->label_names, s->n_labels);
    prw_strv_free(s->label_values, s->n_labels);
    httpoutput_security_done(&s->sec);
    free(s);
}

static int prw_get_string(struct alumet_config *cfg, const char *key, const char *def, char **ret,
                          struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(cfg, key, def, &v, err);
    if (r < 0)
        return r;
    *ret = strdup(v);
    return *ret ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
}

static int prw_get_counter_metrics(struct alumet_config *cfg, struct prw_settings *s,
                                   struct alumet_error *err)
{
    const char **items = NULL;
    size_t n = 0;
    int r = alumet_config_get_string_array(cfg, "counter_metrics", &items, &n, err);
    if (r < 0)
        return r;
    s->counter_metrics = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; s->counter_metrics && i < n; i++) {
        if (!(s->counter_metrics[i] = strdup(items[i])))
            break;
        s->n_counter_metrics = i + 1;
    }
    free(items);
    if (!s->counter_metrics || s->n_counter_metrics != n)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* labels = { name = "value", ... } */
static int prw_get_labels(struct alumet_config *cfg, struct prw_settings *s,
                          struct alumet_error *err)
{
    struct alumet_config *t = NULL;
    int r = alumet_config_get_table(cfg, "labels", &t, err);
    if (r < 0 || !t)
        return r;
    size_t n = alumet_config_len(t);
    s->label_names = calloc(n + 1, sizeof(char *));
    s->label_values = calloc(n + 1, sizeof(char *));
    if (!s->label_names || !s->label_values)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = alumet_config_key_at(t, i);
        if (!prom_label_name_valid(name) || strcmp(name, "__name__") == 0)
            return alumet_config_error(t, name, err, -EINVAL,
                                       "expected a label name: ASCII letters, digits and '_', "
                                       "not starting with a digit nor with \"__\" (reserved by "
                                       "Prometheus), got \"%s\"",
                                       name);
        const char *value = NULL;
        r = alumet_config_get_string(t, name, NULL, &value, err);
        if (r < 0)
            return r;
        if (!*value)
            return alumet_config_error(t, name, err, -EINVAL,
                                       "expected a non-empty value (Prometheus drops labels "
                                       "with an empty value), got \"\"");
        s->label_names[i] = strdup(name);
        s->label_values[i] = strdup(value);
        s->n_labels = i + 1;
        if (!s->label_names[i] || !s->label_values[i])
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static int prw_read_options(struct alumet_config *cfg, struct prw_settings *s,
                            struct alumet_error *err)
{
    int64_t max_points = 0;
    int r = prw_get_string(cfg, "url", "http://localhost:9090/api/v1/write", &s->url, err);
    if (r == 0)
        r = prw_get_string(cfg, "prefix", "", &s->prefix, err);
    if (r == 0)
        r = prw_get_string(cfg, "suffix", "_alumet", &s->suffix, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "add_attributes_to_labels", true, &s->add_attributes, err);
    if (r == 0)
        r = prw_get_counter_metrics(cfg, s, err);
    if (r == 0)
        r = alumet_config_get_duration(cfg, "series_expiry", 300 * ALUMET_NSEC_PER_SEC,
                                       &s->series_expiry, err);
    if (r == 0)
        r = prw_get_labels(cfg, s, err);
    if (r == 0)
        r = httpoutput_get_security(cfg, "url", s->url, &s->sec, err);
    if (r == 0)
        r = httpoutput_get_limits(cfg, &s->connect_timeout, &s->request_timeout, &max_points, err);
    if (r < 0)
        return r;

    if (strncmp(s->url, "http://", 7) != 0 && strncmp(s->url, "https://", 8) != 0)
        return alumet_config_error(cfg, "url", err, -EINVAL,
                                   "expected the URL of a remote write endpoint, such as "
                                   "\"http://localhost:9090/api/v1/write\", got \"%s\"",
                                   s->url);
    if (s->series_expiry < 0)
        return alumet_config_error(cfg, "series_expiry", err, -EINVAL,
                                   "expected a duration of 0s (never) or more");
    r = httpoutput_check_limits(cfg, s->connect_timeout, s->request_timeout, max_points, err);
    if (r < 0)
        return r;
    s->max_buffered_points = (uint64_t)max_points;
    return 0;
}

static int prw_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct prw_settings *s = calloc(1, sizeof(*s));
    if (!s)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int r = prw_read_options(cfg, s, err);
    if (r < 0) {
        prw_free(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

/* ---- HTTP ---- */

static int prw_http_init(struct prw_output *o, const struct prw_settings *s,
                         struct alumet_error *err)
{
    const char *headers[] = {
        "Content-Encoding: snappy",
        "X-Prometheus-Remote-Write-Version: 0.1.0",
    };
    struct httpclient_opts opts = {
        .url = s->url,
        .user_agent = PRW_USER_AGENT,
        .content_type = "application/x-protobuf",
        .accept = "*/*",
        .headers = headers,
        .n_headers = 2,
        .connect_timeout = s->connect_timeout,
        .request_timeout = s->request_timeout,
        .max_response = PRW_MAX_RESPONSE,
    };
    httpoutput_security_apply(&s->sec, &opts);
    int r = httpclient_init(&o->client, &opts);
    if (r < 0 && o->client.setopt_error != CURLE_OK)
        return alumet_error_set(err, r, "cannot configure the HTTP client for '%s': %s", s->url,
                                curl_easy_strerror(o->client.setopt_error));
    if (r < 0)
        return alumet_error_set(err, r, "cannot create an HTTP client (libcurl): out of memory");
    return 0;
}

/* The response without its trailing newlines, for a message. */
static const char *prw_http_answer(struct httpclient *c)
{
    while (c->response_len > 0 &&
           (c->response[c->response_len - 1] == '\n' || c->response[c->response_len - 1] == '\r'))
        c->response[--c->response_len] = '\0';
    return c->response_len ? c->response : "(empty response)";
}

/* POST body: 0 (2xx), ALUMET_WRITE_RETRY (no answer, or a status that may
 * change: 401, 403, 404, 408, 429, 5xx), PRW_REJECTED (another 4xx: the
 * server refused the data, such as samples out of order), or -ENOMEM /
 * -EINVAL. err says why in every case but 0. */
static int prw_post(struct prw_output *o, const char *body, size_t len, long *ret_status,
                    struct alumet_error *err)
{
    CURLcode res = httpclient_post(&o->client, body, len, ret_status);
    int r = httpclient_classify(res, *ret_status);
    if (r == 0)
        return 0;
    if (r == -EAGAIN) {
        alumet_error_set(err, -EIO, "cannot reach the remote write server at '%s': %s", o->url,
                         httpclient_strerror(&o->client, res));
        return ALUMET_WRITE_RETRY;
    }
    if (r < 0)
        return alumet_error_set(err, r, "cannot reach the remote write server at '%s': %s", o->url,
                                httpclient_strerror(&o->client, res));
    long st = *ret_status;
    alumet_error_set(err, -EIO, "the remote write server at '%s' answered HTTP %ld: %s", o->url, st,
                     prw_http_answer(&o->client));
    bool may_change = st == 401 || st == 403 || st == 404 || st == 408 || st == 429 || st >= 500;
    return may_change ? ALUMET_WRITE_RETRY : PRW_REJECTED;
}

/* ---- the output ---- */

/* Identifies a buffer for the retry of its request: its address, length
 * and a hash of its points (a buffer dropped and reused at the same address
 * holds other points). */
static uint64_t prw_fingerprint(const struct alumet_buffer *buf)
{
    uint64_t h = 1469598103934665603ULL;
    size_t n = alumet_buffer_len(buf);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        uint64_t v[3] = {(uint64_t)p->timestamp, p->metric, p->value.u64};
        for (size_t k = 0; k < 3; k++)
            h = (h ^ v[k]) * 1099511628211ULL;
    }
    return h;
}

static int prw_output_write(void *data, const struct alumet_buffer *buf,
                            const struct alumet_registry *reg, struct alumet_error *err)
{
    struct prw_output *o = data;
    size_t len = alumet_buffer_len(buf);
    uint64_t fp = prw_fingerprint(buf);
    long status = 0;
    int r;

    if (!(o->pending.valid && o->pending.buf == buf && o->pending.len == len &&
          o->pending.fingerprint == fp)) {
        o->pending.valid = false;
        r = prw_encoder_encode(o->encoder, buf, reg, alumet_time_monotonic(), &o->pending.req, err);
        if (r < 0)
            return r;
        if (o->pending.req.n_samples == 0)
            return 0;
    }
    const struct prw_request *req = &o->pending.req;
    r = prw_post(o, req->body, req->body_len, &status, err);
    httpoutput_warn_timeout(o->log, &o->client, "the remote write server",
                            "Prometheus ignores a sample identical to a stored one");
    if (r == ALUMET_WRITE_RETRY) {
        o->pending = (struct prw_pending){
            .valid = true, .buf = buf, .len = len, .fingerprint = fp, .req = *req};
        return r;
    }
    o->pending.valid = false;
    if (r == PRW_REJECTED) {
        httpoutput_complain(o->log, &o->rejected, len, "were refused by the remote write server",
                            ", dropping them", err->msg);
        alumet_error_clear(err);
        return ALUMET_WRITE_DROP;
    }
    if (r == 0)
        alumet_log_at(o->log, ALUMET_LOG_TRACE, "wrote %zu samples of %zu series (%zu bytes)",
                      req->n_samples, req->n_series, req->body_len);
    return r;
}

static void prw_output_free(void *data)
{
    struct prw_output *o = data;
    if (!o)
        return;
    httpclient_done(&o->client);
    prw_encoder_free(o->encoder);
    free(o->url);
    free(o);
}

static const struct alumet_output_ops prw_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = prw_output_write,
    .free = prw_output_free,
};

/* A write request with no series. A server that cannot be reached now is
 * not an error (the measurements wait for it); one that refuses the request
 * is, since waiting will not change it. */
static int prw_check_connection(struct prw_output *o, struct alumet_error *err)
{
    /* snappy block of the empty WriteRequest: its length, 0 */
    static const char empty[] = {0};
    struct alumet_error e = {0};
    long status = 0;
    int r = prw_post(o, empty, sizeof(empty), &status, &e);

    if (r == 0) {
        alumet_log_at(o->log, ALUMET_LOG_INFO, "connected to the remote write server at '%s'",
                      o->url);
        return 0;
    }
    if (r < 0 || (status >= 400 && status < 500 && status != 408 && status != 429))
        return alumet_error_set(err, r < 0 ? r : -EINVAL,
                                "%s; please check the url%s in the configuration%s", e.msg,
                                status == 401 || status == 403 ? " and the credentials" : "",
                                status == 404 ? " (Prometheus receives remote writes only when "
                                                "started with --web.enable-remote-write-receiver)"
                                              : "");
    httpoutput_warn_unreachable(o->log, e.msg, "the remote write server", o->max_buffered_points);
    return 0;
}

static int prw_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    const struct prw_settings *s = state;
    int r;

    struct prw_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->log = alumet_start_log_topic(ctx);
    o->max_buffered_points = s->max_buffered_points;
    struct prw_naming naming = {
        .prefix = s->prefix,
        .suffix = s->suffix,
        .add_attributes_to_labels = s->add_attributes,
        .counter_metrics = (const char *const *)s->counter_metrics,
        .n_counter_metrics = s->n_counter_metrics,
        .extra_names = (const char *const *)s->label_names,
        .extra_values = (const char *const *)s->label_values,
        .n_extra = s->n_labels,
        .series_expiry = s->series_expiry,
    };
    o->encoder = prw_encoder_new(&naming);
    o->url = strdup(s->url);
    if (!o->encoder || !o->url) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    r = prw_http_init(o, s, err);
    if (r < 0)
        goto err_free;
    r = prw_check_connection(o, err);
    if (r < 0)
        goto err_free;

    struct alumet_output_opts opts = {0};
    opts.delivery.retry = s->max_buffered_points > 0;
    opts.delivery.max_points = (size_t)s->max_buffered_points;
    r = alumet_add_output(ctx, "out", &prw_output_ops, o, &opts, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    prw_output_free(o);
    return r;
}

/* The output belongs to the core once registered (it is freed after its
 * thread ends), so start leaves nothing for stop to release. */
static int prw_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_prometheus_remote_write = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "prometheus-remote-write",
    .version = "0.1.0",
    .default_config = PRW_DEFAULT_CONFIG,
    .init = prw_init,
    .start = prw_start,
    .stop = prw_stop,
    .free = prw_free,
};
