/* SPDX-License-Identifier: MIT */
/* A fake container engine for the tests: a thread serving the Engine API's
 * GET /containers/<id>/json on a Unix socket, from a scripted table.
 *
 *     struct fake_engine fe = {.answers = {{"<id>", 200, "{...}"}}, .n = 1};
 *     fake_engine_start(&fe, "/tmp/x/engine.sock");
 *     ... fe.requests counts the requests; fe.silent: accept, never answer
 *     fake_engine_stop(&fe);
 *
 * An id not in the table gets 404. One request per connection (the answer
 * says Connection: close). */
#ifndef ALUMET_TEST_ENGINE_H
#define ALUMET_TEST_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FAKE_ENGINE_MAX 8

struct fake_engine_answer {
    const char *id;
    int status;
    const char *body;
};

struct fake_engine {
    struct fake_engine_answer answers[FAKE_ENGINE_MAX];
    size_t n;
    atomic_bool silent;
    atomic_int requests;
    atomic_bool stop;
    int fd;
    pthread_t thread;
    char path[108];
};

static inline void fake_engine__serve(struct fake_engine *fe, int c)
{
    char req[4096];
    size_t len = 0;
    while (len < sizeof(req) - 1) {
        ssize_t k = read(c, req + len, sizeof(req) - 1 - len);
        if (k <= 0)
            return;
        len += (size_t)k;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    atomic_fetch_add(&fe->requests, 1);
    if (atomic_load(&fe->silent)) {
        while (!atomic_load(&fe->stop) && read(c, req, sizeof(req)) > 0)
            ;
        return;
    }
    const char *body = "{\"message\":\"no such container\"}";
    int status = 404;
    char id[256] = "";
    if (sscanf(req, "GET /containers/%255[^/]/json", id) == 1)
        for (size_t i = 0; i < fe->n; i++)
            if (strcmp(fe->answers[i].id, id) == 0) {
                status = fe->answers[i].status;
                body = fe->answers[i].body;
            }
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0)
        return;
}

static inline void *fake_engine__run(void *data)
{
    struct fake_engine *fe = data;
    for (;;) {
        int c = accept(fe->fd, NULL, NULL);
        if (c < 0 || atomic_load(&fe->stop)) {
            if (c >= 0)
                close(c);
            return NULL;
        }
        fake_engine__serve(fe, c);
        close(c);
    }
}

static inline int fake_engine_start(struct fake_engine *fe, const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path))
        return -1;
    memcpy(a.sun_path, path, strlen(path) + 1);
    memcpy(fe->path, path, strlen(path) + 1);
    fe->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fe->fd < 0 || bind(fe->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fe->fd, 8) < 0)
        return -1;
    return pthread_create(&fe->thread, NULL, fake_engine__run, fe) == 0 ? 0 : -1;
}

static inline void fake_engine_stop(struct fake_engine *fe)
{
    atomic_store(&fe->stop, true);
    shutdown(fe->fd, SHUT_RDWR);
    /* wake accept() */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, fe->path, sizeof(fe->path));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (c >= 0) {
        if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
            /* accept already failed on the shut down socket */
        }
        close(c);
    }
    pthread_join(fe->thread, NULL);
    close(fe->fd);
    unlink(fe->path);
}

#endif
