/* SPDX-License-Identifier: MIT */
#include "httpclient.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define HTTPCLIENT_NSEC_PER_MSEC 1000000
#define HTTPCLIENT_NSEC_PER_SEC 1000000000

/* How far a request time limit grows after requests that timed out once
 * sent (unless the configured one is longer). */
#define HTTPCLIENT_MAX_REQUEST_TIMEOUT ((int64_t)120 * HTTPCLIENT_NSEC_PER_SEC)

/* Keep the start of the response body (up to max_response bytes), for the
 * messages. */
static size_t httpclient_on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct httpclient *c = data;
    size_t n = size * nmemb;
    size_t room = c->max_response - c->response_len;
    size_t keep = n < room ? n : room;

    if (c->response_len + keep + 1 > c->response_cap) {
        size_t cap = c->response_cap ? c->response_cap : 1024;
        while (cap < c->response_len + keep + 1)
            cap *= 2;
        char *r = realloc(c->response, cap);
        if (!r)
            return 0; /* curl reports CURLE_WRITE_ERROR */
        c->response = r;
        c->response_cap = cap;
    }
    memcpy(c->response + c->response_len, ptr, keep);
    c->response_len += keep;
    c->response[c->response_len] = '\0';
    return n;
}

/* The value of line if it is the header name ("Name: value\r\n"), copied
 * to buf (size bytes, truncated); false when it is another header. */
static bool httpclient_header_value(const char *line, size_t n, const char *name, char *buf,
                                    size_t size)
{
    size_t l = strlen(name);
    if (n <= l || strncasecmp(line, name, l) != 0 || line[l] != ':')
        return false;
    size_t i = l + 1, len = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    while (i < n && line[i] != '\r' && line[i] != '\n' && len < size - 1)
        buf[len++] = line[i++];
    buf[len] = '\0';
    return true;
}

/* "Content-Type: application/x-protobuf\r\n", and the captured headers;
 * trailers come here too. */
static size_t httpclient_on_header(char *line, size_t size, size_t nmemb, void *data)
{
    struct httpclient *c = data;
    size_t n = size * nmemb;
    static const char name[] = "content-type:";

    for (size_t k = 0; k < HTTPCLIENT_MAX_CAPTURE && c->capture_names[k]; k++)
        if (httpclient_header_value(line, n, c->capture_names[k], c->captured[k],
                                    sizeof(c->captured[k])))
            c->has_captured[k] = true;

    if (n > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
        size_t i = sizeof(name) - 1;
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t len = 0;
        while (i < n && line[i] != '\r' && line[i] != '\n' && len < sizeof(c->content_type) - 1)
            c->content_type[len++] = line[i++];
        c->content_type[len] = '\0';
    }
    return n;
}

static int httpclient_add_header(struct httpclient *c, const char *line)
{
    struct curl_slist *l = curl_slist_append(c->headers, line);
    if (!l)
        return -ENOMEM;
    c->headers = l;
    return 0;
}

static int httpclient_build_headers(struct httpclient *c, const struct httpclient_opts *opts)
{
    char line[256];
    int r = 0;

    if (opts->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", opts->content_type);
        r = httpclient_add_header(c, line);
    }
    if (r == 0 && opts->accept) {
        snprintf(line, sizeof(line), "Accept: %s", opts->accept);
        r = httpclient_add_header(c, line);
    }
    /* no "Expect: 100-continue" round trip before large bodies */
    if (r == 0)
        r = httpclient_add_header(c, "Expect:");
    for (size_t i = 0; r == 0 && i < opts->n_headers; i++)
        r = httpclient_add_header(c, opts->headers[i]);
    return r;
}

/* The longest bearer token read from a file. */
#define HTTPCLIENT_MAX_TOKEN 16384

int httpclient_read_token(const char *path, char **ret)
{
    char buf[HTTPCLIENT_MAX_TOKEN + 1];
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            close(fd);
            explicit_bzero(buf, len);
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    size_t start = 0;
    while (start < len &&
           (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\r' || buf[start] == '\n'))
        start++;
    while (len > start && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\r' ||
                           buf[len - 1] == '\n'))
        len--;
    int r = len == start ? -ENODATA : len - start >= HTTPCLIENT_MAX_TOKEN ? -EBADMSG : 0;
    for (size_t i = start; r == 0 && i < len; i++)
        if ((unsigned char)buf[i] < 32 || buf[i] == 127)
            r = -EBADMSG;
    if (r == 0) {
        *ret = strndup(buf + start, len - start);
        if (!*ret)
            r = -ENOMEM;
    }
    explicit_bzero(buf, sizeof(buf));
    return r;
}

/* Put "Authorization: Bearer <token>" in the header line of the token. */
static int httpclient_set_bearer(struct httpclient *c, const char *token)
{
    char *line = NULL;
    if (asprintf(&line, "Authorization: Bearer %s", token) < 0)
        return -ENOMEM;
    if (!c->auth_node) {
        int r = httpclient_add_header(c, line);
        explicit_bzero(line, strlen(line));
        free(line);
        if (r < 0)
            return r;
        for (c->auth_node = c->headers; c->auth_node->next;)
            c->auth_node = c->auth_node->next;
        return 0;
    }
    /* libcurl reads the list at every transfer: replace the line in place */
    explicit_bzero(c->auth_node->data, strlen(c->auth_node->data));
    free(c->auth_node->data);
    c->auth_node->data = line;
    return 0;
}

/* bearer_token_file: read it again when it changed since the last read.
 * CURLE_OK, or CURLE_READ_ERROR with the reason in c->errbuf. */
static CURLcode httpclient_refresh_token(struct httpclient *c)
{
    struct stat st;
    char *token = NULL;
    int r;

    if (stat(c->bearer_file, &st) < 0) {
        r = -errno;
        goto fail;
    }
    struct httpclient_file_id id = {
        .dev = (uint64_t)st.st_dev,
        .ino = (uint64_t)st.st_ino,
        .size = (uint64_t)st.st_size,
        .mtime_ns = (int64_t)st.st_mtim.tv_sec * HTTPCLIENT_NSEC_PER_SEC + st.st_mtim.tv_nsec,
    };
    if (c->auth_node && memcmp(&id, &c->bearer_id, sizeof(id)) == 0)
        return CURLE_OK;
    r = httpclient_read_token(c->bearer_file, &token);
    if (r == 0) {
        r = httpclient_set_bearer(c, token);
        explicit_bzero(token, strlen(token));
        free(token);
    }
    if (r < 0)
        goto fail;
    c->bearer_id = id;
    return CURLE_OK;

fail:
    snprintf(c->errbuf, sizeof(c->errbuf), "cannot read the bearer token from '%s': %s",
             c->bearer_file,
             r == -ENODATA   ? "the file is empty"
             : r == -EBADMSG ? "expected the token alone on one line"
                             : strerror(-r));
    return r == -ENOMEM ? CURLE_OUT_OF_MEMORY : CURLE_READ_ERROR;
}

static long httpclient_ms(int64_t ns)
{
    int64_t ms = (ns + HTTPCLIENT_NSEC_PER_MSEC - 1) / HTTPCLIENT_NSEC_PER_MSEC;
    return ms > 0 && ms < (int64_t)LONG_MAX ? (long)ms : 0;
}

/* A URL that libcurl can use, http or https: checked once here, so that a
 * transfer error can only come from the network or the server. */
static CURLcode httpclient_check_url(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    CURLcode e = CURLE_OK;

    if (!u)
        return CURLE_OUT_OF_MEMORY;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc == CURLUE_OUT_OF_MEMORY)
        e = CURLE_OUT_OF_MEMORY;
    else if (uc == CURLUE_UNSUPPORTED_SCHEME)
        e = CURLE_UNSUPPORTED_PROTOCOL;
    else if (uc != CURLUE_OK)
        e = CURLE_URL_MALFORMAT;
    else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        e = CURLE_UNSUPPORTED_PROTOCOL;
    curl_free(scheme);
    curl_url_cleanup(u);
    return e;
}

int httpclient_init(struct httpclient *c, const struct httpclient_opts *opts)
{
    CURLcode e = CURLE_OK;
    int r;

    *c = (struct httpclient){0};
    c->max_response = opts->max_response;
    c->request_timeout = opts->request_timeout > 0 ? opts->request_timeout : 0;
    c->max_request_timeout = opts->request_timeout > HTTPCLIENT_MAX_REQUEST_TIMEOUT
                                 ? opts->request_timeout
                                 : HTTPCLIENT_MAX_REQUEST_TIMEOUT;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -ENOMEM;
    c->global_ref = true;
    c->curl = curl_easy_init();
    c->url = strdup(opts->url);
    r = c->curl && c->url ? httpclient_build_headers(c, opts) : -ENOMEM;
    for (size_t k = 0; r == 0 && opts->capture && opts->capture[k]; k++) {
        if (k == HTTPCLIENT_MAX_CAPTURE)
            r = -EINVAL;
        else if (!(c->capture_names[k] = strdup(opts->capture[k])))
            r = -ENOMEM;
    }
    if (r == 0 && opts->bearer_token)
        r = httpclient_set_bearer(c, opts->bearer_token);
    if (r == 0 && opts->bearer_token_file && !(c->bearer_file = strdup(opts->bearer_token_file)))
        r = -ENOMEM;
    if (r < 0)
        goto err_done;
    e = httpclient_check_url(c->url);

#define HTTPCLIENT_SETOPT(opt, val)                                                                \
    do {                                                                                           \
        if (e == CURLE_OK)                                                                         \
            e = curl_easy_setopt(c->curl, (opt), (val));                                           \
    } while (0)
    HTTPCLIENT_SETOPT(CURLOPT_URL, c->url);
    HTTPCLIENT_SETOPT(CURLOPT_POST, 1L);
    HTTPCLIENT_SETOPT(CURLOPT_HTTPHEADER, c->headers);
    HTTPCLIENT_SETOPT(CURLOPT_USERAGENT, opts->user_agent);
    HTTPCLIENT_SETOPT(CURLOPT_NOSIGNAL, 1L);
    HTTPCLIENT_SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    HTTPCLIENT_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, httpclient_ms(opts->connect_timeout));
    HTTPCLIENT_SETOPT(CURLOPT_TIMEOUT_MS, httpclient_ms(opts->request_timeout));
    HTTPCLIENT_SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    HTTPCLIENT_SETOPT(CURLOPT_WRITEFUNCTION, httpclient_on_body);
    HTTPCLIENT_SETOPT(CURLOPT_WRITEDATA, c);
    HTTPCLIENT_SETOPT(CURLOPT_HEADERFUNCTION, httpclient_on_header);
    HTTPCLIENT_SETOPT(CURLOPT_HEADERDATA, c);
    if (opts->http2) {
        HTTPCLIENT_SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        /* libcurl 7.88 (Debian 12) fails the next request on an HTTP/2
         * connection that carried a response with trailers (gRPC's) with
         * "Error in the HTTP2 framing layer": one connection per request */
        HTTPCLIENT_SETOPT(CURLOPT_FORBID_REUSE, 1L);
    }
    if (opts->insecure) {
        HTTPCLIENT_SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
        HTTPCLIENT_SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (opts->username && *opts->username) {
        HTTPCLIENT_SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        HTTPCLIENT_SETOPT(CURLOPT_USERNAME, opts->username);
        HTTPCLIENT_SETOPT(CURLOPT_PASSWORD, opts->password ? opts->password : "");
    }
    if (opts->tls_ca)
        HTTPCLIENT_SETOPT(CURLOPT_CAINFO, opts->tls_ca);
    if (opts->tls_client_cert)
        HTTPCLIENT_SETOPT(CURLOPT_SSLCERT, opts->tls_client_cert);
    if (opts->tls_client_key)
        HTTPCLIENT_SETOPT(CURLOPT_SSLKEY, opts->tls_client_key);
    if (opts->tls_insecure) {
        HTTPCLIENT_SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
        HTTPCLIENT_SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
    }
#undef HTTPCLIENT_SETOPT
    if (e != CURLE_OK) {
        r = e == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
        goto err_done;
    }
    return 0;

err_done:
    httpclient_done(c);
    c->setopt_error = e;
    return r;
}

void httpclient_done(struct httpclient *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->url);
    free(c->response);
    for (size_t k = 0; k < HTTPCLIENT_MAX_CAPTURE; k++)
        free(c->capture_names[k]);
    free(c->bearer_file);
    if (c->global_ref)
        curl_global_cleanup();
    *c = (struct httpclient){0};
}

/* A request that timed out after it was sent may have reached the server,
 * which will get it again (at least once): double the time limit, so that a
 * slow server does not get every request twice. */
static void httpclient_raise_timeout(struct httpclient *c)
{
    long sent = 0;

    if (c->request_timeout <= 0 || c->request_timeout >= c->max_request_timeout)
        return;
    if (curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK || sent <= 0)
        return; /* not connected: the server has nothing */
    int64_t t = c->request_timeout > c->max_request_timeout / 2 ? c->max_request_timeout
                                                                : 2 * c->request_timeout;
    if (curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, httpclient_ms(t)) != CURLE_OK)
        return;
    c->raised_from = c->request_timeout;
    c->raised_timeout = t;
    c->request_timeout = t;
}

CURLcode httpclient_request(struct httpclient *c, const char *method, const char *url,
                            const void *body, size_t len, long *ret_status)
{
    bool get = strcmp(method, "GET") == 0;
    long status = 0;
    CURLcode res;

    c->response_len = 0;
    if (c->response)
        c->response[0] = '\0';
    c->content_type[0] = '\0';
    c->errbuf[0] = '\0';
    memset(c->has_captured, 0, sizeof(c->has_captured));
    c->raised_timeout = 0;
    res = c->bearer_file ? httpclient_refresh_token(c) : CURLE_OK;
    if (res == CURLE_OK)
        res = curl_easy_setopt(c->curl, CURLOPT_URL, url ? url : c->url);
    if (res == CURLE_OK && get)
        res = curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    if (res == CURLE_OK && !get)
        res = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (res == CURLE_OK && !get)
        res = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, len && body ? body : "");
    /* POST with another verb (PUT): the body is sent the same way */
    if (res == CURLE_OK)
        res = curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
                               get || strcmp(method, "POST") == 0 ? NULL : method);
    if (res == CURLE_OK)
        res = curl_easy_perform(c->curl);
    if (res == CURLE_OK)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (res == CURLE_OPERATION_TIMEDOUT)
        httpclient_raise_timeout(c);
    *ret_status = status;
    c->last_res = res;
    return res;
}

CURLcode httpclient_post(struct httpclient *c, const void *body, size_t len, long *ret_status)
{
    return httpclient_request(c, "POST", NULL, body, len, ret_status);
}

int httpclient_classify(CURLcode res, long status)
{
    switch (res) {
    case CURLE_OK:
        return status >= 200 && status < 300 ? 0 : HTTPCLIENT_ANSWERED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return -EINVAL;
    default:
        /* refused, reset, timed out, DNS, TLS handshake, a reply that is not
         * HTTP (CURLE_UNSUPPORTED_PROTOCOL "Received HTTP/0.9", since the URL's
         * scheme was checked by httpclient_init), ...: may pass */
        return -EAGAIN;
    }
}

const char *httpclient_strerror(const struct httpclient *c, CURLcode res)
{
    return c->errbuf[0] ? c->errbuf : curl_easy_strerror(res);
}

const char *httpclient_captured(const struct httpclient *c, size_t i)
{
    return i < HTTPCLIENT_MAX_CAPTURE && c->has_captured[i] ? c->captured[i] : NULL;
}
