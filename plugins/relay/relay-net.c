/* SPDX-License-Identifier: MIT */
/* TCP/TLS connections and frame I/O of the relay: see relay-net.h. */
#include "relay-net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "alumet/config.h"
#include "relay-proto.h"

int relay_opt(struct alumet_config *cfg, const char *key, const char *def, char **ret,
              struct alumet_error *err)
{
    const char *v;
    int r = alumet_config_get_string(cfg, key, def, &v, err);
    if (r < 0)
        return r;
    if (*v && !(*ret = strdup(v)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

int relay_net_split(const char *addr, char *host, size_t host_size, char *port, size_t port_size,
                    struct alumet_error *err)
{
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t hlen = colon ? (size_t)(colon - addr) : 0;
    if (colon && addr[0] == '[') {
        if (hlen < 2 || addr[hlen - 1] != ']')
            colon = NULL;
        h = addr + 1;
        hlen -= 2;
    } else if (colon && memchr(addr, ':', hlen)) {
        colon = NULL; /* a bare IPv6 address needs brackets */
    }
    const char *p = colon ? colon + 1 : "";
    bool port_ok = *p && strlen(p) <= 5 && strspn(p, "0123456789") == strlen(p);
    if (!colon || !hlen || !port_ok || hlen >= host_size || strlen(p) >= port_size ||
        atoi(p) > 65535)
        return alumet_error_set(err, -EINVAL,
                                "invalid socket address: %s (expected host:port, such as "
                                "\"localhost:50051\" or \"[::1]:50051\")",
                                addr);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, port_size, "%s", p);
    return 0;
}

static int relay_resolve(const char *addr, bool passive, struct addrinfo **ret,
                         struct alumet_error *err)
{
    char host[256], port[8];
    int r = relay_net_split(addr, host, sizeof(host), port, sizeof(port), err);
    if (r < 0)
        return r;
    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int g = getaddrinfo(host, port, &hints, ret);
    if (g != 0)
        return alumet_error_set(err, -EHOSTUNREACH, "invalid socket address: %s (%s)", addr,
                                gai_strerror(g));
    return 0;
}

static void relay_peer_text(const struct sockaddr *sa, char *buf, size_t size)
{
    char h[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, h, sizeof(h));
        port = ntohs(in->sin_port);
        snprintf(buf, size, "%s:%u", h, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, h, sizeof(h));
        port = ntohs(in6->sin6_port);
        snprintf(buf, size, "[%s]:%u", h, port);
    } else {
        snprintf(buf, size, "?");
    }
}

/* The OpenSSL error queue as text (emptied). */
static const char *relay_tls_error(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    if (!e)
        return "no details";
    ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

int relay_tls_ctx_new(const struct relay_tls_opts *opts, bool server, struct ssl_ctx_st **ret,
                      struct alumet_error *err)
{
    char why[256];
    *ret = NULL;
    if (!opts->enabled)
        return 0;
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return alumet_error_set(err, -ENOMEM, "cannot create a TLS context: %s",
                                relay_tls_error(why, sizeof(why)));
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (opts->cert && SSL_CTX_use_certificate_chain_file(ctx, opts->cert) != 1) {
        alumet_error_set(err, -EINVAL, "cannot load the TLS certificate '%s': %s", opts->cert,
                         relay_tls_error(why, sizeof(why)));
        goto err_free;
    }
    if (opts->key && SSL_CTX_use_PrivateKey_file(ctx, opts->key, SSL_FILETYPE_PEM) != 1) {
        alumet_error_set(err, -EINVAL, "cannot load the TLS key '%s': %s", opts->key,
                         relay_tls_error(why, sizeof(why)));
        goto err_free;
    }
    if (opts->cert && opts->key && SSL_CTX_check_private_key(ctx) != 1) {
        alumet_error_set(err, -EINVAL, "the TLS key '%s' does not match the certificate '%s'",
                         opts->key, opts->cert);
        goto err_free;
    }
    if (opts->ca && SSL_CTX_load_verify_locations(ctx, opts->ca, NULL) != 1) {
        alumet_error_set(err, -EINVAL, "cannot load the TLS CA '%s': %s", opts->ca,
                         relay_tls_error(why, sizeof(why)));
        goto err_free;
    }
    if (!opts->ca && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        alumet_error_set(err, -EINVAL, "cannot load the system's TLS CAs: %s",
                         relay_tls_error(why, sizeof(why)));
        goto err_free;
    }
    if (server)
        SSL_CTX_set_verify(ctx,
                           opts->require_client_cert
                               ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                               : SSL_VERIFY_NONE,
                           NULL);
    else
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    *ret = ctx;
    return 0;

err_free:
    SSL_CTX_free(ctx);
    return err ? err->code : -EINVAL;
}

void relay_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

/* Wait for fd to be ready for ev until deadline (monotonic ns). */
static int relay_wait_fd(int fd, short ev, alumet_time_ns deadline)
{
    for (;;) {
        alumet_time_ns left = deadline - alumet_time_monotonic();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {fd, ev, 0};
        int n = poll(&p, 1, (int)(left / ALUMET_NSEC_PER_MSEC) + 1);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int relay_tls_handshake(struct relay_conn *c, SSL_CTX *tls, bool server,
                               const char *server_name, alumet_time_ns timeout,
                               struct alumet_error *err)
{
    char why[256];
    c->ssl = SSL_new(tls);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if (!server && server_name && *server_name) {
        SSL_set_tlsext_host_name(c->ssl, server_name);
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        if (inet_pton(AF_INET, server_name, why) == 1 || inet_pton(AF_INET6, server_name, why) == 1)
            X509_VERIFY_PARAM_set1_ip_asc(param, server_name);
        else
            X509_VERIFY_PARAM_set1_host(param, server_name, 0);
    }
    /* the socket is non-blocking during the handshake, for the timeout */
    int fl = fcntl(c->fd, F_GETFL);
    fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
    alumet_time_ns deadline = alumet_time_monotonic() + timeout;
    int r = 0;
    for (;;) {
        int h = server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
        if (h == 1)
            break;
        int e = SSL_get_error(c->ssl, h);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            r = relay_wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (r < 0) {
                alumet_error_set(err, r, "TLS handshake with %s: %s", c->peer, strerror(-r));
                break;
            }
            continue;
        }
        long v = SSL_get_verify_result(c->ssl);
        if (v != X509_V_OK)
            r = alumet_error_set(err, -EACCES, "TLS handshake with %s failed: certificate: %s",
                                 c->peer, X509_verify_cert_error_string(v));
        else
            r = alumet_error_set(err, -EPROTO, "TLS handshake with %s failed: %s", c->peer,
                                 relay_tls_error(why, sizeof(why)));
        break;
    }
    fcntl(c->fd, F_SETFL, fl);
    return r;
}

/* A send or receive that makes no progress for this long fails with
 * -ETIMEDOUT (a peer that stopped reading, or stalled inside a message):
 * without it a stalled peer would hold the thread until TCP gives up, many
 * minutes later. */
#define RELAY_IO_STALL_S 10

static void relay_set_stall_timeouts(int fd)
{
    struct timeval tv = {RELAY_IO_STALL_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* The error of a send or receive that timed out (SO_SNDTIMEO/SO_RCVTIMEO);
 * a TLS connection is then closed without its close_notify, which could
 * wait as long again. */
static int relay_stalled(struct relay_conn *c, bool sending, struct alumet_error *err)
{
    if (c->ssl)
        SSL_set_quiet_shutdown(c->ssl, 1);
    return alumet_error_set(err, -ETIMEDOUT,
                            sending ? "%s took no data for %d s (it stopped reading)"
                                    : "%s sent part of a message, then nothing for %d s",
                            c->peer, RELAY_IO_STALL_S);
}

int relay_net_connect(const char *addr, alumet_time_ns timeout, struct ssl_ctx_st *tls,
                      const char *server_name, struct relay_conn *ret, struct alumet_error *err)
{
    struct addrinfo *ai;
    int r = relay_resolve(addr, false, &ai, err);
    if (r < 0)
        return r;
    r = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            r = -errno;
            close(fd);
            continue;
        }
        r = relay_wait_fd(fd, POLLOUT, alumet_time_monotonic() + timeout);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
            r = -soerr;
        if (r < 0) {
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        relay_set_stall_timeouts(fd);
        ret->fd = fd;
        ret->ssl = NULL;
        snprintf(ret->peer, sizeof(ret->peer), "%s", addr);
        break;
    }
    freeaddrinfo(ai);
    if (r < 0)
        return alumet_error_set(err, r, "cannot connect to the relay server %s: %s", addr,
                                strerror(-r));
    if (tls) {
        r = relay_tls_handshake(ret, tls, false, server_name, timeout, err);
        if (r < 0)
            relay_conn_close(ret);
    }
    return r;
}

int relay_net_listen(const char *addr, struct alumet_error *err)
{
    struct addrinfo *ai;
    int r = relay_resolve(addr, true, &ai, err);
    if (r < 0)
        return r;
    int fd = -1;
    r = -EADDRNOTAVAIL;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (a->ai_family == AF_INET6) /* [::] also takes IPv4 clients, as upstream's tokio */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 128) < 0) {
            r = -errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return alumet_error_set(err, r, "cannot listen on %s: %s", addr, strerror(-r));
    return fd;
}

int relay_net_accept(int fd, struct ssl_ctx_st *tls, alumet_time_ns timeout, struct relay_conn *ret,
                     struct alumet_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    ret->fd = fd;
    ret->ssl = NULL;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        relay_peer_text((struct sockaddr *)&ss, ret->peer, sizeof(ret->peer));
    else
        snprintf(ret->peer, sizeof(ret->peer), "?");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    relay_set_stall_timeouts(fd);
    return tls ? relay_tls_handshake(ret, tls, true, NULL, timeout, err) : 0;
}

void relay_conn_close(struct relay_conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int relay_tls_io_error(struct relay_conn *c, int n, const char *what,
                              struct alumet_error *err)
{
    char why[256];
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_SYSCALL)
        return alumet_error_set(err, errno ? -errno : -ECONNRESET, "%s %s: %s", what, c->peer,
                                errno ? strerror(errno) : "connection reset");
    return alumet_error_set(err, -EPROTO, "%s %s: TLS error: %s", what, c->peer,
                            relay_tls_error(why, sizeof(why)));
}

int relay_conn_write(struct relay_conn *c, const void *data, size_t len, struct alumet_error *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            errno = 0;
            int k = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    return relay_stalled(c, true, err);
                int r = relay_tls_io_error(c, k, "cannot send to", err);
                return r ? r : alumet_error_set(err, -EPIPE, "%s closed the connection", c->peer);
            }
            n = k;
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return relay_stalled(c, true, err);
            if (n < 0) {
                int r = -errno;
                return alumet_error_set(err, r, "cannot send to %s: %s", c->peer, strerror(-r));
            }
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int relay_conn_wait(struct relay_conn *c, int stop_fd, alumet_time_ns timeout)
{
    if (c->ssl && SSL_pending(c->ssl) > 0)
        return 1;
    struct pollfd p[2] = {{c->fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int ms = timeout < 0 ? -1 : (int)(timeout / ALUMET_NSEC_PER_MSEC);
    for (;;) {
        int n = poll(p, stop_fd >= 0 ? 2 : 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        if (stop_fd >= 0 && p[1].revents)
            return -ECANCELED;
        return 1;
    }
}

/* Read exactly len bytes; returns the number read before the end of the
 * stream (< len) or a negative errno. */
static ssize_t relay_read_full(struct relay_conn *c, uint8_t *buf, size_t len,
                               struct alumet_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n;
        if (c->ssl) {
            errno = 0;
            int k =
                SSL_read(c->ssl, buf + got, len - got > INT32_MAX ? INT32_MAX : (int)(len - got));
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    return relay_stalled(c, false, err);
                int r = relay_tls_io_error(c, k, "cannot read from", err);
                if (r == 0 || r == -ECONNRESET)
                    return (ssize_t)got;
                return r;
            }
            n = k;
        } else {
            n = recv(c->fd, buf + got, len - got, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return relay_stalled(c, false, err);
            if (n < 0) {
                int r = -errno;
                if (r == -ECONNRESET)
                    return (ssize_t)got;
                return alumet_error_set(err, r, "cannot read from %s: %s", c->peer, strerror(-r));
            }
            if (n == 0)
                return (ssize_t)got;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int relay_conn_read_frame(struct relay_conn *c, struct pc_writer *body, struct alumet_error *err)
{
    uint8_t h[4];
    pc_writer_clear(body);
    ssize_t n = relay_read_full(c, h, 4, err);
    if (n < 0)
        return (int)n;
    if (n == 0)
        return 0;
    if (n < 4)
        return alumet_error_set(err, -EPROTO,
                                "%s closed the connection inside a message header (%zd of 4 bytes)",
                                c->peer, n);
    uint32_t len = relay_be32(h);
    if (len > RELAY_MAX_BODY)
        return alumet_error_set(err, -EMSGSIZE,
                                "message from %s too long: %u bytes (at most %u), closing", c->peer,
                                len, RELAY_MAX_BODY);
    uint8_t *d = pc_writer_reserve(body, len ? len : 1);
    if (!d)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    n = relay_read_full(c, d, len, err);
    if (n < 0)
        return (int)n;
    if ((size_t)n < len)
        return alumet_error_set(err, -EPROTO,
                                "%s closed the connection inside a message (%zd of %u bytes)",
                                c->peer, n, len);
    body->len = len;
    return 1;
}
