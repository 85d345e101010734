/* SPDX-License-Identifier: MIT */
/* alumet-agent doctor: one small check per capability of the built plugins.
 * Each check says MEASURED, ESTIMATED or UNAVAILABLE, why (the file,
 * syscall, errno, sysctl or capability) and the exact fix. Files are read
 * under one root (hidden option --root, default "/"), which holds proc/ and
 * sys/ like the fixture trees of the tests; the probes that are syscalls
 * (perf_event_open, dlopen, bind, connect) run only when the root is "/". */
#ifndef ALUMET_AGENT_DOCTOR_H
#define ALUMET_AGENT_DOCTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "util/fsroot.h"

enum doctor_status { DOCTOR_MEASURED, DOCTOR_ESTIMATED, DOCTOR_UNAVAILABLE };

#define DOCTOR_TEXT 1024
#define DOCTOR_MAX_CHECKS 32

struct doctor_check {
    const char *id;     /* "rapl-perf", static */
    const char *plugin; /* the plugin that needs it, static */
    enum doctor_status status;
    bool required; /* the enabled config needs it: UNAVAILABLE fails doctor */
    char why[DOCTOR_TEXT];
    char fix[DOCTOR_TEXT];
};

struct doctor {
    struct agent *a;
    struct fsroot root;
    bool real;          /* root is "/": the syscall probes run too */
    uint64_t cap_eff;   /* CapEff of proc/self/status */
    int paranoid;       /* kernel.perf_event_paranoid (2 when unreadable) */
    bool rapl_measured; /* set by the RAPL checks for the cpu-energy one */
    struct doctor_check checks[DOCTOR_MAX_CHECKS];
    int n;
};

/* A new check (borrowed strings must be static); never NULL: past the
 * table's end the last slot is reused. */
struct doctor_check *doctor_add(struct doctor *d, const char *id, const char *plugin, bool required,
                                enum doctor_status status);
/* Append to why or fix ("; " between parts). */
void doctor_why(struct doctor_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void doctor_fix(struct doctor_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "ENOENT (No such file or directory)" for a positive errno (static buffer
 * per call site is not needed: the table is static). */
const char *doctor_errno(int e);
/* The full path of rel under the root, for messages (static thread buffer). */
const char *doctor_path(struct doctor *d, const char *rel);
/* Read the first line of rel under the root into buf; 0 or a negative errno. */
int doctor_read_line(struct doctor *d, const char *rel, char *buf, size_t size);
/* Can rel be opened for reading? 0 or a negative errno. */
int doctor_can_read(struct doctor *d, const char *rel);

bool doctor_enabled(struct doctor *d, const char *plugin);
/* Enabled on purpose: enabled = true in its section, or named by --plugins. */
bool doctor_explicit(struct doctor *d, const char *plugin);
/* Config values of a plugin's section (its default config when absent). */
const char *doctor_cfg_string(struct doctor *d, const char *plugin, const char *key,
                              const char *def);
double doctor_cfg_number(struct doctor *d, const char *plugin, const char *key, double def);
bool doctor_cfg_bool(struct doctor *d, const char *plugin, const char *key, bool def);
bool doctor_has_cap(struct doctor *d, int cap);

/* doctor-cpu.c: RAPL (perf power events, powercap), CPU energy, perf events. */
void doctor_check_cpu(struct doctor *d);
/* doctor-system.c: cgroups, /proc hidepid, Slurm, Kubernetes, GPUs, ports. */
void doctor_check_system(struct doctor *d);

#endif
