# SPDX-License-Identifier: MIT
"""End to end with a real Podman: the cgroups plugin names the containers.

The script (as root) starts a private Podman (its own --root, --runroot,
--tmpdir in a temp dir, runtime runc, cgroupfs manager, a cgroup parent of
its own) and its Engine API service on a Unix socket in that dir, imports an
offline image made of busybox-static, and runs one container
(--network=none) that waits on a FIFO, spins for 4 s, then idles.
The agent runs `--plugins cgroups,csv` with engine_socket set to that
socket. Checks:

- the points of the container's cgroup carry container_id, container_name,
  container_image and container_label_app_kind, as Podman reports them
  (`podman inspect`, the ground truth), on the CPU points (v2) and the
  memory points (the v1 memory hierarchy on a hybrid host);
- the CPU time the agent reports for the container (sum of cpu_time_delta,
  kind=total) is within 5 % of the container cgroup's own cpu.stat
  usage_usec, read by this script before the spin and after it;
- the agent warned about nothing.

Everything is removed at the end (container, service, image store, the
cgroups under the test's parent). Skipped when not root or when podman or
runc is missing. Python 3 standard library only."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from e2e_cgroups import (cgroup2_mount, cgroup_mounts, csv_rows_of, remove_cgroup_tree, start_agent,
                         stop_agent, wait_for)
from e2e_common import check, parse_rfc3339_ns, skip_reason, summary

IMAGE = "localhost/alumet-e2e-busybox:1"
# Waits on the FIFO /ctl/go (no CPU), spins for 4 s of wall time (busybox
# timeout), says done, idles.
SCRIPT = ("read x < /ctl/go; "
          "/bin/busybox timeout 4 /bin/busybox sh -c 'while :; do :; done'; "
          "/bin/busybox touch /ctl/done; exec /bin/busybox sleep 100000")


def usage_usec(path):
    with open(os.path.join(path, "cpu.stat")) as f:
        for line in f:
            k, v = line.split()
            if k == "usage_usec":
                return int(v)
    raise RuntimeError("no usage_usec in %s/cpu.stat" % path)


def engine_answers(sock_path):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(sock_path)
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
        ok = s.recv(64).startswith(b"HTTP/1.")
        s.close()
        return ok
    except OSError:
        return False


def main():
    # Meson's timeout sends SIGTERM: clean up (container, service, cgroups) then
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    reason = skip_reason(["cgroups", "csv"])
    if reason is None and os.geteuid() != 0:
        reason = "needs root to run Podman containers"
    for prog in ("podman", "runc"):
        if reason is None and not shutil.which(prog):
            reason = "%s is not installed (apt-get install podman runc)" % prog
    if reason is None and not os.path.exists("/bin/busybox"):
        reason = "/bin/busybox is missing (apt-get install busybox-static)"
    if reason is None and not cgroup2_mount():
        reason = "no cgroup2 mount (the test reads the container's cpu.stat)"
    if reason:
        print("SKIP: " + reason)
        return 77

    tmp = tempfile.mkdtemp(prefix="alumet-podman-e2e-")
    # Podman 4 makes /run/containers/networks whatever its flags say
    run_containers_was_there = os.path.exists("/run/containers")
    parent = "alumet-e2e-podman-%d" % os.getpid()
    podman = ["podman", "--root", tmp + "/root", "--runroot", tmp + "/run", "--tmpdir",
              tmp + "/tmp", "--network-config-dir", tmp + "/net", "--runtime", "runc",
              "--runtime-flag", "root=" + tmp + "/runc", "--cgroup-manager", "cgroupfs",
              "--events-backend", "file"]
    sock = tmp + "/podman.sock"
    service = agent = None
    name = "alumet-e2e-%d" % os.getpid()
    ctl = tmp + "/ctl"
    os.mkdir(ctl)
    os.mkfifo(ctl + "/go")

    def pm(*args, check_rc=True):
        r = subprocess.run(podman + list(args), capture_output=True, text=True, timeout=120)
        if check_rc and r.returncode != 0:
            raise RuntimeError("podman %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout.strip()

    try:
        rootfs = tmp + "/rootfs"
        os.makedirs(rootfs + "/bin")
        os.makedirs(rootfs + "/ctl")
        shutil.copy("/bin/busybox", rootfs + "/bin/busybox")
        os.symlink("busybox", rootfs + "/bin/sh")
        subprocess.run(["tar", "-C", rootfs, "-cf", tmp + "/rootfs.tar", "."], check=True)
        pm("import", tmp + "/rootfs.tar", IMAGE)

        log = open(tmp + "/service.log", "w")
        service = subprocess.Popen(podman + ["system", "service", "--time=0", "unix://" + sock],
                                   stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while not engine_answers(sock) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not check(engine_answers(sock), "the podman service answers on %s" % sock):
            return summary(1)

        # runc cannot raise limits here without CAP_SYS_RESOURCE: ask for low ones
        cid = pm("run", "-d", "--name", name, "--network=none", "--cgroup-parent", "/" + parent,
                 "--ulimit", "nofile=512:512", "--ulimit", "nproc=512:512",
                 "--label", "app.kind=busy", "-v", ctl + ":/ctl", IMAGE,
                 "/bin/busybox", "sh", "-c", SCRIPT)
        pid = int(pm("inspect", name, "--format", "{{.State.Pid}}"))
        with open("/proc/%d/cgroup" % pid) as f:
            cpath = [l.split(":", 2)[2].strip() for l in f if l.startswith("0::")][0]
        v2dir = cgroup2_mount() + cpath
        print("container %s (%s) in cgroup %s" % (name, cid[:12], cpath))
        check(cpath == "/%s/libpod-%s" % (parent, cid), "container cgroup %s" % cpath)

        out = tmp + "/out.csv"
        cfg = tmp + "/alumet.toml"
        with open(cfg, "w") as f:
            f.write('[plugins.cgroups]\npoll_interval = "1s"\ndisable_sources = false\n'
                    'engine_socket = "%s"\n'
                    '[plugins.csv]\noutput_path = "%s"\n' % (sock, out))
        alog = open(tmp + "/agent.log", "w+")
        agent = start_agent("cgroups,csv", cfg, alog, tmp)

        def rows():
            return csv_rows_of(out, tmp + "/snapshot.csv", cpath)

        def cpu_rows():
            return [r for r in rows() if r["metric"] == "cpu_time_delta_ns"
                    and r["attrs"].get("kind") == "total"]

        if not wait_for(lambda: cpu_rows(), "the first CPU point of the container"):
            return summary(1)
        before = usage_usec(v2dir)
        # the shell reads the FIFO already (an open without reader: ENXIO)
        deadline = time.monotonic() + 60
        while True:
            try:
                fd = os.open(ctl + "/go", os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if not check(time.monotonic() < deadline, "the container reads its FIFO"):
                    return summary(1)
                time.sleep(0.2)
        os.write(fd, b"go\n")
        os.close(fd)
        wait_for(lambda: os.path.exists(ctl + "/done"), "the end of the spin", limit=120)
        time.sleep(0.5)  # the shell reaches its sleep
        after = usage_usec(v2dir)
        done_at = time.time_ns()
        wait_for(lambda: any(parse_rfc3339_ns(r["timestamp"]) > done_at + 10**9
                             for r in cpu_rows()), "a poll after the spin")

        want_ns = (after - before) * 1000
        got_ns = sum(int(r["value"]) for r in cpu_rows())
        print("container CPU: agent %.4f s, cpu.stat %.4f s" % (got_ns / 1e9, want_ns / 1e9))
        # a loaded machine gives the loop less than its 4 s: enough to compare
        check(want_ns > 0.5e9, "the container spun %g s" % (want_ns / 1e9))
        check(abs(got_ns - want_ns) <= 0.05 * want_ns,
              "agent %g s, cpu.stat %g s: more than 5 %% apart" % (got_ns / 1e9, want_ns / 1e9))

        image = pm("inspect", name, "--format", "{{.ImageName}}")
        want = {"container_id": cid, "container_name": name, "container_image": image,
                "container_label_app_kind": "busy"}
        check(image == IMAGE, "podman's image name %r" % image)
        all_rows = rows()
        metrics = sorted({r["metric"] for r in all_rows})
        print("metrics of the container: %s" % ", ".join(metrics))
        check("memory_usage_B" in metrics, "memory_usage of the container")
        for r in all_rows:
            got = {k: r["attrs"].get(k) for k in want}
            if not check(got == want, "attributes of %s: %r, expected %r"
                         % (r["metric"], r["attrs"], want)):
                break
        alog.seek(0)
        warnings = [l for l in alog if " WARN " in l or "ERROR" in l]
        check(not warnings, "warnings of the agent: %s" % "".join(warnings))
        return summary(3)
    finally:
        stop_agent(agent)
        pm("rm", "-f", "-t", "0", name, check_rc=False)
        if service:
            service.terminate()
            try:
                service.wait(30)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        pm("rmi", "-f", IMAGE, check_rc=False)
        for _, mp, _ in cgroup_mounts():
            remove_cgroup_tree(os.path.join(mp, parent))
        shutil.rmtree(tmp, ignore_errors=True)
        if not run_containers_was_there and os.path.isdir("/run/containers"):
            try:
                os.rmdir("/run/containers/networks")
                os.rmdir("/run/containers")
            except OSError as e:
                print("note: cannot remove /run/containers: %s" % e)


if __name__ == "__main__":
    sys.exit(main())
