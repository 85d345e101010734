/* SPDX-License-Identifier: MIT */
/* Encoding and decoding of the relay messages: see relay-proto.h and the
 * schema in README.md. */
#include "relay-proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alumet/resource.h"
#include "alumet/units.h"

static const char *const relay_base_unique[] = {
#define RELAY_X_BASE(id, unique, display) [ALUMET_UNIT_##id] = unique,
    ALUMET_BASE_UNITS(RELAY_X_BASE)
#undef RELAY_X_BASE
};

static const char *const relay_prefix_unique[] = {
#define RELAY_X_PREFIX(id, unique, display, exp) [ALUMET_PREFIX_##id] = unique,
    ALUMET_UNIT_PREFIXES(RELAY_X_PREFIX)
#undef RELAY_X_PREFIX
};

static struct relay_str relay_str_of(const char *s)
{
    struct relay_str r = {s ? s : "", s ? strlen(s) : 0};
    return r;
}

size_t relay_frame_begin(struct pc_writer *w)
{
    size_t start = w->len;
    if (pc_writer_reserve(w, 4))
        w->len += 4;
    return start;
}

int relay_frame_end(struct pc_writer *w, size_t start)
{
    if (w->oom)
        return -ENOMEM;
    size_t body = w->len - start - 4;
    if (body > RELAY_MAX_BODY)
        return -EMSGSIZE;
    uint8_t *h = w->data + start;
    h[0] = (uint8_t)(body >> 24);
    h[1] = (uint8_t)(body >> 16);
    h[2] = (uint8_t)(body >> 8);
    h[3] = (uint8_t)body;
    return 0;
}

static size_t relay_begin(struct pc_writer *w, const char *sender, enum relay_msg_kind kind)
{
    size_t start = relay_frame_begin(w);
    pc_put_cstr(w, sender);
    pc_put_varint(w, kind);
    return start;
}

int relay_encode_greet(struct pc_writer *w, const char *sender, const char *core_version,
                       const char *plugin_version, uint32_t protocol_version)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_GREET);
    pc_put_cstr(w, core_version);
    pc_put_cstr(w, plugin_version);
    pc_put_varint(w, protocol_version);
    return relay_frame_end(w, start);
}

int relay_encode_greet_response(struct pc_writer *w, const char *sender, bool accept,
                                const char *core_version, const char *plugin_version,
                                uint32_t protocol_version)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_GREET_RESPONSE);
    pc_put_bool(w, accept);
    pc_put_cstr(w, core_version);
    pc_put_cstr(w, plugin_version);
    pc_put_varint(w, protocol_version);
    return relay_frame_end(w, start);
}

int relay_encode_hello(struct pc_writer *w, const char *sender, const char *token, bool acks)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_HELLO);
    pc_put_cstr(w, token);
    pc_put_bool(w, acks);
    return relay_frame_end(w, start);
}

int relay_encode_refused(struct pc_writer *w, const char *sender, const char *reason)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_REFUSED);
    pc_put_cstr(w, reason);
    return relay_frame_end(w, start);
}

int relay_encode_ack(struct pc_writer *w, const char *sender, uint64_t count)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_ACK);
    pc_put_varint(w, count);
    return relay_frame_end(w, start);
}

static void relay_put_metric(struct pc_writer *w, const struct relay_metric *m)
{
    pc_put_varint(w, m->id);
    pc_put_str(w, m->name.s, m->name.len);
    pc_put_varint(w, m->value_type);
    pc_put_str(w, m->unit_base.s, m->unit_base.len);
    pc_put_str(w, m->unit_prefix.s, m->unit_prefix.len);
}

int relay_encode_metrics(struct pc_writer *w, const char *sender, const struct relay_metric *m,
                         size_t n)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_REGISTER_METRICS);
    pc_put_varint(w, n);
    for (size_t i = 0; i < n; i++)
        relay_put_metric(w, &m[i]);
    return relay_frame_end(w, start);
}

struct relay_metric relay_metric_of(const struct alumet_metric *m)
{
    struct relay_metric r = {0};
    r.id = m->id;
    r.name = relay_str_of(m->name);
    r.value_type = m->value_type == ALUMET_VALUE_F64 ? 0 : 1;
    if (m->unit.base == ALUMET_UNIT_CUSTOM)
        r.unit_base = relay_str_of(m->unit.custom_unique);
    else if (m->unit.base >= 0 && m->unit.base < ALUMET_UNIT_CUSTOM)
        r.unit_base = relay_str_of(relay_base_unique[m->unit.base]);
    else
        r.unit_base = relay_str_of("1");
    if (m->unit.prefix >= 0 && m->unit.prefix < _ALUMET_PREFIX_MAX)
        r.unit_prefix = relay_str_of(relay_prefix_unique[m->unit.prefix]);
    else
        r.unit_prefix = relay_str_of("");
    return r;
}

int relay_encode_registry(struct pc_writer *w, const char *sender,
                          const struct alumet_registry *reg, size_t first, size_t end)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_REGISTER_METRICS);
    size_t n = 0;
    for (size_t i = first; i < end; i++)
        n += alumet_registry_get(reg, (alumet_metric_id)i) != NULL;
    pc_put_varint(w, n);
    for (size_t i = first; i < end; i++) {
        const struct alumet_metric *m = alumet_registry_get(reg, (alumet_metric_id)i);
        if (m) {
            struct relay_metric rm = relay_metric_of(m);
            relay_put_metric(w, &rm);
        }
    }
    return relay_frame_end(w, start);
}

/* The id text of a resource or consumer, written straight into w. */
static void relay_put_id(struct pc_writer *w, const struct alumet_resource *r,
                         const struct alumet_consumer *c)
{
    char small[128];
    size_t n = r ? alumet_resource_id_text(r, small, sizeof(small))
                 : alumet_consumer_id_text(c, small, sizeof(small));
    if (n < sizeof(small)) {
        pc_put_str(w, small, n);
        return;
    }
    char *big = malloc(n + 1);
    if (!big) {
        w->oom = true;
        return;
    }
    if (r)
        alumet_resource_id_text(r, big, n + 1);
    else
        alumet_consumer_id_text(c, big, n + 1);
    pc_put_str(w, big, n);
    free(big);
}

static void relay_put_attr(struct pc_writer *w, const struct alumet_attr *a)
{
    pc_put_cstr(w, a->key);
    switch (a->type) {
    case ALUMET_ATTR_F64:
        pc_put_varint(w, RELAY_VALUE_F64);
        pc_put_f64(w, a->v.f64);
        break;
    case ALUMET_ATTR_U64:
        pc_put_varint(w, RELAY_VALUE_U64);
        pc_put_varint(w, a->v.u64);
        break;
    case ALUMET_ATTR_BOOL:
        pc_put_varint(w, RELAY_VALUE_BOOL);
        pc_put_bool(w, a->v.b);
        break;
    case ALUMET_ATTR_STR:
        pc_put_varint(w, RELAY_VALUE_STR);
        pc_put_cstr(w, a->v.str);
        break;
    case ALUMET_ATTR_LIST_U64:
        pc_put_varint(w, RELAY_VALUE_LIST_U64);
        pc_put_varint(w, a->v.list.len);
        for (size_t i = 0; i < a->v.list.len; i++)
            pc_put_varint(w, a->v.list.items[i]);
        break;
    }
}

void relay_put_point(struct pc_writer *w, const struct alumet_buffer *buf,
                     const struct alumet_point *p)
{
    pc_put_varint(w, p->metric);
    alumet_time_ns ts = p->timestamp > 0 ? p->timestamp : 0;
    pc_put_varint(w, (uint64_t)(ts / ALUMET_NSEC_PER_SEC));
    pc_put_varint(w, (uint64_t)(ts % ALUMET_NSEC_PER_SEC));
    if (p->value_type == ALUMET_VALUE_F64) {
        pc_put_varint(w, RELAY_VALUE_F64);
        pc_put_f64(w, p->value.f64);
    } else {
        pc_put_varint(w, RELAY_VALUE_U64);
        pc_put_varint(w, p->value.u64);
    }
    pc_put_cstr(w, alumet_resource_kind_name(&p->resource));
    relay_put_id(w, &p->resource, NULL);
    pc_put_cstr(w, alumet_consumer_kind_name(&p->consumer));
    relay_put_id(w, NULL, &p->consumer);
    const struct alumet_attr *attrs = alumet_point_attrs(buf, p);
    pc_put_varint(w, p->attr_count);
    for (uint32_t i = 0; i < p->attr_count; i++)
        relay_put_attr(w, &attrs[i]);
}

int relay_encode_send(struct pc_writer *w, const char *sender, size_t count, const void *points,
                      size_t len)
{
    size_t start = relay_begin(w, sender, RELAY_MSG_SEND_MEASUREMENTS);
    pc_put_varint(w, count);
    pc_put_bytes(w, points, len);
    return relay_frame_end(w, start);
}

/* ---- decoding ---- */

static int relay_get_str(struct pc_reader *r, struct relay_str *ret)
{
    return pc_get_str(r, &ret->s, &ret->len);
}

int relay_decode_head(struct pc_reader *r, struct relay_str *ret_sender, uint32_t *ret_kind)
{
    int e = relay_get_str(r, ret_sender);
    if (e == 0)
        e = pc_get_varint32(r, ret_kind);
    if (e == 0 && *ret_kind > RELAY_MSG_ACK)
        e = pc_fail(r, "unknown message variant");
    return e;
}

int relay_decode_greet(struct pc_reader *r, struct relay_greet *ret)
{
    int e = relay_get_str(r, &ret->core_version);
    if (e == 0)
        e = relay_get_str(r, &ret->plugin_version);
    if (e == 0)
        e = pc_get_varint32(r, &ret->protocol_version);
    return e;
}

int relay_decode_greet_response(struct pc_reader *r, struct relay_greet_response *ret)
{
    int e = pc_get_bool(r, &ret->accept);
    if (e == 0)
        e = relay_get_str(r, &ret->core_version);
    if (e == 0)
        e = relay_get_str(r, &ret->plugin_version);
    if (e == 0)
        e = pc_get_varint32(r, &ret->protocol_version);
    return e;
}

int relay_decode_hello(struct pc_reader *r, struct relay_hello *ret)
{
    int e = relay_get_str(r, &ret->token);
    if (e == 0)
        e = pc_get_bool(r, &ret->acks);
    return e;
}

int relay_decode_count(struct pc_reader *r, size_t min_elem, size_t *ret)
{
    return pc_get_seq_len(r, min_elem, ret);
}

int relay_decode_metric(struct pc_reader *r, struct relay_metric *ret)
{
    int e = pc_get_varint(r, &ret->id);
    if (e == 0)
        e = relay_get_str(r, &ret->name);
    if (e == 0)
        e = pc_get_varint32(r, &ret->value_type);
    if (e == 0 && ret->value_type > 1)
        e = pc_fail(r, "unknown value type variant");
    if (e == 0)
        e = relay_get_str(r, &ret->unit_base);
    if (e == 0)
        e = relay_get_str(r, &ret->unit_prefix);
    return e;
}

static int relay_decode_value(struct pc_reader *r, struct relay_value *v)
{
    int e = pc_get_varint32(r, &v->tag);
    if (e < 0)
        return e;
    switch (v->tag) {
    case RELAY_VALUE_F64:
        return pc_get_f64(r, &v->f64);
    case RELAY_VALUE_U64:
        return pc_get_varint(r, &v->u64);
    case RELAY_VALUE_BOOL:
        return pc_get_bool(r, &v->b);
    case RELAY_VALUE_STR:
        return relay_get_str(r, &v->str);
    case RELAY_VALUE_LIST_U64: {
        e = pc_get_seq_len(r, 1, &v->list_len);
        if (e < 0)
            return e;
        size_t from = r->pos;
        uint64_t item;
        for (size_t i = 0; i < v->list_len && e == 0; i++)
            e = pc_get_varint(r, &item);
        v->list = pc_reader_of(r->p + from, r->pos - from);
        return e;
    }
    default:
        return pc_fail(r, "unknown value variant");
    }
}

int relay_decode_point(struct pc_reader *r, struct relay_point *ret)
{
    int e = pc_get_varint(r, &ret->metric_id);
    if (e == 0)
        e = pc_get_varint(r, &ret->secs);
    if (e == 0)
        e = pc_get_varint32(r, &ret->nanos);
    if (e == 0)
        e = relay_decode_value(r, &ret->value);
    if (e == 0)
        e = relay_get_str(r, &ret->resource_kind);
    if (e == 0)
        e = relay_get_str(r, &ret->resource_id);
    if (e == 0)
        e = relay_get_str(r, &ret->consumer_kind);
    if (e == 0)
        e = relay_get_str(r, &ret->consumer_id);
    /* an attribute takes at least 3 bytes: key length, tag, value */
    if (e == 0)
        e = pc_get_seq_len(r, 3, &ret->attr_count);
    return e;
}

int relay_decode_attr(struct pc_reader *r, struct relay_str *ret_key, struct relay_value *ret)
{
    int e = relay_get_str(r, ret_key);
    if (e == 0)
        e = relay_decode_value(r, ret);
    return e;
}

int relay_decode_end(struct pc_reader *r)
{
    return pc_remaining(r) ? pc_fail(r, "trailing bytes after the message") : 0;
}
