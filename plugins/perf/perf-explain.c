/* SPDX-License-Identifier: MIT */
/* Why perf_event_open failed and what to do about it. The kernel allows an
 * unprivileged process (without CAP_PERFMON, or CAP_SYS_ADMIN before Linux
 * 5.8) to count:
 *   - a process it may ptrace, in user space:  kernel.perf_event_paranoid <= 2
 *   - the same, kernel space included:         <= 1
 *   - a whole CPU (cgroup or system-wide mode): <= 0
 * and Debian/Ubuntu kernels add 3 and 4: no perf event at all. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "perf.h"
#include "util/privileges.h"
#include "util/strbuf.h"

/* The path of the agent, for setcap (the link proc/self/exe). */
static void perf_agent_path(int root_fd, char *buf, size_t size)
{
    ssize_t n = root_fd >= 0 ? readlinkat(root_fd, "proc/self/exe", buf, size - 1)
                             : readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        snprintf(buf, size, "/path/to/alumet-agent");
        return;
    }
    buf[n] = '\0';
}

enum perf_failure perf_failure_of(int errnum)
{
    switch (errnum < 0 ? -errnum : errnum) {
    case ENOENT:
    case EOPNOTSUPP:
    case ENODEV:
    case EINVAL:
        return PERF_FAILURE_UNSUPPORTED;
    case EACCES:
    case EPERM:
        return PERF_FAILURE_DENIED;
    case ESRCH:
        return PERF_FAILURE_GONE;
    default:
        return PERF_FAILURE_OTHER;
    }
}

static void perf_explain_denied(int errnum, const struct perf_explain_ctx *ctx, struct strbuf *m)
{
    int paranoid = 0;
    uint64_t caps = 0;
    char exe[PATH_MAX];
    int pr = privileges_read_paranoid(ctx->root_fd, &paranoid);
    int cr = privileges_read_capeff(ctx->root_fd, &caps);
    bool privileged = cr == 0 && (privileges_has_cap(caps, PRIVILEGES_CAP_PERFMON) ||
                                  privileges_has_cap(caps, PRIVILEGES_CAP_SYS_ADMIN));
    int needed = ctx->cpu_wide ? 0 : ctx->kernel ? 1 : 2;
    const char *what = ctx->cpu_wide ? "counting per CPU (cgroup or system-wide mode)"
                       : ctx->kernel ? "counting kernel or hypervisor space (modifiers 'k', 'h')"
                                     : "counting a process";

    perf_agent_path(ctx->root_fd, exe, sizeof(exe));
    strbuf_printf(m, "permission denied (%s) opening perf event '%s' for %s: ",
                  errnum == EPERM ? "EPERM" : "EACCES", ctx->event, ctx->target);
    if (privileged) {
        strbuf_printf(m, "the agent has CAP_PERFMON or CAP_SYS_ADMIN, so a security policy "
                         "(SELinux, AppArmor, kernel lockdown) or a seccomp filter denies "
                         "perf_event_open; in a container, allow it (for example 'docker run "
                         "--cap-add PERFMON --security-opt seccomp=unconfined')");
    } else if (pr < 0) {
        strbuf_printf(m,
                      "kernel.perf_event_paranoid cannot be read ('/%s': %s) and the agent has "
                      "neither CAP_PERFMON nor CAP_SYS_ADMIN; fix: grant the capability with "
                      "'sudo setcap cap_perfmon+ep %s' (cap_sys_admin on Linux older than 5.8)",
                      PRIVILEGES_PARANOID_FILE, strerror(-pr), exe);
    } else if (paranoid > needed) {
        strbuf_printf(m, "kernel.perf_event_paranoid is %d", paranoid);
        if (paranoid > 2)
            strbuf_printf(m, " (a distribution setting that forbids perf events to "
                             "unprivileged users entirely)");
        strbuf_printf(m,
                      " but %s needs %d or less, and the agent has neither CAP_PERFMON nor "
                      "CAP_SYS_ADMIN; fix: 'sudo sysctl -w kernel.perf_event_paranoid=%d' (to keep "
                      "it after a reboot: echo 'kernel.perf_event_paranoid = %d' | sudo tee "
                      "/etc/sysctl.d/99-alumet-perf.conf), or grant the capability to the agent: "
                      "'sudo setcap cap_perfmon+ep %s' (cap_sys_admin on Linux older than 5.8)",
                      what, needed, needed, needed, exe);
    } else if (!ctx->cpu_wide) {
        strbuf_printf(m,
                      "kernel.perf_event_paranoid is %d, which allows %s, so the process most "
                      "likely belongs to another user (perf needs the right to ptrace it); fix: "
                      "run the agent as the owner of the process, or grant the capability to the "
                      "agent: 'sudo setcap cap_perfmon+ep %s' (cap_sys_admin on Linux older than "
                      "5.8)",
                      paranoid, what, exe);
    } else {
        strbuf_printf(m,
                      "kernel.perf_event_paranoid is %d, which allows %s, so a security policy or "
                      "a seccomp filter denies it; fix: grant the capability to the agent: 'sudo "
                      "setcap cap_perfmon+ep %s' (cap_sys_admin on Linux older than 5.8)",
                      paranoid, what, exe);
    }
    if (errnum == EPERM && ctx->modifiers)
        strbuf_printf(m, "; EPERM can also mean that this PMU cannot exclude the privilege "
                         "levels that the modifiers exclude: try the event without its '#' "
                         "modifiers");
}

const char *perf_unsupported_reason(int errnum)
{
    if (errnum < 0)
        errnum = -errnum;
    return errnum == ENOENT   ? "ENOENT: unknown event type or configuration"
           : errnum == ENODEV ? "ENODEV: no PMU for this event on this CPU"
                              : "EOPNOTSUPP: the PMU lacks a feature that the event needs";
}

size_t perf_explain(int errnum, const struct perf_explain_ctx *ctx, char *buf, size_t size)
{
    struct strbuf m = strbuf_of(buf, size);

    if (errnum < 0)
        errnum = -errnum;
    switch (errnum) {
    case EACCES:
    case EPERM:
        perf_explain_denied(errnum, ctx, &m);
        break;
    case ENOENT:
    case EOPNOTSUPP:
    case ENODEV:
        strbuf_printf(&m, "perf event '%s' is not supported by this CPU or kernel (%s)", ctx->event,
                      perf_unsupported_reason(errnum));
        if (ctx->hardware)
            strbuf_printf(&m, "%s", PERF_VM_HINT);
        break;
    case EINVAL:
        strbuf_printf(&m,
                      "the kernel rejected perf event '%s' (EINVAL: an encoding or a modifier "
                      "that this PMU does not accept)",
                      ctx->event);
        break;
    case ESRCH:
        strbuf_printf(&m,
                      "cannot open perf event '%s' for %s: the process does not exist "
                      "(anymore)",
                      ctx->event, ctx->target);
        break;
    case EMFILE:
    case ENFILE:
        strbuf_printf(&m,
                      "cannot open perf event '%s' for %s: too many open files (the plugin opens "
                      "one file per event and per thread or CPU); raise the limit: 'ulimit -n' "
                      "in the shell, LimitNOFILE= in a systemd unit",
                      ctx->event, ctx->target);
        break;
    case EBUSY:
        strbuf_printf(&m,
                      "cannot open perf event '%s' for %s: the PMU is busy, another tool uses it "
                      "exclusively (a profiler, or the NMI watchdog: 'sudo sysctl -w "
                      "kernel.nmi_watchdog=0')",
                      ctx->event, ctx->target);
        break;
    case EBADF:
        strbuf_printf(&m,
                      "cannot open perf event '%s' for %s: not a usable cgroup directory (perf "
                      "needs a cgroup v2 directory, or one of a v1 perf_event hierarchy; see the "
                      "option cgroup_root)",
                      ctx->event, ctx->target);
        break;
    case ENOSYS:
        strbuf_printf(&m,
                      "cannot open perf event '%s': this kernel has no perf_event_open "
                      "(CONFIG_PERF_EVENTS is off) or a seccomp filter hides it",
                      ctx->event);
        break;
    default:
        strbuf_printf(&m, "cannot open perf event '%s' for %s: %s", ctx->event, ctx->target,
                      strerror(errnum));
        break;
    }
    return m.len;
}
