/* SPDX-License-Identifier: MIT */
/* slurm: the cgroup measurements of the cgroups plugin for the jobs of
 * Slurm, with their job id, step, sub-step and task as attributes, as
 * upstream Alumet's slurm plugin 0.1.1 (see README.md), plus the user, name,
 * account and partition of each job from scontrol (slurm-jobinfo.c). The
 * engine (hierarchies, detection, readers, metrics) is the cgroups plugin's
 * (plugins/cgroups); this file chooses the job cgroups and names their
 * attributes. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "alumet/transform.h"
#include "slurm.h"
#include "util/cgroup.h"
#include "util/named-regex.h"

/* Upstream's regexes (spec: Slurm plugin), with `rest` on v1 too (see
 * slurm_setup), and the names of a Slurm built with --enable-multiple-slurmd
 * (Debian's) as well: the v1 root "slurm_<node name>" besides "slurm", the
 * v2 scope "<node name>_slurmstepd.scope" besides "slurmstepd.scope". */
#define SLURM_RE_V1                                                                                \
    "/slurm(_[^/]+)?/uid_(?<user_id:u64>\\d+)/job_(?<job_id:u64>\\d+)(?<rest>(/.*)?)$"
#define SLURM_RE_V2 "/([^/]+_)?slurmstepd\\.scope/job_(?<job_id:u64>\\d+)(?<rest>(/.*)?)$"

#define SLURM_DEFAULT_CONFIG                                                                       \
    "[plugins.slurm]\n"                                                                            \
    "# How often the cgroups of the jobs are measured\n"                                           \
    "poll_interval = \"5s\"\n"                                                                     \
    "# true: register the metrics but measure nothing\n"                                           \
    "disable_sources = false\n"                                                                    \
    "# false: measure the cgroups that are not jobs' too\n"                                        \
    "ignore_non_jobs = true\n"                                                                     \
    "# The deepest cgroups measured: \"job\", \"step\", \"substep\" or \"task\"\n"                 \
    "jobs_monitoring_level = \"job\"\n"                                                            \
    "# true: the source starts paused (resume it with the control socket)\n"                       \
    "add_source_in_pause_state = false\n"

enum slurm_level {
    SLURM_JOB,
    SLURM_STEP,
    SLURM_SUBSTEP,
    SLURM_TASK,
};

static const char *const slurm_levels[] = {"job", "step", "substep", "task"};

struct slurm {
    struct cgroups *cg; /* owned */
    bool ignore_non_jobs;
    enum slurm_level level;
    struct named_regex re_v1, re_v2;
    pthread_mutex_t lock; /* ji, shared by the source and the annotation transform */
    struct slurm_jobinfo ji;
    bool annotate; /* annotate_foreign_measurements */
};

/* The group index of name in re. */
static size_t slurm_group(const struct named_regex *re, const char *name)
{
    for (size_t i = 0; i < re->n_groups; i++)
        if (strcmp(re->groups[i].name, name) == 0)
            return i;
    return re->n_groups;
}

/* Split rest ("/step_2/user/task_0") into at most 3 parts; the count, or
 * 4 when there are more. */
static size_t slurm_split(const char *rest, size_t len, char parts[3][256])
{
    size_t n = 0;
    const char *end = rest + len;
    while (rest < end) {
        const char *slash = memchr(rest, '/', (size_t)(end - rest));
        const char *stop = slash ? slash : end;
        size_t k = (size_t)(stop - rest);
        if (k) {
            if (n == 3 || k >= 256)
                return 4;
            memcpy(parts[n], rest, k);
            parts[n++][k] = '\0';
        }
        rest = stop + (slash ? 1 : 0);
    }
    return n;
}

static const char *slurm_strip(const char *s, const char *prefix)
{
    size_t k = strlen(prefix);
    return strncmp(s, prefix, k) == 0 ? s + k : s;
}

/* The attributes that scontrol gives: user_id (v2: v1 has it from the
 * path), user, job_name, account, partition. */
static int slurm_add_job_info(struct slurm *sl, enum cgroup_version version, uint64_t job_id,
                              struct cgroups_attrs *attrs)
{
    const struct slurm_job_info *j = slurm_jobinfo_get(&sl->ji, sl->cg, job_id);
    int r = 0;
    if (!j)
        return -ENOMEM;
    if (version == CGROUP_V2 && j->has_uid)
        r = cgroups_attrs_add_u64(attrs, "user_id", j->uid);
    if (r == 0 && j->user)
        r = cgroups_attrs_add_str(attrs, "user", j->user);
    if (r == 0 && j->name)
        r = cgroups_attrs_add_str(attrs, "job_name", j->name);
    if (r == 0 && j->account)
        r = cgroups_attrs_add_str(attrs, "account", j->account);
    if (r == 0 && j->partition)
        r = cgroups_attrs_add_str(attrs, "partition", j->partition);
    return r;
}

/* The attributes of the cgroup cpath of a hierarchy of this version:
 * SLURM_NOT_JOB, SLURM_TOO_DEEP (below jobs_monitoring_level; with
 * annotate, never: a cgroup below a task gets the task's attributes),
 * SLURM_JOB with the attributes appended, or -ENOMEM. Called with sl->lock
 * held (the job info cache). */
enum { SLURM_NOT_JOB, SLURM_IS_JOB, SLURM_TOO_DEEP };

static int slurm_attrs(struct slurm *sl, enum cgroup_version version, const char *cpath,
                       struct cgroups_attrs *attrs, bool annotate)
{
    const struct named_regex *re = version == CGROUP_V1 ? &sl->re_v1 : &sl->re_v2;
    struct named_regex_capture caps[4];
    size_t bad;
    int r = named_regex_match(re, cpath, caps, &bad);
    if (r == -ERANGE && !annotate)
        cgroups_log(sl->cg, ALUMET_LOG_WARN, "cgroup '%s': %s is too large, not a Slurm job", cpath,
                    re->groups[bad].name);
    if (r != 1)
        return SLURM_NOT_JOB;

    const struct named_regex_capture *rest = &caps[slurm_group(re, "rest")];
    char parts[3][256];
    size_t n = slurm_split(rest->start, rest->len, parts);
    /* v1: step, task; v2: step, sub_step, task */
    size_t max = version == CGROUP_V1 ? 2 : 3;
    if (n > max) {
        if (!annotate)
            return SLURM_TOO_DEEP;
        n = max;
    }
    enum slurm_level level = n == 0 ? SLURM_JOB : n == 1 ? SLURM_STEP : SLURM_SUBSTEP;
    if (n == max && n > 1)
        level = SLURM_TASK;
    if (level > sl->level && !annotate)
        return SLURM_TOO_DEEP;

    if (version == CGROUP_V1 &&
        (r = cgroups_attrs_add_u64(attrs, "user_id", caps[slurm_group(re, "user_id")].u64)) < 0)
        return r;
    if ((r = cgroups_attrs_add_u64(attrs, "job_id", caps[slurm_group(re, "job_id")].u64)) < 0)
        return r;
    if (n >= 1 && (r = cgroups_attrs_add_str(attrs, "step", slurm_strip(parts[0], "step_"))) < 0)
        return r;
    if (version == CGROUP_V2 && n >= 2 &&
        (r = cgroups_attrs_add_str(attrs, "sub_step", parts[1])) < 0)
        return r;
    if (n == max && n > 1 &&
        (r = cgroups_attrs_add_str(attrs, "task", slurm_strip(parts[n - 1], "task_"))) < 0)
        return r;
    if ((r = slurm_add_job_info(sl, version, caps[slurm_group(re, "job_id")].u64, attrs)) < 0)
        return r;
    return SLURM_IS_JOB;
}

/* Which cgroups are measured (family.setup). The attributes: v1 user_id,
 * job_id, then step and task; v2 job_id, then step, sub_step, task; then
 * those of scontrol (slurm_add_job_info). On v1
 * the step and task directories below a job also match upstream's job
 * regex (they measured as the job, with the job's name, and collided);
 * here they are steps and tasks, as on v2. */
static int slurm_setup(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                       struct cgroups_attrs *attrs)
{
    struct slurm *sl = data;
    pthread_mutex_lock(&sl->lock);
    int r = slurm_attrs(sl, h->version, cpath, attrs, false);
    pthread_mutex_unlock(&sl->lock);
    if (r < 0)
        return r;
    return r == SLURM_IS_JOB || (r == SLURM_NOT_JOB && !sl->ignore_non_jobs);
}

/* family.annotate ("slurm/annotation"): the job of any cgroup below a job's,
 * whatever its hierarchy (the cgroup v2 layout first, then v1's). */
static int slurm_annotate(void *data, const char *cpath, struct cgroups_attrs *attrs)
{
    struct slurm *sl = data;
    pthread_mutex_lock(&sl->lock);
    int r = slurm_attrs(sl, CGROUP_V2, cpath, attrs, true);
    if (r == SLURM_NOT_JOB)
        r = slurm_attrs(sl, CGROUP_V1, cpath, attrs, true);
    pthread_mutex_unlock(&sl->lock);
    return r < 0 ? r : r == SLURM_IS_JOB;
}

/* family.removed: a job's cgroup is gone, so is what scontrol said of it. */
static void slurm_removed(void *data, const struct cgroup_hierarchy *h, const char *cpath)
{
    struct slurm *sl = data;
    const struct named_regex *re = h->version == CGROUP_V1 ? &sl->re_v1 : &sl->re_v2;
    struct named_regex_capture caps[4];
    if (named_regex_match(re, cpath, caps, NULL) != 1)
        return;
    const struct named_regex_capture *rest = &caps[slurm_group(re, "rest")];
    if (rest->len == strspn(rest->start, "/")) {
        pthread_mutex_lock(&sl->lock);
        slurm_jobinfo_forget(&sl->ji, caps[slurm_group(re, "job_id")].u64);
        pthread_mutex_unlock(&sl->lock);
    }
}

static void slurm_free(void *state)
{
    struct slurm *sl = state;
    if (!sl)
        return;
    cgroups_common_free(sl->cg);
    named_regex_done(&sl->re_v1);
    named_regex_done(&sl->re_v2);
    slurm_jobinfo_done(&sl->ji);
    pthread_mutex_destroy(&sl->lock);
    free(sl);
}

static int slurm_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct slurm *sl = calloc(1, sizeof(*sl));
    const char *level, *scontrol;
    char msg[256] = "";
    int r;

    if (!sl)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&sl->lock, NULL);
    if ((r = cgroups_common_init(cfg, "slurm", &sl->cg, err)) < 0)
        goto err_free;
    struct cgroups *cg = sl->cg;
    if ((r = cgroups_require(cg, cfg, "ignore_non_jobs", err)) < 0 ||
        (r = cgroups_require(cg, cfg, "jobs_monitoring_level", err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "ignore_non_jobs", true, &sl->ignore_non_jobs, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "jobs_monitoring_level", "job", &level, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "add_source_in_pause_state", false, &cg->start_paused,
                                    err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "annotate_foreign_measurements", false, &sl->annotate,
                                    err)) < 0 ||
        (r = alumet_config_get_duration(cfg, "cgroupv1_refresh_interval", cg->rescan_interval,
                                        &cg->rescan_interval, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "scontrol_path", "scontrol", &scontrol, err)) < 0)
        goto err_free;
    if (cg->rescan_interval <= 0) {
        r = alumet_config_error(cfg, "cgroupv1_refresh_interval", err, -EINVAL,
                                "expected a duration greater than 0, such as \"30s\"");
        goto err_free;
    }
    size_t i = 0;
    while (i < 4 && strcmp(level, slurm_levels[i]) != 0)
        i++;
    if (i == 4) {
        r = alumet_config_error(cfg, "jobs_monitoring_level", err, -EINVAL,
                                "unknown level '%s', expected \"job\", \"step\", \"substep\" or "
                                "\"task\"",
                                level);
        goto err_free;
    }
    sl->level = (enum slurm_level)i;
    if ((r = named_regex_compile(&sl->re_v1, SLURM_RE_V1, msg, sizeof(msg))) < 0 ||
        (r = named_regex_compile(&sl->re_v2, SLURM_RE_V2, msg, sizeof(msg))) < 0) {
        r = alumet_error_set(err, r, "%s", msg);
        goto err_free;
    }
    if (*scontrol && !(sl->ji.command = strdup(scontrol))) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    cg->family = (struct cgroups_family){.setup = slurm_setup,
                                         .removed = slurm_removed,
                                         .annotate = slurm_annotate,
                                         .annotate_key = "job_id",
                                         .data = sl};
    *ret_state = sl;
    return 0;

err_free:
    slurm_free(sl);
    return r;
}

static int slurm_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct slurm *sl = state;
    int r;
    if (sl->annotate &&
        (r = alumet_add_transform(ctx, "annotation", &cgroups_annotate_ops, sl->cg, err)) < 0)
        return r;
    return cgroups_common_start(sl->cg, ctx, "slurm", err);
}

static int slurm_post_pipeline_start(void *state, struct alumet_post_start_ctx *ctx,
                                     struct alumet_error *err)
{
    struct slurm *sl = state;
    return cgroups_common_post_pipeline_start(sl->cg, ctx, err);
}

static int slurm_stop(void *state, struct alumet_error *err)
{
    struct slurm *sl = state;
    return cgroups_common_stop(sl->cg, err);
}

const struct alumet_plugin alumet_plugin_slurm = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "slurm",
    .version = "0.1.1",
    .default_config = SLURM_DEFAULT_CONFIG,
    .init = slurm_init,
    .start = slurm_start,
    .post_pipeline_start = slurm_post_pipeline_start,
    .stop = slurm_stop,
    .free = slurm_free,
};
