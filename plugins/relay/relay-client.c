/* SPDX-License-Identifier: MIT */
/* relay-client: an output that sends the measurements to a relay-server
 * agent over TCP (optionally TLS), wire-compatible with upstream's
 * plugin_relay. Without a spool, it behaves as upstream: connect at
 * startup (with retries), then send each message, reconnecting with backoff
 * on errors, and stop when the retries are exhausted. With `spool_dir`,
 * every message goes to a bounded on-disk spool first and leaves it only
 * once the server acknowledged it (an extension negotiated at connection),
 * so that outages and restarts lose nothing. See README.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alumet-build-config.h"
#include "alumet/config.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "relay-net.h"
#include "relay-proto.h"
#include "relay-spool.h"

static struct alumet_log_topic relay_client_log = ALUMET_LOG_TOPIC_INIT("relay-client");
#define ALUMET_LOG_DEFAULT_TOPIC (&relay_client_log)

#define RELAY_CLIENT_DEFAULT_CONFIG                                                                \
    "[plugins.relay-client]\n"                                                                     \
    "# Off by default: set to true (or run with --plugins relay-client,...) to send the\n"         \
    "# measurements to a relay-server agent\n"                                                     \
    "enabled = false\n"                                                                            \
    "# Name of this agent on the server (attribute relay_client); default: the host name\n"        \
    "# client_name = \"node1\"\n"                                                                  \
    "# Address of the relay server (host:port); --relay-out overrides it\n"                        \
    "relay_server = \"[::1]:50051\"\n"                                                             \
    "# Points kept before sending, and the longest they wait (checked when data arrives)\n"        \
    "buffer_max_length = 4096\n"                                                                   \
    "buffer_timeout = \"30s\"\n"                                                                   \
    "# Spool directory: messages are kept on disk until the server took them, so that\n"           \
    "# outages and restarts lose nothing; empty: no spool, as upstream\n"                          \
    "spool_dir = \"\"\n"                                                                           \
    "spool_max_bytes = 104857600\n"                                                                \
    "# With a spool, the server acknowledges each message (a relay-server of this agent;\n"        \
    "# false for upstream's server); the shutdown waits shutdown_timeout for them\n"               \
    "acknowledgments = true\n"                                                                     \
    "shutdown_timeout = \"10s\"\n"                                                                 \
    "# Shared secret of the relay server (its 'token'); empty: none\n"                             \
    "token = \"\"\n"                                                                               \
    "# TLS: verify the server with tls_ca (empty: the system's CAs); tls_cert and\n"               \
    "# tls_key when the server asks for a client certificate\n"                                    \
    "tls = false\n"                                                                                \
    "tls_ca = \"\"\n"                                                                              \
    "tls_cert = \"\"\n"                                                                            \
    "tls_key = \"\"\n"                                                                             \
    "\n"                                                                                           \
    "[plugins.relay-client.retry]\n"                                                               \
    "max_times = 8\n"                                                                              \
    "initial_delay = \"500ms\"\n"                                                                  \
    "max_delay = \"4s\"\n"

#define RELAY_CONNECT_TIMEOUT (5 * ALUMET_NSEC_PER_SEC)
#define RELAY_REPLY_TIMEOUT (10 * ALUMET_NSEC_PER_SEC)

/* Plugin state: the options. */
struct relay_client {
    char *client_name, *relay_server, *token, *spool_dir;
    char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
    bool tls, acknowledgments;
    uint64_t buffer_max_length, spool_max_bytes;
    alumet_time_ns buffer_timeout, initial_delay, max_delay, shutdown_timeout;
    unsigned max_times;
    struct relay_out *out; /* owned by the core once registered */
};

/* A message sent but not acknowledged yet. */
struct relay_inflight {
    struct relay_spool_pos after;
    uint64_t points;
};

/* The output "tcp_client". */
struct relay_out {
    const struct relay_client *opt; /* the plugin state outlives its elements */
    struct ssl_ctx_st *tls;
    struct relay_conn conn;
    bool connected, acks;
    const struct alumet_registry *reg;
    size_t metrics_sent;
    struct pc_writer frame, pts, in, header;
    uint64_t pending;
    alumet_time_ns last_send;
    /* spool mode */
    struct relay_spool *spool;
    struct relay_inflight *fl;
    size_t fl_len, fl_cap;
    uint64_t conn_acked;
    alumet_time_ns next_attempt, delay;
    bool outage;
    uint64_t dropped;
};

static void relay_sleep(alumet_time_ns d)
{
    struct timespec ts = {(time_t)(d / ALUMET_NSEC_PER_SEC), (long)(d % ALUMET_NSEC_PER_SEC)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void relay_disconnect(struct relay_out *o)
{
    relay_conn_close(&o->conn);
    o->connected = false;
    o->fl_len = 0;
    o->conn_acked = 0;
}

/* Errors that a new connection cannot fix (upstream: encoding, version
 * mismatch, unexpected response; and a refusal by the server). */
static bool relay_fatal(int r)
{
    return r == -EACCES || r == -EPROTO || r == -ENOMEM || r == -EINVAL || r == -EMSGSIZE ||
           r == -EBADMSG;
}

/* Read one reply of the server (during the handshake, or an Ack). */
static int relay_read_reply(struct relay_out *o, alumet_time_ns timeout, struct pc_reader *ret,
                            uint32_t *ret_kind, struct alumet_error *err)
{
    int r = relay_conn_wait(&o->conn, -1, timeout);
    if (r == 0)
        return alumet_error_set(err, -ETIMEDOUT,
                                "no reply from the relay server %s in %" PRId64 "s",
                                o->opt->relay_server, timeout / ALUMET_NSEC_PER_SEC);
    if (r > 0)
        r = relay_conn_read_frame(&o->conn, &o->in, err);
    if (r == 0)
        return alumet_error_set(err, -ECONNRESET, "the relay server %s closed the connection",
                                o->opt->relay_server);
    if (r < 0)
        return r == -EPROTO ? alumet_error_set(err, -ECONNRESET, "%s", err->msg) : r;
    *ret = pc_reader_of(o->in.data, o->in.len);
    struct relay_str sender;
    r = relay_decode_head(ret, &sender, ret_kind);
    if (r == 0 && *ret_kind == RELAY_MSG_REFUSED) {
        struct relay_str why = {"", 0};
        pc_get_str(ret, &why.s, &why.len);
        return alumet_error_set(err, -EACCES, "the relay server %s refused the connection: %.*s",
                                o->opt->relay_server, (int)why.len, why.s);
    }
    if (r < 0)
        return alumet_error_set(err, -EBADMSG, "bad message from the relay server %s: %s",
                                o->opt->relay_server, ret->err);
    return 0;
}

/* Connect, greet and (without spool) register every metric known. */
static int relay_connect(struct relay_out *o, struct alumet_error *err)
{
    const struct relay_client *c = o->opt;
    /* with a spool the output thread tries while measurements arrive: short */
    alumet_time_ns timeout = o->spool ? ALUMET_NSEC_PER_SEC : RELAY_CONNECT_TIMEOUT;
    int r = relay_net_connect(c->relay_server, timeout, o->tls, c->tls_server_name, &o->conn, err);
    if (r < 0)
        return r == -EACCES ? -ECONNREFUSED : r; /* a certificate may be renewed */
    o->acks = o->spool && c->acknowledgments;
    bool ext = c->token || o->acks;
    pc_writer_clear(&o->frame);
    if (ext)
        r = relay_encode_hello(&o->frame, c->client_name, c->token ? c->token : "", o->acks);
    if (r == 0)
        r = relay_encode_greet(&o->frame, c->client_name, ALUMET_VERSION, RELAY_PLUGIN_VERSION,
                               RELAY_PROTOCOL_VERSION);
    if (r == 0)
        r = relay_conn_write(&o->conn, o->frame.data, o->frame.len, err);
    struct pc_reader rd;
    uint32_t kind;
    if (r == 0)
        r = relay_read_reply(o, RELAY_REPLY_TIMEOUT, &rd, &kind, err);
    if (r == -ECONNRESET && ext) {
        char why[ALUMET_ERROR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", err->msg);
        alumet_error_set(err, r,
                         "%s (a relay server that is not this agent's does not accept 'token' "
                         "nor acknowledgments: remove 'token', or set acknowledgments = false)",
                         why);
    }
    if (r == 0 && kind != RELAY_MSG_GREET_RESPONSE)
        r = alumet_error_set(err, -EPROTO,
                             "unexpected response from the relay server %s "
                             "(variant %u instead of GreetResponse)",
                             c->relay_server, kind);
    struct relay_greet_response g;
    if (r == 0 && relay_decode_greet_response(&rd, &g) < 0)
        r = alumet_error_set(err, -EBADMSG, "bad GreetResponse from the relay server %s: %s",
                             c->relay_server, rd.err);
    if (r == 0 && !g.accept)
        r = alumet_error_set(err, -EPROTO,
                             "protocol version mismatch: the relay server %s "
                             "(alumet %.*s, relay %.*s) speaks version %u, this client %u",
                             c->relay_server, (int)g.core_version.len, g.core_version.s,
                             (int)g.plugin_version.len, g.plugin_version.s, g.protocol_version,
                             RELAY_PROTOCOL_VERSION);
    if (r == 0 && !o->spool && o->reg) {
        size_t n = alumet_registry_count(o->reg);
        pc_writer_clear(&o->frame);
        r = relay_encode_registry(&o->frame, c->client_name, o->reg, 0, n);
        if (r == 0)
            r = relay_conn_write(&o->conn, o->frame.data, o->frame.len, err);
        if (r == 0)
            o->metrics_sent = n;
    }
    if (r < 0) {
        if (r == -ENOMEM && !err->msg[0])
            alumet_error_set(err, r, "out of memory");
        relay_disconnect(o);
        return r;
    }
    o->connected = true;
    o->conn_acked = 0;
    o->fl_len = 0;
    return 0;
}

/* ---- without spool: upstream's retry policy ---- */

/* Send data (NULL: only connect), reconnecting up to max_times + 1 times. */
static int relay_deliver(struct relay_out *o, const void *data, size_t len,
                         struct alumet_error *err)
{
    alumet_time_ns delay = o->opt->initial_delay;
    for (unsigned attempt = 0;; attempt++) {
        int r = o->connected ? 0 : relay_connect(o, err);
        if (r == 0 && data)
            r = relay_conn_write(&o->conn, data, len, err);
        if (r == 0)
            return 0;
        relay_disconnect(o);
        if (relay_fatal(r) || attempt >= o->opt->max_times + 1)
            return alumet_error_prefix(err, "relay connection error%s",
                                       relay_fatal(r) ? "" : " (retries exhausted)");
        char d[32];
        alumet_duration_format(delay, d, sizeof(d));
        alumet_log_warn("%s, will retry in %s", err->msg, d);
        alumet_error_clear(err);
        relay_sleep(delay);
        delay = delay * 2 > o->opt->max_delay ? o->opt->max_delay : delay * 2;
    }
}

/* ---- with spool ---- */

static int relay_take_acks(struct relay_out *o, struct pc_reader *rd, struct alumet_error *err)
{
    uint64_t count;
    if (pc_get_varint(rd, &count) < 0 || count < o->conn_acked || count - o->conn_acked > o->fl_len)
        return alumet_error_set(err, -EBADMSG, "bad acknowledgment from the relay server %s",
                                o->opt->relay_server);
    size_t n = (size_t)(count - o->conn_acked);
    for (size_t i = 0; i < n; i++)
        relay_spool_ack(o->spool, o->fl[i].after, o->fl[i].points);
    memmove(o->fl, o->fl + n, (o->fl_len - n) * sizeof(*o->fl));
    o->fl_len -= n;
    o->conn_acked = count;
    return n ? relay_spool_save(o->spool, err) : 0;
}

/* Send what the spool holds and take the acknowledgments; with a deadline
 * (monotonic) wait until all is acknowledged or the deadline, reconnecting
 * with backoff; without (0), do only what does not wait. A negative result
 * is fatal; connection problems are logged and retried later. */
static int relay_pump(struct relay_out *o, alumet_time_ns deadline, struct alumet_error *err)
{
    for (;;) {
        alumet_time_ns now = alumet_time_monotonic();
        if (!o->connected) {
            if (now < o->next_attempt) {
                if (deadline <= now)
                    return 0;
                relay_sleep((o->next_attempt < deadline ? o->next_attempt : deadline) - now);
                continue;
            }
            struct alumet_error e2 = {0};
            int r = relay_connect(o, &e2);
            if (r < 0 && relay_fatal(r))
                return alumet_error_set(err, r, "relay connection error: %s", e2.msg);
            if (r < 0) {
                char d[32];
                alumet_duration_format(o->delay, d, sizeof(d));
                if (!o->outage)
                    alumet_log_warn("%s; the measurements are kept in the spool '%s', will retry "
                                    "in %s",
                                    e2.msg, o->opt->spool_dir, d);
                o->outage = true;
                o->next_attempt = alumet_time_monotonic() + o->delay;
                o->delay = o->delay * 2 > o->opt->max_delay ? o->opt->max_delay : o->delay * 2;
                if (deadline <= now)
                    return 0;
                continue;
            }
            if (o->outage)
                alumet_log_info("connected to the relay server %s again, sending the %" PRIu64
                                " point(s) of the spool",
                                o->opt->relay_server, relay_spool_pending_points(o->spool));
            o->outage = false;
            o->delay = o->opt->initial_delay;
            relay_spool_rewind(o->spool);
        }
        struct alumet_error e2 = {0};
        int r = 0;
        for (;;) {
            struct relay_spool_pos after;
            uint64_t points;
            r = relay_spool_next(o->spool, &o->frame, &after, &points, err);
            if (r < 0)
                return r;
            if (r == 0)
                break;
            r = relay_conn_write(&o->conn, o->frame.data, o->frame.len, &e2);
            if (r < 0)
                break;
            if (!o->acks) {
                relay_spool_ack(o->spool, after, points);
                continue;
            }
            if (o->fl_len == o->fl_cap) {
                size_t cap = o->fl_cap ? o->fl_cap * 2 : 64;
                struct relay_inflight *fl = realloc(o->fl, cap * sizeof(*fl));
                if (!fl)
                    return alumet_error_set(err, -ENOMEM, "out of memory");
                o->fl = fl;
                o->fl_cap = cap;
            }
            o->fl[o->fl_len++] = (struct relay_inflight){after, points};
        }
        if (r == 0 && !o->acks)
            r = relay_spool_save(o->spool, err) < 0 ? -EIO : 0;
        /* acknowledgments: all that came, and wait for the rest until the deadline */
        while (r == 0 && o->acks && o->fl_len) {
            now = alumet_time_monotonic();
            alumet_time_ns wait = deadline > now ? deadline - now : 0;
            struct pc_reader rd;
            uint32_t kind;
            if (relay_conn_wait(&o->conn, -1, wait) == 0)
                break;
            r = relay_read_reply(o, RELAY_REPLY_TIMEOUT, &rd, &kind, &e2);
            if (r == 0 && kind != RELAY_MSG_ACK)
                r = alumet_error_set(&e2, -EBADMSG,
                                     "unexpected message from the relay server "
                                     "(variant %u instead of Ack)",
                                     kind);
            if (r == 0)
                r = relay_take_acks(o, &rd, &e2);
        }
        if (r == -EACCES)
            return alumet_error_set(err, r, "relay connection error: %s", e2.msg);
        if (r < 0) {
            alumet_log_warn("relay server %s: %s; reconnecting", o->opt->relay_server, e2.msg);
            relay_disconnect(o);
            o->next_attempt = alumet_time_monotonic() + o->delay;
            continue;
        }
        /* all sent: done unless acknowledgments are awaited until the deadline */
        if (deadline <= alumet_time_monotonic() || !relay_spool_pending(o->spool) || !o->acks ||
            o->fl_len == 0)
            return 0;
    }
}

static int relay_rotate(struct relay_out *o, struct alumet_error *err)
{
    pc_writer_clear(&o->header);
    int r = relay_encode_registry(&o->header, o->opt->client_name, o->reg, 0, o->metrics_sent);
    if (r < 0)
        return alumet_error_set(err, r, "cannot encode the metrics: %s", strerror(-r));
    return relay_spool_rotate(o->spool, o->header.data, o->header.len, err);
}

/* One message (a frame in o->frame) to the server. */
static int relay_emit(struct relay_out *o, uint64_t points, struct alumet_error *err)
{
    if (!o->spool)
        return relay_deliver(o, o->frame.data, o->frame.len, err);
    int r = 0;
    if (relay_spool_need_rotate(o->spool))
        r = relay_rotate(o, err);
    uint64_t dropped = 0;
    if (r == 0)
        r = relay_spool_append(o->spool, o->frame.data, o->frame.len, points, &dropped, err);
    if (dropped) {
        o->dropped += dropped;
        alumet_log_warn("the spool '%s' is full (spool_max_bytes = %" PRIu64 "): %" PRIu64
                        " point(s) dropped, %" PRIu64 " since start",
                        o->opt->spool_dir, o->opt->spool_max_bytes, dropped, o->dropped);
    }
    return r;
}

/* SendMeasurements of the points kept. */
static int relay_flush_pending(struct relay_out *o, struct alumet_error *err)
{
    o->last_send = alumet_time_monotonic();
    if (!o->pending)
        return 0;
    pc_writer_clear(&o->frame);
    int r = relay_encode_send(&o->frame, o->opt->client_name, o->pending, o->pts.data, o->pts.len);
    if (r < 0)
        return alumet_error_set(err, r, "cannot encode %" PRIu64 " points: %s", o->pending,
                                r == -EMSGSIZE ? "message over 32 MB, lower buffer_max_length"
                                               : strerror(-r));
    uint64_t n = o->pending;
    pc_writer_clear(&o->pts);
    o->pending = 0;
    return relay_emit(o, n, err);
}

static int relay_out_write(void *data, const struct alumet_buffer *buf,
                           const struct alumet_registry *reg, struct alumet_error *err)
{
    struct relay_out *o = data;
    o->reg = reg;
    int r = 0;
    size_t count = alumet_registry_count(reg);
    if (count > o->metrics_sent) {
        /* late-registered metrics first */
        pc_writer_clear(&o->frame);
        r = relay_encode_registry(&o->frame, o->opt->client_name, reg, o->metrics_sent, count);
        size_t before = o->metrics_sent;
        o->metrics_sent = count;
        if (r == 0)
            r = relay_emit(o, 0, err);
        else
            o->metrics_sent = before;
    }
    size_t n = alumet_buffer_len(buf);
    for (size_t i = 0; i < n; i++)
        relay_put_point(&o->pts, buf, alumet_buffer_get(buf, i));
    o->pending += n;
    if (pc_writer_status(&o->pts) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if (r == 0 && (o->pending >= o->opt->buffer_max_length ||
                   alumet_time_monotonic() - o->last_send > o->opt->buffer_timeout))
        r = relay_flush_pending(o, err);
    if (r == 0 && o->spool)
        r = relay_pump(o, 0, err);
    return r;
}

static int relay_out_close(void *data, struct alumet_error *err)
{
    struct relay_out *o = data;
    /* upstream drops what it kept here; we send it */
    int r = relay_flush_pending(o, err);
    if (r == 0 && o->spool) {
        r = relay_pump(o, alumet_time_monotonic() + o->opt->shutdown_timeout, err);
        uint64_t left = relay_spool_pending_points(o->spool);
        if (left)
            alumet_log_warn("%" PRIu64 " point(s) not acknowledged by the relay server %s are "
                            "kept in the spool '%s': they are sent at the next start",
                            left, o->opt->relay_server, o->opt->spool_dir);
    }
    relay_disconnect(o);
    return r;
}

static void relay_out_free(void *data)
{
    struct relay_out *o = data;
    if (!o)
        return;
    relay_disconnect(o);
    relay_spool_free(o->spool);
    relay_tls_ctx_free(o->tls);
    pc_writer_done(&o->frame);
    pc_writer_done(&o->pts);
    pc_writer_done(&o->in);
    pc_writer_done(&o->header);
    free(o->fl);
    free(o);
}

static const struct alumet_output_ops relay_out_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = relay_out_write,
    .close = relay_out_close,
    .free = relay_out_free,
};

/* ---- plugin ---- */

static void relay_client_free(void *state)
{
    struct relay_client *c = state;
    if (!c)
        return;
    free(c->client_name);
    free(c->relay_server);
    free(c->token);
    free(c->spool_dir);
    free(c->tls_ca);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_server_name);
    free(c);
}

static int relay_client_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct relay_client *c = calloc(1, sizeof(*c));
    if (!c)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    int64_t max_len = 4096, max_times = 8, spool_max = 100 << 20;
    struct alumet_config *retry = NULL;
    int r = relay_opt(cfg, "client_name", host, &c->client_name, err);
    if (r == 0)
        r = relay_opt(cfg, "relay_server", "[::1]:50051", &c->relay_server, err);
    if (r == 0)
        r = alumet_config_get_int(cfg, "buffer_max_length", 4096, &max_len, err);
    if (r == 0)
        r = alumet_config_get_duration(cfg, "buffer_timeout", 30 * ALUMET_NSEC_PER_SEC,
                                       &c->buffer_timeout, err);
    if (r == 0)
        r = relay_opt(cfg, "spool_dir", "", &c->spool_dir, err);
    if (r == 0)
        r = alumet_config_get_int(cfg, "spool_max_bytes", spool_max, &spool_max, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "acknowledgments", true, &c->acknowledgments, err);
    if (r == 0)
        r = alumet_config_get_duration(cfg, "shutdown_timeout", 10 * ALUMET_NSEC_PER_SEC,
                                       &c->shutdown_timeout, err);
    if (r == 0)
        r = relay_opt(cfg, "token", "", &c->token, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "tls", false, &c->tls, err);
    if (r == 0)
        r = relay_opt(cfg, "tls_ca", "", &c->tls_ca, err);
    if (r == 0)
        r = relay_opt(cfg, "tls_cert", "", &c->tls_cert, err);
    if (r == 0)
        r = relay_opt(cfg, "tls_key", "", &c->tls_key, err);
    if (r == 0)
        r = relay_opt(cfg, "tls_server_name", "", &c->tls_server_name, err);
    if (r == 0)
        r = alumet_config_get_table(cfg, "retry", &retry, err);
    c->initial_delay = 500 * ALUMET_NSEC_PER_MSEC;
    c->max_delay = 4 * ALUMET_NSEC_PER_SEC;
    if (r == 0 && retry)
        r = alumet_config_get_int(retry, "max_times", 8, &max_times, err);
    if (r == 0 && retry)
        r = alumet_config_get_duration(retry, "initial_delay", c->initial_delay, &c->initial_delay,
                                       err);
    if (r == 0 && retry)
        r = alumet_config_get_duration(retry, "max_delay", c->max_delay, &c->max_delay, err);
    char h[256], p[8];
    if (r == 0 && !c->client_name)
        r = alumet_config_error(cfg, "client_name", err, -EINVAL, "expected a name, got \"\"");
    if (r == 0 &&
        (!c->relay_server || relay_net_split(c->relay_server, h, sizeof(h), p, sizeof(p), err) < 0))
        r = alumet_config_error(cfg, "relay_server", err, -EINVAL, "%s",
                                c->relay_server ? err->msg : "expected host:port, got \"\"");
    if (r == 0 && max_len < 0)
        r = alumet_config_error(cfg, "buffer_max_length", err, -EINVAL,
                                "expected a number of points >= 0, got %" PRId64, max_len);
    if (r == 0 && spool_max < 65536)
        r = alumet_config_error(cfg, "spool_max_bytes", err, -EINVAL,
                                "expected at least 65536 bytes, got %" PRId64, spool_max);
    if (r == 0 && retry && (max_times < 0 || max_times > 65535))
        r = alumet_config_error(retry, "max_times", err, -EINVAL,
                                "expected a number from 0 to 65535, got %" PRId64, max_times);
    if (r == 0 && (c->tls_ca || c->tls_cert || c->tls_key || c->tls_server_name) && !c->tls)
        r = alumet_config_error(cfg, "tls", err, -EINVAL,
                                "tls_* options are set but tls = false: set tls = true");
    if (r == 0 && !c->tls_cert != !c->tls_key)
        r = alumet_config_error(cfg, c->tls_cert ? "tls_key" : "tls_cert", err, -EINVAL,
                                "a client certificate needs both tls_cert and tls_key");
    if (r == 0 && c->tls && !c->tls_server_name &&
        relay_net_split(c->relay_server, h, sizeof(h), p, sizeof(p), err) == 0 &&
        !(c->tls_server_name = strdup(h)))
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    if (r < 0) {
        relay_client_free(c);
        return r;
    }
    c->buffer_max_length = (uint64_t)max_len;
    c->spool_max_bytes = (uint64_t)spool_max;
    c->max_times = (unsigned)max_times;
    *ret_state = c;
    return 0;
}

static int relay_client_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct relay_client *c = state;
    struct relay_out *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->opt = c;
    o->conn = (struct relay_conn)RELAY_CONN_INIT;
    o->delay = c->initial_delay;
    o->last_send = alumet_time_monotonic();
    struct relay_tls_opts tls = {c->tls,    c->tls_cert, c->tls_key,
                                 c->tls_ca, false,       c->tls_server_name};
    int r = relay_tls_ctx_new(&tls, false, &o->tls, err);
    uint64_t earlier = 0;
    if (r == 0 && c->spool_dir)
        r = relay_spool_open(c->spool_dir, c->spool_max_bytes, &o->spool, &earlier, err);
    if (r == 0 && earlier)
        alumet_log_info("%" PRIu64 " point(s) of an earlier run wait in the spool '%s', they are "
                        "sent first",
                        earlier, c->spool_dir);
    if (r == 0)
        r = alumet_add_output(ctx, "tcp_client", &relay_out_ops, o, /* opts= */ NULL, err);
    if (r < 0) {
        relay_out_free(o);
        return r;
    }
    c->out = o;
    return 0;
}

/* The metrics are all registered: connect (without spool, failing startup
 * when the server cannot be reached, as upstream) and send them. */
static int relay_client_pre_start(void *state, struct alumet_pre_start_ctx *ctx,
                                  struct alumet_error *err)
{
    struct relay_client *c = state;
    struct relay_out *o = c->out;
    o->reg = alumet_pre_start_registry(ctx);
    if (!o->spool)
        return relay_deliver(o, NULL, 0, err);
    o->metrics_sent = alumet_registry_count(o->reg);
    int r = relay_rotate(o, err);
    if (r == 0)
        r = relay_pump(o, 0, err);
    return r;
}

static int relay_client_stop(void *state, struct alumet_error *err)
{
    struct relay_client *c = state;
    c->out = NULL;
    return 0;
}

const struct alumet_plugin alumet_plugin_relay_client = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "relay-client",
    .version = RELAY_PLUGIN_VERSION,
    .default_config = RELAY_CLIENT_DEFAULT_CONFIG,
    .init = relay_client_init,
    .start = relay_client_start,
    .pre_pipeline_start = relay_client_pre_start,
    .stop = relay_client_stop,
    .free = relay_client_free,
};
