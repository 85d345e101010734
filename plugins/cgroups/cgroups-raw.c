/* SPDX-License-Identifier: MIT */
/* cgroups: CPU time, memory and I/O pressure of every cgroup of the host, as
 * upstream Alumet's raw cgroups plugin 0.1.1 (see README.md), with the names
 * of the virtual machines (from the cgroup paths) and of the containers
 * (from their engine, cgroups-containers.c). This file holds the plugin
 * struct and its family hooks; the engine is cgroups.c and
 * cgroups-source.c. */
#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "cgroups.h"
#include "util/cgroup-owner.h"

/* What `config regen` writes. The hidden options proc_root, sys_root and
 * rescan_interval, and engine_socket and engine_timeout, are documented in
 * README.md only. */
#define CGROUPS_DEFAULT_CONFIG                                                                     \
    "[plugins.cgroups]\n"                                                                          \
    "# How often every cgroup is measured (cpu_time_delta, cpu_percent, memory_usage,\n"           \
    "# memory_max, cgroup_memory_*, io_pressure_*)\n"                                              \
    "poll_interval = \"5s\"\n"                                                                     \
    "# true: register the metrics but measure nothing (for other plugins' cgroup points)\n"        \
    "disable_sources = false\n"

static void cgroups_free(void *state)
{
    struct cgroups *cg = state;
    if (cg)
        cgroups_containers_free(cg);
    cgroups_common_free(cg);
}

/* Every cgroup is measured; those of a VM get vm_name, those of a container
 * its attributes (cgroups-containers.c). */
static int cgroups_setup(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                         struct cgroups_attrs *attrs)
{
    struct cgroups *cg = data;
    struct cgroup_owner o;
    int r;
    (void)h;
    if (!cgroup_owner_from_path(cpath, &o))
        return 1;
    if (*o.vm_name && (r = cgroups_attrs_add_str(attrs, "vm_name", o.vm_name)) < 0)
        return r;
    if (!o.has_container)
        return 1;
    r = cgroups_containers_setup(cg, &o.container, attrs);
    return r == 0 ? 1 : r;
}

/* A container's cgroup whose engine did not answer at its setup. */
static int cgroups_refresh(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                           struct cgroups_attrs *attrs)
{
    struct container_id cid;
    (void)h;
    if (container_id_from_cgroup(cpath, &cid) < 0)
        return 1;
    return cgroups_containers_refresh(data, &cid, attrs);
}

static void cgroups_removed(void *data, const struct cgroup_hierarchy *h, const char *cpath)
{
    struct container_id cid;
    (void)h;
    if (container_id_from_cgroup(cpath, &cid) == 0)
        cgroups_containers_removed(data, cid.id);
}

static int cgroups_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct cgroups *cg;
    int r = cgroups_common_init(cfg, "cgroups", &cg, err);
    if (r < 0)
        return r;
    if ((r = cgroups_containers_init(cg, cfg, err)) < 0) {
        cgroups_free(cg);
        return r;
    }
    cg->family = (struct cgroups_family){
        .setup = cgroups_setup, .refresh = cgroups_refresh, .removed = cgroups_removed, .data = cg};
    *ret_state = cg;
    return 0;
}

static int cgroups_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct cgroups *cg = state;
    int r = cgroups_common_start(cg, ctx, "cgroups", err);
    if (r < 0 || cg->disable_sources)
        return r;
    return cgroups_containers_start(cg, err);
}

const struct alumet_plugin alumet_plugin_cgroups = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "cgroups",
    .version = "0.1.1",
    .default_config = CGROUPS_DEFAULT_CONFIG,
    .init = cgroups_init,
    .start = cgroups_start,
    .post_pipeline_start = cgroups_common_post_pipeline_start,
    .stop = cgroups_common_stop,
    .free = cgroups_free,
};
