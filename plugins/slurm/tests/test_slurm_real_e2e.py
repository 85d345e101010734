# SPDX-License-Identifier: MIT
"""End to end with a real single-node Slurm: the script re-runs itself in a
new network namespace (`unshare -n`, loopback up with 127.0.0.2), starts
munged, slurmctld and slurmd there with a slurm.conf of its own (cgroup
plugins: proctrack/cgroup, task/cgroup, jobacct_gather/cgroup), starts the
built agent with `--plugins slurm,csv` (jobs_monitoring_level = "task"),
submits a batch job that sleeps 3 s, spins for 2 s of CPU and sleeps, and
checks:

- the job, step and task cgroups that this script sees in the cgroupfs while
  the job runs (os.walk, under the paths of the spec: v1
  /slurm/uid_<u>/job_<id>/step_<n>/task_<t>, v2
  /system.slice/slurmstepd.scope/job_<id>/...) each have points in the CSV,
  with the attributes that the script derives from the path itself;
- user, job_name and partition equal what `scontrol -o show job` says;
- the job's CPU time (sum of cpu_time_delta kind=total) is at least the
  1.5 s that the job spun, and at most the wall time of the run × CPUs.

Ground truth: the cgroupfs listing and scontrol, never the agent's
arithmetic. No deadline on the agent: generous waits. Skipped (exit 77)
when not root, or without slurmctld, slurmd, munged, unshare or ip.
Python 3 standard library only."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from e2e_cgroups import (cgroup_mounts, cpu_hierarchies, poll_until, remove_cgroup_tree,
                         start_agent, stop_agent)
from e2e_common import check, read_csv_rows, skip_reason, summary

TOOLS = ["slurmctld", "slurmd", "munged", "unshare", "ip", "sbatch", "scontrol", "sinfo"]


def expected_attrs(version, cpath):
    """The attributes of a job cgroup from its path, as the spec says."""
    if version == 1:
        m = re.search(r"/slurm(_[^/]+)?/uid_(\d+)/job_(\d+)((/[^/]+)*)$", cpath)
        if not m:
            return None
        attrs = {"user_id": m.group(2), "job_id": m.group(3)}
        parts = [p for p in m.group(4).split("/") if p]
        names = ["step", "task"]
    else:
        m = re.search(r"/([^/]+_)?slurmstepd\.scope/job_(\d+)((/[^/]+)*)$", cpath)
        if not m:
            return None
        attrs = {"job_id": m.group(2)}
        parts = [p for p in m.group(3).split("/") if p]
        names = ["step", "sub_step", "task"]
    if len(parts) > len(names):
        return None
    for name, p in zip(names, parts):
        attrs[name] = re.sub(r"^(step_|task_)", "", p)
    return attrs


def slurm_roots():
    """The directories that Slurm may create at the top of every cgroup
    hierarchy (v1 "slurm" or "slurm_<node>"; v2 slurmstepd.scope)."""
    host = os.uname().nodename
    return [os.path.join(mp, name) for _, mp, _ in cgroup_mounts()
            for name in ("slurm", "slurm_" + host, "system.slice/slurmstepd.scope")]


def inside(tmp):
    env = dict(os.environ, SLURM_CONF=os.path.join(tmp, "slurm.conf"))
    host = os.uname().nodename
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"], check=False)
    for d in ("state", "spool"):
        os.mkdir(os.path.join(tmp, d))
    os.chmod(tmp, 0o755)
    sock = os.path.join(tmp, "munge.socket")
    procs = []
    agent = None
    existed = {d for d in slurm_roots() if os.path.exists(d)}
    try:
        # in the foreground: a child of this script, ended and reaped by it
        munged_log = open(os.path.join(tmp, "munged.out"), "w+")
        procs.append(subprocess.Popen(["munged", "--foreground", "--force", "-S", sock,
                                       "--pid-file", os.path.join(tmp, "munged.pid"),
                                       "--log-file", os.path.join(tmp, "munged.log"),
                                       "--seed-file", os.path.join(tmp, "munged.seed")],
                                      stdout=munged_log, stderr=munged_log))
        if not poll_until(lambda: os.path.exists(sock) or procs[0].poll() is not None, 30) or \
                procs[0].poll() is not None:
            munged_log.seek(0)
            print("SKIP: munged does not start here: " + munged_log.read().strip())
            return 77
        with open(os.path.join(tmp, "slurm.conf"), "w") as f:
            f.write("ClusterName=alumet\nSlurmctldHost=%s(127.0.0.2)\nSlurmUser=root\n"
                    "SlurmdUser=root\nAuthType=auth/munge\nAuthInfo=socket=%s\n"
                    "CredType=cred/munge\n"
                    "StateSaveLocation=%s/state\nSlurmdSpoolDir=%s/spool\n"
                    "SlurmctldPidFile=%s/ctld.pid\nSlurmdPidFile=%s/d.pid\n"
                    "SlurmctldLogFile=%s/ctld.log\nSlurmdLogFile=%s/d.log\n"
                    "SlurmctldPort=6817\nSlurmdPort=6818\n"
                    "ProctrackType=proctrack/cgroup\nTaskPlugin=task/cgroup\n"
                    "JobAcctGatherType=jobacct_gather/cgroup\nSelectType=select/cons_tres\n"
                    "ReturnToService=2\nMpiDefault=none\n"
                    "NodeName=%s NodeAddr=127.0.0.2 CPUs=%d State=UNKNOWN\n"
                    "PartitionName=debug Nodes=%s Default=YES MaxTime=INFINITE State=UP\n"
                    % (host, sock, tmp, tmp, tmp, tmp, tmp, tmp, host, os.cpu_count(), host))
        # Slurm uses one version: v1 where a cpuacct hierarchy is mounted
        # (hybrid hosts too), else v2
        v2 = not any(v == 1 for v, _ in cpu_hierarchies())
        with open(os.path.join(tmp, "cgroup.conf"), "w") as f:
            f.write("CgroupPlugin=cgroup/%s\nCgroupAutomount=no\nConstrainCores=no\n"
                    "ConstrainRAMSpace=no\n%s" % ("v2" if v2 else "v1",
                                                   "IgnoreSystemd=yes\n" if v2 else ""))
        log = open(os.path.join(tmp, "daemons.log"), "w")
        procs.append(subprocess.Popen(["slurmctld", "-D", "-i"], env=env, stdout=log, stderr=log))
        procs.append(subprocess.Popen(["slurmd", "-D"], env=env, stdout=log, stderr=log))

        def idle():
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                 text=True).stdout
            return "idle" in out
        if not poll_until(idle, 60):
            print("SKIP: the Slurm node did not become idle here; slurmd log:\n" +
                  open(os.path.join(tmp, "d.log")).read()[-2000:])
            return 77

        out = os.path.join(tmp, "out.csv")
        cfg = os.path.join(tmp, "alumet.toml")
        with open(cfg, "w") as f:
            f.write('[plugins.slurm]\npoll_interval = "1s"\ndisable_sources = false\n'
                    'ignore_non_jobs = true\njobs_monitoring_level = "task"\n'
                    '[plugins.csv]\noutput_path = "%s"\n' % out)
        alog = open(os.path.join(tmp, "agent.log"), "w+")
        agent = start_agent("slurm,csv", cfg, alog, tmp, env)
        time.sleep(2)
        # idle 3 s first: the agent takes its baseline before the spin
        spin = ("import time\ntime.sleep(3)\nt = time.process_time()\n"
                "while time.process_time() - t < 2.0:\n    pass\n"
                "time.sleep(6)\n")
        script = os.path.join(tmp, "job.py")
        with open(script, "w") as f:
            f.write(spin)
        os.chmod(script, 0o755)
        sub = subprocess.run(["sbatch", "-J", "alumet-e2e", "-o", os.path.join(tmp, "job.out"),
                              "--wrap", "%s %s" % (sys.executable, script)],
                             env=env, capture_output=True, text=True)
        m = re.search(r"Submitted batch job (\d+)", sub.stdout)
        if not check(m is not None, "sbatch: %s %s" % (sub.stdout, sub.stderr)):
            return summary(1)
        job = m.group(1)

        # what the cgroupfs holds for the job while it runs
        seen = {}
        info = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(["scontrol", "-o", "show", "job", job], env=env,
                                   capture_output=True, text=True).stdout
            if "JobState=RUNNING" in state:
                info = state
            for version, mp in cpu_hierarchies():
                for d, _, _ in os.walk(mp):
                    cpath = "/" + os.path.relpath(d, mp) if d != mp else "/"
                    attrs = expected_attrs(version, cpath)
                    if attrs and attrs["job_id"] == job:
                        seen[cpath] = attrs
            if "JobState=COMPLETED" in state or "JobState=FAILED" in state:
                break
            time.sleep(0.5)
        check("JobState=COMPLETED" in state, "the job completed: %s" % state)
        check(any("step" not in a for a in seen.values()), "a job cgroup was seen: %r" % seen)
        check(any("task" in a for a in seen.values()), "a task cgroup was seen: %r" % seen)
        print("cgroups of job %s: %s" % (job, " ".join(sorted(seen))))
        fields = dict(re.findall(r"(?:^| )(JobName|UserId|Partition)=(\S+)", info))
        user = fields.get("UserId", "").split("(")[0]
        time.sleep(3)  # two more polls
        agent.send_signal(signal.SIGINT)
        rc = agent.wait(30)
        agent = None
        alog.seek(0)
        check(rc == 0, "the agent exited with %d:\n%s" % (rc, alog.read()[-3000:]))

        rows = read_csv_rows(out)
        n = 0
        for cpath, want in sorted(seen.items()):
            mine = [r for r in rows if r["consumer_id"] == cpath]
            if not check(mine, "points of %s" % cpath):
                continue
            want = dict(want, user=user, job_name=fields.get("JobName"),
                        partition=fields.get("Partition"))
            got = {k: v for k, v in mine[0]["attrs"].items() if k != "kind"}
            if "user_id" not in want:
                want["user_id"] = re.search(r"\((\d+)\)", info).group(1)
            check(got == want, "attributes of %s: %r, expected %r" % (cpath, got, want))
            n += 1
        jobpath = [c for c, a in seen.items() if "step" not in a][0]
        cpu = sum(int(r["value"]) for r in rows if r["consumer_id"] == jobpath
                  and r["metric"] == "cpu_time_delta_ns" and r["attrs"].get("kind") == "total")
        print("job %s: %.3f s of CPU" % (job, cpu / 1e9))
        check(cpu >= 1.5e9, "the job's CPU time %g s is at least 1.5 s" % (cpu / 1e9))
        check(cpu <= 60e9 * os.cpu_count(), "the job's CPU time %g s is bounded" % (cpu / 1e9))
        return summary(3 + n)
    finally:
        stop_agent(agent)
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        # Slurm leaves its (empty) cgroup roots behind
        for d in slurm_roots():
            if d not in existed and os.path.isdir(d):
                remove_cgroup_tree(d, quiet=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        return inside(sys.argv[2])
    reason = skip_reason(["slurm", "csv"])
    if reason is None and os.geteuid() != 0:
        reason = "needs root for Slurm's daemons and a network namespace"
    missing = [t for t in TOOLS if not shutil.which(t)]
    if reason is None and missing:
        reason = "not installed: %s (Debian: apt-get install slurmctld slurmd munge)" % (
            " ".join(missing))
    if reason is None and not cpu_hierarchies():
        reason = "no cgroup2 mount nor cgroup v1 cpuacct hierarchy"
    if reason:
        print("SKIP: " + reason)
        return 77
    tmp = tempfile.mkdtemp(prefix="alumet-slurm-e2e-")
    try:
        r = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__),
                            "--inside", tmp], timeout=170)
        if r.returncode not in (0, 77):
            for name in ("agent.log", "d.log", "ctld.log"):
                p = os.path.join(tmp, name)
                if os.path.exists(p):
                    print("--- %s (end)\n%s" % (name, open(p).read()[-3000:]))
        return r.returncode
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
