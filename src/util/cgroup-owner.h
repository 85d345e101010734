/* SPDX-License-Identifier: MIT */
/* Who owns a cgroup, from its path: the Kubernetes pod, the Slurm job, the
 * container (container-id.h), the virtual machine (libvirt, systemd-machined)
 * whose names the orchestrators put in the cgroups they create:
 *
 *   pod      .../kubepods-besteffort-pod<uid with _>.slice/...  (systemd driver)
 *            /kubepods/besteffort/pod<uid>/...                  (cgroupfs driver)
 *   job      /slurm/uid_<u>/job_<j>/...                         (v1)
 *            /system.slice/slurmstepd.scope/job_<j>/...         (v2; <node>_slurmstepd.scope)
 *   vm       /machine.slice/machine-qemu\x2d1\x2dmyvm.scope/... (libvirt, systemd; machined
 *                                                               escapes '-' as \x2d)
 *            /machine/qemu-1-myvm.libvirt-qemu/...              (libvirt, cgroupfs)
 *
 * Components below the owner's (a container's sub-cgroup, a VM's vcpu0,
 * a job's step) keep the owner.
 *
 *     struct cgroup_owner o;
 *     cgroup_owner_from_path("/machine.slice/machine-qemu\\x2d1\\x2dmyvm.scope", &o);
 *     o.vm_name: "myvm"
 *
 * No allocation, no logging. */
#ifndef ALUMET_UTIL_CGROUP_OWNER_H
#define ALUMET_UTIL_CGROUP_OWNER_H

#include <stdbool.h>
#include <stddef.h>

#include "container-id.h"

struct cgroup_owner {
    char pod_uid[37];  /* "5f32d849-6210-4886-a48d-e0d90e1d0206", "" when none */
    char job_id[21];   /* Slurm job id, "" when none */
    char vm_name[256]; /* "" when none */
    bool has_container;
    struct container_id container;
};

/* Fill *ret from the canonical path cpath (borrowed); true when any owner
 * was found. */
bool cgroup_owner_from_path(const char *cpath, struct cgroup_owner *ret);

/* The VM of one path component (libvirt's scope or cgroupfs directory) into
 * buf; false when the component names no VM. */
bool cgroup_owner_vm(const char *component, size_t len, char *buf, size_t size);

#endif
