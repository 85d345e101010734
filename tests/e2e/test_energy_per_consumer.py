# SPDX-License-Identifier: MIT
"""The recipe of docs/energy-per-consumer.md, run as it is written.

The two TOML blocks of the document (after the markers
<!-- energy-per-consumer-rapl --> and <!-- energy-per-consumer-tdp -->) are
read from the file, so the document and this test cannot drift. Each runs
`alumet-agent --config <block> exec <child>`; --config-override only points
the plugins at fixture trees (the hidden sys_root/proc_root options, and
rapl's no_perf_events, as the fixture has no perf PMU) and the csv output at
the test's file.

Fixture: a cgroup v2 tree (a copy of tests/fixtures/cgroup/v2) with a
Kubernetes pod and its container, a Docker container and a Slurm job, and a
copy of the two-socket RAPL fixture. The child advances the counters once,
in place: the root cgroup `/` by 5 s of CPU, the pod by 2 s (its container
too), the Docker container by 1 s, the Slurm job by 1 s; package 0 by 100 J.
Then it lives 3 s, so the sources poll several times.

- RAPL: each cgroup gets 100 J × its CPU time / 5 s: pod 40 J, container of
  the pod 40 J, Docker container 20 J, job 20 J, `/` 100 J.
- TDP (100 W, 8 CPUs: 12.5 W per busy CPU): pod 25 J, its container 25 J,
  Docker 12.5 J, job 12.5 J, `/` 62.5 J.

Sums within 5 % (the attribution prorates the usage of an interval over the
energy's, whose poll times differ by a few ms). Python 3 standard library
only."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

SOURCE_DIR = os.environ.get("ALUMET_E2E_SOURCE_DIR", os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(SOURCE_DIR, "..", "..")
DOC = os.path.join(ROOT, "docs", "energy-per-consumer.md")
FIXTURES = os.environ.get("ALUMET_E2E_FIXTURES", os.path.join(ROOT, "tests", "fixtures"))

PC = "sys/devices/virtual/powercap/intel-rapl/"
POD = ("/kubepods.slice/kubepods-besteffort.slice/"
       "kubepods-besteffort-pod00b506dc_87ee_462c_880d_3e41d0dacd0c.slice")
CID = "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6"
CGROUPS = {  # canonical path: CPU seconds the child adds
    "/": 5,
    POD: 2,
    POD + "/cri-containerd-" + CID + ".scope": 2,
    "/system.slice/docker-" + CID + ".scope": 1,
    "/system.slice/slurmstepd.scope/job_42": 1,
}
BASE = 100000000  # µs of CPU of every cgroup before the child
CPU_STAT = "usage_usec %010d\nuser_usec %010d\nsystem_usec 0000000000\n"

CHILD = ("import os, sys, time\n"
         "for path, text in zip(sys.argv[1::2], sys.argv[2::2]):\n"
         "    text = text.encode().decode('unicode_escape')\n"
         "    fd = os.open(path, os.O_RDWR)\n"
         "    assert len(os.pread(fd, 128, 0)) == len(text), (path, text)\n"
         "    os.pwrite(fd, text.encode(), 0)\n"
         "    os.close(fd)\n"
         "time.sleep(3)\n")


def doc_block(marker):
    with open(DOC) as f:
        text = f.read()
    m = re.search(re.escape("<!-- %s -->" % marker) + r"\n```toml\n(.*?)```", text, re.S)
    check(m is not None, "no ```toml block after <!-- %s --> in %s" % (marker, DOC))
    return m.group(1) if m else ""


def stat_path(cg, cpath):
    return os.path.join(cg, "sys/fs/cgroup" + (cpath if cpath != "/" else ""), "cpu.stat")


def prepare(tmp):
    cg = os.path.join(tmp, "cgroup")
    shutil.copytree(os.path.join(FIXTURES, "cgroup", "v2"), cg, symlinks=True)
    for cpath in CGROUPS:
        os.makedirs(os.path.dirname(stat_path(cg, cpath)), exist_ok=True)
        with open(stat_path(cg, cpath), "w") as f:
            f.write(CPU_STAT % (BASE, BASE))
    rapl = os.path.join(tmp, "rapl")
    shutil.copytree(os.path.join(FIXTURES, "rapl", "intel-xeon-2s"), rapl, symlinks=True)
    return cg, rapl


def child_args(cg, rapl):
    args = [sys.executable, "-c", CHILD,
            os.path.join(rapl, PC + "intel-rapl:0/energy_uj"), "%d\\n" % (124599532281 + 10**8)]
    for cpath, secs in CGROUPS.items():
        v = BASE + secs * 10**6
        args += [stat_path(cg, cpath), (CPU_STAT % (v, v)).replace("\n", "\\n")]
    return args


def run_recipe(marker, plugins, overrides, want):
    tmp = tempfile.mkdtemp(prefix="alumet-energy-per-consumer-")
    try:
        cg, rapl = prepare(tmp)
        cfg = os.path.join(tmp, "alumet-config.toml")
        with open(cfg, "w") as f:
            f.write(doc_block(marker))
        out = os.path.join(tmp, "out.csv")
        argv = [AGENT, "--plugins", plugins, "--config", cfg, "--no-default-config"]
        for o in overrides + ['plugins.csv.output_path="%s"' % out]:
            argv += ["--config-override", o.format(cg=cg, rapl=rapl)]
        res = subprocess.run(argv + ["exec"] + child_args(cg, rapl), capture_output=True,
                             text=True, timeout=120, cwd=tmp,
                             env={k: v for k, v in os.environ.items()
                                  if not k.startswith("ALUMET_")})
        if not check(res.returncode == 0, "%s: agent exited %d:\n%s"
                     % (marker, res.returncode, res.stderr[-4000:])):
            return
        warnings = [l for l in res.stderr.splitlines()
                    if l.startswith("WARN") and "energy-attribution" in l or l.startswith("ERROR")]
        check(not warnings, "%s: %s" % (marker, "\n".join(warnings)))
        got = {}
        for r in read_csv_rows(out):
            if r["metric"] == "cgroup_energy_J" and r["consumer_kind"] == "cgroup":
                got[r["consumer_id"]] = got.get(r["consumer_id"], 0.0) + float(r["value"])
        print("%s: %s" % (marker, ", ".join("%s %.4f J" % (k, v) for k, v in sorted(got.items())
                                           if k in want)))
        for cpath, joules in want.items():
            v = got.get(cpath, 0.0)
            check(abs(v - joules) <= 0.05 * joules,
                  "%s: %s got %.6f J, expected %.6f J (within 5 %%)" % (marker, cpath, v, joules))
        # the cgroups that did not move get nothing
        check(abs(got.get("/system.slice/app.service", 0.0)) < 1e-9,
              "%s: app.service got %r J" % (marker, got.get("/system.slice/app.service")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    reason = skip_reason(["cgroups", "rapl", "procfs", "energy-estimation-tdp",
                          "energy-attribution", "csv"])
    if reason:
        print("SKIP: " + reason)
        return 77
    roots = ['plugins.cgroups.sys_root="{cg}"', 'plugins.cgroups.proc_root="{cg}"']
    run_recipe("energy-per-consumer-rapl", "cgroups,rapl,energy-attribution,csv",
               roots + ['plugins.rapl.sys_root="{rapl}"', 'plugins.rapl.proc_root="{rapl}"',
                        "plugins.rapl.no_perf_events=true"],
               {cpath: 100.0 * secs / 5 for cpath, secs in CGROUPS.items()})
    run_recipe("energy-per-consumer-tdp",
               "cgroups,procfs,energy-estimation-tdp,energy-attribution,csv", roots,
               {cpath: secs * 100.0 / 8.0 for cpath, secs in CGROUPS.items()})
    return summary(2)


if __name__ == "__main__":
    sys.exit(main())
