/* SPDX-License-Identifier: MIT */
/* powercap-export: gives each virtual machine (or any consumer named by an
 * attribute) the energy that the host attributed to it, as a RAPL counter
 * tree of the powercap shape that the rapl plugin of the guest reads (see
 * README.md). The output sums the points of one energy metric (the
 * energy-attribution formula's) per value of an attribute (vm_name) and
 * writes the counters after every buffer (powercap-export-tree.c). Not an
 * upstream plugin. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/metric.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "powercap-export.h"

#define PCX_DEFAULT_CONFIG                                                                         \
    "[plugins.powercap-export]\n"                                                                  \
    "# Off by default: set to true on a host whose VMs read their energy as RAPL\n"                \
    "enabled = false\n"                                                                            \
    "# The energy metric to export (the name of an energy-attribution formula)\n"                  \
    "metric = \"vm_energy\"\n"                                                                     \
    "# The attribute that names the consumer of each point (one tree per value)\n"                 \
    "attribute = \"vm_name\"\n"                                                                    \
    "# Where the trees are written: <dir>/<vm>/intel-rapl:0/energy_uj\n"                           \
    "dir = \"/var/lib/alumet/powercap\"\n"                                                         \
    "# Where the counters wrap around to 0 (max_energy_range_uj)\n"                                \
    "max_energy_range_uj = 262143328850\n"

struct pcx {
    char *metric, *attribute, *dir;
    uint64_t max;
};

struct pcx_output {
    struct pcx_tree *tree;
    char *metric, *attribute;
    struct alumet_log_topic *log;
    alumet_metric_id id;
    double scale; /* µJ per unit of the metric */
    bool resolved, unusable, warned_missing, failing;
};

static void pcx_free(void *state)
{
    struct pcx *p = state;
    if (!p)
        return;
    free(p->metric);
    free(p->attribute);
    free(p->dir);
    free(p);
}

static int pcx_string(struct alumet_config *cfg, const char *key, const char *def, char **ret,
                      struct alumet_error *err)
{
    const char *v;
    int r = alumet_config_get_string(cfg, key, def, &v, err);
    if (r < 0)
        return r;
    if (!*v)
        return alumet_config_error(cfg, key, err, -EINVAL, "expected a non-empty string");
    if (!(*ret = strdup(v)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int pcx_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct pcx *p = calloc(1, sizeof(*p));
    int64_t max;
    int r;
    if (!p)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    if ((r = pcx_string(cfg, "metric", "vm_energy", &p->metric, err)) < 0 ||
        (r = pcx_string(cfg, "attribute", "vm_name", &p->attribute, err)) < 0 ||
        (r = pcx_string(cfg, "dir", "/var/lib/alumet/powercap", &p->dir, err)) < 0 ||
        (r = alumet_config_get_int(cfg, "max_energy_range_uj", (int64_t)PCX_DEFAULT_MAX_UJ, &max,
                                   err)) < 0)
        goto err;
    if (max <= 0) {
        r = alumet_config_error(cfg, "max_energy_range_uj", err, -EINVAL,
                                "expected a positive number of microjoules, such as 262143328850");
        goto err;
    }
    p->max = (uint64_t)max;
    *ret_state = p;
    return 0;
err:
    pcx_free(p);
    return r;
}

/* The metric's id and its µJ per unit, at the first write (the transforms
 * registered their metrics when they started). */
static void pcx_resolve(struct pcx_output *o, const struct alumet_registry *reg)
{
    static const double exp10[] = {1e-9, 1e-6, 1e-3, 1, 1e3, 1e6, 1e9};
    const struct alumet_metric *m = alumet_registry_find(reg, o->metric);
    if (!m) {
        if (!o->warned_missing)
            alumet_log_at(o->log, ALUMET_LOG_WARN,
                          "no metric '%s' is registered: configure an energy-attribution formula "
                          "of that name (or set plugins.powercap-export.metric); nothing is "
                          "exported until it appears",
                          o->metric);
        o->warned_missing = true;
        return;
    }
    o->resolved = true;
    o->id = m->id;
    int p = (int)m->unit.prefix;
    double s = p >= 0 && p < 7 ? exp10[p] : 1;
    if (m->unit.base == ALUMET_UNIT_JOULE) {
        o->scale = s * 1e6;
    } else if (m->unit.base == ALUMET_UNIT_WATT_HOUR) {
        o->scale = s * 3600.0 * 1e6;
    } else {
        o->unusable = true;
        alumet_log_at(o->log, ALUMET_LOG_ERROR,
                      "metric '%s' is not an energy (its unit is '%s'): nothing is exported; set "
                      "plugins.powercap-export.metric to an energy metric",
                      o->metric, m->unit_unique);
    }
}

static int pcx_output_write(void *data, const struct alumet_buffer *buf,
                            const struct alumet_registry *reg, struct alumet_error *err)
{
    struct pcx_output *o = data;
    (void)err;
    if (!o->resolved)
        pcx_resolve(o, reg);
    if (!o->resolved || o->unusable)
        return 0;
    for (size_t i = 0; i < alumet_buffer_len(buf); i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        if (p->metric != o->id)
            continue;
        const struct alumet_attr *a = alumet_point_find_attr(buf, p, o->attribute);
        if (!a || a->type != ALUMET_ATTR_STR)
            continue;
        double v = p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64;
        if (pcx_tree_add(o->tree, a->v.str, v * o->scale) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    char path[4096];
    int r = pcx_tree_flush(o->tree, path, sizeof(path));
    if (r < 0 && !o->failing)
        alumet_log_at(o->log, ALUMET_LOG_WARN,
                      "cannot write '%s': %s; the counters are written again after the next "
                      "measurements (said once until it works)",
                      path, strerror(-r));
    else if (r == 0 && o->failing)
        alumet_log_at(o->log, ALUMET_LOG_INFO, "the counters are written again");
    o->failing = r < 0;
    return 0;
}

static void pcx_output_free(void *data)
{
    struct pcx_output *o = data;
    if (!o)
        return;
    pcx_tree_free(o->tree);
    free(o->metric);
    free(o->attribute);
    free(o);
}

static const struct alumet_output_ops pcx_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = pcx_output_write,
    .free = pcx_output_free,
};

static int pcx_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct pcx *p = state;
    struct pcx_output *o = calloc(1, sizeof(*o));
    if (!o || !(o->metric = strdup(p->metric)) || !(o->attribute = strdup(p->attribute)) ||
        pcx_tree_new(p->dir, p->max, &o->tree) < 0) {
        pcx_output_free(o);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    o->log = alumet_start_log_topic(ctx);
    /* lossless: a dropped buffer would be energy the guests never see */
    struct alumet_output_opts opts = {
        .size = sizeof(opts), .policy = ALUMET_QUEUE_BLOCK, .policy_set = true};
    int r = alumet_add_output(ctx, "trees", &pcx_output_ops, o, &opts, err);
    if (r < 0) {
        pcx_output_free(o);
        return r;
    }
    alumet_log_at(o->log, ALUMET_LOG_INFO, "exporting '%s' per '%s' to '%s'", p->metric,
                  p->attribute, p->dir);
    return 0;
}

static int pcx_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_powercap_export = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "powercap-export",
    .version = "0.1.0",
    .default_config = PCX_DEFAULT_CONFIG,
    .init = pcx_init,
    .start = pcx_start,
    .stop = pcx_stop,
    .free = pcx_free,
};
