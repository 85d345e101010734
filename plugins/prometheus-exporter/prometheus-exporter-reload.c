/* SPDX-License-Identifier: MIT */
/* The web configuration in use, reloaded when its files change: a loaded
 * version (struct prometheus_webstate: the parsed file and its GnuTLS
 * credentials and priorities) is shared by reference between the watch and
 * the connections that use it, and a change of the web configuration file
 * or of a PEM file it names (inode, size or modification time) loads a new
 * version, taken only when it is whole and valid. See README.md, "Changes
 * without restart". */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus-exporter.h"

struct prometheus_webstate {
    atomic_uint refs;
    struct prometheus_webconfig wc;
    gnutls_certificate_credentials_t cred; /* NULL: plain HTTP */
    gnutls_priority_t prio;
    /* the credentials that passed: one cache per version, so that a
     * password taken out of the file stops working at once */
    struct prometheus_webconfig_cache cache;
};

/* "cert_file '/path'" or "the inline cert" */
static const char *webstate_name(char *buf, size_t size, const char *key, const char *file)
{
    if (file)
        snprintf(buf, size, "%s_file '%s'", key, file);
    else
        snprintf(buf, size, "the inline %s", key);
    return buf;
}

/* The credentials of tls_server_config: the certificate chain, the key that
 * must match it, the client CAs. */
static int webstate_tls(struct prometheus_webstate *s, const char *path, struct alumet_error *err)
{
    const struct prometheus_webconfig *wc = &s->wc;
    gnutls_datum_t cert = {(unsigned char *)wc->cert, (unsigned)strlen(wc->cert)};
    gnutls_datum_t key = {(unsigned char *)wc->key, (unsigned)strlen(wc->key)};
    gnutls_x509_crt_t *crts = NULL;
    unsigned n_crts = 0;
    gnutls_x509_privkey_t pk = NULL;
    char name[600], name2[600];
    int r;

    if (gnutls_certificate_allocate_credentials(&s->cred) < 0 ||
        gnutls_x509_privkey_init(&pk) < 0) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    r = gnutls_x509_crt_list_import2(&crts, &n_crts, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (r < 0) {
        r = alumet_error_set(
            err, -EINVAL, "web_config_file '%s': %s is not a valid PEM certificate: %s", path,
            webstate_name(name, sizeof(name), "cert", wc->cert_file), gnutls_strerror(r));
        goto out;
    }
    r = gnutls_x509_privkey_import2(pk, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (r < 0) {
        r = alumet_error_set(err, -EINVAL,
                             "web_config_file '%s': %s is not a valid unencrypted PEM private "
                             "key: %s",
                             path, webstate_name(name, sizeof(name), "key", wc->key_file),
                             gnutls_strerror(r));
        goto out;
    }
    r = gnutls_certificate_set_x509_key(s->cred, crts, n_crts, pk);
    if (r < 0) {
        r = alumet_error_set(err, -EINVAL, "web_config_file '%s': %s and %s do not go together: %s",
                             path, webstate_name(name, sizeof(name), "cert", wc->cert_file),
                             webstate_name(name2, sizeof(name2), "key", wc->key_file),
                             gnutls_strerror(r));
        goto out;
    }
    if (wc->client_ca) {
        gnutls_datum_t ca = {(unsigned char *)wc->client_ca, (unsigned)strlen(wc->client_ca)};
        r = gnutls_certificate_set_x509_trust_mem(s->cred, &ca, GNUTLS_X509_FMT_PEM);
        if (r <= 0) {
            r = alumet_error_set(
                err, -EINVAL, "web_config_file '%s': %s holds no valid PEM certificate%s%s", path,
                webstate_name(name, sizeof(name), "client_ca", wc->client_ca_file),
                r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
            goto out;
        }
    }
    r = gnutls_priority_init(&s->prio, wc->priorities, NULL);
    if (r < 0)
        r = alumet_error_set(err, -EINVAL, "web_config_file '%s': TLS priorities '%s': %s", path,
                             wc->priorities, gnutls_strerror(r));
out:
    for (unsigned i = 0; i < n_crts; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    gnutls_x509_privkey_deinit(pk);
    return r < 0 ? r : 0;
}

int prometheus_webstate_load(const char *path, struct prometheus_webfiles *files,
                             struct prometheus_webstate **ret, struct alumet_error *err)
{
    struct prometheus_webstate *s = calloc(1, sizeof(*s));
    if (!s)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->cache.lock, NULL);
    int r = prometheus_webconfig_load_files(path, &s->wc, files, err);
    if (r == 0 && s->wc.cert)
        r = webstate_tls(s, path, err);
    if (r < 0) {
        prometheus_webstate_unref(s);
        return r;
    }
    *ret = s;
    return 0;
}

struct prometheus_webstate *prometheus_webstate_ref(struct prometheus_webstate *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void prometheus_webstate_unref(struct prometheus_webstate *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (s->prio)
        gnutls_priority_deinit(s->prio);
    if (s->cred)
        gnutls_certificate_free_credentials(s->cred);
    prometheus_webconfig_done(&s->wc);
    explicit_bzero(s->cache.keys, sizeof(s->cache.keys));
    pthread_mutex_destroy(&s->cache.lock);
    free(s);
}

const struct prometheus_webconfig *prometheus_webstate_config(const struct prometheus_webstate *s)
{
    return &s->wc;
}

struct prometheus_webconfig_cache *prometheus_webstate_cache(struct prometheus_webstate *s)
{
    return &s->cache;
}

void prometheus_webstate_apply(const struct prometheus_webstate *s, void *session)
{
    gnutls_session_t tls = session;
    if (!s->cred)
        return;
    gnutls_credentials_set(tls, GNUTLS_CRD_CERTIFICATE, s->cred);
    gnutls_priority_set(tls, s->prio);
    gnutls_certificate_server_set_request(tls, s->wc.client_auth == PROMETHEUS_CLIENT_AUTH_NONE
                                                   ? GNUTLS_CERT_IGNORE
                                                   : GNUTLS_CERT_REQUEST);
}

/* ---- the watch ---- */

void prometheus_webwatch_init(struct prometheus_webwatch *w, const char *path,
                              struct prometheus_webstate *s, struct prometheus_webfiles *files,
                              struct alumet_log_topic *topic)
{
    pthread_mutex_init(&w->lock, NULL);
    w->path = path;
    w->cur = s;
    w->files = *files;
    *files = (struct prometheus_webfiles){0};
    w->topic = topic;
}

void prometheus_webwatch_done(struct prometheus_webwatch *w)
{
    prometheus_webfiles_done(&w->files);
    prometheus_webstate_unref(w->cur);
    w->cur = NULL;
    pthread_mutex_destroy(&w->lock);
}

static bool webwatch_same(const struct prometheus_file_stamp *a,
                          const struct prometheus_file_stamp *b)
{
    return a->err == b->err && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns;
}

/* Whether a file of the last load changed since (w->lock held). */
static bool webwatch_changed(const struct prometheus_webwatch *w)
{
    for (size_t i = 0; i < w->files.n; i++) {
        struct prometheus_file_stamp st;
        prometheus_file_stamp_of(-1, w->files.path[i], &st);
        if (!webwatch_same(&st, &w->files.stamp[i]))
            return true;
    }
    return false;
}

/* Load the changed files (w->lock held): take the new version when it is
 * valid, else say why once (the files of the failed load are watched: the
 * next change tries again). */
static void webwatch_reload(struct prometheus_webwatch *w)
{
    struct prometheus_webfiles files = {0};
    struct prometheus_webstate *s = NULL;
    struct alumet_error err = {0};
    int r = prometheus_webstate_load(w->path, &files, &s, &err);
    if (r == 0 && !s->wc.cert != !w->cur->wc.cert)
        r = alumet_error_set(&err, -EINVAL,
                             "web_config_file '%s': %s tls_server_config, which needs a restart "
                             "of the agent (the endpoint stays in %s)",
                             w->path, s->wc.cert ? "adds" : "removes",
                             w->cur->wc.cert ? "HTTPS" : "plain HTTP");
    prometheus_webfiles_done(&w->files);
    w->files = files;
    if (r < 0) {
        prometheus_webstate_unref(s);
        alumet_log_at(w->topic, ALUMET_LOG_ERROR,
                      "cannot reload: %s; the endpoint keeps the previous configuration", err.msg);
        return;
    }
    prometheus_webstate_unref(w->cur);
    w->cur = s;
    alumet_log_at(w->topic, ALUMET_LOG_INFO,
                  "web_config_file '%s' changed: new connections and requests use it", w->path);
}

struct prometheus_webstate *prometheus_webwatch_current(struct prometheus_webwatch *w)
{
    pthread_mutex_lock(&w->lock);
    if (webwatch_changed(w))
        webwatch_reload(w);
    struct prometheus_webstate *s = prometheus_webstate_ref(w->cur);
    pthread_mutex_unlock(&w->lock);
    return s;
}
