/* SPDX-License-Identifier: MIT */
/* The summary printed at the end of exec, like `perf stat` does: duration,
 * energy per measured domain and consumer, average power, where the data is.
 * It is an output of the pipeline: it sees every point after the transforms
 * (RAPL, estimated and attributed energies alike) and sums the energies. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "core/pipeline.h"
#include "exec-summary.h"

#define SUMMARY_MAX_ROWS 64

struct summary_row {
    alumet_metric_id metric;
    char name[96]; /* copied: the registry is gone when the summary prints */
    char key[160]; /* domain, or resource, and consumer */
    double joules;
};

struct exec_summary {
    pthread_mutex_t lock;
    struct summary_row rows[SUMMARY_MAX_ROWS];
    size_t n;
    bool truncated;
};

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

static int summary_write(void *data, const struct alumet_buffer *buf,
                         const struct alumet_registry *reg, struct alumet_error *err)
{
    (void)err;
    struct exec_summary *s = data;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < alumet_buffer_len(buf); i++) {
        const struct alumet_point *pt = alumet_buffer_get(buf, i);
        const struct alumet_metric *m = alumet_registry_get(reg, pt->metric);
        if (!m || !summary_is_energy(m))
            continue;
        double v = pt->value_type == ALUMET_VALUE_F64 ? pt->value.f64 : (double)pt->value.u64;
        char key[160];
        summary_key(buf, pt, key, sizeof(key));
        size_t j = 0;
        while (j < s->n && !(s->rows[j].metric == pt->metric && strcmp(s->rows[j].key, key) == 0))
            j++;
        if (j == s->n) {
            if (s->n == SUMMARY_MAX_ROWS) {
                s->truncated = true;
                continue;
            }
            s->rows[j] = (struct summary_row){.metric = pt->metric};
            snprintf(s->rows[j].name, sizeof(s->rows[j].name), "%s", m->name);
            snprintf(s->rows[j].key, sizeof(s->rows[j].key), "%s", key);
            s->n++;
        }
        if (isfinite(v))
            s->rows[j].joules += v * summary_scale(m);
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static const struct alumet_output_ops summary_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = summary_write,
};

struct exec_summary *exec_summary_new(void)
{
    struct exec_summary *s = calloc(1, sizeof(*s));
    if (s)
        pthread_mutex_init(&s->lock, NULL);
    return s;
}

void exec_summary_free(struct exec_summary *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int exec_summary_register(struct exec_summary *s, struct alumet_pipeline *p,
                          struct alumet_error *err)
{
    /* lossless (the totals must be exact), with room so that it never
     * holds the transform thread back */
    struct alumet_output_opts opts = {
        .queue_size = 1024, .policy = ALUMET_QUEUE_BLOCK, .policy_set = true};
    return alumet__pipeline_add_internal_output(p, "exec-summary", &summary_ops, s, &opts, err);
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

void exec_summary_print(struct exec_summary *s, FILE *f, const char *const *argv,
                        const char *status, double seconds, const char *data_where)
{
    pthread_mutex_lock(&s->lock);
    qsort(s->rows, s->n, sizeof(s->rows[0]), summary_cmp);
    fprintf(f, "\n Energy summary of '");
    for (size_t i = 0; argv[i]; i++)
        fprintf(f, "%s%s", i ? " " : "", argv[i]);
    fprintf(f, "' (%s):\n\n", status);
    fprintf(f, "   %12.3f s   duration\n", seconds);
    if (s->n == 0)
        fprintf(f, "\n   no energy was measured: no energy source is enabled, or none works "
                   "on this machine (see the warnings above; without RAPL, try the "
                   "energy-estimation-tdp plugin)\n");
    else
        fprintf(f, "\n   %14s  %11s   %-40s %s\n", "energy", "avg power", "metric", "domain");
    for (size_t i = 0; i < s->n; i++) {
        fprintf(f, "   ");
        summary_energy(f, s->rows[i].joules);
        fprintf(f, " %10.3f W   %-40s %s\n", seconds > 0 ? s->rows[i].joules / seconds : 0.0,
                s->rows[i].name, s->rows[i].key);
    }
    if (s->truncated)
        fprintf(f, "   (more series were measured than this summary shows)\n");
    if (data_where && *data_where)
        fprintf(f, "\n   full data: %s\n", data_where);
    fprintf(f, "\n");
    pthread_mutex_unlock(&s->lock);
}
