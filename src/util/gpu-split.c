/* SPDX-License-Identifier: MIT */
/* Per-process GPU energy split; see gpu-split.h. */
#include "gpu-split.h"

#include <errno.h>
#include <stdlib.h>

int gpu_split_add(struct gpu_split *s, uint32_t pid, double weight)
{
    if (weight > 0)
        s->busy = true;
    for (size_t i = 0; i < s->n_shares; i++)
        if (s->shares[i].pid == pid) {
            s->shares[i].weight += weight;
            return 0;
        }
    if (s->n_shares == s->shares_cap) {
        size_t cap = s->shares_cap ? s->shares_cap * 2 : 8;
        struct gpu_share *n = reallocarray(s->shares, cap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        s->shares = n;
        s->shares_cap = cap;
    }
    s->shares[s->n_shares++] = (struct gpu_share){.pid = pid, .weight = weight};
    return 0;
}

double gpu_split_idle_power(struct gpu_split *s, double mj, double dt, bool activity_known,
                            bool configured, double configured_mw)
{
    /* an interval without any activity gives the estimate of the idle power */
    if (!s->busy && dt > 0 && activity_known) {
        double mean_mw = mj / dt;
        if (!s->has_idle_estimate || mean_mw < s->idle_estimate_mw) {
            s->idle_estimate_mw = mean_mw;
            s->has_idle_estimate = true;
        }
    }
    return configured ? configured_mw : s->has_idle_estimate ? s->idle_estimate_mw : 0;
}

enum gpu_split_method gpu_split_energy(double energy_mj, double idle_mj, struct gpu_share *shares,
                                       size_t n, double *ret_idle, double *ret_unattributed)
{
    double idle = idle_mj < 0 ? 0 : idle_mj > energy_mj ? energy_mj : idle_mj;
    double active = energy_mj - idle;
    double total_weight = 0;
    enum gpu_split_method method;

    for (size_t i = 0; i < n; i++)
        total_weight += shares[i].weight;
    if (n == 0)
        method = GPU_SPLIT_NONE;
    else if (total_weight > 0)
        method = GPU_SPLIT_BY_USAGE;
    else
        method = GPU_SPLIT_EVEN;

    double given = 0;
    for (size_t i = 0; i < n; i++) {
        double e = method == GPU_SPLIT_BY_USAGE ? active * (shares[i].weight / total_weight)
                                                : active / (double)n;
        shares[i].energy_mj = e;
        given += e;
    }
    /* what the processes did not get (none, or the rounding of the shares) */
    double rest = energy_mj - idle - given;
    *ret_idle = idle;
    *ret_unattributed = rest > 0 ? rest : 0;
    return method;
}

void gpu_split_next(struct gpu_split *s)
{
    s->n_shares = 0;
    s->busy = false;
}

void gpu_split_free(struct gpu_split *s)
{
    free(s->shares);
    s->shares = NULL;
    s->n_shares = s->shares_cap = 0;
    s->busy = false;
}
