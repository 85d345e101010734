# SPDX-License-Identifier: MIT
"""End to end: with the configuration that `config regen` writes (procfs
strategy "watcher", exec_strategy "event"), `exec` and `watch` measure the
processes of the announced process tree only, while the system metrics stay
the machine's totals; with exec_strategy = "watcher" every process is
measured (upstream's behaviour), among them a sleeper that this test started.

The pids of the measured tree are written by the processes themselves into
files. Needs ALUMET_E2E_AGENT and PYTHONPATH = tests/e2e (set by Meson).
Python 3 standard library only."""
import os
import subprocess
import sys
import tempfile
import time

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

# the metrics of the procfs process sources (other plugins have process
# consumers too: perf the child, agent-health the agent itself)
PROCESS_METRICS = {"cpu_time_delta_ns", "cpu_percent_%", "memory_usage_B"}

# the child of exec: a shell that starts two sleepers and waits for them
EXEC_CHILD = ("echo $$ > child.pid; sleep 0.3 & echo $! > bg1.pid; "
              "sleep 0.2 & echo $! > bg2.pid; wait")


def read_pid(tmp, name):
    with open(os.path.join(tmp, name)) as f:
        return f.read().strip()


def process_consumers(rows):
    """pid -> number of points of the procfs process metrics."""
    seen = {}
    for r in rows:
        if r["metric"] in PROCESS_METRICS and r["consumer_kind"] == "process":
            seen[r["consumer_id"]] = seen.get(r["consumer_id"], 0) + 1
    return seen


def check_machine_totals(what, rows):
    check(any(r["metric"] == "kernel_cpu_time_ms" and r["resource_kind"] == "local_machine"
              and r["consumer_kind"] == "local_machine" and r["attrs"].get("cpu_state") == "user"
              for r in rows), "%s: no kernel_cpu_time_ms total of the machine" % what)
    check(any(r["metric"] == "mem_total_B" for r in rows), "%s: no mem_total_B" % what)


def regen(tmp):
    proc = subprocess.run([AGENT, "config", "regen"], cwd=tmp, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)
    check(proc.returncode == 0, "config regen: exit status %d\n%s" % (proc.returncode,
                                                                      proc.stderr[-2000:]))
    with open(os.path.join(tmp, "alumet-config.toml")) as f:
        text = f.read()
    section = text[text.index("[plugins.procfs.processes]"):]
    section = section[:section.index("\n[", 1)]
    # what the generated configuration says explicitly
    check('\nstrategy = "watcher"\n' in section, "regen: no strategy = \"watcher\":\n" + section)
    check('\nexec_strategy = "event"\n' in section,
          "regen: no exec_strategy = \"event\":\n" + section)


def run_exec(tmp, overrides, sleeper, child=EXEC_CHILD):
    """`exec` of child (a shell script) in tmp with the generated
    configuration; returns (rows, pids of the child tree, stderr) or Nones."""
    for name in ("child.pid", "bg1.pid", "bg2.pid", "alumet-output.csv"):
        if os.path.exists(os.path.join(tmp, name)):
            os.unlink(os.path.join(tmp, name))
    args = [AGENT]
    for o in overrides:
        args += ["--config-override", o]
    args += ["exec", "sh", "-c", child]
    proc = subprocess.run(args, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)
    what = "exec %s" % (overrides or "(generated config)")
    check(proc.returncode == 0, "%s: exit status %d\n%s" % (what, proc.returncode,
                                                           proc.stderr[-3000:]))
    if proc.returncode != 0:
        return None, None, None
    tree = {read_pid(tmp, n) for n in ("child.pid", "bg1.pid", "bg2.pid")}
    check(str(sleeper) not in tree, "the sleeper is in the tree")
    return read_csv_rows(os.path.join(tmp, "alumet-output.csv")), tree, proc.stderr


def case_exec_default(tmp, sleeper):
    rows, tree, stderr = run_exec(tmp, [], sleeper)
    if rows is None:
        return
    child = read_pid(tmp, "child.pid")
    seen = process_consumers(rows)
    others = sorted(set(seen) - tree, key=int)
    check(not others, "exec: process metrics of processes outside the child's tree: %s "
          "(tree %s)" % (others, sorted(tree, key=int)))
    check(child in seen, "exec: no process metrics of the child %s (seen %s)" % (child, seen))
    check(str(sleeper) not in seen, "exec: the sleeper %d is measured" % sleeper)
    check("measuring process %s, announced by the agent, and its descendants" % child in stderr,
          "exec: no message about the announced process:\n" + stderr[-3000:])
    check_machine_totals("exec", rows)
    print("exec: %d points of the child's tree %s, no other process" %
          (sum(seen.values()), sorted(seen, key=int)))


def case_exec_watcher(tmp, sleeper):
    rows, tree, _ = run_exec(tmp, ['plugins.procfs.processes.exec_strategy = "watcher"'], sleeper)
    if rows is None:
        return
    seen = process_consumers(rows)
    check(str(sleeper) in seen, "exec_strategy watcher: the sleeper %d is not measured" % sleeper)
    check(read_pid(tmp, "child.pid") in seen, "exec_strategy watcher: the child is not measured")
    check(len(set(seen) - tree) >= 2, "exec_strategy watcher: only %s measured" % sorted(seen))
    check_machine_totals("exec_strategy watcher", rows)
    print("exec_strategy watcher: %d processes measured" % len(seen))


def case_exec_periodic(tmp, sleeper):
    """The events group sleeps until a process is announced (no wake-up
    every second under `run`), then polls it at its interval: exec
    announces its child before the pipeline starts, and the group is
    resumed once it has. Paused, it would poll the child only at exec's
    two triggers (the start and the end)."""
    child = "echo $$ > child.pid; echo $$ > bg1.pid; echo $$ > bg2.pid; sleep 2; true"
    rows, _, _ = run_exec(tmp, ['plugins.procfs.processes.events.poll_interval = "100ms"',
                                'plugins.procfs.processes.events.flush_interval = "100ms"'],
                          sleeper, child)
    if rows is None:
        return
    pid = read_pid(tmp, "child.pid")
    polls = {r["timestamp"] for r in rows
             if r["metric"] == "cpu_time_delta_ns" and r["consumer_id"] == pid}
    # about 20 polls in 2 s; 4 or more even on a loaded machine
    check(len(polls) >= 4, "exec: the child %s was polled at %d times only: %s"
          % (pid, len(polls), sorted(polls)))
    print("exec, events group at 100 ms: the child polled at %d times in 2 s" % len(polls))


def case_watch(tmp, sleeper):
    """watch of a shell that waits for its stdin to close: the agent is
    ready before the shell ends, whatever the load."""
    for name in ("w.pid", "wbg.pid", "alumet-output.csv", "watch.err"):
        if os.path.exists(os.path.join(tmp, name)):
            os.unlink(os.path.join(tmp, name))
    sh = subprocess.Popen(["sh", "-c", "echo $$ > w.pid; sleep 0.2 & echo $! > wbg.pid; "
                           "read x; wait"], cwd=tmp, stdin=subprocess.PIPE)
    err = open(os.path.join(tmp, "watch.err"), "w")
    agent = subprocess.Popen([AGENT, "watch", str(sh.pid)], cwd=tmp, stdout=subprocess.DEVNULL,
                             stderr=err)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and agent.poll() is None:
            with open(os.path.join(tmp, "watch.err")) as f:
                if "Watching process %d." % sh.pid in f.read():
                    break
            time.sleep(0.05)
        sh.stdin.close()
        rc = agent.wait(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        sh.wait()
        err.close()
    with open(os.path.join(tmp, "watch.err")) as f:
        stderr = f.read()
    check(rc == 0, "watch: exit status %s\n%s" % (rc, stderr[-3000:]))
    if rc != 0:
        return
    tree = {str(sh.pid), read_pid(tmp, "wbg.pid")}
    rows = read_csv_rows(os.path.join(tmp, "alumet-output.csv"))
    seen = process_consumers(rows)
    others = sorted(set(seen) - tree, key=int)
    check(not others, "watch: process metrics of processes outside the watched tree: %s" % others)
    check(str(sh.pid) in seen, "watch: no process metrics of the watched process %d" % sh.pid)
    check_machine_totals("watch", rows)
    print("watch: %d points of the watched tree %s" % (sum(seen.values()),
                                                       sorted(seen, key=int)))


def main():
    why = skip_reason(plugins=("procfs", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    if not os.path.exists("/proc/self/stat"):
        print("skipped: no /proc")
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-procfs-exec-e2e-") as tmp:
        sleeper = subprocess.Popen(["sleep", "300"])
        try:
            regen(tmp)
            case_exec_default(tmp, sleeper.pid)
            case_exec_watcher(tmp, sleeper.pid)
            case_exec_periodic(tmp, sleeper.pid)
            case_watch(tmp, sleeper.pid)
        finally:
            sleeper.kill()
            sleeper.wait()
    return summary(cases=5)


if __name__ == "__main__":
    sys.exit(main())
