/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "alumet/metric.h"
#include "alumet/units.h"

static const char *const unit_unique[] = {
#define X(id, unique, display) [ALUMET_UNIT_##id] = unique,
    ALUMET_BASE_UNITS(X)
#undef X
};
static const char *const unit_display[] = {
#define X(id, unique, display) [ALUMET_UNIT_##id] = display,
    ALUMET_BASE_UNITS(X)
#undef X
};
static const char *const prefix_unique[] = {
#define X(id, unique, display, exp) [ALUMET_PREFIX_##id] = unique,
    ALUMET_UNIT_PREFIXES(X)
#undef X
};
static const char *const prefix_display[] = {
#define X(id, unique, display, exp) [ALUMET_PREFIX_##id] = display,
    ALUMET_UNIT_PREFIXES(X)
#undef X
};

static const char *unit_part(const char *const *table, size_t n, int i)
{
    return i >= 0 && (size_t)i < n && table[i] ? table[i] : "";
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

size_t alumet_unit_unique_name(const struct alumet_unit *u, char *buf, size_t size)
{
    const char *b = u->base == ALUMET_UNIT_CUSTOM ? (u->custom_unique ? u->custom_unique : "")
                                                  : unit_part(unit_unique, N(unit_unique), u->base);
    int n = snprintf(buf, size, "%s%s", unit_part(prefix_unique, N(prefix_unique), u->prefix), b);
    return n < 0 ? 0 : (size_t)n;
}

size_t alumet_unit_display_name(const struct alumet_unit *u, char *buf, size_t size)
{
    const char *b = u->base == ALUMET_UNIT_CUSTOM
                        ? (u->custom_display ? u->custom_display : "")
                        : unit_part(unit_display, N(unit_display), u->base);
    int n = snprintf(buf, size, "%s%s", unit_part(prefix_display, N(prefix_display), u->prefix), b);
    return n < 0 ? 0 : (size_t)n;
}

enum alumet_base_unit alumet_base_unit_from_string(const char *s)
{
    for (size_t i = 0; i < N(unit_unique); i++)
        if (strcmp(s, unit_unique[i]) == 0)
            return (enum alumet_base_unit)i;
    return _ALUMET_UNIT_INVALID;
}

enum alumet_unit_prefix alumet_unit_prefix_from_string(const char *s)
{
    for (size_t i = 0; i < N(prefix_unique); i++)
        if (strcmp(s, prefix_unique[i]) == 0 || (*s && strcmp(s, prefix_display[i]) == 0))
            return (enum alumet_unit_prefix)i;
    return _ALUMET_PREFIX_INVALID;
}

const char *alumet_value_type_name(enum alumet_value_type t)
{
    switch (t) {
    case ALUMET_VALUE_F64:
        return "F64";
    case ALUMET_VALUE_U64:
        return "U64";
    default:
        return "?";
    }
}
