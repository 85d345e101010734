/* SPDX-License-Identifier: MIT */
/* Optimal string alignment distance (insertions, deletions, substitutions
 * and transpositions of two adjacent characters) between a and b, for the
 * "did you mean" of unknown names (keys, plugins, commands, meminfo
 * entries). SIZE_MAX when out of memory. */
#ifndef ALUMET_UTIL_EDIT_DISTANCE_H
#define ALUMET_UTIL_EDIT_DISTANCE_H

#include <stddef.h>

size_t edit_distance(const char *a, const char *b);

#endif
