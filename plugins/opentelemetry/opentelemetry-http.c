/* SPDX-License-Identifier: MIT */
/* OTLP/HTTP client of the opentelemetry plugin: libcurl, one easy handle
 * per output (keep-alive), POST <collector_host>/v1/metrics with a binary
 * protobuf body, retry rules of the OTLP specification. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    *s = (struct otel_settings){0};
}

static size_t otel_http_on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct otel_http *h = data;
    size_t n = size * nmemb;
    size_t keep = n;

    if (h->response_len + keep > OTEL_HTTP_MAX_RESPONSE)
        keep = OTEL_HTTP_MAX_RESPONSE - h->response_len;
    if (h->response_len + keep > h->response_cap) {
        size_t cap = h->response_cap ? h->response_cap : 1024;
        while (cap < h->response_len + keep)
            cap *= 2;
        uint8_t *r = realloc(h->response, cap);
        if (!r)
            return 0; /* curl reports CURLE_WRITE_ERROR */
        h->response = r;
        h->response_cap = cap;
    }
    memcpy(h->response + h->response_len, ptr, keep);
    h->response_len += keep;
    return n;
}

static size_t otel_http_on_header(char *line, size_t size, size_t nmemb, void *data)
{
    struct otel_http *h = data;
    size_t n = size * nmemb;
    static const char name[] = "content-type:";

    if (n > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
        size_t i = sizeof(name) - 1;
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t len = 0;
        while (i < n && line[i] != '\r' && line[i] != '\n' && len < sizeof(h->content_type) - 1)
            h->content_type[len++] = line[i++];
        h->content_type[len] = '\0';
    }
    return n;
}

static int otel_http_add_header(struct otel_http *h, const char *line)
{
    struct curl_slist *l = curl_slist_append(h->headers, line);
    if (!l)
        return -ENOMEM;
    h->headers = l;
    return 0;
}

static long otel_ms(alumet_time_ns d)
{
    alumet_time_ns ms = (d + ALUMET_NSEC_PER_MSEC - 1) / ALUMET_NSEC_PER_MSEC;
    return ms > 0 && ms < (alumet_time_ns)LONG_MAX ? (long)ms : 0;
}

int otel_http_init(struct otel_http *h, const struct otel_settings *s, struct alumet_error *err)
{
    CURLcode c = CURLE_OK;
    int r = 0;

    *h = (struct otel_http){0};
    h->curl = curl_easy_init();
    if (!h->curl)
        return alumet_error_set(err, -ENOMEM, "cannot create an HTTP client (curl_easy_init)");
    if (asprintf(&h->url, "%s/v1/metrics", s->collector_host) < 0) {
        h->url = NULL;
        r = -ENOMEM;
    }
    if (r == 0)
        r = otel_http_add_header(h, "Content-Type: application/x-protobuf");
    if (r == 0)
        r = otel_http_add_header(h, "Accept: application/x-protobuf");
    /* no "Expect: 100-continue" round trip before large bodies */
    if (r == 0)
        r = otel_http_add_header(h, "Expect:");
    for (size_t i = 0; r == 0 && i < s->n_headers; i++)
        r = otel_http_add_header(h, s->headers[i]);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto err_done;
    }

#define OTEL_SETOPT(opt, val)                                                                      \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(h->curl, (opt), (val));                                           \
    } while (0)
    OTEL_SETOPT(CURLOPT_URL, h->url);
    OTEL_SETOPT(CURLOPT_POST, 1L);
    OTEL_SETOPT(CURLOPT_HTTPHEADER, h->headers);
    OTEL_SETOPT(CURLOPT_USERAGENT, OTEL_USER_AGENT);
    OTEL_SETOPT(CURLOPT_NOSIGNAL, 1L);
    OTEL_SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    OTEL_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, otel_ms(s->connect_timeout));
    OTEL_SETOPT(CURLOPT_TIMEOUT_MS, otel_ms(s->request_timeout));
    OTEL_SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
    OTEL_SETOPT(CURLOPT_WRITEFUNCTION, otel_http_on_body);
    OTEL_SETOPT(CURLOPT_WRITEDATA, h);
    OTEL_SETOPT(CURLOPT_HEADERFUNCTION, otel_http_on_header);
    OTEL_SETOPT(CURLOPT_HEADERDATA, h);
#undef OTEL_SETOPT
    if (c != CURLE_OK) {
        r = alumet_error_set(err, c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL,
                             "cannot configure the HTTP client for '%s': %s", h->url,
                             curl_easy_strerror(c));
        goto err_done;
    }
    return 0;

err_done:
    otel_http_done(h);
    return r;
}

void otel_http_done(struct otel_http *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    free(h->url);
    free(h->response);
    *h = (struct otel_http){0};
}

int otel_http_classify(CURLcode res, long status)
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
static const char *otel_http_answer(struct otel_http *h, char *buf, size_t size)
{
    if (h->response_len == 0)
        return "(empty response)";
    if (strstr(h->content_type, "protobuf")) {
        const char *m = otel_http_status_message(h->response, h->response_len, buf, size);
        return m ? m : "(no message)";
    }
    size_t n = h->response_len < size - 1 ? h->response_len : size - 1;
    while (n > 0 && (h->response[n - 1] == '\n' || h->response[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++)
        buf[i] = isprint(h->response[i]) ? (char)h->response[i] : ' ';
    buf[n] = '\0';
    return buf;
}

/* The partial success of a 2xx response, if any. */
static void otel_http_partial(struct otel_http *h, int64_t *ret_rejected, char *msg, size_t size)
{
    *ret_rejected = 0;
    if (size)
        msg[0] = '\0';
    if (h->response_len == 0 || !strstr(h->content_type, "protobuf"))
        return;
    otel_response *res =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
            NULL, h->response_len, h->response);
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
    long status = 0;
    CURLcode res;

    h->response_len = 0;
    h->content_type[0] = '\0';
    h->errbuf[0] = '\0';
    res = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (res == CURLE_OK)
        res = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, len ? (const char *)body : "");
    if (res == CURLE_OK)
        res = curl_easy_perform(h->curl);
    if (res == CURLE_OK)
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    *ret_status = status;

    int r = otel_http_classify(res, status);
    if (r == 0) {
        otel_http_partial(h, ret_rejected, ret_msg, size);
        return 0;
    }
    if (res != CURLE_OK)
        alumet_error_set(err, r < 0 ? r : -EIO, "cannot reach the OTLP collector at '%s': %s",
                         h->url, h->errbuf[0] ? h->errbuf : curl_easy_strerror(res));
    else
        alumet_error_set(err, -EIO, "the OTLP collector at '%s' answered HTTP %ld: %s", h->url,
                         status, otel_http_answer(h, answer, sizeof(answer)));
    return r;
}
