/* SPDX-License-Identifier: MIT */
/* The container of a cgroup, from its path: the runtime and the container id
 * that Docker, containerd (CRI), CRI-O and Podman (libpod) put in the names of
 * the cgroups they create, with the systemd and the cgroupfs drivers:
 *
 *   systemd driver                      cgroupfs driver
 *   .../docker-<id>.scope               /docker/<id>
 *   .../cri-containerd-<id>.scope       /kubepods/.../pod<uid>/<id>  (any CRI runtime)
 *   .../crio-<id>.scope                 /machine.slice/libpod-<id>... (see below)
 *   .../crio-conmon-<id>.scope          (CRI-O's monitor: not a container)
 *   .../libpod-<id>.scope               /libpod_parent/libpod-<id>
 *   .../libpod-conmon-<id>.scope        (Podman's monitor: not a container)
 *
 * An id is 64 lowercase hexadecimal digits. The last component of the path
 * that names a container wins; a component below it (a ".../container"
 * sub-cgroup that some runtimes create) keeps the container's id.
 *
 *     struct container_id c;
 *     if (container_id_from_cgroup("/system.slice/docker-ab12....scope", &c) == 0)
 *         use c.runtime ("docker") and c.id
 *
 * No allocation, no logging. */
#ifndef ALUMET_UTIL_CONTAINER_ID_H
#define ALUMET_UTIL_CONTAINER_ID_H

#define CONTAINER_ID_LEN 64

struct container_id {
    const char *runtime; /* "docker", "containerd", "crio", "libpod", or "cri" (cgroupfs
                            driver below a kubepods pod: the runtime is not in the name) */
    char id[CONTAINER_ID_LEN + 1];
};

/* The container of the cgroup at canonical path cpath (borrowed). 0, or
 * -ENOENT when no component of the path names a container. */
int container_id_from_cgroup(const char *cpath, struct container_id *ret);

#endif
