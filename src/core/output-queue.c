/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "buffer.h"
#include "output-queue.h"

int alumet__bqueue_init(struct bqueue *q, size_t cap, enum alumet_queue_policy policy)
{
    *q = (struct bqueue){0};
    q->items = calloc(cap ? cap : 1, sizeof(*q->items));
    if (!q->items)
        return -ENOMEM;
    q->cap = cap ? cap : 1;
    q->policy = policy;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&q->not_full, NULL);
    return 0;
}

int alumet__bqueue_grow(struct bqueue *q, size_t cap)
{
    struct alumet_buffer **items = calloc(cap, sizeof(*items));
    if (!items)
        return -ENOMEM;
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < q->len; i++)
        items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->cap = cap;
    q->head = 0;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void alumet__bqueue_done(struct bqueue *q)
{
    if (!q->items)
        return;
    for (size_t i = 0; i < q->len; i++)
        alumet__buffer_unref(q->items[(q->head + i) % q->cap]);
    free(q->items);
    q->items = NULL;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

int alumet__bqueue_push(struct bqueue *q, struct alumet_buffer *buf)
{
    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap && !q->closed) {
        if (q->policy == ALUMET_QUEUE_DROP_OLDEST) {
            struct alumet_buffer *old = q->items[q->head];
            q->head = (q->head + 1) % q->cap;
            q->len--;
            q->dropped_buffers++;
            q->dropped_points += alumet_buffer_len(old);
            alumet__buffer_unref(old);
        } else {
            q->blocked++;
            while (q->len == q->cap && !q->closed)
                pthread_cond_wait(&q->not_full, &q->lock);
        }
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        alumet__buffer_unref(buf);
        return -EPIPE;
    }
    q->items[(q->head + q->len) % q->cap] = buf;
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

struct alumet_buffer *alumet__bqueue_pop(struct bqueue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->lock);
    struct alumet_buffer *b = NULL;
    if (q->len) {
        b = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

struct alumet_buffer *alumet__bqueue_pop_until(struct bqueue *q, int64_t deadline, bool *timed_out)
{
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    *timed_out = false;
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed) {
        if (pthread_cond_timedwait(&q->not_empty, &q->lock, &ts) == ETIMEDOUT) {
            *timed_out = q->len == 0;
            break;
        }
    }
    struct alumet_buffer *b = NULL;
    if (q->len) {
        b = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

void alumet__bqueue_close(struct bqueue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}
