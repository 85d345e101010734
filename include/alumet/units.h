/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_UNITS_H
#define ALUMET_UNITS_H

#include <stddef.h>

#include "export.h"

#define ALUMET_BASE_UNITS(X)                                                                       \
    X(UNITY, "1", "")                                                                              \
    X(SECOND, "s", "s")                                                                            \
    X(WATT, "W", "W")                                                                              \
    X(JOULE, "J", "J")                                                                             \
    X(VOLT, "V", "V")                                                                              \
    X(AMPERE, "A", "A")                                                                            \
    X(HERTZ, "Hz", "Hz")                                                                           \
    X(DEGREE_CELSIUS, "Cel",                                                                       \
      "\xc2\xb0"                                                                                   \
      "C")                                                                                         \
    X(DEGREE_FAHRENHEIT, "[degF]",                                                                 \
      "\xc2\xb0"                                                                                   \
      "F")                                                                                         \
    X(WATT_HOUR, "W.h", "Wh")                                                                      \
    X(BYTE, "By", "B")                                                                             \
    X(PERCENT, "%", "%")

enum alumet_base_unit {
#define ALUMET_X_ENUM(id, unique, display) ALUMET_UNIT_##id,
    ALUMET_BASE_UNITS(ALUMET_X_ENUM)
#undef ALUMET_X_ENUM
        ALUMET_UNIT_CUSTOM,
    _ALUMET_UNIT_MAX,
    _ALUMET_UNIT_INVALID = -22
};

#define ALUMET_UNIT_PREFIXES(X)                                                                    \
    X(NANO, "nano", "n", -9)                                                                       \
    X(MICRO, "micro", "\xce\xbc", -6)                                                              \
    X(MILLI, "milli", "m", -3)                                                                     \
    X(PLAIN, "", "", 0)                                                                            \
    X(KILO, "kilo", "k", 3)                                                                        \
    X(MEGA, "mega", "M", 6)                                                                        \
    X(GIGA, "giga", "G", 9)

enum alumet_unit_prefix {
#define ALUMET_X_ENUM(id, unique, display, exp) ALUMET_PREFIX_##id,
    ALUMET_UNIT_PREFIXES(ALUMET_X_ENUM)
#undef ALUMET_X_ENUM
        _ALUMET_PREFIX_MAX,
    _ALUMET_PREFIX_INVALID = -22
};

/* A prefixed unit. For ALUMET_UNIT_CUSTOM, custom_unique and custom_display
 * name the unit (borrowed, must outlive the metric registration, which copies them). */
struct alumet_unit {
    enum alumet_base_unit base;
    enum alumet_unit_prefix prefix;
    const char *custom_unique;
    const char *custom_display;
};

#define ALUMET_UNIT(b) ((struct alumet_unit){ALUMET_UNIT_##b, ALUMET_PREFIX_PLAIN, NULL, NULL})
#define ALUMET_UNIT_PREFIXED(p, b)                                                                 \
    ((struct alumet_unit){ALUMET_UNIT_##b, ALUMET_PREFIX_##p, NULL, NULL})

/* Unique (UCUM) name of the unit with its prefix ("milliJ", "1", "kiloBy").
 * Writes into buf (always NUL-terminated), returns the length that the full
 * name needs (like snprintf). */
ALUMET_API size_t alumet_unit_unique_name(const struct alumet_unit *u, char *buf, size_t size);

/* Display name with its prefix ("mJ", "", "°C", "μs"). Same contract. */
ALUMET_API size_t alumet_unit_display_name(const struct alumet_unit *u, char *buf, size_t size);

/* Parse a base unit from its unique name ("J", "W.h"); custom units cannot be
 * parsed. Returns _ALUMET_UNIT_INVALID when unknown. */
ALUMET_API enum alumet_base_unit alumet_base_unit_from_string(const char *s);

/* Parse a prefix ("milli" or "m", "" for plain). Returns _ALUMET_PREFIX_INVALID. */
ALUMET_API enum alumet_unit_prefix alumet_unit_prefix_from_string(const char *s);

#endif
