/* SPDX-License-Identifier: MIT */
/* elasticsearch: writes every measurement to Elasticsearch or OpenSearch
 * through the _bulk API, in the layout of upstream Alumet's elasticsearch
 * plugin 0.1.0 (elasticsearch-bulk.c). A request that fails as a whole is
 * retried by the core (delivery policy); when some items of a bulk request
 * fail, only those are sent again (429, 5xx) or dropped and counted (other
 * statuses). See README.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet-build-config.h"
#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "elasticsearch.h"
#include "util/http/httpoutput.h"

#define ES_VERSION "0.1.0"
#define ES_MAX_RESPONSE (256u << 20)
#define ES_TEMPLATE_NAME "alumet_index_template"
/* only what the plugin reads: the response of a large bulk stays small */
#define ES_BULK_QUERY "?filter_path=errors,items.*.status,items.*.error"

#define ES_DEFAULT_CONFIG                                                                          \
    "[plugins.elasticsearch]\n"                                                                    \
    "# Off by default: it needs a server; set to true to use it\n"                                 \
    "enabled = false\n"                                                                            \
    "# Root URL of Elasticsearch or OpenSearch (a path prefix is kept)\n"                          \
    "server_url = \"http://localhost:9200\"\n"                                                     \
    "# true: no check of the server's certificate nor of its host name\n"                          \
    "allow_insecure = false\n"                                                                     \
    "# Index of a point: <index_prefix>-<metric name>[-<unit>], in lower case\n"                   \
    "index_prefix = \"alumet\"\n"                                                                  \
    "metric_unit_as_index_suffix = false\n"                                                        \
    "# Time limits of a request\n"                                                                 \
    "connect_timeout = \"5s\"\n"                                                                   \
    "request_timeout = \"30s\"\n"                                                                  \
    "# Measurements kept while the server cannot be reached, retried until it can\n"               \
    "# (past this, the oldest are dropped; 0: keep nothing, drop what fails)\n"                    \
    "max_buffered_points = 1000000\n"                                                              \
    "\n"                                                                                           \
    "# At most one of auth.basic, auth.basic_file (a file holding \"user:password\"),\n"           \
    "# auth.api_key (key = \"...\") and auth.bearer (token = \"...\")\n"                           \
    "[plugins.elasticsearch.auth.basic]\n"                                                         \
    "user = \"TODO\"\n"                                                                            \
    "password = \"TODO\"\n"

enum es_auth { ES_AUTH_NONE, ES_AUTH_BASIC, ES_AUTH_API_KEY, ES_AUTH_BEARER };

struct es_settings {
    char *url; /* no trailing slash */
    bool insecure;
    char *prefix;
    bool unit_suffix;
    enum es_auth auth;
    char *user, *password; /* basic, basic_file */
    char *secret;          /* api_key, bearer */
    alumet_time_ns connect_timeout, request_timeout;
    uint64_t max_buffered_points;
};

struct es {
    struct es_settings settings;
};

/* The output "api" (upstream's element name). */
struct es_output {
    struct alumet_log_topic *log;
    struct httpclient http;
    char *root_url, *template_url, *bulk_url;
    bool template_done;
    long status;          /* of the last request, 0: no answer */
    uint64_t max_pending; /* items kept for a retry; 0: none */
    struct es_format format;
    struct es_batch work;    /* the request being sent */
    struct es_batch pending; /* items refused for now (429, 5xx), sent first next time */
    int *statuses;
    size_t n_statuses;
    struct httpoutput_complaint refused; /* items refused for good */
    struct httpoutput_complaint lost;    /* items given up (pending full, shutdown) */
};

static char *es_strdup(const char *s, bool *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

static void es_secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void es_settings_done(struct es_settings *s)
{
    free(s->url);
    free(s->prefix);
    free(s->user);
    es_secret_free(s->password);
    es_secret_free(s->secret);
    *s = (struct es_settings){0};
}

static void es_free(void *state)
{
    struct es *e = state;
    if (!e)
        return;
    es_settings_done(&e->settings);
    free(e);
}

/* "user:password" from a file, trimmed (upstream's basic_file). */
static int es_read_basic_file(struct alumet_config *t, const char *path, struct es_settings *s,
                              struct alumet_error *err)
{
    char text[4096];
    FILE *f = fopen(path, "re");
    if (!f)
        return alumet_config_error(t, "file", err, -EINVAL,
                                   "invalid auth config: cannot read '%s': %s", path,
                                   strerror(errno));
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    while (n > 0 && strchr(" \t\r\n", text[n - 1]))
        text[--n] = '\0';
    char *start = text;
    while (*start && strchr(" \t\r\n", *start))
        start++;
    char *colon = strchr(start, ':');
    if (!colon) {
        explicit_bzero(text, sizeof(text));
        return alumet_config_error(t, "file", err, -EINVAL,
                                   "invalid auth config: '%s' must hold \"user:password\"", path);
    }
    *colon = '\0';
    bool oom = false;
    s->user = es_strdup(start, &oom);
    s->password = es_strdup(colon + 1, &oom);
    explicit_bzero(text, sizeof(text));
    return oom ? alumet_error_set(err, -ENOMEM, "out of memory") : 0;
}

static int es_read_auth(struct alumet_config *cfg, struct es_settings *s, struct alumet_error *err)
{
    static const char *const kinds[] = {"basic", "basic_file", "api_key", "bearer"};
    struct alumet_config *auth = NULL, *t = NULL;
    const char *a = NULL, *b = NULL;
    bool oom = false;
    int r = alumet_config_get_table(cfg, "auth", &auth, err);
    if (r < 0 || !auth)
        return r;
    size_t found = 0;
    for (size_t i = 0; i < 4; i++)
        found += alumet_config_has(auth, kinds[i]);
    if (found > 1)
        return alumet_config_error(cfg, "auth", err, -EINVAL,
                                   "invalid auth config: expected one of auth.basic, "
                                   "auth.basic_file, auth.api_key and auth.bearer, got %zu",
                                   found);
    if ((r = alumet_config_get_table(auth, "basic", &t, err)) < 0)
        return r;
    if (t) {
        r = alumet_config_get_string(t, "user", NULL, &a, err);
        if (r == 0)
            r = alumet_config_get_string(t, "password", NULL, &b, err);
        if (r == 0 && (!a || !b))
            return alumet_config_error(t, a ? "password" : "user", err, -EINVAL,
                                       "invalid auth config: expected a string");
        s->auth = ES_AUTH_BASIC;
        s->user = es_strdup(a, &oom);
        s->password = es_strdup(b, &oom);
    } else if ((r = alumet_config_get_table(auth, "basic_file", &t, err)) < 0) {
        return r;
    } else if (t) {
        r = alumet_config_get_string(t, "file", NULL, &a, err);
        if (r == 0 && !a)
            return alumet_config_error(t, "file", err, -EINVAL,
                                       "invalid auth config: expected the path of a file");
        if (r == 0)
            r = es_read_basic_file(t, a, s, err);
        s->auth = ES_AUTH_BASIC;
    } else {
        const char *kind = alumet_config_has(auth, "api_key") ? "api_key" : "bearer";
        const char *key = kind[0] == 'a' ? "key" : "token";
        if ((r = alumet_config_get_table(auth, kind, &t, err)) < 0 || !t)
            return r;
        r = alumet_config_get_string(t, key, NULL, &a, err);
        if (r == 0 && !a)
            return alumet_config_error(t, key, err, -EINVAL,
                                       "invalid auth config: expected a string");
        s->auth = kind[0] == 'a' ? ES_AUTH_API_KEY : ES_AUTH_BEARER;
        s->secret = es_strdup(a, &oom);
    }
    if (r == 0 && oom)
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    return r;
}

static int es_read_options(struct alumet_config *cfg, struct es_settings *s,
                           struct alumet_error *err)
{
    const char *url = NULL, *prefix = NULL;
    int64_t max_points = 0;
    bool oom = false;
    int r = alumet_config_get_string(cfg, "server_url", "http://localhost:9200", &url, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "allow_insecure", false, &s->insecure, err);
    if (r == 0)
        r = alumet_config_get_string(cfg, "index_prefix", "alumet", &prefix, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "metric_unit_as_index_suffix", false, &s->unit_suffix, err);
    if (r == 0)
        r = httpoutput_get_limits(cfg, &s->connect_timeout, &s->request_timeout, &max_points, err);
    if (r == 0)
        r = es_read_auth(cfg, s, err);
    if (r < 0)
        return r;
    s->url = es_strdup(url, &oom);
    s->prefix = es_strdup(prefix, &oom);
    if (oom)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    size_t len = strlen(s->url);
    while (len > 0 && s->url[len - 1] == '/')
        s->url[--len] = '\0';
    if (len == 0 || !strstr(s->url, "://"))
        return alumet_config_error(cfg, "server_url", err, -EINVAL,
                                   "invalid server url '%s': expected a URL such as "
                                   "\"http://localhost:9200\"",
                                   url);
    if (!*s->prefix)
        return alumet_config_error(cfg, "index_prefix", err, -EINVAL,
                                   "expected a non-empty index prefix, such as \"alumet\"");
    r = httpoutput_check_limits(cfg, s->connect_timeout, s->request_timeout, max_points, err);
    s->max_buffered_points = (uint64_t)max_points;
    return r;
}

static int es_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct es *e = calloc(1, sizeof(*e));
    if (!e)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int r = es_read_options(cfg, &e->settings, err);
    if (r < 0) {
        es_free(e);
        return r;
    }
    *ret_state = e;
    return 0;
}

/* The response body without its trailing newline, for a message. */
static const char *es_answer(struct httpclient *c)
{
    while (c->response_len > 0 && strchr("\r\n", c->response[c->response_len - 1]))
        c->response[--c->response_len] = '\0';
    return c->response_len ? c->response : "(empty response)";
}

/* One request; 0 (2xx), ALUMET_WRITE_RETRY (no answer, or a status that may
 * change: 408, 429, 5xx, 401, 403, 404), ALUMET_WRITE_DROP (another 4xx:
 * the request itself is refused), -ENOMEM; err says why but for 0. */
static int es_request(struct es_output *o, const char *method, const char *url, const char *body,
                      size_t len, const char *what, struct alumet_error *err)
{
    long status = 0;
    CURLcode res = httpclient_request(&o->http, method, url, body, len, &status);
    o->status = status;
    int r = httpclient_classify(res, status);
    if (r == 0)
        return 0;
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    if (res != CURLE_OK) {
        alumet_error_set(err, -EIO, "cannot reach %s for %s: %s", o->root_url, what,
                         httpclient_strerror(&o->http, res));
        return ALUMET_WRITE_RETRY;
    }
    alumet_error_set(err, -EIO, "%s answered HTTP %ld to %s: %s", o->root_url, status, what,
                     es_answer(&o->http));
    if (status >= 400 && status < 500 && status != 408 && status != 429 && status != 401 &&
        status != 403 && status != 404)
        return ALUMET_WRITE_DROP;
    return ALUMET_WRITE_RETRY;
}

/* Upstream's index template: the types of the fixed fields. */
static int es_put_template(struct es_output *o, struct alumet_error *err)
{
    struct text t = {0};
    int r = text_adds(&t, "{\"index_patterns\":[");
    if (r == 0) {
        char pattern[1024];
        snprintf(pattern, sizeof(pattern), "%s-*", o->format.prefix);
        r = json_text_add_string(&t, pattern, (size_t)-1);
    }
    if (r == 0)
        r = text_adds(
            &t, "],\"template\":{\"mappings\":{\"properties\":{"
                "\"@timestamp\":{\"type\":\"date_nanos\"},\"resource_kind\":{\"type\":\"keyword\"},"
                "\"resource_id\":{\"type\":\"keyword\"},\"consumer_kind\":{\"type\":\"keyword\"},"
                "\"consumer_id\":{\"type\":\"keyword\"}}}},\"priority\":80,\"version\":3,"
                "\"_meta\":{\"origin\":\"Alumet measurements\"}}");
    if (r < 0) {
        text_done(&t);
        return alumet_error_set(err, r, "out of memory");
    }
    r = es_request(o, "PUT", o->template_url, t.s, t.len, "the index template", err);
    text_done(&t);
    if (r == 0) {
        o->template_done = true;
        alumet_log_at(o->log, ALUMET_LOG_DEBUG, "index template '%s' created", ES_TEMPLATE_NAME);
    }
    return r;
}

static int es_reserve_statuses(struct es_output *o, size_t n)
{
    if (n <= o->n_statuses)
        return 0;
    int *s = realloc(o->statuses, n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    o->statuses = s;
    o->n_statuses = n;
    return 0;
}

/* Send the items of b. Items refused for now go to o->pending (while there
 * is room), the others refused are dropped and counted. Returns 0 when the
 * server answered the request, ALUMET_WRITE_RETRY or ALUMET_WRITE_DROP when
 * it failed as a whole (nothing stored), or a negative errno. */
static int es_send(struct es_output *o, const struct es_batch *b, struct alumet_error *err)
{
    char why[2][512];
    int r;

    if (!o->template_done && (r = es_put_template(o, err)) != 0)
        return r == ALUMET_WRITE_DROP ? -EIO : r; /* upstream: fatal */
    r = es_request(o, "POST", o->bulk_url, b->text.s, b->text.len, "a bulk request", err);
    if (r != 0)
        return r;
    if (es_reserve_statuses(o, b->n) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int failed = es_bulk_outcome(o->http.response ? o->http.response : "", o->http.response_len,
                                 b->n, o->statuses, why);
    if (failed == -ENOMEM)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if (failed < 0) {
        /* answered 2xx but unreadable: the items are probably stored */
        alumet_log_at(o->log, ALUMET_LOG_WARN,
                      "cannot read the bulk response of %s (%s), assuming %zu documents stored",
                      o->root_url, why[0], b->n);
        return 0;
    }
    size_t dropped = 0, lost = 0;
    for (size_t i = 0; failed > 0 && i < b->n; i++) {
        int st = o->statuses[i];
        if (st >= 200 && st < 300)
            continue;
        if (!es_status_is_transient(st))
            dropped++;
        else if (o->pending.n >= o->max_pending)
            lost++;
        else if (es_batch_copy_item(&o->pending, b, i) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    if (dropped)
        httpoutput_complain(o->log, &o->refused, dropped, "were refused by the server",
                            ", dropping them", why[1]);
    if (lost)
        httpoutput_complain(o->log, &o->lost, lost, "were refused for now by the server",
                            o->max_pending ? " and no more can wait (max_buffered_points), "
                                             "dropping them"
                                           : ", dropping them (max_buffered_points = 0)",
                            why[0]);
    if ((size_t)failed > dropped + lost)
        alumet_log_at(o->log, ALUMET_LOG_DEBUG, "%zu items refused for now (%s), kept for a retry",
                      (size_t)failed - dropped - lost, why[0]);
    return 0;
}

/* Send again what was refused for now. 0 when nothing waits any more, else
 * ALUMET_WRITE_RETRY (the core backs off and calls write again) or an error. */
static int es_send_pending(struct es_output *o, struct alumet_error *err)
{
    if (o->pending.n == 0)
        return 0;
    struct es_batch b = o->pending;
    o->pending = o->work;
    es_batch_clear(&o->pending);
    int r = es_send(o, &b, err);
    if (r == ALUMET_WRITE_RETRY) {
        /* nothing was stored: the same items wait */
        o->work = o->pending;
        o->pending = b;
        return r;
    }
    o->work = b;
    if (r < 0 || r == ALUMET_WRITE_DROP) {
        if (r == ALUMET_WRITE_DROP)
            httpoutput_complain(o->log, &o->refused, b.n, "were refused by the server",
                                ", dropping them", err->msg);
        return r < 0 ? r : 0;
    }
    if (o->pending.n == 0)
        return 0;
    alumet_error_set(err, -EIO, "%zu documents were refused for now by %s (429 or 5xx)",
                     o->pending.n, o->root_url);
    return ALUMET_WRITE_RETRY;
}

static int es_output_write(void *data, const struct alumet_buffer *buf,
                           const struct alumet_registry *reg, struct alumet_error *err)
{
    struct es_output *o = data;
    int r = es_send_pending(o, err);
    if (r != 0)
        return r;
    if (alumet_buffer_len(buf) == 0)
        return 0;
    es_batch_clear(&o->work);
    r = es_batch_add_buffer(&o->work, &o->format, buf, reg);
    if (r < 0)
        return alumet_error_set(err, r, r == -ENOMEM ? "out of memory" : "unknown metric");
    r = es_send(o, &o->work, err);
    if (r == ALUMET_WRITE_DROP)
        httpoutput_complain(o->log, &o->refused, o->work.n, "were refused by the server",
                            ", dropping them", err->msg);
    return r;
}

/* At shutdown: one more try for what was refused for now, then it is lost. */
static int es_output_close(void *data, struct alumet_error *err)
{
    struct es_output *o = data;
    struct alumet_error e = {0};
    (void)err;
    if (es_send_pending(o, &e) != 0 && o->pending.n > 0)
        httpoutput_complain(o->log, &o->lost, o->pending.n,
                            "could not be stored before the "
                            "shutdown",
                            ", dropping them", e.msg[0] ? e.msg : "refused for now");
    return 0;
}

static void es_output_free(void *data)
{
    struct es_output *o = data;
    if (!o)
        return;
    httpclient_done(&o->http);
    free(o->root_url);
    free(o->template_url);
    free(o->bulk_url);
    es_format_done(&o->format);
    es_batch_done(&o->work);
    es_batch_done(&o->pending);
    free(o->statuses);
    free(o);
}

static const struct alumet_output_ops es_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = es_output_write,
    .close = es_output_close,
    .free = es_output_free,
};

static int es_http_init(struct es_output *o, const struct es_settings *s, struct alumet_error *err)
{
    char *auth = NULL;
    int r = 0;
    if (s->auth == ES_AUTH_API_KEY || s->auth == ES_AUTH_BEARER) {
        if (asprintf(&auth, "Authorization: %s %s",
                     s->auth == ES_AUTH_API_KEY ? "ApiKey" : "Bearer", s->secret) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    const char *headers[] = {auth};
    struct httpclient_opts opts = {
        .url = o->bulk_url,
        .user_agent = "Alumet/" ALUMET_VERSION " plugin-elasticsearch/" ES_VERSION,
        .content_type = "application/x-ndjson",
        .accept = "application/json",
        .headers = headers,
        .n_headers = auth ? 1 : 0,
        .username = s->auth == ES_AUTH_BASIC ? s->user : NULL,
        .password = s->password,
        .connect_timeout = s->connect_timeout,
        .request_timeout = s->request_timeout,
        .max_response = ES_MAX_RESPONSE,
        .insecure = s->insecure,
    };
    if (httpclient_init(&o->http, &opts) < 0)
        r = alumet_error_set(err, -EINVAL, "invalid server url '%s': %s", s->url,
                             curl_easy_strerror(o->http.setopt_error));
    es_secret_free(auth);
    return r;
}

/* GET / : which server, and whether it takes the credentials. Not reachable
 * now: a warning, the measurements wait for it. */
static int es_check_connection(struct es_output *o, const struct es_settings *s,
                               struct alumet_error *err)
{
    struct alumet_error e = {0};
    char url[4096];
    snprintf(url, sizeof(url), "%s/", s->url);
    int r = es_request(o, "GET", url, NULL, 0, "GET /", &e);
    if (r == ALUMET_WRITE_RETRY && (o->status == 0 || o->status >= 500 || o->status == 429)) {
        httpoutput_warn_unreachable(o->log, e.msg, "the server", s->max_buffered_points);
        return 0;
    }
    if (r != 0)
        return alumet_error_set(err, -EIO,
                                "%s; please check server_url and auth in the "
                                "configuration",
                                e.msg);
    struct json *root = NULL;
    char why[128];
    const char *dist = "Elasticsearch", *number = "?";
    if (json_parse(o->http.response, o->http.response_len, &root, why, sizeof(why)) == 0) {
        const struct json *v = json_get(root, "version");
        const struct json *d = json_get(v, "distribution");
        const struct json *n = json_get(v, "number");
        if (d && d->type == JSON_STRING && strcmp(d->str, "opensearch") == 0)
            dist = "OpenSearch";
        if (n && n->type == JSON_STRING)
            number = n->str;
    }
    alumet_log_at(o->log, ALUMET_LOG_INFO, "connected to %s %s at %s", dist, number, o->root_url);
    json_free(root);
    r = es_put_template(o, &e);
    if (r == ALUMET_WRITE_RETRY && (o->status == 0 || o->status >= 500 || o->status == 429))
        return 0; /* created before the first bulk request */
    if (r != 0)
        return alumet_error_set(err, -EIO, "failed to create index template: %s", e.msg);
    return 0;
}

static int es_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct es *e = state;
    const struct es_settings *s = &e->settings;
    int r;

    struct es_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->log = alumet_start_log_topic(ctx);
    o->max_pending = s->max_buffered_points;
    o->format.unit_suffix = s->unit_suffix;
    char prefix[1024];
    es_index_name(s->prefix, prefix, sizeof(prefix));
    o->format.prefix = strdup(prefix);
    if (asprintf(&o->root_url, "'%s'", s->url) < 0)
        o->root_url = NULL;
    if (asprintf(&o->template_url, "%s/_index_template/" ES_TEMPLATE_NAME, s->url) < 0)
        o->template_url = NULL;
    if (asprintf(&o->bulk_url, "%s/_bulk" ES_BULK_QUERY, s->url) < 0)
        o->bulk_url = NULL;
    if (!o->format.prefix || !o->root_url || !o->template_url || !o->bulk_url) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    r = es_http_init(o, s, err);
    if (r == 0)
        r = es_check_connection(o, s, err);
    if (r < 0)
        goto err_free;

    struct alumet_output_opts opts = {0};
    opts.delivery.retry = s->max_buffered_points > 0;
    opts.delivery.max_points = (size_t)s->max_buffered_points;
    r = alumet_add_output(ctx, "api", &es_output_ops, o, &opts, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    es_output_free(o);
    return r;
}

static int es_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_elasticsearch = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "elasticsearch",
    .version = ES_VERSION,
    .default_config = ES_DEFAULT_CONFIG,
    .init = es_init,
    .start = es_start,
    .stop = es_stop,
    .free = es_free,
};
