/* SPDX-License-Identifier: MIT */
/* oar: the cgroup measurements of the cgroups plugin for the jobs of the
 * OAR batch scheduler, with their job id and user as attributes, and the
 * transform oar_job_info_attacher that tells every other point which jobs
 * were running; as upstream Alumet's oar plugin 0.1.1 (see README.md). The
 * engine (hierarchies, detection, readers, metrics) is the cgroups plugin's
 * (plugins/cgroups); this file chooses the job cgroups. */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/measurement.h"
#include "alumet/plugin.h"
#include "alumet/transform.h"
#include "cgroups.h"
#include "util/cgroup.h"
#include "util/named-regex.h"

/* Upstream's regexes, anchored at the end (a cgroup below a job's is not
 * the job) and, on v1, with digits, '.', '_' and '-' allowed in user
 * names. The regex follows the cgroup version, not oar_version. */
#define OAR_RE_V1 "/oar/(?<user>[a-zA-Z0-9._-]+)_(?<job_id:u64>\\d+)$"
#define OAR_RE_V2 "/oar\\.slice/.*/oar-u(?<user_id:u64>\\d+)-j(?<job_id:u64>\\d+)(\\.slice)?$"

#define OAR_DEFAULT_CONFIG                                                                         \
    "[plugins.oar]\n"                                                                              \
    "# Off by default: on a node without OAR its transform would add involved_jobs = []\n"         \
    "# to every point; set to true on OAR nodes\n"                                                 \
    "enabled = false\n"                                                                            \
    "# How often the cgroups of the jobs are measured\n"                                           \
    "poll_interval = \"5s\"\n"                                                                     \
    "# true: register the metrics but measure nothing\n"                                           \
    "disable_sources = false\n"                                                                    \
    "# \"oar2\" or \"oar3\"\n"                                                                     \
    "oar_version = \"oar3\"\n"                                                                     \
    "# false: measure the cgroups that are not jobs' too\n"                                        \
    "jobs_only = true\n"

struct oar {
    struct cgroups *cg; /* owned */
    bool jobs_only;
    struct named_regex re_v1, re_v2;
    /* the job tracker: ids of the job cgroups that exist, sorted, no
     * duplicates (the source adds and removes, the transform reads) */
    pthread_mutex_t lock;
    uint64_t *jobs;
    size_t n_jobs, cap_jobs;
    bool annotate; /* annotate_foreign_measurements */
};

static size_t oar_group(const struct named_regex *re, const char *name)
{
    for (size_t i = 0; i < re->n_groups; i++)
        if (strcmp(re->groups[i].name, name) == 0)
            return i;
    return re->n_groups;
}

/* The job id of cpath in h, false when it is not a job. */
static bool oar_job_of(struct oar *o, enum cgroup_version version, const char *cpath,
                       struct named_regex_capture caps[3], bool quiet)
{
    const struct named_regex *re = version == CGROUP_V1 ? &o->re_v1 : &o->re_v2;
    size_t bad;
    int r = named_regex_match(re, cpath, caps, &bad);
    if (r == -ERANGE && !quiet)
        cgroups_log(o->cg, ALUMET_LOG_WARN, "cgroup '%s': %s is too large, not an OAR job", cpath,
                    re->groups[bad].name);
    return r == 1;
}

/* Sorted insertion or removal of id. */
static int oar_track(struct oar *o, uint64_t id, bool add)
{
    int r = 0;
    pthread_mutex_lock(&o->lock);
    size_t i = 0;
    while (i < o->n_jobs && o->jobs[i] < id)
        i++;
    bool found = i < o->n_jobs && o->jobs[i] == id;
    if (add && !found) {
        if (o->n_jobs == o->cap_jobs) {
            size_t ncap = o->cap_jobs ? o->cap_jobs * 2 : 16;
            uint64_t *a = reallocarray(o->jobs, ncap, sizeof(*a));
            if (!a) {
                r = -ENOMEM;
                goto out;
            }
            o->jobs = a;
            o->cap_jobs = ncap;
        }
        memmove(o->jobs + i + 1, o->jobs + i, (o->n_jobs - i) * sizeof(*o->jobs));
        o->jobs[i] = id;
        o->n_jobs++;
    } else if (!add && found) {
        memmove(o->jobs + i, o->jobs + i + 1, (o->n_jobs - i - 1) * sizeof(*o->jobs));
        o->n_jobs--;
    }
out:
    pthread_mutex_unlock(&o->lock);
    return r;
}

/* The attributes of a job's cgroup, from the captures of its regex: v1
 * user, job_id; v2 user_id, job_id, user. 0 or -ENOMEM. */
static int oar_attrs(struct oar *o, const struct named_regex *re,
                     const struct named_regex_capture caps[3], const char *cpath,
                     struct cgroups_attrs *attrs, bool quiet)
{
    int r;

    for (size_t i = 0; i < re->n_groups; i++) {
        const struct named_regex_capture *c = &caps[i];
        if (re->groups[i].type == NAMED_REGEX_U64) {
            r = cgroups_attrs_add_u64(attrs, re->groups[i].name, c->u64);
        } else {
            char *s = strndup(c->start, c->len);
            r = s ? cgroups_attrs_add_str(attrs, re->groups[i].name, s) : -ENOMEM;
            free(s);
        }
        if (r < 0)
            return r;
    }
    size_t uid_i = oar_group(re, "user_id");
    if (uid_i < re->n_groups) {
        /* upstream runs `id -n -u <uid>` (and panics when it fails); the
         * same name from the user database, without a process */
        uint64_t uid = caps[uid_i].u64;
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (uid <= (uid_t)-1 && getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
            if ((r = cgroups_attrs_add_str(attrs, "user", pw.pw_name)) < 0)
                return r;
        } else if (!quiet) {
            cgroups_log(o->cg, ALUMET_LOG_WARN,
                        "cgroup '%s': no user has the uid %llu, its points have no 'user' "
                        "attribute",
                        cpath, (unsigned long long)uid);
        }
    }
    return 0;
}

/* family.setup: a job's cgroup with its attributes, in the tracker. */
static int oar_setup(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                     struct cgroups_attrs *attrs)
{
    struct oar *o = data;
    const struct named_regex *re = h->version == CGROUP_V1 ? &o->re_v1 : &o->re_v2;
    struct named_regex_capture caps[3];
    if (!oar_job_of(o, h->version, cpath, caps, false))
        return o->jobs_only ? 0 : 1;
    if (oar_attrs(o, re, caps, cpath, attrs, false) < 0)
        return -ENOMEM;
    return oar_track(o, caps[oar_group(re, "job_id")].u64, true) < 0 ? -ENOMEM : 1;
}

/* family.annotate ("oar-annotation"): the job of the cgroup cpath or of the
 * nearest cgroup above it that is a job's (the regexes are anchored at the
 * job's own cgroup), v2 layout first, then v1's. */
static int oar_annotate(void *data, const char *cpath, struct cgroups_attrs *attrs)
{
    struct oar *o = data;
    char *path = strdup(cpath);
    int r = 0;
    if (!path)
        return -ENOMEM;
    char *end;
    do {
        struct named_regex_capture caps[3];
        for (int v = 0; v < 2 && r == 0; v++) {
            enum cgroup_version version = v == 0 ? CGROUP_V2 : CGROUP_V1;
            const struct named_regex *re = version == CGROUP_V1 ? &o->re_v1 : &o->re_v2;
            if (oar_job_of(o, version, path, caps, true))
                r = oar_attrs(o, re, caps, path, attrs, true) < 0 ? -ENOMEM : 1;
        }
        if ((end = strrchr(path, '/')))
            *end = '\0';
    } while (r == 0 && end && *path);
    free(path);
    return r;
}

/* family.removed: the job leaves the tracker. */
static void oar_removed(void *data, const struct cgroup_hierarchy *h, const char *cpath)
{
    struct oar *o = data;
    const struct named_regex *re = h->version == CGROUP_V1 ? &o->re_v1 : &o->re_v2;
    struct named_regex_capture caps[3];
    if (oar_job_of(o, h->version, cpath, caps, false))
        oar_track(o, caps[oar_group(re, "job_id")].u64, false);
}

/* oar_job_info_attacher: every point without job_id gets involved_jobs. */
static int oar_attach(void *data, struct alumet_buffer *buf, const struct alumet_registry *reg,
                      struct alumet_error *err)
{
    struct oar *o = data;
    (void)reg;
    pthread_mutex_lock(&o->lock);
    size_t n_jobs = o->n_jobs;
    uint64_t *jobs = alumet_buffer_alloc(buf, (n_jobs ? n_jobs : 1) * sizeof(*jobs));
    if (jobs && n_jobs)
        memcpy(jobs, o->jobs, n_jobs * sizeof(*jobs));
    pthread_mutex_unlock(&o->lock);
    if (!jobs)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    struct alumet_attr a = {.key = "involved_jobs", .type = ALUMET_ATTR_LIST_U64};
    a.v.list.items = jobs;
    a.v.list.len = n_jobs;
    for (size_t i = 0, n = alumet_buffer_len(buf); i < n; i++) {
        struct alumet_point *p = alumet_buffer_at(buf, i);
        if (alumet_point_find_attr(buf, p, "job_id"))
            continue;
        if (alumet_point_add_attr(buf, p, &a) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

extern const struct alumet_transform_ops oar_job_info_attacher_ops; /* for the tests */
const struct alumet_transform_ops oar_job_info_attacher_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = oar_attach,
};

static void oar_free(void *state)
{
    struct oar *o = state;
    if (!o)
        return;
    cgroups_common_free(o->cg);
    named_regex_done(&o->re_v1);
    named_regex_done(&o->re_v2);
    pthread_mutex_destroy(&o->lock);
    free(o->jobs);
    free(o);
}

static int oar_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct oar *o = calloc(1, sizeof(*o));
    const char *version;
    char msg[256] = "";
    int r;

    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&o->lock, NULL);
    if ((r = cgroups_common_init(cfg, "oar", &o->cg, err)) < 0)
        goto err_free;
    struct cgroups *cg = o->cg;
    if ((r = cgroups_require(cg, cfg, "oar_version", err)) < 0 ||
        (r = cgroups_require(cg, cfg, "jobs_only", err)) < 0 ||
        (r = alumet_config_get_string(cfg, "oar_version", "oar3", &version, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "jobs_only", true, &o->jobs_only, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "annotate_foreign_measurements", false, &o->annotate,
                                    err)) < 0)
        goto err_free;
    if (strcmp(version, "oar2") != 0 && strcmp(version, "oar3") != 0) {
        r = alumet_config_error(cfg, "oar_version", err, -EINVAL,
                                "unknown version '%s', expected \"oar2\" or \"oar3\"", version);
        goto err_free;
    }
    if ((r = named_regex_compile(&o->re_v1, OAR_RE_V1, msg, sizeof(msg))) < 0 ||
        (r = named_regex_compile(&o->re_v2, OAR_RE_V2, msg, sizeof(msg))) < 0) {
        r = alumet_error_set(err, r, "%s", msg);
        goto err_free;
    }
    cg->family = (struct cgroups_family){.setup = oar_setup,
                                         .removed = oar_removed,
                                         .annotate = oar_annotate,
                                         .annotate_key = "job_id",
                                         .data = o};
    *ret_state = o;
    return 0;

err_free:
    oar_free(o);
    return r;
}

static int oar_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct oar *o = state;
    int r = cgroups_common_start(o->cg, ctx, "oar", err);
    if (r < 0)
        return r;
    /* before the attacher, which leaves the points with a job_id alone */
    if (o->annotate &&
        (r = alumet_add_transform(ctx, "oar-annotation", &cgroups_annotate_ops, o->cg, err)) < 0)
        return r;
    return alumet_add_transform(ctx, "oar_job_info_attacher", &oar_job_info_attacher_ops, o, err);
}

static int oar_post_pipeline_start(void *state, struct alumet_post_start_ctx *ctx,
                                   struct alumet_error *err)
{
    struct oar *o = state;
    return cgroups_common_post_pipeline_start(o->cg, ctx, err);
}

static int oar_stop(void *state, struct alumet_error *err)
{
    struct oar *o = state;
    return cgroups_common_stop(o->cg, err);
}

const struct alumet_plugin alumet_plugin_oar = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "oar",
    .version = "0.1.1",
    .default_config = OAR_DEFAULT_CONFIG,
    .init = oar_init,
    .start = oar_start,
    .post_pipeline_start = oar_post_pipeline_start,
    .stop = oar_stop,
    .free = oar_free,
};
