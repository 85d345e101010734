/* SPDX-License-Identifier: MIT */
/* Benchmark of prometheus-exporter: write throughput of the table (points
 * per second, the output's write()) and the time to render a scrape, for
 * 10 metrics x 1000 processes = 10 000 series with two attributes each.
 * Run: meson test --benchmark prometheus-exporter (or the executable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/measurement.h"
#include "core/buffer.h"
#include "core/registry.h"
#include "plugins/prometheus-exporter/prometheus-exporter.h"

#define BENCH_METRICS 10
#define BENCH_PROCESSES 1000
#define BENCH_BUFFER 1000
#define BENCH_ROUNDS 200
#define BENCH_RENDERS 50

static double bench_seconds(alumet_time_ns t0)
{
    return (double)(alumet_time_monotonic() - t0) / 1e9;
}

/* Fill buf with points of metric m, one per process from first. */
static int bench_fill(struct alumet_buffer *buf, alumet_metric_id m, uint32_t first, double v)
{
    const struct alumet_resource res = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    alumet__buffer_clear(buf);
    for (uint32_t i = 0; i < BENCH_BUFFER; i++) {
        const struct alumet_consumer c = {ALUMET_CONSUMER_PROCESS, first + i, NULL, NULL};
        struct alumet_point *p = alumet_buffer_push_f64(buf, 0, m, &res, &c, v + i);
        if (!p || alumet_point_add_attr_str(buf, p, "domain", "package") < 0 ||
            alumet_point_add_attr_u64(buf, p, "cpu", i % 64) < 0)
            return -1;
    }
    return 0;
}

int main(void)
{
    struct alumet_registry *reg = alumet__registry_new();
    struct alumet_buffer *buf = alumet__buffer_new(BENCH_BUFFER);
    const struct prometheus_table_opts opts = {
        .prefix = "",
        .suffix = "_alumet",
        .add_attributes_to_labels = true,
        .series_expiry = 300 * ALUMET_NSEC_PER_SEC,
    };
    struct prometheus_table *t = prometheus_table_new(&opts);
    struct alumet_error err = {0};
    alumet_metric_id ids[BENCH_METRICS];
    int r = 1;

    if (!reg || !buf || !t)
        goto out;
    for (int i = 0; i < BENCH_METRICS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bench_metric_%d", i);
        if (alumet__registry_add(reg, name, ALUMET_VALUE_F64, ALUMET_UNIT(JOULE), "benchmark",
                                 &ids[i], &err) < 0)
            goto out;
    }

    /* first writes: every series is created */
    alumet_time_ns t0 = alumet_time_monotonic();
    for (int m = 0; m < BENCH_METRICS; m++) {
        if (bench_fill(buf, ids[m], 1, m) < 0 ||
            prometheus_table_write(t, buf, reg, alumet_time_monotonic(), &err) < 0)
            goto out;
    }
    double create_s = bench_seconds(t0);

    /* steady state: every point updates an existing series (buffers are
     * refilled outside the timed part) */
    double write_s = 0;
    size_t points = 0;
    for (int round = 0; round < BENCH_ROUNDS; round++) {
        int m = round % BENCH_METRICS;
        if (bench_fill(buf, ids[m], 1, round) < 0)
            goto out;
        t0 = alumet_time_monotonic();
        if (prometheus_table_write(t, buf, reg, alumet_time_monotonic(), &err) < 0)
            goto out;
        write_s += bench_seconds(t0);
        points += BENCH_BUFFER;
    }

    size_t series = prometheus_table_series_count(t);
    printf("prometheus-exporter: %zu series, %d attributes each\n", series, 2);
    printf("write (new series):      %10.0f points/s\n", BENCH_METRICS * BENCH_BUFFER / create_s);
    printf("write (existing series): %10.0f points/s\n", (double)points / write_s);

    for (int f = 0; f < 2; f++) {
        enum prometheus_format fmt = f ? PROMETHEUS_FORMAT_TEXT : PROMETHEUS_FORMAT_OPENMETRICS;
        size_t bytes = 0;
        t0 = alumet_time_monotonic();
        for (int i = 0; i < BENCH_RENDERS; i++) {
            char *text;
            if (prometheus_table_render(t, fmt, alumet_time_monotonic(), &text, &bytes) < 0)
                goto out;
            free(text);
        }
        printf("render %-12s %10.2f ms per scrape (%zu bytes)\n",
               f ? "(text 0.0.4):" : "(openmetrics):", bench_seconds(t0) * 1e3 / BENCH_RENDERS,
               bytes);
    }
    r = 0;

out:
    if (r)
        fprintf(stderr, "benchmark failed: %s\n", err.msg[0] ? err.msg : "out of memory");
    prometheus_table_unref(t);
    alumet__buffer_free(buf);
    alumet__registry_free(reg);
    return r;
}
