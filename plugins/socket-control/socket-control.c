/* SPDX-License-Identifier: MIT */
/* socket-control: control the running agent through a Unix stream socket.
 * Text lines in, one reply line out per command ("ok", "ok: ..." for
 * status, "error: ..."). One thread, started after the pipeline, polls the
 * listening socket and an eventfd that the stop writes; clients are served
 * one at a time, lines in order. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alumet/alumet.h"
#include "socket-control.h"
#include "util/pathcheck.h"
#include "util/strbuf.h"

#define SOCKCTL_DEFAULT_CONFIG                                                                     \
    "[plugins.socket-control]\n"                                                                   \
    "# Off by default (it opens a socket in the working directory); set to true to\n"              \
    "# change the measurement while the agent runs\n"                                              \
    "enabled = false\n"                                                                            \
    "# Unix socket to listen on, relative to the working directory\n"                              \
    "socket_path = \"alumet-control.sock\"\n"

struct socket_control {
    char *path;
    mode_t mode;
    struct alumet_log_topic *log;
    /* from post_pipeline_start to stop */
    struct alumet_pipeline *pipeline;
    int listen_fd, stop_fd;
    dev_t dev; /* of the socket file we bound: only that one is removed */
    ino_t ino;
    pthread_t thread;
    bool running;
};

static void socket_control_free(void *state)
{
    struct socket_control *sc = state;
    if (!sc)
        return;
    free(sc->path);
    free(sc);
}

static int socket_control_init(struct alumet_config *cfg, void **ret_state,
                               struct alumet_error *err)
{
    struct socket_control *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    sc->listen_fd = sc->stop_fd = -1;
    const char *path = NULL, *mode = NULL;
    int r = alumet_config_get_string(cfg, "socket_path", "alumet-control.sock", &path, err);
    if (r == 0)
        r = alumet_config_get_string(cfg, "socket_mode", "0600", &mode, err);
    if (r < 0)
        goto err_free;
    /* every value is checked before the first error is returned: `config
     * check` reports them all */
    char why[512];
    if (path[0] == '\0' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        r = alumet_config_error(cfg, "socket_path", err, -EINVAL,
                                "expected a non-empty path of at most %zu bytes (a limit of Unix "
                                "sockets), got %zu bytes; use a shorter or relative path",
                                sizeof(((struct sockaddr_un *)0)->sun_path) - 1, strlen(path));
    else if (alumet_config_checking() &&
             pathcheck_writable(path, PATHCHECK_SOCKET, why, sizeof(why)) < 0)
        r = alumet_config_error(cfg, "socket_path", err, -EINVAL, "%s", why);
    char *end;
    errno = 0;
    unsigned long m = strtoul(mode, &end, 8);
    if (mode[0] < '0' || mode[0] > '7' || *end || errno || m > 0777)
        r = alumet_config_error(cfg, "socket_mode", err, -EINVAL,
                                "expected permissions in octal such as \"0600\" or \"0660\", got "
                                "'%s'",
                                mode);
    if (r < 0)
        goto err_free;
    sc->mode = (mode_t)m;
    sc->path = strdup(path);
    if (!sc->path) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret_state = sc;
    return 0;
err_free:
    socket_control_free(sc);
    return r;
}

static int socket_control_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    (void)err;
    struct socket_control *sc = state;
    sc->log = alumet_start_log_topic(ctx);
    return 0;
}

/* ---- commands ---- */

static const char *const sockctl_kind_names[] = {"source", "transform", "output"};

static void sockctl_status_line(void *data, enum alumet_element_kind kind, const char *plugin,
                                const char *name, const char *state, alumet_time_ns poll_interval)
{
    struct strbuf *sb = data;
    strbuf_printf(sb, "%s%s/%s/%s %s", sb->len > 3 ? "; " : " ", sockctl_kind_names[kind], plugin,
                  name, state);
    if (poll_interval > 0) {
        char d[64];
        alumet_duration_format(poll_interval, d, sizeof(d));
        strbuf_printf(sb, " %s", d);
    }
}

/* The reply to a status command: "ok: source/p/n running 1s; output/csv/out running" */
static char *sockctl_status(struct socket_control *sc)
{
    struct strbuf sb = strbuf_of(NULL, 0);
    strbuf_printf(&sb, "ok:");
    alumet_pipeline_list_elements(sc->pipeline, sockctl_status_line, &sb);
    /* the same listing again into a buffer of the right size (the
     * elements cannot change in between, only their states) */
    size_t size = sb.len + 256;
    char *buf = malloc(size);
    if (!buf)
        return NULL;
    sb = strbuf_of(buf, size);
    strbuf_printf(&sb, "ok:");
    alumet_pipeline_list_elements(sc->pipeline, sockctl_status_line, &sb);
    return buf;
}

/* Run a parsed control command; returns the reply (caller frees), NULL on -ENOMEM. */
static char *sockctl_control(struct socket_control *sc, const struct sockctl_command *c)
{
    static const char *const verbs[] = {
        [SOCKCTL_PAUSE] = "pause", [SOCKCTL_RESUME] = "resume", [SOCKCTL_STOP] = "stop"};
    if (c->kind == SOCKCTL_KIND_OUTPUT)
        return strbuf_newf("error: this agent cannot %s outputs (only sources and transforms can "
                           "be controlled); see the socket-control README",
                           verbs[c->action]);
    enum alumet_control_op op = ALUMET_CONTROL_PAUSE;
    switch (c->action) {
    case SOCKCTL_PAUSE:
        op = c->kind == SOCKCTL_KIND_TRANSFORM ? ALUMET_CONTROL_DISABLE : ALUMET_CONTROL_PAUSE;
        break;
    case SOCKCTL_RESUME:
        op = c->kind == SOCKCTL_KIND_TRANSFORM ? ALUMET_CONTROL_ENABLE : ALUMET_CONTROL_RESUME;
        break;
    case SOCKCTL_STOP:
        op = ALUMET_CONTROL_STOP;
        break;
    case SOCKCTL_SET_PERIOD:
        op = ALUMET_CONTROL_SET_INTERVAL;
        break;
    case SOCKCTL_TRIGGER_NOW:
        op = ALUMET_CONTROL_TRIGGER_NOW;
        break;
    }
    struct alumet_error e = {0};
    int r = alumet_pipeline_control(sc->pipeline, c->pattern, op, c->period, &e);
    if (r < 0)
        return strbuf_newf("error: %s", e.msg);
    if (r == 0)
        return strbuf_newf("error: no element matches '%s'", c->pattern);
    return strbuf_newf("ok");
}

/* Execute one line; returns the reply without newline (caller frees), or
 * NULL for a blank line and on -ENOMEM. Sets *shutdown for a shutdown. */
static char *sockctl_execute(struct socket_control *sc, const char *line, bool *shutdown)
{
    struct sockctl_command c;
    struct alumet_error e = {0};
    char *reply;
    if (sockctl_parse(line, &c, &e) < 0) {
        reply = strbuf_newf("error: %s", e.msg);
    } else if (c.verb == SOCKCTL_NOOP) {
        return NULL;
    } else if (c.verb == SOCKCTL_SHUTDOWN) {
        alumet_log_at(sc->log, ALUMET_LOG_INFO, "shutdown requested on the control socket");
        *shutdown = true;
        return strbuf_newf("ok");
    } else if (c.verb == SOCKCTL_STATUS) {
        return sockctl_status(sc);
    } else {
        reply = sockctl_control(sc, &c);
    }
    if (reply && strncmp(reply, "error: ", 7) == 0)
        alumet_log_at(sc->log, ALUMET_LOG_WARN, "Error in unix socket processing: %s (line '%s')",
                      reply + 7, line);
    else
        alumet_log_at(sc->log, ALUMET_LOG_INFO, "control socket: '%s': %s", line,
                      reply ? reply : "out of memory");
    return reply;
}

/* ---- the listener thread ---- */

/* A reply is best effort: a client that does not read them (upstream's
 * clients) must not block the listener, so a full socket drops it. */
static void sockctl_reply(int fd, const char *reply)
{
    char *line = strbuf_newf("%s\n", reply ? reply : "error: out of memory");
    if (!line)
        return;
    size_t len = strlen(line);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(line);
}

/* Serve one client until it closes or the plugin stops; returns false
 * when the plugin stops. */
static bool sockctl_serve(struct socket_control *sc, int fd)
{
    char buf[SOCKCTL_LINE_MAX + 2];
    size_t len = 0;
    bool too_long = false, open = true;
    while (open) {
        struct pollfd fds[2] = {{sc->stop_fd, POLLIN, 0}, {fd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return true;
        }
        if (fds[0].revents)
            return false;
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* end of the stream: the last line may lack its newline */
            open = false;
            if (len == 0)
                break;
            buf[len++] = '\n';
        } else {
            len += (size_t)n;
        }
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = '\0';
            if (too_long) {
                too_long = false;
            } else {
                bool shutdown = false;
                char *reply = sockctl_execute(sc, start, &shutdown);
                if (reply || shutdown)
                    sockctl_reply(fd, reply);
                free(reply);
                if (shutdown)
                    alumet_pipeline_request_shutdown(sc->pipeline);
            }
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof(buf) - 1) {
            /* no newline in a full buffer: refuse the line, skip to its end */
            if (!too_long) {
                alumet_log_at(sc->log, ALUMET_LOG_WARN,
                              "Error in unix socket processing: line too long (more than %d "
                              "bytes)",
                              SOCKCTL_LINE_MAX);
                sockctl_reply(fd, "error: line too long (more than 4095 bytes)");
            }
            too_long = true;
            len = 0;
        }
    }
    return true;
}

static void *sockctl_main(void *arg)
{
    struct socket_control *sc = arg;
    for (;;) {
        struct pollfd fds[2] = {{sc->stop_fd, POLLIN, 0}, {sc->listen_fd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            alumet_log_at(sc->log, ALUMET_LOG_ERROR, "control socket: poll failed: %s",
                          strerror(errno));
            return NULL;
        }
        if (fds[0].revents)
            return NULL;
        int fd = accept4(sc->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e != EINTR && e != EAGAIN && e != ECONNABORTED) {
                alumet_log_at(sc->log, ALUMET_LOG_ERROR,
                              "control socket: cannot accept a client: %s", strerror(e));
                /* such as EMFILE: wait a little rather than spin */
                poll(fds, 1, 100);
            }
            continue;
        }
        bool go_on = sockctl_serve(sc, fd);
        close(fd);
        if (!go_on)
            return NULL;
    }
}

/* ---- lifecycle ---- */

/* An existing file at the path: a stale socket (an agent that crashed) is
 * replaced; a socket where an agent still listens, or any other file, is
 * an error rather than a silent takeover or a deleted file. */
static int sockctl_clear_path(struct socket_control *sc, const struct sockaddr_un *addr,
                              struct alumet_error *err)
{
    struct stat st;
    if (lstat(sc->path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return alumet_error_set(err, -EEXIST,
                                "cannot create the control socket '%s': a file that is not a "
                                "socket exists there; remove it or set "
                                "plugins.socket-control.socket_path",
                                sc->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
        close(fd);
        return alumet_error_set(err, -EADDRINUSE,
                                "cannot create the control socket '%s': another process (another "
                                "agent?) is listening on it; stop it or set "
                                "plugins.socket-control.socket_path",
                                sc->path);
    }
    if (fd >= 0)
        close(fd);
    if (unlink(sc->path) < 0 && errno != ENOENT) {
        int r = -errno;
        return alumet_error_set(err, r,
                                "cannot remove the stale control socket '%s': %s; remove it or "
                                "set plugins.socket-control.socket_path",
                                sc->path, strerror(-r));
    }
    return 0;
}

static int socket_control_post_start(void *state, struct alumet_post_start_ctx *ctx,
                                     struct alumet_error *err)
{
    struct socket_control *sc = state;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sc->path);
    int r = sockctl_clear_path(sc, &addr, err);
    if (r < 0)
        return r;
    sc->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sc->listen_fd < 0) {
        r = -errno;
        return alumet_error_set(err, r, "cannot create the control socket: %s", strerror(-r));
    }
    /* Linux gives the socket file the mode of the socket's inode (minus
     * the umask): set it before bind, so that the file never exists with
     * wider permissions; chmod after bind makes it exact */
    if (fchmod(sc->listen_fd, sc->mode) < 0)
        alumet_log_at(sc->log, ALUMET_LOG_DEBUG, "fchmod on the socket: %s", strerror(errno));
    if (bind(sc->listen_fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
        r = -errno;
        alumet_error_set(err, r,
                         "cannot bind the control socket '%s': %s (errno %d); check that its "
                         "directory exists and is writable by the agent, or set "
                         "plugins.socket-control.socket_path",
                         sc->path, strerror(-r), -r);
        goto err_close;
    }
    struct stat st;
    if (chmod(sc->path, sc->mode) < 0 || stat(sc->path, &st) < 0) {
        r = -errno;
        alumet_error_set(err, r, "cannot set the permissions of the control socket '%s': %s",
                         sc->path, strerror(-r));
        goto err_unlink;
    }
    sc->dev = st.st_dev;
    sc->ino = st.st_ino;
    if (listen(sc->listen_fd, 16) < 0) {
        r = -errno;
        alumet_error_set(err, r, "cannot listen on the control socket '%s': %s", sc->path,
                         strerror(-r));
        goto err_unlink;
    }
    sc->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (sc->stop_fd < 0) {
        r = -errno;
        alumet_error_set(err, r, "cannot create an eventfd: %s", strerror(-r));
        goto err_unlink;
    }
    sc->pipeline = alumet_post_start_pipeline(ctx);
    r = -pthread_create(&sc->thread, NULL, sockctl_main, sc);
    if (r < 0) {
        alumet_error_set(err, r, "cannot start the control socket thread: %s", strerror(-r));
        goto err_close_stop;
    }
    sc->running = true;
    alumet_log_at(sc->log, ALUMET_LOG_INFO, "listening for commands on the Unix socket '%s'",
                  sc->path);
    return 0;
err_close_stop:
    close(sc->stop_fd);
    sc->stop_fd = -1;
err_unlink:
    unlink(sc->path);
err_close:
    close(sc->listen_fd);
    sc->listen_fd = -1;
    return r;
}

static int socket_control_stop(void *state, struct alumet_error *err)
{
    (void)err;
    struct socket_control *sc = state;
    if (sc->running) {
        uint64_t one = 1;
        if (write(sc->stop_fd, &one, sizeof(one)) < 0)
            alumet_log_at(sc->log, ALUMET_LOG_DEBUG, "eventfd write: %s", strerror(errno));
        pthread_join(sc->thread, NULL);
        sc->running = false;
    }
    if (sc->stop_fd >= 0)
        close(sc->stop_fd);
    if (sc->listen_fd >= 0) {
        close(sc->listen_fd);
        /* only our socket: another agent may have replaced it meanwhile */
        struct stat st;
        if (lstat(sc->path, &st) == 0 && st.st_dev == sc->dev && st.st_ino == sc->ino &&
            unlink(sc->path) < 0)
            alumet_log_at(sc->log, ALUMET_LOG_WARN, "cannot remove the control socket '%s': %s",
                          sc->path, strerror(errno));
    }
    sc->stop_fd = sc->listen_fd = -1;
    sc->pipeline = NULL;
    return 0;
}

const struct alumet_plugin alumet_plugin_socket_control = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "socket-control",
    .version = "0.2.1",
    .default_config = SOCKCTL_DEFAULT_CONFIG,
    .init = socket_control_init,
    .start = socket_control_start,
    .post_pipeline_start = socket_control_post_start,
    .stop = socket_control_stop,
    .free = socket_control_free,
};
