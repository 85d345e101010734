/* SPDX-License-Identifier: MIT */
/* bench-cgroups: the cost of the cgroups plugin's source with many real
 * cgroups (bench/README.md, "cgroups"). As root, it creates N cgroups (default
 * 1000) under a unique parent in the cgroup v2 hierarchy (or, without one, in
 * the v1 cpuacct hierarchy), starts the plugin on the real machine and polls
 * its source directly, timing with the CPU clock of the process:
 *
 *   - the first poll: discovery, initial scan, opening every cgroup's files;
 *   - the detection of N new cgroups made at once (inotify, then opening);
 *   - the steady poll (reading every cgroup and building its points), per
 *     cgroup and per poll, the figure to compare with procfs's cost per
 *     process and per poll.
 *
 * Usage: bench-cgroups [N] [POLLS] [v1]; "v1" uses the cpuacct hierarchy even
 * when there is a v2 one (hybrid hosts). Exits 77 when not root or when no
 * hierarchy allows creating cgroups. Everything it creates is removed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alumet/plugin.h"
#include "cgroups.h"
#include "core/agent.h"
#include "core/buffer.h"
#include "core/config/config-tree.h"
#include "core/pipeline.h"
#include "util/cgroup.h"

extern const struct alumet_plugin alumet_plugin_cgroups;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void poll_once(struct cgroups *cg, struct alumet_buffer *buf)
{
    struct alumet_error err = {0};
    alumet__buffer_clear(buf);
    int r = cgroups_source_ops.poll(cg->source, buf, alumet_time_now(), &err);
    if (r != ALUMET_POLL_OK) {
        fprintf(stderr, "poll: %s\n", err.msg);
        exit(1);
    }
}

static void make_tree(const char *parent, int n, bool remove)
{
    char p[4096];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "%s/g%04d", parent, i);
        if (remove ? rmdir(p) : mkdir(p, 0755)) {
            fprintf(stderr, "%s '%s': %s\n", remove ? "rmdir" : "mkdir", p, strerror(errno));
            if (!remove)
                exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int polls = argc > 2 ? atoi(argv[2]) : 20;
    if (geteuid() != 0) {
        printf("SKIP: needs root to create cgroups\n");
        return 77;
    }
    struct fsroot root;
    struct cgroup_hierarchies hs = {0};
    if (fsroot_open(&root, "/") < 0 || cgroup_hierarchies_discover(&root, &root, &hs) < 0) {
        printf("SKIP: cannot read the cgroup mounts\n");
        return 77;
    }
    bool v1 = argc > 3 && strcmp(argv[3], "v1") == 0;
    const struct cgroup_hierarchy *h = v1 ? NULL : cgroup_hierarchies_v2(&hs);
    if (!h)
        h = cgroup_hierarchies_with(&hs, CGROUP_CTRL_CPUACCT);
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s/alumet-bench-%d", h ? h->path : "", (int)getpid());
    if (!h || mkdir(parent, 0755) < 0) {
        printf("SKIP: no hierarchy allows creating a cgroup here\n");
        return 77;
    }

    const char *text = "[plugins.cgroups]\npoll_interval = \"1s\"\ndisable_sources = false\n";
    struct toml_value *conf = NULL;
    struct alumet_error err = {0};
    void *state = NULL;
    if (alumet__config_load_text(text, strlen(text), "bench.toml", 0, &conf, &err) < 0)
        return 1;
    struct toml_value *sect = toml_table_get(toml_table_get(conf, "plugins"), "cgroups");
    if (alumet_plugin_cgroups.init(alumet__config_from_value(sect), &state, &err) < 0) {
        fprintf(stderr, "init: %s\n", err.msg);
        return 1;
    }
    struct cgroups *cg = state;
    struct pipeline_settings ps = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&ps);
    struct agent_plugin ap = {.def = &alumet_plugin_cgroups, .enabled = true};
    ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("cgroups");
    struct alumet_start_ctx ctx = {p, &ap};
    if (alumet_plugin_cgroups.start(cg, &ctx, &err) < 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        return 1;
    }
    struct alumet_buffer *buf = alumet__buffer_new(0);

    /* first poll with the N cgroups there already */
    make_tree(parent, n, false);
    double t = cpu_now();
    poll_once(cg, buf);
    double first = cpu_now() - t;
    size_t count = cgroups_source_count(cg->source);

    /* steady polls: every cgroup read, its points built */
    poll_once(cg, buf);
    t = cpu_now();
    for (int i = 0; i < polls; i++)
        poll_once(cg, buf);
    double steady = (cpu_now() - t) / polls;
    size_t points = alumet_buffer_len(buf);

    /* N cgroups removed, then N new ones at once: the removal and the
     * detection (inotify events, opening the files) */
    make_tree(parent, n, true);
    t = cpu_now();
    poll_once(cg, buf);
    double removal = cpu_now() - t;
    make_tree(parent, n, false);
    t = cpu_now();
    poll_once(cg, buf);
    double detection = cpu_now() - t;
    size_t count2 = cgroups_source_count(cg->source);
    make_tree(parent, n, true);
    rmdir(parent);

    printf("hierarchy: cgroup v%d at %s\n", (int)h->version, h->path);
    printf("cgroups measured: %zu (%d created by the benchmark), %zu points per poll\n", count, n,
           points);
    printf("first poll (discovery, scan, open):  %8.2f ms  (%6.2f us per cgroup)\n", first * 1e3,
           first * 1e6 / (double)count);
    printf("steady poll, mean of %d:             %8.2f ms  (%6.2f us per cgroup per poll)\n", polls,
           steady * 1e3, steady * 1e6 / (double)count);
    printf("removal of %d cgroups seen in:     %8.2f ms  (%6.2f us per cgroup)\n", n, removal * 1e3,
           removal * 1e6 / n);
    printf("detection of %d new cgroups:       %8.2f ms  (%6.2f us per cgroup), %zu measured\n", n,
           detection * 1e3, detection * 1e6 / n, count2);

    alumet__buffer_free(buf);
    alumet__pipeline_free(p);
    alumet_plugin_cgroups.stop(cg, &err);
    alumet_plugin_cgroups.free(cg);
    toml_free(conf);
    cgroup_hierarchies_done(&hs);
    fsroot_close(&root);
    return 0;
}
