/* SPDX-License-Identifier: MIT */
/* perf: hardware, software and cache events of processes, cgroups and the
 * whole machine, counted with perf_event_open (see README.md).
 *
 * Nothing is measured at start. The agent's exec and watch commands (and the
 * cgroup detectors) publish START_CONSUMER_MEASUREMENT; this plugin then
 * opens the counters at once, in the publisher's thread, so that an exec
 * child is counted from its first instruction. END_CONSUMER_MEASUREMENT
 * closes them. The core cannot add sources to a running pipeline, so one
 * source, perf/counters, reads every target (upstream: one source per target,
 * source-pid[<pid>] and source-cgroup[<path>]). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "perf.h"

#define PERF_DEFAULT_CONFIG                                                                        \
    "[plugins.perf]\n"                                                                             \
    "# How often the counters are read, and how often the points go to the outputs\n"              \
    "poll_interval = \"1s\"\n"                                                                     \
    "flush_interval = \"5s\"\n"                                                                    \
    "# The events to count, each one giving the metric perf_<name>: a native event\n"              \
    "# (INSTRUCTIONS, PAGE_FAULTS, TASK_CLOCK, LL_READ_MISS), a raw code (r3c), or any\n"          \
    "# event that libpfm4 knows (RESOURCE_STALLS:ANY), with optional modifiers after '#'\n"        \
    "# (INSTRUCTIONS#u:k); { event = \"CONTEXT_SWITCHES\", rename = \"ctxsw\" } names the\n"       \
    "# metric perf_ctxsw\n"                                                                        \
    "# The hardware events work on real machines; the software events everywhere\n"                \
    "events = [\"REF_CPU_CYCLES\", \"CACHE_MISSES\", \"BRANCH_MISSES\", \"LL_READ_MISS\",\n"       \
    "          \"TASK_CLOCK\", \"PAGE_FAULTS\", \"CONTEXT_SWITCHES#u:k\"]\n"                       \
    "# Create the source paused, for a control plugin that resumes it\n"                           \
    "add_source_in_pause_state = false\n"                                                          \
    "# Scale the counts of multiplexed events (value * enabled / running), like perf stat\n"       \
    "# multiplexing_auto_scale = true\n"                                                           \
    "# Also count the whole machine, per CPU (needs kernel.perf_event_paranoid <= 0 or\n"          \
    "# CAP_PERFMON)\n"                                                                             \
    "# system_wide = false\n"

#define PERF_SOURCE_NAME "counters"

/* ---- state ---- */

/* Release what start acquired: the targets, the root directories, the
 * per-event state. The source (if any) keeps polling nothing. */
static void perf_run_release(struct perf *perf)
{
    pthread_mutex_lock(&perf->lock);
    perf->running = false;
    struct perf_target **targets = perf->targets;
    size_t n = perf->n_targets;
    perf->targets = NULL;
    perf->n_targets = perf->cap_targets = 0;
    pthread_mutex_unlock(&perf->lock);

    for (size_t i = 0; i < n; i++)
        perf_target_free(perf, targets[i]);
    free(targets);
    if (perf->proc_fd >= 0)
        close(perf->proc_fd);
    if (perf->sys_fd >= 0)
        close(perf->sys_fd);
    perf->proc_fd = perf->sys_fd = -1;
    free(perf->ev);
    perf->ev = NULL;
    perf->explained_denied_task = perf->explained_denied_cpu = false;
    perf->told_nothing_task = perf->told_nothing_cpu = false;
}

static void perf_destroy(struct perf *perf)
{
    perf_run_release(perf);
    for (size_t i = 0; i < perf->n_events; i++)
        perf_event_spec_done(&perf->events[i]);
    free(perf->events);
    free(perf->proc_root);
    free(perf->sys_root);
    free(perf->cgroup_root);
    pthread_mutex_destroy(&perf->lock);
    pthread_mutex_destroy(&perf->event_lock);
    free(perf);
}

/* The plugin and the source share the state: the last one frees it. */
static void perf_unref(struct perf *perf)
{
    if (perf && atomic_fetch_sub(&perf->refs, 1) == 1)
        perf_destroy(perf);
}

static void perf_free(void *state)
{
    perf_unref(state);
}

/* ---- options ---- */

static int perf_add_event(struct perf *perf, const char *input, const char *rename,
                          enum perf_naming naming, struct alumet_config *where, const char *key,
                          struct alumet_error *err)
{
    static const char *const what[] = {
        [PERF_NAMING_EVENTS] = "event",
        [PERF_NAMING_HARDWARE] = "hardware event",
        [PERF_NAMING_SOFTWARE] = "software event",
        [PERF_NAMING_CACHE] = "cache event",
    };
    struct alumet_error e = {0};
    struct perf_event_spec *ev =
        reallocarray(perf->events, perf->n_events + 1, sizeof(*perf->events));
    if (!ev)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    perf->events = ev;
    int r = perf_event_spec_parse(input, rename, naming, perf_pfm_encode, NULL,
                                  &perf->events[perf->n_events], &e);
    if (r < 0)
        return alumet_config_error(where, key, err, r, "invalid %s in config: %s", what[naming],
                                   e.msg);
    perf->n_events++;
    return 0;
}

/* events = ["A", { event = "B", rename = "c" }] */
static int perf_read_events(struct perf *perf, struct alumet_config *cfg, struct alumet_error *err)
{
    struct alumet_config *arr;
    size_t n;
    int r = alumet_config_get_array(cfg, "events", &arr, &n, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        const char *input, *rename = NULL;
        if (alumet_config_array_is_table(arr, i)) {
            struct alumet_config *item;
            r = alumet_config_array_table(arr, i, &item, err);
            if (r < 0)
                return r;
            if (!alumet_config_has(item, "event"))
                return alumet_config_error(item, "event", err, -EINVAL,
                                           "missing field 'event' (an entry of events is a "
                                           "string, or a table { event = \"...\", rename = "
                                           "\"...\" })");
            r = alumet_config_get_string(item, "event", NULL, &input, err);
            if (r < 0)
                return r;
            r = alumet_config_get_string(item, "rename", NULL, &rename, err);
            if (r < 0)
                return r;
            r = perf_add_event(perf, input, rename, PERF_NAMING_EVENTS, item, "event", err);
        } else {
            r = alumet_config_array_string(arr, i, &input, err);
            if (r < 0)
                return r;
            r = perf_add_event(perf, input, NULL, PERF_NAMING_EVENTS, cfg, "events", err);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* hardware_events, software_events, cache_events: older upstream keys */
static int perf_read_legacy(struct perf *perf, struct alumet_config *cfg, const char *key,
                            enum perf_naming naming, struct alumet_error *err)
{
    const char **items;
    size_t n;
    int r = alumet_config_get_string_array(cfg, key, &items, &n, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++)
        r = perf_add_event(perf, items[i], NULL, naming, cfg, key, err);
    free(items);
    return r;
}

static int perf_dup_option(struct alumet_config *cfg, const char *key, const char *def, char **ret,
                           struct alumet_error *err)
{
    const char *s;
    int r = alumet_config_get_string(cfg, key, def, &s, err);
    if (r < 0)
        return r;
    if (!*s)
        return alumet_config_error(cfg, key, err, -EINVAL, "expected a directory, got ''");
    *ret = strdup(s);
    return *ret ? 0 : alumet_error_set(err, -ENOMEM, "out of memory");
}

static int perf_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct perf *perf = calloc(1, sizeof(*perf));
    int r;

    if (!perf)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&perf->lock, NULL);
    pthread_mutex_init(&perf->event_lock, NULL);
    atomic_init(&perf->refs, 1);
    perf->own_log = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("perf");
    perf->log = &perf->own_log;
    perf->sys = &perf_sys_real;
    perf->proc_fd = perf->sys_fd = -1;

    /* required, as upstream (no merge with the defaults) */
    static const char *const required[] = {"poll_interval", "flush_interval"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!alumet_config_has(cfg, required[i])) {
            r = alumet_config_error(cfg, required[i], err, -EINVAL, "missing field '%s'",
                                    required[i]);
            goto err_free;
        }
    }
    r = alumet_config_get_duration(cfg, "poll_interval", 0, &perf->poll_interval, err);
    if (r < 0)
        goto err_free;
    if (perf->poll_interval <= 0) {
        r = alumet_config_error(cfg, "poll_interval", err, -EINVAL,
                                "invalid trigger config: poll_interval must be non-zero");
        goto err_free;
    }
    r = alumet_config_get_duration(cfg, "flush_interval", 0, &perf->flush_interval, err);
    if (r < 0)
        goto err_free;

    bool legacy = alumet_config_has(cfg, "hardware_events") ||
                  alumet_config_has(cfg, "software_events") ||
                  alumet_config_has(cfg, "cache_events");
    if (!legacy && !alumet_config_has(cfg, "events")) {
        r = alumet_config_error(cfg, "events", err, -EINVAL,
                                "missing field 'events' (the list of the events to count)");
        goto err_free;
    }
    r = perf_read_events(perf, cfg, err);
    if (r < 0)
        goto err_free;
    r = perf_read_legacy(perf, cfg, "hardware_events", PERF_NAMING_HARDWARE, err);
    if (r < 0)
        goto err_free;
    r = perf_read_legacy(perf, cfg, "software_events", PERF_NAMING_SOFTWARE, err);
    if (r < 0)
        goto err_free;
    r = perf_read_legacy(perf, cfg, "cache_events", PERF_NAMING_CACHE, err);
    if (r < 0)
        goto err_free;

    r = alumet_config_get_bool(cfg, "add_source_in_pause_state", false, &perf->start_paused, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "multiplexing_auto_scale", true, &perf->auto_scale, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "system_wide", false, &perf->system_wide, err);
    if (r < 0)
        goto err_free;
    /* hidden: roots for tests and containers */
    r = perf_dup_option(cfg, "proc_root", "/", &perf->proc_root, err);
    if (r < 0)
        goto err_free;
    r = perf_dup_option(cfg, "sys_root", "/", &perf->sys_root, err);
    if (r < 0)
        goto err_free;
    r = perf_dup_option(cfg, "cgroup_root", "/sys/fs/cgroup", &perf->cgroup_root, err);
    if (r < 0)
        goto err_free;

    *ret_state = perf;
    return 0;

err_free:
    perf_destroy(perf);
    return r;
}

/* ---- consumer events ---- */

static bool perf_target_is(const struct perf_target *t, const struct alumet_consumer *c)
{
    if (c->kind == ALUMET_CONSUMER_PROCESS)
        return t->kind == PERF_TARGET_PROCESS && t->pid == c->num;
    return t->kind == PERF_TARGET_CGROUP && c->str && strcmp(t->path, c->str) == 0;
}

/* Add t to the targets (takes ownership). */
static void perf_targets_add(struct perf *perf, struct perf_target *t,
                             const struct alumet_consumer *c)
{
    pthread_mutex_lock(&perf->lock);
    bool keep = perf->running;
    for (size_t i = 0; keep && c && i < perf->n_targets; i++)
        if (perf_target_is(perf->targets[i], c))
            keep = false; /* a START that raced with ours */
    if (keep && perf->n_targets == perf->cap_targets) {
        size_t ncap = perf->cap_targets ? perf->cap_targets * 2 : 8;
        struct perf_target **nt = reallocarray(perf->targets, ncap, sizeof(*nt));
        if (nt) {
            perf->targets = nt;
            perf->cap_targets = ncap;
        } else {
            keep = false;
            perf_log(perf, ALUMET_LOG_ERROR, "out of memory: not measuring %s", t->label);
        }
    }
    if (keep)
        perf->targets[perf->n_targets++] = t;
    pthread_mutex_unlock(&perf->lock);
    if (!keep)
        perf_target_free(perf, t);
}

static bool perf_targets_has(struct perf *perf, const struct alumet_consumer *c)
{
    bool found = false;
    pthread_mutex_lock(&perf->lock);
    for (size_t i = 0; i < perf->n_targets && !found; i++)
        found = perf_target_is(perf->targets[i], c);
    bool running = perf->running;
    pthread_mutex_unlock(&perf->lock);
    return found || !running;
}

static void perf_consumer_start(struct perf *perf, const struct alumet_consumer *c)
{
    struct perf_target *t = NULL;
    int r;

    if (perf_targets_has(perf, c))
        return;
    if (c->kind == ALUMET_CONSUMER_PROCESS)
        r = perf_target_new_process(perf, c->num, &t);
    else
        r = perf_target_new_cgroup(perf, c->str, &t);
    if (r == 0)
        perf_targets_add(perf, t, c);
}

static void perf_consumer_end(struct perf *perf, const struct alumet_consumer *c)
{
    struct perf_target *gone = NULL;

    pthread_mutex_lock(&perf->lock);
    for (size_t i = 0; i < perf->n_targets; i++) {
        if (perf_target_is(perf->targets[i], c)) {
            gone = perf->targets[i];
            memmove(&perf->targets[i], &perf->targets[i + 1],
                    (perf->n_targets - i - 1) * sizeof(*perf->targets));
            perf->n_targets--;
            break;
        }
    }
    pthread_mutex_unlock(&perf->lock);
    if (gone) {
        perf_log(perf, ALUMET_LOG_DEBUG, "no longer measuring %s", gone->label);
        perf_target_free(perf, gone);
    }
}

static void perf_on_event(void *data, enum alumet_event_kind kind,
                          const struct alumet_consumer *consumers, size_t n)
{
    struct perf *perf = data;

    pthread_mutex_lock(&perf->event_lock);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_consumer *c = &consumers[i];
        if (c->kind != ALUMET_CONSUMER_PROCESS && (c->kind != ALUMET_CONSUMER_CGROUP || !c->str))
            continue;
        if (kind == ALUMET_EVENT_START_CONSUMER_MEASUREMENT)
            perf_consumer_start(perf, c);
        else if (kind == ALUMET_EVENT_END_CONSUMER_MEASUREMENT)
            perf_consumer_end(perf, c);
    }
    pthread_mutex_unlock(&perf->event_lock);
}

/* ---- the source ---- */

static int perf_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                            struct alumet_error *err)
{
    struct perf *perf = data;
    int r = 0;

    pthread_mutex_lock(&perf->lock);
    for (size_t i = 0; i < perf->n_targets && r == 0; i++)
        r = perf_target_poll(perf, perf->targets[i], buf, now);
    /* drop the targets whose counters cannot be read anymore */
    size_t kept = 0;
    for (size_t i = 0; i < perf->n_targets; i++) {
        if (perf->targets[i]->dead)
            perf_target_free(perf, perf->targets[i]);
        else
            perf->targets[kept++] = perf->targets[i];
    }
    perf->n_targets = kept;
    pthread_mutex_unlock(&perf->lock);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory while reading the perf counters");
        return ALUMET_POLL_RETRY;
    }
    return ALUMET_POLL_OK;
}

static void perf_source_free(void *data)
{
    perf_unref(data);
}

static const struct alumet_source_ops perf_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = perf_source_poll,
    .free = perf_source_free,
};

/* ---- lifecycle ---- */

/* Like upstream: one fd per event and per thread or CPU adds up quickly. */
static int perf_raise_nofile(struct alumet_error *err)
{
    struct rlimit rl;
    int r;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        r = -errno;
        return alumet_error_set(err, r, "cannot read the open files limit: %s", strerror(-r));
    }
    if (rl.rlim_cur == rl.rlim_max)
        return 0;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        r = -errno;
        return alumet_error_set(err, r, "cannot raise the open files limit to %llu: %s",
                                (unsigned long long)rl.rlim_max, strerror(-r));
    }
    return 0;
}

static int perf_open_root(const char *key, const char *path, int *ret, struct alumet_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        return alumet_error_set(err, r, "cannot open %s '%s': %s", key, path, strerror(-r));
    }
    *ret = fd;
    return 0;
}

static int perf_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct perf *perf = state;
    int r;

    perf->log = alumet_start_log_topic(ctx);
    r = perf_raise_nofile(err);
    if (r < 0)
        return r;
    r = perf_open_root("proc_root", perf->proc_root, &perf->proc_fd, err);
    if (r < 0)
        goto err_release;
    r = perf_open_root("sys_root", perf->sys_root, &perf->sys_fd, err);
    if (r < 0)
        goto err_release;
    perf->ev = calloc(perf->n_events ? perf->n_events : 1, sizeof(*perf->ev));
    if (!perf->ev) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_release;
    }
    for (size_t i = 0; i < perf->n_events; i++) {
        const struct perf_event_spec *e = &perf->events[i];
        struct alumet_unit unit =
            e->nanoseconds ? ALUMET_UNIT_PREFIXED(NANO, SECOND) : ALUMET_UNIT(UNITY);
        r = alumet_create_metric(ctx, e->metric, ALUMET_VALUE_U64, unit, e->description,
                                 &perf->ev[i].metric, err);
        if (r < 0)
            goto err_release;
        for (size_t j = 0; j < i; j++)
            if (strcmp(perf->events[j].metric, e->metric) == 0)
                perf_log(perf, ALUMET_LOG_WARN,
                         "events '%s' and '%s' both give the metric '%s', so their points "
                         "cannot be told apart; give one of them a rename",
                         perf->events[j].input, e->input, e->metric);
    }
    if (perf->n_events == 0) {
        perf_log(perf, ALUMET_LOG_WARN,
                 "no perf event is configured (events is empty): the perf plugin measures "
                 "nothing");
        return 0;
    }
    size_t usable = perf_probe_events(perf);
    if (usable == 0) {
        perf_log(perf, ALUMET_LOG_WARN,
                 "none of the %zu configured perf events can be opened on this machine (see "
                 "above): the perf plugin measures nothing, the other plugins go on",
                 perf->n_events);
        return 0;
    }

    pthread_mutex_lock(&perf->lock);
    perf->running = true;
    pthread_mutex_unlock(&perf->lock);
    if (perf->system_wide) {
        struct perf_target *t;
        if (perf_target_new_system(perf, &t) == 0)
            perf_targets_add(perf, t, NULL);
    }

    struct alumet_source_opts opts = {
        .size = sizeof(opts),
        .poll_interval = perf->poll_interval,
        .flush_interval = perf->flush_interval,
        .start_paused = perf->start_paused,
        .baseline_first = true, /* counter differences */
    };
    atomic_fetch_add(&perf->refs, 1);
    r = alumet_add_source(ctx, PERF_SOURCE_NAME, &perf_source_ops, perf, &opts, err);
    if (r < 0) {
        atomic_fetch_sub(&perf->refs, 1);
        goto err_release;
    }
    r = alumet_subscribe_event(ctx, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, perf_on_event, perf,
                               err);
    if (r < 0)
        return r; /* the source holds a reference: free happens when both let go */
    return alumet_subscribe_event(ctx, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, perf_on_event, perf,
                                  err);

err_release:
    perf_run_release(perf);
    return r;
}

static int perf_stop(void *state, struct alumet_error *err)
{
    (void)err;
    perf_run_release(state);
    return 0;
}

const struct alumet_plugin alumet_plugin_perf = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "perf",
    .version = "0.1.0",
    .default_config = PERF_DEFAULT_CONFIG,
    .init = perf_init,
    .start = perf_start,
    .stop = perf_stop,
    .free = perf_free,
};
