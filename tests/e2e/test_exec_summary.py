#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The energy summary that exec prints at the end, and the options that turn it off."""
import os
import re
import subprocess
import sys
import time
import unittest

from e2e_common import (AGENT, RUN_TIMEOUT, AgentTestCase, clean_env, main, needs_csv,
                        read_csv_rows)

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 0.4: pass\n"
TDP_CONFIG = ('[plugins.procfs]\n[plugins.procfs.processes]\nenabled = false\n\n'
              '[plugins.energy-estimation-tdp]\ntdp = 20.0\nnb_cpu = 2.0\n\n'
              '[plugins.csv]\noutput_path = "out.csv"\n')


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


def has_plugins(*names):
    out = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                         env=clean_env(), timeout=RUN_TIMEOUT).stdout
    return all(f"- {n} v" in out for n in names)


@needs_csv
class TestExecSummary(AgentTestCase):
    def test_summary_without_energy(self):
        res = self.agent("--plugins", "csv", "exec", "true")
        self.assert_exit(res, 0)
        self.assert_in_stderr(" Energy summary of 'true' (exit status 0):", res)
        self.assert_in_stderr("no energy was measured", res)
        self.assert_in_stderr("full data: alumet-output.csv (csv)", res)

    def test_summary_names_the_child_status(self):
        res = self.agent("--plugins", "csv", "exec", "--ignore-exit-code", "sh", "-c", "exit 3")
        self.assert_exit(res, 0)
        self.assert_in_stderr(" Energy summary of 'sh -c exit 3' (exit status 3):", res)

    def test_no_summary_flag(self):
        res = self.agent("--plugins", "csv", "exec", "--no-summary", "true")
        self.assert_exit(res, 0)
        self.assert_not_in_stderr("Energy summary", res)

    def test_exec_summary_false_in_config(self):
        self.write_config('exec_summary = false\n\n[plugins.csv]\n')
        res = self.agent("exec", "true")
        self.assert_exit(res, 0)
        self.assert_not_in_stderr("Energy summary", res)

    @unittest.skipUnless(has_plugins("procfs", "energy-estimation-tdp"),
                         "needs the procfs and energy-estimation-tdp plugins")
    def test_estimated_energy_in_summary(self):
        # on a VM without RAPL: the TDP estimate of a 0.4 s busy loop shows up,
        # labelled as an estimate with its parameters; the summary covers the
        # child's lifetime only, so it is at most the CSV total and at most
        # 20 W x duration (the physical bound of this estimate)
        self.write_config(TDP_CONFIG)
        self.write("busy.py", BUSY)
        res = self.agent("exec", "python3", "busy.py")
        self.assert_exit(res, 0)
        m = re.search(r"^ +([0-9.]+) (m?J) +([0-9.]+) W +estimated_consumed_energy +"
                      r"local_machine \(estimate\)$", res.stderr, re.M)
        self.assertIsNotNone(m, res)
        shown = float(m.group(1)) / (1000 if m.group(2) == "mJ" else 1)
        header, rows = self.read_csv("out.csv")
        total = sum(float(r[2]) for r in rows
                    if r[0] == "estimated_consumed_energy_J" and r[3] == "local_machine")
        self.assertGreater(shown, 0)
        self.assertLessEqual(shown, total + 0.0005)
        duration = float(re.search(r"^ +([0-9.]+) s +duration ", res.stderr, re.M).group(1))
        # /proc/stat counts CPU time in 10 ms ticks: each of the two reads
        # that bound the run may be a tick late per CPU, so the estimate may
        # exceed the bound by two ticks per CPU (2 x 2 x 10 ms x 10 W)
        self.assertLessEqual(shown, 20.0 * duration + 0.4)
        self.assert_in_stderr("machine CPUs, ESTIMATED by energy-estimation-tdp (tdp = 20 W, "
                              "nb_cpu = 2: 10 W per busy CPU)", res)
        # the same figures as points, at the end of the CSV
        exec_rows = {r[0]: r for r in rows if r[0].startswith("exec_")}
        self.assertEqual(sorted(exec_rows), ["exec_machine_energy_J", "exec_process_cpu_time_s",
                                             "exec_process_energy_J",
                                             "exec_unattributed_energy_J"], res)
        self.assertEqual([r[0] for r in rows[-4:]], ["exec_process_cpu_time_s",
                                                     "exec_process_energy_J",
                                                     "exec_unattributed_energy_J",
                                                     "exec_machine_energy_J"])
        # the machine's figure of the attribution: the estimate, or the
        # process's share when /proc/stat's ticks saw less of this short run
        # than the process's own CPU time (then said so in a note)
        machine = re.search(r"^ +([0-9.]+) (m?J) +[0-9.]+ W +machine CPUs, ESTIMATED ",
                            res.stderr, re.M)
        machine = float(machine.group(1)) / (1000 if machine.group(2) == "mJ" else 1)
        if "the machine's estimate is raised to the process's share" in res.stderr:
            self.assertGreater(machine, shown, res.stderr)
        else:
            self.assertAlmostEqual(machine, shown, delta=0.0005)
        self.assertAlmostEqual(float(exec_rows["exec_machine_energy_J"][2]), machine, delta=0.0005)
        mine = re.search(r"^ +([0-9.]+) (m?J) +[0-9.]+ W +process and its descendants$",
                         res.stderr, re.M)
        got = float(mine.group(1)) / (1000 if mine.group(2) == "mJ" else 1)
        self.assertAlmostEqual(float(exec_rows["exec_process_energy_J"][2]), got, delta=0.0005)
        self.assertEqual(exec_rows["exec_process_energy_J"][5:7],
                         ["process", exec_rows["exec_process_cpu_time_s"][6]])
        attrs = {r["metric"]: r["attrs"] for r in read_csv_rows(self.path("out.csv"))}
        self.assertEqual(attrs["exec_process_energy_J"], {"method": "tdp_model", "estimate": "tdp"})
        self.assertEqual(attrs["exec_process_cpu_time_s"], {})
        self.assertAlmostEqual(float(exec_rows["exec_process_energy_J"][2]) +
                               float(exec_rows["exec_unattributed_energy_J"][2]),
                               float(exec_rows["exec_machine_energy_J"][2]), places=9)

    @unittest.skipUnless(has_plugins("procfs", "energy-estimation-tdp"),
                         "needs the procfs and energy-estimation-tdp plugins")
    def test_watch_prints_the_summary(self):
        # a process started by the test that waits until the watch has
        # started, then spins for 1 s of its own CPU time and writes its CPU
        # time (os.times, the kernel's count) at the go and at the end: the
        # ground truth, whatever the load of the machine
        self.write_config(TDP_CONFIG)
        self.write("busy.py", "import os, time\n"
                   "while not os.path.exists('go'): time.sleep(0.01)\n"
                   "def cpu():\n    t = os.times()\n    return t.user + t.system\n"
                   "c0 = cpu()\n"
                   "while cpu() - c0 < 1.0: pass\n"
                   "open('cpu', 'w').write('%.3f %.3f' % (c0, cpu()))\n")
        t0 = time.monotonic()
        child = subprocess.Popen([sys.executable, "busy.py"], cwd=self.dir)
        self._procs.append(child)
        agent = self.start("watch", str(child.pid), plugin_dir=False)
        self.write("go", "")
        child.wait(timeout=RUN_TIMEOUT)
        lifetime = time.monotonic() - t0
        agent.wait(timeout=RUN_TIMEOUT)
        stderr = self.read("agent.stderr")
        self.assertEqual(agent.returncode, 0, stderr)
        self.assertIn(f" Energy summary of 'process {child.pid}' (ended):", stderr)
        m = re.search(r"^ +([0-9.]+) s +duration \(from the start of the watch to the end of the "
                      r"process\)$", stderr, re.M)
        self.assertIsNotNone(m, stderr)
        # the watch starts after the process: at most its lifetime
        self.assertLessEqual(float(m.group(1)), lifetime + 0.01)
        cpu = re.search(r"^ +([0-9.]+) s +CPU time of the process and its descendants", stderr,
                        re.M)
        self.assertIsNotNone(cpu, stderr)
        # between the CPU time spent after the go (the watch had started) and
        # all of it; /proc counts in 10 ms ticks
        c_go, c_end = map(float, self.read("cpu").split())
        self.assertGreaterEqual(float(cpu.group(1)), c_end - c_go - 0.02, stderr)
        self.assertLessEqual(float(cpu.group(1)), c_end + 0.02, stderr)
        share = re.search(r"^ +([0-9.]+) (m?J) +([0-9.]+) W +process and its descendants$",
                          stderr, re.M)
        self.assertIsNotNone(share, stderr)
        # 20 W / 2 CPUs: the estimate's model on the CPU time (10 ms ticks of /proc)
        got = float(share.group(1)) / (1000 if share.group(2) == "mJ" else 1)
        self.assertAlmostEqual(got, float(cpu.group(1)) * 10.0, delta=0.002)


    @unittest.skipUnless(os.geteuid() == 0 and cgroup2_mount(),
                         "needs root and a cgroup2 mount to make a container's cgroup")
    def test_watch_names_the_cgroup(self):
        # a process in a cgroup named as Docker names its containers'
        cid = "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6"
        top = os.path.join(cgroup2_mount(), "alumet-e2e-summary-%d" % os.getpid())
        cg = os.path.join(top, "system.slice", "docker-%s.scope" % cid)
        os.makedirs(cg)
        child = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(1.5)\n"])
        try:
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(child.pid))
            res = self.agent("--plugins", "csv", "watch", str(child.pid))
            self.assert_exit(res, 0)
            self.assert_in_stderr("   cgroup of the process: /alumet-e2e-summary-%d/system.slice/"
                                  "docker-%s.scope (container %s, docker)\n"
                                  % (os.getpid(), cid, cid), res)
        finally:
            child.kill()
            child.wait()
            for d in (cg, os.path.dirname(cg), top):
                os.rmdir(d)


if __name__ == "__main__":
    main()
