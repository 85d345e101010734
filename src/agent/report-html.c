/* SPDX-License-Identifier: MIT */
/* report: the HTML page. One file, no script, no external asset: the plots
 * are inline SVG drawn here, the style is inline CSS.
 *
 * The summary table (id "summary") has one row per energy series: its
 * points (distinct timestamps), the sum of its values (each point is the
 * energy since the previous poll), the time from its first to its last
 * point, and the average power over that time (the sum without the first
 * point, whose interval began before the file, divided by that time). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alumet/log.h"
#include "report.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

#define CHART_W 760
#define CHART_H 300
#define MARGIN_L 80
#define MARGIN_R 20
#define MARGIN_T 20
#define MARGIN_B 45
#define TOP_CONSUMERS 10

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define PALETTE_N (sizeof(palette) / sizeof(palette[0]))

static void html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A round step for about n ticks over range. */
static double nice_step(double range, int n)
{
    if (!(range > 0))
        return 1;
    double raw = range / n, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

struct chart_line {
    const char *label;
    const double *x, *y;
    size_t n;
};

static void chart_axes(FILE *f, double x0, double x1, double y0, double y1, const char *xlabel,
                       const char *ylabel)
{
    double pw = CHART_W - MARGIN_L - MARGIN_R, ph = CHART_H - MARGIN_T - MARGIN_B;
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\" "
            "stroke=\"#999\"/>\n",
            MARGIN_L, MARGIN_T, pw, ph);
    double sx = nice_step(x1 - x0, 6), sy = nice_step(y1 - y0, 5);
    for (double v = ceil(x0 / sx) * sx; v <= x1 + sx * 1e-9; v += sx) {
        double px = MARGIN_L + (v - x0) / (x1 - x0) * pw;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eee\"/>"
                "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" class=\"tick\">%g</text>\n",
                px, MARGIN_T, px, MARGIN_T + ph, px, MARGIN_T + ph + 16, v);
    }
    for (double v = ceil(y0 / sy) * sy; v <= y1 + sy * 1e-9; v += sy) {
        double py = MARGIN_T + ph - (v - y0) / (y1 - y0) * ph;
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%g</text>\n",
                MARGIN_L, py, MARGIN_L + pw, py, MARGIN_L - 6, py + 4, v);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\" class=\"label\">",
            MARGIN_L + pw / 2, CHART_H - 6);
    html_text(f, xlabel);
    fprintf(f,
            "</text><text x=\"14\" y=\"%.0f\" text-anchor=\"middle\" class=\"label\" "
            "transform=\"rotate(-90 14 %.0f)\">",
            MARGIN_T + ph / 2, MARGIN_T + ph / 2);
    html_text(f, ylabel);
    fputs("</text>\n", f);
}

static void chart_legend(FILE *f, const struct chart_line *lines, size_t n)
{
    fputs("<ul class=\"legend\">", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<li><span style=\"background:%s\"></span>", palette[i % PALETTE_N]);
        html_text(f, lines[i].label);
        fputs("</li>", f);
    }
    fputs("</ul>\n", f);
}

/* A line chart of lines; an empty one says why there is nothing. */
static void chart_lines(FILE *f, const char *id, const char *title, const char *ylabel,
                        const struct chart_line *lines, size_t n, const char *empty)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = -INFINITY;
    size_t points = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < lines[i].n; k++) {
            x0 = fmin(x0, lines[i].x[k]);
            x1 = fmax(x1, lines[i].x[k]);
            y0 = fmin(y0, lines[i].y[k]);
            y1 = fmax(y1, lines[i].y[k]);
            points++;
        }
    fprintf(f, "<h3>");
    html_text(f, title);
    fputs("</h3>\n", f);
    if (points == 0) {
        fprintf(f, "<p class=\"empty\" id=\"%s\">", id);
        html_text(f, empty);
        fputs("</p>\n", f);
        return;
    }
    if (!(x1 > x0)) {
        x0 -= 0.5;
        x1 = x0 + 1;
    }
    if (!(y1 > y0))
        y1 = y0 + 1;
    y1 += (y1 - y0) * 0.05;
    fprintf(f,
            "<svg id=\"%s\" class=\"chart\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            id, CHART_W, CHART_H, CHART_W, CHART_H);
    chart_axes(f, x0, x1, y0, y1, "time (s since the first point)", ylabel);
    double pw = CHART_W - MARGIN_L - MARGIN_R, ph = CHART_H - MARGIN_T - MARGIN_B;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].n == 0)
            continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"",
                palette[i % PALETTE_N]);
        for (size_t k = 0; k < lines[i].n; k++)
            fprintf(f, "%s%.1f,%.1f", k ? " " : "",
                    MARGIN_L + (lines[i].x[k] - x0) / (x1 - x0) * pw,
                    MARGIN_T + ph - (lines[i].y[k] - y0) / (y1 - y0) * ph);
        fputs("\"><title>", f);
        html_text(f, lines[i].label);
        fputs("</title></polyline>\n", f);
        /* markers where the points are few (one point draws no line) */
        for (size_t k = 0; lines[i].n <= 60 && k < lines[i].n; k++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                    MARGIN_L + (lines[i].x[k] - x0) / (x1 - x0) * pw,
                    MARGIN_T + ph - (lines[i].y[k] - y0) / (y1 - y0) * ph, palette[i % PALETTE_N]);
    }
    fputs("</svg>\n", f);
    chart_legend(f, lines, n);
}

static int consumer_cmp(const void *a, const void *b)
{
    const struct report_consumer *x = a, *y = b;
    return (x->joules < y->joules) - (x->joules > y->joules);
}

static void chart_consumers(FILE *f, struct report_consumer *c, size_t n)
{
    fputs("<h3>Top processes, containers and jobs by attributed energy</h3>\n", f);
    if (n == 0) {
        fputs("<p class=\"empty\" id=\"top-consumers\">No energy attributed to a process, "
              "container or job in this file (enable the energy-attribution plugin, or use "
              "<code>exec</code>).</p>\n",
              f);
        return;
    }
    qsort(c, n, sizeof(*c), consumer_cmp);
    size_t shown = n < TOP_CONSUMERS ? n : TOP_CONSUMERS;
    double max = c[0].joules > 0 ? c[0].joules : 1;
    int bar_h = 24, h = (int)shown * bar_h + 10, label_w = 260, w = CHART_W - label_w - 110;
    fprintf(f,
            "<svg id=\"top-consumers\" class=\"chart\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            CHART_W, h, CHART_W, h);
    for (size_t i = 0; i < shown; i++) {
        int y = 5 + (int)i * bar_h;
        double bw = c[i].joules > 0 ? c[i].joules / max * w : 0;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"tick\">", label_w - 8,
                y + 16);
        html_text(f, c[i].kind);
        fputc(' ', f);
        html_text(f, c[i].id);
        fprintf(f,
                "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%d\" class=\"tick\">%.3f J</text>\n",
                label_w, y + 3, bw, bar_h - 6, palette[0], label_w + bw + 6, y + 16, c[i].joules);
    }
    fputs("</svg>\n", f);
}

static void report_summary_table(FILE *f, const struct report *r)
{
    fputs("<h2>Summary</h2>\n<table id=\"summary\">\n<thead><tr><th>metric</th><th>domain</th>"
          "<th>points</th><th>energy (J)</th><th>duration (s)</th><th>average power (W)</th>"
          "</tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < r->n_energy; i++) {
        const struct report_series *s = &r->energy[i];
        double total = 0;
        for (size_t k = 0; k < s->n; k++)
            total += s->v[k];
        double dur = s->n > 1 ? (double)(s->t[s->n - 1] - s->t[0]) / 1e9 : 0;
        fputs("<tr><td>", f);
        html_text(f, s->metric);
        fputs("</td><td>", f);
        html_text(f, s->key);
        fprintf(f, "</td><td>%zu</td><td>%.3f</td><td>%.3f</td>", s->n, total, dur);
        if (dur > 0)
            fprintf(f, "<td>%.3f</td></tr>\n", (total - s->v[0]) / dur);
        else
            fputs("<td>-</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
    if (r->has_exec) {
        fprintf(f,
                "<table id=\"exec\">\n<tr><th>measured command (pid %s)</th><th>value</th></tr>\n"
                "<tr><td>CPU time (s)</td><td>%.3f</td></tr>\n"
                "<tr><td>its share of the CPU energy (J)</td><td>%.3f</td></tr>\n"
                "<tr><td>the rest: other processes, idle (J)</td><td>%.3f</td></tr>\n"
                "<tr><td>the machine's CPUs (J)</td><td>%.3f</td></tr>\n</table>\n",
                r->pid[0] ? r->pid : "?", r->exec_cpu_s, r->exec_process_j, r->exec_unattributed_j,
                r->exec_machine_j);
    }
}

/* Lines of n series: x in s since t_first, y from fn. The arrays are
 * allocated in one block (*ret_mem, caller frees). */
enum line_kind { LINE_POWER, LINE_CUMULATIVE, LINE_RAW, LINE_CUMULATIVE_RAW };

static struct chart_line *report_lines(const struct report *r, const struct report_series *s,
                                       size_t n, enum line_kind kind, char ***ret_labels)
{
    struct chart_line *lines = calloc(n ? n : 1, sizeof(*lines));
    char **labels = calloc(n ? n : 1, sizeof(*labels));
    if (!lines || !labels) {
        free(lines);
        free(labels);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        double *x = malloc((s[i].n + 1) * sizeof(*x)), *y = malloc((s[i].n + 1) * sizeof(*y));
        size_t m = 0;
        double acc = 0;
        for (size_t k = 0; x && y && k < s[i].n; k++) {
            double t = (double)(s[i].t[k] - r->t_first) / 1e9;
            if (kind == LINE_POWER) {
                if (k == 0)
                    continue;
                double dt = (double)(s[i].t[k] - s[i].t[k - 1]) / 1e9;
                if (dt <= 0)
                    continue;
                x[m] = t;
                y[m++] = s[i].v[k] / dt;
            } else {
                acc = kind == LINE_RAW ? s[i].v[k] : acc + s[i].v[k];
                x[m] = t;
                y[m++] = acc;
            }
        }
        if (asprintf(&labels[i], "%s %s", s[i].metric ? s[i].metric : "",
                     s[i].key ? s[i].key : "") < 0)
            labels[i] = NULL;
        lines[i] = (struct chart_line){labels[i], x, y, x && y ? m : 0};
    }
    *ret_labels = labels;
    return lines;
}

static void report_lines_free(struct chart_line *lines, char **labels, size_t n)
{
    for (size_t i = 0; lines && i < n; i++) {
        free((void *)lines[i].x);
        free((void *)lines[i].y);
        free(labels[i]);
    }
    free(lines);
    free(labels);
}

static void report_chart(FILE *f, const struct report *r, const struct report_series *s, size_t n,
                         enum line_kind kind, const char *id, const char *title, const char *ylabel,
                         const char *empty)
{
    char **labels = NULL;
    struct chart_line *lines = report_lines(r, s, n, kind, &labels);
    if (lines)
        chart_lines(f, id, title, ylabel, lines, n, empty);
    report_lines_free(lines, labels, n);
}

static const char report_css[] =
    "body{font-family:sans-serif;margin:2em;color:#222;max-width:70em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}"
    "td:nth-child(n+3){text-align:right}th{background:#f4f4f4}"
    ".tick{font-size:11px;fill:#444}.label{font-size:12px;fill:#222}"
    ".legend{list-style:none;padding:0;font-size:13px}.legend li{display:inline-block;"
    "margin-right:1.5em}.legend span{display:inline-block;width:.9em;height:.9em;"
    "margin-right:.4em;vertical-align:middle}"
    "pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}.empty{color:#777}";

int report_write_html(const struct report *r, const struct report_meta *m, FILE *f)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>Alumet report: ",
          f);
    html_text(f, m->csv_path);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Alumet report</h1>\n<p>",
            report_css);
    fputs("Data: <code>", f);
    html_text(f, m->csv_path);
    double span = r->rows ? (double)(r->t_last - r->t_first) / 1e9 : 0;
    fprintf(f, "</code>, %zu rows over %.3f s.</p>\n", r->rows, span);
    report_summary_table(f, r);
    if (m->summary) {
        fputs("<h3>Energy summary of exec</h3>\n<pre id=\"exec-summary\">", f);
        html_text(f, m->summary);
        fputs("</pre>\n", f);
    }
    fputs("<h2>Energy and power</h2>\n", f);
    report_chart(f, r, r->energy, r->n_energy, LINE_POWER, "power",
                 "Power over time per domain and device", "power (W)",
                 "No energy series with two points or more in this file.");
    if (r->n_power)
        report_chart(f, r, r->power, r->n_power, LINE_RAW, "power-measured",
                     "Power measured by the devices", "power (W)", "");
    report_chart(f, r, r->energy, r->n_energy, LINE_CUMULATIVE, "energy",
                 "Cumulative energy per domain and device", "energy (J)",
                 "No energy series in this file.");
    struct report_consumer *c = r->n_consumers ? malloc(r->n_consumers * sizeof(*c)) : NULL;
    if (c)
        memcpy(c, r->consumers, r->n_consumers * sizeof(*c));
    chart_consumers(f, c, c ? r->n_consumers : 0);
    free(c);
    fputs("<h2>The measured command</h2>\n", f);
    char empty[256];
    snprintf(empty, sizeof(empty),
             "No CPU time of the measured process%s%s in this file (procfs or perf measure it "
             "every poll interval: a longer command shows it).",
             r->pid[0] ? " " : "", r->pid);
    struct report_series cpu = r->cpu, mem = r->mem;
    cpu.metric = (char *)"CPU time of process";
    cpu.key = (char *)r->pid;
    mem.metric = (char *)"resident memory of process";
    mem.key = (char *)r->pid;
    report_chart(f, r, &cpu, 1, LINE_CUMULATIVE, "process-cpu", "CPU time of the measured command",
                 "CPU time (s)", empty);
    snprintf(empty, sizeof(empty), "No memory usage of the measured process%s%s in this file.",
             r->pid[0] ? " " : "", r->pid);
    report_chart(f, r, &mem, 1, LINE_RAW, "process-memory", "Memory of the measured command",
                 "resident memory (MiB)", empty);
    fputs("<h2>Configuration</h2>\n", f);
    if (m->config_text) {
        fputs("<p>File <code>", f);
        html_text(f, m->config_path);
        fputs(m->config_produced ? "</code>, which produced this data:"
                                 : "</code> as it was when this report was made (the data may "
                                   "come from another config):",
              f);
        fputs("</p>\n<pre id=\"config\">", f);
        html_text(f, m->config_text);
        fputs("</pre>\n", f);
    } else {
        fputs("<p id=\"config\" class=\"empty\">No configuration file was found (give it with "
              "<code>--config</code>).</p>\n",
              f);
    }
    if (m->n_overrides) {
        fputs("<p>Overrides (<code>--config-override</code>, applied on top):</p>\n<pre "
              "id=\"overrides\">",
              f);
        for (size_t i = 0; i < m->n_overrides; i++) {
            html_text(f, m->overrides[i]);
            fputc('\n', f);
        }
        fputs("</pre>\n", f);
    }
    fputs("</body>\n</html>\n", f);
    return ferror(f) ? -EIO : 0;
}

int report_generate(const char *csv_path, const char *out_path, const struct report_meta *m)
{
    struct report r = {0};
    char err[1024] = "";
    int e = report_read_csv(&r, csv_path, err, sizeof(err));
    if (e < 0) {
        alumet_log_error("report: %s", err);
        report_done(&r);
        return e;
    }
    FILE *f = fopen(out_path, "w");
    if (!f) {
        e = -errno;
        alumet_log_error("report: cannot write '%s': %s", out_path, strerror(-e));
        report_done(&r);
        return e;
    }
    e = report_write_html(&r, m, f);
    if (fclose(f) != 0 && e == 0)
        e = -errno;
    if (e < 0)
        alumet_log_error("report: cannot write '%s': %s", out_path, strerror(-e));
    else
        alumet_log_info("report written to '%s' (%zu rows of '%s')", out_path, r.rows, csv_path);
    report_done(&r);
    return e;
}
