/* SPDX-License-Identifier: MIT */
/* Measurement buffers: an array of points, an array of attributes and an
 * arena of chunks for strings. Nothing is allocated per point once the
 * arrays have grown to their working size. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "util/format.h"

#define ARENA_MIN_CHUNK 4096

struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    max_align_t data[];
};

struct alumet_buffer {
    struct alumet_point *points;
    size_t len, cap;
    struct alumet_attr *attrs;
    size_t attr_len, attr_cap;
    struct arena_chunk *arena;
    atomic_int refs;
    struct alumet__buffer_pool *pool; /* where the buffer goes back at refcount 0 */
    bool handed; /* on its way to the outputs after a hand-over (counted by its pool) */
    /* alumet_buffer_hand_over: set on a managed source's buffer only */
    int (*hand_over)(void *ctx, struct alumet_buffer *buf);
    void *hand_over_ctx;
};

/* Buffers whose last reference was dropped, kept with their memory (warm
 * in cache, no page faults) for the next flush of a source. */
struct alumet__buffer_pool {
    pthread_mutex_t lock;
    struct alumet_buffer **items;
    size_t len, cap;
    size_t points;           /* the capacities of the pooled buffers, summed */
    int64_t last_trim;       /* when a put last freed a buffer and trimmed */
    size_t handed;           /* buffers marked handed, not back yet */
    pthread_cond_t released; /* signalled when one of them comes back */
    /* the largest need of the recent gets: the max of the previous window of
     * BUFFER_NEED_WINDOW_NS and of the current one (so a burst is forgotten
     * 4 to 8 s after it ended, whatever the sources' rates) */
    size_t need_prev, need_cur;
    int64_t window_start;
};

#define BUFFER_NEED_WINDOW_NS INT64_C(4000000000)

struct alumet__buffer_pool *alumet__buffer_pool_new(size_t cap)
{
    struct alumet__buffer_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->items = calloc(cap ? cap : 1, sizeof(*pool->items));
    if (!pool->items) {
        free(pool);
        return NULL;
    }
    pool->cap = cap ? cap : 1;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->released, &ca);
    pthread_condattr_destroy(&ca);
    return pool;
}

void alumet__buffer_pool_free(struct alumet__buffer_pool *pool)
{
    if (!pool)
        return;
    for (size_t i = 0; i < pool->len; i++) {
        pool->items[i]->pool = NULL;
        alumet__buffer_free(pool->items[i]);
    }
    free(pool->items);
    pthread_cond_destroy(&pool->released);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

static void arena_free_from(struct arena_chunk *c);

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A pooled buffer eight times larger than what its next source needs (a
 * burst has passed: thousands of processes have ended) gives its memory
 * back: the points shrink to twice the need, the attributes are freed (they
 * grow again with the first points), and malloc returns the pages to the
 * system. Small buffers are left alone. Never fails: a failed shrink keeps
 * the larger arrays. */
#define BUFFER_SHRINK_MIN 1024 /* points */
static void buffer_shrink(struct alumet_buffer *buf, size_t need)
{
    size_t want = need < 32 ? 64 : 2 * need;
    if (buf->cap < BUFFER_SHRINK_MIN || buf->cap / 4 < want)
        return;
    struct alumet_point *np = realloc(buf->points, want * sizeof(*np));
    if (!np)
        return;
    buf->points = np;
    buf->cap = want;
    free(buf->attrs);
    buf->attrs = NULL;
    buf->attr_cap = 0;
    arena_free_from(buf->arena);
    buf->arena = NULL;
    malloc_trim(0);
}

struct alumet_buffer *alumet__buffer_pool_get(struct alumet__buffer_pool *pool, size_t cap)
{
    struct alumet_buffer *buf = NULL;
    pthread_mutex_lock(&pool->lock);
    int64_t now = monotonic_ns();
    if (now - pool->window_start >= BUFFER_NEED_WINDOW_NS) {
        /* a window without gets at all counts as one with no need */
        pool->need_prev = now - pool->window_start < 2 * BUFFER_NEED_WINDOW_NS ? pool->need_cur : 0;
        pool->need_cur = 0;
        pool->window_start = now;
    }
    if (cap > pool->need_cur)
        pool->need_cur = cap;
    if (pool->len) {
        /* best fit: the smallest buffer that holds cap points, else the
         * largest; so a small source does not take (and keep) the large
         * buffer of another one */
        size_t best = 0;
        for (size_t i = 1; i < pool->len; i++) {
            size_t c = pool->items[i]->cap, b = pool->items[best]->cap;
            bool fits = c >= cap, bfits = b >= cap;
            if ((fits && (!bfits || c < b)) || (!fits && !bfits && c > b))
                best = i;
        }
        buf = pool->items[best];
        pool->items[best] = pool->items[--pool->len];
        pool->points -= buf->cap;
    }
    /* a pooled buffer much larger than every recent need (left by a burst,
     * and too large for best fit to hand out) is freed, one per get */
    struct alumet_buffer *stale = NULL;
    size_t need = pool->need_prev > pool->need_cur ? pool->need_prev : pool->need_cur;
    for (size_t i = 0; i < pool->len && !stale; i++) {
        if (pool->items[i]->cap >= BUFFER_SHRINK_MIN && pool->items[i]->cap / 8 > need) {
            stale = pool->items[i];
            pool->items[i] = pool->items[--pool->len];
            pool->points -= stale->cap;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    if (stale) {
        stale->pool = NULL;
        alumet__buffer_free(stale);
        malloc_trim(0);
    }
    if (!buf) {
        buf = alumet__buffer_new(cap);
        if (buf)
            buf->pool = pool;
        return buf;
    }
    buffer_shrink(buf, cap);
    atomic_store_explicit(&buf->refs, 1, memory_order_relaxed);
    return buf;
}

/* A buffer that comes back to the pool much larger than any source has
 * needed lately (a burst has ended) shrinks now, rather than wait in the
 * pool at its burst size (best fit would give it only to a source that needs
 * that much). The pool keeps room for POOL_KEEP_NEEDS times the largest
 * recent need (at least POOL_KEEP_MIN points) in all, small buffers apart
 * (those of the sources of a few points are always kept): a source that hands
 * its points over in chunks while an output is slow has many buffers in
 * flight for a moment, and they need not all stay (freed and trimmed). */
#define POOL_KEEP_NEEDS 4
#define POOL_KEEP_MIN 4096 /* points */
#define POOL_SMALL 256     /* points: a buffer this small is always kept */
static void buffer_pool_put(struct alumet__buffer_pool *pool, struct alumet_buffer *buf)
{
    alumet__buffer_clear(buf);
    buf->hand_over = NULL;
    pthread_mutex_lock(&pool->lock);
    size_t need = pool->need_prev > pool->need_cur ? pool->need_prev : pool->need_cur;
    pthread_mutex_unlock(&pool->lock);
    buffer_shrink(buf, need);
    size_t keep = POOL_KEEP_NEEDS * need > POOL_KEEP_MIN ? POOL_KEEP_NEEDS * need : POOL_KEEP_MIN;
    pthread_mutex_lock(&pool->lock);
    if (buf->handed) {
        buf->handed = false;
        pool->handed--;
        pthread_cond_broadcast(&pool->released);
    }
    if (pool->len < pool->cap && (buf->cap <= POOL_SMALL || pool->points + buf->cap <= keep)) {
        pool->items[pool->len++] = buf;
        pool->points += buf->cap;
        buf = NULL;
    }
    /* give the pages back, at most once a second (malloc_trim walks every
     * arena) */
    bool trim = false;
    if (buf) {
        int64_t now = monotonic_ns();
        trim = now - pool->last_trim >= 1000000000;
        if (trim)
            pool->last_trim = now;
    }
    pthread_mutex_unlock(&pool->lock);
    alumet__buffer_free(buf);
    if (trim)
        malloc_trim(0);
}

void alumet__buffer_pool_mark_handed(struct alumet__buffer_pool *pool, struct alumet_buffer *buf)
{
    pthread_mutex_lock(&pool->lock);
    buf->handed = true;
    pool->handed++;
    pthread_mutex_unlock(&pool->lock);
}

bool alumet__buffer_pool_wait_handed(struct alumet__buffer_pool *pool, size_t max,
                                     int64_t timeout_ns)
{
    int64_t end = monotonic_ns() + timeout_ns;
    struct timespec ts = {.tv_sec = end / 1000000000, .tv_nsec = end % 1000000000};
    pthread_mutex_lock(&pool->lock);
    int r = 0;
    while (pool->handed >= max && r != ETIMEDOUT)
        r = pthread_cond_timedwait(&pool->released, &pool->lock, &ts);
    bool below = pool->handed < max;
    pthread_mutex_unlock(&pool->lock);
    return below;
}

size_t alumet__buffer_pool_len(struct alumet__buffer_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->len;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

struct alumet_buffer *alumet__buffer_new(size_t cap)
{
    struct alumet_buffer *buf = calloc(1, sizeof(*buf));
    if (!buf)
        return NULL;
    if (cap) {
        buf->points = malloc(cap * sizeof(*buf->points));
        if (!buf->points) {
            free(buf);
            return NULL;
        }
        buf->cap = cap;
    }
    atomic_init(&buf->refs, 1);
    return buf;
}

static void arena_free_from(struct arena_chunk *c)
{
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void alumet__buffer_free(struct alumet_buffer *buf)
{
    if (!buf)
        return;
    free(buf->points);
    free(buf->attrs);
    arena_free_from(buf->arena);
    free(buf);
}

void alumet__buffer_clear(struct alumet_buffer *buf)
{
    buf->len = 0;
    buf->attr_len = 0;
    if (buf->arena) {
        /* keep the newest (largest) chunk only */
        arena_free_from(buf->arena->next);
        buf->arena->next = NULL;
        buf->arena->used = 0;
    }
}

struct alumet_buffer *alumet__buffer_ref(struct alumet_buffer *buf)
{
    atomic_fetch_add_explicit(&buf->refs, 1, memory_order_relaxed);
    return buf;
}

void alumet__buffer_unref(struct alumet_buffer *buf)
{
    if (buf && atomic_fetch_sub_explicit(&buf->refs, 1, memory_order_acq_rel) == 1) {
        if (buf->pool)
            buffer_pool_put(buf->pool, buf);
        else
            alumet__buffer_free(buf);
    }
}

void alumet__buffer_set_hand_over(struct alumet_buffer *buf,
                                  int (*fn)(void *ctx, struct alumet_buffer *buf), void *ctx)
{
    buf->hand_over = fn;
    buf->hand_over_ctx = ctx;
}

#define SWAP(x, y)                                                                                 \
    do {                                                                                           \
        __typeof__(x) t_ = (x);                                                                    \
        (x) = (y);                                                                                 \
        (y) = t_;                                                                                  \
    } while (0)

void alumet__buffer_swap(struct alumet_buffer *a, struct alumet_buffer *b)
{
    SWAP(a->points, b->points);
    SWAP(a->len, b->len);
    SWAP(a->cap, b->cap);
    SWAP(a->attrs, b->attrs);
    SWAP(a->attr_len, b->attr_len);
    SWAP(a->attr_cap, b->attr_cap);
    SWAP(a->arena, b->arena);
}

int alumet_buffer_hand_over(struct alumet_buffer *buf)
{
    if (!buf->hand_over || buf->len == 0)
        return 0;
    return buf->hand_over(buf->hand_over_ctx, buf);
}

size_t alumet_buffer_len(const struct alumet_buffer *buf)
{
    return buf->len;
}

struct alumet_point *alumet_buffer_at(struct alumet_buffer *buf, size_t i)
{
    return i < buf->len ? &buf->points[i] : NULL;
}

const struct alumet_point *alumet_buffer_get(const struct alumet_buffer *buf, size_t i)
{
    return i < buf->len ? &buf->points[i] : NULL;
}

void *alumet_buffer_alloc(struct alumet_buffer *buf, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    struct arena_chunk *c = buf->arena;
    if (!c || c->size - c->used < size) {
        size_t csize = c ? c->size * 2 : ARENA_MIN_CHUNK;
        while (csize < size)
            csize *= 2;
        struct arena_chunk *n = malloc(sizeof(*n) + csize);
        if (!n)
            return NULL;
        n->size = csize;
        n->used = 0;
        n->next = c;
        buf->arena = c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

const char *alumet_buffer_strdup(struct alumet_buffer *buf, const char *s, size_t len)
{
    if (len == (size_t)-1)
        len = strlen(s);
    char *d = alumet_buffer_alloc(buf, len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static struct alumet_point *buffer_grow(struct alumet_buffer *buf)
{
    if (buf->len == buf->cap) {
        size_t ncap = buf->cap ? buf->cap * 2 : 64;
        struct alumet_point *np = realloc(buf->points, ncap * sizeof(*np));
        if (!np)
            return NULL;
        buf->points = np;
        buf->cap = ncap;
    }
    return &buf->points[buf->len++];
}

static struct alumet_point *buffer_push(struct alumet_buffer *buf, alumet_time_ns ts,
                                        alumet_metric_id m, const struct alumet_resource *r,
                                        const struct alumet_consumer *c)
{
    struct alumet_point *p = buffer_grow(buf);
    if (!p)
        return NULL;
    p->timestamp = ts;
    p->metric = m;
    p->resource = *r;
    p->consumer = *c;
    p->attr_first = (uint32_t)buf->attr_len;
    p->attr_count = 0;
    return p;
}

struct alumet_point *alumet_buffer_push_u64(struct alumet_buffer *buf, alumet_time_ns ts,
                                            alumet_metric_id m, const struct alumet_resource *r,
                                            const struct alumet_consumer *c, uint64_t value)
{
    struct alumet_point *p = buffer_push(buf, ts, m, r, c);
    if (p) {
        p->value_type = ALUMET_VALUE_U64;
        p->value.u64 = value;
    }
    return p;
}

struct alumet_point *alumet_buffer_push_f64(struct alumet_buffer *buf, alumet_time_ns ts,
                                            alumet_metric_id m, const struct alumet_resource *r,
                                            const struct alumet_consumer *c, double value)
{
    struct alumet_point *p = buffer_push(buf, ts, m, r, c);
    if (p) {
        p->value_type = ALUMET_VALUE_F64;
        p->value.f64 = value;
    }
    return p;
}

static int buffer_reserve_attrs(struct alumet_buffer *buf, size_t more)
{
    if (buf->attr_len + more <= buf->attr_cap)
        return 0;
    size_t ncap = buf->attr_cap ? buf->attr_cap * 2 : 64;
    while (ncap < buf->attr_len + more)
        ncap *= 2;
    if (ncap > UINT32_MAX)
        return -ENOMEM;
    struct alumet_attr *na = realloc(buf->attrs, ncap * sizeof(*na));
    if (!na)
        return -ENOMEM;
    buf->attrs = na;
    buf->attr_cap = ncap;
    return 0;
}

/* The slot for one more attribute of p (moving p's attributes to the end
 * when they are not last), or NULL on -ENOMEM. The typed adders fill the
 * slot in place: building a struct alumet_attr on the stack and copying it
 * costs a store-forwarding stall per attribute (measured: half of the time
 * of a source that adds two attributes per point). */
static struct alumet_attr *point_attr_slot(struct alumet_buffer *buf, struct alumet_point *p)
{
    bool at_end = p->attr_count == 0 || p->attr_first + p->attr_count == buf->attr_len;
    size_t need = at_end ? 1 : (size_t)p->attr_count + 1;
    if (buffer_reserve_attrs(buf, need) < 0)
        return NULL;
    if (!at_end) {
        /* the point's attributes are not last: move them to the end */
        memcpy(&buf->attrs[buf->attr_len], &buf->attrs[p->attr_first],
               p->attr_count * sizeof(*buf->attrs));
        p->attr_first = (uint32_t)buf->attr_len;
        buf->attr_len += p->attr_count;
    } else if (p->attr_count == 0) {
        p->attr_first = (uint32_t)buf->attr_len;
    }
    p->attr_count++;
    return &buf->attrs[buf->attr_len++];
}

int alumet_point_add_attr(struct alumet_buffer *buf, struct alumet_point *p,
                          const struct alumet_attr *attr)
{
    struct alumet_attr *a = point_attr_slot(buf, p);
    if (!a)
        return -ENOMEM;
    *a = *attr;
    return 0;
}

int alumet_point_add_attr_str(struct alumet_buffer *buf, struct alumet_point *p, const char *key,
                              const char *value)
{
    struct alumet_attr *a = point_attr_slot(buf, p);
    if (!a)
        return -ENOMEM;
    a->key = key;
    a->type = ALUMET_ATTR_STR;
    a->v.str = value;
    return 0;
}

int alumet_point_add_attr_u64(struct alumet_buffer *buf, struct alumet_point *p, const char *key,
                              uint64_t value)
{
    struct alumet_attr *a = point_attr_slot(buf, p);
    if (!a)
        return -ENOMEM;
    a->key = key;
    a->type = ALUMET_ATTR_U64;
    a->v.u64 = value;
    return 0;
}

int alumet_point_add_attr_f64(struct alumet_buffer *buf, struct alumet_point *p, const char *key,
                              double value)
{
    struct alumet_attr *a = point_attr_slot(buf, p);
    if (!a)
        return -ENOMEM;
    a->key = key;
    a->type = ALUMET_ATTR_F64;
    a->v.f64 = value;
    return 0;
}

int alumet_point_add_attr_bool(struct alumet_buffer *buf, struct alumet_point *p, const char *key,
                               bool value)
{
    struct alumet_attr *a = point_attr_slot(buf, p);
    if (!a)
        return -ENOMEM;
    a->key = key;
    a->type = ALUMET_ATTR_BOOL;
    a->v.b = value;
    return 0;
}

int alumet_point_set_attr(struct alumet_buffer *buf, struct alumet_point *p,
                          const struct alumet_attr *attr)
{
    for (uint32_t i = 0; i < p->attr_count; i++) {
        struct alumet_attr *a = &buf->attrs[p->attr_first + i];
        if (strcmp(a->key, attr->key) == 0) {
            *a = *attr;
            return 0;
        }
    }
    return alumet_point_add_attr(buf, p, attr);
}

const struct alumet_attr *alumet_point_attrs(const struct alumet_buffer *buf,
                                             const struct alumet_point *p)
{
    return p->attr_count ? &buf->attrs[p->attr_first] : NULL;
}

const struct alumet_attr *alumet_point_find_attr(const struct alumet_buffer *buf,
                                                 const struct alumet_point *p, const char *key)
{
    for (uint32_t i = p->attr_count; i > 0; i--) {
        const struct alumet_attr *a = &buf->attrs[p->attr_first + i - 1];
        if (strcmp(a->key, key) == 0)
            return a;
    }
    return NULL;
}

void alumet_buffer_retain(struct alumet_buffer *buf,
                          bool (*keep)(void *data, const struct alumet_buffer *buf,
                                       const struct alumet_point *p),
                          void *data)
{
    size_t w = 0;
    for (size_t i = 0; i < buf->len; i++) {
        if (keep(data, buf, &buf->points[i])) {
            if (w != i)
                buf->points[w] = buf->points[i];
            w++;
        }
    }
    buf->len = w;
}

static const char *buffer_copy_str(struct alumet_buffer *buf, const char *s, bool *oom)
{
    if (!s)
        return NULL;
    const char *d = alumet_buffer_strdup(buf, s, (size_t)-1);
    if (!d)
        *oom = true;
    return d;
}

struct alumet_point *alumet_buffer_push_copy(struct alumet_buffer *buf,
                                             const struct alumet_buffer *from,
                                             const struct alumet_point *p)
{
    if (from == buf) {
        /* same arena: strings stay valid; copy p first, as growing may move it */
        struct alumet_point tmp = *p;
        struct alumet_point *np = buffer_grow(buf);
        if (!np)
            return NULL;
        *np = tmp;
        return np;
    }
    bool oom = false;
    struct alumet_point tmp = *p;
    tmp.resource.str = buffer_copy_str(buf, p->resource.str, &oom);
    tmp.resource.custom_kind = buffer_copy_str(buf, p->resource.custom_kind, &oom);
    tmp.consumer.str = buffer_copy_str(buf, p->consumer.str, &oom);
    tmp.consumer.custom_kind = buffer_copy_str(buf, p->consumer.custom_kind, &oom);
    if (oom || buffer_reserve_attrs(buf, p->attr_count) < 0)
        return NULL;
    tmp.attr_first = (uint32_t)buf->attr_len;
    for (uint32_t i = 0; i < p->attr_count; i++) {
        struct alumet_attr a = from->attrs[p->attr_first + i];
        a.key = buffer_copy_str(buf, a.key, &oom);
        if (a.type == ALUMET_ATTR_STR) {
            a.v.str = buffer_copy_str(buf, a.v.str, &oom);
        } else if (a.type == ALUMET_ATTR_LIST_U64 && a.v.list.len) {
            uint64_t *items = alumet_buffer_alloc(buf, a.v.list.len * sizeof(uint64_t));
            if (!items)
                return NULL;
            memcpy(items, a.v.list.items, a.v.list.len * sizeof(uint64_t));
            a.v.list.items = items;
        }
        if (oom)
            return NULL;
        buf->attrs[buf->attr_len++] = a;
    }
    struct alumet_point *np = buffer_grow(buf);
    if (!np)
        return NULL;
    *np = tmp;
    return np;
}

int alumet__buffer_append(struct alumet_buffer *to, struct alumet_buffer *from)
{
    for (size_t i = 0; i < from->len; i++)
        if (!alumet_buffer_push_copy(to, from, &from->points[i]))
            return -ENOMEM;
    alumet__buffer_clear(from);
    return 0;
}

size_t alumet_attr_text(const struct alumet_attr *a, char *out, size_t size)
{
    char tmp[FORMAT_F64_MAX];
    size_t n;
    switch (a->type) {
    case ALUMET_ATTR_F64:
        n = format_f64(a->v.f64, tmp, sizeof(tmp));
        break;
    case ALUMET_ATTR_U64:
        n = format_u64(a->v.u64, tmp);
        break;
    case ALUMET_ATTR_BOOL:
        n = (size_t)snprintf(tmp, sizeof(tmp), "%s", a->v.b ? "true" : "false");
        break;
    case ALUMET_ATTR_STR:
        return (size_t)snprintf(out, size, "%s", a->v.str ? a->v.str : "");
    case ALUMET_ATTR_LIST_U64: {
        /* "[1, 2, 3]" (upstream prints "[12, 3, ]", a bug we do not copy) */
        size_t w = 0;
        char num[24];
        if (size)
            out[0] = '\0';
#define PUT(s, l)                                                                                  \
    do {                                                                                           \
        if (w + (l) < size) {                                                                      \
            memcpy(out + w, (s), (l));                                                             \
            out[w + (l)] = '\0';                                                                   \
        }                                                                                          \
        w += (l);                                                                                  \
    } while (0)
        PUT("[", 1);
        for (size_t i = 0; i < a->v.list.len; i++) {
            if (i)
                PUT(", ", 2);
            size_t l = format_u64(a->v.list.items[i], num);
            PUT(num, l);
        }
        PUT("]", 1);
#undef PUT
        return w;
    }
    default:
        n = 0;
        tmp[0] = '\0';
    }
    snprintf(out, size, "%s", tmp);
    return n;
}
