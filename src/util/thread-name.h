/* SPDX-License-Identifier: MIT */
/* Names of the agent's threads, so that per-thread tools (top -H, ps -L,
 * perf --per-thread, /proc/<pid>/task/<tid>/comm) tell them apart:
 *
 *     src:<plugin>/<source>   a source (managed or autonomous)
 *     transform               the transform thread
 *     out:<plugin>            an output
 *     signals                 the signal thread of the agent
 *
 * The kernel keeps 15 characters of a thread's name: longer names are cut
 * (src:procfs/process-watcher → src:procfs/proc). */
#ifndef ALUMET_UTIL_THREAD_NAME_H
#define ALUMET_UTIL_THREAD_NAME_H

#include <pthread.h>
#include <stdio.h>

/* Name the calling thread prefix + a (+ "/" + b when b is not NULL), cut to
 * 15 characters. Failures are ignored: a name is only a help. */
static inline void alumet_thread_name(const char *prefix, const char *a, const char *b)
{
    char name[16];
    snprintf(name, sizeof(name), "%s%s%s%s", prefix, a ? a : "", b ? "/" : "", b ? b : "");
    pthread_setname_np(pthread_self(), name);
}

#endif
