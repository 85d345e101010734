/* SPDX-License-Identifier: MIT */
/* socket-control: one command line to a command, with upstream's messages.
 *   control src/procfs/kernel set-period 1ms
 *   control * pause
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alumet/config.h"
#include "socket-control.h"

#define SOCKCTL_MAX_WORDS 5

static bool sockctl_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Split copy (modified) into at most SOCKCTL_MAX_WORDS words; returns the
 * number of words found, which may exceed the number stored. */
static size_t sockctl_split(char *copy, char *words[SOCKCTL_MAX_WORDS])
{
    size_t n = 0;
    char *s = copy;
    for (;;) {
        while (*s && sockctl_is_space(*s))
            s++;
        if (!*s)
            return n;
        if (n < SOCKCTL_MAX_WORDS)
            words[n] = s;
        n++;
        while (*s && !sockctl_is_space(*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
}

static const struct {
    const char *word;
    enum sockctl_kind kind;
} sockctl_kinds[] = {
    {"src", SOCKCTL_KIND_SOURCE},
    {"source", SOCKCTL_KIND_SOURCE},
    {"sources", SOCKCTL_KIND_SOURCE},
    {"tra", SOCKCTL_KIND_TRANSFORM},
    {"transform", SOCKCTL_KIND_TRANSFORM},
    {"transforms", SOCKCTL_KIND_TRANSFORM},
    {"out", SOCKCTL_KIND_OUTPUT},
    {"output", SOCKCTL_KIND_OUTPUT},
    {"outputs", SOCKCTL_KIND_OUTPUT},
    {"*", SOCKCTL_KIND_ANY},
    {"all", SOCKCTL_KIND_ANY},
    {"any", SOCKCTL_KIND_ANY},
};

static int sockctl_parse_kind(const char *w, enum sockctl_kind *ret, struct alumet_error *err)
{
    for (size_t i = 0; i < sizeof(sockctl_kinds) / sizeof(sockctl_kinds[0]); i++)
        if (strcmp(w, sockctl_kinds[i].word) == 0) {
            *ret = sockctl_kinds[i].kind;
            return 0;
        }
    return alumet_error_set(err, -EINVAL, "bad kind: '%s'", w);
}

/* `*`, `abc*`, `*abc` or `abc`: not empty, no asterisk elsewhere */
static bool sockctl_pattern_ok(const char *s)
{
    size_t l = strlen(s);
    if (l == 0)
        return false;
    if (l == 1)
        return true;
    const char *inner = memchr(s + 1, '*', l - 2);
    return !inner && !(s[0] == '*' && s[l - 1] == '*');
}

/* KIND or KIND/PLUGIN/NAME, into ret->kind and ret->pattern */
static int sockctl_parse_selector(const char *sel, struct sockctl_command *ret,
                                  struct alumet_error *err)
{
    static const char *const kind_words[] = {"*", "src", "tra", "out"};
    char copy[SOCKCTL_LINE_MAX + 1];
    snprintf(copy, sizeof(copy), "%s", sel);
    char *parts[3] = {copy, NULL, NULL};
    size_t n = 1;
    for (char *s = copy; (s = strchr(s, '/')); n++) {
        *s++ = '\0';
        if (n < 3)
            parts[n] = s;
    }
    if (n != 1 && n != 3)
        return alumet_error_set(err, -EINVAL,
                                "bad pattern, expected kind/plugin/element but got '%s'", sel);
    int r = sockctl_parse_kind(parts[0], &ret->kind, err);
    if (r < 0)
        return r;
    const char *plugin = n == 3 ? parts[1] : "*", *name = n == 3 ? parts[2] : "*";
    if (!sockctl_pattern_ok(plugin))
        return alumet_error_set(err, -EINVAL, "bad pattern: '%s'", plugin);
    if (!sockctl_pattern_ok(name))
        return alumet_error_set(err, -EINVAL, "bad pattern: '%s'", name);
    snprintf(ret->pattern, sizeof(ret->pattern), "%s/%s/%s", kind_words[ret->kind], plugin, name);
    return 0;
}

static const struct {
    const char *word;
    enum sockctl_action action;
} sockctl_actions[] = {
    {"pause", SOCKCTL_PAUSE},
    {"disable", SOCKCTL_PAUSE},
    {"resume", SOCKCTL_RESUME},
    {"enable", SOCKCTL_RESUME},
    {"stop", SOCKCTL_STOP},
    {"set-period", SOCKCTL_SET_PERIOD},
    {"set-poll-interval", SOCKCTL_SET_PERIOD},
    {"trigger-now", SOCKCTL_TRIGGER_NOW},
};

/* The action and its argument: words[0] is the action, n the number of words */
static bool sockctl_parse_action(char *const *words, size_t n, struct sockctl_command *ret)
{
    bool found = false;
    for (size_t i = 0; i < sizeof(sockctl_actions) / sizeof(sockctl_actions[0]); i++)
        if (strcmp(words[0], sockctl_actions[i].word) == 0) {
            ret->action = sockctl_actions[i].action;
            found = true;
        }
    if (!found)
        return false;
    switch (ret->action) {
    case SOCKCTL_PAUSE:
    case SOCKCTL_RESUME:
        return n == 1;
    case SOCKCTL_STOP:
        return n == 1 && (ret->kind == SOCKCTL_KIND_SOURCE || ret->kind == SOCKCTL_KIND_OUTPUT);
    case SOCKCTL_SET_PERIOD:
        return n == 2 && ret->kind == SOCKCTL_KIND_SOURCE &&
               alumet_duration_parse(words[1], &ret->period) == 0 && ret->period > 0;
    case SOCKCTL_TRIGGER_NOW:
        return n == 1 && ret->kind == SOCKCTL_KIND_SOURCE;
    }
    return false;
}

int sockctl_parse(const char *line, struct sockctl_command *ret, struct alumet_error *err)
{
    if (strlen(line) > SOCKCTL_LINE_MAX)
        return alumet_error_set(err, -EINVAL, "line too long (more than %d bytes)",
                                SOCKCTL_LINE_MAX);
    char copy[SOCKCTL_LINE_MAX + 1];
    snprintf(copy, sizeof(copy), "%s", line);
    char *words[SOCKCTL_MAX_WORDS];
    size_t n = sockctl_split(copy, words);
    struct sockctl_command c = {.verb = SOCKCTL_NOOP};
    if (n == 0) {
        /* upstream crashes on an empty line */
        *ret = c;
        return 0;
    }
    if (strcmp(words[0], "shutdown") == 0 || strcmp(words[0], "stop") == 0) {
        c.verb = SOCKCTL_SHUTDOWN;
    } else if (strcmp(words[0], "status") == 0) {
        c.verb = SOCKCTL_STATUS;
    } else if (strcmp(words[0], "control") == 0) {
        c.verb = SOCKCTL_CONTROL;
        if (n < 2)
            return alumet_error_set(err, -EINVAL,
                                    "invalid command 'control': missing argument 'selector'");
        int r = sockctl_parse_selector(words[1], &c, err);
        if (r < 0)
            return r;
        if (n < 3)
            return alumet_error_set(err, -EINVAL, "missing arguments after the selector");
        if (n > SOCKCTL_MAX_WORDS || !sockctl_parse_action(words + 2, n - 2, &c)) {
            /* the whole line, without its surrounding whitespace */
            const char *s = line;
            while (sockctl_is_space(*s))
                s++;
            size_t len = strlen(s);
            while (len && sockctl_is_space(s[len - 1]))
                len--;
            return alumet_error_set(err, -EINVAL, "invalid command '%.*s'", (int)len, s);
        }
    } else {
        return alumet_error_set(err, -EINVAL,
                                "unknown command '%s'; available commands are 'shutdown' or "
                                "'control'",
                                words[0]);
    }
    *ret = c;
    return 0;
}
