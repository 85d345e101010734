/* SPDX-License-Identifier: MIT */
/* Control requests on running elements, addressed by name patterns. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log-internal.h"
#include "pipeline-internal.h"

#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_pipeline)

bool alumet__pattern_match_str(const char *pat, const char *s)
{
    size_t pl = strlen(pat), sl = strlen(s);
    if (strcmp(pat, "*") == 0)
        return true;
    if (pl && pat[pl - 1] == '*')
        return strncmp(pat, s, pl - 1) == 0;
    if (pat[0] == '*')
        return sl >= pl - 1 && strcmp(s + sl - (pl - 1), pat + 1) == 0;
    return strcmp(pat, s) == 0;
}

static int pattern_check(const char *what, const char *s, struct alumet_error *err)
{
    size_t l = strlen(s);
    if (l == 0)
        return alumet_error_set(err, -EINVAL, "invalid %s pattern: the string is empty", what);
    const char *star = strchr(s, '*');
    if (star && l > 1 && star != s && star != s + l - 1)
        return alumet_error_set(err, -EINVAL,
                                "invalid %s pattern '%s': asterisk '*' in the middle of the string",
                                what, s);
    if (star && l > 1 && star == s && strchr(s + 1, '*'))
        return alumet_error_set(err, -EINVAL,
                                "invalid %s pattern '%s': asterisk '*' in the middle of the string",
                                what, s);
    return 0;
}

int alumet__pattern_parse(const char *s, struct element_pattern *ret, struct alumet_error *err)
{
    struct element_pattern pat = {.kind = -1};
    char tmp[400];
    if (snprintf(tmp, sizeof(tmp), "%s", s) >= (int)sizeof(tmp))
        return alumet_error_set(err, -EINVAL, "element pattern too long: '%s'", s);
    char *parts[3] = {NULL, NULL, NULL};
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == 3)
            return alumet_error_set(err, -EINVAL,
                                    "invalid element pattern '%s': expected KIND/PLUGIN/NAME", s);
        parts[n++] = tok;
    }
    if (n == 0)
        return alumet_error_set(err, -EINVAL, "invalid element pattern: the string is empty");
    const char *plugin = "*", *name = "*";
    if (n == 3) {
        static const struct {
            const char *w;
            int k;
        } kinds[] = {{"src", 0},       {"source", 0},     {"sources", 0}, {"tra", 1},
                     {"transform", 1}, {"transforms", 1}, {"out", 2},     {"output", 2},
                     {"outputs", 2},   {"*", -1},         {"all", -1},    {"any", -1}};
        bool found = false;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            if (strcmp(parts[0], kinds[i].w) == 0) {
                pat.kind = kinds[i].k;
                found = true;
            }
        if (!found)
            return alumet_error_set(err, -EINVAL, "invalid element kind '%s' in pattern '%s'",
                                    parts[0], s);
        plugin = parts[1];
        name = parts[2];
    } else if (n == 2) {
        plugin = parts[0];
        name = parts[1];
    } else {
        plugin = parts[0];
    }
    int r = pattern_check("plugin", plugin, err);
    if (r < 0)
        return r;
    r = pattern_check("element name", name, err);
    if (r < 0)
        return r;
    snprintf(pat.plugin, sizeof(pat.plugin), "%s", plugin);
    snprintf(pat.name, sizeof(pat.name), "%s", name);
    *ret = pat;
    return 0;
}

static bool pattern_match(const struct element_pattern *pat, int kind, const char *plugin,
                          const char *name)
{
    return (pat->kind < 0 || pat->kind == kind) && alumet__pattern_match_str(pat->plugin, plugin) &&
           alumet__pattern_match_str(pat->name, name);
}

int alumet_pipeline_control(struct alumet_pipeline *p, const char *pattern,
                            enum alumet_control_op op, alumet_time_ns arg, struct alumet_error *err)
{
    struct element_pattern pat;
    int r = alumet__pattern_parse(pattern, &pat, err);
    if (r < 0)
        return r;
    if (op == ALUMET_CONTROL_SET_INTERVAL && arg <= 0)
        return alumet_error_set(err, -EINVAL, "the new poll interval must be positive");
    int n = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->sources.len; i++) {
        struct source *s = p->sources.items[i];
        if (!pattern_match(&pat, 0, s->plugin, s->name) || s->state == SRC_DONE)
            continue;
        n++;
        /* a request: the source's own thread applies it between two polls */
        switch (op) {
        case ALUMET_CONTROL_PAUSE:
            s->req_pause = true;
            s->req_resume = false;
            break;
        case ALUMET_CONTROL_RESUME:
            s->req_resume = true;
            s->req_pause = false;
            break;
        case ALUMET_CONTROL_STOP:
            s->req_stop = true;
            break;
        case ALUMET_CONTROL_TRIGGER_NOW:
            s->triggers_requested++;
            break;
        case ALUMET_CONTROL_FLUSH_NOW:
            s->req_flush = true;
            break;
        case ALUMET_CONTROL_SET_INTERVAL:
            s->req_interval = arg;
            break;
        default:
            n--;
            continue;
        }
        alumet__source_wake(s);
    }
    for (size_t i = 0; i < p->autonomous.len; i++) {
        struct alumet_autonomous *a = p->autonomous.items[i];
        if (!pattern_match(&pat, 0, a->plugin, a->name))
            continue;
        if (op == ALUMET_CONTROL_STOP) {
            uint64_t one = 1;
            atomic_store(&a->stop, true);
            if (write(a->stop_fd, &one, sizeof(one)) < 0)
                alumet_log_debug("eventfd write failed: %s", strerror(errno));
            n++;
        } else {
            alumet_log_warn("source %s/%s is autonomous: only 'stop' applies to it, ignoring",
                            a->plugin, a->name);
        }
    }
    for (size_t i = 0; i < p->transforms.len; i++) {
        struct transform *t = p->transforms.items[i];
        if (!pattern_match(&pat, 1, t->plugin, t->name))
            continue;
        if (op == ALUMET_CONTROL_ENABLE || op == ALUMET_CONTROL_RESUME) {
            atomic_store(&t->enabled, true);
            n++;
        } else if (op == ALUMET_CONTROL_DISABLE || op == ALUMET_CONTROL_PAUSE) {
            atomic_store(&t->enabled, false);
            n++;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

size_t alumet_pipeline_list_elements(struct alumet_pipeline *p, alumet_element_fn fn, void *data)
{
    static const char *const source_states[] = {[SRC_RUN] = "running",
                                                [SRC_PAUSE] = "paused",
                                                [SRC_STOP] = "stopped",
                                                [SRC_DONE] = "stopped"};
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->sources.len; i++, n++) {
        const struct source *s = p->sources.items[i];
        fn(data, ALUMET_ELEMENT_SOURCE, s->plugin, s->name, source_states[s->state],
           s->manual_only ? 0 : s->period);
    }
    for (size_t i = 0; i < p->autonomous.len; i++, n++) {
        struct alumet_autonomous *a = p->autonomous.items[i];
        fn(data, ALUMET_ELEMENT_SOURCE, a->plugin, a->name,
           atomic_load(&a->stop) ? "stopped" : "running", 0);
    }
    for (size_t i = 0; i < p->transforms.len; i++, n++) {
        struct transform *t = p->transforms.items[i];
        const char *state = atomic_load(&t->enabled) ? "enabled" : "disabled";
        fn(data, ALUMET_ELEMENT_TRANSFORM, t->plugin, t->name, t->failed ? "failed" : state, 0);
    }
    for (size_t i = 0; i < p->outputs.len; i++) {
        const struct output *o = p->outputs.items[i];
        if (o->internal)
            continue;
        fn(data, ALUMET_ELEMENT_OUTPUT, o->plugin, o->name, "running", 0);
        n++;
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}
