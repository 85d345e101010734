/* SPDX-License-Identifier: MIT */
/* The messages of the relay protocol (version 2), wire-compatible with
 * upstream's plugin_relay 0.6.0: a frame is a 4-byte big-endian body length
 * then a postcard body `sender: string, content: MessageEnum`. Variants 0-3
 * are upstream's; 4-6 are this agent's extensions (token and
 * acknowledgments), sent only when the client's options ask for them (see
 * README.md "Wire format"). Encoders append whole frames to a pc_writer;
 * decoders read a body. No logging. */
#ifndef ALUMET_RELAY_PROTO_H
#define ALUMET_RELAY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alumet/measurement.h"
#include "alumet/metric.h"
#include "postcard.h"

#define RELAY_PROTOCOL_VERSION 2u
#define RELAY_PLUGIN_VERSION "0.6.0"
/* Upstream's reader refuses longer bodies. */
#define RELAY_MAX_BODY 32000000u

enum relay_msg_kind {
    RELAY_MSG_GREET = 0,
    RELAY_MSG_GREET_RESPONSE = 1,
    RELAY_MSG_REGISTER_METRICS = 2,
    RELAY_MSG_SEND_MEASUREMENTS = 3,
    /* extensions: sent only when negotiated */
    RELAY_MSG_HELLO = 4,   /* client -> server, before Greet: token, acks wanted */
    RELAY_MSG_REFUSED = 5, /* server -> client, then close: the reason */
    RELAY_MSG_ACK = 6,     /* server -> client: messages taken since the Greet */
};

/* A string inside a body (not NUL-terminated). */
struct relay_str {
    const char *s;
    size_t len;
};

struct relay_greet {
    struct relay_str core_version, plugin_version;
    uint32_t protocol_version;
};

struct relay_greet_response {
    bool accept;
    struct relay_str core_version, plugin_version;
    uint32_t protocol_version;
};

struct relay_hello {
    struct relay_str token;
    bool acks;
};

/* Metric = id, name, value_type (0 F64, 1 U64), unit {base, prefix}. */
struct relay_metric {
    uint64_t id;
    struct relay_str name;
    uint32_t value_type;
    struct relay_str unit_base, unit_prefix;
};

enum relay_value_tag {
    RELAY_VALUE_F64 = 0,
    RELAY_VALUE_U64 = 1,
    RELAY_VALUE_BOOL = 2,
    RELAY_VALUE_STR = 3,
    RELAY_VALUE_LIST_U64 = 4,
};

/* TypedValue. A ListU64 is left in `list` (a reader over its items) to be
 * read with pc_get_varint list_len times. */
struct relay_value {
    uint32_t tag;
    double f64;
    uint64_t u64;
    bool b;
    struct relay_str str;
    size_t list_len;
    struct pc_reader list;
};

/* Point = metric_id, timestamp {secs, nanos}, value, resource kind and id,
 * consumer kind and id, then attr_count attributes (read them with
 * relay_decode_attr). */
struct relay_point {
    uint64_t metric_id, secs;
    uint32_t nanos;
    struct relay_value value;
    struct relay_str resource_kind, resource_id, consumer_kind, consumer_id;
    size_t attr_count;
};

/* ---- encoding (whole frames appended to w) ---- */

/* Reserve the 4-byte length of a frame: returns its offset for relay_frame_end. */
size_t relay_frame_begin(struct pc_writer *w);
/* Write the body length of the frame begun at start. -EMSGSIZE when the
 * body is over RELAY_MAX_BODY, -ENOMEM after an allocation failure. */
int relay_frame_end(struct pc_writer *w, size_t start);

int relay_encode_greet(struct pc_writer *w, const char *sender, const char *core_version,
                       const char *plugin_version, uint32_t protocol_version);
int relay_encode_greet_response(struct pc_writer *w, const char *sender, bool accept,
                                const char *core_version, const char *plugin_version,
                                uint32_t protocol_version);
int relay_encode_hello(struct pc_writer *w, const char *sender, const char *token, bool acks);
int relay_encode_refused(struct pc_writer *w, const char *sender, const char *reason);
int relay_encode_ack(struct pc_writer *w, const char *sender, uint64_t count);
/* RegisterMetrics of n metrics. */
int relay_encode_metrics(struct pc_writer *w, const char *sender, const struct relay_metric *m,
                         size_t n);
/* RegisterMetrics of the metrics [first, end) of reg. */
int relay_encode_registry(struct pc_writer *w, const char *sender,
                          const struct alumet_registry *reg, size_t first, size_t end);
/* The view of a registered metric (strings borrowed from it). Custom units
 * are sent as upstream does (their unique name, which no server parses). */
struct relay_metric relay_metric_of(const struct alumet_metric *m);

/* One Point (not a frame): the body of SendMeasurements is built by
 * appending points to a writer, then relay_encode_send. */
void relay_put_point(struct pc_writer *w, const struct alumet_buffer *buf,
                     const struct alumet_point *p);
/* SendMeasurements of count points already encoded in points[0..len). */
int relay_encode_send(struct pc_writer *w, const char *sender, size_t count, const void *points,
                      size_t len);

/* ---- decoding (a body, without its length) ---- */

int relay_decode_head(struct pc_reader *r, struct relay_str *ret_sender, uint32_t *ret_kind);
int relay_decode_greet(struct pc_reader *r, struct relay_greet *ret);
int relay_decode_greet_response(struct pc_reader *r, struct relay_greet_response *ret);
int relay_decode_hello(struct pc_reader *r, struct relay_hello *ret);
/* Number of elements of a RegisterMetrics or SendMeasurements. */
int relay_decode_count(struct pc_reader *r, size_t min_elem, size_t *ret);
int relay_decode_metric(struct pc_reader *r, struct relay_metric *ret);
int relay_decode_point(struct pc_reader *r, struct relay_point *ret);
int relay_decode_attr(struct pc_reader *r, struct relay_str *ret_key, struct relay_value *ret);
/* Fails with "trailing bytes" unless the whole body was read. */
int relay_decode_end(struct pc_reader *r);

/* Helpers. */
static inline bool relay_str_eq(struct relay_str a, const char *b)
{
    return a.len == strlen(b) && (a.len == 0 || memcmp(a.s, b, a.len) == 0);
}

/* Big-endian 32-bit length of a frame header. */
static inline uint32_t relay_be32(const uint8_t b[4])
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

#endif
