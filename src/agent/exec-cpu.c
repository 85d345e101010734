/* SPDX-License-Identifier: MIT */
/* CPU time for the exec/watch summary: the machine's busy CPU time from
 * /proc/stat, a process's own from /proc/<pid>/stat, and the words that say
 * where the machine's energy figure comes from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "core/config/config-tree.h"
#include "exec-summary.h"

/* Busy CPU time of the whole machine in seconds (everything but idle and
 * iowait; guest time is already in user), -1 if unreadable. */
double exec_cpu_machine_busy(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return -1;
    /* user nice system idle iowait irq softirq steal */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

/* CPU time of pid and of the children it waited for, in seconds; -1 if
 * the process is gone. */
double exec_cpu_process(pid_t pid)
{
    double cpu;
    return exec_proc_stat(pid, NULL, &cpu) < 0 ? -1 : cpu;
}

/* "measured by RAPL", or the estimate and its parameters; returns the
 * estimate's watts per busy CPU (0 for a measurement). */
double exec_energy_source(struct agent *a, bool estimated, char *buf, size_t size)
{
    if (!estimated) {
        snprintf(buf, size, "measured by RAPL (package_total)");
        return 0;
    }
    double tdp = 100, nb_cpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
    struct agent_plugin *ap = alumet__plugins_find(&a->plugins, "energy-estimation-tdp");
    struct toml_value *cfg = ap ? ap->config : NULL;
    struct toml_value *v;
    if (cfg && (v = toml_table_get(cfg, "tdp")) && v->type == TOML_FLOAT)
        tdp = v->u.f;
    else if (cfg && v && v->type == TOML_INTEGER)
        tdp = (double)v->u.i;
    if (cfg && (v = toml_table_get(cfg, "nb_cpu")) && v->type == TOML_FLOAT)
        nb_cpu = v->u.f;
    else if (cfg && v && v->type == TOML_INTEGER)
        nb_cpu = (double)v->u.i;
    snprintf(buf, size,
             "ESTIMATED by energy-estimation-tdp (tdp = %g W, nb_cpu = %g: %g W per busy CPU)", tdp,
             nb_cpu, tdp / nb_cpu);
    return nb_cpu > 0 ? tdp / nb_cpu : 0;
}
