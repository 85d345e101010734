/* SPDX-License-Identifier: MIT */
/* The cgroups plugin built without libcurl: no container names (see
 * cgroups-containers.c); engine_socket can only be "" (off). */
#include <errno.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "cgroups.h"

int cgroups_containers_init(struct cgroups *cg, struct alumet_config *cfg, struct alumet_error *err)
{
    const char *socket = "";
    alumet_time_ns timeout;
    int r;
    (void)cg;
    if ((r = alumet_config_get_string(cfg, "engine_socket", "", &socket, err)) < 0 ||
        (r = alumet_config_get_duration(cfg, "engine_timeout", 0, &timeout, err)) < 0)
        return r;
    if (*socket)
        return alumet_config_error(cfg, "engine_socket", err, -EINVAL,
                                   "this agent was built without libcurl, so it cannot ask a "
                                   "container engine; remove engine_socket");
    return 0;
}

int cgroups_containers_start(struct cgroups *cg, struct alumet_error *err)
{
    (void)cg;
    (void)err;
    return 0;
}

void cgroups_containers_free(struct cgroups *cg)
{
    (void)cg;
}

int cgroups_containers_setup(struct cgroups *cg, const struct container_id *cid,
                             struct cgroups_attrs *attrs)
{
    (void)cg;
    (void)cid;
    (void)attrs;
    return 0;
}

int cgroups_containers_refresh(struct cgroups *cg, const struct container_id *cid,
                               struct cgroups_attrs *attrs)
{
    (void)cg;
    (void)cid;
    (void)attrs;
    return 1;
}

void cgroups_containers_removed(struct cgroups *cg, const char *id)
{
    (void)cg;
    (void)id;
}
