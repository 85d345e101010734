/* SPDX-License-Identifier: MIT */
/* Who owns a cgroup, from its path (see cgroup-owner.h). */
#include "cgroup-owner.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static bool owner_starts(const char *c, size_t n, const char *prefix)
{
    size_t lp = strlen(prefix);
    return n >= lp && memcmp(c, prefix, lp) == 0;
}

static bool owner_ends(const char *c, size_t n, const char *suffix)
{
    size_t ls = strlen(suffix);
    return n >= ls && memcmp(c + n - ls, suffix, ls) == 0;
}

static bool owner_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A pod uid at s (8-4-4-4-12 hex digits separated by '-' or '_'). */
static bool owner_uid(const char *s, size_t n, char out[37])
{
    static const int dash[] = {8, 13, 18, 23};
    if (n < 36)
        return false;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-' && s[i] != '_')
                return false;
            out[i] = '-';
            d++;
        } else {
            if (!owner_hex(s[i]))
                return false;
            out[i] = s[i];
        }
    }
    out[36] = '\0';
    return n == 36 || s[36] == '.';
}

/* "pod<uid>" in component c (its last occurrence). */
static bool owner_pod(const char *c, size_t n, char out[37])
{
    for (size_t i = n; i-- > 0;)
        if (i + 3 <= n && memcmp(c + i, "pod", 3) == 0 && owner_uid(c + i + 3, n - i - 3, out))
            return true;
    return false;
}

/* systemd's unescaping of a unit name: \xNN → the byte. */
static size_t owner_unescape(const char *s, size_t n, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        unsigned v;
        if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && owner_hex(s[i + 2]) &&
            owner_hex(s[i + 3]) && sscanf(s + i + 2, "%2x", &v) == 1) {
            buf[o++] = (char)v;
            i += 3;
        } else {
            buf[o++] = s[i];
        }
    }
    buf[o] = '\0';
    return o;
}

/* "qemu-<n>-<name>" (libvirt ≥ 1.3) or "<name>" (older): the name, "" when
 * it is empty. */
static void owner_strip_qemu(char *name)
{
    const char *p = name;
    if (strncmp(p, "qemu-", 5) != 0)
        return;
    p += 5;
    const char *digits = p;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == digits || *p != '-')
        return;
    memmove(name, p + 1, strlen(p + 1) + 1);
}

bool cgroup_owner_vm(const char *c, size_t n, char *buf, size_t size)
{
    char tmp[256];
    if (owner_starts(c, n, "machine-") && owner_ends(c, n, ".scope")) {
        /* systemd-machined: machine-<escaped machine name>.scope */
        owner_unescape(c + 8, n - 8 - 6, tmp, sizeof(tmp));
        if (strncmp(tmp, "qemu-", 5) != 0 && strncmp(tmp, "lxc-", 4) != 0)
            return false;
        if (strncmp(tmp, "qemu-", 5) == 0)
            owner_strip_qemu(tmp);
        else
            memmove(tmp, tmp + 4, strlen(tmp + 4) + 1);
    } else if (owner_ends(c, n, ".libvirt-qemu")) {
        /* libvirt's cgroupfs driver: /machine/<qemu-N-name>.libvirt-qemu */
        size_t len = n - 13;
        if (!len || len >= sizeof(tmp))
            return false;
        memcpy(tmp, c, len);
        tmp[len] = '\0';
        owner_strip_qemu(tmp);
    } else {
        return false;
    }
    if (!*tmp)
        return false;
    snprintf(buf, size, "%s", tmp);
    return true;
}

/* job_<digits> */
static bool owner_job(const char *c, size_t n, char out[21])
{
    if (!owner_starts(c, n, "job_") || n == 4 || n - 4 > 20)
        return false;
    for (size_t i = 4; i < n; i++)
        if (c[i] < '0' || c[i] > '9')
            return false;
    memcpy(out, c + 4, n - 4);
    out[n - 4] = '\0';
    return true;
}

bool cgroup_owner_from_path(const char *cpath, struct cgroup_owner *ret)
{
    memset(ret, 0, sizeof(*ret));
    bool slurm = false; /* a slurm component was seen above */
    const char *p = cpath;
    while (*p) {
        while (*p == '/')
            p++;
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - c);
        if (!n)
            break;
        char uid[37], job[21];
        if (owner_pod(c, n, uid))
            memcpy(ret->pod_uid, uid, sizeof(uid));
        if (slurm && !*ret->job_id && owner_job(c, n, job))
            memcpy(ret->job_id, job, sizeof(job));
        if (owner_starts(c, n, "slurm") || owner_ends(c, n, "slurmstepd.scope"))
            slurm = true;
        char vm[sizeof(ret->vm_name)];
        if (!*ret->vm_name && cgroup_owner_vm(c, n, vm, sizeof(vm)))
            memcpy(ret->vm_name, vm, sizeof(vm));
    }
    ret->has_container = container_id_from_cgroup(cpath, &ret->container) == 0;
    return *ret->pod_uid || *ret->job_id || *ret->vm_name || ret->has_container;
}
