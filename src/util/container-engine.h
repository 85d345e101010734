/* SPDX-License-Identifier: MIT */
/* A client of the container Engine API (Docker's, which Podman serves too)
 * over its Unix socket: the name, image and labels of a container from
 * GET /containers/<id>/json.
 *
 *     struct container_engine *e;
 *     container_engine_new("/run/podman/podman.sock", 200 * 1000000, &e);
 *     struct container_info info;
 *     r = container_engine_inspect(e, id, &info);
 *         0: info.name ("web", without Docker's leading '/'), info.image (the
 *            image as the container was created from it, "nginx:1.27"),
 *            info.labels[0..n_labels); container_info_done(&info)
 *         -ENXIO: the engine does not know this container
 *         other < 0: no answer (container_engine_error(e) says why)
 *     container_engine_free(e);
 *
 * One libcurl easy handle, so the connection is kept alive between
 * requests; every request is limited to the timeout given at creation.
 * Part of libalumet-container-engine (needs libcurl). No logging; not
 * thread-safe. */
#ifndef ALUMET_UTIL_CONTAINER_ENGINE_H
#define ALUMET_UTIL_CONTAINER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* The sockets tried, in this order, when none is configured. */
#define CONTAINER_ENGINE_DEFAULT_SOCKETS                                                           \
    {                                                                                              \
        "/run/docker.sock", "/run/podman/podman.sock"                                              \
    }

struct container_label {
    char *key, *value;
};

struct container_info {
    char *name;
    char *image;
    struct container_label *labels; /* in the order of the answer */
    size_t n_labels;
};

void container_info_done(struct container_info *info);

/* Read an inspect answer: Name (leading '/' removed), Config.Image (Image
 * when absent), Config.Labels (string values only). 0, -EBADMSG when it is
 * not JSON or has no Name, -ENOMEM. */
int container_info_parse(const char *json, size_t len, struct container_info *ret);

struct container_engine;

/* socket_path copied; timeout_ns > 0 limits each request (rounded up to a
 * millisecond). 0, -ENOMEM, -EIO (libcurl could not be set up). */
int container_engine_new(const char *socket_path, int64_t timeout_ns,
                         struct container_engine **ret);
void container_engine_free(struct container_engine *e);
const char *container_engine_socket(const struct container_engine *e);

/* id: the container's id (64 hex digits) or name. See the top. */
int container_engine_inspect(struct container_engine *e, const char *id,
                             struct container_info *ret);

/* Why the last inspect failed, e.g. "Could not connect to server: Connection
 * refused" or "HTTP status 500"; "" after a success. */
const char *container_engine_error(const struct container_engine *e);

/* The first default socket that exists as a socket, or NULL. */
const char *container_engine_find_socket(void);

#endif
