/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alumet/error.h"

int alumet_error_set(struct alumet_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int alumet_error_prefix(struct alumet_error *err, const char *fmt, ...)
{
    if (!err)
        return 0;
    char prefix[ALUMET_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->code;
    char old[ALUMET_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof(old));
    size_t pl = strnlen(prefix, sizeof(err->msg) - 3);
    memcpy(err->msg, prefix, pl);
    memcpy(err->msg + pl, ": ", 2);
    size_t ol = strnlen(old, sizeof(err->msg) - pl - 3);
    memcpy(err->msg + pl + 2, old, ol);
    err->msg[pl + 2 + ol] = '\0';
    return err->code;
}

void alumet_error_clear(struct alumet_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
