/* SPDX-License-Identifier: MIT */
/* Private header of the jetson plugin: the INA3221 power monitors of NVIDIA
 * Jetson boards, read from sysfs (see README.md). */
#ifndef JETSON_H
#define JETSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/plugin.h"
#include "util/fsroot.h"
#include "util/power-integrator.h"
#include "util/procfile.h"

/* The two layouts of the INA3221 driver, below the sys root. */
#define JETSON_HWMON_DIR "sys/bus/i2c/drivers/ina3221" /* hwmon driver (current releases) */
#define JETSON_IIO_DIR "sys/bus/i2c/drivers/ina3221x"  /* iio driver (older releases) */

#define JETSON_SOURCE_NAME "builtin_ina_sensor"

/* What a channel file measures, in the order of the points of a channel. */
enum jetson_file {
    JETSON_CURRENT, /* mA */
    JETSON_POWER,   /* mW (iio layout only) */
    JETSON_VOLTAGE, /* mV */
    _JETSON_FILE_MAX,
};

/* One channel (rail) of one INA3221 device. */
struct jetson_channel {
    uint64_t i2c_address;                    /* 0x40 of "1-0040" */
    uint32_t bus;                            /* 1 of "1-0040" (sort key only) */
    uint64_t device_number;                  /* k of hwmon<k> / iio:device<k> */
    uint64_t id;                             /* N of in<N>_input / rail_name_<N> */
    char *label;                             /* in<N>_label / rail_name_<N>, or "channel_<N>" */
    struct procfile files[_JETSON_FILE_MAX]; /* fd -1: the channel has no such file */
    char *what[_JETSON_FILE_MAX];            /* full path, for messages */
    struct power_integrator energy;          /* from the power, in mW → mJ */
};

/* The source "builtin_ina_sensor": every channel, sorted by I2C address,
 * bus, device number and channel id. */
struct jetson_source {
    struct jetson *jetson; /* borrowed */
    struct jetson_channel *channels;
    size_t n, cap;
    alumet_metric_id metrics[_JETSON_FILE_MAX];
    alumet_metric_id energy_metric;
};

struct jetson_config {
    alumet_time_ns poll_interval;
    alumet_time_ns flush_interval;
    char *sys_root; /* hidden: where sys/ is (tests, containers) */
};

struct jetson {
    struct jetson_config cfg;
    struct fsroot sys;
    struct alumet_log_topic *log; /* the agent's topic after start */
    struct alumet_log_topic fallback_log;
    struct jetson_source *source; /* registered source (owned by the core), NULL when none */
};

#define jetson_log(j, level, ...) alumet_log_at((j)->log, (level), __VA_ARGS__)

/* jetson-discover.c: find the channels below the sys root and open their
 * files into src (sorted). Returns the number of channels (0: none), or a
 * negative errno with err: -ENOMEM, or -EACCES when devices exist but no
 * channel could be read. Problems with single files are logged as one
 * warning. */
int jetson_discover(struct jetson *j, struct jetson_source *src, struct alumet_error *err);

/* jetson-source.c */
extern const struct alumet_source_ops jetson_source_ops;
struct jetson_source *jetson_source_new(struct jetson *j);
/* A new zeroed channel at the end of src (files closed), NULL on -ENOMEM. */
struct jetson_channel *jetson_source_add(struct jetson_source *src);
/* Read one file of a channel: "1520\n" → 1520. 0 or a negative errno
 * (-EINVAL: not a number, -ENODATA: empty). */
int jetson_read_value(struct jetson *j, struct procfile *pf, uint64_t *ret);

#endif
