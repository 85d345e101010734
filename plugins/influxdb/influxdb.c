/* SPDX-License-Identifier: MIT */
/* influxdb: writes every measurement to InfluxDB over HTTP, in the line
 * protocol of upstream Alumet's influxdb plugin 0.1.0, through the v2 write
 * API (InfluxDB 2.x, 3.x, 1.8+) or the v1 one (InfluxDB 1.x). See README.md.
 * The lines are built by influxdb-line.c, sent by influxdb-http.c; a
 * transient failure is retried by the core (delivery policy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "influxdb-line.h"
#include "influxdb.h"
#include "util/http/httpoutput.h"

#define INFLUXDB_DEFAULT_CONFIG                                                                    \
    "[plugins.influxdb]\n"                                                                         \
    "# Off by default: it needs a server (or opens a port); set to true to use it\n"               \
    "enabled = false\n"                                                                            \
    "# Base URL of the InfluxDB server\n"                                                          \
    "host = \"http://localhost:8086\"\n"                                                           \
    "# Write API: 2 (InfluxDB 2.x, 3.x, 1.8+: token, org, bucket) or 1 (InfluxDB 1.x:\n"           \
    "# database, retention_policy, username, password)\n"                                          \
    "api_version = 2\n"                                                                            \
    "# API v2: the token, organization and bucket to write to\n"                                   \
    "token = \"FILL ME\"\n"                                                                        \
    "org = \"FILL ME\"\n"                                                                          \
    "bucket = \"FILL ME\"\n"                                                                       \
    "# API v1: the database, its retention policy (empty: the default one) and\n"                  \
    "# the credentials (empty username: no authentication)\n"                                      \
    "# database = \"alumet\"\n"                                                                    \
    "# retention_policy = \"\"\n"                                                                  \
    "# username = \"\"\n"                                                                          \
    "# password = \"\"\n"                                                                          \
    "# Where the attributes go by default: \"tag\" (every point is kept) or \"field\"\n"           \
    "# (upstream's default: points that differ only by an attribute field have the\n"              \
    "# same series and timestamp, and InfluxDB keeps one of them)\n"                               \
    "attributes_as = \"tag\"\n"                                                                    \
    "# Attributes that are always tags, or always fields\n"                                        \
    "# attributes_as_tags = [\"domain\"]\n"                                                        \
    "# attributes_as_fields = [\"comment\"]\n"                                                     \
    "# TLS and authentication, as every HTTP output (docs/http-outputs.md):\n"                     \
    "# tls_ca, tls_client_cert, tls_client_key, tls_insecure, bearer_token or\n"                   \
    "# bearer_token_file (instead of token)\n"                                                     \
    "# Time limits of a write request\n"                                                           \
    "connect_timeout = \"5s\"\n"                                                                   \
    "request_timeout = \"30s\"\n"                                                                  \
    "# Measurements kept while InfluxDB cannot be reached, retried until it can\n"                 \
    "# (past this, the oldest are dropped; 0: keep nothing, drop what fails)\n"                    \
    "max_buffered_points = 1000000\n"

/* Plugin state: the settings, read in init. */
struct influxdb {
    struct influxdb_settings settings;
};

/* The output "out": owned by the core once registered. */
struct influxdb_output {
    struct alumet_log_topic *log;
    struct influxdb_settings settings;
    struct influxdb_line_opts line;
    struct influxdb_http http;
    struct text body;                     /* reused from one write to the next */
    struct influxdb_line_check check;     /* points that would overwrite each other */
    struct httpoutput_complaint rejected; /* refused by the server (HTTP 400, ...) */
    struct httpoutput_complaint skipped;  /* NaN or infinite values */
};

static void influxdb_free(void *state)
{
    struct influxdb *db = state;
    if (!db)
        return;
    influxdb_settings_done(&db->settings);
    free(db);
}

/* Copy the string option key (default def, NULL: absent stays NULL). */
static int influxdb_get_string(struct alumet_config *cfg, const char *key, const char *def,
                               char **ret, struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(cfg, key, def, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        *ret = NULL;
        return 0;
    }
    *ret = strdup(v);
    if (!*ret)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int influxdb_get_list(struct alumet_config *cfg, const char *key, char ***ret,
                             size_t *ret_len, struct alumet_error *err)
{
    const char **items = NULL;
    size_t n = 0;
    int r = alumet_config_get_string_array(cfg, key, &items, &n, err);
    if (r < 0)
        return r;
    *ret = NULL;
    *ret_len = 0;
    if (!items)
        return 0;
    char **v = calloc(n + 1, sizeof(*v));
    if (!v) {
        free(items);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = strdup(items[i]);
        if (!v[i]) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            free(items);
            return alumet_error_set(err, -ENOMEM, "out of memory");
        }
    }
    free(items);
    *ret = v;
    *ret_len = n;
    return 0;
}

static int influxdb_check_required(struct alumet_config *cfg, const char *key, const char *value,
                                   const char *why, struct alumet_error *err)
{
    if (value && *value)
        return 0;
    return alumet_config_error(cfg, key, err, -EINVAL, "expected a non-empty string (%s)", why);
}

static int influxdb_read_options(struct alumet_config *cfg, struct influxdb_settings *s,
                                 struct alumet_error *err)
{
    const char *attributes_as = NULL;
    int64_t api = 2, max_points = 0;
    int r;

    r = influxdb_get_string(cfg, "host", "http://localhost:8086", &s->host, err);
    if (r == 0)
        r = alumet_config_get_int(cfg, "api_version", 2, &api, err);
    if (r == 0)
        r = influxdb_get_string(cfg, "token", "", &s->token, err);
    if (r == 0)
        r = influxdb_get_string(cfg, "org", "", &s->org, err);
    if (r == 0)
        r = influxdb_get_string(cfg, "bucket", "", &s->bucket, err);
    if (r == 0)
        r = influxdb_get_string(cfg, "database", "", &s->database, err);
    if (r == 0)
        r = influxdb_get_string(cfg, "retention_policy", "", &s->retention_policy, err);
    if (r == 0)
        r = alumet_config_get_string(cfg, "attributes_as", "tag", &attributes_as, err);
    if (r == 0)
        r = influxdb_get_list(cfg, "attributes_as_tags", &s->as_tags, &s->n_as_tags, err);
    if (r == 0)
        r = influxdb_get_list(cfg, "attributes_as_fields", &s->as_fields, &s->n_as_fields, err);
    if (r == 0)
        r = httpoutput_get_limits(cfg, &s->connect_timeout, &s->request_timeout, &max_points, err);
    if (r == 0)
        r = httpoutput_get_security(cfg, "host", s->host, &s->sec, err);
    if (r < 0)
        return r;

    /* trailing slashes would give "//api/v2/write" */
    size_t len = strlen(s->host);
    while (len > 0 && s->host[len - 1] == '/')
        s->host[--len] = '\0';
    /* every value is checked before the first error is returned: `config
     * check` reports them all */
    if (len == 0)
        r = alumet_config_error(cfg, "host", err, -EINVAL,
                                "expected the base URL of InfluxDB, such as "
                                "\"http://localhost:8086\", got an empty string");
    else if (alumet_config_checking() &&
             httpoutput_check_url(cfg, "host", s->host, "http://localhost:8086", err) < 0)
        r = -EINVAL;
    if (api != 1 && api != 2)
        r = alumet_config_error(cfg, "api_version", err, -EINVAL,
                                "expected 1 (InfluxDB 1.x) or 2 (InfluxDB 2.x and later), "
                                "got %lld",
                                (long long)api);
    if (r < 0)
        return r;
    s->api = api == 1 ? INFLUXDB_API_V1 : INFLUXDB_API_V2;
    if (strcmp(attributes_as, "field") == 0)
        s->attributes_as_tags = false;
    else if (strcmp(attributes_as, "tag") == 0)
        s->attributes_as_tags = true;
    else
        return alumet_config_error(cfg, "attributes_as", err, -EINVAL,
                                   "expected \"field\" or \"tag\", got \"%s\"", attributes_as);
    r = httpoutput_check_limits(cfg, s->connect_timeout, s->request_timeout, max_points, err);
    if (r < 0)
        return r;
    s->max_buffered_points = (uint64_t)max_points;
    if (s->api == INFLUXDB_API_V2 && *s->token && (s->sec.bearer_token || s->sec.bearer_token_file))
        return alumet_config_error(cfg, "token", err, -EINVAL,
                                   "set either token (sent as \"Authorization: Token ...\") or "
                                   "a bearer token (\"Authorization: Bearer ...\"), not both");
    if (s->api == INFLUXDB_API_V2) {
        r = influxdb_check_required(cfg, "org", s->org, "api_version = 2", err);
        if (r == 0)
            r = influxdb_check_required(cfg, "bucket", s->bucket, "api_version = 2", err);
        return r;
    }
    return influxdb_check_required(cfg, "database", s->database, "api_version = 1", err);
}

static int influxdb_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct influxdb *db;
    int r;

    db = calloc(1, sizeof(*db));
    if (!db)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = influxdb_read_options(cfg, &db->settings, err);
    if (r < 0)
        goto err_free;
    *ret_state = db;
    return 0;

err_free:
    influxdb_free(db);
    return r;
}

static int influxdb_output_write(void *data, const struct alumet_buffer *buf,
                                 const struct alumet_registry *reg, struct alumet_error *err)
{
    struct influxdb_output *o = data;
    size_t lines = 0, skipped = 0;
    long status = 0;
    int r;

    o->body.len = 0;
    r = influxdb_line_write_buffer(&o->body, &o->line, buf, reg, &o->check, &lines, &skipped, err);
    if (r < 0)
        return r;
    if (skipped > 0)
        httpoutput_complain(o->log, &o->skipped, skipped, "have a value that InfluxDB cannot store",
                            ", dropping them", "NaN or infinite");
    if (lines == 0)
        return 0;
    r = influxdb_http_post(&o->http, o->body.s, o->body.len, &status, err);
    httpoutput_warn_timeout(o->log, &o->http.client, "InfluxDB",
                            "InfluxDB overwrites identical points: no point is stored twice");
    if (r == INFLUXDB_HTTP_REJECTED) {
        /* sending it again cannot help: drop it, but say so */
        httpoutput_complain(o->log, &o->rejected, lines, "were refused by InfluxDB",
                            ", dropping them", err->msg);
        alumet_error_clear(err);
        return ALUMET_WRITE_DROP;
    }
    if (r == 0)
        alumet_log_at(o->log, ALUMET_LOG_TRACE, "wrote %zu lines (%zu bytes)", lines, o->body.len);
    return r;
}

static void influxdb_output_free(void *data)
{
    struct influxdb_output *o = data;
    if (!o)
        return;
    influxdb_http_done(&o->http);
    text_done(&o->body);
    influxdb_line_check_done(&o->check);
    influxdb_settings_done(&o->settings);
    free(o);
}

/* Points of metric that differ by attribute, written as a field, have the
 * same series and timestamp: InfluxDB keeps one of them. Once per metric. */
static void influxdb_report_overwrite(void *ctx, const char *metric, const char *attribute)
{
    struct influxdb_output *o = ctx;
    char fix[256];
    bool listed = false;

    for (size_t i = 0; i < o->settings.n_as_fields; i++)
        listed = listed || strcmp(o->settings.as_fields[i], attribute) == 0;
    if (listed)
        snprintf(fix, sizeof(fix), "remove it from attributes_as_fields");
    else
        snprintf(fix, sizeof(fix), "attributes_as_tags = [\"%s\"], or attributes_as = \"tag\"",
                 attribute);
    alumet_log_at(o->log, ALUMET_LOG_WARN,
                  "points of metric '%s' with the same series and timestamp differ by the "
                  "attribute '%s', written as a field: InfluxDB keeps one of them, the others are "
                  "overwritten; make it a tag (%s)",
                  metric, attribute, fix);
}

static const struct alumet_output_ops influxdb_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = influxdb_output_write,
    .free = influxdb_output_free,
};

/* The connection check of upstream: a write with an empty body. A server
 * that cannot be reached now is not an error (the measurements wait for it,
 * see the delivery policy); a server that refuses the request (bad token,
 * unknown database or bucket) is, since waiting will not change it. */
static int influxdb_check_connection(struct influxdb_output *o, struct alumet_error *err)
{
    long status = 0;
    struct alumet_error e = {0};
    int r = influxdb_http_post(&o->http, "", 0, &status, &e);

    if (r == 0) {
        alumet_log_at(o->log, ALUMET_LOG_INFO, "connected to InfluxDB at %s", o->http.where);
        return 0;
    }
    if (o->settings.api == INFLUXDB_API_V2 && status == 404 && strstr(e.msg, "404 page not found"))
        return alumet_error_set(err, -EINVAL,
                                "%s; this server has no v2 write API (InfluxDB 1.x before 1.8): "
                                "set api_version = 1 and database in the configuration",
                                e.msg);
    const char *advice = httpoutput_tls_advice(o->http.client.last_res, e.msg);
    if (r != 0 && advice)
        return alumet_error_set(err, -EINVAL, "%s; %s", e.msg, advice);
    if (r < 0 || (status >= 400 && status < 500 && status != 408 && status != 429))
        return alumet_error_set(err, r < 0 ? r : -EINVAL,
                                "%s; please check the host, credentials and %s in the "
                                "configuration",
                                e.msg,
                                o->settings.api == INFLUXDB_API_V1 ? "database" : "org and bucket");
    char why[sizeof(e.msg) + 256];
    snprintf(why, sizeof(why), "%s%s", e.msg,
             httpoutput_tls_hint(&o->settings.sec, o->settings.host, o->http.client.last_res));
    httpoutput_warn_unreachable(o->log, why, "InfluxDB", o->settings.max_buffered_points);
    return 0;
}

static int influxdb_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct influxdb *db = state;
    int r;

    struct influxdb_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->log = alumet_start_log_topic(ctx);
    r = influxdb_settings_copy(&o->settings, &db->settings);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto err_free;
    }
    o->line = (struct influxdb_line_opts){
        .attributes_as_tags = o->settings.attributes_as_tags,
        .as_tags = (const char *const *)o->settings.as_tags,
        .n_as_tags = o->settings.n_as_tags,
        .as_fields = (const char *const *)o->settings.as_fields,
        .n_as_fields = o->settings.n_as_fields,
        .v1_integers = o->settings.api == INFLUXDB_API_V1,
    };
    o->check.report = influxdb_report_overwrite;
    o->check.ctx = o;
    httpoutput_warn_security(o->log, &o->settings.sec, o->settings.host, "InfluxDB");
    r = influxdb_http_init(&o->http, &o->settings, err);
    if (r < 0)
        goto err_free;
    r = influxdb_check_connection(o, err);
    if (r < 0)
        goto err_free;

    struct alumet_output_opts opts = {0};
    opts.delivery.retry = o->settings.max_buffered_points > 0;
    opts.delivery.max_points = (size_t)o->settings.max_buffered_points;
    r = alumet_add_output(ctx, "out", &influxdb_output_ops, o, &opts, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    influxdb_output_free(o);
    return r;
}

/* The output belongs to the core once registered (it is freed after its
 * thread ends), so start leaves nothing for stop to release. */
static int influxdb_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_influxdb = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "influxdb",
    .version = "0.1.0",
    .default_config = INFLUXDB_DEFAULT_CONFIG,
    .init = influxdb_init,
    .start = influxdb_start,
    .stop = influxdb_stop,
    .free = influxdb_free,
};
