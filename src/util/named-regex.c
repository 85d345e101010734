/* SPDX-License-Identifier: MIT */
/* Named, typed capture groups over POSIX ERE: see named-regex.h. */
#include "named-regex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The translated pattern: never longer than 3 bytes per byte of the
 * original ("\\d" becomes "[0-9]"). */
struct named_regex_out {
    char *p;
    size_t len;
};

static int out_add(struct named_regex_out *o, const char *s, size_t n)
{
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
    return 0;
}

/* The type of a group name "job_id:u64" / "job_id__u64" / "user"; the name
 * part is [name, name + *len). -1: an unknown suffix. */
static int named_regex_type_of(const char *name, size_t n, size_t *len)
{
    static const struct {
        const char *suffix;
        enum named_regex_type type;
    } types[] = {{":u64", NAMED_REGEX_U64},   {"__u64", NAMED_REGEX_U64},
                 {"__uint", NAMED_REGEX_U64}, {":str", NAMED_REGEX_STR},
                 {"__str", NAMED_REGEX_STR},  {"__string", NAMED_REGEX_STR},
                 {":string", NAMED_REGEX_STR}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t k = strlen(types[i].suffix);
        if (n > k && memcmp(name + n - k, types[i].suffix, k) == 0) {
            *len = n - k;
            return (int)types[i].type;
        }
    }
    const char *colon = memchr(name, ':', n);
    /* "__" followed by something else: upstream's configuration error */
    for (size_t i = 0; i + 2 < n; i++)
        if (name[i] == '_' && name[i + 1] == '_' && name[i + 2] != '_' && i > 0)
            return -1;
    if (colon)
        return -1;
    *len = n;
    return NAMED_REGEX_STR;
}

static int named_regex_add(struct named_regex *re, const char *name, size_t len,
                           enum named_regex_type type)
{
    struct named_regex_group *g = reallocarray(re->groups, re->n_groups + 1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    re->groups = g;
    g[re->n_groups] = (struct named_regex_group){strndup(name, len), type, re->n_subexp};
    if (!g[re->n_groups].name)
        return -ENOMEM;
    re->n_groups++;
    return 0;
}

int named_regex_compile(struct named_regex *re, const char *pattern, char *msg, size_t msg_size)
{
    struct named_regex_out out = {malloc(strlen(pattern) * 3 + 1), 0};
    bool in_class = false;
    int r = 0;

    memset(re, 0, sizeof(*re));
    if (!out.p) {
        snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
    }
    out.p[0] = '\0';
    for (const char *p = pattern; *p && r == 0; p++) {
        if (*p == '\\' && p[1]) {
            if (!in_class && p[1] == 'd')
                r = out_add(&out, "[0-9]", 5);
            else
                r = out_add(&out, p, 2);
            p++;
        } else if (in_class) {
            if (*p == ']')
                in_class = false;
            r = out_add(&out, p, 1);
        } else if (*p == '[') {
            in_class = true;
            r = out_add(&out, p, 1);
            /* "[]" and "[^]" start with a literal ']' */
            if (p[1] == '^')
                r = r ? r : out_add(&out, ++p, 1);
            if (p[1] == ']')
                r = r ? r : out_add(&out, ++p, 1);
        } else if (*p == '(') {
            re->n_subexp++;
            if (p[1] == '?' && p[2] == ':') {
                p += 2;
            } else if (p[1] == '?' && (p[2] == '<' || (p[2] == 'P' && p[3] == '<'))) {
                const char *name = p + (p[2] == '<' ? 3 : 4);
                const char *end = strchr(name, '>');
                size_t len;
                int type = end ? named_regex_type_of(name, (size_t)(end - name), &len) : -1;
                if (!end || end == name || type < 0) {
                    snprintf(msg, msg_size,
                             "invalid group name in regex '%s' at '%.20s': expected "
                             "(?<name>...), (?<name__u64>...) or (?<name__str>...)",
                             pattern, p);
                    r = -EINVAL;
                    break;
                }
                r = named_regex_add(re, name, len, (enum named_regex_type)type);
                p = end;
            } else if (p[1] == '?') {
                snprintf(msg, msg_size, "unsupported group '%.4s' in regex '%s'", p, pattern);
                r = -EINVAL;
                break;
            }
            r = r ? r : out_add(&out, "(", 1);
        } else {
            r = out_add(&out, p, 1);
        }
    }
    if (r == 0) {
        int k = regcomp(&re->re, out.p, REG_EXTENDED);
        if (k == REG_ESPACE) {
            r = -ENOMEM;
        } else if (k != 0) {
            char what[128];
            regerror(k, &re->re, what, sizeof(what));
            snprintf(msg, msg_size, "invalid regex '%s': %s", pattern, what);
            r = -EINVAL;
        } else {
            re->compiled = true;
        }
    }
    free(out.p);
    if (r < 0)
        named_regex_done(re);
    if (r == -ENOMEM)
        snprintf(msg, msg_size, "out of memory");
    return r;
}

int named_regex_match(const struct named_regex *re, const char *text,
                      struct named_regex_capture *caps, size_t *bad_group)
{
    regmatch_t m[re->n_subexp + 1];
    if (regexec(&re->re, text, re->n_subexp + 1, m, 0) != 0)
        return 0;
    for (size_t i = 0; i < re->n_groups; i++) {
        const regmatch_t *g = &m[re->groups[i].subexp];
        struct named_regex_capture *c = &caps[i];
        *c = (struct named_regex_capture){g->rm_so >= 0, NULL, 0, 0};
        if (!c->present)
            continue;
        c->start = text + g->rm_so;
        c->len = (size_t)(g->rm_eo - g->rm_so);
        if (re->groups[i].type != NAMED_REGEX_U64)
            continue;
        uint64_t v = 0;
        bool ok = c->len > 0 && c->len <= 20;
        for (size_t k = 0; ok && k < c->len; k++) {
            unsigned d = (unsigned)(c->start[k] - '0');
            ok = d <= 9 && v <= (UINT64_MAX - d) / 10;
            v = v * 10 + d;
        }
        if (!ok) {
            if (bad_group)
                *bad_group = i;
            return -ERANGE;
        }
        c->u64 = v;
    }
    return 1;
}

void named_regex_done(struct named_regex *re)
{
    if (re->compiled)
        regfree(&re->re);
    for (size_t i = 0; i < re->n_groups; i++)
        free(re->groups[i].name);
    free(re->groups);
    memset(re, 0, sizeof(*re));
}
