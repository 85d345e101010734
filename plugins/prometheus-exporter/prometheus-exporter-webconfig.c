/* SPDX-License-Identifier: MIT */
/* The option web_config_file of prometheus-exporter: a web configuration
 * file of the Prometheus exporter-toolkit (TLS and basic authentication of
 * the endpoint, https://github.com/prometheus/exporter-toolkit,
 * docs/web-configuration.md), parsed with libyaml, and the check of the
 * credentials of a scrape (bcrypt with libxcrypt's crypt_rn, whose successes
 * are cached: a bcrypt check costs tens of milliseconds). */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "prometheus-exporter.h"

/* The largest file read (a web configuration, a PEM file). */
#define PROMETHEUS_WEBCONFIG_MAX_FILE (1024 * 1024)

/* How one load goes: the file, for the messages, and its folder, which
 * relative paths start from (as the exporter-toolkit). */
struct webconfig_load {
    const char *path;
    char *dir;
    yaml_document_t doc;
    struct alumet_error *err;
    struct prometheus_webfiles *files; /* the files read, NULL: not noted */
};

static int webconfig_error(struct webconfig_load *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "web_config_file '<path>', line N: <what>" */
static int webconfig_error(struct webconfig_load *l, const yaml_node_t *n, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (n)
        return alumet_error_set(l->err, -EINVAL, "web_config_file '%s', line %zu: %s", l->path,
                                n->start_mark.line + 1, what);
    return alumet_error_set(l->err, -EINVAL, "web_config_file '%s': %s", l->path, what);
}

void prometheus_file_stamp_of(int fd, const char *path, struct prometheus_file_stamp *st)
{
    struct stat sb;
    *st = (struct prometheus_file_stamp){0};
    if ((fd >= 0 ? fstat(fd, &sb) : stat(path, &sb)) < 0) {
        st->err = errno;
        return;
    }
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->size = sb.st_size;
    st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

/* Note path and its stamp (taken before it is read: a write during the read
 * changes the file's stamp again) in l->files. */
static void webconfig_note(struct webconfig_load *l, const char *path,
                           const struct prometheus_file_stamp *st)
{
    struct prometheus_webfiles *f = l->files;
    if (!f || f->n == PROMETHEUS_WEBCONFIG_FILES)
        return;
    f->path[f->n] = strdup(path);
    if (!f->path[f->n])
        return; /* the file is not watched: a reload waits for another change */
    f->stamp[f->n++] = *st;
}

/* Read a whole file (at most PROMETHEUS_WEBCONFIG_MAX_FILE bytes) into a new
 * NUL-terminated string, noted in l->files (l: NULL, not noted). 0 or a
 * negative errno (-EFBIG: too large). */
static int webconfig_read_file(struct webconfig_load *l, const char *path, char **ret)
{
    struct prometheus_file_stamp st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    prometheus_file_stamp_of(fd, path, &st);
    webconfig_note(l, path, &st);
    if (fd < 0)
        return -errno;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    int r = buf ? 0 : -ENOMEM;
    while (r == 0) {
        if (len + 1 == cap) {
            char *b = cap > PROMETHEUS_WEBCONFIG_MAX_FILE ? NULL : realloc(buf, cap * 2);
            if (!b) {
                r = cap > PROMETHEUS_WEBCONFIG_MAX_FILE ? -EFBIG : -ENOMEM;
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno != EINTR)
            r = -errno;
        else if (n == 0)
            break;
        else if (n > 0)
            len += (size_t)n;
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[len] = '\0';
    *ret = buf;
    return 0;
}

static const char *webconfig_scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* The scalar value of n, or an error naming key. */
static int webconfig_get_scalar(struct webconfig_load *l, const yaml_node_t *n, const char *key,
                                const char **ret)
{
    if (n->type != YAML_SCALAR_NODE)
        return webconfig_error(l, n, "'%s': expected a string, got a %s", key,
                               n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    *ret = webconfig_scalar(n);
    return 0;
}

/* The PEM text of a file option (key_file: "cert_file"...), its path
 * relative to the folder of the web configuration file. */
static int webconfig_load_pem(struct webconfig_load *l, const yaml_node_t *n, const char *key,
                              char **ret, char **ret_path)
{
    const char *v = NULL;
    char *path = NULL;
    int r = webconfig_get_scalar(l, n, key, &v);
    if (r < 0)
        return r;
    if (!*v)
        return webconfig_error(l, n, "'%s' is empty: expected the path of a PEM file", key);
    if (v[0] == '/')
        path = strdup(v);
    else if (asprintf(&path, "%s/%s", l->dir, v) < 0)
        path = NULL;
    if (!path)
        return alumet_error_set(l->err, -ENOMEM, "out of memory");
    r = webconfig_read_file(l, path, ret);
    if (r < 0)
        r = webconfig_error(l, n,
                            "'%s': cannot read '%s': %s; expected a PEM file that the agent's user "
                            "can read (a relative path starts from the folder of this file)",
                            key, path, strerror(-r));
    else if (!strstr(*ret, "-----BEGIN ")) {
        r = webconfig_error(l, n, "'%s': '%s' is not a PEM file (no \"-----BEGIN\" line)", key,
                            path);
        free(*ret);
        *ret = NULL;
    }
    if (r == 0)
        *ret_path = path;
    else
        free(path);
    return r;
}

/* An inline PEM option (cert, key, client_ca). */
static int webconfig_inline_pem(struct webconfig_load *l, const yaml_node_t *n, const char *key,
                                char **ret)
{
    const char *v = NULL;
    int r = webconfig_get_scalar(l, n, key, &v);
    if (r < 0)
        return r;
    if (!strstr(v, "-----BEGIN "))
        return webconfig_error(l, n, "'%s': expected PEM text (a \"-----BEGIN\" line)", key);
    *ret = strdup(v);
    return *ret ? 0 : alumet_error_set(l->err, -ENOMEM, "out of memory");
}

/* "TLS10".."TLS13" as 0..3, -1 when unknown. */
static int webconfig_tls_version(const char *v)
{
    static const char *const names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
    for (int i = 0; i < 4; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return -1;
}

static int webconfig_version_opt(struct webconfig_load *l, const yaml_node_t *n, const char *key,
                                 int *ret)
{
    const char *v = NULL;
    int r = webconfig_get_scalar(l, n, key, &v);
    if (r < 0)
        return r;
    *ret = webconfig_tls_version(v);
    if (*ret < 0)
        return webconfig_error(l, n,
                               "'%s': expected \"TLS10\", \"TLS11\", \"TLS12\" or \"TLS13\", got "
                               "\"%s\"",
                               key, v);
    return 0;
}

/* tls_server_config: the mapping n. */
static int webconfig_tls(struct webconfig_load *l, const yaml_node_t *n,
                         struct prometheus_webconfig *wc)
{
    int min_version = 2, max_version = 3; /* TLS12, TLS13: the toolkit's defaults */
    const yaml_node_t *auth_node = NULL;
    const char *auth = "NoClientCert";
    int r = 0;

    if (n->type != YAML_MAPPING_NODE)
        return webconfig_error(l, n,
                               "'tls_server_config': expected a mapping (cert_file, "
                               "key_file...)");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; r == 0 && p < n->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);
        const char *key = k->type == YAML_SCALAR_NODE ? webconfig_scalar(k) : "";
        char **slot = NULL, **path_slot = NULL;
        bool file = false;
        if (strcmp(key, "cert_file") == 0 || strcmp(key, "cert") == 0)
            slot = &wc->cert, path_slot = &wc->cert_file, file = key[4] == '_';
        else if (strcmp(key, "key_file") == 0 || strcmp(key, "key") == 0)
            slot = &wc->key, path_slot = &wc->key_file, file = key[3] == '_';
        else if (strcmp(key, "client_ca_file") == 0 || strcmp(key, "client_ca") == 0)
            slot = &wc->client_ca, path_slot = &wc->client_ca_file, file = key[9] == '_';
        if (slot) {
            if (*slot)
                return webconfig_error(l, k, "'%s': given twice (as a file and inline?): keep one",
                                       key);
            r = file ? webconfig_load_pem(l, v, key, slot, path_slot)
                     : webconfig_inline_pem(l, v, key, slot);
        } else if (strcmp(key, "client_auth_type") == 0) {
            auth_node = v;
            r = webconfig_get_scalar(l, v, key, &auth);
        } else if (strcmp(key, "min_version") == 0) {
            r = webconfig_version_opt(l, v, key, &min_version);
        } else if (strcmp(key, "max_version") == 0) {
            r = webconfig_version_opt(l, v, key, &max_version);
        } else if (strcmp(key, "prefer_server_cipher_suites") == 0) {
            /* GnuTLS's choice of suites: nothing to set */
        } else if (strcmp(key, "cipher_suites") == 0 || strcmp(key, "curve_preferences") == 0 ||
                   strcmp(key, "client_allowed_sans") == 0) {
            return webconfig_error(l, k,
                                   "'%s' is not supported by alumet's exporter (GnuTLS chooses "
                                   "the suites and curves; every client certificate signed by "
                                   "client_ca_file is accepted): remove it",
                                   key);
        } else {
            return webconfig_error(l, k,
                                   "unknown option '%s' of tls_server_config; expected cert_file, "
                                   "key_file, client_ca_file, client_auth_type, min_version or "
                                   "max_version",
                                   key);
        }
    }
    if (r < 0)
        return r;
    if (!wc->cert || !wc->key)
        return webconfig_error(l, n, "tls_server_config needs %s: add it (a PEM file)",
                               !wc->cert ? "cert_file" : "key_file");
    if (min_version > max_version)
        return webconfig_error(l, n, "min_version is above max_version: lower min_version");
    if (strcmp(auth, "NoClientCert") == 0)
        wc->client_auth = PROMETHEUS_CLIENT_AUTH_NONE;
    else if (strcmp(auth, "VerifyClientCertIfGiven") == 0)
        wc->client_auth = PROMETHEUS_CLIENT_AUTH_VERIFY_IF_GIVEN;
    else if (strcmp(auth, "RequireAndVerifyClientCert") == 0)
        wc->client_auth = PROMETHEUS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    else if (strcmp(auth, "RequestClientCert") == 0 || strcmp(auth, "RequireAnyClientCert") == 0)
        return webconfig_error(l, auth_node,
                               "client_auth_type \"%s\" accepts certificates that nobody "
                               "verifies and is not supported: use RequireAndVerifyClientCert "
                               "with client_ca_file",
                               auth);
    else
        return webconfig_error(l, auth_node,
                               "client_auth_type: expected NoClientCert, VerifyClientCertIfGiven "
                               "or RequireAndVerifyClientCert, got \"%s\"",
                               auth);
    if (wc->client_auth != PROMETHEUS_CLIENT_AUTH_NONE && !wc->client_ca)
        return webconfig_error(l, auth_node,
                               "client_auth_type \"%s\" needs client_ca_file, the CA that signs "
                               "the client certificates: add it",
                               auth);
    if (wc->client_auth == PROMETHEUS_CLIENT_AUTH_NONE && wc->client_ca)
        return webconfig_error(l, n,
                               "client_ca_file is set but client_auth_type is NoClientCert: set "
                               "client_auth_type: RequireAndVerifyClientCert to check the "
                               "clients' certificates");

    /* GnuTLS priorities: the default set, only the versions in range */
    static const char *const vers[] = {"+VERS-TLS1.0", "+VERS-TLS1.1", "+VERS-TLS1.2",
                                       "+VERS-TLS1.3"};
    char prio[160] = "NORMAL:-VERS-ALL";
    for (int v = max_version; v >= min_version; v--) {
        strcat(prio, ":");
        strcat(prio, vers[v]);
    }
    wc->priorities = strdup(prio);
    return wc->priorities ? 0 : alumet_error_set(l->err, -ENOMEM, "out of memory");
}

/* A bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost, '$', 53 characters. */
static bool webconfig_is_bcrypt(const char *h)
{
    if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$' ||
        h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$')
        return false;
    for (const char *p = h + 7; *p; p++)
        if (!strchr("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", *p))
            return false;
    return true;
}

/* basic_auth_users: the mapping n. */
static int webconfig_users(struct webconfig_load *l, const yaml_node_t *n,
                           struct prometheus_webconfig *wc)
{
    if (n->type == YAML_SCALAR_NODE && !*webconfig_scalar(n))
        return 0; /* "basic_auth_users:" with nothing: none */
    if (n->type != YAML_MAPPING_NODE)
        return webconfig_error(l, n,
                               "'basic_auth_users': expected a mapping of user names to "
                               "bcrypt hashes");
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    wc->users = calloc(count ? count : 1, sizeof(*wc->users));
    if (!wc->users)
        return alumet_error_set(l->err, -ENOMEM, "out of memory");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);
        const char *user = NULL, *hash = NULL;
        int r = webconfig_get_scalar(l, k, "basic_auth_users", &user);
        if (r == 0)
            r = webconfig_get_scalar(l, v, user, &hash);
        if (r < 0)
            return r;
        if (!*user || strchr(user, ':'))
            return webconfig_error(l, k, "user name '%s': expected a non-empty name without ':'",
                                   user);
        if (!webconfig_is_bcrypt(hash))
            return webconfig_error(l, v,
                                   "the password of user '%s' is not a bcrypt hash: expected "
                                   "\"$2y$10$\" and 53 characters, such as `htpasswd -nBC 10 \"\" "
                                   "| tr -d ':\\n'` prints (quote it in YAML)",
                                   user);
        for (size_t i = 0; i < wc->n_users; i++)
            if (strcmp(wc->users[i].name, user) == 0)
                return webconfig_error(l, k, "user '%s' is listed twice: keep one", user);
        struct prometheus_user *u = &wc->users[wc->n_users];
        u->name = strdup(user);
        u->hash = strdup(hash);
        if (!u->name || !u->hash) {
            free(u->name);
            free(u->hash);
            return alumet_error_set(l->err, -ENOMEM, "out of memory");
        }
        wc->n_users++;
    }
    return 0;
}

/* http_server_config: headers are added to every response; http2 is
 * accepted (the endpoint speaks HTTP/1.1). */
static int webconfig_http(struct webconfig_load *l, const yaml_node_t *n,
                          struct prometheus_webconfig *wc)
{
    if (n->type != YAML_MAPPING_NODE)
        return webconfig_error(l, n, "'http_server_config': expected a mapping (headers, http2)");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);
        const char *key = k->type == YAML_SCALAR_NODE ? webconfig_scalar(k) : "";
        if (strcmp(key, "http2") == 0)
            continue;
        if (strcmp(key, "headers") != 0)
            return webconfig_error(l, k,
                                   "unknown option '%s' of http_server_config; expected headers "
                                   "or http2",
                                   key);
        if (v->type != YAML_MAPPING_NODE)
            return webconfig_error(l, v, "'headers': expected a mapping of names to values");
        size_t count = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
        wc->headers = calloc(2 * count + 1, sizeof(char *));
        if (!wc->headers)
            return alumet_error_set(l->err, -ENOMEM, "out of memory");
        for (yaml_node_pair_t *h = v->data.mapping.pairs.start; h < v->data.mapping.pairs.top;
             h++) {
            const yaml_node_t *hk = yaml_document_get_node(&l->doc, h->key);
            const yaml_node_t *hv = yaml_document_get_node(&l->doc, h->value);
            const char *name = NULL, *value = NULL;
            int r = webconfig_get_scalar(l, hk, "headers", &name);
            if (r == 0)
                r = webconfig_get_scalar(l, hv, name, &value);
            if (r < 0)
                return r;
            if (strpbrk(value, "\r\n") || !*name || strpbrk(name, " :\r\n"))
                return webconfig_error(l, hk, "header '%s': expected a name and a one-line value",
                                       name);
            size_t i = 2 * wc->n_headers;
            wc->headers[i] = strdup(name);
            wc->headers[i + 1] = strdup(value);
            wc->n_headers++;
            if (!wc->headers[i] || !wc->headers[i + 1])
                return alumet_error_set(l->err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int webconfig_root(struct webconfig_load *l, struct prometheus_webconfig *wc)
{
    const yaml_node_t *root = yaml_document_get_root_node(&l->doc);
    if (!root || (root->type == YAML_SCALAR_NODE && !*webconfig_scalar(root)))
        return 0; /* an empty file: no TLS, no authentication */
    if (root->type != YAML_MAPPING_NODE)
        return webconfig_error(l, root,
                               "expected a mapping (tls_server_config, basic_auth_users, "
                               "http_server_config)");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);
        const char *key = k->type == YAML_SCALAR_NODE ? webconfig_scalar(k) : "";
        int r;
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
            const yaml_node_t *kq = yaml_document_get_node(&l->doc, q->key);
            if (kq->type == YAML_SCALAR_NODE && strcmp(webconfig_scalar(kq), key) == 0)
                return webconfig_error(l, k, "'%s' is given twice (also on line %zu): keep one",
                                       key, kq->start_mark.line + 1);
        }
        if (strcmp(key, "tls_server_config") == 0)
            r = webconfig_tls(l, v, wc);
        else if (strcmp(key, "basic_auth_users") == 0)
            r = webconfig_users(l, v, wc);
        else if (strcmp(key, "http_server_config") == 0)
            r = webconfig_http(l, v, wc);
        else if (strcmp(key, "rate_limit") == 0)
            r = webconfig_error(l, k,
                                "'rate_limit' is not supported by alumet's exporter: "
                                "remove it (the endpoint serves at most 64 connections)");
        else
            r = webconfig_error(l, k,
                                "unknown option '%s'; expected tls_server_config, "
                                "basic_auth_users or http_server_config",
                                key);
        if (r < 0)
            return r;
    }
    return 0;
}

int prometheus_webconfig_load_files(const char *path, struct prometheus_webconfig *wc,
                                    struct prometheus_webfiles *files, struct alumet_error *err)
{
    struct webconfig_load l = {.path = path, .err = err, .files = files};
    yaml_parser_t parser;
    char *text = NULL, *copy = NULL;
    int r;

    *wc = (struct prometheus_webconfig){0};
    r = webconfig_read_file(&l, path, &text);
    if (r < 0)
        return alumet_error_set(err, r == -EFBIG ? -EINVAL : r,
                                "cannot read the web_config_file '%s': %s; check the option "
                                "web_config_file and the permissions of the agent's user",
                                path, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
    copy = strdup(path);
    l.dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    if (!l.dir || !yaml_parser_initialize(&parser)) {
        free(text);
        free(l.dir);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &l.doc)) {
        r = alumet_error_set(err, -EINVAL, "web_config_file '%s', line %zu: %s%s%s; fix the YAML",
                             path, parser.problem_mark.line + 1,
                             parser.problem ? parser.problem : "invalid YAML",
                             parser.context ? " " : "", parser.context ? parser.context : "");
    } else {
        r = webconfig_root(&l, wc);
        yaml_document_delete(&l.doc);
    }
    yaml_parser_delete(&parser);
    explicit_bzero(text, strlen(text));
    free(text);
    free(l.dir);
    if (r < 0)
        prometheus_webconfig_done(wc);
    return r;
}

int prometheus_webconfig_load(const char *path, struct prometheus_webconfig *wc,
                              struct alumet_error *err)
{
    return prometheus_webconfig_load_files(path, wc, NULL, err);
}

void prometheus_webfiles_done(struct prometheus_webfiles *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->path[i]);
    *f = (struct prometheus_webfiles){0};
}

static void webconfig_free_secret(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void prometheus_webconfig_done(struct prometheus_webconfig *wc)
{
    free(wc->cert);
    webconfig_free_secret(wc->key);
    free(wc->client_ca);
    free(wc->cert_file);
    free(wc->key_file);
    free(wc->client_ca_file);
    free(wc->priorities);
    for (size_t i = 0; i < wc->n_users; i++) {
        free(wc->users[i].name);
        free(wc->users[i].hash);
    }
    free(wc->users);
    for (size_t i = 0; wc->headers && i < 2 * wc->n_headers; i++)
        free(wc->headers[i]);
    free(wc->headers);
    *wc = (struct prometheus_webconfig){0};
}

/* ---- credentials ---- */

/* Compare two strings in a time that depends on their length only. */
static bool webconfig_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

bool prometheus_webconfig_check(struct prometheus_webconfig_cache *cache,
                                const struct prometheus_webconfig *wc, const char *user,
                                const char *password)
{
    const struct prometheus_user *u = NULL;
    uint8_t key[PROMETHEUS_CREDENTIAL_DIGEST];
    bool ok = false;

    for (size_t i = 0; i < wc->n_users && !u; i++)
        if (strcmp(wc->users[i].name, user) == 0)
            u = &wc->users[i];

    /* the key: SHA-256 of user, NUL, password (a cache belongs to one version
     * of the file: its hashes never change) */
    gnutls_hash_hd_t h;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        return false;
    gnutls_hash(h, user, strlen(user) + 1);
    gnutls_hash(h, password, strlen(password));
    gnutls_hash_deinit(h, key);
    if (u) {
        pthread_mutex_lock(&cache->lock);
        for (size_t i = 0; i < cache->n && !ok; i++)
            ok = memcmp(cache->keys[i], key, sizeof(key)) == 0;
        pthread_mutex_unlock(&cache->lock);
        if (ok)
            return true;
    }

    /* an unknown user costs a bcrypt check too, so that the time of a
     * refusal does not tell which users exist */
    const char *hash = u ? u->hash : wc->n_users ? wc->users[0].hash : NULL;
    struct crypt_data *cd = hash ? calloc(1, sizeof(*cd)) : NULL;
    if (!cd)
        return false;
    /* crypt_rn (libxcrypt): NULL on failure, and not crypt_r, which the
     * sanitizers intercept with glibc's larger struct crypt_data */
    const char *out = crypt_rn(password, hash, cd, (int)sizeof(*cd));
    ok = u && out && out[0] != '*' && webconfig_equal(out, hash);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    if (ok) {
        pthread_mutex_lock(&cache->lock);
        memcpy(cache->keys[cache->next], key, sizeof(key));
        cache->next = (cache->next + 1) % PROMETHEUS_CREDENTIAL_CACHE;
        if (cache->n < PROMETHEUS_CREDENTIAL_CACHE)
            cache->n++;
        pthread_mutex_unlock(&cache->lock);
    }
    return ok;
}
