/* SPDX-License-Identifier: MIT */
/* What to do when RAPL cannot be read: the exact sysctl, setcap or chmod.
 *
 * Who may read RAPL:
 *   - perf_events: RAPL events count whole CPUs (pid -1), which the kernel
 *     allows to a process with CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8)
 *     or, without it, when kernel.perf_event_paranoid <= 0; Debian and Ubuntu
 *     kernels add levels 3 and 4, where only the capability helps;
 *   - powercap: energy_uj is readable by root only since Linux 5.10 (the
 *     PLATYPUS side channel, CVE-2020-8694); max_energy_range_uj and name
 *     stay readable by everybody. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rapl.h"
#include "util/privileges.h"
#include "util/strbuf.h"

/* ---- facts ---- */

void rapl_privileges_read(const struct rapl *rapl, struct rapl_privileges *ret)
{
    char text[8192];
    memset(ret, 0, sizeof(*ret));
    ret->root = geteuid() == 0;

    /* (a closed proc root, -1, would mean "/" to privileges_read_*) */
    uint64_t caps;
    ret->has_paranoid =
        rapl->proc.fd >= 0 && privileges_read_paranoid(rapl->proc.fd, &ret->paranoid) == 0;
    if (rapl->proc.fd >= 0 && privileges_read_capeff(rapl->proc.fd, &caps) == 0) {
        ret->caps_known = true;
        ret->cap_perfmon = privileges_has_cap(caps, PRIVILEGES_CAP_PERFMON);
        ret->cap_sys_admin = privileges_has_cap(caps, PRIVILEGES_CAP_SYS_ADMIN);
    }
    /* "6.1.0-18-amd64" */
    if (rapl_read_text(&rapl->proc, "proc/sys/kernel/osrelease", text, sizeof(text)) > 0) {
        char *dot, *end = NULL;
        unsigned long major = strtoul(text, &dot, 10);
        unsigned long minor = *dot == '.' ? strtoul(dot + 1, &end, 10) : 0;
        if (dot != text && *dot == '.' && end != dot + 1 && major < 1000 && minor < 1000) {
            ret->kernel_major = (unsigned)major;
            ret->kernel_minor = (unsigned)minor;
        }
    }
    if (fsroot_readlink(&rapl->proc, "proc/self/exe", ret->exe, sizeof(ret->exe)) <= 0)
        snprintf(ret->exe, sizeof(ret->exe), "/usr/bin/alumet-agent");
    fsroot_path(&rapl->sys, RAPL_CLASS_DIR, ret->class_dir, sizeof(ret->class_dir));
}

int rapl_cpuinfo_read(const struct rapl *rapl, bool *ret_amd, bool *ret_hypervisor)
{
    struct procfile pf = PROCFILE_INIT;
    *ret_amd = *ret_hypervisor = false;
    if (rapl->proc.fd < 0)
        return -EBADF;
    int r = procfile_open(&pf, rapl->proc.fd, "proc/cpuinfo", 16384);
    if (r == 0)
        r = procfile_read(&pf);
    if (r < 0) {
        procfile_close(&pf);
        return r;
    }
    /* the first processor's lines, up to the first empty line:
     *   vendor_id\t: AuthenticAMD
     *   flags\t\t: fpu vme de pse ... hypervisor ... */
    struct procfile_scan s = procfile_scan_of(pf.buf, pf.len);
    for (; !procfile_scan_eof(&s); procfile_scan_next_line(&s)) {
        const char *key;
        size_t klen = procfile_scan_word(&s, &key);
        if (klen == 0)
            break;
        const char *colon = memchr(s.p, ':', (size_t)(s.end - s.p));
        const char *eol = memchr(s.p, '\n', (size_t)(s.end - s.p));
        if (!eol)
            eol = s.end;
        if (!colon || colon > eol)
            continue;
        const char *v = colon + 1;
        size_t vlen = (size_t)(eol - v);
        if (klen == 9 && memcmp(key, "vendor_id", 9) == 0) {
            *ret_amd = (memmem(v, vlen, "AuthenticAMD", 12) || memmem(v, vlen, "HygonGenuine", 12));
        } else if (klen == 5 && memcmp(key, "flags", 5) == 0) {
            for (const char *f = v; (f = memmem(f, (size_t)(eol - f), "hypervisor", 10)); f += 10)
                if (f[-1] == ' ' && (f + 10 == eol || f[10] == ' '))
                    *ret_hypervisor = true;
        }
    }
    procfile_close(&pf);
    return 0;
}

/* ---- explanations ---- */

static void rapl_explain_perf_denied(const struct rapl_privileges *priv, struct strbuf *m)
{
    bool old_kernel =
        priv->kernel_major != 0 &&
        (priv->kernel_major < 5 || (priv->kernel_major == 5 && priv->kernel_minor < 8));
    const char *cap = old_kernel ? "CAP_SYS_ADMIN" : "CAP_PERFMON";
    const char *setcap = old_kernel ? "cap_sys_admin" : "cap_perfmon";
    bool capable = priv->caps_known && (priv->cap_perfmon || priv->cap_sys_admin);

    if (capable || priv->root) {
        strbuf_printf(m,
                      "the agent has %s, yet the kernel refused: a security module (SELinux, "
                      "AppArmor) or the seccomp profile of a container forbids perf_event_open; "
                      "allow it (docker: --cap-add PERFMON and a seccomp profile that allows "
                      "perf_event_open), or set plugins.rapl.no_perf_events = true to read "
                      "powercap",
                      priv->root ? "root privileges" : cap);
        return;
    }
    if (priv->has_paranoid && priv->paranoid >= 3)
        strbuf_printf(m,
                      "kernel.perf_event_paranoid is %d here, a Debian/Ubuntu level that forbids "
                      "perf_event_open to every process without %s; ",
                      priv->paranoid, cap);
    else if (priv->has_paranoid)
        strbuf_printf(m,
                      "RAPL events count whole CPUs, which a process without %s may do only when "
                      "kernel.perf_event_paranoid <= 0 (it is %d here); ",
                      cap, priv->paranoid);
    else
        strbuf_printf(m,
                      "RAPL events count whole CPUs, which a process without %s may do only when "
                      "kernel.perf_event_paranoid <= 0; ",
                      cap);
    strbuf_printf(m,
                  "fix it with one of: 'sudo sysctl -w kernel.perf_event_paranoid=0' (until the "
                  "next reboot; write 'kernel.perf_event_paranoid = 0' into "
                  "/etc/sysctl.d/99-alumet.conf to keep it), 'sudo setcap %s=ep %s' (gives the "
                  "agent %s%s), or run the agent as root",
                  setcap, priv->exe, cap,
                  priv->kernel_major == 0 ? "; CAP_SYS_ADMIN before Linux 5.8" : "");
}

static void rapl_explain_powercap_denied(const struct rapl_privileges *priv, struct strbuf *m)
{
    if (priv->root) {
        strbuf_printf(m,
                      "the agent runs as root, yet the file cannot be read: in a container with a "
                      "user namespace, root does not own the files of /sys; give read access on "
                      "the host with 'sudo chmod a+r %s/intel-rapl*:*/energy_uj', or run the "
                      "container without user namespace remapping",
                      priv->class_dir);
        return;
    }
    strbuf_printf(m,
                  "since Linux 5.10 the RAPL energy counters (energy_uj) are readable by root "
                  "only: run the agent as root, or let every user read them (until the next "
                  "reboot) with 'sudo chmod a+r %s/intel-rapl*:*/energy_uj' (the rapl plugin's "
                  "README gives udev rules that last), or let the "
                  "plugin use perf_events (no_perf_events = false, with "
                  "kernel.perf_event_paranoid <= 0 or CAP_PERFMON)",
                  priv->class_dir);
}

size_t rapl_explain(int errnum, enum rapl_iface iface, const char *what,
                    const struct rapl_privileges *priv, char *buf, size_t size)
{
    struct strbuf m = strbuf_of(buf, size);
    int e = errnum < 0 ? -errnum : errnum;

    if (iface == RAPL_IFACE_PERF) {
        switch (e) {
        case EACCES:
        case EPERM:
            strbuf_printf(&m, "perf_event_open refused the RAPL event %s: %s; ", what, strerror(e));
            rapl_explain_perf_denied(priv, &m);
            break;
        case ENOENT:
        case ENODEV:
        case EOPNOTSUPP:
        case EINVAL:
            strbuf_printf(&m,
                          "perf_event_open cannot count the RAPL event %s: %s; the power PMU "
                          "advertises it but the CPU or the kernel does not support it (old "
                          "kernels on AMD CPUs, virtual machines); set "
                          "plugins.rapl.no_perf_events = true to read powercap",
                          what, strerror(e));
            break;
        case EMFILE:
        case ENFILE:
            strbuf_printf(&m,
                          "perf_event_open failed for the RAPL event %s: %s; raise the limit of "
                          "open files ('ulimit -n', LimitNOFILE= in a systemd unit)",
                          what, strerror(e));
            break;
        default:
            strbuf_printf(&m, "perf_event_open failed for the RAPL event %s: %s", what,
                          strerror(e));
            break;
        }
        return m.len;
    }

    switch (e) {
    case EACCES:
    case EPERM:
        strbuf_printf(&m, "cannot read '%s': %s; ", what, strerror(e));
        rapl_explain_powercap_denied(priv, &m);
        break;
    case ENOENT:
    case ENODEV:
        strbuf_printf(&m,
                      "cannot read '%s': %s; the powercap zone has gone (was the intel_rapl_msr "
                      "driver unloaded?)",
                      what, strerror(e));
        break;
    case EIO:
    case ENODATA:
        strbuf_printf(&m,
                      "cannot read '%s': %s; the hardware refused to read the RAPL counter "
                      "(virtual machines do not emulate RAPL)",
                      what, strerror(e));
        break;
    case EINVAL:
    case ERANGE:
        strbuf_printf(&m, "cannot read '%s': it does not hold a number of microjoules", what);
        break;
    default:
        strbuf_printf(&m, "cannot read '%s': %s", what, strerror(e));
        break;
    }
    return m.len;
}

size_t rapl_explain_absent(const struct rapl *rapl, bool hypervisor, char *buf, size_t size)
{
    char power[PATH_MAX], powercap[PATH_MAX];
    struct strbuf m = strbuf_of(buf, size);

    fsroot_path(&rapl->sys, RAPL_POWER_DIR, power, sizeof(power));
    fsroot_path(&rapl->sys, RAPL_POWERCAP_DIR, powercap, sizeof(powercap));
    strbuf_printf(&m,
                  "RAPL is not exposed here: no RAPL perf PMU in '%s' and no intel-rapl "
                  "powercap zone in '%s'; ",
                  power, powercap);
    if (hypervisor)
        strbuf_printf(&m, "this is a virtual machine ('hypervisor' flag in /proc/cpuinfo) and "
                          "hypervisors do not give RAPL to their guests; ");
    else
        strbuf_printf(&m, "on an Intel or AMD machine, load the drivers with 'sudo modprobe -a "
                          "rapl intel_rapl_msr', and in a container mount the host's /sys; ");
    strbuf_printf(&m, "to estimate the energy of the CPU without RAPL, use the "
                      "energy-estimation-tdp plugin; the rapl plugin measures nothing");
    return m.len;
}
