/* SPDX-License-Identifier: MIT */
/* alumet-agent report: one self-contained HTML file (inline SVG, no script,
 * no external asset) from a CSV file of the csv plugin. report-data.c reads
 * and aggregates the CSV, report-html.c draws it. */
#ifndef ALUMET_AGENT_REPORT_H
#define ALUMET_AGENT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "alumet/time.h"

/* One curve: values at timestamps (several points of one timestamp are
 * summed: the cpu_state rows of the TDP estimate, user and system time). */
struct report_series {
    char *metric; /* without its unit suffix: "rapl_consumed_energy" */
    char *key;    /* "cpu_package 0 package", "local_machine" */
    double scale; /* to joules (energy) or to the plotted unit */
    alumet_time_ns *t;
    double *v; /* scaled */
    size_t n, cap;
};

struct report_consumer {
    char *kind, *id;
    double joules;
};

/* A lookup of an array by key: slots hold the key's hash and the index + 1
 * of its element (0: empty), open addressing. */
struct report_slot {
    size_t hash, pos;
};
struct report_index {
    struct report_slot *slots;
    size_t cap, used;
};

struct report {
    /* energy of resources (consumer local_machine), per metric and domain */
    struct report_series *energy;
    size_t n_energy;
    /* power metrics (W) as they are */
    struct report_series *power;
    size_t n_power;
    /* energy billed to a consumer other than the machine */
    struct report_consumer *consumers;
    size_t n_consumers;
    /* the measured command (exec_process_* rows), its CPU time (s, per
     * timestamp) and resident memory (MiB) */
    char pid[32];
    struct report_series cpu, mem;
    /* exec's own figures, 0 when absent */
    double exec_process_j, exec_machine_j, exec_unattributed_j, exec_cpu_s;
    bool has_exec;
    alumet_time_ns t_first, t_last;
    size_t rows;
    /* while reading: lookups and capacities of the arrays above */
    struct report_index idx_energy, idx_power, idx_consumers;
    size_t cap_energy, cap_power, cap_consumers;
};

/* Read path (borrowed) into r (zeroed by the caller). 0, or a negative
 * errno with a message that names the file and line in err (size bytes). */
int report_read_csv(struct report *r, const char *path, char *err, size_t size);
void report_done(struct report *r);

struct report_meta {
    const char *csv_path;         /* shown in the title */
    const char *config_path;      /* NULL: none */
    const char *config_text;      /* NULL: none */
    const char *summary;          /* exec's printed summary, NULL: none */
    const char *const *overrides; /* --config-override values, borrowed */
    size_t n_overrides;
    bool config_produced; /* the config produced the data (exec), or is only the current one */
};

/* Write the HTML page; 0 or a negative errno. */
int report_write_html(const struct report *r, const struct report_meta *m, FILE *f);

/* The text of the config file path (caller frees), NULL when unreadable. */
char *report_read_config(const char *path);

/* Read the CSV at csv_path and write out_path (messages on stderr). 0 or a
 * negative errno. */
int report_generate(const char *csv_path, const char *out_path, const struct report_meta *m);

#endif
