/* SPDX-License-Identifier: MIT */
/* The progress line of exec on a terminal, rewritten every second:
 *
 *   alumet: 12 s elapsed, 345.6 J so far
 *
 * Nothing is shown when stderr is not a terminal (logs, pipes, CI). */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alumet/time.h"
#include "exec-summary.h"
#include "util/thread-name.h"

struct exec_progress {
    struct exec_summary *sum; /* borrowed, may be NULL */
    alumet_time_ns t0;
    int stop_fd;
    pthread_t thread;
};

static void progress_draw(struct exec_progress *pr)
{
    char line[128];
    long long secs = (long long)((alumet_time_now() - pr->t0) / ALUMET_NSEC_PER_SEC);
    double j = pr->sum ? exec_summary_energy_so_far(pr->sum) : -1;
    int n = j >= 0 ? snprintf(line, sizeof(line), "\r\033[Kalumet: %lld s elapsed, %.1f J so far",
                              secs, j)
                   : snprintf(line, sizeof(line), "\r\033[Kalumet: %lld s elapsed", secs);
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

static void *progress_main(void *arg)
{
    struct exec_progress *pr = arg;
    alumet_thread_name("progress", NULL, NULL);
    struct pollfd fd = {.fd = pr->stop_fd, .events = POLLIN};
    while (poll(&fd, 1, 1000) == 0)
        progress_draw(pr);
    return NULL;
}

struct exec_progress *exec_progress_start(struct exec_summary *s)
{
    if (!isatty(STDERR_FILENO))
        return NULL;
    struct exec_progress *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return NULL;
    pr->sum = s;
    pr->t0 = alumet_time_now();
    pr->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (pr->stop_fd < 0 || pthread_create(&pr->thread, NULL, progress_main, pr) != 0) {
        if (pr->stop_fd >= 0)
            close(pr->stop_fd);
        free(pr);
        return NULL;
    }
    return pr;
}

void exec_progress_stop(struct exec_progress *pr)
{
    if (!pr)
        return;
    uint64_t one = 1;
    /* an eventfd below its maximum always takes the write */
    ssize_t n = write(pr->stop_fd, &one, sizeof(one));
    (void)n;
    pthread_join(pr->thread, NULL);
    close(pr->stop_fd);
    static const char clear[] = "\r\033[K";
    n = write(STDERR_FILENO, clear, sizeof(clear) - 1);
    (void)n;
    free(pr);
}
