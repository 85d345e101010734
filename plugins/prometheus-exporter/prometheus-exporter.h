/* SPDX-License-Identifier: MIT */
/* prometheus-exporter: the table of the latest value of every series (filled
 * by the output thread, read by the HTTP thread), its text exposition in the
 * OpenMetrics 1.0 and Prometheus 0.0.4 formats, and the HTTP endpoint.
 * See README.md for the format and its differences with upstream. */
#ifndef ALUMET_PLUGIN_PROMETHEUS_EXPORTER_H
#define ALUMET_PLUGIN_PROMETHEUS_EXPORTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "alumet/time.h"
#include "util/prom-names.h"
#include "util/text.h"

/* ---- the table (prometheus-exporter-table.c) ---- */

/* How the unit goes into the exported name. */
enum prometheus_unit_name {
    PROMETHEUS_UNIT_WORD,    /* name_suffix_<unit word> ("joules"): upstream, the default */
    PROMETHEUS_UNIT_DISPLAY, /* name_<display name>_suffix ("J"): use_unit_display_name = true */
    PROMETHEUS_UNIT_UNIQUE,  /* name_<unique name>_suffix ("J"): use_unit_display_name = false */
    PROMETHEUS_UNIT_NONE,    /* name_suffix: append_unit_to_metric_name = false */
};

struct prometheus_table_opts {
    const char *prefix;            /* before every metric name (copied) */
    const char *suffix;            /* after every metric name, before the unit (copied) */
    bool add_attributes_to_labels; /* attributes become labels */
    enum prometheus_unit_name unit_name;
    alumet_time_ns series_expiry; /* forget a series not updated for this long; 0 = never */
    /* names of the metrics whose values are per-interval deltas, besides the
     * energy metrics (joules, watt-hours): copied */
    const char *const *counter_metrics;
    size_t n_counter_metrics;
    /* where to warn that points were summed onto one series (borrowed,
     * outlives the table); NULL: no message */
    struct alumet_log_topic *topic;
};

/* Stale delta gauges: the gauge of a delta metric is no longer exported once
 * its series has not been written for this many times its update interval
 * (its counter stays until the series expires). */
#define PROMETHEUS_DELTA_STALE_INTERVALS 2

enum prometheus_format {
    PROMETHEUS_FORMAT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
    PROMETHEUS_FORMAT_TEXT,        /* text/plain; version=0.0.4 */
};

struct prometheus_table;

/* New empty table with one reference. opts is copied. NULL on -ENOMEM. */
struct prometheus_table *prometheus_table_new(const struct prometheus_table_opts *opts);

/* Take one more reference (the output and the HTTP server share the table).
 * Thread-safe. Returns t. */
struct prometheus_table *prometheus_table_ref(struct prometheus_table *t);

/* Drop a reference; the last one frees the table. NULL-safe, thread-safe. */
void prometheus_table_unref(struct prometheus_table *t);

/* Set the latest value of the series of every point of buf (metrics looked up
 * in reg, borrowed), and add it to the counter of the series when its metric
 * is a delta (an energy or one of counter_metrics). Points of one series with
 * the same timestamp (attributes dropped by add_attributes_to_labels = false)
 * are summed. now is a monotonic time (alumet_time_monotonic() in the plugin,
 * any clock in tests): it dates the updates, and series older than the expiry
 * are removed. Thread-safe (locks the table). 0, -ENOMEM, or -EINVAL with err
 * for a point of an unknown metric. */
int prometheus_table_write(struct prometheus_table *t, const struct alumet_buffer *buf,
                           const struct alumet_registry *reg, alumet_time_ns now,
                           struct alumet_error *err);

/* Render the exposition text in format fmt, after removing the series expired
 * at now. *ret_text is NUL-terminated, caller frees it with free(). Families
 * in first-seen order, series sorted by their labels; the counter family of a
 * delta metric right after its gauge family, whose stale series are left out.
 * Thread-safe. 0 or -ENOMEM. */
int prometheus_table_render(struct prometheus_table *t, enum prometheus_format fmt,
                            alumet_time_ns now, char **ret_text, size_t *ret_len);

/* Number of series in the table (expired ones included until removed). */
size_t prometheus_table_series_count(struct prometheus_table *t);

/* ---- text (prometheus-exporter-text.c) ---- */

/* Append s with '\\' and newline escaped (as \\ and \n), and '"' too when
 * quote is set (label values always; HELP text in OpenMetrics only).
 * 0 or -ENOMEM. */
int prometheus_text_add_escaped(struct text *b, const char *s, size_t len, bool quote);

/* ---- HTTP (prometheus-exporter-http.c) ---- */

/* Which format a scraper asks for, from its Accept header (NULL when absent):
 * OpenMetrics (as upstream, which always answers it), unless text/plain
 * (or text/ *) is preferred to every range that matches OpenMetrics, or
 * OpenMetrics is refused (q=0): then the Prometheus text format 0.0.4. */
enum prometheus_format prometheus_negotiate(const char *accept);

/* The Content-Type header of format f. */
const char *prometheus_content_type(enum prometheus_format f);

/* Parse "host" (an IP address literal, IPv6 in brackets: "[::1]") and port
 * into *ret_addr / *ret_len. 0 or -EINVAL. */
int prometheus_parse_address(const char *host, uint16_t port, struct sockaddr_storage *ret_addr,
                             socklen_t *ret_len);

/* ---- web configuration (prometheus-exporter-webconfig.c) ---- */

/* Which client certificates the endpoint asks for (client_auth_type). */
enum prometheus_client_auth {
    PROMETHEUS_CLIENT_AUTH_NONE,               /* NoClientCert */
    PROMETHEUS_CLIENT_AUTH_VERIFY_IF_GIVEN,    /* VerifyClientCertIfGiven */
    PROMETHEUS_CLIENT_AUTH_REQUIRE_AND_VERIFY, /* RequireAndVerifyClientCert */
};

struct prometheus_user {
    char *name;
    char *hash; /* bcrypt */
};

/* What the web configuration file of the exporter-toolkit sets; zeroed: an
 * endpoint in plain HTTP without authentication. */
struct prometheus_webconfig {
    char *cert;      /* PEM text of the server's certificate (chain); NULL: no TLS */
    char *key;       /* PEM text of its key */
    char *client_ca; /* PEM text of the CAs of the client certificates, NULL: none */
    char *cert_file, *key_file, *client_ca_file; /* their paths, NULL: inline or none */
    enum prometheus_client_auth client_auth;
    char *priorities; /* GnuTLS priority string (min_version, max_version) */
    struct prometheus_user *users;
    size_t n_users; /* 0: no basic authentication */
    char **headers; /* http_server_config.headers: name, value, name, value... */
    size_t n_headers;
};

/* Read the web configuration file path (YAML: tls_server_config,
 * basic_auth_users, http_server_config; the PEM files it names, relative to
 * its folder, are read now). 0, or a negative errno with err saying the
 * file, the line, what is wrong and what to do; wc holds nothing then. */
int prometheus_webconfig_load(const char *path, struct prometheus_webconfig *wc,
                              struct alumet_error *err);
void prometheus_webconfig_done(struct prometheus_webconfig *wc);

/* What tells that a file changed: its inode (a rename over it, or over a
 * symbolic link on its path, as Kubernetes updates a Secret), size and
 * modification time; err: the errno of a file that cannot be opened. */
struct prometheus_file_stamp {
    int err;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
};

/* The stamp of the open file fd, or of path when fd < 0. */
void prometheus_file_stamp_of(int fd, const char *path, struct prometheus_file_stamp *st);

/* The web configuration file and the PEM files it names. */
#define PROMETHEUS_WEBCONFIG_FILES 4

/* The files one load read (or failed to read), in order, with their stamps
 * taken before reading them. */
struct prometheus_webfiles {
    char *path[PROMETHEUS_WEBCONFIG_FILES];
    struct prometheus_file_stamp stamp[PROMETHEUS_WEBCONFIG_FILES];
    size_t n;
};

/* prometheus_webconfig_load that notes the files it reads in files (zeroed
 * first by the caller; filled on failure too, up to the file that failed);
 * free them with prometheus_webfiles_done(). */
int prometheus_webconfig_load_files(const char *path, struct prometheus_webconfig *wc,
                                    struct prometheus_webfiles *files, struct alumet_error *err);
void prometheus_webfiles_done(struct prometheus_webfiles *f);

#define PROMETHEUS_CREDENTIAL_CACHE 16
#define PROMETHEUS_CREDENTIAL_DIGEST 32

/* The credentials that passed the bcrypt check lately, as SHA-256 digests
 * of user and password (initialise lock with pthread_mutex_init). */
struct prometheus_webconfig_cache {
    pthread_mutex_t lock;
    uint8_t keys[PROMETHEUS_CREDENTIAL_CACHE][PROMETHEUS_CREDENTIAL_DIGEST];
    size_t n, next;
};

/* Whether user and password match basic_auth_users of wc: a bcrypt check
 * (crypt_rn), skipped for the credentials in cache, where a success goes.
 * Thread-safe. */
bool prometheus_webconfig_check(struct prometheus_webconfig_cache *cache,
                                const struct prometheus_webconfig *wc, const char *user,
                                const char *password);

/* ---- reloading (prometheus-exporter-reload.c) ---- */

/* One loaded version of the web configuration: the file and its GnuTLS
 * credentials, shared by reference (thread-safe counts). */
struct prometheus_webstate;

/* Load path and the PEM files it names (noted in files, zeroed by the
 * caller, on failure too), parse the certificate, the key (which must
 * match) and the client CAs. 0 with *ret (one reference), or a negative
 * errno with err saying the file and what is wrong. */
int prometheus_webstate_load(const char *path, struct prometheus_webfiles *files,
                             struct prometheus_webstate **ret, struct alumet_error *err);
struct prometheus_webstate *prometheus_webstate_ref(struct prometheus_webstate *s);
void prometheus_webstate_unref(struct prometheus_webstate *s); /* NULL-safe */
const struct prometheus_webconfig *prometheus_webstate_config(const struct prometheus_webstate *s);
struct prometheus_webconfig_cache *prometheus_webstate_cache(struct prometheus_webstate *s);
/* Give a TLS session (gnutls_session_t, before its handshake) the
 * certificate, key, client CAs, client certificate request and TLS versions
 * of s, which must outlive the session. Nothing without TLS. */
void prometheus_webstate_apply(const struct prometheus_webstate *s, void *session);

/* The version in use and the files it came from (the web configuration
 * file first), with their stamps. */
struct prometheus_webwatch {
    pthread_mutex_t lock;
    const char *path; /* borrowed */
    struct prometheus_webstate *cur;
    struct prometheus_webfiles files; /* of the last load, taken or not */
    struct alumet_log_topic *topic;
};

/* Watch path, whose version s (its reference) came from files (moved into
 * the watch). */
void prometheus_webwatch_init(struct prometheus_webwatch *w, const char *path,
                              struct prometheus_webstate *s, struct prometheus_webfiles *files,
                              struct alumet_log_topic *topic);
void prometheus_webwatch_done(struct prometheus_webwatch *w);

/* The current version (a new reference): when a watched file changed
 * (a stat each), the files are loaded again first; a valid new version is
 * taken (an info message), a broken one logs one error and the previous
 * version stays. Thread-safe. */
struct prometheus_webstate *prometheus_webwatch_current(struct prometheus_webwatch *w);

/* ---- the endpoint (prometheus-exporter-http.c) ---- */

struct prometheus_http;

/* What the endpoint serves with: web_config_file (NULL: none), its loaded
 * version web (a reference moved to the server) and the files it came from
 * (moved too). */
struct prometheus_http_web {
    const char *path; /* borrowed until prometheus_http_stop */
    struct prometheus_webstate *state;
    struct prometheus_webfiles *files;
};

/* Bind host:port now (a failure is returned with the address and the reason
 * in err) and serve GET /metrics from t (a reference is taken) on a thread of
 * its own, with the TLS, authentication and headers of web (NULL: none),
 * reloaded when its files change. topic: borrowed, for the server's
 * messages. Caller stops with prometheus_http_stop(). 0 or a negative errno;
 * web's reference and files are moved in either way. */
int prometheus_http_start(const char *host, uint16_t port, struct prometheus_table *t,
                          struct prometheus_http_web *web, struct alumet_log_topic *topic,
                          struct prometheus_http **ret, struct alumet_error *err);

/* The port actually bound (the chosen one when the option was 0). */
uint16_t prometheus_http_port(const struct prometheus_http *h);

/* Stop serving (waits for the server thread), release the table. NULL-safe. */
void prometheus_http_stop(struct prometheus_http *h);

#endif
