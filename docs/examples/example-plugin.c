/* SPDX-License-Identifier: MIT */
/* The example plugin of docs/plugin-guide.md: one plugin with the three
 * kinds of pipeline elements.
 *
 *   source    example/counter  each poll k appends two points on cpu_package 0:
 *                              example_counter = k * step (U64, no unit) and
 *                              example_raw_energy = (k + 1) * 1500 mJ (U64)
 *   transform example/to-joules  rewrites example_raw_energy points into
 *                              example_energy (F64, joules) and adds the
 *                              attribute converted_from=mJ
 *   output    example/print    prints one line per point to a file or stdout:
 *     [TIMESTAMP ]METRIC VALUE UNIT RESOURCE CONSUMER [KEY=VALUE...]
 *     example_energy 1.5 J cpu_package/0 local_machine origin=example converted_from=mJ
 *
 * Build it as a shared module (see docs/examples/meson.build), then:
 *   alumet-agent --plugin-dir DIR --plugins example run
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alumet/alumet.h>

/* The commented TOML that `alumet-agent config regen` writes for us. */
#define EXAMPLE_DEFAULT_CONFIG                                                                     \
    "[plugins.example]\n"                                                                          \
    "# how often the counter source is polled\n"                                                   \
    "poll_interval = \"1s\"\n"                                                                     \
    "# the source stops after this many polls (0 = never)\n"                                       \
    "max_polls = 0\n"                                                                              \
    "# added to example_counter at each poll\n"                                                    \
    "step = 1\n"                                                                                   \
    "# where the points are printed (\"\" = standard output)\n"                                    \
    "output_path = \"\"\n"                                                                         \
    "# start each printed line with the timestamp (nanoseconds since the epoch)\n"                 \
    "print_timestamp = true\n"

/* The plugin state: read from the config by init, released by free. */
struct example {
    alumet_time_ns poll_interval;
    uint64_t max_polls;
    uint64_t step;
    char *output_path; /* NULL: standard output */
    bool print_timestamp;
    struct alumet_log_topic *log; /* set by start */
};

/* ---- source ---- */

struct example_counter {
    alumet_metric_id counter, raw_energy;
    uint64_t step, max_polls, polls;
};

static int example_counter_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                struct alumet_error *err)
{
    struct example_counter *src = data;
    const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 0, NULL, NULL};
    const struct alumet_consumer machine = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

    struct alumet_point *p =
        alumet_buffer_push_u64(buf, now, src->counter, &pkg, &machine, src->polls * src->step);
    /* the key and value are static strings: borrowed, nothing to copy */
    if (!p || alumet_point_add_attr_str(buf, p, "origin", "example") < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    p = alumet_buffer_push_u64(buf, now, src->raw_energy, &pkg, &machine, (src->polls + 1) * 1500);
    if (!p || alumet_point_add_attr_str(buf, p, "origin", "example") < 0)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    src->polls++;
    if (src->max_polls && src->polls == src->max_polls)
        return ALUMET_POLL_DONE; /* flushed, then removed */
    return ALUMET_POLL_OK;
}

static const struct alumet_source_ops example_counter_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = example_counter_poll,
    .free = free, /* the element data is one malloc'd block */
};

/* ---- transform ---- */

struct example_to_joules {
    alumet_metric_id raw_energy, energy;
};

static int example_to_joules_apply(void *data, struct alumet_buffer *buf,
                                   const struct alumet_registry *reg, struct alumet_error *err)
{
    struct example_to_joules *t = data;
    size_t len = alumet_buffer_len(buf);

    for (size_t i = 0; i < len; i++) {
        struct alumet_point *p = alumet_buffer_at(buf, i);
        if (p->metric != t->raw_energy)
            continue; /* points of other sources go through untouched */
        if (p->value_type != ALUMET_VALUE_U64) {
            alumet_error_set(err, -EINVAL, "example_raw_energy point with a %s value",
                             alumet_value_type_name(p->value_type));
            return ALUMET_TRANSFORM_SKIP;
        }
        double joules = (double)p->value.u64 / 1000.0;
        p->metric = t->energy;
        p->value_type = ALUMET_VALUE_F64;
        p->value.f64 = joules;
        if (alumet_point_add_attr_str(buf, p, "converted_from", "mJ") < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static const struct alumet_transform_ops example_to_joules_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = example_to_joules_apply,
    .free = free,
};

/* ---- output ---- */

struct example_print {
    FILE *out;
    bool owned; /* fclose at free (not stdout) */
    bool print_timestamp;
};

static int example_print_write(void *data, const struct alumet_buffer *buf,
                               const struct alumet_registry *reg, struct alumet_error *err)
{
    struct example_print *o = data;
    size_t len = alumet_buffer_len(buf);

    for (size_t i = 0; i < len; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
        if (!m)
            return alumet_error_set(err, -EINVAL, "unknown metric id %" PRIu32, p->metric);
        char id[256];

        if (o->print_timestamp)
            fprintf(o->out, "%" PRId64 " ", p->timestamp);
        fputs(m->name, o->out);
        if (p->value_type == ALUMET_VALUE_U64)
            fprintf(o->out, " %" PRIu64, p->value.u64);
        else
            fprintf(o->out, " %g", p->value.f64);
        fprintf(o->out, " %s %s", m->unit_unique, alumet_resource_kind_name(&p->resource));
        if (alumet_resource_id_text(&p->resource, id, sizeof(id)) > 0)
            fprintf(o->out, "/%s", id);
        fprintf(o->out, " %s", alumet_consumer_kind_name(&p->consumer));
        if (alumet_consumer_id_text(&p->consumer, id, sizeof(id)) > 0)
            fprintf(o->out, "/%s", id);
        const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
        for (uint32_t j = 0; j < p->attr_count; j++) {
            alumet_attr_text(&attrs[j], id, sizeof(id));
            fprintf(o->out, " %s=%s", attrs[j].key, id);
        }
        fputc('\n', o->out);
    }
    if (ferror(o->out))
        return alumet_error_set(err, -EIO, "cannot print the points");
    return 0;
}

static int example_print_close(void *data, struct alumet_error *err)
{
    struct example_print *o = data;
    if (fflush(o->out) != 0) {
        int r = -errno;
        return alumet_error_set(err, r, "cannot flush the points: %s", strerror(-r));
    }
    return 0;
}

static void example_print_free(void *data)
{
    struct example_print *o = data;
    if (o->owned)
        fclose(o->out);
    free(o);
}

static const struct alumet_output_ops example_print_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = example_print_write,
    .close = example_print_close,
    .free = example_print_free,
};

/* ---- plugin lifecycle ---- */

static void example_free(void *state)
{
    struct example *ex = state;
    if (!ex)
        return;
    free(ex->output_path);
    free(ex);
}

static int example_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct example *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return alumet_error_set(err, -ENOMEM, "out of memory");

    int64_t max_polls, step;
    const char *path;
    int r;
    if ((r = alumet_config_get_interval(cfg, "poll_interval", ALUMET_NSEC_PER_SEC,
                                        &ex->poll_interval, err)) < 0 ||
        (r = alumet_config_get_int(cfg, "max_polls", 0, &max_polls, err)) < 0 ||
        (r = alumet_config_get_int(cfg, "step", 1, &step, err)) < 0 ||
        (r = alumet_config_get_string(cfg, "output_path", "", &path, err)) < 0 ||
        (r = alumet_config_get_bool(cfg, "print_timestamp", true, &ex->print_timestamp, err)) < 0)
        goto err_free;
    /* right type, wrong value: the message still names file:line:col */
    if (max_polls < 0 || step < 0) {
        const char *key = max_polls < 0 ? "max_polls" : "step";
        r = alumet_config_error(cfg, key, err, -EINVAL, "expected a non-negative integer");
        goto err_free;
    }
    ex->max_polls = (uint64_t)max_polls;
    ex->step = (uint64_t)step;
    /* strings from the config are borrowed from the tree: copy them */
    if (*path && !(ex->output_path = strdup(path))) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    *ret_state = ex;
    return 0;

err_free:
    example_free(ex);
    return r;
}

static int example_start_output(struct example *ex, struct alumet_start_ctx *ctx,
                                struct alumet_error *err)
{
    struct example_print *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    o->print_timestamp = ex->print_timestamp;
    o->out = stdout;
    if (ex->output_path) {
        o->out = fopen(ex->output_path, "we");
        if (!o->out) {
            int r = -errno;
            free(o);
            return alumet_error_set(err, r,
                                    "cannot create '%s': %s; check that its directory "
                                    "exists and is writable",
                                    ex->output_path, strerror(-r));
        }
        o->owned = true;
    }
    int r = alumet_add_output(ctx, "print", &example_print_ops, o, /* opts= */ NULL, err);
    if (r < 0)
        example_print_free(o); /* on failure we still own it */
    return r;
}

static int example_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct example *ex = state;
    ex->log = alumet_start_log_topic(ctx);

    alumet_metric_id counter, raw_energy, energy;
    int r;
    if ((r = alumet_create_metric(ctx, "example_counter", ALUMET_VALUE_U64, ALUMET_UNIT(UNITY),
                                  "number of polls times the step", &counter, err)) < 0 ||
        (r = alumet_create_metric(ctx, "example_raw_energy", ALUMET_VALUE_U64,
                                  ALUMET_UNIT_PREFIXED(MILLI, JOULE),
                                  "made-up energy, in millijoules", &raw_energy, err)) < 0 ||
        (r = alumet_create_metric(ctx, "example_energy", ALUMET_VALUE_F64, ALUMET_UNIT(JOULE),
                                  "made-up energy, in joules", &energy, err)) < 0)
        return r;

    struct example_counter *src = calloc(1, sizeof(*src));
    if (!src)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    *src = (struct example_counter){
        .counter = counter,
        .raw_energy = raw_energy,
        .step = ex->step,
        .max_polls = ex->max_polls,
    };
    const struct alumet_source_opts opts = {.poll_interval = ex->poll_interval};
    r = alumet_add_source(ctx, "counter", &example_counter_ops, src, &opts, err);
    if (r < 0) {
        free(src);
        return r;
    }

    struct example_to_joules *t = calloc(1, sizeof(*t));
    if (!t)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    *t = (struct example_to_joules){.raw_energy = raw_energy, .energy = energy};
    r = alumet_add_transform(ctx, "to-joules", &example_to_joules_ops, t, err);
    if (r < 0) {
        free(t);
        return r;
    }

    r = example_start_output(ex, ctx, err);
    if (r < 0)
        return r;
    alumet_log_at(ex->log, ALUMET_LOG_DEBUG, "started: polling every %" PRId64 " ns",
                  ex->poll_interval);
    return 0;
}

/* The elements are owned and freed by the core; start acquired nothing
 * else, so stop has nothing to release. */
static int example_stop(void *state, struct alumet_error *err)
{
    return 0;
}

ALUMET_API const struct alumet_plugin alumet_plugin_entry = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "example",
    .version = "0.1.0",
    .default_config = EXAMPLE_DEFAULT_CONFIG,
    .init = example_init,
    .start = example_start,
    .stop = example_stop,
    .free = example_free,
};
