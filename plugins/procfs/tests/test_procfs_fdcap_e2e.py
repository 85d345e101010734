# SPDX-License-Identifier: MIT
"""End to end: the built agent, with a limit of 256 open files (soft and
hard, and without CAP_SYS_RESOURCE when run as root, so that it cannot
raise it), watches 1000 real sleeping processes (children of this test, chosen
with ppid) on the real /proc. procfs keeps at most half the limit open (128
descriptors: 64 processes) and reads the others by path: every one of the
1000 must be measured, with no warning, and the agent must never hold more
than the limit allows. While it runs, its threads carry their names
(src/util/thread-name.h).

Needs ALUMET_E2E_AGENT and PYTHONPATH = tests/e2e (set by Meson). Python 3
standard library only."""
import ctypes
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from e2e_common import check, read_csv_rows, skip_reason, summary
from procfs_e2e import group_config, kill_agent, start_agent, stop_agent

SLEEPERS = 1000
LIMIT = 256


PR_CAPBSET_DROP = 24
CAP_SYS_RESOURCE = 24


def limit_fds():
    """In the agent's child: a hard limit of LIMIT that it cannot raise. As
    root, CAP_SYS_RESOURCE leaves the bounding set, so that the agent does
    not get it at exec (with it, procfs raises the hard limit to cover the
    processes: test_procfs_many_e2e.py)."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) != 0:
            os.write(2, b"prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE) failed\n")
            os._exit(1)


def measured_pids(out):
    """The pids with a resident memory row in the CSV so far."""
    if not os.path.exists(out) or os.path.getsize(out) == 0:
        return set()
    try:
        rows = read_csv_rows(out)
    except (StopIteration, ValueError):
        return set()
    return {int(r["consumer_id"]) for r in rows
            if r["metric"] == "memory_usage_B" and r["attrs"].get("kind") == "resident"
            and r["consumer_kind"] == "process"}


def run(tmp, sleep):
    sleepers = []
    agent = None
    try:
        for _ in range(SLEEPERS):
            sleepers.append(subprocess.Popen([sleep, "600"], stdin=subprocess.DEVNULL))
        pids = {p.pid for p in sleepers}
        out = os.path.join(tmp, "out.csv")
        agent, log = start_agent(tmp, group_config(out, os.getpid()), preexec_fn=limit_fds)
        # wait (up to 90 s, whatever the load) until every sleeper is in the CSV
        # of a group poll, watching the agent's descriptors meanwhile
        most_fds = 0
        seen = set()
        names = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and agent.poll() is None:
            try:
                most_fds = max(most_fds, len(os.listdir("/proc/%d/fd" % agent.pid)))
            except OSError:
                pass
            try:
                for tid in os.listdir("/proc/%d/task" % agent.pid):
                    with open("/proc/%d/task/%s/comm" % (agent.pid, tid)) as f:
                        names.add(f.read().strip())
            except OSError:
                pass
            seen = measured_pids(out) & pids
            if len(seen) == SLEEPERS:
                break
            time.sleep(0.5)
        text = stop_agent(agent, log, timeout=30)
        check(len(seen) == SLEEPERS, "%d of the %d sleepers measured; missing e.g. %s\n%s"
              % (len(seen), SLEEPERS, sorted(pids - seen)[:5], text[-3000:]))
        # 128 kept open + the agent's own (CSV file, /proc, pipes, eventfds...)
        check(0 < most_fds <= LIMIT // 2 + 32,
              "the agent held up to %d descriptors (limit %d)" % (most_fds, LIMIT))
        # the watcher and the group: "src:procfs/process-..." cut to 15 characters
        want = {"signals", "out:csv", "src:procfs/proc"}
        check(want <= names, "thread names %s, expected %s among them" % (sorted(names),
                                                                           sorted(want)))
        # no transform configured: no transform thread, the sources push to the outputs
        check("transform" not in names, "a transform thread without transforms: %s"
              % sorted(names))
        print("%d sleepers measured with a limit of %d open files; the agent held at most %d"
              % (len(seen), LIMIT, most_fds))
    finally:
        kill_agent(agent)
        for p in sleepers:
            p.kill()
        for p in sleepers:
            p.wait()


def main():
    why = skip_reason(("procfs", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    sleep = shutil.which("sleep")
    if not os.path.exists("/proc/self/stat") or not sleep:
        print("skipped: no /proc or no sleep")
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-procfs-fdcap-") as tmp:
        run(tmp, sleep)
    return summary(cases=1)


if __name__ == "__main__":
    sys.exit(main())
