/* SPDX-License-Identifier: MIT */
/* The system sources of procfs: "kernel" (/proc/stat), "memory"
 * (/proc/meminfo) and "network" (/proc/net/dev). Each keeps its file open,
 * re-reads it with pread on every poll and parses it in place; the parsed
 * values go into arrays allocated at the first poll and reused. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

/* Columns of the cpu lines of /proc/stat, in file order. iowait is parsed
 * but never reported: the kernel documents it as unreliable. */
#define PROCFS_CPU_COLUMNS 10
#define PROCFS_CPU_IOWAIT 4
static const char *const procfs_cpu_states[PROCFS_CPU_COLUMNS] = {
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice",
};

static const struct alumet_resource procfs_machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer procfs_machine_consumer = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

static int procfs_oom(struct alumet_error *err)
{
    return alumet_error_set(err, -ENOMEM, "out of memory");
}

/* A poll that could not read its file: non-fatal, the next poll tries again. */
static int procfs_read_failed(struct procfs *pfs, const char *rel, int r, struct alumet_error *err)
{
    char path[PATH_MAX];
    fsroot_path(&pfs->proc, rel, path, sizeof(path));
    if (r == -ENOMEM)
        return procfs_oom(err);
    alumet_error_set(err, r, "cannot read '%s': %s", path, strerror(-r));
    return ALUMET_POLL_RETRY;
}

static int procfs_open_file(struct procfs *pfs, const char *rel, size_t hint, struct procfile *ret)
{
    return procfile_open(ret, pfs->proc.fd, rel, hint);
}

/* Read a system file; when the object it was open on has gone (/proc
 * remounted), open it again once. */
static int procfs_system_read(struct procfile *pf)
{
    int r = procfile_read(pf);
    if (r == -ENODEV || r == -ESTALE || r == -ENOENT || r == -EBADF) {
        r = procfile_reopen(pf);
        if (r == 0)
            r = procfile_read(pf);
    }
    return r;
}

/* ---- helpers shared with the tests ---- */

size_t procfs_meminfo_metric_name(const char *key, char *buf, size_t size)
{
    size_t len = strlen(key);
    size_t w = 0;

#define PROCFS_PUT(c)                                                                              \
    do {                                                                                           \
        if (w + 1 < size)                                                                          \
            buf[w] = (c);                                                                          \
        w++;                                                                                       \
    } while (0)

    if (len <= 1 || strchr(key, '_')) {
        /* HugePages_Total → hugepages_total; one-letter keys are kept as they are */
        for (size_t i = 0; i < len; i++) {
            char c = key[i];
            PROCFS_PUT(len > 1 && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
        }
    } else {
        /* MemTotal → mem_total, SReclaimable → s_reclaimable, DirectMap4k → direct_map4k:
         * an upper-case letter after a letter of either case starts a word */
        for (size_t i = 0; i < len; i++) {
            char c = key[i];
            bool upper = c >= 'A' && c <= 'Z';
            if (upper && i > 0) {
                char prev = key[i - 1];
                if ((prev >= 'a' && prev <= 'z') || (prev >= 'A' && prev <= 'Z'))
                    PROCFS_PUT('_');
            }
            PROCFS_PUT(upper ? (char)(c - 'A' + 'a') : c);
        }
    }
#undef PROCFS_PUT
    if (size > 0)
        buf[w < size ? w : size - 1] = '\0';
    return w;
}

/* "0-3,5-6\n" → 6. */
int procfs_cpu_list_count(const char *text, size_t len)
{
    struct procfile_scan s = procfile_scan_of(text, len);
    int count = 0;

    while (s.end > s.p && (s.end[-1] == '\n' || s.end[-1] == ' '))
        s.end--;
    if (procfile_scan_eof(&s))
        return 0;
    for (;;) {
        uint64_t a, b;
        if (procfile_scan_u64(&s, &a) < 0)
            return -EINVAL;
        b = a;
        if (!procfile_scan_eof(&s) && *s.p == '-') {
            s.p++;
            if (procfile_scan_u64(&s, &b) < 0 || b < a)
                return -EINVAL;
        }
        if (b - a >= (uint64_t)(INT32_MAX - count))
            return -EINVAL;
        count += (int)(b - a + 1);
        if (procfile_scan_eof(&s))
            return count;
        if (*s.p != ',')
            return -EINVAL; /* "1-2-3" and other garbage */
        s.p++;
    }
}

/* ---- kernel: /proc/stat ---- */

struct procfs_cpu_line {
    int64_t cpu; /* N of "cpuN", -1 for the aggregate "cpu" line */
    uint64_t ms[PROCFS_CPU_COLUMNS];
    unsigned n; /* columns present */
};

struct procfs_stat_snapshot {
    struct procfs_cpu_line *cpus;
    size_t n, cap;
    uint64_t ctxt, processes, running, blocked;
    bool has_ctxt, has_processes, has_running, has_blocked;
};

struct procfs_kernel_source {
    struct procfs *pfs;
    struct procfile file;
    struct procfs_stat_snapshot snap[2];
    unsigned cur; /* snapshot filled by the last read */
    bool have_prev;
};

int procfs_kernel_source_new(struct procfs *pfs, struct procfs_kernel_source **ret)
{
    struct procfs_kernel_source *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->pfs = pfs;
    int r = procfs_open_file(pfs, "proc/stat", 8192, &k->file);
    if (r < 0) {
        free(k);
        return r;
    }
    *ret = k;
    return 0;
}

static void procfs_kernel_source_free(void *data)
{
    struct procfs_kernel_source *k = data;
    if (!k)
        return;
    procfile_close(&k->file);
    free(k->snap[0].cpus);
    free(k->snap[1].cpus);
    free(k);
}

static void procfs_kernel_source_reset(void *data)
{
    struct procfs_kernel_source *k = data;
    k->have_prev = false;
}

/* Parse /proc/stat into snap:
 *   cpu  1000 10 500 90000 40 0 5 0 0 0
 *   cpu0 500 5 250 45000 20 0 3 0 0 0
 *   intr 1234567 0 9 ...
 *   ctxt 100000
 *   processes 5000
 *   procs_running 2
 *   procs_blocked 0
 * Times are converted from clock ticks to milliseconds here. */
static int procfs_stat_parse(struct procfs_kernel_source *k, struct procfs_stat_snapshot *snap)
{
    struct procfile_scan s = procfile_scan_of(k->file.buf, k->file.len);
    uint64_t tck = (uint64_t)k->pfs->clk_tck;

    snap->n = 0;
    snap->has_ctxt = snap->has_processes = snap->has_running = snap->has_blocked = false;
    while (!procfile_scan_eof(&s)) {
        const char *w;
        size_t wl = procfile_scan_word(&s, &w);

        if (wl >= 3 && memcmp(w, "cpu", 3) == 0) {
            int64_t cpu = -1;
            if (wl > 3) {
                struct procfile_scan ns = procfile_scan_of(w + 3, wl - 3);
                uint64_t v;
                if (procfile_scan_u64(&ns, &v) < 0 || !procfile_scan_eof(&ns) || v > INT32_MAX)
                    goto next;
                cpu = (int64_t)v;
            }
            void *grown = procfs_grow(snap->cpus, &snap->cap, snap->n + 1, sizeof(*snap->cpus));
            if (!grown)
                return -ENOMEM;
            snap->cpus = grown;
            struct procfs_cpu_line *line = &snap->cpus[snap->n];
            line->cpu = cpu;
            line->n = 0;
            uint64_t ticks;
            while (line->n < PROCFS_CPU_COLUMNS && procfile_scan_u64(&s, &ticks) == 0)
                line->ms[line->n++] = tck ? ticks * 1000 / tck : 0;
            if (line->n >= 4) /* user nice system idle at least */
                snap->n++;
        } else if (wl == 4 && memcmp(w, "ctxt", 4) == 0) {
            snap->has_ctxt = procfile_scan_u64(&s, &snap->ctxt) == 0;
        } else if (wl == 9 && memcmp(w, "processes", 9) == 0) {
            snap->has_processes = procfile_scan_u64(&s, &snap->processes) == 0;
        } else if (wl == 13 && memcmp(w, "procs_running", 13) == 0) {
            snap->has_running = procfile_scan_u64(&s, &snap->running) == 0;
        } else if (wl == 13 && memcmp(w, "procs_blocked", 13) == 0) {
            snap->has_blocked = procfile_scan_u64(&s, &snap->blocked) == 0;
        }
    next:
        procfile_scan_next_line(&s);
    }
    return 0;
}

static const struct procfs_cpu_line *procfs_cpu_find(const struct procfs_stat_snapshot *snap,
                                                     size_t hint, int64_t cpu)
{
    if (hint < snap->n && snap->cpus[hint].cpu == cpu)
        return &snap->cpus[hint];
    for (size_t i = 0; i < snap->n; i++)
        if (snap->cpus[i].cpu == cpu)
            return &snap->cpus[i];
    return NULL;
}

/* A counter that went backwards (the idle time of some kernels jitters)
 * gives 0, not a huge wrapped value. */
static uint64_t procfs_delta(uint64_t now, uint64_t before)
{
    return now >= before ? now - before : 0;
}

static int procfs_kernel_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                     struct alumet_error *err)
{
    struct procfs_kernel_source *k = data;
    struct procfs *pfs = k->pfs;

    int r = procfs_system_read(&k->file);
    if (r < 0)
        return procfs_read_failed(pfs, "proc/stat", r, err);
    unsigned cur = k->have_prev ? 1 - k->cur : k->cur;
    r = procfs_stat_parse(k, &k->snap[cur]);
    if (r < 0)
        return procfs_oom(err);
    if (!k->have_prev) {
        /* the first poll only sets the baseline */
        k->cur = cur;
        k->have_prev = true;
        return ALUMET_POLL_OK;
    }
    const struct procfs_stat_snapshot *a = &k->snap[k->cur], *b = &k->snap[cur];
    k->cur = cur;

    for (size_t i = 0; i < b->n; i++) {
        const struct procfs_cpu_line *nl = &b->cpus[i];
        const struct procfs_cpu_line *ol = procfs_cpu_find(a, i, nl->cpu);
        if (!ol)
            continue; /* a CPU that came online: no baseline yet */
        struct alumet_resource res = procfs_machine;
        if (nl->cpu >= 0)
            res = (struct alumet_resource){ALUMET_RESOURCE_CPU_CORE, (uint32_t)nl->cpu, NULL, NULL};
        unsigned n = nl->n < ol->n ? nl->n : ol->n;
        for (unsigned c = 0; c < n; c++) {
            if (c == PROCFS_CPU_IOWAIT)
                continue;
            struct alumet_point *p =
                alumet_buffer_push_u64(buf, now, pfs->m.cpu_time, &res, &procfs_machine_consumer,
                                       procfs_delta(nl->ms[c], ol->ms[c]));
            if (!p || alumet_point_add_attr_str(buf, p, "cpu_state", procfs_cpu_states[c]) < 0)
                return procfs_oom(err);
        }
    }

    struct {
        bool present;
        alumet_metric_id metric;
        uint64_t value;
    } counters[4] = {
        {a->has_ctxt && b->has_ctxt, pfs->m.ctx_switches, procfs_delta(b->ctxt, a->ctxt)},
        {a->has_processes && b->has_processes, pfs->m.new_forks,
         procfs_delta(b->processes, a->processes)},
        {b->has_running, pfs->m.procs_running, b->running},
        {b->has_blocked, pfs->m.procs_blocked, b->blocked},
    };
    for (size_t i = 0; i < 4; i++) {
        if (!counters[i].present)
            continue;
        if (!alumet_buffer_push_u64(buf, now, counters[i].metric, &procfs_machine,
                                    &procfs_machine_consumer, counters[i].value))
            return procfs_oom(err);
    }
    return ALUMET_POLL_OK;
}

const struct alumet_source_ops procfs_kernel_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = procfs_kernel_source_poll,
    .reset = procfs_kernel_source_reset,
    .free = procfs_kernel_source_free,
};

/* ---- memory: /proc/meminfo ---- */

struct procfs_memory_source {
    struct procfs *pfs;
    struct procfile file;
};

int procfs_memory_source_new(struct procfs *pfs, struct procfs_memory_source **ret)
{
    struct procfs_memory_source *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->pfs = pfs;
    int r = procfs_open_file(pfs, "proc/meminfo", 4096, &m->file);
    if (r < 0) {
        free(m);
        return r;
    }
    *ret = m;
    return 0;
}

static void procfs_memory_source_free(void *data)
{
    struct procfs_memory_source *m = data;
    if (!m)
        return;
    procfile_close(&m->file);
    free(m);
}

/* The multiplier of a meminfo unit, 0 when unknown. */
static uint64_t procfs_meminfo_unit(const char *u, size_t len)
{
    if (len == 0 || (len == 1 && u[0] == 'B'))
        return 1;
    if (len < 2 || len > 3 || u[len - 1] != 'B' || (len == 3 && u[1] != 'i'))
        return 0;
    switch (u[0]) {
    case 'k':
    case 'K':
        return UINT64_C(1) << 10;
    case 'm':
    case 'M':
        return UINT64_C(1) << 20;
    case 'g':
    case 'G':
        return UINT64_C(1) << 30;
    default:
        return 0;
    }
}

/* Each configured key of /proc/meminfo becomes a point, in file order:
 *   MemTotal:       16000000 kB
 *   HugePages_Total:       0
 * Values without a unit are reported as they are (upstream does so too, so
 * counts such as HugePages_Total carry the unit "bytes"). */
static int procfs_memory_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                     struct alumet_error *err)
{
    struct procfs_memory_source *m = data;
    struct procfs *pfs = m->pfs;

    int r = procfs_system_read(&m->file);
    if (r < 0)
        return procfs_read_failed(pfs, "proc/meminfo", r, err);

    struct procfile_scan s = procfile_scan_of(m->file.buf, m->file.len);
    for (; !procfile_scan_eof(&s); procfile_scan_next_line(&s)) {
        const char *key = s.p;
        while (s.p < s.end && *s.p != ':' && *s.p != '\n')
            s.p++;
        if (s.p >= s.end || *s.p != ':')
            continue;
        size_t klen = (size_t)(s.p - key);
        s.p++;

        size_t idx = pfs->cfg.n_meminfo_keys;
        for (size_t i = 0; i < pfs->cfg.n_meminfo_keys; i++) {
            const char *want = pfs->cfg.meminfo_keys[i];
            if (strncmp(want, key, klen) == 0 && want[klen] == '\0') {
                idx = i;
                break;
            }
        }
        if (idx == pfs->cfg.n_meminfo_keys)
            continue;

        uint64_t v;
        const char *unit;
        r = procfile_scan_u64(&s, &v);
        size_t ulen = r == 0 ? procfile_scan_word(&s, &unit) : 0;
        uint64_t mul = r == 0 ? procfs_meminfo_unit(unit, ulen) : 0;
        if (mul == 0 || !procfile_scan_at_eol(&s) || v > UINT64_MAX / mul) {
            const char *eol = memchr(key, '\n', (size_t)(s.end - key));
            int line_len = (int)((eol ? eol : s.end) - key);
            alumet_error_set(err, -EINVAL, "cannot parse the line '%.*s' of /proc/meminfo",
                             line_len, key);
            return ALUMET_POLL_RETRY;
        }
        if (!alumet_buffer_push_u64(buf, now, pfs->m.meminfo[idx], &procfs_machine,
                                    &procfs_machine_consumer, v * mul))
            return procfs_oom(err);
    }
    return ALUMET_POLL_OK;
}

const struct alumet_source_ops procfs_memory_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = procfs_memory_source_poll,
    .free = procfs_memory_source_free,
};

/* ---- network: /proc/net/dev ---- */

enum {
    PROCFS_NET_RX_BYTES,
    PROCFS_NET_RX_PACKETS,
    PROCFS_NET_RX_ERRS,
    PROCFS_NET_RX_DROP,
    PROCFS_NET_TX_BYTES,
    PROCFS_NET_TX_PACKETS,
    PROCFS_NET_TX_ERRS,
    PROCFS_NET_TX_DROP,
    PROCFS_NET_VALUES,
};

struct procfs_net_iface {
    char name[32]; /* IFNAMSIZ is 16 */
    uint64_t v[PROCFS_NET_VALUES];
};

struct procfs_net_snapshot {
    struct procfs_net_iface *ifs;
    size_t n, cap;
};

struct procfs_network_source {
    struct procfs *pfs;
    struct procfile file;
    struct procfs_net_snapshot snap[2];
    unsigned cur;
    bool have_prev;
};

int procfs_network_source_new(struct procfs *pfs, struct procfs_network_source **ret)
{
    struct procfs_network_source *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->pfs = pfs;
    int r = procfs_open_file(pfs, "proc/net/dev", 4096, &n->file);
    if (r < 0) {
        free(n);
        return r;
    }
    *ret = n;
    return 0;
}

static void procfs_network_source_free(void *data)
{
    struct procfs_network_source *n = data;
    if (!n)
        return;
    procfile_close(&n->file);
    free(n->snap[0].ifs);
    free(n->snap[1].ifs);
    free(n);
}

static void procfs_network_source_reset(void *data)
{
    struct procfs_network_source *n = data;
    n->have_prev = false;
}

/* Parse /proc/net/dev (two header lines, then one line per interface):
 *   Inter-|   Receive                                                |  Transmit
 *    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs...
 *     eth0:  500000    4000    1    2    0     0          0         0   250000    3000    0...
 * The 8 receive columns come first, then the 8 transmit columns. */
static int procfs_net_parse(struct procfs_network_source *n, struct procfs_net_snapshot *snap)
{
    struct procfile_scan s = procfile_scan_of(n->file.buf, n->file.len);

    snap->n = 0;
    procfile_scan_next_line(&s);
    procfile_scan_next_line(&s);
    for (; !procfile_scan_eof(&s); procfile_scan_next_line(&s)) {
        procfile_scan_blanks(&s);
        const char *name = s.p;
        while (s.p < s.end && *s.p != ':' && *s.p != '\n')
            s.p++;
        size_t nlen = (size_t)(s.p - name);
        if (s.p >= s.end || *s.p != ':' || nlen == 0 || nlen >= sizeof(snap->ifs->name))
            continue;
        s.p++;
        uint64_t col[16];
        unsigned c = 0;
        while (c < 16 && procfile_scan_u64(&s, &col[c]) == 0)
            c++;
        if (c < 12)
            continue;
        void *grown = procfs_grow(snap->ifs, &snap->cap, snap->n + 1, sizeof(*snap->ifs));
        if (!grown)
            return -ENOMEM;
        snap->ifs = grown;
        struct procfs_net_iface *it = &snap->ifs[snap->n++];
        memcpy(it->name, name, nlen);
        it->name[nlen] = '\0';
        it->v[PROCFS_NET_RX_BYTES] = col[0];
        it->v[PROCFS_NET_RX_PACKETS] = col[1];
        it->v[PROCFS_NET_RX_ERRS] = col[2];
        it->v[PROCFS_NET_RX_DROP] = col[3];
        it->v[PROCFS_NET_TX_BYTES] = col[8];
        it->v[PROCFS_NET_TX_PACKETS] = col[9];
        it->v[PROCFS_NET_TX_ERRS] = col[10];
        it->v[PROCFS_NET_TX_DROP] = col[11];
    }
    return 0;
}

static const struct procfs_net_iface *procfs_net_find(const struct procfs_net_snapshot *snap,
                                                      size_t hint, const char *name)
{
    if (hint < snap->n && strcmp(snap->ifs[hint].name, name) == 0)
        return &snap->ifs[hint];
    for (size_t i = 0; i < snap->n; i++)
        if (strcmp(snap->ifs[i].name, name) == 0)
            return &snap->ifs[i];
    return NULL;
}

static int procfs_network_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                                      struct alumet_error *err)
{
    struct procfs_network_source *n = data;
    struct procfs *pfs = n->pfs;

    int r = procfs_system_read(&n->file);
    if (r < 0)
        return procfs_read_failed(pfs, "proc/net/dev", r, err);
    unsigned cur = n->have_prev ? 1 - n->cur : n->cur;
    r = procfs_net_parse(n, &n->snap[cur]);
    if (r < 0)
        return procfs_oom(err);
    if (!n->have_prev) {
        n->cur = cur;
        n->have_prev = true;
        return ALUMET_POLL_OK;
    }
    const struct procfs_net_snapshot *a = &n->snap[n->cur], *b = &n->snap[cur];
    n->cur = cur;

    /* per direction: bytes, packets, drops, errors */
    static const struct {
        unsigned col;
        const char *direction;
        int metric; /* 0 bytes, 1 packets, 2 drops, 3 errors */
    } order[8] = {
        {PROCFS_NET_RX_BYTES, "rx", 0}, {PROCFS_NET_RX_PACKETS, "rx", 1},
        {PROCFS_NET_RX_DROP, "rx", 2},  {PROCFS_NET_RX_ERRS, "rx", 3},
        {PROCFS_NET_TX_BYTES, "tx", 0}, {PROCFS_NET_TX_PACKETS, "tx", 1},
        {PROCFS_NET_TX_DROP, "tx", 2},  {PROCFS_NET_TX_ERRS, "tx", 3},
    };
    const alumet_metric_id metrics[4] = {pfs->m.net_bytes, pfs->m.net_packets, pfs->m.net_drops,
                                         pfs->m.net_errors};

    for (size_t i = 0; i < b->n; i++) {
        const struct procfs_net_iface *it = &b->ifs[i];
        /* an interface absent from the previous read reports its counters since it
         * appeared, as upstream does */
        const struct procfs_net_iface *old = procfs_net_find(a, i, it->name);
        const char *name = alumet_buffer_strdup(buf, it->name, (size_t)-1);
        if (!name)
            return procfs_oom(err);
        for (size_t j = 0; j < 8; j++) {
            uint64_t v = it->v[order[j].col];
            uint64_t before = old ? old->v[order[j].col] : 0;
            /* a counter that went backwards belongs to a recreated interface: its
             * whole value is new traffic (upstream underflows here) */
            uint64_t d = v >= before ? v - before : v;
            struct alumet_point *p = alumet_buffer_push_u64(
                buf, now, metrics[order[j].metric], &procfs_machine, &procfs_machine_consumer, d);
            if (!p || alumet_point_add_attr_str(buf, p, "interface", name) < 0 ||
                alumet_point_add_attr_str(buf, p, "direction", order[j].direction) < 0)
                return procfs_oom(err);
        }
    }
    return ALUMET_POLL_OK;
}

const struct alumet_source_ops procfs_network_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = procfs_network_source_poll,
    .reset = procfs_network_source_reset,
    .free = procfs_network_source_free,
};
