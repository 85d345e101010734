/* SPDX-License-Identifier: MIT */
/* alumet-agent report FILE.csv [-o report.html]: the HTML report of a CSV
 * file of the csv plugin (report-data.c, report-html.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "report.h"

static const char report_help[] =
    "Write a self-contained HTML report (plots and summary) of a CSV file of the csv plugin\n\n"
    "Usage: alumet-agent report [OPTIONS] <FILE.csv>\n\n"
    "Arguments:\n  <FILE.csv>  The CSV file (written by the csv plugin)\n\n"
    "Options:\n"
    "  -o, --output <FILE.html>  Where to write the report [default: FILE.html]\n"
    "  -h, --help                Print help\n\n"
    "The config file (--config, default alumet-config.toml) is shown in the report when it "
    "exists.\n";

char *report_read_config(const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, m);
        fclose(m);
    }
    fclose(f);
    return text;
}

int cmd_report(int argc, char **argv, struct agent *a)
{
    const char *csv = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(report_help, stdout);
            return 0;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
                   i + 1 < argc) {
            out = argv[++i];
        } else if (strncmp(argv[i], "--output=", 9) == 0) {
            out = argv[i] + 9;
        } else if (argv[i][0] != '-' && !csv) {
            csv = argv[i];
        } else {
            fprintf(stderr, "error: unexpected argument '%s' found\n\n%s", argv[i], report_help);
            return 2;
        }
    }
    if (!csv) {
        fprintf(stderr,
                "error: the following required arguments were not provided:\n  "
                "<FILE.csv>\n\n%s",
                report_help);
        return 2;
    }
    char *def = NULL;
    if (!out) {
        size_t l = strlen(csv);
        size_t stem = l > 4 && strcmp(csv + l - 4, ".csv") == 0 ? l - 4 : l;
        if (asprintf(&def, "%.*s.html", (int)stem, csv) < 0)
            return 1;
        out = def;
    }
    char *config = report_read_config(a->config_path);
    struct report_meta m = {.csv_path = csv, .config_path = a->config_path, .config_text = config};
    int r = report_generate(csv, out, &m);
    free(config);
    free(def);
    return r < 0 ? 1 : 0;
}
