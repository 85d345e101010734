/* SPDX-License-Identifier: MIT */
/* The container of a cgroup from its path (see container-id.h). */
#include "container-id.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static bool container_is_id(const char *s, size_t n)
{
    if (n != CONTAINER_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool container_starts(const char *c, size_t n, const char *prefix)
{
    size_t lp = strlen(prefix);
    return n >= lp && memcmp(c, prefix, lp) == 0;
}

/* Whether the path before component c (prev[0..plen)) is a cgroupfs parent
 * of containers: "docker", "libpod_parent", or a kubepods pod "pod<uid>". */
static const char *container_cgroupfs_parent(const char *prev, size_t plen)
{
    if (plen == 6 && memcmp(prev, "docker", 6) == 0)
        return "docker";
    if (plen > 3 && memcmp(prev, "pod", 3) == 0)
        return "cri";
    return NULL;
}

/* The container named by component c[0..n), whose parent component is
 * prev[0..plen) (plen 0 at the top). */
static int container_component(const char *prev, size_t plen, const char *c, size_t n,
                               struct container_id *ret)
{
    static const struct {
        const char *prefix, *runtime;
    } scopes[] = {
        {"docker-", "docker"},
        {"cri-containerd-", "containerd"},
        {"crio-", "crio"},
        {"libpod-", "libpod"},
    };
    static const char scope[] = ".scope";
    const size_t ls = sizeof(scope) - 1;
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        if (!container_starts(c, n, scopes[i].prefix))
            continue;
        const char *id = c + strlen(scopes[i].prefix);
        size_t len = (size_t)(c + n - id);
        if (len >= ls && memcmp(id + len - ls, scope, ls) == 0)
            len -= ls; /* the systemd driver's scope; libpod's cgroupfs names have none */
        if (!container_is_id(id, len))
            return -ENOENT; /* crio-conmon-<id>, libpod-conmon-<id>: monitors */
        ret->runtime = scopes[i].runtime;
        memcpy(ret->id, id, len);
        ret->id[len] = '\0';
        return 0;
    }
    const char *runtime = container_cgroupfs_parent(prev, plen);
    if (runtime && container_is_id(c, n)) {
        ret->runtime = runtime;
        memcpy(ret->id, c, n);
        ret->id[n] = '\0';
        return 0;
    }
    return -ENOENT;
}

int container_id_from_cgroup(const char *cpath, struct container_id *ret)
{
    const char *prev = "";
    size_t plen = 0;
    int found = -ENOENT;
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
        struct container_id cur;
        if (container_component(prev, plen, c, n, &cur) == 0) {
            *ret = cur;
            found = 0;
        }
        prev = c;
        plen = n;
    }
    return found;
}
