/* SPDX-License-Identifier: MIT */
#include "util/format.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 128-bit integers: GCC and Clang extension, exact decimal scaling below */
__extension__ typedef unsigned __int128 format_u128;

static const char format_digit_pairs[201] = "00010203040506070809"
                                            "10111213141516171819"
                                            "20212223242526272829"
                                            "30313233343536373839"
                                            "40414243444546474849"
                                            "50515253545556575859"
                                            "60616263646566676869"
                                            "70717273747576777879"
                                            "80818283848586878889"
                                            "90919293949596979899";

/* 10^k for k in 0..19 */
static const uint64_t format_pow10_u64[20] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
};

/* Copy the n-byte text tmp into buf the snprintf way: truncated to size - 1
 * bytes and NUL-terminated when size > 0. Returns n. */
static size_t format_copy_out(const char *tmp, size_t n, char *buf, size_t size)
{
    if (size > 0) {
        size_t c = n < size ? n : size - 1;
        memcpy(buf, tmp, c);
        buf[c] = '\0';
    }
    return n;
}

size_t format_u64(uint64_t v, char *buf)
{
    /* digits: floor(log10(v)) + 1, from the bit length (Bit Twiddling
     * Hacks' IntegerLog10); v | 1 makes 0 one digit */
    unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    size_t n = t - ((v | 1) < format_pow10_u64[t]) + 1;
    char *p = buf + n;

    *p = '\0';
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        p -= 2;
        memcpy(p, format_digit_pairs + i, 2);
    }
    if (v >= 10)
        memcpy(p - 2, format_digit_pairs + v * 2, 2);
    else
        p[-1] = (char)('0' + v);
    return n;
}

/* Write exactly width decimal digits of v (zero-padded) at p. */
static void format_fixed_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* ---- f64 ---- */

/* Lay out the significant digits d[0..n) (no leading zero, n >= 1) of a
 * number d[0].d[1..] x 10^exp10 in positional notation, after an optional
 * minus sign. Trailing zeros of the fraction must already be stripped.
 * Returns the length written into out (which holds FORMAT_F64_MAX bytes). */
static size_t format_layout(bool neg, const char *d, int n, int exp10, char *out)
{
    char *p = out;

    if (neg)
        *p++ = '-';
    if (exp10 < 0) {
        /* 0.000ddd */
        *p++ = '0';
        *p++ = '.';
        int zeros = -exp10 - 1;
        memset(p, '0', (size_t)zeros);
        p += zeros;
        memcpy(p, d, (size_t)n);
        p += n;
    } else if (exp10 >= n - 1) {
        /* ddd000: an integer */
        memcpy(p, d, (size_t)n);
        p += n;
        int zeros = exp10 - (n - 1);
        memset(p, '0', (size_t)zeros);
        p += zeros;
    } else {
        /* dd.ddd */
        int int_len = exp10 + 1;
        memcpy(p, d, (size_t)int_len);
        p += int_len;
        *p++ = '.';
        memcpy(p, d + int_len, (size_t)(n - int_len));
        p += n - int_len;
    }
    return (size_t)(p - out);
}

/* Digits and decimal exponent of the p-significant-digit rounding of a
 * (finite, > 0), from printf's correctly rounded "%.*e". Returns whether
 * that text reads back as a. */
static bool format_try_precision(double a, int p, char *d, int *ret_n, int *ret_exp10)
{
    char tmp[48];
    int len = snprintf(tmp, sizeof(tmp), "%.*e", p - 1, a);

    if (len <= 0 || (size_t)len >= sizeof(tmp))
        return false;

    /* "1.2345e+02": the decimal point may be another (locale) character */
    int n = 0;
    const char *s = tmp;
    while (*s && *s != 'e') {
        if (*s >= '0' && *s <= '9')
            d[n++] = *s;
        s++;
    }
    if (*s != 'e' || n != p)
        return false;
    *ret_exp10 = atoi(s + 1);
    *ret_n = n;
    return strtod(tmp, /* endptr= */ NULL) == a;
}

/* Whether the p digits d x 10^exp10 read back as a. */
static bool format_digits_read_back(double a, const char *d, int p, int exp10)
{
    char tmp[48];
    memcpy(tmp, d, (size_t)p);
    int len = p + snprintf(tmp + p, sizeof(tmp) - (size_t)p, "e%d", exp10 - (p - 1));
    if (len <= p || (size_t)len >= sizeof(tmp))
        return false;
    return strtod(tmp, /* endptr= */ NULL) == a;
}

/* At an exact power of two the gap to the next double below is half the gap
 * above, so the round-trip interval is lopsided: when the nearest p-digit
 * number (below a) fails, the one just above may still read back. */
static bool format_try_upper_neighbour(double a, char *d, int p, int *exp10)
{
    char up[20];
    int e = *exp10;

    memcpy(up, d, (size_t)p);
    int i = p - 1;
    while (i >= 0 && up[i] == '9')
        up[i--] = '0';
    if (i < 0) {
        /* 999 -> 1000: one more digit of exponent, still p digits */
        up[0] = '1';
        e++;
    } else {
        up[i]++;
    }
    if (!format_digits_read_back(a, up, p, e))
        return false;
    memcpy(d, up, (size_t)p);
    *exp10 = e;
    return true;
}

static bool format_is_pow2(double a)
{
    int e;
    return frexp(a, &e) == 0.5;
}

/* Shortest round-trip digits of a (finite, > 0) through printf and strtod.
 * Slow (a few microseconds) but exact for every double; used outside the
 * range of format_shortest_fast. Returns the digit count. */
static int format_shortest_slow(double a, char *d, int *ret_exp10)
{
    int n = 0;
    bool pow2 = format_is_pow2(a) && a >= 0x1p-1022;

    if (a >= 0x1p-1022) {
        /* Any decimal of at most DBL_DIG (15) digits survives the trip
         * decimal -> double -> 15 digits, so when the shortest text has 15
         * digits or fewer it is the 15-digit rounding without its zeros. */
        if (format_try_precision(a, 15, d, &n, ret_exp10))
            goto out_strip;
        if (format_try_precision(a, 16, d, &n, ret_exp10))
            goto out_strip;
        if (pow2 && format_try_upper_neighbour(a, d, 16, ret_exp10))
            goto out_strip;
        format_try_precision(a, 17, d, &n, ret_exp10);
        goto out_strip;
    }

    /* Subnormals have fewer significant bits: search upwards. */
    for (int p = 1; p <= 17; p++) {
        if (format_try_precision(a, p, d, &n, ret_exp10))
            goto out_strip;
    }
out_strip:
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n;
}

/* 10^k for k in 0..21 (10^21 needs 70 bits). */
static format_u128 format_pow10_128(int k)
{
    format_u128 r = 1;
    if (k < 20)
        return format_pow10_u64[k];
    r = format_pow10_u64[19];
    for (int i = 19; i < k; i++)
        r *= 10;
    return r;
}

/* Shortest round-trip digits with exact integer arithmetic, for 1e-5 <= a <
 * 2^53, a not an integer (the common measurement range). a = M x 2^-s with a
 * 53-bit M and 0 < s <= 72. In units of 2^-(s+2) the doubles that round to a
 * are those in [4M-2, 4M+2] (4M-1 below an exact power of two, where the gap
 * below is halved), ends included when M is even. The shortest text is the
 * smallest k such that that interval times 10^k holds an integer m; then the
 * digits are those of the m closest to a x 10^k. The existence of m is
 * monotonic in k, so k is found by bisection. Returns the digit count (of m)
 * and writes the number of fraction digits into *ret_k, or 0 when a is out
 * of range. */
static int format_shortest_fast(double a, uint64_t *ret_m, int *ret_k)
{
    uint64_t bits;
    memcpy(&bits, &a, sizeof(bits));
    /* a (normal) = mant x 2^-s: the 52 stored bits and the implicit one */
    uint64_t mant = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int s = 1075 - (int)(bits >> 52);

    if (s <= 0 || s > 72)
        return 0;

    unsigned shift = (unsigned)s + 2;
    bool inclusive = (mant & 1) == 0;
    uint64_t c = mant * 4;
    uint64_t lo = c - (mant == (1ull << 52) ? 1 : 2);
    uint64_t hi = c + 2;
    format_u128 one = (format_u128)1 << shift;
    format_u128 mask = one - 1;

    /* bisection for the smallest k in [1, 21] with an integer in the interval */
    int klo = 1, khi = 21, found = -1;
    while (klo <= khi) {
        int k = (klo + khi) / 2;
        format_u128 p10 = format_pow10_128(k);
        format_u128 L = lo * p10, U = hi * p10;
        /* smallest integer m with m x 2^shift >= L (> L when exclusive) */
        format_u128 mlo = L >> shift;
        if ((L & mask) != 0 || !inclusive)
            mlo++;
        format_u128 mhi = U >> shift;
        if ((U & mask) == 0 && !inclusive)
            mhi--;
        if (mlo <= mhi) {
            found = k;
            khi = k - 1;
        } else {
            klo = k + 1;
        }
    }
    if (found < 0)
        return 0;

    format_u128 p10 = format_pow10_128(found);
    format_u128 C = c * p10, L = lo * p10, U = hi * p10;
    format_u128 m = C >> shift, rem = C & mask, half = one >> 1;
    if (rem > half || (rem == half && (m & 1)))
        m++;
    /* the closest may sit just outside a lopsided interval: move inside */
    format_u128 mlo = L >> shift;
    if ((L & mask) != 0 || !inclusive)
        mlo++;
    format_u128 mhi = U >> shift;
    if ((U & mask) == 0 && !inclusive)
        mhi--;
    if (m < mlo)
        m = mlo;
    if (m > mhi)
        m = mhi;

    *ret_m = (uint64_t)m;
    *ret_k = found;
    return 1;
}

/* 10^k for k in 0..19, exact as doubles */
static const double format_pow10_f64[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                          1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                          1e14, 1e15, 1e16, 1e17, 1e18, 1e19};

/* The common case of measurements, first: for 1e-5 <= a < 1e15 whose
 * shortest text has at most 15 (DBL_DIG) significant digits ("12345.5",
 * "0.001"), a = m x 10^-k. Two decimals of at most 15 digits never read back
 * as the same double, so when the 15-digit rounding m x 10^-k of a reads back
 * as a, it is the only one and, without its trailing zeros, the shortest.
 * With k = 15 - kk (10^(kk-1) <= a < 10^kk), a x 10^k is within 0.18 of that
 * m (a is within 2^-53 a of it, the product rounds by 2^-4 at most), so m is
 * its nearest integer; the division m / 10^k, both exact doubles, is correctly
 * rounded: equal to a exactly when m x 10^-k reads back as a. Returns 0 when
 * a has more digits (or kk is misjudged at a power of ten): the slower paths
 * decide. */
static int format_shortest_15(double a, uint64_t *ret_m, int *ret_k)
{
    uint64_t bits;
    memcpy(&bits, &a, sizeof(bits));
    int e = (int)(bits >> 52) - 1023; /* 2^e <= a < 2^(e+1) */
    /* floor(e log10(2)) + 1 (1233 / 4096 is exact enough for |e| < 100) */
    int kk = (e >= 0 ? (e * 1233) >> 12 : -((-e * 1233 + 4095) >> 12)) + 1;
    if (kk < 15 && kk >= 0 && a >= format_pow10_f64[kk])
        kk++;
    else if (kk < 0 && a * format_pow10_f64[-kk] >= 1)
        kk++;
    int k = 15 - kk;
    if (k < 0 || k > 19)
        return 0;
    double x = a * format_pow10_f64[k];
    if (!(x < 1e15))
        return 0;
    uint64_t m = (uint64_t)(x + 0.5);
    if (m == 0 || (double)m / format_pow10_f64[k] != a)
        return 0;
    /* trailing zeros (at most 14) */
    if (m % 100000000 == 0) {
        m /= 100000000;
        k -= 8;
    }
    if (m % 10000 == 0) {
        m /= 10000;
        k -= 4;
    }
    if (m % 100 == 0) {
        m /= 100;
        k -= 2;
    }
    if (m % 10 == 0) {
        m /= 10;
        k -= 1;
    }
    *ret_m = m;
    *ret_k = k;
    return 1;
}

/* The shortest round-trip digits d[0..n) of a (finite, > 0), without
 * trailing zeros, and its decimal exponent: a = d[0].d[1..] x 10^exp10. d
 * holds FORMAT_U64_MAX bytes. Returns n. */
static int format_shortest(double a, char *d, int *ret_exp10)
{
    uint64_t m;
    int k, n;

    if (a < 0x1p53 && a == (double)(uint64_t)a) {
        /* integers below 2^53 are exact and are their own shortest text */
        n = (int)format_u64((uint64_t)a, d);
        *ret_exp10 = n - 1;
    } else if (a >= 1e-5 && a < 1e15 && format_shortest_15(a, &m, &k)) {
        n = (int)format_u64(m, d);
        *ret_exp10 = n - 1 - k;
        return n;
    } else if (a >= 1e-5 && a < 0x1p53 && format_shortest_fast(a, &m, &k)) {
        n = (int)format_u64(m, d);
        *ret_exp10 = n - 1 - k;
    } else {
        return format_shortest_slow(a, d, ret_exp10);
    }
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n;
}

size_t format_f64(double v, char *buf, size_t size)
{
    char out[FORMAT_F64_MAX];
    bool neg = signbit(v) != 0;
    double a = fabs(v);

    if (isnan(v))
        return format_copy_out("NaN", 3, buf, size);
    if (isinf(v))
        return neg ? format_copy_out("-inf", 4, buf, size) : format_copy_out("inf", 3, buf, size);
    if (a == 0)
        return neg ? format_copy_out("-0", 2, buf, size) : format_copy_out("0", 1, buf, size);

    char d[FORMAT_U64_MAX];
    int exp10 = 0;
    int nd = format_shortest(a, d, &exp10);
    size_t n = format_layout(neg, d, nd, exp10, out);
    return format_copy_out(out, n, buf, size);
}

/* v (finite) with its shortest round-trip digits, in the layout that ryu and
 * RapidJSON's dtoa share: positional from 10^min_kk to 10^max_kk (integral
 * values end with ".0"), exponent form ("1e21", "1.5e-7") outside. */
static size_t format_f64_point(double v, int max_kk, int min_kk, char *buf, size_t size)
{
    if (v == 0)
        return signbit(v) ? format_copy_out("-0.0", 4, buf, size)
                          : format_copy_out("0.0", 3, buf, size);

    char d[FORMAT_U64_MAX];
    int exp10 = 0;
    int nd = format_shortest(fabs(v), d, &exp10);
    int kk = exp10 + 1; /* 10^(kk-1) <= |v| < 10^kk */
    int k = kk - nd;    /* |v| = d x 10^k */

    char out[FORMAT_F64_POINT_MAX];
    size_t n = 0;
    if (v < 0)
        out[n++] = '-';
    if (k >= 0 && kk <= max_kk) {
        memcpy(out + n, d, (size_t)nd);
        n += (size_t)nd;
        memset(out + n, '0', (size_t)k);
        n += (size_t)k;
        memcpy(out + n, ".0", 2);
        n += 2;
    } else if (kk > 0 && kk <= max_kk) {
        memcpy(out + n, d, (size_t)kk);
        n += (size_t)kk;
        out[n++] = '.';
        memcpy(out + n, d + kk, (size_t)(nd - kk));
        n += (size_t)(nd - kk);
    } else if (kk > min_kk && kk <= 0) {
        out[n++] = '0';
        out[n++] = '.';
        memset(out + n, '0', (size_t)-kk);
        n += (size_t)-kk;
        memcpy(out + n, d, (size_t)nd);
        n += (size_t)nd;
    } else {
        out[n++] = d[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, d + 1, (size_t)(nd - 1));
            n += (size_t)(nd - 1);
        }
        out[n++] = 'e';
        int e = kk - 1;
        if (e < 0) {
            out[n++] = '-';
            e = -e;
        }
        char digits[8];
        size_t ne = 0;
        do {
            digits[ne++] = (char)('0' + e % 10);
            e /= 10;
        } while (e > 0);
        while (ne > 0)
            out[n++] = digits[--ne];
    }
    return format_copy_out(out, n, buf, size);
}

size_t format_f64_json(double v, char *buf, size_t size)
{
    if (!isfinite(v))
        return format_copy_out("null", 4, buf, size);
    return format_f64_point(v, /* max_kk= */ 16, /* min_kk= */ -5, buf, size);
}

size_t format_f64_dtoa(double v, char *buf, size_t size)
{
    if (isnan(v))
        return format_copy_out("NaN", 3, buf, size);
    if (isinf(v))
        return format_copy_out(v > 0 ? "+Inf" : "-Inf", 4, buf, size);
    return format_f64_point(v, /* max_kk= */ 21, /* min_kk= */ -6, buf, size);
}

/* ---- RFC 3339 ---- */

/* Civil date (proleptic Gregorian) of a day count since 1970-01-01, after
 * Howard Hinnant's days_from_civil inverse ("civil_from_days"). */
static void format_civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                      /* [0, 11], from March */
    unsigned d = doy - (153 * mp + 2) / 5 + 1;              /* [1, 31] */
    unsigned m = mp < 10 ? mp + 3 : mp - 9;                 /* [1, 12] */

    *ret_y = y + (m <= 2);
    *ret_m = m;
    *ret_d = d;
}

size_t format_rfc3339(int64_t ns_since_epoch, char *buf, size_t size)
{
    char out[FORMAT_RFC3339_MAX];
    const int64_t ns_per_s = 1000000000;

    /* floor division: -1 ns is 1969-12-31T23:59:59.999999999Z */
    int64_t secs = ns_since_epoch / ns_per_s;
    int64_t nsec = ns_since_epoch % ns_per_s;
    if (nsec < 0) {
        nsec += ns_per_s;
        secs--;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }

    int64_t year;
    unsigned month, day;
    format_civil_from_days(days, &year, &month, &day);

    /* int64 nanoseconds span the years 1677 to 2262: always 4 digits */
    char *p = out;
    format_fixed_digits(p, (uint64_t)year, 4);
    p += 4;
    *p++ = '-';
    memcpy(p, format_digit_pairs + month * 2, 2);
    p += 2;
    *p++ = '-';
    memcpy(p, format_digit_pairs + day * 2, 2);
    p += 2;
    *p++ = 'T';
    memcpy(p, format_digit_pairs + (sod / 3600) * 2, 2);
    p += 2;
    *p++ = ':';
    memcpy(p, format_digit_pairs + (sod / 60 % 60) * 2, 2);
    p += 2;
    *p++ = ':';
    memcpy(p, format_digit_pairs + (sod % 60) * 2, 2);
    p += 2;
    if (nsec != 0) {
        int width = 9;
        while (nsec % 10 == 0) {
            nsec /= 10;
            width--;
        }
        *p++ = '.';
        format_fixed_digits(p, (uint64_t)nsec, width);
        p += width;
    }
    *p++ = 'Z';
    return format_copy_out(out, (size_t)(p - out), buf, size);
}
