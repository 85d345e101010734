# SPDX-License-Identifier: MIT
"""End to end: the built agent on the real /proc with 20,000 sleeping
processes (children of tests/spawn-pausers, chosen with ppid), every process
refreshed and polled each second. procfs keeps at most half the soft limit of
open files as descriptors of processes (the agent inherits this test's and
raises the soft limit to the hard one; with CAP_SYS_RESOURCE, e.g. as root,
it raises both to 8 per process listed, at most fs.nr_open), and reads the
others by path: every one of the 20,000 must be in the CSV (a resident
memory row), with no warning, and the agent must hold no more descriptors
than the cap allows (and, when it could raise its limit, 2 per process).

Skipped, saying which, when the machine cannot hold 20,000 more processes:
pid_max, threads-max, RLIMIT_NPROC (not for root), or less than 3 GiB of
MemAvailable. Waits for the condition (every pid measured), with a bound of
150 s only to fail rather than hang.

Needs ALUMET_E2E_AGENT, PROCFS_SPAWN_PAUSERS and PYTHONPATH = tests/e2e (set
by Meson). Python 3 standard library only."""
import os
import resource
import sys
import tempfile
import time

from e2e_common import check, skip_reason, summary
from procfs_e2e import (group_config, kill_agent, pausers_missing, start_agent, start_pausers,
                        stop_agent, stop_pausers)

COUNT = 20000


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


def limits_reason():
    """Why this machine cannot take COUNT more processes, or None."""
    procs = len([d for d in os.listdir("/proc") if d.isdigit()])
    pid_max = read_int("/proc/sys/kernel/pid_max")
    if pid_max - procs < COUNT + 1000:
        return "kernel.pid_max is %d with %d processes running: raise it to %d" % (
            pid_max, procs, procs + COUNT + 1000)
    threads_max = read_int("/proc/sys/kernel/threads-max")
    if threads_max - procs < COUNT + 1000:
        return "kernel.threads-max is %d" % threads_max
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if os.geteuid() != 0 and soft != resource.RLIM_INFINITY and soft < procs + COUNT + 100:
        return "ulimit -u (RLIMIT_NPROC) is %d" % soft
    with open("/proc/meminfo") as f:
        avail = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    if avail < 3 * 1024 * 1024:
        return "MemAvailable is %d MiB, under 3 GiB" % (avail // 1024)
    return None


class Resident:
    """The pids with a resident memory row, read from the CSV as it grows
    (only the new complete lines at each call)."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.rest = b""
        self.cols = None
        self.pids = set()

    def update(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return self.pids
        self.off += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            cells = line.decode().split(";")
            if self.cols is None:
                self.cols = {c: i for i, c in enumerate(cells)}
                continue
            c = self.cols
            if cells[c["metric"]] != "memory_usage_B" or cells[c["consumer_kind"]] != "process":
                continue
            kind = cells[c["kind"]] if "kind" in c else ""
            if kind == "resident" or "kind=resident" in cells[c["__late_attributes"]]:
                self.pids.add(int(cells[c["consumer_id"]]))
        return self.pids


def run(tmp):
    helper, pids = start_pausers(COUNT)
    if helper is None:
        print("skipped: " + pids)
        return 77
    agent = None
    try:
        out = os.path.join(tmp, "out.csv")
        # the watcher raises the agent's soft limit to the hard one first (and
        # more with CAP_SYS_RESOURCE)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY:
            soft = hard
        agent, log = start_agent(tmp, group_config(out, helper.pid, "force_flush = true\n"))
        start = time.monotonic()
        most_fds = 0
        res = Resident(out)
        seen = set()
        while time.monotonic() - start < 150 and agent.poll() is None:
            try:
                most_fds = max(most_fds, len(os.listdir("/proc/%d/fd" % agent.pid)))
            except OSError:
                pass
            seen = res.update() & pids
            if len(seen) == COUNT:
                break
            time.sleep(0.5)
        took = time.monotonic() - start
        check(agent.poll() is None, "the agent has stopped early (status %s)" % agent.returncode)
        agent_soft = open_files_limit(agent.pid)
        text = stop_agent(agent, log)
        check(len(seen) == COUNT, "%d of the %d processes measured; missing e.g. %s\n%s"
              % (len(seen), COUNT, sorted(pids - seen)[:5], text[-3000:]))
        # the cap (half the agent's soft limit) + the agent's own (CSV file,
        # /proc, pipes...)
        check(0 < most_fds <= agent_soft // 2 + 32,
              "the agent held up to %d descriptors (its limit %d: cap %d)"
              % (most_fds, agent_soft, agent_soft // 2))
        if can_raise_limit():
            # it raised its limits to 8 descriptors per process listed (its
            # cap: twice the 2 per process), at most fs.nr_open: every
            # process kept open
            nr_open = read_int("/proc/sys/fs/nr_open")
            check(agent_soft >= min(nr_open, 8 * COUNT),
                  "the agent's limit of open files is %d, expected at least %d"
                  % (agent_soft, min(nr_open, 8 * COUNT)))
            if agent_soft // 2 >= 2 * COUNT:
                check(most_fds >= 2 * COUNT,
                      "the agent held at most %d descriptors, expected 2 per process (%d)"
                      % (most_fds, 2 * COUNT))
        else:
            check(agent_soft == soft, "the agent's limit of open files is %d, expected %d"
                  % (agent_soft, soft))
        print("%d processes measured in %.1f s; limit of open files %d (started with %d), the "
              "agent held at most %d descriptors" % (len(seen), took, agent_soft, soft, most_fds))
        return None
    finally:
        kill_agent(agent)
        stop_pausers(helper)


def open_files_limit(pid):
    """The soft limit of open files of process pid."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no 'Max open files' in /proc/%d/limits" % pid)


def can_raise_limit():
    """Whether this test (and the agent it starts) has CAP_SYS_RESOURCE."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


def main():
    why = skip_reason(("procfs", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    why = pausers_missing()
    if why:
        print("skipped: " + why)
        return 77
    why = limits_reason()
    if why:
        print("skipped: cannot start %d more processes here: %s" % (COUNT, why))
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-procfs-many-") as tmp:
        r = run(tmp)
        if r is not None:
            return r
    return summary(cases=1)


if __name__ == "__main__":
    sys.exit(main())
