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

/* The TLS and authentication options that every HTTP output takes (see
 * docs/http-outputs.md), owned copies; zeroed: none of them. */
struct httpoutput_security {
    char *tls_ca;            /* tls_ca: PEM file of the CAs to trust */
    char *tls_client_cert;   /* tls_client_cert: PEM file, mutual TLS */
    char *tls_client_key;    /* tls_client_key: its key (NULL: in tls_client_cert) */
    bool tls_insecure;       /* tls_insecure: no verification of the server */
    char *bearer_token;      /* bearer_token */
    char *bearer_token_file; /* bearer_token_file: read again when it changes */
    char *username;          /* username: basic authentication (NULL: none) */
    char *password;          /* password */
};

/* Read and check the options of struct httpoutput_security from t into s
 * (zeroed first), for the URL url, the value of the option url_key: the
 * files must be readable (the bearer token file must hold a token), at most
 * one authentication, TLS options only with an https:// URL, tls_insecure
 * without tls_ca. 0 or a negative errno with err naming the option and what
 * to do; s holds what was read in every case (release it with
 * httpoutput_security_done). */
int httpoutput_get_security(struct alumet_config *t, const char *url_key, const char *url,
                            struct httpoutput_security *s, struct alumet_error *err);

/* Deep copy (dst zeroed first). 0 or -ENOMEM (dst left empty). */
int httpoutput_security_copy(struct httpoutput_security *dst,
                             const struct httpoutput_security *src);

/* Release the strings of s (the secrets wiped) and zero it. */
void httpoutput_security_done(struct httpoutput_security *s);

/* Fill the TLS and authentication fields of o from s (borrowed: s must
 * outlive httpclient_init). */
void httpoutput_security_apply(const struct httpoutput_security *s, struct httpclient_opts *o);

/* At start: warn loudly on log when s skips the verification of the
 * server (tls_insecure), and when credentials go in clear text to an http://
 * url of another machine (loopback is not warned about). server names it ("InfluxDB"). */
void httpoutput_warn_security(struct alumet_log_topic *log, const struct httpoutput_security *s,
                              const char *url, const char *server);

/* What to do about a failed transfer (res, with the client's message msg)
 * that TLS or the bearer token file caused, which waiting will not fix: a
 * sentence naming the option to set ("set tls_ca to ..."); NULL for other
 * failures. The outputs refuse to start on such a failure of their
 * connection check. */
const char *httpoutput_tls_advice(CURLcode res, const char *msg);

/* For a transient failure res of a request to url, over TLS without a
 * client certificate in s: "; if the server requires a client certificate,
 * set tls_client_cert ..." (a TLS 1.3 server refuses one after the
 * handshake, which the client may see as a reset rather than the server's
 * alert). "" otherwise. To append to the message of the failure. */
const char *httpoutput_tls_hint(const struct httpoutput_security *s, const char *url, CURLcode res);

#endif
