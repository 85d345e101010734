/* SPDX-License-Identifier: MIT */
/* kwollect-input: the measures of Kwollect, the metrics service of
 * Grid'5000 (wattmeters, BMC sensors...), fetched over the window of an
 * `exec` or `watch` run, as upstream Alumet's kwollect-input plugin 1.0.0:
 * the window starts when the pipeline starts and ends when the measured
 * process ends; one HTTP GET then fetches it (kwollect-input-parse.c reads
 * the answer). See README.md. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/plugin.h"
#include "alumet/source.h"
#include "kwollect-input.h"
#include "util/http/httpoutput.h"
#include "util/json.h"

#define KWI_VERSION "1.0.0"
#define KWI_SOURCE "kwollect_event_source"
#define KWI_ATTEMPTS 3

#define KWI_DEFAULT_CONFIG                                                                         \
    "[plugins.kwollect-input]\n"                                                                   \
    "# Off by default: it needs the Grid'5000 API; set to true to use it\n"                        \
    "enabled = false\n"                                                                            \
    "site = \"CHANGEME\"\n"                                                                        \
    "hostname = \"CHANGEME\"\n"                                                                    \
    "# Kwollect metrics to fetch, such as \"wattmetre_power_watt\"\n"                              \
    "metrics = [\"wattmetre_power_watt\"]\n"                                                       \
    "login = \"CHANGEME\"\n"                                                                       \
    "password = \"CHANGEME\"\n"                                                                    \
    "# Hours from UTC of the site (informative: the query uses UNIX times)\n"                      \
    "# utc_offset = 2\n"

struct kwi {
    char *api_url; /* ".../stable/sites", no trailing slash */
    char *site, *hostname, *login, *password;
    char **metrics;
    size_t n_metrics;
    alumet_metric_id *ids;
    alumet_time_ns connect_timeout, request_timeout;
    struct alumet_log_topic *log;
    struct alumet_pipeline *pipeline;
    pthread_mutex_t lock;
    alumet_time_ns window_start; /* wall clock, 0: the pipeline has not started */
    alumet_time_ns window_end;   /* 0: no end announced yet */
};

/* The source: owned by the core; borrows the plugin state, which lives
 * until after the elements are freed. */
struct kwi_source {
    struct kwi *k;
    struct httpclient http;
};

static void kwi_free(void *state)
{
    struct kwi *k = state;
    if (!k)
        return;
    free(k->api_url);
    free(k->site);
    free(k->hostname);
    free(k->login);
    if (k->password) {
        explicit_bzero(k->password, strlen(k->password));
        free(k->password);
    }
    for (size_t i = 0; i < k->n_metrics; i++)
        free(k->metrics[i]);
    free(k->metrics);
    free(k->ids);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static int kwi_required(struct alumet_config *cfg, const char *key, char **ret,
                        struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(cfg, key, NULL, &v, err);
    if (r == 0 && !v)
        r = alumet_config_error(cfg, key, err, -EINVAL, "missing (a string is required)");
    if (r == 0 && !(*ret = strdup(v)))
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    return r;
}

static int kwi_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    const char **items = NULL;
    int64_t utc_offset = 0, max_points = 0;
    struct kwi *k = calloc(1, sizeof(*k));
    if (!k)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&k->lock, NULL);
    int r = kwi_required(cfg, "site", &k->site, err);
    if (r == 0)
        r = kwi_required(cfg, "hostname", &k->hostname, err);
    if (r == 0)
        r = kwi_required(cfg, "login", &k->login, err);
    if (r == 0)
        r = kwi_required(cfg, "password", &k->password, err);
    if (r == 0)
        r = alumet_config_get_string_array(cfg, "metrics", &items, &k->n_metrics, err);
    if (r == 0 && (!items || k->n_metrics == 0))
        r = alumet_config_error(cfg, "metrics", err, -EINVAL,
                                "expected an array of Kwollect metric names, such as "
                                "[\"wattmetre_power_watt\"]");
    if (r == 0)
        r = alumet_config_get_int(cfg, "utc_offset", 0, &utc_offset, err);
    const char *api = NULL;
    if (r == 0)
        r = alumet_config_get_string(cfg, "api_url", "https://api.grid5000.fr/stable/sites", &api,
                                     err);
    if (r == 0 && !(k->api_url = strdup(api)))
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t l = r == 0 ? strlen(k->api_url) : 0; l > 0 && k->api_url[l - 1] == '/'; l--)
        k->api_url[l - 1] = '\0';
    if (r == 0)
        r = httpoutput_get_limits(cfg, &k->connect_timeout, &k->request_timeout, &max_points, err);
    if (r == 0)
        r = httpoutput_check_limits(cfg, k->connect_timeout, k->request_timeout, 0, err);
    if (r == 0 && !(k->metrics = calloc(k->n_metrics, sizeof(*k->metrics))))
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; r == 0 && i < k->n_metrics; i++)
        if (!(k->metrics[i] = strdup(items[i])))
            r = alumet_error_set(err, -ENOMEM, "out of memory");
    free(items);
    if (r < 0) {
        if (!k->metrics)
            k->n_metrics = 0;
        kwi_free(k);
        return r;
    }
    *ret_state = k;
    return 0;
}

/* GET <api_url>/<site>/metrics?nodes=&metrics=a,b&start_time=&end_time= */
static char *kwi_url(const struct kwi *k, alumet_time_ns start, alumet_time_ns end)
{
    struct text t = {0};
    char num[64];
    char *esc = curl_easy_escape(NULL, k->site, 0);
    int r = esc ? 0 : -ENOMEM;
    if (r == 0)
        r = text_adds(&t, k->api_url);
    if (r == 0)
        r = text_adds(&t, "/");
    if (r == 0)
        r = text_adds(&t, esc);
    curl_free(esc);
    if (r == 0)
        r = text_adds(&t, "/metrics?nodes=");
    esc = r == 0 ? curl_easy_escape(NULL, k->hostname, 0) : NULL;
    if (r == 0 && (!esc || text_adds(&t, esc) < 0))
        r = -ENOMEM;
    curl_free(esc);
    if (r == 0)
        r = text_adds(&t, "&metrics=");
    for (size_t i = 0; r == 0 && i < k->n_metrics; i++) {
        esc = curl_easy_escape(NULL, k->metrics[i], 0);
        if (!esc || (i && text_adds(&t, ",") < 0) || text_adds(&t, esc) < 0)
            r = -ENOMEM;
        curl_free(esc);
    }
    /* whole seconds that cover the window */
    snprintf(num, sizeof(num), "&start_time=%lld&end_time=%lld",
             (long long)(start / ALUMET_NSEC_PER_SEC),
             (long long)((end + ALUMET_NSEC_PER_SEC - 1) / ALUMET_NSEC_PER_SEC));
    if (r == 0)
        r = text_adds(&t, num);
    if (r < 0) {
        text_done(&t);
        return NULL;
    }
    return t.s;
}

static int kwi_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                           struct alumet_error *err)
{
    struct kwi_source *s = data;
    struct kwi *k = s->k;
    long status = 0;
    int r = 0;

    (void)now;
    pthread_mutex_lock(&k->lock);
    alumet_time_ns start = k->window_start, end = k->window_end;
    pthread_mutex_unlock(&k->lock);
    /* exec triggers every source when the command starts and ends: only the
     * end of the measured process opens the query */
    if (end == 0 || start == 0)
        return ALUMET_POLL_OK;
    char *url = kwi_url(k, start, end);
    if (!url)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (int attempt = 1; attempt <= KWI_ATTEMPTS; attempt++) {
        CURLcode res = httpclient_request(&s->http, "GET", url, NULL, 0, &status);
        r = httpclient_classify(res, status);
        if (r == 0)
            break;
        if (res != CURLE_OK)
            alumet_error_set(err, -EIO, "cannot reach Kwollect at '%s': %s", k->api_url,
                             httpclient_strerror(&s->http, res));
        else
            alumet_error_set(err, -EIO, "Kwollect answered HTTP %ld: %s", status,
                             s->http.response_len ? s->http.response : "(empty response)");
        bool transient = r == -EAGAIN || status == 429 || status >= 500 || status == 408;
        if (!transient || attempt == KWI_ATTEMPTS)
            break;
        alumet_log_at(k->log, ALUMET_LOG_WARN, "%s, will retry in %d s", err->msg, attempt);
        struct timespec ts = {.tv_sec = attempt};
        nanosleep(&ts, NULL);
    }
    free(url);
    if (r != 0)
        return r == -ENOMEM ? r : ALUMET_POLL_RETRY;
    const char *names[k->n_metrics];
    for (size_t i = 0; i < k->n_metrics; i++)
        names[i] = k->metrics[i];
    struct kwi_metrics m = {.names = names, .ids = k->ids, .n = k->n_metrics};
    size_t skipped = 0, before = alumet_buffer_len(buf);
    r = kwi_parse_answer(s->http.response ? s->http.response : "", s->http.response_len, &m, buf,
                         &skipped, err);
    if (r < 0)
        return r == -ENOMEM ? r : ALUMET_POLL_RETRY;
    if (skipped)
        alumet_log_at(k->log, ALUMET_LOG_WARN,
                      "%zu measures of metrics not in the configuration, skipping them", skipped);
    alumet_log_at(k->log, ALUMET_LOG_INFO, "fetched %zu measures from Kwollect",
                  alumet_buffer_len(buf) - before);
    pthread_mutex_lock(&k->lock);
    k->window_start = end;
    k->window_end = 0;
    pthread_mutex_unlock(&k->lock);
    return ALUMET_POLL_OK;
}

static void kwi_source_free(void *data)
{
    struct kwi_source *s = data;
    if (!s)
        return;
    httpclient_done(&s->http);
    free(s);
}

static const struct alumet_source_ops kwi_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = kwi_source_poll,
    .free = kwi_source_free,
};

static alumet_time_ns kwi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (alumet_time_ns)ts.tv_sec * ALUMET_NSEC_PER_SEC + ts.tv_nsec;
}

/* The end of the measured process (exec, watch): fetch the window. Only a
 * process ends the window: the cgroup detectors' announcements do not. */
static void kwi_on_end(void *data, enum alumet_event_kind kind,
                       const struct alumet_consumer *consumers, size_t n)
{
    struct kwi *k = data;
    bool process = false;
    (void)kind;
    for (size_t i = 0; i < n; i++)
        process = process || consumers[i].kind == ALUMET_CONSUMER_PROCESS;
    if (!process)
        return;
    pthread_mutex_lock(&k->lock);
    k->window_end = kwi_now();
    struct alumet_pipeline *p = k->pipeline;
    pthread_mutex_unlock(&k->lock);
    struct alumet_error e = {0};
    if (p && alumet_pipeline_control(p, "src/kwollect-input/" KWI_SOURCE,
                                     ALUMET_CONTROL_TRIGGER_NOW, 0, &e) <= 0)
        alumet_log_at(k->log, ALUMET_LOG_ERROR, "cannot trigger the Kwollect query: %s",
                      e.msg[0] ? e.msg : "no source");
}

static int kwi_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct kwi *k = state;
    int r;
    k->log = alumet_start_log_topic(ctx);
    free(k->ids);
    k->ids = calloc(k->n_metrics, sizeof(*k->ids));
    if (!k->ids)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < k->n_metrics; i++) {
        char unit[128], desc[512];
        struct alumet_unit u = kwi_unit_of(k->metrics[i], unit, sizeof(unit));
        snprintf(desc, sizeof(desc), "Metric: %s", k->metrics[i]);
        r = alumet_create_metric(ctx, k->metrics[i], ALUMET_VALUE_F64, u, desc, &k->ids[i], err);
        if (r < 0)
            return r;
    }
    struct kwi_source *s = calloc(1, sizeof(*s));
    if (!s)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    s->k = k;
    struct httpclient_opts opts = {
        .url = k->api_url,
        .user_agent = "alumet-kwollect-input/" KWI_VERSION,
        .accept = "application/json",
        .username = k->login,
        .password = k->password,
        .connect_timeout = k->connect_timeout,
        .request_timeout = k->request_timeout,
        .max_response = 256u << 20,
    };
    if (httpclient_init(&s->http, &opts) < 0) {
        r = alumet_error_set(err, -EINVAL, "invalid api_url '%s': %s", k->api_url,
                             curl_easy_strerror(s->http.setopt_error));
        kwi_source_free(s);
        return r;
    }
    struct alumet_source_opts so = {.size = sizeof(so), .manual_only = true};
    r = alumet_add_source(ctx, KWI_SOURCE, &kwi_source_ops, s, &so, err);
    if (r < 0) {
        kwi_source_free(s);
        return r;
    }
    return alumet_subscribe_event(ctx, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, kwi_on_end, k, err);
}

static int kwi_post_start(void *state, struct alumet_post_start_ctx *ctx, struct alumet_error *err)
{
    struct kwi *k = state;
    (void)err;
    pthread_mutex_lock(&k->lock);
    k->window_start = kwi_now();
    k->window_end = 0;
    k->pipeline = alumet_post_start_pipeline(ctx);
    pthread_mutex_unlock(&k->lock);
    return 0;
}

static int kwi_stop(void *state, struct alumet_error *err)
{
    struct kwi *k = state;
    (void)err;
    pthread_mutex_lock(&k->lock);
    k->pipeline = NULL;
    pthread_mutex_unlock(&k->lock);
    return 0;
}

const struct alumet_plugin alumet_plugin_kwollect_input = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "kwollect-input",
    .version = KWI_VERSION,
    .default_config = KWI_DEFAULT_CONFIG,
    .init = kwi_init,
    .start = kwi_start,
    .post_pipeline_start = kwi_post_start,
    .stop = kwi_stop,
    .free = kwi_free,
};
