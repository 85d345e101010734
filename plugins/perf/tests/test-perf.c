/* SPDX-License-Identifier: MIT */
/* The perf plugin: the event grammar and metric names, the multiplexing
 * scaling, the explanations of perf_event_open failures, unsupported events,
 * targets and polls with mocked system calls, the plugin through the agent
 * lifecycle, and one real software counter on a child when the kernel allows. */
#include "alumet-test-plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "core/buffer.h"
#include "perf.h"
#include "util/privileges.h"

extern const struct alumet_plugin alumet_plugin_perf;

/* ---- helpers ---- */

/* A report that keeps the messages in a log_capture-like list of strings. */
struct reports {
    char msgs[8][1024];
    size_t n;
};

static void report_keep(void *data, const char *msg)
{
    struct reports *r = data;
    if (r->n < 8)
        snprintf(r->msgs[r->n++], sizeof(r->msgs[0]), "%s", msg);
}

static void make_dir(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s/x", dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
}

/* ---- mocked system calls ---- */

#define MOCK_MAX 128
#define MOCK_FD0 1000

struct mock_open {
    struct perf_event_attr attr;
    pid_t pid;
    int cpu;
    unsigned long flags;
    int fd;
};

struct mock {
    int fail_by_type[8]; /* errno returned for attr.type, 0 = success */
    int fail_all;        /* errno returned for everything, 0 = none */
    pid_t gone_tid;      /* ESRCH for this thread */
    struct mock_open opens[MOCK_MAX];
    size_t n_opens; /* attempts, failed ones included */
    size_t n_fds;
    bool closed[MOCK_MAX];
    bool enabled[MOCK_MAX];
    struct perf_event_count values[MOCK_MAX];
    int read_errno;
};

static int mock_open(void *data, const struct perf_event_attr *attr, pid_t pid, int cpu,
                     unsigned long flags)
{
    struct mock *m = data;
    assert_true(m->n_opens < MOCK_MAX);
    struct mock_open *o = &m->opens[m->n_opens++];
    o->attr = *attr;
    o->pid = pid;
    o->cpu = cpu;
    o->flags = flags;
    o->fd = -1;
    if (m->fail_all)
        return -m->fail_all;
    if (attr->type < 8 && m->fail_by_type[attr->type])
        return -m->fail_by_type[attr->type];
    if (m->gone_tid && pid == m->gone_tid)
        return -ESRCH;
    o->fd = MOCK_FD0 + (int)m->n_fds++;
    return o->fd;
}

static int mock_enable(void *data, int fd)
{
    struct mock *m = data;
    m->enabled[fd - MOCK_FD0] = true;
    return 0;
}

static int mock_read(void *data, int fd, struct perf_event_count *ret)
{
    struct mock *m = data;
    if (m->read_errno)
        return -m->read_errno;
    assert_false(m->closed[fd - MOCK_FD0]);
    *ret = m->values[fd - MOCK_FD0];
    return 0;
}

static void mock_close(void *data, int fd)
{
    struct mock *m = data;
    assert_true(fd >= MOCK_FD0 && fd < MOCK_FD0 + (int)m->n_fds);
    assert_false(m->closed[fd - MOCK_FD0]);
    m->closed[fd - MOCK_FD0] = true;
}

static const struct perf_sys_ops mock_ops = {
    .open = mock_open,
    .enable = mock_enable,
    .read = mock_read,
    .close = mock_close,
};

static size_t mock_open_fds(const struct mock *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_fds; i++)
        n += !m->closed[i];
    return n;
}

/* ---- a plugin state from config text, started by hand (no pipeline) ---- */

struct fixture {
    char *dir; /* proc_root, sys_root, cgroup_root */
    struct toml_value *root;
    struct perf *perf;
    struct mock mock;
    struct alumet_buffer *buf;
};

static int fixture_init_config(struct fixture *f, const char *events_toml, const char *extra,
                               struct alumet_error *err)
{
    char config[4096];
    snprintf(config, sizeof(config),
             "[plugins.perf]\npoll_interval = \"1s\"\nflush_interval = \"5s\"\n%s\n"
             "proc_root = \"%s\"\nsys_root = \"%s\"\ncgroup_root = \"%s/cg\"\n%s",
             events_toml, f->dir, f->dir, f->dir, extra ? extra : "");
    void *st = NULL;
    int r = alumet_test_plugin_init(&alumet_plugin_perf, config, &f->root, &st, err);
    f->perf = st;
    return r;
}

/* A fixture tree: a process 4242 with threads 4242 and 4243, CPUs 0-1 and 3
 * online, a cgroup directory cg/app. */
static void fixture_init(struct fixture *f, const char *events_toml, const char *extra)
{
    memset(f, 0, sizeof(*f));
    f->dir = alumet_test_tmpdir();
    make_dir(f->dir, "proc/4242/task/4242");
    make_dir(f->dir, "proc/4242/task/4243");
    make_dir(f->dir, "proc/77/task/77");
    alumet_test_write_at(f->dir, "sys/devices/system/cpu/online", "0-1,3\n");
    alumet_test_write_at(f->dir, "proc/sys/kernel/perf_event_paranoid", "2\n");
    alumet_test_write_at(f->dir, "proc/self/status",
                         "Name:\talumet-agent\nCapEff:\t0000000000000000\n");
    make_dir(f->dir, "cg/app");
    struct alumet_error err = {0};
    int r = fixture_init_config(f, events_toml, extra, &err);
    if (r < 0)
        fail_msg("init failed: %s", err.msg);

    /* what perf_start does, without a pipeline */
    struct perf *perf = f->perf;
    perf->sys = &mock_ops;
    perf->sys_data = &f->mock;
    perf->proc_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    perf->sys_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(perf->proc_fd >= 0 && perf->sys_fd >= 0);
    perf->ev = calloc(perf->n_events, sizeof(*perf->ev));
    assert_non_null(perf->ev);
    for (size_t i = 0; i < perf->n_events; i++)
        perf->ev[i].metric = (alumet_metric_id)i;
    perf->running = true;
    f->buf = alumet__buffer_new(16);
    assert_non_null(f->buf);
    alumet_test_log_clear();
}

static void fixture_done(struct fixture *f)
{
    if (f->perf)
        alumet_plugin_perf.free(f->perf);
    /* every fd that was opened is closed */
    assert_int_equal(mock_open_fds(&f->mock), 0);
    alumet__buffer_free(f->buf);
    toml_free(f->root);
    alumet_test_rmtree(f->dir);
    alumet_test_log_clear();
}

/* ---- event grammar ---- */

static int fake_pfm(void *data, const char *name, struct perf_event_attr *attr,
                    struct alumet_error *err)
{
    int *calls = data;
    if (calls)
        (*calls)++;
    if (strcmp(name, "RESOURCE_STALLS:ANY") == 0) {
        attr->type = PERF_TYPE_RAW;
        attr->config = 0x1a2;
        attr->config1 = 7;
        attr->config2 = 9;
        return 0;
    }
    if (strcmp(name, "uncore_imc::CAS_COUNT:RD") == 0) {
        attr->type = 17; /* a dynamic PMU type */
        attr->config = 0x304;
        return 0;
    }
    return alumet_error_set(err, -ENOENT, "event not found");
}

static struct perf_event_spec parse_ok(const char *input, const char *rename)
{
    struct perf_event_spec e;
    struct alumet_error err = {0};
    int r = perf_event_spec_parse(input, rename, PERF_NAMING_EVENTS, fake_pfm, NULL, &e, &err);
    if (r < 0)
        fail_msg("parse '%s' failed: %s", input, err.msg);
    return e;
}

static void parse_fails(const char *input, enum perf_naming naming, const char *msg)
{
    struct perf_event_spec e;
    struct alumet_error err = {0};
    int r = perf_event_spec_parse(input, NULL, naming, fake_pfm, NULL, &e, &err);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, msg);
    /* a failed parse leaves nothing to free */
    assert_null(e.input);
    assert_null(e.metric);
}

static void assert_excludes(const struct perf_event_spec *e, int u, int k, int h, int host,
                            int guest, int idle)
{
    assert_int_equal(e->exclude_user, u);
    assert_int_equal(e->exclude_kernel, k);
    assert_int_equal(e->exclude_hv, h);
    assert_int_equal(e->exclude_host, host);
    assert_int_equal(e->exclude_guest, guest);
    assert_int_equal(e->exclude_idle, idle);
}

static void test_native_hardware(void **state)
{
    (void)state;
    static const struct {
        const char *in, *name;
        uint64_t config;
    } rows[] = {
        {"CPU_CYCLES", "CPU_CYCLES", 0},
        {"instructions", "INSTRUCTIONS", 1},
        {"Cache_References", "CACHE_REFERENCES", 2},
        {"CACHE_MISSES", "CACHE_MISSES", 3},
        {"BRANCH_INSTRUCTIONS", "BRANCH_INSTRUCTIONS", 4},
        {"BRANCH_MISSES", "BRANCH_MISSES", 5},
        {"BUS_CYCLES", "BUS_CYCLES", 6},
        {"STALLED_CYCLES_FRONTEND", "STALLED_CYCLES_FRONTEND", 7},
        {"STALLED_CYCLES_BACKEND", "STALLED_CYCLES_BACKEND", 8},
        {"REF_CPU_CYCLES", "REF_CPU_CYCLES", 9},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct perf_event_spec e = parse_ok(rows[i].in, NULL);
        assert_int_equal(e.type, PERF_TYPE_HARDWARE);
        assert_int_equal(e.config, rows[i].config);
        assert_string_equal(e.name, rows[i].name);
        assert_string_equal(e.input, rows[i].in);
        assert_int_equal(e.origin, PERF_ORIGIN_NATIVE);
        assert_false(e.nanoseconds);
        assert_true(perf_event_spec_is_hardware(&e));
        assert_excludes(&e, 0, 1, 1, 0, 0, 0);
        assert_false(e.has_modifiers);
        perf_event_spec_done(&e);
    }
    struct perf_event_spec e = parse_ok("REF_CPU_CYCLES", NULL);
    assert_string_equal(e.metric, "perf_ref_cpu_cycles");
    assert_string_equal(e.description, "Total cycles, independent of frequency scaling");
    perf_event_spec_done(&e);
    e = parse_ok("INSTRUCTIONS", NULL);
    assert_string_equal(e.description, "Retired instructions");
    perf_event_spec_done(&e);
}

static void test_native_software(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t config;
        const char *metric;
        bool ns;
    } rows[] = {
        {"PAGE_FAULTS", 2, "perf_page_faults", false},
        {"context_switches", 3, "perf_context_switches", false},
        {"CPU_MIGRATIONS", 4, "perf_cpu_migrations", false},
        {"PAGE_FAULTS_MIN", 5, "perf_page_faults_min", false},
        {"PAGE_FAULTS_MAJ", 6, "perf_page_faults_maj", false},
        {"ALIGNMENT_FAULTS", 7, "perf_alignment_faults", false},
        {"EMULATION_FAULTS", 8, "perf_emulation_faults", false},
        /* upstream encodes it as DUMMY (9), which always reads 0 */
        {"CGROUP_SWITCHES", 11, "perf_cgroup_switches", false},
        {"CPU_CLOCK", 0, "perf_cpu_clock", true},
        {"task_clock", 1, "perf_task_clock", true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct perf_event_spec e = parse_ok(rows[i].in, NULL);
        assert_int_equal(e.type, PERF_TYPE_SOFTWARE);
        assert_int_equal(e.config, rows[i].config);
        assert_string_equal(e.metric, rows[i].metric);
        assert_int_equal(e.nanoseconds, rows[i].ns);
        assert_false(perf_event_spec_is_hardware(&e));
        perf_event_spec_done(&e);
    }
    struct perf_event_spec e = parse_ok("PAGE_FAULTS", NULL);
    assert_string_equal(e.description, "Page faults.");
    perf_event_spec_done(&e);
}

static void test_native_cache(void **state)
{
    (void)state;
    struct perf_event_spec e = parse_ok("LL_READ_MISS", NULL);
    assert_int_equal(e.type, PERF_TYPE_HW_CACHE);
    assert_int_equal(e.config, 2 | 0 << 8 | 1 << 16);
    assert_string_equal(e.name, "LL_READ_MISS");
    assert_string_equal(e.metric, "perf_ll_read_miss");
    assert_string_equal(e.description,
                        "Last-level cache, read accesses, counting the number of cache misses.");
    assert_true(perf_event_spec_is_hardware(&e));
    perf_event_spec_done(&e);

    e = parse_ok("l1d_write_access", NULL);
    assert_int_equal(e.config, 0 | 1 << 8 | 0 << 16);
    assert_string_equal(e.name, "L1D_WRITE_ACCESS");
    perf_event_spec_done(&e);

    static const struct {
        const char *in;
        uint64_t config;
    } rows[] = {
        {"L1I_PREFETCH_MISS", 1 | 2 << 8 | 1 << 16},
        {"DTLB_READ_ACCESS", 3},
        {"ITLB_READ_MISS", 4 | 1 << 16},
        {"BPU_READ_ACCESS", 5},
        {"NODE_WRITE_MISS", 6 | 1 << 8 | 1 << 16},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        e = parse_ok(rows[i].in, NULL);
        assert_int_equal(e.type, PERF_TYPE_HW_CACHE);
        assert_int_equal(e.config, rows[i].config);
        perf_event_spec_done(&e);
    }
    e = parse_ok("BPU_READ_ACCESS", NULL);
    assert_string_equal(e.description,
                        "Branch prediction., read accesses, counting the number of cache "
                        "accesses.");
    perf_event_spec_done(&e);
}

static void test_raw(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t config;
        const char *metric, *description;
    } rows[] = {
        {"r3c", 0x3c, "perf_r3c", "raw event 0x3c"},
        {"r0x412e", 0x412e, "perf_r0x412e", "raw event 0x412e"},
        {"r0X412E", 0x412e, "perf_r0x412e", "raw event 0x412e"},
        {"r0", 0, "perf_r0", "raw event 0x0"},
        {"rffffffffffffffff", UINT64_MAX, "perf_rffffffffffffffff", "raw event 0xffffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct perf_event_spec e = parse_ok(rows[i].in, NULL);
        assert_int_equal(e.type, PERF_TYPE_RAW);
        assert_int_equal(e.config, rows[i].config);
        assert_int_equal(e.origin, PERF_ORIGIN_RAW);
        assert_string_equal(e.name, rows[i].in);
        assert_string_equal(e.metric, rows[i].metric);
        assert_string_equal(e.description, rows[i].description);
        perf_event_spec_done(&e);
    }
    /* not raw: they go to libpfm, which does not know them */
    const char *not_raw[] = {"r", "r0x", "rZZ", "r3c_extra", "R3c", "r10000000000000000"};
    for (size_t i = 0; i < sizeof(not_raw) / sizeof(not_raw[0]); i++) {
        int calls = 0;
        struct perf_event_spec e;
        struct alumet_error err = {0};
        assert_int_equal(
            perf_event_spec_parse(not_raw[i], NULL, PERF_NAMING_EVENTS, fake_pfm, &calls, &e, &err),
            -EINVAL);
        assert_int_equal(calls, 1);
    }
}

static void test_libpfm(void **state)
{
    (void)state;
    int calls = 0;
    struct perf_event_spec e;
    struct alumet_error err = {0};
    assert_int_equal(perf_event_spec_parse("RESOURCE_STALLS:ANY#u:k", NULL, PERF_NAMING_EVENTS,
                                           fake_pfm, &calls, &e, &err),
                     0);
    assert_int_equal(calls, 1);
    assert_int_equal(e.origin, PERF_ORIGIN_PFM);
    assert_int_equal(e.type, PERF_TYPE_RAW);
    assert_int_equal(e.config, 0x1a2);
    assert_int_equal(e.config1, 7);
    assert_int_equal(e.config2, 9);
    assert_string_equal(e.name, "RESOURCE_STALLS:ANY");
    assert_string_equal(e.metric, "perf_resource_stalls_any");
    assert_string_equal(e.description, "RESOURCE_STALLS:ANY (encoded via libpfm)");
    assert_excludes(&e, 0, 0, 1, 0, 0, 0);
    perf_event_spec_done(&e);

    /* a dynamic PMU type is kept, and counts as hardware */
    e = parse_ok("uncore_imc::CAS_COUNT:RD", NULL);
    assert_int_equal(e.type, 17);
    assert_string_equal(e.metric, "perf_uncore_imc__cas_count_rd");
    assert_true(perf_event_spec_is_hardware(&e));
    perf_event_spec_done(&e);

    /* native names never reach libpfm */
    calls = 0;
    assert_int_equal(
        perf_event_spec_parse("INSTRUCTIONS", NULL, PERF_NAMING_EVENTS, fake_pfm, &calls, &e, &err),
        0);
    assert_int_equal(calls, 0);
    perf_event_spec_done(&e);

    parse_fails("NOT_AN_EVENT", PERF_NAMING_EVENTS,
                "invalid event 'NOT_AN_EVENT': unknown event 'NOT_AN_EVENT': not a native "
                "event, and libpfm could not encode it: event not found");
    parse_fails("NOT_AN_EVENT#u", PERF_NAMING_EVENTS,
                "invalid event 'NOT_AN_EVENT#u': unknown event 'NOT_AN_EVENT': not a native "
                "event, and libpfm could not encode it: event not found");
    /* without an encoder */
    assert_int_equal(perf_event_spec_parse("RESOURCE_STALLS:ANY", NULL, PERF_NAMING_EVENTS, NULL,
                                           NULL, &e, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "invalid event 'RESOURCE_STALLS:ANY': unknown event "
                                 "'RESOURCE_STALLS:ANY': not a native event, and libpfm could "
                                 "not encode it: libpfm is not available");
}

/* The real libpfm4: its generic perf PMU is there on every machine. */
static void test_libpfm_real(void **state)
{
    (void)state;
    struct perf_event_spec e;
    struct alumet_error err = {0};
    assert_int_equal(perf_event_spec_parse("PERF_COUNT_SW_TASK_CLOCK", NULL, PERF_NAMING_EVENTS,
                                           perf_pfm_encode, NULL, &e, &err),
                     0);
    assert_int_equal(e.type, PERF_TYPE_SOFTWARE);
    assert_int_equal(e.config, PERF_COUNT_SW_TASK_CLOCK);
    assert_true(e.nanoseconds);
    assert_string_equal(e.metric, "perf_perf_count_sw_task_clock");
    perf_event_spec_done(&e);

    assert_int_equal(perf_event_spec_parse("perf::PERF_COUNT_HW_INSTRUCTIONS", NULL,
                                           PERF_NAMING_EVENTS, perf_pfm_encode, NULL, &e, &err),
                     0);
    assert_int_equal(e.type, PERF_TYPE_HARDWARE);
    assert_int_equal(e.config, PERF_COUNT_HW_INSTRUCTIONS);
    perf_event_spec_done(&e);

    assert_int_equal(perf_event_spec_parse("DEFINITELY_NOT_A_REAL_EVENT_XYZ", NULL,
                                           PERF_NAMING_EVENTS, perf_pfm_encode, NULL, &e, &err),
                     -EINVAL);
    assert_string_equal(err.msg,
                        "invalid event 'DEFINITELY_NOT_A_REAL_EVENT_XYZ': unknown event "
                        "'DEFINITELY_NOT_A_REAL_EVENT_XYZ': not a native event, and libpfm could "
                        "not encode it: event not found; the event may not exist on this CPU, or "
                        "this libpfm may be too old to know this CPU model; list the events of "
                        "this CPU with libpfm's 'showevtinfo'");
}

static void test_grammar_errors(void **state)
{
    (void)state;
    parse_fails("", PERF_NAMING_EVENTS, "empty event name in ''");
    parse_fails("#u", PERF_NAMING_EVENTS, "empty event name in '#u'");
    parse_fails("INSTRUCTIONS#uk", PERF_NAMING_EVENTS,
                "invalid event 'INSTRUCTIONS#uk': unknown modifier 'uk'");
    parse_fails("INSTRUCTIONS#z", PERF_NAMING_EVENTS,
                "invalid event 'INSTRUCTIONS#z': unknown modifier 'z'");
    parse_fails("INSTRUCTIONS#U", PERF_NAMING_EVENTS,
                "invalid event 'INSTRUCTIONS#U': unknown modifier 'U'");
    parse_fails("INSTRUCTIONS#u:", PERF_NAMING_EVENTS,
                "invalid event 'INSTRUCTIONS#u:': empty modifier (check the ':' separators)");
    parse_fails("INSTRUCTIONS#u::k", PERF_NAMING_EVENTS,
                "invalid event 'INSTRUCTIONS#u::k': empty modifier (check the ':' separators)");
    parse_fails("INSTRUCTIONS#:u", PERF_NAMING_EVENTS,
                "invalid event 'INSTRUCTIONS#:u': empty modifier (check the ':' separators)");
    parse_fails("INSTRUCTIONS#u#k", PERF_NAMING_EVENTS,
                "invalid event 'INSTRUCTIONS#u#k': unknown modifier 'u#k'");
    parse_fails("cpu/event=0x3c,umask=0/", PERF_NAMING_EVENTS,
                "invalid event 'cpu/event=0x3c,umask=0/': pmu-named / pmu-raw events "
                "('cpu/event=0x3c,umask=0/') are not supported yet; this is planned for a "
                "future release");
    parse_fails("cpu/config=0x3c/#u", PERF_NAMING_EVENTS,
                "invalid event 'cpu/config=0x3c/#u': pmu-named / pmu-raw events "
                "('cpu/config=0x3c/') are not supported yet; this is planned for a future "
                "release");
    parse_fails("cpu_core/INSTRUCTIONS", PERF_NAMING_EVENTS,
                "invalid event 'cpu_core/INSTRUCTIONS': pmu-named / pmu-raw events "
                "('cpu_core/INSTRUCTIONS') are not supported yet; this is planned for a future "
                "release");
    /* a bad modifier is reported before the name is resolved */
    parse_fails("cpu/x/#q", PERF_NAMING_EVENTS, "invalid event 'cpu/x/#q': unknown modifier 'q'");
}

static void test_modifiers(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int u, k, h, host, guest, idle;
    } rows[] = {
        {"INSTRUCTIONS", 0, 1, 1, 0, 0, 0},       {"INSTRUCTIONS#", 0, 1, 1, 0, 0, 0},
        {"INSTRUCTIONS#u", 0, 1, 1, 0, 0, 0},     {"INSTRUCTIONS#k", 1, 0, 1, 0, 0, 0},
        {"INSTRUCTIONS#h", 1, 1, 0, 0, 0, 0},     {"INSTRUCTIONS#u:k", 0, 0, 1, 0, 0, 0},
        {"INSTRUCTIONS#k:u", 0, 0, 1, 0, 0, 0},   {"INSTRUCTIONS#u:k:h", 0, 0, 0, 0, 0, 0},
        {"INSTRUCTIONS#k:h", 1, 0, 0, 0, 0, 0},   {"INSTRUCTIONS#H", 0, 1, 1, 0, 1, 0},
        {"INSTRUCTIONS#G", 0, 1, 1, 1, 0, 0},     {"INSTRUCTIONS#H:G", 0, 1, 1, 0, 0, 0},
        {"INSTRUCTIONS#I", 0, 1, 1, 0, 0, 1},     {"INSTRUCTIONS#u:u", 0, 1, 1, 0, 0, 0},
        {"INSTRUCTIONS#k:G:I", 1, 0, 1, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct perf_event_spec e = parse_ok(rows[i].in, NULL);
        assert_excludes(&e, rows[i].u, rows[i].k, rows[i].h, rows[i].host, rows[i].guest,
                        rows[i].idle);
        assert_int_equal(e.has_modifiers, strchr(rows[i].in, '#') && strchr(rows[i].in, '#')[1]);
        /* modifiers never change the name */
        assert_string_equal(e.name, "INSTRUCTIONS");
        assert_string_equal(e.metric, "perf_instructions");
        perf_event_spec_done(&e);
    }
}

static void test_rename_and_sanitize(void **state)
{
    (void)state;
    struct perf_event_spec e = parse_ok("LL_READ_MISS", "my llc miss");
    assert_string_equal(e.metric, "perf_my_llc_miss");
    assert_string_equal(e.name, "LL_READ_MISS");
    perf_event_spec_done(&e);
    e = parse_ok("LL_READ_MISS#h", "LL_READ_MISS_HYPERVISOR");
    assert_string_equal(e.metric, "perf_ll_read_miss_hypervisor");
    perf_event_spec_done(&e);
    e = parse_ok("CONTEXT_SWITCHES", "ctxsw");
    assert_string_equal(e.metric, "perf_ctxsw");
    perf_event_spec_done(&e);

    struct alumet_error err = {0};
    assert_int_equal(
        perf_event_spec_parse("PAGE_FAULTS", "__ -- __", PERF_NAMING_EVENTS, NULL, NULL, &e, &err),
        -EINVAL);
    assert_string_equal(err.msg, "invalid event 'PAGE_FAULTS': the metric name made from '__ -- "
                                 "__' is empty (it needs at least one ASCII letter or digit)");

    static const struct {
        const char *in, *out;
    } rows[] = {
        {"RESOURCE_STALLS:ANY", "resource_stalls_any"},
        {"r0x412e", "r0x412e"},
        {"__a--b__", "a__b"},
        {"MEM_LOAD_RETIRED:L3_MISS", "mem_load_retired_l3_miss"},
        {"caf\xc3\xa9", "caf"},
        {"a\xc3\xa9"
         "b",
         "a_b"},
        {"\xe2\x82\xac"
         "x\xe2\x82\xac\xe2\x82\xac"
         "y",
         "x__y"},
        {"", ""},
        {"___", ""},
        {"Already_ok_9", "already_ok_9"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char buf[64];
        size_t n = perf_sanitize(rows[i].in, buf, sizeof(buf));
        assert_string_equal(buf, rows[i].out);
        assert_int_equal(n, strlen(rows[i].out));
        assert_int_equal(perf_sanitize(rows[i].in, NULL, 0), n);
    }
    /* truncated like snprintf */
    char small[4];
    assert_int_equal(perf_sanitize("abcdef", small, sizeof(small)), 6);
    assert_string_equal(small, "abc");
}

static void test_legacy_names(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum perf_naming naming;
        const char *metric;
        uint32_t type;
        uint64_t config;
    } rows[] = {
        {"REF_CPU_CYCLES", PERF_NAMING_HARDWARE, "perf_hardware_REF_CPU_CYCLES", 0, 9},
        {"cache_misses", PERF_NAMING_HARDWARE, "perf_hardware_CACHE_MISSES", 0, 3},
        {"PAGE_FAULTS", PERF_NAMING_SOFTWARE, "perf_software_PAGE_FAULTS", 1, 2},
        {"context_switches#u:k", PERF_NAMING_SOFTWARE, "perf_software_CONTEXT_SWITCHES", 1, 3},
        {"TASK_CLOCK", PERF_NAMING_SOFTWARE, "perf_software_TASK_CLOCK", 1, 1},
        {"LL_READ_MISS", PERF_NAMING_CACHE, "perf_cache_LL_READ_MISS", 3, 0x10002},
        {"l1d_read_access", PERF_NAMING_CACHE, "perf_cache_L1D_READ_ACCESS", 3, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct perf_event_spec e;
        struct alumet_error err = {0};
        int r = perf_event_spec_parse(rows[i].in, NULL, rows[i].naming, NULL, NULL, &e, &err);
        if (r < 0)
            fail_msg("'%s': %s", rows[i].in, err.msg);
        assert_string_equal(e.metric, rows[i].metric);
        assert_int_equal(e.type, rows[i].type);
        assert_int_equal(e.config, rows[i].config);
        perf_event_spec_done(&e);
    }
    parse_fails("PAGE_FAULTS", PERF_NAMING_HARDWARE,
                "invalid event 'PAGE_FAULTS': 'PAGE_FAULTS' is not a hardware event (expected "
                "one of CPU_CYCLES, INSTRUCTIONS, CACHE_REFERENCES, CACHE_MISSES, "
                "BRANCH_INSTRUCTIONS, BRANCH_MISSES, BUS_CYCLES, STALLED_CYCLES_FRONTEND, "
                "STALLED_CYCLES_BACKEND, REF_CPU_CYCLES)");
    parse_fails("INSTRUCTIONS#u", PERF_NAMING_SOFTWARE,
                "invalid event 'INSTRUCTIONS#u': 'INSTRUCTIONS' is not a software event "
                "(expected one of PAGE_FAULTS, CONTEXT_SWITCHES, CPU_MIGRATIONS, "
                "PAGE_FAULTS_MIN, PAGE_FAULTS_MAJ, ALIGNMENT_FAULTS, EMULATION_FAULTS, "
                "CGROUP_SWITCHES, CPU_CLOCK, TASK_CLOCK)");
    parse_fails("LL_READ", PERF_NAMING_CACHE,
                "invalid event 'LL_READ': 'LL_READ' is not a cache event (expected "
                "<ID>_<OP>_<RESULT>, ID one of L1D, L1I, LL, DTLB, ITLB, BPU, NODE, OP one of "
                "READ, WRITE, PREFETCH, RESULT one of ACCESS, MISS)");
    parse_fails("r3c", PERF_NAMING_HARDWARE,
                "invalid event 'r3c': 'r3c' is not a hardware event (expected one of "
                "CPU_CYCLES, INSTRUCTIONS, CACHE_REFERENCES, CACHE_MISSES, BRANCH_INSTRUCTIONS, "
                "BRANCH_MISSES, BUS_CYCLES, STALLED_CYCLES_FRONTEND, STALLED_CYCLES_BACKEND, "
                "REF_CPU_CYCLES)");
}

static void test_attr(void **state)
{
    (void)state;
    struct perf_event_spec e = parse_ok("RESOURCE_STALLS:ANY#k:h:G:I", NULL);
    struct perf_event_attr a;
    perf_event_spec_attr(&e, true, &a);
    assert_int_equal(a.size, sizeof(a));
    assert_int_equal(a.type, PERF_TYPE_RAW);
    assert_int_equal(a.config, 0x1a2);
    assert_int_equal(a.config1, 7);
    assert_int_equal(a.config2, 9);
    assert_int_equal(a.read_format,
                     PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING);
    assert_int_equal(a.disabled, 1);
    assert_int_equal(a.inherit, 1);
    assert_int_equal(a.exclude_user, 1);
    assert_int_equal(a.exclude_kernel, 0);
    assert_int_equal(a.exclude_hv, 0);
    assert_int_equal(a.exclude_host, 1);
    assert_int_equal(a.exclude_guest, 0);
    assert_int_equal(a.exclude_idle, 1);
    assert_int_equal(a.sample_period, 0);
    perf_event_spec_attr(&e, false, &a);
    assert_int_equal(a.inherit, 0);
    perf_event_spec_done(&e);
}

/* ---- multiplexing ---- */

#define SEC 1000000000ull

static struct perf_event_count cnt(uint64_t value, uint64_t enabled, uint64_t running)
{
    return (struct perf_event_count){value, enabled, running};
}

static void test_scaling(void **state)
{
    (void)state;
    struct perf_scaling s = {0};
    struct perf_event_count c;

    /* exact */
    c = cnt(1000, SEC, SEC);
    assert_int_equal(perf_scaling_update(&s, &c, true), PERF_INTERVAL_EXACT);
    assert_int_equal(s.total, 1000);
    assert_int_equal(s.accuracy, PERF_ACCURACY_EXACT);

    /* the first read is an interval like any other: 1000 in a quarter -> 4000 */
    s = (struct perf_scaling){0};
    c = cnt(1000, SEC, SEC / 4);
    assert_int_equal(perf_scaling_update(&s, &c, true), PERF_INTERVAL_MULTIPLEXED);
    assert_int_equal(s.total, 4000);
    assert_int_equal(s.accuracy, PERF_ACCURACY_EXTRAPOLATED);
    assert_string_equal(perf_accuracy_name(s.accuracy), "extrapolated");

    /* rounded to the nearest: 10 * 3 / 2 = 15, 1 * 3 / 2 = 1.5 -> 2, 1 * 4 / 3 -> 1 */
    s = (struct perf_scaling){0};
    c = cnt(10, 3, 2);
    perf_scaling_update(&s, &c, true);
    assert_int_equal(s.total, 15);
    s = (struct perf_scaling){0};
    c = cnt(1, 3, 2);
    perf_scaling_update(&s, &c, true);
    assert_int_equal(s.total, 2);
    s = (struct perf_scaling){0};
    c = cnt(1, 4, 3);
    perf_scaling_update(&s, &c, true);
    assert_int_equal(s.total, 1);

    /* no overflow in the product: 2^63 * 4 / 2 does not fit but 2^62 * 4 / 2 does */
    s = (struct perf_scaling){0};
    c = cnt(1ull << 62, 4 * SEC, 2 * SEC);
    perf_scaling_update(&s, &c, true);
    assert_true(s.total == 1ull << 63);
    c = cnt((1ull << 62) + (1ull << 62), 8 * SEC, 4 * SEC);
    perf_scaling_update(&s, &c, true);
    assert_true(s.total == UINT64_MAX); /* saturated */

    /* without auto scale: multiplexing is reported, the raw delta is kept */
    s = (struct perf_scaling){0};
    c = cnt(1000, SEC, SEC / 4);
    assert_int_equal(perf_scaling_update(&s, &c, false), PERF_INTERVAL_MULTIPLEXED);
    assert_int_equal(s.total, 1000);
    assert_int_equal(s.accuracy, PERF_ACCURACY_UNDERESTIMATED);
    assert_string_equal(perf_accuracy_name(s.accuracy), "underestimated");
    assert_string_equal(perf_accuracy_name(PERF_ACCURACY_EXACT), "exact");
}

static void test_scaling_across_polls(void **state)
{
    (void)state;
    struct perf_scaling s = {0};
    uint64_t totals[5];
    enum perf_interval kinds[5];
    struct perf_event_count reads[5] = {
        cnt(1000, SEC, SEC / 4),     /* 1000 in a quarter -> +4000 */
        cnt(1500, 2 * SEC, SEC / 2), /* +500 in a quarter -> +2000 */
        cnt(1500, 3 * SEC, SEC / 2), /* never on the PMU: starved, +0 */
        cnt(1500, 3 * SEC, SEC / 2), /* the process did not run: idle */
        cnt(1700, 4 * SEC, SEC),     /* +200 in a half -> +400 */
    };
    for (int i = 0; i < 5; i++) {
        kinds[i] = perf_scaling_update(&s, &reads[i], true);
        totals[i] = s.total;
    }
    assert_int_equal(kinds[0], PERF_INTERVAL_MULTIPLEXED);
    assert_int_equal(kinds[1], PERF_INTERVAL_MULTIPLEXED);
    assert_int_equal(kinds[2], PERF_INTERVAL_STARVED);
    assert_int_equal(kinds[3], PERF_INTERVAL_IDLE);
    assert_int_equal(kinds[4], PERF_INTERVAL_MULTIPLEXED);
    assert_int_equal(totals[0], 4000);
    assert_int_equal(totals[1], 6000);
    assert_int_equal(totals[2], 6000);
    assert_int_equal(totals[3], 6000);
    assert_int_equal(totals[4], 6400);
    /* a starved interval lost data: underestimated, and it never gets better */
    assert_int_equal(s.accuracy, PERF_ACCURACY_UNDERESTIMATED);
    /* the per-poll increase is the difference of two consecutive totals */
    assert_int_equal(totals[4] - totals[3], 400);

    /* exact counters: the totals are the raw values, and the increases their deltas */
    s = (struct perf_scaling){0};
    uint64_t raw[] = {0, 17, 17, 100, 250};
    uint64_t prev = 0;
    for (int i = 0; i < 5; i++) {
        struct perf_event_count c = cnt(raw[i], (uint64_t)(i + 1) * SEC, (uint64_t)(i + 1) * SEC);
        perf_scaling_update(&s, &c, true);
        assert_int_equal(s.total, raw[i]);
        assert_int_equal(s.total - prev, raw[i] - (i ? raw[i - 1] : 0));
        prev = s.total;
    }
    assert_int_equal(s.accuracy, PERF_ACCURACY_EXACT);

    /* a sum that shrinks (a thread's counter went away) adds nothing */
    s = (struct perf_scaling){0};
    struct perf_event_count a = cnt(500, 2 * SEC, 2 * SEC), b = cnt(300, SEC, SEC);
    perf_scaling_update(&s, &a, true);
    assert_int_equal(perf_scaling_update(&s, &b, true), PERF_INTERVAL_IDLE);
    assert_int_equal(s.total, 500);
}

/* ---- explanations ---- */

struct explain_fixture {
    char *dir;
    int fd;
};

static void explain_setup(struct explain_fixture *f, const char *paranoid, const char *capeff)
{
    f->dir = alumet_test_tmpdir();
    if (paranoid)
        alumet_test_write_at(f->dir, "proc/sys/kernel/perf_event_paranoid", paranoid);
    char status[256];
    snprintf(status, sizeof(status),
             "Name:\talumet-agent\nUmask:\t0022\nCapInh:\t0\nCapEff:\t%s\n"
             "CapBnd:\t000001ffffffffff\n",
             capeff);
    alumet_test_write_at(f->dir, "proc/self/status", status);
    char link[PATH_MAX];
    snprintf(link, sizeof(link), "%s/proc/self/exe", f->dir);
    assert_int_equal(symlink("/opt/alumet/bin/alumet-agent", link), 0);
    f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->fd >= 0);
}

static void explain_done(struct explain_fixture *f)
{
    close(f->fd);
    alumet_test_rmtree(f->dir);
}

static void assert_explain(const char *paranoid, const char *capeff, int errnum,
                           const struct perf_explain_ctx *base, const char *expected)
{
    struct explain_fixture f;
    explain_setup(&f, paranoid, capeff);
    struct perf_explain_ctx ctx = *base;
    ctx.root_fd = f.fd;
    char buf[2048];
    size_t n = perf_explain(errnum, &ctx, buf, sizeof(buf));
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
    /* the same with a negative errno */
    perf_explain(-errnum, &ctx, buf, sizeof(buf));
    assert_string_equal(buf, expected);
    explain_done(&f);
}

static const struct perf_explain_ctx task_ctx = {
    .event = "PAGE_FAULTS",
    .target = "process '4242'",
};

#define FIX_CAP                                                                                    \
    "grant the capability to the agent: 'sudo setcap cap_perfmon+ep "                              \
    "/opt/alumet/bin/alumet-agent' (cap_sys_admin on Linux older than 5.8)"
#define FIX_SYSCTL(n)                                                                              \
    "fix: 'sudo sysctl -w kernel.perf_event_paranoid=" n "' (to keep it after a reboot: echo "     \
    "'kernel.perf_event_paranoid = " n                                                             \
    "' | sudo tee /etc/sysctl.d/99-alumet-perf.conf), or " FIX_CAP

static void test_explain_paranoid(void **state)
{
    (void)state;
    /* 3 and 4 (Debian, Ubuntu): nothing for unprivileged users */
    assert_explain(
        "3\n", "0000000000000000", EACCES, &task_ctx,
        "permission denied (EACCES) opening perf event 'PAGE_FAULTS' for process "
        "'4242': kernel.perf_event_paranoid is 3 (a distribution setting that forbids "
        "perf events to unprivileged users entirely) but counting a process needs 2 "
        "or less, and the agent has neither CAP_PERFMON nor CAP_SYS_ADMIN; " FIX_SYSCTL("2"));
    assert_explain(
        "4\n", "0000000000000000", EACCES, &task_ctx,
        "permission denied (EACCES) opening perf event 'PAGE_FAULTS' for process "
        "'4242': kernel.perf_event_paranoid is 4 (a distribution setting that forbids "
        "perf events to unprivileged users entirely) but counting a process needs 2 "
        "or less, and the agent has neither CAP_PERFMON nor CAP_SYS_ADMIN; " FIX_SYSCTL("2"));
    /* 2: kernel space needs 1 */
    struct perf_explain_ctx k = task_ctx;
    k.event = "INSTRUCTIONS#u:k";
    k.kernel = true;
    k.modifiers = true;
    assert_explain("2\n", "0000000000000000", EACCES, &k,
                   "permission denied (EACCES) opening perf event 'INSTRUCTIONS#u:k' for process "
                   "'4242': kernel.perf_event_paranoid is 2 but counting kernel or hypervisor "
                   "space (modifiers 'k', 'h') needs 1 or less, and the agent has neither "
                   "CAP_PERFMON nor CAP_SYS_ADMIN; " FIX_SYSCTL("1"));
    /* 2 and 1: a CPU needs 0 */
    struct perf_explain_ctx cpu = {
        .event = "CACHE_MISSES", .target = "cgroup '/app'", .cpu_wide = true, .hardware = true};
    assert_explain("2\n", "0000000000000000", EACCES, &cpu,
                   "permission denied (EACCES) opening perf event 'CACHE_MISSES' for cgroup "
                   "'/app': kernel.perf_event_paranoid is 2 but counting per CPU (cgroup or "
                   "system-wide mode) needs 0 or less, and the agent has neither CAP_PERFMON nor "
                   "CAP_SYS_ADMIN; " FIX_SYSCTL("0"));
    cpu.target = "the whole machine";
    assert_explain("1", "0000000000000000", EACCES, &cpu,
                   "permission denied (EACCES) opening perf event 'CACHE_MISSES' for the whole "
                   "machine: kernel.perf_event_paranoid is 1 but counting per CPU (cgroup or "
                   "system-wide mode) needs 0 or less, and the agent has neither CAP_PERFMON nor "
                   "CAP_SYS_ADMIN; " FIX_SYSCTL("0"));
    /* allowed by the level: the process is someone else's */
    assert_explain("2\n", "0000000000000000", EACCES, &task_ctx,
                   "permission denied (EACCES) opening perf event 'PAGE_FAULTS' for process "
                   "'4242': kernel.perf_event_paranoid is 2, which allows counting a process, so "
                   "the process most likely belongs to another user (perf needs the right to "
                   "ptrace it); fix: run the agent as the owner of the process, or " FIX_CAP);
    assert_explain("-1\n", "0000000000000000", EACCES, &cpu,
                   "permission denied (EACCES) opening perf event 'CACHE_MISSES' for the whole "
                   "machine: kernel.perf_event_paranoid is -1, which allows counting per CPU "
                   "(cgroup or system-wide mode), so a security policy or a seccomp filter "
                   "denies it; fix: grant the capability to the agent: 'sudo setcap "
                   "cap_perfmon+ep /opt/alumet/bin/alumet-agent' (cap_sys_admin on Linux older "
                   "than 5.8)");
}

static void test_explain_caps(void **state)
{
    (void)state;
    static const char privileged[] =
        "permission denied (EACCES) opening perf event 'PAGE_FAULTS' for process '4242': the "
        "agent has CAP_PERFMON or CAP_SYS_ADMIN, so a security policy (SELinux, AppArmor, kernel "
        "lockdown) or a seccomp filter denies perf_event_open; in a container, allow it (for "
        "example 'docker run --cap-add PERFMON --security-opt seccomp=unconfined')";
    /* CAP_PERFMON is bit 38, CAP_SYS_ADMIN bit 21 */
    assert_explain("4\n", "0000004000000000", EACCES, &task_ctx, privileged);
    assert_explain("4\n", "0000000000200000", EACCES, &task_ctx, privileged);
    assert_explain("2\n", "000001ffffffffff", EACCES, &task_ctx, privileged);
    /* other capabilities do not help */
    assert_explain(
        "3\n", "00000000001fffff", EACCES, &task_ctx,
        "permission denied (EACCES) opening perf event 'PAGE_FAULTS' for process "
        "'4242': kernel.perf_event_paranoid is 3 (a distribution setting that forbids "
        "perf events to unprivileged users entirely) but counting a process needs 2 "
        "or less, and the agent has neither CAP_PERFMON nor CAP_SYS_ADMIN; " FIX_SYSCTL("2"));
    /* no paranoid file (no /proc/sys in a container) */
    assert_explain(NULL, "0000000000000000", EACCES, &task_ctx,
                   "permission denied (EACCES) opening perf event 'PAGE_FAULTS' for process "
                   "'4242': kernel.perf_event_paranoid cannot be read "
                   "('/proc/sys/kernel/perf_event_paranoid': No such file or directory) and the "
                   "agent has neither CAP_PERFMON nor CAP_SYS_ADMIN; fix: grant the capability "
                   "with 'sudo setcap cap_perfmon+ep /opt/alumet/bin/alumet-agent' (cap_sys_admin "
                   "on Linux older than 5.8)");
    /* EPERM, with modifiers */
    struct perf_explain_ctx m = task_ctx;
    m.event = "PAGE_FAULTS#u";
    m.modifiers = true;
    assert_explain(
        "3\n", "0000000000000000", EPERM, &m,
        "permission denied (EPERM) opening perf event 'PAGE_FAULTS#u' for process "
        "'4242': kernel.perf_event_paranoid is 3 (a distribution setting that forbids "
        "perf events to unprivileged users entirely) but counting a process needs 2 "
        "or less, and the agent has neither CAP_PERFMON nor CAP_SYS_ADMIN; " FIX_SYSCTL(
            "2") "; EPERM can also mean that this PMU cannot exclude the "
                 "privilege levels that the modifiers exclude: try the event without its '#' "
                 "modifiers");
}

static void test_explain_others(void **state)
{
    (void)state;
    struct perf_explain_ctx hw = {
        .event = "INSTRUCTIONS", .target = "process '4242'", .hardware = true};
    assert_explain("2", "0", ENOENT, &hw,
                   "perf event 'INSTRUCTIONS' is not supported by this CPU or kernel (ENOENT: "
                   "unknown event type or configuration); in a virtual machine the hardware "
                   "counters are usually not exposed (no 'cpu' entry in "
                   "/sys/bus/event_source/devices): only software events such as PAGE_FAULTS, "
                   "CONTEXT_SWITCHES or TASK_CLOCK work there");
    assert_explain("2", "0", EOPNOTSUPP, &task_ctx,
                   "perf event 'PAGE_FAULTS' is not supported by this CPU or kernel (EOPNOTSUPP: "
                   "the PMU lacks a feature that the event needs)");
    assert_explain("2", "0", ENODEV, &task_ctx,
                   "perf event 'PAGE_FAULTS' is not supported by this CPU or kernel (ENODEV: no "
                   "PMU for this event on this CPU)");
    assert_explain("2", "0", EINVAL, &hw,
                   "the kernel rejected perf event 'INSTRUCTIONS' (EINVAL: an encoding or a "
                   "modifier that this PMU does not accept)");
    assert_explain("2", "0", ESRCH, &task_ctx,
                   "cannot open perf event 'PAGE_FAULTS' for process '4242': the process does "
                   "not exist (anymore)");
    assert_explain("2", "0", EMFILE, &task_ctx,
                   "cannot open perf event 'PAGE_FAULTS' for process '4242': too many open files "
                   "(the plugin opens one file per event and per thread or CPU); raise the "
                   "limit: 'ulimit -n' in the shell, LimitNOFILE= in a systemd unit");
    assert_explain("2", "0", EBUSY, &task_ctx,
                   "cannot open perf event 'PAGE_FAULTS' for process '4242': the PMU is busy, "
                   "another tool uses it exclusively (a profiler, or the NMI watchdog: 'sudo "
                   "sysctl -w kernel.nmi_watchdog=0')");
    assert_explain("2", "0", EIO, &task_ctx,
                   "cannot open perf event 'PAGE_FAULTS' for process '4242': Input/output error");

    assert_int_equal(perf_failure_of(-ENOENT), PERF_FAILURE_UNSUPPORTED);
    assert_int_equal(perf_failure_of(EOPNOTSUPP), PERF_FAILURE_UNSUPPORTED);
    assert_int_equal(perf_failure_of(-ENODEV), PERF_FAILURE_UNSUPPORTED);
    assert_int_equal(perf_failure_of(-EINVAL), PERF_FAILURE_UNSUPPORTED);
    assert_int_equal(perf_failure_of(-EACCES), PERF_FAILURE_DENIED);
    assert_int_equal(perf_failure_of(EPERM), PERF_FAILURE_DENIED);
    assert_int_equal(perf_failure_of(-ESRCH), PERF_FAILURE_GONE);
    assert_int_equal(perf_failure_of(-EMFILE), PERF_FAILURE_OTHER);

    /* truncated like snprintf */
    char small[16];
    struct perf_explain_ctx c = task_ctx;
    c.root_fd = -1;
    size_t n = perf_explain(ESRCH, &c, small, sizeof(small));
    assert_int_equal(n, strlen("cannot open perf event 'PAGE_FAULTS' for process '4242': the "
                               "process does not exist (anymore)"));
    assert_string_equal(small, "cannot open per");

    int p = 99;
    struct explain_fixture f;
    explain_setup(&f, "  ", "0");
    assert_int_equal(privileges_read_paranoid(f.fd, &p), -EINVAL);
    explain_done(&f);
}

static void test_cpu_list(void **state)
{
    (void)state;
    uint32_t *cpus;
    size_t n;
    assert_int_equal(perf_parse_cpu_list("0-3,5\n", &cpus, &n), 0);
    assert_int_equal(n, 5);
    uint32_t want[] = {0, 1, 2, 3, 5};
    assert_memory_equal(cpus, want, sizeof(want));
    free(cpus);
    assert_int_equal(perf_parse_cpu_list("7", &cpus, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cpus[0], 7);
    free(cpus);
    assert_int_equal(perf_parse_cpu_list("1-3,5-6\n", &cpus, &n), 0);
    assert_int_equal(n, 5);
    free(cpus);
    const char *bad[] = {"", "\n", "1-2-3", "a", "1,,2", "3-1", "-1", "1-", "1 2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(perf_parse_cpu_list(bad[i], &cpus, &n), -EINVAL);
}

/* ---- targets with mocked system calls ---- */

static void test_unsupported_skipped(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f,
                 "events = [\"INSTRUCTIONS\", \"PAGE_FAULTS\", \"LL_READ_MISS\", \"r3c\", "
                 "\"CONTEXT_SWITCHES#u:k\"]",
                 NULL);
    f.mock.fail_by_type[PERF_TYPE_HARDWARE] = ENOENT;
    f.mock.fail_by_type[PERF_TYPE_HW_CACHE] = EOPNOTSUPP;
    f.mock.fail_by_type[PERF_TYPE_RAW] = ENODEV;

    /* the probe: one warning for the unsupported events, the others go on */
    assert_int_equal(perf_probe_events(f.perf), 2);
    assert_int_equal(alumet_test_log_count_lines("WARN perf: "), 1);
    assert_int_equal(alumet_test_log_count_lines(
                         "WARN perf: perf events not supported by this CPU or kernel: "
                         "'INSTRUCTIONS' (ENOENT: unknown event type or configuration), "
                         "'LL_READ_MISS' (EOPNOTSUPP: the PMU lacks a feature that the "
                         "event needs), 'r3c' (ENODEV: no PMU for this event on this CPU); "
                         "in a virtual machine"),
                     1);
    assert_int_equal(alumet_test_log_count_lines(", skipping them"), 1);
    /* the probe counts the agent itself, without inherit, and closes its fds */
    assert_int_equal(f.mock.opens[1].pid, 0);
    assert_int_equal(f.mock.opens[1].cpu, -1);
    assert_int_equal(f.mock.opens[1].attr.inherit, 0);
    assert_int_equal(mock_open_fds(&f.mock), 0);

    /* a process: the unsupported events are not tried again, nor told again */
    size_t before = f.mock.n_opens;
    struct perf_target *t;
    assert_int_equal(perf_target_new_process(f.perf, 4242, &t), 0);
    assert_int_equal(f.mock.n_opens - before, 4); /* 2 events x 2 threads */
    for (size_t i = before; i < f.mock.n_opens; i++) {
        assert_int_equal(f.mock.opens[i].attr.type, PERF_TYPE_SOFTWARE);
        assert_int_equal(f.mock.opens[i].attr.inherit, 1);
        assert_int_equal(f.mock.opens[i].attr.disabled, 1);
        assert_int_equal(f.mock.opens[i].cpu, -1);
        assert_int_equal(f.mock.opens[i].flags, 0);
        assert_true(f.mock.enabled[f.mock.opens[i].fd - MOCK_FD0]);
    }
    assert_int_equal(f.mock.opens[before].pid, 4242);
    assert_int_equal(f.mock.opens[before + 1].pid, 4243);
    assert_int_equal(f.mock.opens[before + 2].attr.exclude_kernel, 0);
    assert_int_equal(t->n_series, 2);
    assert_int_equal(t->series[0].n_fds, 2);
    /* the unsupported events were told once, at the probe */
    assert_int_equal(alumet_test_log_count_lines("WARN"), 1);
    assert_int_equal(
        alumet_test_log_count_lines("INFO perf: measuring process '4242' (2 threads) with 2 perf "
                                    "events"),
        1);
    perf_target_free(f.perf, t);
    assert_int_equal(mock_open_fds(&f.mock), 0);
    fixture_done(&f);
}

static void test_unsupported_at_open(void **state)
{
    (void)state;
    /* an event that the probe could open but a target cannot: told once */
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\", \"INSTRUCTIONS\"]", NULL);
    f.mock.fail_by_type[PERF_TYPE_HARDWARE] = EINVAL;
    struct perf_target *t1, *t2;
    assert_int_equal(perf_target_new_process(f.perf, 4242, &t1), 0);
    assert_int_equal(perf_target_new_process(f.perf, 77, &t2), 0);
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: the kernel rejected perf event 'INSTRUCTIONS' "
                                    "(EINVAL: an encoding or a modifier that this PMU does not "
                                    "accept), skipping"),
        1);
    assert_int_equal(alumet_test_log_count_lines("WARN"), 1);
    assert_int_equal(t1->n_series, 1);
    assert_int_equal(t2->n_series, 1);
    perf_target_free(f.perf, t1);
    perf_target_free(f.perf, t2);
    fixture_done(&f);
}

static void test_all_unsupported(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"INSTRUCTIONS\", \"CACHE_MISSES\"]", NULL);
    f.mock.fail_by_type[PERF_TYPE_HARDWARE] = ENOENT;
    assert_int_equal(perf_probe_events(f.perf), 0);
    assert_int_equal(alumet_test_log_count_lines("WARN"), 1);
    struct perf_target *t = NULL;
    assert_int_equal(perf_target_new_process(f.perf, 4242, &t), -ENOENT);
    assert_null(t);
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: no perf event could be opened for process '4242', "
                                    "skipping it"),
        1);
    fixture_done(&f);
}

static void test_denied(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\", \"TASK_CLOCK\"]", NULL);
    alumet_test_write_at(f.dir, "proc/sys/kernel/perf_event_paranoid", "3\n");
    f.mock.fail_all = EACCES;
    struct perf_target *t = NULL;
    assert_int_equal(perf_target_new_process(f.perf, 4242, &t), -ENOENT);
    /* the whole explanation once, then a short line */
    assert_int_equal(alumet_test_log_count_lines(
                         "WARN perf: permission denied (EACCES) opening perf event "
                         "'PAGE_FAULTS' for process '4242': kernel.perf_event_paranoid is "
                         "3"),
                     1);
    assert_int_equal(alumet_test_log_count_lines("'sudo sysctl -w kernel.perf_event_paranoid=2'"),
                     1);
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: permission denied opening perf event 'TASK_CLOCK' "
                                    "for process '4242' (see the explanation above), skipping"),
        1);
    assert_int_equal(
        alumet_test_log_count_lines("no perf event could be opened for process '4242'"), 1);
    /* a cgroup (per CPU) gets its own explanation */
    assert_int_equal(perf_target_new_cgroup(f.perf, "/app", &t), -ENOENT);
    assert_int_equal(
        alumet_test_log_count_lines("for cgroup '/app': kernel.perf_event_paranoid is 3 (a "
                                    "distribution setting that forbids perf events to unprivileged "
                                    "users entirely) but counting per CPU (cgroup or system-wide "
                                    "mode) needs 0 or less"),
        1);
    /* more targets, same cause: nothing more at warning level */
    size_t warnings = alumet_test_log_count_lines("WARN");
    assert_int_equal(perf_target_new_process(f.perf, 77, &t), -ENOENT);
    assert_int_equal(perf_target_new_cgroup(f.perf, "/app", &t), -ENOENT);
    assert_int_equal(alumet_test_log_count_lines("WARN"), warnings);
    assert_int_equal(mock_open_fds(&f.mock), 0);
    fixture_done(&f);
}

static void test_probe_denied(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\", \"TASK_CLOCK\"]", NULL);
    alumet_test_write_at(f.dir, "proc/sys/kernel/perf_event_paranoid", "4\n");
    f.mock.fail_all = EACCES;
    assert_int_equal(perf_probe_events(f.perf), 0);
    assert_int_equal(alumet_test_log_count_lines(
                         "WARN perf: permission denied (EACCES) opening perf event "
                         "'PAGE_FAULTS' for the agent itself: kernel.perf_event_paranoid "
                         "is 4"),
                     1);
    assert_int_equal(alumet_test_log_count_lines("WARN"), 1);
    /* a process is then denied without another warning for these events */
    struct perf_target *t = NULL;
    assert_int_equal(perf_target_new_process(f.perf, 4242, &t), -ENOENT);
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: no perf event could be opened for process '4242'"),
        1);
    assert_int_equal(alumet_test_log_count_lines("WARN"), 2);
    fixture_done(&f);
}

static void test_process_gone(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\"]", NULL);
    struct perf_target *t = NULL;
    /* no /proc/999: not there */
    assert_int_equal(perf_target_new_process(f.perf, 999, &t), -ESRCH);
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: process '999' does not exist, skipping"), 1);
    /* listed, then gone before perf_event_open */
    f.mock.fail_all = ESRCH;
    assert_int_equal(perf_target_new_process(f.perf, 77, &t), -ESRCH);
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: process '77' does not exist anymore, skipping"), 1);
    /* one thread of two gone: the other is measured */
    f.mock.fail_all = 0;
    f.mock.gone_tid = 4243;
    assert_int_equal(perf_target_new_process(f.perf, 4242, &t), 0);
    assert_int_equal(t->n_series, 1);
    assert_int_equal(t->series[0].n_fds, 1);
    perf_target_free(f.perf, t);
    fixture_done(&f);
}

/* A point of buf, decoded. */
static const struct alumet_point *point_at(struct alumet_buffer *buf, size_t i)
{
    const struct alumet_point *p = alumet_buffer_get(buf, i);
    assert_non_null(p);
    return p;
}

static const char *point_accuracy(struct alumet_buffer *buf, const struct alumet_point *p)
{
    const struct alumet_attr *a = alumet_point_find_attr(buf, p, "accuracy");
    assert_non_null(a);
    assert_int_equal(a->type, ALUMET_ATTR_STR);
    return a->v.str;
}

static void test_poll_process(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\", \"INSTRUCTIONS\"]", NULL);
    struct perf_target *t;
    assert_int_equal(perf_target_new_process(f.perf, 4242, &t), 0);
    assert_int_equal(t->n_series, 2);
    /* fds: PAGE_FAULTS 1000 (4242), 1001 (4243); INSTRUCTIONS 1002, 1003 */
    struct perf_event_count *v = f.mock.values;

    /* poll 1: the threads' counts are summed */
    v[0] = cnt(10, 100, 100);
    v[1] = cnt(5, 50, 50);
    v[2] = cnt(1000, 100, 50);
    v[3] = cnt(0, 0, 0);
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 42), 0);
    assert_int_equal(alumet_buffer_len(f.buf), 2);
    const struct alumet_point *p = point_at(f.buf, 0);
    assert_int_equal(p->timestamp, 42);
    assert_int_equal(p->metric, 0);
    assert_int_equal(p->value_type, ALUMET_VALUE_U64);
    assert_int_equal(p->value.u64, 15);
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_LOCAL_MACHINE);
    assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_PROCESS);
    assert_int_equal(p->consumer.num, 4242);
    assert_string_equal(point_accuracy(f.buf, p), "exact");
    p = point_at(f.buf, 1);
    assert_int_equal(p->metric, 1);
    assert_int_equal(p->value.u64, 2000); /* 1000 counted half the time */
    assert_string_equal(point_accuracy(f.buf, p), "extrapolated");
    assert_int_equal(
        alumet_test_log_count_lines("INFO perf: perf event 'INSTRUCTIONS' of process '4242' is "
                                    "multiplexed: on the PMU 50.0% of the time during the last "
                                    "interval; its values are scaled (attribute accuracy = "
                                    "'extrapolated')"),
        1);

    /* poll 2: cumulative totals, each interval scaled on its own */
    alumet__buffer_clear(f.buf);
    v[0] = cnt(30, 200, 200);
    v[1] = cnt(5, 60, 60);
    v[2] = cnt(1300, 200, 150); /* +300 fully counted */
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 43), 0);
    assert_int_equal(point_at(f.buf, 0)->value.u64, 35);
    assert_int_equal(point_at(f.buf, 1)->value.u64, 2300);
    assert_string_equal(point_accuracy(f.buf, point_at(f.buf, 1)), "extrapolated");
    /* the multiplexing message is not repeated */
    assert_int_equal(alumet_test_log_count_lines("is multiplexed"), 1);

    /* poll 3: nothing happened */
    alumet__buffer_clear(f.buf);
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 44), 0);
    assert_int_equal(point_at(f.buf, 0)->value.u64, 35);
    assert_int_equal(point_at(f.buf, 1)->value.u64, 2300);

    /* a read failure: the target is dropped, told once */
    alumet__buffer_clear(f.buf);
    f.mock.read_errno = EIO;
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 45), 0);
    assert_true(t->dead);
    assert_int_equal(alumet_buffer_len(f.buf), 0);
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: cannot read perf event 'PAGE_FAULTS' of process "
                                    "'4242': Input/output error; no longer measuring process "
                                    "'4242'"),
        1);
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 46), 0);
    assert_int_equal(alumet_test_log_count_lines("cannot read"), 1);
    perf_target_free(f.perf, t);
    fixture_done(&f);
}

static void test_poll_no_auto_scale(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"INSTRUCTIONS\"]", "multiplexing_auto_scale = false\n");
    assert_false(f.perf->auto_scale);
    struct perf_target *t;
    assert_int_equal(perf_target_new_process(f.perf, 77, &t), 0);
    f.mock.values[0] = cnt(1000, 100, 25);
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 1), 0);
    assert_int_equal(point_at(f.buf, 0)->value.u64, 1000);
    assert_string_equal(point_accuracy(f.buf, point_at(f.buf, 0)), "underestimated");
    assert_int_equal(alumet_test_log_count_lines(
                         "its values are not scaled (multiplexing_auto_scale = false) and "
                         "are too low"),
                     1);
    /* starved: told once */
    alumet__buffer_clear(f.buf);
    f.mock.values[0] = cnt(1000, 200, 25);
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 2), 0);
    assert_int_equal(alumet_test_log_count_lines(
                         "WARN perf: perf event 'INSTRUCTIONS' of process '77' was never "
                         "on the PMU during the last interval"),
                     1);
    perf_target_free(f.perf, t);
    fixture_done(&f);
}

static void test_cgroup_target(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\", \"CPU_MIGRATIONS\"]", NULL);
    struct perf_target *t;
    assert_int_equal(perf_target_new_cgroup(f.perf, "/app", &t), 0);
    /* per online CPU (0, 1, 3), PERF_FLAG_PID_CGROUP, no inherit */
    assert_int_equal(f.mock.n_opens, 6);
    int cpus[] = {0, 1, 3, 0, 1, 3};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(f.mock.opens[i].cpu, cpus[i]);
        assert_int_equal(f.mock.opens[i].flags, PERF_FLAG_PID_CGROUP);
        assert_int_equal(f.mock.opens[i].attr.inherit, 0);
        assert_true(f.mock.opens[i].pid >= 0); /* the cgroup directory's fd */
    }
    assert_int_equal(t->n_series, 6);
    assert_int_equal(
        alumet_test_log_count_lines("INFO perf: measuring cgroup '/app' (3 CPUs) with 2 perf "
                                    "events"),
        1);
    for (size_t i = 0; i < 6; i++)
        f.mock.values[i] = cnt(10 * (i + 1), 100, 100);
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 7), 0);
    assert_int_equal(alumet_buffer_len(f.buf), 6);
    for (size_t i = 0; i < 6; i++) {
        const struct alumet_point *p = point_at(f.buf, i);
        assert_int_equal(p->resource.kind, ALUMET_RESOURCE_CPU_CORE);
        assert_int_equal(p->resource.num, cpus[i]);
        assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_CGROUP);
        assert_string_equal(p->consumer.str, "/app");
        assert_int_equal(p->metric, i / 3);
        assert_int_equal(p->value.u64, 10 * (i + 1));
    }
    perf_target_free(f.perf, t);

    /* an absolute path below cgroup_root is taken as it is */
    char abs[PATH_MAX];
    snprintf(abs, sizeof(abs), "%s/cg/app", f.dir);
    assert_int_equal(perf_target_new_cgroup(f.perf, abs, &t), 0);
    perf_target_free(f.perf, t);

    /* a cgroup that is not there: told, skipped (upstream panics) */
    assert_int_equal(perf_target_new_cgroup(f.perf, "/nope", &t), -ENOENT);
    assert_int_equal(alumet_test_log_count_lines("WARN perf: cannot open the directory '"), 1);
    assert_int_equal(
        alumet_test_log_count_lines("/cg/nope' of cgroup '/nope': No such file or directory (is "
                                    "cgroup_root '"),
        1);
    fixture_done(&f);
}

static void test_system_target(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\"]", "system_wide = true\n");
    assert_true(f.perf->system_wide);
    struct perf_target *t;
    assert_int_equal(perf_target_new_system(f.perf, &t), 0);
    assert_int_equal(f.mock.n_opens, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(f.mock.opens[i].pid, -1);
        assert_int_equal(f.mock.opens[i].flags, 0);
        assert_int_equal(f.mock.opens[i].attr.inherit, 0);
    }
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 7), 0);
    const struct alumet_point *p = point_at(f.buf, 2);
    assert_int_equal(p->resource.kind, ALUMET_RESOURCE_CPU_CORE);
    assert_int_equal(p->resource.num, 3);
    assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
    perf_target_free(f.perf, t);

    /* no CPU list: told, skipped */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/online", f.dir);
    unlink(path);
    assert_int_equal(perf_target_new_system(f.perf, &t), -ENOENT);
    assert_int_equal(
        alumet_test_log_count_lines("/sys/devices/system/cpu/online': No such file or directory"),
        1);
    fixture_done(&f);
}

/* ---- configuration ---- */

static void test_config(void **state)
{
    (void)state;
    struct fixture f = {0};
    f.dir = alumet_test_tmpdir();
    struct alumet_error err = {0};
    assert_int_equal(fixture_init_config(
                         &f,
                         "events = [\"INSTRUCTIONS#u:k\", { event = \"CONTEXT_SWITCHES\", "
                         "rename = \"ctxsw\" }, { event = \"LL_READ_MISS#h\" }, \"r3c\"]\n"
                         "hardware_events = [\"REF_CPU_CYCLES\"]\n"
                         "software_events = [\"PAGE_FAULTS\"]\ncache_events = [\"LL_READ_MISS\"]",
                         "add_source_in_pause_state = true\n", &err),
                     0);
    struct perf *perf = f.perf;
    assert_int_equal(perf->n_events, 7);
    const char *metrics[] = {"perf_instructions",
                             "perf_ctxsw",
                             "perf_ll_read_miss",
                             "perf_r3c",
                             "perf_hardware_REF_CPU_CYCLES",
                             "perf_software_PAGE_FAULTS",
                             "perf_cache_LL_READ_MISS"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(perf->events[i].metric, metrics[i]);
    assert_int_equal(perf->poll_interval, ALUMET_NSEC_PER_SEC);
    assert_int_equal(perf->flush_interval, 5 * ALUMET_NSEC_PER_SEC);
    assert_true(perf->start_paused);
    assert_true(perf->auto_scale);
    assert_false(perf->system_wide);
    alumet_plugin_perf.free(perf);
    toml_free(f.root);
    f.root = NULL;

    static const struct {
        const char *events, *extra, *msg;
    } bad[] = {
        {"events = [\"INSTRUCTIONS#uk\"]", "",
         "test.toml:4:10: plugins.perf.events: invalid event in config: invalid event "
         "'INSTRUCTIONS#uk': unknown modifier 'uk'"},
        {"events = [{ event = \"PAGE_FAULTS#\", rename = \"x\" }, { event = \"cpu/r1/\" }]", "",
         "test.toml:4:63: plugins.perf.events[1].event: invalid event in config: invalid event "
         "'cpu/r1/': pmu-named / pmu-raw events ('cpu/r1/') are not supported yet; this is "
         "planned for a future release"},
        {"events = [{ rename = \"x\" }]", "",
         "test.toml:4:11: plugins.perf.events[0].event: missing field 'event' (an entry of "
         "events is a string, or a table { event = \"...\", rename = \"...\" })"},
        {"events = [3]", "",
         "test.toml:4:11: plugins.perf.events[0]: expected a string, got "
         "integer 3"},
        {"events = \"PAGE_FAULTS\"", "",
         "test.toml:4:10: plugins.perf.events: expected an array, got string \"PAGE_FAULTS\""},
        {"hardware_events = [\"PAGE_FAULTS\"]", "",
         "test.toml:4:19: plugins.perf.hardware_events: invalid hardware event in config: "
         "invalid event 'PAGE_FAULTS': 'PAGE_FAULTS' is not a hardware event (expected one of "
         "CPU_CYCLES, INSTRUCTIONS, CACHE_REFERENCES, CACHE_MISSES, BRANCH_INSTRUCTIONS, "
         "BRANCH_MISSES, BUS_CYCLES, STALLED_CYCLES_FRONTEND, STALLED_CYCLES_BACKEND, "
         "REF_CPU_CYCLES)"},
        {"", "",
         "test.toml:1:1: plugins.perf.events: missing field 'events' (the list of the "
         "events to count)"},
        {"events = []", "system_wide = 1\n",
         "test.toml:8:15: plugins.perf.system_wide: expected a boolean, got integer 1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = (struct alumet_error){0};
        assert_int_equal(fixture_init_config(&f, bad[i].events, bad[i].extra, &err), -EINVAL);
        assert_string_equal(err.msg, bad[i].msg);
        toml_free(f.root);
        f.root = NULL;
    }

    /* required keys, as upstream */
    const char *missing = "[plugins.perf]\nflush_interval = \"5s\"\nevents = []\n";
    struct toml_value *root;
    assert_int_equal(alumet__config_load_text(missing, strlen(missing), "m.toml", 0, &root, &err),
                     0);
    void *st = NULL;
    assert_int_equal(alumet_plugin_perf.init(alumet__config_from_value(toml_table_get(
                                                 toml_table_get(root, "plugins"), "perf")),
                                             &st, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "m.toml:1:1: plugins.perf.poll_interval: missing field "
                                 "'poll_interval'");
    toml_free(root);
    const char *zero = "[plugins.perf]\npoll_interval = \"0s\"\nflush_interval = \"5s\"\n"
                       "events = []\n";
    assert_int_equal(alumet__config_load_text(zero, strlen(zero), "z.toml", 0, &root, &err), 0);
    assert_int_equal(alumet_plugin_perf.init(alumet__config_from_value(toml_table_get(
                                                 toml_table_get(root, "plugins"), "perf")),
                                             &st, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "z.toml:2:17: plugins.perf.poll_interval: invalid trigger "
                                 "config: poll_interval must be non-zero");
    toml_free(root);
    alumet_test_rmtree(f.dir);
}

static void test_config_unknown_key_in_entry(void **state)
{
    (void)state;
    const char *text = "[plugins.perf]\npoll_interval = \"1s\"\nflush_interval = \"5s\"\n"
                       "events = [{ event = \"PAGE_FAULTS\", renam = \"pf\" }]\n";
    struct toml_value *root;
    struct alumet_error err = {0};
    assert_int_equal(alumet__config_load_text(text, strlen(text), "u.toml", 0, &root, &err), 0);
    struct toml_value *sect = toml_table_get(toml_table_get(root, "plugins"), "perf");
    void *st = NULL;
    assert_int_equal(alumet_plugin_perf.init(alumet__config_from_value(sect), &st, &err), 0);
    struct reports rep = {.n = 0};
    assert_int_equal(alumet__config_report_unused(sect, report_keep, &rep), 1);
    assert_string_equal(rep.msgs[0], "u.toml:4:36: plugins.perf.events[0].renam: unknown key, "
                                     "did you mean 'rename'?");
    alumet_plugin_perf.free(st);
    toml_free(root);
}

static void test_default_config(void **state)
{
    (void)state;
    assert_string_equal(alumet_plugin_perf.name, "perf");
    assert_string_equal(alumet_plugin_perf.version, "0.1.0");
    assert_int_equal(alumet_plugin_perf.abi_version, ALUMET_PLUGIN_ABI);
    const char *def = alumet_plugin_perf.default_config;
    assert_memory_equal(def, "[plugins.perf]\n", 15);
    const char *keys[] = {
        "\npoll_interval = \"1s\"\n",
        "\nflush_interval = \"5s\"\n",
        "\nevents = [\"REF_CPU_CYCLES\", \"CACHE_MISSES\", \"BRANCH_MISSES\", "
        "\"LL_READ_MISS\",\n          \"TASK_CLOCK\", \"PAGE_FAULTS\", \"CONTEXT_SWITCHES#u:k\"]\n",
        "\nadd_source_in_pause_state = false\n",
        "\n# multiplexing_auto_scale = true\n",
        "\n# system_wide = false\n",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(strstr(def, keys[i]));
    struct toml_value *root = NULL;
    struct alumet_error err = {0};
    void *st = NULL;
    assert_int_equal(alumet_test_plugin_init(&alumet_plugin_perf, def, &root, &st, &err), 0);
    struct perf *perf = st;
    assert_int_equal(perf->n_events, 7);
    assert_string_equal(perf->events[3].metric, "perf_ll_read_miss");
    assert_string_equal(perf->events[4].metric, "perf_task_clock");
    assert_false(perf->start_paused);
    alumet_plugin_perf.free(st);
    toml_free(root);
}

/* ---- the plugin through the agent lifecycle (mocked system calls) ---- */

struct collected {
    pthread_mutex_t lock;
    struct {
        char metric[64];
        uint64_t value;
        enum alumet_consumer_kind ckind;
        uint32_t cnum;
        char accuracy[16];
    } pts[256];
    size_t n;
};

static int collect_write(void *data, const struct alumet_buffer *buf,
                         const struct alumet_registry *reg, struct alumet_error *err)
{
    (void)err;
    struct collected *c = data;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < alumet_buffer_len(buf) && c->n < 256; i++) {
        const struct alumet_point *p = alumet_buffer_get(buf, i);
        const struct alumet_metric *m = alumet_registry_get(reg, p->metric);
        snprintf(c->pts[c->n].metric, sizeof(c->pts[0].metric), "%s", m ? m->name : "?");
        c->pts[c->n].value = p->value.u64;
        c->pts[c->n].ckind = p->consumer.kind;
        c->pts[c->n].cnum = p->consumer.num;
        const struct alumet_attr *a = alumet_point_find_attr(buf, p, "accuracy");
        snprintf(c->pts[c->n].accuracy, sizeof(c->pts[0].accuracy), "%s", a ? a->v.str : "");
        c->n++;
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static const struct alumet_output_ops collect_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = collect_write,
};

static void test_lifecycle(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    make_dir(dir, "proc/4242/task/4242");
    alumet_test_write_at(dir, "sys/devices/system/cpu/online", "0\n");
    char config[2048];
    snprintf(config, sizeof(config),
             "[plugins.perf]\npoll_interval = \"1h\"\nflush_interval = \"1h\"\n"
             "events = [\"PAGE_FAULTS\", \"INSTRUCTIONS\", \"TASK_CLOCK\"]\n"
             "proc_root = \"%s\"\nsys_root = \"%s\"\n",
             dir, dir);
    struct toml_value *root;
    struct alumet_error err = {0};
    struct plugin_set set = {0};
    struct mock mock = {0};
    struct collected col = {.lock = PTHREAD_MUTEX_INITIALIZER};
    mock.fail_by_type[PERF_TYPE_HARDWARE] = ENOENT;

    assert_int_equal(alumet__config_load_text(config, strlen(config), "t.toml", 0, &root, &err), 0);
    assert_int_equal(alumet__plugins_add(&set, &alumet_plugin_perf, NULL, &err), 0);
    struct agent_plugin *ap = alumet__plugins_find(&set, "perf");
    ap->config = toml_table_get(toml_table_get(root, "plugins"), "perf");
    assert_int_equal(alumet__agent_init_plugins(&set, false, alumet_test_report_ignore, NULL, &err),
                     0);
    struct perf *perf = ap->state;
    perf->sys = &mock_ops;
    perf->sys_data = &mock;

    struct pipeline_settings ps = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&ps);
    assert_non_null(p);
    assert_int_equal(
        alumet__pipeline_add_output(p, "test", "collect", &collect_ops, &col, NULL, &err), 0);
    alumet_test_log_clear();
    if (alumet__agent_start(&set, p, &err) < 0)
        fail_msg("start: %s", err.msg);
    /* the metrics, with their units */
    const struct alumet_registry *reg = alumet__pipeline_registry(p);
    const struct alumet_metric *m = alumet_registry_find(reg, "perf_task_clock");
    assert_non_null(m);
    assert_int_equal(m->unit.base, ALUMET_UNIT_SECOND);
    assert_int_equal(m->unit.prefix, ALUMET_PREFIX_NANO);
    m = alumet_registry_find(reg, "perf_page_faults");
    assert_non_null(m);
    assert_int_equal(m->unit.base, ALUMET_UNIT_UNITY);
    assert_string_equal(m->description, "Page faults.");
    assert_int_equal(
        alumet_test_log_count_lines("WARN perf: perf event 'INSTRUCTIONS' is not supported"), 1);

    /* the source's first (periodic) poll, with nothing attached yet: each
     * source has its own thread, so wait for it rather than assume it ran */
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 5 * ALUMET_NSEC_PER_SEC), 1);
    /* exec: START attaches the counters, the first trigger reads them */
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = 4242};
    /* the probe at start opened and closed PAGE_FAULTS and TASK_CLOCK */
    size_t probe = mock.n_fds;
    assert_int_equal(probe, 2);
    assert_int_equal(mock_open_fds(&mock), 0);
    alumet_pipeline_publish(p, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, &c, 1);
    assert_int_equal(mock.n_fds, probe + 2);
    assert_int_equal(mock.opens[mock.n_opens - 1].pid, 4242);
    assert_int_equal(mock.opens[mock.n_opens - 1].attr.inherit, 1);
    /* a second START for the same process changes nothing */
    alumet_pipeline_publish(p, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, &c, 1);
    assert_int_equal(mock.n_fds, probe + 2);
    assert_int_equal(mock_open_fds(&mock), 2);
    /* other consumers are ignored */
    struct alumet_consumer other = {.kind = ALUMET_CONSUMER_LOCAL_MACHINE};
    alumet_pipeline_publish(p, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, &other, 1);
    assert_int_equal(mock.n_fds, probe + 2);

    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 5 * ALUMET_NSEC_PER_SEC), 1);
    mock.values[probe] = cnt(300, 10, 10);
    mock.values[probe + 1] = cnt(200000000, 10, 10);
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 5 * ALUMET_NSEC_PER_SEC), 1);
    /* END closes them; later polls produce nothing */
    alumet_pipeline_publish(p, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, &c, 1);
    assert_int_equal(mock_open_fds(&mock), 0);
    assert_int_equal(alumet__pipeline_trigger_all_wait(p, 5 * ALUMET_NSEC_PER_SEC), 1);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    alumet__agent_stop_plugins(&set);
    alumet__pipeline_free(p);
    alumet__plugins_done(&set);
    toml_free(root);

    if (col.n != 4) {
        alumet_test_log_dump();
        fail_msg("expected 4 points, got %zu", col.n);
    }
    assert_string_equal(col.pts[0].metric, "perf_page_faults");
    assert_int_equal(col.pts[0].value, 0);
    assert_string_equal(col.pts[1].metric, "perf_task_clock");
    assert_int_equal(col.pts[1].value, 0);
    assert_string_equal(col.pts[2].metric, "perf_page_faults");
    assert_int_equal(col.pts[2].value, 300);
    assert_int_equal(col.pts[2].ckind, ALUMET_CONSUMER_PROCESS);
    assert_int_equal(col.pts[2].cnum, 4242);
    assert_string_equal(col.pts[2].accuracy, "exact");
    assert_string_equal(col.pts[3].metric, "perf_task_clock");
    assert_int_equal(col.pts[3].value, 200000000);
    alumet_test_rmtree(dir);
    alumet_test_log_clear();
}

static void test_lifecycle_nothing_usable(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char config[2048];
    snprintf(config, sizeof(config),
             "[plugins.perf]\npoll_interval = \"1s\"\nflush_interval = \"1s\"\n"
             "events = [\"INSTRUCTIONS\", \"CACHE_MISSES\"]\nproc_root = \"%s\"\n",
             dir);
    struct toml_value *root;
    struct alumet_error err = {0};
    struct plugin_set set = {0};
    struct mock mock = {0};
    mock.fail_by_type[PERF_TYPE_HARDWARE] = ENOENT;
    assert_int_equal(alumet__config_load_text(config, strlen(config), "t.toml", 0, &root, &err), 0);
    assert_int_equal(alumet__plugins_add(&set, &alumet_plugin_perf, NULL, &err), 0);
    struct agent_plugin *ap = alumet__plugins_find(&set, "perf");
    ap->config = toml_table_get(toml_table_get(root, "plugins"), "perf");
    assert_int_equal(alumet__agent_init_plugins(&set, false, alumet_test_report_ignore, NULL, &err),
                     0);
    ((struct perf *)ap->state)->sys = &mock_ops;
    ((struct perf *)ap->state)->sys_data = &mock;
    struct pipeline_settings ps = {0};
    struct alumet_pipeline *p = alumet__pipeline_new(&ps);
    alumet_test_log_clear();
    /* the plugin starts, says so, and registers no source */
    assert_int_equal(alumet__agent_start(&set, p, &err), 0);
    assert_int_equal(alumet_test_log_count_lines(
                         "WARN perf: none of the 2 configured perf events can be opened "
                         "on this machine (see above): the perf plugin measures nothing, "
                         "the other plugins go on"),
                     1);
    size_t ns, nt, no;
    alumet__pipeline_counts(p, &ns, &nt, &no);
    assert_int_equal(ns, 0);
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = 1};
    alumet_pipeline_publish(p, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, &c, 1);
    assert_int_equal(alumet__pipeline_stop(p), 0);
    alumet__pipeline_free(p);
    alumet__agent_stop_plugins(&set);
    alumet__plugins_done(&set);
    toml_free(root);
    alumet_test_rmtree(dir);
    alumet_test_log_clear();
}

/* ---- the real thing, when the kernel lets us ---- */

static void test_real_child(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"PAGE_FAULTS\", \"TASK_CLOCK\"]", NULL);
    close(f.perf->proc_fd);
    f.perf->proc_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f.perf->sys = &perf_sys_real;
    f.perf->sys_data = NULL;

    /* a child that waits at a gate, like exec's, then touches 256 pages */
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char ch;
        close(gate[1]);
        if (read(gate[0], &ch, 1) != 1)
            _exit(1);
        size_t len = 256 * 4096;
        volatile char *mem = malloc(len);
        if (!mem)
            _exit(2);
        for (size_t i = 0; i < len; i += 4096)
            mem[i] = 1;
        free((void *)mem);
        _exit(0);
    }
    close(gate[0]);
    struct perf_target *t = NULL;
    int r = perf_target_new_process(f.perf, (uint32_t)pid, &t);
    assert_int_equal(write(gate[1], "x", 1), 1);
    close(gate[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (r < 0) {
        /* no perf_event_open here (paranoid level, seccomp): the message said why */
        alumet_test_log_dump();
        fixture_done(&f);
        skip();
    }
    /* read after the child exited and was reaped, as exec does */
    assert_int_equal(perf_target_poll(f.perf, t, f.buf, 1), 0);
    assert_int_equal(alumet_buffer_len(f.buf), 2);
    uint64_t faults = point_at(f.buf, 0)->value.u64;
    uint64_t ns = point_at(f.buf, 1)->value.u64;
    if (faults < 256 || ns == 0) {
        alumet_test_log_dump();
        fail_msg("page faults %llu (want >= 256), task clock %llu ns", (unsigned long long)faults,
                 (unsigned long long)ns);
    }
    perf_target_free(f.perf, t);
    f.perf->sys = &mock_ops; /* fixture_done checks the mock */
    fixture_done(&f);
}

/* The mount point of the cgroup v2 hierarchy (from /proc/mounts), or NULL. */
static char *cgroup2_mount(void)
{
    FILE *f = fopen("/proc/mounts", "r");
    char line[1024];
    char *found = NULL;
    while (f && !found && fgets(line, sizeof(line), f)) {
        char dev[256], dir[512], type[64];
        if (sscanf(line, "%255s %511s %63s", dev, dir, type) == 3 && strcmp(type, "cgroup2") == 0)
            found = strdup(dir);
    }
    if (f)
        fclose(f);
    return found;
}

/* A real cgroup: a child moved into a new cgroup burns CPU; the counters of
 * every CPU add up to its task clock. Needs root (or a delegated cgroup) and
 * kernel.perf_event_paranoid <= 0 or CAP_PERFMON. */
static void test_real_cgroup(void **state)
{
    (void)state;
    char *mount = cgroup2_mount();
    if (!mount)
        skip();
    char cg[PATH_MAX], procs[PATH_MAX + 32], rel[64];
    snprintf(rel, sizeof(rel), "/alumet-perf-test-%d", (int)getpid());
    snprintf(cg, sizeof(cg), "%s%s", mount, rel);
    if (mkdir(cg, 0755) < 0) {
        free(mount);
        skip();
    }
    struct fixture f;
    fixture_init(&f, "events = [\"TASK_CLOCK\"]", NULL);
    free(f.perf->cgroup_root);
    f.perf->cgroup_root = strdup(mount);
    close(f.perf->sys_fd);
    f.perf->sys_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f.perf->sys = &perf_sys_real;
    f.perf->sys_data = NULL;

    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char ch;
        close(gate[1]);
        if (read(gate[0], &ch, 1) != 1)
            _exit(1);
        struct timespec t0, t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        do
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 100000000L);
        _exit(0);
    }
    close(gate[0]);
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
    FILE *pf = fopen(procs, "w");
    bool moved = pf && fprintf(pf, "%d\n", (int)pid) > 0;
    if (pf && fclose(pf) != 0)
        moved = false;
    struct perf_target *t = NULL;
    int r = moved ? perf_target_new_cgroup(f.perf, rel, &t) : -EPERM;
    assert_int_equal(write(gate[1], "x", 1), 1);
    close(gate[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    uint64_t sum = 0;
    size_t n = 0;
    if (r == 0) {
        assert_int_equal(perf_target_poll(f.perf, t, f.buf, 1), 0);
        n = alumet_buffer_len(f.buf);
        for (size_t i = 0; i < n; i++) {
            const struct alumet_point *p = point_at(f.buf, i);
            assert_int_equal(p->resource.kind, ALUMET_RESOURCE_CPU_CORE);
            assert_int_equal(p->consumer.kind, ALUMET_CONSUMER_CGROUP);
            assert_string_equal(p->consumer.str, rel);
            sum += p->value.u64;
        }
        perf_target_free(f.perf, t);
    }
    rmdir(cg);
    free(mount);
    f.perf->sys = &mock_ops;
    fixture_done(&f);
    if (r < 0)
        skip();
    assert_true(n >= 1);
    if (sum < 90000000u)
        fail_msg("cgroup task clock %llu ns over %zu CPUs, want >= 0.09 s", (unsigned long long)sum,
                 n);
}

/* The whole machine, per CPU: needs paranoid <= 0 or CAP_PERFMON. */
static void test_real_system(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "events = [\"CPU_CLOCK\"]", NULL);
    close(f.perf->sys_fd);
    f.perf->sys_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f.perf->sys = &perf_sys_real;
    f.perf->sys_data = NULL;
    struct perf_target *t = NULL;
    int r = perf_target_new_system(f.perf, &t);
    if (r == 0) {
        usleep(20000);
        assert_int_equal(perf_target_poll(f.perf, t, f.buf, 1), 0);
        assert_true(alumet_buffer_len(f.buf) >= 1);
        assert_int_equal(point_at(f.buf, 0)->consumer.kind, ALUMET_CONSUMER_LOCAL_MACHINE);
        assert_int_equal(point_at(f.buf, 0)->resource.kind, ALUMET_RESOURCE_CPU_CORE);
        perf_target_free(f.perf, t);
    }
    f.perf->sys = &mock_ops;
    fixture_done(&f);
    if (r < 0)
        skip();
}

int main(void)
{
    alumet_test_log_capture("info");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_hardware),
        cmocka_unit_test(test_native_software),
        cmocka_unit_test(test_native_cache),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_libpfm),
        cmocka_unit_test(test_libpfm_real),
        cmocka_unit_test(test_grammar_errors),
        cmocka_unit_test(test_modifiers),
        cmocka_unit_test(test_rename_and_sanitize),
        cmocka_unit_test(test_legacy_names),
        cmocka_unit_test(test_attr),
        cmocka_unit_test(test_scaling),
        cmocka_unit_test(test_scaling_across_polls),
        cmocka_unit_test(test_explain_paranoid),
        cmocka_unit_test(test_explain_caps),
        cmocka_unit_test(test_explain_others),
        cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_unsupported_skipped),
        cmocka_unit_test(test_unsupported_at_open),
        cmocka_unit_test(test_all_unsupported),
        cmocka_unit_test(test_denied),
        cmocka_unit_test(test_probe_denied),
        cmocka_unit_test(test_process_gone),
        cmocka_unit_test(test_poll_process),
        cmocka_unit_test(test_poll_no_auto_scale),
        cmocka_unit_test(test_cgroup_target),
        cmocka_unit_test(test_system_target),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_unknown_key_in_entry),
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_lifecycle_nothing_usable),
        cmocka_unit_test(test_real_child),
        cmocka_unit_test(test_real_cgroup),
        cmocka_unit_test(test_real_system),
    };
    return alumet_run_tests(tests);
}
