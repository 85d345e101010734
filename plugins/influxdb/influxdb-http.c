/* SPDX-License-Identifier: MIT */
/* HTTP client of the influxdb plugin: libcurl, one easy handle per output
 * (keep-alive), the write URL built once. */
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
    dst->username = influxdb_strdup_or_null(src->username, &oom);
    dst->password = influxdb_strdup_or_null(src->password, &oom);
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
    free(s->username);
    if (s->password) {
        explicit_bzero(s->password, strlen(s->password));
        free(s->password);
    }
    influxdb_strv_free(s->as_tags);
    influxdb_strv_free(s->as_fields);
    *s = (struct influxdb_settings){0};
}

/* Keep the beginning of the response body, for the error messages. */
static size_t influxdb_http_on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct influxdb_http *h = data;
    size_t n = size * nmemb;
    size_t room = sizeof(h->response) - 1 - h->response_len;
    size_t keep = n < room ? n : room;

    memcpy(h->response + h->response_len, ptr, keep);
    h->response_len += keep;
    h->response[h->response_len] = '\0';
    return n;
}

/* "name=<escaped value>" appended to the query being built in url. */
static int influxdb_http_add_param(CURL *curl, char *url, size_t size, const char *name,
                                   const char *value)
{
    char *esc = curl_easy_escape(curl, value, 0);
    if (!esc)
        return -ENOMEM;
    size_t len = strlen(url);
    int n = snprintf(url + len, size - len, "%s%s=%s", strchr(url, '?') ? "&" : "?", name, esc);
    curl_free(esc);
    if (n < 0 || (size_t)n >= size - len)
        return -ENOMEM;
    return 0;
}

static int influxdb_http_build_url(struct influxdb_http *h, const struct influxdb_settings *s)
{
    size_t size = strlen(s->host) + 64;
    int r;

    /* escaping can triple a value */
    if (s->api == INFLUXDB_API_V2)
        size += 3 * (strlen(s->org) + strlen(s->bucket));
    else
        size += 3 * (strlen(s->database) + (s->retention_policy ? strlen(s->retention_policy) : 0));
    h->url = malloc(size);
    if (!h->url)
        return -ENOMEM;
    snprintf(h->url, size, "%s%s", s->host, s->api == INFLUXDB_API_V2 ? "/api/v2/write" : "/write");
    if (s->api == INFLUXDB_API_V2) {
        r = influxdb_http_add_param(h->curl, h->url, size, "org", s->org);
        if (r == 0)
            r = influxdb_http_add_param(h->curl, h->url, size, "bucket", s->bucket);
    } else {
        r = influxdb_http_add_param(h->curl, h->url, size, "db", s->database);
        if (r == 0 && s->retention_policy && *s->retention_policy)
            r = influxdb_http_add_param(h->curl, h->url, size, "rp", s->retention_policy);
    }
    if (r == 0)
        r = influxdb_http_add_param(h->curl, h->url, size, "precision", "ns");
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

static int influxdb_http_add_header(struct influxdb_http *h, const char *line)
{
    struct curl_slist *l = curl_slist_append(h->headers, line);
    if (!l)
        return -ENOMEM;
    h->headers = l;
    return 0;
}

static int influxdb_http_build_headers(struct influxdb_http *h, const struct influxdb_settings *s)
{
    int r = influxdb_http_add_header(h, "Content-Type: text/plain; charset=utf-8");
    if (r == 0)
        r = influxdb_http_add_header(h, "Accept: application/json");
    /* no "Expect: 100-continue" round trip before large bodies */
    if (r == 0)
        r = influxdb_http_add_header(h, "Expect:");
    if (r == 0 && s->api == INFLUXDB_API_V2) {
        char *auth = NULL;
        if (asprintf(&auth, "Authorization: Token %s", s->token) < 0)
            return -ENOMEM;
        r = influxdb_http_add_header(h, auth);
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    return r;
}

static long influxdb_ms(alumet_time_ns d)
{
    alumet_time_ns ms = (d + ALUMET_NSEC_PER_MSEC - 1) / ALUMET_NSEC_PER_MSEC;
    return ms > 0 && ms < (alumet_time_ns)LONG_MAX ? (long)ms : 0;
}

int influxdb_http_init(struct influxdb_http *h, const struct influxdb_settings *s,
                       struct alumet_error *err)
{
    CURLcode c = CURLE_OK;
    int r;

    *h = (struct influxdb_http){0};
    h->curl = curl_easy_init();
    if (!h->curl)
        return alumet_error_set(err, -ENOMEM, "cannot create an HTTP client (curl_easy_init)");
    r = influxdb_http_build_url(h, s);
    if (r == 0)
        r = influxdb_http_build_where(h, s);
    if (r == 0)
        r = influxdb_http_build_headers(h, s);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto err_done;
    }

#define INFLUXDB_SETOPT(opt, val)                                                                  \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(h->curl, (opt), (val));                                           \
    } while (0)
    INFLUXDB_SETOPT(CURLOPT_URL, h->url);
    INFLUXDB_SETOPT(CURLOPT_POST, 1L);
    INFLUXDB_SETOPT(CURLOPT_HTTPHEADER, h->headers);
    INFLUXDB_SETOPT(CURLOPT_USERAGENT, INFLUXDB_USER_AGENT);
    INFLUXDB_SETOPT(CURLOPT_NOSIGNAL, 1L);
    INFLUXDB_SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    INFLUXDB_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, influxdb_ms(s->connect_timeout));
    INFLUXDB_SETOPT(CURLOPT_TIMEOUT_MS, influxdb_ms(s->request_timeout));
    INFLUXDB_SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
    INFLUXDB_SETOPT(CURLOPT_WRITEFUNCTION, influxdb_http_on_body);
    INFLUXDB_SETOPT(CURLOPT_WRITEDATA, h);
    if (s->api == INFLUXDB_API_V1 && s->username && *s->username) {
        INFLUXDB_SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        INFLUXDB_SETOPT(CURLOPT_USERNAME, s->username);
        INFLUXDB_SETOPT(CURLOPT_PASSWORD, s->password ? s->password : "");
    }
#undef INFLUXDB_SETOPT
    if (c != CURLE_OK) {
        r = alumet_error_set(err, c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL,
                             "cannot configure the HTTP client for %s: %s", h->where,
                             curl_easy_strerror(c));
        goto err_done;
    }
    return 0;

err_done:
    influxdb_http_done(h);
    return r;
}

void influxdb_http_done(struct influxdb_http *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    free(h->url);
    free(h->where);
    *h = (struct influxdb_http){0};
}

int influxdb_http_classify(CURLcode res, long status)
{
    switch (res) {
    case CURLE_OK:
        break;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return -EINVAL;
    default:
        /* refused, reset, timed out, DNS, TLS handshake...: may pass */
        return ALUMET_WRITE_RETRY;
    }
    if (status >= 200 && status < 300)
        return 0;
    if (status == 400 || status == 413 || status == 422)
        return INFLUXDB_HTTP_REJECTED;
    /* 401/403/404 may be fixed by an administrator (token, database), 429
     * and 5xx are the server's state: keep the data */
    return ALUMET_WRITE_RETRY;
}

/* The response without its trailing newline, for a message. */
static const char *influxdb_http_answer(struct influxdb_http *h)
{
    while (h->response_len > 0 &&
           (h->response[h->response_len - 1] == '\n' || h->response[h->response_len - 1] == '\r'))
        h->response[--h->response_len] = '\0';
    return h->response_len ? h->response : "(empty response)";
}

int influxdb_http_post(struct influxdb_http *h, const char *body, size_t len, long *ret_status,
                       struct alumet_error *err)
{
    long status = 0;
    CURLcode res;

    h->response_len = 0;
    h->response[0] = '\0';
    h->errbuf[0] = '\0';
    res = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (res == CURLE_OK)
        res = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body ? body : "");
    if (res == CURLE_OK)
        res = curl_easy_perform(h->curl);
    if (res == CURLE_OK)
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    *ret_status = status;

    int r = influxdb_http_classify(res, status);
    if (r == 0)
        return 0;
    if (res != CURLE_OK)
        alumet_error_set(err, r < 0 ? r : -EIO, "cannot reach InfluxDB at %s: %s", h->where,
                         h->errbuf[0] ? h->errbuf : curl_easy_strerror(res));
    else
        alumet_error_set(err, -EIO, "InfluxDB at %s answered HTTP %ld: %s", h->where, status,
                         influxdb_http_answer(h));
    return r;
}
