/* SPDX-License-Identifier: MIT */
/* The hooks of k8s in the cgroup family (plugins/cgroups/cgroups.h): the
 * engine's source "k8s" follows the hierarchies and measures the cgroups of
 * pods (and, with annotate_containers, of their containers); these hooks
 * choose them and give their attributes, and label the points of the other
 * plugins for the transform "k8s-annotation" (cgroups_annotate_ops).
 *
 * The points are those of the cgroups plugin (consumer cgroup{<canonical
 * path>}, the same metrics), each with the attributes uid, name, namespace,
 * node first, and for the cgroup of a container (annotate_containers)
 * container_id (src/util/container-id.h).
 *
 * Labels never go missing: a pod that the API server does not (yet) know, or
 * any pod while the API server cannot be reached, is measured with uid
 * (from its cgroup path) and node only (setup returns 2), and the list is
 * asked again at most every api_retry_interval, then at once for each new
 * unknown uid (before_refresh); the labels are completed as soon as a list
 * names the pod (refresh rebuilds the attributes in their order). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "k8s.h"
#include "util/container-id.h"

/* The attributes of the cgroup at cpath of the pod with this uid:
 * uid, name and namespace (when the registry knows the pod), node,
 * container_id. 1 (known), 2 (not known yet) or -ENOMEM. */
static int k8s_attrs(const struct k8s *k, const char *cpath, const char *uid,
                     struct cgroups_attrs *a)
{
    const struct k8s_pod *p = k8s_registry_find(&k->pods, uid);
    char other[80];
    struct container_id cid;
    if (cgroups_attrs_add_str(a, "uid", uid) < 0 ||
        (p && (cgroups_attrs_add_str(a, "name", p->name) < 0 ||
               cgroups_attrs_add_str(a, "namespace", p->namespace) < 0)) ||
        cgroups_attrs_add_str(a, "node", k->node) < 0)
        return -ENOMEM;
    if (k->annotate_containers && k8s_pod_uid(cpath, false, other, sizeof(other)) < 0 &&
        container_id_from_cgroup(cpath, &cid) == 0 &&
        cgroups_attrs_add_str(a, "container_id", cid.id) < 0)
        return -ENOMEM;
    return p ? 1 : 2;
}

static int k8s_setup(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                     struct cgroups_attrs *attrs)
{
    struct k8s *k = data;
    char uid[80];
    (void)h;
    if (k8s_pod_uid(cpath, k->annotate_containers, uid, sizeof(uid)) < 0)
        return 0;
    int r = k8s_attrs(k, cpath, uid, attrs);
    if (r == 2)
        k->new_unknown = true;
    return r;
}

/* The pod of a cgroup measured with uid and node only: all its attributes
 * again once the registry knows it. */
static int k8s_refresh(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                       struct cgroups_attrs *attrs)
{
    struct k8s *k = data;
    char uid[80];
    (void)h;
    if (k8s_pod_uid(cpath, k->annotate_containers, uid, sizeof(uid)) < 0 ||
        !k8s_registry_find(&k->pods, uid))
        return 0;
    struct cgroups_attrs fresh = {0};
    int r = k8s_attrs(k, cpath, uid, &fresh);
    if (r < 0) {
        cgroups_attrs_done(&fresh);
        return r;
    }
    cgroups_attrs_done(attrs);
    *attrs = fresh;
    return 1;
}

/* Ask the API server again when a cgroup has an unknown uid: at once for a
 * new one (the pod was just created), else every api_retry_interval. */
static void k8s_before_refresh(void *data, alumet_time_ns mono, size_t unknown)
{
    struct k8s *k = data;
    if (!unknown)
        return;
    bool due = mono - k->last_list >= k->api_retry_interval;
    if (!due && !(k->new_unknown && k->api_ok))
        return;
    k->new_unknown = false;
    k->last_list = mono;
    char msg[512];
    int r = k8s_list_pods(k, msg, sizeof(msg));
    if (r < 0) {
        if (k->api_ok)
            k8s_log(k, ALUMET_LOG_WARN,
                    "cannot list the pods with the K8S API: %s; %zu pod cgroups are labelled with "
                    "their uid and node only until the API answers (retried every "
                    "api_retry_interval)",
                    msg, unknown);
        k->api_ok = false;
        return;
    }
    if (!k->api_ok)
        k8s_log(k, ALUMET_LOG_INFO, "the K8S API answers again: %zu pods on node '%s'", k->pods.n,
                k->node);
    k8s_note_list(k, msg);
    k->api_ok = true;
}

static void k8s_describe(void *data, const struct cgroup_hierarchy *h, const char *cpath,
                         char name[PATH_MAX], char owner[CGROUPS_OWNER_MAX])
{
    const struct k8s *k = data;
    char uid[80] = "";
    (void)h;
    k8s_pod_uid(cpath, k->annotate_containers, uid, sizeof(uid));
    snprintf(name, PATH_MAX, "%s", cpath);
    snprintf(owner, CGROUPS_OWNER_MAX, " of pod %s", uid);
}

/* For the transform thread: the cgroup at cpath, any depth, in a pod. A pod
 * that the registry does not know gets uid and node. */
static int k8s_annotate(void *data, const char *cpath, struct cgroups_attrs *attrs)
{
    struct k8s *k = data;
    char uid[80];
    if (k8s_pod_uid(cpath, true, uid, sizeof(uid)) < 0)
        return 0;
    pthread_mutex_lock(&k->pods_lock);
    const struct k8s_pod *p = k8s_registry_find(&k->pods, uid);
    int r = cgroups_attrs_add_str(attrs, "uid", uid) < 0 ||
                    (p && (cgroups_attrs_add_str(attrs, "name", p->name) < 0 ||
                           cgroups_attrs_add_str(attrs, "namespace", p->namespace) < 0)) ||
                    cgroups_attrs_add_str(attrs, "node", k->node) < 0
                ? -ENOMEM
                : 1;
    pthread_mutex_unlock(&k->pods_lock);
    return r;
}

void k8s_family_init(struct k8s *k)
{
    k->cg.section = "k8s";
    k->cg.family = (struct cgroups_family){
        .setup = k8s_setup,
        .refresh = k8s_refresh,
        .before_refresh = k8s_before_refresh,
        .describe = k8s_describe,
        .annotate = k8s_annotate,
        .annotate_key = "uid",
        .data = k,
    };
}
