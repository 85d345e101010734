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
import signal
import subprocess
import sys
import tempfile
import time

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

COUNT = 700
HELPER = os.environ.get("PROCFS_SPAWN_PAUSERS", "")
FIRST = {("memory_usage", "resident"), ("memory_usage", "shared"), ("memory_usage", "virtual"),
         ("cpu_time_delta", "user"), ("cpu_time_delta", "system"), ("cpu_time_delta", "guest")}
FULL = FIRST | {("cpu_percent", "user"), ("cpu_percent", "system"), ("cpu_percent", "total")}


def read_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


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
    helper = subprocess.Popen([HELPER, str(COUNT)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    agent = None
    try:
        line = helper.stdout.readline().split()
        made = int(line[1]) if len(line) == 2 and line[0] == "ready" else 0
        if made < COUNT:
            helper.stdin.close()
            helper.wait()
            print("skipped: only %d of %d processes could be made: %s"
                  % (made, COUNT, helper.stderr.read().strip()))
            return 77
        pids = {int(d) for d in os.listdir("/proc") if d.isdigit()
                and read_ppid(int(d)) == helper.pid}
        check(len(pids) == COUNT, "%d children of the helper in /proc" % len(pids))
        out = os.path.join(tmp, "out.csv")
        cfg = os.path.join(tmp, "alumet.toml")
        with open(cfg, "w") as f:
            f.write('[plugins.csv]\noutput_path = "%s"\nforce_flush = true\n\n'
                    '[plugins.procfs.kernel]\nenabled = false\n'
                    '[plugins.procfs.memory]\nenabled = false\n'
                    '[plugins.procfs.network]\nenabled = false\n'
                    '[plugins.procfs.processes]\nstrategy = "watcher"\n'
                    'refresh_interval = "1s"\n'
                    '[[plugins.procfs.processes.groups]]\nppid = %d\n'
                    'poll_interval = "1s"\nflush_interval = "1s"\nmemory_mode = "quick"\n'
                    % (out, helper.pid))
        log = open(os.path.join(tmp, "agent.log"), "w+")
        agent = subprocess.Popen([AGENT, "--plugins", "procfs,csv", "--config", cfg,
                                  "--no-default-config", "run"], stdout=log, stderr=log, cwd=tmp)
        start = time.monotonic()
        # three polls of the group with every process (the bound only to
        # fail rather than hang)
        while time.monotonic() - start < 60 and agent.poll() is None:
            if full_polls(out, pids) >= 4:
                break
            time.sleep(0.5)
        check(agent.poll() is None, "the agent has stopped early (status %s)" % agent.returncode)
        agent.send_signal(signal.SIGTERM)
        status = agent.wait(timeout=60)
        log.seek(0)
        text = log.read()
        check(status == 0, "agent exit status %d\n%s" % (status, text[-3000:]))
        noise = [line for line in text.splitlines()
                 if ("WARN" in line or "ERROR" in line) and "hidepid" not in line]
        check(not noise, "warnings or errors:\n%s" % "\n".join(noise))

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
        if agent and agent.poll() is None:
            agent.kill()
            agent.wait()
        if helper.poll() is None:
            helper.stdin.close()
            helper.wait(timeout=120)


def main():
    why = skip_reason(("procfs", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    if not HELPER or not os.path.exists(HELPER) or not os.path.exists("/proc/self/stat"):
        print("skipped: no /proc or no spawn-pausers helper (PROCFS_SPAWN_PAUSERS)")
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-procfs-chunks-") as tmp:
        r = run(tmp)
        if r is not None:
            return r
    return summary(cases=1)


if __name__ == "__main__":
    sys.exit(main())
