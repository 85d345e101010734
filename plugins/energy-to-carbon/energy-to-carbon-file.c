/* SPDX-License-Identifier: MIT */
/* energy-to-carbon: the intensity file, one row per period (typically an
 * hour) with the carbon intensity in force from its timestamp on:
 *
 *   timestamp,intensity
 *   2026-12-04T16:00:00Z,56.0
 *   2026-12-04T17:00:00+01:00,61.5
 *   1764867600,58.25
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "energy-to-carbon.h"

/* Digits of s (exactly n of them) as a number, -1 when not digits. */
static long energy_to_carbon_digits(const char *s, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 ("2026-12-04T16:00:00Z", "2026-12-04 16:00:00.5+01:00") or UNIX
 * seconds ("1764864000"). 0 or -EINVAL. */
static int energy_to_carbon_parse_time(const char *s, alumet_time_ns *ret)
{
    char *end;
    if (strlen(s) < 19 || s[4] != '-') {
        errno = 0;
        long long secs = strtoll(s, &end, 10);
        if (errno || end == s || *end || secs < 0 || secs > INT64_MAX / ALUMET_NSEC_PER_SEC)
            return -EINVAL;
        *ret = (alumet_time_ns)secs * ALUMET_NSEC_PER_SEC;
        return 0;
    }
    long y = energy_to_carbon_digits(s, 4), mo = energy_to_carbon_digits(s + 5, 2),
         d = energy_to_carbon_digits(s + 8, 2), h = energy_to_carbon_digits(s + 11, 2),
         mi = energy_to_carbon_digits(s + 14, 2), se = energy_to_carbon_digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 60 || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -EINVAL;
    const char *p = s + 19;
    alumet_time_ns frac = 0;
    if (*p == '.') {
        alumet_time_ns scale = ALUMET_NSEC_PER_SEC;
        for (p++; isdigit((unsigned char)*p); p++)
            if (scale > 1)
                frac += (*p - '0') * (scale /= 10);
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        long oh = energy_to_carbon_digits(p + 1, 2), om = energy_to_carbon_digits(p + 4, 2);
        if (oh < 0 || oh > 23 || p[3] != ':' || om < 0 || om > 59)
            return -EINVAL;
        offset = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        p += 6;
    } else {
        return -EINVAL; /* a time without zone is ambiguous */
    }
    if (*p)
        return -EINVAL;
    struct tm tm = {.tm_year = (int)y - 1900,
                    .tm_mon = (int)mo - 1,
                    .tm_mday = (int)d,
                    .tm_hour = (int)h,
                    .tm_min = (int)mi,
                    .tm_sec = (int)se};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d)
        return -EINVAL;
    *ret = ((alumet_time_ns)t - offset) * ALUMET_NSEC_PER_SEC + frac;
    return 0;
}

static char *energy_to_carbon_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int energy_to_carbon_file_read(const char *path, struct energy_to_carbon_row **ret_rows,
                               size_t *ret_n, struct alumet_error *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return alumet_error_set(err, -errno,
                                "cannot read the intensity file '%s': %s (set "
                                "plugins.energy-to-carbon.intensity_file.path to a readable CSV "
                                "file of rows \"timestamp,gCO2eq/kWh\")",
                                path, strerror(errno));
    struct energy_to_carbon_row *rows = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char line[512];
    int r = 0;
    bool first = true;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = energy_to_carbon_trim(line);
        if (!*s || *s == '#')
            continue;
        char *comma = strchr(s, ',');
        char *ts_text = s, *v_text = comma ? energy_to_carbon_trim(comma + 1) : NULL;
        if (comma)
            *comma = '\0';
        ts_text = energy_to_carbon_trim(ts_text);
        alumet_time_ns ts;
        char *end = NULL;
        double v = v_text ? strtod(v_text, &end) : NAN;
        bool time_ok = energy_to_carbon_parse_time(ts_text, &ts) == 0;
        if (first && !time_ok) {
            first = false; /* a header line */
            continue;
        }
        first = false;
        if (!time_ok || !v_text || end == v_text || *end || !isfinite(v) || v < 0) {
            r = alumet_error_set(err, -EINVAL,
                                 "%s:%zu: expected \"timestamp,intensity\" with an RFC 3339 "
                                 "timestamp with its zone (2026-12-04T16:00:00Z) or UNIX seconds, "
                                 "and gCO2eq/kWh >= 0",
                                 path, lineno);
            goto out_close;
        }
        if (n && ts <= rows[n - 1].from) {
            r = alumet_error_set(err, -EINVAL,
                                 "%s:%zu: the timestamps must increase from one row to the next",
                                 path, lineno);
            goto out_close;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            struct energy_to_carbon_row *bigger = realloc(rows, cap * sizeof(*rows));
            if (!bigger) {
                r = alumet_error_set(err, -ENOMEM, "out of memory");
                goto out_close;
            }
            rows = bigger;
        }
        rows[n++] = (struct energy_to_carbon_row){ts, v};
    }
    if (n == 0)
        r = alumet_error_set(err, -EINVAL,
                             "%s: no intensity row (expected lines such as "
                             "\"2026-12-04T16:00:00Z,56.0\")",
                             path);

out_close:
    fclose(f);
    if (r < 0) {
        free(rows);
        return r;
    }
    *ret_rows = rows;
    *ret_n = n;
    return 0;
}

long energy_to_carbon_file_find(const struct energy_to_carbon_row *rows, size_t n, alumet_time_ns t)
{
    if (n == 0 || t < rows[0].from)
        return -1;
    size_t lo = 0, hi = n; /* rows[lo].from <= t < rows[hi].from */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (rows[mid].from <= t)
            lo = mid;
        else
            hi = mid;
    }
    return (long)lo;
}
