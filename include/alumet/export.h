/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_EXPORT_H
#define ALUMET_EXPORT_H

/* Symbols of libalumet that plugins and custom agents may use. */
#if defined(__GNUC__)
#define ALUMET_API __attribute__((visibility("default")))
#else
#define ALUMET_API
#endif

/* printf-style format checking, when the compiler supports it. */
#if defined(__GNUC__)
#define ALUMET_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define ALUMET_PRINTF(fmt, args)
#endif

#endif
