/* SPDX-License-Identifier: MIT */
/* jsonl: writes every measurement as one JSON object per line (JSON Lines)
 * to a file or to the standard output, so that `alumet-agent run | jq` works
 * (the agent's logs go to the standard error). Not an upstream plugin; the
 * format is in README.md. The text is built by jsonl-writer.c; this file
 * holds the options and the file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "jsonl-writer.h"
#include "util/filesink.h"
#include "util/pathcheck.h"

#define JSONL_DEFAULT_CONFIG                                                                       \
    "[plugins.jsonl]\n"                                                                            \
    "# Off by default (the csv output has the same data); set to true to use it\n"                 \
    "enabled = false\n"                                                                            \
    "# Path of the JSON Lines file, relative to the working directory (truncated at\n"             \
    "# startup); \"-\" is the standard output\n"                                                   \
    "output_path = \"alumet-output.jsonl\"\n"                                                      \
    "# Write to the standard output instead of output_path (the logs go to the standard\n"         \
    "# error, so that `alumet-agent run | jq` works)\n"                                            \
    "stdout = false\n"                                                                             \
    "# Write after every buffer of measurements (false: every 256 KiB)\n"                          \
    "force_flush = true\n"

/* Plugin state: the options, read in init. */
struct jsonl {
    char *output_path; /* NULL: the standard output */
    bool force_flush;
};

/* The output "out": owned by the core once registered, freed by
 * jsonl_output_free after the output thread has been joined. */
struct jsonl_output {
    struct filesink file; /* path NULL: (a duplicate of) the standard output */
    bool force_flush;
    struct jsonl_writer *writer;
};

static void jsonl_free(void *state)
{
    struct jsonl *j = state;
    if (!j)
        return;
    free(j->output_path);
    free(j);
}

static int jsonl_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct jsonl *j = calloc(1, sizeof(*j));
    const char *path;
    bool to_stdout;
    int r;

    if (!j)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    r = alumet_config_get_string(cfg, "output_path", "alumet-output.jsonl", &path, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "stdout", false, &to_stdout, err);
    if (r < 0)
        goto err_free;
    r = alumet_config_get_bool(cfg, "force_flush", true, &j->force_flush, err);
    if (r < 0)
        goto err_free;
    char why[512];
    if (!to_stdout && !*path) {
        r = alumet_config_error(cfg, "output_path", err, -EINVAL,
                                "expected the path of a file, or \"-\" for the standard output, "
                                "got an empty string");
        goto err_free;
    }
    if (!to_stdout && strcmp(path, "-") != 0 && alumet_config_checking() &&
        pathcheck_writable(path, PATHCHECK_FILE, why, sizeof(why)) < 0) {
        r = alumet_config_error(cfg, "output_path", err, -EINVAL, "%s", why);
        goto err_free;
    }
    if (!to_stdout && strcmp(path, "-") != 0 && !(j->output_path = strdup(path))) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret_state = j;
    return 0;

err_free:
    jsonl_free(j);
    return r;
}

static int jsonl_output_fail(struct jsonl_output *o, int r, struct alumet_error *err)
{
    if (err && err->code)
        return r; /* already explained (unknown metric) */
    if (r == -ENOMEM)
        return alumet_error_set(err, r, "out of memory");
    if (!o->file.path)
        return alumet_error_set(err, r, "failed to write to the standard output: %s", strerror(-r));
    return alumet_error_set(err, r, "failed to write to '%s': %s", o->file.path, strerror(-r));
}

static int jsonl_output_write(void *data, const struct alumet_buffer *buf,
                              const struct alumet_registry *reg, struct alumet_error *err)
{
    struct jsonl_output *o = data;

    int r = jsonl_writer_write_buffer(o->writer, buf, reg, err);
    if (r == 0 && o->force_flush)
        r = jsonl_writer_flush(o->writer);
    return r < 0 ? jsonl_output_fail(o, r, err) : 0;
}

static int jsonl_output_close(void *data, struct alumet_error *err)
{
    struct jsonl_output *o = data;

    int r = jsonl_writer_flush(o->writer);
    if (r == 0)
        r = filesink_close(&o->file);
    return r < 0 ? jsonl_output_fail(o, r, err) : 0;
}

static void jsonl_output_free(void *data)
{
    struct jsonl_output *o = data;
    if (!o)
        return;
    jsonl_writer_free(o->writer);
    filesink_done(&o->file);
    free(o);
}

static const struct alumet_output_ops jsonl_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = jsonl_output_write,
    .close = jsonl_output_close,
    .free = jsonl_output_free,
};

static int jsonl_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct jsonl *j = state;
    int r;

    struct jsonl_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->file = (struct filesink)FILESINK_INIT;
    o->force_flush = j->force_flush;
    /* for the standard output, a duplicate, so that closing the output
     * leaves the agent's stdout alone */
    r = filesink_open(&o->file, j->output_path);
    if (r < 0 && !j->output_path)
        alumet_error_set(err, r, "cannot write to the standard output: %s", strerror(-r));
    else if (r < 0 && !o->file.path)
        alumet_error_set(err, r, "out of memory");
    else if (r < 0)
        alumet_error_set(err, r, "failed to open file for writing '%s': %s", o->file.path,
                         strerror(-r));
    if (r < 0)
        goto err_free;
    o->writer = jsonl_writer_new(JSONL_WRITER_BUFFER_SIZE, filesink_write, &o->file);
    if (!o->writer) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    r = alumet_add_output(ctx, "out", &jsonl_output_ops, o, /* opts= */ NULL, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    jsonl_output_free(o);
    return r;
}

/* The output belongs to the core once registered (it is closed and freed
 * after its thread ends), so start leaves nothing for stop to release. */
static int jsonl_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_jsonl = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "jsonl",
    .version = "0.1.0",
    .default_config = JSONL_DEFAULT_CONFIG,
    .init = jsonl_init,
    .start = jsonl_start,
    .stop = jsonl_stop,
    .free = jsonl_free,
};
