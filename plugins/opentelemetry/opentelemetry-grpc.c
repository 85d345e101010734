/* SPDX-License-Identifier: MIT */
/* OTLP/gRPC client of the opentelemetry plugin, as upstream exports: the
 * unary call opentelemetry.proto.collector.metrics.v1.MetricsService/Export
 * over HTTP/2 (cleartext with prior knowledge on http://, TLS with ALPN on
 * https://), through the shared libcurl client of src/util/http. A gRPC
 * message is framed as 1 byte (compressed: 0) + 4 bytes of big-endian length
 * + the protobuf bytes; the outcome is the grpc-status trailer (or header of
 * a Trailers-Only answer), with its percent-encoded grpc-message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/output.h"
#include "opentelemetry.h"

#define OTEL_GRPC_PATH "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
#define OTEL_GRPC_USER_AGENT "grpc-c-alumet-opentelemetry/0.1.0"

static const char *const otel_grpc_captured[] = {"grpc-status", "grpc-message", NULL};

static const char *const otel_grpc_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *otel_grpc_status_name(int code)
{
    return code >= 0 && code <= OTEL_GRPC_UNAUTHENTICATED ? otel_grpc_names[code] : "UNKNOWN";
}

int otel_grpc_classify(int code)
{
    switch (code) {
    case OTEL_GRPC_OK:
        return 0;
    /* OTLP/gRPC: the retryable codes (RESOURCE_EXHAUSTED only with RetryInfo
     * in the spec; retried here, the delivery policy bounds what is kept) */
    case 1:  /* CANCELLED */
    case 4:  /* DEADLINE_EXCEEDED */
    case 8:  /* RESOURCE_EXHAUSTED */
    case 10: /* ABORTED */
    case 11: /* OUT_OF_RANGE */
    case OTEL_GRPC_UNAVAILABLE:
    case 15: /* DATA_LOSS */
        return ALUMET_WRITE_RETRY;
    default:
        return OTEL_HTTP_REJECTED;
    }
}

int otel_grpc_from_http(long status)
{
    /* gRPC's "HTTP to gRPC status code mapping" */
    switch (status) {
    case 400:
        return 13; /* INTERNAL */
    case 401:
        return OTEL_GRPC_UNAUTHENTICATED;
    case 403:
        return OTEL_GRPC_PERMISSION_DENIED;
    case 404:
        return OTEL_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return OTEL_GRPC_UNAVAILABLE;
    default:
        return 2; /* UNKNOWN */
    }
}

static int otel_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void otel_grpc_decode_message(const char *in, char *buf, size_t size)
{
    size_t w = 0;
    for (size_t i = 0; in[i] && w + 1 < size; i++) {
        int hi, lo;
        if (in[i] == '%' && (hi = otel_hex(in[i + 1])) >= 0 && (lo = otel_hex(in[i + 2])) >= 0) {
            char c = (char)(hi * 16 + lo);
            buf[w++] = (unsigned char)c < 0x20 || c == 0x7f ? ' ' : c;
            i += 2;
        } else {
            buf[w++] = in[i];
        }
    }
    buf[w] = '\0';
}

int otel_grpc_init(struct otel_grpc *g, const struct otel_settings *s, struct alumet_error *err)
{
    *g = (struct otel_grpc){0};
    size_t n = s->n_headers;
    const char **headers = calloc(n + 2, sizeof(*headers));
    if (!headers || asprintf(&g->url, "%s%s", s->collector_host, OTEL_GRPC_PATH) < 0) {
        free(headers);
        g->url = NULL;
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    headers[0] = "TE: trailers";
    for (size_t i = 0; i < n; i++)
        headers[i + 1] = s->headers[i];
    struct httpclient_opts opts = {
        .url = g->url,
        .user_agent = OTEL_GRPC_USER_AGENT,
        .content_type = "application/grpc",
        .headers = headers,
        .n_headers = n + 1,
        .connect_timeout = s->connect_timeout,
        .request_timeout = s->request_timeout,
        .max_response = OTEL_HTTP_MAX_RESPONSE,
        .http2 = true,
        .capture = otel_grpc_captured,
    };
    httpoutput_security_apply(&s->sec, &opts);
    int r = httpclient_init(&g->client, &opts);
    free(headers);
    if (r < 0 && g->client.setopt_error != CURLE_OK)
        alumet_error_set(err, r, "cannot configure the gRPC client for '%s': %s", g->url,
                         curl_easy_strerror(g->client.setopt_error));
    else if (r < 0)
        alumet_error_set(err, r, "cannot create a gRPC client (libcurl): out of memory");
    if (r < 0)
        otel_grpc_done(g);
    return r;
}

void otel_grpc_done(struct otel_grpc *g)
{
    httpclient_done(&g->client);
    free(g->url);
    free(g->frame);
    *g = (struct otel_grpc){0};
}

/* The gRPC frame of a message, in g->frame. */
static int otel_grpc_frame(struct otel_grpc *g, const uint8_t *body, size_t len)
{
    if (len > UINT32_MAX)
        return -EINVAL;
    if (len + 5 > g->frame_cap) {
        uint8_t *f = realloc(g->frame, len + 5);
        if (!f)
            return -ENOMEM;
        g->frame = f;
        g->frame_cap = len + 5;
    }
    g->frame[0] = 0; /* not compressed */
    g->frame[1] = (uint8_t)(len >> 24);
    g->frame[2] = (uint8_t)(len >> 16);
    g->frame[3] = (uint8_t)(len >> 8);
    g->frame[4] = (uint8_t)len;
    if (len)
        memcpy(g->frame + 5, body, len);
    return 0;
}

/* The partial success of an OK answer: the framed ExportMetricsServiceResponse. */
static void otel_grpc_partial(const struct httpclient *c, int64_t *ret_rejected, char *msg,
                              size_t size)
{
    const uint8_t *d = (const uint8_t *)c->response;
    *ret_rejected = 0;
    if (size)
        msg[0] = '\0';
    if (c->response_len < 5 || d[0] != 0)
        return;
    size_t len = (size_t)d[1] << 24 | (size_t)d[2] << 16 | (size_t)d[3] << 8 | d[4];
    if (len > c->response_len - 5)
        return;
    otel_response *res =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
            NULL, len, d + 5);
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

int otel_grpc_post(struct otel_grpc *g, const uint8_t *body, size_t len, int *ret_code,
                   int64_t *ret_rejected, char *ret_msg, size_t size, struct alumet_error *err)
{
    long status = 0;
    *ret_code = -1;
    int r = otel_grpc_frame(g, body, len);
    if (r < 0)
        return alumet_error_set(err, r, r == -ENOMEM ? "out of memory" : "request too large");
    CURLcode res = httpclient_post(&g->client, g->frame, len + 5, &status);
    g->last_res = res;
    /* a server that answers at once (Trailers-Only: UNIMPLEMENTED...) may
     * reset the stream while the request is still being sent: its status
     * came, that is the answer */
    if (res == CURLE_HTTP2_STREAM && httpclient_captured(&g->client, 0)) {
        res = CURLE_OK;
        status = 200;
    }
    r = httpclient_classify(res, status);
    if (r < 0 && r != -EAGAIN)
        return alumet_error_set(err, r, "cannot reach the OTLP collector at '%s': %s", g->url,
                                httpclient_strerror(&g->client, res));
    if (r == -EAGAIN) {
        alumet_error_set(err, -EIO, "cannot reach the OTLP collector at '%s': %s", g->url,
                         httpclient_strerror(&g->client, res));
        return ALUMET_WRITE_RETRY;
    }
    if (status != 200) {
        *ret_code = otel_grpc_from_http(status);
        alumet_error_set(err, -EIO,
                         "the OTLP collector at '%s' answered HTTP %ld (gRPC status %d %s)", g->url,
                         status, *ret_code, otel_grpc_status_name(*ret_code));
        return otel_grpc_classify(*ret_code);
    }
    const char *code = httpclient_captured(&g->client, 0);
    char *end = NULL;
    long v = code ? strtol(code, &end, 10) : -1;
    if (!code || !*code || *end || v < 0 || v > 0xffff) {
        /* not a gRPC server (or a broken proxy): a passing fault, like a
         * garbage HTTP reply */
        alumet_error_set(err, -EIO,
                         "the OTLP collector at '%s' answered without a valid grpc-status "
                         "(is it a gRPC endpoint? for OTLP/HTTP set protocol = "
                         "\"http/protobuf\")",
                         g->url);
        return ALUMET_WRITE_RETRY;
    }
    *ret_code = (int)v;
    if (v == OTEL_GRPC_OK) {
        otel_grpc_partial(&g->client, ret_rejected, ret_msg, size);
        return 0;
    }
    char msg[HTTPCLIENT_CAPTURE_SIZE];
    const char *m = httpclient_captured(&g->client, 1);
    otel_grpc_decode_message(m ? m : "", msg, sizeof(msg));
    alumet_error_set(err, -EIO, "the OTLP collector at '%s' answered gRPC status %ld %s: %s",
                     g->url, v, otel_grpc_status_name((int)v), msg[0] ? msg : "(no message)");
    return otel_grpc_classify((int)v);
}
