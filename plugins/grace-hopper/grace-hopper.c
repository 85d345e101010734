/* SPDX-License-Identifier: MIT */
/* grace-hopper: the power and energy of NVIDIA Grace and Grace Hopper
 * superchips from their ACPI power meters (hwmon), as upstream Alumet's
 * grace-hopper plugin (see README.md). This file holds the plugin struct, the
 * options, the discovery of the sensors and the lifecycle. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "grace-hopper.h"
#include "util/gpu-plugin.h"
#include "util/strbuf.h"

/* What `config regen` writes: upstream's two keys. The hidden sys_root is
 * documented in README.md. */
#define GH_DEFAULT_CONFIG                                                                          \
    "[plugins.grace-hopper]\n"                                                                     \
    "poll_interval = \"1s\"\n"                                                                     \
    "root_path = \"/sys/class/hwmon\"\n"

static const char *const gh_kind_names[_GH_KIND_MAX] = {"grace", "cpu", "sysio", "module", "dram"};

const char *gh_kind_name(enum gh_kind k)
{
    return k >= 0 && k < _GH_KIND_MAX ? gh_kind_names[k] : "unknown";
}

/* ---- discovery ---- */

/* "Grace Power Socket 0", "SysIO Power Socket 1" (any case, any blanks):
 * the kind and the socket. 0 or -EINVAL. */
static int gh_parse_oem_info(const char *text, enum gh_kind *ret_kind, uint32_t *ret_socket)
{
    char kind[16], power[16], socket[16];
    unsigned long n;
    int used = 0;
    if (sscanf(text, "%15s %15s %15s %lu %n", kind, power, socket, &n, &used) != 4 ||
        text[used] != '\0' || strcasecmp(power, "power") != 0 ||
        strcasecmp(socket, "socket") != 0 || n > UINT32_MAX)
        return -EINVAL;
    for (int k = 0; k < GH_DRAM; k++)
        if (strcasecmp(kind, gh_kind_names[k]) == 0) {
            *ret_kind = (enum gh_kind)k;
            *ret_socket = (uint32_t)n;
            return 0;
        }
    return -EINVAL;
}

struct gh_scan {
    size_t n_errors;
    struct strbuf errors;
    char text[2048];
};

static void gh_scan_error(struct gh *g, struct gh_scan *s, const char *rel, const char *why)
{
    char path[PATH_MAX];
    fsroot_path(&g->sys, rel, path, sizeof(path));
    strbuf_printf(&s->errors, "%s'%s': %s", s->n_errors ? "; " : "", path, why);
    s->n_errors++;
}

/* The device directory <root>/<name>/device: a sensor when it has
 * power1_oem_info. 0 or -ENOMEM. */
static int gh_scan_entry(struct gh *g, struct gh_source *src, struct gh_scan *s, const char *root,
                         const char *name)
{
    char rel[PATH_MAX], text[128];
    int n = snprintf(rel, sizeof(rel), "%s/%s/device/power1_oem_info", root, name);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return 0;
    int r = (int)gpu_plugin_read_text(&g->sys, rel, text, sizeof(text));
    if (r == -ENOENT || r == -ENOTDIR)
        return 0; /* another hwmon device (nvme, coretemp...) */
    if (r < 0) {
        gh_scan_error(g, s, rel, strerror(-r));
        return 0;
    }
    enum gh_kind kind;
    uint32_t socket;
    if (gh_parse_oem_info(text, &kind, &socket) < 0) {
        char why[256];
        snprintf(why, sizeof(why),
                 "unknown sensor '%s' (expected '<Grace|CPU|SysIO|Module> Power Socket <n>')",
                 text);
        gh_scan_error(g, s, rel, why);
        return 0;
    }
    snprintf(rel, sizeof(rel), "%s/%s/device/power1_average", root, name);
    struct gh_sensor *sensor = gh_source_add(src);
    if (!sensor)
        return -ENOMEM;
    sensor->kind = kind;
    sensor->socket = socket;
    r = procfile_open(&sensor->pf, g->sys.fd, rel, 32);
    if (r == 0)
        r = gh_sensor_read(sensor);
    char full[PATH_MAX];
    fsroot_path(&g->sys, rel, full, sizeof(full));
    sensor->what = strdup(full);
    if (r == -ENOMEM || !sensor->what)
        return -ENOMEM;
    if (r < 0) {
        gh_scan_error(g, s, rel, r == -EINVAL ? "not a number" : strerror(-r));
        procfile_close(&sensor->pf);
        free(sensor->what);
        src->n--;
    }
    return 0;
}

/* Find the sensors. The number found (0: none, said in a warning), or a
 * negative errno with err. */
static int gh_discover(struct gh *g, struct gh_source *src, struct alumet_error *err)
{
    struct gh_scan s = {0};
    char root_path[PATH_MAX];
    const char *root = g->cfg.root_path;
    while (*root == '/')
        root++;
    if (!*root)
        root = ".";
    s.errors = strbuf_of(s.text, sizeof(s.text));
    fsroot_path(&g->sys, root, root_path, sizeof(root_path));

    DIR *d = NULL;
    int r = fsroot_opendir(&g->sys, root, &d);
    if (r < 0 && r != -ENOENT && r != -ENOTDIR)
        return alumet_error_set(err, r, "cannot list '%s': %s", root_path, strerror(-r));
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        r = gh_scan_entry(g, src, &s, root, e->d_name);
    }
    if (d)
        closedir(d);
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");

    if (src->n == 0 && s.n_errors > 0)
        return alumet_error_set(err, -EACCES,
                                "no Grace power sensor could be read, are the permissions set "
                                "properly? The agent needs read access to the hwmon files (run "
                                "it as root, or grant read access with a udev rule); %zu file(s) "
                                "failed: %s",
                                s.n_errors, s.text);
    if (src->n == 0) {
        gh_log(g, ALUMET_LOG_WARN,
               "no Grace power telemetry found: no '%s/<hwmon>/device/power1_oem_info' file "
               "(%s); on a Grace or Grace Hopper machine the kernel needs "
               "CONFIG_SENSORS_ACPI_POWER and the boot option acpi_power_meter.force_cap_on=y; "
               "the grace-hopper plugin measures nothing, skipping",
               root_path, r < 0 ? "the directory does not exist" : "no such device");
        return 0;
    }
    if (s.n_errors > 0)
        gh_log(g, ALUMET_LOG_WARN,
               "%zu Grace power sensor file(s) cannot be used: %s; ignoring them", s.n_errors,
               s.text);
    if (gh_source_finish(src) < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < src->n_sockets; i++)
        if (!src->sockets[i].dram)
            gh_log(g, ALUMET_LOG_INFO,
                   "no DRAM estimate for socket %" PRIu32
                   ": it needs the grace, cpu and sysio sensors of the socket",
                   src->sockets[i].id);
    gh_log(g, ALUMET_LOG_INFO, "measuring %zu Grace power sensor(s) of %zu socket(s) in '%s'",
           src->n, src->n_sockets, root_path);
    return (int)src->n;
}

/* ---- options ---- */

/* Every key is optional (upstream requires both when the section exists). */
static int gh_parse_config(struct gh_config *c, struct alumet_config *cfg, struct alumet_error *err)
{
    int r = alumet_config_get_interval(cfg, "poll_interval", ALUMET_NSEC_PER_SEC, &c->poll_interval,
                                       err);
    if (r < 0)
        return r;
    r = gpu_plugin_get_path(cfg, "root_path", "/sys/class/hwmon", "a directory", &c->root_path,
                            err);
    if (r < 0)
        return r;
    return gpu_plugin_get_path(cfg, "sys_root", "/", "a directory", &c->sys_root, err);
}

/* ---- lifecycle ---- */

static void gh_free(void *state)
{
    struct gh *g = state;
    if (!g)
        return;
    fsroot_close(&g->sys);
    free(g->cfg.root_path);
    free(g->cfg.sys_root);
    free(g);
}

static int gh_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct gh *g = calloc(1, sizeof(*g));
    if (!g)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    g->sys = (struct fsroot)FSROOT_INIT;
    g->fallback_log = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("grace-hopper");
    g->log = &g->fallback_log;
    int r = gh_parse_config(&g->cfg, cfg, err);
    if (r < 0) {
        gh_free(g);
        return r;
    }
    *ret_state = g;
    return 0;
}

static int gh_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct gh *g = state;
    g->log = alumet_start_log_topic(ctx);
    int r = gpu_plugin_open_sys_root(&g->sys, g->cfg.sys_root, "grace-hopper", "root_path is below",
                                     err);
    if (r < 0)
        return r;
    struct gh_source *src = gh_source_new(g);
    if (!src) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_close;
    }
    r = gh_discover(g, src, err);
    if (r <= 0) {
        gh_source_ops.free(src);
        if (r == 0)
            return 0; /* no sensor: said in a warning, the agent goes on */
        goto err_close;
    }
    r = alumet_create_metric(
        ctx, "grace_instant_power", ALUMET_VALUE_U64, ALUMET_UNIT_PREFIXED(MICRO, WATT),
        "instantaneous power of the Grace (Hopper) sensors", &src->power_metric, err);
    if (r == 0)
        r = alumet_create_metric(ctx, "grace_energy_consumption", ALUMET_VALUE_F64,
                                 ALUMET_UNIT_PREFIXED(MILLI, JOULE),
                                 "energy consumed since the previous measurement, integrated "
                                 "from grace_instant_power",
                                 &src->energy_metric, err);
    struct alumet_source_opts opts = {
        .size = sizeof(opts),
        .poll_interval = g->cfg.poll_interval,
        .flush_interval = 0,    /* upstream flushes after every poll */
        .baseline_first = true, /* energy: the power integrated since the previous poll */
    };
    if (r == 0)
        r = alumet_add_source(ctx, GH_SOURCE_NAME, &gh_source_ops, src, &opts, err);
    if (r < 0) {
        gh_source_ops.free(src);
        goto err_close;
    }
    g->source = src;
    return 0;

err_close:
    fsroot_close(&g->sys);
    return r;
}

/* The core has freed the source by now: release what start opened. */
static int gh_stop(void *state, struct alumet_error *err)
{
    struct gh *g = state;
    (void)err;
    fsroot_close(&g->sys);
    g->source = NULL;
    g->log = &g->fallback_log;
    return 0;
}

const struct alumet_plugin alumet_plugin_grace_hopper = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "grace-hopper",
    .version = "0.1.0",
    .default_config = GH_DEFAULT_CONFIG,
    .init = gh_init,
    .start = gh_start,
    .stop = gh_stop,
    .free = gh_free,
};
