/* SPDX-License-Identifier: MIT */
/* Private header of the slurm plugin.
 *
 * Layout:
 *   slurm.c           plugin struct, options, which cgroups are jobs and
 *                     their attributes from the path
 *   slurm-jobinfo.c   the job's user, name, account and partition, asked
 *                     once per job from `scontrol -o show job <id>` */
#ifndef ALUMET_PLUGIN_SLURM_H
#define ALUMET_PLUGIN_SLURM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroups.h"

/* What scontrol says of one job (owned strings, NULL when absent). */
struct slurm_job_info {
    uint64_t job_id;
    bool known; /* scontrol answered */
    bool has_uid;
    uint64_t uid;
    char *user, *name, *account, *partition;
};

struct slurm_jobinfo {
    char *command; /* the scontrol to run; NULL: no lookup */
    struct slurm_job_info *jobs;
    size_t n, cap;
};

/* Parse the one-line output of `scontrol -o show job` into *ret (job_id
 * kept). 0 or -ENOMEM. */
int slurm_job_info_parse(const char *text, struct slurm_job_info *ret);

/* The info of job_id, asked at its first use (borrowed until the job is
 * forgotten). NULL on -ENOMEM. Problems are logged through cg. */
const struct slurm_job_info *slurm_jobinfo_get(struct slurm_jobinfo *ji, struct cgroups *cg,
                                               uint64_t job_id);

/* Drop the info of job_id (its cgroup was removed). */
void slurm_jobinfo_forget(struct slurm_jobinfo *ji, uint64_t job_id);

void slurm_jobinfo_done(struct slurm_jobinfo *ji);

#endif
