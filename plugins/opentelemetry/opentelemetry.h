/* SPDX-License-Identifier: MIT */
/* opentelemetry plugin, private: the settings, the OTLP encoder
 * (opentelemetry-encode.c) and the OTLP/HTTP client (opentelemetry-http.c). */
#ifndef ALUMET_OPENTELEMETRY_H
#define ALUMET_OPENTELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "alumet/time.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "util/http/httpclient.h"
#include "util/http/httpoutput.h"

/* Short names of the generated protobuf-c types. */
#define otel_request Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest
#define otel_response Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse
#define otel_resource_metrics Opentelemetry__Proto__Metrics__V1__ResourceMetrics
#define otel_scope_metrics Opentelemetry__Proto__Metrics__V1__ScopeMetrics
#define otel_metric Opentelemetry__Proto__Metrics__V1__Metric
#define otel_gauge Opentelemetry__Proto__Metrics__V1__Gauge
#define otel_data_point Opentelemetry__Proto__Metrics__V1__NumberDataPoint
#define otel_resource Opentelemetry__Proto__Resource__V1__Resource
#define otel_scope Opentelemetry__Proto__Common__V1__InstrumentationScope
#define otel_key_value Opentelemetry__Proto__Common__V1__KeyValue
#define otel_any_value Opentelemetry__Proto__Common__V1__AnyValue

/* The scope of every export: upstream's names (spec: opentelemetry 0.1.0). */
#define OTEL_SCOPE_NAME "alumet"
#define OTEL_SCOPE_VERSION "0.1.0"
#define OTEL_SERVICE_NAME "alumet-otlp-grpc"

/* How the exports travel (the OTel SDKs' OTEL_EXPORTER_OTLP_PROTOCOL names). */
enum otel_protocol {
    OTEL_PROTOCOL_GRPC,          /* "grpc": upstream's transport */
    OTEL_PROTOCOL_HTTP_PROTOBUF, /* "http/protobuf" */
};

/* Everything the output needs, owned (strings are copies). */
struct otel_settings {
    char *collector_host; /* base URL, no trailing slash; /v1/metrics is appended */
    enum otel_protocol protocol;
    char *prefix;
    char *suffix;
    bool use_unit_display_name;
    bool append_unit_to_metric_name; /* name_<unit>: the book's option, not upstream's */
    bool add_attributes_to_labels;
    alumet_time_ns push_interval; /* 0: one export per buffer (upstream) */
    char **headers;               /* "Name: value" lines, NULL-terminated, may be NULL */
    size_t n_headers;
    struct httpoutput_security sec; /* TLS and authentication (docs/http-outputs.md) */
    alumet_time_ns connect_timeout;
    alumet_time_ns request_timeout;
    uint64_t max_buffered_points; /* 0: no retry, a failed buffer is dropped */
};

/* Deep copy (dst zeroed first). 0 or -ENOMEM (dst left empty). */
int otel_settings_copy(struct otel_settings *dst, const struct otel_settings *src);
void otel_settings_done(struct otel_settings *s);

/* ---- encoder ---- */

/* A chunk of the encoder's string arena (pointers into it stay valid until
 * the next encode). */
struct otel_text_block;

/* Builds the ExportMetricsServiceRequest of a buffer and packs it. Every
 * array is kept from one buffer to the next: no allocation per point once
 * the largest buffer has been seen. Not thread-safe (one output thread). */
struct otel_encoder {
    const char *prefix; /* borrowed */
    const char *suffix; /* borrowed */
    bool use_unit_display_name;
    bool append_unit_to_metric_name;
    bool add_attributes_to_labels;

    otel_data_point *points;
    otel_data_point **point_ptrs;
    size_t points_cap;
    otel_key_value *kvs;
    otel_key_value **kv_ptrs;
    otel_any_value *values;
    size_t kvs_cap;
    otel_metric *metrics;
    otel_metric **metric_ptrs;
    otel_gauge *gauges;
    alumet_metric_id *metric_ids;
    size_t metrics_cap;
    uint32_t *slot_of_metric; /* metric id -> index + 1 in metrics, 0: not seen */
    size_t slots_cap;
    struct otel_text_block *text;
    uint8_t *packed;
    size_t packed_cap;
};

/* Encode the points of buf as one request. *ret_data (borrowed, valid until
 * the next call) and *ret_len receive the protobuf bytes; an empty buffer
 * gives an empty request (0 bytes). *ret_points receives the number of data
 * points. Returns 0, -ENOMEM, or -EINVAL with err when a point names a metric
 * that is not in reg. */
int otel_encode(struct otel_encoder *e, const struct alumet_buffer *buf,
                const struct alumet_registry *reg, const uint8_t **ret_data, size_t *ret_len,
                size_t *ret_points, struct alumet_error *err);
void otel_encoder_done(struct otel_encoder *e);

/* ---- HTTP client ---- */

/* The collector refused the data (a status other than 2xx, 429, 502, 503,
 * 504): OTLP says it must not be sent again. */
#define OTEL_HTTP_REJECTED 2

/* The bytes of a response body kept (for its Status message). */
#define OTEL_HTTP_MAX_RESPONSE (64 * 1024)

/* One HTTP client per output (see httpclient.h). Not thread-safe (one output
 * thread). */
struct otel_http {
    struct httpclient client;
    char *url; /* <collector_host>/v1/metrics */
};

/* Prepare h for s (borrowed during the call). 0, -ENOMEM or -EINVAL with err;
 * on failure h holds nothing to release. */
int otel_http_init(struct otel_http *h, const struct otel_settings *s, struct alumet_error *err);
void otel_http_done(struct otel_http *h);

/* POST an ExportMetricsServiceRequest. *ret_status: the HTTP status, 0 when
 * no response came. Returns 0 (2xx), ALUMET_WRITE_RETRY (no answer, or 429,
 * 502, 503, 504), OTEL_HTTP_REJECTED, -ENOMEM or -EINVAL; err says why, with
 * the collector's message when there is one. On 0, *ret_rejected and
 * ret_msg (size bytes) report a partial success (0 and "" when none). */
int otel_http_post(struct otel_http *h, const uint8_t *body, size_t len, long *ret_status,
                   int64_t *ret_rejected, char *ret_msg, size_t size, struct alumet_error *err);

/* The classification of otel_http_post, exposed for the tests. */
int otel_http_classify(CURLcode res, long status);

/* The message of a google.rpc.Status (field 2), the body of OTLP/HTTP
 * errors; NULL when there is none. Written to buf (size bytes). */
const char *otel_http_status_message(const uint8_t *data, size_t len, char *buf, size_t size);

/* ---- gRPC client (opentelemetry-grpc.c) ---- */

#define OTEL_GRPC_OK 0
#define OTEL_GRPC_PERMISSION_DENIED 7
#define OTEL_GRPC_UNIMPLEMENTED 12
#define OTEL_GRPC_UNAVAILABLE 14
#define OTEL_GRPC_UNAUTHENTICATED 16

/* One gRPC client per output: the HTTP/2 connection is kept alive. */
struct otel_grpc {
    struct httpclient client;
    char *url; /* <collector_host>/opentelemetry.proto.collector.metrics.v1.MetricsService/Export */
    uint8_t *frame; /* the framed request, kept from one call to the next */
    size_t frame_cap;
    CURLcode last_res; /* of the last call */
};

/* Prepare g for s (borrowed during the call). 0, -ENOMEM or -EINVAL with err;
 * on failure g holds nothing to release. */
int otel_grpc_init(struct otel_grpc *g, const struct otel_settings *s, struct alumet_error *err);
void otel_grpc_done(struct otel_grpc *g);

/* Call Export with an ExportMetricsServiceRequest. *ret_code: the gRPC status
 * (the HTTP status mapped to one when the answer is not 200), -1 when no
 * usable answer came. Returns 0 (OK), ALUMET_WRITE_RETRY (no answer, or a
 * retryable status: UNAVAILABLE...), OTEL_HTTP_REJECTED (another status:
 * INVALID_ARGUMENT...), -ENOMEM or -EINVAL; err says why, with the grpc-message.
 * On 0, *ret_rejected and ret_msg (size bytes) report a partial success. */
int otel_grpc_post(struct otel_grpc *g, const uint8_t *body, size_t len, int *ret_code,
                   int64_t *ret_rejected, char *ret_msg, size_t size, struct alumet_error *err);

/* Exposed for the tests: what a gRPC status means for the data (0,
 * ALUMET_WRITE_RETRY or OTEL_HTTP_REJECTED), the status of a non-200 HTTP
 * answer, the name of a status, and the percent-decoding of grpc-message. */
int otel_grpc_classify(int code);
int otel_grpc_from_http(long status);
const char *otel_grpc_status_name(int code);
void otel_grpc_decode_message(const char *in, char *buf, size_t size);

#endif
