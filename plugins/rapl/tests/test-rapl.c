/* SPDX-License-Identifier: MIT */
/* Tests of the rapl plugin's measurements on the fixture trees of
 * tests/fixtures/rapl/ (each scenario's README names the machine and gives
 * the values expected here): exact joules through powercap and through
 * perf_events (injected counts), the first poll as a baseline, wrap-around,
 * the baseline reset after a read failure, every socket, totals per domain
 * only, pause and restart. See rapl-test.h for the set-up. */
#include "rapl-test.h"

#define P0 PC "intel-rapl:0/energy_uj"
#define P0_DRAM PC "intel-rapl:0/intel-rapl:0:0/energy_uj"
#define P1 PC "intel-rapl:1/energy_uj"
#define P1_DRAM PC "intel-rapl:1/intel-rapl:1:0/energy_uj"
#define PSYS PC "intel-rapl:2/energy_uj"

static const char *const powercap_only = "no_perf_events = true\n";

/* ---- pure helpers ---- */

static void test_names(void **state)
{
    (void)state;
    enum rapl_domain d;
    int64_t socket;

    assert_string_equal(rapl_domain_name(RAPL_DOMAIN_PACKAGE), "package");
    assert_string_equal(rapl_domain_name(RAPL_DOMAIN_PLATFORM), "platform");
    assert_string_equal(rapl_domain_total_name(RAPL_DOMAIN_PP1), "pp1_total");
    assert_int_equal(rapl_domain_of_event("pkg"), RAPL_DOMAIN_PACKAGE);
    assert_int_equal(rapl_domain_of_event("cores"), RAPL_DOMAIN_PP0);
    assert_int_equal(rapl_domain_of_event("gpu"), RAPL_DOMAIN_PP1);
    assert_int_equal(rapl_domain_of_event("ram"), RAPL_DOMAIN_DRAM);
    assert_int_equal(rapl_domain_of_event("psys"), RAPL_DOMAIN_PLATFORM);
    assert_int_equal(rapl_domain_of_event("core"), _RAPL_DOMAIN_INVALID);

    assert_int_equal(rapl_zone_name_parse("package-12", &d, &socket), 0);
    assert_int_equal(d, RAPL_DOMAIN_PACKAGE);
    assert_int_equal(socket, 12);
    assert_int_equal(rapl_zone_name_parse("package-1-die-1", &d, &socket), 0);
    assert_int_equal(socket, 1);
    assert_int_equal(rapl_zone_name_parse("core", &d, &socket), 0);
    assert_int_equal(d, RAPL_DOMAIN_PP0);
    assert_int_equal(socket, -1);
    assert_int_equal(rapl_zone_name_parse("uncore", &d, &socket), 0);
    assert_int_equal(d, RAPL_DOMAIN_PP1);
    assert_int_equal(rapl_zone_name_parse("dram", &d, &socket), 0);
    assert_int_equal(d, RAPL_DOMAIN_DRAM);
    assert_int_equal(rapl_zone_name_parse("psys", &d, &socket), 0);
    assert_int_equal(d, RAPL_DOMAIN_PLATFORM);
    static const char *const bad[] = {
        "package-",  "package-x", "package-1-", "package-1-die-",
        "Package-0", "cores",     "",           "package-99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rapl_zone_name_parse(bad[i], &d, &socket), -EINVAL);

    char text[64];
    rapl_domains_text(RAPL_DOMAIN_BIT(RAPL_DOMAIN_DRAM) | RAPL_DOMAIN_BIT(RAPL_DOMAIN_PACKAGE),
                      text, sizeof(text));
    assert_string_equal(text, "package, dram");
    rapl_domains_text(0, text, sizeof(text));
    assert_string_equal(text, "none");
}

static void test_cpu_list(void **state)
{
    (void)state;
    int *cpus = NULL;
    assert_int_equal(rapl_cpu_list_parse("0,32\n", &cpus), 2);
    assert_int_equal(cpus[0], 0);
    assert_int_equal(cpus[1], 32);
    free(cpus);
    assert_int_equal(rapl_cpu_list_parse("0-3,8", &cpus), 5);
    assert_int_equal(cpus[3], 3);
    assert_int_equal(cpus[4], 8);
    free(cpus);
    static const char *const bad[] = {"", "\n", "1-2-3", "3-1", "a", "0,,1", "-1", "0,"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rapl_cpu_list_parse(bad[i], &cpus), -EINVAL);
}

static void test_counter_update(void **state)
{
    (void)state;
    struct rapl_counter c = {.max = 262143328850ull};
    uint64_t d = 0;

    assert_int_equal(rapl_counter_update(&c, 124599532281ull, &d), RAPL_DELTA_FIRST);
    assert_int_equal(rapl_counter_update(&c, 124629532281ull, &d), RAPL_DELTA_OK);
    assert_int_equal(d, 30000000);
    assert_true(rapl_counter_joules(&c, d) == 30.0);
    /* sources.md 2.6: down to 100 wraps with max_energy_range_uj */
    assert_int_equal(rapl_counter_update(&c, 100, &d), RAPL_DELTA_WRAPPED);
    assert_int_equal(d, 262143328850ull - 124629532281ull + 100 + 1);
    /* above the maximum: no value, baseline forgotten */
    assert_int_equal(rapl_counter_update(&c, 262143328851ull, &d), RAPL_DELTA_INVALID);
    assert_false(c.has_prev);
    assert_int_equal(rapl_counter_update(&c, 5, &d), RAPL_DELTA_FIRST);

    /* perf: 64-bit counter, prev = 2^64-1-42, new = 43 → 86 counts */
    struct rapl_counter p = {.perf = true, .max = UINT64_MAX, .scale = 1.0 / TWO32};
    assert_int_equal(rapl_counter_update(&p, UINT64_MAX - 42, &d), RAPL_DELTA_FIRST);
    assert_int_equal(rapl_counter_update(&p, 43, &d), RAPL_DELTA_WRAPPED);
    assert_int_equal(d, 86);
    assert_true(rapl_counter_joules(&p, d) == 86.0 / TWO32);
    assert_int_equal(rapl_counter_update(&p, UINT64_MAX, &d), RAPL_DELTA_OK);
    assert_int_equal(d, UINT64_MAX - 43);

    /* no known maximum: going backwards only gives a new baseline */
    struct rapl_counter u = {0};
    assert_int_equal(rapl_counter_update(&u, 1000, &d), RAPL_DELTA_FIRST);
    assert_int_equal(rapl_counter_update(&u, 10, &d), RAPL_DELTA_INVALID);
    assert_int_equal(rapl_counter_update(&u, 30, &d), RAPL_DELTA_OK);
    assert_int_equal(d, 20);
}

/* ---- powercap ---- */

/* Two sockets, dram and psys: every counter, exact joules, totals per domain. */
static void test_powercap_two_sockets(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "intel-xeon-2s", powercap_only);
    assert_false(e.rapl->using_perf);
    assert_int_equal(e.rapl->source->n, 5);

    /* the first poll is the baseline: no point at all */
    assert_int_equal(env_poll(&e), 0);

    env_set(&e, P0, 124629532281ull);     /* +30000000 µJ */
    env_set(&e, P1, 118823171594ull);     /* +500000 µJ */
    env_set(&e, P0_DRAM, 35215590123ull); /* +2000000 µJ */
    env_set(&e, PSYS, 1268522000000ull);  /* +100000000 µJ */
    /* one point per zone (5), then one total per domain (3) */
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), 30.0);
    expect_joules(&e, "package", PKG(1), 0.5);
    expect_joules(&e, "dram", DRAM(0), 2.0);
    expect_joules(&e, "dram", DRAM(1), 0.0);
    expect_joules(&e, "platform", MACHINE, 100.0);
    /* totals per domain only: psys contains the packages, never summed */
    expect_joules(&e, "package_total", MACHINE, 30.5);
    expect_joules(&e, "dram_total", MACHINE, 2.0);
    expect_joules(&e, "platform_total", MACHINE, 100.0);
    assert_int_equal(count_points(&e, "pp0", PKG(0)), 0);
    /* totals come last, in domain order */
    const struct alumet_point *last = alumet_buffer_get(e.buf, 7);
    assert_string_equal(alumet_point_find_attr(e.buf, last, "domain")->v.str, "platform_total");

    /* unchanged files: 0 J everywhere, still one point per zone and per domain */
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), 0.0);
    expect_joules(&e, "package_total", MACHINE, 0.0);
    env_done(&e);
}

/* A poll's reads are stamped with the instant they were made: a thread
 * preempted for 30 ms between the start and the end of its reads (the
 * counter went on meanwhile) reads them again, and its points carry the
 * instant of the second reads, with their values. */
static void test_preempted_reads(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "intel-xeon-2s", powercap_only);
    assert_int_equal(env_poll(&e), 0);
    alumet_time_ns polled = e.now + ALUMET_NSEC_PER_SEC;
    env_set(&e, P0, 124629532281ull); /* +30 J */
    /* the poll reads the clock (3), the counters, the clock (4): 30 ms
     * later, package 0 at +31.2 J (40 W more); then the clock (5), the
     * counters again, the clock (6) */
    e.stall_at = e.clock_reads + 2;
    e.stall = 30 * ALUMET_NSEC_PER_MSEC;
    e.stall_rel = P0;
    e.stall_value = 124629532281ull + 1200000;
    assert_int_equal(env_poll(&e), 8);
    assert_int_equal(e.clock_reads, 6);
    assert_int_equal(e.now, polled + 30 * ALUMET_NSEC_PER_MSEC);
    expect_joules(&e, "package", PKG(0), 31.2); /* value_of checks the stamp is e.now */
    expect_joules(&e, "package_total", MACHINE, 31.2);
    /* a window of less than 1 ms: read once */
    e.stall_at = e.clock_reads + 2;
    e.stall = ALUMET_NSEC_PER_MSEC;
    e.stall_value = 124629532281ull + 1200000 + 40000;
    assert_int_equal(env_poll(&e), 8);
    assert_int_equal(e.clock_reads, 8);
    e.now -= ALUMET_NSEC_PER_MSEC / 2;         /* stamped at the middle of its window */
    expect_joules(&e, "package", PKG(0), 0.0); /* read before the counter moved */
    env_done(&e);
}

static void test_powercap_wrap(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "intel-xeon-2s", powercap_only);
    env_set(&e, P1, 262143000000ull);
    assert_int_equal(env_poll(&e), 0);
    /* package-1 wraps around max_energy_range_uj = 262143328850 */
    env_set(&e, P1, 1234);
    env_set(&e, P0, 124629532281ull);
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(1), 0.330085); /* 262143328850 - 262143000000 + 1234 + 1 */
    expect_joules(&e, "package", PKG(0), 30.0);
    expect_joules(&e, "package_total", MACHINE, 30.0 + 0.330085);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_DEBUG, "wrapped around", "intel-rapl:1/energy_uj"), 1);

    /* sources.md 2.6: package-0 from 124629532281 down to 100 */
    env_set(&e, P0, 100);
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), (262143328850.0 - 124629532281.0 + 100 + 1) / 1e6);
    env_done(&e);
}

/* A failed read resets the counter's baseline: the next good value gives no
 * point (never a difference with a value from before the failure), and the
 * total of the domain is left out while a socket is missing. */
static void test_powercap_read_failure(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    env_setup(&e, "intel-xeon-2s", powercap_only);
    assert_int_equal(env_poll(&e), 0);

    env_write(&e, P0, "garbage\n");
    assert_int_equal(env_poll_r(&e, &err), ALUMET_POLL_RETRY);
    assert_non_null(strstr(err.msg, "intel-rapl:0/energy_uj"));
    assert_non_null(strstr(err.msg, "baseline is reset"));
    assert_int_equal(count_points(&e, "package", PKG(0)), 0);
    assert_int_equal(count_points(&e, "package_total", MACHINE), 0);
    expect_joules(&e, "package", PKG(1), 0.0);
    expect_joules(&e, "dram_total", MACHINE, 0.0);

    /* back, far away: only a new baseline */
    env_set(&e, P0, 200000000000ull);
    assert_int_equal(env_poll(&e), 6);
    assert_int_equal(count_points(&e, "package", PKG(0)), 0);
    assert_int_equal(count_points(&e, "package_total", MACHINE), 0);

    env_set(&e, P0, 200001000000ull);
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), 1.0);
    expect_joules(&e, "package_total", MACHINE, 1.0);

    /* an empty file (as during a rewrite) is a failure too */
    env_write(&e, P1, "");
    assert_int_equal(env_poll_r(&e, &err), ALUMET_POLL_RETRY);
    assert_int_equal(count_points(&e, "package", PKG(1)), 0);
    env_done(&e);
}

/* Pause forgets the baselines: the first poll after resume gives nothing. */
static void test_reset(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "intel-xeon-2s", powercap_only);
    assert_int_equal(env_poll(&e), 0);
    env_set(&e, P0, 124629532281ull);
    rapl_source_ops.reset(e.rapl->source);
    assert_int_equal(env_poll(&e), 0);
    env_set(&e, P0, 124630532281ull);
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), 1.0);
    env_done(&e);
}

/* start → stop → start works, with fresh baselines */
static void test_restart(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "intel-xeon-2s", powercap_only);
    assert_int_equal(env_poll(&e), 0);
    env_stop(&e);
    assert_null(e.rapl->source);
    env_start(&e);
    assert_int_equal(env_poll(&e), 0);
    env_set(&e, P0, 124629532281ull);
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), 30.0);
    env_done(&e);
}

/* AMD: package only, 12 J */
static void test_powercap_amd(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "amd-epyc-1s", powercap_only);
    assert_int_equal(e.rapl->source->n, 1);
    assert_int_equal(env_poll(&e), 0);
    env_set(&e, PC "intel-rapl:0/energy_uj", 41268901731ull);
    env_set(&e, PC "intel-rapl:0/intel-rapl:0:0/energy_uj", 3999999999ull);
    assert_int_equal(env_poll(&e), 2);
    expect_joules(&e, "package", PKG(0), 12.0);
    expect_joules(&e, "package_total", MACHINE, 12.0);
    assert_int_equal(count_points(&e, "pp0", PKG(0)), 0);
    env_done(&e);
}

/* Laptop: every domain, each with its own total; the MMIO copy of the
 * package zone is not read. */
static void test_powercap_laptop_mmio(void **state)
{
    (void)state;
    struct env e;
    env_setup(&e, "intel-laptop-mmio", powercap_only);
    assert_int_equal(alumet_test_log_count(ALUMET_LOG_WARN, NULL, NULL), 0);
    assert_int_equal(e.rapl->source->n, 5);
    assert_int_equal(env_poll(&e), 0);
    env_set(&e, PC "intel-rapl:0/energy_uj", 16253718209ull);
    env_set(&e, PC "intel-rapl:0/intel-rapl:0:0/energy_uj", 9105938112ull);
    env_set(&e, PC "intel-rapl:0/intel-rapl:0:1/energy_uj", 401793817ull);
    env_set(&e, PC "intel-rapl:1/energy_uj", 36122974418ull);
    env_set(&e, "sys/devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:0/energy_uj",
            99999999999ull);
    assert_int_equal(env_poll(&e), 10);
    expect_joules(&e, "package", PKG(0), 10.0);
    expect_joules(&e, "pp0", PKG(0), 3.0);
    expect_joules(&e, "pp1", PKG(0), 0.5);
    expect_joules(&e, "dram", DRAM(0), 0.0);
    expect_joules(&e, "platform", MACHINE, 20.0);
    /* a package contains pp0 and pp1: the totals never add them up */
    expect_joules(&e, "package_total", MACHINE, 10.0);
    expect_joules(&e, "pp0_total", MACHINE, 3.0);
    expect_joules(&e, "pp1_total", MACHINE, 0.5);
    expect_joules(&e, "dram_total", MACHINE, 0.0);
    expect_joules(&e, "platform_total", MACHINE, 20.0);
    env_done(&e);
}

/* Without intel_rapl_msr, the intel-rapl-mmio zone gives the package. */
static void test_powercap_mmio_only(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-laptop-mmio", powercap_only, &err), 0);
    env_rmtree(&e, "sys/devices/virtual/powercap/intel-rapl");
    env_start(&e);
    assert_int_equal(e.rapl->source->n, 1);
    assert_int_equal(env_poll(&e), 0);
    env_set(&e, "sys/devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:0/energy_uj",
            16243702117ull + 4000000);
    assert_int_equal(env_poll(&e), 2);
    expect_joules(&e, "package", PKG(0), 4.0);
    env_done(&e);
}

/* ---- perf_events (injected counts) ---- */

static void test_perf_two_sockets(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    e.perf.type = 22;
    /* start values: anything, the first poll is a baseline */
    e.perf.values[2][0] = 123456789;
    e.perf.values[2][32] = 987654321;
    e.perf.values[3][0] = 5;
    e.perf.values[5][0] = 1ull << 40;
    env_start(&e);
    assert_true(e.rapl->using_perf);
    /* package and dram on both sockets, psys once; pp0 (cores) is not opened:
     * powercap does not report it */
    assert_int_equal(e.perf.n, 5);
    assert_true(fake_fd(&e.perf, 2, 0) >= 0 && fake_fd(&e.perf, 2, 32) >= 0);
    assert_true(fake_fd(&e.perf, 3, 0) >= 0 && fake_fd(&e.perf, 3, 32) >= 0);
    assert_true(fake_fd(&e.perf, 5, 0) >= 0 && fake_fd(&e.perf, 5, 32) < 0);
    assert_int_equal(fake_fd(&e.perf, 1, 0), -1);

    assert_int_equal(env_poll(&e), 0);
    e.perf.values[2][0] += 30ull << 32;        /* 30 J */
    e.perf.values[2][32] += 1ull << 31;        /* 0.5 J */
    e.perf.values[3][0] += 2ull << 32;         /* 2 J */
    e.perf.values[5][0] += (100ull << 32) + 1; /* 100 J and one count */
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), 30.0);
    expect_joules(&e, "package", PKG(1), 0.5); /* cpu32's physical_package_id is 1 */
    expect_joules(&e, "dram", DRAM(0), 2.0);
    expect_joules(&e, "dram", DRAM(1), 0.0);
    expect_joules(&e, "platform", MACHINE, 100.0 + 1.0 / TWO32);
    expect_joules(&e, "package_total", MACHINE, 30.5);
    expect_joules(&e, "dram_total", MACHINE, 2.0);
    /* psys counted once, not once per socket */
    expect_joules(&e, "platform_total", MACHINE, 100.0 + 1.0 / TWO32);
    env_done(&e);
}

/* The 64-bit perf counter wraps: prev = 2^64-1-42, new = 43 → 86 counts. */
static void test_perf_wrap(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "amd-epyc-1s", NULL, &err), 0);
    e.perf.type = 11;
    e.perf.values[2][0] = UINT64_MAX - 42;
    env_start(&e);
    assert_true(e.rapl->using_perf);
    assert_int_equal(e.perf.n, 1);
    assert_int_equal(env_poll(&e), 0);
    e.perf.values[2][0] = 43;
    assert_int_equal(env_poll(&e), 2);
    expect_joules(&e, "package", PKG(0), 86.0 / TWO32);
    e.perf.values[2][0] += 12ull << 32;
    assert_int_equal(env_poll(&e), 2);
    expect_joules(&e, "package", PKG(0), 12.0);
    expect_joules(&e, "package_total", MACHINE, 12.0);
    env_done(&e);
}

static void test_perf_read_failure(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    e.perf.type = 22;
    env_start(&e);
    assert_int_equal(env_poll(&e), 0);
    e.perf.read_error_fd = fake_fd(&e.perf, 2, 32);
    e.perf.read_error = -EIO;
    e.perf.values[2][32] = 1ull << 50; /* what a bogus difference would be made of */
    assert_int_equal(env_poll_r(&e, &err), ALUMET_POLL_RETRY);
    assert_non_null(strstr(err.msg, "'energy-pkg' on CPU 32"));
    assert_int_equal(count_points(&e, "package", PKG(1)), 0);
    assert_int_equal(count_points(&e, "package_total", MACHINE), 0);
    e.perf.read_error = 0;
    assert_int_equal(env_poll(&e), 6); /* socket 1: a new baseline only */
    assert_int_equal(count_points(&e, "package", PKG(1)), 0);
    e.perf.values[2][32] += 3ull << 32;
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(1), 3.0);
    expect_joules(&e, "package_total", MACHINE, 3.0);
    env_done(&e);
}

/* perf_event_open refused: warn with the fix, then read powercap. */
static void test_perf_refused_falls_back(void **state)
{
    (void)state;
    struct env e;
    struct alumet_error err = {0};
    assert_int_equal(env_init(&e, "intel-xeon-2s", NULL, &err), 0);
    e.perf.type = 22;
    e.perf.open_error = -EACCES;
    env_start(&e);
    assert_false(e.rapl->using_perf);
    assert_int_equal(
        alumet_test_log_count(ALUMET_LOG_WARN,
                              "perf_event_open refused the RAPL event 'energy-pkg' on CPU 0: "
                              "Permission denied",
                              "falling back to powercap"),
        1);
    assert_int_equal(env_poll(&e), 0);
    env_set(&e, P0, 124629532281ull);
    assert_int_equal(env_poll(&e), 8);
    expect_joules(&e, "package", PKG(0), 30.0);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_counter_update),
        cmocka_unit_test(test_powercap_two_sockets),
        cmocka_unit_test(test_preempted_reads),
        cmocka_unit_test(test_powercap_wrap),
        cmocka_unit_test(test_powercap_read_failure),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_powercap_amd),
        cmocka_unit_test(test_powercap_laptop_mmio),
        cmocka_unit_test(test_powercap_mmio_only),
        cmocka_unit_test(test_perf_two_sockets),
        cmocka_unit_test(test_perf_wrap),
        cmocka_unit_test(test_perf_read_failure),
        cmocka_unit_test(test_perf_refused_falls_back),
    };
    return alumet_run_tests(tests);
}
