# SPDX-License-Identifier: MIT
"""End to end on real cgroups: as root, this script builds a pod's cgroup
tree the way the kubelet (systemd driver) and containerd shape it,

  /<tag>/kubepods.slice/kubepods-burstable.slice/
      kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope

in the cgroup2 mount and in the v1 memory hierarchy when there is one (a
hybrid host), moves a busy Python loop into the container's cgroup, and runs
`--plugins k8s,csv` (annotate_containers = true) against the fake HTTPS API
server of test_k8s_api_e2e.py. It checks:

- the CPU time that the agent reports for the pod's cgroup (the sum of its
  cpu_time_delta points, kind=total) is within 5 % of the CPU time that the
  loop spent, read from /proc/<pid>/stat (ground truth);
- the pod's and the container's points carry uid, name, namespace, node
  (and container_id for the container);
- memory_usage of the container is at least the 8 MiB that the loop wrote
  after it was moved in.

No deadline: it waits (up to a generous limit) for a poll after the loop
finished. Skipped when not root, without a cgroup2 mount, or without
openssl. Python 3 standard library only."""
import os
import shutil
import signal
import sys
import tempfile
import time

from e2e_cgroups import (CLK_TCK, cgroup2_mount, cgroup_mounts, cpu_ticks, csv_rows_of, kill_all,
                         remove_dirs, start_agent, start_busy_loop, stop_agent, wait_for)
from e2e_common import check, parse_rfc3339_ns, skip_reason, summary
from test_k8s_api_e2e import CID, NODE, TOKEN, UID1, start_fake_api


def mounts():
    """The cgroup2 mount point, and the v1 memory one (None when absent)."""
    mem = next((mp for v, mp, opts in cgroup_mounts() if v == 1 and "memory" in opts), None)
    return cgroup2_mount(), mem


def main():
    reason = skip_reason(("k8s", "csv"))
    if reason is None and os.geteuid() != 0:
        reason = "needs root to create cgroups and move processes"
    v2, mem = mounts()
    if reason is None and not v2:
        reason = "no cgroup2 mount on this machine"
    if reason is None and not shutil.which("openssl"):
        reason = "the openssl command is not installed (needed to make the test certificate)"
    if reason:
        print("SKIP: " + reason)
        return 77

    tag = "alumet-k8s-e2e-%d" % os.getpid()
    pod = "/%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice" % (
        tag, UID1.replace("-", "_"))
    container = pod + "/cri-containerd-%s.scope" % CID
    made, procs, agent, server = [], [], None, None
    tmp = tempfile.mkdtemp(prefix="alumet-k8s-real-")
    try:
        with open(os.path.join(tmp, "token"), "w") as f:
            f.write(TOKEN)
        server = start_fake_api(tmp)

        loop = start_busy_loop()
        procs.append(loop)
        for mp in filter(None, (v2, mem)):
            parts = container.strip("/").split("/")
            for i in range(len(parts)):
                d = os.path.join(mp, *parts[:i + 1])
                os.mkdir(d)
                made.append(d)
            with open(os.path.join(mp, container.strip("/"), "cgroup.procs"), "w") as f:
                f.write(str(loop.pid))

        out = os.path.join(tmp, "out.csv")
        cfg = os.path.join(tmp, "alumet.toml")
        with open(cfg, "w") as f:
            f.write('[plugins.k8s]\npoll_interval = "1s"\ndisable_sources = false\n'
                    'k8s_node = "%s"\nk8s_api_url = "https://127.0.0.1:%d"\n'
                    'token_retrieval.file = "%s"\nannotate_containers = true\n'
                    'k8s_ca_file = "%s"\n[plugins.csv]\noutput_path = "%s"\n'
                    % (NODE, server.server_address[1], os.path.join(tmp, "token"),
                       os.path.join(tmp, "cert.pem"), out))
        log = open(os.path.join(tmp, "agent.log"), "w+")
        agent = start_agent("k8s,csv", cfg, log, tmp)

        def rows_of(cpath):
            return csv_rows_of(out, os.path.join(tmp, "snapshot.csv"), cpath)

        # the agent's baseline: a CPU point means two polls saw the idle pod
        if not wait_for(lambda: any(r["metric"] == "cpu_time_delta_ns" for r in rows_of(pod)),
                        "the first polls of the pod", limit=90):
            return summary(1)
        start = cpu_ticks(loop.pid)
        loop.stdin.write("go\n")
        loop.stdin.flush()
        check(loop.stdout.readline().strip() == "done", "the loop finished")
        finished = time.time_ns()
        want = (cpu_ticks(loop.pid) - start) / CLK_TCK * 1e9
        wait_for(lambda: any(parse_rfc3339_ns(r["timestamp"]) > finished + 10**9
                             for r in rows_of(pod) if r["metric"] == "cpu_time_delta_ns"),
                 "a poll after the loop", limit=90)
        rows = rows_of(pod)
        got = sum(int(r["value"]) for r in rows
                  if r["metric"] == "cpu_time_delta_ns" and r["attrs"].get("kind") == "total")
        print("pod %s: agent %.4f s, /proc %.4f s" % (pod, got / 1e9, want / 1e9))
        check(want > 1.2e9, "the loop spent %g s of CPU" % (want / 1e9))
        check(abs(got - want) <= 0.05 * want,
              "agent %g s, /proc %g s (more than 5 %% apart)" % (got / 1e9, want / 1e9))
        full = {"uid": UID1, "name": "web-7d9f", "namespace": "shop", "node": NODE}
        for cpath, labels in ((pod, full), (container, dict(full, container_id=CID))):
            mine = rows_of(cpath)
            check(mine, "points of %s" % cpath)
            bad = [r["attrs"] for r in mine
                   if {k: v for k, v in r["attrs"].items() if k != "kind"} != labels]
            check(not bad, "labels of %s: %r, expected %r" % (cpath, bad[:2], labels))
        mem_rows = [r for r in rows_of(container) if r["metric"] == "memory_usage_B"]
        check(mem_rows and int(mem_rows[-1]["value"]) >= 8 << 20,
              "memory_usage of the container: %r" % [r["value"] for r in mem_rows[-2:]])
        # a clean stop (a sanitizer build reports leaks and undefined behaviour here)
        agent.send_signal(signal.SIGINT)
        rc = agent.wait(30)
        log.seek(0)
        text = log.read()
        check(rc == 0 and "Sanitizer" not in text and "runtime error:" not in text,
              "the agent exited with %d: %s" % (rc, text[-3000:]))
        return summary(1)
    finally:
        stop_agent(agent)
        if server:
            server.shutdown()
            server.server_close()
        kill_all(procs)
        time.sleep(0.2)
        remove_dirs(made)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
