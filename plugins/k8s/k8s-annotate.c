/* SPDX-License-Identifier: MIT */
/* The transform "k8s-annotation" (annotate_foreign_measurements = true):
 * every point of another plugin whose consumer is a cgroup inside a pod, and
 * which has no `uid` attribute yet, gets the pod's attributes uid, name,
 * namespace and node (those it does not have already), from the registry
 * that the source keeps. A pod that the registry does not know gets uid and
 * node. Only the points of the plugins configured before k8s pass here
 * (the transforms run in plugin order). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/transform.h"
#include "k8s.h"

static int k8s_add_missing(struct alumet_buffer *buf, struct alumet_point *p, const char *key,
                           const char *value)
{
    if (alumet_point_find_attr(buf, p, key))
        return 0;
    const char *v = alumet_buffer_strdup(buf, value, (size_t)-1);
    return v ? alumet_point_add_attr_str(buf, p, key, v) : -ENOMEM;
}

static int k8s_annotate_apply(void *data, struct alumet_buffer *buf,
                              const struct alumet_registry *reg, struct alumet_error *err)
{
    struct k8s *k = data;
    (void)reg;
    int r = 0;
    pthread_mutex_lock(&k->pods_lock);
    for (size_t i = 0, n = alumet_buffer_len(buf); i < n && r == 0; i++) {
        struct alumet_point *p = alumet_buffer_at(buf, i);
        char uid[80];
        if (p->consumer.kind != ALUMET_CONSUMER_CGROUP || !p->consumer.str ||
            alumet_point_find_attr(buf, p, "uid") ||
            k8s_pod_uid(p->consumer.str, true, uid, sizeof(uid)) < 0)
            continue;
        const struct k8s_pod *pod = k8s_registry_find(&k->pods, uid);
        if ((r = k8s_add_missing(buf, p, "uid", uid)) < 0 ||
            (pod && ((r = k8s_add_missing(buf, p, "name", pod->name)) < 0 ||
                     (r = k8s_add_missing(buf, p, "namespace", pod->namespace)) < 0)) ||
            (r = k8s_add_missing(buf, p, "node", k->node)) < 0)
            break;
    }
    pthread_mutex_unlock(&k->pods_lock);
    return r < 0 ? alumet_error_set(err, r, "out of memory") : 0;
}

const struct alumet_transform_ops k8s_annotate_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = k8s_annotate_apply,
};
