/* SPDX-License-Identifier: MIT */
/* The TCP text protocol of a Quarch module. A command goes out as one
 * frame: a byte with the length of the text, a zero byte, the text and
 * "\r\n". Answers come back in frames of the same shape, until the text ends
 * with the prompt "\r\n>":
 *
 *   -> [23][0] "Measure:OUTputs?\r\n"... (len 18)
 *   <- [n][0] "12V Voltage = 12000mV\r\n12V Current = 800000uA\r\n>"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "quarch.h"

static const struct {
    unsigned sample;
    alumet_time_ns window;
} quarch_windows[] = {
    {32, 130000},     {64, 250000},      {128, 500000},      {256, 1000000},
    {512, 2000000},   {1024, 4100000},   {2048, 8200000},    {4096, 16400000},
    {8192, 32800000}, {16384, 65500000}, {32768, 131000000},
};

unsigned quarch_averaging(alumet_time_ns poll_interval)
{
    for (size_t i = 0; i < sizeof(quarch_windows) / sizeof(quarch_windows[0]); i++)
        if (quarch_windows[i].window >= poll_interval)
            return quarch_windows[i].sample;
    return 32768;
}

void quarch_averaging_text(unsigned sample, char buf[16])
{
    if (sample >= 1024)
        snprintf(buf, 16, "%uK", sample / 1024);
    else
        snprintf(buf, 16, "%u", sample);
}

/* The number after the last '=' of line (digits and dots only). */
static double quarch_line_number(const char *line, size_t len)
{
    const char *eq = NULL;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '=')
            eq = line + i;
    if (!eq)
        return -1;
    char num[64];
    size_t n = 0;
    for (const char *p = eq + 1; p < line + len && n + 1 < sizeof(num); p++)
        if ((*p >= '0' && *p <= '9') || *p == '.')
            num[n++] = *p;
    num[n] = '\0';
    return n ? strtod(num, NULL) : -1;
}

int quarch_parse_power(const char *text, double *ret_watts, struct alumet_error *err)
{
    double volts[16], amps[16], watts = 0;
    size_t nv = 0, na = 0;

    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\r\n");
        const char *mv = memmem(line, len, "mV", 2);
        const char *ua = memmem(line, len, "uA", 2);
        double v = quarch_line_number(line, len);
        if (mv && v >= 0 && nv < 16)
            volts[nv++] = v / 1000.0;
        else if (ua && v >= 0 && na < 16)
            amps[na++] = v / 1e6;
        line += len;
        line += strspn(line, "\r\n");
    }
    if (nv == 0 || nv != na)
        return alumet_error_set(err, -EINVAL,
                                "unexpected answer to Measure:OUTputs? (%zu voltages in mV, %zu "
                                "currents in uA): '%s'",
                                nv, na, text);
    for (size_t i = 0; i < nv; i++)
        watts += volts[i] * amps[i];
    *ret_watts = watts;
    return 0;
}

int quarch_connect(struct quarch_conn *c, const char *ip, uint16_t port, alumet_time_ns timeout,
                   struct alumet_error *err)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

    if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        sl = sizeof(*in4);
    } else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        sl = sizeof(*in6);
    } else {
        return alumet_error_set(err, -EINVAL, "invalid IP address '%s'", ip);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return alumet_error_set(err, -errno, "socket: %s", strerror(errno));
    int r = connect(fd, (struct sockaddr *)&ss, sl) < 0 ? -errno : 0;
    if (r == -EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, (int)(timeout / ALUMET_NSEC_PER_MSEC));
        int so = 0;
        socklen_t l = sizeof(so);
        if (n == 0)
            r = -ETIMEDOUT;
        else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &l) < 0)
            r = -errno;
        else
            r = -so;
    }
    if (r < 0) {
        close(fd);
        return alumet_error_set(err, r, "cannot connect to the Quarch module at %s:%u: %s", ip,
                                port, strerror(-r));
    }
    /* blocking from now on, with time limits */
    struct timeval tv = {.tv_sec = 5};
    if (fcntl(fd, F_SETFL, 0) < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
        r = -errno;
        close(fd);
        return alumet_error_set(err, r, "socket options: %s", strerror(-r));
    }
    c->fd = fd;
    return 0;
}

void quarch_close(struct quarch_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int quarch_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k == 0)
            return -ECONNRESET;
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        got += (size_t)k;
    }
    return 0;
}

static bool quarch_ends_with_prompt(const struct quarch_conn *c)
{
    return c->len >= 3 && memcmp(c->buf + c->len - 3, "\r\n>", 3) == 0;
}

int quarch_command(struct quarch_conn *c, const char *cmd, const char **ret_text,
                   struct alumet_error *err)
{
    unsigned char frame[258];
    size_t n = strlen(cmd) + 2;
    int r;

    if (n > 255)
        return alumet_error_set(err, -EINVAL, "command too long: '%s'", cmd);
    frame[0] = (unsigned char)n;
    frame[1] = 0;
    memcpy(frame + 2, cmd, n - 2);
    memcpy(frame + n, "\r\n", 2);
    if (send(c->fd, frame, n + 2, MSG_NOSIGNAL) != (ssize_t)(n + 2))
        return alumet_error_set(err, -errno, "cannot send '%s' to the Quarch module: %s", cmd,
                                strerror(errno));
    c->len = 0;
    do {
        unsigned char head[2];
        r = quarch_read_full(c->fd, head, 2);
        if (r == 0 && c->len + head[0] + 1 > c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 1024;
            char *b = realloc(c->buf, cap + head[0] + 1);
            if (!b)
                return alumet_error_set(err, -ENOMEM, "out of memory");
            c->buf = b;
            c->cap = cap + head[0] + 1;
        }
        if (r == 0)
            r = quarch_read_full(c->fd, c->buf + c->len, head[0]);
        if (r < 0)
            return alumet_error_set(err, r, "no answer to '%s' from the Quarch module: %s", cmd,
                                    strerror(-r));
        c->len += head[0];
    } while (!quarch_ends_with_prompt(c));
    c->len -= 3;
    while (c->len > 0 && strchr(" \t\r\n", c->buf[c->len - 1]))
        c->len--;
    c->buf[c->len] = '\0';
    char *start = c->buf;
    while (*start && strchr(" \t\r\n", *start))
        start++;
    if (!*start)
        return alumet_error_set(err, -EPROTO, "empty answer to '%s' from the Quarch module", cmd);
    *ret_text = start;
    return 0;
}
