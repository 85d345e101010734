#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scraper of the prometheus-exporter scenario of bench/run-outputs.sh
(Python 3 standard library only).

Scrapes URL every --interval seconds (connection refused is retried: the
agent may not listen yet) until every --expect NAME=VALUE sample is seen with
that value, i.e. until the last point produced has gone through the output
into the exporter's table. Checks on the way that the values of those series
never go down (the points arrive in order). Writes a JSON result:
  {"scrapes": N, "bytes": B, "t_done_ns": CLOCK_REALTIME ns when the final
   values were seen, "values": {...}, "ok": true|false, "error": "..."}
and exits 0 when the final values were seen, 1 otherwise.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def parse_samples(text, names):
    """{name: float} for the samples of the given metric names (any labels)."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name_end = len(line)
        for i, c in enumerate(line):
            if c in "{ ":
                name_end = i
                break
        name = line[:name_end]
        if name in names:
            out[name] = float(line.rsplit(" ", 1)[1])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--expect", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--result", required=True)
    args = ap.parse_args()
    expect = {}
    for e in args.expect:
        k, v = e.split("=", 1)
        expect[k] = float(v)

    res = {"scrapes": 0, "bytes": 0, "t_done_ns": 0, "values": {}, "ok": False, "error": ""}
    last = {}
    deadline = time.monotonic() + args.timeout
    while True:
        if time.monotonic() > deadline:
            res["error"] = f"final values not seen after {args.timeout} s (last: {last})"
            break
        try:
            with urllib.request.urlopen(args.url, timeout=5) as r:
                body = r.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(args.interval)
            continue
        res["scrapes"] += 1
        res["bytes"] += len(body)
        now = parse_samples(body.decode("utf-8"), expect)
        for k, v in now.items():
            if k in last and v < last[k]:
                res["error"] = f"{k} went down: {last[k]} -> {v}"
        last.update(now)
        if res["error"]:
            break
        if all(last.get(k) == v for k, v in expect.items()):
            res["t_done_ns"] = time.time_ns()
            res["ok"] = True
            break
        time.sleep(args.interval)
    res["values"] = last
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(res, f)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
