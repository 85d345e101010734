/* SPDX-License-Identifier: MIT */
/* Private header of the powercap-export plugin, shared by its files and its
 * tests.
 *
 *   powercap-export.c       plugin struct, options, the output
 *   powercap-export-tree.c  the counter trees: one per consumer,
 *                           <dir>/<name>/intel-rapl:0/{name,energy_uj,
 *                           max_energy_range_uj}, the shape of the powercap
 *                           control type intel-rapl, written atomically */
#ifndef ALUMET_PLUGIN_POWERCAP_EXPORT_H
#define ALUMET_PLUGIN_POWERCAP_EXPORT_H

#include <stddef.h>
#include <stdint.h>

/* A typical package's wrap-around value (Intel, 2^38 µJ rounded by the
 * kernel's unit arithmetic). */
#define PCX_DEFAULT_MAX_UJ 262143328850ull

struct pcx_tree;

/* dir: the directory of the trees (copied; created, with its parents, by
 * pcx_tree_flush when missing). max_uj: where the counters wrap around (the
 * counter goes from max_uj to 0). 0 or -ENOMEM. */
int pcx_tree_new(const char *dir, uint64_t max_uj, struct pcx_tree **ret);
void pcx_tree_free(struct pcx_tree *t);

/* Add uj microjoules (≥ 0; fractions are kept for the next additions) to
 * the counter of consumer name (a directory name: '/' and a leading '.' are
 * replaced by '_'). 0 or -ENOMEM. */
int pcx_tree_add(struct pcx_tree *t, const char *name, double uj);

/* Write the counters that changed since the last flush (a new consumer's
 * tree first: name, max_energy_range_uj, then energy_uj, starting from the
 * value a previous run left there, if any). Each file is written to a
 * temporary file in the same directory, then renamed over the old one. On
 * failure, a negative errno with the path in path[0..size), and the
 * remaining counters are still written; the failed ones are retried at the
 * next flush. */
int pcx_tree_flush(struct pcx_tree *t, char *path, size_t size);

/* The counter value of consumer name now (tests), or -1 when unknown. */
int64_t pcx_tree_value(const struct pcx_tree *t, const char *name);

#endif
