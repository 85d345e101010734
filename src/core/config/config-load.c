/* SPDX-License-Identifier: MIT */
/* Reading a configuration file (bounded), substituting and parsing it,
 * merging one tree over another, and the plugins' on/off switch. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-private.h"
#include "config-tree.h"

/* Give the file names owned by from to to (both tables). */
static int config_move_files(struct toml_value *to, struct toml_value *from)
{
    struct config_private *src = alumet__config_private_peek(from);

    if (!src || src->n_files == 0)
        return 0;
    struct config_private *dst = alumet__config_private_get(to);
    if (!dst)
        return -ENOMEM;
    while (src->n_files > 0) {
        int r = alumet__config_strv_push(&dst->files, &dst->n_files, &dst->cap_files,
                                         src->files[src->n_files - 1]);
        if (r < 0)
            return r;
        src->n_files--;
    }
    return 0;
}

static struct toml_kv *config_kv_of(struct toml_value *t, const struct toml_value *v)
{
    for (size_t i = 0; i < t->u.tab.len; i++)
        if (t->u.tab.items[i].val == v)
            return &t->u.tab.items[i];
    return NULL;
}

int alumet__config_merge(struct toml_value *base, struct toml_value *over)
{
    if (!base || !over || base->type != TOML_TABLE || over->type != TOML_TABLE)
        return -EINVAL;

    /* the values of over may point to its file names: base keeps them alive */
    int r = config_move_files(base, over);
    if (r < 0)
        return r;

    struct toml_kv *items = over->u.tab.items;
    size_t n = over->u.tab.len;
    over->u.tab.items = NULL;
    over->u.tab.len = over->u.tab.cap = 0;

    size_t i = 0;
    for (; i < n; i++) {
        struct toml_value *bv = toml_table_get(base, items[i].key);
        struct toml_value *ov = items[i].val;

        if (bv && bv->type == TOML_TABLE && ov->type == TOML_TABLE) {
            r = alumet__config_merge(bv, ov);
            toml_free(ov);
        } else {
            r = toml_table_set(base, items[i].key, ov);
            if (r < 0) {
                toml_free(ov);
            } else {
                /* the key's position now refers to the file of over, as the value does */
                struct toml_kv *kv = config_kv_of(base, ov);
                if (kv) {
                    kv->line = items[i].line;
                    kv->col = items[i].col;
                }
            }
        }
        free(items[i].key);
        if (r < 0) {
            i++;
            goto err_free_rest;
        }
    }
    free(items);
    return 0;

err_free_rest:
    for (; i < n; i++) {
        toml_free(items[i].val);
        free(items[i].key);
    }
    free(items);
    return r;
}

/* The largest config read: real ones are a few KiB, and a path such as
 * /dev/zero or a log file given by mistake must not fill the memory. */
#define CONFIG_FILE_MAX ((size_t)16 << 20)

/* Read at most CONFIG_FILE_MAX + 1 bytes of path (any kind of file), to tell
 * "too large" without reading the rest. */
static int config_read_file(const char *path, char **ret, size_t *ret_len, struct alumet_error *err)
{
    int r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        return alumet_error_set(err, r, "could not load config from '%s': %s", path, strerror(-r));
    }

    /* room for CONFIG_FILE_MAX + 1 bytes and the final NUL */
    size_t cap = 4096, len = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (uint64_t)st.st_size < CONFIG_FILE_MAX ? (size_t)st.st_size + 2 : CONFIG_FILE_MAX + 2;
    char *buf = malloc(cap);
    if (!buf) {
        r = alumet_error_set(err, -ENOMEM, "could not load config from '%s': %s", path,
                             strerror(ENOMEM));
        goto out_close;
    }
    while (len <= CONFIG_FILE_MAX) {
        if (len + 1 >= cap) {
            size_t ncap = cap * 2 < CONFIG_FILE_MAX + 2 ? cap * 2 : CONFIG_FILE_MAX + 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                r = alumet_error_set(err, -ENOMEM, "could not load config from '%s': %s", path,
                                     strerror(ENOMEM));
                goto err_free;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            alumet_error_set(err, r, "could not load config from '%s': %s", path, strerror(-r));
            goto err_free;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > CONFIG_FILE_MAX) {
        r = alumet_error_set(err, -EFBIG,
                             "%s: configuration larger than %zu MiB; is this the right file? A "
                             "configuration is a TOML text file of a few KiB: point --config (or "
                             "ALUMET_CONFIG) at one",
                             path, CONFIG_FILE_MAX >> 20);
        goto err_free;
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    r = 0;
    goto out_close;

err_free:
    free(buf);
out_close:
    close(fd);
    return r;
}

int alumet__config_load_text(const char *text, size_t len, const char *file, int substitute,
                             struct toml_value **ret, struct alumet_error *err)
{
    char *subst = NULL;
    int r;

    if (substitute) {
        r = alumet__config_substitute(text, len, file, &subst, &len, err);
        if (r < 0)
            return r;
        text = subst;
    }

    char errbuf[ALUMET_ERROR_MSG_MAX];
    errbuf[0] = '\0';
    struct toml_value *root = toml_parse(text, len, file, errbuf, sizeof(errbuf));
    free(subst);
    if (!root) {
        if (errbuf[0] == '\0')
            return alumet_error_set(err, -ENOMEM, "out of memory");
        return alumet_error_set(err, -EINVAL, "%s", errbuf);
    }
    *ret = root;
    return 0;
}

int alumet__config_load_file(const char *path, struct toml_value **ret, struct alumet_error *err)
{
    char *text = NULL;
    size_t len = 0;
    struct toml_value *root;

    int r = config_read_file(path, &text, &len, err);
    if (r < 0)
        return r;

    /* the file name must live as long as the tree: the root owns this copy */
    char *file = strdup(path);
    if (!file) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto out_free_text;
    }
    r = alumet__config_load_text(text, len, file, /* substitute= */ 1, &root, err);
    if (r < 0)
        goto err_free_file;

    struct config_private *cp = alumet__config_private_get(root);
    if (!cp) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free_root;
    }
    r = alumet__config_strv_push(&cp->files, &cp->n_files, &cp->cap_files, file);
    if (r < 0) {
        alumet_error_set(err, r, "out of memory");
        goto err_free_root;
    }
    *ret = root;
    goto out_free_text;

err_free_root:
    toml_free(root);
err_free_file:
    free(file);
out_free_text:
    free(text);
    return r;
}

int alumet__config_take_switch(struct toml_value *section, const char *plugin, bool *ret_enabled,
                               struct alumet_error *err)
{
    struct toml_value *sw = toml_table_take(section, "enabled");
    if (!sw)
        sw = toml_table_take(section, "enable");
    int r = 0;
    bool on = true;
    if (sw && sw->type != TOML_BOOL)
        r = alumet_error_set(err, -EINVAL,
                             "%s:%d:%d: unexpected type for plugins.%s.enabled: expected boolean, "
                             "got %s",
                             sw->file ? sw->file : "?", sw->line, sw->col, plugin,
                             toml_type_name(sw->type));
    else if (sw)
        on = sw->u.b;
    toml_free(sw);
    if (r == 0)
        *ret_enabled = on;
    return r;
}
