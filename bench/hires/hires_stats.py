#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sample counts and interval errors of high-rate sources, from the CSV file
of the agent (bench/run-hires.sh). For each series (metric + resource id)
whose metric starts with one of the given prefixes: the distinct timestamps
in the first DURATION seconds from its first sample, against DURATION /
INTERVAL requested; and |interval - requested| / requested between
consecutive samples (p50, p99, max), and the longest interval in ms.

Usage: hires_stats.py CSV INTERVAL_NS DURATION_S PREFIX[=RESOURCE_ID]..."""
import sys
from datetime import datetime, timezone


def ts_ns(text):
    # 2026-12-04T16:38:58.524098724Z (fraction optional, 1 to 9 digits)
    text = text.rstrip("Z")
    sec, _, frac = text.partition(".")
    t = datetime.strptime(sec, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(t.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


def pct(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def main():
    path, interval, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    wanted = []
    for a in sys.argv[4:]:
        prefix, _, rid = a.partition("=")
        wanted.append((prefix, rid if "=" in a else None))
    series = {}
    with open(path) as f:
        cols = {c: i for i, c in enumerate(f.readline().rstrip("\n").split(";"))}
        mi, ti, ri = cols["metric"], cols["timestamp"], cols["resource_id"]
        for line in f:
            cells = line.split(";")
            m = cells[mi]
            for prefix, rid in wanted:
                if m.startswith(prefix) and (rid is None or cells[ri] == rid):
                    series.setdefault((m, cells[ri]), set()).add(cells[ti])
                    break
    ok = True
    print("| series | requested | samples | % of requested | interval error p50 | p99 | max "
          "| longest interval |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (m, rid), stamps in sorted(series.items()):
        ts = sorted(ts_ns(t) for t in stamps)
        end = ts[0] + int(duration * 1e9)
        ts = [t for t in ts if t < end]
        requested = int(round(duration * 1e9 / interval))
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        errs = sorted(abs(g - interval) / interval for g in gaps)
        share = 100.0 * len(ts) / requested
        p99 = pct(errs, 0.99)
        print("| %s%s | %d | %d | %.2f %% | %.1f %% | %.1f %% | %.0f %% | %.2f ms |" % (
            m, "{%s}" % rid if rid else "", requested, len(ts), share,
            100 * pct(errs, 0.5), 100 * p99, 100 * (errs[-1] if errs else 0),
            max(gaps, default=0) / 1e6))
        ok = ok and share >= 99.9 and p99 < 0.10
    if not series:
        print("error: no series matched %s" % sys.argv[4:], file=sys.stderr)
        return 1
    print("target: >= 99.9 %% of the samples and p99 interval error < 10 %%: %s"
          % ("met" if ok else "MISSED"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
