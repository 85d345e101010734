/* SPDX-License-Identifier: MIT */
/* What the HTTP output plugins (influxdb, opentelemetry) have in common
 * besides the client (httpclient.h): their time limits and buffering
 * options, the rate-limited report of the points they lose, and the warning
 * given when the server cannot be reached at start.
 *
 * Part of libalumet-http. Unlike libalumet-util, whose code never logs, this
 * file reports to the user: always through the log topic that the plugin
 * passes, with the plugin's own words for what and who. */
#ifndef ALUMET_UTIL_HTTPOUTPUT_H
#define ALUMET_UTIL_HTTPOUTPUT_H

#include <stdint.h>

#include "httpclient.h"

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/time.h"

/* Read connect_timeout ("5s"), request_timeout ("30s") and
 * max_buffered_points (1000000) from t, unchecked: httpoutput_check_limits
 * checks them, after the plugin's own checks. 0 or a negative errno with err. */
int httpoutput_get_limits(struct alumet_config *t, alumet_time_ns *ret_connect_timeout,
                          alumet_time_ns *ret_request_timeout, int64_t *ret_max_points,
                          struct alumet_error *err);

/* Check what httpoutput_get_limits read: durations longer than 0, a number of
 * points of 0 or more. 0 or -EINVAL with err naming the key (the last bad
 * one; `config check` shows each). */
int httpoutput_check_limits(struct alumet_config *t, alumet_time_ns connect_timeout,
                            alumet_time_ns request_timeout, int64_t max_points,
                            struct alumet_error *err);

/* Check the URL of the server (the value of option key of t): the scheme
 * http:// or https://, a host, a port between 1 and 65535 when one is
 * written. 0, or -EINVAL with err naming the option and showing example
 * ("http://localhost:8086"). Nothing is resolved or connected. The outputs
 * call it under `config check` (alumet_config_checking); a run finds the
 * same problems when it creates the client, at start. */
int httpoutput_check_url(struct alumet_config *t, const char *key, const char *url,
                         const char *example, struct alumet_error *err);

/* Points that an output lost by itself, reported with a rate limit: one
 * line at once, then at most a summary a minute. Zero it to start. */
struct httpoutput_complaint {
    alumet_time_ns last; /* monotonic time of the last report, 0: never */
    uint64_t unreported; /* points since the last report */
    uint64_t total;
};

/* Count n points in c and report them at the error level of log, at once
 * the first time, then at most once a minute:
 *   "<n> points <what><verdict>: <why>"
 *   "<n> more points <what> in the last minute (<total> in total)<verdict>;
 *    last reason: <why>"
 * verdict is what became of them (", dropping them") or "". The strings are
 * borrowed. */
void httpoutput_complain(struct alumet_log_topic *log, struct httpoutput_complaint *c, uint64_t n,
                         const char *what, const char *verdict, const char *why);

/* Warn on log that the output starts although server ("InfluxDB", "the
 * collector") cannot be reached now, for why (the error of the connection
 * check), and what becomes of the measurements meanwhile (kept, up to
 * max_points, or dropped when it is 0). */
void httpoutput_warn_unreachable(struct alumet_log_topic *log, const char *why, const char *server,
                                 uint64_t max_points);

/* After a POST of c: when it timed out once sent and c raised its time limit
 * (httpclient.h), warn on log that the server (its name: "InfluxDB") may have
 * received it, that it will be sent again, what a copy means to that server
 * (copy: "InfluxDB overwrites identical points"), and the new limit. */
void httpoutput_warn_timeout(struct alumet_log_topic *log, const struct httpclient *c,
                             const char *server, const char *copy);

#endif
