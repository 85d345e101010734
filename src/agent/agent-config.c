/* SPDX-License-Identifier: MIT */
/* Loading alumet-config.toml: default generation, substitution, overrides,
 * plugin sections (enable switches and order) and the general options. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "alumet/log.h"
#include "core/config/config-tree.h"
#include "util/edit-distance.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

/* The built plugin closest to name (edit distance at most 2), or NULL: a
 * name that close is a typo, not a plugin of another build. */
static const char *agent_closest_plugin(struct agent *a, const char *name)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < a->plugins.len; i++) {
        size_t d = edit_distance(name, a->plugins.items[i].def->name);
        if (d < bd) {
            bd = d;
            best = a->plugins.items[i].def->name;
        }
    }
    return best;
}

int agent_apply_plugins_flag(struct agent *a)
{
    if (!a->plugins_flag)
        return 0;
    for (size_t i = 0; i < a->plugins.len; i++)
        a->plugins.items[i].enabled = false;
    char *list = strdup(a->plugins_flag);
    if (!list)
        return -ENOMEM;
    int r = 0;
    char *save = NULL;
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        while (*name == ' ')
            name++;
        struct agent_plugin *ap = alumet__plugins_find(&a->plugins, name);
        if (ap) {
            ap->enabled = true;
        } else if (*name) {
            /* asked for explicitly: an error (upstream only logs it) */
            const char *best = agent_closest_plugin(a, name);
            alumet_log_error("Plugin %s is not available in this binary of Alumet Agent.%s%s%s",
                             name, best ? " Did you mean '" : "", best ? best : "",
                             best ? "'?" : "");
            r = -ENOENT;
        }
    }
    free(list);
    return r;
}

char *agent_default_config(struct agent *a)
{
    size_t len = 0;
    for (size_t i = 0; i < a->plugins.len; i++) {
        struct alumet_error err = {0};
        if (a->plugins.items[i].enabled && alumet__plugins_resolve(&a->plugins.items[i], &err) < 0)
            alumet_log_error("%s", err.msg);
    }
    for (size_t i = 0; i < a->plugins.len; i++)
        if (a->plugins.items[i].enabled && a->plugins.items[i].def->default_config)
            len += strlen(a->plugins.items[i].def->default_config) + 2;
    char *text = malloc(len + 16);
    if (!text)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < a->plugins.len; i++) {
        const char *d = a->plugins.items[i].def->default_config;
        if (!a->plugins.items[i].enabled || !d)
            continue;
        if (w)
            text[w++] = '\n';
        size_t l = strlen(d);
        memcpy(text + w, d, l);
        w += l;
        if (l && d[l - 1] != '\n')
            text[w++] = '\n';
    }
    if (w == 0) {
        memcpy(text, "[plugins]\n", 10);
        w = 10;
    }
    text[w] = '\0';
    return text;
}

int agent_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int r = -errno;
        alumet_log_error("write (of default config) failed: cannot create '%s': %s", path,
                         strerror(-r));
        return r;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0) {
            int r = -errno;
            if (r == -EINTR)
                continue;
            alumet_log_error("write (of default config) failed: '%s': %s", path, strerror(-r));
            close(fd);
            return r;
        }
        off += (size_t)n;
    }
    return close(fd) < 0 ? -errno : 0;
}

/* A TOML basic string for value (escapes " and \ and control characters). */
static char *config_quote(const char *value)
{
    size_t len = strlen(value);
    char *q = malloc(len * 6 + 3);
    if (!q)
        return NULL;
    size_t w = 0;
    q[w++] = '"';
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if (*s == '"' || *s == '\\') {
            q[w++] = '\\';
            q[w++] = (char)*s;
        } else if (*s < 0x20 || *s == 0x7f) {
            w += (size_t)snprintf(q + w, 7, "\\u%04x", *s);
        } else {
            q[w++] = (char)*s;
        }
    }
    q[w++] = '"';
    q[w] = '\0';
    return q;
}

static int config_override(struct agent *a, const char *text, const char *what)
{
    struct alumet_error err = {0};
    struct toml_value *over = NULL;
    int r = alumet__config_load_text(text, strlen(text), what, 0, &over, &err);
    if (r < 0) {
        alumet_log_error("invalid config overrides: config override is not a valid TOML table: "
                         "%s (%s)",
                         text, err.msg);
        return r;
    }
    r = alumet__config_merge(a->config, over);
    toml_free(over);
    return r;
}

static int config_shorthand(struct agent *a, const char *key, const char *value)
{
    char *q = config_quote(value);
    if (!q)
        return -ENOMEM;
    size_t len = strlen(key) + strlen(q) + 4;
    char *line = malloc(len);
    int r = -ENOMEM;
    if (line) {
        snprintf(line, len, "%s = %s", key, q);
        r = config_override(a, line, "--config-override");
        free(line);
    }
    free(q);
    return r;
}

/* --relay-out/--relay-in: shorthands for the relay plugins' addresses; an
 * error when the plugin is not built (the option asks for it explicitly). */
static int config_relay(struct agent *a, const char *opt, const char *plugin, const char *key,
                        const char *value)
{
    if (!alumet__plugins_find(&a->plugins, plugin)) {
        alumet_log_error("%s: the %s plugin is not built into this agent; send the measurements "
                         "with an output plugin instead (see 'alumet-agent plugins list')",
                         opt, plugin);
        return -ENOENT;
    }
    char path[128];
    snprintf(path, sizeof(path), "plugins.%s.%s", plugin, key);
    return config_shorthand(a, path, value);
}

static void config_report(void *data, const char *msg)
{
    struct agent *a = data;
    a->config_problems++;
    alumet_log_error("%s", msg);
}

/* Move the plugins named in the config to the front, in file order. */
static void config_order_plugins(struct agent *a, struct toml_value *plugins)
{
    size_t front = 0;
    for (size_t k = 0; k < plugins->u.tab.len; k++) {
        for (size_t i = front; i < a->plugins.len; i++) {
            if (strcmp(a->plugins.items[i].def->name, plugins->u.tab.items[k].key) == 0) {
                struct agent_plugin tmp = a->plugins.items[i];
                memmove(&a->plugins.items[front + 1], &a->plugins.items[front],
                        (i - front) * sizeof(tmp));
                a->plugins.items[front++] = tmp;
                break;
            }
        }
    }
}

/* A section of a plugin this agent does not have: a typo of a built
 * plugin is an error; a plugin of another build (upstream's quarch, mongodb...)
 * is ignored with a warning, and an error only when it is enabled
 * explicitly (enabled = true), as nothing would measure what it asks for. */
static int config_missing_plugin(struct agent *a, struct toml_kv *kv)
{
    struct toml_value *sect = kv->val;
    const char *file = sect->file ? sect->file : "?";
    const char *best = agent_closest_plugin(a, kv->key);
    if (best) {
        alumet_log_error("%s:%d:%d: unknown plugin '%s' in configuration, did you mean '%s'?", file,
                         kv->line, kv->col, kv->key, best);
        return -EINVAL;
    }
    struct toml_value *on = sect->type == TOML_TABLE ? toml_table_get(sect, "enabled") : NULL;
    if (on && on->type == TOML_BOOL && on->u.b) {
        alumet_log_error("%s:%d:%d: plugins.%s.enabled: the plugin '%s' is not built into this "
                         "agent; remove the section or set enabled = false (see 'alumet-agent "
                         "plugins list')",
                         file, on->line, on->col, kv->key, kv->key);
        return -EINVAL;
    }
    alumet_log_warn("%s:%d:%d: plugin '%s' is not built into this agent; section ignored", file,
                    kv->line, kv->col, kv->key);
    return 0;
}

static int config_plugins(struct agent *a)
{
    struct toml_value *plugins = toml_table_get(a->config, "plugins");
    if (!plugins) {
        if (!a->plugins_flag)
            for (size_t i = 0; i < a->plugins.len; i++)
                a->plugins.items[i].enabled = false;
        return 0;
    }
    char path[512];
    if (plugins->type != TOML_TABLE) {
        alumet__config_path(plugins, path, sizeof(path));
        alumet_log_error("%s:%d:%d: unexpected type for plugins: expected table, got %s",
                         plugins->file ? plugins->file : "?", plugins->line, plugins->col,
                         toml_type_name(plugins->type));
        return -EINVAL;
    }
    int problems = 0;
    bool *mentioned = calloc(a->plugins.len + 1, sizeof(bool));
    if (!mentioned)
        return -ENOMEM;
    for (size_t k = 0; k < plugins->u.tab.len; k++) {
        struct toml_kv *kv = &plugins->u.tab.items[k];
        struct toml_value *sect = kv->val;
        struct agent_plugin *ap = alumet__plugins_find(&a->plugins, kv->key);
        if (!ap) {
            if (config_missing_plugin(a, kv) < 0)
                problems++;
            continue;
        }
        mentioned[ap - a->plugins.items] = true;
        if (sect->type != TOML_TABLE) {
            alumet_log_error("%s:%d:%d: unexpected type for plugins.%s: expected table, got %s",
                             sect->file ? sect->file : "?", sect->line, sect->col, kv->key,
                             toml_type_name(sect->type));
            problems++;
            continue;
        }
        bool on = true;
        struct alumet_error err = {0};
        struct toml_value *sw = toml_table_get(sect, "enabled");
        ap->asked = sw && sw->type == TOML_BOOL && sw->u.b;
        if (alumet__config_take_switch(sect, kv->key, &on, &err) < 0) {
            alumet_log_error("%s", err.msg);
            problems++;
        }
        if (!a->plugins_flag)
            ap->enabled = on;
        ap->config = sect;
    }
    if (!a->plugins_flag)
        for (size_t i = 0; i < a->plugins.len; i++)
            if (!mentioned[i])
                a->plugins.items[i].enabled = false;
    free(mentioned);
    if (problems)
        return -EINVAL;
    config_order_plugins(a, plugins);
    return 0;
}

/* Top-level tables that belong under [plugins]: [plugin.csv] (or another
 * near miss of "plugins") and [csv] (a plugin's name), each reported once with
 * the table it should be. */
static int config_misplaced_tables(struct agent *a)
{
    int count = 0;
    for (size_t i = 0; i < a->config->u.tab.len; i++) {
        struct toml_kv *kv = &a->config->u.tab.items[i];
        struct toml_value *v = kv->val;
        if (v->used || v->type != TOML_TABLE || strcmp(kv->key, "plugins") == 0 ||
            strlen(kv->key) >= 256)
            continue;
        const char *file = v->file ? v->file : "?";
        if (edit_distance(kv->key, "plugins") <= 2) {
            const char *sub = v->u.tab.len ? v->u.tab.items[0].key : NULL;
            alumet_log_error("%s:%d:%d: [%s%s%s]: unknown table, did you mean [plugins%s%s]?", file,
                             kv->line, kv->col, kv->key, sub ? "." : "", sub ? sub : "",
                             sub ? "." : "", sub ? sub : "");
        } else if (alumet__plugins_find(&a->plugins, kv->key) || agent_closest_plugin(a, kv->key)) {
            const char *name = alumet__plugins_find(&a->plugins, kv->key)
                                   ? kv->key
                                   : agent_closest_plugin(a, kv->key);
            alumet_log_error("%s:%d:%d: [%s]: unknown table, did you mean [plugins.%s]?", file,
                             kv->line, kv->col, kv->key, name);
        } else {
            continue;
        }
        /* reported here, not again key by key as unknown keys */
        char key[256];
        snprintf(key, sizeof(key), "%s", kv->key);
        toml_free(toml_table_take(a->config, key));
        i--;
        a->config_problems++;
        count++;
    }
    return count;
}

static int config_general(struct agent *a)
{
    struct alumet_config *root = alumet__config_from_value(a->config);
    struct alumet_error err = {0};
    alumet_time_ns mui = 2 * ALUMET_NSEC_PER_SEC, shutdown = 30 * ALUMET_NSEC_PER_SEC;
    int64_t chan = 2048, oq = 256;
    const char *policy = "block";
    int r = 0;
    if (alumet_config_get_duration(root, "max_update_interval", mui, &mui, &err) < 0 ||
        alumet_config_get_duration(root, "shutdown_timeout", shutdown, &shutdown, &err) < 0 ||
        alumet_config_get_int(root, "source_channel_size", chan, &chan, &err) < 0 ||
        alumet_config_get_int(root, "output_queue_size", oq, &oq, &err) < 0 ||
        alumet_config_get_string(root, "output_queue_policy", policy, &policy, &err) < 0 ||
        alumet_config_get_bool(root, "exec_summary", true, &a->exec_summary, &err) < 0) {
        alumet_log_error("invalid general config: %s", err.msg);
        return -EINVAL;
    }
    if (chan <= 0 || oq <= 0) {
        alumet_config_error(root, chan <= 0 ? "source_channel_size" : "output_queue_size", &err,
                            -EINVAL, "expected a positive integer");
        alumet_log_error("invalid general config: %s", err.msg);
        return -EINVAL;
    }
    if (strcmp(policy, "block") == 0) {
        a->settings.output_policy = ALUMET_QUEUE_BLOCK;
    } else if (strcmp(policy, "drop_oldest") == 0) {
        a->settings.output_policy = ALUMET_QUEUE_DROP_OLDEST;
    } else {
        alumet_config_error(root, "output_queue_policy", &err, -EINVAL,
                            "expected \"block\" or \"drop_oldest\", got \"%s\"", policy);
        alumet_log_error("invalid general config: %s", err.msg);
        return -EINVAL;
    }
    a->settings.max_update_interval = mui;
    a->settings.shutdown_timeout = shutdown;
    a->settings.source_queue_size = (size_t)chan;
    a->settings.output_queue_size = (size_t)oq;
    /* command-line values win over the file */
    if (a->max_update_interval && alumet_duration_parse(a->max_update_interval, &mui) < 0) {
        alumet_log_error("invalid value '%s' for '--max-update-interval': expected a duration "
                         "such as \"2s\"",
                         a->max_update_interval);
        return -EINVAL;
    }
    a->settings.max_update_interval = mui;
    if (a->source_channel_size) {
        char *end;
        long long v = strtoll(a->source_channel_size, &end, 10);
        if (*end || v <= 0) {
            alumet_log_error("invalid value '%s' for '--source-channel-size': expected a "
                             "positive integer",
                             a->source_channel_size);
            return -EINVAL;
        }
        a->settings.source_queue_size = (size_t)v;
    }
    if (a->priority_threads) {
        /* upstream's size of its real-time thread pool: 0 disables it */
        char *end;
        errno = 0;
        long long v = strtoll(a->priority_threads, &end, 10);
        if (*end || end == a->priority_threads || v < 0 || errno) {
            alumet_log_error("invalid value '%s' for '--priority-worker-threads' (or "
                             "ALUMET_PRIORITY_THREADS): expected a number of threads, 0 to keep "
                             "every source at the normal priority",
                             a->priority_threads);
            return -EINVAL;
        }
        a->settings.no_realtime = v == 0;
    }
    int misplaced = config_misplaced_tables(a);
    /* unknown top-level keys (the plugins table is checked per plugin) */
    struct toml_value *plugins = toml_table_take(a->config, "plugins");
    int unknown = alumet__config_report_unused(a->config, config_report, a);
    if (plugins)
        r = toml_table_set(a->config, "plugins", plugins);
    return unknown || misplaced ? -EINVAL : r;
}

int agent_load_config(struct agent *a, bool keep_going)
{
    struct alumet_error err = {0};
    int r = alumet__config_load_file(a->config_path, &a->config, &err);
    if (r == -ENOENT) {
        if (a->no_default_config) {
            alumet_log_error("could not load config file: %s", err.msg);
            return r;
        }
        char *text = agent_default_config(a);
        if (!text)
            return -ENOMEM;
        r = agent_write_file(a->config_path, text);
        if (r == 0) {
            alumet_log_info("Default configuration file written to: %s", a->config_path);
            alumet_error_clear(&err);
            r = alumet__config_load_text(text, strlen(text), a->config_path, 1, &a->config, &err);
        }
        free(text);
        if (r < 0 && err.msg[0])
            alumet_log_error("could not load config file: %s", err.msg);
        if (r < 0)
            return r;
    } else if (r < 0) {
        alumet_log_error("could not load config file: %s", err.msg);
        return r;
    }
    for (size_t i = 0; i < a->n_overrides && r == 0; i++)
        r = config_override(a, a->overrides[i], "--config-override");
    if (r == 0 && a->output_file)
        r = config_shorthand(a, "plugins.csv.output_path", a->output_file);
    if (r == 0 && a->relay_out)
        r = config_relay(a, "--relay-out", "relay-client", "relay_server", a->relay_out);
    if (r == 0 && a->relay_in)
        r = config_relay(a, "--relay-in", "relay-server", "address", a->relay_in);
    if (r < 0)
        return r;
    r = config_plugins(a);
    if (r < 0 && !keep_going)
        return r;
    int r2 = config_general(a);
    return r < 0 ? r : r2;
}
