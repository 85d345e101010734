/* SPDX-License-Identifier: MIT */
/* The names of the containers (Docker, Podman): the cgroups plugin asks the
 * container engine, over its Unix socket (src/util/container-engine.h), for
 * the name, image and labels of every container whose cgroup appears, and
 * puts them on the points of that cgroup (see README.md, "Containers").
 *
 * The lookups run in the source's poll, when a container's cgroup is set up
 * (cgroups_containers_setup, from the raw plugin's family hook), so each is limited by
 * engine_timeout; after a failure (no engine, a timeout) the engine is not asked again for 30 s, so
 * a poll waits at most one timeout, and the failure is logged once (and once more when the engine
 * answers again). The container's id is on its points in any case. Answers are kept per container
 * id (a container has cgroups in several hierarchies on v1 and hybrid hosts, and sub-cgroups) until
 * its cgroup is removed. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "cgroups.h"
#include "util/container-engine.h"
#include "util/container-id.h"

#define CGROUPS_ENGINE_BACKOFF (30 * ALUMET_NSEC_PER_SEC)

struct cgroups_known {
    char id[CONTAINER_ID_LEN + 1];
    bool found; /* false: the engine does not know it */
    struct container_info info;
};

struct cgroups_containers {
    struct cgroups *cg;
    char *socket; /* NULL: auto */
    alumet_time_ns timeout;
    struct container_engine *engine;
    struct cgroups_known *known;
    size_t n_known;
    alumet_time_ns retry_at; /* no request before (monotonic), after a failure */
    bool failing;            /* the failure was logged */
};

void cgroups_containers_free(struct cgroups *cg)
{
    struct cgroups_containers *ct = cg->containers;
    if (!ct)
        return;
    for (size_t i = 0; i < ct->n_known; i++)
        container_info_done(&ct->known[i].info);
    free(ct->known);
    container_engine_free(ct->engine);
    free(ct->socket);
    free(ct);
    cg->containers = NULL;
}

/* The attribute key of label k: container_label_<k> with every character
 * other than [A-Za-z0-9_] replaced by '_'. */
static char *cgroups_label_key(const char *k)
{
    static const char prefix[] = "container_label_";
    size_t n = strlen(k);
    char *key = malloc(sizeof(prefix) + n);
    if (!key)
        return NULL;
    memcpy(key, prefix, sizeof(prefix) - 1);
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        key[sizeof(prefix) - 1 + i] = ok ? c : '_';
    }
    key[sizeof(prefix) - 1 + n] = '\0';
    return key;
}

static int cgroups_container_attrs(const struct container_info *info, struct cgroups_attrs *attrs)
{
    int r;
    if ((r = cgroups_attrs_add_str(attrs, "container_name", info->name)) < 0 ||
        (r = cgroups_attrs_add_str(attrs, "container_image", info->image)) < 0)
        return r;
    for (size_t i = 0; i < info->n_labels; i++) {
        char *key = cgroups_label_key(info->labels[i].key);
        r = key ? cgroups_attrs_add_str(attrs, key, info->labels[i].value) : -ENOMEM;
        free(key);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The engine's answer for id: a known entry, or NULL (no answer now, or
 * -ENOMEM in *r). */
static const struct cgroups_known *cgroups_lookup(struct cgroups_containers *ct, const char *id,
                                                  int *r)
{
    struct cgroups *cg = ct->cg;
    for (size_t i = 0; i < ct->n_known; i++)
        if (strcmp(ct->known[i].id, id) == 0)
            return &ct->known[i];
    alumet_time_ns now = cg->clock(cg->clock_data);
    if (!ct->engine || (ct->failing && now < ct->retry_at))
        return NULL;

    struct cgroups_known k = {0};
    int e = container_engine_inspect(ct->engine, id, &k.info);
    if (e == -ENOMEM) {
        *r = -ENOMEM;
        return NULL;
    }
    if (e < 0 && e != -ENXIO) {
        if (!ct->failing)
            cgroups_log(cg, ALUMET_LOG_WARN,
                        "cannot ask the container engine at '%s' about container %.12s: %s; the "
                        "points of containers carry their container_id only until it answers "
                        "(asked again every 30 s, said once)",
                        container_engine_socket(ct->engine), id,
                        container_engine_error(ct->engine));
        ct->failing = true;
        ct->retry_at = now + CGROUPS_ENGINE_BACKOFF;
        return NULL;
    }
    if (ct->failing)
        cgroups_log(cg, ALUMET_LOG_INFO, "the container engine at '%s' answers again",
                    container_engine_socket(ct->engine));
    ct->failing = false;
    if (e == -ENXIO)
        cgroups_log(cg, ALUMET_LOG_DEBUG,
                    "the container engine at '%s' does not know container %.12s (another engine "
                    "runs it?)",
                    container_engine_socket(ct->engine), id);
    struct cgroups_known *a = reallocarray(ct->known, ct->n_known + 1, sizeof(*a));
    if (!a) {
        container_info_done(&k.info);
        *r = -ENOMEM;
        return NULL;
    }
    ct->known = a;
    memcpy(k.id, id, sizeof(k.id));
    k.found = e == 0;
    a[ct->n_known] = k;
    return &a[ct->n_known++];
}

int cgroups_containers_setup(struct cgroups *cg, const struct container_id *cid,
                             struct cgroups_attrs *attrs)
{
    struct cgroups_containers *ct = cg->containers;
    if (!ct)
        return 0;
    int r = cgroups_attrs_add_str(attrs, "container_id", cid->id);
    if (r < 0)
        return r;
    r = cgroups_containers_refresh(cg, cid, attrs);
    return r < 0 ? r : r == 1 ? 1 : 2;
}

int cgroups_containers_refresh(struct cgroups *cg, const struct container_id *cid,
                               struct cgroups_attrs *attrs)
{
    struct cgroups_containers *ct = cg->containers;
    int r = 0;
    const struct cgroups_known *k = ct ? cgroups_lookup(ct, cid->id, &r) : NULL;
    if (r < 0)
        return r;
    if (!k)
        return ct && ct->engine ? 0 : 1;
    if (k->found && (r = cgroups_container_attrs(&k->info, attrs)) < 0)
        return r;
    return 1;
}

/* The container's cgroup is gone: forget its answer (a later cgroup of the
 * same id asks again). */
void cgroups_containers_removed(struct cgroups *cg, const char *id)
{
    struct cgroups_containers *ct = cg->containers;
    for (size_t i = 0; ct && i < ct->n_known; i++)
        if (strcmp(ct->known[i].id, id) == 0) {
            container_info_done(&ct->known[i].info);
            ct->known[i] = ct->known[--ct->n_known];
            return;
        }
}

int cgroups_containers_init(struct cgroups *cg, struct alumet_config *cfg, struct alumet_error *err)
{
    const char *socket = NULL;
    alumet_time_ns timeout;
    int r;
    if (alumet_config_has(cfg, "engine_socket") &&
        (r = alumet_config_get_string(cfg, "engine_socket", NULL, &socket, err)) < 0)
        return r;
    if ((r = alumet_config_get_duration(cfg, "engine_timeout", ALUMET_NSEC_PER_SEC / 4, &timeout,
                                        err)) < 0)
        return r;
    if (timeout <= 0)
        return alumet_config_error(cfg, "engine_timeout", err, -EINVAL,
                                   "expected a duration greater than 0, such as \"250ms\"");
    if (socket && !*socket)
        return 0; /* off */
    struct cgroups_containers *ct = calloc(1, sizeof(*ct));
    if (!ct || (socket && !(ct->socket = strdup(socket)))) {
        free(ct);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    ct->cg = cg;
    ct->timeout = timeout;
    cg->containers = ct;
    return 0;
}

int cgroups_containers_start(struct cgroups *cg, struct alumet_error *err)
{
    struct cgroups_containers *ct = cg->containers;
    if (!ct)
        return 0;
    const char *socket = ct->socket;
    if (!socket && !(socket = container_engine_find_socket())) {
        cgroups_log(cg, ALUMET_LOG_DEBUG,
                    "no container engine socket (/run/docker.sock, /run/podman/podman.sock): "
                    "containers are not named; set engine_socket to name them");
        cgroups_containers_free(cg);
        return 0;
    }
    int r = container_engine_new(socket, ct->timeout, &ct->engine);
    if (r < 0)
        return alumet_error_set(err, r, "cannot set up the client of the container engine: %s",
                                r == -ENOMEM ? "out of memory" : "libcurl failed to initialise");
    cgroups_log(cg, ALUMET_LOG_INFO, "naming the containers with the engine at '%s'", socket);
    return 0;
}
