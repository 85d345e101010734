# SPDX-License-Identifier: MIT
"""Every point the agent makes with the default configuration reaches a real
InfluxDB (regression: with attributes written as fields, the points of
kernel_cpu_time that differ only by cpu_state, and the other multi-attribute
metrics, had the same series and timestamp and overwrote each other: 1 point
in 9 was kept).

The agent runs with its generated configuration and the sources of that
configuration that make points with several attributes on any Linux machine
(procfs: kernel_cpu_time with its cpu_state values, network, processes;
energy-estimation-tdp), with the csv and influxdb outputs together, the
latter writing to a private influxd 1.x (v1 API) on a free loopback port.
Then, per metric, the number of points and the sum of their values stored in
InfluxDB (`SELECT count, sum` through /query) must equal those of the CSV
file of the same run: counts exactly, sums exactly for integers and to float
precision otherwise. With upstream's placement (attributes_as = "field") the
points are lost as before, and the agent says so once per metric, naming
the attribute. Skipped (exit 77) when influxd is not installed or the agent
lacks one of the plugins."""

import collections
import math
import tempfile
import unittest

from e2e_common import CONFIG, AgentTestCase, skip_reason
from e2e_http import SKIP, run_tests, wait_until
from e2e_influxd import INFLUXD, NO_INFLUXD, Influxd

PLUGINS = ["csv", "influxdb", "procfs", "energy-estimation-tdp"]
DB = "alumet"
CSV = "alumet-output.csv"
# Timestamps of kernel_cpu_time to wait for (each poll gives 9 cpu_state
# values for the machine and for every CPU); the kernel and network sources
# poll every second here, not 5 s, to keep the test short.
POLLS = 3
WAIT = 120  # seconds: a bound on a loaded machine, not an expected time


def csv_metrics(rows):
    """{metric: (rows, finite values as text)} of the CSV rows."""
    out = collections.defaultdict(lambda: [0, []])
    for r in rows:
        entry = out[r[0]]
        entry[0] += 1
        if math.isfinite(float(r[2])):
            entry[1].append(r[2])
    return out


def text_sum(values):
    """The exact sum when every value is an integer, else the float sum."""
    if all(v.lstrip("-").isdigit() for v in values):
        return sum(int(v) for v in values)
    return math.fsum(float(v) for v in values)


class TestInfluxdbDefaultConfig(AgentTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not INFLUXD:
            raise unittest.SkipTest(NO_INFLUXD)
        reason = skip_reason(PLUGINS)
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.TemporaryDirectory(prefix="alumet-influxd-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.influxd = Influxd(cls.tmp.name, DB)
        cls.addClassCleanup(cls.influxd.kill)
        cls.influxd.start()

    def setUp(self):
        super().setUp()
        self.influxd.query(f'DROP DATABASE "{DB}"', db=False)
        self.influxd.query(f'CREATE DATABASE "{DB}"', db=False)

    def enough(self):
        """Whether the CSV has POLLS timestamps of kernel_cpu_time and some
        network_bytes (the last line may be incomplete: it is ignored)."""
        try:
            lines = self.read(CSV).split("\n")[:-1]
        except FileNotFoundError:
            return False
        polls = {ln.split(";")[1] for ln in lines if ln.startswith("kernel_cpu_time;")}
        return len(polls) >= POLLS and any(ln.startswith("network_bytes;") for ln in lines)

    def run_agent(self, *overrides):
        """Run the agent with the generated configuration (plus overrides)
        until POLLS polls of the kernel source are in the CSV, stop it
        cleanly; returns (result, CSV rows)."""
        res = self.agent("config", "regen")
        self.assert_exit(res, 0)
        settings = [f'plugins.influxdb.host = "{self.influxd.url}"',
                    "plugins.influxdb.api_version = 1",
                    f'plugins.influxdb.database = "{DB}"',
                    # the CSV metric names are then those of InfluxDB
                    "plugins.csv.append_unit_to_metric_name = false",
                    'plugins.procfs.kernel.poll_interval = "1s"',
                    'plugins.procfs.network.poll_interval = "1s"', *overrides]
        args = ["--config", CONFIG, "--plugins", ",".join(PLUGINS)]
        for s in settings:
            args += ["--config-override", s]
        p = self.start(*args, "run", plugin_dir=False)
        wait_until(lambda: self.enough() or p.poll() is not None, WAIT,
                   f"{POLLS} polls of kernel_cpu_time and network_bytes in the CSV")
        res = self.stop(p)
        self.assert_exit(res, 0)
        self.assert_not_in_stderr("ERROR", res)
        _, rows = self.read_csv(CSV)
        return res, rows

    def stored(self):
        """{measurement: (count, sum)} of what InfluxDB holds."""
        out = {}
        for m in self.influxd.measurements():
            r = self.influxd.rows(f'SELECT count("value"), sum("value") FROM "{m}"')
            self.assertEqual(len(r), 1, f"{m}: {r!r}")
            out[m] = (r[0]["count"], r[0]["sum"])
        return out

    def test_every_point_stored(self):
        res, rows = self.run_agent()
        expected = csv_metrics(rows)
        # the sources of the default configuration made multi-attribute points
        for metric in ("kernel_cpu_time", "estimated_consumed_energy", "cpu_time_delta",
                       "network_bytes"):
            self.assertIn(metric, expected, f"no {metric} in the CSV:\n{res!r}")
        self.assertGreaterEqual(expected["kernel_cpu_time"][0], 9 * POLLS)
        stored = self.stored()
        finite = {m: v for m, v in expected.items() if v[1]}
        self.assertEqual(sorted(stored), sorted(finite))
        report = []
        for m, (_, values) in sorted(finite.items()):
            count, total = stored[m]
            want = text_sum(values)
            exact = isinstance(want, int)
            ok = count == len(values) and (total == want if exact else
                                           math.isclose(total, want, rel_tol=1e-12,
                                                        abs_tol=1e-9))
            print(f"{m}: InfluxDB count {count} sum {total!r}, CSV count {len(values)} "
                  f"sum {want!r}")
            if not ok:
                report.append(f"{m}: InfluxDB count {count} sum {total!r}, "
                              f"CSV count {len(values)} sum {want!r}")
        self.assertEqual(report, [], "points lost or changed:\n" + "\n".join(report))
        # nothing was dropped for a value InfluxDB cannot store unless the
        # CSV has such values
        if all(n == len(v) for n, v in expected.items()):
            self.assert_not_in_stderr("cannot store", res)
        self.assert_not_in_stderr("overwritten", res)

    def test_upstream_placement_warns(self):
        """attributes_as = "field" (upstream's): points are overwritten in
        InfluxDB, as many as the CSV has series and timestamps; the agent
        warns once per metric."""
        res, rows = self.run_agent('plugins.influxdb.attributes_as = "field"')
        self.assert_log("WARN", "influxdb",
                        "points of metric 'kernel_cpu_time' with the same series and timestamp "
                        "differ by the attribute 'cpu_state', written as a field: InfluxDB keeps "
                        "one of them, the others are overwritten; make it a tag "
                        "(attributes_as_tags = [\"cpu_state\"], or attributes_as = \"tag\")",
                        res)
        self.assertEqual(res.stderr.count("points of metric 'kernel_cpu_time' "), 1, res)
        kernel = [r for r in rows if r[0] == "kernel_cpu_time"]
        series = {(r[3], r[4], r[1]) for r in kernel}
        self.assertEqual(self.stored()["kernel_cpu_time"][0], len(series))
        self.assertLess(len(series), len(kernel))


if __name__ == "__main__":
    if not INFLUXD:
        print(NO_INFLUXD)
    run_tests(all_skipped_exit=SKIP)
