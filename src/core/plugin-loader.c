/* SPDX-License-Identifier: MIT */
/* The plugin set: built-in plugins and dynamic ones loaded with dlopen. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int alumet__plugins_add(struct plugin_set *set, const struct alumet_plugin *def, void *dl_handle,
                        struct alumet_error *err)
{
    if (alumet__plugins_find(set, def->name))
        return alumet_error_set(err, -EEXIST, "plugin '%s' is defined twice", def->name);
    if (set->len == set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 32;
        struct agent_plugin *n = realloc(set->items, ncap * sizeof(*n));
        if (!n)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        set->items = n;
        set->cap = ncap;
    }
    struct agent_plugin *ap = &set->items[set->len++];
    *ap = (struct agent_plugin){.def = def, .enabled = true, .dl_handle = dl_handle};
    ap->topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT(def->name);
    return 0;
}

struct agent_plugin *alumet__plugins_find(struct plugin_set *set, const char *name)
{
    for (size_t i = 0; i < set->len; i++)
        if (strcmp(set->items[i].def->name, name) == 0)
            return &set->items[i];
    return NULL;
}

void alumet__plugins_done(struct plugin_set *set)
{
    for (size_t i = 0; i < set->len; i++) {
        struct alumet_plugin *stub = set->items[i].stub;
        if (stub) {
            free((char *)stub->name);
            free((char *)stub->version);
            free(stub);
        }
        free(set->items[i].module_path);
        free(set->items[i].module_symbol);
        toml_free(set->items[i].owned_config);
        if (set->items[i].dl_handle)
            dlclose(set->items[i].dl_handle);
    }
    free(set->items);
    *set = (struct plugin_set){0};
}

int alumet__plugins_load_file(struct plugin_set *set, const char *path, struct alumet_error *err)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return alumet_error_set(err, -ENOEXEC, "cannot load plugin '%s': %s", path, dlerror());
    const struct alumet_plugin *def = dlsym(h, ALUMET_PLUGIN_ENTRY_SYMBOL);
    if (!def) {
        dlclose(h);
        return alumet_error_set(err, -ENOEXEC,
                                "'%s' is not an alumet plugin: it does not export the symbol "
                                "'%s'",
                                path, ALUMET_PLUGIN_ENTRY_SYMBOL);
    }
    if (def->abi_version != ALUMET_PLUGIN_ABI) {
        int r = alumet_error_set(err, -EPROTO,
                                 "cannot load plugin '%s': it was built for plugin ABI version "
                                 "%u, but this agent has ABI version %u; rebuild the plugin "
                                 "against this version of alumet",
                                 path, def->abi_version, ALUMET_PLUGIN_ABI);
        dlclose(h);
        return r;
    }
    if (!def->name || !*def->name || !def->version) {
        dlclose(h);
        return alumet_error_set(err, -EINVAL, "plugin '%s' has no name or version", path);
    }
    int r = alumet__plugins_add(set, def, h, err);
    if (r < 0) {
        dlclose(h);
        return alumet_error_prefix(err, "cannot load '%s'", path);
    }
    return 0;
}

int alumet__plugins_add_module(struct plugin_set *set, const char *name, const char *version,
                               const char *path, const char *symbol, struct alumet_error *err)
{
    struct alumet_plugin *stub = calloc(1, sizeof(*stub));
    char *p = strdup(path), *sym = strdup(symbol);
    if (stub) {
        stub->abi_version = ALUMET_PLUGIN_ABI;
        stub->name = strdup(name);
        stub->version = strdup(version);
    }
    if (!stub || !stub->name || !stub->version || !p || !sym) {
        if (stub) {
            free((char *)stub->name);
            free((char *)stub->version);
        }
        free(stub);
        free(p);
        free(sym);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    int r = alumet__plugins_add(set, stub, NULL, err);
    if (r < 0) {
        free((char *)stub->name);
        free((char *)stub->version);
        free(stub);
        free(p);
        free(sym);
        return r;
    }
    struct agent_plugin *ap = &set->items[set->len - 1];
    ap->stub = stub;
    ap->module_path = p;
    ap->module_symbol = sym;
    return 0;
}

int alumet__plugins_resolve(struct agent_plugin *ap, struct alumet_error *err)
{
    if (!ap->module_path || ap->dl_handle)
        return 0;
    void *h = dlopen(ap->module_path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return alumet_error_set(err, -ENOEXEC,
                                "cannot load the module of plugin '%s': %s; reinstall alumet or "
                                "rebuild it",
                                ap->stub->name, dlerror());
    const struct alumet_plugin *def = dlsym(h, ap->module_symbol);
    if (!def || def->abi_version != ALUMET_PLUGIN_ABI || !def->name ||
        strcmp(def->name, ap->stub->name) != 0) {
        dlclose(h);
        return alumet_error_set(err, -EPROTO,
                                "'%s' is not the module of plugin '%s' for this agent (symbol "
                                "'%s' missing or of another ABI version); reinstall alumet",
                                ap->module_path, ap->stub->name, ap->module_symbol);
    }
    ap->def = def;
    ap->dl_handle = h;
    return 0;
}

static int loader_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int alumet__plugins_load_dir(struct plugin_set *set, const char *dir,
                             void (*report)(void *data, const char *msg), void *data,
                             struct alumet_error *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        int r = -errno;
        return alumet_error_set(err, r, "cannot read the plugin directory '%s': %s", dir,
                                strerror(-r));
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024) {
        size_t l = strlen(e->d_name);
        if (l > 3 && strcmp(e->d_name + l - 3, ".so") == 0 && (names[n] = strdup(e->d_name)))
            n++;
    }
    closedir(d);
    /* load in a stable order */
    qsort(names, n, sizeof(names[0]), loader_cmp);
    int loaded = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct alumet_error e2 = {0};
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (alumet__plugins_load_file(set, path, &e2) < 0)
            report(data, e2.msg);
        else
            loaded++;
        free(names[i]);
    }
    return loaded;
}
