/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "util/format.h"

#include "alumet/resource.h"

static const char *const resource_kind_names[] = {
#define X(id, name) [ALUMET_RESOURCE_##id] = name,
    ALUMET_RESOURCE_KINDS(X)
#undef X
};
static const char *const consumer_kind_names[] = {
#define X(id, name) [ALUMET_CONSUMER_##id] = name,
    ALUMET_CONSUMER_KINDS(X)
#undef X
};

const char *alumet_resource_kind_name(const struct alumet_resource *r)
{
    if (r->kind == ALUMET_RESOURCE_CUSTOM || r->kind < 0 || r->kind >= _ALUMET_RESOURCE_MAX)
        return r->custom_kind ? r->custom_kind : "";
    return resource_kind_names[r->kind];
}

const char *alumet_consumer_kind_name(const struct alumet_consumer *c)
{
    if (c->kind == ALUMET_CONSUMER_CUSTOM || c->kind < 0 || c->kind >= _ALUMET_CONSUMER_MAX)
        return c->custom_kind ? c->custom_kind : "";
    return consumer_kind_names[c->kind];
}

/* Copy text (len bytes) into buf like snprintf would; returns len. Ids are
 * formatted for every point by outputs: no printf here (it was 14% of the
 * CPU time of the csv output). */
static size_t id_copy(char *buf, size_t size, const char *text, size_t len)
{
    if (size) {
        size_t n = len < size ? len : size - 1;
        memcpy(buf, text, n);
        buf[n] = '\0';
    }
    return len;
}

static size_t id_num(char *buf, size_t size, uint32_t num)
{
    char tmp[FORMAT_U64_MAX];
    return id_copy(buf, size, tmp, format_u64(num, tmp));
}

static size_t id_str(char *buf, size_t size, const char *s)
{
    return s ? id_copy(buf, size, s, strlen(s)) : id_copy(buf, size, "", 0);
}

size_t alumet_resource_id_text(const struct alumet_resource *r, char *buf, size_t size)
{
    switch (r->kind) {
    case ALUMET_RESOURCE_LOCAL_MACHINE:
        return id_copy(buf, size, "", 0);
    case ALUMET_RESOURCE_CPU_PACKAGE:
    case ALUMET_RESOURCE_CPU_CORE:
    case ALUMET_RESOURCE_DRAM:
        return id_num(buf, size, r->num);
    case ALUMET_RESOURCE_GPU_PARTITION: {
        char tmp[FORMAT_U64_MAX];
        size_t n = id_str(buf, size, r->str);
        size_t m = format_u64(r->num, tmp);
        if (n + 1 < size)
            id_copy(buf + n, size - n, "/", 1);
        if (n + 1 < size)
            id_copy(buf + n + 1, size - n - 1, tmp, m);
        return n + 1 + m;
    }
    default:
        return id_str(buf, size, r->str);
    }
}

size_t alumet_consumer_id_text(const struct alumet_consumer *c, char *buf, size_t size)
{
    switch (c->kind) {
    case ALUMET_CONSUMER_LOCAL_MACHINE:
        return id_copy(buf, size, "", 0);
    case ALUMET_CONSUMER_PROCESS:
        return id_num(buf, size, c->num);
    default:
        return id_str(buf, size, c->str);
    }
}
