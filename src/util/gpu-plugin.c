/* SPDX-License-Identifier: MIT */
/* The options and start-up pieces shared by the GPU source plugins (see
 * gpu-plugin.h). */
#include "gpu-plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gpu_plugin_get_intervals(struct alumet_config *cfg, alumet_time_ns *ret_poll,
                             alumet_time_ns *ret_flush, struct alumet_error *err)
{
    int r = alumet_config_get_interval(cfg, "poll_interval", ALUMET_NSEC_PER_SEC, ret_poll, err);
    if (r < 0)
        return r;
    return alumet_config_get_interval(cfg, "flush_interval", 5 * ALUMET_NSEC_PER_SEC, ret_flush,
                                      err);
}

int gpu_plugin_get_path(struct alumet_config *cfg, const char *key, const char *def,
                        const char *what, char **ret, struct alumet_error *err)
{
    const char *v;
    int r = alumet_config_get_string(cfg, key, def, &v, err);
    if (r < 0)
        return r;
    if (!*v)
        return alumet_config_error(cfg, key, err, -EINVAL, "expected %s, got an empty string",
                                   what);
    *ret = strdup(v);
    if (!*ret)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

int gpu_plugin_get_idle_power(struct alumet_config *cfg, const char *example, bool *ret_set,
                              double *ret_mw, struct alumet_error *err)
{
    if (!alumet_config_has(cfg, "idle_power"))
        return 0;
    double w;
    int r = alumet_config_get_float(cfg, "idle_power", 0, &w, err);
    if (r < 0)
        return r;
    if (!(w >= 0 && w < 1e6))
        return alumet_config_error(cfg, "idle_power", err, -EINVAL,
                                   "expected a power in watts, 0 or more (such as %s)", example);
    *ret_set = true;
    *ret_mw = w * 1000;
    return 0;
}

int gpu_plugin_get_device_options(struct alumet_config *cfg, struct gpu_device_options *o,
                                  struct alumet_error *err)
{
    int r = gpu_plugin_get_intervals(cfg, &o->poll_interval, &o->flush_interval, err);
    if (r < 0)
        return r;
    return alumet_config_get_bool(cfg, "skip_failed_devices", /* def= */ true,
                                  &o->skip_failed_devices, err);
}

int gpu_plugin_get_split_options(struct alumet_config *cfg, const char *idle_example,
                                 const char *lib_default, struct gpu_device_options *o,
                                 struct alumet_error *err)
{
    int r = alumet_config_get_bool(cfg, "process_energy", /* def= */ true, &o->process_energy, err);
    if (r < 0)
        return r;
    r = gpu_plugin_get_idle_power(cfg, idle_example, &o->idle_power_set, &o->idle_power_mw, err);
    if (r < 0)
        return r;
    return gpu_plugin_get_path(cfg, "library", lib_default, "a library name or path", &o->library,
                               err);
}

void *gpu_plugin_dlopen(const char *name, const char **ret_why)
{
    dlerror();
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        *ret_why = why ? why : "unknown reason";
    }
    return handle;
}

int gpu_plugin_dlsym(void *handle, const char *sym, bool required, void **ret,
                     struct alumet_error *err)
{
    *ret = dlsym(handle, sym);
    if (!*ret && required)
        return alumet_error_set(err, -ENOENT, "the library has no symbol '%s'", sym);
    return 0;
}

int gpu_plugin_create_metric(struct alumet_start_ctx *ctx, const struct gpu_metric_def *def,
                             alumet_metric_id *ret, struct alumet_error *err)
{
    struct alumet_unit unit = {def->base, def->prefix, NULL, NULL};
    return alumet_create_metric(ctx, def->name, def->type, unit, def->description, ret, err);
}

int gpu_plugin_open_sys_root(struct fsroot *sys, const char *path, const char *plugin,
                             const char *that, struct alumet_error *err)
{
    int r = fsroot_open(sys, path);
    if (r < 0)
        return alumet_error_set(err, r,
                                "cannot open the sys root '%s': %s; the hidden option "
                                "plugins.%s.sys_root must name the directory that %s "
                                "(default \"/\")",
                                path, strerror(-r), plugin, that);
    return 0;
}

ssize_t gpu_plugin_read_text(const struct fsroot *sys, const char *rel, char *buf, size_t size)
{
    int fd = fsroot_openat(sys, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    ssize_t n;
    while ((n = pread(fd, buf, size - 1, 0)) < 0 && errno == EINTR)
        ;
    int r = n < 0 ? -errno : 0;
    close(fd);
    if (r < 0)
        return r;
    size_t len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    buf[len] = '\0';
    return (ssize_t)len;
}

void gpu_plugin_feature_list(char *text, size_t size, unsigned features, const char *const *names,
                             int n_names)
{
    size_t len = 0;
    text[0] = '\0';
    for (int f = 0; f < n_names; f++) {
        if (!(features & (1u << (unsigned)f)))
            continue;
        int n = snprintf(text + len, size - len, "%s%s", len ? ", " : "", names[f]);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
}
