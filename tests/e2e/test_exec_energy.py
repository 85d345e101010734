# SPDX-License-Identifier: MIT
"""The exec summary against a ground truth this test controls.

RAPL: a copy of the fixture tree rapl/intel-xeon-2s (hidden sys_root), whose
package-0 counter a thread of this test advances at 40 W in real time
(package 1 stays still: package_total is 40 W). The summary's
package_total energy must be 40 W x the child's lifetime within 5 %, for
0.1 s, 0.5 s and 5 s programs, and its average power never above 40 W
(+5 %): the energy before the child started (the agent's start-up, the
"before" measurement) is not billed.

TDP: energy-estimation-tdp on the real /proc/stat. The child is a busy loop
that writes its own CPU time (time.process_time) when it ends; the
summary's share of the process must be its CPU time x tdp / nb_cpu within
5 %, and the machine's estimate at most tdp x the lifetime."""

import os
import re
import shutil
import sys
import time
import unittest

from e2e_common import AgentTestCase, main, needs_csv, skip_reason
from e2e_rapl import PKG0, Counter

FIXTURES = os.environ.get("ALUMET_E2E_FIXTURES", "")
WATTS = 40.0
TDP, NB_CPU = 60.0, 4.0

# the busy loop writes its own CPU time (CLOCK_PROCESS_CPUTIME_ID, start-up
# included), then exits at once (no interpreter teardown after the reading)
CHILD = r"""
import os, sys, time
t0 = time.monotonic()
while time.monotonic() - t0 < float(sys.argv[1]):
    pass
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, repr(time.process_time()).encode())
os._exit(0)
"""

ENERGY_ROW = r"^ +([0-9.]+) (kJ|J|mJ) +([0-9.]+) W +{metric} +{key}$"
DURATION = re.compile(r"^ +([0-9.]+) s +duration \(from the start of the process to its end\)$",
                      re.M)
PROCESS = re.compile(r"^ +([0-9.]+) (kJ|J|mJ) +([0-9.]+) W +process and its descendants$", re.M)
CPU = re.compile(r"^ +([0-9.]+) s +CPU time of the process and its descendants \(([0-9.]+) % of "
                 r"the machine's CPU time meanwhile\)$", re.M)


def joules(m):
    return float(m.group(1)) * {"kJ": 1e3, "J": 1.0, "mJ": 1e-3}[m.group(2)]


@needs_csv
class TestExecEnergy(AgentTestCase):
    def exec_busy(self, plugins, config, seconds):
        self.write_config(config)
        self.write("busy.py", CHILD)
        res = self.agent("--plugins", plugins, "exec", sys.executable, "busy.py", str(seconds),
                         "child.cpu", timeout=120)
        self.assert_exit(res, 0)
        duration = float(DURATION.search(res.stderr).group(1))
        return res, duration, float(self.read("child.cpu"))

    def rapl_case(self, seconds):
        if skip_reason(("rapl", "csv")):
            self.skipTest(skip_reason(("rapl", "csv")))
        root = self.path("fixture")
        shutil.copytree(os.path.join(FIXTURES, "rapl/intel-xeon-2s"), root, symlinks=True)
        counter = Counter(os.path.join(root, PKG0), WATTS)
        counter.start()
        try:
            res, duration, _ = self.exec_busy("rapl,csv", f"""
[plugins.rapl]
poll_interval = "1s"
no_perf_events = true
sys_root = "{root}"
proc_root = "{root}"

[plugins.csv]
output_path = "out.csv"
""", seconds)
        finally:
            counter.stop.set()
            counter.join()
        m = re.search(ENERGY_ROW.format(metric="rapl_consumed_energy", key="package_total"),
                      res.stderr, re.M)
        self.assertIsNotNone(m, res)
        want = WATTS * duration
        got = joules(m)
        print(f"rapl {seconds} s: {got:.4f} J over {duration:.4f} s, expected {want:.4f} J "
              f"({100 * (got - want) / want:+.2f} %), avg {m.group(3)} W", file=sys.stderr)
        # 5 %, and at least 20 ms of the counter's power: the rapl source
        # stamps its reads within 1 ms of when they were made (it reads again
        # after a preemption); the rest is this test's counter, a Python
        # thread that moves every 1 ms when it gets the CPU. Before the reads
        # were stamped so, a 0.1 s run under ASan with every core busy was
        # off by +0.39 J, then +1.04 J (26 ms)
        slack = max(0.05 * want, 0.020 * WATTS)
        self.assertLess(abs(got - want), slack, res)
        self.assertLessEqual(float(m.group(3)), WATTS * (1 + slack / want), res)
        self.assertGreaterEqual(duration, seconds)
        # the whole CSV holds more (the agent's start-up, the last poll): never billed
        header, rows = self.read_csv("out.csv")
        total = sum(float(r[2]) for r in rows
                    if r[0] == "rapl_consumed_energy_J" and "package_total" in r)
        self.assertGreater(total, got)
        self.assert_in_stderr("machine CPUs, measured by RAPL (package_total)", res)

    def test_rapl_0_1s(self):
        self.rapl_case(0.1)

    def test_rapl_0_5s(self):
        self.rapl_case(0.5)

    def test_rapl_5s(self):
        self.rapl_case(5)

    def tdp_case(self, seconds):
        if skip_reason(("procfs", "energy-estimation-tdp", "csv")):
            self.skipTest(skip_reason(("procfs", "energy-estimation-tdp", "csv")))
        res, duration, cpu = self.exec_busy("procfs,energy-estimation-tdp,csv", f"""
[plugins.procfs.kernel]
poll_interval = "1s"
[plugins.procfs.memory]
enabled = false
[plugins.procfs.network]
enabled = false
[plugins.procfs.processes]
enabled = false

[plugins.energy-estimation-tdp]
tdp = {TDP}
nb_cpu = {NB_CPU}

[plugins.csv]
output_path = "out.csv"
""", seconds)
        share = PROCESS.search(res.stderr)
        self.assertIsNotNone(share, res)
        want = cpu * TDP / NB_CPU
        got = joules(share)
        print(f"tdp {seconds} s: process {got:.4f} J for {cpu:.4f} s CPU, expected {want:.4f} J "
              f"({100 * (got - want) / want:+.2f} %)", file=sys.stderr)
        self.assertLess(abs(got - want), 0.05 * want + 0.002, res)
        # the summary's CPU time is the child's own (rusage), to the ms
        self.assertAlmostEqual(float(CPU.search(res.stderr).group(1)), cpu, delta=0.02)
        machine = re.search(ENERGY_ROW.format(metric="estimated_consumed_energy",
                                              key=r"local_machine \(estimate\)"), res.stderr, re.M)
        self.assertLessEqual(joules(machine), TDP * duration * 1.0001, res)
        self.assertLessEqual(float(machine.group(3)), TDP * 1.0001, res)
        self.assert_in_stderr(f"machine CPUs, ESTIMATED by energy-estimation-tdp (tdp = 60 W, "
                              f"nb_cpu = 4: 15 W per busy CPU)", res)

    def test_tdp_0_1s(self):
        self.tdp_case(0.1)

    def test_tdp_0_5s(self):
        self.tdp_case(0.5)

    def test_tdp_5s(self):
        self.tdp_case(5)


if __name__ == "__main__":
    if not FIXTURES:
        print("ALUMET_E2E_FIXTURES is not set (run through meson test)")
        sys.exit(77)
    main()
