/* SPDX-License-Identifier: MIT */
/* The edit distance of the "did you mean" hints. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/edit-distance.h"

/* Rows up to this length live on the stack (config keys, names); longer
 * ones are allocated. */
#define EDIT_DISTANCE_STACK 64

size_t edit_distance_within(const char *a, size_t la, const char *b, size_t lb, size_t max)
{
    size_t stack[3][EDIT_DISTANCE_STACK + 1];
    size_t *rows = stack[0];

    if (max == SIZE_MAX)
        max = SIZE_MAX - 1;
    if ((la > lb ? la - lb : lb - la) > max)
        return max + 1;
    if (lb > EDIT_DISTANCE_STACK) {
        if (lb > SIZE_MAX / 3 / sizeof(size_t) - 1 || !(rows = calloc(3 * (lb + 1), sizeof(*rows))))
            return max + 1;
    }
    /* three rows: i - 2, i - 1, i */
    size_t *r2 = rows, *r1 = rows + (lb + 1), *r0 = rows + 2 * (lb + 1);
    size_t d = max + 1;

    for (size_t j = 0; j <= lb; j++)
        r1[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t row_min = r0[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t e = r1[j] + 1;
            if (r0[j - 1] + 1 < e)
                e = r0[j - 1] + 1;
            if (r1[j - 1] + cost < e)
                e = r1[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && r2[j - 2] + 1 < e)
                e = r2[j - 2] + 1;
            r0[j] = e;
            if (e < row_min)
                row_min = e;
        }
        /* a row's minimum is at least the one of the row before, or of the
         * row two above plus one (a transposition): past max, they stay past
         * it */
        if (row_min > max)
            goto out;
        size_t *tmp = r2;
        r2 = r1;
        r1 = r0;
        r0 = tmp;
    }
    d = r1[lb] <= max ? r1[lb] : max + 1;
out:
    if (rows != stack[0])
        free(rows);
    return d;
}

size_t edit_distance(const char *a, const char *b)
{
    return edit_distance_within(a, strlen(a), b, strlen(b), SIZE_MAX);
}
