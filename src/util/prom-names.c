/* SPDX-License-Identifier: MIT */
#include "prom-names.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"

const char *const prom_fixed_labels[4] = {
    "resource_kind",
    "resource_id",
    "resource_consumer_kind",
    "resource_consumer_id",
};

static const char *const prom_prefix_words[] = {
#define PROM_X(id, unique, display, exp) [ALUMET_PREFIX_##id] = unique,
    ALUMET_UNIT_PREFIXES(PROM_X)
#undef PROM_X
};

static const char *const prom_base_words[ALUMET_UNIT_CUSTOM] = {
    [ALUMET_UNIT_UNITY] = "",
    [ALUMET_UNIT_SECOND] = "seconds",
    [ALUMET_UNIT_WATT] = "watts",
    [ALUMET_UNIT_JOULE] = "joules",
    [ALUMET_UNIT_VOLT] = "volts",
    [ALUMET_UNIT_AMPERE] = "amperes",
    [ALUMET_UNIT_HERTZ] = "hertz",
    [ALUMET_UNIT_DEGREE_CELSIUS] = "celsius",
    [ALUMET_UNIT_DEGREE_FAHRENHEIT] = "fahrenheit",
    [ALUMET_UNIT_WATT_HOUR] = "watt_hours",
    [ALUMET_UNIT_BYTE] = "bytes",
    [ALUMET_UNIT_PERCENT] = "ratio",
};

size_t prom_sanitize(const char *s, size_t len, char *out)
{
    size_t n = 0;
    bool in_sequence = false;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (in_sequence && (c & 0xC0) == 0x80)
            continue; /* the rest of a UTF-8 sequence: one character, one '_' */
        in_sequence = c >= 0x80;
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool keep = letter || (n > 0 && c >= '0' && c <= '9');
        out[n++] = keep ? (char)c : '_';
    }
    out[n] = '\0';
    return n;
}

size_t prom_attr_label_name(const char *key, size_t len, char *out)
{
    /* sanitized after the room of the prefix, then put in place */
    const size_t room = sizeof(PROM_ATTR_RENAME) - 1;
    char *name = out + room;
    size_t n = prom_sanitize(key, len, name);
    if (n == 0) {
        name[n++] = '_';
        name[n] = '\0';
    }
    bool taken = strcmp(name, "__name__") == 0;
    for (size_t i = 0; i < 4 && !taken; i++)
        taken = strcmp(name, prom_fixed_labels[i]) == 0;
    if (taken) {
        memcpy(out, PROM_ATTR_RENAME, room);
        return room + n;
    }
    for (size_t i = 0; i <= n; i++)
        out[i] = name[i];
    return n;
}

char *prom_sanitized_dup(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out)
        prom_sanitize(s, len, out);
    return out;
}

bool prom_label_name_valid(const char *name)
{
    if (!*name || (name[0] == '_' && name[1] == '_'))
        return false;
    for (const char *c = name; *c; c++) {
        bool letter = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
        if (!letter && !(c > name && *c >= '0' && *c <= '9'))
            return false;
    }
    return true;
}

char *prom_unit_word(const struct alumet_unit *u)
{
    const char *prefix = "", *base = "";
    if (u->prefix >= 0 && u->prefix < _ALUMET_PREFIX_MAX)
        prefix = prom_prefix_words[u->prefix];
    if (u->base == ALUMET_UNIT_CUSTOM)
        base = u->custom_unique ? u->custom_unique : "";
    else if (u->base >= 0 && u->base < ALUMET_UNIT_CUSTOM && prom_base_words[u->base])
        base = prom_base_words[u->base];
    struct text w = {0};
    if (text_adds(&w, prefix) < 0 || text_adds(&w, base) < 0) {
        text_done(&w);
        return NULL;
    }
    char *out = prom_sanitized_dup(w.s ? w.s : "", w.len);
    text_done(&w);
    return out;
}

bool prom_unit_is_energy(const struct alumet_unit *u)
{
    return u->base == ALUMET_UNIT_JOULE || u->base == ALUMET_UNIT_WATT_HOUR;
}

bool prom_metric_is_delta(const struct alumet_metric *m, char *const *counters, size_t n)
{
    if (prom_unit_is_energy(&m->unit))
        return true;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(counters[i], m->name) == 0)
            return true;
    }
    return false;
}
