/* SPDX-License-Identifier: MIT */
#include "httpoutput.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTPOUTPUT_COMPLAINT_PERIOD (60 * ALUMET_NSEC_PER_SEC)

int httpoutput_get_limits(struct alumet_config *t, alumet_time_ns *ret_connect_timeout,
                          alumet_time_ns *ret_request_timeout, int64_t *ret_max_points,
                          struct alumet_error *err)
{
    int r = alumet_config_get_duration(t, "connect_timeout", 5 * ALUMET_NSEC_PER_SEC,
                                       ret_connect_timeout, err);
    if (r == 0)
        r = alumet_config_get_duration(t, "request_timeout", 30 * ALUMET_NSEC_PER_SEC,
                                       ret_request_timeout, err);
    if (r == 0)
        r = alumet_config_get_int(t, "max_buffered_points", 1000000, ret_max_points, err);
    return r;
}

int httpoutput_check_limits(struct alumet_config *t, alumet_time_ns connect_timeout,
                            alumet_time_ns request_timeout, int64_t max_points,
                            struct alumet_error *err)
{
    int r = 0;
    if (connect_timeout <= 0)
        r = alumet_config_error(t, "connect_timeout", err, -EINVAL,
                                "expected a duration longer than 0");
    if (request_timeout <= 0)
        r = alumet_config_error(t, "request_timeout", err, -EINVAL,
                                "expected a duration longer than 0");
    if (max_points < 0)
        r = alumet_config_error(t, "max_buffered_points", err, -EINVAL,
                                "expected a number of points (0 or more), got %lld",
                                (long long)max_points);
    return r;
}

int httpoutput_check_url(struct alumet_config *t, const char *key, const char *url,
                         const char *example, struct alumet_error *err)
{
    const char *p = NULL;
    if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    if (!p)
        return alumet_config_error(t, key, err, -EINVAL,
                                   "expected a URL that starts with http:// or https://, such as "
                                   "\"%s\", got '%s'",
                                   example, url);
    size_t auth_len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth_len);
    if (at) {
        auth_len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *host_end;
    if (*p == '[') {
        host_end = memchr(p, ']', auth_len);
        if (!host_end)
            return alumet_config_error(t, key, err, -EINVAL,
                                       "unclosed '[' in the host of '%s': write an IPv6 address "
                                       "as [::1], such as \"%s\"",
                                       url, example);
        host_end++;
    } else {
        host_end = p + strcspn(p, ":/?#");
    }
    if (host_end == p || (*p == '[' && host_end == p + 2))
        return alumet_config_error(t, key, err, -EINVAL,
                                   "no host in the URL '%s': write the server's name or address, "
                                   "such as \"%s\"",
                                   url, example);
    if ((size_t)(host_end - p) < auth_len && *host_end != ':')
        return alumet_config_error(t, key, err, -EINVAL,
                                   "unexpected '%c' after the host in the URL '%s', such as \"%s\"",
                                   *host_end, url, example);
    if (*host_end == ':' && (size_t)(host_end - p) < auth_len) {
        const char *port = host_end + 1;
        size_t port_len = auth_len - (size_t)(port - p);
        unsigned long n = 0;
        bool ok = port_len > 0 && port_len <= 5;
        for (size_t i = 0; ok && i < port_len; i++) {
            ok = port[i] >= '0' && port[i] <= '9';
            n = n * 10 + (unsigned long)(port[i] - '0');
        }
        if (!ok || n < 1 || n > 65535)
            return alumet_config_error(t, key, err, -EINVAL,
                                       "invalid port '%.*s' in the URL '%s': expected a number "
                                       "between 1 and 65535, such as \"%s\"",
                                       (int)port_len, port, url, example);
    }
    return 0;
}

void httpoutput_complain(struct alumet_log_topic *log, struct httpoutput_complaint *c, uint64_t n,
                         const char *what, const char *verdict, const char *why)
{
    alumet_time_ns now = alumet_time_monotonic();

    c->total += n;
    c->unreported += n;
    if (c->last != 0 && now - c->last < HTTPOUTPUT_COMPLAINT_PERIOD)
        return;
    if (c->last == 0)
        alumet_log_at(log, ALUMET_LOG_ERROR, "%llu points %s%s: %s",
                      (unsigned long long)c->unreported, what, verdict, why);
    else
        alumet_log_at(log, ALUMET_LOG_ERROR,
                      "%llu more points %s in the last minute (%llu in total)%s; last reason: %s",
                      (unsigned long long)c->unreported, what, (unsigned long long)c->total,
                      verdict, why);
    c->last = now;
    c->unreported = 0;
}

void httpoutput_warn_unreachable(struct alumet_log_topic *log, const char *why, const char *server,
                                 uint64_t max_points)
{
    if (max_points > 0)
        alumet_log_at(log, ALUMET_LOG_WARN,
                      "%s; starting anyway: the measurements are kept (up to %llu points) and "
                      "sent when %s is back",
                      why, (unsigned long long)max_points, server);
    else
        alumet_log_at(log, ALUMET_LOG_WARN,
                      "%s; starting anyway: measurements are dropped until %s is back "
                      "(max_buffered_points = 0)",
                      why, server);
}

void httpoutput_warn_timeout(struct alumet_log_topic *log, const struct httpclient *c,
                             const char *server, const char *copy)
{
    if (!c->raised_timeout)
        return;
    alumet_log_at(log, ALUMET_LOG_WARN,
                  "a request to %s timed out after %lld ms, once sent: %s may have received it, "
                  "and it will be sent again (%s); the time limit of a request (request_timeout) "
                  "is raised to %lld ms",
                  server, (long long)(c->raised_from / ALUMET_NSEC_PER_MSEC), server, copy,
                  (long long)(c->raised_timeout / ALUMET_NSEC_PER_MSEC));
}

/* Copy the string option key (absent or "": NULL). */
static int httpoutput_get_opt(struct alumet_config *t, const char *key, char **ret,
                              struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(t, key, NULL, &v, err);
    *ret = NULL;
    if (r < 0 || !v || !*v)
        return r;
    *ret = strdup(v);
    return *ret ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
}

/* The file of option key must be readable by the agent. */
static int httpoutput_check_file(struct alumet_config *t, const char *key, const char *path,
                                 struct alumet_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    int r = -errno;
    return alumet_config_error(t, key, err, -EINVAL,
                               "cannot read '%s': %s; expected a PEM file that the agent's user "
                               "can read",
                               path, strerror(-r));
}

static bool httpoutput_is_https(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0;
}

int httpoutput_get_security(struct alumet_config *t, const char *url_key, const char *url,
                            struct httpoutput_security *s, struct alumet_error *err)
{
    *s = (struct httpoutput_security){0};
    int r = httpoutput_get_opt(t, "tls_ca", &s->tls_ca, err);
    if (r == 0)
        r = httpoutput_get_opt(t, "tls_client_cert", &s->tls_client_cert, err);
    if (r == 0)
        r = httpoutput_get_opt(t, "tls_client_key", &s->tls_client_key, err);
    if (r == 0)
        r = alumet_config_get_bool(t, "tls_insecure", false, &s->tls_insecure, err);
    if (r == 0)
        r = httpoutput_get_opt(t, "bearer_token", &s->bearer_token, err);
    if (r == 0)
        r = httpoutput_get_opt(t, "bearer_token_file", &s->bearer_token_file, err);
    if (r == 0)
        r = httpoutput_get_opt(t, "username", &s->username, err);
    if (r == 0)
        r = httpoutput_get_opt(t, "password", &s->password, err);
    if (r < 0)
        return r;

    const char *tls_key = s->tls_ca            ? "tls_ca"
                          : s->tls_client_cert ? "tls_client_cert"
                          : s->tls_client_key  ? "tls_client_key"
                          : s->tls_insecure    ? "tls_insecure"
                                               : NULL;
    if (tls_key && !httpoutput_is_https(url))
        return alumet_config_error(t, tls_key, err, -EINVAL,
                                   "TLS options need an https:// URL, but %s is '%s': write "
                                   "https:// in %s, or remove the tls_ options",
                                   url_key, url, url_key);
    if (s->tls_insecure && s->tls_ca)
        return alumet_config_error(t, "tls_insecure", err, -EINVAL,
                                   "tls_insecure = true skips the verification that tls_ca is "
                                   "for: remove tls_insecure (recommended) or tls_ca");
    if (s->tls_client_key && !s->tls_client_cert)
        return alumet_config_error(t, "tls_client_key", err, -EINVAL,
                                   "a client key without its certificate: set tls_client_cert "
                                   "too");
    if (s->tls_ca && (r = httpoutput_check_file(t, "tls_ca", s->tls_ca, err)) < 0)
        return r;
    if (s->tls_client_cert &&
        (r = httpoutput_check_file(t, "tls_client_cert", s->tls_client_cert, err)) < 0)
        return r;
    if (s->tls_client_key &&
        (r = httpoutput_check_file(t, "tls_client_key", s->tls_client_key, err)) < 0)
        return r;

    if (s->bearer_token && s->bearer_token_file)
        return alumet_config_error(t, "bearer_token_file", err, -EINVAL,
                                   "set either bearer_token or bearer_token_file, not both");
    if ((s->bearer_token || s->bearer_token_file) && s->username)
        return alumet_config_error(t, "username", err, -EINVAL,
                                   "set either a bearer token or a username and password "
                                   "(basic authentication), not both");
    if (s->password && !s->username)
        return alumet_config_error(t, "password", err, -EINVAL,
                                   "a password without a username: set username too");
    if (s->bearer_token && strpbrk(s->bearer_token, "\r\n"))
        return alumet_config_error(t, "bearer_token", err, -EINVAL,
                                   "expected a token on one line, got a line break");
    if (s->bearer_token_file) {
        char *token = NULL;
        r = httpclient_read_token(s->bearer_token_file, &token);
        if (token) {
            explicit_bzero(token, strlen(token));
            free(token);
        }
        if (r < 0)
            return alumet_config_error(t, "bearer_token_file", err, -EINVAL,
                                       "cannot read a token from '%s': %s", s->bearer_token_file,
                                       r == -ENODATA   ? "the file is empty; write the token in it"
                                       : r == -EBADMSG ? "expected the token alone on one line"
                                                       : strerror(-r));
    }
    return 0;
}

static char *httpoutput_dup(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

int httpoutput_security_copy(struct httpoutput_security *dst, const struct httpoutput_security *src)
{
    bool oom = false;
    *dst = (struct httpoutput_security){
        .tls_ca = httpoutput_dup(src->tls_ca, &oom),
        .tls_client_cert = httpoutput_dup(src->tls_client_cert, &oom),
        .tls_client_key = httpoutput_dup(src->tls_client_key, &oom),
        .tls_insecure = src->tls_insecure,
        .bearer_token = httpoutput_dup(src->bearer_token, &oom),
        .bearer_token_file = httpoutput_dup(src->bearer_token_file, &oom),
        .username = httpoutput_dup(src->username, &oom),
        .password = httpoutput_dup(src->password, &oom),
    };
    if (oom) {
        httpoutput_security_done(dst);
        return -ENOMEM;
    }
    return 0;
}

static void httpoutput_free_secret(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void httpoutput_security_done(struct httpoutput_security *s)
{
    free(s->tls_ca);
    free(s->tls_client_cert);
    free(s->tls_client_key);
    httpoutput_free_secret(s->bearer_token);
    free(s->bearer_token_file);
    free(s->username);
    httpoutput_free_secret(s->password);
    *s = (struct httpoutput_security){0};
}

void httpoutput_security_apply(const struct httpoutput_security *s, struct httpclient_opts *o)
{
    o->tls_ca = s->tls_ca;
    o->tls_client_cert = s->tls_client_cert;
    o->tls_client_key = s->tls_client_key;
    o->tls_insecure = s->tls_insecure;
    o->bearer_token = s->bearer_token;
    o->bearer_token_file = s->bearer_token_file;
    o->username = s->username;
    o->password = s->password;
}

/* Whether url names this machine (localhost, 127.x.y.z, [::1]): no one
 * else can read what goes there. */
static bool httpoutput_is_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (n >= 5 && strncmp(h, "[::1]", 5) == 0)
        return true;
    size_t host_len = strcspn(h, ":/?#");
    if (host_len > n)
        host_len = n;
    return (host_len == 9 && strncasecmp(h, "localhost", 9) == 0) ||
           (host_len >= 4 && strncmp(h, "127.", 4) == 0);
}

void httpoutput_warn_security(struct alumet_log_topic *log, const struct httpoutput_security *s,
                              const char *url, const char *server)
{
    if (s->tls_insecure)
        alumet_log_at(log, ALUMET_LOG_WARN,
                      "INSECURE: tls_insecure = true, the certificate of %s at '%s' is NOT "
                      "verified: anyone on the network path can pose as %s and read or change "
                      "the measurements and credentials; set tls_ca to the CA that signed the "
                      "server's certificate and remove tls_insecure",
                      server, url, server);
    if (!httpoutput_is_https(url) && !httpoutput_is_loopback(url) &&
        (s->username || s->bearer_token || s->bearer_token_file))
        alumet_log_at(log, ALUMET_LOG_WARN,
                      "the credentials for %s go in clear text over '%s': anyone on the network "
                      "path can read them; use an https:// URL",
                      server, url);
}

const char *httpoutput_tls_advice(CURLcode res, const char *msg)
{
    switch (res) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return "the server's certificate is not trusted (or does not name this host): set "
               "tls_ca to the PEM file of the CA that signed it, and use the name that the "
               "certificate holds in the URL";
    case CURLE_SSL_CACERT_BADFILE:
        return "the file of tls_ca cannot be used: expected PEM certificates";
    case CURLE_SSL_CERTPROBLEM:
        return "the client certificate cannot be used: check tls_client_cert and "
               "tls_client_key (PEM files, the key matching the certificate)";
    case CURLE_READ_ERROR:
        return msg && strstr(msg, "bearer token") ? "check bearer_token_file" : NULL;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (msg && (strstr(msg, "certificate required") || strstr(msg, "handshake failure") ||
                    strstr(msg, "bad certificate") || strstr(msg, "unknown ca")))
            return "the server refused the TLS connection, likely for the client certificate: "
                   "set tls_client_cert and tls_client_key to a certificate that the server "
                   "trusts";
        if (res == CURLE_SSL_CONNECT_ERROR)
            return "the TLS handshake failed: check that the server speaks TLS on this port "
                   "(https://) and the tls_ options";
        return NULL;
    default:
        return NULL;
    }
}

const char *httpoutput_tls_hint(const struct httpoutput_security *s, const char *url, CURLcode res)
{
    if (!httpoutput_is_https(url) || s->tls_client_cert)
        return "";
    switch (res) {
    case CURLE_OK:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_OUT_OF_MEMORY:
        return "";
    default:
        /* connected, then cut: a reset, "getpeername() failed", an HTTP/2
         * stream not closed cleanly... */
        return "; if the server requires a client certificate, set tls_client_cert and "
               "tls_client_key (a TLS 1.3 server refuses a connection without one after the "
               "handshake, which can look like this failure)";
    }
}
