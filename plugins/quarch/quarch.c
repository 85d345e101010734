/* SPDX-License-Identifier: MIT */
/* quarch: the power of a disk measured by a Quarch power analysis module,
 * read over TCP (quarch-device.c), as upstream Alumet's quarch plugin 0.1.0:
 * metric disk_power (W). The Quarch Instrument Server (QIS, a Java program)
 * is started at start unless one already listens on qis_port, and stopped
 * with the plugin. See README.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/plugin.h"
#include "alumet/source.h"
#include "quarch.h"

extern char **environ;

#define QUARCH_DEFAULT_CONFIG                                                                      \
    "[plugins.quarch]\n"                                                                           \
    "# Off by default: it needs a Quarch module; set to true to use it\n"                          \
    "enabled = false\n"                                                                            \
    "# Address (IPv4 or IPv6) and TCP port of the Quarch module\n"                                 \
    "quarch_ip = \"1.2.3.4\"\n"                                                                    \
    "quarch_port = 9760\n"                                                                         \
    "# Port of the Quarch Instrument Server (QIS), started unless it already listens\n"            \
    "qis_port = 9780\n"                                                                            \
    "# The java program, or a Java home directory (then <dir>/bin/java)\n"                         \
    "java_bin = \"path_to_java\"\n"                                                                \
    "qis_jar_path = \"path_to_qis\"\n"                                                             \
    "poll_interval = \"150ms\"\n"                                                                  \
    "flush_interval = \"1s 500ms\"\n"

#define QUARCH_QIS_WAIT (60 * ALUMET_NSEC_PER_SEC)
#define QUARCH_CONNECT_TIMEOUT (5 * ALUMET_NSEC_PER_SEC)

struct quarch {
    char *ip;
    int64_t port, qis_port;
    char *java_bin, *qis_jar;
    alumet_time_ns poll_interval, flush_interval;
    pid_t qis; /* the QIS this plugin started, 0: none */
    struct alumet_log_topic *log;
};

/* The source: owned by the core once registered. */
struct quarch_source {
    struct alumet_log_topic *log;
    char *ip;
    uint16_t port;
    unsigned sample;
    alumet_metric_id metric;
    struct quarch_conn conn;
};

static void quarch_free(void *state)
{
    struct quarch *q = state;
    if (!q)
        return;
    free(q->ip);
    free(q->java_bin);
    free(q->qis_jar);
    free(q);
}

static int quarch_get_string(struct alumet_config *cfg, const char *key, char **ret,
                             struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(cfg, key, NULL, &v, err);
    if (r == 0 && !v)
        r = alumet_config_error(cfg, key, err, -EINVAL, "missing (every option is required)");
    if (r == 0 && !(*ret = strdup(v)))
        r = alumet_error_set(err, -ENOMEM, "out of memory");
    return r;
}

static int quarch_check_port(struct alumet_config *cfg, const char *key, int64_t v,
                             struct alumet_error *err)
{
    if (v >= 1 && v <= 65535)
        return 0;
    return alumet_config_error(cfg, key, err, -EINVAL, "expected a TCP port (1 to 65535), got %lld",
                               (long long)v);
}

static int quarch_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct quarch *q = calloc(1, sizeof(*q));
    if (!q)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int r = quarch_get_string(cfg, "quarch_ip", &q->ip, err);
    if (r == 0)
        r = alumet_config_get_int(cfg, "quarch_port", 9760, &q->port, err);
    if (r == 0)
        r = alumet_config_get_int(cfg, "qis_port", 9780, &q->qis_port, err);
    if (r == 0)
        r = quarch_get_string(cfg, "java_bin", &q->java_bin, err);
    if (r == 0)
        r = quarch_get_string(cfg, "qis_jar_path", &q->qis_jar, err);
    if (r == 0)
        r = alumet_config_get_duration(cfg, "poll_interval", 150 * ALUMET_NSEC_PER_MSEC,
                                       &q->poll_interval, err);
    if (r == 0)
        r = alumet_config_get_duration(cfg, "flush_interval", 1500 * ALUMET_NSEC_PER_MSEC,
                                       &q->flush_interval, err);
    if (r == 0)
        r = quarch_check_port(cfg, "quarch_port", q->port, err);
    if (r == 0)
        r = quarch_check_port(cfg, "qis_port", q->qis_port, err);
    if (r == 0 && q->poll_interval <= 0)
        r = alumet_config_error(cfg, "poll_interval", err, -EINVAL,
                                "expected a duration longer than 0");
    if (r < 0) {
        quarch_free(q);
        return r;
    }
    *ret_state = q;
    return 0;
}

/* ---- the source ---- */

static int quarch_source_open(struct quarch_source *s, struct alumet_error *err)
{
    static const char *const setup[] = {"CONFig:DEFault STATE", "RECord:TRIGger:MODE MANUAL", NULL,
                                        "RECord:RUN"};
    char avg[16], cmd[64];
    const char *answer;
    int r = quarch_connect(&s->conn, s->ip, s->port, QUARCH_CONNECT_TIMEOUT, err);
    quarch_averaging_text(s->sample, avg);
    snprintf(cmd, sizeof(cmd), "RECord:AVEraging %s", avg);
    for (size_t i = 0; r == 0 && i < 4; i++)
        r = quarch_command(&s->conn, setup[i] ? setup[i] : cmd, &answer, err);
    if (r < 0) {
        quarch_close(&s->conn);
        return r;
    }
    alumet_log_at(s->log, ALUMET_LOG_INFO, "connected to the Quarch module at %s:%u (averaging %s)",
                  s->ip, s->port, avg);
    return 0;
}

static int quarch_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                              struct alumet_error *err)
{
    struct quarch_source *s = data;
    const char *answer;
    double watts;
    struct timespec ts;
    (void)now;

    int r = s->conn.fd < 0 ? quarch_source_open(s, err) : 0;
    if (r == 0)
        r = quarch_command(&s->conn, "Measure:OUTputs?", &answer, err);
    if (r == 0)
        r = quarch_parse_power(answer, &watts, err);
    if (r < 0) {
        /* reconnect at the next poll */
        quarch_close(&s->conn);
        return ALUMET_POLL_RETRY;
    }
    clock_gettime(CLOCK_REALTIME, &ts); /* when the module answered */
    const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    const struct alumet_consumer cons = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    alumet_time_ns t = (alumet_time_ns)ts.tv_sec * ALUMET_NSEC_PER_SEC + ts.tv_nsec;
    if (!alumet_buffer_push_f64(buf, t, s->metric, &res, &cons, watts))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return ALUMET_POLL_OK;
}

static void quarch_source_free(void *data)
{
    struct quarch_source *s = data;
    if (!s)
        return;
    if (s->conn.fd >= 0) {
        const char *answer;
        struct alumet_error e = {0};
        if (quarch_command(&s->conn, "RECord:STOP", &answer, &e) == 0)
            quarch_command(&s->conn, "$shutdown", &answer, &e);
        shutdown(s->conn.fd, SHUT_RDWR);
    }
    quarch_close(&s->conn);
    free(s->conn.buf);
    free(s->ip);
    free(s);
}

static const struct alumet_source_ops quarch_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = quarch_source_poll,
    .free = quarch_source_free,
};

/* ---- the Quarch Instrument Server ---- */

static bool quarch_qis_listens(uint16_t port)
{
    struct quarch_conn c = {.fd = -1};
    struct alumet_error e = {0};
    bool up = quarch_connect(&c, "127.0.0.1", port, ALUMET_NSEC_PER_SEC / 2, &e) == 0;
    quarch_close(&c);
    return up;
}

/* java_bin names the java program, or a Java home (upstream's meaning). */
static void quarch_java_path(const char *java_bin, char *out, size_t size)
{
    struct stat st;
    if (stat(java_bin, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(out, size, "%s/bin/java", java_bin);
    else
        snprintf(out, size, "%s", java_bin);
}

static int quarch_qis_start(struct quarch *q, struct alumet_error *err)
{
    char java[4096];
    uint16_t port = (uint16_t)q->qis_port;

    if (quarch_qis_listens(port)) {
        alumet_log_at(q->log, ALUMET_LOG_INFO, "QIS already listens on port %u, using it", port);
        return 0;
    }
    quarch_java_path(q->java_bin, java, sizeof(java));
    char *argv[] = {java, "-jar", q->qis_jar, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    /* the agent blocks the signals that its signal thread receives: the
     * child gets an empty mask and default handlers, so that SIGTERM stops it */
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int r = -posix_spawn(&q->qis, java, &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (r < 0) {
        q->qis = 0;
        return alumet_error_set(err, r,
                                "cannot start the Quarch Instrument Server '%s -jar %s': %s; set "
                                "java_bin to the java program (or a Java home) and qis_jar_path "
                                "to qis.jar",
                                java, q->qis_jar, strerror(-r));
    }
    alumet_time_ns deadline = alumet_time_monotonic() + QUARCH_QIS_WAIT;
    while (!quarch_qis_listens(port)) {
        int status;
        if (waitpid(q->qis, &status, WNOHANG) == q->qis) {
            q->qis = 0;
            return alumet_error_set(err, -ECHILD,
                                    "the Quarch Instrument Server '%s -jar %s' exited (status %d) "
                                    "before listening on port %u",
                                    java, q->qis_jar, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                    port);
        }
        if (alumet_time_monotonic() > deadline)
            return alumet_error_set(err, -ETIMEDOUT,
                                    "the Quarch Instrument Server does not listen on port %u "
                                    "after 60 s",
                                    port);
        struct timespec ts = {.tv_nsec = 100000000};
        nanosleep(&ts, NULL);
    }
    alumet_log_at(q->log, ALUMET_LOG_INFO, "started the Quarch Instrument Server (pid %d)",
                  (int)q->qis);
    return 0;
}

static void quarch_qis_stop(struct quarch *q)
{
    if (q->qis <= 0)
        return;
    kill(q->qis, SIGTERM);
    for (int i = 0; i < 50 && waitpid(q->qis, NULL, WNOHANG) == 0; i++) {
        struct timespec ts = {.tv_nsec = 100000000};
        nanosleep(&ts, NULL);
        if (i == 49) {
            kill(q->qis, SIGKILL);
            waitpid(q->qis, NULL, 0);
        }
    }
    q->qis = 0;
}

static int quarch_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct quarch *q = state;
    q->log = alumet_start_log_topic(ctx);
    int r = quarch_qis_start(q, err);
    if (r < 0)
        return r;
    struct quarch_source *s = calloc(1, sizeof(*s));
    if (!s) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_qis;
    }
    s->conn.fd = -1;
    s->log = q->log;
    s->port = (uint16_t)q->port;
    s->sample = quarch_averaging(q->poll_interval);
    s->ip = strdup(q->ip);
    if (!s->ip) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_source;
    }
    r = alumet_create_metric(ctx, "disk_power", ALUMET_VALUE_F64, ALUMET_UNIT(WATT),
                             "Disk power consumption", &s->metric, err);
    if (r < 0)
        goto err_source;
    struct alumet_source_opts opts = {.size = sizeof(opts),
                                      .poll_interval = q->poll_interval,
                                      .flush_interval = q->flush_interval};
    r = alumet_add_source(ctx, "quarch_source", &quarch_source_ops, s, &opts, err);
    if (r < 0)
        goto err_source;
    return 0;

err_source:
    quarch_source_free(s);
err_qis:
    quarch_qis_stop(q);
    return r;
}

static int quarch_stop(void *state, struct alumet_error *err)
{
    (void)err;
    quarch_qis_stop(state);
    return 0;
}

const struct alumet_plugin alumet_plugin_quarch = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "quarch",
    .version = "0.1.0",
    .default_config = QUARCH_DEFAULT_CONFIG,
    .init = quarch_init,
    .start = quarch_start,
    .stop = quarch_stop,
    .free = quarch_free,
};
