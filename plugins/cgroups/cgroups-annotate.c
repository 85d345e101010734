/* SPDX-License-Identifier: MIT */
/* The annotation transform of the cgroup family (slurm's "slurm/annotation",
 * oar's "oar-annotation", k8s's "k8s-annotation"): every point of another
 * plugin whose consumer is a cgroup inside a job (a pod), and which has no
 * family.annotate_key attribute yet (job_id, uid), gets the attributes that
 * family.annotate gives for that cgroup path, each only when the point lacks
 * it. Only the points of the plugins configured before
 * the family's plugin pass here (the transforms run in plugin order). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/transform.h"
#include "cgroups.h"

static int cgroups_annotate_point(struct alumet_buffer *buf, struct alumet_point *p,
                                  const struct cgroups_attrs *attrs)
{
    for (size_t i = 0; i < attrs->n; i++) {
        const struct cgroups_attr *a = &attrs->items[i];
        if (alumet_point_find_attr(buf, p, a->key))
            continue;
        /* the key too: the family's strings are freed after this call */
        const char *key = alumet_buffer_strdup(buf, a->key, (size_t)-1);
        const char *v = a->str ? alumet_buffer_strdup(buf, a->str, (size_t)-1) : NULL;
        if (!key || (a->str && !v))
            return -ENOMEM;
        int r = a->str ? alumet_point_add_attr_str(buf, p, key, v)
                       : alumet_point_add_attr_u64(buf, p, key, a->u64);
        if (r < 0)
            return r;
    }
    return 0;
}

static int cgroups_annotate_apply(void *data, struct alumet_buffer *buf,
                                  const struct alumet_registry *reg, struct alumet_error *err)
{
    struct cgroups *cg = data;
    const struct cgroups_family *f = &cg->family;
    (void)reg;
    int r = 0;
    for (size_t i = 0, n = alumet_buffer_len(buf); i < n && r == 0; i++) {
        struct alumet_point *p = alumet_buffer_at(buf, i);
        if (p->consumer.kind != ALUMET_CONSUMER_CGROUP || !p->consumer.str ||
            alumet_point_find_attr(buf, p, f->annotate_key))
            continue;
        struct cgroups_attrs attrs = {0};
        r = f->annotate(f->data, p->consumer.str, &attrs);
        if (r > 0)
            r = cgroups_annotate_point(buf, p, &attrs);
        cgroups_attrs_done(&attrs);
    }
    return r < 0 ? alumet_error_set(err, r, "out of memory") : 0;
}

const struct alumet_transform_ops cgroups_annotate_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = cgroups_annotate_apply,
};
