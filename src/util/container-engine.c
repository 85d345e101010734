/* SPDX-License-Identifier: MIT */
/* A client of the container Engine API over its Unix socket (see
 * container-engine.h). */
#include "container-engine.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "curl-lazy.h"

#include "json.h"

/* An inspect answer is a few kB; one with thousands of labels stays far
 * below this. */
#define CONTAINER_ENGINE_MAX_ANSWER (4u << 20)

struct container_engine {
    CURL *curl;
    char *socket;
    bool global_ref;
    char *body;
    size_t len, cap;
    bool too_big;
    char error[CURL_ERROR_SIZE + 64];
    char errbuf[CURL_ERROR_SIZE];
};

void container_info_done(struct container_info *info)
{
    free(info->name);
    free(info->image);
    for (size_t i = 0; i < info->n_labels; i++) {
        free(info->labels[i].key);
        free(info->labels[i].value);
    }
    free(info->labels);
    *info = (struct container_info){0};
}

int container_info_parse(const char *json, size_t len, struct container_info *ret)
{
    struct json *root;
    struct container_info info = {0};
    int r = json_parse(json, len, &root, NULL, 0);
    if (r < 0)
        return r == -ENOMEM ? r : -EBADMSG;
    const struct json *config = json_get(root, "Config");
    const char *name = json_str(json_get(root, "Name"));
    const char *image = json_str(json_get(config, "Image"));
    if (!image || !*image)
        image = json_str(json_get(root, "Image"));
    if (!name) {
        r = -EBADMSG;
        goto out;
    }
    if (*name == '/')
        name++;
    info.name = strdup(name);
    info.image = strdup(image ? image : "");
    if (!info.name || !info.image) {
        r = -ENOMEM;
        goto out;
    }
    const struct json *labels = json_get(config, "Labels");
    size_t n = 0;
    for (const struct json *m = labels && labels->type == JSON_OBJECT ? labels->child : NULL; m;
         m = m->next)
        n++;
    if (n && !(info.labels = calloc(n, sizeof(*info.labels)))) {
        r = -ENOMEM;
        goto out;
    }
    for (const struct json *m = n ? labels->child : NULL; m; m = m->next) {
        const char *v = json_str(m);
        if (!v)
            continue;
        struct container_label *l = &info.labels[info.n_labels++];
        l->key = strdup(m->key);
        l->value = strdup(v);
        if (!l->key || !l->value) {
            r = -ENOMEM;
            goto out;
        }
    }
    *ret = info;
    info = (struct container_info){0};
out:
    container_info_done(&info);
    json_free(root);
    return r;
}

static size_t container_engine_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct container_engine *e = user;
    size_t n = size * nmemb;
    if (e->len + n > CONTAINER_ENGINE_MAX_ANSWER) {
        e->too_big = true;
        return 0;
    }
    if (e->len + n + 1 > e->cap) {
        size_t cap = e->cap ? e->cap : 8192;
        while (cap < e->len + n + 1)
            cap *= 2;
        char *b = realloc(e->body, cap);
        if (!b)
            return 0;
        e->body = b;
        e->cap = cap;
    }
    memcpy(e->body + e->len, data, n);
    e->len += n;
    e->body[e->len] = '\0';
    return n;
}

void container_engine_free(struct container_engine *e)
{
    if (!e)
        return;
    if (e->curl)
        alumet_curl()->easy_cleanup(e->curl);
    if (e->global_ref)
        alumet_curl()->global_cleanup();
    free(e->socket);
    free(e->body);
    free(e);
}

int container_engine_new(const char *socket_path, int64_t timeout_ns, struct container_engine **ret)
{
    struct container_engine *e = calloc(1, sizeof(*e));
    if (!e || !(e->socket = strdup(socket_path))) {
        free(e);
        return -ENOMEM;
    }
    if (alumet_curl_load(NULL, 0) < 0 ||
        alumet_curl()->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        container_engine_free(e);
        return -EIO;
    }
    e->global_ref = true;
    long ms = timeout_ns > 0 ? (long)((timeout_ns + 999999) / 1000000) : 0;
    CURL *c = e->curl = alumet_curl()->easy_init();
    if (!c || alumet_curl()->easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, e->socket) != CURLE_OK ||
        alumet_curl()->easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
        alumet_curl()->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
        alumet_curl()->easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        alumet_curl()->easy_setopt(c, CURLOPT_WRITEFUNCTION, container_engine_write) != CURLE_OK ||
        alumet_curl()->easy_setopt(c, CURLOPT_WRITEDATA, e) != CURLE_OK ||
        alumet_curl()->easy_setopt(c, CURLOPT_ERRORBUFFER, e->errbuf) != CURLE_OK ||
        alumet_curl()->easy_setopt(c, CURLOPT_USERAGENT, "alumet-agent") != CURLE_OK) {
        container_engine_free(e);
        return -EIO;
    }
    *ret = e;
    return 0;
}

const char *container_engine_socket(const struct container_engine *e)
{
    return e->socket;
}

const char *container_engine_error(const struct container_engine *e)
{
    return e->error;
}

static int container_engine_errno(CURLcode res)
{
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

int container_engine_inspect(struct container_engine *e, const char *id, struct container_info *ret)
{
    char url[512];
    char *esc = alumet_curl()->easy_escape(e->curl, id, 0);
    if (!esc)
        return -ENOMEM;
    /* the host is not used on a Unix socket, but HTTP needs one */
    snprintf(url, sizeof(url), "http://localhost/containers/%s/json", esc);
    alumet_curl()->free(esc);
    e->len = 0;
    e->too_big = false;
    e->errbuf[0] = e->error[0] = '\0';
    if (alumet_curl()->easy_setopt(e->curl, CURLOPT_URL, url) != CURLE_OK)
        return -ENOMEM;
    CURLcode res = alumet_curl()->easy_perform(e->curl);
    if (res != CURLE_OK) {
        snprintf(e->error, sizeof(e->error), "%s",
                 e->too_big   ? "answer larger than 4 MiB"
                 : *e->errbuf ? e->errbuf
                              : alumet_curl()->easy_strerror(res));
        return e->too_big ? -EPROTO : container_engine_errno(res);
    }
    long status = 0;
    alumet_curl()->easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404) {
        snprintf(e->error, sizeof(e->error), "no such container (HTTP status 404)");
        return -ENXIO;
    }
    if (status != 200) {
        snprintf(e->error, sizeof(e->error), "HTTP status %ld", status);
        return -EPROTO;
    }
    int r = container_info_parse(e->body ? e->body : "", e->len, ret);
    if (r == -EBADMSG) {
        snprintf(e->error, sizeof(e->error), "the answer is not a container's inspect JSON");
        return -EPROTO;
    }
    return r;
}

const char *container_engine_find_socket(void)
{
    static const char *const candidates[] = CONTAINER_ENGINE_DEFAULT_SOCKETS;
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        struct stat st;
        if (stat(candidates[i], &st) == 0 && S_ISSOCK(st.st_mode))
            return candidates[i];
    }
    return NULL;
}
