/* SPDX-License-Identifier: MIT */
/* postcard: the compact, non self-describing serde format of the upstream
 * relay (https://postcard.jamesmunns.com/wire-format). Only what the relay
 * schema needs: unsigned LEB128 varints, zigzag for signed integers, bool,
 * f64 (8 bytes little-endian), strings and byte sequences (varint length +
 * bytes), options (0 = None, 1 + value = Some) and enum discriminants
 * (varints). Structs and tuples are their fields in order.
 *
 * The writer grows a heap buffer; after an allocation failure it keeps
 * failing (pc_writer.oom) so that a message is checked once at its end. The
 * reader never reads past its input: every getter returns 0 or -EBADMSG
 * (truncated input, overlong varint, bad bool, invalid UTF-8) and then sets
 * pc_reader.err with what failed. No logging. */
#ifndef ALUMET_RELAY_POSTCARD_H
#define ALUMET_RELAY_POSTCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pc_writer {
    uint8_t *data; /* owned, freed by pc_writer_done */
    size_t len, cap;
    bool oom;
};

#define PC_WRITER_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

void pc_writer_done(struct pc_writer *w);
/* Forget the content, keep the allocation. */
void pc_writer_clear(struct pc_writer *w);
/* Make room for n more bytes: a pointer to them (len not moved), NULL on -ENOMEM. */
uint8_t *pc_writer_reserve(struct pc_writer *w, size_t n);
void pc_put_bytes(struct pc_writer *w, const void *bytes, size_t n);
void pc_put_u8(struct pc_writer *w, uint8_t v);
void pc_put_bool(struct pc_writer *w, bool v);
/* u16, u32, u64, usize, lengths and enum discriminants. */
void pc_put_varint(struct pc_writer *w, uint64_t v);
/* i16, i32, i64 (zigzag then varint). */
void pc_put_zigzag(struct pc_writer *w, int64_t v);
void pc_put_f64(struct pc_writer *w, double v);
/* A string of len bytes (borrowed); NULL is the empty string. */
void pc_put_str(struct pc_writer *w, const char *s, size_t len);
void pc_put_cstr(struct pc_writer *w, const char *s);
/* Option tag: then, when present, the value. */
void pc_put_option(struct pc_writer *w, bool present);
/* Bytes needed by the varint of v (1 to 10). */
size_t pc_varint_len(uint64_t v);
/* 0, or -ENOMEM when an allocation failed since the last clear. */
int pc_writer_status(const struct pc_writer *w);

struct pc_reader {
    const uint8_t *p; /* borrowed input */
    size_t len, pos;
    const char *err; /* static text of the first failure, NULL when none */
};

static inline struct pc_reader pc_reader_of(const void *p, size_t len)
{
    struct pc_reader r = {(const uint8_t *)p, len, 0, NULL};
    return r;
}

static inline size_t pc_remaining(const struct pc_reader *r)
{
    return r->len - r->pos;
}

int pc_get_u8(struct pc_reader *r, uint8_t *ret);
int pc_get_bool(struct pc_reader *r, bool *ret);
/* A varint of at most 10 bytes that fits in 64 bits. */
int pc_get_varint(struct pc_reader *r, uint64_t *ret);
/* A varint of at most 5 bytes that fits in 32 bits (u32, enum discriminants). */
int pc_get_varint32(struct pc_reader *r, uint32_t *ret);
int pc_get_zigzag(struct pc_reader *r, int64_t *ret);
int pc_get_f64(struct pc_reader *r, double *ret);
/* A UTF-8 string: *ret points into the input (not NUL-terminated). */
int pc_get_str(struct pc_reader *r, const char **ret, size_t *ret_len);
/* n raw bytes: *ret points into the input. */
int pc_get_bytes(struct pc_reader *r, size_t n, const uint8_t **ret);
int pc_get_option(struct pc_reader *r, bool *ret_present);
/* A sequence length that cannot exceed what is left when each element takes
 * at least min_elem bytes (so a corrupt count cannot make the caller
 * allocate gigabytes). */
int pc_get_seq_len(struct pc_reader *r, size_t min_elem, size_t *ret);
/* Record a failure (what: static text); returns -EBADMSG. */
int pc_fail(struct pc_reader *r, const char *what);

#endif
