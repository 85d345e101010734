#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A minimal OTLP/HTTP metrics sink for bench/run-outputs.sh (Python 3
standard library only).

POST /v1/metrics: reads the body, answers 200 with an empty
ExportMetricsServiceResponse (keep-alive, HTTP/1.1), then counts the request,
its bytes and its NumberDataPoints (walking the protobuf wire format down to
Gauge.data_points / Sum.data_points, without decoding the points).
GET /stats: those totals as JSON.

Usage: otlp_sink.py [--host 127.0.0.1] [--port 0] [--port-file FILE] [--no-count]
The port it listens on is written to --port-file (or printed) once it is ready.
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

STATS = {"requests": 0, "empty_requests": 0, "bytes": 0, "points": 0, "errors": 0}
COUNT_POINTS = True


def _varint(buf, at):
    b = buf[at]
    if b < 0x80:
        return b, at + 1
    value, shift = 0, 0
    while True:
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, at
        shift += 7


def _submessages(buf, start, end, wanted):
    """(start, end) of every length-delimited field numbered `wanted` in the
    message buf[start:end]; other fields are skipped."""
    at = start
    while at < end:
        key, at = _varint(buf, at)
        wt = key & 7
        if wt == 0:
            _, at = _varint(buf, at)
        elif wt == 1:
            at += 8
        elif wt == 5:
            at += 4
        elif wt == 2:
            n, at = _varint(buf, at)
            if key >> 3 == wanted:
                yield at, at + n
            at += n
        else:
            raise ValueError(f"wire type {wt}")
    if at != end:
        raise ValueError("truncated message")


def _count_fields(buf, start, end, wanted):
    """Number of fields numbered `wanted` (length-delimited) in buf[start:end]."""
    n = 0
    for _ in _submessages(buf, start, end, wanted):
        n += 1
    return n


def count_points(body):
    """NumberDataPoints of an ExportMetricsServiceRequest."""
    buf = memoryview(body)
    total = 0
    # ExportMetricsServiceRequest.resource_metrics = 1
    for rs, re in _submessages(buf, 0, len(buf), 1):
        # ResourceMetrics.scope_metrics = 2
        for ss, se in _submessages(buf, rs, re, 2):
            # ScopeMetrics.metrics = 2
            for ms, me in _submessages(buf, ss, se, 2):
                # Metric.gauge = 5, Metric.sum = 7; both: data_points = 1
                at = ms
                while at < me:
                    key, at = _varint(buf, at)
                    wt = key & 7
                    if wt == 2:
                        n, at = _varint(buf, at)
                        if key >> 3 in (5, 7):
                            total += _count_fields(buf, at, at + n, 1)
                        at += n
                    elif wt == 0:
                        _, at = _varint(buf, at)
                    elif wt == 1:
                        at += 8
                    elif wt == 5:
                        at += 4
                    else:
                        raise ValueError(f"wire type {wt}")
    return total


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()
        # counted after the answer, so the agent does not wait for it
        STATS["requests"] += 1
        STATS["bytes"] += len(body)
        if not body:
            STATS["empty_requests"] += 1
        if COUNT_POINTS and body and self.path == "/v1/metrics":
            try:
                STATS["points"] += count_points(body)
            except (ValueError, IndexError):
                STATS["errors"] += 1

    def do_GET(self):
        if self.path != "/stats":
            self.send_error(404)
            return
        data = json.dumps(STATS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    global COUNT_POINTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--no-count", action="store_true", help="do not count the data points")
    args = ap.parse_args()
    COUNT_POINTS = not args.no_count
    srv = HTTPServer((args.host, args.port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="ascii") as f:
            f.write(f"{port}\n")
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    else:
        print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
