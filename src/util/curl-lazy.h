/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_UTIL_CURL_LAZY_H
#define ALUMET_UTIL_CURL_LAZY_H

#include <stddef.h>

#include <curl/curl.h>

/* libcurl loaded on first use (dlopen of libcurl.so.4) by the built-in users
 * of it (the cgroups plugin's container names, k8s), so that the agent maps
 * libcurl and its TLS stack (gnutls, libcrypto, krb5, p11-kit...: about
 * 5 MiB resident and their constructors) only when a plugin that needs them
 * runs, not in every configuration. The plugins built as modules (influxdb,
 * opentelemetry...) link libcurl themselves. */
struct alumet_curl {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_global_cleanup) *global_cleanup;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_easy_escape) *easy_escape;
    __typeof__(curl_free) *free;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
};

/* Load libcurl once (thread-safe). 0, or -ENOENT with the reason in err
 * (what to install) when it cannot be loaded. */
int alumet_curl_load(char *err, size_t size);

/* The functions (loaded on the first call); call them only when
 * alumet_curl_load returned 0. */
const struct alumet_curl *alumet_curl(void);

#endif
