/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_LOG_H
#define ALUMET_LOG_H

#include <stdarg.h>

#include "export.h"

enum alumet_log_level {
    ALUMET_LOG_ERROR = 1,
    ALUMET_LOG_WARN,
    ALUMET_LOG_INFO,
    ALUMET_LOG_DEBUG,
    ALUMET_LOG_TRACE,
};

/* A log topic (component). Its level is resolved from ALUMET_LOG the first
 * time it is used and whenever the log configuration changes. */
struct alumet_log_topic {
    const char *name;
    int level; /* resolved level, 0 = not resolved yet */
    unsigned generation;
};

#define ALUMET_LOG_TOPIC_INIT(topic_name)                                                          \
    {                                                                                              \
        (topic_name), 0, 0                                                                         \
    }

/* True when messages of `level` on `topic` would be printed. Thread-safe. */
ALUMET_API int alumet_log_enabled(struct alumet_log_topic *topic, enum alumet_log_level level);

/* Print a message (no trailing newline needed). Thread-safe. */
ALUMET_API void alumet_log_write(struct alumet_log_topic *topic, enum alumet_log_level level,
                                 const char *fmt, ...) ALUMET_PRINTF(3, 4);
ALUMET_API void alumet_log_writev(struct alumet_log_topic *topic, enum alumet_log_level level,
                                  const char *fmt, va_list ap);

/* A sink receives every printed message (already formatted). The default sink
 * writes "LEVEL component: message" to stderr. */
typedef void (*alumet_log_sink_fn)(void *data, enum alumet_log_level level, const char *topic,
                                   const char *msg);
ALUMET_API void alumet_log_set_sink(alumet_log_sink_fn sink, void *data);

/* Configure levels with the ALUMET_LOG syntax: "info,rapl=trace,output.*=debug".
 * Returns 0 or -EINVAL on a malformed spec (the valid parts still apply). */
ALUMET_API int alumet_log_configure(const char *spec);

/* Per-file topic: a .c file defines ALUMET_LOG_DEFAULT_TOPIC to a topic
 * pointer, then uses the short macros. The level is checked before the
 * arguments are evaluated. */
#define alumet_log_at(topic, level, ...)                                                           \
    do {                                                                                           \
        if (alumet_log_enabled((topic), (level)))                                                  \
            alumet_log_write((topic), (level), __VA_ARGS__);                                       \
    } while (0)

#define alumet_log_error(...) alumet_log_at(ALUMET_LOG_DEFAULT_TOPIC, ALUMET_LOG_ERROR, __VA_ARGS__)
#define alumet_log_warn(...) alumet_log_at(ALUMET_LOG_DEFAULT_TOPIC, ALUMET_LOG_WARN, __VA_ARGS__)
#define alumet_log_info(...) alumet_log_at(ALUMET_LOG_DEFAULT_TOPIC, ALUMET_LOG_INFO, __VA_ARGS__)
#define alumet_log_debug(...) alumet_log_at(ALUMET_LOG_DEFAULT_TOPIC, ALUMET_LOG_DEBUG, __VA_ARGS__)
#define alumet_log_trace(...) alumet_log_at(ALUMET_LOG_DEFAULT_TOPIC, ALUMET_LOG_TRACE, __VA_ARGS__)

#endif
