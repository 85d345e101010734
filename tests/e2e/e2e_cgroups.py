# SPDX-License-Identifier: MIT
"""What the end-to-end scripts on real cgroups share (cgroups, k8s, slurm,
podman): the cgroup hierarchies mounted here, CPU time of a process from
/proc, a busy loop to move into a cgroup, the agent started on a config and
stopped, the CSV rows of one consumer read while the agent writes, waits
without a deadline on the agent, and the removal of the cgroups a test made.
Python 3 standard library only."""
import os
import signal
import subprocess
import sys
import time

from e2e_common import AGENT, check, read_csv_rows

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Says "ready", waits for "go" on stdin, writes 8 MiB (charged to the cgroup
# it is in by then), spins for about 1.5 s of CPU, says "done", sleeps
# (staying in the cgroup, idle) until killed.
BUSY_LOOP = ("import sys, time\n"
             "print('ready', flush=True)\n"
             "sys.stdin.readline()\n"
             "m = b'x' * (8 << 20)\n"
             "t = time.process_time()\n"
             "while time.process_time() - t < 1.5:\n"
             "    pass\n"
             "print('done', flush=True)\n"
             "time.sleep(3600)\n")


def cgroup_mounts():
    """(version, mount point, super options) of the cgroup hierarchies, in
    the order of /proc/self/mountinfo."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, opts, mp = fields[sep + 1], fields[sep + 3], fields[4]
            if fstype == "cgroup2":
                found.append((2, mp, opts.split(",")))
            elif fstype == "cgroup":
                found.append((1, mp, opts.split(",")))
    return found


def cpu_hierarchies():
    """(version, mount point) of the hierarchies that hold CPU time: the
    cgroup2 mount, and the v1 ones with cpuacct."""
    return [(v, mp) for v, mp, opts in cgroup_mounts() if v == 2 or "cpuacct" in opts]


def cgroup2_mount():
    """The first cgroup2 mount point, or None."""
    return next((mp for v, mp, _ in cgroup_mounts() if v == 2), None)


def cpu_ticks(pid):
    """utime + stime of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def start_busy_loop():
    """A BUSY_LOOP process, waiting for "go", its start over: the CPU time of
    the interpreter's start (up to 0.1 s on a loaded machine) is not spent
    in the cgroup it is moved to, where the agent would count it while the
    test counts only the loop's."""
    p = subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("the busy loop %d did not start" % p.pid)
    return p


def start_agent(plugins, cfg, log, cwd, env=None):
    """The built agent running `--plugins <plugins>` on cfg alone, its output
    into the file log, at the info level."""
    return subprocess.Popen([AGENT, "--plugins", plugins, "--config", cfg,
                             "--no-default-config", "run"], stdout=log, stderr=log, cwd=cwd,
                            env=dict(os.environ if env is None else env, ALUMET_LOG="info"))


def stop_agent(agent):
    """SIGINT, then SIGKILL after 30 s; nothing if it has exited."""
    if agent and agent.poll() is None:
        agent.send_signal(signal.SIGINT)
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


def csv_rows_of(out, snapshot, cpath):
    """The rows of consumer cpath in the CSV file out, which the agent may be
    writing (even its header): only whole lines, copied to snapshot, and
    nothing before the header is complete."""
    if not os.path.exists(out):
        return []
    with open(out) as f:
        text = f.read()
    if "\n" not in text:
        return []
    with open(snapshot, "w") as f:
        f.write(text[:text.rindex("\n") + 1])
    return [r for r in read_csv_rows(snapshot) if r["consumer_id"] == cpath]


def poll_until(cond, limit):
    """True as soon as cond() is, False after limit seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def wait_for(cond, what, limit=60):
    """poll_until, a failed check "timed out waiting for <what>" if not."""
    return poll_until(cond, limit) or check(False, "timed out waiting for " + what)


def kill_all(procs):
    for p in procs:
        p.kill()
        p.wait()


def remove_dirs(made):
    """rmdir the cgroups of the list, deepest last in it, saying which stay."""
    for d in reversed(made):
        try:
            os.rmdir(d)
        except OSError as e:
            print("note: cannot remove %s: %s" % (d, e))


def remove_cgroup_tree(top, quiet=False):
    """rmdir the cgroup tree top (if any), deepest first (its files are not
    files), saying which stay unless quiet."""
    for d, _, _ in os.walk(top, topdown=False):
        try:
            os.rmdir(d)
        except OSError as e:
            if not quiet:
                print("note: cannot remove %s: %s" % (d, e))
