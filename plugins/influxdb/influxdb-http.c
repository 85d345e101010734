/* SPDX-License-Identifier: MIT */
/* HTTP client of the influxdb plugin: the write URL, its headers and the
 * meaning of InfluxDB's answers, over the shared client of
 * src/util/http/httpclient.c (one libcurl handle per output, keep-alive). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/output.h"
#include "influxdb.h"

#define INFLUXDB_USER_AGENT "alumet-influxdb/0.1.0"

static char *influxdb_strdup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static char **influxdb_strv_dup(char *const *v, size_t n, bool *oom)
{
    if (!v)
        return NULL;
    char **d = calloc(n + 1, sizeof(*d));
    if (!d) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = influxdb_strdup_or_null(v[i], oom);
    return d;
}

static void influxdb_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int influxdb_settings_copy(struct influxdb_settings *dst, const struct influxdb_settings *src)
{
    bool oom = false;

    *dst = *src;
    dst->host = influxdb_strdup_or_null(src->host, &oom);
    dst->token = influxdb_strdup_or_null(src->token, &oom);
    dst->org = influxdb_strdup_or_null(src->org, &oom);
    dst->bucket = influxdb_strdup_or_null(src->bucket, &oom);
    dst->database = influxdb_strdup_or_null(src->database, &oom);
    dst->retention_policy = influxdb_strdup_or_null(src->retention_policy, &oom);
    if (httpoutput_security_copy(&dst->sec, &src->sec) < 0)
        oom = true;
    dst->as_tags = influxdb_strv_dup(src->as_tags, src->n_as_tags, &oom);
    dst->as_fields = influxdb_strv_dup(src->as_fields, src->n_as_fields, &oom);
    if (oom) {
        influxdb_settings_done(dst);
        return -ENOMEM;
    }
    return 0;
}

void influxdb_settings_done(struct influxdb_settings *s)
{
    free(s->host);
    free(s->token);
    free(s->org);
    free(s->bucket);
    free(s->database);
    free(s->retention_policy);
    httpoutput_security_done(&s->sec);
    influxdb_strv_free(s->as_tags);
    influxdb_strv_free(s->as_fields);
    *s = (struct influxdb_settings){0};
}

/* "name=<escaped value>" appended to the query being built in url. */
static int influxdb_http_add_param(char *url, size_t size, const char *name, const char *value)
{
    /* libcurl ignores the handle of curl_easy_escape */
    char *esc = curl_easy_escape(/* curl= */ NULL, value, 0);
    if (!esc)
        return -ENOMEM;
    size_t len = strlen(url);
    int n = snprintf(url + len, size - len, "%s%s=%s", strchr(url, '?') ? "&" : "?", name, esc);
    curl_free(esc);
    if (n < 0 || (size_t)n >= size - len)
        return -ENOMEM;
    return 0;
}

/* The write URL with its query; caller frees *ret_url. */
static int influxdb_http_build_url(char **ret_url, const struct influxdb_settings *s)
{
    size_t size = strlen(s->host) + 64;
    int r;

    /* escaping can triple a value */
    if (s->api == INFLUXDB_API_V2)
        size += 3 * (strlen(s->org) + strlen(s->bucket));
    else
        size += 3 * (strlen(s->database) + (s->retention_policy ? strlen(s->retention_policy) : 0));
    char *url = malloc(size);
    if (!url)
        return -ENOMEM;
    *ret_url = url;
    snprintf(url, size, "%s%s", s->host, s->api == INFLUXDB_API_V2 ? "/api/v2/write" : "/write");
    if (s->api == INFLUXDB_API_V2) {
        r = influxdb_http_add_param(url, size, "org", s->org);
        if (r == 0)
            r = influxdb_http_add_param(url, size, "bucket", s->bucket);
    } else {
        r = influxdb_http_add_param(url, size, "db", s->database);
        if (r == 0 && s->retention_policy && *s->retention_policy)
            r = influxdb_http_add_param(url, size, "rp", s->retention_policy);
    }
    if (r == 0)
        r = influxdb_http_add_param(url, size, "precision", "ns");
    return r;
}

static int influxdb_http_build_where(struct influxdb_http *h, const struct influxdb_settings *s)
{
    int n;

    if (s->api == INFLUXDB_API_V2)
        n = asprintf(&h->where, "'%s' (org '%s', bucket '%s')", s->host, s->org, s->bucket);
    else
        n = asprintf(&h->where, "'%s' (database '%s')", s->host, s->database);
    if (n < 0) {
        h->where = NULL;
        return -ENOMEM;
    }
    return 0;
}

int influxdb_http_init(struct influxdb_http *h, const struct influxdb_settings *s,
                       struct alumet_error *err)
{
    char *url = NULL, *auth = NULL;

    *h = (struct influxdb_http){0};
    int r = influxdb_http_build_url(&url, s);
    if (r == 0)
        r = influxdb_http_build_where(h, s);
    if (r == 0 && s->api == INFLUXDB_API_V2 && s->token && *s->token &&
        asprintf(&auth, "Authorization: Token %s", s->token) < 0) {
        auth = NULL;
        r = -ENOMEM;
    }
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto out;
    }

    const char *headers[] = {auth};
    struct httpclient_opts opts = {
        .url = url,
        .user_agent = INFLUXDB_USER_AGENT,
        .content_type = "text/plain; charset=utf-8",
        .accept = "application/json",
        .headers = headers,
        .n_headers = auth ? 1 : 0,
        .connect_timeout = s->connect_timeout,
        .request_timeout = s->request_timeout,
        .max_response = INFLUXDB_HTTP_MAX_RESPONSE,
    };
    httpoutput_security_apply(&s->sec, &opts);
    if (auth) /* the v2 token: no basic authentication besides */
        opts.username = opts.password = NULL;
    r = httpclient_init(&h->client, &opts);
    if (r < 0 && h->client.setopt_error != CURLE_OK)
        alumet_error_set(err, r, "cannot configure the HTTP client for %s: %s", h->where,
                         curl_easy_strerror(h->client.setopt_error));
    else if (r < 0)
        alumet_error_set(err, r, "cannot create an HTTP client (libcurl): out of memory");

out:
    free(url);
    if (auth) {
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    if (r < 0)
        influxdb_http_done(h);
    return r;
}

void influxdb_http_done(struct influxdb_http *h)
{
    httpclient_done(&h->client);
    free(h->where);
    h->where = NULL;
}

int influxdb_http_classify(CURLcode res, long status)
{
    int r = httpclient_classify(res, status);
    if (r == -EAGAIN)
        return ALUMET_WRITE_RETRY;
    if (r <= 0)
        return r;
    if (status == 400 || status == 413 || status == 422)
        return INFLUXDB_HTTP_REJECTED;
    /* 401/403/404 may be fixed by an administrator (token, database), 429
     * and 5xx are the server's state: keep the data */
    return ALUMET_WRITE_RETRY;
}

/* The response without its trailing newline, for a message. */
static const char *influxdb_http_answer(struct influxdb_http *h)
{
    struct httpclient *c = &h->client;
    while (c->response_len > 0 &&
           (c->response[c->response_len - 1] == '\n' || c->response[c->response_len - 1] == '\r'))
        c->response[--c->response_len] = '\0';
    return c->response_len ? c->response : "(empty response)";
}

int influxdb_http_post(struct influxdb_http *h, const char *body, size_t len, long *ret_status,
                       struct alumet_error *err)
{
    CURLcode res = httpclient_post(&h->client, body, len, ret_status);
    int r = influxdb_http_classify(res, *ret_status);
    if (r == 0)
        return 0;
    if (res != CURLE_OK)
        alumet_error_set(err, r < 0 ? r : -EIO, "cannot reach InfluxDB at %s: %s", h->where,
                         httpclient_strerror(&h->client, res));
    else
        alumet_error_set(err, -EIO, "InfluxDB at %s answered HTTP %ld: %s", h->where, *ret_status,
                         influxdb_http_answer(h));
    return r;
}
