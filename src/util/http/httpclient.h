/* SPDX-License-Identifier: MIT */
/* The HTTP client of the output plugins (influxdb, opentelemetry): one
 * libcurl easy handle per output, so that the connection is kept alive from
 * one POST to the next, with the plugin's URL, headers and time limits.
 *
 *     struct httpclient c;
 *     r = httpclient_init(&c, &opts);
 *     res = httpclient_post(&c, body, len, &status);
 *     r = httpclient_classify(res, status);   (0: 2xx, HTTPCLIENT_ANSWERED, -EAGAIN...)
 *     httpclient_done(&c);
 *
 * Failures, and what the outputs do with them (the core's delivery policy
 * retries ALUMET_WRITE_RETRY with backoff, bounded by max_buffered_points):
 *
 *   - permanent, only what retrying cannot fix: a URL that libcurl cannot use
 *     (refused by httpclient_init, at start), and answers that refuse the data
 *     itself (4xx other than 408 and 429, judged by each plugin);
 *   - transient, everything else: no connection, a reset, a timeout, TLS,
 *     a reply that is not HTTP at all (a broken proxy, a server that crashed
 *     mid-reply), 5xx.
 *
 * Delivery is at least once. A request that timed out after it was sent may
 * have been stored by a slow server: it is sent again, and the client
 * doubles its time limit (up to 2 minutes, or the configured one when
 * longer) so that a server slower than request_timeout gets one or two
 * copies of a request, not every request twice. The default limit (30 s,
 * httpoutput.h) is far above a healthy server's time. A copy is harmless for
 * InfluxDB (a point with the same measurement, tag set, field and timestamp
 * overwrites the stored one); an OTLP collector may count it twice, as OTLP
 * itself allows (its exporters retry the same way).
 *
 * Part of libalumet-http, the static library that only the plugins that
 * speak HTTP link (it needs libcurl). No logging: the plugin words the
 * messages. Not thread-safe: one output thread per client. */
#ifndef ALUMET_UTIL_HTTPCLIENT_H
#define ALUMET_UTIL_HTTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/* What a client is made for; every pointer is borrowed during
 * httpclient_init only (libcurl and the client keep copies). */
struct httpclient_opts {
    const char *url;
    const char *user_agent;
    const char *content_type;   /* of the request body */
    const char *accept;         /* the Accept header */
    const char *const *headers; /* more "Name: value" lines, n_headers of them */
    size_t n_headers;
    const char *username;    /* basic authentication when neither NULL nor "" */
    const char *password;    /* NULL: "" */
    int64_t connect_timeout; /* ns, rounded up to ms; 0: libcurl's default */
    int64_t request_timeout; /* ns, the whole request; 0: no limit */
    size_t max_response;     /* bytes of a response body kept for the messages */
    bool insecure;           /* https: no check of the certificate nor of the host name */
    bool http2;              /* HTTP/2 only: prior knowledge on http://, ALPN h2 on https://; one
                                connection per request (libcurl 7.88 cannot reuse one after trailers) */
    /* names of response headers (or trailers) to keep, NULL-terminated, at
     * most HTTPCLIENT_MAX_CAPTURE (gRPC's grpc-status, grpc-message) */
    const char *const *capture;
    /* TLS (https:// URLs); files in PEM */
    const char *tls_ca; /* the CAs that sign the server's certificate; NULL: the system's */
    const char *tls_client_cert; /* the client's certificate (mutual TLS), NULL: none */
    const char *tls_client_key;  /* its private key, NULL: in tls_client_cert */
    bool tls_insecure;           /* do not verify the server's certificate nor its name */
    /* "Authorization: Bearer <token>" on every request: the token, or the file
     * holding it (read again before a request when it changed: rotation) */
    const char *bearer_token;
    const char *bearer_token_file;
};

#define HTTPCLIENT_MAX_CAPTURE 4
#define HTTPCLIENT_CAPTURE_SIZE 512

struct httpclient {
    CURL *curl;
    struct curl_slist *headers;
    char *url;             /* owned copy of opts.url */
    bool global_ref;       /* holds a reference to libcurl's global state */
    CURLcode setopt_error; /* after a failed init: the option libcurl refused, else CURLE_OK */
    char errbuf[CURL_ERROR_SIZE];
    char *response; /* the start of the last response body, NUL-terminated (NULL: none yet) */
    size_t response_len;
    size_t response_cap;
    size_t max_response;
    char content_type[128];      /* of the last response, "" when none */
    int64_t request_timeout;     /* ns, the limit now (0: none) */
    int64_t max_request_timeout; /* ns, how far it may grow */
    int64_t raised_timeout;      /* ns: the last POST timed out once sent and raised the
                                    limit to this; 0 otherwise */
    int64_t raised_from;         /* ns: the limit it had then */
    /* the headers or trailers named in opts.capture, of the last response
     * (truncated to HTTPCLIENT_CAPTURE_SIZE - 1 bytes); NULL when absent */
    char *capture_names[HTTPCLIENT_MAX_CAPTURE];
    char captured[HTTPCLIENT_MAX_CAPTURE][HTTPCLIENT_CAPTURE_SIZE];
    bool has_captured[HTTPCLIENT_MAX_CAPTURE];
    CURLcode last_res; /* of the last POST */
    /* bearer_token_file: its path, the header line holding its token (a node
     * of headers), and what identified the file when it was read */
    char *bearer_file;
    struct curl_slist *auth_node;
    struct httpclient_file_id {
        uint64_t dev, ino, size;
        int64_t mtime_ns;
    } bearer_id;
};

/* The value of the response header (or trailer) opts.capture[i] of the last
 * POST, NULL when it was absent. */
const char *httpclient_captured(const struct httpclient *c, size_t i);

/* Prepare c for opts (borrowed during the call). The URL is checked: a
 * malformed one, or one whose scheme libcurl does not speak, is -EINVAL with
 * c->setopt_error CURLE_URL_MALFORMAT or CURLE_UNSUPPORTED_PROTOCOL. Takes a reference to
 * libcurl's global state, released by httpclient_done after the handle,
 * whatever the order in which the outputs are freed. Returns 0, or -ENOMEM
 * (libcurl could not start, or out of memory) or -EINVAL with
 * c->setopt_error set when libcurl refused an option. On failure c holds
 * nothing to release (c->setopt_error stays readable). */
int httpclient_init(struct httpclient *c, const struct httpclient_opts *opts);

/* Read a bearer token from path into a new string (*ret, caller frees it):
 * the content of the file, without surrounding blanks and newlines. 0,
 * -errno of the read, -ENODATA (empty) or -EBADMSG (more than one line, a
 * control character, 16 KiB or more). Used by httpclient_post and by the
 * option checks. */
int httpclient_read_token(const char *path, char **ret);

/* Release c (accepts a zeroed or released client). */
void httpclient_done(struct httpclient *c);

/* POST body (len bytes, borrowed; NULL when len is 0) to the URL. The
 * response body (its start) and Content-Type land in c. With
 * bearer_token_file, the file is read again first when it changed (another
 * inode, size or time): when it cannot be read, nothing is sent and the
 * result is CURLE_READ_ERROR, with the file and the reason in c->errbuf. *ret_status
 * receives the HTTP status, 0 when no response came. Returns the libcurl
 * code of the transfer. After a timeout once the request was sent, the time
 * limit of the next requests doubles (c->raised_timeout, see above). */
CURLcode httpclient_post(struct httpclient *c, const void *body, size_t len, long *ret_status);

/* Like httpclient_post, with another method ("GET": no body, "PUT",
 * "POST") and another URL (NULL: the client's). The next httpclient_post
 * goes back to POST on the client's URL. url is borrowed during the call. */
CURLcode httpclient_request(struct httpclient *c, const char *method, const char *url,
                            const void *body, size_t len, long *ret_status);

/* httpclient_classify: an answer other than 2xx, whose status the caller judges. */
#define HTTPCLIENT_ANSWERED 1

/* What the outcome of a POST (res, status) means: 0 (a 2xx answer),
 * HTTPCLIENT_ANSWERED (another answer), -EAGAIN (no answer: refused, reset,
 * timed out, DNS, TLS...: may pass), -EINVAL (a URL that libcurl cannot use)
 * or -ENOMEM. */
int httpclient_classify(CURLcode res, long status);

/* The reason of a failed transfer: libcurl's detailed message of the last
 * transfer, else the text of res. Borrowed from c or libcurl. */
const char *httpclient_strerror(const struct httpclient *c, CURLcode res);

#endif
