/* SPDX-License-Identifier: MIT */
/* kwollect-output: pushes every measurement to the Kwollect API of
 * Grid'5000 (one POST of a JSON array per buffer), as upstream Alumet's
 * kwollect-output plugin 0.1.0 (kwollect-output-json.c), on the delivery
 * policy of the HTTP outputs. See README.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "kwollect-output.h"
#include "util/http/httpoutput.h"

#define KWO_VERSION "0.1.0"

#define KWO_DEFAULT_CONFIG                                                                         \
    "[plugins.kwollect-output]\n"                                                                  \
    "# Off by default: it needs the Grid'5000 API; set to true to use it\n"                        \
    "enabled = false\n"                                                                            \
    "# The metrics API of your site (replace CHANGEME: the second part of the\n"                   \
    "# node's name, node.SITE.grid5000.fr)\n"                                                      \
    "url = \"https://api.grid5000.fr/stable/sites/CHANGEME/metrics\"\n"                            \
    "# The device_id of the points (default: the first part of this host's name)\n"                \
    "# hostname = \"node\"\n"                                                                      \
    "# Basic authentication, when both are set\n"                                                  \
    "# login = \"\"\n"                                                                             \
    "# password = \"\"\n"                                                                          \
    "append_unit_to_metric_name = true\n"                                                          \
    "use_unit_display_name = true\n"                                                               \
    "# true: no check of the server's certificate (upstream never checks it)\n"                    \
    "allow_insecure = false\n"                                                                     \
    "connect_timeout = \"5s\"\n"                                                                   \
    "request_timeout = \"30s\"\n"                                                                  \
    "# Measurements kept while the API cannot be reached (0: drop what fails)\n"                   \
    "max_buffered_points = 1000000\n"

struct kwo {
    char *url;
    char *hostname;
    char *login, *password;
    bool append_unit, display_name, insecure;
    alumet_time_ns connect_timeout, request_timeout;
    uint64_t max_buffered_points;
};

struct kwo_output {
    struct alumet_log_topic *log;
    struct httpclient http;
    char *url;
    char *device_id;
    struct kwo_format format;
    struct text body;
    struct httpoutput_complaint refused;
};

static void kwo_free(void *state)
{
    struct kwo *k = state;
    if (!k)
        return;
    free(k->url);
    free(k->hostname);
    free(k->login);
    if (k->password) {
        explicit_bzero(k->password, strlen(k->password));
        free(k->password);
    }
    free(k);
}

static int kwo_dup(struct alumet_config *cfg, const char *key, char **ret, struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(cfg, key, NULL, &v, err);
    if (r == 0 && v && !(*ret = strdup(v)))
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    return r;
}

static int kwo_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    int64_t max_points = 0;
    struct kwo *k = calloc(1, sizeof(*k));
    if (!k)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int r = kwo_dup(cfg, "url", &k->url, err);
    if (r == 0)
        r = kwo_dup(cfg, "hostname", &k->hostname, err);
    if (r == 0)
        r = kwo_dup(cfg, "login", &k->login, err);
    if (r == 0)
        r = kwo_dup(cfg, "password", &k->password, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "append_unit_to_metric_name", true, &k->append_unit, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "use_unit_display_name", true, &k->display_name, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "allow_insecure", false, &k->insecure, err);
    if (r == 0)
        r = httpoutput_get_limits(cfg, &k->connect_timeout, &k->request_timeout, &max_points, err);
    if (r == 0 && (!k->url || !strstr(k->url, "://")))
        r = alumet_config_error(cfg, "url", err, -EINVAL,
                                "expected the URL of the Kwollect metrics API, such as "
                                "\"https://api.grid5000.fr/stable/sites/lyon/metrics\"");
    if (r == 0)
        r = httpoutput_check_limits(cfg, k->connect_timeout, k->request_timeout, max_points, err);
    if (r < 0) {
        kwo_free(k);
        return r;
    }
    k->max_buffered_points = (uint64_t)max_points;
    *ret_state = k;
    return 0;
}

static int kwo_output_write(void *data, const struct alumet_buffer *buf,
                            const struct alumet_registry *reg, struct alumet_error *err)
{
    struct kwo_output *o = data;
    size_t n = alumet_buffer_len(buf);
    long status = 0;
    int r = kwo_format_buffer(&o->body, &o->format, buf, reg);
    if (r < 0)
        return alumet_error_set(err, r, r == -ENOMEM ? "out of memory" : "unknown metric");
    CURLcode res = httpclient_post(&o->http, o->body.s, o->body.len, &status);
    r = httpclient_classify(res, status);
    if (r == 0)
        return 0;
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    if (res != CURLE_OK) {
        alumet_error_set(err, -EIO, "cannot reach Kwollect at '%s': %s", o->url,
                         httpclient_strerror(&o->http, res));
        return ALUMET_WRITE_RETRY;
    }
    const char *answer = o->http.response_len ? o->http.response : "(empty response)";
    alumet_error_set(err, -EIO, "Kwollect at '%s' answered HTTP %ld: %s", o->url, status, answer);
    if (status == 408 || status == 429 || status >= 500 || status == 401 || status == 403)
        return ALUMET_WRITE_RETRY;
    httpoutput_complain(o->log, &o->refused, n, "were refused by Kwollect", ", dropping them",
                        err->msg);
    alumet_error_clear(err);
    return ALUMET_WRITE_DROP;
}

static void kwo_output_free(void *data)
{
    struct kwo_output *o = data;
    if (!o)
        return;
    httpclient_done(&o->http);
    text_done(&o->body);
    free(o->url);
    free(o->device_id);
    free(o);
}

static const struct alumet_output_ops kwo_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = kwo_output_write,
    .free = kwo_output_free,
};

/* The first part of this host's name ("taurus-7" of taurus-7.lyon.grid5000.fr),
 * what upstream's generated config puts in hostname. */
static char *kwo_local_name(void)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    host[strcspn(host, ".")] = '\0';
    return strdup(host);
}

static int kwo_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct kwo *k = state;
    int r;
    struct kwo_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->log = alumet_start_log_topic(ctx);
    o->url = strdup(k->url);
    o->device_id = k->hostname ? strdup(k->hostname) : kwo_local_name();
    if (!o->url || !o->device_id) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    o->format = (struct kwo_format){
        .device_id = o->device_id,
        .append_unit_to_metric_name = k->append_unit,
        .use_unit_display_name = k->display_name,
    };
    bool auth = k->login && k->password;
    struct httpclient_opts opts = {
        .url = k->url,
        .user_agent = "alumet-kwollect-output/" KWO_VERSION,
        .content_type = "application/json",
        .accept = "application/json",
        .username = auth ? k->login : NULL,
        .password = auth ? k->password : NULL,
        .connect_timeout = k->connect_timeout,
        .request_timeout = k->request_timeout,
        .max_response = 511,
        .insecure = k->insecure,
    };
    if (httpclient_init(&o->http, &opts) < 0) {
        r = alumet_error_set(err, -EINVAL, "invalid url '%s': %s", k->url,
                             curl_easy_strerror(o->http.setopt_error));
        goto err_free;
    }
    struct alumet_output_opts oo = {0};
    oo.delivery.retry = k->max_buffered_points > 0;
    oo.delivery.max_points = (size_t)k->max_buffered_points;
    r = alumet_add_output(ctx, "kwollect-output", &kwo_output_ops, o, &oo, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    kwo_output_free(o);
    return r;
}

static int kwo_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_kwollect_output = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "kwollect-output",
    .version = KWO_VERSION,
    .default_config = KWO_DEFAULT_CONFIG,
    .init = kwo_init,
    .start = kwo_start,
    .stop = kwo_stop,
    .free = kwo_free,
};
