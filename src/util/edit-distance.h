/* SPDX-License-Identifier: MIT */
/* Optimal string alignment distance (insertions, deletions, substitutions
 * and transpositions of two adjacent characters) between a and b, for the
 * "did you mean" of unknown names (keys, plugins, commands, meminfo
 * entries). */
#ifndef ALUMET_UTIL_EDIT_DISTANCE_H
#define ALUMET_UTIL_EDIT_DISTANCE_H

#include <stddef.h>

/* The distance; SIZE_MAX when out of memory. */
size_t edit_distance(const char *a, const char *b);

/* The distance of a (la bytes) and b (lb bytes) when it is at most max, else
 * max + 1, found early: the computation stops at the first row past max
 * (the many far candidates of a "did you mean" cost little). max + 1 also
 * when out of memory; max = SIZE_MAX is taken as SIZE_MAX - 1. */
size_t edit_distance_within(const char *a, size_t la, const char *b, size_t lb, size_t max);

#endif
