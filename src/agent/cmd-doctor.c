/* SPDX-License-Identifier: MIT */
/* alumet-agent doctor [--json]: what this machine lets the enabled plugins
 * measure, why, and what to do. The checks are in doctor-cpu.c and
 * doctor-system.c; this file holds their helpers, the output and the exit
 * status (0: every check the enabled config needs passes; 1: one does not;
 * 2: bad usage). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"

static const char doctor_help[] =
    "Check what this machine lets the enabled plugins measure\n\n"
    "Usage: alumet-agent doctor [OPTIONS]\n\n"
    "Options:\n"
    "      --json  Print the checks as one JSON object\n"
    "  -h, --help  Print help\n\n"
    "Each check is MEASURED, ESTIMATED or UNAVAILABLE, with why and the fix.\n"
    "Exit status: 0 when the enabled config can measure what it asks for, 1 otherwise.\n";

static const char *const status_names[] = {"MEASURED", "ESTIMATED", "UNAVAILABLE"};

struct doctor_check *doctor_add(struct doctor *d, const char *id, const char *plugin, bool required,
                                enum doctor_status status)
{
    if (d->n == DOCTOR_MAX_CHECKS)
        d->n--;
    struct doctor_check *c = &d->checks[d->n++];
    *c = (struct doctor_check){.id = id, .plugin = plugin, .status = status, .required = required};
    return c;
}

static void doctor_append(char *buf, const char *fmt, va_list ap)
{
    size_t len = strlen(buf);
    if (len && len + 2 < DOCTOR_TEXT) {
        memcpy(buf + len, "; ", 3);
        len += 2;
    }
    if (len < DOCTOR_TEXT)
        vsnprintf(buf + len, DOCTOR_TEXT - len, fmt, ap);
}

void doctor_why(struct doctor_check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    doctor_append(c->why, fmt, ap);
    va_end(ap);
}

void doctor_fix(struct doctor_check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    doctor_append(c->fix, fmt, ap);
    va_end(ap);
}

const char *doctor_errno(int e)
{
    static __thread char buf[128];
    const char *name = strerrorname_np(e);
    snprintf(buf, sizeof(buf), "%s (%s)", name ? name : "?", strerror(e));
    return buf;
}

const char *doctor_path(struct doctor *d, const char *rel)
{
    static __thread char buf[2][1024];
    static __thread int which;
    which ^= 1;
    fsroot_path(&d->root, rel, buf[which], sizeof(buf[which]));
    return buf[which];
}

int doctor_read_line(struct doctor *d, const char *rel, char *buf, size_t size)
{
    int fd = fsroot_openat(&d->root, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    ssize_t n = read(fd, buf, size - 1);
    int r = n < 0 ? -errno : 0;
    close(fd);
    if (r < 0)
        return r;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int doctor_can_read(struct doctor *d, const char *rel)
{
    int fd = fsroot_openat(&d->root, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    char c;
    int r = read(fd, &c, 1) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static struct agent_plugin *doctor_plugin(struct doctor *d, const char *plugin)
{
    return alumet__plugins_find(&d->a->plugins, plugin);
}

bool doctor_enabled(struct doctor *d, const char *plugin)
{
    struct agent_plugin *ap = doctor_plugin(d, plugin);
    return ap && ap->enabled;
}

bool doctor_explicit(struct doctor *d, const char *plugin)
{
    if (!doctor_enabled(d, plugin))
        return false;
    const char *flag = d->a->plugins_flag;
    size_t len = strlen(plugin);
    for (const char *p = flag; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strcspn(p, ",") == len && strncmp(p, plugin, len) == 0)
            return true;
    }
    return doctor_plugin(d, plugin)->asked;
}

static const struct toml_value *doctor_cfg(struct doctor *d, const char *plugin, const char *key)
{
    struct agent_plugin *ap = doctor_plugin(d, plugin);
    if (!ap || !ap->config || ap->config->type != TOML_TABLE)
        return NULL;
    return toml_table_get(ap->config, key);
}

const char *doctor_cfg_string(struct doctor *d, const char *plugin, const char *key,
                              const char *def)
{
    const struct toml_value *v = doctor_cfg(d, plugin, key);
    return v && v->type == TOML_STRING ? v->u.str.ptr : def;
}

double doctor_cfg_number(struct doctor *d, const char *plugin, const char *key, double def)
{
    const struct toml_value *v = doctor_cfg(d, plugin, key);
    if (v && v->type == TOML_FLOAT)
        return v->u.f;
    if (v && v->type == TOML_INTEGER)
        return (double)v->u.i;
    return def;
}

bool doctor_cfg_bool(struct doctor *d, const char *plugin, const char *key, bool def)
{
    const struct toml_value *v = doctor_cfg(d, plugin, key);
    return v && v->type == TOML_BOOL ? v->u.b : def;
}

bool doctor_has_cap(struct doctor *d, int cap)
{
    return (d->cap_eff >> cap) & 1;
}

/* CapEff:	000001fffeffffff (proc/self/status) */
static void doctor_read_caps(struct doctor *d)
{
    int fd = fsroot_openat(&d->root, "proc/self/status", O_RDONLY);
    if (fd < 0)
        return;
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nCapEff:");
    if (p)
        d->cap_eff = strtoull(p + 8, NULL, 16);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void doctor_print_json(const struct doctor *d, bool ok)
{
    printf("{\"ok\":%s,\"checks\":[", ok ? "true" : "false");
    for (int i = 0; i < d->n; i++) {
        const struct doctor_check *c = &d->checks[i];
        printf("%s{\"id\":", i ? "," : "");
        json_string(c->id);
        printf(",\"plugin\":");
        json_string(c->plugin);
        printf(",\"status\":\"%s\",\"required\":%s,\"why\":", status_names[c->status],
               c->required ? "true" : "false");
        json_string(c->why);
        printf(",\"fix\":");
        json_string(c->fix);
        putchar('}');
    }
    printf("]}\n");
}

static void doctor_print_text(const struct doctor *d, bool ok)
{
    for (int i = 0; i < d->n; i++) {
        const struct doctor_check *c = &d->checks[i];
        printf("%-11s %-18s (%s%s)\n", status_names[c->status], c->id, c->plugin,
               c->required ? ", needed by the config" : "");
        if (c->why[0])
            printf("    why: %s\n", c->why);
        if (c->fix[0])
            printf("    fix: %s\n", c->fix);
    }
    printf("\n%s\n", ok ? "the enabled config can measure what it asks for"
                        : "the enabled config cannot measure everything it asks for: see the "
                          "UNAVAILABLE checks needed by the config above");
}

int cmd_doctor(int argc, char **argv, struct agent *a)
{
    bool json = false;
    const char *root = "/";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            root = argv[++i]; /* hidden: a tree holding proc/ and sys/ (tests) */
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(doctor_help, stdout);
            return 0;
        } else {
            fprintf(stderr, "error: unexpected argument '%s' found\n\n%s", argv[i], doctor_help);
            return 2;
        }
    }
    struct doctor *d = calloc(1, sizeof(*d));
    if (!d)
        return 1;
    d->a = a;
    int r = fsroot_open(&d->root, root);
    if (r < 0) {
        fprintf(stderr, "error: cannot open the root '%s': %s\n", root, strerror(-r));
        free(d);
        return 2;
    }
    d->real = strcmp(root, "/") == 0;
    int status = 1;
    if (agent_load_config(a, false) < 0)
        goto out;
    doctor_read_caps(d);
    doctor_check_cpu(d);
    doctor_check_system(d);
    bool ok = true;
    for (int i = 0; i < d->n; i++)
        if (d->checks[i].required && d->checks[i].status == DOCTOR_UNAVAILABLE)
            ok = false;
    if (json)
        doctor_print_json(d, ok);
    else
        doctor_print_text(d, ok);
    status = ok ? 0 : 1;
out:
    fsroot_close(&d->root);
    free(d);
    return status;
}
