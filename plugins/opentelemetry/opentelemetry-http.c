/* SPDX-License-Identifier: MIT */
/* OTLP/HTTP client of the opentelemetry plugin: POST
 * <collector_host>/v1/metrics with a binary protobuf body, retry rules of the
 * OTLP specification, over the shared client of src/util/http/httpclient.c
 * (one libcurl handle per output, keep-alive). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/output.h"
#include "opentelemetry.h"

#define OTEL_USER_AGENT "alumet-opentelemetry/0.1.0"

static char *otel_dup(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

int otel_settings_copy(struct otel_settings *dst, const struct otel_settings *src)
{
    bool oom = false;

    *dst = *src;
    dst->collector_host = otel_dup(src->collector_host, &oom);
    dst->prefix = otel_dup(src->prefix, &oom);
    dst->suffix = otel_dup(src->suffix, &oom);
    dst->headers = NULL;
    if (httpoutput_security_copy(&dst->sec, &src->sec) < 0)
        oom = true;
    if (src->headers) {
        dst->headers = calloc(src->n_headers + 1, sizeof(*dst->headers));
        if (!dst->headers)
            oom = true;
        for (size_t i = 0; dst->headers && i < src->n_headers; i++)
            dst->headers[i] = otel_dup(src->headers[i], &oom);
    }
    if (oom) {
        otel_settings_done(dst);
        return -ENOMEM;
    }
    return 0;
}

void otel_settings_done(struct otel_settings *s)
{
    free(s->collector_host);
    free(s->prefix);
    free(s->suffix);
    if (s->headers) {
        for (char **h = s->headers; *h; h++) {
            explicit_bzero(*h, strlen(*h)); /* may hold an API key */
            free(*h);
        }
        free(s->headers);
    }
    httpoutput_security_done(&s->sec);
    *s = (struct otel_settings){0};
}

int otel_http_init(struct otel_http *h, const struct otel_settings *s, struct alumet_error *err)
{
    *h = (struct otel_http){0};
    if (asprintf(&h->url, "%s/v1/metrics", s->collector_host) < 0) {
        h->url = NULL;
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    struct httpclient_opts opts = {
        .url = h->url,
        .user_agent = OTEL_USER_AGENT,
        .content_type = "application/x-protobuf",
        .accept = "application/x-protobuf",
        .headers = (const char *const *)s->headers,
        .n_headers = s->n_headers,
        .connect_timeout = s->connect_timeout,
        .request_timeout = s->request_timeout,
        .max_response = OTEL_HTTP_MAX_RESPONSE,
    };
    httpoutput_security_apply(&s->sec, &opts);
    int r = httpclient_init(&h->client, &opts);
    if (r < 0 && h->client.setopt_error != CURLE_OK)
        alumet_error_set(err, r, "cannot configure the HTTP client for '%s': %s", h->url,
                         curl_easy_strerror(h->client.setopt_error));
    else if (r < 0)
        alumet_error_set(err, r, "cannot create an HTTP client (libcurl): out of memory");
    if (r < 0)
        otel_http_done(h);
    return r;
}

void otel_http_done(struct otel_http *h)
{
    httpclient_done(&h->client);
    free(h->url);
    h->url = NULL;
}

int otel_http_classify(CURLcode res, long status)
{
    int r = httpclient_classify(res, status);
    if (r == -EAGAIN)
        return ALUMET_WRITE_RETRY;
    if (r <= 0)
        return r;
    /* OTLP/HTTP: "429, 502, 503, 504 SHOULD be retried; all other 4xx or
     * 5xx response status codes MUST NOT be retried" */
    if (status == 429 || status == 502 || status == 503 || status == 504)
        return ALUMET_WRITE_RETRY;
    return OTEL_HTTP_REJECTED;
}

/* Read a varint at *at; false at the end of the data or on a bad varint. */
static bool otel_read_varint(const uint8_t *data, size_t len, size_t *at, uint64_t *ret)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *at < len; shift += 7) {
        uint8_t b = data[(*at)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return true;
        }
    }
    return false;
}

const char *otel_http_status_message(const uint8_t *data, size_t len, char *buf, size_t size)
{
    size_t at = 0;
    uint64_t key, n;

    while (at < len && otel_read_varint(data, len, &at, &key)) {
        switch (key & 7) {
        case 0:
            if (!otel_read_varint(data, len, &at, &n))
                return NULL;
            break;
        case 1:
            at += 8;
            break;
        case 5:
            at += 4;
            break;
        case 2:
            if (!otel_read_varint(data, len, &at, &n) || n > len - at)
                return NULL;
            if (key >> 3 == 2) {
                snprintf(buf, size, "%.*s", (int)(n < INT_MAX ? n : INT_MAX),
                         (const char *)data + at);
                return buf;
            }
            at += n;
            break;
        default:
            return NULL;
        }
    }
    return NULL;
}

/* The response for a message: the Status message of a protobuf body, else
 * the start of the text with control characters replaced. */
static const char *otel_http_answer(const struct httpclient *c, char *buf, size_t size)
{
    const uint8_t *response = (const uint8_t *)c->response;
    if (c->response_len == 0)
        return "(empty response)";
    if (strstr(c->content_type, "protobuf")) {
        const char *m = otel_http_status_message(response, c->response_len, buf, size);
        return m ? m : "(no message)";
    }
    size_t n = c->response_len < size - 1 ? c->response_len : size - 1;
    while (n > 0 && (response[n - 1] == '\n' || response[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++)
        buf[i] = isprint(response[i]) ? (char)response[i] : ' ';
    buf[n] = '\0';
    return buf;
}

/* The partial success of a 2xx response, if any. */
static void otel_http_partial(const struct httpclient *c, int64_t *ret_rejected, char *msg,
                              size_t size)
{
    *ret_rejected = 0;
    if (size)
        msg[0] = '\0';
    if (c->response_len == 0 || !strstr(c->content_type, "protobuf"))
        return;
    otel_response *res =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
            NULL, c->response_len, (const uint8_t *)c->response);
    if (!res)
        return;
    if (res->partial_success) {
        *ret_rejected = res->partial_success->rejected_data_points;
        if (size && res->partial_success->error_message)
            snprintf(msg, size, "%s", res->partial_success->error_message);
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
        res, NULL);
}

int otel_http_post(struct otel_http *h, const uint8_t *body, size_t len, long *ret_status,
                   int64_t *ret_rejected, char *ret_msg, size_t size, struct alumet_error *err)
{
    char answer[512];
    CURLcode res = httpclient_post(&h->client, body, len, ret_status);
    int r = otel_http_classify(res, *ret_status);
    if (r == 0) {
        otel_http_partial(&h->client, ret_rejected, ret_msg, size);
        return 0;
    }
    if (res != CURLE_OK)
        alumet_error_set(err, r < 0 ? r : -EIO, "cannot reach the OTLP collector at '%s': %s",
                         h->url, httpclient_strerror(&h->client, res));
    else
        alumet_error_set(err, -EIO, "the OTLP collector at '%s' answered HTTP %ld: %s", h->url,
                         *ret_status, otel_http_answer(&h->client, answer, sizeof(answer)));
    return r;
}
