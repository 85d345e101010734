# SPDX-License-Identifier: MIT
"""End to end on real cgroups: the built agent runs `--plugins cgroups,csv`
while this script (as root) creates cgroups under a unique test parent in
each hierarchy that can measure CPU time (the cgroup2 mount, and a v1
hierarchy with cpuacct), moves busy Python loops into them, and checks:

- the CPU time that the agent reports for each cgroup (the sum of its
  cpu_time_delta points, kind=total) is within 5 % of the CPU time that the
  processes spent inside it, read from /proc/<pid>/stat (utime + stime) when
  they were moved in and after they finished;
- the removal of a cgroup ends its series, with one log line.

The ground truth is /proc/<pid>/stat, never the agent's arithmetic. No
deadline: the script waits (up to a generous limit) for the agent to have
polled after the loops finished. Skipped when not root or when no
hierarchy allows creating cgroups. Python 3 standard library only."""
import os
import shutil
import sys
import tempfile
import time

from e2e_cgroups import (CLK_TCK, cpu_hierarchies, cpu_ticks, csv_rows_of, kill_all, remove_dirs,
                         start_agent, start_busy_loop, stop_agent, wait_for)
from e2e_common import check, parse_rfc3339_ns, skip_reason, summary


def main():
    reason = skip_reason(["cgroups", "csv"])
    if reason is None and os.geteuid() != 0:
        reason = "needs root to create cgroups and move processes"
    if reason is None and not cpu_hierarchies():
        reason = "no cgroup2 mount nor cgroup v1 cpuacct hierarchy on this machine"
    if reason:
        print("SKIP: " + reason)
        return 77

    tag = "alumet-e2e-%d" % os.getpid()
    made = []  # directories to remove, deepest last
    procs = []
    agent = None
    tmp = tempfile.mkdtemp(prefix="alumet-cgroups-e2e-")
    try:
        groups = []  # (hierarchy version, mount point, canonical path, [Popen])
        for version, mp in cpu_hierarchies():
            parent = os.path.join(mp, tag)
            try:
                os.mkdir(parent)
            except OSError as e:
                print("note: cannot create a cgroup in %s: %s" % (mp, e))
                continue
            made.append(parent)
            # names differ per hierarchy: on a hybrid host a path present in
            # both is measured by the v2 one only (one series per consumer)
            busy, gone = "busy-v%d" % version, "gone-v%d" % version
            for name in (busy, gone):
                os.mkdir(os.path.join(parent, name))
                made.append(os.path.join(parent, name))
            cpath = "/%s/%s" % (tag, busy)
            loops = []
            for _ in range(2):
                p = start_busy_loop()
                procs.append(p)
                with open(os.path.join(parent, busy, "cgroup.procs"), "w") as f:
                    f.write(str(p.pid))
                loops.append(p)
            groups.append((version, mp, cpath, loops))
        if not groups:
            print("SKIP: no hierarchy allows creating a cgroup here")
            return 77

        out = os.path.join(tmp, "out.csv")
        cfg = os.path.join(tmp, "alumet.toml")
        with open(cfg, "w") as f:
            f.write('[plugins.cgroups]\npoll_interval = "1s"\ndisable_sources = false\n'
                    '[plugins.csv]\noutput_path = "%s"\n' % out)
        log = open(os.path.join(tmp, "agent.log"), "w+")
        agent = start_agent("cgroups,csv", cfg, log, tmp)

        def rows_of(cpath):
            return csv_rows_of(out, os.path.join(tmp, "snapshot.csv"), cpath)

        # the agent's baseline: a CPU point means two polls saw the (idle) cgroups
        for g in groups:
            if not wait_for(lambda: any(r["metric"] == "cpu_time_delta_ns"
                                        for r in rows_of(g[2])), "the first polls of %s" % g[2]):
                return summary(1)
        start_ticks = {p.pid: cpu_ticks(p.pid) for g in groups for p in g[3]}
        for g in groups:
            for p in g[3]:
                p.stdin.write("go\n")
                p.stdin.flush()
        for g in groups:
            for p in g[3]:
                check(p.stdout.readline().strip() == "done", "loop %d finished" % p.pid)
        finished = time.time_ns()
        spent = {p.pid: (cpu_ticks(p.pid) - start_ticks[p.pid]) / CLK_TCK
                 for g in groups for p in g[3]}

        def polled_after_finish(cpath):
            return any(parse_rfc3339_ns(r["timestamp"]) > finished + 10**9
                       for r in rows_of(cpath) if r["metric"] == "cpu_time_delta_ns")

        for version, mp, cpath, loops in groups:
            if not wait_for(lambda: polled_after_finish(cpath), "a poll after the loops (%s)" % mp):
                continue
            got = sum(int(r["value"]) for r in rows_of(cpath)
                      if r["metric"] == "cpu_time_delta_ns" and r["attrs"].get("kind") == "total")
            want = sum(spent[p.pid] for p in loops) * 1e9
            print("cgroup v%d %s: agent %.4f s, /proc %.4f s" % (version, cpath, got / 1e9,
                                                                  want / 1e9))
            check(want > 2.5e9, "the loops spent %g s of CPU in %s" % (want / 1e9, mp))
            check(abs(got - want) <= 0.05 * want,
                  "cgroup v%d %s: agent %g s, /proc %g s (more than 5 %% apart)"
                  % (version, cpath, got / 1e9, want / 1e9))

        # removal: the empty cgroup gone-v<N> of each hierarchy ends its series, one line each
        gones = []
        for version, mp, cpath, loops in groups:
            d = os.path.join(mp, tag, "gone-v%d" % version)
            check(any(r["metric"] == "cpu_time_delta_ns" for r in rows_of("/%s/gone-v%d"
                                                                          % (tag, version))),
                  "%s measured before its removal" % d)
            os.rmdir(d)
            made.remove(d)
            gones.append("/%s/gone-v%d" % (tag, version))

        def removal_lines():
            with open(os.path.join(tmp, "agent.log")) as f:
                return [l for l in f if "was removed, its measurement ends" in l and
                        any(g + "'" in l for g in gones)]
        wait_for(lambda: len(removal_lines()) >= len(gones), "the removal log lines")
        removed_at = time.time_ns()
        time.sleep(2.5)  # two more polls
        lines = removal_lines()
        check(len(lines) == len(gones), "one removal line per cgroup, got:\n%s" % "".join(lines))
        late = [r for g in gones for r in rows_of(g)
                if parse_rfc3339_ns(r["timestamp"]) > removed_at + 10**9]
        check(not late, "points of a removed cgroup after its removal: %r" % late[:3])
        return summary(1 + len(groups))
    finally:
        stop_agent(agent)
        kill_all(procs)
        time.sleep(0.2)
        remove_dirs(made)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
