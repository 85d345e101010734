/* SPDX-License-Identifier: MIT */
/* Humantime durations, parsed and printed exactly as the Rust crate humantime
 * (2.x) does, within the range of alumet_time_ns (about 292 years). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alumet/config.h"

#define NS_PER_SEC UINT64_C(1000000000)

struct duration_unit {
    const char *name;
    uint64_t ns;
};

static const struct duration_unit duration_units[] = {
    {"nanos", 1},
    {"nsec", 1},
    {"ns", 1},
    {"usec", 1000},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* "µs", U+00B5 MICRO SIGN */
    {"millis", 1000000},
    {"msec", 1000000},
    {"ms", 1000000},
    {"seconds", NS_PER_SEC},
    {"second", NS_PER_SEC},
    {"secs", NS_PER_SEC},
    {"sec", NS_PER_SEC},
    {"s", NS_PER_SEC},
    {"minutes", 60 * NS_PER_SEC},
    {"minute", 60 * NS_PER_SEC},
    {"mins", 60 * NS_PER_SEC},
    {"min", 60 * NS_PER_SEC},
    {"m", 60 * NS_PER_SEC},
    {"hours", 3600 * NS_PER_SEC},
    {"hour", 3600 * NS_PER_SEC},
    {"hrs", 3600 * NS_PER_SEC},
    {"hr", 3600 * NS_PER_SEC},
    {"h", 3600 * NS_PER_SEC},
    {"days", 86400 * NS_PER_SEC},
    {"day", 86400 * NS_PER_SEC},
    {"d", 86400 * NS_PER_SEC},
    {"weeks", 7 * 86400 * NS_PER_SEC},
    {"week", 7 * 86400 * NS_PER_SEC},
    {"w", 7 * 86400 * NS_PER_SEC},
    /* 30.44 days and 365.25 days, as humantime defines them */
    {"months", 2630016 * NS_PER_SEC},
    {"month", 2630016 * NS_PER_SEC},
    {"M", 2630016 * NS_PER_SEC},
    {"years", 31557600 * NS_PER_SEC},
    {"year", 31557600 * NS_PER_SEC},
    {"y", 31557600 * NS_PER_SEC},
};

static bool duration_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool duration_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool duration_is_micro(const char *p)
{
    return (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xb5;
}

/* Add n units (name: [start, end)) to *total; -EINVAL for an unknown or
 * missing unit, -ERANGE when the sum leaves alumet_time_ns. */
static int duration_add(const char *start, const char *end, uint64_t n, uint64_t *total)
{
    size_t len = (size_t)(end - start);

    for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
        const struct duration_unit *u = &duration_units[i];
        if (strlen(u->name) != len || memcmp(u->name, start, len) != 0)
            continue;
        uint64_t ns;
        if (__builtin_mul_overflow(n, u->ns, &ns))
            return -ERANGE;
        if (__builtin_add_overflow(*total, ns, total) || *total > (uint64_t)INT64_MAX)
            return -ERANGE;
        return 0;
    }
    return -EINVAL;
}

/* Skip spaces; *ret_digit = the first digit (then true), false at the end,
 * -EINVAL for anything else (humantime's "expected number"). */
static int duration_first_digit(const char **p, uint64_t *ret_digit)
{
    while (duration_is_space(**p))
        (*p)++;
    if (**p == '\0')
        return 0;
    if (**p < '0' || **p > '9')
        return -EINVAL;
    *ret_digit = (uint64_t)(**p - '0');
    (*p)++;
    return 1;
}

/* The grammar and its quirks follow humantime's parser: spaces may appear
 * between the digits of a number and between a number and its unit, a unit
 * ends at a space or at the next digit, and a unit is mandatory. */
int alumet_duration_parse(const char *s, alumet_time_ns *ret)
{
    if (!s || !ret)
        return -EINVAL;

    const char *p = s;
    uint64_t total = 0, n = 0;
    int r = duration_first_digit(&p, &n);
    if (r <= 0)
        return -EINVAL; /* empty, or not starting with a number */

    for (;;) {
        /* rest of the number */
        while (*p != '\0') {
            if (*p >= '0' && *p <= '9') {
                if (__builtin_mul_overflow(n, 10, &n) ||
                    __builtin_add_overflow(n, (uint64_t)(*p - '0'), &n))
                    return -ERANGE;
            } else if (!duration_is_space(*p)) {
                if (!duration_is_alpha(*p) && !duration_is_micro(p))
                    return -EINVAL;
                break;
            }
            p++;
        }

        /* the unit */
        const char *start = p;
        if (duration_is_micro(p))
            p += 2;
        while (duration_is_alpha(*p))
            p++;
        if (*p >= '0' && *p <= '9') {
            r = duration_add(start, p, n, &total);
            if (r < 0)
                return r;
            n = (uint64_t)(*p - '0');
            p++;
            continue;
        }
        if (*p != '\0' && !duration_is_space(*p))
            return -EINVAL;
        r = duration_add(start, p, n, &total);
        if (r < 0)
            return r;

        r = duration_first_digit(&p, &n);
        if (r < 0)
            return r;
        if (r == 0)
            break;
    }

    *ret = (alumet_time_ns)total;
    return 0;
}

struct duration_out {
    char *buf;
    size_t size, len;
    bool started;
};

static void duration_put(struct duration_out *o, const char *s)
{
    for (; *s; s++, o->len++)
        if (o->len + 1 < o->size)
            o->buf[o->len] = *s;
}

static void duration_item(struct duration_out *o, uint64_t value, const char *name, bool plural)
{
    if (value == 0)
        return;
    char num[24];
    snprintf(num, sizeof(num), "%s%" PRIu64, o->started ? " " : "", value);
    duration_put(o, num);
    duration_put(o, name);
    if (plural && value > 1)
        duration_put(o, "s");
    o->started = true;
}

/* Same text as humantime::format_duration ("1year 2months 3days 4h 5m 6s 7ms
 * 8us 9ns"); a negative duration, which humantime cannot represent, gets a
 * leading '-'. */
size_t alumet_duration_format(alumet_time_ns d, char *buf, size_t size)
{
    struct duration_out o = {.buf = buf, .size = buf ? size : 0};
    uint64_t mag = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;

    if (d < 0)
        duration_put(&o, "-");
    if (mag == 0) {
        duration_put(&o, "0s");
    } else {
        uint64_t secs = mag / NS_PER_SEC;
        uint64_t nanos = mag % NS_PER_SEC;
        uint64_t ydays = secs % 31557600;
        uint64_t mdays = ydays % 2630016;
        uint64_t day_secs = mdays % 86400;

        duration_item(&o, secs / 31557600, "year", true);
        duration_item(&o, ydays / 2630016, "month", true);
        duration_item(&o, mdays / 86400, "day", true);
        duration_item(&o, day_secs / 3600, "h", false);
        duration_item(&o, day_secs % 3600 / 60, "m", false);
        duration_item(&o, day_secs % 60, "s", false);
        duration_item(&o, nanos / 1000000, "ms", false);
        duration_item(&o, nanos / 1000 % 1000, "us", false);
        duration_item(&o, nanos % 1000, "ns", false);
    }
    if (o.size > 0)
        o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
    return o.len;
}
