/* SPDX-License-Identifier: MIT */
/* The units of Kwollect metrics, and the answer of the metrics API:
 *
 *   [{"device_id": "taurus-7", "metric_id": "wattmetre_power_watt",
 *     "timestamp": "2025-07-21T16:15:31+02:00", "value": 131.7,
 *     "labels": {"_device_orig": "wattmetre1-port6"}}]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kwollect-input.h"
#include "util/json.h"

static const struct {
    const char *from, *to;
} kwi_unit_names[] = {
    {"watt", "W"},       {"kilowatt", "kW"},     {"watthour", "W.h"}, {"celsius", "Cel"},
    {"percent", "%"},    {"VA", "V.A"},          {"VAr", "V.A_r"},    {"amp", "A"},
    {"ampere", "A"},     {"volt", "V"},          {"hertz", "Hz"},     {"lux", "lx"},
    {"deg", "\xc2\xb0"}, {"cfm", "[cft_i]/min"}, {"bytes", "By"},     {"packets", "1"},
};

static const struct {
    const char *symbol;
    enum alumet_unit_prefix prefix;
} kwi_prefixes[] = {
    {"n", ALUMET_PREFIX_NANO},  {"\xce\xbc", ALUMET_PREFIX_MICRO}, {"u", ALUMET_PREFIX_MICRO},
    {"m", ALUMET_PREFIX_MILLI}, {"k", ALUMET_PREFIX_KILO},         {"M", ALUMET_PREFIX_MEGA},
    {"G", ALUMET_PREFIX_GIGA},
};

struct alumet_unit kwi_unit_of(const char *metric, char *buf, size_t size)
{
    const char *seg[64];
    size_t len[64], n = 0;
    const char *p = metric;
    while (n < 64) {
        size_t l = strcspn(p, "_");
        seg[n] = p;
        len[n++] = l;
        if (!p[l])
            break;
        p += l + 1;
    }
    size_t k = n - 1;
    if (n >= 3 && len[k] == 5 && memcmp(seg[k], "total", 5) == 0) {
        k = n - 2;
        if (n >= 4 && ((len[k] == 7 && memcmp(seg[k], "discard", 7) == 0) ||
                       (len[k] == 5 && memcmp(seg[k], "error", 5) == 0)))
            k = n - 3;
    }
    snprintf(buf, size, "%.*s", (int)len[k], seg[k]);
    for (size_t i = 0; i < sizeof(kwi_unit_names) / sizeof(kwi_unit_names[0]); i++) {
        if (strcmp(buf, kwi_unit_names[i].from) == 0) {
            snprintf(buf, size, "%s", kwi_unit_names[i].to);
            break;
        }
    }
    struct alumet_unit u = {ALUMET_UNIT_UNITY, ALUMET_PREFIX_PLAIN, NULL, NULL};
    for (size_t i = 0; i < sizeof(kwi_prefixes) / sizeof(kwi_prefixes[0]); i++) {
        size_t l = strlen(kwi_prefixes[i].symbol);
        if (strncmp(buf, kwi_prefixes[i].symbol, l) == 0 && buf[l]) {
            enum alumet_base_unit b = alumet_base_unit_from_string(buf + l);
            if (b != _ALUMET_UNIT_INVALID) {
                u.base = b;
                u.prefix = kwi_prefixes[i].prefix;
                return u;
            }
        }
    }
    enum alumet_base_unit b = alumet_base_unit_from_string(buf);
    if (b != _ALUMET_UNIT_INVALID) {
        u.base = b;
        return u;
    }
    u.base = ALUMET_UNIT_CUSTOM;
    u.custom_unique = buf;
    u.custom_display = buf;
    return u;
}

static int kwi_digits(const char **s, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return -EINVAL;
        v = v * 10 + (**s - '0');
    }
    *ret = v;
    return 0;
}

int kwi_parse_time(const char *text, alumet_time_ns *ret)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    const char *s = text;
    if (kwi_digits(&s, 4, &y) < 0 || *s++ != '-' || kwi_digits(&s, 2, &mo) < 0 || *s++ != '-' ||
        kwi_digits(&s, 2, &d) < 0 || (*s != 'T' && *s != ' ') || !*s++ ||
        kwi_digits(&s, 2, &h) < 0 || *s++ != ':' || kwi_digits(&s, 2, &mi) < 0 || *s++ != ':' ||
        kwi_digits(&s, 2, &sec) < 0)
        return -EINVAL;
    int64_t frac = 0;
    if (*s == '.') {
        int nd = 0;
        for (s++; *s >= '0' && *s <= '9'; s++, nd++)
            if (nd < 9)
                frac = frac * 10 + (*s - '0');
        if (nd == 0)
            return -EINVAL;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int sign = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '+' ? 1 : -1;
        if (kwi_digits(&s, 2, &oh) < 0 || *s++ != ':' || kwi_digits(&s, 2, &om) < 0)
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t secs = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
    *ret = secs * ALUMET_NSEC_PER_SEC + frac;
    return 0;
}

int kwi_parse_answer(const char *text, size_t len, const struct kwi_metrics *m,
                     struct alumet_buffer *buf, size_t *ret_skipped, struct alumet_error *err)
{
    struct json *root = NULL;
    char why[128];
    size_t i = 0, skipped = 0;
    int r = json_parse(text, len, &root, why, sizeof(why));
    if (r < 0)
        return alumet_error_set(err, r, "invalid answer from Kwollect: %s", why);
    if (root->type != JSON_ARRAY) {
        json_free(root);
        return alumet_error_set(err, -EINVAL, "invalid answer from Kwollect: expected an array");
    }
    for (const struct json *e = root->child; e && r == 0; e = e->next, i++) {
        const struct json *dev = json_get(e, "device_id"), *mid = json_get(e, "metric_id");
        const struct json *ts = json_get(e, "timestamp"), *val = json_get(e, "value");
        const struct json *orig = json_get(json_get(e, "labels"), "_device_orig");
        alumet_time_ns t;
        if (!dev || dev->type != JSON_STRING || !mid || mid->type != JSON_STRING || !ts ||
            ts->type != JSON_STRING || !val || val->type != JSON_NUMBER) {
            r = alumet_error_set(err, -EINVAL,
                                 "invalid answer from Kwollect: measure %zu lacks device_id, "
                                 "metric_id, timestamp or a numeric value",
                                 i);
            break;
        }
        if (kwi_parse_time(ts->str, &t) < 0) {
            r = alumet_error_set(err, -EINVAL, "invalid timestamp '%s' in measure %zu", ts->str, i);
            break;
        }
        size_t k = 0;
        while (k < m->n && strcmp(m->names[k], mid->str) != 0)
            k++;
        if (k == m->n) {
            skipped++;
            continue;
        }
        struct alumet_resource res = {.kind = ALUMET_RESOURCE_CUSTOM};
        struct alumet_consumer cons = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
        res.custom_kind = "device_id";
        res.str = alumet_buffer_strdup(buf, dev->str, (size_t)-1);
        if (orig && orig->type == JSON_STRING) {
            cons.kind = ALUMET_CONSUMER_CUSTOM;
            cons.custom_kind = "device_origin";
            cons.str = alumet_buffer_strdup(buf, orig->str, (size_t)-1);
        }
        const char *metric_id = alumet_buffer_strdup(buf, mid->str, (size_t)-1);
        struct alumet_point *p =
            res.str && metric_id && (cons.kind != ALUMET_CONSUMER_CUSTOM || cons.str)
                ? alumet_buffer_push_f64(buf, t, m->ids[k], &res, &cons, val->num)
                : NULL;
        if (!p || alumet_point_add_attr_str(buf, p, "metric_id", metric_id) < 0)
            r = alumet_error_set(err, -ENOMEM, "out of memory");
    }
    json_free(root);
    *ret_skipped = skipped;
    return r;
}
