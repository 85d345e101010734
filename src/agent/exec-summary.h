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
void exec_summary_child_ended(struct exec_summary *s, alumet_time_ns t1);

/* Energy of the machine's CPUs over [t0, t1] (RAPL package_total, else the
 * TDP estimate), -1 when neither was measured; *ret_estimated says which. */
double exec_summary_machine_joules(struct exec_summary *s, bool *ret_estimated);

struct exec_summary_info {
    const char *const *argv;   /* the command, NULL-terminated */
    const char *status;        /* "exit status 0" */
    const char *duration_what; /* "from the start of the process to its end" */
    double cpu_seconds;        /* CPU time of the process and its descendants, -1: unknown */
    double cpu_share;          /* its share of the machine's busy CPU time, 0..1 */
    double machine_joules;     /* exec_summary_machine_joules, -1: none */
    const char *energy_source; /* "measured by RAPL", "estimated: tdp = 100 W, ..." */
    const char *data_where;    /* where the full data was written */
};

/* Print the summary (after the pipeline stopped). */
void exec_summary_print(struct exec_summary *s, FILE *f, const struct exec_summary_info *info);

#endif
