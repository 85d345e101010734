/* SPDX-License-Identifier: MIT */
/* Per-process GPU energy: the energy of one interval of a GPU is split into
 * an idle part (idle power × interval, at most the energy), an active part
 * given to the processes by their share of the GFX engine time of the
 * interval (or evenly between the listed processes when none used the GFX
 * engine), and an unattributed remainder. It is an estimate: README.md says
 * what it assumes. Same method as the nvml plugin's, with the GFX engine
 * time of AMD SMI's process list in place of NVML's SM utilisation. */
#include <errno.h>
#include <stdlib.h>

#include "amd-gpu-plugin.h"

const char *amd_split_method_name(enum amd_split_method m)
{
    switch (m) {
    case AMD_SPLIT_GFX_SHARE:
        return "gfx_share";
    case AMD_SPLIT_EVEN_SPLIT:
        return "even_split";
    default:
        return "none";
    }
}

int amd_device_add_share(struct amd_device *d, uint32_t pid, double weight)
{
    for (size_t i = 0; i < d->n_shares; i++)
        if (d->shares[i].pid == pid) {
            d->shares[i].weight += weight;
            return 0;
        }
    if (d->n_shares == d->shares_cap) {
        size_t cap = d->shares_cap ? d->shares_cap * 2 : 8;
        struct amd_share *n = reallocarray(d->shares, cap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        d->shares = n;
        d->shares_cap = cap;
    }
    d->shares[d->n_shares++] = (struct amd_share){.pid = pid, .weight = weight};
    return 0;
}

enum amd_split_method amd_split_energy(double energy_mj, double idle_mj, struct amd_share *shares,
                                       size_t n, double *ret_idle, double *ret_unattributed)
{
    double idle = idle_mj < 0 ? 0 : idle_mj > energy_mj ? energy_mj : idle_mj;
    double active = energy_mj - idle;
    double total_weight = 0;
    enum amd_split_method method;

    for (size_t i = 0; i < n; i++)
        total_weight += shares[i].weight;
    if (n == 0)
        method = AMD_SPLIT_NONE;
    else if (total_weight > 0)
        method = AMD_SPLIT_GFX_SHARE;
    else
        method = AMD_SPLIT_EVEN_SPLIT;

    double given = 0;
    for (size_t i = 0; i < n; i++) {
        double e = method == AMD_SPLIT_GFX_SHARE ? active * (shares[i].weight / total_weight)
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
