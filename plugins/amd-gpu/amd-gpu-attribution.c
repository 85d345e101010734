/* SPDX-License-Identifier: MIT */
/* Per-process GPU energy: the split itself (idle part, share by usage, even
 * split, remainder, idle power estimate) is src/util/gpu-split.c, shared
 * with the nvml plugin; here the usage is the GFX engine time of the interval. It is an
 * estimate: README.md says what it assumes. */
#include "amd-gpu-plugin.h"

const char *amd_split_method_name(enum gpu_split_method m)
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
