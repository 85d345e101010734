/* SPDX-License-Identifier: MIT */
#include <stdio.h>

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

static size_t id_text(char *buf, size_t size, const char *fmt, ...) ALUMET_PRINTF(3, 4);

#include <stdarg.h>
static size_t id_text(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 ? 0 : (size_t)n;
}

size_t alumet_resource_id_text(const struct alumet_resource *r, char *buf, size_t size)
{
    switch (r->kind) {
    case ALUMET_RESOURCE_LOCAL_MACHINE:
        return id_text(buf, size, "%s", "");
    case ALUMET_RESOURCE_CPU_PACKAGE:
    case ALUMET_RESOURCE_CPU_CORE:
    case ALUMET_RESOURCE_DRAM:
        return id_text(buf, size, "%u", r->num);
    case ALUMET_RESOURCE_GPU_PARTITION:
        return id_text(buf, size, "%s/%u", r->str ? r->str : "", r->num);
    default:
        return id_text(buf, size, "%s", r->str ? r->str : "");
    }
}

size_t alumet_consumer_id_text(const struct alumet_consumer *c, char *buf, size_t size)
{
    switch (c->kind) {
    case ALUMET_CONSUMER_LOCAL_MACHINE:
        return id_text(buf, size, "%s", "");
    case ALUMET_CONSUMER_PROCESS:
        return id_text(buf, size, "%u", c->num);
    default:
        return id_text(buf, size, "%s", c->str ? c->str : "");
    }
}
