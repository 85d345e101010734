# SPDX-License-Identifier: MIT
"""End to end: the built alumet-agent with the perf and csv plugins counts the
software events of an exec child (and its children, through inherit) and of
a watched process (and its threads), and tells which events this machine
cannot count. Hardware events are not required: on a VM without a PMU they
are expected to be skipped with one warning each.

Meson passes ALUMET_E2E_AGENT, the agent to run."""

import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

AGENT = os.environ.get("ALUMET_E2E_AGENT", "")
TIMEOUT = 60
PAGES = 3000

# The exec child: touches PAGES pages, sleeps 20 times (voluntary context
# switches), forks a grandchild that burns 0.2 s of CPU while it burns 0.2 s
# itself, then writes its CPU time (its own and its reaped children's).
CHILD = f"""
import mmap, os, sys, time

def burn(seconds):
    t0 = time.thread_time()
    while time.thread_time() - t0 < seconds:
        pass

m = mmap.mmap(-1, {PAGES} * 4096)
for i in range(0, {PAGES} * 4096, 4096):
    m[i] = 1
for _ in range(20):
    time.sleep(0.002)
pid = os.fork()
if pid == 0:
    burn(0.2)
    os._exit(0)
burn(0.2)
os.waitpid(pid, 0)
t = os.times()
with open("child-cpu", "w") as f:
    f.write(str(t.user + t.system + t.children_user + t.children_system))
"""

# The watched process: a worker thread burns 0.3 s of CPU once told to (a
# line on stdin), then the process ends.
WATCHED = """
import sys, threading, time

def burn(seconds):
    t0 = time.thread_time()
    while time.thread_time() - t0 < seconds:
        pass

go = threading.Event()
worker = threading.Thread(target=lambda: (go.wait(), burn(0.3)))
worker.start()
print("ready", flush=True)
sys.stdin.readline()
go.set()
worker.join()
"""


def have_hardware_pmu():
    devices = "/sys/bus/event_source/devices"
    try:
        names = os.listdir(devices)
    except OSError:
        return False
    return any(n in ("cpu", "cpu_core", "cpu_atom") or n.startswith("armv") for n in names)


def paranoid():
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 4


def can_count_kernel():
    return os.geteuid() == 0 or paranoid() <= 1


class PerfE2E(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not AGENT or not os.access(AGENT, os.X_OK):
            raise unittest.SkipTest("ALUMET_E2E_AGENT does not name an executable agent "
                                    "(run through `meson test --suite e2e`)")
        # can this machine count a software event of a child at all?
        if os.geteuid() != 0 and paranoid() > 2:
            raise unittest.SkipTest("kernel.perf_event_paranoid > 2: no perf events for "
                                    "unprivileged users here")

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="alumet-perf-e2e-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_config(self, perf_section):
        with open(self.path("alumet-config.toml"), "w") as f:
            f.write(perf_section)
            f.write('\n[plugins.csv]\noutput_path = "out.csv"\n')

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALUMET_")}
        env["LC_ALL"] = "C"
        return env

    def agent(self, *args):
        argv = [AGENT, "--config", "alumet-config.toml", "--plugins", "perf,csv"] + list(args)
        p = subprocess.run(argv, cwd=self.dir, env=self.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=TIMEOUT)
        return p

    def rows(self):
        """{metric: [(value, consumer_kind, consumer_id, accuracy)]} in file order."""
        with open(self.path("out.csv"), newline="") as f:
            table = list(csv.reader(f, delimiter=";"))
        header = table[0]
        self.assertEqual(header[:7], ["metric", "timestamp", "value", "resource_kind",
                                      "resource_id", "consumer_kind", "consumer_id"])
        self.assertIn("accuracy", header, "every perf point carries the accuracy attribute")
        acc = header.index("accuracy")
        out = {}
        for r in table[1:]:
            out.setdefault(r[0], []).append((int(r[2]), r[5], r[6], r[acc]))
        return out

    def child_pid(self, stderr):
        m = re.search(r"Child process 'python3' spawned with pid (\d+)\.", stderr)
        self.assertIsNotNone(m, stderr)
        return m.group(1)

    def assert_series(self, rows, metric, pid, stderr):
        self.assertIn(metric, rows, f"no {metric} in the CSV\n{stderr}")
        series = rows[metric]
        for value, kind, cid, accuracy in series:
            self.assertEqual((kind, cid), ("process", pid))
            self.assertEqual(accuracy, "exact", "software events are never multiplexed")
        values = [v for v, _, _, _ in series]
        self.assertEqual(values, sorted(values), f"{metric}: cumulative values go down")
        # one point before the child runs, one after it ended
        self.assertGreaterEqual(len(values), 2, f"{metric}: {values}")
        return values

    def test_exec_software_events(self):
        events = ['"PAGE_FAULTS"', '"TASK_CLOCK"', '"CPU_MIGRATIONS"', '"INSTRUCTIONS"',
                  '{ event = "CONTEXT_SWITCHES#u:k", rename = "ctxsw" }']
        self.write_config(
            '[plugins.perf]\npoll_interval = "1s"\nflush_interval = "1s"\n'
            f'events = [{", ".join(events)}]\n'
            # upstream's older keys, and their metric names
            'software_events = ["PAGE_FAULTS", "TASK_CLOCK"]\n')
        with open(self.path("child.py"), "w") as f:
            f.write(CHILD)
        p = self.agent("exec", "python3", "child.py")
        self.assertEqual(p.returncode, 0, p.stderr)
        pid = self.child_pid(p.stderr)
        rows = self.rows()

        faults = self.assert_series(rows, "perf_page_faults", pid, p.stderr)
        self.assertLess(faults[0], PAGES // 2, "the first point is taken before the child runs")
        self.assertGreaterEqual(faults[-1], PAGES, f"{PAGES} pages were touched")

        # task clock: the CPU time of the child and of its grandchild (inherit)
        clock = self.assert_series(rows, "perf_task_clock_ns", pid, p.stderr)
        with open(self.path("child-cpu")) as f:
            cpu = float(f.read())
        self.assertGreaterEqual(clock[-1], 0.38e9, "0.2 s + 0.2 s in the grandchild")
        self.assertLess(abs(clock[-1] / 1e9 - cpu), 0.05 + 0.2 * cpu,
                        f"task clock {clock[-1]} ns, the child says {cpu} s of CPU")
        print(f"\n  page faults {faults[-1]} (>= {PAGES}), task clock {clock[-1]} ns, "
              f"child CPU time {cpu} s", file=sys.stderr)

        self.assert_series(rows, "perf_cpu_migrations", pid, p.stderr)
        legacy = self.assert_series(rows, "perf_software_PAGE_FAULTS", pid, p.stderr)
        self.assertGreaterEqual(legacy[-1], PAGES)
        self.assert_series(rows, "perf_software_TASK_CLOCK_ns", pid, p.stderr)

        if can_count_kernel():
            ctxsw = self.assert_series(rows, "perf_ctxsw", pid, p.stderr)
            self.assertGreaterEqual(ctxsw[-1], 20, "20 sleeps are 20 context switches")
        else:
            self.assertIn("permission denied", p.stderr)
            self.assertIn("kernel.perf_event_paranoid", p.stderr)

        if have_hardware_pmu():
            self.assertIn("perf_instructions", rows)
        else:
            # a VM without a PMU: skipped with one warning, the others go on
            warning = ("WARN  perf: perf event 'INSTRUCTIONS' is not supported by this CPU "
                       "or kernel (ENOENT")
            self.assertEqual(p.stderr.count(warning), 1, p.stderr)
            self.assertNotIn("perf_instructions", rows)
        self.assertIn(f"INFO  perf: measuring process '{pid}' (1 thread) with", p.stderr)

    def test_watch_counts_every_thread(self):
        self.write_config('[plugins.perf]\npoll_interval = "200ms"\nflush_interval = "200ms"\n'
                          'events = ["TASK_CLOCK", "PAGE_FAULTS"]\n')
        watched = subprocess.Popen([sys.executable, "-c", WATCHED], cwd=self.dir,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(watched.stdout.close)
        self.addCleanup(watched.stdin.close)
        self.addCleanup(watched.kill)
        self.assertEqual(watched.stdout.readline().strip(), "ready")
        err = open(self.path("agent.stderr"), "w")
        self.addCleanup(err.close)
        agent = subprocess.Popen([AGENT, "--config", "alumet-config.toml", "--plugins",
                                  "perf,csv", "watch", str(watched.pid)],
                                 cwd=self.dir, env=self.env(), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err)
        self.addCleanup(agent.kill)
        deadline = time.monotonic() + TIMEOUT
        text = ""
        while "measuring process" not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            with open(self.path("agent.stderr")) as f:
                text = f.read()
            self.assertIsNone(agent.poll(), text)
        self.assertIn(f"INFO  perf: measuring process '{watched.pid}' (2 threads) with 2 perf "
                      "events", text)
        watched.stdin.write("go\n")
        watched.stdin.flush()
        watched.wait(timeout=TIMEOUT)
        self.assertEqual(agent.wait(timeout=TIMEOUT), 0)
        err.flush()
        with open(self.path("agent.stderr")) as f:
            text = f.read()
        rows = self.rows()
        clock = self.assert_series(rows, "perf_task_clock_ns", str(watched.pid), text)
        # the worker thread existed before the agent attached: it is counted
        self.assertGreaterEqual(clock[-1], 0.28e9, text)

    def test_no_usable_event_does_not_stop_the_agent(self):
        if have_hardware_pmu():
            self.skipTest("this machine has a hardware PMU")
        self.write_config('[plugins.perf]\npoll_interval = "1s"\nflush_interval = "1s"\n'
                          'events = ["INSTRUCTIONS", "LL_READ_MISS"]\n')
        p = self.agent("exec", "true")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("WARN  perf: none of the 2 configured perf events can be opened on this "
                      "machine (see above): the perf plugin measures nothing, the other plugins "
                      "go on", p.stderr)
        self.assertEqual(p.stderr.count("not supported by this CPU or kernel"), 1, p.stderr)

    def test_invalid_event_is_a_config_error(self):
        self.write_config('[plugins.perf]\npoll_interval = "1s"\nflush_interval = "1s"\n'
                          'events = ["INSTRUCTIONS#uk"]\n')
        p = self.agent("exec", "true")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("plugins.perf.events: invalid event in config: invalid event "
                      "'INSTRUCTIONS#uk': unknown modifier 'uk'", p.stderr)

    def test_default_config_regen(self):
        # `config regen` writes the default config, which the plugin accepts
        p = subprocess.run([AGENT, "--config", "regen.toml", "--plugins", "perf,csv", "config",
                            "regen"], cwd=self.dir, env=self.env(), capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.path("regen.toml")) as f:
            text = f.read()
        self.assertIn('[plugins.perf]\n', text)
        self.assertIn('events = ["REF_CPU_CYCLES", "CACHE_MISSES", "BRANCH_MISSES", '
                      '"LL_READ_MISS",\n          "TASK_CLOCK", "PAGE_FAULTS", '
                      '"CONTEXT_SWITCHES#u:k"]\n', text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
