/* SPDX-License-Identifier: MIT */
/* TCP (optionally TLS) connections of the relay and the frame I/O: a frame
 * is a 4-byte big-endian length and a body of at most RELAY_MAX_BODY bytes.
 * Errors are negative errnos with a message in err. No logging. */
#ifndef ALUMET_RELAY_NET_H
#define ALUMET_RELAY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/error.h"
#include "alumet/time.h"
#include "postcard.h"

struct alumet_config;
struct ssl_ctx_st;
struct ssl_st;

/* TLS options (all NULL/false: plain TCP). Paths are borrowed. */
struct relay_tls_opts {
    bool enabled;
    const char *cert, *key, *ca;
    bool require_client_cert; /* server only */
    const char *server_name;  /* client only: name checked in the server's certificate */
};

struct relay_conn {
    int fd;
    struct ssl_st *ssl;
    char peer[80]; /* "addr:port" for messages */
};

#define RELAY_CONN_INIT                                                                            \
    {                                                                                              \
        -1, NULL, ""                                                                               \
    }

/* The string option key (default def) of cfg, copied into *ret; *ret stays
 * NULL when the value is empty. */
int relay_opt(struct alumet_config *cfg, const char *key, const char *def, char **ret,
              struct alumet_error *err);

/* Split "host:port", "[v6]:port" into host (brackets removed) and port.
 * -EINVAL with err naming the address. */
int relay_net_split(const char *addr, char *host, size_t host_size, char *port, size_t port_size,
                    struct alumet_error *err);

/* A TLS context for a client or server; NULL opts->enabled -> *ret NULL. */
int relay_tls_ctx_new(const struct relay_tls_opts *opts, bool server, struct ssl_ctx_st **ret,
                      struct alumet_error *err);
void relay_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Connect to addr (tries each resolved address, timeout per attempt), then
 * the TLS handshake when tls is not NULL. */
int relay_net_connect(const char *addr, alumet_time_ns timeout, struct ssl_ctx_st *tls,
                      const char *server_name, struct relay_conn *ret, struct alumet_error *err);
/* Listen on addr (the first resolved address that binds). Returns the fd. */
int relay_net_listen(const char *addr, struct alumet_error *err);
/* Wrap an accepted fd (takes it), TLS handshake when tls is not NULL. */
int relay_net_accept(int fd, struct ssl_ctx_st *tls, alumet_time_ns timeout, struct relay_conn *ret,
                     struct alumet_error *err);
void relay_conn_close(struct relay_conn *c);

int relay_conn_write(struct relay_conn *c, const void *data, size_t len, struct alumet_error *err);

/* Wait until c has data, stop_fd (>= 0) is readable, or timeout (< 0: none).
 * 1: data, 0: timeout, -ECANCELED: stop. */
int relay_conn_wait(struct relay_conn *c, int stop_fd, alumet_time_ns timeout);

/* Read one frame's body into body (cleared first). 1: a frame; 0: clean end
 * of stream before a header; -EPROTO: end inside a header or a body (with
 * what was expected), -EMSGSIZE: body too long; other errnos from the
 * socket or TLS. Blocks until the whole frame has come. */
int relay_conn_read_frame(struct relay_conn *c, struct pc_writer *body, struct alumet_error *err);

#endif
