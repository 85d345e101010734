# SPDX-License-Identifier: MIT
"""End to end: the built agent with the RAPL fixture rapl/intel-xeon-2s (a
copy, hidden sys_root) whose package-0 counter a thread of this test
advances at 40 W in real time, and the transforms energy-to-carbon,
aggregation and filter.

- exec + energy-to-carbon (country FRA, 56.039 gCO2eq/kWh from upstream's
  table): every carbon_emission row is its energy row x 56.039 / 3.6e6; the
  summary's carbon line is its package_total energy x 56.039 / 3.6e6 and
  about 40 W x the duration (5 %); the points exec_machine_carbon and
  exec_process_carbon are written.
- run: aggregation (1 s, sum) then energy-to-carbon (override 100) then
  filter (dram dropped by attribute): no raw RAPL rows, window timestamps on
  whole seconds, each carbon row is its window's sum x 100 / 3.6e6, no dram
  row at all.
- exec + energy-to-carbon with an intensity file around now: every carbon
  row uses the row in force (200 gCO2eq/kWh), named in the summary.
- config regen writes the three sections.

Needs ALUMET_E2E_AGENT, ALUMET_E2E_FIXTURES and PYTHONPATH = tests/e2e (set
by Meson); skipped without the rapl, csv and transform plugins."""

import math
import os
import re
import shutil
import signal
import sys
import time
import tomllib
import unittest

from e2e_common import AgentTestCase, main, skip_reason
from e2e_rapl import PKG0, Counter

FIXTURES = os.environ.get("ALUMET_E2E_FIXTURES", "")
WATTS = 40.0
FRA = 56.039
PLUGINS = ("rapl", "csv", "energy-to-carbon", "aggregation", "filter")

CARBON_LINE = re.compile(r"^   carbon: ([0-9.]+) (g|mg|\u00b5g) CO2eq \(intensity 56\.039 g/kWh, "
                         r"source: country FRA\), machine CPUs$", re.M)
PROCESS_LINE = re.compile(r"^   carbon: ([0-9.]+) (g|mg|\u00b5g) CO2eq, process and its descendants$",
                          re.M)
SCI_LINE = re.compile(r"^   SCI: ([0-9.]+) (g|mg|\u00b5g) CO2eq per request = \(E x I [0-9.]+ "
                      r"(?:g|mg|\u00b5g) \+ M 1\.000 mg\) / R 4$", re.M)
GRAMS = {"g": 1.0, "mg": 1e-3, "\u00b5g": 1e-6}
ENERGY_ROW = re.compile(r"^ +([0-9.]+) (kJ|J|mJ) +([0-9.]+) W +rapl_consumed_energy +"
                        r"package_total$", re.M)
DURATION = re.compile(r"^ +([0-9.]+) s +duration", re.M)


class TestCarbonChain(AgentTestCase):
    def setUp(self):
        super().setUp()
        reason = skip_reason(PLUGINS)
        if reason:
            self.skipTest(reason)
        self.root = self.path("fixture")
        shutil.copytree(os.path.join(FIXTURES, "rapl/intel-xeon-2s"), self.root, symlinks=True)
        self.counter = Counter(os.path.join(self.root, PKG0), WATTS)
        self.counter.start()
        self.addCleanup(self.counter.join)
        self.addCleanup(self.counter.stop.set)

    def rapl(self, interval):
        return (f'[plugins.rapl]\npoll_interval = "{interval}"\nno_perf_events = true\n'
                f'sys_root = "{self.root}"\nproc_root = "{self.root}"\n\n')

    def rows(self):
        header, rows = self.read_csv("out.csv")
        attrs = header[7:-1]
        out = []
        for r in rows:
            a = {k: v for k, v in zip(attrs, r[7:-1]) if v != ""}
            for item in filter(None, r[-1].split(",")):
                k, _, v = item.partition("=")
                a[k] = v
            out.append({"metric": r[0], "t": r[1], "v": float(r[2]), "res": (r[3], r[4]),
                        "attrs": a})
        return out

    def assert_carbon_of(self, rows, energy_metric, intensity, source):
        """Each carbon_emission row is the energy row of the same timestamp,
        resource and domain x intensity / 3.6e6; returns the count."""
        energy = {(r["t"], r["res"], r["attrs"].get("domain")): r["v"] for r in rows
                  if r["metric"] == energy_metric}
        carbon = [r for r in rows if r["metric"].startswith("carbon_emission")]
        self.assertGreater(len(carbon), 0)
        for r in carbon:
            key = (r["t"], r["res"], r["attrs"].get("domain"))
            self.assertIn(key, energy, r)
            want = energy[key] / 3.6e6 * intensity
            self.assertTrue(math.isclose(r["v"], want, rel_tol=1e-12, abs_tol=1e-18),
                            f"{key}: {r['v']!r} g, expected {want!r} g")
            self.assertEqual(float(r["attrs"]["intensity"]), intensity)
            self.assertEqual(r["attrs"]["intensity_source"], source)
        return len(carbon)

    def test_exec_carbon_summary(self):
        self.write_config(self.rapl("1s") + '[plugins.energy-to-carbon]\nmode = "country"\n'
                          '[plugins.energy-to-carbon.country]\ncode = "FRA"\n'
                          '[plugins.energy-to-carbon.sci]\nembodied_g = 0.001\n'
                          'functional_units = 4\nfunctional_unit = "request"\n\n'
                          '[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("--plugins", "rapl,energy-to-carbon,csv", "exec", "sleep", "1.5")
        self.assert_exit(res, 0)
        m = CARBON_LINE.search(res.stderr)
        self.assertIsNotNone(m, res.stderr)
        grams = float(m.group(1)) * GRAMS[m.group(2)]
        m = ENERGY_ROW.search(res.stderr)
        self.assertIsNotNone(m, res.stderr)
        joules = float(m.group(1)) * {"kJ": 1e3, "J": 1.0, "mJ": 1e-3}[m.group(2)]
        duration = float(DURATION.search(res.stderr).group(1))
        # the same energy as the summary prints (3 decimals), then 40 W x the lifetime
        self.assertTrue(math.isclose(grams, joules / 3.6e6 * FRA, rel_tol=2e-3),
                        f"{grams} g for {joules} J")
        want = WATTS * duration / 3.6e6 * FRA
        print(f"carbon {grams:.6g} g for {joules:.3f} J over {duration:.3f} s, expected "
              f"{want:.6g} g ({100 * (grams - want) / want:+.2f} %)", file=sys.stderr)
        self.assertLess(abs(grams - want), 0.05 * want, res.stderr)
        self.assertIsNotNone(PROCESS_LINE.search(res.stderr), res.stderr)
        rows = self.rows()
        self.assert_carbon_of(rows, "rapl_consumed_energy_J", FRA, "country FRA")
        machine = [r for r in rows if r["metric"].startswith("exec_machine_carbon")]
        self.assertEqual(len(machine), 1)
        self.assertTrue(math.isclose(machine[0]["v"], grams, rel_tol=2e-3))
        self.assertEqual(machine[0]["attrs"]["intensity_source"], "country FRA")
        self.assertEqual(len([r for r in rows if r["metric"].startswith("exec_process_carbon")]),
                         1)
        # SCI = (E x I + M) / R, printed and written
        m = SCI_LINE.search(res.stderr)
        self.assertIsNotNone(m, res.stderr)
        sci = float(m.group(1)) * GRAMS[m.group(2)]
        self.assertTrue(math.isclose(sci, (grams + 0.001) / 4, rel_tol=2e-3), f"SCI {sci} g")
        sci_rows = [r for r in rows if r["metric"].startswith("exec_sci")]
        self.assertEqual(len(sci_rows), 1)
        self.assertTrue(math.isclose(sci_rows[0]["v"], (machine[0]["v"] + 0.001) / 4,
                                     rel_tol=1e-12), sci_rows)
        self.assertEqual(sci_rows[0]["attrs"]["functional_unit"], "request")

    def test_intensity_file(self):
        # rows an hour before and an hour after now: the run is in the first
        now = int(time.time())
        path = self.write("intensity.csv", "timestamp,gCO2eq/kWh\n"
                          f"{now - 3600},200\n"
                          + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))
                          + ",300\n")
        self.write_config(self.rapl("200ms") + '[plugins.energy-to-carbon]\n'
                          'mode = "intensity_file"\n'
                          f'intensity_file = {{ path = "{path}" }}\n\n'
                          '[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("--plugins", "rapl,energy-to-carbon,csv", "exec", "sleep", "0.5")
        self.assert_exit(res, 0)
        self.assertNotIn("WARN  energy-to-carbon", res.stderr)
        n = self.assert_carbon_of(self.rows(), "rapl_consumed_energy_J", 200.0, f"file {path}")
        self.assertGreaterEqual(n, 6)
        self.assertRegex(res.stderr, r"\n   carbon: [0-9.]+ (g|mg|\u00b5g) CO2eq \(intensity 200 "
                         r"g/kWh, source: file .*intensity\.csv\), machine CPUs\n")

    def test_aggregate_convert_filter(self):
        self.write_config(self.rapl("100ms") +
                          '[plugins.aggregation]\ninterval = "1s"\nfunction = "Sum"\n'
                          'metrics = ["rapl_consumed_energy"]\n\n'
                          '[plugins.energy-to-carbon]\nmode = "intensity_override"\n'
                          '[plugins.energy-to-carbon.intensity_override]\nintensity = 100\n\n'
                          '[plugins.filter]\nexclude = [{ attributes = { domain = "dram" } }]\n\n'
                          '[plugins.csv]\noutput_path = "out.csv"\n')
        p = self.start("--plugins", "rapl,aggregation,energy-to-carbon,filter,csv", "run",
                       plugin_dir=False)
        time.sleep(3.5)
        res = self.stop(p, signal.SIGTERM)
        self.assertEqual(res.returncode, 0, res)
        rows = self.rows()
        metrics = {r["metric"] for r in rows}
        self.assertNotIn("rapl_consumed_energy_J", metrics)
        sums = [r for r in rows if r["metric"] == "rapl_consumed_energy_sum_J"]
        self.assertGreaterEqual(len(sums), 3)
        for r in sums:
            self.assertRegex(r["t"], r"T\d\d:\d\d:\d\dZ$", r)  # a whole second
        self.assertEqual([r for r in rows if r["attrs"].get("domain") == "dram"], [])
        self.assert_carbon_of(rows, "rapl_consumed_energy_sum_J", 100.0, "override")
        # whole windows hold 40 W x 1 s of package-0 (package_total: the same)
        full = [r["v"] for r in sums if r["attrs"].get("domain") == "package_total"][1:-1]
        self.assertTrue(full, sums)
        for v in full:
            self.assertLess(abs(v - WATTS), 0.15 * WATTS, full)

    def test_config_regen(self):
        res = self.agent("--plugins", "aggregation,filter,energy-to-carbon", "config", "regen")
        self.assert_exit(res, 0)
        doc = tomllib.loads(self.read("alumet-config.toml"))["plugins"]
        self.assertEqual(doc["aggregation"], {"enabled": False, "interval": "1m",
                                              "function": "Sum", "metrics": []})
        self.assertEqual(doc["filter"], {"enabled": False})
        self.assertEqual(doc["energy-to-carbon"], {"mode": "world_avg"})


if __name__ == "__main__":
    main()
