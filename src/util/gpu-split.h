/* SPDX-License-Identifier: MIT */
/* Per-process GPU energy, shared by the nvml and amd-gpu plugins: the
 * energy of one interval of a device is split into an idle part (idle power
 * × interval, at most the energy), an active part given to the processes by
 * their share of the device's usage in the interval (NVML's SM utilisation
 * samples, AMD SMI's GFX engine time: the caller's "weight"), or evenly
 * between the processes when none has a weight above 0, and an
 * unattributed remainder. It is an estimate: the plugins' READMEs say what
 * it assumes.
 *
 *     struct gpu_split s = {0};               // one per device
 *     gpu_split_add(&s, pid, weight);         // every process seen, each poll
 *     ...                                     // an interval of mj over dt s ends:
 *     double idle_mw = gpu_split_idle_power(&s, mj, dt, activity_known, cfg_set, cfg_mw);
 *     double idle, rest;
 *     gpu_split_energy(mj, idle_mw * dt, s.shares, s.n_shares, &idle, &rest);
 *     gpu_split_next(&s);                     // the next interval starts
 *
 * No logging. Not thread-safe: one owner at a time. */
#ifndef ALUMET_UTIL_GPU_SPLIT_H
#define ALUMET_UTIL_GPU_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A process seen on a device during the current energy interval. */
struct gpu_share {
    uint32_t pid;
    double weight;    /* its usage in the interval (the caller's unit) */
    double energy_mj; /* output of gpu_split_energy */
};

enum gpu_split_method {
    GPU_SPLIT_NONE,     /* no process: the active part is unattributed */
    GPU_SPLIT_BY_USAGE, /* by share of the weights */
    GPU_SPLIT_EVEN,     /* no weight above 0: evenly between the processes */
};

/* The state of one device: the processes of the current interval, whether
 * the device was active in it, and the estimated idle power. Zeroed = empty. */
struct gpu_split {
    struct gpu_share *shares;
    size_t n_shares, shares_cap;
    bool busy;               /* usage above 0 in the interval (set by the caller too) */
    bool has_idle_estimate;  /* estimated idle power: lowest mean power of */
    double idle_estimate_mw; /*   the intervals without activity          */
};

/* Add (or find) pid in the interval's shares, adding weight (≥ 0) to its
 * weight; a weight above 0 marks the interval busy. 0 or -ENOMEM. */
int gpu_split_add(struct gpu_split *s, uint32_t pid, double weight);

/* The idle power (mW) for an interval of mj over dt seconds: configured_mw
 * when configured, else the estimate (0 until there is one). An interval
 * that was not busy, of a device that reports its activity
 * (activity_known), with dt > 0, first lowers the estimate to its mean
 * power mj / dt. */
double gpu_split_idle_power(struct gpu_split *s, double mj, double dt, bool activity_known,
                            bool configured, double configured_mw);

/* Split energy_mj (≥ 0) of one interval: the idle part is
 * min(energy, max(idle_mj, 0)), the rest (active) goes to the shares by
 * their weight, or evenly when no weight is above 0, or is unattributed when
 * there is no share. Writes shares[i].energy_mj, *ret_idle and
 * *ret_unattributed so that idle + Σ shares + unattributed = energy_mj (the
 * unattributed part absorbs the rounding, clamped at 0). */
enum gpu_split_method gpu_split_energy(double energy_mj, double idle_mj, struct gpu_share *shares,
                                       size_t n, double *ret_idle, double *ret_unattributed);

/* The next interval starts: no share, not busy (the idle estimate stays). */
void gpu_split_next(struct gpu_split *s);

/* Free the shares; s is empty afterwards (the idle estimate stays). */
void gpu_split_free(struct gpu_split *s);

#endif
