/* SPDX-License-Identifier: MIT */
/* energy-to-carbon: grams = joules / 3.6e6 x gCO2eq/kWh for every energy
 * unit, with the world average, a country of upstream's table, an override
 * and an intensity file (the row in force at each timestamp), and the
 * errors. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <math.h>

#include "core/buffer.h"
#include "plugins/energy-to-carbon/energy-to-carbon.h"

extern const struct alumet_plugin alumet_plugin_energy_to_carbon;

#define T0 ((alumet_time_ns)1746144000 * ALUMET_NSEC_PER_SEC) /* 2025-05-02T00:00:00Z */
#define HOUR (3600 * ALUMET_NSEC_PER_SEC)

struct run {
    struct toml_value *root;
    struct agent_plugin ap;
    struct alumet_pipeline *p;
    struct alumet_registry *reg;
    void *state;
    struct energy_to_carbon_transform *t; /* the running transform */
    struct alumet_buffer *buf;
    alumet_metric_id j, kj, mj, wh, watt, carbon;
    struct alumet_error err;
};

static int run_init(struct run *r, const char *config)
{
    memset(r, 0, sizeof(*r));
    return alumet_test_plugin_init(&alumet_plugin_energy_to_carbon,
                                   config ? config : alumet_plugin_energy_to_carbon.default_config,
                                   &r->root, &r->state, &r->err);
}

static void run_start(struct run *r)
{
    struct pipeline_settings ps = {0};
    r->p = alumet__pipeline_new(&ps);
    assert_non_null(r->p);
    r->reg = alumet__pipeline_registry(r->p);
    r->j = alumet_test_add_metric(r->reg, "e_j", ALUMET_VALUE_U64, ALUMET_UNIT(JOULE));
    r->kj =
        alumet_test_add_metric(r->reg, "e_kj", ALUMET_VALUE_F64, ALUMET_UNIT_PREFIXED(KILO, JOULE));
    r->mj = alumet_test_add_metric(r->reg, "e_mj", ALUMET_VALUE_U64,
                                   ALUMET_UNIT_PREFIXED(MILLI, JOULE));
    r->wh = alumet_test_add_metric(r->reg, "e_wh", ALUMET_VALUE_F64, ALUMET_UNIT(WATT_HOUR));
    r->watt = alumet_test_add_metric(r->reg, "power", ALUMET_VALUE_F64, ALUMET_UNIT(WATT));
    r->ap.def = &alumet_plugin_energy_to_carbon;
    r->ap.topic = (struct alumet_log_topic)ALUMET_LOG_TOPIC_INIT("energy-to-carbon");
    struct alumet_start_ctx sctx = {r->p, &r->ap};
    assert_int_equal(alumet_plugin_energy_to_carbon.start(r->state, &sctx, &r->err), 0);
    r->t = ((struct energy_to_carbon *)r->state)->running;
    assert_non_null(r->t);
    const struct alumet_metric *m = alumet_registry_find(r->reg, ENERGY_TO_CARBON_METRIC);
    assert_non_null(m);
    assert_int_equal(m->value_type, ALUMET_VALUE_F64);
    assert_string_equal(m->unit_unique, "g_CO2");
    assert_string_equal(m->unit_display, "gCO\xe2\x82\x82");
    r->carbon = m->id;
    r->buf = alumet__buffer_new(16);
    assert_non_null(r->buf);
}

static void run_done(struct run *r)
{
    struct alumet_error err = {0};
    if (r->p)
        assert_int_equal(alumet_plugin_energy_to_carbon.stop(r->state, &err), 0);
    alumet__pipeline_free(r->p);
    alumet_plugin_energy_to_carbon.free(r->state);
    alumet__buffer_free(r->buf);
    toml_free(r->root);
}

static void apply(struct run *r)
{
    struct alumet_error err = {0};
    assert_int_equal(energy_to_carbon_transform_ops.apply(r->t, r->buf, r->reg, &err), 0);
}

static void push(struct run *r, alumet_metric_id m, alumet_time_ns t, double v)
{
    const struct alumet_resource pkg = {ALUMET_RESOURCE_CPU_PACKAGE, 1, NULL, NULL};
    const struct alumet_consumer c = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;
    struct alumet_point *p = m == r->j || m == r->mj
                                 ? alumet_buffer_push_u64(r->buf, t, m, &pkg, &c, (uint64_t)v)
                                 : alumet_buffer_push_f64(r->buf, t, m, &pkg, &c, v);
    assert_non_null(p);
    alumet_test_add_str(r->buf, p, "domain", "package");
}

/* Point i of the buffer is carbon_emission = grams, with the source. */
static void expect(struct run *r, size_t i, alumet_time_ns t, double grams, double intensity,
                   const char *source)
{
    const struct alumet_point *p = alumet_buffer_get(r->buf, i);
    assert_non_null(p);
    assert_int_equal(p->metric, r->carbon);
    assert_int_equal(p->timestamp, t);
    assert_int_equal(p->value_type, ALUMET_VALUE_F64);
    if (fabs(p->value.f64 - grams) > 1e-12 * fabs(grams))
        fail_msg("point %zu: %.17g g, expected %.17g g", i, p->value.f64, grams);
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_CPU_PACKAGE);
    assert_int_equal(p->resource.num, 1);
    assert_string_equal(alumet_point_find_attr(r->buf, p, "domain")->v.str, "package");
    assert_true(alumet_point_find_attr(r->buf, p, "intensity")->v.f64 == intensity);
    assert_string_equal(alumet_point_find_attr(r->buf, p, "intensity_source")->v.str, source);
}

static void test_country_table(void **state)
{
    (void)state;
    assert_int_equal(energy_to_carbon_country_count(), 213);
    static const struct {
        const char *code;
        double v;
    } some[] = {{"ABW", 561.224}, {"FRA", 56.039},   {"DEU", 380.95},  {"USA", 369.473},
                {"CAF", 0.0},     {"TKM", 1306.025}, {"ZWE", 297.872}, {"MSR", 1000.0}};
    for (size_t i = 0; i < sizeof(some) / sizeof(some[0]); i++)
        assert_true(energy_to_carbon_country_find(some[i].code)->intensity == some[i].v);
    assert_null(energy_to_carbon_country_find("XXX"));
    assert_null(energy_to_carbon_country_find("fra"));
}

/* Every energy unit, the three constant modes; power is not converted and
 * the carbon points follow all the inputs. */
static void test_modes_and_units(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        double intensity;
        const char *source;
    } modes[] = {
        {NULL, 475.0, "world_avg"},
        {"[plugins.energy-to-carbon]\nmode = \"country\"\ncountry = { code = \"FRA\" }\n", 56.039,
         "country FRA"},
        {"[plugins.energy-to-carbon]\nmode = \"country\"\ncountry = { code = \"deu\" }\n", 380.95,
         "country DEU"},
        {"[plugins.energy-to-carbon]\nmode = \"intensity_override\"\n"
         "[plugins.energy-to-carbon.intensity_override]\nintensity = 100\n",
         100.0, "override"},
        /* the other tables are read but not used */
        {"[plugins.energy-to-carbon]\nmode = \"world_avg\"\ncountry = { code = \"FRA\" }\n"
         "intensity_override = { intensity = 1.5 }\n",
         475.0, "world_avg"},
    };
    for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
        struct run r;
        if (run_init(&r, modes[k].config) != 0)
            fail_msg("mode %zu: %s", k, r.err.msg);
        run_start(&r);
        double i = modes[k].intensity;
        push(&r, r.j, T0, 1800);      /* 1800 J = 0.0005 kWh */
        push(&r, r.watt, T0, 42.0);   /* not an energy */
        push(&r, r.kj, T0, 7200);     /* 2 kWh */
        push(&r, r.mj, T0, 36000000); /* 36 kJ = 0.01 kWh */
        push(&r, r.wh, T0, 250.0);    /* 0.25 kWh, converted here (not upstream) */
        apply(&r);
        assert_int_equal(alumet_buffer_len(r.buf), 9);
        assert_int_equal(alumet_buffer_get(r.buf, 1)->metric, r.watt);
        expect(&r, 5, T0, 0.0005 * i, i, modes[k].source);
        expect(&r, 6, T0, 2.0 * i, i, modes[k].source);
        expect(&r, 7, T0, 0.01 * i, i, modes[k].source);
        expect(&r, 8, T0, 0.25 * i, i, modes[k].source);
        run_done(&r);
    }
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *msg;
    } cases[] = {
        {"[plugins.energy-to-carbon]\nmode = \"country\"\n",
         "mode: mode 'country' needs the table [plugins.energy-to-carbon.country] with code = "
         "\"FRA\""},
        {"[plugins.energy-to-carbon]\nmode = \"country\"\ncountry = { code = \"\" }\n",
         "country.code is required when mode is 'country'"},
        {"[plugins.energy-to-carbon]\nmode = \"country\"\ncountry = { code = \"XXX\" }\n",
         "code: country 'XXX' not found in the energy mix table"},
        {"[plugins.energy-to-carbon]\nmode = \"intensity_override\"\n",
         "needs the table [plugins.energy-to-carbon.intensity_override] with intensity = 100"},
        {"[plugins.energy-to-carbon]\nmode = \"intensity_override\"\nintensity_override = {}\n",
         "intensity_override.intensity is required"},
        {"[plugins.energy-to-carbon]\nmode = \"intensity_override\"\n"
         "intensity_override = { intensity = -1 }\n",
         "intensity: expected gCO2eq/kWh, a number >= 0"},
        {"[plugins.energy-to-carbon]\nmode = \"country_code\"\n",
         "unknown mode 'country_code': expected \"world_avg\", \"country\", "
         "\"intensity_override\" or \"intensity_file\""},
        {"[plugins.energy-to-carbon]\nmode = \"intensity_file\"\n"
         "intensity_file = { path = \"/nonexistent/i.csv\" }\n",
         "cannot read the intensity file '/nonexistent/i.csv': No such file or directory"},
        {"[plugins.energy-to-carbon]\nmode = \"intensity_file\"\nintensity_file = {}\n",
         "intensity_file.path is required when mode is 'intensity_file'"},
        {"[plugins.energy-to-carbon]\nsci = { embodied_g = -1 }\n",
         "embodied_g: expected grams of CO2eq, a number >= 0"},
        {"[plugins.energy-to-carbon]\nsci = { functional_units = 0 }\n",
         "functional_units: expected a number of functional units greater than 0"},
        {"[plugins.energy-to-carbon]\nsci = { functional_unit = \"\" }\n",
         "functional_unit: expected the name of a functional unit"},
        {"[plugins.energy-to-carbon]\nsci = { embodied = 3 }\n", "embodied"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;
        int rc = run_init(&r, cases[i].config);
        if (rc >= 0 || !strstr(r.err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', expected '%s'", i, rc, r.err.msg, cases[i].msg);
        run_done(&r);
    }
}

static void test_file_parser(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir(), path[PATH_MAX];
    struct energy_to_carbon_row *rows = NULL;
    size_t n = 0;
    struct alumet_error err = {0};
    alumet_test_path_join(path, sizeof(path), dir, "i.csv");
    alumet_test_write_file(path, "timestamp,intensity\n"
                                 "# a comment\n"
                                 "2025-05-02T00:00:00Z,50\n"
                                 "\n"
                                 "2025-05-02T02:00:00+01:00, 100.5\n"
                                 "1746151200,200\n"
                                 "2025-05-02 03:30:00.25z,0\n");
    assert_int_equal(energy_to_carbon_file_read(path, &rows, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].from, T0);
    assert_true(rows[0].intensity == 50.0);
    assert_int_equal(rows[1].from, T0 + HOUR);
    assert_true(rows[1].intensity == 100.5);
    assert_int_equal(rows[2].from, T0 + 2 * HOUR);
    assert_int_equal(rows[3].from, T0 + 3 * HOUR + HOUR / 2 + ALUMET_NSEC_PER_SEC / 4);
    assert_int_equal(energy_to_carbon_file_find(rows, n, T0 - 1), -1);
    assert_int_equal(energy_to_carbon_file_find(rows, n, T0), 0);
    assert_int_equal(energy_to_carbon_file_find(rows, n, T0 + HOUR - 1), 0);
    assert_int_equal(energy_to_carbon_file_find(rows, n, T0 + HOUR), 1);
    assert_int_equal(energy_to_carbon_file_find(rows, n, T0 + 100 * HOUR), 3);
    free(rows);
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"2025-05-02T00:00:00Z,50\n2025-05-02T00:00:00Z,60\n",
         "i.csv:2: the timestamps must increase from one row to the next"},
        {"t,i\n2025-05-02T00:00:00Z,abc\n", "i.csv:2: expected \"timestamp,intensity\""},
        {"2025-05-02T00:00:00Z,50\n2025-05-02T01:00:00,60\n", "i.csv:2: expected"},
        {"2025-05-02T00:00:00Z,-5\n", "i.csv:1: expected"},
        {"timestamp,intensity\n", "no intensity row"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        alumet_test_write_file(path, bad[i].text);
        int rc = energy_to_carbon_file_read(path, &rows, &n, &err);
        if (rc != -EINVAL || !strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: got %d '%s', expected '%s'", i, rc, err.msg, bad[i].msg);
    }
    alumet_test_rmtree(dir);
}

/* The intensity in force at each point's timestamp; before the first row:
 * no carbon point, counted; after the last row + its spacing: a warning. */
static void test_intensity_file(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir(), path[PATH_MAX], config[PATH_MAX + 200], source[PATH_MAX + 8];
    alumet_test_path_join(path, sizeof(path), dir, "intensity.csv");
    alumet_test_write_file(path, "timestamp,gCO2eq/kWh\n"
                                 "2025-05-02T00:00:00Z,50\n"
                                 "2025-05-02T01:00:00Z,100\n"
                                 "2025-05-02T02:00:00Z,200\n");
    snprintf(config, sizeof(config),
             "[plugins.energy-to-carbon]\nmode = \"intensity_file\"\n"
             "[plugins.energy-to-carbon.intensity_file]\npath = \"%s\"\n",
             path);
    snprintf(source, sizeof(source), "file %s", path);
    struct run r;
    assert_int_equal(run_init(&r, config), 0);
    run_start(&r);
    alumet_test_log_capture("energy-to-carbon=warn");
    push(&r, r.j, T0 - ALUMET_NSEC_PER_SEC, 3600);
    push(&r, r.j, T0 + HOUR / 2, 3600);
    push(&r, r.j, T0 + HOUR, 7200);
    push(&r, r.j, T0 + 2 * HOUR + 1, 3600);
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 7);
    expect(&r, 4, T0 + HOUR / 2, 0.05, 50, source);
    expect(&r, 5, T0 + HOUR, 0.2, 100, source);
    expect(&r, 6, T0 + 2 * HOUR + 1, 0.2, 200, source);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "a point at '2025-05-01T23:59:59Z' is before the first "
                                           "row of the intensity file ('2025-05-02T00:00:00Z')",
                                           NULL),
                     1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "past the end", NULL), 0);
    alumet__buffer_clear(r.buf);
    push(&r, r.j, T0 - 2 * ALUMET_NSEC_PER_SEC, 3600);
    push(&r, r.j, T0 + 3 * HOUR, 3600);
    apply(&r);
    assert_int_equal(alumet_buffer_len(r.buf), 3);
    expect(&r, 2, T0 + 3 * HOUR, 0.2, 200, source);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, "before the first row", NULL), 1);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "a point at '2025-05-02T03:00:00Z' is past the end of "
                                           "the intensity file (last row '2025-05-02T02:00:00Z')",
                                           NULL),
                     1);
    run_done(&r); /* the transform is freed: the count of points left out */
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN,
                                           "'2' energy points were before the first row of the "
                                           "intensity file",
                                           NULL),
                     1);
    alumet_test_log_release();
    alumet_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_country_table),  cmocka_unit_test(test_modes_and_units),
        cmocka_unit_test(test_config_errors),  cmocka_unit_test(test_file_parser),
        cmocka_unit_test(test_intensity_file),
    };
    return alumet_run_tests(tests);
}
