/* SPDX-License-Identifier: MIT */
/* doctor: RAPL through perf power events and through powercap, the CPU
 * energy that the config gets (measured or estimated by
 * energy-estimation-tdp), and the perf plugin's hardware, software and
 * system-wide events. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "doctor.h"

#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT 38
#define CAP_DAC_READ_SEARCH_BIT 2

static const char paranoid_file[] = "proc/sys/kernel/perf_event_paranoid";

static const char fix_paranoid[] =
    "sudo sysctl -w kernel.perf_event_paranoid=0 (keep it: echo kernel.perf_event_paranoid=0 | "
    "sudo tee /etc/sysctl.d/99-alumet.conf), or sudo setcap cap_perfmon=ep \"$(command -v "
    "alumet-agent)\", or AmbientCapabilities=CAP_PERFMON in the systemd unit";

static bool doctor_perfmon(struct doctor *d)
{
    return doctor_has_cap(d, CAP_PERFMON_BIT) || doctor_has_cap(d, CAP_SYS_ADMIN_BIT);
}

/* 0 when perf_event_open accepts attr (the descriptor is closed), or -errno. */
static int doctor_perf_probe(struct perf_event_attr *attr, pid_t pid, int cpu)
{
    attr->size = sizeof(*attr);
    attr->disabled = 1;
    int fd = (int)syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

/* kernel.perf_event_paranoid; the kernel's default (2) when unreadable. */
static void doctor_read_paranoid(struct doctor *d)
{
    char line[64];
    d->paranoid = doctor_read_line(d, paranoid_file, line, sizeof(line)) == 0 ? atoi(line) : 2;
}

/* The power PMU: sys/devices/power/{type,cpumask,events/energy-*}. */
static void doctor_rapl_perf(struct doctor *d)
{
    struct doctor_check *c = doctor_add(d, "rapl-perf", "rapl", false, DOCTOR_UNAVAILABLE);
    char type[32], event[64] = "", cpumask[64] = "0";
    int r = doctor_read_line(d, "sys/devices/power/type", type, sizeof(type));
    if (r < 0) {
        doctor_why(c,
                   "no 'power' perf PMU: %s: %s (no RAPL on this CPU, or a virtual machine "
                   "that does not expose it)",
                   doctor_path(d, "sys/devices/power/type"), doctor_errno(-r));
        doctor_fix(c, "on bare metal: sudo modprobe intel_rapl_perf (Intel, kernel < 5.x) or "
                      "check that the kernel has CONFIG_PERF_EVENTS_INTEL_RAPL; in a VM: see "
                      "cpu-energy");
        return;
    }
    doctor_read_line(d, "sys/devices/power/cpumask", cpumask, sizeof(cpumask));
    r = doctor_read_line(d, "sys/devices/power/events/energy-pkg", event, sizeof(event));
    if (r < 0)
        r = doctor_read_line(d, "sys/devices/power/events/energy-cores", event, sizeof(event));
    if (r < 0) {
        doctor_why(c, "the 'power' PMU has no energy-pkg or energy-cores event: %s: %s",
                   doctor_path(d, "sys/devices/power/events/energy-pkg"), doctor_errno(-r));
        doctor_fix(c, "use powercap (see rapl-powercap)");
        return;
    }
    if (doctor_cfg_bool(d, "rapl", "no_perf_events", false)) {
        doctor_why(c, "turned off by plugins.rapl.no_perf_events = true");
        doctor_fix(c, "set plugins.rapl.no_perf_events = false to use the perf power events");
        return;
    }
    bool allowed = d->paranoid <= 0 || doctor_perfmon(d);
    if (d->real) {
        /* event=0x02: the config of energy-pkg; RAPL counts whole CPUs (pid -1) */
        const char *cfg = strstr(event, "event=");
        struct perf_event_attr attr = {.type = (unsigned)atoi(type),
                                       .config = cfg ? strtoull(cfg + 6, NULL, 0) : 2};
        r = doctor_perf_probe(&attr, -1, atoi(cpumask));
        if (r < 0)
            doctor_why(c, "perf_event_open(power/%s, pid -1, cpu %d): %s", event, atoi(cpumask),
                       doctor_errno(-r));
        if (r < 0 && r != -EACCES && r != -EPERM) {
            /* not a permission: the PMU refuses the event itself */
            doctor_fix(c, "use powercap (see rapl-powercap), or set plugins.rapl.no_perf_events "
                          "= true");
            return;
        }
        allowed = r == 0;
    }
    if (!allowed) {
        doctor_why(c,
                   "RAPL events count whole CPUs, which needs kernel.perf_event_paranoid <= 0 "
                   "(%s is %d) or CAP_PERFMON",
                   doctor_path(d, paranoid_file), d->paranoid);
        doctor_fix(c, "%s", fix_paranoid);
        return;
    }
    c->status = DOCTOR_MEASURED;
    d->rapl_measured = true;
    doctor_why(c, "perf PMU 'power' (type %s) with %s; perf_event_paranoid %d%s", type, event,
               d->paranoid, doctor_perfmon(d) ? ", CAP_PERFMON" : "");
}

/* powercap: sys/class/powercap/intel-rapl:0/energy_uj (AMD uses the same name). */
static void doctor_rapl_powercap(struct doctor *d)
{
    static const char file[] = "sys/class/powercap/intel-rapl:0/energy_uj";
    struct doctor_check *c = doctor_add(d, "rapl-powercap", "rapl", false, DOCTOR_UNAVAILABLE);
    int r = doctor_can_read(d, file);
    if (r == -ENOENT || r == -ENOTDIR) {
        doctor_why(c, "%s: %s (no RAPL powercap zone)", doctor_path(d, file), doctor_errno(-r));
        doctor_fix(c, "on bare metal: sudo modprobe intel_rapl_msr (or intel_rapl_mmio)");
        return;
    }
    if (r < 0) {
        doctor_why(c, "%s: %s (energy_uj is readable by root only since CVE-2020-8694)",
                   doctor_path(d, file), doctor_errno(-r));
        doctor_fix(c,
                   "grant CAP_DAC_READ_SEARCH (AmbientCapabilities=CAP_DAC_READ_SEARCH in the "
                   "systemd unit, or sudo setcap cap_dac_read_search=ep \"$(command -v "
                   "alumet-agent)\"), or sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj "
                   "/sys/class/powercap/intel-rapl:*:*/energy_uj (until the next boot)");
        return;
    }
    c->status = DOCTOR_MEASURED;
    d->rapl_measured = true;
    doctor_why(c, "%s is readable", doctor_path(d, file));
}

/* The CPUs online ("0-3,8-11" in sys/devices/system/cpu/online), 0 when unknown. */
static int doctor_cpus_online(struct doctor *d)
{
    char line[256];
    if (doctor_read_line(d, "sys/devices/system/cpu/online", line, sizeof(line)) < 0)
        return 0;
    int n = 0;
    for (char *p = line; *p;) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            break;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        n += (int)(b - a + 1);
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void doctor_cpu_energy(struct doctor *d)
{
    bool rapl = doctor_enabled(d, "rapl"), tdp = doctor_enabled(d, "energy-estimation-tdp");
    struct doctor_check *c =
        doctor_add(d, "cpu-energy", rapl || !tdp ? "rapl" : "energy-estimation-tdp", rapl || tdp,
                   DOCTOR_UNAVAILABLE);
    if (rapl && d->rapl_measured) {
        c->status = DOCTOR_MEASURED;
        doctor_why(c, "RAPL counters, read by the rapl plugin (see rapl-perf and rapl-powercap)");
        return;
    }
    if (tdp) {
        if (!doctor_enabled(d, "procfs")) {
            doctor_why(c, "energy-estimation-tdp needs kernel_cpu_time from the procfs plugin, "
                          "which is disabled");
            doctor_fix(c, "enable [plugins.procfs] and [plugins.procfs.kernel]");
            return;
        }
        c->status = DOCTOR_ESTIMATED;
        c->plugin = "energy-estimation-tdp";
        double w = doctor_cfg_number(d, "energy-estimation-tdp", "tdp", 0);
        double n = doctor_cfg_number(d, "energy-estimation-tdp", "nb_cpu", 0);
        if (n > 0)
            doctor_why(c,
                       "estimated by the energy-estimation-tdp plugin from the CPU time: "
                       "tdp = %g W (plugins.energy-estimation-tdp.tdp), nb_cpu = %g "
                       "(plugins.energy-estimation-tdp.nb_cpu)",
                       w, n);
        else
            doctor_why(c,
                       "estimated by the energy-estimation-tdp plugin from the CPU time: "
                       "tdp = %g W (plugins.energy-estimation-tdp.tdp), nb_cpu = %d (the CPUs "
                       "online here; plugins.energy-estimation-tdp.nb_cpu is not set)",
                       w, doctor_cpus_online(d));
        doctor_why(c, "no readable RAPL counter (see rapl-perf and rapl-powercap)");
        doctor_fix(c, "set plugins.energy-estimation-tdp.tdp to the TDP of the host's processors "
                      "and nb_cpu to the host's logical CPUs; for measured energy, run on a "
                      "machine whose RAPL counters are readable");
        if (d->rapl_measured)
            doctor_fix(c, "RAPL is readable here: enable [plugins.rapl] to measure instead");
        return;
    }
    if (!rapl) {
        c->required = false;
        doctor_why(c, "neither the rapl nor the energy-estimation-tdp plugin is enabled");
    } else {
        doctor_why(c, "no readable RAPL counter (see rapl-perf and rapl-powercap)");
    }
    doctor_fix(c, "fix rapl-perf or rapl-powercap, or enable [plugins.energy-estimation-tdp] "
                  "with tdp = <the processors' TDP in W> (and [plugins.procfs.kernel])");
}

/* Software events of the measured processes (TASK_CLOCK, PAGE_FAULTS):
 * perf_event_paranoid <= 2, or CAP_PERFMON; Debian's level 3 forbids all. */
static void doctor_perf_software(struct doctor *d)
{
    struct doctor_check *c =
        doctor_add(d, "perf-software", "perf", doctor_enabled(d, "perf"), DOCTOR_UNAVAILABLE);
    bool allowed = d->paranoid <= 2 || doctor_perfmon(d);
    if (d->real) {
        struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE,
                                       .config = PERF_COUNT_SW_TASK_CLOCK,
                                       .exclude_kernel = 1,
                                       .exclude_hv = 1};
        int r = doctor_perf_probe(&attr, 0, -1);
        allowed = r == 0;
        if (r < 0)
            doctor_why(c, "perf_event_open(software/task-clock, this process): %s",
                       doctor_errno(-r));
    }
    if (!allowed) {
        doctor_why(c, "%s is %d: perf events are forbidden without CAP_PERFMON",
                   doctor_path(d, paranoid_file), d->paranoid);
        doctor_fix(c, "sudo sysctl -w kernel.perf_event_paranoid=2 (or lower), or grant "
                      "CAP_PERFMON (AmbientCapabilities=CAP_PERFMON)");
        return;
    }
    c->status = DOCTOR_MEASURED;
    doctor_why(c, "perf_event_paranoid %d%s", d->paranoid,
               doctor_perfmon(d) ? ", CAP_PERFMON" : "");
}

/* Hardware events need the CPU's PMU, which most VMs hide. */
static void doctor_perf_hardware(struct doctor *d)
{
    struct doctor_check *c =
        doctor_add(d, "perf-hardware", "perf", doctor_explicit(d, "perf"), DOCTOR_UNAVAILABLE);
    static const char *const pmus[] = {"sys/bus/event_source/devices/cpu/type",
                                       "sys/bus/event_source/devices/cpu_core/type",
                                       "sys/devices/cpu/type"};
    char type[32];
    int r = -ENOENT;
    for (size_t i = 0; i < sizeof(pmus) / sizeof(pmus[0]) && r < 0; i++)
        r = doctor_read_line(d, pmus[i], type, sizeof(type));
    if (r == 0 && d->real) {
        struct perf_event_attr attr = {.type = PERF_TYPE_HARDWARE,
                                       .config = PERF_COUNT_HW_INSTRUCTIONS,
                                       .exclude_kernel = 1,
                                       .exclude_hv = 1};
        r = doctor_perf_probe(&attr, 0, -1);
        if (r < 0)
            doctor_why(c, "perf_event_open(hardware/instructions, this process): %s",
                       doctor_errno(-r));
    } else if (r < 0) {
        doctor_why(c, "no CPU PMU: %s: %s (a virtual machine without a virtual PMU)",
                   doctor_path(d, pmus[0]), doctor_errno(-r));
    }
    if (r < 0) {
        doctor_fix(c, "run on bare metal or give the VM a virtual PMU (libvirt: <pmu "
                      "state='on'/>, QEMU: -cpu host); meanwhile keep only software events "
                      "(TASK_CLOCK, PAGE_FAULTS, CONTEXT_SWITCHES) in plugins.perf.events");
        return;
    }
    c->status = DOCTOR_MEASURED;
    doctor_why(c, "CPU PMU (type %s)", type);
}

static void doctor_perf_system_wide(struct doctor *d)
{
    if (!doctor_enabled(d, "perf") || !doctor_cfg_bool(d, "perf", "system_wide", false))
        return;
    struct doctor_check *c = doctor_add(d, "perf-system-wide", "perf", true, DOCTOR_UNAVAILABLE);
    if (d->paranoid > 0 && !doctor_perfmon(d)) {
        doctor_why(c,
                   "plugins.perf.system_wide = true needs kernel.perf_event_paranoid <= 0 "
                   "(%s is %d) or CAP_PERFMON",
                   doctor_path(d, paranoid_file), d->paranoid);
        doctor_fix(c, "%s", fix_paranoid);
        return;
    }
    c->status = DOCTOR_MEASURED;
    doctor_why(c, "perf_event_paranoid %d%s", d->paranoid,
               doctor_perfmon(d) ? ", CAP_PERFMON" : "");
}

void doctor_check_cpu(struct doctor *d)
{
    doctor_read_paranoid(d);
    doctor_rapl_perf(d);
    doctor_rapl_powercap(d);
    doctor_cpu_energy(d);
    doctor_perf_software(d);
    doctor_perf_hardware(d);
    doctor_perf_system_wide(d);
}
