/* SPDX-License-Identifier: MIT */
/* The time series that a formula keeps between two buffers:
 *
 *   resource (cpu_package 0, local_machine...)
 *     general: one series per per_resource input
 *     consumers, in order of appearance (process 42, cgroup /a...):
 *       one series per per_consumer input, last attributed timestamp
 *
 * A series is a vector of samples sorted by time, whose dead prefix is
 * skipped by an offset and reclaimed when the vector is full, so that
 * dropping old points costs nothing. The attributes of the points are only
 * copied for the inputs that keep them (keep_attributes), once per distinct
 * set of attributes. Consumers are found through a hash index, since there
 * may be thousands of processes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "energy-attribution.h"

/* Above this many attribute sets in one series, the unused ones are freed. */
#define EA_MAX_UNUSED_SETS 8

/* ---- identities ---- */

static char *energy_attribution_dup(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static bool energy_attribution_str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static uint64_t energy_attribution_hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t energy_attribution_hash_str(uint64_t h, const char *s)
{
    return s ? energy_attribution_hash_bytes(h, s, strlen(s) + 1)
             : energy_attribution_hash_bytes(h, "", 0);
}

static uint64_t energy_attribution_consumer_hash(const struct alumet_consumer *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    int kind = (int)c->kind;
    h = energy_attribution_hash_bytes(h, &kind, sizeof(kind));
    h = energy_attribution_hash_bytes(h, &c->num, sizeof(c->num));
    h = energy_attribution_hash_str(h, c->str);
    return energy_attribution_hash_str(h, c->custom_kind);
}

bool energy_attribution_consumer_eq(const struct alumet_consumer *a,
                                    const struct alumet_consumer *b)
{
    return a->kind == b->kind && a->num == b->num && energy_attribution_str_eq(a->str, b->str) &&
           energy_attribution_str_eq(a->custom_kind, b->custom_kind);
}

bool energy_attribution_resource_eq(const struct alumet_resource *a,
                                    const struct alumet_resource *b)
{
    return a->kind == b->kind && a->num == b->num && energy_attribution_str_eq(a->str, b->str) &&
           energy_attribution_str_eq(a->custom_kind, b->custom_kind);
}

/* ---- attribute sets ---- */

static void energy_attribution_attrset_done(struct energy_attribution_attrset *set)
{
    for (size_t i = 0; i < set->len; i++) {
        struct alumet_attr *a = &set->attrs[i];
        free((char *)a->key);
        if (a->type == ALUMET_ATTR_STR)
            free((char *)a->v.str);
        else if (a->type == ALUMET_ATTR_LIST_U64)
            free((uint64_t *)a->v.list.items);
    }
    free(set->attrs);
    memset(set, 0, sizeof(*set));
}

static bool energy_attribution_attr_eq(const struct alumet_attr *a, const struct alumet_attr *b)
{
    if (a->type != b->type || strcmp(a->key, b->key) != 0)
        return false;
    switch (a->type) {
    case ALUMET_ATTR_F64:
        return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
    case ALUMET_ATTR_U64:
        return a->v.u64 == b->v.u64;
    case ALUMET_ATTR_BOOL:
        return a->v.b == b->v.b;
    case ALUMET_ATTR_STR:
        return energy_attribution_str_eq(a->v.str, b->v.str);
    case ALUMET_ATTR_LIST_U64:
        return a->v.list.len == b->v.list.len &&
               (a->v.list.len == 0 ||
                memcmp(a->v.list.items, b->v.list.items, a->v.list.len * sizeof(uint64_t)) == 0);
    }
    return false;
}

static bool energy_attribution_attrset_eq(const struct energy_attribution_attrset *set,
                                          const struct alumet_attr *attrs, size_t len)
{
    if (set->len != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!energy_attribution_attr_eq(&set->attrs[i], &attrs[i]))
            return false;
    return true;
}

static int energy_attribution_attrset_copy(struct energy_attribution_attrset *set,
                                           const struct alumet_attr *attrs, size_t len)
{
    bool oom = false;

    memset(set, 0, sizeof(*set));
    if (len == 0)
        return 0;
    set->attrs = calloc(len, sizeof(*set->attrs));
    if (!set->attrs)
        return -ENOMEM;
    for (size_t i = 0; i < len && !oom; i++) {
        struct alumet_attr a = attrs[i];
        a.key = energy_attribution_dup(attrs[i].key, &oom);
        if (a.type == ALUMET_ATTR_STR) {
            a.v.str = energy_attribution_dup(attrs[i].v.str, &oom);
        } else if (a.type == ALUMET_ATTR_LIST_U64) {
            uint64_t *items = NULL;
            if (a.v.list.len) {
                items = malloc(a.v.list.len * sizeof(*items));
                if (items)
                    memcpy(items, attrs[i].v.list.items, a.v.list.len * sizeof(*items));
                else
                    oom = true;
            }
            a.v.list.items = items;
        }
        set->attrs[set->len++] = a;
    }
    if (oom) {
        energy_attribution_attrset_done(set);
        return -ENOMEM;
    }
    return 0;
}

/* Index of the set equal to attrs in s, added when absent. */
static int energy_attribution_series_intern(struct energy_attribution_series *s,
                                            const struct alumet_attr *attrs, size_t len,
                                            uint32_t *ret)
{
    /* the newest set is by far the most likely */
    for (size_t k = s->n_sets; k-- > 0;) {
        if (energy_attribution_attrset_eq(&s->sets[k], attrs, len)) {
            *ret = (uint32_t)k;
            return 0;
        }
    }
    if (s->n_sets == s->cap_sets) {
        size_t cap = s->cap_sets ? s->cap_sets * 2 : 2;
        struct energy_attribution_attrset *sets = realloc(s->sets, cap * sizeof(*sets));
        if (!sets)
            return -ENOMEM;
        s->sets = sets;
        s->cap_sets = cap;
    }
    int r = energy_attribution_attrset_copy(&s->sets[s->n_sets], attrs, len);
    if (r < 0)
        return r;
    *ret = (uint32_t)s->n_sets++;
    return 0;
}

/* Free the sets that no alive sample uses any more. */
static void energy_attribution_series_gc_sets(struct energy_attribution_series *s)
{
    uint32_t *remap = calloc(s->n_sets, sizeof(*remap));
    if (!remap)
        return; /* not needed for correctness: try again next time */
    for (size_t i = s->head; i < s->len; i++)
        if (s->items[i].attrs != UINT32_MAX)
            remap[s->items[i].attrs] = 1;
    size_t kept = 0;
    for (size_t k = 0; k < s->n_sets; k++) {
        if (remap[k]) {
            remap[k] = (uint32_t)kept;
            s->sets[kept++] = s->sets[k];
        } else {
            energy_attribution_attrset_done(&s->sets[k]);
        }
    }
    s->n_sets = kept;
    for (size_t i = s->head; i < s->len; i++)
        if (s->items[i].attrs != UINT32_MAX)
            s->items[i].attrs = remap[s->items[i].attrs];
    free(remap);
}

/* ---- series ---- */

static void energy_attribution_series_done(struct energy_attribution_series *s)
{
    for (size_t k = 0; k < s->n_sets; k++)
        energy_attribution_attrset_done(&s->sets[k]);
    free(s->sets);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

size_t energy_attribution_series_lower_bound(const struct energy_attribution_series *s,
                                             alumet_time_ns t)
{
    size_t lo = 0, hi = energy_attribution_series_count(s);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->items[s->head + mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int energy_attribution_series_insert(struct energy_attribution_series *s,
                                     const struct alumet_buffer *buf, const struct alumet_point *p,
                                     bool keep_attrs)
{
    struct energy_attribution_sample sample = {
        .t = p->timestamp,
        .value = p->value,
        .type = p->value_type,
        .attrs = UINT32_MAX,
    };
    if (!s->items) /* a new series (zeroed): no point dropped yet */
        s->dropped_t = INT64_MIN;
    if (keep_attrs && p->attr_count > 0) {
        int r = energy_attribution_series_intern(s, alumet_point_attrs(buf, p), p->attr_count,
                                                 &sample.attrs);
        if (r < 0)
            return r;
    }
    if (s->len == s->cap) {
        if (s->head > 0) {
            memmove(s->items, s->items + s->head, (s->len - s->head) * sizeof(*s->items));
            s->len -= s->head;
            s->head = 0;
        } else {
            size_t cap = s->cap ? s->cap * 2 : 8;
            struct energy_attribution_sample *items = realloc(s->items, cap * sizeof(*items));
            if (!items)
                return -ENOMEM;
            s->items = items;
            s->cap = cap;
        }
    }
    /* in order: after every point of the same or an earlier time */
    size_t at = s->len;
    while (at > s->head && s->items[at - 1].t > sample.t)
        at--;
    sample.prev = at > s->head ? s->items[at - 1].t : s->dropped_t;
    if (at < s->len) {
        memmove(&s->items[at + 1], &s->items[at], (s->len - at) * sizeof(*s->items));
        s->items[at + 1].prev = sample.t;
    }
    s->items[at] = sample;
    s->len++;
    return 0;
}

void energy_attribution_series_prune(struct energy_attribution_series *s, alumet_time_ns t,
                                     bool keep_anchor)
{
    size_t n = energy_attribution_series_count(s);
    size_t k = energy_attribution_series_lower_bound(s, t);

    if (keep_anchor && k > 0 && (k == n || s->items[s->head + k].t != t))
        k--;
    if (k > 0)
        s->dropped_t = s->items[s->head + k - 1].t;
    s->head += k;
    if (s->head == s->len) {
        s->head = s->len = 0;
        for (size_t j = 0; j < s->n_sets; j++)
            energy_attribution_attrset_done(&s->sets[j]);
        s->n_sets = 0;
    } else if (s->n_sets > EA_MAX_UNUSED_SETS) {
        energy_attribution_series_gc_sets(s);
    }
}

/* ---- resources and consumers ---- */

void energy_attribution_state_init(struct energy_attribution_state *st, size_t n_general,
                                   size_t n_per_consumer)
{
    memset(st, 0, sizeof(*st));
    st->n_general = n_general;
    st->n_per_consumer = n_per_consumer;
}

static void energy_attribution_consumer_free(struct energy_attribution_consumer *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++)
        energy_attribution_series_done(&c->series[i]);
    free((char *)c->id.str);
    free((char *)c->id.custom_kind);
    free(c);
}

static void energy_attribution_resource_free(struct energy_attribution_state *st,
                                             struct energy_attribution_resource *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n_consumers; i++)
        energy_attribution_consumer_free(res->consumers[i], st->n_per_consumer);
    if (res->general)
        for (size_t i = 0; i < st->n_general; i++)
            energy_attribution_series_done(&res->general[i]);
    free(res->general);
    free(res->consumers);
    free(res->index);
    free((char *)res->id.str);
    free((char *)res->id.custom_kind);
    free(res);
}

void energy_attribution_state_done(struct energy_attribution_state *st)
{
    for (size_t i = 0; i < st->n_resources; i++)
        energy_attribution_resource_free(st, st->resources[i]);
    free(st->resources);
    st->resources = NULL;
    st->n_resources = st->cap_resources = 0;
}

struct energy_attribution_resource *
energy_attribution_state_resource(struct energy_attribution_state *st,
                                  const struct alumet_resource *r)
{
    /* few resources (the machine, a few packages): a linear search */
    for (size_t i = 0; i < st->n_resources; i++)
        if (energy_attribution_resource_eq(&st->resources[i]->id, r))
            return st->resources[i];
    if (st->n_resources == st->cap_resources) {
        size_t cap = st->cap_resources ? st->cap_resources * 2 : 4;
        struct energy_attribution_resource **v = realloc(st->resources, cap * sizeof(*v));
        if (!v)
            return NULL;
        st->resources = v;
        st->cap_resources = cap;
    }
    struct energy_attribution_resource *res = calloc(1, sizeof(*res));
    if (!res)
        return NULL;
    bool oom = false;
    res->id = *r;
    res->id.str = energy_attribution_dup(r->str, &oom);
    res->id.custom_kind = energy_attribution_dup(r->custom_kind, &oom);
    res->general = calloc(st->n_general ? st->n_general : 1, sizeof(*res->general));
    if (oom || !res->general) {
        energy_attribution_resource_free(st, res);
        return NULL;
    }
    st->resources[st->n_resources++] = res;
    return res;
}

/* Put consumer number pos of res in the hash index (which has room). */
static void energy_attribution_index_put(struct energy_attribution_resource *res, size_t pos)
{
    size_t mask = res->index_cap - 1;
    size_t slot = (size_t)res->consumers[pos]->hash & mask;
    while (res->index[slot])
        slot = (slot + 1) & mask;
    res->index[slot] = (uint32_t)(pos + 1);
}

/* Rebuild the index with room for 2 * want entries (want >= n_consumers). */
static int energy_attribution_index_rebuild(struct energy_attribution_resource *res, size_t want)
{
    size_t cap = 16;
    while (cap < 2 * want)
        cap *= 2;
    if (cap != res->index_cap) {
        uint32_t *index = calloc(cap, sizeof(*index));
        if (!index)
            return -ENOMEM;
        free(res->index);
        res->index = index;
        res->index_cap = cap;
    } else {
        memset(res->index, 0, cap * sizeof(*res->index));
    }
    for (size_t i = 0; i < res->n_consumers; i++)
        energy_attribution_index_put(res, i);
    return 0;
}

struct energy_attribution_consumer *
energy_attribution_state_consumer(struct energy_attribution_state *st,
                                  struct energy_attribution_resource *res,
                                  const struct alumet_consumer *c)
{
    uint64_t hash = energy_attribution_consumer_hash(c);

    if (res->index_cap) {
        size_t mask = res->index_cap - 1;
        for (size_t slot = (size_t)hash & mask; res->index[slot]; slot = (slot + 1) & mask) {
            struct energy_attribution_consumer *found = res->consumers[res->index[slot] - 1];
            if (found->hash == hash && energy_attribution_consumer_eq(&found->id, c))
                return found;
        }
    }
    if (res->n_consumers >= UINT32_MAX - 1)
        return NULL;
    if (res->n_consumers == res->cap_consumers) {
        size_t cap = res->cap_consumers ? res->cap_consumers * 2 : 8;
        struct energy_attribution_consumer **v = realloc(res->consumers, cap * sizeof(*v));
        if (!v)
            return NULL;
        res->consumers = v;
        res->cap_consumers = cap;
    }
    if (2 * (res->n_consumers + 1) > res->index_cap &&
        energy_attribution_index_rebuild(res, res->n_consumers + 1) < 0)
        return NULL;
    struct energy_attribution_consumer *con =
        calloc(1, sizeof(*con) + st->n_per_consumer * sizeof(con->series[0]));
    if (!con)
        return NULL;
    bool oom = false;
    con->id = *c;
    con->id.str = energy_attribution_dup(c->str, &oom);
    con->id.custom_kind = energy_attribution_dup(c->custom_kind, &oom);
    con->hash = hash;
    if (oom) {
        energy_attribution_consumer_free(con, st->n_per_consumer);
        return NULL;
    }
    res->consumers[res->n_consumers] = con;
    energy_attribution_index_put(res, res->n_consumers++);
    return con;
}

static bool energy_attribution_consumer_empty(const struct energy_attribution_state *st,
                                              const struct energy_attribution_consumer *c)
{
    for (size_t i = 0; i < st->n_per_consumer; i++)
        if (energy_attribution_series_count(&c->series[i]) > 0)
            return false;
    return true;
}

void energy_attribution_state_compact(struct energy_attribution_state *st)
{
    size_t kept_res = 0;
    for (size_t i = 0; i < st->n_resources; i++) {
        struct energy_attribution_resource *res = st->resources[i];
        size_t kept = 0;
        for (size_t k = 0; k < res->n_consumers; k++) {
            struct energy_attribution_consumer *c = res->consumers[k];
            if (energy_attribution_consumer_empty(st, c))
                energy_attribution_consumer_free(c, st->n_per_consumer);
            else
                res->consumers[kept++] = c;
        }
        if (kept != res->n_consumers) {
            /* rehash in place: the index keeps its size */
            res->n_consumers = kept;
            if (res->index_cap)
                memset(res->index, 0, res->index_cap * sizeof(*res->index));
            for (size_t k = 0; k < kept; k++)
                energy_attribution_index_put(res, k);
        }
        bool empty = res->n_consumers == 0;
        for (size_t g = 0; empty && g < st->n_general; g++)
            empty = energy_attribution_series_count(&res->general[g]) == 0;
        if (empty)
            energy_attribution_resource_free(st, res);
        else
            st->resources[kept_res++] = res;
    }
    st->n_resources = kept_res;
}
