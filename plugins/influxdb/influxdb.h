/* SPDX-License-Identifier: MIT */
/* influxdb plugin, private: the settings read from the configuration and
 * the HTTP client (influxdb-http.c). */
#ifndef ALUMET_INFLUXDB_H
#define ALUMET_INFLUXDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "alumet/error.h"
#include "alumet/time.h"
#include "util/http/httpclient.h"
#include "util/http/httpoutput.h"

/* The HTTP API of the server. */
enum influxdb_api {
    INFLUXDB_API_V1 = 1, /* POST /write?db=&rp=&precision=ns, basic authentication */
    INFLUXDB_API_V2 = 2, /* POST /api/v2/write?org=&bucket=&precision=ns, token */
};

/* Everything the output needs, owned (strings are copies). */
struct influxdb_settings {
    char *host; /* base URL, no trailing slash */
    enum influxdb_api api;
    char *token;            /* v2 */
    char *org;              /* v2 */
    char *bucket;           /* v2 */
    char *database;         /* v1 */
    char *retention_policy; /* v1, NULL: the database's default */
    /* TLS and authentication (docs/http-outputs.md): username and password
     * are basic authentication (v1, or v2 without token); a bearer token
     * replaces the v2 token */
    struct httpoutput_security sec;
    bool attributes_as_tags;
    char **as_tags; /* NULL-terminated, may be NULL */
    size_t n_as_tags;
    char **as_fields;
    size_t n_as_fields;
    alumet_time_ns connect_timeout;
    alumet_time_ns request_timeout;
    uint64_t max_buffered_points; /* 0: no retry, a failed buffer is dropped */
};

/* Deep copy of src into dst (zeroed first). 0 or -ENOMEM (dst left empty). */
int influxdb_settings_copy(struct influxdb_settings *dst, const struct influxdb_settings *src);
/* Free the strings of s and zero it. */
void influxdb_settings_done(struct influxdb_settings *s);

/* The outcome of a write that is not a success nor a transient failure:
 * the server refused the data itself (HTTP 400, 413, 422); sending it
 * again cannot help. */
#define INFLUXDB_HTTP_REJECTED 2

/* The bytes of a response body kept for the messages. */
#define INFLUXDB_HTTP_MAX_RESPONSE 511

/* One HTTP client per output (see httpclient.h). Not thread-safe (one output
 * thread). */
struct influxdb_http {
    struct httpclient client;
    char *where; /* for messages: "'http://h:8086' (database 'x')" */
};

/* Prepare h for s (borrowed during the call only). 0, -ENOMEM or -EINVAL
 * with err. On failure h holds nothing to release. */
int influxdb_http_init(struct influxdb_http *h, const struct influxdb_settings *s,
                       struct alumet_error *err);
/* Release h (accepts a zeroed or released h). */
void influxdb_http_done(struct influxdb_http *h);

/* POST body (len bytes, borrowed) to the write URL. *ret_status receives the
 * HTTP status, or 0 when no response came. Returns:
 *   0                       2xx: written;
 *   ALUMET_WRITE_RETRY      no answer (connection refused, timeout, ...), or
 *                           a status that may change (401, 403, 404, 429, 5xx);
 *   INFLUXDB_HTTP_REJECTED  400, 413 or 422: the server refused the data;
 *   -ENOMEM, -EINVAL        (a URL that curl cannot use).
 * err says why in every case but 0, with the server's answer when there is one. */
int influxdb_http_post(struct influxdb_http *h, const char *body, size_t len, long *ret_status,
                       struct alumet_error *err);

/* The classification of influxdb_http_post, exposed for the tests. */
int influxdb_http_classify(CURLcode res, long status);

#endif
