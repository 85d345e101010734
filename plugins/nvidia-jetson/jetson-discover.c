/* SPDX-License-Identifier: MIT */
/* Discovery of the INA3221 channels below the sys root.
 *
 * hwmon driver: sys/bus/i2c/drivers/ina3221/<bus>-<addr>/hwmon/hwmon<k>/
 *     in<N>_label "VDD_IN", curr<N>_input "1520" (mA), in<N>_input "5080" (mV)
 * iio driver:   sys/bus/i2c/drivers/ina3221x/<bus>-<addr>/iio:device<k>/
 *     rail_name_<N> "VDD_IN", in_current<N>_input (mA), in_voltage<N>_input
 *     (mV), in_power<N>_input (mW)
 *
 * The device directories are symbolic links into /sys/devices: they are
 * followed. Other files (curr1_crit, shunt1_resistor, uevent...) are ignored,
 * and so are in4_input..in7_input of the hwmon driver: shunt voltages in µV,
 * not rails (upstream reports them as rail voltages in mV). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jetson.h"
#include "util/gpu-plugin.h"
#include "util/strbuf.h"

/* What a scan found, and the files that could not be read. */
struct jetson_scan {
    size_t devices;
    size_t n_errors;
    struct strbuf errors;
    char text[2048];
};

static void jetson_scan_error(struct jetson *j, struct jetson_scan *s, const char *rel, int r,
                              const char *why)
{
    char path[PATH_MAX];
    fsroot_path(&j->sys, rel, path, sizeof(path));
    strbuf_printf(&s->errors, "%s'%s': %s", s->n_errors ? "; " : "", path,
                  why ? why : strerror(-r));
    s->n_errors++;
}

/* name is prefix, decimal digits, suffix: the digits into *ret. */
static bool jetson_match(const char *name, const char *prefix, const char *suffix, uint64_t *ret)
{
    size_t lp = strlen(prefix);
    if (strncmp(name, prefix, lp) != 0)
        return false;
    const char *p = name + lp;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT32_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (strcmp(p, suffix) != 0)
        return false;
    *ret = v;
    return true;
}

/* "1-0040": bus 1, address 0x40. */
static bool jetson_parse_i2c(const char *name, uint32_t *ret_bus, uint64_t *ret_addr)
{
    char *end;
    if (name[0] < '0' || name[0] > '9')
        return false;
    unsigned long bus = strtoul(name, &end, 10);
    if (*end != '-' || bus > UINT32_MAX || !end[1])
        return false;
    const char *h = end + 1;
    uint64_t addr = 0;
    for (; *h; h++) {
        int d = *h >= '0' && *h <= '9'   ? *h - '0'
                : *h >= 'a' && *h <= 'f' ? *h - 'a' + 10
                : *h >= 'A' && *h <= 'F' ? *h - 'A' + 10
                                         : -1;
        if (d < 0 || addr > 0xffffff)
            return false;
        addr = addr * 16 + (uint64_t)d;
    }
    *ret_bus = (uint32_t)bus;
    *ret_addr = addr;
    return true;
}

/* The small text file rel, trimmed, into buf. 0 or a negative errno
 * (-ENODATA: empty). */
static int jetson_read_label(struct jetson *j, const char *rel, char *buf, size_t size)
{
    ssize_t n = gpu_plugin_read_text(&j->sys, rel, buf, size);
    return n < 0 ? (int)n : n > 0 ? 0 : -ENODATA;
}

/* The channel id of device (i2c, number) among src->channels[from..]; a new
 * one when absent. NULL on -ENOMEM. */
static struct jetson_channel *jetson_channel_get(struct jetson_source *src, size_t from,
                                                 uint32_t bus, uint64_t addr, uint64_t dev,
                                                 uint64_t id)
{
    for (size_t i = from; i < src->n; i++)
        if (src->channels[i].id == id)
            return &src->channels[i];
    struct jetson_channel *c = jetson_source_add(src);
    if (!c)
        return NULL;
    c->bus = bus;
    c->i2c_address = addr;
    c->device_number = dev;
    c->id = id;
    return c;
}

static void jetson_channel_done(struct jetson_channel *c)
{
    for (int f = 0; f < _JETSON_FILE_MAX; f++) {
        procfile_close(&c->files[f]);
        free(c->what[f]);
    }
    free(c->label);
}

/* Classify a file name of a device directory: a label (ret -1), a metric
 * file (its enum jetson_file), or nothing (_JETSON_FILE_MAX). */
static int jetson_classify(bool hwmon, const char *name, uint64_t *id)
{
    if (hwmon) {
        if (jetson_match(name, "in", "_label", id))
            return -1;
        if (jetson_match(name, "curr", "_input", id))
            return JETSON_CURRENT;
        if (jetson_match(name, "in", "_input", id))
            return *id <= 3 ? JETSON_VOLTAGE : _JETSON_FILE_MAX;
        return _JETSON_FILE_MAX;
    }
    if (jetson_match(name, "rail_name_", "", id) || jetson_match(name, "rail_name", "", id))
        return -1;
    if (jetson_match(name, "in_current", "_input", id))
        return JETSON_CURRENT;
    if (jetson_match(name, "in_voltage", "_input", id))
        return JETSON_VOLTAGE;
    if (jetson_match(name, "in_power", "_input", id))
        return JETSON_POWER;
    return _JETSON_FILE_MAX;
}

/* Open the channel files of the device directory rel. 0 or -ENOMEM. */
static int jetson_scan_device(struct jetson *j, struct jetson_source *src, struct jetson_scan *s,
                              bool hwmon, const char *rel, uint32_t bus, uint64_t addr,
                              uint64_t dev)
{
    DIR *d;
    int r = fsroot_opendir(&j->sys, rel, &d);
    if (r < 0) {
        jetson_scan_error(j, s, rel, r, NULL);
        return 0;
    }
    s->devices++;
    size_t from = src->n;
    struct dirent *e;
    r = 0;
    while (r == 0 && (e = readdir(d))) {
        uint64_t id;
        int kind = jetson_classify(hwmon, e->d_name, &id);
        if (kind == _JETSON_FILE_MAX)
            continue;
        char file[PATH_MAX], text[128];
        int n = snprintf(file, sizeof(file), "%s/%s", rel, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(file))
            continue;
        struct jetson_channel *c = jetson_channel_get(src, from, bus, addr, dev, id);
        if (!c) {
            r = -ENOMEM;
            break;
        }
        if (kind < 0) {
            int lr = jetson_read_label(j, file, text, sizeof(text));
            if (lr < 0) {
                jetson_scan_error(j, s, file, lr, lr == -ENODATA ? "empty file" : NULL);
                continue;
            }
            free(c->label);
            c->label = strdup(text);
            if (!c->label)
                r = -ENOMEM;
            continue;
        }
        struct procfile *pf = &c->files[kind];
        int fr = procfile_open(pf, j->sys.fd, file, 64);
        uint64_t v;
        if (fr == 0)
            fr = jetson_read_value(j, pf, &v);
        if (fr == -ENOMEM) {
            r = fr;
            break;
        }
        if (fr < 0) {
            jetson_scan_error(j, s, file, fr,
                              fr == -ENODATA  ? "empty file"
                              : fr == -EINVAL ? "not a number"
                                              : NULL);
            procfile_close(pf);
            continue;
        }
        char full[PATH_MAX];
        fsroot_path(&j->sys, file, full, sizeof(full));
        c->what[kind] = strdup(full);
        if (!c->what[kind])
            r = -ENOMEM;
    }
    closedir(d);

    /* keep the channels that have a file to read; name the others */
    size_t kept = from;
    for (size_t i = from; i < src->n; i++) {
        struct jetson_channel *c = &src->channels[i];
        bool any = false;
        for (int f = 0; f < _JETSON_FILE_MAX; f++)
            any |= c->files[f].path != NULL;
        if (r == 0 && any && !c->label) {
            char def[32];
            snprintf(def, sizeof(def), "channel_%" PRIu64, c->id);
            c->label = strdup(def);
            if (!c->label)
                r = -ENOMEM;
        }
        if (!any) {
            jetson_channel_done(c);
            continue;
        }
        src->channels[kept++] = *c;
    }
    src->n = kept;
    return r;
}

/* Scan one driver directory (JETSON_HWMON_DIR or JETSON_IIO_DIR). 0,
 * -ENOENT when it does not exist, -ENOMEM. */
static int jetson_scan_root(struct jetson *j, struct jetson_source *src, struct jetson_scan *s,
                            bool hwmon)
{
    const char *root = hwmon ? JETSON_HWMON_DIR : JETSON_IIO_DIR;
    DIR *d;
    int r = fsroot_opendir(&j->sys, root, &d);
    if (r == -ENOENT || r == -ENOTDIR)
        return -ENOENT;
    if (r < 0) {
        jetson_scan_error(j, s, root, r, NULL);
        return 0;
    }
    struct dirent *e;
    r = 0;
    while (r == 0 && (e = readdir(d))) {
        uint32_t bus;
        uint64_t addr, k;
        char rel[PATH_MAX];
        if (!jetson_parse_i2c(e->d_name, &bus, &addr))
            continue; /* bind, unbind, module, uevent */
        /* hwmon: <dev>/hwmon/hwmon<k>; iio: <dev>/iio:device<k> */
        int n = snprintf(rel, sizeof(rel), "%s/%s%s", root, e->d_name, hwmon ? "/hwmon" : "");
        if (n < 0 || (size_t)n >= sizeof(rel))
            continue;
        DIR *sub;
        int sr = fsroot_opendir(&j->sys, rel, &sub);
        if (sr < 0) {
            if (sr != -ENOENT)
                jetson_scan_error(j, s, rel, sr, NULL);
            continue;
        }
        struct dirent *f;
        while (r == 0 && (f = readdir(sub))) {
            if (!jetson_match(f->d_name, hwmon ? "hwmon" : "iio:device", "", &k))
                continue;
            char dev[PATH_MAX];
            n = snprintf(dev, sizeof(dev), "%s/%s", rel, f->d_name);
            if (n < 0 || (size_t)n >= sizeof(dev))
                continue;
            r = jetson_scan_device(j, src, s, hwmon, dev, bus, addr, k);
        }
        closedir(sub);
    }
    closedir(d);
    return r;
}

static int jetson_channel_cmp(const void *a, const void *b)
{
    const struct jetson_channel *x = a, *y = b;
#define CMP(f)                                                                                     \
    if (x->f != y->f)                                                                              \
        return x->f < y->f ? -1 : 1;
    CMP(i2c_address)
    CMP(bus)
    CMP(device_number)
    CMP(id)
#undef CMP
    return 0;
}

int jetson_discover(struct jetson *j, struct jetson_source *src, struct alumet_error *err)
{
    struct jetson_scan s = {0};
    char hwmon_path[PATH_MAX], iio_path[PATH_MAX];
    s.errors = strbuf_of(s.text, sizeof(s.text));
    fsroot_path(&j->sys, JETSON_HWMON_DIR, hwmon_path, sizeof(hwmon_path));
    fsroot_path(&j->sys, JETSON_IIO_DIR, iio_path, sizeof(iio_path));

    /* the hwmon driver of current releases, else the iio driver of old ones */
    int hr = jetson_scan_root(j, src, &s, true);
    int ir = 0;
    if (hr == -ENOMEM)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    bool via_hwmon = src->n > 0;
    if (!via_hwmon) {
        ir = jetson_scan_root(j, src, &s, false);
        if (ir == -ENOMEM)
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }

    if (src->n == 0 && s.n_errors > 0)
        return alumet_error_set(err, -EACCES,
                                "no INA3221 channel could be read, are the permissions set "
                                "properly? The agent needs read access to the INA3221 files (run "
                                "it as root, or grant read access with a udev rule); %zu "
                                "file(s) failed: %s",
                                s.n_errors, s.text);
    if (src->n == 0) {
        char what[2 * PATH_MAX + 64];
        if (hr == -ENOENT && ir == -ENOENT)
            snprintf(what, sizeof(what), "neither '%s' nor '%s' exists", hwmon_path, iio_path);
        else
            snprintf(what, sizeof(what), "no INA3221 channel in '%s' or '%s'", hwmon_path,
                     iio_path);
        jetson_log(j, ALUMET_LOG_WARN,
                   "no INA3221 power monitor found, are you running on a Jetson device? %s "
                   "(looked for '%s/<bus>-<address>/hwmon/hwmon<k>/{in<N>_label,curr<N>_input,"
                   "in<N>_input}' and '%s/<bus>-<address>/iio:device<k>/{rail_name_<N>,"
                   "in_current<N>_input,in_voltage<N>_input,in_power<N>_input}'); the jetson "
                   "plugin measures nothing, skipping",
                   what, hwmon_path, iio_path);
        return 0;
    }
    if (s.n_errors > 0)
        jetson_log(j, ALUMET_LOG_WARN, "%zu INA3221 file(s) cannot be read: %s; ignoring them",
                   s.n_errors, s.text);
    qsort(src->channels, src->n, sizeof(src->channels[0]), jetson_channel_cmp);
    jetson_log(j, ALUMET_LOG_INFO,
               "measuring %zu INA3221 channel(s) of %zu device(s) through the %s driver in '%s'",
               src->n, s.devices, via_hwmon ? "hwmon" : "iio", via_hwmon ? hwmon_path : iio_path);
    return (int)src->n;
}
