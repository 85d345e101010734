/* SPDX-License-Identifier: MIT */
/* Managed sources: one thread per source.
 *
 * Each thread sleeps until its own absolute deadline (CLOCK_MONOTONIC, so
 * the period never drifts and missed ticks collapse), polls, and flushes
 * its buffer on to the transforms (or straight to the outputs when there
 * is none) every `flush_rounds` polls. A source that blocks (a hung NFS
 * read, a GPU driver call that takes seconds) only delays itself: the
 * other sources and the final measurement go on.
 *
 * Requests from other threads (control, exec's triggers, the stop) are
 * flags set under p->lock; the source's thread applies them between two
 * polls, so a source's callbacks never run on two threads at once.
 *
 * A source polled every 3 ms or faster runs at the real-time priority
 * SCHED_FIFO 55 (as upstream's "priority" threads) with a timer slack of
 * 1 ns, so that other processes and the kernel's default 50 us slack do not
 * make it miss its ticks. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "log-internal.h"
#include "output-queue.h"
#include "pipeline-internal.h"
#include "scheduler.h"
#include "util/privileges.h"
#include "util/thread-name.h"

#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_pipeline)

void alumet__pipeline_record_error(struct alumet_pipeline *p)
{
    atomic_fetch_add(&p->errors, 1);
}

void alumet__source_wake(struct source *s)
{
    pthread_cond_signal(&s->wake);
}

/* A push to q would wait for room. */
static bool queue_full(struct bqueue *q)
{
    pthread_mutex_lock(&q->lock);
    bool full = q->len == q->cap && q->policy == ALUMET_QUEUE_BLOCK;
    pthread_mutex_unlock(&q->lock);
    return full;
}

/* Push a full buffer of source s (hint points) on to the transforms (or
 * the outputs).
 * Called without p->lock: a full queue blocks (backpressure). */
static int source_push(struct alumet_pipeline *p, struct source *s, struct alumet_buffer *full,
                       size_t hint)
{
    bool full_queue = !p->direct && queue_full(&p->input);
    for (size_t i = 0; p->direct && i < p->outputs.len; i++)
        full_queue |= queue_full(&p->outputs.items[i]->queue);
    if (full_queue && !atomic_exchange(&p->warned_input_full, true))
        alumet_log_warn("the buffers between the sources and the outputs are full: the %s too "
                        "slow and the sources wait; consider a larger poll_interval, "
                        "source_channel_size or output_queue_size",
                        p->direct ? "outputs are" : "transforms or outputs are");
    int r = alumet__pipeline_send(p, full);
    if (r < 0) {
        atomic_fetch_add(&p->lost_points, hint);
        alumet_log_error("source %s/%s: pipeline closed, %zu points lost", s->plugin, s->name,
                         hint);
    }
    return r;
}

/* alumet_buffer_hand_over on the buffer of source s, from its poll (p->lock
 * not held): the points go to the queue in a pooled buffer whose memory buf
 * takes in exchange. At most HAND_OVER_IN_FLIGHT such buffers (of all
 * sources) are on their way to the outputs; a hand-over waits up to
 * HAND_OVER_WAIT_NS for one to come back. */
#define HAND_OVER_IN_FLIGHT 2
#define HAND_OVER_WAIT_NS (100 * ALUMET_NSEC_PER_MSEC)
static int source_hand_over(void *ctx, struct alumet_buffer *buf)
{
    struct source *s = ctx;
    struct alumet_pipeline *p = s->p;
    /* a source faster than the outputs waits for them rather than pile up
     * chunks (the memory would grow with the points of a poll again); if
     * they are slow, the rest of this poll goes on without waiting */
    if (!s->no_throttle &&
        !alumet__buffer_pool_wait_handed(p->pool, HAND_OVER_IN_FLIGHT, HAND_OVER_WAIT_NS))
        s->no_throttle = true;
    size_t n = alumet_buffer_len(buf);
    struct alumet_buffer *full = alumet__buffer_pool_get(p->pool, n);
    if (!full)
        return -ENOMEM;
    alumet__buffer_swap(buf, full);
    alumet__buffer_pool_mark_handed(p->pool, full);
    return source_push(p, s, full, n);
}

/* Hand the source's buffer on (alumet__pipeline_send). Called with p->lock
 * held; the lock is released while a full queue blocks. */
static void source_flush(struct alumet_pipeline *p, struct source *s)
{
    if (alumet_buffer_len(s->buf) == 0)
        return;
    struct alumet_buffer *full = s->buf;
    size_t hint = alumet_buffer_len(full);
    s->last_len = hint;
    s->buf = alumet__buffer_pool_get(p->pool, hint);
    if (!s->buf) {
        /* keep measuring into the old buffer rather than losing it */
        s->buf = full;
        alumet_log_error("out of memory while flushing source %s/%s, will retry", s->plugin,
                         s->name);
        return;
    }
    alumet__buffer_set_hand_over(full, NULL, NULL);
    alumet__buffer_set_hand_over(s->buf, source_hand_over, s);
    /* let control requests through while a full queue blocks */
    pthread_mutex_unlock(&p->lock);
    source_push(p, s, full, hint);
    pthread_mutex_lock(&p->lock);
}

/* Poll once (p->lock held, released during the call). */
static void source_poll(struct alumet_pipeline *p, struct source *s)
{
    struct alumet_error err = {0};
    s->no_throttle = false;
    pthread_mutex_unlock(&p->lock);
    int r = s->ops->poll(s->data, s->buf, alumet_time_now(), &err);
    pthread_mutex_lock(&p->lock);
    s->polls++;
    s->baselines = false;
    if (r == ALUMET_POLL_OK) {
        if (s->retries)
            alumet_log_info("source %s/%s recovered after %u failed polls", s->plugin, s->name,
                            s->retries);
        s->retries = 0;
    } else if (r == ALUMET_POLL_RETRY) {
        s->retries++;
        /* rate-limited: the first failure, then every power of two */
        if ((s->retries & (s->retries - 1)) == 0)
            alumet_log_error("non-fatal error when polling %s/%s (will retry, %u failures so "
                             "far): %s",
                             s->plugin, s->name, s->retries, err.msg);
    } else if (r == ALUMET_POLL_DONE) {
        alumet_log_info("source %s/%s stopped itself", s->plugin, s->name);
        s->state = SRC_DONE;
    } else {
        /* any negative value is a failure, whether err was filled or not */
        alumet_log_error("source %s/%s failed and is removed: %s", s->plugin, s->name,
                         err.msg[0] ? err.msg : strerror(r < 0 ? -r : EIO));
        alumet__pipeline_record_error(p);
        s->state = SRC_DONE;
    }
    s->round++;
    if (s->state == SRC_DONE || s->req_flush || s->round % s->flush_rounds == 0) {
        s->req_flush = false;
        source_flush(p, s);
    }
}

/* SCHED_FIFO was refused: one error for the whole agent (not one per source)
 * with the fix, and a warning. */
static void source_realtime_refused(struct alumet_pipeline *p, struct source *s, int prio, int e)
{
    if (atomic_exchange(&p->warned_realtime, true))
        return;
    uint64_t caps = 0;
    bool has_nice =
        privileges_read_capeff(-1, &caps) == 0 && privileges_has_cap(caps, PRIVILEGES_CAP_SYS_NICE);
    char exe[PATH_MAX] = "alumet-agent";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0)
        exe[n] = '\0';
    if (e == EPERM && !has_nice)
        alumet_log_error("cannot give the sources polled every 3 ms or faster the real-time "
                         "priority SCHED_FIFO %d: EPERM (Operation not permitted): the agent "
                         "lacks the capability CAP_SYS_NICE; fix: 'sudo setcap cap_sys_nice+ep "
                         "%s' (setcap replaces the file's capabilities: name every one the agent "
                         "needs in one call, such as cap_sys_nice,cap_perfmon+ep), "
                         "AmbientCapabilities=CAP_SYS_NICE in its systemd unit, or run it as "
                         "root; '--priority-worker-threads 0' turns real-time priority off",
                         prio, exe);
    else if (e == EPERM)
        alumet_log_error("cannot give the sources polled every 3 ms or faster the real-time "
                         "priority SCHED_FIFO %d: EPERM (Operation not permitted) although the "
                         "agent has CAP_SYS_NICE: real-time scheduling is forbidden to it, by "
                         "systemd's RestrictRealtime=yes (set it to no in the unit) or by a "
                         "cgroup without a real-time budget (cgroup v1 cpu.rt_runtime_us 0, as "
                         "in most containers: docker run --cpu-rt-runtime=950000); "
                         "'--priority-worker-threads 0' turns real-time priority off",
                         prio);
    else
        alumet_log_error("cannot give the sources polled every 3 ms or faster the real-time "
                         "priority SCHED_FIFO %d: %s; '--priority-worker-threads 0' turns "
                         "real-time priority off",
                         prio, strerror(e));
    alumet_log_warn("source %s/%s (and any other source polled every 3 ms or faster) runs at "
                    "the normal priority: its timing may drift when the CPUs are busy",
                    s->plugin, s->name);
}

/* Give the calling source thread the scheduling that its period asks for
 * (p->lock held): SCHED_FIFO and a 1 ns timer slack for 3 ms or less, the
 * normal scheduling and slack otherwise. SCHED_RESET_ON_FORK: a thread or
 * program that a plugin starts from its poll does not inherit SCHED_FIFO
 * (and the flag can be kept without privileges when going back). */
static void source_schedule(struct alumet_pipeline *p, struct source *s)
{
    bool want = !p->settings.no_realtime && alumet__sched_wants_rt(s->period, s->manual_only);
    if (want == s->realtime)
        return;
    s->realtime = want;
    struct sched_param sp = {0};
    if (want)
        sp.sched_priority = alumet__sched_rt_priority(sched_get_priority_min(SCHED_FIFO),
                                                      sched_get_priority_max(SCHED_FIFO));
    /* 0 restores the thread's default slack */
    prctl(PR_SET_TIMERSLACK, want ? 1UL : 0UL, 0UL, 0UL, 0UL);
    int r = pthread_setschedparam(pthread_self(),
                                  (want ? SCHED_FIFO : SCHED_OTHER) | SCHED_RESET_ON_FORK, &sp);
    if (r && want)
        source_realtime_refused(p, s, sp.sched_priority, r);
    else if (r)
        alumet_log_debug("source %s/%s: back to SCHED_OTHER failed: %s", s->plugin, s->name,
                         strerror(r));
}

/* Apply the requests of other threads (p->lock held). */
static void source_apply_requests(struct alumet_pipeline *p, struct source *s)
{
    if (s->req_stop) {
        s->req_stop = false;
        s->state = SRC_STOP;
    }
    if (s->req_pause) {
        s->req_pause = false;
        if (s->state == SRC_RUN) {
            s->state = SRC_PAUSE;
            if (s->ops->reset) {
                s->baselines = s->baseline_first;
                pthread_mutex_unlock(&p->lock);
                s->ops->reset(s->data);
                pthread_mutex_lock(&p->lock);
            }
        }
    }
    if (s->req_resume) {
        s->req_resume = false;
        if (s->state == SRC_PAUSE) {
            /* the deadline stays on the ticks of the pipeline's start (a
             * paused source's is a past tick, or the next one): it polls at
             * once, then on the same ticks as the other sources of its
             * period. A resume that started a new phase left procfs's
             * process-events group (resumed when exec announces the child,
             * 100 ms after the start on a loaded machine) polling 100 ms
             * after the kernel source, and the attribution of the child's
             * CPU time to the tdp estimate counted an interval twice */
            s->state = SRC_RUN;
        }
    }
    if (s->req_interval) {
        /* a manual source keeps being polled on demand only: the new period
         * applies if it is later made periodic */
        s->period = s->req_interval;
        s->req_interval = 0;
        /* the flush interval is kept in time (upstream resets it to every
         * poll): a 1 s source flushing every 4 s, set to 1 ms, still
         * flushes every 4 s */
        if (!s->manual_only)
            s->flush_rounds = alumet__sched_flush_rounds(s->period, s->flush_interval);
        s->deadline = alumet_time_monotonic() + s->period;
        source_schedule(p, s);
    }
    if (s->req_flush) {
        s->req_flush = false;
        source_flush(p, s);
    }
}

/* Poll; for a trigger, poll until the source measured. A trigger asks for
 * values at that instant, but the first poll of a source that measures
 * differences (baseline_first: RAPL and perf counters, CPU times), and its
 * first after a pause (whose reset forgot them), only takes the baselines.
 * exec's "before" measurement served by such a poll gave no point, the
 * child's first interval then started at an instant the summary did not
 * know, and on a loaded machine (the trigger came before the source's
 * thread first ran) the child was billed 5-17 % too little. Such a trigger
 * is served by the next poll, at once. */
static void source_poll_measuring(struct alumet_pipeline *p, struct source *s, bool triggered)
{
    bool baselines = s->baselines;
    source_poll(p, s);
    if (triggered && baselines && s->state != SRC_DONE)
        source_poll(p, s);
}

static void *source_main(void *arg)
{
    struct source *s = arg;
    struct alumet_pipeline *p = s->p;
    alumet_thread_name("src:", s->plugin, s->name);
    pthread_mutex_lock(&p->lock);
    source_schedule(p, s);
    while (!p->sources_exit) {
        source_apply_requests(p, s);
        if (s->state == SRC_STOP || s->state == SRC_DONE)
            break;
        alumet_time_ns now = alumet_time_monotonic();
        bool periodic = !s->manual_only && s->state == SRC_RUN;
        bool triggered = s->triggers_requested > s->triggers_done;
        if (triggered || (periodic && s->deadline <= now)) {
            uint64_t target = s->triggers_requested;
            source_poll_measuring(p, s, triggered);
            if (triggered) {
                s->triggers_done = target;
                pthread_cond_broadcast(&p->polled);
            }
            if (periodic && s->deadline <= now)
                s->deadline =
                    alumet__sched_next_deadline(s->deadline, s->period, alumet_time_monotonic());
            continue;
        }
        if (periodic) {
            struct timespec ts = {.tv_sec = s->deadline / ALUMET_NSEC_PER_SEC,
                                  .tv_nsec = s->deadline % ALUMET_NSEC_PER_SEC};
            pthread_cond_timedwait(&s->wake, &p->lock, &ts);
        } else {
            pthread_cond_wait(&s->wake, &p->lock);
        }
    }
    /* the final measurement: a pending trigger is honoured before the flush */
    if (s->state != SRC_DONE && s->triggers_requested > s->triggers_done) {
        uint64_t target = s->triggers_requested;
        source_poll_measuring(p, s, true);
        s->triggers_done = target;
    }
    source_flush(p, s);
    s->state = SRC_DONE;
    s->triggers_done = s->triggers_requested;
    pthread_cond_broadcast(&p->polled);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int alumet__sources_start(struct alumet_pipeline *p, struct alumet_error *err)
{
    alumet_time_ns start = alumet_time_monotonic();
    for (size_t i = 0; i < p->sources.len; i++) {
        struct source *s = p->sources.items[i];
        /* every source starts on the same tick, so that sources of the same
         * period are polled together */
        s->deadline = start;
        s->p = p;
        s->baselines = s->baseline_first;
        alumet__buffer_set_hand_over(s->buf, source_hand_over, s);
        int r = pthread_create(&s->thread, NULL, source_main, s);
        if (r)
            return alumet_error_set(err, -r, "cannot start source %s/%s: %s", s->plugin, s->name,
                                    strerror(r));
        s->started = true;
    }
    return 0;
}

void alumet__sources_stop(struct alumet_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    p->sources_exit = true;
    for (size_t i = 0; i < p->sources.len; i++)
        alumet__source_wake(p->sources.items[i]);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->sources.len; i++) {
        struct source *s = p->sources.items[i];
        if (!s->started)
            continue;
        /* a source blocked in its poll delays the stop: say which one */
        for (unsigned waited = 0;; waited += 5) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 5;
            if (pthread_timedjoin_np(s->thread, NULL, &ts) == 0)
                break;
            alumet_log_warn("shutdown: source %s/%s has not finished its last poll after %u s, "
                            "still waiting for it",
                            s->plugin, s->name, waited + 5);
        }
        s->started = false;
    }
}

int alumet__pipeline_trigger_all_wait(struct alumet_pipeline *p, alumet_time_ns timeout)
{
    pthread_mutex_lock(&p->lock);
    int n = 0;
    uint64_t *target = calloc(p->sources.len ? p->sources.len : 1, sizeof(*target));
    if (!target) {
        pthread_mutex_unlock(&p->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < p->sources.len; i++) {
        struct source *s = p->sources.items[i];
        if (s->state == SRC_RUN || s->state == SRC_PAUSE) {
            target[i] = ++s->triggers_requested;
            alumet__source_wake(s);
            n++;
        }
    }
    alumet_time_ns limit = alumet_time_monotonic() + timeout;
    for (; timeout > 0;) {
        const char *late = NULL;
        for (size_t i = 0; i < p->sources.len && !late; i++) {
            struct source *s = p->sources.items[i];
            if (target[i] && s->state != SRC_DONE && s->triggers_done < target[i])
                late = s->name;
        }
        if (!late || p->sources_exit)
            break;
        struct timespec ts = {.tv_sec = limit / ALUMET_NSEC_PER_SEC,
                              .tv_nsec = limit % ALUMET_NSEC_PER_SEC};
        if (pthread_cond_timedwait(&p->polled, &p->lock, &ts) == ETIMEDOUT) {
            /* the trigger stays pending: the source measures when it can,
             * and at the latest before its final flush */
            alumet_log_warn("source %s has not finished its triggered measurement after %lld ms; "
                            "going on without waiting for it",
                            late, (long long)(timeout / ALUMET_NSEC_PER_MSEC));
            break;
        }
    }
    free(target);
    pthread_mutex_unlock(&p->lock);
    return n;
}

void alumet__source_free(struct source *s)
{
    if (s->ops->free)
        s->ops->free(s->data);
    alumet__buffer_free(s->buf);
    pthread_cond_destroy(&s->wake);
    free(s->plugin);
    free(s->name);
    free(s);
}
