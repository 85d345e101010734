/* SPDX-License-Identifier: MIT */
/* Number and timestamp text in the forms that upstream Alumet prints. No
 * allocation, no logging, no locale: safe in the hot path of outputs. */
#ifndef ALUMET_UTIL_FORMAT_H
#define ALUMET_UTIL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* A buffer of this size holds any format_f64() text and its NUL
 * (the longest is "-0.000...0" with 323 zeros and 17 digits: 344 bytes). */
#define FORMAT_F64_MAX 400

/* A buffer of this size holds any format_u64() text and its NUL. */
#define FORMAT_U64_MAX 21

/* A buffer of this size holds any format_rfc3339() text and its NUL
 * ("2262-04-11T23:47:16.854775807Z" is 30 bytes). */
#define FORMAT_RFC3339_MAX 32

/* Write v as Rust's Display prints an f64: the shortest digits that read back
 * as v, laid out without exponent, no trailing ".0" ("1", "0.5",
 * "1000000000000000000000", "0.0000001", "-0", "NaN", "inf", "-inf").
 * Writes at most size bytes into buf, always NUL-terminated when size > 0.
 * Returns the length of the full text (like snprintf); with size >=
 * FORMAT_F64_MAX the text is never truncated. Thread-safe. */
size_t format_f64(double v, char *buf, size_t size);

/* A buffer of this size holds any format_f64_json() or format_f64_dtoa()
 * text and its NUL (the longest is "-0.00000xxxxxxxxxxxxxxxxx": 26 bytes). */
#define FORMAT_F64_POINT_MAX 32

/* Write v the way serde_json (ryu) prints an f64: shortest round-trip
 * digits, "1.0" for integral values, an exponent below 1e-5 and from 1e16
 * ("1e16", "1.5e-7"); "null" for NaN and infinities. Same contract as
 * format_f64(); FORMAT_F64_POINT_MAX bytes always suffice. Thread-safe. */
size_t format_f64_json(double v, char *buf, size_t size);

/* Write v the way RapidJSON's dtoa prints it (the layout of upstream's
 * prometheus exporter): shortest round-trip digits, "4950.0" for integral
 * values, an exponent below 1e-6 and from 1e21 ("1e21", "1.5e-7"); NaN,
 * infinities as the Prometheus text formats spell them ("NaN", "+Inf",
 * "-Inf"). Same contract as format_f64(); FORMAT_F64_POINT_MAX bytes always
 * suffice. Thread-safe. */
size_t format_f64_dtoa(double v, char *buf, size_t size);

/* Write v in decimal into buf, which must hold FORMAT_U64_MAX bytes.
 * NUL-terminates and returns the length. Thread-safe. */
size_t format_u64(uint64_t v, char *buf);

/* Write a time in nanoseconds since the UNIX epoch (negative: before 1970) as
 * RFC 3339 UTC: "YYYY-MM-DDTHH:MM:SSZ", with a fraction of 1 to 9 digits
 * (trailing zeros removed) only when the nanoseconds are not zero:
 * "2025-04-25T15:08:53.99636522Z". Writes at most size bytes, always
 * NUL-terminated when size > 0; returns the length of the full text (like
 * snprintf). FORMAT_RFC3339_MAX bytes always suffice. Thread-safe. */
size_t format_rfc3339(int64_t ns_since_epoch, char *buf, size_t size);

#endif
