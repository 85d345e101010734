/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_ERROR_H
#define ALUMET_ERROR_H

#include "export.h"

#define ALUMET_ERROR_MSG_MAX 1024

/* The user-facing reason of a failure. Functions that can fail take a
 * `struct alumet_error *err` as their last parameter (it may be NULL). */
struct alumet_error {
    int code;                       /* negative errno, 0 when unset */
    char msg[ALUMET_ERROR_MSG_MAX]; /* what went wrong and what to do */
};

/* Fill err (if not NULL) with code and the formatted message; returns code,
 * so that failing is one line: return alumet_error_set(err, -EINVAL, ...). */
ALUMET_API int alumet_error_set(struct alumet_error *err, int code, const char *fmt, ...)
    ALUMET_PRINTF(3, 4);

/* Prepend "<context>: " to the message already in err; returns err->code. */
ALUMET_API int alumet_error_prefix(struct alumet_error *err, const char *fmt, ...)
    ALUMET_PRINTF(2, 3);

/* Reset err to "no error". */
ALUMET_API void alumet_error_clear(struct alumet_error *err);

#endif
