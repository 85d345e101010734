/* SPDX-License-Identifier: MIT */
#include "curl-lazy.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static struct alumet_curl fns;
static int load_result = -ENOENT;
static char load_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void curl_load_once(void)
{
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof(load_error), "cannot load libcurl (%s): install libcurl4",
                 dlerror());
        return;
    }
    struct {
        void **slot;
        const char *name;
    } const syms[] = {
        {(void **)&fns.global_init, "curl_global_init"},
        {(void **)&fns.global_cleanup, "curl_global_cleanup"},
        {(void **)&fns.easy_init, "curl_easy_init"},
        {(void **)&fns.easy_cleanup, "curl_easy_cleanup"},
        {(void **)&fns.easy_setopt, "curl_easy_setopt"},
        {(void **)&fns.easy_getinfo, "curl_easy_getinfo"},
        {(void **)&fns.easy_perform, "curl_easy_perform"},
        {(void **)&fns.easy_strerror, "curl_easy_strerror"},
        {(void **)&fns.easy_escape, "curl_easy_escape"},
        {(void **)&fns.free, "curl_free"},
        {(void **)&fns.slist_append, "curl_slist_append"},
        {(void **)&fns.slist_free_all, "curl_slist_free_all"},
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
            snprintf(load_error, sizeof(load_error), "libcurl.so.4 lacks %s: install libcurl4",
                     syms[i].name);
            dlclose(h);
            return;
        }
    }
    load_result = 0; /* the library stays loaded until the agent exits */
}

int alumet_curl_load(char *err, size_t size)
{
    pthread_once(&once, curl_load_once);
    if (load_result < 0 && err && size)
        snprintf(err, size, "%s", load_error);
    return load_result;
}

const struct alumet_curl *alumet_curl(void)
{
    pthread_once(&once, curl_load_once);
    return &fns;
}
