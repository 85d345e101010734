/* SPDX-License-Identifier: MIT */
/* The edit distance of the "did you mean" hints. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/edit-distance.h"

size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (lb > SIZE_MAX / 3 / sizeof(size_t) - 1)
        return SIZE_MAX;
    /* three rows: i - 2, i - 1, i */
    size_t *rows = calloc(3 * (lb + 1), sizeof(*rows));
    if (!rows)
        return SIZE_MAX;
    size_t *r2 = rows, *r1 = rows + (lb + 1), *r0 = rows + 2 * (lb + 1);

    for (size_t j = 0; j <= lb; j++)
        r1[j] = j;
    for (size_t i = 1; i <= la; i++) {
        r0[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = r1[j] + 1;
            if (r0[j - 1] + 1 < d)
                d = r0[j - 1] + 1;
            if (r1[j - 1] + cost < d)
                d = r1[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && r2[j - 2] + 1 < d)
                d = r2[j - 2] + 1;
            r0[j] = d;
        }
        size_t *tmp = r2;
        r2 = r1;
        r1 = r0;
        r0 = tmp;
    }
    size_t d = r1[lb];
    free(rows);
    return d;
}
