/* SPDX-License-Identifier: MIT */
/* energy-to-carbon: the grams of CO2-equivalent of every energy point, as
 * upstream Alumet's plugin 0.1.0 (carbon_emission = joules / 3.6e6 x the
 * carbon intensity in gCO2eq/kWh): the world average, a country's average or
 * a fixed value, and beyond upstream an intensity file (the intensity in
 * force at each point's timestamp) and watt-hour metrics (README.md). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/plugin.h"
#include "alumet/transform.h"
#include "energy-to-carbon.h"
#include "util/format.h"

#define ENERGY_TO_CARBON_DEFAULT_CONFIG                                                            \
    "[plugins.energy-to-carbon]\n"                                                                 \
    "# Carbon intensity of the electricity: \"world_avg\" (475 gCO2eq/kWh), \"country\"\n"         \
    "# (table below), \"intensity_override\" (a fixed value) or \"intensity_file\" (a CSV\n"       \
    "# file of \"timestamp,gCO2eq/kWh\" rows: the intensity in force at each point)\n"             \
    "mode = \"world_avg\"\n"                                                                       \
    "\n"                                                                                           \
    "# [plugins.energy-to-carbon.country]\n"                                                       \
    "# code = \"FRA\"          # ISO 3166-1 alpha-3\n"                                             \
    "# [plugins.energy-to-carbon.intensity_override]\n"                                            \
    "# intensity = 100.0     # gCO2eq/kWh\n"                                                       \
    "# [plugins.energy-to-carbon.intensity_file]\n"                                                \
    "# path = \"/var/lib/alumet/intensity.csv\"\n"                                                 \
    "# Software Carbon Intensity in the summary of exec: (E x I + M) / R\n"                        \
    "# [plugins.energy-to-carbon.sci]\n"                                                           \
    "# embodied_g = 0.0       # M: embodied emissions of the hardware for the run, gCO2eq\n"       \
    "# functional_units = 1   # R: units of work done by the run\n"                                \
    "# functional_unit = \"run\"\n"

static void energy_to_carbon_transform_free(void *data)
{
    struct energy_to_carbon_transform *t = data;
    if (!t)
        return;
    if (t->before_first)
        alumet_log_at(t->log, ALUMET_LOG_WARN,
                      "'%llu' energy points were before the first row of the intensity file and "
                      "got no carbon_emission point",
                      t->before_first);
    free(t->rows);
    free(t);
}

static void energy_to_carbon_free(void *state)
{
    struct energy_to_carbon *e = state;
    if (!e)
        return;
    energy_to_carbon_transform_free(e->t);
    free(e);
}

/* Read the table key of cfg; *ret = NULL when absent. With required, a
 * missing table is an error for mode. */
static int energy_to_carbon_table(struct alumet_config *cfg, const char *key, const char *mode,
                                  const char *example, struct alumet_config **ret,
                                  struct alumet_error *err)
{
    int r = alumet_config_get_table(cfg, key, ret, err);
    if (r < 0 || *ret || !mode)
        return r;
    return alumet_config_error(cfg, "mode", err, -EINVAL,
                               "mode '%s' needs the table [plugins.energy-to-carbon.%s] with %s "
                               "(upstream's README names it differently, its names are not read)",
                               mode, key, example);
}

static int energy_to_carbon_country(struct energy_to_carbon_transform *t, struct alumet_config *tbl,
                                    bool used, struct alumet_error *err)
{
    const char *code = NULL;
    int r = alumet_config_get_string(tbl, "code", "", &code, err);
    if (r < 0 || !used)
        return r;
    char upper[4] = "";
    size_t len = strlen(code);
    for (size_t i = 0; i < len && i < 3; i++)
        upper[i] = (char)toupper((unsigned char)code[i]);
    if (len == 0)
        return alumet_config_error(tbl, "code", err, -EINVAL,
                                   "country.code is required when mode is 'country' (ISO 3166-1 "
                                   "alpha-3, such as \"FRA\")");
    const struct energy_to_carbon_country *c =
        len == 3 ? energy_to_carbon_country_find(upper) : NULL;
    if (!c)
        return alumet_config_error(tbl, "code", err, -EINVAL,
                                   "country '%s' not found in the energy mix table (ISO 3166-1 "
                                   "alpha-3 codes such as \"FRA\", \"DEU\", \"USA\"; see the "
                                   "README)",
                                   code);
    t->intensity = c->intensity;
    snprintf(t->source, sizeof(t->source), "country %s", c->code);
    return 0;
}

static int energy_to_carbon_override(struct energy_to_carbon_transform *t,
                                     struct alumet_config *tbl, bool used, struct alumet_error *err)
{
    double v = 0;
    if (used && !alumet_config_has(tbl, "intensity"))
        return alumet_config_error(tbl, "intensity", err, -EINVAL,
                                   "intensity_override.intensity is required when mode is "
                                   "'intensity_override' (gCO2eq/kWh, such as 100)");
    int r = alumet_config_get_float(tbl, "intensity", 0, &v, err);
    if (r < 0 || !used)
        return r;
    if (!isfinite(v) || v < 0)
        return alumet_config_error(tbl, "intensity", err, -EINVAL,
                                   "expected gCO2eq/kWh, a number >= 0");
    t->intensity = v;
    snprintf(t->source, sizeof(t->source), "override");
    return 0;
}

static int energy_to_carbon_file(struct energy_to_carbon_transform *t, struct alumet_config *tbl,
                                 bool used, struct alumet_error *err)
{
    const char *path = NULL;
    int r = alumet_config_get_string(tbl, "path", NULL, &path, err);
    if (r < 0 || !used)
        return r;
    if (!path)
        return alumet_config_error(tbl, "path", err, -EINVAL,
                                   "intensity_file.path is required when mode is 'intensity_file'");
    if ((r = energy_to_carbon_file_read(path, &t->rows, &t->n_rows, err)) < 0)
        return r;
    alumet_time_ns last = t->rows[t->n_rows - 1].from;
    alumet_time_ns spacing =
        t->n_rows > 1 ? last - t->rows[t->n_rows - 2].from : 3600 * ALUMET_NSEC_PER_SEC;
    t->stale_after = last + spacing;
    snprintf(t->source, sizeof(t->source), "file %s", path);
    return 0;
}

/* The table sci (optional): read here so that its errors stop the start;
 * the exec summary computes the score (README.md). */
static int energy_to_carbon_sci(struct alumet_config *cfg, struct alumet_error *err)
{
    struct alumet_config *sci = NULL;
    double embodied, units;
    const char *name;
    int r = alumet_config_get_table(cfg, "sci", &sci, err);
    if (r < 0 || !sci)
        return r;
    if ((r = alumet_config_get_float(sci, "embodied_g", 0, &embodied, err)) < 0 ||
        (r = alumet_config_get_float(sci, "functional_units", 1, &units, err)) < 0 ||
        (r = alumet_config_get_string(sci, "functional_unit", "run", &name, err)) < 0)
        return r;
    if (!isfinite(embodied) || embodied < 0)
        return alumet_config_error(sci, "embodied_g", err, -EINVAL,
                                   "expected grams of CO2eq, a number >= 0");
    if (!isfinite(units) || units <= 0)
        return alumet_config_error(sci, "functional_units", err, -EINVAL,
                                   "expected a number of functional units greater than 0");
    if (!*name)
        return alumet_config_error(sci, "functional_unit", err, -EINVAL,
                                   "expected the name of a functional unit, such as \"request\"");
    return 0;
}

static int energy_to_carbon_init(struct alumet_config *cfg, void **ret_state,
                                 struct alumet_error *err)
{
    struct energy_to_carbon *e = calloc(1, sizeof(*e));
    struct alumet_config *country = NULL, *over = NULL, *file = NULL;
    const char *mode;
    int r;

    if (!e || !(e->t = calloc(1, sizeof(*e->t)))) {
        free(e);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    struct energy_to_carbon_transform *t = e->t;
    t->intensity = ENERGY_TO_CARBON_WORLD_AVG;
    snprintf(t->source, sizeof(t->source), "world_avg");
    if ((r = alumet_config_get_string(cfg, "mode", "world_avg", &mode, err)) < 0)
        goto err_free;
    bool by_country = strcmp(mode, "country") == 0,
         by_override = strcmp(mode, "intensity_override") == 0,
         by_file = strcmp(mode, "intensity_file") == 0;
    if (!by_country && !by_override && !by_file && strcmp(mode, "world_avg") != 0) {
        r = alumet_config_error(cfg, "mode", err, -EINVAL,
                                "unknown mode '%s': expected \"world_avg\", \"country\", "
                                "\"intensity_override\" or \"intensity_file\"",
                                mode);
        goto err_free;
    }
    if ((r = energy_to_carbon_table(cfg, "country", by_country ? mode : NULL, "code = \"FRA\"",
                                    &country, err)) < 0 ||
        (r = energy_to_carbon_table(cfg, "intensity_override", by_override ? mode : NULL,
                                    "intensity = 100", &over, err)) < 0 ||
        (r = energy_to_carbon_table(cfg, "intensity_file", by_file ? mode : NULL,
                                    "path = \"intensity.csv\"", &file, err)) < 0 ||
        (country && (r = energy_to_carbon_country(t, country, by_country, err)) < 0) ||
        (over && (r = energy_to_carbon_override(t, over, by_override, err)) < 0) ||
        (file && (r = energy_to_carbon_file(t, file, by_file, err)) < 0) ||
        (r = energy_to_carbon_sci(cfg, err)) < 0)
        goto err_free;
    *ret_state = e;
    return 0;

err_free:
    energy_to_carbon_free(e);
    return r;
}

/* Joules per unit of m: J with any prefix, or Wh (upstream converts only
 * joules); 0 when m is not an energy. */
static double energy_to_carbon_joules_per_unit(const struct alumet_metric *m)
{
    static const double exp10[] = {1e-9, 1e-6, 1e-3, 1, 1e3, 1e6, 1e9};
    int p = (int)m->unit.prefix;
    if (p < 0 || p >= (int)(sizeof(exp10) / sizeof(exp10[0])))
        return 0;
    if (m->unit.base == ALUMET_UNIT_JOULE)
        return exp10[p];
    if (m->unit.base == ALUMET_UNIT_WATT_HOUR)
        return exp10[p] * 3600.0;
    return 0;
}

/* The intensity in force at ts; false when the file starts after ts. */
static bool energy_to_carbon_intensity(struct energy_to_carbon_transform *t, alumet_time_ns ts,
                                       double *ret)
{
    if (!t->rows) {
        *ret = t->intensity;
        return true;
    }
    long i = energy_to_carbon_file_find(t->rows, t->n_rows, ts);
    char when[FORMAT_RFC3339_MAX], first[FORMAT_RFC3339_MAX];
    if (i < 0) {
        t->before_first++;
        if (!t->warned_before) {
            t->warned_before = true;
            format_rfc3339(ts, when, sizeof(when));
            format_rfc3339(t->rows[0].from, first, sizeof(first));
            alumet_log_at(t->log, ALUMET_LOG_WARN,
                          "a point at '%s' is before the first row of the intensity file ('%s'): "
                          "no carbon_emission for the points before it (they are counted at the "
                          "end), add the rows of that period",
                          when, first);
        }
        return false;
    }
    if (ts >= t->stale_after && !t->warned_after) {
        t->warned_after = true;
        format_rfc3339(ts, when, sizeof(when));
        format_rfc3339(t->rows[t->n_rows - 1].from, first, sizeof(first));
        alumet_log_at(t->log, ALUMET_LOG_WARN,
                      "a point at '%s' is past the end of the intensity file (last row '%s'): "
                      "its last intensity is used from now on, append the next rows",
                      when, first);
    }
    *ret = t->rows[i].intensity;
    return true;
}

static int energy_to_carbon_apply(void *data, struct alumet_buffer *buf,
                                  const struct alumet_registry *reg, struct alumet_error *err)
{
    struct energy_to_carbon_transform *t = data;
    size_t n = alumet_buffer_len(buf);
    for (size_t i = 0; i < n; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
        double scale = m ? energy_to_carbon_joules_per_unit(m) : 0, intensity;
        if (scale == 0 || !energy_to_carbon_intensity(t, p->timestamp, &intensity))
            continue;
        double v = p->value_type == ALUMET_VALUE_U64 ? (double)p->value.u64 : p->value.f64;
        /* a push may move the points: copy this one first (its strings stay
         * in the buffer's arena); same timestamp, resource, consumer and
         * attributes */
        const struct alumet_point in = *p;
        struct alumet_point *c = alumet_buffer_push_copy(buf, buf, &in);
        if (!c || alumet_point_add_attr_f64(buf, c, "intensity", intensity) < 0 ||
            alumet_point_add_attr_str(buf, c, "intensity_source", t->source) < 0)
            return alumet_error_set(err, -ENOMEM, "out of memory");
        c->metric = t->out;
        c->value_type = ALUMET_VALUE_F64;
        c->value.f64 = v * scale / 3.6e6 * intensity;
    }
    return 0;
}

const struct alumet_transform_ops energy_to_carbon_transform_ops = {
    .version = ALUMET_TRANSFORM_OPS_V1,
    .apply = energy_to_carbon_apply,
    .free = energy_to_carbon_transform_free,
};

static int energy_to_carbon_start(void *state, struct alumet_start_ctx *ctx,
                                  struct alumet_error *err)
{
    struct energy_to_carbon *e = state;
    const struct alumet_unit unit = {ALUMET_UNIT_CUSTOM, ALUMET_PREFIX_PLAIN, "g_CO2",
                                     "gCO\xe2\x82\x82"};
    struct energy_to_carbon_transform *t = malloc(sizeof(*t));
    if (!t)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    *t = *e->t;
    t->log = alumet_start_log_topic(ctx);
    if (e->t->rows && !(t->rows = malloc(t->n_rows * sizeof(*t->rows)))) {
        free(t);
        return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    if (e->t->rows)
        memcpy(t->rows, e->t->rows, t->n_rows * sizeof(*t->rows));
    int r = alumet_create_metric(ctx, ENERGY_TO_CARBON_METRIC, ALUMET_VALUE_F64, unit,
                                 "Carbon emissions of the energy consumed, in grams of CO2 "
                                 "equivalent",
                                 &t->out, err);
    if (r >= 0)
        r = alumet_add_transform(ctx, "transform", &energy_to_carbon_transform_ops, t, err);
    if (r < 0) {
        energy_to_carbon_transform_free(t);
        return r;
    }
    e->running = t;
    if (t->rows)
        alumet_log_at(t->log, ALUMET_LOG_INFO, "carbon intensity from '%s': '%zu' rows",
                      t->source + 5, t->n_rows);
    else
        alumet_log_at(t->log, ALUMET_LOG_INFO, "carbon intensity '%g' gCO2eq/kWh (%s)",
                      t->intensity, t->source);
    return 0;
}

static int energy_to_carbon_stop(void *state, struct alumet_error *err)
{
    struct energy_to_carbon *e = state;
    (void)err;
    e->running = NULL; /* freed by the core */
    return 0;
}

const struct alumet_plugin alumet_plugin_energy_to_carbon = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "energy-to-carbon",
    .version = "0.1.0",
    .default_config = ENERGY_TO_CARBON_DEFAULT_CONFIG,
    .init = energy_to_carbon_init,
    .start = energy_to_carbon_start,
    .stop = energy_to_carbon_stop,
    .free = energy_to_carbon_free,
};
