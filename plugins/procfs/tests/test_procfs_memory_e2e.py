# SPDX-License-Identifier: MIT
"""End to end, on the real kernel: the memory of a process as procfs reports
it in quick mode, against the process's own /proc/self/statm.

A child maps a file and touches 512 more of its pages in each of 4 phases
(each page a shared one), records its own statm, sleeps 2 s and records it
again, then holds still 1 s more. Every reading of the agent (polls every
100 ms) stamped between the two records of a phase whose records agree must
give exactly the child's resident, shared and virtual bytes: a value left
over from the phase before fails.

Why statm is read at every poll (and this test): stat's rss looks like
statm's resident, but since Linux 6.2 it is the approximate per-CPU counter
(get_mm_rss) while statm sums it exactly (get_mm_counter_sum); on this
machine's 6.18 kernel they differed by 15 to 70 pages for 8 of 70 processes,
and an attempt that took resident from stat failed here. For the same reason
statm cannot be skipped when stat's faults and rss have not moved: pages
unmapped without a fault (MADV_DONTNEED, reclaim) may not move that rss.

Needs ALUMET_E2E_AGENT and PYTHONPATH = tests/e2e (set by Meson)."""
import os
import subprocess
import sys
import tempfile

from e2e_common import check, parse_rfc3339_ns, read_csv_rows, skip_reason, summary
from procfs_e2e import kill_agent, start_agent, stop_agent

PAGE = os.sysconf("SC_PAGE_SIZE")
PHASES = 4
PAGES_PER_PHASE = 512
HOLD_S = 2.0
# the child holds still this long after each phase's window: a poll stamped
# inside the window (its stamp is taken when it starts) and delayed on a
# loaded machine still reads the phase's memory
GRACE_S = 1.0

CHILD = r"""
import mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
# read through a descriptor kept open, into a small bytes object: open()
# allocates an 8 KiB buffer, which moved the resident pages by one between
# the two records of a phase (under ASan and load, 4 runs of 4)
statm_fd = os.open("/proc/self/statm", os.O_RDONLY)
def statm():
    return os.pread(statm_fd, 256, 0).split()[:3]
print("pid", os.getpid(), flush=True)
sys.stdin.readline()  # the agent is running
page = os.sysconf("SC_PAGE_SIZE")
for phase in range(%d):
    for off in range(0, (phase + 1) * %d * page, page):
        m[off]
    a = statm()
    t0 = time.time_ns()
    time.sleep(%f)
    b = statm()
    t1 = time.time_ns()
    print("phase", phase, t0, t1, b" ".join(a).decode(), b" ".join(b).decode(), flush=True)
    time.sleep(%f)
""" % (PHASES, PAGES_PER_PHASE, HOLD_S, GRACE_S)


def run(tmp):
    data = os.path.join(tmp, "mapped")
    with open(data, "wb") as f:
        f.write(b"\x01" * (PHASES * PAGES_PER_PHASE * PAGE))
    out = os.path.join(tmp, "out.csv")
    config = ('[plugins.csv]\noutput_path = "%s"\nforce_flush = true\n'
              '[plugins.procfs.kernel]\nenabled = false\n'
              '[plugins.procfs.memory]\nenabled = false\n'
              '[plugins.procfs.network]\nenabled = false\n'
              '[plugins.procfs.processes]\nstrategy = "watcher"\n'
              'refresh_interval = "100ms"\n'
              '[[plugins.procfs.processes.groups]]\nppid = %d\n'
              'poll_interval = "100ms"\nflush_interval = "100ms"\n' % (out, os.getpid()))
    child = subprocess.Popen([sys.executable, "-c", CHILD, data], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    agent = None
    try:
        pid = int(child.stdout.readline().split()[1])
        agent, log = start_agent(tmp, config)
        child.stdin.write("go\n")
        child.stdin.flush()
        phases = [line.split() for line in child.stdout]
        check(child.wait(timeout=60) == 0, "the child failed")
        stop_agent(agent, log)
    finally:
        kill_agent(agent)
        if child.poll() is None:
            child.kill()
            child.wait()
    check(len(phases) == PHASES, "the child's phases: %r" % phases)
    mem = {}
    for r in read_csv_rows(out):
        if (r["metric"] == "memory_usage_B" and r["consumer_kind"] == "process"
                and r["consumer_id"] == str(pid)):
            mem.setdefault(parse_rfc3339_ns(r["timestamp"]), {})[r["attrs"]["kind"]] = \
                int(r["value"])
    compared = 0
    prev_shared = None
    for p in phases:
        t0, t1 = int(p[2]), int(p[3])
        a, b = p[4:7], p[7:10]
        if a != b:
            print("phase %s: the child's memory moved while it slept (%s, %s), not compared"
                  % (p[1], a, b))
            continue
        want = {"virtual": int(a[0]) * PAGE, "resident": int(a[1]) * PAGE,
                "shared": int(a[2]) * PAGE}
        check(prev_shared is None or want["shared"] >= prev_shared + PAGES_PER_PHASE * PAGE,
              "phase %s: the child's shared pages did not grow by %d pages"
              % (p[1], PAGES_PER_PHASE))
        prev_shared = want["shared"]
        inside = sorted(t for t in mem if t0 < t < t1)
        check(len(inside) >= 3, "phase %s: %d readings of the agent in %.1f s"
              % (p[1], len(inside), (t1 - t0) / 1e9))
        for t in inside:
            check(mem[t] == want, "phase %s, reading at +%.3f s: %r, the child's statm gives %r"
                  % (p[1], (t - t0) / 1e9, mem[t], want))
        compared += 1
        print("phase %s: %d readings, shared %d pages" % (p[1], len(inside),
                                                           want["shared"] // PAGE))
    check(compared >= PHASES - 1, "only %d of %d phases compared" % (compared, PHASES))


def main():
    why = skip_reason()
    if why:
        print("skipped: " + why)
        return 77
    if not os.path.exists("/proc/self/statm"):
        print("skipped: no /proc")
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-procfs-mem-") as tmp:
        run(tmp)
    return summary(cases=1)


if __name__ == "__main__":
    sys.exit(main())
