/* SPDX-License-Identifier: MIT */
/* opentelemetry: pushes every measurement to an OpenTelemetry collector
 * (OTLP metrics), with the request layout of upstream Alumet's
 * opentelemetry plugin 0.1.0, over OTLP/gRPC as upstream (opentelemetry-grpc.c)
 * or OTLP/HTTP with a protobuf body (opentelemetry-http.c). The request is
 * built by opentelemetry-encode.c; a transient failure is retried by the core
 * (delivery policy), which also merges the buffers of a push interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "opentelemetry.h"
#include "util/http/httpoutput.h"

#define OTEL_DEFAULT_CONFIG                                                                        \
    "[plugins.opentelemetry]\n"                                                                    \
    "# Off by default: it needs a server (or opens a port); set to true to use it\n"               \
    "enabled = false\n"                                                                            \
    "# URL of the collector's OTLP receiver: gRPC (usually port 4317), or the base\n"              \
    "# URL of an OTLP/HTTP one (\"/v1/metrics\" is appended; usually port 4318)\n"                 \
    "collector_host = \"http://localhost:4317\"\n"                                                 \
    "# \"grpc\" or \"http/protobuf\" (default: \"http/protobuf\" for port 4318, else gRPC)\n"      \
    "protocol = \"grpc\"\n"                                                                        \
    "# Metric name = prefix + Alumet metric name + suffix\n"                                       \
    "prefix = \"\"\n"                                                                              \
    "suffix = \"_alumet\"\n"                                                                       \
    "# Use the unit's display name (ms) rather than its unique name (millis)\n"                    \
    "use_unit_display_name = true\n"                                                               \
    "# Append the unit to the metric name (rapl_consumed_energy_J_alumet)\n"                       \
    "append_unit_to_metric_name = false\n"                                                         \
    "# Send the measurements every this many seconds, in one export (0: one\n"                     \
    "# export per buffer of measurements, as they come)\n"                                         \
    "push_interval_seconds = 0\n"                                                                  \
    "# Add the attributes of the measurements to the data point attributes\n"                      \
    "add_attributes_to_labels = true\n"                                                            \
    "# Time limits of an export request\n"                                                         \
    "connect_timeout = \"5s\"\n"                                                                   \
    "request_timeout = \"30s\"\n"                                                                  \
    "# Measurements kept while the collector cannot be reached, retried until it\n"                \
    "# can (past this, the oldest are dropped; 0: keep nothing, drop what fails)\n"                \
    "max_buffered_points = 1000000\n"                                                              \
    "# TLS and authentication, as every HTTP output (docs/http-outputs.md):\n"                     \
    "# tls_ca, tls_client_cert, tls_client_key, tls_insecure, bearer_token,\n"                     \
    "# bearer_token_file, username and password\n"                                                 \
    "# HTTP headers sent with every request (an API key...)\n"                                     \
    "# [plugins.opentelemetry.headers]\n"                                                          \
    "# api-key = \"FILL ME\"\n"

/* The longest push_interval_seconds: a day. */
#define OTEL_MAX_PUSH_INTERVAL 86400

/* Plugin state: the settings, read in init. */
struct otel {
    struct otel_settings settings;
};

/* The output "out": owned by the core once registered. */
struct otel_output {
    struct alumet_log_topic *log;
    struct otel_settings settings;
    struct otel_encoder encoder;
    struct otel_http http;                /* protocol http/protobuf */
    struct otel_grpc grpc;                /* protocol grpc */
    struct httpoutput_complaint rejected; /* refused by the collector */
    struct httpoutput_complaint partial;  /* partial successes */
};

static void otel_free(void *state)
{
    struct otel *o = state;
    if (!o)
        return;
    otel_settings_done(&o->settings);
    free(o);
}

static int otel_get_string(struct alumet_config *cfg, const char *key, const char *def, char **ret,
                           struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(cfg, key, def, &v, err);
    if (r < 0)
        return r;
    *ret = strdup(v ? v : "");
    if (!*ret)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* An HTTP header name is a token (RFC 9110). */
static bool otel_is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(*s > 32 && *s < 127 && !strchr("\"(),/:;<=>?@[\\]{}", *s)))
            return false;
    return true;
}

/* [plugins.opentelemetry.headers]: name = "value" lines. */
static int otel_read_headers(struct alumet_config *cfg, struct otel_settings *s,
                             struct alumet_error *err)
{
    struct alumet_config *t = NULL;
    int r = alumet_config_get_table(cfg, "headers", &t, err);
    if (r < 0 || !t)
        return r;
    size_t n = alumet_config_len(t);
    s->headers = calloc(n + 1, sizeof(*s->headers));
    if (!s->headers)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = alumet_config_key_at(t, i);
        const char *value = NULL;
        r = alumet_config_get_string(t, name, NULL, &value, err);
        if (r < 0)
            return r;
        if (!otel_is_token(name))
            return alumet_config_error(t, name, err, -EINVAL,
                                       "expected an HTTP header name (letters, digits and "
                                       "!#$%%&'*+-.^_`|~), got '%s'",
                                       name);
        if (strpbrk(value, "\r\n"))
            return alumet_config_error(t, name, err, -EINVAL,
                                       "expected a header value on one line, got a line break");
        if (asprintf(&s->headers[i], "%s: %s", name, value) < 0) {
            s->headers[i] = NULL;
            return alumet_error_set(err, -ENOMEM, "out of memory");
        }
        s->n_headers = i + 1;
    }
    return 0;
}

/* Without a protocol option: OTLP/HTTP for the OTLP/HTTP port (4318) or a
 * /v1/metrics path, gRPC (upstream's transport) otherwise. */
static enum otel_protocol otel_default_protocol(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *path = strchr(host, '/');
    size_t hlen = path ? (size_t)(path - host) : strlen(host);
    if ((hlen >= 5 && strncmp(host + hlen - 5, ":4318", 5) == 0) ||
        (path && strstr(path, "/v1/metrics")))
        return OTEL_PROTOCOL_HTTP_PROTOBUF;
    return OTEL_PROTOCOL_GRPC;
}

static int otel_read_options(struct alumet_config *cfg, struct otel_settings *s,
                             struct alumet_error *err)
{
    int64_t max_points = 0;
    double push_interval = 0;
    int r;

    const char *protocol = NULL;
    r = otel_get_string(cfg, "collector_host", "http://localhost:4317", &s->collector_host, err);
    if (r == 0)
        r = alumet_config_get_string(cfg, "protocol", NULL, &protocol, err);
    if (r == 0)
        r = otel_get_string(cfg, "prefix", "", &s->prefix, err);
    if (r == 0)
        r = otel_get_string(cfg, "suffix", "_alumet", &s->suffix, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "use_unit_display_name", true, &s->use_unit_display_name,
                                   err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "append_unit_to_metric_name", false,
                                   &s->append_unit_to_metric_name, err);
    if (r == 0)
        r = alumet_config_get_float(cfg, "push_interval_seconds", 0, &push_interval, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "add_attributes_to_labels", true,
                                   &s->add_attributes_to_labels, err);
    if (r == 0)
        r = httpoutput_get_limits(cfg, &s->connect_timeout, &s->request_timeout, &max_points, err);
    if (r == 0)
        r = otel_read_headers(cfg, s, err);
    if (r == 0)
        r = httpoutput_get_security(cfg, "collector_host", s->collector_host, &s->sec, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < s->n_headers; i++)
        if (strncasecmp(s->headers[i], "Authorization:", 14) == 0 &&
            (s->sec.bearer_token || s->sec.bearer_token_file || s->sec.username))
            return alumet_config_error(cfg, "headers", err, -EINVAL,
                                       "an Authorization header besides %s: keep one of them",
                                       s->sec.username ? "username" : "a bearer token");

    /* every value is checked before the first error is returned: `config
     * check` reports them all */
    size_t len = strlen(s->collector_host);
    while (len > 0 && s->collector_host[len - 1] == '/')
        s->collector_host[--len] = '\0';
    if (len == 0)
        r = alumet_config_error(cfg, "collector_host", err, -EINVAL,
                                "expected the URL of the collector's OTLP receiver, such as "
                                "\"http://localhost:4317\", got an empty string");
    else if (alumet_config_checking() &&
             httpoutput_check_url(cfg, "collector_host", s->collector_host, "http://localhost:4317",
                                  err) < 0)
        r = -EINVAL;
    if (!protocol)
        s->protocol = otel_default_protocol(s->collector_host);
    else if (strcmp(protocol, "grpc") == 0)
        s->protocol = OTEL_PROTOCOL_GRPC;
    else if (strcmp(protocol, "http/protobuf") == 0)
        s->protocol = OTEL_PROTOCOL_HTTP_PROTOBUF;
    else
        r = alumet_config_error(
            cfg, "protocol", err, -EINVAL, "expected \"grpc\" or \"http/protobuf\", got \"%s\"%s",
            protocol,
            strcmp(protocol, "http/json") == 0 ? " (OTLP/HTTP with JSON is not supported)" : "");
    if (!(push_interval >= 0 && push_interval <= OTEL_MAX_PUSH_INTERVAL))
        r = alumet_config_error(cfg, "push_interval_seconds", err, -EINVAL,
                                "expected a number of seconds between 0 and %d (0: one "
                                "export per buffer), got %g",
                                OTEL_MAX_PUSH_INTERVAL, push_interval);
    s->push_interval = (alumet_time_ns)(push_interval * (double)ALUMET_NSEC_PER_SEC);
    if (httpoutput_check_limits(cfg, s->connect_timeout, s->request_timeout, max_points, err) < 0)
        r = -EINVAL;
    if (r < 0)
        return r;
    s->max_buffered_points = (uint64_t)max_points;
    return 0;
}

static int otel_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct otel *o;
    int r;

    o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = otel_read_options(cfg, &o->settings, err);
    if (r < 0)
        goto err_free;
    *ret_state = o;
    return 0;

err_free:
    otel_free(o);
    return r;
}

static struct httpclient *otel_client(struct otel_output *o)
{
    return o->settings.protocol == OTEL_PROTOCOL_GRPC ? &o->grpc.client : &o->http.client;
}

static const char *otel_url(struct otel_output *o)
{
    return o->settings.protocol == OTEL_PROTOCOL_GRPC ? o->grpc.url : o->http.url;
}

/* One export over the configured protocol. *ret_status: the HTTP status
 * (http/protobuf) or the gRPC status (grpc); see otel_http_post and
 * otel_grpc_post for the rest. */
static int otel_send(struct otel_output *o, const uint8_t *body, size_t len, long *ret_status,
                     int64_t *ret_rejected, char *msg, size_t size, struct alumet_error *err)
{
    if (o->settings.protocol == OTEL_PROTOCOL_HTTP_PROTOBUF)
        return otel_http_post(&o->http, body, len, ret_status, ret_rejected, msg, size, err);
    int code = -1;
    int r = otel_grpc_post(&o->grpc, body, len, &code, ret_rejected, msg, size, err);
    *ret_status = code;
    return r;
}

static int otel_output_write(void *data, const struct alumet_buffer *buf,
                             const struct alumet_registry *reg, struct alumet_error *err)
{
    struct otel_output *o = data;
    const uint8_t *body = NULL;
    size_t len = 0, points = 0;
    int64_t rejected = 0;
    char msg[256];
    long status = 0;
    int r;

    if (alumet_buffer_len(buf) == 0)
        return 0;
    r = otel_encode(&o->encoder, buf, reg, &body, &len, &points, err);
    if (r < 0)
        return r;
    r = otel_send(o, body, len, &status, &rejected, msg, sizeof(msg), err);
    httpoutput_warn_timeout(o->log, otel_client(o), "the collector",
                            "the backend may count these points twice");
    if (r == OTEL_HTTP_REJECTED) {
        /* OTLP: must not be sent again; drop it, but say so */
        httpoutput_complain(o->log, &o->rejected, points,
                            "were refused by the collector, dropping them", "", err->msg);
        alumet_error_clear(err);
        return ALUMET_WRITE_DROP;
    }
    if (r == 0 && (rejected > 0 || msg[0])) {
        char why[320];
        snprintf(why, sizeof(why), "'%s'", msg[0] ? msg : "no message");
        httpoutput_complain(o->log, &o->partial, rejected > 0 ? (uint64_t)rejected : 0,
                            "were rejected by the collector (partial success)", "", why);
    }
    return r;
}

static void otel_output_free(void *data)
{
    struct otel_output *o = data;
    if (!o)
        return;
    otel_http_done(&o->http);
    otel_grpc_done(&o->grpc);
    otel_encoder_done(&o->encoder);
    otel_settings_done(&o->settings);
    free(o);
}

static const struct alumet_output_ops otel_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = otel_output_write,
    .free = otel_output_free,
};

/* attempts of the start-up probe after a reset stream */
#define OTEL_PROBE_RETRIES 10

/* Upstream connects lazily. This plugin sends an empty export at start, so
 * that a wrong path or credentials (401, 403, 404) stop the agent at once; a
 * collector that cannot be reached only gives a warning (the measurements
 * wait for it), and any other answer is left to the writes. */
static int otel_check_connection(struct otel_output *o, struct alumet_error *err)
{
    struct alumet_error e = {0};
    int64_t rejected = 0;
    char msg[8];
    long status = 0;
    bool grpc = o->settings.protocol == OTEL_PROTOCOL_GRPC;
    int r = otel_send(o, NULL, 0, &status, &rejected, msg, sizeof(msg), &e);
    /* a server that refuses the call at once (UNIMPLEMENTED) may reset the
     * stream before libcurl 7.88 hands over its answer; on a loaded machine
     * that can happen several times in a row: ask again, a little later each
     * time (25 ms, 50 ms, ... 1.4 s in all) */
    for (int i = 1; i <= OTEL_PROBE_RETRIES && grpc && r == ALUMET_WRITE_RETRY &&
                    o->grpc.last_res == CURLE_HTTP2_STREAM;
         i++) {
        alumet_error_clear(&e);
        nanosleep(&(struct timespec){.tv_nsec = i * 25 * 1000000L}, NULL);
        r = otel_send(o, NULL, 0, &status, &rejected, msg, sizeof(msg), &e);
    }

    if (r == 0) {
        alumet_log_at(o->log, ALUMET_LOG_INFO, "connected to the OTLP collector at '%s' (%s)",
                      otel_url(o), grpc ? "gRPC" : "HTTP");
        return 0;
    }
    const char *advice = httpoutput_tls_advice(otel_client(o)->last_res, e.msg);
    if (r != 0 && advice)
        return alumet_error_set(err, -EINVAL, "%s; %s", e.msg, advice);
    bool refused = grpc
                       ? status == OTEL_GRPC_UNIMPLEMENTED || status == OTEL_GRPC_UNAUTHENTICATED ||
                             status == OTEL_GRPC_PERMISSION_DENIED
                       : status == 401 || status == 403 || status == 404;
    if (r < 0 || refused)
        return alumet_error_set(err, r < 0 ? r : -EINVAL,
                                "%s; please check collector_host (%s), protocol and the headers "
                                "in the configuration",
                                e.msg,
                                grpc ? "the URL of an OTLP/gRPC receiver"
                                     : "the base URL of an OTLP/HTTP receiver");
    char why[sizeof(e.msg) + 256];
    snprintf(why, sizeof(why), "%s%s", e.msg,
             httpoutput_tls_hint(&o->settings.sec, o->settings.collector_host,
                                 otel_client(o)->last_res));
    httpoutput_warn_unreachable(o->log, why, "the collector", o->settings.max_buffered_points);
    return 0;
}

static int otel_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct otel *p = state;
    int r;

    struct otel_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->log = alumet_start_log_topic(ctx);
    r = otel_settings_copy(&o->settings, &p->settings);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto err_free;
    }
    o->encoder.prefix = o->settings.prefix;
    o->encoder.suffix = o->settings.suffix;
    o->encoder.use_unit_display_name = o->settings.use_unit_display_name;
    o->encoder.append_unit_to_metric_name = o->settings.append_unit_to_metric_name;
    o->encoder.add_attributes_to_labels = o->settings.add_attributes_to_labels;
    size_t len = strlen(o->settings.collector_host);
    if (o->settings.protocol == OTEL_PROTOCOL_HTTP_PROTOBUF && len >= 5 &&
        strcmp(o->settings.collector_host + len - 5, ":4317") == 0)
        alumet_log_at(o->log, ALUMET_LOG_WARN,
                      "collector_host '%s' names port 4317, the usual OTLP/gRPC port, with "
                      "protocol = \"http/protobuf\" (OTLP/HTTP is usually on port 4318)",
                      o->settings.collector_host);
    httpoutput_warn_security(o->log, &o->settings.sec, o->settings.collector_host, "the collector");
    if (o->settings.protocol == OTEL_PROTOCOL_GRPC)
        r = otel_grpc_init(&o->grpc, &o->settings, err);
    else
        r = otel_http_init(&o->http, &o->settings, err);
    if (r < 0)
        goto err_free;
    r = otel_check_connection(o, err);
    if (r < 0)
        goto err_free;

    struct alumet_output_opts opts = {.size = sizeof(opts)};
    opts.batch_period = o->settings.push_interval; /* the core merges the buffers */
    opts.delivery.retry = o->settings.max_buffered_points > 0;
    opts.delivery.max_points = (size_t)o->settings.max_buffered_points;
    r = alumet_add_output(ctx, "out", &otel_output_ops, o, &opts, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    otel_output_free(o);
    return r;
}

/* The output belongs to the core once registered (it is freed after its
 * thread ends), so start leaves nothing for stop to release. */
static int otel_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_opentelemetry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "opentelemetry",
    .version = "0.1.0",
    .default_config = OTEL_DEFAULT_CONFIG,
    .init = otel_init,
    .start = otel_start,
    .stop = otel_stop,
    .free = otel_free,
};
