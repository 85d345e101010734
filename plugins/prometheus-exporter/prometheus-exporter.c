/* SPDX-License-Identifier: MIT */
/* prometheus-exporter: serves the latest value of every series on an HTTP
 * endpoint that Prometheus scrapes (/metrics), in the exposition of upstream
 * Alumet's plugin 0.1.0 (see README.md). The output "out" updates the table
 * (prometheus-exporter-table.c); the HTTP thread (prometheus-exporter-http.c)
 * renders it on every scrape. This file holds the options and the lifecycle. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "prometheus-exporter.h"

#define PROMETHEUS_EXPORTER_DEFAULT_CONFIG                                                         \
    "[plugins.prometheus-exporter]\n"                                                              \
    "# Off by default: it needs a server (or opens a port); set to true to use it\n"               \
    "enabled = false\n"                                                                            \
    "# Address of the HTTP endpoint: an IP address, IPv6 in brackets (\"[::]\")\n"                 \
    "host = \"0.0.0.0\"\n"                                                                         \
    "# Text put before every metric name\n"                                                        \
    "prefix = \"\"\n"                                                                              \
    "# Text put after every metric name, before the unit\n"                                        \
    "suffix = \"_alumet\"\n"                                                                       \
    "# TCP port of the endpoint http://HOST:PORT/metrics (0: any free port)\n"                     \
    "port = 9091\n"                                                                                \
    "# Export the attributes of the measurements as labels\n"                                      \
    "add_attributes_to_labels = true\n"                                                            \
    "# Without these two options, the unit is written as a word after the suffix\n"                \
    "# (rapl_consumed_energy_alumet_joules). append_unit_to_metric_name = false: no\n"             \
    "# unit; use_unit_display_name = true (false): the unit's display (unique) name\n"             \
    "# before the suffix (rapl_consumed_energy_J_alumet), as upstream's user book says\n"          \
    "# append_unit_to_metric_name = true\n"                                                        \
    "# use_unit_display_name = true\n"                                                             \
    "# Forget a series not updated for this long, such as the series of a process that\n"          \
    "# ended (\"0s\": keep every series forever)\n"                                                \
    "series_expiry = \"5m\"\n"                                                                     \
    "# Metrics whose values are per-interval deltas, also exported as counters\n"                  \
    "# NAME_cumulative_UNIT_total (energies in joules or watt-hours always are)\n"                 \
    "counter_metrics = []\n"                                                                       \
    "# TLS and basic authentication of the endpoint: a web configuration file of\n"                \
    "# the Prometheus exporter-toolkit (tls_server_config, basic_auth_users), as\n"                \
    "# node_exporter's --web.config.file (\"\": plain HTTP, no authentication)\n"                  \
    "web_config_file = \"\"\n"

#define PROMETHEUS_EXPORTER_DEFAULT_EXPIRY (5 * 60 * ALUMET_NSEC_PER_SEC)

/* Plugin state: the options (read in init) and, between start and stop,
 * the HTTP server. */
struct prometheus_exporter {
    char *host;
    uint16_t port;
    char *prefix;
    char *suffix;
    bool add_attributes_to_labels;
    enum prometheus_unit_name unit_name;
    alumet_time_ns series_expiry;
    char **counter_metrics; /* the option, NULL-terminated */
    size_t n_counter_metrics;
    char *web_path;                       /* web_config_file, NULL when none */
    struct prometheus_webstate *web;      /* its version loaded by init, until start */
    struct prometheus_webfiles web_files; /* the files it came from */
    struct alumet_log_topic *topic;       /* from start: the plugin's, borrowed */
    struct prometheus_http *http;
};

/* The output "out": owned by the core once registered. */
struct prometheus_exporter_output {
    struct prometheus_table *table; /* one reference */
};

static void prometheus_exporter_free(void *state)
{
    struct prometheus_exporter *pe = state;
    if (!pe)
        return;
    prometheus_http_stop(pe->http);
    prometheus_webstate_unref(pe->web);
    prometheus_webfiles_done(&pe->web_files);
    free(pe->web_path);
    for (size_t i = 0; i < pe->n_counter_metrics; i++)
        free(pe->counter_metrics[i]);
    free(pe->counter_metrics);
    free(pe->host);
    free(pe->prefix);
    free(pe->suffix);
    free(pe);
}

static int prometheus_exporter_dup(const char *s, char **ret, struct alumet_error *err)
{
    *ret = strdup(s);
    return *ret ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
}

/* The option counter_metrics: metric names, none empty. */
static int prometheus_exporter_counter_metrics(struct prometheus_exporter *pe,
                                               struct alumet_config *cfg, struct alumet_error *err)
{
    const char **items = NULL;
    size_t n = 0;
    int r = alumet_config_get_string_array(cfg, "counter_metrics", &items, &n, err);
    if (r < 0 || !items)
        return r;
    pe->counter_metrics = calloc(n + 1, sizeof(char *));
    if (!pe->counter_metrics)
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (!*items[i])
            r = alumet_config_error(cfg, "counter_metrics", err, -EINVAL,
                                    "item %zu is empty: expected a metric name", i + 1);
        else if (!(pe->counter_metrics[i] = strdup(items[i])))
            r = alumet_error_set(err, -ENOMEM, "out of memory");
        else
            pe->n_counter_metrics = i + 1;
    }
    free(items);
    return r;
}

/* append_unit_to_metric_name and use_unit_display_name, from the user book:
 * without them, upstream's naming (the unit word after the suffix). */
static int prometheus_exporter_unit_name(struct prometheus_exporter *pe, struct alumet_config *cfg,
                                         struct alumet_error *err)
{
    bool append = true, display = true;
    bool has_display = alumet_config_has(cfg, "use_unit_display_name");
    int r = alumet_config_get_bool(cfg, "append_unit_to_metric_name", true, &append, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "use_unit_display_name", true, &display, err);
    if (r < 0)
        return r;
    if (!append)
        pe->unit_name = PROMETHEUS_UNIT_NONE;
    else if (has_display)
        pe->unit_name = display ? PROMETHEUS_UNIT_DISPLAY : PROMETHEUS_UNIT_UNIQUE;
    else
        pe->unit_name = PROMETHEUS_UNIT_WORD;
    return 0;
}

static int prometheus_exporter_init(struct alumet_config *cfg, void **ret_state,
                                    struct alumet_error *err)
{
    struct prometheus_exporter *pe = calloc(1, sizeof(*pe));
    const char *host, *prefix, *suffix;
    int64_t port;
    int r;

    if (!pe)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = alumet_config_get_string(cfg, "host", "0.0.0.0", &host, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_string(cfg, "prefix", "", &prefix, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_string(cfg, "suffix", "_alumet", &suffix, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_int(cfg, "port", 9091, &port, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "add_attributes_to_labels", true, &pe->add_attributes_to_labels,
                               err);
    if (r < 0)
        goto err_free;
    r = prometheus_exporter_unit_name(pe, cfg, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_duration(cfg, "series_expiry", PROMETHEUS_EXPORTER_DEFAULT_EXPIRY,
                                   &pe->series_expiry, err);
    if (r < 0)
        goto err_free;
    r = prometheus_exporter_counter_metrics(pe, cfg, err);
    if (r < 0)
        goto err_free;
    const char *web_config = NULL;
    r = alumet_config_get_string(cfg, "web_config_file", "", &web_config, err);
    if (r < 0)
        goto err_free;
    if (*web_config &&
        ((r = prometheus_exporter_dup(web_config, &pe->web_path, err)) < 0 ||
         (r = prometheus_webstate_load(web_config, &pe->web_files, &pe->web, err)) < 0))
        goto err_free;

    /* both are checked before the first error is returned: `config check`
     * reports them all */
    if (port < 0 || port > 65535)
        r = alumet_config_error(cfg, "port", err, -EINVAL,
                                "expected a port number between 0 and 65535 (0: any free port), "
                                "got %lld",
                                (long long)port);
    pe->port = (uint16_t)port;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (prometheus_parse_address(host, pe->port, &addr, &addr_len) < 0)
        r = alumet_config_error(cfg, "host", err, -EINVAL,
                                "invalid host:port configuration: expected an IP address such as "
                                "\"0.0.0.0\" or \"127.0.0.1\", or an IPv6 address in brackets "
                                "such as \"[::]\", got '%s'",
                                host);
    if (r < 0)
        goto err_free;
    if ((r = prometheus_exporter_dup(host, &pe->host, err)) < 0 ||
        (r = prometheus_exporter_dup(prefix, &pe->prefix, err)) < 0 ||
        (r = prometheus_exporter_dup(suffix, &pe->suffix, err)) < 0)
        goto err_free;
    *ret_state = pe;
    return 0;

err_free:
    prometheus_exporter_free(pe);
    return r;
}

static int prometheus_exporter_output_write(void *data, const struct alumet_buffer *buf,
                                            const struct alumet_registry *reg,
                                            struct alumet_error *err)
{
    struct prometheus_exporter_output *o = data;
    return prometheus_table_write(o->table, buf, reg, alumet_time_monotonic(), err);
}

static void prometheus_exporter_output_free(void *data)
{
    struct prometheus_exporter_output *o = data;
    if (!o)
        return;
    prometheus_table_unref(o->table);
    free(o);
}

static const struct alumet_output_ops prometheus_exporter_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = prometheus_exporter_output_write,
    .free = prometheus_exporter_output_free,
};

static int prometheus_exporter_start(void *state, struct alumet_start_ctx *ctx,
                                     struct alumet_error *err)
{
    struct prometheus_exporter *pe = state;
    struct alumet_log_topic *topic = alumet_start_log_topic(ctx);
    pe->topic = topic;
    const struct prometheus_table_opts opts = {
        .prefix = pe->prefix,
        .suffix = pe->suffix,
        .add_attributes_to_labels = pe->add_attributes_to_labels,
        .unit_name = pe->unit_name,
        .series_expiry = pe->series_expiry,
        .counter_metrics = (const char *const *)pe->counter_metrics,
        .n_counter_metrics = pe->n_counter_metrics,
        .topic = topic,
    };
    int r;

    struct prometheus_table *table = prometheus_table_new(&opts);
    if (!table)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    struct prometheus_exporter_output *o = calloc(1, sizeof(*o));
    if (!o) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out_unref;
    }
    o->table = prometheus_table_ref(table);
    /* the server takes the loaded version; the messages below read it */
    const struct prometheus_webconfig none = {0};
    const struct prometheus_webconfig *wc = pe->web ? prometheus_webstate_config(pe->web) : &none;
    struct prometheus_webstate *web = pe->web ? prometheus_webstate_ref(pe->web) : NULL;
    struct prometheus_http_web hw = {.path = pe->web_path, .state = web, .files = &pe->web_files};
    r = prometheus_http_start(pe->host, pe->port, table, &hw, topic, &pe->http, err);
    if (r < 0) {
        prometheus_exporter_output_free(o);
        goto out_unref;
    }
    r = alumet_add_output(ctx, "out", &prometheus_exporter_output_ops, o, /* opts= */ NULL, err);
    if (r < 0) {
        prometheus_exporter_output_free(o);
        prometheus_http_stop(pe->http);
        pe->http = NULL;
        goto out_unref;
    }
    alumet_log_at(topic, ALUMET_LOG_INFO, "serving the metrics on '%s:%u', path '/metrics'%s%s%s",
                  pe->host, (unsigned)prometheus_http_port(pe->http),
                  wc->cert ? ", over TLS (https)" : "", wc->n_users ? ", basic authentication" : "",
                  wc->client_auth != PROMETHEUS_CLIENT_AUTH_NONE ? ", client certificates" : "");
    if (wc->n_users && !wc->cert)
        alumet_log_at(topic, ALUMET_LOG_WARN,
                      "basic authentication without TLS: the passwords of basic_auth_users go in "
                      "clear text over the network; add tls_server_config to web_config_file");

out_unref:
    prometheus_table_unref(table); /* the output and the server hold their own */
    return r;
}

/* Every metric is registered now: a name of counter_metrics that matches
 * none is likely a typo, which would leave that metric without its counter. */
static int prometheus_exporter_pre_pipeline_start(void *state, struct alumet_pre_start_ctx *ctx,
                                                  struct alumet_error *err)
{
    struct prometheus_exporter *pe = state;
    const struct alumet_registry *reg = alumet_pre_start_registry(ctx);
    (void)err;
    for (size_t i = 0; i < pe->n_counter_metrics; i++) {
        if (!alumet_registry_find(reg, pe->counter_metrics[i]))
            alumet_log_at(pe->topic, ALUMET_LOG_WARN,
                          "option 'counter_metrics' of [plugins.prometheus-exporter]: no metric "
                          "named '%s' is registered, it will have no counter; check the name "
                          "(the metric's own name, without prefix, suffix nor unit) and that the "
                          "plugin measuring it is enabled",
                          pe->counter_metrics[i]);
    }
    return 0;
}

/* Stop serving; the output belongs to the core and is freed after its thread
 * ends (it keeps the table alive until then). */
static int prometheus_exporter_stop(void *state, struct alumet_error *err)
{
    struct prometheus_exporter *pe = state;
    (void)err;
    prometheus_http_stop(pe->http);
    pe->http = NULL;
    return 0;
}

const struct alumet_plugin alumet_plugin_prometheus_exporter = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "prometheus-exporter",
    .version = "0.1.0",
    .default_config = PROMETHEUS_EXPORTER_DEFAULT_CONFIG,
    .init = prometheus_exporter_init,
    .start = prometheus_exporter_start,
    .pre_pipeline_start = prometheus_exporter_pre_pipeline_start,
    .stop = prometheus_exporter_stop,
    .free = prometheus_exporter_free,
};
