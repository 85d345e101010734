/* SPDX-License-Identifier: MIT */
/* POSIX extended regular expressions (regex.h) with named, typed capture
 * groups, as the cgroup plugins of upstream Alumet write them to turn a
 * cgroup path into attributes:
 *
 *   (?<name>...)  (?<name:str>...)  (?<name__str>...)  (?<name__string>...)
 *                                     a string capture named "name"
 *   (?<name:u64>...)  (?<name__u64>...)  (?<name__uint>...)
 *                                     a capture that must be an unsigned
 *                                     64-bit decimal number
 *
 * Also accepted: (?P<name>...), (?:...) (a plain group) and \d (a digit).
 * Everything else is POSIX ERE. Matching is unanchored, like upstream's.
 *
 *     struct named_regex re;
 *     r = named_regex_compile(&re, "/job_(?<job_id:u64>[0-9]+)", msg, sizeof(msg));
 *     struct named_regex_capture caps[re.n_groups];
 *     r = named_regex_match(&re, "/slurm/job_5", caps);   (1: matched)
 *     named_regex_done(&re);
 *
 * No logging; 0/1 or a negative errno. */
#ifndef ALUMET_UTIL_NAMED_REGEX_H
#define ALUMET_UTIL_NAMED_REGEX_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum named_regex_type {
    NAMED_REGEX_STR,
    NAMED_REGEX_U64,
};

struct named_regex_group {
    char *name; /* owned */
    enum named_regex_type type;
    size_t subexp; /* index of the POSIX subexpression */
};

struct named_regex {
    regex_t re;
    bool compiled;
    struct named_regex_group *groups; /* owned, in the order of the pattern */
    size_t n_groups;
    size_t n_subexp; /* every group, named or not */
};

/* One named group after a match. */
struct named_regex_capture {
    bool present;      /* the group took part in the match */
    const char *start; /* into the matched text (borrowed), len bytes */
    size_t len;
    uint64_t u64; /* the number, for NAMED_REGEX_U64 */
};

/* Compile pattern. 0; -EINVAL with a message in msg (an unknown type
 * suffix, an unterminated group name, what regcomp says); -ENOMEM. re is
 * left zeroed on failure. */
int named_regex_compile(struct named_regex *re, const char *pattern, char *msg, size_t msg_size);

/* Match text (unanchored) and fill caps[0..n_groups). 1: matched; 0: no
 * match; -ERANGE: a u64 group captured something that is not a number that
 * fits (its index in *bad_group when not NULL). */
int named_regex_match(const struct named_regex *re, const char *text,
                      struct named_regex_capture *caps, size_t *bad_group);

void named_regex_done(struct named_regex *re);

#endif
