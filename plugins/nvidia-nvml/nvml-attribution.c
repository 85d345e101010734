/* SPDX-License-Identifier: MIT */
/* Per-process GPU energy: the split itself (idle part, share by usage, even
 * split, remainder, idle power estimate) is src/util/gpu-split.c, shared
 * with the amd-gpu plugin; here the usage is the SM utilisation samples. It is an
 * estimate: README.md says what it assumes. */
#include "nvml-plugin.h"

const char *nvml_split_method_name(enum gpu_split_method m)
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
