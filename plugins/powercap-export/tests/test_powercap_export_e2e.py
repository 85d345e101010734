# SPDX-License-Identifier: MIT
"""End to end, both halves of powercap-export.

Host: the agent runs `--plugins cgroups,rapl,energy-attribution,
powercap-export,csv exec <child>` on fixture trees: a cgroup v2 tree with two
libvirt VMs (machine.slice/machine-qemu\\x2d1\\x2dvm1.scope and
machine-qemu\\x2d2\\x2dweb\\x2d2.scope) and a copy of the two-socket RAPL
fixture. The child (standing in for the VMs and the CPU) advances the
counters in place: package-0 by 100 J, vm1's CPU time by 3 s and web-2's by
1 s. The formula gives each VM the package energy × its share of the 4 s of
busy CPU: vm1 75 J, web-2 25 J (within 5 %: the attribution prorates the
usage of an interval whose ends differ by a few ms from the energy's). The
exported trees must be, byte for byte, name "package-0\\n",
max_energy_range_uj "262143328850\\n" and energy_uj = the attributed joules
of the CSV in whole microjoules.

Guest: the agent runs `--plugins rapl,csv exec <host agent ...>` with its
sys_root on a directory whose sys/devices/virtual/powercap/intel-rapl is
vm1's exported tree (as a virtiofs mount would show it). Its child is the
host run again (the counters advance once more: the host continues from the
value it left, and replaces energy_uj by a rename), so the guest's rapl must
report exactly the difference of the two exported values for package 0 (and
package_total), about 75 J.

Needs ALUMET_E2E_AGENT (set by Meson). Python 3 standard library only."""
import math
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests",
                   "fixtures")
PC = "sys/devices/virtual/powercap/intel-rapl/"
VM1 = "machine.slice/machine-qemu\\x2d1\\x2dvm1.scope"
VM2 = "machine.slice/machine-qemu\\x2d2\\x2dweb\\x2d2.scope"
CPU_STAT = "usage_usec %07d\nuser_usec %07d\nsystem_usec 0000000\n"

# Rewrites files in place with one pwrite of the same length (as sysfs and
# cgroupfs give a whole value to every read), then lives 3 s: the sources of
# one poll round stamp their points a few ms apart, and the attribution
# prorates the usage over the energy's interval, so a long interval keeps
# the attributed joules close to the exact share.
CHILD = ("import os, sys, time\n"
         "for path, text in zip(sys.argv[1::2], sys.argv[2::2]):\n"
         "    text = text.encode().decode('unicode_escape')\n"
         "    fd = os.open(path, os.O_RDWR)\n"
         "    assert len(os.pread(fd, 128, 0)) == len(text), (path, text)\n"
         "    os.pwrite(fd, text.encode(), 0)\n"
         "    os.close(fd)\n"
         "time.sleep(3)\n")

CONFIG = """
[plugins.cgroups]
poll_interval = "1h"
disable_sources = false
proc_root = "{cg}"
sys_root = "{cg}"
engine_socket = ""

[plugins.rapl]
poll_interval = "1h"
flush_interval = "1h"
no_perf_events = true
sys_root = "{rapl}"
proc_root = "{rapl}"

[plugins.energy-attribution.formulas.vm_energy]
expr = "cpu_energy * cpu_time / 4e9"
ref = "cpu_energy"

[plugins.energy-attribution.formulas.vm_energy.per_resource]
cpu_energy = {{ metric = "rapl_consumed_energy", resource_kind = "local_machine", domain = "package_total" }}

[plugins.energy-attribution.formulas.vm_energy.per_consumer]
cpu_time = {{ metric = "cpu_time_delta", kind = "total", consumer_kind = "cgroup" }}

[plugins.powercap-export]
metric = "vm_energy"
attribute = "vm_name"
dir = "{exp}"

[plugins.csv]
output_path = "{out}"
"""

GUEST_CONFIG = """
[plugins.rapl]
poll_interval = "1h"
flush_interval = "1h"
no_perf_events = true
sys_root = "{guest}"
proc_root = "{guest}"

[plugins.csv]
output_path = "{out}"
"""


def run(tmp, argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120, cwd=tmp,
                          env={k: v for k, v in os.environ.items() if not k.startswith("ALUMET_")})


def host_argv(cfg, cg, rapl, step):
    """The host agent's command: its child advances package-0 by 100 J, vm1
    by 3 s and web-2 by 1 s of CPU (step 1, 2: from the values of step - 1)."""
    writes = [os.path.join(rapl, PC + "intel-rapl:0/energy_uj"),
              "%d\\n" % (124599532281 + step * 100000000)]
    for rel, per_step in ((VM1, 3000000), (VM2, 1000000)):
        v = 1000000 + step * per_step
        writes += [os.path.join(cg, "sys/fs/cgroup", rel, "cpu.stat"),
                   (CPU_STAT % (v, v)).replace("\n", "\\n")]
    return [AGENT, "--plugins", "cgroups,rapl,energy-attribution,powercap-export,csv",
            "--config", cfg, "--no-default-config", "exec", sys.executable, "-c", CHILD] + writes


def read(path):
    with open(path) as f:
        return f.read()


def main():
    reason = skip_reason(["cgroups", "rapl", "energy-attribution", "powercap-export", "csv"])
    if reason:
        print("SKIP: " + reason)
        return 77
    tmp = tempfile.mkdtemp(prefix="alumet-powercap-export-e2e-")
    try:
        cg = os.path.join(tmp, "cgroup")
        rapl = os.path.join(tmp, "rapl")
        exp = os.path.join(tmp, "exported")
        shutil.copytree(os.path.join(SRC, "cgroup", "v2"), cg, symlinks=True)
        shutil.copytree(os.path.join(SRC, "rapl", "intel-xeon-2s"), rapl, symlinks=True)
        for rel in (VM1, VM2):
            os.makedirs(os.path.join(cg, "sys/fs/cgroup", rel))
            with open(os.path.join(cg, "sys/fs/cgroup", rel, "cpu.stat"), "w") as f:
                f.write(CPU_STAT % (1000000, 1000000))
        cfg = os.path.join(tmp, "host.toml")
        out = os.path.join(tmp, "host.csv")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(cg=cg, rapl=rapl, exp=exp, out=out))

        # ---- host ----
        res = run(tmp, host_argv(cfg, cg, rapl, 1))
        check(res.returncode == 0, "host agent exited %d:\n%s" % (res.returncode,
                                                                 res.stderr[-4000:]))
        rows = read_csv_rows(out)
        vm_rows = [(r["attrs"].get("vm_name"), float(r["value"])) for r in rows
                   if r["metric"] == "vm_energy_J" and "vm_name" in r["attrs"]]
        print("host: attributed %r" % vm_rows)
        check(sorted({v for v, _ in vm_rows}) == ["vm1", "web-2"], "VMs attributed: %r" % vm_rows)
        # the counter of a VM: its points in whole microjoules, the fractions
        # carried from one point to the next (in the order of the CSV, which
        # is the order in which every output got them)
        joules, counters, fractions = {}, {}, {}
        for vm, v in vm_rows:
            joules[vm] = joules.get(vm, 0.0) + v
            t = v * 1e6 + fractions.get(vm, 0.0)
            fractions[vm] = t - math.floor(t)
            counters[vm] = counters.get(vm, 0) + math.floor(t)
        for vm, want in (("vm1", 75.0), ("web-2", 25.0)):
            got = joules.get(vm, 0.0)
            check(abs(got - want) <= 0.05 * want, "%s: %r J attributed, expected about %r J"
                  % (vm, got, want))
        check(sorted(os.listdir(exp)) == ["vm1", "web-2"], "trees %r" % os.listdir(exp))
        for vm in ("vm1", "web-2"):
            zone = os.path.join(exp, vm, "intel-rapl:0")
            check(sorted(os.listdir(zone)) == ["energy_uj", "max_energy_range_uj", "name"],
                  "%s: %r" % (zone, os.listdir(zone)))
            check(read(zone + "/name") == "package-0\n", "%s/name" % zone)
            check(read(zone + "/max_energy_range_uj") == "262143328850\n",
                  "%s/max_energy_range_uj" % zone)
            want = "%d\n" % counters.get(vm, 0)
            check(read(zone + "/energy_uj") == want,
                  "%s/energy_uj: %r, expected %r" % (zone, read(zone + "/energy_uj"), want))
        before = int(read(os.path.join(exp, "vm1/intel-rapl:0/energy_uj")))

        # ---- guest: vm1's tree as its powercap; its child is the host again ----
        guest = os.path.join(tmp, "guest")
        os.makedirs(os.path.join(guest, "sys/devices/virtual/powercap"))
        os.symlink(os.path.join(exp, "vm1"),
                   os.path.join(guest, "sys/devices/virtual/powercap/intel-rapl"))
        gcfg = os.path.join(tmp, "guest.toml")
        gout = os.path.join(tmp, "guest.csv")
        with open(gcfg, "w") as f:
            f.write(GUEST_CONFIG.format(guest=guest, out=gout))
        res = run(tmp, [AGENT, "--plugins", "rapl,csv", "--config", gcfg, "--no-default-config",
                        "exec"] + host_argv(cfg, cg, rapl, 2))
        check(res.returncode == 0, "guest agent exited %d:\n%s" % (res.returncode,
                                                                  res.stderr[-4000:]))
        after = int(read(os.path.join(exp, "vm1/intel-rapl:0/energy_uj")))
        grows = [r for r in read_csv_rows(gout) if r["metric"] == "rapl_consumed_energy_J"]
        sums = {}
        for r in grows:
            key = (r["attrs"].get("domain"), r["resource_kind"], r["resource_id"])
            sums[key] = sums.get(key, 0.0) + float(r["value"])
        print("guest: %r (exported %d -> %d uJ)" % (sums, before, after))
        delta = (after - before) / 1e6
        check(abs(delta - 75.0) <= 0.05 * 75.0, "vm1's second run: %r J exported" % delta)
        check(sums == {("package", "cpu_package", "0"): delta,
                       ("package_total", "local_machine", ""): delta},
              "guest's RAPL energy: %r, expected %r J" % (sums, delta))
        return summary(2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
