/* SPDX-License-Identifier: MIT */
/* socket-control: the command line parser, shared by the plugin and its
 * tests. Private to the plugin. */
#ifndef ALUMET_SOCKET_CONTROL_H
#define ALUMET_SOCKET_CONTROL_H

#include "alumet/error.h"
#include "alumet/time.h"

/* The longest line accepted, newline excluded. */
#define SOCKCTL_LINE_MAX 4095

enum sockctl_verb {
    SOCKCTL_NOOP, /* an empty (or blank) line */
    SOCKCTL_SHUTDOWN,
    SOCKCTL_STATUS,
    SOCKCTL_CONTROL,
};

enum sockctl_action {
    SOCKCTL_PAUSE,  /* pause, disable */
    SOCKCTL_RESUME, /* resume, enable */
    SOCKCTL_STOP,
    SOCKCTL_SET_PERIOD, /* set-period, set-poll-interval */
    SOCKCTL_TRIGGER_NOW,
};

enum sockctl_kind {
    SOCKCTL_KIND_ANY,
    SOCKCTL_KIND_SOURCE,
    SOCKCTL_KIND_TRANSFORM,
    SOCKCTL_KIND_OUTPUT,
};

struct sockctl_command {
    enum sockctl_verb verb;
    /* SOCKCTL_CONTROL only */
    enum sockctl_action action;
    enum sockctl_kind kind;
    char pattern[SOCKCTL_LINE_MAX + 8]; /* "src/PLUGIN/NAME" for alumet_pipeline_control */
    alumet_time_ns period;              /* SOCKCTL_SET_PERIOD: > 0 */
};

/* Parse one line (without its newline; words split on ASCII whitespace):
 *   shutdown | stop | status | control SELECTOR ACTION [ARG]
 * 0 and *ret filled, or -EINVAL with the message of upstream's socket
 * control in err ("unknown command 'x'; available commands are 'shutdown'
 * or 'control'", "bad kind: 'x'", ...). */
int sockctl_parse(const char *line, struct sockctl_command *ret, struct alumet_error *err);

#endif
