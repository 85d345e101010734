/* SPDX-License-Identifier: MIT */
/* The status line of a running agent: what each output wrote and dropped,
 * and what the agent costs (CPU time, resident memory). Logged at INFO once
 * per minute by `run` (ALUMET_STATUS_INTERVAL changes the period) and on
 * SIGUSR1 by every command:
 *
 *   status: up 60 s; output 'csv/csv': 1234 points written, 0 dropped; agent: CPU 0.120 s, RSS 5.9
 * MiB
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent.h"
#include "alumet/log.h"
#include "alumet/plugin.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

/* "1520 390 ..." (/proc/self/statm: size, resident, in pages) */
static double status_rss_mib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = buf;
    strtoull(p, &p, 10);
    unsigned long long pages = strtoull(p, NULL, 10);
    return (double)pages * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

void agent_status_log(struct alumet_pipeline *p, alumet_time_ns up)
{
    char text[4096];
    size_t w = (size_t)snprintf(text, sizeof(text), "status: up %lld s",
                                (long long)(up / ALUMET_NSEC_PER_SEC));
    size_t n = alumet_pipeline_output_count(p);
    for (size_t i = 0; i < n && w < sizeof(text); i++) {
        const char *name;
        struct alumet_output_stats st;
        if (alumet_pipeline_output_stats(p, i, &name, &st) < 0)
            continue;
        w += (size_t)snprintf(
            text + w, sizeof(text) - w, "; output '%s': %llu points written, %llu dropped", name,
            (unsigned long long)st.written_points, (unsigned long long)st.dropped_points);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    if (w < sizeof(text))
        snprintf(text + w, sizeof(text) - w, "; agent: CPU %.3f s, RSS %.1f MiB", cpu,
                 status_rss_mib());
    alumet_log_info("%s", text);
}
