/* SPDX-License-Identifier: MIT */
/* The energy summary printed at the end of exec. */
#ifndef ALUMET_AGENT_EXEC_SUMMARY_H
#define ALUMET_AGENT_EXEC_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "alumet/alumet.h"

struct exec_summary;

struct exec_summary *exec_summary_new(void);
void exec_summary_free(struct exec_summary *s);
/* Register the summary as an output of p (before the pipeline starts). */
int exec_summary_register(struct exec_summary *s, struct alumet_pipeline *p,
                          struct alumet_error *err);
/* The child's lifetime, in wall-clock time (the timestamps of the points):
 * started just before it is released, ended when it exits. Energy is
 * integrated over exactly [t0, t1]. */
void exec_summary_child_started(struct exec_summary *s, pid_t pid, alumet_time_ns t0);
/* The process is known before its measurement starts (its descendants and
 * the points of the sources about them are recognised from then on). */
void exec_summary_set_child(struct exec_summary *s, pid_t pid);
void exec_summary_child_ended(struct exec_summary *s, alumet_time_ns t1);

/* The process's CPU time (seconds, with its descendants), the machine's
 * busy CPU time over its lifetime, and the TDP estimate's watts per busy
 * CPU (0 without it); set before the pipeline stops. With them the summary
 * gives the process its share of the CPU energy, printed and emitted as
 * the points exec_process_cpu_time, exec_process_energy,
 * exec_unattributed_energy and exec_machine_energy at the stop. */
void exec_summary_set_process(struct exec_summary *s, double cpu, double machine_busy,
                              double w_per_cpu, const char *measured_by, const char *estimated_by);

/* The Software Carbon Intensity parameters (the table sci of
 * energy-to-carbon): M, the embodied grams of CO2eq of the run, and R, the
 * functional units (their name borrowed, copied). Without this call, or
 * without carbon points, no score. */
void exec_summary_set_sci(struct exec_summary *s, double embodied_g, double units,
                          const char *unit_name);

/* The cgroup of the process, read from /proc/<pid>/cgroup by
 * exec_summary_set_child: its text (lines "<id>:<controllers>:<path>") is
 * described in buf as "<path>" followed by what its path says of its owner,
 * e.g. "/kubepods.slice/.../cri-containerd-<id>.scope (Kubernetes pod <uid>,
 * container <id>, containerd)"; the cgroup2 line wins, else the first v1
 * line with cpu or cpuacct, else the first path other than "/"; "" when the
 * text has no path. */
void exec_cgroup_describe(const char *text, char *buf, size_t size);

/* From /proc/<pid>/stat: the parent, and the CPU time (seconds) of pid and
 * of the children it waited for. 0 or a negative errno. */
int exec_proc_stat(pid_t pid, pid_t *ret_ppid, double *ret_cpu);

struct exec_summary_info {
    const char *const *argv;   /* the command, NULL-terminated */
    const char *status;        /* "exit status 0" */
    const char *duration_what; /* "from the start of the process to its end" */
    const char *data_where;    /* where the full data was written */
};

/* The CPU energy of the machine settled so far (joules, the intervals
 * that ended while the child ran), or -1 before the first one. Thread-safe. */
double exec_summary_energy_so_far(struct exec_summary *s);

/* exec-progress.c: when stderr is a terminal, one line rewritten every
 * second with the time elapsed and the energy so far (s may be NULL: time
 * only). Returns NULL (nothing shown) otherwise. stop clears the line and
 * frees. */
struct exec_progress *exec_progress_start(struct exec_summary *s);
void exec_progress_stop(struct exec_progress *pr);

/* Print the summary (after the pipeline stopped). */
void exec_summary_print(struct exec_summary *s, FILE *f, const struct exec_summary_info *info);

#endif
