/* SPDX-License-Identifier: MIT */
/* report: read a CSV file of the csv plugin and aggregate it for the page.
 *
 *   metric;timestamp;value;resource_kind;resource_id;consumer_kind;consumer_id;[attrs;]__late_attributes
 *   rapl_consumed_energy_J;2024-03-01T10:00:01.000000000Z;12.5;cpu_package;0;local_machine;;domain=package
 *
 * The unit is the metric's suffix (append_unit_to_metric_name, the
 * default); a name without one is energy in joules when it ends with
 * "energy". */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

#define REPORT_MAX_FIELDS 64
/* the processes' series wait in the power list under these names (a first
 * byte no metric has) until the measured command is known */
#define REPORT_CPU "\001cpu"
#define REPORT_CLOCK "\001clk"
#define REPORT_MEM "\001mem"

struct report_unit {
    const char *suffix;
    char kind; /* 'E' energy, 'P' power, 'T' time (to s), 'B' bytes (to MiB) */
    double scale;
};

static const struct report_unit report_units[] = {
    {"J", 'E', 1},
    {"mJ", 'E', 1e-3},
    {"\xc2\xb5J", 'E', 1e-6},
    {"\xce\xbcJ", 'E', 1e-6},
    {"uJ", 'E', 1e-6},
    {"kJ", 'E', 1e3},
    {"Wh", 'E', 3600},
    {"kWh", 'E', 3.6e6},
    {"W", 'P', 1},
    {"mW", 'P', 1e-3},
    {"kW", 'P', 1e3},
    {"ns", 'T', 1e-9},
    {"\xc2\xb5s", 'T', 1e-6},
    {"\xce\xbcs", 'T', 1e-6},
    {"us", 'T', 1e-6},
    {"ms", 'T', 1e-3},
    {"s", 'T', 1},
    {"B", 'B', 1.0 / 1048576},
    {"KiB", 'B', 1.0 / 1024},
    {"kB", 'B', 1e3 / 1048576},
    {"MiB", 'B', 1},
};

/* The unit of "rapl_consumed_energy_J" and the name without it. */
static const struct report_unit *report_unit_of(const char *metric, size_t *ret_len)
{
    const char *u = strrchr(metric, '_');
    *ret_len = strlen(metric);
    if (u)
        for (size_t i = 0; i < sizeof(report_units) / sizeof(report_units[0]); i++)
            if (strcmp(u + 1, report_units[i].suffix) == 0) {
                *ret_len = (size_t)(u - metric);
                return &report_units[i];
            }
    size_t l = strlen(metric);
    if (l >= 6 && strcmp(metric + l - 6, "energy") == 0)
        return &report_units[0];
    return NULL;
}

/* Split line in place at delim, with "..." quoting ("" inside is a quote). */
static int report_split(char *line, char delim, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    break;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p && *p != delim)
                *out++ = *p++;
        } else {
            while (*p && *p != delim)
                p++;
            out = p;
        }
        char end = *p;
        *out = '\0';
        fields[n++] = start;
        if (end != delim)
            break;
        p++;
    }
    return n;
}

/* "2024-03-01T10:00:01.123456789Z" → ns since the epoch; -1 when malformed. */
static alumet_time_ns report_parse_time(const char *s)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    long long ns = 0;
    int digits = 0;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 9)
                ns = ns * 10 + (*p - '0');
    for (; digits < 9; digits++)
        ns *= 10;
    if (*p != 'Z')
        return -1;
    return (alumet_time_ns)timegm(&tm) * ALUMET_NSEC_PER_SEC + ns;
}

static int report_push(struct report_series *s, alumet_time_ns t, double v)
{
    if (s->n && s->t[s->n - 1] == t) {
        s->v[s->n - 1] += v;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        alumet_time_ns *nt = realloc(s->t, cap * sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        s->t = nt;
        double *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->t[s->n] = t;
    s->v[s->n++] = v;
    return 0;
}

/* FNV-1a of a (alen bytes), a separator byte and b. */
static size_t report_hash(const char *a, size_t alen, const char *b)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ull;
    return (size_t)h;
}

/* Room for one more key (the load stays under one half). 0 or -ENOMEM. */
static int report_index_reserve(struct report_index *ix)
{
    if (2 * (ix->used + 1) <= ix->cap)
        return 0;
    size_t cap = ix->cap ? 2 * ix->cap : 64;
    struct report_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < ix->cap; i++) {
        if (!ix->slots[i].pos)
            continue;
        size_t j = ix->slots[i].hash % cap;
        while (slots[j].pos)
            j = (j + 1) % cap;
        slots[j] = ix->slots[i];
    }
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return 0;
}

static void report_index_add(struct report_index *ix, size_t hash, size_t i)
{
    size_t j = hash % ix->cap;
    while (ix->slots[j].pos)
        j = (j + 1) % ix->cap;
    ix->slots[j] = (struct report_slot){hash, i + 1};
    ix->used++;
}

/* Grow *arr (elements of size elem, *cap of them) for one more; 0 or -ENOMEM. */
static int report_grow(void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 16;
    void *na = realloc(*arr, c * elem);
    if (!na)
        return -ENOMEM;
    *arr = na;
    *cap = c;
    return 0;
}

static struct report_series *report_series_get(struct report_series **arr, size_t *n, size_t *cap,
                                               struct report_index *ix, const char *metric,
                                               size_t mlen, const char *key)
{
    size_t h = report_hash(metric, mlen, key);
    for (size_t j = ix->cap ? h % ix->cap : 0; ix->cap && ix->slots[j].pos; j = (j + 1) % ix->cap) {
        struct report_series *s = &(*arr)[ix->slots[j].pos - 1];
        if (ix->slots[j].hash == h && strlen(s->metric) == mlen &&
            strncmp(s->metric, metric, mlen) == 0 && strcmp(s->key, key) == 0)
            return s;
    }
    if (report_grow((void **)arr, *n, cap, sizeof(**arr)) < 0 || report_index_reserve(ix) < 0)
        return NULL;
    struct report_series *s = &(*arr)[*n];
    *s = (struct report_series){.metric = strndup(metric, mlen), .key = strdup(key)};
    report_index_add(ix, h, (*n)++);
    if (!s->metric || !s->key)
        return NULL;
    return s;
}

static int report_bill(struct report *r, const char *kind, const char *id, double joules)
{
    struct report_index *ix = &r->idx_consumers;
    size_t h = report_hash(kind, strlen(kind), id);
    for (size_t j = ix->cap ? h % ix->cap : 0; ix->cap && ix->slots[j].pos; j = (j + 1) % ix->cap) {
        struct report_consumer *c = &r->consumers[ix->slots[j].pos - 1];
        if (ix->slots[j].hash == h && strcmp(c->kind, kind) == 0 && strcmp(c->id, id) == 0) {
            c->joules += joules;
            return 0;
        }
    }
    if (report_grow((void **)&r->consumers, r->n_consumers, &r->cap_consumers,
                    sizeof(*r->consumers)) < 0 ||
        report_index_reserve(ix) < 0)
        return -ENOMEM;
    struct report_consumer *c = &r->consumers[r->n_consumers];
    *c = (struct report_consumer){strdup(kind), strdup(id), joules};
    report_index_add(ix, h, r->n_consumers++);
    return c->kind && c->id ? 0 : -ENOMEM;
}

/* The value of attribute name in the attribute cells ("domain=package,x=1"). */
static bool report_attr(char **cells, int n, const char *name, char *buf, size_t size)
{
    size_t l = strlen(name);
    for (int i = 0; i < n; i++)
        for (const char *p = cells[i]; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0)) {
            if (strncmp(p, name, l) == 0 && p[l] == '=') {
                snprintf(buf, size, "%.*s", (int)strcspn(p + l + 1, ","), p + l + 1);
                return true;
            }
        }
    return false;
}

struct report_row {
    const char *metric, *resource_kind, *resource_id, *consumer_kind, *consumer_id;
    char **attrs; /* the cells after consumer_id */
    int n_attrs;
    alumet_time_ns t;
    double v;
};

static int report_add_row(struct report *r, const struct report_row *row)
{
    size_t mlen;
    const struct report_unit *u = report_unit_of(row->metric, &mlen);
    bool machine =
        row->consumer_kind[0] == '\0' || strcmp(row->consumer_kind, "local_machine") == 0;
    char domain[128] = "", key[512];
    if (strncmp(row->metric, "exec_", 5) == 0) {
        /* exec's final points: its own figures, and the process's energy */
        r->has_exec = true;
        if (strcmp(row->consumer_kind, "process") == 0)
            snprintf(r->pid, sizeof(r->pid), "%s", row->consumer_id);
        double v = row->v * (u ? u->scale : 1);
        if (strncmp(row->metric, "exec_process_energy", 19) == 0) {
            r->exec_process_j += v;
            return report_bill(r, row->consumer_kind, row->consumer_id, v);
        }
        if (strncmp(row->metric, "exec_machine_energy", 19) == 0)
            r->exec_machine_j += v;
        else if (strncmp(row->metric, "exec_unattributed_energy", 24) == 0)
            r->exec_unattributed_j += v;
        else if (strncmp(row->metric, "exec_process_cpu_time", 21) == 0)
            r->exec_cpu_s += v;
        return 0;
    }
    if (!u)
        return 0;
    if (u->kind == 'E' && !machine)
        return report_bill(r, row->consumer_kind, row->consumer_id, row->v * u->scale);
    if (u->kind == 'E' || u->kind == 'P') {
        report_attr(row->attrs, row->n_attrs, "domain", domain, sizeof(domain));
        snprintf(key, sizeof(key), "%s%s%s%s%s", row->resource_kind, row->resource_id[0] ? " " : "",
                 row->resource_id, domain[0] ? " " : "", domain);
        struct report_series *s = u->kind == 'E'
                                      ? report_series_get(&r->energy, &r->n_energy, &r->cap_energy,
                                                          &r->idx_energy, row->metric, mlen, key)
                                      : report_series_get(&r->power, &r->n_power, &r->cap_power,
                                                          &r->idx_power, row->metric, mlen, key);
        if (!s)
            return -ENOMEM;
        s->scale = u->scale;
        return report_push(s, row->t, row->v * u->scale);
    }
    if (strcmp(row->consumer_kind, "process") != 0)
        return 0;
    /* the other processes' series are kept by pid until the command is known */
    /* CPU time: procfs's user + system (guest is inside user), else perf's task clock */
    bool procfs = strncmp(row->metric, "cpu_time_delta", 14) == 0;
    if (u->kind == 'T' && (procfs || strncmp(row->metric, "perf_task_clock", 15) == 0)) {
        char kind[64];
        if (procfs && report_attr(row->attrs, row->n_attrs, "kind", kind, sizeof(kind)) &&
            strcmp(kind, "user") != 0 && strcmp(kind, "system") != 0)
            return 0;
        snprintf(key, sizeof(key), "%s", row->consumer_id);
        struct report_series *s =
            report_series_get(&r->power, &r->n_power, &r->cap_power, &r->idx_power,
                              procfs ? REPORT_CPU : REPORT_CLOCK, 4, key);
        return s ? report_push(s, row->t, row->v * u->scale) : -ENOMEM;
    }
    if (u->kind == 'B' && strncmp(row->metric, "memory_usage", 12) == 0) {
        char kind[64];
        if (report_attr(row->attrs, row->n_attrs, "kind", kind, sizeof(kind)) &&
            strcmp(kind, "resident") != 0)
            return 0;
        snprintf(key, sizeof(key), "%s", row->consumer_id);
        struct report_series *s = report_series_get(&r->power, &r->n_power, &r->cap_power,
                                                    &r->idx_power, REPORT_MEM, 4, key);
        return s ? report_push(s, row->t, row->v * u->scale) : -ENOMEM;
    }
    return 0;
}

static void report_series_done(struct report_series *s)
{
    free(s->metric);
    free(s->key);
    free(s->t);
    free(s->v);
}

static int report_cmp_time(const void *a, const void *b)
{
    const alumet_time_ns *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Sort a series by time (the sources flush in turns, so a file need not be
 * in order) and sum the values that share a timestamp. */
static int report_series_sort(struct report_series *s)
{
    bool sorted = true;
    for (size_t i = 1; i < s->n && sorted; i++)
        sorted = s->t[i - 1] < s->t[i];
    if (sorted)
        return 0;
    /* pairs (t, bits of v) sorted together */
    alumet_time_ns *pairs = malloc(2 * s->n * sizeof(*pairs));
    if (!pairs)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        pairs[2 * i] = s->t[i];
        memcpy(&pairs[2 * i + 1], &s->v[i], sizeof(double));
    }
    qsort(pairs, s->n, 2 * sizeof(*pairs), report_cmp_time);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        double v;
        memcpy(&v, &pairs[2 * i + 1], sizeof(double));
        if (w && s->t[w - 1] == pairs[2 * i]) {
            s->v[w - 1] += v;
        } else {
            s->t[w] = pairs[2 * i];
            s->v[w++] = v;
        }
    }
    s->n = w;
    free(pairs);
    return 0;
}

/* Move the measured command's CPU and memory series out of the power list
 * (where they waited under the metrics "\1cpu" and "\1mem"); drop the others. */
static int report_finish(struct report *r)
{
    int e = 0;
    for (size_t i = 0; i < r->n_energy; i++)
        e = e < 0 ? e : report_series_sort(&r->energy[i]);
    for (size_t i = 0; i < r->n_power; i++)
        e = e < 0 ? e : report_series_sort(&r->power[i]);
    struct report_series clock = {0}; /* perf's task clock, when procfs has nothing */
    size_t w = 0;
    for (size_t i = 0; i < r->n_power; i++) {
        struct report_series *s = &r->power[i];
        if (s->metric[0] != '\x01') {
            r->power[w++] = *s;
            continue;
        }
        bool ours = r->pid[0] && strcmp(s->key, r->pid) == 0;
        struct report_series *dst = strcmp(s->metric, REPORT_MEM) == 0   ? &r->mem
                                    : strcmp(s->metric, REPORT_CPU) == 0 ? &r->cpu
                                                                         : &clock;
        if (ours && dst->n == 0)
            *dst = *s;
        else
            report_series_done(s);
    }
    r->n_power = w;
    if (r->cpu.n == 0) {
        report_series_done(&r->cpu);
        r->cpu = clock;
    } else {
        report_series_done(&clock);
    }
    return e;
}

/* One row: a line, and the next ones while a quoted cell is open (a value
 * with a newline). Returns its length or -1 at the end; *lines counts the
 * lines read. */
static ssize_t report_getrow(char **line, size_t *cap, FILE *f, long *lines)
{
    ssize_t len = getline(line, cap, f);
    if (len < 0)
        return -1;
    *lines += 1;
    for (;;) {
        size_t quotes = 0;
        for (ssize_t i = 0; i < len; i++)
            quotes += (*line)[i] == '"';
        if (quotes % 2 == 0)
            break;
        char *more = NULL;
        size_t mcap = 0;
        ssize_t mlen = getline(&more, &mcap, f);
        if (mlen < 0) {
            free(more);
            break;
        }
        *lines += 1;
        if ((size_t)(len + mlen + 1) > *cap) {
            char *n = realloc(*line, (size_t)(len + mlen + 1));
            if (!n) {
                free(more);
                break;
            }
            *line = n;
            *cap = (size_t)(len + mlen + 1);
        }
        memcpy(*line + len, more, (size_t)mlen + 1);
        len += mlen;
        free(more);
    }
    return len;
}

int report_read_csv(struct report *r, const char *path, char *err, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, size, "cannot open '%s': %s", path, strerror(e));
        return -e;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    char delim = ';';
    int r2 = 0, n_header = 0;
    long lines = 0;
    /* lineno: the first line of the row, for messages */
    while ((lineno = lines + 1), (len = report_getrow(&line, &cap, f, &lines)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        char *cells[REPORT_MAX_FIELDS];
        if (lineno == 1) {
            delim = strchr(line, ';') ? ';' : ',';
            n_header = report_split(line, delim, cells, REPORT_MAX_FIELDS);
            if (n_header < 7 || strcmp(cells[0], "metric") != 0 ||
                strcmp(cells[1], "timestamp") != 0 || strcmp(cells[2], "value") != 0) {
                snprintf(err, size,
                         "%s:1: not a CSV file of the csv plugin: the header must start with "
                         "metric;timestamp;value;resource_kind;resource_id;consumer_kind;"
                         "consumer_id",
                         path);
                r2 = -EINVAL;
                break;
            }
            continue;
        }
        int n = report_split(line, delim, cells, REPORT_MAX_FIELDS);
        char *end;
        struct report_row row = {.metric = cells[0]};
        if (n < 7 || (row.t = report_parse_time(cells[1])) < 0 ||
            ((row.v = strtod(cells[2], &end)), end == cells[2] || *end)) {
            snprintf(err, size,
                     "%s:%ld: malformed row (expected %d cells: a metric, an RFC 3339 UTC "
                     "timestamp and a number first)",
                     path, lineno, n_header);
            r2 = -EINVAL;
            break;
        }
        row.resource_kind = cells[3];
        row.resource_id = cells[4];
        row.consumer_kind = cells[5];
        row.consumer_id = cells[6];
        row.attrs = cells + 7;
        row.n_attrs = n - 7;
        if (r->rows == 0 || row.t < r->t_first)
            r->t_first = row.t;
        if (row.t > r->t_last)
            r->t_last = row.t;
        r->rows++;
        if ((r2 = report_add_row(r, &row)) < 0) {
            snprintf(err, size, "%s:%ld: %s", path, lineno, strerror(-r2));
            break;
        }
    }
    if (r2 == 0 && lines == 0) {
        snprintf(err, size, "%s: empty file: no CSV header", path);
        r2 = -EINVAL;
    }
    free(line);
    fclose(f);
    if (r2 == 0 && (r2 = report_finish(r)) < 0)
        snprintf(err, size, "%s: %s", path, strerror(-r2));
    return r2;
}

void report_done(struct report *r)
{
    for (size_t i = 0; i < r->n_energy; i++)
        report_series_done(&r->energy[i]);
    for (size_t i = 0; i < r->n_power; i++)
        report_series_done(&r->power[i]);
    for (size_t i = 0; i < r->n_consumers; i++) {
        free(r->consumers[i].kind);
        free(r->consumers[i].id);
    }
    free(r->energy);
    free(r->power);
    free(r->consumers);
    free(r->idx_energy.slots);
    free(r->idx_power.slots);
    free(r->idx_consumers.slots);
    report_series_done(&r->cpu);
    report_series_done(&r->mem);
    *r = (struct report){0};
}
