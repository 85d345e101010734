/* SPDX-License-Identifier: MIT */
/* abi-mismatch: a plugin built for the next plugin ABI. The agent must refuse
 * to load it and name both ABI versions. Built into a directory of its own,
 * since loading it fails. */
#include "alumet/export.h"
#include "alumet/plugin.h"

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI + 1,
    .name = "abi-mismatch",
    .version = "0.1.0",
};
