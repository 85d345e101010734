/* SPDX-License-Identifier: MIT */
/* Private header of the grace-hopper plugin: the power sensors of NVIDIA
 * Grace and Grace Hopper superchips, ACPI power meters read through hwmon
 * (see README.md). */
#ifndef GRACE_HOPPER_H
#define GRACE_HOPPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/plugin.h"
#include "util/fsroot.h"
#include "util/power-integrator.h"
#include "util/procfile.h"

#define GH_SOURCE_NAME "hwmon"

/* What a sensor measures ("Grace Power Socket 0"...), in upstream's order;
 * GH_DRAM is the estimate grace − cpu − sysio. */
enum gh_kind {
    GH_GRACE,
    GH_CPU,
    GH_SYSIO,
    GH_MODULE,
    GH_DRAM,
    _GH_KIND_MAX,
};

struct gh_sensor {
    enum gh_kind kind;
    uint32_t socket;
    struct procfile pf;             /* power1_average, µW */
    char *what;                     /* its full path, for messages */
    struct power_integrator energy; /* in mW → mJ */
    /* this poll */
    bool ok;
    uint64_t uw;
    bool has_energy;
    double mj;
};

/* One socket: its DRAM estimate, when grace, cpu and sysio all exist. */
struct gh_socket {
    uint32_t id;
    struct gh_sensor *parts[3]; /* grace, cpu, sysio (borrowed), NULL when missing */
    bool dram;                  /* the three exist */
    bool dram_warned;           /* a warning about a negative estimate is pending */
    struct power_integrator energy;
};

struct gh_source {
    struct gh *gh;             /* borrowed */
    struct gh_sensor *sensors; /* sorted by socket, then kind */
    size_t n, cap;
    struct gh_socket *sockets; /* sorted */
    size_t n_sockets;
    alumet_metric_id power_metric, energy_metric;
};

struct gh_config {
    alumet_time_ns poll_interval;
    char *root_path; /* where the hwmon devices are ("/sys/class/hwmon") */
    char *sys_root;  /* hidden: the root that root_path is below (tests, containers) */
};

struct gh {
    struct gh_config cfg;
    struct fsroot sys;
    struct alumet_log_topic *log;
    struct alumet_log_topic fallback_log;
    struct gh_source *source; /* registered source (owned by the core), NULL when none */
};

#define gh_log(g, level, ...) alumet_log_at((g)->log, (level), __VA_ARGS__)

const char *gh_kind_name(enum gh_kind k);

/* grace-hopper-source.c */
extern const struct alumet_source_ops gh_source_ops;
struct gh_source *gh_source_new(struct gh *g);
/* A new zeroed sensor at the end of src (file closed), NULL on -ENOMEM. */
struct gh_sensor *gh_source_add(struct gh_source *src);
/* Sort the sensors and build the sockets. 0 or -ENOMEM. */
int gh_source_finish(struct gh_source *src);
/* Read power1_average: "150000000\n" (µW). 0 or a negative errno. */
int gh_sensor_read(struct gh_sensor *s);

#endif
