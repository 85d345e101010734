/* SPDX-License-Identifier: MIT */
/* energy-estimation-tdp: estimates the energy of the CPU from the CPU time
 * measured by procfs (kernel_cpu_time, one point per cpu_state and per
 * machine or core) and the thermal design power of the host, for machines
 * without RAPL such as virtual machines (README.md).
 *
 * A CPU of the host that is busy for one second uses TDP / nb_cpu joules, so
 * a point of T seconds of CPU time gives E = T x TDP / nb_cpu joules. This is
 * "CPU-time fraction x TDP x interval" with the interval cancelled out;
 * upstream divides by the whole seconds of poll_interval instead of
 * multiplying by the real interval, multiplies by nb_vcpu, and counts the
 * idle time as busy (see the README for why and how the results differ). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "alumet/transform.h"
#include "energy-estimation-tdp.h"
#include "util/fsroot.h"

#define EET_DEFAULT_CONFIG                                                                         \
    "[plugins.energy-estimation-tdp]\n"                                                            \
    "# Poll interval of the procfs kernel source; accepted for compatibility with\n"               \
    "# upstream, the estimate does not depend on it\n"                                             \
    "poll_interval = \"5s\"\n"                                                                     \
    "# Thermal design power of all the processors of the host together, in watts\n"                \
    "tdp = 100.0\n"                                                                                \
    "# Virtual CPUs of this machine (1 on bare metal); the estimate does not depend on it\n"       \
    "nb_vcpu = 1.0\n"                                                                              \
    "# Logical CPUs of the host (all sockets): a busy one uses tdp / nb_cpu watts;\n"              \
    "# default: the CPUs online here (set it in a VM: the host has more)\n"                        \
    "# nb_cpu = 8.0\n"                                                                             \
    "# Also emit estimated_consumed_energy_total: one point per poll and resource\n"               \
    "# with the energy of all the CPU states (the reference of energy-attribution)\n"              \
    "# total = true\n"

static void energy_estimation_tdp_free(void *state)
{
    free(state);
}

/* A number greater than zero: required, or def when absent. */
static int energy_estimation_tdp_positive(struct alumet_config *cfg, const char *key, bool required,
                                          double def, double *ret, struct alumet_error *err)
{
    if (required && !alumet_config_has(cfg, key))
        return alumet_config_error(cfg, key, err, -EINVAL, "missing field '%s'", key);
    int r = alumet_config_get_float(cfg, key, def, ret, err);
    if (r < 0)
        return r;
    if (!(*ret > 0.0) || *ret > 1e12)
        return alumet_config_error(cfg, key, err, -EINVAL,
                                   "expected a number greater than 0 (and below 1e12)");
    return 0;
}

/* Read the small file rel of root into buf (trimmed); "" when unreadable. */
static void energy_estimation_tdp_read(const struct fsroot *root, const char *rel, char *buf,
                                       size_t size)
{
    buf[0] = '\0';
    int fd = fsroot_openat(root, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
}

/* Whether /proc/cpuinfo has the "hypervisor" flag (a line "flags : ... hypervisor ..."). */
static bool energy_estimation_tdp_hypervisor_flag(const struct fsroot *proc)
{
    int fd = fsroot_openat(proc, "proc/cpuinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return false;
    }
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        if (strncmp(line, "flags", 5) == 0 && strstr(line, " hypervisor"))
            found = true;
    fclose(f);
    return found;
}

/* Why this machine looks like a virtual machine ("" when it does not): the
 * DMI vendor or product of a hypervisor, or the CPU flag "hypervisor". */
static void energy_estimation_tdp_detect_vm(const char *sys_root, const char *proc_root, char *why,
                                            size_t size)
{
    static const char *const vendors[] = {"QEMU",       "KVM",    "VMware",    "VirtualBox",
                                          "innotek",    "Xen",    "Bochs",     "Parallels",
                                          "Amazon EC2", "Google", "OpenStack", "Virtual Machine"};
    struct fsroot sys = {0}, proc = {0};
    char vendor[128], product[128];

    why[0] = '\0';
    if (fsroot_open(&sys, sys_root) == 0) {
        energy_estimation_tdp_read(&sys, "sys/class/dmi/id/sys_vendor", vendor, sizeof(vendor));
        energy_estimation_tdp_read(&sys, "sys/class/dmi/id/product_name", product, sizeof(product));
        fsroot_close(&sys);
        for (size_t i = 0; !why[0] && i < sizeof(vendors) / sizeof(vendors[0]); i++)
            if (strstr(vendor, vendors[i]) || strstr(product, vendors[i]))
                snprintf(why, size, "DMI '%s' '%s'", vendor, product);
    }
    if (!why[0] && fsroot_open(&proc, proc_root) == 0) {
        if (energy_estimation_tdp_hypervisor_flag(&proc))
            snprintf(why, size, "CPU flag 'hypervisor'");
        fsroot_close(&proc);
    }
}

static int energy_estimation_tdp_init(struct alumet_config *cfg, void **ret_state,
                                      struct alumet_error *err)
{
    struct energy_estimation_tdp *eet = calloc(1, sizeof(*eet));
    int r;

    if (!eet)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    /* tdp and nb_cpu make the estimate; upstream requires all four keys, we
     * default nb_cpu to the CPUs online here (right on bare metal) */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if ((r = energy_estimation_tdp_positive(cfg, "tdp", true, 0.0, &eet->tdp, err)) < 0 ||
        (r = energy_estimation_tdp_positive(cfg, "nb_cpu", false, online > 0 ? (double)online : 1.0,
                                            &eet->nb_cpu, err)) < 0 ||
        (r = energy_estimation_tdp_positive(cfg, "nb_vcpu", false, 1.0, &eet->nb_vcpu, err)) < 0 ||
        (r = alumet_config_get_interval(cfg, "poll_interval", 5 * ALUMET_NSEC_PER_SEC,
                                        &eet->poll_interval, err)) < 0)
        goto err_free;
    const char *sys_root, *proc_root;
    if ((r = alumet_config_get_bool(cfg, "total", false, &eet->total, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "sys_root", "/", &sys_root, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "proc_root", "/", &proc_root, err)) < 0)
        goto err_free;
    /* In a VM, the generated tdp (100 W) and the default nb_cpu (the vCPUs
     * here) describe nothing: say which keys to set. */
    bool tdp_placeholder = eet->tdp == 100.0, nb_cpu_default = !alumet_config_has(cfg, "nb_cpu");
    char why[300];
    energy_estimation_tdp_detect_vm(sys_root, proc_root, why, sizeof(why));
    if (why[0] && (tdp_placeholder || nb_cpu_default))
        snprintf(eet->vm_warning, sizeof(eet->vm_warning),
                 "this machine looks like a virtual machine (%s) and the estimate uses %s%s%s: "
                 "set plugins.energy-estimation-tdp.tdp to the TDP of the host's processors (W) "
                 "and plugins.energy-estimation-tdp.nb_cpu to the host's logical CPUs",
                 why, tdp_placeholder ? "the placeholder tdp = 100" : "",
                 tdp_placeholder && nb_cpu_default ? " and " : "",
                 nb_cpu_default ? "nb_cpu = the vCPUs of this VM" : "");
    *ret_state = eet;
    return 0;

err_free:
    energy_estimation_tdp_free(eet);
    return r;
}

/* Find the input metric and the factor from its unit to seconds. */
static int energy_estimation_tdp_resolve(struct energy_estimation_tdp_transform *t,
                                         const struct alumet_registry *reg,
                                         struct alumet_error *err)
{
    const struct alumet_metric *m = alumet_registry_find(reg, EET_INPUT_METRIC);
    if (!m)
        return alumet_error_set(err, -ENOENT,
                                "metric '" EET_INPUT_METRIC "' not found: enable the kernel "
                                "source of the procfs plugin ([plugins.procfs.kernel])");
    double seconds;
    switch (m->unit.base == ALUMET_UNIT_SECOND ? m->unit.prefix : _ALUMET_PREFIX_INVALID) {
    case ALUMET_PREFIX_NANO:
        seconds = 1e-9;
        break;
    case ALUMET_PREFIX_MICRO:
        seconds = 1e-6;
        break;
    case ALUMET_PREFIX_MILLI:
        seconds = 1e-3;
        break;
    case ALUMET_PREFIX_PLAIN:
        seconds = 1.0;
        break;
    default:
        return alumet_error_set(err, -EINVAL,
                                "metric '" EET_INPUT_METRIC "' is in '%s', not in seconds (s, "
                                "ms, us or ns): it does not come from the procfs plugin",
                                m->unit_unique);
    }
    t->in = m->id;
    t->joules_per_unit = seconds * t->watts_per_cpu;
    t->resolved = true;
    return 0;
}

/* Whether the CPU time of point p is work of this machine's CPUs. The time
 * of the idle state, the time stolen by the hypervisor for other machines
 * (steal) and the time of the guests (guest, guest_nice: the kernel already
 * counts it in user and nice) gets 0 J, so that the points of a resource
 * add up to its energy. iowait is idle time too (procfs does not report it). */
static bool energy_estimation_tdp_is_work(const struct alumet_buffer *buf,
                                          const struct alumet_point *p)
{
    static const char *const not_work[] = {"idle", "iowait", "steal", "guest", "guest_nice"};
    const struct alumet_attr *a = alumet_point_find_attr(buf, p, "cpu_state");

    if (!a || a->type != ALUMET_ATTR_STR || !a->v.str)
        return true;
    for (size_t i = 0; i < sizeof(not_work) / sizeof(not_work[0]); i++)
        if (strcmp(a->v.str, not_work[i]) == 0)
            return false;
    return true;
}

/* Label an estimate: estimate = "tdp", tdp = W, nb_cpu = N. */
static int energy_estimation_tdp_label(const struct energy_estimation_tdp_transform *t,
                                       struct alumet_buffer *buf, struct alumet_point *e)
{
    if (alumet_point_add_attr_str(buf, e, "estimate", "tdp") < 0 ||
        alumet_point_add_attr_f64(buf, e, "tdp", t->tdp) < 0 ||
        alumet_point_add_attr_f64(buf, e, "nb_cpu", t->nb_cpu) < 0)
        return -ENOMEM;
    return 0;
}

static bool energy_estimation_tdp_same_resource(const struct alumet_resource *a,
                                                const struct alumet_resource *b)
{
    return a->kind == b->kind && a->num == b->num &&
           (a->str == b->str || (a->str && b->str && strcmp(a->str, b->str) == 0)) &&
           (a->custom_kind == b->custom_kind ||
            (a->custom_kind && b->custom_kind && strcmp(a->custom_kind, b->custom_kind) == 0));
}

/* Add joules to the total point of p's timestamp and resource among the
 * points appended from index `from`, created when absent. */
static int energy_estimation_tdp_add_total(const struct energy_estimation_tdp_transform *t,
                                           struct alumet_buffer *buf, size_t from,
                                           const struct alumet_point *p, double joules)
{
    for (size_t k = alumet_buffer_len(buf); k-- > from;) {
        struct alumet_point *q = (struct alumet_point *)alumet_buffer_get(buf, k);
        if (q->metric == t->total && q->timestamp == p->timestamp &&
            energy_estimation_tdp_same_resource(&q->resource, &p->resource)) {
            q->value.f64 += joules;
            return 0;
        }
    }
    struct alumet_point *q =
        alumet_buffer_push_f64(buf, p->timestamp, t->total, &p->resource, &p->consumer, joules);
    if (!q || energy_estimation_tdp_label(t, buf, q) < 0)
        return -ENOMEM;
    return 0;
}

static int energy_estimation_tdp_apply(void *data, struct alumet_buffer *buf,
                                       const struct alumet_registry *reg, struct alumet_error *err)
{
    struct energy_estimation_tdp_transform *t = data;
    size_t n = alumet_buffer_len(buf);
    int r;

    if (!t->resolved && (r = energy_estimation_tdp_resolve(t, reg, err)) < 0)
        return r;

    size_t first_total = alumet_buffer_len(buf);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        if (p->metric != t->in)
            continue;
        double cpu = p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64;
        double joules = energy_estimation_tdp_is_work(buf, p) ? cpu * t->joules_per_unit : 0.0;
        /* a push may move the points: keep a copy of this one (its strings
         * stay in the buffer's arena) */
        const struct alumet_point in = *p;
        /* same timestamp, resource, consumer and attributes (cpu_state) */
        struct alumet_point *e = alumet_buffer_push_copy(buf, buf, &in);
        if (!e || energy_estimation_tdp_label(t, buf, e) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        e->metric = t->out;
        e->value_type = ALUMET_VALUE_F64;
        e->value.f64 = joules;
        if (t->with_total && energy_estimation_tdp_add_total(t, buf, first_total, &in, joules) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

const struct alumet_transform_ops energy_estimation_tdp_transform_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = energy_estimation_tdp_apply,
    .free = free,
};

static int energy_estimation_tdp_start(void *state, struct alumet_start_ctx *ctx,
                                       struct alumet_error *err)
{
    struct energy_estimation_tdp *eet = state;
    struct energy_estimation_tdp_transform *t = calloc(1, sizeof(*t));
    if (!t)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    t->watts_per_cpu = eet->tdp / eet->nb_cpu;
    t->tdp = eet->tdp;
    t->nb_cpu = eet->nb_cpu;
    t->with_total = eet->total;
    int r = alumet_create_metric(ctx, EET_OUTPUT_METRIC, ALUMET_VALUE_F64, ALUMET_UNIT(JOULE),
                                 "CPU's estimated energy consumption", &t->out, err);
    if (r >= 0 && eet->total)
        r = alumet_create_metric(ctx, EET_TOTAL_METRIC, ALUMET_VALUE_F64, ALUMET_UNIT(JOULE),
                                 "CPU's estimated energy consumption, all CPU states together",
                                 &t->total, err);
    if (r >= 0)
        r = alumet_add_transform(ctx, "transform", &energy_estimation_tdp_transform_ops, t, err);
    if (r < 0) {
        free(t);
        return r;
    }
    eet->running = t;
    if (eet->vm_warning[0])
        alumet_log_at(alumet_start_log_topic(ctx), ALUMET_LOG_WARN, "%s", eet->vm_warning);
    alumet_log_at(alumet_start_log_topic(ctx), ALUMET_LOG_DEBUG,
                  "estimating the CPU energy as CPU time x '%g' W (tdp '%g' W / nb_cpu '%g')",
                  t->watts_per_cpu, eet->tdp, eet->nb_cpu);
    return 0;
}

/* Look the input metric up once every plugin has registered its own: a
 * missing or odd one stops the startup. */
static int energy_estimation_tdp_pre_pipeline_start(void *state, struct alumet_pre_start_ctx *ctx,
                                                    struct alumet_error *err)
{
    struct energy_estimation_tdp *eet = state;
    return energy_estimation_tdp_resolve(eet->running, alumet_pre_start_registry(ctx), err);
}

static int energy_estimation_tdp_stop(void *state, struct alumet_error *err)
{
    struct energy_estimation_tdp *eet = state;
    (void)err;
    eet->running = NULL; /* freed by the core */
    return 0;
}

const struct alumet_plugin alumet_plugin_energy_estimation_tdp = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "energy-estimation-tdp",
    .version = "2.0.0",
    .default_config = EET_DEFAULT_CONFIG,
    .init = energy_estimation_tdp_init,
    .start = energy_estimation_tdp_start,
    .pre_pipeline_start = energy_estimation_tdp_pre_pipeline_start,
    .stop = energy_estimation_tdp_stop,
    .free = energy_estimation_tdp_free,
};
