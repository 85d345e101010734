/* SPDX-License-Identifier: MIT */
/* The pods: the uid of a pod from its cgroup path, and the uid -> pod
 * registry from the PodList of the API server
 * (GET <k8s_api_url>/api/v1/pods?fieldSelector=spec.nodeName%3D<node>,
 * bearer token, HTTPS checked against k8s_ca_file), read with
 * src/util/json.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/curl-lazy.h"

#include "k8s.h"
#include "util/json.h"

/* ---- the uid in a cgroup path ---- */

static bool k8s_uid_chars(const char *s, size_t n)
{
    if (n < 32 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* The uid of one path component c[0..n), into buf; -ENOENT if none. */
static ssize_t k8s_component_uid(const char *c, size_t n, char *buf, size_t size)
{
    static const char slice[] = ".slice";
    const size_t ls = sizeof(slice) - 1;
    const char *pod = NULL;
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(c + i, "pod", 3) == 0)
            pod = c + i;
    if (!pod)
        return -ENOENT;
    const char *u = pod + 3;
    size_t len = (size_t)(c + n - u);
    if (len >= ls && memcmp(u + len - ls, slice, ls) == 0) {
        /* systemd: kubepods-pod<uid>.slice, kubepods-<qos>-pod<uid>.slice */
        if (pod == c || pod[-1] != '-' || strncmp(c, "kubepods", 8) != 0)
            return -ENOENT;
        len -= ls;
    } else if (pod != c) {
        return -ENOENT; /* cgroupfs: pod<uid> is the whole component */
    }
    if (!k8s_uid_chars(u, len) || len >= size)
        return -ENOENT;
    for (size_t i = 0; i < len; i++)
        buf[i] = u[i] == '_' ? '-' : u[i];
    buf[len] = '\0';
    return (ssize_t)len;
}

ssize_t k8s_pod_uid(const char *cpath, bool containers, char *buf, size_t size)
{
    const char *end = cpath + strlen(cpath);
    while (end > cpath) {
        const char *start = end;
        while (start > cpath && start[-1] != '/')
            start--;
        ssize_t r = k8s_component_uid(start, (size_t)(end - start), buf, size);
        if (r >= 0 || !containers)
            return r;
        end = start > cpath ? start - 1 : cpath;
    }
    return -ENOENT;
}

/* Member b of member a of object j, when it is a string. */
static const char *k8s_json_str(const struct json *j, const char *a, const char *b)
{
    return json_str(json_get(json_get(j, a), b));
}

/* ---- the registry ---- */

static void k8s_pod_done(struct k8s_pod *p)
{
    free(p->uid);
    free(p->name);
    free(p->namespace);
    free(p->node);
}

void k8s_registry_done(struct k8s_registry *reg)
{
    for (size_t i = 0; i < reg->n; i++)
        k8s_pod_done(&reg->items[i]);
    free(reg->items);
    reg->items = NULL;
    reg->n = 0;
}

const struct k8s_pod *k8s_registry_find(const struct k8s_registry *reg, const char *uid)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->items[i].uid, uid) == 0)
            return &reg->items[i];
    return NULL;
}

int k8s_podlist_parse(const char *json, size_t len, const char *node, struct k8s_registry *ret)
{
    struct json *root = NULL;
    struct k8s_registry reg = {0};
    int r = json_parse(json, len, &root, NULL, 0);
    if (r == -EINVAL)
        r = -EBADMSG;
    const struct json *items = json_get(root, "items");
    if (r == 0 && (!items || items->type != JSON_ARRAY))
        r = -EBADMSG;
    size_t n = 0;
    for (const struct json *it = r == 0 ? items->child : NULL; it; it = it->next)
        n++;
    if (r == 0 && n && !(reg.items = calloc(n, sizeof(*reg.items))))
        r = -ENOMEM;
    for (const struct json *it = r == 0 ? items->child : NULL; it; it = it->next) {
        const char *uid = k8s_json_str(it, "metadata", "uid");
        const char *name = k8s_json_str(it, "metadata", "name");
        const char *ns = k8s_json_str(it, "metadata", "namespace");
        const char *pnode = k8s_json_str(it, "spec", "nodeName");
        if (!uid || !name || !ns || !pnode || strcmp(pnode, node) != 0)
            continue; /* not scheduled yet, or on another node */
        struct k8s_pod *p = &reg.items[reg.n++];
        p->uid = strdup(uid);
        p->name = strdup(name);
        p->namespace = strdup(ns);
        p->node = strdup(pnode);
        if (!p->uid || !p->name || !p->namespace || !p->node) {
            r = -ENOMEM;
            break;
        }
    }
    json_free(root);
    if (r < 0) {
        k8s_registry_done(&reg);
        return r;
    }
    *ret = reg;
    return 0;
}

/* ---- the token ---- */

/* A JWT: three non-empty parts joined by '.'. */
static bool k8s_is_jwt(const char *t)
{
    const char *a = strchr(t, '.'), *b = a ? strchr(a + 1, '.') : NULL;
    return a && b && a > t && b > a + 1 && b[1] && !strchr(b + 1, '.');
}

/* Drop trailing blanks (a token file written by hand ends with a newline,
 * which would end the Authorization header). */
static void k8s_trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

static int k8s_token_file(const char *path, char **ret, char *errbuf, size_t size)
{
    char buf[16384];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(errbuf, size, "cannot read the token file '%s': %s", path, strerror(e));
        return -e;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        snprintf(errbuf, size, "cannot read the token file '%s': %s", path, strerror(e));
        return -e;
    }
    buf[n] = '\0';
    k8s_trim(buf);
    if (!(*ret = strdup(buf)))
        return -ENOMEM;
    return 0;
}

/* Run `kubectl create token <sa> -n <ns>` (no shell) and take its stdout. */
static int k8s_token_kubectl(const struct k8s *k, char **ret, char *errbuf, size_t size)
{
    extern char **environ;
    char *argv[] = {"kubectl", "create", "token", k->kubectl_sa, "-n", k->kubectl_ns, NULL};
    int out[2], errfd = memfd_create("kubectl-stderr", MFD_CLOEXEC);
    if (errfd < 0)
        return -errno;
    if (pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        close(errfd);
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, errfd, STDERR_FILENO);
    pid_t pid;
    int r = posix_spawnp(&pid, "kubectl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (r != 0) {
        close(out[0]);
        close(errfd);
        snprintf(errbuf, size, "cannot run kubectl: %s", strerror(r));
        return -r;
    }
    char buf[16384];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 && (n = read(out[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
    }
    close(out[0]);
    buf[len] = '\0';
    int status = -1; /* waitpid failing: reported as not exited */
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char err[512];
    ssize_t ne = pread(errfd, err, sizeof(err) - 1, 0);
    close(errfd);
    err[ne > 0 ? ne : 0] = '\0';
    k8s_trim(err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(errbuf, size, "'kubectl create token %s -n %s' exited with status %d: %s",
                 k->kubectl_sa, k->kubectl_ns, WIFEXITED(status) ? WEXITSTATUS(status) : -1, err);
        return -EIO;
    }
    k8s_trim(buf);
    if (!(*ret = strdup(buf)))
        return -ENOMEM;
    return 0;
}

/* ---- the list ---- */

struct k8s_body {
    char *p;
    size_t len, cap;
};

#define K8S_MAX_BODY (64u << 20)

static size_t k8s_write(char *data, size_t sz, size_t nmemb, void *user)
{
    struct k8s_body *b = user;
    size_t n = sz * nmemb;
    if (b->len + n + 1 > K8S_MAX_BODY)
        return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* GET url with the token and parse the PodList into *reg. 0, or a negative
 * errno with a message in errbuf. */
static int k8s_get_podlist(struct k8s *k, const char *url, const char *ca_file, const char *token,
                           struct k8s_registry *reg, char *errbuf, size_t size)
{
    char *auth = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    struct k8s_body body = {0};
    struct curl_slist *headers = NULL;
    CURL *c = NULL;
    long status = 0;
    int r = -ENOMEM;
    if (!(c = alumet_curl()->easy_init()) ||
        asprintf(&auth, "Authorization: Bearer %s", token) < 0 ||
        !(headers = alumet_curl()->slist_append(NULL, auth)) ||
        !(headers = alumet_curl()->slist_append(headers, "Accept: application/json"))) {
        snprintf(errbuf, size, "out of memory");
        goto out;
    }
    alumet_curl()->easy_setopt(c, CURLOPT_URL, url);
    alumet_curl()->easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    alumet_curl()->easy_setopt(c, CURLOPT_WRITEFUNCTION, k8s_write);
    alumet_curl()->easy_setopt(c, CURLOPT_WRITEDATA, &body);
    alumet_curl()->easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    alumet_curl()->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    alumet_curl()->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    alumet_curl()->easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    alumet_curl()->easy_setopt(c, CURLOPT_USERAGENT, "alumet-k8s");
    if (ca_file)
        alumet_curl()->easy_setopt(c, CURLOPT_CAINFO, ca_file);
    if (k->tls_insecure) {
        alumet_curl()->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        alumet_curl()->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode res = alumet_curl()->easy_perform(c);
    if (res != CURLE_OK) {
        snprintf(errbuf, size, "GET %s: %s", url,
                 curl_err[0] ? curl_err : alumet_curl()->easy_strerror(res));
        r = -EHOSTUNREACH;
        goto out;
    }
    alumet_curl()->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        snprintf(errbuf, size, "GET %s: HTTP status %ld%s: %.200s", url, status,
                 status == 401 || status == 403 ? " (is the token valid, may it list pods?)" : "",
                 body.p ? body.p : "");
        r = -EACCES;
        goto out;
    }
    r = k8s_podlist_parse(body.p ? body.p : "", body.len, k->node, reg);
    if (r < 0)
        snprintf(errbuf, size, "GET %s: the answer is not a PodList: %.200s", url,
                 body.p ? body.p : "");
out:
    if (auth)
        explicit_bzero(auth, strlen(auth));
    free(auth);
    alumet_curl()->slist_free_all(headers);
    if (c)
        alumet_curl()->easy_cleanup(c);
    free(body.p);
    return r;
}

int k8s_list_pods(struct k8s *k, char *errbuf, size_t size)
{
    char *token = NULL, *url = NULL, *node = NULL;
    struct k8s_registry reg;
    int r = k->token_file ? k8s_token_file(k->token_file, &token, errbuf, size)
                          : k8s_token_kubectl(k, &token, errbuf, size);
    if (r < 0)
        goto out;
    if (!k8s_is_jwt(token)) {
        snprintf(errbuf, size, "the token (%s) is not a JSON Web Token (three parts joined by '.')",
                 k->token_file ? k->token_file : "from kubectl");
        r = -EINVAL;
        goto out;
    }
    if (!(node = alumet_curl()->easy_escape(NULL, k->node, 0)) ||
        asprintf(&url, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k->api_url, node) < 0) {
        url = NULL;
        snprintf(errbuf, size, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    r = k8s_get_podlist(k, url, k->ca_file, token, &reg, errbuf, size);
    k->from_kubelet = false;
    if (r < 0 && r != -ENOMEM && k->kubelet_url) {
        /* the kubelet of this node lists its own pods: GET /pods */
        char api_err[512], *kurl = NULL;
        snprintf(api_err, sizeof(api_err), "%s", errbuf);
        if (asprintf(&kurl, "%s/pods", k->kubelet_url) < 0) {
            snprintf(errbuf, size, "out of memory");
            r = -ENOMEM;
            goto out;
        }
        char kerr[512];
        r = k8s_get_podlist(k, kurl, k->kubelet_ca_file ? k->kubelet_ca_file : k->ca_file, token,
                            &reg, kerr, sizeof(kerr));
        free(kurl);
        if (r < 0)
            snprintf(errbuf, size, "%s; and the kubelet: %s", api_err, kerr);
        else {
            snprintf(errbuf, size, "%s", api_err);
            k->from_kubelet = true;
        }
    }
    if (r < 0)
        goto out;
    struct k8s_registry old = k->pods;
    pthread_mutex_lock(&k->pods_lock);
    k->pods = reg;
    pthread_mutex_unlock(&k->pods_lock);
    k8s_registry_done(&old);
out:
    if (token)
        explicit_bzero(token, strlen(token));
    free(token);
    free(url);
    alumet_curl()->free(node);
    return r;
}

void k8s_note_list(struct k8s *k, const char *msg)
{
    if (k->from_kubelet && !k->kubelet_noted)
        k8s_log(k, ALUMET_LOG_WARN,
                "the K8S API server cannot list the pods (%s); the %zu pods of node '%s' are "
                "listed by the kubelet (%s/pods) until it can",
                msg, k->pods.n, k->node, k->kubelet_url);
    else if (!k->from_kubelet && k->kubelet_noted)
        k8s_log(k, ALUMET_LOG_INFO, "the K8S API server lists the pods again");
    k->kubelet_noted = k->from_kubelet;
}
