/* SPDX-License-Identifier: MIT */
/* The metric registry: an append-only two-level array. Writers take a mutex;
 * readers load the published count (acquire) and never lock, so outputs can
 * read while plugins register metrics late. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

#define REG_CHUNK 256
#define REG_MAX_CHUNKS 4096

struct alumet_registry {
    pthread_mutex_t lock;
    atomic_size_t count;
    struct alumet_metric *chunks[REG_MAX_CHUNKS];
};

struct alumet_registry *alumet__registry_new(void)
{
    struct alumet_registry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

static void registry_metric_done(struct alumet_metric *m)
{
    free((char *)m->name);
    free((char *)m->description);
    free((char *)m->unit_unique);
    free((char *)m->unit_display);
    free((char *)m->unit.custom_unique);
    free((char *)m->unit.custom_display);
}

void alumet__registry_free(struct alumet_registry *reg)
{
    if (!reg)
        return;
    size_t n = atomic_load(&reg->count);
    for (size_t i = 0; i < n; i++)
        registry_metric_done(&reg->chunks[i / REG_CHUNK][i % REG_CHUNK]);
    for (size_t c = 0; c < REG_MAX_CHUNKS && reg->chunks[c]; c++)
        free(reg->chunks[c]);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

const struct alumet_metric *alumet_registry_get(const struct alumet_registry *reg,
                                                alumet_metric_id id)
{
    size_t n = atomic_load_explicit(&((struct alumet_registry *)reg)->count, memory_order_acquire);
    if (id >= n)
        return NULL;
    return &reg->chunks[id / REG_CHUNK][id % REG_CHUNK];
}

size_t alumet_registry_count(const struct alumet_registry *reg)
{
    return atomic_load_explicit(&((struct alumet_registry *)reg)->count, memory_order_acquire);
}

const struct alumet_metric *alumet_registry_find(const struct alumet_registry *reg,
                                                 const char *name)
{
    size_t n = alumet_registry_count(reg);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_metric *m = &reg->chunks[i / REG_CHUNK][i % REG_CHUNK];
        if (strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

static bool registry_same_unit(const struct alumet_unit *a, const struct alumet_unit *b)
{
    if (a->base != b->base || a->prefix != b->prefix)
        return false;
    if (a->base != ALUMET_UNIT_CUSTOM)
        return true;
    return strcmp(a->custom_unique ? a->custom_unique : "",
                  b->custom_unique ? b->custom_unique : "") == 0 &&
           strcmp(a->custom_display ? a->custom_display : "",
                  b->custom_display ? b->custom_display : "") == 0;
}

static char *registry_dup_unit_name(const struct alumet_unit *u, bool unique)
{
    char tmp[256];
    size_t n = unique ? alumet_unit_unique_name(u, tmp, sizeof(tmp))
                      : alumet_unit_display_name(u, tmp, sizeof(tmp));
    (void)n;
    return strdup(tmp);
}

int alumet__registry_add(struct alumet_registry *reg, const char *name, enum alumet_value_type type,
                         struct alumet_unit unit, const char *desc, alumet_metric_id *ret_id,
                         struct alumet_error *err)
{
    int r = 0;
    if (!name || !*name)
        return alumet_error_set(err, -EINVAL, "a metric name cannot be empty");
    if (type != ALUMET_VALUE_F64 && type != ALUMET_VALUE_U64)
        return alumet_error_set(err, -EINVAL, "metric '%s': invalid value type", name);
    pthread_mutex_lock(&reg->lock);
    const struct alumet_metric *old = alumet_registry_find(reg, name);
    if (old) {
        if (old->value_type == type && registry_same_unit(&old->unit, &unit)) {
            if (ret_id)
                *ret_id = old->id;
        } else {
            r = alumet_error_set(err, -EEXIST, "this metric has already been registered: %s", name);
        }
        goto out;
    }
    size_t n = atomic_load(&reg->count);
    if (n >= (size_t)REG_CHUNK * REG_MAX_CHUNKS) {
        r = alumet_error_set(err, -ENOSPC, "too many metrics (%zu)", n);
        goto out;
    }
    if (!reg->chunks[n / REG_CHUNK]) {
        reg->chunks[n / REG_CHUNK] = calloc(REG_CHUNK, sizeof(struct alumet_metric));
        if (!reg->chunks[n / REG_CHUNK]) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            goto out;
        }
    }
    struct alumet_metric *m = &reg->chunks[n / REG_CHUNK][n % REG_CHUNK];
    memset(m, 0, sizeof(*m));
    m->id = (alumet_metric_id)n;
    m->value_type = type;
    m->unit = unit;
    m->unit.custom_unique = unit.custom_unique ? strdup(unit.custom_unique) : NULL;
    m->unit.custom_display = unit.custom_display ? strdup(unit.custom_display) : NULL;
    m->name = strdup(name);
    m->description = strdup(desc ? desc : "");
    m->unit_unique = registry_dup_unit_name(&unit, true);
    m->unit_display = registry_dup_unit_name(&unit, false);
    if (!m->name || !m->description || !m->unit_unique || !m->unit_display ||
        (unit.custom_unique && !m->unit.custom_unique) ||
        (unit.custom_display && !m->unit.custom_display)) {
        registry_metric_done(m);
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    atomic_store_explicit(&reg->count, n + 1, memory_order_release);
    if (ret_id)
        *ret_id = m->id;
out:
    pthread_mutex_unlock(&reg->lock);
    return r;
}
