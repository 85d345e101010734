/* SPDX-License-Identifier: MIT */
/* quarch plugin, private: the TCP text protocol of a Quarch power analysis
 * module (quarch-device.c). */
#ifndef ALUMET_QUARCH_H
#define ALUMET_QUARCH_H

#include <stddef.h>
#include <stdint.h>

#include "alumet/error.h"
#include "alumet/time.h"

/* Averaging of a poll interval: the first number of samples whose window
 * (32: 130 µs ... 32768: 131 ms) covers it, else 32768. */
unsigned quarch_averaging(alumet_time_ns poll_interval);

/* The argument of RECord:AVEraging for sample: "32K" for 32768, "1K" for
 * 1024, "256" below 1024. buf holds 16 bytes. */
void quarch_averaging_text(unsigned sample, char buf[16]);

/* The power in watts of a Measure:OUTputs? answer: each line with "mV" is a
 * voltage, each with "uA" a current (the number after the last '='), and
 * the k-th voltage goes with the k-th current (one pair per rail):
 * Σ mV_k / 1000 × µA_k / 10⁶. -EINVAL with err when there is no pair or a
 * voltage without its current. */
int quarch_parse_power(const char *text, double *ret_watts, struct alumet_error *err);

/* A connection to the module. */
struct quarch_conn {
    int fd; /* -1: not connected */
    char *buf;
    size_t len, cap;
};

/* Connect to ip:port (IPv4 or IPv6 literal) within timeout; read and
 * write time limits of 5 s. 0 or a negative errno with err. */
int quarch_connect(struct quarch_conn *c, const char *ip, uint16_t port, alumet_time_ns timeout,
                   struct alumet_error *err);
void quarch_close(struct quarch_conn *c);

/* Send cmd ("RECord:RUN") framed as [len of cmd\r\n][0][cmd\r\n], read the
 * answer: frames [len][0][len bytes] until the text ends with "\r\n>",
 * which is removed, and the rest trimmed. *ret_text is borrowed from c until
 * the next command. 0 or a negative errno with err (an empty answer is
 * -EPROTO). */
int quarch_command(struct quarch_conn *c, const char *cmd, const char **ret_text,
                   struct alumet_error *err);

#endif
