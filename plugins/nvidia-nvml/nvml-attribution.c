/* SPDX-License-Identifier: MIT */
/* Per-process GPU energy: the energy of one interval of a device is split
 * into an idle part (idle power × interval, at most the energy), an active
 * part given to the processes by their share of the SM utilisation samples
 * (or evenly between the running processes when no sample says more), and
 * an unattributed remainder. It is an estimate: README.md says what it
 * assumes. */
#include <errno.h>
#include <stdlib.h>

#include "nvml-plugin.h"

const char *nvml_split_method_name(enum nvml_split_method m)
{
    switch (m) {
    case NVML_SPLIT_SM_SHARE:
        return "sm_share";
    case NVML_SPLIT_EVEN_SPLIT:
        return "even_split";
    default:
        return "none";
    }
}

int nvml_device_add_share(struct nvml_device *d, uint32_t pid, double sm)
{
    for (size_t i = 0; i < d->n_shares; i++)
        if (d->shares[i].pid == pid) {
            d->shares[i].sm_weight += sm;
            return 0;
        }
    if (d->n_shares == d->shares_cap) {
        size_t cap = d->shares_cap ? d->shares_cap * 2 : 8;
        struct nvml_share *n = reallocarray(d->shares, cap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        d->shares = n;
        d->shares_cap = cap;
    }
    d->shares[d->n_shares++] = (struct nvml_share){.pid = pid, .sm_weight = sm};
    return 0;
}

enum nvml_split_method nvml_split_energy(double energy_mj, double idle_mj,
                                         struct nvml_share *shares, size_t n, double *ret_idle,
                                         double *ret_unattributed)
{
    double idle = idle_mj < 0 ? 0 : idle_mj > energy_mj ? energy_mj : idle_mj;
    double active = energy_mj - idle;
    double total_weight = 0;
    enum nvml_split_method method;

    for (size_t i = 0; i < n; i++)
        total_weight += shares[i].sm_weight;
    if (n == 0)
        method = NVML_SPLIT_NONE;
    else if (total_weight > 0)
        method = NVML_SPLIT_SM_SHARE;
    else
        method = NVML_SPLIT_EVEN_SPLIT;

    double given = 0;
    for (size_t i = 0; i < n; i++) {
        double e = method == NVML_SPLIT_SM_SHARE ? active * (shares[i].sm_weight / total_weight)
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
