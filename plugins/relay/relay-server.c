/* SPDX-License-Identifier: MIT */
/* relay-server: an autonomous source that receives the measurements of
 * relay-client agents over TCP (optionally TLS, optionally with a shared
 * token) and pushes them into this agent's pipeline, with the attribute
 * relay_client = <sender>. One thread per client connection; the clients'
 * metrics are registered here (late registration, renamed when a metric of
 * the same name but another unit or type exists). Per-client counters are
 * measured by a second source, `relay-server/stats`. Protocol: relay-proto.h
 * and README.md. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alumet-build-config.h"
#include "alumet/config.h"
#include "alumet/log.h"
#include "alumet/plugin.h"
#include "alumet/source.h"
#include "relay-net.h"
#include "relay-points.h"
#include "relay-proto.h"
#include "util/thread-name.h"

static struct alumet_log_topic relay_server_log = ALUMET_LOG_TOPIC_INIT("relay-server");
#define ALUMET_LOG_DEFAULT_TOPIC (&relay_server_log)

#define RELAY_SERVER_DEFAULT_CONFIG                                                                \
    "[plugins.relay-server]\n"                                                                     \
    "# Off by default: set to true (or run with --plugins relay-server,...) to receive\n"          \
    "# the measurements of relay-client agents\n"                                                  \
    "enabled = false\n"                                                                            \
    "# Address to listen on (host:port); --relay-in overrides it\n"                                \
    "address = \"[::]:50051\"\n"                                                                   \
    "# Interval of the per-client counters (relay_server_* metrics); \"0s\" turns them off\n"      \
    "stats_interval = \"10s\"\n"                                                                   \
    "# Shared secret the clients must present (same token in their config); empty: none\n"         \
    "token = \"\"\n"                                                                               \
    "# TLS: certificate and key of this server (PEM); both empty: plain TCP\n"                     \
    "tls_cert = \"\"\n"                                                                            \
    "tls_key = \"\"\n"                                                                             \
    "# CA that signed the client certificates, and whether clients must present one\n"             \
    "tls_ca = \"\"\n"                                                                              \
    "tls_require_client_cert = false\n"

/* Counters of one client (by sender name), measured by relay-server/stats. */
struct relay_stats {
    char *name;
    atomic_uint_fast64_t points, bytes, connections, decode_errors;
    struct relay_stats *next;
};

/* Plugin state: the options, and what start acquired (the listening socket,
 * the TLS context, the counters). The two sources point to it: it outlives
 * them (freed by the plugin's free, after the elements). */
struct relay_server {
    char *address, *token;
    char *tls_cert, *tls_key, *tls_ca;
    bool tls_require_client_cert;
    alumet_time_ns stats_interval;
    int listen_fd;
    struct ssl_ctx_st *tls;
    alumet_metric_id stat_ids[4];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct alumet_pipeline *pipeline; /* set by post_pipeline_start */
    struct relay_stats *stats;
};

/* A client-id -> server-id map entry that failed to register. */
#define RELAY_ID_FAILED (ALUMET_METRIC_ID_INVALID - 1)
/* Upstream refuses client metric ids above this. */
#define RELAY_MAX_CLIENT_ID 65535u

struct relay_session {
    struct relay_server *srv;
    struct alumet_autonomous *ctx;
    struct relay_conn conn; /* the session thread's */
    int fd;                 /* the socket, for the accepting thread (shutdown) */
    pthread_t thread;
    atomic_bool done;
    struct relay_session *next;
    /* protocol state */
    char *sender;
    bool hello, acks, greeted;
    uint64_t taken; /* RegisterMetrics and SendMeasurements taken, for Ack */
    alumet_metric_id *map;
    size_t map_len;
    struct relay_stats *stats;
    struct pc_writer body, out;
};

static char *relay_dup(struct relay_str s)
{
    return strndup(s.s, s.len);
}

/* ---- per-client counters ---- */

static struct relay_stats *relay_stats_get(struct relay_server *srv, const char *name)
{
    pthread_mutex_lock(&srv->lock);
    struct relay_stats *s = srv->stats;
    while (s && strcmp(s->name, name) != 0)
        s = s->next;
    if (!s && (s = calloc(1, sizeof(*s)))) {
        if (!(s->name = strdup(name))) {
            free(s);
            s = NULL;
        } else {
            s->next = srv->stats;
            srv->stats = s;
        }
    }
    pthread_mutex_unlock(&srv->lock);
    return s;
}

static void relay_stats_add(struct relay_stats *s, uint64_t points, uint64_t bytes,
                            uint64_t connections, uint64_t decode_errors)
{
    if (!s)
        return;
    atomic_fetch_add(&s->points, points);
    atomic_fetch_add(&s->bytes, bytes);
    atomic_fetch_add(&s->connections, connections);
    atomic_fetch_add(&s->decode_errors, decode_errors);
}

/* The counters of a connection whose sender is not known yet go to its host. */
static struct relay_stats *relay_session_stats(struct relay_session *s)
{
    if (s->stats)
        return s->stats;
    char host[80];
    snprintf(host, sizeof(host), "%s", s->conn.peer);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    return relay_stats_get(s->srv, host);
}

static int relay_stats_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                            struct alumet_error *err)
{
    struct relay_server *srv = data;
    static const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    static const struct alumet_consumer cons = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    pthread_mutex_lock(&srv->lock);
    for (struct relay_stats *s = srv->stats; s; s = s->next) {
        const uint64_t v[4] = {atomic_load(&s->points), atomic_load(&s->bytes),
                               atomic_load(&s->connections), atomic_load(&s->decode_errors)};
        for (int i = 0; i < 4; i++) {
            struct alumet_point *p =
                alumet_buffer_push_u64(buf, now, srv->stat_ids[i], &res, &cons, v[i]);
            const char *name = p ? alumet_buffer_strdup(buf, s->name, (size_t)-1) : NULL;
            if (!name || alumet_point_add_attr_str(buf, p, "relay_client", name) < 0) {
                pthread_mutex_unlock(&srv->lock);
                return alumet_error_set(err, -ENOMEM, "out of memory");
            }
        }
    }
    pthread_mutex_unlock(&srv->lock);
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops relay_stats_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = relay_stats_poll,
};

/* ---- metrics of the clients ---- */

static bool relay_unit_same(const struct alumet_unit *a, const struct alumet_unit *b)
{
    if (a->base != b->base || a->prefix != b->prefix)
        return false;
    if (a->base != ALUMET_UNIT_CUSTOM)
        return true;
    return strcmp(a->custom_unique ? a->custom_unique : "",
                  b->custom_unique ? b->custom_unique : "") == 0;
}

/* Register name (or, when a different metric has it, name_relay-client-<sender>,
 * then _2, _3...), reusing a compatible metric (upstream's Rename reaction). */
static int relay_register(struct relay_session *s, const char *name, enum alumet_value_type type,
                          struct alumet_unit unit, alumet_metric_id *ret, struct alumet_error *err)
{
    struct alumet_pipeline *p = s->srv->pipeline;
    const struct alumet_registry *reg = alumet_pipeline_registry(p);
    char cand[512];
    snprintf(cand, sizeof(cand), "%s", name);
    for (unsigned k = 0; k < 1000; k++) {
        if (k == 1)
            snprintf(cand, sizeof(cand), "%s_relay-client-%s", name, s->sender ? s->sender : "");
        else if (k > 1)
            snprintf(cand, sizeof(cand), "%s_relay-client-%s_%u", name, s->sender ? s->sender : "",
                     k);
        const struct alumet_metric *m = alumet_registry_find(reg, cand);
        if (m && m->value_type == type && relay_unit_same(&m->unit, &unit)) {
            *ret = m->id;
            return 0;
        }
        if (m)
            continue;
        struct alumet_error e2 = {0};
        if (alumet_pipeline_create_metric(p, cand, type, unit, "remote metric via plugin_relay",
                                          ret, &e2) == 0)
            return 0;
        /* another client registered it meanwhile: look again */
        if (alumet_registry_find(reg, cand))
            k--;
        else
            return alumet_error_set(err, e2.code ? e2.code : -EINVAL, "%s", e2.msg);
    }
    return alumet_error_set(err, -EEXIST, "too many metrics named '%s'", name);
}

static int relay_handle_metrics(struct relay_session *s, struct pc_reader *r,
                                struct alumet_error *err)
{
    size_t n;
    int e = relay_decode_count(r, 5, &n);
    for (size_t i = 0; i < n && e == 0; i++) {
        struct relay_metric m;
        e = relay_decode_metric(r, &m);
        if (e < 0)
            break;
        if (m.id > RELAY_MAX_CLIENT_ID)
            return alumet_error_set(err, -ERANGE,
                                    "metric id %" PRIu64 " of '%.*s' is too large (at most %u)",
                                    m.id, (int)m.name.len, m.name.s, RELAY_MAX_CLIENT_ID);
        if (m.id >= s->map_len) {
            size_t len = (size_t)m.id + 1 > s->map_len * 2 ? (size_t)m.id + 1 : s->map_len * 2;
            alumet_metric_id *map = realloc(s->map, len * sizeof(*map));
            if (!map)
                return alumet_error_set(err, -ENOMEM, "out of memory");
            for (size_t k = s->map_len; k < len; k++)
                map[k] = ALUMET_METRIC_ID_INVALID;
            s->map = map;
            s->map_len = len;
        }
        char *name = relay_dup(m.name), *base = relay_dup(m.unit_base),
             *prefix = relay_dup(m.unit_prefix);
        struct alumet_error e2 = {0};
        int rr = -ENOMEM;
        if (name && base && prefix) {
            struct alumet_unit unit = {alumet_base_unit_from_string(base),
                                       alumet_unit_prefix_from_string(prefix), NULL, NULL};
            if (unit.base == _ALUMET_UNIT_INVALID) {
                /* upstream cannot parse custom units back; keep the name */
                unit.base = ALUMET_UNIT_CUSTOM;
                unit.custom_unique = unit.custom_display = base;
            }
            if (unit.prefix == _ALUMET_PREFIX_INVALID)
                rr = alumet_error_set(&e2, -EINVAL, "unknown unit prefix '%s'", prefix);
            else
                rr =
                    relay_register(s, name, m.value_type == 0 ? ALUMET_VALUE_F64 : ALUMET_VALUE_U64,
                                   unit, &s->map[m.id], &e2);
        }
        if (rr < 0) {
            s->map[m.id] = RELAY_ID_FAILED;
            alumet_log_error("cannot register metric '%s' of relay client '%s': %s, its points "
                             "will be skipped",
                             name ? name : "?", s->sender ? s->sender : "",
                             e2.msg[0] ? e2.msg : strerror(-rr));
        }
        free(name);
        free(base);
        free(prefix);
    }
    return e < 0 ? e : relay_decode_end(r);
}

/* ---- points ---- */

static bool relay_keep_none(void *data, const struct alumet_buffer *buf,
                            const struct alumet_point *p)
{
    return false;
}

static int relay_handle_points(struct relay_session *s, struct pc_reader *r, size_t *ret_points,
                               struct alumet_error *err)
{
    size_t n, skipped = 0;
    int e = relay_decode_count(r, 14, &n);
    if (e < 0)
        return e;
    struct alumet_buffer *buf = alumet_autonomous_buffer(s->ctx);
    if (!buf)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    const char *sender = alumet_buffer_strdup(buf, s->sender ? s->sender : "", (size_t)-1);
    for (size_t i = 0; i < n && e == 0; i++) {
        struct relay_point pt;
        struct relay_str key;
        struct relay_value v;
        e = relay_decode_point(r, &pt);
        if (e < 0)
            break;
        alumet_metric_id id =
            pt.metric_id < s->map_len ? s->map[pt.metric_id] : ALUMET_METRIC_ID_INVALID;
        if (id == ALUMET_METRIC_ID_INVALID) {
            e = alumet_error_set(err, -ENOENT,
                                 "unknown metric id %" PRIu64 " (not in any RegisterMetrics)",
                                 pt.metric_id);
            break;
        }
        struct alumet_resource res;
        struct alumet_consumer cons;
        bool ok = id != RELAY_ID_FAILED &&
                  (pt.value.tag == RELAY_VALUE_F64 || pt.value.tag == RELAY_VALUE_U64);
        int pr = ok ? relay_points_resource(buf, pt.resource_kind, pt.resource_id, &res) : 0;
        if (pr == -EINVAL)
            alumet_log_warn("relay client '%s': invalid resource identifier for kind %.*s, "
                            "skipping the point",
                            s->sender, (int)pt.resource_kind.len, pt.resource_kind.s);
        int cr =
            ok && pr == 0 ? relay_points_consumer(buf, pt.consumer_kind, pt.consumer_id, &cons) : 0;
        if (cr == -EINVAL)
            alumet_log_warn("relay client '%s': invalid consumer identifier for kind %.*s, "
                            "skipping the point",
                            s->sender, (int)pt.consumer_kind.len, pt.consumer_kind.s);
        if (pr == -ENOMEM || cr == -ENOMEM) {
            e = alumet_error_set(err, -ENOMEM, "out of memory");
            break;
        }
        ok = ok && pr == 0 && cr == 0;
        alumet_time_ns ts = (alumet_time_ns)pt.secs * ALUMET_NSEC_PER_SEC + pt.nanos;
        struct alumet_point *p = NULL;
        if (ok && pt.value.tag == RELAY_VALUE_F64)
            p = alumet_buffer_push_f64(buf, ts, id, &res, &cons, pt.value.f64);
        else if (ok)
            p = alumet_buffer_push_u64(buf, ts, id, &res, &cons, pt.value.u64);
        if (ok && !p) {
            e = alumet_error_set(err, -ENOMEM, "out of memory");
            break;
        }
        skipped += !ok;
        for (size_t k = 0; k < pt.attr_count && e == 0; k++) {
            e = relay_decode_attr(r, &key, &v);
            if (e == 0 && p && relay_points_add_attr(buf, p, key, &v) < 0)
                e = alumet_error_set(err, -ENOMEM, "out of memory");
        }
        if (e == 0 && p && (!sender || alumet_point_add_attr_str(buf, p, "relay_client", sender)))
            e = alumet_error_set(err, -ENOMEM, "out of memory");
    }
    if (e == 0)
        e = relay_decode_end(r);
    if (e < 0) {
        alumet_buffer_retain(buf, relay_keep_none, NULL);
        alumet_autonomous_push(s->ctx, buf); /* an empty buffer is just freed */
        return e;
    }
    if (skipped)
        alumet_log_warn("relay client '%s': %zu point(s) skipped (unregistered metric or invalid "
                        "value, resource or consumer)",
                        s->sender, skipped);
    *ret_points = alumet_buffer_len(buf);
    e = alumet_autonomous_push(s->ctx, buf);
    if (e < 0)
        return alumet_error_set(err, e, "the pipeline is shutting down");
    return 0;
}

/* ---- one connection ---- */

static int relay_send(struct relay_session *s, int r, struct alumet_error *err)
{
    if (r < 0)
        return alumet_error_set(err, r, "cannot encode a reply: %s", strerror(-r));
    r = relay_conn_write(&s->conn, s->out.data, s->out.len, err);
    pc_writer_clear(&s->out);
    return r;
}

static int relay_refuse(struct relay_session *s, const char *why, struct alumet_error *err)
{
    alumet_log_warn("relay client %s ('%s') refused: %s", s->conn.peer, s->sender ? s->sender : "",
                    why);
    relay_send(s, relay_encode_refused(&s->out, "", why), NULL);
    return alumet_error_set(err, -EACCES, "refused: %s", why);
}

/* Handle the message of r. 1: go on, 0: close quietly, < 0: close with an error. */
static int relay_session_handle(struct relay_session *s, struct pc_reader *rp,
                                struct alumet_error *err)
{
    struct relay_str sender;
    uint32_t kind;
    int e = relay_decode_head(rp, &sender, &kind);
    if (e < 0)
        return e;
    if (!s->sender || !relay_str_eq(sender, s->sender)) {
        /* upstream sends the sender with every message; the first names the client */
        if (kind == RELAY_MSG_GREET || kind == RELAY_MSG_HELLO || !s->sender) {
            free(s->sender);
            if (!(s->sender = relay_dup(sender)))
                return alumet_error_set(err, -ENOMEM, "out of memory");
            s->stats = relay_stats_get(s->srv, s->sender);
        }
    }
    if (s->srv->token && !s->hello && kind != RELAY_MSG_HELLO)
        return relay_refuse(s,
                            "this relay server requires a token: set the same 'token' in "
                            "[plugins.relay-client]",
                            err);
    switch (kind) {
    case RELAY_MSG_HELLO: {
        struct relay_hello h;
        if ((e = relay_decode_hello(rp, &h)) < 0 || (e = relay_decode_end(rp)) < 0)
            return e;
        if (s->srv->token && !relay_str_eq(h.token, s->srv->token))
            return relay_refuse(s, "wrong token", err);
        s->hello = true;
        s->acks = h.acks;
        return 1;
    }
    case RELAY_MSG_GREET: {
        struct relay_greet g;
        if ((e = relay_decode_greet(rp, &g)) < 0 || (e = relay_decode_end(rp)) < 0)
            return e;
        bool ok = g.protocol_version == RELAY_PROTOCOL_VERSION;
        e = relay_send(s,
                       relay_encode_greet_response(&s->out, "", ok, ALUMET_VERSION,
                                                   RELAY_PLUGIN_VERSION, RELAY_PROTOCOL_VERSION),
                       err);
        if (e < 0)
            return e;
        if (!ok)
            return alumet_error_set(err, -EPROTO,
                                    "protocol version mismatch: the client speaks version %u, "
                                    "this server %u; refused",
                                    g.protocol_version, RELAY_PROTOCOL_VERSION);
        s->greeted = true;
        relay_stats_add(s->stats, 0, 0, 1, 0);
        alumet_log_info("relay client '%s' connected from %s%s", s->sender, s->conn.peer,
                        s->acks ? " (with acknowledgments)" : "");
        return 1;
    }
    case RELAY_MSG_REGISTER_METRICS:
        e = relay_handle_metrics(s, rp, err);
        break;
    case RELAY_MSG_SEND_MEASUREMENTS: {
        size_t n = 0;
        e = relay_handle_points(s, rp, &n, err);
        if (e == 0)
            relay_stats_add(s->stats, n, s->body.len + 4, 0, 0);
        break;
    }
    default:
        return alumet_error_set(err, -EPROTO, "unexpected message from a client (variant %u)",
                                kind);
    }
    if (e < 0)
        return e;
    s->taken++;
    if (s->acks)
        e = relay_send(s, relay_encode_ack(&s->out, "", s->taken), err);
    return e < 0 ? e : 1;
}

static int relay_session_message(struct relay_session *s, struct alumet_error *err)
{
    struct pc_reader r = pc_reader_of(s->body.data, s->body.len);
    int e = relay_session_handle(s, &r, err);
    if (e == -EBADMSG && !err->msg[0])
        alumet_error_set(err, e, "cannot decode a message: %s", r.err ? r.err : "invalid message");
    return e;
}

static void *relay_session_main(void *arg)
{
    struct relay_session *s = arg;
    struct alumet_error err = {0};
    int stop_fd = alumet_autonomous_stop_fd(s->ctx);
    alumet_thread_name("relay:", "client", "");
    int r = relay_net_accept(s->conn.fd, s->srv->tls, 10 * ALUMET_NSEC_PER_SEC, &s->conn, &err);
    if (r < 0) {
        relay_stats_add(relay_session_stats(s), 0, 0, 0, 1);
        alumet_log_warn("relay client %s: %s", s->conn.peer, err.msg);
        goto out;
    }
    alumet_log_debug("connection from %s", s->conn.peer);
    for (;;) {
        r = relay_conn_wait(&s->conn, stop_fd, -1);
        if (r == -ECANCELED) {
            r = 0;
            break;
        }
        if (r >= 0)
            r = relay_conn_read_frame(&s->conn, &s->body, &err);
        if (r > 0)
            r = relay_session_message(s, &err);
        if (r <= 0)
            break;
    }
    if (r < 0) {
        if (r == -EBADMSG || r == -EPROTO || r == -EMSGSIZE || r == -ENOENT || r == -ERANGE)
            relay_stats_add(relay_session_stats(s), 0, 0, 0, 1);
        alumet_log_error("Error in relay source connected to client %s: %s", s->conn.peer,
                         err.msg[0] ? err.msg : strerror(-r));
    }
    alumet_log_info("Client disconnected: %s", s->conn.peer);
out:
    /* the socket is closed after the join, so that the accept loop can
     * shut it down meanwhile */
    atomic_store(&s->done, true);
    return NULL;
}

static void relay_session_free(struct relay_session *s)
{
    pthread_join(s->thread, NULL);
    relay_conn_close(&s->conn);
    free(s->sender);
    free(s->map);
    pc_writer_done(&s->body);
    pc_writer_done(&s->out);
    free(s);
}

/* ---- the accept loop ---- */

static int relay_server_run(void *data, struct alumet_autonomous *ctx, struct alumet_error *err)
{
    struct relay_server *srv = data;
    int stop_fd = alumet_autonomous_stop_fd(ctx);
    struct relay_session *sessions = NULL;

    /* late registration needs the running pipeline */
    pthread_mutex_lock(&srv->lock);
    while (!srv->pipeline && !alumet_autonomous_should_stop(ctx)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
    }
    pthread_mutex_unlock(&srv->lock);
    alumet_log_info("relay server listening on %s%s", srv->address, srv->tls ? " (TLS)" : "");

    for (;;) {
        struct pollfd p[2] = {{srv->listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
        int n = poll(p, 2, 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (p[1].revents || alumet_autonomous_should_stop(ctx))
            break;
        /* reap the finished connections */
        for (struct relay_session **pp = &sessions; *pp;) {
            struct relay_session *s = *pp;
            if (atomic_load(&s->done)) {
                *pp = s->next;
                relay_session_free(s);
            } else {
                pp = &s->next;
            }
        }
        if (n <= 0 || !(p[0].revents & POLLIN))
            continue;
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct relay_session *s = calloc(1, sizeof(*s));
        if (!s) {
            close(fd);
            continue;
        }
        s->srv = srv;
        s->ctx = ctx;
        s->conn = (struct relay_conn)RELAY_CONN_INIT;
        s->conn.fd = s->fd = fd;
        if (pthread_create(&s->thread, NULL, relay_session_main, s) != 0) {
            alumet_log_error("cannot start a thread for a relay client, closing it");
            close(fd);
            free(s);
            continue;
        }
        s->next = sessions;
        sessions = s;
    }
    /* each connection sees stop_fd, acknowledges what it took and ends;
     * one stuck inside a message (a client that stalled) is cut after a
     * grace period */
    alumet_time_ns grace = alumet_time_monotonic() + 2 * ALUMET_NSEC_PER_SEC;
    for (struct relay_session *s = sessions; s; s = s->next) {
        while (!atomic_load(&s->done) && alumet_time_monotonic() < grace)
            poll(NULL, 0, 10);
        if (!atomic_load(&s->done))
            shutdown(s->fd, SHUT_RDWR);
    }
    while (sessions) {
        struct relay_session *s = sessions;
        sessions = s->next;
        relay_session_free(s);
    }
    (void)err;
    return 0;
}

static const struct alumet_autonomous_ops relay_server_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .run = relay_server_run,
};

/* ---- plugin ---- */

static void relay_server_free(void *state)
{
    struct relay_server *srv = state;
    if (!srv)
        return;
    while (srv->stats) {
        struct relay_stats *s = srv->stats;
        srv->stats = s->next;
        free(s->name);
        free(s);
    }
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    free(srv->address);
    free(srv->token);
    free(srv->tls_cert);
    free(srv->tls_key);
    free(srv->tls_ca);
    free(srv);
}

static int relay_server_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct relay_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    srv->listen_fd = -1;
    int r = relay_opt(cfg, "address", "[::]:50051", &srv->address, err);
    if (r == 0)
        r = alumet_config_get_duration(cfg, "stats_interval", 10 * ALUMET_NSEC_PER_SEC,
                                       &srv->stats_interval, err);
    if (r == 0)
        r = relay_opt(cfg, "token", "", &srv->token, err);
    if (r == 0)
        r = relay_opt(cfg, "tls_cert", "", &srv->tls_cert, err);
    if (r == 0)
        r = relay_opt(cfg, "tls_key", "", &srv->tls_key, err);
    if (r == 0)
        r = relay_opt(cfg, "tls_ca", "", &srv->tls_ca, err);
    if (r == 0)
        r = alumet_config_get_bool(cfg, "tls_require_client_cert", false,
                                   &srv->tls_require_client_cert, err);
    char host[256], port[8];
    if (r == 0 && !srv->address)
        r = alumet_config_error(cfg, "address", err, -EINVAL,
                                "expected host:port such as \"[::]:50051\", got an empty string");
    if (r == 0 && relay_net_split(srv->address, host, sizeof(host), port, sizeof(port), err) < 0)
        r = alumet_config_error(cfg, "address", err, -EINVAL, "%s", err->msg);
    if (r == 0 && (!srv->tls_cert != !srv->tls_key))
        r = alumet_config_error(cfg, srv->tls_cert ? "tls_key" : "tls_cert", err, -EINVAL,
                                "TLS needs both tls_cert and tls_key");
    if (r == 0 && (srv->tls_ca || srv->tls_require_client_cert) && !srv->tls_cert)
        r = alumet_config_error(cfg, srv->tls_ca ? "tls_ca" : "tls_require_client_cert", err,
                                -EINVAL, "client certificates need TLS: set tls_cert and tls_key");
    if (r == 0 && srv->tls_require_client_cert && !srv->tls_ca)
        r = alumet_config_error(cfg, "tls_require_client_cert", err, -EINVAL,
                                "set tls_ca to the CA that signed the client certificates");
    if (r < 0) {
        relay_server_free(srv);
        return r;
    }
    *ret_state = srv;
    return 0;
}

static int relay_server_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct relay_server *srv = state;
    static const char *const names[4] = {"relay_server_points_received",
                                         "relay_server_bytes_received", "relay_server_connections",
                                         "relay_server_decode_errors"};
    static const char *const descs[4] = {
        "points received from the relay client since start",
        "bytes of measurement messages received from the relay client since start",
        "connections of the relay client since start",
        "messages of the relay client that could not be decoded, since start"};
    int r = 0;
    if (srv->stats_interval > 0) {
        for (int i = 0; i < 4 && r == 0; i++)
            r = alumet_create_metric(ctx, names[i], ALUMET_VALUE_U64,
                                     i == 1 ? ALUMET_UNIT(BYTE) : ALUMET_UNIT(UNITY), descs[i],
                                     &srv->stat_ids[i], err);
        if (r < 0)
            return r;
    }
    struct relay_tls_opts tls = {
        srv->tls_cert != NULL,        srv->tls_cert, srv->tls_key, srv->tls_ca,
        srv->tls_require_client_cert, NULL};
    r = relay_tls_ctx_new(&tls, true, &srv->tls, err);
    if (r < 0)
        return r;
    srv->listen_fd = relay_net_listen(srv->address, err);
    if (srv->listen_fd < 0) {
        r = srv->listen_fd;
        goto err_tls;
    }
    r = alumet_add_autonomous_source(ctx, "tcp_server", &relay_server_ops, srv, err);
    if (r < 0)
        goto err_close;
    if (srv->stats_interval > 0) {
        struct alumet_source_opts o = {.size = sizeof(o), .poll_interval = srv->stats_interval};
        r = alumet_add_source(ctx, "stats", &relay_stats_ops, srv, &o, err);
        if (r < 0)
            goto err_close;
    }
    return 0;

err_close:
    close(srv->listen_fd);
    srv->listen_fd = -1;
err_tls:
    relay_tls_ctx_free(srv->tls);
    srv->tls = NULL;
    return r;
}

static int relay_server_post_start(void *state, struct alumet_post_start_ctx *ctx,
                                   struct alumet_error *err)
{
    struct relay_server *srv = state;
    pthread_mutex_lock(&srv->lock);
    srv->pipeline = alumet_post_start_pipeline(ctx);
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    return 0;
}

static int relay_server_stop(void *state, struct alumet_error *err)
{
    struct relay_server *srv = state;
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    srv->listen_fd = -1;
    relay_tls_ctx_free(srv->tls);
    srv->tls = NULL;
    srv->pipeline = NULL;
    return 0;
}

const struct alumet_plugin alumet_plugin_relay_server = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "relay-server",
    .version = RELAY_PLUGIN_VERSION,
    .default_config = RELAY_SERVER_DEFAULT_CONFIG,
    .init = relay_server_init,
    .start = relay_server_start,
    .post_pipeline_start = relay_server_post_start,
    .stop = relay_server_stop,
    .free = relay_server_free,
};
