/* SPDX-License-Identifier: MIT */
/* k8s: the cgroup metrics of the Kubernetes pods of this node, labelled with
 * the pod's uid, name, namespace and node, as upstream Alumet's k8s plugin
 * (see README.md). This file holds the plugin struct, the options, the
 * metrics and the lifecycle. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/curl-lazy.h"

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "alumet/transform.h"
#include "k8s.h"

#define K8S_DEFAULT_CONFIG                                                                         \
    "[plugins.k8s]\n"                                                                              \
    "# Off by default (it asks the Kubernetes API server, or kubectl, for a token);\n"             \
    "# set to true on a Kubernetes node\n"                                                         \
    "enabled = false\n"                                                                            \
    "# How often the cgroup of every pod is measured\n"                                            \
    "poll_interval = \"5s\"\n"                                                                     \
    "# true: register the metrics but measure nothing\n"                                           \
    "disable_sources = false\n"                                                                    \
    "# The node whose pods are listed (default: the host name)\n"                                  \
    "# k8s_node = \"node-1\"\n"                                                                    \
    "k8s_api_url = \"http://127.0.0.1:8080\"\n"                                                    \
    "# \"auto\", \"file\", \"kubectl\", { file = \"/path\" } or\n"                                 \
    "# { kubectl = { service_account = \"alumet-reader\", namespace = \"alumet\" } }\n"            \
    "token_retrieval = \"auto\"\n"                                                                 \
    "# true: the containers of the pods are measured too\n"                                        \
    "annotate_containers = false\n"

#define K8S_SEC ALUMET_NSEC_PER_SEC
#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"

static alumet_time_ns k8s_monotonic(void *data)
{
    (void)data;
    return alumet_time_monotonic();
}

static void k8s_free(void *state)
{
    struct k8s *k = state;
    if (!k)
        return;
    fsroot_close(&k->cg.proc);
    fsroot_close(&k->cg.sys);
    k8s_registry_done(&k->pods);
    pthread_mutex_destroy(&k->pods_lock);
    if (k->curl_ref)
        alumet_curl()->global_cleanup();
    free(k->node);
    free(k->api_url);
    free(k->token_file);
    free(k->kubectl_sa);
    free(k->kubectl_ns);
    free(k->ca_file);
    free(k->kubelet_url);
    free(k->kubelet_ca_file);
    free(k->cg.proc_root);
    free(k->cg.sys_root);
    free(k);
}

static int k8s_require(struct alumet_config *cfg, const char *key, struct alumet_error *err)
{
    if (alumet_config_has(cfg, key))
        return 0;
    return alumet_config_error(cfg, key, err, -EINVAL,
                               "missing field '%s' (required when [plugins.k8s] is present)", key);
}

static int k8s_set(char **dst, const char *src, struct alumet_error *err)
{
    free(*dst);
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? alumet_error_set(err, -ENOMEM, "out of memory") : 0;
}

/* token_retrieval: "auto" | "file" | "kubectl" | { file = "..." } |
 * { kubectl = { service_account = "...", namespace = "..." } }. */
static int k8s_token_option(struct k8s *k, struct alumet_config *cfg, struct alumet_error *err)
{
    struct alumet_config *t = NULL;
    const char *mode, *file = NULL, *sa = "alumet-reader", *ns = "alumet";
    int r;
    const char *type = alumet_config_type(cfg, "token_retrieval");
    if (type && strcmp(type, "table") == 0) {
        if ((r = alumet_config_get_table(cfg, "token_retrieval", &t, err)) < 0)
            return r;
        struct alumet_config *kc = NULL;
        if ((r = alumet_config_get_string(t, "file", NULL, &file, err)) < 0 ||
            (r = alumet_config_get_table(t, "kubectl", &kc, err)) < 0)
            return r;
        if (kc && ((r = alumet_config_get_string(kc, "service_account", sa, &sa, err)) < 0 ||
                   (r = alumet_config_get_string(kc, "namespace", ns, &ns, err)) < 0))
            return r;
        if (!file == !kc)
            return alumet_config_error(cfg, "token_retrieval", err, -EINVAL,
                                       "expected exactly one of 'file' or 'kubectl'");
    } else {
        if ((r = alumet_config_get_string(cfg, "token_retrieval", "auto", &mode, err)) < 0)
            return r;
        if (strcmp(mode, "file") == 0 ||
            (strcmp(mode, "auto") == 0 && access(K8S_SA_DIR "token", F_OK) == 0))
            file = K8S_SA_DIR "token";
        else if (strcmp(mode, "kubectl") != 0 && strcmp(mode, "auto") != 0)
            return alumet_config_error(cfg, "token_retrieval", err, -EINVAL,
                                       "expected \"auto\", \"file\", \"kubectl\", { file = "
                                       "\"/path\" } or { kubectl = { ... } }, got \"%s\"",
                                       mode);
    }
    if (file)
        return k8s_set(&k->token_file, file, err);
    if ((r = k8s_set(&k->kubectl_sa, sa, err)) < 0)
        return r;
    return k8s_set(&k->kubectl_ns, ns, err);
}

static int k8s_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct k8s *k = calloc(1, sizeof(*k));
    const char *node, *url, *ca, *kubelet, *kubelet_ca, *proc_root, *sys_root;
    char host[256] = "";
    int r;

    if (!k)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    k->cg.proc.fd = k->cg.sys.fd = -1;
    k->cg.clock = k8s_monotonic;
    k8s_family_init(k);
    pthread_mutex_init(&k->pods_lock, NULL);
    gethostname(host, sizeof(host) - 1);
    if ((r = k8s_require(cfg, "poll_interval", err)) < 0 ||
        (r = k8s_require(cfg, "disable_sources", err)) < 0 ||
        (r = k8s_require(cfg, "token_retrieval", err)) < 0 ||
        (r = k8s_require(cfg, "annotate_containers", err)) < 0 ||
        (r = alumet_config_get_duration(cfg, "poll_interval", 5 * K8S_SEC, &k->cg.poll_interval,
                                        err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "disable_sources", false, &k->cg.disable_sources, err)) <
            0 ||
        (r = alumet_config_get_string(cfg, "k8s_node", host, &node, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "k8s_api_url", "http://127.0.0.1:8080", &url, err)) <
            0 ||
        (r = k8s_token_option(k, cfg, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "annotate_foreign_measurements", false,
                                    &k->annotate_foreign, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "annotate_containers", false, &k->annotate_containers,
                                    err)) < 0 ||
        (r = alumet_config_get_string(cfg, "k8s_ca_file", NULL, &ca, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "k8s_tls_insecure", false, &k->tls_insecure, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "kubelet_url", NULL, &kubelet, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "kubelet_ca_file", NULL, &kubelet_ca, err)) < 0 ||
        (r = alumet_config_get_duration(cfg, "api_retry_interval", 30 * K8S_SEC,
                                        &k->api_retry_interval, err)) < 0 ||
        (r = alumet_config_get_duration(cfg, "rescan_interval", 30 * K8S_SEC,
                                        &k->cg.rescan_interval, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "proc_root", "/", &proc_root, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "sys_root", "/", &sys_root, err)) < 0)
        goto err_free;
    if (k->cg.poll_interval <= 0 || k->cg.rescan_interval <= 0 || k->api_retry_interval <= 0) {
        const char *key = k->cg.poll_interval <= 0     ? "poll_interval"
                          : k->cg.rescan_interval <= 0 ? "rescan_interval"
                                                       : "api_retry_interval";
        r = alumet_config_error(cfg, key, err, -EINVAL,
                                "expected a duration greater than 0, such as \"5s\"");
        goto err_free;
    }
    if (!*node) {
        r = alumet_config_error(cfg, "k8s_node", err, -EINVAL,
                                "the host name is empty: set k8s_node to the name of this node");
        goto err_free;
    }
    /* in a pod, the service account's CA signs the API server's certificate */
    if (!ca && access(K8S_SA_DIR "ca.crt", R_OK) == 0)
        ca = K8S_SA_DIR "ca.crt";
    if ((r = k8s_set(&k->node, node, err)) < 0 || (r = k8s_set(&k->api_url, url, err)) < 0 ||
        (r = k8s_set(&k->ca_file, ca, err)) < 0 ||
        (r = k8s_set(&k->kubelet_url, kubelet, err)) < 0 ||
        (r = k8s_set(&k->kubelet_ca_file, kubelet_ca, err)) < 0 ||
        (r = k8s_set(&k->cg.proc_root, proc_root, err)) < 0 ||
        (r = k8s_set(&k->cg.sys_root, sys_root, err)) < 0)
        goto err_free;
    /* "https://host/" and "https://host" name the same server */
    for (size_t n = strlen(k->api_url); n > 0 && k->api_url[n - 1] == '/'; n--)
        k->api_url[n - 1] = '\0';
    for (size_t n = k->kubelet_url ? strlen(k->kubelet_url) : 0;
         n > 0 && k->kubelet_url[n - 1] == '/'; n--)
        k->kubelet_url[n - 1] = '\0';
    *ret_state = k;
    return 0;

err_free:
    k8s_free(k);
    return r;
}

static void k8s_read_cpus(struct k8s *k)
{
    char buf[1024];
    int fd = fsroot_openat(&k->cg.sys, "sys/devices/system/cpu/online", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    k->cg.n_cpus = cgroups_cpu_count(buf);
    if (!k->cg.n_cpus)
        k8s_log(k, ALUMET_LOG_WARN, "cannot read the online CPUs, skipping the cpu_percent metric");
}

static int k8s_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct k8s *k = state;
    k->cg.log = alumet_start_log_topic(ctx);
    int r = cgroups_metrics_create(&k->cg.m, ctx, err);
    if (r < 0 || (k->cg.disable_sources && !k->annotate_foreign))
        return r;
    if ((r = fsroot_open(&k->cg.proc, k->cg.proc_root)) < 0)
        return alumet_error_set(err, r, "cannot open the proc root '%s': %s", k->cg.proc_root,
                                strerror(-r));
    if ((r = fsroot_open(&k->cg.sys, k->cg.sys_root)) < 0)
        return alumet_error_set(err, r, "cannot open the sys root '%s': %s", k->cg.sys_root,
                                strerror(-r));
    k8s_read_cpus(k);

    /* in the main thread, before any other thread of the plugin uses libcurl
     * (libcurl counts the references) */
    if (!k->curl_ref) {
        char why[256];
        if ((r = alumet_curl_load(why, sizeof(why))) < 0)
            return alumet_error_set(err, r, "%s", why);
        if (alumet_curl()->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return alumet_error_set(err, -ENOMEM, "cannot initialise libcurl");
        k->curl_ref = true;
    }
    char msg[512];
    k->last_list = k->cg.clock(k->cg.clock_data);
    if ((r = k8s_list_pods(k, msg, sizeof(msg))) == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    k->api_ok = r == 0;
    if (r < 0)
        k8s_log(k, ALUMET_LOG_WARN,
                "failed to list pods with the K8S API, are the url and token correct? %s. The pods "
                "are measured and labelled with their uid (from the cgroup path) and node only "
                "until the API answers",
                msg);
    else {
        k8s_log(k, ALUMET_LOG_INFO, "%zu pods on node '%s'", k->pods.n, k->node);
        k8s_note_list(k, msg);
    }

    if (k->annotate_foreign &&
        (r = alumet_add_transform(ctx, "k8s-annotation", &cgroups_annotate_ops, &k->cg, err)) < 0)
        return r;
    if (k->cg.disable_sources)
        return 0;

    struct cgroups_source *src;
    if ((r = cgroups_source_new(&k->cg, &src)) < 0)
        return alumet_error_set(err, r, "out of memory");
    struct alumet_source_opts o = {.size = sizeof(o),
                                   .poll_interval = k->cg.poll_interval,
                                   .baseline_first = true}; /* CPU time differences */
    if ((r = alumet_add_source(ctx, "k8s", &cgroups_source_ops, src, &o, err)) < 0) {
        cgroups_source_ops.free(src);
        return r;
    }
    k->cg.source = src;
    return 0;
}

static int k8s_stop(void *state, struct alumet_error *err)
{
    struct k8s *k = state;
    (void)err;
    fsroot_close(&k->cg.proc);
    fsroot_close(&k->cg.sys);
    k->cg.source = NULL;
    return 0;
}

const struct alumet_plugin alumet_plugin_k8s = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "k8s",
    .version = "0.1.0",
    .default_config = K8S_DEFAULT_CONFIG,
    .init = k8s_init,
    .start = k8s_start,
    .stop = k8s_stop,
    .free = k8s_free,
};
