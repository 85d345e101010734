/* SPDX-License-Identifier: MIT */
/* The HTTP endpoint of prometheus-exporter (libmicrohttpd, one internal
 * thread): GET /metrics renders the table in the format the scraper asks for.
 * The socket is bound by prometheus_http_start(), so that a port in use
 * fails the agent's startup with the address and the reason, instead of
 * upstream's silent death of the server thread. With web_config_file, the
 * endpoint speaks TLS (GnuTLS through libmicrohttpd), checks the client
 * certificates and asks for basic authentication
 * (prometheus-exporter-webconfig.c), with the version of the file current
 * when the connection opened (its TLS handshake) or when the request came
 * (users, headers): see prometheus-exporter-reload.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prometheus-exporter.h"

#define PROMETHEUS_HTTP_BACKLOG 64
#define PROMETHEUS_HTTP_MAX_CONNECTIONS 64u
#define PROMETHEUS_HTTP_TIMEOUT_S 30u

#define PROMETHEUS_HTTP_REALM "alumet"

struct prometheus_http {
    struct MHD_Daemon *daemon;
    struct prometheus_table *table; /* one reference */
    struct alumet_log_topic *topic;
    uint16_t port;
    bool web; /* web_config_file is set: watch holds it */
    bool tls;
    struct prometheus_webwatch watch;
};

/* ---- content negotiation ---- */

const char *prometheus_content_type(enum prometheus_format f)
{
    return f == PROMETHEUS_FORMAT_OPENMETRICS
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

static bool prometheus_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* q value of a parameter text "0.5", "1", "1.000"; -1 when malformed. */
static double prometheus_parse_q(const char *s, size_t len)
{
    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    double q = s[0] - '0', scale = 0.1;
    size_t i = 1;
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            q += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    return i == len && q <= 1 ? q : -1;
}

/* Whether the text [s, s+len) equals word, ignoring ASCII case. */
static bool prometheus_word_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* One media range "type/subtype;param=x;q=0.5" of an Accept header: its
 * type in [*ret_type, +*ret_len) and its q value (1 when absent). */
static double prometheus_media_range(const char *s, size_t len, const char **ret_type,
                                     size_t *ret_len)
{
    double q = 1;
    const char *end = s + len;
    const char *semi = memchr(s, ';', len);
    const char *type_end = semi ? semi : end;

    while (s < type_end && prometheus_is_space(*s))
        s++;
    while (type_end > s && prometheus_is_space(type_end[-1]))
        type_end--;
    *ret_type = s;
    *ret_len = (size_t)(type_end - s);
    while (semi) {
        const char *p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        const char *pend = semi ? semi : end;
        while (p < pend && prometheus_is_space(*p))
            p++;
        while (pend > p && prometheus_is_space(pend[-1]))
            pend--;
        if (pend - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
            q = prometheus_parse_q(p + 2, (size_t)(pend - p - 2));
    }
    return q;
}

enum prometheus_format prometheus_negotiate(const char *accept)
{
    /* -1: the range is absent */
    double q_openmetrics = -1, q_text = -1, q_any = -1;

    const char *s = accept ? accept : "";
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *type;
        size_t type_len;
        double q = prometheus_media_range(s, len, &type, &type_len);
        double *slot = NULL;
        if (prometheus_word_is(type, type_len, "application/openmetrics-text"))
            slot = &q_openmetrics;
        else if (prometheus_word_is(type, type_len, "text/plain") ||
                 prometheus_word_is(type, type_len, "text/*"))
            slot = &q_text;
        else if (prometheus_word_is(type, type_len, "*/*"))
            slot = &q_any;
        /* a malformed q counts as 0 (not acceptable) */
        if (slot && (q < 0 ? 0 : q) > *slot)
            *slot = q < 0 ? 0 : q;
        s += len;
        if (*s == ',')
            s++;
    }
    /* OpenMetrics unless the scraper asks for text: text/plain preferred
     * to every range OpenMetrics matches, or OpenMetrics refused (q=0) */
    if (q_openmetrics == 0)
        return PROMETHEUS_FORMAT_TEXT;
    double q_om = q_openmetrics > 0 ? q_openmetrics : q_any;
    if (q_text > 0 && q_text > q_om)
        return PROMETHEUS_FORMAT_TEXT;
    return PROMETHEUS_FORMAT_OPENMETRICS;
}

/* ---- address ---- */

int prometheus_parse_address(const char *host, uint16_t port, struct sockaddr_storage *ret_addr,
                             socklen_t *ret_len)
{
    size_t len = strlen(host);

    memset(ret_addr, 0, sizeof(*ret_addr));
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        char inner[INET6_ADDRSTRLEN + 1];
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret_addr;
        if (len - 2 >= sizeof(inner))
            return -EINVAL;
        memcpy(inner, host + 1, len - 2);
        inner[len - 2] = '\0';
        if (inet_pton(AF_INET6, inner, &a6->sin6_addr) != 1)
            return -EINVAL;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *ret_len = sizeof(*a6);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ret_addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -EINVAL;
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *ret_len = sizeof(*a4);
    return 0;
}

/* What to do about a bind error. */
static const char *prometheus_bind_advice(int r)
{
    switch (r) {
    case -EADDRINUSE:
        return "; another program listens on this port: stop it or change the option 'port' "
               "of [plugins.prometheus-exporter]";
    case -EACCES:
        return "; ports below 1024 need root or the capability CAP_NET_BIND_SERVICE: "
               "use a higher 'port'";
    case -EADDRNOTAVAIL:
        return "; this machine has no such address: change the option 'host' "
               "(\"0.0.0.0\" listens on every address)";
    default:
        return "";
    }
}

/* ---- requests ---- */

/* The headers of http_server_config (wc: NULL, none), on every response. */
static void prometheus_http_add_headers(const struct prometheus_webconfig *wc,
                                        struct MHD_Response *resp)
{
    for (size_t i = 0; wc && i < wc->n_headers; i++)
        MHD_add_response_header(resp, wc->headers[2 * i], wc->headers[2 * i + 1]);
}

/* status with a short text body; 401 asks for basic authentication. */
static enum MHD_Result prometheus_http_reply_static(const struct prometheus_webconfig *wc,
                                                    struct MHD_Connection *c, unsigned status,
                                                    const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    prometheus_http_add_headers(wc, resp);
    enum MHD_Result ret = status == MHD_HTTP_UNAUTHORIZED
                              ? MHD_queue_basic_auth_fail_response(c, PROMETHEUS_HTTP_REALM, resp)
                              : MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* client_auth_type of the version the connection's handshake used (its
 * socket context): NULL when the client's certificate is acceptable, else
 * why not. */
static const char *prometheus_http_check_client(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *sc =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const struct prometheus_webstate *conn = sc ? sc->socket_context : NULL;
    const struct prometheus_webconfig *wc = conn ? prometheus_webstate_config(conn) : NULL;
    if (!wc || wc->client_auth == PROMETHEUS_CLIENT_AUTH_NONE)
        return NULL;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return "no TLS session";
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0)
        return wc->client_auth == PROMETHEUS_CLIENT_AUTH_REQUIRE_AND_VERIFY
                   ? "no client certificate"
                   : NULL;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0)
        return "a client certificate that client_ca_file did not sign, or expired";
    return NULL;
}

/* basic_auth_users of s (NULL: none): whether the request carries the
 * credentials of one. */
static bool prometheus_http_check_user(struct prometheus_http *h, struct prometheus_webstate *s,
                                       struct MHD_Connection *c)
{
    const struct prometheus_webconfig *wc = s ? prometheus_webstate_config(s) : NULL;
    if (!wc || wc->n_users == 0)
        return true;
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &password);
    bool ok = user && password &&
              prometheus_webconfig_check(prometheus_webstate_cache(s), wc, user, password);
    if (!ok && user)
        alumet_log_at(h->topic, ALUMET_LOG_DEBUG, "refused a request of user '%s': wrong password",
                      user);
    if (password) {
        explicit_bzero(password, strlen(password));
        MHD_free(password);
    }
    if (user)
        MHD_free(user);
    return ok;
}

static enum MHD_Result prometheus_http_answer(struct prometheus_http *h,
                                              struct prometheus_webstate *s,
                                              struct MHD_Connection *c, const char *url);

static enum MHD_Result prometheus_http_handle(void *cls, struct MHD_Connection *c, const char *url,
                                              const char *method, const char *version,
                                              const char *upload_data, size_t *upload_data_size,
                                              void **req_cls)
{
    struct prometheus_http *h = cls;
    (void)method;
    (void)version;
    (void)upload_data;

    if (!*req_cls) {
        /* first call: headers only; answer once the body (if any) is read */
        *req_cls = h;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a request body is ignored */
        return MHD_YES;
    }
    /* the users and headers of the file as it is now */
    struct prometheus_webstate *s = h->web ? prometheus_webwatch_current(&h->watch) : NULL;
    enum MHD_Result ret = prometheus_http_answer(h, s, c, url);
    prometheus_webstate_unref(s);
    return ret;
}

static enum MHD_Result prometheus_http_answer(struct prometheus_http *h,
                                              struct prometheus_webstate *s,
                                              struct MHD_Connection *c, const char *url)
{
    const struct prometheus_webconfig *wc = s ? prometheus_webstate_config(s) : NULL;
    const char *refused = prometheus_http_check_client(c);
    if (refused) {
        alumet_log_at(h->topic, ALUMET_LOG_DEBUG, "refused a request: %s", refused);
        return prometheus_http_reply_static(wc, c, MHD_HTTP_FORBIDDEN,
                                            "Forbidden: a valid client certificate is required");
    }
    if (!prometheus_http_check_user(h, s, c))
        return prometheus_http_reply_static(wc, c, MHD_HTTP_UNAUTHORIZED, "Unauthorized");
    if (strcmp(url, "/metrics") != 0)
        return prometheus_http_reply_static(wc, c, MHD_HTTP_NOT_FOUND, "Not Found");

    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    enum prometheus_format fmt = prometheus_negotiate(accept);
    char *text = NULL;
    size_t len = 0;
    if (prometheus_table_render(h->table, fmt, alumet_time_monotonic(), &text, &len) < 0) {
        alumet_log_at(h->topic, ALUMET_LOG_ERROR, "out of memory while rendering the metrics");
        return prometheus_http_reply_static(wc, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                            "Internal Server Error");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, text, free);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, prometheus_content_type(fmt));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT);
    prometheus_http_add_headers(wc, resp);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A new connection takes the current version of the web configuration
 * (reloaded first if its files changed): its TLS handshake uses that
 * certificate, and the version stays alive until the connection closes. */
static void prometheus_http_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                                   enum MHD_ConnectionNotificationCode toe)
{
    struct prometheus_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        prometheus_webstate_unref(*socket_context);
        *socket_context = NULL;
        return;
    }
    struct prometheus_webstate *s = prometheus_webwatch_current(&h->watch);
    *socket_context = s;
    const union MHD_ConnectionInfo *ci =
        h->tls ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION) : NULL;
    if (ci && ci->tls_session)
        prometheus_webstate_apply(s, ci->tls_session);
}

static void prometheus_http_log(void *cls, const char *fmt, va_list ap)
{
    struct prometheus_http *h = cls;
    if (alumet_log_enabled(h->topic, ALUMET_LOG_DEBUG))
        alumet_log_writev(h->topic, ALUMET_LOG_DEBUG, fmt, ap);
}

/* ---- server ---- */

/* Drop what web holds (its reference and files). */
static void prometheus_http_web_drop(struct prometheus_http_web *web)
{
    if (!web)
        return;
    prometheus_webstate_unref(web->state);
    web->state = NULL;
    if (web->files)
        prometheus_webfiles_done(web->files);
}

int prometheus_http_start(const char *host, uint16_t port, struct prometheus_table *t,
                          struct prometheus_http_web *web, struct alumet_log_topic *topic,
                          struct prometheus_http **ret, struct alumet_error *err)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char shown[128];
    int r;

    snprintf(shown, sizeof(shown), "%s:%u", host, (unsigned)port);
    if (prometheus_parse_address(host, port, &addr, &addr_len) < 0) {
        prometheus_http_web_drop(web);
        return alumet_error_set(err, -EINVAL, "invalid host:port configuration '%s'", shown);
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        prometheus_http_web_drop(web);
        return alumet_error_set(err, r, "failed to create a socket for '%s': %s", shown,
                                strerror(-r));
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0 ||
        listen(fd, PROMETHEUS_HTTP_BACKLOG) < 0) {
        r = -errno;
        alumet_error_set(err, r, "failed to bind the metrics endpoint to '%s': %s%s", shown,
                         strerror(-r), prometheus_bind_advice(r));
        goto err_close;
    }
    addr_len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0) {
        r = -errno;
        alumet_error_set(err, r, "failed to read the address of '%s': %s", shown, strerror(-r));
        goto err_close;
    }

    struct prometheus_http *h = calloc(1, sizeof(*h));
    if (!h) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_close;
    }
    h->topic = topic;
    h->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                               : ((struct sockaddr_in *)&addr)->sin_port);
    h->table = prometheus_table_ref(t);
    const struct prometheus_webconfig *wc = NULL;
    h->web = web && web->state;
    if (h->web) {
        wc = prometheus_webstate_config(web->state);
        prometheus_webwatch_init(&h->watch, web->path, web->state, web->files, topic);
        web->state = NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    bool tls = wc && wc->cert;
    /* the daemon's certificate and versions are the first ones: every
     * connection gets those of the current version (prometheus_http_notify) */
    struct MHD_OptionItem web_opts[] = {
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)prometheus_http_notify, h},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls ? wc->cert : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls ? wc->key : NULL},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, tls ? wc->priorities : NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    h->tls = tls;
    if (tls)
        flags |= MHD_USE_TLS;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, prometheus_http_handle, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_EXTERNAL_LOGGER, prometheus_http_log, h, MHD_OPTION_CONNECTION_LIMIT,
        PROMETHEUS_HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, PROMETHEUS_HTTP_TIMEOUT_S,
        h->web ? MHD_OPTION_ARRAY : MHD_OPTION_END, web_opts, MHD_OPTION_END);
    if (!h->daemon) {
        prometheus_table_unref(h->table);
        if (h->web)
            prometheus_webwatch_done(&h->watch);
        free(h);
        r = alumet_error_set(err, -EIO, "failed to start the %s server on '%s'%s",
                             tls ? "HTTPS" : "HTTP", shown,
                             tls ? ": check the certificate and key of web_config_file (a PEM "
                                   "certificate and its matching private key, unencrypted)"
                                 : "");
        goto err_close;
    }
    *ret = h;
    return 0;

err_close:
    close(fd);
    prometheus_http_web_drop(web);
    return r;
}

uint16_t prometheus_http_port(const struct prometheus_http *h)
{
    return h->port;
}

void prometheus_http_stop(struct prometheus_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon); /* joins the thread and closes the socket */
    prometheus_table_unref(h->table);
    if (h->web)
        prometheus_webwatch_done(&h->watch);
    free(h);
}
