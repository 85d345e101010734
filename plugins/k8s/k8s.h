/* SPDX-License-Identifier: MIT */
/* Private header of the k8s plugin, shared by its files and its tests.
 *
 * Layout:
 *   k8s.c          plugin struct, options, metrics, lifecycle
 *   k8s-pods.c     the pod uid of a cgroup path, the PodList of the API
 *                  server (libcurl, JSON) and the uid -> pod registry
 *   k8s-source.c   the hooks of the cgroup family (plugins/cgroups): the
 *                  engine's source "k8s" measures the pod cgroups with
 *                  their labels, its transform "k8s-annotation" puts the
 *                  labels on the cgroup points of the other plugins
 *
 * Ownership: the plugin state (struct k8s) is allocated by init and freed by
 * free. The source registered in start (the cgroup family's) is owned by the
 * core, which frees it before the plugin is stopped; it borrows k->cg. */
#ifndef ALUMET_PLUGIN_K8S_H
#define ALUMET_PLUGIN_K8S_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "alumet/plugin.h"
#include "cgroups.h"
#include "util/fsroot.h"

/* One pod of the PodList (every string owned). */
struct k8s_pod {
    char *uid, *name, *namespace, *node;
};

/* uid -> pod, from the last successful list. */
struct k8s_registry {
    struct k8s_pod *items;
    size_t n;
};

struct k8s {
    /* The cgroup family's engine (plugins/cgroups): options poll_interval,
     * disable_sources, rescan_interval, proc_root, sys_root, the metrics,
     * the roots, the clock (tests may change it before polling) and the
     * source; its family hooks are those of k8s-source.c. */
    struct cgroups cg;

    /* options */
    bool annotate_containers, annotate_foreign;
    char *node;       /* k8s_node, default: the host name */
    char *api_url;    /* k8s_api_url */
    char *token_file; /* token from a file, re-read at every list; NULL: kubectl */
    char *kubectl_sa; /* token from `kubectl create token <sa> -n <ns>` */
    char *kubectl_ns;
    char *ca_file;         /* k8s_ca_file; NULL: libcurl's CA bundle */
    bool tls_insecure;     /* k8s_tls_insecure: no certificate check (upstream's behaviour) */
    char *kubelet_url;     /* kubelet_url: asked for /pods when the API server fails; NULL: no */
    char *kubelet_ca_file; /* kubelet_ca_file; NULL: ca_file */
    alumet_time_ns api_retry_interval; /* hidden: lists at most this often while failing */

    /* written by the thread that lists (start, then the source) under
     * pods_lock; read without the lock by that thread, with it by the
     * transform */
    struct k8s_registry pods;
    pthread_mutex_t pods_lock;
    bool api_ok;              /* the last list succeeded */
    bool from_kubelet;        /* the last list came from the kubelet, not the API server */
    bool kubelet_noted;       /* the warning about that was logged */
    bool curl_ref;            /* holds a reference to libcurl's global state */
    bool new_unknown;         /* a cgroup of an unknown pod appeared since the last list */
    alumet_time_ns last_list; /* monotonic time of the last list attempt */
};

#define k8s_log(k, level, ...) alumet_log_at((k)->cg.log, (level), __VA_ARGS__)

/* ---- k8s-pods.c ---- */

/* The uid of the pod of the cgroup at canonical path cpath, into buf
 * (dashes, "5f32d849-6210-4886-a48d-e0d90e1d0206"). The pod component is
 * "kubepods[-<qos>]-pod<uid with '_'>.slice" (systemd driver) or
 * "pod<uid>" (cgroupfs driver); the uid is 32 or more hexadecimal digits
 * and dashes. With containers false only the last component is looked at
 * (the pod's own cgroup); with true the last pod component of the path is
 * taken, so that the containers below it have the pod's uid. Returns the
 * length of the uid, or -ENOENT when the cgroup is not (in) a pod. */
ssize_t k8s_pod_uid(const char *cpath, bool containers, char *buf, size_t size);

/* Parse a PodList (JSON text of len bytes) into *ret (overwritten; free with
 * k8s_registry_done): items[].metadata.{uid,name,namespace} and
 * items[].spec.nodeName; pods on another node than `node` are dropped.
 * 0, -EBADMSG (not JSON, or not a PodList) or -ENOMEM. */
int k8s_podlist_parse(const char *json, size_t len, const char *node, struct k8s_registry *ret);

void k8s_registry_done(struct k8s_registry *reg);

/* The pod with this uid, or NULL (borrowed). */
const struct k8s_pod *k8s_registry_find(const struct k8s_registry *reg, const char *uid);

/* List the pods of the node with the API server and replace k->pods on
 * success; when the API server fails and kubelet_url is set, with the
 * kubelet's GET /pods (then k->from_kubelet is true and errbuf says why the
 * API server failed). 0, or a negative errno with a message in errbuf (the
 * token, the connection, the HTTP status and the start of the answer). */
int k8s_list_pods(struct k8s *k, char *errbuf, size_t size);

/* After a successful k8s_list_pods (msg: its errbuf): warn once when the
 * pods came from the kubelet, and say when the API server answers again. */
void k8s_note_list(struct k8s *k, const char *msg);

/* ---- k8s-source.c ---- */

/* Set k->cg.family: the engine measures the cgroups of the pods (and, with
 * annotate_containers, of their containers) with the pod's attributes, and
 * the annotation transform (cgroups_annotate_ops) labels the cgroup points
 * of the other plugins. */
void k8s_family_init(struct k8s *k);

#endif
