# SPDX-License-Identifier: MIT
"""Helpers of the influxdb plugin's integration tests (Python 3 standard
library only): parse the InfluxDB line protocol independently of the
plugin's own code. Running the agent: tests/e2e/e2e_http.py.
"""


# ---- line protocol, parsed the way InfluxDB reads it ----

def _split_unescaped(text, sep, allow_quotes=False):
    """Split text at every sep not preceded by a backslash (and, for
    fields, not inside a double-quoted string)."""
    parts, cur, i, quoted = [], [], 0, False
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if allow_quotes and c == '"':
            quoted = not quoted
        if c == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text, chars):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in chars:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_field_value(v):
    """(type, value): 'u', 'i', 'f', 'b' or 's'."""
    if v.startswith('"'):
        if not v.endswith('"') or len(v) < 2:
            raise ValueError(f"bad string field {v!r}")
        return ("s", _unescape(v[1:-1], '"\\'))
    if v in ("T", "t", "true", "True", "TRUE"):
        return ("b", True)
    if v in ("F", "f", "false", "False", "FALSE"):
        return ("b", False)
    if v.endswith("u"):
        n = int(v[:-1])
        if not 0 <= n < 2**64:
            raise ValueError(f"unsigned out of range {v!r}")
        return ("u", n)
    if v.endswith("i"):
        n = int(v[:-1])
        if not -2**63 <= n < 2**63:
            raise ValueError(f"integer out of range {v!r}")
        return ("i", n)
    return ("f", float(v))


def parse_line(line):
    """measurement, [(tag, value)], [(field, (type, value))], timestamp."""
    sections = _split_unescaped(line, " ", allow_quotes=True)
    if len(sections) != 3:
        raise ValueError(f"expected 'series fields timestamp': {line!r}")
    series, fields, ts = sections
    head = _split_unescaped(series, ",")
    measurement = _unescape(head[0], ", ")
    tags = []
    for t in head[1:]:
        kv = _split_unescaped(t, "=")
        if len(kv) != 2 or not kv[0] or not kv[1]:
            raise ValueError(f"bad tag {t!r} in {line!r}")
        tags.append((_unescape(kv[0], ",= "), _unescape(kv[1], ",= ")))
    fl = []
    for fv in _split_unescaped(fields, ",", allow_quotes=True):
        kv = _split_unescaped(fv, "=", allow_quotes=True)
        if len(kv) != 2 or not kv[0]:
            raise ValueError(f"bad field {fv!r} in {line!r}")
        fl.append((_unescape(kv[0], ",= "), parse_field_value(kv[1])))
    return measurement, tags, fl, int(ts)
