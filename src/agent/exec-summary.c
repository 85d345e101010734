/* SPDX-License-Identifier: MIT */
/* The summary printed at the end of exec (and watch), like `perf stat`
 * does: duration, energy per measured domain and consumer, average power,
 * the child's CPU time and its share of the CPU energy, where the data is.
 *
 * It is an output of the pipeline: it sees every point after the transforms
 * (RAPL, estimated and attributed energies alike). An energy point covers
 * the interval from the previous point of its series to its own timestamp;
 * the summary integrates over exactly the child's lifetime [t0, t1],
 * prorating the intervals that straddle t0 and t1, so it never bills the
 * child for energy spent before it started or after it ended (and an
 * average power is never above what the sources measured). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "core/pipeline.h"
#include "core/registry.h"
#include "exec-summary.h"
#include "util/cgroup-owner.h"

#define SUMMARY_MAX_ROWS 64
#define SUMMARY_MAX_SERIES 4096

struct summary_row {
    alumet_metric_id metric;
    char name[96]; /* copied: the registry is gone when the summary prints */
    char key[160]; /* domain, or resource, and consumer */
    bool machine;  /* a total of the machine's CPUs (package_total, or the estimate) */
    bool estimated;
    bool family;   /* consumer: the process or one of its descendants (GPU joules, ...) */
    pid_t pid;     /* consumer process, 0: another kind; family not checked yet */
    double joules; /* settled: intervals that ended while the child was alive (carbon: grams) */
    /* carbon_emission of energy-to-carbon: its intensities and their source */
    bool carbon;
    double intensity_min, intensity_max;
    char source[128];
};

/* An interval that ended after the child (or once its end is known):
 * prorated at print time, when t1 is known. */
struct summary_pending {
    size_t row;
    alumet_time_ns from, to;
    double joules;
};

struct exec_summary {
    pthread_mutex_t lock;
    struct summary_row rows[SUMMARY_MAX_ROWS];
    size_t n;
    bool truncated;
    /* the previous timestamp of each series (metric, resource, consumer, attributes) */
    struct {
        uint64_t hash;
        alumet_time_ns last;
    } series[SUMMARY_MAX_SERIES];
    size_t n_series;
    struct summary_pending *pending;
    size_t n_pending, cap_pending;
    alumet_time_ns t_start; /* when the sources took their first measurement */
    _Atomic alumet_time_ns t0, t1;
    _Atomic pid_t child;
    /* the process's figures (exec_summary_set_process), -1: unknown */
    double cpu, machine_busy, w_per_cpu;
    char measured_by[128], estimated_by[256];
    /* SCI = (E x I + M) / R (exec_summary_set_sci), sci_units 0: none */
    double sci_embodied, sci_units;
    char sci_unit[64];
    char cgroup[1024]; /* exec_cgroup_describe of the process, "" when unknown */
};

static void summary_final_points(void *data, struct alumet_buffer *buf,
                                 struct alumet_registry *reg);

static double summary_scale(const struct alumet_metric *m)
{
    static const double exp10[] = {1e-9, 1e-6, 1e-3, 1, 1e3, 1e6, 1e9};
    int p = (int)m->unit.prefix;
    double s = p >= 0 && p < 7 ? exp10[p] : 1;
    return m->unit.base == ALUMET_UNIT_WATT_HOUR ? s * 3600.0 : s;
}

static bool summary_is_energy(const struct alumet_metric *m)
{
    return m->unit.base == ALUMET_UNIT_JOULE || m->unit.base == ALUMET_UNIT_WATT_HOUR;
}

/* The grams of CO2-equivalent of the energy-to-carbon plugin. */
static bool summary_is_carbon(const struct alumet_metric *m)
{
    return m->unit.base == ALUMET_UNIT_CUSTOM && strcmp(m->name, "carbon_emission") == 0;
}

/* Remember the intensity and its source (attributes of energy-to-carbon). */
static void summary_carbon_source(struct summary_row *r, const struct alumet_buffer *buf,
                                  const struct alumet_point *pt)
{
    const struct alumet_attr *i = alumet_point_find_attr(buf, pt, "intensity");
    const struct alumet_attr *src = alumet_point_find_attr(buf, pt, "intensity_source");
    if (i && i->type == ALUMET_ATTR_F64) {
        if (r->intensity_max < 0 || i->v.f64 > r->intensity_max)
            r->intensity_max = i->v.f64;
        if (r->intensity_min < 0 || i->v.f64 < r->intensity_min)
            r->intensity_min = i->v.f64;
    }
    if (src && src->type == ALUMET_ATTR_STR && !r->source[0])
        snprintf(r->source, sizeof(r->source), "%s", src->v.str);
}

/* "package_total", "cpu_package 0 / process 1234", ... */
static void summary_key(const struct alumet_buffer *buf, const struct alumet_point *pt, char *key,
                        size_t size)
{
    const struct alumet_attr *dom = alumet_point_find_attr(buf, pt, "domain");
    char rid[64], cid[64];
    size_t w = 0;
    if (dom && dom->type == ALUMET_ATTR_STR) {
        w = (size_t)snprintf(key, size, "%s", dom->v.str);
    } else {
        alumet_resource_id_text(&pt->resource, rid, sizeof(rid));
        w = (size_t)snprintf(key, size, "%s%s%s", alumet_resource_kind_name(&pt->resource),
                             rid[0] ? " " : "", rid);
    }
    if (pt->consumer.kind != ALUMET_CONSUMER_LOCAL_MACHINE && w < size) {
        alumet_consumer_id_text(&pt->consumer, cid, sizeof(cid));
        snprintf(key + w, size - w, ", %s %s", alumet_consumer_kind_name(&pt->consumer), cid);
    }
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;
}

/* The series of a point: its row key, metric and every attribute. */
static uint64_t summary_series_hash(const struct alumet_buffer *buf, const struct alumet_point *pt,
                                    const char *key)
{
    char text[128];
    uint64_t h = fnv(1469598103934665603ull, key);
    snprintf(text, sizeof(text), "%u", (unsigned)pt->metric);
    h = fnv(h, text);
    const struct alumet_attr *a = alumet_point_attrs(buf, pt);
    for (uint32_t i = 0; i < pt->attr_count; i++) {
        h = fnv(h, a[i].key);
        alumet_attr_text(&a[i], text, sizeof(text));
        h = fnv(h, text);
    }
    return h;
}

/* The start of the interval a point covers (its series' previous point, or
 * the first measurement of the agent), and remember this one. */
static alumet_time_ns summary_interval_start(struct exec_summary *s, uint64_t hash,
                                             alumet_time_ns ts)
{
    for (size_t i = 0; i < s->n_series; i++)
        if (s->series[i].hash == hash) {
            alumet_time_ns from = s->series[i].last;
            s->series[i].last = ts;
            return from;
        }
    if (s->n_series < SUMMARY_MAX_SERIES) {
        s->series[s->n_series].hash = hash;
        s->series[s->n_series].last = ts;
        s->n_series++;
    }
    return s->t_start;
}

/* The part of [from, to] inside [t0, t1] (t1 = INT64_MAX: not ended). */
static double summary_overlap(alumet_time_ns from, alumet_time_ns to, alumet_time_ns t0,
                              alumet_time_ns t1)
{
    if (to <= from)
        return to >= t0 && to <= t1 ? 1.0 : 0.0; /* an instant: in or out */
    alumet_time_ns a = from > t0 ? from : t0, b = to < t1 ? to : t1;
    return b > a ? (double)(b - a) / (double)(to - from) : 0.0;
}

/* Is the child still running (not even a zombie yet)? */
static bool summary_child_alive(struct exec_summary *s)
{
    pid_t pid = atomic_load(&s->child);
    if (pid <= 0)
        return false;
    siginfo_t info = {0};
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == ECHILD && kill(pid, 0) == 0; /* watch: not our child */
    return info.si_pid == 0;
}

int exec_proc_stat(pid_t pid, pid_t *ret_ppid, double *ret_cpu)
{
    char path[64], text[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')');
    /* fields after the comm: 3 state 4 ppid ... 14 utime 15 stime 16 cutime 17 cstime */
    int ppid;
    unsigned long long t[4];
    if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ppid,
                     &t[0], &t[1], &t[2], &t[3]) != 5)
        return -EBADMSG;
    if (ret_ppid)
        *ret_ppid = ppid;
    if (ret_cpu)
        *ret_cpu = (double)(t[0] + t[1] + t[2] + t[3]) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

/* Is pid the watched process or one of its descendants (its parents'
 * chain, read from /proc while it runs)? */
static bool summary_in_family(pid_t root, pid_t pid)
{
    for (int depth = 0; pid > 1 && depth < 64; depth++) {
        if (pid == root)
            return true;
        if (exec_proc_stat(pid, &pid, NULL) < 0)
            return false;
    }
    return false;
}

/* Once the watched process is known, and while the row's process runs:
 * is it of the family? Checked once per row. */
static size_t summary_check_family(struct exec_summary *s, size_t j)
{
    struct summary_row *r = &s->rows[j];
    pid_t root = atomic_load(&s->child);
    if (r->pid > 0 && root > 0) {
        r->family = summary_in_family(root, r->pid);
        r->pid = 0;
    }
    return j;
}

static size_t summary_row(struct exec_summary *s, const struct alumet_buffer *buf,
                          const struct alumet_point *pt, const struct alumet_metric *m,
                          const char *key)
{
    size_t j = 0;
    while (j < s->n && !(s->rows[j].metric == pt->metric && strcmp(s->rows[j].key, key) == 0))
        j++;
    if (j < s->n)
        return summary_check_family(s, j);
    if (s->n == SUMMARY_MAX_ROWS) {
        s->truncated = true;
        return SIZE_MAX;
    }
    struct summary_row *r = &s->rows[j];
    *r = (struct summary_row){.metric = pt->metric,
                              .carbon = summary_is_carbon(m),
                              .intensity_min = -1,
                              .intensity_max = -1};
    snprintf(r->name, sizeof(r->name), "%s", m->name);
    snprintf(r->key, sizeof(r->key), "%s", key);
    const struct alumet_attr *dom = alumet_point_find_attr(buf, pt, "domain");
    bool local = pt->consumer.kind == ALUMET_CONSUMER_LOCAL_MACHINE;
    const struct alumet_attr *est = alumet_point_find_attr(buf, pt, "estimate");
    r->estimated = strstr(m->name, "estimated") != NULL || strstr(m->name, "attributed") ||
                   (est && (est->type != ALUMET_ATTR_BOOL || est->v.b));
    if (pt->consumer.kind == ALUMET_CONSUMER_PROCESS)
        r->pid = (pid_t)pt->consumer.num;
    r->machine =
        local &&
        ((dom && dom->type == ALUMET_ATTR_STR && strcmp(dom->v.str, "package_total") == 0) ||
         (r->estimated && pt->resource.kind == ALUMET_RESOURCE_LOCAL_MACHINE));
    s->n++;
    return summary_check_family(s, j);
}

static int summary_write(void *data, const struct alumet_buffer *buf,
                         const struct alumet_registry *reg, struct alumet_error *err)
{
    (void)err;
    struct exec_summary *s = data;
    /* checked after the points were made: an interval that ended while the
     * child still ran is settled now, the others wait for t1 */
    bool alive = summary_child_alive(s);
    alumet_time_ns t0 = atomic_load(&s->t0);
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < alumet_buffer_len(buf); i++) {
        const struct alumet_point *pt = alumet_buffer_get(buf, i);
        const struct alumet_metric *m = alumet_registry_get(reg, pt->metric);
        /* carbon: only what can be the machine's (a row per consumer would
         * take the room of the energy rows) */
        if (!m || (!summary_is_energy(m) &&
                   !(summary_is_carbon(m) && pt->consumer.kind == ALUMET_CONSUMER_LOCAL_MACHINE)))
            continue;
        double v = pt->value_type == ALUMET_VALUE_F64 ? pt->value.f64 : (double)pt->value.u64;
        char key[160];
        summary_key(buf, pt, key, sizeof(key));
        alumet_time_ns from =
            summary_interval_start(s, summary_series_hash(buf, pt, key), pt->timestamp);
        size_t j = summary_row(s, buf, pt, m, key);
        if (j == SIZE_MAX || !isfinite(v))
            continue;
        if (s->rows[j].carbon)
            summary_carbon_source(&s->rows[j], buf, pt);
        double joules = s->rows[j].carbon ? v : v * summary_scale(m);
        if (alive && t0 > 0) {
            s->rows[j].joules += joules * summary_overlap(from, pt->timestamp, t0, INT64_MAX);
        } else if (t0 > 0 || !alive) {
            if (s->n_pending == s->cap_pending) {
                size_t cap = s->cap_pending ? 2 * s->cap_pending : 64;
                struct summary_pending *n = realloc(s->pending, cap * sizeof(*n));
                if (!n)
                    continue;
                s->pending = n;
                s->cap_pending = cap;
            }
            s->pending[s->n_pending++] = (struct summary_pending){j, from, pt->timestamp, joules};
        }
        /* else: the child has not started: nothing of it is billed */
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

double exec_summary_energy_so_far(struct exec_summary *s)
{
    /* as summary_machine_joules, without settling: RAPL wins over the estimate */
    double j = -1;
    bool measured = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].machine && (j < 0 || (!measured && !s->rows[i].estimated))) {
            j = s->rows[i].joules;
            measured = !s->rows[i].estimated;
        }
    pthread_mutex_unlock(&s->lock);
    return j;
}

static const struct alumet_output_ops summary_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = summary_write,
};

struct exec_summary *exec_summary_new(void)
{
    struct exec_summary *s = calloc(1, sizeof(*s));
    if (s) {
        pthread_mutex_init(&s->lock, NULL);
        s->t_start = alumet_time_now();
        s->cpu = s->machine_busy = -1;
    }
    return s;
}

void exec_summary_free(struct exec_summary *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->pending);
    free(s);
}

int exec_summary_register(struct exec_summary *s, struct alumet_pipeline *p,
                          struct alumet_error *err)
{
    /* lossless (the totals must be exact), with room so that it never
     * holds the transform thread back */
    struct alumet_output_opts opts = {
        .queue_size = 1024, .policy = ALUMET_QUEUE_BLOCK, .policy_set = true};
    int r = alumet__pipeline_add_internal_output(p, "exec-summary", &summary_ops, s, &opts, err);
    if (r == 0)
        alumet__pipeline_set_final_hook(p, summary_final_points, s);
    return r;
}

/* The path of one line of /proc/<pid>/cgroup, [*ret, *ret + *len). */
static bool exec_cgroup_line(const char *line, const char *end, bool *v2, bool *cpu,
                             const char **ret, size_t *len)
{
    const char *c1 = memchr(line, ':', (size_t)(end - line));
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
    if (!c2)
        return false;
    char ctl[256];
    size_t n = (size_t)(c2 - c1 - 1) < sizeof(ctl) - 2 ? (size_t)(c2 - c1 - 1) : sizeof(ctl) - 3;
    ctl[0] = ',';
    memcpy(ctl + 1, c1 + 1, n);
    ctl[n + 1] = ',';
    ctl[n + 2] = '\0';
    *v2 = n == 0;
    *cpu = strstr(ctl, ",cpu,") || strstr(ctl, ",cpuacct,");
    *ret = c2 + 1;
    *len = (size_t)(end - c2 - 1);
    return *len > 0;
}

void exec_cgroup_describe(const char *text, char *buf, size_t size)
{
    const char *best = NULL, *cpu_path = NULL, *other = NULL;
    size_t best_len = 0, cpu_len = 0, other_len = 0;
    for (const char *l = text; *l;) {
        const char *end = strchr(l, '\n');
        if (!end)
            end = l + strlen(l);
        const char *path;
        size_t len;
        bool v2, cpu;
        if (exec_cgroup_line(l, end, &v2, &cpu, &path, &len)) {
            bool root = len == 1 && *path == '/';
            if (v2 && !root && !best) {
                best = path;
                best_len = len;
            } else if (cpu && !root && !cpu_path) {
                cpu_path = path;
                cpu_len = len;
            } else if (!other || (!root && other_len == 1)) {
                other = path;
                other_len = len;
            }
        }
        l = *end ? end + 1 : end;
    }
    if (!best) {
        best = cpu_path ? cpu_path : other;
        best_len = cpu_path ? cpu_len : other_len;
    }
    if (!best || size == 0) {
        if (size)
            buf[0] = '\0';
        return;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%.*s", (int)best_len, best);
    struct cgroup_owner o;
    int n = snprintf(buf, size, "%s", path);
    if (!cgroup_owner_from_path(path, &o) || n < 0 || (size_t)n >= size)
        return;
    const char *sep = " (";
#define OWNER(...)                                                                                 \
    do {                                                                                           \
        size_t used = strlen(buf);                                                                 \
        snprintf(buf + used, size - used, __VA_ARGS__);                                            \
        sep = ", ";                                                                                \
    } while (0)
    if (*o.pod_uid)
        OWNER("%sKubernetes pod %s", sep, o.pod_uid);
    if (*o.job_id)
        OWNER("%sSlurm job %s", sep, o.job_id);
    if (*o.vm_name)
        OWNER("%svirtual machine %s", sep, o.vm_name);
    if (o.has_container)
        OWNER("%scontainer %s, %s", sep, o.container.id, o.container.runtime);
#undef OWNER
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, ")");
}

void exec_summary_set_child(struct exec_summary *s, pid_t pid)
{
    atomic_store(&s->child, pid);
    char path[64], text[4096];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    pthread_mutex_lock(&s->lock);
    exec_cgroup_describe(text, s->cgroup, sizeof(s->cgroup));
    pthread_mutex_unlock(&s->lock);
}

void exec_summary_child_started(struct exec_summary *s, pid_t pid, alumet_time_ns t0)
{
    atomic_store(&s->child, pid);
    atomic_store(&s->t0, t0);
}

void exec_summary_child_ended(struct exec_summary *s, alumet_time_ns t1)
{
    atomic_store(&s->t1, t1);
}

static int summary_cmp(const void *a, const void *b)
{
    const struct summary_row *x = a, *y = b;
    if (x->metric != y->metric)
        return x->metric < y->metric ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void summary_energy(FILE *f, double j)
{
    if (fabs(j) >= 1e3)
        fprintf(f, "%12.3f kJ", j / 1e3);
    else if (fabs(j) >= 1 || j == 0)
        fprintf(f, "%12.3f J ", j);
    else
        fprintf(f, "%12.3f mJ", j * 1e3);
}

/* Settle what waited for t1: the prorated part inside [t0, t1]. */
static void summary_settle(struct exec_summary *s)
{
    alumet_time_ns t0 = atomic_load(&s->t0), t1 = atomic_load(&s->t1);
    if (t1 == 0)
        return; /* the end is not known yet */
    for (size_t i = 0; i < s->n_pending; i++) {
        struct summary_pending *p = &s->pending[i];
        s->rows[p->row].joules += p->joules * summary_overlap(p->from, p->to, t0, t1);
    }
    s->n_pending = 0;
}

/* Energy of the machine's CPUs over [t0, t1] (RAPL package_total, else the
 * TDP estimate), -1 when neither was measured; *ret_estimated says which.
 * Lock held. */
static double summary_machine_joules(struct exec_summary *s, bool *ret_estimated)
{
    summary_settle(s);
    double j = -1;
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].machine && !s->rows[i].carbon && (j < 0 || !s->rows[i].estimated)) {
            /* a measurement (RAPL) wins over an estimate */
            j = s->rows[i].joules;
            *ret_estimated = s->rows[i].estimated;
        }
    return j;
}

/* The carbon row of the machine's CPU energy (the same choice as
 * summary_machine_joules), NULL without energy-to-carbon. Lock held. */
static const struct summary_row *summary_machine_carbon(struct exec_summary *s)
{
    const struct summary_row *c = NULL;
    summary_settle(s);
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].machine && s->rows[i].carbon && (!c || !s->rows[i].estimated))
            c = &s->rows[i];
    return c;
}

void exec_summary_set_process(struct exec_summary *s, double cpu, double machine_busy,
                              double w_per_cpu, const char *measured_by, const char *estimated_by)
{
    pthread_mutex_lock(&s->lock);
    s->cpu = cpu;
    s->machine_busy = machine_busy;
    s->w_per_cpu = w_per_cpu;
    snprintf(s->measured_by, sizeof(s->measured_by), "%s", measured_by);
    snprintf(s->estimated_by, sizeof(s->estimated_by), "%s", estimated_by);
    pthread_mutex_unlock(&s->lock);
}

void exec_summary_set_sci(struct exec_summary *s, double embodied_g, double units,
                          const char *unit_name)
{
    pthread_mutex_lock(&s->lock);
    s->sci_embodied = embodied_g;
    s->sci_units = units;
    snprintf(s->sci_unit, sizeof(s->sci_unit), "%s", unit_name);
    pthread_mutex_unlock(&s->lock);
}

/* The process's joules: measured, the machine's energy x its share of the
 * busy CPU time (/proc/stat counts in ticks: at most 1); estimated, the
 * estimate's own model on its exact CPU time (cpu x tdp / nb_cpu). -1 when
 * unknown. Lock held. */
/* The machine's and the process's joules over the lifetime (-1: unknown).
 * With the TDP model, a machine figure below the process's share is raised
 * to it (*raised): the machine's is integrated from /proc/stat, whose 10 ms
 * ticks miss part of a short run, while the process's CPU time (wait4,
 * /proc/<pid>/stat at the end) is whole; the rest is then 0, never negative. */
static double summary_process_joules(struct exec_summary *s, double machine, bool estimated);

static void summary_figures(struct exec_summary *s, double *machine, double *mine, bool *estimated,
                            bool *raised)
{
    *estimated = false;
    *machine = summary_machine_joules(s, estimated);
    *mine = summary_process_joules(s, *machine, *estimated);
    *raised = *estimated && *mine > *machine;
    if (*raised)
        *machine = *mine;
}

static double summary_process_joules(struct exec_summary *s, double machine, bool estimated)
{
    if (s->cpu < 0 || machine < 0)
        return -1;
    if (estimated && s->w_per_cpu > 0)
        return s->cpu * s->w_per_cpu;
    double share = s->machine_busy > 0 ? s->cpu / s->machine_busy : (s->cpu > 0 ? 1 : 0);
    return machine * (share > 1 ? 1 : share);
}

static struct alumet_point *summary_push(struct alumet_buffer *buf, struct alumet_registry *reg,
                                         const char *name, struct alumet_unit unit,
                                         const char *desc, alumet_time_ns ts,
                                         const struct alumet_consumer *c, double v,
                                         const char *method, bool estimated)
{
    alumet_metric_id id;
    struct alumet_error err = {0};
    const struct alumet_resource res = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
    if (alumet__registry_add(reg, name, ALUMET_VALUE_F64, unit, desc, &id, &err) < 0)
        return NULL;
    struct alumet_point *pt = alumet_buffer_push_f64(buf, ts, id, &res, c, v);
    if (pt && method) {
        alumet_point_add_attr_str(buf, pt, "method", method);
        /* as energy-estimation-tdp labels its points */
        if (estimated)
            alumet_point_add_attr_str(buf, pt, "estimate", "tdp");
    }
    return pt;
}

/* A carbon figure, labelled with the source of its intensity. */
static struct alumet_point *summary_push_carbon(struct alumet_buffer *buf,
                                                struct alumet_registry *reg, const char *name,
                                                const char *desc, alumet_time_ns ts,
                                                const struct alumet_consumer *c, double grams,
                                                const char *source)
{
    const struct alumet_unit g = {ALUMET_UNIT_CUSTOM, ALUMET_PREFIX_PLAIN, "g_CO2",
                                  "gCO\xe2\x82\x82"};
    struct alumet_point *pt = summary_push(buf, reg, name, g, desc, ts, c, grams, NULL, false);
    const char *copy = pt ? alumet_buffer_strdup(buf, source, (size_t)-1) : NULL;
    if (copy)
        alumet_point_add_attr_str(buf, pt, "intensity_source", copy);
    return pt;
}

/* The final hook of the pipeline: the summary's figures as points. */
static void summary_final_points(void *data, struct alumet_buffer *buf, struct alumet_registry *reg)
{
    struct exec_summary *s = data;
    pthread_mutex_lock(&s->lock);
    bool estimated, raised;
    double machine, mine;
    summary_figures(s, &machine, &mine, &estimated, &raised);
    alumet_time_ns t1 = atomic_load(&s->t1);
    pid_t pid = atomic_load(&s->child);
    struct alumet_consumer proc = {.kind = ALUMET_CONSUMER_PROCESS, .num = (uint32_t)pid};
    const struct alumet_consumer machine_c = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    const char *method = estimated ? "tdp_model" : "cpu_time_share";
    /* only where energy was measured or estimated (a run of the csv output
     * alone gets no extra rows) */
    if (pid > 0 && t1 > 0 && mine >= 0) {
        summary_push(buf, reg, "exec_process_cpu_time", ALUMET_UNIT(SECOND),
                     "CPU time of the process of exec/watch and its descendants over its "
                     "lifetime",
                     t1, &proc, s->cpu, NULL, false);
        summary_push(buf, reg, "exec_process_energy", ALUMET_UNIT(JOULE),
                     "share of the CPU energy of the process of exec/watch over its lifetime", t1,
                     &proc, mine, method, estimated);
        summary_push(buf, reg, "exec_unattributed_energy", ALUMET_UNIT(JOULE),
                     "CPU energy of the other processes and idle over the lifetime of the "
                     "process of exec/watch",
                     t1, &machine_c, machine - mine, method, estimated);
        summary_push(buf, reg, "exec_machine_energy", ALUMET_UNIT(JOULE),
                     "CPU energy of the machine over the lifetime of the process of exec/watch", t1,
                     &machine_c, machine, estimated ? "tdp_model" : "rapl", estimated);
    }
    const struct summary_row *carbon = summary_machine_carbon(s);
    if (pid > 0 && t1 > 0 && mine >= 0 && carbon && machine > 0) {
        summary_push_carbon(buf, reg, "exec_process_carbon",
                            "carbon emissions of the share of the CPU energy of the process of "
                            "exec/watch (grams of CO2 equivalent)",
                            t1, &proc, carbon->joules * mine / machine, carbon->source);
        summary_push_carbon(buf, reg, "exec_machine_carbon",
                            "carbon emissions of the CPU energy of the machine over the lifetime "
                            "of the process of exec/watch (grams of CO2 equivalent)",
                            t1, &machine_c, carbon->joules, carbon->source);
        struct alumet_point *pt = NULL;
        if (s->sci_units > 0)
            pt = summary_push_carbon(
                buf, reg, "exec_sci",
                "Software Carbon Intensity of the run of exec/watch: "
                "(machine carbon + embodied) / functional units (grams of "
                "CO2 equivalent per unit)",
                t1, &machine_c, (carbon->joules + s->sci_embodied) / s->sci_units, carbon->source);
        const char *unit = pt ? alumet_buffer_strdup(buf, s->sci_unit, (size_t)-1) : NULL;
        if (unit)
            alumet_point_add_attr_str(buf, pt, "functional_unit", unit);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Grams in a readable unit: "0.872 mg". */
static void summary_grams(FILE *f, double g)
{
    if (fabs(g) >= 1e3)
        fprintf(f, "%.3f kg", g / 1e3);
    else if (fabs(g) >= 1 || g == 0)
        fprintf(f, "%.3f g", g);
    else if (fabs(g) >= 1e-3)
        fprintf(f, "%.3f mg", g * 1e3);
    else
        fprintf(f, "%.3f \xc2\xb5g", g * 1e6);
}

/* "carbon: 0.872 mg CO2eq (intensity 56.039 g/kWh, source: country FRA),
 * machine CPUs", and the process's share. Lock held. */
static void summary_print_carbon(struct exec_summary *s, FILE *f, double machine, double child)
{
    const struct summary_row *c = summary_machine_carbon(s);
    if (!c)
        return;
    fprintf(f, "\n   carbon: ");
    summary_grams(f, c->joules);
    fprintf(f, " CO2eq (");
    if (c->intensity_min == c->intensity_max)
        fprintf(f, "intensity %g g/kWh", c->intensity_min);
    else if (machine > 0)
        fprintf(f, "intensity %g to %g g/kWh, %.6g on average", c->intensity_min, c->intensity_max,
                c->joules / (machine / 3.6e6));
    else
        fprintf(f, "intensity %g to %g g/kWh", c->intensity_min, c->intensity_max);
    fprintf(f, ", source: %s), machine CPUs\n", c->source[0] ? c->source : "?");
    if (child >= 0 && machine > 0) {
        fprintf(f, "   carbon: ");
        summary_grams(f, c->joules * child / machine);
        fprintf(f, " CO2eq, process and its descendants\n");
    }
    if (s->sci_units > 0) {
        fprintf(f, "   SCI: ");
        summary_grams(f, (c->joules + s->sci_embodied) / s->sci_units);
        fprintf(f, " CO2eq per %s = (E x I ", s->sci_unit);
        summary_grams(f, c->joules);
        fprintf(f, " + M ");
        summary_grams(f, s->sci_embodied);
        fprintf(f, ") / R %g\n", s->sci_units);
    }
}

void exec_summary_print(struct exec_summary *s, FILE *f, const struct exec_summary_info *info)
{
    pthread_mutex_lock(&s->lock);
    bool estimated, raised;
    double machine, child;
    summary_figures(s, &machine, &child, &estimated, &raised);
    double seconds = (double)(atomic_load(&s->t1) - atomic_load(&s->t0)) / 1e9;
    qsort(s->rows, s->n, sizeof(s->rows[0]), summary_cmp);
    fprintf(f, "\n Energy summary of '");
    for (size_t i = 0; info->argv[i]; i++)
        fprintf(f, "%s%s", i ? " " : "", info->argv[i]);
    fprintf(f, "' (%s):\n\n", info->status);
    fprintf(f, "   %12.3f s   duration (%s)\n", seconds, info->duration_what);
    if (s->cpu >= 0 && s->machine_busy > 0)
        fprintf(f,
                "   %12.3f s   CPU time of the process and its descendants (%.1f %% of the "
                "machine's CPU time meanwhile)\n",
                s->cpu, 100.0 * (s->cpu < s->machine_busy ? s->cpu / s->machine_busy : 1.0));
    else if (s->cpu >= 0)
        fprintf(f, "   %12.3f s   CPU time of the process and its descendants\n", s->cpu);
    if (*s->cgroup)
        fprintf(f, "   cgroup of the process: %s\n", s->cgroup);
    size_t energy_rows = 0;
    for (size_t i = 0; i < s->n; i++)
        energy_rows += !s->rows[i].carbon;
    if (energy_rows == 0)
        fprintf(f, "\n   no energy was measured: no energy source is enabled, or none works "
                   "on this machine (see the warnings above; without RAPL, try the "
                   "energy-estimation-tdp plugin)\n");
    else
        fprintf(f, "\n   %14s  %11s   %-40s %s\n", "energy", "avg power", "metric", "domain");
    for (size_t i = 0; i < s->n; i++) {
        if (s->rows[i].carbon)
            continue;
        fprintf(f, "   ");
        summary_energy(f, s->rows[i].joules);
        fprintf(f, " %10.3f W   %-40s %s%s\n", seconds > 0 ? s->rows[i].joules / seconds : 0.0,
                s->rows[i].name, s->rows[i].key, s->rows[i].estimated ? " (estimate)" : "");
    }
    if (s->truncated)
        fprintf(f, "   (more series were measured than this summary shows)\n");
    if (child >= 0) {
        if (estimated && s->w_per_cpu > 0)
            fprintf(f,
                    "\n   the process's share of the CPU energy (its CPU time x %g W per busy "
                    "CPU, the estimate's model):\n",
                    s->w_per_cpu);
        else
            fprintf(f, "\n   the process's share of the CPU energy (its CPU time / the "
                       "machine's):\n");
        fprintf(f, "   ");
        summary_energy(f, child);
        fprintf(f, " %10.3f W   process and its descendants\n", seconds > 0 ? child / seconds : 0);
        fprintf(f, "   ");
        summary_energy(f, machine - child);
        fprintf(f, " %10.3f W   the rest (other processes, idle)\n",
                seconds > 0 ? (machine - child) / seconds : 0);
        fprintf(f, "   ");
        summary_energy(f, machine);
        fprintf(f, " %10.3f W   machine CPUs, %s\n", seconds > 0 ? machine / seconds : 0,
                estimated ? s->estimated_by : s->measured_by);
        if (raised)
            fprintf(f, "   (the machine's estimate is raised to the process's share: /proc/stat "
                       "counts CPU time in 10 ms ticks and saw less of this short run than the "
                       "process's own CPU time)\n");
    }
    summary_print_carbon(s, f, machine, child);
    bool family = false;
    for (size_t i = 0; i < s->n; i++)
        family |= s->rows[i].family && !s->rows[i].carbon;
    if (family)
        fprintf(f, "\n   what the sources attributed to the process and its descendants:\n");
    for (size_t i = 0; i < s->n; i++) {
        if (!s->rows[i].family || s->rows[i].carbon)
            continue;
        fprintf(f, "   ");
        summary_energy(f, s->rows[i].joules);
        fprintf(f, " %10.3f W   %-40s %s%s\n", seconds > 0 ? s->rows[i].joules / seconds : 0.0,
                s->rows[i].name, s->rows[i].key, s->rows[i].estimated ? " (estimate)" : "");
    }
    if (info->data_where && *info->data_where)
        fprintf(f, "\n   full data: %s\n", info->data_where);
    fprintf(f, "\n");
    pthread_mutex_unlock(&s->lock);
}
