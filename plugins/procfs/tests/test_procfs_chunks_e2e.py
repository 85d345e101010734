# SPDX-License-Identifier: MIT
"""End to end: one poll of a process group spans several buffers. 700
sleeping children of tests/spawn-pausers (chosen with ppid), measured every
second with memory_mode = "quick": 9 values per process (memory_usage
resident, shared, virtual; cpu_time_delta user, system, guest; cpu_percent
user, system, total), 6,300 points per poll, which the group hands over to
the pipeline in chunks of PROCFS_EMIT_CHUNK (1024) points, so at least 7
buffers per poll (the watcher's first measurement, 6 values each, 4,200
points, in chunks too). Every process must have each of its values exactly
once at each poll's timestamp (at least 3 polls with all of them): nothing
lost, nothing twice, whichever buffer carried it.

Needs ALUMET_E2E_AGENT, PROCFS_SPAWN_PAUSERS and PYTHONPATH = tests/e2e (set
by Meson). Python 3 standard library only."""
import collections
import os
import sys
import tempfile
import time

from e2e_common import check, read_csv_rows, skip_reason, summary
from procfs_e2e import (group_config, kill_agent, pausers_missing, start_agent, start_pausers,
                        stop_agent, stop_pausers)

COUNT = 700
FIRST = {("memory_usage", "resident"), ("memory_usage", "shared"), ("memory_usage", "virtual"),
         ("cpu_time_delta", "user"), ("cpu_time_delta", "system"), ("cpu_time_delta", "guest")}
FULL = FIRST | {("cpu_percent", "user"), ("cpu_percent", "system"), ("cpu_percent", "total")}


def base_metric(name):
    """The metric name without the unit suffix of the CSV (memory_usage_B)."""
    for m in ("memory_usage", "cpu_time_delta", "cpu_percent"):
        if name.startswith(m):
            return m
    return name


def full_polls(out, pids):
    """How many timestamps of the CSV have a row of every pid (lines read so
    far; the last line may be incomplete)."""
    try:
        with open(out) as f:
            lines = f.read().split("\n")[1:-1]
    except FileNotFoundError:
        return 0
    by_ts = collections.defaultdict(set)
    for line in lines:
        cells = line.split(";")
        if len(cells) > 6 and cells[5] == "process" and int(cells[6]) in pids:
            by_ts[cells[1]].add(int(cells[6]))
    return sum(1 for s in by_ts.values() if len(s) == len(pids))


def run(tmp):
    helper, pids = start_pausers(COUNT)
    if helper is None:
        print("skipped: " + pids)
        return 77
    agent = None
    try:
        out = os.path.join(tmp, "out.csv")
        agent, log = start_agent(tmp, group_config(out, helper.pid, "force_flush = true\n",
                                                   'memory_mode = "quick"\n'))
        start = time.monotonic()
        # three polls of the group with every process (the bound only to
        # fail rather than hang)
        while time.monotonic() - start < 60 and agent.poll() is None:
            if full_polls(out, pids) >= 4:
                break
            time.sleep(0.5)
        stop_agent(agent, log)

        # per timestamp, per pid: the (metric, kind) of its rows, in a list
        # so that a value written twice shows
        values = collections.defaultdict(lambda: collections.defaultdict(list))
        for row in read_csv_rows(out):
            if row["consumer_kind"] != "process" or int(row["consumer_id"]) not in pids:
                continue
            values[row["timestamp"]][int(row["consumer_id"])].append(
                (base_metric(row["metric"]), row["attrs"].get("kind", "")))
        # a poll may find part of the processes when it runs during the
        # watcher's first refresh; each process at each timestamp has its
        # values once, all 9, or the 6 of its first measurement
        n_full = 0
        for ts, per_pid in sorted(values.items()):
            if set(per_pid) == pids and all(sorted(v) == sorted(FULL) for v in per_pid.values()):
                n_full += 1
                continue
            bad = [(pid, v) for pid, v in per_pid.items()
                   if sorted(v) not in (sorted(FULL), sorted(FIRST))]
            check(not bad, "poll at %s: process %d has %r" % (ts, bad[0][0], bad[0][1])
                  if bad else "")
        check(n_full >= 3, "%d polls with the 9 values of every process" % n_full)
        print("%d polls of %d processes, 9 values each exactly once; %d timestamps in all"
              % (n_full, COUNT, len(values)))
        return None
    finally:
        kill_agent(agent)
        stop_pausers(helper)


def main():
    why = skip_reason(("procfs", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    why = pausers_missing()
    if why:
        print("skipped: " + why)
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-procfs-chunks-") as tmp:
        r = run(tmp)
        if r is not None:
            return r
    return summary(cases=1)


if __name__ == "__main__":
    sys.exit(main())
