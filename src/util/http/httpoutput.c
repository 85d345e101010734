/* SPDX-License-Identifier: MIT */
#include "httpoutput.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

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
