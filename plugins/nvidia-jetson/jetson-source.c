/* SPDX-License-Identifier: MIT */
/* The source "builtin_ina_sensor": every poll reads the current, voltage and
 * power files of every channel and integrates the power into energy.
 *
 * Power: the iio driver gives it (in_power<N>_input, mW); the hwmon driver
 * does not, so it is current × voltage (mA × mV = µW, / 1000 → mW), which is
 * what the INA3221 itself would compute (its datasheet: power is computed
 * host-side). Energy: the trapezoid between this poll's power and the
 * previous poll's, over the real time between the two polls (the points'
 * timestamps): see src/util/power-integrator.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jetson.h"

/* "1520\n" */
int jetson_read_value(struct jetson *j, struct procfile *pf, uint64_t *ret)
{
    (void)j;
    /* fd -1: the file vanished at an earlier read (driver unbound) */
    int r = pf->fd < 0 ? procfile_reopen(pf) : 0;
    if (r == 0)
        r = procfile_read(pf);
    if (r == -ENODEV || r == -ENOENT || r == -ESTALE) {
        /* the object the descriptor was open on has gone: open it again once */
        r = procfile_reopen(pf);
        if (r == 0)
            r = procfile_read(pf);
    }
    if (r < 0)
        return r;
    struct procfile_scan s = procfile_scan_of(pf->buf, pf->len);
    while (s.p < s.end && (*s.p == ' ' || *s.p == '\t' || *s.p == '\n'))
        s.p++;
    if (procfile_scan_eof(&s))
        return -ENODATA;
    uint64_t v;
    r = procfile_scan_u64(&s, &v);
    if (r < 0 || !procfile_scan_at_eol(&s))
        return r == -ERANGE ? -ERANGE : -EINVAL;
    *ret = v;
    return 0;
}

struct jetson_source *jetson_source_new(struct jetson *j)
{
    struct jetson_source *src = calloc(1, sizeof(*src));
    if (!src)
        return NULL;
    src->jetson = j;
    for (int f = 0; f < _JETSON_FILE_MAX; f++)
        src->metrics[f] = ALUMET_METRIC_ID_INVALID;
    src->energy_metric = ALUMET_METRIC_ID_INVALID;
    return src;
}

struct jetson_channel *jetson_source_add(struct jetson_source *src)
{
    if (src->n == src->cap) {
        size_t ncap = src->cap ? src->cap * 2 : 8;
        struct jetson_channel *n = reallocarray(src->channels, ncap, sizeof(*n));
        if (!n)
            return NULL;
        src->channels = n;
        src->cap = ncap;
    }
    struct jetson_channel *c = &src->channels[src->n++];
    memset(c, 0, sizeof(*c));
    for (int f = 0; f < _JETSON_FILE_MAX; f++)
        c->files[f] = (struct procfile)PROCFILE_INIT;
    c->energy = (struct power_integrator)POWER_INTEGRATOR_INIT;
    return c;
}

static void jetson_source_free(void *data)
{
    struct jetson_source *src = data;
    if (!src)
        return;
    for (size_t i = 0; i < src->n; i++) {
        struct jetson_channel *c = &src->channels[i];
        for (int f = 0; f < _JETSON_FILE_MAX; f++) {
            procfile_close(&c->files[f]);
            free(c->what[f]);
        }
        free(c->label);
    }
    free(src->channels);
    if (src->jetson && src->jetson->source == src)
        src->jetson->source = NULL;
    free(src);
}

/* Pause: the first poll after the resume gives no energy, rather than an
 * interval spanning the pause. */
static void jetson_source_reset(void *data)
{
    struct jetson_source *src = data;
    for (size_t i = 0; i < src->n; i++)
        power_integrator_reset(&src->channels[i].energy);
}

/* A point of channel c with its four attributes (label copied into buf). */
static struct alumet_point *jetson_push(struct alumet_buffer *buf, const struct jetson_channel *c,
                                        const char *label, struct alumet_point *p)
{
    if (!p || alumet_point_add_attr_u64(buf, p, "ina_device_number", c->device_number) < 0 ||
        alumet_point_add_attr_u64(buf, p, "ina_i2c_address", c->i2c_address) < 0 ||
        alumet_point_add_attr_u64(buf, p, "ina_channel_id", c->id) < 0 ||
        alumet_point_add_attr_str(buf, p, "ina_channel_label", label) < 0)
        return NULL;
    return p;
}

static const struct alumet_resource jetson_machine = ALUMET_RESOURCE_LOCAL_MACHINE_INIT;
static const struct alumet_consumer jetson_machine_consumer = ALUMET_CONSUMER_LOCAL_MACHINE_INIT;

/* Read every file of c, then push its points. 0; a negative errno with err
 * for a read failure (the channel's points are then left out); -ENOMEM. */
static int jetson_channel_poll(struct jetson_source *src, struct jetson_channel *c,
                               struct alumet_buffer *buf, alumet_time_ns now,
                               struct alumet_error *err)
{
    uint64_t v[_JETSON_FILE_MAX] = {0};
    bool have[_JETSON_FILE_MAX] = {false};
    int r;

    for (int f = 0; f < _JETSON_FILE_MAX; f++) {
        if (!c->files[f].path)
            continue;
        r = jetson_read_value(src->jetson, &c->files[f], &v[f]);
        if (r < 0) {
            /* no energy interval spans a failed read */
            power_integrator_reset(&c->energy);
            return alumet_error_set(err, r, "cannot read '%s': %s", c->what[f],
                                    r == -EINVAL    ? "not a number"
                                    : r == -ENODATA ? "empty file"
                                                    : strerror(-r));
        }
        have[f] = true;
    }

    /* the power in mW: read, or current × voltage */
    double mw = -1;
    if (have[JETSON_POWER]) {
        mw = (double)v[JETSON_POWER];
    } else if (have[JETSON_CURRENT] && have[JETSON_VOLTAGE]) {
        mw = (double)v[JETSON_CURRENT] * (double)v[JETSON_VOLTAGE] / 1000.0;
        v[JETSON_POWER] = (uint64_t)llround(mw);
        have[JETSON_POWER] = true;
    }

    const char *label = alumet_buffer_strdup(buf, c->label, (size_t)-1);
    if (!label)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (int f = 0; f < _JETSON_FILE_MAX; f++) {
        if (!have[f])
            continue;
        struct alumet_point *p = alumet_buffer_push_u64(buf, now, src->metrics[f], &jetson_machine,
                                                        &jetson_machine_consumer, v[f]);
        if (!jetson_push(buf, c, label, p))
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    double mj;
    if (mw >= 0 && power_integrator_add(&c->energy, now, mw, &mj) > 0) {
        struct alumet_point *p = alumet_buffer_push_f64(
            buf, now, src->energy_metric, &jetson_machine, &jetson_machine_consumer, mj);
        if (!jetson_push(buf, c, label, p))
            return alumet_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static int jetson_source_poll(void *data, struct alumet_buffer *buf, alumet_time_ns now,
                              struct alumet_error *err)
{
    struct jetson_source *src = data;
    struct alumet_error first = {0};
    size_t failures = 0;

    for (size_t i = 0; i < src->n; i++) {
        struct alumet_error e = {0};
        int r = jetson_channel_poll(src, &src->channels[i], buf, now, &e);
        if (r == -ENOMEM)
            return alumet_error_set(err, r, "%s", e.msg);
        if (r < 0 && failures++ == 0)
            first = e;
    }
    if (!failures)
        return ALUMET_POLL_OK;
    /* a failed channel is read again at the next poll (its energy restarts
     * from that read) */
    alumet_error_set(err, first.code, "%s; will retry at the next poll", first.msg);
    if (failures > 1)
        alumet_error_prefix(err, "%zu INA3221 channels failed", failures);
    return ALUMET_POLL_RETRY;
}

const struct alumet_source_ops jetson_source_ops = {
    .version = ALUMET_SOURCE_OPS_V1,
    .poll = jetson_source_poll,
    .reset = jetson_source_reset,
    .free = jetson_source_free,
};
