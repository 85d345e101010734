/* SPDX-License-Identifier: MIT */
/* doctor: cgroups v1/v2, /proc hidepid, procfs's open files, real-time priority, Slurm, Kubernetes
 * (token, API), GPUs (NVML and AMD SMI libraries, Jetson and Grace power sensors) and the
 * exporter's and the relay server's ports, the relay server from the client. */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "doctor.h"
#include "util/procfile.h"

#define CAP_SYS_PTRACE_BIT 19
#define CAP_SYS_NICE_BIT 23
#define CAP_NET_BIND_SERVICE_BIT 10
#define CAP_SYS_RESOURCE_BIT 24

/* What proc/self/mountinfo (else proc/self/mounts) says. */
struct doctor_mounts {
    int v1, v2;       /* cgroup and cgroup2 mounts */
    char hidepid[32]; /* the proc mount's hidepid value, "" when none */
    long hide_gid;    /* its gid= option, -1 when none */
    const char *file;
};

/* One line: "30 23 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate"
 * (mountinfo) or "proc /proc proc rw,hidepid=invisible 0 0" (mounts). */
static void doctor_mount_line(char *line, struct doctor_mounts *m)
{
    char *words[12] = {0};
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t", &save); w && n < 12; w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    const char *type = NULL, *opts = NULL;
    for (int i = 0; i + 3 < n; i++)
        if (strcmp(words[i], "-") == 0) {
            type = words[i + 1];
            opts = words[i + 3];
        }
    if (!type && n >= 4) {
        type = words[2];
        opts = words[3];
    }
    if (!type)
        return;
    if (strcmp(type, "cgroup2") == 0)
        m->v2++;
    else if (strcmp(type, "cgroup") == 0)
        m->v1++;
    else if (strcmp(type, "proc") == 0 && opts) {
        const char *h = strstr(opts, "hidepid=");
        if (h)
            snprintf(m->hidepid, sizeof(m->hidepid), "%.*s", (int)strcspn(h + 8, ","), h + 8);
        const char *g = strstr(opts, "gid=");
        if (g)
            m->hide_gid = strtol(g + 4, NULL, 10);
    }
}

static void doctor_read_mounts(struct doctor *d, struct doctor_mounts *m)
{
    *m = (struct doctor_mounts){.hide_gid = -1};
    static const char *const files[] = {"proc/self/mountinfo", "proc/self/mounts"};
    for (size_t i = 0; i < 2 && !m->file; i++) {
        int fd = fsroot_openat(&d->root, files[i], O_RDONLY);
        if (fd < 0)
            continue;
        FILE *f = fdopen(fd, "r");
        if (!f) {
            close(fd);
            continue;
        }
        m->file = files[i];
        char line[4096];
        while (fgets(line, sizeof(line), f))
            doctor_mount_line(line, m);
        fclose(f);
    }
}

static void doctor_cgroups(struct doctor *d, const struct doctor_mounts *m)
{
    bool need = doctor_enabled(d, "cgroups") || doctor_enabled(d, "slurm") ||
                doctor_enabled(d, "oar") || doctor_enabled(d, "k8s");
    struct doctor_check *c = doctor_add(d, "cgroups", "cgroups", need, DOCTOR_UNAVAILABLE);
    if (!m->v1 && !m->v2) {
        doctor_why(c, "no cgroup or cgroup2 filesystem in %s",
                   doctor_path(d, m->file ? m->file : "proc/self/mountinfo"));
        doctor_fix(c, "sudo mount -t cgroup2 none /sys/fs/cgroup (in a container: mount the "
                      "host's /sys/fs/cgroup read-only)");
        return;
    }
    c->status = DOCTOR_MEASURED;
    if (m->v2 && !m->v1)
        doctor_why(c, "cgroup v2 (unified) in %s", doctor_path(d, m->file));
    else if (!m->v2)
        doctor_why(c, "cgroup v1: %d hierarchies in %s", m->v1, doctor_path(d, m->file));
    else
        doctor_why(c, "hybrid: %d cgroup v1 hierarchies and cgroup v2 in %s", m->v1,
                   doctor_path(d, m->file));
}

/* The Groups: line of proc/self/status has gid? */
static bool doctor_in_group(struct doctor *d, long gid)
{
    char buf[8192];
    int fd = fsroot_openat(&d->root, "proc/self/status", O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *p = strstr(buf, "\nGroups:");
    if (!p)
        return false;
    p += 8;
    while (*p && *p != '\n') {
        char *end;
        long g = strtol(p, &end, 10);
        if (end == p)
            break;
        if (g == gid)
            return true;
        p = end;
    }
    return false;
}

static void doctor_hidepid(struct doctor *d, const struct doctor_mounts *m)
{
    struct doctor_check *c = doctor_add(d, "proc-hidepid", "procfs", false, DOCTOR_MEASURED);
    bool hidden = m->hidepid[0] && strcmp(m->hidepid, "0") != 0 && strcmp(m->hidepid, "off") != 0;
    if (!hidden) {
        doctor_why(c, "/proc shows every process (no hidepid option in %s)",
                   doctor_path(d, m->file ? m->file : "proc/self/mounts"));
        return;
    }
    if (doctor_has_cap(d, CAP_SYS_PTRACE_BIT)) {
        doctor_why(c, "/proc is mounted with hidepid=%s; CAP_SYS_PTRACE shows every process",
                   m->hidepid);
        return;
    }
    if (m->hide_gid >= 0 && doctor_in_group(d, m->hide_gid)) {
        doctor_why(c, "/proc is mounted with hidepid=%s; this process is in its group gid=%ld",
                   m->hidepid, m->hide_gid);
        return;
    }
    c->status = DOCTOR_UNAVAILABLE;
    doctor_why(c,
               "/proc is mounted with hidepid=%s (%s) and this process has no CAP_SYS_PTRACE: "
               "the processes of other users are hidden, only the system-wide figures and "
               "its own processes are measured",
               m->hidepid, doctor_path(d, m->file));
    if (m->hide_gid >= 0)
        doctor_fix(c, "add the agent's user to the group %ld of the mount (gid=%ld), ", m->hide_gid,
                   m->hide_gid);
    doctor_fix(c, "grant CAP_SYS_PTRACE (AmbientCapabilities=CAP_SYS_PTRACE), or sudo mount -o "
                  "remount,hidepid=0 /proc");
}

/* Whether the sources polled every 3 ms or faster may run at SCHED_FIFO
 * (src/core/pipeline-sources.c); never needed: they run anyway. */
static void doctor_realtime(struct doctor *d)
{
    struct doctor_check *c = doctor_add(d, "realtime", "core", false, DOCTOR_MEASURED);
    if (d->a->settings.no_realtime) {
        doctor_why(c, "real-time priority is turned off (--priority-worker-threads 0)");
    } else if (doctor_has_cap(d, CAP_SYS_NICE_BIT)) {
        doctor_why(c, "CAP_SYS_NICE: the sources polled every 3 ms or faster run at the "
                      "real-time priority SCHED_FIFO 55");
    } else {
        c->status = DOCTOR_UNAVAILABLE;
        doctor_why(c, "this process has no CAP_SYS_NICE: the sources polled every 3 ms or "
                      "faster would run at the normal priority and may miss samples when the "
                      "CPUs are busy");
        doctor_fix(c, "only for such sources: sudo setcap cap_sys_nice+ep \"$(command -v "
                      "alumet-agent)\" (with the agent's other capabilities in the same call), "
                      "AmbientCapabilities=CAP_SYS_NICE and RestrictRealtime=no in a systemd "
                      "unit, or run the agent as root");
    }
}

static void doctor_slurm(struct doctor *d, const struct doctor_mounts *m)
{
    if (!doctor_enabled(d, "slurm"))
        return;
    struct doctor_check *c = doctor_add(d, "slurm", "slurm", true, DOCTOR_UNAVAILABLE);
    if (!m->v1 && !m->v2) {
        doctor_why(c, "no cgroup filesystem (see cgroups)");
        doctor_fix(c, "fix cgroups");
        return;
    }
    c->status = DOCTOR_MEASURED;
    static const char *const dirs[] = {"sys/fs/cgroup/system.slice/slurmstepd.scope",
                                       "sys/fs/cgroup/cpuacct/slurm", "sys/fs/cgroup/cpu/slurm"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int fd = fsroot_openat(&d->root, dirs[i], O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            close(fd);
            doctor_why(c, "Slurm's job cgroups are under %s", doctor_path(d, dirs[i]));
            return;
        }
    }
    doctor_why(c,
               "no Slurm job cgroup now (%s: ENOENT); the jobs are measured when slurmd "
               "creates their cgroups (cgroup plugin of slurm.conf: ProctrackType=proctrack/"
               "cgroup)",
               doctor_path(d, dirs[0]));
}

/* "https://10.0.0.1:6443/..." → host, port. 0 or -EINVAL. */
static int doctor_parse_url(const char *url, char *host, size_t size, char *port, size_t psize)
{
    bool tls = strncmp(url, "https://", 8) == 0;
    if (!tls && strncmp(url, "http://", 7) != 0)
        return -EINVAL;
    const char *h = url + (tls ? 8 : 7);
    size_t len = strcspn(h, ":/");
    if (len == 0 || len >= size)
        return -EINVAL;
    snprintf(host, size, "%.*s", (int)len, h);
    if (h[len] == ':')
        snprintf(port, psize, "%.*s", (int)strcspn(h + len + 1, "/"), h + len + 1);
    else
        snprintf(port, psize, "%s", tls ? "443" : "80");
    return 0;
}

/* TCP connect with a 2 s limit; 0 or a negative errno. */
static int doctor_connect(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0)
        return -EHOSTUNREACH;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    r = fd < 0 ? -errno : 0;
    if (r == 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        r = -errno;
        if (r == -EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int e = 0;
            socklen_t l = sizeof(e);
            if (poll(&p, 1, 2000) <= 0)
                r = -ETIMEDOUT;
            else
                r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 ? -errno : -e;
        }
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return r;
}

static void doctor_k8s(struct doctor *d)
{
    if (!doctor_enabled(d, "k8s"))
        return;
    struct doctor_check *c = doctor_add(d, "k8s-token", "k8s", true, DOCTOR_UNAVAILABLE);
    const char *mode = doctor_cfg_string(d, "k8s", "token_retrieval", "auto");
    const char *file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    if (strcmp(mode, "kubectl") == 0) {
        c->status = DOCTOR_MEASURED;
        doctor_why(c, "the token comes from kubectl (plugins.k8s.token_retrieval = \"kubectl\")");
    } else {
        int r = doctor_can_read(d, file);
        if (r < 0) {
            doctor_why(c, "%s: %s", doctor_path(d, file), doctor_errno(-r));
            doctor_fix(c, "run the agent in a pod with a service account token mounted "
                          "(automountServiceAccountToken: true), or set "
                          "plugins.k8s.token_retrieval = \"kubectl\"");
        } else {
            c->status = DOCTOR_MEASURED;
            doctor_why(c, "service account token %s is readable", doctor_path(d, file));
        }
    }
    c = doctor_add(d, "k8s-api", "k8s", true, DOCTOR_UNAVAILABLE);
    const char *url = doctor_cfg_string(d, "k8s", "k8s_api_url", "http://127.0.0.1:8080");
    char host[256], port[16];
    if (doctor_parse_url(url, host, sizeof(host), port, sizeof(port)) < 0) {
        doctor_why(c, "plugins.k8s.k8s_api_url = \"%s\" is not an http:// or https:// URL", url);
        doctor_fix(c, "set plugins.k8s.k8s_api_url = \"https://<api server>:6443\"");
        return;
    }
    int r = doctor_connect(host, port);
    if (r < 0) {
        doctor_why(c, "connect(%s:%s) (plugins.k8s.k8s_api_url = \"%s\"): %s", host, port, url,
                   doctor_errno(-r));
        doctor_fix(c, "set plugins.k8s.k8s_api_url to the API server's address (kubectl "
                      "cluster-info shows it), and allow the node to reach it");
        return;
    }
    c->status = DOCTOR_MEASURED;
    doctor_why(c, "connect(%s:%s) succeeded (plugins.k8s.k8s_api_url = \"%s\")", host, port, url);
}

static void doctor_gpu(struct doctor *d, const char *plugin, const char *def, const char *what,
                       const char *package)
{
    const char *lib = doctor_cfg_string(d, plugin, "library", def);
    struct doctor_check *c =
        doctor_add(d, plugin, plugin, doctor_explicit(d, plugin), DOCTOR_UNAVAILABLE);
    void *h = dlopen(lib, RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        doctor_why(c, "dlopen(\"%s\"): %s (no %s, or its driver is not installed)", lib,
                   e ? e : "?", what);
        doctor_fix(c,
                   "install %s, or set plugins.%s.library to its path; without %s, disable "
                   "the plugin (plugins.%s.enabled = false)",
                   package, plugin, what, plugin);
        return;
    }
    dlclose(h);
    c->status = DOCTOR_MEASURED;
    doctor_why(c, "dlopen(\"%s\") succeeded; the devices are listed when the plugin starts", lib);
}

/* Entries of the directory rel under the root whose name starts with a digit
 * ("1-0040", an I2C device) or with prefix; -errno when it cannot be read. */
static int doctor_count_dir(struct doctor *d, const char *rel, const char *prefix)
{
    DIR *dir;
    int r = fsroot_opendir(&d->root, rel, &dir);
    if (r < 0)
        return r;
    int n = 0;
    for (struct dirent *e; (e = readdir(dir));)
        if (prefix ? strncmp(e->d_name, prefix, strlen(prefix)) == 0
                   : e->d_name[0] >= '0' && e->d_name[0] <= '9')
            n++;
    closedir(dir);
    return n;
}

/* The hard limit of open files in proc/self/limits (-1: unlimited):
 * "Max open files            1024                 524288               files"
 * 0 or a negative errno. */
static int doctor_nofile_hard(struct doctor *d, long *hard)
{
    int fd = fsroot_openat(&d->root, "proc/self/limits", O_RDONLY);
    if (fd < 0)
        return fd;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    const char *p = strstr(buf, "Max open files");
    if (!p)
        return -EINVAL;
    p += strlen("Max open files");
    p += strspn(p, " \t");
    p += strcspn(p, " \t"); /* the soft limit: procfs raises it to the hard one */
    p += strspn(p, " \t");
    if (strncmp(p, "unlimited", 9) == 0) {
        *hard = -1;
        return 0;
    }
    char *end;
    *hard = strtol(p, &end, 10);
    return end == p ? -EINVAL : 0;
}

/* What procfs's watcher will keep open (plugins/procfs/README.md, "Open
 * files"): half its limit, two descriptors per process, the soft limit
 * raised to the hard one, and both to procfile_fd_limit_for() with
 * CAP_SYS_RESOURCE. Never fails: the processes beyond are read by path. */
static void doctor_open_files(struct doctor *d)
{
    if (!doctor_enabled(d, "procfs"))
        return;
    struct doctor_check *c = doctor_add(d, "proc-open-files", "procfs", false, DOCTOR_MEASURED);
    long hard, nr_open = 1048576;
    int n = doctor_count_dir(d, "proc", NULL);
    int r = doctor_nofile_hard(d, &hard);
    if (n < 0 || r < 0) {
        doctor_why(c, "cannot read %s: %s", doctor_path(d, n < 0 ? "proc" : "proc/self/limits"),
                   doctor_errno(-(n < 0 ? n : r)));
        return;
    }
    char text[32];
    if (doctor_read_line(d, "proc/sys/fs/nr_open", text, sizeof(text)) == 0)
        nr_open = strtol(text, NULL, 10);
    if (hard < 0) {
        doctor_why(c, "%d processes; no hard limit of open files: procfs keeps every one open", n);
        return;
    }
    bool may_raise = doctor_has_cap(d, CAP_SYS_RESOURCE_BIT);
    long limit = may_raise ? procfile_fd_limit_for((size_t)n, hard, nr_open) : hard;
    if (limit / 4 >= n) {
        doctor_why(c,
                   "%d processes; limit of open files %ld (hard %ld%s): procfs keeps every one "
                   "open (two descriptors each, at most half the limit)",
                   n, limit, hard, limit > hard ? ", raised with CAP_SYS_RESOURCE" : "");
        return;
    }
    doctor_why(c,
               "%d processes; the hard limit of open files is %ld%s: procfs keeps %ld of them "
               "open (half the limit, two descriptors each) and reads the other %ld by path, at "
               "about twice the CPU time per process",
               n, limit, may_raise ? " (fs.nr_open)" : " and this process has no CAP_SYS_RESOURCE",
               limit / 4, n - limit / 4);
    /* what procfs would ask for with no other bound */
    long enough = procfile_fd_limit_for((size_t)n, 0, LONG_MAX);
    doctor_fix(c,
               "raise the hard limit of open files to %ld (ulimit -Hn %ld before starting the "
               "agent, LimitNOFILE=%ld in its systemd unit) or grant CAP_SYS_RESOURCE",
               enough, enough, enough);
    if (enough > nr_open)
        doctor_fix(c, "and fs.nr_open (%ld) above it: sysctl -w fs.nr_open=%ld", nr_open, enough);
}

/* NVIDIA Jetson: the INA3221 power monitors (hwmon or iio driver). */
static void doctor_jetson(struct doctor *d)
{
    static const char *const drivers[] = {"sys/bus/i2c/drivers/ina3221",
                                          "sys/bus/i2c/drivers/ina3221x"};
    struct doctor_check *c =
        doctor_add(d, "jetson", "jetson", doctor_explicit(d, "jetson"), DOCTOR_UNAVAILABLE);
    for (size_t i = 0; i < 2; i++) {
        int n = doctor_count_dir(d, drivers[i], NULL);
        if (n > 0) {
            c->status = DOCTOR_MEASURED;
            doctor_why(c, "%d INA3221 power monitor%s in %s", n, n > 1 ? "s" : "",
                       doctor_path(d, drivers[i]));
            return;
        }
    }
    doctor_why(c, "no INA3221 power monitor: %s: ENOENT (not an NVIDIA Jetson)",
               doctor_path(d, drivers[0]));
    doctor_fix(c, "on a Jetson, load the ina3221 driver (it comes with L4T); elsewhere, disable "
                  "the plugin (plugins.jetson.enabled = false)");
}

/* NVIDIA Grace: ACPI power meters, <root_path>/hwmon<N>/device/power1_oem_info. */
static void doctor_grace(struct doctor *d)
{
    const char *root = doctor_cfg_string(d, "grace-hopper", "root_path", "/sys/class/hwmon");
    struct doctor_check *c = doctor_add(d, "grace-hopper", "grace-hopper",
                                        doctor_explicit(d, "grace-hopper"), DOCTOR_UNAVAILABLE);
    DIR *dir;
    int r = fsroot_opendir(&d->root, root, &dir);
    if (r < 0 && strcmp(root, "/sys/class/hwmon") == 0) {
        doctor_why(c, "%s: %s (no hwmon device: not an NVIDIA Grace machine)", doctor_path(d, root),
                   doctor_errno(-r));
        doctor_fix(c, "on other machines, disable the plugin (plugins.grace-hopper.enabled = "
                      "false)");
        return;
    }
    if (r < 0) {
        doctor_why(c, "%s: %s (plugins.grace-hopper.root_path)", doctor_path(d, root),
                   doctor_errno(-r));
        doctor_fix(c, "set plugins.grace-hopper.root_path to the hwmon class directory "
                      "(/sys/class/hwmon)");
        return;
    }
    int n = 0, denied = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        char rel[1024];
        snprintf(rel, sizeof(rel), "%s/%s/device/power1_oem_info", root, e->d_name);
        if (strncmp(e->d_name, "hwmon", 5) != 0)
            continue;
        r = doctor_can_read(d, rel);
        n += r == 0;
        denied += r == -EACCES;
    }
    closedir(dir);
    if (n > 0) {
        c->status = DOCTOR_MEASURED;
        doctor_why(c, "%d Grace power meter%s in %s", n, n > 1 ? "s" : "", doctor_path(d, root));
    } else if (denied) {
        doctor_why(c, "%d Grace power meter%s in %s: EACCES", denied, denied > 1 ? "s" : "",
                   doctor_path(d, root));
        doctor_fix(c, "grant CAP_DAC_READ_SEARCH or run as root");
    } else {
        doctor_why(c, "no hwmon<N>/device/power1_oem_info in %s (not an NVIDIA Grace machine)",
                   doctor_path(d, root));
        doctor_fix(c, "on other machines, disable the plugin (plugins.grace-hopper.enabled = "
                      "false)");
    }
}

/* Whether host:port can be listened on: check c, named by keys ("plugins.X.host,
 * .port") in the messages, with the key that changes the port in the fix. */
static void doctor_bind(struct doctor_check *c, const char *host, const char *port,
                        const char *keys, const char *port_key)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    if (getaddrinfo(*host ? host : NULL, port, &hints, &ai) != 0) {
        doctor_why(c, "%s: '%s' is not an address", keys, host);
        doctor_fix(c, "set it to \"0.0.0.0\" (or \"127.0.0.1\", \"[::]\")");
        return;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, r = fd < 0 ? -errno : 0;
    if (r == 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0)
            r = -errno;
        close(fd);
    }
    freeaddrinfo(ai);
    if (r < 0) {
        doctor_why(c, "bind(%s:%s) (%s): %s", host, port, keys, doctor_errno(-r));
        if (r == -EACCES)
            doctor_fix(c, "ports below 1024 need CAP_NET_BIND_SERVICE: choose %s >= 1024",
                       port_key);
        else
            doctor_fix(c,
                       "stop what listens there (sudo ss -ltnp 'sport = :%s' names it) or "
                       "set %s to a free port",
                       port, port_key);
        return;
    }
    c->status = DOCTOR_MEASURED;
    doctor_why(c, "%s:%s is free", host, port);
}

/* "host:port", "[v6]:port" → host (brackets dropped), port. 0 or -EINVAL. */
static int doctor_split_address(const char *addr, char *host, size_t size, char *port, size_t psize)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -EINVAL;
    const char *h = addr;
    size_t len = (size_t)(colon - addr);
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        h++;
        len -= 2;
    }
    snprintf(host, size, "%.*s", (int)len, h);
    snprintf(port, psize, "%s", colon + 1);
    return 0;
}

static void doctor_port(struct doctor *d)
{
    if (doctor_enabled(d, "prometheus-exporter")) {
        struct doctor_check *c =
            doctor_add(d, "exporter-port", "prometheus-exporter", true, DOCTOR_UNAVAILABLE);
        const char *host = doctor_cfg_string(d, "prometheus-exporter", "host", "0.0.0.0");
        char port[16];
        snprintf(port, sizeof(port), "%.0f",
                 doctor_cfg_number(d, "prometheus-exporter", "port", 9091));
        doctor_bind(c, host, port, "plugins.prometheus-exporter.host, .port",
                    "plugins.prometheus-exporter.port");
    }
    char host[256], port[16];
    if (doctor_enabled(d, "relay-server")) {
        struct doctor_check *c =
            doctor_add(d, "relay-server-port", "relay-server", true, DOCTOR_UNAVAILABLE);
        const char *addr = doctor_cfg_string(d, "relay-server", "address", "[::]:50051");
        if (doctor_split_address(addr, host, sizeof(host), port, sizeof(port)) < 0) {
            doctor_why(c, "plugins.relay-server.address = \"%s\" is not HOST:PORT", addr);
            doctor_fix(c, "set plugins.relay-server.address = \"[::]:50051\"");
        } else {
            doctor_bind(c, host, port, "plugins.relay-server.address",
                        "the port of plugins.relay-server.address");
        }
    }
    if (doctor_enabled(d, "relay-client")) {
        /* not required: the client retries, and its spool keeps the points */
        struct doctor_check *c =
            doctor_add(d, "relay-server-reachable", "relay-client", false, DOCTOR_UNAVAILABLE);
        const char *addr = doctor_cfg_string(d, "relay-client", "relay_server", "[::1]:50051");
        int r;
        if (doctor_split_address(addr, host, sizeof(host), port, sizeof(port)) < 0) {
            doctor_why(c, "plugins.relay-client.relay_server = \"%s\" is not HOST:PORT", addr);
            doctor_fix(c, "set plugins.relay-client.relay_server = \"server.example:50051\"");
        } else if ((r = doctor_connect(host, port)) < 0) {
            doctor_why(c, "connect(%s:%s) (plugins.relay-client.relay_server): %s", host, port,
                       doctor_errno(-r));
            doctor_fix(c, "start the relay-server agent first (alumet-agent --plugins "
                          "relay-server,csv run), or set plugins.relay-client.relay_server "
                          "to its address; meanwhile the client retries (and spools with "
                          "spool_dir)");
        } else {
            c->status = DOCTOR_MEASURED;
            doctor_why(c, "connect(%s:%s) succeeded (plugins.relay-client.relay_server)", host,
                       port);
        }
    }
}

void doctor_check_system(struct doctor *d)
{
    struct doctor_mounts m;
    doctor_read_mounts(d, &m);
    doctor_cgroups(d, &m);
    doctor_hidepid(d, &m);
    doctor_open_files(d);
    doctor_realtime(d);
    doctor_slurm(d, &m);
    doctor_k8s(d);
    doctor_gpu(d, "nvml", "libnvidia-ml.so.1", "NVIDIA GPU",
               "the NVIDIA driver's NVML library (Debian: libnvidia-ml1)");
    doctor_gpu(d, "amd-gpu", "libamd_smi.so", "AMD GPU", "ROCm's AMD SMI library (amd-smi-lib)");
    doctor_jetson(d);
    doctor_grace(d);
    doctor_port(d);
}
