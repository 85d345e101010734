/* SPDX-License-Identifier: MIT */
/* Signals: SIGINT, SIGTERM and SIGUSR1 are blocked in every thread and read from a
 * signalfd by one thread the agent owns. It is installed before the plugins
 * start (a signal during the startup is remembered and stops the agent as
 * soon as it is ready) and removed after the pipeline is freed; the
 * pipeline is attached to it only while it exists, under a lock, so a
 * signal during the shutdown never touches a freed pipeline. The thread is
 * stopped through an eventfd, not a signal: no signal of the user's is
 * taken for internal use. SIGUSR1 logs the status line (agent-status.c),
 * which the same thread also logs every status interval while a pipeline
 * is attached (`run`). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent.h"
#include "alumet/log.h"
#include "core/agent.h"
#include "util/thread-name.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

static struct {
    pthread_mutex_t lock;
    struct alumet_pipeline *p; /* attached pipeline, or NULL */
    bool requested;            /* a stop was asked (before or after attach) */
    pid_t child;               /* exec: the child that gets the signals */
    int sfd, stop_fd;
    pthread_t thread;
    bool running;
    alumet_time_ns status_every; /* 0: only on SIGUSR1 */
    alumet_time_ns attached_at, next_status;
} sig = {.lock = PTHREAD_MUTEX_INITIALIZER, .sfd = -1, .stop_fd = -1};

static void signals_mask(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
}

/* A signal from the terminal (Ctrl+C, or the kernel) reached the whole
 * foreground process group, the child included: forwarding it would give
 * the child a second one, which many programs read as "force quit". Only
 * signals sent to the agent alone (kill PID) are forwarded. */
static bool signal_from_terminal(const struct signalfd_siginfo *si)
{
    return si->ssi_code == SI_KERNEL;
}

static void signal_status(void)
{
    pthread_mutex_lock(&sig.lock);
    if (sig.p)
        agent_status_log(sig.p, alumet_time_now() - sig.attached_at);
    else
        alumet_log_info("status: the agent is starting or stopping, no pipeline runs");
    pthread_mutex_unlock(&sig.lock);
}

static void signal_received(const struct signalfd_siginfo *si)
{
    if (si->ssi_signo == SIGUSR1) {
        signal_status();
        return;
    }
    const char *name = si->ssi_signo == SIGINT ? "Ctrl+C" : "SIGTERM";
    pthread_mutex_lock(&sig.lock);
    if (sig.child > 0) {
        /* exec: the child ends first, then the agent measures and stops */
        if (signal_from_terminal(si)) {
            alumet_log_info("%s received; the child process %d received it too", name,
                            (int)sig.child);
        } else {
            alumet_log_info("%s received, forwarding it to the child process %d", name,
                            (int)sig.child);
            kill(sig.child, (int)si->ssi_signo);
        }
    } else if (sig.requested) {
        alumet_log_info("%s received: the agent is already shutting down (it flushes what was "
                        "measured, at most shutdown_timeout)",
                        name);
    } else {
        sig.requested = true;
        alumet_log_info("%s received, shutting down...", name);
        if (sig.p)
            alumet_pipeline_request_shutdown(sig.p);
    }
    pthread_mutex_unlock(&sig.lock);
}

static void *signal_main(void *arg)
{
    (void)arg;
    alumet_thread_name("signals", NULL, NULL);
    struct pollfd fds[2] = {{.fd = sig.sfd, .events = POLLIN},
                            {.fd = sig.stop_fd, .events = POLLIN}};
    for (;;) {
        int timeout = -1;
        pthread_mutex_lock(&sig.lock);
        if (sig.p && sig.status_every > 0) {
            alumet_time_ns now = alumet_time_now();
            if (now >= sig.next_status) {
                agent_status_log(sig.p, now - sig.attached_at);
                sig.next_status += sig.status_every;
                if (sig.next_status <= now)
                    sig.next_status = now + sig.status_every;
            }
            timeout = (int)((sig.next_status - now) / 1000000 + 1);
        } else if (sig.status_every > 0) {
            timeout = 100; /* the startup: look for the pipeline again soon */
        }
        pthread_mutex_unlock(&sig.lock);
        int n = poll(fds, 2, timeout);
        if (n == 0)
            continue;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            alumet_log_error("waiting for signals failed: %s", strerror(errno));
            return NULL;
        }
        if (fds[1].revents)
            return NULL;
        struct signalfd_siginfo si;
        if (read(sig.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            signal_received(&si);
    }
}

int agent_install_signals(void)
{
    sigset_t set;
    signals_mask(&set);
    /* every thread created afterwards inherits the blocked mask */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sig.sfd = signalfd(-1, &set, SFD_CLOEXEC);
    sig.stop_fd = eventfd(0, EFD_CLOEXEC);
    int r = sig.sfd < 0 || sig.stop_fd < 0 ? errno
                                           : pthread_create(&sig.thread, NULL, signal_main, NULL);
    if (r) {
        alumet_log_error("cannot set up the signal handling: %s", strerror(r));
        agent_remove_signals();
        return -r;
    }
    sig.running = true;
    return 0;
}

void agent_signals_attach(struct alumet_pipeline *p)
{
    pthread_mutex_lock(&sig.lock);
    sig.p = p;
    sig.attached_at = alumet_time_now();
    sig.next_status = sig.attached_at + sig.status_every;
    if (sig.requested)
        alumet_pipeline_request_shutdown(p); /* a signal came during the startup */
    pthread_mutex_unlock(&sig.lock);
}

void agent_signals_detach(void)
{
    pthread_mutex_lock(&sig.lock);
    sig.p = NULL;
    pthread_mutex_unlock(&sig.lock);
}

void agent_signals_status_every(alumet_time_ns interval)
{
    pthread_mutex_lock(&sig.lock);
    sig.status_every = interval;
    pthread_mutex_unlock(&sig.lock);
}

bool agent_signals_stop_requested(void)
{
    pthread_mutex_lock(&sig.lock);
    bool r = sig.requested;
    pthread_mutex_unlock(&sig.lock);
    return r;
}

void agent_forward_signals_to(pid_t pid)
{
    pthread_mutex_lock(&sig.lock);
    sig.child = pid;
    pthread_mutex_unlock(&sig.lock);
}

void agent_remove_signals(void)
{
    if (sig.running) {
        uint64_t one = 1;
        if (write(sig.stop_fd, &one, sizeof(one)) == (ssize_t)sizeof(one))
            pthread_join(sig.thread, NULL);
        sig.running = false;
    }
    if (sig.sfd >= 0)
        close(sig.sfd);
    if (sig.stop_fd >= 0)
        close(sig.stop_fd);
    sig.sfd = sig.stop_fd = -1;
}

/* ---- crash reports: name the plugin that crashed the agent ---- */

static struct sigaction crash_old[NSIG];

static void crash_write(const char *s)
{
    if (write(STDERR_FILENO, s, strlen(s)) < 0)
        return;
}

static void crash_handler(int signo)
{
    const char *phase = NULL;
    const char *plugin = alumet__agent_crash_context(&phase);
    if (plugin) {
        crash_write("ERROR agent: the agent crashed (");
        crash_write(strsignal(signo));
        crash_write(") in the ");
        crash_write(phase ? phase : "?");
        crash_write(" function of plugin '");
        crash_write(plugin);
        crash_write("'; disable it (plugins.");
        crash_write(plugin);
        crash_write(".enabled = false) and report the crash to its authors\n");
    }
    /* the previous handler (the default, or a sanitizer's) takes over */
    sigaction(signo, &crash_old[signo], NULL);
    raise(signo);
}

void agent_install_crash_report(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    struct sigaction sa = {.sa_handler = crash_handler, .sa_flags = SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, &crash_old[sigs[i]]);
}
