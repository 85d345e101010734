# SPDX-License-Identifier: MIT
"""Helpers of the opentelemetry plugin's integration tests (Python 3
standard library only): a strict protobuf decoder for OTLP metrics requests,
written from the .proto definitions independently of the plugin's code
(unknown fields and wrong wire types are errors), and the encoder of the
collector's answers. Running the agent: tests/e2e/e2e_http.py.
"""

import struct


# ---- protobuf wire format ----

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class DecodeError(ValueError):
    pass


def read_varint(data, at):
    value, shift = 0, 0
    while True:
        if at >= len(data):
            raise DecodeError("truncated varint")
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, at
        shift += 7
        if shift >= 64:
            raise DecodeError("varint too long")


def fields(data):
    """(field number, wire type, raw value) of every field of a message."""
    at = 0
    while at < len(data):
        key, at = read_varint(data, at)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        if wt == VARINT:
            v, at = read_varint(data, at)
        elif wt == I64:
            if at + 8 > len(data):
                raise DecodeError("truncated fixed64")
            v, at = data[at:at + 8], at + 8
        elif wt == LEN:
            n, at = read_varint(data, at)
            if at + n > len(data):
                raise DecodeError("truncated length-delimited field")
            v, at = data[at:at + n], at + n
        elif wt == I32:
            if at + 4 > len(data):
                raise DecodeError("truncated fixed32")
            v, at = data[at:at + 4], at + 4
        else:
            raise DecodeError(f"wire type {wt}")
        yield num, wt, v


# A schema: {field number: (name, kind, repeated)}; kind is a scalar type
# name or another schema (a message). Written from the vendored .proto files.
def _msg(**spec):
    return {num: (name, kind, rep) for name, (num, kind, rep) in spec.items()}


ANY_VALUE = {}
KEY_VALUE = _msg(key=(1, "string", False), value=(2, ANY_VALUE, False))
ARRAY_VALUE = _msg(values=(1, ANY_VALUE, True))
KV_LIST = _msg(values=(1, KEY_VALUE, True))
ANY_VALUE.update(_msg(string_value=(1, "string", False), bool_value=(2, "bool", False),
                      int_value=(3, "int64", False), double_value=(4, "double", False),
                      array_value=(5, ARRAY_VALUE, False), kvlist_value=(6, KV_LIST, False),
                      bytes_value=(7, "bytes", False)))
SCOPE = _msg(name=(1, "string", False), version=(2, "string", False),
             attributes=(3, KEY_VALUE, True), dropped_attributes_count=(4, "uint32", False))
RESOURCE = _msg(attributes=(1, KEY_VALUE, True), dropped_attributes_count=(2, "uint32", False))
EXEMPLAR = _msg(filtered_attributes=(7, KEY_VALUE, True), time_unix_nano=(2, "fixed64", False),
                as_double=(3, "double", False), as_int=(6, "sfixed64", False),
                span_id=(4, "bytes", False), trace_id=(5, "bytes", False))
NUMBER_DATA_POINT = _msg(attributes=(7, KEY_VALUE, True),
                         start_time_unix_nano=(2, "fixed64", False),
                         time_unix_nano=(3, "fixed64", False), as_double=(4, "double", False),
                         as_int=(6, "sfixed64", False), exemplars=(5, EXEMPLAR, True),
                         flags=(8, "uint32", False))
GAUGE = _msg(data_points=(1, NUMBER_DATA_POINT, True))
SUM = _msg(data_points=(1, NUMBER_DATA_POINT, True), aggregation_temporality=(2, "enum", False),
           is_monotonic=(3, "bool", False))
METRIC = _msg(name=(1, "string", False), description=(2, "string", False),
              unit=(3, "string", False), gauge=(5, GAUGE, False), sum=(7, SUM, False),
              metadata=(12, KEY_VALUE, True))
SCOPE_METRICS = _msg(scope=(1, SCOPE, False), metrics=(2, METRIC, True),
                     schema_url=(3, "string", False))
RESOURCE_METRICS = _msg(resource=(1, RESOURCE, False), scope_metrics=(2, SCOPE_METRICS, True),
                        schema_url=(3, "string", False))
EXPORT_REQUEST = _msg(resource_metrics=(1, RESOURCE_METRICS, True))

_WIRE = {"string": LEN, "bytes": LEN, "bool": VARINT, "int64": VARINT, "uint32": VARINT,
         "enum": VARINT, "double": I64, "fixed64": I64, "sfixed64": I64}


def decode(data, schema=EXPORT_REQUEST):
    """A message as a dict: only the fields present (proto3 drops default
    values); repeated fields are lists."""
    out = {}
    for num, wt, raw in fields(data):
        if num not in schema:
            raise DecodeError(f"unknown field {num}")
        name, kind, repeated = schema[num]
        if isinstance(kind, dict):
            if wt != LEN:
                raise DecodeError(f"{name}: wire type {wt} for a message")
            value = decode(raw, kind)
        else:
            if wt != _WIRE[kind]:
                raise DecodeError(f"{name}: wire type {wt} for a {kind}")
            if kind == "string":
                value = raw.decode("utf-8")
            elif kind == "bytes":
                value = bytes(raw)
            elif kind == "bool":
                value = bool(raw)
            elif kind in ("uint32", "enum"):
                value = raw
            elif kind == "int64":
                value = raw - (1 << 64) if raw >= 1 << 63 else raw
            elif kind == "double":
                value = struct.unpack("<d", raw)[0]
            elif kind == "fixed64":
                value = struct.unpack("<Q", raw)[0]
            else:
                value = struct.unpack("<q", raw)[0]
        if repeated:
            out.setdefault(name, []).append(value)
        elif name in out:
            raise DecodeError(f"{name} repeated")
        else:
            out[name] = value
    return out


def encode_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_field(num, wt, payload):
    key = encode_varint(num << 3 | wt)
    if wt == LEN:
        return key + encode_varint(len(payload)) + payload
    return key + payload


def export_response(rejected=0, message=""):
    """ExportMetricsServiceResponse { partial_success { ... } }."""
    ps = b""
    if rejected:
        ps += encode_field(1, VARINT, encode_varint(rejected))
    if message:
        ps += encode_field(2, LEN, message.encode())
    return encode_field(1, LEN, ps) if ps else b""


def rpc_status(code, message):
    """google.rpc.Status { code, message }, the body of OTLP/HTTP errors."""
    return encode_field(1, VARINT, encode_varint(code)) + encode_field(2, LEN, message.encode())
