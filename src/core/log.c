/* SPDX-License-Identifier: MIT */
/* Logging by topic. Levels come from an ALUMET_LOG-style spec: a global
 * level, then "glob=level" pairs applied in order (the last match wins). */
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alumet/log.h"
#include "log-internal.h"

#define LOG_MAX_RULES 32

struct log_rule {
    char glob[64];
    int level;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_default_level = ALUMET_LOG_INFO;
static struct log_rule log_rules[LOG_MAX_RULES];
static size_t log_n_rules;
static atomic_uint log_generation = 1;
static alumet_log_sink_fn log_sink;
static void *log_sink_data;

static const char *const log_level_names[] = {
    [ALUMET_LOG_ERROR] = "ERROR", [ALUMET_LOG_WARN] = "WARN",   [ALUMET_LOG_INFO] = "INFO",
    [ALUMET_LOG_DEBUG] = "DEBUG", [ALUMET_LOG_TRACE] = "TRACE",
};

static int log_parse_level(const char *s, size_t len)
{
    static const char *const words[] = {"off", "error", "warn", "info", "debug", "trace"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == len && strncasecmp(s, words[i], len) == 0)
            return (int)i;
    if (len == 7 && strncasecmp(s, "warning", 7) == 0)
        return ALUMET_LOG_WARN;
    return -EINVAL;
}

int alumet_log_configure(const char *spec)
{
    int r = 0;
    pthread_mutex_lock(&log_lock);
    log_default_level = ALUMET_LOG_INFO;
    log_n_rules = 0;
    const char *p = spec ? spec : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len == 0) {
            /* empty item: ignore */
        } else if (!eq) {
            int lvl = log_parse_level(p, len);
            if (lvl >= 0)
                log_default_level = lvl;
            else
                r = -EINVAL;
        } else {
            int lvl = log_parse_level(eq + 1, len - (size_t)(eq + 1 - p));
            size_t glen = (size_t)(eq - p);
            if (lvl < 0 || glen == 0 || glen >= sizeof(log_rules[0].glob) ||
                log_n_rules == LOG_MAX_RULES) {
                r = -EINVAL;
            } else {
                memcpy(log_rules[log_n_rules].glob, p, glen);
                log_rules[log_n_rules].glob[glen] = '\0';
                log_rules[log_n_rules].level = lvl;
                log_n_rules++;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    atomic_fetch_add(&log_generation, 1);
    pthread_mutex_unlock(&log_lock);
    return r;
}

static int log_resolve(const char *name)
{
    int lvl = log_default_level;
    for (size_t i = 0; i < log_n_rules; i++) {
        const char *g = log_rules[i].glob;
        size_t gl = strlen(g);
        /* "rapl" matches "rapl" and its sub-topics "rapl.perf" */
        if (fnmatch(g, name, 0) == 0 || (strncmp(g, name, gl) == 0 && name[gl] == '.'))
            lvl = log_rules[i].level;
    }
    return lvl;
}

int alumet_log_enabled(struct alumet_log_topic *topic, enum alumet_log_level level)
{
    unsigned gen = atomic_load_explicit(&log_generation, memory_order_relaxed);
    if (__atomic_load_n(&topic->generation, __ATOMIC_ACQUIRE) != gen) {
        pthread_mutex_lock(&log_lock);
        int lvl = log_resolve(topic->name);
        __atomic_store_n(&topic->level, lvl, __ATOMIC_RELAXED);
        __atomic_store_n(&topic->generation, gen, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&log_lock);
    }
    return (int)level <= __atomic_load_n(&topic->level, __ATOMIC_RELAXED);
}

void alumet_log_set_sink(alumet_log_sink_fn sink, void *data)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_data = data;
    pthread_mutex_unlock(&log_lock);
}

void alumet_log_writev(struct alumet_log_topic *topic, enum alumet_log_level level, const char *fmt,
                       va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    pthread_mutex_lock(&log_lock);
    if (log_sink) {
        log_sink(log_sink_data, level, topic->name, msg);
    } else {
        const char *lv =
            (level >= ALUMET_LOG_ERROR && level <= ALUMET_LOG_TRACE) ? log_level_names[level] : "?";
        fprintf(stderr, "%-5s %s: %s\n", lv, topic->name, msg);
    }
    pthread_mutex_unlock(&log_lock);
}

void alumet_log_write(struct alumet_log_topic *topic, enum alumet_log_level level, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    alumet_log_writev(topic, level, fmt, ap);
    va_end(ap);
}
